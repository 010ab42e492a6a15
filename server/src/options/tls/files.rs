//! The files a `tls` block names: the certificate and its private key, and
//! the CA certificates. They are read and checked when the configuration
//! is, with the texts Go reports for what is missing or broken.

use super::TlsConfig;
use base64::Engine;
use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};
use std::io::Read;

/// A file that cannot be opened (`op` "open") or read ("read"), as Go's
/// `os` package words it.
#[derive(Debug, thiserror::Error)]
#[error("{op} {path}: {}", os_text(.source))]
pub struct FileError {
    pub op: &'static str,
    pub path: String,
    pub source: std::io::Error,
}

/// Why a certificate file and a key file are not a usable pair, with the
/// texts of Go's `tls.X509KeyPair`.
#[derive(Debug, thiserror::Error)]
pub enum KeyPairError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("tls: failed to find any PEM data in certificate input")]
    NoCertificatePem,
    #[error("tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched")]
    KeyForCertificate,
    /// The labels of the PEM blocks that were not certificates.
    #[error("tls: failed to find \"CERTIFICATE\" PEM block in certificate input after skipping PEM blocks of the following types: [{}]", .0.join(" "))]
    NoCertificateBlock(Vec<String>),
    #[error("tls: failed to find any PEM data in key input")]
    NoKeyPem,
    #[error("tls: found a certificate rather than a key in the PEM for the private key")]
    CertificateForKey,
    /// The labels of the PEM blocks that were not private keys.
    #[error("tls: failed to find PEM block with type ending in \"PRIVATE KEY\" in key input after skipping PEM blocks of the following types: [{}]", .0.join(" "))]
    NoKeyBlock(Vec<String>),
    #[error("x509: malformed certificate")]
    MalformedCertificate,
    #[error("tls: failed to parse private key")]
    UnparsableKey,
    #[error("tls: unknown public key algorithm")]
    UnknownAlgorithm,
    #[error("tls: private key type does not match public key type")]
    KeyTypeMismatch,
    #[error("tls: private key does not match public key")]
    KeyMismatch,
}

/// Why the files a `tls` block names cannot be used, with Go's texts. The
/// configuration decides on it (an error at the block's position), and so
/// do the TLS flags and the server (which does not start or reload).
#[derive(Debug, thiserror::Error)]
pub enum TlsFileError {
    #[error("missing 'key_file' in TLS configuration")]
    MissingKeyFile,
    #[error("missing 'cert_file' in TLS configuration")]
    MissingCertFile,
    #[error("error parsing X509 certificate/key pair: {0}")]
    KeyPair(#[source] KeyPairError),
    /// The CA file cannot be read.
    #[error(transparent)]
    File(#[from] FileError),
    /// The CA file holds no certificate.
    #[error("failed to parse root ca certificate")]
    NoCaCertificate,
}

/// Checks what a block's files hold; the error's text is the one Go puts
/// after the block's position.
pub fn check(tc: &TlsConfig) -> Result<(), TlsFileError> {
    match (tc.cert_file.is_empty(), tc.key_file.is_empty()) {
        (false, true) => return Err(TlsFileError::MissingKeyFile),
        (true, false) => return Err(TlsFileError::MissingCertFile),
        (false, false) => {
            load_key_pair(&tc.cert_file, &tc.key_file).map_err(TlsFileError::KeyPair)?;
        }
        (true, true) => {}
    }
    if !tc.ca_file.is_empty() {
        let pem = read_file(&tc.ca_file)?;
        if !has_ca_certificate(&pem) {
            return Err(TlsFileError::NoCaCertificate);
        }
    }
    Ok(())
}

/// Reads a file, failing with Go's text for the step that failed.
fn read_file(path: &str) -> Result<Vec<u8>, FileError> {
    let failed = |op, source| FileError {
        op,
        path: path.to_string(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(|e| failed("open", e))?;
    let mut data = Vec::new();
    f.read_to_end(&mut data).map_err(|e| failed("read", e))?;
    Ok(data)
}

/// An OS error as Go prints it: the system's message, in lower case.
fn os_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}

/// Whether any CERTIFICATE block of a CA file holds a certificate.
fn has_ca_certificate(pem: &[u8]) -> bool {
    Blocks(pem).any(|b| {
        b.label == "CERTIFICATE"
            && !b.has_headers
            && rustls::server::ParsedCertificate::try_from(&CertificateDer::from(b.der)).is_ok()
    })
}

/// The CA certificates of a file, for verifying peers.
pub fn load_ca_certs(ca_file: &str) -> Result<Vec<CertificateDer<'static>>, TlsFileError> {
    let pem = read_file(ca_file)?;
    let certs: Vec<_> = Blocks(&pem)
        .filter(|b| b.label == "CERTIFICATE" && !b.has_headers)
        .map(|b| CertificateDer::from(b.der))
        .collect();
    if certs.is_empty() {
        return Err(TlsFileError::NoCaCertificate);
    }
    Ok(certs)
}

/// The certificate chain and its private key, checked as Go checks them:
/// the files must hold a certificate and a private key, and the key must
/// be the certificate's.
pub fn load_key_pair(
    cert_file: &str,
    key_file: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), KeyPairError> {
    let cert_pem = read_file(cert_file)?;
    let key_pem = read_file(key_file)?;
    let mut certs = Vec::new();
    let mut skipped = Vec::new();
    for b in Blocks(&cert_pem) {
        if b.label == "CERTIFICATE" {
            certs.push(CertificateDer::from(b.der));
        } else {
            skipped.push(b.label);
        }
    }
    if certs.is_empty() {
        return Err(if skipped.is_empty() {
            KeyPairError::NoCertificatePem
        } else if skipped.len() == 1 && skipped[0].ends_with("PRIVATE KEY") {
            KeyPairError::KeyForCertificate
        } else {
            KeyPairError::NoCertificateBlock(skipped)
        });
    }
    let mut skipped = Vec::new();
    let mut key_der = None;
    for b in Blocks(&key_pem) {
        if b.label == "PRIVATE KEY" || b.label.ends_with(" PRIVATE KEY") {
            key_der = Some(b.der);
            break;
        }
        skipped.push(b.label);
    }
    let Some(key_der) = key_der else {
        return Err(if skipped.is_empty() {
            KeyPairError::NoKeyPem
        } else if skipped.len() == 1 && skipped[0] == "CERTIFICATE" {
            KeyPairError::CertificateForKey
        } else {
            KeyPairError::NoKeyBlock(skipped)
        });
    };
    let cert = rustls::server::ParsedCertificate::try_from(&certs[0])
        .map_err(|_| KeyPairError::MalformedCertificate)?;
    let (key_form, key) = signing_key(key_der).ok_or(KeyPairError::UnparsableKey)?;
    let cert_spki = cert.subject_public_key_info();
    let Some(key_spki) = key.public_key() else {
        drop(cert);
        return Ok((certs, key_form));
    };
    let cert_alg = algorithm_oid(cert_spki.as_ref());
    if !matches!(cert_alg, Some(RSA | EC | ED25519)) {
        return Err(KeyPairError::UnknownAlgorithm);
    }
    if cert_alg != algorithm_oid(key_spki.as_ref()) {
        return Err(KeyPairError::KeyTypeMismatch);
    }
    if cert_spki.as_ref() != key_spki.as_ref() {
        return Err(KeyPairError::KeyMismatch);
    }
    drop(cert);
    Ok((certs, key_form))
}

/// A private key in any of the encodings Go tries (PKCS #1, PKCS #8, SEC 1),
/// whatever the PEM label says: the encoding that parsed, and the key.
fn signing_key(
    der: Vec<u8>,
) -> Option<(
    PrivateKeyDer<'static>,
    std::sync::Arc<dyn rustls::sign::SigningKey>,
)> {
    let forms = [
        PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der.clone())),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.clone())),
        PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der)),
    ];
    forms.into_iter().find_map(|k| {
        rustls::crypto::ring::sign::any_supported_type(&k)
            .ok()
            .map(|key| (k, key))
    })
}

const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// The algorithm OID of a DER SubjectPublicKeyInfo.
fn algorithm_oid(spki: &[u8]) -> Option<&[u8]> {
    let (tag, body, _) = der_tlv(spki)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, alg, _) = der_tlv(body)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, oid, _) = der_tlv(alg)?;
    (tag == 0x06).then_some(oid)
}

/// One DER element: its tag, its contents and what follows it.
pub(crate) fn der_tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| acc << 8 | *b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// One PEM block.
#[derive(Debug)]
struct Block {
    label: String,
    has_headers: bool,
    der: Vec<u8>,
}

/// The PEM blocks of a file, found the way Go's decoder finds them: a
/// `-----BEGIN X-----` line at the start of a line, optional `key: value`
/// header lines, base64 text, and a matching `-----END X-----` line.
/// Text between blocks and blocks that do not decode are skipped.
struct Blocks<'a>(&'a [u8]);

const BEGIN: &[u8] = b"\n-----BEGIN ";
const END: &[u8] = b"\n-----END ";
const DASHES: &[u8] = b"-----";

impl Iterator for Blocks<'_> {
    type Item = Block;

    fn next(&mut self) -> Option<Block> {
        let (block, rest) = decode(self.0)?;
        self.0 = rest;
        Some(block)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A line without its end and trailing blanks, and what follows it.
fn line(data: &[u8]) -> (&[u8], &[u8]) {
    let (mut end, next) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (i, i + 1),
        None => (data.len(), data.len()),
    };
    if end > 0 && end < data.len() && data[end - 1] == b'\r' {
        end -= 1;
    }
    let mut l = &data[..end];
    while let [head @ .., b' ' | b'\t'] = l {
        l = head;
    }
    (l, &data[next..])
}

fn decode(data: &[u8]) -> Option<(Block, &[u8])> {
    let mut rest = data;
    loop {
        if rest.starts_with(&BEGIN[1..]) {
            rest = &rest[BEGIN.len() - 1..];
        } else {
            let i = find(rest, BEGIN)?;
            rest = &rest[i + BEGIN.len()..];
        }
        let (type_line, after) = line(rest);
        rest = after;
        let Some(label) = type_line.strip_suffix(DASHES) else {
            continue;
        };
        let mut has_headers = false;
        loop {
            if rest.is_empty() {
                return None;
            }
            let (l, next) = line(rest);
            if !l.contains(&b':') {
                break;
            }
            has_headers = true;
            rest = next;
        }
        let (end_index, trailer_index) = if !has_headers && rest.starts_with(&END[1..]) {
            (0, END.len() - 1)
        } else {
            match find(rest, END) {
                Some(i) => (i, i + END.len()),
                None => continue,
            }
        };
        let trailer = &rest[trailer_index..];
        let trailer_len = label.len() + DASHES.len();
        if trailer.len() < trailer_len {
            continue;
        }
        let (end_line, rest_of_end_line) = trailer.split_at(trailer_len);
        if !end_line.starts_with(label) || !end_line.ends_with(DASHES) {
            continue;
        }
        if !line(rest_of_end_line).0.is_empty() {
            continue;
        }
        let text: Vec<u8> = rest[..end_index]
            .iter()
            .copied()
            .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            .collect();
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
        );
        let Ok(der) = engine.decode(&text) else {
            continue;
        };
        let after_end = line(&rest[end_index + END.len() - 1..]).1;
        return Some((
            Block {
                label: String::from_utf8_lossy(label).into_owned(),
                has_headers,
                der,
            },
            after_end,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks() {
        let text = b"junk\n-----BEGIN FOO-----\naGVs\nbG8=\n-----END FOO-----\n\
-----BEGIN BAD-----\n!!!\n-----END BAD-----\n-----BEGIN BAR-----\nProc-Type: 4\n\naGk=\n-----END BAR-----\n";
        let blocks: Vec<Block> = Blocks(text).collect();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].label, "FOO");
        assert_eq!(blocks[0].der, b"hello");
        assert_eq!(blocks[1].label, "BAR");
        assert!(blocks[1].has_headers);
        assert_eq!(blocks[1].der, b"hi");
        assert_eq!(Blocks(b"no pem here").count(), 0);
    }

    #[test]
    fn go_file_errors() {
        let tc = |cert: &str, key: &str, ca: &str| TlsConfig {
            cert_file: cert.into(),
            key_file: key.into(),
            ca_file: ca.into(),
            ..Default::default()
        };
        let check = |tc: TlsConfig| check(&tc).unwrap_err().to_string();
        assert_eq!(
            check(tc("/nonexistent/c.pem", "/nonexistent/k.pem", "")),
            "error parsing X509 certificate/key pair: open /nonexistent/c.pem: no such file or directory"
        );
        assert_eq!(check(tc("", "", "/")), "read /: is a directory");
        let dir = std::env::temp_dir().join(format!("natsd-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "junk\n").unwrap();
        let junk = junk.to_str().unwrap();
        assert_eq!(
            check(tc(junk, junk, "")),
            "error parsing X509 certificate/key pair: tls: failed to find any PEM data in certificate input"
        );
        assert_eq!(
            check(tc("", "", junk)),
            "failed to parse root ca certificate"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn spki_algorithm() {
        // SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING }
        let spki = [
            0x30, 0x0a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x01, 0x00,
        ];
        assert_eq!(algorithm_oid(&spki), Some(ED25519));
    }
}
