//! A consumer's delivery task (Go's loopAndGatherMsgs): it gathers what
//! there is to deliver under the consumer's lock, publishes it in one
//! batch, and sleeps until something changes or a timer is due
//! (redelivery, pull request expiry, heartbeats, inactivity, a message
//! held back by replay or rate).

use super::pull;
use super::state::{Held, State};
use super::{status_msg, Consumer};
use crate::conn::internal::{Outgoing, Publisher};
use crate::jetstream::stream::Stream;
use natsd_proto::jetstream::consumer::AckPolicy;
use natsd_proto::jetstream::stream::Retention;
use natsd_store::{StoreError, StoreMsg};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most messages gathered before they are sent.
const BATCH_MSGS: usize = 256;
/// How often a push consumer without interest looks for a subscriber,
/// and one with interest checks it still has it.
const INTEREST_POLL: Duration = Duration::from_millis(100);
const INTEREST_CHECK: Duration = Duration::from_millis(500);
/// How often at most a changed state is written.
const PERSIST_EVERY: Duration = Duration::from_millis(100);
/// How long a pull request's seen interest is trusted.
const INTEREST_FRESH: Duration = Duration::from_millis(20);

/// What one gathering found.
struct Step {
    out: Vec<Outgoing>,
    /// For each message of `out`: the stream sequence it delivers, if any
    /// (statuses and heartbeats deliver none).
    delivers: Vec<Option<u64>>,
    /// There is more to deliver at once.
    more: bool,
    /// When to look again without a signal.
    next: Option<Instant>,
    /// The consumer outlived its inactive threshold.
    delete: bool,
}

pub async fn run(c: Arc<Consumer>) {
    let Some(srv) = c.js().and_then(|j| j.server()) else {
        return;
    };
    let mut publisher = Publisher::new(c.conn.clone());
    let mut last_write = Instant::now();
    loop {
        if c.is_closed() {
            return;
        }
        let Some(stream) = c.stream() else { return };
        let step = gather(&c, &stream);
        if !step.out.is_empty() {
            let took = publisher.publish_batch(&srv, &step.out);
            not_delivered(&c, &step, &took);
        }
        c.after_acks();
        let mut next = step.next;
        if c.files.is_some() && c.st.lock().dirty {
            if last_write.elapsed() >= PERSIST_EVERY {
                c.persist();
                last_write = Instant::now();
            } else {
                let at = last_write + PERSIST_EVERY;
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        if step.delete {
            stream.remove_consumer(&c, true);
            return;
        }
        if step.more {
            tokio::task::yield_now().await;
            continue;
        }
        match next {
            Some(at) => {
                tokio::select! {
                    _ = c.wake.notified() => {}
                    _ = tokio::time::sleep_until(at.into()) => {}
                }
            }
            None => c.wake.notified().await,
        }
    }
}

/// Go's didNotDeliver: a push consumer lost its interest; a pull
/// request's message is redelivered at once.
fn not_delivered(c: &Consumer, step: &Step, took: &[bool]) {
    let mut st = c.st.lock();
    for (seq, ok) in step.delivers.iter().zip(took) {
        let (Some(seq), false) = (seq, ok) else {
            continue;
        };
        if st.is_push() {
            st.active = false;
        } else if st.pending.contains_key(seq) && !st.on_redeliver_queue(*seq) {
            st.add_to_redeliver_queue(&[*seq]);
            drop(st);
            c.wake.notify_one();
            st = c.st.lock();
        }
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn gather(c: &Consumer, stream: &Arc<Stream>) -> Step {
    let mut st = c.st.lock();
    let now = Instant::now();
    let mut out = Vec::new();
    let mut delivers = Vec::new();
    let mut delete = false;
    if st.ptmr.is_some_and(|t| now >= t) {
        // What timed out is queued for redelivery, delivered below.
        let first = stream.inner.lock().store.fast_state().first_seq;
        st.check_pending(first);
    }
    if st.is_push() {
        st.active = c.has_delivery_interest(&st);
        if st.active {
            st.dtmr = None;
        } else if st.dthresh > Duration::ZERO && st.dtmr.is_none() {
            st.dtmr = Some(now + st.dthresh);
        }
    }
    if st.dtmr.is_some_and(|t| now >= t) {
        delete = inactive_expired(c, &mut st, now, &mut out);
    }
    let mut more = false;
    let mut at_max_pending = false;
    let mut next: Option<Instant> = None;
    let mut delivered = 0usize;
    let mut ack_none_acks = Vec::new();
    loop {
        if delete {
            break;
        }
        if delivered >= BATCH_MSGS {
            more = true;
            break;
        }
        // A held message already has its destination: it goes when due.
        let held = match st.held.take() {
            Some(h) if h.at > Instant::now() => {
                next = Some(h.at);
                st.held = Some(h);
                break;
            }
            Some(h) => Some(h),
            None => None,
        };
        if held.is_none() {
            if st.is_push() {
                if !st.active || (st.maxpb > 0 && st.pbytes > st.maxpb) {
                    break;
                }
            } else if st.waiting.as_ref().is_none_or(|w| w.is_empty()) {
                break;
            }
        }
        let (msg, dc, dsubj) = match held {
            Some(h) => (h.msg, h.dc, h.dsubj),
            None => {
                let Some((msg, dc)) = next_msg(c, &mut st, stream, &mut out, &mut at_max_pending)
                else {
                    break;
                };
                let Some(dsubj) = destination(c, &mut st, &msg, dc, &mut out) else {
                    // No request takes it now: it is looked at again later.
                    if dc == 1 {
                        st.sseq = st.sseq.min(msg.seq);
                    } else {
                        st.rdq.push_front(msg.seq);
                        st.rdqi.insert(msg.seq);
                        if let Some(n) = st.rdc.get_mut(&msg.seq) {
                            *n = n.saturating_sub(1);
                        }
                    }
                    break;
                };
                if let Some(at) = hold_until(&mut st, &msg) {
                    st.held = Some(Held { msg, dc, dsubj, at });
                    next = Some(at);
                    break;
                }
                (msg, dc, dsubj)
            }
        };
        st.lts = msg.ts;
        let (seq, at) = (msg.seq, out.len());
        deliver_msg(
            c,
            &mut st,
            stream,
            dsubj,
            msg,
            dc,
            &mut out,
            &mut ack_none_acks,
        );
        delivers.resize(out.len(), None);
        delivers[at] = Some(seq);
        delivered += 1;
    }
    delivers.resize(out.len(), None);
    if !more && !delete {
        if st.replay && st.sseq > st.replay_until {
            st.replay = false;
        }
        if !st.is_push() {
            let (_, fexp) = process_waiting(c, &mut st, !at_max_pending, &mut out);
            next = earliest(next, fexp);
        }
    }
    if let (Some(t), true) = (st.hb_next, st.is_push()) {
        let hb = Duration::from_nanos(st.cfg.heartbeat.max(0) as u64);
        if delivered > 0 {
            st.hb_next = Some(now + hb);
        } else if now >= t {
            if st.active {
                let to = st.cfg.deliver_subject.clone();
                out.push(heartbeat(&st, &to));
                delivers.push(None);
            }
            st.hb_next = Some(now + hb);
        }
    }
    next = earliest(next, st.ptmr);
    next = earliest(next, st.dtmr);
    next = earliest(next, st.hb_next);
    if st.is_push() {
        let poll = if st.active {
            INTEREST_CHECK
        } else {
            INTEREST_POLL
        };
        next = earliest(next, Some(now + poll));
    }
    let retention_acks = st.cfg.ack_policy == AckPolicy::None
        && stream.inner.lock().cfg.retention != Retention::Limits;
    if retention_acks {
        st.acked.extend(ack_none_acks);
    }
    Step {
        out,
        delivers,
        more,
        next,
        delete,
    }
}

/// Go's deleteNotActive, when its timer fires: whether the consumer goes.
fn inactive_expired(c: &Consumer, st: &mut State, now: Instant, out: &mut Vec<Outgoing>) -> bool {
    st.dtmr = None;
    if st.is_push() {
        return !st.active;
    }
    let threshold = Duration::from_nanos(st.cfg.inactive_threshold.max(0) as u64);
    let last = st.waiting.as_ref().map_or(now, |w| w.last);
    let elapsed = now.duration_since(last);
    if elapsed <= threshold {
        st.dtmr = Some(now + st.dthresh.saturating_sub(elapsed));
        return false;
    }
    process_waiting(c, st, true, out);
    if st.waiting.as_ref().is_some_and(|w| !w.is_empty()) {
        st.dtmr = Some(now + st.dthresh);
        return false;
    }
    true
}

/// Go's getNextMsg: a redelivery first, then the skip list of deliver
/// last per subject, then the next message the filter takes. The message
/// and its delivery count.
fn next_msg(
    c: &Consumer,
    st: &mut State,
    stream: &Stream,
    out: &mut Vec<Outgoing>,
    at_max_pending: &mut bool,
) -> Option<(StoreMsg, u64)> {
    while let Some(seq) = st.next_to_redeliver() {
        let dc = st.inc_delivery_count(seq);
        if st.maxdc > 0 && dc > st.maxdc {
            if dc == st.maxdc + 1 {
                out.extend(c.about().max_deliveries(seq, dc - 1));
            }
            st.pending.remove(&seq);
            st.dirty = true;
            continue;
        }
        match stream.inner.lock().store.load_msg(seq) {
            Ok(m) => return Some((m, dc)),
            Err(_) => {
                st.pending.remove(&seq);
                st.rdc.remove(&seq);
                continue;
            }
        }
    }
    let mut seq = st.sseq;
    if let Some(lss) = st.lss.as_mut() {
        if let Some(first) = lss.seqs.pop_front() {
            seq = first;
            if lss.seqs.is_empty() {
                st.sseq = lss.resume;
                st.lss = None;
            }
        }
    }
    if st.maxp > 0 && st.pending.len() as i64 >= st.maxp {
        *at_max_pending = true;
        return None;
    }
    let inner = stream.inner.lock();
    match inner.store.load_next_msg(&st.cfg.filter_subject, seq) {
        Ok(m) => {
            if m.seq >= st.sseq {
                st.sseq = m.seq + 1;
            }
            Some((m, 1))
        }
        Err(StoreError::Eof) | Err(StoreError::NotFound) => {
            let last = inner.store.fast_state().last_seq;
            if last >= st.sseq {
                st.sseq = last + 1;
            }
            None
        }
        Err(e) => {
            crate::error!("Received an error looking up message for consumer: {e}");
            None
        }
    }
}

/// Where a message goes: the deliver subject, or the reply of the pull
/// request whose turn it is (Go's nextWaiting); None when no request
/// takes it.
fn destination(
    c: &Consumer,
    st: &mut State,
    msg: &StoreMsg,
    dc: u64,
    out: &mut Vec<Outgoing>,
) -> Option<String> {
    if st.is_push() {
        return Some(st.cfg.deliver_subject.clone());
    }
    let needs_size = st
        .waiting
        .as_ref()
        .is_some_and(|w| w.reqs.iter().any(|r| r.b > 0));
    let sz = if needs_size {
        delivered_size(c, st, msg, dc)
    } else {
        0
    };
    let now = Instant::now();
    loop {
        let w = st.waiting.as_mut()?.reqs.front_mut()?;
        if w.b > 0 {
            if sz <= w.b {
                w.b -= sz;
                if w.b == 0 {
                    w.n = 1;
                }
            } else {
                let hdr = pull::pending_status(409, "Message Size Exceeds MaxBytes", w.n, w.b);
                out.push(status_msg(&w.reply, hdr));
                st.waiting.as_mut()?.reqs.pop_front();
                continue;
            }
        }
        if w.expires.is_none_or(|e| now < e) {
            // Go looks for the requester's interest at every message; a
            // look stays good for a moment here (a message that finds no
            // one is redelivered, see not_delivered).
            let fresh = w.interest_seen.is_some_and(|t| now < t + INTEREST_FRESH);
            if fresh || has_interest(c, &w.reply) {
                w.interest_seen = Some(now);
                return st.waiting.as_mut()?.pop().map(|(reply, _)| reply);
            }
        }
        st.waiting.as_mut()?.reqs.pop_front();
    }
}

fn has_interest(c: &Consumer, subject: &str) -> bool {
    !c.account
        .sublist
        .match_subject(subject.as_bytes())
        .is_empty()
}

/// The size Go counts for a delivery (subject, ack reply, headers and
/// payload as sent).
fn delivered_size(c: &Consumer, st: &State, msg: &StoreMsg, dc: u64) -> i64 {
    // The pending count as the ack reply will carry it (see deliver_msg).
    let mut npc = st.npc;
    if dc == 1 && st.npcm > 0 {
        npc -= 1;
    }
    let reply_len = c
        .ack_reply(dc, msg.seq, st.dseq, msg.ts, npc.max(0) as u64)
        .len();
    let (hdr, body) = if st.cfg.headers_only {
        (headers_only(&msg.hdr, msg.msg.len()).len(), 0)
    } else {
        (msg.hdr.len(), msg.msg.len())
    };
    (msg.subject.len() + reply_len + hdr + body) as i64
}

/// When a message must wait (replay at the original pace, rate limit).
fn hold_until(st: &mut State, msg: &StoreMsg) -> Option<Instant> {
    let mut wait = Duration::ZERO;
    if st.replay && st.lts > 0 {
        let d = msg.ts - st.lts;
        if d > 1_000_000 {
            wait = Duration::from_nanos(d as u64);
        }
    }
    if let Some(rl) = st.rate.as_mut() {
        let sz = msg.subject.len() + msg.hdr.len() + msg.msg.len();
        wait = wait.max(rl.reserve(sz));
    }
    (wait > Duration::ZERO).then(|| Instant::now() + wait)
}

/// Headers for `headers_only`: the message's own, and its size.
fn headers_only(hdr: &[u8], size: usize) -> Vec<u8> {
    let mut out = if hdr.is_empty() {
        b"NATS/1.0\r\n".to_vec()
    } else {
        hdr[..hdr.len().saturating_sub(2)].to_vec()
    };
    out.extend_from_slice(format!("Nats-Msg-Size: {size}\r\n\r\n").as_bytes());
    out
}

/// Go's deliverMsg.
#[allow(clippy::too_many_arguments)]
fn deliver_msg(
    c: &Consumer,
    st: &mut State,
    stream: &Stream,
    dsubj: String,
    msg: StoreMsg,
    dc: u64,
    out: &mut Vec<Outgoing>,
    ack_none_acks: &mut Vec<u64>,
) {
    if dc == 1 && st.npcm > 0 {
        st.npc -= 1;
    }
    let pending = if st.npcm > 0 {
        st.npc.max(0) as u64
    } else {
        let inner = stream.inner.lock();
        st.num_pending(inner.store.as_ref())
    };
    let dseq = st.dseq;
    st.dseq += 1;
    let reply = c.ack_reply(dc, msg.seq, dseq, msg.ts, pending);
    let (hdr, payload) = if st.cfg.headers_only {
        let h = headers_only(&msg.hdr, msg.msg.len());
        (h.len() as i64, h)
    } else if msg.hdr.is_empty() {
        (-1, msg.msg)
    } else {
        let n = msg.hdr.len() as i64;
        let mut p = msg.hdr;
        p.extend_from_slice(&msg.msg);
        (n, p)
    };
    let psz = (dsubj.len() + reply.len() + payload.len()) as i64;
    if st.maxpb > 0 {
        st.pbytes += psz;
    }
    out.push(Outgoing {
        subject: dsubj,
        shown_as: Some(msg.subject),
        reply,
        hdr,
        payload,
    });
    match st.cfg.ack_policy {
        AckPolicy::Explicit | AckPolicy::All => st.track_pending(msg.seq, dseq),
        AckPolicy::None => {
            st.adflr = dseq;
            st.asflr = msg.seq;
            ack_none_acks.push(msg.seq);
        }
    }
    st.store_delivered(dseq, msg.seq, dc, msg.ts);
    if st.maxpb > 0 && st.need_flow_control(psz) {
        send_flow_control(c, st, out);
    }
    if let (false, true) = (st.is_push(), st.dthresh > Duration::ZERO) {
        if let Some(w) = st.waiting.as_mut() {
            w.last = Instant::now();
        }
    }
    st.ldt = crate::jetstream::stream::now_ns();
    st.dirty = true;
}

/// Go's sendFlowControl: a `100 FlowControl Request` the subscriber must
/// answer before the window opens again.
fn send_flow_control(c: &Consumer, st: &mut State, out: &mut Vec<Outgoing>) {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    if !st.is_push() {
        return;
    }
    let mut id = String::with_capacity(4);
    let mut n: u64 = rand::random::<u64>() >> 1;
    for _ in 0..4 {
        id.push(DIGITS[(n % 62) as usize] as char);
        n /= 62;
    }
    let reply = format!("$JS.FC.{}.{}.{id}", c.stream_name, c.name);
    st.fcsz = st.pbytes;
    st.fcid = reply.clone();
    let hdr = b"NATS/1.0 100 FlowControl Request\r\n\r\n".to_vec();
    out.push(Outgoing {
        subject: st.cfg.deliver_subject.clone(),
        shown_as: None,
        reply,
        hdr: hdr.len() as i64,
        payload: hdr,
    });
}

/// `100 Idle Heartbeat` with the last sequences, and the flow control
/// reply awaited when stalled.
pub fn heartbeat(st: &State, to: &str) -> Outgoing {
    status_msg(to, heartbeat_status(st.dseq - 1, st.sseq - 1, &st.fcid))
}

fn heartbeat_status(last_dseq: u64, last_sseq: u64, fcid: &str) -> Vec<u8> {
    let mut h = format!(
        "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: {last_dseq}\r\nNats-Last-Stream: {last_sseq}\r\n"
    );
    if !fcid.is_empty() {
        h.push_str(&format!("Nats-Consumer-Stalled: {fcid}\r\n"));
    }
    h.push_str("\r\n");
    h.into_bytes()
}

/// Go's processWaiting: expires requests (and, at the end of what there
/// is, one-shot no-wait ones that got something), drops those without
/// interest, sends their heartbeats. Returns the messages the remaining
/// requests want and when one next needs attention.
pub fn process_waiting(
    c: &Consumer,
    st: &mut State,
    eos: bool,
    out: &mut Vec<Outgoing>,
) -> (i64, Option<Instant>) {
    let now = Instant::now();
    let mut brp = 0;
    let mut fexp: Option<Instant> = None;
    let (last_dseq, last_sseq) = (st.dseq - 1, st.sseq - 1);
    let fcid = st.fcid.clone();
    let Some(w) = st.waiting.as_mut() else {
        return (0, None);
    };
    let mut kept = std::collections::VecDeque::with_capacity(w.reqs.len());
    for mut r in w.reqs.drain(..) {
        if (eos && r.no_wait && r.d > 0) || r.expires.is_some_and(|e| now > e) {
            let hdr = pull::pending_status(408, "Request Timeout", r.n, r.b);
            out.push(status_msg(&r.reply, hdr));
            continue;
        }
        if !has_interest(c, &r.reply) {
            continue;
        }
        brp += r.n;
        if let Some(t) = r.next_heartbeat {
            if now > t {
                out.push(status_msg(
                    &r.reply,
                    heartbeat_status(last_dseq, last_sseq, &fcid),
                ));
                r.next_heartbeat = Some(now + r.heartbeat);
            }
            fexp = earliest(fexp, r.next_heartbeat);
        }
        fexp = earliest(fexp, r.expires);
        kept.push_back(r);
    }
    w.reqs = kept;
    (brp, fexp)
}
