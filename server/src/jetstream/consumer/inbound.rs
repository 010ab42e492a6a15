//! What reaches a consumer through its subscriptions, handled in the
//! sender's task: acks on `$JS.ACK.<stream>.<consumer>.*.*.*.*.*` (Go's
//! processAck), pull requests on `$JS.API.CONSUMER.MSG.NEXT.<stream>.
//! <consumer>` (processNextMsgRequest) and flow control replies on
//! `$JS.FC.<stream>.<consumer>.*`. Answers leave after the message that
//! caused them, through the sender's router.

use super::deliver::process_waiting;
use super::pull::{self, Waiting};
use super::state::State;
use super::{status_msg, Consumer};
use crate::conn::internal::Outgoing;
use crate::core::connection::{InternalHandler, InternalMsg};
use crate::core::delivery::Deferred;
use natsd_proto::jetstream::consumer::NakDelay;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

fn handler(
    c: &Arc<Consumer>,
    f: fn(&Consumer, &InternalMsg<'_>, &mut Vec<Outgoing>),
) -> InternalHandler {
    let weak: Weak<Consumer> = Arc::downgrade(c);
    Arc::new(move |m: InternalMsg<'_>| {
        let Some(c) = weak.upgrade() else { return };
        if c.is_closed() {
            return;
        }
        let mut out = Vec::new();
        f(&c, &m, &mut out);
        for o in out {
            m.out.push(Deferred {
                from: c.conn.clone(),
                account: c.account.clone(),
                subject: o.subject,
                reply: (!o.reply.is_empty()).then_some(o.reply),
                hdr: o.hdr,
                payload: o.payload,
            });
        }
    })
}

fn body<'a>(m: &InternalMsg<'a>) -> &'a [u8] {
    if m.hdr > 0 {
        &m.msg[(m.hdr as usize).min(m.msg.len())..]
    } else {
        m.msg
    }
}

pub fn acks(c: &Arc<Consumer>) -> InternalHandler {
    handler(c, |c, m, out| {
        let subject = String::from_utf8_lossy(m.subject);
        let reply = m.reply.map(String::from_utf8_lossy).unwrap_or_default();
        process_ack(c, &subject, &reply, body(m), out);
    })
}

pub fn pull_requests(c: &Arc<Consumer>) -> InternalHandler {
    handler(c, |c, m, out| {
        let Some(reply) = m.reply.filter(|r| !r.is_empty()) else {
            return;
        };
        let reply = String::from_utf8_lossy(reply).into_owned();
        next_request(c, &reply, body(m), out);
    })
}

pub fn flow_control(c: &Arc<Consumer>) -> InternalHandler {
    handler(c, |c, m, _| {
        let subject = String::from_utf8_lossy(m.subject);
        if c.st.lock().flow_control_reply(&subject) {
            c.wake.notify_one();
        }
    })
}

/// The delivery count, stream and consumer sequences of an ack subject
/// (all 0 when it is not one: 9 tokens, `$JS.ACK`).
pub fn ack_subject_info(subject: &str) -> (u64, u64, u64) {
    let t: Vec<&str> = subject.split('.').collect();
    if t.len() != 9 || t[0] != "$JS" || t[1] != "ACK" {
        return (0, 0, 0);
    }
    let num = |s: &str| -> u64 {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return u64::MAX;
        }
        s.parse().unwrap_or(u64::MAX)
    };
    (num(t[4]), num(t[5]), num(t[6]))
}

/// Go's processAck.
fn process_ack(c: &Consumer, subject: &str, reply: &str, msg: &[u8], out: &mut Vec<Outgoing>) {
    let (dc, sseq, dseq) = ack_subject_info(subject);
    let mut skip_reply = sseq == 0;
    if msg.is_empty() || msg == b"+ACK" || msg == b"+OK" {
        ack(c, sseq, dseq, dc, true, out);
    } else if let Some(rest) = msg.strip_prefix(b"+NXT") {
        ack(c, sseq, dseq, dc, true, out);
        next_request(c, reply, rest, out);
        skip_reply = true;
    } else if msg.starts_with(b"-NAK") {
        nak(c, sseq, dseq, dc, &msg[4..], out);
    } else if msg == b"+WPI" {
        let mut st = c.st.lock();
        let now = crate::jetstream::stream::now_ns();
        if let Some(p) = st.pending.get_mut(&sseq) {
            p.ts = now;
            let pdseq = p.dseq;
            st.store_delivered(pdseq, sseq, 1, now);
            st.dirty = true;
        }
    } else if msg == b"+TERM" {
        ack(c, sseq, dseq, dc, false, out);
        out.extend(c.about().terminated(dseq, sseq, dc));
    }
    if !reply.is_empty() && !skip_reply {
        out.push(Outgoing {
            subject: reply.to_string(),
            hdr: -1,
            ..Default::default()
        });
    }
}

/// Go's processAckMsg, then the stream's retention and the delivery task
/// when the consumer was held by max ack pending.
fn ack(c: &Consumer, sseq: u64, dseq: u64, dc: u64, sample: bool, out: &mut Vec<Outgoing>) {
    let unblocked = {
        let mut st = c.st.lock();
        if sample && st.sfreq > 0 && st.pending.contains_key(&sseq) {
            let take = st.sfreq >= 100 || rand::random::<u32>() % 100 <= st.sfreq as u32;
            if take {
                let delay = crate::jetstream::stream::now_ns() - st.pending[&sseq].ts;
                out.extend(c.about().ack_metric(dseq, sseq, delay, dc));
            }
        }
        st.ack_msg(sseq, dseq)
    };
    c.after_acks();
    if unblocked == Some(true) {
        c.wake.notify_one();
    }
}

/// Go's processNak: redelivered now, or after the delay given as JSON
/// (`{"delay": ns}`) or a Go duration.
fn nak(c: &Consumer, sseq: u64, dseq: u64, dc: u64, arg: &[u8], out: &mut Vec<Outgoing>) {
    let mut st = c.st.lock();
    if dseq <= st.adflr || dseq > st.dseq {
        return;
    }
    if !st.pending.is_empty() && !st.pending.contains_key(&sseq) {
        return;
    }
    out.extend(c.about().nak(dseq, sseq, dc));
    let arg = arg.trim_ascii();
    if !arg.is_empty() {
        let delay = if arg[0] == b'{' {
            serde_json::from_slice::<NakDelay>(arg)
                .ok()
                .map(|d| d.delay)
        } else {
            std::str::from_utf8(arg)
                .ok()
                .and_then(|s| crate::options::duration::parse_go_duration(s).ok())
                .map(|d| d as i64)
        };
        match delay {
            Some(d) => {
                st.remove_from_redeliver_queue(sseq);
                let ack_wait = st.cfg.ack_wait;
                if let Some(p) = st.pending.get_mut(&sseq) {
                    p.ts = crate::jetstream::stream::now_ns() - ack_wait + d;
                    let (pdseq, pts) = (p.dseq, p.ts);
                    st.store_delivered(pdseq, sseq, dc, pts);
                    st.dirty = true;
                    if st.ptmr.is_some() {
                        st.ptmr = Some(Instant::now() + Duration::from_millis(10));
                    }
                }
                drop(st);
                c.wake.notify_one();
                return;
            }
            None => crate::warn!(
                "JetStream consumer '{} > {} > {}' bad NAK delay value: {}",
                c.account.name,
                c.stream_name,
                c.name,
                crate::jetstream::stream::check::go_quote(&String::from_utf8_lossy(arg))
            ),
        }
    }
    if !st.on_redeliver_queue(sseq) {
        st.add_to_redeliver_queue(&[sseq]);
    }
    drop(st);
    c.wake.notify_one();
}

/// Go's processNextMsgRequest.
pub fn next_request(c: &Consumer, reply: &str, body: &[u8], out: &mut Vec<Outgoing>) {
    let mut st = c.st.lock();
    if st.is_push() || st.waiting.is_none() {
        out.push(status_msg(
            reply,
            pull::status(409, "Consumer is push based"),
        ));
        return;
    }
    let req = match pull::parse(body) {
        Ok(r) => r,
        Err(e) => {
            out.push(status_msg(
                reply,
                pull::status(400, &format!("Bad Request - {e}")),
            ));
            return;
        }
    };
    let cfg = &st.cfg;
    if cfg.max_request_batch > 0 && req.batch > cfg.max_request_batch {
        let text = format!("Exceeded MaxRequestBatch of {}", cfg.max_request_batch);
        out.push(status_msg(reply, pull::status(409, &text)));
        return;
    }
    if let (Some(exp), true) = (req.expires, cfg.max_request_expires > 0) {
        let max = Duration::from_nanos(cfg.max_request_expires as u64);
        if exp > max {
            let text = format!(
                "Exceeded MaxRequestExpires of {}",
                crate::options::go_duration(max)
            );
            out.push(status_msg(reply, pull::status(409, &text)));
            return;
        }
    }
    if req.max_bytes > 0
        && cfg.max_request_max_bytes > 0
        && req.max_bytes > cfg.max_request_max_bytes
    {
        let text = format!(
            "Exceeded MaxRequestMaxBytes of {}",
            cfg.max_request_max_bytes
        );
        out.push(status_msg(reply, pull::status(409, &text)));
        return;
    }
    if st.waiting.as_ref().is_some_and(|w| w.is_full()) {
        process_waiting(c, &mut st, false, out);
    }
    if req.no_wait && !no_wait_admitted(c, &mut st, req.expires.is_some(), reply, out) {
        return;
    }
    let now = Instant::now();
    let waiting = Waiting {
        reply: reply.to_string(),
        n: req.batch,
        d: 0,
        b: req.max_bytes,
        expires: req.expires.map(|e| now + e),
        received: now,
        heartbeat: req.heartbeat,
        next_heartbeat: (req.heartbeat > Duration::ZERO).then(|| now + req.heartbeat),
        no_wait: req.no_wait,
        interest_seen: None,
    };
    let added = st.waiting.as_mut().is_some_and(|w| w.add(waiting));
    if !added {
        out.push(status_msg(reply, pull::status(409, "Exceeded MaxWaiting")));
        return;
    }
    drop(st);
    c.wake.notify_one();
}

/// A no-wait request is answered at once when there is nothing for it:
/// 404 with nothing pending (and no expiry), 408 when the requests
/// already waiting want more than there is.
fn no_wait_admitted(
    c: &Consumer,
    st: &mut State,
    expires: bool,
    reply: &str,
    out: &mut Vec<Outgoing>,
) -> bool {
    let pending = match c.stream() {
        Some(s) => st.num_pending(s.inner.lock().store.as_ref()),
        None => 0,
    } + st.rdq.len() as u64;
    if pending == 0 && !expires {
        if let Some(w) = st.waiting.as_mut() {
            w.last = Instant::now();
        }
        out.push(status_msg(reply, pull::status(404, "No Messages")));
        return false;
    }
    if pending > 0 {
        let (brp, _) = process_waiting(c, st, false, out);
        if (pending as i64) < brp {
            if let Some(w) = st.waiting.as_mut() {
                w.last = Instant::now();
            }
            out.push(status_msg(reply, pull::status(408, "Requests Pending")));
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ack_subjects() {
        assert_eq!(ack_subject_info("$JS.ACK.S.C.2.10.7.1700.3"), (2, 10, 7));
        assert_eq!(ack_subject_info("$JS.ACK.S.C.2.10.7"), (0, 0, 0));
        assert_eq!(ack_subject_info("foo.ACK.S.C.2.10.7.1.1"), (0, 0, 0));
    }
}
