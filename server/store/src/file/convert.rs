//! A block's keys at recovery, and the conversions Go makes there: a
//! block written in clear (no `N.key`: the store was not encrypted, or
//! comes from a snapshot, which is always in clear) is encrypted in
//! place, its .idx sealed; a block whose keys only open under the other
//! cipher (the configured cipher changed) is decrypted with its old keys
//! and encrypted with new ones under the configured cipher, and its .idx
//! and .fss go (the block is rebuilt from its records).

use super::block::MsgBlock;
use super::crypt::{block_context, AssetKeys, Encryption};
use super::index::decode_index;
use super::record::Record;
use crate::StoreError;
use std::fs;
use std::io::ErrorKind;
use std::sync::Arc;

/// Whether `buf` reads as records all the way (what Go checks before it
/// rewrites a block it decrypted or takes for clear).
fn parses(buf: &[u8]) -> bool {
    let mut at = 0;
    while at < buf.len() {
        match Record::parse(&buf[at..]) {
            Ok(r) => at += r.len,
            Err(_) => return false,
        }
    }
    true
}

fn remove_if_present(path: &std::path::Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

/// Gives `mb` (of `stream`) its keys, converting its files when needed.
pub(crate) fn block_keys(
    mb: &mut MsgBlock,
    enc: &Encryption,
    stream: &str,
) -> Result<(), StoreError> {
    let context = block_context(stream, mb.index);
    let file = match fs::read(&mb.key_path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return encrypt_clear(mb, enc, stream),
        Err(e) => return Err(e.into()),
    };
    let keys = AssetKeys::recover(enc, &context, &file)
        .map_err(|e| StoreError::Io(format!("message block {}: {e}", mb.index)))?;
    if keys.cipher == enc.cipher {
        mb.keys = Some(Arc::new(keys));
        return Ok(());
    }
    // The cipher changed: the records must read under the old keys.
    mb.keys = Some(Arc::new(keys));
    let buf = mb.read_file()?;
    if !parses(&buf) {
        return Err(StoreError::Io(format!(
            "message block {}: records do not parse under the previous cipher",
            mb.index
        )));
    }
    if let Err(e) = mb.create_keys(enc, stream) {
        // Put the old key file back.
        let _ = crate::durable::replace_file(&mb.key_path, &file);
        return Err(e);
    }
    rewrite_encrypted(mb, &buf)?;
    remove_if_present(mb.idx_path())?;
    remove_if_present(mb.fss_path())?;
    Ok(())
}

/// A block without a key file: new keys, and its records (which must
/// read in clear) and .idx encrypted.
fn encrypt_clear(mb: &mut MsgBlock, enc: &Encryption, stream: &str) -> Result<(), StoreError> {
    mb.keys = None;
    let buf = mb.read_file()?;
    let idx = mb.read_index_file();
    mb.create_keys(enc, stream)?;
    if !parses(&buf) {
        return Err(StoreError::Io(format!(
            "message block {}: records do not parse in clear",
            mb.index
        )));
    }
    rewrite_encrypted(mb, &buf)?;
    match (idx, &mb.keys) {
        (Some(idx), Some(k)) if decode_index(&idx).is_ok() => {
            crate::durable::replace_file(mb.idx_path(), &k.aek.seal(&k.nonce, &idx))?;
        }
        // An index that does not read in clear goes: the block is rebuilt.
        _ => remove_if_present(mb.idx_path())?,
    }
    Ok(())
}

/// Writes the block file anew: `plain` under the block's keys.
fn rewrite_encrypted(mb: &MsgBlock, plain: &[u8]) -> Result<(), StoreError> {
    if let Some(k) = &mb.keys {
        crate::durable::replace_file(&mb.blk_path, &k.encrypt_at(plain, 0))?;
    }
    Ok(())
}
