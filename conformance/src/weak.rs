//! Weak scenarios: ones whose observations carry no weight. A scenario that
//! passes with no observation, or whose every observation is a string
//! literal of its own source (`ctx.observe("k", "0")`, written whatever the
//! server did), gives the diff nothing to compare: natsd matches Go on it by
//! construction. `reports/last-run.md` lists them.

use crate::kit::Target;
use crate::normalize;
use crate::registry::Scenario;
use crate::runner::ScenarioRun;
use crate::status::Outcome;
use regex::Regex;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

/// `observe("key", "literal")`, with an optional `&` or `.to_string()`.
static LITERAL_OBSERVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\.observe\(\s*"((?:[^"\\]|\\.)*)"\s*,\s*&?"((?:[^"\\]|\\.)*)"(?:\.to_string\(\))?\s*,?\s*\)"#)
        .expect("valid regex")
});

fn unescape(s: &str) -> String {
    s.replace("\\\"", "\"")
        .replace("\\n", "\n")
        .replace("\\r", "\r")
        .replace("\\\\", "\\")
}

/// (key, normalized value) of every literal observation in a source text.
pub fn literal_observations(source: &str) -> HashSet<(String, String)> {
    LITERAL_OBSERVE
        .captures_iter(source)
        .map(|c| (unescape(&c[1]), normalize::text(&unescape(&c[2]))))
        .collect()
}

/// Why a scenario is weak, if it is, from what it recorded on Go.
fn weakness(recorded: &[(String, String)], literals: &HashSet<(String, String)>) -> Option<String> {
    if recorded.is_empty() {
        return Some("records no observation".into());
    }
    recorded
        .iter()
        .all(|kv| literals.contains(kv))
        .then(|| "records only literals of its own source".into())
}

/// The weak scenarios among those that passed on Go in these runs, with why.
pub fn scenarios(
    all: &[Scenario],
    runs: &[ScenarioRun],
    read_source: &dyn Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    let mut literals: HashMap<&str, HashSet<(String, String)>> = HashMap::new();
    let mut out = Vec::new();
    for r in runs
        .iter()
        .filter(|r| r.target == Target::Go && r.result.outcome == Outcome::Pass)
    {
        let Some(s) = all.iter().find(|s| s.id == r.scenario_id) else {
            continue;
        };
        let lits = literals.entry(s.source_file).or_insert_with(|| {
            read_source(s.source_file)
                .map(|src| literal_observations(&src))
                .unwrap_or_default()
        });
        let recorded: Vec<(String, String)> =
            serde_json::from_str(&r.result.observations).unwrap_or_default();
        if let Some(why) = weakness(&recorded, lits) {
            out.push((r.scenario_id.to_string(), why));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_literal_observations() {
        let src = r#"
    ctx.observe("ping", "PONG");
    ctx.observe("subs-left", &"0".to_string());
    ctx.observe("err", &err);
    ctx.observe("q", "say \"hi\"");
"#;
        let lits = literal_observations(src);
        assert!(lits.contains(&("ping".into(), "PONG".into())));
        assert!(lits.contains(&("subs-left".into(), "0".into())));
        assert!(lits.contains(&("q".into(), "say \"hi\"".into())));
        assert_eq!(lits.len(), 3);
    }

    #[test]
    fn weak_when_empty_or_all_literal() {
        let lits: HashSet<(String, String)> = [("ping".to_string(), "PONG".to_string())].into();
        assert!(weakness(&[], &lits).is_some());
        assert!(weakness(&[("ping".into(), "PONG".into())], &lits).is_some());
        let mixed = [
            ("ping".to_string(), "PONG".to_string()),
            ("err".to_string(), "Unknown Protocol Operation".to_string()),
        ];
        assert!(weakness(&mixed, &lits).is_none());
    }
}
