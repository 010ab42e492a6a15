//! The scenario kit: what a scenario body uses to start servers and talk to
//! them from outside, and to record what it observed.

pub mod browser;
pub mod certs;
pub mod conf;
pub mod encoding;
pub mod js;
pub mod ports;
pub mod pubsub;
pub mod raw;
pub mod reload;
pub mod server;
pub mod tls_raw;
pub mod ws;

pub use conf::{check_config, check_configs, config_test, config_test_raw, refused_start};
pub use encoding::b64url;
pub use pubsub::{delivered, login, publish, show, subscribe, user};
pub use raw::{Msg, Op, RawClient};
pub use reload::{reload, LISTEN};
pub use server::{Finished, Ports, Ready, Server, ServerSpec, Target};

use crate::normalize;
use anyhow::{anyhow, Context, Result};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The server binaries of the two targets.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub rust: PathBuf,
    pub go: PathBuf,
}

impl Binaries {
    pub fn of(&self, target: Target) -> &PathBuf {
        match target {
            Target::Rust => &self.rust,
            Target::Go => &self.go,
        }
    }
}

struct CtxInner {
    target: Target,
    bin: PathBuf,
    /// The other target's binary (see [`Ctx::other_server`]).
    other_bin: PathBuf,
    dir: tempfile::TempDir,
    next_server: Mutex<u32>,
    env: Mutex<Vec<(String, String)>>,
    observations: Mutex<Vec<(String, String)>>,
}

fn other(target: Target) -> Target {
    match target {
        Target::Rust => Target::Go,
        Target::Go => Target::Rust,
    }
}

/// What a scenario body gets: its target, a temporary folder, and a place to
/// put observations. Cheap to clone.
#[derive(Clone)]
pub struct Ctx(Arc<CtxInner>);

impl Ctx {
    pub fn new(target: Target, bins: &Binaries) -> Result<Ctx> {
        Ok(Ctx(Arc::new(CtxInner {
            target,
            bin: bins.of(target).clone(),
            other_bin: bins.of(other(target)).clone(),
            dir: tempfile::Builder::new().prefix("parity-").tempdir()?,
            next_server: Mutex::new(0),
            env: Mutex::default(),
            observations: Mutex::default(),
        })))
    }

    pub fn target(&self) -> Target {
        self.0.target
    }

    /// A fresh folder inside the scenario's temporary folder.
    pub fn new_dir(&self, prefix: &str) -> Result<PathBuf> {
        let mut n = self.0.next_server.lock().expect("counter");
        *n += 1;
        let dir = self.0.dir.path().join(format!("{prefix}{n}"));
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// Starts a server of this scenario's target and waits until it is ready.
    pub async fn server(&self, spec: ServerSpec) -> Result<Server> {
        let dir = self.new_dir("s")?;
        Server::start(self.0.target, &self.0.bin, dir, spec, self.env()).await
    }

    /// Starts a server of the *other* target and waits until it is ready:
    /// for what one server leaves on disk and the other must read (a
    /// store one wrote, the other opens). A scenario that uses it checks
    /// natsd against Go on both targets, in the two directions.
    pub async fn other_server(&self, spec: ServerSpec) -> Result<Server> {
        let dir = self.new_dir("o")?;
        let target = other(self.0.target);
        Server::start(target, &self.0.other_bin, dir, spec, self.env()).await
    }

    /// A server with nothing but its listen address configured.
    pub async fn default_server(&self) -> Result<Server> {
        self.server(ServerSpec::new()).await
    }

    /// Runs the server binary to completion with these flags (for `-t`, `-v`, ...).
    pub async fn run_binary(&self, args: &[&str]) -> Result<Finished> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        server::run_to_exit(
            &self.0.bin,
            self.0.dir.path(),
            &args,
            &self.env(),
            Duration::from_secs(10),
        )
        .await
    }

    /// Sets an environment variable for every server and binary this
    /// scenario starts from now on (never in the harness's own process).
    pub fn set_env(&self, name: &str, value: &str) {
        self.0
            .env
            .lock()
            .expect("env")
            .push((name.to_string(), value.to_string()));
    }

    fn env(&self) -> Vec<(String, String)> {
        self.0.env.lock().expect("env").clone()
    }

    /// Writes a file into the scenario's folder and returns its path.
    pub fn write_file(&self, name: &str, contents: &str) -> Result<PathBuf> {
        let path = self.0.dir.path().join(name);
        std::fs::write(&path, contents)?;
        Ok(path)
    }

    /// A raw protocol connection to the server, after reading its INFO.
    pub async fn raw(&self, server: &Server) -> Result<(RawClient, Value)> {
        RawClient::connect_info(&server.addr()).await
    }

    /// A raw connection that has sent `CONNECT {connect}` and got the PONG of a PING.
    pub async fn raw_connected(&self, server: &Server, connect: &str) -> Result<RawClient> {
        let (mut c, _) = self.raw(server).await?;
        c.send(&format!("CONNECT {connect}\r\n")).await?;
        c.flush().await?;
        Ok(c)
    }

    /// A raw connection of an nkey user: reads the INFO, signs its nonce
    /// with `kp`, sends `CONNECT {json}` where `json` is what
    /// `connect(public key, signature)` returns (so the caller chooses the
    /// fields and their order), then waits as `then` says. Returns the
    /// connection and the INFO, for the scenario's own checks on it (the
    /// nonce is only known to be there: the kit could not sign without it).
    pub async fn nkey_connected(
        &self,
        server: &Server,
        kp: &nkeys::KeyPair,
        connect: impl FnOnce(&str, &str) -> String,
        then: Then,
    ) -> Result<(RawClient, Value)> {
        let (mut c, info) = self.raw(server).await?;
        let nonce = info["nonce"].as_str().context("INFO has no nonce")?;
        let sig = kp
            .sign(nonce.as_bytes())
            .map_err(|e| anyhow!("signing the nonce: {e}"))?;
        let json = connect(&kp.public_key(), &b64url(&sig));
        c.send(&format!("CONNECT {json}\r\n")).await?;
        match then {
            Then::Ok => {
                c.expect(r"(?:PING\r\n)*\+OK\r\n").await?;
            }
            Then::PingPong => c.flush().await?,
        }
        Ok((c, info))
    }

    /// An async-nats client connected to the server.
    pub async fn client(&self, server: &Server) -> Result<async_nats::Client> {
        self.client_with(server, async_nats::ConnectOptions::new())
            .await
    }

    pub async fn client_with(
        &self,
        server: &Server,
        options: async_nats::ConnectOptions,
    ) -> Result<async_nats::Client> {
        let connect = options
            .connection_timeout(Duration::from_secs(3))
            .max_reconnects(Some(0))
            .connect(server.url());
        tokio::time::timeout(Duration::from_secs(5), connect)
            .await
            .map_err(|_| anyhow!("async-nats connect to {} timed out", server.url()))?
            .with_context(|| format!("async-nats connect to {}", server.url()))
    }

    /// GET a monitoring endpoint: status code and body.
    pub async fn http_get(&self, server: &Server, path: &str) -> Result<(u16, String)> {
        let url = format!("{}{}", server.http_base()?, path);
        let response = reqwest::Client::new()
            .get(&url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    /// GET a monitoring endpoint that answers JSON.
    pub async fn http_json(&self, server: &Server, path: &str) -> Result<Value> {
        let (status, body) = self.http_get(server, path).await?;
        anyhow::ensure!(status == 200, "GET {path}: status {status}: {body}");
        serde_json::from_str(&body).with_context(|| format!("GET {path}: not JSON: {body}"))
    }

    /// Records a text observation (normalized: ids, ports and times masked).
    pub fn observe(&self, key: &str, value: impl AsRef<str>) {
        self.push(key, normalize::text(value.as_ref()));
    }

    /// Records a JSON observation, normalized and with sorted keys.
    pub fn observe_json(&self, key: &str, value: &Value) {
        self.push(key, normalize::json(value).to_string());
    }

    fn push(&self, key: &str, value: String) {
        self.0
            .observations
            .lock()
            .expect("observations")
            .push((key.to_string(), value));
    }

    /// What the scenario observed, in order.
    pub fn observations(&self) -> Vec<(String, String)> {
        self.0.observations.lock().expect("observations").clone()
    }
}

/// What a raw client waits for once it has sent its CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// The +OK of a verbose CONNECT; PINGs the server sends first are skipped.
    Ok,
    /// Sends a PING and waits for its PONG.
    PingPong,
}

/// The CONNECT of a client that asks for neither +OK nor pedantic checks.
pub const QUIET: &str = r#"{"verbose":false,"pedantic":false}"#;

/// A connection that sent a [`QUIET`] CONNECT and got its PONG.
pub async fn quiet(ctx: &Ctx, s: &Server) -> Result<RawClient> {
    ctx.raw_connected(s, QUIET).await
}

/// Subscriptions in the global account, from /subsz.
pub async fn global_subs(ctx: &Ctx, s: &Server) -> Result<i64> {
    account_subs(ctx, s, "$G").await
}

/// `num_subscriptions` of one account's sublist, from `/subsz?acc=`.
pub async fn account_subs(ctx: &Ctx, s: &Server, acc: &str) -> Result<i64> {
    let v = ctx.http_json(s, &format!("/subsz?acc={acc}")).await?;
    v["num_subscriptions"]
        .as_i64()
        .with_context(|| format!("/subsz?acc={acc} without num_subscriptions: {v}"))
}

/// The account names /accountz lists, sorted.
pub async fn account_names(ctx: &Ctx, s: &Server) -> Result<Vec<String>> {
    let v = ctx.http_json(s, "/accountz").await?;
    let mut names: Vec<String> = v["accounts"]
        .as_array()
        .context("/accountz has no accounts")?
        .iter()
        .filter_map(|a| a.as_str().map(String::from))
        .collect();
    names.sort();
    Ok(names)
}

/// The `account_detail` of one account in /accountz (`$` escaped in the
/// query); an account the server does not know fails.
pub async fn account_detail(ctx: &Ctx, s: &Server, name: &str) -> Result<Value> {
    let v = ctx
        .http_json(s, &format!("/accountz?acc={}", name.replace('$', "%24")))
        .await?;
    let d = v["account_detail"].clone();
    if d.is_null() {
        anyhow::bail!("/accountz has no account_detail for {name}: {v}");
    }
    Ok(d)
}

/// Each client connection of /connz?auth=true as `user in account`, the
/// user shown by its name in `names` when it has one there, sorted. A
/// connection without a user shows as `<no user>`, one in the global
/// account (which Go does not name) as `<global>`.
pub async fn connz_users(
    ctx: &Ctx,
    s: &Server,
    names: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<String>> {
    let connz = ctx.http_json(s, "/connz?auth=true").await?;
    let mut out: Vec<String> = connz["connections"]
        .as_array()
        .context("/connz has no connections")?
        .iter()
        .map(|c| {
            let who = c["authorized_user"].as_str().unwrap_or_default();
            let who = names.get(who).map(String::as_str).unwrap_or(who);
            let who = if who.is_empty() { "<no user>" } else { who };
            format!("{who} in {}", c["account"].as_str().unwrap_or("<global>"))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// The accounts an export of /accountz is approved for, sorted (none for
/// a public export).
pub fn approved_accounts(export: &Value) -> Vec<String> {
    let mut accounts: Vec<String> = export["approved_accounts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    accounts.sort();
    accounts
}

/// Fails with a message naming what differed, like the Go tests' `t.Fatalf`.
#[macro_export]
macro_rules! check_eq {
    ($got:expr, $want:expr $(,)?) => {{
        let (got, want) = (&$got, &$want);
        if got != want {
            anyhow::bail!("{}: got {:?}, want {:?}", stringify!($got), got, want);
        }
    }};
}

/// Polls `check` every 20 ms until it yields a value, for at most `timeout`;
/// the last error (or "no value") says why it never did. For state a scenario
/// can only see by asking again, like a monitoring counter.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last = match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => anyhow!("condition not met"),
            Err(e) => e,
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(last.context(format!("still not met after {timeout:?}")));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
