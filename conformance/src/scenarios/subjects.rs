//! Scenarios from server/sublist_test.go: subject matching as a client sees it
//! through SUB, UNSUB and PUB (literals, `*`, `>`, queue groups, invalid
//! subjects, removal), each run against a server with the subscription match
//! cache on and one with `no_sublist_cache: true`, the black-box twins of the
//! Go tests' `NewSublistWithCache` and `NewSublistNoCache` variants.

use crate::check_eq;
use crate::kit::{global_subs, quiet, Ctx, Op, RawClient, Server, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{bail, ensure, Context, Result};
use futures::FutureExt;
use std::collections::{BTreeMap, BTreeSet};

const MONITOR: &str = "http_port: {{http_port}}\n";

/// Runs `$f(&ctx, &server, label)` on a server with the match cache and on
/// one without it.
macro_rules! both_caches {
    ($ctx:expr, $f:ident) => {{
        for (label, conf) in [("cache", ""), ("nocache", "no_sublist_cache: true\n")] {
            let s = $ctx
                .server(ServerSpec::new().conf(&format!("{conf}{MONITOR}")))
                .await?;
            $f(&$ctx, &s, label)
                .await
                .with_context(|| format!("with {label}"))?;
        }
        Ok(())
    }};
}

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("subjects/literal-match", |c| literal_match(c).boxed())
            .needs(Need::Monitoring)
            .full("TestSublistSimple")
            .full("TestSublistSimpleNoCache")
            .full("TestSublistSimpleMultiTokens")
            .full("TestSublistSimpleMultiTokensNoCache")
            .full("TestSublistInsertCount")
            .full("TestSublistInsertCountNoCache"),
        Scenario::new("subjects/partial-wildcard", |c| partial_wildcard(c).boxed())
            .needs(Need::Monitoring)
            .full("TestSublistPartialWildcard")
            .full("TestSublistPartialWildcardNoCache")
            .full("TestSublistPartialWildcardAtEnd")
            .full("TestSublistPartialWildcardAtEndNoCache"),
        Scenario::new("subjects/full-wildcard", |c| full_wildcard(c).boxed())
            .needs(Need::Monitoring)
            .full("TestSublistFullWildcard")
            .full("TestSublistFullWildcardNoCache"),
        Scenario::new("subjects/remove", |c| remove(c).boxed())
            .needs(Need::Monitoring)
            .full("TestSublistRemove")
            .full("TestSublistRemoveNoCache")
            .full("TestSublistRemoveWildcard")
            .full("TestSublistRemoveWildcardNoCache")
            .partial("TestSublistCache"),
        Scenario::new("subjects/remove-with-large-subs", |c| {
            remove_large(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestSublistRemoveWithLargeSubs")
        .full("TestSublistRemoveWithLargeSubsNoCache"),
        Scenario::new("subjects/invalid-sub-subjects", |c| {
            invalid_sub_subjects(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestSublistInvalidSubjectsInsert")
        .full("TestSublistInvalidSubjectsInsertNoCache")
        .full("TestSublistValidSubjects")
        .partial("TestSublistBadSubjectOnRemove")
        .partial("TestSublistBadSubjectOnRemoveNoCache"),
        Scenario::new("subjects/pedantic-publish-literals", |c| {
            pedantic_publish(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestSublistValidLiteralSubjects")
        .partial("TestSubjectIsLiteral"),
        Scenario::new("subjects/match-literals", |c| match_literals(c).boxed())
            .needs(Need::Monitoring)
            .full("TestSublistMatchLiterals"),
        Scenario::new("subjects/queue-results", |c| queue_results(c).boxed())
            .needs(Need::Monitoring)
            .full("TestSublistBasicQueueResults")
            .full("TestSublistBasicQueueResultsNoCache"),
        Scenario::new("subjects/two-token-pub-single-token-sub", |c| {
            two_token(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestTwoTokenPubMatchSingleTokenSub")
        .full("TestSublistTwoTokenPubMatchSingleTokenSub")
        .full("TestSublistTwoTokenPubMatchSingleTokenSubNoCache"),
        Scenario::new("subjects/wildcards-as-literals", |c| {
            wildcards_as_literals(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestSublistInsertWithWildcardsAsLiterals")
        .full("TestSublistInsertWithWildcardsAsLiteralsNoCache")
        .full("TestSublistRemoveWithWildcardsAsLiterals")
        .full("TestSublistRemoveWithWildcardsAsLiteralsNoCache"),
        Scenario::new("subjects/match-with-empty-tokens", |c| {
            empty_tokens(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestSublistMatchWithEmptyTokens"),
        Scenario::new("subjects/cache-follows-changes", |c| {
            cache_follows_changes(c).boxed()
        })
        .needs(Need::Monitoring)
        .partial("TestSublistCache"),
        Scenario::new("subjects/no-cache-stats", |c| no_cache_stats(c).boxed())
            .needs(Need::Monitoring)
            .full("TestSublistNoCacheStats")
            .full("TestSublistNoCacheRemoveBatch"),
        Scenario::new("subjects/concurrent-sub-unsub-while-publishing", |c| {
            concurrent(c).boxed()
        })
        .needs(Need::Monitoring)
        .partial("TestSublistRaceOnRemove")
        .partial("TestSublistRaceOnRemoveNoCache")
        .partial("TestSublistRaceOnInsert")
        .partial("TestSublistRaceOnInsertNoCache")
        .partial("TestSublistRaceOnMatch"),
    ]
}

// ---------------------------------------------------------------- helpers

fn show(op: &Op) -> String {
    match op {
        Op::Msg(m) => format!("MSG {} {}", m.subject, m.sid),
        Op::Ok => "+OK".into(),
        Op::Err(e) => format!("-ERR {e}"),
        Op::Info(_) => "INFO".into(),
        Op::Ping => "PING".into(),
        Op::Pong => "PONG".into(),
    }
}

fn show_all(ops: &[Op]) -> String {
    ops.iter().map(show).collect::<Vec<_>>().join(" | ")
}

/// Publishes one message and returns the sids it was delivered to, sorted
/// numerically, as one string ("1,2" or "-").
async fn sids_for(c: &mut RawClient, subject: &str) -> Result<String> {
    c.send(&format!("PUB {subject} 1\r\nx\r\n")).await?;
    let msgs = c.msgs_until_pong().await?;
    for m in &msgs {
        check_eq!(m.subject, subject);
    }
    let mut sids: Vec<u64> = msgs
        .iter()
        .map(|m| m.sid.parse().context("numeric sid"))
        .collect::<Result<_>>()?;
    sids.sort_unstable();
    if sids.is_empty() {
        return Ok("-".into());
    }
    Ok(sids
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(","))
}

/// Publishes on `subject` and checks (and records) who got it.
async fn expect_sids(
    ctx: &Ctx,
    c: &mut RawClient,
    label: &str,
    subject: &str,
    want: &str,
) -> Result<()> {
    let got = sids_for(c, subject).await?;
    if got != want {
        bail!("{label}: PUB {subject} reached sids {got}, want {want}");
    }
    ctx.observe(&format!("{label} {subject}"), got);
    Ok(())
}

// ---------------------------------------------------------------- matching

async fn literal_match(ctx: Ctx) -> Result<()> {
    both_caches!(ctx, literal_match_on)
}

async fn literal_match_on(ctx: &Ctx, s: &Server, label: &str) -> Result<()> {
    let base = global_subs(ctx, s).await?;
    let mut c = quiet(ctx, s).await?;
    c.send("SUB foo 1\r\nSUB bar 2\r\nSUB foo.bar 3\r\n")
        .await?;
    c.flush().await?;
    let count = global_subs(ctx, s).await? - base;
    check_eq!(count, 3);
    ctx.observe(&format!("{label} count"), count.to_string());
    expect_sids(ctx, &mut c, label, "foo", "1").await?;
    expect_sids(ctx, &mut c, label, "foo.bar", "3").await?;
    c.send("SUB foo.bar.baz 4\r\n").await?;
    expect_sids(ctx, &mut c, label, "foo.bar.baz", "4").await?;
    expect_sids(ctx, &mut c, label, "foo.bar.ba", "-").await?;
    expect_sids(ctx, &mut c, label, "baz", "-").await?;
    Ok(())
}

async fn partial_wildcard(ctx: Ctx) -> Result<()> {
    both_caches!(ctx, partial_wildcard_on)
}

async fn partial_wildcard_on(ctx: &Ctx, s: &Server, label: &str) -> Result<()> {
    let mut c = quiet(ctx, s).await?;
    c.send("SUB a.b.c 1\r\nSUB a.*.c 2\r\nSUB a.b.* 3\r\n")
        .await?;
    expect_sids(ctx, &mut c, label, "a.b.c", "1,2,3").await?;
    expect_sids(ctx, &mut c, label, "a.x.c", "2").await?;
    expect_sids(ctx, &mut c, label, "a.b.x", "3").await?;
    expect_sids(ctx, &mut c, label, "a.b", "-").await?;
    expect_sids(ctx, &mut c, label, "a.b.c.d", "-").await?;
    Ok(())
}

async fn full_wildcard(ctx: Ctx) -> Result<()> {
    both_caches!(ctx, full_wildcard_on)
}

async fn full_wildcard_on(ctx: &Ctx, s: &Server, label: &str) -> Result<()> {
    let mut c = quiet(ctx, s).await?;
    c.send("SUB a.b.c 1\r\nSUB a.> 2\r\n").await?;
    expect_sids(ctx, &mut c, label, "a.b.c", "1,2").await?;
    // Without pedantic checks, a publish on `a.>` matches only the `>` sub.
    expect_sids(ctx, &mut c, label, "a.>", "2").await?;
    expect_sids(ctx, &mut c, label, "a.b", "2").await?;
    expect_sids(ctx, &mut c, label, "a", "-").await?;
    Ok(())
}

async fn remove(ctx: Ctx) -> Result<()> {
    both_caches!(ctx, remove_on)
}

async fn remove_on(ctx: &Ctx, s: &Server, label: &str) -> Result<()> {
    let base = global_subs(ctx, s).await?;
    let mut c = quiet(ctx, s).await?;
    c.send("SUB a.b.c.d 1\r\n").await?;
    expect_sids(ctx, &mut c, label, "a.b.c.d", "1").await?;
    check_count(ctx, s, base, 1).await?;
    // Removing something else leaves it in place.
    c.send("UNSUB 99\r\n").await?;
    expect_sids(ctx, &mut c, label, "a.b.c.d", "1").await?;
    check_count(ctx, s, base, 1).await?;
    c.send("UNSUB 1\r\n").await?;
    expect_sids(ctx, &mut c, &format!("{label} removed"), "a.b.c.d", "-").await?;
    check_count(ctx, s, base, 0).await?;
    // With wildcards.
    c.send("SUB a.b.c.d 2\r\nSUB a.b.*.d 3\r\nSUB a.b.> 4\r\n")
        .await?;
    expect_sids(ctx, &mut c, &format!("{label} w3"), "a.b.c.d", "2,3,4").await?;
    check_count(ctx, s, base, 3).await?;
    c.send("UNSUB 2\r\n").await?;
    expect_sids(ctx, &mut c, &format!("{label} w2"), "a.b.c.d", "3,4").await?;
    check_count(ctx, s, base, 2).await?;
    c.send("UNSUB 4\r\n").await?;
    expect_sids(ctx, &mut c, &format!("{label} w1"), "a.b.c.d", "3").await?;
    check_count(ctx, s, base, 1).await?;
    c.send("UNSUB 3\r\n").await?;
    expect_sids(ctx, &mut c, &format!("{label} w0"), "a.b.c.d", "-").await?;
    check_count(ctx, s, base, 0).await?;
    Ok(())
}

/// Checks the global account holds `base + want` subscriptions.
async fn check_count(ctx: &Ctx, s: &Server, base: i64, want: i64) -> Result<()> {
    let got = global_subs(ctx, s).await? - base;
    check_eq!(got, want);
    Ok(())
}

async fn remove_large(ctx: Ctx) -> Result<()> {
    both_caches!(ctx, remove_large_on)
}

async fn remove_large_on(ctx: &Ctx, s: &Server, label: &str) -> Result<()> {
    let n = 512;
    let mut c = quiet(ctx, s).await?;
    let subs: String = (1..=n).map(|i| format!("SUB foo {i}\r\n")).collect();
    c.send(&subs).await?;
    c.send("PUB foo 1\r\nx\r\n").await?;
    check_eq!(c.msgs_until_pong().await?.len(), n);
    // One in the middle, the first and the last.
    c.send(&format!("UNSUB {}\r\nUNSUB 1\r\nUNSUB {n}\r\n", n / 2 + 1))
        .await?;
    c.send("PUB foo 1\r\nx\r\n").await?;
    let msgs = c.msgs_until_pong().await?;
    check_eq!(msgs.len(), n - 3);
    let sids: BTreeSet<String> = msgs.into_iter().map(|m| m.sid).collect();
    check_eq!(sids.len(), n - 3);
    for gone in ["1".to_string(), (n / 2 + 1).to_string(), n.to_string()] {
        ensure!(
            !sids.contains(&gone),
            "removed sid {gone} still got a message"
        );
    }
    ctx.observe(&format!("{label} delivered"), (n - 3).to_string());
    Ok(())
}

// ---------------------------------------------------------------- validity

async fn invalid_sub_subjects(ctx: Ctx) -> Result<()> {
    both_caches!(ctx, invalid_sub_subjects_on)
}

async fn invalid_sub_subjects_on(ctx: &Ctx, s: &Server, label: &str) -> Result<()> {
    let invalid = [
        ".foo",
        "foo.",
        "foo..bar",
        "foo.bar..baz",
        "foo.>.bar",
        ".",
        ">.bar",
        "a.b..d",
        "a.>.b",
    ];
    let valid = [
        "foo",
        "foo.bar.*",
        "foo.bar.>",
        "*",
        ">",
        "foo*",
        "foo**",
        "foo.**",
        "foo*bar",
        "foo.*bar",
        "foo*.bar",
        "*bar",
        "foo>",
        "foo.>>",
        "foo>bar",
        "foo.>bar",
        "foo>.bar",
        ">bar",
    ];
    let base = global_subs(ctx, s).await?;
    let (mut c, _) = ctx.raw(s).await?;
    c.send("CONNECT {\"verbose\":true,\"pedantic\":false}\r\n")
        .await?;
    c.expect_ok().await?;
    let mut sid = 0;
    for subject in invalid {
        sid += 1;
        c.send(&format!("SUB {subject} {sid}\r\n")).await?;
        let seen = show_all(&c.ops_until_pong().await?);
        check_eq!(seen, "-ERR Invalid Subject");
        ctx.observe(&format!("{label} SUB {subject}"), seen);
        // Removing what was never added does no harm.
        c.send(&format!("UNSUB {sid}\r\n")).await?;
        let seen = show_all(&c.ops_until_pong().await?);
        ctx.observe(&format!("{label} UNSUB {subject}"), seen);
    }
    for subject in valid {
        sid += 1;
        c.send(&format!("SUB {subject} {sid}\r\n")).await?;
        let seen = show_all(&c.ops_until_pong().await?);
        check_eq!(seen, "+OK");
        ctx.observe(&format!("{label} SUB {subject}"), seen);
    }
    let count = global_subs(ctx, s).await? - base;
    check_eq!(count, valid.len() as i64);
    // The connection is still usable.
    c.send("PUB foo 1\r\nx\r\n").await?;
    let ops = c.ops_until_pong().await?;
    ensure!(
        ops.iter().any(|op| matches!(op, Op::Msg(_))),
        "no delivery after invalid SUBs: {}",
        show_all(&ops)
    );
    Ok(())
}

async fn pedantic_publish(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(MONITOR)).await?;
    let invalid = [
        ".foo",
        "foo.",
        "foo..bar",
        "foo.bar.*",
        "foo.bar.>",
        "*",
        ">",
        "foo.*",
        "foo.>",
        "foo.*.>",
        "foo.*.bar",
    ];
    let valid = [
        "foo", "foo.bar", "foo*", "foo**", "foo.**", "foo*bar", "foo.*bar", "foo*.bar", "*bar",
        "foo>", "foo>>", "foo.>>", "foo>bar", "foo.>bar", "foo>.bar", ">bar",
    ];
    let mut c = ctx
        .raw_connected(&s, r#"{"verbose":false,"pedantic":true}"#)
        .await?;
    for subject in invalid {
        c.send(&format!("PUB {subject} 1\r\nx\r\n")).await?;
        let seen = show_all(&c.ops_until_pong().await?);
        check_eq!(seen, "-ERR Invalid Publish Subject");
        ctx.observe(&format!("PUB {subject}"), seen);
    }
    for subject in valid {
        c.send(&format!("PUB {subject} 1\r\nx\r\n")).await?;
        let seen = show_all(&c.ops_until_pong().await?);
        check_eq!(seen, "");
        ctx.observe(&format!("PUB {subject}"), seen);
    }
    Ok(())
}

async fn match_literals(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(MONITOR)).await?;
    let cases = [
        ("foo", "foo", true),
        ("foo", "bar", false),
        ("foo", "*", true),
        ("foo", ">", true),
        ("foo.bar", ">", true),
        ("foo.bar", "foo.>", true),
        ("foo.bar", "bar.>", false),
        ("stats.test.22", "stats.>", true),
        ("stats.test.22", "stats.*.*", true),
        ("foo.bar", "foo", false),
        ("stats.test.foos", "stats.test.foos", true),
        ("stats.test.foos", "stats.test.foo", false),
        ("stats.test", "stats.test.*", false),
        ("stats.test.foos", "stats.*", false),
        ("stats.test.foos", "stats.*.*.foos", false),
        ("*bar", "*bar", true),
        ("foo*", "foo*", true),
        ("foo*bar", "foo*bar", true),
        ("foo.***.bar", "foo.***.bar", true),
        (">bar", ">bar", true),
        ("foo>", "foo>", true),
        ("foo>bar", "foo>bar", true),
        ("foo.>>>.bar", "foo.>>>.bar", true),
    ];
    let mut c = quiet(&ctx, &s).await?;
    for (i, (literal, pattern, want)) in cases.iter().enumerate() {
        let sid = i + 1;
        c.send(&format!("SUB {pattern} {sid}\r\n")).await?;
        let got = sids_for(&mut c, literal).await?;
        let matched = got == sid.to_string();
        ensure!(
            matched == *want,
            "PUB {literal} against SUB {pattern}: delivered to {got}, want match={want}"
        );
        ctx.observe(&format!("{literal} ~ {pattern}"), matched.to_string());
        c.send(&format!("UNSUB {sid}\r\n")).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- queues

async fn queue_results(ctx: Ctx) -> Result<()> {
    both_caches!(ctx, queue_results_on)
}

/// Publishes `n` messages on foo and counts deliveries per group (by sid);
/// fails unless every member of a group received at least one of them.
async fn group_counts(
    pubc: &mut RawClient,
    subc: &mut RawClient,
    groups: &[Group],
) -> Result<String> {
    let n = 20;
    pubc.send(&"PUB foo 1\r\nx\r\n".repeat(n)).await?;
    pubc.flush().await?;
    let msgs = subc.msgs_until_pong().await?;
    let mut per_group: BTreeMap<&str, usize> = BTreeMap::new();
    let mut per_sid: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &msgs {
        let (group, sid) = groups
            .iter()
            .find_map(|(g, sids)| sids.iter().find(|s| **s == m.sid).map(|s| (*g, *s)))
            .with_context(|| format!("delivery to unexpected sid {}", m.sid))?;
        *per_group.entry(group).or_default() += 1;
        *per_sid.entry(sid).or_default() += 1;
    }
    for (g, sids) in groups {
        for sid in *sids {
            ensure!(
                per_sid.contains_key(sid),
                "sid {sid} of group {g} received none of the {n} messages"
            );
        }
    }
    Ok(per_group
        .iter()
        .map(|(g, k)| format!("{g}={k}"))
        .collect::<Vec<_>>()
        .join(" "))
}

/// The subscriptions matching foo, from /subsz: "group:sid" (group `plain`
/// for a subscription without queue group), sorted.
async fn foo_members(ctx: &Ctx, s: &Server) -> Result<Vec<String>> {
    let v = ctx.http_json(s, "/subsz?subs=1&acc=$G&test=foo").await?;
    let mut out: Vec<String> = v["subscriptions_list"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|d| {
            format!(
                "{}:{}",
                d["qgroup"].as_str().unwrap_or("plain"),
                d["sid"].as_str().unwrap_or("?")
            )
        })
        .collect();
    out.sort();
    Ok(out)
}

/// (protocol to send, the groups and their sids, expected counts)
type QueueStep = (&'static str, &'static [Group], &'static str);
type Group = (&'static str, &'static [&'static str]);

async fn queue_results_on(ctx: &Ctx, s: &Server, label: &str) -> Result<()> {
    let mut subc = quiet(ctx, s).await?;
    let mut pubc = quiet(ctx, s).await?;
    // sid 1: queue bar, 2: queue baz, 10: plain, 3: queue bar, 4: queue baz.
    let steps: &[QueueStep] = &[
        ("SUB foo bar 1\r\n", &[("bar", &["1"])], "bar=20"),
        (
            "SUB foo baz 2\r\n",
            &[("bar", &["1"]), ("baz", &["2"])],
            "bar=20 baz=20",
        ),
        (
            "SUB foo 10\r\n",
            &[("bar", &["1"]), ("baz", &["2"]), ("plain", &["10"])],
            "bar=20 baz=20 plain=20",
        ),
        (
            "SUB foo bar 3\r\nSUB foo baz 4\r\n",
            &[
                ("bar", &["1", "3"]),
                ("baz", &["2", "4"]),
                ("plain", &["10"]),
            ],
            "bar=20 baz=20 plain=20",
        ),
        (
            "UNSUB 10\r\n",
            &[("bar", &["1", "3"]), ("baz", &["2", "4"])],
            "bar=20 baz=20",
        ),
        (
            "UNSUB 1\r\n",
            &[("bar", &["3"]), ("baz", &["2", "4"])],
            "bar=20 baz=20",
        ),
        ("UNSUB 3\r\n", &[("baz", &["2", "4"])], "baz=20"),
        ("UNSUB 2\r\nUNSUB 4\r\n", &[], ""),
    ];
    for (i, (proto, groups, want)) in steps.iter().enumerate() {
        subc.send(proto).await?;
        subc.flush().await?;
        // Who matches foo: each group with its members, and the plain subscription.
        let members = foo_members(ctx, s).await?;
        let mut want_members: Vec<String> = groups
            .iter()
            .flat_map(|(g, sids)| sids.iter().map(move |sid| format!("{g}:{sid}")))
            .collect();
        want_members.sort();
        if members != want_members {
            bail!("step {i} ({proto:?}): /subsz lists {members:?}, want {want_members:?}");
        }
        ctx.observe(&format!("{label} step{i} members"), members.join(" "));
        let got = group_counts(&mut pubc, &mut subc, groups).await?;
        if got != *want {
            bail!("step {i} ({proto:?}): got {got:?}, want {want:?}");
        }
        ctx.observe(&format!("{label} step{i}"), got);
    }
    Ok(())
}

async fn two_token(ctx: Ctx) -> Result<()> {
    both_caches!(ctx, two_token_on)
}

async fn two_token_on(ctx: &Ctx, s: &Server, label: &str) -> Result<()> {
    let mut c = quiet(ctx, s).await?;
    // The Go client test's exact sequence: a publish before and after the SUB.
    c.send("PUB foo.bar 5\r\nhello\r\nSUB foo 1\r\nPING\r\nPUB foo.bar 5\r\nhello\r\nPING\r\n")
        .await?;
    c.expect(r"PONG\r\nPONG\r\n").await?;
    expect_sids(ctx, &mut c, label, "foo", "1").await?;
    expect_sids(ctx, &mut c, label, "foo.bar", "-").await?;
    Ok(())
}

async fn wildcards_as_literals(ctx: Ctx) -> Result<()> {
    both_caches!(ctx, wildcards_as_literals_on)
}

async fn wildcards_as_literals_on(ctx: &Ctx, s: &Server, label: &str) -> Result<()> {
    let base = global_subs(ctx, s).await?;
    let mut c = quiet(ctx, s).await?;
    for (sid, subject) in [(1, "foo.*-"), (2, "foo.>-")] {
        c.send(&format!("SUB {subject} {sid}\r\n")).await?;
        expect_sids(ctx, &mut c, label, "foo.bar", "-").await?;
        expect_sids(ctx, &mut c, label, subject, &sid.to_string()).await?;
        c.send("UNSUB 99\r\n").await?;
        c.flush().await?;
        check_eq!(global_subs(ctx, s).await? - base, 1);
        c.send(&format!("UNSUB {sid}\r\n")).await?;
        c.flush().await?;
        check_eq!(global_subs(ctx, s).await? - base, 0);
        expect_sids(ctx, &mut c, &format!("{label} removed"), subject, "-").await?;
    }
    Ok(())
}

async fn empty_tokens(ctx: Ctx) -> Result<()> {
    both_caches!(ctx, empty_tokens_on)
}

async fn empty_tokens_on(ctx: &Ctx, s: &Server, label: &str) -> Result<()> {
    let mut c = quiet(ctx, s).await?;
    c.send("SUB > 1\r\nSUB > queue 2\r\n").await?;
    expect_sids(ctx, &mut c, label, "foo", "1,2").await?;
    for subject in [".foo", "..foo", "foo..", "foo.", "foo..bar", "foo...bar"] {
        expect_sids(ctx, &mut c, label, subject, "-").await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- cache

async fn cache_follows_changes(ctx: Ctx) -> Result<()> {
    both_caches!(ctx, cache_follows_changes_on)
}

async fn cache_follows_changes_on(ctx: &Ctx, s: &Server, label: &str) -> Result<()> {
    let mut subc = quiet(ctx, s).await?;
    let mut pubc = quiet(ctx, s).await?;
    // A match is cached, then a wildcard added: later matches include it.
    subc.send("SUB foo.* 1\r\nSUB foo.bar 2\r\n").await?;
    subc.flush().await?;
    for (subject, want) in [("foo.baz", "1"), ("foo.bar", "1,2")] {
        pubc.send(&format!("PUB {subject} 1\r\nx\r\n")).await?;
        pubc.flush().await?;
        let got = sids_of(&mut subc).await?;
        check_eq!(got, want);
        ctx.observe(&format!("{label} {subject}"), got);
    }
    subc.send("SUB foo.> 3\r\n").await?;
    subc.flush().await?;
    pubc.send("PUB foo.bar 1\r\nx\r\n").await?;
    pubc.flush().await?;
    let got = sids_of(&mut subc).await?;
    check_eq!(got, "1,2,3");
    ctx.observe(&format!("{label} after foo.>"), got);
    // Many distinct subjects (more than the cache holds), then the same
    // matches are still right.
    let many: String = (0..1100)
        .map(|i| format!("PUB foo-{i} 1\r\nx\r\n"))
        .collect();
    pubc.send(&many).await?;
    pubc.send("PUB foo.bar 1\r\nx\r\nPUB foo.baz 1\r\nx\r\n")
        .await?;
    pubc.flush().await?;
    let msgs = subc.msgs_until_pong().await?;
    let seen: Vec<String> = msgs
        .iter()
        .map(|m| format!("{}:{}", m.subject, m.sid))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    check_eq!(
        seen.join(" "),
        "foo.bar:1 foo.bar:2 foo.bar:3 foo.baz:1 foo.baz:3"
    );
    ctx.observe(&format!("{label} after churn"), seen.join(" "));
    // Removing them empties the match.
    subc.send("UNSUB 1\r\nUNSUB 2\r\nUNSUB 3\r\n").await?;
    subc.flush().await?;
    pubc.send("PUB foo.bar 1\r\nx\r\n").await?;
    pubc.flush().await?;
    check_eq!(sids_of(&mut subc).await?, "-");
    Ok(())
}

/// Sids of the messages waiting on `c`, sorted, "-" when none.
async fn sids_of(c: &mut RawClient) -> Result<String> {
    let mut sids: Vec<u64> = c
        .msgs_until_pong()
        .await?
        .iter()
        .map(|m| m.sid.parse().context("numeric sid"))
        .collect::<Result<_>>()?;
    sids.sort_unstable();
    if sids.is_empty() {
        return Ok("-".into());
    }
    Ok(sids
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(","))
}

async fn no_cache_stats(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(&format!("no_sublist_cache: true\n{MONITOR}")))
        .await?;
    let mut c = quiet(&ctx, &s).await?;
    c.send("SUB foo 1\r\nSUB bar 2\r\nSUB baz 3\r\nSUB foo.bar.baz 4\r\n")
        .await?;
    expect_sids(&ctx, &mut c, "nocache", "a.b.c", "-").await?;
    expect_sids(&ctx, &mut c, "nocache", "bar", "2").await?;
    let stats = ctx.http_json(&s, "/subsz?acc=$G").await?;
    check_eq!(stats["num_cache"].as_i64(), Some(0));
    ctx.observe("num_cache", stats["num_cache"].to_string());
    // Subscriptions removed together (a connection closing), then matches:
    // still no cache.
    let mut other = quiet(&ctx, &s).await?;
    other.send("SUB foo 1\r\nSUB bar 2\r\n").await?;
    other.flush().await?;
    drop(other);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    while ctx.http_json(&s, "/connz").await?["num_connections"].as_i64() != Some(1) {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "closed connection still listed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for _ in 0..10 {
        expect_sids(&ctx, &mut c, "after-batch", "foo", "1").await?;
    }
    let stats = ctx.http_json(&s, "/subsz?acc=$G").await?;
    check_eq!(stats["num_cache"].as_i64(), Some(0));
    ctx.observe("num_cache after removal", stats["num_cache"].to_string());
    Ok(())
}

// ---------------------------------------------------------------- concurrency

async fn concurrent(ctx: Ctx) -> Result<()> {
    both_caches!(ctx, concurrent_on)
}

async fn concurrent_on(ctx: &Ctx, s: &Server, label: &str) -> Result<()> {
    let total = 100;
    for queue in ["bar ", ""] {
        let mut subc = quiet(ctx, s).await?;
        let mut pubc = quiet(ctx, s).await?;
        let subs: String = (1..=total)
            .map(|i| format!("SUB foo {queue}{i}\r\n"))
            .collect();
        let unsubs: String = (1..=total).map(|i| format!("UNSUB {i}\r\n")).collect();
        let burst = "PUB foo 1\r\nx\r\n".repeat(200);
        // Insert while messages flow, then remove while messages flow.
        pubc.send(&burst).await?;
        subc.send(&subs).await?;
        pubc.send(&burst).await?;
        subc.send(&unsubs).await?;
        pubc.send(&burst).await?;
        pubc.flush().await?;
        let msgs = subc.msgs_until_pong().await?;
        for m in &msgs {
            check_eq!(m.subject, "foo");
            let sid: usize = m.sid.parse()?;
            ensure!((1..=total).contains(&sid), "unknown sid {sid}");
        }
        if !queue.is_empty() {
            ensure!(msgs.len() <= 600, "queue group got {} of 600", msgs.len());
        }
        // Everything is gone now.
        pubc.send("PUB foo 1\r\nx\r\n").await?;
        pubc.flush().await?;
        check_eq!(subc.msgs_until_pong().await?.len(), 0);
        let kind = if queue.is_empty() { "plain" } else { "queue" };
        ctx.observe(&format!("{label} {kind} after removal"), "0");
    }
    Ok(())
}
