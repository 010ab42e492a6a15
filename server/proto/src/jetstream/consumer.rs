//! A consumer's configuration and info as the API carries them, in Go's
//! JSON: enums as Go's strings, durations as integer nanoseconds,
//! `omitempty` where Go's struct tags say so.

use super::api::{Paged, Timestamp};
use super::stream::go_enum;
use serde::{Deserialize, Serialize};

/// Where a new consumer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeliverPolicy {
    #[default]
    All,
    Last,
    New,
    ByStartSequence,
    ByStartTime,
    LastPerSubject,
}

/// How delivered messages are acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckPolicy {
    #[default]
    None,
    All,
    Explicit,
}

/// How fast stored messages are replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplayPolicy {
    #[default]
    Instant,
    Original,
}

go_enum!(DeliverPolicy,
    DeliverPolicy::All => "all",
    DeliverPolicy::Last => "last",
    DeliverPolicy::New => "new",
    DeliverPolicy::ByStartSequence => "by_start_sequence",
    DeliverPolicy::ByStartTime => "by_start_time",
    DeliverPolicy::LastPerSubject => "last_per_subject");
go_enum!(AckPolicy, AckPolicy::None => "none", AckPolicy::All => "all", AckPolicy::Explicit => "explicit");
go_enum!(ReplayPolicy, ReplayPolicy::Instant => "instant", ReplayPolicy::Original => "original");

/// Go's ConsumerConfig, fields in Go's order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsumerConfig {
    #[serde(
        rename = "durable_name",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub durable: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub deliver_policy: DeliverPolicy,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub opt_start_seq: u64,
    /// RFC 3339 in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<String>,
    #[serde(default)]
    pub ack_policy: AckPolicy,
    /// Nanoseconds.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub ack_wait: i64,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub max_deliver: i64,
    /// Nanoseconds each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backoff: Vec<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(default)]
    pub replay_policy: ReplayPolicy,
    /// Bits per second.
    #[serde(
        rename = "rate_limit_bps",
        default,
        skip_serializing_if = "is_zero_u64"
    )]
    pub rate_limit: u64,
    #[serde(
        rename = "sample_freq",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub sample_frequency: String,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub max_waiting: i64,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub max_ack_pending: i64,
    /// Nanoseconds.
    #[serde(
        rename = "idle_heartbeat",
        default,
        skip_serializing_if = "is_zero_i64"
    )]
    pub heartbeat: i64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flow_control: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub headers_only: bool,
    #[serde(rename = "max_batch", default, skip_serializing_if = "is_zero_i64")]
    pub max_request_batch: i64,
    /// Nanoseconds.
    #[serde(rename = "max_expires", default, skip_serializing_if = "is_zero_i64")]
    pub max_request_expires: i64,
    #[serde(rename = "max_bytes", default, skip_serializing_if = "is_zero_i64")]
    pub max_request_max_bytes: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub deliver_subject: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub deliver_group: String,
    /// Nanoseconds.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub inactive_threshold: i64,
    #[serde(rename = "num_replicas", default)]
    pub replicas: i64,
    #[serde(
        rename = "mem_storage",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub memory_storage: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub direct: bool,
}

impl ConsumerConfig {
    pub fn is_durable(&self) -> bool {
        !self.durable.is_empty()
    }

    pub fn is_push(&self) -> bool {
        !self.deliver_subject.is_empty()
    }
}

/// `{"stream_name": .., "config": {..}}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CreateConsumerRequest {
    #[serde(rename = "stream_name", default)]
    pub stream: String,
    #[serde(default)]
    pub config: ConsumerConfig,
}

/// A consumer and a stream sequence, and when the last one happened.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SequenceInfo {
    pub consumer_seq: u64,
    pub stream_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_active: Option<Timestamp>,
}

/// Go's ConsumerInfo.
#[derive(Debug, Clone, Serialize)]
pub struct ConsumerInfo {
    pub stream_name: String,
    pub name: String,
    pub created: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<ConsumerConfig>,
    pub delivered: SequenceInfo,
    pub ack_floor: SequenceInfo,
    pub num_ack_pending: usize,
    pub num_redelivered: usize,
    pub num_waiting: usize,
    pub num_pending: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub push_bound: bool,
}

/// The names of a stream's consumers, a page of them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConsumerNames {
    #[serde(flatten)]
    pub paged: Paged,
    pub consumers: Vec<String>,
}

/// The infos of a stream's consumers, a page of them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConsumerList {
    #[serde(flatten)]
    pub paged: Paged,
    pub consumers: Vec<ConsumerInfo>,
}

/// A pull request's JSON body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NextRequest {
    /// Nanoseconds.
    #[serde(default)]
    pub expires: i64,
    #[serde(default)]
    pub batch: i64,
    #[serde(default)]
    pub max_bytes: i64,
    #[serde(default)]
    pub no_wait: bool,
    /// Nanoseconds.
    #[serde(rename = "idle_heartbeat", default)]
    pub heartbeat: i64,
}

/// A NAK's delay: `-NAK {"delay": ns}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NakDelay {
    #[serde(default)]
    pub delay: i64,
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_in_gos_shape() {
        let c: ConsumerConfig = serde_json::from_str(
            r#"{"durable_name":"D","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"deliver_subject":"d"}"#,
        )
        .unwrap();
        assert_eq!(c.ack_policy, AckPolicy::Explicit);
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"durable_name":"D","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","deliver_subject":"d","num_replicas":0}"#
        );
        let e = serde_json::from_str::<ConsumerConfig>(r#"{"ack_policy":"bogus"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains(r#"can not unmarshal "\"bogus\"""#), "{e}");
    }
}
