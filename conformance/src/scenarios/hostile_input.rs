//! Hostile and edge-case input, answered as Go answers it: CONNECT JSON as
//! Go's `encoding/json` reads it, a second CONNECT that re-authenticates,
//! an argument line that starts with a bare LF, configs nested deeper than
//! any stack, references to undefined accounts, bad JetStream sizes, the
//! stall of a publisher to a subscriber that does not read, and two
//! permission semantics Go keeps. No Go test checks these; a black-box run
//! of both servers found them (issue 11), and each scenario here passes on
//! Go first.

use crate::check_eq;
use crate::kit::{check_config, Ctx, RawClient, Server, ServerSpec};
use crate::registry::Scenario;
use anyhow::{Context, Result};
use futures::FutureExt;
use std::time::{Duration, Instant};

const FOUND_BY: &str = "issue 11: a black-box hostile-input run of both servers";

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("hostile/connect-json-keys", |c| {
            connect_json_keys(c).boxed()
        })
        .with_category("core")
        .beyond_go(FOUND_BY),
        Scenario::new("hostile/connect-json-lenient", |c| {
            connect_json_lenient(c).boxed()
        })
        .with_category("core")
        .beyond_go(FOUND_BY),
        Scenario::new("hostile/connect-json-refused", |c| {
            connect_json_refused(c).boxed()
        })
        .with_category("core")
        .beyond_go(FOUND_BY),
        Scenario::new("hostile/client-info-types", |c| {
            client_info_types(c).boxed()
        })
        .with_category("core")
        .beyond_go(FOUND_BY),
        Scenario::new("hostile/connect-auth-keys", |c| {
            connect_auth_keys(c).boxed()
        })
        .with_category("auth")
        .beyond_go(FOUND_BY),
        Scenario::new("hostile/second-connect", |c| second_connect(c).boxed())
            .with_category("auth")
            .beyond_go(FOUND_BY),
        Scenario::new("hostile/argument-starts-with-lf", |c| {
            argument_starts_with_lf(c).boxed()
        })
        .with_category("core")
        .beyond_go(FOUND_BY),
        Scenario::new("hostile/config-deep-nesting", |c| {
            config_deep_nesting(c).boxed()
        })
        .with_category("config")
        .beyond_go(FOUND_BY),
        Scenario::new("hostile/config-import-checks", |c| {
            config_import_checks(c).boxed()
        })
        .with_category("config")
        .beyond_go(FOUND_BY),
        Scenario::new("hostile/config-jetstream-sizes", |c| {
            config_jetstream_sizes(c).boxed()
        })
        .with_category("config")
        .beyond_go(FOUND_BY),
        Scenario::new("hostile/stalled-publisher", |c| {
            stalled_publisher(c).boxed()
        })
        .with_category("core")
        .timeout(Duration::from_secs(30))
        .beyond_go(FOUND_BY),
        Scenario::new("hostile/permission-overlaps", |c| {
            permission_overlaps(c).boxed()
        })
        .with_category("auth")
        .beyond_go(FOUND_BY),
    ]
}

const CLOSE_WAIT: Duration = Duration::from_secs(3);
/// Monitoring on an allocated port.
const MON: &str = "http: 127.0.0.1:{{http_port}}\n";

const USERS: &str = r#"authorization { users = [
  {user: alice, password: alicepw, permissions: {publish: "alice.>", subscribe: ["alice.>", "_INBOX.>"]}},
  {user: admin, password: adminpw},
  {user: guest, password: guestpw, permissions: {publish: "guest.>", subscribe: "guest.>"}}
] }
"#;

/// Sends `bytes` (ending in a PING) and returns what came before the PONG.
async fn answer(c: &mut RawClient, bytes: &[u8]) -> Result<String> {
    c.send_bytes(bytes).await?;
    let g = c.expect(r"(?s)(.*?)PONG\r\n").await?;
    Ok(g[0].clone())
}

/// Sends `bytes` and returns what came before the server closed.
async fn closed_after(c: &mut RawClient, bytes: &[u8]) -> Result<String> {
    c.send_bytes(bytes).await?;
    c.expect_closed(CLOSE_WAIT).await
}

/// A fresh connection to `s` with its INFO read.
async fn fresh(ctx: &Ctx, s: &Server) -> Result<RawClient> {
    Ok(ctx.raw(s).await?.0)
}

/// Keys match case-insensitively, and the last of two spellings wins.
async fn connect_json_keys(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let mut c = fresh(&ctx, &s).await?;
    let got = answer(
        &mut c,
        b"CONNECT {\"verbose\":false,\"Verbose\":true}\r\nPING\r\n",
    )
    .await?;
    check_eq!(got.as_str(), "+OK\r\n");
    ctx.observe("verbose then Verbose", &got);

    let mut c = fresh(&ctx, &s).await?;
    let got = answer(
        &mut c,
        b"CONNECT {\"verbose\":false,\"echo\":true,\"ECHO\":false}\r\nSUB x 1\r\nPUB x 1\r\na\r\nPING\r\n",
    )
    .await?;
    check_eq!(got.as_str(), "");
    ctx.observe("echo then ECHO false: own message", "not delivered");

    let mut c = fresh(&ctx, &s).await?;
    let got = answer(
        &mut c,
        b"CONNECT {\"VERBOSE\":true,\"Pedantic\":true}\r\nPUB foo.* 1\r\na\r\nPING\r\n",
    )
    .await?;
    // Go still acknowledges the PUB it refused.
    check_eq!(
        got.as_str(),
        "+OK\r\n-ERR 'Invalid Publish Subject'\r\n+OK\r\n"
    );
    ctx.observe("PEDANTIC spelled Pedantic", &got);
    Ok(())
}

/// What Go's JSON decoder accepts: invalid UTF-8 and lone surrogates
/// (replaced by U+FFFD), deep nesting in an ignored field, `1e999` in an
/// ignored field, `-0` as the protocol, and a CONNECT argument that starts
/// with a newline.
async fn connect_json_lenient(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(&format!("{MON}max_control_line: 65536\n")))
        .await?;
    let mut deep = b"CONNECT {\"verbose\":true,\"x\":".to_vec();
    deep.extend([b'['; 5000]);
    deep.extend([b']'; 5000]);
    deep.extend(b",\"name\":\"deep\"}\r\nPING\r\n");
    let cases: [(&str, &[u8]); 5] = [
        (
            "name-invalid-utf8",
            b"CONNECT {\"verbose\":true,\"name\":\"bad\xff\"}\r\nPING\r\n",
        ),
        (
            "name-lone-surrogate",
            b"CONNECT {\"verbose\":true,\"name\":\"s\\ud800\"}\r\nPING\r\n",
        ),
        ("nested-5000", &deep),
        (
            "numbers",
            b"CONNECT {\"verbose\":true,\"name\":\"num\",\"x\":1e999,\"protocol\":-0}\r\nPING\r\n",
        ),
        (
            "newline-first",
            b"CONNECT\n{\"verbose\":true,\"name\":\"nl\"}\r\nPING\r\n",
        ),
    ];
    let mut open = Vec::new();
    for (label, bytes) in cases {
        let mut c = fresh(&ctx, &s).await?;
        let got = answer(&mut c, bytes).await.context(label)?;
        check_eq!(got.as_str(), "+OK\r\n");
        ctx.observe(label, &got);
        open.push(c);
    }
    // The names as Go decoded them.
    let connz = ctx.http_json(&s, "/connz").await?;
    let mut names: Vec<String> = connz["connections"]
        .as_array()
        .context("connections")?
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    check_eq!(names, ["bad\u{fffd}", "deep", "nl", "num", "s\u{fffd}"]);
    ctx.observe("names in /connz", names.join(","));
    Ok(())
}

/// What Go's decoder refuses closes the connection without an answer,
/// beyond 10,000 levels of nesting included.
async fn connect_json_refused(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("max_control_line: 65536\n"))
        .await?;
    let mut too_deep = b"CONNECT {\"x\":".to_vec();
    too_deep.extend([b'['; 10_001]);
    too_deep.extend([b']'; 10_001]);
    too_deep.extend(b"}\r\nPING\r\n");
    let cases: [(&str, &[u8]); 5] = [
        ("wrong-type", b"CONNECT {\"verbose\":\"yes\"}\r\nPING\r\n"),
        (
            "protocol-1e999",
            b"CONNECT {\"protocol\":1e999}\r\nPING\r\n",
        ),
        (
            "trailing-garbage",
            b"CONNECT {\"verbose\":true} x\r\nPING\r\n",
        ),
        ("not-an-object", b"CONNECT [true]\r\nPING\r\n"),
        ("nested-10001", &too_deep),
    ];
    for (label, bytes) in cases {
        let mut c = fresh(&ctx, &s).await?;
        let got = closed_after(&mut c, bytes).await.context(label)?;
        check_eq!(got.as_str(), "");
        ctx.observe(label, format!("closed after {got:?}"));
    }
    Ok(())
}

/// A client's INFO is ignored, but it must decode into Go's Info: a value
/// of the wrong type closes the connection, an unknown field does not.
async fn client_info_types(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let refused: [&[u8]; 5] = [
        b"INFO {\"port\":\"x\"}\r\n",
        b"INFO {\"client_id\":-1}\r\n",
        b"INFO {\"gateway_cmd_payload\":\"a!==\"}\r\n",
        b"INFO {\"Import\":{\"allow\":[1]}}\r\n",
        b"INFO []\r\n",
    ];
    for info in refused {
        let mut c = fresh(&ctx, &s).await?;
        c.send("CONNECT {\"verbose\":false}\r\n").await?;
        let got = closed_after(&mut c, &[info, b"PING\r\n"].concat()).await?;
        check_eq!(got.as_str(), "");
        ctx.observe(
            &String::from_utf8_lossy(info),
            format!("closed after {got:?}"),
        );
    }
    for info in [
        &b"INFO {\"port\":4222,\"x\":[1e999]}\r\n"[..],
        b"INFO null\r\n",
    ] {
        let mut c = fresh(&ctx, &s).await?;
        c.send("CONNECT {\"verbose\":false}\r\n").await?;
        let got = answer(&mut c, &[info, b"PING\r\n"].concat()).await?;
        check_eq!(got.as_str(), "");
        ctx.observe(
            &String::from_utf8_lossy(info),
            format!("PONG after {got:?}"),
        );
    }
    Ok(())
}

/// Credentials follow the same key rules: `Pass` after `pass` is the
/// password checked, `User` after `user` the user; a user name that is
/// not UTF-8 is refused with Go's error.
async fn connect_auth_keys(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(USERS)).await?;
    let mut c = fresh(&ctx, &s).await?;
    let got = closed_after(
        &mut c,
        b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"alicepw\",\"Pass\":\"wrong\"}\r\nPING\r\n",
    )
    .await?;
    check_eq!(got.as_str(), "-ERR 'Authorization Violation'\r\n");
    ctx.observe("pass then Pass wrong", &got);

    let mut c = fresh(&ctx, &s).await?;
    let got = answer(
        &mut c,
        b"CONNECT {\"verbose\":false,\"user\":\"guest\",\"User\":\"alice\",\"pass\":\"alicepw\"}\r\nPUB alice.x 1\r\na\r\nPUB guest.x 1\r\nb\r\nPING\r\n",
    )
    .await?;
    // Logged in as alice: her subjects only.
    check_eq!(
        got.as_str(),
        "-ERR 'Permissions Violation for Publish to \"guest.x\"'\r\n"
    );
    ctx.observe("user guest then User alice", &got);

    let mut c = fresh(&ctx, &s).await?;
    let got = closed_after(
        &mut c,
        b"CONNECT {\"verbose\":false,\"user\":\"alice\xff\",\"pass\":\"alicepw\"}\r\nPING\r\n",
    )
    .await?;
    check_eq!(got.as_str(), "-ERR 'Authorization Violation'\r\n");
    ctx.observe("user not UTF-8", &got);
    Ok(())
}

/// A second CONNECT authenticates again: valid credentials bring that
/// user's permissions (none for admin, alice's for alice), invalid ones
/// close the connection as a first CONNECT would.
async fn second_connect(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(USERS)).await?;
    let mut c = fresh(&ctx, &s).await?;
    let got = answer(
        &mut c,
        b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"alicepw\"}\r\nPUB admin.x 1\r\na\r\nPING\r\n",
    )
    .await?;
    check_eq!(
        got.as_str(),
        "-ERR 'Permissions Violation for Publish to \"admin.x\"'\r\n"
    );
    let got = answer(
        &mut c,
        b"CONNECT {\"verbose\":false,\"user\":\"admin\",\"pass\":\"adminpw\"}\r\nSUB admin.x 1\r\nPUB admin.x 1\r\nb\r\nPING\r\n",
    )
    .await?;
    check_eq!(got.as_str(), "MSG admin.x 1 1\r\nb\r\n");
    ctx.observe("alice, then admin", &got);

    let mut c = fresh(&ctx, &s).await?;
    let got = answer(
        &mut c,
        b"CONNECT {\"verbose\":false,\"user\":\"admin\",\"pass\":\"adminpw\"}\r\nCONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"alicepw\"}\r\nSUB admin.y 1\r\nPUB admin.y 1\r\nb\r\nPING\r\n",
    )
    .await?;
    check_eq!(
        got.as_str(),
        "-ERR 'Permissions Violation for Subscription to \"admin.y\"'\r\n-ERR 'Permissions Violation for Publish to \"admin.y\"'\r\n"
    );
    ctx.observe("admin, then alice", &got);

    let mut c = fresh(&ctx, &s).await?;
    let got = closed_after(
        &mut c,
        b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"alicepw\"}\r\nCONNECT {\"verbose\":false,\"user\":\"admin\",\"pass\":\"nope\"}\r\nPING\r\n",
    )
    .await?;
    check_eq!(got.as_str(), "-ERR 'Authorization Violation'\r\n");
    ctx.observe("alice, then admin with a wrong password", &got);
    Ok(())
}

/// Go takes the first byte after an operation's spaces as the start of
/// its argument, whatever it is: `PUB \nfoo` publishes to "\nfoo", and
/// `SUB \nfoo 1` subscribes to foo (its arguments split on newlines).
async fn argument_starts_with_lf(ctx: Ctx) -> Result<()> {
    let s = ctx.default_server().await?;
    let connect = b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";
    let cases: [(&str, &[u8], &str); 3] = [
        (
            "PUB",
            b"SUB > 1\r\nPUB \nfoo 1\r\nx\r\nPING\r\n",
            "MSG \nfoo 1 1\r\nx\r\n",
        ),
        (
            "SUB",
            b"SUB \nfoo 1\r\nPUB foo 1\r\nx\r\nPING\r\n",
            "MSG foo 1 1\r\nx\r\n",
        ),
        (
            "UNSUB",
            b"SUB foo 1\r\nUNSUB \n1\r\nPUB foo 1\r\nx\r\nPING\r\n",
            "",
        ),
    ];
    for (label, bytes, want) in cases {
        let mut c = fresh(&ctx, &s).await?;
        c.send_bytes(connect).await?;
        let got = answer(&mut c, bytes).await.context(label)?;
        check_eq!(got.as_str(), want);
        ctx.observe(label, &got);
    }
    Ok(())
}

/// Nesting is bounded by memory, not by a stack: 100,000 levels of maps
/// and 300,000 of arrays parse, then fail on what they mean.
async fn config_deep_nesting(ctx: Ctx) -> Result<()> {
    let maps = format!("{}b: 1{}", "a { ".repeat(100_000), " }".repeat(100_000));
    let seen = check_config(&ctx, "maps", &maps).await?;
    check_eq!(seen.as_str(), "exit 1: <conf>:1:0: unknown field \"a\"");
    let arrays = format!(
        "x = {}1{}\nport: $x\n",
        "[ ".repeat(300_000),
        " ]".repeat(300_000)
    );
    let seen = check_config(&ctx, "arrays", &arrays).await?;
    check_eq!(
        seen.as_str(),
        "exit 1: <conf>:2:1: interface conversion: interface {} is []interface {}, not int64"
    );
    Ok(())
}

/// Exports and imports must name defined accounts, and an import must be
/// of a subject its account exports to the importer.
async fn config_import_checks(ctx: Ctx) -> Result<()> {
    let seen = check_config(
        &ctx,
        "stream import",
        "accounts { A: { imports: [{stream: {account: NOPE, subject: \"x\"}}] } }\n",
    )
    .await?;
    check_eq!(
        seen.as_str(),
        "exit 1: <conf>:1:0: \"NOPE\" account not defined for stream import"
    );
    let seen = check_config(
        &ctx,
        "all four",
        "port: 4222\naccounts {\n A: { exports: [{service: \"s\", accounts: [B, C]}, {stream: \"t\", accounts: [D]}], imports: [{service: {account: Z, subject: \"x\"}}, {stream: {account: Y, subject: y}}] }\n B: {}\n}\n",
    )
    .await?;
    check_eq!(
        seen.as_str(),
        "exit 1: <conf>:2:1: \"C\" account not defined for service export\n<conf>:2:1: \"D\" account not defined for stream export\n<conf>:2:1: \"Y\" account not defined for stream import\n<conf>:2:1: \"Z\" account not defined for service import"
    );
    let cases = [
        (
            "self import",
            "accounts { A: { imports: [{stream: {account: A, subject: \"x\"}}] } }\n",
            "exit 1: <conf>:1:0: Error adding stream import \"x\": stream import not authorized",
        ),
        (
            "service not exported",
            "accounts { A: { exports: [{service: \"x\"}] }, B: { imports: [{service: {account: A, subject: \"y\"}}] } }\n",
            "exit 1: <conf>:1:0: Error adding service import \"y\": service import not authorized",
        ),
        (
            "private export",
            "accounts { A: { exports: [{stream: \"foo.>\", accounts: [C]}] }, B: { imports: [{stream: {account: A, subject: \"foo.bar\"}}] }, C: {imports: [{stream: {account: A, subject: \"foo.bar\"}}]} }\n",
            "exit 1: <conf>:1:0: Error adding stream import \"foo.bar\": stream import not authorized",
        ),
        (
            "wider than the export",
            "accounts { A: { exports: [{stream: \"foo.*\"}] }, B: { imports: [{stream: {account: A, subject: \"foo.bar\"}, prefix: p}, {stream: {account: A, subject: \"foo.>\"}}] } }\n",
            "exit 1: <conf>:1:0: Error adding stream import \"foo.>\": stream import not authorized",
        ),
    ];
    for (label, body, want) in cases {
        let seen = check_config(&ctx, label, body).await?;
        check_eq!(seen.as_str(), want);
    }
    Ok(())
}

/// JetStream sizes as strings: digits and K, M, G or T, read as Go reads them.
async fn config_jetstream_sizes(ctx: Ctx) -> Result<()> {
    let cases = [
        (
            "jetstream { max_mem: \"abc\" }\n",
            "exit 1: <conf>:1:12: max_mem_store strconv.ParseInt: parsing \"ab\": invalid syntax",
        ),
        (
            "jetstream { max_file: \"10Z\" }\n",
            "exit 1: <conf>:1:12: max_file_store sizes defined as strings must end in K, M, G, T",
        ),
        (
            "jetstream { max_mem: true }\n",
            "exit 1: <conf>:1:12: max_mem_store must be int64 or string",
        ),
        (
            "jetstream { max_mem: \"1G\", max_file: \"10T\" }\n",
            "exit 0: configuration file <conf> is valid",
        ),
    ];
    for (body, want) in cases {
        let seen = check_config(&ctx, body.trim(), body).await?;
        check_eq!(seen.as_str(), want);
    }
    Ok(())
}

/// A subscriber that never reads, behind a small max_pending: the server
/// stops taking the publisher's messages (each waits for the backlog, up to
/// Go's stall time) instead of cutting the subscriber at once.
async fn stalled_publisher(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(&format!("{MON}max_pending: 32768\nmax_payload: 16384\n")))
        .await?;
    let mut sub = fresh(&ctx, &s).await?;
    sub.send("CONNECT {\"verbose\":false,\"name\":\"sub\"}\r\nSUB foo 1\r\n")
        .await?;
    sub.flush().await?;
    let mut publisher = fresh(&ctx, &s).await?;
    publisher
        .send("CONNECT {\"verbose\":false,\"name\":\"pub\"}\r\n")
        .await?;
    let message = format!("PUB foo 100\r\n{}\r\n", "x".repeat(100));
    let burst = message.repeat(100);
    let pump = tokio::spawn(async move {
        let until = Instant::now() + Duration::from_secs(4);
        while Instant::now() < until {
            let left = until.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, publisher.send(&burst))
                .await
                .is_err()
            {
                break;
            }
        }
        publisher
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let early = pub_in_msgs(&ctx, &s).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let late = pub_in_msgs(&ctx, &s).await?;
    let varz = ctx.http_json(&s, "/varz").await?;
    check_eq!(varz["slow_consumers"].as_i64(), Some(0));
    ctx.observe(
        "slow consumers after 3 s",
        varz["slow_consumers"].to_string(),
    );
    let taken = late - early;
    anyhow::ensure!(
        taken < 2000,
        "the server took {taken} messages from the publisher in 2 s of stall"
    );
    ctx.observe(
        "publisher stalled from 1 s to 3 s (under 2000 messages taken)",
        (taken < 2000).to_string(),
    );
    let connz = ctx.http_json(&s, "/connz").await?;
    let subscriber_open = connz["connections"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["name"] == "sub"));
    check_eq!(subscriber_open, true);
    ctx.observe(
        "subscriber connected after 3 s",
        subscriber_open.to_string(),
    );
    drop(sub);
    pump.await?;
    Ok(())
}

/// The publisher's received-message count, from /connz.
async fn pub_in_msgs(ctx: &Ctx, s: &Server) -> Result<i64> {
    let connz = ctx.http_json(s, "/connz").await?;
    connz["connections"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == "pub"))
        .and_then(|c| c["in_msgs"].as_i64())
        .context("the publisher in /connz")
}

/// Two permission semantics of Go, kept: a subscription is checked as a
/// subject against the allow list, so `foo.>` passes an allow of `foo.*`
/// and then receives `foo.bar.baz`; and a queue subscription on a wildcard
/// is allowed over a denied subject, whose messages it is then not given.
async fn permission_overlaps(ctx: Ctx) -> Result<()> {
    let conf = r#"authorization { users = [
  {user: a, password: a, permissions: {subscribe: {allow: ">", deny: ["secret.x", "q.denied"]}}},
  {user: b, password: b, permissions: {subscribe: {allow: "foo.*"}}},
  {user: p, password: p}
] }
"#;
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let login = |user: &str| {
        format!("CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{user}\"}}\r\n")
    };
    let mut a = fresh(&ctx, &s).await?;
    let got = answer(
        &mut a,
        format!(
            "{}SUB secret.* 1\r\nSUB > 2\r\nSUB q.* grp 3\r\nSUB q.denied grp 4\r\nPING\r\n",
            login("a")
        )
        .as_bytes(),
    )
    .await?;
    check_eq!(
        got.as_str(),
        "-ERR 'Permissions Violation for Subscription to \"q.denied\" using queue \"grp\"'\r\n"
    );
    let mut b = fresh(&ctx, &s).await?;
    let got = answer(
        &mut b,
        format!(
            "{}SUB foo.> 1\r\nSUB foo.* 2\r\nSUB * 3\r\nPING\r\n",
            login("b")
        )
        .as_bytes(),
    )
    .await?;
    check_eq!(
        got.as_str(),
        "-ERR 'Permissions Violation for Subscription to \"*\"'\r\n"
    );
    let mut p = fresh(&ctx, &s).await?;
    answer(
        &mut p,
        format!("{}PUB secret.x 1\r\nx\r\nPUB q.denied 1\r\ny\r\nPUB foo.bar 1\r\nz\r\nPUB foo.bar.baz 1\r\nw\r\nPING\r\n", login("p")).as_bytes(),
    )
    .await?;
    let got_a = answer(&mut a, b"PING\r\n").await?;
    check_eq!(
        got_a.as_str(),
        "MSG foo.bar 2 1\r\nz\r\nMSG foo.bar.baz 2 1\r\nw\r\n"
    );
    ctx.observe("a (deny secret.x, q.denied) receives", &got_a);
    let got_b = answer(&mut b, b"PING\r\n").await?;
    check_eq!(
        got_b.as_str(),
        "MSG foo.bar 1 1\r\nz\r\nMSG foo.bar 2 1\r\nz\r\nMSG foo.bar.baz 1 1\r\nw\r\n"
    );
    ctx.observe("b (allow foo.*) receives", &got_b);
    Ok(())
}
