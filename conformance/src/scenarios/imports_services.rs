//! Scenarios for service exports and imports between accounts, from
//! server/accounts_test.go (TestAddServiceExport, TestServiceExportWithWildcards,
//! TestServiceImportWithWildcards, TestCrossAccountRequestReply,
//! TestCrossAccountServiceResponseTypes, TestAccountDuplicateServiceImportSubject,
//! TestAccountServiceImportWithRouteMappings, TestAccountImportsWithWildcardSupport*,
//! TestAccountAddServiceImportRace), all of test/services_test.go, and the
//! single-server part of server/reload_test.go
//! TestConfigReloadAccountServicesImportExport.
//!
//! The Go tests mostly add exports and imports in-process
//! (`AddServiceExport`, `AddServiceImport`, `SetServiceExportResponseThreshold`)
//! and read internal counts (`NumPendingAllResponses`, `len(imports.services)`).
//! Here the same exports and imports are written in the config file (a
//! removal is a config reload), an API error is the error `-t` prints for the
//! same import, and the internal counts are read where the server shows them:
//! `/accountz?acc=X` lists an account's exports (with their approved accounts
//! and response type), its imports, its subscription count and, under
//! `responses`, the response entries of its service exports (what
//! `NumPendingResponses` counts). A request crossing an import reaches the
//! exporter with a reply rewritten to `_R_.<6>.<6>` (its shape is checked, the
//! tokens are masked) and a `Nats-Request-Info` header (random values masked).

use crate::check_eq;
use crate::kit::{
    self, account_detail, check_configs, publish, reload, subscribe, Ctx, Msg, Op, RawClient,
    Server, ServerSpec,
};
use crate::registry::{Need, Scenario};
use anyhow::{bail, Context, Result};
use futures::FutureExt;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const HTTP: &str = "http: 127.0.0.1:{{http_port}}\n";
/// How long a count read over monitoring may take to settle.
const SETTLE: Duration = Duration::from_secs(3);

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("accounts/service-export-approved-accounts", |c| {
            export_approved(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestAddServiceExport"),
        Scenario::new("accounts/service-export-wildcard-import", |c| {
            export_with_wildcards(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestServiceExportWithWildcards"),
        Scenario::new("accounts/service-import-wildcards", |c| {
            import_with_wildcards(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestServiceImportWithWildcards"),
        Scenario::new("accounts/service-imports-many", |c| many_imports(c).boxed())
            .needs(Need::Monitoring)
            .partial("TestAccountAddServiceImportRace"),
        Scenario::new("accounts/service-cross-account-request-reply", |c| {
            cross_account_request_reply(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestCrossAccountRequestReply"),
        Scenario::new("accounts/service-response-types", |c| {
            response_types(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestCrossAccountServiceResponseTypes"),
        Scenario::new("accounts/service-import-duplicate-subject", |c| {
            duplicate_import_subject(c).boxed()
        })
        .full("TestAccountDuplicateServiceImportSubject"),
        Scenario::new("accounts/service-import-with-mapping", |c| {
            import_with_mapping(c).boxed()
        })
        .full("TestAccountServiceImportWithRouteMappings"),
        Scenario::new("accounts/imports-wildcard-support", |c| {
            imports_wildcard_support(c).boxed()
        })
        .full("TestAccountImportsWithWildcardSupport"),
        Scenario::new("accounts/imports-wildcard-dollar-tokens", |c| {
            imports_wildcard_dollar(c).boxed()
        })
        .full("TestAccountImportsWithWildcardSupportStreamAndService"),
        Scenario::new("accounts/service-streamed-requests", |c| {
            streamed_requests(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestServiceImportWithStreamed"),
        Scenario::new("accounts/service-streamed-eof", |c| streamed_eof(c).boxed())
            .needs(Need::Monitoring)
            .full("TestServiceImportWithStreamedResponseAndEOF"),
        Scenario::new("accounts/service-response-filtering", |c| {
            response_filtering(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestServiceExportsResponseFiltering"),
        Scenario::new("accounts/service-auto-direct-cleanup", |c| {
            auto_direct_cleanup(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestServiceExportsAutoDirectCleanup"),
        Scenario::new("accounts/service-pruning-cleanup", |c| {
            pruning_cleanup(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestServiceExportsPruningCleanup"),
        Scenario::new("accounts/service-response-threshold", |c| {
            response_threshold(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestServiceExportsResponseThreshold"),
        Scenario::new("accounts/service-threshold-chunked", |c| {
            threshold_chunked(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestServiceExportsResponseThresholdChunked"),
        Scenario::new("accounts/service-allow-responses", |c| {
            allow_responses(c).boxed()
        })
        .full("TestServiceAllowResponsesPerms"),
        Scenario::new("accounts/service-reload-imports-exports", |c| {
            reload_imports_exports(c).boxed()
        })
        .partial("TestConfigReloadAccountServicesImportExport"),
    ]
}

// ---------------------------------------------------------------- helpers

/// The CONNECT of a user whose password is `pwd`; `headers` says whether
/// it takes HMSG (a client that does not gets the message without headers).
fn login(user: &str, headers: bool) -> String {
    format!(
        "{{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"pwd\",\"headers\":{headers},\"name\":\"n-{user}\",\"lang\":\"raw\",\"version\":\"1.2.3\"}}"
    )
}

async fn conn(ctx: &Ctx, s: &Server, user: &str) -> Result<RawClient> {
    ctx.raw_connected(s, &login(user, false)).await
}

async fn conn_hdr(ctx: &Ctx, s: &Server, user: &str) -> Result<RawClient> {
    ctx.raw_connected(s, &login(user, true)).await
}

/// A connection of `user`, subscribed to `subs` (if any).
async fn conn_subscribed(
    ctx: &Ctx,
    s: &Server,
    user: &str,
    subs: &[(&str, &str)],
) -> Result<RawClient> {
    let mut c = conn(ctx, s, user).await?;
    if !subs.is_empty() {
        subscribe(&mut c, subs).await?;
    }
    Ok(c)
}

/// A server of `conf` (with monitoring) and its clients a, subscribed to
/// `a_subs`, and b, subscribed to `b_subs`, connected in that order.
async fn serve_a_b(
    ctx: &Ctx,
    conf: &str,
    a_subs: &[(&str, &str)],
    b_subs: &[(&str, &str)],
) -> Result<(Server, RawClient, RawClient)> {
    let s = ctx
        .server(ServerSpec::new().conf(&[HTTP, conf].concat()))
        .await?;
    let a = conn_subscribed(ctx, &s, "a", a_subs).await?;
    let b = conn_subscribed(ctx, &s, "b", b_subs).await?;
    Ok((s, a, b))
}

/// A reply the server made up for a request that crossed a service import:
/// `_R_.` then six base-62 characters (the exporting account's prefix), a
/// dot and six more.
fn is_service_reply(reply: &str) -> bool {
    let t: Vec<&str> = reply.split('.').collect();
    t.len() == 3
        && t[0] == "_R_"
        && t[1..]
            .iter()
            .all(|p| p.len() == 6 && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A message as `subject sid reply payload`: a missing reply shows as `-`, a
/// service reply as `_R_.*`.
fn line(m: &Msg) -> String {
    let reply = match m.reply.as_deref() {
        None => "-".to_string(),
        Some(r) if is_service_reply(r) => "_R_.*".to_string(),
        Some(r) => r.to_string(),
    };
    format!(
        "{} {} {reply} {}",
        m.subject,
        m.sid,
        String::from_utf8_lossy(&m.payload)
    )
}

fn lines(msgs: &[Msg]) -> Vec<String> {
    msgs.iter().map(line).collect()
}

/// The reply of a delivered request, which must be a service reply.
fn service_reply(m: &Msg) -> Result<String> {
    match m.reply.as_deref() {
        Some(r) if is_service_reply(r) => Ok(r.to_string()),
        other => bail!("expected an _R_.* like reply, got {other:?}"),
    }
}

/// The `Nats-Request-Info` header of a message, with its random values
/// (start time, client id, RTT, server id) masked; keys in wire order.
fn request_info(m: &Msg) -> Result<String> {
    let h = m.headers.as_deref().context("the request has no headers")?;
    let text = String::from_utf8_lossy(h).into_owned();
    let value = text
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Nats-Request-Info: "))
        .with_context(|| format!("no Nats-Request-Info header in {text:?}"))?;
    let masks = [
        (r#""start":"[^"]*""#, r#""start":"<time>""#),
        (r#""id":\d+"#, r#""id":<cid>"#),
        (r#""rtt":\d+"#, r#""rtt":<rtt>"#),
        (r#""server":"[A-Z0-9]{56}""#, r#""server":"<server-id>""#),
    ];
    let mut v = value.to_string();
    for (re, with) in masks {
        v = regex::Regex::new(re)?.replace_all(&v, with).into_owned();
    }
    Ok(v)
}

/// The header block of a message (empty when it came as MSG).
fn header_block(m: &Msg) -> String {
    m.headers
        .as_deref()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .unwrap_or_default()
}

/// The response entries of an account's service exports (what Go's
/// `NumPendingResponses` counts): their `_R_` subject and original reply.
async fn responses(ctx: &Ctx, s: &Server, name: &str) -> Result<BTreeMap<String, Value>> {
    let d = account_detail(ctx, s, name).await?;
    Ok(d["responses"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default())
}

async fn num_responses(ctx: &Ctx, s: &Server, name: &str) -> Result<usize> {
    Ok(responses(ctx, s, name).await?.len())
}

/// Waits until the account has `n` response entries.
async fn settle_responses(ctx: &Ctx, s: &Server, name: &str, n: usize) -> Result<usize> {
    kit::eventually(SETTLE, || async move {
        let got = num_responses(ctx, s, name).await?;
        if got == n {
            Ok(Some(got))
        } else {
            bail!("expected {n} response entries in {name}, got {got}")
        }
    })
    .await
}

/// The service imports of an account from `from` (system imports left out),
/// as `subject -> to`, sorted.
async fn imports_from(ctx: &Ctx, s: &Server, name: &str, from: &str) -> Result<Vec<String>> {
    let d = account_detail(ctx, s, name).await?;
    let mut v: Vec<String> = d["imports"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|i| i["account"] == from)
                .map(|i| {
                    format!(
                        "{} {} -> {}",
                        i["type"].as_str().unwrap_or("?"),
                        i["subject"].as_str().unwrap_or(""),
                        i["to"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    Ok(v)
}

/// The Go tests' exchange over raw connections: the responder already
/// listens (sid 1); the requester subscribes `reply` (sid 11) and publishes
/// `help` on `request` with that reply; the responder answers `22` on the
/// reply it got. Returns the request as the responder saw it and what the
/// requester got back.
async fn exchange(
    responder: &mut RawClient,
    requester: &mut RawClient,
    request: &str,
    reply: &str,
) -> Result<(Msg, Vec<Msg>)> {
    requester
        .send(&format!(
            "SUB {reply} 11\r\nPUB {request} {reply} 4\r\nhelp\r\n"
        ))
        .await?;
    requester.flush().await?;
    let got = responder.read_msgs(1).await?.remove(0);
    let r = service_reply(&got)?;
    publish(responder, &r, None, "22").await?;
    responder.flush().await?;
    let back = requester.msgs_until_pong().await?;
    requester.send("UNSUB 11\r\n").await?;
    Ok((got, back))
}

// ---------------------------------------------------------------- scenarios

/// The same subject exported again with other accounts adds them to the
/// approved list: public, then `[bar]`, then `[baz]` gives bar and baz (and
/// the export is no longer public: qux may not import it).
async fn export_approved(ctx: Ctx) -> Result<()> {
    let accounts = "accounts {\n\
      F1 { users = [{user: f1, password: pwd}], exports = [{service: test.request}] }\n\
      F2 { users = [{user: f2, password: pwd}], exports = [{service: test.request}, {service: test.request, accounts: [bar]}] }\n\
      F3 { users = [{user: f3, password: pwd}], exports = [{service: test.request}, {service: test.request, accounts: [bar]}, {service: test.request, accounts: [baz]}] }\n\
      bar { users = [{user: bar, password: pwd}], imports = [{service: {account: F3, subject: test.request}, to: f3}] }\n\
      baz { users = [{user: baz, password: pwd}], imports = [{service: {account: F3, subject: test.request}, to: f3}] }\n\
    }\n";
    let s = ctx
        .server(ServerSpec::new().conf(&[HTTP, accounts].concat()))
        .await?;
    let mut approved = BTreeMap::new();
    for acc in ["F1", "F2", "F3"] {
        let d = account_detail(&ctx, &s, acc).await?;
        let exports = d["exports"].as_array().context("no exports")?;
        check_eq!(exports.len(), 1);
        let e = &exports[0];
        let list = kit::approved_accounts(e);
        ctx.observe(
            &format!("{acc} export"),
            format!(
                "{} {} {} approved [{}]",
                e["subject"].as_str().unwrap_or(""),
                e["type"].as_str().unwrap_or(""),
                e["response_type"].as_str().unwrap_or(""),
                list.join(",")
            ),
        );
        approved.insert(acc, list);
    }
    check_eq!(approved["F1"], Vec::<String>::new());
    check_eq!(approved["F2"], vec!["bar"]);
    check_eq!(approved["F3"], vec!["bar", "baz"]);

    // Both approved accounts reach F3's responder.
    let mut f3 = conn(&ctx, &s, "f3").await?;
    subscribe(&mut f3, &[("test.request", "1")]).await?;
    for who in ["bar", "baz"] {
        let mut c = conn(&ctx, &s, who).await?;
        let (req, back) = exchange(&mut f3, &mut c, "f3", "reply").await?;
        let seen = (line(&req), lines(&back));
        ctx.observe(&format!("{who} via F3"), format!("{seen:?}"));
        check_eq!(
            seen,
            (
                "test.request 1 _R_.* help".to_string(),
                vec!["reply 11 - 22".to_string()]
            )
        );
    }

    // F2's export is private to bar now; F1's is public.
    let import = |acc: &str| {
        format!("accounts {{\n F1 {{ exports = [{{service: test.request}}] }}\n F2 {{ exports = [{{service: test.request}}, {{service: test.request, accounts: [bar]}}] }}\n bar {{}}\n qux {{ imports = [{{service: {{account: {acc}, subject: test.request}}}}] }}\n}}\n")
    };
    check_configs(
        &ctx,
        &[
            (
                "qux imports F2",
                &import("F2"),
                "exit 1: <conf>:1:0: Error adding service import \"test.request\": service import not authorized",
            ),
            (
                "qux imports F1",
                &import("F1"),
                "exit 0: configuration file <conf> is valid",
            ),
        ],
    )
    .await?;
    Ok(())
}

/// An export `ngs.update.*` (public, and private to the importer) imported
/// as the literal `ngs.update.$bar` under the local subject `ngs.update`.
async fn export_with_wildcards(ctx: Ctx) -> Result<()> {
    let accounts = "accounts {\n\
      foo { users = [{user: foo, password: pwd}], exports = [{service: \"ngs.update.*\"}] }\n\
      bar { users = [{user: bar, password: pwd}], imports = [{service: {account: foo, subject: \"ngs.update.$bar\"}, to: \"ngs.update\"}] }\n\
      pfoo { users = [{user: pfoo, password: pwd}], exports = [{service: \"ngs.update.*\", accounts: [pbar]}] }\n\
      pbar { users = [{user: pbar, password: pwd}], imports = [{service: {account: pfoo, subject: \"ngs.update.$bar\"}, to: \"ngs.update\"}] }\n\
    }\n";
    let s = ctx
        .server(ServerSpec::new().conf(&[HTTP, accounts].concat()))
        .await?;
    for (name, exporter, importer) in [("public", "foo", "bar"), ("private", "pfoo", "pbar")] {
        let mut cfoo = conn(&ctx, &s, exporter).await?;
        subscribe(&mut cfoo, &[("ngs.update.*", "1")]).await?;
        let mut cbar = conn(&ctx, &s, importer).await?;
        let (req, back) = exchange(&mut cfoo, &mut cbar, "ngs.update", "reply").await?;
        let request = line(&req);
        ctx.observe(&format!("{name}: request"), &request);
        check_eq!(request, "ngs.update.$bar 1 _R_.* help");
        let response = lines(&back);
        ctx.observe(&format!("{name}: response"), response.join("|"));
        check_eq!(response, vec!["reply 11 - 22"]);
        // Neither side keeps a response entry once the singleton answered.
        let pending = (
            num_responses(&ctx, &s, importer).await?,
            num_responses(&ctx, &s, exporter).await?,
        );
        ctx.observe(&format!("{name}: pending"), format!("{pending:?}"));
        check_eq!(pending, (0, 0));
    }
    Ok(())
}

/// A wildcard import: with a `to` it is refused, broader than the export it
/// is not authorized; `test.*` works, and once removed (reload) it is gone.
async fn import_with_wildcards(ctx: Ctx) -> Result<()> {
    let conf = |import: &str| {
        format!(
            "accounts {{\n foo {{ users = [{{user: foo, password: pwd}}], exports = [{{service: \"test.*\"}}] }}\n bar {{ users = [{{user: bar, password: pwd}}]{import} }}\n}}\n"
        )
    };
    check_configs(
        &ctx,
        &[
            (
                "wildcard with to",
                &conf(", imports = [{service: {account: foo, subject: \"test.*\"}, to: foo}]"),
                "exit 1: <conf>:1:0: Error adding service import \"test.*\": failed to create mapping transform for service import subject \"foo\" to \"test.*\": invalid mapping destination: not using all of the token wildcard(s) in foo",
            ),
            (
                "broader wildcard",
                &conf(", imports = [{service: {account: foo, subject: \"test.>\"}}]"),
                "exit 1: <conf>:1:0: Error adding service import \"test.>\": service import not authorized",
            ),
        ],
    )
    .await?;

    let good = conf(", imports = [{service: {account: foo, subject: \"test.*\"}}]");
    let s = ctx
        .server(ServerSpec::new().conf(&[HTTP, &good].concat()))
        .await?;
    let mut cfoo = conn(&ctx, &s, "foo").await?;
    subscribe(&mut cfoo, &[("test.*", "1")]).await?;
    let mut cbar = conn(&ctx, &s, "bar").await?;
    let (req, back) = exchange(&mut cfoo, &mut cbar, "test.22", "bar").await?;
    let request = line(&req);
    ctx.observe("request", &request);
    check_eq!(request, "test.22 1 _R_.* help");
    let response = lines(&back);
    ctx.observe("response", response.join("|"));
    check_eq!(response, vec!["bar 11 - 22"]);
    let before = imports_from(&ctx, &s, "bar", "foo").await?;
    ctx.observe("imports before", before.join("|"));
    check_eq!(before, vec!["service test.* -> test.*"]);

    // Removed by a reload: no import left, and a request goes nowhere.
    reload(&s, &[HTTP, &conf("")].concat()).await?;
    let after = imports_from(&ctx, &s, "bar", "foo").await?;
    ctx.observe("imports after removal", after.join("|"));
    check_eq!(after, Vec::<String>::new());
    cbar.flush().await?;
    publish(&mut cbar, "test.22", Some("bar"), "help").await?;
    cbar.flush().await?;
    // The responder still listens: a publish inside foo reaches it.
    let mut inside = conn(&ctx, &s, "foo").await?;
    publish(&mut inside, "test.22", None, "inside").await?;
    inside.flush().await?;
    let got = lines(&cfoo.msgs_until_pong().await?);
    ctx.observe("delivered after removal", got.join("|"));
    check_eq!(got, vec!["test.22 1 - inside"]);
    Ok(())
}

/// A hundred service imports of one wildcard export: all listed, each with
/// its subscription in the importing account, and each one works. (Go adds
/// them concurrently in-process; that race has no outside equivalent.)
async fn many_imports(ctx: Ctx) -> Result<()> {
    let total = 100;
    let imports: Vec<String> = (0..total)
        .map(|i| format!("{{service: {{account: foo, subject: \"foo.{i}\"}}}}"))
        .collect();
    let conf = format!(
        "accounts {{\n foo {{ users = [{{user: foo, password: pwd}}], exports = [{{service: \"foo.*\"}}] }}\n bar {{ users = [{{user: bar, password: pwd}}], imports = [{}] }}\n empty {{ users = [{{user: empty, password: pwd}}] }}\n}}\n",
        imports.join(", ")
    );
    let s = ctx
        .server(ServerSpec::new().conf(&[HTTP, &conf].concat()))
        .await?;
    let listed = imports_from(&ctx, &s, "bar", "foo").await?.len();
    ctx.observe("imports", listed.to_string());
    check_eq!(listed, total);
    let subs = |d: Value| d["subscriptions"].as_i64().unwrap_or(-1);
    let extra = subs(account_detail(&ctx, &s, "bar").await?)
        - subs(account_detail(&ctx, &s, "empty").await?);
    ctx.observe("subscriptions of the imports", extra.to_string());
    check_eq!(extra, total as i64);

    let mut cfoo = conn(&ctx, &s, "foo").await?;
    subscribe(&mut cfoo, &[("foo.*", "1")]).await?;
    let mut cbar = conn(&ctx, &s, "bar").await?;
    for i in [0, 42, 99] {
        publish(&mut cbar, &format!("foo.{i}"), None, "x").await?;
    }
    publish(&mut cbar, "foo.100", None, "x").await?;
    cbar.flush().await?;
    let got = lines(&cfoo.msgs_until_pong().await?);
    ctx.observe("delivered", got.join("|"));
    check_eq!(got, vec!["foo.0 1 - x", "foo.42 1 - x", "foo.99 1 - x"]);
    Ok(())
}

/// Request and reply across accounts: `-t` refuses an import without an
/// account or with an invalid subject; through a good one the request
/// reaches the exporter on its subject with an `_R_.` reply (and the
/// `Nats-Request-Info` header for a client that takes headers), and the
/// answer comes back on the requester's reply.
async fn cross_account_request_reply(ctx: Ctx) -> Result<()> {
    let conf = |import: &str| {
        format!(
            "accounts {{\n foo {{ users = [{{user: foo, password: pwd}}], exports = [{{service: test.request}}, {{service: \">\"}}] }}\n bar {{ users = [{{user: bar, password: pwd}}], imports = [{import}] }}\n}}\n"
        )
    };
    check_configs(
        &ctx,
        &[
            (
                "no account",
                &conf("{service: {subject: test.request}, to: foo}"),
                "exit 1: <conf>:3:58: Expect an account name and a subject",
            ),
            (
                "invalid subject",
                &conf("{service: {account: foo, subject: \"test..request.\"}, to: foo}"),
                "exit 1: <conf>:1:0: Error adding service import \"test..request.\": sublist: invalid subject",
            ),
        ],
    )
    .await?;

    let accounts = "accounts {\n\
      foo { users = [{user: foo, password: pwd}], exports = [{service: test.request}, {service: test.shared}] }\n\
      bar { users = [{user: bar, password: pwd}], imports = [{service: {account: foo, subject: test.request}, to: foo}, {service: {account: foo, subject: test.shared}, to: shared, share: true}] }\n\
    }\n";
    let s = ctx
        .server(ServerSpec::new().conf(&[HTTP, accounts].concat()))
        .await?;
    let mut cfoo = conn(&ctx, &s, "foo").await?;
    subscribe(&mut cfoo, &[("test.request", "1")]).await?;
    // A second responder that takes headers sees Nats-Request-Info.
    let mut hfoo = conn_hdr(&ctx, &s, "foo").await?;
    subscribe(&mut hfoo, &[("test.request", "2"), ("test.shared", "3")]).await?;
    let mut cbar = conn(&ctx, &s, "bar").await?;
    let (req, back) = exchange(&mut cfoo, &mut cbar, "foo", "bar").await?;
    let request = line(&req);
    ctx.observe("request", &request);
    check_eq!(request, "test.request 1 _R_.* help");
    check_eq!(req.headers, None);
    let response = lines(&back);
    ctx.observe("response", response.join("|"));
    check_eq!(response, vec!["bar 11 - 22"]);

    let hreq = hfoo.read_msgs(1).await?.remove(0);
    check_eq!(line(&hreq), "test.request 2 _R_.* help");
    check_eq!(hreq.reply, req.reply);
    let info = request_info(&hreq)?;
    ctx.observe("Nats-Request-Info", &info);
    check_eq!(info, r#"{"acc":"bar","rtt":<rtt>}"#);
    let block = header_block(&hreq);
    let shape = block.replace(&info_raw(&hreq)?, "<info>");
    ctx.observe("header block", &shape);
    check_eq!(shape, "NATS/1.0\r\nNats-Request-Info: <info>\r\n\r\n");

    // With `share: true` the header carries the requester's details.
    publish(&mut cbar, "shared", Some("bar"), "x").await?;
    cbar.flush().await?;
    let shared = hfoo.read_msgs(1).await?.remove(0);
    check_eq!(line(&shared), "test.shared 3 _R_.* x");
    let info = request_info(&shared)?;
    ctx.observe("Nats-Request-Info shared", &info);
    check_eq!(
        info,
        r#"{"start":"<time>","host":"127.0.0.1","id":<cid>,"acc":"bar","user":"bar","name":"n-bar","lang":"raw","ver":"1.2.3","rtt":<rtt>,"server":"<server-id>","kind":"Client","client_type":"nats"}"#
    );
    // The exporter's prefix is the same for every request, the token not.
    let (a, b) = (service_reply(&hreq)?, service_reply(&shared)?);
    let same_prefix = a[..11] == b[..11] && a != b;
    ctx.observe("same _R_ prefix, new token", same_prefix.to_string());
    check_eq!(same_prefix, true);

    // The singleton answered: no response entry left in either account
    // (the shared request, unanswered, still has one in foo).
    let pending = (
        num_responses(&ctx, &s, "bar").await?,
        num_responses(&ctx, &s, "foo").await?,
    );
    ctx.observe("pending bar, foo", format!("{pending:?}"));
    check_eq!(pending, (0, 1));
    Ok(())
}

/// The raw value of the Nats-Request-Info header.
fn info_raw(m: &Msg) -> Result<String> {
    let text = header_block(m);
    text.split("\r\n")
        .find_map(|l| l.strip_prefix("Nats-Request-Info: "))
        .map(String::from)
        .context("no Nats-Request-Info header")
}

/// A streamed export lets ten responses through; its response entry goes
/// when the requester goes, or when a response finds no interest. Beyond the
/// Go test: a singleton export lets one response through, a chunked one all.
async fn response_types(ctx: Ctx) -> Result<()> {
    let accounts = "accounts {\n\
      foo { users = [{user: foo, password: pwd}], exports = [{service: test.request, response: stream}, {service: single}, {service: chunk, response: chunked}] }\n\
      bar { users = [{user: bar, password: pwd}], imports = [{service: {account: foo, subject: test.request}, to: foo}, {service: {account: foo, subject: single}}, {service: {account: foo, subject: chunk}}] }\n\
    }\n";
    let s = ctx
        .server(ServerSpec::new().conf(&[HTTP, accounts].concat()))
        .await?;
    let mut cfoo = conn(&ctx, &s, "foo").await?;
    subscribe(
        &mut cfoo,
        &[("test.request", "1"), ("single", "2"), ("chunk", "3")],
    )
    .await?;
    let mut cbar = conn(&ctx, &s, "bar").await?;
    cbar.send("SUB bar 11\r\nPUB foo bar 4\r\nhelp\r\n").await?;
    cbar.flush().await?;
    let req = cfoo.read_msgs(1).await?.remove(0);
    let reply = service_reply(&req)?;
    check_eq!(line(&req), "test.request 1 _R_.* help");
    let mut ten = String::new();
    for _ in 0..10 {
        ten.push_str(&format!("PUB {reply} 2\r\n22\r\n"));
    }
    cfoo.send(&ten).await?;
    cfoo.flush().await?;
    let got = lines(&cbar.msgs_until_pong().await?);
    ctx.observe("streamed responses", got.len().to_string());
    check_eq!(got, vec!["bar 11 - 22".to_string(); 10]);
    let entry = responses(&ctx, &s, "foo").await?;
    let shape: Vec<String> = entry
        .iter()
        .map(|(k, v)| {
            let mut v = v.clone();
            v["subject"] = Value::from(if is_service_reply(k) { "_R_.*" } else { k });
            v.to_string()
        })
        .collect();
    ctx.observe("response entry", shape.join("|"));
    check_eq!(
        shape,
        vec![
            r#"{"account":"bar","invalid":false,"share":false,"subject":"_R_.*","to":"bar","tracking":false,"type":2}"#
        ]
    );

    // The requester goes: its response entry goes with it.
    drop(cbar);
    let left = settle_responses(&ctx, &s, "foo", 0).await?;
    ctx.observe("entries after the requester closed", left.to_string());

    // A request whose reply nobody listens to: the response finds no
    // interest and the entry is removed.
    let mut cbar = conn(&ctx, &s, "bar").await?;
    publish(&mut cbar, "foo", Some("bar"), "help").await?;
    cbar.flush().await?;
    let req = cfoo.read_msgs(1).await?.remove(0);
    check_eq!(line(&req), "test.request 1 _R_.* help");
    check_eq!(num_responses(&ctx, &s, "foo").await?, 1);
    publish(&mut cfoo, &service_reply(&req)?, None, "22").await?;
    cfoo.flush().await?;
    let left = settle_responses(&ctx, &s, "foo", 0).await?;
    ctx.observe(
        "entries after a response without interest",
        left.to_string(),
    );

    // Singleton: one of three responses; chunked: all three.
    for (subject, sid, want) in [("single", "2", 1), ("chunk", "3", 3)] {
        cbar.send(&format!("SUB r.{subject} 1{sid}\r\n")).await?;
        publish(&mut cbar, subject, Some(&format!("r.{subject}")), "q").await?;
        cbar.flush().await?;
        let req = cfoo.read_msgs(1).await?.remove(0);
        check_eq!(line(&req), format!("{subject} {sid} _R_.* q"));
        let r = service_reply(&req)?;
        for i in 1..=3 {
            publish(&mut cfoo, &r, None, &format!("a{i}")).await?;
        }
        cfoo.flush().await?;
        let got = lines(&cbar.msgs_until_pong().await?);
        ctx.observe(&format!("{subject} responses"), got.join("|"));
        let expected: Vec<String> = (1..=want)
            .map(|i| format!("r.{subject} 1{sid} - a{i}"))
            .collect();
        check_eq!(got, expected);
    }
    Ok(())
}

/// Two imports under the same local subject: the second is refused.
async fn duplicate_import_subject(ctx: Ctx) -> Result<()> {
    let conf = |imports: &str| {
        format!(
            "accounts {{\n foo {{ exports = [{{service: remote1}}, {{service: remote2}}] }}\n bar {{ imports = [{imports}] }}\n}}\n"
        )
    };
    let said = check_configs(
        &ctx,
        &[
            (
                "first import",
                &conf("{service: {account: foo, subject: remote1}, to: foo}"),
                "exit 0: configuration file <conf> is valid",
            ),
            (
                "duplicate",
                &conf("{service: {account: foo, subject: remote1}, to: foo}, {service: {account: foo, subject: remote2}, to: foo}"),
                "exit 1: <conf>:3:125: Duplicate service import subject \"foo\", previously used in import for account \"foo\", subject \"remote1\"",
            ),
        ],
    )
    .await?;
    let two = &said[1];
    if !two.contains("Duplicate") {
        bail!("expected an error about a duplicate service import subject: {two}");
    }
    Ok(())
}

/// The exporting account's mappings apply to requests that come through
/// its service export.
async fn import_with_mapping(ctx: Ctx) -> Result<()> {
    let conf = "accounts {\n\
      foo { users = [{user: derek, password: pwd}], exports = [{service: request}], mappings = { request: request.v2 } }\n\
      bar { users = [{user: ivan, password: pwd}], imports = [{service: {account: foo, subject: request}}] }\n\
    }\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut derek = conn(&ctx, &s, "derek").await?;
    subscribe(&mut derek, &[("request.v2", "1"), ("request", "2")]).await?;
    let mut ivan = conn(&ctx, &s, "ivan").await?;
    publish(&mut ivan, "request", None, "").await?;
    ivan.flush().await?;
    let got = lines(&derek.msgs_until_pong().await?);
    ctx.observe("delivered", got.join("|"));
    check_eq!(got, vec!["request.v2 1 - "]);
    Ok(())
}

/// ivan's request `yes?` on `subject` (reply `_INBOX.r`, sid 9) crosses a
/// service import to derek, who answers `yes!`: the request as derek got
/// it, checked against `want`, and the response ivan got.
async fn ivan_asks_derek(
    ctx: &Ctx,
    ivan: &mut RawClient,
    derek: &mut RawClient,
    subject: &str,
    want: &str,
) -> Result<()> {
    ivan.send(&format!(
        "SUB _INBOX.r 9\r\nPUB {subject} _INBOX.r 4\r\nyes?\r\n"
    ))
    .await?;
    ivan.flush().await?;
    let req = derek.read_msgs(1).await?.remove(0);
    let request = line(&req);
    ctx.observe("request", &request);
    check_eq!(request, want);
    publish(derek, &service_reply(&req)?, None, "yes!").await?;
    derek.flush().await?;
    let resp = lines(&ivan.msgs_until_pong().await?);
    ctx.observe("response", resp.join("|"));
    check_eq!(resp, vec!["_INBOX.r 9 - yes!"]);
    Ok(())
}

/// A queue subscriber answers requests that came through a wildcard service
/// import with a `to`; stream imports with wildcards rewrite the subject.
async fn imports_wildcard_support(ctx: Ctx) -> Result<()> {
    let conf = "accounts {\n\
      foo {\n\
        users = [{user: derek, password: pwd}]\n\
        exports = [ { service: \"request.*\" }, { stream: \"events.>\" }, { stream: \"info.*.*.>\" } ]\n\
      }\n\
      bar {\n\
        users = [{user: ivan, password: pwd}]\n\
        imports = [\n\
          { service: {account: \"foo\", subject:\"request.*\"}, to:\"my.request.*\"}\n\
          { stream:  {account: \"foo\", subject:\"events.>\"}, to:\"foo.events.>\"}\n\
          { stream:  {account: \"foo\", subject:\"info.*.*.>\"}, to:\"foo.info.$2.$1.>\"}\n\
        ]\n\
      }\n\
    }\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut derek = conn(&ctx, &s, "derek").await?;
    derek.send("SUB request.* t22 1\r\n").await?;
    derek.flush().await?;
    let mut ivan = conn(&ctx, &s, "ivan").await?;
    ivan_asks_derek(
        &ctx,
        &mut ivan,
        &mut derek,
        "my.request.22",
        "request.22 1 _R_.* yes?",
    )
    .await?;

    subscribe(&mut ivan, &[("foo.events.*", "2"), ("foo.info.>", "3")]).await?;
    publish(&mut derek, "events.22", None, "").await?;
    publish(&mut derek, "info.11.22.bar", None, "").await?;
    derek.flush().await?;
    let mut got = lines(&ivan.read_msgs(2).await?);
    got.sort();
    ctx.observe("streams", got.join("|"));
    check_eq!(got, vec!["foo.events.22 2 - ", "foo.info.22.11.bar 3 - "]);
    Ok(())
}

/// Exports and imports on subjects with `$` tokens and wildcards, their
/// `to` reordering the wildcard tokens.
async fn imports_wildcard_dollar(ctx: Ctx) -> Result<()> {
    let conf = "accounts {\n\
      foo {\n\
        users = [{user: derek, password: pwd}]\n\
        exports = [ { service: \"$request.*.$in.*.>\" }, { stream: \"$events.*.$in.*.>\" } ]\n\
      }\n\
      bar {\n\
        users = [{user: ivan, password: pwd}]\n\
        imports = [\n\
          { service: {account: \"foo\", subject:\"$request.*.$in.*.>\"}, to:\"my.request.$2.$1.>\"}\n\
          { stream:  {account: \"foo\", subject:\"$events.*.$in.*.>\"}, to:\"my.events.$2.$1.>\"}\n\
        ]\n\
      }\n\
    }\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut derek = conn(&ctx, &s, "derek").await?;
    subscribe(&mut derek, &[("$request.>", "1")]).await?;
    let mut ivan = conn(&ctx, &s, "ivan").await?;
    ivan_asks_derek(
        &ctx,
        &mut ivan,
        &mut derek,
        "my.request.1.2.bar",
        "$request.2.$in.1.bar 1 _R_.* yes?",
    )
    .await?;

    subscribe(&mut ivan, &[("my.events.>", "2")]).await?;
    publish(&mut derek, "$events.1.$in.2.bar", None, "").await?;
    derek.flush().await?;
    let got = lines(&ivan.read_msgs(1).await?);
    ctx.observe("stream", got.join("|"));
    check_eq!(got, vec!["my.events.2.1.bar 2 - "]);
    Ok(())
}

/// Go's `basicMASetupContents`: A exports `foo` as a stream, B imports it as
/// `foo_request`.
const BASIC_MA: &str = "server_name: A\n\
accounts: {\n\
  A: { users: [ {user: a, password: pwd} ], exports: [{service: \"foo\", response: stream}] },\n\
  B: { users: [ {user: b, password: pwd} ], imports: [{ service: { account: A, subject: \"foo\"}, to: \"foo_request\" }] }\n\
}\n";

/// Answers each pending request on `responder` with each of `answers`.
async fn answer_all(responder: &mut RawClient, answers: &[&str]) -> Result<usize> {
    let reqs = responder.msgs_until_pong().await?;
    for m in &reqs {
        let r = service_reply(m)?;
        for a in answers {
            publish(responder, &r, None, a).await?;
        }
    }
    responder.flush().await?;
    Ok(reqs.len())
}

/// b's request on `foo_request` with the reply `inbox` (which b subscribed
/// to as `sid`) reaches a, whose answer `world` comes back to b once.
async fn request_answered(
    a: &mut RawClient,
    b: &mut RawClient,
    inbox: &str,
    sid: &str,
) -> Result<()> {
    publish(b, "foo_request", Some(inbox), "hello").await?;
    b.flush().await?;
    check_eq!(answer_all(a, &["world"]).await?, 1);
    let got = lines(&b.msgs_until_pong().await?);
    check_eq!(got, vec![format!("{inbox} {sid} - world")]);
    Ok(())
}

/// Ten requests multiplexed on one inbox wildcard (a new-style client) keep
/// ten response entries of the streamed export until the requester goes;
/// old-style requests (an inbox each, unsubscribed after one message)
/// leave none.
async fn streamed_requests(ctx: Ctx) -> Result<()> {
    let (s, mut a, mut b) =
        serve_a_b(&ctx, BASIC_MA, &[("foo", "1")], &[("_INBOX.mux.*", "9")]).await?;
    let n = 10;
    for i in 0..n {
        request_answered(&mut a, &mut b, &format!("_INBOX.mux.{i}"), "9").await?;
    }
    let entries = responses(&ctx, &s, "A").await?;
    let mut tos: Vec<String> = entries
        .values()
        .map(|v| {
            format!(
                "{} {}",
                v["account"].as_str().unwrap_or(""),
                v["to"].as_str().unwrap_or("")
            )
        })
        .collect();
    tos.sort();
    ctx.observe("entries while the requester lives", tos.join("|"));
    check_eq!(entries.len(), n);
    let mut want: Vec<String> = (0..n).map(|i| format!("B _INBOX.mux.{i}")).collect();
    want.sort();
    check_eq!(tos, want);

    // The requester goes: all its entries go.
    drop(b);
    settle_responses(&ctx, &s, "A", 0).await?;

    // Old style: an inbox per request, unsubscribed after its message.
    let mut b = conn(&ctx, &s, "b").await?;
    for i in 0..n {
        let sid = 100 + i;
        b.send(&format!("SUB _INBOX.old.{i} {sid}\r\nUNSUB {sid} 1\r\n"))
            .await?;
        request_answered(&mut a, &mut b, &format!("_INBOX.old.{i}"), &sid.to_string()).await?;
    }
    let left = settle_responses(&ctx, &s, "A", 0).await?;
    ctx.observe("entries after old-style requests", left.to_string());
    Ok(())
}

/// A streamed response ended by an empty message (EOF): all five arrive and
/// the EOF removes the response entry.
async fn streamed_eof(ctx: Ctx) -> Result<()> {
    let (s, mut a, mut b) = serve_a_b(&ctx, BASIC_MA, &[("foo", "1")], &[]).await?;
    let n = 10;
    for i in 0..n {
        let inbox = format!("_INBOX.eof.{i}");
        subscribe(&mut b, &[(&inbox, &(100 + i).to_string())]).await?;
        publish(&mut b, "foo_request", Some(&inbox), "XOXO").await?;
        b.flush().await?;
        let answered =
            answer_all(&mut a, &["world-1", "world-2", "world-3", "world-4", ""]).await?;
        check_eq!(answered, 1);
        let got: Vec<String> = b
            .msgs_until_pong()
            .await?
            .iter()
            .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
            .collect();
        if i == 0 {
            ctx.observe("responses", got.join("|"));
        }
        check_eq!(got, vec!["world-1", "world-2", "world-3", "world-4", ""]);
    }
    let left = num_responses(&ctx, &s, "A").await?;
    ctx.observe("entries after EOF", left.to_string());
    check_eq!(left, 0);
    Ok(())
}

/// Requests through two imports are counted per export: 5 on `foo`, 17 on
/// `bar` (imported as `baz`), none answered.
async fn response_filtering(ctx: Ctx) -> Result<()> {
    let conf = "server_name: A\n\
    accounts: {\n\
      A: { users: [ {user: a, password: pwd} ], exports: [ {service: \"foo\"}, {service: \"bar\"} ] },\n\
      B: { users: [ {user: b, password: pwd} ], imports: [ {service: { account: A, subject: \"foo\"}}, {service: { account: A, subject: \"bar\"}, to: \"baz\"} ] }\n\
    }\n";
    let (s, mut a, mut b) = serve_a_b(&ctx, conf, &[("foo", "1"), ("bar", "2")], &[]).await?;
    let (send_foo, send_bar) = (5, 17);
    for _ in 0..send_foo {
        publish(&mut b, "foo", Some("reply"), "").await?;
    }
    for _ in 0..send_bar {
        publish(&mut b, "baz", Some("reply"), "").await?;
    }
    b.flush().await?;
    // Which export each `_R_` reply belongs to, from where it was delivered.
    let reqs = a.read_msgs(send_foo + send_bar).await?;
    let mut export_of = BTreeMap::new();
    for m in &reqs {
        export_of.insert(service_reply(m)?, m.subject.clone());
    }
    let entries = responses(&ctx, &s, "A").await?;
    let total = entries.len();
    let mut per_export: BTreeMap<String, usize> = BTreeMap::new();
    for k in entries.keys() {
        let e = export_of.get(k).cloned().unwrap_or_else(|| "?".into());
        *per_export.entry(e).or_insert(0) += 1;
    }
    ctx.observe("entries", total.to_string());
    ctx.observe("entries per export", format!("{per_export:?}"));
    check_eq!(total, send_foo + send_bar);
    check_eq!(per_export.get("foo").copied().unwrap_or(0), send_foo);
    check_eq!(per_export.get("bar").copied().unwrap_or(0), send_bar);
    Ok(())
}

/// No response entry for a request nobody can answer, for a request without
/// a reply, or for a request whose requester lost interest before the
/// answer.
async fn auto_direct_cleanup(ctx: Ctx) -> Result<()> {
    let conf = "accounts: {\n\
      A: { users: [ {user: a, password: pwd} ], exports: [ {service: \"foo\"} ] },\n\
      B: { users: [ {user: b, password: pwd} ], imports: [ {service: { account: A, subject: \"foo\"}} ] }\n\
    }\n";
    let (s, mut a, mut b) = serve_a_b(&ctx, conf, &[], &[]).await?;
    let to_send = 10;

    // No responder.
    for _ in 0..to_send {
        publish(&mut b, "foo", Some("reply"), "").await?;
    }
    b.flush().await?;
    let none = num_responses(&ctx, &s, "A").await?;
    ctx.observe("no responder", none.to_string());
    check_eq!(none, 0);

    // A responder, requests without a reply.
    subscribe(&mut a, &[("foo", "1")]).await?;
    for _ in 0..to_send {
        publish(&mut b, "foo", None, "").await?;
    }
    b.flush().await?;
    let none = num_responses(&ctx, &s, "A").await?;
    ctx.observe("no reply", none.to_string());
    check_eq!(none, 0);
    check_eq!(a.msgs_until_pong().await?.len(), to_send);

    // Old-style requests that time out before the (late) answer.
    let mut answers_seen = 0;
    for i in 0..to_send {
        let sid = 100 + i;
        b.send(&format!("SUB _INBOX.late.{i} {sid}\r\nUNSUB {sid} 1\r\n"))
            .await?;
        publish(&mut b, "foo", Some(&format!("_INBOX.late.{i}")), "").await?;
        b.flush().await?;
        b.send(&format!("UNSUB {sid}\r\n")).await?;
        b.flush().await?;
        answers_seen += answer_all(&mut a, &["world"]).await?;
    }
    check_eq!(answers_seen, to_send);
    let got = b.msgs_until_pong().await?.len();
    check_eq!(got, 0);
    let none = num_responses(&ctx, &s, "A").await?;
    ctx.observe("lost interest", none.to_string());
    check_eq!(none, 0);
    Ok(())
}

/// Unanswered requests of a streamed export are pruned after its response
/// threshold (500ms here; Go sets 10ms in-process); an export left at the
/// default threshold (2 minutes) keeps its entry meanwhile.
async fn pruning_cleanup(ctx: Ctx) -> Result<()> {
    let conf = "accounts: {\n\
      A: { users: [ {user: a, password: pwd} ], exports: [ {service: \"foo\", response: stream, threshold: \"500ms\"}, {service: \"bar\", response: stream} ] },\n\
      B: { users: [ {user: b, password: pwd} ], imports: [ {service: { account: A, subject: \"foo\"}}, {service: { account: A, subject: \"bar\"}} ] }\n\
    }\n";
    let (s, _a, mut b) = serve_a_b(&ctx, conf, &[("foo", "1"), ("bar", "2")], &[]).await?;
    publish(&mut b, "bar", Some("reply.bar"), "").await?;
    b.flush().await?;
    let to_send = 10;
    for round in 1..=2 {
        for _ in 0..to_send {
            publish(&mut b, "foo", Some("reply"), "").await?;
        }
        b.flush().await?;
        let pending = num_responses(&ctx, &s, "A").await?;
        ctx.observe(&format!("round {round}: pending"), pending.to_string());
        check_eq!(pending, to_send + 1);
        settle_responses(&ctx, &s, "A", 1).await?;
        let left: Vec<String> = responses(&ctx, &s, "A")
            .await?
            .values()
            .map(|v| v["to"].as_str().unwrap_or("").to_string())
            .collect();
        ctx.observe(
            &format!("round {round}: after the threshold"),
            left.join("|"),
        );
        check_eq!(left, vec!["reply.bar"]);
    }
    Ok(())
}

/// b's request on `foo` (empty, with the reply `reply`) as a receives it:
/// the service reply a is to answer on.
async fn request_foo(a: &mut RawClient, b: &mut RawClient, reply: &str) -> Result<String> {
    publish(b, "foo", Some(reply), "").await?;
    b.flush().await?;
    let req = a.read_msgs(1).await?.remove(0);
    service_reply(&req)
}

/// a answers on the service reply `r` after its response entry is gone:
/// the answer is dropped, b gets nothing.
async fn late_answer_dropped(
    ctx: &Ctx,
    a: &mut RawClient,
    b: &mut RawClient,
    r: &str,
) -> Result<()> {
    publish(a, r, None, "late").await?;
    a.flush().await?;
    let got = lines(&b.msgs_until_pong().await?);
    ctx.observe("late answer", got.join("|"));
    check_eq!(got, Vec::<String>::new());
    Ok(())
}

/// `threshold: "1s"`: an unanswered request's entry is still there after
/// 600ms, gone after 1s (and before 3s), and a late answer is dropped.
async fn response_threshold(ctx: Ctx) -> Result<()> {
    let conf = "accounts: {\n\
      A: { users: [ {user: a, password: pwd} ], exports: [ {service: \"foo\", response: stream, threshold: \"1s\"} ] },\n\
      B: { users: [ {user: b, password: pwd} ], imports: [ {service: { account: A, subject: \"foo\"}} ] }\n\
    }\n";
    let (s, mut a, mut b) = serve_a_b(&ctx, conf, &[("foo", "1")], &[("reply", "9")]).await?;
    let start = Instant::now();
    let r = request_foo(&mut a, &mut b, "reply").await?;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let at_600ms = num_responses(&ctx, &s, "A").await?;
    ctx.observe("pending after 600ms", at_600ms.to_string());
    check_eq!(at_600ms, 1);
    settle_responses(&ctx, &s, "A", 0).await?;
    let elapsed = start.elapsed();
    let after_threshold = elapsed >= Duration::from_secs(1);
    ctx.observe("pruned no sooner than 1s", after_threshold.to_string());
    check_eq!(after_threshold, true);
    late_answer_dropped(&ctx, &mut a, &mut b, &r).await
}

/// A chunked export with a short threshold: ten chunks spaced under the
/// threshold, then EOF, all arrive (each delivery renews the entry) though
/// the whole takes longer than the threshold. (Go: 10ms and 5ms gaps; here
/// 100ms and 40ms, for a loaded machine.) Then the entry is gone, and an
/// answer later than the threshold is dropped.
async fn threshold_chunked(ctx: Ctx) -> Result<()> {
    let conf = "accounts: {\n\
      A: { users: [ {user: a, password: pwd} ], exports: [ {service: \"foo\", response: chunked, threshold: \"100ms\"} ] },\n\
      B: { users: [ {user: b, password: pwd} ], imports: [ {service: { account: A, subject: \"foo\"}} ] }\n\
    }\n";
    let (s, mut a, mut b) =
        serve_a_b(&ctx, conf, &[("foo", "1")], &[("_INBOX.chunks", "9")]).await?;
    let r = request_foo(&mut a, &mut b, "_INBOX.chunks").await?;
    let num_chunks = 10;
    for i in 1..=num_chunks {
        tokio::time::sleep(Duration::from_millis(40)).await;
        publish(&mut a, &r, None, &format!("chunk-{i}")).await?;
    }
    publish(&mut a, &r, None, "").await?;
    a.flush().await?;
    let got: Vec<String> = b
        .read_msgs(num_chunks + 1)
        .await?
        .iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect();
    ctx.observe("chunks", got.join("|"));
    let mut want: Vec<String> = (1..=num_chunks).map(|i| format!("chunk-{i}")).collect();
    want.push(String::new());
    check_eq!(got, want);
    let left = num_responses(&ctx, &s, "A").await?;
    ctx.observe("entries after EOF", left.to_string());
    check_eq!(left, 0);

    // An answer 400ms late (four thresholds) finds no entry.
    let r = request_foo(&mut a, &mut b, "_INBOX.chunks").await?;
    tokio::time::sleep(Duration::from_millis(400)).await;
    late_answer_dropped(&ctx, &mut a, &mut b, &r).await
}

/// A responder that may only subscribe (`allow_responses`) answers a request
/// that came through a service import; it still may not publish elsewhere.
async fn allow_responses(ctx: Ctx) -> Result<()> {
    let conf = "accounts: {\n\
      A: { users: [ {user: a, password: pwd, permissions = {subscribe = foo, allow_responses = true}} ], exports: [ {service: \"foo\"} ] },\n\
      B: { users: [ {user: b, password: pwd} ], imports: [ {service: { account: A, subject: \"foo\"}} ] }\n\
    }\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut a = conn(&ctx, &s, "a").await?;
    subscribe(&mut a, &[("foo", "1")]).await?;
    let mut b = conn(&ctx, &s, "b").await?;
    subscribe(&mut b, &[("_INBOX.r", "9")]).await?;
    publish(&mut b, "foo", Some("_INBOX.r"), "help").await?;
    b.flush().await?;
    let req = a.read_msgs(1).await?.remove(0);
    check_eq!(line(&req), "foo 1 _R_.* help");
    publish(&mut a, &service_reply(&req)?, None, "Hello").await?;
    let errs = a.ops_until_pong().await?;
    check_eq!(errs, Vec::<Op>::new());
    let got = lines(&b.msgs_until_pong().await?);
    ctx.observe("response", got.join("|"));
    check_eq!(got, vec!["_INBOX.r 9 - Hello"]);

    publish(&mut a, "bar", None, "x").await?;
    let ops = a.ops_until_pong().await?;
    ctx.observe("publish elsewhere", format!("{ops:?}"));
    check_eq!(
        ops,
        vec![Op::Err(
            "Permissions Violation for Publish to \"bar\"".into()
        )]
    );
    Ok(())
}

/// A connection that answers the requests it gets, by subject.
struct Responder {
    c: RawClient,
    answers: &'static [(&'static str, &'static str)],
}

/// Publishes a request on `subject` from `requester` (its inbox `_INBOX.q`,
/// sid 99, is subscribed by the caller), lets every responder answer what it
/// got, and returns the payloads that came back.
async fn request(
    requester: &mut RawClient,
    responders: &mut [&mut Responder],
    subject: &str,
) -> Result<Vec<String>> {
    publish(requester, subject, Some("_INBOX.q"), "request").await?;
    requester.flush().await?;
    for r in responders.iter_mut() {
        let msgs = r.c.msgs_until_pong().await?;
        for m in msgs {
            let answer = r.answers.iter().find(|(s, _)| *s == m.subject);
            if let (Some(reply), Some((_, a))) = (m.reply.as_deref(), answer) {
                let reply = reply.to_string();
                publish(&mut r.c, &reply, None, a).await?;
            }
        }
        r.c.flush().await?;
    }
    Ok(requester
        .msgs_until_pong()
        .await?
        .iter()
        .filter(|m| m.sid == "99")
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect())
}

/// The single-server part of Go's reload test: service imports and exports
/// changed by a reload apply to connected clients (Go also starts a second
/// server on a route, which is not done here).
async fn reload_imports_exports(ctx: Ctx) -> Result<()> {
    // synadia's exports and nats.io's imports, with what the reload
    // changes left open.
    let conf = |third_export: &str, second_import: &str| {
        format!(
            "accounts {{\n\
      synadia {{\n\
        users [{{user: derek, password: pwd}}]\n\
        exports = [\n\
          {{service: \"pub.request\"}}\n\
          {{service: \"pub.special.request\", accounts: [nats.io]}}\n\
          {third_export}\
        ]\n\
      }}\n\
      nats.io {{\n\
        users [{{user: ivan, password: pwd}}]\n\
        imports = [\n\
          {{service: {{account: \"synadia\", subject: \"pub.special.request\"}}, to: \"foo\"}}\n\
          {second_import}\n\
        ]\n\
      }}\n\
    }}\n\
    no_sys_acc: true\n"
        )
    };
    let before = conf(
        "",
        "{service: {account: \"synadia\", subject: \"pub.request\"}, to: \"bar\"}",
    );
    let after = conf(
        "{service: \"pub.special.request.new\", accounts: [nats.io]}\n",
        "{service: {account: \"synadia\", subject: \"pub.special.request.new\"}, to: \"baz\"}",
    );
    let s = ctx.server(ServerSpec::new().conf(&before)).await?;
    let mut derek = Responder {
        c: conn(&ctx, &s, "derek").await?,
        answers: &[
            ("pub.special.request", "reply1"),
            ("pub.request", "reply2"),
            ("pub.special.request.new", "reply3"),
            ("derek.sub", "private"),
        ],
    };
    subscribe(
        &mut derek.c,
        &[
            ("pub.special.request", "1"),
            ("pub.request", "2"),
            ("pub.special.request.new", "3"),
            ("derek.sub", "4"),
        ],
    )
    .await?;
    let mut ivan = Responder {
        c: conn(&ctx, &s, "ivan").await?,
        answers: &[("ivan.sub", "private")],
    };
    // `bar` only makes the route map change under a subscription.
    subscribe(&mut ivan.c, &[("ivan.sub", "1"), ("bar", "2")]).await?;
    let mut ivan_req = conn(&ctx, &s, "ivan").await?;
    subscribe(&mut ivan_req, &[("_INBOX.q", "99")]).await?;
    let mut derek_req = conn(&ctx, &s, "derek").await?;
    subscribe(&mut derek_req, &[("_INBOX.q", "99")]).await?;

    type Case = (&'static str, &'static str, Vec<&'static str>);
    let phases: [(&str, Vec<Case>); 2] = [
        (
            "before",
            vec![
                ("ivan", "foo", vec!["reply1"]),
                ("ivan", "bar", vec!["reply2"]),
                ("ivan", "baz", vec![]),
                ("ivan", "ivan.sub", vec!["private"]),
                ("derek", "derek.sub", vec!["private"]),
            ],
        ),
        (
            "after",
            vec![
                ("ivan", "foo", vec!["reply1"]),
                ("ivan", "bar", vec![]),
                ("ivan", "baz", vec!["reply3"]),
                ("ivan", "ivan.sub", vec!["private"]),
                ("derek", "derek.sub", vec!["private"]),
            ],
        ),
    ];
    for (phase, cases) in phases {
        if phase == "after" {
            reload(&s, &after).await?;
            for c in [&mut derek.c, &mut ivan.c, &mut ivan_req, &mut derek_req] {
                c.flush().await?;
            }
        }
        for (who, subject, want) in cases {
            let requester = if who == "ivan" {
                &mut ivan_req
            } else {
                &mut derek_req
            };
            let got = request(requester, &mut [&mut derek, &mut ivan], subject).await?;
            ctx.observe(&format!("{phase}: {who} requests {subject}"), got.join("|"));
            check_eq!(got, want);
        }
    }
    Ok(())
}
