//! `parity mutants`: proof that the scenarios behind PORTED rows can fail.
//!
//! cargo-mutants lists the mutants of natsd's protocol parser, sublist,
//! client delivery, authentication and permissions (each a small deliberate
//! fault: a function returning a default, an operator swapped, a condition
//! negated). A seeded sample of them is applied one at a time to a scratch
//! copy of the server's sources; each mutated natsd is built (profile
//! `mutants`: optimized, incremental) and the PORTED scenarios run against
//! it until one fails. A mutant no scenario catches is a survivor: a lead
//! for a missing check. Not run in CI; `reports/mutants.md` says when it
//! last ran and how long it took.

use crate::kit::{Binaries, Target};
use crate::registry::Scenario;
use crate::runner;
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The modules whose faults the scenarios must catch, with the scenario
/// families that should catch them (named beside each survivor).
pub const MODULES: &[(&str, &str)] = &[
    (
        "server/proto/src/client/parser.rs",
        "core/parser-*, core/split-*, core/proto-*",
    ),
    ("server/proto/src/sublist.rs", "subjects/*"),
    (
        "server/src/conn/client/reader.rs",
        "core/client-*, core/proto-*, core/fanout-*",
    ),
    (
        "server/src/core/delivery.rs",
        "core/client-*, core/proto-*, subjects/*",
    ),
    ("server/src/auth/mod.rs", "auth/*"),
    (
        "server/src/core/permissions.rs",
        "auth/permissions-*, auth/allow-*",
    ),
];

/// One mutant as cargo-mutants lists it.
#[derive(Debug, Clone)]
pub struct Mutant {
    pub name: String,
    pub file: String,
    pub diff: String,
}

/// What became of one mutant.
#[derive(Debug, Clone)]
pub enum Fate {
    /// A scenario failed against it.
    Caught { by: String },
    /// Every scenario passed.
    Survived,
    /// It does not build.
    Unviable,
}

/// Lists the mutants of [`MODULES`] with cargo-mutants.
pub fn list(root: &Path) -> Result<Vec<Mutant>> {
    let mut cmd = Command::new("cargo");
    cmd.args([
        "mutants",
        "--list",
        "--json",
        "--package",
        "natsd",
        "--package",
        "natsd-proto",
    ]);
    for (file, _) in MODULES {
        cmd.args(["--file", file]);
    }
    let out = cmd
        .current_dir(root)
        .output()
        .context("running cargo mutants (install it with `cargo install cargo-mutants`)")?;
    if !out.status.success() {
        bail!(
            "cargo mutants --list failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let listed: Vec<Value> = serde_json::from_slice(&out.stdout).context("cargo mutants JSON")?;
    Ok(listed
        .iter()
        .filter_map(|m| {
            Some(Mutant {
                name: m.get("name")?.as_str()?.to_string(),
                file: m.get("file")?.as_str()?.to_string(),
                diff: m.get("diff")?.as_str()?.to_string(),
            })
        })
        .collect())
}

/// A seeded sample of `n` (Fisher–Yates with splitmix64, so the same seed
/// picks the same mutants on every machine).
pub fn sample(mut all: Vec<Mutant>, n: usize, seed: u64) -> Vec<Mutant> {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for i in (1..all.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        all.swap(i, j);
    }
    all.truncate(n);
    all
}

/// A scratch copy of the server's sources in `target/mutants-src`, built
/// into `target/mutants`: both paths stay the same from run to run, so
/// each build is incremental.
pub struct Scratch {
    dir: PathBuf,
    target_dir: PathBuf,
}

impl Scratch {
    pub fn new(root: &Path) -> Result<Scratch> {
        let dir = root.join("target/mutants-src");
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let status = Command::new("cp")
            .args(["-r", "server"])
            .arg(&dir)
            .current_dir(root)
            .status()?;
        if !status.success() {
            bail!("copying server/ failed");
        }
        std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"))?;
        let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?
            .replace(r#""conformance""#, "")
            .replace(", ]", "]");
        std::fs::write(dir.join("Cargo.toml"), manifest)?;
        Ok(Scratch {
            dir,
            target_dir: root.join("target/mutants"),
        })
    }

    pub fn binary(&self) -> PathBuf {
        self.target_dir.join("mutants/natsd")
    }

    /// Builds natsd from the scratch sources; false when it does not build.
    pub fn build(&self) -> Result<bool> {
        let out = Command::new("cargo")
            .args(["build", "--profile", "mutants", "-p", "natsd", "--quiet"])
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .current_dir(&self.dir)
            .output()?;
        Ok(out.status.success())
    }

    /// Applies (or with `reverse`, takes back) a mutant's diff to its file.
    pub fn patch(&self, m: &Mutant, reverse: bool) -> Result<()> {
        use std::io::Write;
        let mut cmd = Command::new("patch");
        cmd.args(["--quiet", "--forward"]);
        if reverse {
            cmd.arg("--reverse");
        }
        cmd.arg(&m.file);
        let mut child = cmd
            .current_dir(&self.dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .context("running patch")?;
        child
            .stdin
            .take()
            .context("patch stdin")?
            .write_all(m.diff.as_bytes())?;
        if !child.wait()?.success() {
            bail!("patch did not apply");
        }
        Ok(())
    }
}

/// Runs every mutant against the scenarios. The unmutated build must pass
/// them all first, or nothing the mutants show would mean anything.
pub fn run(
    root: &Path,
    mutants: &[Mutant],
    scenarios: &[&Scenario],
    jobs: usize,
) -> Result<Vec<(Mutant, Fate, Duration)>> {
    let scratch = Scratch::new(root)?;
    eprintln!("building the unmutated natsd (profile mutants)");
    if !scratch.build()? {
        bail!("the unmutated natsd does not build");
    }
    // The runs drive natsd only; the Go path is never started.
    let bins = Binaries {
        rust: scratch.binary(),
        go: PathBuf::new(),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    if let Some(fail) =
        runtime.block_on(runner::first_failure(scenarios, Target::Rust, &bins, jobs))
    {
        bail!(
            "{} fails on the unmutated natsd: {}",
            fail.scenario_id,
            fail.result.message
        );
    }
    let mut out = Vec::new();
    for (i, m) in mutants.iter().enumerate() {
        let started = Instant::now();
        scratch.patch(m, false)?;
        let fate = if !scratch.build()? {
            Fate::Unviable
        } else {
            match runtime.block_on(runner::first_failure(scenarios, Target::Rust, &bins, jobs)) {
                Some(run) => Fate::Caught {
                    by: run.scenario_id.to_string(),
                },
                None => Fate::Survived,
            }
        };
        scratch.patch(m, true)?;
        eprintln!("[{}/{}] {:?}: {}", i + 1, mutants.len(), fate, m.name);
        out.push((m.clone(), fate, started.elapsed()));
    }
    Ok(out)
}

fn family(file: &str) -> &'static str {
    MODULES
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(_, s)| *s)
        .unwrap_or("")
}

/// `reports/mutants.md`.
pub fn render(
    results: &[(Mutant, Fate, Duration)],
    header: &str,
    listed: usize,
    scenario_count: usize,
) -> String {
    let mut out = String::new();
    let caught = results
        .iter()
        .filter(|(_, f, _)| matches!(f, Fate::Caught { .. }))
        .count();
    let unviable = results
        .iter()
        .filter(|(_, f, _)| matches!(f, Fate::Unviable))
        .count();
    let viable = results.len() - unviable;
    let _ = writeln!(
        out,
        "<!-- generated by `parity mutants`; do not edit -->\n# Mutants\n\n{header}\n"
    );
    let _ = writeln!(
        out,
        "cargo-mutants listed {listed} mutants in the modules below; a seeded sample of {} was tried against the {scenario_count} scenarios behind PORTED rows.\n",
        results.len()
    );
    let _ = writeln!(
        out,
        "| tried | unviable (do not build) | viable | caught | survived | caught of viable |\n|---:|---:|---:|---:|---:|---:|"
    );
    let ratio = if viable == 0 {
        0.0
    } else {
        100.0 * caught as f64 / viable as f64
    };
    let _ = writeln!(
        out,
        "| {} | {unviable} | {viable} | {caught} | {} | {ratio:.1}% |\n",
        results.len(),
        viable - caught
    );
    let _ = writeln!(
        out,
        "## By module\n\n| module | viable | caught |\n|---|---:|---:|"
    );
    for (file, _) in MODULES {
        let of: Vec<&(Mutant, Fate, Duration)> =
            results.iter().filter(|(m, _, _)| m.file == *file).collect();
        let v = of
            .iter()
            .filter(|(_, f, _)| !matches!(f, Fate::Unviable))
            .count();
        let c = of
            .iter()
            .filter(|(_, f, _)| matches!(f, Fate::Caught { .. }))
            .count();
        let _ = writeln!(out, "| {file} | {v} | {c} |");
    }
    let _ = writeln!(
        out,
        "\n## Survivors\n\nEach is a fault no scenario noticed: a lead for a missing check, with the scenarios that should have caught it.\n"
    );
    let survivors: Vec<&(Mutant, Fate, Duration)> = results
        .iter()
        .filter(|(_, f, _)| matches!(f, Fate::Survived))
        .collect();
    if survivors.is_empty() {
        let _ = writeln!(out, "None.");
    }
    for (m, _, _) in survivors {
        let _ = writeln!(
            out,
            "- `{}` — should be caught by {}",
            m.name,
            family(&m.file)
        );
    }
    let _ = writeln!(out, "\n## Caught\n\n| mutant | caught by |\n|---|---|");
    for (m, f, _) in results {
        if let Fate::Caught { by } = f {
            let _ = writeln!(out, "| `{}` | {by} |", m.name.replace('|', "\\|"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mutant(i: usize) -> Mutant {
        Mutant {
            name: format!("m{i}"),
            file: "server/proto/src/sublist.rs".into(),
            diff: String::new(),
        }
    }

    #[test]
    fn the_same_seed_picks_the_same_sample() {
        let all: Vec<Mutant> = (0..50).map(mutant).collect();
        let a: Vec<String> = sample(all.clone(), 10, 7)
            .into_iter()
            .map(|m| m.name)
            .collect();
        let b: Vec<String> = sample(all.clone(), 10, 7)
            .into_iter()
            .map(|m| m.name)
            .collect();
        let c: Vec<String> = sample(all, 10, 8).into_iter().map(|m| m.name).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 10);
    }

    #[test]
    fn the_report_counts_caught_of_viable() {
        let results = vec![
            (
                mutant(1),
                Fate::Caught {
                    by: "subjects/a".into(),
                },
                Duration::ZERO,
            ),
            (mutant(2), Fate::Survived, Duration::ZERO),
            (mutant(3), Fate::Unviable, Duration::ZERO),
        ];
        let md = render(&results, "Run at t.", 9, 4);
        assert!(md.contains("| 3 | 1 | 2 | 1 | 1 | 50.0% |"), "{md}");
        assert!(
            md.contains("- `m2` — should be caught by subjects/*"),
            "{md}"
        );
    }
}
