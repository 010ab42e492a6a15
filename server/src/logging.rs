//! The Go server's log format: `[PID] 2006/01/02 15:04:05.000000 [INF] text`
//! written to stderr or a log file, with debug and trace lines only when
//! enabled.

use parking_lot::Mutex;
use std::fs::OpenOptions;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static DEBUG: AtomicBool = AtomicBool::new(false);
static TRACE: AtomicBool = AtomicBool::new(false);

struct Sink {
    prefix: String,
    time: bool,
    out: Box<dyn Write + Send>,
}

fn sink() -> &'static Mutex<Sink> {
    static SINK: OnceLock<Mutex<Sink>> = OnceLock::new();
    SINK.get_or_init(|| {
        Mutex::new(Sink {
            prefix: format!("[{}] ", std::process::id()),
            time: true,
            out: Box::new(std::io::stderr()),
        })
    })
}

/// Sets levels and destination. A log file is opened for appending.
pub fn configure(debug: bool, trace: bool, time: bool, file: &str) -> std::io::Result<()> {
    DEBUG.store(debug, Ordering::Relaxed);
    TRACE.store(trace, Ordering::Relaxed);
    let mut s = sink().lock();
    s.time = time;
    if !file.is_empty() {
        let f = OpenOptions::new().create(true).append(true).open(file)?;
        s.out = Box::new(f);
    }
    Ok(())
}

pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

pub fn trace_enabled() -> bool {
    TRACE.load(Ordering::Relaxed)
}

/// Writes one line with the given label ("INF", "DBG", ...).
pub fn write(label: &str, msg: std::fmt::Arguments<'_>) {
    let mut s = sink().lock();
    let mut line = String::with_capacity(128);
    line.push_str(&s.prefix);
    if s.time {
        line.push_str(&timestamp());
        line.push(' ');
    }
    line.push('[');
    line.push_str(label);
    line.push_str("] ");
    use std::fmt::Write as _;
    let _ = line.write_fmt(msg);
    line.push('\n');
    let _ = s.out.write_all(line.as_bytes());
    let _ = s.out.flush();
}

/// Local time as Go's log package prints it with microseconds.
fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: localtime_r only writes into the tm we own.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    };
    format!(
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02}.{:06}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_micros()
    )
}

#[macro_export]
macro_rules! notice {
    ($($arg:tt)*) => { $crate::logging::write("INF", format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::logging::write("WRN", format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::logging::write("ERR", format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! fatal {
    ($($arg:tt)*) => { $crate::logging::write("FTL", format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::logging::debug_enabled() {
            $crate::logging::write("DBG", format_args!($($arg)*))
        }
    };
}

#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => {
        if $crate::logging::trace_enabled() {
            $crate::logging::write("TRC", format_args!($($arg)*))
        }
    };
}

/// Go's `%q` of bytes: a double-quoted string with Go escapes.
pub fn go_quote(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push('"');
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        // Decode one UTF-8 character if valid, else escape the byte.
        let width = utf8_width(c);
        if width > 1 {
            if let Some(s) = b
                .get(i..i + width)
                .and_then(|s| std::str::from_utf8(s).ok())
            {
                let ch = s.chars().next().unwrap_or('\u{fffd}');
                if is_go_printable(ch) {
                    out.push(ch);
                } else if (ch as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", ch as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", ch as u32));
                }
                i += width;
                continue;
            }
        }
        match c {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            0x0b => out.push_str("\\v"),
            0x20..=0x7e => out.push(c as char),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
        i += 1;
    }
    out.push('"');
    out
}

fn utf8_width(c: u8) -> usize {
    match c {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 1,
    }
}

fn is_go_printable(ch: char) -> bool {
    !ch.is_control() && ch != '\u{fffd}' && !matches!(ch, '\u{2028}' | '\u{2029}' | '\u{ad}')
}

#[cfg(test)]
mod tests {
    use super::go_quote;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote(b"he\"lo"), "\"he\\\"lo\"");
        assert_eq!(go_quote(b"a\r\nb"), "\"a\\r\\nb\"");
        assert_eq!(go_quote(b"\x00\xff"), "\"\\x00\\xff\"");
        assert_eq!(go_quote("é".as_bytes()), "\"é\"");
    }
}
