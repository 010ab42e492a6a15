//! Go's `net/url.Parse`, for what the server reads of a configured URL:
//! which URLs Go refuses, with its error text (a websocket
//! `allowed_origins` entry that Go cannot parse stops the server), and the
//! userinfo and host of those it accepts (`--cluster`).

use crate::quote::go_quote;
use std::fmt;

/// What the server reads of a URL Go accepts.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Url {
    /// The user, and the password when one is given, as written.
    pub user: Option<(String, Option<String>)>,
    /// `host[:port]`; empty for a URL without an authority.
    pub host: String,
}

/// Go's `url.Parse` error: `parse "<url>": <reason>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError {
    pub url: String,
    pub reason: String,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "parse {}: {}",
            go_quote(self.url.as_bytes()),
            self.reason
        )
    }
}

impl std::error::Error for UrlError {}

/// Parses `raw` as Go's `url.Parse` does.
pub fn parse(raw: &str) -> Result<Url, UrlError> {
    let (url, fragment) = match raw.split_once('#') {
        Some((u, f)) => (u, Some(f)),
        None => (raw, None),
    };
    let error = |url: &str, reason| UrlError {
        url: url.to_string(),
        reason,
    };
    let parsed = parse_without_fragment(url).map_err(|reason| error(url, reason))?;
    if let Some(fragment) = fragment {
        unescape(fragment, Mode::Other).map_err(|reason| error(raw, reason))?;
    }
    Ok(parsed)
}

fn parse_without_fragment(raw: &str) -> Result<Url, String> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("net/url: invalid control character in URL".into());
    }
    if raw == "*" {
        return Ok(Url::default());
    }
    let (scheme, rest) = scheme(raw)?;
    let rest = match rest.strip_suffix('?') {
        Some(r) if rest.matches('?').count() == 1 => r,
        _ => rest.split_once('?').map_or(rest, |(r, _)| r),
    };
    if !rest.starts_with('/') {
        if !scheme.is_empty() {
            // A rootless path: opaque, not checked further.
            return Ok(Url::default());
        }
        let segment = rest.split('/').next().unwrap_or_default();
        if segment.contains(':') {
            return Err("first path segment in URL cannot contain colon".into());
        }
    }
    let mut url = Url::default();
    let mut path = rest;
    if (!scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let after = &rest[2..];
        let (authority, tail) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        };
        url = authority_of(authority)?;
        path = tail;
    }
    unescape(path, Mode::Other)?;
    Ok(url)
}

/// The scheme (empty when there is none) and the rest.
fn scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err("missing protocol scheme".into()),
            b':' => return Ok((&raw[..i], &raw[i + 1..])),
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

fn authority_of(authority: &str) -> Result<Url, String> {
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    check_host(host)?;
    let user = match userinfo {
        Some(u) => {
            if !u.bytes().all(valid_userinfo_byte) {
                return Err("net/url: invalid userinfo".into());
            }
            unescape(u, Mode::Other)?;
            Some(match u.split_once(':') {
                Some((name, pass)) => (name.to_string(), Some(pass.to_string())),
                None => (u.to_string(), None),
            })
        }
        None => None,
    };
    Ok(Url {
        user,
        host: host.to_string(),
    })
}

fn check_host(host: &str) -> Result<(), String> {
    let colon_port = if host.starts_with('[') {
        let Some(i) = host.rfind(']') else {
            return Err("missing ']' in host".into());
        };
        &host[i + 1..]
    } else {
        host.rfind(':').map_or("", |i| &host[i..])
    };
    let valid_port = colon_port.is_empty()
        || (colon_port.starts_with(':') && colon_port[1..].bytes().all(|b| b.is_ascii_digit()));
    if !valid_port {
        return Err(format!(
            "invalid port {} after host",
            go_quote(colon_port.as_bytes())
        ));
    }
    unescape(host, Mode::Host)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Host,
    Other,
}

/// Go's unescape, for its errors: a `%` needs two hex digits; a host
/// allows only `%25` below `%80` and no character that needs escaping.
fn unescape(s: &str, mode: Mode) -> Result<(), String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let ok =
                i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit();
            if !ok {
                let end = (i + 3).min(b.len());
                return Err(format!("invalid URL escape {}", go_quote(&b[i..end])));
            }
            let high = (b[i + 1] as char).to_digit(16).unwrap_or(0);
            if mode == Mode::Host && high < 8 && &b[i..i + 3] != b"%25" {
                return Err(format!("invalid URL escape {}", go_quote(&b[i..i + 3])));
            }
            i += 3;
            continue;
        }
        if mode == Mode::Host && b[i] < 0x80 && !host_byte_allowed(b[i]) {
            return Err(format!(
                "invalid character {} in host name",
                go_quote(&b[i..i + 1])
            ));
        }
        i += 1;
    }
    Ok(())
}

/// RFC 3986's sub-delimiters, which Go leaves unescaped in a host and
/// allows in userinfo.
const SUB_DELIMS: &[u8] = b"!$&'()*+,;=";

/// A byte Go leaves unescaped in a host.
fn host_byte_allowed(c: u8) -> bool {
    c.is_ascii_alphanumeric() || SUB_DELIMS.contains(&c) || b"-_.~:[]<>\"".contains(&c)
}

/// A byte Go allows in a URL's userinfo.
fn valid_userinfo_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c >= 0x80 || SUB_DELIMS.contains(&c) || b"-._:~%@".contains(&c)
}

#[cfg(test)]
mod tests {
    use super::{parse, Url};

    fn parse_error(raw: &str) -> Option<String> {
        parse(raw).err().map(|e| e.to_string())
    }

    #[test]
    fn accepts_what_go_accepts() {
        for ok in [
            "http://host.com",
            "https://host.com:443",
            "http://[::1]:8080/path?q=1#frag",
            "http://user:pass@host:80",
            "host.com",
            "*",
            "mailto:someone",
            "http://host/%41",
            "http://[fe80::1%25en0]:8080",
            "",
        ] {
            assert_eq!(parse_error(ok), None, "{ok}");
        }
    }

    #[test]
    fn reads_user_and_host() {
        assert_eq!(
            parse("nats://ivan:pwd@127.0.0.1:6222/x"),
            Ok(Url {
                user: Some(("ivan".into(), Some("pwd".into()))),
                host: "127.0.0.1:6222".into(),
            })
        );
        assert_eq!(parse("localhost:6222"), Ok(Url::default()));
    }

    #[test]
    fn refuses_with_go_texts() {
        for (bad, want) in [
            (
                "http://this:is:bad:url",
                r#"parse "http://this:is:bad:url": invalid port ":url" after host"#,
            ),
            (":foo", r#"parse ":foo": missing protocol scheme"#),
            (
                "http://a b.com",
                r#"parse "http://a b.com": invalid character " " in host name"#,
            ),
            (
                "http://host/%zz",
                r#"parse "http://host/%zz": invalid URL escape "%zz""#,
            ),
            ("http://[::1", r#"parse "http://[::1": missing ']' in host"#),
            (
                "1a:b/c",
                r#"parse "1a:b/c": first path segment in URL cannot contain colon"#,
            ),
            (
                "http://x\ty",
                r#"parse "http://x\ty": net/url: invalid control character in URL"#,
            ),
            (
                "http://us er@h",
                r#"parse "http://us er@h": net/url: invalid userinfo"#,
            ),
            (
                "http://h/#%z",
                r#"parse "http://h/#%z": invalid URL escape "%z""#,
            ),
        ] {
            assert_eq!(parse_error(bad).as_deref(), Some(want), "{bad}");
        }
    }
}
