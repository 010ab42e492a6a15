//! The subject mappings each account applies to what is published into it
//! (the transforms themselves are natsd-proto's [`natsd_proto::mapping`]).

use super::account::Account;
use crate::options::accounts::GLOBAL_ACCOUNT;
use crate::options::Options;
use natsd_proto::mapping::{MapDest, MappingConfig, MappingTable};
use parking_lot::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The mappings of one account, replaceable while clients publish: a
/// reader checks one atomic flag before anything else.
#[derive(Default)]
pub struct AccountMappings {
    active: AtomicBool,
    table: RwLock<Option<Arc<MappingTable>>>,
}

impl AccountMappings {
    /// Whether any mapping is installed.
    #[inline]
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Replaces the mappings (none when `table` is empty).
    pub fn install(&self, table: MappingTable) {
        let mut t = self.table.write();
        if table.is_empty() {
            *t = None;
            self.active.store(false, Ordering::Release);
        } else {
            *t = Some(Arc::new(table));
            self.active.store(true, Ordering::Release);
        }
    }

    pub fn table(&self) -> Option<Arc<MappingTable>> {
        self.table.read().clone()
    }

    /// See [`MappingTable::select`].
    pub fn select(&self, subject: &[u8], draw: impl FnOnce() -> u8) -> Option<String> {
        let t = self.table.read().clone()?;
        let subject = std::str::from_utf8(subject).ok()?;
        t.select(subject, draw)
    }
}

/// The cluster name cluster-scoped destinations are compared with: the
/// configured one; with leafnode remotes but no cluster, the server name
/// (as Go names such a server's cluster).
fn cluster_name(o: &Options) -> String {
    if !o.cluster_name.is_empty() {
        o.cluster_name.clone()
    } else if !o.leafnode.remotes.is_empty() && o.cluster_port == 0 {
        o.server_name.clone()
    } else {
        String::new()
    }
}

/// Installs the configured mappings into every account (replacing what a
/// kept account had; none for an account without). With a JetStream
/// domain, every account but the system one also maps the domain's API
/// subjects to the local ones, as Go adds them.
pub fn install(accounts: &[Arc<Account>], o: &Options) {
    let cluster = cluster_name(o);
    let system = super::account::system_account_name(o);
    for acc in accounts {
        let mut configs = if acc.name == GLOBAL_ACCOUNT {
            o.mappings.clone()
        } else {
            o.accounts
                .iter()
                .find(|a| a.name == acc.name)
                .map(|a| a.mappings.clone())
                .unwrap_or_default()
        };
        let domain = &o.jetstream_config.domain;
        if o.jetstream && !domain.is_empty() && acc.name != system {
            for (src, dest) in jetstream_domain_mappings(domain) {
                if !configs.iter().any(|c| c.src == src) {
                    configs.push(MappingConfig {
                        src,
                        dests: vec![MapDest::new(&dest, 100)],
                    });
                }
            }
        }
        let table = match MappingTable::build(&configs, &cluster) {
            Ok(t) => t,
            Err(e) => {
                crate::error!("Error adding mappings for account {:?}: {e}", acc.name);
                MappingTable::default()
            }
        };
        if !table.is_empty() || acc.mappings.is_active() {
            acc.mappings.install(table);
        }
    }
}

/// Go's mapping table of a JetStream domain: `$JS.<domain>.API.<x>` to the
/// local API, key-value and object-store subjects.
fn jetstream_domain_mappings(domain: &str) -> Vec<(String, String)> {
    [
        ("INFO", "$JS.API.INFO"),
        ("STREAM.>", "$JS.API.STREAM.>"),
        ("CONSUMER.>", "$JS.API.CONSUMER.>"),
        ("DIRECT.>", "$JS.API.DIRECT.>"),
        ("META.>", "$JS.API.META.>"),
        ("SERVER.>", "$JS.API.SERVER.>"),
        ("ACCOUNT.>", "$JS.API.ACCOUNT.>"),
        ("$KV.>", "$KV.>"),
        ("$OBJ.>", "$OBJ.>"),
    ]
    .iter()
    .map(|(suffix, to)| (format!("$JS.{domain}.API.{suffix}"), to.to_string()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jetstream_domain_maps_to_the_local_api() {
        let o = Options {
            jetstream: true,
            jetstream_config: crate::options::jetstream::JetStreamConfig {
                domain: "HUB".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let accounts = crate::core::account::Accounts::new(&o, None);
        let global = accounts.global();
        let mapped = global.mappings.select(b"$JS.HUB.API.STREAM.INFO.S", || 0);
        assert_eq!(mapped.as_deref(), Some("$JS.API.STREAM.INFO.S"));
        let kv = global.mappings.select(b"$JS.HUB.API.$KV.B.k", || 0);
        assert_eq!(kv.as_deref(), Some("$KV.B.k"));
        let system = accounts.get("$SYS").unwrap();
        assert!(!system.mappings.is_active());
    }
    use natsd_proto::mapping::{MapDest, MappingConfig};
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn account_mappings_swap() {
        let am = AccountMappings::default();
        assert!(!am.is_active());
        let t = MappingTable::build(
            &[MappingConfig {
                src: "foo".into(),
                dests: vec![MapDest::new("bar", 100)],
            }],
            "",
        )
        .unwrap();
        am.install(t);
        assert!(am.is_active());
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(
            am.select(b"foo", || rng.gen_range(0..100)).as_deref(),
            Some("bar")
        );
        am.install(MappingTable::default());
        assert!(!am.is_active());
    }

    #[test]
    fn installed_per_account_and_replaced_on_rebuild() {
        use crate::core::account::Accounts;
        use crate::options::AccountConfig;
        let cfg = |dest: &str| {
            vec![MappingConfig {
                src: "foo".into(),
                dests: vec![MapDest::new(dest, 100)],
            }]
        };
        let opts = |global: &str, acc: Option<&str>| Options {
            mappings: cfg(global),
            accounts: vec![AccountConfig {
                name: "A".into(),
                mappings: acc.map(cfg).unwrap_or_default(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut rng = SmallRng::seed_from_u64(1);
        let before = Accounts::new(&opts("bar", Some("baz")), None);
        let g = before.global().clone();
        let a = before.get("A").unwrap().clone();
        assert_eq!(
            g.mappings
                .select(b"foo", || rng.gen_range(0..100))
                .as_deref(),
            Some("bar")
        );
        assert_eq!(
            a.mappings
                .select(b"foo", || rng.gen_range(0..100))
                .as_deref(),
            Some("baz")
        );
        let after = Accounts::new(&opts("qux", None), Some(&before));
        assert!(Arc::ptr_eq(after.global(), &g));
        assert_eq!(
            g.mappings
                .select(b"foo", || rng.gen_range(0..100))
                .as_deref(),
            Some("qux")
        );
        assert!(!a.mappings.is_active());
        assert!(!after.get("$SYS").unwrap().mappings.is_active());
    }
}
