//! Stores that Go's nats-server 2.9.10 wrote (tests/data/go, made by
//! tests/data/gen_go_stores.py) opened by the file store: the state must be
//! what Go itself recovered from the same files (each `expect.json`), and
//! every message must load with its subject, headers and payload, which
//! also proves the checksums are Go's (a record whose checksum fails does
//! not load).

use natsd_store::file::{read_meta, FileStore, FileStoreConfig};
use natsd_store::{Limits, StoreError, StreamStore};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

fn data_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/go")
        .join(name)
}

fn copy_dir(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    for e in fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            fs::copy(e.path(), to).unwrap();
        }
    }
}

/// The stream's limits from its Go meta.inf (checked against meta.sum).
fn limits_of(dir: &Path) -> Limits {
    let cfg: Value = serde_json::from_slice(&read_meta(dir).unwrap()).unwrap();
    Limits {
        max_msgs: cfg["max_msgs"].as_i64().unwrap(),
        max_bytes: cfg["max_bytes"].as_i64().unwrap(),
        max_msgs_per_subject: cfg["max_msgs_per_subject"].as_i64().unwrap(),
        ..Default::default()
    }
}

/// A copy of Go's store `name`, opened; and what Go recovered from it.
fn open(name: &str) -> (tempfile::TempDir, FileStore, Value) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    copy_dir(&data_dir(name), &dir);
    let expect: Value =
        serde_json::from_slice(&fs::read(dir.join("expect.json")).unwrap()).unwrap();
    let fs = FileStore::open(FileStoreConfig::new(&dir), name, limits_of(&dir)).unwrap();
    (tmp, fs, expect)
}

/// The state is the one Go reported (with deleted details).
fn check_state(fs: &FileStore, expect: &Value) {
    let st = fs.state();
    assert_eq!(st.msgs, expect["messages"].as_u64().unwrap());
    assert_eq!(st.bytes, expect["bytes"].as_u64().unwrap());
    assert_eq!(st.first_seq, expect["first_seq"].as_u64().unwrap());
    assert_eq!(st.last_seq, expect["last_seq"].as_u64().unwrap());
    assert_eq!(
        st.num_subjects as u64,
        expect["num_subjects"].as_u64().unwrap()
    );
    let deleted: Vec<u64> = expect["deleted"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_u64().unwrap()).collect())
        .unwrap_or_default();
    assert_eq!(st.deleted, deleted);
    assert_eq!(st.num_deleted, deleted.len());
    let subjects: Vec<(String, u64)> = fs
        .subjects_state("")
        .into_iter()
        .map(|(s, ss)| (s, ss.msgs))
        .collect();
    let mut want: Vec<(String, u64)> = expect["subjects"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(s, n)| (s.clone(), n.as_u64().unwrap()))
        .collect();
    want.sort();
    assert_eq!(subjects, want);
}

/// Every sequence from 1 on loads as `msg(seq)` says (None: no message).
fn check_msgs(fs: &FileStore, msg: impl Fn(u64) -> Option<(String, String, String)>) {
    let last = fs.state().last_seq;
    for seq in 1..=last {
        match msg(seq) {
            Some((subject, hdr, payload)) => {
                let m = fs
                    .load_msg(seq)
                    .unwrap_or_else(|e| panic!("seq {seq}: {e}"));
                assert_eq!(m.subject, subject, "seq {seq}");
                assert_eq!(String::from_utf8(m.hdr).unwrap(), hdr, "seq {seq}");
                assert_eq!(String::from_utf8(m.msg).unwrap(), payload, "seq {seq}");
                assert!(m.ts > 1_600_000_000_000_000_000, "seq {seq}");
            }
            None => assert_eq!(fs.load_msg(seq), Err(StoreError::NotFound), "seq {seq}"),
        }
    }
}

#[test]
fn orders_headers_deletes_and_an_erase() {
    let (_tmp, fs, expect) = open("ORDERS");
    check_state(&fs, &expect);
    check_msgs(&fs, |seq| {
        if [1, 4, 6].contains(&seq) {
            return None;
        }
        let subject = format!("orders.{}", ["a", "b", "c"][seq as usize % 3]);
        let hdr = if seq % 4 == 0 {
            format!("NATS/1.0\r\nNats-Msg-Id: id-{seq}\r\n\r\n")
        } else {
            String::new()
        };
        Some((subject, hdr, format!("order number {seq}")))
    });
    assert_eq!(fs.load_next_msg("orders.c", 3).unwrap().seq, 5);
    assert_eq!(fs.load_last_msg("orders.b").unwrap().seq, 10);
}

#[test]
fn limits_across_blocks() {
    let (_tmp, fs, expect) = open("LIMITS");
    check_state(&fs, &expect);
    let first = fs.state().first_seq;
    check_msgs(&fs, |seq| {
        let i = seq - 1;
        (seq >= first).then(|| (format!("lim.{}", i % 7), String::new(), format!("{i:010}")))
    });
}

#[test]
fn kv_per_subject_limit_and_subject_purge() {
    let (_tmp, fs, expect) = open("KV_CFG");
    check_state(&fs, &expect);
    let st = fs.state();
    check_msgs(&fs, |seq| {
        let i = seq - 1;
        let held = seq >= st.first_seq && !st.deleted.contains(&seq);
        held.then(|| {
            (
                format!("$KV.CFG.key{}", i % 5),
                String::new(),
                format!("value {i}"),
            )
        })
    });
}

#[test]
fn killed_with_a_stale_index() {
    // Go lost the delete of 3 along with the index that recorded it.
    let (_tmp, fs, expect) = open("CRASH");
    check_state(&fs, &expect);
    check_msgs(&fs, |seq| {
        let what = if seq <= 5 { "before" } else { "after" };
        Some((
            format!("crash.{}", seq % 2),
            String::new(),
            format!("{what} {seq}"),
        ))
    });
    assert_eq!(fs.lost_data(), None);
}

#[test]
fn torn_last_record() {
    let (tmp, fs, expect) = open("TORN");
    check_state(&fs, &expect);
    let lost = fs.lost_data().unwrap();
    assert_eq!(lost.bytes, expect["lost"]["bytes"].as_u64().unwrap());
    assert!(lost.msgs.is_empty());
    // The tail was cut: the next message follows the last whole one, and
    // everything comes back again.
    let mut fs = fs;
    assert_eq!(fs.store_msg("torn.0", b"", b"again", 1), Ok(8));
    drop(fs);
    let dir = tmp.path().join("TORN");
    let fs = FileStore::open(FileStoreConfig::new(&dir), "TORN", Limits::default()).unwrap();
    assert_eq!((fs.state().msgs, fs.state().last_seq), (8, 8));
    assert_eq!(fs.load_msg(8).unwrap().msg, b"again");
    assert_eq!(fs.lost_data(), None);
}

#[test]
fn go_stores_take_new_messages_and_come_back() {
    for name in ["ORDERS", "LIMITS", "KV_CFG"] {
        let (tmp, mut fs, _) = open(name);
        let subject = fs.subjects_state("")[0].0.clone();
        let seq = fs.store_msg(&subject, b"", b"from natsd", 1).unwrap();
        let before = fs.state();
        drop(fs);
        let dir = tmp.path().join(name);
        let fs = FileStore::open(FileStoreConfig::new(&dir), name, limits_of(&dir)).unwrap();
        assert_eq!(fs.state(), before, "{name}");
        assert_eq!(fs.load_msg(seq).unwrap().msg, b"from natsd", "{name}");
    }
}
