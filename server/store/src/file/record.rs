//! One message record in a block file, in Go 2.9.10's layout, all integers
//! little-endian:
//!
//! ```text
//! length(4) seq(8) ts(8) subject_len(2) subject [hdr_len(4) hdr] msg checksum(8)
//! ```
//!
//! `length` counts the whole record; its high bit says the record carries
//! headers (and so `hdr_len` and `hdr`). The high bit of `seq` marks a
//! record that holds no message: an erased one, or a skipped sequence. The
//! checksum is the block's HighwayHash-64 over seq and ts, the subject, the
//! headers (without their length) and the payload.

use super::checksum::Hasher;
use crate::file_msg_size;

/// Length, sequence, time and subject length.
pub(crate) const MSG_HDR_SIZE: usize = 22;
pub(crate) const CHECKSUM_SIZE: usize = 8;
/// The record of a skipped sequence: a header and a checksum.
pub(crate) const EMPTY_RECORD_LEN: usize = MSG_HDR_SIZE + CHECKSUM_SIZE;
/// On the length: the record carries headers.
const HBIT: u32 = 1 << 31;
/// On the sequence: the record holds no message.
const EBIT: u64 = 1 << 63;
/// Longer records are taken for corruption, as Go does.
const RL_BAD_THRESH: usize = 32 * 1024 * 1024;

/// Why the bytes at an offset are not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordError {
    /// The buffer ends inside the record: a torn write.
    Torn,
    /// The lengths do not add up.
    Corrupt,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RecordError::Torn => "torn record",
            RecordError::Corrupt => "malformed or corrupt message",
        })
    }
}

/// A record parsed in place.
#[derive(Debug)]
pub(crate) struct Record<'a> {
    /// The record's length on disk.
    pub len: usize,
    /// The sequence, without the no-message bit.
    pub seq: u64,
    /// The record holds no message (erased, skipped, or sequence 0).
    pub deleted: bool,
    pub ts: i64,
    pub subject: &'a [u8],
    pub hdr: &'a [u8],
    pub msg: &'a [u8],
    /// Sequence and time, as hashed.
    seq_ts: &'a [u8],
    /// Headers and payload, contiguous, as hashed.
    hdr_msg: &'a [u8],
    checksum: &'a [u8],
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

impl<'a> Record<'a> {
    /// Parses the record at the start of `buf`.
    pub(crate) fn parse(buf: &'a [u8]) -> Result<Record<'a>, RecordError> {
        if buf.len() < MSG_HDR_SIZE {
            return Err(RecordError::Torn);
        }
        let raw_len = u32_at(buf, 0);
        let has_hdr = raw_len & HBIT != 0;
        let len = (raw_len & !HBIT) as usize;
        let slen = u16_at(buf, 20) as usize;
        if !(EMPTY_RECORD_LEN..=RL_BAD_THRESH).contains(&len) || slen > len - EMPTY_RECORD_LEN {
            return Err(RecordError::Corrupt);
        }
        if len > buf.len() {
            return Err(RecordError::Torn);
        }
        let raw_seq = u64_at(buf, 4);
        let body = &buf[MSG_HDR_SIZE..len - CHECKSUM_SIZE];
        let (subject, rest) = body.split_at(slen);
        let (hdr, msg, hdr_msg) = if has_hdr {
            if rest.len() < 4 {
                return Err(RecordError::Corrupt);
            }
            let hlen = u32_at(rest, 0) as usize;
            let hdr_msg = &rest[4..];
            if hlen > hdr_msg.len() {
                return Err(RecordError::Corrupt);
            }
            let (hdr, msg) = hdr_msg.split_at(hlen);
            (hdr, msg, hdr_msg)
        } else {
            (&rest[..0], rest, rest)
        };
        Ok(Record {
            len,
            seq: raw_seq & !EBIT,
            deleted: raw_seq & EBIT != 0 || raw_seq == 0,
            ts: u64_at(buf, 12) as i64,
            subject,
            hdr,
            msg,
            seq_ts: &buf[4..20],
            hdr_msg,
            checksum: &buf[len - CHECKSUM_SIZE..len],
        })
    }

    /// Whether the record's checksum is the one `hasher` computes.
    pub(crate) fn verify(&self, hasher: &Hasher) -> bool {
        hasher.sum(&[self.seq_ts, self.subject, self.hdr_msg]) == self.checksum
    }

    /// The subject as text (lossy: a corrupt subject must not panic).
    pub(crate) fn subject_str(&self) -> std::borrow::Cow<'a, str> {
        String::from_utf8_lossy(self.subject)
    }

    /// The message's size as the file store counts it.
    pub(crate) fn size(&self) -> u64 {
        self.len as u64
    }
}

fn head(len: u32, seq: u64, ts: i64, slen: u16) -> [u8; MSG_HDR_SIZE] {
    let mut h = [0u8; MSG_HDR_SIZE];
    h[0..4].copy_from_slice(&len.to_le_bytes());
    h[4..12].copy_from_slice(&seq.to_le_bytes());
    h[12..20].copy_from_slice(&ts.to_le_bytes());
    h[20..22].copy_from_slice(&slen.to_le_bytes());
    h
}

/// Whether a message fits a record: its length must leave the headers bit
/// free, and its subject length must fit 16 bits.
pub(crate) fn fits(subject: &str, hdr: &[u8], msg: &[u8]) -> bool {
    file_msg_size(subject, hdr, msg) < u64::from(HBIT) && subject.len() <= usize::from(u16::MAX)
}

/// Appends a message's record to `out`; returns its checksum. The message
/// must [`fits`].
pub(crate) fn encode(
    out: &mut Vec<u8>,
    hasher: &Hasher,
    seq: u64,
    ts: i64,
    subject: &str,
    hdr: &[u8],
    msg: &[u8],
) -> [u8; 8] {
    let len = file_msg_size(subject, hdr, msg) as u32;
    let flag = if hdr.is_empty() { 0 } else { HBIT };
    let h = head(len | flag, seq, ts, subject.len() as u16);
    let sum = hasher.sum(&[&h[4..20], subject.as_bytes(), hdr, msg]);
    out.reserve(len as usize);
    out.extend_from_slice(&h);
    out.extend_from_slice(subject.as_bytes());
    if !hdr.is_empty() {
        out.extend_from_slice(&(hdr.len() as u32).to_le_bytes());
        out.extend_from_slice(hdr);
    }
    out.extend_from_slice(msg);
    out.extend_from_slice(&sum);
    sum
}

/// Appends a record that holds no message for `seq`: `filler` stands where
/// the message was (empty for a skipped sequence, random bytes for an
/// erased message, which keeps its length). Returns its checksum.
pub(crate) fn encode_deleted(
    out: &mut Vec<u8>,
    hasher: &Hasher,
    seq: u64,
    ts: i64,
    filler: &[u8],
) -> [u8; 8] {
    let len = (EMPTY_RECORD_LEN + filler.len()) as u32;
    let h = head(len, seq | EBIT, ts, 0);
    let sum = hasher.sum(&[&h[4..20], filler]);
    out.extend_from_slice(&h);
    out.extend_from_slice(filler);
    out.extend_from_slice(&sum);
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_and_without_headers() {
        let h = Hasher::for_block("S", 1);
        let mut buf = Vec::new();
        encode(&mut buf, &h, 7, 42, "foo.bar", b"", b"hello");
        encode(&mut buf, &h, 8, 43, "foo", b"NATS/1.0\r\n\r\n", b"x");
        let r = Record::parse(&buf).unwrap();
        assert_eq!(r.len as u64, file_msg_size("foo.bar", b"", b"hello"));
        assert_eq!((r.seq, r.ts, r.deleted), (7, 42, false));
        assert_eq!(
            (r.subject, r.hdr, r.msg),
            (&b"foo.bar"[..], &b""[..], &b"hello"[..])
        );
        assert!(r.verify(&h));
        assert!(!r.verify(&Hasher::for_block("S", 2)));
        let r2 = Record::parse(&buf[r.len..]).unwrap();
        assert_eq!(
            r2.len as u64,
            file_msg_size("foo", b"NATS/1.0\r\n\r\n", b"x")
        );
        assert_eq!((r2.hdr, r2.msg), (&b"NATS/1.0\r\n\r\n"[..], &b"x"[..]));
        assert!(r2.verify(&h));
        // The headers bit is on the length.
        assert_eq!(buf[r.len + 3] & 0x80, 0x80);
    }

    /// Go's own records re-encode to the same bytes, checksum included.
    #[test]
    fn go_records_byte_for_byte() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/go/ORDERS/msgs/1.blk"
        );
        let buf = std::fs::read(dir).unwrap();
        let h = Hasher::for_block("ORDERS", 1);
        let (mut at, mut messages) = (0, 0);
        while at < buf.len() {
            let r = Record::parse(&buf[at..]).unwrap();
            assert!(r.verify(&h), "record at {at}");
            if !r.deleted {
                let mut out = Vec::new();
                let subject = std::str::from_utf8(r.subject).unwrap();
                encode(&mut out, &h, r.seq, r.ts, subject, r.hdr, r.msg);
                assert_eq!(out, &buf[at..at + r.len], "record at {at}");
                messages += 1;
            }
            at += r.len;
        }
        // Twelve records, one of them erased.
        assert_eq!(messages, 11);
    }

    #[test]
    fn deleted_records_and_bad_input() {
        let h = Hasher::for_block("S", 1);
        let mut buf = Vec::new();
        encode_deleted(&mut buf, &h, 9, 5, b"");
        assert_eq!(buf.len(), EMPTY_RECORD_LEN);
        let r = Record::parse(&buf).unwrap();
        assert_eq!((r.seq, r.deleted, r.ts), (9, true, 5));
        assert!(r.verify(&h));
        assert_eq!(Record::parse(&buf[..10]).unwrap_err(), RecordError::Torn);
        assert_eq!(Record::parse(&buf[..25]).unwrap_err(), RecordError::Torn);
        let mut bad = buf.clone();
        bad[0] = 3;
        assert_eq!(Record::parse(&bad).unwrap_err(), RecordError::Corrupt);
        let mut flipped = buf.clone();
        flipped[15] ^= 1;
        assert!(!Record::parse(&flipped).unwrap().verify(&h));
        // A headers length past the record.
        let mut hb = Vec::new();
        encode(&mut hb, &h, 1, 1, "a", b"hh", b"m");
        hb[23] = 200;
        assert_eq!(Record::parse(&hb).unwrap_err(), RecordError::Corrupt);
    }
}
