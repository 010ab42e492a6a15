//! Port allocation: ports are found free at run time, never taken from a
//! fixed list, and a port handed out once in this process is never handed
//! out again, so concurrent scenarios cannot collide between a port's
//! allocation and its use.
//!
//! Ports come from below the kernel's ephemeral range: a port the OS picks
//! for `bind(0)` lies in that range, where the source port of any outgoing
//! connection (thousands of them in some scenarios) may take it before the
//! server under test binds it.

use anyhow::{bail, Result};
use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{LazyLock, Mutex};

/// Lowest port handed out: clear of the well-known and registered ports
/// that services on a development machine commonly use.
const FLOOR: u16 = 10_000;

struct Allocator {
    handed_out: HashSet<u16>,
    next: u16,
    ceiling: u16,
}

/// The first port of the kernel's ephemeral range (Linux), or a common default.
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .filter(|p| *p > FLOOR + 1_000)
        .unwrap_or(32_768)
}

static ALLOCATOR: LazyLock<Mutex<Allocator>> = LazyLock::new(|| {
    let ceiling = ephemeral_start();
    // Start somewhere different in each process, so that two harness
    // processes on one machine rarely probe the same ports.
    let span = u32::from(ceiling - FLOOR);
    let offset = (std::process::id().wrapping_mul(7_919) % span) as u16;
    Mutex::new(Allocator {
        handed_out: HashSet::new(),
        next: FLOOR + offset,
        ceiling,
    })
});

fn is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok() && TcpListener::bind(("0.0.0.0", port)).is_ok()
}

/// A free TCP port on this machine, below the ephemeral range.
pub fn alloc() -> Result<u16> {
    let mut a = ALLOCATOR.lock().expect("port allocator");
    for _ in FLOOR..a.ceiling {
        let port = a.next;
        a.next = if port + 1 >= a.ceiling {
            FLOOR
        } else {
            port + 1
        };
        if !a.handed_out.contains(&port) && is_free(port) {
            a.handed_out.insert(port);
            return Ok(port);
        }
    }
    bail!("no free port between {FLOOR} and {}", a.ceiling)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ports_are_free_distinct_and_below_the_ephemeral_range() {
        let ceiling = super::ephemeral_start();
        let ports: Vec<u16> = (0..50).map(|_| super::alloc().unwrap()).collect();
        let unique: std::collections::HashSet<_> = ports.iter().collect();
        assert_eq!(unique.len(), ports.len());
        assert!(ports.iter().all(|p| (super::FLOOR..ceiling).contains(p)));
    }
}
