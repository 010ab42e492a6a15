//! The JSON documents of system events and service responses, with Go's
//! field names, order and omissions.

use crate::monitor::accstat::{AccountStat, DataStats};
use crate::monitor::json;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::time::{Duration, SystemTime};

/// Which server sent a message; filled in when the message is sent.
#[derive(Serialize)]
pub struct ServerInfo {
    pub name: String,
    pub host: String,
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    pub ver: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub seq: u64,
    pub jetstream: bool,
    #[serde(serialize_with = "json::time")]
    pub time: SystemTime,
}

/// Go's `TypedEvent` header of advisories.
#[derive(Serialize)]
pub struct TypedEvent {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
    #[serde(serialize_with = "json::time")]
    pub timestamp: SystemTime,
}

impl TypedEvent {
    pub fn new(kind: &'static str) -> TypedEvent {
        TypedEvent {
            kind,
            id: nuid::next().to_string(),
            timestamp: SystemTime::now(),
        }
    }
}

pub const CONNECT_EVENT: &str = "io.nats.server.advisory.v1.client_connect";
pub const DISCONNECT_EVENT: &str = "io.nats.server.advisory.v1.client_disconnect";
pub const ACCOUNT_CONNS_EVENT: &str = "io.nats.server.advisory.v1.account_connections";

/// A client as advisories describe it.
#[derive(Serialize, Default)]
pub struct ClientInfo {
    #[serde(
        serialize_with = "json::opt_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub start: Option<SystemTime>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(skip_serializing_if = "json::is_zero")]
    pub id: u64,
    pub acc: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ver: String,
    #[serde(
        serialize_with = "json::nanos",
        skip_serializing_if = "Duration::is_zero"
    )]
    pub rtt: Duration,
    #[serde(
        serialize_with = "json::opt_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub stop: Option<SystemTime>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub issuer_key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_type: String,
}

#[derive(Serialize)]
pub struct ConnectEventMsg {
    #[serde(flatten)]
    pub event: TypedEvent,
    pub server: ServerInfo,
    pub client: ClientInfo,
}

#[derive(Serialize)]
pub struct DisconnectEventMsg {
    #[serde(flatten)]
    pub event: TypedEvent,
    pub server: ServerInfo,
    pub client: ClientInfo,
    pub sent: DataStats,
    pub received: DataStats,
    pub reason: String,
}

#[derive(Serialize)]
pub struct AccountNumConns {
    #[serde(flatten)]
    pub event: TypedEvent,
    pub server: ServerInfo,
    #[serde(flatten)]
    pub stat: AccountStat,
}

/// What a server asks of the others for an account it starts tracking.
#[derive(Serialize)]
pub struct AccNumConnsReq {
    pub server: ServerInfo,
    pub acc: String,
}

/// Another server asking for the subscribers of a subject.
#[derive(Deserialize)]
pub struct AccNumSubsReq {
    pub acc: String,
    pub subject: String,
    #[serde(default)]
    pub queue: Option<String>,
}

#[derive(Serialize)]
pub struct ServerStatsMsg {
    pub server: ServerInfo,
    pub statsz: ServerStats,
}

#[derive(Serialize)]
pub struct ServerStats {
    #[serde(serialize_with = "json::time")]
    pub start: SystemTime,
    pub mem: i64,
    pub cores: usize,
    #[serde(serialize_with = "json::float")]
    pub cpu: f64,
    pub connections: usize,
    pub total_connections: u64,
    pub active_accounts: usize,
    pub subscriptions: u64,
    pub sent: DataStats,
    pub received: DataStats,
    pub slow_consumers: i64,
    pub active_servers: usize,
}

/// The answer to a service request: the data or an error.
#[derive(Serialize)]
pub struct ApiResponse<'a> {
    pub server: ServerInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

#[derive(Serialize)]
pub struct ApiError {
    pub code: u16,
    pub description: String,
}

/// The filters every service request may carry: a server answers only if
/// it matches all of them.
#[derive(Deserialize, Default)]
pub struct EventFilter {
    #[serde(default)]
    pub server_name: String,
    #[serde(default)]
    pub cluster: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub domain: String,
}
