//! Syslog output as Go's `log/syslog` writes it: the local daemon through
//! `/dev/log`, or a remote receiver given as `udp://`, `tcp://` or
//! `unix://` URL. Each message is one line `<PRI>TIME HOST TAG[PID]: MSG`;
//! unix sockets use the local form, with a shorter time and no host.

use super::clock::LocalTime;
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};

/// Severities the server uses (RFC 5424 numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Crit = 2,
    Err = 3,
    Warning = 4,
    Notice = 5,
    Debug = 7,
}

impl Severity {
    /// The severity for one of the server's log labels. Traces go out as
    /// notices, as in Go.
    pub fn for_label(label: &str) -> Severity {
        match label {
            "FTL" => Severity::Crit,
            "ERR" => Severity::Err,
            "WRN" => Severity::Warning,
            "DBG" => Severity::Debug,
            _ => Severity::Notice,
        }
    }
}

/// The daemon facility, which Go's local syslog logger uses. The remote one
/// uses facility 0 (kernel), as its priority is just `LOG_DEBUG`.
const FACILITY_DAEMON: u8 = 3 << 3;
const FACILITY_KERN: u8 = 0;

/// Why syslog output cannot be opened, with Go's texts. The logger decides
/// on it: it exits, as Go does.
#[derive(Debug, thiserror::Error)]
pub enum SyslogError {
    /// `remote_syslog` names a scheme other than udp, tcp or unix.
    #[error("error invalid network type: \"{0}\"")]
    Network(String),
    #[error("error connecting to syslog: \"dial {net} {addr}: connect: {}\"", super::os_error_text(.source))]
    Dial {
        net: &'static str,
        addr: String,
        source: std::io::Error,
    },
    /// None of the local daemon's sockets answers.
    #[error("error connecting to syslog: \"Unix syslog delivery error\"")]
    NoLocalDaemon,
}

/// Where messages go; kept so that a broken connection can be redialled.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Local,
    Udp(String),
    Tcp(String),
    Unix(String),
}

enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Stream(UnixStream),
    Datagram(UnixDatagram),
}

impl Conn {
    fn send(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Udp(s) => s.send(b).map(drop),
            Conn::Tcp(s) => s.write_all(b),
            Conn::Stream(s) => s.write_all(b),
            Conn::Datagram(s) => s.send(b).map(drop),
        }
    }
}

pub struct Syslog {
    target: Target,
    conn: Option<Conn>,
    facility: u8,
    tag: String,
    hostname: String,
}

/// The local daemon's sockets, in the order Go tries them.
const LOCAL_SOCKETS: [&str; 3] = ["/dev/log", "/var/run/syslog", "/var/run/log"];

impl Syslog {
    /// The local syslog daemon.
    pub fn local() -> Result<Syslog, SyslogError> {
        Syslog::connect(Target::Local, FACILITY_DAEMON)
    }

    /// A remote receiver, from `remote_syslog`.
    pub fn remote(url: &str) -> Result<Syslog, SyslogError> {
        Syslog::connect(parse_target(url)?, FACILITY_KERN)
    }

    fn connect(target: Target, facility: u8) -> Result<Syslog, SyslogError> {
        let conn = dial(&target)?;
        Ok(Syslog {
            target,
            conn: Some(conn),
            facility,
            tag: process_tag(),
            hostname: hostname(),
        })
    }

    /// Sends one message; on failure redials once and retries, as Go does.
    pub fn send(&mut self, severity: Severity, msg: &str) {
        let line = self.format(severity, msg, &LocalTime::now());
        if let Some(conn) = self.conn.as_mut() {
            if conn.send(line.as_bytes()).is_ok() {
                return;
            }
        }
        self.conn = dial(&self.target).ok();
        if let Some(conn) = self.conn.as_mut() {
            let _ = conn.send(line.as_bytes());
        }
    }

    fn format(&self, severity: Severity, msg: &str, t: &LocalTime) -> String {
        let host = match self.target {
            Target::Udp(_) | Target::Tcp(_) => Some(self.hostname.as_str()),
            Target::Local | Target::Unix(_) => None,
        };
        format_message(
            self.facility | severity as u8,
            t,
            host,
            &self.tag,
            std::process::id(),
            msg,
        )
    }
}

/// One syslog line. With a host it is the network form (RFC 3339 time),
/// without one the local form (`Jan _2 15:04:05`). A newline is added
/// unless the message already ends with one.
pub fn format_message(
    pri: u8,
    t: &LocalTime,
    host: Option<&str>,
    tag: &str,
    pid: u32,
    msg: &str,
) -> String {
    let nl = if msg.ends_with('\n') { "" } else { "\n" };
    match host {
        Some(host) => format!("<{pri}>{} {host} {tag}[{pid}]: {msg}{nl}", t.rfc3339()),
        None => format!("<{pri}>{} {tag}[{pid}]: {msg}{nl}", t.syslog_stamp()),
    }
}

/// `scheme://host:port` or `unix:///path`; other schemes are refused with
/// Go's message.
fn parse_target(url: &str) -> Result<Target, SyslogError> {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s.to_lowercase(), r),
        None => (String::new(), url),
    };
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    match scheme.as_str() {
        "udp" => Ok(Target::Udp(host.to_string())),
        "tcp" => Ok(Target::Tcp(host.to_string())),
        "unix" => Ok(Target::Unix(path.to_string())),
        other => Err(SyslogError::Network(other.to_string())),
    }
}

fn dial(target: &Target) -> Result<Conn, SyslogError> {
    let failed = |net, addr: &str, source| SyslogError::Dial {
        net,
        addr: addr.to_string(),
        source,
    };
    match target {
        Target::Local => dial_local(),
        Target::Udp(addr) => UdpSocket::bind(if addr.starts_with('[') {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        })
        .and_then(|s| s.connect(addr.as_str()).map(|()| s))
        .map(Conn::Udp)
        .map_err(|e| failed("udp", addr, e)),
        Target::Tcp(addr) => TcpStream::connect(addr.as_str())
            .map(Conn::Tcp)
            .map_err(|e| failed("tcp", addr, e)),
        Target::Unix(path) => UnixStream::connect(path)
            .map(Conn::Stream)
            .map_err(|e| failed("unix", path, e)),
    }
}

fn dial_local() -> Result<Conn, SyslogError> {
    for path in LOCAL_SOCKETS {
        if let Ok(s) = UnixDatagram::unbound().and_then(|s| s.connect(path).map(|()| s)) {
            return Ok(Conn::Datagram(s));
        }
        if let Ok(s) = UnixStream::connect(path) {
            return Ok(Conn::Stream(s));
        }
    }
    Err(SyslogError::NoLocalDaemon)
}

/// The tag: the base name of the command the server was started as.
fn process_tag() -> String {
    let argv0 = std::env::args().next().unwrap_or_default();
    argv0.rsplit('/').next().unwrap_or_default().to_string()
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::clock::sample;

    #[test]
    fn network_form() {
        let line = format_message(
            5,
            &sample(),
            Some("box"),
            "nats-server",
            42,
            "Server is ready",
        );
        assert_eq!(
            line,
            "<5>2023-03-07T09:05:04Z box nats-server[42]: Server is ready\n"
        );
    }

    #[test]
    fn local_form_keeps_a_trailing_newline() {
        let line = format_message(29, &sample(), None, "natsd", 42, "hello\n");
        assert_eq!(line, "<29>Mar  7 09:05:04 natsd[42]: hello\n");
    }

    #[test]
    fn severities_and_priorities() {
        assert_eq!(Severity::for_label("INF") as u8, 5);
        assert_eq!(Severity::for_label("TRC") as u8, 5);
        assert_eq!(Severity::for_label("DBG") as u8, 7);
        assert_eq!(Severity::for_label("WRN") as u8, 4);
        assert_eq!(Severity::for_label("ERR") as u8, 3);
        assert_eq!(Severity::for_label("FTL") as u8, 2);
        assert_eq!(FACILITY_DAEMON | Severity::Notice as u8, 29);
    }

    #[test]
    fn targets() {
        assert_eq!(
            parse_target("udp://127.0.0.1:514").unwrap(),
            Target::Udp("127.0.0.1:514".into())
        );
        assert_eq!(
            parse_target("tcp://[::1]:514").unwrap(),
            Target::Tcp("[::1]:514".into())
        );
        assert_eq!(
            parse_target("unix:///tmp/s.sock").unwrap(),
            Target::Unix("/tmp/s.sock".into())
        );
        assert_eq!(
            parse_target("http://x").unwrap_err().to_string(),
            "error invalid network type: \"http\""
        );
    }
}
