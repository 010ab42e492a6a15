//! Signals: handling them in the server (shutdown, lame duck, log reopen,
//! reload)
//! and sending them to a running server (`--signal`).

use crate::server::Server;
use crate::{debug, error};
use std::sync::Arc;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Go's names for the signals it traps.
fn name(kind: i32) -> &'static str {
    match kind {
        libc::SIGINT => "interrupt",
        libc::SIGTERM => "terminated",
        libc::SIGUSR1 => "user defined signal 1",
        libc::SIGUSR2 => "user defined signal 2",
        libc::SIGHUP => "hangup",
        _ => "signal",
    }
}

/// The signals the server traps, for the life of the process.
pub struct Signals {
    int: Signal,
    term: Signal,
    usr1: Signal,
    usr2: Signal,
    hup: Signal,
}

impl Signals {
    /// Starts listening. Done before the server says it is ready, so that a
    /// signal sent as soon as the ready line appears is never lost to the
    /// default action.
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            usr1: signal(SignalKind::user_defined1())?,
            usr2: signal(SignalKind::user_defined2())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// Serves signals until the server shuts down; returns the exit code.
    pub async fn run(mut self, srv: Arc<Server>) -> i32 {
        loop {
            tokio::select! {
                _ = self.int.recv() => {
                    debug!("Trapped \"{}\" signal", name(libc::SIGINT));
                    srv.shutdown().await;
                    return 0;
                }
                _ = self.term.recv() => {
                    debug!("Trapped \"{}\" signal", name(libc::SIGTERM));
                    if !srv.in_lame_duck() {
                        srv.shutdown().await;
                        return 1;
                    }
                }
                _ = self.usr1.recv() => {
                    debug!("Trapped \"{}\" signal", name(libc::SIGUSR1));
                    srv.log().reopen();
                }
                _ = self.usr2.recv() => {
                    debug!("Trapped \"{}\" signal", name(libc::SIGUSR2));
                    tokio::spawn(srv.clone().lame_duck());
                }
                _ = self.hup.recv() => {
                    debug!("Trapped \"{}\" signal", name(libc::SIGHUP));
                    if let Err(e) = srv.reload() {
                        error!("Failed to reload server configuration: {e}");
                    }
                }
                _ = srv.wait_done() => return 0,
            }
        }
    }
}

/// Why `--signal` failed (texts as Go prints them).
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("invalid signal parameters: {0}")]
    Params(String),
    #[error("no {0} processes running")]
    NoProcess(String),
    #[error("multiple {0} processes running:\n{1}")]
    Multiple(String, String),
    #[error("unable to resolve pid, try providing one")]
    Unresolved,
    #[error("invalid pid: {0}")]
    InvalidPid(String),
    #[error("unknown signal \"{0}\"")]
    Unknown(String),
    #[error("{0}")]
    Kill(String),
}

/// `--signal cmd[=pid|pidfile]`: sends the signal and returns.
pub fn send(arg: &str) -> Result<(), SignalError> {
    let parts: Vec<&str> = arg.split('=').collect();
    if parts.len() > 2 {
        let rest: Vec<String> = parts[2..].iter().map(|s| s.to_string()).collect();
        return Err(SignalError::Params(format!("[{}]", rest.join(" "))));
    }
    let cmd = parts[0];
    let pid_str = match parts.get(1) {
        Some(p) => std::fs::read_to_string(p).unwrap_or_else(|_| p.to_string()),
        None => String::new(),
    };
    let pid: i32 = if pid_str.is_empty() {
        resolve_pid()?
    } else {
        pid_str
            .trim_end_matches('\n')
            .parse()
            .map_err(|_| SignalError::InvalidPid(pid_str.clone()))?
    };
    let sig = match cmd {
        "stop" => libc::SIGKILL,
        "quit" => libc::SIGINT,
        "reopen" => libc::SIGUSR1,
        "reload" => libc::SIGHUP,
        "ldm" => libc::SIGUSR2,
        "term" => libc::SIGTERM,
        other => return Err(SignalError::Unknown(other.to_string())),
    };
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(pid, sig) } != 0 {
        let e = std::io::Error::last_os_error();
        let text = e.to_string();
        let text = text
            .split(" (os error")
            .next()
            .unwrap_or(&text)
            .to_lowercase();
        return Err(SignalError::Kill(text));
    }
    Ok(())
}

fn resolve_pid() -> Result<i32, SignalError> {
    let exe = std::env::args()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "natsd".into());
    let out = std::process::Command::new("pgrep")
        .arg(&exe)
        .output()
        .map_err(|_| SignalError::Unresolved)?;
    let me = std::process::id() as i32;
    let mut pids = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if line.is_empty() {
            continue;
        }
        let pid: i32 = line.parse().map_err(|_| SignalError::Unresolved)?;
        if pid != me {
            pids.push(pid);
        }
    }
    match pids.len() {
        0 => Err(SignalError::NoProcess(exe)),
        1 => Ok(pids[0]),
        _ => Err(SignalError::Multiple(
            exe,
            pids.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )),
    }
}
