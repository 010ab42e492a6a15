//! `STREAM.MSG.GET` and `STREAM.MSG.DELETE`.

use super::{Ctx, Empty};
use base64::Engine;
use natsd_proto::jetstream::api::{types, MsgDeleteRequest, MsgGetRequest, StoredMsg, Timestamp};
use natsd_proto::jetstream::{ApiError, ErrorId};
use serde::Serialize;

#[derive(Serialize)]
struct Got {
    message: StoredMsg,
}

#[derive(Serialize)]
struct Success {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    success: bool,
}

pub fn get(ctx: &mut Ctx<'_>, name: &str) {
    const K: &str = types::MSG_GET;
    let Some((jsa, req)) = ctx.required_request::<MsgGetRequest>(K) else {
        return;
    };
    let (seq, last, next) = (req.seq, &req.last_by_subj, &req.next_by_subj);
    if (seq > 0 && !last.is_empty())
        || (seq == 0 && last.is_empty() && next.is_empty())
        || (!last.is_empty() && !next.is_empty())
    {
        return ctx.fail(K, ApiError::new(ErrorId::BadRequest), Empty {});
    }
    let Some(stream) = jsa.stream(name) else {
        return ctx.fail(K, ApiError::new(ErrorId::StreamNotFound), Empty {});
    };
    let found = {
        let inner = stream.inner.lock();
        if seq > 0 && next.is_empty() {
            inner.store.load_msg(seq)
        } else if !next.is_empty() {
            inner.store.load_next_msg(next, seq)
        } else {
            inner.store.load_last_msg(last)
        }
    };
    let Ok(sm) = found else {
        return ctx.fail(K, ApiError::new(ErrorId::NoMessageFound), Empty {});
    };
    let b64 =
        |b: &[u8]| (!b.is_empty()).then(|| base64::engine::general_purpose::STANDARD.encode(b));
    let message = StoredMsg {
        subject: sm.subject.clone(),
        seq: sm.seq,
        hdrs: b64(&sm.hdr),
        data: b64(&sm.msg),
        time: Timestamp(sm.ts),
    };
    // Go sends a found message without counting or auditing it.
    ctx.send_uncounted(K, Got { message });
}

pub fn delete(ctx: &mut Ctx<'_>, name: &str) {
    const K: &str = types::MSG_DELETE;
    let Some((jsa, req)) = ctx.required_request::<MsgDeleteRequest>(K) else {
        return;
    };
    let Some(stream) = jsa.stream(name) else {
        return ctx.fail(K, ApiError::new(ErrorId::StreamNotFound), Empty {});
    };
    let cfg = stream.config();
    if cfg.sealed {
        return ctx.fail(K, ApiError::new(ErrorId::StreamSealed), Empty {});
    }
    if cfg.deny_delete {
        return ctx.fail(
            K,
            ApiError::with(
                ErrorId::StreamMsgDeleteFailedF,
                &[("err", "message delete not permitted")],
            ),
            Empty {},
        );
    }
    // Go's file store refuses removals while a snapshot is handed out.
    if req.seq > 0 && super::snapshots::in_progress(&stream) {
        let e = ApiError::with(
            ErrorId::StreamMsgDeleteFailedF,
            &[("err", "snapshot in progress")],
        );
        return ctx.fail(K, e, Empty {});
    }
    if stream.remove_msg(req.seq, req.no_erase) {
        ctx.send(K, None, Success { success: true });
    } else {
        // Go answers a missing sequence as a plain response.
        let e = ApiError::with(ErrorId::SequenceNotFound, &[("seq", &req.seq.to_string())]);
        let text = super::go_json(&natsd_proto::jetstream::api::Response {
            kind: K,
            error: Some(e),
            body: Empty {},
        });
        ctx.send_text(text, false);
    }
}
