//! Splitting `host:port` strings the way Go's `net.SplitHostPort` does, with
//! its error texts, which reach users in log lines such as the fatal error
//! for a bad `client_advertise`.

/// `address <addr>: <why>`, as Go's `net.AddrError` prints.
fn addr_err(addr: &str, why: &str) -> String {
    format!("address {addr}: {why}")
}

/// Splits `host:port`, `[v6]:port`; errors are Go's texts.
pub fn split_host_port(hostport: &str) -> Result<(&str, &str), String> {
    const MISSING_PORT: &str = "missing port in address";
    const TOO_MANY_COLONS: &str = "too many colons in address";
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

/// A host and port from `host[:port]`, the port defaulting to `default_port`
/// when missing, 0 or -1 (Go's `parseHostPort`).
pub fn parse_host_port(hostport: &str, default_port: i64) -> Result<(String, i64), String> {
    if hostport.is_empty() {
        return Err("no hostport specified".into());
    }
    let with_default;
    let (host, port) = match split_host_port(hostport) {
        Err(e) if e.ends_with("missing port in address") => {
            with_default = format!("{hostport}:{default_port}");
            split_host_port(&with_default)?
        }
        other => other?,
    };
    let port = port.trim();
    let port: i64 = port
        .parse()
        .map_err(|_| format!("strconv.Atoi: parsing {port:?}: invalid syntax"))?;
    let port = if port == 0 || port == -1 {
        default_port
    } else {
        port
    };
    Ok((host.trim().to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_go() {
        assert_eq!(split_host_port("me:1"), Ok(("me", "1")));
        assert_eq!(split_host_port("[::1]:4222"), Ok(("::1", "4222")));
        assert_eq!(
            split_host_port("addr:::123"),
            Err("address addr:::123: too many colons in address".into())
        );
        assert_eq!(
            split_host_port("host"),
            Err("address host: missing port in address".into())
        );
    }

    #[test]
    fn default_port_fills_in() {
        assert_eq!(
            parse_host_port("nats.example.com", 4222),
            Ok(("nats.example.com".into(), 4222))
        );
        assert_eq!(parse_host_port("h:-1", 5), Ok(("h".into(), 5)));
        assert!(parse_host_port("h:x", 5)
            .unwrap_err()
            .contains("invalid syntax"));
    }
}
