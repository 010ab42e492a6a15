//! Running the server binary on a config file written from a body: `-t`
//! checks, and start-ups expected to exit at once.

use super::{Ctx, ServerSpec};
use anyhow::{bail, Result};

/// Writes `body` to a fresh config file and runs the server binary with
/// `before`, the file's path, then `after`. Returns the exit code and what
/// it printed (stderr, then stdout), the file's path shown as `<conf>`.
pub async fn run_on_conf(
    ctx: &Ctx,
    before: &[&str],
    body: &str,
    after: &[&str],
) -> Result<(Option<i32>, String)> {
    let dir = ctx.new_dir("t")?;
    let path = dir.join("c.conf");
    std::fs::write(&path, body)?;
    let path = path.to_string_lossy().to_string();
    let args: Vec<&str> = before
        .iter()
        .copied()
        .chain([path.as_str()])
        .chain(after.iter().copied())
        .collect();
    let out = ctx.run_binary(&args).await?;
    let text = format!("{}{}", out.stderr, out.stdout).replace(&path, "<conf>");
    Ok((out.code, text))
}

/// `exit N: text`, the `nats-server: ` prefix dropped, blank lines left
/// out and the lines sorted (Go reports the keys of a map in random order).
pub fn exit_and_lines(code: Option<i32>, text: &str) -> String {
    let mut lines: Vec<&str> = text
        .lines()
        .map(|l| l.strip_prefix("nats-server: ").unwrap_or(l))
        .filter(|l| !l.trim().is_empty())
        .collect();
    lines.sort();
    format!(
        "exit {}: {}",
        code.map_or("none".to_string(), |c| c.to_string()),
        lines.join("\n")
    )
}

/// `-t -c FILE` on a config body, shown as [`exit_and_lines`] does; not
/// observed.
pub async fn config_test(ctx: &Ctx, body: &str) -> Result<String> {
    let (code, text) = run_on_conf(ctx, &["-t", "-c"], body, &[]).await?;
    Ok(exit_and_lines(code, &text))
}

/// Runs `-t -c FILE` on a config body and returns `exit N: text` as
/// [`config_test`] shows it. Records it as the observation `<label>: -t`.
pub async fn check_config(ctx: &Ctx, label: &str, body: &str) -> Result<String> {
    let seen = config_test(ctx, body).await?;
    ctx.observe(&format!("{label}: -t"), &seen);
    Ok(seen)
}

/// Runs [`check_config`] on each `(label, body, want)`: `-t` must say
/// `want`. Returns what it said, case by case.
pub async fn check_configs(ctx: &Ctx, cases: &[(&str, &str, &str)]) -> Result<Vec<String>> {
    let mut said = Vec::new();
    for (label, body, want) in cases {
        let seen = check_config(ctx, label, body).await?;
        crate::check_eq!(seen, *want);
        said.push(seen);
    }
    Ok(said)
}

/// `-t -c FILE` on a config body: the exit code and the output as printed
/// (prefix kept, lines in order), trimmed.
pub async fn config_test_raw(ctx: &Ctx, body: &str) -> Result<(Option<i32>, String)> {
    let (code, text) = run_on_conf(ctx, &["-t", "-c"], body, &[]).await?;
    Ok((code, text.trim().to_string()))
}

/// Starts a server of `body` that must refuse to start: the first line it
/// printed that is not an informational log line.
pub async fn refused_start(ctx: &Ctx, body: &str) -> Result<String> {
    match ctx.server(ServerSpec::new().conf(body)).await {
        Ok(s) => bail!(
            "the server started, expected it to refuse; log:\n{}",
            s.logs()
        ),
        Err(e) => {
            let text = format!("{e:#}");
            let log = text
                .split_once("--- log ---\n")
                .map(|x| x.1)
                .unwrap_or(&text);
            Ok(log
                .lines()
                .find(|l| !l.trim().is_empty() && !l.contains("[INF]"))
                .unwrap_or_default()
                .to_string())
        }
    }
}
