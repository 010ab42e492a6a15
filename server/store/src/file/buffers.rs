//! Block buffers, reused. Reading a block file into a fresh buffer costs a
//! page fault for every 4 KiB of it, which is most of the time a restart
//! spends reading blocks; a buffer whose block left the read cache with no
//! reader holding it is kept for the next read instead (a few at most, for
//! the whole process, so that idle streams keep none).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Mutex;

/// Buffers kept at most.
const KEPT: usize = 4;

static SPARE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// Reads a whole file into a reused buffer when one is big enough.
pub(crate) fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len() as usize;
    let mut buf = take(len);
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// An empty buffer with room for `len` bytes.
fn take(len: usize) -> Vec<u8> {
    let mut spare = SPARE.lock().unwrap_or_else(|e| e.into_inner());
    match spare.iter().position(|b| b.capacity() >= len) {
        Some(at) => spare.swap_remove(at),
        None => Vec::with_capacity(len),
    }
}

/// Hands a buffer back for a later read.
pub(crate) fn give(mut buf: Vec<u8>) {
    let mut spare = SPARE.lock().unwrap_or_else(|e| e.into_inner());
    if spare.len() < KEPT && buf.capacity() > 0 {
        buf.clear();
        spare.push(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_read_into_again() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("1.blk");
        std::fs::write(&p, vec![7u8; 100_000]).unwrap();
        let buf = read_file(&p).unwrap();
        assert_eq!(buf, vec![7u8; 100_000]);
        let at = buf.as_ptr();
        give(buf);
        std::fs::write(&p, vec![9u8; 50_000]).unwrap();
        let again = read_file(&p).unwrap();
        assert_eq!(again, vec![9u8; 50_000]);
        assert_eq!(again.as_ptr(), at);
    }
}
