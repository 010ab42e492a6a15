//! Stream templates (deprecated, still served by 2.9.10): a template
//! subscribes its subjects, and the first message on a subject without a
//! stream creates one, named after the subject (dots as underscores), with
//! the template's config. Templates of an account are kept under
//! `<store>/<account>/templates/<name>` when the account's first template
//! is a file one, as Go does.

use super::account::JsAccount;
use super::api::streams::add_stream;
use super::JetStream;
use crate::core::connection::{Connection, InternalMsg, Subscription};
use natsd_proto::jetstream::stream::{Storage, StreamConfig};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

/// The directory of an account's templates, and the key of their sums.
pub const TEMPLATES_DIR: &str = "templates";

/// Go's StreamTemplateConfig.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TemplateConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub config: Option<StreamConfig>,
    #[serde(default)]
    pub max_streams: u32,
}

pub struct Template {
    pub config: TemplateConfig,
    /// The streams it made, by name.
    pub streams: Mutex<Vec<String>>,
    conn: Arc<Connection>,
    subs: Mutex<Vec<Arc<Subscription>>>,
}

impl Template {
    /// Starts a checked template: subscribes its subjects in the account.
    pub fn start(
        js: &Arc<JetStream>,
        jsa: &Arc<JsAccount>,
        config: TemplateConfig,
    ) -> Arc<Template> {
        let conn = js.internal_connection(&jsa.account);
        let t = Arc::new(Template {
            config,
            streams: Mutex::default(),
            conn,
            subs: Mutex::default(),
        });
        let subjects = t.stream_config().subjects;
        let subs = subjects.iter().map(|s| t.subscribe(js, jsa, s)).collect();
        *t.subs.lock() = subs;
        t
    }

    pub fn stream_config(&self) -> StreamConfig {
        self.config.config.clone().unwrap_or_default()
    }

    fn subscribe(
        self: &Arc<Self>,
        js: &Arc<JetStream>,
        jsa: &Arc<JsAccount>,
        subject: &str,
    ) -> Arc<Subscription> {
        let (t, weak_js, weak_jsa): (Weak<Template>, Weak<JetStream>, Weak<JsAccount>) = (
            Arc::downgrade(self),
            Arc::downgrade(js),
            Arc::downgrade(jsa),
        );
        let handler = Arc::new(move |m: InternalMsg<'_>| {
            if let (Some(t), Some(js), Some(jsa)) =
                (t.upgrade(), weak_js.upgrade(), weak_jsa.upgrade())
            {
                t.inbound(&js, &jsa, m);
            }
        });
        let sub = jsa
            .account
            .subscribe_handler(&self.conn, subject, None, handler);
        crate::core::imports::shadow::add(&jsa.account, &sub);
        sub
    }

    /// A message on a template subject: the subject's stream is made when
    /// it does not exist, and takes the message.
    fn inbound(&self, js: &Arc<JetStream>, jsa: &Arc<JsAccount>, m: InternalMsg<'_>) {
        let subject = String::from_utf8_lossy(m.subject).into_owned();
        let name = subject.replace('.', "_");
        if jsa.stream(&name).is_some() {
            return;
        }
        {
            let mut streams = self.streams.lock();
            if streams.len() >= self.config.max_streams as usize {
                if let Some(srv) = js.server() {
                    srv.rate_limit_warn(format!(
                        "JetStream could not create stream for account \"{}\" on subject \"{subject}\", at limit",
                        jsa.account.name
                    ));
                }
                return;
            }
            streams.push(name.clone());
        }
        let mut cfg = self.stream_config();
        cfg.template = self.config.name.clone();
        cfg.name = name;
        cfg.subjects = vec![subject.clone()];
        match add_stream(js, jsa, &cfg, m.out) {
            Ok((stream, _)) => stream.process(m),
            Err(e) => {
                self.streams.lock().retain(|s| jsa.stream(s).is_some());
                if let Some(srv) = js.server() {
                    srv.rate_limit_warn(format!(
                        "JetStream could not create stream for account \"{}\" on subject \"{subject}\": {} ({})",
                        jsa.account.name,
                        e.description,
                        e.err_code
                    ));
                }
            }
        }
    }

    /// Unsubscribes; the streams it made are the caller's to delete.
    pub fn stop(&self) {
        for sub in std::mem::take(&mut *self.subs.lock()) {
            sub.closed.store(true, std::sync::atomic::Ordering::Release);
            sub.client.unsubscribe(&sub);
        }
    }
}

/// Where an account's templates are kept: in files (the first template
/// was a file one) or in memory.
pub fn store_dir(jsa: &JsAccount, first: &StreamConfig) -> Option<PathBuf> {
    (first.storage != Storage::Memory).then(|| jsa.dir.join(TEMPLATES_DIR))
}

/// Writes a template's meta.inf (unless there is one) and meta.sum.
pub fn save(dir: &Path, t: &TemplateConfig) -> Result<(), String> {
    let tdir = dir.join(&t.name);
    std::fs::create_dir_all(&tdir).map_err(|e| {
        format!(
            "could not create templates storage directory for \"{}\"- {e}",
            t.name
        )
    })?;
    if tdir.join("meta.inf").exists() {
        return Ok(());
    }
    let json = super::api::go_json(t);
    natsd_store::file::write_meta(&tdir, TEMPLATES_DIR, json.as_bytes()).map_err(|e| e.to_string())
}

/// The templates saved under `dir`, each checked against its sum.
pub fn load_all(dir: &Path) -> Vec<TemplateConfig> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let tdir = e.path();
        match natsd_store::file::read_meta_keyed(&tdir, TEMPLATES_DIR) {
            Ok(json) => match serde_json::from_slice::<TemplateConfig>(&json) {
                Ok(t) => out.push(t),
                Err(e) => crate::warn!("  Error unmarshalling StreamTemplate metafile: {e}"),
            },
            Err(e) => crate::warn!("  {e}"),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}
