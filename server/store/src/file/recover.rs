//! Bringing a block back from disk. Its .idx is taken as the truth when it
//! matches the block file's tail (the last record's checksum); otherwise
//! the block is rebuilt record by record, keeping what a stale .idx still
//! knows (the first sequence and the interior deletes), as Go does. A torn
//! or corrupt record ends the block: the file is cut there and what was
//! lost is reported.

use super::block::{MsgBlock, MsgId};
use super::cache::BlockData;
use super::crypt::Encryption;
use super::index::{decode_fss, decode_index, IndexRead};
use super::record::{Record, CHECKSUM_SIZE};
use crate::{LostData, SimpleState, StoreError};
use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The checksum at the end of a block file (zeros when it is shorter).
fn tail_checksum(mb: &MsgBlock, len: u64) -> Result<[u8; 8], StoreError> {
    let mut tail = [0u8; CHECKSUM_SIZE];
    if len >= CHECKSUM_SIZE as u64 {
        let at = len - CHECKSUM_SIZE as u64;
        fs::File::open(&mb.blk_path)?.read_exact_at(&mut tail, at)?;
        if let Some(k) = &mb.keys {
            k.block_cipher().apply(&mut tail, at);
        }
    }
    Ok(tail)
}

/// Recovers block `index` of `stream` (with its keys, converted as
/// needed, when `enc` is set); also returns what was lost.
pub(crate) fn recover_block(
    mdir: &Path,
    stream: &str,
    index: u32,
    enc: Option<&Encryption>,
) -> Result<(MsgBlock, Option<LostData>), StoreError> {
    let mut mb = MsgBlock::new(mdir, stream, index, MsgId::default());
    mb.first = MsgId::default();
    if let Some(enc) = enc {
        super::convert::block_keys(&mut mb, enc, stream)?;
    }
    let len = fs::metadata(&mb.blk_path)?.len();
    mb.rbytes = len;
    let tail = tail_checksum(&mb, len)?;
    let mut seed_last = 0;
    match mb.read_index_file().map(|b| decode_index(&b)) {
        Some(Ok(IndexRead::Whole(info)))
            if (len == 0 && info.msgs == 0) || (len > 0 && info.lchk == tail) =>
        {
            mb.apply_index(info);
            mb.prune_dmap();
            recover_fss(&mut mb)?;
            return Ok((mb, None));
        }
        Some(Ok(IndexRead::Whole(info))) => {
            mb.first.seq = info.first_seq;
            seed_last = info.last_seq;
            mb.dmap = info.dmap.into_iter().collect();
        }
        Some(Ok(IndexRead::Inconsistent { first_seq })) => mb.first.seq = first_seq,
        _ => {}
    }
    let lost = rebuild(&mut mb, seed_last)?;
    mb.mark_dirty();
    // The index is derived from the records: on a full disk the store still
    // opens, and the block, left dirty, is written at a later checkpoint.
    let _ = mb.write_state();
    Ok((mb, lost))
}

/// Takes the .fss when it is current and adds up; rebuilds it otherwise.
fn recover_fss(mb: &mut MsgBlock) -> Result<(), StoreError> {
    if mb.msgs == 0 {
        return Ok(());
    }
    let read = fs::read(mb.fss_path())
        .ok()
        .and_then(|b| decode_fss(&b, &mb.hasher, &mb.lchk));
    if let Some(entries) = read {
        if entries.iter().map(|(_, ss)| ss.msgs).sum::<u64>() == mb.msgs {
            mb.fss = entries.into_iter().collect();
            return Ok(());
        }
    }
    let data = BlockData::load(mb.read_file()?, &mb.hasher);
    mb.rebuild_fss(&data);
    Ok(())
}

/// Rebuilds a block's state from its records. `seed_last` is the last
/// sequence a stale .idx knew: those past what is recovered are lost.
fn rebuild(mb: &mut MsgBlock, seed_last: u64) -> Result<Option<LostData>, StoreError> {
    let buf = mb.read_file()?;
    mb.msgs = 0;
    mb.bytes = 0;
    mb.last = MsgId::default();
    mb.fss.clear();
    let mut first_set = false;
    let mut at = 0;
    let mut bad = false;
    while at < buf.len() {
        let r = match Record::parse(&buf[at..]) {
            Ok(r) => r,
            Err(_) => {
                bad = true;
                break;
            }
        };
        let end = at + r.len;
        if r.deleted || r.seq < mb.first.seq {
            if r.seq != 0 && r.seq >= mb.first.seq {
                mb.dmap.insert(r.seq);
            }
        } else {
            if !first_set && r.seq > mb.first.seq {
                first_set = true;
                mb.first = MsgId {
                    seq: r.seq,
                    ts: r.ts,
                };
            }
            if !mb.dmap.contains(&r.seq) {
                if !r.verify(&mb.hasher) {
                    // Go has taken the record's sequence as the block's
                    // last before it checks the record: the block keeps
                    // it as its last, and what is lost starts after it.
                    mb.last = MsgId {
                        seq: r.seq,
                        ts: r.ts,
                    };
                    bad = true;
                    break;
                }
                if !first_set {
                    first_set = true;
                    mb.first = MsgId {
                        seq: r.seq,
                        ts: r.ts,
                    };
                }
                mb.msgs += 1;
                mb.bytes += r.size();
                if !r.subject.is_empty() {
                    let ss = mb
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
            }
        }
        mb.last = MsgId {
            seq: r.seq,
            ts: r.ts,
        };
        mb.lchk.copy_from_slice(&buf[end - CHECKSUM_SIZE..end]);
        at = end;
    }
    mb.rbytes = at as u64;
    let lost = bad.then(|| LostData {
        msgs: (mb.last.seq + 1..=seed_last).collect(),
        bytes: (buf.len() - at) as u64,
    });
    if bad {
        let f = OpenOptions::new().write(true).open(&mb.blk_path)?;
        f.set_len(at as u64)?;
        f.sync_all()?;
    }
    if mb.msgs == 0 {
        let first = mb.first.seq.max(mb.last.seq + 1);
        mb.first = MsgId { seq: first, ts: 0 };
        mb.last.seq = first - 1;
        mb.dmap.clear();
    } else {
        let (first, last) = (mb.first.seq, mb.last.seq);
        mb.dmap.retain(|&s| s > first && s <= last);
    }
    Ok(lost)
}
