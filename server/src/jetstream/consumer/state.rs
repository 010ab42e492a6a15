//! What a consumer tracks between deliveries, and Go's rules for it: the
//! next stream and delivery sequences, the ack floor, the messages waiting
//! for an ack, redelivery counts and queue, the cached count of pending
//! messages, the pull requests waiting, and flow control.

use super::pull::WaitQueue;
use crate::conn::internal::Outgoing;
use natsd_proto::jetstream::consumer::{AckPolicy, ConsumerConfig, DeliverPolicy};
use natsd_store::consumer::{AckMode, ConsumerState, Pending};
use natsd_store::StreamStore;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// 32 MiB: the most a flow-controlled consumer has in flight.
pub const FLOW_CONTROL_MAX_PENDING: i64 = 32 * 1024 * 1024;

/// Deliver-last-per-subject's starting list: the last sequence of each
/// subject, then where to resume.
#[derive(Debug)]
pub struct SkipList {
    pub resume: u64,
    pub seqs: VecDeque<u64>,
}

/// A message fetched but held back (replay at the original rate, or a
/// rate limit), to be sent at `at`.
#[derive(Debug)]
pub struct Held {
    pub msg: natsd_store::StoreMsg,
    pub dc: u64,
    pub dsubj: String,
    pub at: Instant,
}

/// A token bucket in bytes per second (Go's rate.Limiter with a burst).
#[derive(Debug)]
pub struct RateLimit {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    pub fn new(bps: u64, burst: i64) -> Self {
        let burst = burst.max(1) as f64;
        RateLimit {
            rate: (bps / 8) as f64,
            burst,
            tokens: burst,
            at: Instant::now(),
        }
    }

    /// Takes `n` bytes; how long to wait before sending them.
    pub fn reserve(&mut self, n: usize) -> Duration {
        let now = Instant::now();
        let elapsed = now.duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.tokens -= n as f64;
        if self.tokens >= 0.0 || self.rate <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

pub struct State {
    pub cfg: ConsumerConfig,
    /// Next stream sequence to look at.
    pub sseq: u64,
    /// Next delivery sequence.
    pub dseq: u64,
    /// Ack floor: delivery and stream sequences.
    pub adflr: u64,
    pub asflr: u64,
    pub pending: BTreeMap<u64, Pending>,
    /// Redeliveries by stream sequence.
    pub rdc: BTreeMap<u64, u64>,
    pub rdq: VecDeque<u64>,
    pub rdqi: HashSet<u64>,
    /// Go's cached num pending and the highest sequence it counted.
    pub npc: i64,
    pub npcm: u64,
    pub lss: Option<SkipList>,
    pub waiting: Option<WaitQueue>,
    /// A push consumer's deliver subject has interest.
    pub active: bool,
    pub maxp: i64,
    pub maxdc: u64,
    pub sfreq: i32,
    pub pblimit: i64,
    pub maxpb: i64,
    pub pbytes: i64,
    pub fcsz: i64,
    pub fcid: String,
    /// Last delivery and last ack (ns since the epoch; 0: none).
    pub ldt: i64,
    pub lat: i64,
    /// When to look for acks that timed out.
    pub ptmr: Option<Instant>,
    /// When to check whether an inactive consumer goes.
    pub dtmr: Option<Instant>,
    pub dthresh: Duration,
    /// A push consumer's next idle heartbeat.
    pub hb_next: Option<Instant>,
    /// Replaying at the original rate until this sequence.
    pub replay: bool,
    pub replay_until: u64,
    pub lts: i64,
    pub rate: Option<RateLimit>,
    pub held: Option<Held>,
    pub filter_wc: bool,
    /// The state changed since it was last written.
    pub dirty: bool,
    /// What the consumer's store keeps (and a restart reads back): Go's
    /// consumerFileStore state, moved by deliveries and acks on its own
    /// terms, and set to the consumer's view where Go writes that.
    pub store: ConsumerState,
    /// Messages to send once the lock is released.
    pub out: Vec<Outgoing>,
    /// Stream sequences acked for the stream's retention, once the lock
    /// is released.
    pub acked: Vec<u64>,
}

impl State {
    pub fn new(cfg: ConsumerConfig) -> State {
        let waiting = (!cfg.is_push()).then(|| WaitQueue::new(cfg.max_waiting));
        let filter_wc = !cfg.filter_subject.is_empty()
            && !natsd_proto::subject::is_literal(cfg.filter_subject.as_bytes());
        State {
            maxp: cfg.max_ack_pending,
            maxdc: cfg.max_deliver.max(0) as u64,
            sfreq: sample_freq(&cfg.sample_frequency),
            cfg,
            sseq: 1,
            dseq: 1,
            adflr: 0,
            asflr: 0,
            pending: BTreeMap::new(),
            rdc: BTreeMap::new(),
            rdq: VecDeque::new(),
            rdqi: HashSet::new(),
            npc: 0,
            npcm: 0,
            lss: None,
            waiting,
            active: false,
            pblimit: 0,
            maxpb: 0,
            pbytes: 0,
            fcsz: 0,
            fcid: String::new(),
            ldt: 0,
            lat: 0,
            ptmr: None,
            dtmr: None,
            dthresh: Duration::ZERO,
            hb_next: None,
            replay: false,
            replay_until: 0,
            lts: 0,
            rate: None,
            held: None,
            filter_wc,
            dirty: false,
            store: ConsumerState::default(),
            out: Vec::new(),
            acked: Vec::new(),
        }
    }

    pub fn is_push(&self) -> bool {
        self.cfg.is_push()
    }

    /// Whether a subject passes the consumer's filter.
    pub fn filter_match(&self, subject: &str) -> bool {
        let f = &self.cfg.filter_subject;
        if f.is_empty() {
            return true;
        }
        if !self.filter_wc {
            return subject == f;
        }
        natsd_proto::subject::is_subset_match(subject, f)
    }

    /// Go's selectStartingSeqNo.
    pub fn select_start(&mut self, store: &dyn StreamStore, start_time_ns: Option<i64>) {
        let st = store.fast_state();
        let cfg = &self.cfg;
        self.sseq = if cfg.opt_start_seq > 0 {
            cfg.opt_start_seq
        } else {
            match cfg.deliver_policy {
                DeliverPolicy::All => st.first_seq,
                DeliverPolicy::Last if !cfg.filter_subject.is_empty() => {
                    store.filtered_state(1, &cfg.filter_subject).last
                }
                DeliverPolicy::Last => st.last_seq,
                DeliverPolicy::LastPerSubject => {
                    let subjects = store.subjects_state(&cfg.filter_subject);
                    if subjects.is_empty() {
                        st.last_seq
                    } else {
                        let mut seqs: Vec<u64> = subjects.iter().map(|(_, s)| s.last).collect();
                        seqs.sort_unstable();
                        let first = seqs[0];
                        self.lss = Some(SkipList {
                            resume: st.last_seq,
                            seqs: seqs.into(),
                        });
                        first
                    }
                }
                DeliverPolicy::ByStartTime => store.seq_from_time(start_time_ns.unwrap_or(0)),
                _ => st.last_seq + 1,
            }
        };
        if st.first_seq == 0 {
            self.sseq = 1;
        } else if self.sseq < st.first_seq {
            self.sseq = st.first_seq;
        } else if self.sseq > st.last_seq {
            self.sseq = st.last_seq + 1;
        }
        self.dseq = 1;
        self.adflr = 0;
        self.asflr = self.sseq - 1;
        self.store = self.stored();
    }

    /// The ack policy as the store sees it.
    pub fn ack_mode(&self) -> AckMode {
        match self.cfg.ack_policy {
            AckPolicy::None => AckMode::None,
            AckPolicy::All => AckMode::All,
            AckPolicy::Explicit => AckMode::Explicit,
        }
    }

    /// Go's updateDelivered: the store records a delivery (what it
    /// refuses changes nothing).
    pub fn store_delivered(&mut self, dseq: u64, sseq: u64, dc: u64, ts: i64) {
        let mode = self.ack_mode();
        let _ = self.store.update_delivered(dseq, sseq, dc, ts, mode);
    }

    /// The durable state, as the store keeps it.
    pub fn stored(&self) -> ConsumerState {
        ConsumerState {
            delivered: (self.dseq - 1, self.sseq - 1),
            ack_floor: (self.adflr, self.asflr),
            pending: self.pending.clone(),
            redelivered: self.rdc.clone(),
        }
    }

    /// Go's applyState: what a restart recovered.
    pub fn apply(&mut self, s: ConsumerState) {
        self.store = s.clone();
        if self.sseq <= s.delivered.1 {
            self.sseq = s.delivered.1 + 1;
        }
        self.dseq = s.delivered.0 + 1;
        self.adflr = s.ack_floor.0;
        self.asflr = s.ack_floor.1;
        self.pending = s.pending;
        self.rdc = s.redelivered;
        if !self.pending.is_empty() && self.ptmr.is_none() {
            let mut delay = Duration::from_millis(500 + rand::random::<u64>() % 1000);
            let wait = self.ack_wait(Duration::ZERO);
            if wait < delay {
                delay = wait;
            }
            self.ptmr = Some(Instant::now() + delay);
        }
    }

    /// Drops redelivery counts outside the ack floor and the stream (Go's
    /// checkRedelivered after a restart).
    pub fn check_redelivered(&mut self, last_seq: u64) {
        let (floor, before) = (self.asflr, self.rdc.len());
        self.rdc
            .retain(|seq, _| !(*seq < floor || (last_seq > 0 && *seq > last_seq)));
        if self.rdc.len() != before {
            let keep: Vec<u64> = self.rdc.keys().copied().collect();
            self.rdq.retain(|s| keep.contains(s));
            self.rdqi.retain(|s| keep.contains(s));
            self.store = self.stored();
            self.dirty = true;
        }
    }

    /// The ack wait plus Go's 1 ms, or `next` plus it when set.
    pub fn ack_wait(&self, next: Duration) -> Duration {
        let base = if next > Duration::ZERO {
            next
        } else {
            Duration::from_nanos(self.cfg.ack_wait.max(0) as u64)
        };
        base + Duration::from_millis(1)
    }

    pub fn on_redeliver_queue(&self, seq: u64) -> bool {
        self.rdqi.contains(&seq)
    }

    pub fn add_to_redeliver_queue(&mut self, seqs: &[u64]) {
        for s in seqs {
            self.rdq.push_back(*s);
            self.rdqi.insert(*s);
        }
    }

    pub fn remove_from_redeliver_queue(&mut self, seq: u64) {
        if self.rdqi.remove(&seq) {
            self.rdq.retain(|s| *s != seq);
        }
    }

    pub fn next_to_redeliver(&mut self) -> Option<u64> {
        let seq = self.rdq.pop_front()?;
        self.rdqi.remove(&seq);
        Some(seq)
    }

    /// Counts one more delivery of `seq`; returns the delivery count.
    pub fn inc_delivery_count(&mut self, seq: u64) -> u64 {
        let n = self.rdc.entry(seq).or_insert(0);
        *n += 1;
        *n + 1
    }

    /// Go's trackPending.
    pub fn track_pending(&mut self, sseq: u64, dseq: u64) {
        if self.ptmr.is_none() {
            self.ptmr = Some(Instant::now() + self.ack_wait(Duration::ZERO));
        }
        let ts = crate::jetstream::stream::now_ns();
        self.pending
            .entry(sseq)
            .and_modify(|p| p.ts = ts)
            .or_insert(Pending { dseq, ts });
    }

    /// Go's numPending: the cached count, recomputed when unset.
    pub fn num_pending(&mut self, store: &dyn StreamStore) -> u64 {
        if self.npcm == 0 {
            self.stream_num_pending(store);
        }
        self.npc.max(0) as u64
    }

    /// Go's streamNumPending: counts from the store again.
    pub fn stream_num_pending(&mut self, store: &dyn StreamStore) -> u64 {
        if self.cfg.deliver_policy == DeliverPolicy::LastPerSubject {
            self.npc = 0;
            self.npcm = 0;
            for (_, ss) in store.subjects_state(&self.cfg.filter_subject) {
                if self.sseq <= ss.last {
                    self.npc += 1;
                    self.npcm = self.npcm.max(ss.last);
                }
            }
        } else {
            let ss = store.filtered_state(self.sseq, &self.cfg.filter_subject);
            self.npc = ss.msgs as i64;
            self.npcm = ss.last;
        }
        self.npc.max(0) as u64
    }

    /// Go's processAckMsg; returns whether the consumer was at its max ack
    /// pending (and may deliver again).
    pub fn ack_msg(&mut self, sseq: u64, mut dseq: u64) -> Option<bool> {
        let mut unblocked = false;
        match self.cfg.ack_policy {
            AckPolicy::Explicit => {
                if let Some(p) = self.pending.get(&sseq).copied() {
                    if self.maxp > 0 && self.pending.len() as i64 >= self.maxp {
                        unblocked = true;
                    }
                    self.pending.remove(&sseq);
                    dseq = p.dseq;
                }
                if self.pending.is_empty() {
                    self.adflr = self.dseq - 1;
                    self.asflr = self.sseq - 1;
                } else if dseq == self.adflr + 1 {
                    self.adflr = dseq;
                    self.asflr = sseq;
                    if let Some((ss, p)) = self.pending.range(sseq + 1..self.sseq).next() {
                        if p.dseq > 0 {
                            self.adflr = p.dseq - 1;
                            self.asflr = ss - 1;
                        }
                    }
                }
                self.rdc.remove(&sseq);
                self.remove_from_redeliver_queue(sseq);
                self.acked.push(sseq);
            }
            AckPolicy::All => {
                if dseq <= self.adflr || sseq <= self.asflr {
                    return None;
                }
                if self.maxp > 0 && self.pending.len() as i64 >= self.maxp {
                    unblocked = true;
                }
                let from = self.asflr + 1;
                self.adflr = dseq;
                self.asflr = sseq;
                let gone: Vec<u64> = self.pending.range(from..=sseq).map(|(s, _)| *s).collect();
                for s in gone {
                    self.pending.remove(&s);
                }
                self.rdc.retain(|s, _| *s < from || *s > sseq);
                let keep: Vec<u64> = self
                    .rdq
                    .iter()
                    .copied()
                    .filter(|s| *s < from || *s > sseq)
                    .collect();
                self.rdqi = keep.iter().copied().collect();
                self.rdq = keep.into();
                self.acked.extend(from..=sseq);
            }
            AckPolicy::None => return None,
        }
        let mode = self.ack_mode();
        let _ = self.store.update_acks(dseq, sseq, mode);
        self.lat = crate::jetstream::stream::now_ns();
        self.dirty = true;
        Some(unblocked)
    }

    /// Go's checkPending: queues for redelivery what waited past its ack
    /// wait (or backoff), and sets when to look again. Returns whether
    /// anything was queued.
    pub fn check_pending(&mut self, first_seq: u64) -> bool {
        let now = crate::jetstream::stream::now_ns();
        let ttl = self.cfg.ack_wait;
        let backoff = self.cfg.backoff.clone();
        let mut next = match backoff.last() {
            Some(l) => *l,
            None => self.ack_wait(Duration::ZERO).as_nanos() as i64,
        };
        let mut expired = Vec::new();
        let below: Vec<u64> = self.pending.range(..first_seq).map(|(s, _)| *s).collect();
        let gone = !below.is_empty();
        for s in below {
            self.pending.remove(&s);
            self.rdc.remove(&s);
            self.remove_from_redeliver_queue(s);
            self.dirty = true;
        }
        if gone {
            self.store = self.stored();
        }
        for (seq, p) in &self.pending {
            let elapsed = now - p.ts;
            let mut deadline = ttl;
            if !backoff.is_empty() {
                let mut dc = self.rdc.get(seq).copied().unwrap_or(0) as usize;
                let mut nbi = dc + 1;
                if dc + 1 >= backoff.len() {
                    dc = backoff.len() - 1;
                    nbi = dc;
                }
                deadline = backoff[dc];
                next = next.min(backoff[nbi]);
            }
            if elapsed >= deadline {
                if !self.rdqi.contains(seq) {
                    expired.push(*seq);
                }
            } else if deadline - elapsed < next {
                next = deadline - elapsed;
            }
        }
        let any = !expired.is_empty();
        if any {
            let off = now - self.pending[&expired[0]].ts;
            for s in &expired {
                if let Some(p) = self.pending.get_mut(s) {
                    p.ts += off;
                }
            }
            self.add_to_redeliver_queue(&expired);
        }
        self.ptmr = (!self.pending.is_empty())
            .then(|| Instant::now() + self.ack_wait(Duration::from_nanos(next.max(0) as u64)));
        any
    }

    /// Go's forceExpirePending: everything pending is redelivered now.
    pub fn force_expire_pending(&mut self) {
        let expired: Vec<u64> = self
            .pending
            .keys()
            .copied()
            .filter(|s| !self.rdqi.contains(s))
            .collect();
        if expired.is_empty() {
            return;
        }
        let now = crate::jetstream::stream::now_ns();
        let off = now - self.pending[&expired[0]].ts;
        for s in &expired {
            if let Some(p) = self.pending.get_mut(s) {
                p.ts += off;
            }
        }
        self.add_to_redeliver_queue(&expired);
        self.ptmr = Some(Instant::now() + self.ack_wait(Duration::ZERO));
    }

    /// Go's purge: the stream lost everything below `first` (0: all up
    /// to `last`).
    pub fn purge(&mut self, first: u64, last: u64) {
        let sseq = if first == 0 { last + 1 } else { first };
        if self.sseq < sseq {
            self.sseq = sseq;
        }
        if self.asflr < sseq {
            self.asflr = sseq - 1;
            if self.dseq > 0 {
                self.adflr = self.dseq - 1;
            }
        }
        self.pending.clear();
        let keep: Vec<u64> = self
            .rdq
            .iter()
            .copied()
            .filter(|s| *s >= self.sseq)
            .collect();
        self.rdqi = keep.iter().copied().collect();
        self.rdq = keep.into();
        self.npcm = 0;
        self.store = self.stored();
        self.dirty = true;
    }

    /// Go's setMaxPendingBytes for flow control.
    pub fn set_max_pending_bytes(&mut self, limit: i64) {
        self.pblimit = limit;
        self.maxpb = (limit / 16).max(1);
    }

    /// Go's needFlowControl.
    pub fn need_flow_control(&mut self, sz: i64) -> bool {
        if self.maxpb == 0 {
            return false;
        }
        if self.fcid.is_empty() && self.pbytes > self.maxpb / 2 {
            return true;
        }
        if !self.fcid.is_empty() && self.pbytes - self.fcsz >= self.maxpb {
            self.fcsz += sz;
        }
        false
    }

    /// A flow control reply came back; whether it was the one awaited.
    pub fn flow_control_reply(&mut self, subject: &str) -> bool {
        if subject != self.fcid {
            return false;
        }
        if self.maxpb < self.pblimit {
            self.maxpb = (self.maxpb * 2).min(self.pblimit);
        }
        self.pbytes = (self.pbytes - self.fcsz).max(0);
        self.fcid.clear();
        self.fcsz = 0;
        true
    }
}

/// The sampling percentage of `sample_freq` (checked already).
pub fn sample_freq(s: &str) -> i32 {
    s.trim_end_matches('%').parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explicit() -> State {
        State::new(ConsumerConfig {
            ack_policy: AckPolicy::Explicit,
            ack_wait: 1_000_000_000,
            max_ack_pending: 10,
            ..Default::default()
        })
    }

    #[test]
    fn explicit_acks_move_the_floor() {
        let mut st = explicit();
        for s in 1..=3 {
            st.track_pending(s, s);
        }
        st.sseq = 4;
        st.dseq = 4;
        st.ack_msg(2, 2);
        assert_eq!((st.adflr, st.asflr), (0, 0));
        st.ack_msg(1, 1);
        assert_eq!((st.adflr, st.asflr), (2, 2));
        st.ack_msg(3, 3);
        assert_eq!((st.adflr, st.asflr), (3, 3));
        assert!(st.pending.is_empty());
    }

    #[test]
    fn ack_all_acks_below() {
        let mut st = State::new(ConsumerConfig {
            ack_policy: AckPolicy::All,
            ..Default::default()
        });
        for s in 1..=5 {
            st.track_pending(s, s);
        }
        st.sseq = 6;
        st.dseq = 6;
        st.ack_msg(3, 3);
        assert_eq!(st.pending.keys().copied().collect::<Vec<_>>(), vec![4, 5]);
        assert_eq!(st.acked, vec![1, 2, 3]);
        assert_eq!(st.ack_msg(2, 2), None);
    }

    #[test]
    fn expired_acks_are_queued_once() {
        let mut st = explicit();
        st.cfg.ack_wait = 0;
        st.track_pending(1, 1);
        assert!(st.check_pending(1));
        assert!(!st.check_pending(1));
        assert_eq!(st.next_to_redeliver(), Some(1));
        assert_eq!(st.inc_delivery_count(1), 2);
    }

    #[test]
    fn flow_control_window_doubles() {
        let mut st = explicit();
        st.set_max_pending_bytes(FLOW_CONTROL_MAX_PENDING);
        assert_eq!(st.maxpb, FLOW_CONTROL_MAX_PENDING / 16);
        st.pbytes = st.maxpb / 2 + 1;
        assert!(st.need_flow_control(10));
        st.fcid = "$JS.FC.S.C.abcd".into();
        st.fcsz = st.pbytes;
        assert!(st.flow_control_reply("$JS.FC.S.C.abcd"));
        assert_eq!((st.pbytes, st.maxpb), (0, FLOW_CONTROL_MAX_PENDING / 8));
    }
}
