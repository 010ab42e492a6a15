//! The checks inside each Go test: the lines of its body that can fail it
//! (`t.Fatal*`, `t.Error*`, `require_*`, `expect*`, `check*`, ...).
//!
//! `parity import-go` writes them to `parity-db/go-checks.csv` beside the
//! inventory, so that a `full` mapping's evidence can be checked for
//! completeness without the Go sources installed: every check line of the
//! test must be covered by one of the evidence's entries.

use crate::gotests::GoTest;
use anyhow::{bail, Context, Result};
use regex::Regex;
use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

/// One line of a Go test's body that can fail the test.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoCheck {
    pub file: String,
    pub name: String,
    pub line: u32,
    /// The line's code, trimmed (shown in drafts and `parity show`).
    pub code: String,
}

/// A call that fails the test when what it checks does not hold. Helper
/// constructors such as `expectCommand(t, c)` build a checker and check
/// nothing themselves, so names ending in `Command` are left out.
static CHECK_CALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?:t\.(?:Fatal|Fatalf|Error|Errorf|FailNow|Fail)|require_\w+|stackFatalf|expect\w*|check\w*|waitFor\w*)\(",
    )
    .expect("valid regex")
});

fn is_check_line(code: &str) -> bool {
    if code.starts_with("//") {
        return false;
    }
    CHECK_CALL.find_iter(code).any(|m| {
        let name = m.as_str().trim_end_matches('(');
        !name.ends_with("Command") && !code.starts_with("func ")
    })
}

/// The check lines of the test function declared at `decl_line` (1-based):
/// its body runs to the first line that is a lone `}` at column 0.
pub fn checks_in(source: &str, decl_line: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for (i, line) in source.lines().enumerate().skip(decl_line as usize) {
        if line == "}" {
            break;
        }
        let code = line.trim();
        if is_check_line(code) {
            out.push((i as u32 + 1, code.to_string()));
        }
    }
    out
}

/// The check lines of every test, read from the sources.
pub fn scan(src_root: &Path, tests: &[GoTest]) -> Result<Vec<GoCheck>> {
    let mut sources: HashMap<&str, String> = HashMap::new();
    let mut out = Vec::new();
    for t in tests {
        if !sources.contains_key(t.file.as_str()) {
            let path = src_root.join(&t.file);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            sources.insert(&t.file, text);
        }
        let source = &sources[t.file.as_str()];
        out.extend(
            checks_in(source, t.line)
                .into_iter()
                .map(|(line, code)| GoCheck {
                    file: t.file.clone(),
                    name: t.name.clone(),
                    line,
                    code,
                }),
        );
    }
    out.sort();
    Ok(out)
}

const CSV_HEADER: [&str; 4] = ["file", "name", "line", "code"];

pub fn write_csv(checks: &[GoCheck], path: &Path) -> Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(CSV_HEADER)?;
    for c in checks {
        w.write_record([&c.file, &c.name, &c.line.to_string(), &c.code])?;
    }
    w.flush()?;
    Ok(())
}

/// Reads the committed check lines, by Go test (file, name).
pub fn read_csv(path: &Path) -> Result<HashMap<(String, String), Vec<GoCheck>>> {
    let mut r = csv::Reader::from_path(path)
        .with_context(|| format!("reading {} (run `parity import-go`)", path.display()))?;
    let mut out: HashMap<(String, String), Vec<GoCheck>> = HashMap::new();
    for rec in r.records() {
        let rec = rec?;
        if rec.len() != 4 {
            bail!("{}: bad row {:?}", path.display(), rec);
        }
        let check = GoCheck {
            file: rec[0].to_string(),
            name: rec[1].to_string(),
            line: rec[2].parse().context("line number")?,
            code: rec[3].to_string(),
        };
        out.entry((check.file.clone(), check.name.clone()))
            .or_default()
            .push(check);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "package test\n\
func TestA(t *testing.T) {\n\
\ts := runProtoServer()\n\
\tsend, expect := setupConn(t, c)\n\
\texpectMsgs := expectMsgsCommand(t, expect)\n\
\tsend(\"PING\\r\\n\")\n\
\texpect(pongRe)\n\
\t// t.Fatalf(\"commented out\")\n\
\tif err != nil {\n\
\t\tt.Fatalf(\"Error: %v\", err)\n\
\t}\n\
\trequire_NoError(t, err)\n\
\tcheckFor(t, time.Second, 10*time.Millisecond, func() error {\n\
\t\treturn nil\n\
\t})\n\
}\n\
func TestB(t *testing.T) {\n\
\tt.Errorf(\"b\")\n\
}\n";

    #[test]
    fn finds_the_lines_that_can_fail_the_test() {
        let lines: Vec<u32> = checks_in(SRC, 2).into_iter().map(|(l, _)| l).collect();
        assert_eq!(lines, vec![7, 10, 12, 13]);
    }

    #[test]
    fn stops_at_the_end_of_the_body() {
        assert_eq!(
            checks_in(SRC, 17),
            vec![(18, "t.Errorf(\"b\")".to_string())]
        );
    }
}
