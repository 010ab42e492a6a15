//! The evidence behind `full` mappings (`parity-db/evidence/*.toml`).
//!
//! A scenario may claim to cover a Go test fully only with a list of that
//! test's checks, by line, each paired with the scenario check that covers
//! it (a snippet of the scenario's source, which must be found there) or
//! with the reason it cannot be observed from outside. The list must cover
//! every check line `parity import-go` found in the Go test's body. A full
//! mapping without complete, current evidence is refused: it counts as
//! partial, and `parity run --check` fails.

use crate::gochecks::GoCheck;
use crate::registry::{ResolvedMapping, Scenario};
use crate::status::Coverage;
use anyhow::{Context, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The folder of evidence files, relative to the workspace root.
pub const DIR: &str = "parity-db/evidence";

/// One evidence file: a list of mappings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    mapping: Vec<Entry>,
}

/// The evidence of one full mapping.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub scenario: String,
    /// The Go test, as the registry names it (`file:Name` when ambiguous).
    pub test: String,
    pub checks: Vec<Check>,
    /// The file it was read from, for messages.
    #[serde(skip)]
    pub source: PathBuf,
}

/// One of the Go test's checks and what covers it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// A line (`"120"`) or an inclusive range (`"120-128"`) of the Go file.
    pub go: String,
    /// Code of the scenario that makes the same check; must appear in the
    /// scenario's source file (white space is not significant).
    #[serde(default)]
    pub by: String,
    /// Why the check cannot be observed from outside the server.
    #[serde(default)]
    pub unobservable: String,
}

impl Check {
    fn lines(&self) -> Option<(u32, u32)> {
        let (a, b) = match self.go.split_once('-') {
            Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
            None => {
                let n = self.go.trim().parse().ok()?;
                (n, n)
            }
        };
        (a <= b).then_some((a, b))
    }
}

/// Reads every `*.toml` of the evidence folder (none is fine).
pub fn load(dir: &Path) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let Ok(read) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    let mut paths: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let file: File =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        out.extend(file.mapping.into_iter().map(|mut e| {
            e.source = path.clone();
            e
        }));
    }
    Ok(out)
}

/// Where each entry lives, for links: (scenario, test) → file path
/// relative to `root`.
pub fn files(entries: &[Entry], root: &Path) -> HashMap<(String, String), String> {
    entries
        .iter()
        .map(|e| {
            let rel = e.source.strip_prefix(root).unwrap_or(&e.source);
            (
                (e.scenario.clone(), e.test.clone()),
                rel.to_string_lossy().replace('\\', "/"),
            )
        })
        .collect()
}

/// Collapses white space, so that a snippet survives reformatting.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What is wrong with the evidence of one full mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub scenario_id: String,
    pub file: String,
    pub name: String,
    pub reason: String,
}

/// The inputs a check of the evidence needs.
pub struct Inputs<'a> {
    pub scenarios: &'a [Scenario],
    pub mappings: &'a [ResolvedMapping],
    pub go_checks: &'a HashMap<(String, String), Vec<GoCheck>>,
    pub entries: &'a [Entry],
    /// Reads a scenario source file by its path relative to the workspace.
    pub read_source: &'a dyn Fn(&str) -> Option<String>,
}

/// Checks every full mapping against its evidence, and every evidence entry
/// against a full mapping. Returns the problems; an empty list means every
/// full claim is backed.
pub fn validate(inputs: &Inputs) -> Vec<Problem> {
    let mut problems = Vec::new();
    let by_id: HashMap<&str, &Scenario> = inputs.scenarios.iter().map(|s| (s.id, s)).collect();
    let mut entries: HashMap<(&str, &str), &Entry> = HashMap::new();
    let full: Vec<&ResolvedMapping> = inputs
        .mappings
        .iter()
        .filter(|m| m.coverage == Coverage::Full)
        .collect();
    for e in inputs.entries {
        let mapped = full.iter().any(|m| {
            m.scenario_id == e.scenario
                && (m.name == e.test || format!("{}:{}", m.file, m.name) == e.test)
        });
        if !mapped {
            problems.push(Problem {
                scenario_id: e.scenario.clone(),
                file: String::new(),
                name: e.test.clone(),
                reason: format!(
                    "{}: evidence for {} ↔ {}, which is not a full mapping",
                    e.source.display(),
                    e.scenario,
                    e.test
                ),
            });
        }
        if entries.insert((&e.scenario, &e.test), e).is_some() {
            problems.push(Problem {
                scenario_id: e.scenario.clone(),
                file: String::new(),
                name: e.test.clone(),
                reason: format!("{}: evidence given twice", e.source.display()),
            });
        }
    }
    let mut sources: HashMap<&str, Option<String>> = HashMap::new();
    for m in full {
        let qualified = format!("{}:{}", m.file, m.name);
        let entry = entries
            .get(&(m.scenario_id.as_str(), m.name.as_str()))
            .or_else(|| entries.get(&(m.scenario_id.as_str(), qualified.as_str())));
        let mut fail = |reason: String| {
            problems.push(Problem {
                scenario_id: m.scenario_id.clone(),
                file: m.file.clone(),
                name: m.name.clone(),
                reason,
            })
        };
        let Some(entry) = entry else {
            fail("no evidence: list the Go test's checks in parity-db/evidence/".into());
            continue;
        };
        let Some(scenario) = by_id.get(m.scenario_id.as_str()) else {
            continue;
        };
        let source = sources
            .entry(scenario.source_file)
            .or_insert_with(|| (inputs.read_source)(scenario.source_file).map(|s| squash(&s)));
        if entry.checks.is_empty() {
            fail("the evidence lists no check".into());
        }
        let mut ranges = Vec::new();
        for c in &entry.checks {
            let Some(range) = c.lines() else {
                fail(format!("go = {:?} is not a line or a range", c.go));
                continue;
            };
            ranges.push(range);
            match (c.by.trim().is_empty(), c.unobservable.trim().is_empty()) {
                (true, true) => fail(format!(
                    "line {}: needs `by` (the scenario's check) or `unobservable` (why not)",
                    c.go
                )),
                (false, false) => fail(format!(
                    "line {}: give `by` or `unobservable`, not both",
                    c.go
                )),
                (false, true) => {
                    let found = source
                        .as_deref()
                        .is_some_and(|s| s.contains(&squash(&c.by)));
                    if !found {
                        fail(format!(
                            "line {}: `{}` is not in {}",
                            c.go, c.by, scenario.source_file
                        ));
                    }
                }
                (true, false) => {}
            }
        }
        let checks = inputs
            .go_checks
            .get(&(m.file.clone(), m.name.clone()))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let uncovered: Vec<String> = checks
            .iter()
            .filter(|c| !ranges.iter().any(|(a, b)| (*a..=*b).contains(&c.line)))
            .map(|c| c.line.to_string())
            .collect();
        if !uncovered.is_empty() {
            fail(format!(
                "incomplete: check line(s) {} of {} not listed",
                uncovered.join(", "),
                m.file
            ));
        }
    }
    problems
}

/// A TOML skeleton of the evidence for full mappings that have none yet:
/// every check line of the Go test, with its code, to fill in.
pub fn draft(
    mappings: &[&ResolvedMapping],
    go_checks: &HashMap<(String, String), Vec<GoCheck>>,
    test_lines: &BTreeMap<(String, String), u32>,
) -> String {
    let mut out = String::new();
    for m in mappings {
        let key = (m.file.clone(), m.name.clone());
        let _ = writeln!(out, "[[mapping]]");
        let _ = writeln!(out, "scenario = {:?}", m.scenario_id);
        let _ = writeln!(out, "test = {:?}", m.name);
        if let Some(line) = test_lines.get(&key) {
            let _ = writeln!(out, "# {}:{}", m.file, line);
        }
        let _ = writeln!(out, "checks = [");
        for c in go_checks.get(&key).map(Vec::as_slice).unwrap_or_default() {
            let _ = writeln!(out, "  # {}", c.code);
            let _ = writeln!(out, "  {{ go = \"{}\", by = '' }},", c.line);
        }
        let _ = writeln!(out, "]\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::future::BoxFuture;
    use futures::FutureExt;

    fn body(_: crate::kit::Ctx) -> BoxFuture<'static, anyhow::Result<()>> {
        async { Ok(()) }.boxed()
    }

    fn check(go: &str, by: &str, unobservable: &str) -> Check {
        Check {
            go: go.into(),
            by: by.into(),
            unobservable: unobservable.into(),
        }
    }

    fn go_check(line: u32) -> GoCheck {
        GoCheck {
            file: "test/a_test.go".into(),
            name: "TestA".into(),
            line,
            code: "t.Fatal()".into(),
        }
    }

    struct Fixture {
        scenarios: Vec<Scenario>,
        mappings: Vec<ResolvedMapping>,
        go_checks: HashMap<(String, String), Vec<GoCheck>>,
    }

    fn fixture() -> Fixture {
        let scenarios = vec![Scenario::new("core/a", body).full("TestA")];
        let mappings = vec![ResolvedMapping {
            scenario_id: "core/a".into(),
            file: "test/a_test.go".into(),
            name: "TestA".into(),
            coverage: Coverage::Full,
            refusal: String::new(),
            partial_why: String::new(),
        }];
        let mut go_checks = HashMap::new();
        go_checks.insert(
            ("test/a_test.go".into(), "TestA".into()),
            vec![go_check(10), go_check(12), go_check(20)],
        );
        Fixture {
            scenarios,
            mappings,
            go_checks,
        }
    }

    fn problems(f: &Fixture, checks: Option<Vec<Check>>) -> Vec<String> {
        let entries: Vec<Entry> = checks
            .into_iter()
            .map(|checks| Entry {
                scenario: "core/a".into(),
                test: "TestA".into(),
                checks,
                source: PathBuf::from("e.toml"),
            })
            .collect();
        let read = |_: &str| Some("let x = 1;\ncheck_eq!(err,\n   \"Unknown\");".to_string());
        validate(&Inputs {
            scenarios: &f.scenarios,
            mappings: &f.mappings,
            go_checks: &f.go_checks,
            entries: &entries,
            read_source: &read,
        })
        .into_iter()
        .map(|p| p.reason)
        .collect()
    }

    #[test]
    fn complete_current_evidence_passes() {
        let f = fixture();
        let ok = vec![
            check("10-12", "check_eq!(err, \"Unknown\")", ""),
            check("20", "", "reads the client's internal state"),
        ];
        assert_eq!(problems(&f, Some(ok)), Vec::<String>::new());
    }

    #[test]
    fn missing_evidence_is_refused() {
        let p = problems(&fixture(), None);
        assert!(p[0].starts_with("no evidence"), "{p:?}");
    }

    #[test]
    fn an_unlisted_check_line_is_incomplete() {
        let p = problems(
            &fixture(),
            Some(vec![check("10-12", "check_eq!(err, \"Unknown\")", "")]),
        );
        assert_eq!(
            p,
            vec!["incomplete: check line(s) 20 of test/a_test.go not listed"]
        );
    }

    #[test]
    fn a_snippet_not_in_the_scenario_is_refused() {
        let p = problems(
            &fixture(),
            Some(vec![
                check("10-12", "check_eq!(err, \"Other\")", ""),
                check("20", "", "internal"),
            ]),
        );
        assert!(p[0].contains("is not in"), "{p:?}");
    }

    #[test]
    fn each_check_needs_exactly_one_of_by_and_unobservable() {
        let p = problems(
            &fixture(),
            Some(vec![
                check("10-12", "", ""),
                check("20", "let x = 1;", "why"),
            ]),
        );
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("needs `by`"));
        assert!(p[1].contains("not both"));
    }

    #[test]
    fn evidence_for_a_partial_mapping_is_stale() {
        let mut f = fixture();
        f.mappings[0].coverage = Coverage::Partial;
        let p = problems(&f, Some(vec![check("10-20", "let x = 1;", "")]));
        assert!(p[0].contains("not a full mapping"), "{p:?}");
    }

    #[test]
    fn bad_ranges_are_refused() {
        let p = problems(&fixture(), Some(vec![check("20-10", "let x = 1;", "")]));
        assert!(
            p.iter().any(|r| r.contains("not a line or a range")),
            "{p:?}"
        );
    }
}
