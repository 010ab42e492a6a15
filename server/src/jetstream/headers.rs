//! The message headers JetStream reads and writes, with Go's lookup
//! rules (the first occurrence of the key's text decides).

pub use crate::core::imports::info::get_header;
use std::borrow::Cow;

pub const MSG_ID: &str = "Nats-Msg-Id";
pub const EXPECTED_STREAM: &str = "Nats-Expected-Stream";
pub const EXPECTED_LAST_SEQ: &str = "Nats-Expected-Last-Sequence";
pub const EXPECTED_LAST_SUBJ_SEQ: &str = "Nats-Expected-Last-Subject-Sequence";
pub const EXPECTED_LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";
pub const ROLLUP: &str = "Nats-Rollup";
pub const STREAM: &str = "Nats-Stream";
pub const SUBJECT: &str = "Nats-Subject";
pub const SEQUENCE: &str = "Nats-Sequence";
pub const LAST_SEQUENCE: &str = "Nats-Last-Sequence";
pub const TIME_STAMP: &str = "Nats-Time-Stamp";
pub const MSG_SIZE: &str = "Nats-Msg-Size";
/// The start of every header block.
pub const HEADER_LINE: &str = "NATS/1.0\r\n";

/// A header's value as text, None when absent or empty (Go's check).
pub fn value<'a>(hdr: &'a [u8], key: &str) -> Option<&'a str> {
    get_header(hdr, key)
        .filter(|v| !v.is_empty())
        .and_then(|v| std::str::from_utf8(v).ok())
}

/// A sequence header: Go parses digits only, and anything else reads as
/// -1, that is the largest sequence.
pub fn sequence(hdr: &[u8], key: &str) -> Option<u64> {
    let v = get_header(hdr, key).filter(|v| !v.is_empty())?;
    if v.iter().all(u8::is_ascii_digit) && v.len() <= 19 {
        Some(std::str::from_utf8(v).ok()?.parse().unwrap_or(u64::MAX))
    } else {
        Some(u64::MAX)
    }
}

/// `hdr` without `key`'s line (borrowed when it has none); None when
/// nothing but the version line is left.
pub fn remove<'a>(hdr: &'a [u8], key: &str) -> Option<Cow<'a, [u8]>> {
    let Some(start) = memchr::memmem::find(hdr, key.as_bytes()) else {
        return Some(Cow::Borrowed(hdr));
    };
    let keeps = start < 1 || hdr[start - 1] != b'\n' || hdr.get(start + key.len()) != Some(&b':');
    if keeps {
        return Some(Cow::Borrowed(hdr));
    }
    let Some(end) = memchr::memmem::find(&hdr[start..], b"\r\n") else {
        return Some(Cow::Borrowed(hdr));
    };
    let mut out = Vec::with_capacity(hdr.len());
    out.extend_from_slice(&hdr[..start]);
    out.extend_from_slice(&hdr[start + end + 2..]);
    (out.len() > HEADER_LINE.len() + 2).then_some(Cow::Owned(out))
}

/// `hdr` (a complete block, or empty) with `key: value` added at its end.
pub fn add(hdr: &[u8], key: &str, value: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(hdr.len() + key.len() + value.len() + 16);
    if hdr.len() > 2 {
        out.extend_from_slice(&hdr[..hdr.len() - 2]);
    } else {
        out.extend_from_slice(HEADER_LINE.as_bytes());
    }
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out
}

/// A header block of the given lines.
pub fn block(lines: &[(&str, &str)]) -> Vec<u8> {
    let mut out = HEADER_LINE.as_bytes().to_vec();
    for (k, v) in lines {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// A status-only header block: `NATS/1.0 404 Message Not Found`.
pub fn status(code: u16, text: &str) -> Vec<u8> {
    format!("NATS/1.0 {code} {text}\r\n\r\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_added_and_removed_as_go_does() {
        let h = b"NATS/1.0\r\nNats-Msg-Id: 22\r\nFoo: bar\r\n\r\n";
        assert_eq!(value(h, MSG_ID), Some("22"));
        assert_eq!(sequence(h, MSG_ID), Some(22));
        assert_eq!(
            sequence(b"NATS/1.0\r\nNats-Msg-Id: x\r\n\r\n", MSG_ID),
            Some(u64::MAX)
        );
        assert_eq!(
            remove(h, MSG_ID).unwrap().as_ref(),
            b"NATS/1.0\r\nFoo: bar\r\n\r\n"
        );
        assert!(matches!(remove(h, "Other"), Some(Cow::Borrowed(_))));
        assert_eq!(remove(b"NATS/1.0\r\nNats-Msg-Id: 1\r\n\r\n", MSG_ID), None);
        assert_eq!(
            add(b"", STREAM, "S"),
            b"NATS/1.0\r\nNats-Stream: S\r\n\r\n".to_vec()
        );
        assert_eq!(
            add(b"NATS/1.0\r\nA: b\r\n\r\n", STREAM, "S"),
            b"NATS/1.0\r\nA: b\r\nNats-Stream: S\r\n\r\n".to_vec()
        );
    }
}
