//! The `parity` command line.

use crate::classifications;
use crate::db::{Db, RunInfo};
use crate::gaps::{self, GapRow};
use crate::gotests::{self, DEFAULT_GO_SRC};
use crate::kit::{Binaries, Target};
use crate::registry::{self, Scenario};
use crate::reports;
use crate::runner::{self, ScenarioRun};
use crate::scenarios;
use crate::sources;
use crate::status::Status;
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use regex::Regex;
use std::collections::{BTreeMap, HashSet};
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
    },
    /// Shows one Go test: where it is, its status, its scenarios and their results.
    Show { name: String },
    /// Benchmarks natsd (release build) against the Go server, side by side;
    /// writes reports/bench.md, bench.json and bench.svg.
    Bench(BenchArgs),
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
            let db = ws.open_db()?;
            write_gaps(&ws, &db)?;
            println!("gaps/ regenerated");
            Ok(ExitCode::SUCCESS)
        }
        Command::List { status, category } => list(&ws, status, category),
        Command::Show { name } => show(&ws, &name),
        Command::Bench(args) => bench(&ws, args),
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

    /// Opens the database and loads the committed sources and the registry into it.
    fn open_db(&self) -> Result<Db> {
        let mut db = Db::open(&self.path("parity-db/parity.sqlite"))?;
        let tests = gotests::read_csv(&self.path("parity-db/go-tests.csv"))?;
        let classes = classifications::read_csv(&self.path("parity-db/classifications.csv"))?;
        db.load_sources(&tests, &classes)?;
        let all = scenarios::all();
        let mappings = registry::resolve(&all, &tests)?;
        db.sync_registry(&all, &mappings)?;
        Ok(db)
    }
}

fn import_go(ws: &Workspace, src: &Path) -> Result<ExitCode> {
    let tests = gotests::scan(src)?;
    let files: HashSet<&str> = tests.iter().map(|t| t.file.as_str()).collect();
    gotests::write_csv(&tests, &ws.path("parity-db/go-tests.csv"))?;
    println!(
        "parity-db/go-tests.csv: {} Go tests in {} files",
        tests.len(),
        files.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn write_gaps(ws: &Workspace, db: &Db) -> Result<Vec<GapRow>> {
    let rows = gaps::compute(db)?;
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
            let dirty = git(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
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
fn execute(
    ws: &Workspace,
    db: &Db,
    chosen: &[&Scenario],
    targets: &[Target],
    args: &SelectArgs,
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
            let id = db.begin_run(t.as_str(), &server_version(bins.of(*t)), &rev, &started)?;
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
    let runs = runtime.block_on(runner::run_all(chosen, targets, &bins, args.jobs));
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
    let committed_ported = gaps::read_ported(&ws.path("gaps"))?;
    let mut db = ws.open_db()?;
    let go_src = Path::new(DEFAULT_GO_SRC);
    if go_src.is_dir() {
        db.set_source_lines(&sources::count_lines(go_src, &ws.path("server"))?)?;
    }
    let all = scenarios::all();
    let chosen = select(&all, &args.select)?;
    let (infos, runs) = execute(ws, &db, &chosen, &targets, &args.select)?;

    print_summary(&targets, &runs);
    let categories: BTreeMap<String, String> = db.scenarios()?.into_iter().collect();
    std::fs::create_dir_all(ws.path("reports"))?;
    std::fs::write(
        ws.path("reports/last-run.md"),
        reports::render_last_run(&infos, &runs, &categories),
    )?;
    if targets.len() == 2 {
        std::fs::write(ws.path("reports/diff.md"), reports::render_diff(&runs))?;
    }
    let rows = write_gaps(ws, &db)?;
    print_status_counts(&rows);
    println!("gaps/ and reports/ regenerated");

    if !args.check {
        return Ok(ExitCode::SUCCESS);
    }
    let ran: HashSet<&str> = chosen.iter().map(|s| s.id).collect();
    let whole_run = args.select.category.is_none() && args.select.filter.is_none();
    let in_scope =
        |row: &GapRow| whole_run || row.scenarios.iter().any(|s| ran.contains(s.as_str()));
    let first = findings(&runs, &rows, &committed_ported, &in_scope);
    if first.is_clean() {
        println!("parity run --check: no broken scenario, no regression");
        return Ok(ExitCode::SUCCESS);
    }
    // One re-run of the suspects tells a flaky scenario from a real failure:
    // a real one fails again; a flaky one is named, and the run stays green.
    let suspects: Vec<&Scenario> = all
        .iter()
        .filter(|s| first.suspects.contains(s.id))
        .collect();
    eprintln!(
        "re-running {} suspect scenario(s) once: {}",
        suspects.len(),
        suspects.iter().map(|s| s.id).collect::<Vec<_>>().join(", ")
    );
    let (_, reruns) = execute(ws, &db, &suspects, &targets, &args.select)?;
    let rows = write_gaps(ws, &db)?;
    let second = findings(&reruns, &rows, &committed_ported, &in_scope);
    for id in first.suspects.difference(&second.suspects) {
        eprintln!("flaky: {id} failed the check once and passed it on re-run");
    }
    if second.is_clean() {
        println!(
            "parity run --check: no broken scenario, no regression (after re-running suspects)"
        );
        return Ok(ExitCode::SUCCESS);
    }
    for line in &second.problems {
        eprintln!("{line}");
    }
    eprintln!("parity run --check: FAILED");
    Ok(ExitCode::FAILURE)
}

/// What `--check` objects to in a run: scenarios that did not pass on Go,
/// and Go tests PORTED in the committed gaps that no longer are.
struct Findings {
    problems: Vec<String>,
    /// The scenarios behind the problems.
    suspects: HashSet<String>,
}

impl Findings {
    fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

fn findings(
    runs: &[ScenarioRun],
    rows: &[GapRow],
    committed_ported: &HashSet<(String, String)>,
    in_scope: &dyn Fn(&GapRow) -> bool,
) -> Findings {
    let mut f = Findings {
        problems: Vec::new(),
        suspects: HashSet::new(),
    };
    for r in reports::broken(runs) {
        f.problems.push(format!(
            "broken scenario {}: {}",
            r.scenario_id, r.result.message
        ));
        f.suspects.insert(r.scenario_id.to_string());
    }
    for row in rows {
        let key = (row.test.file.clone(), row.test.name.clone());
        if in_scope(row) && committed_ported.contains(&key) && row.verdict.status != Status::Ported
        {
            f.problems.push(format!(
                "regression: {} ({}) was PORTED, now {}: {}",
                row.test.name,
                row.test.location(),
                row.verdict.status,
                row.verdict.note
            ));
            f.suspects.extend(row.scenarios.iter().cloned());
        }
    }
    f
}

fn diff(ws: &Workspace, select_args: SelectArgs) -> Result<ExitCode> {
    let db = ws.open_db()?;
    let all = scenarios::all();
    let chosen = select(&all, &select_args)?;
    let targets = [Target::Go, Target::Rust];
    let (_, runs) = execute(ws, &db, &chosen, &targets, &select_args)?;
    print_summary(&targets, &runs);
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

fn list(ws: &Workspace, status: Option<String>, category: Option<String>) -> Result<ExitCode> {
    let wanted = status
        .as_deref()
        .map(|s| Status::parse(&s.to_uppercase()).with_context(|| format!("unknown status {s}")))
        .transpose()?;
    let db = ws.open_db()?;
    let rows: Vec<ListRow> = gaps::compute(&db)?
        .into_iter()
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
    let db = ws.open_db()?;
    let latest = db.latest_results()?;
    let rows: Vec<GapRow> = gaps::compute(&db)?
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
        }
    }
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
