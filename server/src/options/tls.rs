//! `tls` blocks: the top-level one for clients and those inside `cluster`,
//! `gateway` (and its remote gateways), `leafnodes` (and its remotes),
//! `websocket`, `mqtt` and `resolver_tls`. natsd serves the top-level one
//! (client connections); every block is checked as Go checks it, files
//! included, so that `-t` accepts and refuses the same configurations, and
//! what it holds is kept in [`TlsConfig`].

use super::duration::parse_go_duration;
use super::Recorded;
use super::{type_mismatch, ConfigErrors};
use crate::config::{Node, Value};

pub mod files;

/// What a `tls` block configures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsConfig {
    pub cert_file: String,
    pub key_file: String,
    pub ca_file: String,
    pub insecure: bool,
    /// Client certificates are required and verified.
    pub verify: bool,
    /// The client certificate's subject maps to a user.
    pub map: bool,
    /// Routes and gateways: the peer's certificate must match a known URL.
    pub check_known_urls: bool,
    /// Cipher suite names; the defaults when the block names none.
    pub ciphers: Vec<String>,
    /// Curve names; the defaults when the block names none.
    pub curve_preferences: Vec<String>,
    /// Handshake timeout in seconds (0: the listener's default).
    pub timeout: f64,
    /// New TLS connections allowed per second (0: no limit).
    pub rate_limit: i64,
    /// Lower-case hex SHA-256 of the accepted peers' SubjectPublicKeyInfo.
    pub pinned_certs: Vec<String>,
}

/// The cipher suites Go knows by name.
const CIPHERS: [&str; 24] = [
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// What a block that names no cipher suites gets.
const DEFAULT_CIPHERS: [&str; 6] = [
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
];

/// The curves Go knows by name, in its default order of preference.
const CURVES: [&str; 4] = ["X25519", "CurveP256", "CurveP384", "CurveP521"];

/// Where a block is used. Client-facing listeners (clients, leaf nodes,
/// websocket, MQTT) cannot check a peer's certificate against known URLs;
/// routes and gateways can.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Client,
    Peer,
}

/// Checks a `tls` block and the files it names. The first problem is
/// recorded and fails the block (Go stops at the first one); the caller
/// goes on with the rest of its own block.
pub fn parse_and_load(
    node: &Node,
    ctx: Context,
    errs: &mut ConfigErrors,
) -> Result<TlsConfig, Recorded> {
    let tc = parse(node, ctx).map_err(|(at, e)| errs.reject(at, e))?;
    files::check(&tc).map_err(|e| errs.reject(node, e.to_string()))?;
    Ok(tc)
}

type ParseError<'a> = (&'a Node, String);

/// The block's fields, without looking at files. An error names the node
/// it is about.
pub fn parse(node: &Node, ctx: Context) -> Result<TlsConfig, ParseError<'_>> {
    let Value::Map(m) = &node.value else {
        return Err((node, type_mismatch(&node.value, "map[string]interface {}")));
    };
    let mut tc = TlsConfig::default();
    for (k, v) in m.iter() {
        let expected = |what: &str| {
            (
                v,
                format!("error parsing tls config, expected '{k}' to be {what}"),
            )
        };
        let boolean = || match v.value {
            Value::Bool(b) => Ok(b),
            _ => Err(expected("a boolean")),
        };
        let filename = || match &v.value {
            Value::Str(s) => Ok(s.clone()),
            _ => Err(expected("filename")),
        };
        match k.to_lowercase().as_str() {
            "cert_file" => tc.cert_file = filename()?,
            "key_file" => tc.key_file = filename()?,
            "ca_file" => tc.ca_file = filename()?,
            "insecure" => tc.insecure = boolean()?,
            "verify" => tc.verify = boolean()?,
            "verify_and_map" => {
                let b = boolean()?;
                tc.verify |= b;
                tc.map = b;
            }
            "verify_cert_and_check_known_urls" => {
                let b = boolean()?;
                if b && ctx == Context::Client {
                    return Err((
                        v,
                        "verify_cert_and_check_known_urls not supported in this context".into(),
                    ));
                }
                tc.verify |= b;
                tc.check_known_urls = b;
            }
            "cipher_suites" => {
                tc.ciphers = names(v, k, "cipher", &CIPHERS)?;
            }
            "curve_preferences" => {
                tc.curve_preferences = names(v, k, "curve preference", &CURVES)?;
            }
            "timeout" => {
                tc.timeout = match &v.value {
                    Value::Int(i) => *i as f64,
                    Value::Float(f) => *f,
                    Value::Str(s) => match parse_go_duration(s) {
                        Ok(ns) => ns as f64 / 1e9,
                        Err(e) => {
                            return Err((v, format!("error parsing tls config, 'timeout' {e}")))
                        }
                    },
                    _ => return Err((v, "error parsing tls config, 'timeout' wrong type".into())),
                }
            }
            "connection_rate_limit" => match v.value {
                Value::Int(i) => tc.rate_limit = i,
                _ => {
                    return Err((
                        v,
                        "error parsing tls config, 'connection_rate_limit' wrong type".into(),
                    ))
                }
            },
            "pinned_certs" => tc.pinned_certs = pinned_certs(v)?,
            _ => {
                return Err((
                    v,
                    format!("error parsing tls config, unknown field [{k:?}]"),
                ))
            }
        }
    }
    Ok(with_defaults(tc))
}

/// Fills in the default cipher suites and curves where none are named.
pub fn with_defaults(mut tc: TlsConfig) -> TlsConfig {
    if tc.ciphers.is_empty() {
        tc.ciphers = DEFAULT_CIPHERS.iter().map(|s| s.to_string()).collect();
    }
    if tc.curve_preferences.is_empty() {
        tc.curve_preferences = CURVES.iter().map(|s| s.to_string()).collect();
    }
    tc
}

/// A non-empty list of names from `known`.
fn names<'a>(
    v: &'a Node,
    field: &str,
    what: &str,
    known: &[&str],
) -> Result<Vec<String>, ParseError<'a>> {
    let Value::Array(items) = &v.value else {
        return Err((v, type_mismatch(&v.value, "[]interface {}")));
    };
    if items.is_empty() {
        return Err((
            v,
            format!("error parsing tls config, '{field}' cannot be empty"),
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Str(name) = &item.value else {
            return Err((item, type_mismatch(&item.value, "string")));
        };
        if !known.contains(&name.as_str()) {
            return Err((item, format!("unrecognized {what} {name}")));
        }
        out.push(name.clone());
    }
    Ok(out)
}

fn pinned_certs(v: &Node) -> Result<Vec<String>, ParseError<'_>> {
    let Value::Array(items) = &v.value else {
        return Err((
            v,
            "error parsing tls config, expected 'pinned_certs' to be a list of hex-encoded sha256 of DER encoded SubjectPublicKeyInfo".into(),
        ));
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let Value::Str(s) = &item.value else {
            return Err((item, type_mismatch(&item.value, "string")));
        };
        let entry = s.to_lowercase();
        if entry.len() != 64 || !entry.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err((
                item,
                format!(
                    "error parsing tls config, 'pinned_certs' key {entry} does not look like hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"
                ),
            ));
        }
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;

    fn error_of(text: &str) -> String {
        load(text).1.unwrap_err().to_string()
    }

    #[test]
    fn fields_kept() {
        let (o, r) = load(
            "tls {\n verify: true\n timeout: \"2.5s\"\n cipher_suites: [\"TLS_AES_128_GCM_SHA256\"]\n pinned_certs: [\"ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789\"]\n}\n",
        );
        r.unwrap();
        let tc = o.tls_config.unwrap();
        assert!(tc.verify);
        assert_eq!(tc.timeout, 2.5);
        assert_eq!(tc.ciphers, ["TLS_AES_128_GCM_SHA256"]);
        assert_eq!(tc.curve_preferences.len(), 4);
        assert_eq!(tc.pinned_certs[0].len(), 64);
        assert!(tc.pinned_certs[0].starts_with("abcdef"));
    }

    #[test]
    fn refused() {
        assert!(error_of("tls {\n hello = 1\n}\n")
            .contains(":2:2: error parsing tls config, unknown field [\"hello\"]"));
        assert!(
            error_of("tls {\n curve_preferences: [\"CurveP5210000\"]\n}\n")
                .contains("unrecognized curve preference CurveP5210000")
        );
        assert!(error_of("tls {\n cipher_suites: []\n}\n")
            .contains("error parsing tls config, 'cipher_suites' cannot be empty"));
        assert!(
            error_of("tls {\n verify_cert_and_check_known_urls: true\n}\n")
                .contains("verify_cert_and_check_known_urls not supported in this context")
        );
        assert!(error_of("tls {\n cert_file: \"x.pem\"\n}\n")
            .contains(":1:0: missing 'key_file' in TLS configuration"));
        assert!(error_of("tls {\n timeout: \"abc\"\n}\n")
            .contains("error parsing tls config, 'timeout' time: invalid duration \"abc\""));
        assert!(error_of("tls: 1\n").contains(
            ":1:0: interface conversion: interface {} is int64, not map[string]interface {}"
        ));
    }

    #[test]
    fn peers_may_check_known_urls() {
        let (o, r) = load("cluster {\n tls {\n  verify_cert_and_check_known_urls: true\n }\n}\n");
        r.unwrap();
        let tc = o.cluster_tls.unwrap();
        assert!(tc.verify && tc.check_known_urls);
    }
}
