//! A file stream's consumers on disk, where Go 2.9.10 keeps them:
//! `<stream>/obs/<consumer>/meta.inf` (Go's FileConsumerInfo: `Created`,
//! `Name`, then the config's fields), `meta.sum` (HighwayHash keyed by
//! `<stream>/<consumer>`) and `o.dat` (the state, see
//! [`natsd_store::consumer`]).

use natsd_proto::jetstream::api::Timestamp;
use natsd_proto::jetstream::consumer::ConsumerConfig;
use natsd_store::consumer::ConsumerState;
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
#[derive(Debug, Clone)]
pub struct Files {
    pub dir: PathBuf,
    key: String,
}

impl Files {
    pub fn new(stream_dir: &Path, stream: &str, name: &str) -> Files {
        Files {
            dir: stream_dir.join(CONSUMERS_DIR).join(name),
            key: format!("{stream}/{name}"),
        }
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
        natsd_store::file::write_meta(&self.dir, &self.key, json.as_bytes())
            .map_err(|e| e.to_string())
    }

    pub fn has_state(&self) -> bool {
        self.dir.join(STATE_FILE).exists()
    }

    pub fn read_state(&self) -> Result<ConsumerState, String> {
        let buf = std::fs::read(self.dir.join(STATE_FILE)).map_err(|e| e.to_string())?;
        natsd_store::consumer::decode(&buf).map_err(|e| e.to_string())
    }

    pub fn write_state(&self, state: &ConsumerState) -> Result<(), String> {
        let now = (crate::jetstream::stream::now_ns() + 500_000_000) / 1_000_000_000;
        let buf = natsd_store::consumer::encode(state, now);
        natsd_store::durable::replace_file(&self.dir.join(STATE_FILE), &buf)
            .map_err(|e| e.to_string())
    }

    pub fn delete(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// The checked meta.inf of a consumer directory.
    pub fn read_config(&self) -> Result<Recovered, String> {
        let json =
            natsd_store::file::read_meta_keyed(&self.dir, &self.key).map_err(|e| e.to_string())?;
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
