//! Scenarios for the client protocol seen from a raw socket: pedantic and
//! verbose modes, payload and control-line limits, server PINGs, fan-out
//! ordering, operations split across several writes, and the parser's answers
//! to valid and malformed operations (test/pedantic_test.go,
//! test/verbose_test.go, test/maxpayload_test.go, test/ping_test.go,
//! test/fanout_test.go, server/ping_test.go, server/split_test.go,
//! server/parser_test.go).

use super::core_proto::proto_server;
use crate::check_eq;
use crate::kit::{Ctx, Msg, Op, RawClient, Server, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{ensure, Result};
use futures::FutureExt;
use serde_json::json;
use std::time::{Duration, Instant};

/// How long the kit waits for the server to drop a connection.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// The pause between the pieces of a split operation, so that each piece
/// reaches the server as its own read instead of being coalesced.
const PIECE_GAP: Duration = Duration::from_millis(3);

/// The CONNECT JSON of the Go tests' `doConnect`.
fn connect_json(verbose: bool, pedantic: bool) -> String {
    format!("{{\"verbose\":{verbose},\"pedantic\":{pedantic},\"tls_required\":false}}")
}

/// The CONNECT line of the Go tests' `doConnect`.
fn connect_line(verbose: bool, pedantic: bool) -> String {
    format!("CONNECT {}\r\n", connect_json(verbose, pedantic))
}

/// The CONNECT JSON of a client that announces headers.
const HEADERS_CONNECT: &str =
    "{\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"headers\":true}";

/// A non-verbose, non-pedantic client, like the Go tests' `setupConn`.
async fn plain(ctx: &Ctx, s: &Server) -> Result<RawClient> {
    ctx.raw_connected(s, &connect_json(false, false)).await
}

/// Sends `bytes` cut at the given offsets, one write per piece.
async fn send_split(c: &mut RawClient, bytes: &[u8], cuts: &[usize]) -> Result<()> {
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        ensure!(cut >= start && cut <= bytes.len(), "bad cut {cut}");
        if cut > start {
            c.send_bytes(&bytes[start..cut]).await?;
            tokio::time::sleep(PIECE_GAP).await;
        }
        start = cut;
    }
    Ok(())
}

/// Sends `bytes` one byte per write.
async fn send_bytewise(c: &mut RawClient, bytes: &[u8]) -> Result<()> {
    let cuts: Vec<usize> = (1..bytes.len()).collect();
    send_split(c, bytes, &cuts).await
}

/// One delivered message as text: `subject sid [reply] payload-or-size`.
fn describe(m: &Msg) -> String {
    let reply = m.reply.as_deref().unwrap_or("-");
    let kind = if m.headers.is_some() { "HMSG" } else { "MSG" };
    let hdr = m
        .headers
        .as_ref()
        .map(|h| format!(" hdr={}", h.len()))
        .unwrap_or_default();
    let body = if m.payload.len() <= 32 {
        String::from_utf8_lossy(&m.payload).into_owned()
    } else {
        format!("<{} bytes>", m.payload.len())
    };
    format!("{kind} {} {} {reply}{hdr} {body}", m.subject, m.sid)
}

fn describe_all(msgs: &[Msg]) -> Vec<String> {
    msgs.iter().map(describe).collect()
}

/// Waits for the server to close the connection; returns what it sent last.
async fn closed_with(c: &mut RawClient) -> Result<String> {
    c.expect_closed(CLOSE_WAIT).await
}

/// One server operation as text, for checks and observations.
fn show(op: &Op) -> String {
    match op {
        Op::Msg(m) => describe(m),
        Op::Ok => "+OK".into(),
        Op::Err(e) => format!("-ERR {e}"),
        Op::Info(_) => "INFO".into(),
        Op::Ping => "PING".into(),
        Op::Pong => "PONG".into(),
    }
}

/// The next operation the server sends (within the kit's 3 s), as text.
async fn answer(c: &mut RawClient) -> Result<String> {
    Ok(show(&c.read_op().await?))
}

/// Reads the server's next operation, fails unless it is `want`, and
/// returns it as the server sent it.
async fn expect_answer(c: &mut RawClient, want: &str) -> Result<String> {
    let got = answer(c).await?;
    check_eq!(got, want);
    Ok(got)
}

const UNKNOWN_OP: &str = "-ERR 'Unknown Protocol Operation'\r\n";

pub fn scenarios() -> Vec<Scenario> {
    vec![
        // test/pedantic_test.go
        Scenario::new("core/pedantic-sub-invalid-subjects", |c| {
            pedantic_sub(c).boxed()
        })
        .full("TestPedanticSub"),
        Scenario::new("core/pedantic-pub-invalid-subjects", |c| {
            pedantic_pub(c).boxed()
        })
        .full("TestPedanticPub"),
        // test/verbose_test.go
        Scenario::new("core/verbose-ping", |c| verbose_ping(c).boxed()).full("TestVerbosePing"),
        Scenario::new("core/verbose-connect", |c| verbose_connect(c).boxed())
            .full("TestVerboseConnect"),
        Scenario::new("core/verbose-pub-sub-unsub", |c| verbose_pub_sub(c).boxed())
            .full("TestVerbosePubSub"),
        // test/maxpayload_test.go
        Scenario::new("core/maxpayload-client-and-raw", |c| max_payload(c).boxed())
            .full("TestMaxPayload"),
        Scenario::new("core/maxpayload-overrun", |c| {
            max_payload_overrun(c).boxed()
        })
        .full("TestMaxPayloadOverrun"),
        // test/ping_test.go and server/ping_test.go
        Scenario::new("core/ping-interval-stale", |c| ping_interval(c).boxed())
            .full("TestPingInterval"),
        Scenario::new("core/ping-unprompted-pong", |c| unprompted_pong(c).boxed())
            .full("TestUnpromptedPong"),
        Scenario::new("core/ping-tls-stale", |c| ping_tls(c).boxed())
            .full("TestPingSentToTLSConnection"),
        Scenario::new("core/ping-suppression", |c| ping_suppression(c).boxed())
            .full("TestPingSuppresion"),
        Scenario::new("core/ping-answered-interval", |c| ping_answered(c).boxed())
            .full("server/ping_test.go:TestPing"),
        // test/fanout_test.go
        Scenario::new("core/fanout-ordering", |c| fanout_ordering(c).boxed())
            .full("TestNoRaceHighFanoutOrdering"),
        // server/split_test.go
        Scenario::new("core/split-sub-op", |c| split_sub(c).boxed())
            .needs(Need::Monitoring)
            .full("TestSplitBufferSubOp"),
        Scenario::new("core/split-unsub-op", |c| split_unsub(c).boxed())
            .full("TestSplitBufferUnsubOp"),
        Scenario::new("core/split-pub-op", |c| split_pub(c).boxed()).full("TestSplitBufferPubOp"),
        Scenario::new("core/split-pub-op-in-payload", |c| {
            split_pub_in_payload(c).boxed()
        })
        .full("TestSplitBufferPubOp2"),
        Scenario::new("core/split-pub-op-after-reply-line", |c| {
            split_pub_after_reply_line(c).boxed()
        })
        .full("TestSplitBufferPubOp3"),
        Scenario::new("core/split-pub-op-after-line", |c| {
            split_pub_after_line(c).boxed()
        })
        .full("TestSplitBufferPubOp4"),
        Scenario::new("core/split-pub-op-cr-lf", |c| split_pub_cr_lf(c).boxed())
            .full("TestSplitBufferPubOp5"),
        Scenario::new("core/split-connect-arg", |c| split_connect(c).boxed())
            .full("TestSplitConnectArg"),
        Scenario::new("core/split-dangling-arg-buf", |c| split_dangling(c).boxed())
            .partial("TestSplitDanglingArgBuf"),
        // server/parser_test.go
        Scenario::new("core/parser-ping", |c| parse_ping(c).boxed()).full("TestParsePing"),
        Scenario::new("core/parser-pong", |c| parse_pong(c).boxed()).full("TestParsePong"),
        Scenario::new("core/parser-ok", |c| parse_ok(c).boxed()).full("TestParseOK"),
        Scenario::new("core/parser-connect", |c| parse_connect(c).boxed()).full("TestParseConnect"),
        Scenario::new("core/parser-sub", |c| parse_sub(c).boxed()).full("TestParseSub"),
        Scenario::new("core/parser-pub", |c| parse_pub(c).boxed()).full("TestParsePub"),
        Scenario::new("core/parser-pub-size-overflow", |c| {
            parse_pub_size_overflow(c).boxed()
        })
        .full("TestParsePubSizeOverflow"),
        Scenario::new("core/parser-pub-arg-whitespace", |c| {
            parse_pub_arg(c).boxed()
        })
        .full("TestParsePubArg"),
        Scenario::new("core/parser-pub-bad-size", |c| {
            parse_pub_bad_size(c).boxed()
        })
        .full("TestParsePubBadSize"),
        Scenario::new("core/parser-hpub", |c| parse_hpub(c).boxed()).full("TestParseHeaderPub"),
        Scenario::new("core/parser-hpub-arg-whitespace", |c| {
            parse_hpub_arg(c).boxed()
        })
        .full("TestParseHeaderPubArg"),
        Scenario::new("core/parser-msg-from-client", |c| {
            parse_msg_from_client(c).boxed()
        })
        .partial("TestParseMsgSpace"),
        Scenario::new("core/parser-should-fail", |c| should_fail(c).boxed())
            .partial("TestShouldFail"),
        Scenario::new("core/parser-max-control-line", |c| {
            max_control_line(c).boxed()
        })
        .partial("TestMaxControlLine"),
    ]
}

// ---------------------------------------------------------------- pedantic

async fn pedantic_sub(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = ctx.raw_connected(&s, &connect_json(false, true)).await?;
    c.send("PING\r\n").await?;
    c.expect_pong().await?;
    for subject in ["foo.", ".foo.", "foo..bar", "foo.>.bar"] {
        c.send(&format!("SUB {subject} 1\r\n")).await?;
        let err = c.expect_err().await?;
        ctx.observe(&format!("sub {subject}"), &err);
        check_eq!(err, "Invalid Subject");
    }
    // The connection stays usable.
    c.flush().await?;
    Ok(())
}

async fn pedantic_pub(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut sub = plain(&ctx, &s).await?;
    sub.send("SUB > 1\r\n").await?;
    sub.flush().await?;
    let mut c = ctx.raw_connected(&s, &connect_json(false, true)).await?;
    c.send("PING\r\n").await?;
    c.expect_pong().await?;
    let subjects = ["foo.*", "foo.>", "foo.", ".foo", "foo..*"];
    for subject in subjects {
        c.send(&format!("PUB {subject} 2\r\nok\r\n")).await?;
        let err = c.expect_err().await?;
        ctx.observe(&format!("pub {subject}"), &err);
        check_eq!(err, "Invalid Publish Subject");
    }
    c.flush().await?;
    // The error is a warning only: the wildcard subjects are still routed
    // (they match `>`); the ones with empty tokens match nothing.
    let got: Vec<String> = sub
        .msgs_until_pong()
        .await?
        .iter()
        .map(|m| m.subject.clone())
        .collect();
    ctx.observe("routed anyway", got.join(" "));
    check_eq!(got, vec!["foo.*".to_string(), "foo.>".to_string()]);
    Ok(())
}

// ---------------------------------------------------------------- verbose

async fn verbose_ping(ctx: Ctx) -> Result<()> {
    let s = proto_server(&ctx).await?;
    let (mut c, _) = ctx.raw(&s).await?;
    c.send(&connect_line(true, false)).await?;
    let connect = expect_answer(&mut c, "+OK").await?;
    // A PING is answered by PONG alone, not +OK.
    c.send("PING\r\n").await?;
    let ping = expect_answer(&mut c, "PONG").await?;
    c.expect_nothing(Duration::from_millis(100)).await?;
    ctx.observe("CONNECT, PING", format!("{connect} | {ping}"));
    Ok(())
}

async fn verbose_connect(ctx: Ctx) -> Result<()> {
    let s = proto_server(&ctx).await?;
    let (mut c, _) = ctx.raw(&s).await?;
    c.send(&connect_line(true, false)).await?;
    let first = expect_answer(&mut c, "+OK").await?;
    c.send(&connect_line(true, true)).await?;
    let second = expect_answer(&mut c, "+OK").await?;
    c.flush().await?;
    ctx.observe("connect twice", format!("{first} | {second}"));
    Ok(())
}

async fn verbose_pub_sub(ctx: Ctx) -> Result<()> {
    let s = proto_server(&ctx).await?;
    let (mut c, _) = ctx.raw(&s).await?;
    c.send(&connect_line(true, false)).await?;
    c.expect_ok().await?;
    let mut seen = Vec::new();
    for op in ["PUB foo 2\r\nok\r\n", "SUB foo 1\r\n", "UNSUB 1\r\n"] {
        c.send(op).await?;
        seen.push(expect_answer(&mut c, "+OK").await?);
    }
    c.flush().await?;
    ctx.observe("pub sub unsub", seen.join(" | "));
    Ok(())
}

// ---------------------------------------------------------------- max payload

async fn max_payload(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("max_payload: 2222\n"))
        .await?;
    let big = vec![b'x'; 4 * 1024 * 1024];

    // A client that honours INFO's max_payload refuses to publish.
    let nc = ctx.client(&s).await?;
    check_eq!(nc.server_info().max_payload, 2222);
    let err = nc
        .publish("foo", big.clone().into())
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("publishing 4MB should fail"))?;
    check_eq!(
        err.kind(),
        async_nats::client::PublishErrorKind::MaxPayloadExceeded
    );
    nc.flush().await?;
    check_eq!(
        nc.connection_state(),
        async_nats::connection::State::Connected
    );

    // A raw client that announces a too-big PUB is refused and dropped.
    let (mut c, info) = ctx.raw(&s).await?;
    ctx.observe("info max_payload", info["max_payload"].to_string());
    check_eq!(info["max_payload"], json!(2222));
    c.send(&format!("PUB bar {}\r\n", big.len())).await?;
    let err = c.expect_err().await?;
    ctx.observe("raw err", &err);
    check_eq!(err, "Maximum Payload Violation");
    let rest = closed_with(&mut c).await?;
    check_eq!(rest, "");
    Ok(())
}

async fn max_payload_overrun(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("max_payload: 10000\n"))
        .await?;
    // A size that fits an int32 but exceeds max_payload.
    let mut c = plain(&ctx, &s).await?;
    c.send("PUB foo 199380988\r\n").await?;
    let out = closed_with(&mut c).await?;
    ctx.observe("int32 overrun", &out);
    check_eq!(out, "-ERR 'Maximum Payload Violation'\r\n");
    // A size that overruns an int64: dropped without an error line.
    let mut c = plain(&ctx, &s).await?;
    c.send("PUB foo 18446744073709551615123\r\n").await?;
    let out = closed_with(&mut c).await?;
    ctx.observe("int64 overrun", &out);
    check_eq!(out, "");
    Ok(())
}

// ---------------------------------------------------------------- pings

/// A server that PINGs every `interval` and drops a client with more than `max` unanswered.
async fn ping_server(ctx: &Ctx, interval: &str, max: u32) -> Result<Server> {
    ctx.server(ServerSpec::new().conf(&format!("ping_interval: \"{interval}\"\nping_max: {max}\n")))
        .await
}

/// Expects `max` PINGs, then the stale-connection error, then the close.
async fn expect_stale(ctx: &Ctx, c: &mut RawClient, max: usize) -> Result<()> {
    for _ in 0..max {
        c.expect_within(r"PING\r\n", Duration::from_secs(2)).await?;
    }
    let err = c.expect_err().await?;
    ctx.observe("after pings", &err);
    check_eq!(err, "Stale Connection");
    let rest = closed_with(c).await?;
    check_eq!(rest, "");
    ctx.observe("closed", "yes");
    Ok(())
}

async fn ping_interval(ctx: Ctx) -> Result<()> {
    let s = ping_server(&ctx, "50ms", 2).await?;
    let (mut c, _) = ctx.raw(&s).await?;
    c.send(&connect_line(false, false)).await?;
    expect_stale(&ctx, &mut c, 2).await
}

async fn unprompted_pong(ctx: Ctx) -> Result<()> {
    let s = ping_server(&ctx, "50ms", 2).await?;
    let (mut c, _) = ctx.raw(&s).await?;
    c.send(&connect_line(false, false)).await?;
    c.send(&"PONG\r\n".repeat(100)).await?;
    expect_stale(&ctx, &mut c, 2).await
}

async fn ping_suppression(ctx: Ctx) -> Result<()> {
    // The Go test uses 100ms; a longer interval keeps the same sequence but
    // leaves room for a busy machine.
    let interval = Duration::from_millis(250);
    let s = ctx
        .server(ServerSpec::new().conf("ping_interval: \"250ms\"\n"))
        .await?;
    let start = Instant::now();
    let (mut c, _) = ctx.raw(&s).await?;
    c.send(&connect_line(false, false)).await?;
    let server_op = expect_answer(&mut c, "PING").await?;
    let first = start.elapsed();
    c.send("PONG\r\n").await?;
    ensure!(
        first >= interval,
        "first PING after {first:?}, before the interval"
    );
    ensure!(first < interval * 4, "first PING only after {first:?}");
    tokio::time::sleep(interval / 2).await;
    // A PING from the client counts as activity: the server's next PING is skipped.
    c.send("PING\r\n").await?;
    let pong = expect_answer(&mut c, "PONG").await?;
    c.expect_nothing(interval).await?;
    ctx.observe(
        "server, then answer to client PING",
        format!("{server_op} | {pong}"),
    );
    Ok(())
}

async fn ping_answered(ctx: Ctx) -> Result<()> {
    // The Go test pings every 50ms and wants each PING 25..75ms after the
    // previous one; the same proportions on a 200ms interval leave room for
    // a busy machine.
    let interval = Duration::from_millis(200);
    let (min_gap, max_gap) = (interval / 2, interval * 3 / 2);
    let s = ctx
        // A high ping_max so that a client slowed down by a busy machine is
        // not dropped as stale: this scenario is about the PINGs' pace.
        .server(ServerSpec::new().conf("ping_interval: \"200ms\"\nping_max: 20\n"))
        .await?;
    let (mut c, _) = ctx.raw(&s).await?;
    let start = Instant::now();
    c.send("CONNECT {\"verbose\":false}\r\nPING\r\n").await?;
    let pong = expect_answer(&mut c, "PONG").await?;
    let mut seen = vec![pong];
    // Each PING is timed from the previous one (the first from the PONG),
    // and the k-th cannot come before k intervals (reading late only adds
    // time).
    let mut previous = Instant::now();
    for k in 1..=3u32 {
        let l = expect_answer(&mut c, "PING").await?;
        let gap = previous.elapsed();
        let took = start.elapsed();
        ensure!(
            took >= interval * k * 9 / 10,
            "PING {k} came after {took:?}, before {k} intervals"
        );
        ensure!(
            gap >= min_gap && gap <= max_gap,
            "PING {k} came {gap:?} after the previous one, want {min_gap:?}..{max_gap:?}"
        );
        c.send("PONG\r\n").await?;
        previous = Instant::now();
        seen.push(l);
    }
    ctx.observe("server ops", seen.join(" "));
    Ok(())
}

// ---------------------------------------------------------------- fan-out

async fn fanout_ordering(ctx: Ctx) -> Result<()> {
    // The Go test uses 100 x 100 x 500; the same check on fewer messages.
    const CONNS: usize = 10;
    const SUBS: usize = 20;
    const PUBS: usize = 200;
    let s = ctx.default_server().await?;
    let subject = "fanout.ordering.subject";
    let mut subscribers = Vec::new();
    for _ in 0..CONNS {
        let mut c = plain(&ctx, &s).await?;
        let subs: String = (1..=SUBS)
            .map(|i| format!("SUB {subject} {i}\r\n"))
            .collect();
        c.send(&subs).await?;
        c.flush().await?;
        subscribers.push(c);
    }
    let readers: Vec<_> = subscribers
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                let mut next = [0usize; SUBS + 1];
                for m in c.read_msgs(SUBS * PUBS).await? {
                    let sid: usize = m.sid.parse()?;
                    let n: usize = String::from_utf8_lossy(&m.payload).parse()?;
                    ensure!(
                        n == next[sid],
                        "sid {sid}: expected message {} but received {n}",
                        next[sid]
                    );
                    next[sid] += 1;
                }
                ensure!(next[1..].iter().all(|&n| n == PUBS), "missing messages");
                anyhow::Ok(())
            })
        })
        .collect();
    let mut publisher = plain(&ctx, &s).await?;
    let pubs: String = (0..PUBS)
        .map(|i| {
            let body = i.to_string();
            format!("PUB {subject} {}\r\n{body}\r\n", body.len())
        })
        .collect();
    publisher.send(&pubs).await?;
    publisher.flush().await?;
    for r in futures::future::join_all(readers).await {
        r??;
    }
    ctx.observe(
        "in order",
        format!("{CONNS} connections x {SUBS} subscriptions x {PUBS} messages"),
    );
    Ok(())
}

// ---------------------------------------------------------------- split buffers

async fn split_sub(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("http_port: {{http_port}}\n"))
        .await?;
    let mut c = plain(&ctx, &s).await?;
    // The Go test's cut, then every other cut, each with its own sid.
    send_split(&mut c, b"SUB foo 1\r\n", &[6]).await?;
    for cut in 1..11 {
        let op = format!("SUB foo {}\r\n", cut + 10);
        send_split(&mut c, op.as_bytes(), &[cut]).await?;
    }
    c.send("PUB foo 2\r\nok\r\n").await?;
    let msgs = c.msgs_until_pong().await?;
    let mut sids: Vec<u32> = msgs
        .iter()
        .map(|m| m.sid.parse())
        .collect::<Result<_, _>>()?;
    sids.sort();
    let want: Vec<u32> = std::iter::once(1).chain(11..=20).collect();
    check_eq!(sids, want);
    for m in &msgs {
        check_eq!(
            (m.subject.as_str(), m.payload.as_slice()),
            ("foo", &b"ok"[..])
        );
    }
    ctx.observe("sids", format!("{sids:?}"));
    // The subscription the split SUB made: subject foo, sid 1, no queue group.
    let connz = ctx.http_json(&s, "/connz?subs=detail").await?;
    let detail = connz["connections"][0]["subscriptions_list_detail"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("no subscriptions_list_detail in {connz}"))?;
    let sid1 = detail
        .iter()
        .find(|d| d["sid"] == json!("1"))
        .ok_or_else(|| anyhow::anyhow!("sid 1 not in {connz}"))?;
    let seen = json!({
        "subject": sid1["subject"],
        "sid": sid1["sid"],
        "qgroup": sid1.get("qgroup"),
    });
    ctx.observe_json("sid 1 on /connz", &seen);
    check_eq!(seen, json!({"subject": "foo", "sid": "1", "qgroup": null}));
    Ok(())
}

async fn split_unsub(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = plain(&ctx, &s).await?;
    c.send("SUB foo 1024\r\n").await?;
    send_split(&mut c, b"UNSUB 1024\r\n", &[8]).await?;
    for cut in 1..12 {
        let sid = 2000 + cut;
        c.send(&format!("SUB foo {sid}\r\n")).await?;
        let op = format!("UNSUB {sid}\r\n");
        send_split(&mut c, op.as_bytes(), &[cut]).await?;
    }
    c.send("SUB foo 7\r\nPUB foo 2\r\nok\r\n").await?;
    let msgs = c.msgs_until_pong().await?;
    ctx.observe("delivered", describe_all(&msgs).join("|"));
    check_eq!(describe_all(&msgs), vec!["MSG foo 7 - ok".to_string()]);
    Ok(())
}

const PUB_WITH_REPLY: &[u8] = b"PUB foo.bar INBOX.22 11\r\nhello world\r\n";

async fn split_pub(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = plain(&ctx, &s).await?;
    c.send("SUB foo.bar 1\r\n").await?;
    send_split(&mut c, PUB_WITH_REPLY, &[2, 9, 15, 22, 25, 33, 37]).await?;
    let first = c.msgs_until_pong().await?;
    check_eq!(
        describe_all(&first),
        vec!["MSG foo.bar 1 INBOX.22 hello world".to_string()]
    );
    ctx.observe("go cuts", describe_all(&first).join("|"));
    for cut in 1..PUB_WITH_REPLY.len() {
        send_split(&mut c, PUB_WITH_REPLY, &[cut]).await?;
    }
    let msgs = c.msgs_until_pong().await?;
    check_eq!(msgs.len(), PUB_WITH_REPLY.len() - 1);
    for m in &msgs {
        check_eq!(describe(m), describe(&first[0]));
    }
    ctx.observe("every cut", format!("{} identical deliveries", msgs.len()));
    Ok(())
}

/// Subscribes to `foo`, sends `op` cut at `cuts`, and checks the one delivery.
async fn split_pub_case(ctx: &Ctx, op: &[u8], cuts: &[usize], want: &str) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = plain(ctx, &s).await?;
    c.send("SUB foo 1\r\nSUB foo.bar 2\r\n").await?;
    send_split(&mut c, op, cuts).await?;
    // The same operation again right after, to show the parser is back at the start.
    c.send_bytes(op).await?;
    let msgs = c.msgs_until_pong().await?;
    let got = describe_all(&msgs);
    ctx.observe("delivered", got.join("|"));
    check_eq!(got, vec![want.to_string(), want.to_string()]);
    Ok(())
}

async fn split_pub_in_payload(ctx: Ctx) -> Result<()> {
    split_pub_case(
        &ctx,
        PUB_WITH_REPLY,
        &[30],
        "MSG foo.bar 2 INBOX.22 hello world",
    )
    .await
}

async fn split_pub_after_reply_line(ctx: Ctx) -> Result<()> {
    split_pub_case(
        &ctx,
        b"PUB foo bar 11\r\nhello world\r\n",
        &[16],
        "MSG foo 1 bar hello world",
    )
    .await
}

async fn split_pub_after_line(ctx: Ctx) -> Result<()> {
    split_pub_case(
        &ctx,
        b"PUB foo 11\r\nhello world\r\n",
        &[12],
        "MSG foo 1 - hello world",
    )
    .await
}

async fn split_pub_cr_lf(ctx: Ctx) -> Result<()> {
    let op = b"PUB foo 11\r\nhello world\r\n";
    split_pub_case(&ctx, op, &[op.len() - 1], "MSG foo 1 - hello world").await
}

const CONNECT_WITH_USER: &str = "CONNECT {\"verbose\":false,\"tls_required\":false,\
\"user\":\"test\",\"pedantic\":true,\"pass\":\"pass\"}\r\n";

/// After a pedantic CONNECT, a wildcard PUB is refused: proof the JSON was read whole.
async fn expect_pedantic(ctx: &Ctx, c: &mut RawClient) -> Result<()> {
    c.send("PUB foo.* 2\r\nok\r\n").await?;
    let err = c.expect_err().await?;
    ctx.observe("pedantic pub", &err);
    check_eq!(err, "Invalid Publish Subject");
    c.flush().await
}

async fn split_connect(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let (mut c, _) = ctx.raw(&s).await?;
    let op = CONNECT_WITH_USER.as_bytes();
    send_split(&mut c, op, &[5, 22, op.len() - 2]).await?;
    c.flush().await?;
    expect_pedantic(&ctx, &mut c).await
}

async fn split_dangling(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = plain(&ctx, &s).await?;
    send_split(&mut c, b"SUB foo 1\r\n", &[6]).await?;
    send_split(&mut c, b"UNSUB 1024\r\n", &[8]).await?;
    c.send("SUB foo.bar 2\r\n").await?;
    send_split(&mut c, PUB_WITH_REPLY, &[22, 25]).await?;
    c.send("PUB foo 2\r\nok\r\n").await?;
    let got = describe_all(&c.msgs_until_pong().await?);
    ctx.observe("delivered", got.join("|"));
    check_eq!(
        got,
        vec![
            "MSG foo.bar 2 INBOX.22 hello world".to_string(),
            "MSG foo 1 - ok".to_string()
        ]
    );
    let op = CONNECT_WITH_USER.as_bytes();
    send_split(&mut c, op, &[22]).await?;
    c.flush().await?;
    send_split(&mut c, b"INFO {\"server_id\":\"id\"}\r\n", &[8]).await?;
    c.flush().await?;
    expect_pedantic(&ctx, &mut c).await?;
    // A client may not send -ERR: the server drops it without a word.
    send_split(&mut c, b"-ERR Too Long\r\n", &[8]).await?;
    let out = closed_with(&mut c).await?;
    ctx.observe("client -ERR", &out);
    check_eq!(out, "");
    Ok(())
}

// ---------------------------------------------------------------- parser

async fn parse_ping(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = plain(&ctx, &s).await?;
    let mut seen = Vec::new();
    send_bytewise(&mut c, b"PING\r\n").await?;
    seen.push(expect_answer(&mut c, "PONG").await?);
    c.send("PING\r\n").await?;
    seen.push(expect_answer(&mut c, "PONG").await?);
    // Spaces after PING and between CR and LF are tolerated.
    send_split(&mut c, b"PING  \r  \n", &[7]).await?;
    seen.push(expect_answer(&mut c, "PONG").await?);
    c.send("PING  \r  \n").await?;
    seen.push(expect_answer(&mut c, "PONG").await?);
    c.expect_nothing(Duration::from_millis(50)).await?;
    ctx.observe("answers", seen.join(" "));
    Ok(())
}

async fn parse_pong(ctx: Ctx) -> Result<()> {
    // One PING outstanding at most: each PONG must reset the count.
    let s = ping_server(&ctx, "200ms", 1).await?;
    let mut c = plain(&ctx, &s).await?;
    send_bytewise(&mut c, b"PONG\r\n").await?;
    c.send("PONG\r\n").await?;
    let answers: [(&[u8], &[usize]); 3] = [
        (b"PONG\r\n", &[1, 2, 3, 4, 5]),
        (b"PONG  \r  \n", &[]),
        (b"PONG  \r  \n", &[7]),
    ];
    let mut seen = Vec::new();
    for (pong, cuts) in answers {
        seen.push(expect_answer(&mut c, "PING").await?);
        send_split(&mut c, pong, cuts).await?;
    }
    // Still connected: a PING of ours is answered (after any PING of the
    // server's that crossed it).
    c.send("PING\r\n").await?;
    let last = loop {
        match c.read_op().await? {
            Op::Ping => c.send("PONG\r\n").await?,
            op => break show(&op),
        }
    };
    check_eq!(last, "PONG");
    seen.push(last);
    ctx.observe("server PINGs, then our PING's answer", seen.join(" "));
    Ok(())
}

async fn parse_ok(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = plain(&ctx, &s).await?;
    send_bytewise(&mut c, b"+OK\r\n").await?;
    c.send("PING\r\n").await?;
    // Nothing but the PONG: the +OK was accepted silently.
    let next = expect_answer(&mut c, "PONG").await?;
    ctx.observe("after client +OK", &next);
    Ok(())
}

async fn parse_connect(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let (mut c, _) = ctx.raw(&s).await?;
    c.send("CONNECT {\"verbose\":false,\"pedantic\":true,\"tls_required\":false}\r\n")
        .await?;
    c.flush().await?;
    expect_pedantic(&ctx, &mut c).await
}

async fn parse_sub(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = plain(&ctx, &s).await?;
    send_split(&mut c, b"SUB foo 1\r\n", &[10]).await?;
    c.send("PUB foo 5\r\nhello\r\n").await?;
    let got = describe_all(&c.msgs_until_pong().await?);
    ctx.observe("delivered", got.join("|"));
    check_eq!(got, vec!["MSG foo 1 - hello".to_string()]);
    Ok(())
}

async fn parse_pub(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = plain(&ctx, &s).await?;
    c.send("SUB foo 1\r\nSUB foo.bar 2\r\n").await?;
    c.send("PUB foo 5\r\nhello\r\n").await?;
    c.send_bytes(PUB_WITH_REPLY).await?;
    let got = describe_all(&c.msgs_until_pong().await?);
    ctx.observe("delivered", got.join("|"));
    check_eq!(
        got,
        vec![
            "MSG foo 1 - hello".to_string(),
            "MSG foo.bar 2 INBOX.22 hello world".to_string()
        ]
    );
    // A payload longer than announced is a protocol error and is not delivered.
    c.send("PUB foo.bar 11\r\nhello world hello world\r\n")
        .await?;
    let out = closed_with(&mut c).await?;
    ctx.observe("payload too long", &out);
    check_eq!(out, UNKNOWN_OP);
    Ok(())
}

async fn parse_pub_size_overflow(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = plain(&ctx, &s).await?;
    c.send(&format!("PUB foo {}\r\n", "3".repeat(64))).await?;
    let out = closed_with(&mut c).await?;
    ctx.observe("size overflow", &out);
    check_eq!(out, "");
    Ok(())
}

async fn parse_pub_bad_size(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("max_payload: 32768\n"))
        .await?;
    let mut c = plain(&ctx, &s).await?;
    c.send("PUB foo 2222222222222222\r\n").await?;
    let out = closed_with(&mut c).await?;
    ctx.observe("bad size", &out);
    check_eq!(out, "");
    Ok(())
}

const PUB_ARGS: &[&str] = &[
    "a 2",
    "a 222",
    "foo 22",
    " foo 22",
    "foo 22 ",
    "foo   22",
    " foo 22 ",
    " foo   22 ",
    "foo bar 22",
    " foo bar 22",
    "foo bar 22 ",
    "foo  bar  22",
    " foo bar 22 ",
    "  foo   bar  22  ",
    "  foo   bar  2222  ",
    "  foo     2222  ",
    "a\t2",
    "a\t222",
    "foo\t22",
    "\tfoo\t22",
    "foo\t22\t",
    "foo\t\t\t22",
    "\tfoo\t22\t",
    "\tfoo\t\t\t22\t",
    "foo\tbar\t22",
    "\tfoo\tbar\t22",
    "foo\tbar\t22\t",
    "foo\t\tbar\t\t22",
    "\tfoo\tbar\t22\t",
    "\t \tfoo\t \t \tbar\t \t22\t \t",
    "\t\tfoo\t\t\tbar\t\t2222\t\t",
    "\t \tfoo\t \t \t\t\t2222\t \t",
];

/// The words of a PUB/HPUB argument line.
fn words(arg: &str) -> Vec<&str> {
    arg.split([' ', '\t']).filter(|w| !w.is_empty()).collect()
}

async fn parse_pub_arg(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = plain(&ctx, &s).await?;
    c.send("SUB a 1\r\nSUB foo 2\r\n").await?;
    for arg in PUB_ARGS {
        let w = words(arg);
        let size: usize = w.last().expect("size").parse()?;
        let subject = w[0];
        let reply = if w.len() == 3 { w[1] } else { "-" };
        c.send(&format!("PUB {arg}\r\n")).await?;
        c.send_bytes(&vec![b'p'; size]).await?;
        c.send("\r\n").await?;
        let msgs = c.msgs_until_pong().await?;
        ensure!(msgs.len() == 1, "PUB {arg:?}: {} deliveries", msgs.len());
        let m = &msgs[0];
        let got = (
            m.subject.as_str(),
            m.reply.as_deref().unwrap_or("-"),
            m.payload.len(),
        );
        ensure!(
            got == (subject, reply, size),
            "PUB {arg:?}: delivered {got:?}, want {:?}",
            (subject, reply, size)
        );
        ctx.observe(&format!("PUB {arg:?}"), describe(m));
    }
    Ok(())
}

async fn parse_hpub(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = ctx.raw_connected(&s, HEADERS_CONNECT).await?;
    c.send("SUB foo 1\r\n").await?;
    c.send("HPUB foo 12 17\r\nname:derek\r\nHELLO\r\n").await?;
    c.send("HPUB foo INBOX.22 12 17\r\nname:derek\r\nHELLO\r\n")
        .await?;
    c.send("HPUB foo INBOX.22 0 5\r\nHELLO\r\n").await?;
    let msgs = c.msgs_until_pong().await?;
    let got = describe_all(&msgs);
    ctx.observe("delivered", got.join("|"));
    check_eq!(
        got,
        vec![
            "HMSG foo 1 - hdr=12 HELLO".to_string(),
            "HMSG foo 1 INBOX.22 hdr=12 HELLO".to_string(),
            // An empty header block is delivered as a plain MSG.
            "MSG foo 1 INBOX.22 HELLO".to_string(),
        ]
    );
    check_eq!(msgs[0].headers.as_deref(), Some(&b"name:derek\r\n"[..]));
    Ok(())
}

const HPUB_ARGS: &[&str] = &[
    "a 2 4",
    "a 22 222",
    "foo 3 22",
    " foo   1 22",
    "foo 0   22 ",
    "foo  0     22",
    " foo 1 22 ",
    " foo   3 22 ",
    "foo bar 1 22",
    " foo bar 11 22",
    "foo bar 11 22 ",
    "foo  bar  11  22",
    " foo bar  11 22 ",
    "  foo   bar  11   22  ",
    "  foo   bar  22   2222  ",
    "  foo 1    2222  ",
    "a\t2\t22",
    "a\t2\t\t222",
    "foo\t2 22",
    "\tfoo\t11\t  22",
    "foo\t11\t22\t",
    "foo\t\t\t11 22",
    "\tfoo\t11\t \t 22\t",
    "\tfoo\t\t\t11 22\t",
    "foo\tbar\t2 22",
    "\tfoo\tbar\t11\t22",
    "foo\tbar\t11\t\t22\t ",
    "foo\t\tbar\t\t11\t\t\t22",
    "\tfoo\tbar\t11\t22\t",
    "\t \tfoo\t \t \tbar\t \t11\t 22\t \t",
    "\t\tfoo\t\t\tbar\t\t22\t\t\t2222\t\t",
    "\t \tfoo\t \t \t\t\t11\t\t 2222\t \t",
];

async fn parse_hpub_arg(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = ctx.raw_connected(&s, HEADERS_CONNECT).await?;
    c.send("SUB a 1\r\nSUB foo 2\r\n").await?;
    for arg in HPUB_ARGS {
        let w = words(arg);
        let n = w.len();
        let hdr: usize = w[n - 2].parse()?;
        let size: usize = w[n - 1].parse()?;
        let subject = w[0];
        let reply = if n == 4 { w[1] } else { "-" };
        c.send(&format!("HPUB {arg}\r\n")).await?;
        let mut body = vec![b'h'; hdr];
        body.resize(size, b'p');
        c.send_bytes(&body).await?;
        c.send("\r\n").await?;
        let msgs = c.msgs_until_pong().await?;
        ensure!(msgs.len() == 1, "HPUB {arg:?}: {} deliveries", msgs.len());
        let m = &msgs[0];
        let got_hdr = m.headers.as_ref().map_or(0, |h| h.len());
        let got = (
            m.subject.as_str(),
            m.reply.as_deref().unwrap_or("-"),
            got_hdr,
            got_hdr + m.payload.len(),
        );
        ensure!(
            got == (subject, reply, hdr, size),
            "HPUB {arg:?}: delivered {got:?}, want {:?}",
            (subject, reply, hdr, size)
        );
        ctx.observe(&format!("HPUB {arg:?}"), describe(m));
    }
    Ok(())
}

async fn parse_msg_from_client(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    for proto in ["M", "MSG \r\n"] {
        let mut c = plain(&ctx, &s).await?;
        c.send(proto).await?;
        let out = closed_with(&mut c).await?;
        ctx.observe(&format!("{proto:?}"), &out);
        check_eq!(out, UNKNOWN_OP);
    }
    Ok(())
}

/// Malformed operations and what the Go server answers before it drops the client.
const SHOULD_FAIL: &[(&str, &str)] = &[
    ("xxx", UNKNOWN_OP),
    ("Px", UNKNOWN_OP),
    ("PIx", UNKNOWN_OP),
    ("PINx", UNKNOWN_OP),
    (" PING", UNKNOWN_OP),
    ("POx", UNKNOWN_OP),
    ("PONx", UNKNOWN_OP),
    ("+x", UNKNOWN_OP),
    ("+Ox", UNKNOWN_OP),
    ("-x", UNKNOWN_OP),
    ("-Ex", UNKNOWN_OP),
    ("-ERx", UNKNOWN_OP),
    ("-ERRx", UNKNOWN_OP),
    ("Cx", UNKNOWN_OP),
    ("COx", UNKNOWN_OP),
    ("CONx", UNKNOWN_OP),
    ("CONNx", UNKNOWN_OP),
    ("CONNEx", UNKNOWN_OP),
    ("CONNECx", UNKNOWN_OP),
    ("CONNECT \r\n", ""),
    ("PUx", UNKNOWN_OP),
    ("PUB foo\r\n", ""),
    ("PUB  \r\n", ""),
    ("PUB foo bar       \r\n", ""),
    ("PUB foo 2\r\nok \r\n", UNKNOWN_OP),
    ("PUB foo 2\r\nok\r \n", UNKNOWN_OP),
    ("Sx", UNKNOWN_OP),
    ("SUx", UNKNOWN_OP),
    ("SUB\r\n", UNKNOWN_OP),
    ("SUB  \r\n", ""),
    ("SUB foo\r\n", ""),
    ("SUB foo bar baz 22\r\n", ""),
    ("Ux", UNKNOWN_OP),
    ("UNx", UNKNOWN_OP),
    ("UNSx", UNKNOWN_OP),
    ("UNSUx", UNKNOWN_OP),
    ("UNSUBx", UNKNOWN_OP),
    ("UNSUBUNSUB 1\r\n", UNKNOWN_OP),
    ("UNSUB_2\r\n", UNKNOWN_OP),
    ("UNSUB_UNSUB_UNSUB 2\r\n", UNKNOWN_OP),
    ("UNSUB_\t2\r\n", UNKNOWN_OP),
    ("UNSUB\r\n", UNKNOWN_OP),
    ("UNSUB \r\n", ""),
    ("UNSUB          \t       \r\n", ""),
    ("Ix", UNKNOWN_OP),
    ("INx", UNKNOWN_OP),
    ("INFx", UNKNOWN_OP),
    ("INFO  \r\n", ""),
    ("Mx", UNKNOWN_OP),
    ("MSx", UNKNOWN_OP),
    ("MSGx", UNKNOWN_OP),
    ("MSG  \r\n", UNKNOWN_OP),
];

async fn should_fail(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut failures = Vec::new();
    for (proto, want) in SHOULD_FAIL {
        let mut c = plain(&ctx, &s).await?;
        c.send(proto).await?;
        let out = closed_with(&mut c).await?;
        ctx.observe(&format!("{proto:?}"), &out);
        if out != *want {
            failures.push(format!("{proto:?}: got {out:?}, want {want:?}"));
        }
    }
    ensure!(failures.is_empty(), "{}", failures.join("; "));
    Ok(())
}

async fn max_control_line(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("max_control_line: 8\n"))
        .await?;
    let pub_op = b"PUB foo.bar.baz 2\r\nok\r\n";
    // Even CONNECT would be too long here; a client may talk without it.
    for (case, bytes) in [("partial", &pub_op[..14]), ("whole", &pub_op[..])] {
        let (mut c, _) = ctx.raw(&s).await?;
        c.flush().await?;
        c.send_bytes(bytes).await?;
        let out = closed_with(&mut c).await?;
        ctx.observe(case, &out);
        check_eq!(out, "-ERR 'maximum control line exceeded'\r\n");
    }
    Ok(())
}

/// TestPingSentToTLSConnection: a TLS client that never answers gets the
/// server's PINGs over TLS, then the stale-connection error.
async fn ping_tls(ctx: Ctx) -> Result<()> {
    let s = super::tls::start(
        &ctx,
        r#"
ping_interval: "50ms"
ping_max: 2
tls {
  cert_file: "server-cert.pem"
  key_file: "server-key.pem"
  ca_file: "ca.pem"
  timeout: 5
}
"#,
    )
    .await?;
    let (mut c, _, _) =
        crate::kit::tls_raw::connect(&s.addr(), &crate::kit::tls_raw::TlsOptions::default())
            .await?;
    c.send("CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":true}\r\n")
        .await?;
    expect_stale(&ctx, &mut c, 2).await
}
