//! Accounts: isolated subject spaces. Every client belongs to one; without
//! configured accounts that is the global account `$G`. A client is bound
//! to its account once, at CONNECT, so publishing never looks one up.

use crate::core::connection::{Connection, Subscription};
use crate::core::imports::responses::{Responses, Waiting};
use crate::core::imports::{service_subscription, Links, ServiceImport, ServiceRole};
use crate::options::accounts::{AccountLimits, DEFAULT_SYSTEM_ACCOUNT, GLOBAL_ACCOUNT};
use crate::options::Options;
use foldhash::HashMap;
use natsd_proto::sublist::Sublist;
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

pub struct Account {
    pub name: String,
    pub sublist: Sublist<Subscription>,
    /// Messages its clients published (received) and were sent (sent).
    pub traffic: Traffic,
    /// Subject mappings applied to what its clients publish.
    pub mappings: crate::core::mappings::AccountMappings,
    /// Its imports and exports.
    pub links: RwLock<Arc<Links>>,
    /// Responses it expects to requests it got through service imports.
    pub responses: Responses,
    /// Responses it waits for from other accounts, by reply subject.
    pub waiting: Waiting,
    /// Its internal connection (Go's account client), which holds the
    /// subscriptions of its service imports and of its responses.
    internal: Mutex<Option<Arc<Connection>>>,
    /// The last sid given to a subscription of the internal connection.
    internal_sid: AtomicU64,
    /// The subscriptions of its service imports.
    import_subs: Mutex<Vec<Arc<Subscription>>>,
    /// Client connections bound to it now.
    clients: AtomicUsize,
    /// It is the system account.
    system: std::sync::atomic::AtomicBool,
    /// Its `limits` (replaced by a reload).
    limits: Mutex<AccountLimits>,
    /// Who waits for a subscription on a subject (push consumers waiting
    /// for their deliver subject, as Go's interest notifications).
    pub interest_watch: InterestWatch,
}

/// Wakers of those waiting for interest in a subject; a new client
/// subscription that could match wakes them.
#[derive(Default)]
pub struct InterestWatch {
    any: std::sync::atomic::AtomicBool,
    watchers: Mutex<Vec<(String, std::sync::Weak<tokio::sync::Notify>)>>,
}

impl InterestWatch {
    pub fn watch(&self, subject: &str, wake: &Arc<tokio::sync::Notify>) {
        let mut w = self.watchers.lock();
        w.retain(|(_, n)| n.strong_count() > 0);
        w.push((subject.to_string(), Arc::downgrade(wake)));
        self.any.store(true, Ordering::Release);
    }

    /// A subscription on `subject` came or went: wakes whoever watches a
    /// subject it may match.
    pub fn changed(&self, subject: &[u8]) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        let subject = String::from_utf8_lossy(subject);
        let mut w = self.watchers.lock();
        w.retain(|(watched, n)| match n.upgrade() {
            Some(n) => {
                if natsd_proto::subject::is_subset_match(watched, &subject) {
                    n.notify_one();
                }
                true
            }
            None => false,
        });
        if w.is_empty() {
            self.any.store(false, Ordering::Release);
        }
    }
}

impl Account {
    pub fn new(name: &str, sublist_cache: bool) -> Self {
        Self {
            name: name.to_string(),
            sublist: Sublist::new(sublist_cache),
            traffic: Traffic::default(),
            mappings: Default::default(),
            links: Default::default(),
            responses: Default::default(),
            waiting: Default::default(),
            internal: Mutex::new(None),
            internal_sid: AtomicU64::new(0),
            import_subs: Mutex::new(Vec::new()),
            interest_watch: InterestWatch::default(),
            clients: AtomicUsize::new(0),
            system: Default::default(),
            limits: Mutex::new(AccountLimits::default()),
        }
    }

    /// Client connections bound to this account.
    pub fn num_clients(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }

    pub fn limits(&self) -> AccountLimits {
        *self.limits.lock()
    }

    /// Whether one more client would pass its connection limit.
    pub fn connections_exceeded(&self) -> bool {
        let max = self.limits().max_connections;
        max >= 0 && self.num_clients() as i64 > max
    }

    /// Whether it is the system account.
    pub fn is_system(&self) -> bool {
        self.system.load(Ordering::Relaxed)
    }

    /// The account's internal connection, made by `make` on first use.
    pub fn internal_connection(&self, make: impl FnOnce() -> Arc<Connection>) -> Arc<Connection> {
        self.internal.lock().get_or_insert_with(make).clone()
    }

    /// The internal connection, if it was made.
    pub fn internal_connection_if_any(&self) -> Option<Arc<Connection>> {
        self.internal.lock().clone()
    }

    /// The sid for a new subscription of the internal connection.
    pub fn next_internal_sid(&self) -> u64 {
        self.internal_sid.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Subscribes `subject` (in `queue`) for the server's own `handler`,
    /// the subscription held by the internal connection `conn`.
    pub fn subscribe_handler(
        &self,
        conn: &Arc<Connection>,
        subject: &str,
        queue: Option<&str>,
        handler: crate::core::connection::InternalHandler,
    ) -> Arc<Subscription> {
        let mut sub = Subscription::new(
            conn.clone(),
            bytes::Bytes::copy_from_slice(subject.as_bytes()),
            queue.map(|q| Arc::from(q.as_bytes())),
            bytes::Bytes::from(self.next_internal_sid().to_string()),
        );
        sub.internal = Some(handler);
        let sub = Arc::new(sub);
        conn.subs.lock().insert(sub.sid.clone(), sub.clone());
        if self
            .sublist
            .insert(&sub.subject, sub.queue.as_ref(), sub.clone())
            .is_err()
        {
            conn.subs.lock().remove(&sub.sid);
        }
        sub
    }

    /// Subscribes `subject` through the internal connection `ic`.
    pub fn subscribe_internal(
        &self,
        ic: &Arc<Connection>,
        subject: &str,
        role: ServiceRole,
    ) -> Arc<Subscription> {
        let sub = service_subscription(ic, subject, self.next_internal_sid(), role);
        ic.subs.lock().insert(sub.sid.clone(), sub.clone());
        if self
            .sublist
            .insert(&sub.subject, None, sub.clone())
            .is_err()
        {
            ic.subs.lock().remove(&sub.sid);
        }
        sub
    }

    /// Whether service imports subscribe in this account now.
    pub fn has_import_subs(&self) -> bool {
        !self.import_subs.lock().is_empty()
    }

    /// Replaces the subscriptions of its service imports by those of
    /// `imports`, held by `ic`.
    pub fn replace_import_subs(&self, ic: &Arc<Connection>, imports: &[Arc<ServiceImport>]) {
        let old = std::mem::take(&mut *self.import_subs.lock());
        for sub in old {
            sub.client.unsubscribe(&sub);
        }
        let subs = imports
            .iter()
            .map(|si| self.subscribe_internal(ic, &si.from, ServiceRole::Import(si.clone())))
            .collect();
        *self.import_subs.lock() = subs;
    }

    pub fn client_joined(&self) {
        self.clients.fetch_add(1, Ordering::Relaxed);
    }

    pub fn client_left(&self) {
        let _ = self
            .clients
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

/// Messages and bytes in and out: kept per connection, per account and
/// server-wide.
#[derive(Default)]
pub struct Traffic {
    pub in_msgs: AtomicI64,
    pub in_bytes: AtomicI64,
    pub out_msgs: AtomicI64,
    pub out_bytes: AtomicI64,
}

impl Traffic {
    pub fn add(&self, in_msgs: i64, in_bytes: i64, out_msgs: i64, out_bytes: i64) {
        if in_msgs > 0 {
            self.in_msgs.fetch_add(in_msgs, Ordering::Relaxed);
            self.in_bytes.fetch_add(in_bytes, Ordering::Relaxed);
        }
        if out_msgs > 0 {
            self.out_msgs.fetch_add(out_msgs, Ordering::Relaxed);
            self.out_bytes.fetch_add(out_bytes, Ordering::Relaxed);
        }
    }
}

/// Every account the server has: the global account, the configured ones
/// and the system account. Rebuilt whole by a config reload.
pub struct Accounts {
    /// In the order Go lists them: `$G`, the configured accounts, then the
    /// system account when it is not one of them.
    list: Vec<Arc<Account>>,
    by_name: HashMap<String, Arc<Account>>,
    /// The system account's name; empty without one.
    system: String,
}

impl Accounts {
    /// The accounts `o` configures. An account of `previous` whose name is
    /// still configured is kept as it is (with its subscriptions and
    /// counters), as Go carries an account over a reload.
    pub fn new(o: &Options, previous: Option<&Accounts>) -> Self {
        let cache = !o.no_sublist_cache;
        let mut names = vec![GLOBAL_ACCOUNT.to_string()];
        names.extend(o.accounts.iter().map(|a| a.name.clone()));
        let system = system_account_name(o);
        if !system.is_empty() && !names.contains(&system) {
            names.push(system.clone());
        }
        let list: Vec<Arc<Account>> = names
            .iter()
            .map(|n| match previous.and_then(|p| p.get(n)) {
                Some(kept) => kept.clone(),
                None => Arc::new(Account::new(n, cache)),
            })
            .collect();
        crate::core::mappings::install(&list, o);
        for a in &list {
            a.system.store(a.name == system, Ordering::Relaxed);
            let configured = o.accounts.iter().find(|c| c.name == a.name);
            *a.limits.lock() = configured.map(|c| c.limits).unwrap_or_default();
        }
        let by_name = list.iter().map(|a| (a.name.clone(), a.clone())).collect();
        Self {
            list,
            by_name,
            system,
        }
    }

    pub fn global(&self) -> &Arc<Account> {
        &self.list[0]
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Account>> {
        self.by_name.get(name)
    }

    pub fn all(&self) -> &[Arc<Account>] {
        &self.list
    }

    /// The system account's name; empty when there is none.
    pub fn system_name(&self) -> &str {
        &self.system
    }
}

/// `system_account` if set, else `$SYS` unless the system account is off
/// (JetStream needs one: Go then makes `$SYS` anyway).
pub(crate) fn system_account_name(o: &Options) -> String {
    if !o.system_account.is_empty() {
        o.system_account.clone()
    } else if o.no_system_account && !o.jetstream {
        String::new()
    } else {
        DEFAULT_SYSTEM_ACCOUNT.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::AccountConfig;

    #[test]
    fn global_configured_then_system() {
        let o = Options {
            accounts: vec![AccountConfig {
                name: "A".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let a = Accounts::new(&o, None);
        let names: Vec<_> = a.all().iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["$G", "A", "$SYS"]);
        assert_eq!(a.system_name(), "$SYS");
        assert!(a.get("A").is_some());
        assert!(a.get("B").is_none());
    }

    #[test]
    fn rebuilt_accounts_keep_those_still_configured() {
        let account = |n: &str| AccountConfig {
            name: n.into(),
            ..Default::default()
        };
        let before = Accounts::new(
            &Options {
                accounts: vec![account("A"), account("B")],
                ..Default::default()
            },
            None,
        );
        let after = Accounts::new(
            &Options {
                accounts: vec![account("B"), account("C")],
                ..Default::default()
            },
            Some(&before),
        );
        let names: Vec<_> = after.all().iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["$G", "B", "C", "$SYS"]);
        assert!(Arc::ptr_eq(after.global(), before.global()));
        assert!(Arc::ptr_eq(
            after.get("B").unwrap(),
            before.get("B").unwrap()
        ));
        assert!(after.get("A").is_none());
    }

    #[test]
    fn configured_system_account_and_none() {
        let o = Options {
            accounts: vec![AccountConfig {
                name: "S".into(),
                ..Default::default()
            }],
            system_account: "S".into(),
            ..Default::default()
        };
        let names: Vec<_> = Accounts::new(&o, None)
            .all()
            .iter()
            .map(|a| a.name.clone())
            .collect();
        assert_eq!(names, ["$G", "S"]);
        let o = Options {
            no_system_account: true,
            ..Default::default()
        };
        let a = Accounts::new(&o, None);
        assert_eq!(a.all().len(), 1);
        assert_eq!(a.system_name(), "");
    }
}
