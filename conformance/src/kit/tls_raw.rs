//! A raw client-protocol connection over TLS, the way a NATS client starts
//! one: TCP, the server's INFO in plain text, then the TLS handshake, then
//! the same line-oriented API as [`RawClient`]. It trusts the kit's test CA
//! (see [`super::certs`]) and can present the kit's server certificate,
//! which carries no extended key usage, as its client certificate.

use super::certs;
use super::raw::{RawClient, EXPECT_TIMEOUT};
use anyhow::{anyhow, bail, Context, Result};
use rustls::crypto::{ring, CryptoProvider, SupportedKxGroup};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde_json::Value;
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// How the client side of the handshake is set up.
#[derive(Clone, Default)]
pub struct TlsOptions {
    /// Present the kit's certificate as a client certificate.
    pub client_cert: bool,
    /// Key exchange groups to offer, in order (the provider's defaults if empty).
    pub kx_groups: Vec<&'static dyn SupportedKxGroup>,
    /// Offer only this cipher suite (Go's name), and only the TLS version
    /// it belongs to.
    pub suite: Option<&'static str>,
    /// Also trust the kit's second CA (`noip-ca.pem`), whose server
    /// certificate is for `localhost` only: a server presenting it to a
    /// client of 127.0.0.1 fails on the name, not on the issuer.
    pub trust_noip_ca: bool,
    /// The name the server's certificate is checked for (`localhost` when
    /// unset).
    pub server_name: Option<&'static str>,
}

impl TlsOptions {
    pub fn with_client_cert() -> TlsOptions {
        TlsOptions {
            client_cert: true,
            ..TlsOptions::default()
        }
    }
}

/// What the handshake agreed on, in Go's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreed {
    /// "1.2" or "1.3".
    pub version: String,
    /// Go's name of the cipher suite.
    pub cipher_suite: String,
    /// Go's name of the key exchange group ("X25519", "CurveP256", ...).
    pub group: String,
}

fn file(name: &str) -> &'static str {
    certs::FILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
        .expect("a kit certificate file")
}

const ONLY_TLS12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
const ONLY_TLS13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

fn config(opts: &TlsOptions) -> Result<ClientConfig> {
    let mut provider = ring::default_provider();
    if !opts.kx_groups.is_empty() {
        provider.kx_groups = opts.kx_groups.clone();
    }
    let mut versions: &[&rustls::SupportedProtocolVersion] = rustls::DEFAULT_VERSIONS;
    if let Some(want) = opts.suite {
        provider
            .cipher_suites
            .retain(|s| go_suite_name(s.suite()) == want);
        let suite = provider
            .cipher_suites
            .first()
            .with_context(|| format!("no cipher suite {want} in ring"))?;
        versions = match suite {
            rustls::SupportedCipherSuite::Tls13(_) => ONLY_TLS13,
            rustls::SupportedCipherSuite::Tls12(_) => ONLY_TLS12,
        };
    }
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(file("ca.pem").as_bytes()) {
        roots.add(cert.context("kit CA")?)?;
    }
    if opts.trust_noip_ca {
        for cert in CertificateDer::pem_slice_iter(file("noip-ca.pem").as_bytes()) {
            roots.add(cert.context("kit no-IP CA")?)?;
        }
    }
    let builder = ClientConfig::builder_with_provider(Arc::new(provider as CryptoProvider))
        .with_protocol_versions(versions)?
        .with_root_certificates(roots);
    Ok(if opts.client_cert {
        let chain = CertificateDer::pem_slice_iter(file("server-cert.pem").as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .context("kit certificate")?;
        let key =
            PrivateKeyDer::from_pem_slice(file("server-key.pem").as_bytes()).context("kit key")?;
        builder.with_client_auth_cert(chain, key)?
    } else {
        builder.with_no_client_auth()
    })
}

/// Reads one plain-text line (the INFO) byte by byte, so that nothing of
/// what follows it is consumed.
async fn read_line(stream: &mut TcpStream) -> Result<String> {
    let mut line = Vec::new();
    let read = async {
        loop {
            let b = stream.read_u8().await.context("reading the INFO")?;
            line.push(b);
            if b == b'\n' {
                return Ok::<_, anyhow::Error>(());
            }
            if line.len() > 64 * 1024 {
                bail!("no end of line in {} bytes", line.len());
            }
        }
    };
    tokio::time::timeout(EXPECT_TIMEOUT, read)
        .await
        .map_err(|_| anyhow!("no INFO line within {EXPECT_TIMEOUT:?}"))??;
    Ok(String::from_utf8_lossy(&line).into_owned())
}

fn parse_info(line: &str) -> Result<Value> {
    let json = line
        .strip_prefix("INFO ")
        .with_context(|| format!("expected an INFO line, got {line:?}"))?;
    serde_json::from_str(json.trim()).context("INFO is not JSON")
}

/// Opens TCP and reads the plain INFO line; the stream is ready for a
/// handshake (or for not starting one).
pub async fn connect_plain(addr: &str) -> Result<(TcpStream, Value)> {
    let mut stream = tokio::time::timeout(EXPECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| anyhow!("connect to {addr} timed out"))?
        .with_context(|| format!("connect to {addr}"))?;
    stream.set_nodelay(true)?;
    let line = read_line(&mut stream).await?;
    Ok((stream, parse_info(&line)?))
}

/// Runs the client handshake on a TCP stream, as soon as it is open (a
/// `wss` connection) or after the INFO (a NATS client).
pub async fn client_tls(
    stream: TcpStream,
    opts: &TlsOptions,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let connector = TlsConnector::from(Arc::new(config(opts)?));
    let name = ServerName::try_from(opts.server_name.unwrap_or("localhost"))
        .context("the server name to check")?;
    tokio::time::timeout(EXPECT_TIMEOUT, connector.connect(name, stream))
        .await
        .map_err(|_| anyhow!("TLS handshake timed out"))?
        .context("TLS handshake")
}

/// Runs the client handshake on a stream whose INFO has been read.
pub async fn handshake(stream: TcpStream, opts: &TlsOptions) -> Result<(RawClient, Agreed)> {
    let tls = client_tls(stream, opts).await?;
    let conn = tls.get_ref().1;
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "1.2".to_string(),
        v => format!("{v:?}"),
    };
    let cipher_suite = conn
        .negotiated_cipher_suite()
        .map(|s| go_suite_name(s.suite()))
        .unwrap_or_else(|| "unknown".to_string());
    let group = match conn.negotiated_key_exchange_group().map(|g| g.name()) {
        Some(rustls::NamedGroup::X25519) => "X25519".to_string(),
        Some(rustls::NamedGroup::secp256r1) => "CurveP256".to_string(),
        Some(rustls::NamedGroup::secp384r1) => "CurveP384".to_string(),
        Some(rustls::NamedGroup::secp521r1) => "CurveP521".to_string(),
        other => format!("{other:?}"),
    };
    let agreed = Agreed {
        version,
        cipher_suite,
        group,
    };
    Ok((RawClient::from_stream(Box::new(tls)), agreed))
}

/// Go's name of a cipher suite (rustls names TLS 1.3 suites `TLS13_...`).
fn go_suite_name(suite: rustls::CipherSuite) -> String {
    let name = suite.as_str().unwrap_or("unknown");
    if let Some(rest) = name.strip_prefix("TLS13_") {
        return format!("TLS_{rest}");
    }
    // Go names the TLS 1.2 ChaCha20 suites without their hash.
    name.replace("CHACHA20_POLY1305_SHA256", "CHACHA20_POLY1305")
}

/// The names of every cipher suite the kit's client can offer.
pub fn suite_names() -> Vec<String> {
    ring::default_provider()
        .cipher_suites
        .iter()
        .map(|s| go_suite_name(s.suite()))
        .collect()
}

/// GETs `path` from an HTTPS monitoring port at `addr` (HTTP/1.0, so the
/// server closes the connection after the body), checking the server's
/// certificate against the kit's CA for `server_name`. Status and body.
pub async fn https_get(
    addr: &str,
    server_name: &str,
    path: &str,
    opts: &TlsOptions,
) -> Result<(u16, String)> {
    use tokio::io::AsyncWriteExt;
    let stream = tokio::time::timeout(EXPECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| anyhow!("connect to {addr} timed out"))?
        .with_context(|| format!("connect to {addr}"))?;
    let connector = TlsConnector::from(Arc::new(config(opts)?));
    let name = ServerName::try_from(server_name.to_string())
        .with_context(|| format!("server name {server_name}"))?;
    let mut tls = tokio::time::timeout(EXPECT_TIMEOUT, connector.connect(name, stream))
        .await
        .map_err(|_| anyhow!("TLS handshake timed out"))?
        .context("TLS handshake")?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {server_name}\r\n\r\n");
    tls.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    let read = tokio::time::timeout(EXPECT_TIMEOUT, tls.read_to_end(&mut raw)).await;
    match read {
        Err(_) => bail!("GET {path}: no complete answer within {EXPECT_TIMEOUT:?}"),
        // A server may close without a TLS close_notify after the body.
        Ok(Err(e)) if raw.is_empty() || e.kind() != std::io::ErrorKind::UnexpectedEof => {
            return Err(e).context(format!("GET {path}"));
        }
        Ok(_) => {}
    }
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .with_context(|| format!("GET {path}: no end of headers in {text:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("GET {path}: bad status line in {head:?}"))?;
    Ok((status, body.to_string()))
}

/// TCP, plain INFO, TLS handshake: a raw client ready for CONNECT.
pub async fn connect(addr: &str, opts: &TlsOptions) -> Result<(RawClient, Value, Agreed)> {
    let (stream, info) = connect_plain(addr).await?;
    let (client, agreed) = handshake(stream, opts).await?;
    Ok((client, info, agreed))
}

/// The kit's X25519 and P-256 groups, for offering a choice.
pub fn groups(names: &[&str]) -> Vec<&'static dyn SupportedKxGroup> {
    names
        .iter()
        .map(|n| match *n {
            "X25519" => ring::kx_group::X25519,
            "CurveP256" => ring::kx_group::SECP256R1,
            "CurveP384" => ring::kx_group::SECP384R1,
            other => panic!("no such group in ring: {other}"),
        })
        .collect()
}
