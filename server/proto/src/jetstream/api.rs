//! The JetStream API's requests and responses, in Go's JSON: field names
//! and `omitempty` as Go's struct tags say, times as RFC 3339 in UTC with
//! nanoseconds (Go's zero time when unset).

use super::stream::StreamConfig;
use super::ApiError;
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;

/// Go's zero `time.Time` as JSON writes it.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A time in nanoseconds since the Unix epoch, written as Go writes a
/// `time.Time` (0 is the zero time, [`Timestamp::UNIX_EPOCH`] the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Go's `time.Unix(0, 0)`: what Go's file store reports as the first
    /// time of a stream emptied by removals or recovered empty, where 0
    /// would read as the zero time it reports after a purge.
    pub const UNIX_EPOCH: i64 = i64::MIN;

    pub fn text(self) -> String {
        match self.0 {
            0 => return ZERO_TIME.to_string(),
            Self::UNIX_EPOCH => return "1970-01-01T00:00:00Z".to_string(),
            _ => {}
        }
        let t = if self.0 > 0 {
            std::time::UNIX_EPOCH + std::time::Duration::from_nanos(self.0 as u64)
        } else {
            std::time::UNIX_EPOCH - std::time::Duration::from_nanos(self.0.unsigned_abs())
        };
        crate::gojson::rfc3339(t)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

/// Paging of a list response.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Paged {
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
}

/// A stream's state in stream info.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StreamStateJson {
    pub messages: u64,
    pub bytes: u64,
    pub first_seq: u64,
    pub first_ts: Timestamp,
    pub last_seq: u64,
    pub last_ts: Timestamp,
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub num_subjects: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subjects: Option<BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "is_zero_usize")]
    pub num_deleted: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost: Option<LostData>,
    pub consumer_count: usize,
}

/// What a file store could not recover (Go's LostStreamData).
#[derive(Debug, Clone, Default, Serialize)]
pub struct LostData {
    pub msgs: Vec<u64>,
    pub bytes: u64,
}

/// A stream's configuration, creation time and state.
#[derive(Debug, Clone, Serialize)]
pub struct StreamInfo {
    pub config: StreamConfig,
    pub created: Timestamp,
    pub state: StreamStateJson,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSourceInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<StreamSourceInfo>,
}

/// How a mirror or a source follows its origin (Go's StreamSourceInfo).
#[derive(Debug, Clone, Serialize)]
pub struct StreamSourceInfo {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<super::stream::ExternalStream>,
    pub lag: u64,
    /// Nanoseconds since the origin was last heard from, -1 if never.
    pub active: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

/// One stored message as `MSG.GET` returns it (header and data base64).
#[derive(Debug, Clone, Serialize)]
pub struct StoredMsg {
    pub subject: String,
    pub seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hdrs: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    pub time: Timestamp,
}

/// An account's JetStream limits as the API reports them.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct AccountLimitsJson {
    pub max_memory: i64,
    pub max_storage: i64,
    pub max_streams: i64,
    pub max_consumers: i64,
    pub max_ack_pending: i64,
    pub memory_max_stream_bytes: i64,
    pub storage_max_stream_bytes: i64,
    pub max_bytes_required: bool,
}

/// API request counters.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ApiStats {
    pub total: u64,
    pub errors: u64,
}

/// An account's usage and limits (`$JS.API.INFO`).
#[derive(Debug, Clone, Serialize)]
pub struct AccountStats {
    pub memory: u64,
    pub storage: u64,
    pub streams: usize,
    pub consumers: usize,
    pub limits: AccountLimitsJson,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    pub api: ApiStats,
}

/// `STREAM.INFO`'s request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StreamInfoRequest {
    #[serde(default)]
    pub offset: i64,
    #[serde(default)]
    pub deleted_details: bool,
    #[serde(default)]
    pub subjects_filter: String,
}

/// `STREAM.NAMES`' and `STREAM.LIST`'s request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NamesRequest {
    #[serde(default)]
    pub offset: i64,
    #[serde(default)]
    pub subject: String,
}

/// `STREAM.PURGE`'s request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PurgeRequest {
    #[serde(default)]
    pub seq: u64,
    #[serde(default)]
    pub filter: String,
    #[serde(default)]
    pub keep: u64,
}

/// `STREAM.MSG.DELETE`'s request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MsgDeleteRequest {
    #[serde(default)]
    pub seq: u64,
    #[serde(default)]
    pub no_erase: bool,
}

/// `STREAM.MSG.GET`'s and `DIRECT.GET`'s request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MsgGetRequest {
    #[serde(default)]
    pub seq: u64,
    #[serde(default)]
    pub last_by_subj: String,
    #[serde(default)]
    pub next_by_subj: String,
}

/// A response: its type, its error if any, then its own fields (Go embeds
/// the ApiResponse struct first).
#[derive(Debug, Serialize)]
pub struct Response<T: Serialize> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten)]
    pub body: T,
}

fn is_zero_usize(n: &usize) -> bool {
    *n == 0
}

/// The response types, as Go names them.
pub mod types {
    pub const ACCOUNT_INFO: &str = "io.nats.jetstream.api.v1.account_info_response";
    pub const STREAM_CREATE: &str = "io.nats.jetstream.api.v1.stream_create_response";
    pub const STREAM_UPDATE: &str = "io.nats.jetstream.api.v1.stream_update_response";
    pub const STREAM_DELETE: &str = "io.nats.jetstream.api.v1.stream_delete_response";
    pub const STREAM_INFO: &str = "io.nats.jetstream.api.v1.stream_info_response";
    pub const STREAM_NAMES: &str = "io.nats.jetstream.api.v1.stream_names_response";
    pub const STREAM_LIST: &str = "io.nats.jetstream.api.v1.stream_list_response";
    pub const STREAM_PURGE: &str = "io.nats.jetstream.api.v1.stream_purge_response";
    pub const MSG_DELETE: &str = "io.nats.jetstream.api.v1.stream_msg_delete_response";
    pub const MSG_GET: &str = "io.nats.jetstream.api.v1.stream_msg_get_response";
    pub const STREAM_SNAPSHOT: &str = "io.nats.jetstream.api.v1.stream_snapshot_response";
    pub const STREAM_RESTORE: &str = "io.nats.jetstream.api.v1.stream_restore_response";
    pub const STREAM_REMOVE_PEER: &str = "io.nats.jetstream.api.v1.stream_remove_peer_response";
    pub const STREAM_LEADER_STEPDOWN: &str =
        "io.nats.jetstream.api.v1.stream_leader_stepdown_response";
    pub const CONSUMER_LEADER_STEPDOWN: &str =
        "io.nats.jetstream.api.v1.consumer_leader_stepdown_response";
    pub const META_LEADER_STEPDOWN: &str = "io.nats.jetstream.api.v1.meta_leader_stepdown_response";
    pub const META_SERVER_REMOVE: &str = "io.nats.jetstream.api.v1.meta_server_remove_response";
    pub const ACCOUNT_PURGE: &str = "io.nats.jetstream.api.v1.account_purge_response";
    pub const TEMPLATE_CREATE: &str = "io.nats.jetstream.api.v1.stream_template_create_response";
    pub const TEMPLATE_DELETE: &str = "io.nats.jetstream.api.v1.stream_template_delete_response";
    pub const TEMPLATE_INFO: &str = "io.nats.jetstream.api.v1.stream_template_info_response";
    pub const TEMPLATE_NAMES: &str = "io.nats.jetstream.api.v1.stream_template_names_response";
    pub const CONSUMER_CREATE: &str = "io.nats.jetstream.api.v1.consumer_create_response";
    pub const CONSUMER_DELETE: &str = "io.nats.jetstream.api.v1.consumer_delete_response";
    pub const CONSUMER_INFO: &str = "io.nats.jetstream.api.v1.consumer_info_response";
    pub const CONSUMER_NAMES: &str = "io.nats.jetstream.api.v1.consumer_names_response";
    pub const CONSUMER_LIST: &str = "io.nats.jetstream.api.v1.consumer_list_response";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_gos() {
        assert_eq!(Timestamp(0).text(), ZERO_TIME);
        assert_eq!(
            Timestamp(Timestamp::UNIX_EPOCH).text(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            Timestamp(1_600_000_000_123_000_000).text(),
            "2020-09-13T12:26:40.123Z"
        );
    }

    #[test]
    fn a_response_embeds_its_body_after_type_and_error() {
        #[derive(Serialize)]
        struct Purged {
            success: bool,
            purged: u64,
        }
        let r = Response {
            kind: types::STREAM_PURGE,
            error: None,
            body: Purged {
                success: true,
                purged: 3,
            },
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"type":"io.nats.jetstream.api.v1.stream_purge_response","success":true,"purged":3}"#
        );
    }
}
