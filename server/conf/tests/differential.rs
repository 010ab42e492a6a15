//! Differential test against the Go reference binary.
//!
//! Generates random (and randomly damaged) configurations whose keys are all
//! unknown to the server, then compares what `nats-server -t -c FILE`
//! prints (a parse error, or one "unknown field" line per key with its
//! `file:line:col`) with the same report built from this crate's output.
//! Needs the Go binary, which `scripts/setup.sh` installs.

use std::fs;
use std::path::Path;
use std::process::Command;

use natsd_conf::{parse_file, Map};

const GO_BINARY: &str = "/usr/sbin/nats-server";

mod common;
use common::Rng;

const SCALARS: &[&str] = &[
    "17",
    "-3",
    "0",
    "8k",
    "2KiB",
    "3mb",
    "1G",
    "4tb",
    "5Pi",
    "1e",
    "2.5",
    "-0.25",
    "true",
    "OFF",
    "yes",
    "No",
    "'single'",
    "\"dq \\t \\\" \\x41\"",
    "bare",
    "10.0.0.1:4222",
    "1.2.3.4",
    "nats://u:p@h:1",
    "2016-05-04T18:53:41Z",
    "$zza",
    "$zzb",
    "$2a$11$abc",
    "3xyz",
    "1Ghz",
    "\"$zza\"",
    "(\nblock (x)\n)",
    "\\x41bc",
];

const WEIRD: &[&str] = &[
    "$zznope",
    "99999999999999999999",
    ".5",
    "1.",
    "12-1",
    "2016-02-30T18:53:41Z",
    "\\x4",
    "\\q",
    "'open",
    "[1,,2]",
    "{a=1,,}",
    "1kbb",
    "-x",
    "2016-05-04X",
    "[1]",
    "a=b",
];

const KEYS: &[&str] = &["zza", "zzb", "zzc", "zzName", "zz_1", "zz-x", "zz.y"];

fn key(rng: &mut Rng) -> String {
    let k = rng.pick(KEYS);
    match rng.below(10) {
        0 => format!("\"{k}\""),
        1 => format!("'{k}'"),
        _ => k.to_string(),
    }
}

fn value(rng: &mut Rng, depth: usize) -> String {
    let roll = rng.below(100);
    if depth < 3 && roll < 15 {
        let sep = rng.pick(&[", ", ",", "\n", " ,\n"]);
        let items: Vec<_> = (0..rng.below(4)).map(|_| value(rng, depth + 1)).collect();
        return format!("[{} ]", items.join(sep));
    }
    if depth < 3 && roll < 30 {
        let sep = rng.pick(&["; ", ", ", "\n", "\n  "]);
        let items: Vec<_> = (0..rng.below(4))
            .map(|_| {
                format!(
                    "{}{}{}",
                    key(rng),
                    rng.pick(&[" = ", ":", " "]),
                    value(rng, depth + 1)
                )
            })
            .collect();
        return format!("{{{}}}", items.join(sep));
    }
    if rng.chance(8) {
        rng.pick(WEIRD).to_string()
    } else {
        rng.pick(SCALARS).to_string()
    }
}

fn document(rng: &mut Rng) -> Vec<u8> {
    let mut lines = Vec::new();
    for _ in 0..=rng.below(7) {
        let line = match rng.below(20) {
            0 => rng
                .pick(&[
                    "include inc.conf",
                    "include './inc.conf'",
                    "include \"gone.conf\"",
                ])
                .to_string(),
            1 => rng.pick(&["# note", "// note", "  "]).to_string(),
            _ => format!(
                "{}{}{}{}",
                key(rng),
                rng.pick(&[" = ", "=", ": ", " ", "\t"]),
                value(rng, 0),
                rng.pick(&["", ";", ",", " # c"])
            ),
        };
        lines.push(line);
    }
    let mut text = lines.join(rng.pick(&["\n", "\r\n", "\n\n"]));
    if rng.chance(40) {
        text = format!("cluster {{\n{text}\n}}\n");
    }
    let mut bytes = text.into_bytes();
    const SPICE: &[u8] = b"{}[]()=:;,'\"#/\\$ \n\t-.0k";
    for _ in 0..rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        let c = SPICE[rng.below(SPICE.len())];
        match rng.below(3) {
            0 => bytes.insert(at, c),
            1 if at < bytes.len() => {
                bytes.remove(at);
            }
            _ if at < bytes.len() => bytes[at] = c,
            _ => {}
        }
    }
    bytes
}

fn unknown_fields(map: &Map, out: &mut Vec<String>) {
    for (k, n) in map.iter() {
        if !n.used_variable {
            out.push(format!("{}: unknown field {:?}", n.location(), k));
        }
    }
}

/// What nats-server would print, one message per line, sorted.
fn our_report(path: &Path) -> Vec<String> {
    let mut out = Vec::new();
    match parse_file(path) {
        Err(e) => out.push(e.to_string()),
        Ok(map) => {
            for (k, n) in map.iter() {
                if k != "cluster" {
                    if !n.used_variable {
                        out.push(format!("{}: unknown field {:?}", n.location(), k));
                    }
                } else if let Some(inner) = n.as_map() {
                    unknown_fields(inner, &mut out);
                } else {
                    out.push(format!(
                        "{}: Expected map to define cluster, got {}",
                        n.location(),
                        n.kind_name()
                    ));
                }
            }
            if out.is_empty() {
                out.push(format!("configuration file {} is valid", path.display()));
            }
        }
    }
    out.sort();
    out
}

fn go_report(path: &Path) -> Vec<String> {
    let output = Command::new(GO_BINARY)
        .arg("-t")
        .arg("-c")
        .arg(path)
        .output()
        .expect("run nats-server");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.strip_prefix("nats-server: ").unwrap_or(l).to_string())
        .collect();
    lines.sort();
    lines
}

#[test]
fn agrees_with_go_nats_server() {
    assert!(
        Path::new(GO_BINARY).exists(),
        "{GO_BINARY} not found: run scripts/setup.sh to install the Go reference"
    );
    let dir = std::env::temp_dir().join(format!("natsd-conf-diff-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("inc.conf"), "zzinc = 1\nzzlist: [x, y ]\n").unwrap();
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    let mut mismatches = Vec::new();
    let mut with_positions = 0;
    for round in 0..400 {
        let doc = document(&mut rng);
        fs::write(dir.join("t.conf"), &doc).unwrap();
        let path = dir.join("t.conf");
        let ours = our_report(&path);
        let theirs = go_report(&path);
        if theirs.iter().any(|l| l.contains("unknown field")) {
            with_positions += 1;
        }
        if ours != theirs {
            mismatches.push(format!(
                "round {round}: {:?}\n  go:   {theirs:?}\n  ours: {ours:?}",
                String::from_utf8_lossy(&doc)
            ));
        }
    }
    fs::remove_dir_all(&dir).ok();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // Make sure the comparison covered positions, not just error texts.
    assert!(
        with_positions > 40,
        "only {with_positions} documents parsed"
    );
}
