//! A real browser for scenarios: the official NATS browser client (npm
//! `nats.ws`) in headless Chromium, run by `conformance/browser/run.mjs`
//! (playwright-core). What it needs lives outside the Rust build (Debian's
//! chromium, node and the folder's node_modules), so [`missing`] says what
//! is absent and the registry's `Need::Browser` skips a scenario on it.

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// Debian's Chromium, as scripts/setup.sh installs it.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The npm packages run.mjs loads, from conformance/browser/node_modules.
const PACKAGES: [&str; 2] = ["nats.ws", "playwright-core"];

/// conformance/browser in the source tree this parity was built from.
fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Why the browser cannot run on this machine, or `None` when it can.
pub fn missing() -> Option<String> {
    if !Path::new(CHROMIUM).is_file() {
        return Some(format!(
            "{CHROMIUM} not found (scripts/setup.sh installs Debian's chromium)"
        ));
    }
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !node.is_ok_and(|s| s.success()) {
        return Some("node not found on PATH".into());
    }
    let modules = dir().join("node_modules");
    PACKAGES
        .iter()
        .find(|p| !modules.join(p).join("package.json").is_file())
        .map(|p| {
            format!(
                "{} has no {p} (scripts/setup.sh runs npm ci there)",
                modules.display()
            )
        })
}

/// What run.mjs printed: the page's own report, the WebSocket handshake as
/// the browser saw it, and the page's console and errors.
#[derive(Debug, Deserialize)]
pub struct PageRun {
    /// `window.__result` of the page; `None` when it never got that far.
    pub page: Option<Value>,
    pub handshake: Option<Handshake>,
    pub console: Vec<String>,
    pub page_errors: Vec<String>,
    /// The runner's own failure (launch, navigation, timeout).
    pub error: Option<String>,
}

/// The upgrade request and response headers, from the DevTools protocol.
#[derive(Debug, Deserialize)]
pub struct Handshake {
    pub request: Option<BTreeMap<String, String>>,
    pub status: Option<u16>,
    pub response: Option<BTreeMap<String, String>>,
}

impl Handshake {
    /// A response header, by case-insensitive name.
    pub fn response_header(&self, name: &str) -> Option<&str> {
        header(self.response.as_ref()?, name)
    }

    /// A request header, by case-insensitive name.
    pub fn request_header(&self, name: &str) -> Option<&str> {
        header(self.request.as_ref()?, name)
    }
}

fn header<'a>(headers: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl PageRun {
    /// The page's report, or why there is none (with its console and errors).
    pub fn page(&self) -> Result<&Value> {
        match (&self.page, &self.error) {
            (Some(page), None) => Ok(page),
            (_, error) => Err(anyhow!(
                "the browser run failed: {}; console: {:?}; page errors: {:?}",
                error.as_deref().unwrap_or("no report from the page"),
                self.console,
                self.page_errors
            )),
        }
    }
}

/// Opens the page in a headless Chromium whose profile is the fresh folder
/// `profile`, with `ws_url` for nats.ws to connect to, and waits for its
/// report. The runner gives up after `wait`; should it hang past that, it
/// is killed (Chromium exits with it when their pipe closes).
pub async fn run_page(ws_url: &str, profile: &Path, wait: Duration) -> Result<PageRun> {
    let child = tokio::process::Command::new("node")
        .arg(dir().join("run.mjs"))
        .arg(ws_url)
        .arg(profile)
        .arg(CHROMIUM)
        .arg(wait.as_millis().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting node conformance/browser/run.mjs")?;
    let grace = Duration::from_secs(10);
    let out = tokio::time::timeout(wait + grace, child.wait_with_output())
        .await
        .map_err(|_| anyhow!("run.mjs gave no result within {:?}", wait + grace))??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let Some(line) = stdout.lines().last() else {
        bail!(
            "run.mjs printed nothing (exit {}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    };
    serde_json::from_str(line).with_context(|| format!("run.mjs printed {line:?}"))
}
