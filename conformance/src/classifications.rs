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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub file: String,
    pub name: String,
    pub decision: Decision,
    pub reason: String,
}

/// Reads the list; every row needs a known decision and a non-empty reason.
pub fn read_csv(path: &Path) -> Result<Vec<Classification>> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec?;
        let row = i + 2;
        if rec.len() != 4 {
            bail!("{}:{row}: want file,name,status,reason", path.display());
        }
        let decision = Decision::parse(&rec[2]).with_context(|| {
            format!(
                "{}:{row}: status must be NOT_APPLICABLE or DEFERRED, got {:?}",
                path.display(),
                &rec[2]
            )
        })?;
        if rec[3].trim().is_empty() {
            bail!("{}:{row}: {} needs a reason", path.display(), &rec[1]);
        }
        out.push(Classification {
            file: rec[0].to_string(),
            name: rec[1].to_string(),
            decision,
            reason: rec[3].trim().to_string(),
        });
    }
    Ok(out)
}
