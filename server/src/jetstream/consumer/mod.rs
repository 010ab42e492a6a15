//! A consumer: a view of a stream that delivers its messages, to a deliver
//! subject (push) or to pull requests, tracks their acks and redelivers
//! what is not acknowledged in time. Its state is behind one lock; a task
//! of its own delivers ([`deliver`]), and its subscriptions take acks,
//! pull requests and flow control replies in the sender's task
//! ([`inbound`]).

pub mod advisories;
pub mod config;
pub mod deliver;
pub mod inbound;
pub mod persist;
pub mod pull;
pub mod state;

use super::stream::Stream;
use super::JetStream;
use crate::conn::internal::Outgoing;
use crate::core::account::Account;
use crate::core::connection::{Connection, Subscription};
use natsd_proto::jetstream::api::Timestamp;
use natsd_proto::jetstream::consumer::{
    AckPolicy, ConsumerConfig, ConsumerInfo, ReplayPolicy, SequenceInfo,
};
use parking_lot::Mutex;
use state::State;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

pub struct Consumer {
    pub name: String,
    pub stream_name: String,
    stream: Weak<Stream>,
    js: Weak<JetStream>,
    pub account: Arc<Account>,
    /// The consumer's connection into the stream's account: deliveries,
    /// statuses, ack replies and advisories come from it.
    pub conn: Arc<Connection>,
    created: AtomicI64,
    pub st: Mutex<State>,
    /// Wakes the delivery task.
    pub wake: Arc<Notify>,
    closed: AtomicBool,
    subs: Mutex<Vec<Arc<Subscription>>>,
    /// Where a durable state is written (file streams).
    pub files: Option<persist::Files>,
    domain: String,
}

/// `$JS.ACK.<stream>.<consumer>`.
fn ack_prefix(stream: &str, name: &str) -> String {
    format!("$JS.ACK.{stream}.{name}")
}

impl Consumer {
    /// A consumer over `stream`, its state chosen (fresh or recovered),
    /// not yet subscribed or running (see [`Consumer::start`]).
    pub fn new(
        stream: &Arc<Stream>,
        js: &Arc<JetStream>,
        name: String,
        cfg: ConsumerConfig,
        files: Option<persist::Files>,
    ) -> Arc<Consumer> {
        let mut st = State::new(cfg);
        let conn = js.internal_connection(&stream.account);
        let start_time = st
            .cfg
            .opt_start_time
            .as_deref()
            .and_then(natsd_proto::gojson::parse_rfc3339);
        let recovered = files
            .as_ref()
            .filter(|f| f.has_state())
            .map(|f| f.read_state());
        {
            let inner = stream.inner.lock();
            match recovered {
                Some(Ok(s)) => {
                    st.apply(s);
                    st.check_redelivered(inner.store.fast_state().last_seq);
                }
                Some(Err(e)) => {
                    crate::warn!(
                        "    Error restoring consumer {} state: {e}",
                        crate::jetstream::stream::check::go_quote(&name)
                    );
                    st.select_start(inner.store.as_ref(), start_time);
                }
                None => {
                    st.select_start(inner.store.as_ref(), start_time);
                    // Go writes the starting point at once (SetStarting).
                    st.dirty = true;
                }
            }
            st.stream_num_pending(inner.store.as_ref());
        }
        Arc::new(Consumer {
            stream_name: stream.name.clone(),
            stream: Arc::downgrade(stream),
            js: Arc::downgrade(js),
            account: stream.account.clone(),
            conn,
            created: AtomicI64::new(crate::jetstream::stream::now_ns()),
            st: Mutex::new(st),
            wake: Arc::new(Notify::new()),
            closed: AtomicBool::new(false),
            subs: Mutex::default(),
            files,
            domain: js.config.domain.clone(),
            name,
        })
    }

    pub fn stream(&self) -> Option<Arc<Stream>> {
        self.stream.upgrade()
    }

    pub fn js(&self) -> Option<Arc<JetStream>> {
        self.js.upgrade()
    }

    pub fn created(&self) -> i64 {
        self.created.load(Ordering::Relaxed)
    }

    pub fn set_created(&self, ns: i64) {
        self.created.store(ns, Ordering::Relaxed);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub fn about(&self) -> advisories::About<'_> {
        advisories::About {
            account: &self.account,
            stream: &self.stream_name,
            consumer: &self.name,
            domain: &self.domain,
        }
    }

    /// The ack subject of one delivery.
    pub fn ack_reply(&self, dc: u64, sseq: u64, dseq: u64, ts: i64, pending: u64) -> String {
        format!(
            "{}.{dc}.{sseq}.{dseq}.{ts}.{pending}",
            ack_prefix(&self.stream_name, &self.name)
        )
    }

    /// Subscribes acks, pull requests and flow control replies, sets the
    /// timers and starts delivering.
    pub fn start(self: &Arc<Self>) {
        let Some(stream) = self.stream() else { return };
        let ack_subject = format!("{}.*.*.*.*.*", ack_prefix(&self.stream_name, &self.name));
        let next_subject = format!(
            "$JS.API.CONSUMER.MSG.NEXT.{}.{}",
            self.stream_name, self.name
        );
        let mut subs = vec![
            stream.subscribe_as(&self.conn, &ack_subject, inbound::acks(self)),
            stream.subscribe_as(&self.conn, &next_subject, inbound::pull_requests(self)),
        ];
        {
            let mut st = self.st.lock();
            if st.cfg.flow_control {
                st.set_max_pending_bytes(state::FLOW_CONTROL_MAX_PENDING);
                let fc = format!("$JS.FC.{}.{}.*", self.stream_name, self.name);
                subs.push(stream.subscribe_as(&self.conn, &fc, inbound::flow_control(self)));
            }
            self.update_inactive_threshold(&mut st);
            if st.is_push() {
                st.active = self.has_delivery_interest(&st);
                self.account
                    .interest_watch
                    .watch(&st.cfg.deliver_subject, &self.wake);
            }
            if st.dthresh > Duration::ZERO && (!st.is_push() || !st.active) {
                st.dtmr = Some(Instant::now() + st.dthresh);
            }
            if st.cfg.replay_policy != ReplayPolicy::Instant {
                st.replay = true;
                st.replay_until = stream.inner.lock().store.fast_state().last_seq;
            }
            if st.cfg.rate_limit > 0 {
                st.rate = Some(state::RateLimit::new(
                    st.cfg.rate_limit,
                    self.rate_burst(&stream),
                ));
            }
            if st.cfg.heartbeat > 0 {
                st.hb_next = Some(Instant::now() + Duration::from_nanos(st.cfg.heartbeat as u64));
            }
        }
        *self.subs.lock() = subs;
        tokio::spawn(deliver::run(self.clone()));
    }

    /// Go's burst for the rate limit: the stream's max message size, or
    /// the account's max payload, or the server's.
    fn rate_burst(&self, stream: &Stream) -> i64 {
        let max_msg = stream.inner.lock().cfg.max_msg_size;
        if max_msg > 0 {
            return i64::from(max_msg);
        }
        let acc = self.account.limits().max_payload;
        if acc > 0 {
            return acc;
        }
        self.js()
            .and_then(|js| js.server())
            .map_or(1024 * 1024, |s| s.opts().max_payload as i64)
    }

    /// Go's updateInactiveThreshold: ephemerals go after 5 s (and up to a
    /// second of jitter) without interest; anyone with a threshold after it.
    fn update_inactive_threshold(&self, st: &mut State) {
        let jitter = || Duration::from_millis(100 + rand::random::<u64>() % 900);
        if !st.cfg.is_durable() && st.cfg.inactive_threshold <= 0 {
            st.dthresh = Duration::from_nanos(config::DEFAULT_INACTIVE_NS as u64) + jitter();
            st.cfg.inactive_threshold = config::DEFAULT_INACTIVE_NS;
        } else if st.cfg.inactive_threshold > 0 {
            let t = Duration::from_nanos(st.cfg.inactive_threshold as u64);
            st.dthresh = if st.is_push() { t } else { t + jitter() };
        } else {
            st.dthresh = Duration::ZERO;
        }
    }

    /// An ephemeral read back at start-up was added as a durable of its
    /// directory's name; it becomes ephemeral again (Go's
    /// switchToEphemeral).
    pub fn switch_to_ephemeral(&self) {
        let mut st = self.st.lock();
        st.cfg.durable.clear();
        self.update_inactive_threshold(&mut st);
        if st.is_push() {
            st.active = self.has_delivery_interest(&st);
        }
        if st.dthresh > Duration::ZERO && (!st.is_push() || !st.active) {
            st.dtmr = Some(Instant::now() + st.dthresh);
        }
        if let Some(f) = &self.files {
            let _ = f.write_config(&self.name, &st.cfg, self.created());
        }
        drop(st);
        self.wake.notify_one();
    }

    /// Whether a push consumer's deliver subject has subscribers: plain
    /// ones, or members of its deliver group when it has one (Go's
    /// interest notifications for the subject and group).
    pub fn has_delivery_interest(&self, st: &State) -> bool {
        let r = self
            .account
            .sublist
            .match_subject(st.cfg.deliver_subject.as_bytes());
        // Only subscriptions on the deliver subject itself count, not
        // wildcards that match it.
        let deliver = st.cfg.deliver_subject.as_bytes();
        let group = st.cfg.deliver_group.as_bytes();
        if group.is_empty() {
            r.psubs.iter().any(|s| &s.subject[..] == deliver)
        } else {
            r.qsubs
                .iter()
                .any(|g| &*g.name == group && g.members.iter().any(|s| &s.subject[..] == deliver))
        }
    }

    /// The info the API returns.
    pub fn info(&self) -> ConsumerInfo {
        let stream = self.stream();
        let mut st = self.st.lock();
        let num_pending = match &stream {
            Some(s) => st.stream_num_pending(s.inner.lock().store.as_ref()),
            None => 0,
        };
        let num_waiting = if st.is_push() {
            st.active = self.has_delivery_interest(&st);
            0
        } else {
            let mut out = std::mem::take(&mut st.out);
            deliver::process_waiting(self, &mut st, false, &mut out);
            st.out = out;
            st.waiting.as_ref().map_or(0, |w| w.len())
        };
        let last = |ns: i64| (ns != 0).then_some(Timestamp(ns));
        let info = ConsumerInfo {
            stream_name: self.stream_name.clone(),
            name: self.name.clone(),
            created: Timestamp(self.created()),
            config: Some(st.cfg.clone()),
            delivered: SequenceInfo {
                consumer_seq: st.dseq - 1,
                stream_seq: st.sseq - 1,
                last_active: last(st.ldt),
            },
            ack_floor: SequenceInfo {
                consumer_seq: st.adflr,
                stream_seq: st.asflr,
                last_active: last(st.lat),
            },
            num_ack_pending: st.pending.len(),
            num_redelivered: st.rdc.len(),
            num_waiting,
            num_pending,
            push_bound: st.is_push() && st.active,
        };
        let out = std::mem::take(&mut st.out);
        drop(st);
        self.send_now(out);
        info
    }

    /// Publishes from outside any publisher's task (timers, API calls).
    pub fn send_now(&self, out: Vec<Outgoing>) {
        if out.is_empty() {
            return;
        }
        if let Some(srv) = self.js().and_then(|js| js.server()) {
            crate::conn::internal::Publisher::new(self.conn.clone()).publish_batch(&srv, &out);
        }
    }

    /// Applies a new config to a running consumer (Go's updateConfig).
    pub fn update(&self, cfg: ConsumerConfig) -> Result<(), natsd_proto::jetstream::ApiError> {
        let mut st = self.st.lock();
        let interest = st.is_push()
            && !self
                .account
                .sublist
                .match_subject(st.cfg.deliver_subject.as_bytes())
                .is_empty();
        config::check_update(&st.cfg, &cfg, interest)?;
        if let Some(f) = &self.files {
            if let Err(e) = f.write_config(&self.name, &cfg, self.created()) {
                return Err(natsd_proto::jetstream::ApiError::with(
                    natsd_proto::jetstream::ErrorId::ConsumerCreate,
                    &[("err", &e)],
                ));
            }
        }
        if cfg.deliver_subject != st.cfg.deliver_subject && !st.pending.is_empty() {
            st.force_expire_pending();
        }
        st.maxp = cfg.max_ack_pending;
        if cfg.ack_wait != st.cfg.ack_wait && st.ptmr.is_some() {
            st.ptmr = Some(Instant::now() + Duration::from_millis(100));
        }
        if cfg.rate_limit != st.cfg.rate_limit {
            st.rate = (cfg.rate_limit > 0).then(|| {
                let burst = self.stream().map_or(1024 * 1024, |s| self.rate_burst(&s));
                state::RateLimit::new(cfg.rate_limit, burst)
            });
        }
        st.sfreq = state::sample_freq(&cfg.sample_frequency);
        st.maxdc = cfg.max_deliver.max(0) as u64;
        let threshold_changed = cfg.inactive_threshold != st.cfg.inactive_threshold;
        st.cfg = cfg;
        if threshold_changed {
            self.update_inactive_threshold(&mut st);
            st.dtmr = (st.dthresh > Duration::ZERO).then(|| Instant::now() + st.dthresh);
        }
        drop(st);
        self.wake.notify_one();
        Ok(())
    }

    /// Whether this consumer still needs `sseq` (Go's needAck), for the
    /// stream's interest retention; `subject` is the message's when known.
    pub fn needs_ack(&self, sseq: u64, subject: Option<&str>, stream_subjects: &[String]) -> bool {
        let st = self.st.lock();
        let f = &st.cfg.filter_subject;
        let unfiltered = f.is_empty() || (stream_subjects.len() == 1 && &stream_subjects[0] == f);
        let filtered = !unfiltered;
        if filtered {
            match subject {
                Some(s) if st.filter_match(s) => {}
                Some(_) => return false,
                None => {}
            }
        }
        match st.cfg.ack_policy {
            AckPolicy::None | AckPolicy::All => sseq > st.asflr,
            AckPolicy::Explicit => {
                sseq > st.asflr && (sseq >= st.sseq || st.pending.contains_key(&sseq))
            }
        }
    }

    /// Whether the consumer's filter takes `subject`.
    pub fn filter_match(&self, subject: &str) -> bool {
        self.st.lock().filter_match(subject)
    }

    /// A new message is in the stream (Go's processStreamSignal), if the
    /// filter takes its subject.
    pub fn signal(&self, subject: &str, seq: u64) {
        let mut st = self.st.lock();
        if !st.filter_match(subject) {
            return;
        }
        if seq > st.npcm {
            st.npc += 1;
        }
        if seq < st.sseq {
            return;
        }
        let wanted = if st.is_push() {
            st.active
        } else {
            st.waiting.as_ref().is_some_and(|w| !w.is_empty())
        };
        drop(st);
        if wanted {
            self.wake.notify_one();
        }
    }

    /// A message left the stream (Go's decStreamPending): one still
    /// pending is terminated.
    pub fn message_removed(&self, sseq: u64, subject: &str) {
        let mut st = self.st.lock();
        if sseq > st.npcm && sseq >= st.sseq && st.filter_match(subject) {
            st.npc -= 1;
        }
        let pending = st.pending.get(&sseq).copied();
        let rdc = st.rdc.get(&sseq).copied().unwrap_or(1);
        drop(st);
        if let Some(p) = pending {
            self.terminate(sseq, p.dseq, rdc);
        }
    }

    /// The stream was purged (Go's consumer purge).
    pub fn purged(&self, first: u64, last: u64) {
        let mut st = self.st.lock();
        st.purge(first, last);
        drop(st);
        self.persist();
        self.wake.notify_one();
    }

    /// Go's processTerm: acked without the stream's retention seeing it
    /// as consumed by others, and announced.
    pub fn terminate(&self, sseq: u64, dseq: u64, dc: u64) {
        let out = {
            let mut st = self.st.lock();
            st.ack_msg(sseq, dseq);
            let mut out = std::mem::take(&mut st.out);
            out.extend(self.about().terminated(dseq, sseq, dc));
            out
        };
        self.after_acks();
        self.send_now(out);
    }

    /// Hands what acks freed to the stream's retention.
    pub fn after_acks(&self) {
        let acked = std::mem::take(&mut self.st.lock().acked);
        if acked.is_empty() {
            return;
        }
        if let Some(stream) = self.stream() {
            stream.acked(Some(self), &acked);
        }
    }

    /// Writes the state when it changed.
    pub fn persist(&self) {
        let Some(files) = &self.files else { return };
        let state = {
            let mut st = self.st.lock();
            if !st.dirty {
                return;
            }
            st.dirty = false;
            st.store.clone()
        };
        if let Err(e) = files.write_state(&state) {
            crate::warn!(
                "JetStream consumer '{} > {} > {}' state not written: {e}",
                self.account.name,
                self.stream_name,
                self.name
            );
            self.st.lock().dirty = true;
        }
    }

    /// Answers the waiting pull requests with `409 Server Shutdown`;
    /// whether there were any.
    pub fn server_shutdown(&self) -> bool {
        let out: Vec<Outgoing> = {
            let st = self.st.lock();
            if st.cfg.replicas > 1 {
                return false;
            }
            st.waiting.as_ref().map_or_else(Vec::new, |w| {
                w.reqs
                    .iter()
                    .map(|r| {
                        let hdr = pull::pending_status(409, "Server Shutdown", r.n, r.b);
                        status_msg(&r.reply, hdr)
                    })
                    .collect()
            })
        };
        let sent = !out.is_empty();
        self.send_now(out);
        sent
    }

    /// Stops the consumer; `delete` removes its state and announces it.
    pub fn stop(&self, delete: bool, advisory: bool) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut out = Vec::new();
        {
            let mut st = self.st.lock();
            if delete {
                if advisory {
                    out.extend(self.about().action(false));
                }
                if let Some(w) = st.waiting.take() {
                    for r in w.reqs {
                        out.push(status_msg(&r.reply, pull::status(409, "Consumer Deleted")));
                    }
                }
            }
        }
        for sub in std::mem::take(&mut *self.subs.lock()) {
            sub.closed.store(true, Ordering::Release);
            sub.client.unsubscribe(&sub);
        }
        self.wake.notify_one();
        self.send_now(out);
        if let Some(files) = &self.files {
            if delete {
                files.delete();
            } else {
                self.persist();
            }
        }
    }
}

/// A status message: headers only.
pub fn status_msg(to: &str, hdr: Vec<u8>) -> Outgoing {
    Outgoing {
        subject: to.to_string(),
        shown_as: None,
        reply: String::new(),
        hdr: hdr.len() as i64,
        payload: hdr,
    }
}
