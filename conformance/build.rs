//! Fingerprints the harness's own sources (scenarios, kit, rules) into
//! `PARITY_SCENARIO_SOURCE`. A run records it, and a Go test's status is
//! derived only from a Go result and a natsd result with the same
//! fingerprint: results of different scenario code are never paired.

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// FNV-1a, 64 bits: stable across toolchains, unlike std's hasher.
fn fnv1a(hash: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *hash ^= u64::from(*b);
        *hash = hash.wrapping_mul(0x100_0000_01b3);
    }
}

const BROWSER: [&str; 4] = [
    "browser/index.html",
    "browser/page.mjs",
    "browser/run.mjs",
    "browser/package-lock.json",
];

fn main() {
    println!("cargo:rerun-if-changed=src");
    let mut paths = Vec::new();
    files(Path::new("src"), &mut paths);
    // The browser scenarios' page and runner, not their node_modules.
    for file in BROWSER {
        println!("cargo:rerun-if-changed={file}");
        paths.push(file.into());
    }
    paths.sort();
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for path in paths {
        fnv1a(&mut hash, path.to_string_lossy().as_bytes());
        fnv1a(&mut hash, &std::fs::read(&path).unwrap_or_default());
    }
    println!("cargo:rustc-env=PARITY_SCENARIO_SOURCE={hash:016x}");
}
