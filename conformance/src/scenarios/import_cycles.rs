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
use crate::kit::{self, Ctx, Msg, RawClient, Server, ServerSpec};
use crate::registry::Scenario;
use anyhow::{bail, Context, Result};
use futures::FutureExt;
use nix::sys::signal::Signal;
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
const RELOADED: &str = "Reloaded server configuration";
const FAILED: &str = "Failed to reload server configuration: ";

fn user(name: &str) -> String {
    format!("{{\"verbose\":false,\"user\":\"{name}\",\"pass\":\"p\"}}")
}

/// A connection of user `name` (password `p`), past its PONG.
async fn login(ctx: &Ctx, s: &Server, name: &str) -> Result<RawClient> {
    ctx.raw_connected(s, &user(name)).await
}

/// Subscribes `subject` with `sid`, confirmed by a PONG.
async fn sub(c: &mut RawClient, subject: &str, sid: &str) -> Result<()> {
    c.send(&format!("SUB {subject} {sid}\r\n")).await?;
    c.flush().await
}

/// Publishes `payload` on `subject`, with a reply subject when given.
async fn publish(
    c: &mut RawClient,
    subject: &str,
    reply: Option<&str>,
    payload: &str,
) -> Result<()> {
    let reply = reply.map(|r| format!(" {r}")).unwrap_or_default();
    c.send(&format!(
        "PUB {subject}{reply} {}\r\n{payload}\r\n",
        payload.len()
    ))
    .await
}

/// Messages delivered until a PONG, as `subject sid payload`.
async fn delivered(c: &mut RawClient) -> Result<Vec<String>> {
    Ok(c.msgs_until_pong()
        .await?
        .into_iter()
        .map(|m| {
            format!(
                "{} {} {}",
                m.subject,
                m.sid,
                String::from_utf8_lossy(&m.payload)
            )
        })
        .collect())
}

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

/// `-t -c FILE` on a body: exit code and output, the path shown as
/// `<conf>` and surrounding blank lines dropped.
async fn check_conf(ctx: &Ctx, name: &str, body: &str) -> Result<(Option<i32>, String)> {
    let path = ctx.write_file(&format!("{name}.conf"), body)?;
    let path = path.to_string_lossy().to_string();
    let out = ctx.run_binary(&["-t", "-c", &path]).await?;
    let text = format!("{}{}", out.stderr, out.stdout).replace(&path, "<conf>");
    Ok((out.code, text.trim().to_string()))
}

/// A server that must refuse to start: the first line it printed that is
/// not an informational log line, the config's path shown as `<conf>`.
async fn refused_start(ctx: &Ctx, body: &str) -> Result<String> {
    match ctx.server(ServerSpec::new().conf(body)).await {
        Ok(s) => bail!(
            "the server started, expected it to refuse; log:\n{}",
            s.logs()
        ),
        Err(e) => {
            let text = format!("{e:#}");
            let log = text
                .split_once("--- log ---\n")
                .map(|x| x.1)
                .unwrap_or(&text);
            let line = log
                .lines()
                .find(|l| !l.trim().is_empty() && !l.contains("[INF]"))
                .unwrap_or_default();
            // The server's folder is random: keep the file name only.
            let line = match (line.find('/'), line.find("server.conf")) {
                (Some(a), Some(b)) if a < b => {
                    format!("{}<conf>{}", &line[..a], &line[b + "server.conf".len()..])
                }
                _ => line.to_string(),
            };
            Ok(line)
        }
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
    let (code, text) = check_conf(ctx, "cycle", accounts).await?;
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
    let line = refused_start(ctx, accounts).await?;
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
    let (code, text) = check_conf(ctx, "noncycle", accounts).await?;
    ctx.observe("-t", format!("exit {code:?}: {text}"));
    if code != Some(0) {
        bail!("expected no error, got exit {code:?}: {text}");
    }
    Ok(())
}

/// A request on `subject` from `req` answered by `resp` (subscribed to it
/// as sid 1): what the responder saw (subject and reply shape) and what
/// the requestor got back, nothing else arriving on either side.
async fn request(
    ctx: &Ctx,
    label: &str,
    req: &mut RawClient,
    resp: &mut RawClient,
    subject: &str,
    want_seen: &str,
) -> Result<()> {
    sub(req, "_INBOX.req", "9").await?;
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
    check_eq!(seen, want_seen);
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
        format!(
            "accounts {{\n  A {{\n    users [ {{user: a, password: p}} ]\n    exports [ {{ service: help }} ]\n    imports [ {{ service {{ subject: help, account: B }} }} ]\n  }}\n  B {{\n    users [ {{user: b, password: p}} ]\n    exports [ {{ service: help }} ]\n{b_imports}  }}\n}}\n"
        )
    };
    let s = ctx.server(ServerSpec::new().conf(&accounts(""))).await?;
    let cyclic = format!(
        "host: 127.0.0.1\nport: {{{{client_port}}}}\n{}",
        accounts("    imports [ { service { subject: help, account: A } } ]\n")
    );
    let count = |t: &str, n: &str| t.lines().filter(|l| l.contains(n)).count();
    s.rewrite_conf(&cyclic)?;
    s.signal(Signal::SIGHUP)?;
    let s2 = &s;
    let line = kit::eventually(Duration::from_secs(5), || async move {
        let logs = s2.logs();
        if count(&logs, RELOADED) > 0 {
            return Ok(Some(Err(anyhow::anyhow!("the reload was applied"))));
        }
        Ok(logs
            .lines()
            .find(|l| l.contains(FAILED))
            .map(|l| Ok(l.to_string())))
    })
    .await
    .context("waiting for the reload to be refused")??;
    let reason = line.split_once(FAILED).map(|x| x.1).unwrap_or_default();
    let reason = match (reason.find('/'), reason.find("server.conf")) {
        (Some(a), Some(b)) if a < b => {
            format!(
                "{}<conf>{}",
                &reason[..a],
                &reason[b + "server.conf".len()..]
            )
        }
        _ => reason.to_string(),
    };
    let level = line.contains("[ERR]");
    ctx.observe("reload refused with", &reason);
    ctx.observe("logged as error", level.to_string());
    check_eq!(
        reason,
        format!("<conf>:3:1: Error adding service import \"help\": {CYCLE}")
    );
    check_eq!(level, true);

    let mut b = login(&ctx, &s, "b").await?;
    sub(&mut b, "help", "1").await?;
    let mut a = login(&ctx, &s, "a").await?;
    request(
        &ctx,
        "after the refused reload",
        &mut a,
        &mut b,
        "help",
        "help 1 reply _R_ + 2 tokens payload help me",
    )
    .await
}

// ---------------------------------------------------------------- non-cycles

fn with_users(accounts: &[(&str, &str)]) -> String {
    let mut conf = String::from("accounts {\n");
    for (name, body) in accounts {
        let u = name.to_lowercase();
        conf.push_str(&format!(
            "  {name} {{\n    users [ {{user: {u}, password: p}} ]\n{body}  }}\n"
        ));
    }
    conf.push_str("}\n");
    conf
}

/// A imports B's `bar`; B imports C's `baz` as `bar`; C imports A's `foo`
/// as `bar`. No cycle: accepted, and each import delivers.
async fn noncycle_stream_mapped(ctx: Ctx) -> Result<()> {
    let conf = with_users(&[
        (
            "A",
            "    exports [ { stream: foo } ]\n    imports [ { stream { subject: bar, account: B } } ]\n",
        ),
        (
            "B",
            "    exports [ { stream: bar } ]\n    imports [ { stream { subject: baz, account: C }, to: bar } ]\n",
        ),
        (
            "C",
            "    exports [ { stream: baz } ]\n    imports [ { stream { subject: foo, account: A }, to: bar } ]\n",
        ),
    ]);
    expect_accepted(&ctx, &conf).await?;
    let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
    let mut clients = Vec::new();
    for name in ["a", "b", "c"] {
        let mut c = login(&ctx, &s, name).await?;
        sub(&mut c, ">", "1").await?;
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
    let conf = with_users(&[
        (
            "A",
            "    exports [ { service: * } ]\n    imports [ { service { subject: help, account: B } } ]\n",
        ),
        (
            "B",
            "    exports [ { service: help } ]\n    imports [ { service { subject: nohelp, account: C } } ]\n",
        ),
        (
            "C",
            "    exports [ { service: * } ]\n    imports [ { service { subject: *, account: A } } ]\n",
        ),
    ]);
    expect_accepted(&ctx, &conf).await?;
    let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
    for (from, to, subject) in [
        ("a", "b", "help"),
        ("b", "c", "nohelp"),
        ("c", "a", "other"),
    ] {
        let mut req = login(&ctx, &s, from).await?;
        let mut resp = login(&ctx, &s, to).await?;
        sub(&mut resp, subject, "1").await?;
        request(
            &ctx,
            &format!("{from} asks {to} for {subject}"),
            &mut req,
            &mut resp,
            subject,
            &format!("{subject} 1 reply _R_ + 2 tokens payload help me"),
        )
        .await?;
    }
    Ok(())
}

/// A imports `help` from B, B from C, C from D: a chain, not a cycle. A
/// request in A is answered by D's responder, three hops away.
async fn noncycle_service_chain(ctx: Ctx) -> Result<()> {
    let import = |acc: &str| {
        format!(
            "    exports [ {{ service: help }} ]\n    imports [ {{ service {{ subject: help, account: {acc} }} }} ]\n"
        )
    };
    let conf = with_users(&[
        ("A", &import("B")),
        ("B", &import("C")),
        ("C", &import("D")),
        ("D", "    exports [ { service: help } ]\n"),
    ]);
    expect_accepted(&ctx, &conf).await?;
    let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
    let mut d = login(&ctx, &s, "d").await?;
    sub(&mut d, "help", "1").await?;
    let mut a = login(&ctx, &s, "a").await?;
    request(
        &ctx,
        "a asks d",
        &mut a,
        &mut d,
        "help",
        "help 1 reply _R_ + 2 tokens payload help me",
    )
    .await
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
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut resp = ctx
        .raw_connected(&s, "{\"verbose\":false,\"user\":\"x\",\"pass\":\"x\"}")
        .await?;
    sub(&mut resp, "foo", "1").await?;
    let mut req = ctx.raw_connected(&s, "{\"verbose\":false}").await?;
    request(
        &ctx,
        "one hop",
        &mut req,
        &mut resp,
        "foo",
        "foo 1 reply _R_ + 2 tokens payload help me",
    )
    .await
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
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut resp = ctx
        .raw_connected(&s, "{\"verbose\":false,\"user\":\"x\",\"pass\":\"x\"}")
        .await?;
    sub(&mut resp, "foo", "1").await?;
    let mut req = ctx.raw_connected(&s, "{\"verbose\":false}").await?;
    request(
        &ctx,
        "two hops",
        &mut req,
        &mut resp,
        "foo",
        "foo 1 reply _R_ + 2 tokens payload help me",
    )
    .await
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
    let mut a = ctx
        .raw_connected(&s, "{\"verbose\":false,\"user\":\"a\",\"pass\":\"x\"}")
        .await?;
    sub(&mut a, "foo.*.*.*", "1").await?;
    let mut b = ctx
        .raw_connected(&s, "{\"verbose\":false,\"user\":\"b\",\"pass\":\"x\"}")
        .await?;
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
