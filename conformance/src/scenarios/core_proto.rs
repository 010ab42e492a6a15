//! Scenarios from test/proto_test.go: the basic client protocol over a raw socket.

use crate::check_eq;
use crate::kit::{Ctx, RawClient, Server, ServerSpec};
use crate::registry::Scenario;
use anyhow::Result;
use futures::FutureExt;
use std::collections::BTreeMap;

/// The Go tests' proto server: default options with a 256-byte control line.
async fn proto_server(ctx: &Ctx) -> Result<Server> {
    ctx.server(ServerSpec::new().conf("max_control_line: 256\n"))
        .await
}

/// The Go tests' `setupConn`: read INFO, send the default CONNECT.
async fn setup_conn(ctx: &Ctx, server: &Server) -> Result<RawClient> {
    let (mut c, _info) = ctx.raw(server).await?;
    c.send("CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":false}\r\n")
        .await?;
    Ok(c)
}

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("core/proto-basics", "core", |c| basics(c).boxed()).full("TestProtoBasics"),
        Scenario::new("core/proto-err-unknown-op", "core", |c| {
            unknown_op(c).boxed()
        })
        .full("TestProtoErr"),
        Scenario::new("core/proto-unsub-max", "core", |c| unsub_max(c).boxed())
            .full("TestUnsubMax"),
        Scenario::new("core/proto-queue-sub", "core", |c| queue_sub(c).boxed())
            .full("test/proto_test.go:TestQueueSub"),
    ]
}

async fn basics(ctx: Ctx) -> Result<()> {
    let s = proto_server(&ctx).await?;
    let mut c = setup_conn(&ctx, &s).await?;
    c.send("PING\r\n").await?;
    c.expect_pong().await?;
    c.send("SUB foo 1\r\nPUB foo 5\r\nhello\r\n").await?;
    let m = c.read_msgs(1).await?;
    check_eq!((m[0].subject.as_str(), m[0].sid.as_str()), ("foo", "1"));
    check_eq!(m[0].payload, b"hello".to_vec());
    c.send("SUB * 2\r\nPUB foo 2\r\nok\r\n").await?;
    let mut sids: Vec<String> = c.read_msgs(2).await?.into_iter().map(|m| m.sid).collect();
    sids.sort();
    check_eq!(sids, vec!["1".to_string(), "2".to_string()]);
    ctx.observe("sids", sids.join(","));
    Ok(())
}

async fn unknown_op(ctx: Ctx) -> Result<()> {
    let s = proto_server(&ctx).await?;
    let mut c = setup_conn(&ctx, &s).await?;
    c.send("ZZZ").await?;
    let err = c.expect_err().await?;
    ctx.observe("err", &err);
    check_eq!(err, "Unknown Protocol Operation");
    Ok(())
}

async fn unsub_max(ctx: Ctx) -> Result<()> {
    let s = proto_server(&ctx).await?;
    let mut c = setup_conn(&ctx, &s).await?;
    c.send("SUB foo 22\r\nUNSUB 22 2\r\n").await?;
    c.send(&"PUB foo 2\r\nok\r\n".repeat(100)).await?;
    let msgs = drain_msgs(&mut c).await?;
    check_eq!(msgs, 2);
    ctx.observe("delivered", msgs.to_string());
    Ok(())
}

/// Counts MSGs until a PING/PONG round trip proves nothing more is coming.
async fn drain_msgs(c: &mut RawClient) -> Result<usize> {
    use crate::kit::Op;
    c.send("PING\r\n").await?;
    let mut n = 0;
    loop {
        match c.read_op().await? {
            Op::Msg(_) => n += 1,
            Op::Pong => return Ok(n),
            other => anyhow::bail!("unexpected {other:?}"),
        }
    }
}

async fn queue_sub(ctx: Ctx) -> Result<()> {
    let s = proto_server(&ctx).await?;
    let mut c = setup_conn(&ctx, &s).await?;
    c.send("SUB foo qgroup1 22\r\nSUB foo qgroup1 32\r\n")
        .await?;
    c.send(&"PUB foo 2\r\nok\r\n".repeat(100)).await?;
    let mut per_sid: BTreeMap<String, usize> = BTreeMap::new();
    for m in c.read_msgs(100).await? {
        *per_sid.entry(m.sid).or_default() += 1;
    }
    check_eq!(per_sid.len(), 2);
    for (sid, n) in &per_sid {
        anyhow::ensure!(*n >= 35, "sid {sid} got {n} of 100, want about 50");
    }
    ctx.observe(
        "sids",
        per_sid.keys().cloned().collect::<Vec<_>>().join(","),
    );
    Ok(())
}
