//! Go's `net.SplitHostPort`, with its error texts: they reach users in log
//! lines (a bad advertise address, an origin a WebSocket upgrade cannot
//! read).

pub const MISSING_PORT: &str = "missing port in address";
const TOO_MANY_COLONS: &str = "too many colons in address";

/// Go's `net.AddrError`: `address <addr>: <why>`. Whoever reads the
/// address decides on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrError {
    pub addr: String,
    pub why: &'static str,
}

/// As Go writes it: without the address when it is empty.
impl std::fmt::Display for AddrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.addr.is_empty() {
            f.write_str(self.why)
        } else {
            write!(f, "address {}: {}", self.addr, self.why)
        }
    }
}

impl std::error::Error for AddrError {}

fn addr_err(addr: &str, why: &'static str) -> AddrError {
    AddrError {
        addr: addr.to_string(),
        why,
    }
}

/// Splits `host:port`, `[v6]:port`; errors are Go's.
pub fn split_host_port(hostport: &str) -> Result<(&str, &str), AddrError> {
    let i = hostport
        .rfind(':')
        .ok_or_else(|| addr_err(hostport, MISSING_PORT))?;
    let (host, j, k) = if let Some(rest) = hostport.strip_prefix('[') {
        let end = rest
            .find(']')
            .map(|e| e + 1)
            .ok_or_else(|| addr_err(hostport, "missing ']' in address"))?;
        if end + 1 != i {
            let why = if end + 1 == hostport.len() {
                MISSING_PORT
            } else if hostport.as_bytes()[end + 1] == b':' {
                TOO_MANY_COLONS
            } else {
                MISSING_PORT
            };
            return Err(addr_err(hostport, why));
        }
        (&hostport[1..end], 1, end + 1)
    } else {
        let host = &hostport[..i];
        if host.contains(':') {
            return Err(addr_err(hostport, TOO_MANY_COLONS));
        }
        (host, 0, 0)
    };
    if hostport[j..].contains('[') {
        return Err(addr_err(hostport, "unexpected '[' in address"));
    }
    if hostport[k..].contains(']') {
        return Err(addr_err(hostport, "unexpected ']' in address"));
    }
    Ok((host, &hostport[i + 1..]))
}
