//! `STREAM.CREATE|UPDATE|INFO|DELETE|PURGE|NAMES|LIST` and the account
//! purge, with Go's checks in Go's order.

use super::{is_empty_request, Ctx, Empty};
use crate::core::delivery::Deferred;
use crate::jetstream::account::JsAccount;
use crate::jetstream::advisories::{Sink, StreamAction};
use crate::jetstream::stream::check::{check_config, check_update};
use crate::jetstream::stream::{lost_of, now_ns, state_json, store, Stream};
use crate::jetstream::JetStream;
use natsd_proto::jetstream::api::{
    types, NamesRequest, Paged, PurgeRequest, StreamInfo, StreamInfoRequest, Timestamp,
};
use natsd_proto::jetstream::stream::StreamConfig;
use natsd_proto::jetstream::{ApiError, ErrorId};
use natsd_proto::subject::subjects_collide;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Go's JSApiNamesLimit and JSApiListLimit.
const NAMES_LIMIT: usize = 1024;
const LIST_LIMIT: usize = 256;
/// Go's JSMaxSubjectDetails.
const MAX_SUBJECT_DETAILS: usize = 100_000;

#[derive(Serialize)]
struct Created {
    #[serde(flatten)]
    info: StreamInfo,
    did_create: bool,
}

#[derive(Serialize, Default)]
struct InfoBody {
    #[serde(flatten)]
    paged: Paged,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    info: Option<StreamInfo>,
}

#[derive(Serialize)]
struct NamesBody {
    #[serde(flatten)]
    paged: Paged,
    streams: Option<Vec<String>>,
}

#[derive(Serialize)]
struct ListBody {
    #[serde(flatten)]
    paged: Paged,
    streams: Vec<StreamInfo>,
}

#[derive(Serialize)]
struct Success {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    success: bool,
}

#[derive(Serialize)]
struct Purged {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    success: bool,
    purged: u64,
}

/// The server's `limits { duplicate_window }` in ns (0: none).
pub fn dupe_limit(ctx: &Ctx<'_>) -> i64 {
    ctx.srv.opts().jetstream_config.limits.duplicate_window_ns as i64
}

pub fn create(ctx: &mut Ctx<'_>, name: &str) {
    const K: &str = types::STREAM_CREATE;
    let Some(jsa) = ctx.enabled(K, Empty {}) else {
        return;
    };
    let Ok(cfg) = super::decode::<StreamConfig>(ctx.body) else {
        return ctx.fail(K, ApiError::new(ErrorId::InvalidJSON), Empty {});
    };
    if name != cfg.name {
        return ctx.fail(K, ApiError::new(ErrorId::StreamMismatch), Empty {});
    }
    if name.contains(['\\', '/']) {
        return ctx.fail(
            K,
            ApiError::new(ErrorId::StreamNameContainsPathSeparators),
            Empty {},
        );
    }
    if cfg.sealed {
        return ctx.fail(
            K,
            invalid("stream configuration for create can not be sealed"),
            Empty {},
        );
    }
    if cfg.mirror_direct && cfg.mirror.is_none() {
        return ctx.fail(
            K,
            invalid("stream has no mirror but does have mirror direct"),
            Empty {},
        );
    }
    if let Some(e) = jsa.create_limits_check(ctx.js, &cfg) {
        return ctx.fail(K, e, Empty {});
    }
    let js = ctx.js.clone();
    match add_stream(&js, &jsa, &cfg, ctx.out()) {
        Ok((stream, _)) => {
            // Go's create answer has no mirror or sources info.
            let mut info = stream.info("");
            (info.mirror, info.sources) = (None, Vec::new());
            ctx.send(
                K,
                None,
                Created {
                    info,
                    did_create: true,
                },
            );
        }
        Err(e) => ctx.fail(K, e, Empty {}),
    }
}

fn invalid(text: &str) -> ApiError {
    ApiError::with(ErrorId::StreamInvalidConfigF, &[("err", text)])
}

/// Go's addStream: the checked config, an existing stream of the same
/// config, or a new one (announced by its create advisory into `out`).
/// The bool tells whether it is new.
pub fn add_stream(
    js: &Arc<JetStream>,
    jsa: &Arc<JsAccount>,
    requested: &StreamConfig,
    out: &mut Vec<Deferred>,
) -> Result<(Arc<Stream>, bool), ApiError> {
    add_stream_created(js, jsa, requested, now_ns(), out)
}

/// [`add_stream`] of a stream created at `created` (ns; a restore keeps
/// the snapshot's creation time).
pub fn add_stream_created(
    js: &Arc<JetStream>,
    jsa: &Arc<JsAccount>,
    requested: &StreamConfig,
    created: i64,
    out: &mut Vec<Deferred>,
) -> Result<(Arc<Stream>, bool), ApiError> {
    let opts = js.server().map(|s| s.opts()).unwrap_or_default();
    let dupe_limit = opts.jetstream_config.limits.duplicate_window_ns as i64;
    let cfg = check_config(requested, &jsa.limits(), dupe_limit)?;
    if cfg.replicas > 1 {
        return Err(ApiError::new(ErrorId::StreamReplicasNotSupported));
    }
    if let Some(existing) = jsa.stream(&cfg.name) {
        if existing.config() == cfg {
            return Ok((existing, false));
        }
        return Err(ApiError::new(ErrorId::StreamNameExist));
    }
    let reserved = jsa.reservation(&cfg);
    if let Some(e) = jsa.check_all_limits(js, &cfg, reserved, 0) {
        return Err(e);
    }
    if !cfg.template.is_empty() && !jsa.template_owns(&cfg.template, &cfg.name) {
        return Err(ApiError::with(
            ErrorId::StreamCreate,
            &[("err", "stream not owned by template")],
        ));
    }
    if subjects_overlap(jsa, &cfg.subjects, None) {
        return Err(ApiError::new(ErrorId::StreamSubjectOverlap));
    }
    let max_payload = i64::from(opts.max_payload);
    let opened = store::open(&cfg, &jsa.dir, created, max_payload, &js.config).map_err(|e| {
        crate::warn!(
            "Stream create failed for '{} > {}': {e}",
            jsa.account.name,
            cfg.name
        );
        ApiError::with(
            ErrorId::StreamCreate,
            &[("err", "error creating store for stream")],
        )
    })?;
    js.reserve(&cfg, 1);
    let s = Stream::start(js, jsa, cfg.clone(), opened, created);
    jsa.streams.write().insert(cfg.name.clone(), s.clone());
    Sink {
        from: js.connection(),
        account: &jsa.account,
        out,
    }
    .stream_action(
        StreamAction::Create,
        &cfg.name,
        &cfg.template,
        &js.config.domain,
    );
    Ok((s, true))
}

/// Whether `subjects` collide with another stream's (not `except`'s).
fn subjects_overlap(jsa: &JsAccount, subjects: &[String], except: Option<&str>) -> bool {
    jsa.stream_list()
        .iter()
        .filter(|s| Some(s.name.as_str()) != except)
        .any(|s| {
            let other = s.config().subjects;
            subjects
                .iter()
                .any(|a| other.iter().any(|b| subjects_collide(a, b)))
        })
}

pub fn update(ctx: &mut Ctx<'_>, name: &str) {
    const K: &str = types::STREAM_UPDATE;
    let Some(jsa) = ctx.enabled(K, Empty {}) else {
        return;
    };
    let Ok(ncfg) = super::decode::<StreamConfig>(ctx.body) else {
        return ctx.fail(K, ApiError::new(ErrorId::InvalidJSON), Empty {});
    };
    let cfg = match check_config(&ncfg, &jsa.limits(), dupe_limit(ctx)) {
        Ok(c) => c,
        Err(e) => return ctx.fail(K, e, Empty {}),
    };
    if name != cfg.name {
        return ctx.fail(K, ApiError::new(ErrorId::StreamMismatch), Empty {});
    }
    let Some(stream) = jsa.stream(name) else {
        return ctx.fail(K, ApiError::new(ErrorId::StreamNotFound), Empty {});
    };
    let old = stream.config();
    let cfg = match check_update(&old, &ncfg, &jsa.limits(), dupe_limit(ctx)) {
        Ok(c) => c,
        Err(e) => return ctx.fail(K, e, Empty {}),
    };
    if subjects_overlap(&jsa, &cfg.subjects, Some(name)) {
        return ctx.fail(K, ApiError::new(ErrorId::StreamSubjectOverlap), Empty {});
    }
    if let Some(e) = update_limits_check(ctx, &jsa, &old, &cfg) {
        return ctx.fail(K, e, Empty {});
    }
    ctx.js.reserve(&old, -1);
    ctx.js.reserve(&cfg, 1);
    stream.update(cfg.clone());
    ctx.stream_action(StreamAction::Update, name, &cfg.template);
    let info = stream.info(&ctx.js.config.domain);
    ctx.send(K, None, info);
}

/// Go's limits check of an update: only a larger max_bytes reserves more,
/// over what the other streams and this one reserve already.
fn update_limits_check(
    ctx: &Ctx<'_>,
    jsa: &JsAccount,
    old: &StreamConfig,
    cfg: &StreamConfig,
) -> Option<ApiError> {
    let diff = (cfg.max_bytes - old.max_bytes).max(0);
    let offset = if old.max_bytes > 0 {
        old.max_bytes * (cfg.replicas - old.replicas).max(0)
    } else {
        0
    };
    let mut probe = cfg.clone();
    probe.max_bytes = diff;
    let reserved = jsa.reservation(cfg) + old.replicas * old.max_bytes;
    jsa.check_all_limits(ctx.js, &probe, reserved, offset)
}

pub fn names(ctx: &mut Ctx<'_>, list: bool) {
    let kind = if list {
        types::STREAM_LIST
    } else {
        types::STREAM_NAMES
    };
    // A names error has no names (null); a list error an empty list.
    let none = |ctx: &mut Ctx<'_>, e: ApiError| {
        if list {
            let body = ListBody {
                paged: Paged::default(),
                streams: Vec::new(),
            };
            ctx.fail(kind, e, body)
        } else {
            let body = NamesBody {
                paged: Paged::default(),
                streams: None,
            };
            ctx.fail(kind, e, body)
        }
    };
    let Some(jsa) = ctx.jsa() else {
        return none(ctx, ApiError::new(ErrorId::NotEnabledForAccount));
    };
    let mut req = NamesRequest::default();
    if !is_empty_request(ctx.body) {
        match super::decode::<NamesRequest>(ctx.body) {
            Ok(r) => req = r,
            Err(_) => return none(ctx, ApiError::new(ErrorId::InvalidJSON)),
        }
    }
    let streams: Vec<Arc<Stream>> = jsa
        .stream_list()
        .into_iter()
        .filter(|s| {
            req.subject.is_empty()
                || s.config()
                    .subjects
                    .iter()
                    .any(|x| subjects_collide(&req.subject, x))
        })
        .collect();
    let total = streams.len();
    let offset = (req.offset.max(0) as usize).min(total);
    let limit = if list { LIST_LIMIT } else { NAMES_LIMIT };
    let page = streams.iter().skip(offset).take(limit);
    let paged = Paged {
        total,
        offset,
        limit,
    };
    if list {
        let domain = ctx.js.config.domain.clone();
        let streams = page.map(|s| s.info(&domain)).collect();
        ctx.send(kind, None, ListBody { paged, streams });
    } else {
        let names: Vec<String> = page.map(|s| s.name.clone()).collect();
        let streams = (!names.is_empty()).then_some(names);
        ctx.send(kind, None, NamesBody { paged, streams });
    }
}

pub fn info(ctx: &mut Ctx<'_>, name: &str) {
    const K: &str = types::STREAM_INFO;
    let Some(_) = ctx.enabled(K, InfoBody::default()) else {
        return;
    };
    let mut req = StreamInfoRequest::default();
    if !is_empty_request(ctx.body) {
        match super::decode::<StreamInfoRequest>(ctx.body) {
            Ok(r) => req = r,
            Err(_) => return ctx.fail(K, ApiError::new(ErrorId::InvalidJSON), InfoBody::default()),
        }
    }
    let Some(stream) = ctx.jsa().and_then(|j| j.stream(name)) else {
        return ctx.fail(
            K,
            ApiError::new(ErrorId::StreamNotFound),
            InfoBody::default(),
        );
    };
    let domain = ctx.js.config.domain.clone();
    let (st, subjects, lost) = {
        let inner = stream.inner.lock();
        let st = if req.deleted_details {
            inner.store.state()
        } else {
            inner.store.fast_state()
        };
        let subjects = (!req.subjects_filter.is_empty())
            .then(|| inner.store.subjects_state(&req.subjects_filter));
        (st, subjects, lost_of(inner.store.as_ref()))
    };
    let mut state = state_json(&st, req.deleted_details, stream.consumer_count());
    state.lost = lost;
    let mut paged = Paged::default();
    if let Some(mut all) = subjects.filter(|s| !s.is_empty()) {
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let offset = (req.offset.max(0) as usize).min(all.len());
        let end = (offset + MAX_SUBJECT_DETAILS).min(all.len());
        if end > offset {
            state.subjects = Some(
                all[offset..end]
                    .iter()
                    .map(|(s, ss)| (s.clone(), ss.msgs))
                    .collect::<BTreeMap<_, _>>(),
            );
        }
        paged = Paged {
            total: all.len(),
            offset,
            limit: MAX_SUBJECT_DETAILS,
        };
    }
    let (mirror, sources) = stream.origins_info();
    let info = StreamInfo {
        config: stream.config(),
        created: Timestamp(stream.created),
        state,
        domain,
        mirror,
        sources,
    };
    ctx.send(
        K,
        None,
        InfoBody {
            paged,
            info: Some(info),
        },
    );
}

pub fn delete(ctx: &mut Ctx<'_>, name: &str) {
    const K: &str = types::STREAM_DELETE;
    let Some(jsa) = ctx.enabled(K, Empty {}) else {
        return;
    };
    if !is_empty_request(ctx.body) {
        return ctx.fail(K, ApiError::new(ErrorId::NotEmptyRequest), Empty {});
    }
    if !remove_stream(ctx, &jsa, name) {
        return ctx.fail(K, ApiError::new(ErrorId::StreamNotFound), Empty {});
    }
    ctx.send(K, None, Success { success: true });
}

/// Deletes a stream with what it stored, announcing it; false when there
/// is no such stream.
pub fn remove_stream(ctx: &mut Ctx<'_>, jsa: &JsAccount, name: &str) -> bool {
    let Some(stream) = jsa.streams.write().remove(name) else {
        return false;
    };
    let cfg = stream.config();
    ctx.js.reserve(&cfg, -1);
    stream.stop(true);
    ctx.stream_action(StreamAction::Delete, name, &cfg.template);
    true
}

pub fn purge(ctx: &mut Ctx<'_>, name: &str) {
    const K: &str = types::STREAM_PURGE;
    let zero = || Purged {
        success: false,
        purged: 0,
    };
    let Some(jsa) = ctx.enabled(K, zero()) else {
        return;
    };
    let mut req = None;
    if !is_empty_request(ctx.body) {
        let Ok(r) = super::decode::<PurgeRequest>(ctx.body) else {
            return ctx.fail(K, ApiError::new(ErrorId::InvalidJSON), zero());
        };
        if r.seq > 0 && r.keep > 0 {
            return ctx.fail(K, ApiError::new(ErrorId::BadRequest), zero());
        }
        req = Some(r);
    }
    let Some(stream) = jsa.stream(name) else {
        return ctx.fail(K, ApiError::new(ErrorId::StreamNotFound), zero());
    };
    let cfg = stream.config();
    if cfg.sealed {
        return ctx.fail(K, ApiError::new(ErrorId::StreamSealed), zero());
    }
    if cfg.deny_purge {
        return ctx.fail(
            K,
            ApiError::with(
                ErrorId::StreamPurgeFailedF,
                &[("err", "stream purge not permitted")],
            ),
            zero(),
        );
    }
    let result = match &req {
        Some(r) => stream.purge(&r.filter, r.seq, r.keep),
        None => stream.purge("", 0, 0),
    };
    match result {
        Ok(n) => ctx.send(
            K,
            None,
            Purged {
                success: true,
                purged: n,
            },
        ),
        // Go answers a store error as a plain response.
        Err(e) => {
            let e = ApiError::with(ErrorId::StreamGeneralErrorF, &[("err", &e.to_string())]);
            let text = super::go_json(&natsd_proto::jetstream::api::Response {
                kind: K,
                error: Some(e),
                body: zero(),
            });
            ctx.send_text(text, false);
        }
    }
}

/// `$JS.API.ACCOUNT.PURGE.<account>`, from the system account: deletes
/// every stream of the account and its directory.
pub fn account_purge(ctx: &mut Ctx<'_>) {
    const K: &str = types::ACCOUNT_PURGE;
    #[derive(Serialize)]
    struct Initiated {
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        initiated: bool,
    }
    let name = ctx.subject.split('.').nth(4).unwrap_or("").to_string();
    let jsa = ctx.js.account(&name);
    let streams = jsa.as_ref().map(|j| j.stream_list()).unwrap_or_default();
    crate::notice!(
        "Purge request for account {name} (streams: {}, hasAccount: {})",
        streams.len(),
        ctx.srv.accounts().get(&name).is_some()
    );
    if let Some(jsa) = &jsa {
        for s in streams {
            jsa.streams.write().remove(&s.name);
            ctx.js.reserve(&s.config(), -1);
            s.stop(true);
        }
    }
    if let Err(e) = std::fs::remove_dir_all(ctx.js.config.store_dir.join(&name)) {
        if e.kind() != std::io::ErrorKind::NotFound {
            let e = ApiError::with(ErrorId::StreamGeneralErrorF, &[("err", &e.to_string())]);
            return ctx.fail(K, e, Initiated { initiated: false });
        }
    }
    ctx.send(K, None, Initiated { initiated: true });
}
