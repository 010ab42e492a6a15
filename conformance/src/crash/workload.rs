//! The load a server is under when it is killed: asynchronous publishes
//! (with `Nats-Msg-Id`, some republished to test duplicate detection, and
//! an expected-last-sequence publish every [`EXPECT_EVERY`]), a durable pull
//! consumer acking everything it gets, and an admin connection that purges
//! by subject, deletes and erases messages, compacts the stream and takes
//! snapshots of it (reading and acking every chunk, as a client of Go's
//! `$JS.API.STREAM.SNAPSHOT` does). Each
//! task runs until it is aborted by the kill; every answer it got before
//! that is in the ledger.

use super::ledger::{self, SUBJECTS};
use super::{Run, STREAM};
use crate::rng::Rng;
use anyhow::{anyhow, bail, Context as _, Result};
use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, message::Message};
use futures::stream::FuturesOrdered;
use futures::StreamExt;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Publishes awaiting their PubAck at most.
const WINDOW: usize = 256;
/// Every so many publishes, one that states the stream's last sequence.
const EXPECT_EVERY: u64 = 200;
/// The stream is compacted back when it holds more messages than this.
const STREAM_BOUND: u64 = 20_000;
/// How long an API request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The size of a snapshot's chunks (Go's default is 128 KiB; smaller ones
/// make more round trips for a kill to land in).
const SNAPSHOT_CHUNK: usize = 64 * 1024;

/// An API request and its JSON answer.
pub async fn api(client: &async_nats::Client, subject: &str, body: Value) -> Result<Value> {
    let reply = tokio::time::timeout(
        REQUEST_TIMEOUT,
        client.request(subject.to_string(), body.to_string().into()),
    )
    .await
    .map_err(|_| anyhow!("{subject}: no answer in {REQUEST_TIMEOUT:?}"))??;
    serde_json::from_slice(&reply.payload).with_context(|| format!("{subject}: not JSON"))
}

type Acked = (
    u64,
    bool,
    Result<jetstream::publish::PublishAck, jetstream::context::PublishError>,
);

/// Publishes until aborted; the first publish expects `last_seq`.
pub async fn publish(
    js: jetstream::Context,
    run: Arc<Run>,
    mut rng: Rng,
    last_seq: u64,
) -> Result<()> {
    expect_last(&js, &run, last_seq).await?;
    let mut inflight = FuturesOrdered::new();
    let mut since_expect = 0;
    loop {
        if since_expect >= EXPECT_EVERY {
            while let Some(a) = inflight.next().await {
                settle(&run, a)?;
            }
            let last = run.ledger.lock().expect("ledger").max_seq();
            expect_last(&js, &run, last).await?;
            since_expect = 0;
        }
        let (n, republish) = {
            let mut l = run.ledger.lock().expect("ledger");
            match rng.chance(1, 100).then(|| l.pick_live(&mut rng)).flatten() {
                Some((_, n)) => {
                    l.republishing(n);
                    (n, true)
                }
                None => (l.next(), false),
            }
        };
        let fut = send(&js, &run, n, None).await?;
        run.counts.published.fetch_add(1, Ordering::Relaxed);
        since_expect += 1;
        inflight.push_back(async move { (n, republish, fut.await) });
        if inflight.len() >= WINDOW {
            if let Some(a) = inflight.next().await {
                settle(&run, a)?;
            }
        }
    }
}

async fn send(
    js: &jetstream::Context,
    run: &Run,
    n: u64,
    expect: Option<u64>,
) -> Result<PublishAckFuture> {
    let mut p = PublishMessage::build()
        .payload(ledger::payload(run.seed, n).into())
        .message_id(ledger::msg_id(n));
    if let Some(last) = expect {
        p = p.expected_last_sequence(last);
    }
    js.send_publish(ledger::subject(n), p)
        .await
        .map_err(|e| anyhow!("publish: {e}"))
}

/// Records one PubAck; an error answer ends the task (the server is gone).
fn settle(run: &Run, (n, republish, answer): Acked) -> Result<()> {
    let ack = answer.map_err(|e| anyhow!("publish of message {n}: {e}"))?;
    run.counts.acked.fetch_add(1, Ordering::Relaxed);
    let problem = run
        .ledger
        .lock()
        .expect("ledger")
        .acked(n, ack.sequence, ack.duplicate);
    if republish {
        run.counts.republished.fetch_add(1, Ordering::Relaxed);
        if !ack.duplicate {
            run.problem(format!(
                "message {n} published again within the duplicate window was stored again at sequence {}",
                ack.sequence
            ));
        }
    }
    if let Some(p) = problem {
        run.problem(p);
    }
    Ok(())
}

/// One publish that states the stream's last sequence; it must be accepted.
async fn expect_last(js: &jetstream::Context, run: &Run, last: u64) -> Result<()> {
    let n = run.ledger.lock().expect("ledger").next();
    let fut = send(js, run, n, Some(last)).await?;
    run.counts.published.fetch_add(1, Ordering::Relaxed);
    match fut.await {
        Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {
            run.problem(format!(
                "a publish expecting last sequence {last} was refused: {e}"
            ));
            bail!("wrong last sequence")
        }
        answer => {
            run.counts.expected.fetch_add(1, Ordering::Relaxed);
            settle(run, (n, false, answer))
        }
    }
}

/// Fetches from the durable consumer and acks every message until aborted.
pub async fn consume(consumer: PullConsumer, run: Arc<Run>) -> Result<()> {
    loop {
        let mut batch = consumer
            .fetch()
            .max_messages(200)
            .expires(Duration::from_millis(300))
            .messages()
            .await
            .map_err(|e| anyhow!("fetch: {e}"))?;
        while let Some(m) = batch.next().await {
            let m = m.map_err(|e| anyhow!("fetch: {e}"))?;
            take_delivery(&run, &m)?;
            m.ack().await.map_err(|e| anyhow!("ack: {e}"))?;
        }
    }
}

/// Checks a delivery is one of our messages, intact, and counts a
/// redelivery of what was acked before.
pub fn take_delivery(run: &Run, m: &Message) -> Result<()> {
    let info = m.info().map_err(|e| anyhow!("ack reply: {e}"))?;
    let seq = info.stream_sequence;
    let id = m
        .headers
        .as_ref()
        .and_then(|h| h.get("Nats-Msg-Id"))
        .map(|v| v.as_str().to_string());
    let n = id.as_deref().and_then(ledger::number_of);
    let intact = n.is_some_and(|n| {
        m.subject.as_str() == ledger::subject(n) && m.payload == ledger::payload(run.seed, n)
    });
    if !intact {
        run.problem(format!(
            "the consumer got a message at sequence {seq} that is not intact"
        ));
    }
    let before = run.consumer_acked_upto.fetch_max(seq, Ordering::Relaxed);
    if seq <= before {
        run.counts
            .redelivered_after_ack
            .fetch_add(1, Ordering::Relaxed);
    }
    run.counts.consumer_acks.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Purges, deletes, compacts and takes snapshots at random moments until
/// aborted.
pub async fn administer(client: async_nats::Client, run: Arc<Run>, mut rng: Rng) -> Result<()> {
    loop {
        tokio::time::sleep(Duration::from_millis(rng.range(20, 120) as u64)).await;
        match rng.range(0, 9) {
            0 | 1 => {
                purge_subject(&client, &run, rng.range(0, SUBJECTS as usize - 1) as u64).await?
            }
            2..=4 => delete_some(&client, &run, &mut rng).await?,
            5 => snapshot(&client, &run).await?,
            _ => compact_if_big(&client, &run).await?,
        }
    }
}

/// Takes a snapshot of the stream: asks for it on a fresh inbox, acks each
/// chunk (the server sends more as acks come back) and reads up to the
/// empty message that ends it.
async fn snapshot(client: &async_nats::Client, run: &Run) -> Result<()> {
    let deliver = client.new_inbox();
    let mut chunks = client.subscribe(deliver.clone()).await?;
    run.activity.snapshot.store(true, Ordering::Relaxed);
    let body = json!({"deliver_subject": deliver, "chunk_size": SNAPSHOT_CHUNK});
    let answer = api(client, &format!("$JS.API.STREAM.SNAPSHOT.{STREAM}"), body).await?;
    if answer.get("error").is_some() {
        run.activity.snapshot.store(false, Ordering::Relaxed);
        run.problem(format!("a snapshot was refused: {answer}"));
        return Ok(());
    }
    let mut size = 0;
    loop {
        let chunk = tokio::time::timeout(REQUEST_TIMEOUT, chunks.next())
            .await
            .map_err(|_| anyhow!("snapshot: no chunk in {REQUEST_TIMEOUT:?}"))?
            .context("snapshot: subscription ended")?;
        if chunk.payload.is_empty() {
            break;
        }
        size += chunk.payload.len();
        if let Some(reply) = chunk.reply {
            client.publish(reply, Default::default()).await?;
        }
    }
    run.activity.snapshot.store(false, Ordering::Relaxed);
    if size == 0 {
        run.problem("a snapshot ended without a chunk".into());
    } else {
        run.counts.snapshots.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

async fn purge_subject(client: &async_nats::Client, run: &Run, s: u64) -> Result<()> {
    run.ledger.lock().expect("ledger").purging_subject(s);
    run.activity.purge.store(true, Ordering::Relaxed);
    let body = json!({"filter": format!("crash.{s}")});
    let answer = api(client, &format!("$JS.API.STREAM.PURGE.{STREAM}"), body).await?;
    run.activity.purge.store(false, Ordering::Relaxed);
    let done = answer["success"] == json!(true);
    if !done {
        run.problem(format!("a purge of crash.{s} failed: {answer}"));
    }
    let mut l = run.ledger.lock().expect("ledger");
    let last = l.last_number();
    l.purged_subject(s, last, done);
    Ok(())
}

async fn delete_some(client: &async_nats::Client, run: &Run, rng: &mut Rng) -> Result<()> {
    let seqs = run.ledger.lock().expect("ledger").pick_live_seqs(rng, 10);
    run.activity.delete.store(true, Ordering::Relaxed);
    for seq in seqs {
        run.ledger.lock().expect("ledger").removing(seq);
        let body = json!({"seq": seq, "no_erase": rng.chance(1, 2)});
        let answer = api(client, &format!("$JS.API.STREAM.MSG.DELETE.{STREAM}"), body).await?;
        // A sequence picked twice is gone the second time.
        if answer["success"] == json!(true) {
            run.ledger.lock().expect("ledger").removed(seq);
        }
    }
    run.activity.delete.store(false, Ordering::Relaxed);
    Ok(())
}

async fn compact_if_big(client: &async_nats::Client, run: &Run) -> Result<()> {
    let info = api(client, &format!("$JS.API.STREAM.INFO.{STREAM}"), json!({})).await?;
    if info["state"]["messages"].as_u64().unwrap_or(0) <= STREAM_BOUND {
        return Ok(());
    }
    let below = run
        .ledger
        .lock()
        .expect("ledger")
        .max_seq()
        .saturating_sub(STREAM_BOUND / 2);
    run.ledger.lock().expect("ledger").removing_below(below);
    run.activity.compact.store(true, Ordering::Relaxed);
    let answer = api(
        client,
        &format!("$JS.API.STREAM.PURGE.{STREAM}"),
        json!({"seq": below}),
    )
    .await?;
    run.activity.compact.store(false, Ordering::Relaxed);
    if answer["success"] == json!(true) {
        run.ledger.lock().expect("ledger").removed_below(below);
    } else {
        run.problem(format!("a purge below {below} failed: {answer}"));
    }
    Ok(())
}
