//! The last JetStream consumer scenarios on one server, from
//! server/jetstream_test.go: acks on interest streams, redelivery after a
//! consumer update, max_deliver updates and across a restart, ack sampling,
//! pull heartbeats, max_bytes and FIFO order, flow control, the extended
//! create subject with its filter, cross-account delivery interest, and
//! (beyond Go's tests) the shapes of the consumer API: paging, errors,
//! defaults and advisories.
//!
//! Written like `js_delivery` (whose helpers it uses): consumers are made
//! through `$JS.API.CONSUMER.*`, pulls are publishes on
//! `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` with a reply subject the
//! raw client subscribes, and every delivered message and status is read
//! byte for byte. Where a Go test sets something in-process (a consumer's
//! flow-control window, its ack floor, the stream's store) the scenario
//! reaches the same state through the protocol, or says it cannot.

use super::js_delivery::{
    ack, cinfo, consumer, delete_consumer, ms, must, pull, quiet, recv, recv_n, req_next, seqs,
    show, status, MS, SEC,
};
use crate::check_eq;
use crate::kit::js::{api_err, api_error, headers_of, js_server, js_server_with, num};
use crate::kit::js::{scrub, Js, Reply, STORAGES};
use crate::kit::{Ctx, Msg};
use crate::registry::{Need, Scenario};
use anyhow::{bail, ensure, Context, Result};
use futures::FutureExt;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::time::Instant;

const ISSUE: &str = "issue 15: the consumer API's shapes (paging, errors, defaults, advisories)";

pub fn scenarios() -> Vec<Scenario> {
    let js = |s: Scenario| s.needs(Need::JetStream);
    vec![
        js(Scenario::new("jetstream/more-ack-explicit-removal", |c| {
            ack_explicit_removal(c).boxed()
        })
        .full("TestJetStreamAckExplicitMsgRemoval")),
        js(Scenario::new("jetstream/more-update-redelivery", |c| {
            update_redelivery(c).boxed()
        })
        .full("TestJetStreamConsumerUpdateRedelivery")),
        js(Scenario::new("jetstream/more-pending-redeliveries", |c| {
            pending_with_redeliveries(c).boxed()
        })
        .full("TestJetStreamConsumerPendingCountWithRedeliveries")),
        js(Scenario::new("jetstream/more-pull-heartbeats", |c| {
            pull_heartbeats(c).boxed()
        })
        .full("TestJetStreamPullConsumerHeartBeats")),
        js(
            Scenario::new("jetstream/more-ack-sampling", |c| ack_sampling(c).boxed())
                .full("TestJetStreamConsumerAckSampling"),
        ),
        js(Scenario::new("jetstream/more-ack-sampling-update", |c| {
            ack_sampling_update(c).boxed()
        })
        .full("TestJetStreamConsumerAckSamplingSpecifiedUsingUpdateConsumer")),
        js(Scenario::new("jetstream/more-max-deliver-update", |c| {
            max_deliver_update(c).boxed()
        })
        .full("TestJetStreamConsumerMaxDeliverUpdate")),
        js(Scenario::new("jetstream/more-backoff-timing", |c| {
            backoff_timing(c).boxed()
        })
        .partial("TestJetStreamBackOffCheckPending")),
        js(Scenario::new("jetstream/more-pull-max-bytes", |c| {
            pull_max_bytes(c).boxed()
        })
        .full("TestJetStreamPullMaxBytes")),
        js(
            Scenario::new("jetstream/more-pull-fifo", |c| pull_fifo(c).boxed())
                .full("TestJetStreamConsumerPullConsumerFIFO"),
        ),
        js(Scenario::new("jetstream/more-pull-one-shot-max-ack", |c| {
            one_shot_max_ack(c).boxed()
        })
        .full("TestJetStreamConsumerPullConsumerOneShotOnMaxAckLimit")),
        js(
            Scenario::new("jetstream/more-deliver-new-max-deliver-restart", |c| {
                deliver_new_restart(c).boxed()
            })
            .full("TestJetStreamConsumerDeliverNewMaxRedeliveriesAndServerRestart"),
        ),
        js(
            Scenario::new("jetstream/more-pull-no-ack", |c| pull_no_ack(c).boxed())
                .full("TestJetStreamPullConsumerNoAck"),
        ),
        js(
            Scenario::new("jetstream/more-last-per-subject-redeliveries", |c| {
                last_per_subject_redeliveries(c).boxed()
            })
            .full("TestJetStreamPullConsumerLastPerSubjectRedeliveries"),
        ),
        js(Scenario::new("jetstream/more-pull-timeout-headers", |c| {
            timeout_headers(c).boxed()
        })
        .full("TestJetStreamPullConsumersTimeoutHeaders")),
        js(
            Scenario::new("jetstream/more-pull-expires", |c| pull_expires(c).boxed())
                .partial("TestJetStreamNextReqFromMsg"),
        ),
        js(Scenario::new("jetstream/more-push-flow-control", |c| {
            push_flow_control(c).boxed()
        })
        .full("TestJetStreamPushConsumerFlowControl")),
        js(Scenario::new("jetstream/more-heartbeats-no-interest", |c| {
            heartbeats_no_interest(c).boxed()
        })
        .full("TestJetStreamPushConsumerIdleHeartbeatsWithNoInterest")),
        js(Scenario::new("jetstream/more-flow-control-stall", |c| {
            flow_control_stall(c).boxed()
        })
        .full("TestJetStreamFlowControlStall")),
        js(
            Scenario::new("jetstream/more-cross-account-deliver-interest", |c| {
                cross_account_interest(c).boxed()
            })
            .full("TestJetStreamCrossAccountsDeliverSubjectInterest"),
        ),
        js(
            Scenario::new("jetstream/more-filtered-create-subject", |c| {
                filtered_create_subject(c).boxed()
            })
            .full("TestJetStreamSubjectBasedFilteredConsumers"),
        ),
        js(
            Scenario::new("jetstream/more-pending-below-first-seq", |c| {
                pending_below_first(c).boxed()
            })
            .partial("TestJetStreamConsumerPendingLowerThanStreamFirstSeq"),
        ),
        js(Scenario::new("jetstream/more-cleanup-interest", |c| {
            cleanup_interest(c).boxed()
        })
        .partial("TestJetStreamConsumerCleanupWithRetentionPolicy")),
        js(Scenario::new("jetstream/more-bad-num-pending", |c| {
            bad_num_pending(c).boxed()
        })
        .full("TestJetStreamConsumerBadNumPending")),
        // Beyond Go's tests: the consumer API's shapes (issue 15).
        js(Scenario::new("jetstream/consumer-api-paging", |c| paging(c).boxed()).beyond_go(ISSUE)),
        js(
            Scenario::new("jetstream/consumer-api-info-delete-errors", |c| {
                info_delete_errors(c).boxed()
            })
            .beyond_go(ISSUE),
        ),
        js(
            Scenario::new("jetstream/consumer-api-filter-mismatch", |c| {
                filter_mismatch(c).boxed()
            })
            .beyond_go(ISSUE),
        ),
        js(
            Scenario::new("jetstream/consumer-api-stepdown", |c| stepdown(c).boxed())
                .beyond_go(ISSUE),
        ),
        js(
            Scenario::new("jetstream/consumer-api-defaults", |c| defaults(c).boxed())
                .beyond_go(ISSUE),
        ),
        js(
            Scenario::new("jetstream/consumer-advisories", |c| advisories(c).boxed())
                .beyond_go(ISSUE),
        ),
    ]
}

// ---------------------------------------------------------------- helpers

/// `n` messages of subscription `sid`, within `wait`; others are dropped.
async fn recv_sid(js: &mut Js, sid: &str, n: usize, wait: Duration) -> Result<Vec<Msg>> {
    let deadline = Instant::now() + wait;
    let mut out = Vec::new();
    while out.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match recv(js, left).await? {
            Some(m) if m.sid == sid => out.push(m),
            Some(_) => {}
            None => bail!("{} of {n} messages on sid {sid} within {wait:?}", out.len()),
        }
    }
    Ok(out)
}

/// A connection that only listens: every [`Js`] subscribes the same API
/// inbox, so one that makes no requests drops it and sees only its own
/// subscriptions.
async fn listener(ctx: &Ctx, s: &crate::kit::Server) -> Result<Js> {
    let mut c = Js::connect(ctx, s).await?;
    c.conn().send("UNSUB 1\r\n").await?;
    c.flush().await?;
    Ok(c)
}

/// Asks stream info until `state.messages` is `want`, for up to 2 s.
async fn wait_msgs(js: &mut Js, stream: &str, want: u64) -> Result<()> {
    let deadline = Instant::now() + 2 * SEC;
    loop {
        let got = js.msgs(stream).await?;
        if got == want {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "{stream} has {got} messages, want {want}"
        );
        tokio::time::sleep(ms(20)).await;
    }
}

fn name_of(r: &Value) -> Result<String> {
    Ok(r["name"].as_str().context("no name")?.to_string())
}

/// The payload of a message as JSON.
fn body(m: &Msg) -> Result<Value> {
    serde_json::from_slice(&m.payload).with_context(|| format!("not JSON: {}", show(m)))
}

// ---------------------------------------------------------------- ports

async fn ack_explicit_removal(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        let mut c1 = listener(&ctx, &s).await?;
        let mut c2 = listener(&ctx, &s).await?;
        js.create(
            json!({"name": "MY_STREAM", "storage": storage, "subjects": ["foo.*"],
            "retention": "interest"}),
        )
        .await?;
        c1.sub("in.1", "9").await?;
        consumer(
            &mut js,
            "MY_STREAM",
            json!({"durable_name": "dur1", "deliver_subject": "in.1", "filter_subject": "foo.bar",
                "ack_policy": "explicit"}),
        )
        .await?;
        c2.sub("in.2", "9").await?;
        let dur2 = |d: &str| {
            json!({"durable_name": "dur2", "deliver_subject": d, "filter_subject": "foo.bar",
                "ack_policy": "explicit", "ack_wait": 100 * MS})
        };
        consumer(&mut js, "MY_STREAM", dur2("in.2")).await?;
        for i in 1..=2 {
            js.stored("foo.bar", &format!("msg{i}")).await?;
        }
        check_eq!(js.msgs("MY_STREAM").await?, 2);
        for c in [&mut c1, &mut c2] {
            for m in recv_n(c, 2, SEC).await? {
                ack(c, &m, "").await?;
            }
            c.flush().await?;
        }
        wait_msgs(&mut js, "MY_STREAM", 0).await?;
        // The 2nd subscription goes away; two more come in.
        c2.conn().send("UNSUB 9\r\n").await?;
        c2.flush().await?;
        for i in 3..=4 {
            js.stored("foo.bar", &format!("msg{i}")).await?;
        }
        check_eq!(js.msgs("MY_STREAM").await?, 2);
        for m in recv_n(&mut c1, 2, SEC).await? {
            ack(&mut c1, &m, "").await?;
        }
        c1.flush().await?;
        // dur2 again, on a new deliver subject: 3 and 4 come to it.
        c2.sub("in.2b", "10").await?;
        consumer(&mut js, "MY_STREAM", dur2("in.2b")).await?;
        for m in recv_n(&mut c2, 2, SEC).await? {
            ack(&mut c2, &m, "").await?;
            let (sseq, _, _) = seqs(&m)?;
            ensure!(sseq == 3 || sseq == 4, "stream sequence {sseq}");
        }
    }
    Ok(())
}

async fn update_redelivery(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        let mut c = listener(&ctx, &s).await?;
        js.create(
            json!({"name": "MY_STREAM", "storage": storage, "subjects": ["foo.>"],
            "retention": "interest"}),
        )
        .await?;
        let cfg = |d: &str| {
            json!({"durable_name": "dur22", "deliver_subject": d, "filter_subject": "foo.bar",
                "ack_policy": "explicit", "ack_wait": 100 * MS, "max_deliver": 3})
        };
        c.sub("in.a", "9").await?;
        consumer(&mut js, "MY_STREAM", cfg("in.a")).await?;
        let to_send = 20u64;
        for i in 1..=to_send {
            js.stored("foo.bar", &format!("msg-{i}")).await?;
        }
        check_eq!(js.msgs("MY_STREAM").await?, to_send);
        // Ack every 4th.
        for m in recv_n(&mut c, 20, SEC).await? {
            if seqs(&m)?.0 % 4 == 0 {
                ack(&mut c, &m, "").await?;
            }
        }
        c.conn().send("UNSUB 9\r\n").await?;
        c.flush().await?;
        // Inactive: no longer push-bound.
        let deadline = Instant::now() + ms(500);
        while cinfo(&mut js, "MY_STREAM", "dur22").await?["push_bound"] == json!(true) {
            ensure!(Instant::now() < deadline, "consumer still active");
            tokio::time::sleep(ms(10)).await;
        }
        for i in to_send..to_send * 2 {
            js.stored("foo.bar", &format!("msg-{i}")).await?;
        }
        c.sub("in.b", "10").await?;
        consumer(&mut js, "MY_STREAM", cfg("in.b")).await?;
        let expect = (to_send * 2 - 5) as usize;
        let got = recv_n(&mut c, expect, SEC).await?;
        let mut eseq = 1;
        for m in &got {
            if eseq <= to_send && eseq % 4 == 0 {
                eseq += 1;
            }
            let (sseq, _, dc) = seqs(m)?;
            check_eq!(sseq, eseq);
            check_eq!(dc, if sseq <= to_send { 2 } else { 1 });
            if sseq > to_send {
                ack(&mut c, m, "").await?;
            }
            eseq += 1;
        }
        // The first half comes back once more.
        let got = recv_n(&mut c, (to_send - 5) as usize, SEC).await?;
        let mut eseq = 1;
        for m in &got {
            if eseq % 4 == 0 {
                eseq += 1;
            }
            check_eq!(seqs(m)?.0, eseq);
            check_eq!(seqs(m)?.2, 3);
            eseq += 1;
        }
    }
    Ok(())
}

async fn pending_with_redeliveries(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo"]}))
        .await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "test", "ack_policy": "explicit", "ack_wait": 50 * MS,
            "max_deliver": 1}),
    )
    .await?;
    js.stored("foo", "msg1").await?;
    let m = req_next(&mut js, "TEST", "test", "").await?;
    check_eq!(String::from_utf8_lossy(&m.payload), "msg1");
    check_eq!(
        num(&cinfo(&mut js, "TEST", "test").await?["num_pending"]),
        0
    );
    tokio::time::sleep(ms(100)).await;
    js.stored("foo", "msg2").await?;
    let m = req_next(&mut js, "TEST", "test", "").await?;
    check_eq!(String::from_utf8_lossy(&m.payload), "msg2");
    check_eq!(seqs(&m)?.2, 1);
    check_eq!(
        num(&cinfo(&mut js, "TEST", "test").await?["num_pending"]),
        0
    );
    Ok(())
}

async fn pull_heartbeats(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "T", "storage": "memory"})).await?;
    consumer(
        &mut js,
        "T",
        json!({"durable_name": "dlc", "ack_policy": "explicit"}),
    )
    .await?;
    let bad = "NATS/1.0 400 Bad Request - heartbeat value too large";
    // A heartbeat without expires, and one over half the expiry.
    for (i, (hb, exp)) in [(100u64, 0u64), (75, 100)].into_iter().enumerate() {
        let reply = format!("hb.bad.{i}");
        js.sub(&reply, &format!("b{i}")).await?;
        let body = json!({"batch": 1, "expires": exp * MS, "idle_heartbeat": hb * MS});
        pull(&mut js, "T", "dlc", &body.to_string(), &reply).await?;
        let m = must(&mut js, SEC).await?;
        check_eq!(status(&m), bad);
        ctx.observe(&format!("bad {i}"), headers_of(&m));
        quiet(&mut js, ms(50)).await?;
    }
    // Idle: a heartbeat every 50 ms, then the 408.
    js.sub("hb.idle", "h1").await?;
    let start = Instant::now();
    let body = json!({"batch": 1, "expires": 250 * MS, "idle_heartbeat": 50 * MS});
    pull(&mut js, "T", "dlc", &body.to_string(), "hb.idle").await?;
    let mut got = Vec::new();
    for i in 0..5u64 {
        let m = must(&mut js, SEC).await?;
        if i < 4 {
            check_eq!(status(&m), "NATS/1.0 100 Idle Heartbeat");
            if i == 0 {
                ctx.observe("heartbeat", headers_of(&m));
            }
            let at = start.elapsed();
            ensure!(at >= ms(50 * (i + 1)), "heartbeat {i} too early: {at:?}");
        }
        got.push(m);
    }
    check_eq!(status(&got[4]), "NATS/1.0 408 Request Timeout");
    ctx.observe("idle 408", headers_of(&got[4]));
    // Traffic: no heartbeats while messages come.
    js.sub("hb.busy", "h2").await?;
    let body = json!({"batch": 10, "expires": 350 * MS, "idle_heartbeat": 75 * MS});
    pull(&mut js, "T", "dlc", &body.to_string(), "hb.busy").await?;
    for _ in 0..5 {
        tokio::time::sleep(ms(50)).await;
        js.publish("T", "").await?;
    }
    // The 5 messages without heartbeats between them, then (heartbeats
    // once idle and) the 408.
    let got = recv_n(&mut js, 5, SEC).await?;
    for m in &got {
        ensure!(m.headers.is_none(), "a heartbeat amid traffic: {}", show(m));
    }
    loop {
        let m = must(&mut js, SEC).await?;
        if status(&m) == "NATS/1.0 408 Request Timeout" {
            break;
        }
        check_eq!(status(&m), "NATS/1.0 100 Idle Heartbeat");
    }
    Ok(())
}

/// Pulls `n` messages of `dlc`/`alps` in one batch and acks each (with a
/// reply, as AckSync does).
async fn pull_and_ack(js: &mut Js, stream: &str, name: &str, n: usize) -> Result<()> {
    let reply = format!("pa.{name}");
    js.sub(&reply, &format!("pa{name}")).await?;
    pull(js, stream, name, &format!(r#"{{"batch":{n}}}"#), &reply).await?;
    let got = recv_sid(js, &format!("pa{name}"), n, 3 * SEC).await?;
    for m in &got {
        let r = js
            .request_msg(m.reply.as_deref().context("no reply")?, &[], b"")
            .await?;
        ensure!(r.payload.is_empty(), "ack reply: {}", show(&r));
    }
    Ok(())
}

async fn ack_sampling(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let mut metrics = listener(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo"]}))
        .await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "dlc", "ack_policy": "explicit", "filter_subject": "foo",
            "sample_freq": "100%"}),
    )
    .await?;
    js.stored("foo", "Hello").await?;
    metrics.sub("$JS.EVENT.METRIC.>", "9").await?;
    pull_and_ack(&mut js, "TEST", "dlc", 1).await?;
    let m = must(&mut metrics, SEC).await?;
    check_eq!(m.subject, "$JS.EVENT.METRIC.CONSUMER.ACK.TEST.dlc");
    let am = body(&m)?;
    check_eq!(
        am["type"],
        json!("io.nats.jetstream.metric.v1.consumer_ack")
    );
    check_eq!(
        (
            am["stream"].clone(),
            am["consumer"].clone(),
            num(&am["consumer_seq"])
        ),
        (json!("TEST"), json!("dlc"), 1)
    );
    check_eq!((num(&am["stream_seq"]), num(&am["deliveries"])), (1, 1));
    let mut keys: Vec<_> = am
        .as_object()
        .context("not an object")?
        .keys()
        .cloned()
        .collect();
    keys.sort();
    ctx.observe("metric keys", keys.join(","));

    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "alps", "ack_policy": "explicit", "filter_subject": "foo",
            "sample_freq": "50%"}),
    )
    .await?;
    let total = 500;
    for _ in 0..total {
        js.publish("foo", "Hello").await?;
    }
    js.flush().await?;
    wait_msgs(&mut js, "TEST", total as u64 + 1).await?;
    pull_and_ack(&mut js, "TEST", "alps", total).await?;
    metrics.flush().await?;
    tokio::time::sleep(ms(100)).await;
    let mut n = 0;
    while recv(&mut metrics, ms(50)).await?.is_some() {
        n += 1;
    }
    ensure!(
        (200..=300).contains(&n),
        "expected about 250 samples, got {n}"
    );
    Ok(())
}

async fn ack_sampling_update(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let mut metrics = listener(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo"]}))
        .await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "dlc", "ack_policy": "explicit", "filter_subject": "foo"}),
    )
    .await?;
    let r = consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "dlc", "ack_policy": "explicit", "filter_subject": "foo",
            "sample_freq": "100%"}),
    )
    .await?;
    check_eq!(r["config"]["sample_freq"], json!("100%"));
    js.stored("foo", "Hello").await?;
    metrics.sub("$JS.EVENT.METRIC.>", "9").await?;
    pull_and_ack(&mut js, "TEST", "dlc", 1).await?;
    let m = must(&mut metrics, SEC).await?;
    let am = body(&m)?;
    check_eq!(
        (
            am["stream"].clone(),
            am["consumer"].clone(),
            num(&am["consumer_seq"])
        ),
        (json!("TEST"), json!("dlc"), 1)
    );
    Ok(())
}

async fn max_deliver_update(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo"]}))
        .await?;
    let cfg = |md: u64| {
        json!({"durable_name": "ard", "ack_policy": "explicit", "filter_subject": "foo",
            "max_deliver": md})
    };
    for max_deliver in [2u64, 3] {
        consumer(&mut js, "TEST", cfg(max_deliver)).await?;
        js.stored("foo", "Hello").await?;
        // Fetch(2, MaxWait(100ms)) as nats.go sends it: no_wait with an
        // expiry 10 ms short of the wait. The message, then the 408.
        let body = json!({"batch": 2, "expires": 90 * MS, "no_wait": true}).to_string();
        for i in 0..=max_deliver {
            let m = req_next(&mut js, "TEST", "ard", &body).await?;
            if i < max_deliver {
                ensure!(!m.payload.is_empty(), "delivery {i}: {}", show(&m));
                check_eq!(seqs(&m)?.2, i + 1);
                let end = must(&mut js, SEC).await?;
                check_eq!(status(&end), "NATS/1.0 408 Request Timeout");
                ack(&mut js, &m, "-NAK").await?;
            } else {
                check_eq!(status(&m), "NATS/1.0 408 Request Timeout");
            }
        }
    }
    Ok(())
}

async fn backoff_timing(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo"]}))
        .await?;
    js.stored("foo", "Hello World!").await?;
    js.sub("bo.in", "9").await?;
    let start = Instant::now();
    consumer(
        &mut js,
        "TEST",
        json!({"deliver_subject": "bo.in", "ack_policy": "explicit", "max_deliver": 1000,
            "backoff": [50 * MS, 250 * MS, 1000 * MS]}),
    )
    .await?;
    must(&mut js, SEC).await?;
    let t1 = Instant::now();
    ensure!(t1 - start < ms(50), "first delivery not fast");
    must(&mut js, SEC).await?;
    let t2 = Instant::now();
    let d = t2 - t1;
    ensure!(d >= ms(25) && d <= ms(100), "first redelivery after {d:?}");
    let m3 = must(&mut js, SEC).await?;
    let d = t2.elapsed();
    ensure!(
        d >= ms(200) && d <= ms(320),
        "second redelivery after {d:?}"
    );
    check_eq!(seqs(&m3)?.2, 3);
    // Nothing more before the 1 s backoff.
    quiet(&mut js, ms(500)).await?;
    Ok(())
}

async fn pull_max_bytes(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST"})).await?;
    let (msz, dsz) = (100_000u64, 99_950usize);
    let payload = "Z".repeat(dsz);
    for _ in 0..20 {
        js.stored("TEST", &payload).await?;
    }
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "pr", "ack_policy": "explicit"}),
    )
    .await?;
    js.sub("_pr_", "9").await?;
    let too_big = "NATS/1.0 409 Message Size Exceeds MaxBytes";
    let req = |b: u64, mb: u64| json!({"batch": b, "max_bytes": mb, "no_wait": true}).to_string();
    // Less than one message.
    pull(
        &mut js,
        "TEST",
        "pr",
        r#"{"max_bytes":100,"no_wait":true}"#,
        "_pr_",
    )
    .await?;
    let m = must(&mut js, SEC).await?;
    check_eq!(m.payload.len(), 0);
    check_eq!(status(&m), too_big);
    ctx.observe("too big", headers_of(&m));
    quiet(&mut js, ms(50)).await?;
    // The batch size wins over a large max_bytes.
    for batch in [1u64, 5] {
        pull(&mut js, "TEST", "pr", &req(batch, 10_000_000), "_pr_").await?;
        for m in recv_n(&mut js, batch as usize, SEC).await? {
            check_eq!((m.payload.len(), m.headers.is_none()), (dsz, true));
        }
        quiet(&mut js, ms(50)).await?;
    }
    // max_bytes wins over a large batch: the messages then a 409.
    for (max_bytes, n) in [(msz * 4, 4), (msz, 1)] {
        pull(&mut js, "TEST", "pr", &req(1000, max_bytes), "_pr_").await?;
        let got = recv_n(&mut js, n + 1, SEC).await?;
        for m in &got[..n] {
            check_eq!((m.payload.len(), m.headers.is_none()), (dsz, true));
        }
        check_eq!(got[n].payload.len(), 0);
        check_eq!(status(&got[n]), too_big);
        ctx.observe(&format!("max_bytes {max_bytes}"), headers_of(&got[n]));
        quiet(&mut js, ms(50)).await?;
    }
    Ok(())
}

async fn pull_fifo(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "T"})).await?;
    consumer(
        &mut js,
        "T",
        json!({"durable_name": "d", "ack_policy": "explicit"}),
    )
    .await?;
    let body = json!({"batch": 10, "expires": 60_000 * MS}).to_string();
    for i in 0..10 {
        js.sub(&format!("fifo.{i}"), &format!("f{i}")).await?;
        pull(&mut js, "T", "d", &body, &format!("fifo.{i}")).await?;
    }
    js.flush().await?;
    for _ in 0..100 {
        js.publish("T", "FIFO FTW!").await?;
    }
    let got = recv_n(&mut js, 100, 3 * SEC).await?;
    for index in 0..10u64 {
        let sid = format!("f{index}");
        let mine: Vec<&Msg> = got.iter().filter(|m| m.sid == sid).collect();
        check_eq!(mine.len(), 10);
        for (i, m) in mine.iter().enumerate() {
            check_eq!(seqs(m)?.0, index + 1 + 10 * i as u64);
        }
    }
    Ok(())
}

async fn one_shot_max_ack(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "T"})).await?;
    for _ in 0..10 {
        js.stored("T", "OK").await?;
    }
    consumer(
        &mut js,
        "T",
        json!({"durable_name": "d", "ack_policy": "explicit", "max_ack_pending": 5}),
    )
    .await?;
    // Fetch(10, MaxWait(2s)) as nats.go sends it: no_wait with an expiry
    // 10 ms short of the wait, which is when the request ends.
    js.sub("os.in", "9").await?;
    let start = Instant::now();
    let body = json!({"batch": 10, "expires": 1990 * MS, "no_wait": true}).to_string();
    pull(&mut js, "T", "d", &body, "os.in").await?;
    let got = recv_n(&mut js, 6, 3 * SEC).await?;
    let elapsed = start.elapsed();
    ensure!(elapsed < 2 * SEC, "not one shot: {elapsed:?}");
    for m in &got[..5] {
        ensure!(!m.payload.is_empty(), "{}", show(m));
    }
    ctx.observe("end", headers_of(&got[5]));
    ensure!(got[5].payload.is_empty(), "{}", show(&got[5]));
    Ok(())
}

async fn deliver_new_restart(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo.*"]}))
        .await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "dur", "deliver_subject": "dn.in", "ack_policy": "explicit",
            "deliver_policy": "new", "max_deliver": 3, "ack_wait": 250 * MS,
            "filter_subject": "foo.bar"}),
    )
    .await?;
    js.stored("foo.bar", "msg").await?;
    js.sub("dn.in", "9").await?;
    let got = recv_n(&mut js, 3, 2 * SEC).await?;
    check_eq!(seqs(&got[2])?.2, 3);
    quiet(&mut js, ms(300)).await?;
    tokio::time::sleep(ms(300)).await;
    drop(js);
    s.restart().await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.sub("dn.in", "9").await?;
    quiet(&mut js, ms(300)).await?;
    Ok(())
}

async fn pull_no_ack(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["ORDERS.*"]}))
        .await?;
    let r = consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "dlc", "ack_policy": "none"}),
    )
    .await?;
    check_eq!(r["config"]["ack_policy"], json!("none"));
    Ok(())
}

async fn last_per_subject_redeliveries(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo.>"]}))
        .await?;
    for i in 0..20 {
        js.stored(&format!("foo.{i}"), "msg").await?;
    }
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "dur", "ack_policy": "explicit", "filter_subject": ">",
            "deliver_policy": "last_per_subject", "max_ack_pending": 10, "max_batch": 10,
            "ack_wait": 250 * MS}),
    )
    .await?;
    js.sub("lps.in", "9").await?;
    let body = json!({"batch": 10, "expires": 1000 * MS}).to_string();
    pull(&mut js, "TEST", "dur", &body, "lps.in").await?;
    recv_n(&mut js, 10, SEC).await?;
    tokio::time::sleep(ms(500)).await;
    pull(&mut js, "TEST", "dur", &body, "lps.in").await?;
    let got = recv_n(&mut js, 10, SEC).await?;
    for (i, m) in got.iter().enumerate() {
        check_eq!(m.subject, format!("foo.{i}"));
        ack(&mut js, m, "").await?;
    }
    Ok(())
}

async fn timeout_headers(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo.>"]}))
        .await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "dlc", "ack_policy": "explicit"}),
    )
    .await?;
    for (subj, p) in [("foo.foo", "foo"), ("foo.bar", "bar"), ("foo.else", "baz")] {
        js.publish(subj, p).await?;
    }
    js.flush().await?;
    let (max_bytes, batch) = (1024usize, 50usize);
    let body = json!({"batch": batch, "expires": 100 * MS, "no_wait": false,
        "max_bytes": max_bytes})
    .to_string();
    js.sub("th.in", "9").await?;
    pull(&mut js, "TEST", "dlc", &body, "th.in").await?;
    let (mut n, mut bytes) = (0, 0);
    loop {
        let m = must(&mut js, ms(350)).await?;
        if m.payload.is_empty() && m.headers.is_some() {
            // Go counts each message's data, header, reply and subject.
            check_eq!(
                headers_of(&m),
                format!(
                    "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: {}\r\nNats-Pending-Bytes: {}\r\n\r\n",
                    batch - n,
                    max_bytes - bytes
                )
            );
            break;
        }
        n += 1;
        bytes += m.payload.len() + m.reply.as_deref().unwrap_or_default().len() + m.subject.len();
    }
    check_eq!(n, 3);
    // Again, and the server shuts down: a 409 with the same headers, if it
    // comes at all (Go does not fail without it).
    pull(&mut js, "TEST", "dlc", &body, "th.in").await?;
    js.flush().await?;
    s.stop().await?;
    if let Some(m) = recv(&mut js, ms(500)).await.ok().flatten() {
        check_eq!(
            headers_of(&m),
            format!(
                "NATS/1.0 409 Server Shutdown\r\nNats-Pending-Messages: {batch}\r\nNats-Pending-Bytes: {max_bytes}\r\n\r\n"
            )
        );
        ctx.observe("shutdown", headers_of(&m));
    }
    Ok(())
}

async fn pull_expires(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST"})).await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "dlc", "ack_policy": "explicit"}),
    )
    .await?;
    // {"expires":500000000} in nanoseconds: the 408 after that long.
    js.sub("ex.in", "9").await?;
    let start = Instant::now();
    pull(&mut js, "TEST", "dlc", r#"{"expires":500000000}"#, "ex.in").await?;
    let m = must(&mut js, 2 * SEC).await?;
    let took = start.elapsed();
    check_eq!(status(&m), "NATS/1.0 408 Request Timeout");
    ensure!(took >= ms(490) && took < ms(900), "expired after {took:?}");
    Ok(())
}

async fn push_flow_control(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let mut c = listener(&ctx, &s).await?;
    js.create(json!({"name": "TEST"})).await?;
    // Go sets the window to 16 KiB in-process; here the default: 32 MiB,
    // starting at 1/16 (2 MiB), a request past half of it. Messages of
    // 64 KiB reach that in 16.
    let payload = "x".repeat(64 * 1024);
    let total = 40;
    for _ in 0..total {
        js.stored("TEST", &payload).await?;
    }
    c.sub("fc.in", "9").await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "dlc", "deliver_subject": "fc.in", "flow_control": true,
            "idle_heartbeat": 5000 * MS}),
    )
    .await?;
    let mut seen = Vec::new();
    let mut n = 0;
    let fc = loop {
        let m = must(&mut c, SEC).await?;
        if m.subject == "TEST" {
            n += 1;
            continue;
        }
        break m;
    };
    seen.push(format!("{n} data, then {}", headers_of(&fc)));
    check_eq!(headers_of(&fc), "NATS/1.0 100 FlowControl Request\r\n\r\n");
    check_eq!(fc.subject, "fc.in");
    check_eq!(fc.payload.len(), 0);
    let reply = fc.reply.clone().context("flow control without reply")?;
    let id = reply
        .strip_prefix("$JS.FC.TEST.dlc.")
        .with_context(|| format!("flow control reply {reply}"))?;
    ensure!(
        id.len() == 4 && !id.contains('.'),
        "flow control reply {reply}"
    );
    ensure!(n > 0 && n < total, "{n} messages before flow control");
    // Unanswered, delivery stalls short of the whole stream.
    let mut more = 0;
    while let Some(m) = recv(&mut c, ms(200)).await? {
        ensure!(m.subject == "TEST", "{}", show(&m));
        more += 1;
    }
    ensure!(n + more < total, "no stall: all {total} delivered");
    seen.push(format!("{more} more, then a stall"));
    ctx.observe("flow", seen.join("; "));
    // Answered: the rest comes (answering any later request too).
    c.publish(&reply, "").await?;
    let mut got = n + more;
    while got < total {
        let m = must(&mut c, SEC).await?;
        if m.subject == "TEST" {
            got += 1;
        } else {
            check_eq!(status(&m), "NATS/1.0 100 FlowControl Request");
            c.publish(m.reply.as_deref().context("no reply")?, "")
                .await?;
        }
    }
    Ok(())
}

async fn heartbeats_no_interest(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST"})).await?;
    js.sub("d.>", "9").await?;
    consumer(
        &mut js,
        "TEST",
        json!({"deliver_subject": "d.22", "idle_heartbeat": 100 * MS}),
    )
    .await?;
    // "d.>" is no interest in "d.22" for a push consumer: no heartbeats.
    let deadline = Instant::now() + ms(400);
    while let Some(m) = recv(&mut js, deadline.saturating_duration_since(Instant::now())).await? {
        ensure!(
            !status(&m).starts_with("NATS/1.0 100"),
            "a heartbeat with no formal interest: {}",
            show(&m)
        );
    }
    Ok(())
}

async fn flow_control_stall(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "FC"})).await?;
    js.stored("FC", &"X".repeat(32768)).await?;
    js.stored("FC", &"X".repeat(8 * 32768)).await?;
    js.stored("FC", &"X".repeat(8 * 32768)).await?;
    // An ordered consumer, as nats.go makes it.
    js.sub("ord.in", "9").await?;
    consumer(
        &mut js,
        "FC",
        json!({"deliver_subject": "ord.in", "ack_policy": "none", "max_deliver": 1,
            "flow_control": true, "idle_heartbeat": 5000 * MS, "mem_storage": true,
            "inactive_threshold": 300_000 * MS, "filter_subject": "FC"}),
    )
    .await?;
    let mut sizes = Vec::new();
    while sizes.len() < 3 {
        let m = must(&mut js, SEC).await?;
        if m.subject == "FC" {
            sizes.push(m.payload.len());
        } else if let Some(r) = m.reply.as_deref() {
            js.publish(r, "").await?;
        }
    }
    check_eq!(sizes, vec![32768, 8 * 32768, 8 * 32768]);
    Ok(())
}

async fn cross_account_interest(ctx: Ctx) -> Result<()> {
    let conf = "accounts: {\n  A: {\n    jetstream: enabled\n    users: [ {user: a, password: pwd} ]\n    exports [ { stream: \"_d_\" } ]\n  },\n  B: {\n    users: [ {user: b, password: pwd} ]\n    imports [ { stream: { account: A, subject: \"_d_\"}, to: \"foo\" } ]\n  },\n}\n";
    let s = js_server_with(&ctx, conf).await?;
    let mut js = Js::user(&ctx, &s, "a", "pwd").await?;
    js.create(json!({"name": "TEST", "subjects": ["foo"]}))
        .await?;
    let to_send = 100;
    for _ in 0..to_send {
        js.publish("foo", "OK").await?;
    }
    js.flush().await?;
    wait_msgs(&mut js, "TEST", to_send).await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "dlc", "deliver_subject": "_d_", "ack_policy": "none"}),
    )
    .await?;
    tokio::time::sleep(ms(200)).await;
    // The export alone is no interest: nothing delivered.
    let ci = cinfo(&mut js, "TEST", "dlc").await?;
    check_eq!(
        (
            num(&ci["num_pending"]),
            num(&ci["delivered"]["consumer_seq"])
        ),
        (to_send, 0)
    );
    // A subscriber in B through the import is.
    let mut b = Js::user(&ctx, &s, "b", "pwd").await?;
    b.sub("foo", "9").await?;
    recv_n(&mut b, to_send as usize, 2 * SEC).await?;
    let ci = cinfo(&mut js, "TEST", "dlc").await?;
    check_eq!(
        (
            num(&ci["num_pending"]),
            num(&ci["delivered"]["consumer_seq"])
        ),
        (0, to_send)
    );
    Ok(())
}

async fn filtered_create_subject(ctx: Ctx) -> Result<()> {
    let conf = "accounts: {\n  A: {\n    jetstream: enabled\n    users: [ {\n      user: u,\n      password: p\n      permissions {\n        publish {\n          allow: [ 'ID.>', '$JS.API.INFO', '$JS.API.STREAM.>', '$JS.API.CONSUMER.INFO.>', '$JS.API.CONSUMER.CREATE.TEST.VIN-xxx.ID.foo.>' ]\n          deny: [ '$JS.API.CONSUMER.CREATE.*', '$JS.API.CONSUMER.DURABLE.CREATE.*.*' ]\n        }\n      }\n    } ]\n  },\n}\n";
    let s = js_server_with(&ctx, conf).await?;
    let mut js = Js::user(&ctx, &s, "u", "p").await?;
    js.create(json!({"name": "TEST", "subjects": ["ID.*.*"]}))
        .await?;
    for i in 0..100 {
        js.publish(&format!("ID.foo.{}", i * 3), "").await?;
        js.publish(&format!("ID.bar.{}", i * 3 + 1), "").await?;
        js.publish(&format!("ID.baz.{}", i * 3 + 2), "").await?;
    }
    js.flush().await?;
    wait_msgs(&mut js, "TEST", 300).await?;
    let wait = ms(200);
    let req = |filter: &str| {
        json!({"stream_name": "TEST", "config": {"deliver_policy": "last",
            "filter_subject": filter, "ack_policy": "explicit"}})
        .to_string()
    };
    // The non-filtered create subjects are denied: no answer.
    for subj in [
        "$JS.API.CONSUMER.CREATE.TEST",
        "$JS.API.CONSUMER.DURABLE.CREATE.TEST.dlc",
    ] {
        let body = json!({"stream_name": "TEST", "config": {"durable_name": "dlc",
            "filter_subject": "ID.foo.*", "deliver_subject": "x", "ack_policy": "explicit"}});
        let r = js.ask(subj, &body.to_string(), wait).await?;
        check_eq!(r, Reply::Nothing);
    }
    // The filtered subject works: an ephemeral named by the subject.
    let r = js
        .ask(
            "$JS.API.CONSUMER.CREATE.TEST.VIN-xxx.ID.foo.*",
            &req("ID.foo.*"),
            SEC,
        )
        .await?
        .json()?;
    ensure!(r.get("error").is_none(), "create: {r}");
    check_eq!(r["name"], json!("VIN-xxx"));
    ensure!(
        num(&r["config"]["inactive_threshold"]) > 0,
        "no inactive threshold: {r}"
    );
    ctx.observe(
        "inactive_threshold",
        r["config"]["inactive_threshold"].to_string(),
    );
    let r = js
        .ask(
            "$JS.API.CONSUMER.CREATE.TEST.VIN-zzz.ID.foo.*",
            &req("ID.foo.*"),
            wait,
        )
        .await?;
    check_eq!(r, Reply::Nothing);
    // A filter that does not match the subject's.
    let r = js
        .ask(
            "$JS.API.CONSUMER.CREATE.TEST.VIN-xxx.ID.foo.*",
            &req("ID.bar.*"),
            SEC,
        )
        .await?
        .json()?;
    check_eq!(
        api_error(&r),
        "400 10131 Consumer create request did not match filtered subject from create subject"
    );
    let r = js
        .ask(
            "$JS.API.CONSUMER.CREATE.TEST.VIN-xxx.ID.bar.*",
            &req("ID.bar.*"),
            wait,
        )
        .await?;
    check_eq!(r, Reply::Nothing);
    Ok(())
}

async fn pending_below_first(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo"]}))
        .await?;
    for _ in 0..100 {
        js.stored("foo", "msg").await?;
    }
    js.sub("pb.in", "9").await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "dur", "deliver_subject": "pb.in", "ack_policy": "explicit",
            "deliver_policy": "all"}),
    )
    .await?;
    recv_n(&mut js, 10, SEC).await?;
    // Go stops the consumer and compacts the store in-process; here the
    // subscriber leaves and a purge up to 1,000,000 compacts it.
    js.conn().send("UNSUB 9\r\n").await?;
    let r = js.purge("TEST", r#"{"seq":1000000}"#).await?;
    ensure!(r.get("error").is_none(), "purge: {r}");
    drop(js);
    s.restart().await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let st = js.state("TEST").await?;
    check_eq!(
        (num(&st["first_seq"]), num(&st["last_seq"])),
        (1_000_000, 999_999)
    );
    js.sub("pb.in", "9").await?;
    let deadline = Instant::now() + 2 * SEC;
    loop {
        let ci = cinfo(&mut js, "TEST", "dur").await?;
        if num(&ci["num_ack_pending"]) == 0 && num(&ci["delivered"]["stream_seq"]) == 999_999 {
            break;
        }
        ensure!(Instant::now() < deadline, "consumer info: {ci}");
        tokio::time::sleep(ms(15)).await;
    }
    Ok(())
}

async fn cleanup_interest(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "ORDERS", "subjects": ["orders.*"], "retention": "interest"}))
        .await?;
    js.sub("cl.in", "9").await?;
    let r = consumer(
        &mut js,
        "ORDERS",
        json!({"deliver_subject": "cl.in", "ack_policy": "explicit", "filter_subject": "orders.*"}),
    )
    .await?;
    let name = name_of(&r)?;
    for i in 1..=10 {
        js.stored(&format!("orders.{i}"), "Hello World").await?;
    }
    for m in recv_n(&mut js, 10, SEC).await? {
        let r = js
            .request_msg(m.reply.as_deref().context("no reply")?, &[], b"")
            .await?;
        ensure!(r.payload.is_empty(), "ack reply: {}", show(&r));
    }
    cinfo(&mut js, "ORDERS", &name).await?;
    wait_msgs(&mut js, "ORDERS", 0).await?;
    // Go forces the ack floor past the last sequence in-process; here the
    // subscriber leaves and the server must still answer.
    js.conn().send("UNSUB 9\r\n").await?;
    js.info("ORDERS").await?;
    Ok(())
}

async fn bad_num_pending(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "ORDERS", "subjects": ["orders.*"]}))
        .await?;
    let new_orders = |js: &mut Js| {
        let mut b = String::new();
        for _ in 0..10 {
            b.push_str("PUB orders.created 3\r\nNEW\r\n");
        }
        let _ = js;
        b
    };
    let b = new_orders(&mut js);
    js.conn().send(&b).await?;
    js.flush().await?;
    js.sub("op.in", "op").await?;
    js.sub("mon.in", "mon").await?;
    let op = name_of(
        &consumer(
            &mut js,
            "ORDERS",
            json!({"deliver_subject": "op.in", "ack_policy": "explicit",
                "filter_subject": "orders.created"}),
        )
        .await?,
    )?;
    let mon = name_of(
        &consumer(
            &mut js,
            "ORDERS",
            json!({"deliver_subject": "mon.in", "ack_policy": "explicit",
                "filter_subject": "orders.*"}),
        )
        .await?,
    )?;
    for want in [20u64, 40] {
        // Process: each new order is approved; everything is acked.
        while let Some(m) = recv(&mut js, ms(300)).await? {
            if m.sid == "op" {
                js.publish("orders.approved", "APPROVED").await?;
            }
            ack(&mut js, &m, "").await?;
        }
        wait_msgs(&mut js, "ORDERS", want).await?;
        for name in [&op, &mon] {
            check_eq!(
                num(&cinfo(&mut js, "ORDERS", name).await?["num_pending"]),
                0
            );
        }
        if want == 20 {
            let b = new_orders(&mut js);
            js.conn().send(&b).await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- beyond Go

async fn paging(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "storage": "memory"}))
        .await?;
    let total = 300;
    let reqs: Vec<(String, String)> = (0..total)
        .map(|i| {
            let d = format!("c{i:03}");
            (
                format!("$JS.API.CONSUMER.DURABLE.CREATE.TEST.{d}"),
                json!({"stream_name": "TEST", "config": {"durable_name": d,
                    "ack_policy": "explicit"}})
                .to_string(),
            )
        })
        .collect();
    for r in js.many(&reqs).await? {
        let v = r.json()?;
        ensure!(v.get("error").is_none(), "create: {v}");
    }
    let page = |v: &Value, key: &str| {
        format!(
            "total {} offset {} limit {} items {}",
            v["total"],
            v["offset"],
            v["limit"],
            v[key].as_array().map_or(usize::MAX, |a| a.len())
        )
    };
    for (offset, names, list) in [
        (
            None,
            "total 300 offset 0 limit 1024 items 300",
            "total 300 offset 0 limit 256 items 256",
        ),
        (
            Some(256),
            "total 300 offset 256 limit 1024 items 44",
            "total 300 offset 256 limit 256 items 44",
        ),
        (
            Some(1000),
            "total 300 offset 300 limit 1024 items 0",
            "total 300 offset 300 limit 256 items 0",
        ),
    ] {
        let body = offset.map_or(String::new(), |o| json!({"offset": o}).to_string());
        let n = js.api("$JS.API.CONSUMER.NAMES.TEST", &body).await?;
        check_eq!(page(&n, "consumers"), names);
        check_eq!(
            n["type"],
            json!("io.nats.jetstream.api.v1.consumer_names_response")
        );
        let l = js.api("$JS.API.CONSUMER.LIST.TEST", &body).await?;
        check_eq!(page(&l, "consumers"), list);
        check_eq!(
            l["type"],
            json!("io.nats.jetstream.api.v1.consumer_list_response")
        );
        if offset.is_none() {
            // Names sorted.
            let first: Vec<&str> = n["consumers"].as_array().context("names")?[..3]
                .iter()
                .filter_map(|v| v.as_str())
                .collect();
            check_eq!(first, vec!["c000", "c001", "c002"]);
        }
        if offset == Some(1000) {
            ctx.observe("names past the end", n["consumers"].to_string());
            ctx.observe("list past the end", l["consumers"].to_string());
        }
    }
    Ok(())
}

async fn info_delete_errors(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST"})).await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "d", "ack_policy": "explicit"}),
    )
    .await?;
    for (what, subj, body, want) in [
        (
            "info missing",
            "$JS.API.CONSUMER.INFO.TEST.nope",
            "",
            "404 10014 consumer not found",
        ),
        (
            "info no stream",
            "$JS.API.CONSUMER.INFO.NOPE.d",
            "",
            "404 10059 stream not found",
        ),
        (
            "info body",
            "$JS.API.CONSUMER.INFO.TEST.d",
            r#"{"x":1}"#,
            "400 10038 expected an empty request payload",
        ),
        (
            "delete missing",
            "$JS.API.CONSUMER.DELETE.TEST.nope",
            "",
            "404 10014 consumer not found",
        ),
        (
            "delete no stream",
            "$JS.API.CONSUMER.DELETE.NOPE.d",
            "",
            "404 10059 stream not found",
        ),
        (
            "delete body",
            "$JS.API.CONSUMER.DELETE.TEST.d",
            "junk",
            "400 10038 expected an empty request payload",
        ),
        (
            "names no stream",
            "$JS.API.CONSUMER.NAMES.NOPE",
            "",
            "404 10059 stream not found",
        ),
        (
            "list no stream",
            "$JS.API.CONSUMER.LIST.NOPE",
            "",
            "404 10059 stream not found",
        ),
    ] {
        let r = js.api(subj, body).await?;
        ensure!(r.get("error").is_some(), "{what}: {r}");
        check_eq!(
            format!("{what}: {}", api_error(&r)),
            format!("{what}: {want}")
        );
        ctx.observe(what, r["type"].to_string());
    }
    // The consumer is still there; a delete answers success.
    let r = delete_consumer(&mut js, "TEST", "d").await?;
    check_eq!(r["success"], json!(true));
    check_eq!(
        r["type"],
        json!("io.nats.jetstream.api.v1.consumer_delete_response")
    );
    Ok(())
}

async fn filter_mismatch(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["a.*", "b.*"]}))
        .await?;
    let create = |filter: Option<&str>| {
        let mut cfg = json!({"ack_policy": "explicit"});
        if let Some(f) = filter {
            cfg["filter_subject"] = json!(f);
        }
        json!({"stream_name": "TEST", "config": cfg}).to_string()
    };
    for (what, subj, body, want) in [
        (
            "other filter",
            "$JS.API.CONSUMER.CREATE.TEST.n1.a.*",
            create(Some("b.*")),
            "400 10131 Consumer create request did not match filtered subject from create subject",
        ),
        (
            "no filter",
            "$JS.API.CONSUMER.CREATE.TEST.n1.a.*",
            create(None),
            "400 10131 Consumer create request did not match filtered subject from create subject",
        ),
        (
            "same filter",
            "$JS.API.CONSUMER.CREATE.TEST.n1.a.*",
            create(Some("a.*")),
            "none",
        ),
        (
            "name only",
            "$JS.API.CONSUMER.CREATE.TEST.n2",
            create(Some("b.*")),
            "none",
        ),
    ] {
        let r = js.api(subj, &body).await?;
        check_eq!(
            format!("{what}: {}", api_error(&r)),
            format!("{what}: {want}")
        );
    }
    let ci = cinfo(&mut js, "TEST", "n1").await?;
    check_eq!(ci["config"]["filter_subject"], json!("a.*"));
    check_eq!(ci["config"]["name"], json!("n1"));
    Ok(())
}

async fn stepdown(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST"})).await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "d", "ack_policy": "explicit"}),
    )
    .await?;
    let r = js
        .api("$JS.API.CONSUMER.LEADER.STEPDOWN.TEST.d", "")
        .await?;
    check_eq!(
        api_error(&r),
        "503 10010 JetStream clustering support required"
    );
    check_eq!(
        r["type"],
        json!("io.nats.jetstream.api.v1.consumer_leader_stepdown_response")
    );
    let (code, err_code, _) = api_err(&r);
    ctx.observe("stepdown", format!("{code} {err_code}"));
    Ok(())
}

async fn defaults(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST"})).await?;
    let r = consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "pull", "ack_policy": "explicit"}),
    )
    .await?;
    let c = &r["config"];
    check_eq!(num(&c["ack_wait"]), 30_000_000_000);
    check_eq!(c["max_deliver"], json!(-1));
    check_eq!(num(&c["max_ack_pending"]), 1000);
    check_eq!(num(&c["max_waiting"]), 512);
    check_eq!(c["deliver_policy"], json!("all"));
    check_eq!(c["replay_policy"], json!("instant"));
    check_eq!(
        r["type"],
        json!("io.nats.jetstream.api.v1.consumer_create_response")
    );
    ctx.observe_json("pull config", &scrub(c));
    // A push consumer: no max_waiting; an ephemeral: a 5 s inactivity.
    let r = consumer(
        &mut js,
        "TEST",
        json!({"deliver_subject": "x.in", "ack_policy": "explicit"}),
    )
    .await?;
    let mut c = scrub(&r["config"]);
    check_eq!(num(&c["inactive_threshold"]), 5_000_000_000);
    check_eq!(c["max_waiting"], Value::Null);
    c["name"] = json!("<ephemeral>");
    ctx.observe_json("push ephemeral config", &c);
    let mut info = scrub(&r);
    info["name"] = json!("<ephemeral>");
    info["config"] = json!("<above>");
    ctx.observe_json("push ephemeral info", &info);
    Ok(())
}

async fn advisories(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let mut adv = listener(&ctx, &s).await?;
    adv.sub("$JS.EVENT.ADVISORY.CONSUMER.>", "9").await?;
    js.create(json!({"name": "TEST", "subjects": ["foo"]}))
        .await?;
    for i in 1..=3 {
        js.stored("foo", &format!("m{i}")).await?;
    }
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "d", "ack_policy": "explicit", "ack_wait": 100 * MS,
            "max_deliver": 2}),
    )
    .await?;
    let m = must(&mut adv, SEC).await?;
    check_eq!(m.subject, "$JS.EVENT.ADVISORY.CONSUMER.CREATED.TEST.d");
    let a = body(&m)?;
    check_eq!(
        a["type"],
        json!("io.nats.jetstream.advisory.v1.consumer_action")
    );
    check_eq!(
        (
            a["stream"].clone(),
            a["consumer"].clone(),
            a["action"].clone()
        ),
        (json!("TEST"), json!("d"), json!("create"))
    );
    let keys = |v: &Value| {
        let mut k: Vec<_> = v
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        k.sort();
        k.join(",")
    };
    ctx.observe("created keys", keys(&a));
    // 1: NAK.
    let m1 = req_next(&mut js, "TEST", "d", "").await?;
    ack(&mut js, &m1, "-NAK").await?;
    let m = must(&mut adv, SEC).await?;
    check_eq!(m.subject, "$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.TEST.d");
    let a = body(&m)?;
    check_eq!(a["type"], json!("io.nats.jetstream.advisory.v1.nak"));
    check_eq!(
        (
            num(&a["stream_seq"]),
            num(&a["consumer_seq"]),
            num(&a["deliveries"])
        ),
        (1, 1, 1)
    );
    ctx.observe("nak keys", keys(&a));
    // 1 again: TERM.
    let m1 = req_next(&mut js, "TEST", "d", "").await?;
    check_eq!(seqs(&m1)?, (1, 2, 2));
    ack(&mut js, &m1, "+TERM").await?;
    let m = must(&mut adv, SEC).await?;
    check_eq!(
        m.subject,
        "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.TEST.d"
    );
    let a = body(&m)?;
    check_eq!(a["type"], json!("io.nats.jetstream.advisory.v1.terminated"));
    check_eq!(
        (
            num(&a["stream_seq"]),
            num(&a["consumer_seq"]),
            num(&a["deliveries"])
        ),
        (1, 2, 2)
    );
    ctx.observe("terminated keys", keys(&a));
    // 2: never acked, delivered twice, then max deliveries.
    let m2 = req_next(&mut js, "TEST", "d", "").await?;
    check_eq!(seqs(&m2)?.0, 2);
    tokio::time::sleep(ms(150)).await;
    let m2 = req_next(&mut js, "TEST", "d", "").await?;
    check_eq!(seqs(&m2)?, (2, 4, 2));
    // A pull consumer sees it is past max_deliver when next asked.
    tokio::time::sleep(ms(150)).await;
    let m3 = req_next(&mut js, "TEST", "d", r#"{"batch":1,"no_wait":true}"#).await?;
    check_eq!(seqs(&m3)?.0, 3);
    let m = must(&mut adv, SEC).await?;
    check_eq!(
        m.subject,
        "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.TEST.d"
    );
    let a = body(&m)?;
    check_eq!(
        a["type"],
        json!("io.nats.jetstream.advisory.v1.max_deliver")
    );
    check_eq!((num(&a["stream_seq"]), num(&a["deliveries"])), (2, 2));
    ctx.observe("max deliveries keys", keys(&a));
    // Deleted.
    delete_consumer(&mut js, "TEST", "d").await?;
    let m = must(&mut adv, SEC).await?;
    check_eq!(m.subject, "$JS.EVENT.ADVISORY.CONSUMER.DELETED.TEST.d");
    let a = body(&m)?;
    check_eq!(a["action"], json!("delete"));
    quiet(&mut adv, ms(100)).await?;
    Ok(())
}
