//! The `parity` command line.

use crate::check;
use crate::classifications;
use crate::db::{Db, RunInfo};
use crate::evidence;
use crate::fuzzdiff;
use crate::gaps::{self, Baseline, GapRow};
use crate::gochecks;
use crate::gotests::{self, DEFAULT_GO_SRC};
use crate::kit::{Binaries, Target};
use crate::mutants;
use crate::registry::{self, Scenario};
use crate::reports;
use crate::runner::{self, ScenarioRun};
use crate::scenarios;
use crate::sources;
use crate::status::{Coverage, Status};
use crate::weak;
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use regex::Regex;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tabled::{Table, Tabled};

const DEFAULT_GO_BIN: &str = "/usr/sbin/nats-server";

#[derive(Parser)]
#[command(
    name = "parity",
    about = "Checks natsd against the Go nats-server 2.9.10, Go test by Go test"
)]
struct Cli {
    /// Root of the workspace (default: the nearest folder above with parity-db/schema.sql).
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Reads every Go test function from the sources and writes parity-db/go-tests.csv.
    ImportGo {
        /// The nats-server 2.9.10 sources.
        #[arg(long, default_value = DEFAULT_GO_SRC)]
        src: PathBuf,
    },
    /// Runs scenarios, stores results, regenerates gaps/ and reports/.
    Run(RunArgs),
    /// Runs scenarios on both targets and writes reports/diff.md.
    Diff(SelectArgs),
    /// Regenerates gaps/ from the database alone.
    Gaps,
    /// Lists Go tests with their status.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        category: Option<String>,
        /// Only Go tests DEFERRED until this capability lands (jetstream,
        /// routes, imports-exports, ...).
        #[arg(long)]
        deferred_on: Option<String>,
    },
    /// Shows one Go test: where it is, its status, its scenarios, their
    /// results and the evidence behind a full mapping.
    Show { name: String },
    /// Checks the evidence of full mappings, or drafts it.
    Evidence {
        #[command(subcommand)]
        action: EvidenceAction,
    },
    /// Runs the scenarios behind PORTED rows against mutated natsd builds
    /// (cargo-mutants) and writes reports/mutants.md. Slow; not for CI.
    Mutants(MutantsArgs),
    /// Benchmarks natsd (release build) against the Go server, side by side;
    /// writes reports/bench.md, bench.json and bench.svg.
    Bench(BenchArgs),
    /// Sends seeded malformed client input to natsd and two Go servers, and
    /// hostile configs through `-t`; writes reports/fuzz-diff.md and fails
    /// on a crash, a hang or a divergence not in conformance/fuzz-explained.toml.
    FuzzDiff(FuzzDiffArgs),
    /// Kills servers with SIGKILL under JetStream load, cycle after cycle,
    /// and checks after each restart that nothing acknowledged is lost or
    /// corrupt; writes reports/crash.md and fails when natsd lost or
    /// corrupted anything.
    Crash(CrashArgs),
}

#[derive(Subcommand)]
enum EvidenceAction {
    /// Lists every full mapping whose evidence is missing, incomplete or stale.
    Check {
        /// Only scenarios registered in this file (e.g. core_client.rs).
        #[arg(long)]
        source: Option<String>,
    },
    /// Prints a TOML skeleton for full mappings without evidence: each check
    /// line of the Go test, to pair with the scenario's check.
    Draft {
        /// Only scenarios whose id matches this regex.
        #[arg(long)]
        filter: Option<String>,
        /// Only scenarios registered in this file (e.g. core_client.rs).
        #[arg(long)]
        source: Option<String>,
    },
}

#[derive(clap::Args)]
struct MutantsArgs {
    /// How many of the listed mutants to try.
    #[arg(long, default_value_t = 100)]
    sample: usize,
    /// Seed of the sample: the same seed tries the same mutants.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Scenarios run at once against each mutant.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Runs per row and server (at least 5 for a report worth reading).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Only rows whose id matches this regex.
    #[arg(long)]
    rows: Option<String>,
    /// The Go reference binary.
    #[arg(long, default_value = DEFAULT_GO_BIN)]
    go_bin: PathBuf,
    /// A natsd binary to use instead of building one with `cargo build --release -p natsd`.
    #[arg(long)]
    natsd_bin: Option<PathBuf>,
}

#[derive(clap::Args)]
struct FuzzDiffArgs {
    /// Protocol cases (classes take turns, so at least 30 covers them all).
    #[arg(long, default_value_t = 500)]
    cases: usize,
    /// Config cases run through `-t`.
    #[arg(long, default_value_t = 100)]
    configs: usize,
    /// Seed of the generators: the same seed makes the same cases.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Cases run at once.
    #[arg(long, default_value_t = 16)]
    jobs: usize,
    /// The report (default: reports/fuzz-diff.md in the workspace).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The Go reference binary.
    #[arg(long, default_value = DEFAULT_GO_BIN)]
    go_bin: PathBuf,
    /// The natsd binary (default: beside this parity binary).
    #[arg(long)]
    natsd_bin: Option<PathBuf>,
}

#[derive(clap::Args)]
struct CrashArgs {
    /// Which server to kill (default: both when the Go reference is installed).
    #[arg(long, value_enum)]
    target: Option<TargetArg>,
    /// Kill and restart cycles per server (the committed report has at least 200).
    #[arg(long, default_value_t = 200)]
    cycles: usize,
    /// Seed of the load and of the kill moments.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The report (default: reports/crash.md in the workspace).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The Go reference binary.
    #[arg(long, default_value = DEFAULT_GO_BIN)]
    go_bin: PathBuf,
    /// The natsd binary (default: beside this parity binary).
    #[arg(long)]
    natsd_bin: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum TargetArg {
    Rust,
    Go,
    Both,
}

#[derive(clap::Args, Clone)]
struct SelectArgs {
    /// Only scenarios of this category.
    #[arg(long)]
    category: Option<String>,
    /// Only scenarios whose id matches this regex.
    #[arg(long)]
    filter: Option<String>,
    /// Scenarios run at once.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
    /// The Go reference binary (another Go release may be named here).
    #[arg(long, default_value = DEFAULT_GO_BIN)]
    go_bin: PathBuf,
    /// The natsd binary (default: beside this parity binary).
    #[arg(long)]
    natsd_bin: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Which server to drive (default: both when the Go reference is installed, else rust).
    #[arg(long, value_enum)]
    target: Option<TargetArg>,
    /// Fail on a broken scenario (not passing on Go) and on a regression
    /// (a Go test PORTED in the committed gaps/ that is no longer PORTED).
    #[arg(long)]
    check: bool,
    #[command(flatten)]
    select: SelectArgs,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("parity: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    let root = match cli.root {
        Some(r) => r,
        None => find_root()?,
    };
    let ws = Workspace { root };
    match cli.command {
        Command::ImportGo { src } => import_go(&ws, &src),
        Command::Run(args) => run(&ws, args),
        Command::Diff(select) => diff(&ws, select),
        Command::Gaps => {
            let (db, _) = ws.open_db()?;
            write_gaps(&ws, &db)?;
            println!("gaps/ regenerated");
            Ok(ExitCode::SUCCESS)
        }
        Command::List {
            status,
            category,
            deferred_on,
        } => list(&ws, status, category, deferred_on),
        Command::Show { name } => show(&ws, &name),
        Command::Evidence { action } => evidence_cmd(&ws, action),
        Command::Mutants(args) => mutants_cmd(&ws, args),
        Command::Bench(args) => bench(&ws, args),
        Command::FuzzDiff(args) => fuzz_diff(&ws, args),
        Command::Crash(args) => crash(&ws, args),
    }
}

fn find_root() -> Result<PathBuf> {
    let mut dir = std::env::current_dir()?;
    loop {
        if dir.join("parity-db/schema.sql").is_file() {
            return Ok(dir);
        }
        if !dir.pop() {
            bail!("no parity-db/schema.sql in this folder or above; run from the workspace or pass --root");
        }
    }
}

/// Paths of the workspace the harness reads and writes.
struct Workspace {
    root: PathBuf,
}

impl Workspace {
    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Opens the database and loads the committed sources and the registry
    /// into it. A full mapping whose evidence does not stand is stored as
    /// partial, with the reason; the problems come back too.
    fn open_db(&self) -> Result<(Db, Vec<evidence::Problem>)> {
        let mut db = Db::open(&self.path("parity-db/parity.sqlite"))?;
        let tests = gotests::read_csv(&self.path("parity-db/go-tests.csv"))?;
        let classes = classifications::read_csv(&self.path("parity-db/classifications.csv"))?;
        let all = scenarios::all();
        let mut mappings = registry::resolve(&all, &tests)?;
        let problems = self.evidence_problems(&all, &mappings)?;
        for m in mappings.iter_mut() {
            if let Some(p) = problems
                .iter()
                .find(|p| p.scenario_id == m.scenario_id && p.file == m.file && p.name == m.name)
            {
                m.coverage = Coverage::Partial;
                m.refusal = p.reason.clone();
            }
        }
        db.load(&tests, &classes, &all, &mappings)?;
        Ok((db, problems))
    }

    fn go_checks(&self) -> Result<HashMap<(String, String), Vec<gochecks::GoCheck>>> {
        gochecks::read_csv(&self.path("parity-db/go-checks.csv"))
    }

    fn evidence_problems(
        &self,
        all: &[Scenario],
        mappings: &[registry::ResolvedMapping],
    ) -> Result<Vec<evidence::Problem>> {
        let entries = evidence::load(&self.path(evidence::DIR))?;
        let go_checks = self.go_checks()?;
        let read = |rel: &str| std::fs::read_to_string(self.root.join(rel)).ok();
        Ok(evidence::validate(&evidence::Inputs {
            scenarios: all,
            mappings,
            go_checks: &go_checks,
            entries: &entries,
            read_source: &read,
        }))
    }

    /// Every Go test's status, against the committed gaps and with links to
    /// the evidence.
    fn compute_gaps(&self, db: &Db) -> Result<Vec<GapRow>> {
        let entries = evidence::load(&self.path(evidence::DIR))?;
        let files = evidence::files(&entries, &self.root);
        gaps::compute(db, &self.baseline()?, &files)
    }

    /// The statuses of the committed gaps/ (`git show HEAD:gaps/...`).
    fn baseline(&self) -> Result<Baseline> {
        gaps::committed_baseline(&self.root)
    }
}

fn import_go(ws: &Workspace, src: &Path) -> Result<ExitCode> {
    let tests = gotests::scan(src)?;
    let files: HashSet<&str> = tests.iter().map(|t| t.file.as_str()).collect();
    gotests::write_csv(&tests, &ws.path("parity-db/go-tests.csv"))?;
    let checks = gochecks::scan(src, &tests)?;
    gochecks::write_csv(&checks, &ws.path("parity-db/go-checks.csv"))?;
    println!(
        "parity-db/go-tests.csv: {} Go tests in {} files; parity-db/go-checks.csv: {} check lines",
        tests.len(),
        files.len(),
        checks.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn evidence_cmd(ws: &Workspace, action: EvidenceAction) -> Result<ExitCode> {
    let tests = gotests::read_csv(&ws.path("parity-db/go-tests.csv"))?;
    let all = scenarios::all();
    let mappings = registry::resolve(&all, &tests)?;
    let problems = ws.evidence_problems(&all, &mappings)?;
    let registered_in = |source: &Option<String>, id: &str| {
        source.as_deref().is_none_or(|f| {
            all.iter()
                .any(|s| s.id == id && s.source_file.ends_with(&format!("/{f}")))
        })
    };
    match action {
        EvidenceAction::Check { source } => {
            for p in problems
                .iter()
                .filter(|p| registered_in(&source, &p.scenario_id))
            {
                println!("{} ↔ {}: {}", p.scenario_id, p.name, p.reason);
            }
            let full = mappings
                .iter()
                .filter(|m| m.coverage == Coverage::Full)
                .count();
            println!(
                "{} full mappings, {} evidence problems",
                full,
                problems.len()
            );
            Ok(if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        EvidenceAction::Draft { filter, source } => {
            let re = filter.as_deref().map(Regex::new).transpose()?;
            let lacking: Vec<&registry::ResolvedMapping> = mappings
                .iter()
                .filter(|m| m.coverage == Coverage::Full)
                .filter(|m| registered_in(&source, &m.scenario_id))
                .filter(|m| re.as_ref().is_none_or(|re| re.is_match(&m.scenario_id)))
                .filter(|m| {
                    problems.iter().any(|p| {
                        p.scenario_id == m.scenario_id
                            && p.name == m.name
                            && p.reason.starts_with("no evidence")
                    })
                })
                .collect();
            let lines = tests
                .iter()
                .map(|t| ((t.file.clone(), t.name.clone()), t.line))
                .collect();
            print!("{}", evidence::draft(&lacking, &ws.go_checks()?, &lines));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn write_gaps(ws: &Workspace, db: &Db) -> Result<Vec<GapRow>> {
    let rows = ws.compute_gaps(db)?;
    let scenario_count = db.scenarios()?.len();
    gaps::write_all(&ws.path("gaps"), &rows, scenario_count, &db.source_lines()?)?;
    Ok(rows)
}

fn select<'a>(all: &'a [Scenario], args: &SelectArgs) -> Result<Vec<&'a Scenario>> {
    let re = args.filter.as_deref().map(Regex::new).transpose()?;
    let chosen: Vec<&Scenario> = all
        .iter()
        .filter(|s| args.category.as_deref().is_none_or(|c| s.category == c))
        .filter(|s| re.as_ref().is_none_or(|re| re.is_match(s.id)))
        .collect();
    if chosen.is_empty() {
        bail!("no scenario matches the selection");
    }
    Ok(chosen)
}

/// Splits off the scenarios whose needs this machine cannot meet (a
/// browser, say), each with the reason.
fn runnable(chosen: Vec<&Scenario>) -> (Vec<&Scenario>, Vec<(&str, String)>) {
    let mut skipped = Vec::new();
    let run = chosen
        .into_iter()
        .filter(|s| match s.needs.iter().find_map(|n| n.unmet()) {
            Some(why) => {
                skipped.push((s.id, why));
                false
            }
            None => true,
        })
        .collect();
    (run, skipped)
}

/// Says which scenarios were skipped and why; none is run, none has a result.
fn print_skipped(skipped: &[(&str, String)]) {
    for (id, why) in skipped {
        println!("skipped {id}: {why}");
    }
}

fn binaries(args: &SelectArgs) -> Result<Binaries> {
    let rust = match &args.natsd_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("parity has no parent folder")?
            .join("natsd"),
    };
    Ok(Binaries {
        rust,
        go: args.go_bin.clone(),
    })
}

fn require_binary(path: &Path, hint: &str) -> Result<()> {
    if !path.is_file() {
        bail!("{} not found: {hint}", path.display());
    }
    Ok(())
}

fn server_version(bin: &Path) -> String {
    std::process::Command::new(bin)
        .arg("--version")
        .output()
        .ok()
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if text.is_empty() {
                format!("unknown (exit {:?})", o.status.code())
            } else {
                text
            }
        })
        .unwrap_or_else(|| "unknown".into())
}

fn git_revision(root: &Path) -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(rev) => {
            // What parity writes itself does not make the code dirty.
            let dirty = git(&[
                "status",
                "--porcelain",
                "--",
                ".",
                ":(exclude)reports",
                ":(exclude)gaps",
            ])
            .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{rev}-dirty")
            } else {
                rev
            }
        }
        None => "unknown".into(),
    }
}

fn now_utc() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Runs the selection on the targets and stores every result.
/// The fingerprint of the scenario sources this parity was built from.
pub const HARNESS: &str = env!("PARITY_SCENARIO_SOURCE");

/// Runs the selection on the targets and stores every result. A pass of a
/// (scenario, target) in `failed_before` is stored as flaky: the same check
/// failed on the first attempt.
fn execute(
    ws: &Workspace,
    db: &Db,
    chosen: &[&Scenario],
    targets: &[Target],
    args: &SelectArgs,
    failed_before: &HashSet<(&str, Target)>,
) -> Result<(Vec<RunInfo>, Vec<ScenarioRun>)> {
    let bins = binaries(args)?;
    for t in targets {
        let hint = match t {
            Target::Rust => "build it with `cargo build --release -p natsd` or pass --natsd-bin",
            Target::Go => "run scripts/setup.sh or pass --go-bin",
        };
        require_binary(bins.of(*t), hint)?;
    }
    let rev = git_revision(&ws.root);
    let started = now_utc();
    let run_ids: Vec<(Target, i64)> = targets
        .iter()
        .map(|t| {
            let id = db.begin_run(
                t.as_str(),
                &server_version(bins.of(*t)),
                &rev,
                HARNESS,
                &started,
            )?;
            Ok((*t, id))
        })
        .collect::<Result<_>>()?;
    eprintln!(
        "running {} scenarios on {} with {} jobs",
        chosen.len(),
        targets
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(" and "),
        args.jobs
    );
    let runtime = tokio::runtime::Runtime::new()?;
    let mut runs = runtime.block_on(runner::run_all(chosen, targets, &bins, args.jobs));
    for r in runs.iter_mut() {
        r.result.flaky = r.result.outcome == crate::status::Outcome::Pass
            && failed_before.contains(&(r.scenario_id, r.target));
    }
    for r in &runs {
        let run_id = run_ids
            .iter()
            .find(|(t, _)| *t == r.target)
            .map(|(_, id)| *id)
            .expect("a run per target");
        db.insert_result(run_id, r.scenario_id, &r.result, r.duration_ms)?;
    }
    let infos = run_ids
        .iter()
        .map(|(_, id)| db.run(*id))
        .collect::<Result<_>>()?;
    Ok((infos, runs))
}

#[derive(Tabled)]
struct SummaryRow {
    target: &'static str,
    scenarios: usize,
    pass: usize,
    fail: usize,
    timeout: usize,
}

fn print_summary(targets: &[Target], runs: &[ScenarioRun]) {
    use crate::status::Outcome;
    let rows: Vec<SummaryRow> = targets
        .iter()
        .map(|t| {
            let of = |o: Option<Outcome>| {
                runs.iter()
                    .filter(|r| r.target == *t && o.is_none_or(|o| r.result.outcome == o))
                    .count()
            };
            SummaryRow {
                target: t.as_str(),
                scenarios: of(None),
                pass: of(Some(Outcome::Pass)),
                fail: of(Some(Outcome::Fail)),
                timeout: of(Some(Outcome::Timeout)),
            }
        })
        .collect();
    println!("{}", Table::new(rows));
}

fn print_status_counts(rows: &[GapRow]) {
    let counts: Vec<String> = Status::ALL
        .iter()
        .map(|st| {
            let n = rows.iter().filter(|r| r.verdict.status == *st).count();
            format!("{st} {n}")
        })
        .collect();
    println!("Go tests: {} ({})", rows.len(), counts.join(", "));
}

fn run(ws: &Workspace, args: RunArgs) -> Result<ExitCode> {
    let go_installed = args.select.go_bin.is_file();
    let targets = match args.target {
        Some(TargetArg::Rust) => vec![Target::Rust],
        Some(TargetArg::Go) => vec![Target::Go],
        Some(TargetArg::Both) => vec![Target::Go, Target::Rust],
        None if go_installed => vec![Target::Go, Target::Rust],
        None => {
            eprintln!(
                "parity: the Go reference is not installed ({}); running natsd only",
                args.select.go_bin.display()
            );
            vec![Target::Rust]
        }
    };
    if args.check && !targets.contains(&Target::Go) {
        bail!("--check needs the Go reference: scenarios count only if they pass on Go");
    }
    let baseline = ws.baseline()?;
    let (mut db, evidence_problems) = ws.open_db()?;
    let go_src = Path::new(DEFAULT_GO_SRC);
    if go_src.is_dir() {
        db.set_source_lines(&sources::count_lines(go_src, &ws.path("server"))?)?;
    }
    let all = scenarios::all();
    let (chosen, skipped) = runnable(select(&all, &args.select)?);
    if args.check && !skipped.is_empty() {
        print_skipped(&skipped);
        bail!("--check runs every scenario it vouches for; install what the skipped ones need");
    }
    if chosen.is_empty() {
        print_skipped(&skipped);
        bail!("every selected scenario was skipped");
    }
    let (infos, runs) = execute(ws, &db, &chosen, &targets, &args.select, &HashSet::new())?;

    print_summary(&targets, &runs);
    print_skipped(&skipped);
    let rows = write_reports(ws, &db, &infos, &runs, &targets, &evidence_problems)?;
    print_status_counts(&rows);
    println!("gaps/ and reports/ regenerated");

    if !args.check {
        return Ok(ExitCode::SUCCESS);
    }
    let ran: HashSet<&str> = chosen.iter().map(|s| s.id).collect();
    let whole_run = args.select.category.is_none() && args.select.filter.is_none();
    let in_scope =
        |row: &GapRow| whole_run || row.scenarios.iter().any(|s| ran.contains(s.as_str()));
    let both_targets = targets.len() == 2;
    let beyond_go: HashSet<&str> = all
        .iter()
        .filter(|s| s.beyond_go.is_some())
        .map(|s| s.id)
        .collect();
    let first = check::findings(&check::Inputs {
        runs: &runs,
        rows: &rows,
        baseline: &baseline,
        evidence: &evidence_problems,
        in_scope: &in_scope,
        both_targets,
        beyond_go: &beyond_go,
    });
    if first.is_clean() {
        println!(
            "parity run --check: no broken scenario, no regression, every full claim evidenced"
        );
        return Ok(ExitCode::SUCCESS);
    }
    // One re-run of the suspects tells a flaky scenario from a steady
    // failure. Either fails the check: a pass after a failure is stored as
    // flaky, and a FLAKY row is never PORTED.
    let suspects: Vec<&Scenario> = all
        .iter()
        .filter(|s| first.suspects.contains(s.id))
        .collect();
    let second = if suspects.is_empty() {
        first
    } else {
        eprintln!(
            "re-running {} suspect scenario(s) once: {}",
            suspects.len(),
            suspects.iter().map(|s| s.id).collect::<Vec<_>>().join(", ")
        );
        let failed: HashSet<(&str, Target)> = runs
            .iter()
            .filter(|r| r.result.outcome != crate::status::Outcome::Pass)
            .map(|r| (r.scenario_id, r.target))
            .collect();
        let (_, reruns) = execute(ws, &db, &suspects, &targets, &args.select, &failed)?;
        for r in reruns.iter().filter(|r| r.result.flaky) {
            eprintln!(
                "flaky: {} failed on {} and passed on re-run",
                r.scenario_id,
                r.target.as_str()
            );
        }
        let mut all_runs = runs.clone();
        all_runs.retain(|r| !suspects.iter().any(|s| s.id == r.scenario_id));
        all_runs.extend(reruns);
        let rows = write_reports(ws, &db, &infos, &all_runs, &targets, &evidence_problems)?;
        print_status_counts(&rows);
        check::findings(&check::Inputs {
            runs: &all_runs,
            rows: &rows,
            baseline: &baseline,
            evidence: &evidence_problems,
            in_scope: &in_scope,
            both_targets,
            beyond_go: &beyond_go,
        })
    };
    if second.is_clean() {
        println!("parity run --check: clean after re-running suspects");
        return Ok(ExitCode::SUCCESS);
    }
    for line in &second.problems {
        eprintln!("{line}");
    }
    eprintln!("parity run --check: FAILED");
    Ok(ExitCode::FAILURE)
}

/// Writes reports/last-run.md, reports/diff.md (both targets) and gaps/.
fn write_reports(
    ws: &Workspace,
    db: &Db,
    infos: &[RunInfo],
    runs: &[ScenarioRun],
    targets: &[Target],
    evidence_problems: &[evidence::Problem],
) -> Result<Vec<GapRow>> {
    let categories: BTreeMap<String, String> = db.scenarios()?.into_iter().collect();
    std::fs::create_dir_all(ws.path("reports"))?;
    let rows = write_gaps(ws, db)?;
    let backing_ported: HashSet<&str> = rows
        .iter()
        .filter(|r| r.verdict.status == Status::Ported)
        .flat_map(|r| r.scenarios.iter().map(String::as_str))
        .collect();
    let all = scenarios::all();
    let weak: Vec<(String, String, bool)> = weak::scenarios(&all, runs, &|rel| {
        std::fs::read_to_string(ws.root.join(rel)).ok()
    })
    .into_iter()
    .map(|(id, why)| {
        let ported = backing_ported.contains(id.as_str());
        (id, why, ported)
    })
    .collect();
    let findings = reports::Findings {
        evidence: evidence_problems,
        weak: &weak,
    };
    std::fs::write(
        ws.path("reports/last-run.md"),
        reports::render_last_run(infos, runs, &categories, &findings),
    )?;
    if targets.len() == 2 {
        std::fs::write(ws.path("reports/diff.md"), reports::render_diff(runs))?;
    }
    Ok(rows)
}

fn diff(ws: &Workspace, select_args: SelectArgs) -> Result<ExitCode> {
    let (db, _) = ws.open_db()?;
    let all = scenarios::all();
    let (chosen, skipped) = runnable(select(&all, &select_args)?);
    let targets = [Target::Go, Target::Rust];
    let (_, runs) = execute(ws, &db, &chosen, &targets, &select_args, &HashSet::new())?;
    print_summary(&targets, &runs);
    print_skipped(&skipped);
    std::fs::create_dir_all(ws.path("reports"))?;
    std::fs::write(ws.path("reports/diff.md"), reports::render_diff(&runs))?;
    println!("reports/diff.md written");
    Ok(ExitCode::SUCCESS)
}

#[derive(Tabled)]
struct ListRow {
    test: String,
    location: String,
    category: String,
    status: String,
    scenarios: String,
}

fn list(
    ws: &Workspace,
    status: Option<String>,
    category: Option<String>,
    deferred_on: Option<String>,
) -> Result<ExitCode> {
    let wanted = status
        .as_deref()
        .map(|s| Status::parse(&s.to_uppercase()).with_context(|| format!("unknown status {s}")))
        .transpose()?;
    if let Some(cap) = &deferred_on {
        if !classifications::CAPABILITIES.contains(&cap.as_str()) {
            bail!(
                "unknown capability {cap}: one of {}",
                classifications::CAPABILITIES.join(", ")
            );
        }
    }
    let (db, _) = ws.open_db()?;
    let waiting = match &deferred_on {
        Some(cap) => Some(db.deferred_on(cap)?),
        None => None,
    };
    let rows: Vec<ListRow> = ws
        .compute_gaps(&db)?
        .into_iter()
        .filter(|r| {
            waiting
                .as_ref()
                .is_none_or(|w| w.contains(&(r.test.file.clone(), r.test.name.clone())))
        })
        .filter(|r| wanted.is_none_or(|w| r.verdict.status == w))
        .filter(|r| category.as_deref().is_none_or(|c| r.test.category == c))
        .map(|r| ListRow {
            location: r.test.location(),
            test: r.test.name,
            category: r.test.category,
            status: r.verdict.status.to_string(),
            scenarios: r.scenarios.join(", "),
        })
        .collect();
    let n = rows.len();
    println!("{}", Table::new(rows));
    println!("{n} Go tests");
    Ok(ExitCode::SUCCESS)
}

fn show(ws: &Workspace, name: &str) -> Result<ExitCode> {
    let (db, _) = ws.open_db()?;
    let latest = db.latest_results()?;
    let evidence = evidence::load(&ws.path(evidence::DIR))?;
    let rows: Vec<GapRow> = ws
        .compute_gaps(&db)?
        .into_iter()
        .filter(|r| r.test.name == name)
        .collect();
    if rows.is_empty() {
        bail!("no Go test named {name}");
    }
    for r in rows {
        println!(
            "{} ({}, {})\nstatus: {}{}",
            r.test.name,
            r.test.location(),
            r.test.category,
            r.verdict.status,
            if r.verdict.note.is_empty() {
                String::new()
            } else {
                format!(" — {}", r.verdict.note)
            }
        );
        for s in &r.scenarios {
            println!("  scenario {s}");
            for target in ["go", "rust"] {
                match latest.get(&(s.clone(), target.to_string())) {
                    Some(res) => println!(
                        "    {target}: {} in {} ms {}",
                        res.result.outcome.as_str(),
                        res.duration_ms,
                        res.result.message.lines().next().unwrap_or("")
                    ),
                    None => println!("    {target}: not run"),
                }
            }
            let backed = evidence.iter().find(|e| {
                e.scenario == *s
                    && (e.test == r.test.name
                        || e.test == format!("{}:{}", r.test.file, r.test.name))
            });
            if let Some(e) = backed {
                println!("    evidence ({}):", e.source.display());
                for c in &e.checks {
                    let what = if c.by.is_empty() {
                        format!("not observable from outside: {}", c.unobservable)
                    } else {
                        format!("covered by `{}`", c.by)
                    };
                    println!("      {}:{} {what}", r.test.file, c.go);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn mutants_cmd(ws: &Workspace, args: MutantsArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let started_at = now_utc();
    let (db, _) = ws.open_db()?;
    let ported: HashSet<String> = ws
        .compute_gaps(&db)?
        .into_iter()
        .filter(|r| r.verdict.status == Status::Ported)
        .flat_map(|r| r.scenarios)
        .collect();
    let all = scenarios::all();
    let chosen: Vec<&Scenario> = all.iter().filter(|s| ported.contains(s.id)).collect();
    if chosen.is_empty() {
        bail!("no PORTED row: run `parity run` first");
    }
    let listed = mutants::list(&ws.root)?;
    let count = listed.len();
    let sample = mutants::sample(listed, args.sample, args.seed);
    eprintln!(
        "{} of {count} mutants against {} scenarios",
        sample.len(),
        chosen.len()
    );
    let results = mutants::run(&ws.root, &sample, &chosen, args.jobs)?;
    let header = format!(
        "Run at {started_at} on {} cores, natsd at git revision {}, seed {}; took {}.",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        git_revision(&ws.root),
        args.seed,
        humantime::format_duration(std::time::Duration::from_secs(started.elapsed().as_secs()))
    );
    std::fs::create_dir_all(ws.path("reports"))?;
    std::fs::write(
        ws.path("reports/mutants.md"),
        mutants::render(&results, &header, count, chosen.len()),
    )?;
    println!("reports/mutants.md written");
    Ok(ExitCode::SUCCESS)
}

/// Builds natsd in release mode and returns its path.
fn build_release_natsd(ws: &Workspace) -> Result<PathBuf> {
    eprintln!("building natsd (cargo build --release -p natsd)");
    let status = std::process::Command::new("cargo")
        .args(["build", "--release", "-p", "natsd"])
        .current_dir(&ws.root)
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("cargo build --release -p natsd failed");
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| ws.path("target"));
    Ok(target_dir.join("release/natsd"))
}

fn bench(ws: &Workspace, args: BenchArgs) -> Result<ExitCode> {
    use crate::bench;
    let re = args.rows.as_deref().map(Regex::new).transpose()?;
    let rows: Vec<&bench::Row> = bench::ROWS
        .iter()
        .filter(|r| re.as_ref().is_none_or(|re| re.is_match(r.id)))
        .collect();
    if rows.is_empty() {
        bail!("no benchmark row matches");
    }
    let natsd = match args.natsd_bin {
        Some(p) => p,
        None => build_release_natsd(ws)?,
    };
    require_binary(&natsd, "build it with `cargo build --release -p natsd`")?;
    require_binary(&args.go_bin, "run scripts/setup.sh or pass --go-bin")?;
    let bins = Binaries {
        rust: natsd,
        go: args.go_bin,
    };
    let header = format!(
        "Run at {} on {} cores; natsd at git revision {}; Go reference: {}.",
        now_utc(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        git_revision(&ws.root),
        server_version(&bins.go)
    );
    let results = bench::run(&rows, args.runs.max(1), &bins)?;
    let lines = bench::report::summarize(&results);
    std::fs::create_dir_all(ws.path("reports"))?;
    std::fs::write(
        ws.path("reports/bench.md"),
        bench::report::render_markdown(&lines, args.runs, &header),
    )?;
    std::fs::write(
        ws.path("reports/bench.json"),
        serde_json::to_string_pretty(&serde_json::json!({
            "generated_by": "parity bench",
            "header": header,
            "runs": args.runs,
            "rows": lines,
        }))?,
    )?;
    bench::report::render_svg(&lines, &ws.path("reports/bench.svg"))?;
    println!("reports/bench.md, bench.json and bench.svg written");
    Ok(ExitCode::SUCCESS)
}

fn fuzz_diff(ws: &Workspace, args: FuzzDiffArgs) -> Result<ExitCode> {
    let bins = binaries(&SelectArgs {
        category: None,
        filter: None,
        jobs: args.jobs,
        go_bin: args.go_bin,
        natsd_bin: args.natsd_bin,
    })?;
    require_binary(
        &bins.rust,
        "build it with `cargo build --release -p natsd` or pass --natsd-bin",
    )?;
    require_binary(&bins.go, "run scripts/setup.sh or pass --go-bin")?;
    let opts = fuzzdiff::Options {
        seed: args.seed,
        cases: args.cases,
        configs: args.configs,
        jobs: args.jobs,
        natsd_version: server_version(&bins.rust),
        go_version: server_version(&bins.go),
        bins,
        explained: ws.path(fuzzdiff::EXPLAINED),
        out: args.out.unwrap_or_else(|| ws.path("reports/fuzz-diff.md")),
    };
    Ok(if fuzzdiff::run(&opts)? {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn crash(ws: &Workspace, args: CrashArgs) -> Result<ExitCode> {
    let bins = binaries(&SelectArgs {
        category: None,
        filter: None,
        jobs: 1,
        go_bin: args.go_bin,
        natsd_bin: args.natsd_bin,
    })?;
    let targets = match args.target {
        Some(TargetArg::Rust) => vec![Target::Rust],
        Some(TargetArg::Go) => vec![Target::Go],
        Some(TargetArg::Both) => vec![Target::Rust, Target::Go],
        None if bins.go.is_file() => vec![Target::Rust, Target::Go],
        None => vec![Target::Rust],
    };
    for t in &targets {
        require_binary(
            bins.of(*t),
            "build natsd or run scripts/setup.sh; or pass the binary",
        )?;
    }
    let header = crate::crash::report::Header {
        command: format!("parity crash --cycles {} --seed {}", args.cycles, args.seed),
        when: now_utc(),
        seed: args.seed,
        cycles: args.cycles,
        natsd: format!("git revision {}", git_revision(&ws.root)),
        go: server_version(&bins.go),
    };
    let runs = crate::crash::run(&crate::crash::Options {
        seed: args.seed,
        cycles: args.cycles,
        targets,
        bins,
    })?;
    let out = args
        .out
        .unwrap_or_else(|| crate::crash::default_report(&ws.root));
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, crate::crash::report::render(&header, &runs))?;
    println!("{} written", out.display());
    for r in &runs {
        let verdict = match (r.clean(), r.safe()) {
            (true, _) => "clean",
            (false, true) => {
                "nothing acknowledged lost or corrupt; other problems (see the report)"
            }
            (false, false) => "LOST OR CORRUPT DATA, or the run stopped (see the report)",
        };
        println!(
            "{}: {} cycles, {verdict}",
            r.target.as_str(),
            r.cycles.len()
        );
    }
    let natsd_clean = runs
        .iter()
        .filter(|r| r.target == Target::Rust)
        .all(crate::crash::TargetRun::safe);
    Ok(if natsd_clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
