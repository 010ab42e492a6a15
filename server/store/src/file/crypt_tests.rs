//! Encryption at rest against stores Go 2.9.10 wrote (testdata/go-encrypted:
//! stream ENC, key "s3cr3t", account $G, one store per cipher; gen.py there
//! says how they were made), and natsd's own encrypted stores.

use super::crypt::{consumer_context, open_meta, Cipher, Encryption, MetaKeyState, MetaKeys};
use super::{read_meta, read_meta_keyed, FileStore, FileStoreConfig};
use crate::{Limits, StreamStore};
use std::fs;
use std::path::{Path, PathBuf};

const PAYLOAD: &[u8] = b"ENCRYPTED PAYLOAD!!";

fn enc(cipher: Cipher, key: &str) -> Encryption {
    Encryption::new(cipher, key.as_bytes(), "$G")
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap().flatten() {
        let dst = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// A copy of Go's store written under `cipher`, as `<tmp>/ENC`.
fn go_store(cipher: Cipher) -> (tempfile::TempDir, PathBuf) {
    let name = match cipher {
        Cipher::ChaCha => "chacha",
        Cipher::Aes => "aes",
    };
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/go-encrypted")
        .join(name)
        .join("ENC");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ENC");
    copy_dir(&src, &dir);
    (tmp, dir)
}

fn open(dir: &Path, enc: Option<Encryption>) -> Result<FileStore, crate::StoreError> {
    let mut cfg = FileStoreConfig::new(dir);
    cfg.encryption = enc;
    FileStore::open(cfg, "ENC", Limits::default())
}

/// Every file under `dir`, with its contents.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(files(&e.path()));
        } else {
            out.push((e.path(), fs::read(e.path()).unwrap()));
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// What Go's store holds: 10 x PAYLOAD on foo, 3 on bar.
fn check_go_messages(fs: &FileStore) {
    let st = fs.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (13, 1, 13));
    for seq in 1..=10 {
        let m = fs.load_msg(seq).unwrap();
        assert_eq!((m.subject.as_str(), m.msg.as_slice()), ("foo", PAYLOAD));
    }
    let m = fs.load_msg(13).unwrap();
    assert_eq!(
        (m.subject.as_str(), m.msg.as_slice()),
        ("bar", &b"SECRET BAR 2"[..])
    );
}

#[test]
fn go_stores_open_with_the_key() {
    for cipher in [Cipher::ChaCha, Cipher::Aes] {
        let (_tmp, dir) = go_store(cipher);
        let e = enc(cipher, "s3cr3t");
        // meta.inf: its sum is over the sealed bytes; it opens with meta.key.
        let sealed = read_meta(&dir).unwrap();
        assert!(!contains(&sealed, b"ENC"));
        let (json, used) = open_meta(Some(&e), &dir, "ENC", sealed).unwrap();
        assert_eq!(used, Some(cipher));
        let json = String::from_utf8(json).unwrap();
        assert!(json.contains("\"name\":\"ENC\""), "{json}");
        // The block's .idx opens with the block's keys (no rebuild).
        let (mb, lost) =
            super::recover::recover_block(&dir.join("msgs"), "ENC", 1, Some(&e)).unwrap();
        assert!(lost.is_none());
        assert!(mb
            .read_index_file()
            .is_some_and(|b| super::index::decode_index(&b).is_ok()));
        assert_eq!(mb.msgs, 13);
        let fs = open(&dir, Some(e.clone())).unwrap();
        check_go_messages(&fs);
        drop(fs);
        // The consumer: meta.inf and o.dat open with its meta.key.
        let odir = dir.join("obs/dlc");
        let (keys, state) =
            MetaKeys::load_or_create(&e, &odir, &consumer_context("ENC", "dlc")).unwrap();
        assert!(matches!(state, MetaKeyState::Kept));
        let meta = keys
            .open(&read_meta_keyed(&odir, "ENC/dlc").unwrap())
            .unwrap();
        assert!(String::from_utf8(meta)
            .unwrap()
            .contains("\"durable_name\":\"dlc\""));
        let o = keys.open(&fs::read(odir.join("o.dat")).unwrap()).unwrap();
        let cs = crate::consumer::decode(&o).unwrap();
        assert_eq!((cs.delivered, cs.ack_floor), ((5, 5), (5, 5)));
    }
}

#[test]
fn a_wrong_key_or_none_does_not_read_go_stores() {
    for cipher in [Cipher::ChaCha, Cipher::Aes] {
        let (_tmp, dir) = go_store(cipher);
        let sealed = read_meta(&dir).unwrap();
        let e = open_meta(Some(&enc(cipher, "wrong")), &dir, "ENC", sealed.clone()).unwrap_err();
        // Go reports the last try's error: that of the other cipher.
        let want = match cipher {
            Cipher::ChaCha => "cipher: message authentication failed",
            Cipher::Aes => "chacha20poly1305: message authentication failed",
        };
        assert_eq!(e.to_string(), want);
        let e = open_meta(None, &dir, "ENC", sealed).unwrap_err();
        assert_eq!(e.to_string(), "encryption not enabled");
        assert!(open(&dir, Some(enc(cipher, "wrong"))).is_err());
    }
}

#[test]
fn go_stores_convert_to_the_other_cipher() {
    for cipher in [Cipher::ChaCha, Cipher::Aes] {
        let (_tmp, dir) = go_store(cipher);
        let e = enc(cipher.other(), "s3cr3t");
        let fs = open(&dir, Some(e.clone())).unwrap();
        check_go_messages(&fs);
        drop(fs);
        // The block's keys are now the other cipher's: the store opens
        // with them alone, and no longer with the old cipher's key file.
        let key = fs::read(dir.join("msgs/1.key")).unwrap();
        assert_eq!(key.len(), cipher.other().nonce_size() + 48);
        let fs = open(&dir, Some(e)).unwrap();
        check_go_messages(&fs);
    }
}

#[test]
fn new_stores_keep_no_plaintext_and_read_back() {
    for cipher in [Cipher::ChaCha, Cipher::Aes] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ENC");
        let e = enc(cipher, "s3cr3t");
        let mut fs = open(&dir, Some(e.clone())).unwrap();
        fs.write_meta(br#"{"name":"ENC","subjects":["foo"]}"#)
            .unwrap();
        for _ in 0..50 {
            fs.store_msg("foo", b"", PAYLOAD, 1).unwrap();
        }
        fs.remove_msg(7);
        assert!(fs.erase_msg(9));
        fs.stop().unwrap();
        drop(fs);
        for (path, data) in files(&dir) {
            assert!(!contains(&data, PAYLOAD), "{path:?}");
            if !path.ends_with("1.fss") {
                // Go's .fss stays in clear: only it names the subject.
                assert!(!contains(&data, b"foo"), "{path:?}");
            }
        }
        assert!(dir.join("meta.key").exists() && dir.join("msgs/1.key").exists());
        let fs = open(&dir, Some(e)).unwrap();
        assert_eq!(fs.state().msgs, 48);
        assert_eq!(fs.load_msg(50).unwrap().msg, PAYLOAD);
        assert!(fs.load_msg(9).is_err());
        let json = open_meta(
            Some(&enc(cipher, "s3cr3t")),
            &dir,
            "ENC",
            read_meta(&dir).unwrap(),
        );
        assert_eq!(json.unwrap().0, br#"{"name":"ENC","subjects":["foo"]}"#);
    }
}

#[test]
fn a_clear_store_is_encrypted_when_opened_with_a_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ENC");
    let mut fs = open(&dir, None).unwrap();
    for _ in 0..5 {
        fs.store_msg("foo", b"", PAYLOAD, 1).unwrap();
    }
    fs.stop().unwrap();
    drop(fs);
    let e = enc(Cipher::ChaCha, "s3cr3t");
    let fs = open(&dir, Some(e.clone())).unwrap();
    assert_eq!(fs.load_msg(3).unwrap().msg, PAYLOAD);
    drop(fs);
    assert!(!contains(
        &fs::read(dir.join("msgs/1.blk")).unwrap(),
        PAYLOAD
    ));
    let fs = open(&dir, Some(e)).unwrap();
    assert_eq!(fs.state().msgs, 5);
}

/// TestFileStoreEncryptedAES, through the store: messages and a
/// consumer's state come back after a restart.
#[test]
fn aes_store_and_consumer_state_come_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("zzz");
    let e = Encryption::new(Cipher::Aes, b"dlc22", "");
    let mut cfg = FileStoreConfig::new(&dir);
    cfg.encryption = Some(e.clone());
    let mut fs = FileStore::open(cfg.clone(), "zzz", Limits::default()).unwrap();
    for _ in 0..50 {
        fs.store_msg("foo", b"", b"aes ftw", 0).unwrap();
    }
    let odir = dir.join("obs/o22");
    fs::create_dir_all(&odir).unwrap();
    let (keys, _) = MetaKeys::load_or_create(&e, &odir, &consumer_context("zzz", "o22")).unwrap();
    let state = crate::consumer::ConsumerState {
        delivered: (22, 22),
        ack_floor: (11, 11),
        ..Default::default()
    };
    fs::write(
        odir.join("o.dat"),
        keys.seal(&crate::consumer::encode(&state, 0)),
    )
    .unwrap();
    fs.stop().unwrap();
    drop(fs);
    let fs = FileStore::open(cfg, "zzz", Limits::default()).unwrap();
    assert_eq!(fs.load_msg(10).unwrap().msg, b"aes ftw");
    let (keys, st) = MetaKeys::load_or_create(&e, &odir, &consumer_context("zzz", "o22")).unwrap();
    assert!(matches!(st, MetaKeyState::Kept));
    let back = crate::consumer::decode(&keys.open(&fs::read(odir.join("o.dat")).unwrap()).unwrap())
        .unwrap();
    assert_eq!((back.delivered, back.ack_floor), ((22, 22), (11, 11)));
}

/// TestFileStoreDoubleCompactWithWriteInBetweenEncryptedBug.
#[test]
fn double_compact_with_a_write_in_between() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = FileStoreConfig::new(tmp.path().join("zzz"));
    cfg.encryption = Some(Encryption::new(Cipher::ChaCha, b"dlc22", ""));
    let mut fs = FileStore::open(cfg.clone(), "zzz", Limits::default()).unwrap();
    for _ in 0..5 {
        fs.store_msg("foo", b"", b"ouch", 0).unwrap();
    }
    fs.compact(5).unwrap();
    assert_eq!(fs.state().last_seq, 5);
    for _ in 0..5 {
        fs.store_msg("foo", b"", b"ouch", 0).unwrap();
    }
    fs.compact(10).unwrap();
    assert_eq!(fs.state().last_seq, 10);
    fs.stop().unwrap();
    drop(fs);
    let fs = FileStore::open(cfg, "zzz", Limits::default()).unwrap();
    let st = fs.state();
    assert_eq!((st.first_seq, st.last_seq, st.msgs), (10, 10, 1));
    assert_eq!(fs.load_msg(10).unwrap().msg, b"ouch");
}

/// TestFileStoreEncryptedKeepIndexNeedBekResetBug: every message goes,
/// the emptied last block is kept (for its sequence), and what is written
/// to it next reads back from disk.
#[test]
fn writes_after_the_last_block_emptied_read_back() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = FileStoreConfig::new(tmp.path().join("zzz"));
    cfg.encryption = Some(Encryption::new(Cipher::ChaCha, b"dlc22", ""));
    let mut fs = FileStore::open(cfg.clone(), "zzz", Limits::default()).unwrap();
    for _ in 0..5 {
        fs.store_msg("foo", b"", b"ouch", 0).unwrap();
    }
    for seq in 1..=5 {
        assert!(fs.remove_msg(seq));
    }
    assert_eq!(fs.state().msgs, 0);
    for _ in 0..5 {
        fs.store_msg("foo", b"", b"ouch", 0).unwrap();
    }
    fs.stop().unwrap();
    drop(fs);
    // From disk alone.
    let fs = FileStore::open(cfg, "zzz", Limits::default()).unwrap();
    assert_eq!(fs.load_msg(10).unwrap().msg, b"ouch");
    assert_eq!(fs.state().msgs, 5);
}
