//! `parity fuzz-diff`: differential fuzzing of natsd against the Go server.
//!
//! Scenarios check what someone thought of; this checks what nobody did.
//! Seeded generators make malformed and edge-case client input (CONNECT
//! JSON, authentication, operations) and hostile config files; each
//! protocol case goes to natsd and to two Go servers, each config through
//! `-t` on both; answers are normalized and compared, with the second Go
//! server as the control that tells a real divergence from timing noise.
//! Crashes and hangs of natsd, and divergences not listed in
//! `conformance/fuzz-explained.toml`, fail the run.

mod answer;
mod case;
mod config_run;
mod escape;
mod explained;
mod findings;
mod gen_auth;
mod gen_config;
mod gen_connect;
mod gen_ops;
mod generate;
mod proto_run;
mod report;
mod servers;
mod verdict;
mod wire;

pub use explained::FILE as EXPLAINED;

use crate::kit::Binaries;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::time::Instant;

/// What to run.
pub struct Options {
    pub seed: u64,
    pub cases: usize,
    pub configs: usize,
    pub jobs: usize,
    pub bins: Binaries,
    /// Versions of the two binaries, for the report.
    pub natsd_version: String,
    pub go_version: String,
    pub explained: PathBuf,
    pub out: PathBuf,
}

/// Runs the cases, writes the report; true when the run passes.
pub fn run(opts: &Options) -> Result<bool> {
    let explained = explained::Explained::load(&opts.explained)?;
    let proto_cases = generate::cases(opts.seed, opts.cases);
    let config_cases = gen_config::cases(opts.seed, opts.configs);
    let runtime = tokio::runtime::Runtime::new()?;

    let started = Instant::now();
    let proto_obs = runtime.block_on(proto_run::run(&proto_cases, &opts.bins, opts.jobs))?;
    let proto_time = started.elapsed();
    let started = Instant::now();
    let config_obs = runtime.block_on(config_run::run(&config_cases, &opts.bins, opts.jobs))?;
    let config_time = started.elapsed();

    let mut all = findings::protocol(&proto_cases, proto_obs, &explained);
    all.extend(findings::config(&config_cases, config_obs, &explained));
    let header = report::Header {
        seed: opts.seed,
        cases: opts.cases,
        configs: opts.configs,
        natsd: opts.natsd_version.clone(),
        go: opts.go_version.clone(),
    };
    if let Some(dir) = opts.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&opts.out, report::render(&header, &all))
        .with_context(|| format!("writing {}", opts.out.display()))?;

    let count = |v: verdict::Verdict| all.iter().filter(|f| f.verdict == v).count();
    let failing = all.iter().filter(|f| f.fails()).count();
    println!(
        "fuzz-diff seed {}: {} protocol cases in {:.1?}, {} config cases in {:.1?}",
        opts.seed, opts.cases, proto_time, opts.configs, config_time
    );
    println!(
        "same {}, divergent {}, noise {}, natsd crashes {}, natsd hangs {}; {} failing; {} written",
        count(verdict::Verdict::Same),
        count(verdict::Verdict::Divergent),
        count(verdict::Verdict::Noise),
        count(verdict::Verdict::Crash),
        count(verdict::Verdict::Hang),
        failing,
        opts.out.display()
    );
    Ok(failing == 0)
}
