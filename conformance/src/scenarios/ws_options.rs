//! The `websocket {}` block as the config parser takes it
//! (server/websocket_test.go's TestWSParseOptions): each bad block is
//! refused by `-t` with Go's error, and each good block's values show in
//! `/varz` (or, for the TLS block and the authorization block, in how the
//! listener serves clients) once a server runs it.

use crate::check_eq;
use crate::kit::tls_raw::TlsOptions;
use crate::kit::ws::{Upgrade, WsClient};
use crate::kit::{check_config, Ctx, Server, ServerSpec};
use crate::registry::Scenario;
use anyhow::{ensure, Result};
use futures::FutureExt;
use serde_json::{json, Value};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("websocket/parse-options", |c| parse_options(c).boxed()).partial_because(
            "TestWSParseOptions",
            "the jwt_cookie value shows in /varz only on a server with trusted keys, and natsd refuses operator mode at start-up; the block is checked valid by -t",
        ),
    ]
}

/// Go's bad blocks and a part of the error each must give.
const REFUSED: [(&str, &str, &str); 12] = [
    ("bad type", "websocket: []", "to be a map"),
    (
        "bad listen",
        "websocket: { listen: [] }",
        "port or host:port",
    ),
    ("bad port", r#"websocket: { port: "abc" }"#, "not int64"),
    ("bad host", "websocket: { host: 123 }", "not string"),
    (
        "bad advertise type",
        "websocket: { advertise: 123 }",
        "not string",
    ),
    (
        "bad tls",
        "websocket: { tls: 123 }",
        "not map[string]interface {}",
    ),
    (
        "bad same origin",
        r#"websocket: { same_origin: "abc" }"#,
        "not bool",
    ),
    (
        "bad allowed origins type",
        "websocket: { allowed_origins: {} }",
        "unsupported type",
    ),
    (
        "bad allowed origins values",
        "websocket: { allowed_origins: [ {} ] }",
        "unsupported type in array",
    ),
    (
        "bad handshake timeout type",
        "websocket: { handshake_timeout: [] }",
        "unsupported type",
    ),
    (
        "bad handshake timeout duration",
        r#"websocket: { handshake_timeout: "abc" }"#,
        "invalid duration",
    ),
    (
        "unknown field",
        "websocket: { this_does_not_exist: 123 }",
        "unknown",
    ),
];

/// A good block (the inside of `websocket {}` as Go's test has it, with
/// its port 1234 taken from the allocator), what a running server needs
/// beside it, and the `/varz` field it sets with the value expected.
struct Accepted {
    name: &'static str,
    block: &'static str,
    /// More of the block, or other options, that a server needs to run it.
    run_with: &'static str,
    field: &'static str,
    want: fn(&Server) -> Value,
}

const ACCEPTED: [Accepted; 12] = [
    Accepted {
        name: "listen port only",
        block: "listen: {{ws_port}}",
        run_with: "no_tls: true",
        field: "port",
        want: ws_port,
    },
    Accepted {
        name: "listen host and port",
        block: r#"listen: "localhost:{{ws_port}}""#,
        run_with: "no_tls: true",
        field: "host",
        want: |_| json!("localhost"),
    },
    Accepted {
        name: "host",
        block: r#"host: "localhost""#,
        run_with: "port: {{ws_port}}, no_tls: true",
        field: "host",
        want: |_| json!("localhost"),
    },
    Accepted {
        name: "port",
        block: "port: {{ws_port}}",
        run_with: "no_tls: true",
        field: "port",
        want: ws_port,
    },
    Accepted {
        name: "advertise",
        block: r#"advertise: "host:1234""#,
        run_with: "port: {{ws_port}}, no_tls: true",
        field: "advertise",
        want: |_| json!("host:1234"),
    },
    Accepted {
        name: "same origin",
        block: "same_origin: true",
        run_with: "port: {{ws_port}}, no_tls: true",
        field: "same_origin",
        want: |_| json!(true),
    },
    Accepted {
        name: "allowed origins one only",
        block: r#"allowed_origins: "https://host.com/""#,
        run_with: "port: {{ws_port}}, no_tls: true",
        field: "allowed_origins",
        want: |_| json!(["https://host.com/"]),
    },
    Accepted {
        name: "allowed origins array",
        block: "allowed_origins: [\n  \"https://host1.com/\"\n  \"https://host2.com/\"\n]",
        run_with: "port: {{ws_port}}, no_tls: true",
        field: "allowed_origins",
        want: |_| json!(["https://host1.com/", "https://host2.com/"]),
    },
    Accepted {
        name: "handshake timeout in whole seconds",
        block: "handshake_timeout: 3",
        run_with: "port: {{ws_port}}, no_tls: true",
        field: "handshake_timeout",
        want: |_| json!(3_000_000_000u64),
    },
    Accepted {
        name: "handshake timeout n duration",
        block: r#"handshake_timeout: "4s""#,
        run_with: "port: {{ws_port}}, no_tls: true",
        field: "handshake_timeout",
        want: |_| json!(4_000_000_000u64),
    },
    Accepted {
        name: "compression",
        block: "compression: true",
        run_with: "port: {{ws_port}}, no_tls: true",
        field: "compression",
        want: |_| json!(true),
    },
    Accepted {
        name: "auth timeout as int",
        block: "authorization {\n  timeout: 2\n}",
        run_with: "port: {{ws_port}}, no_tls: true",
        field: "auth_timeout",
        want: |_| json!(2),
    },
];

fn ws_port(s: &Server) -> Value {
    json!(s.ports().ws.unwrap_or(0))
}

/// Starts a server with the websocket block `inner` and `outside` it.
async fn serve(ctx: &Ctx, inner: &str, outside: &str) -> Result<Server> {
    ctx.server(ServerSpec::new().conf(&format!(
        "http: 127.0.0.1:{{{{http_port}}}}\n{outside}websocket {{\n{inner}\n}}\n"
    )))
    .await
}

/// What `-t` says of `websocket { block }` (the port Go's test wrote).
async fn checked(ctx: &Ctx, name: &str, block: &str) -> Result<String> {
    let body = format!(
        "websocket {{\n{}\n}}\n",
        block.replace("{{ws_port}}", "1234")
    );
    check_config(ctx, name, &body).await
}

const VALID: &str = "exit 0: configuration file <conf> is valid";

async fn parse_options(ctx: Ctx) -> Result<()> {
    for (name, content, part) in REFUSED {
        let said = check_config(&ctx, name, content).await?;
        ensure!(
            said.starts_with("exit 1: ") && said.contains(part),
            "For content: {content:?}, expected error about {part:?}, got {said:?}"
        );
    }
    for case in &ACCEPTED {
        check_eq!(checked(&ctx, case.name, case.block).await?, VALID);
        let s = serve(&ctx, &format!("{}\n{}", case.block, case.run_with), "").await?;
        let varz = ctx.http_json(&s, "/varz").await?;
        let got = &varz["websocket"][case.field];
        ctx.observe_json(
            &format!("{}: varz websocket {}", case.name, case.field),
            got,
        );
        ensure!(
            *got == (case.want)(&s),
            "Incorrect option for {}: {} is {got}",
            case.name,
            case.field
        );
    }
    tls_block(&ctx).await?;
    auth_block(&ctx).await?;
    no_auth_user(&ctx).await?;
    // jwt_cookie: valid, but a server runs it only with trusted keys.
    check_eq!(
        checked(&ctx, "jwt cookie", "jwt_cookie: \"jwtcookie\"").await?,
        VALID
    );
    Ok(())
}

/// "tls config": the listener serves wss with the block's certificate
/// (without a TLS block, or no_tls, the server would refuse to start).
async fn tls_block(ctx: &Ctx) -> Result<()> {
    let path = |name| {
        crate::scenarios::tls::cert_path(ctx, name)
            .map(|p| format!("{:?}", p.display().to_string()))
    };
    let block = format!(
        "port: {{{{ws_port}}}}\ntls {{\n  cert_file: {}\n  key_file: {}\n}}",
        path("server-cert.pem")?,
        path("server-key.pem")?
    );
    check_eq!(checked(ctx, "tls config", &block).await?, VALID);
    let s = serve(ctx, &block, "").await?;
    let up = Upgrade {
        tls: Some(TlsOptions::default()),
        ..Default::default()
    };
    WsClient::connect_nats(&s.ws_addr()?, &up, r#"{"verbose":false}"#).await?;
    Ok(())
}

/// "auth block": its timeout shows in /varz; its token admits a websocket
/// client (a token, when set, is what Go checks); without the token, its
/// user and password do.
async fn auth_block(ctx: &Ctx) -> Result<()> {
    let auth = "authorization {\n  user: \"webuser\"\n  password: \"pwd\"\n  token: \"token\"\n  timeout: 2.0\n}";
    check_eq!(checked(ctx, "auth block", auth).await?, VALID);
    let s = serve(
        ctx,
        &format!("{auth}\nport: {{{{ws_port}}}}, no_tls: true"),
        "",
    )
    .await?;
    let varz = ctx.http_json(&s, "/varz").await?;
    ctx.observe_json(
        "auth block: varz websocket auth_timeout",
        &varz["websocket"]["auth_timeout"],
    );
    check_eq!(varz["websocket"]["auth_timeout"], json!(2));
    admits(&s, r#""auth_token":"token""#, r#""auth_token":"x""#).await?;
    let s = serve(
        ctx,
        &format!(
            "{}\nport: {{{{ws_port}}}}, no_tls: true",
            auth.replace("  token: \"token\"\n", "")
        ),
        "",
    )
    .await?;
    admits(
        &s,
        r#""user":"webuser","pass":"pwd""#,
        r#""user":"webuser","pass":"x""#,
    )
    .await
}

/// A websocket client with the credentials `good` (CONNECT fields) is
/// admitted, one with `bad` is not.
async fn admits(s: &Server, good: &str, bad: &str) -> Result<()> {
    let addr = s.ws_addr()?;
    let up = Upgrade::default();
    WsClient::connect_nats(&addr, &up, &format!(r#"{{"verbose":false,{good}}}"#)).await?;
    let wrong = WsClient::connect_nats(&addr, &up, &format!(r#"{{"verbose":false,{bad}}}"#)).await;
    ensure!(wrong.is_err(), "credentials {bad} were accepted");
    Ok(())
}

/// "no auth user": the block's no_auth_user (a configured user) shows in
/// /varz and a websocket client without credentials is admitted.
async fn no_auth_user(ctx: &Ctx) -> Result<()> {
    let block = "no_auth_user: \"noauthuser\"";
    check_eq!(checked(ctx, "no auth user", block).await?, VALID);
    let s = serve(
        ctx,
        &format!("{block}\nport: {{{{ws_port}}}}, no_tls: true"),
        "authorization { users [ {user: noauthuser, password: pwd} ] }\n",
    )
    .await?;
    let varz = ctx.http_json(&s, "/varz").await?;
    ctx.observe_json(
        "no auth user: varz websocket no_auth_user",
        &varz["websocket"]["no_auth_user"],
    );
    check_eq!(varz["websocket"]["no_auth_user"], json!("noauthuser"));
    WsClient::connect_nats(&s.ws_addr()?, &Upgrade::default(), r#"{"verbose":false}"#).await?;
    Ok(())
}
