//! Network helpers as Go words them: splitting and joining `host:port`
//! (Go's `net.SplitHostPort` error texts reach users in log lines such as
//! the fatal error for a bad `client_advertise`), socket errors, and
//! binding listeners.

use std::net::SocketAddr;
use tokio::net::TcpListener;

pub use natsd_proto::hostport::{split_host_port, AddrError, MISSING_PORT};

/// Why `host[:port]` is not an address, with Go's texts. The option that
/// holds it decides: a bad `client_advertise` stops the server, a bad
/// advertise refuses a reload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostPortError {
    #[error("no hostport specified")]
    Empty,
    #[error(transparent)]
    Addr(#[from] AddrError),
    /// The port is not a number.
    #[error("strconv.Atoi: parsing {0:?}: invalid syntax")]
    Port(String),
}

/// A host and port from `host[:port]`, the port defaulting to `default_port`
/// when missing, 0 or -1 (Go's `parseHostPort`).
pub fn parse_host_port(hostport: &str, default_port: i64) -> Result<(String, i64), HostPortError> {
    if hostport.is_empty() {
        return Err(HostPortError::Empty);
    }
    let with_default;
    let (host, port) = match split_host_port(hostport) {
        Err(e) if e.why == MISSING_PORT => {
            with_default = format!("{hostport}:{default_port}");
            split_host_port(&with_default)?
        }
        other => other?,
    };
    let port = port.trim();
    let port: i64 = port
        .parse()
        .map_err(|_| HostPortError::Port(port.to_string()))?;
    let port = if port == 0 || port == -1 {
        default_port
    } else {
        port
    };
    Ok((host.trim().to_string(), port))
}

/// The address a listener bound to `host` has, for the ports file.
pub fn resolve(host: &str, port: u16) -> SocketAddr {
    use std::net::ToSocketAddrs;
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], port)))
}

/// "host:port", bracketing IPv6 hosts.
pub fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Go's wording of common socket errors.
pub fn go_net_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => "bind: address already in use".into(),
        std::io::ErrorKind::PermissionDenied => "bind: permission denied".into(),
        std::io::ErrorKind::AddrNotAvailable => "bind: cannot assign requested address".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s,
            }
        }
    }
}

/// Binds the client listener. Like Go, the IPv4 wildcard address listens on
/// both IPv4 and IPv6 where the system allows a dual-stack socket.
pub(crate) async fn bind_listener(host: &str, bind: &str) -> std::io::Result<TcpListener> {
    if host == "0.0.0.0" {
        let dual = bind.replacen("0.0.0.0", "[::]", 1);
        if let Ok(listener) = TcpListener::bind(&dual).await {
            return Ok(listener);
        }
    }
    TcpListener::bind(bind).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_go() {
        assert_eq!(split_host_port("me:1"), Ok(("me", "1")));
        assert_eq!(split_host_port("[::1]:4222"), Ok(("::1", "4222")));
        assert_eq!(
            split_host_port("addr:::123").unwrap_err().to_string(),
            "address addr:::123: too many colons in address"
        );
        assert_eq!(
            split_host_port("host").unwrap_err().to_string(),
            "address host: missing port in address"
        );
    }

    #[test]
    fn default_port_fills_in() {
        assert_eq!(
            parse_host_port("nats.example.com", 4222),
            Ok(("nats.example.com".into(), 4222))
        );
        assert_eq!(parse_host_port("h:-1", 5), Ok(("h".into(), 5)));
        assert_eq!(
            parse_host_port("h:x", 5).unwrap_err().to_string(),
            "strconv.Atoi: parsing \"x\": invalid syntax"
        );
    }
}
