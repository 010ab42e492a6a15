//! TLS for client connections, as Go 2.9.10 does it: the server sends its
//! INFO (with `tls_required`) in plain text, then the client starts the
//! handshake, which must finish within the configured timeout. Client
//! certificates are required and verified against the `ca_file` (the
//! system's CA bundle when there is none) when the block says `verify: true`.
//! The server chooses the cipher suite in Go's order of preference among
//! those the block allows, and the key exchange group among its
//! `curve_preferences`.

use crate::core::connection::PeerCert;
use crate::core::connection::TlsState;
use crate::options::tls::files::{load_ca_certs, load_key_pair, KeyPairError, TlsFileError};
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

/// Why a `tls` block cannot be served. The server decides on it: it does
/// not start, or refuses the reload.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The CA file.
    #[error(transparent)]
    CaFile(#[from] TlsFileError),
    #[error(transparent)]
    KeyPair(#[from] KeyPairError),
    #[error("verifying client certificates without a ca_file needs the system's CA certificates, and none were found")]
    NoSystemRoots,
    /// `curve_preferences` names only curves ring does not have.
    #[error("natsd supports none of the curves {0:?}")]
    Curves(Vec<String>),
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
    #[error(transparent)]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// Why a client's certificate fails `pinned_certs`. The handshake decides
/// on it: it logs it and closes the connection.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("Failed pinned cert test as client did not provide a certificate")]
    NoCertificate,
    /// The hex SHA-256 of the certificate's SubjectPublicKeyInfo.
    #[error("Failed pinned cert test for key id: {0}")]
    NotPinned(String),
}

/// What accepting a TLS client needs.
pub struct ClientTls {
    pub acceptor: TlsAcceptor,
    /// The same certificate for the HTTPS monitoring port, which never
    /// asks for client certificates (as in Go).
    pub monitor_acceptor: TlsAcceptor,
    pub timeout: Duration,
    /// Client certificates are required (INFO's `tls_verify`).
    pub verify: bool,
    /// `connection_rate_limit`: new TLS connections allowed per second.
    pub rate: Option<RateCounter>,
    /// `pinned_certs`: the hex SHA-256 of the SubjectPublicKeyInfo a
    /// client certificate must have; None when not set.
    pub pinned: Option<std::collections::HashSet<String>>,
}

/// Go's rate counter: `limit` connections in a window of one second that
/// starts with the first connection after the previous window ended.
pub struct RateCounter {
    limit: i64,
    state: parking_lot::Mutex<RateState>,
}

#[derive(Default)]
struct RateState {
    count: i64,
    end: Option<std::time::Instant>,
    /// Refused since last counted by [`RateCounter::take_blocked`].
    blocked: u64,
    /// A task logs the refusals once a second.
    logging: bool,
}

impl RateCounter {
    pub fn new(limit: i64) -> RateCounter {
        RateCounter {
            limit,
            state: parking_lot::Mutex::new(RateState::default()),
        }
    }

    /// Whether one more connection is allowed now.
    pub fn allow(&self) -> bool {
        let now = std::time::Instant::now();
        let mut st = self.state.lock();
        match st.end {
            Some(end) if now <= end => st.count += 1,
            _ => {
                st.count = 0;
                st.end = Some(now + Duration::from_secs(1));
            }
        }
        let allow = st.count < self.limit;
        if !allow {
            st.blocked += 1;
        }
        allow
    }

    /// The refusals since the last call.
    pub fn take_blocked(&self) -> u64 {
        std::mem::take(&mut self.state.lock().blocked)
    }

    /// True the first time: the caller starts the logging task.
    pub fn start_logging(&self) -> bool {
        !std::mem::replace(&mut self.state.lock().logging, true)
    }
}

impl ClientTls {
    /// Loads the certificate, key and CA files of a `tls` block.
    pub fn new(tc: &TlsConfig) -> Result<ClientTls, TlsError> {
        Ok(ClientTls {
            acceptor: TlsAcceptor::from(Arc::new(server_config(tc, tc.verify)?)),
            monitor_acceptor: TlsAcceptor::from(Arc::new(server_config(tc, false)?)),
            timeout: timeout(tc),
            verify: tc.verify,
            rate: (tc.rate_limit > 0).then(|| RateCounter::new(tc.rate_limit)),
            pinned: (!tc.pinned_certs.is_empty())
                .then(|| tc.pinned_certs.iter().cloned().collect()),
        })
    }
}

/// The rustls configuration of a `tls` block, verifying client
/// certificates when `verify`.
fn server_config(tc: &TlsConfig, verify: bool) -> Result<ServerConfig, TlsError> {
    let mut provider = ring::default_provider();
    provider.cipher_suites = cipher_suites(&tc.ciphers);
    provider.kx_groups = kx_groups(&tc.curve_preferences)?;
    let provider = Arc::new(provider);
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = if verify {
        let roots = if tc.ca_file.is_empty() {
            system_roots()?
        } else {
            let mut roots = RootCertStore::empty();
            for cert in load_ca_certs(&tc.ca_file)? {
                roots.add(cert)?;
            }
            roots
        };
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build()?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let (certs, key) = load_key_pair(&tc.cert_file, &tc.key_file)?;
    let mut config = builder.with_single_cert(certs, key)?;
    // Go's server picks the suite in its own order, not the client's.
    config.ignore_client_order = true;
    Ok(config)
}

impl ClientTls {
    /// Go's pinned certificate check: with `pinned_certs`, the client's
    /// certificate must be one of them.
    pub fn check_pinned(&self, state: &TlsState) -> Result<(), PinError> {
        let Some(pinned) = &self.pinned else {
            return Ok(());
        };
        match state.peer_certs.first() {
            None => Err(PinError::NoCertificate),
            Some(c) if !pinned.contains(&c.spki_sha256) => {
                Err(PinError::NotPinned(c.spki_sha256.clone()))
            }
            Some(_) => Ok(()),
        }
    }
}

/// What INFO says of TLS: `tls_required`, or, with `allow_non_tls`,
/// `tls_available`.
pub fn advertised(o: &crate::options::Options) -> (bool, bool) {
    let tls = o.tls_config.is_some();
    (tls && !o.allow_non_tls, tls && o.allow_non_tls)
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
fn system_roots() -> Result<RootCertStore, TlsError> {
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
        return Err(TlsError::NoSystemRoots);
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
fn kx_groups(names: &[String]) -> Result<Vec<&'static dyn SupportedKxGroup>, TlsError> {
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
        return Err(TlsError::Curves(names.to_vec()));
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
    let peer_certs = conn
        .peer_certificates()
        .map(|certs| certs.iter().map(|c| PeerCert::of(c)).collect())
        .unwrap_or_default();
    let peer_leaf = conn
        .peer_certificates()
        .and_then(|certs| certs.first())
        .map(|c| c.as_ref().into());
    TlsState {
        version,
        cipher_suite,
        peer_certs,
        peer_leaf,
    }
}

impl PeerCert {
    pub fn of(der: &[u8]) -> PeerCert {
        let (subject, spki) = subject_and_spki(der).unwrap_or_default();
        PeerCert {
            subject: name_string(subject),
            spki_sha256: if spki.is_empty() {
                String::new()
            } else {
                sha256_hex(spki)
            },
            cert_sha256: sha256_hex(der),
        }
    }
}

fn sha256_hex(data: &[u8]) -> String {
    let d = ::ring::digest::digest(&::ring::digest::SHA256, data);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The subject Name (contents) and the whole SubjectPublicKeyInfo element
/// of a DER certificate.
fn subject_and_spki(der: &[u8]) -> Option<(&[u8], &[u8])> {
    use crate::options::tls::files::der_tlv;
    let (_, cert, _) = der_tlv(der)?;
    let (_, tbs, _) = der_tlv(cert)?;
    let mut rest = tbs;
    // [0] version, when present.
    if rest.first() == Some(&0xa0) {
        rest = der_tlv(rest)?.2;
    }
    // serial, signature algorithm, issuer, validity
    for _ in 0..4 {
        rest = der_tlv(rest)?.2;
    }
    let (_, subject, after) = der_tlv(rest)?;
    let (_, _, after_spki) = der_tlv(after)?;
    let spki = &after[..after.len() - after_spki.len()];
    Some((subject, spki))
}

/// Go's short names of attribute types, in the order Go's `pkix.Name`
/// puts them before reversing: C, ST, L, STREET, POSTALCODE, O, OU, CN,
/// SERIALNUMBER.
const ATTRS: [(&[u8], &str); 9] = [
    (&[0x55, 0x04, 0x06], "C"),
    (&[0x55, 0x04, 0x08], "ST"),
    (&[0x55, 0x04, 0x07], "L"),
    (&[0x55, 0x04, 0x09], "STREET"),
    (&[0x55, 0x04, 0x11], "POSTALCODE"),
    (&[0x55, 0x04, 0x0a], "O"),
    (&[0x55, 0x04, 0x0b], "OU"),
    (&[0x55, 0x04, 0x03], "CN"),
    (&[0x55, 0x04, 0x05], "SERIALNUMBER"),
];

/// A Name as Go's `pkix.Name.String()` shows it: the known attributes
/// grouped by type in Go's order, then reversed, as `TYPE=value` joined
/// by commas (several values of a type joined by `+`). Attributes of other
/// types are left out.
fn name_string(name: &[u8]) -> String {
    use crate::options::tls::files::der_tlv;
    let mut values: Vec<Vec<String>> = vec![Vec::new(); ATTRS.len()];
    let mut rdns = name;
    while let Some((_, set, rest)) = der_tlv(rdns) {
        rdns = rest;
        let mut atvs = set;
        while let Some((_, atv, rest)) = der_tlv(atvs) {
            atvs = rest;
            let Some((0x06, oid, value)) = der_tlv(atv) else {
                continue;
            };
            let Some((_, value, _)) = der_tlv(value) else {
                continue;
            };
            if let Some(i) = ATTRS.iter().position(|(o, _)| *o == oid) {
                values[i].push(String::from_utf8_lossy(value).into_owned());
            }
        }
    }
    ATTRS
        .iter()
        .zip(values)
        .filter(|(_, v)| !v.is_empty())
        .rev()
        .map(|((_, short), v)| {
            v.iter()
                .map(|val| format!("{short}={}", escape(val)))
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// RFC 4514 escaping, as Go does it.
fn escape(v: &str) -> String {
    let chars: Vec<char> = v.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == ' ' || c == '#'))
            || (i == chars.len() - 1 && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
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
    fn peer_certificate_subject() {
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../conformance/src/kit/certs/server-cert.pem"
        ))
        .unwrap();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let pc = PeerCert::of(&der);
        assert_eq!(pc.subject, "CN=localhost");
        assert_eq!(pc.spki_sha256.len(), 64);
        assert_eq!(escape(" a,b "), "\\ a\\,b\\ ");
    }

    #[test]
    fn curves() {
        let g = kx_groups(&["CurveP256".to_string(), "CurveP521".to_string()]).unwrap();
        assert_eq!(g.len(), 1);
        assert!(kx_groups(&["CurveP521".to_string()]).is_err());
    }
}
