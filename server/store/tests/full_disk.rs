//! The file store on a full disk (Go's TestFileStoreWriteFailures, at the
//! store's level): a store in a small tmpfs mounted for the test. Mounting
//! needs root; run as another user, the test says it is skipped.

use natsd_store::file::{FileStore, FileStoreConfig};
use natsd_store::{Limits, StoreError, StreamStore};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .expect("running mount");
        assert!(
            out.status.success(),
            "mount: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Uid:"))?;
            Some(line.split_whitespace().nth(2)? == "0")
        })
        .unwrap_or(false)
}

fn open(dir: &Path) -> FileStore {
    FileStore::open(FileStoreConfig::new(dir), "zzz", Limits::default()).unwrap()
}

const MSG: &[u8] = b"Hello Write Failures!";

/// Stores until a write fails: the sequence that failed, and the error.
fn store_until_full(fs: &mut FileStore) -> (u64, StoreError) {
    for i in 1..=10_000u64 {
        if let Err(e) = fs.store_msg("foo", b"", MSG, i as i64) {
            return (fs.fast_state().last_seq + 1, e);
        }
    }
    panic!("Expected to get a failure but did not");
}

#[test]
fn a_full_disk_refuses_writes_and_loses_nothing() {
    if !is_root() {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let _disk = Tmpfs::mount(tmp.path(), "64k");
    let dir = tmp.path().join("zzz");
    let mut fs = open(&dir);
    let (lseq, err) = store_until_full(&mut fs);
    let text = err.to_string();
    assert!(text.contains("no space left on device"), "{text}");
    let st = fs.state();
    assert_eq!((st.last_seq, st.msgs), (lseq - 1, lseq - 1));
    assert!(fs.load_msg(lseq).is_err());
    assert_eq!(fs.load_msg(1).unwrap().msg, MSG);
    assert_eq!(fs.load_msg(lseq - 1).unwrap().msg, MSG);
    drop(fs);

    // Reopened, it is the same store, with no torn record to report.
    let mut fs = open(&dir);
    let st2 = fs.state();
    assert_eq!(st2, st);
    assert!(fs.store_msg("foo", b"", MSG, 0).is_err());
    // A purge frees the space: writes fail again at the same point.
    fs.purge();
    let (again, _) = store_until_full(&mut fs);
    assert_eq!(again - st.last_seq, lseq);
}
