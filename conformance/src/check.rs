//! What `parity run --check` objects to in a run, against the statuses of
//! the committed gaps/ (DESIGN.md §3, rules 1, 2 and 4):
//!
//! - a broken scenario: one that did not pass on the Go reference;
//! - a full mapping whose evidence is missing, incomplete or stale;
//! - a downgrade: a Go test whose status is lower than committed;
//! - a new FAILING or FLAKY row;
//! - a stale pairing: a row in scope whose Go and natsd results come from
//!   different scenario code, in a run that drove both targets;
//! - a scenario beyond the Go tests that passes on Go and not on natsd
//!   (no row would show it).

use crate::evidence;
use crate::gaps::{Baseline, GapRow, Pairing};
use crate::kit::Target;
use crate::reports;
use crate::runner::ScenarioRun;
use crate::status::{Outcome, Status};
use std::collections::HashSet;

/// The problems of a run, and the scenarios behind them.
#[derive(Debug, Default)]
pub struct Findings {
    pub problems: Vec<String>,
    /// Scenarios worth one re-run: a flaky one passes it.
    pub suspects: HashSet<String>,
}

impl Findings {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What a check looks at.
pub struct Inputs<'a> {
    pub runs: &'a [ScenarioRun],
    pub rows: &'a [GapRow],
    pub baseline: &'a Baseline,
    pub evidence: &'a [evidence::Problem],
    /// Whether the row's Go test is within the run's selection.
    pub in_scope: &'a dyn Fn(&GapRow) -> bool,
    /// The run drove both targets, so every row in scope can be paired.
    pub both_targets: bool,
    /// Ids of the scenarios that cover no Go test (`beyond_go`).
    pub beyond_go: &'a HashSet<&'a str>,
}

pub fn findings(i: &Inputs) -> Findings {
    let mut f = Findings::default();
    for r in reports::broken(i.runs) {
        f.problems.push(format!(
            "broken scenario {}: {}",
            r.scenario_id, r.result.message
        ));
        f.suspects.insert(r.scenario_id.to_string());
    }
    for r in i.runs.iter().filter(|r| {
        r.target == Target::Rust
            && r.result.outcome != Outcome::Pass
            && i.beyond_go.contains(r.scenario_id)
    }) {
        let go_passed = i.runs.iter().any(|g| {
            g.scenario_id == r.scenario_id
                && g.target == Target::Go
                && g.result.outcome == Outcome::Pass
        });
        if go_passed {
            f.problems.push(format!(
                "natsd fails {} (beyond the Go tests): {}",
                r.scenario_id, r.result.message
            ));
            f.suspects.insert(r.scenario_id.to_string());
        }
    }
    for p in i.evidence {
        f.problems.push(format!(
            "evidence: {} ↔ {}: {}",
            p.scenario_id, p.name, p.reason
        ));
    }
    for row in i.rows.iter().filter(|r| (i.in_scope)(r)) {
        let key = (row.test.file.clone(), row.test.name.clone());
        let was = i.baseline.get(&key).copied().unwrap_or(Status::Missing);
        let now = row.verdict.status;
        let what = |kind: &str| {
            format!(
                "{kind}: {} ({}) was {was}, now {now}: {}",
                row.test.name,
                row.test.location(),
                row.verdict.note
            )
        };
        let problem = if let (true, Some(Pairing::Stale(reason))) = (i.both_targets, &row.unpaired)
        {
            Some(format!(
                "stale pairing: {} ({}): {reason}",
                row.test.name,
                row.test.location()
            ))
        } else if was.is_downgrade_to(now) {
            Some(what("downgrade"))
        } else if now == Status::Failing && was != Status::Failing {
            Some(what("new FAILING row"))
        } else if now == Status::Flaky && was != Status::Flaky {
            Some(what("new FLAKY row"))
        } else {
            None
        };
        if let Some(p) = problem {
            f.problems.push(p);
            f.suspects.extend(row.scenarios.iter().cloned());
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::gaps;
    use crate::gotests::GoTest;
    use crate::registry::ResolvedMapping;
    use crate::status::{Coverage, Outcome, TargetResult, Verdict};

    fn test(name: &str) -> GoTest {
        GoTest {
            file: "test/a_test.go".into(),
            line: 1,
            name: name.into(),
            category: "core".into(),
        }
    }

    fn row(name: &str, status: Status) -> GapRow {
        GapRow {
            test: test(name),
            verdict: Verdict {
                status,
                note: String::new(),
            },
            scenarios: vec![format!("core/{name}")],
            evidenced: Vec::new(),
            unpaired: None,
        }
    }

    fn baseline(rows: &[(&str, Status)]) -> Baseline {
        rows.iter()
            .map(|(n, s)| (("test/a_test.go".to_string(), n.to_string()), *s))
            .collect()
    }

    fn check(rows: &[GapRow], base: &Baseline, both: bool) -> Findings {
        findings(&Inputs {
            runs: &[],
            rows,
            baseline: base,
            evidence: &[],
            in_scope: &|_| true,
            both_targets: both,
            beyond_go: &HashSet::new(),
        })
    }

    #[test]
    fn a_downgrade_fails_the_run() {
        let f = check(
            &[row("TestA", Status::Partial)],
            &baseline(&[("TestA", Status::Ported)]),
            true,
        );
        assert!(f.problems[0].starts_with("downgrade: TestA"), "{f:?}");
        assert!(f.suspects.contains("core/TestA"));
    }

    #[test]
    fn a_new_failing_row_fails_the_run_even_from_missing() {
        let f = check(
            &[row("TestA", Status::Failing)],
            &baseline(&[("TestA", Status::Missing)]),
            true,
        );
        assert!(f.problems[0].starts_with("new FAILING row"), "{f:?}");
        let known = check(
            &[row("TestA", Status::Failing)],
            &baseline(&[("TestA", Status::Failing)]),
            true,
        );
        assert!(
            known.is_clean(),
            "an already committed FAILING row is known"
        );
    }

    #[test]
    fn a_flaky_scenario_fails_the_run() {
        let f = check(
            &[row("TestA", Status::Flaky)],
            &baseline(&[("TestA", Status::Missing)]),
            true,
        );
        assert!(f.problems[0].starts_with("new FLAKY row"), "{f:?}");
        let was_ported = check(
            &[row("TestA", Status::Flaky)],
            &baseline(&[("TestA", Status::Ported)]),
            true,
        );
        assert!(was_ported.problems[0].starts_with("downgrade"));
    }

    #[test]
    fn upgrades_and_audits_pass() {
        let rows = [row("TestA", Status::Ported), row("TestB", Status::Deferred)];
        let base = baseline(&[("TestA", Status::Partial), ("TestB", Status::Missing)]);
        assert!(check(&rows, &base, true).is_clean());
    }

    #[test]
    fn evidence_problems_fail_the_run() {
        let problem = evidence::Problem {
            scenario_id: "core/a".into(),
            file: "test/a_test.go".into(),
            name: "TestA".into(),
            reason: "no evidence".into(),
        };
        let f = findings(&Inputs {
            runs: &[],
            rows: &[],
            baseline: &Baseline::new(),
            evidence: &[problem],
            in_scope: &|_| true,
            both_targets: true,
            beyond_go: &HashSet::new(),
        });
        assert_eq!(f.problems, vec!["evidence: core/a ↔ TestA: no evidence"]);
    }

    #[test]
    fn a_scenario_beyond_go_that_natsd_fails_fails_the_run() {
        let run = |target, outcome| ScenarioRun {
            scenario_id: "hostile/x",
            target,
            result: TargetResult {
                outcome,
                ..pass("")
            },
            duration_ms: 1,
        };
        let ids: HashSet<&str> = ["hostile/x"].into();
        let with = |runs: &[ScenarioRun], beyond: &HashSet<&str>| {
            findings(&Inputs {
                runs,
                rows: &[],
                baseline: &Baseline::new(),
                evidence: &[],
                in_scope: &|_| true,
                both_targets: true,
                beyond_go: beyond,
            })
        };
        let natsd_fails = [
            run(Target::Go, Outcome::Pass),
            run(Target::Rust, Outcome::Fail),
        ];
        let f = with(&natsd_fails, &ids);
        assert!(f.problems[0].starts_with("natsd fails hostile/x"), "{f:?}");
        assert!(f.suspects.contains("hostile/x"));
        assert!(
            with(&natsd_fails, &HashSet::new()).is_clean(),
            "a mapped scenario shows in its rows instead"
        );
        let both_pass = [
            run(Target::Go, Outcome::Pass),
            run(Target::Rust, Outcome::Pass),
        ];
        assert!(with(&both_pass, &ids).is_clean());
    }

    fn pass(obs: &str) -> TargetResult {
        TargetResult {
            outcome: Outcome::Pass,
            message: String::new(),
            observations: obs.into(),
            flaky: false,
        }
    }

    /// A database holding TestA, mapped fully to scenario core/a.
    fn db_with_one_mapping() -> Db {
        let mut db = Db::in_memory().unwrap();
        let scenarios = crate::scenarios::all();
        let body = scenarios[0].body;
        db.load(
            &[test("TestA")],
            &[],
            &[crate::registry::Scenario::new("core/a", body).full("TestA")],
            &[ResolvedMapping {
                scenario_id: "core/a".into(),
                file: "test/a_test.go".into(),
                name: "TestA".into(),
                coverage: Coverage::Full,
                refusal: String::new(),
                partial_why: String::new(),
            }],
        )
        .unwrap();
        db
    }

    /// A database where core/a passed on Go with one scenario source and on
    /// natsd with another.
    fn stale_db() -> Db {
        let db = db_with_one_mapping();
        let go = db
            .begin_run("go", "v2.9.10", "r1", "old-source", "t1")
            .unwrap();
        db.insert_result(go, "core/a", &pass("x"), 1).unwrap();
        let rust = db
            .begin_run("rust", "natsd", "r2", "new-source", "t2")
            .unwrap();
        db.insert_result(rust, "core/a", &pass("x"), 1).unwrap();
        db
    }

    #[test]
    fn a_stale_pairing_is_never_derived_and_fails_a_two_target_run() {
        let db = stale_db();
        let base = baseline(&[("TestA", Status::Missing)]);
        let rows = gaps::compute(&db, &base, &Default::default()).unwrap();
        assert_eq!(rows[0].verdict.status, Status::Missing, "not PORTED");
        assert!(matches!(rows[0].unpaired, Some(Pairing::Stale(_))));
        let f = check(&rows, &base, true);
        assert!(f.problems[0].starts_with("stale pairing: TestA"), "{f:?}");
        assert!(
            check(&rows, &base, false).is_clean(),
            "a one-target run keeps the committed status"
        );
    }

    #[test]
    fn a_one_target_run_keeps_the_other_targets_statuses() {
        let db = db_with_one_mapping();
        let go = db.begin_run("go", "v2.9.10", "r1", "h", "t1").unwrap();
        db.insert_result(go, "core/a", &pass("x"), 1).unwrap();
        let base = baseline(&[("TestA", Status::Ported)]);
        let rows = gaps::compute(&db, &base, &Default::default()).unwrap();
        assert_eq!(rows[0].verdict.status, Status::Ported);
        assert!(rows[0].verdict.note.contains("not run on natsd"));
        assert!(check(&rows, &base, false).is_clean());
        let rust = db.begin_run("rust", "natsd", "r1", "h", "t2").unwrap();
        db.insert_result(rust, "core/a", &pass("y"), 1).unwrap();
        let rows = gaps::compute(&db, &base, &Default::default()).unwrap();
        assert_eq!(rows[0].verdict.status, Status::Partial, "paired: derived");
    }
}
