//! How a Go test's status follows from its mappings and their results
//! (DESIGN.md §3). Pure functions, so the rules are tested on their own.

use crate::classifications::Decision;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Ported,
    Partial,
    /// Failed a check once and passed on re-run: never PORTED.
    Flaky,
    Failing,
    Missing,
    NotApplicable,
    Deferred,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Ported,
        Status::Partial,
        Status::Flaky,
        Status::Failing,
        Status::Missing,
        Status::NotApplicable,
        Status::Deferred,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ported => "PORTED",
            Status::Partial => "PARTIAL",
            Status::Flaky => "FLAKY",
            Status::Failing => "FAILING",
            Status::Missing => "MISSING",
            Status::NotApplicable => "NOT_APPLICABLE",
            Status::Deferred => "DEFERRED",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether going from `self` (as committed) to `now` loses ground:
    /// PORTED > PARTIAL > FLAKY > FAILING > MISSING. A hand-kept
    /// classification replacing a row that passed is a loss too; one that
    /// replaces a MISSING or FAILING row is the audit's to make.
    pub fn is_downgrade_to(self, now: Status) -> bool {
        let rank = |s: Status| match s {
            Status::Ported => Some(0),
            Status::Partial => Some(1),
            Status::Flaky => Some(2),
            Status::Failing => Some(3),
            Status::Missing => Some(4),
            Status::NotApplicable | Status::Deferred => None,
        };
        match (rank(self), rank(now)) {
            (Some(was), Some(is)) => is > was,
            (Some(was), None) => was <= 2,
            (None, _) => false,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Decision> for Status {
    fn from(d: Decision) -> Self {
        match d {
            Decision::NotApplicable => Status::NotApplicable,
            Decision::Deferred => Status::Deferred,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    Full,
    Partial,
}

impl Coverage {
    pub fn as_str(self) -> &'static str {
        match self {
            Coverage::Full => "full",
            Coverage::Partial => "partial",
        }
    }

    pub fn parse(s: &str) -> Option<Coverage> {
        match s {
            "full" => Some(Coverage::Full),
            "partial" => Some(Coverage::Partial),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Timeout,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Timeout => "timeout",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "pass" => Some(Outcome::Pass),
            "fail" => Some(Outcome::Fail),
            "timeout" => Some(Outcome::Timeout),
            _ => None,
        }
    }
}

/// The latest result of one scenario on one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetResult {
    pub outcome: Outcome,
    pub message: String,
    /// Normalized observations, serialized; compared byte for byte.
    pub observations: String,
    /// A re-run's pass after the same check failed once.
    pub flaky: bool,
}

/// One mapping of a Go test with what its scenario did on each target.
#[derive(Debug, Clone)]
pub struct MappedResult {
    pub scenario_id: String,
    pub coverage: Coverage,
    pub go: Option<TargetResult>,
    pub rust: Option<TargetResult>,
    /// Why a `full` claim was refused (its evidence), if it was.
    pub refusal: String,
    /// For a partial mapping: what it leaves out, and why.
    pub partial_why: String,
}

/// A derived status and the note that explains it in the gaps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: Status,
    pub note: String,
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Derives one Go test's status.
///
/// - A scenario counts only if it passed on Go; one that failed there is broken.
/// - FAILING: some scenario that passes on Go does not pass on natsd.
/// - PORTED: every counting scenario passes on natsd, and at least one of them
///   covers the test fully with observations equal to Go's.
/// - PARTIAL: every counting scenario passes on natsd, but none is a full
///   mapping with equal observations.
/// - Without a counting scenario, a hand-kept classification holds if there is
///   one, else MISSING.
pub fn derive(mappings: &[MappedResult], classification: Option<(Decision, &str)>) -> Verdict {
    let counting: Vec<&MappedResult> = mappings
        .iter()
        .filter(|m| m.go.as_ref().is_some_and(|g| g.outcome == Outcome::Pass))
        .collect();

    if counting.is_empty() {
        if let Some((decision, reason)) = classification {
            return Verdict {
                status: decision.into(),
                note: reason.to_string(),
            };
        }
        let note = mappings
            .iter()
            .map(|m| match &m.go {
                None => format!("{} not run on Go", m.scenario_id),
                Some(g) => format!(
                    "{} broken: {} on Go: {}",
                    m.scenario_id,
                    g.outcome.as_str(),
                    first_line(&g.message)
                ),
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Verdict {
            status: Status::Missing,
            note,
        };
    }

    let failing: Vec<String> = counting
        .iter()
        .filter_map(|m| match &m.rust {
            None => Some(format!("{} not run on natsd", m.scenario_id)),
            Some(r) if r.outcome != Outcome::Pass => Some(format!(
                "{} {} on natsd: {}",
                m.scenario_id,
                r.outcome.as_str(),
                first_line(&r.message)
            )),
            Some(_) => None,
        })
        .collect();
    if !failing.is_empty() {
        return Verdict {
            status: Status::Failing,
            note: failing.join("; "),
        };
    }

    let flaky: Vec<&str> = counting
        .iter()
        .filter(|m| [&m.go, &m.rust].into_iter().flatten().any(|r| r.flaky))
        .map(|m| m.scenario_id.as_str())
        .collect();
    if !flaky.is_empty() {
        return Verdict {
            status: Status::Flaky,
            note: format!("failed once and passed on re-run: {}", flaky.join(", ")),
        };
    }

    let equal = |m: &&&MappedResult| match (&m.go, &m.rust) {
        (Some(g), Some(r)) => g.observations == r.observations,
        _ => false,
    };
    if counting
        .iter()
        .filter(|m| m.coverage == Coverage::Full)
        .any(|m| equal(&m))
    {
        return Verdict {
            status: Status::Ported,
            note: String::new(),
        };
    }
    let differing: Vec<&str> = counting
        .iter()
        .filter(|m| !equal(m))
        .map(|m| m.scenario_id.as_str())
        .collect();
    let refused: Vec<String> = counting
        .iter()
        .filter(|m| !m.refusal.is_empty())
        .map(|m| format!("{}: full claim refused: {}", m.scenario_id, m.refusal))
        .collect();
    let declared: Vec<String> = counting
        .iter()
        .filter(|m| !m.partial_why.is_empty())
        .map(|m| format!("{}: {}", m.scenario_id, m.partial_why))
        .collect();
    let note = if !differing.is_empty() {
        format!("observations differ from Go: {}", differing.join(", "))
    } else if !refused.is_empty() {
        refused.join("; ")
    } else if !declared.is_empty() {
        format!("covered only partially: {}", declared.join("; "))
    } else {
        "covered only partially".to_string()
    };
    Verdict {
        status: Status::Partial,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(outcome: Outcome, obs: &str) -> Option<TargetResult> {
        Some(TargetResult {
            outcome,
            message: if outcome == Outcome::Pass {
                String::new()
            } else {
                "boom\nmore".into()
            },
            observations: obs.into(),
            flaky: false,
        })
    }

    fn mapped(
        id: &str,
        coverage: Coverage,
        go: Option<TargetResult>,
        rust: Option<TargetResult>,
    ) -> MappedResult {
        MappedResult {
            scenario_id: id.into(),
            coverage,
            go,
            rust,
            refusal: String::new(),
            partial_why: String::new(),
        }
    }

    #[test]
    fn unmapped_is_missing_unless_classified() {
        assert_eq!(derive(&[], None).status, Status::Missing);
        let v = derive(&[], Some((Decision::NotApplicable, "windows only")));
        assert_eq!(v.status, Status::NotApplicable);
        assert_eq!(v.note, "windows only");
    }

    #[test]
    fn full_pass_on_both_with_equal_observations_is_ported() {
        let m = mapped(
            "a",
            Coverage::Full,
            res(Outcome::Pass, "x"),
            res(Outcome::Pass, "x"),
        );
        assert_eq!(derive(&[m], None).status, Status::Ported);
    }

    #[test]
    fn differing_observations_are_partial_at_best() {
        let m = mapped(
            "a",
            Coverage::Full,
            res(Outcome::Pass, "x"),
            res(Outcome::Pass, "y"),
        );
        let v = derive(&[m], None);
        assert_eq!(v.status, Status::Partial);
        assert!(v.note.contains("differ"), "{}", v.note);
    }

    #[test]
    fn partial_coverage_alone_is_partial() {
        let m = mapped(
            "a",
            Coverage::Partial,
            res(Outcome::Pass, "x"),
            res(Outcome::Pass, "x"),
        );
        assert_eq!(derive(&[m], None).status, Status::Partial);
    }

    #[test]
    fn a_declared_partial_reason_is_the_note() {
        let mut m = mapped(
            "a",
            Coverage::Partial,
            res(Outcome::Pass, "x"),
            res(Outcome::Pass, "x"),
        );
        m.partial_why = "the text cases cannot be sent".into();
        let v = derive(&[m], None);
        assert_eq!(v.status, Status::Partial);
        assert_eq!(
            v.note,
            "covered only partially: a: the text cases cannot be sent"
        );
    }

    #[test]
    fn scenario_broken_on_go_ports_nothing() {
        let m = mapped(
            "a",
            Coverage::Full,
            res(Outcome::Fail, "x"),
            res(Outcome::Pass, "x"),
        );
        let v = derive(&[m], None);
        assert_eq!(v.status, Status::Missing);
        assert!(v.note.contains("broken"), "{}", v.note);
    }

    #[test]
    fn scenario_never_run_on_go_ports_nothing() {
        let m = mapped("a", Coverage::Full, None, res(Outcome::Pass, "x"));
        assert_eq!(derive(&[m], None).status, Status::Missing);
    }

    #[test]
    fn failing_on_natsd_is_failing_even_beside_a_ported_one() {
        let ok = mapped(
            "a",
            Coverage::Full,
            res(Outcome::Pass, "x"),
            res(Outcome::Pass, "x"),
        );
        let bad = mapped(
            "b",
            Coverage::Partial,
            res(Outcome::Pass, "x"),
            res(Outcome::Timeout, "x"),
        );
        let v = derive(&[ok, bad], None);
        assert_eq!(v.status, Status::Failing);
        assert_eq!(v.note, "b timeout on natsd: boom");
    }

    #[test]
    fn not_run_on_natsd_is_failing() {
        let m = mapped("a", Coverage::Full, res(Outcome::Pass, "x"), None);
        assert_eq!(derive(&[m], None).status, Status::Failing);
    }

    #[test]
    fn a_pass_after_a_failed_attempt_is_flaky_never_ported() {
        let mut rerun = res(Outcome::Pass, "x");
        if let Some(r) = rerun.as_mut() {
            r.flaky = true;
        }
        let m = mapped("a", Coverage::Full, res(Outcome::Pass, "x"), rerun);
        let v = derive(&[m], None);
        assert_eq!(v.status, Status::Flaky);
        assert!(v.note.contains("re-run"), "{}", v.note);
    }

    #[test]
    fn a_refused_full_claim_says_why_it_is_partial() {
        let mut m = mapped(
            "a",
            Coverage::Partial,
            res(Outcome::Pass, "x"),
            res(Outcome::Pass, "x"),
        );
        m.refusal = "no evidence".into();
        let v = derive(&[m], None);
        assert_eq!(v.status, Status::Partial);
        assert_eq!(v.note, "a: full claim refused: no evidence");
    }

    #[test]
    fn downgrades_follow_the_ladder() {
        use Status::*;
        assert!(Ported.is_downgrade_to(Partial));
        assert!(Partial.is_downgrade_to(Flaky));
        assert!(Ported.is_downgrade_to(Deferred));
        assert!(Failing.is_downgrade_to(Missing));
        assert!(!Partial.is_downgrade_to(Ported));
        assert!(!Missing.is_downgrade_to(Deferred));
        assert!(!Failing.is_downgrade_to(NotApplicable));
        assert!(!Deferred.is_downgrade_to(Missing));
    }

    #[test]
    fn a_counting_scenario_overrides_a_classification() {
        let m = mapped(
            "a",
            Coverage::Full,
            res(Outcome::Pass, "x"),
            res(Outcome::Pass, "x"),
        );
        let v = derive(&[m], Some((Decision::Deferred, "later")));
        assert_eq!(v.status, Status::Ported);
    }
}
