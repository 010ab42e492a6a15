//! A JetStream-enabled account: its limits, its streams, its usage and
//! its API counters, and Go's checks of a new stream against the limits.

use super::stream::Stream;
use super::template::{self, Template, TemplateConfig};
use super::JetStream;
use crate::core::account::Account;
use crate::options::jetstream::AccountJsLimits;
use natsd_proto::jetstream::api::{AccountLimitsJson, AccountStats, ApiStats};
use natsd_proto::jetstream::stream::{Storage, StreamConfig};
use natsd_proto::jetstream::{ApiError, ErrorId};
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// Bytes stored in memory and in files, kept as streams change (read on
/// every publish for the limits).
#[derive(Default)]
pub struct Usage {
    memory: AtomicI64,
    store: AtomicI64,
}

impl Usage {
    pub fn add(&self, storage: Storage, delta: i64) {
        match storage {
            Storage::Memory => self.memory.fetch_add(delta, Ordering::Relaxed),
            _ => self.store.fetch_add(delta, Ordering::Relaxed),
        };
    }

    pub fn get(&self) -> (u64, u64) {
        (
            self.memory.load(Ordering::Relaxed).max(0) as u64,
            self.store.load(Ordering::Relaxed).max(0) as u64,
        )
    }
}

pub struct JsAccount {
    pub account: Arc<Account>,
    js: Weak<JetStream>,
    limits: Mutex<AccountJsLimits>,
    pub streams: RwLock<BTreeMap<String, Arc<Stream>>>,
    pub templates: Mutex<BTreeMap<String, Arc<Template>>>,
    /// Where templates are saved, decided by the first one: Some(None)
    /// in memory, Some(Some(dir)) in files.
    template_dir: Mutex<Option<Option<PathBuf>>>,
    pub api_total: AtomicU64,
    pub api_errors: AtomicU64,
    /// Bytes its streams store, and the server's total it adds to.
    stored: Usage,
    server_stored: Arc<Usage>,
    /// `<store>/<account>`.
    pub dir: PathBuf,
}

impl JsAccount {
    pub fn new(js: &Arc<JetStream>, account: Arc<Account>, limits: AccountJsLimits) -> Arc<Self> {
        Arc::new(JsAccount {
            dir: js.config.store_dir.join(&account.name),
            account,
            js: Arc::downgrade(js),
            limits: Mutex::new(limits),
            streams: RwLock::default(),
            templates: Mutex::default(),
            template_dir: Mutex::default(),
            api_total: AtomicU64::new(0),
            api_errors: AtomicU64::new(0),
            stored: Usage::default(),
            server_stored: js.stored.clone(),
        })
    }

    pub fn js(&self) -> Option<Arc<JetStream>> {
        self.js.upgrade()
    }

    pub fn limits(&self) -> AccountJsLimits {
        *self.limits.lock()
    }

    pub fn set_limits(&self, limits: AccountJsLimits) {
        *self.limits.lock() = limits;
    }

    pub fn stream(&self, name: &str) -> Option<Arc<Stream>> {
        self.streams.read().get(name).cloned()
    }

    pub fn stream_list(&self) -> Vec<Arc<Stream>> {
        self.streams.read().values().cloned().collect()
    }

    /// Bytes stored in memory and in files.
    pub fn usage(&self) -> (u64, u64) {
        self.stored.get()
    }

    /// A stream of `storage` grew (or shrank) by `delta` bytes.
    pub fn add_usage(&self, storage: Storage, delta: i64) {
        self.stored.add(storage, delta);
        self.server_stored.add(storage, delta);
    }

    /// Whether what is stored now passes the account's limits (Go checks
    /// after storing, and removes the message again).
    pub fn limits_exceeded(&self, storage: Storage) -> bool {
        let l = self.limits();
        let (mem, file) = self.usage();
        let (used, max_stream, max) = match storage {
            Storage::Memory => (mem as i64, l.memory_max_stream_bytes, l.max_memory),
            _ => (file as i64, l.store_max_stream_bytes, l.max_store),
        };
        (max_stream > 0 && used > max_stream) || (max >= 0 && used > max)
    }

    /// Bytes the other streams of the same storage reserve (max_bytes).
    pub fn reservation(&self, cfg: &StreamConfig) -> i64 {
        self.streams
            .read()
            .values()
            .map(|s| s.config())
            .filter(|c| c.max_bytes > 0 && c.storage == cfg.storage && c.name != cfg.name)
            .map(|c| c.replicas.max(1) * c.max_bytes)
            .sum()
    }

    /// Go's non-clustered check of a create request against the limits,
    /// before the config's defaults apply.
    pub fn create_limits_check(&self, js: &JetStream, cfg: &StreamConfig) -> Option<ApiError> {
        let l = self.limits();
        if l.max_streams > 0 && self.streams.read().len() as i64 >= l.max_streams {
            return Some(ApiError::new(ErrorId::MaximumStreamsLimit));
        }
        let reserved = self.reservation(cfg);
        self.check_all_limits(js, cfg, reserved, 0)
    }

    /// Go's checkAllLimits: consumers, then the bytes the stream would
    /// reserve, for the account and for the server.
    pub fn check_all_limits(
        &self,
        js: &JetStream,
        cfg: &StreamConfig,
        reserved: i64,
        max_bytes_offset: i64,
    ) -> Option<ApiError> {
        let l = self.limits();
        if cfg.max_consumers > 0 && l.max_consumers > 0 && cfg.max_consumers > l.max_consumers {
            return Some(ApiError::new(ErrorId::MaximumConsumersLimit));
        }
        let add = if cfg.max_bytes < 0 { 1 } else { cfg.max_bytes };
        let total = add * cfg.replicas.max(1) + max_bytes_offset;
        match cfg.storage {
            Storage::Memory => {
                if (l.max_memory >= 0 && reserved + total > l.max_memory)
                    || js.memory_reserved.load(Ordering::Relaxed) + add > js.config.max_memory
                {
                    return Some(ApiError::new(ErrorId::MemoryResourcesExceeded));
                }
            }
            Storage::File => {
                if (l.max_store >= 0 && reserved + total > l.max_store)
                    || js.store_reserved.load(Ordering::Relaxed) + add > js.config.max_store
                {
                    return Some(ApiError::new(ErrorId::StorageResourcesExceeded));
                }
            }
            // Go's raw create check sees the zero storage before it
            // defaults to file, and checks nothing then.
            Storage::Unset | Storage::Any => {}
        }
        None
    }

    /// `$JS.API.INFO`'s body for this account.
    pub fn stats(&self, domain: &str) -> AccountStats {
        let (memory, storage) = self.usage();
        let streams = self.stream_list();
        let l = self.limits();
        AccountStats {
            memory,
            storage,
            streams: streams.len(),
            consumers: streams.iter().map(|s| s.consumer_count()).sum(),
            limits: AccountLimitsJson {
                max_memory: l.max_memory,
                max_storage: l.max_store,
                max_streams: l.max_streams,
                max_consumers: l.max_consumers,
                max_ack_pending: l.max_ack_pending,
                memory_max_stream_bytes: l.memory_max_stream_bytes,
                storage_max_stream_bytes: l.store_max_stream_bytes,
                max_bytes_required: l.max_bytes_required,
            },
            domain: domain.to_string(),
            api: ApiStats {
                total: self.api_total.load(Ordering::Relaxed),
                errors: self.api_errors.load(Ordering::Relaxed),
            },
        }
    }

    /// Whether template `tname` made stream `sname`.
    pub fn template_owns(&self, tname: &str, sname: &str) -> bool {
        self.templates
            .lock()
            .get(tname)
            .is_some_and(|t| t.streams.lock().iter().any(|s| s == sname))
    }

    /// Adds a checked template, saved where the account keeps them.
    pub fn add_template(
        self: &Arc<Self>,
        js: &Arc<JetStream>,
        config: TemplateConfig,
    ) -> Result<Arc<Template>, String> {
        if self.templates.lock().contains_key(&config.name) {
            return Err(format!(
                "template with name {} already exists",
                super::stream::check::go_quote(&config.name)
            ));
        }
        let dir = self
            .template_dir
            .lock()
            .get_or_insert_with(|| {
                template::store_dir(self, config.config.as_ref().unwrap_or(&Default::default()))
            })
            .clone();
        let t = Template::start(js, self, config.clone());
        self.templates.lock().insert(config.name.clone(), t.clone());
        if let Some(dir) = dir {
            if let Err(e) = template::save(&dir, &config) {
                self.remove_template(&config.name);
                return Err(e);
            }
        }
        Ok(t)
    }

    /// Removes a template (and its saved copy); its streams are returned
    /// for deletion.
    pub fn remove_template(&self, name: &str) -> Option<Vec<Arc<Stream>>> {
        let t = self.templates.lock().remove(name)?;
        t.stop();
        if let Some(Some(dir)) = self.template_dir.lock().clone() {
            let _ = std::fs::remove_dir_all(dir.join(name));
        }
        let names = t.streams.lock().clone();
        Some(names.iter().filter_map(|n| self.stream(n)).collect())
    }

    /// Brings back the streams stored under the account's directory.
    pub fn restore(self: &Arc<Self>, js: &Arc<JetStream>) {
        for mut t in template::load_all(&self.dir.join(template::TEMPLATES_DIR)) {
            if let Some(c) = t.config.as_mut() {
                c.name.clear();
            }
            let name = t.name.clone();
            let checked = super::api::templates::check(js, self, t);
            if let Err(e) = checked.and_then(|t| self.add_template(js, t).map(|_| ())) {
                crate::warn!("  Error recreating StreamTemplate \"{name}\": {e}");
            }
        }
        super::stream::restore::restore_account(js, self);
    }

    /// Stops every stream, keeping what they stored.
    pub fn stop(&self) {
        for t in std::mem::take(&mut *self.templates.lock()).into_values() {
            t.stop();
        }
        let streams: Vec<Arc<Stream>> = std::mem::take(&mut *self.streams.write())
            .into_values()
            .collect();
        for s in streams {
            s.stop(false);
        }
    }
}
