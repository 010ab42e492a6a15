//! Hostile config files for `-t`: nesting far deeper than any real config,
//! unterminated values, numbers and sizes out of range, include loops,
//! invalid UTF-8 and NUL bytes, duplicate keys, wrong types for known keys,
//! imports of unknown accounts, bad JetStream limits and variables that are
//! undefined or refer to themselves. A config parser that recurses, trusts
//! its input or panics on it shows here.

use crate::rng::Rng;

/// The file `-t -c` is given; a case may write others beside it.
pub const MAIN: &str = "c.conf";

/// One config case: its files (the first is [`MAIN`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigCase {
    /// `<class>#<index>`.
    pub name: String,
    pub class: &'static str,
    pub files: Vec<(&'static str, Vec<u8>)>,
}

type Make = fn(&mut Rng) -> Vec<(&'static str, Vec<u8>)>;

/// Every config class, in the order cases cycle through them.
pub const CLASSES: &[(&str, Make)] = &[
    ("config-deep-map", deep_map),
    ("config-deep-array", deep_array),
    ("config-unterminated", unterminated),
    ("config-huge-number", huge_number),
    ("config-bad-size", bad_size),
    ("config-unknown-key", unknown_key),
    ("config-include-loop", include_loop),
    ("config-bad-utf8", bad_utf8),
    ("config-nul", nul),
    ("config-dup-key", dup_key),
    ("config-wrong-type", wrong_type),
    ("config-account-import", account_import),
    ("config-jetstream", jetstream),
    ("config-variables", variables),
    ("config-mutated", mutated),
];

/// The stream of the seed that config cases draw from.
const STREAM: u64 = 2;

/// `n` config cases for `seed`.
pub fn cases(seed: u64, n: usize) -> Vec<ConfigCase> {
    (0..n)
        .map(|i| {
            let (class, make) = CLASSES[i % CLASSES.len()];
            let mut rng = Rng::for_case(seed, STREAM, i as u64);
            ConfigCase {
                name: format!("{class}#{i}"),
                class,
                files: make(&mut rng),
            }
        })
        .collect()
}

fn main_only(body: impl Into<Vec<u8>>) -> Vec<(&'static str, Vec<u8>)> {
    vec![(MAIN, body.into())]
}

/// 1k to 200k levels, spread evenly over the orders of magnitude.
fn depth(rng: &mut Rng) -> usize {
    let base = *rng.pick(&[1_000usize, 3_000, 10_000, 30_000, 100_000, 200_000]);
    (base - rng.range(0, base / 10)).max(1_000)
}

fn deep_map(rng: &mut Rng) -> Vec<(&'static str, Vec<u8>)> {
    let d = depth(rng);
    let open = *rng.pick(&["a {", "a: {", "a = {", "{"]);
    main_only(format!("{}{}\n", open.repeat(d), "}".repeat(d)))
}

fn deep_array(rng: &mut Rng) -> Vec<(&'static str, Vec<u8>)> {
    let d = depth(rng);
    let body = if rng.chance(1, 2) {
        format!("a = {}{}\n", "[".repeat(d), "]".repeat(d))
    } else {
        format!("a = {}1{}\n", "[{b: ".repeat(d), "}]".repeat(d))
    };
    main_only(body)
}

fn unterminated(rng: &mut Rng) -> Vec<(&'static str, Vec<u8>)> {
    main_only(*rng.pick(&[
        "port: \"4222",
        "authorization { user: a",
        "a = [1, 2",
        "a = 'x",
        "a { b { c = 1 }",
        "include \"",
        "x = \"\\",
        "port: 4222\n}\n",
        "a = [1, 2}\n",
        "a { b = 1 ]\n",
        "a = (\n",
        "a = \"\"\"\n",
        "/* comment\n",
    ]))
}

fn huge_number(rng: &mut Rng) -> Vec<(&'static str, Vec<u8>)> {
    let key = *rng.pick(&[
        "port",
        "max_payload",
        "max_connections",
        "max_control_line",
        "max_pending",
        "ping_interval",
        "ping_max",
        "write_deadline",
        "max_subscriptions",
        "http_port",
        "lame_duck_duration",
        "auth_timeout",
    ]);
    let value = *rng.pick(&[
        "99999999999999999999999",
        "-99999999999999999999",
        "1e400",
        "1e-400",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "4294967296",
        "2147483648",
        "65536",
        "-1",
        "10GB",
        "100TB",
        "9999999999999999GB",
        "1.5e10",
        "8EB",
    ]);
    main_only(format!("{key}: {value}\n"))
}

fn bad_size(rng: &mut Rng) -> Vec<(&'static str, Vec<u8>)> {
    let key = *rng.pick(&["max_payload", "max_pending", "max_control_line"]);
    let value = *rng.pick(&[
        "\"abc\"",
        "\"1XB\"",
        "\"-1KB\"",
        "\"1.5MB\"",
        "\"\"",
        "\" 1 MB\"",
        "\"MB\"",
        "1XB",
        "\"0x10\"",
    ]);
    main_only(format!("{key}: {value}\n"))
}

fn unknown_key(rng: &mut Rng) -> Vec<(&'static str, Vec<u8>)> {
    let name = format!("zz_{}", rng.range(0, 999));
    main_only(match rng.range(0, 4) {
        0 => format!("{name}: 1\n"),
        1 => format!("authorization {{ {name}: 1 }}\n"),
        2 => format!("jetstream {{ {name}: 1 }}\n"),
        3 => format!("cluster {{ {name}: 1 }}\n"),
        _ => format!("authorization {{ users = [ {{user: a, password: b, {name}: 1}} ] }}\n"),
    })
}

fn include_loop(rng: &mut Rng) -> Vec<(&'static str, Vec<u8>)> {
    match rng.range(0, 4) {
        0 => main_only("include \"c.conf\"\n"),
        1 => vec![
            (MAIN, b"port: 4222\ninclude \"b.conf\"\n".to_vec()),
            ("b.conf", b"include \"c.conf\"\n".to_vec()),
        ],
        2 => main_only("include \"missing.conf\"\n"),
        3 => main_only("include \"./\"\n"),
        _ => main_only("authorization {\n  include \"c.conf\"\n}\n"),
    }
}

const BAD_UTF8: &[&[u8]] = &[b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80", b"\xe2\x82"];

fn bad_utf8(rng: &mut Rng) -> Vec<(&'static str, Vec<u8>)> {
    let bad = *rng.pick(BAD_UTF8);
    main_only(match rng.range(0, 3) {
        0 => [b"server_name: \"a", bad, b"b\"\n"].concat(),
        1 => [b"k", bad, b": 1\n"].concat(),
        2 => [b"server_name: a", bad, b"\n"].concat(),
        _ => [b"# comment ", bad, b"\nport: 4222\n"].concat(),
    })
}

fn nul(rng: &mut Rng) -> Vec<(&'static str, Vec<u8>)> {
    main_only(
        rng.pick::<&[u8]>(&[
            b"\x00",
            b"port: 4222\x00\n",
            b"server_name: \"a\x00b\"\n",
            b"po\x00rt: 4222\n",
            b"# c\x00\nport: 4222\n",
            b"port: 4222\n\x00\n",
            b"authorization {\x00}\n",
        ])
        .to_vec(),
    )
}

fn dup_key(rng: &mut Rng) -> Vec<(&'static str, Vec<u8>)> {
    main_only(*rng.pick(&[
        "port: 4222\nport: 4223\n",
        "max_payload: 1KB\nmax_payload: \"abc\"\n",
        "max_payload: \"abc\"\nmax_payload: 1KB\n",
        "authorization { user: a, user: b, password: p }\n",
        "accounts { A {}, A {} }\n",
        "authorization { users = [ {user: a, password: b}, {user: a, password: c} ] }\n",
        "accounts { A { users = [ {user: u, password: p} ] }, B { users = [ {user: u, password: q} ] } }\n",
        "jetstream { max_mem: 1G, max_mem: \"x\" }\n",
    ]))
}

fn wrong_type(rng: &mut Rng) -> Vec<(&'static str, Vec<u8>)> {
    main_only(*rng.pick(&[
        "port: \"x\"\n",
        "max_connections: [1]\n",
        "debug: \"yes\"\n",
        "authorization: 5\n",
        "accounts: \"x\"\n",
        "authorization { users: { a: 1 } }\n",
        "listen: 5\n",
        "http: true\n",
        "server_name: []\n",
        "tls: \"yes\"\n",
        "cluster: 1\n",
        "max_payload: {}\n",
        "write_deadline: [1]\n",
        "ping_max: \"x\"\n",
        "trace: 1\n",
        "accounts { A: 1 }\n",
        "authorization { users = [ 1 ] }\n",
        "authorization { users = [ {user: a, password: b, permissions: 1} ] }\n",
    ]))
}

fn account_import(rng: &mut Rng) -> Vec<(&'static str, Vec<u8>)> {
    main_only(*rng.pick(&[
        "accounts { A: { imports: [{stream: {account: NOPE, subject: \"x\"}}] } }\n",
        "accounts { A: { imports: [{service: {account: NOPE, subject: \"x\"}}] } }\n",
        "accounts { A: { imports: [{stream: {account: A, subject: \"x\"}}] } }\n",
        "accounts { A: { exports: [{stream: \"a..b\"}] } }\n",
        "accounts { A: { exports: [{service: \"x\"}] }, B: { imports: [{service: {account: A, subject: \"y\"}}] } }\n",
        "accounts { A: { imports: [{stream: {account: B}}] }, B: {} }\n",
        "accounts { A: { imports: [{bogus: {account: B, subject: x}}] }, B: {} }\n",
        "accounts { A: { imports: 5 } }\n",
        "accounts { A: { users: [{user: u, password: p, account: NOPE}] } }\n",
    ]))
}

fn jetstream(rng: &mut Rng) -> Vec<(&'static str, Vec<u8>)> {
    main_only(*rng.pick(&[
        "jetstream { max_mem: \"abc\" }\n",
        "jetstream: \"maybe\"\n",
        "jetstream { store_dir: 5 }\n",
        "jetstream { max_file: -1 }\n",
        "jetstream { max_memory_store: 1e999 }\n",
        "jetstream: enabled\n",
        "jetstream { max_mem: 99999999999999999999 }\n",
        "jetstream { domain: \"a.b\" }\n",
        "jetstream: [1]\n",
    ]))
}

fn variables(rng: &mut Rng) -> Vec<(&'static str, Vec<u8>)> {
    main_only(*rng.pick(&[
        "port: $UNDEFINED_PARITY_VAR\n",
        "A = $A\nport: $A\n",
        "A = $B\nB = $A\nport: $A\n",
        "A: 4222\nport: $A\n",
        "port: $\n",
        "port: $1\n",
        "a { b = 1 }\nport: $a\n",
        "A: \"x\"\nserver_name: \"$A\"\n",
        "A: [1, 2]\nport: $A\n",
        "authorization { user: $U, password: $U }\n",
    ]))
}

/// A valid config with a few bytes changed, inserted or dropped.
fn mutated(rng: &mut Rng) -> Vec<(&'static str, Vec<u8>)> {
    let mut body = b"port: 4222\nmax_payload: 1MB\nauthorization {\n  users = [\n    {user: a, password: b, permissions: {publish: \"a.>\"}}\n  ]\n}\naccounts { A { users = [ {user: c, password: d} ] } }\n".to_vec();
    for _ in 0..rng.range(1, 3) {
        let at = rng.range(0, body.len() - 1);
        let byte = *rng.pick(b"{}[]\"'$:=,#\n\x00\xff ");
        match rng.range(0, 2) {
            0 => body[at] = byte,
            1 => body.insert(at, byte),
            _ => {
                body.remove(at);
            }
        }
    }
    main_only(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_same_seed_gives_the_same_configs() {
        assert_eq!(cases(1, 60), cases(1, 60));
        assert_ne!(cases(1, 60), cases(2, 60));
    }

    #[test]
    fn every_class_is_produced() {
        let all = cases(1, CLASSES.len());
        let classes: HashSet<&str> = all.iter().map(|c| c.class).collect();
        assert_eq!(classes.len(), CLASSES.len());
        assert!(all.iter().all(|c| c.files[0].0 == MAIN));
    }

    #[test]
    fn deep_nesting_spans_thousands_to_hundreds_of_thousands() {
        let depths: Vec<usize> = cases(4, CLASSES.len() * 40)
            .iter()
            .filter(|c| c.class == "config-deep-map")
            .map(|c| c.files[0].1.iter().filter(|b| **b == b'}').count())
            .collect();
        assert!(depths.iter().all(|d| (900..=200_000).contains(d)));
        assert!(depths.iter().any(|d| *d >= 100_000));
    }
}
