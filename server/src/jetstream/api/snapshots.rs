//! `STREAM.SNAPSHOT` and `STREAM.RESTORE`, as Go 2.9.10 serves them on
//! one server.
//!
//! A snapshot is a file stream's files (see [`natsd_store::file::snapshot`]
//! for the format) taken under the stream's lock after a flush, answered
//! with the stream's config and state, then handed out to the request's
//! `deliver_subject` in chunks: each with a reply subject
//! `$JS.SNAPSHOT.ACK.<stream>.<id>.<size>.<n>` the receiver may answer to
//! move the 8 MiB window on (without answers Go still sends a chunk every
//! 10 ms), and an empty message without reply at the end. Go waits up to
//! 2 s for someone to listen before it starts. While a snapshot is handed
//! out, message deletes are refused ("snapshot in progress") and a second
//! snapshot fails. Memory streams have none (Go's "no impl").
//!
//! A restore checks the request's config as a create does, then answers
//! with a subject `$JS.SNAPSHOT.RESTORE.<stream>.<id>` that takes the
//! archive in chunks, each acknowledged by an empty reply, until an empty
//! message: its reply gets the stream info of the restored stream (or the
//! error). Chunks are staged in a file under `<store>/.snap-staging`; the
//! archive is unpacked under `<store>/<account>/__snapshots__` and moved
//! into place. A restore nobody feeds for 5 s is dropped without answer.

use super::streams::add_stream_created;
use super::{decode, is_empty_request, Ctx, Empty};
use crate::core::account::Account;
use crate::core::connection::{Connection, InternalMsg, Subscription};
use crate::core::delivery::{Deferred, Router, SizeText};
use crate::jetstream::account::JsAccount;
use crate::jetstream::advisories::{Sink, Typed};
use crate::jetstream::config::friendly_bytes;
use crate::jetstream::consumer::persist;
use crate::jetstream::stream::check::{check_config, go_quote};
use crate::jetstream::stream::{now_ns, state_json, store, Stream};
use crate::jetstream::JetStream;
use crate::server::Server;
use natsd_proto::jetstream::api::{types, StreamInfo, StreamStateJson, Timestamp};
use natsd_proto::jetstream::stream::StreamConfig;
use natsd_proto::jetstream::{ApiError, ErrorId};
use natsd_store::file::snapshot::{self as snap, SnapFile};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SNAPSHOT_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_snapshot_response";
const RESTORE_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_restore_response";

/// Go's defaultSnapshotChunkSize and defaultSnapshotWindowSize.
pub const DEFAULT_CHUNK_SIZE: usize = 128 * 1024;
const WINDOW: i64 = 8 * 1024 * 1024;
/// How long Go waits for the deliver subject to have interest.
const INTEREST_WAIT: Duration = Duration::from_secs(2);
/// How long Go waits for an ack when the window is full.
const ACK_WAIT: Duration = Duration::from_millis(10);
/// A restore without a chunk for this long is dropped.
const RESTORE_STALL: Duration = Duration::from_secs(5);

/// Go's snapStagingDir (under the store) and snapsDir (under an account).
const STAGING_DIR: &str = ".snap-staging";
const SNAPSHOTS_DIR: &str = "__snapshots__";

const SNAPSHOT_CREATE_TYPE: &str = "io.nats.jetstream.advisory.v1.snapshot_create";
const SNAPSHOT_COMPLETE_TYPE: &str = "io.nats.jetstream.advisory.v1.snapshot_complete";
const RESTORE_CREATE_TYPE: &str = "io.nats.jetstream.advisory.v1.restore_create";
const RESTORE_COMPLETE_TYPE: &str = "io.nats.jetstream.advisory.v1.restore_complete";

/// The streams whose snapshot is being taken or handed out (Go's file
/// store counts them in the store), by address.
static SNAPSHOTTING: Mutex<Vec<usize>> = Mutex::new(Vec::new());

fn key(stream: &Arc<Stream>) -> usize {
    Arc::as_ptr(stream) as usize
}

/// Whether a snapshot of `stream` is being handed out.
pub fn in_progress(stream: &Arc<Stream>) -> bool {
    SNAPSHOTTING.lock().contains(&key(stream))
}

/// Marks a snapshot of `stream` begun; false when one is already.
fn begin(stream: &Arc<Stream>) -> bool {
    let mut all = SNAPSHOTTING.lock();
    if all.contains(&key(stream)) {
        return false;
    }
    all.push(key(stream));
    true
}

fn end(stream: &Arc<Stream>) {
    let k = key(stream);
    SNAPSHOTTING.lock().retain(|x| *x != k);
}

/// Go's JSApiStreamSnapshotRequest.
#[derive(Deserialize, Default)]
struct SnapshotRequest {
    #[serde(default)]
    deliver_subject: String,
    #[serde(default)]
    no_consumers: bool,
    #[serde(default)]
    chunk_size: i64,
    #[serde(default, rename = "jsck")]
    check_msgs: bool,
}

#[derive(Serialize)]
struct SnapshotBody {
    config: StreamConfig,
    state: StreamStateJson,
}

#[derive(Serialize)]
struct SnapshotCreateAdvisory<'a> {
    #[serde(flatten)]
    typed: Typed,
    stream: &'a str,
    state: &'a StreamStateJson,
    client: &'a serde_json::Value,
    #[serde(skip_serializing_if = "str::is_empty")]
    domain: &'a str,
}

#[derive(Serialize)]
struct CompleteAdvisory<'a> {
    #[serde(flatten)]
    typed: Typed,
    stream: &'a str,
    start: Timestamp,
    end: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    client: &'a serde_json::Value,
    #[serde(skip_serializing_if = "str::is_empty")]
    domain: &'a str,
}

#[derive(Serialize)]
struct RestoreCreateAdvisory<'a> {
    #[serde(flatten)]
    typed: Typed,
    stream: &'a str,
    client: &'a serde_json::Value,
    #[serde(skip_serializing_if = "str::is_empty")]
    domain: &'a str,
}

/// Routes messages published outside any publisher's task (a snapshot's
/// end, a restore's answer), as the dispatcher routes its answers.
fn route_now(srv: &Server, out: Vec<Deferred>) {
    if out.is_empty() {
        return;
    }
    let mut router = Router::new();
    router.begin_batch();
    let mut last: Option<Arc<Connection>> = None;
    for d in &out {
        let sizes = SizeText::new(d.hdr, d.payload.len());
        let reply = match &d.reply {
            Some(r) => Some(r.as_bytes()),
            None if d.from.kind.always_has_reply() => Some(&b""[..]),
            None => None,
        };
        let m = sizes.message(d.subject.as_bytes(), reply, d.hdr, &d.payload);
        router.route(&d.account, &d.from, &m);
        last = Some(d.from.clone());
    }
    let b = router.take_stats();
    if b.out_msgs > 0 {
        srv.stats
            .traffic
            .add(b.in_msgs, b.in_bytes, b.out_msgs, b.out_bytes);
    }
    if let Some(from) = last {
        router.flush(&from);
    }
}

/// What a snapshot took: the files, and the stream's state then.
struct Taken {
    files: Vec<SnapFile>,
    state: StreamStateJson,
}

/// Takes the snapshot of a file stream (Go's fileStore.Snapshot, then the
/// files streamSnapshot reads): the stream's files after a flush, under
/// its lock, then each file consumer's config and current state. Marks
/// the snapshot begun; the caller ends it.
fn take(stream: &Arc<Stream>, check_msgs: bool, consumers: bool) -> Result<Taken, String> {
    let Some(dir) = stream.inner.lock().dir.clone() else {
        return Err("no impl".into());
    };
    if stream.is_closed() {
        return Err(natsd_store::StoreError::Closed.to_string());
    }
    if !begin(stream) {
        return Err("snapshot in progress".into());
    }
    let taken = take_files(stream, &dir, check_msgs, consumers);
    if taken.is_err() {
        end(stream);
    }
    taken
}

fn take_files(
    stream: &Arc<Stream>,
    dir: &std::path::Path,
    check_msgs: bool,
    consumers: bool,
) -> Result<Taken, String> {
    let count = stream.consumer_count();
    let enc = stream.encryption();
    let (mut files, st) = {
        let mut inner = stream.inner.lock();
        inner.store.flush().map_err(|e| e.to_string())?;
        if check_msgs {
            let bad = snap::check_msgs(dir, &stream.name, enc.as_ref());
            if bad > 0 {
                return Err(format!("snapshot check detected {bad} bad messages"));
            }
        }
        let st = inner.store.fast_state();
        let files = snap::stream_files(dir, &stream.name, enc.as_ref());
        (files.map_err(|e| e.to_string())?, st)
    };
    if consumers {
        let now = (now_ns() + 500_000_000) / 1_000_000_000;
        for c in stream.consumer_list() {
            let Some(f) = &c.files else { continue };
            let state = c.st.lock().stored();
            let encoded = natsd_store::consumer::encode(&state, now);
            match snap::consumer_files(&f.dir, &c.name, f.keys(), encoded) {
                Ok(more) => files.extend(more),
                Err(e) => {
                    return Err(format!(
                        "Could not gather consumer meta file for {}: {e}",
                        go_quote(&c.name)
                    ))
                }
            }
        }
    }
    Ok(Taken {
        files,
        state: state_json(&st, false, count),
    })
}

/// `$JS.API.STREAM.SNAPSHOT.<stream>`.
pub fn snapshot(ctx: &mut Ctx<'_>, name: &str) {
    const K: &str = SNAPSHOT_RESPONSE;
    let Some(jsa) = ctx.enabled(K, Empty {}) else {
        return;
    };
    if is_empty_request(ctx.body) {
        return ctx.fail(K, ApiError::new(ErrorId::BadRequest), Empty {});
    }
    let Some(stream) = jsa.stream(name) else {
        return ctx.fail(K, ApiError::new(ErrorId::StreamNotFound), Empty {});
    };
    let Ok(req) = decode::<SnapshotRequest>(ctx.body) else {
        return ctx.fail(K, ApiError::new(ErrorId::InvalidJSON), Empty {});
    };
    if !natsd_proto::subject::is_valid_subject(req.deliver_subject.as_bytes()) {
        return ctx.fail(
            K,
            ApiError::new(ErrorId::SnapshotDeliverSubjectInvalid),
            Empty {},
        );
    }
    let acc = jsa.account.name.clone();
    if req.check_msgs {
        crate::notice!("Starting health check and snapshot for stream '{acc} > {name}'");
    } else {
        crate::notice!("Starting snapshot for stream '{acc} > {name}'");
    }
    let start = now_ns();
    let taken = match take(&stream, req.check_msgs, !req.no_consumers) {
        Ok(t) => t,
        Err(e) => {
            crate::warn!("Snapshot of stream '{acc} > {name}' failed: {e}");
            let e = ApiError::with(ErrorId::StreamSnapshot, &[("err", &e)]);
            return ctx.fail(K, e, Empty {});
        }
    };
    let body = SnapshotBody {
        config: stream.config(),
        state: taken.state,
    };
    ctx.send(K, None, &body);
    let domain = ctx.js.config.domain.clone();
    let client = ctx.client.clone();
    let conn = ctx.js.connection().clone();
    Sink {
        from: &conn,
        account: &jsa.account,
        out: ctx.out(),
    }
    .advisory(
        format!("$JS.EVENT.ADVISORY.STREAM.SNAPSHOT_CREATE.{name}"),
        &SnapshotCreateAdvisory {
            typed: Typed::new(SNAPSHOT_CREATE_TYPE),
            stream: name,
            state: &body.state,
            client: &client,
            domain: &domain,
        },
    );
    let chunk_size = match req.chunk_size {
        n if n > 0 => n as usize,
        _ => DEFAULT_CHUNK_SIZE,
    };
    let out = HandOut {
        stream,
        srv: ctx.srv.clone(),
        js: ctx.js.clone(),
        deliver: req.deliver_subject,
        chunk_size,
        files: taken.files,
        bytes: body.state.bytes,
        start,
        client,
        domain,
    };
    tokio::spawn(out.run());
}

/// A snapshot on its way to the deliver subject.
struct HandOut {
    stream: Arc<Stream>,
    srv: Arc<Server>,
    js: Arc<JetStream>,
    deliver: String,
    chunk_size: usize,
    files: Vec<SnapFile>,
    bytes: u64,
    start: i64,
    client: serde_json::Value,
    domain: String,
}

impl HandOut {
    fn interest(&self) -> bool {
        !self
            .stream
            .account
            .sublist
            .match_subject(self.deliver.as_bytes())
            .is_empty()
    }

    async fn run(mut self) {
        let files = std::mem::take(&mut self.files);
        let data = tokio::task::spawn_blocking(move || snap::archive(&files, now_ns()))
            .await
            .unwrap_or_default();
        // Go gives the receiver up to 2 s to show interest.
        let waited = Instant::now();
        while !self.interest() && waited.elapsed() < INTEREST_WAIT {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let outstanding = Arc::new(AtomicI64::new(0));
        let acked = Arc::new(tokio::sync::Notify::new());
        let ack_subject = format!("$JS.SNAPSHOT.ACK.{}.{}", self.stream.name, nuid::next());
        let ack_sub = {
            let (outstanding, acked) = (outstanding.clone(), acked.clone());
            self.stream.subscribe(
                &format!("{ack_subject}.>"),
                None,
                Arc::new(move |m: InternalMsg<'_>| {
                    let subject = String::from_utf8_lossy(m.subject);
                    let size: i64 = subject
                        .split('.')
                        .nth(5)
                        .and_then(|t| t.parse().ok())
                        .unwrap_or(0);
                    if outstanding.fetch_sub(size, Ordering::AcqRel) - size < WINDOW {
                        acked.notify_one();
                    }
                }),
            )
        };
        let mut publisher = crate::conn::internal::Publisher::new(self.stream.conn.clone());
        for (i, r) in snap::chunks(&data, self.chunk_size).into_iter().enumerate() {
            if outstanding.load(Ordering::Acquire) > WINDOW {
                tokio::select! {
                    _ = acked.notified() => {}
                    _ = tokio::time::sleep(ACK_WAIT) => {}
                }
                if !self.interest() {
                    break;
                }
            }
            if self.stream.is_closed() {
                break;
            }
            let reply = format!("{ack_subject}.{}.{}", r.len(), i + 1);
            publisher.publish(&self.srv, &self.deliver, &reply, &data[r.clone()]);
            outstanding.fetch_add(r.len() as i64, Ordering::AcqRel);
        }
        end(&self.stream);
        publisher.publish(&self.srv, &self.deliver, "", &[]);
        ack_sub.closed.store(true, Ordering::Release);
        ack_sub.client.unsubscribe(&ack_sub);
        let end_ns = now_ns();
        let name = self.stream.name.clone();
        let mut out = Vec::new();
        let conn = self.js.connection().clone();
        Sink {
            from: &conn,
            account: &self.stream.account,
            out: &mut out,
        }
        .advisory(
            format!("$JS.EVENT.ADVISORY.STREAM.SNAPSHOT_COMPLETE.{name}"),
            &CompleteAdvisory {
                typed: Typed::new(SNAPSHOT_COMPLETE_TYPE),
                stream: &name,
                start: Timestamp(self.start),
                end: Timestamp(end_ns),
                bytes: None,
                client: &self.client,
                domain: &self.domain,
            },
        );
        route_now(&self.srv, out);
        crate::notice!(
            "Completed snapshot of {} for stream '{} > {name}' in {}",
            friendly_bytes(self.bytes as i64),
            self.stream.account.name,
            crate::options::go_duration(Duration::from_nanos((end_ns - self.start).max(0) as u64))
        );
    }
}

/// Go's JSApiStreamRestoreRequest (the state is read and not used).
#[derive(Deserialize, Default)]
struct RestoreRequest {
    #[serde(default)]
    config: StreamConfig,
    #[serde(default)]
    #[allow(dead_code)]
    state: serde_json::Value,
}

#[derive(Serialize)]
struct RestoreBody {
    deliver_subject: String,
}

fn no_subject() -> RestoreBody {
    RestoreBody {
        deliver_subject: String::new(),
    }
}

/// `$JS.API.STREAM.RESTORE.<stream>`.
pub fn restore(ctx: &mut Ctx<'_>, name: &str) {
    const K: &str = RESTORE_RESPONSE;
    let Some(jsa) = ctx.enabled(K, no_subject()) else {
        return;
    };
    if is_empty_request(ctx.body) {
        return ctx.fail(K, ApiError::new(ErrorId::BadRequest), no_subject());
    }
    let Ok(mut req) = decode::<RestoreRequest>(ctx.body) else {
        return ctx.fail(K, ApiError::new(ErrorId::InvalidJSON), no_subject());
    };
    if req.config.name.is_empty() {
        req.config.name = name.to_string();
    }
    let dupe_limit = super::streams::dupe_limit(ctx);
    let cfg = match check_config(&req.config, &jsa.limits(), dupe_limit) {
        Ok(c) => c,
        Err(e) => return ctx.fail(K, e, no_subject()),
    };
    if let Some(e) = jsa.create_limits_check(ctx.js, &cfg) {
        return ctx.fail(K, e, no_subject());
    }
    // Go looks for the stream the subject names (the config's may differ).
    if jsa.stream(name).is_some() {
        return ctx.fail(
            K,
            ApiError::new(ErrorId::StreamNameExistRestoreFailed),
            no_subject(),
        );
    }
    let staging = ctx.js.config.store_dir.join(STAGING_DIR);
    if std::fs::create_dir_all(&staging).is_err() {
        let e = ApiError {
            code: 503,
            err_code: 0,
            description: "JetStream unable to create temp storage for restore".into(),
        };
        return ctx.fail(K, e, no_subject());
    }
    let path = staging.join(format!("js-restore-{}", nuid::next()));
    let file = match std::fs::File::create(&path) {
        Ok(f) => f,
        Err(_) => {
            return ctx.fail(K, ApiError::new(ErrorId::TempStorageFailed), no_subject());
        }
    };
    let stream_name = req.config.name.clone();
    let acc = ctx.account.name.clone();
    crate::notice!("Starting restore for stream '{acc} > {stream_name}'");
    let domain = ctx.js.config.domain.clone();
    let client = ctx.client.clone();
    let js_conn = ctx.js.connection().clone();
    let account = ctx.account.clone();
    Sink {
        from: &js_conn,
        account: &account,
        out: ctx.out(),
    }
    .advisory(
        format!("$JS.EVENT.ADVISORY.STREAM.RESTORE_CREATE.{stream_name}"),
        &RestoreCreateAdvisory {
            typed: Typed::new(RESTORE_CREATE_TYPE),
            stream: &stream_name,
            client: &client,
            domain: &domain,
        },
    );
    let subject = format!("$JS.SNAPSHOT.RESTORE.{stream_name}.{}", nuid::next());
    let r = Arc::new(Restore {
        js: ctx.js.clone(),
        srv: ctx.srv.clone(),
        jsa,
        conn: ctx.js.internal_connection(&account),
        account,
        cfg: req.config,
        name: stream_name,
        path,
        file: Mutex::new(Some(file)),
        total: AtomicU64::new(0),
        last: Mutex::new(Instant::now()),
        finished: AtomicBool::new(false),
        sub: Mutex::new(None),
        start: now_ns(),
        client,
        domain,
    });
    let handler = {
        let r = r.clone();
        Arc::new(move |m: InternalMsg<'_>| r.chunk(m))
    };
    let sub = r
        .account
        .subscribe_handler(&r.conn, &subject, None, handler);
    *r.sub.lock() = Some(sub);
    ctx.send(
        K,
        None,
        RestoreBody {
            deliver_subject: subject,
        },
    );
    tokio::spawn(r.watch());
}

/// Why a restore failed: an API error as it is, or a text Go wraps in
/// "restore failed: ...".
enum Failure {
    Api(ApiError),
    Text(String),
}

impl Failure {
    fn api(self) -> ApiError {
        match self {
            Failure::Api(e) => e,
            Failure::Text(t) => ApiError::with(ErrorId::StreamRestore, &[("err", &t)]),
        }
    }
}

/// A restore taking chunks.
struct Restore {
    js: Arc<JetStream>,
    srv: Arc<Server>,
    jsa: Arc<JsAccount>,
    /// The account's internal connection: acks and the final answer.
    conn: Arc<Connection>,
    account: Arc<Account>,
    /// The request's config (checked again at the end, as Go does).
    cfg: StreamConfig,
    name: String,
    /// The staging file.
    path: PathBuf,
    file: Mutex<Option<std::fs::File>>,
    total: AtomicU64,
    last: Mutex<Instant>,
    finished: AtomicBool,
    sub: Mutex<Option<Arc<Subscription>>>,
    start: i64,
    client: serde_json::Value,
    domain: String,
}

impl Restore {
    fn unsubscribe(&self) {
        if let Some(sub) = self.sub.lock().take() {
            sub.closed.store(true, Ordering::Release);
            sub.client.unsubscribe(&sub);
        }
    }

    /// One message on the restore subject, in its publisher's task.
    fn chunk(self: &Arc<Self>, m: InternalMsg<'_>) {
        if self.finished.load(Ordering::Acquire) {
            return;
        }
        let acc = &self.account.name;
        let Some(reply) = m
            .reply
            .filter(|r| !r.is_empty())
            .map(|r| String::from_utf8_lossy(r).into_owned())
        else {
            self.unsubscribe();
            let e = format!(
                "restore for stream '{acc} > {}' requires reply subject for each chunk",
                self.name
            );
            return self.finish(Err(Failure::Text(e)), None);
        };
        // Go takes the message as it came, headers included.
        let data = m.msg;
        if data.is_empty() {
            crate::debug!(
                "Finished staging restore for stream '{acc} > {}'",
                self.name
            );
            return self.finish(Ok(()), Some(reply));
        }
        let total = self.total.fetch_add(data.len() as u64, Ordering::AcqRel) + data.len() as u64;
        let (_, used) = self.js.usage();
        // Go's wouldExceedLimits, as it is written.
        if used as i64 > self.js.config.max_store + total as i64 {
            self.js.resources_exceeded();
            return self.finish(
                Err(Failure::Api(ApiError::new(ErrorId::InsufficientResources))),
                Some(reply),
            );
        }
        let written = match self.file.lock().as_mut() {
            Some(f) => f.write_all(data).map_err(|e| e.to_string()),
            None => Err("file already closed".into()),
        };
        if let Err(e) = written {
            m.out
                .push(self.answer(&reply, b"-ERR 'storage failure during restore'".to_vec()));
            return self.finish(Err(Failure::Text(e)), Some(reply));
        }
        *self.last.lock() = Instant::now();
        m.out.push(self.answer(&reply, Vec::new()));
    }

    fn answer(&self, subject: &str, payload: Vec<u8>) -> Deferred {
        Deferred {
            from: self.conn.clone(),
            account: self.account.clone(),
            subject: subject.to_string(),
            reply: None,
            hdr: -1,
            payload,
        }
    }

    /// Ends the staging: the restore proper runs in a task.
    fn finish(self: &Arc<Self>, staged: Result<(), Failure>, reply: Option<String>) {
        if self.finished.swap(true, Ordering::AcqRel) {
            return;
        }
        let r = self.clone();
        tokio::spawn(async move { r.complete(staged, reply).await });
    }

    /// Drops a restore nobody feeds.
    async fn watch(self: Arc<Self>) {
        loop {
            let last = *self.last.lock();
            tokio::time::sleep_until((last + RESTORE_STALL).into()).await;
            if self.finished.load(Ordering::Acquire) {
                return;
            }
            if self.last.lock().elapsed() >= RESTORE_STALL {
                if !self.finished.swap(true, Ordering::AcqRel) {
                    self.cleanup();
                }
                return;
            }
        }
    }

    fn cleanup(&self) {
        self.file.lock().take();
        let _ = std::fs::remove_file(&self.path);
        self.unsubscribe();
    }

    async fn complete(self: Arc<Self>, staged: Result<(), Failure>, reply: Option<String>) {
        let result = match staged {
            Ok(()) => {
                crate::debug!(
                    "Finalizing restore for stream '{} > {}'",
                    self.account.name,
                    self.name
                );
                self.file.lock().take();
                self.restore_stream().await
            }
            Err(e) => {
                if let Failure::Text(t) = &e {
                    crate::warn!("{t}");
                }
                Err(e)
            }
        };
        let end_ns = now_ns();
        let total = self.total.load(Ordering::Acquire);
        let mut out = Vec::new();
        let js_conn = self.js.connection().clone();
        Sink {
            from: &js_conn,
            account: &self.account,
            out: &mut out,
        }
        .advisory(
            format!("$JS.EVENT.ADVISORY.STREAM.RESTORE_COMPLETE.{}", self.name),
            &CompleteAdvisory {
                typed: Typed::new(RESTORE_COMPLETE_TYPE),
                stream: &self.name,
                start: Timestamp(self.start),
                end: Timestamp(end_ns),
                bytes: Some(total),
                client: &self.client,
                domain: &self.domain,
            },
        );
        let took =
            crate::options::go_duration(Duration::from_nanos((end_ns - self.start).max(0) as u64));
        let text = match result {
            Err(e) => {
                crate::warn!(
                    "Restore failed for {} for stream '{} > {}' in {took}",
                    friendly_bytes(total as i64),
                    self.name,
                    self.account.name
                );
                super::go_json(&natsd_proto::jetstream::api::Response {
                    kind: types::STREAM_CREATE,
                    error: Some(e.api()),
                    body: Empty {},
                })
            }
            Ok(info) => {
                crate::notice!(
                    "Completed restore of {} for stream '{} > {}' in {took}",
                    friendly_bytes(total as i64),
                    self.name,
                    self.account.name
                );
                super::go_json(&natsd_proto::jetstream::api::Response {
                    kind: types::STREAM_CREATE,
                    error: None,
                    body: info,
                })
            }
        };
        if let Some(reply) = reply {
            out.push(self.answer(&reply, text.into_bytes()));
        }
        route_now(&self.srv, out);
        self.cleanup();
    }

    /// Go's RestoreStream: unpack, check, move into place, start the
    /// stream and its consumers.
    async fn restore_stream(self: &Arc<Self>) -> Result<StreamInfo, Failure> {
        let r = self.clone();
        let (cfg, created, ndir) = tokio::task::spawn_blocking(move || r.unpack())
            .await
            .map_err(|e| Failure::Text(e.to_string()))??;
        if !cfg.template.is_empty() {
            match self.jsa.templates.lock().get(&cfg.template) {
                Some(t) => t.streams.lock().push(cfg.name.clone()),
                None => return Err(Failure::Text("template not found".into())),
            }
        }
        let mut out = Vec::new();
        let added = add_stream_created(&self.js, &self.jsa, &cfg, created, &mut out);
        route_now(&self.srv, out);
        let stream = match added {
            Ok((s, _)) => s,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&ndir);
                return Err(Failure::Api(e));
            }
        };
        if let Err(e) = self.restore_consumers(&stream, &ndir) {
            if let Some(s) = self.jsa.streams.write().remove(&stream.name) {
                self.js.reserve(&s.config(), -1);
            }
            stream.stop(true);
            return Err(Failure::Text(e));
        }
        Ok(StreamInfo {
            config: stream.config(),
            created: Timestamp(stream.created),
            state: stream.state(),
            domain: String::new(),
            mirror: None,
            sources: Vec::new(),
        })
    }

    /// The blocking half: the archive into `<account>/__snapshots__`, its
    /// meta.inf checked, the folder moved to the stream's place.
    fn unpack(&self) -> Result<(StreamConfig, i64, PathBuf), Failure> {
        let dupe_limit = self.srv.opts().jetstream_config.limits.duplicate_window_ns as i64;
        let cfg = check_config(&self.cfg, &self.jsa.limits(), dupe_limit).map_err(Failure::Api)?;
        let sd = self.jsa.dir.join(SNAPSHOTS_DIR);
        std::fs::create_dir_all(&sd)
            .map_err(|e| Failure::Text(format!("could not create snapshots directory - {e}")))?;
        let sdir = sd.join(format!("snap-{}", nuid::next()));
        std::fs::create_dir_all(&sdir)
            .map_err(|e| Failure::Text(format!("could not create snapshots directory - {e}")))?;
        let result = self.unpack_into(&cfg, &sdir);
        let _ = std::fs::remove_dir_all(&sdir);
        result.map(|(created, ndir)| (cfg, created, ndir))
    }

    fn unpack_into(
        &self,
        cfg: &StreamConfig,
        sdir: &std::path::Path,
    ) -> Result<(i64, PathBuf), Failure> {
        let file = std::fs::File::open(&self.path)
            .map_err(|e| Failure::Text(go_io_error("open", &self.path, &e)))?;
        match snap::extract(std::io::BufReader::new(file), sdir) {
            Ok(_) => {}
            Err(snap::ExtractError::Unexpected) => {
                let e = format!("unexpected content (account={})", self.account.name);
                crate::error!("Stream restore failed due to {e}");
                return Err(Failure::Text(e));
            }
            Err(snap::ExtractError::Failed(t)) => return Err(Failure::Text(t)),
        }
        let meta_path = sdir.join("meta.inf");
        let meta = std::fs::read(&meta_path)
            .map_err(|e| Failure::Text(go_io_error("open", &meta_path, &e)))?;
        #[derive(Deserialize)]
        struct FileStreamInfo {
            #[serde(rename = "Created", default)]
            created: String,
            #[serde(default)]
            name: String,
        }
        let fcfg: FileStreamInfo =
            serde_json::from_slice(&meta).map_err(|e| Failure::Text(e.to_string()))?;
        if fcfg.name != cfg.name {
            return Err(Failure::Text("stream names do not match".into()));
        }
        if self.jsa.stream(&cfg.name).is_some() {
            return Err(Failure::Api(ApiError::new(
                ErrorId::StreamNameExistRestoreFailed,
            )));
        }
        let ndir = store::stream_dir(&self.jsa.dir, &cfg.name);
        if ndir.exists() {
            let _ = std::fs::remove_dir_all(&ndir);
        }
        if let Some(parent) = ndir.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Failure::Text(e.to_string()))?;
        }
        std::fs::rename(sdir, &ndir).map_err(|e| Failure::Text(e.to_string()))?;
        let created = natsd_proto::gojson::parse_rfc3339(&fcfg.created)
            .filter(|t| *t != 0 && fcfg.created != natsd_proto::jetstream::api::ZERO_TIME)
            .unwrap_or_else(now_ns);
        Ok((created, ndir))
    }

    /// Go's consumers of a restore: each folder of `obs/` must have its
    /// meta.inf and meta.sum; an ephemeral comes back as one.
    fn restore_consumers(
        &self,
        stream: &Arc<Stream>,
        ndir: &std::path::Path,
    ) -> Result<(), String> {
        let odir = ndir.join(persist::CONSUMERS_DIR);
        let mut names: Vec<String> = std::fs::read_dir(&odir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        for name in names {
            let fail = |e: String| format!("error restoring consumer [{}]: {e}", go_quote(&name));
            let meta = odir.join(&name).join("meta.inf");
            let sum = odir.join(&name).join("meta.sum");
            let buf = std::fs::read(&meta).map_err(|e| fail(go_io_error("stat", &meta, &e)))?;
            if let Err(e) = std::fs::metadata(&sum) {
                return Err(fail(go_io_error("stat", &sum, &e)));
            }
            let info: persist::Recovered =
                serde_json::from_slice(&buf).map_err(|e| fail(e.to_string()))?;
            let mut cfg = info.config;
            let ephemeral = !cfg.is_durable();
            if ephemeral {
                cfg.durable = name.clone();
            }
            let c = stream
                .add_consumer(&self.js, &self.jsa, cfg, true)
                .map_err(|e| fail(format!("{} ({})", e.description, e.err_code)))?;
            if ephemeral {
                c.switch_to_ephemeral();
            }
            if let Some(ns) = natsd_proto::gojson::parse_rfc3339(&info.created) {
                c.set_created(ns);
            }
        }
        Ok(())
    }
}

/// Go's text of a failed file operation: `open <path>: <reason>`.
fn go_io_error(op: &str, path: &std::path::Path, e: &std::io::Error) -> String {
    let reason = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => {
            let t = e.to_string();
            match t.find(" (os error") {
                Some(i) => t[..i].to_ascii_lowercase(),
                None => t,
            }
        }
    };
    format!("{op} {}: {reason}", path.display())
}
