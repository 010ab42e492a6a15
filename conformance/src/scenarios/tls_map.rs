//! Scenarios for `verify_and_map` on the client listener (test/tls_test.go):
//! the user a client authenticates as is named by its TLS certificate, by
//! e-mail address, DNS name or URI, or by its subject as a distinguished
//! name (in order, reordered, with domain components). The certificates
//! are the kit's `certs/map/` ones (see `kit::certs::MAP_FILES`), signed by
//! their own CA; the server presents the kit's server certificate. The
//! client is a raw TLS client that presents one of them.

use crate::check_eq;
use crate::kit::raw::{Op, RawClient};
use crate::kit::tls_raw;
use crate::kit::{certs, Ctx, Server, ServerSpec};
use crate::registry::Scenario;
use anyhow::{anyhow, bail, Context, Result};
use futures::FutureExt;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::TlsConnector;

const CLOSE_WAIT: Duration = Duration::from_secs(3);

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("tls-map/email", |c| email(c).boxed())
            .full("TestTLSClientCertificateHasUserID"),
        Scenario::new("tls-map/allowed-connection-types", |c| {
            allowed_connection_types(c).boxed()
        })
        .full("TestTLSClientCertificateCheckWithAllowedConnectionTypes"),
        Scenario::new("tls-map/cn", |c| cn(c).boxed()).full("TestTLSClientCertificateCNBasedAuth"),
        Scenario::new("tls-map/sans", |c| sans(c).boxed())
            .full("TestTLSClientCertificateSANsBasedAuth"),
        Scenario::new("tls-map/multiple-options", |c| multiple_options(c).boxed())
            .full("TestTLSClientCertificateTLSAuthMultipleOptions"),
        Scenario::new("tls-map/rdn-sequence", |c| rdn_sequence(c).boxed())
            .full("TestTLSClientAuthWithRDNSequence"),
        Scenario::new("tls-map/rdn-sequence-reordered", |c| {
            rdn_sequence_reordered(c).boxed()
        })
        .full("TestTLSClientAuthWithRDNSequenceReordered"),
        Scenario::new("tls-map/svid", |c| svid(c).boxed()).full("TestTLSClientSVIDAuth"),
        Scenario::new("tls-map/dn-match", |c| dn_match(c).boxed())
            .partial("TestSuccessfulDNParsing")
            .partial("TestErrorDNParsing")
            .partial("TestDNEqual"),
    ]
}

/// The contents of a kit certificate or key.
fn kit_file(name: &str) -> Result<&'static str> {
    certs::FILES
        .iter()
        .chain(certs::MAP_FILES.iter())
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
        .with_context(|| format!("no kit file {name}"))
}

/// The client `tls` block: the kit's server certificate, client
/// certificates verified against the map CA and mapped to users.
fn tls_block(insecure: bool) -> String {
    let insecure = if insecure { "  insecure: true\n" } else { "" };
    format!(
        "tls {{\n  cert_file: \"server-cert.pem\"\n  key_file: \"server-key.pem\"\n  ca_file: \"mapca.pem\"\n  timeout: 2\n{insecure}  verify_and_map: true\n}}\n"
    )
}

/// Starts a server with the `tls` block and `rest` (its authorization);
/// the certificate files are written into the scenario's folder and named
/// by their full path.
async fn start(ctx: &Ctx, insecure: bool, rest: &str) -> Result<Server> {
    let mut conf = format!("{}{rest}", tls_block(insecure));
    for name in ["server-cert.pem", "server-key.pem", "mapca.pem"] {
        let path = ctx.write_file(name, kit_file(name)?)?;
        conf = conf.replace(
            &format!("\"{name}\""),
            &format!("{:?}", path.display().to_string()),
        );
    }
    ctx.server(ServerSpec::new().conf(&conf)).await
}

/// Opens a TLS connection (after the plain INFO) presenting the kit's
/// client certificate `cert` of the map CA.
async fn connect_as(s: &Server, cert: &str) -> Result<RawClient> {
    let (stream, _info) = tls_raw::connect_plain(&s.addr()).await?;
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(kit_file("ca.pem")?.as_bytes()) {
        roots.add(c.context("kit CA")?)?;
    }
    let chain = CertificateDer::pem_slice_iter(kit_file(cert)?.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .context("client certificate")?;
    let key = PrivateKeyDer::from_pem_slice(kit_file("client-key.pem")?.as_bytes())
        .context("client key")?;
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)?;
    let name = ServerName::try_from("localhost").expect("a valid name");
    let tls = tokio::time::timeout(
        CLOSE_WAIT,
        TlsConnector::from(Arc::new(config)).connect(name, stream),
    )
    .await
    .map_err(|_| anyhow!("TLS handshake timed out"))?
    .context("TLS handshake")?;
    Ok(RawClient::from_stream(Box::new(tls)))
}

/// Sends CONNECT (with `fields`) and PING: "ok" when the PONG comes, else
/// the error the server sent before closing the connection.
async fn login_with(c: &mut RawClient, fields: &str) -> Result<String> {
    c.send(&format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false{fields}}}\r\nPING\r\n"
    ))
    .await?;
    loop {
        match c.read_op().await? {
            Op::Pong => return Ok("ok".into()),
            Op::Info(_) => {}
            Op::Err(e) => {
                c.expect_closed(CLOSE_WAIT).await?;
                return Ok(e);
            }
            other => bail!("unexpected {other:?} after CONNECT"),
        }
    }
}

async fn login(c: &mut RawClient) -> Result<String> {
    login_with(c, "").await
}

/// Connects with `cert` and expects to be let in.
async fn logged_in(ctx: &Ctx, s: &Server, who: &str, cert: &str) -> Result<RawClient> {
    let mut c = connect_as(s, cert).await?;
    let outcome = login(&mut c).await?;
    ctx.observe(&format!("{who} connect"), &outcome);
    check_eq!(outcome.as_str(), "ok");
    Ok(c)
}

/// What arrives before the PONG of a PING, one line each: `MSG <subject>`
/// or `-ERR <text>`.
async fn seen(c: &mut RawClient) -> Result<Vec<String>> {
    Ok(c.ops_until_pong()
        .await?
        .into_iter()
        .map(|op| match op {
            Op::Msg(m) => format!("MSG {}", m.subject),
            Op::Err(e) => format!("-ERR {e}"),
            other => format!("{other:?}"),
        })
        .collect())
}

/// Sends `proto` and returns what arrives before the PONG of a PING.
async fn send_seen(ctx: &Ctx, c: &mut RawClient, who: &str, proto: &str) -> Result<Vec<String>> {
    c.send(proto).await?;
    let got = seen(c).await?;
    ctx.observe(&format!("{who}: {}", proto.trim_end()), got.join(" | "));
    Ok(got)
}

fn violation(op: &str, subject: &str) -> String {
    format!("-ERR Permissions Violation for {op} to \"{subject}\"")
}

/// TestTLSClientCertificateHasUserID: a certificate whose e-mail address
/// is a user's name connects as that user (with its permissions); one that
/// names no user is an authorization violation. A user name in the
/// CONNECT is ignored, with Go's warning.
async fn email(ctx: Ctx) -> Result<()> {
    let s = start(
        &ctx,
        false,
        "authorization {\n  users = [\n    {user: derek@nats.io, permissions: { publish:\"foo\" }}\n  ]\n}\n",
    )
    .await?;
    let mut c = logged_in(&ctx, &s, "derek", "id.pem").await?;
    let got = send_seen(
        &ctx,
        &mut c,
        "derek",
        "PUB foo 2\r\nhi\r\nPUB bar 2\r\nhi\r\n",
    )
    .await?;
    check_eq!(got, vec![violation("Publish", "bar")]);

    let mut other = connect_as(&s, "cn-nats.pem").await?;
    let outcome = login(&mut other).await?;
    ctx.observe("unmapped connect", &outcome);
    check_eq!(outcome.as_str(), "Authorization Violation");
    let logged = crate::kit::eventually(CLOSE_WAIT, || async {
        Ok(s.logs()
            .lines()
            .find(|l| l.contains("authentication error"))
            .map(|l| l[l.find("[ERR]").unwrap_or(0)..].to_string()))
    })
    .await
    .context("no authentication error in the log")?;
    ctx.observe("unmapped log", &logged);
    if !logged.ends_with(" - authentication error - User \"\"") {
        bail!("unexpected log line {logged:?}");
    }

    let mut named = connect_as(&s, "id.pem").await?;
    let outcome = login_with(&mut named, ",\"user\":\"someone\",\"pass\":\"\"").await?;
    ctx.observe("derek named someone", &outcome);
    check_eq!(outcome.as_str(), "ok");
    let warning = "[WRN] User \"someone\" found in connect proto, but user required from cert";
    crate::kit::eventually(CLOSE_WAIT, || async {
        Ok(s.logs().contains(warning).then_some(()))
    })
    .await
    .with_context(|| format!("no {warning:?} in the log"))?;
    Ok(())
}

/// TestTLSClientCertificateCheckWithAllowedConnectionTypes: the user a
/// certificate maps to must allow the client's connection type; a user
/// allowed only WEBSOCKET refuses a TLS client, one allowed STANDARD
/// takes it.
async fn allowed_connection_types(ctx: Ctx) -> Result<()> {
    for (types, want) in [
        ("[\"WEBSOCKET\"]", "Authorization Violation"),
        ("[\"STANDARD\"]", "ok"),
    ] {
        let s = start(
            &ctx,
            false,
            &format!("authorization {{\n  users = [\n    {{user: derek@nats.io, permissions: {{ publish:\"foo\" }}, allowed_connection_types: {types}}}\n  ]\n}}\n"),
        )
        .await?;
        let mut c = connect_as(&s, "id.pem").await?;
        let outcome = login(&mut c).await?;
        ctx.observe(&format!("allowed {types}"), &outcome);
        check_eq!(outcome.as_str(), want);
    }
    Ok(())
}

/// TestTLSClientCertificateCNBasedAuth: users named by subject; the
/// default permissions (public.>) hold for one, the other may do anything.
async fn cn(ctx: Ctx) -> Result<()> {
    let s = start(
        &ctx,
        false,
        r#"authorization {
  permissions {
    publish { allow = ["public.>"] }
    subscribe { allow = ["public.>"] }
  }
  users [
    { user = "CN=example.com,OU=NATS.io" }
    { user = "CN=example.com,OU=CoreTeam", permissions = {
        publish { allow = [">"] }
        subscribe { allow = [">"] }
      }
    }
  ]
}
"#,
    )
    .await?;
    let mut nc1 = logged_in(&ctx, &s, "nats.io", "cn-nats.pem").await?;
    let mut nc2 = logged_in(&ctx, &s, "coreteam", "cn-core.pem").await?;
    let got = send_seen(
        &ctx,
        &mut nc1,
        "nats.io",
        "PUB foo.bar 2\r\nhi\r\nSUB foo.> 1\r\n",
    )
    .await?;
    check_eq!(
        got,
        vec![
            violation("Publish", "foo.bar"),
            violation("Subscription", "foo.>")
        ]
    );
    check_eq!(
        send_seen(&ctx, &mut nc2, "coreteam", "SUB > 1\r\n").await?,
        Vec::<String>::new()
    );
    let got = send_seen(&ctx, &mut nc2, "coreteam", "PUB hello 2\r\nhi\r\n").await?;
    check_eq!(got, vec!["MSG hello".to_string()]);
    Ok(())
}

/// Default permissions `public.>` for the subject user; `prod` may do
/// anything, `dev` publishes in `sandbox.>` and `public.>` and subscribes
/// in `sandbox.>`.
const PROD_PERMS: &str =
    "permissions = { publish { allow = [\">\"] }, subscribe { allow = [\">\"] } }";
const DEV_PERMS: &str = "permissions = { publish { allow = [\"sandbox.>\", \"public.>\"] }, subscribe { allow = [\"sandbox.>\"] } }";

fn san_conf(users: &[(&str, &str)]) -> String {
    let users: String = users
        .iter()
        .map(|(u, p)| {
            let sep = if p.is_empty() { "" } else { ", " };
            format!("    {{ user = \"{u}\"{sep}{p} }}\n")
        })
        .collect();
    format!(
        "authorization {{\n  permissions {{\n    publish {{ allow = [\"public.>\"] }}\n    subscribe {{ allow = [\"public.>\"] }}\n  }}\n  users [\n{users}  ]\n}}\n"
    )
}

/// The exchange of the SAN tests between a default, a dev and a prod
/// client, each connected with its certificate: every permission error
/// goes to default and dev, none to prod, and every allowed message
/// arrives.
async fn three_clients(
    ctx: &Ctx,
    s: &Server,
    default_cert: &str,
    dev_cert: &str,
    prod_cert: &str,
) -> Result<()> {
    let mut default = logged_in(ctx, s, "default", default_cert).await?;
    let mut dev = logged_in(ctx, s, "dev", dev_cert).await?;
    let mut prod = logged_in(ctx, s, "prod", prod_cert).await?;

    let got = send_seen(
        ctx,
        &mut dev,
        "dev",
        "PUB foo.bar 2\r\nhi\r\nSUB foo.> 1\r\n",
    )
    .await?;
    check_eq!(
        got,
        vec![
            violation("Publish", "foo.bar"),
            violation("Subscription", "foo.>")
        ]
    );
    check_eq!(
        send_seen(ctx, &mut prod, "prod", "SUB > 1\r\n").await?,
        Vec::<String>::new()
    );
    let got = send_seen(ctx, &mut prod, "prod", "PUB hello 2\r\nhi\r\n").await?;
    check_eq!(got, vec!["MSG hello".to_string()]);

    check_eq!(
        send_seen(ctx, &mut dev, "dev", "SUB sandbox.> 2\r\n").await?,
        Vec::<String>::new()
    );
    let got = send_seen(ctx, &mut dev, "dev", "PUB sandbox.foo.bar 3\r\nhi!\r\n").await?;
    check_eq!(got, vec!["MSG sandbox.foo.bar".to_string()]);
    check_eq!(
        seen(&mut prod).await?,
        vec!["MSG sandbox.foo.bar".to_string()]
    );

    let got = send_seen(
        ctx,
        &mut default,
        "default",
        "SUB sandbox.> 1\r\nSUB public.> 2\r\n",
    )
    .await?;
    check_eq!(got, vec![violation("Subscription", "sandbox.>")]);
    let got = send_seen(ctx, &mut dev, "dev", "PUB public.foo.bar 3\r\nhi!\r\n").await?;
    check_eq!(got, Vec::<String>::new());
    check_eq!(
        seen(&mut default).await?,
        vec!["MSG public.foo.bar".to_string()]
    );
    check_eq!(
        seen(&mut prod).await?,
        vec!["MSG public.foo.bar".to_string()]
    );
    Ok(())
}

/// TestTLSClientCertificateSANsBasedAuth: a certificate's DNS names are
/// looked up as users; one without maps by its subject.
async fn sans(ctx: Ctx) -> Result<()> {
    let conf = san_conf(&[
        ("CN=www.nats.io", ""),
        ("app.nats.prod", PROD_PERMS),
        ("app.nats.dev", DEV_PERMS),
    ]);
    let s = start(&ctx, false, &conf).await?;
    three_clients(&ctx, &s, "san-none.pem", "san-dev.pem", "san-prod.pem").await
}

/// TestTLSClientCertificateTLSAuthMultipleOptions: DNS names that are no
/// users fall back to the subject; an e-mail address (the second one)
/// names a user; a wildcard DNS name (not the first) names a user as it
/// is written.
async fn multiple_options(ctx: Ctx) -> Result<()> {
    let conf = san_conf(&[
        ("CN=www.nats.io", ""),
        ("*.app.nats.prod", PROD_PERMS),
        ("root@app.nats.dev", DEV_PERMS),
    ]);
    let s = start(&ctx, false, &conf).await?;
    three_clients(&ctx, &s, "san-dev.pem", "san-dev-email.pem", "san-prod.pem").await
}

/// One case of the table-driven Go tests: the users, the certificate, and
/// whether the client connects and then receives what it publishes to a
/// subject it subscribes to.
struct Case {
    name: &'static str,
    users: &'static [&'static str],
    cert: &'static str,
    connects: bool,
    responds: bool,
}

async fn run_cases(ctx: &Ctx, insecure: bool, cases: &[Case]) -> Result<()> {
    for case in cases {
        let users: String = case
            .users
            .iter()
            .map(|u| format!("    {{ user = {u} }}\n"))
            .collect();
        let mut s = start(
            ctx,
            insecure,
            &format!("authorization {{\n  users = [\n{users}  ]\n}}\n"),
        )
        .await?;
        let mut c = connect_as(&s, case.cert).await?;
        let outcome = login(&mut c).await?;
        ctx.observe(&format!("{} connect", case.name), &outcome);
        let want = if case.connects {
            "ok"
        } else {
            "Authorization Violation"
        };
        if outcome != want {
            bail!("{}: connect gave {outcome:?}, want {want:?}", case.name);
        }
        if case.connects {
            c.send("SUB ping 1\r\nPUB ping 4\r\nping\r\n").await?;
            let got = seen(&mut c).await?;
            ctx.observe(&format!("{} ping", case.name), got.join(" | "));
            let responded = got.iter().any(|l| l == "MSG ping");
            if responded != case.responds {
                bail!("{}: ping gave {got:?}", case.name);
            }
        }
        s.stop().await?;
    }
    Ok(())
}

/// TestTLSClientAuthWithRDNSequence.
async fn rdn_sequence(ctx: Ctx) -> Result<()> {
    const FULL: &str = r#""CN=localhost,OU=NATS,O=NATS,L=Los Angeles,ST=CA,C=US,DC=foo1,DC=foo2""#;
    const ORIGINAL: &str =
        r#""DC=foo2,DC=foo1,CN=localhost,OU=NATS,O=NATS,L=Los Angeles,ST=CA,C=US""#;
    const NO_DCS: &str = r#""CN=localhost,OU=NATS,O=NATS,L=Los Angeles,ST=CA,C=US""#;
    const NO_DCS_DENIED: &str = r#""CN=localhost,OU=NATS,O=NATS,L=Los Angeles,ST=CA,C=US", permissions = { subscribe = { deny = ">" }}"#;
    const D_GO_ORDER_DENIED: &str = r#""CN=*.example.com,OU=NATS,O=NATS,L=Los Angeles,ST=CA,C=US,DC=example,DC=com", permissions = { subscribe = { deny = ">" }}"#;
    const D_NO_DCS_DENIED: &str = r#""CN=*.example.com,OU=NATS,O=NATS,L=Los Angeles,ST=CA,C=US", permissions = { subscribe = { deny = ">" }}"#;
    let cases = [
        Case {
            name: "full RDN sequence",
            users: &[FULL],
            cert: "rdn-a.pem",
            connects: true,
            responds: true,
        },
        Case {
            name: "full RDN sequence in original order",
            users: &[ORIGINAL],
            cert: "rdn-a.pem",
            connects: true,
            responds: true,
        },
        Case {
            name: "partial RDN sequence has different permissions",
            users: &[ORIGINAL, FULL, NO_DCS_DENIED],
            cert: "rdn-b.pem",
            connects: true,
            responds: false,
        },
        Case {
            name: "RDN sequence partially matches",
            users: &[ORIGINAL, FULL, NO_DCS],
            cert: "rdn-c.pem",
            connects: true,
            responds: true,
        },
        Case {
            name: "RDN sequence does not match",
            users: &[FULL, ORIGINAL],
            cert: "rdn-c.pem",
            connects: false,
            responds: false,
        },
        Case {
            name: "spaces after commas do not matter",
            users: &[
                r#""DC=foo2, DC=foo1, CN=localhost, OU=NATS, O=NATS, L=Los Angeles, ST=CA, C=US""#,
            ],
            cert: "rdn-a.pem",
            connects: true,
            responds: true,
        },
        Case {
            name: "full RDN sequence respects order",
            users: &[
                r#""DC=com, DC=example, CN=*.example.com, O=NATS, OU=NATS, L=Los Angeles, ST=CA, C=US""#,
            ],
            cert: "rdn-d.pem",
            connects: true,
            responds: true,
        },
        Case {
            name: "Go's order with domain components also matches",
            users: &[
                r#""CN=*.example.com,OU=NATS,O=NATS,L=Los Angeles,ST=CA,C=US,DC=example,DC=com""#,
            ],
            cert: "rdn-d.pem",
            connects: true,
            responds: true,
        },
        Case {
            name: "the DN in order takes precedence",
            users: &[
                D_GO_ORDER_DENIED,
                r#""DC=com,DC=example,CN=*.example.com,O=NATS,OU=NATS,L=Los Angeles,ST=CA,C=US""#,
                D_NO_DCS_DENIED,
            ],
            cert: "rdn-d.pem",
            connects: true,
            responds: true,
        },
        Case {
            name: "several CN elements",
            users: &[r#""DC=com,DC=acme,OU=Organic Units,OU=Users,CN=jdoe,CN=123456,CN=John Doe""#],
            cert: "rdn-e.pem",
            connects: true,
            responds: true,
        },
        Case {
            name: "a multi-value RDN",
            users: &[r#""CN=John Doe,DC=DEV+O=users,DC=OpenSSL,DC=org""#],
            cert: "rdn-f.pem",
            connects: true,
            responds: true,
        },
        Case {
            name: "a multi-value RDN with no match",
            users: &[r#""CN=John Doe,DC=DEV,DC=OpenSSL,DC=org""#],
            cert: "rdn-f.pem",
            connects: false,
            responds: false,
        },
        Case {
            name: "a multi-value RDN reordered inside",
            users: &[r#""CN=John Doe,O=users+DC=DEV,DC=OpenSSL,DC=org""#],
            cert: "rdn-f.pem",
            connects: true,
            responds: true,
        },
    ];
    run_cases(&ctx, false, &cases).await
}

/// TestTLSClientAuthWithRDNSequenceReordered.
async fn rdn_sequence_reordered(ctx: Ctx) -> Result<()> {
    let cases = [
        Case {
            name: "RDNs reordered",
            users: &[r#""DC=org,DC=OpenSSL,O=users+DC=DEV,CN=John Doe""#],
            cert: "rdn-f.pem",
            connects: true,
            responds: true,
        },
        Case {
            name: "RDNs reordered but not equal",
            users: &[r#""DC=org,DC=OpenSSL,O=users,CN=John Doe""#],
            cert: "rdn-f.pem",
            connects: false,
            responds: false,
        },
        Case {
            name: "RDNs reordered with spaces but not equal",
            users: &[r#""DC=OpenSSL, DC=org, O=users, CN=John Doe""#],
            cert: "rdn-f.pem",
            connects: false,
            responds: false,
        },
    ];
    run_cases(&ctx, false, &cases).await
}

/// TestTLSClientSVIDAuth: a SPIFFE ID (a URI name) names the user; a
/// subject still maps when no URI is a user.
async fn svid(ctx: Ctx) -> Result<()> {
    const USER_A: &str = r#""spiffe://localhost/my-nats-service/user-a""#;
    const USER_B_DENIED: &str = r#""spiffe://localhost/my-nats-service/user-b", permissions = { subscribe = { deny = ">" }}"#;
    let cases = [
        Case {
            name: "certificate with URIs",
            users: &[USER_A],
            cert: "svid-a.pem",
            connects: true,
            responds: true,
        },
        Case {
            name: "limited permissions",
            users: &[USER_A, USER_B_DENIED],
            cert: "svid-b.pem",
            connects: true,
            responds: false,
        },
        Case {
            name: "no URI user still matches the subject",
            users: &[r#""O=SPIRE,C=US""#],
            cert: "svid-b.pem",
            connects: true,
            responds: true,
        },
        Case {
            name: "no user",
            users: &[r#""spiffe://localhost/my-nats-service/user-c""#],
            cert: "svid-a.pem",
            connects: false,
            responds: false,
        },
    ];
    run_cases(&ctx, true, &cases).await
}

/// internal/ldap/dn_test.go, as it shows through mapping: a user name is
/// parsed as a DN (escapes, spaces around types and values) and compared
/// with the certificate's subject (types without case, values exactly);
/// a name that does not parse maps no certificate.
async fn dn_match(ctx: Ctx) -> Result<()> {
    let ok = |name, user| Case {
        name,
        users: user,
        cert: "rdn-f.pem",
        connects: true,
        responds: true,
    };
    let refused = |name, user| Case {
        name,
        users: user,
        cert: "rdn-f.pem",
        connects: false,
        responds: false,
    };
    let cases = [
        ok(
            "types compare without case",
            &[r#""cn=John Doe,dc=DEV+o=users,dc=OpenSSL,dc=org""#],
        ),
        refused(
            "values compare with case",
            &[r#""CN=john doe,DC=DEV+O=users,DC=OpenSSL,DC=org""#],
        ),
        ok(
            "a hex escape",
            &[r#"'CN=\4Aohn\20Doe,DC=DEV+O=users,DC=OpenSSL,DC=org'"#],
        ),
        ok(
            "spaces around types and values",
            &[r#""  CN  =  John Doe  ,  DC = DEV + O = users , DC=OpenSSL,DC=org  ""#],
        ),
        refused(
            "an escaped space is kept",
            &[r#"'CN=John Doe\ ,DC=DEV+O=users,DC=OpenSSL,DC=org'"#],
        ),
        refused(
            "a corrupted escape",
            &[r#"'CN=John Doe,DC=DEV+O=users,DC=OpenSSL,DC=org\4'"#],
        ),
        refused(
            "an invalid hex escape",
            &[r#"'CN=John Doe,DC=DEV+O=users,DC=OpenSSL,DC=or\6G'"#],
        ),
        refused(
            "a BER value",
            &[r#""CN=John Doe,DC=DEV+O=users,DC=OpenSSL,DC=#6f7267""#],
        ),
        refused(
            "a value without a type",
            &[r#""CN=John Doe,DC=DEV+O=users,DC=OpenSSL,org""#],
        ),
    ];
    run_cases(&ctx, false, &cases).await
}
