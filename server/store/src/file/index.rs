//! A block's side files, in Go 2.9.10's layout.
//!
//! `N.idx`, the block's accounting (the source of truth for its deletes):
//! magic(22) version(1), then as varints messages, bytes, first sequence,
//! first time (signed), last sequence, last time (signed), the number of
//! interior deletes; the block's last checksum (8 bytes, which ties the
//! index to the block file's tail); then each interior delete as a varint
//! offset from the first sequence.
//!
//! `N.fss`, the block's per-subject state: magic version, a varint count,
//! then per subject its length, the subject, messages, first and last; then
//! the block's hash of all that, and the block's last checksum.

use super::checksum::Hasher;
use super::record::CHECKSUM_SIZE;
use crate::SimpleState;

const MAGIC: u8 = 22;
const VERSION: u8 = 1;
/// The no-message bit Go clears from every sequence it reads back.
const EBIT: u64 = 1 << 63;

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Reads varints from a buffer; `None` once the buffer is short or a
/// varint overflows.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn uvarint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.at)?;
            self.at += 1;
            if shift == 63 && b > 1 {
                return None;
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    fn varint(&mut self) -> Option<i64> {
        let u = self.uvarint()?;
        Some((u >> 1) as i64 ^ -((u & 1) as i64))
    }

    fn bytes(&mut self, n: usize) -> Option<&[u8]> {
        let b = self.buf.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(b)
    }
}

fn has_header(buf: &[u8]) -> bool {
    buf.len() >= 2 && buf[0] == MAGIC && buf[1] == VERSION
}

/// A block's accounting, as its .idx file holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct IndexInfo {
    pub msgs: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub first_ts: i64,
    pub last_seq: u64,
    pub last_ts: i64,
    /// The checksum of the block's last record.
    pub lchk: [u8; 8],
    /// The interior deletes, each above `first_seq`.
    pub dmap: Vec<u64>,
}

/// What an .idx file held.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum IndexRead {
    /// All of it, with counts that add up.
    Whole(IndexInfo),
    /// A header whose counts do not add up: only the first sequence is
    /// worth keeping (Go keeps it to rebuild the block from).
    Inconsistent { first_seq: u64 },
}

pub(crate) fn encode_index(info: &IndexInfo) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + info.dmap.len() * 2);
    out.extend_from_slice(&[MAGIC, VERSION]);
    put_uvarint(&mut out, info.msgs);
    put_uvarint(&mut out, info.bytes);
    put_uvarint(&mut out, info.first_seq);
    put_varint(&mut out, info.first_ts);
    put_uvarint(&mut out, info.last_seq);
    put_varint(&mut out, info.last_ts);
    put_uvarint(&mut out, info.dmap.len() as u64);
    out.extend_from_slice(&info.lchk);
    for seq in &info.dmap {
        put_uvarint(&mut out, seq - info.first_seq);
    }
    out
}

/// Reads an .idx file; an error says why it is of no use.
pub(crate) fn decode_index(buf: &[u8]) -> Result<IndexRead, &'static str> {
    if !has_header(buf) {
        return Err("bad index file");
    }
    let mut r = Reader { buf, at: 2 };
    let short = "short index file";
    let msgs = r.uvarint().ok_or(short)? & !EBIT;
    let bytes = r.uvarint().ok_or(short)? & !EBIT;
    let first_seq = r.uvarint().ok_or(short)? & !EBIT;
    let first_ts = r.varint().ok_or(short)?;
    let last_seq = r.uvarint().ok_or(short)? & !EBIT;
    let last_ts = r.varint().ok_or(short)?;
    let ndel = r.uvarint().ok_or(short)? & !EBIT;
    let lchk = r.bytes(CHECKSUM_SIZE).ok_or(short)?;
    let span = last_seq.wrapping_sub(first_seq).wrapping_add(1);
    if msgs != span.wrapping_sub(ndel) {
        return Ok(IndexRead::Inconsistent { first_seq });
    }
    let mut info = IndexInfo {
        msgs,
        bytes,
        first_seq,
        first_ts,
        last_seq,
        last_ts,
        lchk: lchk.try_into().unwrap_or_default(),
        dmap: Vec::with_capacity(ndel.min(1 << 16) as usize),
    };
    for _ in 0..ndel {
        match r.uvarint().map(|d| d & !EBIT) {
            Some(d) if d > 0 => info.dmap.push(first_seq.wrapping_add(d)),
            _ => break,
        }
    }
    Ok(IndexRead::Whole(info))
}

pub(crate) fn encode_fss<'a>(
    fss: impl ExactSizeIterator<Item = (&'a String, &'a SimpleState)>,
    hasher: &Hasher,
    lchk: &[u8; 8],
) -> Vec<u8> {
    let mut out = vec![MAGIC, VERSION];
    put_uvarint(&mut out, fss.len() as u64);
    for (subject, ss) in fss {
        put_uvarint(&mut out, subject.len() as u64);
        out.extend_from_slice(subject.as_bytes());
        put_uvarint(&mut out, ss.msgs);
        put_uvarint(&mut out, ss.first);
        put_uvarint(&mut out, ss.last);
    }
    let sum = hasher.sum(&[&out]);
    out.extend_from_slice(&sum);
    out.extend_from_slice(lchk);
    out
}

/// Reads an .fss file; `None` when it is short, corrupt, or older than
/// the block (its last checksum is not `lchk`).
pub(crate) fn decode_fss(
    buf: &[u8],
    hasher: &Hasher,
    lchk: &[u8; 8],
) -> Option<Vec<(String, SimpleState)>> {
    const MIN_SIZE: usize = 24;
    if buf.len() < MIN_SIZE || !has_header(buf) {
        return None;
    }
    let (body, tail) = buf.split_at(buf.len() - 2 * CHECKSUM_SIZE);
    if hasher.sum(&[body]) != tail[..CHECKSUM_SIZE] || tail[CHECKSUM_SIZE..] != lchk[..] {
        return None;
    }
    let mut r = Reader { buf: body, at: 2 };
    let n = r.uvarint()?;
    let mut out = Vec::with_capacity(n.min(1 << 16) as usize);
    for _ in 0..n {
        let len = usize::try_from(r.uvarint()?).ok()?;
        let subject = String::from_utf8(r.bytes(len)?.to_vec()).ok()?;
        let ss = SimpleState {
            msgs: r.uvarint()?,
            first: r.uvarint()?,
            last: r.uvarint()?,
        };
        out.push((subject, ss));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_go() {
        let mut b = Vec::new();
        put_uvarint(&mut b, 542);
        assert_eq!(b, [0x9e, 0x04]);
        b.clear();
        put_varint(&mut b, -1);
        put_varint(&mut b, 1);
        assert_eq!(b, [0x01, 0x02]);
        let mut r = Reader {
            buf: &[0x9e, 0x04, 0x01],
            at: 0,
        };
        assert_eq!(
            (r.uvarint(), r.varint(), r.uvarint()),
            (Some(542), Some(-1), None)
        );
        let mut over = Reader {
            buf: &[0xff; 11],
            at: 0,
        };
        assert_eq!(over.uvarint(), None);
    }

    #[test]
    fn index_round_trip_and_checks() {
        let info = IndexInfo {
            msgs: 9,
            bytes: 542,
            first_seq: 2,
            first_ts: 1_700_000_000_000_000_000,
            last_seq: 12,
            last_ts: -5,
            lchk: [1, 2, 3, 4, 5, 6, 7, 8],
            dmap: vec![4, 6],
        };
        let buf = encode_index(&info);
        assert_eq!(decode_index(&buf), Ok(IndexRead::Whole(info.clone())));
        assert_eq!(decode_index(&buf[..10]), Err("short index file"));
        assert_eq!(decode_index(b"xx"), Err("bad index file"));
        let off = IndexInfo {
            msgs: 3,
            ..info.clone()
        };
        assert_eq!(
            decode_index(&encode_index(&off)),
            Ok(IndexRead::Inconsistent { first_seq: 2 })
        );
    }

    /// Go's .idx re-encodes to the same bytes; its .fss reads back.
    #[test]
    fn go_files() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/go/ORDERS/msgs/");
        let idx = std::fs::read(format!("{dir}1.idx")).unwrap();
        let Ok(IndexRead::Whole(info)) = decode_index(&idx) else {
            panic!("Go's index is whole");
        };
        assert_eq!((info.msgs, info.first_seq, info.last_seq), (9, 2, 12));
        assert_eq!(info.dmap, vec![4, 6]);
        assert_eq!(encode_index(&info), idx);
        let fss = std::fs::read(format!("{dir}1.fss")).unwrap();
        let h = Hasher::for_block("ORDERS", 1);
        let mut got = decode_fss(&fss, &h, &info.lchk).unwrap();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let names: Vec<(&str, u64)> = got.iter().map(|(s, ss)| (s.as_str(), ss.msgs)).collect();
        assert_eq!(names, [("orders.a", 3), ("orders.b", 2), ("orders.c", 4)]);
    }

    #[test]
    fn fss_round_trip_and_checks() {
        let h = Hasher::for_block("S", 1);
        let mut fss = foldhash::HashMap::default();
        let ss = SimpleState {
            msgs: 2,
            first: 3,
            last: 9,
        };
        fss.insert("foo.bar".to_string(), ss);
        let lchk = [9u8; 8];
        let buf = encode_fss(fss.iter(), &h, &lchk);
        assert_eq!(
            decode_fss(&buf, &h, &lchk),
            Some(vec![("foo.bar".to_string(), ss)])
        );
        assert_eq!(decode_fss(&buf, &h, &[0u8; 8]), None);
        let mut flipped = buf.clone();
        flipped[5] ^= 1;
        assert_eq!(decode_fss(&flipped, &h, &lchk), None);
    }
}
