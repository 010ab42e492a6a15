//! An account's traffic as `/accstatz`, `/accountz` and the system
//! account's events report it.

use crate::core::account::{Account, Traffic};
use crate::server::Server;
use serde::Serialize;
use std::sync::atomic::Ordering;

#[derive(Serialize, Default, Clone, Copy)]
pub struct DataStats {
    pub msgs: i64,
    pub bytes: i64,
}

impl DataStats {
    /// What was received (published into the server) as `t` counts it.
    pub fn inbound(t: &Traffic) -> DataStats {
        DataStats {
            msgs: t.in_msgs.load(Ordering::Relaxed),
            bytes: t.in_bytes.load(Ordering::Relaxed),
        }
    }

    /// What was sent (delivered by the server) as `t` counts it.
    pub fn outbound(t: &Traffic) -> DataStats {
        DataStats {
            msgs: t.out_msgs.load(Ordering::Relaxed),
            bytes: t.out_bytes.load(Ordering::Relaxed),
        }
    }
}

/// An account's connections and traffic on this server.
#[derive(Serialize, Clone)]
pub struct AccountStat {
    pub acc: String,
    pub conns: usize,
    pub leafnodes: usize,
    pub total_conns: usize,
    pub sent: DataStats,
    pub received: DataStats,
    pub slow_consumers: i64,
}

/// An account's connections and traffic, for the system account's
/// account statistics and `/accstatz`. natsd counts slow consumers
/// server-wide only: they show as the global account's.
pub fn account_stat(srv: &Server, acc: &Account) -> AccountStat {
    let conns = acc.num_clients();
    let global = acc.name == crate::options::accounts::GLOBAL_ACCOUNT;
    AccountStat {
        acc: acc.name.clone(),
        conns,
        leafnodes: 0,
        total_conns: conns,
        sent: DataStats::outbound(&acc.traffic),
        received: DataStats::inbound(&acc.traffic),
        slow_consumers: if global {
            srv.stats.slow_consumers.load(Ordering::Relaxed)
        } else {
            0
        },
    }
}
