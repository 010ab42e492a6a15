//! The `websocket` block. natsd has no WebSocket listener yet; the block is
//! checked as Go checks it, so that `-t` accepts and refuses the same files,
//! and its values are kept in [`WebsocketOpts`].

use super::duration::parse_go_duration;
use super::tls::{self, TlsConfig};
use super::users::{parse_simple_authorization, NIL_DEREF};
use super::Recorded;
use super::{listener_key, ConfigErrors, Field, Options};
use crate::config::{Node, Value};
use std::time::Duration;

/// What the `websocket` block configures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebsocketOpts {
    pub host: String,
    pub port: i64,
    pub advertise: String,
    pub no_tls: bool,
    pub tls: Option<TlsConfig>,
    pub same_origin: bool,
    pub allowed_origins: Vec<String>,
    pub handshake_timeout: Duration,
    pub compression: bool,
    pub username: String,
    pub password: String,
    pub token: String,
    pub auth_timeout: f64,
    pub jwt_cookie: String,
    pub no_auth_user: String,
}

/// Applies a `websocket` block. A value of the wrong type abandons the rest
/// of the block, as Go's recovered panic does.
pub fn parse_websocket(
    node: &Node,
    o: &mut Options,
    errs: &mut ConfigErrors,
) -> Result<(), Recorded> {
    let Value::Map(m) = &node.value else {
        return errs.fail(
            node,
            format!(
                "Expected websocket to be a map, got {}",
                node.value.kind_name()
            ),
        );
    };
    let w = &mut o.websocket;
    let mut tls_map_at = None;
    for (k, v) in m.iter() {
        let f = Field(v);
        let key = k.to_lowercase();
        if listener_key(&key, v, &mut w.host, &mut w.port, errs)? {
            continue;
        }
        match key.as_str() {
            "advertise" => w.advertise = f.string(errs)?,
            "no_tls" => w.no_tls = f.boolean(errs)?,
            "tls" => {
                if let Ok(tc) = tls::parse_and_load(v, tls::Context::Client, errs) {
                    tls_map_at = tc.map.then(|| v.location());
                    w.tls = Some(tc);
                }
            }
            "same_origin" => w.same_origin = f.boolean(errs)?,
            "allowed_origins" | "allowed_origin" | "allow_origins" | "allow_origin" | "origins"
            | "origin" => w.allowed_origins = string_list("allowed origins", v, errs),
            "handshake_timeout" => {
                w.handshake_timeout = match &v.value {
                    Value::Int(i) => Duration::from_secs((*i).max(0) as u64),
                    Value::Str(s) => match parse_go_duration(s) {
                        Ok(ns) => Duration::from_nanos(ns.max(0) as u64),
                        Err(e) => {
                            errs.error(v, e.to_string());
                            continue;
                        }
                    },
                    other => {
                        errs.error(
                            v,
                            format!(
                                "error parsing handshake timeout: unsupported type {}",
                                other.kind_name()
                            ),
                        );
                        Duration::ZERO
                    }
                }
            }
            "compress" | "compression" => w.compression = f.boolean(errs)?,
            "authorization" | "authentication" => {
                let Ok(auth) = parse_simple_authorization(v, errs) else {
                    return errs.fail(v, NIL_DEREF.into());
                };
                w.username = auth.user;
                w.password = auth.pass;
                w.token = auth.token;
                w.auth_timeout = auth.timeout;
            }
            "jwt_cookie" => w.jwt_cookie = f.string(errs)?,
            "no_auth_user" => w.no_auth_user = f.string(errs)?,
            _ => {
                if !v.used_variable {
                    errs.unknown(v, k);
                }
            }
        }
    }
    o.ws_tls_map_at = tls_map_at;
    Ok(())
}

/// A string or a list of strings; other values are reported and left out.
fn string_list(field: &str, v: &Node, errs: &mut ConfigErrors) -> Vec<String> {
    match &v.value {
        Value::Str(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|item| match &item.value {
                Value::Str(s) => Some(s.clone()),
                other => {
                    errs.error(
                        item,
                        format!(
                            "error parsing {field}: unsupported type in array {}",
                            other.kind_name()
                        ),
                    );
                    None
                }
            })
            .collect(),
        other => {
            errs.error(
                v,
                format!(
                    "error parsing {field}: unsupported type {}",
                    other.kind_name()
                ),
            );
            Vec::new()
        }
    }
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
            "websocket {\n listen: \"127.0.0.1:8080\"\n no_tls: true\n allowed_origins: [\"http://a\", \"http://b\"]\n handshake_timeout: \"3s\"\n authorization { user: u, password: p, timeout: 2 }\n}\n",
        );
        r.unwrap();
        let w = &o.websocket;
        assert_eq!((w.host.as_str(), w.port), ("127.0.0.1", 8080));
        assert!(w.no_tls);
        assert_eq!(w.allowed_origins, ["http://a", "http://b"]);
        assert_eq!(w.handshake_timeout, Duration::from_secs(3));
        assert_eq!((w.username.as_str(), w.auth_timeout), ("u", 2.0));
    }

    #[test]
    fn refused() {
        assert!(
            error_of("websocket {\n authorization {\n  unknown: \"field\"\n }\n}\n")
                .contains(":3:3: unknown field \"unknown\"")
        );
        assert!(
            error_of("websocket {\n tls {\n  cert_file: \"x.pem\"\n }\n}\n")
                .contains(":2:2: missing 'key_file' in TLS configuration")
        );
        assert!(error_of("websocket {\n handshake_timeout: true\n}\n")
            .contains("error parsing handshake timeout: unsupported type bool"));
        assert!(error_of("websocket {\n origins: 1\n}\n")
            .contains("error parsing allowed origins: unsupported type int64"));
    }
}
