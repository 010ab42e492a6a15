//! The `Nats-Request-Info` header a request carries across a service
//! import: who asked (Go's ClientInfo), in full when the import shares
//! the requestor's details, else its account and round trip only.

use crate::core::connection::{Connection, Kind};
use serde::{Deserialize, Serialize};

pub const HEADER: &str = "Nats-Request-Info";

/// Go's ClientInfo as the header holds it.
#[derive(Serialize, Deserialize, Default)]
pub struct RequestInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub id: u64,
    #[serde(default)]
    pub acc: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub svc: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub lang: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ver: String,
    /// Nanoseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rtt: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub server: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_type: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl RequestInfo {
    /// What Go tells about `c` (None for the server's own connections);
    /// `detailed` when the import shares it.
    pub fn of(c: &Connection, detailed: bool) -> Option<RequestInfo> {
        if c.kind != Kind::Client {
            return None;
        }
        let mut ci = RequestInfo {
            acc: c.account.lock().name.clone(),
            rtt: c.rtt().as_nanos() as u64,
            ..Default::default()
        };
        if detailed {
            ci.add_server(c);
            let meta = c.meta.lock();
            ci.start = Some(natsd_proto::gojson::rfc3339(c.start_wall));
            ci.host = c.host.clone();
            ci.id = c.cid;
            ci.name = meta.name.clone();
            ci.user = meta.username.clone();
            ci.lang = meta.lang.clone();
            ci.ver = meta.version.clone();
            ci.kind = c.kind.go_name().to_string();
            ci.client_type = "nats".into();
        }
        Some(ci)
    }

    /// Adds the server's name and cluster (Go's addServerAndClusterInfo).
    pub fn add_server(&mut self, c: &Connection) {
        if let Some(owner) = c.owner() {
            (self.server, self.cluster) = owner.origin();
        }
    }
}

/// `hdr_and_body` (with `hdr` header bytes, -1 for none) with the header
/// `key: value` set in place of any earlier one; returns the new message
/// and its header length (Go's setHeader).
pub fn set_header(hdr: i64, hdr_and_body: &[u8], key: &str, value: &str) -> (Vec<u8>, i64) {
    let mut out = Vec::with_capacity(hdr_and_body.len() + key.len() + value.len() + 16);
    let body_at = if hdr > 2 {
        let head = &hdr_and_body[..hdr as usize - 2];
        let kept = remove_header(head, key);
        if kept.is_empty() {
            out.extend_from_slice(b"NATS/1.0\r\n");
        } else {
            out.extend_from_slice(&kept);
        }
        hdr as usize
    } else {
        out.extend_from_slice(b"NATS/1.0\r\n");
        hdr.max(0) as usize
    };
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    let new_hdr = out.len() as i64;
    out.extend_from_slice(&hdr_and_body[body_at..]);
    (out, new_hdr)
}

/// The header block without the line of `key` (Go's
/// removeHeaderIfPresent); empty when nothing but the status line is left.
fn remove_header(head: &[u8], key: &str) -> Vec<u8> {
    let Some(start) = memchr::memmem::find(head, key.as_bytes()) else {
        return head.to_vec();
    };
    let after = start + key.len();
    if start < 1 || head[start - 1] != b'\n' || head.get(after) != Some(&b':') {
        return head.to_vec();
    }
    let Some(end) = memchr::memmem::find(&head[start..], b"\r\n") else {
        return head.to_vec();
    };
    let mut kept = head[..start].to_vec();
    kept.extend_from_slice(&head[start + end + 2..]);
    if kept.len() <= b"NATS/1.0\r\n".len() {
        return Vec::new();
    }
    kept
}

/// The value of header `key` in a header block, if any (Go's getHeader).
pub fn get_header<'a>(head: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let start = memchr::memmem::find(head, key.as_bytes())?;
    if start < 2 || head[start - 1] != b'\n' || head[start - 2] != b'\r' {
        return None;
    }
    let mut i = start + key.len();
    if head.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    while head.get(i) == Some(&b' ') {
        i += 1;
    }
    let end = memchr::memmem::find(&head[i..], b"\r\n").map_or(head.len(), |e| i + e);
    Some(&head[i..end])
}
