//! Bringing an account's file streams back at start-up: each directory
//! under `<store>/<account>/streams` with a valid `meta.inf` becomes a
//! stream again over its recovered store.

use super::check::go_quote;
use super::store::{self, STREAMS_DIR};
use super::Stream;
use crate::jetstream::account::JsAccount;
use crate::jetstream::JetStream;
use natsd_proto::jetstream::stream::{Retention, StreamConfig};
use natsd_store::file::crypt::{open_meta, CryptError, META_KEY_FILE};
use serde::Deserialize;
use std::sync::Arc;

/// `meta.inf`: the creation time and the config.
#[derive(Deserialize)]
struct FileStreamInfo {
    #[serde(rename = "Created", default)]
    created: String,
    #[serde(flatten)]
    config: StreamConfig,
}

pub fn restore_account(js: &Arc<JetStream>, jsa: &Arc<JsAccount>) {
    let dir = jsa.dir.join(STREAMS_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    crate::debug!(
        "Recovering JetStream state for account \"{}\"",
        jsa.account.name
    );
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut restored = Vec::new();
    for name in names {
        let sdir = dir.join(&name);
        let meta = match store::read_meta(&sdir) {
            Ok(m) => m,
            Err(e) => {
                crate::warn!("  {e}");
                continue;
            }
        };
        let enc = js
            .config
            .encryption
            .as_ref()
            .map(|e| e.for_account(&jsa.account.name));
        let (meta, sealed_with) = match open_meta(enc.as_ref(), &sdir, &name, meta) {
            Ok(m) => m,
            Err(CryptError::BadKeySize) => {
                let len = std::fs::metadata(sdir.join(META_KEY_FILE)).map_or(0, |m| m.len());
                crate::warn!("  Bad stream encryption key length of {len}");
                continue;
            }
            Err(e) => {
                crate::warn!("  Error decrypting our stream metafile: {e}");
                continue;
            }
        };
        let info: FileStreamInfo = match serde_json::from_slice(&meta) {
            Ok(i) => i,
            Err(e) => {
                crate::warn!(
                    "  Error unmarshalling stream metafile \"{}\": {e}",
                    sdir.join("meta.inf").display()
                );
                continue;
            }
        };
        let acc = &jsa.account.name;
        let Some(cfg) = repaired(info.config) else {
            continue;
        };
        let dupe_limit = js.server().map_or(0, |s| {
            s.opts().jetstream_config.limits.duplicate_window_ns as i64
        });
        let cfg = match super::check::check_config(&cfg, &jsa.limits(), dupe_limit) {
            Ok(c) => c,
            Err(e) => {
                crate::warn!(
                    "  Error recreating stream {}: {} ({})",
                    go_quote(&cfg.name),
                    e.description,
                    e.err_code
                );
                continue;
            }
        };
        if !cfg.template.is_empty() {
            match jsa.templates.lock().get(&cfg.template) {
                Some(t) => t.streams.lock().push(cfg.name.clone()),
                None => crate::warn!(
                    "  Error adding stream \"{}\" to template \"{}\": template not found",
                    cfg.name,
                    cfg.template
                ),
            }
        }
        crate::notice!("  Starting restore for stream '{acc} > {}'", cfg.name);
        match (&enc, sealed_with) {
            (Some(_), None) => crate::notice!("  Encrypting stream '{acc} > {}'", cfg.name),
            (Some(e), Some(old)) if old != e.cipher => crate::notice!(
                "  Converting from {old} to {} for stream '{acc} > {}'",
                e.cipher,
                cfg.name
            ),
            _ => {}
        }
        let created = parse_time(&info.created);
        let max_payload = js
            .server()
            .map_or(1024 * 1024, |s| i64::from(s.opts().max_payload));
        let opened = match store::open(&cfg, &jsa.dir, created, max_payload, &js.config) {
            Ok(o) => o,
            Err(e) => {
                crate::warn!("  Error recreating stream \"{}\": {e}", cfg.name);
                continue;
            }
        };
        js.reserve(&cfg, 1);
        let stream = Stream::start(js, jsa, cfg.clone(), opened, created);
        let msgs = stream.inner.lock().store.fast_state().msgs;
        crate::notice!(
            "  Restored {} messages for stream '{acc} > {}'",
            comma(msgs),
            cfg.name
        );
        jsa.streams.write().insert(cfg.name.clone(), stream.clone());
        restored.push(stream);
    }
    for stream in restored {
        stream.restore_consumers(js, jsa);
        if stream.config().retention == Retention::Interest {
            stream.purge_orphans();
        }
    }
}

/// Go's repairs of configs that older servers let through: a mirror's
/// duplicate window and subjects, and subjects with spaces around them.
/// None when a subject cannot be repaired.
fn repaired(mut cfg: StreamConfig) -> Option<StreamConfig> {
    if cfg.mirror.is_some() {
        cfg.duplicates = 0;
    }
    let valid = |s: &str| natsd_proto::subject::is_valid_subject(s.as_bytes());
    for i in 0..cfg.subjects.len() {
        let subject = cfg.subjects[i].clone();
        if valid(&subject) {
            continue;
        }
        crate::warn!(
            "  Detected bad subject {} while adding stream {}, will attempt to repair",
            go_quote(&subject),
            go_quote(&cfg.name)
        );
        let trimmed = subject.trim();
        if !valid(trimmed) {
            crate::warn!(
                "  Error recreating stream {}: invalid subject",
                go_quote(&cfg.name)
            );
            return None;
        }
        crate::warn!(
            "  Bad subject {} repaired to {}",
            go_quote(&subject),
            go_quote(trimmed)
        );
        cfg.subjects[i] = trimmed.to_string();
    }
    if cfg.mirror.is_some() && !cfg.subjects.is_empty() {
        crate::warn!(
            "  Detected subjects on a mirrored stream {}, will remove",
            go_quote(&cfg.name)
        );
        cfg.subjects.clear();
    }
    Some(cfg)
}

/// Go's `comma`: 1234567 as "1,234,567".
fn comma(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// An RFC 3339 time as nanoseconds since the Unix epoch (0 when not one).
pub fn parse_time(s: &str) -> i64 {
    natsd_proto::gojson::parse_rfc3339(s).unwrap_or(0)
}
