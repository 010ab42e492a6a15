//! TLS for client connections, as Go 2.9.10 does it: the server sends its
//! INFO (with `tls_required`) in plain text, then the client starts the
//! handshake, which must finish within the configured timeout. Client
//! certificates are required and verified against the `ca_file` (the
//! system's CA bundle when there is none) when the block says `verify: true`.
//! The server chooses the cipher suite in Go's order of preference among
//! those the block allows, and the key exchange group among its
//! `curve_preferences`.

use crate::client::TlsState;
use crate::options::tls::files::{load_ca_certs, load_key_pair};
use crate::options::tls::TlsConfig;
use rustls::crypto::{ring, SupportedKxGroup};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite};
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::TlsAcceptor;

/// Go's default handshake timeout for client connections.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Where Go looks for the system's CA bundle on Linux, in its order.
const SYSTEM_CA_FILES: [&str; 6] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// What accepting a TLS client needs.
pub struct ClientTls {
    pub acceptor: TlsAcceptor,
    pub timeout: Duration,
    /// Client certificates are required (INFO's `tls_verify`).
    pub verify: bool,
}

impl ClientTls {
    /// Loads the certificate, key and CA files of a `tls` block.
    pub fn new(tc: &TlsConfig) -> Result<ClientTls, String> {
        let mut provider = ring::default_provider();
        provider.cipher_suites = cipher_suites(&tc.ciphers);
        provider.kx_groups = kx_groups(&tc.curve_preferences)?;
        let provider = Arc::new(provider);
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let builder = if tc.verify {
            let roots = if tc.ca_file.is_empty() {
                system_roots()?
            } else {
                let mut roots = RootCertStore::empty();
                for cert in load_ca_certs(&tc.ca_file)? {
                    roots.add(cert).map_err(|e| e.to_string())?;
                }
                roots
            };
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| e.to_string())?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let (certs, key) = load_key_pair(&tc.cert_file, &tc.key_file)?;
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| e.to_string())?;
        // Go's server picks the suite in its own order, not the client's.
        config.ignore_client_order = true;
        Ok(ClientTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            timeout: timeout(tc),
            verify: tc.verify,
        })
    }
}

/// The handshake timeout a block configures (Go's default when it does not).
pub fn timeout(tc: &TlsConfig) -> Duration {
    if tc.timeout > 0.0 {
        Duration::from_secs_f64(tc.timeout)
    } else {
        DEFAULT_TIMEOUT
    }
}

/// The system's CA certificates, which Go verifies client certificates
/// against when the block names no `ca_file`.
fn system_roots() -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for file in SYSTEM_CA_FILES {
        if std::path::Path::new(file).exists() {
            if let Ok(certs) = load_ca_certs(file) {
                roots.add_parsable_certificates(certs);
            }
            break;
        }
    }
    if roots.is_empty() {
        return Err("verifying client certificates without a ca_file needs the system's CA certificates, and none were found".into());
    }
    Ok(roots)
}

/// Go's name of a rustls cipher suite.
fn go_name(suite: &SupportedCipherSuite) -> String {
    let name = suite.suite().as_str().unwrap_or("unknown");
    if let Some(rest) = name.strip_prefix("TLS13_") {
        return format!("TLS_{rest}");
    }
    name.strip_suffix("_CHACHA20_POLY1305_SHA256")
        .map(|p| format!("{p}_CHACHA20_POLY1305"))
        .unwrap_or_else(|| name.to_string())
}

/// Go's order of preference on hardware with AES instructions: AES-128-GCM,
/// then AES-256-GCM, then ChaCha20, ECDSA before RSA.
const PREFERENCE: [&str; 9] = [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
];

/// The suites the server accepts, in Go's order: every TLS 1.3 suite (Go's
/// `cipher_suites` does not apply to 1.3), and the TLS 1.2 suites the block
/// names (all of them when it names none).
fn cipher_suites(names: &[String]) -> Vec<SupportedCipherSuite> {
    let mut suites: Vec<SupportedCipherSuite> = ring::ALL_CIPHER_SUITES
        .iter()
        .filter(|s| {
            s.tls13().is_some() || names.is_empty() || names.iter().any(|n| *n == go_name(s))
        })
        .copied()
        .collect();
    suites.sort_by_key(|s| {
        let name = go_name(s);
        PREFERENCE
            .iter()
            .position(|p| *p == name)
            .unwrap_or(PREFERENCE.len())
    });
    suites
}

/// The key exchange groups of `curve_preferences`, in its order. ring has
/// no P-521; a block that names only that one cannot be served.
fn kx_groups(names: &[String]) -> Result<Vec<&'static dyn SupportedKxGroup>, String> {
    if names.is_empty() {
        return Ok(ring::default_provider().kx_groups);
    }
    let groups: Vec<&'static dyn SupportedKxGroup> = names
        .iter()
        .filter_map(|n| match n.as_str() {
            "X25519" => Some(ring::kx_group::X25519),
            "CurveP256" => Some(ring::kx_group::SECP256R1),
            "CurveP384" => Some(ring::kx_group::SECP384R1),
            _ => None,
        })
        .collect();
    if groups.is_empty() {
        return Err(format!("natsd supports none of the curves {names:?}"));
    }
    Ok(groups)
}

/// What a handshake agreed on, in Go's names.
pub fn agreed(conn: &rustls::ServerConnection) -> TlsState {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "1.2".to_string(),
        Some(v) => format!("Unknown [0x{:x}]", u16::from(v)),
        None => "unknown".to_string(),
    };
    let cipher_suite = conn
        .negotiated_cipher_suite()
        .map(|s| go_name(&s))
        .unwrap_or_else(|| "unknown".to_string());
    TlsState {
        version,
        cipher_suite,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_in_go_order() {
        let all: Vec<String> = cipher_suites(&[]).iter().map(go_name).collect();
        check_order(&all);
        assert_eq!(all.len(), 9);
        let some = cipher_suites(&["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".to_string()]);
        let names: Vec<String> = some.iter().map(go_name).collect();
        assert_eq!(names[3..], ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]);
    }

    fn check_order(names: &[String]) {
        assert_eq!(names[0], "TLS_AES_128_GCM_SHA256");
        assert_eq!(names[3], "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(names[8], "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305");
    }

    #[test]
    fn curves() {
        let g = kx_groups(&["CurveP256".to_string(), "CurveP521".to_string()]).unwrap();
        assert_eq!(g.len(), 1);
        assert!(kx_groups(&["CurveP521".to_string()]).is_err());
    }
}
