//! A stream's `meta.inf` (its config as JSON, which the server writes:
//! Go's `FileStreamInfo`, a `Created` time and the stream config's fields)
//! and `meta.sum` (the hex HighwayHash-64 of meta.inf keyed by the stream's
//! name, which is also its directory's name).

use super::checksum::{hex, Hasher};
use crate::durable::temp_path;
use crate::StoreError;
use std::fs;
use std::path::Path;

pub(crate) const META_FILE: &str = "meta.inf";
pub(crate) const META_SUM_FILE: &str = "meta.sum";

/// meta.sum's contents for `json` (keyed by `stream`).
pub(crate) fn meta_sum(stream: &str, json: &[u8]) -> String {
    hex(&Hasher::new(stream).sum(&[json]))
}

/// Writes meta.inf and its checksum into a stream's directory. Both go to
/// temporaries first, then meta.inf and meta.sum are renamed in that order:
/// a crash between the two renames leaves the new checksum in meta.sum.tmp,
/// where [`read_meta_keyed`] finds it. Files that already hold `json` and
/// its checksum are left alone (a restart opens every stream again with
/// the config it read: rewriting each would cost a restart of many
/// streams two file creations and renames a stream).
pub fn write_meta(dir: &Path, stream: &str, json: &[u8]) -> Result<(), StoreError> {
    let (meta, sum) = (dir.join(META_FILE), dir.join(META_SUM_FILE));
    let current = || -> bool {
        fs::read(&meta).is_ok_and(|m| m == json)
            && fs::read(&sum).is_ok_and(|s| s == meta_sum(stream, json).as_bytes())
    };
    if current() {
        return Ok(());
    }
    fs::write(temp_path(&meta), json)?;
    fs::write(temp_path(&sum), meta_sum(stream, json))?;
    fs::rename(temp_path(&meta), &meta)?;
    fs::rename(temp_path(&sum), &sum)?;
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
    let interrupted = || fs::read(temp_path(&sum_file)).is_ok_and(|t| t == want.as_bytes());
    if sum != want.as_bytes() && interrupted() {
        // A write stopped between its two renames: finish it.
        fs::rename(temp_path(&sum_file), &sum_file)?;
    } else if sum != want.as_bytes() {
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

    #[test]
    fn an_unchanged_meta_is_not_rewritten() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ORDERS");
        fs::create_dir(&dir).unwrap();
        write_meta(&dir, "ORDERS", br#"{"name":"ORDERS"}"#).unwrap();
        let inode =
            |f: &str| std::os::unix::fs::MetadataExt::ino(&fs::metadata(dir.join(f)).unwrap());
        let before = (inode(META_FILE), inode(META_SUM_FILE));
        write_meta(&dir, "ORDERS", br#"{"name":"ORDERS"}"#).unwrap();
        assert_eq!((inode(META_FILE), inode(META_SUM_FILE)), before);
        write_meta(&dir, "ORDERS", br#"{"name":"ORDERS","max_msgs":5}"#).unwrap();
        assert_ne!(inode(META_FILE), before.0);
        assert_eq!(
            read_meta(&dir).unwrap(),
            br#"{"name":"ORDERS","max_msgs":5}"#
        );
    }

    #[test]
    fn a_write_cut_between_its_renames_is_finished_on_read() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ORDERS");
        fs::create_dir(&dir).unwrap();
        write_meta(&dir, "ORDERS", br#"{"name":"ORDERS"}"#).unwrap();
        let new = br#"{"name":"ORDERS","max_msgs":5}"#;
        fs::write(dir.join(META_FILE), new).unwrap();
        fs::write(temp_path(&dir.join(META_SUM_FILE)), meta_sum("ORDERS", new)).unwrap();
        assert_eq!(read_meta(&dir).unwrap(), new);
        assert!(!temp_path(&dir.join(META_SUM_FILE)).exists());
        assert_eq!(read_meta(&dir).unwrap(), new);
    }
}
