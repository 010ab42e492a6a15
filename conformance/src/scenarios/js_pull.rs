//! More scenarios of JetStream consumer delivery on one server, from
//! server/jetstream_test.go: the limits of pull requests (max_waiting,
//! max_batch, max_expires, max_bytes, max_ack_pending) and the status each
//! answers with, the expiry of requests (one-shot no_wait, requests expiring
//! out of order, cleanup), ephemeral pull consumers and their inactivity,
//! the push-consumer side of max_ack_pending and redelivery after an update,
//! and idle heartbeats. Written like `js_delivery` (whose helpers it uses):
//! raw requests to `$JS.API.CONSUMER.*`, every delivered message and status
//! read byte for byte.

use super::js_delivery::{
    ack, cinfo, consumer, delete_consumer, ms, must, pull, quiet, recv, recv_n, req_next, seqs,
    show, status, try_consumer, wait_field, MS, SEC,
};
use crate::check_eq;
use crate::kit::js::{api_error, header, headers_of, js_server, num, Js, STORAGES};
use crate::kit::Ctx;
use crate::registry::{Need, Scenario};
use anyhow::{ensure, Context, Result};
use futures::FutureExt;
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;

pub fn scenarios() -> Vec<Scenario> {
    let js = |s: Scenario| s.needs(Need::JetStream);
    vec![
        js(Scenario::new("jetstream/pull-push-consumer-error", |c| {
            push_pull_error(c).boxed()
        })
        .full("TestJetStreamPushConsumersPullError")),
        js(Scenario::new("jetstream/pull-max-waiting-one", |c| {
            max_waiting_one(c).boxed()
        })
        .full("TestJetStreamPullConsumerMaxWaitingOfOne")),
        js(Scenario::new("jetstream/pull-max-waiting-no-update", |c| {
            max_waiting_update(c).boxed()
        })
        .full("TestJetStreamPullConsumerMaxWaiting")),
        js(Scenario::new("jetstream/push-max-ack-pending", |c| {
            push_max_ack_pending(c).boxed()
        })
        .full("TestJetStreamConsumerMaxAckPending")),
        js(Scenario::new("jetstream/pull-max-ack-pending", |c| {
            pull_max_ack_pending(c).boxed()
        })
        .full("TestJetStreamPullConsumerMaxAckPending")),
        js(
            Scenario::new("jetstream/pull-max-ack-pending-redeliveries", |c| {
                max_ack_pending_redeliveries(c).boxed()
            })
            .full("TestJetStreamPullConsumerMaxAckPendingRedeliveries"),
        ),
        js(Scenario::new("jetstream/pull-request-cleanup", |c| {
            request_cleanup(c).boxed()
        })
        .full("TestJetStreamPullConsumerRequestCleanup")),
        js(Scenario::new("jetstream/pull-request-maximums", |c| {
            request_maximums(c).boxed()
        })
        .full("TestJetStreamPullConsumerRequestMaximums")),
        js(
            Scenario::new("jetstream/pull-one-shot", |c| one_shot(c).boxed())
                .full("TestJetStreamPullConsumersOneShotBehavior"),
        ),
        js(Scenario::new("jetstream/pull-expire-out-of-order", |c| {
            expire_out_of_order(c).boxed()
        })
        .full("TestJetStreamPullConsumersMultipleRequestsExpireOutOfOrder")),
        js(Scenario::new("jetstream/pull-large-batch-expired", |c| {
            large_batch_expired(c).boxed()
        })
        .full("TestJetStreamPullLargeBatchExpired")),
        js(Scenario::new("jetstream/pull-ephemeral-inactive", |c| {
            ephemeral_pull(c).boxed()
        })
        .partial("TestJetStreamEphemeralPullConsumers")),
        js(
            Scenario::new("jetstream/pull-ephemeral-no-wait-keeps-alive", |c| {
                ephemeral_no_wait(c).boxed()
            })
            .full("TestJetStreamEphemeralPullConsumersInactiveThresholdAndNoWait"),
        ),
        js(
            Scenario::new("jetstream/ack-floor-fill", |c| ack_floor_fill(c).boxed())
                .full("TestJetStreamConsumerAckFloorFill"),
        ),
        js(
            Scenario::new("jetstream/pull-replay-original-delayed", |c| {
                delayed_first_pull(c).boxed()
            })
            .full("TestJetStreamPullConsumerDelayedFirstPullWithReplayOriginal"),
        ),
        js(
            Scenario::new("jetstream/flow-control-requires-heartbeat", |c| {
                fc_requires_hb(c).boxed()
            })
            .full("TestJetStreamFlowControlRequiresHeartbeats"),
        ),
        js(
            Scenario::new("jetstream/idle-heartbeats", |c| idle_heartbeats(c).boxed())
                .full("TestJetStreamPushConsumerIdleHeartbeats"),
        ),
        js(Scenario::new("jetstream/idle-heartbeats-filtered", |c| {
            idle_heartbeats_filtered(c).boxed()
        })
        .full("TestJetStreamPushConsumerIdleHeartbeatsWithFilterSubject")),
        js(Scenario::new("jetstream/ack-nak-delay-no-wait", |c| {
            nak_delay_no_wait(c).boxed()
        })
        .full("TestJetStreamNakRedeliveryWithNoWait")),
    ]
}

async fn push_pull_error(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST"})).await?;
    js.stored("TEST", "TSS").await?;
    js.sub("push.in", "9").await?;
    let r = consumer(&mut js, "TEST", json!({"deliver_subject": "push.in"})).await?;
    let name = r["name"].as_str().context("no name")?.to_string();
    must(&mut js, SEC).await?;
    // A pull request of a push consumer: a 409.
    let m = js
        .request_msg(&format!("$JS.API.CONSUMER.MSG.NEXT.TEST.{name}"), &[], b"")
        .await?;
    check_eq!(status(&m), "NATS/1.0 409 Consumer is push based");
    check_eq!(
        headers_of(&m),
        "NATS/1.0 409 Consumer is push based\r\n\r\n"
    );
    Ok(())
}

async fn max_waiting_one(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["TEST.A"]}))
        .await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "dur", "max_waiting": 1, "ack_policy": "explicit"}),
    )
    .await?;
    // A request times out (it did not with max_waiting 1 once).
    let body = format!(r#"{{"batch":1,"expires":{}}}"#, 250 * MS);
    let m = req_next(&mut js, "TEST", "dur", &body).await?;
    check_eq!(
        headers_of(&m),
        "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\nNats-Pending-Bytes: 0\r\n\r\n"
    );
    // One waiting: the next is refused.
    js.sub("wait.one", "9").await?;
    pull(&mut js, "TEST", "dur", r#"{"batch":1}"#, "wait.one").await?;
    let m = req_next(&mut js, "TEST", "dur", &body).await?;
    check_eq!(status(&m), "NATS/1.0 409 Exceeded MaxWaiting");
    check_eq!(headers_of(&m), "NATS/1.0 409 Exceeded MaxWaiting\r\n\r\n");
    Ok(())
}

async fn max_waiting_update(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["test.*"]}))
        .await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "dur", "ack_policy": "explicit", "max_waiting": 10}),
    )
    .await?;
    let r = try_consumer(
        &mut js,
        "TEST",
        &json!({"durable_name": "dur", "ack_policy": "explicit", "max_waiting": 1}),
    )
    .await?;
    let err = api_error(&r);
    ensure!(err.contains("can not be updated"), "update: {err}");
    ctx.observe("update max_waiting", err);
    Ok(())
}

async fn push_max_ack_pending(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "MY_STREAM", "storage": storage, "subjects": ["foo.*"]}))
            .await?;
        let r = try_consumer(
            &mut js,
            "MY_STREAM",
            &json!({"durable_name": "d22", "deliver_subject": "in.none", "ack_policy": "none",
                "max_ack_pending": 1}),
        )
        .await?;
        ensure!(
            r.get("error").is_some(),
            "max_ack_pending with ack none: {r}"
        );
        ctx.observe(&format!("{storage}: ack none"), api_error(&r));
        for i in 1..=100 {
            js.stored("foo.bar", &format!("MSG: {i}")).await?;
        }
        let max_ack_pending = 33;
        consumer(
            &mut js,
            "MY_STREAM",
            json!({"durable_name": "d22", "deliver_subject": "in.d22", "ack_policy": "explicit",
                "max_ack_pending": max_ack_pending}),
        )
        .await?;
        js.sub("in.d22", "9").await?;
        let got = recv_n(&mut js, max_ack_pending, SEC).await?;
        quiet(&mut js, ms(100)).await?;
        // Acking them all lets the next 33 out.
        for m in &got {
            ack(&mut js, m, "").await?;
        }
        let more = recv_n(&mut js, max_ack_pending, SEC).await?;
        check_eq!(seqs(&more[0])?.0, 34);
        quiet(&mut js, ms(100)).await?;
        delete_consumer(&mut js, "MY_STREAM", "d22").await?;
        js.conn().send("UNSUB 9\r\n").await?;
        js.purge("MY_STREAM", "").await?;
        js.take_others().await?;

        // A live consumer while the messages come in.
        consumer(
            &mut js,
            "MY_STREAM",
            json!({"durable_name": "d33", "deliver_subject": "in.d33", "ack_policy": "explicit",
                "max_ack_pending": max_ack_pending}),
        )
        .await?;
        js.sub("in.d33", "10").await?;
        quiet(&mut js, ms(50)).await?;
        for i in 1..=100 {
            js.stored("foo.baz", &format!("MSG: {i}")).await?;
        }
        recv_n(&mut js, max_ack_pending, SEC).await?;
        quiet(&mut js, ms(100)).await?;
        js.conn().send("UNSUB 10\r\n").await?;
        js.delete_stream("MY_STREAM").await?;
        js.take_others().await?;
    }
    Ok(())
}

async fn pull_max_ack_pending(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "MY_STREAM", "storage": storage, "subjects": ["foo.*"]}))
            .await?;
        for i in 1..=100 {
            js.stored("foo.bar", &format!("MSG: {i}")).await?;
        }
        let max_ack_pending = 33;
        consumer(
            &mut js,
            "MY_STREAM",
            json!({"durable_name": "d22", "ack_policy": "explicit",
                "max_ack_pending": max_ack_pending}),
        )
        .await?;
        let mut to_ack = Vec::new();
        for _ in 0..max_ack_pending {
            to_ack.push(req_next(&mut js, "MY_STREAM", "d22", "").await?);
        }
        for m in &to_ack {
            ack(&mut js, m, "").await?;
        }
        js.sub("in.batch", "9").await?;
        pull(
            &mut js,
            "MY_STREAM",
            "d22",
            &format!(r#"{{"batch":{max_ack_pending}}}"#),
            "in.batch",
        )
        .await?;
        recv_n(&mut js, max_ack_pending, SEC).await?;
        quiet(&mut js, ms(100)).await?;
        js.conn().send("UNSUB 9\r\n").await?;
        js.delete_stream("MY_STREAM").await?;
    }
    Ok(())
}

async fn max_ack_pending_redeliveries(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "MY_STREAM", "storage": storage, "subjects": ["foo.*"]}))
            .await?;
        for i in 1..=10 {
            js.stored("foo.bar", &format!("MSG: {i}")).await?;
        }
        consumer(
            &mut js,
            "MY_STREAM",
            json!({"durable_name": "d22", "deliver_policy": "by_start_sequence",
                "opt_start_seq": 4, "ack_policy": "explicit", "ack_wait": 20 * MS,
                "max_ack_pending": 1}),
        )
        .await?;
        // With one pending allowed, 4 comes back each time.
        for delivery in 1..=5u64 {
            let m = req_next(&mut js, "MY_STREAM", "d22", "").await?;
            check_eq!(seqs(&m)?, (4, delivery, delivery));
            check_eq!(super::js_delivery::pending(&m)?, 10 - 4);
        }
        js.delete_stream("MY_STREAM").await?;
    }
    Ok(())
}

async fn request_cleanup(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "T", "storage": "memory"})).await?;
    consumer(
        &mut js,
        "T",
        json!({"durable_name": "dlc", "ack_policy": "explicit"}),
    )
    .await?;
    js.sub("xx", "9").await?;
    let body = format!(r#"{{"batch":10,"expires":{}}}"#, 100 * MS);
    for _ in 0..100 {
        pull(&mut js, "T", "dlc", &body, "xx").await?;
    }
    tokio::time::sleep(ms(200)).await;
    let info = cinfo(&mut js, "T", "dlc").await?;
    check_eq!(num(&info["num_waiting"]), 0);
    // Each got its 408.
    let got = recv_n(&mut js, 100, SEC).await?;
    ensure!(
        got.iter()
            .all(|m| status(m) == "NATS/1.0 408 Request Timeout"),
        "not all 408s: {}",
        show(&got[0])
    );
    quiet(&mut js, ms(50)).await?;
    Ok(())
}

async fn request_maximums(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "storage": "memory"}))
        .await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "dlc", "max_batch": 10, "max_bytes": 10_000,
            "max_expires": 1_000_000_000u64, "ack_policy": "explicit"}),
    )
    .await?;
    let req =
        |b: u64, mb: u64, e: u64| json!({"batch": b, "expires": e, "max_bytes": mb}).to_string();
    let ten_min = 600_000_000_000u64;
    for (what, body, want) in [
        (
            "batch",
            req(11, 0, 100 * MS),
            "NATS/1.0 409 Exceeded MaxRequestBatch of 10\r\n\r\n",
        ),
        (
            "expires",
            req(1, 0, ten_min),
            "NATS/1.0 409 Exceeded MaxRequestExpires of 1s\r\n\r\n",
        ),
        (
            "max_bytes (expires first)",
            req(10, 20_000, ten_min),
            "NATS/1.0 409 Exceeded MaxRequestExpires of 1s\r\n\r\n",
        ),
        // Beyond Go's test: max_bytes alone over the limit.
        (
            "max_bytes",
            req(10, 20_000, 100 * MS),
            "NATS/1.0 409 Exceeded MaxRequestMaxBytes of 10000\r\n\r\n",
        ),
    ] {
        let m = req_next(&mut js, "TEST", "dlc", &body).await?;
        ensure!(
            status(&m).starts_with("NATS/1.0 409"),
            "{what}: {}",
            show(&m)
        );
        check_eq!(headers_of(&m), want);
    }
    Ok(())
}

/// Sends a pull request on a fresh reply subject and reads until its status
/// or `batch` messages: (messages, the status's header block or empty,
/// time taken).
async fn get_next(
    js: &mut Js,
    n: usize,
    batch: usize,
    expires: u64,
    no_wait: bool,
) -> Result<(usize, String, Duration)> {
    let reply = format!("one.{n}");
    js.sub(&reply, &format!("s{n}")).await?;
    let body = json!({"batch": batch, "expires": expires * MS, "no_wait": no_wait}).to_string();
    let start = Instant::now();
    pull(js, "TEST", "dlc", &body, &reply).await?;
    let mut got = 0;
    let out = loop {
        let m = recv(js, ms(expires + 250))
            .await?
            .context("did not receive all the messages in time")?;
        ensure!(m.subject == reply || m.subject == "foo", "{}", show(&m));
        if m.payload.is_empty() && m.headers.is_some() {
            break (got, headers_of(&m), start.elapsed());
        }
        got += 1;
        if got >= batch {
            break (got, String::new(), start.elapsed());
        }
    };
    js.conn().send(&format!("UNSUB s{n}\r\n")).await?;
    Ok(out)
}

async fn one_shot(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo"]}))
        .await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "dlc", "ack_policy": "explicit", "filter_subject": "foo"}),
    )
    .await?;
    let no_msgs = "NATS/1.0 404 No Messages\r\n\r\n";
    let timeout =
        "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\nNats-Pending-Bytes: 0\r\n\r\n";
    // Empty: no_wait answers at once with a 404.
    let (n, h, e) = get_next(&mut js, 1, 1, 0, true).await?;
    check_eq!((n, h.as_str()), (0, no_msgs));
    ensure!(e < ms(100), "404 took {e:?}");
    // Waits for its whole expiry.
    let (n, h, e) = get_next(&mut js, 2, 1, 250, false).await?;
    check_eq!((n, h.as_str()), (0, timeout));
    ensure!(e >= ms(250), "408 after {e:?}");
    // no_wait with expires: one-shot, waits for a message or the expiry.
    let (n, h, e) = get_next(&mut js, 3, 1, 500, true).await?;
    check_eq!((n, h.as_str()), (0, timeout));
    ensure!(e >= ms(500), "408 after {e:?}");

    for _ in 0..20 {
        js.stored("foo", "HELLO").await?;
    }
    for (i, (batch, expires, no_wait)) in [(1, 0, true), (5, 500, false), (5, 500, true)]
        .into_iter()
        .enumerate()
    {
        let (n, h, e) = get_next(&mut js, 4 + i, batch, expires, no_wait).await?;
        check_eq!((n, h.as_str()), (batch, ""));
        ensure!(e < ms(100), "batch of {batch} took {e:?}");
    }
    Ok(())
}

async fn expire_out_of_order(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo"]}))
        .await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "dlc", "ack_policy": "explicit", "filter_subject": "foo"}),
    )
    .await?;
    js.sub("i.*", "9").await?;
    for expires in [200u64, 100, 25, 75] {
        let body = json!({"expires": expires * MS}).to_string();
        pull(&mut js, "TEST", "dlc", &body, &format!("i.{expires}")).await?;
    }
    let start = Instant::now();
    let got = recv_n(&mut js, 4, SEC).await?;
    let elapsed = start.elapsed();
    ensure!(
        elapsed >= ms(190) && elapsed <= ms(500),
        "all four expired after {elapsed:?}"
    );
    check_eq!(
        got.iter().map(|m| m.subject.as_str()).collect::<Vec<_>>(),
        vec!["i.25", "i.75", "i.100", "i.200"]
    );
    for m in &got {
        check_eq!(status(m), "NATS/1.0 408 Request Timeout");
    }
    Ok(())
}

async fn large_batch_expired(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo"]}))
        .await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "dlc", "ack_policy": "explicit", "max_waiting": 10,
            "max_ack_pending": 500_000_000}),
    )
    .await?;
    let body = format!(r#"{{"batch":50000000,"expires":{}}}"#, 100 * MS);
    for _ in 0..10 {
        pull(&mut js, "TEST", "dlc", &body, "bar").await?;
    }
    js.flush().await?;
    tokio::time::sleep(ms(150)).await;
    // Another request expires in time, not held up by the expired ones.
    let start = Instant::now();
    let body = format!(r#"{{"batch":1,"expires":{}}}"#, 100 * MS);
    let m = req_next(&mut js, "TEST", "dlc", &body).await?;
    let took = start.elapsed();
    check_eq!(status(&m), "NATS/1.0 408 Request Timeout");
    ensure!(took <= ms(200), "took too long to expire: {took:?}");
    Ok(())
}

/// Waits until consumer `name` of `stream` is gone (its info a 404), for up
/// to `wait`; the error code seen.
async fn gone(js: &mut Js, stream: &str, name: &str, wait: Duration) -> Result<String> {
    let deadline = Instant::now() + wait;
    loop {
        let r = js
            .api(&format!("$JS.API.CONSUMER.INFO.{stream}.{name}"), "")
            .await?;
        if r.get("error").is_some() {
            return Ok(api_error(&r));
        }
        ensure!(
            Instant::now() < deadline,
            "consumer {name} still there after {wait:?}"
        );
        tokio::time::sleep(ms(10)).await;
    }
}

async fn ephemeral_pull(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "EC", "storage": "memory"}))
        .await?;
    // Go sets the threshold in-process; here it is the consumer's config.
    let cfg = json!({"ack_policy": "explicit", "inactive_threshold": 50 * MS});
    let r = consumer(&mut js, "EC", cfg.clone()).await?;
    let name = r["name"].as_str().context("no name")?.to_string();
    check_eq!(name.len(), 8);
    tokio::time::sleep(ms(100)).await;
    let err = gone(&mut js, "EC", &name, 2 * SEC).await?;
    ctx.observe("removed", err);

    // A waiting request with interest keeps it.
    let r = consumer(&mut js, "EC", cfg).await?;
    let name = r["name"].as_str().context("no name")?.to_string();
    js.sub("xx", "9").await?;
    let body = format!(r#"{{"batch":10,"expires":{}}}"#, 250 * MS);
    pull(&mut js, "EC", &name, &body, "xx").await?;
    js.flush().await?;
    tokio::time::sleep(ms(100)).await;
    cinfo(&mut js, "EC", &name).await?;
    js.conn().send("UNSUB 9\r\n").await?;
    gone(&mut js, "EC", &name, 5 * SEC).await?;
    Ok(())
}

async fn ephemeral_no_wait(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "ECIT", "storage": "memory"}))
        .await?;
    let r = consumer(
        &mut js,
        "ECIT",
        json!({"ack_policy": "explicit", "inactive_threshold": 100 * MS}),
    )
    .await?;
    let name = r["name"].as_str().context("no name")?.to_string();
    // no_wait requests every 25 ms keep it alive.
    for _ in 0..10 {
        pull(
            &mut js,
            "ECIT",
            &name,
            r#"{"batch":10,"no_wait":true}"#,
            "xx",
        )
        .await?;
        js.flush().await?;
        tokio::time::sleep(ms(25)).await;
    }
    cinfo(&mut js, "ECIT", &name).await?;
    Ok(())
}

async fn ack_floor_fill(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "MQ", "storage": storage})).await?;
        for i in 1..=4 {
            js.stored("MQ", &format!("msg-{i}")).await?;
        }
        js.sub("in.floor", "9").await?;
        consumer(
            &mut js,
            "MQ",
            json!({"durable_name": "d", "deliver_subject": "in.floor", "ack_policy": "explicit"}),
        )
        .await?;
        let got = recv_n(&mut js, 4, SEC).await?;
        // Ack 2 and 3, not 1 or 4.
        ack(&mut js, &got[1], "").await?;
        ack(&mut js, &got[2], "").await?;
        js.flush().await?;
        wait_field(&mut js, "MQ", "d", "num_ack_pending", 2).await?;
        let info = cinfo(&mut js, "MQ", "d").await?;
        check_eq!(num(&info["ack_floor"]["consumer_seq"]), 0);
        // Acking 1 moves the floor to 3.
        ack(&mut js, &got[0], "").await?;
        js.flush().await?;
        wait_field(&mut js, "MQ", "d", "num_ack_pending", 1).await?;
        let info = cinfo(&mut js, "MQ", "d").await?;
        check_eq!(num(&info["ack_floor"]["consumer_seq"]), 3);
        js.conn().send("UNSUB 9\r\n").await?;
        js.delete_stream("MQ").await?;
        js.take_others().await?;
    }
    Ok(())
}

async fn delayed_first_pull(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "MY_WQ", "storage": storage}))
            .await?;
        js.stored("MY_WQ", "Hello World!").await?;
        consumer(
            &mut js,
            "MY_WQ",
            json!({"durable_name": "d", "ack_policy": "explicit", "replay_policy": "original"}),
        )
        .await?;
        tokio::time::sleep(ms(250)).await;
        let m = req_next(&mut js, "MY_WQ", "d", "").await?;
        check_eq!(String::from_utf8_lossy(&m.payload), "Hello World!");
        js.delete_stream("MY_WQ").await?;
    }
    Ok(())
}

async fn fc_requires_hb(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST"})).await?;
    let r = try_consumer(
        &mut js,
        "TEST",
        &json!({"durable_name": "dlc", "deliver_subject": "in.fc", "flow_control": true}),
    )
    .await?;
    check_eq!(
        api_error(&r),
        "400 10108 consumer with flow control also needs heartbeats"
    );
    Ok(())
}

async fn idle_heartbeats(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST"})).await?;
    js.sub("in.hb", "9").await?;
    // A heartbeat under 100ms is refused.
    let r = try_consumer(
        &mut js,
        "TEST",
        &json!({"deliver_subject": "in.hb", "idle_heartbeat": MS}),
    )
    .await?;
    ensure!(r.get("error").is_some(), "1ms heartbeat accepted: {r}");
    ctx.observe("1ms heartbeat", api_error(&r));
    let r = consumer(
        &mut js,
        "TEST",
        json!({"deliver_subject": "in.hb", "idle_heartbeat": 100 * MS}),
    )
    .await?;
    let name = r["name"].as_str().context("no name")?.to_string();
    let got = recv_n(&mut js, 9, 2 * SEC).await?;
    let h = headers_of(&got[0]);
    check_eq!(status(&got[0]), "NATS/1.0 100 Idle Heartbeat");
    check_eq!(got[0].subject, "in.hb");
    check_eq!(got[0].payload.len(), 0);
    check_eq!(header(&h, "Nats-Last-Consumer"), Some("0"));
    check_eq!(header(&h, "Nats-Last-Stream"), Some("0"));
    ctx.observe("heartbeat", format!("{} {:?}", got[0].reply.is_none(), h));
    delete_consumer(&mut js, "TEST", &name).await?;
    Ok(())
}

async fn idle_heartbeats_filtered(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo", "bar"]}))
        .await?;
    js.sub("in.hbf", "9").await?;
    consumer(
        &mut js,
        "TEST",
        json!({"deliver_subject": "in.hbf", "filter_subject": "bar",
            "idle_heartbeat": 100 * MS}),
    )
    .await?;
    // Messages the filter skips keep coming; heartbeats still go out.
    let deadline = Instant::now() + SEC;
    let hb = loop {
        ensure!(
            Instant::now() < deadline,
            "expected to have seen idle heartbeats for consumer"
        );
        js.publish("foo", "HELLO FOO").await?;
        if let Some(m) = recv(&mut js, ms(10)).await? {
            break m;
        }
    };
    check_eq!(status(&hb), "NATS/1.0 100 Idle Heartbeat");
    check_eq!(hb.subject, "in.hbf");
    Ok(())
}

async fn nak_delay_no_wait(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo"]}))
        .await?;
    js.stored("foo", "NAK").await?;
    consumer(
        &mut js,
        "TEST",
        json!({"durable_name": "dlc", "ack_policy": "explicit", "max_deliver": 3,
            "ack_wait": 60_000_000_000u64,
            "backoff": [5_000_000_000u64, 10_000_000_000u64]}),
    )
    .await?;
    let m = req_next(&mut js, "TEST", "dlc", "").await?;
    // NAK with a delay of 500 ms (Go's client puts two spaces).
    let body = format!("-NAK  {}", json!({"delay": 500 * MS}));
    ack(&mut js, &m, &body).await?;
    js.flush().await?;
    // Beyond Go's test: not back before its delay.
    let first = req_next(&mut js, "TEST", "dlc", r#"{"batch":1, "no_wait": true}"#).await?;
    check_eq!(headers_of(&first), "NATS/1.0 404 No Messages\r\n\r\n");
    // True no_wait requests see it come back.
    let deadline = Instant::now() + SEC;
    loop {
        let m = req_next(&mut js, "TEST", "dlc", r#"{"batch":1, "no_wait": true}"#).await?;
        if !m.payload.is_empty() {
            check_eq!(seqs(&m)?, (1, 2, 2));
            return Ok(());
        }
        ensure!(Instant::now() < deadline, "did not get the message in time");
        tokio::time::sleep(ms(100)).await;
    }
}
