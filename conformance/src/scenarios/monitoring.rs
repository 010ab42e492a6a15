//! Scenarios from server/monitor_test.go, test/monitor_test.go,
//! server/closed_conns_test.go and server/ring_test.go: the HTTP monitoring
//! endpoints (/varz, /connz, /subsz, /routez, /gatewayz, /leafz, /accountz,
//! /accstatz, /jsz, /healthz, the root page) seen from outside.
//!
//! Monitoring JSON carries many values that differ by run (times, ports, ids,
//! memory, rtt); the scenarios observe a deterministic projection only: field
//! names, counts, values fixed by the config and by the traffic they made.

use crate::check_eq;
use crate::kit::{ports, Ctx, RawClient, Server, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{anyhow, bail, ensure, Context, Result};
use futures::FutureExt;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

/// The Go tests' monitor server: a name, a tag, no system account.
const MON: &str = "http: 127.0.0.1:{{http_port}}\nserver_name: monitor_server\nserver_tags: [\"tag\"]\nno_system_account: true\n";

const SETTLE: Duration = Duration::from_secs(3);

const CONNECT: &str = r#"{"verbose":false,"pedantic":false}"#;

async fn mon_server(ctx: &Ctx, extra: &str) -> Result<Server> {
    ctx.server(ServerSpec::new().conf(&format!("{MON}{extra}")))
        .await
}

/// An HTTP answer: status, content type, body.
struct Resp {
    status: u16,
    ctype: String,
    body: String,
}

async fn get(s: &Server, path: &str) -> Result<Resp> {
    get_url(&format!("{}{}", s.http_base()?, path)).await
}

async fn get_url(url: &str) -> Result<Resp> {
    let r = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    Ok(Resp {
        status,
        ctype,
        body: r.text().await?,
    })
}

async fn jget(ctx: &Ctx, s: &Server, path: &str) -> Result<Value> {
    ctx.http_json(s, path).await
}

/// A 400 with a plain-text body; returns the body.
async fn bad_request(s: &Server, path: &str) -> Result<String> {
    let r = get(s, path).await?;
    ensure!(
        r.status == 400,
        "GET {path}: status {} ({}), want 400",
        r.status,
        r.body
    );
    check_eq!(r.ctype.as_str(), "text/plain; charset=utf-8");
    Ok(r.body)
}

/// JSONP: `callback(...)` served as application/javascript.
async fn check_jsonp(s: &Server, path: &str) -> Result<()> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let r = get(s, &format!("{path}{sep}callback=callback")).await?;
    check_eq!(r.status, 200);
    check_eq!(r.ctype.as_str(), "application/javascript");
    ensure!(
        r.body.starts_with("callback(") && r.body.ends_with(')'),
        "JSONP body {:?}",
        r.body
    );
    let inner = &r.body["callback(".len()..r.body.len() - 1];
    serde_json::from_str::<Value>(inner).context("JSONP payload is not JSON")?;
    Ok(())
}

/// The Go tests' client that subscribes to an inbox, publishes "Hello" to it,
/// receives it and unsubscribes: 1 message and 5 bytes each way, no sub left.
async fn sub_pub_conn(ctx: &Ctx, s: &Server, connect: &str) -> Result<RawClient> {
    let (mut c, _) = ctx.raw(s).await?;
    c.send(&format!(
        "CONNECT {connect}\r\nSUB _INBOX.monitor 1\r\nPUB _INBOX.monitor 5\r\nHello\r\n"
    ))
    .await?;
    let msgs = c.msgs_until_pong().await?;
    check_eq!(msgs.len(), 1);
    c.send("UNSUB 1\r\n").await?;
    c.ops_until_pong().await?;
    Ok(c)
}

/// test/monitor_test.go's client: `SUB foo 1`, publishes "hello" to foo and
/// receives it (the subscription stays).
async fn foo_conn(ctx: &Ctx, s: &Server) -> Result<RawClient> {
    let (mut c, _) = ctx.raw(s).await?;
    c.send(&format!(
        "CONNECT {CONNECT}\r\nSUB foo 1\r\nPUB foo 5\r\nhello\r\n"
    ))
    .await?;
    check_eq!(c.msgs_until_pong().await?.len(), 1);
    Ok(c)
}

/// A connection that sent CONNECT with a name.
async fn named_conn(ctx: &Ctx, s: &Server, name: &str) -> Result<RawClient> {
    let (mut c, _) = ctx.raw(s).await?;
    c.send(&format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"name\":\"{name}\"}}\r\n"
    ))
    .await?;
    c.ops_until_pong().await?;
    Ok(c)
}

/// Sends protocol lines and waits for them to be processed.
async fn send_flush(c: &mut RawClient, proto: &str) -> Result<Vec<crate::kit::Op>> {
    c.send(proto).await?;
    c.ops_until_pong().await
}

fn conns(v: &Value) -> Result<&Vec<Value>> {
    v["connections"]
        .as_array()
        .ok_or_else(|| anyhow!("no connections array in {v}"))
}

fn u(v: &Value, k: &str) -> Result<u64> {
    v[k].as_u64()
        .ok_or_else(|| anyhow!("no unsigned {k:?} in {v}"))
}

fn s_of<'a>(v: &'a Value, k: &str) -> Result<&'a str> {
    v[k].as_str()
        .ok_or_else(|| anyhow!("no string {k:?} in {v}"))
}

fn cids(v: &Value) -> Result<Vec<u64>> {
    conns(v)?.iter().map(|c| u(c, "cid")).collect()
}

fn cid_text(cids: &[u64]) -> String {
    cids.iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn keys(v: &Value) -> String {
    v.as_object()
        .map(|m| m.keys().cloned().collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

/// The deterministic part of one ConnInfo.
fn conn_projection(c: &Value) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("keys".into(), json!(keys(c)));
    for k in [
        "kind",
        "type",
        "ip",
        "in_msgs",
        "out_msgs",
        "in_bytes",
        "out_bytes",
        "subscriptions",
        "name",
        "reason",
        "authorized_user",
        "account",
        "subscriptions_list",
    ] {
        if let Some(v) = c.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    Value::Object(out)
}

/// Parses Go's RFC 3339 timestamps (UTC).
fn ts(v: &Value, k: &str) -> Result<SystemTime> {
    let t = s_of(v, k)?;
    humantime::parse_rfc3339_weak(t).with_context(|| format!("{k} = {t:?} is not RFC 3339"))
}

/// Parses a Go duration (`1.5ms`, `643µs`, `1m2s`) or the server's uptime
/// format (`1y2d3h4m5s`).
fn dur(s: &str) -> Result<Duration> {
    ensure!(!s.is_empty(), "empty duration");
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| anyhow!("duration {s:?} lacks a unit"))?;
        ensure!(num_end > 0, "bad duration {s:?}");
        let n: f64 = rest[..num_end].parse().context("duration number")?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "y" => 365.0 * 86400.0,
            other => bail!("unknown unit {other:?} in {s:?}"),
        };
        total += n * secs;
        rest = &rest[unit_end..];
    }
    Ok(Duration::from_secs_f64(total))
}

/// Waits until `/connz?state=closed` lists `n` connections.
async fn wait_closed(ctx: &Ctx, s: &Server, n: u64) -> Result<Value> {
    kit_eventually(|| async move {
        let v = jget(ctx, s, "/connz?state=closed").await?;
        Ok((u(&v, "total")? == n).then_some(v))
    })
    .await
    .with_context(|| format!("waiting for {n} closed connections"))
}

/// Waits until `/connz` lists `n` open connections.
async fn wait_open(ctx: &Ctx, s: &Server, n: u64) -> Result<Value> {
    kit_eventually(|| async move {
        let v = jget(ctx, s, "/connz").await?;
        Ok((u(&v, "num_connections")? == n).then_some(v))
    })
    .await
    .with_context(|| format!("waiting for {n} open connections"))
}

async fn kit_eventually<T, F, Fut>(check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    crate::kit::eventually(SETTLE, check).await
}

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("monitoring/no-monitor-port", |c| no_monitor_port(c).boxed())
            .full("server/monitor_test.go:TestNoMonitorPort")
            .full("test/monitor_test.go:TestNoMonitorPort"),
        Scenario::new("monitoring/http-base-path", |c| http_base_path(c).boxed())
            .full("TestHTTPBasePath"),
        Scenario::new("monitoring/varz", |c| varz(c).boxed()).full("TestHandleVarz"),
        Scenario::new("monitoring/varz-test-fields", |c| {
            varz_test_fields(c).boxed()
        })
        .full("test/monitor_test.go:TestVarz"),
        Scenario::new("monitoring/varz-subscriptions-stable", |c| {
            varz_subs_stable(c).boxed()
        })
        .needs(Need::JetStream)
        .full("TestVarzSubscriptionsResetProperly"),
        Scenario::new("monitoring/uptime-format", |c| uptime_format(c).boxed())
            .partial("TestMyUptime"),
        Scenario::new("monitoring/varz-struct-present", |c| {
            varz_struct_present(c).boxed()
        })
        .full("TestClusterEmptyWhenNotDefined")
        .partial("TestMonitorCluster")
        .partial("TestMonitorGateway")
        .partial("TestMonitorLeafNode"),
        Scenario::new("monitoring/varz-cluster-opts", |c| {
            varz_cluster_opts(c).boxed()
        })
        .needs(Need::Cluster(1))
        .full("TestMonitorCluster"),
        Scenario::new("monitoring/connz", |c| connz(c).boxed())
            .full("server/monitor_test.go:TestConnz"),
        Scenario::new("monitoring/connz-test-fields", |c| {
            connz_test_fields(c).boxed()
        })
        .full("test/monitor_test.go:TestConnz"),
        Scenario::new("monitoring/connz-bad-params", |c| {
            connz_bad_params(c).boxed()
        })
        .full("TestConnzBadParams"),
        Scenario::new("monitoring/connz-sort-bad", |c| connz_sort_bad(c).boxed())
            .full("TestConnzSortBadRequest"),
        Scenario::new("monitoring/connz-subs", |c| connz_subs(c).boxed())
            .full("server/monitor_test.go:TestConnzWithSubs"),
        Scenario::new("monitoring/connz-subs-foo", |c| connz_subs_foo(c).boxed())
            .full("test/monitor_test.go:TestConnzWithSubs"),
        Scenario::new("monitoring/connz-subs-detail", |c| {
            connz_subs_detail(c).boxed()
        })
        .full("TestConnzWithSubsDetail"),
        Scenario::new("monitoring/connz-closed-subs-detail", |c| {
            connz_closed_subs_detail(c).boxed()
        })
        .full("TestClosedConnzWithSubsDetail"),
        Scenario::new("monitoring/connz-cid", |c| connz_cid(c).boxed()).full("TestConnzWithCID"),
        Scenario::new("monitoring/connz-rtt", |c| connz_rtt(c).boxed()).full("TestConnzRTT"),
        Scenario::new("monitoring/connz-last-activity", |c| {
            connz_last_activity(c).boxed()
        })
        .full("TestConnzLastActivity"),
        Scenario::new("monitoring/connz-offset-limit", |c| {
            connz_offset_limit(c).boxed()
        })
        .full("server/monitor_test.go:TestConnzWithOffsetAndLimit")
        .full("test/monitor_test.go:TestConnzWithOffsetAndLimit"),
        Scenario::new("monitoring/connz-sort-cid", |c| connz_sort_cid(c).boxed())
            .full("TestConnzDefaultSorted")
            .full("TestConnzSortedByCid"),
        Scenario::new("monitoring/connz-sort-start", |c| {
            connz_sort_start(c).boxed()
        })
        .full("TestConnzSortedByStart"),
        Scenario::new("monitoring/connz-sort-bytes-msgs", |c| {
            connz_sort_bytes_msgs(c).boxed()
        })
        .full("TestConnzSortedByBytesAndMsgs"),
        Scenario::new("monitoring/connz-sort-pending", |c| {
            connz_sort_pending(c).boxed()
        })
        .full("TestConnzSortedByPending"),
        Scenario::new("monitoring/connz-sort-subs", |c| connz_sort_subs(c).boxed())
            .full("TestConnzSortedBySubs"),
        Scenario::new("monitoring/connz-sort-last", |c| connz_sort_last(c).boxed())
            .full("TestConnzSortedByLast"),
        Scenario::new("monitoring/connz-sort-uptime", |c| {
            connz_sort_uptime(c).boxed()
        })
        .full("TestConnzSortedByUptime"),
        Scenario::new("monitoring/connz-sort-uptime-closed", |c| {
            connz_sort_uptime_closed(c).boxed()
        })
        .full("TestConnzSortedByUptimeClosedConn"),
        Scenario::new("monitoring/connz-sort-closed-only", |c| {
            connz_sort_closed_only(c).boxed()
        })
        .full("TestConnzSortedByStopOnOpen")
        .full("TestConnzSortedByReasonOnOpen"),
        Scenario::new("monitoring/connz-sort-stop-closed", |c| {
            connz_sort_stop_closed(c).boxed()
        })
        .full("TestConnzSortedByStopTimeClosedConn"),
        Scenario::new("monitoring/connz-sort-reason", |c| {
            connz_sort_reason(c).boxed()
        })
        .full("TestConnzSortedByReason"),
        Scenario::new("monitoring/connz-sort-idle", |c| connz_sort_idle(c).boxed())
            .partial("TestConnzSortedByIdle"),
        Scenario::new("monitoring/connz-named-client", |c| {
            connz_named_client(c).boxed()
        })
        .full("TestConnzWithNamedClient"),
        Scenario::new("monitoring/connz-state", |c| connz_state(c).boxed())
            .full("TestConnzWithStateForClosedConns"),
        Scenario::new("monitoring/connz-closed-race", |c| {
            connz_closed_race(c).boxed()
        })
        .full("TestConnzClosedConnsRace"),
        Scenario::new("monitoring/connz-closed-bad-client", |c| {
            connz_closed_bad_client(c).boxed()
        })
        .full("TestConnzClosedConnsBadClient"),
        Scenario::new("monitoring/connz-auth-user", |c| connz_auth_user(c).boxed())
            .full("TestConnzWithAuth"),
        Scenario::new("monitoring/connz-accounts", |c| connz_accounts(c).boxed())
            .full("TestConnzWithAccounts"),
        Scenario::new("monitoring/connz-authorized-users", |c| {
            connz_authorized_users(c).boxed()
        })
        .partial("TestMonitorAuthorizedUsers"),
        Scenario::new("monitoring/subsz", |c| subsz(c).boxed())
            .full("server/monitor_test.go:TestSubsz"),
        Scenario::new("monitoring/subscriptionsz", |c| subscriptionsz(c).boxed())
            .full("test/monitor_test.go:TestSubsz"),
        Scenario::new("monitoring/subsz-details", |c| subsz_details(c).boxed())
            .full("TestSubszDetails"),
        Scenario::new("monitoring/subsz-offset-limit", |c| {
            subsz_offset_limit(c).boxed()
        })
        .full("TestSubszWithOffsetAndLimit"),
        Scenario::new("monitoring/subsz-test-subject", |c| {
            subsz_test_subject(c).boxed()
        })
        .full("TestSubszTestPubSubject"),
        Scenario::new("monitoring/subsz-multi-account", |c| {
            subsz_multi_account(c).boxed()
        })
        .full("TestSubszMultiAccount"),
        Scenario::new("monitoring/subsz-multi-account-offset-limit", |c| {
            subsz_multi_account_offset_limit(c).boxed()
        })
        .full("TestSubszMultiAccountWithOffsetAndLimit"),
        Scenario::new("monitoring/root", |c| root(c).boxed()).full("TestHandleRoot"),
        Scenario::new("monitoring/concurrent", |c| concurrent(c).boxed())
            .full("TestConcurrentMonitoring")
            .partial("TestVarzRaces")
            .partial("TestEndpointDataRaces"),
        Scenario::new("monitoring/server-ids", |c| server_ids(c).boxed()).full("TestServerIDs"),
        Scenario::new("monitoring/http-req-stats", |c| http_req_stats(c).boxed())
            .partial("TestHttpStatsNoUpdatedWhenUsingServerFuncs"),
        Scenario::new("monitoring/system-requests-not-counted", |c| {
            system_requests_not_counted(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestHttpStatsNoUpdatedWhenUsingServerFuncs"),
        Scenario::new("monitoring/routez-no-routes", |c| {
            routez_no_routes(c).boxed()
        })
        .full("TestRoutezWithBadParams"),
        Scenario::new("monitoring/endpoints-no-remotes", |c| {
            endpoints_no_remotes(c).boxed()
        })
        .partial("TestMonitorGatewayz"),
        Scenario::new("monitoring/accountz", |c| accountz(c).boxed()).full("TestMonitorAccountz"),
        Scenario::new("monitoring/jsz-disabled", |c| jsz_disabled(c).boxed())
            .full("TestMonitorJszNonJszServer"),
        Scenario::new("monitoring/https-no-tls", |c| https_no_tls(c).boxed())
            .full("TestMonitorNoTLSConfig"),
        Scenario::new("monitoring/listen-error", |c| listen_error(c).boxed())
            .full("TestMonitorErrorOnListen"),
        Scenario::new("monitoring/both-ports", |c| both_ports(c).boxed())
            .full("TestMonitorBothPortsConfigured"),
        Scenario::new("monitoring/stop", |c| monitor_stop(c).boxed()).full("TestMonitorStop"),
        Scenario::new("monitoring/http-host", |c| http_host(c).boxed()).full("TestHTTPHost"),
        Scenario::new("monitoring/closed-subs", |c| closed_subs(c).boxed())
            .full("TestClosedConnsSubsAccounting"),
        Scenario::new("monitoring/closed-auth-timeout", |c| {
            closed_auth_timeout(c).boxed()
        })
        .full("TestClosedAuthorizationTimeout"),
        Scenario::new("monitoring/closed-auth-violation", |c| {
            closed_auth_violation(c).boxed()
        })
        .full("TestClosedAuthorizationViolation"),
        Scenario::new("monitoring/closed-up-violation", |c| {
            closed_up_violation(c).boxed()
        })
        .full("TestClosedUPAuthorizationViolation"),
        Scenario::new("monitoring/closed-max-payload", |c| {
            closed_max_payload(c).boxed()
        })
        .full("TestClosedMaxPayload"),
        Scenario::new("monitoring/closed-ring", |c| closed_ring(c).boxed())
            .timeout(Duration::from_secs(60))
            .full("TestRBclosedClients")
            .full("TestRBAppendAndLenAndTotal")
            .full("TestClosedConnsAccounting"),
        Scenario::new("monitoring/connz-tls-in-handshake", |c| {
            connz_tls_in_handshake(c).boxed()
        })
        .full("TestConnzTLSInHandshake"),
        Scenario::new("monitoring/varz-tls-cfg", |c| varz_tls_cfg(c).boxed())
            .partial("TestConnzTLSCfg"),
        Scenario::new("monitoring/connz-tls-peer-certs", |c| {
            connz_tls_peer_certs(c).boxed()
        })
        .full("TestConnzTLSPeerCerts"),
        Scenario::new("monitoring/closed-bad-tls-client", |c| {
            closed_bad_tls_client(c).boxed()
        })
        .full("TestConnzClosedConnsBadTLSClient"),
        Scenario::new("monitoring/closed-tls-handshake", |c| {
            closed_tls_handshake(c).boxed()
        })
        .full("TestClosedTLSHandshake"),
    ]
}

// ---------------------------------------------------------------- /varz

async fn no_monitor_port(ctx: Ctx) -> Result<()> {
    // Without http/https in the config nothing serves monitoring.
    let s = ctx.default_server().await?;
    ensure!(
        !s.logs().contains("Starting http monitor"),
        "monitoring started without being asked:\n{}",
        s.logs()
    );
    let port = ports::alloc()?;
    for path in ["varz", "healthz", "connz"] {
        let r = get_url(&format!("http://127.0.0.1:{port}/{path}")).await;
        ensure!(r.is_err(), "GET /{path} answered without a monitor port");
    }
    drop(s);
    // With a monitor port the same three answer.
    let m = mon_server(&ctx, "").await?;
    for path in ["/varz", "/healthz", "/connz"] {
        let r = get(&m, path).await?;
        check_eq!(r.status, 200);
        check_eq!(r.ctype.as_str(), "application/json");
    }
    let h = jget(&ctx, &m, "/healthz").await?;
    check_eq!(h, json!({"status": "ok"}));
    ctx.observe_json("healthz", &h);
    ctx.observe("without", "refused");
    Ok(())
}

async fn http_base_path(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "http_base_path: /nats\n").await?;
    let root = get(&s, "/nats").await?;
    check_eq!(root.status, 200);
    check_eq!(root.ctype.as_str(), "text/html; charset=utf-8");
    let v = jget(&ctx, &s, "/nats/varz").await?;
    check_eq!(v["http_base_path"], json!("/nats"));
    let plain = get(&s, "/varz").await?;
    ctx.observe(
        "statuses",
        format!(
            "root={} varz={} plain_varz={}",
            root.status, 200, plain.status
        ),
    );
    ctx.observe_json("base_path", &v["http_base_path"]);
    Ok(())
}

/// The parts of /varz a scenario's traffic fixes.
fn varz_projection(v: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for k in [
        "server_name",
        "connections",
        "total_connections",
        "in_msgs",
        "out_msgs",
        "in_bytes",
        "out_bytes",
        "subscriptions",
        "slow_consumers",
        "routes",
        "remotes",
        "leafnodes",
        "tags",
        "max_connections",
        "max_payload",
        "max_pending",
        "max_control_line",
        "ping_max",
        "ping_interval",
        "write_deadline",
        "auth_timeout",
        "tls_timeout",
        "proto",
        "version",
    ] {
        out.insert(k.into(), v.get(k).cloned().unwrap_or(Value::Null));
    }
    Value::Object(out)
}

async fn varz(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let v = jget(&ctx, &s, "/varz").await?;
    let start = ts(&v, "start")?;
    let age = SystemTime::now().duration_since(start).unwrap_or_default();
    ensure!(age < Duration::from_secs(10), "start {age:?} ago");
    ctx.observe("keys", keys(&v));
    let _c = sub_pub_conn(&ctx, &s, CONNECT).await?;
    let v = jget(&ctx, &s, "/varz").await?;
    check_eq!(u(&v, "connections")?, 1);
    ensure!(u(&v, "total_connections")? >= 1, "total_connections");
    check_eq!(u(&v, "in_msgs")?, 1);
    check_eq!(u(&v, "out_msgs")?, 1);
    check_eq!(u(&v, "in_bytes")?, 5);
    check_eq!(u(&v, "out_bytes")?, 5);
    check_eq!(u(&v, "subscriptions")?, 0);
    check_eq!(s_of(&v, "server_name")?, "monitor_server");
    ensure!(
        v["tags"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("tag"))),
        "tags {}",
        v["tags"]
    );
    ctx.observe_json("varz", &varz_projection(&v));
    check_jsonp(&s, "/varz").await?;
    Ok(())
}

async fn varz_test_fields(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("http: 127.0.0.1:{{http_port}}\nno_system_account: true\n"))
        .await?;
    let v = jget(&ctx, &s, "/varz").await?;
    let age = SystemTime::now()
        .duration_since(ts(&v, "start")?)
        .unwrap_or_default();
    ensure!(age < Duration::from_secs(10), "start {age:?} ago");
    let _c = foo_conn(&ctx, &s).await?;
    let r = get(&s, "/varz").await?;
    check_eq!(r.status, 200);
    ensure!(
        !r.body.contains("cluster_port"),
        "varz has cluster information without a cluster"
    );
    let v: Value = serde_json::from_str(&r.body)?;
    check_eq!(u(&v, "connections")?, 1);
    check_eq!(u(&v, "in_msgs")?, 1);
    check_eq!(u(&v, "out_msgs")?, 1);
    check_eq!(u(&v, "in_bytes")?, 5);
    check_eq!(u(&v, "out_bytes")?, 5);
    check_eq!(u(&v, "max_pending")?, 64 * 1024 * 1024);
    check_eq!(u(&v, "write_deadline")?, 10_000_000_000);
    ctx.observe_json("varz", &varz_projection(&v));
    Ok(())
}

async fn varz_subs_stable(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(
            "http: 127.0.0.1:{{http_port}}\nserver_name: monitor_server\njetstream: {store_dir: \"{{dir}}/js\"}\n",
        ))
        .await?;
    let first = u(&jget(&ctx, &s, "/varz").await?, "subscriptions")?;
    let mut seen = vec![first];
    for _ in 0..3 {
        seen.push(u(&jget(&ctx, &s, "/varz").await?, "subscriptions")?);
    }
    ensure!(
        seen.iter().all(|n| *n == first),
        "subscriptions changed between polls: {seen:?}"
    );
    // The count itself: the server's own (JetStream, system) subscriptions.
    ctx.observe("subscriptions", first.to_string());
    Ok(())
}

async fn uptime_format(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let _c = sub_pub_conn(&ctx, &s, CONNECT).await?;
    let re = regex::Regex::new(r"^(\d+y)?(\d+d)?(\d+h)?(\d+m)?\d+s$")?;
    let digits = regex::Regex::new(r"\d+")?;
    let v = jget(&ctx, &s, "/varz").await?;
    let c = jget(&ctx, &s, "/connz").await?;
    let ci = &conns(&c)?[0];
    for (what, val) in [
        ("varz uptime", s_of(&v, "uptime")?),
        ("conn uptime", s_of(ci, "uptime")?),
        ("conn idle", s_of(ci, "idle")?),
    ] {
        ensure!(
            re.is_match(val),
            "{what} {val:?} not in the y/d/h/m/s format"
        );
        dur(val)?;
        // The shape of what the server wrote, its numbers masked.
        ctx.observe(what, digits.replace_all(val, "N"));
    }
    Ok(())
}

async fn varz_struct_present(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let r = get(&s, "/varz").await?;
    check_eq!(r.status, 200);
    for tag in ["cluster", "gateway", "leaf"] {
        ensure!(
            r.body.contains(&format!("\"{tag}\": {{}}")),
            "{tag} should be present and empty: {}",
            r.body
        );
    }
    let v: Value = serde_json::from_str(&r.body)?;
    for tag in [
        "cluster",
        "gateway",
        "leaf",
        "mqtt",
        "websocket",
        "jetstream",
    ] {
        ctx.observe_json(tag, &v[tag]);
    }
    Ok(())
}

async fn varz_cluster_opts(ctx: Ctx) -> Result<()> {
    // testMonitorStructPresent: without a cluster block, "cluster" is there, empty.
    {
        let plain = mon_server(&ctx, "").await?;
        let r = get(&plain, "/varz").await?;
        check_eq!(r.status, 200);
        ensure!(
            r.body.contains("\"cluster\": {}"),
            "cluster should be present and empty: {}",
            r.body
        );
        let v: Value = serde_json::from_str(&r.body)?;
        ctx.observe_json("cluster when not configured", &v["cluster"]);
    }
    let dead = ports::alloc()?;
    let s = mon_server(
        &ctx,
        &format!(
            "cluster {{\n  name: A\n  port: {{{{cluster_port}}}}\n  authorization {{ timeout: 1 }}\n  routes: [\"nats://127.0.0.1:{dead}\"]\n}}\n"
        ),
    )
    .await?;
    let cport = s.ports().cluster.context("cluster port")?;
    for _ in 0..2 {
        let v = jget(&ctx, &s, "/varz").await?;
        let c = &v["cluster"];
        check_eq!(c["name"], json!("A"));
        check_eq!(c["cluster_port"], json!(cport));
        check_eq!(c["auth_timeout"].as_f64(), Some(1.0));
        check_eq!(c["urls"], json!([format!("127.0.0.1:{dead}")]));
        check_eq!(c["addr"], json!("0.0.0.0"));
        check_eq!(c["tls_timeout"].as_f64(), Some(2.0));
        for flag in ["tls_required", "tls_verify"] {
            ensure!(
                c.get(flag).is_none_or(|v| v == &json!(false)),
                "{flag} set without TLS: {c}"
            );
        }
        // Nothing beyond ClusterOptsVarz's fields (a deep equality).
        let fields = [
            "name",
            "addr",
            "cluster_port",
            "auth_timeout",
            "urls",
            "tls_timeout",
            "tls_required",
            "tls_verify",
        ];
        let extra: Vec<&String> = c
            .as_object()
            .context("cluster is not an object")?
            .keys()
            .filter(|k| !fields.contains(&k.as_str()))
            .collect();
        ensure!(extra.is_empty(), "fields beyond ClusterOptsVarz: {extra:?}");
        let mut shown = c.clone();
        shown["cluster_port"] = json!("<cluster-port>");
        shown["urls"] = json!(["127.0.0.1:<dead-port>"]);
        ctx.observe_json("cluster", &shown);
    }
    Ok(())
}

// ---------------------------------------------------------------- /connz

async fn connz(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let c = jget(&ctx, &s, "/connz").await?;
    check_eq!(u(&c, "num_connections")?, 0);
    check_eq!(u(&c, "total")?, 0);
    check_eq!(c["connections"], json!([]));
    ctx.observe("empty_keys", keys(&c));
    let cl = sub_pub_conn(&ctx, &s, CONNECT).await?;
    let c = jget(&ctx, &s, "/connz").await?;
    check_eq!(u(&c, "num_connections")?, 1);
    check_eq!(u(&c, "total")?, 1);
    check_eq!(conns(&c)?.len(), 1);
    check_eq!(u(&c, "limit")?, 1024);
    check_eq!(u(&c, "offset")?, 0);
    let ci = &conns(&c)?[0];
    ensure!(u(ci, "cid")? > 0, "cid");
    check_eq!(s_of(ci, "ip")?, "127.0.0.1");
    ensure!(u(ci, "port")? > 0, "port");
    check_eq!(u(ci, "subscriptions")?, 0);
    ensure!(ci.get("subscriptions_list").is_none(), "subs list");
    ensure!(ci.get("subscriptions_list_detail").is_none(), "subs detail");
    check_eq!(u(ci, "in_msgs")?, 1);
    check_eq!(u(ci, "out_msgs")?, 1);
    check_eq!(u(ci, "in_bytes")?, 5);
    check_eq!(u(ci, "out_bytes")?, 5);
    let start = ts(ci, "start")?;
    let last = ts(ci, "last_activity")?;
    ensure!(last >= start, "last_activity before start");
    dur(s_of(ci, "uptime")?)?;
    dur(s_of(ci, "idle")?)?;
    ensure!(!s_of(ci, "rtt")?.is_empty(), "rtt not set");
    ctx.observe_json("conn", &conn_projection(ci));
    drop(cl);
    wait_open(&ctx, &s, 0).await?;
    check_jsonp(&s, "/connz").await?;
    Ok(())
}

async fn connz_test_fields(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("http: 127.0.0.1:{{http_port}}\nno_system_account: true\n"))
        .await?;
    let c = jget(&ctx, &s, "/connz").await?;
    check_eq!(u(&c, "num_connections")?, 0);
    check_eq!(u(&c, "total")?, 0);
    check_eq!(c["connections"], json!([]));
    let _cl = foo_conn(&ctx, &s).await?;
    // Go adds a read batch's counts after it has written the batch's
    // answers: the client may have its PONG before /connz counts its PUB.
    let c = crate::kit::eventually(Duration::from_secs(2), || async {
        let c = jget(&ctx, &s, "/connz").await?;
        let counted = conns(&c)?.first().is_some_and(|ci| ci["in_msgs"] != 0);
        Ok(counted.then_some(c))
    })
    .await?;
    check_eq!(u(&c, "num_connections")?, 1);
    check_eq!(u(&c, "total")?, 1);
    check_eq!(u(&c, "limit")?, 1024);
    check_eq!(u(&c, "offset")?, 0);
    let ci = &conns(&c)?[0];
    ensure!(u(ci, "cid")? > 0 && u(ci, "port")? > 0, "cid/port");
    check_eq!(s_of(ci, "ip")?, "127.0.0.1");
    check_eq!(u(ci, "subscriptions")?, 1);
    ensure!(ci.get("subscriptions_list").is_none(), "subs list");
    check_eq!(
        (
            u(ci, "in_msgs")?,
            u(ci, "out_msgs")?,
            u(ci, "in_bytes")?,
            u(ci, "out_bytes")?
        ),
        (1, 1, 5, 5)
    );
    ctx.observe_json("conn", &conn_projection(ci));
    Ok(())
}

async fn connz_bad_params(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    for q in [
        "auth=xxx",
        "subs=xxx",
        "offset=xxx",
        "limit=xxx",
        "state=xxx",
        "cid=xxx",
    ] {
        let body = bad_request(&s, &format!("/connz?{q}")).await?;
        ctx.observe(q, body);
    }
    Ok(())
}

async fn connz_sort_bad(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let mut first = sub_pub_conn(&ctx, &s, CONNECT).await?;
    send_flush(&mut first, "SUB hello.world 2\r\n").await?;
    let mut keep = vec![first];
    for _ in 0..3 {
        keep.push(sub_pub_conn(&ctx, &s, CONNECT).await?);
    }
    let body = bad_request(&s, "/connz?sort=foo").await?;
    ctx.observe("sort=foo", body);
    Ok(())
}

async fn connz_subs(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let mut c = sub_pub_conn(&ctx, &s, CONNECT).await?;
    send_flush(&mut c, "SUB hello.foo 2\r\n").await?;
    let v = jget(&ctx, &s, "/connz?subs=1").await?;
    let ci = &conns(&v)?[0];
    check_eq!(ci["subscriptions_list"], json!(["hello.foo"]));
    ctx.observe_json("conn", &conn_projection(ci));
    Ok(())
}

async fn connz_subs_foo(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("http: 127.0.0.1:{{http_port}}\nno_system_account: true\n"))
        .await?;
    let _c = foo_conn(&ctx, &s).await?;
    let v = jget(&ctx, &s, "/connz?subs=1").await?;
    let ci = &conns(&v)?[0];
    check_eq!(ci["subscriptions_list"], json!(["foo"]));
    ctx.observe_json("conn", &conn_projection(ci));
    Ok(())
}

/// The deterministic fields of subscription details.
fn detail_projection(d: &Value) -> Result<Vec<Value>> {
    let list = d
        .as_array()
        .ok_or_else(|| anyhow!("no subscriptions_list_detail: {d}"))?;
    Ok(list
        .iter()
        .map(|e| {
            json!({
                "keys": keys(e),
                "account": e.get("account"),
                "subject": e.get("subject"),
                "qgroup": e.get("qgroup"),
                "sid": e.get("sid"),
                "msgs": e.get("msgs"),
            })
        })
        .collect())
}

async fn connz_subs_detail(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let mut c = sub_pub_conn(&ctx, &s, CONNECT).await?;
    send_flush(&mut c, "SUB hello.foo 2\r\n").await?;
    let v = jget(&ctx, &s, "/connz?subs=detail").await?;
    let ci = &conns(&v)?[0];
    let d = detail_projection(&ci["subscriptions_list_detail"])?;
    check_eq!(d.len(), 1);
    check_eq!(d[0]["subject"], json!("hello.foo"));
    ensure!(ci.get("subscriptions_list").is_none(), "plain list too");
    ctx.observe_json("detail", &json!(d));
    Ok(())
}

async fn connz_closed_subs_detail(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let mut c = sub_pub_conn(&ctx, &s, CONNECT).await?;
    send_flush(&mut c, "SUB hello.foo 2\r\n").await?;
    drop(c);
    wait_open(&ctx, &s, 0).await?;
    wait_closed(&ctx, &s, 1).await?;
    let v = jget(&ctx, &s, "/connz?state=closed&subs=detail").await?;
    let ci = &conns(&v)?[0];
    let d = detail_projection(&ci["subscriptions_list_detail"])?;
    check_eq!(d.len(), 1);
    check_eq!(d[0]["subject"], json!("hello.foo"));
    ctx.observe_json("detail", &json!(d));
    ctx.observe_json("conn", &conn_projection(ci));
    Ok(())
}

async fn connz_cid(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let mut keep = Vec::new();
    for i in 1..=10 {
        let mut c = sub_pub_conn(&ctx, &s, CONNECT).await?;
        if i == 5 {
            send_flush(&mut c, "SUB hello.foo 2\r\nSUB hello.bar 3\r\n").await?;
        }
        keep.push(c);
    }
    let v = jget(&ctx, &s, "/connz?cid=5").await?;
    check_eq!(conns(&v)?.len(), 1);
    check_eq!(u(&v, "num_connections")?, 1);
    let ci = &conns(&v)?[0];
    check_eq!(u(ci, "cid")?, 5);
    check_eq!(u(ci, "subscriptions")?, 2);
    ctx.observe("cid5", format!("cid={} subs=2", u(ci, "cid")?));
    let miss = jget(&ctx, &s, "/connz?cid=100").await?;
    check_eq!(conns(&miss)?.len(), 0);
    check_eq!(u(&miss, "num_connections")?, 0);
    ctx.observe("miss", format!("{}", conns(&miss)?.len()));
    Ok(())
}

async fn connz_rtt(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    // Go's duration format: a number and a unit, no spaces.
    let go_duration = regex::Regex::new(r"^\d+(\.\d+)?(ns|µs|ms|s)$")?;
    // Twice, as the Go test does (once per mode); each time the client goes
    // away and the server must count no client.
    for round in 0..2 {
        let mut c = sub_pub_conn(&ctx, &s, CONNECT).await?;
        let v = jget(&ctx, &s, "/connz").await?;
        check_eq!(u(&v, "num_connections")?, 1);
        ctx.observe(
            &format!("{round}/connections"),
            u(&v, "num_connections")?.to_string(),
        );
        // The client answers the server's PINGs; the RTT settles to a real value.
        let (rtt, text) = kit_eventually(|| {
            let (ctx, s) = (&ctx, &s);
            async move {
                let v = jget(ctx, s, "/connz").await?;
                let text = s_of(&conns(&v)?[0], "rtt")?.to_string();
                let rtt = dur(&text)?;
                Ok((rtt > Duration::ZERO).then_some((rtt, text)))
            }
        })
        .await?;
        ensure!(
            rtt >= Duration::from_nanos(100) && rtt <= Duration::from_millis(20),
            "Invalid RTT of {text}"
        );
        ctx.observe(
            &format!("{round}/rtt is a Go duration"),
            go_duration.is_match(&text).to_string(),
        );
        c.flush().await?;
        drop(c);
        // checkClientsCount(t, s, 0)
        let v = wait_open(&ctx, &s, 0).await?;
        ctx.observe(
            &format!("{round}/connections after close"),
            u(&v, "num_connections")?.to_string(),
        );
    }
    Ok(())
}

fn by_name(v: &Value) -> Result<BTreeMap<String, Value>> {
    Ok(conns(v)?
        .iter()
        .map(|c| (c["name"].as_str().unwrap_or("").to_string(), c.clone()))
        .collect())
}

async fn connz_last_activity(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let mut older = named_conn(&ctx, &s, "foo").await?;
    let mut newer = named_conn(&ctx, &s, "bar").await?;
    let path = "/connz?subs=1";
    let m = by_name(&jget(&ctx, &s, path).await?)?;
    let foo_la = ts(&m["foo"], "last_activity")?;
    let bar_la = ts(&m["bar"], "last_activity")?;
    ensure!(foo_la <= bar_la, "foo should be older than bar");
    older.flush().await?;
    newer.flush().await?;
    // A subscription moves older's last activity.
    send_flush(&mut older, "SUB hello.world 1\r\n").await?;
    let m = by_name(&jget(&ctx, &s, path).await?)?;
    let foo_la2 = ts(&m["foo"], "last_activity")?;
    ensure!(foo_la2 != foo_la, "SUB did not move last_activity");
    // A publish moves newer's, the delivery moves older's.
    send_flush(&mut newer, "PUB hello.world 5\r\nHello\r\n").await?;
    let got = older.msgs_until_pong().await?;
    check_eq!(got.len(), 1);
    let m = by_name(&jget(&ctx, &s, path).await?)?;
    let bar_la2 = ts(&m["bar"], "last_activity")?;
    let foo_la3 = ts(&m["foo"], "last_activity")?;
    ensure!(bar_la2 != bar_la, "PUB did not move last_activity");
    ensure!(foo_la3 != foo_la2, "delivery did not move last_activity");
    // An unsubscribe moves it again.
    send_flush(&mut older, "UNSUB 1\r\n").await?;
    let m = by_name(&jget(&ctx, &s, path).await?)?;
    let foo_la4 = ts(&m["foo"], "last_activity")?;
    ensure!(foo_la4 != foo_la3, "UNSUB did not move last_activity");
    // What the server counted for each, after the traffic.
    for name in ["foo", "bar"] {
        ctx.observe_json(name, &conn_projection(&m[name]));
    }
    Ok(())
}

async fn connz_offset_limit(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let v = jget(&ctx, &s, "/connz?offset=1&limit=1").await?;
    check_eq!(v["connections"], json!([]));
    let v = jget(&ctx, &s, "/connz?offset=-1&limit=-1").await?;
    check_eq!(v["connections"], json!([]));
    check_eq!(u(&v, "offset")?, 0);
    ctx.observe(
        "negative",
        format!("offset={} limit={}", v["offset"], v["limit"]),
    );
    let _a = sub_pub_conn(&ctx, &s, CONNECT).await?;
    let _b = sub_pub_conn(&ctx, &s, CONNECT).await?;
    let v = jget(&ctx, &s, "/connz?offset=1&limit=1").await?;
    check_eq!(
        (
            u(&v, "limit")?,
            u(&v, "offset")?,
            conns(&v)?.len(),
            u(&v, "num_connections")?,
            u(&v, "total")?
        ),
        (1, 1, 1, 1, 2)
    );
    ctx.observe("page1", format!("cids={}", cid_text(&cids(&v)?)));
    let v = jget(&ctx, &s, "/connz?offset=2&limit=1").await?;
    check_eq!(
        (
            u(&v, "limit")?,
            u(&v, "offset")?,
            conns(&v)?.len(),
            u(&v, "num_connections")?,
            u(&v, "total")?
        ),
        (1, 2, 0, 0, 2)
    );
    ctx.observe("page2", format!("n={}", conns(&v)?.len()));
    Ok(())
}

/// Four clients made like the Go tests' `createClientConnSubscribeAndPublish`.
async fn four_clients(ctx: &Ctx, s: &Server) -> Result<Vec<RawClient>> {
    let mut keep = Vec::new();
    for _ in 0..4 {
        keep.push(sub_pub_conn(ctx, s, CONNECT).await?);
    }
    Ok(keep)
}

async fn connz_sort_cid(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let _keep = four_clients(&ctx, &s).await?;
    for path in ["/connz", "/connz?sort=cid"] {
        let got = cids(&jget(&ctx, &s, path).await?)?;
        let mut sorted = got.clone();
        sorted.sort();
        check_eq!(got, sorted);
        ctx.observe(path, cid_text(&got));
    }
    Ok(())
}

async fn connz_sort_start(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let _keep = four_clients(&ctx, &s).await?;
    let v = jget(&ctx, &s, "/connz?sort=start").await?;
    let starts: Vec<SystemTime> = conns(&v)?
        .iter()
        .map(|c| ts(c, "start"))
        .collect::<Result<_>>()?;
    ensure!(
        starts.windows(2).all(|w| w[0] <= w[1]),
        "not ascending by start"
    );
    ctx.observe("cids", cid_text(&cids(&v)?));
    Ok(())
}

fn values(v: &Value, k: &str) -> Result<Vec<u64>> {
    conns(v)?.iter().map(|c| u(c, k)).collect()
}

async fn connz_sort_bytes_msgs(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let mut first = sub_pub_conn(&ctx, &s, CONNECT).await?;
    send_flush(&mut first, &"PUB foo 11\r\nHello World\r\n".repeat(100)).await?;
    let mut keep = vec![first];
    for _ in 0..3 {
        keep.push(sub_pub_conn(&ctx, &s, CONNECT).await?);
    }
    for (sort, field) in [
        ("bytes_to", "out_bytes"),
        ("msgs_to", "out_msgs"),
        ("bytes_from", "in_bytes"),
        ("msgs_from", "in_msgs"),
    ] {
        let v = jget(&ctx, &s, &format!("/connz?sort={sort}")).await?;
        let vals = values(&v, field)?;
        check_eq!(vals.len(), 4);
        ensure!(
            vals[1..].iter().all(|x| vals[0] >= *x),
            "sort={sort}: {vals:?} not led by the largest"
        );
        ctx.observe(sort, format!("{vals:?}"));
    }
    Ok(())
}

async fn connz_sort_pending(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let mut first = sub_pub_conn(&ctx, &s, CONNECT).await?;
    send_flush(&mut first, "SUB hello.world 2\r\n").await?;
    let mut keep = vec![first];
    for _ in 0..3 {
        keep.push(sub_pub_conn(&ctx, &s, CONNECT).await?);
    }
    let v = jget(&ctx, &s, "/connz?sort=pending").await?;
    let vals = values(&v, "pending_bytes")?;
    check_eq!(vals.len(), 4);
    ensure!(
        vals[1..].iter().all(|x| vals[0] >= *x),
        "not led by the most pending: {vals:?}"
    );
    // Pending bytes depend on timing (a server PING may sit in the buffer).
    ctx.observe("sorted", vals.len().to_string());
    Ok(())
}

async fn connz_sort_subs(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let mut first = sub_pub_conn(&ctx, &s, CONNECT).await?;
    send_flush(&mut first, "SUB hello.world 2\r\n").await?;
    let mut keep = vec![first];
    for _ in 0..3 {
        keep.push(sub_pub_conn(&ctx, &s, CONNECT).await?);
    }
    let v = jget(&ctx, &s, "/connz?sort=subs").await?;
    let vals = values(&v, "subscriptions")?;
    check_eq!(vals, vec![1, 0, 0, 0]);
    check_eq!(u(&conns(&v)?[0], "cid")?, 1);
    ctx.observe("subs", format!("{vals:?}"));
    Ok(())
}

async fn connz_sort_last(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let mut first = sub_pub_conn(&ctx, &s, CONNECT).await?;
    send_flush(&mut first, "SUB hello.world 2\r\n").await?;
    let mut keep = vec![first];
    for _ in 0..3 {
        keep.push(sub_pub_conn(&ctx, &s, CONNECT).await?);
    }
    let v = jget(&ctx, &s, "/connz?sort=last").await?;
    let lasts: Vec<SystemTime> = conns(&v)?
        .iter()
        .map(|c| ts(c, "last_activity"))
        .collect::<Result<_>>()?;
    ensure!(
        lasts.windows(2).all(|w| w[0] >= w[1]),
        "not descending by last activity"
    );
    ctx.observe("cids", cid_text(&cids(&v)?));
    Ok(())
}

async fn connz_sort_uptime(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let mut keep = Vec::new();
    for _ in 0..4 {
        keep.push(sub_pub_conn(&ctx, &s, CONNECT).await?);
        // As in the Go test: starts apart in time.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let v = jget(&ctx, &s, "/connz?sort=uptime").await?;
    let now = SystemTime::now();
    let ups: Vec<Duration> = conns(&v)?
        .iter()
        .map(|c| Ok(now.duration_since(ts(c, "start")?).unwrap_or_default()))
        .collect::<Result<_>>()?;
    ensure!(
        ups.windows(2).all(|w| w[0] <= w[1]),
        "not ascending by uptime: {ups:?}"
    );
    ctx.observe("cids", cid_text(&cids(&v)?));
    Ok(())
}

async fn connz_sort_uptime_closed(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let mut open: Vec<Option<RawClient>> = Vec::new();
    for _ in 0..4 {
        open.push(Some(sub_pub_conn(&ctx, &s, CONNECT).await?));
        tokio::time::sleep(GAP).await;
    }
    let by_start = cids(&jget(&ctx, &s, "/connz?sort=start").await?)?;
    check_eq!(by_start.len(), 4);
    // Started 1, 2, 3, 4 (GAP apart), closed 2, 4, 1, 3 (GAP apart): their
    // lives are 3, 2, 6 and 5 GAPs, so by uptime 4, 2, 3, 1 — neither the
    // order of their ids, of their starts, nor of their closing.
    for (n, i) in [1usize, 3, 0, 2].into_iter().enumerate() {
        drop(open[i].take());
        wait_closed(&ctx, &s, n as u64 + 1).await?;
        tokio::time::sleep(GAP).await;
    }
    let want: Vec<u64> = [3usize, 1, 2, 0].iter().map(|i| by_start[*i]).collect();
    let v = jget(&ctx, &s, "/connz?state=closed&sort=uptime").await?;
    let ups: Vec<Duration> = conns(&v)?
        .iter()
        .map(|c| {
            Ok(ts(c, "stop")?
                .duration_since(ts(c, "start")?)
                .unwrap_or_default())
        })
        .collect::<Result<_>>()?;
    check_eq!(ups.len(), 4);
    ensure!(
        ups.windows(2).all(|w| w[0] <= w[1]),
        "not ascending by uptime: {ups:?}"
    );
    check_eq!(cids(&v)?, want);
    ctx.observe(
        "by uptime, as positions in start order",
        positions(&cids(&v)?, &by_start),
    );
    Ok(())
}

/// Time between the starts and the closes of the closed-connection sorts.
const GAP: Duration = Duration::from_millis(60);

/// Each cid of `got` as its 1-based position in `reference`.
fn positions(got: &[u64], reference: &[u64]) -> String {
    got.iter()
        .map(|c| {
            reference
                .iter()
                .position(|r| r == c)
                .map_or("?".to_string(), |p| (p + 1).to_string())
        })
        .collect::<Vec<_>>()
        .join(",")
}

async fn connz_sort_closed_only(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let mut keep = Vec::new();
    for _ in 0..4 {
        let (mut c, _) = ctx.raw(&s).await?;
        send_flush(&mut c, &format!("CONNECT {CONNECT}\r\n")).await?;
        keep.push(c);
    }
    for sort in ["stop", "reason"] {
        let body = bad_request(&s, &format!("/connz?sort={sort}")).await?;
        ctx.observe(sort, body);
    }
    Ok(())
}

async fn connz_sort_stop_closed(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let mut open: Vec<Option<RawClient>> = Vec::new();
    for _ in 0..4 {
        let (mut c, _) = ctx.raw(&s).await?;
        send_flush(&mut c, &format!("CONNECT {CONNECT}\r\n")).await?;
        open.push(Some(c));
    }
    let by_cid = cids(&jget(&ctx, &s, "/connz?sort=cid").await?)?;
    check_eq!(by_cid.len(), 4);
    // Closed 3, 1, 4, 2 (GAP apart): the most recently stopped first is
    // 2, 4, 1, 3 — neither the order of their ids nor its reverse.
    for (n, i) in [2usize, 0, 3, 1].into_iter().enumerate() {
        drop(open[i].take());
        wait_closed(&ctx, &s, n as u64 + 1).await?;
        tokio::time::sleep(GAP).await;
    }
    let want: Vec<u64> = [1usize, 3, 0, 2].iter().map(|i| by_cid[*i]).collect();
    let v = jget(&ctx, &s, "/connz?state=closed&sort=stop").await?;
    let now = SystemTime::now();
    let ago: Vec<Duration> = conns(&v)?
        .iter()
        .map(|c| Ok(now.duration_since(ts(c, "stop")?).unwrap_or_default()))
        .collect::<Result<_>>()?;
    check_eq!(ago.len(), 4);
    ensure!(
        ago.windows(2).all(|w| w[0] <= w[1]),
        "not ascending by time since stop: {ago:?}"
    );
    check_eq!(cids(&v)?, want);
    ctx.observe(
        "by stop, as positions in cid order",
        positions(&cids(&v)?, &by_cid),
    );
    Ok(())
}

async fn connz_sort_reason(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "max_payload: 100\n").await?;
    for i in 0..20u64 {
        let (mut c, _) = ctx.raw(&s).await?;
        match i % 3 {
            // Closed by the client.
            0 => {
                send_flush(&mut c, &format!("CONNECT {CONNECT}\r\n")).await?;
            }
            // Closed by the server: payload too big.
            1 => {
                c.send("PUB foo 1024\r\n").await?;
                c.expect_closed(SETTLE).await?;
            }
            // Closed by the server: unknown operation.
            _ => {
                c.send("ZZZ\r\n").await?;
                c.expect_closed(SETTLE).await?;
            }
        }
        drop(c);
        wait_closed(&ctx, &s, i + 1).await?;
    }
    let v = jget(&ctx, &s, "/connz?state=closed&sort=reason").await?;
    let reasons: Vec<String> = conns(&v)?
        .iter()
        .map(|c| s_of(c, "reason").map(String::from))
        .collect::<Result<_>>()?;
    check_eq!(reasons.len(), 20);
    let mut sorted = reasons.clone();
    sorted.sort();
    check_eq!(reasons, sorted);
    ctx.observe("reasons", reasons.join("|"));
    Ok(())
}

async fn connz_sort_idle(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let mut first = sub_pub_conn(&ctx, &s, CONNECT).await?;
    send_flush(&mut first, "SUB client.1 2\r\n").await?;
    let second = sub_pub_conn(&ctx, &s, CONNECT).await?;
    // Idle has a granularity of a whole second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    send_flush(&mut first, "PUB client.1 11\r\nnew message\r\n").await?;
    let v = jget(&ctx, &s, "/connz?sort=idle").await?;
    check_eq!(conns(&v)?.len(), 2);
    let idles: Vec<Duration> = conns(&v)?
        .iter()
        .map(|c| dur(s_of(c, "idle")?))
        .collect::<Result<_>>()?;
    // Ordered by active span (last activity - start), longest first: the
    // client that just published leads, the idle one follows.
    ensure!(idles[1] >= idles[0], "idle order {idles:?}");
    ensure!(idles[1] >= Duration::from_secs(1), "idle {idles:?}");
    ctx.observe("cids", cid_text(&cids(&v)?));
    drop(second);
    Ok(())
}

async fn connz_named_client(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let _c = named_conn(&ctx, &s, "test-client").await?;
    let v = jget(&ctx, &s, "/connz").await?;
    check_eq!(conns(&v)?.len(), 1);
    check_eq!(s_of(&conns(&v)?[0], "name")?, "test-client");
    ctx.observe_json("conn", &conn_projection(&conns(&v)?[0]));
    Ok(())
}

async fn connz_state(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let mut open = Vec::new();
    for _ in 0..10 {
        let mut c = sub_pub_conn(&ctx, &s, CONNECT).await?;
        send_flush(&mut c, "SUB hello.closed.conns 2\r\n").await?;
        drop(c);
        let mut c = sub_pub_conn(&ctx, &s, CONNECT).await?;
        send_flush(&mut c, "SUB hello.open.conns 2\r\n").await?;
        open.push(c);
    }
    wait_closed(&ctx, &s, 10).await?;
    let n = |v: &Value| conns(v).map(|c| c.len());
    let q = |path: &'static str| {
        let (ctx, s) = (&ctx, &s);
        async move { jget(ctx, s, path).await }
    };
    check_eq!(n(&q("/connz?state=open").await?)?, 10);
    check_eq!(n(&q("/connz?state=closed").await?)?, 10);
    check_eq!(n(&q("/connz?state=ALL").await?)?, 20);
    check_eq!(n(&q("/connz?state=any").await?)?, 20);
    check_eq!(n(&q("/connz?cid=1&state=open").await?)?, 0);
    check_eq!(n(&q("/connz?cid=1&state=closed").await?)?, 1);
    check_eq!(n(&q("/connz?cid=1&state=ALL").await?)?, 1);
    let v = q("/connz?cid=1&state=closed&subs=true").await?;
    let ci = &conns(&v)?[0];
    check_eq!(u(ci, "subscriptions")?, 1);
    check_eq!(ci["subscriptions_list"], json!(["hello.closed.conns"]));
    ctx.observe_json("closed_with_subs", &conn_projection(ci));
    let v = q("/connz?cid=1&state=closed&subs=false").await?;
    let ci = &conns(&v)?[0];
    check_eq!(u(ci, "subscriptions")?, 1);
    ensure!(
        ci.get("subscriptions_list").is_none(),
        "subs=false listed subs"
    );
    check_eq!(n(&q("/connz?cid=2&state=open").await?)?, 1);
    check_eq!(n(&q("/connz?cid=2&state=closed").await?)?, 0);
    let all = q("/connz?state=all").await?;
    ctx.observe("all_cids", cid_text(&cids(&all)?));
    ctx.observe(
        "open_cids",
        cid_text(&cids(&q("/connz?state=open").await?)?),
    );
    Ok(())
}

async fn connz_closed_race(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    for _ in 0..100 {
        drop(sub_pub_conn(&ctx, &s, CONNECT).await?);
    }
    wait_closed(&ctx, &s, 100).await?;
    let poll = |path: &'static str| {
        let s = &s;
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
            let mut polls = 0;
            while tokio::time::Instant::now() < deadline {
                let r = get(s, path).await?;
                check_eq!(r.status, 200);
                let v: Value = serde_json::from_str(&r.body)?;
                check_eq!(conns(&v)?.len(), 100);
                polls += 1;
            }
            Ok::<_, anyhow::Error>(polls)
        }
    };
    let (a, b) = tokio::join!(
        poll("/connz?state=closed&subs=true"),
        poll("/connz?state=closed")
    );
    ensure!(a? > 0 && b? > 0, "no polls");
    for path in ["/connz?state=closed&subs=true", "/connz?state=closed"] {
        let v = jget(&ctx, &s, path).await?;
        let list = conns(&v)?;
        let shapes: BTreeSet<String> = list
            .iter()
            .map(|c| conn_projection(c).to_string())
            .collect();
        ctx.observe(
            path,
            format!(
                "total={} listed={} distinct={}",
                u(&v, "total")?,
                list.len(),
                shapes.len()
            ),
        );
        if let Some(first) = list.first() {
            ctx.observe_json(&format!("{path} first"), &conn_projection(first));
        }
    }
    Ok(())
}

async fn connz_closed_bad_client(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let c = RawClient::connect(&s.addr()).await?;
    drop(c);
    let v = wait_closed(&ctx, &s, 1).await?;
    let ci = &conns(&v)?[0];
    let uptime = ts(ci, "stop")?
        .duration_since(ts(ci, "start")?)
        .unwrap_or_default();
    let idle = dur(s_of(ci, "idle")?)?;
    ensure!(idle <= uptime, "idle {idle:?} > uptime {uptime:?}");
    ts(ci, "last_activity")?;
    ctx.observe("keys", keys(ci));
    Ok(())
}

const MULTI_USER: &str = "authorization {\n  users = [\n    {user: alice, password: foo}\n    {user: bob, password: bar}\n  ]\n}\n";

async fn connz_auth_user(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(&format!(
            "http: 127.0.0.1:{{{{http_port}}}}\nno_system_account: true\n{MULTI_USER}"
        )))
        .await?;
    let _c = foo_conn_auth(&ctx, &s, "alice", "foo").await?;
    let v = jget(&ctx, &s, "/connz?auth=1").await?;
    let ci = &conns(&v)?[0];
    check_eq!(s_of(ci, "authorized_user")?, "alice");
    ctx.observe_json("conn", &conn_projection(ci));
    Ok(())
}

async fn foo_conn_auth(ctx: &Ctx, s: &Server, user: &str, pass: &str) -> Result<RawClient> {
    let (mut c, _) = ctx.raw(s).await?;
    c.send(&format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"user\":\"{user}\",\"pass\":\"{pass}\"}}\r\nSUB foo 1\r\nPUB foo 5\r\nHello\r\n"
    ))
    .await?;
    check_eq!(c.msgs_until_pong().await?.len(), 1);
    Ok(c)
}

fn user_connect(user: &str, pass: &str) -> String {
    format!(r#"{{"verbose":false,"pedantic":false,"user":"{user}","pass":"{pass}"}}"#)
}

async fn connz_accounts(ctx: Ctx) -> Result<()> {
    let conf = "http: 127.0.0.1:{{http_port}}\nno_system_account: true\naccounts {\n  engineering { users = [ {user: alice, password: foo}, {user: bob, password: bar} ] }\n  finance { users = [ {user: john, password: foo}, {user: mary, password: bar} ] }\n  legal { users = [ {user: peter, password: foo}, {user: paul, password: bar} ] }\n}\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let users = [
        ("alice", "foo", "engineering"),
        ("bob", "bar", "engineering"),
        ("john", "foo", "finance"),
        ("mary", "bar", "finance"),
        ("peter", "foo", "legal"),
        ("paul", "bar", "legal"),
    ];
    let mut keep = Vec::new();
    for (user, pass, _) in users {
        let (mut c, _) = ctx.raw(&s).await?;
        send_flush(&mut c, &format!("CONNECT {}\r\n", user_connect(user, pass))).await?;
        keep.push(c);
    }
    let acc_of: BTreeMap<&str, &str> = users.iter().map(|(u, _, a)| (*u, *a)).collect();
    let v = jget(&ctx, &s, "/connz?auth=1").await?;
    check_eq!(u(&v, "num_connections")?, 6);
    let mut seen = Vec::new();
    for (i, ci) in conns(&v)?.iter().enumerate() {
        check_eq!(u(ci, "cid")?, i as u64 + 1);
        let user = s_of(ci, "authorized_user")?;
        let acc = acc_of
            .get(user)
            .ok_or_else(|| anyhow!("unknown user {user:?}"))?;
        check_eq!(s_of(ci, "account")?, *acc);
        seen.push(format!("{}:{user}:{acc}", u(ci, "cid")?));
    }
    ctx.observe("conns", seen.join(","));
    let pull = |state: &'static str| {
        let (ctx, s) = (&ctx, &s);
        async move {
            for acc in ["engineering", "finance", "legal"] {
                let v = jget(ctx, s, &format!("/connz?auth=1&acc={acc}&state={state}")).await?;
                check_eq!(u(&v, "num_connections")?, 2);
                for ci in conns(&v)? {
                    check_eq!(s_of(ci, "account")?, acc);
                }
            }
            for user in ["alice", "bob", "john", "mary", "peter", "paul"] {
                let v = jget(ctx, s, &format!("/connz?auth=1&user={user}&state={state}")).await?;
                check_eq!(u(&v, "num_connections")?, 1);
                check_eq!(s_of(&conns(&v)?[0], "authorized_user")?, user);
            }
            Ok::<_, anyhow::Error>(())
        }
    };
    pull("open").await?;
    keep.clear();
    wait_open(&ctx, &s, 0).await?;
    wait_closed(&ctx, &s, 6).await?;
    pull("closed").await?;
    ctx.observe("filters", "open,closed");
    Ok(())
}

async fn connz_authorized_users(ctx: Ctx) -> Result<()> {
    let kp = nkeys::KeyPair::new_user();
    let nkey = kp.public_key();
    let seed = kp.seed()?;
    let s = mon_server(
        &ctx,
        &format!(
            "authorization {{\n  users = [\n    {{nkey: {nkey}}}\n    {{user: user, password: pwd}}\n  ]\n}}\n"
        ),
    )
    .await?;
    let (mut c, _) = ctx.raw(&s).await?;
    send_flush(
        &mut c,
        &format!("CONNECT {}\r\n", user_connect("user", "pwd")),
    )
    .await?;
    let au = only_user(&ctx, &s).await?;
    check_eq!(au.as_str(), "user");
    ctx.observe("user", &au);
    drop(c);
    wait_open(&ctx, &s, 0).await?;
    let nc = ctx
        .client_with(&s, async_nats::ConnectOptions::with_nkey(seed))
        .await?;
    let au = only_user(&ctx, &s).await?;
    check_eq!(au, nkey);
    ctx.observe("nkey", "the user's public nkey");
    drop(nc);
    drop(s);
    let s = mon_server(&ctx, "authorization { token: sometoken }\n").await?;
    let (mut c, _) = ctx.raw(&s).await?;
    send_flush(
        &mut c,
        "CONNECT {\"verbose\":false,\"pedantic\":false,\"auth_token\":\"sometoken\"}\r\n",
    )
    .await?;
    let au = only_user(&ctx, &s).await?;
    check_eq!(au.as_str(), "sometoken");
    ctx.observe("token", &au);
    Ok(())
}

/// The authorized user of the only open connection.
async fn only_user(ctx: &Ctx, s: &Server) -> Result<String> {
    wait_open(ctx, s, 1).await?;
    let v = jget(ctx, s, "/connz?auth=true").await?;
    check_eq!(conns(&v)?.len(), 1);
    Ok(s_of(&conns(&v)?[0], "authorized_user")?.to_string())
}

// ---------------------------------------------------------------- /subsz

fn subsz_projection(v: &Value) -> Value {
    json!({
        "keys": keys(v),
        "num_subscriptions": v.get("num_subscriptions"),
        "num_inserts": v.get("num_inserts"),
        "num_removes": v.get("num_removes"),
        "num_matches": v.get("num_matches"),
        "total": v.get("total"),
        "offset": v.get("offset"),
        "limit": v.get("limit"),
    })
}

async fn subsz(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let _c = sub_pub_conn(&ctx, &s, CONNECT).await?;
    let v = jget(&ctx, &s, "/subsz").await?;
    check_eq!(u(&v, "num_subscriptions")?, 0);
    check_eq!(u(&v, "num_inserts")?, 1);
    check_eq!(u(&v, "num_matches")?, 1);
    ctx.observe_json("subsz", &subsz_projection(&v));
    check_jsonp(&s, "/subsz").await?;
    Ok(())
}

async fn subscriptionsz(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("http: 127.0.0.1:{{http_port}}\nno_system_account: true\n"))
        .await?;
    let _c = foo_conn(&ctx, &s).await?;
    let v = jget(&ctx, &s, "/subscriptionsz").await?;
    check_eq!(u(&v, "num_subscriptions")?, 1);
    ctx.observe_json("subsz", &subsz_projection(&v));
    Ok(())
}

fn sub_list(v: &Value) -> Result<Vec<String>> {
    let list = v["subscriptions_list"]
        .as_array()
        .ok_or_else(|| anyhow!("no subscriptions_list in {v}"))?;
    let mut out: Vec<String> = list
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["account"].as_str().unwrap_or(""),
                e["subject"].as_str().unwrap_or("")
            )
        })
        .collect();
    out.sort();
    Ok(out)
}

async fn subsz_details(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let mut c = sub_pub_conn(&ctx, &s, CONNECT).await?;
    send_flush(
        &mut c,
        "SUB foo.* 2\r\nSUB foo.bar 3\r\nSUB foo.foo 4\r\nPUB foo.bar 5\r\nHello\r\nPUB foo.baz 5\r\nHello\r\nPUB foo.foo 5\r\nHello\r\n",
    )
    .await?;
    let v = jget(&ctx, &s, "/subsz?subs=1").await?;
    check_eq!(u(&v, "num_subscriptions")?, 3);
    check_eq!(u(&v, "total")?, 3);
    check_eq!(sub_list(&v)?.len(), 3);
    ctx.observe_json("subsz", &subsz_projection(&v));
    ctx.observe("subs", sub_list(&v)?.join(","));
    Ok(())
}

async fn subsz_offset_limit(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let mut c = sub_pub_conn(&ctx, &s, CONNECT).await?;
    let subs: String = (0..200)
        .map(|i| format!("SUB foo.{i} {}\r\n", i + 10))
        .collect();
    send_flush(&mut c, &subs).await?;
    let v = jget(&ctx, &s, "/subsz?subs=1&offset=10&limit=100").await?;
    check_eq!(
        (
            u(&v, "num_subscriptions")?,
            u(&v, "total")?,
            u(&v, "offset")?,
            u(&v, "limit")?,
            sub_list(&v)?.len()
        ),
        (200, 100, 10, 100, 100)
    );
    ctx.observe_json("subsz", &subsz_projection(&v));
    Ok(())
}

async fn subsz_test_subject(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let mut c = sub_pub_conn(&ctx, &s, CONNECT).await?;
    send_flush(&mut c, "SUB foo.* 2\r\nSUB foo.bar 3\r\nSUB foo.foo 4\r\n").await?;
    let v = jget(&ctx, &s, "/subsz?subs=1&test=foo.foo").await?;
    check_eq!(u(&v, "total")?, 2);
    check_eq!(sub_list(&v)?.len(), 2);
    ctx.observe("foo.foo", sub_list(&v)?.join(","));
    let v = jget(&ctx, &s, "/subsz?subs=1&test=foo").await?;
    let n = v["subscriptions_list"].as_array().map_or(0, |a| a.len());
    check_eq!(n, 0);
    ctx.observe_json("foo", &subsz_projection(&v));
    for bad in ["*", "foo.*", "foo.>", "foo..bar"] {
        let body = bad_request(&s, &format!("/subsz?subs=1&test={bad}")).await?;
        ctx.observe(bad, body);
    }
    Ok(())
}

const TWO_ACCOUNTS: &str = "accounts {\n  A { users = [ {user: a, password: a} ] }\n  B { users = [ {user: b, password: b} ] }\n}\n";

async fn subsz_multi_account(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, TWO_ACCOUNTS).await?;
    let mut keep = Vec::new();
    for who in ["a", "b"] {
        let mut c = sub_pub_conn(&ctx, &s, &user_connect(who, who)).await?;
        send_flush(
            &mut c,
            "SUB foo.* 2\r\nSUB foo.bar 3\r\nSUB foo.foo 4\r\nPUB foo.bar 5\r\nHello\r\nPUB foo.baz 5\r\nHello\r\nPUB foo.foo 5\r\nHello\r\n",
        )
        .await?;
        keep.push(c);
    }
    let v = jget(&ctx, &s, "/subsz?subs=1").await?;
    check_eq!((u(&v, "num_subscriptions")?, u(&v, "total")?), (6, 6));
    let all = sub_list(&v)?;
    check_eq!(all.len(), 6);
    ensure!(
        all.iter()
            .all(|e| e.starts_with("A:") || e.starts_with("B:")),
        "accounts {all:?}"
    );
    ctx.observe("all", all.join(","));
    let v = jget(&ctx, &s, "/subsz?subs=1&acc=A").await?;
    check_eq!((u(&v, "num_subscriptions")?, u(&v, "total")?), (3, 3));
    let a = sub_list(&v)?;
    check_eq!(a.len(), 3);
    ensure!(a.iter().all(|e| e.starts_with("A:")), "accounts {a:?}");
    ctx.observe("acc_a", a.join(","));
    Ok(())
}

async fn subsz_multi_account_offset_limit(ctx: Ctx) -> Result<()> {
    // As in the Go test, the server has no accounts: both users land in $G.
    let s = mon_server(&ctx, "").await?;
    let subs: String = (0..200)
        .map(|i| format!("SUB foo.{i} {}\r\n", i + 10))
        .collect();
    let mut keep = Vec::new();
    for who in ["a", "b"] {
        let mut c = sub_pub_conn(&ctx, &s, &user_connect(who, who)).await?;
        send_flush(&mut c, &subs).await?;
        keep.push(c);
    }
    let v = jget(&ctx, &s, "/subsz?subs=1&offset=10&limit=100").await?;
    check_eq!(
        (
            u(&v, "num_subscriptions")?,
            u(&v, "total")?,
            u(&v, "offset")?,
            u(&v, "limit")?,
            sub_list(&v)?.len()
        ),
        (400, 100, 10, 100, 100)
    );
    ctx.observe_json("subsz", &subsz_projection(&v));
    Ok(())
}

// ---------------------------------------------------------------- others

async fn root(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let _c = sub_pub_conn(&ctx, &s, CONNECT).await?;
    let r = get(&s, "/").await?;
    check_eq!(r.status, 200);
    ensure!(r.body.is_ascii(), "root page is not ASCII");
    ensure!(r.ctype.contains("text/html"), "content type {}", r.ctype);
    let re = regex::Regex::new(r"href=\.(/[a-z]*)")?;
    let links: Vec<&str> = re
        .captures_iter(&r.body)
        .filter_map(|c| c.get(1).map(|m| m.as_str()))
        .collect();
    ctx.observe("content_type", &r.ctype);
    ctx.observe("links", links.join(","));
    let other = get(&s, "/nothing-here").await?;
    check_eq!(other.status, 404);
    Ok(())
}

async fn concurrent(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let endpoints = [
        "/varz", "/varz", "/varz", "/connz", "/connz", "/subsz", "/subsz", "/routez", "/routez",
    ];
    let pollers = endpoints.iter().map(|e| {
        let s = &s;
        async move {
            for _ in 0..25 {
                let r = get(s, e).await?;
                check_eq!(r.status, 200);
                check_eq!(r.ctype.as_str(), "application/json");
                serde_json::from_str::<Value>(&r.body)?;
            }
            Ok::<_, anyhow::Error>(())
        }
    });
    // Clients come and go while the endpoints are polled.
    let traffic = async {
        let mut keep = Vec::new();
        for i in 0..20 {
            let c = sub_pub_conn(&ctx, &s, CONNECT).await?;
            if i % 10 == 0 {
                keep.push(c);
            }
        }
        Ok::<_, anyhow::Error>(keep)
    };
    let (results, keep) = tokio::join!(futures::future::join_all(pollers), traffic);
    for r in results {
        r?;
    }
    let keep = keep?;
    let v = wait_open(&ctx, &s, keep.len() as u64).await?;
    ctx.observe("open", u(&v, "num_connections")?.to_string());
    Ok(())
}

async fn server_ids(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let v = jget(&ctx, &s, "/varz").await?;
    let c = jget(&ctx, &s, "/connz").await?;
    let r = jget(&ctx, &s, "/routez").await?;
    let id = s_of(&v, "server_id")?;
    ensure!(!id.is_empty(), "empty varz id");
    check_eq!(s_of(&c, "server_id")?, id);
    check_eq!(s_of(&r, "server_id")?, id);
    // The id itself (masked when it is a server nkey) and the INFO's.
    ctx.observe("varz server_id", id);
    let (_raw, info) = ctx.raw(&s).await?;
    ctx.observe(
        "info server_id is varz's",
        (s_of(&info, "server_id")? == id).to_string(),
    );
    Ok(())
}

async fn http_req_stats(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    for path in ["/varz", "/varz", "/connz", "/connz", "/subsz", "/routez"] {
        check_eq!(get(&s, path).await?.status, 200);
    }
    let v = jget(&ctx, &s, "/varz").await?;
    let stats = &v["http_req_stats"];
    check_eq!(
        *stats,
        json!({"/varz": 3, "/connz": 2, "/subsz": 1, "/routez": 1})
    );
    ctx.observe_json("http_req_stats", stats);
    Ok(())
}

/// The documents asked for over the system account (Go's server functions,
/// which the Go test calls directly) are not counted as HTTP requests.
async fn system_requests_not_counted(ctx: Ctx) -> Result<()> {
    let conf = "http: 127.0.0.1:{{http_port}}\nsystem_account: SYS\n\
        accounts { SYS { users = [ {user: sys, password: pwd} ] } }\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let (mut c, _) = ctx.raw(&s).await?;
    c.send("CONNECT {\"verbose\":false,\"user\":\"sys\",\"pass\":\"pwd\"}\r\nSUB answers 1\r\n")
        .await?;
    c.flush().await?;
    let mut sent = 0;
    for _ in 0..10 {
        for what in ["VARZ", "CONNZ", "ROUTEZ", "SUBSZ"] {
            c.send(&format!(
                "PUB $SYS.REQ.SERVER.PING.{what} answers 0\r\n\r\n"
            ))
            .await?;
            sent += 1;
        }
    }
    let answers = c.read_msgs(sent).await?;
    check_eq!(answers.len(), sent);
    let v = jget(&ctx, &s, "/varz").await?;
    let stats = &v["http_req_stats"];
    ctx.observe_json("http_req_stats", stats);
    check_eq!(*stats, json!({"/varz": 1}));
    Ok(())
}

async fn routez_no_routes(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let body = bad_request(&s, "/routez?subs=xxx").await?;
    ctx.observe("subs=xxx", body);
    for path in ["/routez", "/routez?subs=1", "/routez?subs=detail"] {
        let v = jget(&ctx, &s, path).await?;
        check_eq!(u(&v, "num_routes")?, 0);
        check_eq!(v["routes"], json!([]));
        ctx.observe(path, keys(&v));
    }
    check_jsonp(&s, "/routez").await?;
    Ok(())
}

async fn endpoints_no_remotes(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let g = jget(&ctx, &s, "/gatewayz").await?;
    ensure!(
        g.get("name").is_none_or(|n| n.as_str() == Some(""))
            && g.get("port").is_none_or(|p| p.as_u64() == Some(0)),
        "expected no gateway: {g}"
    );
    ctx.observe_json("gatewayz", &json!({"keys": keys(&g), "outbound": g["outbound_gateways"], "inbound": g["inbound_gateways"]}));
    let l = jget(&ctx, &s, "/leafz").await?;
    check_eq!(u(&l, "leafnodes")?, 0);
    ctx.observe_json(
        "leafz",
        &json!({"keys": keys(&l), "leafnodes": l["leafnodes"], "leafs": l["leafs"]}),
    );
    let a = jget(&ctx, &s, "/accountz").await?;
    check_eq!(a["accounts"], json!(["$G"]));
    ctx.observe_json(
        "accountz",
        &json!({"keys": keys(&a), "accounts": a["accounts"]}),
    );
    let st = jget(&ctx, &s, "/accstatz").await?;
    check_eq!(st["account_statz"], json!([]));
    ctx.observe_json(
        "accstatz",
        &json!({"keys": keys(&st), "account_statz": st["account_statz"]}),
    );
    Ok(())
}

async fn accountz(ctx: Ctx) -> Result<()> {
    // Default options: the system account exists.
    let s = ctx
        .server(ServerSpec::new().conf(
            "http: 127.0.0.1:{{http_port}}\nserver_name: monitor_server\nserver_tags: [\"tag\"]\n",
        ))
        .await?;
    let want = |body: &str, parts: &[&str]| -> Result<()> {
        for p in parts {
            ensure!(body.contains(p), "missing {p:?} in {body}");
        }
        Ok(())
    };
    let r = get(&s, "/accountz").await?;
    check_eq!(r.status, 200);
    want(
        &r.body,
        &[
            "$G",
            "$SYS",
            "\"accounts\": [",
            "\"system_account\": \"$SYS\"",
        ],
    )?;
    let r = get(&s, "/accountz?acc=$SYS").await?;
    want(
        &r.body,
        &[
            "\"account_detail\": {",
            "\"account_name\": \"$SYS\",",
            "\"subscriptions\": 40,",
            "\"is_system\": true,",
            "\"system_account\": \"$SYS\"",
        ],
    )?;
    let r = get(&s, "/accstatz?unused=1").await?;
    want(
        &r.body,
        &[
            "\"acc\": \"$G\"",
            "\"acc\": \"$SYS\"",
            "\"sent\": {",
            "\"received\": {",
            "\"total_conns\": 0,",
            "\"leafnodes\": 0,",
        ],
    )?;
    let v: Value = serde_json::from_str(&r.body)?;
    let mut accs: Vec<&str> = v["account_statz"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["acc"].as_str()).collect())
        .unwrap_or_default();
    accs.sort();
    ctx.observe("accstatz", accs.join(","));
    let d: Value = serde_json::from_str(&get(&s, "/accountz?acc=$SYS").await?.body)?;
    let det = &d["account_detail"];
    ctx.observe_json(
        "sys",
        &json!({"is_system": det["is_system"], "subscriptions": det["subscriptions"], "keys": keys(det)}),
    );
    Ok(())
}

async fn jsz_disabled(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let v = jget(&ctx, &s, "/varz").await?;
    let j = jget(&ctx, &s, "/jsz").await?;
    check_eq!(s_of(&j, "server_id")?, s_of(&v, "server_id")?);
    ctx.observe_json(
        "jsz",
        &json!({"keys": keys(&j), "disabled": j.get("disabled"), "config": j.get("config")}),
    );
    let body = bad_request(&s, "/jsz?leader-only=true").await?;
    ctx.observe("leader-only", body);
    Ok(())
}

/// The fatal line of a server that failed to start, with numbers masked.
fn fatal_line(out: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.contains("[FTL]"))
        .map(|l| l.split("[FTL] ").nth(1).unwrap_or(l))
        .unwrap_or("");
    regex::Regex::new(r"\d+")
        .map(|re| re.replace_all(line, "N").into_owned())
        .unwrap_or_default()
}

/// Starts the server on a config that must keep it from starting; the error
/// must mention `needle`. Observes Go's fatal line.
async fn expect_start_failure(ctx: &Ctx, name: &str, conf: &str, needle: &str) -> Result<()> {
    let path = ctx.write_file(name, conf)?;
    let out = ctx
        .run_binary(&["-c", path.to_str().context("path")?])
        .await?;
    ensure!(out.code != Some(0), "{name}: the server started");
    let all = format!("{}{}", out.stdout, out.stderr);
    ensure!(
        all.contains(needle),
        "{name}: no error with {needle:?}: {all}"
    );
    ctx.observe("fatal", fatal_line(&all));
    Ok(())
}

async fn https_no_tls(ctx: Ctx) -> Result<()> {
    let conf = format!(
        "host: 127.0.0.1\nport: {}\nhttps: 127.0.0.1:{}\n",
        ports::alloc()?,
        ports::alloc()?
    );
    expect_start_failure(&ctx, "https.conf", &conf, "TLS").await
}

async fn listen_error(ctx: Ctx) -> Result<()> {
    let a = mon_server(&ctx, "").await?;
    let http = a.ports().http.context("http port")?;
    let conf = format!(
        "host: 127.0.0.1\nport: {}\nhttp: 127.0.0.1:{http}\n",
        ports::alloc()?
    );
    expect_start_failure(&ctx, "second.conf", &conf, "listen").await
}

async fn both_ports(ctx: Ctx) -> Result<()> {
    let conf = format!(
        "host: 127.0.0.1\nport: {}\nhttp_port: {}\nhttps_port: {}\n",
        ports::alloc()?,
        ports::alloc()?,
        ports::alloc()?
    );
    expect_start_failure(&ctx, "both.conf", &conf, "specify both").await
}

async fn monitor_stop(ctx: Ctx) -> Result<()> {
    let mut s = mon_server(&ctx, "").await?;
    let base = s.http_base()?;
    check_eq!(get(&s, "/varz").await?.status, 200);
    s.stop().await?;
    let r = get_url(&format!("{base}/varz")).await;
    ensure!(r.is_err(), "monitoring still answers after shutdown");
    ctx.observe("after stop", io_error_kind(r.err()));
    Ok(())
}

/// The kind of I/O error behind a failed request (`ConnectionRefused`, ...).
fn io_error_kind(e: Option<anyhow::Error>) -> String {
    let Some(e) = e else {
        return "no error".into();
    };
    e.chain()
        .find_map(|c| c.downcast_ref::<std::io::Error>())
        .map_or_else(
            || format!("not an I/O error: {e:#}"),
            |io| format!("{:?}", io.kind()),
        )
}

/// A non-loopback IPv4 address of this host.
fn outside_ip() -> Option<std::net::IpAddr> {
    for target in [
        "8.8.8.8:53",
        "10.255.255.1:9",
        "192.0.2.1:9",
        "172.16.0.1:9",
    ] {
        let Ok(sock) = std::net::UdpSocket::bind("0.0.0.0:0") else {
            continue;
        };
        if sock.connect(target).is_err() {
            continue;
        }
        if let Ok(addr) = sock.local_addr() {
            let ip = addr.ip();
            if !ip.is_loopback() && !ip.is_unspecified() && ip.is_ipv4() {
                return Some(ip);
            }
        }
    }
    None
}

async fn http_host(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let ip = outside_ip().ok_or_else(|| anyhow!("no non-loopback IPv4 address"))?;
    let port = s.ports().http.context("http port")?;
    check_eq!(get(&s, "/varz").await?.status, 200);
    let r = get_url(&format!("http://{ip}:{port}/varz")).await;
    ensure!(r.is_err(), "monitoring answered on {ip}");
    ctx.observe("outside", io_error_kind(r.err()));
    // Where the server said it listens.
    let line = s
        .wait_for_log("http monitor", Duration::from_secs(2))
        .await?;
    ctx.observe(
        "log",
        line.split_once("[INF] ").map_or(line.as_str(), |x| x.1),
    );
    Ok(())
}

// ---------------------------------------------------------------- closed connections

async fn closed_subs(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "").await?;
    let mut c = ctx.raw_connected(&s, CONNECT).await?;
    let subs: String = (0..10)
        .map(|i| format!("SUB foo.{i} {}\r\n", i + 1))
        .collect();
    send_flush(&mut c, &subs).await?;
    drop(c);
    wait_closed(&ctx, &s, 1).await?;
    let v = jget(&ctx, &s, "/connz?state=closed&subs=1").await?;
    check_eq!(conns(&v)?.len(), 1);
    let ci = &conns(&v)?[0];
    check_eq!(u(ci, "subscriptions")?, 10);
    let list = ci["subscriptions_list"]
        .as_array()
        .ok_or_else(|| anyhow!("no list"))?;
    check_eq!(list.len(), 10);
    let mut names: Vec<&str> = list.iter().filter_map(|x| x.as_str()).collect();
    names.sort();
    ctx.observe("subs", names.join(","));
    Ok(())
}

async fn closed_reasons(ctx: &Ctx, s: &Server, n: u64) -> Result<Vec<String>> {
    let v = wait_closed(ctx, s, n).await?;
    conns(&v)?
        .iter()
        .map(|c| s_of(c, "reason").map(String::from))
        .collect()
}

async fn closed_auth_timeout(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "authorization { token: my_token, timeout: 0.4 }\n").await?;
    let (mut c, _) = ctx.raw(&s).await?;
    let rest = c.expect_closed(SETTLE).await?;
    ctx.observe("sent", rest);
    let reasons = closed_reasons(&ctx, &s, 1).await?;
    check_eq!(reasons, vec!["Authentication Timeout".to_string()]);
    ctx.observe("reasons", reasons.join("|"));
    Ok(())
}

async fn closed_auth_violation(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "authorization { token: my_token }\n").await?;
    let (mut c, _) = ctx.raw(&s).await?;
    c.send(&format!("CONNECT {CONNECT}\r\n")).await?;
    let err = c.expect_err().await?;
    ctx.observe("err", &err);
    let reasons = closed_reasons(&ctx, &s, 1).await?;
    check_eq!(reasons, vec!["Authentication Failure".to_string()]);
    ctx.observe("reasons", reasons.join("|"));
    Ok(())
}

async fn closed_up_violation(ctx: Ctx) -> Result<()> {
    let s = mon_server(
        &ctx,
        "authorization { user: my_user, password: my_secret }\n",
    )
    .await?;
    for connect in [CONNECT.to_string(), user_connect("my_user", "wrong_pass")] {
        let (mut c, _) = ctx.raw(&s).await?;
        c.send(&format!("CONNECT {connect}\r\n")).await?;
        let err = c.expect_err().await?;
        ctx.observe("err", &err);
    }
    let reasons = closed_reasons(&ctx, &s, 2).await?;
    check_eq!(reasons, vec!["Authentication Failure".to_string(); 2]);
    ctx.observe("reasons", reasons.join("|"));
    Ok(())
}

async fn closed_max_payload(ctx: Ctx) -> Result<()> {
    let s = mon_server(&ctx, "max_payload: 100\n").await?;
    let (mut c, _) = ctx.raw(&s).await?;
    c.send("PUB foo.bar 1024\r\n").await?;
    let rest = c.expect_closed(SETTLE).await?;
    ctx.observe("sent", rest);
    let reasons = closed_reasons(&ctx, &s, 1).await?;
    check_eq!(
        reasons,
        vec!["Maximum Message Payload Exceeded".to_string()]
    );
    ctx.observe("reasons", reasons.join("|"));
    Ok(())
}

/// The closed-connections ring keeps the newest 10000 closed connections
/// and drops the oldest, in the order they closed. The Go tests use a ring
/// of 10 (`MaxClosedClients`, which no config sets); this one fills the
/// real ring. Closes that matter are made one at a time, in an order that
/// is not the order of the ids, and checked exactly after each: the ring,
/// newest first (`sort=stop`), is the list of closes so far, reversed.
async fn closed_ring(ctx: Ctx) -> Result<()> {
    const CAP: u64 = 10_000;
    const PAIRS: u64 = 11;
    const SINGLE: u64 = 2 * PAIRS;
    const BATCH: u64 = 500;
    let s = mon_server(&ctx, "").await?;

    // The ids (from INFO) of the closes made one at a time, in closing order.
    let mut order: Vec<u64> = Vec::new();
    // Opens two, closes the second first; checks the ring after each close.
    async fn close_pairs(
        ctx: &Ctx,
        s: &Server,
        order: &mut Vec<u64>,
        check: &mut (dyn FnMut(Vec<u64>) -> futures::future::BoxFuture<'static, Result<()>> + Send),
    ) -> Result<()> {
        for _ in 0..PAIRS {
            let mut pair = Vec::new();
            for _ in 0..2 {
                let (mut c, info) = ctx.raw(s).await?;
                let id = info["client_id"]
                    .as_u64()
                    .ok_or_else(|| anyhow!("no client_id in INFO"))?;
                send_flush(&mut c, &format!("CONNECT {CONNECT}\r\n")).await?;
                pair.push((id, c));
            }
            while let Some((id, c)) = pair.pop() {
                drop(c);
                order.push(id);
                check(order.clone()).await?;
            }
        }
        Ok(())
    }

    // Before the ring is full: after each close, the list is exactly the
    // closes so far (TestRBclosedClients, TestClosedConnsAccounting).
    let base = s.http_base()?;
    let mut before = |order: Vec<u64>| {
        let base = base.clone();
        async move {
            let n = order.len() as u64;
            let by_stop = ring_by_stop(&base, n, 0, n).await?;
            let mut want = order.clone();
            want.reverse();
            check_eq!(by_stop, want);
            let by_cid = cids(&json_url(&format!("{base}/connz?state=closed")).await?)?;
            let mut sorted = order;
            sorted.sort();
            check_eq!(by_cid, sorted);
            Ok(())
        }
        .boxed()
    };
    close_pairs(&ctx, &s, &mut order, &mut before).await?;
    let first_single = order.clone();
    ctx.observe(
        "one at a time, newest first, as ids after the first",
        rel_text(
            &ring_by_stop(&base, SINGLE, 0, SINGLE).await?,
            first_single.iter().min().copied().unwrap_or(0),
        ),
    );

    // Fill the ring in batches of bare TCP connections; each batch's ids
    // follow the last ones (cids are given in order of connection).
    let mut next_cid = order.iter().max().copied().unwrap_or(0) + 1;
    let first_batch_cid = next_cid;
    let mut len = SINGLE;
    while len < CAP {
        let n = BATCH.min(CAP - len);
        for _ in 0..n {
            let c = tokio::net::TcpStream::connect(s.addr()).await?;
            drop(c);
        }
        let want: BTreeSet<u64> = (next_cid..next_cid + n).collect();
        next_cid += n;
        len += n;
        let path = format!("/connz?state=closed&offset={}&limit={n}", len - n);
        let want_ref = &want;
        kit_eventually(|| {
            let (ctx, s, path) = (&ctx, &s, &path);
            async move {
                let v = jget(ctx, s, path).await?;
                let got: BTreeSet<u64> = cids(&v)?.into_iter().collect();
                Ok((u(&v, "total")? == len && &got == want_ref).then_some(()))
            }
        })
        .await
        .context("a batch of closed connections")?;
    }
    // The oldest are still the ones closed one at a time, in their order.
    let mut oldest = first_single.clone();
    oldest.reverse();
    check_eq!(
        ring_by_stop(&base, CAP, CAP - SINGLE, SINGLE).await?,
        oldest
    );

    // Full: each close drops exactly the oldest entry, in closing order
    // (not the lowest id), and the newest is the one just closed.
    let mut after_order: Vec<u64> = Vec::new();
    let evicted = first_single.clone();
    let mut after = |order: Vec<u64>| {
        let base = base.clone();
        let evicted = evicted.clone();
        async move {
            let k = order.len() as u64;
            // The ring stays full: wait until the close shows.
            kit_eventually(|| {
                let (base, order, evicted) = (&base, &order, &evicted);
                async move {
                    let mut newest = order.clone();
                    newest.reverse();
                    check_eq!(ring_by_stop(base, CAP, 0, k).await?, newest);
                    let kept = SINGLE - k;
                    if kept > 0 {
                        let mut want: Vec<u64> = evicted[k as usize..].to_vec();
                        want.reverse();
                        check_eq!(ring_by_stop(base, CAP, CAP - kept, kept).await?, want);
                    }
                    let gone = evicted[k as usize - 1];
                    let v = json_url(&format!("{base}/connz?state=closed&cid={gone}")).await?;
                    ensure!(
                        conns(&v)?.is_empty(),
                        "cid {gone} still in the ring after {k} closes"
                    );
                    Ok(Some(()))
                }
            })
            .await
        }
        .boxed()
    };
    close_pairs(&ctx, &s, &mut after_order, &mut after).await?;

    // The whole ring, page by page: every id from the first batch on.
    let mut ring = Vec::new();
    for page in 0..CAP / 1000 {
        let v = jget(
            &ctx,
            &s,
            &format!("/connz?state=closed&offset={}&limit=1000", page * 1000),
        )
        .await?;
        check_eq!(u(&v, "total")?, CAP);
        ring.extend(cids(&v)?);
    }
    let last = after_order.iter().max().copied().unwrap_or(0);
    check_eq!(ring, (first_batch_cid..=last).collect::<Vec<u64>>());
    // Every connection ever made is closed (SINGLE one at a time before the
    // ring filled, SINGLE after, the rest in batches): the all-time count.
    let varz = jget(&ctx, &s, "/varz").await?;
    let closed_total = u(&varz, "total_connections")? - u(&varz, "connections")?;
    check_eq!(closed_total, CAP + SINGLE);
    ctx.observe(
        "ring",
        format!(
            "len={} closed={} first={} last={}",
            ring.len(),
            closed_total,
            ring.first().copied().unwrap_or(0) - first_single.iter().min().copied().unwrap_or(0),
            ring.last().copied().unwrap_or(0) - first_single.iter().min().copied().unwrap_or(0),
        ),
    );
    Ok(())
}

/// GET a full URL that answers JSON.
async fn json_url(url: &str) -> Result<Value> {
    let r = get_url(url).await?;
    ensure!(
        r.status == 200,
        "GET {url}: status {}: {}",
        r.status,
        r.body
    );
    serde_json::from_str(&r.body).with_context(|| format!("GET {url}: not JSON"))
}

/// Closed connections newest first (`sort=stop`), once the ring holds `len`:
/// the cids of `limit` of them from `offset`.
async fn ring_by_stop(base: &str, len: u64, offset: u64, limit: u64) -> Result<Vec<u64>> {
    let url = format!("{base}/connz?state=closed&sort=stop&offset={offset}&limit={limit}");
    kit_eventually(|| {
        let url = &url;
        async move {
            let v = json_url(url).await?;
            Ok((u(&v, "total")? == len).then_some(v))
        }
    })
    .await
    .with_context(|| format!("waiting for {len} closed connections"))
    .and_then(|v| cids(&v))
}

/// Cids relative to `base`, so that they read the same on every server.
fn rel_text(cids: &[u64], base: u64) -> String {
    cids.iter()
        .map(|c| c.saturating_sub(base).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The monitor server with a client `tls` block of the kit's certificates
/// (written into the scenario's folder, see `tls::start`).
async fn mon_tls_server(ctx: &Ctx, tls: &str) -> Result<Server> {
    super::tls::start(ctx, &format!("{MON}tls {{\n{tls}\n}}\n")).await
}

const TLS_FILES: &str = "cert_file: \"server-cert.pem\"\nkey_file: \"server-key.pem\"\n";

/// TestConnzTLSInHandshake: a client that has not started its handshake is
/// listed at once, without TLS version or cipher suite, and /connz does not
/// wait for the handshake.
async fn connz_tls_in_handshake(ctx: Ctx) -> Result<()> {
    let s = mon_tls_server(&ctx, &format!("{TLS_FILES}timeout: 1.5")).await?;
    let (_stream, _info) = crate::kit::tls_raw::connect_plain(&s.addr()).await?;
    let start = std::time::Instant::now();
    let v = wait_open(&ctx, &s, 1).await?;
    let took = start.elapsed();
    ensure!(
        took < Duration::from_millis(1500),
        "/connz waited for the handshake: {took:?}"
    );
    let c = &conns(&v)?[0];
    let seen = json!({
        "tls_version": c.get("tls_version"),
        "tls_cipher_suite": c.get("tls_cipher_suite"),
    });
    ctx.observe_json("connection in handshake", &seen);
    for k in ["tls_version", "tls_cipher_suite"] {
        ensure!(
            c[k].as_str().unwrap_or("").is_empty(),
            "{k} set before the handshake: {c}"
        );
    }
    Ok(())
}

/// TestConnzTLSCfg, client part: /varz shows the client TLS block's
/// `tls_required`, `tls_verify` and `tls_timeout`, without waiting for any
/// handshake. (The cluster, gateway and leaf node blocks need listeners
/// natsd does not serve yet.)
async fn varz_tls_cfg(ctx: Ctx) -> Result<()> {
    let s = mon_tls_server(
        &ctx,
        &format!("{TLS_FILES}ca_file: \"ca.pem\"\nverify: true\ntimeout: 1.5"),
    )
    .await?;
    // A client stuck before its handshake must not hold /varz up.
    let (_stream, _info) = crate::kit::tls_raw::connect_plain(&s.addr()).await?;
    let start = std::time::Instant::now();
    let v = jget(&ctx, &s, "/varz").await?;
    let took = start.elapsed();
    ensure!(
        took < Duration::from_millis(1500),
        "/varz waited for the handshake: {took:?}"
    );
    let seen = json!({
        "tls_required": v.get("tls_required"),
        "tls_verify": v.get("tls_verify"),
        "tls_timeout": v.get("tls_timeout"),
    });
    ctx.observe_json("varz", &seen);
    check_eq!(seen["tls_required"], json!(true));
    check_eq!(seen["tls_verify"], json!(true));
    check_eq!(seen["tls_timeout"].as_f64(), Some(1.5));
    Ok(())
}

/// A CA of this file's own and a client certificate it signed, with the
/// subject of the Go test's client-cert.pem (made once with openssl: EC
/// P-256, valid for 100 years from 2026; the CA's key was thrown away).
const PEER_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBlDCCATmgAwIBAgIUVCz7lcEnHubPv8R8DFZQf114P80wCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTcGFyaXR5IHBlZXItY2VydCBDQTAgFw0yNjEyMDIxNjAxMDBa
GA8yMTI2MTEwODE2MDEwMFowHjEcMBoGA1UEAwwTcGFyaXR5IHBlZXItY2VydCBD
QTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABBYxHumD6Qr80ac/7bJthUbtSsqG
3Hq6E1m4Pc01u9snuS/QYyyvrztIikn5ZOZ6Qm9gYE4ZdJ3L8goqRZcAQ8ejUzBR
MB0GA1UdDgQWBBQGs70RMnPl+hKUlL0bIRH1OhNqZjAfBgNVHSMEGDAWgBQGs70R
MnPl+hKUlL0bIRH1OhNqZjAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kA
MEYCIQDRaBDtumrWGqjHkg5elY9MKcV8a60+qEv1xD775Y2REAIhANSFU5yZ4F2s
M+X68bNPVaistShoVvzoZU/jL/+4DaUh
-----END CERTIFICATE-----
";
const PEER_CERT: &str = "-----BEGIN CERTIFICATE-----
MIICAzCCAamgAwIBAgIUSa3c/aCC2MBbyk8ApdUwVT59FdEwCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTcGFyaXR5IHBlZXItY2VydCBDQTAgFw0yNjEyMDIxNjAxMDBa
GA8yMTI2MTEwODE2MDEwMFowWjELMAkGA1UEBhMCVVMxEzARBgNVBAgMCkNhbGlm
b3JuaWExEDAOBgNVBAoMB1N5bmFkaWExEDAOBgNVBAsMB25hdHMuaW8xEjAQBgNV
BAMMCWxvY2FsaG9zdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABE3kpQfbHl91
Cbguv7PS2odkGuZ4PIFp1JQipz0+7y015ruLwJH3Bd5hzIr8MuHEzZpouQIWWW+T
/5nphn94RbmjgYYwgYMwCQYDVR0TBAIwADALBgNVHQ8EBAMCB4AwEwYDVR0lBAww
CgYIKwYBBQUHAwIwFAYDVR0RBA0wC4IJbG9jYWxob3N0MB0GA1UdDgQWBBSeHwZr
bW6vutGja1LdjaGvJgE6KDAfBgNVHSMEGDAWgBQGs70RMnPl+hKUlL0bIRH1OhNq
ZjAKBggqhkjOPQQDAgNIADBFAiB/Tdu6faRmXadOSUPoH3PMYTwfKCGQFRdxJ1Sc
mFC4zwIhAPff7/tmbhVxQlA8+Bbdo+8SKXVvtWwWL5KmznGysIia
-----END CERTIFICATE-----
";
const PEER_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg1S/7qyf/qOgFdT46
ku3EXcpdVKcpKtkQ1wNeoOdd76WhRANCAARN5KUH2x5fdQm4Lr+z0tqHZBrmeDyB
adSUIqc9Pu8tNea7i8CR9wXeYcyK/DLhxM2aaLkCFllvk/+Z6YZ/eEW5
-----END PRIVATE KEY-----
";
/// sha256 of PEER_CERT's DER and of its subject public key info (openssl).
const PEER_CERT_SHA256: &str = "76713f7fa8a2aae24058c05872af9a7f5dce9e1d0a1791f24ba5d51381783ea7";
const PEER_SPKI_SHA256: &str = "aa43856a28022ea9b8c54c55faf1354d28153681bc430b4fa8779e6b72bf8219";

/// TestConnzTLSPeerCerts: a client that presented a certificate; /connz
/// lists its details only with `auth`.
async fn connz_tls_peer_certs(ctx: Ctx) -> Result<()> {
    let ca = ctx.write_file("peer-ca.pem", PEER_CA)?;
    let cert = ctx.write_file("peer-cert.pem", PEER_CERT)?;
    let key = ctx.write_file("peer-key.pem", PEER_KEY)?;
    let s = mon_tls_server(
        &ctx,
        &format!(
            "{TLS_FILES}ca_file: {:?}\nverify: true\ntimeout: 2",
            ca.display().to_string()
        ),
    )
    .await?;
    let with_cert = super::tls::nats_tls(&ctx, true)?.add_client_certificate(cert, key);
    let _nc = ctx.client_with(&s, with_cert).await?;
    // Twice, as the Go test does (once per mode).
    for round in 0..2 {
        let v = wait_open(&ctx, &s, 1).await?;
        check_eq!(conns(&v)?.len(), 1);
        let c = &conns(&v)?[0];
        ctx.observe(
            &format!("{round}/without auth"),
            format!(
                "tls_peer_certs present: {}",
                c.get("tls_peer_certs").is_some()
            ),
        );
        ensure!(
            c.get("tls_peer_certs").is_none_or(Value::is_null),
            "tls_peer_certs without auth: {c}"
        );
        for q in ["/connz?auth=1", "/connz?auth=true"] {
            let v = jget(&ctx, &s, q).await?;
            check_eq!(conns(&v)?.len(), 1);
            let peers = conns(&v)?[0]["tls_peer_certs"]
                .as_array()
                .cloned()
                .with_context(|| format!("{q}: no tls_peer_certs"))?;
            check_eq!(peers.len(), 1);
            let p = &peers[0];
            ctx.observe_json(&format!("{round}{q}"), p);
            check_eq!(
                p["subject"],
                json!("CN=localhost,OU=nats.io,O=Synadia,ST=California,C=US")
            );
            check_eq!(p["spki_sha256"].as_str().map(str::len), Some(64));
            check_eq!(p["cert_sha256"].as_str().map(str::len), Some(64));
            check_eq!(p["spki_sha256"], json!(PEER_SPKI_SHA256));
            check_eq!(p["cert_sha256"], json!(PEER_CERT_SHA256));
        }
    }
    Ok(())
}

/// TestConnzClosedConnsBadTLSClient: a client that sends a CONNECT in plain
/// text to a TLS server and goes away is listed as closed, with an idle time
/// no longer than its uptime and a last activity.
async fn closed_bad_tls_client(ctx: Ctx) -> Result<()> {
    let s = mon_tls_server(&ctx, &format!("{TLS_FILES}timeout: 1.5")).await?;
    {
        let (mut c, _) = ctx.raw(&s).await?;
        c.send("CONNECT {}\r\n").await?;
    }
    let v = wait_closed(&ctx, &s, 1).await?;
    let c = &conns(&v)?[0];
    ctx.observe("reason", s_of(c, "reason").unwrap_or(""));
    let uptime = ts(c, "stop")?
        .duration_since(ts(c, "start")?)
        .unwrap_or_default();
    let idle = dur(s_of(c, "idle")?)?;
    ensure!(
        idle <= uptime,
        "idle {idle:?} longer than uptime {uptime:?}"
    );
    let last = ts(c, "last_activity")?;
    ensure!(
        last > SystemTime::UNIX_EPOCH + Duration::from_secs(86400),
        "zero last_activity: {c}"
    );
    Ok(())
}

/// TestClosedTLSHandshake: with `verify: true`, a client without a
/// certificate fails the handshake; the closed connection's reason says so.
async fn closed_tls_handshake(ctx: Ctx) -> Result<()> {
    let s = mon_tls_server(
        &ctx,
        &format!("{TLS_FILES}ca_file: \"ca.pem\"\nverify: true\ntimeout: 2"),
    )
    .await?;
    if ctx
        .client_with(&s, super::tls::nats_tls(&ctx, true)?)
        .await
        .is_ok()
    {
        bail!("connected without a client certificate");
    }
    let v = wait_closed(&ctx, &s, 1).await?;
    let c = &conns(&v)?[0];
    let seen = json!({
        "reason": c.get("reason"),
        "tls_version": c.get("tls_version"),
        "tls_cipher_suite": c.get("tls_cipher_suite"),
    });
    ctx.observe_json("closed", &seen);
    check_eq!(seen["reason"], json!("TLS Handshake Failure"));
    Ok(())
}
