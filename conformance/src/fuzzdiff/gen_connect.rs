//! CONNECT JSON variants: the corners where a JSON library's choices (key
//! case, duplicate keys, invalid UTF-8, surrogates, nesting limits, number
//! ranges, trailing bytes) decide whether the server accepts the client and
//! with which options. Each case follows its CONNECT with a SUB, a PUB to
//! the same subject and a PING, so that `verbose`, `echo` and acceptance
//! all show in the answer.

use crate::rng::Rng;

/// Observes the options a CONNECT set: +OK (verbose), the echoed MSG
/// (echo) and the PONG (connection kept).
const TAIL: &[u8] = b"SUB ~.foo 1\r\nPUB ~.foo 2\r\nhi\r\nPING\r\n";

fn connect(json: &[u8]) -> Vec<Vec<u8>> {
    vec![[b"CONNECT ", json, b"\r\n", TAIL].concat()]
}

/// `name` with each letter upper-cased or not, at random.
pub fn random_case(rng: &mut Rng, name: &str) -> String {
    name.chars()
        .map(|c| {
            if rng.chance(1, 2) {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

fn bool_str(rng: &mut Rng) -> &'static str {
    if rng.chance(1, 2) {
        "true"
    } else {
        "false"
    }
}

const BOOL_FIELDS: &[&str] = &["verbose", "pedantic", "echo", "headers", "no_responders"];

/// `{"verbose":false,"Verbose":true}` and the like: Go matches keys without
/// regard to case, and the last match wins.
pub fn key_case(rng: &mut Rng) -> Vec<Vec<u8>> {
    let field = *rng.pick(&["verbose", "echo", "pedantic"]);
    let n = rng.range(1, 3);
    let mut pairs = vec![format!("\"{field}\":{}", bool_str(rng))];
    for _ in 0..n {
        pairs.push(format!("\"{}\":{}", random_case(rng, field), bool_str(rng)));
    }
    if rng.chance(1, 2) {
        pairs.reverse();
    }
    connect(format!("{{{}}}", pairs.join(",")).as_bytes())
}

/// The same key twice or more with different values.
pub fn dup_key(rng: &mut Rng) -> Vec<Vec<u8>> {
    let field = *rng.pick(&["verbose", "echo", "pedantic", "name", "protocol", "headers"]);
    let value = |rng: &mut Rng| match field {
        "name" => format!("\"n{}\"", rng.range(0, 9)),
        "protocol" => rng.range(0, 2).to_string(),
        _ => bool_str(rng).to_string(),
    };
    let n = rng.range(2, 4);
    let pairs: Vec<String> = (0..n)
        .map(|_| format!("\"{field}\":{}", value(rng)))
        .collect();
    connect(format!("{{\"verbose\":false,{}}}", pairs.join(",")).as_bytes())
}

const BAD_UTF8: &[&[u8]] = &[
    b"\xff",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\xf8\x88\x80\x80\x80",
    b"\xe2\x82",
    b"\xc0\xaf",
    b"\xf4\x90\x80\x80",
    b"\x80",
];

/// Invalid UTF-8 inside a string value or a key.
pub fn bad_utf8(rng: &mut Rng) -> Vec<Vec<u8>> {
    let bad = *rng.pick(BAD_UTF8);
    let json: Vec<u8> = match rng.range(0, 3) {
        0 => [b"{\"verbose\":false,\"name\":\"a", bad, b"b\"}"].concat(),
        1 => [b"{\"verbose\":false,\"lang\":\"", bad, b"\"}"].concat(),
        2 => [b"{\"verbose\":false,\"x", bad, b"\":1}"].concat(),
        _ => [b"{\"verbose\":", bad, b"false}"].concat(),
    };
    connect(&json)
}

/// Lone and paired surrogate escapes, in values and keys.
pub fn surrogate(rng: &mut Rng) -> Vec<Vec<u8>> {
    let esc = *rng.pick(&[
        r"\ud800",
        r"\udc00",
        r"\ud800\u0041",
        r"\ud83d\ude00",
        r"\ud800\ud800",
        r"\udfff\ud800",
        r"\uDBFF\uDFFF",
    ]);
    let json = if rng.chance(1, 3) {
        format!("{{\"verbose\":false,\"{esc}\":1}}")
    } else {
        format!("{{\"verbose\":false,\"name\":\"{esc}\"}}")
    };
    connect(json.as_bytes())
}

/// Deep nesting in a field the server ignores (Go's decoder allows 10000
/// levels; many Rust decoders stop at 128).
pub fn deep_nesting(rng: &mut Rng) -> Vec<Vec<u8>> {
    let depth = rng.range(50, 200);
    let value = if rng.chance(1, 2) {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    } else {
        format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
    };
    let field = *rng.pick(&["x", "extra", "tls_required_nested"]);
    connect(format!("{{\"verbose\":false,\"{field}\":{value}}}").as_bytes())
}

/// Odd numbers in an ignored field and in `protocol`.
pub fn numbers(rng: &mut Rng) -> Vec<Vec<u8>> {
    let number = *rng.pick(&[
        "1e999",
        "-1e999",
        "-0",
        "1.5",
        "-1",
        "2",
        "1e2",
        "1E0",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775809",
        "18446744073709551616",
        "0.0",
        "1e-999",
    ]);
    let field = *rng.pick(&["x", "protocol", "protocol"]);
    connect(format!("{{\"verbose\":false,\"{field}\":{number}}}").as_bytes())
}

/// A JSON type other than the one the field has.
pub fn wrong_type(rng: &mut Rng) -> Vec<Vec<u8>> {
    let (field, values): (&str, &[&str]) = match rng.range(0, 2) {
        0 => (
            *rng.pick(BOOL_FIELDS),
            &["\"true\"", "1", "0", "null", "[]", "{}", "\"yes\"", "1.0"],
        ),
        1 => (
            *rng.pick(&["name", "lang", "version", "user", "pass", "auth_token"]),
            &["5", "true", "[]", "{}", "null", "[\"a\"]", "-1.5"],
        ),
        _ => ("protocol", &["\"1\"", "true", "null", "[]", "{}", "\"\""]),
    };
    let value = *rng.pick(values);
    connect(format!("{{\"verbose\":false,\"{field}\":{value}}}").as_bytes())
}

/// A valid object followed by more bytes on the same line.
pub fn trailing(rng: &mut Rng) -> Vec<Vec<u8>> {
    let garbage = *rng.pick(&[
        " x", "}", "{}", " {}", ",", "]", " // c", " \"s\"", "1", " \t",
    ]);
    connect(format!("{{\"verbose\":false}}{garbage}").as_bytes())
}

/// A valid object cut short.
pub fn truncated(rng: &mut Rng) -> Vec<Vec<u8>> {
    let full = br#"{"verbose":false,"pedantic":false,"name":"abc","lang":"rust","protocol":1}"#;
    let cut = rng.range(1, full.len() - 1);
    connect(&full[..cut])
}

/// CONNECT with nothing, or only blanks, after it.
pub fn empty(rng: &mut Rng) -> Vec<Vec<u8>> {
    let line = *rng.pick(&[
        "CONNECT\r\n",
        "CONNECT \r\n",
        "CONNECT  \r\n",
        "CONNECT\t\r\n",
        "CONNECT {}\r\n",
        "CONNECT \t {} \r\n",
        "CONNECT {} \r\n",
    ]);
    vec![[line.as_bytes(), TAIL].concat()]
}

/// A top-level value that is not an object (`null` decodes into nothing in Go).
pub fn non_object(rng: &mut Rng) -> Vec<Vec<u8>> {
    let v = *rng.pick(&[
        "[]", "[1]", "\"x\"", "1", "null", "true", "false", "\"\"", "[{}]",
    ]);
    connect(v.as_bytes())
}

/// Escapes in keys and values, valid and not.
pub fn unicode_escape(rng: &mut Rng) -> Vec<Vec<u8>> {
    let json = *rng.pick(&[
        r#"{"\u0076erbose":true}"#,
        r#"{"v\u0065rbose":false,"\u0065cho":false}"#,
        r#"{"verbose":false,"name":"\u00e9\u0000\u001f\uffff"}"#,
        r#"{"verbose":false,"name":"a\/b\"c\\d"}"#,
        r#"{"verbose":false,"name":"\x41"}"#,
        r#"{"verbose":false,"name":"\u12"}"#,
        r#"{"verbose":false,"name":"\U0041"}"#,
        r#"{"\u0056ERBOSE":true}"#,
        r#"{"verbose":false,"name":"\'"}"#,
        r#"{"verbose":false,"echo":f\u0061lse}"#,
    ]);
    connect(json.as_bytes())
}

/// Raw control bytes inside strings and as whitespace.
pub fn control_bytes(rng: &mut Rng) -> Vec<Vec<u8>> {
    let byte = *rng.pick(&[0x00u8, 0x01, 0x08, 0x09, 0x0b, 0x0c, 0x1f, 0x7f]);
    let b = [byte];
    let json: Vec<u8> = match rng.range(0, 2) {
        0 => [&b"{\"verbose\":false,\"name\":\"a"[..], &b, b"b\"}"].concat(),
        1 => [&b"{\"verbose\":"[..], &b, b"false}"].concat(),
        _ => [&b"{"[..], &b, b"\"verbose\":false}"].concat(),
    };
    connect(&json)
}

/// Every field of Go's client options.
const FIELDS: &[&str] = &[
    "verbose",
    "pedantic",
    "tls_required",
    "echo",
    "headers",
    "no_responders",
    "protocol",
    "name",
    "lang",
    "version",
    "user",
    "pass",
    "auth_token",
    "jwt",
    "nkey",
    "sig",
    "account",
    "new_account",
];

/// A random set of real fields with values of random types: combinations
/// no hand-written case tries.
pub fn random_fields(rng: &mut Rng) -> Vec<Vec<u8>> {
    let n = rng.range(1, 6);
    let pairs: Vec<String> = (0..n)
        .map(|_| {
            let field = *rng.pick(FIELDS);
            let value = *rng.pick(&[
                "true", "false", "0", "1", "2", "-1", "\"\"", "\"x\"", "null", "[]", "{}", "1.0",
            ]);
            format!("\"{field}\":{value}")
        })
        .collect();
    connect(format!("{{{}}}", pairs.join(",")).as_bytes())
}
