//! Scenarios for the config lexer and parser tests (conf/lex_test.go and
//! conf/parse_test.go). The Go tests read the lexer's token stream or the
//! parser's map; from outside, the same tokens show up in three places:
//!
//! - `-t` prints lexer errors (`Parse error on line N: '...'`) and the
//!   position (`<conf>:line:col:`) of every key it complains about, which
//!   is the position the lexer gave that key;
//! - a value's Go type shows when it is put under a key that expects a
//!   string: `server_name = 22.2` fails with `interface {} is float64, not
//!   string`; its value shows when it is put under `authorization { users =
//!   ... }`, whose error prints it (`Expected users field to be an array,
//!   got -123`);
//! - a string value is served: `server_name` is in the INFO a client reads.
//!
//! So each scenario takes the Go test's input, renames its keys to keys the
//! server knows (`foo` becomes `server_name` for a string, a map becomes
//! `authorization` or `accounts`, whose unknown inner keys `-t` reports with
//! their positions), and checks what `-t` prints or what the server serves.

use crate::check_eq;
use crate::kit::check_config as check;
use crate::kit::{self, Ctx, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{Context, Result};
use futures::FutureExt;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("config/lex-plain-value", |c| lex_plain_value(c).boxed())
            .full("TestPlainValue"),
        Scenario::new("config/lex-simple-key-string-values", |c| {
            lex_simple_key_string_values(c).boxed()
        })
        .full("TestSimpleKeyStringValues"),
        Scenario::new("config/lex-complex-string-values", |c| {
            lex_complex_string_values(c).boxed()
        })
        .full("TestComplexStringValues"),
        Scenario::new("config/lex-string-starting-with-number", |c| {
            lex_string_starting_with_number(c).boxed()
        })
        .full("TestStringStartingWithNumber"),
        Scenario::new("config/lex-binary-string-latin1", |c| {
            lex_binary_string_latin1(c).boxed()
        })
        .full("TestBinaryStringLatin1"),
        Scenario::new("config/lex-negative-integer-values", |c| {
            lex_negative_integer_values(c).boxed()
        })
        .full("TestSimpleKeyNegativeIntegerValues"),
        Scenario::new("config/lex-float-values", |c| lex_float_values(c).boxed())
            .full("TestSimpleKeyFloatValues"),
        Scenario::new("config/lex-bad-binary-strings", |c| {
            lex_bad_binary_strings(c).boxed()
        })
        .full("TestBadBinaryStringEndingAfterZeroHexChars")
        .full("TestBadBinaryStringEndingAfterOneHexChar")
        .full("TestBadBinaryStringWithZeroHexChars")
        .full("TestBadBinaryStringWithOneHexChar"),
        Scenario::new("config/lex-bad-float-value", |c| {
            lex_bad_float_value(c).boxed()
        })
        .full("TestBadFloatValues"),
        Scenario::new("config/lex-bad-key", |c| lex_bad_key(c).boxed()).full("TestBadKey"),
        Scenario::new("config/lex-date-values", |c| lex_date_values(c).boxed())
            .full("TestDateValues"),
        Scenario::new("config/lex-arrays", |c| lex_arrays(c).boxed()).full("TestArrays"),
        Scenario::new("config/lex-simple-map", |c| lex_simple_map(c).boxed()).full("TestSimpleMap"),
        Scenario::new("config/lex-quoted-keys-with-space", |c| {
            lex_quoted_keys_with_space(c).boxed()
        })
        .full("TestQuotedKeysWithSpace"),
        Scenario::new("config/lex-compound-strings", |c| {
            lex_compound_strings(c).boxed()
        })
        .full("TestCompoundStringES")
        .full("TestCompoundStringSE")
        .full("TestCompoundStringEE")
        .full("TestCompoundStringSEE")
        .full("TestCompoundStringSES")
        .full("TestCompoundStringEES")
        .full("TestCompoundStringESE"),
        Scenario::new("config/lex-escaped-non-values", |c| {
            lex_escaped_non_values(c).boxed()
        })
        .full("TestNonBool")
        .full("TestNonVariable"),
        Scenario::new("config/lex-empty-strings", |c| lex_empty_strings(c).boxed())
            .full("TestEmptyStringDQ")
            .full("TestEmptyStringSQ"),
        Scenario::new("config/lex-nested-whitespace-maps", |c| {
            lex_nested_whitespace_maps(c).boxed()
        })
        .full("TestNestedWhitespaceMaps"),
        Scenario::new("config/lex-key-dangling-quoted-strings", |c| {
            lex_key_dangling_quoted_strings(c).boxed()
        })
        .full("TestKeyDanglingQuotedString")
        .full("TestKeyDanglingSingleQuotedString"),
        Scenario::new("config/lex-map-quoted-keys", |c| {
            lex_map_quoted_keys(c).boxed()
        })
        .full("TestMapQuotedKeys"),
        Scenario::new("config/lex-special-chars-map-quoted-keys", |c| {
            lex_special_chars_map_quoted_keys(c).boxed()
        })
        .needs(Need::Monitoring)
        .full("TestSpecialCharsMapQuotedKeys"),
        Scenario::new("config/lex-double-nested-maps-new-lines", |c| {
            lex_double_nested_maps_new_lines(c).boxed()
        })
        .full("TestDoubleNestedMapsNewLines"),
        Scenario::new("config/lex-block-strings", |c| lex_block_strings(c).boxed())
            .full("TestBlockString")
            .full("TestBlockStringEOF")
            .full("TestBlockStringMultiLine"),
        Scenario::new("config/parse-sample1-nested-map", |c| {
            parse_sample1(c).boxed()
        })
        .needs(Need::Monitoring)
        .partial("TestSample1"),
        Scenario::new("config/parse-sample2-cluster", |c| parse_sample2(c).boxed())
            .needs(Need::Monitoring)
            .needs(Need::Cluster(1))
            .partial("TestSample2"),
        Scenario::new("config/parse-sample3-quoted-text", |c| {
            parse_sample3(c).boxed()
        })
        .full("TestSample3"),
        Scenario::new("config/parse-sample4-array-of-maps", |c| {
            parse_sample4(c).boxed()
        })
        .partial("TestSample4"),
        Scenario::new("config/parse-sample5-date-and-bool", |c| {
            parse_sample5(c).boxed()
        })
        .full("TestSample5"),
    ]
}

// ---------------------------------------------------------------------------
// Helpers

const VALID: &str = "exit 0: configuration file <conf> is valid";

/// Starts a server with this body and returns the `server_name` of the
/// INFO a client reads (observed), after checking that `-t` finds the
/// file valid.
async fn served_name(ctx: &Ctx, label: &str, body: &str) -> Result<String> {
    check_eq!(check(ctx, label, body).await?, VALID);
    let s = ctx.server(ServerSpec::new().conf(body)).await?;
    let (_c, info) = ctx.raw(&s).await?;
    let name = info["server_name"]
        .as_str()
        .context("INFO has no server_name")?
        .to_string();
    ctx.observe(&format!("{label}: INFO server_name"), format!("{name:?}"));
    Ok(name)
}

/// What `-t` says when the value (everything after the key `foo` in
/// `input`) is given to a string option (`server_name`): valid for a
/// string, else the Go type it has.
async fn as_string_option(ctx: &Ctx, label: &str, input: &str) -> Result<String> {
    check(
        ctx,
        &format!("{label} as server_name"),
        &input.replacen("foo", "server_name", 1),
    )
    .await
}

/// What `-t` says when the value is put under `authorization { users }`:
/// Go prints the value it parsed (`got <value>`).
async fn as_users(ctx: &Ctx, label: &str, input: &str) -> Result<String> {
    check(
        ctx,
        &format!("{label} as authorization users"),
        &format!(
            "authorization {{\n{}\n}}\n",
            input.replacen("foo", "users", 1)
        ),
    )
    .await
}

fn conversion(ty: &str, pos: &str) -> String {
    format!("exit 1: <conf>:{pos}: interface conversion: interface {{}} is {ty}, not string")
}

fn users_got(pos: &str, value: &str) -> String {
    format!("exit 1: <conf>:{pos}: Expected users field to be an array, got {value}")
}

fn parse_error(line: u32, msg: &str) -> String {
    format!("exit 1: Parse error on line {line}: '{msg}'")
}

// ---------------------------------------------------------------------------
// conf/lex_test.go

async fn lex_plain_value(ctx: Ctx) -> Result<()> {
    // A key alone is lexed as a key and nothing else: the parser drops it,
    // so even a key the server does not know is not reported.
    check_eq!(check(&ctx, "foo", "foo").await?, VALID);
    // The same key with a value is reported.
    check_eq!(
        check(&ctx, "foo = 1", "foo = 1").await?,
        "exit 1: <conf>:1:0: unknown field \"foo\""
    );
    Ok(())
}

async fn lex_simple_key_string_values(ctx: Ctx) -> Result<()> {
    for (label, input) in [
        ("double quotes", "foo = \"bar\""),
        ("single quotes", "foo = 'bar'"),
        ("no spaces", "foo='bar'"),
        ("crlf", "foo='bar'\r\n"),
        ("tabs", "foo=\t'bar'\t"),
    ] {
        let body = input.replacen("foo", "server_name", 1);
        check_eq!(served_name(&ctx, label, &body).await?, "bar");
    }
    Ok(())
}

async fn lex_complex_string_values(ctx: Ctx) -> Result<()> {
    // Single quotes keep backslashes as they are.
    check_eq!(
        served_name(&ctx, "raw escapes", "server_name = 'bar\\r\\n  \\t'").await?,
        "bar\\r\\n  \\t"
    );
    Ok(())
}

async fn lex_string_starting_with_number(ctx: Ctx) -> Result<()> {
    for (label, input) in [
        ("plain", "foo = 3xyz"),
        ("comma", "foo = 3xyz,"),
        ("semicolon", "foo = 3xyz;"),
        ("indented", "\n        foo = 3xyz\n        "),
    ] {
        let body = input.replacen("foo", "server_name", 1);
        check_eq!(served_name(&ctx, label, &body).await?, "3xyz");
    }
    // In a map: the key positions `-t` reports are the lexer's, and the
    // value is the string 3xyz.
    let closing_brace = "\n        map {\n          foo = 3xyz}\n        ";
    let semicolon = "\n        map {\n          foo = 3xyz;\n        }\n        ";
    let two_keys =
        "\n        map {\n          foo = 3xyz,\n          bar = 4wqs\n        }\n        ";
    for (label, input) in [
        ("map, brace after value", closing_brace),
        ("map, semicolon", semicolon),
    ] {
        let keys = input.replacen("map", "authorization", 1);
        check_eq!(
            check(&ctx, label, &keys).await?,
            "exit 1: <conf>:3:11: unknown field \"foo\""
        );
        let value = keys.replacen("foo", "users", 1);
        check_eq!(
            check(&ctx, &format!("{label}, value"), &value).await?,
            users_got("3:11", "3xyz")
        );
    }
    let keys = two_keys.replacen("map", "authorization", 1);
    check_eq!(
        check(&ctx, "map, two keys", &keys).await?,
        "exit 1: <conf>:3:11: unknown field \"foo\"\n<conf>:4:11: unknown field \"bar\""
    );
    check_eq!(
        check(
            &ctx,
            "map, two keys, first value",
            &keys.replacen("foo", "users", 1)
        )
        .await?,
        format!(
            "{}\n<conf>:4:11: unknown field \"bar\"",
            users_got("3:11", "3xyz")
        )
    );
    check_eq!(
        check(&ctx, "map, two keys, second value", &keys.replacen("bar", "users", 1)).await?,
        format!(
            "exit 1: <conf>:3:11: unknown field \"foo\"\n<conf>:4:11: Expected users field to be an array, got 4wqs"
        )
    );
    Ok(())
}

async fn lex_binary_string_latin1(ctx: Ctx) -> Result<()> {
    // \xe9 is one byte, not valid UTF-8 on its own: the INFO (JSON) carries
    // it as the replacement character.
    check_eq!(
        served_name(&ctx, "latin1 byte", "server_name = \\xe9").await?,
        "\u{FFFD}"
    );
    Ok(())
}

async fn lex_negative_integer_values(ctx: Ctx) -> Result<()> {
    for (label, input) in [
        ("spaces", "foo = -123"),
        ("no spaces", "foo=-123"),
        ("crlf", "foo=-123\r\n"),
    ] {
        check_eq!(
            as_string_option(&ctx, label, input).await?,
            conversion("int64", "1:0")
        );
        check_eq!(
            as_users(&ctx, label, input).await?,
            users_got("2:1", "-123")
        );
    }
    Ok(())
}

async fn lex_float_values(ctx: Ctx) -> Result<()> {
    for (label, input) in [
        ("spaces", "foo = 22.2"),
        ("no spaces", "foo=22.2"),
        ("crlf", "foo=22.2\r\n"),
    ] {
        check_eq!(
            as_string_option(&ctx, label, input).await?,
            conversion("float64", "1:0")
        );
        check_eq!(
            as_users(&ctx, label, input).await?,
            users_got("2:1", "22.2")
        );
    }
    Ok(())
}

async fn lex_bad_binary_strings(ctx: Ctx) -> Result<()> {
    for (label, input, line, msg) in [
        (
            "ending after zero hex chars",
            "foo = xyz\\x\n",
            2,
            "Expected two hexadecimal digits after '\\x', but hit end of line",
        ),
        (
            "ending after one hex char",
            "foo = xyz\\xF\n",
            2,
            "Expected two hexadecimal digits after '\\x', but hit end of line",
        ),
        (
            "zero hex chars",
            "foo = \"[\\x]\"",
            1,
            "Expected two hexadecimal digits after '\\x', but got ']\"'",
        ),
        (
            "one hex char",
            "foo = \"[\\xe]\"",
            1,
            "Expected two hexadecimal digits after '\\x', but got 'e]'",
        ),
    ] {
        check_eq!(check(&ctx, label, input).await?, parse_error(line, msg));
    }
    Ok(())
}

async fn lex_bad_float_value(ctx: Ctx) -> Result<()> {
    check_eq!(
        check(&ctx, "float without leading digit", "foo = .2").await?,
        parse_error(1, "Floats must start with a digit")
    );
    Ok(())
}

async fn lex_bad_key(ctx: Ctx) -> Result<()> {
    check_eq!(
        check(&ctx, "key starting with a separator", " :foo = 22").await?,
        parse_error(1, "Unexpected key separator ':'")
    );
    Ok(())
}

async fn lex_date_values(ctx: Ctx) -> Result<()> {
    let input = "foo = 2016-05-04T18:53:41Z";
    check_eq!(
        as_string_option(&ctx, "datetime", input).await?,
        conversion("time.Time", "1:0")
    );
    // Go prints a time.Time in its own format.
    check_eq!(
        as_users(&ctx, "datetime", input).await?,
        users_got("2:1", "2016-05-04 18:53:41 +0000 UTC")
    );
    Ok(())
}

async fn lex_arrays(ctx: Ctx) -> Result<()> {
    for (label, input, positions) in [
        (
            "spaces",
            "foo = [1, 2, 3, 'bar']",
            ["2:10", "2:13", "2:16", "2:20"],
        ),
        (
            "no spaces",
            "foo = [1,2,3,'bar']",
            ["2:10", "2:12", "2:14", "2:17"],
        ),
        (
            "mixed",
            "foo = [1, 2,3,'bar']",
            ["2:10", "2:13", "2:15", "2:18"],
        ),
    ] {
        check_eq!(
            as_string_option(&ctx, label, input).await?,
            conversion("[]interface {}", "1:0")
        );
        // The users parser reports every item, with its position.
        let want: Vec<String> = positions
            .iter()
            .zip(["1", "2", "3", "bar"])
            .map(|(pos, v)| {
                format!("<conf>:{pos}: Expected user entry to be a map/struct, got {v}")
            })
            .collect();
        let body = format!(
            "authorization {{\n{}\n}}\n",
            input.replacen("foo", "users", 1)
        );
        check_eq!(
            check(&ctx, &format!("{label} as users"), &body).await?,
            format!("exit 1: {}", want.join("\n"))
        );
    }
    Ok(())
}

async fn lex_simple_map(ctx: Ctx) -> Result<()> {
    let input = "foo = {ip='127.0.0.1', port = 4242}";
    check_eq!(
        as_string_option(&ctx, "map", input).await?,
        conversion("map[string]interface {}", "1:0")
    );
    let keys = input.replacen("foo", "authorization", 1);
    check_eq!(
        check(&ctx, "map keys", &keys).await?,
        "exit 1: <conf>:1:17: unknown field \"ip\"\n<conf>:1:33: unknown field \"port\""
    );
    check_eq!(
        check(&ctx, "map ip value", &keys.replacen("ip=", "users=", 1)).await?,
        "exit 1: <conf>:1:17: Expected users field to be an array, got 127.0.0.1\n<conf>:1:36: unknown field \"port\""
    );
    check_eq!(
        check(&ctx, "map port value", &keys.replacen("port", "users", 1)).await?,
        "exit 1: <conf>:1:17: unknown field \"ip\"\n<conf>:1:33: Expected users field to be an array, got 4242"
    );
    Ok(())
}

async fn lex_quoted_keys_with_space(ctx: Ctx) -> Result<()> {
    // The quoted key keeps its leading space, so it is no key the server
    // knows, and its value reaches nothing.
    for (label, input) in [
        ("single quotes", "' foo' : 123"),
        ("double quotes", "\" foo\" : 123"),
    ] {
        check_eq!(
            check(&ctx, label, input).await?,
            "exit 1: <conf>:1:1: unknown field \" foo\""
        );
    }
    Ok(())
}

async fn lex_compound_strings(ctx: Ctx) -> Result<()> {
    for (label, input, want) in [
        ("escape then string", "foo = \"\\\\end\"", "\\end"),
        ("string then escape", "foo = \"start\\\\\"", "start\\"),
        ("escape escape", "foo = \\x45\\x71", "Eq"),
        ("string escape escape", "foo = start\\x45\\x71", "startEq"),
        ("string escape string", "foo = start\\x7Cend", "start|end"),
        ("escape escape string", "foo = \\x3c\\x3eend", "<>end"),
        ("escape string escape", "foo = \\x3cmiddle\\x3E", "<middle>"),
    ] {
        let body = input.replacen("foo", "server_name", 1);
        check_eq!(served_name(&ctx, label, &body).await?, want);
    }
    Ok(())
}

async fn lex_escaped_non_values(ctx: Ctx) -> Result<()> {
    // An escaped backslash makes a string of what would be a bool or a
    // variable reference.
    check_eq!(
        served_name(&ctx, "not a bool", "server_name = \\\\true").await?,
        "\\true"
    );
    check_eq!(
        served_name(&ctx, "not a variable", "server_name = \\\\$var").await?,
        "\\$var"
    );
    Ok(())
}

async fn lex_empty_strings(ctx: Ctx) -> Result<()> {
    // An empty string is a string (the file is valid); a server whose name
    // is empty goes by its id.
    for (label, input) in [
        ("double quotes", "foo = \"\""),
        ("single quotes", "foo = ''"),
    ] {
        let body = input.replacen("foo", "server_name", 1);
        check_eq!(check(&ctx, label, &body).await?, VALID);
        let s = ctx.server(ServerSpec::new().conf(&body)).await?;
        let (_c, info) = ctx.raw(&s).await?;
        check_eq!(info["server_name"], info["server_id"]);
        ctx.observe(
            &format!("{label}: INFO server_name is the server id"),
            (info["server_name"] == info["server_id"]).to_string(),
        );
    }
    Ok(())
}

async fn lex_nested_whitespace_maps(ctx: Ctx) -> Result<()> {
    let input = "\nfoo  {\n  host  {\n    ip = '127.0.0.1'\n    port= 4242\n  }\n}\n";
    let keys = input.replacen("foo", "accounts", 1);
    check_eq!(
        check(&ctx, "nested map keys", &keys).await?,
        "exit 1: <conf>:4:5: unknown field \"ip\"\n<conf>:5:5: unknown field \"port\""
    );
    check_eq!(
        check(&ctx, "nested ip value", &keys.replacen("ip =", "users =", 1)).await?,
        "exit 1: <conf>:5:5: unknown field \"port\"\nExpected users field to be an array, got 127.0.0.1"
    );
    check_eq!(
        check(
            &ctx,
            "nested port value",
            &keys.replacen("port=", "users=", 1)
        )
        .await?,
        "exit 1: <conf>:4:5: unknown field \"ip\"\nExpected users field to be an array, got 4242"
    );
    Ok(())
}

async fn lex_key_dangling_quoted_strings(ctx: Ctx) -> Result<()> {
    // A quote opened on the first line runs to the next quote; the quote
    // left open after `http` reaches the end of the file.
    for (label, input) in [
        (
            "double quotes",
            "\nfoo = \"\nlisten: \"\n\nhttp: localhost:8222\n\n\"\n",
        ),
        (
            "single quotes",
            "\nfoo = '\nlisten: '\n\nhttp: localhost:8222\n\n'\n",
        ),
    ] {
        check_eq!(
            check(&ctx, label, input).await?,
            parse_error(8, "Unexpected EOF.")
        );
    }
    Ok(())
}

async fn lex_map_quoted_keys(ctx: Ctx) -> Result<()> {
    for (label, input, users) in [
        (
            "single quotes",
            "foo = {'bar' = 4242}",
            "foo = {'users' = 4242}",
        ),
        (
            "double quotes",
            "foo = {\"bar\" = 4242}",
            "foo = {\"users\" = 4242}",
        ),
    ] {
        check_eq!(
            check(&ctx, label, &input.replacen("foo", "authorization", 1)).await?,
            "exit 1: <conf>:1:18: unknown field \"bar\""
        );
        check_eq!(
            check(
                &ctx,
                &format!("{label}, value"),
                &users.replacen("foo", "authorization", 1)
            )
            .await?,
            users_got("1:18", "4242")
        );
    }
    Ok(())
}

async fn lex_special_chars_map_quoted_keys(ctx: Ctx) -> Result<()> {
    for (label, input) in [
        ("single quotes", "foo = {'bar-1.2.3' = { port:4242 }}"),
        ("double quotes", "foo = {\"bar-1.2.3\" = { port:4242 }}"),
    ] {
        // `accounts`: the quoted key names an account, its map holds `port`.
        let keys = input.replacen("foo", "accounts", 1);
        check_eq!(
            check(&ctx, label, &keys).await?,
            "exit 1: <conf>:1:28: unknown field \"port\""
        );
        check_eq!(
            check(
                &ctx,
                &format!("{label}, value"),
                &keys.replacen("port", "users", 1)
            )
            .await?,
            "exit 1: Expected users field to be an array, got 4242"
        );
        // The account exists under the quoted name.
        let body = format!(
            "http: 127.0.0.1:{{{{http_port}}}}\n{}\n",
            keys.replacen("port:4242", "users: [{user: a, password: b}]", 1)
        );
        let s = ctx.server(ServerSpec::new().conf(&body)).await?;
        let names = kit::account_names(&ctx, &s).await?;
        ctx.observe(&format!("{label}: accounts"), format!("{names:?}"));
        check_eq!(names.iter().any(|n| n == "bar-1.2.3"), true);
    }
    Ok(())
}

async fn lex_double_nested_maps_new_lines(ctx: Ctx) -> Result<()> {
    let input = "\nsystems {\n  allinone {\n    description: \"This is a description.\"\n  }\n}\n";
    let keys = input.replacen("systems", "accounts", 1);
    check_eq!(
        check(&ctx, "double nested keys", &keys).await?,
        "exit 1: <conf>:4:5: unknown field \"description\""
    );
    check_eq!(
        check(
            &ctx,
            "double nested value",
            &keys.replacen("description", "users", 1)
        )
        .await?,
        "exit 1: Expected users field to be an array, got This is a description."
    );
    Ok(())
}

async fn lex_block_strings(ctx: Ctx) -> Result<()> {
    check_eq!(
        served_name(&ctx, "block", "\nserver_name (\n1234567890\n)\n").await?,
        "\n1234567890\n"
    );
    // The file ends in a NUL byte instead of the last new line.
    check_eq!(
        served_name(&ctx, "block at EOF", "\nserver_name (\n1234567890\n)\0").await?,
        "\n1234567890\n"
    );
    check_eq!(
        served_name(
            &ctx,
            "block with parens inside",
            "\nserver_name (\n  12(34)56\n  (\n    7890\n  )\n)\n"
        )
        .await?,
        "\n  12(34)56\n  (\n    7890\n  )\n"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// conf/parse_test.go

async fn parse_sample1(ctx: Ctx) -> Result<()> {
    let sample = "\nfoo  {\n  host {\n    ip   = '127.0.0.1'\n    port = 4242\n  }\n  servers = [ \"a.com\", \"b.com\", \"c.com\"]\n}\n";
    // `accounts`: `host` is an account whose keys are reported, `servers`
    // is not a map.
    let keys = sample.replacen("foo", "accounts", 1);
    check_eq!(
        check(&ctx, "sample1 keys", &keys).await?,
        "exit 1: <conf>:4:5: unknown field \"ip\"\n<conf>:5:5: unknown field \"port\"\n<conf>:7:3: Expected map entries for accounts"
    );
    let without_servers = keys.replacen("  servers = [ \"a.com\", \"b.com\", \"c.com\"]\n", "", 1);
    check_eq!(
        check(&ctx, "sample1 ip", &without_servers.replacen("ip ", "users ", 1)).await?,
        "exit 1: <conf>:5:5: unknown field \"port\"\nExpected users field to be an array, got 127.0.0.1"
    );
    check_eq!(
        check(
            &ctx,
            "sample1 port",
            &without_servers.replacen("port ", "users ", 1)
        )
        .await?,
        "exit 1: <conf>:4:5: unknown field \"ip\"\nExpected users field to be an array, got 4242"
    );
    // The array of strings, as server tags in /varz.
    let s = ctx
        .server(ServerSpec::new().conf(
            "http: 127.0.0.1:{{http_port}}\nserver_tags = [ \"a.com\", \"b.com\", \"c.com\"]\n",
        ))
        .await?;
    let varz = ctx.http_json(&s, "/varz").await?;
    ctx.observe_json("sample1 servers as tags", &varz["tags"]);
    check_eq!(varz["tags"], serde_json::json!(["a.com", "b.com", "c.com"]));
    Ok(())
}

async fn parse_sample2(ctx: Ctx) -> Result<()> {
    // The cluster block of the sample, with an allocated port; /varz shows
    // what the server made of it.
    let body = "http: 127.0.0.1:{{http_port}}\ncluster {\n  port: {{cluster_port}}\n\n  authorization {\n    user: route_user\n    password: top_secret\n    timeout: 1\n  }\n\n  # Routes are actively solicited and connected to from this server.\n  # Other servers can connect to us if they supply the correct credentials\n  # in their routes definitions from above.\n\n  // Test both styles of comments\n\n  routes = [\n    nats-route://foo:bar@apcera.me:4245\n    nats-route://foo:bar@apcera.me:4246\n  ]\n}\n";
    let s = ctx.server(ServerSpec::new().conf(body)).await?;
    let varz = ctx.http_json(&s, "/varz").await?;
    let cluster = &varz["cluster"];
    let mut seen = cluster.clone();
    if let Some(m) = seen.as_object_mut() {
        m.remove("name");
        m.remove("cluster_port");
    }
    ctx.observe_json("sample2 varz cluster", &seen);
    check_eq!(
        cluster["cluster_port"].as_u64(),
        s.ports().cluster.map(u64::from)
    );
    check_eq!(cluster["auth_timeout"].as_f64(), Some(1.0));
    check_eq!(
        cluster["urls"],
        serde_json::json!(["apcera.me:4245", "apcera.me:4246"])
    );
    Ok(())
}

async fn parse_sample3(ctx: Ctx) -> Result<()> {
    let sample = "\nfoo  {\n  expr = '(true == \"false\")'\n  text = 'This is a multi-line\ntext block.'\n}\n";
    let keys = sample.replacen("foo", "authorization", 1);
    check_eq!(
        check(&ctx, "sample3 keys", &keys).await?,
        "exit 1: <conf>:3:3: unknown field \"expr\"\n<conf>:4:3: unknown field \"text\""
    );
    check_eq!(
        check(&ctx, "sample3 expr", &keys.replacen("expr", "users", 1)).await?,
        "exit 1: <conf>:3:3: Expected users field to be an array, got (true == \"false\")\n<conf>:4:3: unknown field \"text\""
    );
    check_eq!(
        check(&ctx, "sample3 text", &keys.replacen("text", "users", 1)).await?,
        "exit 1: <conf>:3:3: unknown field \"expr\"\n<conf>:4:3: Expected users field to be an array, got This is a multi-line\ntext block."
    );
    Ok(())
}

async fn parse_sample4(ctx: Ctx) -> Result<()> {
    // The array of maps as a users list: the first map is parsed as a user
    // entry (and reported), which stops the list.
    let sample = "\n  array [\n    { abc: 123 }\n    { xyz: \"word\" }\n  ]\n";
    let body = format!(
        "authorization {{{}}}\n",
        sample.replacen("array", "users", 1)
    );
    check_eq!(
        check(&ctx, "sample4", &body).await?,
        "exit 1: <conf>:3:7: User entry requires a user\n<conf>:3:7: unknown field \"abc\""
    );
    Ok(())
}

async fn parse_sample5(ctx: Ctx) -> Result<()> {
    let sample = "\n  now = 2016-05-04T18:53:41Z\n  gmt = false\n\n";
    let now = sample
        .replacen("now", "server_name", 1)
        .replacen("gmt", "no_header_support", 1);
    check_eq!(
        check(&ctx, "sample5 now", &now).await?,
        conversion("time.Time", "2:3")
    );
    let gmt = sample
        .replacen("gmt", "server_name", 1)
        .replacen("now", "no_header_support", 1);
    check_eq!(
        check(&ctx, "sample5 gmt", &gmt).await?,
        "exit 1: <conf>:2:3: interface conversion: interface {} is time.Time, not bool\n<conf>:3:3: interface conversion: interface {} is bool, not string"
    );
    let values = format!(
        "authorization {{\n{}}}\n",
        sample
            .replacen("now", "users", 1)
            .replacen("gmt", "timeout", 1)
    );
    check_eq!(
        check(&ctx, "sample5 now value", &values).await?,
        users_got("3:3", "2016-05-04 18:53:41 +0000 UTC")
    );
    let values = format!(
        "authorization {{\n{}}}\n",
        sample
            .replacen("gmt", "users", 1)
            .replacen("now", "timeout", 1)
    );
    check_eq!(
        check(&ctx, "sample5 gmt value", &values).await?,
        users_got("4:3", "false")
    );
    Ok(())
}
