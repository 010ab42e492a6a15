//! natsd's JetStream message stores. A stream keeps its messages in a
//! [`StreamStore`]: the memory store ([`mem::MemStore`]) or, later, the
//! file store. A store knows nothing of the server: it stores, loads,
//! removes and purges messages by sequence, enforces the stream's limits
//! as Go 2.9.10's stores do, and reports its state. Time-based expiry is
//! driven by its owner, which asks when to call [`StreamStore::expire`].

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
    /// New limits, enforced at once.
    fn update_limits(&mut self, limits: Limits, now: i64);
    /// Removes the messages older than max_age at `now` (ns); returns when
    /// the next one will be due, if any.
    fn expire(&mut self, now: i64) -> Option<Duration>;
}

/// Go's stored size of a message: subject, headers, payload and 16 bytes
/// for sequence and time.
pub fn msg_size(subject: &str, hdr: &[u8], msg: &[u8]) -> u64 {
    (subject.len() + hdr.len() + msg.len() + 16) as u64
}

/// Whether a subject passes a filter (empty and `>` pass everything).
pub fn subject_matches(subject: &str, filter: &str) -> bool {
    filter.is_empty()
        || filter == ">"
        || subject == filter
        || (!natsd_proto::subject::is_literal(filter.as_bytes())
            && natsd_proto::subject::is_subset_match(subject, filter))
}
