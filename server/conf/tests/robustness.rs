//! Mutation testing: randomly damaged configurations must produce a value
//! or an error, never a panic or a hang.

use natsd_conf::parse_str;

mod common;
use common::Rng;

const SEEDS: &[&str] = &[
    "port: 4222\nhost = 0.0.0.0\ndebug true\n",
    "cluster {\n  listen: 127.0.0.1:6222\n  routes = [\n    nats://a:6222\n    nats://b:6222\n  ]\n}\n",
    "authorization {\n  users = [\n    {user: a, password: \"p\\x41\"}\n    {user: b, password: '$2a$11$x'}\n  ]\n  timeout: 0.5\n}\n",
    "size = 64MiB; t = 2016-05-04T18:53:41Z; f = -1.25; v = $size\n",
    "{\"a\": 1, \"b\": [true, off, \"x\"], \"c\": {\"d\": null}}\n",
    "text (\n  raw ( text )\n)\n# comment\n// other\n",
    "m { include 'nothing.conf' }\n",
];

/// Characters that steer the lexer into its various states.
const SPICE: &[u8] = b"{}[]()=:;,'\"#/\\$ \t\n\r-.0123456789kKbBiIxXeEtTzZ\x00\xff\xc3";

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(6) {
        let at = rng.below(data.len() + 1);
        match rng.below(4) {
            0 => data.insert(at, SPICE[rng.below(SPICE.len())]),
            1 if at < data.len() => {
                data.remove(at);
            }
            2 if at < data.len() => data[at] = SPICE[rng.below(SPICE.len())],
            _ => {
                // Splice in a slice of another seed.
                let other = SEEDS[rng.below(SEEDS.len())].as_bytes();
                let from = rng.below(other.len());
                let to = (from + rng.below(16)).min(other.len());
                data.splice(at..at, other[from..to].iter().copied());
            }
        }
    }
    data
}

#[test]
fn mutated_inputs_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut accepted = 0;
    for round in 0..600 {
        let seed = SEEDS[round % SEEDS.len()].as_bytes();
        let bytes = mutate(&mut rng, seed);
        let text = String::from_utf8_lossy(&bytes);
        let outcome = std::panic::catch_unwind(|| parse_str(&text).is_ok());
        match outcome {
            Ok(ok) => accepted += usize::from(ok),
            Err(_) => panic!("parser panicked on {text:?}"),
        }
    }
    // Sanity check that the mutations are not all fatal.
    assert!(accepted > 0);
}

#[test]
fn mutated_files_with_arbitrary_bytes_never_panic() {
    let dir = std::env::temp_dir().join(format!("natsd-conf-robust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fuzz.conf");
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for round in 0..200 {
        let bytes = mutate(&mut rng, SEEDS[round % SEEDS.len()].as_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let outcome = std::panic::catch_unwind(|| natsd_conf::parse_file(&path).is_ok());
        assert!(outcome.is_ok(), "parser panicked on {bytes:?}");
    }
}

#[test]
fn deep_nesting_is_handled_iteratively() {
    let depth = 2000;
    let input = format!("a = {}1{}", "[".repeat(depth), " ]".repeat(depth));
    let map = parse_str(&input).unwrap();
    assert!(map.get("a").is_some());
}
