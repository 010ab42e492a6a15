//! Direct gets (`allow_direct`): `$JS.API.DIRECT.GET.<stream>` with a JSON
//! request, and `$JS.API.DIRECT.GET.<stream>.<subject>` for the last
//! message of a subject, answered by the stream itself with the message
//! and its stream headers, or a status.

use super::Stream;
use crate::core::connection::{InternalHandler, InternalMsg, Subscription};
use crate::core::delivery::Deferred;
use crate::jetstream::headers as h;
use natsd_proto::jetstream::api::{MsgGetRequest, Timestamp};
use std::sync::{Arc, Weak};

/// Go's queue group for the direct get subscriptions.
const GROUP: &str = "_sys_";

pub fn subscribe(stream: &Arc<Stream>) -> Vec<Arc<Subscription>> {
    subscribe_for(stream, &stream.name)
}

/// The direct gets of stream `name` answered by `stream` (a mirror with
/// `mirror_direct` answers its origin's).
pub fn subscribe_for(stream: &Arc<Stream>, name: &str) -> Vec<Arc<Subscription>> {
    let by_request = format!("$JS.API.DIRECT.GET.{name}");
    let last_by_subject = format!("{by_request}.>");
    vec![
        stream.subscribe(&by_request, Some(GROUP), handler(stream, false)),
        stream.subscribe(&last_by_subject, Some(GROUP), handler(stream, true)),
    ]
}

fn handler(stream: &Arc<Stream>, by_subject: bool) -> InternalHandler {
    let weak: Weak<Stream> = Arc::downgrade(stream);
    Arc::new(move |m: InternalMsg<'_>| {
        let Some(s) = weak.upgrade() else { return };
        let Some(reply) = m.reply.filter(|r| !r.is_empty()) else {
            return;
        };
        let body = if m.hdr > 0 {
            &m.msg[(m.hdr as usize).min(m.msg.len())..]
        } else {
            m.msg
        };
        let (hdr_len, payload) = if by_subject {
            s.direct_last_by_subject(m.subject, body)
        } else {
            s.direct_get(body)
        };
        m.out.push(Deferred {
            from: s.conn.clone(),
            account: s.account.clone(),
            subject: String::from_utf8_lossy(reply).into_owned(),
            reply: None,
            hdr: hdr_len,
            payload,
        });
    })
}

fn status(code: u16, text: &str) -> (i64, Vec<u8>) {
    let b = h::status(code, text);
    (b.len() as i64, b)
}

impl Stream {
    fn direct_get(&self, body: &[u8]) -> (i64, Vec<u8>) {
        if body.is_empty() {
            return status(408, "Empty Request");
        }
        let Ok(req) = serde_json::from_slice::<MsgGetRequest>(body) else {
            return status(408, "Malformed Request");
        };
        if req.seq == 0 && req.last_by_subj.is_empty() && req.next_by_subj.is_empty() {
            return status(408, "Empty Request");
        }
        if (req.seq > 0 && !req.last_by_subj.is_empty())
            || (!req.last_by_subj.is_empty() && !req.next_by_subj.is_empty())
        {
            return status(408, "Bad Request");
        }
        self.direct_answer(&req)
    }

    fn direct_last_by_subject(&self, subject: &[u8], body: &[u8]) -> (i64, Vec<u8>) {
        if !body.is_empty() {
            return status(408, "Bad Request");
        }
        // `$JS.API.DIRECT.GET.<stream>.` is five tokens; the rest is the key.
        let subject = String::from_utf8_lossy(subject);
        let key = subject.splitn(6, '.').nth(5).unwrap_or("");
        if key.is_empty() {
            return status(408, "Bad Request");
        }
        self.direct_answer(&MsgGetRequest {
            last_by_subj: key.to_string(),
            ..Default::default()
        })
    }

    fn direct_answer(&self, req: &MsgGetRequest) -> (i64, Vec<u8>) {
        let inner = self.inner.lock();
        let found = if req.seq > 0 && req.next_by_subj.is_empty() {
            inner.store.load_msg(req.seq)
        } else if !req.next_by_subj.is_empty() {
            inner.store.load_next_msg(&req.next_by_subj, req.seq)
        } else {
            inner.store.load_last_msg(&req.last_by_subj)
        };
        drop(inner);
        let Ok(sm) = found else {
            return status(404, "Message Not Found");
        };
        let (seq, ts) = (sm.seq.to_string(), Timestamp(sm.ts).text());
        let mut out = if sm.hdr.is_empty() {
            h::block(&[
                (h::STREAM, &self.name),
                (h::SUBJECT, &sm.subject),
                (h::SEQUENCE, &seq),
                (h::TIME_STAMP, &ts),
            ])
        } else {
            let x = h::add(&sm.hdr, h::STREAM, &self.name);
            let x = h::add(&x, h::SUBJECT, &sm.subject);
            let x = h::add(&x, h::SEQUENCE, &seq);
            h::add(&x, h::TIME_STAMP, &ts)
        };
        let hdr_len = out.len() as i64;
        out.extend_from_slice(&sm.msg);
        (hdr_len, out)
    }
}
