//! Scenarios for TLS on client connections (test/tls_test.go): the INFO in
//! plain text with `tls_required` / `tls_verify`, the handshake and its
//! timeout, client certificates verified against a CA, curve preferences,
//! authentication over TLS, and what monitoring shows of a TLS connection.
//! The certificates are the kit's (see `kit::certs`); clients are async-nats
//! and the raw TLS client of `kit::tls_raw`.

use crate::check_eq;
use crate::kit::tls_raw::{self, TlsOptions};
use crate::kit::{certs, eventually, Ctx, Server, ServerSpec};
use crate::registry::Scenario;
use anyhow::{bail, ensure, Context, Result};
use futures::{FutureExt, StreamExt};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

const CLOSE_WAIT: Duration = Duration::from_secs(3);

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("tls/connection", |c| connection(c).boxed()).full("TestTLSConnection"),
        Scenario::new("tls/client-certificate", |c| client_certificate(c).boxed())
            .full("TestTLSClientCertificate"),
        Scenario::new("tls/verify-without-ca", |c| verify_without_ca(c).boxed())
            .full("TestTLSVerifyClientCertificate"),
        Scenario::new("tls/handshake-timeout", |c| handshake_timeout(c).boxed())
            .full("TestTLSConnectionTimeout")
            .partial("TestTLSTimeoutNotReportSlowConsumer"),
        Scenario::new("tls/auth-short-timeout", |c| auth_short_timeout(c).boxed())
            .full("TestTLSAuthorizationShortTimeout"),
        Scenario::new("tls/bad-auth", |c| bad_auth(c).boxed()).full("TestTLSBadAuthError"),
        Scenario::new("tls/curve-preference", |c| curve_preference(c).boxed())
            .full("TestTLSConnectionCurvePref"),
        Scenario::new("tls/stress-connect", |c| stress_connect(c).boxed())
            .full("TestTLSStressConnect"),
        Scenario::new("tls/handshake-failure-memory", |c| {
            handshake_failure_memory(c).boxed()
        })
        .partial("TestTLSHandshakeFailureMemUsage"),
        Scenario::new("tls/connection-rate", |c| connection_rate(c).boxed())
            .full("TestTLSConnectionRate"),
        Scenario::new("tls/monitoring", |c| monitoring(c).boxed()).partial("TestTLSConnection"),
        Scenario::new("monitoring/https-connz", |c| https_connz(c).boxed()).full("TestTLSConnz"),
        Scenario::new("tls/mixed-tls-and-plain", |c| {
            mixed_tls_and_plain(c).boxed()
        })
        .full("TestClientTLSAndNonTLSConnections"),
    ]
}

/// The server side of test/configs/tls.conf: a certificate, a handshake
/// timeout, and a user with a password.
pub(crate) const TLS_CONF: &str = r#"
tls {
  cert_file: "server-cert.pem"
  key_file: "server-key.pem"
  timeout: 2
}
authorization {
  user: derek
  password: monkey
  timeout: 1
}
"#;

/// test/configs/tlsverify.conf: client certificates required and verified.
pub(crate) const VERIFY_CONF: &str = r#"
tls {
  cert_file: "server-cert.pem"
  key_file: "server-key.pem"
  ca_file: "ca.pem"
  verify: true
  timeout: 2
}
"#;

/// Writes the kit's certificates and returns the path of a file among them.
pub(crate) fn cert_path(ctx: &Ctx, name: &str) -> Result<PathBuf> {
    certs::write_all(ctx)?;
    let (_, contents) = certs::FILES
        .iter()
        .find(|(n, _)| *n == name)
        .context("no such kit file")?;
    ctx.write_file(name, contents)
}

/// Starts a server whose config names the kit's files by name; they are
/// written into the scenario's folder and named by their full path, since
/// a server runs in a folder of its own.
pub(crate) async fn start(ctx: &Ctx, conf: &str) -> Result<Server> {
    let mut conf = conf.to_string();
    for (name, _) in certs::FILES {
        let path = cert_path(ctx, name)?;
        conf = conf.replace(
            &format!("\"{name}\""),
            &format!("{:?}", path.display().to_string()),
        );
    }
    ctx.server(ServerSpec::new().conf(&conf)).await
}

/// The INFO fields a TLS scenario is about.
fn tls_fields(info: &Value) -> Value {
    json!({
        "tls_required": info.get("tls_required"),
        "tls_verify": info.get("tls_verify"),
        "auth_required": info.get("auth_required"),
    })
}

/// async-nats options for a TLS connection, trusting the kit's CA or not.
pub(crate) fn nats_tls(ctx: &Ctx, trust_ca: bool) -> Result<async_nats::ConnectOptions> {
    let mut o = async_nats::ConnectOptions::new().require_tls(true);
    if trust_ca {
        o = o.add_root_certificates(cert_path(ctx, "ca.pem")?);
    }
    Ok(o)
}

/// A message published over TLS comes back to the subscriber on the same
/// connection.
async fn round_trip(nc: &async_nats::Client) -> Result<()> {
    let mut sub = nc.subscribe("foo-tls").await?;
    nc.publish("foo-tls", "We are Secure!".into()).await?;
    nc.flush().await?;
    let msg = tokio::time::timeout(CLOSE_WAIT, sub.next())
        .await
        .context("no message over TLS")?
        .context("subscription ended")?;
    check_eq!(&msg.payload[..], b"We are Secure!");
    Ok(())
}

/// TestTLSConnection: the INFO says TLS is required; a client that does not
/// trust the server's CA cannot connect, with or without credentials; one
/// that does, and authenticates, exchanges messages over TLS.
async fn connection(ctx: Ctx) -> Result<()> {
    let s = start(&ctx, TLS_CONF).await?;
    let (_stream, info) = tls_raw::connect_plain(&s.addr()).await?;
    ctx.observe_json("info", &tls_fields(&info));
    check_eq!(info["tls_required"], json!(true));

    let untrusted = nats_tls(&ctx, false)?.user_and_password("derek".into(), "monkey".into());
    if ctx.client_with(&s, untrusted).await.is_ok() {
        bail!("connected over TLS without trusting the server's CA");
    }
    if ctx.client_with(&s, nats_tls(&ctx, false)?).await.is_ok() {
        bail!("connected over TLS without the CA and without credentials");
    }
    let nc = ctx
        .client_with(
            &s,
            nats_tls(&ctx, true)?.user_and_password("derek".into(), "monkey".into()),
        )
        .await?;
    round_trip(&nc).await?;

    // The same over the raw protocol.
    let (mut c, _, agreed) = tls_raw::connect(&s.addr(), &TlsOptions::default()).await?;
    ctx.observe("tls version", &agreed.version);
    c.send("CONNECT {\"verbose\":false,\"user\":\"derek\",\"pass\":\"monkey\"}\r\nSUB foo 1\r\nPUB foo 2\r\nok\r\n")
        .await?;
    let msgs = c.msgs_until_pong().await?;
    check_eq!(msgs.len(), 1);
    check_eq!(msgs[0].payload, b"ok".to_vec());
    Ok(())
}

/// TestTLSClientCertificate: with `verify: true` the INFO also says
/// `tls_verify`; a client without a certificate is refused, one with a
/// certificate the CA signed gets in.
async fn client_certificate(ctx: Ctx) -> Result<()> {
    let s = start(&ctx, VERIFY_CONF).await?;
    let (_stream, info) = tls_raw::connect_plain(&s.addr()).await?;
    ctx.observe_json("info", &tls_fields(&info));
    check_eq!(info["tls_verify"], json!(true));

    if ctx.client_with(&s, nats_tls(&ctx, true)?).await.is_ok() {
        bail!("connected without a client certificate");
    }
    // Raw: without a certificate the server ends the connection.
    match tls_raw::connect(&s.addr(), &TlsOptions::default()).await {
        Err(_) => ctx.observe("raw without certificate", "handshake failed"),
        Ok((mut c, _, _)) => {
            c.send("CONNECT {}\r\nPING\r\n").await?;
            c.expect_closed(CLOSE_WAIT).await?;
            ctx.observe("raw without certificate", "closed");
        }
    }

    let with_cert = nats_tls(&ctx, true)?.add_client_certificate(
        cert_path(&ctx, "server-cert.pem")?,
        cert_path(&ctx, "server-key.pem")?,
    );
    let nc = ctx.client_with(&s, with_cert).await?;
    round_trip(&nc).await?;

    let (mut c, _, _) = tls_raw::connect(&s.addr(), &TlsOptions::with_client_cert()).await?;
    c.send("CONNECT {\"verbose\":false}\r\n").await?;
    c.flush().await?;
    Ok(())
}

/// TestTLSVerifyClientCertificate: `verify: true` without a `ca_file`
/// starts, but no client certificate signed by a private CA verifies.
async fn verify_without_ca(ctx: Ctx) -> Result<()> {
    let s = start(
        &ctx,
        r#"
tls {
  cert_file: "server-cert.pem"
  key_file: "server-key.pem"
  verify: true
}
"#,
    )
    .await?;
    let (_stream, info) = tls_raw::connect_plain(&s.addr()).await?;
    ctx.observe_json("info", &tls_fields(&info));
    let with_cert = nats_tls(&ctx, true)?.add_client_certificate(
        cert_path(&ctx, "server-cert.pem")?,
        cert_path(&ctx, "server-key.pem")?,
    );
    if ctx.client_with(&s, with_cert).await.is_ok() {
        bail!("a client certificate verified without a CA");
    }
    match tls_raw::connect(&s.addr(), &TlsOptions::with_client_cert()).await {
        Err(_) => ctx.observe("raw with certificate", "handshake failed"),
        Ok((mut c, _, _)) => {
            c.send("CONNECT {}\r\nPING\r\n").await?;
            c.expect_closed(CLOSE_WAIT).await?;
            ctx.observe("raw with certificate", "closed");
        }
    }
    Ok(())
}

/// TestTLSConnectionTimeout: a client that reads the INFO and never starts
/// the handshake is cut off once the TLS timeout passes. The closed
/// connection shows as a TLS handshake error, not a slow consumer
/// (TestTLSTimeoutNotReportSlowConsumer checks that for routes).
async fn handshake_timeout(ctx: Ctx) -> Result<()> {
    let s = start(
        &ctx,
        r#"
http: "127.0.0.1:{{http_port}}"
tls {
  cert_file: "server-cert.pem"
  key_file: "server-key.pem"
  timeout: 0.25
}
"#,
    )
    .await?;
    let (stream, info) = tls_raw::connect_plain(&s.addr()).await?;
    check_eq!(info["tls_required"], json!(true));
    let mut c = crate::kit::RawClient::from_stream(Box::new(stream));
    let rest = c.expect_closed(CLOSE_WAIT).await?;
    ctx.observe("after timeout", &rest);
    if !rest.is_empty() && !rest.contains("-ERR 'Secure Connection - TLS Required") {
        bail!("unexpected bytes after the timeout: {rest:?}");
    }
    let closed = eventually(CLOSE_WAIT, || async {
        let v = ctx.http_json(&s, "/connz?state=closed").await?;
        Ok(v["connections"].as_array().and_then(|a| a.first().cloned()))
    })
    .await?;
    ctx.observe("closed reason", closed["reason"].as_str().unwrap_or(""));
    let varz = ctx.http_json(&s, "/varz").await?;
    check_eq!(varz["slow_consumers"], json!(0));
    if s.logs().contains("Slow Consumer") {
        bail!("a handshake timeout was logged as a slow consumer");
    }
    Ok(())
}

/// TestTLSAuthorizationShortTimeout: the authentication timer starts after
/// the handshake, so a tiny auth timeout does not corrupt the handshake.
async fn auth_short_timeout(ctx: Ctx) -> Result<()> {
    let s = start(
        &ctx,
        r#"
tls {
  cert_file: "server-cert.pem"
  key_file: "server-key.pem"
  timeout: 2
}
authorization {
  user: derek
  password: monkey
  timeout: 0.001
}
"#,
    )
    .await?;
    let untrusted = nats_tls(&ctx, false)?.user_and_password("derek".into(), "monkey".into());
    match ctx.client_with(&s, untrusted).await {
        Ok(_) => bail!("connected without trusting the server's CA"),
        Err(e) if format!("{e:#}").contains("oversized record") => {
            bail!("corrupted TLS handshake: {e:#}")
        }
        Err(_) => {}
    }
    // A raw client that trusts the CA finishes the handshake; then the
    // authentication timeout cuts it off.
    let (mut c, _, _) = tls_raw::connect(&s.addr(), &TlsOptions::default()).await?;
    let err = c.expect_err().await?;
    ctx.observe("error", &err);
    c.expect_closed(CLOSE_WAIT).await?;
    Ok(())
}

/// TestTLSBadAuthError: a wrong password over TLS is an authorization
/// violation, as in plain text.
async fn bad_auth(ctx: Ctx) -> Result<()> {
    let s = start(&ctx, TLS_CONF).await?;
    let bad = nats_tls(&ctx, true)?.user_and_password("derek".into(), "NOT_THE_PASSWORD".into());
    match ctx.client_with(&s, bad).await {
        Ok(_) => bail!("connected with a wrong password"),
        Err(e) => {
            let text = format!("{e:#}").to_lowercase();
            if !text.contains("authorization violation") {
                bail!("expected an authorization violation, got {text}");
            }
        }
    }
    let (mut c, _, _) = tls_raw::connect(&s.addr(), &TlsOptions::default()).await?;
    c.send("CONNECT {\"verbose\":false,\"user\":\"derek\",\"pass\":\"NOT_THE_PASSWORD\"}\r\n")
        .await?;
    let err = c.expect_err().await?;
    ctx.observe("error", &err);
    check_eq!(err.as_str(), "Authorization Violation");
    c.expect_closed(CLOSE_WAIT).await?;
    Ok(())
}

/// TestTLSConnectionCurvePref: with `curve_preferences: ["CurveP256"]` the
/// server agrees on P-256 even with a client that prefers X25519 or P-384,
/// and refuses a client that offers only another curve; without it, it
/// agrees on X25519. A client that does not trust the CA is refused, with
/// or without credentials.
async fn curve_preference(ctx: Ctx) -> Result<()> {
    let offer = TlsOptions {
        kx_groups: tls_raw::groups(&["X25519", "CurveP256"]),
        ..TlsOptions::default()
    };
    let s = start(
        &ctx,
        r#"
tls {
  cert_file: "server-cert.pem"
  key_file: "server-key.pem"
  curve_preferences: ["CurveP256"]
  timeout: 2
}
authorization {
  user: derek
  password: monkey
  timeout: 1
}
"#,
    )
    .await?;
    let (mut c, _, agreed) = tls_raw::connect(&s.addr(), &offer).await?;
    ctx.observe("group with CurveP256 preferred", &agreed.group);
    check_eq!(agreed.group.as_str(), "CurveP256");
    c.send("CONNECT {\"verbose\":false,\"user\":\"derek\",\"pass\":\"monkey\"}\r\n")
        .await?;
    c.flush().await?;
    // Without trusting the CA, with or without credentials: refused.
    let untrusted = nats_tls(&ctx, false)?.user_and_password("derek".into(), "monkey".into());
    if ctx.client_with(&s, untrusted).await.is_ok() {
        bail!("connected without the CA, with credentials");
    }
    if ctx.client_with(&s, nats_tls(&ctx, false)?).await.is_ok() {
        bail!("connected without the CA and without credentials");
    }
    let nc = ctx
        .client_with(
            &s,
            nats_tls(&ctx, true)?.user_and_password("derek".into(), "monkey".into()),
        )
        .await?;
    round_trip(&nc).await?;

    // Only P-256 offered: still fine.
    let p256 = TlsOptions {
        kx_groups: tls_raw::groups(&["CurveP256"]),
        ..TlsOptions::default()
    };
    tls_raw::connect(&s.addr(), &p256).await?;
    // Only X25519 offered: no common group.
    let x25519 = TlsOptions {
        kx_groups: tls_raw::groups(&["X25519"]),
        ..TlsOptions::default()
    };
    let refused = tls_raw::connect(&s.addr(), &x25519).await.is_err();
    ctx.observe("X25519 only refused", refused.to_string());
    check_eq!(refused, true);
    // Only P-384 offered: refused too, so P-256 is the one curve loaded.
    let p384 = TlsOptions {
        kx_groups: tls_raw::groups(&["CurveP384"]),
        ..TlsOptions::default()
    };
    let refused = tls_raw::connect(&s.addr(), &p384).await.is_err();
    ctx.observe("CurveP384 only refused", refused.to_string());
    check_eq!(refused, true);
    // All three offered, P-384 first: the server still picks P-256.
    let all = TlsOptions {
        kx_groups: tls_raw::groups(&["CurveP384", "X25519", "CurveP256"]),
        ..TlsOptions::default()
    };
    let (_, _, agreed) = tls_raw::connect(&s.addr(), &all).await?;
    ctx.observe("group with P-384 offered first", &agreed.group);
    check_eq!(agreed.group.as_str(), "CurveP256");

    let d = start(&ctx, TLS_CONF).await?;
    let (_, _, agreed) = tls_raw::connect(&d.addr(), &offer).await?;
    ctx.observe("group by default", &agreed.group);
    check_eq!(agreed.group.as_str(), "X25519");
    Ok(())
}

/// TestTLSStressConnect: three clients in parallel each connect over TLS 33
/// times, subscribe, publish and get their message back.
async fn stress_connect(ctx: Ctx) -> Result<()> {
    let s = start(
        &ctx,
        r#"
http: "127.0.0.1:{{http_port}}"
tls {
  cert_file: "server-cert.pem"
  key_file: "server-key.pem"
  timeout: 2
}
"#,
    )
    .await?;
    // Files are written once, before any client reads them.
    let base = nats_tls(&ctx, true)?;
    let mut tasks = Vec::new();
    for i in 0..3 {
        let opts = base.clone();
        let url = s.url();
        let addr = s.addr();
        tasks.push(tokio::spawn(async move {
            let mut got = std::collections::BTreeMap::<String, u64>::new();
            let subject = format!("foo.{i}");
            for _ in 0..33 {
                let nc = tokio::time::timeout(
                    CLOSE_WAIT,
                    opts.clone().max_reconnects(Some(0)).connect(&url),
                )
                .await
                .context("connect timed out")?
                .with_context(|| format!("TLS connect to {addr}"))?;
                let mut sub = nc.subscribe(subject.clone()).await?;
                nc.publish(subject.clone(), "secure data".into()).await?;
                let msg = tokio::time::timeout(Duration::from_secs(2), sub.next())
                    .await
                    .context("no message")?
                    .context("subscription ended")?;
                *got.entry(String::from_utf8_lossy(&msg.payload).into_owned())
                    .or_insert(0) += 1;
                drop(sub);
                drop(nc);
            }
            anyhow::Ok(got)
        }));
    }
    let mut got = std::collections::BTreeMap::new();
    for t in tasks {
        for (payload, n) in t.await?? {
            *got.entry(payload).or_insert(0) += n;
        }
    }
    // What the 99 connections were delivered, and what the server counted.
    ctx.observe_json("delivered", &json!(got));
    let varz = eventually(CLOSE_WAIT, || async {
        let v = ctx.http_json(&s, "/varz").await?;
        Ok((v["connections"] == json!(0)).then_some(v))
    })
    .await?;
    let counted = json!({
        "total_connections": varz["total_connections"],
        "in_msgs": varz["in_msgs"],
        "out_msgs": varz["out_msgs"],
        "in_bytes": varz["in_bytes"],
        "out_bytes": varz["out_bytes"],
    });
    ctx.observe_json("varz", &counted);
    check_eq!(counted["total_connections"], json!(99));
    Ok(())
}

/// TestTLSHandshakeFailureMemUsage, client port only: 100 connections that
/// write 1 MB of garbage instead of a handshake do not grow the server's
/// memory by 50 MB or more, and the server keeps serving.
async fn handshake_failure_memory(ctx: Ctx) -> Result<()> {
    use tokio::io::AsyncWriteExt;
    let s = start(
        &ctx,
        r#"
http: "127.0.0.1:{{http_port}}"
tls {
  cert_file: "server-cert.pem"
  key_file: "server-key.pem"
  ca_file: "ca.pem"
  timeout: 5
}
"#,
    )
    .await?;
    let base = ctx.http_json(&s, "/varz").await?["mem"]
        .as_i64()
        .context("varz mem")?;
    let garbage = vec![0u8; 1024 * 1024];
    for _ in 0..100 {
        let mut conn = tokio::net::TcpStream::connect(s.addr()).await?;
        let _ = tokio::time::timeout(Duration::from_millis(10), conn.write_all(&garbage)).await;
        drop(conn);
    }
    let mem = ctx.http_json(&s, "/varz").await?["mem"]
        .as_i64()
        .context("varz mem")?;
    let grown = (mem - base) / (1024 * 1024);
    if grown >= 50 {
        bail!("memory grew by {grown} MB");
    }
    // Each of the 100 is closed; what the server says of them.
    let closed = eventually(CLOSE_WAIT, || async {
        let v = ctx.http_json(&s, "/connz?state=closed&limit=200").await?;
        Ok((v["total"] == json!(100)).then_some(v))
    })
    .await?;
    let mut reasons = std::collections::BTreeMap::<String, u64>::new();
    for c in closed["connections"].as_array().into_iter().flatten() {
        *reasons
            .entry(c["reason"].as_str().unwrap_or("").to_string())
            .or_insert(0) += 1;
    }
    ctx.observe_json("closed reasons", &json!(reasons));
    let nc = ctx.client_with(&s, nats_tls(&ctx, true)?).await?;
    round_trip(&nc).await?;
    let varz = ctx.http_json(&s, "/varz").await?;
    ctx.observe_json(
        "varz",
        &json!({"connections": varz["connections"], "total_connections": varz["total_connections"]}),
    );
    Ok(())
}

/// What monitoring shows of TLS: /varz the client TLS settings, /connz the
/// version and cipher suite of each TLS connection.
async fn monitoring(ctx: Ctx) -> Result<()> {
    let s = start(
        &ctx,
        r#"
http: "127.0.0.1:{{http_port}}"
tls {
  cert_file: "server-cert.pem"
  key_file: "server-key.pem"
  ca_file: "ca.pem"
  verify: true
  timeout: 3
}
"#,
    )
    .await?;
    let varz = ctx.http_json(&s, "/varz").await?;
    let fields = json!({
        "tls_required": varz.get("tls_required"),
        "tls_verify": varz.get("tls_verify"),
        "tls_timeout": varz.get("tls_timeout"),
    });
    ctx.observe_json("varz", &fields);
    check_eq!(fields["tls_required"], json!(true));
    check_eq!(fields["tls_timeout"].as_f64(), Some(3.0));

    let (mut c, _, agreed) = tls_raw::connect(&s.addr(), &TlsOptions::with_client_cert()).await?;
    c.send("CONNECT {\"verbose\":false}\r\n").await?;
    c.flush().await?;
    let connz = ctx.http_json(&s, "/connz").await?;
    let conn = &connz["connections"][0];
    let seen = json!({
        "tls_version": conn.get("tls_version"),
        "tls_cipher_suite": conn.get("tls_cipher_suite"),
    });
    ctx.observe_json("connz", &seen);
    check_eq!(seen["tls_version"], json!(agreed.version));
    check_eq!(seen["tls_cipher_suite"], json!(agreed.cipher_suite));
    // With auth=true, the certificates the client presented.
    let connz = ctx.http_json(&s, "/connz?auth=true").await?;
    let peers = connz["connections"][0]["tls_peer_certs"].clone();
    ctx.observe_json("connz peer certificates", &peers);
    check_eq!(peers[0]["subject"], json!("CN=localhost"));
    check_eq!(peers[0]["cert_sha256"].as_str().map(str::len), Some(64));
    Ok(())
}

/// TestTLSConnectionRate: with `connection_rate_limit: 3` three TLS
/// connections get in within a second; the next ones get an error in plain
/// text after the INFO and are closed, and the server warns about them.
async fn connection_rate(ctx: Ctx) -> Result<()> {
    let s = start(
        &ctx,
        r#"
tls {
  cert_file: "server-cert.pem"
  key_file: "server-key.pem"
  connection_rate_limit: 3
}
"#,
    )
    .await?;
    let opts = nats_tls(&ctx, true)?;
    let mut count = 0;
    while count < 10 {
        match ctx.client_with(&s, opts.clone()).await {
            Ok(nc) => drop(nc),
            Err(_) => break,
        }
        count += 1;
    }
    ctx.observe("connections allowed", count.to_string());
    check_eq!(count, 3);
    let (stream, _) = tls_raw::connect_plain(&s.addr()).await?;
    let mut c = crate::kit::RawClient::from_stream(Box::new(stream));
    let rest = c.expect_closed(CLOSE_WAIT).await?;
    ctx.observe("throttled", &rest);
    check_eq!(
        rest.as_str(),
        "-ERR 'Connection throttling is active. Please try again later.'\r\n"
    );
    s.wait_for_log(
        "connections due to TLS rate limiting",
        Duration::from_secs(2),
    )
    .await?;
    Ok(())
}

/// test/configs/tls.conf with an HTTPS monitoring port: a client over TLS
/// publishes to itself, and `/connz` over HTTPS (presenting a client
/// certificate the port does not ask for) lists it with its traffic.
async fn https_connz(ctx: Ctx) -> Result<()> {
    let conf = format!("https: 127.0.0.1:{{{{http_port}}}}\n{TLS_CONF}");
    let s = start(&ctx, &conf).await?;
    let nc = nats_tls(&ctx, true)?
        .user_and_password("derek".into(), "monkey".into())
        .connect(s.url())
        .await?;
    let mut sub = nc.subscribe("foo").await?;
    nc.publish("foo", "Hello".into()).await?;
    tokio::time::timeout(CLOSE_WAIT, sub.next())
        .await
        .context("no message")?
        .context("subscription ended")?;
    let addr = format!("127.0.0.1:{}", s.ports().http.context("https port")?);
    let (status, body) = tls_raw::https_get(
        &addr,
        "127.0.0.1",
        "/connz",
        &TlsOptions::with_client_cert(),
    )
    .await?;
    check_eq!(status, 200);
    let v: Value = serde_json::from_str(&body)?;
    check_eq!((&v["num_connections"], &v["total"]), (&json!(1), &json!(1)));
    check_eq!(v["connections"].as_array().map(Vec::len), Some(1));
    let c = &v["connections"][0];
    let seen = json!({
        "ip": c["ip"], "num_subscriptions": c["subscriptions"],
        "subscriptions_list": c.get("subscriptions_list"),
        "in_msgs": c["in_msgs"], "out_msgs": c["out_msgs"],
        "in_bytes": c["in_bytes"], "out_bytes": c["out_bytes"],
        "has_times": c["start"].is_string() && c["last_activity"].is_string()
            && c["uptime"].is_string() && c["idle"].is_string(),
        "tls_version": c["tls_version"],
    });
    ctx.observe_json("connection", &seen);
    check_eq!(
        seen,
        json!({
            "ip": "127.0.0.1", "num_subscriptions": 1, "subscriptions_list": null,
            "in_msgs": 1, "out_msgs": 1, "in_bytes": 5, "out_bytes": 5,
            "has_times": true, "tls_version": "1.3",
        })
    );
    ensure!(c["cid"].as_u64().unwrap_or(0) > 0, "no cid");
    ensure!(c["port"].as_u64().unwrap_or(0) > 0, "no port");
    let time = |k: &str| -> Result<std::time::SystemTime> {
        let t = c[k].as_str().with_context(|| format!("no {k}"))?;
        humantime::parse_rfc3339_weak(t).with_context(|| format!("{k} = {t:?} is not RFC 3339"))
    };
    let (started, last) = (time("start")?, time("last_activity")?);
    ensure!(
        last >= started,
        "Expected LastActivity [{last:?}] to be > Start [{started:?}]"
    );
    Ok(())
}

/// With `allow_non_tls`, INFO offers TLS without requiring it: one client
/// connects over TLS, another in plain text, and each gets what the other
/// publishes.
async fn mixed_tls_and_plain(ctx: Ctx) -> Result<()> {
    let conf = r#"
tls {
  cert_file: "server-cert.pem"
  key_file: "server-key.pem"
  ca_file: "ca.pem"
  timeout: 2
}
allow_non_tls: true
"#;
    let s = start(&ctx, conf).await?;
    let (_stream, info) = tls_raw::connect_plain(&s.addr()).await?;
    let fields = json!({
        "tls_required": info.get("tls_required"),
        "tls_available": info.get("tls_available"),
    });
    ctx.observe_json("info", &fields);
    check_eq!(fields, json!({"tls_required": null, "tls_available": true}));

    let (mut secure, _, _) = tls_raw::connect(&s.addr(), &TlsOptions::default()).await?;
    secure
        .send("CONNECT {\"verbose\":false}\r\nSUB foo 1\r\n")
        .await?;
    secure.flush().await?;
    let (mut plain, _) = ctx.raw(&s).await?;
    plain
        .send("CONNECT {\"verbose\":false}\r\nSUB bar 1\r\n")
        .await?;
    plain.flush().await?;
    const N: usize = 100;
    for _ in 0..N {
        plain.send("PUB foo 20\r\nHELLO FROM PLAINTEXT\r\n").await?;
        secure.send("PUB bar 14\r\nHELLO FROM TLS\r\n").await?;
    }
    for (who, c, payload) in [
        ("plain", &mut plain, &b"HELLO FROM TLS"[..]),
        ("secure", &mut secure, &b"HELLO FROM PLAINTEXT"[..]),
    ] {
        let got = c
            .read_msgs(N)
            .await
            .with_context(|| format!("the {who} client's messages"))?;
        check_eq!(got.len(), N);
        ensure!(
            got.iter().all(|m| &m.payload[..] == payload),
            "the {who} client got other payloads"
        );
    }
    ctx.observe("delivered each way", N.to_string());
    Ok(())
}
