//! JetStream as monitoring shows it on one server: `/jsz` and its options,
//! the `/varz` `jetstream` section, `/healthz` with JetStream on, and the
//! `JSZ` requests of the system account (server/monitor_test.go
//! TestMonitorJsz, without its cluster; server/monitor.go Jsz, JszAccount,
//! Varz and healthz; server/events.go's `JSZ` handlers).
//!
//! The documents carry times, the store folder and the machine's sizes:
//! the store folder is shown as `<dir>`, times are masked by the
//! normalizer, and sizes the machine decides are only checked against the
//! config. Go lists accounts and streams in map order unless an offset
//! sorts them: the scenarios compare them as sets.

use crate::check_eq;
use crate::kit::{Ctx, Server, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{anyhow, Context, Result};
use futures::{FutureExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    let mon = |s: Scenario| s.needs(Need::JetStream).needs(Need::Monitoring);
    vec![
        mon(Scenario::new("jetstream/jsz-options", |c| jsz_options(c).boxed())
            .partial("TestMonitorJsz")),
        mon(Scenario::new("jetstream/varz-section", |c| varz_section(c).boxed())
            .beyond_go("monitor.go Varz: the jetstream section's config (compress_ok only when both sizes are configured) and stats (usage, reservations, accounts, API counters)")),
        mon(Scenario::new("jetstream/healthz", |c| healthz(c).boxed())
            .beyond_go("monitor.go healthz: a single JetStream server is healthy (plain, js-enabled-only, js-server-only, over HTTP and $SYS.REQ.SERVER.PING.HEALTHZ)")),
        mon(Scenario::new("jetstream/jsz-requests", |c| jsz_requests(c).boxed())
            .beyond_go("events.go JSZ handlers: $SYS.REQ.SERVER.<id>.JSZ / PING.JSZ with options and filters, $SYS.REQ.ACCOUNT.<acc>.JSZ (monitor.go JszAccount) and its errors; leader_only without JetStream is not answered")),
    ]
}

// ---------------------------------------------------------------- helpers

const GB: u64 = 1024 * 1024 * 1024;
/// How long a request waits for its answer.
const WAIT: Duration = Duration::from_secs(3);
/// How long a request that must stay unanswered is given.
const SILENCE: Duration = Duration::from_millis(300);

/// TestMonitorJsz's server, alone: a system account, `ACC` with limits and
/// `BCC_TO_HAVE_ONE_EXTRA` without.
const MONITOR_JSZ_CONF: &str = "http: 127.0.0.1:{{http_port}}\nserver_name: server_1\nsystem_account: SYS\naccounts {\n  SYS { users [{user: sys, password: pwd}] }\n  ACC { users [{user: usr, password: pwd}], jetstream: {max_store: 4Mb, max_memory: 5Mb} }\n  BCC_TO_HAVE_ONE_EXTRA { users [{user: usr2, password: pwd}], jetstream: enabled }\n}\njetstream: {\n  max_mem_store: 10Mb\n  max_file_store: 10Mb\n  store_dir: \"{{dir}}/js\"\n}\n";

async fn user(ctx: &Ctx, s: &Server, name: &str) -> Result<async_nats::Client> {
    ctx.client_with(
        s,
        async_nats::ConnectOptions::with_user_and_password(name.into(), "pwd".into()),
    )
    .await
}

/// A request's answer as JSON.
async fn req(c: &async_nats::Client, subject: &str, body: &str) -> Result<Value> {
    let m = tokio::time::timeout(
        WAIT,
        c.request(subject.to_string(), body.to_string().into()),
    )
    .await
    .map_err(|_| anyhow!("{subject}: no answer"))?
    .map_err(|e| anyhow!("{subject}: {e}"))?;
    serde_json::from_slice(&m.payload)
        .with_context(|| format!("{subject}: {}", String::from_utf8_lossy(&m.payload)))
}

/// Whether a request gets no answer at all.
async fn unanswered(c: &async_nats::Client, subject: &str, body: &str) -> Result<bool> {
    let inbox = c.new_inbox();
    let mut sub = c.subscribe(inbox.clone()).await?;
    c.publish_with_reply(subject.to_string(), inbox, body.to_string().into())
        .await?;
    c.flush().await?;
    Ok(tokio::time::timeout(SILENCE, sub.next()).await.is_err())
}

/// Creates a stream through the API; fails on an error response.
async fn create(c: &async_nats::Client, cfg: Value) -> Result<()> {
    let name = cfg["name"].as_str().unwrap_or_default().to_string();
    let r = req(
        c,
        &format!("$JS.API.STREAM.CREATE.{name}"),
        &cfg.to_string(),
    )
    .await?;
    if r.get("error").is_some() {
        return Err(anyhow!("create {name}: {r}"));
    }
    Ok(())
}

/// Publishes and waits for the stream's PubAck.
async fn publish(c: &async_nats::Client, subject: &str, body: &str) -> Result<()> {
    let r = req(c, subject, body).await?;
    if r.get("seq").is_none() {
        return Err(anyhow!("publish {subject}: {r}"));
    }
    Ok(())
}

fn details(v: &Value) -> Vec<Value> {
    v["account_details"].as_array().cloned().unwrap_or_default()
}

/// The account names of a `/jsz` answer, sorted.
fn names(v: &Value) -> Vec<String> {
    let mut n: Vec<String> = details(v)
        .iter()
        .map(|d| d["name"].as_str().unwrap_or_default().to_string())
        .collect();
    n.sort();
    n
}

/// The stream names of an account detail, sorted.
fn stream_names(d: &Value) -> Vec<String> {
    let mut n: Vec<String> = d["stream_detail"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|s| s["name"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    n.sort();
    n
}

/// Top-level keys, in the order the server wrote them.
fn keys(text: &str) -> Result<String> {
    // serde_json keeps the order of objects only with preserve_order, so
    // the keys are read from the text: those at depth one.
    let mut out = Vec::new();
    let (mut depth, mut in_str, mut esc, mut start) = (0i32, false, false, None);
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if in_str {
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                in_str = false;
                if depth == 1 {
                    if let Some(s) = start.take() {
                        let rest = text[i + 1..].trim_start();
                        if rest.starts_with(':') {
                            out.push(text[s..i].to_string());
                        }
                    }
                }
            }
            continue;
        }
        match b {
            b'"' => {
                in_str = true;
                start = Some(i + 1);
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth -= 1,
            _ => {}
        }
    }
    if out.is_empty() {
        return Err(anyhow!("no keys in {text}"));
    }
    Ok(out.join(","))
}

/// A document with the store folder shown as `<dir>`.
fn without_dir(s: &Server, v: &Value) -> Value {
    let text = v.to_string().replace(&*s.dir().to_string_lossy(), "<dir>");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

// ---------------------------------------------------------------- scenarios

/// TestMonitorJsz on one server (no routes, so no meta group, replicas or
/// mirror lag; no consumers): the default document, `accounts`, the
/// accounts' reservations, `offset`, `limit`, `acc`, `streams`, `config`,
/// `consumers` and an unknown account.
async fn jsz_options(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(MONITOR_JSZ_CONF)).await?;
    let nc = user(&ctx, &s, "usr").await?;
    create(
        &nc,
        json!({"name": "my-stream-replicated", "subjects": ["foo", "bar"], "num_replicas": 1}),
    )
    .await?;
    create(
        &nc,
        json!({"name": "my-stream-non-replicated", "subjects": ["baz"], "num_replicas": 1}),
    )
    .await?;
    publish(&nc, "foo", "").await?;

    // default
    let (status, text) = ctx.http_get(&s, "/jsz").await?;
    check_eq!(status, 200);
    let info: Value = serde_json::from_str(&text)?;
    check_eq!(details(&info).len(), 0);
    check_eq!(info["streams"], json!(2));
    check_eq!(info["consumers"], json!(0));
    check_eq!(info["messages"], json!(1));
    check_eq!(info["accounts"], json!(2));
    ctx.observe("jsz keys", keys(&text)?);
    ctx.observe_json("jsz", &without_dir(&s, &info));

    // accounts
    let info = ctx.http_json(&s, "/jsz?accounts=true").await?;
    check_eq!(names(&info), vec!["ACC", "BCC_TO_HAVE_ONE_EXTRA"]);
    for d in details(&info) {
        check_eq!(d.get("stream_detail"), None);
    }

    // accounts reserved metrics: the limits, unsigned (no limit is 2^64-1)
    let info = ctx.http_json(&s, "/jsz?accounts=true&acc=ACC").await?;
    check_eq!(details(&info).len(), 1);
    let acc = &details(&info)[0];
    check_eq!(acc["reserved_memory"], json!(5_242_880));
    check_eq!(acc["reserved_storage"], json!(4_194_304));
    ctx.observe_json("ACC detail", acc);
    let info = ctx
        .http_json(&s, "/jsz?accounts=true&acc=BCC_TO_HAVE_ONE_EXTRA")
        .await?;
    check_eq!(details(&info).len(), 1);
    let bcc = &details(&info)[0];
    check_eq!(bcc["reserved_memory"], json!(u64::MAX));
    check_eq!(bcc["reserved_storage"], json!(u64::MAX));
    ctx.observe_json("BCC detail", bcc);

    // offset-too-big
    let info = ctx.http_json(&s, "/jsz?accounts=true&offset=10").await?;
    check_eq!(details(&info).len(), 0);
    check_eq!(info.get("account_details"), None);

    // limit
    let info = ctx.http_json(&s, "/jsz?accounts=true&limit=1").await?;
    check_eq!(details(&info).len(), 1);
    let info = ctx
        .http_json(&s, "/jsz?accounts=true&offset=1&limit=1")
        .await?;
    check_eq!(details(&info).len(), 1);

    // offset-stable: an offset sorts the accounts by name
    let a = ctx
        .http_json(&s, "/jsz?accounts=true&offset=1&limit=1")
        .await?;
    let b = ctx
        .http_json(&s, "/jsz?accounts=true&offset=1&limit=1")
        .await?;
    check_eq!(names(&a), names(&b));
    check_eq!(names(&a), vec!["BCC_TO_HAVE_ONE_EXTRA"]);

    // filter-account
    let info = ctx.http_json(&s, "/jsz?acc=ACC").await?;
    check_eq!(names(&info), vec!["ACC"]);
    let d = details(&info);
    check_eq!(d[0].get("stream_detail"), None);

    // streams
    let info = ctx.http_json(&s, "/jsz?acc=ACC&streams=true").await?;
    check_eq!(names(&info), vec!["ACC"]);
    let d = &details(&info)[0];
    check_eq!(
        stream_names(d),
        vec!["my-stream-non-replicated", "my-stream-replicated"]
    );
    for sd in d["stream_detail"].as_array().cloned().unwrap_or_default() {
        check_eq!(sd.get("consumer_detail"), None);
        check_eq!(sd.get("config"), None);
        check_eq!(sd["cluster"]["leader"], json!("server_1"));
    }
    let mut sd = d["stream_detail"].as_array().cloned().unwrap_or_default();
    sd.sort_by_key(|v| v["name"].to_string());
    ctx.observe_json("stream_detail", &Value::Array(sd));

    // consumers (none here): streams are listed, without config
    let info = ctx.http_json(&s, "/jsz?acc=ACC&consumers=true").await?;
    let d = &details(&info)[0];
    check_eq!(stream_names(d).len(), 2);
    check_eq!(d["stream_detail"][0].get("config"), None);

    // config
    let info = ctx
        .http_json(&s, "/jsz?acc=ACC&consumers=true&config=true")
        .await?;
    let d = &details(&info)[0];
    let mut sd = d["stream_detail"].as_array().cloned().unwrap_or_default();
    sd.sort_by_key(|v| v["name"].to_string());
    check_eq!(sd.len(), 2);
    for one in &sd {
        check_eq!(one["config"]["name"], one["name"]);
    }
    ctx.observe_json("stream_detail with config", &Value::Array(sd));

    // account-non-existing; with accounts=true, the filter does not apply
    let info = ctx.http_json(&s, "/jsz?acc=DOES_NOT_EXIT").await?;
    check_eq!(details(&info).len(), 0);
    let info = ctx
        .http_json(&s, "/jsz?acc=DOES_NOT_EXIT&accounts=true")
        .await?;
    check_eq!(names(&info), vec!["ACC", "BCC_TO_HAVE_ONE_EXTRA"]);

    // leader-only: one server leads
    let info = ctx.http_json(&s, "/jsz?leader-only=true").await?;
    check_eq!(info["streams"], json!(2));
    Ok(())
}

/// The `/varz` jetstream section: `config` as `/jsz` has it (compress_ok
/// only with both sizes configured), `stats` with usage, reservations and
/// API counters that follow the requests made.
async fn varz_section(ctx: Ctx) -> Result<()> {
    let conf = "http: 127.0.0.1:{{http_port}}\nserver_name: S1\njetstream: {max_mem_store: 2GB, max_file_store: 1TB, store_dir: \"{{dir}}/js\", domain: HUB}\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let (status, text) = ctx.http_get(&s, "/varz").await?;
    check_eq!(status, 200);
    let varz: Value = serde_json::from_str(&text)?;
    let section = &varz["jetstream"];
    check_eq!(section["config"]["max_memory"], json!(2 * GB));
    check_eq!(section["config"]["max_storage"], json!(1024 * GB));
    check_eq!(section["config"]["domain"], json!("HUB"));
    check_eq!(section["config"]["compress_ok"], json!(true));
    check_eq!(section["stats"]["accounts"], json!(1));
    check_eq!(section.get("meta"), None);
    ctx.observe("section keys", keys(&section.to_string())?);
    ctx.observe_json("section at start", &without_dir(&s, section));
    let jsz = ctx.http_json(&s, "/jsz").await?;
    check_eq!(jsz["config"], section["config"]);

    let nc = ctx.client(&s).await?;
    create(
        &nc,
        json!({"name": "M", "subjects": ["m"], "storage": "memory", "max_bytes": 1000}),
    )
    .await?;
    create(
        &nc,
        json!({"name": "F", "subjects": ["f"], "storage": "file", "max_bytes": 5000}),
    )
    .await?;
    let r = req(&nc, "$JS.API.STREAM.INFO.NOPE", "").await?;
    check_eq!(r["error"]["code"], json!(404));
    publish(&nc, "m", "hello").await?;
    publish(&nc, "f", "hello").await?;
    let varz = ctx.http_json(&s, "/varz").await?;
    let stats = &varz["jetstream"]["stats"];
    check_eq!(stats["reserved_memory"], json!(1000));
    check_eq!(stats["reserved_storage"], json!(5000));
    check_eq!(stats["api"]["total"], json!(3));
    check_eq!(stats["api"]["errors"], json!(1));
    let mem = stats["memory"].as_u64().unwrap_or(0);
    let file = stats["storage"].as_u64().unwrap_or(0);
    check_eq!((mem > 0, file > 0), (true, true));
    ctx.observe_json("stats after traffic", stats);
    let jsz = ctx.http_json(&s, "/jsz").await?;
    check_eq!(
        (
            jsz["memory"].clone(),
            jsz["storage"].clone(),
            jsz["reserved_memory"].clone(),
            jsz["api"].clone()
        ),
        (
            stats["memory"].clone(),
            stats["storage"].clone(),
            stats["reserved_memory"].clone(),
            stats["api"].clone()
        )
    );
    check_eq!(
        (jsz["messages"].clone(), jsz["streams"].clone()),
        (json!(2), json!(2))
    );
    drop(s);

    // Sizes left to the machine: no compress_ok.
    let s = ctx
        .server(
            ServerSpec::new()
                .conf("http: 127.0.0.1:{{http_port}}\njetstream: {store_dir: \"{{dir}}/js\"}\n"),
        )
        .await?;
    let varz = ctx.http_json(&s, "/varz").await?;
    let cfg = &varz["jetstream"]["config"];
    check_eq!(cfg.get("compress_ok"), None);
    check_eq!(cfg.get("domain"), None);
    let mut shown = without_dir(&s, cfg);
    check_eq!(shown["store_dir"], json!("<dir>/js/jetstream"));
    shown["max_memory"] = json!("<machine>");
    shown["max_storage"] = json!("<machine>");
    ctx.observe_json("machine-sized config", &shown);
    // Only the store size given: still rebuilt.
    let s = ctx
        .server(ServerSpec::new().conf(
            "http: 127.0.0.1:{{http_port}}\njetstream: {max_file_store: 1GB, store_dir: \"{{dir}}/js\"}\n",
        ))
        .await?;
    let varz = ctx.http_json(&s, "/varz").await?;
    let cfg = &varz["jetstream"]["config"];
    check_eq!(cfg["max_storage"], json!(GB));
    check_eq!(cfg.get("compress_ok"), None);
    Ok(())
}

/// `/healthz` of a JetStream server: ok with every option, over HTTP and
/// through the system account.
async fn healthz(ctx: Ctx) -> Result<()> {
    let conf = "http: 127.0.0.1:{{http_port}}\nsystem_account: SYS\naccounts {\n  SYS { users [{user: sys, password: pwd}] }\n  ACC { users [{user: usr, password: pwd}], jetstream: enabled }\n}\njetstream: {store_dir: \"{{dir}}/js\"}\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    for q in [
        "",
        "?js-enabled-only=true",
        "?js-server-only=true",
        "?js-enabled=true",
    ] {
        let (status, body) = ctx.http_get(&s, &format!("/healthz{q}")).await?;
        check_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
        ctx.observe(&format!("healthz{q}"), format!("{status} {body}"));
    }
    let (status, body) = ctx.http_get(&s, "/healthz?js-enabled-only=maybe").await?;
    check_eq!(status, 400);
    ctx.observe("bad js-enabled-only", format!("{status} {body}"));
    let sys = user(&ctx, &s, "sys").await?;
    for body in [
        "",
        r#"{"js-enabled-only":true}"#,
        r#"{"js-server-only":true}"#,
    ] {
        let r = req(&sys, "$SYS.REQ.SERVER.PING.HEALTHZ", body).await?;
        check_eq!(r["data"], json!({"status": "ok"}));
        check_eq!(r["server"]["jetstream"], json!(true));
        ctx.observe_json(&format!("PING.HEALTHZ {body}"), &r["data"]);
    }
    Ok(())
}

/// The JSZ requests of the system account with JetStream on.
async fn jsz_requests(ctx: Ctx) -> Result<()> {
    // TestMonitorJsz's server with a domain and an account without JetStream.
    let conf = MONITOR_JSZ_CONF
        .replace(
            "  BCC_TO_HAVE_ONE_EXTRA {",
            "  NOJS { users [{user: nojs, password: pwd}] }\n  BCC_TO_HAVE_ONE_EXTRA {",
        )
        .replace("max_mem_store: 10Mb", "domain: HUB\n  max_mem_store: 10Mb");
    let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
    let nc = user(&ctx, &s, "usr").await?;
    create(&nc, json!({"name": "S", "subjects": ["s"]})).await?;
    publish(&nc, "s", "x").await?;
    let sys = user(&ctx, &s, "sys").await?;

    let r = req(&sys, "$SYS.REQ.SERVER.PING.JSZ", "").await?;
    check_eq!(r["server"]["jetstream"], json!(true));
    check_eq!(r["server"]["domain"], json!("HUB"));
    let d = &r["data"];
    check_eq!(
        (d["streams"].clone(), d["messages"].clone()),
        (json!(1), json!(1))
    );
    check_eq!(d.get("account_details"), None);
    let http = ctx.http_json(&s, "/jsz").await?;
    check_eq!(d["config"], http["config"]);
    ctx.observe_json("PING.JSZ data", &without_dir(&s, d));
    let id = r["server"]["id"].as_str().unwrap_or_default().to_string();

    // Options in the body, by their JSON names.
    let r = req(
        &sys,
        &format!("$SYS.REQ.SERVER.{id}.JSZ"),
        r#"{"accounts":true}"#,
    )
    .await?;
    check_eq!(names(&r["data"]), vec!["ACC", "BCC_TO_HAVE_ONE_EXTRA"]);
    let r = req(
        &sys,
        "$SYS.REQ.SERVER.PING.JSZ",
        r#"{"account":"ACC","streams":true,"config":true}"#,
    )
    .await?;
    check_eq!(names(&r["data"]), vec!["ACC"]);
    let d = &details(&r["data"])[0];
    check_eq!(stream_names(d), vec!["S"]);
    check_eq!(d["stream_detail"][0]["config"]["name"], json!("S"));
    let r = req(
        &sys,
        "$SYS.REQ.SERVER.PING.JSZ",
        r#"{"account":"ACC","consumer":true}"#,
    )
    .await?;
    check_eq!(stream_names(&details(&r["data"])[0]), vec!["S"]);
    let r = req(
        &sys,
        "$SYS.REQ.SERVER.PING.JSZ",
        r#"{"accounts":true,"offset":1,"limit":5}"#,
    )
    .await?;
    check_eq!(names(&r["data"]), vec!["BCC_TO_HAVE_ONE_EXTRA"]);
    let r = req(&sys, "$SYS.REQ.SERVER.PING.JSZ", r#"{"leader_only":true}"#).await?;
    check_eq!(r["data"]["streams"], json!(1));
    let r = req(&sys, "$SYS.REQ.SERVER.PING.JSZ", r#"{"accounts":"yes"}"#).await?;
    check_eq!(r["error"]["code"], json!(400));
    ctx.observe_json("bad option", &r["error"]);

    // Filters: the domain must be the server's.
    let r = req(&sys, "$SYS.REQ.SERVER.PING.JSZ", r#"{"domain":"HUB"}"#).await?;
    check_eq!(r["data"]["streams"], json!(1));
    check_eq!(
        unanswered(&sys, "$SYS.REQ.SERVER.PING.JSZ", r#"{"domain":"LEAF"}"#).await?,
        true
    );
    check_eq!(
        unanswered(
            &sys,
            "$SYS.REQ.SERVER.PING.JSZ",
            r#"{"server_name":"other"}"#
        )
        .await?,
        true
    );

    // One account's detail.
    let r = req(&sys, "$SYS.REQ.ACCOUNT.ACC.JSZ", "").await?;
    let d = &r["data"];
    check_eq!(d["name"], json!("ACC"));
    check_eq!(d["reserved_memory"], json!(5_242_880));
    check_eq!(d.get("stream_detail"), None);
    ctx.observe_json("ACCOUNT.ACC.JSZ data", d);
    let r = req(&sys, "$SYS.REQ.ACCOUNT.ACC.JSZ", r#"{"streams":true}"#).await?;
    check_eq!(stream_names(&r["data"]), vec!["S"]);
    check_eq!(r["data"]["stream_detail"][0].get("config"), None);
    let r = req(
        &sys,
        "$SYS.REQ.ACCOUNT.ACC.JSZ",
        r#"{"streams":true,"config":true}"#,
    )
    .await?;
    check_eq!(r["data"]["stream_detail"][0]["config"]["name"], json!("S"));
    // The consumer option alone lists no streams here.
    let r = req(&sys, "$SYS.REQ.ACCOUNT.ACC.JSZ", r#"{"consumer":true}"#).await?;
    check_eq!(r["data"].get("stream_detail"), None);
    for acc in ["NOJS", "NOPE"] {
        let r = req(&sys, &format!("$SYS.REQ.ACCOUNT.{acc}.JSZ"), "").await?;
        check_eq!(r["error"]["code"], json!(500));
        ctx.observe_json(
            &format!("ACCOUNT.{acc}.JSZ"),
            &json!({"data": r["data"], "error": r["error"]}),
        );
    }
    drop(s);

    // Without JetStream, leader_only gets no answer; plain JSZ says disabled.
    let s = ctx
        .server(ServerSpec::new().conf(
            "system_account: SYS\naccounts {\n  SYS { users [{user: sys, password: pwd}] }\n}\n",
        ))
        .await?;
    let sys = user(&ctx, &s, "sys").await?;
    let r = req(&sys, "$SYS.REQ.SERVER.PING.JSZ", "").await?;
    check_eq!(r["data"]["disabled"], json!(true));
    check_eq!(
        unanswered(&sys, "$SYS.REQ.SERVER.PING.JSZ", r#"{"leader_only":true}"#).await?,
        true
    );
    let r = req(&sys, "$SYS.REQ.ACCOUNT.SYS.JSZ", "").await?;
    ctx.observe_json(
        "ACCOUNT.SYS.JSZ without JetStream",
        &json!({"data": r["data"], "error": r["error"]}),
    );
    Ok(())
}
