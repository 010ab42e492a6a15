//! Scenarios for JetStream consumers on one server, from
//! server/jetstream_test.go: their config and CRUD (names and durables,
//! start options, deliver subjects, errors), filters and `num_pending`,
//! push consumers losing and regaining interest, restarts, purges, the
//! interest and work-queue retentions, replay and rate limits.
//!
//! The Go tests add consumers in-process (`mset.addConsumer`) and read
//! their state (`o.info()`, `o.isActive()`, `mset.numConsumers()`); here
//! every consumer is made through the API (`$JS.API.CONSUMER.CREATE.<stream>`
//! for an ephemeral, `$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>`
//! for a durable) and its state is read back through
//! `$JS.API.CONSUMER.INFO.<stream>.<name>` (`o.isActive()` of a push consumer
//! is its `push_bound`) or the stream's `state.consumer_count`. Messages are
//! read by a raw client that sees each MSG line: the subject is the stream
//! subject, the reply is the ack subject
//! `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>`,
//! whose timestamp (and an ephemeral's name) is masked in observations. A
//! pull (`nc.Request(o.requestNextMsgSubject(), nil, ...)`) is a publish on
//! `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` with a reply subject the
//! client subscribes. A restart is a graceful restart on the same store.

use crate::check_eq;
use crate::kit::js::{api_err, js_server, num, scrub, Js, STORAGES};
use crate::kit::{Ctx, Msg, Op, Server};
use crate::registry::{Need, Scenario};
use anyhow::{bail, ensure, Context, Result};
use futures::FutureExt;
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime};

pub fn scenarios() -> Vec<Scenario> {
    let js = |s: Scenario| s.needs(Need::JetStream);
    vec![
        js(Scenario::new("jetstream/consumer-name-and-durable", |c| {
            name_and_durable(c).boxed()
        })
        .full("TestJetStreamConsumerWithNameAndDurable")),
        js(
            Scenario::new("jetstream/consumer-start-time", |c| start_time(c).boxed())
                .full("TestJetStreamConsumerWithStartTime"),
        ),
        js(
            Scenario::new("jetstream/consumer-multiple-start-options", |c| {
                multiple_start_options(c).boxed()
            })
            .full("TestJetStreamConsumerWithMultipleStartOptions"),
        ),
        js(Scenario::new("jetstream/consumer-create-errors", |c| {
            create_consumer(c).boxed()
        })
        .full("TestJetStreamCreateConsumer")),
        js(
            Scenario::new("jetstream/consumer-basic-deliver-subject", |c| {
                basic_deliver_subject(c).boxed()
            })
            .full("TestJetStreamBasicDeliverSubject"),
        ),
        js(Scenario::new("jetstream/consumer-basic-work-queue", |c| {
            basic_work_queue(c).boxed()
        })
        .full("TestJetStreamBasicWorkQueue")),
        js(Scenario::new("jetstream/consumer-subject-filtering", |c| {
            subject_filtering(c).boxed()
        })
        .full("TestJetStreamSubjectFiltering")),
        js(Scenario::new("jetstream/consumer-wildcard-filtering", |c| {
            wildcard_filtering(c).boxed()
        })
        .full("TestJetStreamWildcardSubjectFiltering")),
        js(
            Scenario::new("jetstream/consumer-ephemeral-recovery-restart", |c| {
                ephemeral_recovery(c).boxed()
            })
            .full("TestJetStreamEphemeralConsumerRecoveryAfterServerRestart"),
        ),
        js(Scenario::new("jetstream/consumer-delete-and-restart", |c| {
            delete_and_restart(c).boxed()
        })
        .full("TestJetStreamDeleteConsumerAndServerRestart")),
        js(Scenario::new("jetstream/consumer-active-delivery", |c| {
            active_delivery(c).boxed()
        })
        .full("TestJetStreamActiveDelivery")),
        js(Scenario::new("jetstream/consumer-ephemeral-inactive", |c| {
            ephemeral_consumers(c).boxed()
        })
        .full("TestJetStreamEphemeralConsumers")),
        js(Scenario::new("jetstream/consumer-reconnect", |c| {
            consumer_reconnect(c).boxed()
        })
        .full("TestJetStreamConsumerReconnect")),
        js(Scenario::new("jetstream/consumer-durable-reconnect", |c| {
            durable_reconnect(c).boxed()
        })
        .full("TestJetStreamDurableConsumerReconnect")),
        js(
            Scenario::new("jetstream/consumer-durable-reconnect-only-pending", |c| {
                reconnect_only_pending(c).boxed()
            })
            .full("TestJetStreamDurableConsumerReconnectWithOnlyPending"),
        ),
        js(
            Scenario::new("jetstream/consumer-durable-filtered-reconnect", |c| {
                durable_filtered_reconnect(c).boxed()
            })
            .full("TestJetStreamDurableFilteredSubjectConsumerReconnect"),
        ),
        js(
            Scenario::new("jetstream/consumer-inactive-no-deadlock", |c| {
                inactive_no_deadlock(c).boxed()
            })
            .full("TestJetStreamConsumerInactiveNoDeadlock"),
        ),
        js(
            Scenario::new("jetstream/consumer-metadata", |c| metadata(c).boxed())
                .full("TestJetStreamMetadata"),
        ),
        js(Scenario::new("jetstream/consumer-stream-purge", |c| {
            purge_with_consumer(c).boxed()
        })
        .full("TestJetStreamStreamPurgeWithConsumer")),
        js(
            Scenario::new("jetstream/consumer-stream-purge-redelivery", |c| {
                purge_with_redelivery(c).boxed()
            })
            .full("TestJetStreamStreamPurgeWithConsumerAndRedelivery"),
        ),
        js(Scenario::new("jetstream/consumer-interest-filtered", |c| {
            interest_filtered(c).boxed()
        })
        .full("TestJetStreamInterestRetentionStreamWithFilteredConsumers")),
        js(
            Scenario::new("jetstream/consumer-interest-wildcards-filtered", |c| {
                interest_wildcards_filtered(c).boxed()
            })
            .full("TestJetStreamInterestRetentionWithWildcardsAndFilteredConsumers"),
        ),
        js(
            Scenario::new("jetstream/consumer-work-queue-retention", |c| {
                work_queue_retention(c).boxed()
            })
            .full("TestJetStreamWorkQueueRetentionStream"),
        ),
        js(
            Scenario::new("jetstream/consumer-interest-durable-restart", |c| {
                interest_durable_restart(c).boxed()
            })
            .full("TestJetStreamInterestRetentionStreamWithDurableRestart"),
        ),
        js(
            Scenario::new("jetstream/consumer-replay-rate", |c| replay_rate(c).boxed())
                .partial("TestJetStreamConsumerReplayRate"),
        ),
        js(Scenario::new("jetstream/consumer-replay-rate-no-ack", |c| {
            replay_rate_no_ack(c).boxed()
        })
        .full("TestJetStreamConsumerReplayRateNoAck")),
        js(
            Scenario::new("jetstream/consumer-replay-quit", |c| replay_quit(c).boxed())
                .full("TestJetStreamConsumerReplayQuit"),
        ),
        js(
            Scenario::new("jetstream/consumer-rate-limit", |c| rate_limit(c).boxed())
                .full("TestJetStreamConsumerRateLimit"),
        ),
        js(
            Scenario::new("jetstream/consumer-filter-subject-stored", |c| {
                filter_subject_stored(c).boxed()
            })
            .partial("TestJetStreamConsumerFilterSubject"),
        ),
        js(Scenario::new("jetstream/consumer-wider-filters", |c| {
            wider_filters(c).boxed()
        })
        .partial("TestJetStreamFilteredConsumersWithWiderFilter")),
        js(Scenario::new("jetstream/consumer-create-error-texts", |c| {
            create_error_texts(c).boxed()
        })
        .partial("TestJetStreamTemplatedErrorsBug")
        .partial("TestJetStreamBadConsumerCreateErr")
        .partial("TestJetStreamInvalidDeliverSubject")),
        js(
            Scenario::new("jetstream/consumer-push-bound", |c| push_bound(c).boxed())
                .partial("TestJetStreamConsumerPushBound"),
        ),
        js(
            Scenario::new("jetstream/consumer-per-subject-pending", |c| {
                per_subject_pending(c).boxed()
            })
            .partial("TestJetStreamPerSubjectPending"),
        ),
        js(Scenario::new("jetstream/consumer-headers-only", |c| {
            headers_only(c).boxed()
        })
        .partial("TestJetStreamConsumerNoMsgPayload")),
        js(Scenario::new("jetstream/consumer-purge-filtered", |c| {
            purge_filtered(c).boxed()
        })
        .partial("TestJetStreamPurgeAndFilteredConsumers")),
        js(
            Scenario::new("jetstream/consumer-update-survives-restart", |c| {
                update_survival(c).boxed()
            })
            .full("TestJetStreamConsumerUpdateSurvival"),
        ),
        js(
            Scenario::new("jetstream/consumer-interest-retention-bug", |c| {
                interest_retention_bug(c).boxed()
            })
            .partial("TestJetStreamInterestRetentionBug"),
        ),
        js(Scenario::new("jetstream/consumer-last-per-subject", |c| {
            last_per_subject(c).boxed()
        })
        .partial("TestJetStreamDeliverLastPerSubject")
        .partial("TestJetStreamDeliverLastPerSubjectNumPending")
        .partial("TestJetStreamConsumerNumPendingWithMaxPerSubjectGreaterThanOne")),
        js(
            Scenario::new("jetstream/consumer-purge-redelivers-new", |c| {
                purge_effects_delivery(c).boxed()
            })
            .partial("TestJetStreamPurgeEffectsConsumerDelivery"),
        ),
        js(
            Scenario::new("jetstream/consumer-deliver-new-restart", |c| {
                deliver_new_restart(c).boxed()
            })
            .full("TestJetStreamConsumerDeliverNewNotConsumingBeforeRestart"),
        ),
        js(
            Scenario::new("jetstream/consumer-update-filter-subject", |c| {
                update_filter_subject(c).boxed()
            })
            .partial("TestJetStreamConsumerUpdateFilterSubject"),
        ),
    ]
}

// ---------------------------------------------------------------- helpers

/// The subscription (and its subject) pulled messages arrive on.
const PULL: &str = "PULL";
const PULL_INBOX: &str = "_PULL.parity";

/// How long a message is waited for.
const WAIT: Duration = Duration::from_secs(2);

/// The create request of `cfg` on `stream`: the durable form when it names a
/// durable, the ephemeral form otherwise. Returns the response, whatever it is.
async fn try_add(js: &mut Js, stream: &str, cfg: Value) -> Result<Value> {
    let subject = match cfg["durable_name"].as_str() {
        Some(d) => format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{d}"),
        None => format!("$JS.API.CONSUMER.CREATE.{stream}"),
    };
    let body = json!({"stream_name": stream, "config": cfg});
    js.api(&subject, &body.to_string()).await
}

/// Creates a consumer, which must succeed; returns its name.
async fn add(js: &mut Js, stream: &str, cfg: Value) -> Result<String> {
    let r = try_add(js, stream, cfg.clone()).await?;
    ensure!(
        r.get("error").is_none(),
        "creating consumer {cfg} on {stream}: {r}"
    );
    r["name"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("create response without name: {r}"))
}

/// `$JS.API.CONSUMER.INFO.<stream>.<name>`: the response, whatever it is.
async fn try_info(js: &mut Js, stream: &str, name: &str) -> Result<Value> {
    js.api(&format!("$JS.API.CONSUMER.INFO.{stream}.{name}"), "")
        .await
}

/// The info of a consumer, which must exist.
async fn cinfo(js: &mut Js, stream: &str, name: &str) -> Result<Value> {
    let r = try_info(js, stream, name).await?;
    ensure!(
        r.get("error").is_none(),
        "info of consumer {name} on {stream}: {r}"
    );
    Ok(r)
}

/// `$JS.API.CONSUMER.DELETE.<stream>.<name>`, which must succeed.
async fn cdelete(js: &mut Js, stream: &str, name: &str) -> Result<()> {
    let r = js
        .api(&format!("$JS.API.CONSUMER.DELETE.{stream}.{name}"), "")
        .await?;
    check_eq!(r["success"], json!(true));
    Ok(())
}

/// The stream's `state.consumer_count` (`mset.numConsumers()`).
async fn consumers(js: &mut Js, stream: &str) -> Result<u64> {
    Ok(num(&js.state(stream).await?["consumer_count"]))
}

/// `push_bound` of a push consumer's info (`o.isActive()`).
async fn bound(js: &mut Js, stream: &str, name: &str) -> Result<bool> {
    Ok(cinfo(js, stream, name).await?["push_bound"] == json!(true))
}

/// Polls `push_bound` until it is `want`, for at most `wait`.
async fn wait_bound(
    js: &mut Js,
    stream: &str,
    name: &str,
    want: bool,
    wait: Duration,
) -> Result<()> {
    let deadline = Instant::now() + wait;
    loop {
        if bound(js, stream, name).await? == want {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "push_bound of {name} still not {want} after {wait:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls the stream's consumer count until it is `want`, for at most `wait`.
async fn wait_consumers(js: &mut Js, stream: &str, want: u64, wait: Duration) -> Result<()> {
    let deadline = Instant::now() + wait;
    loop {
        let n = consumers(js, stream).await?;
        if n == want {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "Expected number of consumers to be {want}, got {n}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The next message of subscription `sid` within `wait` (those set aside
/// while waiting for API replies first); other messages are set aside.
async fn recv(js: &mut Js, sid: &str, wait: Duration) -> Result<Option<Msg>> {
    if let Some(i) = js.others.iter().position(|m| m.sid == sid) {
        return Ok(Some(js.others.remove(i)));
    }
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        let op = match tokio::time::timeout(left.min(Duration::from_secs(2)), js.conn().read_op())
            .await
        {
            Err(_) => continue,
            Ok(op) => op?,
        };
        match op {
            Op::Msg(m) if m.sid == sid => return Ok(Some(m)),
            Op::Msg(m) => js.others.push(m),
            Op::Ping => js.conn().send("PONG\r\n").await?,
            Op::Err(e) => bail!("waiting for a message on {sid}: -ERR {e}"),
            _ => {}
        }
    }
}

/// The next message of `sid`, which must come within [`WAIT`].
async fn expect_msg(js: &mut Js, sid: &str) -> Result<Msg> {
    recv(js, sid, WAIT)
        .await?
        .with_context(|| format!("no message on {sid} within {WAIT:?}"))
}

/// `n` messages of `sid`, each within [`WAIT`].
async fn expect_msgs(js: &mut Js, sid: &str, n: usize) -> Result<Vec<Msg>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let m = recv(js, sid, WAIT)
            .await?
            .with_context(|| format!("Did not receive correct number of messages: {i} vs {n}"))?;
        out.push(m);
    }
    Ok(out)
}

/// Nothing more on `sid` within `wait`.
async fn expect_none(js: &mut Js, sid: &str, wait: Duration) -> Result<()> {
    if let Some(m) = recv(js, sid, wait).await? {
        bail!("Expected no msg, got {m:?}");
    }
    Ok(())
}

/// The tokens of an ack reply subject.
#[derive(Debug, Clone, PartialEq)]
struct AckInfo {
    stream: String,
    consumer: String,
    delivered: u64,
    sseq: u64,
    dseq: u64,
    ts: i64,
    pending: u64,
}

fn ack_info(m: &Msg) -> Result<AckInfo> {
    let reply = m
        .reply
        .as_deref()
        .context("delivered message without reply")?;
    let t: Vec<&str> = reply.split('.').collect();
    ensure!(
        t.len() == 9 && t[0] == "$JS" && t[1] == "ACK",
        "not an ack reply: {reply}"
    );
    let n = |i: usize| -> Result<u64> {
        t[i].parse()
            .with_context(|| format!("token {i} of {reply} is not a number"))
    };
    let ts = t[7]
        .parse()
        .with_context(|| format!("the timestamp of {reply} is not a number"))?;
    Ok(AckInfo {
        stream: t[2].to_string(),
        consumer: t[3].to_string(),
        delivered: n(4)?,
        sseq: n(5)?,
        dseq: n(6)?,
        ts,
        pending: n(8)?,
    })
}

/// The consumer sequence of a delivered message (`o.seqFromReply`).
fn dseq(m: &Msg) -> Result<u64> {
    Ok(ack_info(m)?.dseq)
}

/// The stream sequence of a delivered message (`o.streamSeqFromReply`).
fn sseq(m: &Msg) -> Result<u64> {
    Ok(ack_info(m)?.sseq)
}

/// A delivered message as a line for observations: subject, payload and ack
/// reply with its timestamp (and `name`, an ephemeral's) masked.
fn shown(m: &Msg, name: Option<&str>) -> String {
    let reply = m.reply.as_deref().unwrap_or("-");
    let mut t: Vec<String> = reply.split('.').map(str::to_string).collect();
    if t.len() == 9 {
        t[7] = "<ts>".into();
        if name.is_some_and(|n| n == t[3]) {
            t[3] = "<name>".into();
        }
    }
    format!(
        "{} {} {}",
        m.subject,
        t.join("."),
        String::from_utf8_lossy(&m.payload)
    )
}

/// Acks a delivered message with an empty publish on its reply (`m.Respond(nil)`).
async fn ack(js: &mut Js, m: &Msg) -> Result<()> {
    let reply = m.reply.clone().context("delivered message without reply")?;
    js.publish(&reply, "").await
}

/// Subscribes the pull inbox.
async fn pull_sub(js: &mut Js) -> Result<()> {
    js.sub(PULL_INBOX, PULL).await
}

/// Sends a pull request of `body` for `consumer` (replies on the pull inbox).
async fn pull_req(js: &mut Js, stream: &str, consumer: &str, body: &str) -> Result<()> {
    js.send(
        &format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"),
        Some(PULL_INBOX),
        &[],
        body.as_bytes(),
    )
    .await
}

/// Pulls one message (`nc.Request(o.requestNextMsgSubject(), nil, ...)`).
async fn next(js: &mut Js, stream: &str, consumer: &str) -> Result<Msg> {
    pull_req(js, stream, consumer, "").await?;
    expect_msg(js, PULL).await
}

/// A consumer's info for observations: times masked, `name` (an ephemeral's)
/// replaced, wherever it appears.
fn masked(v: &Value, name: Option<&str>) -> Value {
    fn walk(v: &Value, name: Option<&str>) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| {
                        let v = match k.as_str() {
                            "last_active" | "opt_start_time" => json!("<time>"),
                            _ => walk(v, name),
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(|v| walk(v, name)).collect()),
            Value::String(s) if name.is_some_and(|n| n == s) => json!("<name>"),
            other => other.clone(),
        }
    }
    walk(&scrub(v), name)
}

/// `(code, err_code, description)` of a response that must be an error.
fn err_of(r: &Value) -> Result<(u64, u64, String)> {
    ensure!(r.get("error").is_some(), "expected an error, got {r}");
    Ok(api_err(r))
}

/// Now as Go writes a time in JSON (RFC 3339 with nanoseconds, UTC).
fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_nanos(t).to_string()
}

/// A new raw JetStream client, on a server that may have just restarted.
async fn reconnect(ctx: &Ctx, s: &Server) -> Result<Js> {
    Js::connect(ctx, s).await
}

// ---------------------------------------------------------------- config and CRUD

/// TestJetStreamConsumerWithNameAndDurable: a durable and a name may both be
/// set when they are the same; when they differ, the create fails.
async fn name_and_durable(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let r = js
        .create(json!({"name": "foo", "description": "foo asset"}))
        .await
        .context("Unexpected error adding stream")?;
    check_eq!(r["config"]["description"], json!("foo asset"));
    // The new create form, with the same durable and name.
    let same = json!({"stream_name": "foo", "config": {"deliver_subject": "to",
        "durable_name": "consumer", "name": "consumer", "ack_policy": "none"}});
    let r = js
        .api("$JS.API.CONSUMER.CREATE.foo.consumer", &same.to_string())
        .await?;
    check_eq!(api_err(&r), (0, 0, String::new()));
    check_eq!(r["name"], json!("consumer"));
    ctx.observe_json("same durable and name", &masked(&r, None));
    // Different: the durable form reaches the config check.
    let differ = json!({"stream_name": "foo", "config": {"deliver_subject": "to",
        "durable_name": "durable", "name": "name", "ack_policy": "none"}});
    let r = js
        .api(
            "$JS.API.CONSUMER.DURABLE.CREATE.foo.durable",
            &differ.to_string(),
        )
        .await?;
    let e = err_of(&r)?;
    ensure!(
        e.2.contains("Consumer Durable and Name have to be equal"),
        "Wrong error while adding consumer with not matching Name and Durable: {r}"
    );
    check_eq!(
        e,
        (
            400,
            10132,
            "Consumer Durable and Name have to be equal if both are provided".to_string()
        )
    );
    ctx.observe_json("durable form, durable and name differ", &r);
    // The new form checks the durable against the name of the subject.
    let r = js
        .api("$JS.API.CONSUMER.CREATE.foo.name", &differ.to_string())
        .await?;
    ctx.observe_json("new form, durable and name differ", &r);
    err_of(&r)?;
    Ok(())
}

/// TestJetStreamConsumerWithStartTime: a deliver-by-start-time consumer
/// starts at the first message stored at or after the time.
async fn start_time(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "my_stream", "storage": storage}))
            .await
            .context("Unexpected error adding stream")?;
        let to_send = 250;
        for i in 0..to_send {
            js.stored("my_stream", &format!("MSG: {}", i + 1)).await?;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        let start = rfc3339(SystemTime::now());
        for i in 0..to_send {
            js.stored("my_stream", &format!("MSG: {}", i + 1)).await?;
        }
        check_eq!(js.msgs("my_stream").await?, 2 * to_send);
        let name = add(
            &mut js,
            "my_stream",
            json!({"durable_name": "d", "deliver_policy": "by_start_time",
                "opt_start_time": start, "ack_policy": "explicit"}),
        )
        .await?;
        pull_sub(&mut js).await?;
        let m = next(&mut js, "my_stream", &name).await?;
        let a = ack_info(&m)?;
        check_eq!(a.dseq, 1);
        check_eq!(a.sseq, to_send + 1);
        ctx.observe(&format!("{storage}: first"), shown(&m, None));
        let info = cinfo(&mut js, "my_stream", "d").await?;
        ctx.observe_json(&format!("{storage}: info"), &masked(&info, None));
    }
    Ok(())
}

/// TestJetStreamConsumerWithMultipleStartOptions: the legacy ephemeral create
/// subject with a durable gets an answer (an error), not silence.
async fn multiple_start_options(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "my_stream", "subjects": ["foo.>"], "storage": storage}))
            .await
            .context("Unexpected error adding stream")?;
        let req = json!({"stream_name": "my_stream", "config": {"durable_name": "d",
            "deliver_policy": "last", "filter_subject": "foo.22", "ack_policy": "explicit"}});
        let r = js
            .ask(
                "$JS.API.CONSUMER.CREATE.my_stream",
                &req.to_string(),
                Duration::from_secs(1),
            )
            .await?
            .json()?;
        ctx.observe_json(&format!("{storage}: response"), &r);
        check_eq!(
            api_err(&r),
            (
                400,
                10020,
                "consumer expected to be ephemeral but a durable name was set in request"
                    .to_string()
            )
        );
    }
    Ok(())
}

/// TestJetStreamCreateConsumer: the create errors of deliver subjects, cycles
/// and start positions on a work-queue stream; an ephemeral with interest;
/// a durable created twice, then with only its deliver subject changed.
async fn create_consumer(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(
            json!({"name": "foo", "storage": storage, "subjects": ["foo", "bar"],
            "retention": "workqueue"}),
        )
        .await
        .context("Unexpected error adding stream")?;
        let mut errors = Vec::new();
        let now = rfc3339(SystemTime::now());
        let bad = [
            // Pull mode on a work queue needs explicit acks.
            json!({}),
            // Literal delivery subject required.
            json!({"deliver_subject": "foo.*"}),
            // Cycles.
            json!({"deliver_subject": "foo"}),
            json!({"deliver_subject": "bar"}),
            json!({"deliver_subject": "*"}),
            // Start position conflicts.
            json!({"deliver_subject": "A", "opt_start_seq": 1, "opt_start_time": now}),
            json!({"deliver_subject": "A", "opt_start_time": now}),
        ];
        for cfg in bad {
            let r = try_add(&mut js, "foo", cfg.clone()).await?;
            let e = err_of(&r).with_context(|| format!("Expected an error for {cfg}"))?;
            errors.push(format!("{} {} {}", e.0, e.1, e.2));
        }
        check_eq!(
            errors,
            vec![
                "400 10084 consumer in pull mode requires ack policy",
                "400 10079 consumer deliver subject has wildcards",
                "400 10081 consumer deliver subject forms a cycle",
                "400 10081 consumer deliver subject forms a cycle",
                "400 10079 consumer deliver subject has wildcards",
                "400 10094 consumer delivery policy is deliver all, but optional start sequence is also set",
                "400 10094 consumer delivery policy is deliver all, but optional start time is also set",
            ]
        );
        ctx.observe(&format!("{storage}: errors"), errors.join("\n"));
        // An ephemeral with interest on its deliver subject.
        js.sub("_INBOX.delivery", "D").await?;
        let name = add(
            &mut js,
            "foo",
            json!({"deliver_subject": "_INBOX.delivery", "ack_policy": "explicit"}),
        )
        .await
        .context("Expected no error with registered interest")?;
        check_eq!(name.len(), 8);
        cdelete(&mut js, "foo", &name)
            .await
            .context("Expected no error on delete")?;
        // A durable, twice.
        let mut dcfg = json!({"durable_name": "ddd", "deliver_subject": "_INBOX.delivery", "ack_policy": "explicit"});
        let first = try_add(&mut js, "foo", dcfg.clone()).await?;
        check_eq!(api_err(&first), (0, 0, String::new()));
        let second = try_add(&mut js, "foo", dcfg.clone()).await?;
        check_eq!(api_err(&second), (0, 0, String::new()));
        ctx.observe_json(&format!("{storage}: durable"), &masked(&first, None));
        // Only the deliver subject changed, and not active.
        js.conn().send("UNSUB D\r\n").await?;
        js.sub("d.d.d", "D2").await?;
        dcfg["deliver_subject"] = json!("d.d.d");
        let third = try_add(&mut js, "foo", dcfg).await?;
        check_eq!(api_err(&third), (0, 0, String::new()));
        check_eq!(third["config"]["deliver_subject"], json!("d.d.d"));
    }
    Ok(())
}

/// TestJetStreamBasicDeliverSubject: a push consumer delivers with the
/// stream subject and its consumer sequence in the reply; deliver last,
/// by start sequence, and a queue group.
async fn basic_deliver_subject(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "MSET", "storage": storage, "subjects": ["foo.*"]}))
            .await
            .context("Unexpected error adding stream")?;
        let mut to_send = 100u64;
        for i in 1..=to_send {
            js.stored("foo.bar", &i.to_string()).await?;
        }
        check_eq!(js.msgs("MSET").await?, to_send);
        let mut js2 = Js::connect(&ctx, &s).await?;
        js2.sub("_INBOX.d", "D").await?;
        let name = add(&mut js2, "MSET", json!({"deliver_subject": "_INBOX.d"}))
            .await
            .context("Expected no error with registered interest")?;
        async fn check_msgs(js2: &mut Js, sid: &str, n: u64, seq_off: u64) -> Result<Vec<Msg>> {
            let msgs = expect_msgs(js2, sid, n as usize).await?;
            for (i, m) in msgs.iter().enumerate() {
                // The subject is the stream's, not the deliver subject.
                check_eq!(m.subject, "foo.bar");
                check_eq!(dseq(m)?, i as u64 + seq_off);
                ack(js2, m).await?;
            }
            Ok(msgs)
        }
        let msgs = check_msgs(&mut js2, "D", to_send, 1).await?;
        ctx.observe(&format!("{storage}: first"), shown(&msgs[0], Some(&name)));
        for i in to_send + 1..=to_send * 2 {
            js.stored("foo.bar", &i.to_string()).await?;
        }
        check_eq!(js.msgs("MSET").await?, to_send * 2);
        check_msgs(&mut js2, "D", to_send, 101).await?;
        expect_none(&mut js2, "D", Duration::from_millis(50)).await?;
        cdelete(&mut js2, "MSET", &name).await?;

        // Deliver last: one message, consumer sequence 1, the last sent.
        let name = add(
            &mut js2,
            "MSET",
            json!({"deliver_subject": "_INBOX.d", "deliver_policy": "last"}),
        )
        .await?;
        let m = expect_msg(&mut js2, "D")
            .await
            .context("Did not get expected message")?;
        check_eq!(dseq(&m)?, 1);
        check_eq!(String::from_utf8_lossy(&m.payload), "200");
        ctx.observe(&format!("{storage}: last"), shown(&m, Some(&name)));
        expect_none(&mut js2, "D", Duration::from_millis(50)).await?;
        cdelete(&mut js2, "MSET", &name).await?;

        // By sequence.
        let name = add(
            &mut js2,
            "MSET",
            json!({"deliver_subject": "_INBOX.d", "deliver_policy": "by_start_sequence",
                "opt_start_seq": 101}),
        )
        .await?;
        let msgs = check_msgs(&mut js2, "D", to_send, 1).await?;
        check_eq!(sseq(&msgs[0])?, 101);
        ctx.observe(
            &format!("{storage}: by sequence"),
            shown(&msgs[0], Some(&name)),
        );

        // Push to a queue group.
        js2.sub("_qg_ dev", "Q").await?;
        add(
            &mut js2,
            "MSET",
            json!({"deliver_subject": "_qg_", "deliver_group": "dev"}),
        )
        .await
        .context("Expected no error with registered interest")?;
        to_send *= 2;
        check_msgs(&mut js2, "Q", to_send, 1).await?;
    }
    Ok(())
}

/// TestJetStreamBasicWorkQueue: a pull consumer hands out the stored
/// messages one by one, and waits for the next one when there is none.
async fn basic_work_queue(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "MY_MSG_SET", "storage": storage, "subjects": ["foo", "bar"]}))
            .await
            .context("Unexpected error adding stream")?;
        let name = add(
            &mut js,
            "MY_MSG_SET",
            json!({"durable_name": "WQ", "ack_policy": "explicit"}),
        )
        .await
        .context("Expected no error with registered interest")?;
        let info = cinfo(&mut js, "MY_MSG_SET", &name).await?;
        // Starting at sequence 1: nothing delivered yet.
        check_eq!(
            info["delivered"],
            json!({"consumer_seq": 0, "stream_seq": 0})
        );
        ctx.observe_json(&format!("{storage}: info"), &masked(&info, None));
        let to_send = 100u64;
        for _ in 0..to_send {
            js.stored("bar", "Hello World!").await?;
        }
        check_eq!(js.msgs("MY_MSG_SET").await?, to_send);
        pull_sub(&mut js).await?;
        async fn get_next(js: &mut Js, seqno: u64) -> Result<Msg> {
            let m = next(js, "MY_MSG_SET", "WQ")
                .await
                .with_context(|| format!("Unexpected error for seq {seqno}"))?;
            check_eq!(m.subject, "bar");
            check_eq!(dseq(&m)?, seqno);
            Ok(m)
        }
        for i in 1..=to_send {
            let m = get_next(&mut js, i).await?;
            if i == 1 {
                ctx.observe(&format!("{storage}: first"), shown(&m, None));
            }
        }
        // A message published while the request waits.
        let next_delay = Duration::from_millis(50);
        let mut publisher = Js::connect(&ctx, &s).await?;
        let start = Instant::now();
        let sender = tokio::spawn(async move {
            tokio::time::sleep(next_delay).await;
            publisher.stored("bar", "Hello World!").await?;
            Ok::<Js, anyhow::Error>(publisher)
        });
        get_next(&mut js, to_send + 1).await?;
        ensure!(
            start.elapsed() >= next_delay,
            "Received message too quickly"
        );
        let mut publisher = sender.await??;
        // Waiting for new ones while they are sent.
        let sender = tokio::spawn(async move {
            tokio::time::sleep(next_delay).await;
            for _ in 0..to_send {
                publisher.stored("bar", "Hello World!").await?;
            }
            Ok::<(), anyhow::Error>(())
        });
        for i in to_send + 2..to_send * 2 + 2 {
            get_next(&mut js, i).await?;
        }
        sender.await??;
    }
    Ok(())
}

/// TestJetStreamSubjectFiltering: a filtered push consumer gets only its
/// subject, numbered from 1.
async fn subject_filtering(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "MSET", "storage": storage, "subjects": ["foo.*"]}))
            .await
            .context("Unexpected error adding stream")?;
        let to_send = 50u64;
        for _ in 0..to_send {
            js.stored("foo.A", "Hello World!").await?;
            js.stored("foo.B", "Hello World!").await?;
        }
        check_eq!(js.msgs("MSET").await?, to_send * 2);
        js.sub("_INBOX.d", "D").await?;
        let name = add(
            &mut js,
            "MSET",
            json!({"deliver_subject": "_INBOX.d", "filter_subject": "foo.B"}),
        )
        .await
        .context("Expected no error with registered interest")?;
        for i in 1..=to_send {
            let m = expect_msg(&mut js, "D").await?;
            check_eq!(m.subject, "foo.B");
            check_eq!(dseq(&m)?, i);
            if i == 1 {
                ctx.observe(&format!("{storage}: first"), shown(&m, Some(&name)));
            }
            ack(&mut js, &m).await?;
        }
        expect_none(&mut js, "D", Duration::from_millis(50)).await?;
    }
    Ok(())
}

/// TestJetStreamWildcardSubjectFiltering: filters with wildcards. The Go test
/// ships 25 random orders; here every fourth one.
async fn wildcard_filtering(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "ORDERS", "storage": storage, "subjects": ["orders.*.*"]}))
            .await
            .context("Unexpected error adding stream")?;
        let to_send = 100;
        for i in 1..=to_send {
            js.stored(&format!("orders.{i}.NEW"), "new order").await?;
        }
        let shipped: Vec<u64> = (0..25).map(|i| 1 + 4 * i).collect();
        for id in &shipped {
            js.stored(&format!("orders.{id}.SHIPPED"), "shipped order")
                .await?;
        }
        check_eq!(js.msgs("ORDERS").await?, to_send + 25);
        js.sub("_INBOX.d", "D").await?;
        let cases = [
            ("orders.*.SHIPPED".to_string(), 25usize),
            ("orders.*.NEW".to_string(), to_send as usize),
            (format!("orders.{}.*", shipped[3]), 2),
        ];
        for (filter, n) in cases {
            add(
                &mut js,
                "ORDERS",
                json!({"deliver_subject": "_INBOX.d", "filter_subject": filter}),
            )
            .await
            .context("Expected no error with registered interest")?;
            let msgs = expect_msgs(&mut js, "D", n).await?;
            expect_none(&mut js, "D", Duration::from_millis(50))
                .await
                .with_context(|| format!("Expected no pending for {filter}"))?;
            let subjects: Vec<&str> = msgs.iter().map(|m| m.subject.as_str()).collect();
            let pattern = regex::Regex::new(&format!(
                "^{}$",
                filter.replace('.', "\\.").replace('*', "[^.]+")
            ))?;
            ensure!(
                subjects.iter().all(|s| pattern.is_match(s)),
                "{filter}: got {subjects:?}"
            );
            ctx.observe(
                &format!("{storage}: {filter}"),
                format!(
                    "{} msgs, first {}, last {}",
                    n,
                    subjects[0],
                    subjects[n - 1]
                ),
            );
        }
    }
    Ok(())
}

/// TestJetStreamEphemeralConsumerRecoveryAfterServerRestart: an ephemeral
/// push consumer survives restarts, stays ephemeral, becomes active again
/// when its deliver subject has interest, and goes away once the
/// connection is gone (after its inactive threshold: 1 s here, where the Go
/// test sets 10 ms in-process).
async fn ephemeral_recovery(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "MYS", "storage": "file"}))
        .await
        .context("Unexpected error adding stream")?;
    js.sub("_INBOX.eph", "D").await?;
    let name = add(
        &mut js,
        "MYS",
        json!({"deliver_subject": "_INBOX.eph", "ack_policy": "explicit",
            "inactive_threshold": 1_000_000_000u64}),
    )
    .await
    .context("Error creating consumer")?;
    for _ in 0..100 {
        js.stored("MYS", "Hello World!").await?;
    }
    check_eq!(js.msgs("MYS").await?, 100);
    for _ in 0..=6 {
        let m = expect_msg(&mut js, "D").await?;
        ack(&mut js, &m).await?;
    }
    js.flush().await?;
    // Go keeps the generated name out of the live config (it is stored
    // with the consumer, so the recovered config has it after a restart).
    let info = cinfo(&mut js, "MYS", &name).await?;
    ctx.observe_json(
        "before restart: config",
        &masked(&info["config"], Some(&name)),
    );
    for round in 0..2 {
        s.restart().await?;
        js = reconnect(&ctx, &s).await?;
        js.sub("_INBOX.eph", "D").await?;
        let info = cinfo(&mut js, "MYS", &name)
            .await
            .with_context(|| format!("Error looking up consumer {name}"))?;
        ensure!(
            info["config"].get("durable_name").is_none(),
            "Expected no durable to be set: {info}"
        );
        wait_bound(&mut js, "MYS", &name, true, Duration::from_secs(1))
            .await
            .context("Consumer not active")?;
        let info = cinfo(&mut js, "MYS", &name).await?;
        check_eq!(num(&info["ack_floor"]["stream_seq"]), 7);
        ctx.observe_json(
            &format!("restart {round}: info"),
            &masked(&info, Some(&name)),
        );
    }
    // Gone with the connection, after the threshold.
    drop(js);
    let mut other = reconnect(&ctx, &s).await?;
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let r = try_info(&mut other, "MYS", &name).await?;
        if r.get("error").is_some() {
            ctx.observe_json("after the connection closed", &masked(&r, Some(&name)));
            check_eq!(api_err(&r), (404, 10014, "consumer not found".to_string()));
            break;
        }
        ensure!(Instant::now() < deadline, "Consumer still active");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// TestJetStreamDeleteConsumerAndServerRestart: a deleted durable does not
/// come back after a restart.
async fn delete_and_restart(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "MYQ", "storage": "file"}))
        .await
        .context("Unexpected error adding stream")?;
    add(
        &mut js,
        "MYQ",
        json!({"durable_name": "WQ", "ack_policy": "explicit"}),
    )
    .await
    .context("Expected no error with registered interest")?;
    cdelete(&mut js, "MYQ", "WQ").await?;
    check_eq!(consumers(&mut js, "MYQ").await?, 0);
    s.restart().await?;
    let mut js = reconnect(&ctx, &s).await?;
    check_eq!(consumers(&mut js, "MYQ").await?, 0);
    let r = try_info(&mut js, "MYQ", "WQ").await?;
    check_eq!(api_err(&r), (404, 10014, "consumer not found".to_string()));
    ctx.observe_json("info of the deleted durable after restart", &r);
    Ok(())
}

/// TestJetStreamActiveDelivery: a durable push consumer made without
/// interest delivers as soon as its deliver subject gets a subscriber.
async fn active_delivery(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "ADS", "storage": storage, "subjects": ["foo.*"]}))
            .await
            .context("Unexpected error adding stream")?;
        let to_send = 100;
        for _ in 0..to_send {
            js.stored("foo.22", "Hello World!").await?;
        }
        check_eq!(js.msgs("ADS").await?, to_send);
        add(
            &mut js,
            "ADS",
            json!({"durable_name": "to", "deliver_subject": "d"}),
        )
        .await
        .context("Expected no error with registered interest")?;
        check_eq!(bound(&mut js, "ADS", "to").await?, false);
        js.sub("d", "D").await?;
        let msgs = expect_msgs(&mut js, "D", to_send as usize).await?;
        check_eq!(sseq(&msgs[99])?, 100);
        ctx.observe(&format!("{storage}: first"), shown(&msgs[0], None));
    }
    Ok(())
}

/// TestJetStreamEphemeralConsumers: an ephemeral push consumer is active
/// while its deliver subject has interest; without it, it stays a while,
/// then goes (its inactive threshold, 100 ms as the Go test sets it).
async fn ephemeral_consumers(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "EP", "storage": storage, "subjects": ["foo.*"]}))
            .await
            .context("Unexpected error adding stream")?;
        js.sub("_INBOX.ep", "D").await?;
        let name = add(
            &mut js,
            "EP",
            json!({"deliver_subject": "_INBOX.ep", "inactive_threshold": 100_000_000u64}),
        )
        .await?;
        ensure!(
            bound(&mut js, "EP", &name).await?,
            "Expected the consumer to be considered active"
        );
        check_eq!(consumers(&mut js, "EP").await?, 1);
        js.stored("foo.22", "").await?;
        let m = expect_msg(&mut js, "D").await?;
        ctx.observe(&format!("{storage}: delivered"), shown(&m, Some(&name)));
        js.conn().send("UNSUB D\r\n").await?;
        wait_bound(&mut js, "EP", &name, false, Duration::from_secs(1))
            .await
            .context("Expected the ephemeral consumer to be considered inactive")?;
        // Still there for a while, in case the subscriber comes back.
        check_eq!(consumers(&mut js, "EP").await?, 1);
        wait_consumers(&mut js, "EP", 0, Duration::from_secs(1)).await?;
    }
    Ok(())
}

/// TestJetStreamConsumerReconnect: an ephemeral push consumer picks up where
/// it was when a subscriber comes back on its deliver subject.
async fn consumer_reconnect(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "ET", "storage": storage, "subjects": ["foo.*"]}))
            .await
            .context("Unexpected error adding stream")?;
        js.sub("_INBOX.rc", "D1").await?;
        let name = add(
            &mut js,
            "ET",
            json!({"deliver_subject": "_INBOX.rc", "ack_policy": "explicit"}),
        )
        .await?;
        ensure!(
            bound(&mut js, "ET", &name).await?,
            "Expected the consumer to be considered active"
        );
        check_eq!(consumers(&mut js, "ET").await?, 1);
        async fn get_msg(js: &mut Js, sid: &str, seqno: u64) -> Result<Msg> {
            let m = expect_msg(js, sid)
                .await
                .with_context(|| format!("Unexpected error for {seqno}"))?;
            check_eq!(dseq(&m)?, seqno);
            ack(js, &m).await?;
            Ok(m)
        }
        js.publish("foo.22", "OK!").await?;
        get_msg(&mut js, "D1", 1).await?;
        js.conn().send("UNSUB D1\r\n").await?;
        js.sub("_INBOX.rc", "D2").await?;
        js.publish("foo.22", "OK!").await?;
        let m = get_msg(&mut js, "D2", 2).await?;
        ctx.observe(&format!("{storage}: second"), shown(&m, Some(&name)));
        js.conn().send("UNSUB D2\r\n").await?;
        wait_bound(&mut js, "ET", &name, false, Duration::from_secs(1))
            .await
            .context("Consumer is still active")?;
        for _ in 0..=7 {
            js.publish("foo.22", "OK!").await?;
        }
        js.flush().await?;
        js.sub("_INBOX.rc", "D3").await?;
        for i in 3..=10 {
            get_msg(&mut js, "D3", i).await?;
        }
    }
    Ok(())
}

/// TestJetStreamDurableConsumerReconnect: a durable push consumer without
/// interest takes a new deliver subject and redelivers what was not acked.
async fn durable_reconnect(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "DT", "storage": storage, "subjects": ["foo.*"]}))
            .await
            .context("Unexpected error adding stream")?;
        let cfg = |subj: &str| {
            json!({"durable_name": "d22", "deliver_subject": subj, "ack_policy": "explicit",
                "ack_wait": 50_000_000u64})
        };
        add(&mut js, "DT", cfg("_INBOX.one")).await?;
        let to_send = 10u64;
        for _ in 0..to_send {
            js.publish("foo.22", "OK!").await?;
        }
        js.sub("_INBOX.one", "D1").await?;
        async fn get_msg(js: &mut Js, sid: &str, seqno: u64) -> Result<Msg> {
            let m = expect_msg(js, sid).await?;
            check_eq!(sseq(&m)?, seqno);
            ack(js, &m).await?;
            Ok(m)
        }
        for i in 1..=to_send / 2 {
            get_msg(&mut js, "D1", i).await?;
        }
        js.conn().send("UNSUB D1\r\n").await?;
        wait_bound(&mut js, "DT", "d22", false, Duration::from_secs(1))
            .await
            .context("Consumer is still active")?;
        // What arrived for the old subscription is dropped.
        js.others.retain(|m| m.sid != "D1");
        js.sub("_INBOX.two", "D2").await?;
        add(&mut js, "DT", cfg("_INBOX.two"))
            .await
            .context("Unexpected error trying to add a new durable consumer")?;
        for i in to_send / 2 + 1..=to_send {
            let m = get_msg(&mut js, "D2", i).await?;
            if i == to_send {
                ctx.observe(
                    &format!("{storage}: last"),
                    format!("{} sseq {}", m.subject, sseq(&m)?),
                );
            }
        }
    }
    Ok(())
}

/// TestJetStreamDurableConsumerReconnectWithOnlyPending: a durable that gets
/// a new deliver subject redelivers the message it had sent (with a
/// delivery count above 1) and sends the new one.
async fn reconnect_only_pending(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "DT", "storage": storage, "subjects": ["foo.*"]}))
            .await
            .context("Unexpected error adding stream")?;
        let cfg = |subj: &str| {
            json!({"durable_name": "d22", "deliver_subject": subj, "ack_policy": "explicit",
                "ack_wait": 25_000_000u64})
        };
        add(&mut js, "DT", cfg("_INBOX.one")).await?;
        js.publish("foo.22", "1").await?;
        js.sub("_INBOX.one", "D1").await?;
        expect_msg(&mut js, "D1").await?;
        js.conn().send("UNSUB D1\r\n").await?;
        wait_bound(&mut js, "DT", "d22", false, Duration::from_secs(1))
            .await
            .context("Consumer is still active")?;
        js.others.retain(|m| m.sid != "D1");
        js.publish("foo.22", "2").await?;
        add(&mut js, "DT", cfg("_INBOX.two"))
            .await
            .context("Unexpected error trying to add a new durable consumer")?;
        js.sub("_INBOX.two", "D2").await?;
        let mut seen = Vec::new();
        for _ in 0..2 {
            let m = expect_msg(&mut js, "D2").await?;
            let a = ack_info(&m)?;
            ensure!(
                !(a.sseq == 1 && a.delivered == 1),
                "Expected a redelivery count greater then 1 for sseq 1, got {}",
                a.delivered
            );
            ensure!(
                a.sseq == 1 || a.sseq == 2,
                "Expected stream sequence of 1 or 2 but got {}",
                a.sseq
            );
            seen.push(a.sseq);
        }
        seen.sort();
        check_eq!(seen, vec![1, 2]);
        ctx.observe(&format!("{storage}: stream sequences"), format!("{seen:?}"));
    }
    Ok(())
}

/// TestJetStreamDurableFilteredSubjectConsumerReconnect: a filtered durable
/// starting at the last message of its filter, with acks of every other
/// message and the redelivery of the rest.
async fn durable_filtered_reconnect(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "DT", "storage": storage, "subjects": ["foo.*"]}))
            .await
            .context("Unexpected error adding stream")?;
        async fn send_msgs(js: &mut Js, to_send: u64) -> Result<()> {
            for i in 0..to_send {
                let subj = if i % 2 == 0 { "foo.AA" } else { "foo.ZZ" };
                js.publish(subj, "OK!").await?;
            }
            js.flush().await
        }
        let to_send = 50u64;
        send_msgs(&mut js, to_send).await?;
        add(
            &mut js,
            "DT",
            json!({"durable_name": "d33", "deliver_subject": "_INBOX.d33",
                "filter_subject": "foo.AA", "deliver_policy": "last",
                "ack_policy": "explicit", "ack_wait": 100_000_000u64}),
        )
        .await?;
        js.sub("_INBOX.d33", "D").await?;
        // The stream sequence of consumer sequence `seq` is 2*seq + off.
        let mut store_base_off = 47u64;
        async fn get_msg(js: &mut Js, seq: u64, off: u64) -> Result<Msg> {
            let m = expect_msg(js, "D").await?;
            let a = ack_info(&m)?;
            check_eq!(a.dseq, seq);
            check_eq!(a.sseq, 2 * seq + off);
            ensure!(
                a.delivered == 1,
                "Expected message to not be marked as redelivered"
            );
            Ok(m)
        }
        async fn get_redelivered(js: &mut Js, seq: u64) -> Result<Msg> {
            let m = expect_msg(js, "D").await?;
            let a = ack_info(&m)?;
            check_eq!(a.dseq, seq);
            ensure!(
                a.delivered >= 2,
                "Expected message to be marked as redelivered"
            );
            ack(js, &m).await?;
            Ok(m)
        }
        let m = get_msg(&mut js, 1, store_base_off).await?;
        ctx.observe(&format!("{storage}: first"), shown(&m, None));
        ack(&mut js, &m).await?;
        send_msgs(&mut js, to_send).await?;
        check_eq!(js.msgs("DT").await?, to_send * 2);
        let mut next_seq = 2;
        let mut no_acks = 0;
        for i in 0..to_send / 2 {
            let m = get_msg(&mut js, next_seq, store_base_off).await?;
            if i % 2 == 0 {
                ack(&mut js, &m).await?;
            } else {
                no_acks += 1;
            }
            next_seq += 1;
        }
        for i in 0..no_acks {
            let m = get_redelivered(&mut js, next_seq).await?;
            if i == 0 {
                let a = ack_info(&m)?;
                ctx.observe(
                    &format!("{storage}: first redelivered"),
                    format!("dseq {} sseq {} delivered {}", a.dseq, a.sseq, a.delivered),
                );
            }
            next_seq += 1;
        }
        send_msgs(&mut js, to_send).await?;
        store_base_off -= no_acks * 2;
        for _ in 0..to_send / 2 {
            let m = get_msg(&mut js, next_seq, store_base_off).await?;
            ack(&mut js, &m).await?;
            next_seq += 1;
        }
    }
    Ok(())
}

/// TestJetStreamConsumerInactiveNoDeadlock: a push consumer with 10000
/// messages queued loses its subscriber; the server goes on answering.
async fn inactive_no_deadlock(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "DC", "storage": storage}))
            .await
            .context("Unexpected error adding stream")?;
        for _ in 0..10000 {
            js.publish("DC", "OK!").await?;
        }
        js.flush().await?;
        check_eq!(js.msgs("DC").await?, 10000);
        js.sub("_INBOX.dc", "D").await?;
        let name = add(&mut js, "DC", json!({"deliver_subject": "_INBOX.dc"}))
            .await
            .context("Unexpected error")?;
        for _ in 0..10 {
            expect_msg(&mut js, "D").await?;
        }
        js.conn().send("UNSUB D\r\n").await?;
        js.flush().await?;
        js.others.clear();
        // Still answering, and the consumer is no longer bound.
        wait_bound(&mut js, "DC", &name, false, Duration::from_secs(2)).await?;
        check_eq!(js.msgs("DC").await?, 10000);
        let info = cinfo(&mut js, "DC", &name).await?;
        ctx.observe(
            &format!("{storage}: unbound"),
            format!("push_bound {:?}", info.get("push_bound")),
        );
    }
    Ok(())
}

/// TestJetStreamMetadata: the ack reply of a pulled message carries its
/// stream and consumer sequences, delivery count and the stored time; an
/// acked message of a work queue is gone.
async fn metadata(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "DC", "retention": "workqueue", "storage": storage}))
            .await
            .context("Unexpected error adding stream")?;
        for _ in 0..10 {
            js.publish("DC", "OK!").await?;
            js.flush().await?;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        check_eq!(js.msgs("DC").await?, 10);
        add(
            &mut js,
            "DC",
            json!({"durable_name": "WQ", "ack_policy": "explicit"}),
        )
        .await
        .context("Expected no error with registered interest")?;
        pull_sub(&mut js).await?;
        for i in 1..=10u64 {
            let m = next(&mut js, "DC", "WQ").await?;
            let a = ack_info(&m)?;
            let r = js
                .msg_get("DC", &json!({"seq": a.sseq}).to_string())
                .await
                .context("Could not retrieve stream message")?;
            ensure!(
                r.get("error").is_none() && r.get("message").is_some(),
                "Did not receive correct response: {r}"
            );
            let stored = crate::kit::js::time_of(&r["message"]["time"])?;
            let stored_ns = stored.duration_since(SystemTime::UNIX_EPOCH)?.as_nanos() as i64;
            check_eq!(a.ts, stored_ns);
            check_eq!(a.sseq, i);
            check_eq!(a.dseq, i);
            check_eq!(a.delivered, 1);
            check_eq!(a.pending, 10 - i);
            if i == 1 {
                ctx.observe(&format!("{storage}: first"), shown(&m, None));
            }
            let reply = m.reply.clone().context("no reply")?;
            js.publish(&reply, "+ACK").await?;
        }
        js.flush().await?;
        let r = js.msg_get("DC", &json!({"seq": 1}).to_string()).await?;
        ctx.observe_json(&format!("{storage}: get 1 after ack"), &r);
        check_eq!(api_err(&r), (404, 10037, "no message found".to_string()));
    }
    Ok(())
}

/// Pulls and acks `n` messages of `consumer` (each ack an empty publish).
async fn pull_ack(js: &mut Js, stream: &str, consumer: &str, n: usize) -> Result<()> {
    for _ in 0..n {
        let m = next(js, stream, consumer).await?;
        ack(js, &m).await?;
    }
    Ok(())
}

/// Polls a consumer's info until `ok` holds, for at most a second.
async fn info_until(
    js: &mut Js,
    stream: &str,
    name: &str,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let info = cinfo(js, stream, name).await?;
        if ok(&info) {
            return Ok(info);
        }
        ensure!(Instant::now() < deadline, "{what}: {info}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// TestJetStreamStreamPurgeWithConsumer: a purge clears the consumer's
/// pending acks and moves its delivered and ack floor past the purged
/// messages; new messages are delivered after it.
async fn purge_with_consumer(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "DC", "storage": storage}))
            .await
            .context("Unexpected error adding stream")?;
        for _ in 0..100 {
            js.publish("DC", "OK!").await?;
        }
        js.flush().await?;
        check_eq!(js.msgs("DC").await?, 100);
        add(
            &mut js,
            "DC",
            json!({"durable_name": "WQ", "ack_policy": "explicit"}),
        )
        .await
        .context("Expected no error with registered interest")?;
        pull_sub(&mut js).await?;
        pull_ack(&mut js, "DC", "WQ", 50).await?;
        for _ in 0..25 {
            next(&mut js, "DC", "WQ").await?;
        }
        let info = info_until(&mut js, "DC", "WQ", "Expected ack floor of 50", |i| {
            num(&i["ack_floor"]["consumer_seq"]) == 50
        })
        .await?;
        check_eq!(num(&info["num_ack_pending"]), 25);
        check_eq!(num(&js.purge("DC", "").await?["purged"]), 100);
        check_eq!(js.msgs("DC").await?, 0);
        let info = cinfo(&mut js, "DC", "WQ").await?;
        ctx.observe_json(&format!("{storage}: after purge"), &masked(&info, None));
        check_eq!(num(&info["num_ack_pending"]), 0);
        check_eq!(num(&info["delivered"]["stream_seq"]), 100);
        check_eq!(num(&info["ack_floor"]["stream_seq"]), 100);
        check_eq!(num(&info["ack_floor"]["consumer_seq"]), 75);
        js.stored("DC", "OK-22").await?;
        let m = next(&mut js, "DC", "WQ").await?;
        check_eq!(String::from_utf8_lossy(&m.payload), "OK-22");
        ctx.observe(&format!("{storage}: next"), shown(&m, None));
    }
    Ok(())
}

/// TestJetStreamStreamPurgeWithConsumerAndRedelivery: the same with the
/// unacked messages in redelivery when the purge comes.
async fn purge_with_redelivery(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "DC", "storage": storage}))
            .await
            .context("Unexpected error adding stream")?;
        for _ in 0..100 {
            js.publish("DC", "OK!").await?;
        }
        js.flush().await?;
        check_eq!(js.msgs("DC").await?, 100);
        add(
            &mut js,
            "DC",
            json!({"durable_name": "WQ", "ack_policy": "explicit", "ack_wait": 20_000_000u64}),
        )
        .await
        .context("Expected no error with registered interest")?;
        pull_sub(&mut js).await?;
        for _ in 0..50 {
            next(&mut js, "DC", "WQ").await?;
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
        check_eq!(num(&js.purge("DC", "").await?["purged"]), 100);
        check_eq!(js.msgs("DC").await?, 0);
        let info = cinfo(&mut js, "DC", "WQ").await?;
        // How many 20 ms redeliveries came before the purge is timing.
        let mut shown = masked(&info, None);
        shown["num_redelivered"] = json!("(timing)");
        ctx.observe_json(&format!("{storage}: after purge"), &shown);
        check_eq!(num(&info["num_ack_pending"]), 0);
        check_eq!(num(&info["delivered"]["stream_seq"]), 100);
        check_eq!(num(&info["ack_floor"]["stream_seq"]), 100);
        check_eq!(num(&info["ack_floor"]["consumer_seq"]), 50);
        js.stored("DC", "OK-22").await?;
        let m = next(&mut js, "DC", "WQ").await?;
        check_eq!(String::from_utf8_lossy(&m.payload), "OK-22");
    }
    Ok(())
}

/// Acks a delivered message and waits for the server's empty reply (`m.AckSync()`).
async fn ack_sync(js: &mut Js, m: &Msg) -> Result<()> {
    let reply = m.reply.clone().context("delivered message without reply")?;
    let r = js.request_msg(&reply, &[], b"+ACK").await?;
    check_eq!(r.payload.len(), 0);
    Ok(())
}

/// Polls the stream's message count until it is `want`, for at most a second.
async fn wait_msgs(js: &mut Js, stream: &str, want: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let n = js.msgs(stream).await?;
        if n == want {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "Expected {want} messages, got {n}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// TestJetStreamInterestRetentionStreamWithFilteredConsumers: on an interest
/// stream, a message is gone once the consumer whose filter it matches acks it.
async fn interest_filtered(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "DC", "subjects": ["*"], "storage": storage,
            "retention": "interest"}))
            .await
            .context("Unexpected error adding stream")?;
        // What js.SubscribeSync makes: an ephemeral push consumer, explicit acks.
        for (subj, sid) in [("foo", "F"), ("bar", "B")] {
            let inbox = format!("_INBOX.{sid}");
            js.sub(&inbox, sid).await?;
            add(
                &mut js,
                "DC",
                json!({"deliver_subject": inbox, "filter_subject": subj,
                    "ack_policy": "explicit"}),
            )
            .await
            .context("Unexpected error")?;
        }
        async fn get_and_ack(js: &mut Js, sid: &str) -> Result<()> {
            let m = expect_msg(js, sid)
                .await
                .context("Unexpected error getting msg")?;
            ack_sync(js, &m).await
        }
        let mut states = Vec::new();
        js.stored("foo", "FILTERED").await?;
        check_eq!(js.msgs("DC").await?, 1);
        get_and_ack(&mut js, "F").await?;
        check_eq!(js.msgs("DC").await?, 0);
        js.stored("bar", "FILTERED").await?;
        js.stored("foo", "FILTERED").await?;
        check_eq!(js.msgs("DC").await?, 2);
        get_and_ack(&mut js, "B").await?;
        check_eq!(js.msgs("DC").await?, 1);
        states.push(js.state("DC").await?);
        get_and_ack(&mut js, "F").await?;
        check_eq!(js.msgs("DC").await?, 0);
        states.push(js.state("DC").await?);
        ctx.observe_json(&format!("{storage}: states"), &scrub(&json!(states)));
    }
    Ok(())
}

/// TestJetStreamInterestRetentionWithWildcardsAndFilteredConsumers: without
/// consumers nothing is kept; with a filtered one, only what it matches.
async fn interest_wildcards_filtered(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(
            json!({"name": "DCWC", "subjects": ["foo.*"], "storage": storage,
            "retention": "interest"}),
        )
        .await
        .context("Unexpected error adding stream")?;
        for _ in 0..10 {
            js.stored("foo.bar", "Hello World!").await?;
        }
        check_eq!(js.msgs("DCWC").await?, 0);
        add(
            &mut js,
            "DCWC",
            json!({"durable_name": "ddd", "filter_subject": "foo.bar", "ack_policy": "explicit"}),
        )
        .await
        .context("Unexpected error")?;
        js.stored("foo.bar", "Hello World!").await?;
        let state = js.state("DCWC").await?;
        check_eq!(num(&state["messages"]), 1);
        check_eq!(num(&state["first_seq"]), 11);
        js.stored("foo.baz", "Hello World!").await?;
        let state = js.state("DCWC").await?;
        check_eq!(num(&state["messages"]), 1);
        ctx.observe_json(&format!("{storage}: state"), &scrub(&state));
    }
    Ok(())
}

/// TestJetStreamWorkQueueRetentionStream: the consumer rules of a work
/// queue: deliver all only, one unfiltered consumer, filters that do not
/// overlap (either way round), push consumers under the same rules.
async fn work_queue_retention(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(
            json!({"name": "MWQ", "storage": storage, "subjects": ["MY_WORK_QUEUE.>"],
            "retention": "workqueue"}),
        )
        .await
        .context("Unexpected error adding stream")?;
        let mut errors = Vec::new();
        let mut refused = |r: &Value, what: &str| -> Result<()> {
            let e = err_of(r).with_context(|| what.to_string())?;
            errors.push(format!("{} {} {}", e.0, e.1, e.2));
            Ok(())
        };
        let r = try_add(
            &mut js,
            "MWQ",
            json!({"deliver_policy": "last", "ack_policy": "explicit"}),
        )
        .await?;
        refused(&r, "Expected an error with anything but DeliverAll")?;
        add(
            &mut js,
            "MWQ",
            json!({"durable_name": "PBO", "ack_policy": "explicit"}),
        )
        .await?;
        let r = try_add(&mut js, "MWQ", json!({"ack_policy": "explicit"})).await?;
        refused(
            &r,
            "Expected an error on attempt for second consumer for a workqueue",
        )?;
        cdelete(&mut js, "MWQ", "PBO").await?;
        check_eq!(consumers(&mut js, "MWQ").await?, 0);
        let mut pindex = 0;
        let mut p_config = |filter: &str| {
            pindex += 1;
            json!({"durable_name": format!("PPBO-{pindex}"), "filter_subject": filter,
                "ack_policy": "explicit"})
        };
        let a = add(&mut js, "MWQ", p_config("MY_WORK_QUEUE.A")).await?;
        let b = add(&mut js, "MWQ", p_config("MY_WORK_QUEUE.B")).await?;
        let r = try_add(&mut js, "MWQ", p_config("MY_WORK_QUEUE.A")).await?;
        refused(
            &r,
            "Expected an error on attempt for partitioned consumer for a workqueue",
        )?;
        let r = try_add(&mut js, "MWQ", p_config("MY_WORK_QUEUE.B")).await?;
        refused(
            &r,
            "Expected an error on attempt for partitioned consumer for a workqueue",
        )?;
        let c = add(&mut js, "MWQ", p_config("MY_WORK_QUEUE.C")).await?;
        for n in [a, b, c] {
            cdelete(&mut js, "MWQ", &n).await?;
        }
        // Wider, then narrower.
        let wide = add(&mut js, "MWQ", p_config("MY_WORK_QUEUE.>")).await?;
        let r = try_add(&mut js, "MWQ", p_config("MY_WORK_QUEUE.*.BAR")).await?;
        refused(
            &r,
            "Expected an error on attempt for partitioned consumer for a workqueue",
        )?;
        cdelete(&mut js, "MWQ", &wide).await?;
        // Narrower, then wider.
        let narrow = add(&mut js, "MWQ", p_config("MY_WORK_QUEUE.*.BAR")).await?;
        let r = try_add(&mut js, "MWQ", p_config("MY_WORK_QUEUE.>")).await?;
        refused(
            &r,
            "Expected an error on attempt for partitioned consumer for a workqueue",
        )?;
        cdelete(&mut js, "MWQ", &narrow).await?;
        // Push consumers, under the same rules.
        add(
            &mut js,
            "MWQ",
            json!({"durable_name": "DURABLE", "deliver_subject": "SOME.SUBJ",
                "ack_policy": "explicit"}),
        )
        .await
        .context("Unexpected Error")?;
        js.sub("_INBOX.wq", "D").await?;
        let eph = json!({"deliver_subject": "_INBOX.wq", "ack_policy": "explicit"});
        let r = try_add(&mut js, "MWQ", eph.clone()).await?;
        refused(&r, "Expected an error ")?;
        cdelete(&mut js, "MWQ", "DURABLE").await?;
        add(&mut js, "MWQ", eph).await.context("Unexpected Error")?;
        check_eq!(
            errors,
            vec![
                "400 10101 consumer must be deliver all on workqueue stream",
                "400 10099 multiple non-filtered consumers not allowed on workqueue stream",
                "400 10100 filtered consumer not unique on workqueue stream",
                "400 10100 filtered consumer not unique on workqueue stream",
                "400 10100 filtered consumer not unique on workqueue stream",
                "400 10100 filtered consumer not unique on workqueue stream",
                "400 10099 multiple non-filtered consumers not allowed on workqueue stream",
            ]
        );
        ctx.observe(&format!("{storage}: errors"), errors.join("\n"));
    }
    Ok(())
}

/// Counts what arrives on `sid` until `want` messages have come (within
/// [`WAIT`] each), then checks that nothing more comes for a moment.
async fn exactly(js: &mut Js, sid: &str, want: usize) -> Result<Vec<Msg>> {
    let msgs = expect_msgs(js, sid, want).await?;
    expect_none(js, sid, Duration::from_millis(50)).await?;
    Ok(msgs)
}

/// TestJetStreamInterestRetentionStreamWithDurableRestart: an interest
/// stream keeps messages for a durable without a subscriber, and drops them
/// as consumers are deleted.
async fn interest_durable_restart(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "IK", "storage": storage, "retention": "interest"}))
            .await
            .context("Unexpected error adding stream")?;
        js.sub("_INBOX.s1", "S1").await?;
        let mut cfg = json!({"durable_name": "ivan", "deliver_policy": "new",
            "deliver_subject": "_INBOX.s1", "ack_policy": "none"});
        add(&mut js, "IK", cfg.clone()).await?;
        js.stored("IK", "M1").await?;
        js.stored("IK", "M2").await?;
        exactly(&mut js, "S1", 2).await?;
        wait_msgs(&mut js, "IK", 0).await?;
        js.conn().send("UNSUB S1\r\n").await?;
        wait_bound(&mut js, "IK", "ivan", false, Duration::from_secs(1))
            .await
            .context("Still active consumer")?;
        js.stored("IK", "M3").await?;
        js.stored("IK", "M4").await?;
        wait_msgs(&mut js, "IK", 2).await?;
        // The durable again, on a new deliver subject.
        js.sub("_INBOX.s2", "S2").await?;
        cfg["deliver_subject"] = json!("_INBOX.s2");
        add(&mut js, "IK", cfg.clone())
            .await
            .context("Error re-establishing the durable consumer")?;
        let msgs = exactly(&mut js, "S2", 2).await?;
        let got: Vec<String> = msgs
            .iter()
            .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
            .collect();
        check_eq!(got, vec!["M3", "M4"]);
        wait_msgs(&mut js, "IK", 0).await?;
        js.conn().send("UNSUB S2\r\n").await?;
        wait_bound(&mut js, "IK", "ivan", false, Duration::from_secs(1))
            .await
            .context("Still active consumer")?;
        cdelete(&mut js, "IK", "ivan").await?;
        // Again, with acks: nothing old comes.
        js.sub("_INBOX.s3", "S3").await?;
        cfg["deliver_subject"] = json!("_INBOX.s3");
        cfg["ack_policy"] = json!("explicit");
        add(&mut js, "IK", cfg.clone())
            .await
            .context("Error re-establishing the durable consumer")?;
        expect_none(&mut js, "S3", Duration::from_millis(100)).await?;
        wait_msgs(&mut js, "IK", 0).await?;
        for i in 1..=10 {
            js.stored("IK", &format!("M{i}")).await?;
        }
        wait_msgs(&mut js, "IK", 10).await?;
        exactly(&mut js, "S3", 10).await?;
        // A second durable.
        js.sub("_INBOX.s4", "S4").await?;
        cfg["deliver_subject"] = json!("_INBOX.s4");
        cfg["durable_name"] = json!("derek");
        add(&mut js, "IK", cfg.clone())
            .await
            .context("Error creating second durable consumer")?;
        for i in 11..=20 {
            js.stored("IK", &format!("M{i}")).await?;
        }
        wait_msgs(&mut js, "IK", 20).await?;
        exactly(&mut js, "S3", 10).await?;
        // Deleting the consumers drops what only they were interested in.
        cdelete(&mut js, "IK", "ivan").await?;
        wait_msgs(&mut js, "IK", 10).await?;
        let state = js.state("IK").await?;
        ctx.observe_json(&format!("{storage}: after deleting ivan"), &scrub(&state));
        cdelete(&mut js, "IK", "derek").await?;
        wait_msgs(&mut js, "IK", 0).await?;
    }
    Ok(())
}

/// TestJetStreamConsumerReplayRate: instant replay delivers at once; the
/// original replay keeps the gaps between the messages, for push and pull.
/// Gaps are fixed here (the Go test draws 10-30 ms) and the bounds a little
/// wider, the cores being shared.
async fn replay_rate(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "DC", "storage": storage}))
            .await
            .context("Unexpected error adding stream")?;
        let total = 10;
        let mut gaps = Vec::new();
        let mut lst = Instant::now();
        for i in 0..total {
            gaps.push(lst.elapsed());
            lst = Instant::now();
            js.publish("DC", "OK!").await?;
            js.flush().await?;
            tokio::time::sleep(Duration::from_millis(10 + (i * 7 % 20))).await;
        }
        check_eq!(js.msgs("DC").await?, total);
        js.sub("_INBOX.rr", "D").await?;
        add(&mut js, "DC", json!({"deliver_subject": "_INBOX.rr"}))
            .await
            .context("Unexpected error")?;
        // Instant: the ten together.
        let start = Instant::now();
        expect_msgs(&mut js, "D", total as usize).await?;
        let all = start.elapsed();
        ensure!(
            all < Duration::from_millis(50),
            "Expected firehose/instant delivery, got all in {all:?}"
        );
        // Original.
        add(
            &mut js,
            "DC",
            json!({"deliver_subject": "_INBOX.rr", "replay_policy": "original"}),
        )
        .await
        .context("Unexpected error")?;
        for (i, want) in gaps.iter().enumerate() {
            let start = Instant::now();
            expect_msg(&mut js, "D").await?;
            let gap = start.elapsed();
            let (gl, gh) = (
                want.saturating_sub(Duration::from_millis(10)),
                *want + Duration::from_millis(25),
            );
            ensure!(
                gap >= gl && gap <= gh,
                "Gap is off for {i}, expected {want:?} got {gap:?}"
            );
        }
        // Pull, original.
        add(
            &mut js,
            "DC",
            json!({"durable_name": "PM", "ack_policy": "explicit", "replay_policy": "original"}),
        )
        .await
        .context("Unexpected error")?;
        pull_sub(&mut js).await?;
        for (i, want) in gaps.iter().enumerate() {
            let start = Instant::now();
            next(&mut js, "DC", "PM").await?;
            let gap = start.elapsed();
            let (gl, gh) = (
                want.saturating_sub(Duration::from_millis(10)),
                *want + Duration::from_millis(25),
            );
            ensure!(
                gap >= gl && gap <= gh,
                "Gap is incorrect for {i}, expected {want:?} got {gap:?}"
            );
        }
        let info = cinfo(&mut js, "DC", "PM").await?;
        check_eq!(info["config"]["replay_policy"], json!("original"));
        ctx.observe_json(&format!("{storage}: pull info"), &masked(&info, None));
    }
    Ok(())
}

/// TestJetStreamConsumerReplayRateNoAck: an original-replay push durable
/// without acks delivers everything once it has a subscriber.
async fn replay_rate_no_ack(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "DC", "storage": storage}))
            .await
            .context("Unexpected error adding stream")?;
        let total = 10;
        for i in 0..total {
            js.stored("DC", "Hello World").await?;
            tokio::time::sleep(Duration::from_millis(i % 5)).await;
        }
        check_eq!(js.msgs("DC").await?, total);
        add(
            &mut js,
            "DC",
            json!({"durable_name": "derek", "deliver_subject": "d.dc", "ack_policy": "none",
                "replay_policy": "original"}),
        )
        .await
        .context("Unexpected error")?;
        tokio::time::sleep(Duration::from_millis(13)).await;
        js.sub("d.dc", "D").await?;
        let msgs = expect_msgs(&mut js, "D", total as usize).await?;
        ctx.observe(&format!("{storage}: last"), shown(&msgs[9], None));
    }
    Ok(())
}

/// TestJetStreamConsumerReplayQuit: a consumer deleted while replaying at
/// the original rate stops. The Go test counts its goroutines; here the
/// second message, due 100 ms after the first, never comes.
async fn replay_quit(ctx: Ctx) -> Result<()> {
    for storage in STORAGES {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(json!({"name": "DC", "storage": storage}))
            .await
            .context("Unexpected error adding stream")?;
        js.stored("DC", "OK!").await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        js.stored("DC", "OK!").await?;
        check_eq!(js.msgs("DC").await?, 2);
        js.sub("_INBOX.rq", "D").await?;
        let name = add(
            &mut js,
            "DC",
            json!({"deliver_subject": "_INBOX.rq", "replay_policy": "original"}),
        )
        .await
        .context("Unexpected error")?;
        tokio::time::sleep(Duration::from_millis(50)).await;
        cdelete(&mut js, "DC", &name).await?;
        let first = expect_msg(&mut js, "D").await?;
        check_eq!(sseq(&first)?, 1);
        ctx.observe(&format!("{storage}: first"), shown(&first, Some(&name)));
        expect_none(&mut js, "D", Duration::from_millis(200))
            .await
            .context("Consumer go routines still running")?;
        check_eq!(consumers(&mut js, "DC").await?, 0);
    }
    Ok(())
}

/// TestJetStreamConsumerRateLimit: a pull consumer can not have a rate; a
/// push one delivers no faster than its rate. Short here: 20 messages of
/// 1000 bytes at 128 kbit/s, the burst bounded by the stream's max_msg_size
/// (2048 bytes: a message larger than the burst would never be delivered).
async fn rate_limit(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "RATELIMIT", "storage": "file", "max_msg_size": 2048}))
        .await
        .context("Unexpected error adding stream")?;
    let msg_size = 1000usize;
    let msg = "x".repeat(msg_size);
    let to_send = 20usize;
    for _ in 0..to_send {
        js.publish("RATELIMIT", &msg).await?;
    }
    js.flush().await?;
    check_eq!(js.msgs("RATELIMIT").await?, to_send as u64);
    let rate_limit = 128 * 1024u64;
    let r = try_add(
        &mut js,
        "RATELIMIT",
        json!({"durable_name": "to", "ack_policy": "explicit", "rate_limit_bps": rate_limit}),
    )
    .await?;
    let e = err_of(&r).context("Expected an error, got none")?;
    check_eq!(
        e,
        (
            400,
            10086,
            "consumer in pull mode can not have rate limit set".to_string()
        )
    );
    ctx.observe_json("pull with a rate", &r);
    add(
        &mut js,
        "RATELIMIT",
        json!({"durable_name": "rate", "deliver_subject": "to", "rate_limit_bps": rate_limit,
            "ack_policy": "none"}),
    )
    .await
    .context("Unexpected error")?;
    let start = Instant::now();
    js.sub("to", "D").await?;
    let deadline = start + Duration::from_secs(5);
    let mut received = 0;
    while received < to_send {
        let left = deadline.saturating_duration_since(Instant::now());
        recv(&mut js, "D", left)
            .await?
            .context("Did not receive all the messages in time")?;
        received += 1;
    }
    let tt = start.elapsed();
    let rate = (8 * to_send * msg_size) as f64 / tt.as_secs_f64();
    ensure!(
        rate <= rate_limit as f64 * 1.25,
        "Exceeded desired rate of {} kbps, got {:.0} kbps",
        rate_limit / 1024,
        rate / 1024.0
    );
    Ok(())
}

// ---------------------------------------------------------------- filters, pending, updates

/// TestJetStreamConsumerFilterSubject: the filter is stored, and the durable
/// can be created again with only its deliver subject changed.
async fn filter_subject_stored(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "MY_STREAM", "subjects": ["foo"]}))
        .await
        .context("Unexpected error adding stream")?;
    let cfg = |d: &str| {
        json!({"durable_name": "d", "deliver_subject": d, "ack_policy": "explicit",
            "filter_subject": "foo"})
    };
    add(&mut js, "MY_STREAM", cfg("A"))
        .await
        .context("Unexpected error adding consumer")?;
    let info = cinfo(&mut js, "MY_STREAM", "d").await?;
    check_eq!(info["config"]["filter_subject"], json!("foo"));
    let r = try_add(&mut js, "MY_STREAM", cfg("B")).await?;
    check_eq!(api_err(&r), (0, 0, String::new()));
    check_eq!(r["config"]["deliver_subject"], json!("B"));
    ctx.observe_json("updated", &masked(&r, None));
    Ok(())
}

/// TestJetStreamFilteredConsumersWithWiderFilter: filters wider than some
/// of the stream's subjects.
async fn wider_filters(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo", "bar", "baz", "N.*"]}))
        .await?;
    for subj in ["foo", "bar", "baz"] {
        js.stored(subj, "OK").await?;
    }
    for i in 1..=12 {
        js.stored(&format!("N.{i}"), "OK").await?;
    }
    check_eq!(js.msgs("TEST").await?, 15);
    for (i, (filter, n)) in [("*", 3), ("N.*", 12), ("*.*", 12), ("N.>", 12), (">", 15)]
        .into_iter()
        .enumerate()
    {
        let sid = format!("W{i}");
        let inbox = format!("_INBOX.w{i}");
        js.sub(&inbox, &sid).await?;
        add(
            &mut js,
            "TEST",
            json!({"deliver_subject": inbox, "filter_subject": filter, "ack_policy": "explicit"}),
        )
        .await?;
        exactly(&mut js, &sid, n).await?;
        js.conn().send(&format!("UNSUB {sid}\r\n")).await?;
        ctx.observe(&format!("filter {filter}"), format!("{n} msgs"));
    }
    Ok(())
}

/// TestJetStreamTemplatedErrorsBug, TestJetStreamBadConsumerCreateErr,
/// TestJetStreamInvalidDeliverSubject: create errors carry filled-in texts.
async fn create_error_texts(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo", "foo.*"], "storage": "memory"}))
        .await?;
    // An ephemeral pull consumer (what PullSubscribe("foo", "") asks for).
    let r = try_add(
        &mut js,
        "TEST",
        json!({"filter_subject": "foo", "ack_policy": "explicit"}),
    )
    .await?;
    ensure!(
        !r.to_string().contains("{err}"),
        "Error is not filled in: {r}"
    );
    ctx.observe_json("ephemeral pull", &masked(&r, r["name"].as_str()));
    let cases = [
        json!({"durable_name": "nowcerr", "deliver_subject": "X", "max_waiting": 100}),
        json!({"deliver_subject": " x"}),
        json!({"deliver_subject": "y", "deliver_policy": "by_start_sequence"}),
        json!({"deliver_subject": "y", "sample_freq": "x%"}),
        json!({"deliver_subject": "y", "description": "d".repeat(4097)}),
        json!({"deliver_subject": "y", "filter_subject": "bar"}),
    ];
    let mut errors = Vec::new();
    for cfg in cases {
        let r = try_add(&mut js, "TEST", cfg.clone()).await?;
        let e = err_of(&r).with_context(|| format!("Expected an error but got none for {cfg}"))?;
        ensure!(!e.2.contains('{'), "Error is not filled in: {r}");
        errors.push(format!("{} {} {}", e.0, e.1, e.2));
    }
    ensure!(
        errors[0].contains("push mode can not set max waiting"),
        "Incorrect error returned: {}",
        errors[0]
    );
    check_eq!(
        errors[..2].to_vec(),
        vec![
            "400 10080 consumer in push mode can not set max waiting",
            "400 10112 invalid push consumer deliver subject",
        ]
    );
    ctx.observe("errors", errors.join("\n"));
    Ok(())
}

/// TestJetStreamConsumerPushBound: `push_bound` of a durable push consumer
/// follows the plain subscriptions on its deliver subject (a queue
/// subscription does not count); a pull consumer is never bound.
async fn push_bound(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "storage": "memory", "subjects": ["foo"]}))
        .await?;
    let create = |name: &str, deliver: Option<&str>| {
        let mut c = json!({"durable_name": name, "ack_policy": "explicit"});
        if let Some(d) = deliver {
            c["deliver_subject"] = json!(d);
        }
        c
    };
    let r = try_add(&mut js, "TEST", create("dlc", Some("d.X"))).await?;
    ensure!(r.get("error").is_none(), "Got a bad response {r}");
    check_eq!(bound(&mut js, "TEST", "dlc").await?, false);
    js.sub("d.X", "X").await?;
    // Go learns of the deliver subject's interest on another goroutine, so
    // even after a flush the change may show a moment later.
    wait_bound(&mut js, "TEST", "dlc", true, Duration::from_secs(2))
        .await
        .context("Expected push bound to be set")?;
    ctx.observe_json(
        "bound",
        &masked(&cinfo(&mut js, "TEST", "dlc").await?, None),
    );
    js.conn().send("UNSUB X\r\n").await?;
    js.flush().await?;
    wait_bound(&mut js, "TEST", "dlc", false, Duration::from_secs(2)).await?;
    add(&mut js, "TEST", create("ik", Some("d.Z"))).await?;
    js.sub("d.Z g22", "Z").await?;
    check_eq!(bound(&mut js, "TEST", "ik").await?, false);
    js.conn().send("UNSUB Z\r\n").await?;
    js.flush().await?;
    check_eq!(bound(&mut js, "TEST", "ik").await?, false);
    add(&mut js, "TEST", create("rip", None)).await?;
    check_eq!(bound(&mut js, "TEST", "rip").await?, false);
    Ok(())
}

/// TestJetStreamPerSubjectPending: a last-per-subject consumer with a
/// wildcard filter that matches one message has nothing more pending.
async fn per_subject_pending(ctx: Ctx) -> Result<()> {
    for storage in ["file", "memory"] {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(
            json!({"name": "KV_X", "subjects": ["$KV.X.>"], "max_msgs_per_subject": 5,
            "storage": storage}),
        )
        .await
        .context("add stream failed")?;
        js.stored("$KV.X.x.y.z", "hello world").await?;
        js.stored("$KV.X.1", "hello world").await?;
        js.sub("_INBOX.kv", "D").await?;
        add(
            &mut js,
            "KV_X",
            json!({"deliver_subject": "_INBOX.kv", "filter_subject": "$KV.X.x.>",
                "deliver_policy": "last_per_subject", "ack_policy": "explicit"}),
        )
        .await
        .context("subscribe failed")?;
        let m = expect_msg(&mut js, "D").await.context("next failed")?;
        let a = ack_info(&m)?;
        check_eq!(a.pending, 0);
        check_eq!(m.subject, "$KV.X.x.y.z");
        ctx.observe(
            &format!("{storage}: msg"),
            shown(&m, None).replace(&a.consumer, "<name>"),
        );
    }
    Ok(())
}

/// TestJetStreamConsumerNoMsgPayload: a headers-only consumer delivers the
/// headers with `Nats-Msg-Size` and no payload.
async fn headers_only(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "S"})).await?;
    let payload = [b'A'; 128];
    for _ in 0..10 {
        js.stored_h("S", &[("name", "derek")], &payload).await?;
    }
    add(
        &mut js,
        "S",
        json!({"deliver_subject": "_d_", "durable_name": "d22", "headers_only": true}),
    )
    .await?;
    js.sub("_d_", "D").await?;
    for i in 0..10 {
        let m = expect_msg(&mut js, "D").await?;
        ensure!(m.payload.is_empty(), "Expected no payload");
        let h = crate::kit::js::headers_of(&m);
        check_eq!(crate::kit::js::header(&h, "Nats-Msg-Size"), Some("128"));
        check_eq!(crate::kit::js::header(&h, "name"), Some("derek"));
        if i == 0 {
            ctx.observe("first headers", &h);
            ctx.observe("first", shown(&m, None));
        }
    }
    Ok(())
}

/// TestJetStreamPurgeAndFilteredConsumers: a purge of one subject leaves the
/// other filter's pending alone and moves the purged one's ack floor.
async fn purge_filtered(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "S", "subjects": ["FOO.*"]}))
        .await?;
    for _ in 0..10 {
        js.stored("FOO.adam", "M").await?;
        js.stored("FOO.eve", "F").await?;
    }
    for name in ["adam", "eve"] {
        let r = try_add(
            &mut js,
            "S",
            json!({"durable_name": name, "ack_policy": "explicit",
                "filter_subject": format!("FOO.{name}")}),
        )
        .await?;
        check_eq!(api_err(&r), (0, 0, String::new()));
        check_eq!(num(&r["num_pending"]), 10);
    }
    let r = js.purge("S", "{\"filter\":\"FOO.adam\"}").await?;
    check_eq!(num(&r["purged"]), 10);
    check_eq!(js.msgs("S").await?, 10);
    check_eq!(num(&cinfo(&mut js, "S", "eve").await?["num_pending"]), 10);
    let adam = cinfo(&mut js, "S", "adam").await?;
    check_eq!(num(&adam["num_pending"]), 0);
    check_eq!(num(&adam["ack_floor"]["stream_seq"]), 20);
    ctx.observe_json("adam", &masked(&adam, None));
    Ok(())
}

/// TestJetStreamConsumerUpdateSurvival: an update of max_ack_pending is
/// kept across a restart.
async fn update_survival(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "X"}))
        .await
        .context("Unexpected error adding stream X")?;
    add(
        &mut js,
        "X",
        json!({"durable_name": "dlc", "ack_policy": "explicit", "max_ack_pending": 1024}),
    )
    .await
    .context("Unexpected error adding consumer dlc")?;
    // js.UpdateConsumer of nats.go 1.x is the same create request.
    let r = try_add(
        &mut js,
        "X",
        json!({"durable_name": "dlc", "ack_policy": "explicit", "max_ack_pending": 22}),
    )
    .await?;
    ensure!(
        r.get("error").is_none(),
        "Unexpected error updating consumer dlc: {r}"
    );
    check_eq!(num(&r["config"]["max_ack_pending"]), 22);
    s.restart().await?;
    let mut js = reconnect(&ctx, &s).await?;
    let info = cinfo(&mut js, "X", "dlc")
        .await
        .context("Unexpected error getting consumer info after restart")?;
    check_eq!(num(&info["config"]["max_ack_pending"]), 22);
    ctx.observe_json("after restart", &masked(&info, None));
    Ok(())
}

/// TestJetStreamInterestRetentionBug: a second, filtered consumer does not
/// make an interest stream drop what the first still wants.
async fn interest_retention_bug(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo.>"], "retention": "interest"}))
        .await?;
    add(
        &mut js,
        "TEST",
        json!({"durable_name": "c1", "ack_policy": "explicit"}),
    )
    .await?;
    async fn test(js: &mut Js, token: &str, fseq: u64, msgs: u64) -> Result<()> {
        js.stored(&format!("foo.{token}"), "").await?;
        let st = js.state("TEST").await?;
        check_eq!(num(&st["first_seq"]), fseq);
        check_eq!(num(&st["messages"]), msgs);
        Ok(())
    }
    test(&mut js, "bar", 1, 1).await?;
    add(
        &mut js,
        "TEST",
        json!({"durable_name": "c2", "filter_subject": "foo.foo", "ack_policy": "explicit"}),
    )
    .await?;
    test(&mut js, "bar", 1, 2).await?;
    ctx.observe_json("state", &scrub(&js.state("TEST").await?));
    Ok(())
}

/// TestJetStreamDeliverLastPerSubject, TestJetStreamDeliverLastPerSubjectNumPending,
/// TestJetStreamConsumerNumPendingWithMaxPerSubjectGreaterThanOne: the
/// last-per-subject policy needs a filter, delivers the last of each subject
/// and counts them as pending.
async fn last_per_subject(ctx: Ctx) -> Result<()> {
    for storage in ["file", "memory"] {
        let s = js_server(&ctx).await?;
        let mut js = Js::connect(&ctx, &s).await?;
        js.create(
            json!({"name": "KV", "subjects": ["kv.>"], "storage": storage,
            "max_msgs_per_subject": 5}),
        )
        .await?;
        for i in 1..=11 {
            for subj in [
                "kv.b1.foo",
                "kv.b2.foo",
                "kv.b1.bar",
                "kv.b2.bar",
                "kv.b1.baz",
                "kv.b2.baz",
            ] {
                js.publish(subj, &i.to_string()).await?;
            }
        }
        js.flush().await?;
        let r = try_add(
            &mut js,
            "KV",
            json!({"deliver_subject": "b", "deliver_policy": "last_per_subject"}),
        )
        .await?;
        let e = err_of(&r)?;
        ensure!(
            e.2.contains("filter subject is not set"),
            "Expected an error, got {r}"
        );
        ctx.observe_json(&format!("{storage}: no filter"), &r);
        js.sub("d", "D").await?;
        let r = try_add(
            &mut js,
            "KV",
            json!({"deliver_subject": "d", "deliver_policy": "last_per_subject",
                "filter_subject": "kv.b1.*"}),
        )
        .await?;
        check_eq!(num(&r["num_pending"]), 3);
        for (subject, seq, v) in [
            ("kv.b1.foo", 61, "11"),
            ("kv.b1.bar", 63, "11"),
            ("kv.b1.baz", 65, "11"),
        ] {
            let m = expect_msg(&mut js, "D").await?;
            check_eq!(m.subject, subject);
            check_eq!(sseq(&m)?, seq);
            check_eq!(String::from_utf8_lossy(&m.payload), v);
        }
        expect_none(&mut js, "D", Duration::from_millis(50)).await?;
        js.stored("kv.b1.bar", "22").await?;
        js.stored("kv.b2.foo", "22").await?;
        let m = expect_msg(&mut js, "D").await?;
        check_eq!((m.subject.as_str(), sseq(&m)?), ("kv.b1.bar", 67));
        check_eq!(String::from_utf8_lossy(&m.payload), "22");
        expect_none(&mut js, "D", Duration::from_millis(50)).await?;
    }
    // With deleted messages.
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "KV", "subjects": ["KV.>"], "max_msgs_per_subject": 5}))
        .await?;
    for i in 0..5 {
        for subj in ["KV.foo", "KV.bar", "KV.baz", "KV.bat"] {
            js.stored(subj, &format!("msg{i}")).await?;
        }
    }
    js.msg_delete("KV", "{\"seq\":2}").await?;
    js.msg_delete("KV", "{\"seq\":5}").await?;
    let r = try_add(
        &mut js,
        "KV",
        json!({"deliver_subject": "_INBOX.x", "ack_policy": "explicit",
            "deliver_policy": "last_per_subject", "filter_subject": "KV.>"}),
    )
    .await?;
    check_eq!(num(&r["num_pending"]), 4);
    // More than one message per subject, filtered.
    js.delete_stream("KV").await?;
    for storage in STORAGES {
        js.create(
            json!({"name": "TEST", "subjects": ["KV.*.*"], "max_msgs_per_subject": 2,
            "storage": storage}),
        )
        .await?;
        for subj in [
            "KV.plans.foo",
            "KV.plans.bar",
            "KV.plans.baz",
            "KV.config.foo",
            "KV.config.bar",
            "KV.config.baz",
            "KV.plans.bar",
            "KV.plans.baz",
        ] {
            js.stored(subj, "OK").await?;
        }
        let r = try_add(
            &mut js,
            "TEST",
            json!({"durable_name": "d", "ack_policy": "explicit",
                "deliver_policy": "last_per_subject", "filter_subject": "KV.plans.*"}),
        )
        .await?;
        check_eq!(num(&r["num_pending"]), 3);
        js.delete_stream("TEST").await?;
    }
    Ok(())
}

/// TestJetStreamPurgeEffectsConsumerDelivery: after a purge, a new message is
/// delivered, and redelivered when not acked.
async fn purge_effects_delivery(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo.*"]}))
        .await?;
    js.stored("foo.a", "show once").await?;
    js.sub("_INBOX.p", "D").await?;
    add(
        &mut js,
        "TEST",
        json!({"deliver_subject": "_INBOX.p", "filter_subject": "foo.*",
            "ack_wait": 250_000_000u64, "deliver_policy": "all", "ack_policy": "explicit"}),
    )
    .await?;
    expect_msg(&mut js, "D")
        .await
        .context("Error receiving message")?;
    check_eq!(js.purge("TEST", "").await?["success"], json!(true));
    js.stored("foo.b", "show twice?").await?;
    let first = expect_msg(&mut js, "D")
        .await
        .context("Error receiving message")?;
    let again = expect_msg(&mut js, "D")
        .await
        .context("Error receiving message")?;
    check_eq!(
        (
            ack_info(&first)?.sseq,
            ack_info(&again)?.sseq,
            ack_info(&again)?.delivered
        ),
        (2, 2, 2)
    );
    ctx.observe(
        "redelivered",
        shown(&again, None).replace(&ack_info(&again)?.consumer, "<name>"),
    );
    Ok(())
}

/// TestJetStreamConsumerDeliverNewNotConsumingBeforeRestart: a deliver-new
/// durable keeps its pending count across a restart and then delivers.
async fn deliver_new_restart(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo"]}))
        .await
        .context("Unexpected error adding stream TEST")?;
    add(
        &mut js,
        "TEST",
        json!({"deliver_subject": "_INBOX.dn", "durable_name": "dur", "ack_policy": "explicit",
            "deliver_policy": "new", "filter_subject": "foo"}),
    )
    .await
    .context("Unexpected error adding consumer dur")?;
    for _ in 0..10 {
        js.stored("foo", "msg").await?;
    }
    // checkCount(10): consumer info polled until num_pending is 10.
    info_until(
        &mut js,
        "TEST",
        "dur",
        "Expected 10 pending before restart",
        |i| num(&i["num_pending"]) == 10,
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.restart().await?;
    let mut js = reconnect(&ctx, &s).await?;
    info_until(
        &mut js,
        "TEST",
        "dur",
        "Expected 10 pending after restart",
        |i| num(&i["num_pending"]) == 10,
    )
    .await?;
    js.sub("_INBOX.dn", "D").await?;
    for i in 0..10 {
        let m = expect_msg(&mut js, "D")
            .await
            .with_context(|| format!("i={i} next msg error"))?;
        ack_sync(&mut js, &m).await?;
    }
    let info = info_until(
        &mut js,
        "TEST",
        "dur",
        "Expected 0 pending after consuming",
        |i| num(&i["num_pending"]) == 0,
    )
    .await?;
    ctx.observe_json("after consuming", &masked(&info, None));
    Ok(())
}

/// TestJetStreamConsumerUpdateFilterSubject: a pull durable's filter updated
/// to another subject goes on from there, its sequences and pending right.
async fn update_filter_subject(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "T", "subjects": ["foo", "bar", "baz"]}))
        .await?;
    for _ in 0..10 {
        js.stored("foo", "OK").await?;
    }
    for _ in 0..20 {
        js.stored("bar", "OK").await?;
    }
    add(
        &mut js,
        "T",
        json!({"durable_name": "d", "filter_subject": "foo", "ack_policy": "explicit"}),
    )
    .await?;
    pull_sub(&mut js).await?;
    pull_req(&mut js, "T", "d", "{\"batch\":5}").await?;
    expect_msgs(&mut js, PULL, 5).await?;
    let r = js
        .api(
            "$JS.API.CONSUMER.CREATE.T.d",
            &json!({"stream_name": "T", "config": {"durable_name": "d",
                "filter_subject": "bar", "ack_policy": "explicit"}})
            .to_string(),
        )
        .await?;
    check_eq!(api_err(&r), (0, 0, String::new()));
    let m = next(&mut js, "T", "d").await?;
    let a = ack_info(&m)?;
    check_eq!((a.dseq, a.sseq, a.delivered, a.pending), (6, 11, 1, 19));
    ctx.observe("first after update", shown(&m, None));
    Ok(())
}
