//! The file store's own behaviour: its files, recovery after a crash, a
//! torn or corrupt block, erasure on disk, and its limits.

use natsd_store::file::{read_meta, FileStore, FileStoreConfig};
use natsd_store::{file_msg_size, Limits, StoreError, StreamStore};
use std::fs;
use std::path::{Path, PathBuf};

fn cfg(dir: &Path, block_size: u64) -> FileStoreConfig {
    FileStoreConfig {
        block_size,
        ..FileStoreConfig::new(dir)
    }
}

fn open(dir: &Path, block_size: u64) -> FileStore {
    FileStore::open(cfg(dir, block_size), "S", Limits::default()).unwrap()
}

/// The names in the store's msgs directory, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir.join("msgs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn copy_dir(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    for e in fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst.join(e.file_name()));
        } else {
            fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
}

/// A store is consistent with itself: its counts are what loads.
fn check_consistent(fs: &FileStore) {
    let st = fs.state();
    let held: Vec<u64> = (st.first_seq..=st.last_seq)
        .filter(|&s| fs.load_msg(s).is_ok())
        .collect();
    assert_eq!(held.len() as u64, st.msgs);
    if st.msgs > 0 {
        assert_eq!(held[0], st.first_seq);
    }
    let bytes: u64 = held
        .iter()
        .map(|&s| {
            let m = fs.load_msg(s).unwrap();
            file_msg_size(&m.subject, &m.hdr, &m.msg)
        })
        .sum();
    assert_eq!(bytes, st.bytes);
    let per_subject: u64 = fs.subjects_state("").iter().map(|(_, ss)| ss.msgs).sum();
    assert_eq!(per_subject, st.msgs);
}

fn blk(dir: &Path, index: u32) -> PathBuf {
    dir.join("msgs").join(format!("{index}.blk"))
}

#[test]
fn lays_out_go_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("S");
    let mut fs = open(&dir, 0);
    assert_eq!(fs.block_size(), 8 * 1024 * 1024);
    fs.write_meta(br#"{"name":"S"}"#).unwrap();
    fs.store_msg("foo", b"", b"hello", 1).unwrap();
    fs.flush().unwrap();
    assert_eq!(files(&dir), ["1.blk", "1.fss", "1.idx"]);
    assert!(dir.join("obs").is_dir());
    assert_eq!(read_meta(&dir).unwrap(), br#"{"name":"S"}"#);
    assert_eq!(
        fs::metadata(blk(&dir, 1)).unwrap().len(),
        file_msg_size("foo", b"", b"hello")
    );
    fs.delete().unwrap();
    assert!(!dir.exists());
}

#[test]
fn blocks_roll_and_go_when_emptied() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("S");
    let mut fs = open(&dir, 100);
    for i in 1..=6 {
        // 46 bytes each: two per block.
        fs.store_msg("foo", b"", b"0123456789abc", i).unwrap();
    }
    fs.flush().unwrap();
    assert_eq!(
        files(&dir).iter().filter(|f| f.ends_with(".blk")).count(),
        3
    );
    assert!(fs.remove_msg(3) && fs.remove_msg(4));
    assert!(!blk(&dir, 2).exists());
    // As Go's: the sequences of a removed block are counted, not listed.
    assert_eq!(fs.fast_state().num_deleted, 2);
    assert!(fs.state().deleted.is_empty());
    // The last block empties but stays, remembering the last sequence.
    assert!(fs.remove_msg(6) && fs.remove_msg(5));
    assert_eq!(fs::metadata(blk(&dir, 3)).unwrap().len(), 0);
    drop(fs);
    let mut fs = open(&dir, 100);
    let st = fs.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (2, 1, 6));
    assert_eq!(fs.store_msg("foo", b"", b"x", 7), Ok(7));
    assert_eq!(fs.purge(), 3);
    assert_eq!(files(&dir), ["1.blk", "1.idx"]);
    drop(fs);
    let st = open(&dir, 100).state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 8, 7));
}

#[test]
fn erase_overwrites_the_payload_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("S");
    let mut fs = open(&dir, 200);
    for i in 1..=6 {
        fs.store_msg("foo", b"", format!("secret-{i}").as_bytes(), i)
            .unwrap();
    }
    // One in a sealed block, one in the block being written.
    assert!(fs.erase_msg(2) && fs.erase_msg(5));
    let all: Vec<u8> = (1..=2)
        .flat_map(|i| fs::read(blk(&dir, i)).unwrap())
        .collect();
    let text = String::from_utf8_lossy(&all);
    assert!(!text.contains("secret-2") && !text.contains("secret-5"));
    assert!(text.contains("secret-1") && text.contains("secret-6"));
    assert_eq!(fs.load_msg(5), Err(StoreError::NotFound));
    drop(fs);
    // Also without the index files, the erased records stay deleted.
    for i in 1..=2 {
        fs::remove_file(dir.join("msgs").join(format!("{i}.idx"))).unwrap();
    }
    let fs = open(&dir, 200);
    // 5 was the first of its block: counted, not listed (as Go).
    assert_eq!(fs.state().deleted, vec![2]);
    assert_eq!(fs.fast_state().num_deleted, 2);
    check_consistent(&fs);
}

#[test]
fn missing_index_files_are_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("S");
    let mut fs = open(&dir, 150);
    for i in 1..=9 {
        let hdr: &[u8] = if i % 2 == 0 {
            b"NATS/1.0\r\nA: 1\r\n\r\n"
        } else {
            b""
        };
        fs.store_msg(&format!("s.{}", i % 3), hdr, b"payload", i)
            .unwrap();
    }
    fs.skip_msg(10);
    let before = fs.state();
    drop(fs);
    for f in files(&dir) {
        if !f.ends_with(".blk") {
            fs::remove_file(dir.join("msgs").join(f)).unwrap();
        }
    }
    let fs = open(&dir, 150);
    assert_eq!(fs.state(), before);
    assert_eq!(fs.subjects_state("s.1")[0].1.msgs, 3);
    assert_eq!(fs.load_msg(4).unwrap().hdr, b"NATS/1.0\r\nA: 1\r\n\r\n");
    check_consistent(&fs);
}

#[test]
fn torn_tail_is_cut_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("S");
    let mut fs = open(&dir, 0);
    for i in 1..=5 {
        fs.store_msg("foo", b"", b"Hello World", i).unwrap();
    }
    drop(fs);
    let len = fs::metadata(blk(&dir, 1)).unwrap().len();
    let f = fs::OpenOptions::new()
        .write(true)
        .open(blk(&dir, 1))
        .unwrap();
    f.set_len(len - 3).unwrap();
    drop(f);
    let mut fs = open(&dir, 0);
    let st = fs.state();
    assert_eq!((st.msgs, st.last_seq), (4, 4));
    let lost = fs.lost_data().unwrap();
    assert_eq!(
        (lost.msgs, lost.bytes),
        (vec![5], file_msg_size("foo", b"", b"Hello World") - 3)
    );
    assert_eq!(fs::metadata(blk(&dir, 1)).unwrap().len(), 4 * (len / 5));
    assert_eq!(fs.store_msg("foo", b"", b"again", 6), Ok(5));
    drop(fs);
    let fs = open(&dir, 0);
    assert_eq!(fs.load_msg(5).unwrap().msg, b"again");
    check_consistent(&fs);
}

#[test]
fn corrupt_records_never_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("S");
    let mut fs = open(&dir, 0);
    for i in 1..=5 {
        fs.store_msg("foo", b"", b"Hello World", i).unwrap();
    }
    drop(fs);
    let rl = file_msg_size("foo", b"", b"Hello World") as usize;
    let mut buf = fs::read(blk(&dir, 1)).unwrap();
    buf[2 * rl + 27] ^= 0xff; // a payload byte of message 3
    fs::write(blk(&dir, 1), &buf).unwrap();
    // With a current index, only the bad message is unreadable.
    let fs = open(&dir, 0);
    assert_eq!(fs.load_msg(3), Err(StoreError::NotFound));
    assert!(fs.load_msg(2).is_ok() && fs.load_msg(4).is_ok());
    drop(fs);
    // Rebuilt from the block, the block ends before it; as in Go, the bad
    // record's sequence stays the last one (TestFileStoreBitRot's store).
    fs::remove_file(dir.join("msgs/1.idx")).unwrap();
    let fs = open(&dir, 0);
    assert_eq!((fs.state().msgs, fs.state().last_seq), (2, 3));
    assert_eq!(fs.lost_data().unwrap().bytes, 3 * rl as u64);
    drop(fs);
    // Garbage everywhere: an empty store, not a panic.
    fs::write(blk(&dir, 1), vec![0xa5; 1000]).unwrap();
    fs::write(dir.join("msgs/1.idx"), b"\x16\x01\xff\xff").unwrap();
    fs::write(dir.join("msgs/1.fss"), vec![7; 100]).unwrap();
    fs::write(blk(&dir, 7), [1, 2, 3]).unwrap();
    let mut fs = open(&dir, 0);
    assert_eq!(fs.state().msgs, 0);
    assert!(fs.lost_data().is_some());
    assert_eq!(fs.store_msg("foo", b"", b"fresh", 1), Ok(1));
    check_consistent(&fs);
}

#[test]
fn a_crash_at_any_point_recovers_consistently() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("S");
    let mut fs = open(&dir, 300);
    let mut copies = Vec::new();
    for i in 1..=60u64 {
        fs.store_msg(&format!("k.{}", i % 5), b"", &[b'x'; 20], i as i64)
            .unwrap();
        match i % 7 {
            0 => {
                fs.remove_msg(i - 3);
            }
            3 => {
                fs.erase_msg(i - 1);
            }
            5 => {
                fs.skip_msg(i as i64);
            }
            _ => {}
        }
        if i % 10 == 0 {
            // A copy of the files as they are: what a kill -9 leaves.
            let copy = tmp.path().join(format!("crash{i}"));
            copy_dir(&dir, &copy);
            copies.push((copy, fs.state().last_seq));
        }
    }
    for (copy, last_seq) in copies {
        let fs = FileStore::open(cfg(&copy, 300), "S", Limits::default()).unwrap();
        assert_eq!(fs.state().last_seq, last_seq, "{copy:?}");
        check_consistent(&fs);
    }
}

#[test]
fn per_subject_state_survives_restart_with_stale_fss() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("S");
    let mut fs = open(&dir, 0);
    for i in 1..=10 {
        fs.store_msg(&format!("s.{}", i % 2), b"", b"v", i).unwrap();
    }
    fs.flush().unwrap();
    let fss = fs::read(dir.join("msgs/1.fss")).unwrap();
    fs.remove_msg(4);
    drop(fs);
    // An older .fss than the .idx: the counts disagree, it is rebuilt.
    fs::write(dir.join("msgs/1.fss"), fss).unwrap();
    let fs = open(&dir, 0);
    assert_eq!(fs.subjects_state("s.0")[0].1.msgs, 4);
    check_consistent(&fs);
}

#[test]
fn refuses_what_go_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let err = FileStore::open(cfg(tmp.path(), 9 * 1024 * 1024), "S", Limits::default());
    assert_eq!(
        err.err(),
        Some(StoreError::Io("filestore max block size is 8.0 MB".into()))
    );
    let err = FileStore::open(cfg(tmp.path(), 0), "", Limits::default());
    assert_eq!(err.err(), Some(StoreError::Io("name required".into())));
    let mut fs = FileStore::open(
        FileStoreConfig {
            sync_always: true,
            ..cfg(tmp.path(), 0)
        },
        "S",
        Limits::default(),
    )
    .unwrap();
    assert_eq!(fs.store_msg("foo", b"", b"x", 1), Ok(1));
    let long = "s".repeat(70_000);
    assert_eq!(
        fs.store_msg(&long, b"", b"x", 1),
        Err(StoreError::MsgTooLarge)
    );
    fs.stop().unwrap();
    assert_eq!(fs.store_msg("foo", b"", b"x", 1), Err(StoreError::Closed));
    assert_eq!(fs.load_msg(1).unwrap().msg, b"x");
}

#[test]
fn sparse_blocks_are_compacted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("S");
    let mut fs = open(&dir, 4 * 1024 * 1024);
    let payload = vec![b'p'; 1000];
    // Block 1 fills with about 4 MB, then block 2 starts.
    for i in 1..=4200 {
        fs.store_msg(&format!("s.{}", i % 3), b"", &payload, i)
            .unwrap();
    }
    let size = |i| fs::metadata(blk(&dir, i)).unwrap().len();
    let before = size(1);
    assert!(before > 3 * 1024 * 1024 && blk(&dir, 2).exists());
    // Interior deletes until under a quarter of block 1 is in use.
    for seq in (2..=4000).filter(|s| s % 10 != 0) {
        assert!(fs.remove_msg(seq), "{seq}");
    }
    assert!(size(1) < before / 2, "{} of {before}", size(1));
    let st = fs.fast_state();
    check_consistent(&fs);
    drop(fs);
    let fs = open(&dir, 4 * 1024 * 1024);
    assert_eq!(fs.fast_state(), st);
    assert_eq!(fs.load_msg(10).unwrap().msg, payload);
    drop(fs);
    // Rebuilt without its index, the block still knows the deletes it had
    // when compacted (later ones were only in the index, as with Go).
    fs::remove_file(dir.join("msgs/1.idx")).unwrap();
    let fs = open(&dir, 4 * 1024 * 1024);
    assert!(fs.fast_state().msgs < 1500, "{:?}", fs.fast_state());
    check_consistent(&fs);
}

#[test]
fn compaction_reclaims_a_blocks_head_space() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("S");
    let mut fs = open(&dir, 1024 * 1024);
    let payload: Vec<u8> = (0..16 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    for i in 1..=100 {
        fs.store_msg("z", b"", &payload, i).unwrap();
    }
    let msg = file_msg_size("z", b"", &payload);
    let blocks = || -> Vec<u64> {
        files(&dir)
            .iter()
            .filter(|f| f.ends_with(".blk"))
            .map(|f| fs::metadata(dir.join("msgs").join(f)).unwrap().len())
            .collect()
    };
    // Block 1 holds about 63 messages: after this, under half of it is in
    // use, and its file is rewritten from its first message.
    assert_eq!(fs.compact(33).unwrap(), 32);
    let in_block_1 = fs.state().first_seq..=fs.fast_state().last_seq.min(63);
    assert_eq!(blocks()[0], in_block_1.count() as u64 * msg);
    assert_eq!(fs.load_msg(33).unwrap().msg, payload);
    // Now within the last block, which keeps taking writes after it.
    fs.compact(85).unwrap();
    assert_eq!(blocks(), vec![16 * msg]);
    fs.store_msg("z", b"", &payload, 101).unwrap();
    assert_eq!(blocks(), vec![17 * msg]);
    let st = fs.fast_state();
    assert_eq!((st.first_seq, st.last_seq, st.msgs), (85, 101, 17));
    check_consistent(&fs);
    drop(fs);
    let fs = open(&dir, 1024 * 1024);
    assert_eq!(fs.fast_state(), st);
    assert_eq!(fs.load_msg(101).unwrap().msg, payload);
    check_consistent(&fs);
}

#[test]
fn reads_and_writes_after_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("S");
    let mut fs = open(&dir, 0);
    for i in 1..=3 {
        fs.store_msg("foo", b"", format!("m{i}").as_bytes(), i)
            .unwrap();
    }
    drop(fs);
    let mut fs = open(&dir, 0);
    // Read first (the block is loaded for reading), then written to.
    assert_eq!(fs.load_msg(3).unwrap().msg, b"m3");
    assert_eq!(fs.store_msg("foo", b"", b"m4", 4), Ok(4));
    assert_eq!(fs.load_msg(4).unwrap().msg, b"m4");
    assert!(fs.erase_msg(2));
    assert_eq!(fs.load_next_msg("foo", 2).unwrap().seq, 3);
    check_consistent(&fs);
}

#[test]
fn an_empty_last_block_without_index_follows_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("S");
    let mut fs = open(&dir, 100);
    for i in 1..=3 {
        fs.store_msg("foo", b"", b"0123456789abc", i).unwrap();
    }
    drop(fs);
    // A crash just after block 3 was started.
    fs::remove_file(dir.join("msgs/2.idx")).unwrap();
    fs::write(blk(&dir, 3), []).unwrap();
    let mut fs = open(&dir, 100);
    let st = fs.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (3, 1, 3));
    assert_eq!(fs.store_msg("foo", b"", b"x", 4), Ok(4));
    check_consistent(&fs);
}

#[test]
fn compact_into_a_removed_block() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("S");
    let mut fs = open(&dir, 100);
    for i in 1..=6 {
        fs.store_msg("foo", b"", b"0123456789abc", i).unwrap();
    }
    // Block 2 (3 and 4) goes, then everything before 4 does.
    assert!(fs.remove_msg(3) && fs.remove_msg(4));
    assert_eq!(fs.compact(4), Ok(2));
    let st = fs.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (2, 5, 6));
    assert_eq!(fs.compact(6), Ok(1));
    assert_eq!(fs.state().first_seq, 6);
    check_consistent(&fs);
}
