//! Encryption at rest, as Go 2.9.10's file store does it.
//!
//! The server's `jetstream { key }` never touches a file: each asset (a
//! stream's meta, a message block, a consumer) gets a key encryption key
//! (KEK) = HMAC-SHA256 keyed by the server's key over the account name
//! followed by the asset's context: the stream's name for its meta,
//! `<stream>:<block index>` for a block, `<stream>.<consumer>` for a
//! consumer. A random 32-byte seed, sealed by the KEK under a random
//! nonce, is the asset's key file (`meta.key`, `msgs/N.key`): the nonce,
//! then the sealed seed and its tag. The seed is the asset's own AEAD key
//! (its state files are sealed with it) and, with the key file's nonce,
//! the key of the stream cipher a block file is XORed with from its first
//! byte on.
//!
//! Cipher `chachapoly`: XChaCha20-Poly1305 (24-byte nonces) and the
//! XChaCha20 stream; cipher `aes`: AES-256-GCM with 16-byte nonces and
//! AES-256-CTR (the 16-byte nonce as the counter block, big-endian).

use aes_gcm::aead::consts::U16;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{Aead as _, KeyInit};
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20poly1305::XChaCha20Poly1305;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::fmt;
use std::sync::Arc;

/// The size of a seed, and of every key derived here.
const KEY_SIZE: usize = 32;
/// The shortest key file Go takes (`minMetaKeySize`, `minBlkKeySize`).
pub(crate) const MIN_KEY_FILE_SIZE: usize = 64;
/// A stream's or a consumer's key file.
pub const META_KEY_FILE: &str = "meta.key";

/// The store cipher (`jetstream { cipher }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cipher {
    #[default]
    ChaCha,
    Aes,
}

impl Cipher {
    /// The other one: what a store written before a cipher change uses.
    pub fn other(self) -> Cipher {
        match self {
            Cipher::ChaCha => Cipher::Aes,
            Cipher::Aes => Cipher::ChaCha,
        }
    }

    /// The nonce size of the cipher's AEAD (and of its key files' nonce).
    pub fn nonce_size(self) -> usize {
        match self {
            Cipher::ChaCha => 24,
            Cipher::Aes => 16,
        }
    }

    /// What Go's AEAD says when a seal does not open.
    fn open_error(self) -> &'static str {
        match self {
            Cipher::ChaCha => "chacha20poly1305: message authentication failed",
            Cipher::Aes => "cipher: message authentication failed",
        }
    }
}

impl fmt::Display for Cipher {
    /// Go's names, as the start-up banner shows them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cipher::ChaCha => "ChaCha20-Poly1305",
            Cipher::Aes => "AES-GCM",
        })
    }
}

/// Why something encrypted could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptError {
    /// A key file shorter than Go accepts.
    #[error("encryption bad key size")]
    BadKeySize,
    /// A seal that does not open (a wrong key, or damage): Go's text.
    #[error("{0}")]
    Open(&'static str),
    /// Sealed data shorter than its nonce.
    #[error("encrypted data too short")]
    Short,
    /// Encrypted files, and no key configured.
    #[error("encryption not enabled")]
    NotEnabled,
}

/// Derives the key encryption keys of one account's assets: HMAC-SHA256
/// keyed by the server's key, over the account's name then the context.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyGen {
    secret: Arc<[u8]>,
    info: String,
}

impl KeyGen {
    /// The derivation of `account`'s assets under the server key `secret`.
    pub fn new(secret: &[u8], account: &str) -> Self {
        KeyGen {
            secret: secret.into(),
            info: account.to_string(),
        }
    }

    /// The KEK of the asset named by `context`.
    pub fn derive(&self, context: &str) -> [u8; KEY_SIZE] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .expect("HMAC takes keys of any size");
        mac.update(self.info.as_bytes());
        mac.update(context.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for KeyGen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyGen")
            .field("account", &self.info)
            .finish_non_exhaustive()
    }
}

/// What a store encrypts with: the configured cipher and the account's
/// key derivation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encryption {
    pub cipher: Cipher,
    pub keygen: KeyGen,
}

impl Encryption {
    pub fn new(cipher: Cipher, secret: &[u8], account: &str) -> Self {
        Encryption {
            cipher,
            keygen: KeyGen::new(secret, account),
        }
    }
}

/// An AEAD of either cipher, keyed.
#[derive(Clone)]
pub(crate) enum Aead {
    ChaCha(Box<XChaCha20Poly1305>),
    Aes(Box<aes_gcm::AesGcm<aes::Aes256, U16>>),
}

impl Aead {
    pub(crate) fn new(cipher: Cipher, key: &[u8; KEY_SIZE]) -> Self {
        match cipher {
            Cipher::ChaCha => Aead::ChaCha(Box::new(XChaCha20Poly1305::new(key.into()))),
            Cipher::Aes => Aead::Aes(Box::new(aes_gcm::AesGcm::new(key.into()))),
        }
    }

    pub(crate) fn cipher(&self) -> Cipher {
        match self {
            Aead::ChaCha(_) => Cipher::ChaCha,
            Aead::Aes(_) => Cipher::Aes,
        }
    }

    /// `plain` sealed under `nonce` (which has the cipher's nonce size):
    /// the ciphertext, then the tag.
    pub(crate) fn seal(&self, nonce: &[u8], plain: &[u8]) -> Vec<u8> {
        let sealed = match self {
            Aead::ChaCha(a) => a.encrypt(GenericArray::from_slice(nonce), plain),
            Aead::Aes(a) => a.encrypt(GenericArray::from_slice(nonce), plain),
        };
        sealed.expect("sealing into a vector does not fail")
    }

    /// Opens what [`Aead::seal`] sealed under `nonce`.
    pub(crate) fn open(&self, nonce: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptError> {
        if nonce.len() != self.cipher().nonce_size() {
            return Err(CryptError::Short);
        }
        let opened = match self {
            Aead::ChaCha(a) => a.decrypt(GenericArray::from_slice(nonce), sealed),
            Aead::Aes(a) => a.decrypt(GenericArray::from_slice(nonce), sealed),
        };
        opened.map_err(|_| CryptError::Open(self.cipher().open_error()))
    }

    /// `plain` sealed under a random nonce, the nonce first (meta.inf,
    /// a consumer's o.dat).
    pub(crate) fn seal_with_nonce(&self, plain: &[u8]) -> Vec<u8> {
        let mut nonce = vec![0u8; self.cipher().nonce_size()];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self.seal(&nonce, plain);
        nonce.extend_from_slice(&sealed);
        nonce
    }

    /// Opens what [`Aead::seal_with_nonce`] sealed.
    pub(crate) fn open_with_nonce(&self, buf: &[u8]) -> Result<Vec<u8>, CryptError> {
        let ns = self.cipher().nonce_size();
        if buf.len() < ns {
            return Err(CryptError::Short);
        }
        self.open(&buf[..ns], &buf[ns..])
    }
}

/// One asset's keys: its seed and its key file's nonce, under a cipher.
#[derive(Clone)]
pub(crate) struct AssetKeys {
    pub cipher: Cipher,
    pub nonce: Vec<u8>,
    /// The AEAD keyed by the seed.
    pub aek: Aead,
    stream: BlockCipher,
}

impl AssetKeys {
    fn with(cipher: Cipher, seed: [u8; KEY_SIZE], nonce: Vec<u8>) -> Self {
        AssetKeys {
            cipher,
            aek: Aead::new(cipher, &seed),
            stream: BlockCipher {
                cipher,
                seed,
                nonce: nonce.clone(),
            },
            nonce,
        }
    }

    /// New random keys for the asset `context`, and the key file that
    /// keeps them.
    pub(crate) fn generate(enc: &Encryption, context: &str) -> (AssetKeys, Vec<u8>) {
        let cipher = enc.cipher;
        let kek = Aead::new(cipher, &enc.keygen.derive(context));
        let mut seed = [0u8; KEY_SIZE];
        rand::thread_rng().fill_bytes(&mut seed);
        let mut nonce = vec![0u8; cipher.nonce_size()];
        rand::thread_rng().fill_bytes(&mut nonce);
        let mut file = nonce.clone();
        file.extend_from_slice(&kek.seal(&nonce, &seed));
        (AssetKeys::with(cipher, seed, nonce), file)
    }

    /// The keys a key file keeps, under `cipher`.
    fn open_as(
        enc: &Encryption,
        cipher: Cipher,
        context: &str,
        file: &[u8],
    ) -> Result<AssetKeys, CryptError> {
        let kek = Aead::new(cipher, &enc.keygen.derive(context));
        let ns = cipher.nonce_size();
        let seed = kek.open(&file[..ns], &file[ns..])?;
        let seed: [u8; KEY_SIZE] = seed.try_into().map_err(|_| CryptError::BadKeySize)?;
        Ok(AssetKeys::with(cipher, seed, file[..ns].to_vec()))
    }

    /// The keys a key file keeps: under the configured cipher, or else
    /// under the other one (a store written before a cipher change; the
    /// caller converts it). The error is the last attempt's, as Go's.
    pub(crate) fn recover(
        enc: &Encryption,
        context: &str,
        file: &[u8],
    ) -> Result<AssetKeys, CryptError> {
        if file.len() < MIN_KEY_FILE_SIZE {
            return Err(CryptError::BadKeySize);
        }
        AssetKeys::open_as(enc, enc.cipher, context, file)
            .or_else(|_| AssetKeys::open_as(enc, enc.cipher.other(), context, file))
    }

    /// `plain`, which sits at `offset` in a block file, as the file
    /// holds it.
    pub(crate) fn encrypt_at(&self, plain: &[u8], offset: u64) -> Vec<u8> {
        let mut buf = plain.to_vec();
        self.block_cipher().apply(&mut buf, offset);
        buf
    }

    /// The stream cipher of a block file.
    pub(crate) fn block_cipher(&self) -> &BlockCipher {
        &self.stream
    }
}

/// The stream cipher a block file is XORed with, byte `i` of the file
/// with byte `i` of the key stream.
#[derive(Clone)]
pub(crate) struct BlockCipher {
    cipher: Cipher,
    seed: [u8; KEY_SIZE],
    nonce: Vec<u8>,
}

impl BlockCipher {
    /// XORs `buf`, which sits at `offset` in the file, with the key
    /// stream (it encrypts and decrypts alike).
    pub(crate) fn apply(&self, buf: &mut [u8], offset: u64) {
        if buf.is_empty() {
            return;
        }
        match self.cipher {
            Cipher::ChaCha => {
                let mut c = chacha20::XChaCha20::new(
                    GenericArray::from_slice(&self.seed),
                    GenericArray::from_slice(&self.nonce),
                );
                c.seek(offset);
                c.apply_keystream(buf);
            }
            Cipher::Aes => {
                let mut c = ctr::Ctr128BE::<aes::Aes256>::new(
                    GenericArray::from_slice(&self.seed),
                    GenericArray::from_slice(&self.nonce),
                );
                c.seek(offset);
                c.apply_keystream(buf);
            }
        }
    }
}

/// The context of a stream's block `index` (its KEK's).
pub(crate) fn block_context(stream: &str, index: u32) -> String {
    format!("{stream}:{index}")
}

/// The context of a consumer's keys.
pub fn consumer_context(stream: &str, consumer: &str) -> String {
    format!("{stream}.{consumer}")
}

/// The keys of block `index` of `stream` in `mdir` as its `N.key`
/// keeps them (None: it has none, the block is in clear). Read after the
/// store converted what it had to, so under the configured cipher.
pub(crate) fn read_block_keys(
    enc: Option<&Encryption>,
    mdir: &std::path::Path,
    stream: &str,
    index: u32,
) -> Result<Option<AssetKeys>, CryptError> {
    let Ok(file) = std::fs::read(mdir.join(format!("{index}.key"))) else {
        return Ok(None);
    };
    let enc = enc.ok_or(CryptError::NotEnabled)?;
    AssetKeys::recover(enc, &block_context(stream, index), &file).map(Some)
}

/// How [`MetaKeys::load_or_create`] found a `meta.key`.
pub enum MetaKeyState {
    /// It opened under the configured cipher.
    Kept,
    /// There was none: the files it keeps are in clear (to encrypt).
    Created,
    /// It opened under the other cipher: those old keys (the files they
    /// sealed are to be sealed again with the new ones).
    Converted(MetaKeys),
}

/// A stream's or a consumer's keys (its `meta.key`), which seal its
/// meta.inf and a consumer's o.dat: a random nonce, then the sealed data.
#[derive(Clone)]
pub struct MetaKeys(AssetKeys);

impl MetaKeys {
    /// The keys `meta.key` in `dir` keeps for `context` (the stream's
    /// name, or see [`consumer_context`]); new ones written there when
    /// there is none or it only opens under the other cipher. A key file
    /// that opens under neither is an error.
    pub fn load_or_create(
        enc: &Encryption,
        dir: &std::path::Path,
        context: &str,
    ) -> Result<(MetaKeys, MetaKeyState), crate::StoreError> {
        let path = dir.join(META_KEY_FILE);
        let state = match std::fs::read(&path) {
            Ok(file) => {
                let keys = AssetKeys::recover(enc, context, &file)
                    .map_err(|e| crate::StoreError::Io(e.to_string()))?;
                if keys.cipher == enc.cipher {
                    return Ok((MetaKeys(keys), MetaKeyState::Kept));
                }
                MetaKeyState::Converted(MetaKeys(keys))
            }
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            Err(_) => MetaKeyState::Created,
        };
        let (keys, file) = AssetKeys::generate(enc, context);
        crate::durable::replace_file(&path, &file)?;
        Ok((MetaKeys(keys), state))
    }

    /// `plain` sealed under a random nonce, the nonce first.
    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        self.0.aek.seal_with_nonce(plain)
    }

    /// Opens what [`MetaKeys::seal`] sealed.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, CryptError> {
        self.0.aek.open_with_nonce(sealed)
    }
}

/// A meta.inf read from `dir` (checked against its meta.sum), opened with
/// the keys of the `meta.key` beside it, as Go reads them at start-up:
/// under the configured cipher or else the other one, which is returned
/// (None: there is no meta.key, the meta.inf is in clear). With a
/// meta.key and no encryption configured, it cannot be read
/// ([`CryptError::NotEnabled`]).
pub fn open_meta(
    enc: Option<&Encryption>,
    dir: &std::path::Path,
    context: &str,
    meta: Vec<u8>,
) -> Result<(Vec<u8>, Option<Cipher>), CryptError> {
    let Ok(file) = std::fs::read(dir.join(META_KEY_FILE)) else {
        return Ok((meta, None));
    };
    if file.len() < MIN_KEY_FILE_SIZE {
        return Err(CryptError::BadKeySize);
    }
    let enc = enc.ok_or(CryptError::NotEnabled)?;
    let keys = AssetKeys::recover(enc, context, &file)?;
    Ok((keys.aek.open_with_nonce(&meta)?, Some(keys.cipher)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn the_kek_is_hmac_sha256_over_account_then_context() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for
        // nothing?", split between the account and the context.
        let kg = KeyGen::new(b"Jefe", "what do ya want ");
        assert_eq!(
            kg.derive("for nothing?").to_vec(),
            hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
    }

    #[test]
    fn key_files_round_trip_and_convert() {
        for cipher in [Cipher::ChaCha, Cipher::Aes] {
            let enc = Encryption::new(cipher, b"s3cr3t", "$G");
            let (keys, file) = AssetKeys::generate(&enc, "S:1");
            assert_eq!(file.len(), cipher.nonce_size() + KEY_SIZE + 16);
            assert!(file.len() >= MIN_KEY_FILE_SIZE);
            let back = AssetKeys::recover(&enc, "S:1", &file).unwrap();
            assert_eq!(back.encrypt_at(b"x", 5), keys.encrypt_at(b"x", 5));
            assert_eq!(
                back.aek
                    .open(&back.nonce, &keys.aek.seal(&keys.nonce, b"y"))
                    .unwrap(),
                b"y"
            );
            assert_eq!(back.cipher, cipher);
            // Configured for the other cipher: the keys open as written.
            let other = Encryption::new(cipher.other(), b"s3cr3t", "$G");
            assert_eq!(
                AssetKeys::recover(&other, "S:1", &file).unwrap().cipher,
                cipher
            );
            // Another context, account or key: Go's error of the last try.
            let wrong = Encryption::new(cipher, b"nope", "$G");
            let e = AssetKeys::recover(&wrong, "S:1", &file).err().unwrap();
            assert_eq!(e, CryptError::Open(cipher.other().open_error()));
            assert!(AssetKeys::recover(&enc, "S:2", &file).is_err());
            assert!(
                AssetKeys::recover(&Encryption::new(cipher, b"s3cr3t", "A"), "S:1", &file).is_err()
            );
            assert_eq!(
                AssetKeys::recover(&enc, "S:1", &file[..63]).err(),
                Some(CryptError::BadKeySize)
            );
        }
    }

    #[test]
    fn sealed_with_nonce_round_trips() {
        for cipher in [Cipher::ChaCha, Cipher::Aes] {
            let aead = Aead::new(cipher, &[7; 32]);
            let sealed = aead.seal_with_nonce(b"{\"name\":\"S\"}");
            assert_eq!(sealed.len(), cipher.nonce_size() + 12 + 16);
            assert_eq!(aead.open_with_nonce(&sealed).unwrap(), b"{\"name\":\"S\"}");
            let mut bad = sealed.clone();
            bad[30] ^= 1;
            assert!(aead.open_with_nonce(&bad).is_err());
        }
    }

    #[test]
    fn the_block_stream_is_positioned_by_offset() {
        for cipher in [Cipher::ChaCha, Cipher::Aes] {
            let enc = Encryption::new(cipher, b"k", "$G");
            let keys = AssetKeys::generate(&enc, "S:1").0;
            let bc = keys.block_cipher();
            let plain: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
            let mut whole = plain.clone();
            bc.apply(&mut whole, 0);
            assert_ne!(whole, plain);
            // Pieces encrypted at their offsets make the same file.
            let mut pieces = plain.clone();
            let (a, rest) = pieces.split_at_mut(37);
            let (b, c) = rest.split_at_mut(500);
            bc.apply(a, 0);
            bc.apply(b, 37);
            bc.apply(c, 537);
            assert_eq!(pieces, whole);
            bc.apply(&mut whole[537..], 537);
            bc.apply(&mut whole[..537], 0);
            assert_eq!(whole, plain);
        }
    }
}
