//! Runs scenarios against targets, concurrently, each within its timeout,
//! each on its own task so that a panic fails one scenario and nothing else.

use crate::kit::{Binaries, Ctx, Target};
use crate::registry::Scenario;
use crate::status::{Outcome, TargetResult};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Instant;

/// What one scenario did on one target.
#[derive(Debug, Clone)]
pub struct ScenarioRun {
    pub scenario_id: &'static str,
    pub target: Target,
    pub result: TargetResult,
    pub duration_ms: u64,
}

/// Runs every scenario on every target with at most `jobs` at once. The
/// results come back sorted by scenario id, then target.
pub async fn run_all(
    scenarios: &[&Scenario],
    targets: &[Target],
    bins: &Binaries,
    jobs: usize,
) -> Vec<ScenarioRun> {
    let work: Vec<(&Scenario, Target)> = scenarios
        .iter()
        .flat_map(|s| targets.iter().map(move |t| (*s, *t)))
        .collect();
    let bar = ProgressBar::new(work.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed} {msg}")
            .expect("valid template"),
    );
    let mut runs: Vec<ScenarioRun> = futures::stream::iter(work)
        .map(|(s, t)| {
            let bar = bar.clone();
            async move {
                let run = run_one(s, t, bins).await;
                bar.set_message(format!("{} on {}", run.scenario_id, t.as_str()));
                bar.inc(1);
                run
            }
        })
        .buffer_unordered(jobs.max(1))
        .collect()
        .await;
    bar.finish_and_clear();
    runs.sort_by(|a, b| (a.scenario_id, a.target).cmp(&(b.scenario_id, b.target)));
    runs
}

/// Runs the scenarios on one target, at most `jobs` at once, and stops at
/// the first that does not pass (the others in flight are dropped, which
/// stops their servers). `None` when every one passed.
pub async fn first_failure(
    scenarios: &[&Scenario],
    target: Target,
    bins: &Binaries,
    jobs: usize,
) -> Option<ScenarioRun> {
    let mut runs = futures::stream::iter(scenarios.iter().map(|s| run_one(s, target, bins)))
        .buffer_unordered(jobs.max(1));
    while let Some(run) = runs.next().await {
        if run.result.outcome != crate::status::Outcome::Pass {
            return Some(run);
        }
    }
    None
}

/// Scenarios share the machine; one that drives a browser takes it alone
/// (Chromium's start loads both cores and made timing checks of others
/// fail), the others run side by side.
static MACHINE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

async fn run_one(scenario: &Scenario, target: Target, bins: &Binaries) -> ScenarioRun {
    let alone = scenario.needs.contains(&crate::registry::Need::Browser);
    let _alone = if alone {
        Some(MACHINE.write().await)
    } else {
        None
    };
    let _shared = if alone {
        None
    } else {
        Some(MACHINE.read().await)
    };
    let started = Instant::now();
    let finish = |outcome, message: String, observations: Vec<(String, String)>| ScenarioRun {
        scenario_id: scenario.id,
        target,
        result: TargetResult {
            outcome,
            message,
            observations: serde_json::to_string(&observations).expect("strings serialize"),
            flaky: false,
        },
        duration_ms: started.elapsed().as_millis() as u64,
    };
    let ctx = match Ctx::new(target, bins) {
        Ok(ctx) => ctx,
        Err(e) => return finish(Outcome::Fail, format!("setting up: {e:#}"), Vec::new()),
    };
    let task = tokio::spawn((scenario.body)(ctx.clone()));
    let abort = task.abort_handle();
    let outcome = tokio::time::timeout(scenario.timeout, task).await;
    let observations = ctx.observations();
    match outcome {
        Ok(Ok(Ok(()))) => finish(Outcome::Pass, String::new(), observations),
        Ok(Ok(Err(e))) => finish(Outcome::Fail, format!("{e:#}"), observations),
        Ok(Err(join)) => finish(Outcome::Fail, format!("panicked: {join}"), observations),
        Err(_) => {
            // Dropping the task's future kills the servers it started.
            abort.abort();
            finish(
                Outcome::Timeout,
                format!("no result within {:?}", scenario.timeout),
                observations,
            )
        }
    }
}
