//! The check after each restart: the stream holds every acknowledged
//! message byte for byte and nothing that is not ours, its sequences did not
//! go back, it reports no lost data, and the durable consumer's state is
//! consistent, did not go back, and delivers.

use super::ledger::{Seen, Stored};
use super::workload::{api, take_delivery};
use super::{Run, CONSUMER, STREAM};
use anyhow::{anyhow, Context as _, Result};
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::stream::Stream;
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

/// What one check found.
#[derive(Debug, Default, Clone)]
pub struct Findings {
    /// Messages in the stream after the restart.
    pub stored: u64,
    pub last_seq: u64,
    /// Acknowledged, not removed, and missing.
    pub lost: Vec<u64>,
    pub corrupt: Vec<String>,
    /// Unanswered publishes found stored.
    pub adopted: u64,
    /// Removed (answered) yet back.
    pub resurrected: u64,
    /// What the stream state reported as lost.
    pub reported_lost: Option<Value>,
    /// The durable consumer's ack floor (stream sequence).
    pub ack_floor: u64,
    pub problems: Vec<String>,
}

/// Reads the whole stream and judges every message.
pub async fn check_stream(
    client: &async_nats::Client,
    stream: &Stream,
    run: &Run,
) -> Result<Findings> {
    let info = api(client, &format!("$JS.API.STREAM.INFO.{STREAM}"), json!({})).await?;
    let state = &info["state"];
    let mut f = Findings {
        stored: state["messages"].as_u64().context("state.messages")?,
        last_seq: state["last_seq"].as_u64().context("state.last_seq")?,
        reported_lost: state.get("lost").cloned(),
        ..Findings::default()
    };
    let max_acked = run.ledger.lock().expect("ledger").max_seq();
    if f.last_seq < max_acked {
        f.problems.push(format!(
            "last sequence {} is below the highest acknowledged, {max_acked}",
            f.last_seq
        ));
    }
    let seen = read_all(stream, run, &mut f).await?;
    if seen.len() as u64 != f.stored {
        let phantoms = phantoms(client, &seen).await?;
        f.problems.push(format!(
            "the stream says it holds {} messages, a consumer from its start got {} (not delivered, neither deleted: {phantoms})",
            f.stored,
            seen.len()
        ));
    }
    let mut l = run.ledger.lock().expect("ledger");
    f.lost = l.missing(&seen);
    l.forget_unanswered();
    Ok(f)
}

/// The sequences the stream's state counts (between its first and last,
/// not in its deleted list) that a consumer did not deliver: a few of them.
async fn phantoms(client: &async_nats::Client, seen: &HashSet<u64>) -> Result<String> {
    let info = api(
        client,
        &format!("$JS.API.STREAM.INFO.{STREAM}"),
        json!({"deleted_details": true}),
    )
    .await?;
    let state = &info["state"];
    let (first, last) = (
        state["first_seq"].as_u64().unwrap_or(0),
        state["last_seq"].as_u64().unwrap_or(0),
    );
    let deleted: HashSet<u64> = state["deleted"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let missing: Vec<String> = (first..=last)
        .filter(|s| !deleted.contains(s) && !seen.contains(s))
        .take(10)
        .map(|s| s.to_string())
        .collect();
    Ok(format!(
        "first {first}, last {last}, {} deleted; [{}]",
        deleted.len(),
        missing.join(", ")
    ))
}

/// Every stored message, through an ephemeral consumer without acks.
async fn read_all(stream: &Stream, run: &Run, f: &mut Findings) -> Result<HashSet<u64>> {
    let reader = stream
        .create_consumer(pull::Config {
            ack_policy: AckPolicy::None,
            deliver_policy: DeliverPolicy::All,
            inactive_threshold: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow!("creating the reading consumer: {e}"))?;
    let mut seen = HashSet::new();
    while (seen.len() as u64) < f.stored {
        let mut batch = reader
            .fetch()
            .max_messages(1000)
            .expires(Duration::from_secs(2))
            .messages()
            .await
            .map_err(|e| anyhow!("reading the stream: {e}"))?;
        let before = seen.len();
        while let Some(m) = batch.next().await {
            let m = m.map_err(|e| anyhow!("reading the stream: {e}"))?;
            let seq = m.info().map_err(|e| anyhow!("{e}"))?.stream_sequence;
            let id = m
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Msg-Id"))
                .map(|v| v.as_str().to_string());
            let stored = Stored {
                seq,
                subject: m.subject.as_str(),
                msg_id: id.as_deref(),
                payload: &m.payload,
            };
            match run.ledger.lock().expect("ledger").judge(&stored) {
                Seen::Known => {}
                Seen::Adopted => f.adopted += 1,
                Seen::Resurrected => f.resurrected += 1,
                Seen::Corrupt(what) => f.corrupt.push(what),
            }
            seen.insert(seq);
        }
        if seen.len() == before {
            break;
        }
    }
    let name = reader.cached_info().name.clone();
    // Left behind, it would go after its inactive threshold anyway.
    let _ = stream.delete_consumer(&name).await;
    Ok(seen)
}

/// The durable consumer after a restart: present, consistent, not behind
/// its last check, and delivering when it has something to deliver.
pub async fn check_consumer(
    client: &async_nats::Client,
    stream: &Stream,
    run: &Run,
    f: &mut Findings,
    previous_floor: u64,
) -> Result<()> {
    let info = api(
        client,
        &format!("$JS.API.CONSUMER.INFO.{STREAM}.{CONSUMER}"),
        json!({}),
    )
    .await?;
    if info.get("error").is_some() {
        f.problems
            .push(format!("the durable consumer is gone: {info}"));
        return Ok(());
    }
    let floor = info["ack_floor"]["stream_seq"].as_u64().unwrap_or(0);
    let delivered = info["delivered"]["stream_seq"].as_u64().unwrap_or(0);
    f.ack_floor = floor;
    if floor > delivered || delivered > f.last_seq {
        f.problems.push(format!(
            "consumer state inconsistent: ack floor {floor}, delivered {delivered}, stream last {}",
            f.last_seq
        ));
    }
    if floor < previous_floor {
        f.problems.push(format!(
            "consumer ack floor went back from {previous_floor} to {floor}"
        ));
    }
    let pending = info["num_pending"].as_u64().unwrap_or(0);
    let ack_pending = info["num_ack_pending"].as_u64().unwrap_or(0);
    if pending + ack_pending == 0 {
        return Ok(());
    }
    // Unacked deliveries come back after the ack wait (1 s).
    let consumer: async_nats::jetstream::consumer::PullConsumer = stream
        .get_consumer(CONSUMER)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let mut batch = consumer
        .fetch()
        .max_messages(1)
        .expires(Duration::from_secs(3))
        .messages()
        .await
        .map_err(|e| anyhow!("fetch: {e}"))?;
    match batch.next().await {
        Some(Ok(m)) => {
            take_delivery(run, &m)?;
            m.ack().await.map_err(|e| anyhow!("ack: {e}"))?;
        }
        _ => f.problems.push(format!(
            "the durable consumer delivered nothing in 3 s with {pending} pending and {ack_pending} awaiting ack"
        )),
    }
    Ok(())
}
