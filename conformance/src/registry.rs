//! The scenario registry. Each scenario declares its id (whose prefix is its
//! category), the Go tests it covers and what it needs; the mappings in the
//! database are synced from these declarations on every run, so the code is
//! the one source of truth.

use crate::gotests::GoTest;
use crate::kit::Ctx;
use crate::status::Coverage;
use anyhow::{bail, Result};
use futures::future::BoxFuture;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// The body of a scenario: an async function of its context.
pub type Body = fn(Ctx) -> BoxFuture<'static, Result<()>>;

/// A capability a scenario needs from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    JetStream,
    Tls,
    Cluster(u8),
    Mqtt,
    WebSocket,
    Monitoring,
    /// Headless Chromium with nats.ws (`kit::browser`), which the Rust build
    /// does not bring: checked before a run, see [`Need::unmet`].
    Browser,
}

impl Need {
    pub fn label(self) -> String {
        match self {
            Need::JetStream => "jetstream".into(),
            Need::Tls => "tls".into(),
            Need::Cluster(n) => format!("cluster:{n}"),
            Need::Mqtt => "mqtt".into(),
            Need::WebSocket => "websocket".into(),
            Need::Monitoring => "monitoring".into(),
            Need::Browser => "browser".into(),
        }
    }

    /// Why this machine cannot meet the need, when it cannot. Every server
    /// capability is the server's to have; only what a scenario brings from
    /// outside the Rust build can be missing.
    pub fn unmet(self) -> Option<String> {
        match self {
            Need::Browser => crate::kit::browser::missing(),
            _ => None,
        }
    }
}

/// A reference to a Go test: `TestName` when the name is unique in the
/// sources, else `path/file_test.go:TestName`.
#[derive(Debug, Clone)]
pub struct Cover {
    pub test: &'static str,
    pub coverage: Coverage,
    /// For a partial cover: what it leaves out, and why.
    pub partial_why: &'static str,
}

pub struct Scenario {
    pub id: &'static str,
    /// The id's prefix before the first `/` (`core` for `core/pub-sub`),
    /// unless [`Scenario::with_category`] set another.
    pub category: &'static str,
    pub covers: Vec<Cover>,
    /// Why a scenario that covers no Go test exists: behaviour of the Go
    /// server that no Go test checks (found by a black-box run, say).
    pub beyond_go: Option<&'static str>,
    pub needs: Vec<Need>,
    pub timeout: Duration,
    pub body: Body,
    /// The source file that registers the scenario (and, by convention,
    /// holds its body), relative to the workspace root; evidence snippets
    /// are looked up there.
    pub source_file: &'static str,
}

/// Default time a scenario may take on one target.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl Scenario {
    /// A scenario in the category its id starts with: `core/pub-sub` is in
    /// `core` (an id without `/` is its own category).
    #[track_caller]
    pub fn new(id: &'static str, body: Body) -> Scenario {
        Scenario {
            id,
            category: id.split_once('/').map_or(id, |(prefix, _)| prefix),
            covers: Vec::new(),
            beyond_go: None,
            needs: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            body,
            source_file: std::panic::Location::caller().file(),
        }
    }

    /// Files the scenario in another category than its id's prefix.
    pub fn with_category(mut self, category: &'static str) -> Self {
        self.category = category;
        self
    }

    /// Covers everything the Go test checks that a client can observe.
    pub fn full(mut self, test: &'static str) -> Self {
        self.covers.push(Cover {
            test,
            coverage: Coverage::Full,
            partial_why: "",
        });
        self
    }

    /// Covers part of what the Go test checks.
    pub fn partial(mut self, test: &'static str) -> Self {
        self.covers.push(Cover {
            test,
            coverage: Coverage::Partial,
            partial_why: "",
        });
        self
    }

    /// Covers part of what the Go test checks; `why` says what is left
    /// out and why (gaps/ shows it).
    pub fn partial_because(mut self, test: &'static str, why: &'static str) -> Self {
        self.covers.push(Cover {
            test,
            coverage: Coverage::Partial,
            partial_why: why,
        });
        self
    }

    /// Checks Go behaviour that no Go test checks; `why` says where it
    /// comes from. It counts in no Go test's status, but `--check` fails
    /// when it passes on Go and not on natsd.
    pub fn beyond_go(mut self, why: &'static str) -> Self {
        self.beyond_go = Some(why);
        self
    }

    pub fn needs(mut self, need: Need) -> Self {
        self.needs.push(need);
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn needs_label(&self) -> String {
        self.needs
            .iter()
            .map(|n| n.label())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A resolved mapping: scenario → (file, name) of a Go test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedMapping {
    pub scenario_id: String,
    pub file: String,
    pub name: String,
    pub coverage: Coverage,
    /// Why a `full` claim was refused and counts as partial (its evidence
    /// is missing or incomplete); empty when it stands.
    pub refusal: String,
    /// For a partial mapping: what it leaves out, and why.
    pub partial_why: String,
}

/// Checks the registry against the Go test inventory and resolves each cover
/// to one Go test. Fails on a duplicate id, an unknown or ambiguous test name,
/// or a scenario that covers nothing without saying why (`beyond_go`).
pub fn resolve(scenarios: &[Scenario], go_tests: &[GoTest]) -> Result<Vec<ResolvedMapping>> {
    let mut by_name: HashMap<&str, Vec<&GoTest>> = HashMap::new();
    for t in go_tests {
        by_name.entry(t.name.as_str()).or_default().push(t);
    }
    let mut ids = HashSet::new();
    let mut out = Vec::new();
    for s in scenarios {
        if !ids.insert(s.id) {
            bail!("scenario id {} is declared twice", s.id);
        }
        if s.covers.is_empty() && s.beyond_go.is_none() {
            bail!("scenario {} covers no Go test", s.id);
        }
        if !s.covers.is_empty() && s.beyond_go.is_some() {
            bail!("scenario {} covers Go tests and is marked beyond_go", s.id);
        }
        for cover in &s.covers {
            let (file, name) = match cover.test.split_once(':') {
                Some((file, name)) => (Some(file), name),
                None => (None, cover.test),
            };
            let candidates: Vec<&&GoTest> = by_name
                .get(name)
                .map(|v| {
                    v.iter()
                        .filter(|t| file.is_none_or(|f| t.file == f))
                        .collect()
                })
                .unwrap_or_default();
            let test = match candidates.as_slice() {
                [one] => one,
                [] => bail!("scenario {}: no Go test {}", s.id, cover.test),
                many => bail!(
                    "scenario {}: {} is ambiguous, write one of: {}",
                    s.id,
                    cover.test,
                    many.iter()
                        .map(|t| format!("{}:{}", t.file, t.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            out.push(ResolvedMapping {
                scenario_id: s.id.to_string(),
                file: test.file.clone(),
                name: test.name.clone(),
                coverage: cover.coverage,
                refusal: String::new(),
                partial_why: cover.partial_why.to_string(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    fn body(_: Ctx) -> BoxFuture<'static, Result<()>> {
        async { Ok(()) }.boxed()
    }

    fn go(file: &str, name: &str) -> GoTest {
        GoTest {
            file: file.into(),
            line: 1,
            name: name.into(),
            category: "core".into(),
        }
    }

    #[test]
    fn category_is_the_id_prefix_unless_given() {
        assert_eq!(Scenario::new("config/a-b", body).category, "config");
        assert_eq!(Scenario::new("core/x/y", body).category, "core");
        assert_eq!(Scenario::new("plain", body).category, "plain");
        let s = Scenario::new("hostile/x", body).with_category("auth");
        assert_eq!((s.id, s.category), ("hostile/x", "auth"));
    }

    #[test]
    fn resolves_unique_and_qualified_names() {
        let tests = vec![
            go("a_test.go", "TestA"),
            go("x_test.go", "TestDup"),
            go("y_test.go", "TestDup"),
        ];
        let s = vec![Scenario::new("s1", body)
            .full("TestA")
            .partial("y_test.go:TestDup")];
        let m = resolve(&s, &tests).unwrap();
        assert_eq!(m[0].file, "a_test.go");
        assert_eq!(m[1].file, "y_test.go");
        assert_eq!(m[1].coverage, Coverage::Partial);
    }

    #[test]
    fn rejects_ambiguous_unknown_and_duplicate() {
        let tests = vec![go("x_test.go", "TestDup"), go("y_test.go", "TestDup")];
        let amb = vec![Scenario::new("s", body).full("TestDup")];
        assert!(resolve(&amb, &tests)
            .unwrap_err()
            .to_string()
            .contains("ambiguous"));
        let unknown = vec![Scenario::new("s", body).full("TestNope")];
        assert!(resolve(&unknown, &tests).is_err());
        let dup = vec![
            Scenario::new("s", body).full("x_test.go:TestDup"),
            Scenario::new("s", body).full("x_test.go:TestDup"),
        ];
        assert!(resolve(&dup, &tests)
            .unwrap_err()
            .to_string()
            .contains("twice"));
        let empty = vec![Scenario::new("s", body)];
        assert!(resolve(&empty, &tests).is_err());
    }
}
