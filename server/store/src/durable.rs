//! Replacing a small state file so that a crash at any moment leaves either
//! the old contents or the new, never a torn file: the new contents go to
//! `<name>.tmp` first and are renamed over the file (rename is atomic on
//! POSIX file systems).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The temporary beside `path` that [`replace_file`] writes first.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes `data` to `path` through a temporary and a rename.
pub fn replace_file(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = temp_path(path);
    fs::write(&tmp, data)?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("1.idx");
        replace_file(&p, b"old").unwrap();
        replace_file(&p, b"new").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert!(!temp_path(&p).exists());
        assert_eq!(temp_path(&p), dir.path().join("1.idx.tmp"));
    }
}
