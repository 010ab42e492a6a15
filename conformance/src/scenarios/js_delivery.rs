//! Scenarios for JetStream consumer delivery on one server, from
//! server/jetstream_test.go: pull requests (batch, no_wait, expires,
//! max_waiting, max_bytes and their status replies), acks of every kind
//! (+ACK, -NAK, +WPI, +NXT, +TERM, acks with a reply), ack-wait redelivery,
//! max_deliver, max_ack_pending, the pending count of the ack reply, flow
//! control and idle heartbeats.
//!
//! The Go tests add streams and consumers in-process (`mset.addConsumer`) and
//! read `o.info()`; here every consumer is made through
//! `$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>` (or
//! `$JS.API.CONSUMER.CREATE.<stream>` for an ephemeral) and read back through
//! `$JS.API.CONSUMER.INFO.<stream>.<consumer>`, and messages are pulled by
//! publishing to `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` with a reply
//! subject the raw client subscribes to. Every delivered message is read
//! byte for byte: its MSG line carries the stream subject and the ack reply
//! `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>`,
//! whose timestamp is the only part masked in observations. Status replies
//! (`NATS/1.0 404 No Messages`, `NATS/1.0 408 Request Timeout`, ...) are
//! recorded with their whole header block. Ack waits are short (100-300
//! ms) and every wait is bounded.

use crate::check_eq;
use crate::kit::js::{api_error, headers_of, js_server, num, Js, STORAGES};
use crate::kit::{Ctx, Msg, Op};
use crate::registry::{Need, Scenario};
use anyhow::{bail, ensure, Context, Result};
use futures::FutureExt;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::time::Instant;

pub fn scenarios() -> Vec<Scenario> {
    let js = |s: Scenario| s.needs(Need::JetStream);
    vec![
        js(Scenario::new("jetstream/pull-max-waiting-default", |c| {
            wq_max_waiting(c).boxed()
        })
        .full("TestJetStreamWorkQueueMaxWaiting")),
        js(Scenario::new("jetstream/pull-wrap-waiting", |c| {
            wq_wrap_waiting(c).boxed()
        })
        .full("TestJetStreamWorkQueueWrapWaiting")),
        js(
            Scenario::new("jetstream/pull-request-no-wait-expires", |c| {
                wq_request(c).boxed()
            })
            .full("TestJetStreamWorkQueueRequest"),
        ),
        js(Scenario::new("jetstream/pull-subject-filtering", |c| {
            wq_subject_filtering(c).boxed()
        })
        .full("TestJetStreamWorkQueueSubjectFiltering")),
        js(
            Scenario::new("jetstream/ack-next-work-queue", |c| wq_ack_next(c).boxed())
                .full("TestJetStreamWorkQueueAckAndNext"),
        ),
        js(Scenario::new("jetstream/pull-request-batch", |c| {
            wq_request_batch(c).boxed()
        })
        .full("TestJetStreamWorkQueueRequestBatch")),
        js(Scenario::new("jetstream/ack-wait-redelivery", |c| {
            wq_ack_wait_redelivery(c).boxed()
        })
        .full("TestJetStreamWorkQueueAckWaitRedelivery")),
        js(Scenario::new("jetstream/ack-nak-redelivery", |c| {
            wq_nak_redelivery(c).boxed()
        })
        .full("TestJetStreamWorkQueueNakRedelivery")),
        js(Scenario::new("jetstream/ack-working-indicator", |c| {
            wq_working_indicator(c).boxed()
        })
        .full("TestJetStreamWorkQueueWorkingIndicator")),
        js(
            Scenario::new("jetstream/ack-terminate", |c| wq_terminate(c).boxed())
                .full("TestJetStreamWorkQueueTerminateDelivery"),
        ),
        js(Scenario::new("jetstream/ack-all-redelivery", |c| {
            ack_all_redelivery(c).boxed()
        })
        .full("TestJetStreamAckAllRedelivery")),
        js(Scenario::new("jetstream/ack-reply-pending", |c| {
            ack_reply_pending(c).boxed()
        })
        .full("TestJetStreamAckReplyStreamPending")),
        js(Scenario::new("jetstream/ack-reply-pending-with-acks", |c| {
            ack_reply_pending_with_acks(c).boxed()
        })
        .full("TestJetStreamAckReplyStreamPendingWithAcks")),
        js(Scenario::new("jetstream/ack-ack", |c| ack_ack(c).boxed())
            .full("TestJetStreamConsumerAckAck")),
        js(Scenario::new("jetstream/ack-next", |c| ack_next(c).boxed())
            .full("TestJetStreamAckNext")),
        js(Scenario::new("jetstream/pull-remove-interest", |c| {
            pull_remove_interest(c).boxed()
        })
        .full("TestJetStreamPullConsumerRemoveInterest")),
        js(
            Scenario::new("jetstream/max-deliver", |c| max_deliveries(c).boxed())
                .full("TestJetStreamConsumerMaxDeliveries"),
        ),
        js(Scenario::new("jetstream/max-deliver-restart", |c| {
            max_delivery_restart(c).boxed()
        })
        .full("TestJetStreamConsumerMaxDeliveryAndServerRestart")),
        js(Scenario::new("jetstream/redelivery-after-restart", |c| {
            redelivery_after_restart(c).boxed()
        })
        .full("TestJetStreamRedeliveryAfterServerRestart")),
        js(Scenario::new("jetstream/delivery-after-restart", |c| {
            delivery_after_restart(c).boxed()
        })
        .full("TestJetStreamDeliveryAfterServerRestart")),
        js(
            Scenario::new("jetstream/redeliver-count", |c| redeliver_count(c).boxed())
                .full("TestJetStreamRedeliverCount"),
        ),
        js(Scenario::new("jetstream/redeliver-late-ack", |c| {
            redeliver_late_ack(c).boxed()
        })
        .full("TestJetStreamRedeliverAndLateAck")),
        js(Scenario::new("jetstream/pull-pending-next-timer", |c| {
            pending_next_timer(c).boxed()
        })
        .full("TestJetStreamPendingNextTimer")),
        js(Scenario::new("jetstream/ack-cannot-nak-acked", |c| {
            cannot_nak_acked(c).boxed()
        })
        .full("TestJetStreamCanNotNakAckd")),
        js(Scenario::new("jetstream/pull-no-interest", |c| {
            next_msg_no_interest(c).boxed()
        })
        .full("TestJetStreamNextMsgNoInterest")),
    ]
}

// ---------------------------------------------------------------- helpers

/// The subject a pull request for `consumer` of `stream` is sent to.
pub(super) fn next_subj(stream: &str, consumer: &str) -> String {
    format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}")
}

/// Creates a consumer on `stream` (durable when the config names one): the
/// response, whatever it is.
pub(super) async fn try_consumer(js: &mut Js, stream: &str, cfg: &Value) -> Result<Value> {
    let body = json!({"stream_name": stream, "config": cfg}).to_string();
    let subject = match cfg["durable_name"].as_str() {
        Some(d) => format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{d}"),
        None => format!("$JS.API.CONSUMER.CREATE.{stream}"),
    };
    js.api(&subject, &body).await
}

/// Creates a consumer, which must succeed; returns the response.
pub(super) async fn consumer(js: &mut Js, stream: &str, cfg: Value) -> Result<Value> {
    let r = try_consumer(js, stream, &cfg).await?;
    ensure!(
        r.get("error").is_none(),
        "adding consumer {cfg} on {stream}: {r}"
    );
    Ok(r)
}

/// `$JS.API.CONSUMER.INFO.<stream>.<consumer>`, which must not be an error.
pub(super) async fn cinfo(js: &mut Js, stream: &str, name: &str) -> Result<Value> {
    let r = js
        .api(&format!("$JS.API.CONSUMER.INFO.{stream}.{name}"), "")
        .await?;
    ensure!(r.get("error").is_none(), "info of {stream}/{name}: {r}");
    Ok(r)
}

pub(super) async fn delete_consumer(js: &mut Js, stream: &str, name: &str) -> Result<Value> {
    js.api(&format!("$JS.API.CONSUMER.DELETE.{stream}.{name}"), "")
        .await
}

/// Asks consumer info until `field` (a number) is `want`, for up to 2 s.
pub(super) async fn wait_field(
    js: &mut Js,
    stream: &str,
    name: &str,
    field: &str,
    want: u64,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let info = cinfo(js, stream, name).await?;
        let got = num(&info[field]);
        if got == want {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("{field} of {stream}/{name}: {got}, want {want}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends a pull request for `consumer` with `body`, answered on `reply`.
pub(super) async fn pull(
    js: &mut Js,
    stream: &str,
    consumer: &str,
    body: &str,
    reply: &str,
) -> Result<()> {
    js.send(
        &next_subj(stream, consumer),
        Some(reply),
        &[],
        body.as_bytes(),
    )
    .await
}

/// A pull request for one message (or `body`) whose answer is awaited: the
/// first message on the client's inbox subscription (sid 1), whatever its
/// subject, as for a client's request; 3 s at most.
pub(super) async fn req_next(js: &mut Js, stream: &str, consumer: &str, body: &str) -> Result<Msg> {
    pull(js, stream, consumer, body, "_INBOX.parity.pull").await?;
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = recv_raw(js, left)
            .await?
            .with_context(|| format!("no answer to a pull request of {stream}/{consumer}"))?;
        if m.sid == "1" {
            return Ok(m);
        }
        js.others.push(m);
    }
}

/// Publishes `body` to a message's ack reply subject, with no reply.
pub(super) async fn ack(js: &mut Js, m: &Msg, body: &str) -> Result<()> {
    let reply = m.reply.as_deref().context("message without a reply")?;
    js.send(reply, None, &[], body.as_bytes()).await
}

/// The next message on any subscription but the API inbox, within `wait`
/// (those set aside by the client first).
pub(super) async fn recv(js: &mut Js, wait: Duration) -> Result<Option<Msg>> {
    if !js.others.is_empty() {
        return Ok(Some(js.others.remove(0)));
    }
    recv_raw(js, wait).await
}

/// The next message off the connection, within `wait`.
pub(super) async fn recv_raw(js: &mut Js, wait: Duration) -> Result<Option<Msg>> {
    let deadline = Instant::now() + wait;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        // read_op gives up by itself after 3 s: wait in slices under that.
        let slice = (deadline - now).min(Duration::from_secs(2));
        match tokio::time::timeout(slice, js.conn().read_op()).await {
            Err(_) => continue,
            Ok(op) => match op? {
                Op::Msg(m) => return Ok(Some(m)),
                Op::Ping => js.conn().send("PONG\r\n").await?,
                Op::Pong | Op::Ok => {}
                other => bail!("while waiting for a message: {other:?}"),
            },
        }
    }
}

/// The next message, which must come within `wait`.
pub(super) async fn must(js: &mut Js, wait: Duration) -> Result<Msg> {
    recv(js, wait)
        .await?
        .with_context(|| format!("no message within {wait:?}"))
}

/// `n` messages, all within `wait`.
pub(super) async fn recv_n(js: &mut Js, n: usize, wait: Duration) -> Result<Vec<Msg>> {
    let deadline = Instant::now() + wait;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match recv(js, left).await? {
            Some(m) => out.push(m),
            None => bail!("{} of {n} messages within {wait:?}", out.len()),
        }
    }
    Ok(out)
}

/// No message arrives within `wait`.
pub(super) async fn quiet(js: &mut Js, wait: Duration) -> Result<()> {
    match recv(js, wait).await? {
        None => Ok(()),
        Some(m) => bail!("expected no message, got {}", show(&m)),
    }
}

/// The tokens of an ack reply: (stream, consumer, delivered, stream seq,
/// consumer seq, pending); it must have Go's 9 tokens.
pub(super) fn ack_info(reply: &str) -> Result<(String, String, u64, u64, u64, u64)> {
    let t: Vec<&str> = reply.split('.').collect();
    ensure!(
        t.len() == 9 && t[0] == "$JS" && t[1] == "ACK",
        "not an ack reply: {reply}"
    );
    let n = |i: usize| -> Result<u64> {
        t[i].parse()
            .with_context(|| format!("token {i} of {reply} is not a number"))
    };
    n(7)?;
    Ok((t[2].into(), t[3].into(), n(4)?, n(5)?, n(6)?, n(8)?))
}

/// (stream seq, consumer seq, delivery count) of a delivered message.
pub(super) fn seqs(m: &Msg) -> Result<(u64, u64, u64)> {
    let (_, _, dc, sseq, dseq, _) = ack_info(m.reply.as_deref().context("no reply")?)?;
    Ok((sseq, dseq, dc))
}

/// The pending count of a delivered message's ack reply.
pub(super) fn pending(m: &Msg) -> Result<u64> {
    Ok(ack_info(m.reply.as_deref().context("no reply")?)?.5)
}

/// An ack reply with its timestamp masked.
pub(super) fn mask_reply(reply: &str) -> String {
    let mut t: Vec<&str> = reply.split('.').collect();
    if t.len() == 9 && t[0] == "$JS" && t[1] == "ACK" {
        t[7] = "<ts>";
    }
    t.join(".")
}

/// The first line of a message's header block (`NATS/1.0 404 No Messages`),
/// or empty.
pub(super) fn status(m: &Msg) -> String {
    headers_of(m).lines().next().unwrap_or_default().to_string()
}

/// A message as observed: subject, masked reply, headers and payload. The
/// number of an API inbox (`_INBOX.parity.<n>`) counts the client's earlier
/// requests, polls included: masked.
pub(super) fn show(m: &Msg) -> String {
    let subject = match m.subject.strip_prefix("_INBOX.parity.") {
        Some(_) => "_INBOX.parity.<n>",
        None => m.subject.as_str(),
    };
    format!(
        "{} {} {:?} {:?}",
        subject,
        m.reply.as_deref().map(mask_reply).unwrap_or("-".into()),
        headers_of(m),
        String::from_utf8_lossy(&m.payload)
    )
}

/// Publishes `n` messages on `subject`, each stored.
pub(super) async fn fill(js: &mut Js, subject: &str, payload: &str, n: usize) -> Result<()> {
    for _ in 0..n {
        js.stored(subject, payload).await?;
    }
    Ok(())
}

pub(super) const MS: u64 = 1_000_000;
pub(super) const SEC: Duration = Duration::from_secs(1);

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------- work queue

async fn wq_max_waiting(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "MY_MSG_SET", "storage": storage, "subjects": ["foo", "bar"]}))
            .await?;
        // max_waiting on a push consumer, and a negative one, are refused.
        let push = try_consumer(
            &mut js,
            "MY_MSG_SET",
            &json!({"durable_name": "foo", "ack_policy": "explicit", "max_waiting": 10,
                "deliver_subject": "_INBOX.22"}),
        )
        .await?;
        ensure!(push.get("error").is_some(), "max_waiting on push: {push}");
        ctx.observe(&format!("{storage}: push max_waiting"), api_error(&push));
        let neg = try_consumer(
            &mut js,
            "MY_MSG_SET",
            &json!({"durable_name": "foo", "ack_policy": "explicit", "max_waiting": -1}),
        )
        .await?;
        ensure!(neg.get("error").is_some(), "negative max_waiting: {neg}");
        ctx.observe(&format!("{storage}: negative max_waiting"), api_error(&neg));

        let r = consumer(
            &mut js,
            "MY_MSG_SET",
            json!({"durable_name": "MAXWQ", "ack_policy": "explicit"}),
        )
        .await?;
        check_eq!(num(&r["config"]["max_waiting"]), 512);

        js.sub("req.*", "9").await?;
        let next = next_subj("MY_MSG_SET", "MAXWQ");
        for i in 0..512 {
            js.send(&next, Some(&format!("req.{i}")), &[], b"").await?;
        }
        wait_field(&mut js, "MY_MSG_SET", "MAXWQ", "num_waiting", 512).await?;
        // One more is answered at once with a 409.
        let m = js.request_msg(&next, &[], b"").await?;
        check_eq!(status(&m), "NATS/1.0 409 Exceeded MaxWaiting");
        ctx.observe(&format!("{storage}: 513th request"), show(&m));
        // The waiting requests got nothing.
        quiet(&mut js, ms(200)).await?;
        js.stored("foo", "Hello World!").await?;
        js.stored("bar", "Hello World!").await?;
        wait_field(&mut js, "MY_MSG_SET", "MAXWQ", "num_waiting", 510).await?;
        let got = recv_n(&mut js, 2, SEC).await?;
        check_eq!(
            got.iter().map(|m| m.subject.as_str()).collect::<Vec<_>>(),
            vec!["foo", "bar"]
        );
        js.conn().send("UNSUB 9\r\n").await?;
        js.delete_stream("MY_MSG_SET").await?;
    }
    Ok(())
}

async fn wq_wrap_waiting(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "MY_MSG_SET", "storage": storage, "subjects": ["foo", "bar"]}))
            .await?;
        let max_waiting = 8;
        consumer(
            &mut js,
            "MY_MSG_SET",
            json!({"durable_name": "WRAP", "ack_policy": "explicit", "max_waiting": max_waiting}),
        )
        .await?;
        js.sub("req.*", "9").await?;
        let next = next_subj("MY_MSG_SET", "WRAP");
        for i in 0..max_waiting {
            js.send(&next, Some(&format!("req.{i}")), &[], b"").await?;
        }
        wait_field(&mut js, "MY_MSG_SET", "WRAP", "num_waiting", max_waiting).await?;
        fill(&mut js, "foo", "Hello World!", max_waiting as usize / 2).await?;
        wait_field(
            &mut js,
            "MY_MSG_SET",
            "WRAP",
            "num_waiting",
            max_waiting / 2,
        )
        .await?;
        for i in max_waiting..max_waiting + 2 {
            js.send(&next, Some(&format!("req.{i}")), &[], b"").await?;
        }
        wait_field(
            &mut js,
            "MY_MSG_SET",
            "WRAP",
            "num_waiting",
            max_waiting / 2 + 2,
        )
        .await?;
        fill(&mut js, "bar", "Hello World!", max_waiting as usize / 2 + 2).await?;
        wait_field(&mut js, "MY_MSG_SET", "WRAP", "num_waiting", 0).await?;
        // Every request got one message, in the order they were queued.
        let got = recv_n(&mut js, max_waiting as usize + 2, SEC).await?;
        let replies: Vec<String> = got
            .iter()
            .map(|m| format!("{} {}", m.subject, m.sid))
            .collect();
        ctx.observe(&format!("{storage}: deliveries"), replies.join(","));
        check_eq!(got.len(), max_waiting as usize + 2);
        quiet(&mut js, ms(100)).await?;
        js.conn().send("UNSUB 9\r\n").await?;
        js.delete_stream("MY_MSG_SET").await?;
    }
    Ok(())
}

async fn wq_request(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "MY_MSG_SET", "storage": storage, "subjects": ["foo", "bar"]}))
            .await?;
        consumer(
            &mut js,
            "MY_MSG_SET",
            json!({"durable_name": "WRAP", "ack_policy": "explicit"}),
        )
        .await?;
        let to_send = 25;
        fill(&mut js, "bar", "Hello World!", to_send).await?;
        js.sub("_.consumer._", "9").await?;
        let reply = "_.consumer._";
        pull(&mut js, "MY_MSG_SET", "WRAP", r#"{"batch":25}"#, reply).await?;
        let got = recv_n(&mut js, to_send, SEC).await?;
        check_eq!(got.len(), to_send);
        ctx.observe(&format!("{storage}: first of batch"), show(&got[0]));
        quiet(&mut js, ms(100)).await?;

        // no_wait with nothing pending: a 404 at once.
        let m = js
            .request_msg(
                &next_subj("MY_MSG_SET", "WRAP"),
                &[],
                br#"{"batch":1,"no_wait":true}"#,
            )
            .await?;
        check_eq!(status(&m), "NATS/1.0 404 No Messages");
        ctx.observe(&format!("{storage}: no_wait, none"), show(&m));

        fill(&mut js, "foo", "Hello World!", to_send).await?;
        pull(
            &mut js,
            "MY_MSG_SET",
            "WRAP",
            r#"{"batch":35,"no_wait":true}"#,
            reply,
        )
        .await?;
        // The 25 there, then one status for the rest of the batch: a 408
        // with what is left of it.
        let got = recv_n(&mut js, to_send + 1, SEC).await?;
        for m in &got[..to_send] {
            check_eq!(m.subject, "foo");
        }
        let last = &got[to_send];
        check_eq!(last.payload.len(), 0);
        check_eq!(
            headers_of(last),
            "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 10\r\nNats-Pending-Bytes: 0\r\n\r\n"
        );
        ctx.observe(&format!("{storage}: no_wait, short batch"), show(last));
        quiet(&mut js, ms(100)).await?;
        js.purge("MY_MSG_SET", "").await?;

        // A request that expires: a 408, and later messages do not go to it.
        let expiring = format!(r#"{{"batch":1,"expires":{}}}"#, 100 * MS);
        pull(&mut js, "MY_MSG_SET", "WRAP", &expiring, reply).await?;
        tokio::time::sleep(ms(200)).await;
        js.stored("foo", "Hello World!").await?;
        js.stored("bar", "Hello World!").await?;
        tokio::time::sleep(ms(100)).await;
        let m = must(&mut js, ms(200)).await?;
        check_eq!(m.payload.len(), 0);
        check_eq!(
            headers_of(&m),
            "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\nNats-Pending-Bytes: 0\r\n\r\n"
        );
        ctx.observe(&format!("{storage}: expired"), show(&m));
        quiet(&mut js, ms(100)).await?;
        // A new request gets a message, not a 408.
        pull(&mut js, "MY_MSG_SET", "WRAP", &expiring, reply).await?;
        let m = must(&mut js, SEC).await?;
        check_eq!(m.subject, "foo");
        quiet(&mut js, ms(200)).await?;
        js.conn().send("UNSUB 9\r\n").await?;
        js.delete_stream("MY_MSG_SET").await?;
    }
    Ok(())
}

async fn wq_subject_filtering(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "MY_MSG_SET", "storage": storage, "subjects": ["foo.*"]}))
            .await?;
        for _ in 0..50 {
            js.stored("foo.A", "Hello World!").await?;
            js.stored("foo.B", "Hello World!").await?;
        }
        check_eq!(js.msgs("MY_MSG_SET").await?, 100);
        let r = consumer(
            &mut js,
            "MY_MSG_SET",
            json!({"durable_name": "WQ", "filter_subject": "foo.A", "ack_policy": "explicit"}),
        )
        .await?;
        check_eq!(num(&r["delivered"]["consumer_seq"]), 0);
        js.sub("rq", "9").await?;
        for i in 1..=50u64 {
            pull(&mut js, "MY_MSG_SET", "WQ", "", "rq").await?;
            let m = must(&mut js, SEC).await?;
            check_eq!(m.subject, "foo.A");
            let (sseq, dseq, _) = seqs(&m)?;
            check_eq!((sseq, dseq), (2 * i - 1, i));
            if i == 1 {
                ctx.observe(&format!("{storage}: first"), show(&m));
            }
            ack(&mut js, &m, "").await?;
        }
        js.conn().send("UNSUB 9\r\n").await?;
        js.delete_stream("MY_MSG_SET").await?;
    }
    Ok(())
}

async fn wq_ack_next(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "MY_MSG_SET", "storage": storage, "subjects": ["foo", "bar"]}))
            .await?;
        consumer(
            &mut js,
            "MY_MSG_SET",
            json!({"durable_name": "WQ", "ack_policy": "explicit"}),
        )
        .await?;
        fill(&mut js, "bar", "Hello World!", 100).await?;
        check_eq!(js.msgs("MY_MSG_SET").await?, 100);
        js.sub("inbox.an", "9").await?;
        pull(&mut js, "MY_MSG_SET", "WQ", "", "inbox.an").await?;
        // Each +NXT acks and asks for the next message.
        for i in 1..=100u64 {
            let m = must(&mut js, SEC).await?;
            check_eq!(String::from_utf8_lossy(&m.payload), "Hello World!");
            check_eq!(seqs(&m)?, (i, i, 1));
            let reply = m.reply.clone().context("no reply")?;
            js.send(&reply, Some("inbox.an"), &[], b"+NXT").await?;
        }
        quiet(&mut js, ms(100)).await?;
        let info = cinfo(&mut js, "MY_MSG_SET", "WQ").await?;
        check_eq!(num(&info["ack_floor"]["stream_seq"]), 100);
        js.conn().send("UNSUB 9\r\n").await?;
        js.delete_stream("MY_MSG_SET").await?;
    }
    Ok(())
}

async fn wq_request_batch(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "MY_MSG_SET", "storage": storage, "subjects": ["foo", "bar"]}))
            .await?;
        consumer(
            &mut js,
            "MY_MSG_SET",
            json!({"durable_name": "WQ", "ack_policy": "explicit"}),
        )
        .await?;
        fill(&mut js, "bar", "Hello World!", 100).await?;
        check_eq!(js.msgs("MY_MSG_SET").await?, 100);
        js.sub("inbox.b1", "9").await?;
        // A bare number is the batch: 50 messages with no acks.
        pull(&mut js, "MY_MSG_SET", "WQ", "50", "inbox.b1").await?;
        let got = recv_n(&mut js, 50, SEC).await?;
        check_eq!(got.len(), 50);
        quiet(&mut js, ms(250)).await?;
        js.conn().send("UNSUB 9\r\n").await?;

        // Queued before the messages exist.
        js.sub("inbox.b2", "10").await?;
        js.purge("MY_MSG_SET", "").await?;
        pull(&mut js, "MY_MSG_SET", "WQ", "50", "inbox.b2").await?;
        js.flush().await?;
        fill(&mut js, "bar", "Hello World!", 100).await?;
        let got = recv_n(&mut js, 50, SEC).await?;
        ensure!(got.iter().all(|m| m.sid == "10"), "all on the second inbox");
        quiet(&mut js, ms(250)).await?;
        js.conn().send("UNSUB 10\r\n").await?;
        js.delete_stream("MY_MSG_SET").await?;
    }
    Ok(())
}

async fn wq_ack_wait_redelivery(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "MY_WQ", "storage": storage, "retention": "workqueue"}))
            .await?;
        let to_send = 100u64;
        fill(&mut js, "MY_WQ", "Hello World!", to_send as usize).await?;
        check_eq!(js.msgs("MY_WQ").await?, to_send);
        consumer(
            &mut js,
            "MY_WQ",
            json!({"durable_name": "PBO", "ack_policy": "explicit", "ack_wait": 100 * MS}),
        )
        .await?;
        js.sub("inbox.aw", "9").await?;
        // Consume everything without acking.
        for _ in 0..to_send {
            pull(&mut js, "MY_WQ", "PBO", "", "inbox.aw").await?;
            must(&mut js, SEC).await?;
        }
        check_eq!(js.msgs("MY_WQ").await?, to_send);
        // Now consume and ack: redeliveries, with new consumer sequences.
        for i in 1..=to_send {
            pull(&mut js, "MY_WQ", "PBO", "", "inbox.aw").await?;
            let m = must(&mut js, SEC).await?;
            let (sseq, dseq, dc) = seqs(&m)?;
            check_eq!((sseq, dseq), (i, to_send + i));
            ensure!(dc > 1, "message {i} not marked redelivered: {}", show(&m));
            // AckSync: an ack with a reply gets an empty reply.
            let reply = m.reply.clone().context("no reply")?;
            let r = js.request_msg(&reply, &[], b"+ACK").await?;
            check_eq!((r.headers.is_none(), r.payload.len()), (true, 0));
        }
        quiet(&mut js, ms(50)).await?;
        check_eq!(js.msgs("MY_WQ").await?, 0);
        js.conn().send("UNSUB 9\r\n").await?;
        js.delete_stream("MY_WQ").await?;
    }
    Ok(())
}

/// Pulls one message of `consumer` with a request and checks its stream and
/// consumer sequences.
pub(super) async fn get_msg(
    js: &mut Js,
    stream: &str,
    consumer: &str,
    sseq: u64,
    dseq: u64,
) -> Result<Msg> {
    let m = req_next(js, stream, consumer, "").await?;
    let (s, d, _) = seqs(&m)?;
    check_eq!((s, d), (sseq, dseq));
    Ok(m)
}

async fn wq_nak_redelivery(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "MY_WQ", "storage": storage, "retention": "workqueue"}))
            .await?;
        fill(&mut js, "MY_WQ", "Hello World!", 10).await?;
        check_eq!(js.msgs("MY_WQ").await?, 10);
        consumer(
            &mut js,
            "MY_WQ",
            json!({"durable_name": "PBO", "ack_policy": "explicit"}),
        )
        .await?;
        for i in 1..=5 {
            let m = get_msg(&mut js, "MY_WQ", "PBO", i, i).await?;
            ack(&mut js, &m, "").await?;
        }
        let m = get_msg(&mut js, "MY_WQ", "PBO", 6, 6).await?;
        ack(&mut js, &m, "-NAK").await?;
        js.flush().await?;
        // Acks go through a queue of the consumer's: give it time to take it.
        tokio::time::sleep(ms(50)).await;
        // 6 again, then 7, 8.
        let m = get_msg(&mut js, "MY_WQ", "PBO", 6, 7).await?;
        ctx.observe(&format!("{storage}: after nak"), show(&m));
        get_msg(&mut js, "MY_WQ", "PBO", 7, 8).await?;
        get_msg(&mut js, "MY_WQ", "PBO", 8, 9).await?;
        js.delete_stream("MY_WQ").await?;
    }
    Ok(())
}

async fn wq_working_indicator(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "MY_WQ", "storage": storage, "retention": "workqueue"}))
            .await?;
        fill(&mut js, "MY_WQ", "Hello World!", 2).await?;
        check_eq!(js.msgs("MY_WQ").await?, 2);
        let ack_wait = 200u64;
        consumer(
            &mut js,
            "MY_WQ",
            json!({"durable_name": "PBO", "ack_policy": "explicit", "ack_wait": ack_wait * MS}),
        )
        .await?;
        get_msg(&mut js, "MY_WQ", "PBO", 1, 1).await?;
        tokio::time::sleep(ms(ack_wait * 2)).await;
        let m = get_msg(&mut js, "MY_WQ", "PBO", 1, 2).await?;
        // +WPI for three ack waits keeps it from being redelivered.
        let until = Instant::now() + ms(3 * ack_wait);
        while Instant::now() < until {
            ack(&mut js, &m, "+WPI").await?;
            js.flush().await?;
            tokio::time::sleep(ms(ack_wait / 5)).await;
        }
        let m2 = get_msg(&mut js, "MY_WQ", "PBO", 2, 3).await?;
        tokio::time::sleep(ms(ack_wait / 2)).await;
        ack(&mut js, &m2, "+WPI").await?;
        // 1 comes back first, then 2.
        let m = get_msg(&mut js, "MY_WQ", "PBO", 1, 4).await?;
        ack(&mut js, &m, "").await?;
        get_msg(&mut js, "MY_WQ", "PBO", 2, 5).await?;
        js.delete_stream("MY_WQ").await?;
    }
    Ok(())
}

/// An advisory with its `id` and `timestamp` masked.
pub(super) fn mask_advisory(payload: &[u8]) -> Result<Value> {
    let mut v: Value = serde_json::from_slice(payload).context("advisory is not JSON")?;
    for k in ["id", "timestamp"] {
        if v.get(k).is_some() {
            v[k] = json!("<set>");
        }
    }
    Ok(v)
}

async fn wq_terminate(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "MY_WQ", "storage": storage, "retention": "workqueue"}))
            .await?;
        fill(&mut js, "MY_WQ", "Hello World!", 22).await?;
        check_eq!(js.msgs("MY_WQ").await?, 22);
        let ack_wait = 100u64;
        consumer(
            &mut js,
            "MY_WQ",
            json!({"durable_name": "PBO", "ack_policy": "explicit", "ack_wait": ack_wait * MS}),
        )
        .await?;
        js.sub("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.>", "9")
            .await?;
        get_msg(&mut js, "MY_WQ", "PBO", 1, 1).await?;
        tokio::time::sleep(ms(ack_wait * 2)).await;
        let m = get_msg(&mut js, "MY_WQ", "PBO", 1, 2).await?;
        ack(&mut js, &m, "+TERM").await?;
        tokio::time::sleep(ms(ack_wait * 2)).await;
        // 2 next, not 1.
        get_msg(&mut js, "MY_WQ", "PBO", 2, 3).await?;
        let am = must(&mut js, SEC).await?;
        check_eq!(
            am.subject,
            "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.MY_WQ.PBO"
        );
        let adv = mask_advisory(&am.payload)?;
        check_eq!(adv["stream"], json!("MY_WQ"));
        check_eq!(adv["consumer"], json!("PBO"));
        check_eq!(num(&adv["stream_seq"]), 1);
        check_eq!(num(&adv["consumer_seq"]), 2);
        check_eq!(num(&adv["deliveries"]), 2);
        ctx.observe_json(&format!("{storage}: advisory"), &adv);
        js.conn().send("UNSUB 9\r\n").await?;
        js.delete_stream("MY_WQ").await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- acks

async fn ack_all_redelivery(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "MY_S22", "storage": storage}))
            .await?;
        let to_send = 100usize;
        fill(&mut js, "MY_S22", "Hello World!", to_send).await?;
        check_eq!(js.msgs("MY_S22").await?, to_send as u64);
        js.sub("inbox.all", "9").await?;
        let r = consumer(
            &mut js,
            "MY_S22",
            json!({"deliver_subject": "inbox.all", "ack_wait": 50 * MS, "ack_policy": "all"}),
        )
        .await?;
        let name = r["name"].as_str().context("no name")?.to_string();
        // Five rounds of deliveries, none acked.
        let got = recv_n(&mut js, to_send * 5, 5 * SEC).await?;
        delete_consumer(&mut js, "MY_S22", &name).await?;
        // Each round is redelivered in order.
        for (k, m) in got.iter().enumerate() {
            let (sseq, _, dc) = seqs(m)?;
            check_eq!(
                (sseq, dc),
                ((k % to_send) as u64 + 1, (k / to_send) as u64 + 1)
            );
        }
        js.take_others().await?;
        js.conn().send("UNSUB 9\r\n").await?;
        js.flush().await?;
        js.take_others().await?;
        js.delete_stream("MY_S22").await?;
    }
    Ok(())
}

/// Waits for the consumer's `num_pending` to be `ep + 1`, pulls one message
/// and checks that its ack reply says `ep` are pending.
async fn expect_pending(js: &mut Js, stream: &str, name: &str, ep: u64) -> Result<()> {
    wait_field(js, stream, name, "num_pending", ep + 1).await?;
    let m = req_next(js, stream, name, "").await?;
    check_eq!(pending(&m)?, ep);
    Ok(())
}

async fn ack_reply_pending(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(
            json!({"name": "MY_WQ", "subjects": ["foo.*"], "storage": storage,
            "max_age": 250 * MS, "retention": "workqueue"}),
        )
        .await?;
        let to_send = 100u64;
        fill(&mut js, "foo.1", "Hello World!", to_send as usize).await?;
        check_eq!(js.msgs("MY_WQ").await?, to_send);
        consumer(
            &mut js,
            "MY_WQ",
            json!({"durable_name": "PBO", "ack_policy": "explicit"}),
        )
        .await?;
        expect_pending(&mut js, "MY_WQ", "PBO", to_send - 1).await?;
        fill(&mut js, "foo.1", "Hello World!", to_send as usize).await?;
        expect_pending(&mut js, "MY_WQ", "PBO", to_send * 2 - 2).await?;
        js.purge("MY_WQ", "").await?;
        js.stored("foo.1", "Hello World!").await?;
        expect_pending(&mut js, "MY_WQ", "PBO", 0).await?;
        fill(&mut js, "foo.22", "Hello World!", to_send as usize).await?;
        expect_pending(&mut js, "MY_WQ", "PBO", to_send - 1).await?;
        // Deleting a consumed message does not count; one not yet
        // delivered does.
        let first = num(&js.state("MY_WQ").await?["first_seq"]);
        js.msg_delete("MY_WQ", &json!({"seq": first}).to_string())
            .await?;
        expect_pending(&mut js, "MY_WQ", "PBO", to_send - 2).await?;
        js.msg_delete("MY_WQ", r#"{"seq":250}"#).await?;
        expect_pending(&mut js, "MY_WQ", "PBO", to_send - 4).await?;

        // Expiration.
        js.purge("MY_WQ", "").await?;
        fill(&mut js, "foo.1", "Hello World!", to_send as usize).await?;
        let deadline = Instant::now() + SEC;
        while js.msgs("MY_WQ").await? != 0 {
            ensure!(Instant::now() < deadline, "stream still has messages");
            tokio::time::sleep(ms(10)).await;
        }
        js.stored("foo.33", "Hello World!").await?;
        expect_pending(&mut js, "MY_WQ", "PBO", 0).await?;

        // Filtered consumers.
        delete_consumer(&mut js, "MY_WQ", "PBO").await?;
        consumer(
            &mut js,
            "MY_WQ",
            json!({"durable_name": "PBO-FILTERED", "ack_policy": "explicit",
                "filter_subject": "foo.22"}),
        )
        .await?;
        fill(&mut js, "foo.33", "Hello World!", to_send as usize).await?;
        let info = cinfo(&mut js, "MY_WQ", "PBO-FILTERED").await?;
        check_eq!(num(&info["num_pending"]), 0);
        js.stored("foo.22", "Hello World!").await?;
        expect_pending(&mut js, "MY_WQ", "PBO-FILTERED", 0).await?;
        let mut last = 0;
        for _ in 0..4 {
            last = js.stored("foo.22", "Hello World!").await?;
        }
        expect_pending(&mut js, "MY_WQ", "PBO-FILTERED", 3).await?;
        js.msg_delete("MY_WQ", &json!({"seq": last - 1}).to_string())
            .await?;
        expect_pending(&mut js, "MY_WQ", "PBO-FILTERED", 1).await?;
        fill(&mut js, "foo.22", "Hello World!", to_send as usize).await?;
        expect_pending(&mut js, "MY_WQ", "PBO-FILTERED", 100).await?;
        js.purge("MY_WQ", "").await?;
        js.stored("foo.22", "Hello World!").await?;
        expect_pending(&mut js, "MY_WQ", "PBO-FILTERED", 0).await?;
        js.delete_stream("MY_WQ").await?;
    }
    Ok(())
}

async fn ack_reply_pending_with_acks(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(
            json!({"name": "MY_STREAM", "subjects": ["foo", "bar", "baz"],
            "storage": storage}),
        )
        .await?;
        let to_send = 500u64;
        for _ in 0..to_send {
            js.stored("foo", "Hello Foo!").await?;
            js.stored("bar", "Hello Bar!").await?;
            js.stored("baz", "Hello Baz!").await?;
        }
        check_eq!(js.msgs("MY_STREAM").await?, to_send * 3);
        let r = consumer(
            &mut js,
            "MY_STREAM",
            json!({"durable_name": "D-1", "ack_policy": "explicit", "filter_subject": "foo",
                "deliver_subject": "_d_"}),
        )
        .await?;
        check_eq!(num(&r["num_pending"]), to_send);
        js.sub("_d_", "9").await?;
        let got = recv_n(&mut js, to_send as usize, 2 * SEC).await?;
        check_eq!(got.len() as u64, to_send);
        quiet(&mut js, ms(50)).await?;
        let info = cinfo(&mut js, "MY_STREAM", "D-1").await?;
        check_eq!(num(&info["num_pending"]), 0);
        check_eq!(num(&info["num_ack_pending"]), to_send);
        js.conn().send("UNSUB 9\r\n").await?;
        js.flush().await?;
        js.take_others().await?;
        js.delete_stream("MY_STREAM").await?;
    }
    Ok(())
}

async fn ack_ack(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "ACK-ACK", "storage": "memory"}))
        .await?;
    consumer(
        &mut js,
        "ACK-ACK",
        json!({"durable_name": "worker", "ack_policy": "explicit"}),
    )
    .await?;
    fill(&mut js, "ACK-ACK", "Hello World!", 4).await?;
    // Every kind of ack sent with a reply gets an empty reply.
    for kind in ["+ACK", "-NAK", "+WPI", "+TERM"] {
        let m = req_next(&mut js, "ACK-ACK", "worker", "").await?;
        let reply = m.reply.clone().context("no reply")?;
        let r = js.request_msg(&reply, &[], kind.as_bytes()).await?;
        check_eq!((r.headers.is_none(), r.payload.len()), (true, 0));
        ctx.observe(&format!("{kind}: delivered"), show(&m));
    }
    Ok(())
}

async fn ack_next(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "ACKNXT", "storage": "memory"}))
        .await?;
    consumer(
        &mut js,
        "ACKNXT",
        json!({"durable_name": "worker", "ack_policy": "explicit"}),
    )
    .await?;
    for i in 0..12 {
        js.stored("ACKNXT", &format!("msg {i}")).await?;
    }
    js.sub("inbox.nxt", "9").await?;
    pull(&mut js, "ACKNXT", "worker", "1", "inbox.nxt").await?;
    let m = must(&mut js, SEC).await?;
    let reply = m.reply.clone().context("no reply")?;
    // A bare +NXT means one more.
    js.send(&reply, Some("inbox.nxt"), &[], b"+NXT").await?;
    let m = must(&mut js, SEC).await?;
    quiet(&mut js, ms(100)).await?;
    let info = cinfo(&mut js, "ACKNXT", "worker").await?;
    check_eq!(num(&info["ack_floor"]["stream_seq"]), 1);
    check_eq!(String::from_utf8_lossy(&m.payload), "msg 1");
    // +NXT with a number.
    let reply = m.reply.clone().context("no reply")?;
    js.send(&reply, Some("inbox.nxt"), &[], b"+NXT 5").await?;
    let got = recv_n(&mut js, 5, ms(500)).await?;
    for (k, g) in got.iter().enumerate() {
        check_eq!(
            String::from_utf8_lossy(&g.payload),
            format!("msg {}", k + 2)
        );
    }
    quiet(&mut js, ms(100)).await?;
    // +NXT with a JSON request.
    js.send(&reply, Some("inbox.nxt"), &[], br#"+NXT {"batch": 5}"#)
        .await?;
    let got = recv_n(&mut js, 5, ms(500)).await?;
    for (k, g) in got.iter().enumerate() {
        check_eq!(
            String::from_utf8_lossy(&g.payload),
            format!("msg {}", k + 7)
        );
    }
    let info = cinfo(&mut js, "ACKNXT", "worker").await?;
    check_eq!(num(&info["ack_floor"]["stream_seq"]), 2);
    Ok(())
}

// ---------------------------------------------------------------- interest, redelivery

async fn pull_remove_interest(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "MYS-PULL", "storage": "memory"}))
        .await?;
    consumer(
        &mut js,
        "MYS-PULL",
        json!({"durable_name": "worker", "ack_policy": "explicit"}),
    )
    .await?;
    // A request with nothing there waits; its client goes away.
    let mut gone = Js::connect(&ctx, &s).await?;
    gone.sub("gone.inbox", "9").await?;
    pull(&mut gone, "MYS-PULL", "worker", "", "gone.inbox").await?;
    quiet(&mut gone, ms(10)).await?;
    drop(gone);
    wait_field(&mut js, "MYS-PULL", "worker", "num_waiting", 0).await?;

    js.stored("MYS-PULL", "Hello World!").await?;
    let m = req_next(&mut js, "MYS-PULL", "worker", "").await?;
    let (_, dseq, dc) = seqs(&m)?;
    check_eq!((dseq, dc), (1, 1));

    // Old-style requests: ten inboxes subscribed, asked with, unsubscribed.
    for i in 0..10 {
        old_request(&mut js, "MYS-PULL", "worker", i).await?;
    }
    js.flush().await?;
    js.stored("MYS-PULL", "Hello World!").await?;
    let m = req_next(&mut js, "MYS-PULL", "worker", "").await?;
    let (_, dseq, dc) = seqs(&m)?;
    check_eq!((dseq, dc), (2, 1));
    check_eq!(js.others.len(), 0);
    Ok(())
}

async fn max_deliveries(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "MY_WQ", "storage": storage}))
            .await?;
        js.stored("MY_WQ", "Hello World!").await?;
        js.sub("inbox.md", "9").await?;
        let max_deliver = 5;
        let ack_wait = 50u64;
        let r = consumer(
            &mut js,
            "MY_WQ",
            json!({"deliver_subject": "inbox.md", "ack_policy": "explicit",
                "ack_wait": ack_wait * MS, "max_deliver": max_deliver}),
        )
        .await?;
        let got = recv_n(&mut js, max_deliver, SEC).await?;
        for (k, m) in got.iter().enumerate() {
            check_eq!(seqs(m)?, (1, k as u64 + 1, k as u64 + 1));
        }
        // No more than max_deliver.
        quiet(&mut js, ms(4 * ack_wait)).await?;
        let name = r["name"].as_str().context("no name")?.to_string();
        delete_consumer(&mut js, "MY_WQ", &name).await?;
        js.conn().send("UNSUB 9\r\n").await?;
        js.delete_stream("MY_WQ").await?;
    }
    Ok(())
}

/// Reads deliveries until every stream sequence of `seqs` was delivered
/// `max` times (by the delivery count of its ack reply; none over `max`),
/// within `wait`.
async fn until_delivered(js: &mut Js, want: &[u64], max: u64, wait: Duration) -> Result<()> {
    let deadline = Instant::now() + wait;
    let mut top: std::collections::BTreeMap<u64, u64> = Default::default();
    while !want.iter().all(|s| top.get(s) == Some(&max)) {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = recv(js, left)
            .await?
            .with_context(|| format!("deliveries by stream sequence: {top:?}"))?;
        let (sseq, _, dc) = seqs(&m)?;
        ensure!(dc <= max, "delivered {dc} times: {}", show(&m));
        let e = top.entry(sseq).or_default();
        *e = (*e).max(dc);
    }
    Ok(())
}

async fn max_delivery_restart(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let created = js.create(json!({"name": "MYS", "storage": "file"})).await?["created"].clone();
    let max = 3;
    let r = consumer(
        &mut js,
        "MYS",
        json!({"durable_name": "TO", "deliver_subject": "D.TO", "ack_policy": "explicit",
            "ack_wait": 100 * MS, "max_deliver": max}),
    )
    .await?;
    let consumer_created = r["created"].clone();
    js.sub("D.TO", "9").await?;
    js.stored("MYS", "order-1").await?;
    until_delivered(&mut js, &[1], max, 2 * SEC).await?;
    js.stored("MYS", "order-2").await?;
    // Its first delivery and one redelivery.
    let got = recv_n(&mut js, 2, SEC).await?;
    check_eq!(
        got.iter().map(seqs).collect::<Result<Vec<_>>>()?,
        vec![(2, 4, 1), (2, 5, 2)]
    );

    s.restart().await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.sub("D.TO", "9").await?;
    check_eq!(js.msgs("MYS").await?, 2);
    js.stored("MYS", "order-3").await?;
    check_eq!(js.msgs("MYS").await?, 3);
    s.restart().await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.sub("D.TO", "9").await?;
    check_eq!(js.msgs("MYS").await?, 3);
    // Each order reaches max deliveries and no more, across the restarts.
    until_delivered(&mut js, &[2, 3], max, 3 * SEC).await?;
    quiet(&mut js, ms(300)).await?;

    // Created times are restored.
    let info = js.info("MYS").await?;
    check_eq!(info["created"], created);
    let ci = cinfo(&mut js, "MYS", "TO").await?;
    let before = crate::kit::js::time_of(&consumer_created)?;
    let after = crate::kit::js::time_of(&ci["created"])?;
    let skew = after
        .duration_since(before)
        .unwrap_or_else(|e| e.duration());
    ensure!(skew <= ms(5), "consumer created {skew:?} apart");
    Ok(())
}

async fn redelivery_after_restart(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "MYQ", "storage": "file"})).await?;
    let to_send = 25;
    fill(&mut js, "MYQ", "Hello World!", to_send).await?;
    check_eq!(js.msgs("MYQ").await?, to_send as u64);
    js.sub("inbox.rr", "9").await?;
    consumer(
        &mut js,
        "MYQ",
        json!({"durable_name": "TO", "deliver_subject": "inbox.rr",
            "ack_policy": "explicit", "ack_wait": 100 * MS}),
    )
    .await?;
    recv_n(&mut js, to_send, ms(500)).await?;
    s.restart().await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.sub("inbox.rr", "9").await?;
    // All 25 again, unacked.
    let got = recv_n(&mut js, to_send, 2 * SEC).await?;
    for (k, m) in got.iter().enumerate() {
        let (sseq, _, dc) = seqs(m)?;
        check_eq!(sseq, k as u64 + 1);
        ensure!(dc >= 2, "not a redelivery: {}", show(m));
    }
    Ok(())
}

async fn delivery_after_restart(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(
        json!({"name": "MY_STREAM", "storage": "file", "subjects": ["foo.>"],
        "retention": "interest"}),
    )
    .await?;
    let cfg = |inbox: &str| {
        json!({"durable_name": "dur", "deliver_subject": inbox, "deliver_policy": "new",
            "ack_policy": "explicit"})
    };
    consumer(&mut js, "MY_STREAM", cfg("inbox.one")).await?;
    js.sub("inbox.one", "9").await?;
    js.stored("foo.bar", "msg1").await?;
    let m = must(&mut js, ms(250)).await?;
    ack(&mut js, &m, "").await?;
    js.flush().await?;
    drop(js);
    s.restart().await?;

    let mut js = Js::connect(&ctx, &s).await?;
    // The same durable with a new deliver subject.
    consumer(&mut js, "MY_STREAM", cfg("inbox.two")).await?;
    js.stored("foo.bar", "msg2").await?;
    js.sub("inbox.two", "9").await?;
    let m = must(&mut js, ms(500)).await?;
    check_eq!(String::from_utf8_lossy(&m.payload), "msg2");
    ctx.observe("after restart", show(&m));
    Ok(())
}

async fn redeliver_count(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "DC", "storage": storage})).await?;
        for _ in 0..10 {
            js.publish("DC", "OK!").await?;
        }
        js.flush().await?;
        check_eq!(js.msgs("DC").await?, 10);
        consumer(
            &mut js,
            "DC",
            json!({"durable_name": "WQ", "ack_policy": "explicit"}),
        )
        .await?;
        for i in 1..=10u64 {
            let m = req_next(&mut js, "DC", "WQ", "").await?;
            // Stream sequence 1 every time, its count going up.
            check_eq!(seqs(&m)?, (1, i, i));
            ack(&mut js, &m, "-NAK").await?;
            js.flush().await?;
            // Go hands acks to a queue of their own: a pull sent at once
            // can overtake the NAK.
            tokio::time::sleep(ms(20)).await;
        }
        js.delete_stream("DC").await?;
    }
    Ok(())
}

async fn redeliver_late_ack(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "LA", "storage": "memory"}))
        .await?;
    consumer(
        &mut js,
        "LA",
        json!({"durable_name": "DDD", "ack_policy": "explicit", "ack_wait": 100 * MS}),
    )
    .await?;
    js.stored("LA", "Hello World!").await?;
    let m = req_next(&mut js, "LA", "DDD", "").await?;
    tokio::time::sleep(ms(150)).await;
    // Acked after its ack wait, with no request waiting: not sent back.
    let reply = m.reply.clone().context("no reply")?;
    let r = js.request_msg(&reply, &[], b"+ACK").await?;
    check_eq!(r.payload.len(), 0);
    pull(&mut js, "LA", "DDD", "", "_INBOX.parity.late").await?;
    quiet(&mut js, ms(100)).await?;
    Ok(())
}

async fn pending_next_timer(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "NT", "storage": "memory", "subjects": ["ORDERS.*"]}))
        .await?;
    consumer(
        &mut js,
        "NT",
        json!({"durable_name": "DDD", "ack_policy": "explicit",
            "filter_subject": "ORDERS.test", "ack_wait": 100 * MS}),
    )
    .await?;
    // Three rounds of a client that takes two and goes away unacked.
    for round in 0..3u64 {
        let mut c = Js::connect(&ctx, &s).await?;
        c.stored("ORDERS.test", "Hello World! #1").await?;
        c.stored("ORDERS.test", "Hello World! #2").await?;
        for _ in 0..2 {
            let m = req_next(&mut c, "NT", "DDD", "").await?;
            ctx.observe(&format!("round {round}"), show(&m));
        }
        drop(c);
        tokio::time::sleep(ms(200)).await;
    }
    Ok(())
}

async fn cannot_nak_acked(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "DC", "storage": storage})).await?;
        for _ in 0..10 {
            js.publish("DC", "OK!").await?;
        }
        js.flush().await?;
        check_eq!(js.msgs("DC").await?, 10);
        consumer(
            &mut js,
            "DC",
            json!({"durable_name": "WQ", "ack_policy": "explicit"}),
        )
        .await?;
        for i in 1..=10u64 {
            let m = req_next(&mut js, "DC", "WQ", "").await?;
            if i % 2 == 0 {
                ack(&mut js, &m, "").await?;
            }
        }
        js.flush().await?;
        // NAKs of acked messages (and of one never delivered) deliver
        // nothing.
        for seq in [2, 4, 6, 8, 10, 22] {
            js.send(&format!("$JS.A.DC.WQ.1.{seq}.{seq}"), None, &[], b"-NAK")
                .await?;
            js.flush().await?;
            pull(
                &mut js,
                "DC",
                "WQ",
                r#"{"expires":10000000}"#,
                "_INBOX.parity.nak",
            )
            .await?;
            let m = must(&mut js, SEC).await?;
            check_eq!(m.payload.len(), 0);
            ensure!(
                status(&m).starts_with("NATS/1.0 408"),
                "after a bad NAK of {seq}: {}",
                show(&m)
            );
        }
        js.delete_stream("DC").await?;
    }
    Ok(())
}

/// A pull request the way old clients made one: its inbox subscribed, the
/// request sent, the inbox unsubscribed before any answer.
pub(super) async fn old_request(js: &mut Js, stream: &str, consumer: &str, i: usize) -> Result<()> {
    let text = format!(
        "SUB old.{i} o{i}\r\nPUB {} old.{i} 0\r\n\r\n",
        next_subj(stream, consumer)
    );
    js.conn().send(&text).await?;
    // It times out with no answer.
    quiet(js, ms(2)).await?;
    js.conn().send(&format!("UNSUB o{i}\r\n")).await
}

async fn next_msg_no_interest(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "foo", "storage": storage, "max_age": 3_600_000_000_000u64}))
            .await?;
        consumer(
            &mut js,
            "foo",
            json!({"durable_name": "WQ", "ack_policy": "explicit"}),
        )
        .await?;
        // An old-style request: its inbox is gone right after.
        old_request(&mut js, "foo", "WQ", 100).await?;
        js.flush().await?;
        js.publish("foo", "OK").await?;
        let m = req_next(&mut js, "foo", "WQ", "").await?;
        ack(&mut js, &m, "").await?;
        for i in 0..10 {
            old_request(&mut js, "foo", "WQ", i).await?;
        }
        for _ in 0..10 {
            js.publish("foo", "OK").await?;
        }
        js.flush().await?;
        for _ in 0..10 {
            let m = req_next(&mut js, "foo", "WQ", "").await?;
            ack(&mut js, &m, "").await?;
        }
        js.flush().await?;
        tokio::time::sleep(ms(50)).await;
        let info = cinfo(&mut js, "foo", "WQ").await?;
        check_eq!(num(&info["ack_floor"]["stream_seq"]), 11);
        check_eq!(num(&info["num_ack_pending"]), 0);
        js.delete_stream("foo").await?;
    }
    Ok(())
}
