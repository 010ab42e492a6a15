//! Scenarios for client authentication and authorization: tokens, users and
//! passwords (plain and bcrypt), nkeys signing the server's nonce, per-user
//! publish/subscribe permissions, response permissions, no_auth_user and the
//! authentication timeout. Everything goes through a config file and the socket.

use crate::check_eq;
use crate::kit::{b64url, Ctx, Msg, Op, RawClient, Server, ServerSpec, Then};
use crate::registry::Scenario;
use anyhow::{Context, Result};
use futures::FutureExt;
use serde_json::Value;
use std::time::Duration;

/// A user password and its bcrypt hash (cost 4).
const BCRYPT_PASS: &str = "IW@$6v(y1(t@fhPDvf!5^%";
const BCRYPT_PASS_HASH: &str = "$2a$04$Q.CgCP2Sl9pkcTXEZHazaeMwPaAkSHk7AI51HkyMt5iJQQyUA4qxq";
/// A token and its bcrypt hash (cost 4).
const BCRYPT_TOKEN: &str = "0uhJOSr3GW7xvHvtd^K6pa";
const BCRYPT_TOKEN_HASH: &str = "$2a$04$u5ZClXpcjHgpfc61Ee0VKuwI1K3vTC4zq7SjphjnlHMeb1Llkb5Y6";
/// The bcrypt hash (cost 5) of the token "test".
const TEST_TOKEN_HASH: &str = "$2a$05$3sSWEVA1eMCbV0hWavDjXOx.ClBjI6u1CuUdLqf22cbJjXsnzz8/.";
/// A fixed user seed, so that runs are repeatable.
const USER_SEED: &str = "SUAKYRHVIOREXV7EUZTBHUHL7NUMHPMAS7QMDU3GTIUWEI5LDNOXD43IZY";

const CLOSE_WAIT: Duration = Duration::from_secs(3);

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("auth/token-missing", |c| token_missing(c).boxed()).full("TestNoAuthClient"),
        Scenario::new("auth/token-bad", |c| token_bad(c).boxed()).full("TestAuthClientBadToken"),
        Scenario::new("auth/token-good", |c| token_good(c).boxed())
            .full("TestAuthClientGoodConnect"),
        Scenario::new("auth/token-no-connect-timeout", |c| {
            token_no_connect_timeout(c).boxed()
        })
        .full("TestAuthClientNoConnect"),
        Scenario::new("auth/token-pub-before-connect", |c| {
            token_pub_before_connect(c).boxed()
        })
        .full("TestAuthClientFailOnEverythingElse"),
        Scenario::new("auth/userpass-missing", |c| userpass_missing(c).boxed())
            .full("TestNoUserOrPasswordClient"),
        Scenario::new("auth/userpass-bad-user", |c| userpass_bad_user(c).boxed())
            .full("TestBadUserClient"),
        Scenario::new("auth/userpass-bad-password", |c| {
            userpass_bad_password(c).boxed()
        })
        .full("TestBadPasswordClient"),
        Scenario::new("auth/userpass-good", |c| userpass_good(c).boxed())
            .full("TestPasswordClientGoodConnect"),
        Scenario::new("auth/bcrypt-password-bad", |c| {
            bcrypt_password_bad(c).boxed()
        })
        .full("TestBadBcryptPassword"),
        Scenario::new("auth/bcrypt-password-good", |c| {
            bcrypt_password_good(c).boxed()
        })
        .full("TestGoodBcryptPassword"),
        Scenario::new("auth/bcrypt-token-bad", |c| bcrypt_token_bad(c).boxed())
            .full("TestBadBcryptToken"),
        Scenario::new("auth/bcrypt-token-good", |c| bcrypt_token_good(c).boxed())
            .full("TestGoodBcryptToken"),
        Scenario::new("auth/multiple-users", |c| multiple_users(c).boxed())
            .full("TestMultipleUserAuth")
            .full("TestMultipleUsersConfig"),
        Scenario::new("auth/bcrypt-token-in-config", |c| {
            token_in_config(c).boxed()
        })
        .full("TestTokenInConfig")
        .partial("TestBcryptVariable"),
        Scenario::new("auth/permissions-roles", |c| permissions_roles(c).boxed())
            .partial("TestUserAuthorizationProto")
            .partial("TestAuthorizationConfig"),
        Scenario::new("auth/permissions-allow-deny", |c| {
            permissions_allow_deny(c).boxed()
        })
        .partial("TestUserAuthorizationProto")
        .partial("TestNewStyleAuthorizationConfig"),
        Scenario::new("auth/permissions-deny-delivery", |c| {
            permissions_deny_delivery(c).boxed()
        })
        .partial("TestUserAuthorizationProto"),
        Scenario::new("auth/allow-responses-single", |c| {
            allow_responses_single(c).boxed()
        })
        .partial("TestUserAuthorizationAllowResponses"),
        Scenario::new("auth/allow-responses-max-and-ttl", |c| {
            allow_responses_max_ttl(c).boxed()
        })
        .partial("TestUserAuthorizationAllowResponses")
        .partial("TestParsingResponsePermissions"),
        Scenario::new("auth/queue-permissions", |c| queue_permissions(c).boxed())
            .full("TestQueuePermissions"),
        Scenario::new("auth/nonce-presence", |c| nonce_presence(c).boxed())
            .full("TestServerInfoNonce"),
        Scenario::new("auth/nkey-connect", |c| nkey_connect(c).boxed())
            .full("TestNkeyClientConnect"),
        Scenario::new("auth/nkey-mixed-users", |c| nkey_mixed(c).boxed())
            .full("TestMixedClientConnect")
            .full("TestMixedClientConfig")
            .full("TestNkeyUsersConfig"),
        Scenario::new("auth/nkey-permissions", |c| nkey_permissions(c).boxed())
            .full("TestNkeyUsersWithPermsConfig")
            .partial("TestNkeyUsersDefaultPermissionsConfig"),
        Scenario::new("auth/default-permissions-accounts", |c| {
            default_permissions_accounts(c).boxed()
        })
        .partial("TestNkeyUsersDefaultPermissionsConfig"),
        Scenario::new("auth/no-auth-user-accounts", |c| {
            no_auth_user_accounts(c).boxed()
        })
        .full("TestNoAuthUser"),
        Scenario::new("auth/no-auth-user-no-connect", |c| {
            no_auth_user_no_connect(c).boxed()
        })
        .full("TestNoAuthUserNoConnectProto"),
        Scenario::new("auth/no-auth-user-code", |c| no_auth_user_code(c).boxed())
            .full("TestNoAuthUserCode"),
        Scenario::new("auth/default-auth-timeout", |c| {
            default_auth_timeout(c).boxed()
        })
        .timeout(Duration::from_secs(20))
        .partial("TestDefaultAuthTimeout"),
        Scenario::new("auth/allowed-connection-types", |c| {
            allowed_connection_types(c).boxed()
        })
        .full("TestUserUnknownAllowedConnectionType"),
        Scenario::new("auth/plaintext-password-warning", |c| {
            plaintext_password_warning(c).boxed()
        })
        .beyond_go("Go's start-up warning for passwords in clear (auth.go, checkAuthforWarnings), which no Go test checks"),
    ]
}

// ---------------------------------------------------------------------------
// Helpers

/// A leading PING the server may send after CONNECT is skipped by every expectation.
const SKIP_PING: &str = r"(?:PING\r\n)*";

async fn ok(c: &mut RawClient) -> Result<()> {
    c.expect(&format!(r"{SKIP_PING}\+OK\r\n")).await.map(|_| ())
}

async fn err(c: &mut RawClient) -> Result<String> {
    let g = c
        .expect(&format!(r"{SKIP_PING}-ERR '([^\r]*)'\r\n"))
        .await?;
    Ok(g[0].clone())
}

/// Reads INFO, checks that it asks for authentication, sends a verbose CONNECT
/// with these credentials (like the Go tests' `doAuthConnect`).
async fn auth_connect(
    ctx: &Ctx,
    s: &Server,
    token: &str,
    user: &str,
    pass: &str,
) -> Result<RawClient> {
    let (mut c, info) = ctx.raw(s).await?;
    check_eq!(info["auth_required"], Value::Bool(true));
    let connect = serde_json::json!({
        "verbose": true, "auth_token": token, "user": user, "pass": pass,
    });
    c.send(&format!("CONNECT {connect}\r\n")).await?;
    Ok(c)
}

/// The connection was refused: records the error and that it was closed.
async fn refused(ctx: &Ctx, key: &str, mut c: RawClient) -> Result<()> {
    let e = err(&mut c).await?;
    check_eq!(e.as_str(), "Authorization Violation");
    let rest = c.expect_closed(CLOSE_WAIT).await?;
    check_eq!(rest.as_str(), "");
    ctx.observe(key, format!("-ERR '{e}', then closed"));
    Ok(())
}

/// The connection was accepted: +OK, and a PING is answered.
async fn accepted(ctx: &Ctx, key: &str, mut c: RawClient) -> Result<RawClient> {
    ok(&mut c).await?;
    c.send("PING\r\n").await?;
    c.expect(&format!(r"{SKIP_PING}PONG\r\n")).await?;
    ctx.observe(key, "+OK");
    Ok(c)
}

/// A connection whose +OK was read: a PING is answered; records what came
/// before the PONG.
async fn accepted_after_ok(ctx: &Ctx, key: &str, mut c: RawClient) -> Result<RawClient> {
    let ops = c.ops_until_pong().await?;
    check_eq!(ops.len(), 0);
    ctx.observe(
        key,
        format!("+OK, then {} operations before the PONG", ops.len()),
    );
    Ok(c)
}

/// Sends a verbose PUB and returns "+OK" or the error text.
async fn try_pub(c: &mut RawClient, subject: &str) -> Result<String> {
    c.send(&format!("PUB {subject} 2\r\nok\r\n")).await?;
    outcome(c).await
}

/// Sends a verbose SUB and returns "+OK" or the error text.
async fn try_sub(c: &mut RawClient, args: &str) -> Result<String> {
    c.send(&format!("SUB {args}\r\n")).await?;
    outcome(c).await
}

async fn outcome(c: &mut RawClient) -> Result<String> {
    let g = c
        .expect(&format!(r"{SKIP_PING}(?:(\+OK)|-ERR '([^\r]*)')\r\n"))
        .await?;
    Ok(if g[0].is_empty() {
        format!("-ERR '{}'", g[1])
    } else {
        "+OK".to_string()
    })
}

/// Observes each outcome and checks it against what is wanted.
fn record(ctx: &Ctx, key: &str, got: &str, want: &str) -> Result<()> {
    ctx.observe(key, got);
    if got != want {
        anyhow::bail!("{key}: got {got:?}, want {want:?}");
    }
    Ok(())
}

fn perm_pub(subject: &str) -> String {
    format!("-ERR 'Permissions Violation for Publish to \"{subject}\"'")
}

fn perm_sub(subject: &str) -> String {
    format!("-ERR 'Permissions Violation for Subscription to \"{subject}\"'")
}

async fn user_conn(ctx: &Ctx, s: &Server, user: &str, pass: &str) -> Result<RawClient> {
    let mut c = auth_connect(ctx, s, "", user, pass).await?;
    ok(&mut c).await?;
    Ok(c)
}

/// Reads messages until the PONG of a PING, answering server PINGs.
async fn drain(c: &mut RawClient) -> Result<Vec<Msg>> {
    c.msgs_until_pong().await
}

/// Signs the INFO's nonce with the key pair: the CONNECT's `sig`.
fn sign_nonce(kp: &nkeys::KeyPair, info: &Value) -> Result<String> {
    let nonce = info["nonce"].as_str().context("INFO has no nonce")?;
    let sig = kp
        .sign(nonce.as_bytes())
        .map_err(|e| anyhow::anyhow!("signing: {e}"))?;
    Ok(b64url(&sig))
}

fn user_kp() -> Result<nkeys::KeyPair> {
    nkeys::KeyPair::from_seed(USER_SEED).map_err(|e| anyhow::anyhow!("seed: {e}"))
}

fn new_user_kp() -> nkeys::KeyPair {
    nkeys::KeyPair::new_user()
}

/// Connects as an nkey user (the kit signs the INFO's nonce); returns the
/// connection after +OK, once the INFO is known to have had a nonce.
async fn nkey_conn(ctx: &Ctx, s: &Server, kp: &nkeys::KeyPair) -> Result<RawClient> {
    let connect =
        |nkey: &str, sig: &str| format!(r#"{{"nkey":"{nkey}","sig":"{sig}","verbose":true}}"#);
    let (c, info) = ctx.nkey_connected(s, kp, connect, Then::Ok).await?;
    check_eq!(info["nonce"].as_str().map(str::is_empty), Some(false));
    Ok(c)
}

// ---------------------------------------------------------------------------
// Token

async fn token_server(ctx: &Ctx, token: &str) -> Result<Server> {
    ctx.server(ServerSpec::new().conf(&format!("authorization {{ token: \"{token}\" }}\n")))
        .await
}

async fn token_missing(ctx: Ctx) -> Result<()> {
    let s = token_server(&ctx, "_YZZ22_").await?;
    let c = auth_connect(&ctx, &s, "", "", "").await?;
    refused(&ctx, "no token", c).await
}

async fn token_bad(ctx: Ctx) -> Result<()> {
    let s = token_server(&ctx, "_YZZ22_").await?;
    let c = auth_connect(&ctx, &s, "ZZZ", "", "").await?;
    refused(&ctx, "bad token", c).await
}

async fn token_good(ctx: Ctx) -> Result<()> {
    let s = token_server(&ctx, "_YZZ22_").await?;
    let (_, info) = ctx.raw(&s).await?;
    ctx.observe_json("info", &info);
    let c = auth_connect(&ctx, &s, "_YZZ22_", "", "").await?;
    accepted(&ctx, "good token", c).await?;
    Ok(())
}

async fn token_no_connect_timeout(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("authorization { token: \"_YZZ22_\", timeout: 0.5 }\n"))
        .await?;
    let (mut c, info) = ctx.raw(&s).await?;
    check_eq!(info["auth_required"], Value::Bool(true));
    let e = err(&mut c).await?;
    check_eq!(e.as_str(), "Authentication Timeout");
    c.expect_closed(CLOSE_WAIT).await?;
    ctx.observe("no CONNECT", format!("-ERR '{e}', then closed"));
    Ok(())
}

async fn token_pub_before_connect(ctx: Ctx) -> Result<()> {
    let s = token_server(&ctx, "_YZZ22_").await?;
    let (mut c, info) = ctx.raw(&s).await?;
    check_eq!(info["auth_required"], Value::Bool(true));
    c.send("PUB foo 2\r\nok\r\n").await?;
    refused(&ctx, "PUB before CONNECT", c).await
}

// ---------------------------------------------------------------------------
// User and password

async fn userpass_server(ctx: &Ctx, pass: &str) -> Result<Server> {
    ctx.server(ServerSpec::new().conf(&format!(
        "authorization {{ user: derek, password: \"{pass}\" }}\n"
    )))
    .await
}

async fn userpass_missing(ctx: Ctx) -> Result<()> {
    let s = userpass_server(&ctx, "foobar").await?;
    let c = auth_connect(&ctx, &s, "", "", "").await?;
    refused(&ctx, "no user", c).await
}

async fn userpass_bad_user(ctx: Ctx) -> Result<()> {
    let s = userpass_server(&ctx, "foobar").await?;
    let c = auth_connect(&ctx, &s, "", "derekzz", "foobar").await?;
    refused(&ctx, "bad user", c).await
}

async fn userpass_bad_password(ctx: Ctx) -> Result<()> {
    let s = userpass_server(&ctx, "foobar").await?;
    let c = auth_connect(&ctx, &s, "", "derek", "ZZ").await?;
    refused(&ctx, "bad password", c).await
}

async fn userpass_good(ctx: Ctx) -> Result<()> {
    let s = userpass_server(&ctx, "foobar").await?;
    let c = auth_connect(&ctx, &s, "", "derek", "foobar").await?;
    accepted(&ctx, "good user", c).await?;
    Ok(())
}

async fn bcrypt_password_bad(ctx: Ctx) -> Result<()> {
    let s = userpass_server(&ctx, BCRYPT_PASS_HASH).await?;
    // The hash itself is not the password.
    let c = auth_connect(&ctx, &s, "", "derek", BCRYPT_PASS_HASH).await?;
    refused(&ctx, "hash as password", c).await
}

async fn bcrypt_password_good(ctx: Ctx) -> Result<()> {
    let s = userpass_server(&ctx, BCRYPT_PASS_HASH).await?;
    let c = auth_connect(&ctx, &s, "", "derek", BCRYPT_PASS).await?;
    accepted(&ctx, "clear password", c).await?;
    Ok(())
}

async fn bcrypt_token_bad(ctx: Ctx) -> Result<()> {
    let s = token_server(&ctx, BCRYPT_TOKEN_HASH).await?;
    let c = auth_connect(&ctx, &s, BCRYPT_TOKEN_HASH, "", "").await?;
    refused(&ctx, "hash as token", c).await
}

async fn bcrypt_token_good(ctx: Ctx) -> Result<()> {
    let s = token_server(&ctx, BCRYPT_TOKEN_HASH).await?;
    let c = auth_connect(&ctx, &s, BCRYPT_TOKEN, "", "").await?;
    accepted(&ctx, "clear token", c).await?;
    Ok(())
}

async fn multiple_users(ctx: Ctx) -> Result<()> {
    // server/configs/multiple_users.conf, on the kit's port.
    let s = ctx
        .server(ServerSpec::new().own_listen().conf(
            "listen: 127.0.0.1:{{client_port}}\n\nauthorization {\n    users = [\n      {user: alice, password: foo}\n      {user: bob,   password: bar}\n    ]\n    timeout: 0.5\n}\n",
        ))
        .await?;
    for (user, pass) in [("alice", "foo"), ("bob", "bar")] {
        let nc = ctx
            .client_with(
                &s,
                async_nats::ConnectOptions::with_user_and_password(user.into(), pass.into()),
            )
            .await?;
        let info = nc.server_info();
        check_eq!(info.auth_required, true);
        nc.flush().await?;
        ctx.observe(&format!("{user} connects"), "ok");
    }
    // A user from the list with the other user's password is refused.
    let c = auth_connect(&ctx, &s, "", "alice", "bar").await?;
    refused(&ctx, "crossed password", c).await?;
    // The file's timeout of 0.5s applies to a client that says nothing.
    let (mut c, _) = ctx.raw(&s).await?;
    let started = std::time::Instant::now();
    let e = err(&mut c).await?;
    let waited = started.elapsed();
    check_eq!(e.as_str(), "Authentication Timeout");
    check_eq!(waited < Duration::from_millis(1500), true);
    ctx.observe("silent client", format!("-ERR '{e}' within 1.5s"));
    Ok(())
}

async fn token_in_config(ctx: Ctx) -> Result<()> {
    // The hash is not quoted: a value starting with "$2a$" is not a variable.
    let s = ctx
        .server(ServerSpec::new().conf(&format!(
            "authorization={{\n  token: {TEST_TOKEN_HASH}\n  timeout: 5\n}}\n"
        )))
        .await?;
    let nc = ctx
        .client_with(&s, async_nats::ConnectOptions::with_token("test".into()))
        .await?;
    check_eq!(nc.server_info().auth_required, true);
    nc.flush().await?;
    ctx.observe("token test", "connected");
    let c = auth_connect(&ctx, &s, TEST_TOKEN_HASH, "", "").await?;
    refused(&ctx, "hash as token", c).await
}

// ---------------------------------------------------------------------------
// Permissions

const ROLES_CONF: &str = r#"
ADMIN = { publish = ">", subscribe = ">" }
REQUESTOR = { publish = ["req.foo", "req.bar"], subscribe = "_INBOX.*" }
NEW_STYLE = {
  publish = { allow = "*.*", deny = ["SYS.*", "bar.baz", "foo.*"] }
  subscribe = { allow = ["foo.*", "SYS.TEST.>"], deny = "foo.baz" }
}
NS_PUB = { publish = "foo.baz", subscribe = "foo.baz" }
authorization {
  PASS: "foo"
  default_permissions = { publish = "SANDBOX.*", subscribe = ["PUBLIC.>", "_INBOX.>"] }
  users = [
    {user: alice, password: $PASS, permissions: $ADMIN}
    {user: bob, password: $PASS, permissions: $REQUESTOR}
    {user: joe, password: $PASS}
    {user: ns, password: $PASS, permissions: $NEW_STYLE}
    {user: ns-pub, password: $PASS, permissions: $NS_PUB}
  ]
}
"#;

async fn permissions_roles(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(ROLES_CONF)).await?;
    // alice may do anything.
    let mut c = user_conn(&ctx, &s, "alice", "foo").await?;
    record(&ctx, "alice pub foo", &try_pub(&mut c, "foo").await?, "+OK")?;
    record(
        &ctx,
        "alice sub foo",
        &try_sub(&mut c, "foo 1").await?,
        "+OK",
    )?;
    record(&ctx, "alice pub _", &try_pub(&mut c, "_").await?, "+OK")?;
    drop(c);
    // bob publishes requests and subscribes to inboxes.
    let mut c = user_conn(&ctx, &s, "bob", "foo").await?;
    record(
        &ctx,
        "bob sub foo",
        &try_sub(&mut c, "foo 1").await?,
        &perm_sub("foo"),
    )?;
    record(
        &ctx,
        "bob pub foo",
        &try_pub(&mut c, "foo").await?,
        &perm_pub("foo"),
    )?;
    record(
        &ctx,
        "bob sub inbox",
        &try_sub(&mut c, "_INBOX.abcd 1").await?,
        "+OK",
    )?;
    record(
        &ctx,
        "bob pub req.foo",
        &try_pub(&mut c, "req.foo").await?,
        "+OK",
    )?;
    record(
        &ctx,
        "bob pub req.bar",
        &try_pub(&mut c, "req.bar").await?,
        "+OK",
    )?;
    // An error does not close the connection.
    c.send("PING\r\n").await?;
    c.expect(&format!(r"{SKIP_PING}PONG\r\n")).await?;
    drop(c);
    // joe gets the default permissions.
    let mut c = user_conn(&ctx, &s, "joe", "foo").await?;
    record(
        &ctx,
        "joe sub foo.bar.*",
        &try_sub(&mut c, "foo.bar.* 1").await?,
        &perm_sub("foo.bar.*"),
    )?;
    record(
        &ctx,
        "joe pub foo.bar.baz",
        &try_pub(&mut c, "foo.bar.baz").await?,
        &perm_pub("foo.bar.baz"),
    )?;
    record(
        &ctx,
        "joe sub inbox",
        &try_sub(&mut c, "_INBOX.abcd 1").await?,
        "+OK",
    )?;
    record(
        &ctx,
        "joe sub public",
        &try_sub(&mut c, "PUBLIC.abcd 1").await?,
        "+OK",
    )?;
    record(
        &ctx,
        "joe pub SANDBOX.foo",
        &try_pub(&mut c, "SANDBOX.foo").await?,
        "+OK",
    )?;
    record(
        &ctx,
        "joe pub SANDBOX.bar",
        &try_pub(&mut c, "SANDBOX.bar").await?,
        "+OK",
    )?;
    record(
        &ctx,
        "joe pub SANDBOX.foo.bar",
        &try_pub(&mut c, "SANDBOX.foo.bar").await?,
        &perm_pub("SANDBOX.foo.bar"),
    )?;
    Ok(())
}

async fn permissions_allow_deny(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(ROLES_CONF)).await?;
    let mut c = user_conn(&ctx, &s, "ns", "foo").await?;
    for subject in ["SANDBOX.foo", "baz.bar", "baz.foo"] {
        record(
            &ctx,
            &format!("pub {subject}"),
            &try_pub(&mut c, subject).await?,
            "+OK",
        )?;
    }
    for subject in ["foo", "bar", "foo.bar", "foo.bar.baz", "SYS.1", "bar.baz"] {
        record(
            &ctx,
            &format!("pub {subject}"),
            &try_pub(&mut c, subject).await?,
            &perm_pub(subject),
        )?;
    }
    for subject in ["foo.bar", "foo.foo", "SYS.TEST.foo"] {
        record(
            &ctx,
            &format!("sub {subject}"),
            &try_sub(&mut c, &format!("{subject} 1")).await?,
            "+OK",
        )?;
    }
    for subject in [
        "foo",
        "foo.baz",
        "foo.baz",
        "foo.bar.baz",
        ">",
        "SYS.>",
        "SYS.bar",
    ] {
        record(
            &ctx,
            &format!("sub {subject}"),
            &try_sub(&mut c, &format!("{subject} 2")).await?,
            &perm_sub(subject),
        )?;
    }
    Ok(())
}

async fn permissions_deny_delivery(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(ROLES_CONF)).await?;
    // A wider wildcard is allowed, but a denied subject is never delivered to it.
    let mut c = user_conn(&ctx, &s, "ns", "foo").await?;
    record(
        &ctx,
        "ns sub foo.*",
        &try_sub(&mut c, "foo.* 1").await?,
        "+OK",
    )?;
    record(
        &ctx,
        "ns qsub foo.*",
        &try_sub(&mut c, "foo.* bar 2").await?,
        "+OK",
    )?;
    let mut p = user_conn(&ctx, &s, "ns-pub", "foo").await?;
    record(
        &ctx,
        "ns-pub pub foo.baz",
        &try_pub(&mut p, "foo.baz").await?,
        "+OK",
    )?;
    p.send("PING\r\n").await?;
    p.expect(&format!(r"{SKIP_PING}PONG\r\n")).await?;
    let got = drain(&mut c).await?;
    check_eq!(got.len(), 0);
    ctx.observe("ns got from foo.baz", "0 messages");
    // A denied queue member is routed around: the allowed member gets every message.
    record(
        &ctx,
        "ns-pub qsub foo.baz",
        &try_sub(&mut p, "foo.baz bar 2").await?,
        "+OK",
    )?;
    for _ in 0..20 {
        p.send("PUB foo.baz 2\r\nok\r\n").await?;
    }
    let ops = p.ops_until_pong().await?;
    let oks = ops.iter().filter(|op| matches!(op, Op::Ok)).count();
    check_eq!(oks, 20);
    let got: Vec<Msg> = ops
        .into_iter()
        .filter_map(|op| match op {
            Op::Msg(m) => Some(m),
            _ => None,
        })
        .collect();
    check_eq!(got.len(), 20);
    check_eq!(
        got.iter().all(|m| m.subject == "foo.baz" && m.sid == "2"),
        true
    );
    ctx.observe("ns-pub queue member got", format!("{} messages", got.len()));
    let got = drain(&mut c).await?;
    check_eq!(got.len(), 0);
    ctx.observe("ns queue member got", "0 messages");
    Ok(())
}

const RESPONSES_CONF: &str = r#"
authorization {
  users = [
    {user: alice, password: foo, permissions: { publish: ">", subscribe: ">" }}
    {user: svca, password: foo, permissions: { subscribe: "my.service.req", allow_responses: true }}
    {user: svcb, password: foo, permissions: { subscribe: "my.service.req", allow_responses: { max: 10 } }}
    {user: svcc, password: foo, permissions: { subscribe: "my.service.req", allow_responses: { max: 10, ttl: "50ms" } }}
  ]
}
"#;

/// The requestor sends a request with this reply; the service receives it.
async fn request(rc: &mut RawClient, svc: &mut RawClient, reply: &str) -> Result<()> {
    rc.send(&format!("PUB my.service.req {reply} 2\r\nok\r\n"))
        .await?;
    ok(rc).await?;
    let m = svc.read_msgs(1).await?;
    check_eq!(
        (
            m[0].subject.as_str(),
            m[0].sid.as_str(),
            m[0].reply.as_deref()
        ),
        ("my.service.req", "1", Some(reply))
    );
    check_eq!(m[0].payload, b"ok".to_vec());
    Ok(())
}

async fn allow_responses_single(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(RESPONSES_CONF)).await?;
    let mut rc = user_conn(&ctx, &s, "alice", "foo").await?;
    let mut c = user_conn(&ctx, &s, "svca", "foo").await?;
    record(
        &ctx,
        "svca sub",
        &try_sub(&mut c, "my.service.req 1").await?,
        "+OK",
    )?;
    request(&mut rc, &mut c, "resp.bar.22").await?;
    record(
        &ctx,
        "first reply",
        &try_pub(&mut c, "resp.bar.22").await?,
        "+OK",
    )?;
    record(
        &ctx,
        "other subject",
        &try_pub(&mut c, "resp.bar.33").await?,
        &perm_pub("resp.bar.33"),
    )?;
    record(
        &ctx,
        "second reply",
        &try_pub(&mut c, "resp.bar.22").await?,
        &perm_pub("resp.bar.22"),
    )?;
    Ok(())
}

async fn allow_responses_max_ttl(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(RESPONSES_CONF)).await?;
    let mut rc = user_conn(&ctx, &s, "alice", "foo").await?;
    let mut c = user_conn(&ctx, &s, "svcb", "foo").await?;
    record(
        &ctx,
        "svcb sub",
        &try_sub(&mut c, "my.service.req 1").await?,
        "+OK",
    )?;
    request(&mut rc, &mut c, "resp.bar.22").await?;
    record(
        &ctx,
        "reply 1",
        &try_pub(&mut c, "resp.bar.22").await?,
        "+OK",
    )?;
    record(
        &ctx,
        "other subject",
        &try_pub(&mut c, "resp.bar.33").await?,
        &perm_pub("resp.bar.33"),
    )?;
    for i in 2..=10 {
        record(
            &ctx,
            &format!("reply {i}"),
            &try_pub(&mut c, "resp.bar.22").await?,
            "+OK",
        )?;
    }
    record(
        &ctx,
        "reply 11",
        &try_pub(&mut c, "resp.bar.22").await?,
        &perm_pub("resp.bar.22"),
    )?;
    drop(c);
    // With a ttl, the permission to reply expires.
    let mut c = user_conn(&ctx, &s, "svcc", "foo").await?;
    record(
        &ctx,
        "svcc sub",
        &try_sub(&mut c, "my.service.req 1").await?,
        "+OK",
    )?;
    request(&mut rc, &mut c, "resp.bar.11").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    record(
        &ctx,
        "reply after ttl",
        &try_pub(&mut c, "resp.bar.11").await?,
        &perm_pub("resp.bar.11"),
    )?;
    Ok(())
}

async fn queue_permissions(ctx: Ctx) -> Result<()> {
    for (kind, args, want_ok) in [
        ("allow", "foo.bar queue.dev 1", true),
        ("allow", "foo.bar 1", false),
        ("allow", "foo.bar bad 1", false),
        ("deny", "foo.bar 1", true),
        ("deny", "foo.bar queue.dev 1", false),
    ] {
        let s = ctx
            .server(ServerSpec::new().conf(&format!(
                "no_auth_user: u\nauthorization {{\n  users [{{\n    user: u, password: pwd, permissions: {{ sub: {{ {kind}: [\"foo.> *.dev\"] }} }}\n  }}]\n}}\n"
            )))
            .await?;
        let (mut c, _) = ctx.raw(&s).await?;
        c.send("CONNECT {\"verbose\":true}\r\n").await?;
        ok(&mut c).await?;
        let got = try_sub(&mut c, args).await?;
        let want = match (want_ok, args.split(' ').collect::<Vec<_>>().as_slice()) {
            (true, _) => "+OK".to_string(),
            (false, [subject, queue, _]) => format!(
                "-ERR 'Permissions Violation for Subscription to \"{subject}\" using queue \"{queue}\"'"
            ),
            (false, _) => perm_sub("foo.bar"),
        };
        record(&ctx, &format!("{kind}: SUB {args}"), &got, &want)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Nkeys

async fn nonce_presence(ctx: Ctx) -> Result<()> {
    let plain = ctx.default_server().await?;
    let (_, info) = ctx.raw(&plain).await?;
    check_eq!(info.get("nonce").is_none(), true);
    ctx.observe("no nkeys: nonce present", "false");
    let kp = user_kp()?;
    let s = ctx
        .server(ServerSpec::new().conf(&format!(
            "authorization {{ users = [ {{nkey: \"{}\"}} ] }}\n",
            kp.public_key()
        )))
        .await?;
    let (_, a) = ctx.raw(&s).await?;
    let (_, b) = ctx.raw(&s).await?;
    let (na, nb) = (
        a["nonce"].as_str().context("first INFO has no nonce")?,
        b["nonce"].as_str().context("second INFO has no nonce")?,
    );
    check_eq!(na.is_empty(), false);
    check_eq!(nb.is_empty(), false);
    check_eq!(na == nb, false);
    ctx.observe("nkeys: nonce present", "true");
    ctx.observe("nkeys: nonces differ per connection", "true");
    ctx.observe_json("nkeys: info", &a);
    Ok(())
}

async fn nkey_connect(ctx: Ctx) -> Result<()> {
    let kp = user_kp()?;
    let pubkey = kp.public_key();
    let s = ctx
        .server(ServerSpec::new().conf(&format!(
            "authorization {{ users = [ {{nkey: \"{pubkey}\"}} ] }}\n"
        )))
        .await?;
    for (what, connect) in [
        (
            "no nkey",
            "{\"verbose\":true,\"pedantic\":true}".to_string(),
        ),
        (
            "nkey without signature",
            format!("{{\"nkey\":\"{pubkey}\",\"verbose\":true,\"pedantic\":true}}"),
        ),
        (
            "bad signature",
            format!(
                "{{\"nkey\":\"{pubkey}\",\"sig\":\"bad_sig\",\"verbose\":true,\"pedantic\":true}}"
            ),
        ),
    ] {
        let (mut c, info) = ctx.raw(&s).await?;
        check_eq!(info["auth_required"], Value::Bool(true));
        c.send(&format!("CONNECT {connect}\r\n")).await?;
        refused(&ctx, what, c).await?;
    }
    // A signature of another connection's nonce is refused too.
    let (_, other) = ctx.raw(&s).await?;
    let stale = sign_nonce(&kp, &other)?;
    let (mut c, _) = ctx.raw(&s).await?;
    c.send(&format!(
        "CONNECT {{\"nkey\":\"{pubkey}\",\"sig\":\"{stale}\",\"verbose\":true}}\r\n"
    ))
    .await?;
    refused(&ctx, "signature of another nonce", c).await?;
    // Another key signing its own nonce is not a known user.
    let stranger = new_user_kp();
    let (mut c, info) = ctx.raw(&s).await?;
    let sig = sign_nonce(&stranger, &info)?;
    c.send(&format!(
        "CONNECT {{\"nkey\":\"{}\",\"sig\":\"{sig}\",\"verbose\":true}}\r\n",
        stranger.public_key()
    ))
    .await?;
    refused(&ctx, "unknown nkey", c).await?;
    // The right signature.
    let (mut c, info) = ctx.raw(&s).await?;
    check_eq!(info["nonce"].as_str().map(str::is_empty), Some(false));
    let sig = sign_nonce(&kp, &info)?;
    c.send(&format!(
        "CONNECT {{\"nkey\":\"{pubkey}\",\"sig\":\"{sig}\",\"verbose\":true,\"pedantic\":true}}\r\nPING\r\n"
    ))
    .await?;
    ok(&mut c).await?;
    c.expect(&format!(r"{SKIP_PING}PONG\r\n")).await?;
    ctx.observe("signed nonce", "+OK");
    Ok(())
}

async fn nkey_mixed(ctx: Ctx) -> Result<()> {
    let kp = user_kp()?;
    let other = new_user_kp();
    let s = ctx
        .server(ServerSpec::new().conf(&format!(
            "authorization {{\n  users = [\n    {{nkey: \"{}\"}}\n    {{nkey: \"{}\"}}\n    {{user: derek, password: foo}}\n  ]\n}}\n",
            kp.public_key(),
            other.public_key()
        )))
        .await?;
    let (_, info) = ctx.raw(&s).await?;
    check_eq!(info["nonce"].is_string(), true);
    let c = auth_connect(&ctx, &s, "", "derek", "foo").await?;
    accepted(&ctx, "user derek", c).await?;
    nkey_conn(&ctx, &s, &kp).await?;
    ctx.observe("first nkey", "+OK");
    nkey_conn(&ctx, &s, &other).await?;
    ctx.observe("second nkey", "+OK");
    Ok(())
}

async fn nkey_permissions(ctx: Ctx) -> Result<()> {
    let a = new_user_kp();
    let b = new_user_kp();
    let s = ctx
        .server(ServerSpec::new().conf(&format!(
            r#"authorization {{
  default_permissions = {{ publish = "foo" }}
  users = [
    {{nkey: "{}", permissions = {{ publish = "$SYS.>", subscribe = {{ deny = ["foo", "bar", "baz"] }} }} }}
    {{nkey: "{}"}}
  ]
}}
"#,
            a.public_key(),
            b.public_key()
        )))
        .await?;
    let mut c = nkey_conn(&ctx, &s, &a).await?;
    record(
        &ctx,
        "a pub $SYS.x",
        &try_pub(&mut c, "$SYS.x").await?,
        "+OK",
    )?;
    record(
        &ctx,
        "a pub foo",
        &try_pub(&mut c, "foo").await?,
        &perm_pub("foo"),
    )?;
    for subject in ["foo", "bar", "baz"] {
        record(
            &ctx,
            &format!("a sub {subject}"),
            &try_sub(&mut c, &format!("{subject} 1")).await?,
            &perm_sub(subject),
        )?;
    }
    record(&ctx, "a sub qux", &try_sub(&mut c, "qux 2").await?, "+OK")?;
    // The other key gets the default permissions: publish foo, subscribe anything.
    let mut c = nkey_conn(&ctx, &s, &b).await?;
    record(&ctx, "b pub foo", &try_pub(&mut c, "foo").await?, "+OK")?;
    record(
        &ctx,
        "b pub bar",
        &try_pub(&mut c, "bar").await?,
        &perm_pub("bar"),
    )?;
    record(&ctx, "b sub bar", &try_sub(&mut c, "bar 1").await?, "+OK")?;
    Ok(())
}

async fn default_permissions_accounts(ctx: Ctx) -> Result<()> {
    let (k1, k2, k3, k4) = (new_user_kp(), new_user_kp(), new_user_kp(), new_user_kp());
    let s = ctx
        .server(ServerSpec::new().conf(&format!(
            r#"authorization {{
  default_permissions = {{ publish = "foo" }}
  users = [
    {{ user: "user", password: "pwd" }}
    {{ user: "other", password: "pwd", permissions = {{ subscribe = "bar" }} }}
    {{ nkey: "{}" }}
    {{ nkey: "{}", permissions = {{ subscribe = "bar" }} }}
  ]
}}
accounts {{
  A {{
    default_permissions = {{ publish = "foo" }}
    users = [
      {{ user: "accuser", password: "pwd" }}
      {{ user: "accother", password: "pwd", permissions = {{ subscribe = "bar" }} }}
      {{ nkey: "{}" }}
      {{ nkey: "{}", permissions = {{ subscribe = "bar" }} }}
    ]
  }}
}}
"#,
            k1.public_key(),
            k2.public_key(),
            k3.public_key(),
            k4.public_key()
        )))
        .await?;
    // Users with the default: publish only foo, subscribe anything.
    let mut defaults = [
        ("user", user_conn(&ctx, &s, "user", "pwd").await?),
        ("accuser", user_conn(&ctx, &s, "accuser", "pwd").await?),
        ("nkey1", nkey_conn(&ctx, &s, &k1).await?),
        ("nkey3", nkey_conn(&ctx, &s, &k3).await?),
    ];
    for (who, c) in defaults.iter_mut() {
        record(
            &ctx,
            &format!("{who} pub foo"),
            &try_pub(c, "foo").await?,
            "+OK",
        )?;
        record(
            &ctx,
            &format!("{who} pub bar"),
            &try_pub(c, "bar").await?,
            &perm_pub("bar"),
        )?;
        record(
            &ctx,
            &format!("{who} sub baz"),
            &try_sub(c, "baz 1").await?,
            "+OK",
        )?;
    }
    // Users with their own permissions: subscribe only bar, publish anything.
    let mut own = [
        ("other", user_conn(&ctx, &s, "other", "pwd").await?),
        ("accother", user_conn(&ctx, &s, "accother", "pwd").await?),
        ("nkey2", nkey_conn(&ctx, &s, &k2).await?),
        ("nkey4", nkey_conn(&ctx, &s, &k4).await?),
    ];
    for (who, c) in own.iter_mut() {
        record(
            &ctx,
            &format!("{who} pub baz"),
            &try_pub(c, "baz").await?,
            "+OK",
        )?;
        record(
            &ctx,
            &format!("{who} sub bar"),
            &try_sub(c, "bar 1").await?,
            "+OK",
        )?;
        record(
            &ctx,
            &format!("{who} sub foo"),
            &try_sub(c, "foo 2").await?,
            &perm_sub("foo"),
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// no_auth_user, timeouts, connection types

/// Connects with async-nats with these credentials ("" for none); Ok(None) when refused.
async fn try_client(
    ctx: &Ctx,
    s: &Server,
    user: Option<(&str, &str)>,
    token: Option<&str>,
) -> Result<Option<async_nats::Client>> {
    let mut opts = async_nats::ConnectOptions::new();
    if let Some((u, p)) = user {
        opts = async_nats::ConnectOptions::with_user_and_password(u.into(), p.into());
    }
    if let Some(t) = token {
        opts = async_nats::ConnectOptions::with_token(t.into());
    }
    match ctx.client_with(s, opts).await {
        Ok(nc) => match tokio::time::timeout(Duration::from_secs(2), nc.flush()).await {
            Ok(Ok(())) => Ok(Some(nc)),
            _ => Ok(None),
        },
        Err(_) => Ok(None),
    }
}

/// A raw CONNECT with user/password (or nothing); "+OK" or the error text.
async fn raw_auth_outcome(ctx: &Ctx, s: &Server, connect: &str) -> Result<(String, RawClient)> {
    let (mut c, _) = ctx.raw(s).await?;
    c.send(&format!("CONNECT {connect}\r\n")).await?;
    let got = outcome(&mut c).await?;
    Ok((got, c))
}

async fn no_auth_user_accounts(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(
            r#"accounts {
  FOO { users [{user: "foo", password: "pwd1"}] }
  BAR { users [{user: "bar", password: "pwd2"}] }
}
no_auth_user: "foo"
http_port: {{http_port}}
"#,
        ))
        .await?;
    for (what, connect, want, account) in [
        (
            "valid user/pwd",
            r#"{"verbose":true,"user":"bar","pass":"pwd2"}"#,
            "+OK",
            "BAR",
        ),
        (
            "invalid pwd",
            r#"{"verbose":true,"user":"bar","pass":"wrong"}"#,
            "-ERR 'Authorization Violation'",
            "",
        ),
        (
            "some token",
            r#"{"verbose":true,"auth_token":"sometoken"}"#,
            "-ERR 'Authorization Violation'",
            "",
        ),
        (
            "user without pwd",
            r#"{"verbose":true,"user":"bar"}"#,
            "-ERR 'Authorization Violation'",
            "",
        ),
        (
            "user with empty pwd",
            r#"{"verbose":true,"user":"bar","pass":""}"#,
            "-ERR 'Authorization Violation'",
            "",
        ),
        ("no user", r#"{"verbose":true}"#, "+OK", "FOO"),
    ] {
        let (got, c) = raw_auth_outcome(&ctx, &s, connect).await?;
        record(&ctx, what, &got, want)?;
        // The account of the client (the only one), as /connz names it.
        let connz = ctx.http_json(&s, "/connz?auth=true").await?;
        let acc = connz["connections"][0]["account"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        ctx.observe(&format!("{what}: account"), &acc);
        if got == "+OK" {
            check_eq!(acc.as_str(), account);
        }
        drop(c);
        // Closed, the client is gone from the server's count.
        let n = crate::kit::eventually(CLOSE_WAIT, || async {
            let v = ctx.http_json(&s, "/varz").await?;
            Ok((v["connections"] == 0).then(|| v["connections"].to_string()))
        })
        .await?;
        ctx.observe(&format!("{what}: connections after close"), n);
    }
    // Which account a client landed in shows in what it can see.
    let mut anon = ctx.raw_connected(&s, r#"{"verbose":false}"#).await?;
    anon.send("SUB acct 1\r\n").await?;
    anon.flush().await?;
    let mut foo_user = ctx
        .raw_connected(&s, r#"{"verbose":false,"user":"foo","pass":"pwd1"}"#)
        .await?;
    let mut bar = ctx
        .raw_connected(&s, r#"{"verbose":false,"user":"bar","pass":"pwd2"}"#)
        .await?;
    bar.send("PUB acct 3\r\nbar\r\n").await?;
    bar.flush().await?;
    foo_user.send("PUB acct 3\r\nfoo\r\n").await?;
    foo_user.flush().await?;
    let got = anon.read_msgs(1).await?;
    check_eq!(got[0].payload, b"foo".to_vec());
    let rest = drain(&mut anon).await?;
    check_eq!(rest.len(), 0);
    ctx.observe("no-user client sees account of", "foo (FOO), not bar (BAR)");
    Ok(())
}

async fn no_auth_user_no_connect(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(
            r#"accounts {
  A { users [{user: "foo", password: "pwd"}] }
}
authorization { timeout: 0.5 }
no_auth_user: "foo"
"#,
        ))
        .await?;
    // No CONNECT is needed before other operations.
    let (mut c, info) = ctx.raw(&s).await?;
    c.send("SUB foo 1\r\nPUB foo 2\r\nok\r\n").await?;
    let ops = c.ops_until_pong().await?;
    let msgs = ops.iter().filter(|op| matches!(op, Op::Msg(_))).count();
    check_eq!(msgs, 1);
    ctx.observe_json("info", &info);
    ctx.observe(
        "operations before CONNECT",
        format!("{msgs} message delivered"),
    );
    // Still, one that never sends anything is timed out.
    let (mut c, _) = ctx.raw(&s).await?;
    let e = err(&mut c).await?;
    check_eq!(e.as_str(), "Authentication Timeout");
    c.expect_closed(CLOSE_WAIT).await?;
    ctx.observe("silent client", format!("-ERR '{e}', then closed"));
    Ok(())
}

async fn no_auth_user_code(ctx: Ctx) -> Result<()> {
    // The Go test's config: no_auth_user from the environment.
    let conf = r#"no_auth_user: $NO_AUTH_USER
accounts {
  synadia {
    users [
      {user: "a", password: "a"},
      {nkey : UBAAQWTW6CG2G6ANGNKB5U2B7HRWHSGMZEZX3AQSAJOQDAUGJD46LD2E},
    ]
  }
  acc {
    users [
      {user: "c", password: "c"}
    ]
  }
}
authorization {
  users [
    {user: "b", password: "b"}
  ]
}
"#;
    for user in ["a", "b", "b"] {
        ctx.set_env("NO_AUTH_USER", user);
        let s = ctx.server(ServerSpec::new().conf(conf)).await?;
        let nc = try_client(&ctx, &s, None, None).await?;
        check_eq!(nc.is_some(), true);
        ctx.observe(
            &format!("no_auth_user {user}"),
            "client without credentials connects",
        );
    }
    for bad in [
        "notthere",
        "UBAAQWTW6CG2G6ANGNKB5U2B7HRWHSGMZEZX3AQSAJOQDAUGJD46LD2E",
    ] {
        ctx.set_env("NO_AUTH_USER", bad);
        let path = ctx.write_file(&format!("bad-{}.conf", &bad[..4]), conf)?;
        let path = path.to_string_lossy().to_string();
        let out = ctx.run_binary(&["-c", &path]).await?;
        check_eq!(out.code, Some(1));
        let text = out.stderr.replace(&path, "<conf>");
        let line = text
            .lines()
            .find(|l| l.contains("no_auth_user"))
            .with_context(|| format!("no no_auth_user error in {text:?}"))?;
        ctx.observe(&format!("no_auth_user {}", &bad[..4]), line);
    }
    Ok(())
}

async fn default_auth_timeout(ctx: Ctx) -> Result<()> {
    // Without a timeout in the config, a client has two seconds to authenticate.
    let s = ctx
        .server(ServerSpec::new().conf("authorization { user: u, password: p }\n"))
        .await?;
    let (mut c, _) = ctx.raw(&s).await?;
    c.expect_nothing(Duration::from_millis(1200)).await?;
    let e = err(&mut c).await?;
    check_eq!(e.as_str(), "Authentication Timeout");
    c.expect_closed(CLOSE_WAIT).await?;
    ctx.observe(
        "silent client",
        format!("open after 1.2s, then -ERR '{e}' and closed"),
    );
    Ok(())
}

async fn allowed_connection_types(ctx: Ctx) -> Result<()> {
    let nkey = user_kp()?.public_key();
    let kp2 = new_user_kp();
    let nkey2 = kp2.public_key();
    // An unknown connection type stops the server from starting, for a
    // user and for an nkey user.
    for (what, users) in [
        (
            "unknown type",
            "{user: user, password: pwd, allowed_connection_types: [\"STANDARD\", \"someNewType\"]}".to_string(),
        ),
        (
            "unknown type of an nkey user",
            format!("{{nkey: {nkey}, allowed_connection_types: [\"STANDARD\", \"someNewType\"]}}"),
        ),
    ] {
        let bad = ctx.write_file(
            &format!("{}.conf", what.replace(' ', "-")),
            &format!("authorization {{ users [ {users} ] }}\n"),
        )?;
        let bad = bad.to_string_lossy().to_string();
        let out = ctx.run_binary(&["-c", &bad, "-p", "-1"]).await?;
        check_eq!(out.code, Some(1));
        let text = out.stderr.replace(&bad, "<conf>").replace(&nkey, "<nkey>");
        check_eq!(text.contains("connection type"), true);
        ctx.observe(what, text.trim());
    }
    // A lower-case known type is accepted, for users and nkey users; a plain
    // client of a websocket-only one is then refused.
    let s = ctx
        .server(ServerSpec::new().conf(&format!(
            "authorization {{ users [\n  {{user: ws, password: pwd, allowed_connection_types: [\"websocket\"]}}\n  {{user: std, password: pwd, allowed_connection_types: [\"standard\"]}}\n  {{nkey: {nkey}, allowed_connection_types: [\"websocket\"]}}\n  {{nkey: {nkey2}, allowed_connection_types: [\"standard\"]}}\n] }}\n"
        )))
        .await?;
    let c = auth_connect(&ctx, &s, "", "ws", "pwd").await?;
    refused(&ctx, "websocket-only user over TCP", c).await?;
    let c = auth_connect(&ctx, &s, "", "std", "pwd").await?;
    accepted(&ctx, "standard user over TCP", c).await?;
    let kp = user_kp()?;
    let (mut c, info) = ctx.raw(&s).await?;
    let sig = sign_nonce(&kp, &info)?;
    c.send(&format!(
        "CONNECT {{\"nkey\":\"{nkey}\",\"sig\":\"{sig}\",\"verbose\":true}}\r\n"
    ))
    .await?;
    refused(&ctx, "websocket-only nkey user over TCP", c).await?;
    let c = nkey_conn(&ctx, &s, &kp2).await?;
    accepted_after_ok(&ctx, "standard nkey user over TCP", c).await?;
    Ok(())
}

/// Go warns at start-up when the config holds a password in clear: the
/// top-level one or a user's (a user without one counts too), but not a
/// bcrypt hash, nor a user without a password when certificates map
/// clients to users.
async fn plaintext_password_warning(ctx: Ctx) -> Result<()> {
    const WARNING: &str = "Plaintext passwords detected, use nkeys or bcrypt";
    let cases = [
        (
            "top-level password",
            "authorization { user: u, password: p }\n".to_string(),
            true,
        ),
        (
            "user password",
            "authorization { users [ {user: u, password: p} ] }\n".to_string(),
            true,
        ),
        (
            "user without a password",
            "authorization { users [ {user: u} ] }\n".to_string(),
            true,
        ),
        (
            "bcrypt hashes",
            format!(
                "authorization {{ users [ {{user: u, password: \"{BCRYPT_PASS_HASH}\"}} ] }}\n"
            ),
            false,
        ),
        (
            "token",
            "authorization { token: secret }\n".to_string(),
            false,
        ),
    ];
    for (name, conf, warns) in cases {
        let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
        let warned = s.logs().contains(WARNING);
        ctx.observe(&format!("{name}: warned"), warned.to_string());
        check_eq!((name, warned), (name, warns));
    }
    Ok(())
}
