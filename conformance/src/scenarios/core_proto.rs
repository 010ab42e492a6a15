//! Scenarios from test/proto_test.go: the basic client protocol over a raw socket.

use crate::check_eq;
use crate::kit::{Ctx, Msg, Op, RawClient, Server, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::Result;
use futures::FutureExt;
use std::collections::BTreeMap;

/// The Go tests' proto server: default options with a 256-byte control line.
pub(super) async fn proto_server(ctx: &Ctx) -> Result<Server> {
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
        Scenario::new("core/proto-basics", |c| basics(c).boxed()).full("TestProtoBasics"),
        Scenario::new("core/proto-err-unknown-op", |c| unknown_op(c).boxed()).full("TestProtoErr"),
        Scenario::new("core/proto-unsub-max", |c| unsub_max(c).boxed()).full("TestUnsubMax"),
        Scenario::new("core/proto-queue-sub", |c| queue_sub(c).boxed())
            .full("test/proto_test.go:TestQueueSub"),
        Scenario::new("core/proto-multiple-queue-sub", |c| {
            multiple_queue_sub(c).boxed()
        })
        .full("TestMultipleQueueSub"),
        Scenario::new("core/proto-pub-to-arg-state", |c| {
            pub_to_arg_state(c).boxed()
        })
        .full("TestPubToArgState"),
        Scenario::new("core/proto-sub-to-arg-state", |c| {
            sub_to_arg_state(c).boxed()
        })
        .full("TestSubToArgState"),
        Scenario::new("core/proto-crash-split-connect", |c| proto_crash(c).boxed())
            .full("TestProtoCrash"),
        Scenario::new("core/proto-duplicate-sub", |c| duplicate_sub(c).boxed())
            .needs(Need::Monitoring)
            .full("TestDuplicateProtoSub"),
        Scenario::new("core/proto-incomplete-pub-arg", |c| {
            incomplete_pub_arg(c).boxed()
        })
        .full("TestIncompletePubArg"),
        Scenario::new("core/proto-control-line-max", |c| {
            control_line_max(c).boxed()
        })
        .full("TestControlLineMaximums"),
        Scenario::new("core/proto-info-client-advertise", |c| {
            info_client_advertise(c).boxed()
        })
        .full("TestServerInfoWithClientAdvertise"),
    ]
}

/// The Go tests' `checkMsg`: subject, sid (when given), reply (None: no
/// reply) and payload (whose length is the size on the MSG line).
fn check_msg(
    m: &Msg,
    subject: &str,
    sid: Option<&str>,
    reply: Option<&str>,
    payload: &str,
) -> Result<()> {
    check_eq!(m.subject, subject);
    if let Some(sid) = sid {
        check_eq!(m.sid, sid);
    }
    check_eq!(m.reply.as_deref(), reply);
    check_eq!(String::from_utf8_lossy(&m.payload), payload);
    Ok(())
}

/// One delivered message as text: `subject sid reply-or-- payload`.
fn describe(m: &Msg) -> String {
    format!(
        "MSG {} {} {} {}",
        m.subject,
        m.sid,
        m.reply.as_deref().unwrap_or("-"),
        String::from_utf8_lossy(&m.payload)
    )
}

async fn basics(ctx: Ctx) -> Result<()> {
    let s = proto_server(&ctx).await?;
    let mut c = setup_conn(&ctx, &s).await?;
    c.send("PING\r\n").await?;
    c.expect_pong().await?;
    c.send("SUB foo 1\r\nPUB foo 5\r\nhello\r\n").await?;
    let m = c.read_msgs(1).await?;
    ctx.observe("single", describe(&m[0]));
    check_msg(&m[0], "foo", Some("1"), None, "hello")?;
    c.send("SUB * 2\r\nPUB foo 2\r\nok\r\n").await?;
    let two = c.read_msgs(2).await?;
    // Could arrive in any order; each is foo, without reply, carrying ok.
    for m in &two {
        check_msg(m, "foo", None, None, "ok")?;
    }
    // Exactly two: nothing more arrives before the PONG.
    check_eq!(drain_msgs(&mut c).await?, 0);
    let mut seen: Vec<String> = two.iter().map(describe).collect();
    seen.sort();
    ctx.observe("two", seen.join(" | "));
    let mut sids: Vec<String> = two.into_iter().map(|m| m.sid).collect();
    sids.sort();
    check_eq!(sids, vec!["1".to_string(), "2".to_string()]);
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
    let two = c.read_msgs(2).await?;
    for m in &two {
        check_msg(m, "foo", Some("22"), None, "ok")?;
    }
    // The maximum reached, nothing more arrives before the PONG.
    let more = drain_msgs(&mut c).await?;
    check_eq!(more, 0);
    ctx.observe(
        "delivered",
        two.iter().map(describe).collect::<Vec<_>>().join(" | "),
    );
    ctx.observe("after max", more.to_string());
    Ok(())
}

/// Counts MSGs until a PING/PONG round trip proves nothing more is coming.
async fn drain_msgs(c: &mut RawClient) -> Result<usize> {
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
    // Exactly 100: one per publish, nothing more before the PONG.
    let more = drain_msgs(&mut c).await?;
    check_eq!(more, 0);
    ctx.observe("after 100", more.to_string());
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

async fn multiple_queue_sub(ctx: Ctx) -> Result<()> {
    let s = proto_server(&ctx).await?;
    let mut c = setup_conn(&ctx, &s).await?;
    c.send("SUB foo g1 1\r\nSUB foo g1 2\r\nSUB foo g2 3\r\nSUB foo g2 4\r\n")
        .await?;
    c.send(&"PUB foo 2\r\nok\r\n".repeat(100)).await?;
    let mut per_sid: BTreeMap<String, usize> = BTreeMap::new();
    for m in c.read_msgs(200).await? {
        *per_sid.entry(m.sid).or_default() += 1;
    }
    // Each group gets every message once; nothing more arrives.
    check_eq!(drain_msgs(&mut c).await?, 0);
    check_eq!(per_sid.len(), 4);
    for (sid, n) in &per_sid {
        anyhow::ensure!(*n >= 35, "sid {sid} got {n} of 100, want about 50");
    }
    let group = |a: &str, b: &str| per_sid[a] + per_sid[b];
    check_eq!((group("1", "2"), group("3", "4")), (100, 100));
    ctx.observe(
        "sids",
        per_sid.keys().cloned().collect::<Vec<_>>().join(","),
    );
    Ok(())
}

async fn pub_to_arg_state(ctx: Ctx) -> Result<()> {
    let s = proto_server(&ctx).await?;
    let mut c = setup_conn(&ctx, &s).await?;
    c.send("PUBS foo 2\r\nok\r\n").await?;
    let err = c.expect_err().await?;
    ctx.observe("err", &err);
    check_eq!(err, "Unknown Protocol Operation");
    Ok(())
}

async fn sub_to_arg_state(ctx: Ctx) -> Result<()> {
    let s = proto_server(&ctx).await?;
    let mut c = setup_conn(&ctx, &s).await?;
    c.send("SUBZZZ foo 1\r\n").await?;
    let err = c.expect_err().await?;
    ctx.observe("err", &err);
    check_eq!(err, "Unknown Protocol Operation");
    Ok(())
}

async fn proto_crash(ctx: Ctx) -> Result<()> {
    let s = proto_server(&ctx).await?;
    let (mut c, _info) = ctx.raw(&s).await?;
    c.send(
        "CONNECT {\"verbose\":true,\"tls_required\":false,\"user\":\"test\",\
         \"pedantic\":true,\"pass\":\"password\"}",
    )
    .await?;
    // The line end arrives in a later write, as its own read.
    c.expect_nothing(std::time::Duration::from_millis(100))
        .await?;
    c.send("\r\n").await?;
    let op = c.read_op().await?;
    ctx.observe("connect", format!("{op:?}"));
    check_eq!(op, Op::Ok);
    Ok(())
}

async fn duplicate_sub(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("max_control_line: 256\nhttp_port: {{http_port}}\n"))
        .await?;
    let mut c = setup_conn(&ctx, &s).await?;
    c.send("PING\r\n").await?;
    c.expect_pong().await?;
    c.send("SUB foo 1\r\nSUB foo 1\r\n").await?;
    c.flush().await?;
    let connz = ctx.http_json(&s, "/connz?subs=1").await?;
    let conns = connz["connections"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("no connections in {connz}"))?;
    check_eq!(conns.len(), 1);
    let n = conns[0]["subscriptions"].clone();
    ctx.observe("subscriptions", n.to_string());
    ctx.observe_json("subscriptions_list", &conns[0]["subscriptions_list"]);
    check_eq!(n, serde_json::json!(1));
    // One publish, one delivery.
    c.send("PUB foo 2\r\nok\r\n").await?;
    check_eq!(drain_msgs(&mut c).await?, 1);
    Ok(())
}

async fn incomplete_pub_arg(ctx: Ctx) -> Result<()> {
    let s = proto_server(&ctx).await?;
    let mut c = setup_conn(&ctx, &s).await?;
    let size = 10000;
    let pub_line = format!("PUB example {size}\r\n");
    let good = format!("{}\r\n", "A".repeat(size));
    let bad = "B".repeat(3371);
    let bad2 = format!("{}\r\n", "C".repeat(size));
    c.send(&format!(
        "{pub_line}{good}{pub_line}{good}{pub_line}{bad}{pub_line}{bad2}"
    ))
    .await?;
    let err = c.expect_err().await?;
    ctx.observe("err", &err);
    check_eq!(err, "Unknown Protocol Operation");
    check_eq!(
        c.expect_closed(std::time::Duration::from_secs(3)).await?,
        ""
    );
    Ok(())
}

async fn control_line_max(ctx: Ctx) -> Result<()> {
    let s = proto_server(&ctx).await?;
    let mut c = setup_conn(&ctx, &s).await?;
    c.send(&format!("PUB foo {}", "2222222222".repeat(32)))
        .await?;
    let err = c.expect_err().await?;
    ctx.observe("err", &err);
    check_eq!(err, "maximum control line exceeded");
    check_eq!(
        c.expect_closed(std::time::Duration::from_secs(3)).await?,
        ""
    );
    Ok(())
}

async fn info_client_advertise(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("client_advertise: \"me:1\"\n"))
        .await?;
    let (_c, info) = ctx.raw(&s).await?;
    let host_port = format!("{}:{}", info["host"].as_str().unwrap_or("?"), info["port"]);
    ctx.observe("info host:port", &host_port);
    check_eq!(host_port, "me:1");
    Ok(())
}
