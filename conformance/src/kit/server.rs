//! Starting and controlling one server process of either target, from a config
//! file written from a template, on allocated ports, with its log captured.

use super::ports;
use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// Which server a run drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// natsd, built from this workspace.
    Rust,
    /// The Go reference, nats-server 2.9.10.
    Go,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Rust => "rust",
            Target::Go => "go",
        }
    }
}

/// How long a server may take to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a graceful stop may take before the process is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the output of an exited server may take to be read to its end.
const OUTPUT_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// What both servers log once they accept clients.
const READY_LINE: &str = "Server is ready";

/// How the kit knows a started server accepts clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// Its log says "Server is ready".
    LogLine,
    /// Its client port accepts a TCP connection (for servers that log to a file).
    ClientPort,
}

/// What to start: a config body and extra flags.
///
/// The config body may use placeholders, each replaced before the file is
/// written: `{{client_port}}`, `{{http_port}}`, `{{cluster_port}}`, `{{ws_port}}` (allocated
/// ports) and `{{dir}}` (the server's own temporary folder). Unless
/// [`ServerSpec::own_listen`] is set, `host: 127.0.0.1` and `port:
/// {{client_port}}` are put before the body.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    conf: String,
    args: Vec<String>,
    own_listen: bool,
    ready: Ready,
}

impl Default for ServerSpec {
    fn default() -> Self {
        Self {
            conf: String::new(),
            args: Vec::new(),
            own_listen: false,
            ready: Ready::LogLine,
        }
    }
}

impl ServerSpec {
    pub fn new() -> Self {
        Self::default()
    }

    /// Config file body (template).
    pub fn conf(mut self, body: &str) -> Self {
        self.conf = body.to_string();
        self
    }

    /// Extra command-line flags after `-c FILE`.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The body sets the client listen address itself (with `{{client_port}}`).
    pub fn own_listen(mut self) -> Self {
        self.own_listen = true;
        self
    }

    pub fn ready(mut self, ready: Ready) -> Self {
        self.ready = ready;
        self
    }
}

/// Ports a server was given; the same ones survive a restart.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub client: u16,
    pub http: Option<u16>,
    pub cluster: Option<u16>,
    /// The WebSocket listener's, for `{{ws_port}}`.
    pub ws: Option<u16>,
}

/// The captured stderr and stdout of a server, and a counter that moves each
/// time more arrives or the stream ends.
#[derive(Default)]
struct LogState {
    text: String,
    closed: bool,
}

struct Log {
    state: Mutex<LogState>,
    version: watch::Sender<u64>,
}

impl Log {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::default(),
            version: watch::channel(0).0,
        })
    }

    fn push(&self, chunk: &[u8], closed: bool) {
        {
            let mut st = self.state.lock().expect("log lock");
            st.text.push_str(&String::from_utf8_lossy(chunk));
            st.closed |= closed;
        }
        self.version.send_modify(|v| *v += 1);
    }

    fn snapshot(&self) -> (String, bool) {
        let st = self.state.lock().expect("log lock");
        (st.text.clone(), st.closed)
    }
}

/// A running (or stopped) server. Dropping it kills the process.
pub struct Server {
    target: Target,
    bin: PathBuf,
    dir: PathBuf,
    conf_path: PathBuf,
    args: Vec<String>,
    ports: Ports,
    ready: Ready,
    env: Vec<(String, String)>,
    child: Option<Child>,
    log: Arc<Log>,
}

impl Server {
    /// Writes the config and starts the server; returns once it is ready.
    pub(crate) async fn start(
        target: Target,
        bin: &Path,
        dir: PathBuf,
        spec: ServerSpec,
        env: Vec<(String, String)>,
    ) -> Result<Server> {
        std::fs::create_dir_all(&dir)?;
        let needs = |p: &str| spec.conf.contains(p);
        let ports = Ports {
            client: ports::alloc()?,
            http: needs("{{http_port}}").then(ports::alloc).transpose()?,
            cluster: needs("{{cluster_port}}").then(ports::alloc).transpose()?,
            ws: needs("{{ws_port}}").then(ports::alloc).transpose()?,
        };
        let mut conf = String::new();
        if !spec.own_listen {
            conf.push_str("host: 127.0.0.1\nport: {{client_port}}\n");
        }
        conf.push_str(&spec.conf);
        let conf = render(&conf, &ports, &dir);
        let conf_path = dir.join("server.conf");
        std::fs::write(&conf_path, conf)?;
        let mut server = Server {
            target,
            bin: bin.to_path_buf(),
            dir,
            conf_path,
            args: spec.args,
            ports,
            ready: spec.ready,
            env,
            child: None,
            log: Log::new(),
        };
        server.spawn(READY_TIMEOUT).await?;
        Ok(server)
    }

    async fn spawn(&mut self, ready_timeout: Duration) -> Result<()> {
        self.log = Log::new();
        let mut child = Command::new(&self.bin)
            .arg("-c")
            .arg(&self.conf_path)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        let stderr = child.stderr.take().expect("piped stderr");
        let stdout = child.stdout.take().expect("piped stdout");
        let log = self.log.clone();
        tokio::spawn(capture(stderr, stdout, log));
        self.child = Some(child);
        self.wait_ready(ready_timeout).await
    }

    async fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let result = match self.ready {
            Ready::LogLine => self.wait_for_log(READY_LINE, timeout).await.map(|_| ()),
            Ready::ClientPort => self.wait_for_port(timeout).await,
        };
        result.map_err(|e| {
            anyhow!(
                "{} server did not become ready: {e:#}\n--- log ---\n{}",
                self.target.as_str(),
                self.logs()
            )
        })
    }

    async fn wait_for_port(&mut self, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if tokio::net::TcpStream::connect(self.addr()).await.is_ok() {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!("exited with {status}");
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "client port {} not open after {timeout:?}",
                    self.ports.client
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn target(&self) -> Target {
        self.target
    }

    pub fn ports(&self) -> Ports {
        self.ports
    }

    /// `127.0.0.1:PORT` of the client listener.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.ports.client)
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr())
    }

    /// `http://127.0.0.1:PORT` of the monitoring listener, when the config has one.
    pub fn http_base(&self) -> Result<String> {
        let port = self
            .ports
            .http
            .context("this server has no {{http_port}} in its config")?;
        Ok(format!("http://127.0.0.1:{port}"))
    }

    /// `127.0.0.1:PORT` of the WebSocket listener, when the config has one.
    pub fn ws_addr(&self) -> Result<String> {
        let port = self
            .ports
            .ws
            .context("this server has no {{ws_port}} in its config")?;
        Ok(format!("127.0.0.1:{port}"))
    }

    /// The server's own folder (config file, store, pid and log files).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// Everything the server has written to stderr and stdout so far.
    pub fn logs(&self) -> String {
        self.log.snapshot().0
    }

    /// Waits until a log line contains `needle`; returns that line.
    pub async fn wait_for_log(&self, needle: &str, timeout: Duration) -> Result<String> {
        let mut rx = self.log.version.subscribe();
        let wait = async {
            loop {
                let (text, closed) = self.log.snapshot();
                if let Some(line) = text.lines().find(|l| l.contains(needle)) {
                    return Ok(line.to_string());
                }
                if closed {
                    bail!("the server's output ended without {needle:?}");
                }
                rx.changed().await?;
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| anyhow!("no log line with {needle:?} within {timeout:?}"))?
    }

    /// Sends a signal to the process.
    pub fn signal(&self, signal: Signal) -> Result<()> {
        let pid = self.pid().context("server is not running")?;
        kill(Pid::from_raw(pid as i32), signal)?;
        Ok(())
    }

    /// Waits for the process to exit on its own, and for the last of its
    /// output to be captured, so that [`Server::logs`] is complete after it.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let child = self.child.as_mut().context("server is not running")?;
        let status = tokio::time::timeout(timeout, child.wait())
            .await
            .map_err(|_| anyhow!("server still running after {timeout:?}"))??;
        self.child = None;
        let mut rx = self.log.version.subscribe();
        let drained = async {
            while !self.log.snapshot().1 {
                if rx.changed().await.is_err() {
                    break;
                }
            }
        };
        // A child of the server could hold the pipes open; do not wait on it forever.
        let _ = tokio::time::timeout(OUTPUT_DRAIN_TIMEOUT, drained).await;
        Ok(status)
    }

    /// Graceful stop (SIGTERM), killed if it takes longer than a few seconds.
    pub async fn stop(&mut self) -> Result<()> {
        if self.child.is_none() {
            return Ok(());
        }
        self.signal(Signal::SIGTERM)?;
        if self.wait_exit(STOP_TIMEOUT).await.is_err() {
            self.kill().await?;
        }
        Ok(())
    }

    /// SIGKILL, like a crash.
    pub async fn kill(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }

    /// Stops the server and starts it again with the same config, ports and store.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop().await?;
        self.spawn(READY_TIMEOUT).await
    }

    /// Starts a server that was stopped or killed again, with the same
    /// config, ports and store, waiting up to `ready_timeout` for it to be
    /// ready (a large store may take longer to recover than a start does).
    pub async fn start_again(&mut self, ready_timeout: Duration) -> Result<()> {
        if self.child.is_some() {
            bail!("the server is still running");
        }
        self.spawn(ready_timeout).await
    }

    /// Rewrites the config file (template, same placeholders) without
    /// restarting. The body is written as given: unlike at start, no `host`
    /// and `port` lines are put before it, so a body that keeps the same
    /// listener says `port: {{client_port}}` itself.
    pub fn rewrite_conf(&self, body: &str) -> Result<()> {
        std::fs::write(&self.conf_path, render(body, &self.ports, &self.dir))?;
        Ok(())
    }
}

fn render(template: &str, ports: &Ports, dir: &Path) -> String {
    let port = |p: Option<u16>| p.map(|p| p.to_string()).unwrap_or_default();
    template
        .replace("{{client_port}}", &ports.client.to_string())
        .replace("{{http_port}}", &port(ports.http))
        .replace("{{cluster_port}}", &port(ports.cluster))
        .replace("{{ws_port}}", &port(ports.ws))
        .replace("{{dir}}", &dir.to_string_lossy())
}

/// Copies both output streams into the log until both end.
async fn capture(
    mut stderr: tokio::process::ChildStderr,
    mut stdout: tokio::process::ChildStdout,
    log: Arc<Log>,
) {
    let (mut err_buf, mut out_buf) = ([0u8; 8192], [0u8; 8192]);
    let (mut err_open, mut out_open) = (true, true);
    while err_open || out_open {
        tokio::select! {
            n = stderr.read(&mut err_buf), if err_open => match n {
                Ok(n) if n > 0 => log.push(&err_buf[..n], false),
                _ => err_open = false,
            },
            n = stdout.read(&mut out_buf), if out_open => match n {
                Ok(n) if n > 0 => log.push(&out_buf[..n], false),
                _ => out_open = false,
            },
        }
    }
    log.push(b"", true);
}

/// What a server binary did when run to completion (e.g. `-t`, `-v`, `-h`).
#[derive(Debug, Clone)]
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary with `args` until it exits, within `timeout`.
pub(crate) async fn run_to_exit(
    bin: &Path,
    dir: &Path,
    args: &[String],
    env: &[(String, String)],
    timeout: Duration,
) -> Result<Finished> {
    let child = Command::new(bin)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let out = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| anyhow!("{} {args:?} still running after {timeout:?}", bin.display()))??;
    Ok(Finished {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}
