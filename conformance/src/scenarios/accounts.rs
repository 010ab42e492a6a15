//! Scenarios from server/accounts_test.go and test/accounts_cycles_test.go
//! about subject mappings (`mappings` / `maps`): a message published on a
//! mapped subject is delivered on its destination, literal or rebuilt from
//! the subject's wildcard tokens, picked at random by weight; mappings of
//! the global account and of configured accounts; mapping changes by a
//! config reload; and what `-t` says about bad mapping blocks.

use crate::check_eq;
use crate::kit::{self, b64url, reload, subscribe, user, Ctx, RawClient, Server, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{bail, Context, Result};
use futures::FutureExt;
use std::collections::BTreeMap;

const NO_AUTH: &str = "{\"verbose\":false}";

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("accounts/mapping-added-and-removed", |c| {
            added_and_removed(c).boxed()
        })
        .full("TestAccountBasicRouteMapping")
        .full("TestAccountRouteMappingChangesAfterClientStart"),
        Scenario::new("accounts/mapping-wildcards", |c| wildcards(c).boxed())
            .full("TestAccountWildcardRouteMapping"),
        Scenario::new("accounts/mapping-weighted-simple", |c| {
            weighted_simple(c).boxed()
        })
        .full("TestAccountSimpleWeightedRouteMapping"),
        Scenario::new("accounts/mapping-weighted-multi", |c| {
            weighted_multi(c).boxed()
        })
        .full("TestAccountMultiWeightedRouteMappings"),
        Scenario::new("accounts/mapping-global-config", |c| {
            global_config(c).boxed()
        })
        .full("TestGlobalAccountRouteMappingsConfiguration"),
        Scenario::new("accounts/mapping-account-config", |c| {
            account_config(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestAccountRouteMappingsConfiguration"),
        Scenario::new("accounts/mapping-loss-injection", |c| {
            loss_injection(c).boxed()
        })
        .full("TestAccountRouteMappingsWithLossInjection"),
        Scenario::new("accounts/mapping-cluster-filter", |c| {
            cluster_filter(c).boxed()
        })
        .full("TestAccountRouteMappingsWithOriginClusterFilter"),
        Scenario::new("accounts/mapping-partition", |c| partition(c).boxed())
            .full("TestAccountSubjectMapping"),
        Scenario::new("accounts/mapping-transforms", |c| transforms(c).boxed())
            .full("TestSubjectTransforms"),
        Scenario::new("accounts/users-bound-to-accounts", |c| {
            users_bound(c).boxed()
        })
        .full("TestAccountMapsUsers"),
        Scenario::new("accounts/mapping-config-errors", |c| {
            config_errors(c).boxed()
        })
        .partial("TestAccountMultiWeightedRouteMappings")
        .partial("TestSubjectTransforms"),
    ]
}

// ---------------------------------------------------------------- helpers

async fn conn(ctx: &Ctx, s: &Server, connect: &str) -> Result<RawClient> {
    ctx.raw_connected(s, connect).await
}

/// Publishes each subject once (empty payload) in one write.
async fn publish_all<S: AsRef<str>>(c: &mut RawClient, subjects: &[S]) -> Result<()> {
    let mut p = String::new();
    for s in subjects {
        p.push_str(&format!("PUB {} 0\r\n\r\n", s.as_ref()));
    }
    c.send(&p).await
}

/// Publishes `subject` `n` times.
async fn publish_n(c: &mut RawClient, subject: &str, n: usize) -> Result<()> {
    publish_all(c, &vec![subject; n]).await
}

/// Messages delivered until a PONG, counted by sid.
async fn counts(c: &mut RawClient) -> Result<BTreeMap<String, usize>> {
    let mut out = BTreeMap::new();
    for m in c.msgs_until_pong().await? {
        *out.entry(m.sid).or_insert(0) += 1;
    }
    Ok(out)
}

fn count_of(counts: &BTreeMap<String, usize>, sid: &str) -> usize {
    counts.get(sid).copied().unwrap_or(0)
}

/// Delivered messages as `subject sid`, in order, until a PONG.
async fn delivered(c: &mut RawClient) -> Result<Vec<String>> {
    Ok(c.msgs_until_pong()
        .await?
        .into_iter()
        .map(|m| format!("{} {}", m.subject, m.sid))
        .collect())
}

/// `n` within `pct` percent of `want`.
fn about(n: usize, want: usize, pct: usize) -> bool {
    let tp = want * pct / 100;
    n >= want - tp && n <= want + tp
}

// ---------------------------------------------------------------- scenarios

/// A mapping added (by reload) to a running server applies to a client
/// connected before it, and stops applying when removed. (Go may still use
/// the global account's previous mappings for the first read of a
/// connection after a reload, so a PING goes first.)
async fn added_and_removed(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new()).await?;
    let mut c = conn(&ctx, &s, NO_AUTH).await?;
    subscribe(&mut c, &[("foo", "1"), ("bar", "2")]).await?;
    publish_all(&mut c, &["foo"]).await?;
    let got = delivered(&mut c).await?;
    ctx.observe("before", got.join("|"));
    check_eq!(got, vec!["foo 1"]);

    reload(&s, "mappings { foo: bar }\n").await?;
    c.flush().await?;
    publish_all(&mut c, &["foo"]).await?;
    let got = delivered(&mut c).await?;
    ctx.observe("mapped", got.join("|"));
    check_eq!(got, vec!["bar 2"]);

    reload(&s, "").await?;
    c.flush().await?;
    publish_all(&mut c, &["foo"]).await?;
    let got = delivered(&mut c).await?;
    ctx.observe("removed", got.join("|"));
    check_eq!(got, vec!["foo 1"]);
    Ok(())
}

/// `foo.*.*` to `bar.$2.$1`: the mapped message is not mapped again by
/// `bar.*.>`.
async fn wildcards(ctx: Ctx) -> Result<()> {
    let conf = "mappings {\n  \"foo.*.*\": \"bar.$2.$1\"\n  \"bar.*.>\": \"baz.$1.>\"\n}\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut c = conn(&ctx, &s, NO_AUTH).await?;
    subscribe(&mut c, &[("foo.>", "1"), ("bar.>", "2"), ("baz.>", "3")]).await?;
    publish_all(&mut c, &["foo.1.2"]).await?;
    let got = delivered(&mut c).await?;
    ctx.observe("foo.1.2", got.join("|"));
    check_eq!(got, vec!["bar.2.1 2"]);
    publish_all(&mut c, &["bar.a.b.c"]).await?;
    let got = delivered(&mut c).await?;
    ctx.observe("bar.a.b.c", got.join("|"));
    check_eq!(got, vec!["baz.a.b.c 3"]);
    Ok(())
}

/// One destination at 50%: the other half keeps the original subject.
async fn weighted_simple(ctx: Ctx) -> Result<()> {
    let conf = "mappings { foo: { dest: bar, weight: 50% } }\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut c = conn(&ctx, &s, NO_AUTH).await?;
    subscribe(&mut c, &[("foo", "1"), ("bar", "2")]).await?;
    let total = 500;
    publish_n(&mut c, "foo", total).await?;
    let n = counts(&mut c).await?;
    let (f, b) = (count_of(&n, "1"), count_of(&n, "2"));
    // The Go test allows 20% around half.
    let ok = about(f, total / 2, 20) && f + b == total;
    ctx.observe("foo-about-half", ok.to_string());
    if !ok {
        bail!(
            "expected about {} on foo of {total}, got foo {f}, bar {b}",
            total / 2
        );
    }
    Ok(())
}

/// Bad weight sets are refused (-t); 50/30 leaves 20 for the original.
async fn weighted_multi(ctx: Ctx) -> Result<()> {
    let bad = [
        ("over-100", "mappings { foo: { dest: bar, weight: 150 } }\n"),
        (
            "duplicate",
            "mappings { foo: [ { dest: bar, weight: 50 }, { dest: bar, weight: 50 } ] }\n",
        ),
        (
            "total-over-100",
            "mappings { foo: [ { dest: bar, weight: 50 }, { dest: baz, weight: 60 } ] }\n",
        ),
    ];
    for (name, body) in bad {
        let (code, text) = kit::config_test_raw(&ctx, body).await?;
        ctx.observe(name, format!("exit {code:?}: {text}"));
        if code != Some(1) {
            bail!("{name}: expected the config to be refused, got exit {code:?}: {text}");
        }
    }
    for (name, body) in [
        ("single-50", "mappings { foo: { dest: bar, weight: 50 } }\n"),
        (
            "fine",
            "mappings { foo: [ { dest: bar, weight: 50 }, { dest: baz, weight: 50 } ] }\n",
        ),
    ] {
        let (code, text) = kit::config_test_raw(&ctx, body).await?;
        ctx.observe(name, format!("exit {code:?}: {text}"));
        if code != Some(0) {
            bail!("{name}: must be accepted, got exit {code:?}: {text}");
        }
    }

    let conf = "mappings { foo: [ { dest: bar, weight: 50 }, { dest: baz, weight: 30 } ] }\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut c = conn(&ctx, &s, NO_AUTH).await?;
    subscribe(&mut c, &[("foo", "1"), ("bar", "2"), ("baz", "3")]).await?;
    let total = 5000;
    publish_n(&mut c, "foo", total).await?;
    let n = counts(&mut c).await?;
    for (sid, subject, w) in [("1", "foo", 20), ("2", "bar", 50), ("3", "baz", 30)] {
        let want = total / (100 / w);
        let got = count_of(&n, sid);
        let ok = about(got, want, 20);
        ctx.observe(&format!("{subject}-about-{w}%"), ok.to_string());
        if !ok {
            bail!("expected about {want} msgs for {subject}, got {got}");
        }
    }
    Ok(())
}

const MAPPINGS: &str = "mappings = {\n\
    foo: bar\n\
    foo.*: [ { dest: bar.v1.$1, weight: 40% }, { destination: baz.v2.$1, weight: 20 } ]\n\
    bar.*.*: RAB.$2.$1\n\
}\n";

/// Publishes the Go test's messages and checks where they went.
async fn check_global_style(ctx: &Ctx, c: &mut RawClient) -> Result<()> {
    subscribe(
        c,
        &[
            ("bar", "1"),
            ("bar.v1.>", "2"),
            ("baz.v2.>", "3"),
            ("RAB.>", "4"),
            ("foo.*", "5"),
        ],
    )
    .await?;
    publish_all(c, &["foo", "bar.11.22"]).await?;
    let got = delivered(c).await?;
    ctx.observe("literal-and-swap", got.join("|"));
    check_eq!(got, vec!["bar 1", "RAB.22.11 4"]);
    let total = 500;
    publish_n(c, "foo.22", total).await?;
    let msgs = c.msgs_until_pong().await?;
    let mut n: BTreeMap<String, usize> = BTreeMap::new();
    let mut subjects: BTreeMap<String, String> = BTreeMap::new();
    for m in msgs {
        *n.entry(m.sid.clone()).or_insert(0) += 1;
        subjects.insert(m.sid, m.subject);
    }
    let (orig, v1, v2) = (count_of(&n, "5"), count_of(&n, "2"), count_of(&n, "3"));
    let seen: Vec<String> = subjects.values().cloned().collect();
    ctx.observe("weighted-subjects", seen.join("|"));
    check_eq!(seen, vec!["bar.v1.22", "baz.v2.22", "foo.22"]);
    let ok = v1 >= v2 && orig >= v2 && orig + v1 + v2 == total;
    ctx.observe("load-balanced", ok.to_string());
    if !ok {
        bail!("load balancing seems off: {orig} and {v1} and {v2}");
    }
    Ok(())
}

async fn global_config(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(MAPPINGS)).await?;
    let mut c = conn(&ctx, &s, NO_AUTH).await?;
    check_global_style(&ctx, &mut c).await
}

/// The same mappings in an account: they apply to its users, not to the
/// global account, and `/accountz` lists three.
async fn account_config(ctx: Ctx) -> Result<()> {
    let conf = format!(
        "http: 127.0.0.1:{{{{http_port}}}}\naccounts {{\n synadia {{\n  users = [{{user: derek, password: foo}}]\n  {MAPPINGS} }}\n}}\n"
    );
    let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
    let mut c = conn(&ctx, &s, &user("derek", "foo")).await?;
    check_global_style(&ctx, &mut c).await?;

    let az = ctx.http_json(&s, "/accountz?acc=synadia").await?;
    let maps = &az["account_detail"]["mappings"];
    let mut keys: Vec<String> = maps
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    ctx.observe("accountz-mappings", keys.join("|"));
    check_eq!(keys, vec!["bar.*.*", "foo", "foo.*"]);
    let dests = |k: &str| -> Vec<String> {
        let mut v: Vec<String> = maps[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|d| d["subject"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let fs = dests("foo.*");
    ctx.observe("accountz-foo.*", fs.join("|"));
    check_eq!(fs, vec!["bar.v1.$1", "baz.v2.$1", "foo.$1"]);
    Ok(())
}

/// A mapping to itself at 80% loses about a fifth; at 0% all.
async fn loss_injection(ctx: Ctx) -> Result<()> {
    let conf =
        "mappings = {\n foo: { dest: foo, weight: 80% }\n bar: { dest: bar, weight: 0% }\n}\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut c = conn(&ctx, &s, NO_AUTH).await?;
    subscribe(&mut c, &[("foo", "1")]).await?;
    let total = 1000;
    publish_n(&mut c, "foo", total).await?;
    let got = count_of(&counts(&mut c).await?, "1");
    let lossy = got < total;
    ctx.observe("foo-some-loss", lossy.to_string());
    if !lossy {
        bail!("expected some loss, all {total} arrived");
    }
    subscribe(&mut c, &[("bar", "2")]).await?;
    publish_n(&mut c, "bar", total).await?;
    let got = count_of(&counts(&mut c).await?, "2");
    ctx.observe("bar-received", got.to_string());
    check_eq!(got, 0);
    Ok(())
}

/// A destination scoped to cluster SYN: ignored on a server of no cluster,
/// used on a server whose cluster is named SYN.
async fn cluster_filter(ctx: Ctx) -> Result<()> {
    let mapping = "mappings = { foo: { dest: bar, cluster: SYN, weight: 100% } }\n";
    let total = 1000;
    for (name, conf) in [
        ("no-cluster", mapping.to_string()),
        ("cluster-SYN", format!("cluster {{ name: SYN }}\n{mapping}")),
    ] {
        let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
        let mut c = conn(&ctx, &s, NO_AUTH).await?;
        subscribe(&mut c, &[("foo", "1"), ("bar", "2")]).await?;
        publish_n(&mut c, "foo", total).await?;
        let n = counts(&mut c).await?;
        let (f, b) = (count_of(&n, "1"), count_of(&n, "2"));
        ctx.observe(name, format!("foo {f} bar {b}"));
        let want = if name == "no-cluster" {
            (total, 0)
        } else {
            (0, total)
        };
        check_eq!((f, b), want);
    }
    Ok(())
}

/// `{{wildcard(2)}}` and `{{partition(10,1,2)}}`: every subject lands in a
/// partition 0-9, the same one each time.
async fn partition(ctx: Ctx) -> Result<()> {
    let conf = "mappings = {\n \"foo.*.*\" : \"foo.$1.{{wildcard(2)}}.{{partition(10,1,2)}}\"\n}\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut sub = conn(&ctx, &s, NO_AUTH).await?;
    subscribe(&mut sub, &[("foo.*.*.*", "1")]).await?;
    let mut publ = conn(&ctx, &s, NO_AUTH).await?;
    let n = 100;
    let subjects: Vec<String> = (0..n).map(|i| format!("foo.{i}.{}", n - i)).collect();
    let mut rounds = Vec::new();
    for _ in 0..2 {
        publish_all(&mut publ, &subjects).await?;
        publ.flush().await?;
        let got: Vec<String> = sub
            .read_msgs(n)
            .await?
            .into_iter()
            .map(|m| m.subject)
            .collect();
        for (i, subject) in got.iter().enumerate() {
            let t: Vec<&str> = subject.split('.').collect();
            let p: i64 = t.get(3).and_then(|p| p.parse().ok()).unwrap_or(-1);
            if t.len() != 4
                || t[1] != i.to_string()
                || t[2] != (n - i).to_string()
                || !(0..=9).contains(&p)
            {
                bail!("unexpected subject {subject} for message {i}");
            }
        }
        rounds.push(got);
    }
    ctx.observe("partitioned", rounds[0].join("|"));
    check_eq!(rounds[0], rounds[1]);
    Ok(())
}

/// Go's transform cases, each as a mapping of its own account: the good
/// ones map a sample subject as Go says; the bad ones are refused by -t.
async fn transforms(ctx: Ctx) -> Result<()> {
    let bad = [
        ("foo.*.*", "bar.$2"),
        ("foo", ""),
        ("foo..", "bar"),
        ("foo.*", "bar.*"),
        ("foo.*", "bar.$2"),
        ("foo.*", "bar.$1.>"),
        ("foo.>", "bar.baz"),
        ("foo.*", "foo.$foo"),
        ("foo.*", "foo.{{wildcard(2)}}"),
        ("foo.*", "foo.{{unimplemented(1)}}"),
        ("foo.*", "foo.{{partition(10)}}"),
        ("foo.*", "foo.{{wildcard(foo)}}"),
        ("foo.*", "foo.{{wildcard()}}"),
        ("foo.*", "foo.{{wildcard(1,2)}}"),
        ("foo.*", "foo.{{ wildcard5) }}"),
        ("foo.*", "foo.{{splitLeft(2,2}}"),
    ];
    for (src, dest) in bad {
        let body = format!("mappings {{ \"{src}\": \"{dest}\" }}\n");
        let (code, text) = kit::config_test_raw(&ctx, &body).await?;
        ctx.observe(
            &format!("bad {src} -> {dest}"),
            format!("exit {code:?}: {text}"),
        );
        if code != Some(1) {
            bail!("{src} -> {dest}: expected an error, got exit {code:?}: {text}");
        }
    }
    let good = [
        ("foo", "bar", "foo", "bar"),
        ("foo.*.bar.*.baz", "req.$2.$1", "foo.A.bar.B.baz", "req.B.A"),
        ("baz.>", "mybaz.>", "baz.1", "mybaz.1"),
        ("baz.>", "my.pre.>", "baz.1.2.3", "my.pre.1.2.3"),
        ("baz.>", "foo.bar.>", "baz.1.2.3", "foo.bar.1.2.3"),
        ("*", "foo.bar.$1", "foo", "foo.bar.foo"),
        ("*", "{{splitfromleft(1,3)}}", "12345", "123.45"),
        ("*", "{{SplitFromRight(1,3)}}", "12345", "12.345"),
        ("*", "{{SliceFromLeft(1,3)}}", "1234567890", "123.456.789.0"),
        (
            "*",
            "{{SliceFromRight(1,3)}}",
            "1234567890",
            "1.234.567.890",
        ),
        ("*", "{{split(1,-)}}", "-abc-def--ghi-", "abc.def.ghi"),
        ("*", "{{split(1,-)}}", "abc-def--ghi-", "abc.def.ghi"),
        (
            "*.*",
            "{{split(2,-)}}.{{splitfromleft(1,2)}}",
            "foo.-abc-def--ghij-",
            "abc.def.ghij.fo.o",
        ),
        ("*", "{{splitfromleft(1,1)}}", "ab", "a.b"),
        // Beyond the Go test: corners of the same functions, as Go maps them.
        ("foo.*", "bar.$0", "foo.x", "bar.foo"),
        ("foo.*", "bar.{{ wildcard(1) }}", "foo.x", "bar.x"),
        ("foo.*", "bar.{{Wildcard( 1 )}}", "foo.x", "bar.x"),
        ("foo.*", "bar.$+1", "foo.x", "bar.x"),
        (
            "a.*.*",
            "p.$1.$2.{{partition(3,2,1)}}",
            "a.hello.world",
            "p.hello.world.0",
        ),
        (
            "a.*.*",
            "p.{{partition(7,1)}}.{{partition(7,2)}}",
            "a.hello.world",
            "p.2.0",
        ),
        ("*", "{{split(1,)}}", "abc", "a.b.c"),
        ("*", "{{split(1,ab)}}", "xxabyyabzz", "xx.yy.zz"),
        ("*", "x.{{sliceFromLeft(1,2)}}", "abcde", "x.ab.cd.e"),
        ("*", "x.{{sliceFromRight(1,2)}}", "abcde", "x.a.bc.de"),
        ("*", "x.{{splitFromLeft(1,9)}}", "abcde", "x.abcde"),
        ("*", "x.{{splitFromRight(1,0)}}", "abcde", "x.abcde"),
        ("lit", "{{wildcard(1)}}", "lit", "{{wildcard(1)}}"),
        ("a.*.>", "b.$1.>", "a.x.y.z", "b.x.y.z"),
        ("*.*", "$2.$1.$2", "p.q", "q.p.q"),
    ];
    let mut conf = String::from("accounts {\n");
    for (i, (src, dest, _, _)) in good.iter().enumerate() {
        conf.push_str(&format!(
            " A{i} {{ users = [{{user: u{i}, password: p}}], mappings {{ \"{src}\": \"{dest}\" }} }}\n"
        ));
    }
    conf.push_str("}\n");
    let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
    for (i, (src, dest, sample, want)) in good.iter().enumerate() {
        let mut c = conn(&ctx, &s, &user(&format!("u{i}"), "p")).await?;
        subscribe(&mut c, &[(">", "1")]).await?;
        publish_all(&mut c, &[sample]).await?;
        let got = delivered(&mut c).await?;
        ctx.observe(&format!("{src} -> {dest} on {sample}"), got.join("|"));
        check_eq!(got, vec![format!("{want} 1")]);
    }
    Ok(())
}

/// What -t says about malformed mapping blocks, with Go's texts and
/// positions.
async fn config_errors(ctx: Ctx) -> Result<()> {
    let cases = [
        (
            "weight-string",
            "mappings { foo: { dest: bar, weight: \"abc%\" } }\n",
        ),
        (
            "weight-float",
            "mappings { foo: { dest: bar, weight: 0.5 } }\n",
        ),
        (
            "weight-negative",
            "mappings { foo: { dest: bar, weight: -1 } }\n",
        ),
        ("missing-weight", "mappings { foo: { dest: bar } }\n"),
        (
            "unknown-field",
            "mappings { foo: { dest: bar, weight: 1, color: red } }\n",
        ),
        (
            "dest-not-string",
            "mappings { foo: { dest: 1, weight: 1 } }\n",
        ),
        ("entry-not-map", "mappings { foo: 1 }\n"),
        ("block-not-map", "mappings = 1\n"),
        (
            "array-item-not-map",
            "maps { foo: [ 1, { dest: a, weight: 10 } ] }\n",
        ),
        ("invalid-source", "mappings { \"foo. bar\": baz }\n"),
        ("empty-destination", "mappings { foo: \"\" }\n"),
        (
            "account-bad-dest",
            "accounts { A { mappings { \"a.*\": \"b.{{partition(x,1)}}\" } } }\n",
        ),
    ];
    for (name, body) in cases {
        let (code, text) = kit::config_test_raw(&ctx, body).await?;
        ctx.observe(name, format!("exit {code:?}: {text}"));
        if code != Some(1) {
            bail!("{name}: expected an error, got exit {code:?}: {text}");
        }
    }
    let (code, text) = kit::config_test_raw(
        &ctx,
        "maps { foo: { destination: bar, weight: \"25%\", cluster: X } }\n",
    )
    .await?;
    ctx.observe("valid", format!("exit {code:?}"));
    if code != Some(0) {
        bail!("expected a valid config: {text}");
    }
    Ok(())
}

/// Users (password and nkey) of two accounts: each is bound to its own
/// account, so a message stays within the account it was published in.
async fn users_bound(ctx: Ctx) -> Result<()> {
    const SEED1: &str = "SUAPM67TC4RHQLKBX55NIQXSMATZDOZK6FNEOSS36CAYA7F7TY66LP4BOM";
    const SEED2: &str = "SUAIS5JPX4X4GJ7EIIJEQ56DH2GWPYJRPWN5XJEDENJOZHCBLI7SEPUQDE";
    let conf = "accounts {\n\
      synadia {\n\
        users = [\n\
          {user: derek, password: foo},\n\
          {nkey: UCNGL4W5QX66CFX6A6DCBVDH5VOHMI7B2UZZU7TXAUQQSI2JPHULCKBR}\n\
        ]\n\
      }\n\
      nats {\n\
        users = [\n\
          {user: ivan, password: bar},\n\
          {nkey: UDPGQVFIWZ7Q5UH4I5E6DBCZULQS6VTVBG6CYBD7JV3G3N2GMQOMNAUH}\n\
        ]\n\
      }\n\
    }\n";
    let s = ctx
        .server(ServerSpec::new().conf(&format!("{conf}http_port: {{{{http_port}}}}\n")))
        .await?;
    let mut derek = conn(&ctx, &s, &user("derek", "foo")).await?;
    subscribe(&mut derek, &[("foo", "1")]).await?;
    let mut ivan = conn(&ctx, &s, &user("ivan", "bar")).await?;
    subscribe(&mut ivan, &[("foo", "2")]).await?;

    let mut nkey_clients = Vec::new();
    let mut names = BTreeMap::new();
    for (seed, payload) in [(SEED1, "from-synadia"), (SEED2, "from-nats")] {
        let kp = nkeys::KeyPair::from_seed(seed).map_err(|e| anyhow::anyhow!("seed: {e}"))?;
        names.insert(kp.public_key(), format!("nkey of {seed}"));
        let (mut c, info) = ctx.raw(&s).await?;
        let nonce = info["nonce"].as_str().context("INFO has no nonce")?;
        check_eq!(nonce.is_empty(), false);
        ctx.observe("nonce-present", (!nonce.is_empty()).to_string());
        let sig = kp
            .sign(nonce.as_bytes())
            .map_err(|e| anyhow::anyhow!("signing: {e}"))?;
        c.send(&format!(
            "CONNECT {{\"nkey\":\"{}\",\"sig\":\"{}\",\"verbose\":true,\"pedantic\":true}}\r\nPING\r\n",
            kp.public_key(),
            b64url(&sig)
        ))
        .await?;
        c.expect_ok().await?;
        c.expect_pong().await?;
        c.send(&format!("PUB foo {}\r\n{payload}\r\n", payload.len()))
            .await?;
        c.expect_ok().await?;
        c.flush().await?;
        let seen = |m: Vec<kit::Msg>| -> Vec<String> {
            m.into_iter()
                .map(|m| format!("{} {}", m.sid, String::from_utf8_lossy(&m.payload)))
                .collect()
        };
        let d = seen(derek.msgs_until_pong().await?);
        let i = seen(ivan.msgs_until_pong().await?);
        ctx.observe(payload, format!("derek {d:?} ivan {i:?}"));
        let want: (Vec<String>, Vec<String>) = if seed == SEED1 {
            (vec![format!("1 {payload}")], vec![])
        } else {
            (vec![], vec![format!("2 {payload}")])
        };
        check_eq!((d, i), want);
        nkey_clients.push(c);
    }
    // Each connection's account, as /connz names it.
    let accounts = kit::connz_users(&ctx, &s, &names).await?;
    ctx.observe("accounts", accounts.join("|"));
    check_eq!(
        accounts,
        vec![
            "derek in synadia".to_string(),
            "ivan in nats".to_string(),
            format!("nkey of {SEED2} in nats"),
            format!("nkey of {SEED1} in synadia"),
        ]
    );
    drop(nkey_clients);
    Ok(())
}
