//! Scenarios from server/client_test.go: one client connection's protocol as
//! seen from outside: CONNECT options, INFO, PUB/SUB/UNSUB, queue groups,
//! headers, no-responders, echo, slow consumers, auth timeout, permissions.

use crate::check_eq;
use crate::kit::{global_subs, quiet, Ctx, Msg, Op, RawClient, Server, ServerSpec, QUIET};
use crate::registry::{Need, Scenario};
use anyhow::{bail, ensure, Context, Result};
use futures::FutureExt;
use std::collections::BTreeMap;
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("routes/reserved-reply-client", |c| {
            reserved_reply(c).boxed()
        })
        .full("TestNewRouteReservedReply"),
        Scenario::new("core/client-create-and-info", |c| {
            create_and_info(c).boxed()
        })
        .full("TestClientCreateAndInfo"),
        Scenario::new("core/client-server-header-support", |c| {
            server_header_support(c).boxed()
        })
        .full("TestServerHeaderSupport"),
        Scenario::new("core/client-header-support", |c| {
            client_header_support(c).boxed()
        })
        .full("TestClientHeaderSupport"),
        Scenario::new("core/client-no-responders", |c| no_responders(c).boxed())
            .full("TestClientNoResponderSupport"),
        Scenario::new("core/client-header-deliver-msg", |c| {
            header_deliver_msg(c).boxed()
        })
        .full("TestClientHeaderDeliverMsg"),
        Scenario::new("core/client-header-deliver-stripped", |c| {
            header_deliver_stripped(c).boxed()
        })
        .full("TestClientHeaderDeliverStrippedMsg")
        .full("TestClientHeaderDeliverQueueSubStrippedMsg"),
        Scenario::new("core/client-connect-options", |c| {
            connect_options(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestClientConnect"),
        Scenario::new("core/client-connect-proto", |c| connect_proto(c).boxed())
            .full("TestClientConnectProto"),
        Scenario::new("core/client-ping", |c| ping(c).boxed()).full("TestClientPing"),
        Scenario::new("core/client-simple-pubsub", |c| simple_pubsub(c).boxed())
            .full("TestClientSimplePubSub"),
        Scenario::new("core/client-pubsub-no-echo", |c| pubsub_no_echo(c).boxed())
            .full("TestClientPubSubNoEcho"),
        Scenario::new("core/client-pubsub-with-reply", |c| {
            pubsub_with_reply(c).boxed()
        })
        .full("TestClientSimplePubSubWithReply")
        .full("TestClientNoBodyPubSubWithReply"),
        Scenario::new("core/client-pub-queue-sub", |c| pub_queue_sub(c).boxed())
            .full("TestClientPubWithQueueSub"),
        Scenario::new("core/client-queue-sub-no-echo", |c| {
            queue_sub_no_echo(c).boxed()
        })
        .full("TestClientPubWithQueueSubNoEcho"),
        Scenario::new("core/client-unsub", |c| unsub(c).boxed()).full("TestClientUnSub"),
        Scenario::new("core/client-unsub-max", |c| unsub_max(c).boxed()).full("TestClientUnSubMax"),
        Scenario::new("core/client-auto-unsub-removes-sub", |c| {
            auto_unsub_removes_sub(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestClientAutoUnsubExactReceived")
        .full("TestClientUnsubAfterAutoUnsub"),
        Scenario::new("core/client-remove-subs-on-disconnect", |c| {
            remove_subs_on_disconnect(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestClientRemoveSubsOnDisconnect")
        .full("TestClientMapRemoval")
        .partial("TestClientDoesNotAddSubscriptionsWhenConnectionClosed"),
        Scenario::new("core/client-close-very-early", |c| {
            close_very_early(c).boxed()
        })
        .needs(Need::Monitoring)
        .partial("TestCloseConnectionVeryEarly"),
        Scenario::new("core/client-auth-timeout", |c| auth_timeout(c).boxed())
            .full("TestAuthorizationTimeout"),
        Scenario::new("core/client-unsub-race", |c| unsub_race(c).boxed()).full("TestUnsubRace"),
        Scenario::new("core/client-wildcard-chars-in-literal", |c| {
            wildcard_chars_in_literal(c).boxed()
        })
        .full("TestWildcardCharsInLiteralSubjectWorks"),
        Scenario::new("core/client-trace-msg-len", |c| trace_msg_len(c).boxed())
            .full("TestTraceMsg"),
        Scenario::new("core/client-trace-race", |c| trace_race(c).boxed())
            .full("TestClientTraceRace"),
        Scenario::new("core/client-max-pending-large", |c| {
            max_pending_large(c).boxed()
        })
        .full("TestClientMaxPending"),
        Scenario::new("core/client-close-tls", |c| client_close_tls(c).boxed())
            .partial("TestClientCloseTLSConnection"),
        Scenario::new("core/client-slow-consumer-without-connect", |c| {
            slow_consumer_without_connect(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestClientSlowConsumerWithoutConnect")
        .partial("TestNoClientLeakOnSlowConsumer"),
        Scenario::new("core/client-no-slow-consumer-if-connect-expected", |c| {
            no_slow_consumer_if_connect_expected(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestClientNoSlowConsumerIfConnectExpected"),
        Scenario::new("core/client-deny-sys-group-sub", |c| {
            deny_sys_group_sub(c).boxed()
        })
        .full("TestClientDenySysGroupSub"),
        Scenario::new("core/client-gw-reply-prefix", |c| {
            gw_reply_prefix(c).boxed()
        })
        .full("TestClientCheckUseOfGWReplyPrefix"),
        Scenario::new("core/client-auth-required-no-auth-user", |c| {
            auth_required_no_auth_user(c).boxed()
        })
        .full("TestClientAuthRequiredNoAuthUser"),
        Scenario::new("core/client-queue-subscribe-permissions", |c| {
            queue_subscribe_permissions(c).boxed()
        })
        .full("TestQueueSubscribePermissions"),
        Scenario::new("core/client-ipv6-address", |c| ipv6_address(c).boxed())
            .full("TestClientIPv6Address"),
        Scenario::new("core/client-response-permissions", |c| {
            response_permissions(c).boxed()
        })
        .full("TestResponsePermissions"),
    ]
}

// ---------------------------------------------------------------- helpers

/// One line per operation, deterministic, for observations.
fn show(op: &Op) -> String {
    match op {
        Op::Msg(m) => show_msg(m),
        Op::Ok => "+OK".into(),
        Op::Err(e) => format!("-ERR {e}"),
        Op::Info(_) => "INFO".into(),
        Op::Ping => "PING".into(),
        Op::Pong => "PONG".into(),
    }
}

fn show_msg(m: &Msg) -> String {
    let mut s = format!("MSG {} {}", m.subject, m.sid);
    if let Some(r) = &m.reply {
        s.push_str(&format!(" reply={r}"));
    }
    if let Some(h) = &m.headers {
        s.push_str(&format!(" hdr={:?}", String::from_utf8_lossy(h)));
    }
    s.push_str(&format!(" {:?}", String::from_utf8_lossy(&m.payload)));
    s
}

fn show_all(ops: &[Op]) -> String {
    ops.iter().map(show).collect::<Vec<_>>().join(" | ")
}

/// Polls a /varz or /connz number until it equals `want` (within 3 s).
async fn wait_json_num(ctx: &Ctx, s: &Server, path: &str, field: &str, want: i64) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let v = ctx.http_json(s, path).await?;
        let got = v[field].as_i64();
        if got == Some(want) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("{path} {field}: got {got:?}, want {want}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A number a monitoring endpoint reports now.
async fn num(ctx: &Ctx, s: &Server, path: &str, field: &str) -> Result<i64> {
    let v = ctx.http_json(s, path).await?;
    v[field]
        .as_i64()
        .with_context(|| format!("{path} without {field}: {v}"))
}

/// Polls /subsz?acc=$G until it has `want` subscriptions (within 3 s).
async fn wait_global_subs(ctx: &Ctx, s: &Server, want: i64) -> Result<()> {
    wait_json_num(ctx, s, "/subsz?acc=$G", "num_subscriptions", want).await
}

const MONITOR: &str = "http_port: {{http_port}}\n";

// ---------------------------------------------------------------- INFO, headers

async fn create_and_info(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let (_c, info) = ctx.raw(&s).await?;
    check_eq!(info["max_payload"].as_i64(), Some(1024 * 1024));
    check_eq!(info["auth_required"].as_bool().unwrap_or(false), false);
    check_eq!(info["tls_required"].as_bool().unwrap_or(false), false);
    check_eq!(info["port"].as_u64(), Some(s.ports().client as u64));
    check_eq!(info["headers"].as_bool(), Some(true));
    check_eq!(info["proto"].as_i64(), Some(1));
    ensure!(
        info["client_id"].as_u64().is_some(),
        "INFO has no client_id: {info}"
    );
    let mut keys: Vec<&String> = info.as_object().context("INFO object")?.keys().collect();
    keys.sort();
    ctx.observe("info-keys", format!("{keys:?}"));
    ctx.observe_json("info", &info);
    Ok(())
}

async fn server_header_support(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let (_c, info) = ctx.raw(&s).await?;
    check_eq!(info["headers"].as_bool(), Some(true));
    let s2 = ctx
        .server(ServerSpec::new().conf("no_header_support: true\n"))
        .await?;
    let (_c2, info2) = ctx.raw(&s2).await?;
    check_eq!(info2["headers"].as_bool().unwrap_or(false), false);
    ctx.observe(
        "headers",
        format!("{} {}", info["headers"], info2["headers"]),
    );
    Ok(())
}

async fn client_header_support(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    // Headers not announced in CONNECT: an HPUB ends the connection.
    let (mut c, _) = ctx.raw(&s).await?;
    c.send("CONNECT {}\r\nHPUB foo 0 2\r\nok\r\n").await?;
    let rest = c.expect_closed(Duration::from_secs(3)).await?;
    check_eq!(rest, "+OK\r\n");
    ctx.observe("no-headers-connect", rest);
    // Announced: accepted.
    let (mut c, _) = ctx.raw(&s).await?;
    c.send("CONNECT {\"headers\":true,\"verbose\":false}\r\nHPUB foo 0 2\r\nok\r\n")
        .await?;
    let ops = c.ops_until_pong().await?;
    check_eq!(ops.len(), 0);
    // A server without header support refuses even when the client asks.
    let s2 = ctx
        .server(ServerSpec::new().conf("no_header_support: true\n"))
        .await?;
    let (mut c, _) = ctx.raw(&s2).await?;
    c.send("CONNECT {\"headers\":true,\"verbose\":false}\r\nHPUB foo 0 2\r\nok\r\n")
        .await?;
    let rest = c.expect_closed(Duration::from_secs(3)).await?;
    check_eq!(rest, "");
    ctx.observe("server-without-headers", rest);
    Ok(())
}

async fn no_responders(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let (mut c, _) = ctx.raw(&s).await?;
    c.send("CONNECT {\"no_responders\":true}\r\n").await?;
    let err = c.expect_err().await?;
    check_eq!(err, "no responders requires headers support");
    c.expect_closed(Duration::from_secs(3)).await?;
    ctx.observe("without-headers", &err);

    let (mut c, _) = ctx.raw(&s).await?;
    c.send("CONNECT {\"headers\":true,\"no_responders\":true,\"verbose\":false}\r\nSUB reply 1\r\nPUB foo reply 2\r\nok\r\n")
        .await?;
    let m = c.read_msgs(1).await?.remove(0);
    check_eq!(m.subject, "reply");
    check_eq!(m.sid, "1");
    check_eq!(m.headers.clone(), Some(b"NATS/1.0 503\r\n\r\n".to_vec()));
    check_eq!(m.payload.len(), 0);
    ctx.observe("status", show_msg(&m));
    Ok(())
}

async fn header_deliver_msg(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let (mut c, _) = ctx.raw(&s).await?;
    c.send("CONNECT {\"headers\":true,\"verbose\":false}\r\nSUB foo 1\r\nHPUB foo 12 14\r\nName:Derek\r\nOK\r\n")
        .await?;
    let g = c
        .expect(r"HMSG foo 1 (\d+) (\d+)\r\nName:Derek\r\nOK\r\n")
        .await?;
    check_eq!((g[0].as_str(), g[1].as_str()), ("12", "14"));
    ctx.observe("hmsg", format!("HMSG foo 1 {} {}", g[0], g[1]));
    c.flush().await?;
    Ok(())
}

async fn header_deliver_stripped(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    // Two subscribers that did not announce headers: a plain one and a queue one.
    let mut plain = ctx.raw_connected(&s, r#"{"verbose":false}"#).await?;
    plain.send("SUB foo 1\r\n").await?;
    plain.flush().await?;
    let mut queue = ctx.raw_connected(&s, r#"{"verbose":false}"#).await?;
    queue.send("SUB foo bar 1\r\n").await?;
    queue.flush().await?;
    let (mut p, _) = ctx.raw(&s).await?;
    p.send(
        "CONNECT {\"headers\":true,\"verbose\":false}\r\nHPUB foo 12 14\r\nName:Derek\r\nOK\r\n",
    )
    .await?;
    p.flush().await?;
    for (name, c) in [("plain", &mut plain), ("queue", &mut queue)] {
        c.expect(r"MSG foo 1 2\r\nOK\r\n").await?;
        // Nothing else was sent: the next thing is the PONG.
        let ops = c.ops_until_pong().await?;
        check_eq!(ops.len(), 0);
        ctx.observe(name, "MSG foo 1 2 OK");
    }
    Ok(())
}

// ---------------------------------------------------------------- CONNECT

/// Subscribes to `subject`, publishes on it and on a wildcard subject, and
/// shows what came back before the PONG: +OK for each operation when
/// verbose, the own message when echo is on, -ERR for the wildcard publish
/// when pedantic.
async fn options_shown(c: &mut RawClient, subject: &str) -> Result<String> {
    c.send(&format!(
        "SUB {subject} 1\r\nPUB {subject} 2\r\nok\r\nPUB {subject}.* 2\r\nok\r\n"
    ))
    .await?;
    Ok(show_all(&c.ops_until_pong().await?))
}

async fn connect_options(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(MONITOR)).await?;
    // verbose, pedantic, echo off.
    let (mut c, _) = ctx.raw(&s).await?;
    c.send(
        "CONNECT {\"verbose\":true,\"pedantic\":true,\"tls_required\":false,\"echo\":false}\r\n",
    )
    .await?;
    c.expect_ok().await?;
    c.send("SUB foo 1\r\nPUB foo 2\r\nok\r\nPUB foo.* 2\r\nok\r\n")
        .await?;
    let ops = c.ops_until_pong().await?;
    let seen = show_all(&ops);
    check_eq!(seen, "+OK | +OK | -ERR Invalid Publish Subject | +OK");
    ctx.observe("verbose-pedantic-noecho", seen);
    // user/pass, name and auth_token are accepted by a server without auth,
    // and every option not given keeps its default: verbose, pedantic and
    // echo on. (CONNECT, the user or token /connz shows, the name.)
    let cases = [
        (r#"{"user":"derek","pass":"foo"}"#, "derek", ""),
        (
            r#"{"user":"derek","pass":"foo","name":"router"}"#,
            "derek",
            "router",
        ),
        (
            r#"{"auth_token":"YZZ222","name":"router"}"#,
            "YZZ222",
            "router",
        ),
    ];
    let mut open = Vec::new();
    for (i, (connect, user, name)) in cases.into_iter().enumerate() {
        let (mut c, info) = ctx.raw(&s).await?;
        let cid = info["client_id"]
            .as_u64()
            .context("INFO without client_id")?;
        c.send(&format!("CONNECT {connect}\r\n")).await?;
        c.expect_ok().await?;
        let seen = options_shown(&mut c, &format!("case{i}")).await?;
        check_eq!(
            seen,
            format!("+OK | +OK | MSG case{i} 1 \"ok\" | -ERR Invalid Publish Subject | +OK")
        );
        ctx.observe(connect, seen);
        open.push((c, cid, user, name));
    }
    // What the server kept of each CONNECT: the user or the token as
    // authorized_user, and the name, on /connz for those very connections.
    let connz = ctx.http_json(&s, "/connz?auth=true").await?;
    let conns = connz["connections"]
        .as_array()
        .context("connz connections")?;
    let mut kept = Vec::new();
    for (_, cid, user, name) in &open {
        let conn = conns
            .iter()
            .find(|c| c["cid"].as_u64() == Some(*cid))
            .with_context(|| format!("cid {cid} not in /connz: {connz}"))?;
        let got = (
            conn["authorized_user"].as_str().unwrap_or(""),
            conn["name"].as_str().unwrap_or(""),
        );
        check_eq!(got, (*user, *name));
        kept.push(format!("user={} name={}", got.0, got.1));
    }
    ctx.observe("connz auth", kept.join(" | "));
    // The password is parsed too: a server that requires derek/foo takes
    // that CONNECT and refuses another password.
    let auth = ctx
        .server(ServerSpec::new().conf("authorization { user: derek, password: foo }\n"))
        .await?;
    let mut answers = Vec::new();
    for pass in ["foo", "bar"] {
        let (mut c, _) = ctx.raw(&auth).await?;
        c.send(&format!(
            "CONNECT {{\"verbose\":true,\"user\":\"derek\",\"pass\":\"{pass}\"}}\r\nPING\r\n"
        ))
        .await?;
        answers.push(show(&c.read_op().await?));
    }
    ctx.observe("pass foo, bar", answers.join(" | "));
    check_eq!(
        answers,
        vec![
            "+OK".to_string(),
            "-ERR Authorization Violation".to_string()
        ]
    );
    Ok(())
}

async fn connect_proto(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    // Protocol not given (0, the original protocol).
    let (mut zero, _) = ctx.raw(&s).await?;
    zero.send("CONNECT {\"verbose\":true,\"pedantic\":true,\"tls_required\":false}\r\n")
        .await?;
    zero.expect_ok().await?;
    let seen = options_shown(&mut zero, "zero").await?;
    // verbose, echo and pedantic.
    check_eq!(
        seen,
        "+OK | +OK | MSG zero 1 \"ok\" | -ERR Invalid Publish Subject | +OK"
    );
    ctx.observe("protocol 0", seen);
    // The same, then again with protocol 1 (ClientProtoInfo).
    let (mut one, _) = ctx.raw(&s).await?;
    one.send("CONNECT {\"verbose\":true,\"pedantic\":true,\"tls_required\":false}\r\n")
        .await?;
    one.expect_ok().await?;
    one.send(
        "CONNECT {\"verbose\":true,\"pedantic\":true,\"tls_required\":false,\"protocol\":1}\r\n",
    )
    .await?;
    one.expect_ok().await?;
    let seen = options_shown(&mut one, "one").await?;
    check_eq!(
        seen,
        "+OK | +OK | MSG one 1 \"ok\" | -ERR Invalid Publish Subject | +OK"
    );
    ctx.observe("protocol 1", seen);
    // An unknown protocol is refused.
    let (mut c, _) = ctx.raw(&s).await?;
    c.send("CONNECT {\"protocol\":22}\r\n").await?;
    let err = c.expect_err().await?;
    check_eq!(err, "invalid client protocol");
    c.expect_closed(Duration::from_secs(3)).await?;
    ctx.observe("bad-protocol", err);
    // Only a protocol 1 client gets asynchronous INFO updates: entering lame
    // duck mode is announced to it, not to the protocol 0 client.
    s.signal(nix::sys::signal::Signal::SIGUSR2)?;
    let info = one.expect_info().await?;
    ctx.observe("protocol 1 async INFO ldm", info["ldm"].to_string());
    check_eq!(info["ldm"], serde_json::json!(true));
    let quiet_zero = zero.expect_nothing(Duration::from_millis(300)).await;
    ctx.observe(
        "protocol 0 async INFO",
        match &quiet_zero {
            Ok(()) => "none".to_string(),
            Err(e) => format!("{e:#}"),
        },
    );
    quiet_zero?;
    Ok(())
}

async fn ping(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let (mut c, _) = ctx.raw(&s).await?;
    c.send("PING\r\n").await?;
    let answer = c.read_op().await?;
    ctx.observe("answer", show(&answer));
    check_eq!(answer, Op::Pong);
    Ok(())
}

// ---------------------------------------------------------------- PUB/SUB

async fn simple_pubsub(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = quiet(&ctx, &s).await?;
    c.send("SUB foo 1\r\nPUB foo 5\r\nhello\r\n").await?;
    let msgs = c.msgs_until_pong().await?;
    check_eq!(msgs.len(), 1);
    check_eq!(show_msg(&msgs[0]), "MSG foo 1 \"hello\"");
    ctx.observe("msg", show_msg(&msgs[0]));
    Ok(())
}

async fn pubsub_no_echo(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let (mut c, _) = ctx.raw(&s).await?;
    c.send("CONNECT {\"echo\":false,\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 5\r\nhello\r\n")
        .await?;
    let ops = c.ops_until_pong().await?;
    check_eq!(ops.len(), 0);
    ctx.observe("delivered", ops.len().to_string());
    Ok(())
}

async fn pubsub_with_reply(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = quiet(&ctx, &s).await?;
    c.send("SUB foo 1\r\nPUB foo bar 5\r\nhello\r\nPUB foo bar 0\r\n\r\n")
        .await?;
    let msgs = c.msgs_until_pong().await?;
    let seen: Vec<String> = msgs.iter().map(show_msg).collect();
    check_eq!(
        seen,
        vec![
            "MSG foo 1 reply=bar \"hello\"".to_string(),
            "MSG foo 1 reply=bar \"\"".to_string()
        ]
    );
    ctx.observe("msgs", seen.join(" | "));
    Ok(())
}

async fn pub_queue_sub(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = quiet(&ctx, &s).await?;
    c.send("SUB foo g1 1\r\nSUB foo g1 2\r\n").await?;
    c.send(&"PUB foo bar 5\r\nhello\r\n".repeat(100)).await?;
    let msgs = c.msgs_until_pong().await?;
    check_eq!(msgs.len(), 100);
    let mut per_sid: BTreeMap<String, usize> = BTreeMap::new();
    for m in &msgs {
        check_eq!(m.payload, b"hello".to_vec());
        *per_sid.entry(m.sid.clone()).or_default() += 1;
    }
    for sid in ["1", "2"] {
        let n = per_sid.get(sid).copied().unwrap_or(0);
        ensure!(n >= 20, "sid {sid} got {n} of 100, want at least 20");
    }
    ctx.observe("total", msgs.len().to_string());
    ctx.observe(
        "sids",
        per_sid.keys().cloned().collect::<Vec<_>>().join(","),
    );
    Ok(())
}

async fn queue_sub_no_echo(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c1 = ctx
        .raw_connected(&s, r#"{"verbose":false,"echo":false}"#)
        .await?;
    c1.send("SUB foo bar 1\r\n").await?;
    c1.flush().await?;
    let mut c2 = quiet(&ctx, &s).await?;
    c2.send("SUB foo bar 1\r\n").await?;
    c2.flush().await?;
    c1.send(&"PUB foo 5\r\nHello\r\n".repeat(100)).await?;
    let own = c1.msgs_until_pong().await?;
    check_eq!(own.len(), 0);
    let got = c2.read_msgs(100).await?;
    check_eq!(got.len(), 100);
    let more = c2.msgs_until_pong().await?;
    check_eq!(more.len(), 0);
    ctx.observe("publisher-got", own.len().to_string());
    ctx.observe("other-member-got", got.len().to_string());
    Ok(())
}

async fn unsub(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = quiet(&ctx, &s).await?;
    c.send("SUB foo 1\r\nSUB foo 2\r\nUNSUB 1\r\nPUB foo bar 5\r\nhello\r\n")
        .await?;
    let msgs = c.msgs_until_pong().await?;
    let seen: Vec<String> = msgs.iter().map(show_msg).collect();
    check_eq!(seen, vec!["MSG foo 2 reply=bar \"hello\"".to_string()]);
    ctx.observe("msgs", seen.join(" | "));
    Ok(())
}

async fn unsub_max(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = quiet(&ctx, &s).await?;
    c.send("SUB foo 1\r\nUNSUB 1 5\r\n").await?;
    c.send(&"PUB foo bar 5\r\nhello\r\n".repeat(10)).await?;
    let msgs = c.msgs_until_pong().await?;
    check_eq!(msgs.len(), 5);
    for m in &msgs {
        check_eq!(m.sid, "1");
        check_eq!(m.payload, b"hello".to_vec());
    }
    ctx.observe("delivered", msgs.len().to_string());
    ctx.observe(
        "msgs",
        msgs.iter().map(show_msg).collect::<Vec<_>>().join(" | "),
    );
    Ok(())
}

async fn auto_unsub_removes_sub(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(MONITOR)).await?;
    let base = global_subs(&ctx, &s).await?;
    let mut c = quiet(&ctx, &s).await?;
    // Reached its maximum: the subscription is gone.
    c.send("SUB foo 1\r\nUNSUB 1 1\r\nPUB foo bar 2\r\nok\r\n")
        .await?;
    let msgs = c.msgs_until_pong().await?;
    let left = global_subs(&ctx, &s).await? - base;
    ctx.observe(
        "at max",
        format!(
            "{} | subs {left}",
            msgs.iter().map(show_msg).collect::<Vec<_>>().join(" | ")
        ),
    );
    check_eq!(msgs.len(), 1);
    check_eq!(global_subs(&ctx, &s).await? - base, 0);
    c.send("PUB foo 2\r\nok\r\n").await?;
    let after = c.msgs_until_pong().await?.len();
    ctx.observe("delivered after max", after.to_string());
    check_eq!(after, 0);
    // An UNSUB after an auto-unsubscribe removes it at once.
    c.send("SUB foo 2\r\nUNSUB 2 1\r\nUNSUB 2\r\n").await?;
    let ops = c.ops_until_pong().await?;
    let left = global_subs(&ctx, &s).await? - base;
    ctx.observe(
        "unsub after auto-unsub",
        format!("ops {} | subs {left}", show_all(&ops)),
    );
    check_eq!(ops.len(), 0);
    check_eq!(global_subs(&ctx, &s).await? - base, 0);
    c.send("PUB foo 2\r\nok\r\n").await?;
    let after = c.msgs_until_pong().await?.len();
    ctx.observe("delivered after unsub", after.to_string());
    check_eq!(after, 0);
    Ok(())
}

async fn remove_subs_on_disconnect(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(MONITOR)).await?;
    let base = global_subs(&ctx, &s).await?;
    let mut c = quiet(&ctx, &s).await?;
    c.send("SUB foo 1\r\nSUB bar 2\r\n").await?;
    c.flush().await?;
    let subs = global_subs(&ctx, &s).await? - base;
    ctx.observe("subs", subs.to_string());
    check_eq!(global_subs(&ctx, &s).await? - base, 2);
    wait_json_num(&ctx, &s, "/connz", "num_connections", 1).await?;
    drop(c);
    wait_global_subs(&ctx, &s, base).await?;
    wait_json_num(&ctx, &s, "/connz", "num_connections", 0).await?;
    let left = (
        global_subs(&ctx, &s).await? - base,
        num(&ctx, &s, "/connz", "num_connections").await?,
    );
    ctx.observe("after close", format!("{left:?}"));
    // A client that sends SUBs and closes right away leaves nothing behind.
    let (mut c, _) = ctx.raw(&s).await?;
    c.send("CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nSUB bar 2\r\n")
        .await?;
    drop(c);
    wait_global_subs(&ctx, &s, base).await?;
    wait_json_num(&ctx, &s, "/connz", "num_connections", 0).await?;
    let left = (
        global_subs(&ctx, &s).await? - base,
        num(&ctx, &s, "/connz", "num_connections").await?,
    );
    ctx.observe("after early close", format!("{left:?}"));
    Ok(())
}

async fn close_very_early(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(MONITOR)).await?;
    for _ in 0..5 {
        let c = RawClient::connect(&s.addr()).await?;
        drop(c);
    }
    wait_json_num(&ctx, &s, "/connz", "num_connections", 0).await?;
    let left = num(&ctx, &s, "/connz", "num_connections").await?;
    ctx.observe("connections after", left.to_string());
    // The server still serves.
    let mut c = quiet(&ctx, &s).await?;
    c.send("PING\r\n").await?;
    let answer = c.read_op().await?;
    ctx.observe("then a client's PING", show(&answer));
    check_eq!(answer, Op::Pong);
    let now = num(&ctx, &s, "/connz", "num_connections").await?;
    ctx.observe("connections with it", now.to_string());
    check_eq!(now, 1);
    Ok(())
}

async fn auth_timeout(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("authorization { token: my_token, timeout: 0.4 }\n"))
        .await?;
    let (mut c, info) = ctx.raw(&s).await?;
    check_eq!(info["auth_required"].as_bool(), Some(true));
    let err = c.expect_err().await?;
    check_eq!(err, "Authentication Timeout");
    c.expect_closed(Duration::from_secs(3)).await?;
    ctx.observe("err", err);
    Ok(())
}

async fn unsub_race(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut sub = quiet(&ctx, &s).await?;
    sub.send("SUB foo 1\r\n").await?;
    sub.flush().await?;
    let mut publ = quiet(&ctx, &s).await?;
    let burst = "PUB foo 5\r\nhello\r\n".repeat(1000);
    for _ in 0..5 {
        publ.send(&burst).await?;
    }
    sub.send("UNSUB 1\r\n").await?;
    for _ in 0..5 {
        publ.send(&burst).await?;
    }
    publ.flush().await?;
    // Whatever arrived before the UNSUB was processed, nothing comes after.
    let got = sub.msgs_until_pong().await?;
    ensure!(got.len() <= 10_000, "got {} messages", got.len());
    publ.send("PUB foo 5\r\nhello\r\n").await?;
    publ.flush().await?;
    let after = sub.msgs_until_pong().await?;
    ctx.observe("delivered after UNSUB", after.len().to_string());
    check_eq!(after.len(), 0);
    Ok(())
}

async fn wildcard_chars_in_literal(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = quiet(&ctx, &s).await?;
    let subj = "foo.bar,*,>,baz";
    for sid in 1..=2 {
        c.send(&format!("SUB {subj} {sid}\r\n")).await?;
        let ops = c.ops_until_pong().await?;
        check_eq!(ops.len(), 0);
        c.send(&format!("PUB {subj} 3\r\nmsg\r\n")).await?;
        let msgs = c.msgs_until_pong().await?;
        check_eq!(msgs.len(), 1);
        check_eq!(msgs[0].subject, subj);
        ctx.observe(&format!("round{sid}"), show_msg(&msgs[0]));
        c.send(&format!("UNSUB {sid}\r\n")).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- tracing

async fn trace_msg_len(ctx: Ctx) -> Result<()> {
    for (limit, payload, want) in [
        (10, "normal", r#"<<- MSG_PAYLOAD: ["normal"]"#),
        (10, "over length", r#"<<- MSG_PAYLOAD: ["over lengt..."]"#),
        (
            0,
            "unlimited length",
            r#"<<- MSG_PAYLOAD: ["unlimited length"]"#,
        ),
        (
            -1,
            "negative max traced msg len",
            r#"<<- MSG_PAYLOAD: ["negative max traced msg len"]"#,
        ),
    ] {
        let s = ctx
            .server(
                ServerSpec::new()
                    .conf(&format!("max_traced_msg_len: {limit}\n"))
                    .args(["-V"]),
            )
            .await?;
        let mut c = quiet(&ctx, &s).await?;
        c.send(&format!("PUB foo {}\r\n{payload}\r\n", payload.len()))
            .await?;
        c.flush().await?;
        let line = s
            .wait_for_log("MSG_PAYLOAD", Duration::from_secs(3))
            .await?;
        let tail = line
            .split_once("<<- ")
            .map(|(_, t)| format!("<<- {t}"))
            .unwrap_or_default();
        check_eq!(tail, want);
        ctx.observe(&format!("limit {limit}"), tail);
    }
    Ok(())
}

async fn trace_race(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().args(["-V"])).await?;
    let total = 10_000;
    let mut c1 = quiet(&ctx, &s).await?;
    c1.send("SUB foo 1\r\n").await?;
    c1.flush().await?;
    let mut c2 = quiet(&ctx, &s).await?;
    let burst_bar = "PUB bar 5\r\nhello\r\n".repeat(1000);
    let burst_foo = "PUB foo 5\r\nhello\r\n".repeat(1000);
    for _ in 0..total / 1000 {
        c1.send(&burst_bar).await?;
        c2.send(&burst_foo).await?;
    }
    c2.flush().await?;
    let msgs = c1.read_msgs(total).await?;
    check_eq!(msgs.len(), total);
    check_eq!(c1.msgs_until_pong().await?.len(), 0);
    ctx.observe("received", msgs.len().to_string());
    Ok(())
}

// ---------------------------------------------------------------- slow consumers

async fn max_pending_large(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("max_pending: 2147483648\n"))
        .await?;
    let mut c = quiet(&ctx, &s).await?;
    c.send("SUB foo 1\r\nPUB foo 3\r\nmsg\r\n").await?;
    let msgs = c.msgs_until_pong().await?;
    check_eq!(msgs.len(), 1);
    ctx.observe("msg", show_msg(&msgs[0]));
    Ok(())
}

async fn slow_consumer_without_connect(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(&format!("write_deadline: \"100ms\"\n{MONITOR}")))
        .await?;
    // Subscribes without CONNECT and never reads.
    let (mut lazy, _) = ctx.raw(&s).await?;
    lazy.send("SUB foo 1\r\n").await?;
    let mut publ = quiet(&ctx, &s).await?;
    publ.flush().await?;
    let payload = "x".repeat(10_000);
    let one = format!("PUB foo {}\r\n{payload}\r\n", payload.len());
    let burst = one.repeat(100);
    for _ in 0..100 {
        publ.send(&burst).await?;
    }
    publ.flush().await?;
    wait_json_num(&ctx, &s, "/varz", "slow_consumers", 1).await?;
    // The slow consumer is gone; only the publisher is left.
    wait_json_num(&ctx, &s, "/connz", "num_connections", 1).await?;
    let seen = (
        num(&ctx, &s, "/varz", "slow_consumers").await?,
        num(&ctx, &s, "/connz", "num_connections").await?,
    );
    ctx.observe("slow_consumers, connections", format!("{seen:?}"));
    Ok(())
}

async fn no_slow_consumer_if_connect_expected(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(&format!(
            "write_deadline: \"1ns\"\nauthorization {{ user: ivan, password: pass }}\n{MONITOR}"
        )))
        .await?;
    // The INFO cannot be written in time: the connection is closed, at once,
    // not when the 2 s authorization timeout would end it.
    let start = std::time::Instant::now();
    let mut c = RawClient::connect(&s.addr()).await?;
    let received = c.expect_closed(Duration::from_secs(3)).await?;
    let took = start.elapsed();
    ensure!(
        took < Duration::from_millis(1000),
        "closed after {took:?}: that is the authorization timeout, not the write deadline"
    );
    // It was a write deadline: /connz gives that reason for the closed
    // connection (once the server has recorded it), yet /varz counts no
    // slow consumer.
    let reasons: Vec<String> = crate::kit::eventually(Duration::from_secs(3), || async {
        let closed = ctx.http_json(&s, "/connz?state=closed").await?;
        let reasons: Vec<String> = closed["connections"]
            .as_array()
            .context("connz connections")?
            .iter()
            .map(|c| c["reason"].as_str().unwrap_or("").to_string())
            .collect();
        Ok((!reasons.is_empty()).then_some(reasons))
    })
    .await?;
    ctx.observe("closed reasons", reasons.join(" | "));
    check_eq!(reasons, vec!["Slow Consumer (Write Deadline)".to_string()]);
    let varz = ctx.http_json(&s, "/varz").await?;
    check_eq!(varz["slow_consumers"].as_i64(), Some(0));
    ctx.observe("slow_consumers", varz["slow_consumers"].to_string());
    ctx.observe(
        "client got an INFO",
        received.starts_with("INFO ").to_string(),
    );
    Ok(())
}

// ---------------------------------------------------------------- permissions

async fn deny_sys_group_sub(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = quiet(&ctx, &s).await?;
    c.send("SUB foo _sys_ 1\r\n").await?;
    let ops = c.ops_until_pong().await?;
    let seen = show_all(&ops);
    check_eq!(
        seen,
        "-ERR Permissions Violation for Subscription to \"foo\" using queue \"_sys_\""
    );
    ctx.observe("err", seen);
    Ok(())
}

async fn gw_reply_prefix(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = quiet(&ctx, &s).await?;
    c.send("SUB > 1\r\nPUB _GR_.anything 11\r\nshould fail\r\n")
        .await?;
    let first = show_all(&c.ops_until_pong().await?);
    check_eq!(
        first,
        "-ERR Permissions Violation for Publish to \"_GR_.anything\""
    );
    c.send("PUB foo _GR_.anything 11\r\nshould fail\r\n")
        .await?;
    let second = show_all(&c.ops_until_pong().await?);
    check_eq!(
        second,
        "-ERR Permissions Violation for Publish with Reply of \"_GR_.anything\""
    );
    ctx.observe("publish", first);
    ctx.observe("reply", second);
    Ok(())
}

async fn auth_required_no_auth_user(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(
            "accounts: {\n  A: { users: [ { user: user, password: pass } ] }\n}\nno_auth_user: user\n",
        ))
        .await?;
    let (mut c, info) = ctx.raw(&s).await?;
    check_eq!(info["auth_required"].as_bool().unwrap_or(false), false);
    c.send(&format!("CONNECT {QUIET}\r\n")).await?;
    c.flush().await?;
    ctx.observe("auth_required", info["auth_required"].to_string());
    Ok(())
}

/// (allow, deny, subject, queue, whether the SUB is accepted)
type PermCase = (
    &'static [&'static str],
    &'static [&'static str],
    &'static str,
    &'static str,
    bool,
);

async fn queue_subscribe_permissions(ctx: Ctx) -> Result<()> {
    let cases: &[PermCase] = &[
        (&["foo"], &[], "foo", "", true),
        (&["foo bar"], &[], "foo", "bar", true),
        (&["foo bar.*"], &[], "foo", "bar.fizz", true),
        (&["> bar.>"], &[], "whizz", "bar.bang", true),
        (&["> bar.>"], &[], "whizz", "", false),
        (&[">"], &["foo"], "foo", "bar", false),
        (&[">"], &["foo"], "bar", "", true),
        (&[">"], &[">"], "foo", "bar", false),
        (&["> v1.>"], &[], "foo", "v1.prod", true),
        (&[">"], &["> >"], "foo", "", true),
        (&[], &["> >"], "foo", "bar", false),
        (&[], &["> *.dev", "> *.stg"], "foo", "bar", true),
        (&["> *.dev", "> *.stg"], &[], "foo", "bar", false),
        (&[], &["foo >"], "foo", "bar", false),
        (&["foo bar"], &[], "foo", "fizz", false),
        (&["foo"], &[], "foo", "bar", true),
    ];
    let list = |xs: &[&str]| {
        xs.iter()
            .map(|x| format!("\"{x}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut users = String::new();
    for (i, (allow, deny, ..)) in cases.iter().enumerate() {
        let mut perm = Vec::new();
        if !allow.is_empty() {
            perm.push(format!("allow: [{}]", list(allow)));
        }
        if !deny.is_empty() {
            perm.push(format!("deny: [{}]", list(deny)));
        }
        users.push_str(&format!(
            "    {{ user: u{i}, password: p, permissions: {{ subscribe: {{ {} }} }} }}\n",
            perm.join(", ")
        ));
    }
    let conf = format!("authorization {{\n  users: [\n{users}  ]\n}}\n");
    let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
    for (i, (_, _, subject, queue, ok)) in cases.iter().enumerate() {
        let (mut c, _) = ctx.raw(&s).await?;
        c.send(&format!(
            "CONNECT {{\"verbose\":true,\"user\":\"u{i}\",\"pass\":\"p\"}}\r\n"
        ))
        .await?;
        c.expect_ok().await?;
        c.send(&format!("SUB {subject} {queue} 1\r\n")).await?;
        let seen = show_all(&c.ops_until_pong().await?);
        let want = if *ok {
            "+OK".to_string()
        } else if queue.is_empty() {
            format!("-ERR Permissions Violation for Subscription to \"{subject}\"")
        } else {
            format!(
                "-ERR Permissions Violation for Subscription to \"{subject}\" using queue \"{queue}\""
            )
        };
        check_eq!(seen, want);
        ctx.observe(&format!("case{i}"), seen);
    }
    Ok(())
}

async fn ipv6_address(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(
            ServerSpec::new()
                .own_listen()
                .conf("listen: \"0.0.0.0:{{client_port}}\"\n")
                .args(["-D"]),
        )
        .await?;
    let addr = format!("[::1]:{}", s.ports().client);
    let mut c = match RawClient::connect(&addr).await {
        Ok(c) => c,
        // Like the Go test, which is skipped when IPv6 is not available.
        Err(e) => bail!("IPv6 loopback not reachable here: {e:#}"),
    };
    c.expect_info().await?;
    c.send(&format!("CONNECT {QUIET}\r\n")).await?;
    c.flush().await?;
    let line = s
        .wait_for_log("Client connection created", Duration::from_secs(3))
        .await?;
    let after_level = line.split("] ").nth(2).unwrap_or(&line).to_string();
    ctx.observe("log", &after_level);
    ensure!(
        after_level.starts_with("[::1]:"),
        "client described as {after_level:?}, want it to start with [::1]:"
    );
    Ok(())
}

async fn response_permissions(ctx: Ctx) -> Result<()> {
    // (name, allow_responses block, what the second..tenth replies should do)
    let cases = [
        ("max_msgs", "{ max: 2, expires: \"1h\" }"),
        ("no_expire_limit", "{ max: 3, expires: \"-1ms\" }"),
        ("expire", "{ max: 1000, expires: \"100ms\" }"),
        ("no_msgs_limit", "{ max: -1, expires: \"100ms\" }"),
    ];
    for (name, perms) in cases {
        let conf = format!(
            "authorization {{\n  users: [\n    {{ user: service, password: pwd, permissions: {{ allow_responses: {perms} }} }}\n    {{ user: ivan, password: pwd }}\n  ]\n}}\n"
        );
        let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
        let mut svc = ctx
            .raw_connected(&s, r#"{"verbose":false,"user":"service","pass":"pwd"}"#)
            .await?;
        svc.send("SUB request 1\r\n").await?;
        svc.flush().await?;
        let mut nc = ctx
            .raw_connected(&s, r#"{"verbose":false,"user":"ivan","pass":"pwd"}"#)
            .await?;
        nc.send("SUB reply 1\r\nPUB request reply 4\r\nreq1\r\n")
            .await?;
        nc.flush().await?;
        let req = svc.read_msgs(1).await?.remove(0);
        let reply_to = req.reply.context("request without reply")?;
        let pub_reply = format!("PUB {reply_to} 5\r\nreply\r\n");
        let mut svc_ops = Vec::new();
        match name {
            "max_msgs" => {
                svc.send(&pub_reply.repeat(10)).await?;
                svc_ops.extend(svc.ops_until_pong().await?);
            }
            "no_expire_limit" => {
                svc.send(&pub_reply).await?;
                svc_ops.extend(svc.ops_until_pong().await?);
                tokio::time::sleep(Duration::from_millis(50)).await;
                svc.send(&pub_reply).await?;
                svc_ops.extend(svc.ops_until_pong().await?);
            }
            _ => {
                svc.send(&pub_reply).await?;
                svc_ops.extend(svc.ops_until_pong().await?);
                // The Go test waits past the 100ms expiry.
                tokio::time::sleep(Duration::from_millis(200)).await;
                svc.send(&pub_reply).await?;
                svc_ops.extend(svc.ops_until_pong().await?);
            }
        }
        let delivered = nc.msgs_until_pong().await?.len();
        ctx.observe(&format!("{name}-service"), show_all(&svc_ops));
        let want = match name {
            "max_msgs" => 2,
            "no_expire_limit" => 2,
            _ => 1,
        };
        check_eq!(delivered, want);
        ctx.observe(name, delivered.to_string());
    }
    Ok(())
}

/// TestClientCloseTLSConnection, from outside: a TLS client with a password
/// gets its PONG and shows in /connz from 127.0.0.1 with its TLS state;
/// once it stops reading while messages pile up for it, the server gives
/// up on the blocked TLS writes and closes it, and keeps serving.
async fn client_close_tls(ctx: Ctx) -> Result<()> {
    use crate::kit::tls_raw::{self, TlsOptions};
    let s = super::tls::start(
        &ctx,
        r#"
http: "127.0.0.1:{{http_port}}"
write_deadline: "1s"
tls {
  cert_file: "server-cert.pem"
  key_file: "server-key.pem"
  timeout: 100
}
authorization {
  user: derek
  password: foo
  timeout: 1
}
"#,
    )
    .await?;
    let (mut c, _, agreed) = tls_raw::connect(&s.addr(), &TlsOptions::default()).await?;
    c.send("CONNECT {\"user\":\"derek\",\"pass\":\"foo\",\"verbose\":false,\"pedantic\":false,\"tls_required\":true}\r\nPING\r\n").await?;
    c.expect_pong().await?;
    let connz = ctx.http_json(&s, "/connz").await?;
    let conn = connz["connections"][0].clone();
    let seen = serde_json::json!({
        "ip": conn.get("ip"),
        "tls_version_matches": conn["tls_version"] == serde_json::json!(agreed.version),
    });
    ctx.observe_json("connz", &seen);
    check_eq!(conn["ip"], serde_json::json!("127.0.0.1"));
    c.send("SUB foo 1\r\nPING\r\n").await?;
    c.expect_pong().await?;
    // The TLS client reads no more; a publisher fills its socket.
    let (mut p, _, _) = tls_raw::connect(&s.addr(), &TlsOptions::default()).await?;
    p.send("CONNECT {\"user\":\"derek\",\"pass\":\"foo\",\"verbose\":false}\r\n")
        .await
        .ok();
    let payload = "x".repeat(64 * 1024);
    let msg = format!("PUB foo {}\r\n{payload}\r\n", payload.len());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let closed = loop {
        for _ in 0..16 {
            if tokio::time::timeout(Duration::from_millis(200), p.send(&msg))
                .await
                .is_err()
            {
                break;
            }
        }
        let v = ctx.http_json(&s, "/connz?state=closed").await?;
        let found = v["connections"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["cid"] == conn["cid"]).cloned());
        if let Some(found) = found {
            break found;
        }
        if tokio::time::Instant::now() >= deadline {
            let open = ctx.http_json(&s, "/connz").await?;
            bail!("the blocked TLS client was not closed: {open}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let reason = closed["reason"].as_str().unwrap_or("").to_string();
    ctx.observe("closed reason", &reason);
    ensure!(
        reason.starts_with("Slow Consumer"),
        "closed for {reason:?}, not as a slow consumer"
    );
    drop(c);
    // The server still takes TLS clients.
    let (mut d, _, _) = tls_raw::connect(&s.addr(), &TlsOptions::default()).await?;
    d.send("CONNECT {\"user\":\"derek\",\"pass\":\"foo\",\"verbose\":false}\r\nPING\r\n")
        .await?;
    d.expect_pong().await?;
    Ok(())
}

/// A client may not publish with a reply subject the server reserves for
/// service imports (`_R_.`), JetStream acks (`$JS.ACK.` and more) and
/// gateway-routed replies (`_GR_.` and more): Go answers with a
/// permissions violation and keeps the connection. The bare JetStream and
/// gateway prefixes are not reserved.
async fn reserved_reply(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("cluster {\n  listen: 127.0.0.1:-1\n}\n"))
        .await?;
    for reply in ["_R_.foo", "_R_.", "$JS.ACK.x", "_GR_.x"] {
        let mut c = ctx
            .raw_connected(&s, "{\"verbose\":false,\"pedantic\":false}")
            .await?;
        c.send(&format!("SUB foo 1\r\nPUB foo {reply} 2\r\nok\r\nPING\r\n"))
            .await?;
        let err = c.expect_err().await?;
        check_eq!(
            err,
            format!("Permissions Violation for Publish with Reply of \"{reply}\"")
        );
        c.expect_pong().await?;
        ctx.observe(reply, &err);
    }
    for reply in ["$JS.ACK.", "_GR_."] {
        let mut c = ctx
            .raw_connected(&s, "{\"verbose\":false,\"pedantic\":false}")
            .await?;
        c.send(&format!("SUB foo 1\r\nPUB foo {reply} 2\r\nok\r\n"))
            .await?;
        let m = c.read_msgs(1).await?.remove(0);
        check_eq!(m.reply.as_deref(), Some(reply));
        ctx.observe(reply, format!("delivered with reply {:?}", m.reply));
    }
    Ok(())
}
