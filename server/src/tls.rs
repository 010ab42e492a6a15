//! TLS for client connections, as Go 2.9.10 does it: the server sends its
//! INFO (with `tls_required`) in plain text, then the client starts the
//! handshake, which must finish within the configured timeout. Client
//! certificates are required and verified against the `ca_file` when the
//! block says `verify: true`.

use crate::options::tls::files::{load_ca_certs, load_key_pair};
use crate::options::tls::TlsConfig;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::TlsAcceptor;

/// Go's default handshake timeout for client connections.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

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
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let builder = if tc.verify {
            if tc.ca_file.is_empty() {
                return Err("verifying client certificates needs a ca_file in natsd".into());
            }
            let mut roots = RootCertStore::empty();
            for cert in load_ca_certs(&tc.ca_file)? {
                roots.add(cert).map_err(|e| e.to_string())?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| e.to_string())?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let (certs, key) = load_key_pair(&tc.cert_file, &tc.key_file)?;
        let config = builder
            .with_single_cert(certs, key)
            .map_err(|e| e.to_string())?;
        let timeout = if tc.timeout > 0.0 {
            Duration::from_secs_f64(tc.timeout)
        } else {
            DEFAULT_TIMEOUT
        };
        Ok(ClientTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            timeout,
            verify: tc.verify,
        })
    }
}

/// Go's names for what a handshake agreed on, as its debug line shows them.
pub fn describe(conn: &rustls::ServerConnection) -> String {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "1.2",
        _ => "unknown",
    };
    let suite = conn
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .unwrap_or("unknown");
    // rustls names TLS 1.3 suites TLS13_*, Go TLS_*.
    let suite = suite.replacen("TLS13_", "TLS_", 1);
    format!("TLS version {version}, cipher suite {suite}")
}
