//! The publish path: a message published on a stream's subject is checked
//! in Go's order (sealed, expected stream, Msg-Id, expected last
//! sequences and Msg-Id, rollup, sizes, resources), stored, republished,
//! and acknowledged to its reply subject. It runs in the publisher's task;
//! what it sends goes out after the message, through the publisher's
//! router (see [`crate::core::delivery::Deferred`]).

use super::{now_ns, Inner, Stream};
use crate::core::connection::{InternalHandler, InternalMsg};
use crate::core::delivery::{BatchEnd, Deferred};
use crate::jetstream::headers as h;
use natsd_proto::jetstream::stream::Retention;
use natsd_proto::jetstream::{ApiError, ErrorId};
use natsd_store::StoreError;
use std::sync::{Arc, Weak};

/// The handler of a stream's subject subscriptions.
pub fn handler(stream: &Arc<Stream>) -> InternalHandler {
    let weak: Weak<Stream> = Arc::downgrade(stream);
    Arc::new(move |m: InternalMsg<'_>| {
        if let Some(s) = weak.upgrade() {
            s.process(m);
        }
    })
}

/// A refusal's PubAck: `{"error":{..},"stream":"S","seq":0}`.
fn error_ack(stream: &str, e: ApiError) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Ack<'a> {
        error: ApiError,
        stream: &'a str,
        seq: u64,
    }
    crate::jetstream::api::go_json(&Ack {
        error: e,
        stream,
        seq: 0,
    })
    .into_bytes()
}

/// A PubAck: the stream's prefix (`{"stream":"S",...,"seq":`), the
/// sequence and `tail`, written straight into one buffer (this runs once
/// a message).
fn ack_bytes(prefix: &str, seq: u64, tail: &[u8]) -> Vec<u8> {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = seq;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut ack = Vec::with_capacity(prefix.len() + digits.len() - at + tail.len());
    ack.extend_from_slice(prefix.as_bytes());
    ack.extend_from_slice(&digits[at..]);
    ack.extend_from_slice(tail);
    ack
}

/// The answers (PubAcks, republished messages) of messages a file store
/// holds back until the end of their publisher's batch: the batch's
/// messages go to the file in one write, then their answers go out. A
/// PubAck still leaves only once its message is written to the operating
/// system. Only streams without consumers hold writes, so that no
/// consumer delivers a message before it is written.
#[derive(Default)]
pub struct Held {
    /// Each answer, and whether it is a PubAck.
    answers: Vec<(bool, Deferred)>,
    /// A publisher's router will release them at its batch's end.
    armed: bool,
}

/// What the checks decided about a message with headers.
struct Checked {
    msg_id: Option<String>,
    rollup_subject: bool,
    rollup_all: bool,
}

impl Stream {
    /// Takes one message published on the stream's subjects.
    pub fn process(self: &Arc<Self>, m: InternalMsg<'_>) {
        let subject = String::from_utf8_lossy(m.subject);
        let reply = m.reply.filter(|r| !r.is_empty());
        let (hdr, body) = if m.hdr > 0 {
            let n = (m.hdr as usize).min(m.msg.len());
            (&m.msg[..n], &m.msg[n..])
        } else {
            (&b""[..], m.msg)
        };
        let mut out = Vec::new();
        // Read before the stream's lock (see the lock order on
        // `Stream::consumers`).
        let interest = self.has_interest_in(&subject);
        let hold = self.consumers.read().is_empty();
        let stored = self.store_inbound(
            &subject,
            hdr,
            body,
            reply.is_some(),
            interest,
            None,
            hold,
            &mut out,
        );
        if let Some(seq) = stored {
            self.signal_consumers(&subject, seq);
        }
        let mut answers = Vec::with_capacity(out.len());
        for (to, hdr_len, payload) in out {
            let ack = to.is_none();
            let Some(to) = to.or_else(|| reply.map(|r| String::from_utf8_lossy(r).into_owned()))
            else {
                continue;
            };
            let d = Deferred {
                from: self.conn.clone(),
                account: self.account.clone(),
                subject: to,
                reply: None,
                hdr: hdr_len,
                payload,
            };
            answers.push((ack, d));
        }
        if hold {
            let mut inner = self.inner.lock();
            if inner.dir.is_some() {
                // The file store held the write: the answers wait for it.
                inner.held.answers.append(&mut answers);
                if !std::mem::replace(&mut inner.held.armed, true) {
                    m.at_end.push(self.release_at_end());
                }
                return;
            }
        }
        m.out.extend(answers.into_iter().map(|(_, d)| d));
    }

    /// What releases the held answers at the end of a publisher's batch.
    fn release_at_end(self: &Arc<Self>) -> BatchEnd {
        let weak = Arc::downgrade(self);
        Arc::new(move |out: &mut Vec<Deferred>| {
            if let Some(s) = weak.upgrade() {
                s.release_held(out);
            }
        })
    }

    /// Writes the held messages to the file, then lets their answers go
    /// (all of them: those of other publishers' batches too, whose
    /// messages this write took along). When the write fails, their
    /// PubAcks become errors; the store tries the write again with the
    /// next one.
    fn release_held(&self, out: &mut Vec<Deferred>) {
        let mut inner = self.inner.lock();
        let written = inner.store.write_held();
        let held = std::mem::take(&mut inner.held);
        drop(inner);
        let failed = written.err().map(|e| {
            crate::error!(
                "JetStream failed to store a msg on stream '{} > {}': {e}",
                self.account.name,
                self.name
            );
            error_ack(
                &self.name,
                ApiError::with(ErrorId::StreamStoreFailedF, &[("err", &e.to_string())]),
            )
        });
        for (ack, mut d) in held.answers {
            if let (true, Some(f)) = (ack, &failed) {
                d.payload = f.clone();
                d.hdr = -1;
            }
            out.push(d);
        }
    }

    /// Stores one message; `out` gets what to send: `(None, -1, ack)` for
    /// the PubAck, `(Some(subject), hdr, msg)` for a republish. `interest`
    /// says whether a consumer takes the subject (for interest retention).
    /// Returns the sequence stored, if any. `at` is the sequence and time
    /// a mirror stores its origin's message with; with `hold`, a file
    /// store may hold the write back (see [`Held`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn store_inbound(
        self: &Arc<Self>,
        subject: &str,
        hdr: &[u8],
        body: &[u8],
        wants_ack: bool,
        interest: bool,
        at: Option<(u64, i64)>,
        hold: bool,
        out: &mut Vec<(Option<String>, i64, Vec<u8>)>,
    ) -> Option<u64> {
        let mut inner = self.inner.lock();
        let can_respond = wants_ack && !inner.cfg.no_ack;
        let name = self.name.as_str();
        let refuse_none = |out: &mut Vec<_>, e: ApiError| {
            if can_respond {
                out.push((None, -1, error_ack(name, e)));
            }
            None
        };
        if inner.cfg.sealed {
            // Go answers a sealed stream's publishers even with no_ack.
            if wants_ack {
                out.push((
                    None,
                    -1,
                    error_ack(name, ApiError::new(ErrorId::StreamSealed)),
                ));
            }
            return None;
        }
        // The request-info header of an import is not stored.
        let cleaned;
        let hdr: &[u8] = if !hdr.is_empty() {
            cleaned = h::remove(hdr, crate::core::imports::info::HEADER);
            cleaned.as_deref().unwrap_or(b"")
        } else {
            hdr
        };
        let now = match at {
            Some((_, ts)) if ts != 0 => ts,
            _ => now_ns(),
        };
        let checked = match self.check_headers(&mut inner, subject, hdr, now) {
            Ok(c) => c,
            Err(Refusal::Ack(e)) => return refuse_none(out, e),
            Err(Refusal::Duplicate(seq)) => {
                if can_respond {
                    let ack = ack_bytes(&inner.pub_ack, seq, b",\"duplicate\": true}");
                    out.push((None, -1, ack));
                }
                return None;
            }
            Err(Refusal::Silent) => return None,
        };
        let max_size = inner.cfg.max_msg_size;
        if max_size >= 0 && (hdr.len() + body.len()) as i64 > i64::from(max_size) {
            return refuse_none(out, ApiError::new(ErrorId::StreamMessageExceedsMaximum));
        }
        if hdr.len() > u16::MAX as usize {
            return refuse_none(out, ApiError::new(ErrorId::StreamHeaderExceedsMaximum));
        }
        let jsa = self.jsa()?;
        let js = self.js()?;
        let storage = inner.cfg.storage;
        if js.limits_exceeded(storage) {
            js.resources_exceeded();
            return refuse_none(out, ApiError::new(ErrorId::InsufficientResources));
        }
        // Interest retention with no consumer keeps nothing but the
        // sequence.
        if inner.cfg.retention == Retention::Interest && !interest {
            let seq = inner.store.skip_msg(now);
            if let Some(id) = &checked.msg_id {
                let window = inner.cfg.duplicates;
                inner.dedupe.insert(id, seq, now, window);
                inner.last_msg_id = id.clone();
            } else {
                inner.last_msg_id.clear();
            }
            if can_respond {
                out.push((None, -1, ack_bytes(&inner.pub_ack, seq, b"}")));
            }
            return None;
        }
        let republish_to = inner.republish.as_ref().and_then(|t| {
            let src = &inner.cfg.republish.as_ref()?.source;
            natsd_store::subject_matches(subject, src).then(|| t.apply_subject(subject))
        });
        let last_for_subject = match &republish_to {
            Some(_) => inner.store.load_last_msg(subject).map_or(0, |m| m.seq),
            None => 0,
        };
        let was_empty = inner.store.fast_state().msgs == 0;
        let stored = match at {
            Some((seq, _)) => inner
                .store
                .store_raw_msg(subject, hdr, body, seq, now)
                .map(|()| seq),
            None if hold => inner.store.store_msg_held(subject, hdr, body, now),
            None => inner.store.store_msg(subject, hdr, body, now),
        };
        let seq = match stored {
            Ok(seq) => seq,
            Err(e) => {
                if !matches!(
                    e,
                    StoreError::MaxMsgs
                        | StoreError::MaxBytes
                        | StoreError::MaxMsgsPerSubject
                        | StoreError::Closed
                ) {
                    crate::error!(
                        "JetStream failed to store a msg on stream '{} > {}': {e}",
                        self.account.name,
                        name
                    );
                }
                return refuse_none(
                    out,
                    ApiError::with(ErrorId::StreamStoreFailedF, &[("err", &e.to_string())]),
                );
            }
        };
        self.account_usage(&mut inner);
        if jsa.limits_exceeded(storage) {
            if let Some(srv) = js.server() {
                srv.rate_limit_warn(format!(
                    "JetStream resource limits exceeded for account: \"{}\"",
                    self.account.name
                ));
            }
            inner.store.remove_msg(seq);
            self.account_usage(&mut inner);
            return refuse_none(out, ApiError::new(ErrorId::AccountResourcesExceeded));
        }
        match &checked.msg_id {
            Some(id) => {
                let window = inner.cfg.duplicates;
                inner.dedupe.insert(id, seq, now, window);
                inner.last_msg_id = id.clone();
            }
            None => inner.last_msg_id.clear(),
        }
        if checked.rollup_subject {
            let _ = inner.store.purge_ex(subject, 0, 1);
            self.account_usage(&mut inner);
        } else if checked.rollup_all {
            let _ = inner.store.purge_ex("", 0, 1);
            self.account_usage(&mut inner);
        }
        if let Some(to) = republish_to {
            let headers_only = inner.cfg.republish.as_ref().is_some_and(|r| r.headers_only);
            let (seq_s, last_s) = (seq.to_string(), last_for_subject.to_string());
            let mut rh = if hdr.is_empty() {
                h::block(&[
                    (h::STREAM, name),
                    (h::SUBJECT, subject),
                    (h::SEQUENCE, &seq_s),
                    (h::LAST_SEQUENCE, &last_s),
                ])
            } else {
                let x = h::add(hdr, h::STREAM, name);
                let x = h::add(&x, h::SUBJECT, subject);
                let x = h::add(&x, h::SEQUENCE, &seq_s);
                h::add(&x, h::LAST_SEQUENCE, &last_s)
            };
            if headers_only {
                rh = h::add(&rh, h::MSG_SIZE, &body.len().to_string());
            }
            let hdr_len = rh.len() as i64;
            if !headers_only {
                rh.extend_from_slice(body);
            }
            out.push((Some(to), hdr_len, rh));
        }
        if can_respond {
            out.push((None, -1, ack_bytes(&inner.pub_ack, seq, b"}")));
        }
        drop(inner);
        if was_empty {
            self.wake_expiry();
        }
        Some(seq)
    }

    /// Go's header checks, in its order.
    fn check_headers(
        &self,
        inner: &mut Inner,
        subject: &str,
        hdr: &[u8],
        now: i64,
    ) -> Result<Checked, Refusal> {
        let mut checked = Checked {
            msg_id: None,
            rollup_subject: false,
            rollup_all: false,
        };
        if hdr.is_empty() {
            return Ok(checked);
        }
        if let Some(want) = h::value(hdr, h::EXPECTED_STREAM) {
            if want != inner.cfg.name {
                return Err(Refusal::Ack(ApiError::new(ErrorId::StreamNotMatch)));
            }
        }
        if let Some(id) = h::value(hdr, h::MSG_ID) {
            inner.load_dedupe();
            if let Some(seq) = inner.dedupe.check(id, now, inner.cfg.duplicates) {
                return Err(Refusal::Duplicate(seq));
            }
            checked.msg_id = Some(id.to_string());
        }
        if let Some(want) = h::sequence(hdr, h::EXPECTED_LAST_SUBJ_SEQ) {
            let found = inner.store.load_last_msg(subject);
            let last = found.as_ref().map_or(0, |m| m.seq);
            let ok = match found {
                Ok(_) => last == want,
                Err(_) => want == 0,
            };
            if !ok {
                return Err(Refusal::Ack(wrong_last_sequence(last)));
            }
        }
        if let Some(want) = h::sequence(hdr, h::EXPECTED_LAST_SEQ) {
            let last = inner.store.fast_state().last_seq;
            if want != last {
                return Err(Refusal::Ack(wrong_last_sequence(last)));
            }
        }
        if let Some(want) = h::value(hdr, h::EXPECTED_LAST_MSG_ID) {
            inner.load_dedupe();
            if want != inner.last_msg_id {
                return Err(Refusal::Ack(ApiError::with(
                    ErrorId::StreamWrongLastMsgID,
                    &[("id", &inner.last_msg_id)],
                )));
            }
        }
        if let Some(rollup) = h::value(hdr, h::ROLLUP) {
            if !inner.cfg.allow_rollup || inner.cfg.deny_purge {
                return Err(Refusal::Ack(ApiError::with(
                    ErrorId::StreamRollupFailedF,
                    &[("err", "rollup not permitted")],
                )));
            }
            match rollup.to_lowercase().as_str() {
                "sub" => checked.rollup_subject = true,
                "all" => checked.rollup_all = true,
                // Go drops a message with a rollup it does not know,
                // without an answer.
                _ => return Err(Refusal::Silent),
            }
        }
        Ok(checked)
    }
}

enum Refusal {
    Ack(ApiError),
    Duplicate(u64),
    Silent,
}

fn wrong_last_sequence(last: u64) -> ApiError {
    ApiError::with(
        ErrorId::StreamWrongLastSequence,
        &[("seq", &last.to_string())],
    )
}

#[cfg(test)]
mod tests {
    use super::ack_bytes;

    #[test]
    fn acks_are_written_as_go_formats_them() {
        let p = r#"{"stream":"S","seq":"#;
        assert_eq!(ack_bytes(p, 0, b"}"), br#"{"stream":"S","seq":0}"#);
        assert_eq!(
            ack_bytes(p, u64::MAX, b"}"),
            format!("{p}{}}}", u64::MAX).into_bytes()
        );
        assert_eq!(
            ack_bytes(p, 42, b",\"duplicate\": true}"),
            br#"{"stream":"S","seq":42,"duplicate": true}"#
        );
    }
}
