//! Scenarios for the configuration file: what `-t` says about good and bad
//! files (exit code and error text, with the file's path shown as `<conf>`),
//! and what a client observes from a server started with a given syntax:
//! listen forms, size units, variables, environment variables, includes,
//! booleans, separators, comments, JSON, and limits.

use crate::check_eq;
use crate::kit::{Ctx, RawClient, Server, ServerSpec};
use crate::registry::Scenario;
use anyhow::{bail, Context, Result};
use futures::FutureExt;
use serde_json::Value;
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("config/check-auth-blocks", |c| check_auth_blocks(c).boxed())
            .partial("TestConfigCheck"),
        Scenario::new("config/check-permissions", |c| check_permissions(c).boxed())
            .partial("TestConfigCheck"),
        Scenario::new("config/check-accounts", |c| check_accounts(c).boxed())
            .partial("TestConfigCheck"),
        Scenario::new("config/check-cluster-tls-misc", |c| {
            check_cluster_tls_misc(c).boxed()
        })
        .partial("TestConfigCheck"),
        Scenario::new("config/check-tls", |c| check_tls(c).boxed()).partial("TestConfigCheck"),
        Scenario::new("config/check-leafnodes", |c| check_leafnodes(c).boxed())
            .partial("TestConfigCheck"),
        Scenario::new("config/check-mqtt-websocket", |c| {
            check_mqtt_websocket(c).boxed()
        })
        .partial("TestConfigCheck"),
        Scenario::new("config/check-gateway", |c| check_gateway(c).boxed())
            .full("TestParsingGatewaysErrors"),
        Scenario::new("config/check-tls-files", |c| check_tls_files(c).boxed())
            .partial("TestTLSConfigFile"),
        Scenario::new("config/tls-config-file-served", |c| {
            tls_config_file_served(c).boxed()
        })
        .partial("TestTLSConfigFile"),
        Scenario::new("config/tls-info", |c| tls_info(c).boxed())
            .full("test/opts_test.go:TestTLSConfig"),
        Scenario::new("config/leafnode-credentials-path", |c| {
            leafnode_credentials_path(c).boxed()
        })
        .partial("TestExpandPath"),
        Scenario::new("config/random-ports", |c| random_ports(c).boxed())
            .full("TestOptions_RandomPort")
            .partial("TestDynamicPortOnListen"),
        Scenario::new("config/listen-monitoring-default", |c| {
            listen_monitoring_default(c).boxed()
        })
        .partial("TestListenMonitoringDefault"),
        Scenario::new("config/merge-overrides", |c| merge_overrides(c).boxed())
            .partial("TestMergeOverrides"),
        Scenario::new("config/configure-options", |c| configure_options(c).boxed())
            .partial("TestConfigureOptions"),
        Scenario::new("config/check-includes", |c| check_includes(c).boxed())
            .full("TestConfigCheckIncludes"),
        Scenario::new("config/check-multiple-errors", |c| {
            check_multiple_errors(c).boxed()
        })
        .full("TestConfigCheckMultipleErrors"),
        Scenario::new("config/auth-conflicts", |c| auth_conflicts(c).boxed())
            .full("TestTokenWithUserPass")
            .full("TestTokenWithUsers")
            .full("TestBadNkeyConfig")
            .full("TestNkeyWithPassConfig")
            .full("TestAuthorizationAndAccountsMisconfigurations"),
        Scenario::new("config/listen-forms", |c| listen_forms(c).boxed())
            .full("TestListenPortOnlyConfig")
            .full("TestListenPortWithColonConfig")
            .partial("TestListenConfig"),
        Scenario::new("config/malformed-addresses", |c| {
            malformed_addresses(c).boxed()
        })
        .full("TestMalformedListenAddress")
        .full("TestMalformedClusterAddress")
        .full("TestPanic"),
        Scenario::new("config/size-units", |c| size_units(c).boxed())
            .full("TestConvenientNumbers")
            .partial("TestConvenientIntegerValues"),
        Scenario::new("config/server-config-info", |c| {
            server_config_info(c).boxed()
        })
        .full("TestServerConfig")
        .partial("TestConfigFile"),
        Scenario::new("config/max-payload-limits", |c| {
            max_payload_limits(c).boxed()
        })
        .full("TestLargeMaxPayload")
        .full("TestLargeMaxControlLine"),
        Scenario::new("config/unknown-top-level-field", |c| {
            unknown_top_level(c).boxed()
        })
        .partial("TestHandleUnknownTopLevelConfigurationField"),
        Scenario::new("config/write-deadline", |c| write_deadline(c).boxed())
            .full("TestParseWriteDeadline"),
        Scenario::new("config/ping-interval", |c| ping_interval(c).boxed())
            .full("TestPingIntervalOld")
            .full("TestPingIntervalNew"),
        Scenario::new("config/empty-config", |c| empty_config(c).boxed())
            .full("TestEmptyConfig")
            .partial("TestDefaultOptions"),
        Scenario::new("config/response-permissions-parse", |c| {
            response_permissions_parse(c).boxed()
        })
        .partial("TestParsingResponsePermissions"),
        Scenario::new("config/max-sub-tokens", |c| max_sub_tokens(c).boxed())
            .full("TestMaxSubTokens"),
        Scenario::new("config/variables", |c| variables(c).boxed())
            .full("TestSimpleVariable")
            .full("TestNestedVariable")
            .full("TestMissingVariable")
            .partial("TestVariableValues"),
        Scenario::new("config/env-variables", |c| env_variables(c).boxed())
            .full("TestEnvVariable")
            .full("TestEnvVariableString")
            .full("TestEnvVariableStringStartingWithNumber")
            .full("TestEnvVariableStringStartingWithNumberAndSizeUnit")
            .full("TestEnvVariableStringStartingWithNumberUsingQuotes"),
        Scenario::new("config/include-variables", |c| include_variables(c).boxed())
            .full("TestIncludes")
            .full("TestIncludeVariablesWithChecks")
            .partial("TestInclude")
            .partial("TestMapInclude"),
        Scenario::new("config/bools", |c| bools(c).boxed())
            .full("TestBools")
            .partial("TestSimpleKeyBoolValues"),
        Scenario::new("config/top-level-values", |c| top_level_values(c).boxed())
            .full("TestSimpleTopLevel")
            .partial("TestOptionalSemicolons")
            .partial("TestSemicolonChaining"),
        Scenario::new("config/key-separators", |c| key_separators(c).boxed())
            .partial("TestColonKeySep")
            .partial("TestWhitespaceKeySep")
            .partial("TestSimpleKeyIntegerValues"),
        Scenario::new("config/comments", |c| comments(c).boxed())
            .partial("TestComments")
            .partial("TestTopValuesWithComments"),
        Scenario::new("config/json-compat", |c| json_compat(c).boxed()).partial("TestJSONCompat"),
        Scenario::new("config/multiline-structures", |c| {
            multiline_structures(c).boxed()
        })
        .partial("TestMultilineArrays")
        .partial("TestMultilineArraysNoSep")
        .partial("TestMultilineMap")
        .partial("TestNestedMaps")
        .partial("TestArrayOfMaps"),
        Scenario::new("config/quoted-values", |c| quoted_values(c).boxed())
            .partial("TestQuotedKeys")
            .partial("TestEscapedString")
            .partial("TestRawString")
            .partial("TestNonQuotedStrings")
            .partial("TestUnquotedIPAddr")
            .partial("TestBinaryString"),
        Scenario::new("config/parse-errors", |c| parse_errors(c).boxed())
            .full("TestParserNoInfiniteLoop")
            .partial("TestDanglingQuotedString")
            .partial("TestMapDanglingBracket")
            .partial("TestBlockDanglingParens")
            .partial("TestDanglingSingleQuotedString")
            .partial("TestBadStringEscape"),
        Scenario::new("config/sublist-no-cache", |c| sublist_no_cache(c).boxed())
            .partial("TestSublistNoCacheConfig"),
    ]
}

// ---------------------------------------------------------------------------
// Helpers

/// Runs `-t -c FILE` on a config body; returns the exit code and what the
/// binary printed, with the file's path replaced by `<conf>`, lines sorted.
async fn check_conf(ctx: &Ctx, name: &str, body: &str) -> Result<(Option<i32>, String)> {
    let path = ctx.write_file(&format!("{name}.conf"), body)?;
    let path = path.to_string_lossy().to_string();
    let out = ctx.run_binary(&["-t", "-c", &path]).await?;
    let text = format!("{}{}", out.stderr, out.stdout).replace(&path, "<conf>");
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines.sort();
    Ok((out.code, lines.join("\n")))
}

/// A config case: a name, its body, and the text of the error it must
/// produce (`None`: the file is valid).
type Case = (&'static str, &'static str, Option<&'static str>);

/// Checks each case with `-t` and observes its exit code and text.
async fn run_cases(ctx: &Ctx, cases: &[Case]) -> Result<()> {
    for (i, (name, body, want)) in cases.iter().enumerate() {
        let (code, text) = check_conf(ctx, &format!("case{i}"), body).await?;
        ctx.observe(name, format!("exit {code:?}: {text}"));
        match want {
            None => {
                if code != Some(0) || !text.contains("is valid") {
                    bail!("{name}: want a valid config, got exit {code:?}: {text}");
                }
            }
            Some(err) => {
                if code != Some(1) || !text.contains(err) {
                    bail!("{name}: want exit 1 with {err:?}, got exit {code:?}: {text}");
                }
            }
        }
    }
    Ok(())
}

/// Like [`run_cases`], for configs whose error Go reports at the position of
/// whichever of two top-level blocks it happens to process second: Go walks
/// the top-level keys in random map order, so only the message is observed.
///
/// A single user or token in `authorization` with users in `accounts` is
/// refused "... and accounts" at the account's users when Go reads
/// `accounts` second, "... and a users array" at the top of the file when
/// it reads `authorization` second: that last word is masked too.
async fn run_cases_any_key_order(ctx: &Ctx, cases: &[Case]) -> Result<()> {
    let position = regex::Regex::new(r"<conf>:\d+:\d+: ")?;
    let second = regex::Regex::new(r" and (accounts|a users array)$")?;
    for (i, (name, body, want)) in cases.iter().enumerate() {
        let (code, text) = check_conf(ctx, &format!("unordered{i}"), body).await?;
        let shown: Vec<String> = text
            .lines()
            .map(|l| {
                let l = position.replace_all(l, "<conf>:<pos>: ");
                second.replace(&l, " and <accounts or users>").to_string()
            })
            .collect();
        ctx.observe(name, format!("exit {code:?}: {}", shown.join("\n")));
        let err = want.context("a case with a random key order must expect an error")?;
        if code != Some(1) || !text.contains(err) {
            bail!("{name}: want exit 1 with {err:?}, got exit {code:?}: {text}");
        }
    }
    Ok(())
}

async fn info_of(ctx: &Ctx, s: &Server) -> Result<Value> {
    Ok(ctx.raw(s).await?.1)
}

/// Starts a server with this body and returns the INFO a client reads.
async fn info_with(ctx: &Ctx, body: &str) -> Result<Value> {
    let s = ctx.server(ServerSpec::new().conf(body)).await?;
    info_of(ctx, &s).await
}

// ---------------------------------------------------------------------------
// -t on bad and good configs

const AUTH_BLOCK_CASES: &[Case] = &[
    ("empty authorization", "authorization = {\n}\n", None),
    ("unknown field in authorization", "authorization = {\n  foo = \"bar\"\n}\n", Some("unknown field \"foo\"")),
    (
        "unknown field between user and password",
        "port = 4222\nauthorization = {\n  user = \"hello\"\n  foo = \"bar\"\n  password = \"world\"\n}\n",
        Some("unknown field \"foo\""),
    ),
    (
        "token in a users entry",
        "authorization = {\n  users = [\n    {\n      user = \"foo\"\n      pass = \"bar\"\n      token = \"quux\"\n    }\n  ]\n}\n",
        Some("unknown field \"token\""),
    ),
    (
        "token and users",
        "authorization = {\n  token = \"s3cr3t\"\n  users = [ { user = \"foo\", pass = \"bar\" } ]\n}\n",
        Some("Can not have a token and a users array"),
    ),
    (
        "user and token",
        "authorization = {\n  user = \"foo\"\n  pass = \"bar\"\n  token = \"baz\"\n}\n",
        Some("Cannot have a user/pass and token"),
    ),
    (
        "user and users",
        "authorization = {\n  user = \"user1\"\n  pass = \"pwd1\"\n  users = [ { user = \"user2\", pass = \"pwd2\" } ]\n}\n",
        Some("Can not have a single user/pass and a users array"),
    ),
    (
        "duplicate users",
        "authorization = {\n  users = [\n    {user: \"user1\", pass: \"pwd\"}\n    {user: \"user2\", pass: \"pwd\"}\n    {user: \"user1\", pass: \"pwd\"}\n  ]\n}\n",
        Some("Duplicate user \"user1\" detected"),
    ),
    (
        "duplicate nkeys",
        "authorization = {\n  users = [\n    {nkey: UC6NLCN7AS34YOJVCYD4PJ3QB7QGLYG5B5IMBT25VW5K4TNUJODM7BOX }\n    {nkey: UBAAQWTW6CG2G6ANGNKB5U2B7HRWHSGMZEZX3AQSAJOQDAUGJD46LD2E }\n    {nkey: UC6NLCN7AS34YOJVCYD4PJ3QB7QGLYG5B5IMBT25VW5K4TNUJODM7BOX }\n  ]\n}\n",
        Some("Duplicate nkey \"UC6NLCN7AS34YOJVCYD4PJ3QB7QGLYG5B5IMBT25VW5K4TNUJODM7BOX\" detected"),
    ),
    ("users not a list", "authorization = {\n  users = false\n}\n", Some("Expected users field to be an array, got false")),
    ("users entry not a map", "authorization = {\n  users = [false]\n}\n", Some("Expected user entry to be a map/struct, got false")),
    (
        "connection types of a wrong type",
        "authorization {\n  users [\n    {user: a, password: pwd, allowed_connection_types: 123}\n  ]\n}\n",
        Some("error parsing allowed connection types: unsupported type int64"),
    ),
    (
        "connection types with a wrong item",
        "authorization {\n  users [\n    {user: a, password: pwd, allowed_connection_types: [\n        123\n        WEBSOCKET\n    ]}\n  ]\n}\n",
        Some("error parsing allowed connection types: unsupported type in array int64"),
    ),
    (
        "number before a closing bracket",
        "authorization {\n  users [\n    {user: a, password: pwd, allowed_connection_types: [\"STANDARD\", 123]}\n  ]\n}\n",
        Some("Parse error on line 3"),
    ),
    (
        "unknown connection type",
        "authorization {\n  users [\n    {user: a, password: pwd, allowed_connection_types: [\"UNKNOWN\"]}\n  ]\n}\n",
        Some("invalid connection types [\"UNKNOWN\"]"),
    ),
    (
        "unused variable in authorization",
        "listen: 127.0.0.1:4222\nauthorization {\n  super_user = { publish = \">\", subscribe = \">\" }\n  default_user = { subscribe = \"PUBLIC.>\" }\n  unused = \"hello\"\n  default_permissions: $default_user\n  users = [\n    {user: alice, password: foo, permissions: $super_user}\n    {user: susan, password: baz}\n  ]\n}\n",
        Some("unknown field \"unused\""),
    ),
    (
        "variable used at top level",
        "monitoring_port = 8222\nhttp_port = $monitoring_port\nport = 4222\n",
        None,
    ),
];

async fn check_auth_blocks(ctx: Ctx) -> Result<()> {
    run_cases(&ctx, AUTH_BLOCK_CASES).await
}

const PERMISSION_CASES: &[Case] = &[
    (
        "unknown permissions field",
        "authorization {\n  permissions {\n    subscribe = {}\n    inboxes = {}\n    publish = {}\n  }\n}\n",
        Some("Unknown field \"inboxes\" parsing permissions"),
    ),
    (
        "denied in subscribe",
        "authorization {\n  permissions {\n    subscribe = {\n      allow = [\"hello\", \"world\"]\n      deny = [\"foo\", \"bar\"]\n      denied = \"_INBOX.>\"\n    }\n    publish = {}\n  }\n}\n",
        Some("Unknown field name \"denied\" parsing subject permissions, only 'allow' or 'deny' are permitted"),
    ),
    (
        "allowed in publish",
        "authorization {\n  permissions {\n    publish = {\n      allow = [\"hello\", \"world\"]\n      deny = [\"foo\", \"bar\"]\n      allowed = \"_INBOX.>\"\n    }\n    subscribe = {}\n  }\n}\n",
        Some("Unknown field name \"allowed\" parsing subject permissions, only 'allow' or 'deny' are permitted"),
    ),
    (
        "unknown default permissions with arrays",
        "authorization {\n default_permissions {\n   subscribe = [\"a\"]\n   publish = [\"b\"]\n   inboxes = [\"c\"]\n }\n users = [ { user = \"foo\", pass = \"bar\" } ]\n}\n",
        Some("Unknown field \"inboxes\" parsing permissions"),
    ),
    (
        "unknown default permissions with strings",
        "authorization {\n default_permissions {\n   subscribe = \"a\"\n   requests = \"b\"\n   publish = \"c\"\n }\n users = [ { user = \"foo\", pass = \"bar\" } ]\n}\n",
        Some("Unknown field \"requests\" parsing permissions"),
    ),
    (
        "empty user permissions",
        "authorization = {\n  users = [\n    {\n      user = \"foo\", pass = \"bar\", permissions = {\n      }\n    }\n  ]\n}\n",
        None,
    ),
    (
        "unknown user permissions",
        "authorization = {\n  users = [\n    {\n      user = \"foo\", pass = \"bar\", permissions {\n        inboxes = true\n      }\n    }\n  ]\n}\n",
        Some("Unknown field \"inboxes\" parsing permissions"),
    ),
    (
        "permissions not a map",
        "authorization = {\n  users = [{user: hello, pass: world}]\n  permissions = false\n}\n",
        Some("Expected permissions to be a map/struct, got false"),
    ),
    (
        "bool in allow",
        "authorization {\n  permissions {\n    publish = {\n      allow = [false, \"hello\", \"world\"]\n      deny = [\"foo\", \"bar\"]\n    }\n    subscribe = {}\n  }\n}\n",
        Some("Subject in permissions array cannot be cast to string"),
    ),
    (
        "bool in deny",
        "authorization {\n  permissions {\n    publish = {\n      allow = [\"hello\", \"world\"]\n      deny = [true, \"foo\", \"bar\"]\n    }\n    subscribe = {}\n  }\n}\n",
        Some("Subject in permissions array cannot be cast to string"),
    ),
    (
        "allow of a wrong type",
        "authorization {\n  permissions {\n    publish = {\n      allow = false\n    }\n    subscribe = {}\n  }\n}\n",
        Some("Expected subject permissions to be a subject, or array of subjects, got bool"),
    ),
    (
        "invalid subject",
        "authorization {\n  permissions {\n    publish = {\n      allow = [\"foo..bar\"]\n    }\n    subscribe = {}\n  }\n}\n",
        Some("subject \"foo..bar\" is not a valid subject"),
    ),
];

async fn check_permissions(ctx: Ctx) -> Result<()> {
    run_cases(&ctx, PERMISSION_CASES).await
}

const ACCOUNT_CASES: &[Case] = &[
    (
        "global account defined",
        "http_port = 8222\naccounts {\n  $G = {\n  }\n}\n",
        Some("\"$G\" is a Reserved Account"),
    ),
    (
        "invalid account key",
        "accounts {\n  synadia = {\n    nkey = \"invalid\"\n  }\n}\n",
        Some("Not a valid public nkey for an account: \"invalid\""),
    ),
    (
        "reserved account in list",
        "port = 4222\naccounts = [foo, bar, \"$G\"]\nhttp_port = 8222\n",
        Some("\"$G\" is a Reserved Account"),
    ),
    (
        "duplicate account in list",
        "port = 4222\naccounts = [foo, bar, bar]\nhttp_port = 8222\n",
        Some("Duplicate Account Entry: bar"),
    ),
    (
        "duplicate user in account",
        "accounts = {\n  nats {\n    users = [\n      { user: \"foo\", pass: \"bar\" },\n      { user: \"hello\", pass: \"world\" },\n      { user: \"foo\", pass: \"bar\" }\n    ]\n  }\n}\n",
        Some("Duplicate user \"foo\" detected"),
    ),
    (
        "imports not a list",
        "accounts = {\n  nats {\n    imports = true\n  }\n}\n",
        Some("Imports should be an array, got bool"),
    ),
    (
        "exports not a list",
        "accounts = {\n  nats {\n    exports = true\n  }\n}\n",
        Some("Exports should be an array, got bool"),
    ),
    (
        "import item not a map",
        "accounts = {\n  nats {\n    imports = [\n      false\n    ]\n  }\n}\n",
        Some("Import Items should be a map with type entry, got bool"),
    ),
    (
        "export item not a map",
        "accounts = {\n  nats {\n    exports = [\n      false\n    ]\n  }\n}\n",
        Some("Export Items should be a map with type entry, got bool"),
    ),
    (
        "stream name not a string",
        "accounts = {\n  nats {\n    exports = [\n      { stream: false }\n    ]\n  }\n}\n",
        Some("Expected stream name to be string, got bool"),
    ),
    (
        "service name not a string",
        "accounts = {\n  nats {\n    exports = [\n      { service: false }\n    ]\n  }\n}\n",
        Some("Expected service name to be string, got bool"),
    ),
    (
        "stream import without name",
        "accounts = {\n  nats {\n    imports = [\n      { stream: { }}\n    ]\n  }\n}\n",
        Some("Expect an account name and a subject"),
    ),
    (
        "service import without name",
        "accounts = {\n  nats {\n    imports = [\n      { service: { }}\n    ]\n  }\n}\n",
        Some("Expect an account name and a subject"),
    ),
    (
        "accounts with a plain field",
        "http_port = 8222\n\naccounts {\n  foo = \"bar\"\n}",
        Some("Expected map entries for accounts"),
    ),
    (
        "accounts with nkey users, exports and imports",
        "http_port = 8222\naccounts {\n  synadia {\n    nkey = \"AC5GRL36RQV7MJ2GT6WQSCKDKJKYTK4T2LGLWJ2SEJKRDHFOQQWGGFQL\"\n    users [\n      { nkey = \"UCARKS2E3KVB7YORL2DG34XLT7PUCOL2SVM7YXV6ETHLW6Z46UUJ2VZ3\" }\n    ]\n    exports = [\n      { service: \"synadia.requests\", accounts: [nats, cncf] }\n    ]\n  }\n  nats {\n    nkey = \"ADRZ42QBM7SXQDXXTSVWT2WLLFYOQGAFC4TO6WOAXHEKQHIXR4HFYJDS\"\n    users [\n      { nkey = \"UD6AYQSOIN2IN5OGC6VQZCR4H3UFMIOXSW6NNS6N53CLJA4PB56CEJJI\" }\n    ]\n    imports = [\n      { service: { account: \"synadia\", subject: \"synadia.requests\" }, to: \"nats.requests\" }\n    ]\n  }\n  cncf {\n    nkey = \"AD4YRVUJF2KASKPGRMNXTYKIYSCB3IHHB4Y2ME6B2PDIV5QJ23C2ZRIT\"\n    users [\n      { nkey = \"UB57IEMPG4KOTPFV5A66QKE2HZ3XBXFHVRCCVMJEWKECMVN2HSH3VTSJ\" }\n    ]\n    imports = [\n      { service: { account: \"synadia\", subject: \"synadia.requests\" } }\n    ]\n  }\n}\n",
        None,
    ),
    (
        "seed as a user nkey in an account",
        "accounts {\n  synadia {\n    nkey = \"AC5GRL36RQV7MJ2GT6WQSCKDKJKYTK4T2LGLWJ2SEJKRDHFOQQWGGFQL\"\n    users [\n      {\n        nkey = \"SCARKS2E3KVB7YORL2DG34XLT7PUCOL2SVM7YXV6ETHLW6Z46UUJ2VZ3\"\n      }\n    ]\n    exports = [\n      { service: \"synadia.requests\", accounts: [nats] }\n    ]\n  }\n  nats {\n    nkey = \"ADRZ42QBM7SXQDXXTSVWT2WLLFYOQGAFC4TO6WOAXHEKQHIXR4HFYJDS\"\n    imports = [\n      { service: { account: \"synadia\", subject: \"synadia.requests\" }, to: \"nats.requests\" }\n    ]\n  }\n}\n",
        Some("Not a valid public nkey for a user"),
    ),
    (
        "variable used inside accounts",
        "accounts {\n  PERMISSIONS = {\n    publish = {\n      allow = [\"foo\",\"bar\"]\n      deny = [\"quux\"]\n    }\n  }\n  synadia {\n    nkey = \"AC5GRL36RQV7MJ2GT6WQSCKDKJKYTK4T2LGLWJ2SEJKRDHFOQQWGGFQL\"\n    users [\n      {\n        nkey = \"UCARKS2E3KVB7YORL2DG34XLT7PUCOL2SVM7YXV6ETHLW6Z46UUJ2VZ3\"\n        permissions = $PERMISSIONS\n      }\n    ]\n    exports = [\n      { stream: \"synadia.>\" }\n    ]\n  }\n}\n",
        None,
    ),
    (
        "variable unused inside accounts",
        "accounts {\n  PERMISSIONS = {\n    publish = {\n      allow = [\"foo\",\"bar\"]\n      deny = [\"quux\"]\n    }\n  }\n  synadia {\n    nkey = \"AC5GRL36RQV7MJ2GT6WQSCKDKJKYTK4T2LGLWJ2SEJKRDHFOQQWGGFQL\"\n    users [\n      { nkey = \"UCARKS2E3KVB7YORL2DG34XLT7PUCOL2SVM7YXV6ETHLW6Z46UUJ2VZ3\" }\n    ]\n    exports = [\n      { stream: \"synadia.>\" }\n    ]\n  }\n}\n",
        Some("unknown field \"publish\""),
    ),
    (
        "latency tracking with a system account",
        "system_account: sys\naccounts {\n  sys { users = [ {user: sys, pass: \"\" } ] }\n  nats.io: {\n    users = [ { user : bar, pass: \"\" } ]\n    exports = [\n      { service: \"nats.add\"\n        response: singleton\n        latency: {\n          sampling: 100%\n          subject: \"latency.tracking.add\"\n        }\n      }\n    ]\n  }\n}\n",
        None,
    ),
];

async fn check_accounts(ctx: Ctx) -> Result<()> {
    run_cases(&ctx, ACCOUNT_CASES).await
}

const MISC_CASES: &[Case] = &[
    ("unknown top level field", "\nmonitor = \"127.0.0.1:4442\"\n", Some("unknown field \"monitor\"")),
    (
        "default permissions at top level",
        "\"default_permissions\" {\n  publish = [\"_SANDBOX.>\"]\n  subscribe = [\"_SANDBOX.>\"]\n}\n",
        Some("unknown field \"default_permissions\""),
    ),
    ("empty cluster", "cluster = {\n}\n", None),
    (
        "unknown field in cluster",
        "port = 4222\ncluster = {\n  port = 6222\n  foo = \"bar\"\n  authorization {\n    user = \"hello\"\n    pass = \"world\"\n  }\n}\n",
        Some("unknown field \"foo\""),
    ),
    (
        "unknown field in cluster authorization",
        "cluster = {\n  authorization {\n    foo = \"bar\"\n  }\n}\n",
        Some("unknown field \"foo\""),
    ),
    (
        "unknown field in cluster with routes",
        "cluster {\n  port = 6222\n  routes = [\n    nats://127.0.0.1:6222\n  ]\n  peers = []\n}\n",
        Some("unknown field \"peers\""),
    ),
    (
        "variable used in cluster",
        "cluster {\n  clustering_port = 6222\n  port = $clustering_port\n}\n",
        None,
    ),
    (
        "permissions in cluster authorization",
        "cluster {\n  authorization {\n    permissions = {\n      publish = { allow = [\"foo\", \"bar\"] }\n    }\n  }\n  permissions = {\n    publish = { deny = [\"foo\", \"bar\"] }\n  }\n}\n",
        Some("invalid use of field \"authorization\""),
    ),
    ("cluster listen port", "cluster {\n  listen = \"0.0.0.0:XXXX\"\n}\n", Some("could not parse port \"XXXX\"")),
    (
        "cluster users list",
        "cluster {\n  authorization {\n    users = []\n  }\n}\n",
        Some("Cluster authorization does not allow multiple users"),
    ),
    (
        "cluster route url",
        "cluster {\n  routes = [\n    \"0.0.0.0:XXXX\"\n    # \"0.0.0.0:YYYY\"\n  ]\n}\n",
        Some("error parsing route url [\"0.0.0.0:XXXX\"]"),
    ),
    (
        "cluster token",
        "cluster {\n  port: -1\n  authorization {\n    token: \"my_token\"\n  }\n}\n",
        Some("Cluster authorization does not support tokens"),
    ),
    (
        "gateway token",
        "gateway {\n  port: -1\n  name: \"A\"\n  authorization {\n    token: \"my_token\"\n  }\n}\n",
        Some("Gateway authorization does not support tokens"),
    ),
    ("unknown field in tls", "tls = {\n  hello = \"world\"\n}\n", Some("error parsing tls config, unknown field [\"hello\"]")),
    (
        "unknown field in cluster tls",
        "cluster {\n  tls = {\n    foo = \"bar\"\n  }\n}\n",
        Some("error parsing tls config, unknown field [\"foo\"]"),
    ),
    (
        "unknown curve",
        "tls = {\n    curve_preferences: [\n        \"CurveP5210000\"\n    ]\n}\n",
        Some("unrecognized curve preference CurveP5210000"),
    ),
    ("deprecated write_deadline", "\nwrite_deadline = 100\n", Some("invalid use of field \"write_deadline\"")),
    ("lame_duck_duration type", "lame_duck_duration: abc\n", Some("error parsing lame_duck_duration: time: invalid duration")),
    ("lame_duck_duration small", "lame_duck_duration: \"5s\"\n", Some("invalid lame_duck_duration of 5s, minimum is 30 seconds")),
    ("lame_duck_grace_period type", "lame_duck_grace_period: abc\n", Some("error parsing lame_duck_grace_period: time: invalid duration")),
    ("lame_duck_grace_period negative", "lame_duck_grace_period: \"-5s\"\n", Some("invalid lame_duck_grace_period, needs to be positive")),
    ("mqtt not a map", "mqtt = [\n  \"wrong\"\n]\n", Some("Expected mqtt to be a map, got []interface {}")),
    ("mqtt listen", "mqtt = {\n  listen: \"xxxxxxxx\"\n}\n", Some("could not parse address string \"xxxxxxxx\"")),
    ("mqtt port type", "mqtt = {\n  port: \"abc\"\n}\n", Some("interface conversion: interface {} is string, not int64")),
    (
        "websocket unknown auth field",
        "websocket {\n  authorization {\n    unknown: \"field\"\n  }\n}\n",
        Some("unknown field \"unknown\""),
    ),
    (
        "leafnode remotes not a list",
        "leafnodes {\n  remotes {\n    url: \"nats://127.0.0.1:1234\"\n  }\n}\n",
        Some("Expected remotes field to be an array, got map[string]interface {}"),
    ),
    (
        "leafnode users with single user",
        "leafnodes {\n  port: -1\n  authorization {\n    user: user1\n    password: pwd\n    users = [{user: user2, password: pwd}]\n  }\n}\n",
        Some("can not have a single user/pass and a users array"),
    ),
    (
        "duplicate store_dir",
        "store_dir: \"/tmp/a\"\njetstream {\n  store_dir: \"/tmp/b\"\n}\n",
        Some("Duplicate 'store_dir' configuration"),
    ),
];

async fn check_cluster_tls_misc(ctx: Ctx) -> Result<()> {
    run_cases(&ctx, MISC_CASES).await
}

/// TestConfigCheck's `tls` cases that MISC_CASES leaves out, and more of
/// the block's fields of a wrong type. No file is read: each case fails (or
/// passes) before Go would load one.
const TLS_CHECK_CASES: &[Case] = &[
    (
        "cipher suites and an unknown field",
        "tls = {\n    cipher_suites: [\n\t\"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\",\n\t\"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\"\n    ]\n    preferences = []\n}\n",
        Some("error parsing tls config, unknown field [\"preferences\"]"),
    ),
    (
        "curve preferences and an unknown field",
        "tls = {\n    curve_preferences: [\n\t\"CurveP256\",\n\t\"CurveP384\",\n\t\"CurveP521\"\n    ]\n    suites = []\n}\n",
        Some("error parsing tls config, unknown field [\"suites\"]"),
    ),
    (
        "checking known urls for clients",
        "tls = {\n  cert_file: \"server-cert.pem\"\n  key_file: \"server-key.pem\"\n  verify_cert_and_check_known_urls: true\n}\n",
        Some("verify_cert_and_check_known_urls not supported in this context"),
    ),
    ("empty cluster tls", "cluster {\n  tls {\n  }\n}\n", None),
    (
        "checking known urls for routes",
        "cluster {\n  tls {\n    verify_cert_and_check_known_urls: true\n  }\n}\n",
        None,
    ),
    ("tls not a map", "tls: 1\n", Some("interface conversion: interface {} is int64, not map[string]interface {}")),
    ("cert_file not a string", "tls {\n  cert_file: 1\n}\n", Some("error parsing tls config, expected 'cert_file' to be filename")),
    ("key_file not a string", "tls {\n  key_file: true\n}\n", Some("error parsing tls config, expected 'key_file' to be filename")),
    ("ca_file not a string", "tls {\n  ca_file: 2\n}\n", Some("error parsing tls config, expected 'ca_file' to be filename")),
    ("verify not a boolean", "tls {\n  verify: 1\n}\n", Some("error parsing tls config, expected 'verify' to be a boolean")),
    ("insecure not a boolean", "tls {\n  insecure: \"x\"\n}\n", Some("error parsing tls config, expected 'insecure' to be a boolean")),
    ("verify_and_map not a boolean", "tls {\n  verify_and_map: 1\n}\n", Some("error parsing tls config, expected 'verify_and_map' to be a boolean")),
    (
        "verify_cert_and_check_known_urls not a boolean",
        "cluster {\n  tls {\n    verify_cert_and_check_known_urls: 1\n  }\n}\n",
        Some("error parsing tls config, expected 'verify_cert_and_check_known_urls' to be a boolean"),
    ),
    ("empty cipher_suites", "tls {\n  cipher_suites: []\n}\n", Some("error parsing tls config, 'cipher_suites' cannot be empty")),
    ("cipher_suites not a list", "tls {\n  cipher_suites: \"x\"\n}\n", Some("interface conversion: interface {} is string, not []interface {}")),
    ("unknown cipher", "tls {\n  cipher_suites: [\"FOO\"]\n}\n", Some("unrecognized cipher FOO")),
    (
        "known ciphers",
        "tls {\n  cipher_suites: [\"TLS_AES_128_GCM_SHA256\", \"TLS_RSA_WITH_RC4_128_SHA\", \"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305\"]\n  curve_preferences: [\"X25519\", \"CurveP256\"]\n}\n",
        None,
    ),
    ("empty curve_preferences", "tls {\n  curve_preferences: []\n}\n", Some("error parsing tls config, 'curve_preferences' cannot be empty")),
    ("timeout not a duration", "tls {\n  timeout: \"abc\"\n}\n", Some("error parsing tls config, 'timeout' time: invalid duration \"abc\"")),
    ("timeout of a wrong type", "tls {\n  timeout: true\n}\n", Some("error parsing tls config, 'timeout' wrong type")),
    ("timeouts", "tls {\n  timeout: \"2s\"\n}\ncluster {\n  tls {\n    timeout: 0.5\n  }\n}\n", None),
    ("connection_rate_limit of a wrong type", "tls {\n  connection_rate_limit: \"x\"\n}\n", Some("error parsing tls config, 'connection_rate_limit' wrong type")),
    (
        "pinned_certs not a list",
        "tls {\n  pinned_certs: \"x\"\n}\n",
        Some("error parsing tls config, expected 'pinned_certs' to be a list of hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"),
    ),
    (
        "pinned_certs entry not a hash",
        "tls {\n  pinned_certs: [\"abc\"]\n}\n",
        Some("error parsing tls config, 'pinned_certs' key abc does not look like hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"),
    ),
    (
        "pinned_certs",
        "tls {\n  pinned_certs: [\"ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789\"]\n  connection_rate_limit: 10\n}\n",
        None,
    ),
    ("resolver_tls unknown field", "resolver_tls {\n  foo: 1\n}\n", Some("error parsing tls config, unknown field [\"foo\"]")),
];

async fn check_tls(ctx: Ctx) -> Result<()> {
    run_cases(&ctx, TLS_CHECK_CASES).await
}

/// TestConfigCheck's `leafnodes` cases that MISC_CASES leaves out, and more.
const LEAF_CHECK_CASES: &[Case] = &[
    (
        "only a tls timeout for a remote",
        "leafnodes {\n  remotes = [\n    {\n      url: \"tls://nats:7422\"\n      tls {\n        timeout: 0.01\n      }\n    }\n  ]\n}",
        None,
    ),
    (
        "checking known urls for a remote",
        "leafnodes {\n  remotes = [\n    {\n      url: \"tls://nats:7422\"\n      tls {\n        timeout: 0.01\n\t\tverify_cert_and_check_known_urls: true\n      }\n    }\n  ]\n}",
        Some("verify_cert_and_check_known_urls not supported in this context"),
    ),
    (
        "remote url of a wrong type",
        "leafnodes {\n  remotes: [\n    { urls: 1234 }\n  ]\n}",
        Some("Expected remote leafnode url to be an array or string, got 1234"),
    ),
    (
        "min_version not a string",
        "leafnodes {\n\tport: -1\n\tmin_version = 123\n}",
        Some("interface conversion: interface {} is int64, not string"),
    ),
    (
        "min_version not a version",
        "leafnodes {\n\tport: -1\n\tmin_version = bad.version\n}",
        Some("invalid leafnode's minimum version: invalid semver"),
    ),
    (
        "min_version too low",
        "leafnodes {\n\tport: -1\n\tmin_version = 2.7.9\n}",
        Some("the minimum version should be at least 2.8.0"),
    ),
    (
        "min_version without a patch",
        "leafnodes {\n  min_version: \"2.8\"\n}\n",
        Some("invalid leafnode's minimum version: strconv.Atoi: parsing \"\": invalid syntax"),
    ),
    ("min_version with a v", "leafnodes {\n  min_version: \"v2.9.0\"\n}\n", None),
    (
        "duplicate leafnode users",
        "leafnodes {\n  authorization {\n    users = [\n      {user: user, password: pwd}\n      {user: user, password: pwd}\n    ]\n  }\n}\n",
        Some("duplicate user \"user\" detected in leafnode authorization"),
    ),
    (
        "a full leafnodes block",
        "leafnodes {\n  listen: \"127.0.0.1:7422\"\n  advertise: \"me:22\"\n  no_advertise: true\n  reconnect: 2\n  authorization {\n    users = [ {user: a, password: b, account: A} ]\n    timeout: 2.2\n  }\n  remotes = [\n    {\n      urls: [\"nats-leaf://127.0.0.1:7423\", \"nats-leaf://127.0.0.1:7424\"]\n      account: A\n      credentials: \"./my.creds\"\n      hub: true\n      deny_imports: [\"foo.*\"]\n      deny_exports: \"bar\"\n      ws_compression: true\n      ws_no_masking: true\n      dont_randomize: true\n    }\n  ]\n}\naccounts { A {} }\n",
        None,
    ),
    ("leafnodes not a map", "leafnodes: 1\n", Some("Expected map to define a leafnode, got int64")),
    ("leafnodes listen", "leafnodes {\n  listen: \"a:b\"\n}\n", Some("could not parse port \"b\"")),
    (
        "leafnodes authorization not a map",
        "leafnodes {\n  authorization: 1\n}\n",
        Some("runtime error: invalid memory address or nil pointer dereference"),
    ),
    ("leafnodes users not a list", "leafnodes {\n  authorization {\n    users: 1\n  }\n}\n", Some("Expected users field to be an array, got 1")),
    ("leafnodes user entry not a map", "leafnodes {\n  authorization {\n    users: [true]\n  }\n}\n", Some("Expected user entry to be a map/struct, got true")),
    ("remote not a map", "leafnodes {\n  remotes: [true]\n}\n", Some("Expected remote leafnode entry to be a map/struct, got true")),
    ("remote url", "leafnodes {\n  remotes: [ {url: \"nats://a b\"} ]\n}\n", Some("error parsing leafnode url [\"nats://a b\"]")),
    ("remote deny_imports", "leafnodes {\n  remotes: [ {url: \"nats://h:1\", deny_imports: 1} ]\n}\n", Some("Expected subject permissions to be a subject, or array of subjects, got int64")),
    ("remote deny_exports", "leafnodes {\n  remotes: [ {url: \"nats://h:1\", deny_exports: [\"a..b\"]} ]\n}\n", Some("subject \"a..b\" is not a valid subject")),
    ("remote unknown field", "leafnodes {\n  remotes: [ {url: \"nats://h:1\", foo: 1} ]\n}\n", Some("unknown field \"foo\"")),
];

async fn check_leafnodes(ctx: Ctx) -> Result<()> {
    run_cases(&ctx, LEAF_CHECK_CASES).await
}

/// TestConfigCheck's `mqtt` and `websocket` cases that MISC_CASES leaves
/// out, and more.
const MQTT_WS_CHECK_CASES: &[Case] = &[
    ("mqtt host of a wrong type", "mqtt {\n    host: 1234\n}\n", Some("interface conversion: interface {} is int64, not string")),
    (
        "mqtt tls without a key",
        "mqtt {\n  port: -1\n  tls {\n    cert_file: \"./configs/certs/server.pem\"\n  }\n}\n",
        Some("missing 'key_file' in TLS configuration"),
    ),
    (
        "websocket tls without a key",
        "websocket {\n  tls {\n    cert_file: \"configs/certs/server.pem\"\n  }\n}\n",
        Some("missing 'key_file' in TLS configuration"),
    ),
    (
        "checking known urls for websocket",
        "websocket {\n  tls {\n    cert_file: \"configs/certs/server.pem\"\n    key_file: \"configs/certs/key.pem\"\n    verify_cert_and_check_known_urls: true\n  }\n}\n",
        Some("verify_cert_and_check_known_urls not supported in this context"),
    ),
    (
        "a full mqtt block",
        "mqtt {\n  listen: \"127.0.0.1:1883\"\n  authorization { user: u, password: p, timeout: 2.5 }\n  no_auth_user: u\n  ack_wait: \"30s\"\n  max_ack_pending: 100\n  js_domain: hub\n  stream_replicas: 1\n  consumer_replicas: 1\n  consumer_memory_storage: true\n  consumer_inactive_threshold: \"1m\"\n}\n",
        None,
    ),
    ("mqtt ack_wait in seconds", "mqtt {\n  ack_wait: 5\n}\n", Some("invalid use of field \"ack_wait\": ack_wait should be converted to a duration")),
    ("mqtt ack_wait not a duration", "mqtt {\n  ack_wait: \"x\"\n}\n", Some("error parsing ack_wait: time: invalid duration \"x\"")),
    ("mqtt max_ack_pending out of range", "mqtt {\n  max_ack_pending: 70000\n}\n", Some("invalid value 70000, should in [0..65535] range")),
    ("mqtt unknown field", "mqtt {\n  foo: 1\n}\n", Some("unknown field \"foo\"")),
    (
        "mqtt authorization field of a wrong type",
        "mqtt {\n  authorization {\n    user: 1\n  }\n  port: 2\n}\n",
        Some("runtime error: invalid memory address or nil pointer dereference"),
    ),
    (
        "a full websocket block",
        "websocket {\n  listen: \"127.0.0.1:8080\"\n  advertise: \"me:8080\"\n  no_tls: true\n  same_origin: true\n  allowed_origins: [\"http://a\", \"http://b\"]\n  handshake_timeout: \"2s\"\n  compression: true\n  authorization { token: t }\n  jwt_cookie: jwt\n}\n",
        None,
    ),
    ("websocket not a map", "websocket: 1\n", Some("Expected websocket to be a map, got int64")),
    ("websocket handshake_timeout", "ws {\n  handshake_timeout: true\n}\n", Some("error parsing handshake timeout: unsupported type bool")),
    ("websocket origins", "websocket {\n  origins: [1, \"a\"]\n}\n", Some("error parsing allowed origins: unsupported type in array int64")),
    ("websocket unknown field", "websocket {\n  foo: 1\n}\n", Some("unknown field \"foo\"")),
];

async fn check_mqtt_websocket(ctx: Ctx) -> Result<()> {
    run_cases(&ctx, MQTT_WS_CHECK_CASES).await
}

/// TestParsingGatewaysErrors: every bad `gateway` block, with our test
/// certificates in place of Go's (a missing file stays missing).
const GATEWAY_ERROR_CASES: &[Case] = &[
    ("bad type", "gateway: \"bad_type\"", Some("Expected gateway to be a map")),
    ("bad listen", "gateway {\n  name: \"A\"\n  port: -1\n  listen: \"bad::address\"\n}", Some("parse address")),
    ("bad auth", "gateway {\n  name: \"A\"\n  port: -1\n  authorization {\n    users {\n    }\n  }\n}", Some("be an array")),
    ("unknown field", "gateway {\n  name: \"A\"\n  port: -1\n  reject_unknown_cluster: true\n  unknown_field: 1\n}", Some("unknown field")),
    (
        "users not supported",
        "gateway {\n  name: \"A\"\n  port: -1\n  authorization {\n    users [\n      {user: alice, password: foo}\n      {user: bob,   password: bar}\n    ]\n  }\n}",
        Some("does not allow multiple users"),
    ),
    ("tls error", "gateway {\n  name: \"A\"\n  port: -1\n  tls {\n    cert_file: 123\n  }\n}", Some("to be filename")),
    (
        "cert file not found",
        "gateway {\n  name: \"A\"\n  port: -1\n  tls {\n    cert_file: \"./missing.pem\"\n    key_file: \"./server-key.pem\"\n  }\n}",
        Some("certificate/key pair"),
    ),
    (
        "key file not found",
        "gateway {\n  name: \"A\"\n  port: -1\n  tls {\n    cert_file: \"./server-cert.pem\"\n    key_file: \"./missing.pem\"\n  }\n}",
        Some("certificate/key pair"),
    ),
    (
        "key file missing",
        "gateway {\n  name: \"A\"\n  port: -1\n  tls {\n    cert_file: \"./server-cert.pem\"\n  }\n}",
        Some("missing 'key_file' in TLS configuration"),
    ),
    (
        "cert file missing",
        "gateway {\n  name: \"A\"\n  port: -1\n  tls {\n    key_file: \"./server-key.pem\"\n  }\n}",
        Some("missing 'cert_file' in TLS configuration"),
    ),
    (
        "gateways not an array",
        "gateway {\n  name: \"A\"\n  gateways {\n    name: \"B\"\n  }\n}",
        Some("Expected gateways field to be an array"),
    ),
    (
        "gateway entry not a map",
        "gateway {\n  name: \"A\"\n  gateways [\n    \"g1\", \"g2\"\n  ]\n}",
        Some("Expected gateway entry to be a map"),
    ),
    (
        "bad url",
        "gateway {\n  name: \"A\"\n  gateways [\n    {\n      name: \"B\"\n      url: \"nats://wrong url\"\n    }\n  ]\n}",
        Some("error parsing gateway url"),
    ),
    (
        "bad urls",
        "gateway {\n  name: \"A\"\n  gateways [\n    {\n      name: \"B\"\n      urls: [\"nats://wrong url\", \"nats://host:5222\"]\n    }\n  ]\n}",
        Some("error parsing gateway url"),
    ),
    (
        "remote gateway tls error",
        "gateway {\n  name: \"A\"\n  port: -1\n  gateways [\n    {\n      name: \"B\"\n      tls {\n        cert_file: 123\n      }\n    }\n  ]\n}",
        Some("to be filename"),
    ),
    (
        "remote gateway unknown field",
        "gateway {\n  name: \"A\"\n  port: -1\n  gateways [\n    {\n      name: \"B\"\n      unknown_field: 1\n    }\n  ]\n}",
        Some("unknown field"),
    ),
];

/// More `gateway` blocks, good and bad.
const GATEWAY_MORE_CASES: &[Case] = &[
    (
        "a full gateway block",
        "gateway {\n  name: \"A\"\n  listen: \"127.0.0.1:7222\"\n  advertise: \"me:7222\"\n  connect_retries: 3\n  reject_unknown: true\n  authorization { user: u, password: p, timeout: 2 }\n  tls {\n    cert_file: \"server-cert.pem\"\n    key_file: \"server-key.pem\"\n    ca_file: \"ca.pem\"\n    verify_cert_and_check_known_urls: true\n  }\n  gateways [\n    {name: B, urls: [\"nats://127.0.0.1:7223\"]}\n    {name: C, url: \"nats://127.0.0.1:7224\", tls { cert_file: \"server-cert.pem\", key_file: \"server-key.pem\" }}\n  ]\n}\n",
        None,
    ),
    (
        "gateway authorization field of a wrong type",
        "gateway {\n  authorization {\n    user: 1\n  }\n  port: 2\n}\n",
        Some("runtime error: invalid memory address or nil pointer dereference"),
    ),
    (
        "remote gateway urls not a list",
        "gateway {\n  gateways: [ {name: B, urls: 1} ]\n}\n",
        Some("interface conversion: interface {} is int64, not []interface {}"),
    ),
    (
        "remote gateway name not a string",
        "gateway {\n  gateways: [ {name: 1} ]\n}\n",
        Some("interface conversion: interface {} is int64, not string"),
    ),
];

async fn check_gateway(ctx: Ctx) -> Result<()> {
    crate::kit::certs::write_all(&ctx)?;
    run_cases(&ctx, GATEWAY_ERROR_CASES).await?;
    run_cases(&ctx, GATEWAY_MORE_CASES).await
}

/// The files a `tls` block names, read and checked at `-t` time in every
/// block that takes one. The test certificates are in the working folder.
const TLS_FILE_CASES: &[Case] = &[
    (
        "certificate, key and CA",
        "tls {\n  cert_file: \"server-cert.pem\"\n  key_file: \"server-key.pem\"\n  ca_file: \"ca.pem\"\n  verify: true\n}\n",
        None,
    ),
    ("key in SEC 1 form", "tls {\n  cert_file: \"server-cert.pem\"\n  key_file: \"server-key-sec1.pem\"\n}\n", None),
    (
        "missing certificate file",
        "tls {\n  cert_file: \"nope.pem\"\n  key_file: \"server-key.pem\"\n}\n",
        Some("error parsing X509 certificate/key pair: open nope.pem: no such file or directory"),
    ),
    (
        "missing key file",
        "tls {\n  cert_file: \"server-cert.pem\"\n  key_file: \"nope.pem\"\n}\n",
        Some("error parsing X509 certificate/key pair: open nope.pem: no such file or directory"),
    ),
    (
        "folder as certificate",
        "tls {\n  cert_file: \".\"\n  key_file: \"server-key.pem\"\n}\n",
        Some("error parsing X509 certificate/key pair: read .: is a directory"),
    ),
    (
        "no PEM in the certificate file",
        "tls {\n  cert_file: \"junk.pem\"\n  key_file: \"server-key.pem\"\n}\n",
        Some("error parsing X509 certificate/key pair: tls: failed to find any PEM data in certificate input"),
    ),
    (
        "certificate and key swapped",
        "tls {\n  cert_file: \"server-key.pem\"\n  key_file: \"server-cert.pem\"\n}\n",
        Some("tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched"),
    ),
    (
        "certificate as key",
        "tls {\n  cert_file: \"server-cert.pem\"\n  key_file: \"server-cert.pem\"\n}\n",
        Some("tls: found a certificate rather than a key in the PEM for the private key"),
    ),
    (
        "other blocks in the certificate file",
        "tls {\n  cert_file: \"foo-bar.pem\"\n  key_file: \"server-key.pem\"\n}\n",
        Some("tls: failed to find \"CERTIFICATE\" PEM block in certificate input after skipping PEM blocks of the following types: [FOO BAR]"),
    ),
    (
        "other blocks in the key file",
        "tls {\n  cert_file: \"server-cert.pem\"\n  key_file: \"foo-bar.pem\"\n}\n",
        Some("tls: failed to find PEM block with type ending in \"PRIVATE KEY\" in key input after skipping PEM blocks of the following types: [FOO BAR]"),
    ),
    (
        "no PEM in the key file",
        "tls {\n  cert_file: \"server-cert.pem\"\n  key_file: \"junk.pem\"\n}\n",
        Some("tls: failed to find any PEM data in key input"),
    ),
    (
        "certificate that does not parse",
        "tls {\n  cert_file: \"not-der-cert.pem\"\n  key_file: \"server-key.pem\"\n}\n",
        Some("error parsing X509 certificate/key pair: x509: malformed certificate"),
    ),
    (
        "key that does not parse",
        "tls {\n  cert_file: \"server-cert.pem\"\n  key_file: \"not-der-key.pem\"\n}\n",
        Some("error parsing X509 certificate/key pair: tls: failed to parse private key"),
    ),
    (
        "key of another certificate",
        "tls {\n  cert_file: \"server-cert.pem\"\n  key_file: \"other-key.pem\"\n}\n",
        Some("error parsing X509 certificate/key pair: tls: private key does not match public key"),
    ),
    (
        "key of another type",
        "tls {\n  cert_file: \"server-cert.pem\"\n  key_file: \"ed25519-key.pem\"\n}\n",
        Some("error parsing X509 certificate/key pair: tls: private key type does not match public key type"),
    ),
    ("only a key", "tls {\n  key_file: \"server-key.pem\"\n}\n", Some("missing 'cert_file' in TLS configuration")),
    ("missing CA file", "tls {\n  ca_file: \"nope.pem\"\n}\n", Some("open nope.pem: no such file or directory")),
    ("no PEM in the CA file", "tls {\n  ca_file: \"junk.pem\"\n}\n", Some("failed to parse root ca certificate")),
    ("key as CA", "tls {\n  ca_file: \"server-key.pem\"\n}\n", Some("failed to parse root ca certificate")),
    ("folder as CA", "tls {\n  ca_file: \".\"\n}\n", Some("read .: is a directory")),
    ("CA only", "tls {\n  ca_file: \"ca.pem\"\n}\n", None),
    ("cluster certificate", "cluster {\n  tls {\n    cert_file: \"nope.pem\"\n    key_file: \"server-key.pem\"\n  }\n}\n", Some("error parsing X509 certificate/key pair: open nope.pem")),
    ("leafnodes certificate", "leafnodes {\n  tls {\n    cert_file: \"server-cert.pem\"\n    key_file: \"other-key.pem\"\n  }\n}\n", Some("tls: private key does not match public key")),
    (
        "leafnode remote CA",
        "leafnodes {\n  remotes [ {url: \"tls://127.0.0.1:7422\", tls { ca_file: \"junk.pem\" }} ]\n}\n",
        Some("failed to parse root ca certificate"),
    ),
    ("websocket certificate", "websocket {\n  tls {\n    cert_file: \"junk.pem\"\n    key_file: \"server-key.pem\"\n  }\n}\n", Some("failed to find any PEM data in certificate input")),
    ("mqtt key", "mqtt {\n  tls {\n    cert_file: \"server-cert.pem\"\n    key_file: \"nope.pem\"\n  }\n}\n", Some("open nope.pem: no such file or directory")),
    ("resolver_tls CA", "resolver_tls {\n  ca_file: \"nope.pem\"\n}\n", Some("open nope.pem: no such file or directory")),
];

async fn check_tls_files(ctx: Ctx) -> Result<()> {
    crate::kit::certs::write_all(&ctx)?;
    ctx.write_file("junk.pem", "junk\n")?;
    ctx.write_file(
        "foo-bar.pem",
        "-----BEGIN FOO-----\naGVsbG8gd29ybGQ=\n-----END FOO-----\n-----BEGIN BAR-----\naGVsbG8gd29ybGQ=\n-----END BAR-----\n",
    )?;
    ctx.write_file(
        "not-der-cert.pem",
        "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
    )?;
    ctx.write_file(
        "not-der-key.pem",
        "-----BEGIN PRIVATE KEY-----\naGVsbG8gd29ybGQ=\n-----END PRIVATE KEY-----\n",
    )?;
    run_cases(&ctx, TLS_FILE_CASES).await
}

/// A remote's credentials path: `~` needs a home folder; `$VAR` and `~`
/// otherwise expand without error (the file is only read on connect).
async fn leafnode_credentials_path(ctx: Ctx) -> Result<()> {
    let conf = |path: &str| {
        format!("leafnodes {{\n  remotes [ {{url: \"nats://127.0.0.1:7422\", credentials: \"{path}\"}} ]\n}}\n")
    };
    let with_home = [
        ("absolute path", conf("/foo/bar.creds")),
        ("relative path", conf("foo/bar.creds")),
        ("home folder", conf("~/bar.creds")),
        ("HOME variable", conf("$HOME/bar.creds")),
    ];
    ctx.set_env("HOME", "/fizz/buzz");
    for (i, (name, body)) in with_home.iter().enumerate() {
        let (code, text) = check_conf(&ctx, &format!("home{i}"), body).await?;
        ctx.observe(name, format!("exit {code:?}: {text}"));
        if code != Some(0) {
            bail!("{name}: want a valid config, got exit {code:?}: {text}");
        }
    }
    ctx.set_env("HOME", "");
    let (code, text) = check_conf(&ctx, "nohome", &conf("~/bar.creds")).await?;
    ctx.observe("home folder without HOME", format!("exit {code:?}: {text}"));
    if code != Some(1) || !text.contains("failed to get home dir, require $HOME") {
        bail!("want the home folder error, got exit {code:?}: {text}");
    }
    Ok(())
}

async fn check_includes(ctx: Ctx) -> Result<()> {
    ctx.write_file(
        "inc_good_b.conf",
        "authorization {\n  user: foo\n  pass: bar\n}\n",
    )?;
    ctx.write_file("inc_good_c.conf", "max_payload: 2048\n")?;
    ctx.write_file(
        "inc_good_a.conf",
        "port: 4222\ninclude \"inc_good_b.conf\"\ninclude \"./inc_good_c.conf\"\n",
    )?;
    let good = ctx.write_file("entry_good.conf", "include \"inc_good_a.conf\"\n")?;
    ctx.write_file(
        "inc_bad_b.conf",
        "\n# A comment\n\nauthorization {\n  user: foo\n  pass: bar\n}\n\n\n         monitoring_port: 8222\n",
    )?;
    let bad = ctx.write_file("entry_bad.conf", "port: 4222\ninclude \"inc_bad_b.conf\"\n")?;
    let dir = good
        .parent()
        .expect("a folder")
        .to_string_lossy()
        .to_string();
    for (what, path, want_code) in [("good includes", good, 0), ("bad include", bad, 1)] {
        let out = ctx
            .run_binary(&["-t", "-c", &path.to_string_lossy()])
            .await?;
        let text = format!("{}{}", out.stderr, out.stdout).replace(&dir, "<dir>");
        check_eq!(out.code, Some(want_code));
        ctx.observe(what, text.trim());
    }
    Ok(())
}

/// server/configs/multiple_errors.conf of the Go sources, as it is.
const MULTIPLE_ERRORS_CONF: &str = r#"
authorization {
  user = foo
  pass = bar
  token = quux
}

http_port = 8222

monitoring = 8222

write_deadline = 5

accounts {
  synadia {
    exports = [
      { stream: "synadia.>" }
    ]
  
    # Malformed nkeys
    nkey = "OC5GRL36RQV7MJ2GT6WQSCKDKJKYTK4T2LGLWJ2SEJKRDHFOQQWGGFQL"

    users [
      {
        # Malformed nkeys
        nkey = "OCARKS2E3KVB7YORL2DG34XLT7PUCOL2SVM7YXV6ETHLW6Z46UUJ2VZ3"
      }
    ]
  }

  #
  # + nats < synadia
  #
  nats {
    # Malformed nkeys
    nkey = "ODRZ42QBM7SXQDXXTSVWT2WLLFYOQGAFC4TO6WOAXHEKQHIXR4HFYJDS"

    users [
      {
        # Malformed nkeys
        nkey = "OD6AYQSOIN2IN5OGC6VQZCR4H3UFMIOXSW6NNS6N53CLJA4PB56CEJJI"
      }
    ]

    imports = [
      { stream: { account: "synadia", subject: "synadia.>" }, prefix: "imports.nats" }
    ]
  }

  # + cncf < synadia
  cncf {
    nkey = "AD4YRVUJF2KASKPGRMNXTYKIYSCB3IHHB4Y2ME6B2PDIV5QJ23C2ZRIT"

    users [
      {
        nkey = "UB57IEMPG4KOTPFV5A66QKE2HZ3XBXFHVRCCVMJEWKECMVN2HSH3VTSJ"
      }
    ]

    imports = [
      { stream: { account: "synadia", subject: "synadia.>" }, prefix: "imports.cncf" }
    ]
  }
}

cluster {
  authorization {
    users = []
  }
}
"#;

async fn check_multiple_errors(ctx: Ctx) -> Result<()> {
    let path = ctx.write_file("multiple_errors.conf", MULTIPLE_ERRORS_CONF)?;
    let path = path.to_string_lossy().to_string();
    let out = ctx.run_binary(&["-t", "-c", &path]).await?;
    check_eq!(out.code, Some(1));
    // Go prints the text of its processConfigErr: its warnings first, then
    // its errors, one a line, behind "nats-server: ".
    let text = format!("{}{}", out.stderr, out.stdout).replace(&path, "<conf>");
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.trim_start_matches("nats-server: "))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let warnings: Vec<&str> = lines
        .iter()
        .copied()
        .take_while(|l| l.contains(": invalid use of field "))
        .collect();
    let got_warnings = warnings.len();
    if got_warnings != 1 {
        bail!("Expected a 1 warning, got: {got_warnings}: {text}");
    }
    check_eq!(
        warnings[0],
        "<conf>:12:1: invalid use of field \"write_deadline\": write_deadline should be converted to a duration"
    );
    let errors = &lines[got_warnings..];
    let got = errors.len();
    if got != 7 && got != 8 {
        bail!("Expected 7 or 8 errors, got: {got}: {text}");
    }
    for msg in [
        "<conf>:2:1: Cannot have a user/pass and token",
        "<conf>:10:1: unknown field \"monitoring\"",
        "<conf>:67:3: Cluster authorization does not allow multiple users",
        "<conf>:21:5: Not a valid public nkey for an account: \"OC5GRL36RQV7MJ2GT6WQSCKDKJKYTK4T2LGLWJ2SEJKRDHFOQQWGGFQL\"",
        "<conf>:26:9: Not a valid public nkey for a user",
        "<conf>:36:5: Not a valid public nkey for an account: \"ODRZ42QBM7SXQDXXTSVWT2WLLFYOQGAFC4TO6WOAXHEKQHIXR4HFYJDS\"",
        "<conf>:41:9: Not a valid public nkey for a user",
    ] {
        if !errors.contains(&msg) {
            bail!("Expected to find error {msg:?} in {text}");
        }
    }
    if got == 8 {
        let extra = "<conf>:54:5: Can not have a single user/pass and accounts";
        if !errors.contains(&extra) {
            bail!("Expected to find error {extra:?} ({text})");
        }
    }
    ctx.observe("warnings", warnings.join("\n"));
    // Go's order of the errors, and whether the eighth is found, depend on
    // its random map order: the seven it always reports are observed, sorted.
    let mut sorted: Vec<&str> = errors
        .iter()
        .copied()
        .filter(|l| !l.starts_with("<conf>:54:5: "))
        .collect();
    sorted.sort();
    ctx.observe("errors always reported (sorted)", sorted.join("\n"));
    Ok(())
}

async fn auth_conflicts(ctx: Ctx) -> Result<()> {
    run_cases(
        &ctx,
        &[
            (
                "token with user and password",
                "authorization={\n  user: user\n  pass: password\n  token: $2a$11$whatever\n}\n",
                Some("token"),
            ),
            (
                "token with users",
                "authorization={\n  token: $2a$11$whatever\n  users: [\n    {user: test, password: test}\n  ]\n}\n",
                Some("token"),
            ),
            ("bad nkey", "authorization {\n  users = [ {nkey: \"Ufoo\"}]\n}\n", Some("Not a valid public nkey for a user")),
            (
                "nkey with password",
                "authorization {\n  users = [\n    {nkey: \"UDKTV7HZVYJFJN64LLMYQBUR6MTNNYCDC3LAZH4VHURW3GZLL3FULBXV\", pass: \"foo\"}\n  ]\n}\n",
                Some("Nkey users do not take usernames or passwords"),
            ),
        ],
    )
    .await?;
    run_cases_any_key_order(
        &ctx,
        &[
            (
                "duplicate user in authorization and account",
                "authorization = {users = [ {user: \"user1\", pass: \"pwd\"} ] }\naccounts { ACC { users = [ {user: \"user1\"} ] } }\n",
                Some("Duplicate user \"user1\" detected"),
            ),
            (
                "duplicate nkey in authorization and account",
                "authorization = {users = [ {nkey: UC6NLCN7AS34YOJVCYD4PJ3QB7QGLYG5B5IMBT25VW5K4TNUJODM7BOX} ] }\naccounts { ACC { users = [ {nkey: UC6NLCN7AS34YOJVCYD4PJ3QB7QGLYG5B5IMBT25VW5K4TNUJODM7BOX} ] } }\n",
                Some("Duplicate nkey \"UC6NLCN7AS34YOJVCYD4PJ3QB7QGLYG5B5IMBT25VW5K4TNUJODM7BOX\" detected"),
            ),
            (
                "auth single user and password and accounts users",
                "authorization = {user: \"user1\", password: \"pwd\"}\naccounts = { ACC { users = [ {user: \"user2\", pass: \"pwd\"} ] } }\n",
                Some("Can not have a single user/pass"),
            ),
            (
                "auth single user and password and accounts nkeys",
                "authorization = {user: \"user1\", password: \"pwd\"}\naccounts = { ACC { users = [ {nkey: UC6NLCN7AS34YOJVCYD4PJ3QB7QGLYG5B5IMBT25VW5K4TNUJODM7BOX} ] } }\n",
                Some("Can not have a single user/pass"),
            ),
            (
                "auth token and accounts users",
                "authorization = {token: \"my_token\"}\naccounts = { ACC { users = [ {user: \"user2\", pass: \"pwd\"} ] } }\n",
                Some("Can not have a token"),
            ),
            (
                "auth token and accounts nkeys",
                "authorization = {token: \"my_token\"}\naccounts = { ACC { users = [ {nkey: UC6NLCN7AS34YOJVCYD4PJ3QB7QGLYG5B5IMBT25VW5K4TNUJODM7BOX} ] } }\n",
                Some("Can not have a token"),
            ),
        ],
    )
    .await
}

// ---------------------------------------------------------------------------
// What a client observes from a server started with a given config

async fn listen_forms(ctx: Ctx) -> Result<()> {
    // (form, body, the host of the client listener and of the monitoring
    // one, which follows the client's when the config names none).
    for (what, body, host) in [
        ("port only", "listen: {{client_port}}\n", "0.0.0.0"),
        (
            "colon and port",
            "listen: \":{{client_port}}\"\n",
            "0.0.0.0",
        ),
        (
            "host and port",
            "listen: \"127.0.0.1:{{client_port}}\"\n",
            "127.0.0.1",
        ),
        (
            "host and port keys",
            "host: 127.0.0.1\nport: {{client_port}}\n",
            "127.0.0.1",
        ),
    ] {
        let s = ctx
            .server(
                ServerSpec::new()
                    .own_listen()
                    .conf(&format!("{body}http_port: {{{{http_port}}}}\n")),
            )
            .await?;
        let info = info_of(&ctx, &s).await?;
        check_eq!(info["port"].as_u64(), Some(u64::from(s.ports().client)));
        check_eq!(info["host"].as_str(), Some(host));
        ctx.observe(&format!("{what}: INFO host"), info["host"].to_string());
        let varz = ctx.http_json(&s, "/varz").await?;
        check_eq!(varz["host"].as_str(), Some(host));
        check_eq!(varz["http_host"].as_str(), Some(host));
        ctx.observe(
            &format!("{what}: varz host and http_host"),
            format!("{} {}", varz["host"], varz["http_host"]),
        );
    }
    Ok(())
}

async fn malformed_addresses(ctx: Ctx) -> Result<()> {
    run_cases(
        &ctx,
        &[
            (
                "malformed listen",
                "listen: \"127.0.0.1:XXX\"\n",
                Some("could not parse port \"XXX\""),
            ),
            (
                "listen without port",
                "listen: \"127.0.0.1\"\n",
                Some("could not parse address string"),
            ),
            (
                "malformed cluster listen",
                "cluster {\n  listen: \"127.0.0.1:XXX\"\n}\n",
                Some("could not parse port \"XXX\""),
            ),
            (
                "port as string",
                "port: \"this_string_trips_a_panic\"",
                Some(":1:0: interface conversion:"),
            ),
        ],
    )
    .await
}

async fn size_units(ctx: Ctx) -> Result<()> {
    for (text, want) in [
        ("8k", 8_000u64),
        ("4kb", 4 * 1024),
        ("3ki", 3 * 1024),
        ("4KiB", 4 * 1024),
        ("1m", 1_000_000),
        ("2MB", 2 * 1024 * 1024),
        ("2Mi", 2 * 1024 * 1024),
        ("1MiB", 1024 * 1024),
        ("2KB", 2048),
        ("1024", 1024),
    ] {
        let info = info_with(&ctx, &format!("max_payload: {text}\n")).await?;
        check_eq!(info["max_payload"].as_u64(), Some(want));
        ctx.observe(
            &format!("max_payload: {text}"),
            info["max_payload"].to_string(),
        );
    }
    // Every unit of the Go test's sample (conf/parse_test.go easynum), as
    // the max_pending /varz reports (with a max_payload below the smallest).
    for (text, want) in [
        ("8k", 8_000u64),
        ("4kb", 4 * 1024),
        ("3ki", 3 * 1024),
        ("4ki", 4 * 1024),
        ("1m", 1_000_000),
        ("2MB", 2 * 1024 * 1024),
        ("2Mi", 2 * 1024 * 1024),
        ("64MiB", 64 * 1024 * 1024),
        ("2g", 2_000_000_000),
        ("22GB", 22 * (1 << 30)),
        ("22Gi", 22 * (1 << 30)),
        ("22GiB", 22 * (1 << 30)),
        ("22TB", 22 * (1 << 40)),
        ("22Ti", 22 * (1 << 40)),
        ("22TiB", 22 * (1 << 40)),
        ("22PB", 22 * (1 << 50)),
        ("22Pi", 22 * (1 << 50)),
        ("22PiB", 22 * (1 << 50)),
    ] {
        let s = ctx
            .server(ServerSpec::new().conf(&format!(
                "max_payload: 1024\nmax_pending: {text}\nhttp_port: {{{{http_port}}}}\n"
            )))
            .await?;
        let varz = ctx.http_json(&s, "/varz").await?;
        check_eq!(varz["max_pending"].as_u64(), Some(want));
        ctx.observe(
            &format!("max_pending: {text}"),
            varz["max_pending"].to_string(),
        );
    }
    // Large units parse; as a max_payload they are too big.
    run_cases(
        &ctx,
        &[
            ("max_pending 22TB", "max_pending: 22TB\n", None),
            ("max_pending 2g", "max_pending: 2g\n", None),
            (
                "max_payload 22GB",
                "max_payload: 22GB\n",
                Some("max_payload value is too big"),
            ),
            (
                "max_payload 22Gi",
                "max_payload: 22Gi\n",
                Some("max_payload value is too big"),
            ),
            (
                "max_payload 22GiB",
                "max_payload: 22GiB\n",
                Some("max_payload value is too big"),
            ),
            (
                "max_payload 2PB",
                "max_payload: 2PB\n",
                Some("max_payload value is too big"),
            ),
            ("max_payload 64MiB", "max_payload: 64MiB\n", None),
        ],
    )
    .await
}

async fn server_config_info(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(
            "server_name: testing_server\nmax_control_line: 2048\nmax_payload: 65536\nmax_connections: 100\nmax_subscriptions: 1000\nmax_pending: 10000000\nping_interval: \"60s\"\nping_max: 3\nwrite_deadline: \"3s\"\nlame_duck_duration: \"4m\"\nconnect_error_reports: 86400\nreconnect_error_reports: 5\n",
        ))
        .await?;
    let info = info_of(&ctx, &s).await?;
    check_eq!(info["max_payload"].as_u64(), Some(65536));
    check_eq!(info["server_name"].as_str(), Some("testing_server"));
    ctx.observe_json("info", &info);
    // max_control_line 2048: a longer control line is refused.
    let mut c = ctx.raw_connected(&s, "{\"verbose\":false}").await?;
    c.send(&format!("PUB {} 2\r\nok\r\n", "a".repeat(2100)))
        .await?;
    let e = c.expect_err().await?;
    ctx.observe("control line over 2048", &e);
    check_eq!(e.as_str(), "maximum control line exceeded");
    Ok(())
}

async fn max_payload_limits(ctx: Ctx) -> Result<()> {
    run_cases(
        &ctx,
        &[
            (
                "max_payload 3000000000",
                "\nmax_payload = 3000000000\n",
                Some("max_payload value is too big"),
            ),
            (
                "max_control_line 3000000000",
                "\nmax_control_line = 3000000000\n",
                Some("max_control_line value is too big"),
            ),
            (
                "max_payload above max_pending (parse only)",
                "max_payload = 100000\nmax_pending = 50000\n",
                None,
            ),
        ],
    )
    .await?;
    // Starting the server with max_payload above max_pending fails.
    let path = ctx.write_file("above.conf", "max_payload = 100000\nmax_pending = 50000\n")?;
    let path = path.to_string_lossy().to_string();
    let out = ctx
        .run_binary(&["-c", &path, "-a", "127.0.0.1", "-p", "-1"])
        .await?;
    check_eq!(out.code, Some(1));
    let text = out.stderr.replace(&path, "<conf>");
    check_eq!(text.contains("cannot be higher"), true);
    ctx.observe("start with max_payload above max_pending", text.trim());
    Ok(())
}

async fn unknown_top_level(ctx: Ctx) -> Result<()> {
    run_cases(
        &ctx,
        &[
            (
                "streaming block",
                "\nport: 1234\nstreaming {\n  id: \"me\"\n}\n",
                Some("unknown field \"streaming\""),
            ),
            (
                "unknown cluster field",
                "\nport: 1234\ncluster {\n  non_top_level_unknown_field: 123\n}\n",
                Some("unknown field \"non_top_level_unknown_field\""),
            ),
        ],
    )
    .await
}

async fn write_deadline(ctx: Ctx) -> Result<()> {
    run_cases(
        &ctx,
        &[
            ("1x", "write_deadline: \"1x\"", Some("parsing")),
            ("1s", "write_deadline: \"1s\"", None),
            (
                "2 (seconds, deprecated)",
                "write_deadline: 2",
                Some("write_deadline should be converted to a duration"),
            ),
        ],
    )
    .await?;
    // The value a server runs with (the deprecated form is only a warning:
    // the server starts), in nanoseconds in /varz.
    for (body, want) in [
        ("write_deadline: \"1s\"", 1_000_000_000u64),
        ("write_deadline: 2", 2_000_000_000),
    ] {
        let s = ctx
            .server(ServerSpec::new().conf(&format!("{body}\nhttp_port: {{{{http_port}}}}\n")))
            .await?;
        let varz = ctx.http_json(&s, "/varz").await?;
        check_eq!(varz["write_deadline"].as_u64(), Some(want));
        ctx.observe(body, varz["write_deadline"].to_string());
    }
    Ok(())
}

async fn ping_interval(ctx: Ctx) -> Result<()> {
    // The old form (a number of seconds) is one warning and no error.
    let (code, text) = check_conf(&ctx, "ping-old", "ping_interval: 5").await?;
    check_eq!(code, Some(1));
    let lines: Vec<&str> = text.lines().collect();
    check_eq!(lines.len(), 1);
    check_eq!(
        lines[0].contains("ping_interval should be converted to a duration"),
        true
    );
    ctx.observe("-t ping_interval: 5", &text);
    run_cases(&ctx, &[("\"5m\"", "ping_interval: \"5m\"", None)]).await?;
    // The interval a server runs with, in either form, in nanoseconds in /varz.
    for (body, want) in [
        ("ping_interval: 5", 5_000_000_000u64),
        ("ping_interval: \"5m\"", 300_000_000_000),
    ] {
        let s = ctx
            .server(ServerSpec::new().conf(&format!("{body}\nhttp_port: {{{{http_port}}}}\n")))
            .await?;
        let varz = ctx.http_json(&s, "/varz").await?;
        check_eq!(varz["ping_interval"].as_u64(), Some(want));
        ctx.observe(body, varz["ping_interval"].to_string());
    }
    // The server pings at the configured interval, in either form.
    for body in ["ping_interval: \"200ms\"\n", "ping_interval: 1\n"] {
        let s = ctx.server(ServerSpec::new().conf(body)).await?;
        let mut c = ctx.raw_connected(&s, "{\"verbose\":false}").await?;
        let got = c
            .expect_within(r"(PING)\r\n", Duration::from_millis(2500))
            .await?;
        ctx.observe(body.trim(), &got[0]);
    }
    Ok(())
}

async fn empty_config(ctx: Ctx) -> Result<()> {
    let (code, text) = check_conf(&ctx, "empty", "").await?;
    check_eq!(code, Some(0));
    ctx.observe("-t on an empty file", &text);
    let s = ctx.server(ServerSpec::new().conf("")).await?;
    let info = info_of(&ctx, &s).await?;
    check_eq!(info["max_payload"].as_u64(), Some(1024 * 1024));
    check_eq!(info.get("auth_required").is_none(), true);
    ctx.observe_json("info", &info);
    // No config file at all: an empty `-c` after the kit's own drops it,
    // the server starts from flags alone and names no config file.
    let port = crate::kit::ports::alloc()?;
    let port_s = port.to_string();
    let bare = ctx
        .server(ServerSpec::new().own_listen().args([
            "-c",
            "",
            "-a",
            "127.0.0.1",
            "-p",
            port_s.as_str(),
        ]))
        .await?;
    let (_, info) = RawClient::connect_info(&format!("127.0.0.1:{port}")).await?;
    check_eq!(info["max_payload"].as_u64(), Some(1024 * 1024));
    ctx.observe_json("info without a config file", &info);
    let logs = bare.logs();
    let named = logs
        .lines()
        .filter(|l| l.contains("configuration file"))
        .count();
    check_eq!(named, 0);
    ctx.observe("log lines naming a configuration file", named.to_string());
    Ok(())
}

fn responses_conf(a: &str, b: &str) -> String {
    format!(
        "authorization {{\n  users [\n    {{\n      user: ivan\n      password: pwd\n      permissions {{\n        allow_responses {{\n          {a}\n          {b}\n        }}\n      }}\n    }}\n  ]\n}}\n"
    )
}

async fn response_permissions_parse(ctx: Ctx) -> Result<()> {
    let cases: Vec<(String, String, Option<&str>)> = vec![
        ("defaults".into(), responses_conf("", ""), None),
        ("max 10".into(), responses_conf("max: 10", ""), None),
        ("ttl 5s".into(), responses_conf("", "ttl: 5s"), None),
        ("max 0".into(), responses_conf("max: 0", ""), None),
        ("ttl 0s".into(), responses_conf("", "ttl: \"0s\""), None),
        (
            "max -1, ttl -1s".into(),
            responses_conf("max: -1", "ttl: \"-1s\""),
            None,
        ),
        (
            "unknown field".into(),
            responses_conf("unknown_field: 123", ""),
            Some("Unknown field"),
        ),
        (
            "ttl as number".into(),
            responses_conf("max: 10", "ttl: 123"),
            Some("not a duration string"),
        ),
        (
            "ttl not a duration".into(),
            responses_conf("max: 10", "ttl: xyz"),
            Some("error parsing expires"),
        ),
    ];
    for (i, (name, body, want)) in cases.iter().enumerate() {
        let (code, text) = check_conf(&ctx, &format!("resp{i}"), body).await?;
        ctx.observe(name, format!("exit {code:?}: {text}"));
        let good = match want {
            None => code == Some(0),
            Some(w) => code == Some(1) && text.contains(w),
        };
        if !good {
            bail!("{name}: want {want:?}, got exit {code:?}: {text}");
        }
    }
    // max: 2 allows two replies to one request.
    let s = ctx
        .server(ServerSpec::new().conf(
            "authorization {\n  users [\n    {user: req, password: pwd}\n    {user: svc, password: pwd, permissions { subscribe: \"svc\", allow_responses { max: 2 } }}\n  ]\n}\n",
        ))
        .await?;
    let mut svc = ctx
        .raw_connected(&s, r#"{"verbose":false,"user":"svc","pass":"pwd"}"#)
        .await?;
    svc.send("SUB svc 1\r\n").await?;
    svc.flush().await?;
    let mut req = ctx
        .raw_connected(&s, r#"{"verbose":false,"user":"req","pass":"pwd"}"#)
        .await?;
    req.send("PUB svc r.1 2\r\nhi\r\n").await?;
    req.flush().await?;
    svc.read_msgs(1).await?;
    svc.send("PUB r.1 1\r\na\r\nPUB r.1 1\r\nb\r\nPUB r.1 1\r\nc\r\n")
        .await?;
    let e = err_skipping_ping(&mut svc).await?;
    check_eq!(e.as_str(), "Permissions Violation for Publish to \"r.1\"");
    ctx.observe("third reply with max 2", &e);
    Ok(())
}

async fn err_skipping_ping(c: &mut RawClient) -> Result<String> {
    let g = c.expect(r"(?:PING\r\n)*-ERR '([^\r]*)'\r\n").await?;
    Ok(g[0].clone())
}

async fn max_sub_tokens(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("max_sub_tokens: 4\n"))
        .await?;
    let mut c = ctx.raw_connected(&s, "{\"verbose\":false}").await?;
    c.send("SUB a.b.c.d 1\r\n").await?;
    c.flush().await?;
    c.send("SUB a.b.c.d.e 2\r\n").await?;
    let e = err_skipping_ping(&mut c).await?;
    ctx.observe("SUB with 5 tokens", &e);
    check_eq!(e.contains("too many tokens"), true);
    c.flush().await?;
    ctx.observe("after the error", "connection open");
    Ok(())
}

async fn variables(ctx: Ctx) -> Result<()> {
    let info = info_with(&ctx, "index = 2048\nmax_payload = $index\n").await?;
    check_eq!(info["max_payload"].as_u64(), Some(2048));
    ctx.observe("top-level variable", info["max_payload"].to_string());
    // A block's own variable shadows the outer one inside the block only:
    // after the block, the outer value is back.
    let s = ctx
        .server(ServerSpec::new().conf(
            "PASS = outer\nauthorization {\n  PASS = inner\n  users = [ {user: a, password: $PASS} ]\n}\nserver_name = $PASS\n",
        ))
        .await?;
    let info = info_of(&ctx, &s).await?;
    check_eq!(info["server_name"].as_str(), Some("outer"));
    ctx.observe(
        "outer variable outside the block",
        info["server_name"].to_string(),
    );
    for (pass, want) in [("inner", true), ("outer", false)] {
        let (mut c, _) = ctx.raw(&s).await?;
        c.send(&format!(
            "CONNECT {{\"verbose\":true,\"user\":\"a\",\"pass\":\"{pass}\"}}\r\n"
        ))
        .await?;
        let got = c.expect(r"(\+OK|-ERR '[^\r]*')\r\n").await?;
        check_eq!(got[0] == "+OK", want);
        ctx.observe(&format!("password {pass}"), &got[0]);
    }
    run_cases(
        &ctx,
        &[
            (
                "missing variable",
                "foo=$index",
                Some("variable reference for 'index' on line 1 can not be found"),
            ),
            (
                "missing variable in block",
                "authorization {\n  user: $nope\n}\n",
                Some("variable reference for 'nope'"),
            ),
        ],
    )
    .await
}

async fn env_variables(ctx: Ctx) -> Result<()> {
    for (name, value) in [
        ("PARITY_CONF_ENV_NUM", "2048"),
        ("PARITY_CONF_ENV_STR", "xyz"),
        ("PARITY_CONF_ENV_NUMSTR", "3xyz"),
        ("PARITY_CONF_ENV_UNIT", "3Gyz"),
        ("PARITY_CONF_ENV_QUOTED", "'3xyz'"),
    ] {
        ctx.set_env(name, value);
    }
    let info = info_with(&ctx, "max_payload = $PARITY_CONF_ENV_NUM\n").await?;
    check_eq!(info["max_payload"].as_u64(), Some(2048));
    ctx.observe("number from env", info["max_payload"].to_string());
    for (what, var, want) in [
        ("string from env", "PARITY_CONF_ENV_STR", "xyz"),
        (
            "string starting with a number from env",
            "PARITY_CONF_ENV_NUMSTR",
            "3xyz",
        ),
        (
            "number with size unit from env",
            "PARITY_CONF_ENV_UNIT",
            "3Gyz",
        ),
        ("quoted from env", "PARITY_CONF_ENV_QUOTED", "3xyz"),
    ] {
        let info = info_with(&ctx, &format!("server_name = ${var}\n")).await?;
        check_eq!(info["server_name"].as_str(), Some(want));
        ctx.observe(what, info["server_name"].to_string());
    }
    run_cases(
        &ctx,
        &[
            ("literal %s after $", "server_name = $%s\n", Some("")),
            (
                "unset env",
                "server_name = $PARITY_CONF_ENV_NEVER_SET\n",
                Some("variable reference"),
            ),
        ],
    )
    .await
}

/// conf/includes/passwords.conf of the Go sources: bcrypt hashes of "foo"
/// and "bar".
const INCLUDED_PASSWORDS: &str = "# Just foo & bar for testing\nALICE_PASS: $2a$10$UHR6GhotWhpLsKtVP0/i6.Nh9.fuY73cWjLoJjb2sKT8KISBcUW5q\nBOB_PASS: $2a$11$dZM98SpGeI7dCFFGSpt.JObQcix8YHml4TBUZoge9R1uxnMIln5ly\n";
/// conf/includes/users.conf: an include of its neighbour ended by `;`.
const INCLUDED_USERS: &str = "# Users configuration\n\ninclude ./passwords.conf;\n\nusers = [\n  {user: alice, password: $ALICE_PASS}\n  {user: bob,   password: $BOB_PASS}\n]\n";

/// Logs in with a user and password; returns the +OK or the -ERR line.
async fn login(ctx: &Ctx, s: &Server, user: &str, pass: &str) -> Result<String> {
    let (mut c, _) = ctx.raw(s).await?;
    c.send(&format!(
        "CONNECT {{\"verbose\":true,\"user\":\"{user}\",\"pass\":\"{pass}\"}}\r\n"
    ))
    .await?;
    let got = c.expect(r"(\+OK|-ERR '[^\r]*')\r\n").await?;
    Ok(got[0].clone())
}

async fn include_variables(ctx: Ctx) -> Result<()> {
    let dir = ctx_dir(&ctx)?;
    std::fs::create_dir_all(format!("{dir}/includes"))?;
    ctx.write_file("includes/passwords.conf", INCLUDED_PASSWORDS)?;
    ctx.write_file("includes/users.conf", INCLUDED_USERS)?;
    ctx.write_file("limits.conf", "max_payload: 4096\n")?;

    // conf/simple.conf: a nested include (users.conf includes passwords.conf)
    // inside authorization, next to a float timeout.
    let s = ctx
        .server(ServerSpec::new().own_listen().conf(
            "# Copyright 2016 Apcera Inc. All rights reserved.\n\nlisten: 127.0.0.1:{{client_port}}\nhttp_port: {{http_port}}\n\nauthorization {\n  include '../includes/users.conf' # Pull in from file\n  timeout: 0.5\n}\n",
        ))
        .await?;
    let info = info_of(&ctx, &s).await?;
    check_eq!(info["host"].as_str(), Some("127.0.0.1"));
    check_eq!(info["port"].as_u64(), Some(u64::from(s.ports().client)));
    for (user, pass, want) in [
        ("alice", "foo", true),
        ("bob", "bar", true),
        ("bob", "foo", false),
    ] {
        let got = login(&ctx, &s, user, pass).await?;
        check_eq!(got == "+OK", want);
        ctx.observe(&format!("nested include: {user}/{pass}"), &got);
    }
    let varz = ctx.http_json(&s, "/varz").await?;
    check_eq!(varz["auth_timeout"].as_f64(), Some(0.5));
    ctx.observe(
        "nested include: varz auth_timeout",
        varz["auth_timeout"].to_string(),
    );

    // The Go test's varIncludedVariablesSample: variables of an included
    // file and of the block itself, used by the users.
    let s = ctx
        .server(ServerSpec::new().conf(
            "include \"../limits.conf\"\nauthorization {\n\n  include \"../includes/passwords.conf\"\n\n  CAROL_PASS: foo\n\n  users = [\n   {user: alice, password: $ALICE_PASS}\n   {user: bob,   password: $BOB_PASS}\n   {user: carol, password: $CAROL_PASS}\n  ]\n  timeout: 0.5\n}\n",
        ))
        .await?;
    let info = info_of(&ctx, &s).await?;
    check_eq!(info["max_payload"].as_u64(), Some(4096));
    ctx.observe("included max_payload", info["max_payload"].to_string());
    for (user, pass, want) in [
        ("alice", "foo", true),
        ("bob", "bar", true),
        ("carol", "foo", true),
        ("alice", "bar", false),
    ] {
        let got = login(&ctx, &s, user, pass).await?;
        check_eq!(got == "+OK", want);
        ctx.observe(&format!("{user}/{pass}"), &got);
    }
    // The included timeout of 0.5s applies.
    let (mut c, _) = ctx.raw(&s).await?;
    let e = c.expect_err().await?;
    check_eq!(e.as_str(), "Authentication Timeout");
    ctx.observe("silent client", &e);

    // Where each variable was defined: left unused, each is an unknown
    // field of authorization, reported by -t at its own line and column,
    // in the included file for the included ones.
    let (code, text) = check_conf(
        &ctx,
        "unused-variables",
        "\nauthorization {\n\n  include \"./includes/passwords.conf\"\n\n  CAROL_PASS: foo\n\n  users = [\n   {user: dave, password: x}\n  ]\n}\n",
    )
    .await?;
    check_eq!(code, Some(1));
    let mut lines: Vec<String> = text
        .replace(&dir, "<dir>")
        .lines()
        .map(|l| l.trim_start_matches("nats-server: ").to_string())
        .collect();
    lines.sort();
    check_eq!(
        lines,
        vec![
            "<conf>:6:3: unknown field \"CAROL_PASS\"".to_string(),
            "<dir>/includes/passwords.conf:2:1: unknown field \"ALICE_PASS\"".to_string(),
            "<dir>/includes/passwords.conf:3:1: unknown field \"BOB_PASS\"".to_string(),
        ]
    );
    ctx.observe("positions of unused variables", lines.join("\n"));

    // A missing include file is an error.
    let (code, text) = check_conf(&ctx, "missing-include", "include \"nope.conf\"\n").await?;
    check_eq!(code, Some(1));
    ctx.observe("missing include", text.replace(&dir, "<dir>"));
    Ok(())
}

fn ctx_dir(ctx: &Ctx) -> Result<String> {
    let probe = ctx.write_file("probe", "")?;
    Ok(probe
        .parent()
        .expect("a folder")
        .to_string_lossy()
        .to_string())
}

async fn bools(ctx: Ctx) -> Result<()> {
    for (text, want) in [
        ("true", true),
        ("TRUE", true),
        ("yes", true),
        ("on", true),
        ("false", false),
        ("FALSE", false),
        ("no", false),
        ("off", false),
    ] {
        let info = info_with(&ctx, &format!("no_header_support = {text}\n")).await?;
        check_eq!(info["headers"].as_bool(), Some(!want));
        ctx.observe(
            &format!("no_header_support = {text}: INFO headers"),
            info["headers"].to_string(),
        );
    }
    Ok(())
}

async fn top_level_values(ctx: Ctx) -> Result<()> {
    let info = info_with(
        &ctx,
        "server_name='1'; max_payload=2048; no_header_support=true\n",
    )
    .await?;
    check_eq!(info["server_name"].as_str(), Some("1"));
    check_eq!(info["max_payload"].as_u64(), Some(2048));
    check_eq!(info["headers"].as_bool(), Some(false));
    ctx.observe_json("info with ; chaining", &info);
    // A float among chained values (the Go sample's bar=2.2), used as the
    // authorization timeout /varz reports.
    let s = ctx
        .server(ServerSpec::new().conf(
            "server_name='1'; bar=2.2; no_header_support=true; max_payload=22\nauthorization { timeout: $bar }\nhttp_port: {{http_port}}\n",
        ))
        .await?;
    let varz = ctx.http_json(&s, "/varz").await?;
    check_eq!(varz["auth_timeout"].as_f64(), Some(2.2));
    check_eq!(varz["server_name"].as_str(), Some("1"));
    check_eq!(varz["max_payload"].as_u64(), Some(22));
    let info = info_of(&ctx, &s).await?;
    check_eq!(info["headers"].as_bool(), Some(false));
    ctx.observe(
        "float bar=2.2 as the auth timeout",
        varz["auth_timeout"].to_string(),
    );
    let info = info_with(&ctx, "server_name: \"abc\";\nmax_payload: 3000;\n").await?;
    check_eq!(info["server_name"].as_str(), Some("abc"));
    check_eq!(info["max_payload"].as_u64(), Some(3000));
    ctx.observe("trailing semicolons", "parsed");
    Ok(())
}

async fn key_separators(ctx: Ctx) -> Result<()> {
    for (what, body) in [
        ("colon", "max_payload: 2000\n"),
        ("colon no space", "max_payload:2000\n"),
        ("equals", "max_payload = 2000\n"),
        ("equals no space", "max_payload=2000\n"),
        ("whitespace", "max_payload 2000\n"),
        ("tab", "max_payload\t2000\n"),
        ("quoted key", "\"max_payload\": 2000\n"),
        (
            "block with whitespace",
            "authorization {\n  users [ {user a, password b} ]\n}\nmax_payload 2000\n",
        ),
    ] {
        let info = info_with(&ctx, body).await?;
        check_eq!(info["max_payload"].as_u64(), Some(2000));
        ctx.observe(what, info["max_payload"].to_string());
    }
    Ok(())
}

async fn comments(ctx: Ctx) -> Result<()> {
    let info = info_with(
        &ctx,
        "# a comment\n// another comment\nmax_payload: 2000 # trailing\nserver_name: abc // trailing too\n  # indented\n",
    )
    .await?;
    check_eq!(info["max_payload"].as_u64(), Some(2000));
    check_eq!(info["server_name"].as_str(), Some("abc"));
    ctx.observe_json("info", &info);
    Ok(())
}

async fn json_compat(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().own_listen().conf(
            "{\n  \"host\": \"127.0.0.1\",\n  \"port\": {{client_port}},\n  \"max_payload\": 2000,\n  \"authorization\": {\n    \"users\": [\n      {\"user\": \"a\", \"password\": \"b\"}\n    ]\n  }\n}\n",
        ))
        .await?;
    let info = info_of(&ctx, &s).await?;
    check_eq!(info["max_payload"].as_u64(), Some(2000));
    check_eq!(info["auth_required"].as_bool(), Some(true));
    ctx.observe_json("info", &info);
    Ok(())
}

async fn multiline_structures(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(
            "authorization {\n  users = [\n    {\n      user: a\n      password: pa\n      permissions: {\n        publish: [\n          \"foo\",\n          \"bar\"\n        ]\n        subscribe: [\n          \"baz\"\n          \"qux\"\n        ]\n      }\n    },\n    {user: b, password: pb}\n  ]\n}\n",
        ))
        .await?;
    let (mut c, _) = ctx.raw(&s).await?;
    c.send("CONNECT {\"verbose\":true,\"user\":\"a\",\"pass\":\"pa\"}\r\n")
        .await?;
    c.expect(r"\+OK\r\n").await?;
    for (op, want_ok) in [
        ("PUB foo 1\r\nx\r\n", true),
        ("PUB bar 1\r\nx\r\n", true),
        ("PUB baz 1\r\nx\r\n", false),
        ("SUB baz 1\r\n", true),
        ("SUB qux 2\r\n", true),
        ("SUB foo 3\r\n", false),
    ] {
        c.send(op).await?;
        let got = c.expect(r"(?:PING\r\n)*(\+OK|-ERR '[^\r]*')\r\n").await?;
        check_eq!(got[0] == "+OK", want_ok);
        ctx.observe(op.lines().next().unwrap_or(op), &got[0]);
    }
    let (mut c, _) = ctx.raw(&s).await?;
    c.send("CONNECT {\"verbose\":true,\"user\":\"b\",\"pass\":\"pb\"}\r\n")
        .await?;
    c.expect(r"\+OK\r\n").await?;
    ctx.observe("second user", "+OK");
    Ok(())
}

async fn quoted_values(ctx: Ctx) -> Result<()> {
    for (what, body, want) in [
        ("double quoted", "server_name: \"a b\"\n", "a b"),
        ("single quoted", "server_name: 'a b'\n", "a b"),
        (
            "escaped in double quotes",
            "server_name: \"a\\tb\\\"c\"\n",
            "a\tb\"c",
        ),
        (
            "raw single quotes keep backslash",
            "server_name: 'a\\tb'\n",
            "a\\tb",
        ),
        (
            "unquoted with dashes",
            "server_name: my-server_01\n",
            "my-server_01",
        ),
        ("unquoted ip-like", "server_name: 127.0.0.1\n", "127.0.0.1"),
        ("quoted key", "'server_name': quoted-key\n", "quoted-key"),
        ("hex escape", "server_name: \"a\\x41b\"\n", "aAb"),
    ] {
        let info = info_with(&ctx, body).await?;
        check_eq!(info["server_name"].as_str(), Some(want));
        ctx.observe(what, info["server_name"].to_string());
    }
    Ok(())
}

async fn parse_errors(ctx: Ctx) -> Result<()> {
    run_cases(
        &ctx,
        &[
            (
                "garbage ending in a map",
                "A@@Føøøø?˛ø:{øøøø˙˙",
                Some("Unexpected EOF"),
            ),
            (
                "include with a dangling quote",
                "include \"9/\u{FFFD}",
                Some("Unexpected EOF"),
            ),
            (
                "dangling double quote",
                "server_name: \"abc\n",
                Some("Parse error"),
            ),
            (
                "dangling single quote",
                "server_name: 'abc\n",
                Some("Parse error"),
            ),
            (
                "map without closing bracket",
                "authorization {\n  user: a\n  password: b\n",
                Some("Parse error"),
            ),
            (
                "block without closing paren",
                "server_name (\nabc\n",
                Some("Parse error"),
            ),
            ("bad float", "max_payload: 2.2.2\n", Some("")),
            (
                "unknown escape",
                "server_name: \"a\\qb\"\n",
                Some("Parse error"),
            ),
        ],
    )
    .await
}

async fn sublist_no_cache(ctx: Ctx) -> Result<()> {
    // With the cache disabled, matching still works the same.
    let s = ctx
        .server(ServerSpec::new().conf("disable_sublist_cache: true\n"))
        .await?;
    let mut c = ctx.raw_connected(&s, "{\"verbose\":false}").await?;
    c.send("SUB foo.* 1\r\nSUB foo.> 2\r\nPUB foo.bar 2\r\nok\r\nPUB foo.bar 2\r\nok\r\n")
        .await?;
    let msgs = c.msgs_until_pong().await?;
    check_eq!(msgs.len(), 4);
    let mut sids: Vec<&str> = msgs.iter().map(|m| m.sid.as_str()).collect();
    sids.sort();
    check_eq!(sids, vec!["1", "1", "2", "2"]);
    ctx.observe("deliveries", format!("{sids:?}"));
    Ok(())
}

// ---------------------------------------------------------------------------
// Ports, flags over the file

/// The port a started server logged for `what` ("client connections" or
/// "http monitor").
fn logged_port(s: &Server, what: &str) -> Result<u16> {
    let re = regex::Regex::new(&format!(r"{what} on [^\s]*:(\d+)"))?;
    let logs = s.logs();
    let port = re
        .captures(&logs)
        .with_context(|| format!("no {what} line in the log:\n{logs}"))?[1]
        .parse()?;
    Ok(port)
}

async fn varz_at(port: u16) -> Result<Value> {
    let url = format!("http://127.0.0.1:{port}/varz");
    let body = reqwest::Client::new()
        .get(&url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .with_context(|| format!("GET {url}"))?
        .text()
        .await?;
    serde_json::from_str(&body).with_context(|| format!("GET {url}: not JSON: {body}"))
}

/// Port -1 (in `listen`, `port`, `http` or `-p`) asks for any free port.
async fn random_ports(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(
            ServerSpec::new()
                .own_listen()
                .conf("listen: \"127.0.0.1:-1\"\nhttp: \"127.0.0.1:-1\"\n"),
        )
        .await?;
    let client = logged_port(&s, "client connections")?;
    let http = logged_port(&s, "http monitor")?;
    check_eq!(client != 0 && http != 0 && client != http, true);
    let (_, info) = RawClient::connect_info(&format!("127.0.0.1:{client}")).await?;
    check_eq!(info["port"].as_u64(), Some(u64::from(client)));
    let varz = varz_at(http).await?;
    check_eq!(varz["port"].as_u64(), Some(u64::from(client)));
    for field in ["host", "http_host", "http_port", "https_port"] {
        ctx.observe(&format!("listen -1: varz {field}"), varz[field].to_string());
    }
    for (what, conf, args) in [
        ("port: -1", "host: 127.0.0.1\nport: -1\n", vec![]),
        ("-p -1", "", vec!["-a", "127.0.0.1", "-p", "-1"]),
    ] {
        let s = ctx
            .server(ServerSpec::new().own_listen().conf(conf).args(args))
            .await?;
        let port = logged_port(&s, "client connections")?;
        let (_, info) = RawClient::connect_info(&format!("127.0.0.1:{port}")).await?;
        check_eq!(info["port"].as_u64(), Some(u64::from(port)));
        ctx.observe(what, format!("listens on a free port: {}", port != 0));
    }
    run_cases(
        &ctx,
        &[(
            "listen, http and https at -1",
            "listen: \"127.0.0.1:-1\"\nhttp: \"127.0.0.1:-1\"\nhttps: \"127.0.0.1:-1\"\n",
            None,
        )],
    )
    .await
}

/// Without a monitoring host, the monitor listens on the client host.
async fn listen_monitoring_default(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf("http_port: {{http_port}}\n"))
        .await?;
    let http = s.ports().http.context("an http port")?;
    check_eq!(logged_port(&s, "http monitor")?, http);
    let varz = varz_at(http).await?;
    check_eq!(varz["http_host"].as_str(), Some("127.0.0.1"));
    ctx.observe("varz http_host", varz["http_host"].to_string());
    let on_v6 = tokio::net::TcpStream::connect(format!("[::1]:{http}"))
        .await
        .is_ok();
    check_eq!(on_v6, false);
    ctx.observe("monitor on ::1", format!("connects: {on_v6}"));
    Ok(())
}

/// Flags given with `-c` win over the file; what only the file sets stays.
async fn merge_overrides(ctx: Ctx) -> Result<()> {
    let (port, http, prof) = (
        crate::kit::ports::alloc()?,
        crate::kit::ports::alloc()?,
        crate::kit::ports::alloc()?,
    );
    let (port_s, http_s, prof_s) = (port.to_string(), http.to_string(), prof.to_string());
    let s = ctx
        .server(
            ServerSpec::new().own_listen().conf(
                "server_name: testing_server\nhost: 127.0.0.1\nport: {{client_port}}\nauthorization { user: derek, password: foo }\ndebug: false\ntrace: true\nlogtime: false\npid_file: \"{{dir}}/nats.pid\"\nmax_control_line: 2048\nmax_payload: 65536\nmax_connections: 100\nmax_subscriptions: 1000\nmax_pending: 10000000\nping_interval: \"60s\"\nping_max: 3\nwrite_deadline: \"3s\"\nlame_duck_duration: \"4m\"\nconnect_error_reports: 86400\nreconnect_error_reports: 5\n",
            )
            .args([
                "-p",
                port_s.as_str(),
                "--pass",
                "porkchop",
                "-D",
                "-m",
                http_s.as_str(),
                "--profile",
                prof_s.as_str(),
                "--no_advertise",
                "--connect_retries",
                "2",
            ]),
        )
        .await?;
    let file_port = tokio::net::TcpStream::connect(s.addr()).await.is_ok();
    check_eq!(file_port, false);
    ctx.observe("the file's port", format!("listening: {file_port}"));
    let varz = varz_at(http).await?;
    check_eq!(varz["port"].as_u64(), Some(u64::from(port)));
    check_eq!(varz["server_name"].as_str(), Some("testing_server"));
    check_eq!(varz["max_payload"].as_u64(), Some(65536));
    check_eq!(varz["http_port"].as_u64(), Some(u64::from(http)));
    ctx.observe("varz port and http_port", "those of the flags");
    for field in [
        "server_name",
        "host",
        "http_base_path",
        "auth_timeout",
        "max_control_line",
        "max_payload",
        "max_connections",
        "max_subscriptions",
        "max_pending",
        "ping_interval",
        "ping_max",
        "write_deadline",
    ] {
        ctx.observe(&format!("varz {field}"), varz[field].to_string());
    }
    let addr = format!("127.0.0.1:{port}");
    for (pass, want_ok) in [("porkchop", true), ("foo", false)] {
        let (mut c, _) = RawClient::connect_info(&addr).await?;
        c.send(&format!(
            "CONNECT {{\"verbose\":true,\"user\":\"derek\",\"pass\":\"{pass}\"}}\r\n"
        ))
        .await?;
        let got = c.expect(r"(\+OK|-ERR '[^\r]*')\r\n").await?;
        check_eq!(got[0] == "+OK", want_ok);
        ctx.observe(&format!("derek/{pass}"), &got[0]);
    }
    s.wait_for_log("[TRC]", Duration::from_secs(5)).await?;
    let logs = s.logs();
    let first = logs.lines().next().unwrap_or_default();
    let no_time = regex::Regex::new(r"^\[\d+\] \[INF\] Starting nats-server")?.is_match(first);
    check_eq!(no_time, true);
    check_eq!(logs.contains("[DBG]"), true);
    check_eq!(logs.contains(&format!("profiling port: {prof}")), true);
    ctx.observe(
        "log",
        format!(
            "no time: {no_time}, debug: {}, trace: {}, profiling port from the flag: true",
            logs.contains("[DBG]"),
            logs.contains("[TRC]")
        ),
    );
    let pid = std::fs::read_to_string(s.dir().join("nats.pid")).unwrap_or_default();
    check_eq!(
        pid.trim(),
        s.pid().map(|p| p.to_string()).unwrap_or_default()
    );
    ctx.observe("pid file", "holds the server's pid");
    Ok(())
}

/// The command line alone: what the binary prints and its exit code.
async fn run_flags(ctx: &Ctx, args: &[&str]) -> Result<(Option<i32>, String)> {
    let out = ctx.run_binary(args).await?;
    let text = format!("{}{}", out.stderr, out.stdout);
    Ok((out.code, text))
}

async fn configure_options(ctx: Ctx) -> Result<()> {
    crate::kit::certs::write_all(&ctx)?;
    // Print and exit 0.
    for args in [
        &["-v"][..],
        &["version"],
        &["-h"],
        &["help"],
        &["-help_tls"],
    ] {
        let (code, text) = run_flags(&ctx, args).await?;
        check_eq!(code, Some(0));
        let first = text.lines().next().unwrap_or_default().to_string();
        let shown = if args == ["-help_tls"] {
            // Go lists its cipher suites in random order.
            String::new()
        } else {
            first
        };
        ctx.observe(&args.join(" "), format!("exit {code:?}: {shown}"));
    }
    // Refused command lines.
    let cert = "server-cert.pem";
    for (args, want) in [
        (&["foo"][..], "unrecognized command: \"foo\""),
        (&["-xxx", "foo"], "flag provided but not defined: -xxx"),
        (
            &["-c", "xxx.cfg"],
            "open xxx.cfg: no such file or directory",
        ),
        (&["-sl", "quit=pid=foo"], "invalid signal parameters: [foo]"),
        (&["-sl", "quit=pid"], "invalid pid: pid"),
        (
            &["-routes", "nats://127.0.0.1:6223"],
            "solicited routes require cluster capabilities",
        ),
        (&["-cluster", ":", "-routes", ""], "missing protocol scheme"),
        (
            &["-cluster", "nats://127.0.0.1", "-routes", ""],
            "missing port in address",
        ),
        (
            &["-cluster", "nats://127.0.0.1:xxx", "-routes", ""],
            "invalid port \":xxx\" after host",
        ),
        (
            &["-cluster", "nats://ivan:127.0.0.1:6222", "-routes", ""],
            "too many colons in address",
        ),
        (
            &["-cluster", "nats://ivan@127.0.0.1:6222", "-routes", ""],
            "expected cluster password to be set",
        ),
        (
            &["-tls"],
            "TLS Server certificate must be present and valid",
        ),
        (
            &["-tls", "-tlscert", cert],
            "TLS Server private key must be present and valid",
        ),
        (
            &["-tls", "-tlscert", cert, "-tlskey", "notfound.pem"],
            "error parsing X509 certificate/key pair: open notfound.pem: no such file or directory",
        ),
        (
            &[
                "-tlsverify",
                "-tlscert",
                cert,
                "-tlskey",
                "server-key.pem",
                "-tlscacert",
                "nope.pem",
            ],
            "open nope.pem: no such file or directory",
        ),
    ] {
        let (code, text) = run_flags(&ctx, args).await?;
        let first = text.lines().next().unwrap_or_default().to_string();
        ctx.observe(&args.join(" "), format!("exit {code:?}: {first}"));
        if !text.contains(want) {
            bail!("{args:?}: want an error with {want:?}, got exit {code:?}: {text}");
        }
    }
    let tls_conf = "tls {\n  cert_file: \"server-cert.pem\"\n  key_file: \"server-key.pem\"\n}\n";
    let path = ctx.write_file("tls.conf", tls_conf)?;
    let path = path.to_string_lossy().to_string();
    let (code, text) = run_flags(&ctx, &["-c", &path, "-tlsverify"]).await?;
    check_eq!(code, Some(1));
    check_eq!(
        text.contains("TLS Server certificate must be present and valid"),
        true
    );
    ctx.observe("tls block and -tlsverify", format!("exit {code:?}"));
    // Command lines a server starts with.
    let dir = ctx_dir(&ctx)?;
    let s = ctx
        .server(
            ServerSpec::new()
                .conf(
                    tls_conf
                        .replace("server-", &format!("{dir}/server-"))
                        .as_str(),
                )
                .args(["-tls=false"]),
        )
        .await?;
    let info = info_of(&ctx, &s).await?;
    check_eq!(info["tls_required"].as_bool().unwrap_or(false), false);
    ctx.observe(
        "tls block and -tls=false: INFO tls_required",
        info["tls_required"].to_string(),
    );
    let cert = format!("{dir}/server-cert.pem");
    let key = format!("{dir}/server-key.pem");
    ctx.server(ServerSpec::new().args(["-tls", "-tlscert", &cert, "-tlskey", &key]))
        .await?;
    ctx.observe("-tls with a certificate and key", "starts");
    let cluster = format!("nats://127.0.0.1:{}", crate::kit::ports::alloc()?);
    ctx.server(ServerSpec::new().args(["-cluster", &cluster, "-routes", "nats://127.0.0.1:6223"]))
        .await?;
    ctx.observe("-cluster and -routes", "starts");
    let srv_a = "cluster {\n  listen: \"127.0.0.1:{{cluster_port}}\"\n  authorization { user: ruser, password: top_secret }\n  routes = [ nats-route://127.0.0.1:7246 ]\n}\nhttp_port: {{http_port}}\n";
    for (what, args) in [
        ("routes emptied", ["-routes", ""]),
        ("cluster turned off", ["-cluster", ""]),
    ] {
        let s = ctx.server(ServerSpec::new().conf(srv_a).args(args)).await?;
        let varz = ctx.http_json(&s, "/varz").await?;
        ctx.observe(
            &format!("{what}: varz cluster port"),
            varz["cluster"]["port"].to_string(),
        );
    }
    // Debug and trace from the file and from flags.
    for (args, debug, trace) in [
        (&[][..], false, true),
        (&["-V=false"], false, false),
        (&["-DV=false"], false, false),
        (&["-DV"], true, true),
    ] {
        let s = ctx
            .server(
                ServerSpec::new()
                    .conf("trace: true\n")
                    .args(args.iter().copied()),
            )
            .await?;
        let mut c = ctx.raw_connected(&s, "{\"verbose\":false}").await?;
        c.send("PING\r\n").await?;
        c.expect(r"PONG\r\n").await?;
        if trace {
            s.wait_for_log("[TRC]", Duration::from_secs(5)).await?;
        } else {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let logs = s.logs();
        check_eq!(logs.contains("[DBG]"), debug);
        check_eq!(logs.contains("[TRC]"), trace);
        ctx.observe(
            &format!("trace: true in the file, flags {args:?}"),
            format!("debug {debug}, trace {trace}"),
        );
    }
    Ok(())
}

/// test/configs/tls.conf in shape: a `tls` block with a 2 s handshake
/// timeout and a user with a 1 s authentication timeout.
const TLS_CONF: &str = r#"
http: "127.0.0.1:{{http_port}}"
tls {
  cert_file: "server-cert.pem"
  key_file: "server-key.pem"
  timeout: 2
}
authorization {
  user: derek
  password: foo
  timeout: 1
}
"#;

/// test/opts_test.go TestTLSConfig: a server started from a config with a
/// `tls` block says in its INFO that TLS is required.
async fn tls_info(ctx: Ctx) -> Result<()> {
    let s = super::tls::start(&ctx, TLS_CONF).await?;
    let (_stream, info) = crate::kit::tls_raw::connect_plain(&s.addr()).await?;
    ctx.observe("tls_required", info["tls_required"].to_string());
    check_eq!(info["tls_required"], Value::Bool(true));
    Ok(())
}

/// TestTLSConfigFile, what a client sees of the parsed block: the timeouts
/// of tls.conf in /varz; with the default cipher suites each of Go's
/// default ECDSA suites is accepted on TLS 1.2; with `cipher_suites` only
/// the listed ones are; TLS 1.3 is always available.
async fn tls_config_file_served(ctx: Ctx) -> Result<()> {
    use crate::kit::tls_raw::{self, TlsOptions};
    let s = super::tls::start(&ctx, TLS_CONF).await?;
    let varz = ctx.http_json(&s, "/varz").await?;
    let timeouts = serde_json::json!({
        "tls_timeout": varz.get("tls_timeout"),
        "auth_timeout": varz.get("auth_timeout"),
        "tls_required": varz.get("tls_required"),
    });
    ctx.observe_json("varz", &timeouts);
    check_eq!(timeouts["tls_timeout"].as_f64(), Some(2.0));
    check_eq!(timeouts["auth_timeout"].as_f64(), Some(1.0));
    let offer = |suite| TlsOptions {
        suite: Some(suite),
        ..TlsOptions::default()
    };
    const SUITES: [&str; 4] = [
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_AES_128_GCM_SHA256",
    ];
    for suite in SUITES {
        let agreed = tls_raw::connect(&s.addr(), &offer(suite))
            .await
            .map(|(_, _, a)| format!("{} {}", a.version, a.cipher_suite))
            .unwrap_or_else(|_| "refused".into());
        ctx.observe(&format!("default, offering {suite}"), &agreed);
        if agreed == "refused" {
            bail!("the default cipher suites refused {suite}");
        }
    }
    let only = super::tls::start(
        &ctx,
        r#"
tls {
  cert_file: "server-cert.pem"
  key_file: "server-key.pem"
  cipher_suites: ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]
}
"#,
    )
    .await?;
    for suite in SUITES {
        let agreed = tls_raw::connect(&only.addr(), &offer(suite))
            .await
            .map(|(_, _, a)| format!("{} {}", a.version, a.cipher_suite))
            .unwrap_or_else(|_| "refused".into());
        ctx.observe(&format!("one suite, offering {suite}"), &agreed);
        let want_refused = suite.contains("ECDHE") && !suite.contains("AES_128");
        check_eq!(agreed == "refused", want_refused);
    }
    Ok(())
}
