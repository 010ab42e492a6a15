//! Scenarios for Go unit tests of helper functions whose results reach the
//! outside: sizes of the JetStream block (`-t` and `/varz`), subject
//! mapping destinations (`-t`), sublist counts and cache statistics
//! (`/subsz`, `/accountz`), the deny filter of wildcard subscriptions
//! (deliveries), `subject queue` permission entries (SUB replies), the
//! user named in permission violations and the protocol excerpt of a parser
//! error (the server's log).

use crate::check_eq;
use crate::kit::check_config as check;
use crate::kit::{self, b64url, Ctx, Server, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{Context, Result};
use futures::FutureExt;
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("config/jetstream-storage-sizes", |c| {
            jetstream_storage_sizes(c).boxed()
        })
        .needs(Need::Monitoring)
        .needs(Need::JetStream)
        .full("TestGetStorageSize"),
        Scenario::new("subjects/mapping-destinations", |c| {
            mapping_destinations(c).boxed()
        })
        .partial("TestValidateDestinationSubject"),
        Scenario::new("subjects/fresh-server-no-subscriptions", |c| {
            fresh_server_no_subscriptions(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestSublistInit"),
        Scenario::new("subjects/cache-hit-rate", |c| cache_hit_rate(c).boxed())
            .needs(Need::Monitoring)
            .full("TestSublistAddCacheHitRate"),
        Scenario::new("subjects/deny-filter-of-wildcard-subs", |c| {
            deny_filter_of_wildcard_subs(c).boxed()
        })
        .partial("TestIsSubsetMatch"),
        Scenario::new("core/permission-subject-queue-entries", |c| {
            permission_subject_queue_entries(c).boxed()
        })
        .full("TestSplitSubjectQueue"),
        Scenario::new("core/violation-log-names-user", |c| {
            violation_log_names_user(c).boxed()
        })
        .full("TestClientUserInfo"),
        Scenario::new("core/parser-error-snippet", |c| {
            parser_error_snippet(c).boxed()
        })
        .full("TestProtoSnippet"),
    ]
}

const VALID: &str = "exit 0: configuration file <conf> is valid";

// ---------------------------------------------------------------------------
// server/opts_test.go: TestGetStorageSize

async fn jetstream_storage_sizes(ctx: Ctx) -> Result<()> {
    for (input, want) in [
        ("\"1K\"", 1024u64),
        ("\"1M\"", 1_048_576),
        ("\"1G\"", 1_073_741_824),
        ("\"1T\"", 1_099_511_627_776),
        ("\"\"", 0),
    ] {
        let body = format!("http: 127.0.0.1:{{{{http_port}}}}\njetstream {{ store_dir: \"{{{{dir}}}}/js\", max_mem: {input} }}\n");
        let s = ctx.server(ServerSpec::new().conf(&body)).await?;
        let varz = ctx.http_json(&s, "/varz").await?;
        let max = &varz["jetstream"]["config"]["max_memory"];
        ctx.observe(
            &format!("max_mem {input}: varz max_memory"),
            max.to_string(),
        );
        check_eq!(max.as_u64(), Some(want));
    }
    for (input, want) in [
        (
            "\"1L\"",
            "exit 1: <conf>:1:12: max_mem_store sizes defined as strings must end in K, M, G, T",
        ),
        (
            "\"TT\"",
            "exit 1: <conf>:1:12: max_mem_store strconv.ParseInt: parsing \"T\": invalid syntax",
        ),
    ] {
        check_eq!(
            check(
                &ctx,
                &format!("max_mem {input}"),
                &format!("jetstream {{ max_mem: {input} }}\n")
            )
            .await?,
            want
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// server/sublist_test.go: TestValidateDestinationSubject

async fn mapping_destinations(ctx: Ctx) -> Result<()> {
    // Each destination of the Go test, behind a source it can map from.
    // Accepted.
    for (src, dest) in [
        ("bar", "foo"),
        ("bar", "foo.bar"),
        (">", ">"),
        ("bar.>", "foo.>"),
        ("bar.baz.>", "foo.bar.>"),
        ("bar.*", "foo.{{wildcard(1)}}"),
        ("bar.*", "foo.{{ wildcard(1) }}"),
        ("bar.*", "foo.{{wildcard( 1 )}}"),
        ("bar.*", "foo.{{partition(2,1)}}"),
    ] {
        let conf = format!("mappings {{\n  \"{src}\": \"{dest}\"\n}}\n");
        check_eq!(
            check(&ctx, &format!("{src} -> {dest}"), &conf).await?,
            VALID
        );
    }
    // Refused by the destination check itself.
    for (src, dest, why) in [
        (
            "bar",
            "foo.{{unknown(1)}}",
            "invalid mapping destination: unknown function in {{unknown(1)}}",
        ),
        (
            "bar",
            "foo..}",
            "invalid mapping destination: invalid subject in ",
        ),
        (
            "bar",
            "foo. bar}",
            "invalid mapping destination: invalid subject",
        ),
    ] {
        let conf = format!("mappings {{\n  \"{src}\": \"{dest}\"\n}}\n");
        check_eq!(
            check(&ctx, &format!("{src} -> {dest}"), &conf).await?,
            format!("exit 1: <conf>:2:4: Error adding mapping for \"{src}\" to \"{dest}\" : {why}")
        );
    }
    // Destinations the check lets through but a mapping cannot use: wildcards
    // in the destination, and split functions whose index no source fits.
    for (src, dest, why) in [
        ("bar.*", "*", "invalid subject"),
        ("bar.*", "foo.*", "invalid subject"),
        ("bar.*.>", "foo.*.>", "invalid subject"),
        ("bar.*.baz", "foo.*.bar", "invalid subject"),
        (
            "bar.*",
            "foo.{{SplitFromLeft(2,1)}}",
            "invalid mapping destination: wildcard index out of range in {{SplitFromLeft(2,1)}}: [2]",
        ),
        (
            "bar.*",
            "foo.{{SplitFromRight(2,1)}}",
            "invalid mapping destination: wildcard index out of range in {{SplitFromRight(2,1)}}: [2]",
        ),
    ] {
        let conf = format!("mappings {{\n  \"{src}\": \"{dest}\"\n}}\n");
        check_eq!(
            check(&ctx, &format!("{src} -> {dest}"), &conf).await?,
            format!("exit 1: <conf>:2:4: Error adding mapping for \"{src}\" to \"{dest}\" : {why}")
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// server/sublist_test.go: TestSublistInit

async fn fresh_server_no_subscriptions(ctx: Ctx) -> Result<()> {
    // Without the system account (whose services subscribe), a fresh
    // server's sublist holds nothing.
    let s = ctx
        .server(ServerSpec::new().conf("http: 127.0.0.1:{{http_port}}\nno_system_account: true\n"))
        .await?;
    let subsz = ctx.http_json(&s, "/subsz").await?;
    ctx.observe_json("subsz", &subsz);
    check_eq!(subsz["num_subscriptions"].as_u64(), Some(0));
    Ok(())
}

// ---------------------------------------------------------------------------
// server/sublist_test.go: TestSublistAddCacheHitRate

async fn publish_once(ctx: &Ctx, s: &Server, user: &str, subject: &str) -> Result<()> {
    // A new connection each time: a connection caches its own results, so
    // only its first publish on a subject asks the account's sublist.
    let mut c = ctx
        .raw_connected(
            s,
            &format!("{{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{user}\"}}"),
        )
        .await?;
    c.send(&format!("PUB {subject} 1\r\nx\r\nPING\r\n")).await?;
    c.expect_pong().await?;
    Ok(())
}

async fn cache_hit_rate(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(
            "http: 127.0.0.1:{{http_port}}\nno_system_account: true\naccounts {\n  A { users [ {user: a, password: a} ] }\n  B { users [ {user: b, password: b} ] }\n}\n",
        ))
        .await?;
    // One subscriber in each account, then four matches of its subject:
    // the first fills the cache, the next three hit it.
    let mut subs = Vec::new();
    for (user, subject) in [("a", "foo"), ("b", "bar")] {
        let mut c = ctx
            .raw_connected(
                &s,
                &format!("{{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{user}\"}}"),
            )
            .await?;
        c.send(&format!("SUB {subject} 1\r\nPING\r\n")).await?;
        c.expect_pong().await?;
        subs.push(c);
        for _ in 0..4 {
            publish_once(&ctx, &s, user, subject).await?;
        }
    }
    for acc in ["A", "B"] {
        let detail = ctx.http_json(&s, &format!("/accountz?acc={acc}")).await?;
        let stats = &detail["account_detail"]["sublist_stats"];
        ctx.observe(
            &format!("{acc}: matches and hit rate"),
            format!("{} {}", stats["num_matches"], stats["cache_hit_rate"]),
        );
        check_eq!(stats["num_matches"].as_u64(), Some(4));
        check_eq!(stats["cache_hit_rate"].as_f64(), Some(0.75));
    }
    // /subsz adds the statistics of every account.
    let subsz = ctx.http_json(&s, "/subsz").await?;
    ctx.observe(
        "subsz: matches and hit rate",
        format!("{} {}", subsz["num_matches"], subsz["cache_hit_rate"]),
    );
    check_eq!(subsz["num_matches"].as_u64(), Some(8));
    check_eq!(subsz["cache_hit_rate"].as_f64(), Some(0.75));
    Ok(())
}

// ---------------------------------------------------------------------------
// server/sublist_test.go: TestIsSubsetMatch

async fn deny_filter_of_wildcard_subs(ctx: Ctx) -> Result<()> {
    // A wildcard subscription that the subscribe deny list does not refuse
    // outright, but that covers a denied subject, gets the deny filter on
    // its deliveries.
    for (deny, sub) in [
        ("foo.*", ">"),
        ("foo.*", "*.*"),
        ("foo.>", ">"),
        ("foo.>", "*.>"),
    ] {
        let conf = format!(
            "authorization {{\n  users = [ {{user: u, password: p, permissions: {{subscribe: {{deny: \"{deny}\"}}}}}} ]\n}}\n"
        );
        let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
        let mut c = ctx
            .raw_connected(&s, "{\"verbose\":false,\"user\":\"u\",\"pass\":\"p\"}")
            .await?;
        c.send(&format!(
            "SUB {sub} 1\r\nPUB foo.bar 1\r\nx\r\nPUB baz.qux 1\r\ny\r\nPING\r\n"
        ))
        .await?;
        let got: Vec<String> = c
            .msgs_until_pong()
            .await?
            .into_iter()
            .map(|m| m.subject)
            .collect();
        ctx.observe(
            &format!("deny {deny}, sub {sub}: delivered"),
            format!("{got:?}"),
        );
        check_eq!(got, vec!["baz.qux".to_string()]);
    }
    // A subscription that is itself inside the denied subjects is refused.
    for (deny, sub) in [("foo.*", "foo.*"), ("foo.>", "foo.>")] {
        let conf = format!(
            "authorization {{\n  users = [ {{user: u, password: p, permissions: {{subscribe: {{deny: \"{deny}\"}}}}}} ]\n}}\n"
        );
        let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
        let mut c = ctx
            .raw_connected(&s, "{\"verbose\":false,\"user\":\"u\",\"pass\":\"p\"}")
            .await?;
        c.send(&format!("SUB {sub} 1\r\n")).await?;
        let err = c.expect_err().await?;
        ctx.observe(&format!("deny {deny}, sub {sub}"), &err);
        check_eq!(
            err,
            format!("Permissions Violation for Subscription to \"{sub}\"")
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// server/client_test.go: TestSplitSubjectQueue

async fn permission_subject_queue_entries(ctx: Ctx) -> Result<()> {
    // An entry with a subject, a queue and a third word is no subject.
    check_eq!(
        check(
            &ctx,
            "subject, queue and extra token",
            "authorization {\n  users = [ {user: u, password: p, permissions: {subscribe: {allow: [\"foo  bar fizz\"]}}} ]\n}\n",
        )
        .await?,
        "exit 1: <conf>:2:62: subject \"foo  bar fizz\" is not a valid subject"
    );
    // Entries with surrounding and doubled spaces split into subject and
    // queue; an entry without a queue allows any queue.
    let s = ctx
        .server(ServerSpec::new().conf(
            "authorization {\n  users = [ {user: u, password: p, permissions: {subscribe: {allow: [\" foo bar \", \"baz  qux\", \"plain\"]}}} ]\n}\n",
        ))
        .await?;
    let (mut c, _) = ctx.raw(&s).await?;
    c.send("CONNECT {\"verbose\":true,\"user\":\"u\",\"pass\":\"p\"}\r\n")
        .await?;
    c.expect_ok().await?;
    for (sub, allowed) in [
        ("SUB foo bar 1", true),
        ("SUB foo 2", false),
        ("SUB baz qux 3", true),
        ("SUB baz 4", false),
        ("SUB plain 5", true),
        ("SUB plain q 6", true),
    ] {
        c.send(&format!("{sub}\r\n")).await?;
        let got = c.expect(r"(\+OK|-ERR '[^\r]*')\r\n").await?;
        ctx.observe(sub, &got[0]);
        check_eq!(got[0] == "+OK", allowed);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// server/client_test.go: TestClientUserInfo

/// The text after the connection prefix of the last log line that has
/// `needle`, once the log has `n` such lines.
async fn nth_log_line(s: &Server, needle: &str, n: usize) -> Result<String> {
    kit::eventually(Duration::from_secs(3), || async move {
        let logs = s.logs();
        let lines: Vec<&str> = logs.lines().filter(|l| l.contains(needle)).collect();
        Ok((lines.len() >= n).then(|| {
            let l = lines[n - 1];
            l.split_once(" - cid:")
                .and_then(|x| x.1.split_once(" - "))
                .map_or(l.to_string(), |x| x.1.to_string())
        }))
    })
    .await
    .with_context(|| format!("waiting for log line {n} with {needle:?}"))
}

async fn violation_log_names_user(ctx: Ctx) -> Result<()> {
    let nkey = nkeys::KeyPair::new_user();
    let perms = "permissions: {publish: {deny: \"secret\"}, subscribe: {deny: \"hidden\"}}";
    let conf = format!(
        "authorization {{\n  users = [\n    {{user: foo, password: p, {perms}}}\n    {{nkey: {}, {perms}}}\n  ]\n}}\n",
        nkey.public_key()
    );
    let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
    // A user with a name.
    let mut c = ctx
        .raw_connected(&s, "{\"verbose\":false,\"user\":\"foo\",\"pass\":\"p\"}")
        .await?;
    c.send("PUB secret 0\r\n\r\nSUB hidden 7\r\nPING\r\n")
        .await?;
    let line = nth_log_line(&s, "Publish Violation", 1).await?;
    ctx.observe("user: publish violation", &line);
    check_eq!(line, "Publish Violation - User \"foo\", Subject \"secret\"");
    let line = nth_log_line(&s, "Subscription Violation", 1).await?;
    ctx.observe("user: subscription violation", &line);
    check_eq!(
        line,
        "Subscription Violation - User \"foo\", Subject \"hidden\", SID 7"
    );
    // A user with an nkey.
    let (mut c2, info) = ctx.raw(&s).await?;
    let nonce = info["nonce"].as_str().context("INFO has no nonce")?;
    let sig = nkey
        .sign(nonce.as_bytes())
        .map_err(|e| anyhow::anyhow!("signing the nonce: {e}"))?;
    c2.send(&format!(
        "CONNECT {{\"verbose\":false,\"nkey\":\"{}\",\"sig\":\"{}\"}}\r\nPUB secret 0\r\n\r\nPING\r\n",
        nkey.public_key(),
        b64url(&sig)
    ))
    .await?;
    let line = nth_log_line(&s, "Publish Violation", 2).await?;
    ctx.observe(
        "nkey: publish violation",
        line.replace(&nkey.public_key(), "<nkey>"),
    );
    check_eq!(
        line,
        format!(
            "Publish Violation - Nkey \"{}\", Subject \"secret\"",
            nkey.public_key()
        )
    );
    drop((c, c2));
    Ok(())
}

// ---------------------------------------------------------------------------
// server/parser_test.go: TestProtoSnippet

/// Go's `%q` of a byte string made of printable ASCII and a few escapes.
fn go_quote(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

async fn parser_error_snippet(ctx: Ctx) -> Result<()> {
    // Garbage after a CONNECT, in one write: the server logs at most 32
    // bytes from where parsing failed, quoted; when fewer than 32 are left
    // in the buffer, the last one is left out.
    let s = ctx.default_server().await?;
    let sample = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut cases: Vec<Vec<u8>> = [0usize, 1, 19, 20, 21, 25, 40, 50, 51]
        .iter()
        .map(|&k| {
            let mut g = b"x".to_vec();
            g.extend_from_slice(&sample[k..]);
            g
        })
        .collect();
    cases.push(b"x\x01\x02\xffz\"q\\tail".to_vec());
    let connect = b"CONNECT {\"verbose\":false}\r\n";
    for (n, garbage) in cases.iter().enumerate() {
        let (mut c, _) = ctx.raw(&s).await?;
        let mut bytes = connect.to_vec();
        bytes.extend_from_slice(garbage);
        c.send_bytes(&bytes).await?;
        let err = c.expect_err().await?;
        check_eq!(err, "Unknown Protocol Operation");
        let line = nth_log_line(&s, "parser ERROR", n + 1).await?;
        ctx.observe(&format!("garbage of {} bytes", garbage.len()), &line);
        let stop = if garbage.len() >= 32 {
            32
        } else {
            garbage.len() - 1
        };
        let want = format!(
            "Client parser ERROR, state=0, i={}: proto='{}...'",
            connect.len(),
            go_quote(&garbage[..stop])
        );
        check_eq!(line, want);
    }
    Ok(())
}
