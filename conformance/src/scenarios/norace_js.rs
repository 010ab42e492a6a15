//! Scenarios for the single-server JetStream tests of server/norace_test.go.
//!
//! The Go tests load a server hard (hundreds of thousands of messages,
//! thousands of consumers, dozens of concurrent clients) to shake out races
//! and slow paths. Here each keeps its behaviour at a scale that runs in a
//! few seconds on a shared 2-core runner: every scenario says what it scaled
//! and from what. Where a Go test bounds a duration ("took too long"), the
//! scenario checks the behaviour that duration was measured on and leaves
//! the bound itself to `parity bench` (no timed assertion here); the
//! evidence in parity-db/evidence/norace_js.toml says so check by check.
//!
//! Streams and consumers go through the JetStream API on raw connections
//! (`kit::js::Js` and the helpers of `js_delivery`); many publishes go out
//! pipelined, a window at a time, each with its own reply subject, and every
//! PubAck must come back without error (`publish_all`), which is what
//! `js.PublishAsync` then `PublishAsyncComplete` checks in the Go tests.

use super::js_delivery::{
    ack, cinfo, consumer, delete_consumer, must, pull, recv_raw, req_next, seqs, status, wait_field,
};
use crate::check_eq;
use crate::kit::js::{api_err, js_server, js_server_with, kv_bucket, num, stream_dir, Js, JS_CONF};
use crate::kit::{eventually, Ctx, Msg, Server, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{ensure, Context, Result};
use futures::FutureExt;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

pub fn scenarios() -> Vec<Scenario> {
    let js = |s: Scenario| s.needs(Need::JetStream);
    vec![
        js(
            Scenario::new("norace/js-delete-stream-many-consumers", |c| {
                delete_stream_many_consumers(c).boxed()
            })
            .full("TestNoRaceJetStreamDeleteStreamManyConsumers"),
        ),
        js(Scenario::new("norace/js-pull-while-stream-info", |c| {
            pull_while_stream_info(c).boxed()
        })
        .full("TestNoRaceJetStreamServiceImportAccountSwapIssue")),
        js(Scenario::new("norace/js-consumer-list-paging", |c| {
            consumer_list_paging(c).boxed()
        })
        .full("TestNoRaceJetStreamAPIConsumerListPaging")),
        js(Scenario::new("norace/js-work-queue-load-balance", |c| {
            work_queue_load_balance(c).boxed()
        })
        .full("TestNoRaceJetStreamWorkQueueLoadBalance")),
        js(
            Scenario::new("norace/js-filtered-pending-and-first-msg", |c| {
                filtered_pending_first_msg(c).boxed()
            })
            .full("TestNoRaceJetStreamSlowFilteredInititalPendingAndFirstMsg"),
        ),
        js(Scenario::new("norace/js-restart-with-expired-msgs", |c| {
            restart_many_expired(c).boxed()
        })
        .full("TestNoRaceJetStreamSlowRestartWithManyExpiredMsgs")),
        js(Scenario::new("norace/js-filestore-kv-compaction", |c| {
            filestore_compaction(c).boxed()
        })
        .full("TestNoRaceJetStreamFileStoreCompaction")),
        js(
            Scenario::new("norace/js-encryption-enabled-on-restart", |c| {
                encryption_on_restart(c).boxed()
            })
            .full("TestNoRaceJetStreamEncryptionEnabledOnRestartWithExpire"),
        ),
        js(Scenario::new("norace/js-last-subject-seq-compact", |c| {
            last_subj_seq_compact(c).boxed()
        })
        .full("TestNoRaceJetStreamLastSubjSeqAndFilestoreCompact")),
        js(
            Scenario::new("norace/js-memstore-large-interior-deletes", |c| {
                memstore_interior_deletes(c).boxed()
            })
            .full("TestNoRaceJetStreamMemstoreWithLargeInteriorDeletes"),
        ),
        // Partial: the Go test lowers the Go runtime's thread limit
        // (debug.SetMaxThreads) so that too many concurrent disk writes
        // would crash the process; no client can set that limit.
        js(Scenario::new("norace/js-consumers-concurrent-delete", |c| {
            consumers_concurrent_delete(c).boxed()
        })
        .partial("TestNoRaceJetStreamConsumerFileStoreConcurrentDiskIO")),
        js(
            Scenario::new("norace/js-stream-info-subject-details-limits", |c| {
                subject_details_limits(c).boxed()
            })
            .full("TestNoRaceJetStreamStreamInfoSubjectDetailsLimits"),
        ),
        js(Scenario::new("norace/js-sparse-consumers", |c| {
            sparse_consumers(c).boxed()
        })
        .full("TestNoRaceJetStreamSparseConsumers")),
        js(
            Scenario::new("norace/js-filtered-consumer-concurrent-publishers", |c| {
                filter_concurrent_publishers(c).boxed()
            })
            .full("TestNoRaceJetStreamConsumerFilterPerfDegradation"),
        ),
        js(Scenario::new("norace/js-encrypted-key-file-cleanup", |c| {
            key_file_cleanup(c).boxed()
        })
        .full("TestNoRaceJetStreamFileStoreKeyFileCleanup")),
        js(Scenario::new("norace/js-large-kv-first-and-last-key", |c| {
            large_kv_access(c).boxed()
        })
        .full("TestNoRaceJetStreamFileStoreLargeKVAccessTiming")),
        js(Scenario::new("norace/js-kv-lock", |c| kv_lock(c).boxed())
            .full("TestNoRaceJetStreamKVLock")),
        js(Scenario::new("norace/js-concurrent-pull-batch", |c| {
            concurrent_pull_batch(c).boxed()
        })
        .full("TestNoRaceJetStreamConcurrentPullConsumerBatch")),
        js(
            Scenario::new("norace/js-delete-consumer-interest-high-seqs", |c| {
                delete_consumer_high_seqs(c).boxed()
            })
            .full("TestNoRaceJetStreamDeleteConsumerWithInterestStreamAndHighSeqs"),
        ),
        js(Scenario::new("norace/js-end-to-end-delivery", |c| {
            end_to_end_delivery(c).boxed()
        })
        .full("TestNoRaceJetStreamEndToEndLatency")),
    ]
}

// ------------------------------------------------------------------ helpers

/// How many publishes `publish_all` has in flight at once.
const WINDOW: usize = 256;

/// The reply subjects of `publish_all` (one token under the client's inbox).
const PUBACK_PREFIX: &str = "_INBOX.parity.pa";

/// Publishes `payload` on every subject, `WINDOW` at a time, each with its
/// own reply subject, and requires a PubAck without error for each (10 s at
/// most per window). Returns the highest sequence acknowledged.
async fn publish_all<I>(js: &mut Js, subjects: I, payload: &[u8]) -> Result<u64>
where
    I: IntoIterator<Item = String>,
{
    let mut it = subjects.into_iter().peekable();
    let (mut n, mut last) = (0u64, 0u64);
    while it.peek().is_some() {
        let mut batch = Vec::new();
        let mut k = 0;
        for subject in it.by_ref().take(WINDOW) {
            n += 1;
            batch.extend_from_slice(
                format!("PUB {subject} {PUBACK_PREFIX}{n} {}\r\n", payload.len()).as_bytes(),
            );
            batch.extend_from_slice(payload);
            batch.extend_from_slice(b"\r\n");
            k += 1;
        }
        js.conn().send_bytes(&batch).await?;
        let mut got = 0;
        while got < k {
            let m = recv_raw(js, Duration::from_secs(10))
                .await?
                .with_context(|| format!("{got} of {k} PubAcks of a window within 10s"))?;
            if !m.subject.starts_with(PUBACK_PREFIX) {
                js.others.push(m);
                continue;
            }
            let v: Value = serde_json::from_slice(&m.payload).with_context(|| {
                format!("PubAck not JSON: {}", String::from_utf8_lossy(&m.payload))
            })?;
            ensure!(v.get("error").is_none(), "publish refused: {v}");
            last = last.max(num(&v["seq"]));
            got += 1;
        }
    }
    Ok(last)
}

/// `n` copies of `subject`, for `publish_all`.
fn repeat(subject: &str, n: usize) -> impl Iterator<Item = String> + '_ {
    std::iter::repeat_n(subject.to_string(), n)
}

/// Deterministic pseudo-random bytes (a 64-bit LCG; no crate needed).
fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 56) as u8
        })
        .collect()
}

/// A deterministic shuffle (Fisher-Yates over the same LCG).
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = ((seed >> 33) % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// The names of the files of `dir` ending in `.{ext}`.
fn files_with(dir: &PathBuf, ext: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Every request must have been answered without an error.
fn all_ok(replies: &[crate::kit::js::Reply], what: &str) -> Result<()> {
    for (i, r) in replies.iter().enumerate() {
        let v = r.json().with_context(|| format!("{what} #{i}"))?;
        ensure!(v.get("error").is_none(), "{what} #{i}: {v}");
    }
    Ok(())
}

/// A pull request's messages: those that reach the client's inbox
/// subscription (sid 1) with an ack reply (their subject is the stream's),
/// until `batch` came, or a status on `reply` (408 at expiry) ended the
/// request, or `wait` passed. A status of an earlier request is skipped;
/// other messages go to `others`.
async fn fetch(js: &mut Js, reply: &str, batch: usize, wait: Duration) -> Result<Vec<Msg>> {
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    while got.len() < batch {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(m) = recv_raw(js, left).await? else {
            break;
        };
        let is_status = m.payload.is_empty() && !status(&m).is_empty();
        if m.sid != "1" {
            js.others.push(m);
        } else if is_status {
            if m.subject == reply {
                break;
            }
        } else if m
            .reply
            .as_deref()
            .is_some_and(|r| r.starts_with("$JS.ACK."))
        {
            got.push(m);
        } else {
            js.others.push(m);
        }
    }
    Ok(got)
}

/// A connection with an inbox of its own, `_INBOX.<tag>.*` (sid 1),
/// instead of the kit's `_INBOX.parity.*`: every [`Js`] connection
/// subscribes that one and numbers its requests from 1, so with several
/// connections the reply to one's request reaches the others too, and can
/// pass for the reply to theirs. Its requests go through [`Own::request`].
struct Own {
    js: Js,
    tag: String,
    n: u64,
}

impl Own {
    async fn connect(ctx: &Ctx, s: &Server, tag: &str) -> Result<Own> {
        let mut js = Js::connect(ctx, s).await?;
        js.conn()
            .send(&format!("UNSUB 1\r\nSUB _INBOX.{tag}.* 1\r\n"))
            .await?;
        js.flush().await?;
        js.others.clear();
        Ok(Own {
            js,
            tag: tag.to_string(),
            n: 0,
        })
    }

    /// A new reply subject on the connection's inbox.
    fn reply(&mut self) -> String {
        self.n += 1;
        format!("_INBOX.{}.{}", self.tag, self.n)
    }

    /// Sends a request and returns its reply (5 s at most); other messages
    /// go to `others`.
    async fn request(&mut self, subject: &str, payload: &[u8]) -> Result<Msg> {
        let reply = self.reply();
        self.js.send(subject, Some(&reply), &[], payload).await?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = recv_raw(&mut self.js, left)
                .await?
                .with_context(|| format!("no reply to a request on {subject}"))?;
            if m.subject == reply {
                return Ok(m);
            }
            self.js.others.push(m);
        }
    }

    /// A request whose reply must be JSON without an error.
    async fn ok(&mut self, subject: &str, payload: &[u8]) -> Result<Value> {
        let m = self.request(subject, payload).await?;
        let v: Value = serde_json::from_slice(&m.payload).with_context(|| {
            format!(
                "{subject}: not JSON: {}",
                String::from_utf8_lossy(&m.payload)
            )
        })?;
        ensure!(v.get("error").is_none(), "{subject}: {v}");
        Ok(v)
    }
}

// ---------------------------------------------------------------- scenarios

/// Go: 2000 durable push consumers (more than the server's internal send
/// queue held then) on a file stream, then the stream's delete must come
/// back. Scaled to 600 consumers, created through the API in one pipelined
/// burst.
async fn delete_stream_many_consumers(ctx: Ctx) -> Result<()> {
    const N: usize = 600;
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "MYS", "storage": "file"})).await?;
    let reqs: Vec<(String, String)> = (0..N)
        .map(|i| {
            let cfg = json!({"durable_name": format!("D-{i}"), "deliver_subject": format!("deliver.{i}")});
            (
                format!("$JS.API.CONSUMER.DURABLE.CREATE.MYS.D-{i}"),
                json!({"stream_name": "MYS", "config": cfg}).to_string(),
            )
        })
        .collect();
    let replies = js.many(&reqs).await?;
    all_ok(&replies, "consumer create")?;
    check_eq!(num(&js.state("MYS").await?["consumer_count"]), N as u64);

    // With the bug the delete never returned.
    let r = js
        .ask("$JS.API.STREAM.DELETE.MYS", "", Duration::from_secs(10))
        .await?
        .json()?;
    check_eq!(r["success"], json!(true));
    let r = js.api("$JS.API.STREAM.INFO.MYS", "").await?;
    check_eq!(api_err(&r).1, 10059);
    ensure!(
        !stream_dir(&s, "MYS").exists(),
        "the stream's folder is still there"
    );
    Ok(())
}

/// Go: for 3 s a publisher publishes and asks for stream info (a JetStream
/// API request, imported from the system account) while a pull consumer
/// fetches one message at a time with a 200 ms wait and acks it
/// synchronously; every message must be received and the fetches must
/// leave no subscription behind. Scaled to 1 s of publishing; the puller
/// stops once the publisher is done and a fetch comes back empty (Go stops
/// both at the same deadline, which can miss the last message).
async fn pull_while_stream_info(ctx: Ctx) -> Result<()> {
    let s = js_server_with(&ctx, "http: 127.0.0.1:{{http_port}}\n").await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo", "bar"]}))
        .await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "dlc", "filter_subject": "foo", "ack_policy": "explicit"}),
    )
    .await?;
    let mut publisher = Own::connect(&ctx, &s, "pub").await?;
    let subs = |v: Value| num(&v["subscriptions"]);
    let before = subs(ctx.http_json(&s, "/varz").await?);

    let done = Arc::new(AtomicU64::new(0));
    let flag = done.clone();
    let pub_task = tokio::spawn(async move {
        let r: Result<u64> = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let end = Instant::now() + Duration::from_secs(1);
            let mut n = 0;
            while Instant::now() < end {
                publisher.ok("foo", b"Hello").await?;
                n += 1;
                publisher.ok("$JS.API.STREAM.INFO.TEST", b"").await?;
            }
            Ok(n)
        }
        .await;
        flag.store(1, Ordering::SeqCst);
        // The connection stays open until the count of subscriptions is
        // taken again.
        r.map(|n| (n, publisher))
    });

    let mut received = 0u64;
    let mut k = 0;
    let hard_end = Instant::now() + Duration::from_secs(20);
    loop {
        ensure!(Instant::now() < hard_end, "the pull loop ran for 20 s");
        let publishing = done.load(Ordering::SeqCst) == 0;
        k += 1;
        let reply = format!("_INBOX.parity.f{k}");
        pull(
            &mut js,
            "TEST",
            "dlc",
            r#"{"batch":1,"expires":200000000}"#,
            &reply,
        )
        .await?;
        let got = fetch(&mut js, &reply, 1, Duration::from_secs(2)).await?;
        for m in &got {
            received += 1;
            // AckSync: the ack is a request the server answers.
            let to = m.reply.clone().context("no ack reply")?;
            js.request_msg(&to, &[], b"").await?;
        }
        if got.is_empty() && !publishing {
            break;
        }
    }
    let (published, _publisher) = pub_task.await??;
    ensure!(published > 0, "nothing was published");
    let msgs = js.msgs("TEST").await?;
    check_eq!(msgs, received);
    check_eq!(msgs, published);
    // No subscription leaked by the fetches (the connections are the same).
    let after = eventually(Duration::from_secs(2), || {
        let ctx = ctx.clone();
        let s = &s;
        async move {
            let n = subs(ctx.http_json(s, "/varz").await?);
            anyhow::ensure!(n == before, "now {n}");
            Ok(Some(n))
        }
    })
    .await
    .with_context(|| format!("subscriptions back to their count before the fetches ({before})"))?;
    check_eq!(after, before);
    Ok(())
}

/// Go: JSApiNamesLimit (1024) ephemeral push consumers, each with a
/// subscription on its deliver subject, then the paged consumer names list.
/// Not scaled: the page size is the server's.
async fn consumer_list_paging(ctx: Ctx) -> Result<()> {
    const LIMIT: u64 = 1024;
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "MYSTREAM"})).await?;
    let mut subs = String::new();
    for i in 1..=LIMIT {
        subs.push_str(&format!("SUB d.{i} s{i}\r\n"));
    }
    js.conn().send(&subs).await?;
    js.flush().await?;
    let reqs: Vec<(String, String)> = (1..=LIMIT)
        .map(|i| {
            (
                "$JS.API.CONSUMER.CREATE.MYSTREAM".to_string(),
                json!({"stream_name": "MYSTREAM", "config": {"deliver_subject": format!("d.{i}")}})
                    .to_string(),
            )
        })
        .collect();
    all_ok(&js.many(&reqs).await?, "consumer create")?;

    let list = |offset: u64| {
        if offset > 0 {
            json!({ "offset": offset }).to_string()
        } else {
            String::new()
        }
    };
    for (offset, len, want_offset) in [
        (0, LIMIT, 0),
        (LIMIT - 22, 22, LIMIT - 22),
        (LIMIT + 22, 0, LIMIT),
    ] {
        let r = js
            .api("$JS.API.CONSUMER.NAMES.MYSTREAM", &list(offset))
            .await?;
        let names = r["consumers"].as_array().map(|a| a.len()).unwrap_or(0) as u64;
        check_eq!((offset, names), (offset, len));
        check_eq!((offset, num(&r["total"])), (offset, LIMIT));
        check_eq!((offset, num(&r["offset"])), (offset, want_offset));
    }
    Ok(())
}

/// Go: 25 clients ask a work-queue consumer for the next message (one at a
/// time, empty ack), while 1000 messages are published; each client's share
/// must be within target/2+5 of the even share. Scaled to 10 clients and 300
/// messages (target 30, allowed 10 to 50).
async fn work_queue_load_balance(ctx: Ctx) -> Result<()> {
    const WORKERS: usize = 10;
    const TO_SEND: u64 = 300;
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "MY_MSG_SET", "subjects": ["foo", "bar"]}))
        .await?;
    consumer(
        &mut js,
        "MY_MSG_SET",
        json!({"durable_name": "WQ", "ack_policy": "explicit"}),
    )
    .await?;
    let received = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..WORKERS {
        let mut w = Own::connect(&ctx, &s, &format!("w{i}")).await?;
        let received = received.clone();
        tasks.push(tokio::spawn(async move {
            let mut count = 0u64;
            loop {
                let reply = &format!("_INBOX.w{i}.next");
                pull(&mut w.js, "MY_MSG_SET", "WQ", "", reply).await?;
                let got = fetch(&mut w.js, reply, 1, Duration::from_secs(2)).await?;
                let Some(m) = got.first() else {
                    return Ok::<u64, anyhow::Error>(count);
                };
                ack(&mut w.js, m, "").await?;
                count += 1;
                if received.fetch_add(1, Ordering::SeqCst) + 1 >= TO_SEND {
                    return Ok(count);
                }
            }
        }));
    }
    // Let every worker's first request reach the server.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..TO_SEND {
        js.stored("bar", "Hello World!").await?;
    }
    let mut counts = Vec::new();
    for t in tasks {
        counts.push(t.await??);
    }
    check_eq!(counts.iter().sum::<u64>(), TO_SEND);
    let target = TO_SEND / WORKERS as u64;
    let delta = target / 2 + 5;
    for (i, c) in counts.iter().enumerate() {
        ensure!(
            (target - delta..=target + delta).contains(c),
            "worker {i} got {c} messages, target {target} (counts {counts:?})"
        );
    }
    Ok(())
}

/// Go: 'foo' 'bar' 'baz' interleaved 100k times, then 100k 'foo.bar.baz',
/// then 'foo.1' to 'foo.100000'; filtered consumers from various start
/// sequences must count their pending messages right (and fast, a bound left
/// to `parity bench`), also after deletes, a new message and a restart.
/// Scaled to N = 2000 (10,000 messages); the start sequences keep their
/// place relative to N (222,000 is 2.22 N, 350,001 is 3.5 N + 1, 50,000 is
/// N / 2).
async fn filtered_pending_first_msg(ctx: Ctx) -> Result<()> {
    const N: u64 = 2000;
    let s = js_server(&ctx).await?;
    let mut s = s;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "S", "subjects": ["foo", "bar", "baz", "foo.bar.baz", "foo.*"]}))
        .await?;
    let subjects = (0..N)
        .flat_map(|_| ["foo", "bar", "baz"].map(String::from))
        .chain(repeat("foo.bar.baz", N as usize))
        .chain((1..=N).map(|i| format!("foo.{i}")));
    publish_all(&mut js, subjects, b"HELLO").await?;
    check_eq!(js.msgs("S").await?, 5 * N);

    let mut dindex = 0;
    async fn create(
        js: &mut Js,
        dindex: &mut u32,
        subj: &str,
        start: u64,
        want: u64,
    ) -> Result<()> {
        *dindex += 1;
        let mut cfg = json!({"durable_name": format!("dur-{dindex}"), "filter_subject": subj, "ack_policy": "explicit"});
        if start > 1 {
            cfg["deliver_policy"] = json!("by_start_sequence");
            cfg["opt_start_seq"] = json!(start);
        }
        let r = consumer(js, "S", cfg).await?;
        check_eq!((subj, start, num(&r["num_pending"])), (subj, start, want));
        Ok(())
    }
    let last = format!("foo.{N}");
    create(&mut js, &mut dindex, &last, 1, 1).await?;
    create(&mut js, &mut dindex, &last, 222 * N / 100, 1).await?;
    create(&mut js, &mut dindex, "foo", 1, N).await?;
    create(&mut js, &mut dindex, "foo", 4, N - 1).await?;
    create(&mut js, &mut dindex, "foo.bar.baz", 1, N).await?;
    create(
        &mut js,
        &mut dindex,
        "foo.bar.baz",
        3 * N + N / 2 + 1,
        N / 2,
    )
    .await?;
    create(&mut js, &mut dindex, "*", 1, 3 * N).await?;
    create(&mut js, &mut dindex, "*", 4, 3 * N - 3).await?;
    create(&mut js, &mut dindex, ">", 1, 5 * N).await?;
    create(&mut js, &mut dindex, ">", N / 2, 5 * N - N / 2 + 1).await?;
    create(&mut js, &mut dindex, "foo.10", 1, 1).await?;

    // A pull consumer on the last subject gets its one message at once.
    consumer(
        &mut js,
        "S",
        json!({"durable_name": "dlc", "filter_subject": last, "ack_policy": "explicit"}),
    )
    .await?;
    let m = req_next(&mut js, "S", "dlc", r#"{"batch":1,"expires":1000000000}"#).await?;
    check_eq!(m.subject, last);
    check_eq!(seqs(&m)?.0, 5 * N);

    // Three 'foo' messages deleted.
    for seq in [1, 4, 7] {
        let r = js
            .msg_delete("S", &json!({"seq": seq, "no_erase": true}).to_string())
            .await?;
        check_eq!(r["success"], json!(true));
    }
    create(&mut js, &mut dindex, "foo", 1, N - 3).await?;

    let r = consumer(
        &mut js,
        "S",
        json!({"durable_name": "cat", "filter_subject": ">", "ack_policy": "explicit"}),
    )
    .await?;
    check_eq!(num(&r["num_pending"]), 5 * N - 3);
    js.stored("foo", "HELLO AGAIN").await?;
    check_eq!(
        num(&cinfo(&mut js, "S", "cat").await?["num_pending"]),
        5 * N - 2
    );

    // The per-subject state comes back after a restart.
    drop(js);
    s.restart().await?;
    let mut js = Js::connect(&ctx, &s).await?;
    create(&mut js, &mut dindex, &last, 1, 1).await?;
    create(&mut js, &mut dindex, "foo", 1, N - 2).await?;
    Ok(())
}

/// Go: 100k messages with a 2 s max age, the server stopped until they all
/// expired, then started again (fast: a bound left to `parity bench`): the
/// stream must be empty. Scaled to 5000 messages and a 1 s max age.
async fn restart_many_expired(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let ttl = Duration::from_secs(1);
    js.create(
        json!({"name": "ORDERS", "subjects": ["orders.*"], "max_age": ttl.as_nanos() as u64}),
    )
    .await?;
    consumer(
        &mut js,
        "ORDERS",
        json!({"durable_name": "c22", "filter_subject": "orders.*", "ack_policy": "explicit"}),
    )
    .await?;
    publish_all(&mut js, (1..=5000).map(|i| format!("orders.{i}")), b"OK").await?;
    drop(js);
    s.stop().await?;
    tokio::time::sleep(ttl + Duration::from_millis(500)).await;
    s.start_again(Duration::from_secs(10)).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let state = js.state("ORDERS").await?;
    check_eq!(num(&state["messages"]), 0);
    check_eq!(num(&state["last_seq"]), 5000);
    Ok(())
}

/// Go: a KV-style stream (one message per subject) gets 'KV.FM' and then
/// 10k 4 KB values written twice; the store's utilization (live bytes over
/// the bytes its blocks hold) must be at least 80%: the first block, pinned
/// by 'KV.FM', is compacted as its other values are replaced. The block
/// files on disk are what the store holds; they are measured once the
/// server stopped. Scaled to 8000 keys (enough that the blocks the
/// compaction cannot reclaim stay under 20%).
async fn filestore_compaction(ctx: Ctx) -> Result<()> {
    const KEYS: usize = 8000;
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "KV", "subjects": ["KV.>"], "max_msgs_per_subject": 1}))
        .await?;
    let data = noise(4 * 1024, 22);
    let keys = || (1..=KEYS).map(|i| format!("KV.{i}"));
    publish_all(
        &mut js,
        std::iter::once("KV.FM".to_string())
            .chain(keys())
            .chain(keys()),
        &data,
    )
    .await?;
    let state = js.state("KV").await?;
    check_eq!(num(&state["messages"]), KEYS as u64 + 1);
    let used = num(&state["bytes"]);
    drop(js);
    s.stop().await?;
    let mut total = 0u64;
    for f in files_with(&stream_dir(&s, "KV").join("msgs"), "blk")? {
        total += std::fs::metadata(&f)?.len();
    }
    ensure!(total > 0, "no block files");
    let pu = 100.0 * used as f64 / total as f64;
    ensure!(
        pu >= 80.0,
        "utilization {pu:.2}% (live {used} of {total} bytes in blocks)"
    );
    Ok(())
}

/// Go: a plain stream with 10k 4 KB messages on each of two subjects (10k
/// kept) and a durable, then a restart with encryption turned on (a `key`
/// in the jetstream block) on the same store, which must come up (in time,
/// a bound left to `parity bench`). Scaled to 2000 messages per subject.
async fn encryption_on_restart(ctx: Ctx) -> Result<()> {
    const TO_SEND: usize = 2000;
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo", "bar"], "max_msgs": TO_SEND}))
        .await?;
    let data = noise(4 * 1024, 7);
    let subjects = (0..TO_SEND).flat_map(|_| ["foo".to_string(), "bar".to_string()]);
    publish_all(&mut js, subjects, &data).await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "dlc", "ack_policy": "explicit"}),
    )
    .await?;
    drop(js);
    s.stop().await?;
    s.rewrite_conf(
        "listen: 127.0.0.1:{{client_port}}\njetstream { key: \"s3cr3t!\", store_dir: \"{{dir}}/js\" }\n",
    )?;
    s.start_again(Duration::from_secs(15)).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let r = js.api("$JS.API.INFO", "").await?;
    check_eq!(api_err(&r).0, 0);
    ctx.observe("stream after the restart with a key", {
        let v = js.api("$JS.API.STREAM.INFO.TEST", "").await?;
        format!("{} msgs={}", api_err(&v).1, num(&v["state"]["messages"]))
    });
    Ok(())
}

/// Go: 4000 MQTT-session-like subjects in a one-message-per-subject file
/// stream, each written twice per round (the second with
/// Nats-Expected-Last-Subject-Sequence set to the first's sequence), two
/// rounds: every publish must be accepted while the store compacts behind.
/// Scaled to 1000 subjects.
async fn last_subj_seq_compact(ctx: Ctx) -> Result<()> {
    const CLIENTS: u64 = 1000;
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(
        json!({"name": "MQTT_sess", "subjects": ["MQTT.sess.>"], "storage": "file",
        "retention": "limits", "num_replicas": 1, "max_msgs_per_subject": 1}),
    )
    .await?;
    let first = vec![0u8; 40];
    let second = vec![0u8; 380];
    for _iter in 0..2 {
        for i in 0..CLIENTS {
            // A hash-like token per client, as the Go test's getHash.
            let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 24;
            let subj = format!("MQTT.sess.{h:010x}");
            let seq = js.stored_h(&subj, &[], &first).await?;
            let eseq = seq.to_string();
            js.stored_h(
                &subj,
                &[("Nats-Expected-Last-Subject-Sequence", &eseq)],
                &second,
            )
            .await?;
        }
    }
    check_eq!(js.msgs("MQTT_sess").await?, CLIENTS);
    Ok(())
}

/// Go: a memory stream with one message per subject gets one 'foo' then
/// 1M 'bar': its state (with deleted details, fast: a bound left to
/// `parity bench`) must be 2 messages, first 1, last 1,000,001 and 999,999
/// deleted. Scaled to 20,000 'bar'.
async fn memstore_interior_deletes(ctx: Ctx) -> Result<()> {
    const N: u64 = 20_000;
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo", "bar"], "max_msgs_per_subject": 1, "storage": "memory"}))
        .await?;
    publish_all(
        &mut js,
        std::iter::once("foo".to_string()).chain(repeat("bar", N as usize)),
        b"Hello World!",
    )
    .await?;
    let st = js.info_with("TEST", r#"{"deleted_details":true}"#).await?["state"].clone();
    check_eq!(
        (
            num(&st["messages"]),
            num(&st["first_seq"]),
            num(&st["last_seq"]),
            num(&st["num_deleted"])
        ),
        (2, 1, N + 1, N - 1)
    );
    check_eq!(
        st["deleted"].as_array().map(|a| a.len() as u64),
        Some(N - 1)
    );
    Ok(())
}

/// Go: 1000 consumer stores of one file stream each record a delivery,
/// write their state and delete themselves, all at once. Here: 300 durable
/// pull consumers of a file stream each get a message delivered, then all
/// are deleted by requests sent at once; every delete must succeed and
/// leave nothing of the consumers on disk.
async fn consumers_concurrent_delete(ctx: Ctx) -> Result<()> {
    const N: usize = 300;
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "MT", "subjects": ["mt"], "storage": "file"}))
        .await?;
    js.stored("mt", "hello").await?;
    let creates: Vec<(String, String)> = (1..=N)
        .map(|i| {
            (
                format!("$JS.API.CONSUMER.DURABLE.CREATE.MT.o{i}"),
                json!({"stream_name": "MT", "config": {"durable_name": format!("o{i}"), "ack_policy": "explicit"}})
                    .to_string(),
            )
        })
        .collect();
    all_ok(&js.many(&creates).await?, "consumer create")?;
    // One delivery each: every consumer answers its pull with the message.
    let mut pulls = String::new();
    for i in 1..=N {
        pulls.push_str(&format!(
            "PUB $JS.API.CONSUMER.MSG.NEXT.MT.o{i} _INBOX.parity.o{i} 0\r\n\r\n"
        ));
    }
    js.conn().send(&pulls).await?;
    let mut delivered = std::collections::BTreeSet::new();
    while delivered.len() < N {
        let m = recv_raw(&mut js, Duration::from_secs(10))
            .await?
            .with_context(|| format!("{} of {N} pulls answered", delivered.len()))?;
        let (_, name, dc, sseq, _, _) =
            super::js_delivery::ack_info(m.reply.as_deref().context("no ack reply")?)?;
        check_eq!((m.payload.as_slice(), dc, sseq), (&b"hello"[..], 1, 1));
        ensure!(delivered.insert(name.clone()), "{name} delivered twice");
    }
    let obs = stream_dir(&s, "MT").join("obs");
    check_eq!(std::fs::read_dir(&obs)?.count(), N);
    let deletes: Vec<(String, String)> = (1..=N)
        .map(|i| (format!("$JS.API.CONSUMER.DELETE.MT.o{i}"), String::new()))
        .collect();
    all_ok(&js.many(&deletes).await?, "consumer delete")?;
    check_eq!(num(&js.state("MT").await?["consumer_count"]), 0);
    let left = eventually(Duration::from_secs(3), || {
        let obs = obs.clone();
        async move {
            let n = std::fs::read_dir(&obs).map(|d| d.count()).unwrap_or(0);
            Ok((n == 0).then_some(n))
        }
    })
    .await
    .context("consumer folders left after the deletes")?;
    check_eq!(left, 0);
    check_eq!(js.msgs("MT").await?, 1);
    Ok(())
}

/// Go: an account whose max_payload is 256 (its clients cannot publish
/// more, but receive more), a stream with JSMaxSubjectDetails (100,000)
/// subjects: stream info filtered on them returns them all in one response
/// far over 256 bytes (and over the 1 MB default), and with offset 100,000
/// the one more subject. Not scaled: the limit is the server's.
async fn subject_details_limits(ctx: Ctx) -> Result<()> {
    const N: u64 = 100_000;
    let s = ctx
        .server(ServerSpec::new().conf(&format!(
            "{JS_CONF}accounts: {{\n  default: {{\n    jetstream: true\n    users: [ {{user: me, password: pwd}} ]\n    limits {{ max_payload: 256 }}\n  }}\n}}\n"
        )))
        .await?;
    // The client learns its limit from the INFO that follows its first PONG.
    let (mut c, info) = ctx.raw(&s).await?;
    ensure!(num(&info["max_payload"]) > 256, "first INFO: {info}");
    c.send(
        "CONNECT {\"verbose\":false,\"protocol\":1,\"user\":\"me\",\"pass\":\"pwd\"}\r\nPING\r\n",
    )
    .await?;
    let g = c
        .expect(r"(?:PING\r\n)*PONG\r\n(?:PING\r\n)*INFO (\{[^\r]*\}) ?\r\n")
        .await?;
    let info: Value = serde_json::from_str(&g[0])?;
    check_eq!(num(&info["max_payload"]), 256);
    // And the server holds it to it.
    c.send(&format!("PUB foo 300\r\n{}\r\n", "A".repeat(300)))
        .await?;
    c.expect(r"-ERR 'Maximum Payload Violation'\r\n").await?;

    let mut js = Js::user(&ctx, &s, "me", "pwd").await?;
    js.create(json!({"name": "TEST", "subjects": ["*", "X.*"]}))
        .await?;
    publish_all(&mut js, (0..N).map(|i| format!("X.{i}")), b"OK").await?;
    let r = js.info_with("TEST", r#"{"subjects_filter":"X.*"}"#).await?;
    let subjects = r["state"]["subjects"].as_object().map(|m| m.len() as u64);
    check_eq!(subjects, Some(N));
    js.stored("foo", "TOO MUCH").await?;
    let r = js
        .info_with(
            "TEST",
            &json!({"offset": N, "subjects_filter": ">"}).to_string(),
        )
        .await?;
    let subjects = r["state"]["subjects"].as_object().cloned();
    check_eq!(
        subjects.map(|m| m.into_iter().collect::<Vec<_>>()),
        Some(vec![("foo".to_string(), json!(1))])
    );
    Ok(())
}

/// Go: in a memory and in a file stream, 'foo' near the start, 1M 'bar',
/// 'foo' twice in the middle, 1M 'bar', 'foo' at the end; a push consumer
/// filtered on 'foo' must deliver its 4 messages (within 500 ms: a bound
/// left to `parity bench`). Scaled to 20,000 'bar' per run.
async fn sparse_consumers(ctx: Ctx) -> Result<()> {
    const N: usize = 20_000;
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in ["memory", "file"] {
        js.delete_stream("TEST").await?;
        js.create(json!({"name": "TEST", "storage": storage, "max_msgs_per_subject": 25_000_000, "subjects": ["*"]}))
            .await?;
        let run = || {
            std::iter::once("foo".to_string())
                .chain(repeat("bar", N))
                .chain(std::iter::once("foo".to_string()))
        };
        publish_all(&mut js, run().chain(run()), b"ok").await?;
        let r = consumer(
            &mut js,
            "TEST",
            json!({"deliver_subject": "x.x", "filter_subject": "foo", "ack_policy": "none"}),
        )
        .await?;
        let pending = num(&r["num_pending"]);
        check_eq!((storage, pending), (storage, 4));
        js.sub("x.x", "xx").await?;
        let mut got = Vec::new();
        while (got.len() as u64) < pending {
            let m = must(&mut js, Duration::from_secs(10))
                .await
                .with_context(|| format!("{storage}: {} of {pending}", got.len()))?;
            got.push(seqs(&m)?.0);
        }
        let n = N as u64;
        check_eq!((storage, got), (storage, vec![1, n + 2, n + 3, 2 * n + 4]));
        js.conn().send("UNSUB xx\r\n").await?;
        js.flush().await?;
        js.others.clear();
    }
    Ok(())
}

/// Go: a push consumer filtered on 'test.*.subj' delivering new messages
/// and acked by hand, while 5 clients publish 10k 1 KB messages each, every
/// one on its own subject: all 50k must be published and delivered within
/// 10 s (the rate itself is `parity bench`'s). Scaled to 5 x 400.
async fn filter_concurrent_publishers(ctx: Ctx) -> Result<()> {
    const PER: u64 = 400;
    const TO_SEND: u64 = 5 * PER;
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "test", "subjects": ["test.*.subj"], "num_replicas": 1}))
        .await?;
    let mut sub = Own::connect(&ctx, &s, "sub").await?;
    sub.js.sub("dlv", "d").await?;
    consumer(
        &mut js,
        "test",
        json!({"deliver_subject": "dlv", "filter_subject": "test.*.subj",
               "deliver_policy": "new", "ack_policy": "explicit"}),
    )
    .await?;
    let receiver = tokio::spawn(async move {
        let mut count = 0u64;
        let deadline = Instant::now() + Duration::from_secs(10);
        while count < TO_SEND {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = recv_raw(&mut sub.js, left)
                .await?
                .with_context(|| format!("{count} of {TO_SEND} delivered within 10 s"))?;
            if m.sid == "d" {
                ack(&mut sub.js, &m, "+ACK").await?;
                count += 1;
            }
        }
        Ok::<u64, anyhow::Error>(count)
    });
    let sent = Arc::new(AtomicU64::new(0));
    let mut pubs = Vec::new();
    let msg = vec![b'x'; 1024];
    for i in 0..5 {
        let mut p = Own::connect(&ctx, &s, &format!("p{i}")).await?;
        let sent = sent.clone();
        let msg = msg.clone();
        pubs.push(tokio::spawn(async move {
            for _ in 0..PER {
                let id = sent.fetch_add(1, Ordering::SeqCst) + 1;
                p.ok(&format!("test.{id}.subj"), &msg).await?;
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for p in pubs {
        p.await??;
    }
    check_eq!(receiver.await??, TO_SEND);
    check_eq!(js.msgs("test").await?, TO_SEND);
    Ok(())
}

/// Go: an encrypted file store with 1 MB blocks and 10k 1 KB messages,
/// every message removed in random order: the emptied blocks go with their
/// key files, at most the last block's key file is left. Through a server
/// with a `key`: a stream's block size follows its max_bytes, so
/// max_bytes 127,996 gives Go's smallest blocks (32,000 bytes, 30 of these
/// messages each) and 120 messages fill four of them.
async fn key_file_cleanup(ctx: Ctx) -> Result<()> {
    const N: u64 = 120;
    let s = ctx
        .server(ServerSpec::new().conf("jetstream { store_dir: \"{{dir}}/js\", key: \"dlc22\" }\n"))
        .await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(
        json!({"name": "TEST", "subjects": ["X.*"], "storage": "file", "max_bytes": 127_996}),
    )
    .await?;
    let msg = vec![b'Z'; 1024];
    publish_all(&mut js, (0..N).map(|i| format!("X.{i}")), &msg).await?;
    check_eq!(js.msgs("TEST").await?, N);
    let msgs = stream_dir(&s, "TEST").join("msgs");
    let before = files_with(&msgs, "key")?.len();
    ensure!(before > 1, "only {before} key files for {N} messages");

    let mut order: Vec<u64> = (1..=N).collect();
    shuffle(&mut order, 42);
    let deletes: Vec<(String, String)> = order
        .iter()
        .map(|seq| {
            (
                "$JS.API.STREAM.MSG.DELETE.TEST".to_string(),
                json!({"seq": seq, "no_erase": true}).to_string(),
            )
        })
        .collect();
    all_ok(&js.many(&deletes).await?, "message delete")?;
    check_eq!(js.msgs("TEST").await?, 0);
    let keys = files_with(&msgs, "key")?;
    ensure!(keys.len() <= 1, "{} key files left: {keys:?}", keys.len());
    Ok(())
}

/// Go: a file store with one message per subject 'KV.STREAM_NAME.<n>' and
/// 100k 1 KB values: the last value of the first key must read as fast as
/// that of the last key, and the first sequence of the last key as fast as
/// that of the first (bounds left to `parity bench`), and the value must be
/// the one written. Here through STREAM.MSG.GET `last_by_subj` and through
/// filtered pull consumers (the first sequence of a subject is where one
/// starts). Scaled to 10,000 keys.
async fn large_kv_access(ctx: Ctx) -> Result<()> {
    const N: u64 = 10_000;
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "zzz", "subjects": ["KV.STREAM_NAME.*"], "storage": "file", "max_msgs_per_subject": 1}))
        .await?;
    let val = vec![b'Z'; 1024];
    publish_all(
        &mut js,
        (1..=N).map(|i| format!("KV.STREAM_NAME.{i}")),
        &val,
    )
    .await?;
    let b64val = crate::kit::js::b64(&val);
    for (key, seq) in [(N, N), (1, 1)] {
        let r = js
            .msg_get(
                "zzz",
                &json!({ "last_by_subj": format!("KV.STREAM_NAME.{key}") }).to_string(),
            )
            .await?;
        check_eq!(api_err(&r).0, 0);
        check_eq!((key, num(&r["message"]["seq"])), (key, seq));
        check_eq!(r["message"]["data"].as_str(), Some(b64val.as_str()));
    }
    for (key, seq) in [(1, 1), (N, N)] {
        let name = format!("k{key}");
        consumer(
            &mut js,
            "zzz",
            json!({"durable_name": name, "filter_subject": format!("KV.STREAM_NAME.{key}"), "ack_policy": "explicit"}),
        )
        .await?;
        let m = req_next(&mut js, "zzz", &name, r#"{"batch":1,"expires":1000000000}"#).await?;
        check_eq!((key, seqs(&m)?.0), (key, seq));
    }
    Ok(())
}

/// Go: 100 clients race for a lock, a key created in a KV bucket only when
/// absent (or deleted), held 10 ms, then deleted at the revision created,
/// for 10 s: two holders at once would be a broken compare-and-set. Scaled
/// to 10 clients for 2 s; the lock must also have been taken more than
/// once, or nothing was tested.
async fn kv_lock(ctx: Ctx) -> Result<()> {
    use async_nats::jetstream::{self, kv};
    let s = js_server(&ctx).await?;
    let js = jetstream::new(ctx.client(&s).await?);
    kv_bucket(&js, "LOCKS", 1).await?;
    let tracker = Arc::new(AtomicI64::new(0));
    let violations = Arc::new(AtomicU64::new(0));
    let taken = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(2);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let js = jetstream::new(ctx.client(&s).await?);
        let kv: kv::Store = js.get_key_value("LOCKS").await?;
        let (tracker, violations, taken) = (tracker.clone(), violations.clone(), taken.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let last = match kv.create("MY_LOCK", "Z".into()).await {
                    Ok(rev) => rev,
                    Err(_) => {
                        if Instant::now() >= end {
                            return Ok::<(), anyhow::Error>(());
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                taken.fetch_add(1, Ordering::SeqCst);
                if tracker.fetch_add(1, Ordering::SeqCst) + 1 != 1 {
                    violations.fetch_add(1, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                if tracker.fetch_sub(1, Ordering::SeqCst) - 1 != 0 {
                    violations.fetch_add(1, Ordering::SeqCst);
                }
                kv.delete_expect_revision("MY_LOCK", Some(last))
                    .await
                    .context("unlock at the revision created")?;
                if Instant::now() >= end {
                    return Ok(());
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    check_eq!(violations.load(Ordering::SeqCst), 0);
    let n = taken.load(Ordering::SeqCst);
    ensure!(n > 1, "the lock was taken {n} times");
    Ok(())
}

/// Go: a memory work-queue stream of 100k messages, a durable with
/// max_ack_pending 5000, and two clients fetching batches of 1000 (1 s
/// wait) concurrently: each fetch but the last is full, and the two receive
/// every message exactly once. Scaled to 20,000 messages.
async fn concurrent_pull_batch(ctx: Ctx) -> Result<()> {
    const TO_SEND: u64 = 20_000;
    const BATCH: usize = 1000;
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["ORDERS.*"], "storage": "memory", "retention": "workqueue"}))
        .await?;
    publish_all(
        &mut js,
        (1..=TO_SEND).map(|i| format!("ORDERS.{i}")),
        b"BUY",
    )
    .await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "PROCESSOR", "ack_policy": "explicit", "max_ack_pending": 5000}),
    )
    .await?;
    let received = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..2 {
        let mut c = Own::connect(&ctx, &s, &format!("w{w}")).await?;
        let received = received.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for k in 0.. {
                let reply = format!("_INBOX.w{w}.f{k}");
                let body = json!({"batch": BATCH, "expires": 1_000_000_000u64}).to_string();
                pull(&mut c.js, "TEST", "PROCESSOR", &body, &reply).await?;
                let msgs = fetch(&mut c.js, &reply, BATCH, Duration::from_secs(3)).await?;
                for m in &msgs {
                    seen.push(seqs(m)?.0);
                }
                let total =
                    received.fetch_add(msgs.len() as u64, Ordering::SeqCst) + msgs.len() as u64;
                if total >= TO_SEND || msgs.len() != BATCH {
                    break;
                }
                for m in &msgs {
                    ack(&mut c.js, m, "+ACK").await?;
                }
            }
            Ok::<Vec<u64>, anyhow::Error>(seen)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    check_eq!(received.load(Ordering::SeqCst), TO_SEND);
    all.sort_unstable();
    all.dedup();
    check_eq!(all.len() as u64, TO_SEND);
    Ok(())
}

/// Go: an interest stream whose one durable is deleted, then 5M messages
/// published with no interest (none kept), then the durable made and
/// deleted again: the deletes must succeed (and the second not take 100
/// times the first, which spun through every sequence from its ack floor:
/// a bound left to `parity bench`). Scaled to 50,000 messages.
async fn delete_consumer_high_seqs(ctx: Ctx) -> Result<()> {
    const N: u64 = 50_000;
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["log.>"], "retention": "interest"}))
        .await?;
    let cfg = json!({"durable_name": "c", "ack_policy": "explicit"});
    consumer(&mut js, "TEST", cfg.clone()).await?;
    check_eq!(
        delete_consumer(&mut js, "TEST", "c").await?["success"],
        json!(true)
    );
    let msg = "ZZZ".repeat(128);
    let mut burst = String::new();
    for _ in 0..N {
        burst.push_str(&format!("PUB log.Z {}\r\n{msg}\r\n", msg.len()));
        if burst.len() > 256 * 1024 {
            js.conn().send(&burst).await?;
            burst.clear();
        }
    }
    js.conn().send(&burst).await?;
    js.flush().await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let state = loop {
        let st = js.state("TEST").await?;
        if num(&st["last_seq"]) == N {
            break st;
        }
        ensure!(
            Instant::now() < deadline,
            "the stream's last sequence after the burst: {st}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    check_eq!(num(&state["messages"]), 0);
    consumer(&mut js, "TEST", cfg).await?;
    let r = js
        .ask("$JS.API.CONSUMER.DELETE.TEST.c", "", Duration::from_secs(5))
        .await?
        .json()?;
    check_eq!(r["success"], json!(true));
    Ok(())
}

/// Go: a push consumer (the client acks each message), and 50k messages
/// published one at a time, each received before the next is sent; the
/// worst latency is a bound left to `parity bench`. Scaled to 2000.
async fn end_to_end_delivery(ctx: Ctx) -> Result<()> {
    const N: u64 = 2000;
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo"]}))
        .await?;
    let mut sub = Own::connect(&ctx, &s, "sub").await?;
    sub.js.sub("dlv.e2e", "e").await?;
    let r = consumer(
        &mut js,
        "TEST",
        json!({"deliver_subject": "dlv.e2e", "ack_policy": "explicit"}),
    )
    .await?;
    let name = r["name"].as_str().context("no consumer name")?.to_string();
    for i in 1..=N {
        let seq = js.stored("foo", "ok").await?;
        check_eq!(seq, i);
        let m = must(&mut sub.js, Duration::from_secs(5))
            .await
            .with_context(|| format!("message {i}"))?;
        let show = super::js_delivery::show(&m);
        check_eq!(
            (
                m.sid.as_str(),
                m.subject.as_str(),
                seqs(&m).context(show)?.0
            ),
            ("e", "foo", i)
        );
        check_eq!(m.payload, b"ok".to_vec());
        ack(&mut sub.js, &m, "+ACK").await?;
    }
    // Every ack landed: nothing left pending.
    wait_field(&mut js, "TEST", &name, "num_ack_pending", 0).await?;
    Ok(())
}
