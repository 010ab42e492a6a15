//! What a configured public nkey must look like.

/// Whether `key` is a valid public user nkey ("U...").
/// Like Go, only the encoding, checksum and prefix are checked (not that
/// the bytes are a valid curve point).
pub fn is_valid_public_user_key(key: &str) -> bool {
    const PREFIX_BYTE_USER: u8 = 20 << 3;
    matches!(nkeys::from_public_key(key), Ok((PREFIX_BYTE_USER, _)))
}

/// Whether `key` is a valid public account nkey ("A...").
pub fn is_valid_public_account_key(key: &str) -> bool {
    const PREFIX_BYTE_ACCOUNT: u8 = 0;
    matches!(nkeys::from_public_key(key), Ok((PREFIX_BYTE_ACCOUNT, _)))
}
