//! The hand-kept list of Go tests that are NOT_APPLICABLE or DEFERRED, each with
//! a reason (`parity-db/classifications.csv`).

use anyhow::{bail, Context, Result};
use std::path::Path;

/// A status that only a person decides, never a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    NotApplicable,
    Deferred,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::NotApplicable => "NOT_APPLICABLE",
            Decision::Deferred => "DEFERRED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "NOT_APPLICABLE" => Some(Decision::NotApplicable),
            "DEFERRED" => Some(Decision::Deferred),
            _ => None,
        }
    }
}

/// The kinds of reason a Go test can be NOT_APPLICABLE for. Anything else
/// that a client, a monitoring endpoint, a log or `-t` can show is to be
/// ported, not classified.
pub const NOT_APPLICABLE_KINDS: &[&str] = &[
    // Runs only on Windows (event log, Windows services, ...).
    "windows-only",
    // Asserts on the Go runtime itself: goroutines, the GC, test harness
    // entry points.
    "go-runtime-internal",
    // Drives an in-process Go API whose result no client can see; the
    // reason names the API and the assertions that cannot be observed.
    "in-process-api",
    // Skipped by the Go test itself (t.Skip, build tags, CI variables).
    "skipped-by-go",
    // A performance measurement, not a behaviour check.
    "benchmark",
];

/// The capabilities a DEFERRED Go test can wait for. When one lands,
/// `parity list --deferred-on CAP` lists what to port.
pub const CAPABILITIES: &[&str] = &[
    "jetstream",
    "routes",
    "gateways",
    "leafnodes",
    "websocket",
    "mqtt",
    "jwt",
    "imports-exports",
    "tls-cert-mapping",
    "ocsp",
    "account-limits",
    // JetStream's parts after streams (issues "JetStream part 2" and
    // "part 3"): consumers (and what rides on them: mirrors, sources, KV
    // watchers), snapshots and restores, encryption at rest.
    "jetstream-consumers",
    "jetstream-snapshots",
    "jetstream-encryption",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub file: String,
    pub name: String,
    pub decision: Decision,
    /// For NOT_APPLICABLE, one of [`NOT_APPLICABLE_KINDS`]; for DEFERRED,
    /// the capability it waits for, one of [`CAPABILITIES`].
    pub kind: String,
    pub reason: String,
}

/// Reads the list; every row needs a known decision, a kind of its
/// decision's list and a non-empty reason.
pub fn read_csv(path: &Path) -> Result<Vec<Classification>> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec?;
        let at = format!("{}:{}", path.display(), i + 2);
        if rec.len() != 5 {
            bail!("{at}: want file,name,status,kind,reason");
        }
        let decision = Decision::parse(&rec[2]).with_context(|| {
            format!(
                "{at}: status must be NOT_APPLICABLE or DEFERRED, got {:?}",
                &rec[2]
            )
        })?;
        let kind = rec[3].trim();
        let kinds = match decision {
            Decision::NotApplicable => NOT_APPLICABLE_KINDS,
            Decision::Deferred => CAPABILITIES,
        };
        if !kinds.contains(&kind) {
            bail!(
                "{at}: {} {} needs a kind of: {}; got {kind:?}",
                &rec[1],
                decision.as_str(),
                kinds.join(", ")
            );
        }
        if rec[4].trim().is_empty() {
            bail!("{at}: {} needs a reason", &rec[1]);
        }
        out.push(Classification {
            file: rec[0].to_string(),
            name: rec[1].to_string(),
            decision,
            kind: kind.to_string(),
            reason: rec[4].trim().to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<Classification>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.csv");
        std::fs::write(&path, format!("file,name,status,kind,reason\n{text}")).unwrap();
        read_csv(&path)
    }

    #[test]
    fn kinds_must_fit_the_decision() {
        let ok = read("a_test.go,TestA,DEFERRED,routes,\"needs routes: RMSG\"\na_test.go,TestB,NOT_APPLICABLE,windows-only,\"event log\"\n").unwrap();
        assert_eq!(ok[0].kind, "routes");
        let e = read("a_test.go,TestA,DEFERRED,windows-only,x\n").unwrap_err();
        assert!(e.to_string().contains("needs a kind of: jetstream"), "{e}");
        let e = read("a_test.go,TestA,NOT_APPLICABLE,lexer,x\n").unwrap_err();
        assert!(e.to_string().contains("windows-only"), "{e}");
        assert!(read("a_test.go,TestA,DEFERRED,routes, \n").is_err());
    }
}
