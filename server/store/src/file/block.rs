//! A message block: one `N.blk` file of records, with its accounting (kept
//! in `N.idx`) and per-subject state (kept in `N.fss`). Only the last block
//! of a store is written to; it keeps its file open and its contents in
//! memory.

use super::cache::BlockData;
use super::checksum::Hasher;
use super::crypt::{block_context, AssetKeys, Encryption};
use super::index::{encode_fss, encode_index, IndexInfo};
use super::record::{self, Record, CHECKSUM_SIZE, EMPTY_RECORD_LEN};
use crate::{file_msg_size, SimpleState, StoreError};
use foldhash::HashMap;
use natsd_proto::oserror::os_error_text;
use rand::RngCore;
use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A sequence and its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct MsgId {
    pub seq: u64,
    pub ts: i64,
}

pub(crate) struct MsgBlock {
    pub index: u32,
    /// The first message still held (when empty: one past `last`).
    pub first: MsgId,
    /// The last record written, message or not.
    pub last: MsgId,
    pub msgs: u64,
    /// The messages' sizes, as the file store counts them.
    pub bytes: u64,
    /// The file's length, deleted records included.
    pub rbytes: u64,
    /// The sequences in (first, last] without a message.
    pub dmap: BTreeSet<u64>,
    pub fss: HashMap<String, SimpleState>,
    /// The checksum of the last record in the file.
    pub lchk: [u8; 8],
    pub hasher: Hasher,
    /// The file's contents, while this is the block being written.
    pub cache: Option<Arc<BlockData>>,
    pub blk_path: PathBuf,
    idx_path: PathBuf,
    fss_path: PathBuf,
    /// `N.key`, the block's sealed keys when the store is encrypted.
    pub key_path: PathBuf,
    /// The block's keys: its file is XORed with their stream, its .idx
    /// sealed by their AEAD (its .fss stays clear, as Go's).
    pub keys: Option<Arc<AssetKeys>>,
    file: Option<File>,
    /// Where the contents that [`MsgBlock::append`] held back from the
    /// file start (see [`MsgBlock::write_pending`]).
    unwritten: Option<usize>,
    /// The .idx (and .fss) on disk lag the block.
    dirty: bool,
    last_index_write: Option<Instant>,
}

fn open_rw(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// Writes `bytes`, which start at `offset` of a block's contents, to its
/// file (encrypted with `keys`, if any).
fn write_at(
    file: &File,
    keys: Option<&AssetKeys>,
    bytes: &[u8],
    offset: usize,
) -> std::io::Result<()> {
    match keys {
        Some(k) => file.write_all_at(&k.encrypt_at(bytes, offset as u64), offset as u64),
        None => file.write_all_at(bytes, offset as u64),
    }
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

impl MsgBlock {
    /// A block of `stream` in the messages directory `mdir`, empty, whose
    /// first message will follow `last`.
    pub(crate) fn new(mdir: &Path, stream: &str, index: u32, last: MsgId) -> Self {
        MsgBlock {
            index,
            first: MsgId {
                seq: last.seq + 1,
                ts: 0,
            },
            last,
            msgs: 0,
            bytes: 0,
            rbytes: 0,
            dmap: BTreeSet::new(),
            fss: HashMap::default(),
            lchk: [0; 8],
            hasher: Hasher::for_block(stream, index),
            cache: None,
            blk_path: mdir.join(format!("{index}.blk")),
            idx_path: mdir.join(format!("{index}.idx")),
            fss_path: mdir.join(format!("{index}.fss")),
            key_path: mdir.join(format!("{index}.key")),
            keys: None,
            file: None,
            unwritten: None,
            dirty: true,
            last_index_write: None,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.first.seq > self.last.seq
    }

    /// Whether `seq` is a message this block holds.
    pub(crate) fn holds(&self, seq: u64) -> bool {
        seq >= self.first.seq && seq <= self.last.seq && !self.dmap.contains(&seq)
    }

    /// The last message held (the block must hold one).
    pub(crate) fn last_held(&self) -> u64 {
        (self.first.seq..=self.last.seq)
            .rev()
            .find(|s| !self.dmap.contains(s))
            .unwrap_or(self.first.seq)
    }

    /// Takes the state an .idx file recorded.
    pub(crate) fn apply_index(&mut self, info: IndexInfo) {
        self.msgs = info.msgs;
        self.bytes = info.bytes;
        self.first = MsgId {
            seq: info.first_seq,
            ts: info.first_ts,
        };
        self.last = MsgId {
            seq: info.last_seq,
            ts: info.last_ts,
        };
        self.lchk = info.lchk;
        self.dmap = info.dmap.into_iter().collect();
        self.dirty = false;
    }

    pub(crate) fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Opens the file for appending, with its contents in memory.
    fn writable(&mut self) -> Result<(&File, &mut BlockData), StoreError> {
        if self.file.is_none() {
            if self.cache.is_none() {
                let buf = self.read_file()?;
                self.cache = Some(Arc::new(BlockData::load(buf, &self.hasher)));
            }
            self.file = Some(open_rw(&self.blk_path)?);
        }
        match (&self.file, &mut self.cache) {
            (Some(file), Some(cache)) => Ok((file, Arc::make_mut(cache))),
            _ => Err(StoreError::Io(format!(
                "message block {} is not open",
                self.index
            ))),
        }
    }

    /// Creates the block's (empty) file and opens it for writing; its
    /// contents in memory get `capacity` bytes at once (one allocation the
    /// allocator can give back whole, not a buffer grown in steps).
    pub(crate) fn create(&mut self, capacity: u64) -> Result<(), StoreError> {
        self.create_with(Vec::with_capacity(capacity as usize))
    }

    /// Creates the block's file, its contents in memory going into `buf`
    /// (emptied first).
    pub(crate) fn create_with(&mut self, mut buf: Vec<u8>) -> Result<(), StoreError> {
        let file = File::create(&self.blk_path)?;
        self.file = Some(file);
        buf.clear();
        self.cache = Some(Arc::new(BlockData::with_buffer(buf)));
        Ok(())
    }

    /// Appends a record built by `encode` to the file; returns where it
    /// starts and its checksum.
    fn append_record(
        &mut self,
        seq: u64,
        hold: bool,
        encode: impl FnOnce(&mut Vec<u8>, &Hasher) -> [u8; 8],
    ) -> Result<(), StoreError> {
        let hasher = self.hasher.clone();
        let keys = self.keys.clone();
        let unwritten = self.unwritten;
        let (file, data) = self.writable()?;
        let at = data.buf.len();
        let sum = encode(&mut data.buf, &hasher);
        if !hold {
            // What earlier records held back goes first, in the same write.
            let from = unwritten.unwrap_or(at);
            if let Err(e) = write_at(file, keys.as_deref(), &data.buf[from..], from) {
                // A short write (a full disk) leaves no torn record behind
                // for recovery to report: the file ends where it did.
                let _ = file.set_len(from as u64);
                data.buf.truncate(at);
                return Err(StoreError::Io(format!(
                    "write {}: {}",
                    self.blk_path.display(),
                    os_error_text(&e)
                )));
            }
        }
        data.index(seq, at);
        self.rbytes = data.buf.len() as u64;
        self.unwritten = hold.then_some(unwritten.unwrap_or(at));
        self.lchk = sum;
        self.dirty = true;
        Ok(())
    }

    /// Writes a message; returns its size. With `hold`, the record stays
    /// in memory until [`MsgBlock::write_pending`] (or the next write).
    pub(crate) fn append(
        &mut self,
        seq: u64,
        ts: i64,
        subject: &str,
        hdr: &[u8],
        msg: &[u8],
        hold: bool,
    ) -> Result<u64, StoreError> {
        self.append_record(seq, hold, |out, h| {
            record::encode(out, h, seq, ts, subject, hdr, msg)
        })?;
        let size = file_msg_size(subject, hdr, msg);
        if self.msgs == 0 {
            self.first = MsgId { seq, ts };
        }
        self.last = MsgId { seq, ts };
        self.msgs += 1;
        self.bytes += size;
        if !subject.is_empty() {
            match self.fss.get_mut(subject) {
                Some(ss) => {
                    ss.msgs += 1;
                    ss.last = seq;
                }
                None => {
                    let ss = SimpleState {
                        msgs: 1,
                        first: seq,
                        last: seq,
                    };
                    self.fss.insert(subject.to_string(), ss);
                }
            }
        }
        Ok(size)
    }

    /// Uses `seq` without a message: an empty block only moves on, one
    /// with messages records the sequence as deleted.
    pub(crate) fn skip(&mut self, seq: u64, ts: i64) -> Result<(), StoreError> {
        if self.msgs == 0 {
            self.first = MsgId { seq: seq + 1, ts };
            self.last = MsgId { seq, ts };
            self.dirty = true;
            return Ok(());
        }
        self.append_record(seq, false, |out, h| {
            record::encode_deleted(out, h, seq, ts, &[])
        })?;
        self.dmap.insert(seq);
        self.last = MsgId { seq, ts };
        Ok(())
    }

    /// Overwrites the record at `offset` (of `len` bytes, sequence `seq`)
    /// with random bytes, marked as holding no message.
    pub(crate) fn erase(&mut self, seq: u64, offset: usize, len: usize) -> Result<(), StoreError> {
        self.write_pending()?;
        let mut filler = vec![0u8; len.saturating_sub(EMPTY_RECORD_LEN)];
        rand::thread_rng().fill_bytes(&mut filler);
        let mut rec = Vec::with_capacity(len);
        let sum = record::encode_deleted(&mut rec, &self.hasher, seq, 0, &filler);
        let on_disk = match &self.keys {
            Some(k) => k.encrypt_at(&rec, offset as u64),
            None => rec.clone(),
        };
        match &self.file {
            Some(f) => f.write_all_at(&on_disk, offset as u64)?,
            None => open_rw(&self.blk_path)?.write_all_at(&on_disk, offset as u64)?,
        }
        if let Some(cache) = &mut self.cache {
            let data = Arc::make_mut(cache);
            if let Some(dst) = data.buf.get_mut(offset..offset + len) {
                dst.copy_from_slice(&rec);
            }
        }
        if (offset + len) as u64 == self.rbytes {
            self.lchk = sum;
        }
        self.dirty = true;
        Ok(())
    }

    /// Rewrites the file without the records of removed messages; each
    /// interior delete keeps an empty record (as Go's, so that a rebuild
    /// still knows it). Returns the new contents; on any doubt about the
    /// old ones (a record that does not parse) the file is left as is.
    pub(crate) fn compact(&mut self, data: &BlockData) -> Result<Arc<BlockData>, StoreError> {
        self.write_pending()?;
        let mut out = Vec::with_capacity(self.bytes as usize + self.dmap.len() * EMPTY_RECORD_LEN);
        let mut at = 0;
        while at < data.buf.len() {
            let r = Record::parse(&data.buf[at..])
                .map_err(|e| StoreError::Io(format!("compacting block {}: {e}", self.index)))?;
            if !r.deleted && self.holds(r.seq) {
                out.extend_from_slice(&data.buf[at..at + r.len]);
            } else if !out.is_empty() && r.seq > self.first.seq {
                record::encode_deleted(&mut out, &self.hasher, r.seq, 0, &[]);
            }
            at += r.len;
        }
        let new = self.blk_path.with_extension("new");
        match &self.keys {
            Some(k) => fs::write(&new, k.encrypt_at(&out, 0))?,
            None => fs::write(&new, &out)?,
        }
        // The index describes the new file before it takes the old one's
        // place: a crash in between leaves an index whose deletes are
        // those the new file lacks, and the old file still holds them.
        if let Some(tail) = out.len().checked_sub(CHECKSUM_SIZE) {
            self.lchk.copy_from_slice(&out[tail..]);
        }
        self.dirty = true;
        self.write_state()?;
        fs::rename(&new, &self.blk_path)?;
        self.file = None;
        self.rbytes = out.len() as u64;
        Ok(Arc::new(BlockData::load(out, &self.hasher)))
    }

    /// Whether the file is mostly removed messages (under a quarter in
    /// use, past 2 MB): worth a [`MsgBlock::compact`], as Go judges.
    pub(crate) fn is_sparse(&self) -> bool {
        const COMPACT_MINIMUM: u64 = 2 * 1024 * 1024;
        let live = self
            .rbytes
            .saturating_sub(self.dmap.len() as u64 * EMPTY_RECORD_LEN as u64);
        self.rbytes > COMPACT_MINIMUM && live / 4 > self.bytes
    }

    /// After the first message went: the next one held is first.
    pub(crate) fn select_next_first(&mut self, data: &BlockData) {
        let mut seq = self.first.seq + 1;
        while seq <= self.last.seq && self.dmap.remove(&seq) {
            seq += 1;
        }
        self.first.seq = seq;
        self.first.ts = if self.is_empty() {
            0
        } else {
            data.record(seq).map_or(0, |r| r.ts)
        };
    }

    /// Forgets the interior deletes at or below the first message.
    pub(crate) fn prune_dmap(&mut self) {
        self.dmap = self.dmap.split_off(&(self.first.seq + 1));
    }

    /// Takes `seq` (of `subject`) out of the per-subject state.
    pub(crate) fn remove_seq_per_subject(&mut self, subject: &str, seq: u64, data: &BlockData) {
        let Some(ss) = self.fss.get_mut(subject) else {
            return;
        };
        if ss.msgs <= 1 {
            self.fss.remove(subject);
            return;
        }
        ss.msgs -= 1;
        if seq != ss.first {
            return;
        }
        if ss.msgs == 1 {
            ss.first = ss.last;
            return;
        }
        let last = ss.last;
        let next = data
            .records_from(seq + 1)
            .take_while(|r| r.seq <= last)
            .find(|r| r.subject == subject.as_bytes() && self.holds(r.seq))
            .map(|r| r.seq);
        if let (Some(next), Some(ss)) = (next, self.fss.get_mut(subject)) {
            ss.first = next;
        }
    }

    /// Recomputes the per-subject state from the messages held.
    pub(crate) fn rebuild_fss(&mut self, data: &BlockData) {
        self.fss.clear();
        for r in data.records_from(self.first.seq) {
            if r.seq > self.last.seq {
                break;
            }
            if r.subject.is_empty() || !self.holds(r.seq) {
                continue;
            }
            let ss = self
                .fss
                .entry(r.subject_str().into_owned())
                .or_insert(SimpleState {
                    msgs: 0,
                    first: r.seq,
                    last: r.seq,
                });
            ss.msgs += 1;
            ss.last = r.seq;
        }
        self.dirty = true;
    }

    /// Writes the .idx; what the file lacks goes first, so that the .idx
    /// never describes records the file does not have.
    pub(crate) fn write_index(&mut self) -> Result<(), StoreError> {
        self.write_pending()?;
        self.prune_dmap();
        let info = IndexInfo {
            msgs: self.msgs,
            bytes: self.bytes,
            first_seq: self.first.seq,
            first_ts: self.first.ts,
            last_seq: self.last.seq,
            last_ts: self.last.ts,
            lchk: self.lchk,
            dmap: self.dmap.iter().copied().collect(),
        };
        let mut buf = encode_index(&info);
        if let Some(k) = &self.keys {
            buf = k.aek.seal(&k.nonce, &buf);
        }
        crate::durable::replace_file(&self.idx_path, &buf)?;
        self.last_index_write = Some(Instant::now());
        Ok(())
    }

    /// Writes the .idx when the last write is older than `threshold` (as
    /// Go does, to spare a write per message).
    pub(crate) fn write_index_if_due(&mut self, threshold: Duration) -> Result<(), StoreError> {
        if self
            .last_index_write
            .is_none_or(|t| t.elapsed() >= threshold)
        {
            self.write_index()?;
        }
        Ok(())
    }

    /// Writes the .fss (removes it when no subject is left).
    fn write_fss(&self) -> Result<(), StoreError> {
        if self.fss.is_empty() {
            remove_if_present(&self.fss_path)?;
            return Ok(());
        }
        crate::durable::replace_file(
            &self.fss_path,
            &encode_fss(self.fss.iter(), &self.hasher, &self.lchk),
        )?;
        Ok(())
    }

    /// Brings .idx and .fss up to date.
    pub(crate) fn write_state(&mut self) -> Result<(), StoreError> {
        if self.dirty {
            self.write_index()?;
            self.write_fss()?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Writes the records [`MsgBlock::append`] held back to the file.
    pub(crate) fn write_pending(&mut self) -> Result<(), StoreError> {
        let Some(from) = self.unwritten else {
            return Ok(());
        };
        let (Some(file), Some(data)) = (&self.file, &self.cache) else {
            return Err(StoreError::Io(format!(
                "message block {} is not open",
                self.index
            )));
        };
        write_at(file, self.keys.as_deref(), &data.buf[from..], from)?;
        self.unwritten = None;
        Ok(())
    }

    pub(crate) fn sync(&mut self) -> Result<(), StoreError> {
        self.write_pending()?;
        if let Some(f) = &self.file {
            f.sync_data()?;
        }
        Ok(())
    }

    /// Stops writing to this block: its state goes to disk, its file is
    /// closed, and its contents are handed back.
    pub(crate) fn seal(&mut self) -> Result<Option<Arc<BlockData>>, StoreError> {
        self.write_state()?;
        self.sync()?;
        self.file = None;
        Ok(self.cache.take())
    }

    /// Empties the file but keeps the .idx, which remembers the last
    /// sequence and time (the block is the last one).
    pub(crate) fn truncate_keep_index(&mut self) -> Result<(), StoreError> {
        self.unwritten = None;
        match &self.file {
            Some(f) => f.set_len(0)?,
            None => fs::write(&self.blk_path, [])?,
        }
        self.cache = Some(Arc::default());
        self.rbytes = 0;
        self.dmap.clear();
        self.fss.clear();
        self.dirty = true;
        self.write_state()
    }

    /// Removes the block's files.
    pub(crate) fn remove_files(&mut self) -> Result<(), StoreError> {
        self.unwritten = None;
        self.file = None;
        self.cache = None;
        remove_if_present(&self.blk_path)?;
        remove_if_present(&self.idx_path)?;
        remove_if_present(&self.fss_path)?;
        remove_if_present(&self.key_path)?;
        Ok(())
    }

    /// The block file's contents, decrypted.
    pub(crate) fn read_file(&self) -> Result<Vec<u8>, StoreError> {
        let mut buf = super::buffers::read_file(&self.blk_path)?;
        if let Some(k) = &self.keys {
            k.block_cipher().apply(&mut buf, 0);
        }
        Ok(buf)
    }

    /// The .idx file's contents, opened; None when there is none or it
    /// does not open (it is rebuilt).
    pub(crate) fn read_index_file(&self) -> Option<Vec<u8>> {
        let buf = fs::read(&self.idx_path).ok()?;
        match &self.keys {
            Some(k) => k.aek.open(&k.nonce, &buf).ok(),
            None => Some(buf),
        }
    }

    /// New keys for this block of `stream`, written to its key file.
    pub(crate) fn create_keys(&mut self, enc: &Encryption, stream: &str) -> Result<(), StoreError> {
        let (keys, file) = AssetKeys::generate(enc, &block_context(stream, self.index));
        crate::durable::replace_file(&self.key_path, &file)?;
        self.keys = Some(Arc::new(keys));
        Ok(())
    }

    pub(crate) fn idx_path(&self) -> &Path {
        &self.idx_path
    }

    pub(crate) fn fss_path(&self) -> &Path {
        &self.fss_path
    }
}
