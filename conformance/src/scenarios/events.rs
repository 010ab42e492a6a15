//! Scenarios from server/events_test.go and test/system_services_test.go: the
//! system account seen from a client. Advisories the server publishes under
//! `$SYS.ACCOUNT.<acc>.*` and `$SYS.SERVER.<id>.*`, the request services under
//! `$SYS.REQ.SERVER.*` and `$SYS.REQ.ACCOUNT.*`, and `$SYS.DEBUG.SUBSCRIBERS`.
//!
//! The Go tests run these against a trusted (JWT) server or a cluster; here a
//! single server with config-file accounts shows the same behaviour. Event
//! payloads carry ids, sequence numbers, times, memory and cpu figures: the
//! scenarios observe field names, subjects (server id masked), fixed values
//! and counts made by their own traffic.

use crate::check_eq;
use crate::kit::{Ctx, Msg, Op, RawClient, Server, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{anyhow, bail, ensure, Context, Result};
use futures::FutureExt;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::{timeout_at, Instant};

/// A system account `SYS` and an ordinary account `ACC`, one user each.
const SYS_CONF: &str = "system_account: SYS\naccounts {\n  SYS { users = [ {user: sys, password: pwd} ] }\n  ACC { users = [ {user: usr, password: pwd} ] }\n}\n";

/// [`SYS_CONF`] with more accounts in its `accounts` block.
fn sys_conf_with(accounts: &str) -> String {
    SYS_CONF.replace("\n}\n", &format!("\n{accounts}}}\n"))
}

/// Like [`SYS_CONF`], with a server name, tags and a cluster name to filter on.
const NAMED_CONF: &str = "server_name: A_SRV\nserver_tags: [\"foo\", \"bar\"]\ncluster { name: \"TEST CLUSTER 22\", listen: \"127.0.0.1:{{cluster_port}}\" }\n";

/// How long to wait for an event or a response that must come.
const WAIT: Duration = Duration::from_secs(2);
/// How long to listen for one that must not come (the Go tests use 100-250 ms).
const QUIET: Duration = Duration::from_millis(250);

const CONNECTED: &str = "io.nats.server.advisory.v1.client_connect";
const DISCONNECTED: &str = "io.nats.server.advisory.v1.client_disconnect";
const ACCOUNT_CONNS: &str = "io.nats.server.advisory.v1.account_connections";

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("events/system-account", |c| system_account(c).boxed())
            .partial("TestSystemAccount"),
        Scenario::new("events/system-account-from-config", |c| {
            system_account_from_config(c).boxed()
        })
        .partial("TestSystemAccountFromConfig"),
        Scenario::new("events/connect-disconnect-advisories", |c| {
            connect_disconnect_advisories(c).boxed()
        })
        .full("TestSystemAccountNewConnection"),
        Scenario::new("events/auth-error-advisory", |c| {
            auth_error_advisory(c).boxed()
        })
        .full("TestSystemAccountDisconnectBadLogin"),
        Scenario::new("events/auth-error-queue-subscriber", |c| {
            auth_error_queue_subscriber(c).boxed()
        })
        .full("TestServerEventsReceivedByQSubs"),
        Scenario::new("events/system-account-subscriptions", |c| {
            system_account_subscriptions(c).boxed()
        })
        .partial("TestSystemAccountInternalSubscriptions"),
        Scenario::new("events/account-conns-updates", |c| {
            account_conns_updates(c).boxed()
        })
        .partial("TestSystemAccountConnectionUpdatesStopAfterNoLocal")
        .partial("TestConnectionUpdatesTimerProperlySet"),
        Scenario::new("events/account-conns-stats", |c| {
            account_conns_stats(c).boxed()
        })
        .partial("TestServerAccountConns"),
        Scenario::new("events/account-req-monitoring", |c| {
            account_req_monitoring(c).boxed()
        })
        .partial("TestAccountReqMonitoring"),
        Scenario::new("events/account-req-jetstream", |c| {
            account_req_jetstream(c).boxed()
        })
        .needs(Need::JetStream)
        .partial("TestAccountReqMonitoring"),
        Scenario::new("events/account-req-info", |c| account_req_info(c).boxed())
            .partial("TestAccountReqInfo"),
        Scenario::new("events/no-auth-user-system-account", |c| {
            no_auth_user_system_account(c).boxed()
        })
        .full("TestSystemAccountNoAuthUser"),
        Scenario::new("events/statsz", |c| statsz(c).boxed())
            .needs(Need::Cluster(1))
            .partial("TestServerEventsStatsZ"),
        Scenario::new("events/ping-statsz", |c| ping_statsz(c).boxed())
            .needs(Need::Cluster(1))
            .partial("TestServerEventsPingStatsZ"),
        Scenario::new("events/ping-statsz-filter", |c| {
            ping_statsz_filter(c).boxed()
        })
        .needs(Need::Cluster(1))
        .full("TestServerEventsPingStatsZFilter"),
        Scenario::new("events/ping-statsz-fail-filter", |c| {
            ping_statsz_fail_filter(c).boxed()
        })
        .full("TestServerEventsPingStatsZFailFilter"),
        Scenario::new("events/ping-monitorz", |c| ping_monitorz(c).boxed())
            .needs(Need::Cluster(1))
            .partial("TestServerEventsPingMonitorz"),
        Scenario::new("events/server-direct-monitorz", |c| {
            server_direct_monitorz(c).boxed()
        })
        .partial("TestServerEventsPingMonitorz"),
        Scenario::new("events/filtered-by-tag", |c| filtered_by_tag(c).boxed())
            .partial("TestServerEventsFilteredByTag"),
        Scenario::new("events/disconnect-queue-subscribers", |c| {
            disconnect_queue_subscribers(c).boxed()
        })
        .partial("TestServerEventsAndDQSubscribers"),
        Scenario::new("events/cluster-name-in-info", |c| {
            cluster_name_in_info(c).boxed()
        })
        .needs(Need::Cluster(1))
        .full("TestGatewayNameClientInfo"),
        Scenario::new("events/bad-remote-latency-update", |c| {
            bad_remote_latency_update(c).boxed()
        })
        .full("TestSystemAccountWithBadRemoteLatencyUpdate"),
        Scenario::new("events/debug-subscribers", |c| debug_subscribers(c).boxed())
            .partial("TestSystemServiceSubscribers"),
        Scenario::new("events/debug-subscribers-wildcards", |c| {
            debug_subscribers_wildcards(c).boxed()
        })
        .partial("TestSystemServiceSubscribersWildcards"),
        Scenario::new("events/debug-subscribers-queue-groups", |c| {
            debug_subscribers_queue_groups(c).boxed()
        })
        .partial("TestSystemServiceSubscribersQueueGroups"),
    ]
}

// ---------------------------------------------------------------- helpers

async fn sys_server(ctx: &Ctx, extra: &str) -> Result<Server> {
    ctx.server(ServerSpec::new().conf(&format!("{extra}{SYS_CONF}")))
        .await
}

fn login(user: &str, pass: &str) -> String {
    format!(r#"{{"verbose":false,"headers":true,"user":"{user}","pass":"{pass}"}}"#)
}

/// Connects, sends CONNECT and waits for the PONG of a PING; returns the
/// connection and the server's INFO.
async fn connect(ctx: &Ctx, s: &Server, connect: &str) -> Result<(RawClient, Value)> {
    let (mut c, info) = ctx.raw(s).await?;
    c.send(&format!("CONNECT {connect}\r\n")).await?;
    c.flush()
        .await
        .with_context(|| format!("CONNECT {connect}"))?;
    Ok((c, info))
}

/// A connection that can make requests: it has a wildcard reply subscription
/// (`_INBOX.ev.*`, sid `rsp`) like a client library's response multiplexer.
async fn requester(ctx: &Ctx, s: &Server, connect_json: &str) -> Result<(RawClient, Value)> {
    let (mut c, info) = connect(ctx, s, connect_json).await?;
    c.send("SUB _INBOX.ev.* rsp\r\n").await?;
    c.flush().await?;
    Ok((c, info))
}

/// The next message within `wait`, answering server PINGs; `None` when
/// nothing came. Any other operation fails.
async fn next_msg(c: &mut RawClient, wait: Duration) -> Result<Option<Msg>> {
    let deadline = Instant::now() + wait;
    loop {
        match timeout_at(deadline, c.read_op()).await {
            Err(_) => return Ok(None),
            Ok(Err(e)) => {
                if Instant::now() >= deadline {
                    return Ok(None);
                }
                return Err(e);
            }
            Ok(Ok(Op::Msg(m))) => return Ok(Some(m)),
            Ok(Ok(Op::Ping)) => c.send("PONG\r\n").await?,
            Ok(Ok(Op::Pong)) => {}
            Ok(Ok(other)) => bail!("expected a message, got {other:?}"),
        }
    }
}

/// Exactly `n` messages, each within [`WAIT`].
async fn msgs(c: &mut RawClient, n: usize) -> Result<Vec<Msg>> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match next_msg(c, WAIT).await? {
            Some(m) => out.push(m),
            None => bail!("expected {n} messages, got {}: {out:?}", out.len()),
        }
    }
    Ok(out)
}

/// Nothing may be delivered for [`QUIET`].
async fn quiet(c: &mut RawClient) -> Result<()> {
    match next_msg(c, QUIET).await? {
        None => Ok(()),
        Some(m) => bail!(
            "expected no message, got {} {}",
            m.subject,
            String::from_utf8_lossy(&m.payload)
        ),
    }
}

fn json_of(m: &Msg) -> Result<Value> {
    serde_json::from_slice(&m.payload).with_context(|| {
        format!(
            "{}: not JSON: {}",
            m.subject,
            String::from_utf8_lossy(&m.payload)
        )
    })
}

static NEXT_INBOX: AtomicU64 = AtomicU64::new(1);

/// Publishes a request (optionally with a header block) with a fresh reply
/// subject under `_INBOX.ev.`; returns that reply subject.
async fn send_request(
    c: &mut RawClient,
    subject: &str,
    payload: &str,
    header: bool,
) -> Result<String> {
    let reply = format!("_INBOX.ev.{}", NEXT_INBOX.fetch_add(1, Ordering::Relaxed));
    if header {
        let h = "NATS/1.0\r\nheader: for header sake\r\n\r\n";
        c.send(&format!(
            "HPUB {subject} {reply} {} {}\r\n{h}{payload}\r\n",
            h.len(),
            h.len() + payload.len()
        ))
        .await?;
    } else {
        c.send(&format!(
            "PUB {subject} {reply} {}\r\n{payload}\r\n",
            payload.len()
        ))
        .await?;
    }
    Ok(reply)
}

/// All responses to a request: the first within [`WAIT`], then any more that
/// come within [`QUIET`] of the last one.
async fn responses(
    c: &mut RawClient,
    subject: &str,
    payload: &str,
    header: bool,
) -> Result<Vec<Value>> {
    let reply = send_request(c, subject, payload, header).await?;
    let mut out = Vec::new();
    let mut wait = WAIT;
    while let Some(m) = next_msg(c, wait).await? {
        check_eq!(m.subject, reply);
        out.push(json_of(&m)?);
        wait = QUIET;
    }
    Ok(out)
}

/// The first response to a request, within [`WAIT`]. A second response
/// would show up as a message for the wrong reply subject at the next one.
async fn request_with(
    c: &mut RawClient,
    subject: &str,
    payload: &str,
    header: bool,
) -> Result<Value> {
    let reply = send_request(c, subject, payload, header).await?;
    let m = next_msg(c, WAIT)
        .await?
        .with_context(|| format!("{subject} {payload:?}: no response"))?;
    check_eq!(m.subject, reply);
    json_of(&m)
}

async fn request(c: &mut RawClient, subject: &str, payload: &str) -> Result<Value> {
    request_with(c, subject, payload, false).await
}

fn one(mut rs: Vec<Value>, subject: &str, payload: &str) -> Result<Value> {
    ensure!(
        rs.len() == 1,
        "{subject} {payload:?}: expected one response, got {}: {rs:?}",
        rs.len()
    );
    Ok(rs.remove(0))
}

/// No response at all within [`QUIET`].
async fn no_response(c: &mut RawClient, subject: &str, payload: &str) -> Result<()> {
    send_request(c, subject, payload, false).await?;
    quiet(c)
        .await
        .with_context(|| format!("{subject} {payload:?} must not be answered"))
}

/// Sorted key names of a JSON object, comma-separated.
fn keys(v: &Value) -> String {
    let mut k: Vec<&str> = v
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    k.sort_unstable();
    k.join(",")
}

/// Sorted key names without the ones whose presence depends on timing.
fn keys_without(v: &Value, timing: &[&str]) -> String {
    let mut k: Vec<&str> = v
        .as_object()
        .map(|m| {
            m.keys()
                .map(String::as_str)
                .filter(|k| !timing.contains(k))
                .collect()
        })
        .unwrap_or_default();
    k.sort_unstable();
    k.join(",")
}

fn st(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn n(v: &Value) -> i64 {
    v.as_i64().unwrap_or(-1)
}

/// The fixed part of the `server` object every event and response carries.
fn check_server_info(server: &Value, id: &str) -> Result<()> {
    check_eq!(st(&server["id"]), id);
    check_eq!(st(&server["ver"]), "2.9.10");
    check_eq!(st(&server["host"]), "127.0.0.1");
    ensure!(n(&server["seq"]) > 0, "server.seq not set: {server}");
    ensure!(server["time"].is_string(), "server.time not set: {server}");
    Ok(())
}

/// The fixed part of an advisory: type, a 22-character id, a timestamp, the server.
fn check_event(ev: &Value, kind: &str, id: &str) -> Result<()> {
    check_eq!(st(&ev["type"]), kind);
    check_eq!(st(&ev["id"]).len(), 22);
    ensure!(ev["timestamp"].is_string(), "no timestamp: {ev}");
    check_server_info(&ev["server"], id)
}

fn server_id(info: &Value) -> Result<String> {
    info["server_id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("INFO without server_id: {info}"))
}

/// A subject with the server id replaced by a fixed word.
fn masked(subject: &str, id: &str) -> String {
    subject.replace(id, "<server-id>")
}

// ---------------------------------------------------------------- system account

async fn system_account(ctx: Ctx) -> Result<()> {
    let s = sys_server(&ctx, "").await?;
    let (mut c, info) = requester(&ctx, &s, &login("sys", "pwd")).await?;
    let id = server_id(&info)?;
    // The server's internal client answers in the system account, once.
    let r = one(
        responses(&mut c, "$SYS.REQ.SERVER.PING", "", false).await?,
        "$SYS.REQ.SERVER.PING",
        "",
    )?;
    check_server_info(&r["server"], &id)?;
    ctx.observe("ping/keys", keys(&r));
    ctx.observe("ping/statsz-keys", keys(&r["statsz"]));
    // An ordinary account does not reach the system services.
    let (mut a, _) = requester(&ctx, &s, &login("usr", "pwd")).await?;
    no_response(&mut a, "$SYS.REQ.SERVER.PING", "").await?;
    // The system account sees the events of its own server.
    // A heartbeat may come before the PONG; next_msg skips the PONG.
    c.send(&format!("SUB $SYS.SERVER.{id}.STATSZ 1\r\nPING\r\n"))
        .await?;
    let m = next_msg(&mut c, Duration::from_secs(3))
        .await?
        .context("no statsz heartbeat within 3s")?;
    ctx.observe("heartbeat/subject", masked(&m.subject, &id));
    check_server_info(&json_of(&m)?["server"], &id)?;
    Ok(())
}

async fn system_account_from_config(ctx: Ctx) -> Result<()> {
    let s = sys_server(&ctx, "").await?;
    let (mut c, _) = requester(&ctx, &s, &login("sys", "pwd")).await?;
    let varz = request(&mut c, "$SYS.REQ.SERVER.PING.VARZ", "").await?;
    check_eq!(st(&varz["data"]["system_account"]), "SYS");
    let accz = request(
        &mut c,
        "$SYS.REQ.SERVER.PING.ACCOUNTZ",
        r#"{"account":"SYS"}"#,
    )
    .await?;
    let d = &accz["data"];
    check_eq!(st(&d["system_account"]), "SYS");
    check_eq!(st(&d["account_detail"]["account_name"]), "SYS");
    check_eq!(d["account_detail"]["is_system"], json!(true));
    let accz = request(
        &mut c,
        "$SYS.REQ.SERVER.PING.ACCOUNTZ",
        r#"{"account":"ACC"}"#,
    )
    .await?;
    let acc = &accz["data"]["account_detail"];
    check_eq!(st(&acc["account_name"]), "ACC");
    ensure!(
        acc.get("is_system").is_none_or(|v| v == &json!(false)),
        "ACC is not the system account: {acc}"
    );
    ctx.observe("system_account", st(&varz["data"]["system_account"]));
    Ok(())
}

// ---------------------------------------------------------------- advisories

async fn connect_disconnect_advisories(ctx: Ctx) -> Result<()> {
    let s = sys_server(&ctx, "").await?;
    let (mut w, info) = connect(&ctx, &s, &login("sys", "pwd")).await?;
    let id = server_id(&info)?;
    // Only the events of ACC.
    w.send("SUB $SYS.ACCOUNT.ACC.> 1\r\n").await?;
    w.flush().await?;

    let (mut c, _) = connect(
        &ctx,
        &s,
        r#"{"verbose":false,"user":"usr","pass":"pwd","name":"TEST EVENTS","lang":"go","version":"1.2.2"}"#,
    )
    .await?;
    let mut got = msgs(&mut w, 2).await?;
    got.sort_by(|a, b| a.subject.cmp(&b.subject));
    let subjects: Vec<&str> = got.iter().map(|m| m.subject.as_str()).collect();
    check_eq!(
        subjects,
        vec!["$SYS.ACCOUNT.ACC.CONNECT", "$SYS.ACCOUNT.ACC.SERVER.CONNS"]
    );
    let cem = json_of(&got[0])?;
    let conns = json_of(&got[1])?;
    check_event(&cem, CONNECTED, &id)?;
    let client = &cem["client"];
    check_eq!(st(&client["name"]), "TEST EVENTS");
    check_eq!(st(&client["lang"]), "go");
    check_eq!(st(&client["ver"]), "1.2.2");
    check_eq!(st(&client["acc"]), "ACC");
    check_eq!(st(&client["user"]), "usr");
    check_eq!(st(&client["host"]), "127.0.0.1");
    ensure!(n(&client["id"]) > 0, "client.id: {client}");
    ensure!(client["start"].is_string(), "client.start: {client}");
    ensure!(
        client.get("stop").is_none(),
        "a connect event has no stop: {client}"
    );
    ctx.observe("connect/keys", keys(&cem));
    ctx.observe("connect/server-keys", keys(&cem["server"]));
    ctx.observe("connect/client-keys", keys_without(client, &["rtt"]));
    check_event(&conns, ACCOUNT_CONNS, &id)?;
    check_eq!(st(&conns["acc"]), "ACC");
    check_eq!(
        (
            n(&conns["conns"]),
            n(&conns["total_conns"]),
            n(&conns["leafnodes"])
        ),
        (1, 1, 0)
    );
    ctx.observe("conns/keys", keys(&conns));

    // Traffic: 10 messages of 11 bytes in, each delivered to two subscriptions.
    c.send("SUB foo 1\r\nSUB * 2\r\n").await?;
    for _ in 0..10 {
        c.send("PUB foo 11\r\nHELLO WORLD\r\n").await?;
    }
    check_eq!(c.msgs_until_pong().await?.len(), 20);
    drop(c);

    let mut got = msgs(&mut w, 2).await?;
    got.sort_by(|a, b| a.subject.cmp(&b.subject));
    let subjects: Vec<&str> = got.iter().map(|m| m.subject.as_str()).collect();
    check_eq!(
        subjects,
        vec![
            "$SYS.ACCOUNT.ACC.DISCONNECT",
            "$SYS.ACCOUNT.ACC.SERVER.CONNS"
        ]
    );
    let dem = json_of(&got[0])?;
    let conns = json_of(&got[1])?;
    check_event(&dem, DISCONNECTED, &id)?;
    ensure!(
        n(&dem["server"]["seq"]) > n(&cem["server"]["seq"]),
        "sequence not increasing: {} then {}",
        cem["server"]["seq"],
        dem["server"]["seq"]
    );
    let client = &dem["client"];
    check_eq!(st(&client["name"]), "TEST EVENTS");
    check_eq!(st(&client["lang"]), "go");
    check_eq!(st(&client["acc"]), "ACC");
    ensure!(client["stop"].is_string(), "client.stop: {client}");
    check_eq!(dem["sent"], json!({"msgs": 10, "bytes": 110}));
    check_eq!(dem["received"], json!({"msgs": 20, "bytes": 220}));
    check_eq!(st(&dem["reason"]), "Client Closed");
    ctx.observe("disconnect/keys", keys(&dem));
    ctx.observe("disconnect/client-keys", keys_without(client, &["rtt"]));
    ctx.observe("disconnect/reason", st(&dem["reason"]));
    check_eq!(st(&conns["acc"]), "ACC");
    ensure!(
        String::from_utf8_lossy(&got[1].payload).contains(r#""total_conns":0"#),
        "conns event after the close: {conns}"
    );
    check_eq!(
        (
            n(&conns["conns"]),
            n(&conns["total_conns"]),
            n(&conns["leafnodes"])
        ),
        (0, 0, 0)
    );
    quiet(&mut w).await
}

/// A client without credentials connects and is refused.
async fn bad_login(ctx: &Ctx, s: &Server) -> Result<()> {
    let (mut b, _) = ctx.raw(s).await?;
    b.send("CONNECT {\"verbose\":false,\"name\":\"TEST BAD LOGIN\"}\r\nPING\r\n")
        .await?;
    check_eq!(b.expect_err().await?, "Authorization Violation");
    b.expect_closed(WAIT).await?;
    Ok(())
}

fn check_auth_error(ctx: &Ctx, m: &Msg, id: &str) -> Result<()> {
    check_eq!(m.subject, format!("$SYS.SERVER.{id}.CLIENT.AUTH.ERR"));
    let dem = json_of(m)?;
    check_event(&dem, DISCONNECTED, id)?;
    check_eq!(st(&dem["reason"]), "Authentication Failure");
    check_eq!(st(&dem["client"]["name"]), "TEST BAD LOGIN");
    ctx.observe("auth-err/subject", masked(&m.subject, id));
    ctx.observe("auth-err/keys", keys(&dem));
    ctx.observe(
        "auth-err/client-keys",
        keys_without(&dem["client"], &["rtt"]),
    );
    ctx.observe("auth-err/client-acc", st(&dem["client"]["acc"]));
    ctx.observe("auth-err/reason", st(&dem["reason"]));
    ctx.observe_json("auth-err/stats", &json!([dem["sent"], dem["received"]]));
    Ok(())
}

async fn auth_error_advisory(ctx: Ctx) -> Result<()> {
    let s = sys_server(&ctx, "").await?;
    let (mut w, info) = connect(&ctx, &s, &login("sys", "pwd")).await?;
    let id = server_id(&info)?;
    // Connect and disconnect events of the global account: none for a bad login.
    w.send("SUB $SYS.ACCOUNT.$G.* 1\r\n").await?;
    w.send("SUB $SYS.SERVER.*.CLIENT.AUTH.ERR 2\r\n").await?;
    w.flush().await?;
    bad_login(&ctx, &s).await?;
    let m = next_msg(&mut w, WAIT)
        .await?
        .context("no auth error event")?;
    check_eq!(m.sid, "2");
    check_auth_error(&ctx, &m, &id)?;
    quiet(&mut w).await
}

async fn auth_error_queue_subscriber(ctx: Ctx) -> Result<()> {
    let s = sys_server(&ctx, "").await?;
    let (mut w, info) = connect(&ctx, &s, &login("sys", "pwd")).await?;
    let id = server_id(&info)?;
    w.send("SUB $SYS.SERVER.*.CLIENT.AUTH.ERR queue 1\r\n")
        .await?;
    w.flush().await?;
    bad_login(&ctx, &s).await?;
    let m = next_msg(&mut w, WAIT)
        .await?
        .context("the queue subscriber got no auth error event")?;
    check_auth_error(&ctx, &m, &id)?;
    quiet(&mut w).await
}

async fn system_account_subscriptions(ctx: Ctx) -> Result<()> {
    let s = sys_server(&ctx, "").await?;
    let (mut sub, _) = connect(&ctx, &s, &login("sys", "pwd")).await?;
    let (mut publ, _) = connect(&ctx, &s, &login("sys", "pwd")).await?;
    let (mut other, _) = connect(&ctx, &s, &login("usr", "pwd")).await?;
    sub.send("SUB foo 1\r\n").await?;
    sub.flush().await?;
    publ.send("PUB foo 11\r\nHELLO WORLD\r\n").await?;
    publ.flush().await?;
    let m = next_msg(&mut sub, WAIT)
        .await?
        .context("no message in the system account")?;
    check_eq!(
        (m.subject.as_str(), m.reply.clone(), m.payload.as_slice()),
        ("foo", None, &b"HELLO WORLD"[..])
    );
    // Another account's foo is another subject.
    other.send("PUB foo 5\r\nother\r\n").await?;
    other.flush().await?;
    quiet(&mut sub).await?;
    sub.send("UNSUB 1\r\n").await?;
    sub.flush().await?;
    publ.send("PUB foo 10\r\nYou There?\r\n").await?;
    publ.flush().await?;
    quiet(&mut sub).await?;
    ctx.observe(
        "delivered",
        format!("{} {}", m.subject, String::from_utf8_lossy(&m.payload)),
    );
    Ok(())
}

// ---------------------------------------------------------------- account connections

async fn account_conns_updates(ctx: Ctx) -> Result<()> {
    let s = sys_server(&ctx, "").await?;
    let (mut w, _) = connect(&ctx, &s, &login("sys", "pwd")).await?;
    w.send("SUB $SYS.ACCOUNT.ACC.SERVER.CONNS 1\r\n").await?;
    w.flush().await?;
    let mut clients = Vec::new();
    let mut seen = Vec::new();
    for _ in 0..4 {
        clients.push(connect(&ctx, &s, &login("usr", "pwd")).await?.0);
        let ev = json_of(&msgs(&mut w, 1).await?[0])?;
        check_eq!(st(&ev["type"]), ACCOUNT_CONNS);
        seen.push(n(&ev["conns"]));
    }
    check_eq!(seen, vec![1, 2, 3, 4]);
    // One update per change, no stream of heartbeats in between.
    tokio::time::sleep(Duration::from_millis(500)).await;
    quiet(&mut w).await?;
    seen.clear();
    for c in clients.drain(..) {
        drop(c);
        let ev = json_of(&msgs(&mut w, 1).await?[0])?;
        seen.push(n(&ev["conns"]));
    }
    check_eq!(seen, vec![3, 2, 1, 0]);
    // No more updates once the account has no local connections.
    quiet(&mut w).await?;
    ctx.observe("conns-after-closes", format!("{seen:?}"));
    Ok(())
}

async fn account_conns_stats(ctx: Ctx) -> Result<()> {
    let s = sys_server(&ctx, "").await?;
    let (mut c, _) = connect(&ctx, &s, &login("usr", "pwd")).await?;
    let hw = "HELLO WORLD";
    c.send("SUB foo 1\r\n").await?;
    c.send(&format!("PUB foo {}\r\n{hw}\r\n", hw.len())).await?;
    // Counts towards what the account received only.
    c.send(&format!("PUB bar {}\r\n{hw}\r\n", hw.len())).await?;
    let got = c.msgs_until_pong().await?;
    check_eq!(got.len(), 1);
    check_eq!(String::from_utf8_lossy(&got[0].payload), hw);

    let (mut w, _) = connect(&ctx, &s, &login("sys", "pwd")).await?;
    w.send("SUB $SYS.ACCOUNT.ACC.SERVER.CONNS 1\r\nSUB $SYS.SERVER.ACCOUNT.ACC.CONNS 2\r\n")
        .await?;
    w.flush().await?;
    // A second client of the account makes the server publish the account's counts.
    let (_c2, _) = connect(&ctx, &s, &login("usr", "pwd")).await?;
    let mut got = msgs(&mut w, 2).await?;
    got.sort_by(|a, b| a.subject.cmp(&b.subject));
    let subjects: Vec<&str> = got.iter().map(|m| m.subject.as_str()).collect();
    check_eq!(
        subjects,
        vec![
            "$SYS.ACCOUNT.ACC.SERVER.CONNS",
            "$SYS.SERVER.ACCOUNT.ACC.CONNS"
        ]
    );
    for m in &got {
        let ev = json_of(m)?;
        check_eq!(st(&ev["acc"]), "ACC");
        check_eq!((n(&ev["conns"]), n(&ev["total_conns"])), (2, 2));
        check_eq!(ev["received"], json!({"msgs": 2, "bytes": 2 * hw.len()}));
        check_eq!(ev["sent"], json!({"msgs": 1, "bytes": hw.len()}));
        check_eq!(n(&ev["slow_consumers"]), 0);
        ctx.observe_json(
            &format!("conns/{}", m.subject),
            &json!([ev["conns"], ev["sent"], ev["received"]]),
        );
    }
    // The same counts on request, for an account with connections only.
    let (mut q, _) = requester(&ctx, &s, &login("sys", "pwd")).await?;
    let ev = request(&mut q, "$SYS.REQ.ACCOUNT.ACC.CONNS", "").await?;
    check_eq!(st(&ev["type"]), ACCOUNT_CONNS);
    check_eq!(st(&ev["acc"]), "ACC");
    check_eq!((n(&ev["conns"]), n(&ev["total_conns"])), (2, 2));
    check_eq!(ev["received"], json!({"msgs": 2, "bytes": 2 * hw.len()}));
    ctx.observe("request/keys", keys(&ev));
    no_response(&mut q, "$SYS.REQ.ACCOUNT.NOPE.CONNS", "").await?;
    Ok(())
}

// ---------------------------------------------------------------- account requests

async fn account_req_monitoring(ctx: Ctx) -> Result<()> {
    let conf = sys_conf_with("  UNUSED { users = [ {user: unused, password: pwd} ] }\n");
    let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
    let (mut sys, _) = requester(&ctx, &s, &login("sys", "pwd")).await?;
    let (mut acc, _) = requester(&ctx, &s, &login("usr", "pwd")).await?;
    // ACC has its own reply subscription plus the imports of the system services.
    let r = request(&mut sys, "$SYS.REQ.ACCOUNT.ACC.SUBSZ", "").await?;
    let before = n(&r["data"]["num_subscriptions"]);
    ctx.observe("subsz/keys", keys(&r));
    ctx.observe("subsz/data-keys", keys(&r["data"]));
    ctx.observe("subsz/num_subscriptions", before.to_string());
    acc.send("SUB foo 1\r\n").await?;
    acc.flush().await?;
    let r = request(&mut sys, "$SYS.REQ.ACCOUNT.ACC.SUBSZ", "").await?;
    check_eq!(n(&r["data"]["num_subscriptions"]), before + 1);
    let subjects: Vec<&str> = r["data"]["subscriptions_list"]
        .as_array()
        .map(|l| l.iter().map(|e| st(&e["subject"])).collect())
        .unwrap_or_default();
    ensure!(subjects.contains(&"foo"), "foo not listed: {subjects:?}");
    let mut sorted = subjects.clone();
    sorted.sort_unstable();
    ctx.observe("subsz/subjects", sorted.join(","));

    let r = request(&mut sys, "$SYS.REQ.ACCOUNT.ACC.CONNZ", "").await?;
    check_eq!(
        (n(&r["data"]["num_connections"]), n(&r["data"]["total"])),
        (1, 1)
    );
    ctx.observe("connz/data-keys", keys(&r["data"]));

    // Without JetStream the account's JSZ is an error.
    let r = request(&mut sys, "$SYS.REQ.ACCOUNT.ACC.JSZ", "").await?;
    ctx.observe_json("jsz/error", &json!([r["error"]["code"], r["data"]]));

    let statz = request(&mut sys, "$SYS.REQ.ACCOUNT.ACC.STATZ", "").await?;
    let entries = &statz["data"]["account_statz"];
    let acc_entry = json!({
        "acc": "ACC", "conns": 1, "leafnodes": 0, "total_conns": 1,
        "sent": {"msgs": 0, "bytes": 0}, "received": {"msgs": 0, "bytes": 0},
        "slow_consumers": 0
    });
    check_eq!(entries, &json!([acc_entry]));
    ctx.observe("statz/data-keys", keys(&statz["data"]));

    // A ping for all accounts in use: ACC and SYS.
    let r = request(&mut sys, "$SYS.REQ.ACCOUNT.PING.STATZ", "").await?;
    let mut names: Vec<&str> = r["data"]["account_statz"]
        .as_array()
        .map(|l| l.iter().map(|e| st(&e["acc"])).collect())
        .unwrap_or_default();
    names.sort_unstable();
    check_eq!(names, vec!["ACC", "SYS"]);
    for e in r["data"]["account_statz"].as_array().into_iter().flatten() {
        check_eq!((n(&e["conns"]), n(&e["total_conns"])), (1, 1));
    }
    let r = request(
        &mut sys,
        "$SYS.REQ.ACCOUNT.PING.STATZ",
        r#"{"accounts":["SYS"]}"#,
    )
    .await?;
    let names: Vec<&str> = r["data"]["account_statz"]
        .as_array()
        .map(|l| l.iter().map(|e| st(&e["acc"])).collect())
        .unwrap_or_default();
    check_eq!(names, vec!["SYS"]);
    let r = request(
        &mut sys,
        "$SYS.REQ.ACCOUNT.PING.STATZ",
        r#"{"accounts":["ACC"]}"#,
    )
    .await?;
    check_eq!(r["data"]["account_statz"], json!([acc_entry]));

    // An account without connections answers only when asked to include it.
    let unused = json!({
        "acc": "UNUSED", "conns": 0, "leafnodes": 0, "total_conns": 0,
        "sent": {"msgs": 0, "bytes": 0}, "received": {"msgs": 0, "bytes": 0},
        "slow_consumers": 0
    });
    let with_unused = r#"{"accounts":["UNUSED"], "include_unused":true}"#;
    let r = request(&mut sys, "$SYS.REQ.ACCOUNT.UNUSED.STATZ", with_unused).await?;
    check_eq!(r["data"]["account_statz"], json!([unused]));
    let r = request(&mut sys, "$SYS.REQ.ACCOUNT.PING.STATZ", with_unused).await?;
    check_eq!(r["data"]["account_statz"], json!([unused]));
    no_response(
        &mut sys,
        "$SYS.REQ.ACCOUNT.PING.STATZ",
        r#"{"accounts":["UNUSED"]}"#,
    )
    .await?;
    no_response(&mut sys, "$SYS.REQ.ACCOUNT.UNUSED.STATZ", "").await?;

    // From inside the account, the ping is imported and answers for it alone.
    let r = request(&mut acc, "$SYS.REQ.ACCOUNT.PING.STATZ", "").await?;
    let e = &r["data"]["account_statz"];
    check_eq!(e.as_array().map(Vec::len), Some(1));
    check_eq!(st(&e[0]["acc"]), "ACC");
    check_eq!((n(&e[0]["conns"]), n(&e[0]["total_conns"])), (1, 1));
    check_eq!(n(&e[0]["slow_consumers"]), 0);
    ctx.observe("statz/entry-keys", keys(&e[0]));
    let r = request(&mut acc, "$SYS.REQ.ACCOUNT.PING.CONNZ", "").await?;
    check_eq!(n(&r["data"]["num_connections"]), 1);
    let r = request(&mut acc, "$SYS.REQ.SERVER.PING.CONNZ", "").await?;
    check_eq!(n(&r["data"]["num_connections"]), 1);
    Ok(())
}

async fn account_req_jetstream(ctx: Ctx) -> Result<()> {
    let conf = "jetstream { store_dir: \"{{dir}}/js\" }\nsystem_account: SYS\naccounts {\n  SYS { users = [ {user: sys, password: pwd} ] }\n  ACC { users = [ {user: usr, password: pwd} ], jetstream: enabled }\n}\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let (mut sys, _) = requester(&ctx, &s, &login("sys", "pwd")).await?;
    let (mut acc, _) = connect(&ctx, &s, &login("usr", "pwd")).await?;
    // The imports of the system services and of the JetStream API.
    let r = request(&mut sys, "$SYS.REQ.ACCOUNT.ACC.SUBSZ", "").await?;
    check_eq!(n(&r["data"]["num_subscriptions"]), 4);
    acc.send("SUB foo 1\r\n").await?;
    acc.flush().await?;
    let r = request(&mut sys, "$SYS.REQ.ACCOUNT.ACC.SUBSZ", "").await?;
    let text = r.to_string();
    ensure!(
        text.contains(r#""num_subscriptions":5,"#) && text.contains(r#""subject":"foo""#),
        "SUBSZ after SUB foo: {text}"
    );
    let r = request(&mut sys, "$SYS.REQ.ACCOUNT.ACC.CONNZ", "").await?;
    check_eq!(
        (n(&r["data"]["num_connections"]), n(&r["data"]["total"])),
        (1, 1)
    );
    let r = request(&mut sys, "$SYS.REQ.ACCOUNT.ACC.JSZ", "").await?;
    let d = &r["data"];
    check_eq!((n(&d["memory"]), n(&d["storage"])), (0, 0));
    check_eq!(r["server"]["jetstream"], json!(true));
    ctx.observe("jsz/data-keys", keys(d));
    let r = request(&mut sys, "$SYS.REQ.ACCOUNT.ACC.INFO", "").await?;
    check_eq!(r["data"]["jetstream_enabled"], json!(true));
    let mut imports: Vec<&str> = r["data"]["imports"]
        .as_array()
        .map(|l| l.iter().map(|i| st(&i["subject"])).collect())
        .unwrap_or_default();
    imports.sort_unstable();
    ctx.observe("info/imports", imports.join(","));
    Ok(())
}

async fn account_req_info(ctx: Ctx) -> Result<()> {
    let accounts = "  EXP { users = [ {user: exp, password: pwd} ], exports = [ {service: \"req.*\"} ] }\n  IMP { users = [ {user: imp, password: pwd} ], imports = [ {service: {account: EXP, subject: \"req.1\"}} ] }\n";
    let conf = format!("server_name: info_srv\n{}", sys_conf_with(accounts));
    let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
    let (mut sys, info) = requester(&ctx, &s, &login("sys", "pwd")).await?;
    let id = server_id(&info)?;

    let check_common = |r: &Value, name: &str| -> Result<()> {
        check_server_info(&r["server"], &id)?;
        check_eq!(st(&r["server"]["name"]), "info_srv");
        let d = &r["data"];
        check_eq!(st(&d["account_name"]), name);
        check_eq!(d["complete"], json!(true));
        check_eq!(d["expired"], json!(false));
        check_eq!(d["jetstream_enabled"], json!(false));
        check_eq!(n(&d["client_connections"]), 0);
        check_eq!(n(&d["leafnode_connections"]), 0);
        ensure!(d.get("jwt").is_none(), "a config account has no JWT: {d}");
        Ok(())
    };
    let imports = |d: &Value| -> Vec<String> {
        let mut v: Vec<String> = d["imports"]
            .as_array()
            .map(|l| {
                l.iter()
                    .map(|i| {
                        format!(
                            "{} {} {} {}",
                            st(&i["type"]),
                            st(&i["account"]),
                            st(&i["subject"]),
                            st(&i["to"])
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };

    let r = request(&mut sys, "$SYS.REQ.ACCOUNT.EXP.INFO", "").await?;
    check_common(&r, "EXP")?;
    let d = &r["data"];
    let exports = d["exports"].as_array().cloned().unwrap_or_default();
    check_eq!(exports.len(), 1);
    check_eq!(st(&exports[0]["subject"]), "req.*");
    check_eq!(st(&exports[0]["type"]), "service");
    check_eq!(st(&exports[0]["response_type"]), "Singleton");
    let exp_imports = imports(d);
    check_eq!(exp_imports.len(), 3);
    check_eq!(n(&d["subscriptions"]), 3);
    ctx.observe("exp/keys", keys(&r));
    ctx.observe("exp/data-keys", keys(d));
    ctx.observe("exp/export-keys", keys(&exports[0]));
    ctx.observe("exp/imports", exp_imports.join("|"));

    let r = request(&mut sys, "$SYS.REQ.ACCOUNT.IMP.INFO", "").await?;
    check_common(&r, "IMP")?;
    let d = &r["data"];
    ensure!(
        d.get("exports")
            .is_none_or(|e| e.as_array().is_none_or(Vec::is_empty)),
        "IMP exports nothing: {d}"
    );
    let imp_imports = imports(d);
    check_eq!(imp_imports.len(), 4);
    ensure!(
        imp_imports
            .iter()
            .any(|i| i.starts_with("service EXP req.1")),
        "the import of req.1 is missing: {imp_imports:?}"
    );
    check_eq!(n(&d["subscriptions"]), 4);
    ctx.observe("imp/imports", imp_imports.join("|"));
    if let Some(i) = d["imports"]
        .as_array()
        .and_then(|l| l.iter().find(|i| st(&i["subject"]) == "req.1"))
    {
        ctx.observe("imp/import-keys", keys(i));
    }

    // An unknown account is an error.
    let r = request(&mut sys, "$SYS.REQ.ACCOUNT.NOPE.INFO", "").await?;
    check_eq!(n(&r["error"]["code"]), 500);
    ctx.observe("unknown/error", st(&r["error"]["description"]));
    Ok(())
}

async fn no_auth_user_system_account(ctx: Ctx) -> Result<()> {
    // No system_account: the account named $SYS is the system account.
    let conf = "accounts {\n  $SYS { users [ {user: \"admin\", password: \"pwd\"} ] }\n}\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let (mut w, _) = connect(&ctx, &s, &login("admin", "pwd")).await?;
    w.send("SUB $SYS.ACCOUNT.*.CONNECT 1\r\n").await?;
    // The watcher may hear its own connect event; it is not one of the cases.
    w.ops_until_pong().await?;

    let (mut q, _) = requester(&ctx, &s, &login("admin", "pwd")).await?;

    /// Polls CONNZ until no connection has this name; returns how many
    /// connections it lists then (the watcher and the requester).
    async fn gone_from_connz(q: &mut RawClient, name: &str) -> Result<u64> {
        let deadline = Instant::now() + WAIT;
        loop {
            let r = request(q, "$SYS.REQ.SERVER.PING.CONNZ", "").await?;
            let conns = r["data"]["connections"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if conns.iter().all(|c| st(&c["name"]) != name) {
                let n = r["data"]["num_connections"].as_u64().unwrap_or(0);
                check_eq!(n, 2);
                return Ok(n);
            }
            ensure!(
                Instant::now() < deadline,
                "{name} still in CONNZ after {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // The account of the connection with this name, as CONNZ shows it.
    async fn account_of(q: &mut RawClient, name: &str) -> Result<String> {
        let r = request(q, "$SYS.REQ.SERVER.PING.CONNZ", r#"{"auth":true}"#).await?;
        let conns = r["data"]["connections"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let c = conns
            .iter()
            .find(|c| st(&c["name"]) == name)
            .with_context(|| format!("no connection named {name} in {conns:?}"))?;
        // CONNZ names no account for the global one.
        ensure!(
            c.get("account").is_none_or(|a| a.is_string()),
            "account: {c}"
        );
        Ok(c.get("account").map_or("$G", st).to_string())
    }

    let cases: [(&str, &str, Option<&str>); 6] = [
        (
            "valid user/pwd",
            r#""user":"admin","pass":"pwd""#,
            Some("$SYS"),
        ),
        ("invalid pwd", r#""user":"admin","pass":"wrong""#, None),
        ("some token", r#""auth_token":"sometoken""#, None),
        ("user used without pwd", r#""auth_token":"admin""#, None),
        (
            "user with empty password",
            r#""user":"admin","pass":"""#,
            None,
        ),
        ("no user means global account", "", Some("$G")),
    ];
    for (name, creds, want) in cases {
        let sep = if creds.is_empty() { "" } else { "," };
        let connect_json = format!(r#"{{"verbose":false,"name":"{name}"{sep}{creds}}}"#);
        let (mut c, _) = ctx.raw(&s).await?;
        c.send(&format!("CONNECT {connect_json}\r\nPING\r\n"))
            .await?;
        match want {
            Some(acc) => {
                c.expect_pong()
                    .await
                    .with_context(|| format!("{name}: must connect"))?;
                let got = account_of(&mut q, name).await?;
                check_eq!(got, acc);
                ctx.observe(&format!("account/{name}"), &got);
                // checkClientsCount(t, s, 0) once it closes: CONNZ lists
                // only the two watchers again.
                drop(c);
                let left = gone_from_connz(&mut q, name).await?;
                ctx.observe(
                    &format!("connections after {name} closed"),
                    left.to_string(),
                );
                if got == "$G" {
                    // The global account's connections make no connect event.
                    quiet(&mut w).await?;
                } else {
                    // Skip the events of the unnamed watcher connections.
                    loop {
                        let m = next_msg(&mut w, WAIT)
                            .await?
                            .with_context(|| format!("{name}: no connect event"))?;
                        let ev = json_of(&m)?;
                        if st(&ev["client"]["name"]) == name {
                            check_eq!(m.subject, format!("$SYS.ACCOUNT.{got}.CONNECT"));
                            break;
                        }
                    }
                }
            }
            None => {
                let err = c
                    .expect_err()
                    .await
                    .with_context(|| format!("{name}: must be refused"))?;
                ctx.observe(&format!("refused/{name}"), err);
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- server statsz

async fn statsz(ctx: Ctx) -> Result<()> {
    let s = sys_server(&ctx, NAMED_CONF).await?;
    let (mut c, info) = requester(&ctx, &s, &login("sys", "pwd")).await?;
    let id = server_id(&info)?;
    c.send(&format!("SUB $SYS.SERVER.{id}.STATSZ 1\r\n"))
        .await?;
    c.send("PUB foo 11\r\nHELLO WORLD\r\n").await?;
    c.send("PING\r\n").await?;
    // Heartbeats come quickly after the start and then slow down.
    let beat = |m: Option<Msg>| -> Result<Value> {
        let m = m.context("no statsz heartbeat within 3s")?;
        check_eq!(m.subject, format!("$SYS.SERVER.{id}.STATSZ"));
        json_of(&m)
    };
    let _first = beat(next_msg(&mut c, Duration::from_secs(3)).await?)?;
    let m = beat(next_msg(&mut c, Duration::from_secs(3)).await?)?;
    let check = |m: &Value, sent: i64, received: i64| -> Result<()> {
        check_server_info(&m["server"], &id)?;
        check_eq!(st(&m["server"]["name"]), "A_SRV");
        check_eq!(st(&m["server"]["cluster"]), "TEST CLUSTER 22");
        check_eq!(m["server"]["tags"], json!(["foo", "bar"]));
        let st = &m["statsz"];
        ensure!(st["start"].is_string(), "statsz.start: {st}");
        check_eq!(n(&st["connections"]), 1);
        check_eq!(n(&st["active_servers"]), 1);
        ensure!(n(&st["sent"]["msgs"]) >= sent, "statsz.sent: {st}");
        ensure!(
            n(&st["received"]["msgs"]) >= received,
            "statsz.received: {st}"
        );
        ensure!(st.get("routes").is_none(), "no routes: {st}");
        Ok(())
    };
    check(&m, 1, 1)?;
    ctx.observe("heartbeat/keys", keys(&m));
    ctx.observe("heartbeat/server-keys", keys(&m["server"]));
    ctx.observe("heartbeat/statsz-keys", keys(&m["statsz"]));
    ctx.observe(
        "heartbeat/active_accounts",
        m["statsz"]["active_accounts"].to_string(),
    );

    // Asked directly, with the heartbeats no longer subscribed (any already
    // on their way arrive before the PONG and are dropped).
    c.send("UNSUB 1\r\n").await?;
    c.ops_until_pong().await?;
    let subject = format!("$SYS.REQ.SERVER.{id}.STATSZ");
    let m2 = request(&mut c, &subject, "").await?;
    check(&m2, 2, 1)?;
    let m3 = request(&mut c, &subject, "").await?;
    check(&m3, 3, 2)?;
    ensure!(
        n(&m3["server"]["seq"]) > n(&m2["server"]["seq"]),
        "sequence not increasing"
    );
    ctx.observe("request/keys", keys(&m3));
    ctx.observe("request/statsz-keys", keys(&m3["statsz"]));
    // A filter that does not match this server.
    no_response(&mut c, &subject, r#"{"server_name":"nomatch"}"#).await
}

async fn ping_statsz(ctx: Ctx) -> Result<()> {
    let s = sys_server(&ctx, NAMED_CONF).await?;
    let (mut c, info) = requester(&ctx, &s, &login("sys", "pwd")).await?;
    let id = server_id(&info)?;
    // Filters match on part of a name; the plain ones and Go's indented encoding.
    let filters = [
        r#"{"cluster":"TEST"}"#,
        r#"{"cluster":"CLUSTER"}"#,
        r#"{"server_name":"SRV"}"#,
        r#"{"server_name":"_"}"#,
        r#"{"host":"127.0.0.1"}"#,
        r#"{"host":"127.0.0.1", "cluster":"CLUSTER", "name":"SRV"}"#,
        "{\n  \"cluster\": \"TEST\"\n}",
        "{\n  \"server_name\": \"SRV\"\n}",
        "{\n  \"server_name\": \"SRV\",\n  \"cluster\": \"CLUSTER\",\n  \"host\": \"127.0.0.1\"\n}",
        r#"{"tags":["FOO"]}"#,
        "",
    ];
    for f in filters {
        for subject in ["$SYS.REQ.SERVER.PING", "$SYS.REQ.SERVER.PING.STATSZ"] {
            let r = request(&mut c, subject, f).await?;
            check_server_info(&r["server"], &id)?;
            ensure!(r["statsz"].is_object(), "{subject} {f:?}: no statsz in {r}");
            check_eq!(n(&r["statsz"]["connections"]), 1);
        }
    }
    let r = request(&mut c, "$SYS.REQ.SERVER.PING", "").await?;
    ctx.observe("keys", keys(&r));
    ctx.observe("server-keys", keys(&r["server"]));
    ctx.observe("statsz-keys", keys(&r["statsz"]));
    Ok(())
}

async fn ping_statsz_filter(ctx: Ctx) -> Result<()> {
    let s = sys_server(&ctx, NAMED_CONF).await?;
    let (mut c, _) = requester(&ctx, &s, &login("sys", "pwd")).await?;
    let filters = [
        r#"{"cluster":"DOESNOTEXIST"}"#,
        r#"{"host":"DOESNOTEXIST"}"#,
        r#"{"server_name":"DOESNOTEXIST"}"#,
        "{\n  \"cluster\": \"DOESNOTEXIST\"\n}",
        "{\n  \"host\": \"DOESNOTEXIST\"\n}",
        "{\n  \"server_name\": \"DOESNOTEXIST\"\n}",
        r#"{"tags":["foo","baz"]}"#,
        r#"{"domain":"DOESNOTEXIST"}"#,
    ];
    for f in filters {
        no_response(&mut c, "$SYS.REQ.SERVER.PING", f).await?;
    }
    // A filter that matches still gets its answer on the same connection.
    let r = request(&mut c, "$SYS.REQ.SERVER.PING", r#"{"server_name":"A_SRV"}"#).await?;
    check_eq!(st(&r["server"]["name"]), "A_SRV");
    ctx.observe("unmatched-filters", filters.len().to_string());
    Ok(())
}

async fn ping_statsz_fail_filter(ctx: Ctx) -> Result<()> {
    let s = sys_server(&ctx, "").await?;
    let (mut c, info) = requester(&ctx, &s, &login("sys", "pwd")).await?;
    let id = server_id(&info)?;
    for subject in [
        "$SYS.REQ.SERVER.PING",
        "$SYS.REQ.SERVER.PING.STATSZ",
        "$SYS.REQ.SERVER.PING.VARZ",
        "$SYS.REQ.SERVER.PING.CONNZ",
        "$SYS.REQ.ACCOUNT.SYS.STATZ",
    ] {
        let r = request(&mut c, subject, "{MALFORMEDJSON").await?;
        check_server_info(&r["server"], &id)?;
        check_eq!(n(&r["error"]["code"]), 400);
        ensure!(
            !st(&r["error"]["description"]).is_empty(),
            "{subject}: no error description: {r}"
        );
        ensure!(
            r.get("statsz").is_none() && r.get("data").is_none_or(Value::is_null),
            "{subject}: an error has no data: {r}"
        );
        ctx.observe(&format!("{subject}/keys"), keys(&r));
        ctx.observe(&format!("{subject}/error-keys"), keys(&r["error"]));
    }
    Ok(())
}

// ---------------------------------------------------------------- monitoring over the system account

/// (endpoint, request body, fields the response data must have), after the
/// table of TestServerEventsPingMonitorz.
const MONITORZ: &[(&str, &str, &[&str])] = &[
    ("VARZ", "", &["now", "cpu", "system_account"]),
    ("SUBSZ", "", &["num_subscriptions", "num_cache"]),
    ("CONNZ", "", &["now", "connections"]),
    ("ROUTEZ", "", &["now", "routes"]),
    (
        "GATEWAYZ",
        "",
        &["now", "outbound_gateways", "inbound_gateways"],
    ),
    ("LEAFZ", "", &["now", "leafs"]),
    ("SUBSZ", "{}", &["num_subscriptions", "num_cache"]),
    ("CONNZ", "{}", &["now", "connections"]),
    ("ROUTEZ", "{}", &["now", "routes"]),
    (
        "GATEWAYZ",
        "{}",
        &["now", "outbound_gateways", "inbound_gateways"],
    ),
    ("LEAFZ", "{}", &["now", "leafs"]),
    ("ACCOUNTZ", "{}", &["now", "accounts"]),
    (
        "SUBSZ",
        r#"{"limit":5}"#,
        &["num_subscriptions", "num_cache"],
    ),
    ("CONNZ", r#"{"limit":5}"#, &["now", "connections"]),
    (
        "ROUTEZ",
        r#"{"subscriptions_detail":true}"#,
        &["now", "routes"],
    ),
    (
        "GATEWAYZ",
        r#"{"accounts":true}"#,
        &["now", "outbound_gateways", "inbound_gateways"],
    ),
    ("LEAFZ", r#"{"subscriptions":true}"#, &["now", "leafs"]),
    (
        "ACCOUNTZ",
        r#"{"account":"SYS"}"#,
        &["now", "account_detail"],
    ),
    ("LEAFZ", r#"{"account":"SYS"}"#, &["now", "leafs"]),
    ("ROUTEZ", r#"{"cluster":""}"#, &["now", "routes"]),
    ("ROUTEZ", r#"{"name":""}"#, &["now", "routes"]),
    (
        "ROUTEZ",
        r#"{"cluster":"TEST CLUSTER 22"}"#,
        &["now", "routes"],
    ),
    ("ROUTEZ", r#"{"cluster":"CLUSTER"}"#, &["now", "routes"]),
    (
        "ROUTEZ",
        r#"{"cluster":"TEST CLUSTER 22", "subscriptions":true}"#,
        &["now", "routes"],
    ),
    ("JSZ", "", &["now", "disabled"]),
    ("HEALTHZ", "", &["status"]),
    ("HEALTHZ", r#"{"js-enabled-only":true}"#, &["status"]),
    ("HEALTHZ", r#"{"js-server-only":true}"#, &["status"]),
];

async fn ping_monitorz(ctx: Ctx) -> Result<()> {
    let s = sys_server(&ctx, NAMED_CONF).await?;
    let (mut c, info) = requester(&ctx, &s, &login("sys", "pwd")).await?;
    let id = server_id(&info)?;
    for (i, (endpoint, body, fields)) in MONITORZ.iter().enumerate() {
        // A header block on the request must not confuse the parsing of its body.
        let subject = format!("$SYS.REQ.SERVER.PING.{endpoint}");
        let r = request_with(&mut c, &subject, body, true).await?;
        check_server_info(&r["server"], &id)?;
        check_eq!(st(&r["server"]["name"]), "A_SRV");
        let data = &r["data"];
        for f in fields.iter() {
            ensure!(
                data.get(*f).is_some(),
                "{subject} {body:?}: no {f} in {data}"
            );
        }
        check_eq!(keys(&r), "data,server");
        ctx.observe(&format!("{i}/{endpoint} {body}"), keys(data));
    }
    // Fixed values.
    let v = request(&mut c, "$SYS.REQ.SERVER.PING.VARZ", "").await?;
    check_eq!(st(&v["data"]["system_account"]), "SYS");
    let h = request(&mut c, "$SYS.REQ.SERVER.PING.HEALTHZ", "").await?;
    check_eq!(h["data"], json!({"status": "ok"}));
    let j = request(&mut c, "$SYS.REQ.SERVER.PING.JSZ", "").await?;
    check_eq!(j["data"]["disabled"], json!(true));
    // An endpoint that does not exist is not answered.
    no_response(&mut c, "$SYS.REQ.SERVER.PING.BOGUS", "").await
}

async fn server_direct_monitorz(ctx: Ctx) -> Result<()> {
    let s = sys_server(&ctx, "server_name: direct_srv\n").await?;
    let (mut c, info) = requester(&ctx, &s, &login("sys", "pwd")).await?;
    let id = server_id(&info)?;
    for endpoint in [
        "STATSZ", "VARZ", "SUBSZ", "CONNZ", "ROUTEZ", "GATEWAYZ", "LEAFZ", "ACCOUNTZ", "JSZ",
        "HEALTHZ",
    ] {
        let subject = format!("$SYS.REQ.SERVER.{id}.{endpoint}");
        let r = request(&mut c, &subject, "").await?;
        check_server_info(&r["server"], &id)?;
        check_eq!(st(&r["server"]["name"]), "direct_srv");
        ctx.observe(&format!("{endpoint}/keys"), keys(&r));
        if r["data"].is_object() {
            ctx.observe(&format!("{endpoint}/data-keys"), keys(&r["data"]));
        }
    }
    let r = request(&mut c, &format!("$SYS.REQ.SERVER.{id}.CONNZ"), "").await?;
    check_eq!(n(&r["data"]["num_connections"]), 1);
    no_response(&mut c, &format!("$SYS.REQ.SERVER.{id}.BOGUS"), "").await?;
    // Another server's id is not this server.
    no_response(&mut c, "$SYS.REQ.SERVER.NOTASERVER.VARZ", "").await
}

async fn filtered_by_tag(ctx: Ctx) -> Result<()> {
    let conf = "server_name: srv-A\nserver_tags: [\"foo\", \"bar\"]\nsystem_account: SYS\naccounts {\n  SYS { users = [ {user: b, password: b} ] }\n}\nno_auth_user: b\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    // The no_auth_user puts this client in the system account.
    let (mut c, _) = requester(&ctx, &s, r#"{"verbose":false}"#).await?;
    let tags = |t: &[&str]| json!({ "tags": t }).to_string();
    for none in [&["none"][..], &["baz"], &["foo", "baz"]] {
        no_response(&mut c, "$SYS.REQ.SERVER.PING.VARZ", &tags(none)).await?;
    }
    for some in [&["foo"][..], &["foo", "bar"], &["bar"], &["BAR"]] {
        let r = request(&mut c, "$SYS.REQ.SERVER.PING.VARZ", &tags(some)).await?;
        let text = r.to_string();
        for want in ["srv-A", "foo", "bar"] {
            ensure!(text.contains(want), "{some:?}: {want} not in {text}");
        }
        check_eq!(r["server"]["tags"], json!(["foo", "bar"]));
        check_eq!(r["data"]["tags"], json!(["foo", "bar"]));
        // Who answered, and the tags it reported.
        ctx.observe_json(
            &format!("answer to {}", some.join(",")),
            &json!({
                "server.name": r["server"]["name"],
                "server.tags": r["server"]["tags"],
                "data.server_name": r["data"]["server_name"],
                "data.tags": r["data"]["tags"],
            }),
        );
    }
    Ok(())
}

async fn disconnect_queue_subscribers(ctx: Ctx) -> Result<()> {
    let conf = "no_auth_user: one\naccounts {\n  ONE { users = [ { user: \"one\", pass: \"p\" } ] }\n  TWO { users = [ { user: \"two\", pass: \"p\" } ] }\n  $SYS { users = [ { user: \"admin\", pass: \"s3cr3t!\" } ] }\n}\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let (mut w, _) = connect(&ctx, &s, &login("admin", "s3cr3t!")).await?;
    w.send("SUB $SYS.ACCOUNT.*.DISCONNECT qq 1\r\n").await?;
    w.flush().await?;
    for _ in 0..10 {
        let (c, _) = connect(&ctx, &s, r#"{"verbose":false}"#).await?;
        drop(c);
    }
    let got = msgs(&mut w, 10).await?;
    for m in &got {
        check_eq!(m.subject, "$SYS.ACCOUNT.ONE.DISCONNECT");
    }
    quiet(&mut w).await?;
    ctx.observe("disconnects", got.len().to_string());
    Ok(())
}

async fn cluster_name_in_info(ctx: Ctx) -> Result<()> {
    let s = sys_server(&ctx, NAMED_CONF).await?;
    let (_c, info) = ctx.raw(&s).await?;
    check_eq!(st(&info["cluster"]), "TEST CLUSTER 22");
    ctx.observe("info/cluster", st(&info["cluster"]));
    Ok(())
}

async fn bad_remote_latency_update(ctx: Ctx) -> Result<()> {
    let s = sys_server(&ctx, "").await?;
    let (mut c, info) = requester(&ctx, &s, &login("sys", "pwd")).await?;
    let id = server_id(&info)?;
    // The server listens for remote latency measurements on a subject of its own.
    let r = request(&mut c, "$SYS.REQ.ACCOUNT.SYS.SUBSZ", "").await?;
    let latency: Vec<String> = r["data"]["subscriptions_list"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|e| st(&e["subject"]).to_string())
                .filter(|sub| sub.starts_with("$SYS.LATENCY.M2."))
                .collect()
        })
        .unwrap_or_default();
    check_eq!(latency.len(), 1);
    let body = r#"{"account":"NONSENSE","req_id":"_INBOX.22","m2":{}}"#;
    c.send(&format!("PUB {} {}\r\n{body}\r\n", latency[0], body.len()))
        .await?;
    c.send(&format!("PUB {} 5\r\nnope!\r\n", latency[0]))
        .await?;
    c.flush().await?;
    // The server is still there and still answers.
    let r = request(&mut c, "$SYS.REQ.SERVER.PING", "").await?;
    check_server_info(&r["server"], &id)?;
    ctx.observe("latency-subscriptions", latency.len().to_string());
    Ok(())
}

// ---------------------------------------------------------------- $SYS.DEBUG.SUBSCRIBERS

/// FOO imports the system account's subscriber count service.
const DEBUG_CONF: &str = "system_account: SYS\naccounts {\n  SYS { users = [ {user: sys, password: pwd} ], exports = [ {service: \"$SYS.DEBUG.SUBSCRIBERS\"} ] }\n  FOO { users = [ {user: foo, password: pwd} ], imports = [ {service: {account: SYS, subject: \"$SYS.DEBUG.SUBSCRIBERS\"}} ] }\n}\n";

async fn debug_server(ctx: &Ctx) -> Result<(Server, RawClient)> {
    let s = ctx.server(ServerSpec::new().conf(DEBUG_CONF)).await?;
    let (c, _) = requester(ctx, &s, &login("foo", "pwd")).await?;
    Ok((s, c))
}

/// The subscriber count the service answers for this request body.
async fn num_subs(c: &mut RawClient, body: &str) -> Result<i64> {
    let reply = send_request(c, "$SYS.DEBUG.SUBSCRIBERS", body, false).await?;
    let m = next_msg(c, WAIT)
        .await?
        .with_context(|| format!("no answer for {body:?}"))?;
    check_eq!(m.subject, reply);
    let text = String::from_utf8_lossy(&m.payload).into_owned();
    text.parse()
        .with_context(|| format!("{body:?}: not a number: {text:?}"))
}

async fn check_num_subs(ctx: &Ctx, c: &mut RawClient, body: &str, want: i64) -> Result<()> {
    let got = num_subs(c, body).await?;
    ctx.observe(
        &format!("subscribers/{}", body.escape_debug()),
        got.to_string(),
    );
    ensure!(
        got == want,
        "{body:?}: expected {want} subscribers, got {got}"
    );
    Ok(())
}

async fn foo_client(ctx: &Ctx, s: &Server, subs: &[String]) -> Result<RawClient> {
    let (mut c, _) = connect(ctx, s, &login("foo", "pwd")).await?;
    for (i, sub) in subs.iter().enumerate() {
        c.send(&format!("SUB {sub} {}\r\n", i + 1)).await?;
    }
    c.flush().await?;
    Ok(c)
}

async fn debug_subscribers(ctx: Ctx) -> Result<()> {
    let (s, mut c) = debug_server(&ctx).await?;
    check_num_subs(&ctx, &mut c, "foo.bar", 0).await?;
    let mut keep = Vec::new();
    for _ in 0..5 {
        keep.push(foo_client(&ctx, &s, &["foo.bar".into(), "foo.*".into()]).await?);
    }
    check_num_subs(&ctx, &mut c, "foo.bar", 10).await?;
    for _ in 0..30 {
        keep.push(foo_client(&ctx, &s, &["foo.bar".into()]).await?);
    }
    check_num_subs(&ctx, &mut c, "foo.bar", 40).await?;
    // Other accounts' subscriptions do not count.
    let (mut sys, _) = connect(&ctx, &s, &login("sys", "pwd")).await?;
    sys.send("SUB foo.bar 1\r\n").await?;
    sys.flush().await?;
    check_num_subs(&ctx, &mut c, "foo.bar", 40).await?;
    // Leading and trailing white space is ignored.
    check_num_subs(&ctx, &mut c, "  foo.bar\r\n", 40).await
}

async fn debug_subscribers_wildcards(ctx: Ctx) -> Result<()> {
    let (s, mut c) = debug_server(&ctx).await?;
    let mut keep = Vec::new();
    for i in 0..10 {
        let subs: Vec<String> = (1..=5)
            .flat_map(|j| {
                let k = i * 5 + j;
                [format!("foo.bar.{k}"), format!("{k}")]
            })
            .collect();
        keep.push(foo_client(&ctx, &s, &subs).await?);
    }
    check_num_subs(&ctx, &mut c, "foo.bar.*", 50).await?;
    check_num_subs(&ctx, &mut c, "foo.>", 50).await?;
    check_num_subs(&ctx, &mut c, "foo.bar.22", 1).await?;
    // The requester's own reply subscription is one more.
    let inbox = num_subs(&mut c, "_INBOX.*.*").await?;
    check_eq!(inbox, 1);
    check_num_subs(&ctx, &mut c, ">", 100 + inbox).await
}

async fn debug_subscribers_queue_groups(ctx: Ctx) -> Result<()> {
    let (s, mut c) = debug_server(&ctx).await?;
    let mut keep = Vec::new();
    for i in 1..=10 {
        let (mut q, _) = connect(&ctx, &s, &login("foo", "pwd")).await?;
        q.send(&format!(
            "SUB foo.bar.{i} QG.11 1\r\nSUB foo.baz QG.33 2\r\n"
        ))
        .await?;
        q.flush().await?;
        keep.push(q);
    }
    for i in 1..=23 {
        let (mut q, _) = connect(&ctx, &s, &login("foo", "pwd")).await?;
        q.send(&format!(
            "SUB foo.bar.{i} QG.22 1\r\nSUB foo.baz QG.22 2\r\n"
        ))
        .await?;
        q.flush().await?;
        keep.push(q);
    }
    check_num_subs(&ctx, &mut c, "foo.bar.*", 33).await?;
    check_num_subs(&ctx, &mut c, "foo.bar.22 QG.22", 1).await?;
    check_num_subs(&ctx, &mut c, "foo.bar.2", 2).await?;
    check_num_subs(&ctx, &mut c, "foo.baz", 33).await?;
    check_num_subs(&ctx, &mut c, "foo.baz QG.22", 23).await?;
    check_num_subs(&ctx, &mut c, "foo.bar.> QG.11", 10).await?;
    check_num_subs(&ctx, &mut c, "*.baz QG.22", 23).await?;
    check_num_subs(&ctx, &mut c, "foo.*.22 QG.22", 1).await
}
