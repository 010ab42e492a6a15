//! A stream's `meta.inf` (its config as JSON, which the server writes:
//! Go's `FileStreamInfo`, a `Created` time and the stream config's fields)
//! and `meta.sum` (the hex HighwayHash-64 of meta.inf keyed by the stream's
//! name, which is also its directory's name).

use super::checksum::{hex, Hasher};
use crate::StoreError;
use std::fs;
use std::path::Path;

pub(crate) const META_FILE: &str = "meta.inf";
pub(crate) const META_SUM_FILE: &str = "meta.sum";

fn meta_sum(stream: &str, json: &[u8]) -> String {
    hex(&Hasher::new(stream).sum(&[json]))
}

/// Writes meta.inf and its checksum into a stream's directory.
pub fn write_meta(dir: &Path, stream: &str, json: &[u8]) -> Result<(), StoreError> {
    fs::write(dir.join(META_FILE), json)?;
    fs::write(dir.join(META_SUM_FILE), meta_sum(stream, json))?;
    Ok(())
}

/// Reads a stream directory's meta.inf after checking it against meta.sum
/// as Go does at start-up (the key is the directory's name).
pub fn read_meta(dir: &Path) -> Result<Vec<u8>, StoreError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    read_meta_keyed(dir, &name)
}

/// Reads a meta.inf checked against a meta.sum keyed by `key` (Go keys
/// the stream templates' sums by "templates").
pub fn read_meta_keyed(dir: &Path, key: &str) -> Result<Vec<u8>, StoreError> {
    let meta = dir.join(META_FILE);
    let json = fs::read(&meta)
        .map_err(|e| StoreError::Io(format!("error reading metafile {meta:?}: {e}")))?;
    let sum_file = dir.join(META_SUM_FILE);
    let sum = fs::read(&sum_file).map_err(|e| {
        StoreError::Io(format!("error reading metafile checksum {sum_file:?}: {e}"))
    })?;
    let want = meta_sum(key, &json);
    if sum != want.as_bytes() {
        return Err(StoreError::Io(format!(
            "stream metafile {meta:?}: checksums do not match {:?} vs {want:?}",
            String::from_utf8_lossy(&sum)
        )));
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_checks() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ORDERS");
        fs::create_dir(&dir).unwrap();
        write_meta(&dir, "ORDERS", br#"{"name":"ORDERS"}"#).unwrap();
        assert_eq!(read_meta(&dir).unwrap(), br#"{"name":"ORDERS"}"#);
        fs::write(dir.join(META_FILE), br#"{"name":"OTHER"}"#).unwrap();
        let err = read_meta(&dir).unwrap_err().to_string();
        assert!(err.contains("checksums do not match"), "{err}");
    }
}
