//! A filtered state from a sequence inside a block, with and without a
//! filter, counts the same messages a scan would.

use natsd_store::file::{FileStore, FileStoreConfig};
use natsd_store::{Limits, StreamStore};

#[test]
fn pending_from_inside_a_block_skips_its_interior_deletes() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = FileStoreConfig {
        block_size: 1000,
        ..FileStoreConfig::new(tmp.path().join("S"))
    };
    let mut fs = FileStore::open(cfg, "S", Limits::default()).unwrap();
    for i in 1..=40u64 {
        let subject = if i % 2 == 0 { "even" } else { "odd" };
        fs.store_msg(subject, b"", b"0123456789", i as i64).unwrap();
    }
    for seq in [5, 6, 7, 12, 30] {
        assert!(fs.remove_msg(seq));
    }
    for start in [1, 4, 5, 6, 8, 12, 13, 29, 30, 31, 40, 41] {
        let held: Vec<u64> = (start.max(1)..=40)
            .filter(|s| ![5, 6, 7, 12, 30].contains(s))
            .collect();
        let all = fs.filtered_state(start, "");
        assert_eq!(all.msgs, held.len() as u64, "from {start}");
        if let (Some(first), Some(last)) = (held.first(), held.last()) {
            assert_eq!((all.first, all.last), (*first, *last), "from {start}");
        }
        let even = fs.filtered_state(start, "even");
        let held_even = held.iter().filter(|s| *s % 2 == 0).count() as u64;
        assert_eq!(even.msgs, held_even, "even from {start}");
    }
}
