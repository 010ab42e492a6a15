//! Scenarios from test/accounts_cycles_test.go: imports between accounts
//! that form a cycle, and chains that do not.
//!
//! The Go tests call `server.ProcessConfigFile` on a config and expect
//! `import forms a cycle` (or no error); from outside that is `nats-server
//! -t -c FILE` (exit code and text) and the server refusing to start with
//! the same text. Go adds a config's imports in the random order of its
//! accounts map, so which import of a cycle is refused (and so the subject
//! the error names) varies from run to run: the scenarios accept each
//! subject Go can name, and observe the text with it masked. The configs
//! that form no cycle start, and a client of each account sees the
//! imported messages and services delivered across the chain (where the Go
//! tests only check that the config parses). The reply-match tests send a
//! request through a `>` service import (one or two hops) and check the
//! requestor gets the single response. TestAccountImportSubjectMapping
//! imports a stream with a partitioning transform.

use crate::check_eq;
use crate::kit::reload::{hup, Outcome, LISTEN};
use crate::kit::{
    self, delivered, login, publish, subscribe, Ctx, Msg, RawClient, Server, ServerSpec,
};
use crate::registry::Scenario;
use anyhow::{bail, Context, Result};
use futures::FutureExt;
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("accounts/import-cycle-service", |c| {
            cycle_service(c).boxed()
        })
        .full("TestAccountCycleService"),
        Scenario::new("accounts/import-cycle-stream", |c| cycle_stream(c).boxed())
            .full("TestAccountCycleStream"),
        Scenario::new("accounts/import-cycle-stream-mapped", |c| {
            cycle_stream_mapped(c).boxed()
        })
        .full("TestAccountCycleStreamWithMapping"),
        Scenario::new("accounts/import-cycle-service-mapped", |c| {
            cycle_service_mapped(c).boxed()
        })
        .full("TestAccountCycleServiceCycleWithMapping"),
        Scenario::new("accounts/import-noncycle-stream-mapped", |c| {
            noncycle_stream_mapped(c).boxed()
        })
        .full("TestAccountCycleNonCycleStreamWithMapping"),
        Scenario::new("accounts/import-noncycle-service", |c| {
            noncycle_service(c).boxed()
        })
        .full("TestAccountCycleServiceNonCycle"),
        Scenario::new("accounts/import-noncycle-service-chain", |c| {
            noncycle_service_chain(c).boxed()
        })
        .full("TestAccountCycleServiceNonCycleChain"),
        Scenario::new("accounts/import-reply-match-cycle", |c| {
            reply_match_cycle(c).boxed()
        })
        .full("TestServiceImportReplyMatchCycle"),
        Scenario::new("accounts/import-reply-match-cycle-multi-hops", |c| {
            reply_match_cycle_multi_hops(c).boxed()
        })
        .full("TestServiceImportReplyMatchCycleMultiHops"),
        Scenario::new("accounts/import-stream-partition-mapping", |c| {
            import_partition_mapping(c).boxed()
        })
        .full("TestAccountImportSubjectMapping"),
        Scenario::new("accounts/import-cycle-refused-on-reload", |c| {
            cycle_reload(c).boxed()
        })
        .beyond_go(
            "a reload that adds an import closing a cycle is refused with the \
             error of a config check (no Go test reloads a cycle)",
        ),
    ]
}

// ---------------------------------------------------------------- helpers

const CYCLE: &str = "import forms a cycle";

/// The shape of a reply subject the server made up: `_R_` and the number of
/// random tokens after it (the tokens themselves are random).
fn reply_shape(reply: Option<&str>) -> String {
    match reply {
        None => "none".to_string(),
        Some(r) => match r.strip_prefix("_R_.") {
            Some(rest) if rest.split('.').all(|t| !t.is_empty()) => {
                format!("_R_ + {} tokens", rest.split('.').count())
            }
            _ => format!("not a _R_ reply: {r}"),
        },
    }
}

/// `text` with the path of the server's config file (in a random folder)
/// shown as `<conf>`.
fn mask_conf_path(text: &str) -> String {
    match (text.find('/'), text.find("server.conf")) {
        (Some(a), Some(b)) if a < b => {
            format!("{}<conf>{}", &text[..a], &text[b + "server.conf".len()..])
        }
        _ => text.to_string(),
    }
}

/// `text` with the quoted subject of "Error adding <kind> import "<subject>":
/// import forms a cycle" checked against `subjects` (one of them, since Go
/// adds imports in random order) and masked when there are several.
fn cycle_error(text: &str, kind: &str, subjects: &[&str]) -> Result<String> {
    let head = format!("Error adding {kind} import \"");
    let (before, rest) = text
        .split_once(&head)
        .with_context(|| format!("no {head:?} in {text:?}"))?;
    let (subject, after) = rest
        .split_once('"')
        .with_context(|| format!("unterminated subject in {text:?}"))?;
    if !subjects.contains(&subject) {
        bail!("the error names {subject:?}, expected one of {subjects:?}: {text}");
    }
    let shown = if subjects.len() > 1 {
        "<subject>"
    } else {
        subject
    };
    Ok(format!("{before}{head}{shown}\"{after}"))
}

/// A config whose imports form a cycle: `-t` exits 1 with Go's text, and
/// the server refuses to start with it (the listen lines put before the
/// body move the position to line 3).
async fn expect_cycle(ctx: &Ctx, accounts: &str, kind: &str, subjects: &[&str]) -> Result<()> {
    let (code, text) = kit::config_test_raw(ctx, accounts).await?;
    let seen = cycle_error(&text, kind, subjects)?;
    ctx.observe("-t", format!("exit {code:?}: {seen}"));
    check_eq!(code, Some(1));
    let shown = if subjects.len() > 1 {
        "<subject>"
    } else {
        subjects[0]
    };
    check_eq!(
        seen,
        format!("nats-server: <conf>:1:0: Error adding {kind} import \"{shown}\": {CYCLE}")
    );
    let line = mask_conf_path(&kit::refused_start(ctx, accounts).await?);
    let seen = cycle_error(&line, kind, subjects)?;
    ctx.observe("start", &seen);
    check_eq!(
        seen,
        format!("nats-server: <conf>:3:1: Error adding {kind} import \"{shown}\": {CYCLE}")
    );
    Ok(())
}

/// A config without a cycle: `-t` accepts it (exit 0).
async fn expect_accepted(ctx: &Ctx, accounts: &str) -> Result<()> {
    let (code, text) = kit::config_test_raw(ctx, accounts).await?;
    ctx.observe("-t", format!("exit {code:?}: {text}"));
    if code != Some(0) {
        bail!("expected no error, got exit {code:?}: {text}");
    }
    Ok(())
}

/// A request on `subject` from `req` answered by `resp` (subscribed to it
/// as sid 1): the responder sees it once, on `subject` with a reply the
/// server made up (`_R_` and two tokens), and the requestor gets the
/// response once, nothing else arriving on either side. Observed under
/// `label`.
async fn request(
    ctx: &Ctx,
    label: &str,
    req: &mut RawClient,
    resp: &mut RawClient,
    subject: &str,
) -> Result<()> {
    subscribe(req, &[("_INBOX.req", "9")]).await?;
    publish(req, subject, Some("_INBOX.req"), "help me").await?;
    req.flush().await?;
    let got: Vec<Msg> = resp.read_msgs(1).await?;
    let m = &got[0];
    let seen = format!(
        "{} {} reply {} payload {}",
        m.subject,
        m.sid,
        reply_shape(m.reply.as_deref()),
        String::from_utf8_lossy(&m.payload)
    );
    ctx.observe(&format!("{label}: responder got"), &seen);
    check_eq!(
        seen,
        format!("{subject} 1 reply _R_ + 2 tokens payload help me")
    );
    let reply = m
        .reply
        .clone()
        .context("the request has no reply subject")?;
    publish(resp, &reply, None, "HELLO").await?;
    resp.flush().await?;
    let back = delivered(req).await?;
    ctx.observe(&format!("{label}: requestor got"), back.join("|"));
    check_eq!(back, vec!["_INBOX.req 9 HELLO"]);
    // No second copy (a loop through the `>` import would resend it).
    req.expect_nothing(Duration::from_millis(100)).await?;
    let extra = delivered(resp).await?;
    ctx.observe(&format!("{label}: responder after"), extra.join("|"));
    check_eq!(extra, Vec::<String>::new());
    Ok(())
}

/// A config of accounts, each `(name, exports, imports)`: a user of its
/// name in lower case (password `p`), its exports and, unless empty, its
/// imports.
fn with_users(accounts: &[(&str, &str, &str)]) -> String {
    let mut conf = String::from("accounts {\n");
    for (name, exports, imports) in accounts {
        let u = name.to_lowercase();
        conf.push_str(&format!(
            "  {name} {{\n    users [ {{user: {u}, password: p}} ]\n    exports [ {exports} ]\n"
        ));
        if !imports.is_empty() {
            conf.push_str(&format!("    imports [ {imports} ]\n"));
        }
        conf.push_str("  }\n");
    }
    conf.push_str("}\n");
    conf
}

/// A server of the accounts [`with_users`] writes, once `-t` has accepted
/// their config.
async fn start_accepted(ctx: &Ctx, accounts: &[(&str, &str, &str)]) -> Result<Server> {
    let conf = with_users(accounts);
    expect_accepted(ctx, &conf).await?;
    ctx.server(ServerSpec::new().conf(&conf)).await
}

// ---------------------------------------------------------------- cycles

const SERVICE_2: &str = "accounts {\n\
  A {\n\
    exports [ { service: help } ]\n\
    imports [ { service { subject: help, account: B } } ]\n\
  }\n\
  B {\n\
    exports [ { service: help } ]\n\
    imports [ { service { subject: help, account: A } } ]\n\
  }\n\
}\n";

const SERVICE_WILDCARD: &str = "accounts {\n\
  A {\n\
    exports [ { service: * } ]\n\
    imports [ { service { subject: help, account: B } } ]\n\
  }\n\
  B {\n\
    exports [ { service: help } ]\n\
    imports [ { service { subject: *, account: A } } ]\n\
  }\n\
}\n";

const SERVICE_3: &str = "accounts {\n\
  A {\n\
    exports [ { service: * } ]\n\
    imports [ { service { subject: help, account: B } } ]\n\
  }\n\
  B {\n\
    exports [ { service: help } ]\n\
    imports [ { service { subject: help, account: C } } ]\n\
  }\n\
  C {\n\
    exports [ { service: * } ]\n\
    imports [ { service { subject: *, account: A } } ]\n\
  }\n\
}\n";

/// Two accounts importing `help` from each other, the same with a
/// wildcard export and import, and a cycle through three accounts.
async fn cycle_service(ctx: Ctx) -> Result<()> {
    expect_cycle(&ctx, SERVICE_2, "service", &["help"]).await?;
    expect_cycle(&ctx, SERVICE_WILDCARD, "service", &["help", "*"]).await?;
    expect_cycle(&ctx, SERVICE_3, "service", &["help", "*"]).await
}

async fn cycle_stream(ctx: Ctx) -> Result<()> {
    let conf = "accounts {\n\
      A {\n\
        exports [ { stream: strm } ]\n\
        imports [ { stream { subject: strm, account: B } } ]\n\
      }\n\
      B {\n\
        exports [ { stream: strm } ]\n\
        imports [ { stream { subject: strm, account: A } } ]\n\
      }\n\
    }\n";
    expect_cycle(&ctx, conf, "stream", &["strm"]).await
}

/// B imports A's `foo` as `bar`, which it exports and A imports.
async fn cycle_stream_mapped(ctx: Ctx) -> Result<()> {
    let conf = "accounts {\n\
      A {\n\
        exports [ { stream: * } ]\n\
        imports [ { stream { subject: bar, account: B } } ]\n\
      }\n\
      B {\n\
        exports [ { stream: bar } ]\n\
        imports [ { stream { subject: foo, account: A }, to: bar } ]\n\
      }\n\
    }\n";
    expect_cycle(&ctx, conf, "stream", &["foo", "bar"]).await
}

/// A imports B's `b` as `a`, B imports A's `a` as `b`.
async fn cycle_service_mapped(ctx: Ctx) -> Result<()> {
    let conf = "accounts {\n\
      A {\n\
        exports [ { service: a } ]\n\
        imports [ { service { subject: b, account: B }, to: a } ]\n\
      }\n\
      B {\n\
        exports [ { service: b } ]\n\
        imports [ { service { subject: a, account: A }, to: b } ]\n\
      }\n\
    }\n";
    expect_cycle(&ctx, conf, "service", &["a", "b"]).await
}

/// Starts with A importing `help` from B, then reloads with B importing it
/// from A too: the reload is refused with the cycle error and the first
/// import goes on working.
async fn cycle_reload(ctx: Ctx) -> Result<()> {
    let accounts = |b_imports: &str| {
        with_users(&[
            (
                "A",
                "{ service: help }",
                "{ service { subject: help, account: B } }",
            ),
            ("B", "{ service: help }", b_imports),
        ])
    };
    let s = ctx.server(ServerSpec::new().conf(&accounts(""))).await?;
    let cyclic = format!(
        "{LISTEN}{}",
        accounts("{ service { subject: help, account: A } }")
    );
    let line = match hup(&s, &cyclic).await? {
        Outcome::Applied => bail!("the reload was applied"),
        Outcome::Refused(line) => line,
    };
    let reason = mask_conf_path(kit::reload::reason(&line));
    let level = line.contains("[ERR]");
    ctx.observe("reload refused with", &reason);
    ctx.observe("logged as error", level.to_string());
    check_eq!(
        reason,
        format!("<conf>:3:1: Error adding service import \"help\": {CYCLE}")
    );
    check_eq!(level, true);

    let mut b = login(&ctx, &s, "b", "p").await?;
    subscribe(&mut b, &[("help", "1")]).await?;
    let mut a = login(&ctx, &s, "a", "p").await?;
    request(&ctx, "after the refused reload", &mut a, &mut b, "help").await
}

// ---------------------------------------------------------------- non-cycles

/// A imports B's `bar`; B imports C's `baz` as `bar`; C imports A's `foo`
/// as `bar`. No cycle: accepted, and each import delivers.
async fn noncycle_stream_mapped(ctx: Ctx) -> Result<()> {
    let s = start_accepted(
        &ctx,
        &[
            (
                "A",
                "{ stream: foo }",
                "{ stream { subject: bar, account: B } }",
            ),
            (
                "B",
                "{ stream: bar }",
                "{ stream { subject: baz, account: C }, to: bar }",
            ),
            (
                "C",
                "{ stream: baz }",
                "{ stream { subject: foo, account: A }, to: bar }",
            ),
        ],
    )
    .await?;
    let mut clients = Vec::new();
    for name in ["a", "b", "c"] {
        let mut c = login(&ctx, &s, name, "p").await?;
        subscribe(&mut c, &[(">", "1")]).await?;
        clients.push(c);
    }
    // Each account publishes its own subjects in turn; who got what.
    for (i, subject) in [(0, "foo"), (1, "bar"), (2, "baz")] {
        publish(&mut clients[i], subject, None, subject).await?;
        // The publisher's PING first: then the message has been routed.
        let own = delivered(&mut clients[i]).await?;
        let mut seen = Vec::new();
        for (j, name) in ["a", "b", "c"].iter().enumerate() {
            let got = if j == i {
                own.clone()
            } else {
                delivered(&mut clients[j]).await?
            };
            for m in got {
                seen.push(format!("{name}: {m}"));
            }
        }
        let from = ["a", "b", "c"][i];
        ctx.observe(&format!("{from} publishes {subject}"), seen.join("|"));
        let want: Vec<&str> = match subject {
            // foo: A's own subscriber, and C (imports foo as bar).
            "foo" => vec!["a: foo 1 foo", "c: bar 1 foo"],
            // bar in B: B's subscriber, and A (imports bar).
            "bar" => vec!["a: bar 1 bar", "b: bar 1 bar"],
            // baz in C: C's own, and B (imports baz as bar).
            _ => vec!["b: bar 1 baz", "c: baz 1 baz"],
        };
        check_eq!(seen, want);
    }
    Ok(())
}

/// A imports `help` from B, B imports `nohelp` from C, C imports `*` from
/// A: no cycle (B's import does not collide with `help`). Each import
/// answers its requests.
async fn noncycle_service(ctx: Ctx) -> Result<()> {
    let s = start_accepted(
        &ctx,
        &[
            (
                "A",
                "{ service: * }",
                "{ service { subject: help, account: B } }",
            ),
            (
                "B",
                "{ service: help }",
                "{ service { subject: nohelp, account: C } }",
            ),
            (
                "C",
                "{ service: * }",
                "{ service { subject: *, account: A } }",
            ),
        ],
    )
    .await?;
    for (from, to, subject) in [
        ("a", "b", "help"),
        ("b", "c", "nohelp"),
        ("c", "a", "other"),
    ] {
        let mut req = login(&ctx, &s, from, "p").await?;
        let mut resp = login(&ctx, &s, to, "p").await?;
        subscribe(&mut resp, &[(subject, "1")]).await?;
        request(
            &ctx,
            &format!("{from} asks {to} for {subject}"),
            &mut req,
            &mut resp,
            subject,
        )
        .await?;
    }
    Ok(())
}

/// A imports `help` from B, B from C, C from D: a chain, not a cycle. A
/// request in A is answered by D's responder, three hops away.
async fn noncycle_service_chain(ctx: Ctx) -> Result<()> {
    let from = |acc: &str| format!("{{ service {{ subject: help, account: {acc} }} }}");
    let (from_b, from_c, from_d) = (from("B"), from("C"), from("D"));
    let s = start_accepted(
        &ctx,
        &[
            ("A", "{ service: help }", &from_b),
            ("B", "{ service: help }", &from_c),
            ("C", "{ service: help }", &from_d),
            ("D", "{ service: help }", ""),
        ],
    )
    .await?;
    let mut d = login(&ctx, &s, "d", "p").await?;
    subscribe(&mut d, &[("help", "1")]).await?;
    let mut a = login(&ctx, &s, "a", "p").await?;
    request(&ctx, "a asks d", &mut a, &mut d, "help").await
}

// ---------------------------------------------------------------- reply match

/// Go's config (issue 1769): A (user d, the no-auth user) imports `>` from
/// B; a request from A is answered once by B's responder on `foo`, though
/// the requestor's reply subject matches A's `>` import too.
async fn reply_match_cycle(ctx: Ctx) -> Result<()> {
    let conf = "accounts {\n\
      A {\n\
        users: [{user: d, pass: x}]\n\
        imports [ {service: {account: B, subject: \">\" }}]\n\
      }\n\
      B {\n\
        users: [{user: x, pass: x}]\n\
        exports [ { service: \">\" } ]\n\
      }\n\
    }\n\
    no_auth_user: d\n";
    reply_match(&ctx, conf, "one hop").await
}

/// The same through two `>` imports: A from B, B from C.
async fn reply_match_cycle_multi_hops(ctx: Ctx) -> Result<()> {
    let conf = "accounts {\n\
      A {\n\
        users: [{user: d, pass: x}]\n\
        imports [ {service: {account: B, subject: \">\" }}]\n\
      }\n\
      B {\n\
        exports [ { service: \">\" } ]\n\
        imports [ {service: {account: C, subject: \">\" }}]\n\
      }\n\
      C {\n\
        users: [{user: x, pass: x}]\n\
        exports [ { service: \">\" } ]\n\
      }\n\
    }\n\
    no_auth_user: d\n";
    reply_match(&ctx, conf, "two hops").await
}

/// A request on `foo` from the no-auth user, answered by user x's
/// responder: one response, recorded under `label`.
async fn reply_match(ctx: &Ctx, conf: &str, label: &str) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut resp = login(ctx, &s, "x", "x").await?;
    subscribe(&mut resp, &[("foo", "1")]).await?;
    let mut req = ctx.raw_connected(&s, "{\"verbose\":false}").await?;
    request(ctx, label, &mut req, &mut resp, "foo").await
}

// ---------------------------------------------------------------- mapping

/// A imports B's `foo.*.*` as `foo.$1.{{wildcard(2)}}.{{partition(10,1,2)}}`:
/// 100 messages published twice in B arrive in A on subjects with the
/// same two tokens and a partition in 0..=9, the same both times.
async fn import_partition_mapping(ctx: Ctx) -> Result<()> {
    let conf = "accounts {\n\
      A {\n\
        users: [{user: a, pass: x}]\n\
        imports [ {stream: {account: B, subject: \"foo.*.*\"}, to : \"foo.$1.{{wildcard(2)}}.{{partition(10,1,2)}}\"}]\n\
      }\n\
      B {\n\
        users: [{user: b, pass x}]\n\
        exports [ { stream: \">\" } ]\n\
      }\n\
    }\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut a = login(&ctx, &s, "a", "x").await?;
    subscribe(&mut a, &[("foo.*.*.*", "1")]).await?;
    let mut b = login(&ctx, &s, "b", "x").await?;
    let n = 100;
    let mut rounds: Vec<Vec<String>> = Vec::new();
    for _ in 0..2 {
        let mut p = String::new();
        for i in 0..n {
            p.push_str(&format!("PUB foo.{i}.{} 5\r\nHELLO\r\n", n - i));
        }
        b.send(&p).await?;
        b.flush().await?;
        let msgs = a.read_msgs(n).await?;
        let mut got = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            let t: Vec<&str> = m.subject.split('.').collect();
            let p: i64 = t.get(3).and_then(|p| p.parse().ok()).unwrap_or(-1);
            if t.len() != 4
                || t[0] != "foo"
                || t[1] != i.to_string()
                || t[2] != (n - i).to_string()
                || !(0..=9).contains(&p)
            {
                bail!("unexpected subject {} for message {i}", m.subject);
            }
            got.push(m.subject.clone());
        }
        rounds.push(got);
    }
    ctx.observe("partitioned", rounds[0].join("|"));
    check_eq!(rounds[0], rounds[1]);
    let extra = delivered(&mut a).await?;
    check_eq!(extra, Vec::<String>::new());
    Ok(())
}
