//! Scenarios for the single-server core (non-JetStream) tests of
//! server/norace_test.go and test/norace_test.go.
//!
//! The Go tests push hundreds of megabytes through one server to trip (or
//! not trip) its slow-consumer rules. Here each keeps the same limits and
//! the same shape of load, scaled so that it runs in a few seconds on a
//! shared 2-core runner; every scenario says what it scaled and from what.
//! Clients are raw protocol connections; the client that must back up
//! shrinks its socket receive buffer before it connects, as the Go tests do
//! with `SetReadBuffer`.

use crate::check_eq;
use crate::kit::{eventually, quiet, Ctx, RawClient, Server, ServerSpec};
use crate::registry::Scenario;
use anyhow::{anyhow, ensure, Context, Result};
use futures::FutureExt;
use std::time::Duration;
use tokio::net::TcpSocket;
use tokio::time::Instant;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("norace/core-queue-auto-unsubscribe", |c| {
            queue_auto_unsubscribe(c).boxed()
        })
        .full("TestNoRaceQueueAutoUnsubscribe"),
        Scenario::new("norace/core-closed-slow-consumer-write-deadline", |c| {
            closed_slow_consumer_write_deadline(c).boxed()
        })
        .full("TestNoRaceClosedSlowConsumerWriteDeadline"),
        Scenario::new("norace/core-closed-slow-consumer-pending-bytes", |c| {
            closed_slow_consumer_pending_bytes(c).boxed()
        })
        .full("TestNoRaceClosedSlowConsumerPendingBytes"),
        Scenario::new("norace/core-slow-consumer-pending-bytes", |c| {
            slow_consumer_pending_bytes(c).boxed()
        })
        .full("TestNoRaceSlowConsumerPendingBytes"),
        Scenario::new("norace/core-write-deadline", |c| write_deadline(c).boxed())
            .full("TestNoRaceWriteDeadline"),
        Scenario::new("norace/core-avoid-slow-consumer-big-messages", |c| {
            avoid_slow_consumer_big_messages(c).boxed()
        })
        .full("TestNoRaceAvoidSlowConsumerBigMessages"),
        Scenario::new("norace/core-dynamic-response-perms", |c| {
            dynamic_response_perms(c).boxed()
        })
        .partial_because(
            "TestNoRaceDynamicResponsePermsMemory",
            "the Go test's one check is a bound on the Go runtime's own allocations \
             (runtime.MemStats TotalAlloc under 20 MB), which no client can see: the scenario \
             runs its load (scaled from 10000 unanswered requests to 2000) and checks that each \
             gets its +OK and reaches the service, and that the reply permissions expire",
        ),
    ]
}

const MONITOR: &str = "http_port: {{http_port}}\n";
/// Go's largest default payload, the size the Go tests publish.
const MB: usize = 1024 * 1024;

/// A raw connection whose socket receive buffer is set to `rcvbuf` bytes
/// before it connects (the kernel rounds it up to its minimum), like
/// `SetReadBuffer` in the Go tests: the server's writes to it back up soon.
async fn small_buffer_client(s: &Server, rcvbuf: u32) -> Result<RawClient> {
    let addr: std::net::SocketAddr = s.addr().parse().context("server address")?;
    let socket = TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(rcvbuf)?;
    let stream = tokio::time::timeout(Duration::from_secs(3), socket.connect(addr))
        .await
        .map_err(|_| anyhow!("connect timed out"))??;
    stream.set_nodelay(true)?;
    Ok(RawClient::from_stream(Box::new(stream)))
}

/// The slow client of the Go tests: `CONNECT {}`, `PING`, `SUB foo 1`, then
/// it never reads again.
async fn never_reading_subscriber(s: &Server, rcvbuf: u32) -> Result<RawClient> {
    let mut c = small_buffer_client(s, rcvbuf).await?;
    c.send("CONNECT {}\r\nPING\r\nSUB foo 1\r\n").await?;
    Ok(c)
}

/// Publishes `count` messages of `size` zero bytes on `foo` from a plain
/// client, then flushes it (PING/PONG): the server read them all. The
/// sender is returned to stay connected, as in the Go tests.
async fn publish_big(ctx: &Ctx, s: &Server, count: usize, size: usize) -> Result<RawClient> {
    let mut sender = quiet(ctx, s).await?;
    // The subscription is in place before the first message.
    sender.flush().await?;
    let mut one = format!("PUB foo {size}\r\n").into_bytes();
    one.extend(std::iter::repeat_n(0u8, size));
    one.extend_from_slice(b"\r\n");
    for _ in 0..count {
        tokio::time::timeout(Duration::from_secs(10), sender.send_bytes(&one))
            .await
            .map_err(|_| anyhow!("publish blocked for 10 s"))??;
    }
    sender.flush().await.context("sender flush")?;
    Ok(sender)
}

/// Waits (2 s, as checkClosedConns) for `/connz?state=closed` to list one
/// connection, and returns the reasons of all it lists.
async fn closed_reasons(ctx: &Ctx, s: &Server) -> Result<Vec<String>> {
    eventually(Duration::from_secs(2), || async {
        let v = ctx.http_json(s, "/connz?state=closed").await?;
        let reasons: Vec<String> = v["connections"]
            .as_array()
            .context("connz connections")?
            .iter()
            .map(|c| c["reason"].as_str().unwrap_or("").to_string())
            .collect();
        Ok((!reasons.is_empty()).then_some(reasons))
    })
    .await
}

/// Writes `PUB bar 5` to a connection the server should have closed until a
/// write fails (the first may still succeed: the peer's reset comes back
/// after it), for at most 5 s.
async fn writes_fail(c: &mut RawClient) -> Result<usize> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let sent =
            tokio::time::timeout(Duration::from_millis(500), c.send("PUB bar 5\r\nhello\r\n"))
                .await;
        if let Ok(Err(_)) = sent {
            return Ok(attempts);
        }
        ensure!(
            Instant::now() < deadline,
            "connection should have been closed: {attempts} writes succeeded over 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Go's TestNoRaceQueueAutoUnsubscribe, at its own scale: 1000 queue
/// subscriptions in group `bar` and 1000 in `baz` on `foo`, each
/// auto-unsubscribed after one message; 1000 messages reach each group
/// exactly once each, one per subscription, and nothing more.
async fn queue_auto_unsubscribe(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = quiet(&ctx, &s).await?;
    let total = 1000;
    let mut subs = String::new();
    for i in 0..total {
        let (in_bar, in_baz) = (2 * i + 1, 2 * i + 2);
        subs.push_str(&format!(
            "SUB foo bar {in_bar}\r\nUNSUB {in_bar} 1\r\nSUB foo baz {in_baz}\r\nUNSUB {in_baz} 1\r\n"
        ));
    }
    c.send(&subs).await?;
    // Neither the subscriptions nor the auto-unsubscribes got an error.
    let before = c.ops_until_pong().await?;
    check_eq!(before.len(), 0);
    let publishes = "PUB foo 14\r\nDon't Drop Me!\r\n".repeat(total);
    c.send(&publishes).await?;
    let msgs = c.read_msgs(2 * total).await?;
    let mut seen = std::collections::BTreeSet::new();
    let (mut to_bar, mut to_baz) = (0, 0);
    for m in &msgs {
        let sid: usize = m.sid.parse().context("sid")?;
        ensure!(seen.insert(sid), "sid {sid} got a second message");
        if sid % 2 == 1 {
            to_bar += 1;
        } else {
            to_baz += 1;
        }
        check_eq!(m.payload.as_slice(), b"Don't Drop Me!".as_slice());
    }
    // No more: every subscription is gone after its one message.
    let after = c.msgs_until_pong().await?;
    check_eq!(after.len(), 0);
    check_eq!((to_bar, to_baz), (total, total));
    ctx.observe("received bar, baz", format!("{to_bar}, {to_baz}"));
    Ok(())
}

/// Go's TestNoRaceClosedSlowConsumerWriteDeadline: write_deadline 10 ms,
/// max_pending 500 MB; a subscriber with a tiny receive buffer never reads
/// while a sender publishes 1 MB messages: the server closes it, and the
/// closed connection's reason is "Slow Consumer (Write Deadline)". At the
/// Go test's own scale (100 messages): the slow client is cut after a few
/// of them and the server drops the rest, so it runs in well under 1 s.
async fn closed_slow_consumer_write_deadline(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(&format!(
            "no_sys_acc: true\nwrite_deadline: \"10ms\"\nmax_pending: 524288000\n{MONITOR}"
        )))
        .await?;
    let _c = never_reading_subscriber(&s, 128).await?;
    let _sender = publish_big(&ctx, &s, 100, MB).await?;
    let reasons = closed_reasons(&ctx, &s).await?;
    ctx.observe("closed reasons", reasons.join(" | "));
    check_eq!(reasons, vec!["Slow Consumer (Write Deadline)".to_string()]);
    Ok(())
}

/// Go's TestNoRaceClosedSlowConsumerPendingBytes: write_deadline 30 s,
/// max_pending 1 MB; the never-reading subscriber is closed, the reason
/// being "Slow Consumer (Pending Bytes)". At the Go test's own scale
/// (100 1 MB messages).
async fn closed_slow_consumer_pending_bytes(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(&format!(
            "no_sys_acc: true\nwrite_deadline: \"30s\"\nmax_pending: 1048576\n{MONITOR}"
        )))
        .await?;
    let _c = never_reading_subscriber(&s, 128).await?;
    let _sender = publish_big(&ctx, &s, 100, MB).await?;
    let reasons = closed_reasons(&ctx, &s).await?;
    ctx.observe("closed reasons", reasons.join(" | "));
    check_eq!(reasons, vec!["Slow Consumer (Pending Bytes)".to_string()]);
    Ok(())
}

/// Go's TestNoRaceSlowConsumerPendingBytes: the same server and load as
/// above (the Go test's 100 1 MB messages); the slow client itself
/// sees its connection closed: a later write to it fails.
async fn slow_consumer_pending_bytes(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(&format!(
            "no_sys_acc: true\nwrite_deadline: \"30s\"\nmax_pending: 1048576\n{MONITOR}"
        )))
        .await?;
    let mut c = never_reading_subscriber(&s, 128).await?;
    let _sender = publish_big(&ctx, &s, 100, MB).await?;
    writes_fail(&mut c).await?;
    ctx.observe("slow client's writes", "fail");
    // Why it was closed (not a check of the Go test, a record of it).
    let reasons = closed_reasons(&ctx, &s).await?;
    ctx.observe("closed reasons", reasons.join(" | "));
    Ok(())
}

/// Go's TestNoRaceWriteDeadline: write_deadline 30 ms, a subscriber with a
/// 4-byte receive buffer (the kernel's minimum here), 1000 messages of
/// 1,000,000 bytes: the slow client's connection is closed, a later write
/// fails. Scaled from 1000 messages to 48 (under the default 64 MB
/// max_pending, so it is the write deadline that cuts the client).
async fn write_deadline(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(&format!(
            "no_sys_acc: true\nwrite_deadline: \"30ms\"\n{MONITOR}"
        )))
        .await?;
    let mut c = never_reading_subscriber(&s, 4).await?;
    let _sender = publish_big(&ctx, &s, 48, 1_000_000).await?;
    writes_fail(&mut c).await?;
    ctx.observe("slow client's writes", "fail");
    let reasons = closed_reasons(&ctx, &s).await?;
    ctx.observe("closed reasons", reasons.join(" | "));
    Ok(())
}

/// Go's TestNoRaceAvoidSlowConsumerBigMessages: default limits; a
/// subscriber that reads as fast as it can gets every one of many 1 MB
/// messages, sees no error on its connection, and the server counts no
/// slow consumer. Scaled from 500 messages to 100, within the Go test's
/// 10 s.
async fn avoid_slow_consumer_big_messages(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(&format!("no_sys_acc: true\n{MONITOR}")))
        .await?;
    let expected = 100;
    let mut nc1 = quiet(&ctx, &s).await?;
    nc1.send("SUB slow.consumer 1\r\n").await?;
    nc1.flush().await?;
    let data: Vec<u8> = (0..MB)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let want = data.clone();
    // The subscriber reads on its own task; any other operation than a
    // message (an -ERR, say) fails read_msgs, as Go's error handler fails
    // the test.
    let reader = tokio::spawn(async move {
        let read = tokio::time::timeout(Duration::from_secs(10), nc1.read_msgs(expected)).await;
        (nc1, read)
    });
    let mut nc2 = quiet(&ctx, &s).await?;
    let mut one = format!("PUB slow.consumer {MB}\r\n").into_bytes();
    one.extend_from_slice(&data);
    one.extend_from_slice(b"\r\n");
    for _ in 0..expected {
        tokio::time::timeout(Duration::from_secs(10), nc2.send_bytes(&one))
            .await
            .map_err(|_| anyhow!("publish blocked for 10 s"))??;
    }
    nc2.flush().await?;
    let (mut nc1, read) = reader.await?;
    let varz = ctx.http_json(&s, "/varz").await?;
    let slow = varz["slow_consumers"].as_i64();
    ctx.observe(
        "slow_consumers",
        slow.map(|n| n.to_string()).unwrap_or_default(),
    );
    check_eq!(slow, Some(0));
    let msgs = read
        .map_err(|_| anyhow!("the subscriber did not get {expected} messages in 10 s"))?
        .context("the subscriber's connection")?;
    check_eq!(msgs.len(), expected);
    let intact = msgs.iter().filter(|m| m.payload == want).count();
    check_eq!(intact, expected);
    // Nothing else came, and the subscriber's connection is still up.
    let rest = nc1.ops_until_pong().await?;
    check_eq!(rest.len(), 0);
    ctx.observe("received", intact.to_string());
    Ok(())
}

/// The users of Go's test/configs/authorization.conf that
/// TestNoRaceDynamicResponsePermsMemory uses: alice may do anything; svcb
/// subscribes to `my.service.req` and may reply once to each request
/// within 10 ms.
const RESPONSE_PERMS_CONF: &str = r#"
authorization {
  users = [
    {user: alice, password: foo, permissions: { publish: ">", subscribe: ">" }}
    {user: svcb, password: foo, permissions: { subscribe: "my.service.req", allow_responses: { max: 1, expires: "10ms" } }}
  ]
}
"#;

/// A verbose CONNECT as `user`, its +OK read.
async fn verbose_user(s: &Server, user: &str) -> Result<RawClient> {
    let (mut c, info) = RawClient::connect_info(&s.addr()).await?;
    check_eq!(info["auth_required"].as_bool(), Some(true));
    c.send(&format!(
        "CONNECT {{\"verbose\":true,\"pedantic\":false,\"user\":\"{user}\",\"pass\":\"foo\"}}\r\n"
    ))
    .await?;
    c.expect_ok().await?;
    Ok(c)
}

/// Go's TestNoRaceDynamicResponsePermsMemory, partly: requests that the
/// service never answers build up reply permissions in the server; each
/// request gets its +OK and reaches the service, and once the permissions
/// have expired the service may not reply to them. Scaled from 10000
/// requests to 2000.
async fn dynamic_response_perms(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(RESPONSE_PERMS_CONF))
        .await?;
    let mut rc = verbose_user(&s, "alice").await?;
    let mut c = verbose_user(&s, "svcb").await?;
    c.send("SUB my.service.req 1\r\n").await?;
    c.expect_ok().await?;
    let total = 2000;
    for i in 0..total {
        rc.send(&format!("PUB my.service.req resp.{i} 2\r\nok\r\n"))
            .await?;
        rc.expect_ok().await?;
        let m = c.read_msgs(1).await?;
        check_eq!(
            (m[0].subject.as_str(), m[0].reply.clone()),
            ("my.service.req", Some(format!("resp.{i}")))
        );
    }
    ctx.observe("requests delivered", total.to_string());
    // Long past the 10 ms: the service may no longer reply to any of them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in [0, total - 1] {
        c.send(&format!("PUB resp.{i} 2\r\nok\r\n")).await?;
        let err = c.expect_err().await?;
        ctx.observe("late reply", &err);
        ensure!(
            err.contains(&format!(
                "Permissions Violation for Publish to \"resp.{i}\""
            )),
            "late reply to resp.{i}: {err}"
        );
    }
    Ok(())
}
