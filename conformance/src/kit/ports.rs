//! Port allocation: ports come from the OS, never from a fixed list, and a port
//! handed out once in this process is never handed out again, so concurrent
//! scenarios cannot collide on a port between its allocation and its use.

use anyhow::{bail, Result};
use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{LazyLock, Mutex};

static HANDED_OUT: LazyLock<Mutex<HashSet<u16>>> = LazyLock::new(Default::default);

/// A free TCP port on 127.0.0.1.
pub fn alloc() -> Result<u16> {
    for _ in 0..64 {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if HANDED_OUT.lock().expect("port set").insert(port) {
            return Ok(port);
        }
    }
    bail!("no fresh port after 64 tries")
}

#[cfg(test)]
mod tests {
    #[test]
    fn ports_are_never_handed_out_twice() {
        let ports: Vec<u16> = (0..50).map(|_| super::alloc().unwrap()).collect();
        let unique: std::collections::HashSet<_> = ports.iter().collect();
        assert_eq!(unique.len(), ports.len());
    }
}
