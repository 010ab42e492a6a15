//! Config reloads: rewrite a server's config file, send SIGHUP, and wait
//! for the log line that says whether the server applied it.

use super::{eventually, Server};
use anyhow::{bail, Context, Result};
use nix::sys::signal::Signal;
use std::time::Duration;

/// The listen lines of a config the kit starts: 127.0.0.1 and its port.
pub const LISTEN: &str = "host: 127.0.0.1\nport: {{client_port}}\n";
/// What a server logs when it applied a reload.
pub const RELOADED: &str = "Reloaded server configuration";
/// What a server logs when it refused a reload, before the reason.
pub const FAILED: &str = "Failed to reload server configuration: ";
/// How long a reload may take.
const WAIT: Duration = Duration::from_secs(5);

/// The lines of `text` that contain `needle`.
pub fn count_lines(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

/// What the server did with a reloaded config.
pub enum Outcome {
    Applied,
    /// Refused: the log line that says so.
    Refused(String),
}

/// The reason a refusal's log line gives (what follows [`FAILED`]).
pub fn reason(line: &str) -> &str {
    line.split_once(FAILED).map(|x| x.1).unwrap_or_default()
}

/// Rewrites the whole config file, sends SIGHUP and waits for the server to
/// log that it applied or refused it.
pub async fn hup(s: &Server, conf: &str) -> Result<Outcome> {
    let logs = s.logs();
    let (ok0, err0) = (count_lines(&logs, RELOADED), count_lines(&logs, FAILED));
    s.rewrite_conf(conf)?;
    s.signal(Signal::SIGHUP)?;
    eventually(WAIT, || async move {
        let logs = s.logs();
        if count_lines(&logs, RELOADED) > ok0 {
            return Ok(Some(Outcome::Applied));
        }
        let refused = logs.lines().filter(|l| l.contains(FAILED)).nth(err0);
        Ok(refused.map(|line| Outcome::Refused(line.to_string())))
    })
    .await
    .context("waiting for the reload to be applied or refused")
}

/// Reloads with this whole config; it must be applied.
pub async fn reload_conf(s: &Server, conf: &str) -> Result<()> {
    match hup(s, conf).await? {
        Outcome::Applied => Ok(()),
        Outcome::Refused(line) => bail!("reload refused: {}", reason(&line)),
    }
}

/// Reloads with this body after the [`LISTEN`] lines; it must be applied.
pub async fn reload(s: &Server, body: &str) -> Result<()> {
    reload_conf(s, &format!("{LISTEN}{body}")).await
}
