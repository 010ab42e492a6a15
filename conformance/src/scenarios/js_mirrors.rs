//! Scenarios for JetStream mirrors and sources on one server, from
//! server/jetstream_test.go: a mirror follows its origin's sequences (after
//! a purge, from a start sequence or time), a stream sources several
//! others (with start sequences and filters, marking each message with a
//! `Nats-Stream-Source` header), the filters a mirror's or a source's
//! consumer may take, a consumer of a mirror across a restart, a work-queue
//! stream that sources another across a restart, and the `mirror` /
//! `sources` objects of stream info.
//!
//! The Go tests poll `js.StreamInfo` (`checkFor`); here
//! `$JS.API.STREAM.INFO` is polled with [`eventually`]. Streams and
//! consumers are made through the API (`js.create` fails on an error
//! response); a restart is a graceful restart on the same store.

use crate::check_eq;
use crate::kit::js::{api_err, header, is_status, js_server, num, Js};
use crate::kit::{Ctx, Op};
use crate::registry::{Need, Scenario};
use anyhow::{bail, ensure, Context, Result};
use futures::FutureExt;
use serde_json::{json, Value};
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    let js = |s: Scenario| s.needs(Need::JetStream);
    vec![
        js(
            Scenario::new("jetstream/mirror-basics", |c| mirror_basics(c).boxed())
                .full("TestJetStreamMirrorBasics"),
        ),
        js(
            Scenario::new("jetstream/source-basics", |c| source_basics(c).boxed())
                .full("TestJetStreamSourceBasics"),
        ),
        js(
            Scenario::new("jetstream/mirror-sources-filtered-consumers", |c| {
                filtered_consumers(c).boxed()
            })
            .full("TestJetStreamMirrorAndSourcesFilteredConsumers"),
        ),
        js(Scenario::new("jetstream/mirrored-consumer-restart", |c| {
            mirrored_consumer_restart(c).boxed()
        })
        .full("TestJetStreamMirroredConsumerFailAfterRestart")),
        js(Scenario::new("jetstream/work-queue-source-restart", |c| {
            work_queue_source_restart(c).boxed()
        })
        .full("TestJetStreamWorkQueueSourceRestart")),
        js(
            Scenario::new("jetstream/mirror-source-info", |c| source_info(c).boxed()).beyond_go(
                "stream.go sourceInfo/mirrorInfo and setupMirrorConsumer/setSourceConsumer: \
                 stream info's mirror and sources objects (name, lag, active, error) and \
                 the retry once a missing origin is made",
            ),
        ),
    ]
}

const WAIT: Duration = Duration::from_secs(5);

/// Polls a stream's state until `ok` holds (`checkFor` of the Go tests).
async fn state_until(
    js: &mut Js,
    name: &str,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> Result<Value> {
    poll_state(js, name, what, WAIT, ok).await
}

/// Polls a stream's state until `ok` holds, for at most `wait`.
async fn poll_state(
    js: &mut Js,
    name: &str,
    what: &str,
    wait: Duration,
    ok: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let st = js.state(name).await?;
        if ok(&st) {
            return Ok(st);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("{name}: expected {what} within {wait:?}, got state: {st}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn send_batch(js: &mut Js, subject: &str, n: usize) -> Result<()> {
    for _ in 0..n {
        js.stored(subject, "OK").await?;
    }
    Ok(())
}

/// The `Nats-Stream-Source` header of message `seq` of `stream`.
async fn source_header(js: &mut Js, stream: &str, seq: u64) -> Result<String> {
    let r = js
        .msg_get(stream, &json!({ "seq": seq }).to_string())
        .await?;
    let hdrs = r["message"]["hdrs"]
        .as_str()
        .with_context(|| format!("Expected a header, got none: {r}"))?;
    let block = String::from_utf8(base64_decode(hdrs)?)?;
    Ok(header(&block, "Nats-Stream-Source")
        .context("Expected a header, got none")?
        .to_string())
}

/// Standard base64 (with padding) decoded.
fn base64_decode(s: &str) -> Result<Vec<u8>> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = A.iter().position(|a| *a == c).context("bad base64")? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

async fn mirror_basics(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    // A mirror may not have subjects.
    let mut cfg =
        json!({"name": "M1", "subjects": ["foo", "bar", "baz"], "mirror": {"name": "S1"}});
    let r = js.try_create(&cfg).await?;
    let (_, _, desc) = api_err(&r);
    ensure!(
        desc.contains("stream mirrors can not"),
        "Expected error, got {r}"
    );
    ctx.observe("mirror-with-subjects", desc);
    cfg.as_object_mut().unwrap().remove("subjects");
    js.create(json!({"name": "S1", "subjects": ["foo", "bar", "baz"]}))
        .await?;
    js.create(cfg).await?;
    tokio::time::sleep(Duration::from_millis(250)).await;
    send_batch(&mut js, "foo", 100).await?;
    state_until(&mut js, "M1", "100 msgs", |st| num(&st["messages"]) == 100).await?;

    // After a purge of the origin, a new mirror starts where it is.
    let r = js.purge("S1", "").await?;
    ensure!(r["success"] == json!(true), "Unexpected purge error: {r}");
    send_batch(&mut js, "bar", 50).await?;
    js.create(json!({"name": "M2", "storage": "file", "mirror": {"name": "S1"}}))
        .await?;
    let st = state_until(&mut js, "M2", "50 msgs, first 101", |st| {
        num(&st["messages"]) == 50 && num(&st["first_seq"]) == 101
    })
    .await?;
    ctx.observe("M2", format!("{} {}", st["messages"], st["first_seq"]));

    // From a start sequence.
    send_batch(&mut js, "baz", 100).await?;
    js.create(json!({"name": "M3", "mirror": {"name": "S1", "opt_start_seq": 150}}))
        .await?;
    let st = state_until(&mut js, "M3", "101 msgs, first 150", |st| {
        num(&st["messages"]) == 101 && num(&st["first_seq"]) == 150
    })
    .await?;
    ctx.observe("M3", format!("{} {}", st["messages"], st["first_seq"]));

    // From a start time (two hours ago: everything left).
    js.create(json!({"name": "M4", "mirror": {"name": "S1",
        "opt_start_time": "2000-01-01T00:00:00Z"}}))
        .await?;
    let st = state_until(&mut js, "M4", "150 msgs, first 101", |st| {
        num(&st["messages"]) == 150 && num(&st["first_seq"]) == 101
    })
    .await?;
    ctx.observe("M4", format!("{} {}", st["messages"], st["first_seq"]));
    Ok(())
}

async fn source_basics(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for name in ["foo", "bar", "baz"] {
        js.create(json!({ "name": name })).await?;
    }
    send_batch(&mut js, "foo", 10).await?;
    send_batch(&mut js, "bar", 15).await?;
    send_batch(&mut js, "baz", 25).await?;
    js.create(json!({"name": "MS", "storage": "file",
        "sources": [{"name": "foo"}, {"name": "bar"}, {"name": "baz"}]}))
        .await?;
    state_until(&mut js, "MS", "50 msgs", |st| num(&st["messages"]) == 50).await?;

    // Sources may change: keep foo and bar, drop baz, add dlc.
    let r = js
        .update(&json!({"name": "MS", "storage": "file",
            "sources": [{"name": "foo"}, {"name": "bar"}, {"name": "dlc"}]}))
        .await?;
    ensure!(r.get("error").is_none(), "Unexpected error: {r}");

    // Start sequences and filters.
    js.create(json!({"name": "TEST", "subjects": ["dlc", "rip"]}))
        .await?;
    send_batch(&mut js, "dlc", 20).await?;
    send_batch(&mut js, "rip", 20).await?;
    send_batch(&mut js, "dlc", 10).await?;
    js.create(json!({"name": "FMS", "storage": "file",
        "sources": [{"name": "TEST", "opt_start_seq": 26}]}))
        .await?;
    state_until(&mut js, "FMS", "25 msgs", |st| num(&st["messages"]) == 25).await?;
    let h = source_header(&mut js, "FMS", 1).await?;
    check_eq!(h, "TEST 26");
    ctx.observe("FMS-1", h);

    js.create(json!({"name": "FMS2", "storage": "file",
        "sources": [{"name": "TEST", "opt_start_seq": 11, "filter_subject": "dlc"}]}))
        .await?;
    state_until(&mut js, "FMS2", "20 msgs", |st| num(&st["messages"]) == 20).await?;
    let h = source_header(&mut js, "FMS2", 1).await?;
    check_eq!(h, "TEST 11");
    ctx.observe("FMS2-1", h);
    Ok(())
}

async fn filtered_consumers(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo", "bar", "baz.*"]}))
        .await?;
    js.create(json!({"name": "M", "mirror": {"name": "TEST"}}))
        .await?;
    js.sub("_INBOX.dsubj", "D").await?;
    js.flush().await?;
    let try_add = |stream: &'static str, fs: &'static str| {
        let body = json!({"stream_name": stream,
            "config": {"deliver_subject": "_INBOX.dsubj", "filter_subject": fs}});
        (
            format!("$JS.API.CONSUMER.CREATE.{stream}"),
            body.to_string(),
        )
    };
    let mut results = Vec::new();
    let cases: &[(&str, &str, bool)] = &[
        ("M", "foo", true),
        ("M", "bar", true),
        ("M", "baz.foo", true),
        ("M", "baz", false),
        ("M", "baz.1.2", false),
        ("M", "apple", false),
    ];
    let check = |results: &mut Vec<String>, r: &Value, stream: &str, fs: &str, ok: bool| {
        let failed = r.get("error").is_some();
        results.push(format!("{stream} {fs}: {}", api_err(r).2));
        if ok && failed {
            bail!("Unexpected error: {r}");
        }
        if !ok && !failed {
            bail!("Expected error but got none ({stream} {fs})");
        }
        Ok(())
    };
    for &(stream, fs, ok) in cases {
        let (subj, body) = try_add(stream, fs);
        let r = js.api(&subj, &body).await?;
        check(&mut results, &r, stream, fs, ok)?;
    }
    js.create(json!({"name": "O1", "subjects": ["foo.*"]}))
        .await?;
    js.create(json!({"name": "O2", "subjects": ["bar.*"]}))
        .await?;
    js.create(json!({"name": "S", "sources": [{"name": "O1"}, {"name": "O2"}]}))
        .await?;
    let cases: &[(&str, &str, bool)] = &[
        ("S", "foo.1", true),
        ("S", "bar.1", true),
        ("S", "baz", false),
        ("S", "baz.1", false),
        ("S", "apple", false),
    ];
    for &(stream, fs, ok) in cases {
        let (subj, body) = try_add(stream, fs);
        let r = js.api(&subj, &body).await?;
        check(&mut results, &r, stream, fs, ok)?;
    }
    // A mirror of a mirror takes the first origin's subjects.
    js.create(json!({"name": "M2", "mirror": {"name": "M"}}))
        .await?;
    let cases: &[(&str, &str, bool)] = &[
        ("M2", "foo", true),
        ("M2", "bar", true),
        ("M2", "baz.foo", true),
        ("M2", "baz", false),
        ("M2", "baz.1.2", false),
        ("M2", "apple", false),
    ];
    for &(stream, fs, ok) in cases {
        let (subj, body) = try_add(stream, fs);
        let r = js.api(&subj, &body).await?;
        check(&mut results, &r, stream, fs, ok)?;
    }
    ctx.observe("results", results.join("\n"));
    Ok(())
}

async fn mirrored_consumer_restart(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "S1", "storage": "file", "subjects": ["foo", "bar", "baz"]}))
        .await
        .context("create failed")?;
    js.create(json!({"name": "M1", "storage": "file", "mirror": {"name": "S1"}}))
        .await
        .context("create failed")?;
    let r = js
        .api(
            "$JS.API.CONSUMER.DURABLE.CREATE.M1.C1",
            &json!({"stream_name": "M1", "config": {"durable_name": "C1",
                "filter_subject": ">", "ack_policy": "explicit"}})
            .to_string(),
        )
        .await?;
    ensure!(r.get("error").is_none(), "consumer create failed: {r}");
    drop(js);
    s.restart().await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.info("M1")
        .await
        .context("M1 did not exist after start")?;
    let r = js.api("$JS.API.CONSUMER.INFO.M1.C1", "").await?;
    ensure!(
        r.get("error").is_none(),
        "C1 did not exist after start: {r}"
    );
    ctx.observe(
        "C1",
        format!("{} {}", r["name"], r["config"]["filter_subject"]),
    );
    Ok(())
}

/// Pulls up to `n` messages of `stream > consumer` on `inbox` (sid `P`)
/// within `wait`, acking each (`AckSync`).
pub(super) async fn fetch_ack(
    js: &mut Js,
    stream: &str,
    consumer: &str,
    n: usize,
    wait: Duration,
) -> Result<usize> {
    let body = json!({"batch": n, "expires": wait.as_nanos() as u64}).to_string();
    js.send(
        &format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"),
        Some("_INBOX.pull"),
        &[],
        body.as_bytes(),
    )
    .await?;
    let deadline = tokio::time::Instant::now() + wait + Duration::from_millis(500);
    let mut got = Vec::new();
    while got.len() < n {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let op = match tokio::time::timeout(left, js.conn().read_op()).await {
            Err(_) => break,
            Ok(op) => op?,
        };
        match op {
            Op::Msg(m) if m.sid == "P" && is_status(&m) => {
                // A status (408 request expired, 404 no messages).
                break;
            }
            Op::Msg(m) if m.sid == "P" => got.push(m),
            Op::Ping => js.conn().send("PONG\r\n").await?,
            _ => {}
        }
    }
    for m in &got {
        let reply = m.reply.clone().context("delivered message without reply")?;
        let r = js.request_msg(&reply, &[], b"").await?;
        ensure!(r.payload.is_empty(), "ack: {:?}", r.payload);
    }
    Ok(got.len())
}

async fn work_queue_source_restart(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let sent = 10;
    js.create(json!({"name": "FOO", "subjects": ["foo"]}))
        .await?;
    send_batch(&mut js, "foo", sent).await?;
    js.create(
        json!({"name": "TEST", "retention": "workqueue", "storage": "file",
        "sources": [{"name": "FOO"}]}),
    )
    .await?;
    let r = js
        .api(
            "$JS.API.CONSUMER.DURABLE.CREATE.TEST.dur",
            &json!({"stream_name": "TEST", "config": {"durable_name": "dur",
                "ack_policy": "explicit"}})
            .to_string(),
        )
        .await?;
    ensure!(r.get("error").is_none(), "{r}");
    // The sourced messages arrive (the Go test relies on their being there
    // by the time of the consumer's info).
    state_until(&mut js, "TEST", "10 msgs", |st| num(&st["messages"]) == 10).await?;
    let ci = js.api("$JS.API.CONSUMER.INFO.TEST.dur", "").await?;
    check_eq!(num(&ci["num_pending"]), sent as u64);
    js.sub("_INBOX.pull", "P").await?;
    let got = fetch_ack(&mut js, "TEST", "dur", sent, Duration::from_secs(2)).await?;
    check_eq!(got, sent);
    let ci = js.api("$JS.API.CONSUMER.INFO.TEST.dur", "").await?;
    check_eq!(num(&ci["num_pending"]), 0);
    state_until(&mut js, "TEST", "0 msgs", |st| num(&st["messages"]) == 0).await?;

    drop(js);
    s.restart().await?;
    let mut js = Js::connect(&ctx, &s).await?;
    // Give the source time to (not) bring the messages back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let st = js.state("TEST").await?;
    ensure!(
        num(&st["messages"]) == 0,
        "Expected 0 messages on restart, got {}",
        st["messages"]
    );
    let ci = js.api("$JS.API.CONSUMER.INFO.TEST.dur", "").await?;
    check_eq!(num(&ci["num_pending"]), 0);
    js.sub("_INBOX.pull", "P").await?;
    let got = fetch_ack(&mut js, "TEST", "dur", 1, Duration::from_secs(1)).await?;
    check_eq!(got, 0);
    Ok(())
}

/// Stream info's `mirror` / `sources` object with `active` masked.
fn source_obj(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(a) = v.get_mut("active") {
        let n = a.as_i64().unwrap_or(0);
        *a = json!(if n < 0 { "never" } else { "recent" });
    }
    v
}

async fn source_info(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "O", "subjects": ["o.>"]})).await?;
    send_batch(&mut js, "o.1", 3).await?;
    let r = js
        .create(json!({"name": "M", "mirror": {"name": "O"}}))
        .await?;
    // Go's create answer has no mirror info; stream info has.
    ensure!(r.get("mirror").is_none(), "create with mirror info: {r}");
    state_until(&mut js, "M", "3 msgs", |st| num(&st["messages"]) == 3).await?;
    let info = js.info("M").await?;
    ctx.observe_json("mirror", &source_obj(&info["mirror"]));
    ensure!(info.get("sources").is_none(), "{info}");

    // A source whose origin is missing says so, and follows it once made.
    js.create(json!({"name": "S", "sources": [{"name": "O"}, {"name": "LATE"}]}))
        .await?;
    state_until(&mut js, "S", "3 msgs", |st| num(&st["messages"]) == 3).await?;
    let late_of = |info: &Value| {
        info["sources"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == "LATE").cloned())
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    let info = loop {
        let info = js.info("S").await?;
        if late_of(&info).is_some_and(|l| l.get("error").is_some()) {
            break info;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "no error for the missing origin: {info}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut objs: Vec<Value> = info["sources"]
        .as_array()
        .context("sources")?
        .iter()
        .map(source_obj)
        .collect();
    objs.sort_by_key(|v| v["name"].as_str().unwrap_or("").to_string());
    ctx.observe_json("sources-missing", &json!(objs));

    js.create(json!({"name": "LATE", "subjects": ["late"]}))
        .await?;
    send_batch(&mut js, "late", 2).await?;
    // Go retries every 2 s or so.
    let st = poll_state(&mut js, "S", "5 msgs", Duration::from_secs(8), |st| {
        num(&st["messages"]) == 5
    })
    .await
    .context("the late origin was not followed")?;
    check_eq!(num(&st["last_seq"]), 5);
    let h = source_header(&mut js, "S", 5).await?;
    check_eq!(h, "LATE 2");
    let info = js.info("S").await?;
    let late = late_of(&info).context("no LATE source")?;
    ctx.observe_json("late", &source_obj(&late));
    Ok(())
}
