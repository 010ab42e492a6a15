//! `conformance/fuzz-explained.toml`: the divergences someone has looked at
//! and understood, each with its reason. A divergence listed there is
//! reported but does not fail the run; any other one does.
//!
//! ```toml
//! [[explained]]
//! class = "connect-deep-nesting"      # a divergence class, exactly
//! reason = "why natsd may answer differently"
//!
//! [[explained]]
//! cases = "^bad-subject#(12|40)$"     # or: a regex over case names
//! reason = "..."
//! ```

use anyhow::{bail, Context, Result};
use regex::Regex;
use serde::Deserialize;
use std::path::Path;

/// Where the file is, from the workspace root.
pub const FILE: &str = "conformance/fuzz-explained.toml";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    #[serde(default)]
    explained: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    class: Option<String>,
    cases: Option<String>,
    reason: String,
}

/// What a divergence is matched on.
enum Matcher {
    Class(String),
    Cases(Regex),
}

/// The parsed file.
pub struct Explained {
    entries: Vec<(Matcher, String)>,
}

impl Explained {
    pub fn load(path: &Path) -> Result<Explained> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Explained> {
        let doc: Doc = toml::from_str(text)?;
        let entries = doc
            .explained
            .into_iter()
            .map(|e| {
                if e.reason.trim().is_empty() {
                    bail!("an entry without a reason");
                }
                let matcher = match (e.class, e.cases) {
                    (Some(c), None) => Matcher::Class(c),
                    (None, Some(re)) => Matcher::Cases(Regex::new(&re)?),
                    _ => bail!("an entry names either a class or cases, not both or neither"),
                };
                Ok((matcher, e.reason))
            })
            .collect::<Result<_>>()?;
        Ok(Explained { entries })
    }

    /// The reason a divergence of `class` in case `case` is understood, if it is.
    pub fn reason(&self, class: &str, case: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(m, _)| match m {
                Matcher::Class(c) => c == class,
                Matcher::Cases(re) => re.is_match(case),
            })
            .map(|(_, reason)| reason.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_classes_exactly_and_cases_by_regex() {
        let e = Explained::parse(
            "[[explained]]\nclass = \"tabs\"\nreason = \"r1\"\n\
             [[explained]]\ncases = \"^bare-lf#(3|9)$\"\nreason = \"r2\"\n",
        )
        .unwrap();
        assert_eq!(e.reason("tabs", "tabs#1"), Some("r1"));
        assert_eq!(e.reason("tabs-x", "tabs-x#1"), None);
        assert_eq!(e.reason("bare-lf", "bare-lf#9"), Some("r2"));
        assert_eq!(e.reason("bare-lf", "bare-lf#19"), None);
    }

    #[test]
    fn an_empty_file_explains_nothing() {
        assert_eq!(
            Explained::parse("# nothing yet\n")
                .unwrap()
                .reason("x", "x#1"),
            None
        );
    }

    #[test]
    fn bad_entries_are_refused() {
        assert!(Explained::parse("[[explained]]\nclass = \"a\"\nreason = \"\"\n").is_err());
        assert!(Explained::parse("[[explained]]\nreason = \"r\"\n").is_err());
        assert!(Explained::parse("[[explained]]\nclas = \"a\"\nreason = \"r\"\n").is_err());
    }
}
