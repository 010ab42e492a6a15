//! Nkey authentication: nonces and their signatures (public-key syntax is
//! checked with the options, see `options::nkeys`).

use base64::Engine;

/// Verifies `sig` (base64, URL-safe raw or standard) over `nonce` with the
/// public key `nkey`.
pub fn verify(nkey: &str, nonce: &[u8], sig: &str) -> Result<(), &'static str> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(sig))
        .map_err(|_| "Signature not valid base64")?;
    let kp = nkeys::KeyPair::from_public_key(nkey).map_err(|_| "User nkey not valid")?;
    kp.verify(nonce, &raw).map_err(|_| "Signature not verified")
}

/// A fresh nonce: 11 random bytes, base64 URL-safe without padding.
pub fn new_nonce() -> String {
    let raw: [u8; 11] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let kp = nkeys::KeyPair::new_user();
        let pk = kp.public_key();
        assert!(crate::options::nkeys::is_valid_public_user_key(&pk));
        assert!(!crate::options::nkeys::is_valid_public_user_key("UABC"));
        let nonce = new_nonce();
        assert_eq!(nonce.len(), 15);
        let sig = kp.sign(nonce.as_bytes()).unwrap();
        let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig);
        assert_eq!(verify(&pk, nonce.as_bytes(), &enc), Ok(()));
        assert!(verify(&pk, b"other", &enc).is_err());
    }
}
