//! Opening a stream's store: memory, or files under
//! `<store>/<account>/streams/<stream>`.

use super::limits_of;
use crate::jetstream::config::JsConfig;
use crate::options::jetstream::SyncPolicy;
use natsd_proto::jetstream::api::Timestamp;
use natsd_proto::jetstream::stream::{Storage, StreamConfig};
use natsd_store::file::crypt::MetaKeys;
use natsd_store::file::{Encryption, FileStore, FileStoreConfig};
use natsd_store::mem::MemStore;
use natsd_store::StreamStore;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The directory of an account's streams.
pub const STREAMS_DIR: &str = "streams";

/// An open store and, for files, its directory.
pub struct Opened {
    pub store: Box<dyn StreamStore>,
    pub dir: Option<PathBuf>,
}

/// What `meta.inf` holds: the creation time (Go's field has no JSON
/// name, hence `Created`), then the config's fields.
#[derive(Serialize)]
struct FileStreamInfo<'a> {
    #[serde(rename = "Created")]
    created: Timestamp,
    #[serde(flatten)]
    config: &'a StreamConfig,
}

/// The directory of stream `name` under the account's directory.
pub fn stream_dir(account_dir: &Path, name: &str) -> PathBuf {
    account_dir.join(STREAMS_DIR).join(name)
}

/// Opens (or creates) the store of `cfg`; a new file store gets its
/// `meta.inf`.
pub fn open(
    cfg: &StreamConfig,
    account_dir: &Path,
    created: i64,
    max_payload: i64,
    js: &JsConfig,
) -> Result<Opened, String> {
    let limits = limits_of(cfg);
    match cfg.storage {
        Storage::Memory => Ok(Opened {
            store: Box::new(MemStore::new(limits)),
            dir: None,
        }),
        _ => {
            let dir = stream_dir(account_dir, &cfg.name);
            let mut fcfg = FileStoreConfig::new(dir.clone());
            fcfg.block_size = block_size(cfg, max_payload);
            match js.sync {
                SyncPolicy::Always => fcfg.sync_always = true,
                SyncPolicy::Every(d) => fcfg.sync_interval = d,
            }
            // The account's directory is named after it.
            let account = account_dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy();
            fcfg.encryption = js.encryption.as_ref().map(|e| e.for_account(&account));
            let fs = FileStore::open(fcfg, &cfg.name, limits).map_err(|e| e.to_string())?;
            let meta = crate::jetstream::api::go_json(&FileStreamInfo {
                created: Timestamp(created),
                config: cfg,
            });
            fs.write_meta(meta.as_bytes()).map_err(|e| e.to_string())?;
            Ok(Opened {
                store: Box::new(fs),
                dir: Some(dir),
            })
        }
    }
}

/// Go's block size for a stream (autoTuneFileStorageBlockSize, then the
/// store's default by retention).
fn block_size(cfg: &StreamConfig, max_payload: i64) -> u64 {
    let longest_subject = cfg
        .subjects
        .iter()
        .filter(|s| natsd_proto::subject::is_literal(s.as_bytes()))
        .map(|s| s.len())
        .max()
        .unwrap_or(0);
    let max_msg = if cfg.max_msg_size > 0 {
        i64::from(cfg.max_msg_size)
    } else {
        max_payload
    };
    let size = natsd_store::file::stream_block_size(
        cfg.max_bytes,
        cfg.max_msgs,
        cfg.max_msgs_per,
        (max_msg.max(0) as u64) + longest_subject as u64,
    );
    if size == 0 {
        let limits = cfg.retention == natsd_proto::jetstream::stream::Retention::Limits;
        natsd_store::file::dyn_block_size(limits, cfg.max_bytes)
    } else {
        size
    }
}

/// Rewrites `meta.inf` after an update: sealed with the stream's keys
/// (its `meta.key`) when the store is encrypted.
pub fn rewrite_meta(
    dir: &Path,
    cfg: &StreamConfig,
    created: i64,
    enc: Option<&Encryption>,
) -> Result<(), String> {
    let meta = crate::jetstream::api::go_json(&FileStreamInfo {
        created: Timestamp(created),
        config: cfg,
    });
    let data = match enc {
        Some(enc) => {
            let (keys, _) =
                MetaKeys::load_or_create(enc, dir, &cfg.name).map_err(|e| e.to_string())?;
            keys.seal(meta.as_bytes())
        }
        None => meta.into_bytes(),
    };
    natsd_store::file::write_meta(dir, &cfg.name, &data).map_err(|e| e.to_string())
}

/// The checked `meta.inf` of the stream in `dir`.
pub fn read_meta(dir: &Path) -> Result<Vec<u8>, String> {
    natsd_store::file::read_meta(dir).map_err(|e| e.to_string())
}
