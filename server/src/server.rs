//! The server: listener, client registry, start-up and shutdown, lame duck
//! mode.

pub mod services;
pub mod websocket;

use crate::auth;
use crate::conn::client::reader::Reader;
use crate::conn::client::writer::{self, PingConfig, Sink};
use crate::core::account::{Account, Accounts};
use crate::core::connection::{ClosedState, Connection};
use crate::flags::Flags;
use crate::net::{bind_listener, go_net_error, join_host_port, resolve};
use crate::options::Options;
use crate::ports_file;
use crate::{debug, error, notice};
use foldhash::HashMap;
use natsd_proto::client::info::Info;
use parking_lot::{Mutex, RwLock};
use rand::Rng;
use services::{Monitoring, Services, SystemEvents};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

pub const VERSION: &str = "2.9.10";
/// What Go clients see in INFO's `go` field.
pub const GO_VERSION: &str = "go1.19.8";
/// Without a system account there are no internal clients.
const FIRST_CLIENT_ID_NO_SYSTEM: u64 = 1;

pub struct Server {
    /// This server's log: the one its runtime's threads are bound to when
    /// it is created (see `logging`).
    log: Arc<crate::logging::Log>,
    /// The running configuration; replaced whole by a reload.
    opts: RwLock<Arc<Options>>,
    /// The command line, applied again over the config file on reload.
    flags: Flags,
    /// Bumped by every applied reload; readers compare it once per read
    /// batch to pick up new limits and permissions.
    config_gen: AtomicU64,
    /// When the configuration was last loaded (`/varz` config_load_time).
    config_time: Mutex<SystemTime>,
    /// Serializes reloads.
    pub(crate) reload_lock: Mutex<()>,
    info: Mutex<Info>,
    /// TLS for client connections, when the `tls` block or flags ask for it.
    /// Replaced by a reload that changes the `tls` block.
    tls: RwLock<Option<Arc<crate::tls::ClientTls>>>,
    /// The listeners bound at start (for the ports file and INFO).
    bound: Mutex<Option<ports_file::Listeners>>,
    accounts: RwLock<Arc<Accounts>>,
    clients: Mutex<HashMap<u64, Arc<Connection>>>,
    next_cid: AtomicU64,
    /// The services built on this server (see `services`).
    services: Arc<dyn Services>,
    /// The system account's events, once started.
    system: std::sync::OnceLock<Arc<dyn SystemEvents>>,
    /// JetStream, while enabled.
    jetstream: RwLock<Option<Arc<crate::jetstream::JetStream>>>,
    /// Rate-limited warnings, by text, with when each was last logged.
    rate_limited: Mutex<HashMap<String, Instant>>,
    ldm: AtomicBool,
    shutting_down: AtomicBool,
    /// Wakes the accept loop to stop listening.
    stop_accept: Notify,
    /// The WebSocket listener, while it runs.
    websocket: RwLock<Option<Arc<websocket::WsListener>>>,
    /// Wakes the WebSocket accept loop to stop listening.
    stop_ws_accept: Notify,
    /// Signaled once shutdown has finished.
    done: Notify,
    self_ref: Weak<Server>,
    /// Server-wide traffic counters (`/varz`).
    pub stats: ServerStats,
    /// Monitoring's state: closed connections, HTTP request counts.
    monitoring: Arc<dyn Monitoring>,
    /// When the server was created (`/varz` start).
    pub start_wall: SystemTime,
    pub start: Instant,
}

/// Server-wide counters, updated with relaxed atomics.
#[derive(Default)]
pub struct ServerStats {
    /// Messages and bytes in and out, added to once per read batch.
    pub traffic: crate::core::account::Traffic,
    pub slow_consumers: AtomicI64,
    /// Every connection accepted so far.
    pub total_connections: AtomicU64,
}

/// Start-up failures (Go logs them as fatal).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("Error listening on port: {addr}, \"listen tcp {addr}: {reason}\"")]
    Listen { addr: String, reason: String },
    #[error("Error setting server INFO with ClientAdvertise value of {value}, err={reason}")]
    ClientAdvertise { value: String, reason: String },
    #[error("Can't start monitoring: {0}")]
    Monitor(String),
    #[error("error starting profiler: {0}")]
    Profiler(String),
    #[error("Error configuring TLS: {0}")]
    Tls(String),
    #[error("Unable to listen for websocket connections: {0}")]
    Websocket(String),
    #[error("Unable to get websocket connect URLs: {0}")]
    WebsocketUrls(String),
}

fn server_id() -> String {
    nkeys::KeyPair::new_server().public_key()
}

impl Server {
    /// A server with `services` built on it (see `launch` for natsd's).
    pub fn new(
        opts: Options,
        flags: Flags,
        services: Arc<dyn Services>,
    ) -> Result<Arc<Server>, StartError> {
        let id = server_id();
        let name = if opts.server_name.is_empty() {
            id.clone()
        } else {
            opts.server_name.clone()
        };
        let auth_required = auth::auth_required(&opts);
        let info = Info {
            server_id: id,
            server_name: name,
            version: VERSION.into(),
            proto: 1,
            go: GO_VERSION.into(),
            host: opts.host.clone(),
            port: opts.port,
            headers: !opts.no_header_support,
            auth_required,
            max_payload: opts.max_payload,
            tls_required: crate::tls::advertised(&opts).0,
            tls_available: crate::tls::advertised(&opts).1,
            tls_verify: opts.tls_config.as_ref().is_some_and(|t| t.verify),
            // Set once JetStream has started.
            jetstream: false,
            // A cluster listener without a name gets a random one.
            cluster: if opts.cluster_name.is_empty() && opts.cluster_port != 0 {
                nuid::next().to_string()
            } else {
                opts.cluster_name.clone()
            },
            ..Default::default()
        };
        let accounts = Accounts::new(&opts, None);
        let tls = match &opts.tls_config {
            Some(tc) => Some(Arc::new(
                crate::tls::ClientTls::new(tc).map_err(|e| StartError::Tls(e.to_string()))?,
            )),
            None => None,
        };
        // Go's internal clients take the first ids.
        let first_cid = if accounts.system_name().is_empty() {
            FIRST_CLIENT_ID_NO_SYSTEM
        } else {
            services.internal_connections(accounts.all().len()) + 1
        };
        // Go stamps the start and the first configuration load alike.
        let now = SystemTime::now();
        Ok(Arc::new_cyclic(|me| Server {
            log: crate::logging::current(),
            opts: RwLock::new(Arc::new(opts)),
            flags,
            config_gen: AtomicU64::new(0),
            config_time: Mutex::new(now),
            reload_lock: Mutex::new(()),
            info: Mutex::new(info),
            tls: RwLock::new(tls),
            bound: Mutex::new(None),
            accounts: RwLock::new(Arc::new(accounts)),
            clients: Mutex::new(HashMap::default()),
            next_cid: AtomicU64::new(first_cid),
            monitoring: services.monitoring(),
            services,
            system: std::sync::OnceLock::new(),
            jetstream: RwLock::new(None),
            rate_limited: Mutex::new(HashMap::default()),
            ldm: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
            stop_accept: Notify::new(),
            websocket: RwLock::new(None),
            stop_ws_accept: Notify::new(),
            done: Notify::new(),
            self_ref: me.clone(),
            stats: ServerStats::default(),
            start_wall: now,
            start: Instant::now(),
        }))
    }

    pub fn opts(&self) -> Arc<Options> {
        self.opts.read().clone()
    }

    pub(crate) fn flags(&self) -> &Flags {
        &self.flags
    }

    /// Installs a reloaded configuration and its accounts.
    pub(crate) fn install_config(&self, opts: Arc<Options>, accounts: Arc<Accounts>) {
        *self.accounts.write() = accounts;
        *self.opts.write() = opts;
        *self.config_time.lock() = SystemTime::now();
    }

    /// Tells every reader to pick up the installed configuration.
    pub(crate) fn bump_config_gen(&self) {
        self.config_gen.fetch_add(1, Ordering::Release);
    }

    /// Installs the TLS new client connections get (None: plain text).
    pub(crate) fn set_tls(&self, tls: Option<Arc<crate::tls::ClientTls>>) {
        *self.tls.write() = tls;
    }

    /// The TLS client connections currently get (None: plain text).
    pub(crate) fn client_tls(&self) -> Option<Arc<crate::tls::ClientTls>> {
        self.tls.read().clone()
    }

    /// The listeners bound at start; None before.
    pub(crate) fn bound(&self) -> Option<ports_file::Listeners> {
        *self.bound.lock()
    }

    /// Changes with every applied reload.
    pub fn config_gen(&self) -> u64 {
        self.config_gen.load(Ordering::Acquire)
    }

    /// When the running configuration was loaded.
    pub fn config_time(&self) -> SystemTime {
        *self.config_time.lock()
    }

    /// Lets a caller edit the INFO new clients get.
    pub(crate) fn update_info(&self, f: impl FnOnce(&mut Info)) {
        f(&mut self.info.lock());
    }

    pub fn info(&self) -> Info {
        self.info.lock().clone()
    }

    pub fn in_lame_duck(&self) -> bool {
        self.ldm.load(Ordering::Acquire)
    }

    /// Unregisters a closed connection: it leaves its account.
    pub fn remove_client(&self, cid: u64) {
        let Some(c) = self.clients.lock().remove(&cid) else {
            return;
        };
        let acc = c.account.lock().clone();
        acc.client_left();
        if let Some(sys) = self.system() {
            sys.client_left(&acc, acc.name == crate::options::accounts::GLOBAL_ACCOUNT);
        }
    }

    /// Monitoring's state, for the monitoring code.
    pub fn monitoring(&self) -> &dyn Monitoring {
        &*self.monitoring
    }

    /// This server's log.
    pub fn log(&self) -> &Arc<crate::logging::Log> {
        &self.log
    }

    /// A weak handle on this server, for what must not keep it alive.
    pub fn weak(&self) -> Weak<Server> {
        self.self_ref.clone()
    }

    /// The system account's internal client, when there is one.
    pub fn system(&self) -> Option<&Arc<dyn SystemEvents>> {
        self.system.get()
    }

    /// Applies the accounts' imports and exports (at start-up, after the
    /// system account's own, and after a reload).
    pub fn install_links(&self) {
        let accounts = self.accounts();
        let o = self.opts();
        crate::core::imports::install(accounts.all(), &o, |acc| {
            acc.internal_connection(|| self.new_internal_connection(acc))
        });
    }

    fn new_internal_connection(&self, acc: &Arc<Account>) -> Arc<Connection> {
        crate::conn::internal::connection(self, self.next_client_id(), acc, "ACCOUNT")
    }

    /// Go's RateLimitWarnf: a warning logged at most once a second per
    /// distinct text.
    pub fn rate_limit_warn(&self, text: String) {
        const INTERVAL: Duration = Duration::from_secs(1);
        let now = Instant::now();
        let mut seen = self.rate_limited.lock();
        seen.retain(|_, at| now.duration_since(*at) < INTERVAL);
        if seen.contains_key(&text) {
            return;
        }
        crate::warn!("{text}");
        seen.insert(text, now);
    }

    /// Starts or stops JetStream as a reload asks.
    pub fn reload_jetstream(&self, on: bool) {
        if !on {
            if let Some(js) = self.jetstream.write().take() {
                js.shutdown();
                self.info.lock().jetstream = false;
            }
            return;
        }
        let Some(me) = self.self_ref.upgrade() else {
            return;
        };
        if self.jetstream().is_none() {
            match crate::jetstream::JetStream::enable(&me) {
                Ok(js) => {
                    *self.jetstream.write() = Some(js);
                    self.info.lock().jetstream = true;
                }
                Err(e) => crate::error!("Can't start JetStream: {e}"),
            }
        }
    }

    /// JetStream, when enabled.
    pub fn jetstream(&self) -> Option<Arc<crate::jetstream::JetStream>> {
        self.jetstream.read().clone()
    }

    /// An id for a new connection or internal client.
    pub fn next_client_id(&self) -> u64 {
        self.next_cid.fetch_add(1, Ordering::Relaxed)
    }

    /// A registered client moved from `from` to `to` (at CONNECT).
    pub fn client_moved(&self, from: &Arc<Account>, to: &Arc<Account>) {
        from.client_left();
        to.client_joined();
        if let Some(sys) = self.system() {
            sys.client_left(from, from.name == crate::options::accounts::GLOBAL_ACCOUNT);
            sys.client_joined(to);
        }
    }

    /// The global account, where clients without an account of their own
    /// belong.
    pub fn global_account(&self) -> Arc<Account> {
        self.accounts.read().global().clone()
    }

    /// Every account: global, configured and system.
    pub fn accounts(&self) -> Arc<Accounts> {
        self.accounts.read().clone()
    }

    /// The open client connections.
    pub fn clients(&self) -> Vec<Arc<Connection>> {
        self.all_clients()
    }

    pub fn num_clients(&self) -> usize {
        self.clients.lock().len()
    }

    pub fn client(&self, cid: u64) -> Option<Arc<Connection>> {
        self.clients.lock().get(&cid).cloned()
    }

    /// Keeps what monitoring shows of a connection that just closed.
    pub fn record_closed(&self, c: &Connection, reason: ClosedState) {
        if let Some(sys) = self.system() {
            let global = c.account.lock().name == crate::options::accounts::GLOBAL_ACCOUNT;
            sys.client_disconnected(c, reason, global);
        }
        self.monitoring.connection_closed(c, reason);
    }

    /// Logs the banner, binds the client port and starts accepting. Returns
    /// the bound address.
    pub async fn start(self: &Arc<Self>) -> Result<SocketAddr, StartError> {
        let o = &self.opts();
        let info = self.info();
        notice!("Starting nats-server");
        notice!("  Version:  {VERSION}");
        notice!("  Git:      [not set]");
        debug!("  Go build: {GO_VERSION}");
        if !o.cluster_name.is_empty() {
            notice!("  Cluster:  {}", o.cluster_name);
        }
        notice!("  Name:     {}", info.server_name);
        notice!("  ID:       {}", info.server_id);
        if crate::auth::plaintext_passwords(o) {
            crate::warn!("Plaintext passwords detected, use nkeys or bcrypt");
        }
        let profile = if o.prof_port != 0 {
            Some(
                crate::profiler::start(&o.host, o.prof_port)
                    .await
                    .map_err(|e| StartError::Profiler(e.to_string()))?,
            )
        } else {
            None
        };
        if !o.config_file.is_empty() {
            notice!("Using configuration file: {}", o.config_file);
        }
        if o.max_payload > crate::options::MAX_PAYLOAD_MAX_SIZE {
            crate::warn!(
                "Maximum payloads over {} are generally discouraged and could lead to poor performance",
                crate::options::MAX_PAYLOAD_MAX_SIZE
            );
        }
        if !o.pid_file.is_empty() {
            if let Err(e) = std::fs::write(&o.pid_file, std::process::id().to_string()) {
                crate::fatal!("Could not write pidfile: {e}");
                std::process::exit(1);
            }
        }
        if !o.no_system_account {
            debug!("Created system account: \"$SYS\"");
        }
        if let Some(sys) = self.services.start_system(self) {
            let _ = self.system.set(sys);
        }
        self.install_links();
        let http_port = self
            .services
            .start_http(self)
            .await
            .map_err(StartError::Monitor)?;
        for feature in crate::options::unserved::unserved_listeners(o) {
            crate::warn!("{feature} is not supported by natsd yet; starting without it");
        }
        if o.jetstream {
            let system = self.accounts().system_name().to_string();
            if o.accounts
                .iter()
                .any(|a| a.name == system && a.jetstream.is_some())
            {
                crate::fatal!("Not allowed to enable JetStream on the system account");
                std::process::exit(1);
            }
            match crate::jetstream::JetStream::enable(self) {
                Ok(js) => {
                    *self.jetstream.write() = Some(js);
                    self.info.lock().jetstream = true;
                }
                Err(e) => {
                    crate::fatal!("Can't start JetStream: {e}");
                    std::process::exit(1);
                }
            }
        }
        self.start_websocket().await?;
        let host = if o.host.is_empty() {
            "0.0.0.0"
        } else {
            &o.host
        };
        let bind = join_host_port(host, o.port);
        let listener = bind_listener(host, &bind)
            .await
            .map_err(|e| StartError::Listen {
                addr: bind.clone(),
                reason: go_net_error(&e),
            })?;
        let addr = listener.local_addr().map_err(|e| StartError::Listen {
            addr: bind.clone(),
            reason: e.to_string(),
        })?;
        {
            let mut info = self.info.lock();
            info.port = i64::from(addr.port());
        }
        notice!(
            "Listening for client connections on {}",
            join_host_port(host, i64::from(addr.port()))
        );
        if self.tls.read().is_some() {
            notice!("TLS required for client connections");
        }
        if !o.client_advertise.is_empty() {
            let mut info = self.info.lock();
            let (host, port) = crate::net::parse_host_port(&o.client_advertise, info.port)
                .map_err(|reason| StartError::ClientAdvertise {
                    value: o.client_advertise.clone(),
                    reason: reason.to_string(),
                })?;
            info.host = host;
            info.port = port;
        }
        if host == "0.0.0.0" || host == "::" {
            debug!("Get non local IPs for \"{host}\"");
        }
        let listeners = ports_file::Listeners {
            nats: addr,
            monitoring: http_port.map(|p| resolve(&o.http_host, p)),
            monitoring_tls: o.http_port == 0 && o.https_port != 0,
            profile,
        };
        if !o.ports_file_dir.is_empty() {
            ports_file::write(&o.ports_file_dir, &listeners);
        }
        *self.bound.lock() = Some(listeners);
        notice!("Server is ready");
        let me = self.clone();
        tokio::spawn(async move { me.accept_loop(listener).await });
        Ok(addr)
    }

    async fn accept_loop(self: Arc<Self>, listener: TcpListener) {
        let mut delay = Duration::from_millis(10);
        loop {
            let accepted = tokio::select! {
                _ = self.stop_accept.notified() => break,
                r = listener.accept() => r,
            };
            match accepted {
                Ok((stream, peer)) => {
                    delay = Duration::from_millis(10);
                    self.create_client(stream, peer);
                }
                Err(e) => {
                    error!(
                        "Temporary Client Accept Error({e}), sleeping {}ms",
                        delay.as_millis()
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    fn create_client(self: &Arc<Self>, stream: TcpStream, peer: SocketAddr) {
        let _ = stream.set_nodelay(true);
        let o = &self.opts();
        let cid = self.next_client_id();
        self.stats.total_connections.fetch_add(1, Ordering::Relaxed);
        let client = Arc::new(Connection::client(
            cid,
            self.self_ref.clone(),
            // An IPv4 client of the dual-stack listener shows as itself.
            peer.ip().to_canonical().to_string(),
            peer.port(),
            crate::core::connection::Transport::Tcp,
            o.max_pending,
            self.global_account(),
            Instant::now() + o.ping_interval,
        ));
        let mut info = self.info();
        let auth_required = auth::auth_required(o);
        info.auth_required = auth_required;
        client
            .expect_connect
            .store(auth_required, Ordering::Release);
        let nonce = if !o.nkeys.is_empty() {
            crate::auth::nkey::new_nonce()
        } else {
            String::new()
        };
        info.nonce = nonce.clone();
        if info.auth_required && !o.no_auth_user.is_empty() && !o.no_auth_user_is_hidden {
            info.auth_required = false;
        }
        info.client_id = cid;
        info.client_ip = client.host.clone();
        debug!("{} - Client connection created", client.label());
        let cfg = PingConfig::of(o);
        let nonce = nonce.into_bytes();
        let tls = self.tls.read().clone();
        let Some(tls) = tls else {
            client.send(&info.to_line());
            let (rd, wr) = stream.into_split();
            tokio::spawn(writer::run(self.weak(), client.clone(), Sink::Tcp(wr), cfg));
            if let Some(reader) = self.register(client, nonce, auth_required) {
                tokio::spawn(reader.run(rd));
            }
            return;
        };
        (info.tls_required, info.tls_available) = crate::tls::advertised(o);
        info.tls_verify = tls.verify;
        let plain_allowed = o.allow_non_tls;
        let me = self.clone();
        let line = info.to_line();
        tokio::spawn(async move {
            let accepted = handshake(&me, stream, &client, &line, &tls, plain_allowed).await;
            match accepted {
                None => {}
                Some(Accepted::Tls(stream)) => {
                    let (rd, wr) = tokio::io::split(*stream);
                    tokio::spawn(writer::run(me.weak(), client.clone(), Sink::Tls(wr), cfg));
                    // The authentication timer starts after the handshake.
                    Reader::new(me, client, nonce, auth_required).run(rd).await;
                }
                Some(Accepted::Plain(stream)) => {
                    let (rd, wr) = stream.into_split();
                    tokio::spawn(writer::run(me.weak(), client.clone(), Sink::Tcp(wr), cfg));
                    Reader::new(me, client, nonce, auth_required).run(rd).await;
                }
            }
        });
    }

    /// Admits a connection whose writer runs: refused while shutting down or
    /// at max_connections, else registered. Returns its reader.
    fn register(
        self: &Arc<Self>,
        client: Arc<Connection>,
        nonce: Vec<u8>,
        auth_required: bool,
    ) -> Option<Reader> {
        match self.admit(&client) {
            Ok(()) => Some(Reader::new(self.clone(), client, nonce, auth_required)),
            Err(refusal) => {
                if let Some(line) = refusal.error_line() {
                    client.send(&line);
                }
                refusal.close(&client);
                None
            }
        }
    }

    /// Go's checks before a connection joins the server's clients (done
    /// before a TLS handshake, so that /connz lists a client still in its
    /// handshake): not while shutting down, not beyond max_connections.
    fn admit(&self, client: &Arc<Connection>) -> Result<(), Refusal> {
        if self.shutting_down.load(Ordering::Acquire) || self.ldm.load(Ordering::Acquire) {
            return Err(Refusal::ShuttingDown);
        }
        let max_conn = self.opts().max_conn;
        let mut clients = self.clients.lock();
        if max_conn > 0 && clients.len() as i64 >= max_conn {
            return Err(Refusal::MaxConnections);
        }
        clients.insert(client.cid, client.clone());
        drop(clients);
        let acc = client.account.lock().clone();
        acc.client_joined();
        if let Some(sys) = self.system() {
            sys.client_joined(&acc);
        }
        Ok(())
    }

    fn all_clients(&self) -> Vec<Arc<Connection>> {
        self.clients.lock().values().cloned().collect()
    }

    /// Go's Shutdown: stop accepting, close every client, finish.
    pub async fn shutdown(&self) {
        if self.shutting_down.swap(true, Ordering::AcqRel) {
            return;
        }
        let js = self.jetstream.read().clone();
        if let Some(js) = js {
            if js.signal_pull_consumers() {
                // Time for the notices to leave, as Go gives them.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        if let Some(sys) = self.system() {
            sys.shutdown().await;
        }
        notice!("Initiating Shutdown...");
        let js = self.jetstream.write().take();
        if let Some(js) = js {
            notice!("Initiating JetStream Shutdown...");
            js.shutdown();
            notice!("JetStream Shutdown");
        }
        self.stop_accept.notify_one();
        self.stop_ws_accept.notify_one();
        self.monitoring.stop();
        if !self.ldm.load(Ordering::Acquire) {
            debug!("Client accept loop exiting..");
        }
        let clients = self.all_clients();
        for c in &clients {
            c.close(ClosedState::ServerShutdown);
        }
        let o = self.opts();
        if !o.no_system_account {
            debug!("SYSTEM - System connection closed: Client Closed");
        }
        if !o.ports_file_dir.is_empty() {
            ports_file::remove(&o.ports_file_dir);
        }
        // Give writers a moment to flush.
        let deadline = Instant::now() + Duration::from_millis(200);
        while Instant::now() < deadline && clients.iter().any(|c| !c.out.lock().finished) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        notice!("Server Exiting..");
        self.done.notify_one();
    }

    /// Go's lame duck mode: stop accepting, tell clients, then close them
    /// spread over the configured duration, then shut down.
    pub async fn lame_duck(self: Arc<Self>) {
        if self.shutting_down.load(Ordering::Acquire) || self.ldm.swap(true, Ordering::AcqRel) {
            return;
        }
        notice!("Entering lame duck mode, stop accepting new clients");
        self.stop_accept.notify_one();
        self.stop_ws_accept.notify_one();
        let o = self.opts();
        let clients = self.all_clients();
        if clients.is_empty() {
            self.shutdown().await;
            return;
        }
        let gp = o.lame_duck_grace_period;
        let mut dur = o.lame_duck_duration.saturating_sub(gp);
        if dur.is_zero() {
            dur = Duration::from_secs(1);
        }
        let n = clients.len() as u128;
        let mut si = dur.as_nanos() / n;
        let mut batch = 1u128;
        if si < 1 {
            si = 1;
            batch = n / dur.as_nanos().max(1);
        } else if si > 1_000_000_000 {
            si = 1_000_000_000;
        }
        self.send_ldm_info(&clients);
        tokio::time::sleep(gp).await;
        notice!("Closing existing clients");
        for (i, c) in clients.iter().enumerate() {
            c.close(ClosedState::ServerShutdown);
            if i == clients.len() - 1 {
                break;
            }
            if batch == 1 || (i as u128).is_multiple_of(batch.max(1)) {
                let mut v = rand::thread_rng().gen_range(0..si.max(1) as u64);
                if (v as u128) < si / 2 {
                    v = (si / 2) as u64;
                }
                tokio::time::sleep(Duration::from_nanos(v)).await;
            }
        }
        self.shutdown().await;
    }

    fn send_ldm_info(&self, clients: &[Arc<Connection>]) {
        let mut info = self.info();
        info.ldm = true;
        for c in clients {
            if c.async_info.load(Ordering::Acquire) {
                let mut ci = info.clone();
                ci.client_id = c.cid;
                ci.client_ip = c.host.clone();
                c.send(&ci.to_line());
            }
        }
    }

    /// Resolves once shutdown has completed.
    pub async fn wait_done(&self) {
        self.done.notified().await;
    }
}

/// Warns once a second of the connections the TLS rate limit refused, while
/// these TLS settings are in use.
async fn log_rejected(tls: Arc<crate::tls::ClientTls>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Some(rate) = &tls.rate {
            let blocked = rate.take_blocked();
            if blocked > 0 {
                crate::warn!("Rejected {blocked} connections due to TLS rate limiting");
            }
        }
        // Only this task holds them: they were replaced by a reload.
        if Arc::strong_count(&tls) == 1 {
            return;
        }
    }
}

/// Why [`Server::admit`] turned a connection away.
enum Refusal {
    ShuttingDown,
    MaxConnections,
}

impl Refusal {
    /// The error the client gets, if any.
    fn error_line(&self) -> Option<Vec<u8>> {
        match self {
            Refusal::ShuttingDown => None,
            Refusal::MaxConnections => Some(natsd_proto::client::err_line(
                "maximum connections exceeded",
            )),
        }
    }

    fn close(&self, client: &Arc<Connection>) {
        match self {
            Refusal::ShuttingDown => client.close(ClosedState::ServerShutdown),
            Refusal::MaxConnections => {
                error!("{} - maximum connections exceeded", client.label());
                client.close(ClosedState::MaxConnectionsExceeded);
            }
        }
    }
}

/// How a connection of a TLS server goes on after its INFO.
enum Accepted {
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// `allow_non_tls`, and the client did not start a handshake.
    Plain(TcpStream),
}

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Sends the INFO in plain text, then runs the TLS handshake within the
/// timeout; with `plain_allowed`, a client whose first byte does not start
/// a handshake goes on in plain text, as in Go. None when it failed (the
/// client is then closed).
async fn handshake(
    srv: &Arc<Server>,
    mut stream: TcpStream,
    client: &Arc<Connection>,
    info_line: &[u8],
    tls: &Arc<crate::tls::ClientTls>,
    plain_allowed: bool,
) -> Option<Accepted> {
    use tokio::io::AsyncWriteExt;
    if stream.write_all(info_line).await.is_err() {
        client.close(ClosedState::WriteError);
        return None;
    }
    if let Err(refusal) = srv.admit(client) {
        if let Some(line) = refusal.error_line() {
            let _ = stream.write_all(&line).await;
        }
        refusal.close(client);
        return None;
    }
    if plain_allowed {
        let mut first = [0u8; 1];
        let peeked = tokio::time::timeout(tls.timeout, stream.peek(&mut first)).await;
        if !matches!(peeked, Ok(Ok(1)) if first[0] == TLS_HANDSHAKE_RECORD) {
            return Some(Accepted::Plain(stream));
        }
    }
    if let Some(rate) = &tls.rate {
        if !rate.allow() {
            let _ = stream
                .write_all(&natsd_proto::client::err_line(
                    "Connection throttling is active. Please try again later.",
                ))
                .await;
            client.close(ClosedState::MaxConnectionsExceeded);
            if rate.start_logging() {
                tokio::spawn(log_rejected(tls.clone()));
            }
            return None;
        }
    }
    debug!(
        "{} - Starting TLS client connection handshake",
        client.label()
    );
    match tokio::time::timeout(tls.timeout, tls.acceptor.accept(stream)).await {
        Ok(Ok(stream)) => {
            let state = crate::tls::agreed(stream.get_ref().1);
            if let Err(why) = tls.check_pinned(&state) {
                debug!("{} - {why}", client.label());
                error!(
                    "{} - TLS handshake error: certificate not pinned",
                    client.label()
                );
                client.close(ClosedState::TlsHandshakeError);
                return None;
            }
            debug!("{} - TLS handshake complete", client.label());
            debug!(
                "{} - TLS version {}, cipher suite {}",
                client.label(),
                state.version,
                state.cipher_suite
            );
            let _ = client.tls.set(state);
            Some(Accepted::Tls(Box::new(stream)))
        }
        Ok(Err(e)) => {
            error!("{} - TLS handshake error: {e}", client.label());
            client.close(ClosedState::TlsHandshakeError);
            None
        }
        Err(_) => {
            error!("{} - TLS handshake timeout", client.label());
            client.close(ClosedState::TlsHandshakeError);
            None
        }
    }
}

impl crate::core::connection::Owner for Server {
    fn slow_consumer(&self) {
        self.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
    }

    fn closing(&self, c: &Arc<Connection>, reason: ClosedState) {
        self.record_closed(c, reason);
    }

    fn closed(&self, cid: u64) {
        self.remove_client(cid);
    }

    fn origin(&self) -> (String, String) {
        let info = self.info();
        (info.server_name, info.cluster)
    }

    fn internal_connection(&self, acc: &Arc<Account>) -> Arc<Connection> {
        acc.internal_connection(|| self.new_internal_connection(acc))
    }

    fn server_hash(&self) -> String {
        crate::events::server_hash(&self.info().server_name)
    }

    fn account_message(&self, acc: &Arc<Account>, subject: &str, payload: Vec<u8>) {
        if let Some(sys) = self.system() {
            sys.account_message(acc.clone(), subject.to_string(), payload);
        }
    }
}
