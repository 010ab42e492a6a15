//! The server's logger: Go's line format `[PID] 2006/01/02 15:04:05.000000
//! [INF] text` on stderr or in a log file (optionally size-capped), or
//! syslog messages; debug and trace lines only when enabled. SIGUSR1
//! re-opens the log file.

mod clock;
mod file;
mod syslog;

use clock::LocalTime;
use file::FileLog;
use parking_lot::Mutex;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use syslog::{Severity, Syslog};

static DEBUG: AtomicBool = AtomicBool::new(false);
static TRACE: AtomicBool = AtomicBool::new(false);
/// Go's `traceSysAcc`: trace the system account's internal client too.
static TRACE_SYSTEM: AtomicBool = AtomicBool::new(false);

/// What the options say about logging.
#[derive(Debug, Clone, Default)]
pub struct LogConfig {
    pub debug: bool,
    pub trace: bool,
    /// `trace_verbose`: also trace the system account's internal client.
    pub trace_system: bool,
    pub time: bool,
    pub file: String,
    pub size_limit: i64,
    pub syslog: bool,
    pub remote_syslog: String,
}

impl LogConfig {
    /// The logging the options ask for.
    pub fn of(o: &crate::options::Options) -> LogConfig {
        LogConfig {
            debug: o.debug,
            trace: o.trace,
            trace_system: o.trace_verbose,
            time: o.logtime,
            file: o.log_file.clone(),
            size_limit: o.log_size_limit,
            syslog: o.syslog,
            remote_syslog: o.remote_syslog.clone(),
        }
    }
}

/// How a stderr or file line starts: the pid, then the time if enabled.
#[derive(Debug, Clone)]
pub(crate) struct LineFormat {
    prefix: String,
    time: bool,
}

impl LineFormat {
    fn new(time: bool) -> LineFormat {
        LineFormat {
            prefix: format!("[{}] ", std::process::id()),
            time,
        }
    }

    fn line(&self, label: &str, msg: std::fmt::Arguments<'_>, eol: &str) -> String {
        use std::fmt::Write as _;
        let mut line = String::with_capacity(128);
        line.push_str(&self.prefix);
        if self.time {
            line.push_str(&LocalTime::now().log_stamp());
            line.push(' ');
        }
        line.push('[');
        line.push_str(label);
        line.push_str("] ");
        let _ = line.write_fmt(msg);
        line.push_str(eol);
        line
    }
}

enum Output {
    Stderr,
    File(FileLog),
    Syslog(Syslog),
}

struct Logger {
    format: LineFormat,
    out: Output,
    /// Kept for re-opening the file.
    config: LogConfig,
}

fn logger() -> &'static Mutex<Logger> {
    static LOGGER: OnceLock<Mutex<Logger>> = OnceLock::new();
    LOGGER.get_or_init(|| {
        Mutex::new(Logger {
            format: LineFormat::new(true),
            out: Output::Stderr,
            config: LogConfig::default(),
        })
    })
}

/// An OS error as Go words it: no "(os error N)", lower case.
pub(crate) fn os_error_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s);
    s.to_lowercase()
}

/// Go's standard-library `log.Fatalf`, which the logger constructors use
/// when they cannot open their output: a time-stamped line on stderr and
/// exit status 1.
pub fn std_fatal(msg: &str) -> ! {
    eprintln!("{} {msg}", LocalTime::now().std_stamp());
    std::process::exit(1)
}

fn open_file(path: &str, format: LineFormat) -> FileLog {
    FileLog::open(path, format).unwrap_or_else(|e| {
        std_fatal(&format!(
            "error opening file: open {path}: {}",
            os_error_text(&e)
        ))
    })
}

/// Sets levels and output, in Go's order of preference: a log file, then
/// remote syslog, then local syslog, else stderr. Exits as Go does when
/// the output cannot be opened.
pub fn configure(config: LogConfig) {
    DEBUG.store(config.debug, Ordering::Relaxed);
    TRACE.store(config.trace, Ordering::Relaxed);
    TRACE_SYSTEM.store(config.trace_system, Ordering::Relaxed);
    let format = LineFormat::new(config.time);
    let out = if !config.file.is_empty() {
        Output::File(open_file(&config.file, format.clone()))
    } else if !config.remote_syslog.is_empty() {
        Output::Syslog(Syslog::remote(&config.remote_syslog).unwrap_or_else(|e| std_fatal(&e)))
    } else if config.syslog {
        Output::Syslog(Syslog::local().unwrap_or_else(|e| std_fatal(&e)))
    } else {
        Output::Stderr
    };
    let over_limit = {
        let mut l = logger().lock();
        l.format = format;
        l.out = out;
        l.config = config;
        l.apply_size_limit()
    };
    if over_limit {
        crate::notice!("Rotating logfile...");
    }
}

impl Logger {
    /// Applies the configured size limit to a file output; true when the
    /// file is already over it.
    fn apply_size_limit(&mut self) -> bool {
        match &mut self.out {
            Output::File(f) if self.config.size_limit > 0 => {
                f.set_limit(self.config.size_limit as u64)
            }
            _ => false,
        }
    }
}

/// SIGUSR1: closes and re-opens the log file (after it was moved away, a
/// new one is created). Without a log file there is nothing to do.
pub fn reopen() {
    let over_limit = {
        let mut l = logger().lock();
        if l.config.file.is_empty() {
            None
        } else {
            let f = open_file(&l.config.file, l.format.clone());
            l.out = Output::File(f);
            Some(l.apply_size_limit())
        }
    };
    match over_limit {
        None => crate::notice!("File log re-open ignored, not a file logger"),
        Some(over) => {
            if over {
                crate::notice!("Rotating logfile...");
            }
            crate::notice!("File log re-opened");
        }
    }
}

pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

pub fn trace_enabled() -> bool {
    TRACE.load(Ordering::Relaxed)
}

/// Whether the system account's internal client is traced.
pub fn trace_system() -> bool {
    TRACE_SYSTEM.load(Ordering::Relaxed)
}

/// Writes one line with the given label ("INF", "DBG", ...).
pub fn write(label: &str, msg: std::fmt::Arguments<'_>) {
    let mut l = logger().lock();
    let l = &mut *l;
    match &mut l.out {
        Output::Stderr => {
            let line = l.format.line(label, msg, "\n");
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        Output::File(f) => f.write(l.format.line(label, msg, "\n").as_bytes()),
        Output::Syslog(s) => s.send(Severity::for_label(label), &msg.to_string()),
    }
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
