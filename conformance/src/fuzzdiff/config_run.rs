//! Runs config cases through `-t -c FILE` on natsd and twice on Go (the
//! second run is the noise control), each within 10 s, and reduces what
//! each printed to its exit class and its text with the case's folder
//! replaced by `<dir>`. A signal, a panic or a stack overflow is a crash;
//! the timeout is a hang.

use super::escape::escape;
use super::gen_config::{ConfigCase, MAIN};
use super::servers::Role;
use super::verdict::{Fault, Observed};
use crate::kit::Binaries;
use anyhow::{Context, Result};
use futures::StreamExt;
use regex::Regex;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::LazyLock;
use std::time::Duration;
use tokio::process::Command;

/// How long one `-t` may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// `-t` runs at once, at most: each is a process that may parse megabytes,
/// and a machine made slow by too many of them would turn into timeouts.
const MAX_JOBS: usize = 4;

/// Every config case's observations, in the order of `cases`.
pub async fn run(cases: &[ConfigCase], bins: &Binaries, jobs: usize) -> Result<Vec<Observed>> {
    let tmp = tempfile::Builder::new().prefix("parity-fuzz-").tempdir()?;
    let root = tmp.path();
    futures::stream::iter(cases.iter().enumerate())
        .map(|(i, case)| async move {
            let dir = root.join(i.to_string());
            std::fs::create_dir_all(&dir)?;
            for (name, body) in &case.files {
                std::fs::write(dir.join(name), body)?;
            }
            let mut obs = Observed::default();
            for role in Role::ALL {
                let bin = match role {
                    Role::Natsd => &bins.rust,
                    // Once Go A failed the case is noise: a second run would
                    // only cost time (a Go include loop takes seconds to
                    // overflow its stack).
                    Role::GoB if obs.faults.iter().any(|(r, _)| *r == Role::GoA) => {
                        obs.answers[Role::GoB.index()] = "[not run: go-a failed]".into();
                        continue;
                    }
                    Role::GoA | Role::GoB => &bins.go,
                };
                let (answer, fault) = check(bin, &dir).await?;
                obs.answers[role.index()] = answer;
                if let Some(f) = fault {
                    obs.faults.push((role, f));
                }
            }
            Ok(obs)
        })
        .buffered(jobs.clamp(1, MAX_JOBS))
        .collect::<Vec<Result<Observed>>>()
        .await
        .into_iter()
        .collect()
}

/// Runs `bin -t -c <dir>/c.conf`: the normalized answer and any fault.
async fn check(bin: &Path, dir: &Path) -> Result<(String, Option<Fault>)> {
    let child = Command::new(bin)
        .arg("-t")
        .arg("-c")
        .arg(dir.join(MAIN))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let Ok(out) = tokio::time::timeout(TIMEOUT, child.wait_with_output()).await else {
        let why = format!("-t still running after {TIMEOUT:?}");
        return Ok(("[timeout]".into(), Some(Fault::Hang(why))));
    };
    let out = out?;
    let bytes = [out.stderr, out.stdout].concat();
    let text = render(out.status.success(), &bytes, &dir.to_string_lossy());
    let fault = crash(out.status.signal(), out.status.code(), &text).map(Fault::Crash);
    Ok((text, fault))
}

/// The compared form: `exit 0` or `exit non-zero`, then the output's lines
/// with the case's folder shown as `<dir>`, escaped (a raw invalid byte and
/// Go's `\x80` quoting must not look alike), sorted (Go reports a map's
/// keys in random order), ids and times masked.
pub fn render(success: bool, output: &[u8], dir: &str) -> String {
    let mut lines: Vec<String> = output
        .split(|b| *b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
        .map(|l| escape(l).replace(&escape(dir.as_bytes()), "<dir>"))
        .collect();
    lines.sort_unstable();
    let exit = if success { "exit 0" } else { "exit non-zero" };
    let text = crate::normalize::text(&format!("{exit}\n{}", lines.join("\n")));
    ADDRESS.replace_all(&text, "<addr>").into_owned()
}

/// A Go pointer printed in a message (`map[a:0xc00007eb40]`): it differs
/// from run to run.
static ADDRESS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b0x[0-9a-f]{6,}\b").expect("valid regex"));

/// Whether the run was a crash, and how: death by a signal, Rust's panic or
/// stack overflow (exit 101, or an abort: 134), or a Go runtime fatal error.
fn crash(signal: Option<i32>, code: Option<i32>, text: &str) -> Option<String> {
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .map(|l| l.trim().to_string())
    };
    if let Some(sig) = signal {
        let why = line("overflowed its stack").or_else(|| line("panicked"));
        return Some(format!(
            "killed by signal {sig}{}",
            why.map(|w| format!(": {w}")).unwrap_or_default()
        ));
    }
    [
        "panicked",
        "overflowed its stack",
        "fatal error:",
        "goroutine stack exceeds",
    ]
    .iter()
    .find_map(|n| line(n))
    .or_else(|| matches!(code, Some(101 | 134)).then(|| format!("exit code {code:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_sorts_lines_and_keeps_only_the_exit_class() {
        assert_eq!(render(false, b"b\n\na\n", "/t"), "exit non-zero\na\nb");
        assert_eq!(
            render(true, b"/t/c.conf is valid", "/t"),
            "exit 0\n<dir>/c.conf is valid"
        );
    }

    #[test]
    fn render_masks_go_pointers() {
        assert_eq!(
            render(false, b"got map[a:0xc00007eb40]", "/t"),
            "exit non-zero\ngot map[a:<addr>]"
        );
    }

    #[test]
    fn render_tells_a_raw_byte_from_its_quoted_form() {
        assert_ne!(
            render(false, b"\"k\x80\"", "/t"),
            render(false, b"\"k\\x80\"", "/t")
        );
    }

    #[test]
    fn crashes_are_told_from_errors() {
        assert!(
            crash(Some(6), None, "thread 'main' has overflowed its stack")
                .unwrap()
                .contains("overflowed")
        );
        assert!(crash(None, Some(101), "thread 'main' panicked at x").is_some());
        assert!(crash(None, Some(134), "").is_some());
        assert!(crash(
            None,
            Some(2),
            "runtime: goroutine stack exceeds 1000000000-byte limit"
        )
        .is_some());
        assert_eq!(crash(None, Some(1), "nats-server: c.conf:1:2: bad"), None);
    }
}
