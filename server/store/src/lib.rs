//! natsd's JetStream message stores. A stream keeps its messages in a
//! [`StreamStore`]: the memory store ([`mem::MemStore`]) or the file store
//! ([`file::FileStore`]). A store knows nothing of the server: it stores, loads,
//! removes and purges messages by sequence, enforces the stream's limits
//! as Go 2.9.10's stores do, and reports its state. Time-based expiry is
//! driven by its owner, which asks when to call [`StreamStore::expire`].

pub mod consumer;
pub mod durable;
pub mod file;
pub mod mem;

use std::time::Duration;

/// Why a store refused an operation, with Go's texts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("store is closed")]
    Closed,
    #[error("no message found")]
    NotFound,
    #[error("stream store EOF")]
    Eof,
    #[error("maximum messages exceeded")]
    MaxMsgs,
    #[error("maximum bytes exceeded")]
    MaxBytes,
    #[error("maximum messages per subject exceeded")]
    MaxMsgsPerSubject,
    #[error("invalid sequence")]
    InvalidSequence,
    #[error("expected sequence does not match store")]
    SequenceMismatch,
    #[error("sequence > 1 && keep > 0 not allowed")]
    PurgeArgMismatch,
    #[error("message too large")]
    MsgTooLarge,
    /// A file store's I/O or on-disk state failed; the text says how.
    #[error("{0}")]
    Io(String),
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(e.to_string())
    }
}

/// What is done when a limit is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Discard {
    /// Old messages go to make room.
    #[default]
    Old,
    /// New messages are refused.
    New,
}

/// The limits a store enforces (a stream's config, as the store sees it);
/// 0 or less is no limit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Limits {
    pub max_msgs: i64,
    pub max_bytes: i64,
    pub max_age: Duration,
    pub max_msgs_per_subject: i64,
    pub discard: Discard,
    /// With discard new: refuse a message whose subject is at its limit.
    pub discard_new_per_subject: bool,
}

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreMsg {
    pub subject: String,
    pub hdr: Vec<u8>,
    pub msg: Vec<u8>,
    pub seq: u64,
    /// Nanoseconds since the Unix epoch.
    pub ts: i64,
}

/// Messages, first and last sequence of a subject (or of a filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimpleState {
    pub msgs: u64,
    pub first: u64,
    pub last: u64,
}

/// A store's state, as stream info reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamState {
    pub msgs: u64,
    pub bytes: u64,
    pub first_seq: u64,
    /// Nanoseconds since the Unix epoch; 0 when there is no message.
    pub first_ts: i64,
    pub last_seq: u64,
    pub last_ts: i64,
    pub num_subjects: usize,
    pub num_deleted: usize,
    /// The interior sequences without a message.
    pub deleted: Vec<u64>,
}

/// What a file store found missing or corrupt when it recovered, as
/// stream info's `lost` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LostData {
    /// The sequences that were recorded but could not be recovered.
    pub msgs: Vec<u64>,
    /// The bytes dropped from the blocks' tails.
    pub bytes: u64,
}

/// A stream's message store.
pub trait StreamStore: Send + Sync {
    /// Stores a message with the next sequence, stamped `ts`; returns the
    /// sequence.
    fn store_msg(
        &mut self,
        subject: &str,
        hdr: &[u8],
        msg: &[u8],
        ts: i64,
    ) -> Result<u64, StoreError>;
    /// Stores a message with the given sequence, which must be the next
    /// one (or 0 for the next).
    fn store_raw_msg(
        &mut self,
        subject: &str,
        hdr: &[u8],
        msg: &[u8],
        seq: u64,
        ts: i64,
    ) -> Result<(), StoreError>;
    /// Like [`StreamStore::store_msg`], but a file store may keep the
    /// write to its file in memory until [`StreamStore::write_held`]: a
    /// publisher's batch of messages goes to the file in one write. The
    /// message is stored all the same (readers see it).
    fn store_msg_held(
        &mut self,
        subject: &str,
        hdr: &[u8],
        msg: &[u8],
        ts: i64,
    ) -> Result<u64, StoreError> {
        self.store_msg(subject, hdr, msg, ts)
    }
    /// Writes what [`StreamStore::store_msg_held`] kept back to the
    /// operating system, with the sync the store's policy asks for after a
    /// write. Until it returns Ok, those messages may be lost by a crash.
    fn write_held(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Uses the next sequence without storing anything.
    fn skip_msg(&mut self, ts: i64) -> u64;
    fn load_msg(&self, seq: u64) -> Result<StoreMsg, StoreError>;
    /// The first message at or after `start` whose subject matches
    /// `filter` (empty or `>`: any).
    fn load_next_msg(&self, filter: &str, start: u64) -> Result<StoreMsg, StoreError>;
    /// The last message whose subject matches `filter`.
    fn load_last_msg(&self, filter: &str) -> Result<StoreMsg, StoreError>;
    /// Removes a message; false when there was none.
    fn remove_msg(&mut self, seq: u64) -> bool;
    /// Removes a message and overwrites what it held.
    fn erase_msg(&mut self, seq: u64) -> bool;
    /// Removes every message; returns how many.
    fn purge(&mut self) -> u64;
    /// Go's PurgeEx: the messages of `subject` (all when empty), those
    /// before `seq` when set, keeping the last `keep`.
    fn purge_ex(&mut self, subject: &str, seq: u64, keep: u64) -> Result<u64, StoreError>;
    /// Removes the messages before `seq`.
    fn compact(&mut self, seq: u64) -> Result<u64, StoreError>;
    /// The first sequence stamped at or after `ts`.
    fn seq_from_time(&self, ts: i64) -> u64;
    /// Messages matching `filter` from `start` on.
    fn filtered_state(&self, start: u64, filter: &str) -> SimpleState;
    /// Per subject, those matching `filter` (empty: all).
    fn subjects_state(&self, filter: &str) -> Vec<(String, SimpleState)>;
    fn state(&self) -> StreamState;
    /// The state without the list of deleted sequences (cheap).
    fn fast_state(&self) -> StreamState {
        self.state()
    }
    /// New limits, enforced at once.
    fn update_limits(&mut self, limits: Limits, now: i64);
    /// Removes the messages older than max_age at `now` (ns); returns when
    /// the next one will be due, if any.
    fn expire(&mut self, now: i64) -> Option<Duration>;
    /// Writes out what is buffered and syncs it to disk (a file store's
    /// periodic sync; nothing for the memory store).
    fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Writes out the bookkeeping that changed since the last time (a file
    /// store's block indexes and per-subject state) and syncs to disk when
    /// the sync interval has passed; nothing for the memory store.
    fn checkpoint(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Flushes and closes the store (a file store then refuses writes with
    /// [`StoreError::Closed`]). Call it when the stream stops.
    fn stop(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Removes every message and whatever the store keeps on disk (the
    /// stream is deleted); the store is closed afterwards.
    fn delete(&mut self) -> Result<(), StoreError> {
        self.purge();
        self.stop()
    }
    /// What recovery could not bring back, if anything.
    fn lost_data(&self) -> Option<LostData> {
        None
    }
}

/// Go's stored size of a message: subject, headers, payload and 16 bytes
/// for sequence and time.
pub fn msg_size(subject: &str, hdr: &[u8], msg: &[u8]) -> u64 {
    (subject.len() + hdr.len() + msg.len() + 16) as u64
}

/// Go's file store size of a message: its record on disk, that is a
/// 22-byte header (length, sequence, time, subject length), the subject,
/// the headers with their 4-byte length when there are any, the payload
/// and an 8-byte checksum.
pub fn file_msg_size(subject: &str, hdr: &[u8], msg: &[u8]) -> u64 {
    let hdr_len = if hdr.is_empty() { 0 } else { 4 + hdr.len() };
    (22 + subject.len() + hdr_len + msg.len() + 8) as u64
}

/// Whether a subject passes a filter (empty and `>` pass everything).
pub fn subject_matches(subject: &str, filter: &str) -> bool {
    filter.is_empty()
        || filter == ">"
        || subject == filter
        || (!natsd_proto::subject::is_literal(filter.as_bytes())
            && natsd_proto::subject::is_subset_match(subject, filter))
}
