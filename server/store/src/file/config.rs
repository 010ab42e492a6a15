//! How a file store is set up, and Go's choice of block size.

use super::crypt::Encryption;
use std::path::PathBuf;
use std::time::Duration;

/// Go's block size for a limits stream with no byte limit.
pub const DEFAULT_LARGE_BLOCK_SIZE: u64 = 8 * 1024 * 1024;
/// Go's block size for interest and work-queue streams, and for streams
/// limited per subject only (KV buckets).
pub const DEFAULT_MEDIUM_BLOCK_SIZE: u64 = 4 * 1024 * 1024;
/// The smallest block Go picks.
pub const MIN_BLOCK_SIZE: u64 = 32 * 1000;
/// The largest block a file store takes.
pub const MAX_BLOCK_SIZE: u64 = DEFAULT_LARGE_BLOCK_SIZE;

/// Where and how a stream's messages are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStoreConfig {
    /// The stream's directory (`<store>/jetstream/<account>/streams/<stream>`).
    pub dir: PathBuf,
    /// Bytes per block file; 0 picks Go's default for a limits stream from
    /// the byte limit ([`dyn_block_size`]).
    pub block_size: u64,
    /// Sync every write to disk.
    pub sync_always: bool,
    /// Otherwise, sync at most this long after a write (checked on each
    /// write; [`crate::StreamStore::flush`] syncs at once).
    pub sync_interval: Duration,
    /// Encrypt at rest (`jetstream { key, cipher }`), as Go does.
    pub encryption: Option<Encryption>,
}

impl FileStoreConfig {
    /// Go's stream defaults: blocks sized from the limits, a sync every two
    /// minutes.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileStoreConfig {
            dir: dir.into(),
            block_size: 0,
            sync_always: false,
            sync_interval: Duration::from_secs(120),
            encryption: None,
        }
    }
}

/// A quarter of the expected total (plus one), rounded up to 100 bytes,
/// then snapped to Go's sizes.
fn tuned(total: u64) -> u64 {
    let mut size = total / 4 + 1;
    if !size.is_multiple_of(100) {
        size += 100 - size % 100;
    }
    if size <= MIN_BLOCK_SIZE {
        MIN_BLOCK_SIZE
    } else if size >= MAX_BLOCK_SIZE {
        MAX_BLOCK_SIZE
    } else {
        DEFAULT_MEDIUM_BLOCK_SIZE
    }
}

/// Go's file store default block size (`dynBlkSize`): from the byte
/// limit when there is one, else by retention.
pub fn dyn_block_size(limits_retention: bool, max_bytes: i64) -> u64 {
    if max_bytes > 0 {
        tuned(max_bytes as u64)
    } else if limits_retention {
        DEFAULT_LARGE_BLOCK_SIZE
    } else {
        DEFAULT_MEDIUM_BLOCK_SIZE
    }
}

/// The block size Go's stream asks for (`autoTuneFileStorageBlockSize`):
/// from the byte limit, else from max messages times the largest message
/// (`max_msg_size`: the stream's, the account's or the server's payload
/// limit, plus its longest literal subject), else 4 MB when only a
/// per-subject limit is set. 0 when nothing is set: the store then picks
/// ([`dyn_block_size`]).
pub fn stream_block_size(
    max_bytes: i64,
    max_msgs: i64,
    max_msgs_per_subject: i64,
    max_msg_size: u64,
) -> u64 {
    if max_bytes > 0 {
        tuned(max_bytes as u64)
    } else if max_msgs > 0 {
        tuned(max_msg_size.saturating_mul(max_msgs as u64))
    } else if max_msgs_per_subject > 0 {
        DEFAULT_MEDIUM_BLOCK_SIZE
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_sizes_as_go() {
        assert_eq!(dyn_block_size(true, 0), 8 * 1024 * 1024);
        assert_eq!(dyn_block_size(false, -1), 4 * 1024 * 1024);
        assert_eq!(dyn_block_size(true, 33_000), 32_000);
        assert_eq!(dyn_block_size(true, 1024 * 1024), 4 * 1024 * 1024);
        assert_eq!(dyn_block_size(true, 64 * 1024 * 1024), 8 * 1024 * 1024);
        assert_eq!(stream_block_size(0, 100, 0, 1024), 32_000);
        assert_eq!(stream_block_size(0, 1000, 0, 1024), 4 * 1024 * 1024);
        assert_eq!(stream_block_size(0, 0, 5, 0), 4 * 1024 * 1024);
        assert_eq!(stream_block_size(0, 0, 0, 1024), 0);
    }
}
