//! An official client's consumers, key-value watchers and object store, end
//! to end: async-nats' own `jetstream::consumer`, `kv` and `object_store`
//! APIs (what an application calls, not raw requests) against each server.
//! Every answer the client decodes is checked; what a user sees (message
//! metadata, consumer infos, entries) is recorded to compare the two servers.
//!
//! async-nats 0.51 speaks to 2.10+ servers by default; where one of its calls
//! cannot read a 2.9.10 answer the scenario says so and goes around it the way
//! a 2.9-era client does (a bucket's stream is made through the stream API).

use crate::check_eq;
use crate::kit::js::{js_context, js_server, kv_bucket, server_error};
use crate::kit::{eventually, Ctx};
use crate::registry::{Need, Scenario};
use anyhow::{anyhow, bail, ensure, Context as _, Result};
use async_nats::jetstream::consumer::{self, pull, push, AckPolicy, DeliverPolicy};
use async_nats::jetstream::message::AckKind;
use async_nats::jetstream::{self, kv, object_store, stream, Context};
use futures::{FutureExt, Stream, StreamExt, TryStreamExt};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("jetstream/async-nats-pull-fetch", |c| pull_fetch(c).boxed())
            .needs(Need::JetStream)
            .beyond_go("async-nats' pull consumer: fetch (a no_wait pull: what is there, then 404) and batch with expires (what arrives until 408), each message on its stream subject with the ack metadata (stream and consumer sequences, delivered, pending) the client parses from the 9-token $JS.ACK subject"),
        Scenario::new("jetstream/async-nats-pull-messages", |c| pull_messages(c).boxed())
            .needs(Need::JetStream)
            .timeout(Duration::from_secs(45))
            .beyond_go("async-nats' endless pull (`messages()` / `stream()`): pulls that expire are renewed, idle heartbeats of the pull requests keep the stream alive while nothing arrives, and a deleted consumer ends it with the server's 409 Consumer Deleted"),
        Scenario::new("jetstream/async-nats-push", |c| push_consumers(c).boxed())
            .needs(Need::JetStream)
            .beyond_go("async-nats' push consumers: a durable one on a deliver subject, an ephemeral one (8-character name from the server), and a deliver group whose members share the messages, each delivered once"),
        Scenario::new("jetstream/async-nats-ordered", |c| ordered(c).boxed())
            .needs(Need::JetStream)
            .timeout(Duration::from_secs(60))
            .beyond_go("async-nats' ordered consumers, push (flow control and 5 s idle heartbeats, ack none, memory storage) and pull, deliver the stream in order; when the server deletes one mid-stream the client makes a new one from the next sequence (pull: on 409 Consumer Deleted; push: after two missed heartbeats) and nothing is lost or repeated"),
        Scenario::new("jetstream/async-nats-acks", |c| acks(c).boxed())
            .needs(Need::JetStream)
            .beyond_go("async-nats' ack kinds: +ACK, -NAK (redelivered at once), -NAK with a delay (not before it), +WPI then a double ack (the server answers an ack that has a reply), +TERM (never again); the consumer's counts after each"),
        Scenario::new("jetstream/async-nats-consumer-admin", |c| consumer_admin(c).boxed())
            .needs(Need::JetStream)
            .beyond_go("async-nats' consumer management: create (with a filter subject in the create subject), info, get, get-or-create of an existing one, names and list, delete, and the errors of a missing consumer; the config as the server writes it back"),
        Scenario::new("jetstream/async-nats-kv-watch", |c| kv_watch(c).boxed())
            .needs(Need::JetStream)
            .timeout(Duration::from_secs(45))
            .beyond_go("async-nats' key-value API on the consumer side: history (an ordered push consumer on one key), keys (last-per-subject, headers-only), watch and watch_all (deliver new) seeing later puts, deletes and purges with their KV-Operation, watch_with_history (last per subject), and bucket status"),
        Scenario::new("jetstream/async-nats-object-store", |c| object_store(c).boxed())
            .needs(Need::JetStream)
            .timeout(Duration::from_secs(60))
            .beyond_go("async-nats' object store: a bucket, a 3 MiB object put and read back in 128 KiB chunks with its SHA-256 digest, info and meta, list, watch, delete, and seal (a stream update) after which puts fail"),
    ]
}

/// How long a scenario waits for one message the server should send.
const WAIT: Duration = Duration::from_secs(5);

/// The next item of `s` within `wait`, or an error naming `what`.
async fn next_within<S, T, E>(s: &mut S, wait: Duration, what: &str) -> Result<T>
where
    S: Stream<Item = Result<T, E>> + Unpin,
    E: std::fmt::Debug,
{
    match tokio::time::timeout(wait, s.next()).await {
        Err(_) => bail!("{what}: nothing within {wait:?}"),
        Ok(None) => bail!("{what}: the stream ended"),
        Ok(Some(item)) => item.map_err(|e| anyhow!("{what}: {e:?}")),
    }
}

/// Everything `s` yields until it ends, within `wait` overall.
async fn collect_within<S, T, E>(s: S, wait: Duration, what: &str) -> Result<Vec<T>>
where
    S: Stream<Item = Result<T, E>>,
    E: std::fmt::Debug,
{
    tokio::time::timeout(wait, s.try_collect::<Vec<T>>())
        .await
        .map_err(|_| anyhow!("{what}: did not end within {wait:?}"))?
        .map_err(|e| anyhow!("{what}: {e:?}"))
}

/// A file stream `name` on `subjects`.
async fn make_stream(js: &Context, name: &str, subjects: &[&str]) -> Result<stream::Stream> {
    js.create_stream(stream::Config {
        name: name.into(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .with_context(|| format!("creating stream {name}"))
}

/// Publishes each `(subject, payload)` and waits for its PubAck.
async fn publish_all(js: &Context, msgs: &[(String, String)]) -> Result<()> {
    for (subject, payload) in msgs {
        js.publish(subject.clone(), payload.clone().into())
            .await?
            .await
            .with_context(|| format!("PubAck for {subject}"))?;
    }
    Ok(())
}

fn numbered(prefix: &str, range: std::ops::RangeInclusive<u64>) -> Vec<(String, String)> {
    range
        .map(|i| (format!("{prefix}.{i}"), format!("m{i}")))
        .collect()
}

/// What a user sees of a delivered message: subject, payload, and the
/// metadata parsed from its ack subject (stream, consumer, stream sequence,
/// consumer sequence, delivered, pending).
fn seen(m: &jetstream::Message) -> Result<String> {
    let i = m.info().map_err(|e| anyhow!("ack metadata: {e}"))?;
    Ok(format!("{} pending={}", seen_racy(m)?, i.pending))
}

/// [`seen`] without the pending count, for a message delivered while more
/// were being published (its pending count depends on who was faster).
fn seen_racy(m: &jetstream::Message) -> Result<String> {
    let i = m.info().map_err(|e| anyhow!("ack metadata: {e}"))?;
    Ok(format!(
        "{} {} {}/{} sseq={} cseq={} delivered={}",
        m.subject,
        String::from_utf8_lossy(&m.payload),
        i.stream,
        i.consumer,
        i.stream_sequence,
        i.consumer_sequence,
        i.delivered
    ))
}

fn durable_pull(name: &str) -> pull::Config {
    pull::Config {
        durable_name: Some(name.into()),
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    }
}

async fn pull_fetch(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let js = js_context(&ctx, &s).await?;
    let st = make_stream(&js, "EVENTS", &["events.>"]).await?;
    publish_all(&js, &numbered("events", 1..=10)).await?;
    let c = st.create_consumer(durable_pull("PULL")).await?;
    check_eq!(c.cached_info().num_pending, 10);

    // fetch: a no_wait pull, answered with what there is.
    let batch = c.fetch().max_messages(4).messages().await?;
    let got = collect_within(batch, WAIT, "fetch of 4").await?;
    check_eq!(got.len(), 4);
    for (i, m) in got.iter().enumerate() {
        let info = m.info().map_err(|e| anyhow!("{e}"))?;
        check_eq!(m.subject.as_str(), format!("events.{}", i + 1));
        check_eq!(
            (info.stream, info.consumer, info.stream_sequence),
            ("EVENTS", "PULL", i as u64 + 1)
        );
        check_eq!((info.delivered, info.pending), (1, 9 - i as u64));
        ctx.observe("fetched", seen(m)?);
        m.ack().await.map_err(|e| anyhow!("ack: {e}"))?;
    }
    // More asked than there is: the rest, then the fetch ends (404).
    let started = Instant::now();
    let batch = c.fetch().max_messages(20).messages().await?;
    let got = collect_within(batch, WAIT, "fetch of 20").await?;
    check_eq!(got.len(), 6);
    ensure!(
        started.elapsed() < Duration::from_secs(2),
        "a no_wait fetch took {:?}",
        started.elapsed()
    );
    for m in &got {
        m.ack().await.map_err(|e| anyhow!("ack: {e}"))?;
    }
    check_eq!(
        got.last().map(|m| m.subject.to_string()),
        Some("events.10".to_string())
    );
    // Nothing left: an empty fetch.
    let batch = c.fetch().max_messages(5).messages().await?;
    let got = collect_within(batch, WAIT, "empty fetch").await?;
    check_eq!(got.len(), 0);

    // batch with expires on an empty consumer: nothing until it expires.
    let started = Instant::now();
    let batch = c
        .batch()
        .max_messages(3)
        .expires(Duration::from_millis(800))
        .messages()
        .await?;
    let got = collect_within(batch, WAIT, "batch that expires").await?;
    check_eq!(got.len(), 0);
    let took = started.elapsed();
    ensure!(
        took >= Duration::from_millis(600),
        "an expiring batch ended after {took:?}, before its expiry"
    );

    // batch waiting: messages published while it waits are delivered to it.
    let batch = c
        .batch()
        .max_messages(3)
        .expires(Duration::from_secs(2))
        .messages()
        .await?;
    let later = js.clone();
    let publisher = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        publish_all(&later, &numbered("events", 11..=12)).await
    });
    let got = collect_within(batch, WAIT, "batch of 3 with 2 published").await?;
    publisher.await??;
    check_eq!(got.len(), 2);
    for m in &got {
        ctx.observe("waited for", seen_racy(m)?);
        m.ack().await.map_err(|e| anyhow!("ack: {e}"))?;
    }
    // A full batch ends as soon as it is full, well before its expiry.
    publish_all(&js, &numbered("events", 13..=15)).await?;
    let started = Instant::now();
    let batch = c
        .batch()
        .max_messages(3)
        .expires(Duration::from_secs(10))
        .messages()
        .await?;
    let got = collect_within(batch, WAIT, "full batch").await?;
    check_eq!(got.len(), 3);
    ensure!(
        started.elapsed() < Duration::from_secs(3),
        "a full batch waited {:?}",
        started.elapsed()
    );
    for m in &got {
        m.double_ack()
            .await
            .map_err(|e| anyhow!("double ack: {e}"))?;
    }

    let info = c.get_info().await?;
    check_eq!(
        (
            info.delivered.consumer_sequence,
            info.delivered.stream_sequence,
            info.ack_floor.stream_sequence,
            info.num_ack_pending,
            info.num_pending,
            info.num_redelivered
        ),
        (15, 15, 15, 0, 0, 0)
    );
    Ok(())
}

async fn pull_messages(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let js = js_context(&ctx, &s).await?;
    let st = make_stream(&js, "LIVE", &["live.>"]).await?;
    publish_all(&js, &numbered("live", 1..=12)).await?;
    let c = st.create_consumer(durable_pull("READER")).await?;
    let mut msgs = c
        .stream()
        .max_messages_per_batch(5)
        .heartbeat(Duration::from_millis(250))
        .expires(Duration::from_secs(1))
        .messages()
        .await?;
    for i in 1..=12u64 {
        let m = next_within(&mut msgs, WAIT, "a message of the endless pull").await?;
        let info = m.info().map_err(|e| anyhow!("{e}"))?;
        check_eq!(
            (m.subject.to_string(), info.stream_sequence),
            (format!("live.{i}"), i)
        );
        m.ack().await.map_err(|e| anyhow!("ack: {e}"))?;
    }
    // Idle for several pull expiries and many heartbeats: the stream yields
    // nothing (no missed-heartbeat error), and goes on afterwards.
    match tokio::time::timeout(Duration::from_millis(2500), msgs.next()).await {
        Err(_) => {}
        Ok(other) => bail!(
            "an idle endless pull yielded {:?}",
            other.map(|r| r.map(|m| m.subject.to_string()).map_err(|e| e.to_string()))
        ),
    }
    publish_all(&js, &numbered("live", 13..=13)).await?;
    let m = next_within(&mut msgs, WAIT, "a message after the idle time").await?;
    check_eq!(m.subject.as_str(), "live.13");
    ctx.observe("after idle", seen(&m)?);
    m.ack().await.map_err(|e| anyhow!("ack: {e}"))?;

    // The consumer deleted under the pull: the client hears 409 Consumer
    // Deleted and reports it.
    st.delete_consumer("READER").await?;
    let err = match tokio::time::timeout(WAIT, msgs.next()).await {
        Err(_) => bail!("no word of the deleted consumer within {WAIT:?}"),
        Ok(None) => bail!("the stream ended without an error"),
        Ok(Some(Ok(m))) => bail!("a message after the delete: {}", m.subject),
        Ok(Some(Err(e))) => e,
    };
    ctx.observe(
        "consumer deleted under the pull",
        format!("{:?}", err.kind()),
    );
    check_eq!(
        format!("{:?}", err.kind()),
        format!("{:?}", pull::MessagesErrorKind::ConsumerDeleted)
    );
    Ok(())
}

async fn push_consumers(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let js = js_context(&ctx, &s).await?;
    let st = make_stream(&js, "PUSHED", &["pushed.>"]).await?;

    // A durable push consumer on a fixed deliver subject.
    let durable = st
        .create_consumer(push::Config {
            durable_name: Some("PUSH".into()),
            deliver_subject: "deliver.push".into(),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await?;
    let mut msgs = durable.messages().await?;
    publish_all(&js, &numbered("pushed", 1..=5)).await?;
    for i in 1..=5u64 {
        let m = next_within(&mut msgs, WAIT, "a push delivery").await?;
        let info = m.info().map_err(|e| anyhow!("{e}"))?;
        check_eq!(
            (m.subject.to_string(), info.consumer, info.stream_sequence),
            (format!("pushed.{i}"), "PUSH", i)
        );
        ctx.observe("pushed", seen_racy(&m)?);
        m.ack().await.map_err(|e| anyhow!("ack: {e}"))?;
    }
    // Acks are published without a reply: the server counts them soon after.
    let info = eventually(WAIT, || async {
        let info = st.consumer_info("PUSH").await?;
        Ok((info.num_ack_pending == 0).then_some(info))
    })
    .await?;
    check_eq!((info.push_bound, info.ack_floor.stream_sequence), (true, 5));
    drop(msgs);

    // An ephemeral push consumer: the server names it.
    let inbox = ctx.client(&s).await?.new_inbox();
    let eph = st
        .create_consumer(push::Config {
            deliver_subject: inbox,
            ack_policy: AckPolicy::Explicit,
            deliver_policy: DeliverPolicy::Last,
            ..Default::default()
        })
        .await?;
    let name = eph.cached_info().name.clone();
    ensure!(
        name.len() == 8 && name.chars().all(|c| c.is_ascii_alphanumeric()),
        "an ephemeral consumer's name: {name:?}"
    );
    check_eq!(eph.cached_info().config.durable_name, None);
    let mut msgs = eph.messages().await?;
    let m = next_within(&mut msgs, WAIT, "the last message, to an ephemeral").await?;
    check_eq!(m.subject.as_str(), "pushed.5");
    m.ack().await.map_err(|e| anyhow!("ack: {e}"))?;
    ctx.observe(
        "ephemeral config",
        format!("{:?}", eph.cached_info().config.inactive_threshold),
    );

    // A deliver group: two members share the messages.
    let group = st
        .create_consumer(push::Config {
            durable_name: Some("GROUP".into()),
            deliver_subject: "deliver.group".into(),
            deliver_group: Some("workers".into()),
            deliver_policy: DeliverPolicy::New,
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await?;
    let mut a = group.messages().await?;
    let mut b = group.messages().await?;
    publish_all(&js, &numbered("pushed", 6..=25)).await?;
    let mut seqs = Vec::new();
    let (mut got_a, mut got_b) = (0, 0);
    let deadline = tokio::time::Instant::now() + WAIT;
    while seqs.len() < 20 {
        let m = tokio::time::timeout_at(deadline, async {
            tokio::select! {
                m = a.next() => (0, m),
                m = b.next() => (1, m),
            }
        })
        .await
        .map_err(|_| anyhow!("the group got {} of 20 messages", seqs.len()))?;
        let m = match m {
            (who, Some(Ok(m))) => {
                if who == 0 {
                    got_a += 1
                } else {
                    got_b += 1
                }
                m
            }
            (_, other) => bail!("a group member's stream: {:?}", other.map(|r| r.err())),
        };
        seqs.push(m.info().map_err(|e| anyhow!("{e}"))?.stream_sequence);
        m.ack().await.map_err(|e| anyhow!("ack: {e}"))?;
    }
    seqs.sort();
    check_eq!(seqs, (6..=25).collect::<Vec<u64>>());
    ensure!(got_a + got_b == 20, "{got_a} + {got_b} deliveries");
    // Nothing more arrives on either member.
    let extra = tokio::time::timeout(Duration::from_millis(300), async {
        tokio::select! { m = a.next() => m.is_some(), m = b.next() => m.is_some() }
    })
    .await;
    check_eq!(extra.ok(), None);
    let info = st.consumer_info("GROUP").await?;
    check_eq!(
        (
            info.config.deliver_group.as_deref(),
            info.delivered.consumer_sequence
        ),
        (Some("workers"), 20)
    );
    Ok(())
}

async fn ordered(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let js = js_context(&ctx, &s).await?;
    let st = make_stream(&js, "SEQ", &["seq.>"]).await?;
    publish_all(&js, &numbered("seq", 1..=10)).await?;

    // Ordered pull.
    let c = st
        .create_consumer(pull::OrderedConfig {
            name: Some("opull".into()),
            ..Default::default()
        })
        .await?;
    let cfg = &c.cached_info().config;
    ctx.observe(
        "ordered pull config",
        format!(
            "{:?} {:?} {} {} {:?}",
            cfg.ack_policy, cfg.deliver_policy, cfg.max_deliver, cfg.memory_storage, cfg.name
        ),
    );
    let mut msgs = c.messages().await?;
    for i in 1..=5u64 {
        let m = next_within(&mut msgs, WAIT, "ordered pull").await?;
        check_eq!(m.info().map_err(|e| anyhow!("{e}"))?.stream_sequence, i);
    }
    // The server deletes it mid-stream; the client makes "opull_1" and
    // carries on from sequence 6.
    st.delete_consumer("opull").await?;
    publish_all(&js, &numbered("seq", 11..=12)).await?;
    for i in 6..=12u64 {
        let m = next_within(
            &mut msgs,
            Duration::from_secs(10),
            "ordered pull after delete",
        )
        .await?;
        let info = m.info().map_err(|e| anyhow!("{e}"))?;
        check_eq!(info.stream_sequence, i);
        if i == 12 {
            ctx.observe("ordered pull recreated", info.consumer);
        }
    }
    drop(msgs);

    // Ordered push.
    let client = ctx.client(&s).await?;
    let c = st
        .create_consumer(push::OrderedConfig {
            deliver_subject: client.new_inbox(),
            ..Default::default()
        })
        .await?;
    let cfg = &c.cached_info().config;
    ctx.observe(
        "ordered push config",
        format!(
            "{:?} {} {:?} {} {:?}",
            cfg.ack_policy,
            cfg.flow_control,
            cfg.idle_heartbeat,
            cfg.memory_storage,
            cfg.inactive_threshold
        ),
    );
    let first = c.cached_info().name.clone();
    let mut msgs = c.messages().await?;
    for i in 1..=12u64 {
        let m = next_within(&mut msgs, WAIT, "ordered push").await?;
        check_eq!(m.info().map_err(|e| anyhow!("{e}"))?.stream_sequence, i);
    }
    // Deleted under it: the push consumer hears nothing, misses two
    // heartbeats (10 s), reports that once and makes a new consumer.
    st.delete_consumer(&first).await?;
    publish_all(&js, &numbered("seq", 13..=14)).await?;
    let mut missed = 0;
    let mut next = 13u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(25);
    while next <= 14 {
        match tokio::time::timeout_at(deadline, msgs.next()).await {
            Err(_) => bail!("ordered push after delete: stuck before sequence {next}"),
            Ok(None) => bail!("ordered push ended"),
            Ok(Some(Err(e))) => {
                ensure!(
                    format!("{:?}", e.kind()) == "MissingHeartbeat" && missed == 0,
                    "ordered push: {e:?}"
                );
                missed += 1;
            }
            Ok(Some(Ok(m))) => {
                let info = m.info().map_err(|e| anyhow!("{e}"))?;
                check_eq!(info.stream_sequence, next);
                check_eq!(info.consumer.to_string(), format!("{first}_1"));
                next += 1;
            }
        }
    }
    check_eq!(missed, 1);
    Ok(())
}

async fn acks(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let js = js_context(&ctx, &s).await?;
    let st = make_stream(&js, "WORK", &["work.>"]).await?;
    publish_all(&js, &numbered("work", 1..=5)).await?;
    let c = st
        .create_consumer(pull::Config {
            durable_name: Some("ACKER".into()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(30),
            ..Default::default()
        })
        .await?;
    let got = collect_within(
        c.fetch().max_messages(5).messages().await?,
        WAIT,
        "fetch of 5",
    )
    .await?;
    check_eq!(got.len(), 5);
    let e = |e: async_nats::Error| anyhow!("{e}");
    got[0].ack().await.map_err(e)?;
    got[1]
        .ack_with(AckKind::Nak(Some(Duration::from_millis(1500))))
        .await
        .map_err(e)?;
    got[2].ack_with(AckKind::Nak(None)).await.map_err(e)?;
    got[3].ack_with(AckKind::Progress).await.map_err(e)?;
    got[4].ack_with(AckKind::Term).await.map_err(e)?;
    got[3].double_ack().await.map_err(e)?;
    let nak_at = Instant::now();

    // The plain NAK comes back at once, as a second delivery.
    let got = collect_within(
        c.fetch().max_messages(5).messages().await?,
        WAIT,
        "fetch after the NAKs",
    )
    .await?;
    let subjects: Vec<String> = got.iter().map(|m| m.subject.to_string()).collect();
    check_eq!(subjects, vec!["work.3".to_string()]);
    let info = got[0].info().map_err(|e| anyhow!("{e}"))?;
    check_eq!((info.delivered, info.consumer_sequence), (2, 6));
    ctx.observe("redelivered", seen(&got[0])?);
    got[0].ack_with(AckKind::Term).await.map_err(e)?;

    // The delayed NAK: not before its delay.
    let batch = c
        .batch()
        .max_messages(1)
        .expires(Duration::from_secs(4))
        .messages()
        .await?;
    let got = collect_within(batch, WAIT, "the delayed redelivery").await?;
    check_eq!(got.len(), 1);
    let after = nak_at.elapsed();
    ensure!(
        after >= Duration::from_millis(1200),
        "a NAK delayed 1.5 s came back after {after:?}"
    );
    let info = got[0].info().map_err(|e| anyhow!("{e}"))?;
    check_eq!(
        (
            got[0].subject.as_str(),
            info.delivered,
            info.stream_sequence
        ),
        ("work.2", 2, 2)
    );
    got[0].double_ack().await.map_err(e)?;

    // Nothing else: the terminated message is never redelivered.
    let got = collect_within(
        c.batch()
            .max_messages(5)
            .expires(Duration::from_millis(500))
            .messages()
            .await?,
        WAIT,
        "the last batch",
    )
    .await?;
    check_eq!(got.len(), 0);
    let info = c.get_info().await?;
    check_eq!(
        (
            info.num_ack_pending,
            info.num_redelivered,
            info.num_pending,
            info.ack_floor.stream_sequence,
            info.delivered.consumer_sequence
        ),
        (0, 0, 0, 5, 7)
    );
    ctx.observe(
        "after the acks",
        format!(
            "delivered {}/{} ack floor {}/{}",
            info.delivered.consumer_sequence,
            info.delivered.stream_sequence,
            info.ack_floor.consumer_sequence,
            info.ack_floor.stream_sequence
        ),
    );
    Ok(())
}

async fn consumer_admin(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let js = js_context(&ctx, &s).await?;
    let st = make_stream(&js, "ADMIN", &["admin.>"]).await?;
    publish_all(&js, &numbered("admin", 1..=3)).await?;
    publish_all(&js, &[("admin.x.1".into(), "x".into())]).await?;

    let mut filtered = st
        .create_consumer(pull::Config {
            durable_name: Some("FILTERED".into()),
            filter_subject: "admin.x.>".into(),
            ..Default::default()
        })
        .await?;
    let info = filtered.info().await?.clone();
    check_eq!(
        (info.num_pending, info.config.filter_subject.as_str()),
        (1, "admin.x.>")
    );
    let cfg = &info.config;
    check_eq!(
        (
            cfg.ack_wait,
            cfg.max_deliver,
            cfg.max_ack_pending,
            cfg.max_waiting
        ),
        (Duration::from_secs(30), -1, 1000, 512)
    );
    ctx.observe("written back", format!("{cfg:?}"));

    st.create_consumer(durable_pull("B")).await?;
    st.create_consumer(push::Config {
        durable_name: Some("A".into()),
        deliver_subject: "deliver.admin".into(),
        ..Default::default()
    })
    .await?;
    // Get-or-create of an existing one reads it, and creates nothing.
    let again: consumer::PullConsumer = st.get_or_create_consumer("B", durable_pull("B")).await?;
    check_eq!(again.cached_info().name.as_str(), "B");
    let got: consumer::PushConsumer = st
        .get_consumer("A")
        .await
        .map_err(|e| anyhow!("get_consumer A: {e}"))?;
    check_eq!(
        got.cached_info().config.deliver_subject.as_deref(),
        Some("deliver.admin")
    );
    // A push consumer cannot be read as a pull one.
    let wrong = st.get_consumer::<pull::Config>("A").await;
    check_eq!(wrong.is_err(), true);

    let mut names: Vec<String> = st.consumer_names().try_collect().await?;
    names.sort();
    check_eq!(names, vec!["A", "B", "FILTERED"]);
    let infos: Vec<consumer::Info> = st.consumers().try_collect().await?;
    let mut listed: Vec<(String, u64)> = infos
        .iter()
        .map(|i| (i.name.clone(), i.num_pending))
        .collect();
    listed.sort();
    check_eq!(
        listed,
        vec![
            ("A".to_string(), 4),
            ("B".to_string(), 4),
            ("FILTERED".to_string(), 1)
        ]
    );

    check_eq!(st.delete_consumer("B").await?.success, true);
    let err = st.consumer_info("B").await.err().context("B was deleted")?;
    ctx.observe("info of a deleted consumer", server_error(&err));
    let err = st
        .delete_consumer("B")
        .await
        .err()
        .context("B is deleted already")?;
    ctx.observe("delete of a missing consumer", server_error(&err));
    let names: Vec<String> = st.consumer_names().try_collect().await?;
    check_eq!(names.len(), 2);
    // A consumer on a stream that does not exist.
    let err = js
        .create_consumer_on_stream(durable_pull("X"), "NOPE")
        .await
        .err()
        .context("no stream NOPE")?;
    ctx.observe("consumer on a missing stream", server_error(&err));
    Ok(())
}

/// What a user sees of an entry (not its delta: the pending count of a
/// watcher's delivery depends on how far the writer got meanwhile).
fn entry_text(e: &kv::Entry) -> String {
    format!(
        "{} rev={} {:?} {:?}",
        e.key,
        e.revision,
        e.operation,
        String::from_utf8_lossy(&e.value)
    )
}

async fn kv_watch(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let js = js_context(&ctx, &s).await?;
    // What fails on 2.9.10: the bucket create of async-nats 0.51.
    let created = js
        .create_key_value(kv::Config {
            bucket: "NEWSTYLE".into(),
            history: 3,
            ..Default::default()
        })
        .await;
    ctx.observe(
        "create_key_value",
        match &created {
            Ok(_) => "created".to_string(),
            Err(e) => format!("{:?}: {e}", e.kind()),
        },
    );
    let kv = kv_bucket(&js, "CFG", 5).await?;
    kv.put("a", "a1".into()).await?;
    kv.put("b", "b1".into()).await?;
    kv.put("c", "c1".into()).await?;
    kv.put("a", "a2".into()).await?;
    kv.delete("b").await?;
    kv.purge("c").await?;

    let history: Vec<kv::Entry> =
        collect_within(kv.history("a").await?, WAIT, "history of a").await?;
    let revs: Vec<(u64, String)> = history
        .iter()
        .map(|e| (e.revision, String::from_utf8_lossy(&e.value).into_owned()))
        .collect();
    check_eq!(revs, vec![(1, "a1".to_string()), (4, "a2".to_string())]);
    let history: Vec<kv::Entry> =
        collect_within(kv.history("b").await?, WAIT, "history of b").await?;
    let ops: Vec<kv::Operation> = history.iter().map(|e| e.operation).collect();
    check_eq!(ops, vec![kv::Operation::Put, kv::Operation::Delete]);
    // A purge rolls the key up to its marker.
    let history: Vec<kv::Entry> =
        collect_within(kv.history("c").await?, WAIT, "history of c").await?;
    check_eq!(
        history
            .iter()
            .map(|e| (e.revision, e.operation))
            .collect::<Vec<_>>(),
        vec![(6, kv::Operation::Purge)]
    );
    for e in &history {
        ctx.observe("history", entry_text(e));
    }

    let mut keys: Vec<String> = collect_within(kv.keys().await?, WAIT, "keys").await?;
    keys.sort();
    check_eq!(keys, vec!["a".to_string()]);

    // watch (deliver new): only what happens after it started.
    let mut watch = kv.watch("a").await?;
    let mut all = kv.watch_all().await?;
    let mut with_history = kv.watch_with_history("a").await?;
    let e = next_within(&mut with_history, WAIT, "watch with history: the current a").await?;
    check_eq!((e.revision, e.operation), (4, kv::Operation::Put));
    kv.put("a", "a3".into()).await?;
    kv.put("d", "d1".into()).await?;
    kv.delete("a").await?;
    kv.purge("d").await?;
    let e = next_within(&mut watch, WAIT, "watch a: put").await?;
    check_eq!(
        (e.key.as_str(), e.revision, e.operation),
        ("a", 7, kv::Operation::Put)
    );
    check_eq!(e.value.as_ref(), b"a3".as_slice());
    let e = next_within(&mut watch, WAIT, "watch a: delete").await?;
    check_eq!((e.revision, e.operation), (9, kv::Operation::Delete));
    ctx.observe("watch", entry_text(&e));
    let mut seen_all = Vec::new();
    for _ in 0..4 {
        let e = next_within(&mut all, WAIT, "watch_all").await?;
        seen_all.push((e.key.clone(), e.revision, e.operation));
        ctx.observe("watch_all", entry_text(&e));
    }
    check_eq!(
        seen_all,
        vec![
            ("a".to_string(), 7, kv::Operation::Put),
            ("d".to_string(), 8, kv::Operation::Put),
            ("a".to_string(), 9, kv::Operation::Delete),
            ("d".to_string(), 10, kv::Operation::Purge),
        ]
    );
    let e = next_within(&mut with_history, WAIT, "watch with history: a3").await?;
    check_eq!(e.revision, 7);

    // A store's status is what it read when it was opened: open it again.
    check_eq!(kv.status().await?.values(), 0);
    let status = js.get_key_value("CFG").await?.status().await?;
    check_eq!(
        (status.bucket(), status.history(), status.values()),
        ("CFG", 5, 8)
    );
    ctx.observe(
        "status",
        format!(
            "{} {} {}",
            status.bucket(),
            status.history(),
            status.values()
        ),
    );
    Ok(())
}

async fn object_store(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let js = js_context(&ctx, &s).await?;
    let created = js
        .create_object_store(object_store::Config {
            bucket: "FILES".into(),
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await;
    ctx.observe(
        "create_object_store",
        match &created {
            Ok(_) => "created".to_string(),
            Err(e) => format!("{:?} {}", e.kind(), e),
        },
    );
    let mut bucket = created.map_err(|e| anyhow!("create_object_store: {e}"))?;

    let data: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let info = bucket.put("big.bin", &mut data.as_slice()).await?;
    check_eq!(
        (info.name.as_str(), info.size, info.chunks),
        ("big.bin", data.len(), 24)
    );
    ctx.observe(
        "put",
        format!(
            "{} {} {} {:?}",
            info.size, info.chunks, info.bucket, info.digest
        ),
    );
    let mut obj = bucket.get("big.bin").await?;
    let mut back = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), obj.read_to_end(&mut back))
        .await
        .map_err(|_| anyhow!("reading the object back took over 20 s"))??;
    check_eq!(back.len(), data.len());
    ensure!(back == data, "the object read back differs");
    let read = bucket.info("big.bin").await?;
    check_eq!(
        (read.size, read.chunks, read.deleted),
        (data.len(), 24, false)
    );
    check_eq!(read.digest, info.digest);

    bucket.put("small.txt", &mut b"hello".as_slice()).await?;
    let mut listed: Vec<String> = collect_within(bucket.list().await?, WAIT, "list")
        .await?
        .into_iter()
        .map(|i| i.name)
        .collect();
    listed.sort();
    check_eq!(listed, vec!["big.bin".to_string(), "small.txt".to_string()]);

    let mut watch = bucket.watch().await?;
    bucket.put("late.txt", &mut b"later".as_slice()).await?;
    let seen = next_within(&mut watch, WAIT, "object watch").await?;
    check_eq!(
        (seen.name.as_str(), seen.size, seen.deleted),
        ("late.txt", 5, false)
    );

    bucket.delete("small.txt").await?;
    let seen = next_within(&mut watch, WAIT, "object watch: delete").await?;
    check_eq!((seen.name.as_str(), seen.deleted), ("small.txt", true));
    let err = bucket
        .get("small.txt")
        .await
        .err()
        .context("small.txt was deleted")?;
    ctx.observe("get deleted object", format!("{:?}", err.kind()));
    let stream_state = js.get_stream("OBJ_FILES").await?.get_info().await?;
    ctx.observe(
        "bucket stream after delete",
        format!("{}", stream_state.state.messages),
    );

    bucket.seal().await?;
    let cfg = js.get_stream("OBJ_FILES").await?.get_info().await?.config;
    check_eq!(cfg.sealed, true);
    let refused = bucket.put("after.seal", &mut b"no".as_slice()).await;
    let err = refused.err().context("a put into a sealed bucket")?;
    ctx.observe("put after seal", format!("{:?}", err.kind()));
    // Still readable.
    let mut obj = bucket.get("late.txt").await?;
    let mut back = Vec::new();
    obj.read_to_end(&mut back).await?;
    check_eq!(back.as_slice(), b"later".as_slice());
    Ok(())
}
