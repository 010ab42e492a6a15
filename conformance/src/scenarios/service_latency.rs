//! Scenarios from test/service_latency_test.go and server/accounts_test.go:
//! latency tracking of service imports on one server.
//!
//! Where the Go tests build the accounts in-process (`AddServiceExport`,
//! `TrackServiceExportWithSampling`, `SetServiceExportResponseThreshold`,
//! `SetServiceImportSharing`), the scenarios write the same thing in a
//! config: account FOO exports `ngs.usage.*` with `latency: { sampling:
//! 100%, subject: results }` (and a `threshold`), account BAR imports
//! `ngs.usage.bar` as `ngs.usage` (with `share: true` where the Go test
//! shares). Raw clients play the responder, the requestor (new style: a
//! wildcard inbox; old style: an inbox unsubscribed after one message) and
//! the listener of the latency subject, and read the advisory the server
//! publishes there. Its times are checked by the relations the Go tests
//! check (total = service + both RTTs + system, total >= service, RTTs
//! non-zero, start close to when the request was sent) and observed
//! masked; its keys, status, description, client details and trace
//! headers are observed as they are.
//!
//! The Go tests that build a supercluster only to send the request on the
//! responder's own server are ported on one server in full; those that
//! check requests across servers are ported on one server in part.

use crate::check_eq;
use crate::kit::{self, login, reload, subscribe, Ctx, Msg, Op, RawClient, Server, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{bail, Context, Result};
use futures::FutureExt;
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("accounts/latency-single-server", |c| {
            single_server(c).boxed()
        })
        .full("TestServiceLatencySingleServerConnect")
        .full("TestServiceLatencyWithName"),
        Scenario::new("accounts/latency-request-reply", |c| {
            request_reply(c).boxed()
        })
        .full("TestAccountRequestReplyTrackLatency"),
        Scenario::new("accounts/latency-client-rtt-slower", |c| {
            client_rtt_slower(c).boxed()
        })
        .partial("TestServiceLatencyClientRTTSlowerVsServiceRTT"),
        Scenario::new("accounts/latency-sampling", |c| sampling(c).boxed())
            .partial("TestServiceLatencySampling"),
        Scenario::new("accounts/latency-no-subs-leak", |c| no_subs_leak(c).boxed())
            .needs(Need::Monitoring)
            .partial("TestServiceLatencyNoSubsLeak"),
        Scenario::new("accounts/latency-adjust-negative", |c| {
            adjust_negative(c).boxed()
        })
        .full("TestServiceLatencyAdjustNegativeLatencyValues"),
        Scenario::new("accounts/latency-failure-reporting", |c| {
            failure_reporting(c).boxed()
        })
        .full("TestServiceLatencyFailureReportingSingleServer"),
        Scenario::new("accounts/latency-old-request-style", |c| {
            old_request_style(c).boxed()
        })
        .full("TestServiceLatencyOldRequestStyleSingleServer"),
        Scenario::new("accounts/service-and-stream-stack-overflow", |c| {
            stack_overflow(c).boxed()
        })
        .full("TestServiceAndStreamStackOverflow"),
        Scenario::new("accounts/latency-requestor-shares-failures", |c| {
            shares_failures(c).boxed()
        })
        .partial("TestServiceLatencyRequestorSharesDetailedInfo"),
        Scenario::new("accounts/latency-requestor-shares-config", |c| {
            shares_config(c).boxed()
        })
        .full("TestServiceLatencyRequestorSharesConfig"),
        Scenario::new("accounts/latency-loss", |c| loss(c).boxed())
            .full("TestServiceLatencyLossTest"),
        Scenario::new("accounts/latency-header-triggered", |c| {
            header_triggered(c).boxed()
        })
        .full("TestServiceLatencyHeaderTriggered"),
        Scenario::new("accounts/latency-missing-results", |c| {
            missing_results(c).boxed()
        })
        .partial("TestServiceLatencyMissingResults"),
        Scenario::new("accounts/latency-double-response", |c| {
            double_response(c).boxed()
        })
        .partial("TestServiceLatencyDoubleResponse"),
        Scenario::new("accounts/latency-sampling-header", |c| {
            sampling_header(c).boxed()
        })
        .full("TestSamplingHeader"),
    ]
}

// ---------------------------------------------------------------- helpers

const LATENCY_TYPE: &str = "io.nats.server.metric.v1.service_latency";

/// FOO exports `ngs.usage.*` with `latency` (and `export_extra` fields);
/// BAR imports `ngs.usage.bar` as `ngs.usage` (with `import_extra`).
fn tracking_conf(latency: &str, export_extra: &str, import_extra: &str) -> String {
    format!(
        "accounts {{\n\
        \x20 FOO {{\n\
        \x20   users [ {{user: foo, password: pass}} ]\n\
        \x20   exports [ {{ service: \"ngs.usage.*\", latency: {latency}{export_extra} }} ]\n\
        \x20 }}\n\
        \x20 BAR {{\n\
        \x20   users [ {{user: bar, password: pass}} ]\n\
        \x20   imports [ {{ service: {{ account: FOO, subject: \"ngs.usage.bar\" }}, to: \"ngs.usage\"{import_extra} }} ]\n\
        \x20 }}\n\
        }}\n"
    )
}

const FULL_SAMPLING: &str = "{ sampling: 100%, subject: results }";

/// The SVC / CLIENT config of the Go tests that use a config file.
fn svc_conf(latency: &str, threshold: &str, share: bool) -> String {
    let share = if share { ", share: true" } else { "" };
    format!(
        "accounts: {{\n\
        \x20 SVC: {{\n\
        \x20   users: [ {{user: svc, password: pass}} ]\n\
        \x20   exports: [ {{\n\
        \x20     service: \"svc.echo\"\n\
        {threshold}\
        \x20     accounts: [CLIENT]\n\
        \x20     latency: {latency}\n\
        \x20   }} ]\n\
        \x20 }},\n\
        \x20 CLIENT: {{\n\
        \x20   users: [{{user: client, password: pass}} ]\n\
        \x20   imports: [ {{service: {{account: SVC, subject: svc.echo}}, to: SVC{share}}} ]\n\
        \x20 }},\n\
        \x20 SYS: {{ users: [{{user: admin, password: pass}}] }}\n\
        }}\n\
        system_account: SYS\n"
    )
}

/// A raw connection of `user` (password `pass`), with a fixed lang and
/// version (they show in a detailed client info), an optional name, and
/// headers on; past its PONG.
async fn connect(ctx: &Ctx, s: &Server, user: &str, name: Option<&str>) -> Result<RawClient> {
    ctx.raw_connected(s, &connect_json(user, name)).await
}

fn connect_json(user: &str, name: Option<&str>) -> String {
    let mut v = json!({
        "verbose": false, "pedantic": false, "user": user, "pass": "pass",
        "lang": "raw", "version": "1.0", "headers": true,
    });
    if let Some(n) = name {
        v["name"] = json!(n);
    }
    v.to_string()
}

/// The server's name as its INFO says (responders' `server` is that).
async fn server_name(ctx: &Ctx, s: &Server) -> Result<String> {
    let (_, info) = ctx.raw(s).await?;
    info["server_name"]
        .as_str()
        .map(str::to_string)
        .context("INFO has no server_name")
}

/// Reads one request on the responder, waits `work`, answers `answer` to
/// its reply subject; returns the request.
async fn serve_one(resp: &mut RawClient, work: Duration, answer: &str) -> Result<Msg> {
    let m = resp.read_msgs(1).await?.remove(0);
    let reply = m
        .reply
        .clone()
        .context("the request has no reply subject")?;
    tokio::time::sleep(work).await;
    resp.send(&format!("PUB {reply} {}\r\n{answer}\r\n", answer.len()))
        .await?;
    Ok(m)
}

/// The next latency advisory on the listener (sid `sid` on `subject`).
async fn advisory(c: &mut RawClient, subject: &str) -> Result<Value> {
    let m = c
        .read_msgs(1)
        .await
        .context("waiting for a latency advisory")?
        .remove(0);
    check_eq!(m.subject.as_str(), subject);
    serde_json::from_slice(&m.payload)
        .with_context(|| format!("not JSON: {}", String::from_utf8_lossy(&m.payload)))
}

/// Fails if an advisory (or anything) arrives within `wait`; PINGs from the
/// server are answered.
async fn no_more(c: &mut RawClient, wait: Duration) -> Result<()> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        match tokio::time::timeout(left, c.read_op()).await {
            Err(_) => return Ok(()),
            Ok(Ok(Op::Ping)) => c.send("PONG\r\n").await?,
            Ok(Ok(op)) => bail!("expected nothing more, got {op:?}"),
            Ok(Err(e)) => return Err(e),
        }
    }
}

fn time_of(v: &Value, what: &str) -> Result<SystemTime> {
    let t = v
        .as_str()
        .with_context(|| format!("{what} = {v} is not a string"))?;
    humantime::parse_rfc3339_weak(t).with_context(|| format!("{what} = {t:?} is not RFC 3339"))
}

fn ns_of(v: &Value, what: &str) -> Result<i64> {
    let n = v
        .as_i64()
        .with_context(|| format!("{what} = {v} is not an integer"))?;
    if n < 0 {
        bail!("{what} = {n} is negative");
    }
    Ok(n)
}

/// A client info with what varies masked: times, RTT (must be positive),
/// the client id (must be in 1..=20, as the Go tests want), the server
/// (must be this one).
fn client_view(ci: &Value, server: &str, what: &str) -> Result<Value> {
    let obj = ci
        .as_object()
        .with_context(|| format!("{what} is not an object: {ci}"))?;
    let mut out = Map::new();
    for (k, v) in obj {
        let shown = match k.as_str() {
            "start" | "stop" => {
                time_of(v, &format!("{what}.{k}"))?;
                json!("<time>")
            }
            "rtt" => {
                if ns_of(v, &format!("{what}.rtt"))? == 0 {
                    bail!("{what}.rtt is 0");
                }
                json!("<positive ns>")
            }
            "id" => {
                let id = v.as_u64().unwrap_or(0);
                if !(1..=20).contains(&id) {
                    bail!("{what}.id = {v}, expected a client id in 1..=20");
                }
                json!("<cid 1..20>")
            }
            "server" => {
                if v.as_str() != Some(server) {
                    bail!("{what}.server = {v}, expected this server {server:?}");
                }
                json!("<this server>")
            }
            _ => v.clone(),
        };
        out.insert(k.clone(), shown);
    }
    Ok(Value::Object(out))
}

/// The advisory with what varies masked (after checking its form): the
/// event id, times, latencies (non-negative integers of nanoseconds) and
/// the client infos as [`client_view`] shows them.
fn view(adv: &Value, server: &str) -> Result<Value> {
    let obj = adv
        .as_object()
        .with_context(|| format!("the advisory is not an object: {adv}"))?;
    let mut out = Map::new();
    for (k, v) in obj {
        let shown = match k.as_str() {
            "id" => {
                let id = v.as_str().unwrap_or_default();
                if id.len() != 22 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                    bail!("event id {v} is not 22 letters and digits");
                }
                json!("<event id>")
            }
            "timestamp" | "start" => {
                time_of(v, k)?;
                json!("<time>")
            }
            "service" | "system" | "total" => {
                ns_of(v, k)?;
                json!("<ns>")
            }
            "requestor" | "responder" => client_view(v, server, k)?,
            _ => v.clone(),
        };
        out.insert(k.clone(), shown);
    }
    Ok(Value::Object(out))
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

fn ns(v: &Value, k: &str) -> i64 {
    v[k].as_i64().unwrap_or(-1)
}

/// checkServiceLatency of the Go tests: status 200, the start within 20 ms
/// of `sent`, service latency plus the responder's RTT at least 80% of the
/// work, total >= service, both RTTs non-zero, and total = service +
/// requestor RTT + responder RTT + system.
fn check_latency(adv: &Value, sent: SystemTime, work: Duration) -> Result<()> {
    check_eq!(adv["status"].as_i64(), Some(200));
    let start = time_of(&adv["start"], "start")?;
    let delta = match start.duration_since(sent) {
        Ok(d) => d,
        Err(e) if e.duration() < Duration::from_secs(1) => Duration::ZERO,
        Err(e) => bail!("start {:?} before the request was sent", e.duration()),
    };
    if delta > Duration::from_millis(20) {
        bail!("bad start delta {delta:?}");
    }
    let (service, system, total) = (ns(adv, "service"), ns(adv, "system"), ns(adv, "total"));
    let req_rtt = adv["requestor"]["rtt"].as_i64().unwrap_or(0);
    let resp_rtt = adv["responder"]["rtt"].as_i64().unwrap_or(0);
    if ((service + resp_rtt) as f64) < work.as_nanos() as f64 * 0.8 {
        bail!("bad service latency {service} ns (+ rtt {resp_rtt}) for {work:?} of work");
    }
    if total < service {
        bail!("bad total latency {total} < service {service}");
    }
    if req_rtt == 0 {
        bail!("expected a non-zero requestor RTT");
    }
    if resp_rtt == 0 {
        bail!("expected a non-zero responder RTT");
    }
    let sum = service + req_rtt + resp_rtt + system;
    if total != sum {
        bail!("numbers do not add up: total {total}, service + rtts + system {sum}: {adv}");
    }
    Ok(())
}

/// extendedCheck of the Go tests: the user, the name (when given), a host,
/// an id in 1..=20, this server.
fn extended(ci: &Value, user: &str, name: Option<&str>, server: &str) -> Result<()> {
    check_eq!(ci["user"].as_str(), Some(user));
    if let Some(n) = name {
        check_eq!(ci["name"].as_str(), Some(n));
    }
    if ci["host"].as_str().unwrap_or_default().is_empty() {
        bail!("expected a host in {ci}");
    }
    let id = ci["id"].as_u64().unwrap_or(0);
    if !(1..=20).contains(&id) {
        bail!("expected an id in 1..=20, got {}", ci["id"]);
    }
    check_eq!(ci["server"].as_str(), Some(server));
    Ok(())
}

/// noShareCheck of the Go tests: no name, user, host, id or server.
fn no_share(ci: &Value) -> Result<()> {
    for k in ["name", "user", "host", "id", "server"] {
        if !ci[k].is_null() {
            bail!("{k} should not have been shared: {ci}");
        }
    }
    Ok(())
}

/// New-style request from BAR: a wildcard inbox (sid `sid`) answered on
/// one of its subjects. Returns the time it was sent.
async fn request(
    req: &mut RawClient,
    subject: &str,
    inbox: &str,
    payload: &str,
) -> Result<SystemTime> {
    let sent = SystemTime::now();
    req.send(&format!(
        "PUB {subject} {inbox} {}\r\n{payload}\r\n",
        payload.len()
    ))
    .await?;
    Ok(sent)
}

/// The response the requestor got (one message), as `subject payload`.
async fn response(req: &mut RawClient) -> Result<String> {
    let m = req.read_msgs(1).await.context("waiting for the response")?;
    Ok(format!(
        "{} {}",
        m[0].subject,
        String::from_utf8_lossy(&m[0].payload)
    ))
}

/// Starts the server of a tracking config; returns it with its name.
async fn start(ctx: &Ctx, conf: &str) -> Result<(Server, String)> {
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let name = server_name(ctx, &s).await?;
    Ok((s, name))
}

/// The clients of a tracked exchange on a [`tracking_conf`] server, in
/// the order they connect: FOO's responder on `ngs.usage.*` (sid 1, named
/// when `name` is given), FOO's listener of the latency subject `results`
/// (sid 2), and BAR's requestor subscribed to its `inbox` (sid 1).
async fn tracked_clients(
    ctx: &Ctx,
    s: &Server,
    name: Option<&str>,
    inbox: &str,
) -> Result<(RawClient, RawClient, RawClient)> {
    let mut resp = connect(ctx, s, "foo", name).await?;
    subscribe(&mut resp, &[("ngs.usage.*", "1")]).await?;
    let mut listener = connect(ctx, s, "foo", None).await?;
    subscribe(&mut listener, &[("results", "2")]).await?;
    let mut req = connect(ctx, s, "bar", None).await?;
    subscribe(&mut req, &[(inbox, "1")]).await?;
    Ok((resp, listener, req))
}

/// A request through the tracked import answered after `work`; returns
/// the advisory (after checking it came alone on the listener).
async fn tracked_round(
    req: &mut RawClient,
    resp: &mut RawClient,
    listener: &mut RawClient,
    inbox: &str,
    work: Duration,
) -> Result<(Value, SystemTime, String)> {
    let sent = request(req, "ngs.usage", inbox, "1h").await?;
    serve_one(resp, work, "22 msgs").await?;
    let got = response(req).await?;
    let adv = advisory(listener, "results").await?;
    Ok((adv, sent, got))
}

// ---------------------------------------------------------------- scenarios

/// A request from BAR answered by FOO's responder (named) after a few ms:
/// one advisory, status 200, numbers that add up, the responder's details
/// and only the requestor's account and RTT. Then the same with an
/// old-style request (an inbox unsubscribed after one message).
async fn single_server(ctx: Ctx) -> Result<()> {
    let (s, name) = start(&ctx, &tracking_conf(FULL_SAMPLING, "", "")).await?;
    let (mut resp, mut listener, mut req) =
        tracked_clients(&ctx, &s, Some("service22"), "_INBOX.new.*").await?;

    let work = Duration::from_millis(10);
    let (adv, sent, got) =
        tracked_round(&mut req, &mut resp, &mut listener, "_INBOX.new.1", work).await?;
    ctx.observe("response", &got);
    check_eq!(got, "_INBOX.new.1 22 msgs");
    let seen = view(&adv, &name)?;
    ctx.observe_json("advisory", &seen);
    check_eq!(adv["type"].as_str(), Some(LATENCY_TYPE));
    check_eq!(
        keys(&adv),
        vec![
            "id",
            "requestor",
            "responder",
            "service",
            "start",
            "status",
            "system",
            "timestamp",
            "total",
            "type"
        ]
    );
    check_latency(&adv, sent, work)?;
    extended(&adv["responder"], "foo", Some("service22"), &name)?;
    no_share(&adv["requestor"])?;
    ctx.observe("requestor keys", keys(&adv["requestor"]).join(","));
    check_eq!(keys(&adv["requestor"]), vec!["acc", "rtt"]);
    check_eq!(adv["requestor"]["acc"].as_str(), Some("BAR"));
    check_eq!(adv["responder"]["acc"].as_str(), Some("FOO"));
    no_more(&mut listener, Duration::from_millis(50)).await?;

    // Old request style.
    let mut old = connect(&ctx, &s, "bar", None).await?;
    old.send("SUB _INBOX.old 1\r\nUNSUB 1 1\r\n").await?;
    let (adv, sent, got) =
        tracked_round(&mut old, &mut resp, &mut listener, "_INBOX.old", work).await?;
    ctx.observe("old style response", &got);
    check_eq!(got, "_INBOX.old 22 msgs");
    ctx.observe_json("old style advisory", &view(&adv, &name)?);
    check_latency(&adv, sent, work)?;
    extended(&adv["responder"], "foo", Some("service22"), &name)?;
    no_share(&adv["requestor"])?;
    no_more(&mut listener, Duration::from_millis(50)).await?;
    Ok(())
}

/// The config checks of tracking (a results subject that is not a valid
/// publish subject or is the service itself, a sampling outside 1..100,
/// no system account), then a request `req` imported as `track.service`
/// answered after a few ms: the advisory's start, service and total.
async fn request_reply(ctx: Ctx) -> Result<()> {
    let conf = |latency: &str| {
        format!(
            "accounts {{\n  foo {{\n    users [ {{user: foo, password: pass}} ]\n    exports [ {{ service: track.service, latency: {latency} }} ]\n  }}\n  bar {{\n    users [ {{user: bar, password: pass}} ]\n    imports [ {{ service: {{ account: foo, subject: track.service }}, to: req }} ]\n  }}\n}}\n"
        )
    };
    // Go's texts; the positions are those of the `accounts` block (errors
    // found when the export is added) or of the latency value.
    let bad = [
        (
            "results not a publish subject",
            conf("{ sampling: 100%, subject: \"results.*\" }"),
            "<conf>:1:0: Error adding service latency sampling for \"track.service\" on subject \"results.*\": invalid publish subject",
        ),
        (
            "results is the service",
            conf("{ sampling: 100%, subject: track.service }"),
            "<conf>:1:0: Error adding service latency sampling for \"track.service\" on subject \"track.service\": invalid publish subject",
        ),
        (
            "sampling -1",
            conf("{ sampling: -1, subject: results }"),
            "<conf>:4:52: bad sampling percentage, should be 1-100",
        ),
        (
            "sampling 101",
            conf("{ sampling: 101, subject: results }"),
            "<conf>:4:52: bad sampling percentage, should be 1-100",
        ),
        // Beyond the Go test: other malformed latency blocks.
        (
            "sampling 0%",
            conf("{ sampling: \"0%\", subject: results }"),
            "<conf>:4:52: bad sampling percentage, should be 1-100",
        ),
        (
            "sampling abc",
            conf("{ sampling: \"abc\", subject: results }"),
            "<conf>:4:52: Failed to parse latency sample: strconv.Atoi: parsing \"abc\": invalid syntax",
        ),
        (
            "no subject",
            conf("{ sampling: 100% }"),
            "<conf>:4:41: Latency subject required, but missing",
        ),
        (
            "subject not a string",
            conf("{ sampling: 50, subject: 5 }"),
            "<conf>:4:66: Expected latency subject to be a string, got string",
        ),
        (
            "latency not a map",
            conf("5"),
            "<conf>:4:41: Expected latency entry to be a map/struct or string, got int64",
        ),
        (
            "no system account",
            format!("no_sys_acc: true\n{}", conf("results")),
            "<conf>:2:1: Error adding service latency sampling for \"track.service\": system account not setup",
        ),
    ];
    for (label, body, want) in bad {
        let (code, text) = kit::config_test_raw(&ctx, &body).await?;
        ctx.observe(&format!("{label}: -t"), format!("exit {code:?}: {text}"));
        check_eq!(code, Some(1));
        check_eq!(text, format!("nats-server: {want}"));
    }
    let (code, text) = kit::config_test_raw(&ctx, &conf("results")).await?;
    ctx.observe("shorthand: -t", format!("exit {code:?}: {text}"));
    check_eq!(code, Some(0));

    let (s, name) = start(&ctx, &conf("{ sampling: 100%, subject: results }")).await?;
    let mut svc = connect(&ctx, &s, "foo", None).await?;
    svc.send("SUB track.service 1\r\nSUB results 2\r\n").await?;
    svc.flush().await?;
    let mut client = connect(&ctx, &s, "bar", None).await?;
    client.send("SUB resp 11\r\n").await?;
    let sent = request(&mut client, "req", "resp", "help").await?;
    let work = Duration::from_millis(10);
    // A little more than the service time checked: the responder's RTT is
    // taken off the measure.
    let m = serve_one(&mut svc, work + Duration::from_millis(2), "22").await?;
    ctx.observe(
        "request",
        format!("{} {}", m.subject, String::from_utf8_lossy(&m.payload)),
    );
    check_eq!(m.subject.as_str(), "track.service");
    let got = response(&mut client).await?;
    ctx.observe("response", &got);
    check_eq!(got, "resp 22");
    let adv = advisory(&mut svc, "results").await?;
    ctx.observe_json("advisory", &view(&adv, &name)?);
    let start = time_of(&adv["start"], "start")?;
    let delta = start.duration_since(sent).unwrap_or(Duration::ZERO);
    if delta > Duration::from_millis(5) {
        bail!("bad start delta {delta:?}");
    }
    if ns(&adv, "service") < work.as_nanos() as i64 {
        bail!("bad service latency {} for {work:?}", ns(&adv, "service"));
    }
    if ns(&adv, "total") < ns(&adv, "service") {
        bail!("bad total latency {}", ns(&adv, "total"));
    }
    Ok(())
}

/// A TCP proxy that holds each chunk `delay` before passing it on, both
/// ways (the Go tests' slow proxy). Aborted when dropped.
struct SlowProxy {
    addr: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn slow_proxy(target: String, delay: Duration) -> Result<SlowProxy> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let task = tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let Ok(outbound) = TcpStream::connect(&target).await else {
                continue;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let (ir, iw) = inbound.into_split();
            let (or, ow) = outbound.into_split();
            tokio::spawn(pump(ir, ow, delay));
            tokio::spawn(pump(or, iw, delay));
        }
    });
    Ok(SlowProxy { addr, task })
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        tokio::time::sleep(delay).await;
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

/// A requestor behind a slow proxy (10 ms each way) and a responder that
/// answers at once: the advisory still gives the requestor an RTT of at
/// least 10 ms, and a total of at least that; no second advisory follows.
async fn client_rtt_slower(ctx: Ctx) -> Result<()> {
    let (s, name) = start(&ctx, &tracking_conf(FULL_SAMPLING, "", "")).await?;
    let mut resp = connect(&ctx, &s, "foo", None).await?;
    subscribe(&mut resp, &[("ngs.usage.*", "1")]).await?;
    let mut listener = connect(&ctx, &s, "foo", None).await?;
    subscribe(&mut listener, &[("results", "2")]).await?;

    let rtt = Duration::from_millis(10);
    let proxy = slow_proxy(s.addr(), rtt).await?;
    let (mut req, _) = RawClient::connect_info(&proxy.addr).await?;
    req.send(&format!("CONNECT {}\r\n", connect_json("bar", None)))
        .await?;
    req.flush().await?;
    // The proxy's own RTT, as the Go test checks it.
    let t = Instant::now();
    req.flush().await?;
    let d = t.elapsed();
    if d < rtt {
        bail!("expected an rtt of at least {rtt:?} through the proxy, got {d:?}");
    }
    subscribe(&mut req, &[("_INBOX.slow.*", "1")]).await?;
    let (adv, _, got) = tracked_round(
        &mut req,
        &mut resp,
        &mut listener,
        "_INBOX.slow.1",
        Duration::from_millis(1),
    )
    .await?;
    ctx.observe("response", &got);
    check_eq!(got, "_INBOX.slow.1 22 msgs");
    ctx.observe_json("advisory", &view(&adv, &name)?);
    check_eq!(adv["status"].as_i64(), Some(200));
    let req_rtt = adv["requestor"]["rtt"].as_i64().unwrap_or(0);
    let at_least = rtt.as_nanos() as i64;
    ctx.observe("requestor rtt >= 10ms", (req_rtt >= at_least).to_string());
    if req_rtt < at_least {
        bail!("expected requestor latency to be > {rtt:?}, got {req_rtt} ns");
    }
    if ns(&adv, "total") < at_least {
        bail!(
            "expected total latency to be > {rtt:?}, got {} ns",
            ns(&adv, "total")
        );
    }
    extended(&adv["responder"], "foo", None, &name)?;
    no_share(&adv["requestor"])?;
    no_more(&mut listener, Duration::from_millis(100)).await?;
    Ok(())
}

/// Answers `n` requests that arrive on the responder (pipelined).
async fn answer_all(resp: &mut RawClient, n: usize, answer: &str) -> Result<()> {
    let msgs = resp.read_msgs(n).await?;
    let mut out = String::new();
    for m in msgs {
        let reply = m.reply.context("a request without reply")?;
        out.push_str(&format!("PUB {reply} {}\r\n{answer}\r\n", answer.len()));
    }
    resp.send(&out).await
}

/// Counts the advisories that arrive until none has for `quiet`.
async fn count_advisories(c: &mut RawClient, quiet: Duration) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(quiet, c.read_op()).await {
            Err(_) => return Ok(out),
            Ok(Ok(Op::Msg(m))) => out.push(serde_json::from_slice(&m.payload)?),
            Ok(Ok(Op::Ping)) => c.send("PONG\r\n").await?,
            Ok(Ok(op)) => bail!("unexpected {op:?}"),
            Ok(Err(e)) => return Err(e),
        }
    }
}

/// 50% sampling: of 1000 requests about half are measured.
async fn sampling(ctx: Ctx) -> Result<()> {
    let latency = "{ sampling: 50%, subject: results }";
    let (s, _) = start(&ctx, &tracking_conf(latency, "", "")).await?;
    let (mut resp, mut listener, mut req) = tracked_clients(&ctx, &s, None, "_INBOX.s.*").await?;
    let to_send = 1000;
    let mut got = 0;
    // In batches of 100, each answered before the next.
    for batch in 0..10 {
        let mut p = String::new();
        for i in 0..100 {
            p.push_str(&format!(
                "PUB ngs.usage _INBOX.s.{} 2\r\n1h\r\n",
                batch * 100 + i
            ));
        }
        req.send(&p).await?;
        answer_all(&mut resp, 100, "22 msgs").await?;
        got += req.read_msgs(100).await?.len();
    }
    check_eq!(got, to_send);
    let (mid, delta) = (to_send / 2, to_send / 10);
    // Advisories leave after the responses; on a loaded machine a pause of
    // 200 ms does not mean the last has left: while too few have arrived,
    // listen a while longer.
    let mut results = count_advisories(&mut listener, Duration::from_millis(200)).await?;
    for _ in 0..5 {
        if results.len() + delta >= mid {
            break;
        }
        results.extend(count_advisories(&mut listener, Duration::from_millis(500)).await?);
    }
    let n = results.len();
    let ok = n <= mid + delta && n + delta >= mid;
    ctx.observe("about half sampled", ok.to_string());
    if !ok {
        bail!("sampling number incorrect: {mid} vs {n}");
    }
    let statuses: Vec<i64> = results
        .iter()
        .map(|v| v["status"].as_i64().unwrap_or(0))
        .filter(|s| *s != 200)
        .collect();
    check_eq!(statuses, Vec::<i64>::new());
    Ok(())
}

/// FOO's and BAR's subscriptions and FOO's pending responses, from
/// /accountz, and the server's total from /subsz.
async fn sub_counts(ctx: &Ctx, s: &Server) -> Result<Value> {
    let exporter = ctx.http_json(s, "/accountz?acc=FOO").await?;
    let importer = ctx.http_json(s, "/accountz?acc=BAR").await?;
    let subsz = ctx.http_json(s, "/subsz").await?;
    let len = |v: &Value| {
        v.as_object()
            .map(|o| o.len())
            .or(v.as_array().map(|a| a.len()))
    };
    Ok(json!({
        "foo subscriptions": exporter["account_detail"]["subscriptions"],
        "bar subscriptions": importer["account_detail"]["subscriptions"],
        "foo imports": len(&exporter["account_detail"]["imports"]),
        "foo responses": len(&exporter["account_detail"]["responses"]).unwrap_or(0),
        "total": subsz["num_subscriptions"],
    }))
}

/// One request from a new connection, answered, then the connection closed.
async fn leak_round(ctx: &Ctx, s: &Server, resp: &mut RawClient, i: usize) -> Result<()> {
    let mut req = connect(ctx, s, "bar", None).await?;
    req.send("SUB _INBOX.l.* 1\r\n").await?;
    request(&mut req, "ngs.usage", &format!("_INBOX.l.{i}"), "1h").await?;
    serve_one(resp, Duration::ZERO, "22 msgs").await?;
    response(&mut req).await?;
    Ok(())
}

/// 100 requests, each from a new connection that closes after its
/// response: the subscriptions and FOO's service imports come back to
/// what they were after the first request (nothing leaks per request).
async fn no_subs_leak(ctx: Ctx) -> Result<()> {
    let conf = format!(
        "http: 127.0.0.1:{{{{http_port}}}}\n{}",
        tracking_conf(FULL_SAMPLING, "", "")
    );
    let (s, _) = start(&ctx, &conf).await?;
    let mut resp = connect(&ctx, &s, "foo", Some("dlc22")).await?;
    subscribe(&mut resp, &[("ngs.usage.*", "1")]).await?;
    let before = sub_counts(&ctx, &s).await?;
    ctx.observe_json("before any request", &before);
    leak_round(&ctx, &s, &mut resp, 0).await?;
    let settled = |want: Option<Value>| {
        let (ctx, s) = (&ctx, &s);
        kit::eventually(Duration::from_secs(2), move || {
            let want = want.clone();
            async move {
                let now = sub_counts(ctx, s).await?;
                if now["foo responses"] != json!(0) {
                    return Ok(None);
                }
                Ok(match want {
                    Some(w) if w != now => None,
                    _ => Some(now),
                })
            }
        })
    };
    let first = settled(None).await?;
    ctx.observe_json("after the first request", &first);
    for i in 1..100 {
        leak_round(&ctx, &s, &mut resp, i).await?;
    }
    let after = settled(Some(first.clone()))
        .await
        .context("subscriptions or service imports leaked")?;
    ctx.observe_json("after 100 requests", &after);
    let total = |v: &Value| v["total"].as_i64().unwrap_or(-1);
    let grown = total(&first) - total(&before);
    ctx.observe("the first request added", grown.to_string());
    // The Go test allows one wildcard response subscription per server.
    if !(0..=1).contains(&grown) {
        bail!("the first request added {grown} subs");
    }
    check_eq!(first["foo imports"], before["foo imports"]);
    Ok(())
}

/// 50 requests answered at once: 50 advisories, none with a negative
/// service latency.
async fn adjust_negative(ctx: Ctx) -> Result<()> {
    let (s, name) = start(&ctx, &tracking_conf(FULL_SAMPLING, "", "")).await?;
    let (mut resp, mut listener, mut req) = tracked_clients(&ctx, &s, None, "_INBOX.n.*").await?;
    let total = 50;
    for i in 0..total {
        request(&mut req, "ngs.usage", &format!("_INBOX.n.{i}"), "1h").await?;
        serve_one(&mut resp, Duration::ZERO, "22 msgs").await?;
        response(&mut req).await?;
    }
    let mut views = std::collections::BTreeSet::new();
    for i in 0..total {
        let adv = advisory(&mut listener, "results")
            .await
            .with_context(|| format!("expected to receive latency metric {i}"))?;
        if adv["service"].as_i64().unwrap_or(-1) < 0 {
            bail!("unexpected negative latency value: {adv}");
        }
        check_eq!(adv["status"].as_i64(), Some(200));
        views.insert(view(&adv, &name)?.to_string());
    }
    ctx.observe("distinct advisory shapes", views.len().to_string());
    for v in &views {
        ctx.observe("advisory", v);
    }
    no_more(&mut listener, Duration::from_millis(50)).await?;
    Ok(())
}

/// Status and description of an advisory, as `status description`.
fn status(adv: &Value) -> String {
    format!(
        "{} {}",
        adv["status"],
        adv["description"].as_str().unwrap_or("<none>")
    )
}

/// The advisories of the Go tests' three failures of a request through an
/// export with a response threshold, and the clients that made them.
struct Failures {
    /// A publish without reply (400).
    no_reply: Value,
    /// A request nobody serves (503).
    no_responders: Value,
    /// A request answered after the threshold (504).
    too_slow: Value,
    /// FOO's listener of `results`.
    listener: RawClient,
    /// BAR's requestor, subscribed to `<inbox>.*`.
    req: RawClient,
    /// FOO's responder on `ngs.usage.bar`, connected after the 503.
    resp: RawClient,
}

/// Makes the three failures on a [`tracking_conf`] server with a response
/// threshold; the late response of the third is sent once its 504 is out.
async fn failures(ctx: &Ctx, s: &Server, inbox: &str) -> Result<Failures> {
    let mut listener = connect(ctx, s, "foo", None).await?;
    subscribe(&mut listener, &[("results", "2")]).await?;
    let mut req = connect(ctx, s, "bar", None).await?;
    subscribe(&mut req, &[(&format!("{inbox}.*"), "1")]).await?;

    req.send("PUB ngs.usage 2\r\n1h\r\n").await?;
    let no_reply = advisory(&mut listener, "results").await?;

    request(&mut req, "ngs.usage", &format!("{inbox}.1"), "1h").await?;
    let no_responders = advisory(&mut listener, "results").await?;

    let mut resp = connect(ctx, s, "foo", None).await?;
    subscribe(&mut resp, &[("ngs.usage.bar", "1")]).await?;
    request(&mut req, "ngs.usage", &format!("{inbox}.2"), "1h").await?;
    let m = resp.read_msgs(1).await?.remove(0);
    let too_slow = advisory(&mut listener, "results").await?;
    let reply = m.reply.context("no reply subject")?;
    resp.send(&format!("PUB {reply} 7\r\n22 msgs\r\n")).await?;
    resp.flush().await?;
    Ok(Failures {
        no_reply,
        no_responders,
        too_slow,
        listener,
        req,
        resp,
    })
}

/// With a 20 ms response threshold: a publish without reply (400), a
/// request nobody serves (503), a response later than the threshold (504,
/// and the late response is dropped), no duplicate, and an old-style
/// requestor that unsubscribed before the response (408).
async fn failure_reporting(ctx: Ctx) -> Result<()> {
    let (s, name) = start(
        &ctx,
        &tracking_conf(FULL_SAMPLING, ", threshold: \"20ms\"", ""),
    )
    .await?;
    let Failures {
        no_reply,
        no_responders,
        too_slow,
        mut listener,
        mut req,
        mut resp,
    } = failures(&ctx, &s, "_INBOX.f").await?;
    for (label, adv, code, text) in [
        ("no reply", &no_reply, 400, "400 Bad Request"),
        (
            "no responders",
            &no_responders,
            503,
            "503 Service Unavailable",
        ),
        ("too slow", &too_slow, 504, "504 Service Timeout"),
    ] {
        ctx.observe(label, status(adv));
        ctx.observe_json(&format!("{label} advisory"), &view(adv, &name)?);
        check_eq!(adv["status"].as_i64(), Some(code));
        check_eq!(status(adv), text);
    }
    let late = req.msgs_until_pong().await?;
    ctx.observe("late response delivered", late.len().to_string());
    check_eq!(late.len(), 0);
    // Make sure we do not get duplicates.
    no_more(&mut listener, Duration::from_millis(50)).await?;

    // Old request style: the inbox is gone before the (timely) response.
    let mut old = connect(&ctx, &s, "bar", None).await?;
    old.send("SUB _INBOX.old 1\r\nUNSUB 1 1\r\n").await?;
    request(&mut old, "ngs.usage", "_INBOX.old", "1h").await?;
    let m = resp.read_msgs(1).await?.remove(0);
    old.send("UNSUB 1\r\n").await?;
    old.flush().await?;
    let reply = m.reply.context("no reply subject")?;
    resp.send(&format!("PUB {reply} 7\r\n22 msgs\r\n")).await?;
    let adv = advisory(&mut listener, "results").await?;
    ctx.observe("requestor gone", status(&adv));
    ctx.observe_json("requestor gone advisory", &view(&adv, &name)?);
    check_eq!(adv["status"].as_i64(), Some(408));
    check_eq!(status(&adv), "408 Request Timeout");
    Ok(())
}

/// SVC's responder on a [`svc_conf`] server, subscribed to the latency
/// subject (sid 2) and `svc.echo` (sid 1), and CLIENT's old-style
/// requestor, its inbox `_INBOX.old` unsubscribed after one message.
async fn svc_clients(ctx: &Ctx, s: &Server) -> Result<(RawClient, RawClient)> {
    let mut resp = connect(ctx, s, "svc", None).await?;
    resp.send("SUB latency.svc 2\r\nSUB svc.echo 1\r\n").await?;
    resp.flush().await?;
    let mut req = connect(ctx, s, "client", None).await?;
    req.send("SUB _INBOX.old 1\r\nUNSUB 1 1\r\n").await?;
    Ok((resp, req))
}

/// The SVC / CLIENT config: CLIENT imports `svc.echo` as `SVC`; an
/// old-style request answered after a few ms is measured in full.
async fn old_request_style(ctx: Ctx) -> Result<()> {
    let conf = svc_conf("{\n sampling: 100%\n subject: latency.svc\n }", "", false);
    let (s, name) = start(&ctx, &conf).await?;
    let (mut resp, mut req) = svc_clients(&ctx, &s).await?;
    let sent = request(&mut req, "SVC", "_INBOX.old", "1h").await?;
    let work = Duration::from_millis(10);
    let m = serve_one(&mut resp, work, "world").await?;
    check_eq!(m.subject.as_str(), "svc.echo");
    let got = response(&mut req).await?;
    ctx.observe("response", &got);
    check_eq!(got, "_INBOX.old world");
    let adv = advisory(&mut resp, "latency.svc").await?;
    ctx.observe_json("advisory", &view(&adv, &name)?);
    check_latency(&adv, sent, work)?;
    extended(&adv["responder"], "svc", None, &name)?;
    no_share(&adv["requestor"])?;
    check_eq!(adv["requestor"]["acc"].as_str(), Some("CLIENT"));
    Ok(())
}

/// STATIC exports the stream `>` and the service `my.service`; DYN imports
/// both. A request from DYN reaches STATIC's subscriber once, then its
/// queue subscriber once, and still once each time when DYN has a queue
/// subscriber of its own on the service subject.
async fn stack_overflow(ctx: Ctx) -> Result<()> {
    let conf = "accounts {\n\
      STATIC {\n\
        users = [ { user: \"static\", pass: \"foo\" } ]\n\
        exports [\n\
          { stream: > }\n\
          { service: my.service }\n\
        ]\n\
      }\n\
      DYN {\n\
        users = [ { user: \"foo\", pass: \"bar\" } ]\n\
        imports [\n\
          { stream { subject: >, account: STATIC } }\n\
          { service { subject: my.service, account: STATIC } }\n\
        ]\n\
      }\n\
    }\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut st = login(&ctx, &s, "static", "foo").await?;
    subscribe(&mut st, &[("my.service", "1")]).await?;
    let mut dyn_ = login(&ctx, &s, "foo", "bar").await?;
    let mut rounds = Vec::new();
    for round in ["plain", "queue", "queue on both sides"] {
        match round {
            "queue" => {
                st.send("UNSUB 1\r\nSUB my.service prod 2\r\n").await?;
                st.flush().await?;
            }
            "queue on both sides" => {
                subscribe(&mut dyn_, &[("my.service prod", "3")]).await?;
            }
            _ => {}
        }
        dyn_.send("PUB my.service foo 2\r\nhi\r\n").await?;
        // DYN's PING first: then the request has been routed.
        let on_dyn = kit::delivered(&mut dyn_).await?;
        let got = kit::delivered(&mut st).await?;
        ctx.observe(&format!("{round}: static got"), got.join("|"));
        ctx.observe(&format!("{round}: dyn got"), on_dyn.join("|"));
        rounds.push((got, on_dyn));
    }
    // One request each time at STATIC (its plain, then its queue
    // subscriber), none looping back to DYN through the stream import; DYN's
    // own queue subscriber gets its own publish.
    check_eq!(rounds[0], (vec!["my.service 1 hi".to_string()], vec![]));
    check_eq!(rounds[1], (vec!["my.service 2 hi".to_string()], vec![]));
    check_eq!(
        rounds[2],
        (
            vec!["my.service 2 hi".to_string()],
            vec!["my.service 3 hi".to_string()]
        )
    );
    Ok(())
}

/// With `share: true` and a 10 ms threshold: the 400, 503 and 504
/// advisories carry the requestor's details (user bar, host, id, server).
async fn shares_failures(ctx: Ctx) -> Result<()> {
    let (s, name) = start(
        &ctx,
        &tracking_conf(FULL_SAMPLING, ", threshold: \"10ms\"", ", share: true"),
    )
    .await?;
    let mut f = failures(&ctx, &s, "_INBOX.d").await?;
    for (label, adv, code) in [
        ("no reply", &f.no_reply, 400),
        ("no responders", &f.no_responders, 503),
        ("too slow", &f.too_slow, 504),
    ] {
        ctx.observe_json(label, &view(adv, &name)?);
        check_eq!(adv["status"].as_i64(), Some(code));
        extended(&adv["requestor"], "bar", None, &name)?;
    }
    no_more(&mut f.listener, Duration::from_millis(50)).await?;
    Ok(())
}

/// `share: true` on CLIENT's import: the advisory has the requestor's
/// details; after a reload without it, only its account and RTT.
async fn shares_config(ctx: Ctx) -> Result<()> {
    let latency = "{\n sampling: 100%\n subject: latency.svc\n }";
    let (s, name) = start(&ctx, &svc_conf(latency, "", true)).await?;
    let (mut resp, mut req) = svc_clients(&ctx, &s).await?;
    let sent = request(&mut req, "SVC", "_INBOX.old", "1h").await?;
    let work = Duration::from_millis(10);
    serve_one(&mut resp, work, "world").await?;
    check_eq!(response(&mut req).await?, "_INBOX.old world");
    let adv = advisory(&mut resp, "latency.svc").await?;
    ctx.observe_json("shared", &view(&adv, &name)?);
    check_latency(&adv, sent, work)?;
    extended(&adv["responder"], "svc", None, &name)?;
    extended(&adv["requestor"], "client", None, &name)?;

    reload(&s, &svc_conf(latency, "", false)).await?;
    req.send("SUB _INBOX.old2 2\r\nUNSUB 2 1\r\n").await?;
    request(&mut req, "SVC", "_INBOX.old2", "1h").await?;
    serve_one(&mut resp, Duration::ZERO, "world").await?;
    check_eq!(response(&mut req).await?, "_INBOX.old2 world");
    let adv = advisory(&mut resp, "latency.svc").await?;
    ctx.observe_json("after reload without share", &view(&adv, &name)?);
    no_share(&adv["requestor"])?;
    Ok(())
}

/// Header-sampled tracking with a 200 ms threshold: a first request left
/// unanswered, a second on the same reply subject answered at once. The
/// advisories come as 200 (the second request) then 504 (the first), the
/// second starting before the first; the requestor gets one response.
async fn loss(ctx: Ctx) -> Result<()> {
    let conf = svc_conf(
        "{\n sampling: headers\n subject: latency.svc\n }",
        "      threshold: \"200ms\"\n",
        true,
    );
    let (s, name) = start(&ctx, &conf).await?;
    let mut resp = connect(&ctx, &s, "svc", Some("responder")).await?;
    subscribe(&mut resp, &[("svc.echo", "1")]).await?;
    let mut listener = connect(&ctx, &s, "svc", Some("latency")).await?;
    subscribe(&mut listener, &[("latency.svc", "2")]).await?;
    let mut req = connect(&ctx, &s, "client", Some("requestor")).await?;
    subscribe(&mut req, &[("_INBOX.loss", "1")]).await?;
    let send = |msg: &str| {
        let hdr = "NATS/1.0\r\nX-B3-Sampled: 1\r\n\r\n";
        format!(
            "HPUB SVC _INBOX.loss {} {}\r\n{hdr}{msg}\r\n",
            hdr.len(),
            hdr.len() + msg.len()
        )
    };
    req.send(&send("msg2")).await?;
    let first = resp.read_msgs(1).await?.remove(0);
    check_eq!(String::from_utf8_lossy(&first.payload), "msg2");
    tokio::time::sleep(Duration::from_millis(30)).await;
    req.send(&send("msg1")).await?;
    let second = resp.read_msgs(1).await?.remove(0);
    check_eq!(String::from_utf8_lossy(&second.payload), "msg1");
    let reply = second.reply.context("no reply subject")?;
    resp.send(&format!("PUB {reply} 8\r\nresponse\r\n")).await?;

    let a1 = advisory(&mut listener, "latency.svc").await?;
    let a2 = tokio::time::timeout(
        Duration::from_secs(2),
        advisory(&mut listener, "latency.svc"),
    )
    .await
    .context("no second advisory")??;
    ctx.observe_json("first advisory", &view(&a1, &name)?);
    ctx.observe_json("second advisory", &view(&a2, &name)?);
    check_eq!(
        (a1["status"].as_i64(), a2["status"].as_i64()),
        (Some(200), Some(504))
    );
    let (t1, t2) = (
        time_of(&a1["start"], "start")?,
        time_of(&a2["start"], "start")?,
    );
    let reordered = t2 < t1;
    ctx.observe("second advisory started first", reordered.to_string());
    if !reordered {
        bail!("start times should indicate reordering {t1:?} : {t2:?}");
    }
    for a in [&a1, &a2] {
        check_eq!(a["header"], json!({"X-B3-Sampled": ["1"]}));
    }
    let got = req.msgs_until_pong().await?;
    ctx.observe("responses", got.len().to_string());
    check_eq!(got.len(), 1);
    Ok(())
}

/// An HPUB of `payload` with `headers` (name, value) and `Some-Other`.
fn hpub(subject: &str, reply: Option<&str>, headers: &[(&str, &str)], payload: &str) -> String {
    let mut h = String::from("NATS/1.0\r\n");
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    let reply = reply.map(|r| format!(" {r}")).unwrap_or_default();
    format!(
        "HPUB {subject}{reply} {} {}\r\n{h}{payload}\r\n",
        h.len(),
        h.len() + payload.len()
    )
}

/// The tracing headers of the Go test, each case triggering a measurement.
const TRACE_CASES: &[&[(&str, &str)]] = &[
    &[("Uber-Trace-Id", "479fefe9525eddb:479fefe9525eddb:0:1")],
    &[("X-B3-Sampled", "1")],
    &[("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7")],
    &[(
        "B3",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
    )],
    &[(
        "Traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )],
    &[
        ("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("X-B3-ParentSpanId", "05e3ac9a4f6e3b90"),
        ("X-B3-SpanId", "e457b5a2e4d86bd1"),
        ("X-B3-Sampled", "1"),
    ],
    &[
        ("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("X-B3-ParentSpanId", "05e3ac9a4f6e3b90"),
        ("X-B3-SpanId", "e457b5a2e4d86bd1"),
    ],
    &[
        ("Uber-Trace-Id", "479fefe9525eddb:479fefe9525eddb:0:1"),
        ("Uberctx-X", "foo"),
    ],
    &[
        (
            "Traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("Tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
    ],
];

/// The value of header `k` in an advisory's `header`, matched as Go's
/// `http.Header.Get` does (canonical key).
fn header_get(adv: &Value, k: &str) -> Option<String> {
    let canon: String = k
        .split('-')
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-");
    adv["header"][&canon][0].as_str().map(str::to_string)
}

/// receiveAndTest of the Go test: the status, the responder's details on a
/// 200, the requestor shared or not, `Some-Other` never in the header, and
/// each tracing header there.
fn receive_and_test(
    adv: &Value,
    shared: bool,
    headers: &[(&str, &str)],
    status: i64,
    server: &str,
) -> Result<()> {
    check_eq!(adv["status"].as_i64(), Some(status));
    if status == 200 {
        extended(&adv["responder"], "svc", None, server)?;
    }
    if shared {
        extended(&adv["requestor"], "client", None, server)?;
    } else {
        no_share(&adv["requestor"])?;
    }
    if header_get(adv, "Some-Other").is_some() {
        bail!("expected header Some-Other to be gone: {}", adv["header"]);
    }
    for (k, v) in headers {
        if header_get(adv, k).as_deref() != Some(*v) {
            bail!("expected header {k:?} to be set: {}", adv["header"]);
        }
    }
    Ok(())
}

/// `sampling: headers`, shared and not: for each tracing header, a request
/// answered (200), one with no responder (503) and one without reply
/// (400), each advisory with the tracing headers that triggered it.
async fn header_triggered(ctx: Ctx) -> Result<()> {
    for shared in [true, false] {
        let conf = svc_conf(
            "{\n sampling: headers\n subject: latency.svc\n }",
            "",
            shared,
        );
        let (s, name) = start(&ctx, &conf).await?;
        let mut resp = connect(&ctx, &s, "svc", None).await?;
        subscribe(&mut resp, &[("latency.svc", "2")]).await?;
        let mut req = connect(&ctx, &s, "client", None).await?;
        subscribe(&mut req, &[("_INBOX.h.*", "1")]).await?;
        let cases: Vec<&[(&str, &str)]> = TRACE_CASES
            .iter()
            .copied()
            .filter(|c| !shared || c.len() == 1)
            .collect();
        for (i, case) in cases.iter().enumerate() {
            let label = format!(
                "shared {shared} {}",
                case.iter().map(|(k, _)| *k).collect::<Vec<_>>().join("+")
            );
            let mut headers: Vec<(&str, &str)> = case.to_vec();
            headers.push(("Some-Other", "value"));
            subscribe(&mut resp, &[("svc.echo", "1")]).await?;
            let work = Duration::from_millis(5);
            let sent = SystemTime::now();
            let inbox = format!("_INBOX.h.{i}");
            req.send(&hpub("SVC", Some(&inbox), &headers, "1h")).await?;
            serve_one(&mut resp, work, "world").await?;
            check_eq!(response(&mut req).await?, format!("{inbox} world"));
            let adv = advisory(&mut resp, "latency.svc").await?;
            ctx.observe_json(&format!("{label}: answered"), &view(&adv, &name)?);
            receive_and_test(&adv, shared, case, 200, &name)?;
            check_latency(&adv, sent, work)?;

            // No responder.
            resp.send("UNSUB 1\r\n").await?;
            resp.flush().await?;
            req.send(&hpub("SVC", Some(&inbox), &headers, "1h")).await?;
            let adv = advisory(&mut resp, "latency.svc").await?;
            ctx.observe_json(&format!("{label}: no responder"), &view(&adv, &name)?);
            receive_and_test(&adv, shared, case, 503, &name)?;

            // No reply subject.
            req.send(&hpub("SVC", None, &headers, "1h")).await?;
            let adv = advisory(&mut resp, "latency.svc").await?;
            ctx.observe_json(&format!("{label}: no reply"), &view(&adv, &name)?);
            receive_and_test(&adv, shared, case, 400, &name)?;
            check_eq!(req.msgs_until_pong().await?.len(), 0);
        }
    }
    Ok(())
}

/// One server with the Go test's accounts: `one` imports
/// `service.weather.requests.>` as `service.weather.>` (shared); a request
/// on `service.weather.los_angeles` is measured with non-zero service,
/// system and total latencies.
async fn missing_results(ctx: Ctx) -> Result<()> {
    let conf = "accounts {\n\
      one: {\n\
        users = [ {user: one, password: pass} ]\n\
        imports = [ {service: {account: weather, subject: service.weather.requests.>}, to: service.weather.>, share: true} ]\n\
      }\n\
      weather: {\n\
        users = [ {user: weather, password: pass} ]\n\
        exports = [ {\n\
            service: service.weather.requests.>\n\
            accounts: [one]\n\
            latency: { sampling: 100%, subject: service.weather.latency }\n\
          } ]\n\
      }\n\
    }\n";
    let (s, name) = start(&ctx, conf).await?;
    let mut resp = connect(&ctx, &s, "weather", None).await?;
    resp.send("SUB service.weather.requests.> 1\r\nSUB service.weather.latency 2\r\n")
        .await?;
    resp.flush().await?;
    let mut req = connect(&ctx, &s, "one", None).await?;
    req.send("SUB _INBOX.w 1\r\nUNSUB 1 1\r\n").await?;
    request(&mut req, "service.weather.los_angeles", "_INBOX.w", "").await?;
    let m = serve_one(&mut resp, Duration::from_millis(5), "sunny!").await?;
    ctx.observe("request subject", &m.subject);
    check_eq!(m.subject.as_str(), "service.weather.requests.los_angeles");
    check_eq!(response(&mut req).await?, "_INBOX.w sunny!");
    let adv = advisory(&mut resp, "service.weather.latency").await?;
    ctx.observe_json("advisory", &view(&adv, &name)?);
    check_eq!(adv["status"].as_i64(), Some(200));
    let (sv, sy, to) = (ns(&adv, "service"), ns(&adv, "system"), ns(&adv, "total"));
    ctx.observe(
        "service, system, total non-zero",
        (sv > 0 && sy > 0 && to > 0).to_string(),
    );
    if sv <= 0 || sy <= 0 || to <= 0 {
        bail!("received invalid tracking measurements, {sv} {sy} {to}");
    }
    extended(&adv["requestor"], "one", None, &name)?;
    Ok(())
}

/// A responder that answers twice (`latency: results`, the shorthand of
/// the subject alone): the requestor gets the first answer, one advisory
/// is sent, and the server goes on serving.
async fn double_response(ctx: Ctx) -> Result<()> {
    let (s, name) = start(&ctx, &tracking_conf("results", "", "")).await?;
    let (mut resp, mut listener, mut req) =
        tracked_clients(&ctx, &s, Some("service22"), "_INBOX.dd.*").await?;
    request(&mut req, "ngs.usage", "_INBOX.dd.1", "1h").await?;
    let m = resp.read_msgs(1).await?.remove(0);
    let reply = m.reply.context("no reply subject")?;
    resp.send(&format!(
        "PUB {reply} 7\r\n22 msgs\r\nPUB {reply} 4\r\nboom\r\n"
    ))
    .await?;
    resp.flush().await?;
    let got: Vec<String> = req
        .msgs_until_pong()
        .await?
        .into_iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect();
    ctx.observe("responses", got.join("|"));
    check_eq!(got, vec!["22 msgs"]);
    let adv = advisory(&mut listener, "results").await?;
    ctx.observe_json("advisory", &view(&adv, &name)?);
    check_eq!(adv["status"].as_i64(), Some(200));
    no_more(&mut listener, Duration::from_millis(100)).await?;
    // Still serving.
    request(&mut req, "ngs.usage", "_INBOX.dd.2", "1h").await?;
    serve_one(&mut resp, Duration::ZERO, "22 msgs").await?;
    check_eq!(response(&mut req).await?, "_INBOX.dd.2 22 msgs");
    Ok(())
}

/// shouldSample's cases: with `sampling: headers`, a request with each
/// header is measured or not as Go decides, and the advisory carries the
/// header. A final request with `X-B3-Sampled: 1` and a marker trace id
/// closes the list, so that a missing advisory shows.
async fn sampling_header(ctx: Ctx) -> Result<()> {
    let latency = "{ sampling: headers, subject: results }";
    let (s, _) = start(&ctx, &tracking_conf(latency, "", "")).await?;
    let (mut resp, mut listener, mut req) = tracked_clients(&ctx, &s, None, "_INBOX.sh.*").await?;
    let cases: &[(bool, &[(&str, &str)])] = &[
        (false, &[("Uber-Trace-Id", "0:0:0:0")]),
        (false, &[("Uber-Trace-Id", "0:0:0:00")]),
        (true, &[("Uber-Trace-Id", "0:0:0:1")]),
        (true, &[("Uber-Trace-Id", "0:0:0:01")]),
        (true, &[("Uber-Trace-Id", "0:0:0:5")]),
        (
            true,
            &[(
                "Uber-Trace-Id",
                "479fefe9525eddb:5adb976bfc1f95c1:479fefe9525eddb:1",
            )],
        ),
        (
            true,
            &[("Uber-Trace-Id", "479fefe9525eddb:479fefe9525eddb:0:1")],
        ),
        (
            false,
            &[(
                "Uber-Trace-Id",
                "479fefe9525eddb:5adb976bfc1f95c1:479fefe9525eddb:0",
            )],
        ),
        (
            false,
            &[("Uber-Trace-Id", "479fefe9525eddb:479fefe9525eddb:0:0")],
        ),
        (true, &[("X-B3-Sampled", "1")]),
        (false, &[("X-B3-Sampled", "0")]),
        (
            true,
            &[("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7")],
        ),
        (
            false,
            &[
                ("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"),
                ("X-B3-Sampled", "0"),
            ],
        ),
        (
            true,
            &[
                ("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"),
                ("X-B3-Sampled", "1"),
            ],
        ),
        (false, &[("B3", "0")]),
        (false, &[("B3", "0-0-0-0")]),
        (false, &[("B3", "0-0-0")]),
        (true, &[("B3", "0-0-1-0")]),
        (true, &[("B3", "0-0-1")]),
        (true, &[("B3", "0-0-d")]),
        (
            true,
            &[("B3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1")],
        ),
        (
            true,
            &[(
                "B3",
                "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
            )],
        ),
        (
            false,
            &[(
                "B3",
                "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0-05e3ac9a4f6e3b90",
            )],
        ),
        (
            true,
            &[(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )],
        ),
        (
            false,
            &[(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            )],
        ),
        // Beyond the Go test: no tracing header at all.
        (false, &[("Other", "1")]),
    ];
    let marker: &[(&str, &str)] = &[("X-B3-Sampled", "1"), ("X-B3-TraceId", "marker")];
    let mut want = Vec::new();
    for (i, (sample, headers)) in cases.iter().chain([(true, marker)].iter()).enumerate() {
        let inbox = format!("_INBOX.sh.{i}");
        req.send(&hpub("ngs.usage", Some(&inbox), headers, "1h"))
            .await?;
        let m = resp.read_msgs(1).await?.remove(0);
        check_eq!(m.subject.as_str(), "ngs.usage.bar");
        let reply = m.reply.context("no reply subject")?;
        // A measured request has a reply ending in `.T`.
        let tracked = reply.ends_with(".T");
        ctx.observe(&format!("{headers:?}: tracked reply"), tracked.to_string());
        check_eq!(tracked, *sample);
        resp.send(&format!("PUB {reply} 2\r\nok\r\n")).await?;
        check_eq!(response(&mut req).await?, format!("{inbox} ok"));
        if *sample {
            want.push(*headers);
        }
    }
    let mut seen = Vec::new();
    loop {
        let adv = advisory(&mut listener, "results").await?;
        let is_marker = header_get(&adv, "X-B3-TraceId").as_deref() == Some("marker");
        seen.push(adv);
        if is_marker {
            break;
        }
    }
    ctx.observe("advisories", seen.len().to_string());
    check_eq!(seen.len(), want.len());
    for (adv, headers) in seen.iter().zip(&want) {
        ctx.observe_json(&format!("{headers:?}: header"), &adv["header"]);
        check_eq!(adv["status"].as_i64(), Some(200));
        for (k, v) in headers.iter() {
            if header_get(adv, k).as_deref() != Some(*v) {
                bail!("expect header {k:?} to match: {}", adv["header"]);
            }
        }
    }
    Ok(())
}
