//! A stream's configuration as the API carries it, in Go's JSON: enums as
//! Go's strings, durations as integer nanoseconds, `omitempty` where Go's
//! struct tags say so. Unknown fields are ignored, as Go's decoder does.

use serde::{Deserialize, Serialize};

/// How messages are retained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Retention {
    #[default]
    Limits,
    Interest,
    WorkQueue,
}

/// What a full stream does with a new message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DiscardPolicy {
    #[default]
    Old,
    New,
}

/// Where a stream keeps its messages; `Unset` until the defaults apply
/// (Go's zero value, which becomes file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Storage {
    #[default]
    Unset,
    File,
    Memory,
    /// Go's internal "any", which its decoder accepts.
    Any,
}

/// Go's enum marshalling: the names, and `can not unmarshal "<json>"` for
/// anything else.
macro_rules! go_enum {
    ($t:ty, $($v:path => $s:literal),+) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $($v => s.serialize_str($s),)+
                    #[allow(unreachable_patterns)]
                    _ => Err(serde::ser::Error::custom("unknown value")),
                }
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = <serde_json::Value as serde::Deserialize>::deserialize(d)?;
                match v.as_str() {
                    $(Some($s) => Ok($v),)+
                    _ => Err(serde::de::Error::custom(format!(
                        "can not unmarshal {:?}",
                        v.to_string()
                    ))),
                }
            }
        }
    };
}

pub(crate) use go_enum;

go_enum!(Retention, Retention::Limits => "limits", Retention::Interest => "interest", Retention::WorkQueue => "workqueue");
go_enum!(DiscardPolicy, DiscardPolicy::Old => "old", DiscardPolicy::New => "new");
go_enum!(Storage, Storage::File => "file", Storage::Memory => "memory", Storage::Any => "any");

/// Where a stream's replicas go (clustered servers).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Placement {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// Another account's JetStream API and delivery prefixes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExternalStream {
    #[serde(rename = "api", default)]
    pub api_prefix: String,
    #[serde(rename = "deliver", default)]
    pub deliver_prefix: String,
}

/// A mirror's or a source's origin.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamSource {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub opt_start_seq: u64,
    /// RFC 3339, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalStream>,
}

/// Republishing of stored messages.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RePublish {
    #[serde(rename = "src", default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(rename = "dest", default)]
    pub destination: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub headers_only: bool,
}

/// Go's StreamConfig.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub max_consumers: i64,
    #[serde(default)]
    pub max_msgs: i64,
    #[serde(default)]
    pub max_bytes: i64,
    /// Nanoseconds.
    #[serde(default)]
    pub max_age: i64,
    #[serde(rename = "max_msgs_per_subject", default)]
    pub max_msgs_per: i64,
    #[serde(default, skip_serializing_if = "is_zero_i32")]
    pub max_msg_size: i32,
    #[serde(default)]
    pub discard: DiscardPolicy,
    #[serde(default)]
    pub storage: Storage,
    #[serde(rename = "num_replicas", default)]
    pub replicas: i64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_ack: bool,
    #[serde(
        rename = "template_owner",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub template: String,
    /// Nanoseconds.
    #[serde(
        rename = "duplicate_window",
        default,
        skip_serializing_if = "is_zero_i64"
    )]
    pub duplicates: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<StreamSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub republish: Option<RePublish>,
    #[serde(default)]
    pub allow_direct: bool,
    #[serde(default)]
    pub mirror_direct: bool,
    #[serde(
        rename = "discard_new_per_subject",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub discard_new_per: bool,
    #[serde(default)]
    pub sealed: bool,
    #[serde(default)]
    pub deny_delete: bool,
    #[serde(default)]
    pub deny_purge: bool,
    #[serde(rename = "allow_rollup_hdrs", default)]
    pub allow_rollup: bool,
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

fn is_zero_i32(n: &i32) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_encodes_in_gos_shape() {
        let c: StreamConfig = serde_json::from_str(
            r#"{"name":"S","subjects":["foo"],"storage":"memory","max_age":1000000000,"whatever":1}"#,
        )
        .unwrap();
        assert_eq!((c.storage, c.max_age), (Storage::Memory, 1_000_000_000));
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"name":"S","subjects":["foo"],"retention":"limits","max_consumers":0,"max_msgs":0,"max_bytes":0,"max_age":1000000000,"max_msgs_per_subject":0,"discard":"old","storage":"memory","num_replicas":0,"allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false}"#
        );
        let e = serde_json::from_str::<StreamConfig>(r#"{"name":"S","retention":"bogus"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains(r#"can not unmarshal "\"bogus\"""#), "{e}");
    }
}
