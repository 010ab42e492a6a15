//! The closed-connections ring: the newest connections to close, oldest
//! first, with what `/connz?state=closed` shows of them.

use super::connz::{ConnInfo, SubDetail};
use crate::core::connection::{ClosedState, Connection};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// A connection as it was when it closed.
pub struct ClosedConn {
    pub info: ConnInfo,
    /// Its subscriptions (shown only when asked for).
    pub subs: Vec<SubDetail>,
    /// The user name from CONNECT.
    pub user: String,
    /// Account name; empty for the global account.
    pub acc: String,
}

impl ClosedConn {
    pub fn capture(c: &Connection, reason: ClosedState) -> ClosedConn {
        let now = Instant::now();
        let mut info = ConnInfo::fill(c, now);
        info.stop = Some(SystemTime::now());
        info.reason = reason.to_string();
        let subs = SubDetail::of_client(c, true);
        let user = c.meta.lock().username.clone();
        let acc = c.account.lock().name.clone();
        ClosedConn {
            info,
            subs,
            user,
            acc,
        }
    }
}

/// Fixed-capacity ring: appending to a full ring drops the oldest entry.
pub struct ClosedRing {
    cap: usize,
    conns: VecDeque<Arc<ClosedConn>>,
}

impl ClosedRing {
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            conns: VecDeque::new(),
        }
    }

    pub fn push(&mut self, c: ClosedConn) {
        if self.conns.len() == self.cap {
            self.conns.pop_front();
        }
        self.conns.push_back(Arc::new(c));
    }

    /// The entries, oldest first.
    pub fn snapshot(&self) -> Vec<Arc<ClosedConn>> {
        self.conns.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(cid: u64) -> ClosedConn {
        ClosedConn {
            info: ConnInfo {
                cid,
                ..ConnInfo::default()
            },
            subs: Vec::new(),
            user: String::new(),
            acc: String::new(),
        }
    }

    #[test]
    fn keeps_the_newest() {
        let mut r = ClosedRing::new(3);
        for cid in 1..=5 {
            r.push(entry(cid));
        }
        let cids: Vec<u64> = r.snapshot().iter().map(|c| c.info.cid).collect();
        assert_eq!(cids, vec![3, 4, 5]);
    }
}
