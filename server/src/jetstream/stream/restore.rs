//! Bringing an account's file streams back at start-up: each directory
//! under `<store>/<account>/streams` with a valid `meta.inf` becomes a
//! stream again over its recovered store.

use super::store::{self, STREAMS_DIR};
use super::Stream;
use crate::jetstream::account::JsAccount;
use crate::jetstream::JetStream;
use natsd_proto::jetstream::stream::StreamConfig;
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
    for name in names {
        let sdir = dir.join(&name);
        let meta = match store::read_meta(&sdir) {
            Ok(m) => m,
            Err(e) => {
                crate::warn!("  {e}");
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
        let cfg = info.config;
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
        let created = parse_time(&info.created);
        let max_payload = js
            .server()
            .map_or(1024 * 1024, |s| i64::from(s.opts().max_payload));
        let opened = match store::open(&cfg, &jsa.dir, created, max_payload) {
            Ok(o) => o,
            Err(e) => {
                crate::warn!("  Error recreating stream \"{}\": {e}", cfg.name);
                continue;
            }
        };
        let stream = Stream::start(js, jsa, cfg.clone(), opened, created);
        let msgs = stream.inner.lock().store.fast_state().msgs;
        crate::notice!(
            "  Restored {} messages for stream '{acc} > {}'",
            comma(msgs),
            cfg.name
        );
        jsa.streams.write().insert(cfg.name.clone(), stream);
    }
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
