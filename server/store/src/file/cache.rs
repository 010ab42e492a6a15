//! Blocks' contents in memory: the bytes of a block file with each
//! record's offset by sequence, and a small cache of the blocks last read.

use super::checksum::Hasher;
use super::record::Record;
use std::sync::Arc;

/// No record for this sequence.
const NONE: u32 = u32::MAX;
/// How many blocks (besides the one being written) stay loaded.
const READ_CACHE_BLOCKS: usize = 2;

/// A block file's bytes, indexed by sequence.
#[derive(Clone, Default)]
pub(crate) struct BlockData {
    pub buf: Vec<u8>,
    /// The sequence of `slots[0]`.
    fseq: u64,
    /// The offset of each sequence's record from `fseq` on, or NONE.
    slots: Vec<u32>,
}

impl BlockData {
    /// Empty, writing into `buf` (which must be empty).
    pub(crate) fn with_buffer(buf: Vec<u8>) -> Self {
        BlockData {
            buf,
            ..Default::default()
        }
    }

    /// Indexes a block file's bytes. A record whose checksum fails is left
    /// out (its sequence reads as missing), and so is everything from the
    /// first bytes that are no record (a torn or corrupt tail).
    pub(crate) fn load(buf: Vec<u8>, hasher: &Hasher) -> Self {
        let mut data = BlockData {
            buf,
            ..Default::default()
        };
        let mut at = 0;
        while at < data.buf.len() {
            let Ok(r) = Record::parse(&data.buf[at..]) else {
                break;
            };
            let (seq, len) = (r.seq, r.len);
            if r.deleted || r.verify(hasher) {
                data.index(seq, at);
            }
            at += len;
        }
        data
    }

    /// Records that sequence `seq` starts at `offset`. Sequences only grow
    /// in a block; one that does not is left unindexed.
    pub(crate) fn index(&mut self, seq: u64, offset: usize) {
        if seq == 0 {
            return;
        }
        if self.slots.is_empty() {
            self.fseq = seq;
        }
        let Some(slot) = seq.checked_sub(self.fseq).map(|s| s as usize) else {
            return;
        };
        if slot < self.slots.len() {
            return;
        }
        self.slots.resize(slot, NONE);
        self.slots.push(offset as u32);
    }

    /// Where the record of `seq` starts, whatever it holds.
    pub(crate) fn offset(&self, seq: u64) -> Option<usize> {
        let slot = usize::try_from(seq.checked_sub(self.fseq)?).ok()?;
        match *self.slots.get(slot)? {
            NONE => None,
            off => Some(off as usize),
        }
    }

    /// The message record of `seq`, if the block holds one.
    pub(crate) fn record(&self, seq: u64) -> Option<Record<'_>> {
        let r = Record::parse(&self.buf[self.offset(seq)?..]).ok()?;
        (r.seq == seq && !r.deleted).then_some(r)
    }

    /// The message records from `seq` on, in order.
    pub(crate) fn records_from(&self, seq: u64) -> impl Iterator<Item = Record<'_>> {
        let start = seq.saturating_sub(self.fseq).min(self.slots.len() as u64) as usize;
        self.slots[start..]
            .iter()
            .filter(|&&off| off != NONE)
            .filter_map(|&off| Record::parse(&self.buf[off as usize..]).ok())
            .filter(|r| !r.deleted)
    }
}

/// A block's buffer goes back for reuse when no reader holds it any more.
fn recycle(data: Arc<BlockData>) {
    if let Ok(d) = Arc::try_unwrap(data) {
        super::buffers::give(d.buf);
    }
}

/// The blocks last read, newest last, by block index.
#[derive(Default)]
pub(crate) struct ReadCache {
    entries: Vec<(u32, Arc<BlockData>)>,
}

impl ReadCache {
    pub(crate) fn get(&mut self, index: u32) -> Option<Arc<BlockData>> {
        let at = self.entries.iter().position(|(i, _)| *i == index)?;
        let entry = self.entries.remove(at);
        let data = entry.1.clone();
        self.entries.push(entry);
        Some(data)
    }

    pub(crate) fn put(&mut self, index: u32, data: Arc<BlockData>) {
        self.evict(index);
        if self.entries.len() >= READ_CACHE_BLOCKS {
            recycle(self.entries.remove(0).1);
        }
        self.entries.push((index, data));
    }

    /// Takes a block's contents out of the cache.
    pub(crate) fn take(&mut self, index: u32) -> Option<Arc<BlockData>> {
        let at = self.entries.iter().position(|(i, _)| *i == index)?;
        Some(self.entries.remove(at).1)
    }

    /// Forgets a block whose file changed or went.
    pub(crate) fn evict(&mut self, index: u32) {
        if let Some(at) = self.entries.iter().position(|(i, _)| *i == index) {
            recycle(self.entries.remove(at).1);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::record::{encode, encode_deleted};

    #[test]
    fn indexes_records_and_skips_bad_ones() {
        let h = Hasher::for_block("S", 1);
        let mut buf = Vec::new();
        encode(&mut buf, &h, 5, 1, "a", b"", b"one");
        encode_deleted(&mut buf, &h, 6, 2, b"");
        let third = buf.len();
        encode(&mut buf, &h, 8, 3, "b", b"", b"three");
        let fourth = buf.len();
        encode(&mut buf, &h, 9, 4, "c", b"", b"four");
        buf[fourth + 25] ^= 1; // the payload of 9: its checksum fails
        buf.extend_from_slice(&[1, 2, 3]); // a torn tail
        let d = BlockData::load(buf, &h);
        assert_eq!(d.record(5).unwrap().msg, b"one");
        assert!(d.record(6).is_none() && d.offset(6).is_some());
        assert!(d.record(7).is_none() && d.offset(7).is_none());
        assert_eq!(d.offset(8), Some(third));
        assert!(d.record(9).is_none());
        let seqs: Vec<u64> = d.records_from(0).map(|r| r.seq).collect();
        assert_eq!(seqs, vec![5, 8]);
        assert_eq!(d.records_from(6).count(), 1);
        assert_eq!(d.records_from(100).count(), 0);
    }

    #[test]
    fn read_cache_keeps_the_latest() {
        let mut c = ReadCache::default();
        let n = READ_CACHE_BLOCKS as u32;
        for i in 0..n + 2 {
            c.put(i, Arc::new(BlockData::default()));
        }
        assert!(c.get(0).is_none() && c.get(1).is_none());
        assert!(c.get(2).is_some());
        // Reading 2 made it the latest: the next put drops 3.
        c.put(n + 2, Arc::new(BlockData::default()));
        assert!(c.get(2).is_some() && c.get(3).is_none());
        c.evict(2);
        assert!(c.get(2).is_none());
        assert!(c.take(n + 2).is_some() && c.get(n + 2).is_none());
        c.clear();
        assert!(c.get(6).is_none());
    }
}
