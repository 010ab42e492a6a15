//! What monitoring reads of JetStream: the server's usage figures, an
//! account's reservations and the totals of its streams.

use super::account::JsAccount;
use super::JetStream;
use std::sync::atomic::Ordering;

/// The server-wide figures of `/jsz` and `/varz` (Go's JetStreamStats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageStats {
    pub memory: u64,
    pub storage: u64,
    pub reserved_memory: u64,
    pub reserved_storage: u64,
    pub accounts: usize,
    /// Replicated assets; always 0 on one server.
    pub ha_assets: usize,
    pub api_total: u64,
    pub api_errors: u64,
}

/// What the streams of one or more accounts hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamTotals {
    pub streams: usize,
    pub consumers: usize,
    pub messages: u64,
    pub bytes: u64,
}

impl StreamTotals {
    fn add(&mut self, other: StreamTotals) {
        self.streams += other.streams;
        self.consumers += other.consumers;
        self.messages += other.messages;
        self.bytes += other.bytes;
    }
}

impl JetStream {
    /// Usage, reservations, account count and API counters, now.
    pub fn usage_stats(&self) -> UsageStats {
        let (memory, storage) = self.usage();
        UsageStats {
            memory,
            storage,
            // Reservations are never negative once released; Go prints
            // them unsigned.
            reserved_memory: self.memory_reserved.load(Ordering::Relaxed) as u64,
            reserved_storage: self.store_reserved.load(Ordering::Relaxed) as u64,
            accounts: self.accounts().len(),
            ha_assets: 0,
            api_total: self.api_total.load(Ordering::Relaxed),
            api_errors: self.api_errors.load(Ordering::Relaxed),
        }
    }

    /// The totals of every account's streams.
    pub fn stream_totals(&self) -> StreamTotals {
        let mut t = StreamTotals::default();
        for a in self.accounts() {
            t.add(a.stream_totals());
        }
        t
    }
}

impl JsAccount {
    /// The account's memory and storage limits as Go reports them in
    /// `/jsz` account details: unsigned, so no limit (-1) is 2^64-1.
    pub fn reserved(&self) -> (u64, u64) {
        let l = self.limits();
        (l.max_memory as u64, l.max_store as u64)
    }

    /// The totals of this account's streams.
    pub fn stream_totals(&self) -> StreamTotals {
        let mut t = StreamTotals::default();
        for s in self.stream_list() {
            let st = s.state();
            t.streams += 1;
            t.consumers += st.consumer_count;
            t.messages += st.messages;
            t.bytes += st.bytes;
        }
        t
    }
}
