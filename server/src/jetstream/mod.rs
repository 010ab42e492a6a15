//! JetStream on one server: persistent streams of messages, managed
//! through the `$JS.API.>` service.
//!
//! The system account exports the API and every account imports it (the
//! general service imports of `core::imports`), so a request reaches the
//! dispatcher ([`api`]) in the system account with the requestor's
//! `Nats-Request-Info` header, which names the account it acts for. A
//! JetStream-enabled account has a [`account::JsAccount`] with its limits
//! and streams; a [`stream::Stream`] subscribes to its subjects in its
//! account and stores what is published there, in the publisher's task as
//! Go does for client connections.

pub mod account;
pub mod advisories;
pub mod api;
pub mod config;
pub mod consumer;
pub mod headers;
pub mod report;
pub mod stream;
pub mod template;

use crate::core::account::Account;
use crate::core::connection::Connection;
use crate::server::Server;
use account::JsAccount;
use config::JsConfig;
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::SystemTime;

/// The subject space of the API.
pub const API_ALL: &str = "$JS.API.>";

/// JetStream as a running server has it.
pub struct JetStream {
    srv: Weak<Server>,
    pub config: JsConfig,
    /// The JetStream-enabled accounts, by name.
    accounts: RwLock<BTreeMap<String, Arc<JsAccount>>>,
    /// API requests answered, and those answered with an error.
    pub api_total: AtomicU64,
    pub api_errors: AtomicU64,
    /// Bytes the streams of every account store.
    pub stored: Arc<account::Usage>,
    /// Bytes reserved by the streams' max_bytes, per storage type.
    pub memory_reserved: AtomicI64,
    pub store_reserved: AtomicI64,
    /// The connection the API answers and advisories go out on, in the
    /// system account.
    conn: Arc<Connection>,
    pub started: SystemTime,
    /// When the server's resource limits were last reported exceeded.
    resources_alerted: parking_lot::Mutex<Option<std::time::Instant>>,
}

impl JetStream {
    /// Starts JetStream on `srv`: prepares the store directory, logs the
    /// banner, subscribes the API in the system account and enables the
    /// accounts `o` gives it to, restoring their streams from disk.
    pub fn enable(srv: &Arc<Server>) -> Result<Arc<JetStream>, String> {
        let o = srv.opts();
        crate::notice!("Starting JetStream");
        let config = JsConfig::resolve(&o);
        let accounts = srv.accounts();
        config::prepare_store_dir(&config, |name| accounts.get(name).is_some())?;
        let cipher =
            (!o.jetstream_config.key.is_empty()).then(|| match o.jetstream_config.cipher {
                crate::options::jetstream::Cipher::ChaCha => "ChaCha20-Poly1305",
                crate::options::jetstream::Cipher::Aes => "AES-GCM",
            });
        for line in config::banner(&config, cipher) {
            crate::notice!("{line}");
        }
        let system = accounts
            .get(accounts.system_name())
            .cloned()
            .ok_or("JetStream needs a system account")?;
        let conn =
            crate::conn::internal::connection(srv, srv.next_client_id(), &system, "JETSTREAM");
        let js = Arc::new(JetStream {
            srv: srv.weak(),
            config,
            accounts: RwLock::default(),
            api_total: AtomicU64::new(0),
            api_errors: AtomicU64::new(0),
            stored: Arc::default(),
            memory_reserved: AtomicI64::new(0),
            store_reserved: AtomicI64::new(0),
            conn,
            started: SystemTime::now(),
            resources_alerted: parking_lot::Mutex::new(None),
        });
        api::subscribe(&js, &system);
        crate::debug!("  Exports:");
        crate::debug!("     {API_ALL}");
        js.configure_accounts(srv)?;
        Ok(js)
    }

    pub fn server(&self) -> Option<Arc<Server>> {
        self.srv.upgrade()
    }

    /// A new JetStream connection into `account` (a stream's or a
    /// template's own), with the next client id as Go gives one.
    pub fn internal_connection(&self, account: &Arc<Account>) -> Arc<Connection> {
        let srv = self.server();
        let cid = srv.as_ref().map_or(0, |s| s.next_client_id());
        let owner = srv.as_ref().map(|s| s.weak()).unwrap_or_default();
        Arc::new(Connection::internal(
            crate::core::connection::Kind::JetStream,
            cid,
            owner,
            account.clone(),
            "JETSTREAM",
        ))
    }

    /// The connection of the API's answers, in the system account.
    pub fn connection(&self) -> &Arc<Connection> {
        &self.conn
    }

    /// Enables JetStream for the accounts the options give it to, and
    /// disables it for those they no longer do (at start-up and reload).
    pub fn configure_accounts(self: &Arc<Self>, srv: &Server) -> Result<(), String> {
        let o = srv.opts();
        let accounts = srv.accounts();
        let mut wanted: Vec<(Arc<Account>, crate::options::jetstream::AccountJsLimits)> =
            Vec::new();
        if o.accounts
            .iter()
            .all(|a| accounts.get(&a.name).is_some_and(|x| x.is_system()))
        {
            wanted.push((
                accounts.global().clone(),
                crate::options::jetstream::AccountJsLimits::UNLIMITED,
            ));
        } else {
            for ac in &o.accounts {
                if let (Some(limits), Some(acc)) = (ac.jetstream, accounts.get(&ac.name)) {
                    if acc.is_system() {
                        continue;
                    }
                    wanted.push((acc.clone(), limits));
                }
            }
        }
        let old: Vec<Arc<JsAccount>> = self.accounts.read().values().cloned().collect();
        for jsa in old {
            if !wanted.iter().any(|(a, _)| Arc::ptr_eq(a, &jsa.account)) {
                self.accounts.write().remove(&jsa.account.name);
                jsa.stop();
            }
        }
        for (acc, limits) in wanted {
            let existing = self.accounts.read().get(&acc.name).cloned();
            match existing {
                Some(jsa) if Arc::ptr_eq(&jsa.account, &acc) => jsa.set_limits(limits),
                _ => {
                    if let Some(e) = self.insufficient_resources(&limits) {
                        return Err(format!(
                            "Error enabling jetstream on configured accounts: {} ({})",
                            e.description, e.err_code
                        ));
                    }
                    let jsa = JsAccount::new(self, acc.clone(), limits);
                    self.accounts.write().insert(acc.name.clone(), jsa.clone());
                    jsa.restore(self);
                }
            }
        }
        Ok(())
    }

    /// Go's sufficientResources: the account's limits with those of the
    /// accounts enabled so far must fit the server's.
    fn insufficient_resources(
        &self,
        limits: &crate::options::jetstream::AccountJsLimits,
    ) -> Option<natsd_proto::jetstream::ApiError> {
        use natsd_proto::jetstream::{ApiError, ErrorId};
        let (mem, store) = (limits.max_memory.max(0), limits.max_store.max(0));
        let memory_exceeded = ApiError::new(ErrorId::MemoryResourcesExceeded);
        let storage_exceeded = ApiError::new(ErrorId::StorageResourcesExceeded);
        if self.memory_reserved.load(Ordering::Relaxed) + mem > self.config.max_memory {
            return Some(memory_exceeded);
        }
        if self.store_reserved.load(Ordering::Relaxed) + store > self.config.max_store {
            return Some(storage_exceeded);
        }
        let (mut mem_reserved, mut store_reserved) = (0, 0);
        for a in self.accounts() {
            let l = a.limits();
            mem_reserved += l.max_memory.max(0);
            store_reserved += l.max_store.max(0);
        }
        if mem_reserved + mem > self.config.max_memory {
            return Some(memory_exceeded);
        }
        if store_reserved + store > self.config.max_store {
            return Some(storage_exceeded);
        }
        None
    }

    /// The JetStream account of `name`, when enabled.
    pub fn account(&self, name: &str) -> Option<Arc<JsAccount>> {
        self.accounts.read().get(name).cloned()
    }

    pub fn accounts(&self) -> Vec<Arc<JsAccount>> {
        self.accounts.read().values().cloned().collect()
    }

    /// Memory and file bytes stored by every account.
    pub fn usage(&self) -> (u64, u64) {
        self.stored.get()
    }

    /// Whether the server's stores hold more than its limit for `storage`.
    pub fn limits_exceeded(&self, storage: natsd_proto::jetstream::stream::Storage) -> bool {
        let (memory, file) = self.usage();
        match storage {
            natsd_proto::jetstream::stream::Storage::Memory => {
                memory as i64 > self.config.max_memory
            }
            _ => file as i64 > self.config.max_store,
        }
    }

    /// Logs that the server's limits are exceeded, at most every 10 s as Go.
    pub fn resources_exceeded(&self) {
        let now = std::time::Instant::now();
        let mut last = self.resources_alerted.lock();
        if last.is_none_or(|t| now.duration_since(t) > std::time::Duration::from_secs(10)) {
            crate::error!("JetStream resource limits exceeded for server");
            *last = Some(now);
        }
    }

    /// Reserves (`sign` 1) or releases (-1) the bytes a stream's
    /// max_bytes sets aside.
    pub fn reserve(&self, cfg: &natsd_proto::jetstream::stream::StreamConfig, sign: i64) {
        if cfg.max_bytes <= 0 {
            return;
        }
        let n = sign * cfg.max_bytes * cfg.replicas.max(1);
        match cfg.storage {
            natsd_proto::jetstream::stream::Storage::Memory => {
                self.memory_reserved.fetch_add(n, Ordering::Relaxed)
            }
            _ => self.store_reserved.fetch_add(n, Ordering::Relaxed),
        };
    }

    /// Counts an answered API request.
    pub fn count_api(&self, jsa: Option<&JsAccount>, error: bool) {
        self.api_total.fetch_add(1, Ordering::Relaxed);
        if error {
            self.api_errors.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(a) = jsa {
            a.api_total.fetch_add(1, Ordering::Relaxed);
            if error {
                a.api_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Stops every stream, flushing the file stores (at shutdown).
    /// Tells every waiting pull request the server is going (Go's
    /// `409 Server Shutdown`); whether any was told.
    pub fn signal_pull_consumers(&self) -> bool {
        let mut sent = false;
        for jsa in self.accounts() {
            for stream in jsa.stream_list() {
                for c in stream.consumer_list() {
                    sent |= c.server_shutdown();
                }
            }
        }
        sent
    }

    pub fn shutdown(&self) {
        let all: Vec<Arc<JsAccount>> = std::mem::take(&mut *self.accounts.write())
            .into_values()
            .collect();
        for a in all {
            a.stop();
        }
    }
}
