//! The check after each restart: the stream holds every acknowledged
//! message byte for byte and nothing that is not ours, its sequences did not
//! go back, what it reports lost holds no acknowledged message, and the
//! durable consumer's state is consistent, did not go back, and delivers.
//!
//! The stream is read up to the highest sequence its state says is there,
//! not up to its message count: Go 2.9.10 can count messages after a kill
//! that no consumer can read, and a reader waiting for them would wait out
//! every fetch.

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

/// How long one fetch of the reading consumer waits for messages.
const READ_EXPIRY: Duration = Duration::from_millis(400);
/// Fetches in a row that may bring nothing before the reading stops.
const EMPTY_FETCHES: usize = 2;
/// How long the durable consumer may take to deliver after a restart
/// (unacked deliveries come back after its ack wait, 1 s).
const DURABLE_EXPIRY: Duration = Duration::from_secs(3);

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
    /// Findings that are no problem (what the stream reports lost when no
    /// acknowledged message is in it: a torn record of a publish the kill
    /// left unanswered).
    pub notes: Vec<String>,
    /// The durable consumer's ack floor (stream sequence).
    pub ack_floor: u64,
    pub problems: Vec<String>,
}

/// The stream's state as STREAM.INFO gives it, deleted sequences listed.
struct State {
    messages: u64,
    first_seq: u64,
    last_seq: u64,
    deleted: HashSet<u64>,
    lost: Option<Value>,
}

impl State {
    async fn get(client: &async_nats::Client) -> Result<State> {
        let info = api(
            client,
            &format!("$JS.API.STREAM.INFO.{STREAM}"),
            json!({"deleted_details": true}),
        )
        .await?;
        let state = &info["state"];
        Ok(State {
            messages: state["messages"].as_u64().context("state.messages")?,
            first_seq: state["first_seq"].as_u64().context("state.first_seq")?,
            last_seq: state["last_seq"].as_u64().context("state.last_seq")?,
            deleted: state["deleted"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default(),
            lost: state.get("lost").cloned(),
        })
    }

    /// The sequences counted (between the first and the last, not listed
    /// deleted), from the highest down.
    fn counted(&self) -> impl Iterator<Item = u64> + '_ {
        let first = self.first_seq.max(1);
        (first..=self.last_seq)
            .rev()
            .filter(|s| !self.deleted.contains(s))
    }
}

/// Reads the whole stream and judges every message.
pub async fn check_stream(
    client: &async_nats::Client,
    stream: &Stream,
    run: &Run,
) -> Result<Findings> {
    let state = State::get(client).await?;
    let mut f = Findings {
        stored: state.messages,
        last_seq: state.last_seq,
        reported_lost: state.lost.clone(),
        ..Findings::default()
    };
    let max_acked = run.ledger.lock().expect("ledger").max_seq();
    if f.last_seq < max_acked {
        f.problems.push(format!(
            "last sequence {} is below the highest acknowledged, {max_acked}",
            f.last_seq
        ));
    }
    let highest = state.counted().next().unwrap_or(0);
    let seen = read_all(stream, run, &mut f, highest).await?;
    if seen.len() as u64 != f.stored {
        let mut missing: Vec<u64> = state.counted().filter(|s| !seen.contains(s)).collect();
        missing.reverse();
        let shown: Vec<String> = missing.iter().take(10).map(u64::to_string).collect();
        f.problems.push(format!(
            "the stream says it holds {} messages, a consumer from its start got {} (counted, neither delivered nor deleted: first {}, last {}, {} deleted; [{}])",
            f.stored,
            seen.len(),
            state.first_seq,
            state.last_seq,
            state.deleted.len(),
            shown.join(", ")
        ));
    }
    let mut l = run.ledger.lock().expect("ledger");
    if let Some(lost) = &state.lost {
        let seqs: Vec<u64> = lost["msgs"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let acked = l.acknowledged_among(&seqs);
        if acked.is_empty() {
            f.notes.push(format!(
                "the stream reports lost data, no acknowledged message in it: {lost}"
            ));
        } else {
            f.problems.push(format!(
                "the stream reports acknowledged messages lost ({acked:?}): {lost}"
            ));
        }
    }
    f.lost = l.missing(&seen);
    l.forget_unanswered();
    Ok(f)
}

/// Every stored message up to `highest`, through an ephemeral consumer
/// without acks. Stops at `highest` or after [`EMPTY_FETCHES`] fetches in a
/// row that brought nothing.
async fn read_all(
    stream: &Stream,
    run: &Run,
    f: &mut Findings,
    highest: u64,
) -> Result<HashSet<u64>> {
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
    let mut empty = 0;
    let mut done = highest == 0;
    while !done && empty < EMPTY_FETCHES {
        let mut batch = reader
            .fetch()
            .max_messages(1000)
            .expires(READ_EXPIRY)
            .messages()
            .await
            .map_err(|e| anyhow!("reading the stream: {e}"))?;
        let before = seen.len();
        while let Some(m) = batch.next().await {
            let m = m.map_err(|e| anyhow!("reading the stream: {e}"))?;
            let info = m.info().map_err(|e| anyhow!("{e}"))?;
            let seq = info.stream_sequence;
            done = seq >= highest;
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
            if done {
                break;
            }
        }
        empty = if seen.len() == before { empty + 1 } else { 0 };
    }
    let name = reader.cached_info().name.clone();
    // Left behind, it would go after its inactive threshold anyway.
    let _ = stream.delete_consumer(&name).await;
    Ok(seen)
}

/// Nothing changed the stream while it was checked (a client of the killed
/// server that reconnected would have).
pub async fn check_unchanged(client: &async_nats::Client, f: &mut Findings) -> Result<()> {
    let info = api(client, &format!("$JS.API.STREAM.INFO.{STREAM}"), json!({})).await?;
    let last = info["state"]["last_seq"]
        .as_u64()
        .context("state.last_seq")?;
    if last != f.last_seq {
        f.problems.push(format!(
            "the stream changed during the check: last sequence {} then {last}",
            f.last_seq
        ));
    }
    Ok(())
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
    let consumer: async_nats::jetstream::consumer::PullConsumer = stream
        .get_consumer(CONSUMER)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let mut batch = consumer
        .fetch()
        .max_messages(1)
        .expires(DURABLE_EXPIRY)
        .messages()
        .await
        .map_err(|e| anyhow!("fetch: {e}"))?;
    match batch.next().await {
        Some(Ok(m)) => {
            take_delivery(run, &m)?;
            m.ack().await.map_err(|e| anyhow!("ack: {e}"))?;
        }
        _ => f.problems.push(format!(
            "the durable consumer delivered nothing in {DURABLE_EXPIRY:?} with {pending} pending and {ack_pending} awaiting ack"
        )),
    }
    Ok(())
}
