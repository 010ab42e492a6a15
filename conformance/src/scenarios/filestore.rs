//! Scenarios for the file store, from server/filestore_test.go (its first
//! half: stores, limits, purges, compactions, erasure, meta files, blocks,
//! caches, consumer state), observed through streams with `storage: file`
//! on one server.
//!
//! The Go tests drive a `fileStore` in-process. Here the same operations go
//! through the JetStream API of a file stream, as in `memstore`: a publish
//! is `StoreMsg` (its PubAck gives the sequence), `$JS.API.STREAM.MSG.GET`
//! is `LoadMsg`, `$JS.API.STREAM.MSG.DELETE` is `RemoveMsg` (`no_erase:
//! true`) or `EraseMsg`, `$JS.API.STREAM.PURGE` is `Purge` and `Compact`
//! (`seq`), and `$JS.API.STREAM.INFO` (with `deleted_details`) is `State`.
//! `fs.Stop` and `newFileStore` on the same folder are a graceful stop and
//! start of the server on the same store; the store's folder is
//! `<store_dir>/jetstream/$G/streams/<stream>` (`msgs/N.blk`, `meta.inf`,
//! `meta.sum`, `obs/<consumer>/`), read or edited while the server is
//! stopped. A stored message counts `fileStoreMsgSize` bytes: its record,
//! `22 + len(subject) + len(headers) + len(data) + 8`, and 4 more for the
//! header length when it has headers.
//!
//! A stream's block size is not a config field: Go picks it from
//! `max_bytes` (32000 bytes, the least, for a `max_bytes` up to about
//! 128 KB; 8 MiB for a limits stream without one). Where a Go test uses a
//! small `BlockSize` to get several blocks, the scenario sets a `max_bytes`
//! under 128 KB and makes the messages big enough that as many records fit
//! in a 32000-byte block as in the Go test's block.
//!
//! `SkipMsg` is what a stream with interest retention does with a message
//! no consumer is interested in: its sequence is used, nothing is stored.
//! The consumer store tests (`ConsumerStore`, `UpdateDelivered`,
//! `UpdateAcks`, `State`) are driven through durable consumers: a delivery
//! is `UpdateDelivered`, an ack `UpdateAcks`, `$JS.API.CONSUMER.INFO`
//! (`delivered`, `ack_floor`, `num_ack_pending`, `num_redelivered`) is
//! `State`, and a restart of the server stops and reopens the consumer's
//! store (`obs/<consumer>/o.dat`).

use super::js_delivery::{ack, cinfo, consumer, must, quiet, req_next, seqs};
use crate::check_eq;
use crate::kit::js::{api_err, b64, header_block, js_server, num, scrub, stream_dir, time_of, Js};
use crate::kit::{eventually, Ctx, Server};
use crate::registry::{Need, Scenario};
use anyhow::{ensure, Context, Result};
use futures::FutureExt;
use highway::{HighwayHash, HighwayHasher, Key};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, SystemTime};

pub fn scenarios() -> Vec<Scenario> {
    let js = |s: Scenario| s.needs(Need::JetStream);
    let slow = |s: Scenario| s.needs(Need::JetStream).timeout(Duration::from_secs(90));
    vec![
        js(Scenario::new("filestore/basics", |c| basics(c).boxed()).full("TestFileStoreBasics")),
        js(
            Scenario::new("filestore/msg-headers", |c| msg_headers(c).boxed())
                .full("TestFileStoreMsgHeaders"),
        ),
        js(
            Scenario::new("filestore/write-and-restore", |c| write_restore(c).boxed())
                .full("TestFileStoreBasicWriteMsgsAndRestore"),
        ),
        js(Scenario::new("filestore/select-next-first", |c| {
            select_next_first(c).boxed()
        })
        .full("TestFileStoreSelectNextFirst")),
        js(Scenario::new("filestore/skip-msg", |c| skip_msg(c).boxed())
            .full("TestFileStoreSkipMsg")),
        slow(
            Scenario::new("filestore/write-expire-write", |c| {
                write_expire_write(c).boxed()
            })
            .full("TestFileStoreWriteExpireWrite"),
        ),
        js(
            Scenario::new("filestore/msg-limit", |c| msg_limit(c).boxed())
                .full("TestFileStoreMsgLimit"),
        ),
        js(
            Scenario::new("filestore/msg-limit-restart", |c| msg_limit_bug(c).boxed())
                .full("TestFileStoreMsgLimitBug"),
        ),
        js(
            Scenario::new("filestore/bytes-limit", |c| bytes_limit(c).boxed())
                .full("TestFileStoreBytesLimit"),
        ),
        js(
            Scenario::new("filestore/age-limit", |c| age_limit(c).boxed())
                .full("TestFileStoreAgeLimit"),
        ),
        js(
            Scenario::new("filestore/timestamps", |c| timestamps(c).boxed())
                .full("TestFileStoreTimeStamps"),
        ),
        slow(Scenario::new("filestore/purge", |c| purge(c).boxed()).full("TestFileStorePurge")),
        js(Scenario::new("filestore/compact", |c| compact(c).boxed()).full("TestFileStoreCompact")),
        slow(
            Scenario::new("filestore/compact-last-plus-one", |c| {
                compact_last_plus_one(c).boxed()
            })
            .full("TestFileStoreCompactLastPlusOne"),
        ),
        js(Scenario::new("filestore/compact-msg-count", |c| {
            compact_msg_count(c).boxed()
        })
        .full("TestFileStoreCompactMsgCountBug")),
        js(
            Scenario::new("filestore/erase-msg", |c| erase_msg(c).boxed())
                .full("TestFileStoreEraseMsg"),
        ),
        js(Scenario::new("filestore/meta", |c| meta(c).boxed()).full("TestFileStoreMeta")),
        js(Scenario::new("filestore/write-and-read-same-block", |c| {
            write_read_same_block(c).boxed()
        })
        .full("TestFileStoreWriteAndReadSameBlock")),
        js(
            Scenario::new("filestore/retrieve-multi-block", |c| multi_block(c).boxed())
                .full("TestFileStoreAndRetrieveMultiBlock"),
        ),
        js(
            Scenario::new("filestore/collapse-dmap", |c| collapse_dmap(c).boxed())
                .full("TestFileStoreCollapseDmap"),
        ),
        slow(
            Scenario::new("filestore/read-cache", |c| read_cache(c).boxed())
                .partial("TestFileStoreReadCache"),
        ),
        slow(
            Scenario::new("filestore/partial-cache-expiration", |c| {
                partial_cache_expiration(c).boxed()
            })
            .full("TestFileStorePartialCacheExpiration"),
        ),
        slow(
            Scenario::new("filestore/partial-indexes", |c| partial_indexes(c).boxed())
                .full("TestFileStorePartialIndexes"),
        ),
        js(Scenario::new("filestore/consumer-state-restart", |c| {
            consumer_state_restart(c).boxed()
        })
        .full("TestFileStoreConsumerEncodeDecodeRedelivered")
        .partial("TestFileStoreConsumer")
        .partial("TestFileStoreConsumerEncodeDecodePendingBelowStreamAckFloor")),
        js(Scenario::new("filestore/consumer-redelivered-lost", |c| {
            consumer_redelivered_lost(c).boxed()
        })
        .full("TestFileStoreConsumerRedeliveredLost")),
        js(Scenario::new("filestore/consumer-state-file", |c| {
            consumer_state_file(c).boxed()
        })
        .partial("TestFileStoreConsumerFlusher")),
        js(Scenario::new("filestore/consumer-delivered-updates", |c| {
            consumer_delivered_updates(c).boxed()
        })
        .full("TestFileStoreConsumerDeliveredUpdates")),
        slow(
            Scenario::new("filestore/consumer-delivered-and-ack-updates", |c| {
                consumer_delivered_and_acks(c).boxed()
            })
            .full("TestFileStoreConsumerDeliveredAndAckUpdates"),
        ),
        js(
            Scenario::new("filestore/state-deleted", |c| state_deleted(c).boxed())
                .full("TestFileStoreStreamStateDeleted"),
        ),
        js(Scenario::new("filestore/delete-dir-not-empty", |c| {
            delete_dir_not_empty(c).boxed()
        })
        .full("TestFileStoreStreamDeleteDirNotEmpty")),
    ]
}

// ---------------------------------------------------------------- helpers

/// A server with JetStream, a connection, and a file stream `name` on
/// `subjects` with the extra config fields of `cfg`.
async fn file_stream(ctx: &Ctx, name: &str, subjects: &[&str], cfg: Value) -> Result<(Server, Js)> {
    let s = js_server(ctx).await?;
    let mut js = Js::connect(ctx, &s).await?;
    let mut full = json!({"name": name, "subjects": subjects, "storage": "file"});
    for (k, v) in cfg.as_object().into_iter().flatten() {
        full[k] = v.clone();
    }
    let r = js.create(full).await?;
    ctx.observe_json("create", &scrub(&r));
    Ok((s, js))
}

/// `fileStoreMsgSize`: the bytes a stored message counts in `state.bytes`.
fn stored_size(subject: &str, hdr: &[u8], msg: &[u8]) -> u64 {
    let hlen = if hdr.is_empty() { 0 } else { 4 + hdr.len() };
    (22 + subject.len() + hlen + msg.len() + 8) as u64
}

/// A payload whose record on `subject` is `record` bytes long.
fn payload_for(subject: &str, record: usize) -> String {
    "x".repeat(record - 22 - subject.len() - 8)
}

/// The message blocks of a stream's store: `(index, size)`, by index.
fn blocks(s: &Server, name: &str) -> Result<Vec<(u64, u64)>> {
    let dir = stream_dir(s, name).join("msgs");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e?;
        let file = e.file_name().to_string_lossy().into_owned();
        if let Some(i) = file.strip_suffix(".blk").and_then(|i| i.parse().ok()) {
            out.push((i, e.metadata()?.len()));
        }
    }
    out.sort();
    Ok(out)
}

/// Stops the server and starts it again on the same store; a new connection.
async fn restart(ctx: &Ctx, s: &mut Server) -> Result<Js> {
    s.restart().await?;
    Js::connect(ctx, s).await
}

/// `$JS.API.STREAM.MSG.GET` of `seq`: the message, which must be there.
async fn load(js: &mut Js, stream: &str, seq: u64) -> Result<Value> {
    let r = js.msg_get(stream, &format!("{{\"seq\":{seq}}}")).await?;
    ensure!(
        r.get("error").is_none(),
        "Unexpected error looking up seq {seq}: {r}"
    );
    Ok(r["message"].clone())
}

/// The payload of a loaded message as text.
fn data_of(m: &Value) -> String {
    let mut plain = String::new();
    if let Some(d) = m["data"].as_str() {
        plain = String::from_utf8_lossy(&unb64(d)).into_owned();
    }
    plain
}

/// Go's standard base64 decoded (the API's `[]byte` fields).
fn unb64(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter_map(val) {
        acc = (acc << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// `$JS.API.STREAM.MSG.DELETE` of `seq` (`RemoveMsg` with `no_erase`,
/// `EraseMsg` without): the response, which must be a success.
async fn remove(js: &mut Js, stream: &str, seq: u64, erase: bool) -> Result<()> {
    let body = if erase {
        format!("{{\"seq\":{seq}}}")
    } else {
        format!("{{\"seq\":{seq},\"no_erase\":true}}")
    };
    let r = js.msg_delete(stream, &body).await?;
    ensure!(
        r["success"] == json!(true),
        "Expected remove to return true for {seq}: {r}"
    );
    Ok(())
}

/// `state.deleted` of a stream's info with `deleted_details` (empty when
/// the info has none), and the state.
async fn deleted(js: &mut Js, stream: &str) -> Result<(Vec<u64>, Value)> {
    let info = js.info_with(stream, "{\"deleted_details\":true}").await?;
    let state = info["state"].clone();
    let list = state["deleted"]
        .as_array()
        .map(|a| a.iter().map(num).collect())
        .unwrap_or_default();
    Ok((list, state))
}

/// Publishes `n` copies of `payload` on `subject` without waiting for each
/// PubAck, then requires the stream's last sequence to be `last`.
async fn fill(
    js: &mut Js,
    stream: &str,
    subject: &str,
    payload: &str,
    n: u64,
    last: u64,
) -> Result<()> {
    for _ in 0..n {
        js.publish(subject, payload).await?;
    }
    js.flush().await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let state = js.state(stream).await?;
        if num(&state["last_seq"]) == last {
            return Ok(());
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "Expected last_seq {last}, got {state}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// HighwayHash-64 of `data` keyed by the sha256 of `key`, in lower-case hex
/// of its little-endian bytes: how Go sums `meta.inf` (keyed by the stream's
/// name, or `<stream>/<consumer>` for a consumer's).
fn meta_sum(key: &str, data: &[u8]) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut k = [0u64; 4];
    for (w, chunk) in k.iter_mut().zip(digest.chunks_exact(8)) {
        *w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
    }
    let mut h = HighwayHasher::new(Key(k));
    h.append(data);
    h.finalize64()
        .to_le_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------- stores

async fn basics(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = file_stream(&ctx, "zzz", &["foo"], json!({})).await?;
    let (subj, msg) = ("foo", "Hello World");
    for i in 1..=5u64 {
        let before = SystemTime::now();
        let seq = js.stored(subj, msg).await?;
        let after = SystemTime::now();
        check_eq!(seq, i);
        let ts = time_of(&load(&mut js, "zzz", seq).await?["time"])?;
        ensure!(
            ts >= before && ts <= after,
            "Expected timestamp to be current, got {ts:?}"
        );
    }
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), 5);
    check_eq!(
        num(&state["bytes"]),
        5 * stored_size(subj, b"", msg.as_bytes())
    );
    ctx.observe_json("state", &scrub(&state));
    let m = load(&mut js, "zzz", 2).await?;
    check_eq!(m["subject"], json!(subj));
    check_eq!(m["data"], json!(b64(msg.as_bytes())));
    load(&mut js, "zzz", 3).await?;
    // Remove the first, the last, then one in the middle.
    for (seq, left) in [(1, 4), (5, 3), (3, 2)] {
        remove(&mut js, "zzz", seq, false).await?;
        check_eq!(js.msgs("zzz").await?, left);
    }
    let state = js.state("zzz").await?;
    ctx.observe_json("after removes", &scrub(&state));
    Ok(())
}

async fn msg_headers(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = file_stream(&ctx, "zzz", &["foo"], json!({})).await?;
    let (subj, msg) = ("foo", "Hello World");
    let hdr = header_block(&[("name", "derek")]);
    js.stored_h(subj, &[("name", "derek")], msg.as_bytes())
        .await?;
    // The record: 22 + subject + 4 + headers + data + 8.
    let elen = 22 + subj.len() + 4 + hdr.len() + msg.len() + 8;
    let state = js.state("zzz").await?;
    check_eq!(num(&state["bytes"]), elen as u64);
    let m = load(&mut js, "zzz", 1).await?;
    check_eq!(m["data"], json!(b64(msg.as_bytes())));
    check_eq!(m["hdrs"], json!(b64(hdr.as_bytes())));
    ctx.observe_json("get 1", &scrub(&m));
    let r = js.msg_delete("zzz", "{\"seq\":1}").await?;
    check_eq!(r["success"], json!(true));
    Ok(())
}

async fn write_restore(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    // A stream without a name gets no store.
    let r = js
        .api(
            "$JS.API.STREAM.CREATE.dlc",
            &json!({"subjects": ["foo"], "storage": "file"}).to_string(),
        )
        .await?;
    ensure!(
        r.get("error").is_some(),
        "Expected an error with no name: {r}"
    );
    ctx.observe_json("no name", &r);
    let mut s = s;
    let r = js
        .create(json!({"name": "dlc", "subjects": ["foo"], "storage": "file"}))
        .await?;
    ctx.observe_json("create", &scrub(&r));
    let subj = "foo";
    let to_store = 100u64;
    let msg = |i: u64| format!("[{i:08}] Hello World!");
    for i in 1..=to_store {
        let seq = js.stored(subj, &msg(i)).await?;
        check_eq!(seq, i);
    }
    let expected_size = to_store * stored_size(subj, b"", msg(22).as_bytes());
    let state = js.state("dlc").await?;
    check_eq!(num(&state["messages"]), to_store);
    check_eq!(num(&state["bytes"]), expected_size);
    // Restart: the same state.
    let mut js = restart(&ctx, &mut s).await?;
    let state = js.state("dlc").await?;
    check_eq!(num(&state["messages"]), to_store);
    check_eq!(num(&state["bytes"]), expected_size);
    // 100 more.
    for i in to_store + 1..=to_store * 2 {
        let seq = js.stored(subj, &msg(i)).await?;
        check_eq!(seq, i);
    }
    check_eq!(js.msgs("dlc").await?, to_store * 2);
    let mut js = restart(&ctx, &mut s).await?;
    let state = js.state("dlc").await?;
    check_eq!(num(&state["messages"]), to_store * 2);
    check_eq!(num(&state["bytes"]), expected_size * 2);
    ctx.observe_json("after second restart", &scrub(&state));
    // Purged, then restarted: empty.
    let r = js.purge("dlc", "").await?;
    check_eq!(api_err(&r).0, 0);
    let mut js = restart(&ctx, &mut s).await?;
    let state = js.state("dlc").await?;
    check_eq!(num(&state["messages"]), 0);
    check_eq!(num(&state["bytes"]), 0);
    // One stored and removed: after a restart the first sequence is past it.
    let seq = js.stored(subj, "Hello").await?;
    remove(&mut js, "dlc", seq, false).await?;
    let mut js = restart(&ctx, &mut s).await?;
    let state = js.state("dlc").await?;
    check_eq!(num(&state["first_seq"]), seq + 1);
    ctx.observe_json("after remove and restart", &scrub(&state));
    Ok(())
}

async fn select_next_first(ctx: Ctx) -> Result<()> {
    // 32000-byte blocks; records of 6000 bytes: 5 to a block, as in the Go
    // test's 256-byte blocks.
    let (s, mut js) = file_stream(&ctx, "zzz", &["zzz"], json!({"max_bytes": 120_000})).await?;
    let msg = payload_for("zzz", 6000);
    for _ in 0..10 {
        js.stored("zzz", &msg).await?;
    }
    check_eq!(js.msgs("zzz").await?, 10);
    // The first block holds 5 messages.
    let blks = blocks(&s, "zzz")?;
    ensure!(blks.len() == 2, "Expected 2 blocks, got {blks:?}");
    check_eq!(blks[0].1, 5 * 6000);
    // Delete 2-7, across the blocks.
    for seq in 2..=7 {
        remove(&mut js, "zzz", seq, false).await?;
    }
    let state = js.state("zzz").await?;
    check_eq!((num(&state["messages"]), num(&state["first_seq"])), (4, 1));
    // Closing the gap moves the first sequence into the next block.
    remove(&mut js, "zzz", 1, false).await?;
    let state = js.state("zzz").await?;
    check_eq!((num(&state["messages"]), num(&state["first_seq"])), (3, 8));
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}

async fn skip_msg(ctx: Ctx) -> Result<()> {
    // Interest retention: a message no consumer is interested in is skipped.
    let (mut s, mut js) = file_stream(
        &ctx,
        "zzz",
        &["zzz", "AAA", "skip"],
        json!({"retention": "interest"}),
    )
    .await?;
    let num_skips = 10u64;
    for _ in 0..num_skips {
        js.stored("skip", "").await?;
    }
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), 0);
    check_eq!(
        (num(&state["first_seq"]), num(&state["last_seq"])),
        (num_skips + 1, num_skips)
    );
    ctx.observe_json("10 skipped", &scrub(&state));
    // Consumers that want zzz and AAA: those are stored, "skip" is not.
    for (name, filter) in [("C1", "zzz"), ("C2", "AAA")] {
        consumer(
            &mut js,
            "zzz",
            json!({"durable_name": name, "ack_policy": "explicit", "filter_subject": filter}),
        )
        .await?;
    }
    js.stored("zzz", "Hello World!").await?;
    js.stored("skip", "").await?;
    js.stored("skip", "").await?;
    js.stored("zzz", "Hello World!").await?;
    js.stored("skip", "").await?;
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), 2);
    check_eq!(
        (num(&state["first_seq"]), num(&state["last_seq"])),
        (num_skips + 1, num_skips + 5)
    );
    // The same state after a restart.
    let mut js = restart(&ctx, &mut s).await?;
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), 2);
    check_eq!(
        (num(&state["first_seq"]), num(&state["last_seq"])),
        (num_skips + 1, num_skips + 5)
    );
    ctx.observe_json("after restart", &scrub(&state));
    let m = load(&mut js, "zzz", 11).await?;
    check_eq!(
        (m["subject"].clone(), data_of(&m)),
        (json!("zzz"), "Hello World!".to_string())
    );
    js.stored("skip", "").await?;
    let nseq = js.stored("AAA", "Skip?").await?;
    check_eq!(nseq, 17);
    let mut js = restart(&ctx, &mut s).await?;
    let m = load(&mut js, "zzz", nseq).await?;
    check_eq!(
        (m["subject"].clone(), data_of(&m)),
        (json!("AAA"), "Skip?".to_string())
    );
    let state = js.state("zzz").await?;
    ctx.observe_json("after second restart", &scrub(&state));
    Ok(())
}

/// How long a file store keeps a block's cache after its last use
/// (defaultCacheBufferExpiration), and a margin.
const CACHE_EXPIRE: Duration = Duration::from_millis(5_000 + 1_500);

async fn write_expire_write(ctx: Ctx) -> Result<()> {
    let (mut s, mut js) = file_stream(&ctx, "zzz", &["zzz"], json!({})).await?;
    let to_send = 10u64;
    for _ in 0..to_send {
        js.stored("zzz", "Hello World!").await?;
    }
    // Let the block's write cache expire, then write into the block again.
    tokio::time::sleep(CACHE_EXPIRE).await;
    for _ in 0..to_send {
        js.stored("zzz", "Hello World! - 22").await?;
    }
    check_eq!(js.msgs("zzz").await?, to_send * 2);
    let mut js = restart(&ctx, &mut s).await?;
    check_eq!(js.msgs("zzz").await?, to_send * 2);
    for i in 1..=to_send * 2 {
        let m = load(&mut js, "zzz", i).await?;
        let want = if i > to_send {
            "Hello World! - 22"
        } else {
            "Hello World!"
        };
        check_eq!(
            (m["subject"].clone(), data_of(&m)),
            (json!("zzz"), want.to_string())
        );
    }
    ctx.observe("loaded", "20 messages after the restart");
    Ok(())
}

async fn msg_limit(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = file_stream(&ctx, "zzz", &["foo"], json!({"max_msgs": 10})).await?;
    for _ in 0..10 {
        js.stored("foo", "Hello World").await?;
    }
    check_eq!(js.msgs("zzz").await?, 10);
    // The 11th is stored and the first dropped.
    let seq = js.stored("foo", "Hello World").await?;
    check_eq!(seq, 11);
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), 10);
    check_eq!(num(&state["last_seq"]), 11);
    check_eq!(num(&state["first_seq"]), 2);
    ctx.observe_json("state", &scrub(&state));
    let r = js.msg_get("zzz", "{\"seq\":1}").await?;
    check_eq!(api_err(&r), (404, 10037, "no message found".to_string()));
    ctx.observe_json("get 1", &r);
    Ok(())
}

async fn msg_limit_bug(ctx: Ctx) -> Result<()> {
    let (mut s, mut js) = file_stream(&ctx, "zzz", &["foo"], json!({"max_msgs": 1})).await?;
    js.stored("foo", "Hello World").await?;
    js.stored("foo", "Hello World").await?;
    // Back after a restart, and still storing.
    let mut js = restart(&ctx, &mut s).await?;
    let info = js.info("zzz").await?;
    check_eq!(num(&info["config"]["max_msgs"]), 1);
    let seq = js.stored("foo", "Hello World").await?;
    check_eq!(seq, 3);
    let state = js.state("zzz").await?;
    check_eq!((num(&state["messages"]), num(&state["first_seq"])), (1, 3));
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}

async fn bytes_limit(ctx: Ctx) -> Result<()> {
    let msg = "\0".repeat(512);
    let stored_msg_size = stored_size("foo", b"", msg.as_bytes());
    let to_store = 1024u64;
    let max_bytes = stored_msg_size * to_store;
    let (_s, mut js) = file_stream(&ctx, "zzz", &["foo"], json!({"max_bytes": max_bytes})).await?;
    fill(&mut js, "zzz", "foo", &msg, to_store, to_store).await?;
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), to_store);
    check_eq!(num(&state["bytes"]), stored_msg_size * to_store);
    // Ten more: the bytes limit holds by dropping the oldest.
    for _ in 0..10 {
        js.stored("foo", &msg).await?;
    }
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), to_store);
    check_eq!(num(&state["bytes"]), stored_msg_size * to_store);
    check_eq!(num(&state["first_seq"]), 11);
    check_eq!(num(&state["last_seq"]), to_store + 10);
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}

/// Waits (5 s at most) for a stream to have no messages and no bytes.
async fn all_expired(js: &mut Js, stream: &str) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let state = js.state(stream).await?;
        let check = || -> Result<()> {
            ensure!(
                num(&state["messages"]) == 0,
                "Expected no msgs, got {}",
                state["messages"]
            );
            ensure!(
                num(&state["bytes"]) == 0,
                "Expected no bytes, got {}",
                state["bytes"]
            );
            Ok(())
        };
        match check() {
            Ok(()) => return Ok(state),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

async fn age_limit(ctx: Ctx) -> Result<()> {
    let max_age = Duration::from_millis(250);
    let (_s, mut js) = file_stream(
        &ctx,
        "zzz",
        &["foo"],
        json!({"max_age": max_age.as_nanos() as u64}),
    )
    .await?;
    // Stored at once (well within the max age), then counted.
    let to_store = 500u64;
    fill(&mut js, "zzz", "foo", "Hello World", to_store, to_store).await?;
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), to_store);
    all_expired(&mut js, "zzz").await?;
    // More, with interior deletes: they expire as well, and soon.
    fill(&mut js, "zzz", "foo", "Hello World", to_store, 2 * to_store).await?;
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), to_store);
    for seq in [502, 602, 702, 802] {
        let _ = js
            .msg_delete("zzz", &format!("{{\"seq\":{seq},\"no_erase\":true}}"))
            .await?;
    }
    let start = tokio::time::Instant::now();
    let state = all_expired(&mut js, "zzz").await?;
    let elapsed = start.elapsed();
    ensure!(
        elapsed <= Duration::from_secs(1),
        "Took too long to expire: {elapsed:?}"
    );
    ctx.observe_json("expired", &scrub(&state));
    Ok(())
}

async fn timestamps(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = file_stream(&ctx, "zzz", &["foo"], json!({})).await?;
    let mut last = SystemTime::now();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        js.stored("foo", "Hello World").await?;
    }
    for seq in 1..=10 {
        let m = load(&mut js, "zzz", seq).await?;
        let ts = time_of(&m["time"])?;
        ensure!(
            ts > last,
            "Expected different timestamps, got {}",
            m["time"]
        );
        last = ts;
    }
    ctx.observe("loaded", "10 increasing timestamps");
    Ok(())
}

/// The state a purge of a stream that had stored `stored` messages leaves.
async fn check_purge_state(js: &mut Js, stored: u64) -> Result<Value> {
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), 0);
    check_eq!(num(&state["bytes"]), 0);
    check_eq!(num(&state["last_seq"]), stored);
    check_eq!(num(&state["first_seq"]), stored + 1);
    Ok(state)
}

async fn purge(ctx: Ctx) -> Result<()> {
    // A limits stream without max_bytes has 8 MiB blocks: 1024 messages of
    // 8 KiB take two.
    let (mut s, mut js) = file_stream(&ctx, "zzz", &["foo"], json!({})).await?;
    let msg = "\0".repeat(8 * 1024);
    let stored_msg_size = stored_size("foo", b"", msg.as_bytes());
    let to_store = 1024u64;
    fill(&mut js, "zzz", "foo", &msg, to_store, to_store).await?;
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), to_store);
    check_eq!(num(&state["bytes"]), stored_msg_size * to_store);
    let blk_size = 8 * 1024 * 1024;
    let expected_blocks = (stored_msg_size * to_store / blk_size) as usize;
    let blks = blocks(&s, "zzz")?;
    ensure!(
        blks.len() > expected_blocks,
        "Expected to have more then {expected_blocks} msg blocks, got {blks:?}"
    );
    let r = js.purge("zzz", "").await?;
    check_eq!(num(&r["purged"]), to_store);
    // One empty block is left.
    let blks = blocks(&s, "zzz")?;
    ensure!(
        blks.len() == 1 && blks[0].1 == 0,
        "Expected to have exactly 1 empty msg block, got {blks:?}"
    );
    check_purge_state(&mut js, to_store).await?;
    // The same after a restart.
    let mut js = restart(&ctx, &mut s).await?;
    let blks = blocks(&s, "zzz")?;
    ensure!(
        blks.len() == 1 && blks[0].1 == 0,
        "Expected to have exactly 1 empty msg block, got {blks:?}"
    );
    let state = check_purge_state(&mut js, to_store).await?;
    ctx.observe_json("purged, restarted", &scrub(&state));
    // Stored again; a copy of the blocks is kept aside while stopped.
    fill(&mut js, "zzz", "foo", &msg, to_store, 2 * to_store).await?;
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), to_store);
    check_eq!(num(&state["bytes"]), stored_msg_size * to_store);
    s.stop().await?;
    let dir = stream_dir(&s, "zzz");
    let ptest = dir.join("ptest");
    std::fs::create_dir_all(&ptest)?;
    for e in std::fs::read_dir(dir.join("msgs"))? {
        let e = e?;
        std::fs::copy(e.path(), ptest.join(e.file_name()))?;
    }
    let mut js = restart(&ctx, &mut s).await?;
    js.purge("zzz", "").await?;
    check_purge_state(&mut js, to_store * 2).await?;
    // A crash before the purged blocks were removed: they are left in
    // the purge folder.
    s.stop().await?;
    let purge_dir = dir.join("__msgs__");
    if purge_dir.exists() {
        std::fs::remove_dir_all(&purge_dir)?;
    }
    std::fs::rename(&ptest, &purge_dir)?;
    let mut js = restart(&ctx, &mut s).await?;
    let blks = blocks(&s, "zzz")?;
    ensure!(
        blks.len() == 1 && blks[0].1 == 0,
        "Expected to have exactly 1 empty msg block, got {blks:?}"
    );
    let state = check_purge_state(&mut js, to_store * 2).await?;
    ctx.observe_json("purged, crash left blocks", &scrub(&state));
    eventually(Duration::from_secs(1), || {
        let gone = !purge_dir.exists();
        async move {
            ensure!(gone, "purge directory still present");
            Ok(Some(()))
        }
    })
    .await?;
    Ok(())
}

async fn compact(ctx: Ctx) -> Result<()> {
    // 32000-byte blocks; records of 4533 bytes: 7 to a block, as 44-byte
    // records in the Go test's 350-byte blocks.
    let (mut s, mut js) = file_stream(&ctx, "zzz", &["foo"], json!({"max_bytes": 120_000})).await?;
    let msg = payload_for("foo", 4533);
    for _ in 0..10 {
        js.stored("foo", &msg).await?;
    }
    check_eq!(js.msgs("zzz").await?, 10);
    ensure!(blocks(&s, "zzz")?.len() == 2, "Expected 2 blocks");
    // Purge up to (not including) 6.
    let r = js.purge("zzz", "{\"seq\":6}").await?;
    check_eq!(api_err(&r).0, 0);
    check_eq!(num(&r["purged"]), 5);
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), 5);
    check_eq!(num(&state["first_seq"]), 6);
    ctx.observe_json("after seq 6", &scrub(&state));
    // Past the last sequence: all purged and first moves there.
    let r = js.purge("zzz", "{\"seq\":100}").await?;
    check_eq!(api_err(&r).0, 0);
    check_eq!(num(&r["purged"]), 5);
    let state = js.state("zzz").await?;
    check_eq!(num(&state["first_seq"]), 100);
    // Kept over a restart.
    let mut js = restart(&ctx, &mut s).await?;
    let state = js.state("zzz").await?;
    check_eq!(num(&state["first_seq"]), 100);
    ctx.observe_json("after restart", &scrub(&state));
    Ok(())
}

async fn compact_last_plus_one(ctx: Ctx) -> Result<()> {
    // 10,000 messages of 10,000 bytes: about a hundred MB in 8 MiB blocks.
    let (s, mut js) = file_stream(&ctx, "zzz", &["foo"], json!({})).await?;
    let msg = "\0".repeat(10_000);
    let n = 10_000u64;
    fill(&mut js, "zzz", "foo", &msg, n, n).await?;
    check_eq!(js.msgs("zzz").await?, n);
    ensure!(
        blocks(&s, "zzz")?.len() > 10,
        "Expected more than 10 blocks"
    );
    let r = js.purge("zzz", &format!("{{\"seq\":{}}}", n + 1)).await?;
    check_eq!(api_err(&r).0, 0);
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), 0);
    ctx.observe_json("compacted", &scrub(&state));
    js.stored("foo", &msg).await?;
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), 1);
    ctx.observe_json("one more", &scrub(&state));
    Ok(())
}

async fn compact_msg_count(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = file_stream(&ctx, "zzz", &["foo"], json!({})).await?;
    for _ in 0..10 {
        js.stored("foo", "Hello World").await?;
    }
    check_eq!(js.msgs("zzz").await?, 10);
    // Erase 2, 3, 4; remove 7, 8, 9.
    for seq in [2, 3, 4] {
        remove(&mut js, "zzz", seq, true).await?;
    }
    for seq in [7, 8, 9] {
        remove(&mut js, "zzz", seq, false).await?;
    }
    let r = js.purge("zzz", "{\"seq\":6}").await?;
    check_eq!(api_err(&r).0, 0);
    // 1 and 5.
    check_eq!(num(&r["purged"]), 2);
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), 2);
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}

/// Go's marker of an erased record's sequence (ebit).
const EBIT: u64 = 1 << 63;

async fn erase_msg(ctx: Ctx) -> Result<()> {
    let (mut s, mut js) = file_stream(&ctx, "zzz", &["foo"], json!({})).await?;
    let (subj, msg) = ("foo", "Hello World");
    js.stored(subj, msg).await?;
    js.stored(subj, msg).await?; // keeps the block
    let m = load(&mut js, "zzz", 1).await?;
    check_eq!(m["data"], json!(b64(msg.as_bytes())));
    let r = js.msg_delete("zzz", "{\"seq\":1}").await?;
    check_eq!(r["success"], json!(true));
    let r = js.msg_get("zzz", "{\"seq\":1}").await?;
    check_eq!(api_err(&r), (404, 10037, "no message found".to_string()));
    // On disk: the first record of the first block is overwritten.
    s.stop().await?;
    let path = stream_dir(&s, "zzz").join("msgs").join("1.blk");
    let buf = std::fs::read(&path)
        .with_context(|| format!("Error opening msg block file {}", path.display()))?;
    let rl = stored_size(subj, b"", msg.as_bytes()) as usize;
    ensure!(
        buf.len() >= rl,
        "error reading message from block: {} bytes",
        buf.len()
    );
    let u64_at = |i: usize| u64::from_le_bytes(buf[i..i + 8].try_into().expect("8 bytes"));
    check_eq!(u32::from_le_bytes(buf[0..4].try_into()?) as usize, rl);
    let (seq, ts) = (u64_at(4), u64_at(12));
    let slen = u16::from_le_bytes(buf[20..22].try_into()?) as usize;
    ensure!(
        22 + slen + 8 <= rl,
        "error reading message from block: subject length {slen}"
    );
    let rec_subj = &buf[22..22 + slen];
    let rec_msg = &buf[22 + slen..rl - 8];
    ensure!(
        rec_subj != subj.as_bytes(),
        "Expected the subjects to be different"
    );
    ensure!(
        seq == 0 || seq & EBIT != 0,
        "Expected seq to be 0, marking as deleted, got {seq}"
    );
    check_eq!(ts, 0);
    ensure!(
        rec_msg != msg.as_bytes(),
        "Expected message body to be randomized"
    );
    ctx.observe(
        "erased record",
        format!("len {rl}, ts {ts}, subject length {slen}"),
    );
    let mut js = restart(&ctx, &mut s).await?;
    let state = js.state("zzz").await?;
    ctx.observe_json("after restart", &scrub(&state));
    Ok(())
}

async fn meta(ctx: Ctx) -> Result<()> {
    let name = "ZZ-22-33";
    let (s, mut js) = file_stream(&ctx, name, &["foo.*"], json!({})).await?;
    let dir = stream_dir(&s, name);
    let (metafile, metasum) = (dir.join("meta.inf"), dir.join("meta.sum"));
    ensure!(metafile.exists(), "Expected metafile {metafile:?} to exist");
    ensure!(
        metasum.exists(),
        "Expected metafile's checksum {metasum:?} to exist"
    );
    let buf = std::fs::read(&metafile).context("Error reading metafile")?;
    let mut mconfig: Value = serde_json::from_slice(&buf).context("Error unmarshalling")?;
    // The stored config is the stream's config (and when it was created).
    mconfig
        .as_object_mut()
        .context("meta.inf not an object")?
        .remove("Created");
    let info = js.info(name).await?;
    check_eq!(mconfig, info["config"]);
    let checksum = std::fs::read_to_string(&metasum).context("Error reading metafile checksum")?;
    check_eq!(meta_sum(name, &buf), checksum);
    // A consumer: the same.
    let oname = "obs22";
    let r = consumer(
        &mut js,
        name,
        json!({"durable_name": oname, "deliver_subject": "d", "filter_subject": "foo.bar",
        "ack_policy": "all"}),
    )
    .await?;
    let odir = dir.join("obs").join(oname);
    let (ometafile, ometasum) = (odir.join("meta.inf"), odir.join("meta.sum"));
    ensure!(
        ometafile.exists(),
        "Expected consumer metafile {ometafile:?} to exist"
    );
    ensure!(
        ometasum.exists(),
        "Expected consumer metafile's checksum {ometasum:?} to exist"
    );
    let buf = std::fs::read(&ometafile).context("Error reading consumer metafile")?;
    let mut oconfig: Value = serde_json::from_slice(&buf).context("Error unmarshalling")?;
    let o = oconfig.as_object_mut().context("meta.inf not an object")?;
    o.remove("Created");
    // With the name it was given.
    check_eq!(o.remove("Name"), Some(json!(oname)));
    check_eq!(oconfig, r["config"]);
    let checksum =
        std::fs::read_to_string(&ometasum).context("Error reading consumer metafile checksum")?;
    check_eq!(meta_sum(&format!("{name}/{oname}"), &buf), checksum);
    ctx.observe_json("stream meta", &mconfig);
    ctx.observe_json("consumer meta", &oconfig);
    Ok(())
}

async fn write_read_same_block(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = file_stream(&ctx, "zzz", &["foo"], json!({})).await?;
    for i in 1..=10 {
        js.stored("foo", "Hello World!").await?;
        let m = load(&mut js, "zzz", i)
            .await
            .with_context(|| format!("Error loading {i}"))?;
        check_eq!(data_of(&m), "Hello World!");
    }
    ctx.observe("loaded", "each message right after its store");
    Ok(())
}

async fn multi_block(ctx: Ctx) -> Result<()> {
    // 32000-byte blocks and 6000-byte records: 20 messages in 4 blocks.
    let (mut s, mut js) = file_stream(&ctx, "zzz", &["foo"], json!({"max_bytes": 127_000})).await?;
    let msg = payload_for("foo", 6000);
    for _ in 0..20 {
        js.stored("foo", &msg).await?;
    }
    check_eq!(js.msgs("zzz").await?, 20);
    let mut js = restart(&ctx, &mut s).await?;
    let blks = blocks(&s, "zzz")?;
    ensure!(blks.len() == 4, "Expected 4 blocks, got {blks:?}");
    for i in 1..=20 {
        let m = load(&mut js, "zzz", i)
            .await
            .with_context(|| format!("Error loading {i}"))?;
        check_eq!(data_of(&m), msg);
    }
    ctx.observe("loaded", "20 messages from 4 blocks after a restart");
    Ok(())
}

async fn collapse_dmap(ctx: Ctx) -> Result<()> {
    // 32000-byte blocks and 7900-byte records: 4 to a block, as in the Go
    // test's blocks of 4 * storedMsgSize.
    let (_s, mut js) = file_stream(&ctx, "zzz", &["foo"], json!({"max_bytes": 127_000})).await?;
    let msg = payload_for("foo", 7900);
    for _ in 0..10 {
        js.stored("foo", &msg).await?;
    }
    check_eq!(js.msgs("zzz").await?, 10);
    // The deleted entries the store keeps are the state's interior deletes.
    async fn check_dmap_total(js: &mut Js, total: usize) -> Result<()> {
        let (list, state) = deleted(js, "zzz").await?;
        ensure!(
            list.len() == total,
            "Expecting only {total} entries, got {list:?}"
        );
        check_eq!(state["num_deleted"].as_u64().unwrap_or(0), total as u64);
        Ok(())
    }
    async fn check_first_seq(js: &mut Js, seq: u64) -> Result<()> {
        let state = js.state("zzz").await?;
        check_eq!(num(&state["first_seq"]), seq);
        Ok(())
    }
    // Remove some out of order: gaps.
    remove(&mut js, "zzz", 2, false).await?;
    check_first_seq(&mut js, 1).await?;
    remove(&mut js, "zzz", 4, false).await?;
    check_first_seq(&mut js, 1).await?;
    remove(&mut js, "zzz", 8, false).await?;
    check_first_seq(&mut js, 1).await?;
    check_eq!(js.msgs("zzz").await?, 7);
    check_dmap_total(&mut js, 3).await?;
    // Close the gaps.
    remove(&mut js, "zzz", 1, false).await?;
    check_dmap_total(&mut js, 2).await?;
    check_first_seq(&mut js, 3).await?;
    remove(&mut js, "zzz", 3, false).await?;
    check_dmap_total(&mut js, 1).await?;
    check_first_seq(&mut js, 5).await?;
    remove(&mut js, "zzz", 5, false).await?;
    check_dmap_total(&mut js, 1).await?;
    check_first_seq(&mut js, 6).await?;
    remove(&mut js, "zzz", 7, false).await?;
    check_dmap_total(&mut js, 2).await?;
    remove(&mut js, "zzz", 6, false).await?;
    check_dmap_total(&mut js, 0).await?;
    let (_, state) = deleted(&mut js, "zzz").await?;
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}

// ---------------------------------------------------------------- caches

async fn read_cache(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = file_stream(&ctx, "zzz", &["foo.bar"], json!({})).await?;
    let msg = "\0".repeat(1024);
    fill(&mut js, "zzz", "foo.bar", &msg, 500, 500).await?;
    let state = js.state("zzz").await?;
    check_eq!(
        num(&state["bytes"]),
        500 * stored_size("foo.bar", b"", msg.as_bytes())
    );
    // The cache expires; a load reads the block back.
    tokio::time::sleep(CACHE_EXPIRE).await;
    let m = load(&mut js, "zzz", 1).await?;
    check_eq!(m["data"], json!(b64(msg.as_bytes())));
    tokio::time::sleep(CACHE_EXPIRE).await;
    // Loads while the cache is in use.
    let until = tokio::time::Instant::now() + Duration::from_millis(250);
    while tokio::time::Instant::now() < until {
        load(&mut js, "zzz", 1).await?;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let m = load(&mut js, "zzz", 500).await?;
    check_eq!(m["data"], json!(b64(msg.as_bytes())));
    ctx.observe("loaded", "after the cache expired, and while in use");
    Ok(())
}

async fn partial_cache_expiration(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = file_stream(&ctx, "zzz", &["foo", "bar"], json!({})).await?;
    js.stored("foo", "msg1").await?;
    // The cache expires; then another store, and it expires again.
    tokio::time::sleep(CACHE_EXPIRE).await;
    js.stored("bar", "msg2").await?;
    tokio::time::sleep(CACHE_EXPIRE).await;
    let m = load(&mut js, "zzz", 1)
        .await
        .context("Error loading message 1")?;
    check_eq!(
        (m["subject"].clone(), data_of(&m)),
        (json!("foo"), "msg1".to_string())
    );
    ctx.observe_json("get 1", &scrub(&m));
    Ok(())
}

async fn partial_indexes(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = file_stream(&ctx, "zzz", &["foo"], json!({})).await?;
    for _ in 0..5 {
        js.stored("foo", "ok-1").await?;
    }
    // The cache and its index expire; more stores make a partial cache.
    tokio::time::sleep(CACHE_EXPIRE).await;
    for _ in 0..5 {
        js.stored("foo", "ok-2").await?;
    }
    let m = load(&mut js, "zzz", 8).await.context("Error loading 8")?;
    check_eq!(data_of(&m), "ok-2");
    let m = load(&mut js, "zzz", 2).await.context("Error loading 2")?;
    check_eq!(data_of(&m), "ok-1");
    ctx.observe_json("get 8", &scrub(&m));
    Ok(())
}

// ---------------------------------------------------------------- consumers

/// 30 s in nanoseconds: an ack wait no scenario reaches.
const LONG_ACK_WAIT: u64 = 30_000_000_000;

/// `(delivered, ack_floor, num_ack_pending, num_redelivered)` of a
/// consumer's info, each sequence pair as `(consumer_seq, stream_seq)`.
type CState = ((u64, u64), (u64, u64), u64, u64);

async fn cstate(js: &mut Js, stream: &str, name: &str) -> Result<CState> {
    let i = cinfo(js, stream, name).await?;
    let pair = |v: &Value| (num(&v["consumer_seq"]), num(&v["stream_seq"]));
    Ok((
        pair(&i["delivered"]),
        pair(&i["ack_floor"]),
        num(&i["num_ack_pending"]),
        num(&i["num_redelivered"]),
    ))
}

/// Asks a consumer's state until `ok` holds of it (2 s at most).
async fn cstate_until(
    js: &mut Js,
    stream: &str,
    name: &str,
    ok: impl Fn(&CState) -> bool,
) -> Result<CState> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let st = cstate(js, stream, name).await?;
        if ok(&st) || tokio::time::Instant::now() >= deadline {
            return Ok(st);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Pulls one message of `name`: (stream seq, consumer seq, delivery count).
async fn next(js: &mut Js, stream: &str, name: &str) -> Result<(crate::kit::Msg, (u64, u64, u64))> {
    let m = req_next(js, stream, name, "{\"batch\":1}").await?;
    let s = seqs(&m).with_context(|| format!("not a message: {:?}", m.headers))?;
    Ok((m, s))
}

async fn consumer_state_restart(ctx: Ctx) -> Result<()> {
    let (mut s, mut js) = file_stream(&ctx, "zzz", &["foo"], json!({})).await?;
    // Only as many messages as are delivered: a pull after a nak waits for
    // the redelivery (acks are processed apart from pull requests).
    fill(&mut js, "zzz", "foo", "ok", 100, 100).await?;
    consumer(
        &mut js,
        "zzz",
        json!({"durable_name": "o22", "ack_policy": "explicit", "ack_wait": LONG_ACK_WAIT,
        "max_ack_pending": 1000}),
    )
    .await?;
    // 100 delivered, the first 50 acked.
    js.send(
        "$JS.API.CONSUMER.MSG.NEXT.zzz.o22",
        Some("_INBOX.parity.pull"),
        &[],
        b"{\"batch\":100}",
    )
    .await?;
    let mut msgs = Vec::new();
    for _ in 0..100 {
        msgs.push(must(&mut js, Duration::from_secs(3)).await?);
    }
    for m in &msgs[..50] {
        ack(&mut js, m, "+ACK").await?;
    }
    // 60 and 80 redelivered: twice and once.
    for (sseq, times) in [(60u64, 2), (80, 1)] {
        let mut m = msgs[sseq as usize - 1].clone();
        for _ in 0..times {
            ack(&mut js, &m, "-NAK").await?;
            let (again, (got, _, _)) = next(&mut js, "zzz", "o22").await?;
            check_eq!(got, sseq);
            m = again;
        }
    }
    let before = cstate_until(&mut js, "zzz", "o22", |st| st.1 == (50, 50)).await?;
    check_eq!(before, ((103, 100), (50, 50), 50, 2));
    // The state comes back from the store after a restart.
    let mut js = restart(&ctx, &mut s).await?;
    let after = cstate(&mut js, "zzz", "o22").await?;
    check_eq!(after, before);
    ctx.observe("state", format!("{after:?}"));
    // 60's redelivery count was kept: its next delivery is its fourth.
    let m = &msgs[59];
    ack(&mut js, m, "-NAK").await?;
    let (_, (sseq, _, dc)) = next(&mut js, "zzz", "o22").await?;
    check_eq!((sseq, dc), (60, 4));
    Ok(())
}

async fn consumer_redelivered_lost(ctx: Ctx) -> Result<()> {
    let (mut s, mut js) = file_stream(&ctx, "zzz", &["foo"], json!({})).await?;
    // One message at first: a pull after a nak waits for the redelivery
    // (acks are processed apart from pull requests).
    js.stored("foo", "ok").await?;
    let cfg = json!({"durable_name": "o22", "ack_policy": "explicit", "ack_wait": LONG_ACK_WAIT});
    consumer(&mut js, "zzz", cfg).await?;
    // Message 1 delivered four times (naked three times), then 2.
    let (mut m1, got) = next(&mut js, "zzz", "o22").await?;
    check_eq!(got, (1, 1, 1));
    for dc in 2..=4 {
        ack(&mut js, &m1, "-NAK").await?;
        let (m, got) = next(&mut js, "zzz", "o22").await?;
        check_eq!(got, (1, dc, dc));
        m1 = m;
    }
    js.stored("foo", "ok").await?;
    let (m2, got) = next(&mut js, "zzz", "o22").await?;
    check_eq!(got, (2, 5, 1));
    // Redelivered is recovered after a restart.
    async fn recovered(js: &mut Js) -> Result<CState> {
        let st = cstate(js, "zzz", "o22")
            .await
            .context("Did not recover state")?;
        ensure!(st.3 > 0, "Did not recover redelivered: {st:?}");
        Ok(st)
    }
    let mut js = restart(&ctx, &mut s).await?;
    let st = recovered(&mut js).await?;
    ctx.observe("after first restart", format!("{st:?}"));
    ack(&mut js, &m2, "-NAK").await?;
    let (m2, got) = next(&mut js, "zzz", "o22").await?;
    check_eq!(got, (2, 6, 2));
    js.stored("foo", "ok").await?;
    let (m3, got) = next(&mut js, "zzz", "o22").await?;
    check_eq!(got, (3, 7, 1));
    let mut js = restart(&ctx, &mut s).await?;
    let st = recovered(&mut js).await?;
    ensure!(st.2 == 3, "Did not recover pending correctly: {st:?}");
    ctx.observe("after second restart", format!("{st:?}"));
    ack(&mut js, &m3, "+ACK").await?;
    ack(&mut js, &m2, "+ACK").await?;
    cstate_until(&mut js, "zzz", "o22", |st| st.2 == 1).await?;
    let mut js = restart(&ctx, &mut s).await?;
    recovered(&mut js).await?;
    ack(&mut js, &m1, "+ACK").await?;
    let st = cstate_until(&mut js, "zzz", "o22", |st| st.2 == 0 && st.3 == 0).await?;
    ensure!(st.2 == 0, "Did not clear pending correctly: {st:?}");
    ensure!(st.3 == 0, "Did not clear redelivered correctly: {st:?}");
    ctx.observe("all acked", format!("{st:?}"));
    Ok(())
}

async fn consumer_state_file(ctx: Ctx) -> Result<()> {
    let (s, mut js) = file_stream(&ctx, "zzz", &["foo"], json!({})).await?;
    fill(&mut js, "zzz", "foo", "ok", 5, 5).await?;
    consumer(
        &mut js,
        "zzz",
        json!({"durable_name": "o22", "ack_policy": "explicit", "ack_wait": LONG_ACK_WAIT}),
    )
    .await?;
    let odir = stream_dir(&s, "zzz").join("obs").join("o22");
    let (m, _) = next(&mut js, "zzz", "o22").await?;
    ack(&mut js, &m, "+ACK").await?;
    // The consumer's state is written to its file while it runs.
    let o_dat = odir.join("o.dat");
    eventually(Duration::from_secs(5), || {
        let o_dat = o_dat.clone();
        async move {
            Ok(std::fs::metadata(&o_dat)
                .map(|m| m.len() > 0)
                .unwrap_or(false)
                .then_some(()))
        }
    })
    .await
    .context("o.dat never written")?;
    // Deleted: its folder goes.
    let r = js.api("$JS.API.CONSUMER.DELETE.zzz.o22", "").await?;
    check_eq!(r["success"], json!(true));
    let gone = |p: &Path| !p.exists();
    eventually(Duration::from_secs(2), || {
        let odir = odir.clone();
        async move { Ok(gone(&odir).then_some(())) }
    })
    .await
    .context("consumer folder still there")?;
    ctx.observe("consumer", "state written, folder removed on delete");
    Ok(())
}

/// Publishes the messages `from..=last` on foo.x, those in `picked` on foo.c.
async fn publish_picked(js: &mut Js, from: u64, last: u64, picked: &[u64]) -> Result<()> {
    for seq in from..=last {
        let subject = if picked.contains(&seq) {
            "foo.c"
        } else {
            "foo.x"
        };
        js.publish(subject, "ok").await?;
    }
    js.flush().await
}

async fn consumer_delivered_updates(ctx: Ctx) -> Result<()> {
    let (mut s, mut js) = file_stream(&ctx, "zzz", &["foo.*"], json!({})).await?;
    let picked = [100, 110, 130];
    js.sub("d.o22", "2").await?;
    publish_picked(&mut js, 1, 100, &picked).await?;
    // A push consumer with no acks, on foo.c only.
    consumer(
        &mut js,
        "zzz",
        json!({"durable_name": "o22", "deliver_subject": "d.o22", "ack_policy": "none",
        "filter_subject": "foo.c"}),
    )
    .await?;
    let (mut last, mut published) = (None, 100);
    for (dseq, sseq) in [(1u64, 100u64), (2, 110), (3, 130)] {
        if sseq > published {
            publish_picked(&mut js, published + 1, sseq, &picked).await?;
            published = sseq;
        }
        let m = must(&mut js, Duration::from_secs(3)).await?;
        check_eq!(seqs(&m)?, (sseq, dseq, 1));
        let st = cstate(&mut js, "zzz", "o22").await?;
        check_eq!(st.0, (dseq, sseq));
        check_eq!(st.1, (dseq, sseq));
        check_eq!(st.2, 0);
        last = Some(m);
    }
    let m = last.context("no message")?;
    let st = cstate(&mut js, "zzz", "o22").await?;
    // An ack changes nothing, a nak redelivers nothing.
    ack(&mut js, &m, "+ACK").await?;
    ack(&mut js, &m, "-NAK").await?;
    quiet(&mut js, Duration::from_millis(500)).await?;
    check_eq!(cstate(&mut js, "zzz", "o22").await?, st);
    let mut js = restart(&ctx, &mut s).await?;
    check_eq!(cstate(&mut js, "zzz", "o22").await?.0, st.0);
    check_eq!(cstate(&mut js, "zzz", "o22").await?.1, st.1);
    ctx.observe("state", format!("{st:?}"));
    Ok(())
}

async fn consumer_delivered_and_acks(ctx: Ctx) -> Result<()> {
    let (mut s, mut js) = file_stream(&ctx, "zzz", &["foo.*"], json!({})).await?;
    let picked = [100, 110, 130, 150, 165, 170, 171, 172, 173, 200];
    publish_picked(&mut js, 1, 200, &picked).await?;
    check_eq!(num(&js.state("zzz").await?["last_seq"]), 200);
    consumer(
        &mut js,
        "zzz",
        json!({"durable_name": "o22", "ack_policy": "explicit", "ack_wait": LONG_ACK_WAIT,
        "filter_subject": "foo.c"}),
    )
    .await?;
    let mut pending = 0u64;
    let mut delivered = std::collections::HashMap::new();
    async fn test_delivered(
        js: &mut Js,
        dseq: u64,
        sseq: u64,
        pending: u64,
    ) -> Result<crate::kit::Msg> {
        let (m, got) = next(js, "zzz", "o22").await?;
        check_eq!(got, (sseq, dseq, 1));
        let st = cstate(js, "zzz", "o22").await?;
        check_eq!(st.0, (dseq, sseq));
        check_eq!(st.2, pending);
        Ok(m)
    }
    for (dseq, sseq) in [(1u64, 100u64), (2, 110), (3, 130), (4, 150), (5, 165)] {
        pending += 1;
        let m = test_delivered(&mut js, dseq, sseq, pending).await?;
        delivered.insert(dseq, m);
    }
    // The store's own state is what the consumer reads back when the
    // server starts again (a graceful stop does not write the consumer's
    // view over it).
    let before = cstate(&mut js, "zzz", "o22").await?;
    // Acks of what was not delivered are refused by the store.
    let reply = delivered[&1].reply.clone().context("no reply")?;
    for (dseq, sseq) in [(3u64, 101u64), (1, 1)] {
        let mut t: Vec<String> = reply.split('.').map(String::from).collect();
        t[5] = sseq.to_string();
        t[6] = dseq.to_string();
        js.send(&t.join("."), None, &[], b"+ACK").await?;
    }
    js.flush().await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut js = restart(&ctx, &mut s).await?;
    let st = cstate(&mut js, "zzz", "o22").await?;
    ensure!(
        st == before,
        "Expected error but got none: {before:?} became {st:?}"
    );
    // Each ack, and the floor the store keeps (read after a restart).
    for (dseq, sseq, dflr, sflr) in [
        (1u64, 100u64, 1u64, 100u64),
        (3, 130, 1, 100),
        (2, 110, 3, 149),
        (5, 165, 3, 149),
        (4, 150, 5, 165),
    ] {
        let m = &delivered[&dseq];
        check_eq!(seqs(m)?.0, sseq);
        ack(&mut js, m, "+ACK").await?;
        pending -= 1;
        let st = cstate_until(&mut js, "zzz", "o22", |st| st.2 == pending).await?;
        check_eq!(st.2, pending);
        js = restart(&ctx, &mut s).await?;
        let st = cstate(&mut js, "zzz", "o22").await?;
        check_eq!(st.2, pending);
        check_eq!(st.1, (dflr, sflr));
    }
    for (dseq, sseq) in [(6u64, 170u64), (7, 171), (8, 172), (9, 173), (10, 200)] {
        pending += 1;
        let m = test_delivered(&mut js, dseq, sseq, pending).await?;
        delivered.insert(dseq, m);
    }
    for dseq in [7u64, 8] {
        ack(&mut js, &delivered[&dseq], "+ACK").await?;
        pending -= 1;
        let st = cstate_until(&mut js, "zzz", "o22", |st| st.2 == pending).await?;
        check_eq!(st.2, pending);
        check_eq!(st.1, (5, 165));
    }
    let state = cstate(&mut js, "zzz", "o22").await?;
    // The same state after a restart.
    let mut js = restart(&ctx, &mut s).await?;
    let nstate = cstate(&mut js, "zzz", "o22").await?;
    check_eq!(nstate, state);
    ctx.observe("state", format!("{nstate:?}"));
    // What was pending was 6, 9 and 10.
    for dseq in [6u64, 9, 10] {
        ack(&mut js, &delivered[&dseq], "+ACK").await?;
    }
    let st = cstate_until(&mut js, "zzz", "o22", |st| st.2 == 0).await?;
    check_eq!(st.1, (10, 200));
    Ok(())
}

// ---------------------------------------------------------------- streams

async fn state_deleted(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = file_stream(&ctx, "zzz", &["foo"], json!({})).await?;
    for i in 1..=10 {
        js.stored("foo", &format!("[{i:08}] Hello World!")).await?;
    }
    let (list, _) = deleted(&mut js, "zzz").await?;
    ensure!(list.is_empty(), "Expected deleted to be empty: {list:?}");
    // Remove interior messages.
    let mut expected = Vec::new();
    for seq in (2..10).step_by(2) {
        remove(&mut js, "zzz", seq, false).await?;
        expected.push(seq);
    }
    let (list, state) = deleted(&mut js, "zzz").await?;
    check_eq!(list, expected);
    ctx.observe_json("interior removed", &scrub(&state));
    // Fill the gap at the front by removing 1 and 3.
    remove(&mut js, "zzz", 1, false).await?;
    remove(&mut js, "zzz", 3, false).await?;
    let (list, state) = deleted(&mut js, "zzz").await?;
    check_eq!(list, expected[2..].to_vec());
    check_eq!(num(&state["first_seq"]), 5);
    ctx.observe_json("front removed", &scrub(&state));
    js.purge("zzz", "").await?;
    let (list, state) = deleted(&mut js, "zzz").await?;
    ensure!(
        list.is_empty(),
        "Expected no deleted after purge, got {list:?}"
    );
    ctx.observe_json("purged", &scrub(&state));
    Ok(())
}

async fn delete_dir_not_empty(ctx: Ctx) -> Result<()> {
    let (s, mut js) = file_stream(&ctx, "zzz", &["foo"], json!({})).await?;
    for i in 1..=10 {
        js.stored("foo", &format!("[{i:08}] Hello World!")).await?;
    }
    // Something writes a file into the stream's folder while it is deleted.
    let g = stream_dir(&s, "zzz").join("g");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let writer = std::thread::spawn(move || {
        let _ = ready_tx.send(());
        for _ in 0..100 {
            let _ = std::fs::write(&g, "OK");
        }
    });
    ready_rx.recv()?;
    let r = js.delete_stream("zzz").await?;
    let _ = writer.join();
    check_eq!(
        r,
        json!({"type": "io.nats.jetstream.api.v1.stream_delete_response", "success": true})
    );
    ctx.observe_json("delete", &r);
    Ok(())
}
