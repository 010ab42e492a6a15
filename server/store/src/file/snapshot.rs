//! A file stream's snapshot in Go 2.9.10's format: a tar archive (Go's
//! PAX flavour: mode 0600, owner `nats:nats`, one modification time with
//! nanoseconds for every file) of `meta.inf`, `meta.sum`, then each
//! message block's `msgs/N.idx`, `msgs/N.fss` (when there is one) and
//! `msgs/N.blk` in block order, then for each file consumer
//! `obs/<name>/meta.inf`, `meta.sum` and `o.dat`; the archive is written
//! in S2's stream format (1 MiB blocks), and handed out in chunks cut at
//! the S2 frames as Go's writer produces them.
//!
//! Restoring reads the same archive back (from Go or from natsd) into a
//! staging folder with Go's checks: only regular files, each inside the
//! folder once its name is cleaned.

use super::checksum::Hasher;
use super::crypt::{open_meta, read_block_keys, CryptError, Encryption, MetaKeys};
use super::index::{decode_index, IndexRead};
use super::meta::{meta_sum, META_FILE, META_SUM_FILE};
use super::record::{EMPTY_RECORD_LEN, MSG_HDR_SIZE};
use super::{CONSUMERS_DIR, MSGS_DIR};
use crate::StoreError;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Where a consumer's state is kept in its folder.
pub const CONSUMER_STATE_FILE: &str = "o.dat";

/// One file of a snapshot: its name in the archive and its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapFile {
    pub name: String,
    pub data: Vec<u8>,
}

impl SnapFile {
    pub fn new(name: impl Into<String>, data: Vec<u8>) -> Self {
        SnapFile {
            name: name.into(),
            data,
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, StoreError> {
    fs::read(path).map_err(|e| StoreError::Io(format!("open {}: {e}", path.display())))
}

/// The block indexes of a stream folder's `msgs/`, in order.
fn block_indexes(mdir: &Path) -> Vec<u32> {
    let mut indexes: Vec<u32> = fs::read_dir(mdir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.strip_suffix(".blk")?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    indexes.sort_unstable();
    indexes
}

fn crypt_err(what: &str, e: CryptError) -> StoreError {
    StoreError::Io(format!("{what}: {e}"))
}

/// Block `index`'s .idx (when there is one) and .blk in clear: opened
/// and decrypted with its keys when the store is encrypted.
fn plain_block(
    mdir: &Path,
    stream: &str,
    index: u32,
    enc: Option<&Encryption>,
) -> Result<(Option<Vec<u8>>, Vec<u8>), StoreError> {
    let keys = read_block_keys(enc, mdir, stream, index)
        .map_err(|e| crypt_err(&format!("message block [{index}] keys"), e))?;
    let idx_path = mdir.join(format!("{index}.idx"));
    let mut idx = if idx_path.exists() {
        Some(read(&idx_path)?)
    } else {
        None
    };
    let mut blk = read(&mdir.join(format!("{index}.blk")))?;
    if let Some(k) = &keys {
        if let Some(sealed) = idx.as_deref().filter(|b| !b.is_empty()) {
            let what = format!("Could not decrypt message block [{index}] index file");
            idx = Some(
                k.aek
                    .open(&k.nonce, sealed)
                    .map_err(|e| crypt_err(&what, e))?,
            );
        }
        k.block_cipher().apply(&mut blk, 0);
    }
    Ok((idx, blk))
}

/// The stream's own files in a flushed file store's folder `dir`, in the
/// order Go archives them: meta.inf, meta.sum, then per block its .idx,
/// its .fss (when present) and its .blk. The caller holds the store still
/// (no write between [`crate::StreamStore::flush`] and this). An encrypted
/// stream (`enc`, its server's keys) is archived in clear as Go does: its
/// meta.inf opened (and summed anew), its blocks decrypted; a restore
/// into a server with a key encrypts them again.
pub fn stream_files(
    dir: &Path,
    stream: &str,
    enc: Option<&Encryption>,
) -> Result<Vec<SnapFile>, StoreError> {
    let meta = read(&dir.join(META_FILE))?;
    let (meta, sealed_with) = open_meta(enc, dir, stream, meta)
        .map_err(|e| crypt_err("Could not gather stream meta file", e))?;
    let sum = match sealed_with {
        Some(_) => meta_sum(stream, &meta).into_bytes(),
        None => read(&dir.join(META_SUM_FILE))?,
    };
    let mut files = vec![
        SnapFile::new(META_FILE, meta),
        SnapFile::new(META_SUM_FILE, sum),
    ];
    let mdir = dir.join(MSGS_DIR);
    for index in block_indexes(&mdir) {
        let (idx, blk) = plain_block(&mdir, stream, index, enc)?;
        if let Some(idx) = idx {
            files.push(SnapFile::new(format!("{MSGS_DIR}/{index}.idx"), idx));
        }
        if let Ok(fss) = fs::read(mdir.join(format!("{index}.fss"))) {
            files.push(SnapFile::new(format!("{MSGS_DIR}/{index}.fss"), fss));
        }
        files.push(SnapFile::new(format!("{MSGS_DIR}/{index}.blk"), blk));
    }
    Ok(files)
}

/// A consumer's three files as a snapshot holds them (`state` is its
/// encoded o.dat, see [`crate::consumer::encode`]), in clear: `keys` are
/// the consumer's when its meta.inf is sealed (its sum is then made anew,
/// keyed by `sum_key`, `<stream>/<consumer>`).
pub fn consumer_files(
    consumer_dir: &Path,
    name: &str,
    keys: Option<(&MetaKeys, &str)>,
    state: Vec<u8>,
) -> Result<Vec<SnapFile>, StoreError> {
    let pre = format!("{CONSUMERS_DIR}/{name}");
    let meta = read(&consumer_dir.join(META_FILE))?;
    let (meta, sum) = match keys {
        Some((k, sum_key)) => {
            let meta = k.open(&meta).map_err(|e| crypt_err("meta.inf", e))?;
            let sum = meta_sum(sum_key, &meta).into_bytes();
            (meta, sum)
        }
        None => (meta, read(&consumer_dir.join(META_SUM_FILE))?),
    };
    Ok(vec![
        SnapFile::new(format!("{pre}/{META_FILE}"), meta),
        SnapFile::new(format!("{pre}/{META_SUM_FILE}"), sum),
        SnapFile::new(format!("{pre}/{CONSUMER_STATE_FILE}"), state),
    ])
}

/// Go's read-only view of its message check (`jsck`): how many messages
/// a rebuild of each block would lose, that is those from the first torn,
/// corrupt or mis-summed record of a block to the block's last sequence.
pub fn check_msgs(dir: &Path, stream: &str, enc: Option<&Encryption>) -> u64 {
    let mdir = dir.join(MSGS_DIR);
    let mut lost = 0;
    for index in block_indexes(&mdir) {
        let Ok((idx, buf)) = plain_block(&mdir, stream, index, enc) else {
            continue;
        };
        let (mut first, mut last_known, mut dmap) = (0, 0, HashSet::new());
        if let Some(Ok(IndexRead::Whole(info))) = idx.map(|b| decode_index(&b)) {
            first = info.first_seq;
            last_known = info.last_seq;
            dmap = info.dmap.into_iter().collect();
        }
        let hasher = Hasher::for_block(stream, index);
        let mut last = 0u64;
        let mut at = 0usize;
        let mut bad = false;
        while at < buf.len() {
            let rest = &buf[at..];
            if rest.len() < MSG_HDR_SIZE {
                bad = true;
                break;
            }
            let raw_len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
            let has_hdr = raw_len & (1 << 31) != 0;
            let len = (raw_len & !(1 << 31)) as usize;
            let slen = u16::from_le_bytes([rest[20], rest[21]]) as usize;
            if !(EMPTY_RECORD_LEN..=RL_BAD_THRESH).contains(&len)
                || slen > len - MSG_HDR_SIZE
                || len > rest.len()
            {
                bad = true;
                break;
            }
            let mut w = [0u8; 8];
            w.copy_from_slice(&rest[4..12]);
            let raw_seq = u64::from_le_bytes(w);
            let seq = raw_seq & !(1 << 63);
            let erased = raw_seq == 0 || raw_seq & (1 << 63) != 0 || seq < first;
            last = seq;
            if !erased && !dmap.contains(&seq) {
                let data = &rest[MSG_HDR_SIZE..len];
                let dlen = len - MSG_HDR_SIZE;
                let body = if has_hdr {
                    data.get(slen + 4..dlen - 8)
                } else {
                    data.get(slen..dlen - 8)
                };
                let ok = body.is_some_and(|b| {
                    hasher.sum(&[&rest[4..20], &data[..slen], b]) == data[dlen - 8..]
                });
                if !ok {
                    // The bad record is lost too.
                    last = seq.saturating_sub(1);
                    bad = true;
                    break;
                }
            }
            at += len;
        }
        if bad {
            lost += last_known.saturating_sub(last);
        }
    }
    lost
}

/// Go's `archive/tar` octal field: zero-padded, NUL-terminated.
fn octal(field: &mut [u8], v: u64) {
    let s = format!("{v:o}");
    let width = field.len() - 1;
    let s = if s.len() < width {
        format!("{}{s}", "0".repeat(width - s.len()))
    } else {
        s
    };
    put_str(field, &s);
}

/// Go's string field: truncated to the field, NUL-terminated when shorter.
fn put_str(field: &mut [u8], s: &str) {
    let b = s.as_bytes();
    let n = b.len().min(field.len());
    field[..n].copy_from_slice(&b[..n]);
    if n < field.len() {
        field[n] = 0;
    }
}

const BLOCK: usize = 512;

/// Go's rlBadThresh: a record length past this is corrupt.
const RL_BAD_THRESH: usize = 32 * 1024 * 1024;

/// One 512-byte header as Go's PAX writer lays it out.
struct RawHeader {
    name: String,
    mode: u64,
    size: u64,
    mtime: u64,
    flag: u8,
    /// uname/gname and the device numbers (the main headers; not the
    /// extended ones).
    owner: Option<&'static str>,
}

impl RawHeader {
    fn bytes(&self) -> [u8; BLOCK] {
        let mut b = [0u8; BLOCK];
        put_str(&mut b[0..100], &self.name);
        octal(&mut b[100..108], self.mode);
        octal(&mut b[108..116], 0);
        octal(&mut b[116..124], 0);
        octal(&mut b[124..136], self.size);
        octal(&mut b[136..148], self.mtime);
        b[156] = self.flag;
        b[257..263].copy_from_slice(b"ustar\0");
        b[263..265].copy_from_slice(b"00");
        if let Some(owner) = self.owner {
            put_str(&mut b[265..297], owner);
            put_str(&mut b[297..329], owner);
            octal(&mut b[329..337], 0);
            octal(&mut b[337..345], 0);
        }
        b[148..156].fill(b' ');
        let sum: u64 = b.iter().map(|&x| u64::from(x)).sum();
        octal(&mut b[148..155], sum);
        b[155] = b' ';
        b
    }
}

/// One PAX record, `<len> <key>=<value>\n` where the length counts itself.
fn pax_record(key: &str, value: &str) -> String {
    let base = key.len() + value.len() + 3;
    let mut n = base + base.to_string().len();
    if n.to_string().len() + base != n {
        n = base + n.to_string().len();
    }
    format!("{n} {key}={value}\n")
}

/// Go's formatPAXTime: seconds, then the nanoseconds without trailing
/// zeros.
fn pax_time(ns: i64) -> String {
    let (secs, nanos) = (ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000));
    if nanos == 0 {
        return secs.to_string();
    }
    format!("{secs}.{nanos:09}")
        .trim_end_matches('0')
        .to_string()
}

fn pad(out: &mut Vec<u8>) {
    let rem = out.len() % BLOCK;
    if rem != 0 {
        out.resize(out.len() + BLOCK - rem, 0);
    }
}

/// The tar archive of `files` as Go's snapshot writes it, every file
/// stamped `mtime_ns`.
pub fn tar(files: &[SnapFile], mtime_ns: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(files.iter().map(|f| f.data.len() + 2 * BLOCK).sum());
    let secs = mtime_ns.div_euclid(1_000_000_000).max(0) as u64;
    for f in files {
        let mut records = Vec::new();
        if mtime_ns % 1_000_000_000 != 0 {
            records.push(pax_record("mtime", &pax_time(mtime_ns)));
        }
        if f.name.len() > 100 || !f.name.is_ascii() {
            records.push(pax_record("path", &f.name));
        }
        if !records.is_empty() {
            let data = records.concat();
            let (dir, file) = match f.name.rfind('/') {
                Some(i) => (&f.name[..i], &f.name[i + 1..]),
                None => ("", f.name.as_str()),
            };
            let name = if dir.is_empty() {
                format!("PaxHeaders.0/{file}")
            } else {
                format!("{dir}/PaxHeaders.0/{file}")
            };
            let mut name: String = name.chars().filter(char::is_ascii).collect();
            name.truncate(100);
            let name = name.trim_end_matches('/').to_string();
            let h = RawHeader {
                name,
                mode: 0,
                size: data.len() as u64,
                mtime: 0,
                flag: b'x',
                owner: None,
            };
            out.extend_from_slice(&h.bytes());
            out.extend_from_slice(data.as_bytes());
            pad(&mut out);
        }
        let name: String = f.name.chars().filter(char::is_ascii).collect();
        let h = RawHeader {
            name,
            mode: 0o600,
            size: f.data.len() as u64,
            mtime: secs,
            flag: b'0',
            owner: Some("nats"),
        };
        out.extend_from_slice(&h.bytes());
        out.extend_from_slice(&f.data);
        pad(&mut out);
    }
    out.resize(out.len() + 2 * BLOCK, 0);
    out
}

/// `data` in S2's stream format as Go's `s2.NewWriter` writes it.
pub fn compress(data: &[u8]) -> Vec<u8> {
    let mut w = minlz::s2::Writer::new(Vec::with_capacity(data.len() / 2 + 64));
    // Writing into memory cannot fail.
    let _ = w.write_all(data);
    let _ = w.flush();
    std::mem::take(w.get_mut())
}

/// The snapshot of `files`: tar, then S2.
pub fn archive(files: &[SnapFile], mtime_ns: i64) -> Vec<u8> {
    compress(&tar(files, mtime_ns))
}

/// The pieces Go hands out for an S2 stream: each of the writer's writes
/// (the stream identifier, then one frame per block) cut in pieces of at
/// most `chunk_size` bytes. Ranges into `s2`.
pub fn chunks(s2: &[u8], chunk_size: usize) -> Vec<std::ops::Range<usize>> {
    let chunk_size = chunk_size.max(1);
    let mut out = Vec::new();
    let mut at = 0;
    while at < s2.len() {
        let frame = if s2.len() - at >= 4 {
            let len = usize::from(s2[at + 1])
                | usize::from(s2[at + 2]) << 8
                | usize::from(s2[at + 3]) << 16;
            (4 + len).min(s2.len() - at)
        } else {
            s2.len() - at
        };
        let end = at + frame;
        while at < end {
            let n = (end - at).min(chunk_size);
            out.push(at..at + n);
            at += n;
        }
    }
    out
}

/// Why a restore's archive could not be unpacked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// A member that is not a regular file, or lands outside the folder:
    /// Go's "unexpected content".
    #[error("unexpected content")]
    Unexpected,
    /// The archive or its compression is broken, or a file could not be
    /// written: Go's error text where known.
    #[error("{0}")]
    Failed(String),
}

/// Go's `filepath.Clean` on Unix.
pub fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".to_string();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_string(),
        (false, false) => body,
    }
}

/// Where a member named `name` lands in `dest`, if inside it (Go joins the
/// cleaned name to the folder and wants the folder plus a slash as prefix).
fn member_path(dest: &str, name: &str) -> Option<String> {
    let joined = clean_path(&format!("{dest}/{}", clean_path(name)));
    let prefix = format!("{}/", clean_path(dest));
    joined.starts_with(&prefix).then_some(joined)
}

/// Reads the S2 stream for the tar reader and keeps its first error, whose
/// text Go reports (the tar reader's own wrapping would hide it).
struct S2Source<R: Read> {
    inner: minlz::s2::Reader<R>,
    error: Rc<RefCell<Option<String>>>,
}

impl<R: Read> Read for S2Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            let text = if e.kind() == io::ErrorKind::UnexpectedEof {
                "unexpected EOF".to_string()
            } else if e.to_string().to_ascii_lowercase().contains("crc") {
                "s2: corrupt input, crc mismatch".to_string()
            } else if e.kind() == io::ErrorKind::InvalidData {
                "s2: corrupt input".to_string()
            } else {
                e.to_string()
            };
            self.error.borrow_mut().get_or_insert(text);
        })
    }
}

/// Unpacks a snapshot (S2, then tar) into `dest` with Go's rules: every
/// member a regular file whose cleaned name stays inside `dest`; files
/// are opened without truncation, as Go does.
pub fn extract(r: impl Read, dest: &Path) -> Result<u64, ExtractError> {
    // An empty stream is an empty archive to Go's reader.
    let mut r = io::BufReader::new(r);
    if io::BufRead::fill_buf(&mut r)
        .map_err(|e| ExtractError::Failed(e.to_string()))?
        .is_empty()
    {
        return Ok(0);
    }
    let error = Rc::new(RefCell::new(None));
    let src = S2Source {
        inner: minlz::s2::Reader::new(r),
        error: error.clone(),
    };
    let fail = |e: io::Error| -> ExtractError {
        if let Some(text) = error.borrow().clone() {
            return ExtractError::Failed(text);
        }
        ExtractError::Failed(match e.kind() {
            io::ErrorKind::UnexpectedEof => "unexpected EOF".to_string(),
            _ => "archive/tar: invalid tar header".to_string(),
        })
    };
    let dest_text = dest.to_string_lossy().into_owned();
    let mut archive = ::tar::Archive::new(src);
    let entries = archive.entries().map_err(fail)?;
    let mut total = 0;
    for entry in entries {
        let mut entry = entry.map_err(fail)?;
        let flag = entry.header().as_bytes()[156];
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let regular = flag == b'0' || (flag == 0 && !name.ends_with('/'));
        if !regular {
            return Err(ExtractError::Unexpected);
        }
        let Some(path) = member_path(&dest_text, &name) else {
            return Err(ExtractError::Unexpected);
        };
        let path = PathBuf::from(path);
        if let Some(parent) = path.parent() {
            let _ = fs::create_dir_all(parent);
        }
        let mut fd = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| ExtractError::Failed(format!("open {}: {e}", path.display())))?;
        total += io::copy(&mut entry, &mut fd).map_err(fail)?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_as_go() {
        for (p, want) in [
            ("", "."),
            ("a/b/../c", "a/c"),
            ("../x", "../x"),
            ("/../x", "/x"),
            ("a//b/./", "a/b"),
            ("..", ".."),
            ("a/../..", ".."),
        ] {
            assert_eq!(clean_path(p), want, "{p}");
        }
        assert_eq!(
            member_path("/s/d", "msgs/1.blk").unwrap(),
            "/s/d/msgs/1.blk"
        );
        assert_eq!(member_path("/s/d", "/abs").unwrap(), "/s/d/abs");
        assert!(member_path("/s/d", "../../fail1.txt").is_none());
        assert!(member_path("/s/d", "").is_none());
        assert!(member_path("/s/d", "a/../../d2/x").is_none());
    }

    #[test]
    fn pax_records_count_their_own_length() {
        assert_eq!(pax_record("mtime", "1.5"), "13 mtime=1.5\n");
        let r = pax_record("path", &"x".repeat(95));
        assert_eq!(r.len().to_string(), r.split(' ').next().unwrap());
        assert_eq!(pax_time(1_500_000_000), "1.5");
        assert_eq!(pax_time(2_000_000_000), "2");
    }

    #[test]
    fn round_trips_and_is_read_by_the_tar_crate() {
        let files = vec![
            SnapFile::new("meta.inf", b"{}".to_vec()),
            SnapFile::new("msgs/1.blk", vec![7u8; 1500]),
            SnapFile::new(format!("obs/{}/o.dat", "c".repeat(120)), vec![1, 2]),
        ];
        let snap = archive(&files, 1_700_000_000_123_456_789);
        assert_eq!(&snap[..10], b"\xff\x06\x00\x00S2sTwO");
        let pieces = chunks(&snap, 64);
        assert_eq!(pieces[0], 0..10);
        assert!(pieces.iter().all(|r| r.len() <= 64));
        assert_eq!(pieces.last().unwrap().end, snap.len());
        let tmp = tempfile::tempdir().unwrap();
        let n = extract(&snap[..], tmp.path()).unwrap();
        assert_eq!(n, 1504);
        assert_eq!(
            fs::read(tmp.path().join("msgs/1.blk")).unwrap(),
            vec![7u8; 1500]
        );
        let long = tmp.path().join(format!("obs/{}/o.dat", "c".repeat(120)));
        assert_eq!(fs::read(long).unwrap(), vec![1, 2]);
    }

    #[test]
    fn refuses_what_go_refuses() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("a/b");
        fs::create_dir_all(&dest).unwrap();
        let bad = archive(&[SnapFile::new("../../fail1.txt", b"x".to_vec())], 0);
        assert_eq!(extract(&bad[..], &dest), Err(ExtractError::Unexpected));
        assert!(!tmp.path().join("fail1.txt").exists());
        let err = extract(&b"not s2 at all"[..], &dest).unwrap_err();
        assert_eq!(err, ExtractError::Failed("s2: corrupt input".into()));
        assert_eq!(extract(&b""[..], &dest), Ok(0));
    }

    /// A snapshot Go 2.9.10 made (stream ORDERS over four blocks, seq 5
    /// erased and 40 removed, durable D with acks and pending).
    const GO_SNAPSHOT: &[u8] = include_bytes!("../../testdata/go-orders.tar.s2");

    /// The members of a tar with the mtime of its PAX records.
    fn members(tar_bytes: &[u8]) -> (Vec<SnapFile>, String) {
        let mut a = ::tar::Archive::new(tar_bytes);
        let mut files = Vec::new();
        let mut mtime = String::new();
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            if let Some(Ok(x)) = e.pax_extensions().unwrap().map(|mut x| x.next().unwrap()) {
                mtime = x.value().unwrap().to_string();
            }
            let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            files.push(SnapFile::new(name, data));
        }
        (files, mtime)
    }

    #[test]
    fn writes_what_go_writes() {
        let mut go_tar = Vec::new();
        minlz::s2::Reader::new(GO_SNAPSHOT)
            .read_to_end(&mut go_tar)
            .unwrap();
        let (files, mtime) = members(&go_tar);
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "meta.inf",
                "meta.sum",
                "msgs/1.idx",
                "msgs/1.fss",
                "msgs/1.blk",
                "msgs/2.idx",
                "msgs/2.fss",
                "msgs/2.blk",
                "msgs/3.idx",
                "msgs/3.fss",
                "msgs/3.blk",
                "msgs/4.idx",
                "msgs/4.fss",
                "msgs/4.blk",
                "obs/D/meta.inf",
                "obs/D/meta.sum",
                "obs/D/o.dat",
            ]
        );
        let (secs, frac) = mtime.split_once('.').unwrap();
        let nanos: i64 = format!("{frac:0<9}").parse().unwrap();
        let ns = secs.parse::<i64>().unwrap() * 1_000_000_000 + nanos;
        // The same files make the same archive, byte for byte; its S2
        // stream has the same frames (Go's assembly encoder may pick other
        // matches, so the compressed bytes may differ).
        assert!(tar(&files, ns) == go_tar);
        let ours = archive(&files, ns);
        let frames =
            |s2: &[u8]| -> Vec<u8> { chunks(s2, usize::MAX).iter().map(|r| s2[r.start]).collect() };
        assert_eq!(frames(&ours), frames(GO_SNAPSHOT));
        let mut back = Vec::new();
        minlz::s2::Reader::new(&ours[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back == go_tar);
        eprintln!("go {} bytes, natsd {} bytes", GO_SNAPSHOT.len(), ours.len());
    }

    #[test]
    fn a_go_snapshot_opens_as_a_store() {
        use crate::StreamStore;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ORDERS");
        fs::create_dir_all(&dir).unwrap();
        extract(GO_SNAPSHOT, &dir).unwrap();
        assert_eq!(check_msgs(&dir, "ORDERS", None), 0);
        let meta = super::super::read_meta(&dir).unwrap();
        assert!(String::from_utf8_lossy(&meta).contains("\"max_bytes\":120000"));
        let cfg = super::super::FileStoreConfig::new(dir.clone());
        let fs = super::super::FileStore::open(cfg, "ORDERS", crate::Limits::default()).unwrap();
        let st = fs.state();
        assert_eq!(
            (
                st.msgs,
                st.bytes,
                st.first_seq,
                st.last_seq,
                st.num_subjects
            ),
            (98, 102_860, 1, 100, 3)
        );
        assert_eq!(st.deleted, vec![5, 40]);
        assert_eq!(fs.load_msg(41).unwrap().msg[..9], *b"order 41 ");
        let state = fs::read(dir.join("obs/D/o.dat")).unwrap();
        let c = crate::consumer::decode(&state).unwrap();
        assert_eq!((c.delivered, c.ack_floor), ((10, 11), (6, 7)));
        assert_eq!(c.pending.keys().copied().collect::<Vec<_>>(), [8, 9, 11]);
        // A corrupt record is found, and counted to the block's end.
        drop(fs);
        let blk = dir.join("msgs/4.blk");
        let mut b = fs::read(&blk).unwrap();
        let n = b.len();
        b[n - 20] ^= 0xff;
        fs::write(&blk, b).unwrap();
        assert_eq!(check_msgs(&dir, "ORDERS", None), 1);
    }
}
