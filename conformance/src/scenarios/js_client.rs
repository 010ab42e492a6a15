//! An official client's JetStream conversation, end to end: async-nats'
//! own stream-management and key-value APIs (what an application calls,
//! not raw requests) against each server. Every answer the client decodes
//! is checked, and the values a user sees are recorded to compare the two
//! servers. The KV calls that need a consumer (history, keys, watch) wait
//! for consumers (JetStream part 2).

use crate::check_eq;
use crate::kit::js::{js_context, js_server, kv_bucket};
use crate::kit::{Ctx, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{Context, Result};
use async_nats::jetstream::{kv, stream};
use futures::{FutureExt, TryStreamExt};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("jetstream/async-nats-streams", |c| streams(c).boxed())
            .needs(Need::JetStream)
            .beyond_go("async-nats' stream API end to end: create, update, info, names and list past a page, purge with filter and keep, get, delete, direct get, delete"),
        Scenario::new("jetstream/async-nats-domain", |c| domain(c).boxed())
            .needs(Need::JetStream)
            .beyond_go("a client of a JetStream domain reaches the API through $JS.<domain>.API (Go's domain mapping table) and gets the domain in its PubAcks"),
        Scenario::new("jetstream/async-nats-kv", |c| key_value(c).boxed())
            .needs(Need::JetStream)
            .beyond_go("async-nats' key-value API on the stream side: a bucket stream (allow_rollup_hdrs, max_msgs_per_subject, allow_direct) opened as a bucket, put, get, entry, update with revision, delete, purge, status, bucket delete"),
    ]
}

/// More streams than one page of `STREAM.LIST` (256) holds.
const STREAMS: usize = 300;

async fn streams(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let js = js_context(&ctx, &s).await?;
    let cfg = stream::Config {
        name: "ORDERS".into(),
        subjects: vec!["orders.>".into()],
        storage: stream::StorageType::File,
        allow_direct: true,
        ..Default::default()
    };
    let mut orders = js.create_stream(cfg.clone()).await?;
    for (i, subject) in ["orders.new", "orders.new", "orders.paid", "orders.new"]
        .iter()
        .enumerate()
    {
        let ack = js
            .publish(*subject, format!("order {i}").into())
            .await?
            .await?;
        check_eq!(
            (ack.stream.as_str(), ack.sequence),
            ("ORDERS", i as u64 + 1)
        );
    }
    let info = orders.info().await?.clone();
    check_eq!((info.state.messages, info.state.last_sequence), (4, 4));
    ctx.observe(
        "info state",
        format!(
            "{:?}",
            (
                info.state.messages,
                info.state.bytes,
                info.state.subjects_count
            )
        ),
    );

    let updated = js
        .update_stream(stream::Config {
            max_messages_per_subject: 2,
            ..cfg.clone()
        })
        .await?;
    check_eq!(updated.config.max_messages_per_subject, 2);
    // Go keeps what is stored when a per-subject limit is first set.
    check_eq!(updated.state.messages, 4);
    check_eq!(orders.get_info().await?.state.messages, 4);

    let m = orders.get_raw_message(2).await?;
    check_eq!(
        (m.subject.as_str(), m.payload.as_ref()),
        ("orders.new", b"order 1".as_slice())
    );
    let m = orders
        .get_last_raw_message_by_subject("orders.paid")
        .await?;
    check_eq!(m.sequence, 3);
    let m = orders.direct_get_last_for_subject("orders.new").await?;
    check_eq!((m.sequence, m.payload.as_ref()), (4, b"order 3".as_slice()));
    let m = orders.direct_get(3).await?;
    check_eq!(m.subject.as_str(), "orders.paid");
    check_eq!(orders.delete_message(3).await?, true);
    let err = orders
        .get_raw_message(3)
        .await
        .err()
        .context("message 3 was deleted")?;
    ctx.observe("get deleted", format!("{:?}", err.kind()));

    let purged = orders.purge().filter("orders.new").keep(1).await?;
    check_eq!((purged.success, purged.purged), (true, 2));
    let purged = orders.purge().await?;
    check_eq!((purged.success, purged.purged), (true, 1));

    for i in 0..STREAMS {
        js.create_stream(stream::Config {
            name: format!("S{i:03}"),
            subjects: vec![format!("s.{i:03}")],
            storage: stream::StorageType::Memory,
            ..Default::default()
        })
        .await?;
    }
    let names: Vec<String> = js.stream_names().try_collect().await?;
    check_eq!(names.len(), STREAMS + 1);
    let infos: Vec<stream::Info> = js.streams().try_collect().await?;
    check_eq!(infos.len(), STREAMS + 1);
    let mut listed: Vec<String> = infos.into_iter().map(|i| i.config.name).collect();
    listed.sort();
    let mut sorted = names.clone();
    sorted.sort();
    check_eq!(listed, sorted);
    let found = js.stream_by_subject("orders.paid").await?;
    check_eq!(found, "ORDERS");

    check_eq!(js.delete_stream("ORDERS").await?.success, true);
    let err = js
        .get_stream("ORDERS")
        .await
        .err()
        .context("ORDERS was deleted")?;
    ctx.observe("get deleted stream", format!("{:?}", err.kind()));
    // async-nats' account query wants 2.10's `reserved_memory` fields, so
    // it cannot read a 2.9.10 answer: on either server it fails alike.
    let err = js
        .query_account()
        .await
        .err()
        .context("2.9.10's account info")?;
    ctx.observe("account query", format!("{:?}", err.kind()));
    Ok(())
}

async fn key_value(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let js = js_context(&ctx, &s).await?;
    let kv = kv_bucket(&js, "CONFIG", 5).await?;
    let status = kv.status().await?;
    check_eq!((status.bucket(), status.history()), ("CONFIG", 5));
    let cfg = &status.info.config;
    check_eq!(
        (
            cfg.allow_rollup,
            cfg.max_messages_per_subject,
            cfg.allow_direct,
            cfg.deny_delete
        ),
        (true, 5, true, true)
    );

    let r1 = kv.put("color", "red".into()).await?;
    let r2 = kv.put("color", "blue".into()).await?;
    check_eq!((r1, r2), (1, 2));
    let color = kv.get("color").await?;
    check_eq!(color.as_deref(), Some(b"blue".as_slice()));
    let entry = kv.entry("color").await?.context("an entry for color")?;
    check_eq!((entry.revision, entry.operation), (2, kv::Operation::Put));

    let r3 = kv.update("color", "green".into(), 2).await?;
    check_eq!(r3, 3);
    let stale = kv.update("color", "pink".into(), 2).await;
    let err = stale
        .err()
        .context("an update at an old revision must fail")?;
    ctx.observe("stale update", format!("{:?}", err.kind()));

    kv.put("shape", "circle".into()).await?;
    kv.delete("shape").await?;
    check_eq!(kv.get("shape").await?, None);
    let entry = kv
        .entry("shape")
        .await?
        .context("a delete marker for shape")?;
    check_eq!(entry.operation, kv::Operation::Delete);

    kv.purge("color").await?;
    check_eq!(kv.get("color").await?, None);
    // What is left: shape's value and delete marker, and color's purge
    // marker (the purge is a roll-up of the subject).
    let state = js.get_stream("KV_CONFIG").await?.get_info().await?.state;
    check_eq!(state.messages, 3);

    js.delete_key_value("CONFIG").await?;
    let gone = js.get_key_value("CONFIG").await;
    check_eq!(gone.is_err(), true);
    Ok(())
}

async fn domain(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("jetstream { domain: HUB, store_dir: \"{{dir}}/js\" }\n"))
        .await?;
    let js = async_nats::jetstream::with_domain(ctx.client(&s).await?, "HUB");
    let mut orders = js
        .create_stream(stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.*".into()],
            storage: stream::StorageType::Memory,
            allow_direct: true,
            ..Default::default()
        })
        .await?;
    let ack = js.publish("orders.new", "one".into()).await?.await?;
    check_eq!(
        (ack.stream.as_str(), ack.sequence, ack.domain.as_str()),
        ("ORDERS", 1, "HUB")
    );
    ctx.observe("PubAck through the domain", format!("{ack:?}"));
    check_eq!(orders.info().await?.state.messages, 1);
    let m = orders.get_raw_message(1).await?;
    check_eq!(m.payload.as_ref(), b"one".as_slice());
    let m = orders.direct_get_last_for_subject("orders.new").await?;
    check_eq!(m.sequence, 1);
    // The local API answers too, for the same streams.
    let local = js_context(&ctx, &s).await?;
    check_eq!(
        local
            .get_stream("ORDERS")
            .await?
            .get_info()
            .await?
            .state
            .messages,
        1
    );
    Ok(())
}
