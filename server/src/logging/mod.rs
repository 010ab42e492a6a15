//! The server's logger: Go's line format `[PID] 2006/01/02 15:04:05.000000
//! [INF] text` on stderr or in a log file (optionally size-capped), or
//! syslog messages; debug and trace lines only when enabled. SIGUSR1
//! re-opens the log file.
//!
//! Each server instance owns a [`Log`]. The logging macros write to the
//! log bound to the current thread: a server runs on its own runtime,
//! whose threads are bound to its log when they start (see [`bind`]), so
//! several servers in one process each log to their own output. A thread
//! bound to no log (before a server exists, or a test's own thread) writes
//! to the process's default log, plain stderr.

mod clock;
mod file;
mod syslog;

use clock::LocalTime;
use file::FileLog;
use parking_lot::Mutex;
use std::cell::OnceCell;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use syslog::{Severity, Syslog};

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

struct Sink {
    format: LineFormat,
    out: Output,
    /// Kept for re-opening the file.
    config: LogConfig,
}

/// One server's log: its levels and its output.
pub struct Log {
    debug: AtomicBool,
    trace: AtomicBool,
    /// Go's `traceSysAcc`: trace the system account's internal client too.
    trace_system: AtomicBool,
    output: Mutex<Sink>,
}

thread_local! {
    static CURRENT: OnceCell<Arc<Log>> = const { OnceCell::new() };
}

/// The process's default log: stderr, info and above.
fn process_log() -> &'static Arc<Log> {
    static LOG: OnceLock<Arc<Log>> = OnceLock::new();
    LOG.get_or_init(|| Arc::new(Log::stderr()))
}

/// Binds the calling thread to `log` for the thread's life (a runtime's
/// `on_thread_start`); a thread already bound keeps its log.
pub fn bind(log: &Arc<Log>) {
    CURRENT.with(|c| {
        let _ = c.set(log.clone());
    });
}

/// Runs `f` with the log of the calling thread.
#[inline]
fn with_log<R>(f: impl FnOnce(&Log) -> R) -> R {
    CURRENT.with(|c| match c.get() {
        Some(log) => f(log),
        None => f(process_log()),
    })
}

/// The log of the calling thread (see [`bind`]).
pub fn current() -> Arc<Log> {
    CURRENT
        .with(|c| c.get().cloned())
        .unwrap_or_else(|| process_log().clone())
}

pub(crate) use natsd_proto::oserror::os_error_text;

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

impl Log {
    fn stderr() -> Log {
        Log {
            debug: AtomicBool::new(false),
            trace: AtomicBool::new(false),
            trace_system: AtomicBool::new(false),
            output: Mutex::new(Sink {
                format: LineFormat::new(true),
                out: Output::Stderr,
                config: LogConfig::default(),
            }),
        }
    }

    /// A log configured as `config` says. Exits as Go does when the output
    /// cannot be opened.
    pub fn new(config: LogConfig) -> Arc<Log> {
        let log = Arc::new(Log::stderr());
        log.configure(config);
        log
    }

    /// Sets levels and output, in Go's order of preference: a log file,
    /// then remote syslog, then local syslog, else stderr. Exits as Go does
    /// when the output cannot be opened.
    pub fn configure(&self, config: LogConfig) {
        self.debug.store(config.debug, Ordering::Relaxed);
        self.trace.store(config.trace, Ordering::Relaxed);
        self.trace_system
            .store(config.trace_system, Ordering::Relaxed);
        let format = LineFormat::new(config.time);
        let out = if !config.file.is_empty() {
            Output::File(open_file(&config.file, format.clone()))
        } else if !config.remote_syslog.is_empty() {
            Output::Syslog(
                Syslog::remote(&config.remote_syslog).unwrap_or_else(|e| std_fatal(&e.to_string())),
            )
        } else if config.syslog {
            Output::Syslog(Syslog::local().unwrap_or_else(|e| std_fatal(&e.to_string())))
        } else {
            Output::Stderr
        };
        let over_limit = {
            let mut o = self.output.lock();
            o.format = format;
            o.out = out;
            o.config = config;
            o.apply_size_limit()
        };
        if over_limit {
            self.write("INF", format_args!("Rotating logfile..."));
        }
    }

    /// SIGUSR1: closes and re-opens the log file (after it was moved away,
    /// a new one is created). Without a log file there is nothing to do.
    pub fn reopen(&self) {
        let over_limit = {
            let mut o = self.output.lock();
            if o.config.file.is_empty() {
                None
            } else {
                let f = open_file(&o.config.file, o.format.clone());
                o.out = Output::File(f);
                Some(o.apply_size_limit())
            }
        };
        let info = |text: &str| self.write("INF", format_args!("{text}"));
        match over_limit {
            None => info("File log re-open ignored, not a file logger"),
            Some(over) => {
                if over {
                    info("Rotating logfile...");
                }
                info("File log re-opened");
            }
        }
    }

    /// Writes one line with the given label ("INF", "DBG", ...).
    pub fn write(&self, label: &str, msg: std::fmt::Arguments<'_>) {
        let mut o = self.output.lock();
        let o = &mut *o;
        match &mut o.out {
            Output::Stderr => {
                let line = o.format.line(label, msg, "\n");
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            Output::File(f) => f.write(o.format.line(label, msg, "\n").as_bytes()),
            Output::Syslog(s) => s.send(Severity::for_label(label), &msg.to_string()),
        }
    }
}

impl Sink {
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

/// Whether the current log writes debug lines.
#[inline]
pub fn debug_enabled() -> bool {
    with_log(|l| l.debug.load(Ordering::Relaxed))
}

/// Whether the current log writes trace lines.
#[inline]
pub fn trace_enabled() -> bool {
    with_log(|l| l.trace.load(Ordering::Relaxed))
}

/// Whether the system account's internal client is traced.
pub fn trace_system() -> bool {
    with_log(|l| l.trace_system.load(Ordering::Relaxed))
}

/// Writes one line with the given label ("INF", "DBG", ...) to the
/// current log.
pub fn write(label: &str, msg: std::fmt::Arguments<'_>) {
    with_log(|l| l.write(label, msg))
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
