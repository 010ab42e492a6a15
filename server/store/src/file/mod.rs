//! The file store: Go 2.9.10's filestore on disk, message for message.
//!
//! A stream's directory holds `meta.inf`/`meta.sum` (see [`read_meta`]),
//! `obs/` for consumers, and `msgs/` with the message blocks: `N.blk`
//! (records, see `record`), `N.idx` (the block's accounting and interior
//! deletes) and `N.fss` (its per-subject state), see `index`. Messages are
//! appended to the last block until it is full (the block size); removing
//! the first message of a block moves its first sequence, removing another
//! adds it to the block's deletes. The .idx is written when it is due (as
//! Go: two seconds after the last write, half a second for interior
//! deletes) and at [`StreamStore::flush`] and [`StreamStore::stop`]; after
//! a crash the blocks are rebuilt from their records (see `recover`).
//!
//! The store answers the [`StreamStore`] trait as the memory store does,
//! except where Go's file store differs from Go's memory store: sizes are
//! file sizes ([`file_msg_size`]), [`StreamStore::compact`] to a sequence
//! that has no message compacts up to it (where the memory store says "no
//! message found"), and [`StreamStore::state`] lists (and counts) only the
//! blocks' interior deletes.

mod block;
mod buffers;
mod cache;
mod checksum;
mod config;
mod convert;
pub mod crypt;
#[cfg(test)]
mod crypt_tests;
mod index;
mod meta;
mod query;
mod record;
mod recover;
pub mod snapshot;

pub use config::{
    dyn_block_size, stream_block_size, FileStoreConfig, DEFAULT_LARGE_BLOCK_SIZE,
    DEFAULT_MEDIUM_BLOCK_SIZE, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE,
};
pub use crypt::{Cipher, Encryption};
pub use meta::{read_meta, read_meta_keyed, write_meta};

use crate::{
    file_msg_size, Discard, Limits, LostData, SimpleState, StoreError, StoreMsg, StreamState,
    StreamStore,
};
use block::{MsgBlock, MsgId};
use cache::{BlockData, ReadCache};
use foldhash::HashMap;
use natsd_proto::jetstream::api::Timestamp;
use record::Record;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

const MSGS_DIR: &str = "msgs";
const CONSUMERS_DIR: &str = "obs";
/// Where a purge moves the blocks before removing them.
const PURGE_DIR: &str = "__msgs__";
/// How stale a block's .idx may get after writes and first-message removals.
const INDEX_WRITE_FIFO: Duration = Duration::from_secs(2);
/// ... and after interior deletes.
const INDEX_WRITE_INTERIOR: Duration = Duration::from_millis(500);

/// A subject's messages across blocks, and the blocks that may hold them
/// (`fblk` may lag behind: it is moved on when looked up).
struct Psi {
    total: u64,
    fblk: u32,
    lblk: u32,
}

/// A stream's messages in block files.
pub struct FileStore {
    dir: PathBuf,
    mdir: PathBuf,
    name: String,
    block_size: u64,
    sync_always: bool,
    sync_interval: Duration,
    /// [`StreamStore::store_msg_held`] is storing: the block keeps the
    /// write back, and the sync after it waits too.
    hold_writes: bool,
    limits: Limits,
    msgs: u64,
    bytes: u64,
    first: MsgId,
    last: MsgId,
    /// By index; never empty while open: the last one is written to.
    blks: Vec<MsgBlock>,
    psim: HashMap<String, Psi>,
    /// Blocks recently read (not the last one, which holds its own).
    cache: Mutex<ReadCache>,
    lost: Option<LostData>,
    last_sync: Instant,
    closed: bool,
    /// Encryption at rest, and the keys of meta.inf (`meta.key`).
    enc: Option<Encryption>,
    meta_keys: Option<crypt::MetaKeys>,
}

fn io_err(what: &str, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{what} - {e}"))
}

fn to_msg(r: &Record<'_>) -> StoreMsg {
    StoreMsg {
        subject: r.subject_str().into_owned(),
        hdr: r.hdr.to_vec(),
        msg: r.msg.to_vec(),
        seq: r.seq,
        ts: r.ts,
    }
}

impl FileStore {
    /// Opens (creating it if needed) the store of stream `stream` in
    /// `cfg.dir`, recovering what is there. Age limits are applied by the
    /// owner's first [`StreamStore::expire`]; the others at once.
    pub fn open(cfg: FileStoreConfig, stream: &str, limits: Limits) -> Result<Self, StoreError> {
        if stream.is_empty() {
            return Err(StoreError::Io("name required".into()));
        }
        let block_size = match cfg.block_size {
            0 => dyn_block_size(true, limits.max_bytes),
            s if s > MAX_BLOCK_SIZE => {
                return Err(StoreError::Io("filestore max block size is 8.0 MB".into()))
            }
            s => s,
        };
        fs::create_dir_all(&cfg.dir)
            .map_err(|e| io_err("could not create storage directory", e))?;
        let mdir = cfg.dir.join(MSGS_DIR);
        fs::create_dir_all(&mdir)
            .map_err(|e| io_err("could not create message storage directory", e))?;
        fs::create_dir_all(cfg.dir.join(CONSUMERS_DIR))
            .map_err(|e| io_err("could not create consumer storage directory", e))?;
        let pdir = cfg.dir.join(PURGE_DIR);
        if pdir.exists() {
            fs::remove_dir_all(&pdir)?;
        }
        let meta_keys = match &cfg.encryption {
            Some(enc) => Some(crypt::MetaKeys::load_or_create(enc, &cfg.dir, stream)?.0),
            None => None,
        };
        let mut fs = FileStore {
            dir: cfg.dir,
            mdir,
            name: stream.to_string(),
            block_size,
            sync_always: cfg.sync_always,
            sync_interval: cfg.sync_interval,
            hold_writes: false,
            limits,
            msgs: 0,
            bytes: 0,
            first: MsgId::default(),
            last: MsgId::default(),
            blks: Vec::new(),
            psim: HashMap::default(),
            cache: Mutex::default(),
            lost: None,
            last_sync: Instant::now(),
            closed: false,
            enc: cfg.encryption,
            meta_keys,
        };
        fs.recover()?;
        if fs.max_per_subject() > 0 {
            fs.enforce_all_per_subject();
        }
        fs.enforce_msg_and_byte_limits();
        Ok(fs)
    }

    /// Writes the stream's meta.inf (the config as JSON, Go's
    /// `FileStreamInfo`) and meta.sum.
    pub fn write_meta(&self, json: &[u8]) -> Result<(), StoreError> {
        match &self.meta_keys {
            Some(k) => meta::write_meta(&self.dir, &self.name, &k.seal(json)),
            None => meta::write_meta(&self.dir, &self.name, json),
        }
    }

    /// A new block `index` following `last`, with its keys when the store
    /// is encrypted.
    fn new_mb(&self, index: u32, last: MsgId) -> Result<MsgBlock, StoreError> {
        let mut mb = MsgBlock::new(&self.mdir, &self.name, index, last);
        if let Some(enc) = &self.enc {
            mb.create_keys(enc, &self.name)?;
        }
        Ok(mb)
    }

    /// The stream's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The size at which a block is full.
    pub fn block_size(&self) -> u64 {
        self.block_size
    }

    fn recover(&mut self) -> Result<(), StoreError> {
        let entries = fs::read_dir(&self.mdir)
            .map_err(|_| StoreError::Io("storage directory not readable".into()))?;
        let mut indexes: Vec<u32> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name();
                name.to_str()?.strip_suffix(".blk")?.parse().ok()
            })
            .collect();
        indexes.sort_unstable();
        let n = indexes.len();
        for (i, index) in indexes.into_iter().enumerate() {
            let (mut mb, lost) =
                recover::recover_block(&self.mdir, &self.name, index, self.enc.as_ref())?;
            if let Some(l) = lost {
                let all = self.lost.get_or_insert_with(LostData::default);
                all.msgs.extend(l.msgs);
                all.msgs.sort_unstable();
                all.bytes += l.bytes;
            }
            // Only the last block may stay empty (it remembers the last
            // sequence).
            if mb.msgs == 0 && i + 1 < n {
                mb.remove_files()?;
                continue;
            }
            self.blks.push(mb);
        }
        let last = self.blks.iter().map(|b| b.last).max_by_key(|m| m.seq);
        let Some(lmb) = self.blks.last_mut() else {
            let mut mb = self.new_mb(1, MsgId::default())?;
            mb.create(self.block_size)?;
            self.blks.push(mb);
            return Ok(());
        };
        self.last = last.unwrap_or_default();
        if lmb.msgs == 0 && lmb.last.seq < self.last.seq {
            // An empty last block that lost its index (a crash right after
            // it was started) follows the block before it.
            lmb.last = self.last;
            lmb.first = MsgId {
                seq: self.last.seq + 1,
                ts: 0,
            };
            lmb.mark_dirty();
        }
        let lmb = &self.blks[self.blks.len() - 1];
        self.msgs = self.blks.iter().map(|b| b.msgs).sum();
        self.bytes = self.blks.iter().map(|b| b.bytes).sum();
        self.first = match self.blks.iter().find(|b| b.msgs > 0) {
            Some(b) => b.first,
            None => MsgId {
                seq: lmb.first.seq,
                ts: Timestamp::UNIX_EPOCH,
            },
        };
        for mb in &self.blks {
            psim_add(&mut self.psim, mb.index, &mb.fss);
        }
        Ok(())
    }

    fn read_cache(&self) -> MutexGuard<'_, ReadCache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lmb(&mut self) -> Result<&mut MsgBlock, StoreError> {
        self.blks
            .last_mut()
            .ok_or_else(|| StoreError::Io("no message block".into()))
    }

    /// The position of the block that holds `seq`, if in range.
    fn block_of(&self, seq: u64) -> Option<usize> {
        if seq < self.first.seq || seq > self.last.seq {
            return None;
        }
        let pos = self.blks.partition_point(|b| b.last.seq < seq);
        (pos < self.blks.len()).then_some(pos)
    }

    /// The contents of the block at `pos`, from memory or disk.
    fn data(&self, pos: usize) -> Result<Arc<BlockData>, StoreError> {
        let mb = &self.blks[pos];
        if let Some(d) = &mb.cache {
            return Ok(d.clone());
        }
        let mut cache = self.read_cache();
        if let Some(d) = cache.get(mb.index) {
            return Ok(d);
        }
        // A reader that moved on from the block before is most likely
        // scanning: that block is not read again soon (and its buffer can
        // take this one).
        if pos > 0 {
            cache.evict(self.blks[pos - 1].index);
        }
        let buf = mb.read_file()?;
        let d = Arc::new(BlockData::load(buf, &mb.hasher));
        cache.put(mb.index, d.clone());
        Ok(d)
    }

    fn load(&self, seq: u64) -> Result<StoreMsg, StoreError> {
        if seq > self.last.seq {
            return Err(StoreError::Eof);
        }
        let pos = self.block_of(seq).ok_or(StoreError::NotFound)?;
        if !self.blks[pos].holds(seq) {
            return Err(StoreError::NotFound);
        }
        let data = self.data(pos)?;
        let r = data.record(seq).ok_or(StoreError::NotFound)?;
        Ok(to_msg(&r))
    }

    /// The block about to be written keeps its contents itself: what the
    /// read cache holds of it moves there (else it would go stale).
    fn adopt_lmb_data(&mut self) {
        let Some(lmb) = self.blks.last() else {
            return;
        };
        if lmb.cache.is_none() {
            let index = lmb.index;
            let data = self.read_cache().take(index);
            if let Some(lmb) = self.blks.last_mut() {
                lmb.cache = data;
            }
        }
    }

    /// Closes the block being written and starts the next one. The closed
    /// block's contents leave memory (a reader loads them again): a stream
    /// written faster than it is read must not hold its blocks. Its buffer,
    /// when nobody reads it, becomes the next block's: one allocation for
    /// the life of the stream, which the allocator cannot scatter.
    fn new_block(&mut self) -> Result<(), StoreError> {
        let lmb = self.lmb()?;
        let index = lmb.index;
        let reused = lmb
            .seal()?
            .and_then(|d| Arc::try_unwrap(d).ok())
            .map(|d| d.buf);
        let mut mb = self.new_mb(index + 1, self.last)?;
        match reused {
            Some(buf) => mb.create_with(buf)?,
            None => mb.create(self.block_size)?,
        }
        self.blks.push(mb);
        Ok(())
    }

    fn max_per_subject(&self) -> u64 {
        self.limits.max_msgs_per_subject.max(0) as u64
    }

    /// The first message of `subject`, moving its first block on.
    fn first_seq_of_subject(&mut self, subject: &str) -> Option<u64> {
        let p = self.psim.get_mut(subject)?;
        let start = self.blks.partition_point(|b| b.index < p.fblk);
        for mb in &self.blks[start..] {
            if mb.index > p.lblk {
                break;
            }
            if let Some(ss) = mb.fss.get(subject) {
                p.fblk = mb.index;
                return Some(ss.first);
            }
        }
        None
    }

    /// The stored size of message `seq` (0 when there is none).
    fn size_of(&self, seq: u64) -> u64 {
        let Some(pos) = self.block_of(seq) else {
            return 0;
        };
        self.data(pos)
            .ok()
            .and_then(|d| d.record(seq).map(|r| r.size()))
            .unwrap_or(0)
    }

    /// Go's checks of a new message against discard-new limits.
    fn refuses(&mut self, subject: &str, size: u64) -> Result<(), StoreError> {
        if self.limits.discard != Discard::New {
            return Ok(());
        }
        let maxp = self.max_per_subject();
        let at_subject_limit = maxp > 0
            && !subject.is_empty()
            && self.psim.get(subject).is_some_and(|p| p.total >= maxp);
        if at_subject_limit && self.limits.discard_new_per_subject {
            return Err(StoreError::MaxMsgsPerSubject);
        }
        let (max_msgs, max_bytes) = (self.limits.max_msgs, self.limits.max_bytes);
        if max_msgs > 0 && self.msgs >= max_msgs as u64 && !at_subject_limit {
            return Err(StoreError::MaxMsgs);
        }
        if max_bytes > 0 && self.bytes + size >= max_bytes as u64 {
            if !at_subject_limit {
                return Err(StoreError::MaxBytes);
            }
            // At the subject's limit its first message goes: is that room
            // enough?
            let first = self.first_seq_of_subject(subject).unwrap_or(0);
            if self.size_of(first) <= size {
                return Err(StoreError::MaxBytes);
            }
        }
        Ok(())
    }

    /// Syncs as configured after a write.
    fn sync_after_write(&mut self) -> Result<(), StoreError> {
        if self.sync_always {
            self.lmb()?.sync()
        } else {
            if self.last_sync.elapsed() >= self.sync_interval {
                // A failed periodic sync is retried at the next one.
                let _ = self.flush();
            }
            Ok(())
        }
    }

    fn remove(&mut self, seq: u64, secure: bool) -> bool {
        self.try_remove(seq, secure).unwrap_or(false)
    }

    fn try_remove(&mut self, seq: u64, secure: bool) -> Result<bool, StoreError> {
        if self.closed || seq == 0 {
            return Ok(false);
        }
        // Encrypted, Go does not overwrite a removed message's record.
        let secure = secure && self.enc.is_none();
        let Some(pos) = self.block_of(seq) else {
            return Ok(false);
        };
        if !self.blks[pos].holds(seq) {
            return Ok(false);
        }
        let mut data = self.data(pos)?;
        let Some((subject, size, len)) = data
            .record(seq)
            .map(|r| (r.subject_str().into_owned(), r.size(), r.len))
        else {
            return Ok(false);
        };
        let offset = data.offset(seq).unwrap_or_default();
        self.msgs -= 1;
        self.bytes -= size;
        psim_remove(&mut self.psim, &subject);
        let is_last = pos + 1 == self.blks.len();
        let mb = &mut self.blks[pos];
        mb.msgs -= 1;
        mb.bytes -= size;
        mb.remove_seq_per_subject(&subject, seq, &data);
        let fifo = seq == mb.first.seq;
        if fifo {
            mb.select_next_first(&data);
        } else {
            mb.dmap.insert(seq);
        }
        mb.mark_dirty();
        if secure && !mb.is_empty() {
            // The index says the message is gone before its record is
            // overwritten: a crash in between leaves it removed, where the
            // other order would leave it counted and unreadable.
            mb.write_index()?;
            drop(data);
            mb.erase(seq, offset, len)?;
            let index = mb.index;
            self.read_cache().evict(index);
            data = self.data(pos)?;
        }
        let mb = &mut self.blks[pos];
        if !fifo && !is_last && mb.is_sparse() {
            // Compaction only reclaims space: if it fails, the block stays.
            if let Ok(compacted) = mb.compact(&data) {
                let index = mb.index;
                self.read_cache().put(index, compacted);
            }
        }
        let mb = &mut self.blks[pos];
        drop(data);
        if !mb.is_empty() {
            if seq == self.first.seq {
                self.first = mb.first;
            }
            // An erased record is on disk already: the index says so at
            // once, or a crash would leave it counted. Otherwise a failed
            // write leaves the block dirty: it is retried.
            let due = match (secure, fifo) {
                (true, _) => Duration::ZERO,
                (false, true) => INDEX_WRITE_FIFO,
                (false, false) => INDEX_WRITE_INTERIOR,
            };
            let _ = mb.write_index_if_due(due);
            return Ok(true);
        }
        // The message is gone either way; files that fail to go are found
        // again at recovery (as with Go, which ignores these errors too).
        let index = mb.index;
        if is_last {
            let _ = mb.truncate_keep_index();
        } else {
            let _ = mb.remove_files();
            self.blks.remove(pos);
        }
        self.read_cache().evict(index);
        if seq == self.first.seq {
            self.select_next_first(Timestamp::UNIX_EPOCH);
        }
        Ok(true)
    }

    /// The first message is that of the first block with any; with none,
    /// the first time is `if_empty` (Go reports the epoch after removals,
    /// its zero time after a compaction).
    fn select_next_first(&mut self, if_empty: i64) {
        self.first = match self.blks.iter().find(|b| b.msgs > 0) {
            Some(b) => b.first,
            None => MsgId {
                seq: self.last.seq + 1,
                ts: if_empty,
            },
        };
    }

    fn enforce_per_subject(&mut self, subject: &str) {
        let maxp = self.max_per_subject();
        while self.psim.get(subject).is_some_and(|p| p.total > maxp) {
            let Some(seq) = self.first_seq_of_subject(subject) else {
                break;
            };
            if !self.remove(seq, false) {
                break;
            }
        }
    }

    fn enforce_all_per_subject(&mut self) {
        let maxp = self.max_per_subject();
        let over: Vec<String> = self
            .psim
            .iter()
            .filter(|(_, p)| p.total > maxp)
            .map(|(s, _)| s.clone())
            .collect();
        for s in over {
            self.enforce_per_subject(&s);
        }
    }

    fn enforce_msg_and_byte_limits(&mut self) {
        let (max_msgs, max_bytes) = (self.limits.max_msgs, self.limits.max_bytes);
        while max_msgs > 0 && self.msgs > max_msgs as u64 {
            if !self.remove(self.first.seq, false) {
                break;
            }
        }
        while max_bytes > 0 && self.bytes > max_bytes as u64 {
            if !self.remove(self.first.seq, false) {
                break;
            }
        }
    }

    /// Drops every block and starts anew with one empty block, whose
    /// first message will follow `last`.
    fn reset_blocks(&mut self, last: MsgId) -> Result<(), StoreError> {
        self.blks.clear();
        self.read_cache().clear();
        self.psim.clear();
        self.msgs = 0;
        self.bytes = 0;
        self.last = last;
        self.first = MsgId {
            seq: last.seq + 1,
            ts: 0,
        };
        let pdir = self.dir.join(PURGE_DIR);
        let moved = (|| -> Result<(), StoreError> {
            if pdir.exists() {
                fs::remove_dir_all(&pdir)?;
            }
            fs::rename(&self.mdir, &pdir)?;
            fs::remove_dir_all(&pdir)?;
            Ok(())
        })();
        let mut mb = MsgBlock::new(&self.mdir, &self.name, 1, last);
        let created = fs::create_dir_all(&self.mdir)
            .map_err(StoreError::from)
            .and_then(|_| match &self.enc {
                Some(enc) => mb.create_keys(enc, &self.name),
                None => Ok(()),
            })
            .and_then(|_| mb.create(self.block_size))
            .and_then(|_| mb.write_state());
        self.blks.push(mb);
        moved.and(created)
    }

    /// Removes the messages before `seq`, which is within the stream.
    fn compact_before(&mut self, seq: u64) -> Result<u64, StoreError> {
        let mut purged = 0;
        while self.blks.len() > 1 && self.blks[0].last.seq < seq {
            let mut mb = self.blks.remove(0);
            purged += mb.msgs;
            self.msgs -= mb.msgs;
            self.bytes -= mb.bytes;
            psim_sub(&mut self.psim, &mb.fss);
            self.read_cache().evict(mb.index);
            // (Files that fail to go are found again at recovery.)
            let _ = mb.remove_files();
        }
        if seq <= self.blks[0].first.seq {
            self.select_next_first(0);
            return Ok(purged);
        }
        let data = self.data(0)?;
        let is_last = self.blks.len() == 1;
        let mb = &mut self.blks[0];
        let (mut removed, mut bytes) = (0, 0);
        for r in data.records_from(mb.first.seq) {
            if r.seq >= seq {
                break;
            }
            if mb.holds(r.seq) {
                removed += 1;
                bytes += r.size();
            }
        }
        psim_sub(&mut self.psim, &mb.fss);
        mb.msgs -= removed;
        mb.bytes -= bytes;
        mb.first.seq = seq - 1;
        mb.select_next_first(&data);
        mb.prune_dmap();
        mb.rebuild_fss(&data);
        psim_add(&mut self.psim, mb.index, &mb.fss);
        // As Go: a block now mostly head space is rewritten from its first
        // message; only to reclaim space, so a failure leaves it as it was.
        let reclaimed = (!mb.is_empty() && mb.bytes * 2 < mb.rbytes)
            .then(|| mb.compact(&data).ok())
            .flatten();
        drop(data);
        if let Some(compacted) = reclaimed {
            let index = mb.index;
            if is_last {
                mb.cache = Some(compacted);
                self.read_cache().evict(index);
            } else {
                self.read_cache().put(index, compacted);
            }
        }
        let mb = &mut self.blks[0];
        self.msgs -= removed;
        self.bytes -= bytes;
        purged += removed;
        if !mb.is_empty() {
            mb.write_index()?;
        } else if is_last {
            mb.truncate_keep_index()?;
        } else {
            let index = mb.index;
            let _ = mb.remove_files();
            self.blks.remove(0);
            self.read_cache().evict(index);
        }
        self.select_next_first(0);
        Ok(purged)
    }
}

/// Adds a block's per-subject state to the store's.
fn psim_add(psim: &mut HashMap<String, Psi>, index: u32, fss: &HashMap<String, SimpleState>) {
    for (subject, ss) in fss {
        match psim.get_mut(subject) {
            Some(p) => {
                p.total += ss.msgs;
                p.fblk = p.fblk.min(index);
                p.lblk = p.lblk.max(index);
            }
            None => {
                let p = Psi {
                    total: ss.msgs,
                    fblk: index,
                    lblk: index,
                };
                psim.insert(subject.clone(), p);
            }
        }
    }
}

/// Takes a block's per-subject state out of the store's.
fn psim_sub(psim: &mut HashMap<String, Psi>, fss: &HashMap<String, SimpleState>) {
    for (subject, ss) in fss {
        if let Some(p) = psim.get_mut(subject) {
            p.total = p.total.saturating_sub(ss.msgs);
            if p.total == 0 {
                psim.remove(subject);
            }
        }
    }
}

fn psim_remove(psim: &mut HashMap<String, Psi>, subject: &str) {
    if let Some(p) = psim.get_mut(subject) {
        p.total -= 1;
        if p.total == 0 {
            psim.remove(subject);
        }
    }
}

impl StreamStore for FileStore {
    fn store_msg(
        &mut self,
        subject: &str,
        hdr: &[u8],
        msg: &[u8],
        ts: i64,
    ) -> Result<u64, StoreError> {
        let seq = self.last.seq + 1;
        self.store_raw_msg(subject, hdr, msg, seq, ts)?;
        Ok(seq)
    }

    fn store_msg_held(
        &mut self,
        subject: &str,
        hdr: &[u8],
        msg: &[u8],
        ts: i64,
    ) -> Result<u64, StoreError> {
        self.hold_writes = true;
        let stored = self.store_msg(subject, hdr, msg, ts);
        self.hold_writes = false;
        stored
    }

    /// One write for the records held back, then the sync after a write
    /// (with `sync_always`, one fsync for them all: a group commit).
    fn write_held(&mut self) -> Result<(), StoreError> {
        if self.closed {
            // Stopping wrote them.
            return Ok(());
        }
        self.lmb()?.write_pending()?;
        self.sync_after_write()
    }

    fn store_raw_msg(
        &mut self,
        subject: &str,
        hdr: &[u8],
        msg: &[u8],
        seq: u64,
        ts: i64,
    ) -> Result<(), StoreError> {
        if self.closed {
            return Err(StoreError::Closed);
        }
        if !record::fits(subject, hdr, msg) {
            return Err(StoreError::MsgTooLarge);
        }
        // Go compares payload and headers only against max bytes here.
        self.refuses(subject, (hdr.len() + msg.len()) as u64)?;
        let next = self.last.seq + 1;
        let seq = match seq {
            s if s == next => s,
            0 => next,
            _ => return Err(StoreError::SequenceMismatch),
        };
        let size = file_msg_size(subject, hdr, msg);
        let block_size = self.block_size;
        let lmb = self.lmb()?;
        if lmb.msgs > 0 && lmb.rbytes + size > block_size {
            self.new_block()?;
        }
        self.adopt_lmb_data();
        let hold = self.hold_writes;
        let lmb = self.lmb()?;
        lmb.append(seq, ts, subject, hdr, msg, hold)?;
        let index = lmb.index;
        if !hold {
            self.sync_after_write()?;
        }
        if !subject.is_empty() {
            match self.psim.get_mut(subject) {
                Some(p) => {
                    p.total += 1;
                    p.lblk = index;
                }
                None => {
                    let p = Psi {
                        total: 1,
                        fblk: index,
                        lblk: index,
                    };
                    self.psim.insert(subject.to_string(), p);
                }
            }
        }
        if self.msgs == 0 {
            self.first = MsgId { seq, ts };
        }
        self.msgs += 1;
        self.bytes += size;
        self.last = MsgId { seq, ts };
        if !subject.is_empty() && self.max_per_subject() > 0 {
            self.enforce_per_subject(subject);
        }
        self.enforce_msg_and_byte_limits();
        // The message is stored: a failed index write is retried later.
        let _ = self.lmb()?.write_index_if_due(INDEX_WRITE_FIFO);
        Ok(())
    }

    fn skip_msg(&mut self, ts: i64) -> u64 {
        let seq = self.last.seq + 1;
        self.last = MsgId { seq, ts };
        if self.msgs == 0 {
            self.first = MsgId { seq: seq + 1, ts };
        }
        if self.closed {
            return seq;
        }
        self.adopt_lmb_data();
        if let Ok(lmb) = self.lmb() {
            // The sequence is used either way; the next .idx write or a
            // rebuild records it.
            let _ = lmb.skip(seq, ts);
            let _ = lmb.write_index_if_due(INDEX_WRITE_FIFO);
        }
        seq
    }

    fn load_msg(&self, seq: u64) -> Result<StoreMsg, StoreError> {
        self.load(seq)
    }

    fn load_next_msg(&self, filter: &str, start: u64) -> Result<StoreMsg, StoreError> {
        self.next_matching(filter, start)
    }

    fn load_last_msg(&self, filter: &str) -> Result<StoreMsg, StoreError> {
        let seq = if filter.is_empty() || filter == ">" {
            self.last.seq
        } else {
            self.last_matching(filter).ok_or(StoreError::NotFound)?
        };
        self.load(seq).map_err(|_| StoreError::NotFound)
    }

    fn remove_msg(&mut self, seq: u64) -> bool {
        self.remove(seq, false)
    }

    fn erase_msg(&mut self, seq: u64) -> bool {
        self.remove(seq, true)
    }

    fn purge(&mut self) -> u64 {
        if self.closed {
            return 0;
        }
        let purged = self.msgs;
        // Whatever failed on disk, the store is empty from here on.
        let _ = self.reset_blocks(self.last);
        purged
    }

    fn purge_ex(&mut self, subject: &str, seq: u64, keep: u64) -> Result<u64, StoreError> {
        if seq > 1 && keep > 0 {
            return Err(StoreError::PurgeArgMismatch);
        }
        if subject.is_empty() || subject == ">" {
            if keep == 0 && seq <= 1 {
                return Ok(self.purge());
            }
            if seq > 1 {
                return self.compact(seq);
            }
            if keep >= self.msgs {
                return Ok(0);
            }
            return self.compact(self.last.seq - keep + 1);
        }
        let ss = self.filtered_state(1, subject);
        if ss.msgs == 0 {
            return Ok(0);
        }
        let mut max = ss.msgs;
        if keep > 0 {
            if keep >= ss.msgs {
                return Ok(0);
            }
            max -= keep;
        }
        let last = if seq > 1 { seq - 1 } else { ss.last };
        let seqs = self.matching_seqs(subject, ss.first, last.max(ss.first), max as usize);
        let mut purged = 0;
        for s in seqs {
            if self.remove(s, false) {
                purged += 1;
            }
        }
        Ok(purged)
    }

    fn compact(&mut self, seq: u64) -> Result<u64, StoreError> {
        if self.closed {
            return Err(StoreError::Closed);
        }
        if seq == 0 {
            return Ok(self.purge());
        }
        if seq > self.last.seq {
            let purged = self.msgs;
            let last = MsgId {
                seq: seq - 1,
                ts: self.last.ts,
            };
            self.reset_blocks(last)?;
            return Ok(purged);
        }
        if seq <= self.first.seq {
            return Ok(0);
        }
        self.compact_before(seq)
    }

    fn seq_from_time(&self, ts: i64) -> u64 {
        self.first_at_or_after(ts)
    }

    fn filtered_state(&self, start: u64, filter: &str) -> SimpleState {
        self.filtered(start, filter)
    }

    fn subjects_state(&self, filter: &str) -> Vec<(String, SimpleState)> {
        self.per_subject(filter)
    }

    /// As Go's file store: the deleted sequences listed are the blocks'
    /// interior deletes, and they are what is counted (so not the
    /// sequences of removed blocks, nor those before a block's first
    /// message; [`StreamStore::fast_state`] counts every gap).
    fn state(&self) -> StreamState {
        let mut st = self.fast_state();
        st.deleted = self.interior_deletes();
        st.num_deleted = st.deleted.len();
        st
    }

    fn fast_state(&self) -> StreamState {
        let mut st = StreamState {
            msgs: self.msgs,
            bytes: self.bytes,
            first_seq: self.first.seq,
            first_ts: self.first.ts,
            last_seq: self.last.seq,
            // A last message read back with no time (an erased record)
            // reads as Go's time.Unix(0, 0), not as its zero time.
            last_ts: match self.last {
                MsgId { seq, ts: 0 } if seq > 0 => Timestamp::UNIX_EPOCH,
                MsgId { ts, .. } => ts,
            },
            num_subjects: self.psim.len(),
            ..Default::default()
        };
        if st.last_seq > st.first_seq {
            st.num_deleted = ((st.last_seq - st.first_seq) + 1 - st.msgs) as usize;
        }
        st
    }

    fn update_limits(&mut self, limits: Limits, now: i64) {
        // Go enforces a per-subject limit at once only when it goes down
        // from a set one: from none (0 or -1) to one, the old messages stay.
        let before = self.limits.max_msgs_per_subject;
        self.limits = limits;
        self.enforce_msg_and_byte_limits();
        let maxp = self.limits.max_msgs_per_subject;
        if maxp > 0 && maxp < before {
            self.enforce_all_per_subject();
        }
        self.expire(now);
    }

    fn expire(&mut self, now: i64) -> Option<Duration> {
        let max_age = self.limits.max_age.as_nanos() as i64;
        if max_age == 0 {
            return None;
        }
        let mut expired = false;
        let mut next = None;
        while self.msgs > 0 {
            if self.first.ts > now - max_age {
                let due = self.first.ts + max_age - now;
                next = Some(Duration::from_nanos(due.max(0) as u64));
                break;
            }
            if !self.remove(self.first.seq, false) {
                break;
            }
            expired = true;
        }
        // As Go's expiry, the changed blocks' indexes are written at once
        // (a failure leaves them dirty for the next checkpoint).
        if expired {
            let _ = self.checkpoint();
        }
        next
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        for mb in &mut self.blks {
            mb.write_state()?;
        }
        self.lmb()?.sync()?;
        self.last_sync = Instant::now();
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<(), StoreError> {
        if self.closed {
            return Ok(());
        }
        for mb in &mut self.blks {
            mb.write_state()?;
        }
        if self.last_sync.elapsed() >= self.sync_interval {
            self.lmb()?.sync()?;
            self.last_sync = Instant::now();
        }
        Ok(())
    }

    fn stop(&mut self) -> Result<(), StoreError> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let mut result = Ok(());
        for mb in &mut self.blks {
            if let Err(e) = mb.seal() {
                result = result.and(Err(e));
            }
        }
        self.read_cache().clear();
        result
    }

    fn delete(&mut self) -> Result<(), StoreError> {
        self.closed = true;
        self.blks.clear();
        self.read_cache().clear();
        fs::remove_dir_all(&self.dir)?;
        Ok(())
    }

    fn lost_data(&self) -> Option<LostData> {
        self.lost.clone()
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        // A clean stop; what cannot be written now is rebuilt at recovery.
        let _ = self.stop();
    }
}
