//! The HTTP/1.1 upgrade that opens a WebSocket connection, with every check
//! nats-server 2.9.10 makes (RFC 6455 section 4.2.1), its status codes and
//! its response bytes.

use super::outbound::FrameRules;
use crate::hostport::{split_host_port, MISSING_PORT};
use base64::Engine;
use sha1::{Digest, Sha1};
use std::collections::HashMap;

/// Most bytes of a request head, as Go's HTTP server allows (1 MiB plus
/// its 4 KiB of slack).
pub const MAX_HEAD: usize = (1 << 20) + 4096;

/// From RFC 6455 section 1.3.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// HTTP/1.x minor version.
    pub minor_version: u8,
    headers: Vec<(String, String)>,
}

impl Request {
    /// Every value of header `name` (names compare without case).
    pub fn values<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of header `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.values(name).next().unwrap_or("")
    }

    /// The Host header.
    pub fn host(&self) -> &str {
        self.get("Host")
    }

    /// Whether the HTTP server keeps the connection for another request
    /// after answering this one (HTTP/1.1 without `Connection: close`).
    pub fn keep_alive(&self) -> bool {
        self.minor_version >= 1 && !header_has_token(self, "Connection", "close")
    }
}

/// What the HTTP server answers before the upgrade's own checks (a request
/// it cannot read): raw bytes, then the connection closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable(pub &'static str);

impl Unreadable {
    pub fn response(&self) -> Vec<u8> {
        format!(
            "HTTP/1.1 {}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n{}",
            self.0, self.0
        )
        .into_bytes()
    }
}

/// Parses a request head at the start of `buf`: None while incomplete,
/// else the request and the length of its head.
pub fn parse_request(buf: &[u8]) -> Result<Option<(Request, usize)>, Unreadable> {
    match parse_with(buf, &mut [httparse::EMPTY_HEADER; 64]) {
        // Rare: room for as many headers as a 1 MiB head can hold.
        Err(None) => parse_with(buf, &mut vec![httparse::EMPTY_HEADER; MAX_HEAD / 4])
            .map_err(|e| e.unwrap_or(Unreadable("431 Request Header Fields Too Large"))),
        other => other.map_err(|e| e.expect("only too many headers has no answer")),
    }
}

/// One parse with room for `headers.len()` headers; `Err(None)` when that
/// is not enough.
fn parse_with<'h>(
    buf: &'h [u8],
    headers: &mut [httparse::Header<'h>],
) -> Result<Option<(Request, usize)>, Option<Unreadable>> {
    let mut req = httparse::Request::new(headers);
    let parsed = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
            return Err(Some(Unreadable("431 Request Header Fields Too Large")))
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(None),
        Err(_) => return Err(Some(Unreadable("400 Bad Request"))),
    };
    let request = Request {
        method: req.method.unwrap_or_default().to_string(),
        path: req.path.unwrap_or_default().to_string(),
        minor_version: req.version.unwrap_or(1),
        headers: req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8_lossy(h.value).trim().to_string(),
                )
            })
            .collect(),
    };
    if request.minor_version >= 1 && request.values("Host").next().is_none() {
        return Err(Some(Unreadable(
            "400 Bad Request: missing required Host header",
        )));
    }
    Ok(Some((request, parsed)))
}

/// The upgrade refused: Go's status, and the reason it logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: String,
}

impl Refusal {
    fn new(status: u16, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
        }
    }

    /// The HTTP response, as Go's `http.Error` writes it (with `date`, the
    /// HTTP date of now).
    pub fn response(&self, minor_version: u8, date: &str) -> Vec<u8> {
        let text = status_text(self.status);
        let body = format!("{text}\n");
        format!(
            "HTTP/1.{minor_version} {} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\nDate: {date}\r\nContent-Length: {}\r\n\r\n{body}",
            self.status,
            body.len()
        )
        .into_bytes()
    }
}

fn status_text(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        _ => "Internal Server Error",
    }
}

/// What the request's path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Client,
    Leafnode,
    Mqtt,
}

/// The listener's settings an upgrade is checked against.
pub struct Policy<'a> {
    pub compression: bool,
    pub origins: &'a Origins,
    /// The listener speaks TLS (default port 443 for same-origin checks).
    pub tls: bool,
}

/// An accepted upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    pub endpoint: Endpoint,
    pub key: String,
    pub rules: FrameRules,
    /// The client sends unmasked frames (`Nats-No-Masking: true`).
    pub no_masking: bool,
    /// The address in `X-Forwarded-For`, when it is one IP address.
    pub forwarded_for: Option<String>,
}

/// Checks an upgrade request as Go does, in Go's order.
pub fn check(req: &Request, policy: &Policy) -> Result<Upgrade, Refusal> {
    let endpoint = if req.path.starts_with("/leafnode") {
        Endpoint::Leafnode
    } else if req.path.starts_with("/mqtt") {
        Endpoint::Mqtt
    } else {
        Endpoint::Client
    };
    if req.method != "GET" {
        return Err(Refusal::new(405, "request method must be GET"));
    }
    if req.host().is_empty() {
        return Err(Refusal::new(400, "'Host' missing in request"));
    }
    if !header_has_token(req, "Upgrade", "websocket") {
        return Err(Refusal::new(400, "invalid value for header 'Upgrade'"));
    }
    if !header_has_token(req, "Connection", "Upgrade") {
        return Err(Refusal::new(400, "invalid value for header 'Connection'"));
    }
    let key = req.get("Sec-Websocket-Key");
    if key.is_empty() {
        return Err(Refusal::new(400, "key missing"));
    }
    if !header_has_token(req, "Sec-Websocket-Version", "13") {
        return Err(Refusal::new(400, "invalid version"));
    }
    if let Err(why) = policy.origins.check(req, policy.tls) {
        return Err(Refusal::new(403, format!("origin not allowed: {why}")));
    }
    let compress = policy.compression && offers_deflate(req);
    let agent = req.get("User-Agent");
    let browser = agent.starts_with("Mozilla/");
    let forwarded_for = req
        .values("X-Forwarded-For")
        .next()
        .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok())
        .map(str::to_string);
    Ok(Upgrade {
        endpoint,
        key: key.to_string(),
        rules: FrameRules {
            compress,
            browser: browser && endpoint != Endpoint::Leafnode,
            no_compressed_fragments: browser
                && compress
                && agent.contains("Version/")
                && agent.contains("Safari/"),
        },
        no_masking: req.get("Nats-No-Masking") == "true",
        forwarded_for,
    })
}

/// The 101 response that completes an upgrade.
pub fn accept_response(up: &Upgrade) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    out.push_str("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
    out.push_str(&accept_key(&up.key));
    out.push_str("\r\n");
    if up.rules.compress {
        out.push_str("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n");
    }
    if up.no_masking {
        out.push_str("Nats-No-Masking: true\r\n");
    }
    if up.endpoint == Endpoint::Mqtt {
        out.push_str("Sec-Websocket-Protocol: mqtt\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// `Sec-WebSocket-Accept` for a client's key.
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// Header `name` has `token` among its comma-separated values.
fn header_has_token(req: &Request, name: &str, token: &str) -> bool {
    req.values(name).any(|v| {
        v.split(',')
            .any(|t| t.trim_matches([' ', '\t']).eq_ignore_ascii_case(token))
    })
}

/// The client offers permessage-deflate (its parameters are not needed:
/// the server always answers with no context takeover both ways).
fn offers_deflate(req: &Request) -> bool {
    req.values("Sec-Websocket-Extensions").any(|list| {
        list.split(',').any(|ext| {
            ext.split(';').any(|p| {
                p.trim_matches([' ', '\t'])
                    .eq_ignore_ascii_case("permessage-deflate")
            })
        })
    })
}

/// The `same_origin` and `allowed_origins` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins {
    same_origin: bool,
    /// By lower-case host: scheme and port.
    allowed: HashMap<String, (String, String)>,
}

impl Origins {
    /// The settings, and Go's errors for allowed origins it cannot parse
    /// (which are left out).
    pub fn new(same_origin: bool, allowed: &[String]) -> (Origins, Vec<String>) {
        let mut o = Origins {
            same_origin,
            allowed: HashMap::new(),
        };
        let mut errors = Vec::new();
        for a in allowed {
            match origin_parts(a) {
                Ok((scheme, host, port)) => {
                    o.allowed.insert(host, (scheme.to_string(), port));
                }
                Err(e) => errors.push(format!("error parsing allowed origin: {e}")),
            }
        }
        (o, errors)
    }

    /// Go's checkOrigin: a request without an Origin is accepted.
    fn check(&self, req: &Request, tls: bool) -> Result<(), String> {
        if !self.same_origin && self.allowed.is_empty() {
            return Ok(());
        }
        let mut origin = req.get("Origin");
        if origin.is_empty() {
            origin = req.get("Sec-Websocket-Origin");
        }
        if origin.is_empty() {
            return Ok(());
        }
        let (scheme, host, port) = origin_parts(origin)?;
        if self.same_origin {
            let (req_host, req_port) = host_and_port(tls, req.host())?;
            if host != req_host || port != req_port {
                return Err("not same origin".into());
            }
        }
        if !self.allowed.is_empty() {
            match self.allowed.get(&host) {
                Some((s, p)) if *s == scheme && *p == port => {}
                _ => return Err("not in the allowed list".into()),
            }
        }
        Ok(())
    }
}

/// The scheme and `host[:port]` of an origin URL; Go's error otherwise.
fn parse_origin(origin: &str) -> Result<(&str, &str), String> {
    let invalid = || format!("parse {origin:?}: invalid URI for request");
    if origin.starts_with('/') {
        return Ok(("", ""));
    }
    let Some(colon) = origin.find(':') else {
        return Err(invalid());
    };
    let scheme = &origin[..colon];
    let valid_scheme = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme {
        return Err(if scheme.is_empty() {
            format!("parse {origin:?}: missing protocol scheme")
        } else {
            invalid()
        });
    }
    let rest = &origin[colon + 1..];
    let Some(authority) = rest.strip_prefix("//") else {
        return Ok((scheme, ""));
    };
    let end = authority.find(['/', '?', '#']).unwrap_or(authority.len());
    Ok((scheme, &authority[..end]))
}

/// The scheme, lower-case host and port of an origin URL; Go's error
/// otherwise.
fn origin_parts(origin: &str) -> Result<(&str, String, String), String> {
    let (scheme, hostport) = parse_origin(origin)?;
    let (host, port) = host_and_port(scheme == "https", hostport)?;
    Ok((scheme, host, port))
}

/// Lower-case host and port, the port defaulting to 443 or 80 when
/// missing (the host then kept whole, as Go keeps it); Go's
/// `net.SplitHostPort` error otherwise.
fn host_and_port(tls: bool, hostport: &str) -> Result<(String, String), String> {
    match split_host_port(hostport) {
        Ok((host, port)) => Ok((host.to_lowercase(), port.to_string())),
        Err(e) if e.why == MISSING_PORT => {
            let default = if tls { "443" } else { "80" };
            Ok((hostport.to_lowercase(), default.to_string()))
        }
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPGRADE: &str = "GET / HTTP/1.1\r\nHost: localhost:8080\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

    fn request(extra: &str) -> Request {
        let text = match extra {
            "" => format!("{UPGRADE}\r\n"),
            _ => format!("{UPGRADE}{extra}\r\n\r\n"),
        };
        parse_request(text.as_bytes()).unwrap().unwrap().0
    }

    fn policy(origins: &Origins, compression: bool) -> Policy<'_> {
        Policy {
            compression,
            origins,
            tls: false,
        }
    }

    #[test]
    fn the_rfc_example_key_is_accepted() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn incomplete_and_unreadable_heads() {
        assert_eq!(parse_request(b"GET / HTTP/1.1\r\nHost: x\r\n"), Ok(None));
        assert_eq!(
            parse_request(b"garbage\r\n\r\n").unwrap_err(),
            Unreadable("400 Bad Request")
        );
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\n\r\n").unwrap_err().0,
            "400 Bad Request: missing required Host header"
        );
        let many = format!(
            "GET / HTTP/1.1\r\nHost: x\r\n{}\r\n",
            "A: b\r\n".repeat(100)
        );
        let (req, _) = parse_request(many.as_bytes()).unwrap().unwrap();
        assert_eq!(req.values("a").count(), 100);
    }

    #[test]
    fn refusals_in_go_order() {
        let none = Origins::default();
        let p = policy(&none, false);
        let text = UPGRADE.replace("GET", "POST") + "\r\n";
        let (post, _) = parse_request(text.as_bytes()).unwrap().unwrap();
        assert_eq!(check(&post, &p).unwrap_err().status, 405);
        for (from, to, why) in [
            (
                "Upgrade: websocket",
                "Upgrade: h2c",
                "invalid value for header 'Upgrade'",
            ),
            (
                "keep-alive, Upgrade",
                "keep-alive",
                "invalid value for header 'Connection'",
            ),
            (
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "X: y",
                "key missing",
            ),
            ("Version: 13", "Version: 12", "invalid version"),
        ] {
            let text = UPGRADE.replace(from, to) + "\r\n";
            let (req, _) = parse_request(text.as_bytes()).unwrap().unwrap();
            assert_eq!(check(&req, &p).unwrap_err(), Refusal::new(400, why));
        }
    }

    #[test]
    fn origins_same_and_allowed() {
        let (same, errs) = Origins::new(true, &[]);
        assert!(errs.is_empty());
        let p = policy(&same, false);
        assert!(check(&request(""), &p).is_ok(), "no Origin is accepted");
        assert!(check(&request("Origin: http://localhost:8080"), &p).is_ok());
        let r = check(&request("Origin: http://other:8080"), &p).unwrap_err();
        assert_eq!(
            (r.status, r.reason.as_str()),
            (403, "origin not allowed: not same origin")
        );
        let (allowed, errs) = Origins::new(false, &["https://nats.io".into(), "bad".into()]);
        assert_eq!(
            errs,
            ["error parsing allowed origin: parse \"bad\": invalid URI for request"]
        );
        let p = policy(&allowed, false);
        assert!(check(&request("Origin: https://NATS.io:443"), &p).is_ok());
        let r = check(&request("Origin: http://nats.io"), &p).unwrap_err();
        assert_eq!(r.reason, "origin not allowed: not in the allowed list");
    }

    #[test]
    fn extensions_masking_browsers_and_forwarded_addresses() {
        let none = Origins::default();
        let up = check(
            &request("Sec-WebSocket-Extensions: x; permessage-deflate\r\nNats-No-Masking: true\r\nUser-Agent: Mozilla/5.0 Version/16 Safari/605\r\nX-Forwarded-For: 1.2.3.4"),
            &policy(&none, true),
        )
        .unwrap();
        assert!(up.rules.compress && up.rules.browser && up.rules.no_compressed_fragments);
        assert!(up.no_masking);
        assert_eq!(up.forwarded_for.as_deref(), Some("1.2.3.4"));
        let text = String::from_utf8(accept_response(&up)).unwrap();
        assert_eq!(text, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\nNats-No-Masking: true\r\n\r\n");
        let up = check(
            &request(
                "Sec-WebSocket-Extensions: permessage-deflate\r\nX-Forwarded-For: 1.2.3.4, 5.6.7.8",
            ),
            &policy(&none, false),
        )
        .unwrap();
        assert!(!up.rules.compress, "compression is off in the config");
        assert_eq!(up.forwarded_for, None);
    }

    #[test]
    fn refusal_bytes_are_go_http_error() {
        let r = Refusal::new(405, "request method must be GET");
        assert_eq!(
            String::from_utf8(r.response(1, "Thu, 03 Dec 2026 19:19:12 GMT")).unwrap(),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\nDate: Thu, 03 Dec 2026 19:19:12 GMT\r\nContent-Length: 19\r\n\r\nMethod Not Allowed\n"
        );
    }
}
