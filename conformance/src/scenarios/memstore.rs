//! Scenarios for the memory store, from server/memstore_test.go, observed
//! through streams with `storage: memory` on one server.
//!
//! The Go tests drive a `memStore` in-process (`StoreMsg`, `LoadMsg`,
//! `RemoveMsg`, `EraseMsg`, `Purge`, `PurgeEx`, `Compact`, `UpdateConfig`,
//! `State`). Here the same operations go through the JetStream API of a
//! memory stream: a publish is `StoreMsg` (its PubAck gives the sequence),
//! `$JS.API.STREAM.MSG.GET` is `LoadMsg` (subject, sequence, headers, data,
//! time), `$JS.API.STREAM.MSG.DELETE` is `RemoveMsg` (`no_erase: true`) or
//! `EraseMsg`, `$JS.API.STREAM.PURGE` is `Purge`, `Compact` (`seq`) and
//! `PurgeEx` (`filter`, `seq`, `keep`), a stream update is `UpdateConfig`,
//! and `$JS.API.STREAM.INFO` (with `deleted_details` and
//! `subjects_filter`) is `State` and `SubjectsState`. A stored message counts
//! `len(subject) + len(headers) + len(data) + 16` bytes
//! (`memStoreMsgSize`), which `state.bytes` shows. TestMemStoreStreamTruncate
//! is not here: `Truncate` is only reached by a clustered stream catching up.

use crate::check_eq;
use crate::kit::js::{api_err, b64, header_block, js_server, num, scrub, time_of, Js};
use crate::kit::Ctx;
use crate::registry::{Need, Scenario};
use anyhow::{ensure, Result};
use futures::FutureExt;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

pub fn scenarios() -> Vec<Scenario> {
    let js = |s: Scenario| s.needs(Need::JetStream);
    vec![
        js(Scenario::new("memstore/basics", |c| basics(c).boxed()).full("TestMemStoreBasics")),
        js(
            Scenario::new("memstore/msg-limit", |c| msg_limit(c).boxed())
                .full("TestMemStoreMsgLimit"),
        ),
        js(
            Scenario::new("memstore/bytes-limit", |c| bytes_limit(c).boxed())
                .full("TestMemStoreBytesLimit"),
        ),
        js(
            Scenario::new("memstore/age-limit", |c| age_limit(c).boxed())
                .full("TestMemStoreAgeLimit"),
        ),
        js(
            Scenario::new("memstore/timestamps", |c| timestamps(c).boxed())
                .full("TestMemStoreTimeStamps"),
        ),
        js(Scenario::new("memstore/purge", |c| purge(c).boxed()).full("TestMemStorePurge")),
        js(Scenario::new("memstore/compact", |c| compact(c).boxed()).full("TestMemStoreCompact")),
        js(
            Scenario::new("memstore/erase-msg", |c| erase_msg(c).boxed())
                .full("TestMemStoreEraseMsg"),
        ),
        js(
            Scenario::new("memstore/msg-headers", |c| msg_headers(c).boxed())
                .full("TestMemStoreMsgHeaders"),
        ),
        js(
            Scenario::new("memstore/state-deleted", |c| state_deleted(c).boxed())
                .full("TestMemStoreStreamStateDeleted"),
        ),
        js(Scenario::new("memstore/purge-ex-with-subject", |c| {
            purge_ex_subject(c).boxed()
        })
        .full("TestMemStorePurgeExWithSubject")),
        js(Scenario::new("memstore/update-max-msgs-per-subject", |c| {
            update_max_per_subject(c).boxed()
        })
        .full("TestMemStoreUpdateMaxMsgsPerSubject")),
    ]
}

/// A server with JetStream, a connection, and a memory stream `foo` on
/// subject `foo` with the extra config fields of `cfg`.
async fn memory_stream(ctx: &Ctx, cfg: Value) -> Result<(crate::kit::Server, Js)> {
    let s = js_server(ctx).await?;
    let mut js = Js::connect(ctx, &s).await?;
    let mut full = json!({"name": "foo", "subjects": ["foo"], "storage": "memory"});
    for (k, v) in cfg.as_object().into_iter().flatten() {
        full[k] = v.clone();
    }
    let r = js.create(full).await?;
    ctx.observe_json("create", &scrub(&r));
    Ok((s, js))
}

/// `memStoreMsgSize`: what a stored message counts in `state.bytes`.
fn stored_size(subject: &str, hdr: &[u8], msg: &[u8]) -> u64 {
    (subject.len() + hdr.len() + msg.len() + 16) as u64
}

async fn basics(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = memory_stream(&ctx, json!({})).await?;
    let (subj, msg) = ("foo", "Hello World");
    let before = SystemTime::now();
    let seq = js.stored(subj, msg).await?;
    let after = SystemTime::now();
    check_eq!(seq, 1);
    let state = js.state("foo").await?;
    check_eq!(num(&state["messages"]), 1);
    check_eq!(num(&state["bytes"]), stored_size(subj, b"", msg.as_bytes()));
    ctx.observe_json("state", &scrub(&state));
    let r = js.msg_get("foo", "{\"seq\":1}").await?;
    let m = &r["message"];
    check_eq!(m["subject"], json!(subj));
    check_eq!(m["data"], json!(b64(msg.as_bytes())));
    // The timestamp is the time of the store.
    let ts = time_of(&m["time"])?;
    ensure!(
        ts >= before && ts <= after,
        "Expected timestamp to be current, got {}",
        m["time"]
    );
    ctx.observe_json("get 1", &scrub(&r));
    Ok(())
}

async fn msg_limit(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = memory_stream(&ctx, json!({"max_msgs": 10})).await?;
    for _ in 0..10 {
        js.stored("foo", "Hello World").await?;
    }
    check_eq!(js.msgs("foo").await?, 10);
    // The 11th is stored and the first dropped.
    let seq = js.stored("foo", "Hello World").await?;
    check_eq!(seq, 11);
    let state = js.state("foo").await?;
    check_eq!(num(&state["messages"]), 10);
    check_eq!(num(&state["last_seq"]), 11);
    check_eq!(num(&state["first_seq"]), 2);
    ctx.observe_json("state", &scrub(&state));
    // Sequence 1 can not be loaded.
    let r = js.msg_get("foo", "{\"seq\":1}").await?;
    check_eq!(api_err(&r), (404, 10037, "no message found".to_string()));
    ctx.observe_json("get 1", &r);
    Ok(())
}

async fn bytes_limit(ctx: Ctx) -> Result<()> {
    let msg = "\0".repeat(512);
    let stored_msg_size = stored_size("foo", b"", msg.as_bytes());
    let to_store = 1024u64;
    let max_bytes = stored_msg_size * to_store;
    let (_s, mut js) = memory_stream(&ctx, json!({"max_bytes": max_bytes})).await?;
    for _ in 0..to_store {
        js.publish("foo", &msg).await?;
    }
    js.flush().await?;
    let state = js.state("foo").await?;
    check_eq!(num(&state["messages"]), to_store);
    check_eq!(num(&state["bytes"]), stored_msg_size * to_store);
    // Ten more: the bytes limit holds by dropping the oldest.
    for _ in 0..10 {
        js.stored("foo", &msg).await?;
    }
    let state = js.state("foo").await?;
    check_eq!(num(&state["messages"]), to_store);
    check_eq!(num(&state["bytes"]), stored_msg_size * to_store);
    check_eq!(num(&state["first_seq"]), 11);
    check_eq!(num(&state["last_seq"]), to_store + 10);
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}

async fn age_limit(ctx: Ctx) -> Result<()> {
    // 100ms is the least max_age a stream takes; 250ms leaves room to count.
    let max_age = Duration::from_millis(250);
    let (_s, mut js) = memory_stream(&ctx, json!({"max_age": max_age.as_nanos() as u64})).await?;
    let to_store = 100;
    for round in 1..=2 {
        for _ in 0..to_store {
            js.publish("foo", "Hello World").await?;
        }
        js.flush().await?;
        let state = js.state("foo").await?;
        check_eq!(num(&state["messages"]), to_store);
        // Let them expire: no messages, no bytes.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        let state = loop {
            let state = js.state("foo").await?;
            if num(&state["messages"]) == 0 && num(&state["bytes"]) == 0 {
                break state;
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "Expected no msgs and no bytes, got {state}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        ctx.observe_json(&format!("round {round}: expired"), &scrub(&state));
    }
    Ok(())
}

async fn timestamps(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = memory_stream(&ctx, json!({})).await?;
    let mut last = SystemTime::now();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_micros(5)).await;
        js.stored("foo", "Hello World").await?;
    }
    for seq in 1..=10 {
        let r = js.msg_get("foo", &format!("{{\"seq\":{seq}}}")).await?;
        let ts = time_of(&r["message"]["time"])?;
        // Each later than the one before.
        ensure!(
            ts > last,
            "Expected different timestamps, got {}",
            r["message"]["time"]
        );
        last = ts;
    }
    ctx.observe("loaded", "10 increasing timestamps");
    let state = js.state("foo").await?;
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}

async fn purge(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = memory_stream(&ctx, json!({})).await?;
    for _ in 0..10 {
        js.stored("foo", "Hello World").await?;
    }
    check_eq!(js.msgs("foo").await?, 10);
    let r = js.purge("foo", "").await?;
    check_eq!(
        r,
        json!({"type": "io.nats.jetstream.api.v1.stream_purge_response",
        "success": true, "purged": 10})
    );
    let state = js.state("foo").await?;
    check_eq!(num(&state["messages"]), 0);
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}

async fn compact(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = memory_stream(&ctx, json!({})).await?;
    for _ in 0..10 {
        js.stored("foo", "Hello World").await?;
    }
    check_eq!(js.msgs("foo").await?, 10);
    // Purge up to (not including) 6.
    let r = js.purge("foo", "{\"seq\":6}").await?;
    check_eq!(api_err(&r).0, 0);
    check_eq!(num(&r["purged"]), 5);
    let state = js.state("foo").await?;
    check_eq!(num(&state["messages"]), 5);
    check_eq!(num(&state["first_seq"]), 6);
    ctx.observe_json("after seq 6", &scrub(&state));
    // Past the last sequence: all purged and first moves there.
    let r = js.purge("foo", "{\"seq\":100}").await?;
    check_eq!(api_err(&r).0, 0);
    check_eq!(num(&r["purged"]), 5);
    let state = js.state("foo").await?;
    check_eq!(num(&state["first_seq"]), 100);
    ctx.observe_json("after seq 100", &scrub(&state));
    Ok(())
}

async fn erase_msg(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = memory_stream(&ctx, json!({})).await?;
    let msg = "Hello World";
    js.stored("foo", msg).await?;
    let r = js.msg_get("foo", "{\"seq\":1}").await?;
    check_eq!(r["message"]["data"], json!(b64(msg.as_bytes())));
    // Erase (no no_erase): removed.
    let r = js.msg_delete("foo", "{\"seq\":1}").await?;
    check_eq!(
        r,
        json!({"type": "io.nats.jetstream.api.v1.stream_msg_delete_response",
        "success": true})
    );
    let state = js.state("foo").await?;
    check_eq!(num(&state["messages"]), 0);
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}

async fn msg_headers(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = memory_stream(&ctx, json!({})).await?;
    let (subj, msg) = ("foo", "Hello World");
    let hdr = header_block(&[("name", "derek")]);
    js.stored_h(subj, &[("name", "derek")], msg.as_bytes())
        .await?;
    let state = js.state("foo").await?;
    check_eq!(
        num(&state["bytes"]),
        (subj.len() + hdr.len() + msg.len() + 16) as u64
    );
    let r = js.msg_get("foo", "{\"seq\":1}").await?;
    check_eq!(r["message"]["data"], json!(b64(msg.as_bytes())));
    check_eq!(r["message"]["hdrs"], json!(b64(hdr.as_bytes())));
    ctx.observe_json("get 1", &scrub(&r));
    let r = js.msg_delete("foo", "{\"seq\":1}").await?;
    check_eq!(r["success"], json!(true));
    Ok(())
}

/// `state.deleted` of a stream's info with `deleted_details` (empty when
/// the info has none).
async fn deleted(js: &mut Js) -> Result<(Vec<u64>, Value)> {
    let info = js.info_with("foo", "{\"deleted_details\":true}").await?;
    let state = info["state"].clone();
    let list = state["deleted"]
        .as_array()
        .map(|a| a.iter().map(num).collect())
        .unwrap_or_default();
    Ok((list, state))
}

async fn state_deleted(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = memory_stream(&ctx, json!({})).await?;
    for i in 1..=10 {
        js.stored("foo", &format!("[{i:08}] Hello World!")).await?;
    }
    let (list, _) = deleted(&mut js).await?;
    ensure!(list.is_empty(), "Expected deleted to be empty: {list:?}");
    // Remove interior messages.
    let mut expected = Vec::new();
    for seq in (2..10).step_by(2) {
        let r = js
            .msg_delete("foo", &format!("{{\"seq\":{seq},\"no_erase\":true}}"))
            .await?;
        check_eq!(r["success"], json!(true));
        expected.push(seq);
    }
    let (list, state) = deleted(&mut js).await?;
    check_eq!(list, expected);
    ctx.observe_json("interior removed", &scrub(&state));
    // Fill the gap at the front by removing 1 and 3.
    for seq in [1, 3] {
        js.msg_delete("foo", &format!("{{\"seq\":{seq},\"no_erase\":true}}"))
            .await?;
    }
    let (list, state) = deleted(&mut js).await?;
    check_eq!(list, expected[2..].to_vec());
    check_eq!(num(&state["first_seq"]), 5);
    ctx.observe_json("front removed", &scrub(&state));
    js.purge("foo", "").await?;
    let (list, state) = deleted(&mut js).await?;
    ensure!(
        list.is_empty(),
        "Expected no deleted after purge, got {list:?}"
    );
    ctx.observe_json("purged", &scrub(&state));
    Ok(())
}

async fn purge_ex_subject(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = memory_stream(&ctx, json!({})).await?;
    for _ in 0..100 {
        js.stored("foo", "").await?;
    }
    // Filter foo from sequence 1: everything.
    let r = js.purge("foo", "{\"filter\":\"foo\",\"seq\":1}").await?;
    check_eq!(api_err(&r).0, 0);
    ctx.observe_json("purge", &r);
    check_eq!(js.msgs("foo").await?, 0);
    Ok(())
}

async fn update_max_per_subject(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let mut cfg = json!({"name": "TEST", "storage": "memory", "subjects": ["foo"], "max_msgs_per_subject": 10});
    js.create(cfg.clone()).await?;
    // Raised on an update.
    cfg["max_msgs_per_subject"] = json!(50);
    let r = js.update(&cfg).await?;
    check_eq!(api_err(&r).0, 0);
    check_eq!(r["config"]["max_msgs_per_subject"], json!(50));
    let num_stored = 22;
    for _ in 0..num_stored {
        js.stored("foo", "").await?;
    }
    let subjects = |info: &Value| num(&info["state"]["subjects"]["foo"]);
    let info = js
        .info_with("TEST", "{\"subjects_filter\":\"foo\"}")
        .await?;
    check_eq!(subjects(&info), num_stored);
    // Lowered: the subject is cut down to the new limit.
    cfg["max_msgs_per_subject"] = json!(10);
    let r = js.update(&cfg).await?;
    check_eq!(api_err(&r).0, 0);
    let info = js
        .info_with("TEST", "{\"subjects_filter\":\"foo\"}")
        .await?;
    check_eq!(subjects(&info), 10);
    ctx.observe_json("state", &scrub(&info["state"]));
    Ok(())
}
