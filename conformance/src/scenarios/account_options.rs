//! Scenarios for account options in the config file as one server shows
//! them: service latency settings of an export (in `/accountz` and at `-t`),
//! users of the authorization block and of accounts loaded together, and
//! `disable_sublist_cache` applied to every account's sublist.

use crate::check_eq;
use crate::kit::check_config as check;
use crate::kit::{self, b64url, Ctx, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{Context, Result};
use futures::FutureExt;
use serde_json::{json, Value};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("config/service-latency-parse", |c| {
            service_latency_parse(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestParseServiceLatency"),
        Scenario::new("config/account-users-loaded", |c| {
            account_users_loaded(c).boxed()
        })
        .full("TestAccountUsersLoadedProperly"),
        Scenario::new("config/sublist-no-cache-on-accounts", |c| {
            sublist_no_cache_on_accounts(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestSublistNoCacheConfigOnAccounts"),
    ]
}

// ---------------------------------------------------------------------------
// server/opts_test.go: TestParseServiceLatency

fn latency_conf(latency: &str) -> String {
    format!(
        "system_account = nats.io\n\t\t\taccounts {{\n\t\t\t\tnats.io {{\n\t\t\t\t\texports [{{\n\t\t\t\t\t\tservice: nats.add\n\t\t\t\t\t\tlatency: {latency}\n\t\t\t\t\t}}]\n\t\t\t\t}}\n\t\t\t}}"
    )
}

async fn service_latency_parse(ctx: Ctx) -> Result<()> {
    for (label, latency, want) in [
        (
            "block with percent sample default value",
            "{\n\t\t\t\t\t\t\tsampling: 100%\n\t\t\t\t\t\t\tsubject: latency.tracking.add\n\t\t\t\t\t\t}",
            json!({"sampling": 100, "results": "latency.tracking.add"}),
        ),
        (
            "block with percent sample nondefault value",
            "{\n\t\t\t\t\t\t\tsampling: 33%\n\t\t\t\t\t\t\tsubject: latency.tracking.add\n\t\t\t\t\t\t}",
            json!({"sampling": 33, "results": "latency.tracking.add"}),
        ),
        (
            "block with number sample nondefault value",
            "{\n\t\t\t\t\t\t\tsampling: 87\n\t\t\t\t\t\t\tsubject: latency.tracking.add\n\t\t\t\t\t\t}",
            json!({"sampling": 87, "results": "latency.tracking.add"}),
        ),
        (
            "field with subject",
            "latency.tracking.add",
            json!({"sampling": 100, "results": "latency.tracking.add"}),
        ),
    ] {
        let conf = latency_conf(latency);
        check_eq!(
            check(&ctx, label, &conf).await?,
            "exit 0: configuration file <conf> is valid"
        );
        let s = ctx
            .server(ServerSpec::new().conf(&format!("http: 127.0.0.1:{{{{http_port}}}}\n{conf}\n")))
            .await?;
        let accountz = ctx.http_json(&s, "/accountz?acc=nats.io").await?;
        let exports = accountz["account_detail"]["exports"]
            .as_array()
            .context("accountz has no exports")?;
        let export = exports
            .iter()
            .find(|e| e["subject"] == "nats.add")
            .cloned()
            .unwrap_or(Value::Null);
        ctx.observe_json(&format!("{label}: export nats.add"), &export);
        check_eq!(export["type"].as_str(), Some("service"));
        check_eq!(export["service_latency"], want);
    }
    // A latency block without a subject is refused.
    let conf = latency_conf("{\n\t\t\t\t\t\t\tsampling: 87\n\t\t\t\t\t\t}");
    check_eq!(
        check(&ctx, "block with missing subject", &conf).await?,
        "exit 1: <conf>:6:7: Latency subject required, but missing"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// server/opts_test.go: TestAccountUsersLoadedProperly

async fn account_users_loaded(ctx: Ctx) -> Result<()> {
    // Two users and two nkeys, half in the authorization block and half in
    // an account: every one of them can connect, on every start (Go once
    // lost some, depending on the order it walked the top-level keys).
    let nk1 = nkeys::KeyPair::new_user();
    let nk2 = nkeys::KeyPair::new_user();
    let conf = format!(
        "\n\tauthorization {{\n\t\tusers [\n\t\t\t{{user: ivan, password: bar}}\n\t\t\t{{nkey : {}}}\n\t\t]\n\t}}\n\taccounts {{\n\t\tsynadia {{\n\t\t\tusers [\n\t\t\t\t{{user: derek, password: foo}}\n\t\t\t\t{{nkey : {}}}\n\t\t\t]\n\t\t}}\n\t}}\n\t",
        nk1.public_key(),
        nk2.public_key()
    );
    for round in 0..5 {
        let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
        let mut results = Vec::new();
        for (who, connect) in [
            (
                "ivan",
                "{\"verbose\":true,\"user\":\"ivan\",\"pass\":\"bar\"}".to_string(),
            ),
            (
                "derek",
                "{\"verbose\":true,\"user\":\"derek\",\"pass\":\"foo\"}".to_string(),
            ),
            ("nkey in authorization", String::new()),
            ("nkey in account", String::new()),
        ] {
            let (mut c, info) = ctx.raw(&s).await?;
            let connect = if connect.is_empty() {
                let kp = if who == "nkey in authorization" {
                    &nk1
                } else {
                    &nk2
                };
                let nonce = info["nonce"].as_str().context("INFO has no nonce")?;
                let sig = kp
                    .sign(nonce.as_bytes())
                    .map_err(|e| anyhow::anyhow!("signing the nonce: {e}"))?;
                let sig = b64url(&sig);
                format!(
                    "{{\"verbose\":true,\"nkey\":\"{}\",\"sig\":\"{sig}\"}}",
                    kp.public_key()
                )
            } else {
                connect
            };
            c.send(&format!("CONNECT {connect}\r\nPING\r\n")).await?;
            let got = c.expect(r"(\+OK|-ERR '[^\r]*')\r\n").await?;
            results.push(format!("{who}: {}", got[0]));
        }
        ctx.observe(&format!("start {round}"), results.join(", "));
        check_eq!(
            results,
            vec![
                "ivan: +OK".to_string(),
                "derek: +OK".to_string(),
                "nkey in authorization: +OK".to_string(),
                "nkey in account: +OK".to_string()
            ]
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// server/opts_test.go: TestSublistNoCacheConfigOnAccounts

async fn sublist_no_cache_on_accounts(ctx: Ctx) -> Result<()> {
    let nk1 = nkeys::KeyPair::new_user();
    let nk2 = nkeys::KeyPair::new_user();
    let conf = format!(
        "http: 127.0.0.1:{{{{http_port}}}}\n      disable_sublist_cache: true\n\n\t  accounts {{\n\t\tsynadia {{\n\t\t\tusers [ {{nkey : {}}}, {{user: s, password: s}} ]\n\t\t}}\n\t\tnats.io {{\n\t\t\tusers [ {{nkey : {}}}, {{user: n, password: n}} ]\n\t\t}}\n\t  }}\n\t  no_sys_acc = true\n",
        nk1.public_key(),
        nk2.public_key()
    );
    let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
    // The global account and the two of the file.
    let names = kit::account_names(&ctx, &s).await?;
    ctx.observe("accounts", format!("{names:?}"));
    check_eq!(names, vec!["$G", "nats.io", "synadia"]);
    // A match in each account leaves nothing in its cache.
    let mut conns = Vec::new();
    for (acc, user) in [("synadia", "s"), ("nats.io", "n")] {
        let mut c = ctx
            .raw_connected(
                &s,
                &format!("{{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{user}\"}}"),
            )
            .await?;
        c.send("SUB foo 1\r\nPUB foo 1\r\nx\r\nPING\r\n").await?;
        let msgs = c.msgs_until_pong().await?;
        check_eq!(msgs.len(), 1);
        let detail = ctx.http_json(&s, &format!("/accountz?acc={acc}")).await?;
        let stats = &detail["account_detail"]["sublist_stats"];
        ctx.observe_json(&format!("{acc}: sublist stats"), stats);
        check_eq!(stats["num_matches"].as_u64(), Some(1));
        check_eq!(stats["num_cache"].as_u64(), Some(0));
        conns.push(c);
    }
    Ok(())
}
