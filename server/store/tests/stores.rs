//! The same checks on the memory store and on the file store (once with
//! Go's block size, once with blocks so small that every check crosses
//! blocks). Where Go's two stores differ (which deleted sequences `state`
//! lists, the sizes), so do the checks. After each check the file stores are reopened from disk and
//! must come back exactly as they were: state, per-subject state and every
//! message.

use natsd_proto::jetstream::api::Timestamp;
use natsd_store::file::{FileStore, FileStoreConfig};
use natsd_store::mem::MemStore;
use natsd_store::{
    file_msg_size, msg_size, Discard, Limits, SimpleState, StoreError, StoreMsg, StreamState,
    StreamStore,
};
use std::time::Duration;

/// A store's size of a message.
type Sizer = fn(&str, &[u8], &[u8]) -> u64;

/// Everything a client could see of a store.
fn snapshot(s: &dyn StreamStore) -> (StreamState, Vec<(String, SimpleState)>, Vec<StoreMsg>) {
    let st = s.state();
    let msgs = (st.first_seq..=st.last_seq)
        .filter_map(|seq| s.load_msg(seq).ok())
        .collect();
    (st, s.subjects_state(""), msgs)
}

fn on_both(limits: Limits, check: impl Fn(&str, &mut dyn StreamStore, Sizer)) {
    check("memory", &mut MemStore::new(limits.clone()), msg_size);
    let tmp = tempfile::tempdir().unwrap();
    for (name, block_size) in [("file", 0), ("file, small blocks", 100)] {
        let dir = tmp
            .path()
            .join(if block_size == 0 { "BIG" } else { "SMALL" });
        let open = || {
            let cfg = FileStoreConfig {
                block_size,
                ..FileStoreConfig::new(&dir)
            };
            FileStore::open(cfg, "S", limits.clone()).unwrap()
        };
        let mut fs = open();
        check(name, &mut fs, file_msg_size);
        let mut before = snapshot(&fs);
        if before.0.last_seq == 0 {
            // As Go's: a new stream's first sequence is 0, and 1 once its
            // (empty) block was written and recovered.
            before.0.first_seq = 1;
        }
        if before.0.msgs == 0 {
            // As Go's: an empty stream read back from its blocks has the
            // first time time.Unix(0, 0), not the zero time.
            before.0.first_ts = Timestamp::UNIX_EPOCH;
        }
        drop(fs);
        let fs = open();
        assert_eq!(snapshot(&fs), before, "{name}: recovered state");
    }
}

fn seqs(st: &StreamState) -> (u64, u64, u64) {
    (st.msgs, st.first_seq, st.last_seq)
}

#[test]
fn stores_loads_and_reports_state() {
    on_both(Limits::default(), |name, s, size| {
        assert_eq!(s.store_msg("foo", b"", b"Hello World", 1).unwrap(), 1);
        assert_eq!(
            s.store_msg("bar", b"NATS/1.0\r\nA: b\r\n\r\n", b"hi", 2),
            Ok(2)
        );
        let st = s.state();
        assert_eq!(seqs(&st), (2, 1, 2), "{name}");
        let want =
            size("foo", b"", b"Hello World") + size("bar", b"NATS/1.0\r\nA: b\r\n\r\n", b"hi");
        assert_eq!(st.bytes, want, "{name}");
        let m = s.load_msg(2).unwrap();
        assert_eq!(
            (m.subject.as_str(), &m.hdr[..], &m.msg[..], m.ts),
            ("bar", &b"NATS/1.0\r\nA: b\r\n\r\n"[..], &b"hi"[..], 2)
        );
        assert_eq!(s.load_msg(3), Err(StoreError::Eof), "{name}");
        assert!(s.remove_msg(1));
        assert!(!s.remove_msg(1));
        assert_eq!(s.load_msg(1), Err(StoreError::NotFound), "{name}");
        assert_eq!(seqs(&s.state()), (1, 2, 2), "{name}");
        assert!(s.remove_msg(2));
        let st = s.state();
        // Emptied by removals, Go's file store reports time.Unix(0, 0),
        // its memory store the zero time.
        let emptied_ts = match name.starts_with("file") {
            true => Timestamp::UNIX_EPOCH,
            false => 0,
        };
        assert_eq!(
            (seqs(&st), st.bytes, st.first_ts),
            ((0, 3, 2), 0, emptied_ts),
            "{name}"
        );
        assert_eq!(s.store_msg("foo", b"", b"x", 3), Ok(3));
        assert_eq!(
            s.store_raw_msg("foo", b"", b"x", 9, 4),
            Err(StoreError::SequenceMismatch)
        );
        assert_eq!(s.store_raw_msg("foo", b"", b"x", 0, 4), Ok(()));
        assert_eq!(s.state().last_seq, 4, "{name}");
    });
}

#[test]
fn max_msgs_discard_old_and_new() {
    let old = Limits {
        max_msgs: 10,
        ..Default::default()
    };
    on_both(old, |name, s, _| {
        for i in 0..20 {
            s.store_msg("foo", b"", b"x", i).unwrap();
        }
        assert_eq!(seqs(&s.state()), (10, 11, 20), "{name}");
    });
    let new = Limits {
        max_msgs: 2,
        discard: Discard::New,
        ..Default::default()
    };
    on_both(new, |name, s, _| {
        s.store_msg("foo", b"", b"x", 1).unwrap();
        s.store_msg("foo", b"", b"x", 2).unwrap();
        assert_eq!(
            s.store_msg("foo", b"", b"x", 3),
            Err(StoreError::MaxMsgs),
            "{name}"
        );
        assert_eq!(s.state().last_seq, 2, "{name}");
    });
}

#[test]
fn max_bytes_discard_old_and_new() {
    for discard in [Discard::Old, Discard::New] {
        for (store_size, is_file) in [(msg_size as Sizer, false), (file_msg_size as Sizer, true)] {
            let limits = Limits {
                max_bytes: (store_size("foo", b"", &[0; 100]) * 10) as i64,
                discard,
                ..Default::default()
            };
            on_both(limits, |name, s, _| {
                if (name == "memory") == is_file {
                    return;
                }
                for i in 0..10 {
                    s.store_msg("foo", b"", &[0; 100], i).unwrap();
                }
                assert_eq!(s.state().msgs, 10, "{name}");
                // (Go counts only the new payload against the limit.)
                let r = s.store_msg("foo", b"", &[0; 100], 20);
                if discard == Discard::Old {
                    r.unwrap();
                    assert_eq!(seqs(&s.state()), (10, 2, 11), "{name}");
                } else {
                    assert_eq!(r, Err(StoreError::MaxBytes), "{name}");
                }
            });
        }
    }
}

#[test]
fn per_subject_limits_and_subject_state() {
    let limits = Limits {
        max_msgs_per_subject: 2,
        ..Default::default()
    };
    on_both(limits, |name, s, _| {
        for (i, subj) in ["a", "b", "a", "a", "b"].iter().enumerate() {
            s.store_msg(subj, b"", b"x", i as i64).unwrap();
        }
        let a = SimpleState {
            msgs: 2,
            first: 3,
            last: 4,
        };
        let b = SimpleState {
            msgs: 2,
            first: 2,
            last: 5,
        };
        assert_eq!(
            s.subjects_state(""),
            vec![("a".into(), a), ("b".into(), b)],
            "{name}"
        );
        assert_eq!(s.subjects_state("b"), vec![("b".into(), b)], "{name}");
        assert_eq!(s.load_last_msg("a").unwrap().seq, 4, "{name}");
        assert_eq!(s.filtered_state(1, "b").msgs, 2, "{name}");
        let st = s.state();
        assert_eq!(
            (st.num_subjects, st.num_deleted, st.deleted.len()),
            (2, 0, 0),
            "{name}"
        );
    });
}

#[test]
fn discard_new_per_subject() {
    let limits = Limits {
        max_msgs_per_subject: 1,
        max_msgs: 2,
        discard: Discard::New,
        discard_new_per_subject: true,
        ..Default::default()
    };
    on_both(limits, |name, s, _| {
        s.store_msg("a", b"", b"1", 1).unwrap();
        assert_eq!(
            s.store_msg("a", b"", b"2", 2),
            Err(StoreError::MaxMsgsPerSubject),
            "{name}"
        );
        s.store_msg("b", b"", b"3", 3).unwrap();
        assert_eq!(
            s.store_msg("c", b"", b"4", 4),
            Err(StoreError::MaxMsgs),
            "{name}"
        );
    });
    // Without the per-subject flag, a message at its subject's limit
    // replaces the oldest even when the stream is full.
    let limits = Limits {
        max_msgs_per_subject: 1,
        max_msgs: 2,
        discard: Discard::New,
        ..Default::default()
    };
    on_both(limits, |name, s, _| {
        s.store_msg("a", b"", b"1", 1).unwrap();
        s.store_msg("b", b"", b"2", 2).unwrap();
        assert_eq!(s.store_msg("a", b"", b"3", 3), Ok(3), "{name}");
        assert_eq!(seqs(&s.state()), (2, 2, 3), "{name}");
    });
}

#[test]
fn purge_with_filter_sequence_and_keep() {
    on_both(Limits::default(), |name, s, _| {
        for i in 0..10 {
            let subj = if i % 2 == 0 { "even" } else { "odd" };
            s.store_msg(subj, b"", b"x", i).unwrap();
        }
        assert_eq!(s.purge_ex("even", 0, 1), Ok(4), "{name}");
        assert_eq!(s.filtered_state(1, "even").msgs, 1, "{name}");
        assert_eq!(s.purge_ex("", 5, 1), Err(StoreError::PurgeArgMismatch));
        assert_eq!(s.purge_ex("odd", 6, 0), Ok(2), "{name}");
        assert_eq!(s.subjects_state("odd")[0].1.first, 6, "{name}");
        assert_eq!(s.purge_ex("", 0, 2), Ok(2), "{name}");
        assert_eq!(s.state().msgs, 2, "{name}");
        assert_eq!(s.purge(), 2, "{name}");
        let st = s.state();
        assert_eq!(
            (seqs(&st), st.num_subjects, st.bytes),
            ((0, 11, 10), 0, 0),
            "{name}"
        );
        assert_eq!(s.store_msg("odd", b"", b"x", 11), Ok(11), "{name}");
        assert_eq!(seqs(&s.state()), (1, 11, 11), "{name}");
    });
}

#[test]
fn interior_deletes_and_age() {
    let limits = Limits {
        max_age: Duration::from_nanos(100),
        ..Default::default()
    };
    on_both(limits, |name, s, _| {
        for i in 1..=5 {
            s.store_msg("foo", b"", b"x", i * 10).unwrap();
        }
        s.remove_msg(3);
        assert_eq!(s.fast_state().num_deleted, 1, "{name}");
        assert_eq!(s.expire(125), Some(Duration::from_nanos(15)), "{name}");
        let st = s.state();
        assert_eq!((st.msgs, st.first_seq, st.first_ts), (2, 4, 40), "{name}");
        assert_eq!(s.seq_from_time(45), 5, "{name}");
        assert_eq!(s.seq_from_time(1), 4, "{name}");
        assert_eq!(s.seq_from_time(51), 6, "{name}");
        assert_eq!(s.expire(1000), None, "{name}");
        assert_eq!(seqs(&s.state()), (0, 6, 5), "{name}");
    });
}

#[test]
fn skipped_sequences() {
    on_both(Limits::default(), |name, s, _| {
        for i in 0..10 {
            s.skip_msg(i);
        }
        assert_eq!(seqs(&s.state()), (0, 11, 10), "{name}");
        s.store_msg("zzz", b"", b"Hello World!", 11).unwrap();
        s.skip_msg(12);
        s.skip_msg(13);
        s.store_msg("zzz", b"", b"Hello World!", 14).unwrap();
        s.skip_msg(15);
        let st = s.state();
        assert_eq!(seqs(&st), (2, 11, 15), "{name}");
        assert_eq!(s.fast_state().num_deleted, 3, "{name}");
        assert_eq!(st.deleted[..2], [12, 13], "{name}");
        assert_eq!(s.load_msg(12), Err(StoreError::NotFound), "{name}");
        assert_eq!(s.load_next_msg("", 12).unwrap().seq, 14, "{name}");
        assert_eq!(s.store_msg("AAA", b"", b"Skip?", 16), Ok(16), "{name}");
    });
}

#[test]
fn compaction() {
    on_both(Limits::default(), |name, s, size| {
        for i in 1..=10 {
            s.store_msg(if i % 3 == 0 { "three" } else { "other" }, b"", b"data", i)
                .unwrap();
        }
        assert_eq!(s.compact(6), Ok(5), "{name}");
        let st = s.state();
        assert_eq!((seqs(&st), st.first_ts), ((5, 6, 10), 6), "{name}");
        assert_eq!(st.bytes, 5 * size("three", b"", b"data"), "{name}");
        assert_eq!(
            s.filtered_state(0, "three"),
            SimpleState {
                msgs: 2,
                first: 6,
                last: 9
            },
            "{name}"
        );
        assert_eq!(s.compact(6), Ok(0), "{name}");
        assert_eq!(s.compact(20), Ok(5), "{name}");
        assert_eq!(seqs(&s.state()), (0, 20, 19), "{name}");
        assert_eq!(s.store_msg("x", b"", b"", 21), Ok(20), "{name}");
        assert_eq!(s.compact(0), Ok(1), "{name}");
        assert_eq!(seqs(&s.state()), (0, 21, 20), "{name}");
    });
}

#[test]
fn loads_by_filter() {
    on_both(Limits::default(), |name, s, _| {
        for (i, subj) in ["foo.a", "bar.a", "foo.b", "foo.a", "baz"]
            .iter()
            .enumerate()
        {
            s.store_msg(subj, b"", format!("{i}").as_bytes(), i as i64)
                .unwrap();
        }
        assert_eq!(s.load_next_msg("foo.*", 0).unwrap().seq, 1, "{name}");
        assert_eq!(s.load_next_msg("foo.*", 2).unwrap().seq, 3, "{name}");
        assert_eq!(s.load_next_msg("foo.a", 2).unwrap().seq, 4, "{name}");
        assert_eq!(s.load_next_msg(">", 5).unwrap().subject, "baz", "{name}");
        assert_eq!(s.load_next_msg("foo.>", 5), Err(StoreError::Eof), "{name}");
        assert_eq!(s.load_next_msg("", 6), Err(StoreError::Eof), "{name}");
        assert_eq!(s.load_last_msg("foo.*").unwrap().msg, b"3", "{name}");
        assert_eq!(s.load_last_msg("*.a").unwrap().seq, 4, "{name}");
        assert_eq!(s.load_last_msg("").unwrap().seq, 5, "{name}");
        assert_eq!(s.load_last_msg("nope"), Err(StoreError::NotFound), "{name}");
        s.remove_msg(5);
        assert_eq!(s.load_last_msg(">"), Err(StoreError::NotFound), "{name}");
        assert_eq!(
            s.filtered_state(2, "foo.*"),
            SimpleState {
                msgs: 2,
                first: 3,
                last: 4
            },
            "{name}"
        );
        assert_eq!(
            s.filtered_state(4, ""),
            SimpleState {
                msgs: 1,
                first: 4,
                last: 4
            },
            "{name}"
        );
        assert_eq!(
            s.filtered_state(0, "*.a"),
            SimpleState {
                msgs: 3,
                first: 1,
                last: 4
            },
            "{name}"
        );
        assert_eq!(s.filtered_state(9, ">"), SimpleState::default(), "{name}");
        let subjects: Vec<String> = s
            .subjects_state("foo.*")
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(subjects, ["foo.a", "foo.b"], "{name}");
    });
}

#[test]
fn out_of_order_removes_and_erase() {
    on_both(Limits::default(), |name, s, _| {
        for i in 1..=20 {
            s.store_msg(&format!("s.{}", i % 4), b"", b"Hello World", i)
                .unwrap();
        }
        for i in (2..=20).step_by(2) {
            let removed = if i % 4 == 0 {
                s.erase_msg(i)
            } else {
                s.remove_msg(i)
            };
            assert!(removed, "{name}: {i}");
        }
        let st = s.state();
        assert_eq!(seqs(&st), (10, 1, 20), "{name}");
        assert_eq!(s.fast_state().num_deleted, 10, "{name}");
        // Which of them are listed differs: the memory store leaves out the
        // last sequence, Go's file store those that were first in a block.
        assert!(st.deleted.iter().all(|d| d % 2 == 0), "{name}");
        assert!(st.deleted.len() >= 5, "{name}");
        assert!(s.load_msg(1).is_ok() && s.load_msg(4).is_err(), "{name}");
        assert_eq!(s.subjects_state("").len(), 2, "{name}");
        // The first message of a subject goes: the next one is first.
        assert!(s.remove_msg(1));
        assert_eq!(
            s.subjects_state("s.1")[0].1,
            SimpleState {
                msgs: 4,
                first: 5,
                last: 17
            },
            "{name}"
        );
        assert_eq!(s.state().first_seq, 3, "{name}");
    });
}

#[test]
fn tighter_limits_apply_at_once() {
    on_both(Limits::default(), |name, s, _| {
        for i in 0..30 {
            s.store_msg(&format!("k.{}", i % 3), b"", b"v", i).unwrap();
        }
        // As in Go, a first per-subject limit keeps what is stored; a
        // lower one applies at once.
        let first = Limits {
            max_msgs_per_subject: 3,
            ..Default::default()
        };
        s.update_limits(first, 0);
        assert_eq!(seqs(&s.state()), (30, 1, 30), "{name}");
        let limits = Limits {
            max_msgs_per_subject: 2,
            ..Default::default()
        };
        s.update_limits(limits.clone(), 0);
        assert_eq!(seqs(&s.state()), (6, 25, 30), "{name}");
        let limits = Limits {
            max_msgs: 4,
            ..limits
        };
        s.update_limits(limits.clone(), 0);
        assert_eq!(seqs(&s.state()), (4, 27, 30), "{name}");
        let limits = Limits {
            max_age: Duration::from_nanos(2),
            ..limits
        };
        s.update_limits(limits, 30);
        assert_eq!(seqs(&s.state()), (1, 30, 30), "{name}");
    });
}

#[test]
fn kv_like_history_of_one() {
    let limits = Limits {
        max_msgs_per_subject: 1,
        ..Default::default()
    };
    on_both(limits, |name, s, _| {
        for i in 0..200 {
            s.store_msg(
                &format!("$KV.B.k{}", i % 17),
                b"",
                format!("{i}").as_bytes(),
                i,
            )
            .unwrap();
        }
        let st = s.state();
        assert_eq!(
            (st.msgs, st.num_subjects, st.last_seq),
            (17, 17, 200),
            "{name}"
        );
        assert_eq!(
            st.num_deleted,
            (200 - st.first_seq + 1 - 17) as usize,
            "{name}"
        );
        assert_eq!(s.load_last_msg("$KV.B.k3").unwrap().msg, b"190", "{name}");
        assert_eq!(s.purge_ex("$KV.B.k3", 0, 0), Ok(1), "{name}");
        assert_eq!(s.filtered_state(0, "$KV.B.>").msgs, 16, "{name}");
    });
}
