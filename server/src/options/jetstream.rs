//! The top-level `jetstream` block, checked as Go 2.9.10 checks it: its
//! types, sizes, cipher and limits; and an account's `jetstream` value.

use super::duration::parse_go_duration;
use super::Recorded;
use super::{type_mismatch, ConfigErrors, Options};
use crate::config::{Node, Value};

/// A value of the block. Go asserts its type in a function that does not
/// recover, so a wrong type is reported at the `jetstream` key.
struct Inner<'a> {
    value: &'a Node,
    block: &'a Node,
}

impl Inner<'_> {
    fn string(&self, errs: &mut ConfigErrors) -> Result<String, Recorded> {
        match &self.value.value {
            Value::Str(s) => Ok(s.clone()),
            other => errs.fail(self.block, type_mismatch(other, "string")),
        }
    }

    fn int(&self, errs: &mut ConfigErrors) -> Result<i64, Recorded> {
        match &self.value.value {
            Value::Int(n) => Ok(*n),
            other => errs.fail(self.block, type_mismatch(other, "int64")),
        }
    }

    fn boolean(&self, errs: &mut ConfigErrors) -> Result<bool, Recorded> {
        match &self.value.value {
            Value::Bool(b) => Ok(*b),
            other => errs.fail(self.block, type_mismatch(other, "bool")),
        }
    }
}

/// The `jetstream { ... }` settings besides enablement and `store_dir`,
/// which live on [`Options`] because flags set them too.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JetStreamConfig {
    pub max_memory: Option<i64>,
    pub max_store: Option<i64>,
    pub domain: String,
    pub key: String,
    pub cipher: Cipher,
    pub extension_hint: String,
    pub unique_tag: String,
    pub max_catchup: Option<i64>,
    pub limits: JetStreamLimits,
    pub sync: SyncPolicy,
}

/// How file stores sync to disk: `sync_interval: <duration>` or
/// `sync_interval: always`, Go 2.10's option. Go 2.9.10 has no such
/// option (it refuses the field) and syncs every 2 minutes, the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    Every(std::time::Duration),
    /// An fsync after every write, before the PubAck.
    Always,
}

impl Default for SyncPolicy {
    fn default() -> Self {
        SyncPolicy::Every(std::time::Duration::from_secs(120))
    }
}

/// The store encryption cipher.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Cipher {
    #[default]
    ChaCha,
    Aes,
}

/// Server-wide limits of the `limits` block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JetStreamLimits {
    pub max_ack_pending: i64,
    pub max_ha_assets: i64,
    pub max_request_batch: i64,
    pub duplicate_window_ns: i128,
}

/// Applies the top-level `jetstream` value: a bool, "enabled"/"disabled",
/// or a block.
pub fn parse_jetstream(v: &Node, o: &mut Options, errs: &mut ConfigErrors) -> Result<(), Recorded> {
    match &v.value {
        Value::Bool(b) => o.jetstream = *b,
        Value::Str(s) => match s.to_lowercase().as_str() {
            "enabled" | "enable" => o.jetstream = true,
            "disabled" | "disable" => o.jetstream = false,
            _ => {
                return errs.fail(
                    v,
                    format!("Expected 'enabled' or 'disabled' for string value, got '{s}'"),
                )
            }
        },
        Value::Map(m) => {
            let mut enable = true;
            for (key, mv) in m.iter() {
                let f = Inner {
                    value: mv,
                    block: v,
                };
                let js = &mut o.jetstream_config;
                match key.to_lowercase().as_str() {
                    "store" | "store_dir" | "storedir" => {
                        // The top-level store_dir may have come first.
                        if !o.store_dir.is_empty() {
                            return errs.fail(mv, "Duplicate 'store_dir' configuration".into());
                        }
                        o.store_dir = f.string(errs)?;
                    }
                    "max_memory_store" | "max_mem_store" | "max_mem" => {
                        js.max_memory = Some(size(mv, "max_mem_store", errs)?)
                    }
                    "max_file_store" | "max_file" => {
                        js.max_store = Some(size(mv, "max_file_store", errs)?)
                    }
                    "domain" => js.domain = f.string(errs)?,
                    "enable" | "enabled" => enable = f.boolean(errs)?,
                    "key" | "ek" | "encryption_key" => js.key = f.string(errs)?,
                    "cipher" => {
                        let name = f.string(errs)?;
                        js.cipher = match name.to_lowercase().as_str() {
                            "chacha" | "chachapoly" => Cipher::ChaCha,
                            "aes" => Cipher::Aes,
                            _ => {
                                return errs
                                    .fail(mv, format!("Unknown cipher type: {}", go_quote(&name)))
                            }
                        }
                    }
                    "extension_hint" => js.extension_hint = f.string(errs)?,
                    "limits" => js.limits = parse_limits(mv, v, errs)?,
                    "unique_tag" => js.unique_tag = f.string(errs)?.trim().to_lowercase(),
                    "sync_interval" | "sync" => {
                        let text = f.string(errs)?;
                        js.sync = match parse_go_duration(&text) {
                            _ if text.eq_ignore_ascii_case("always") => SyncPolicy::Always,
                            Ok(ns) if ns > 0 => SyncPolicy::Every(std::time::Duration::from_nanos(
                                u64::try_from(ns).unwrap_or(u64::MAX),
                            )),
                            Ok(_) => {
                                return errs.fail(
                                    mv,
                                    "sync_interval must be a positive duration or \"always\""
                                        .into(),
                                )
                            }
                            Err(e) => return errs.fail(mv, e.to_string()),
                        }
                    }
                    "max_outstanding_catchup" => {
                        js.max_catchup = Some(size(mv, &key.to_lowercase(), errs)?)
                    }
                    _ => {
                        if !mv.used_variable {
                            errs.unknown(mv, key);
                        }
                    }
                }
            }
            o.jetstream = enable;
        }
        other => {
            return errs.fail(
                v,
                format!(
                    "Expected map, bool or string to define JetStream, got {}",
                    other.kind_name()
                ),
            )
        }
    }
    Ok(())
}

fn parse_limits(
    v: &Node,
    block: &Node,
    errs: &mut ConfigErrors,
) -> Result<JetStreamLimits, Recorded> {
    let Value::Map(m) = &v.value else {
        return errs.fail(
            v,
            format!(
                "Expected a map to define JetStreamLimits, got {}",
                v.value.kind_name()
            ),
        );
    };
    let mut limits = JetStreamLimits::default();
    for (key, mv) in m.iter() {
        let f = Inner { value: mv, block };
        match key.to_lowercase().as_str() {
            "max_ack_pending" => limits.max_ack_pending = f.int(errs)?,
            "max_ha_assets" => limits.max_ha_assets = f.int(errs)?,
            "max_request_batch" => limits.max_request_batch = f.int(errs)?,
            // Go reports a bad duration here without a position.
            "duplicate_window" => match parse_go_duration(&f.string(errs)?) {
                Ok(ns) => limits.duplicate_window_ns = ns,
                Err(e) => errs.errors.push(e.to_string()),
            },
            _ => {
                if !mv.used_variable {
                    errs.unknown(mv, key);
                }
            }
        }
    }
    Ok(limits)
}

/// A storage size: an integer, or a string of digits and one of the
/// suffixes K, M, G, T (powers of 1024), as Go reads it.
fn size(v: &Node, option: &str, errs: &mut ConfigErrors) -> Result<i64, Recorded> {
    match &v.value {
        Value::Int(n) => Ok(*n),
        Value::Str(s) => parse_size_string(s).or_else(|e| errs.fail(v, format!("{option} {e}"))),
        _ => errs.fail(v, format!("{option} must be int64 or string")),
    }
}

/// Why a string is not a storage size, with Go's texts. The option holding
/// it decides: a config error at its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// The number before the suffix: `strconv.ParseInt`'s syntax error.
    #[error("strconv.ParseInt: parsing {}: invalid syntax", go_quote(.0))]
    Syntax(String),
    /// The number before the suffix: `strconv.ParseInt`'s range error.
    #[error("strconv.ParseInt: parsing {}: value out of range", go_quote(.0))]
    Range(String),
    #[error("sizes defined as strings must end in K, M, G, T")]
    Suffix,
}

/// Go splits off the last byte as the suffix before it checks anything, so
/// "abc" fails on the number "ab".
pub fn parse_size_string(s: &str) -> Result<i64, SizeError> {
    if s.is_empty() {
        return Ok(0);
    }
    let bytes = s.as_bytes();
    let (digits, suffix) = bytes.split_at(bytes.len() - 1);
    let digits = String::from_utf8_lossy(digits);
    let number = go_parse_int(&digits)?;
    let shift = match suffix {
        b"K" => 10,
        b"M" => 20,
        b"G" => 30,
        b"T" => 40,
        _ => return Err(SizeError::Suffix),
    };
    Ok(number.wrapping_mul(1 << shift))
}

/// Go's `strconv.ParseInt(s, 10, 64)` with its error texts.
fn go_parse_int(s: &str) -> Result<i64, SizeError> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SizeError::Syntax(s.to_string()));
    }
    s.parse::<i64>()
        .map_err(|_| SizeError::Range(s.to_string()))
}

fn go_quote(s: &str) -> String {
    natsd_proto::quote::go_quote(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;
    use super::*;

    fn error_of(text: &str) -> String {
        load(text).1.unwrap_err().to_string()
    }

    #[test]
    fn sizes_read_as_go_reads_them() {
        assert_eq!(parse_size_string("2K"), Ok(2048));
        assert_eq!(parse_size_string("1G"), Ok(1 << 30));
        assert_eq!(parse_size_string(""), Ok(0));
        let err = |s: &str| parse_size_string(s).unwrap_err().to_string();
        assert_eq!(
            err("abc"),
            "strconv.ParseInt: parsing \"ab\": invalid syntax"
        );
        assert_eq!(
            err("10Z"),
            "sizes defined as strings must end in K, M, G, T"
        );
        assert_eq!(
            err("99999999999999999999K"),
            "strconv.ParseInt: parsing \"99999999999999999999\": value out of range"
        );
    }

    #[test]
    fn block_errors_use_go_texts() {
        assert!(error_of("jetstream { max_mem: \"abc\" }")
            .contains(":1:12: max_mem_store strconv.ParseInt: parsing \"ab\": invalid syntax"));
        assert!(error_of("jetstream { max_file: true }")
            .contains("max_file_store must be int64 or string"));
        assert!(error_of("jetstream: maybe")
            .contains("Expected 'enabled' or 'disabled' for string value, got 'maybe'"));
        assert!(error_of("jetstream { cipher: rot13 }").contains("Unknown cipher type: \"rot13\""));
        assert!(error_of("jetstream { limits: 1 }")
            .contains("Expected a map to define JetStreamLimits, got int64"));
        assert!(error_of("jetstream { limits { duplicate_window: x } }")
            .contains("time: invalid duration \"x\""));
        assert!(error_of("jetstream { bogus: 1 }").contains("unknown field \"bogus\""));
        assert!(error_of("jetstream { sync_interval: \"-1s\" }").contains("positive duration"));
        assert!(error_of("jetstream { sync_interval: soon }").contains("invalid duration"));
        // A wrong type is reported where the block starts.
        assert!(error_of("jetstream { store_dir: 5 }")
            .contains(":1:0: interface conversion: interface {} is int64, not string"));
        assert!(error_of("jetstream {\n limits { max_ack_pending: x } }")
            .contains(":1:0: interface conversion: interface {} is string, not int64"));
    }

    #[test]
    fn block_settings() {
        let (o, r) =
            load("jetstream { max_mem: \"1G\", max_file: 2K, domain: hub, enabled: false }");
        r.unwrap();
        assert!(!o.jetstream);
        assert_eq!(o.jetstream_config.max_memory, Some(1 << 30));
        assert_eq!(o.jetstream_config.max_store, Some(2000));
        assert_eq!(o.jetstream_config.domain, "hub");
        assert_eq!(o.jetstream_config.sync, SyncPolicy::default());
    }

    #[test]
    fn sync_interval() {
        let (o, r) = load("jetstream { sync_interval: always }");
        r.unwrap();
        assert_eq!(o.jetstream_config.sync, SyncPolicy::Always);
        let (o, r) = load("jetstream { sync_interval: \"10s\" }");
        r.unwrap();
        assert_eq!(
            o.jetstream_config.sync,
            SyncPolicy::Every(std::time::Duration::from_secs(10))
        );
    }
}

/// An account's JetStream limits; -1 is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct AccountJsLimits {
    pub max_memory: i64,
    #[serde(rename = "max_storage")]
    pub max_store: i64,
    pub max_streams: i64,
    pub max_consumers: i64,
    pub max_ack_pending: i64,
    #[serde(rename = "memory_max_stream_bytes")]
    pub memory_max_stream_bytes: i64,
    #[serde(rename = "storage_max_stream_bytes")]
    pub store_max_stream_bytes: i64,
    pub max_bytes_required: bool,
}

impl AccountJsLimits {
    /// No limits at all (`jetstream: enabled`).
    pub const UNLIMITED: AccountJsLimits = AccountJsLimits {
        max_memory: -1,
        max_store: -1,
        max_streams: -1,
        max_consumers: -1,
        max_ack_pending: -1,
        memory_max_stream_bytes: -1,
        store_max_stream_bytes: -1,
        max_bytes_required: false,
    };
}

/// An account's `jetstream` value: a bool, "enabled"/"disabled", or a
/// block of limits (unset ones unlimited).
pub fn parse_account_jetstream(
    v: &Node,
    errs: &mut ConfigErrors,
) -> Result<Option<AccountJsLimits>, Recorded> {
    match &v.value {
        Value::Bool(b) => Ok(b.then_some(AccountJsLimits::UNLIMITED)),
        Value::Str(s) => match s.to_lowercase().as_str() {
            "enabled" | "enable" => Ok(Some(AccountJsLimits::UNLIMITED)),
            "disabled" | "disable" => Ok(None),
            _ => errs.fail(
                v,
                format!("Expected 'enabled' or 'disabled' for string value, got '{s}'"),
            ),
        },
        Value::Map(m) => {
            let mut l = AccountJsLimits::UNLIMITED;
            for (key, mv) in m.iter() {
                let size = |errs: &mut ConfigErrors| match &mv.value {
                    Value::Int(n) => Ok(*n),
                    other => errs.fail(
                        mv,
                        format!(
                            "Expected a parseable size for {}, got {}",
                            go_quote(key),
                            go_v(other)
                        ),
                    ),
                };
                match key.to_lowercase().as_str() {
                    "max_memory" | "max_mem" | "mem" | "memory" => l.max_memory = size(errs)?,
                    "max_store" | "max_file" | "max_disk" | "store" | "disk" => {
                        l.max_store = size(errs)?
                    }
                    "max_streams" | "streams" => l.max_streams = size(errs)?,
                    "max_consumers" | "consumers" => l.max_consumers = size(errs)?,
                    "max_bytes_required" | "max_stream_bytes" | "max_bytes" => match &mv.value {
                        Value::Bool(b) => l.max_bytes_required = *b,
                        other => {
                            return errs.fail(
                                mv,
                                format!(
                                    "Expected a parseable bool for {}, got {}",
                                    go_quote(key),
                                    go_v(other)
                                ),
                            )
                        }
                    },
                    "mem_max_stream_bytes" | "memory_max_stream_bytes" => {
                        l.memory_max_stream_bytes = size(errs)?
                    }
                    "disk_max_stream_bytes" | "store_max_stream_bytes" => {
                        l.store_max_stream_bytes = size(errs)?
                    }
                    "max_ack_pending" => l.max_ack_pending = size(errs)?,
                    _ => {
                        if !mv.used_variable {
                            errs.unknown(mv, key);
                        }
                    }
                }
            }
            Ok(Some(l))
        }
        other => errs.fail(
            v,
            format!(
                "Expected map, bool or string to define JetStream, got {}",
                other.kind_name()
            ),
        ),
    }
}

/// A scalar as Go's `%v` prints it (other values by their type).
fn go_v(v: &Value) -> String {
    match v {
        Value::Str(s) | Value::DateTime(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Float(f) => f.to_string(),
        other => other.kind_name().to_string(),
    }
}
