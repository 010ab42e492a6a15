//! A file stream's consumers on disk, where Go 2.9.10 keeps them:
//! `<stream>/obs/<consumer>/meta.inf` (Go's FileConsumerInfo: `Created`,
//! `Name`, then the config's fields), `meta.sum` (HighwayHash keyed by
//! `<stream>/<consumer>`) and `o.dat` (the state, see
//! [`natsd_store::consumer`]). Encrypted, `meta.key` keeps the consumer's
//! keys, and meta.inf and o.dat are sealed with them (see
//! [`natsd_store::file::crypt`]); meta.sum is then over the sealed bytes.

use natsd_proto::jetstream::api::Timestamp;
use natsd_proto::jetstream::consumer::ConsumerConfig;
use natsd_store::consumer::ConsumerState;
use natsd_store::file::crypt::{consumer_context, MetaKeyState, MetaKeys, META_KEY_FILE};
use natsd_store::file::Encryption;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const CONSUMERS_DIR: &str = "obs";
const STATE_FILE: &str = "o.dat";

#[derive(Serialize)]
struct FileConsumerInfo<'a> {
    #[serde(rename = "Created")]
    created: Timestamp,
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(flatten)]
    config: &'a ConsumerConfig,
}

/// meta.inf as read back.
#[derive(Deserialize)]
pub struct Recovered {
    #[serde(rename = "Created", default)]
    pub created: String,
    #[serde(flatten)]
    pub config: ConsumerConfig,
}

/// One consumer's directory.
#[derive(Clone)]
pub struct Files {
    pub dir: PathBuf,
    key: String,
    /// The consumer's keys, when its stream is encrypted.
    keys: Option<MetaKeys>,
}

impl std::fmt::Debug for Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Files")
            .field("dir", &self.dir)
            .field("encrypted", &self.keys.is_some())
            .finish()
    }
}

impl Files {
    /// The files of a consumer in clear.
    pub fn new(stream_dir: &Path, stream: &str, name: &str) -> Files {
        Files {
            dir: stream_dir.join(CONSUMERS_DIR).join(name),
            key: format!("{stream}/{name}"),
            keys: None,
        }
    }

    /// The files of a consumer of a stream encrypted with `enc` (or not:
    /// then a consumer with a meta.key cannot be read, as in Go). Its
    /// keys come from its meta.key, or are new when it has none, or when
    /// they are the other cipher's: as Go does, what it holds in clear
    /// (a snapshot's consumer, a store that was not encrypted) or under
    /// the other cipher is sealed again with the new keys.
    pub fn open(
        stream_dir: &Path,
        stream: &str,
        name: &str,
        enc: Option<&Encryption>,
    ) -> Result<Files, String> {
        let mut f = Files::new(stream_dir, stream, name);
        let Some(enc) = enc else {
            if f.dir.join(META_KEY_FILE).exists() {
                return Err("encryption not enabled".into());
            }
            return Ok(f);
        };
        std::fs::create_dir_all(&f.dir)
            .map_err(|e| format!("could not create consumer directory - {e}"))?;
        let (keys, found) = MetaKeys::load_or_create(enc, &f.dir, &consumer_context(stream, name))
            .map_err(|e| e.to_string())?;
        let old = match found {
            MetaKeyState::Kept => None,
            MetaKeyState::Created => Some(None),
            MetaKeyState::Converted(old) => Some(Some(old)),
        };
        f.keys = Some(keys);
        let Some(old) = old else {
            return Ok(f);
        };
        let open = |buf: Vec<u8>| match &old {
            Some(k) => k.open(&buf).map_err(|e| e.to_string()),
            None => Ok(buf),
        };
        if f.dir.join("meta.inf").exists() {
            let json =
                natsd_store::file::read_meta_keyed(&f.dir, &f.key).map_err(|e| e.to_string())?;
            f.write_meta(&open(json)?)?;
        }
        let state_file = f.dir.join(STATE_FILE);
        if let Ok(buf) = std::fs::read(&state_file) {
            let plain = open(buf)?;
            // (In clear, only a state that decodes is taken for one.)
            if old.is_some() || natsd_store::consumer::decode(&plain).is_ok() {
                f.write_state_bytes(&plain)?;
            }
        }
        Ok(f)
    }

    /// Writes meta.inf (sealed when encrypted) and meta.sum.
    fn write_meta(&self, json: &[u8]) -> Result<(), String> {
        let sealed;
        let data = match &self.keys {
            Some(k) => {
                sealed = k.seal(json);
                &sealed[..]
            }
            None => json,
        };
        natsd_store::file::write_meta(&self.dir, &self.key, data).map_err(|e| e.to_string())
    }

    fn write_state_bytes(&self, buf: &[u8]) -> Result<(), String> {
        let sealed;
        let data = match &self.keys {
            Some(k) => {
                sealed = k.seal(buf);
                &sealed[..]
            }
            None => buf,
        };
        natsd_store::durable::replace_file(&self.dir.join(STATE_FILE), data)
            .map_err(|e| e.to_string())
    }

    /// Writes meta.inf and meta.sum (creating the directory).
    pub fn write_config(
        &self,
        name: &str,
        cfg: &ConsumerConfig,
        created: i64,
    ) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("could not create consumer directory - {e}"))?;
        let json = crate::jetstream::api::go_json(&FileConsumerInfo {
            created: Timestamp(created),
            name,
            config: cfg,
        });
        self.write_meta(json.as_bytes())
    }

    /// The consumer's keys and its meta.sum's key, when it is encrypted
    /// (a snapshot holds its meta.inf in clear).
    pub fn keys(&self) -> Option<(&MetaKeys, &str)> {
        Some((self.keys.as_ref()?, &self.key))
    }

    pub fn has_state(&self) -> bool {
        self.dir.join(STATE_FILE).exists()
    }

    pub fn read_state(&self) -> Result<ConsumerState, String> {
        let mut buf = std::fs::read(self.dir.join(STATE_FILE)).map_err(|e| e.to_string())?;
        if let Some(k) = &self.keys {
            buf = k.open(&buf).map_err(|e| e.to_string())?;
        }
        natsd_store::consumer::decode(&buf).map_err(|e| e.to_string())
    }

    pub fn write_state(&self, state: &ConsumerState) -> Result<(), String> {
        let now = (crate::jetstream::stream::now_ns() + 500_000_000) / 1_000_000_000;
        self.write_state_bytes(&natsd_store::consumer::encode(state, now))
    }

    pub fn delete(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// The checked meta.inf of a consumer directory.
    pub fn read_config(&self) -> Result<Recovered, String> {
        let mut json =
            natsd_store::file::read_meta_keyed(&self.dir, &self.key).map_err(|e| e.to_string())?;
        if let Some(k) = &self.keys {
            json = k.open(&json).map_err(|e| e.to_string())?;
        }
        serde_json::from_slice(&json).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_consumer_go_wrote() {
        let tmp = tempfile::tempdir().unwrap();
        let f = Files::new(tmp.path(), "S", "D");
        std::fs::create_dir_all(&f.dir).unwrap();
        // meta.inf and meta.sum as Go 2.9.10 wrote them.
        let meta = r#"{"Created":"2026-12-03T11:11:09.920041107Z","Name":"D","durable_name":"D","deliver_policy":"all","ack_policy":"explicit","ack_wait":60000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0}"#;
        std::fs::write(f.dir.join("meta.inf"), meta).unwrap();
        std::fs::write(f.dir.join("meta.sum"), "51b5979e3f17a653").unwrap();
        let r = f.read_config().unwrap();
        assert_eq!(
            (r.config.durable.as_str(), r.config.ack_wait),
            ("D", 60_000_000_000)
        );
        assert_eq!(r.created, "2026-12-03T11:11:09.920041107Z");
        // natsd writes the same file back, with the same checksum.
        let created = natsd_proto::gojson::parse_rfc3339(&r.created).unwrap();
        f.write_config("D", &r.config, created).unwrap();
        assert_eq!(
            std::fs::read_to_string(f.dir.join("meta.inf")).unwrap(),
            meta
        );
        assert_eq!(
            std::fs::read_to_string(f.dir.join("meta.sum")).unwrap(),
            "51b5979e3f17a653"
        );
    }
}
