//! Delivery: one message published into an account goes to every matching
//! subscription, each through its own connection and in that connection's
//! encoding. Every publisher (a client's reader, the server's internal
//! connections) owns a [`Router`] and calls [`Router::route`]; what the
//! publisher checks first (permissions, limits) stays with it.
//!
//! A router works in batches: deliveries are queued into the subscribers'
//! outbound buffers, and [`Router::flush`] at the end of a batch writes
//! what each socket takes at once and wakes the writers of the rest. It
//! also keeps a cache of match results for the account it last routed into,
//! and the batch's traffic counters.
//!
//! A subscription of a service import (or of an account's responses)
//! hands the message to [`service`], which routes it again into the other
//! account; a stream import's shadow subscription delivers on the
//! importer's subject.

use super::account::Account;
use super::connection::{Connection, InternalMsg, Kind, Subscription};
use super::outbound::MAX_DIRECT_TARGETS;
use bytes::Bytes;
use foldhash::HashMap;
use natsd_proto::client::msg::{msg_line, Sizes};
use natsd_proto::sublist::SublistResult;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

mod service;

/// Most cached match results per router before the cache is reset.
const RESULT_CACHE_MAX: usize = 1024;

/// A message published into an account, borrowed from its publisher.
#[derive(Clone, Copy)]
pub struct Message<'a> {
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// Header length within `payload`, or -1 without headers.
    pub hdr: i64,
    /// Headers and body.
    pub payload: &'a [u8],
    /// The header and total sizes as decimal text, exactly as a client
    /// wrote them (MSG/HMSG lines echo them).
    pub hdr_text: &'a [u8],
    pub size_text: &'a [u8],
    /// The subject subscribers see when it is not the one matched: a
    /// JetStream consumer matches its deliver subject (or a pull
    /// request's inbox) and shows the message's stream subject.
    pub shown_as: Option<&'a [u8]>,
}

/// The size fields of a message the server itself publishes.
pub struct SizeText {
    hdr: String,
    size: String,
}

impl SizeText {
    pub fn new(hdr: i64, size: usize) -> Self {
        Self {
            hdr: if hdr >= 0 {
                hdr.to_string()
            } else {
                String::new()
            },
            size: size.to_string(),
        }
    }

    /// The message these sizes describe.
    pub fn message<'a>(
        &'a self,
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        hdr: i64,
        payload: &'a [u8],
    ) -> Message<'a> {
        Message {
            subject,
            reply,
            hdr,
            payload,
            hdr_text: self.hdr.as_bytes(),
            size_text: self.size.as_bytes(),
            shown_as: None,
        }
    }
}

/// What one batch published and delivered, to be added to the
/// connection's, the account's and the server's counters.
#[derive(Default, Debug, Clone, Copy)]
pub struct BatchStats {
    pub in_msgs: i64,
    pub in_bytes: i64,
    pub out_msgs: i64,
    pub out_bytes: i64,
}

/// A publisher's delivery state.
pub struct Router {
    /// Match results of `results_account` at its index generation
    /// `results_genid`, by subject.
    results: HashMap<Bytes, Arc<SublistResult<Subscription>>>,
    results_account: Option<Arc<Account>>,
    results_genid: u64,
    /// The last subject matched and its result: a publisher often repeats
    /// a subject, and comparing it is cheaper than hashing it.
    last: Option<(Bytes, Arc<SublistResult<Subscription>>)>,
    /// Connections queued to during this batch, flushed once at its end.
    pcd: Vec<Arc<Connection>>,
    /// Reused MSG/HMSG line.
    line: Vec<u8>,
    batch: BatchStats,
    /// When the batch began (stamped on the connections delivered to).
    batch_time: Instant,
    /// A delivery left a subscriber's backlog past half of its max_pending
    /// (see [`Kind::stalls_on_backlog`]).
    backlogged: bool,
    /// Whether deliveries are traced, read once per batch.
    traced: bool,
    rng: SmallRng,
    /// The service imports the message being routed went through: their
    /// export (by address, 0 for none) and whether each shared details.
    hops: Vec<(usize, bool)>,
    /// What the server's own subscriptions published while handling a
    /// message (PubAcks, API answers), routed once that message is done.
    deferred: Vec<Deferred>,
    /// Deferred messages are being routed now.
    draining: bool,
    /// Work left for the batch's end, done at [`Router::flush`].
    at_end: Vec<BatchEnd>,
}

/// Work a server-internal subscription leaves for the end of its
/// publisher's batch, before anything the batch queued is flushed: a
/// stream writes the messages of the batch to its file at once there, and
/// then lets their PubAcks go (it puts them in the vector, routed next).
pub type BatchEnd = Arc<dyn Fn(&mut Vec<Deferred>) + Send + Sync>;

/// A message a server-internal subscription publishes in answer to the
/// one it is handling: routed by the same router after it, in the same
/// batch, so answers leave with the publisher's next flush.
pub struct Deferred {
    /// The internal connection it is published by.
    pub from: Arc<Connection>,
    pub account: Arc<Account>,
    pub subject: String,
    pub reply: Option<String>,
    /// Header length within `payload`, or -1 without headers.
    pub hdr: i64,
    pub payload: Vec<u8>,
}

impl Default for Router {
    fn default() -> Self {
        Self::new()
    }
}

impl Router {
    pub fn new() -> Self {
        Self {
            results: HashMap::default(),
            results_account: None,
            results_genid: 0,
            last: None,
            pcd: Vec::new(),
            line: Vec::with_capacity(128),
            batch: BatchStats::default(),
            batch_time: Instant::now(),
            backlogged: false,
            traced: false,
            rng: SmallRng::from_entropy(),
            hops: Vec::new(),
            deferred: Vec::new(),
            draining: false,
            at_end: Vec::new(),
        }
    }

    /// Starts a batch: what arrives together is stamped with one time.
    pub fn begin_batch(&mut self) {
        self.batch_time = Instant::now();
        self.traced = crate::logging::trace_enabled();
    }

    /// Counts a message received from a publisher of `kind` (before its
    /// checks: Go counts a refused publish as received too).
    pub fn received(&mut self, kind: Kind, size: usize) {
        if !kind.counts_inbound() {
            return;
        }
        self.batch.in_msgs += 1;
        self.batch.in_bytes += size as i64;
    }

    /// The batch's counters so far, which start again from zero.
    pub fn take_stats(&mut self) -> BatchStats {
        std::mem::take(&mut self.batch)
    }

    /// Whether a delivery left a subscriber backlogged since the last call.
    pub fn take_backlogged(&mut self) -> bool {
        std::mem::take(&mut self.backlogged)
    }

    /// The subject `acc`'s mappings send `subject` to, if any (empty: the
    /// message is dropped).
    pub fn mapped_subject(&mut self, acc: &Account, subject: &[u8]) -> Option<String> {
        if !acc.mappings.is_active() {
            return None;
        }
        let rng = &mut self.rng;
        acc.mappings.select(subject, || rng.gen_range(0..100))
    }

    /// Queues bytes for `c` (a reply to the publisher, say), woken at the
    /// end of the batch.
    pub fn queue_for(&mut self, c: &Arc<Connection>, data: &[u8]) {
        if c.queue(&[data]).wake {
            self.pcd.push(c.clone());
        }
    }

    /// Delivers `m`, published by `from` into `acc`, to every matching
    /// subscription: each plain one, and one member of each queue group.
    /// Returns whether anything took it.
    pub fn route(&mut self, acc: &Arc<Account>, from: &Arc<Connection>, m: &Message) -> bool {
        let Some(r) = self.matches(acc, m.subject) else {
            return false;
        };
        let delivered = self.route_to(acc, from, m, &r);
        if !self.deferred.is_empty() && !self.draining {
            self.route_deferred();
        }
        delivered
    }

    /// Routes what internal subscriptions published, and what that in
    /// turn made them publish, up to a bound that stops a loop.
    fn route_deferred(&mut self) {
        const MAX_ROUNDS: usize = 64;
        self.draining = true;
        for _ in 0..MAX_ROUNDS {
            let batch = std::mem::take(&mut self.deferred);
            if batch.is_empty() {
                break;
            }
            for d in batch {
                let sizes = SizeText::new(d.hdr, d.payload.len());
                let reply = match &d.reply {
                    Some(r) => Some(r.as_bytes()),
                    None if d.from.kind.always_has_reply() => Some(&b""[..]),
                    None => None,
                };
                let m = sizes.message(d.subject.as_bytes(), reply, d.hdr, &d.payload);
                if let Some(r) = self.matches(&d.account, m.subject) {
                    self.route_to(&d.account, &d.from, &m, &r);
                }
            }
        }
        self.deferred.clear();
        self.draining = false;
    }

    /// Does the work left for the batch's end and routes what it
    /// publishes (which may leave more, up to a bound that stops a loop).
    fn run_at_end(&mut self) {
        const MAX_ROUNDS: usize = 64;
        for _ in 0..MAX_ROUNDS {
            let work = std::mem::take(&mut self.at_end);
            if work.is_empty() {
                break;
            }
            for f in work {
                f(&mut self.deferred);
            }
            self.route_deferred();
        }
    }

    /// Delivers to the subscriptions `r` of `acc`. A message that came
    /// through a service import skips stream-import shadows, as in Go.
    fn route_to(
        &mut self,
        acc: &Arc<Account>,
        from: &Arc<Connection>,
        m: &Message,
        r: &SublistResult<Subscription>,
    ) -> bool {
        let mut delivered = false;
        for sub in &r.psubs {
            delivered |= self.deliver(acc, from, sub, m, false);
        }
        for group in &r.qsubs {
            let n = group.members.len();
            if n == 0 {
                continue;
            }
            let start = if n > 1 { self.rng.gen_range(0..n) } else { 0 };
            for i in 0..n {
                let sub = &group.members[(start + i) % n];
                if self.deliver(acc, from, sub, m, true) {
                    delivered = true;
                    break;
                }
            }
        }
        delivered
    }

    /// What `subject` matches in `acc`, from the cache while the account's
    /// index has not changed; None when nothing does.
    fn matches(
        &mut self,
        acc: &Arc<Account>,
        subject: &[u8],
    ) -> Option<Arc<SublistResult<Subscription>>> {
        let genid = acc.sublist.genid();
        let same_account = self
            .results_account
            .as_ref()
            .is_some_and(|a| Arc::ptr_eq(a, acc));
        if !same_account || genid != self.results_genid {
            self.results.clear();
            self.last = None;
            self.results_genid = genid;
            if !same_account {
                self.results_account = Some(acc.clone());
            }
        } else if let Some((s, r)) = &self.last {
            if s[..] == *subject {
                return (!r.is_empty()).then(|| r.clone());
            }
        }
        if let Some((key, r)) = self.results.get_key_value(subject) {
            let r = r.clone();
            self.last = Some((key.clone(), r.clone()));
            return (!r.is_empty()).then_some(r);
        }
        let r = acc.sublist.match_subject(subject);
        if self.results.len() >= RESULT_CACHE_MAX {
            self.results.clear();
        }
        let key = Bytes::copy_from_slice(subject);
        self.results.insert(key.clone(), r.clone());
        self.last = Some((key, r.clone()));
        (!r.is_empty()).then_some(r)
    }

    /// Go's deliverMsg: one message to one subscription.
    fn deliver(
        &mut self,
        acc: &Arc<Account>,
        from: &Arc<Connection>,
        sub: &Arc<Subscription>,
        m: &Message,
        queue: bool,
    ) -> bool {
        if let Some(role) = &sub.service {
            if sub.closed.load(Ordering::Acquire) {
                return false;
            }
            self.serve(acc, from, role, m);
            // Go counts the hand-over as a delivery, answered or not.
            return true;
        }
        let target = &sub.client;
        let is_self = Arc::ptr_eq(target, from);
        if is_self && !from.echo.load(Ordering::Relaxed) {
            return false;
        }
        let shown = m.shown_as.unwrap_or(m.subject);
        let subject: Cow<[u8]> = match &sub.stream_import {
            Some(_) if !self.hops.is_empty() => return false,
            Some(im) => im.delivered_subject(shown),
            None => Cow::Borrowed(shown),
        };
        if let Some(handler) = &sub.internal {
            // Go does not count deliveries to its own subscriptions.
            if sub.closed.load(Ordering::Acquire) {
                return false;
            }
            handler(InternalMsg {
                subject: &subject,
                reply: m.reply,
                hdr: m.hdr,
                msg: m.payload,
                account: acc,
                from,
                out: &mut self.deferred,
                at_end: &mut self.at_end,
            });
            return true;
        }
        // What is not handled above is written to a client; an internal
        // connection's subscriptions all have handlers.
        if target.kind != Kind::Client {
            return false;
        }
        if target.has_deliver_deny.load(Ordering::Acquire) {
            if let Some(f) = target.deliver_deny.lock().clone() {
                // Go checks a queue member's deny list against the subject
                // as published, even when an import delivers it renamed.
                let checked: &[u8] = if queue { m.subject } else { &subject };
                if f.denies(checked) {
                    return false;
                }
            }
        }
        if sub.closed.load(Ordering::Acquire) || target.is_closed() {
            return false;
        }
        let max = sub.max.load(Ordering::Acquire);
        let n = sub.delivered.fetch_add(1, Ordering::AcqRel) + 1;
        let mut unsub_after = false;
        if max > 0 {
            if n == max {
                crate::debug!(
                    "{} - Auto-unsubscribe limit of {max} reached for sid '{}'",
                    target.label(),
                    String::from_utf8_lossy(&sub.sid)
                );
                unsub_after = true;
            } else if n > max {
                crate::debug!(
                    "{} - Auto-unsubscribe limit [{max}] exceeded",
                    target.label()
                );
                target.unsubscribe(sub);
                return false;
            }
        }
        let sent = self.queue_msg(from, sub, m, &subject);
        self.batch.out_msgs += 1;
        self.batch.out_bytes += sent as i64;
        if let Some(reply) = m.reply.filter(|r| !r.is_empty()) {
            if target.tracks_replies.load(Ordering::Relaxed) {
                if let Some(p) = target.reply_perms.lock().as_ref() {
                    p.track_reply(reply);
                }
            }
        }
        if unsub_after {
            target.unsubscribe(sub);
        }
        true
    }

    /// Queues `m` as a MSG/HMSG for a client subscription; returns the
    /// payload bytes counted as sent.
    fn queue_msg(
        &mut self,
        from: &Arc<Connection>,
        sub: &Arc<Subscription>,
        m: &Message,
        subject: &[u8],
    ) -> usize {
        let target = &sub.client;
        let with_headers = m.hdr > 0 && target.headers.load(Ordering::Relaxed);
        let (body, sizes) = if with_headers {
            let sizes = Sizes::HMsg {
                hdr: m.hdr_text,
                total: m.size_text,
            };
            (m.payload, sizes)
        } else if m.hdr > 0 {
            let body = &m.payload[m.hdr as usize..];
            (body, Sizes::Stripped(body.len()))
        } else {
            (m.payload, Sizes::Msg(m.size_text))
        };
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        msg_line(&mut line, subject, &sub.sid, m.reply, sizes);
        let queued = target.queue(&[&line, body, b"\r\n"]);
        if queued.wake {
            self.pcd.push(target.clone());
        }
        // Go's producers stall on a backlogged subscriber.
        self.backlogged |= queued.backlogged && from.kind.stalls_on_backlog();
        let ts = &target.stats;
        ts.out_msgs.fetch_add(1, Ordering::Relaxed);
        ts.out_bytes.fetch_add(body.len() as i64, Ordering::Relaxed);
        if Arc::ptr_eq(target, from) {
            // Others are stamped when flushed (see flush).
            target.mark_delivery(self.batch_time);
        }
        if self.traced {
            crate::logging::write(
                "TRC",
                format_args!(
                    "{} - ->> [{}]",
                    target.label(),
                    String::from_utf8_lossy(&line[..line.len() - 2])
                ),
            );
        }
        self.line = line;
        body.len()
    }

    /// Flushes what this batch queued for each connection: what the socket
    /// takes at once is written here (for the first few), the writers get
    /// the rest. Returns the connections whose backlog a publisher that
    /// stalls should wait on.
    pub fn flush(&mut self, from: &Arc<Connection>) -> Vec<Arc<Connection>> {
        self.run_at_end();
        let mut backlogged = Vec::new();
        for (i, c) in self.pcd.drain(..).enumerate() {
            // Others are here for deliveries only; like Go, their last
            // activity is stamped when they are flushed.
            if !Arc::ptr_eq(&c, from) {
                c.mark_delivery(self.batch_time);
            }
            if c.flush_delivered(i < MAX_DIRECT_TARGETS) {
                backlogged.push(c);
            }
        }
        backlogged
    }
}
