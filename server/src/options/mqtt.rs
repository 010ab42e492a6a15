//! The `mqtt` block. natsd has no MQTT listener yet; the block is checked as
//! Go checks it, so that `-t` accepts and refuses the same files, and its
//! values are kept in [`MqttOpts`].

use super::tls::{self, TlsConfig};
use super::users::{parse_simple_authorization, NIL_DEREF};
use super::Recorded;
use super::{listener_key, parse_duration_field, ConfigErrors, Field, Options};
use crate::config::{Node, Value};
use std::time::Duration;

/// What the `mqtt` block configures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MqttOpts {
    pub host: String,
    pub port: i64,
    pub tls: Option<TlsConfig>,
    pub username: String,
    pub password: String,
    pub token: String,
    pub auth_timeout: f64,
    pub no_auth_user: String,
    pub ack_wait: Duration,
    pub max_ack_pending: u16,
    pub js_domain: String,
    pub stream_replicas: i64,
    pub consumer_replicas: i64,
    pub consumer_memory_storage: bool,
    pub consumer_inactive_threshold: Duration,
}

/// Applies an `mqtt` block. A value of the wrong type abandons the rest of
/// the block, as Go's recovered panic does.
pub fn parse_mqtt(node: &Node, o: &mut Options, errs: &mut ConfigErrors) -> Result<(), Recorded> {
    let Value::Map(m) = &node.value else {
        return errs.fail(
            node,
            format!("Expected mqtt to be a map, got {}", node.value.kind_name()),
        );
    };
    let q = &mut o.mqtt;
    for (k, v) in m.iter() {
        let f = Field(v);
        let key = k.to_lowercase();
        if listener_key(&key, v, &mut q.host, &mut q.port, errs)? {
            continue;
        }
        match key.as_str() {
            "tls" => {
                if let Ok(tc) = tls::parse_and_load(v, tls::Context::Client, errs) {
                    q.tls = Some(tc);
                }
            }
            "authorization" | "authentication" => {
                let Ok(auth) = parse_simple_authorization(v, errs) else {
                    return errs.fail(v, NIL_DEREF.into());
                };
                q.username = auth.user;
                q.password = auth.pass;
                q.token = auth.token;
                q.auth_timeout = auth.timeout;
            }
            "no_auth_user" => q.no_auth_user = f.string(errs)?,
            "ack_wait" | "ackwait" => q.ack_wait = parse_duration_field("ack_wait", v, errs),
            "max_ack_pending" | "max_pending" | "max_inflight" => {
                let n = f.int(errs)?;
                match u16::try_from(n) {
                    Ok(n) => q.max_ack_pending = n,
                    Err(_) => errs.error(
                        v,
                        format!("invalid value {n}, should in [0..{}] range", u16::MAX),
                    ),
                }
            }
            "js_domain" => q.js_domain = f.string(errs)?,
            "stream_replicas" => q.stream_replicas = f.int(errs)?,
            "consumer_replicas" => q.consumer_replicas = f.int(errs)?,
            "consumer_memory_storage" => q.consumer_memory_storage = f.boolean(errs)?,
            "consumer_inactive_threshold" | "consumer_auto_cleanup" => {
                q.consumer_inactive_threshold =
                    parse_duration_field("consumer_inactive_threshold", v, errs)
            }
            _ => {
                if !v.used_variable {
                    errs.unknown(v, k);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;
    use super::*;

    fn error_of(text: &str) -> String {
        load(text).1.unwrap_err().to_string()
    }

    #[test]
    fn fields_kept() {
        let (o, r) = load(
            "mqtt {\n listen: \"127.0.0.1:1883\"\n ack_wait: \"5s\"\n max_inflight: 100\n js_domain: hub\n}\n",
        );
        r.unwrap();
        let q = &o.mqtt;
        assert_eq!((q.host.as_str(), q.port), ("127.0.0.1", 1883));
        assert_eq!(q.ack_wait, Duration::from_secs(5));
        assert_eq!(q.max_ack_pending, 100);
        assert_eq!(q.js_domain, "hub");
    }

    #[test]
    fn refused() {
        assert!(error_of("mqtt = [\n \"wrong\"\n]\n")
            .contains("Expected mqtt to be a map, got []interface {}"));
        assert!(error_of("mqtt {\n host: 1234\n}\n")
            .contains(":2:2: interface conversion: interface {} is int64, not string"));
        assert!(error_of("mqtt {\n max_inflight: 70000\n}\n")
            .contains("invalid value 70000, should in [0..65535] range"));
        assert!(
            error_of("mqtt {\n port: -1\n tls {\n  cert_file: \"x.pem\"\n }\n}\n")
                .contains(":3:2: missing 'key_file' in TLS configuration")
        );
    }
}
