//! Scenarios from server/accounts_test.go and server/reload_test.go about
//! stream exports and imports between accounts. The Go tests add exports
//! and imports in-process (`AddStreamExport`, `AddStreamImport`) and count
//! the subscriptions of an account's sublist (`sl.Count()`, `sl.Match`);
//! here the same exports and imports are written in a config file, a client
//! of the importing account subscribes and a client of the exporting
//! account publishes, and what the subscriber reads (the raw `MSG` lines:
//! subject, sid, payload) is compared whole. The shadow subscriptions an
//! import puts in the exporting account are counted from outside with
//! `/subsz?acc=<account>` (`num_subscriptions`), and matched against a
//! subject with `/subsz?acc=<account>&subs=1&test=<subject>`. Imports Go
//! refuses (no matching export, a wildcard prefix, a duplicate) are checked
//! with `-t`. Changes of exports and imports by a config reload are made
//! with SIGHUP.

use crate::check_eq;
use crate::kit::{self, account_subs, login, reload, show, Ctx, Op, RawClient, Server, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{bail, Context, Result};
use futures::FutureExt;
use std::time::Duration;

const HTTP: &str = "http: 127.0.0.1:{{http_port}}\n";

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("accounts/stream-import-prefix", |c| simple_mapping(c).boxed())
            .needs(Need::Monitoring)
            .full("TestSimpleMapping"),
        Scenario::new("accounts/stream-import-auto-unsub", |c| auto_unsub(c).boxed())
            .needs(Need::Monitoring)
            .beyond_go("a black-box run of Go 2.9.10: UNSUB <sid> <max> does not count deliveries through a stream import"),
        Scenario::new("accounts/stream-import-queue-group", |c| {
            import_queue_group(c).boxed()
        })
        .beyond_go("a black-box run of Go 2.9.10: a queue group of the importing account gets each imported message once"),
        Scenario::new("accounts/stream-import-sub-deny", |c| import_sub_deny(c).boxed())
            .beyond_go("a black-box run of Go 2.9.10: the importing user's subscribe deny applies to the imported subject for plain subscriptions, not for queue subscriptions"),
        Scenario::new("accounts/stream-import-wildcard-prefix-refused", |c| {
            length_bug(c).boxed()
        })
        .full("TestStreamImportLengthBug"),
        Scenario::new("accounts/stream-shadow-subs-removed-on-close", |c| {
            shadow_cleanup(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestShadowSubsCleanupOnClientClose"),
        Scenario::new("accounts/stream-import-wildcard-no-prefix", |c| {
            no_prefix_wildcard(c).boxed()
        })
        .full("TestNoPrefixWildcardMapping"),
        Scenario::new("accounts/stream-import-wildcard-with-prefix", |c| {
            prefix_wildcard(c).boxed()
        })
        .full("TestPrefixWildcardMapping")
        .full("TestPrefixWildcardMappingWithLiteralSub"),
        Scenario::new("accounts/stream-imports-one-wildcard-sub", |c| {
            single_wc_sub(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestMultipleImportsAndSingleWCSub"),
        Scenario::new("accounts/stream-export-additive", |c| {
            export_additive(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestAddStreamExport"),
        Scenario::new("accounts/stream-imports-same-subject-two-prefixes", |c| {
            same_subject_prefixes(c).boxed()
        })
        .full("TestMultipleStreamImportsWithSameSubjectDifferentPrefix"),
        Scenario::new("accounts/stream-imports-same-subject", |c| {
            same_subject(c).boxed()
        })
        .full("TestMultipleStreamImportsWithSameSubject"),
        Scenario::new("accounts/stream-import-overlap-prefix", |c| {
            overlap_prefix(c).boxed()
        })
        .full("TestImportSubscriptionPartialOverlapWithPrefix"),
        Scenario::new("accounts/stream-import-overlap-transform", |c| {
            overlap_transform(c).boxed()
        })
        .full("TestImportSubscriptionPartialOverlapWithTransform"),
        Scenario::new("accounts/sub-deny-with-queue-group", |c| {
            queue_sub_perms(c).boxed()
        })
        .full("TestAccountUserSubPermsWithQueueGroups"),
        Scenario::new("accounts/stream-imports-reload", |c| reload_streams(c).boxed())
            .needs(Need::Monitoring)
            .full("TestConfigReloadAccountStreamsImportExport")
            .partial("TestAccountCheckStreamImportsEqual"),
        Scenario::new("accounts/stream-imports-reload-compare", |c| {
            reload_compare(c).boxed()
        })
        .partial("TestAccountCheckStreamImportsEqual"),
    ]
}

// ---------------------------------------------------------------- helpers

/// Sends the protocol lines and waits for the PONG of a PING: anything
/// else before it (an `-ERR`, a message) fails.
async fn send(c: &mut RawClient, proto: &str) -> Result<()> {
    c.send(proto).await?;
    let ops = c.ops_until_pong().await?;
    if !ops.is_empty() {
        bail!("after {proto:?} expected only a PONG, got {ops:?}");
    }
    Ok(())
}

/// `PUB` lines with the same payload on each subject.
fn pubs(subjects: &[&str], payload: &str) -> String {
    let mut p = String::new();
    for s in subjects {
        p.push_str(&format!("PUB {s} {}\r\n{payload}\r\n", payload.len()));
    }
    p
}

/// Publishes `payload` on each subject, then waits for the PONG of a PING
/// (the messages have been routed to the subscribers' connections).
async fn publish(c: &mut RawClient, subjects: &[&str], payload: &str) -> Result<()> {
    send(c, &pubs(subjects, payload)).await
}

/// What the connection read until the PONG of a PING, each MSG as
/// [`show`] writes it; a reply subject or anything else than a MSG fails.
async fn delivered(c: &mut RawClient) -> Result<Vec<String>> {
    let msgs = c.msgs_until_pong().await?;
    if let Some(m) = msgs.iter().find(|m| m.reply.is_some()) {
        bail!("unexpected reply subject {:?} on {}", m.reply, m.subject);
    }
    Ok(msgs.iter().map(show).collect())
}

/// The subscriptions of two accounts' sublists, from `/subsz?acc=`.
async fn subs_of(ctx: &Ctx, s: &Server, first: &str, second: &str) -> Result<(i64, i64)> {
    Ok((
        account_subs(ctx, s, first).await?,
        account_subs(ctx, s, second).await?,
    ))
}

/// Subscriptions of an account's sublist that match a literal subject
/// (`/subsz?acc=..&subs=1&test=..`), as `subject count`.
async fn interest(ctx: &Ctx, s: &Server, acc: &str, subjects: &[&str]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for subject in subjects {
        let v = ctx
            .http_json(s, &format!("/subsz?acc={acc}&subs=1&test={subject}"))
            .await?;
        let n = v["subscriptions_list"].as_array().map_or(0, |a| a.len());
        out.push(format!("{subject} {n}"));
    }
    Ok(out)
}

// ---------------------------------------------------------------- scenarios

/// foo exports the stream `foo` (public), bar imports it with the prefix
/// `import`.
const SIMPLE: &str = "no_system_account: true\naccounts {\n\
  foo { users = [{user: f, password: p}], exports = [{stream: foo}] }\n\
  bar { users = [{user: b, password: p}], imports = [{stream: {account: foo, subject: foo}, prefix: import}] }\n\
}\n";

/// An import with no export is refused; a plain and a queue subscriber of
/// the importing account get the message published in the exporting account
/// on the prefixed subject; each puts one shadow subscription in the
/// exporting account, and an UNSUB takes both away.
async fn simple_mapping(ctx: Ctx) -> Result<()> {
    let no_export = SIMPLE.replace(", exports = [{stream: foo}]", "");
    let refused = kit::check_config(&ctx, "import without export", &no_export).await?;
    check_eq!(
        refused,
        "exit 1: <conf>:2:1: Error adding stream import \"foo\": stream import not authorized"
    );

    let s = ctx
        .server(ServerSpec::new().conf(&format!("{HTTP}{SIMPLE}")))
        .await?;
    let mut cbar = login(&ctx, &s, "b", "p").await?;
    let mut cfoo = login(&ctx, &s, "f", "p").await?;
    send(&mut cbar, "SUB import.foo 1\r\nSUB import.foo bar 2\r\n").await?;
    publish(&mut cfoo, &["foo"], "hello").await?;
    let got = delivered(&mut cbar).await?;
    ctx.observe("delivered", got.join("|"));
    check_eq!(got, vec!["import.foo 1 hello", "import.foo 2 hello"]);

    let subs = subs_of(&ctx, &s, "bar", "foo").await?;
    ctx.observe("subs bar, foo", format!("{subs:?}"));
    check_eq!(subs, (2, 2));

    send(&mut cbar, "UNSUB 1\r\nUNSUB 2\r\n").await?;
    nothing_left(
        &ctx,
        &s,
        &mut cbar,
        &mut cfoo,
        "after UNSUB",
        "delivered",
        "hello",
    )
    .await
}

/// Once bar's subscriptions are gone (`when`): none is left in bar nor in
/// foo, observed as `subs bar, foo <when>`, and foo's publish of `payload`
/// on `foo` reaches nobody in bar, observed as `<what> <when>`.
async fn nothing_left(
    ctx: &Ctx,
    s: &Server,
    cbar: &mut RawClient,
    cfoo: &mut RawClient,
    when: &str,
    what: &str,
    payload: &str,
) -> Result<()> {
    let subs = subs_of(ctx, s, "bar", "foo").await?;
    ctx.observe(&format!("subs bar, foo {when}"), format!("{subs:?}"));
    check_eq!(subs, (0, 0));
    publish(cfoo, &["foo"], payload).await?;
    let after = delivered(cbar).await?;
    ctx.observe(&format!("{what} {when}"), after.join("|"));
    check_eq!(after, Vec::<String>::new());
    Ok(())
}

/// `UNSUB <sid> <max>` and a stream import: Go copies the subscription
/// into the exporting account at SUB time (its shadow), so a later max is
/// not on the copy, and messages delivered through the import neither count
/// nor end the subscription; a message published in the importing account
/// itself does, and then the shadow goes with the subscription.
async fn auto_unsub(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(&format!("{HTTP}{SIMPLE}")))
        .await?;
    let mut cbar = login(&ctx, &s, "b", "p").await?;
    let mut cfoo = login(&ctx, &s, "f", "p").await?;
    send(&mut cbar, "SUB import.foo 1\r\nUNSUB 1 1\r\n").await?;
    publish(&mut cfoo, &["foo", "foo"], "imported").await?;
    let imported = delivered(&mut cbar).await?;
    ctx.observe("imported", imported.join("|"));
    check_eq!(
        imported,
        vec!["import.foo 1 imported", "import.foo 1 imported"]
    );
    let subs = subs_of(&ctx, &s, "bar", "foo").await?;
    ctx.observe("subs bar, foo", format!("{subs:?}"));
    check_eq!(subs, (1, 1));

    cbar.send(&pubs(&["import.foo", "import.foo"], "local"))
        .await?;
    let local = delivered(&mut cbar).await?;
    ctx.observe("local", local.join("|"));
    check_eq!(local, vec!["import.foo 1 local"]);
    nothing_left(
        &ctx,
        &s,
        &mut cbar,
        &mut cfoo,
        "after the max",
        "imported",
        "imported",
    )
    .await
}

/// foo exports `>`; bar imports `x.>` with the prefix `imp`, and its user
/// `u` may subscribe to `imp.>` but not `imp.x.secret`.
const QUEUE_AND_DENY: &str = "accounts {\n\
  foo { users = [{user: f, password: p}], exports = [{stream: \">\"}] }\n\
  bar {\n\
    users = [\n\
      {user: b, password: p}\n\
      {user: u, password: p, permissions: {subscribe: {allow: \"imp.>\", deny: \"imp.x.secret\"}}}\n\
    ]\n\
    imports = [{stream: {account: foo, subject: \"x.>\"}, prefix: imp}]\n\
  }\n\
}\n";

/// Two members of one queue group and a plain subscriber in the importing
/// account: the plain one gets every imported message, the group each one
/// once between its members.
async fn import_queue_group(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(QUEUE_AND_DENY)).await?;
    let mut q1 = login(&ctx, &s, "b", "p").await?;
    send(&mut q1, "SUB imp.x.* q 1\r\n").await?;
    let mut q2 = login(&ctx, &s, "b", "p").await?;
    send(&mut q2, "SUB imp.> q 1\r\n").await?;
    let mut plain = login(&ctx, &s, "b", "p").await?;
    send(&mut plain, "SUB imp.x.* 1\r\n").await?;
    let mut cfoo = login(&ctx, &s, "f", "p").await?;
    let n = 20;
    publish(&mut cfoo, &vec!["x.a"; n], "q").await?;
    let mut subjects = Vec::new();
    for c in [&mut q1, &mut q2] {
        subjects.extend(c.msgs_until_pong().await?.into_iter().map(|m| m.subject));
    }
    let group = subjects.len();
    ctx.observe("queue group got", group.to_string());
    check_eq!(group, n);
    subjects.dedup();
    ctx.observe("queue group subjects", subjects.join("|"));
    check_eq!(subjects, vec!["imp.x.a"]);
    let plain_got = delivered(&mut plain).await?;
    ctx.observe("plain sub got", plain_got.len().to_string());
    check_eq!(plain_got, vec!["imp.x.a 1 q"; n]);
    Ok(())
}

/// The importing user's subscribe permissions: `imp.x.secret` cannot be
/// subscribed to, and a plain wildcard subscription that covers it does not
/// get what is imported there. A queue subscription does: Go checks the
/// deny of a queue delivery against the subject as published in the
/// exporting account (`x.secret`), not the imported one (client.go
/// processMsgResults passes `subject`, not `dsubj`, to deliverMsg for queue
/// subscriptions), while the MSG line carries `imp.x.secret`.
async fn import_sub_deny(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(QUEUE_AND_DENY)).await?;
    let mut u = login(&ctx, &s, "u", "p").await?;
    u.send("SUB imp.x.secret 1\r\n").await?;
    let ops = u.ops_until_pong().await?;
    ctx.observe("SUB imp.x.secret", format!("{ops:?}"));
    check_eq!(
        ops,
        vec![Op::Err(
            "Permissions Violation for Subscription to \"imp.x.secret\"".to_string()
        )]
    );
    send(&mut u, "SUB imp.> 2\r\nSUB imp.x.* q 3\r\n").await?;
    let mut cfoo = login(&ctx, &s, "f", "p").await?;
    publish(&mut cfoo, &["x.public", "x.secret", "x.public"], "m").await?;
    let got = delivered(&mut u).await?;
    ctx.observe("delivered", got.join("|"));
    check_eq!(
        got,
        vec![
            "imp.x.public 2 m",
            "imp.x.public 3 m",
            "imp.x.secret 3 m",
            "imp.x.public 2 m",
            "imp.x.public 3 m"
        ]
    );
    Ok(())
}

const LENGTH_BUG: &str = "accounts {\n\
  foo { users = [{user: f, password: p}], exports = [{stream: \"client.>\"}] }\n\
  bar { users = [{user: b, password: p}], imports = [{stream: {account: \"foo\", subject:\"client.>\"}, prefix:\"events\"}] }\n\
}\n";

/// A prefix with a wildcard is refused; a literal prefix on a `>` import
/// works for a `>` subscriber (nats-server issue 1159).
async fn length_bug(ctx: Ctx) -> Result<()> {
    let wildcard = LENGTH_BUG.replace("prefix:\"events\"", "prefix:\"events.>\"");
    let refused = kit::check_config(&ctx, "wildcard prefix", &wildcard).await?;
    check_eq!(
        refused,
        "exit 1: <conf>:1:0: Error adding stream import \"client.>\": stream import prefix can not contain wildcard tokens"
    );

    let s = ctx.server(ServerSpec::new().conf(LENGTH_BUG)).await?;
    let mut cbar = login(&ctx, &s, "b", "p").await?;
    let mut cfoo = login(&ctx, &s, "f", "p").await?;
    send(&mut cbar, "SUB events.> 1\r\n").await?;
    publish(&mut cfoo, &["client.a", "client.a.b.c"], "hi").await?;
    let got = delivered(&mut cbar).await?;
    ctx.observe("delivered", got.join("|"));
    check_eq!(
        got,
        vec!["events.client.a 1 hi", "events.client.a.b.c 1 hi"]
    );
    Ok(())
}

/// The shadow subscriptions of a client go away when it disconnects.
async fn shadow_cleanup(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(&format!("{HTTP}{SIMPLE}")))
        .await?;
    let mut cbar = login(&ctx, &s, "b", "p").await?;
    send(&mut cbar, "SUB import.foo 1\r\nSUB import.foo bar 2\r\n").await?;
    let shadows = account_subs(&ctx, &s, "foo").await?;
    ctx.observe("shadow subs", shadows.to_string());
    check_eq!(shadows, 2);

    drop(cbar);
    let ctx = &ctx;
    let s = &s;
    let left = kit::eventually(Duration::from_secs(2), || async move {
        let n = subs_of(ctx, s, "foo", "bar").await?;
        Ok((n == (0, 0)).then_some(n))
    })
    .await
    .context("shadow subscriptions still there after the client closed")?;
    ctx.observe("subs foo, bar after close", format!("{left:?}"));
    Ok(())
}

/// `>` exported to bar, `*` imported without a prefix: a subscriber of
/// `foo` in bar gets `foo` as published (and nothing of `foo.bar`, which
/// the import does not cover).
async fn no_prefix_wildcard(ctx: Ctx) -> Result<()> {
    let conf = "accounts {\n\
      foo { users = [{user: f, password: p}], exports = [{stream: \">\", accounts: [bar]}] }\n\
      bar { users = [{user: b, password: p}], imports = [{stream: {account: foo, subject: \"*\"}}] }\n\
    }\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut cbar = login(&ctx, &s, "b", "p").await?;
    let mut cfoo = login(&ctx, &s, "f", "p").await?;
    send(&mut cbar, "SUB foo 1\r\nSUB foo.bar 2\r\n").await?;
    publish(&mut cfoo, &["foo", "foo.bar"], "hello").await?;
    let got = delivered(&mut cbar).await?;
    ctx.observe("delivered", got.join("|"));
    check_eq!(got, vec!["foo 1 hello"]);
    Ok(())
}

/// `*` imported with the prefix `pub.imports.` (trailing dot accepted): a
/// wildcard and a literal subscriber of the importing account each get
/// `pub.imports.foo` once.
async fn prefix_wildcard(ctx: Ctx) -> Result<()> {
    let conf = "accounts {\n\
      foo { users = [{user: f, password: p}], exports = [{stream: \">\", accounts: [bar]}] }\n\
      bar { users = [{user: b, password: p}], imports = [{stream: {account: foo, subject: \"*\"}, prefix: \"pub.imports.\"}] }\n\
    }\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut wc = login(&ctx, &s, "b", "p").await?;
    send(&mut wc, "SUB pub.imports.* 1\r\n").await?;
    let mut lit = login(&ctx, &s, "b", "p").await?;
    send(&mut lit, "SUB pub.imports.foo 1\r\n").await?;
    let mut cfoo = login(&ctx, &s, "f", "p").await?;
    publish(&mut cfoo, &["foo"], "hello").await?;
    let wildcard_got = delivered(&mut wc).await?;
    ctx.observe("wildcard sub", wildcard_got.join("|"));
    check_eq!(wildcard_got, vec!["pub.imports.foo 1 hello"]);
    let literal_got = delivered(&mut lit).await?;
    ctx.observe("literal sub", literal_got.join("|"));
    check_eq!(literal_got, vec!["pub.imports.foo 1 hello"]);
    Ok(())
}

/// Two imports (`foo`, `bar`) with the prefix `pub.`: one `pub.*`
/// subscriber gets both, and has one shadow subscription per import.
async fn single_wc_sub(ctx: Ctx) -> Result<()> {
    let conf = "no_system_account: true\naccounts {\n\
      foo {\n\
        users = [{user: f, password: p}]\n\
        exports = [{stream: foo, accounts: [bar]}, {stream: bar, accounts: [bar]}]\n\
      }\n\
      bar {\n\
        users = [{user: b, password: p}]\n\
        imports = [\n\
          {stream: {account: foo, subject: foo}, prefix: \"pub.\"}\n\
          {stream: {account: foo, subject: bar}, prefix: \"pub.\"}\n\
        ]\n\
      }\n\
    }\n";
    let s = ctx
        .server(ServerSpec::new().conf(&format!("{HTTP}{conf}")))
        .await?;
    let mut cbar = login(&ctx, &s, "b", "p").await?;
    let mut cfoo = login(&ctx, &s, "f", "p").await?;
    send(&mut cbar, "SUB pub.* 1\r\n").await?;
    send(&mut cfoo, "PUB foo 5\r\nhello\r\nPUB bar 5\r\nworld\r\n").await?;
    let got = delivered(&mut cbar).await?;
    ctx.observe("delivered", got.join("|"));
    check_eq!(got, vec!["pub.foo 1 hello", "pub.bar 1 world"]);

    let subs = subs_of(&ctx, &s, "foo", "bar").await?;
    ctx.observe("subs foo, bar", format!("{subs:?}"));
    check_eq!(subs, (2, 1));
    send(&mut cbar, "UNSUB 1\r\n").await?;
    let unsubbed = subs_of(&ctx, &s, "foo", "bar").await?;
    ctx.observe("subs foo, bar after UNSUB", format!("{unsubbed:?}"));
    check_eq!(unsubbed, (0, 0));
    Ok(())
}

/// The same stream export written three times (public, then for bar, then
/// for baz) adds up: one export, approved for bar and baz; an account not
/// approved cannot import it.
async fn export_additive(ctx: Ctx) -> Result<()> {
    let exports = [
        "{stream: test.request}",
        "{stream: test.request, accounts: [bar]}",
        "{stream: test.request, accounts: [baz]}",
    ];
    let accounts = |n: usize, extra: &str| {
        format!(
            "accounts {{\n  foo {{ users = [{{user: f, password: p}}], exports = [{}] }}\n  bar {{ users = [{{user: b, password: p}}] }}\n  baz {{ users = [{{user: z, password: p}}] }}\n{extra}}}\n",
            exports[..n].join(", ")
        )
    };
    let mut approved = Vec::new();
    for n in 1..=3 {
        let s = ctx
            .server(ServerSpec::new().conf(&format!("{HTTP}{}", accounts(n, ""))))
            .await?;
        let detail = kit::account_detail(&ctx, &s, "foo").await?;
        let list = detail["exports"]
            .as_array()
            .with_context(|| format!("/accountz?acc=foo has no exports: {detail}"))?;
        let seen: Vec<String> = list
            .iter()
            .map(|e| {
                format!(
                    "{} {} [{}]",
                    e["type"].as_str().unwrap_or("?"),
                    e["subject"].as_str().unwrap_or("?"),
                    kit::approved_accounts(e).join(",")
                )
            })
            .collect();
        ctx.observe(&format!("exports after {n}"), seen.join("|"));
        approved.push(seen);
    }
    check_eq!(approved[0], vec!["stream test.request []"]);
    check_eq!(approved[1], vec!["stream test.request [bar]"]);
    check_eq!(approved[2], vec!["stream test.request [bar,baz]"]);

    let outsider = accounts(
        3,
        "  qux { imports = [{stream: {account: foo, subject: test.request}}] }\n",
    );
    let refused = kit::check_config(&ctx, "import by an account not approved", &outsider).await?;
    check_eq!(
        refused,
        "exit 1: <conf>:1:0: Error adding stream import \"test.request\": stream import not authorized"
    );
    Ok(())
}

/// foo and bar both export `test`; the importer (user i) has the two
/// `imports`.
fn two_exporters_conf(imports: [&str; 2]) -> String {
    format!(
        "accounts {{\n\
      foo {{ users = [{{user: f, password: p}}], exports = [{{stream: test}}] }}\n\
      bar {{ users = [{{user: b, password: p}}], exports = [{{stream: test}}] }}\n\
      importer {{\n\
        users = [{{user: i, password: p}}]\n\
        imports = [\n\
          {}\n\
          {}\n\
        ]\n\
      }}\n\
    }}\n",
        imports[0], imports[1]
    )
}

/// Two accounts export `test`; the importer takes both with the prefixes
/// `foo` and `bar`; a `*.test` subscriber gets each once, on its prefix.
async fn same_subject_prefixes(ctx: Ctx) -> Result<()> {
    let conf = two_exporters_conf([
        "{stream: {account: foo, subject: test}, prefix: foo}",
        "{stream: {account: bar, subject: test}, prefix: bar}",
    ]);
    from_each_exporter(
        &ctx,
        &conf,
        "*.test",
        "bar.test 1 hello-bar",
        "foo.test 1 hello-foo",
    )
    .await
}

/// On a server of `conf`, where foo and bar both export `test`, the
/// importer (user i) subscribes to `subject` (sid 1): what it gets of a
/// publish on `test` in bar, then in foo, observed and checked against
/// `from_bar` and `from_foo`.
async fn from_each_exporter(
    ctx: &Ctx,
    conf: &str,
    subject: &str,
    from_bar: &str,
    from_foo: &str,
) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut imp = login(ctx, &s, "i", "p").await?;
    send(&mut imp, &format!("SUB {subject} 1\r\n")).await?;
    let mut cfoo = login(ctx, &s, "f", "p").await?;
    let mut cbar = login(ctx, &s, "b", "p").await?;
    for (name, exporter, want) in [("bar", &mut cbar, from_bar), ("foo", &mut cfoo, from_foo)] {
        publish(exporter, &["test"], &format!("hello-{name}")).await?;
        let got = delivered(&mut imp).await?;
        ctx.observe(&format!("from {name}"), got.join("|"));
        check_eq!(got, vec![want]);
    }
    Ok(())
}

/// The same subject imported from two accounts without a prefix: a `test`
/// subscriber gets each account's message once. Importing the same subject
/// twice from one account is refused.
async fn same_subject(ctx: Ctx) -> Result<()> {
    let from_foo = "{stream: {account: foo, subject: test}}";
    let from_bar = "{stream: {account: bar, subject: test}}";
    let twice = two_exporters_conf([from_foo, from_foo]);
    let refused = kit::check_config(&ctx, "same import twice", &twice).await?;
    check_eq!(
        refused,
        "exit 1: <conf>:1:0: Error adding stream import \"test\": stream import already exists"
    );

    let conf = two_exporters_conf([from_foo, from_bar]);
    from_each_exporter(&ctx, &conf, "test", "test 1 hello-bar", "test 1 hello-foo").await
}

/// Go's importSubscriptionOverlapTemplate with the export, the import's
/// subject and the import's option.
fn overlap_conf(export: &str, subject: &str, option: &str) -> String {
    format!(
        "accounts: {{\n  ACCOUNT_X: {{\n    users: [ {{user: publisher}} ]\n    exports: [ {{stream: {export}}} ]\n  }},\n  ACCOUNT_Y: {{\n    users: [ {{user: subscriber}} ]\n    imports: [ {{stream: {{account: ACCOUNT_X, subject: {subject} }}, {option}}} ]\n  }}\n}}\n"
    )
}

/// For each subject, a subscriber of ACCOUNT_Y (`UNSUB <sid> 1` as the Go
/// test's AutoUnsubscribe(1) sends it) gets the message ACCOUNT_X publishes
/// on `publish_on`, once, on the imported subject `want`.
async fn overlap(ctx: &Ctx, conf: &str, subs: &[&str], publish_on: &str, want: &str) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut x = login(ctx, &s, "publisher", "").await?;
    let mut y = login(ctx, &s, "subscriber", "").await?;
    for (i, subject) in subs.iter().enumerate() {
        let sid = i + 1;
        send(&mut y, &format!("SUB {subject} {sid}\r\nUNSUB {sid} 1\r\n")).await?;
        publish(&mut x, &[publish_on], "hello").await?;
        let got = delivered(&mut y).await?;
        ctx.observe(&format!("sub {subject}"), got.join("|"));
        check_eq!(got, vec![format!("{want} {sid} hello")]);
        // Go does not count a message delivered through an import against
        // the UNSUB max (see auto_unsub): the Go test's client drops the
        // extra ones, this one unsubscribes.
        send(&mut y, &format!("UNSUB {sid}\r\n")).await?;
    }
    Ok(())
}

/// `>` exported and imported with the prefix `myprefix`: subscriptions that
/// overlap the imported subject only in part still get `myprefix.test`.
async fn overlap_prefix(ctx: Ctx) -> Result<()> {
    let conf = overlap_conf(">", ">", "prefix: myprefix");
    let subs = [
        ">",
        "myprefix.*",
        "myprefix.>",
        "myprefix.test",
        "*.>",
        "*.*",
        "*.test",
    ];
    overlap(&ctx, &conf, &subs, "test", "myprefix.test").await
}

/// `*.*.>` imported `to: myprefix.$2.$1.>`: `1.2.test` arrives as
/// `myprefix.2.1.test` on every subscription that matches it.
async fn overlap_transform(ctx: Ctx) -> Result<()> {
    let conf = overlap_conf("*.*.>", "*.*.>", "to: myprefix.$2.$1.>");
    let subs = [
        ">",
        "*.*.*.>",
        "*.2.*.>",
        "*.*.1.>",
        "*.2.1.>",
        "*.*.*.*",
        "*.2.1.*",
        "*.*.*.test",
        "*.*.1.test",
        "*.2.*.test",
        "*.2.1.test",
        "myprefix.*.*.*",
        "myprefix.>",
        "myprefix.*.>",
        "myprefix.*.*.>",
        "myprefix.2.>",
        "myprefix.2.1.>",
        "myprefix.*.1.>",
        "myprefix.2.*.>",
        "myprefix.2.1.*",
        "myprefix.*.*.test",
        "myprefix.2.1.test",
    ];
    overlap(&ctx, &conf, &subs, "1.2.test", "myprefix.2.1.test").await
}

/// A queue subscription on `foo.>` by a user whose subscribe permission
/// denies `foo.restricted` gets nothing published there.
async fn queue_sub_perms(ctx: Ctx) -> Result<()> {
    let conf = "authorization {\n\
      users = [\n\
        { user: user, password: \"pass\",\n\
          permissions: {\n\
            publish: \"foo.restricted\"\n\
            subscribe: { allow: \"foo.>\", deny: \"foo.restricted\" }\n\
            allow_responses: { max: 1, ttl: 0s }\n\
          }\n\
        }\n\
      ]\n\
    }\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut c = login(&ctx, &s, "user", "pass").await?;
    send(&mut c, "SUB foo.> qg 1\r\n").await?;
    c.send("PUB foo.restricted 10\r\nRESTRICTED\r\n").await?;
    let ops = c.ops_until_pong().await?;
    ctx.observe("after PUB foo.restricted", format!("{ops:?}"));
    check_eq!(ops, Vec::<Op>::new());
    Ok(())
}

/// Go's template of TestConfigReloadAccountStreamsImportExport: synadia's
/// second export, ivan's subscribe deny, nats.io's first import and the
/// prefix of its second.
fn streams_conf(export: &str, deny: &str, import: &str, prefix: &str) -> String {
    format!(
        "{HTTP}accounts {{\n  synadia {{\n    users [{{user: derek, password: foo}}]\n    exports = [\n      {{stream: \"private.>\", accounts: [nats.io]}}\n      {{stream: {export}}}\n    ]\n  }}\n  nats.io {{\n    users [\n      {{user: ivan, password: bar, permissions: {{subscribe: {{deny: {deny}}}}}}}\n    ]\n    imports = [\n      {{stream: {{account: \"synadia\", subject: {import}}}}}\n      {{stream: {{account: \"synadia\", subject: \"private.natsio.*\"}}, prefix: {prefix}}}\n    ]\n  }}\n}}\nno_sys_acc: true\n"
    )
}

const WATCHED: [&str; 4] = ["foo.bar", "foo.baz", "foo.bat", "private.natsio.foo"];

/// Client connections, from /varz.
async fn clients(ctx: &Ctx, s: &Server) -> Result<i64> {
    let v = ctx.http_json(s, "/varz").await?;
    v["connections"]
        .as_i64()
        .context("varz without connections")
}

/// derek publishes each watched subject: what ivan gets and the shadow
/// subscriptions in synadia that match each subject, observed under
/// `config` and checked against `want` and `want_interest`.
async fn check_imports(
    ctx: &Ctx,
    s: &Server,
    ivan: &mut RawClient,
    derek: &mut RawClient,
    config: &str,
    want: &[&str],
    want_interest: &[&str],
) -> Result<()> {
    publish(derek, &WATCHED, "hello").await?;
    let got = delivered(ivan).await?;
    ctx.observe(config, got.join("|"));
    check_eq!(got, want);
    let in_synadia = interest(ctx, s, "synadia", &WATCHED).await?;
    ctx.observe(
        &format!("{config}: interest in synadia"),
        in_synadia.join("|"),
    );
    check_eq!(in_synadia, want_interest);
    Ok(())
}

/// Each account still delivers to its own subscribers (ivan's `ivan.sub`,
/// sid 5, and derek's `derek.sub`, sid 1).
async fn check_own_accounts(
    ctx: &Ctx,
    ivan: &mut RawClient,
    derek: &mut RawClient,
    config: &str,
) -> Result<()> {
    ivan.send(&pubs(&["ivan.sub"], "hello")).await?;
    let i = delivered(ivan).await?;
    derek.send(&pubs(&["derek.sub"], "hello")).await?;
    let d = delivered(derek).await?;
    let own = (i, d);
    ctx.observe(&format!("{config}: own account"), format!("{own:?}"));
    check_eq!(
        own,
        (
            vec!["ivan.sub 5 hello".to_string()],
            vec!["derek.sub 1 hello".to_string()]
        )
    );
    Ok(())
}

/// Reloads with `conf` and returns what ivan was told meanwhile (derek's
/// connection has seen the reload too, when this returns).
async fn reload_told(
    s: &Server,
    ivan: &mut RawClient,
    derek: &mut RawClient,
    conf: &str,
) -> Result<Vec<Op>> {
    reload(s, conf).await?;
    let ops = ivan.ops_until_pong().await?;
    derek.flush().await?;
    Ok(ops)
}

/// Stream imports and exports changed by reloads: deliveries and the shadow
/// subscriptions in synadia follow the new imports, a subscription the new
/// permissions deny is removed with an error, and each account keeps
/// delivering to its own subscribers.
async fn reload_streams(ctx: Ctx) -> Result<()> {
    let conf = streams_conf("\"foo.*\"", "\"xxx\"", "\"foo.*\"", "\"ivan\"");
    let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
    let mut derek = login(&ctx, &s, "derek", "foo").await?;
    let n = clients(&ctx, &s).await?;
    ctx.observe("clients", n.to_string());
    check_eq!(n, 1);
    let mut ivan = login(&ctx, &s, "ivan", "bar").await?;
    let n = clients(&ctx, &s).await?;
    ctx.observe("clients", n.to_string());
    check_eq!(n, 2);
    send(
        &mut ivan,
        "SUB foo.bar 1\r\nSUB foo.baz 2\r\nSUB foo.bat 3\r\nSUB ivan.private.natsio.* 4\r\n",
    )
    .await?;

    // foo.* imported, private.natsio.* with the prefix ivan.
    check_imports(
        &ctx,
        &s,
        &mut ivan,
        &mut derek,
        "first config",
        &[
            "foo.bar 1 hello",
            "foo.baz 2 hello",
            "foo.bat 3 hello",
            "ivan.private.natsio.foo 4 hello",
        ],
        &[
            "foo.bar 1",
            "foo.baz 1",
            "foo.bat 1",
            "private.natsio.foo 1",
        ],
    )
    .await?;
    send(&mut ivan, "SUB ivan.sub 5\r\n").await?;
    send(&mut derek, "SUB derek.sub 1\r\n").await?;
    check_own_accounts(&ctx, &mut ivan, &mut derek, "first config").await?;

    // foo.baz imported, foo.bat denied to ivan, the prefix is now yyyy.
    let conf = streams_conf("\"foo.*\"", "\"foo.bat\"", "\"foo.baz\"", "\"yyyy\"");
    let ops = reload_told(&s, &mut ivan, &mut derek, &conf).await?;
    ctx.observe("second config: ivan told", format!("{ops:?}"));
    check_eq!(
        ops,
        vec![Op::Err(
            "Permissions Violation for Subscription to \"foo.bat\" (sid \"3\")".to_string()
        )]
    );
    check_imports(
        &ctx,
        &s,
        &mut ivan,
        &mut derek,
        "second config",
        &["foo.baz 2 hello"],
        &[
            "foo.bar 0",
            "foo.baz 1",
            "foo.bat 0",
            "private.natsio.foo 0",
        ],
    )
    .await?;
    check_own_accounts(&ctx, &mut ivan, &mut derek, "second config").await?;

    // foo.* no longer exported (xxx is), the prefix is ivan again.
    let conf = streams_conf("\"xxx\"", "\"foo.bat\"", "\"xxx\"", "\"ivan\"");
    let ops = reload_told(&s, &mut ivan, &mut derek, &conf).await?;
    ctx.observe("third config: ivan told", format!("{ops:?}"));
    check_eq!(ops, Vec::<Op>::new());
    check_imports(
        &ctx,
        &s,
        &mut ivan,
        &mut derek,
        "third config",
        &["ivan.private.natsio.foo 4 hello"],
        &[
            "foo.bar 0",
            "foo.baz 0",
            "foo.bat 0",
            "private.natsio.foo 1",
        ],
    )
    .await?;
    check_own_accounts(&ctx, &mut ivan, &mut derek, "third config").await
}

/// E1 exports `bar`, E2 exports `bar` and `baz`; account I imports as each
/// phase says.
fn compare_conf(imports: &str) -> String {
    format!(
        "accounts {{\n  E1 {{ users = [{{user: e1, password: p}}], exports = [{{stream: bar}}] }}\n  E2 {{ users = [{{user: e2, password: p}}], exports = [{{stream: bar}}, {{stream: baz}}] }}\n  I {{ users = [{{user: i, password: p}}], imports = [{imports}] }}\n}}\n"
    )
}

/// Go compares an account's stream imports before and after a reload
/// (exporting account's name, subject, local subject) and only then
/// recomputes the shadow subscriptions of its clients. From outside: a
/// subscriber made once, before every reload, gets what the new imports
/// say after each one — the exporting account changed, the prefix changed,
/// the subject changed, one import added — and the same imports in another
/// order change nothing.
async fn reload_compare(ctx: Ctx) -> Result<()> {
    let phases = [
        ("from E1, prefix p", "{stream: {account: E1, subject: bar}, prefix: p}"),
        ("from E2", "{stream: {account: E2, subject: bar}, prefix: p}"),
        ("prefix q", "{stream: {account: E2, subject: bar}, prefix: q}"),
        ("subject baz", "{stream: {account: E2, subject: baz}, prefix: p}"),
        (
            "two imports",
            "{stream: {account: E2, subject: baz}, prefix: p}, {stream: {account: E1, subject: bar}, prefix: p}",
        ),
        (
            "same two, reordered",
            "{stream: {account: E1, subject: bar}, prefix: p}, {stream: {account: E2, subject: baz}, prefix: p}",
        ),
    ];
    let s = ctx
        .server(ServerSpec::new().conf(&compare_conf(phases[0].1)))
        .await?;
    let mut i = login(&ctx, &s, "i", "p").await?;
    send(&mut i, "SUB p.bar 1\r\nSUB q.bar 2\r\nSUB p.baz 3\r\n").await?;
    let mut e1 = login(&ctx, &s, "e1", "p").await?;
    let mut e2 = login(&ctx, &s, "e2", "p").await?;
    let mut seen = Vec::new();
    for (n, (name, imports)) in phases.iter().enumerate() {
        if n > 0 {
            reload(&s, &compare_conf(imports)).await?;
            e1.flush().await?;
            e2.flush().await?;
        }
        publish(&mut e1, &["bar"], "e1").await?;
        publish(&mut e2, &["bar", "baz"], "e2").await?;
        let got = delivered(&mut i).await?;
        ctx.observe(name, got.join("|"));
        seen.push(got.join("|"));
    }
    check_eq!(
        seen,
        vec![
            "p.bar 1 e1",
            "p.bar 1 e2",
            "q.bar 2 e2",
            "p.baz 3 e2",
            "p.bar 1 e1|p.baz 3 e2",
            "p.bar 1 e1|p.baz 3 e2",
        ]
    );
    Ok(())
}
