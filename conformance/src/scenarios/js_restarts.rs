//! JetStream restarts of server/jetstream_test.go that need consumers and
//! sources: a work queue sourcing two streams keeps what its consumer acked
//! gone across a restart, and an interest stream drops on restart the
//! messages below its consumer's stored ack floor.

use super::js_mirrors::fetch_ack;
use crate::check_eq;
use crate::kit::js::{js_server, num, Js};
use crate::kit::{Ctx, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{ensure, Context, Result};
use futures::FutureExt;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    let js = |s: Scenario| s.needs(Need::JetStream).with_category("jetstream");
    vec![
        js(
            Scenario::new("jetstream/work-queue-source-naming-restart", |c| {
                work_queue_sources_restart(c).boxed()
            })
            .needs(Need::Monitoring)
            .full("TestJetStreamWorkQueueSourceNamingRestart"),
        ),
        js(
            Scenario::new("jetstream/dangling-message-auto-cleanup", |c| {
                dangling_messages(c).boxed()
            })
            .full("TestJetStreamDanglingMessageAutoCleanup"),
        ),
    ]
}

/// Where [`fetch_ack`] pulls to (its inbox and sid), and how long it waits.
const PULL_INBOX: &str = "_INBOX.pull";
const PULL_SID: &str = "P";
const PULL_WAIT: Duration = Duration::from_secs(2);

async fn durable(js: &mut Js, stream: &str, name: &str, config: Value) -> Result<()> {
    let mut config = config;
    config["durable_name"] = json!(name);
    config["ack_policy"] = json!("explicit");
    let r = js
        .api(
            &format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{name}"),
            &json!({"stream_name": stream, "config": config}).to_string(),
        )
        .await?;
    ensure!(r.get("error").is_none(), "creating {name}: {r}");
    Ok(())
}

async fn consumer_info(js: &mut Js, stream: &str, name: &str) -> Result<Value> {
    let ci = js
        .api(&format!("$JS.API.CONSUMER.INFO.{stream}.{name}"), "")
        .await?;
    ensure!(ci.get("error").is_none(), "consumer info of {name}: {ci}");
    Ok(ci)
}

/// TestJetStreamWorkQueueSourceNamingRestart: work queue D sources C1 and
/// C2 (named to be recovered after them); all but one message of each is
/// acked; after a restart D holds those two, not the sources' messages
/// again.
async fn work_queue_sources_restart(ctx: Ctx) -> Result<()> {
    let conf = "http: 127.0.0.1:{{http_port}}\njetstream { store_dir: \"{{dir}}/js\" }\n";
    let mut s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "C1", "subjects": ["foo.*"]}))
        .await?;
    js.create(json!({"name": "C2", "subjects": ["bar.*"]}))
        .await?;
    let sent = 10;
    for i in 0..sent {
        js.stored(&format!("foo.{i}"), "").await?;
        js.stored(&format!("bar.{i}"), "").await?;
    }
    let (streams, pending) = (2, 1);
    let total_pending = (streams * pending) as u64;
    js.create(json!({"name": "D", "retention": "workqueue",
        "sources": [{"name": "C1"}, {"name": "C2"}]}))
        .await?;
    durable(&mut js, "D", "dur", json!({})).await?;
    js.sub(PULL_INBOX, PULL_SID).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let n = num(&consumer_info(&mut js, "D", "dur").await?["num_pending"]);
        if n == 20 {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "not enough messages: {n}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let non_pending = streams * (sent - pending);
    check_eq!(
        fetch_ack(&mut js, "D", "dur", non_pending, PULL_WAIT).await?,
        non_pending
    );
    let ci = consumer_info(&mut js, "D", "dur").await?;
    check_eq!(num(&ci["num_pending"]), total_pending);
    check_eq!(js.msgs("D").await?, total_pending);

    drop(js);
    s.restart().await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = ctx.http_get(&s, "/healthz").await?;
        if status == 200 && body == r#"{"status":"ok"}"# {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "healthz {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut js = Js::connect(&ctx, &s).await?;
    // Give the sources time to (not) bring the acked messages back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let st = js.state("D").await?;
    ctx.observe_json("D after restart", &json!({"messages": st["messages"]}));
    ensure!(
        num(&st["messages"]) == total_pending,
        "Expected {total_pending} messages on restart, got {}",
        st["messages"]
    );
    Ok(())
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Go's encodeConsumerState of a state with nothing pending or redelivered.
fn consumer_state(ack_floor: u64, delivered: u64) -> Vec<u8> {
    let mut out = vec![22, 2];
    for v in [ack_floor, ack_floor, delivered, delivered, 0, 0] {
        put_uvarint(&mut out, v);
    }
    out
}

/// TestJetStreamDanglingMessageAutoCleanup: a consumer's stored state is
/// moved to ack floor 90 while the server is down; on restart the interest
/// stream drops the messages below it.
async fn dangling_messages(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo"], "retention": "interest"}))
        .await?;
    durable(
        &mut js,
        "TEST",
        "dlc",
        json!({"filter_subject": "foo", "max_ack_pending": 10}),
    )
    .await?;
    for _ in 0..100 {
        js.stored("foo", "msg").await?;
    }
    js.sub(PULL_INBOX, PULL_SID).await?;
    check_eq!(fetch_ack(&mut js, "TEST", "dlc", 10, PULL_WAIT).await?, 10);
    let ci = consumer_info(&mut js, "TEST", "dlc").await?;
    check_eq!(num(&ci["ack_floor"]["stream_seq"]), 10);

    drop(js);
    s.stop().await?;
    let o_dat: PathBuf = s.dir().join("js/jetstream/$G/streams/TEST/obs/dlc/o.dat");
    let buf = std::fs::read(&o_dat).with_context(|| format!("reading {}", o_dat.display()))?;
    // As Go's decodeConsumerState: the acked 10, nothing pending.
    check_eq!(buf, consumer_state(10, 10));
    std::fs::write(&o_dat, consumer_state(90, 90))?;
    s.restart().await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let n = js.msgs("TEST").await?;
    ctx.observe("messages after restart", n.to_string());
    ensure!(
        n == 10,
        "Expected auto-cleanup to have worked but got {n} msgs vs 10"
    );
    Ok(())
}
