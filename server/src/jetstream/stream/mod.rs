//! A stream: its configuration, its store, the subscriptions that feed it
//! and the timer that ages its messages out.

pub mod check;
pub mod consumers;
pub mod dedupe;
pub mod direct;
pub mod inbound;
pub mod restore;
pub mod sources;
pub mod store;

use super::account::JsAccount;
use super::JetStream;
use crate::core::account::Account;
use crate::core::connection::{Connection, InternalHandler, Subscription};
use dedupe::Dedupe;
use natsd_proto::jetstream::api::{StreamInfo, StreamStateJson, Timestamp};
use natsd_proto::jetstream::stream::{DiscardPolicy, Storage, StreamConfig};
use natsd_proto::mapping::Transform;
use natsd_store::{Discard, Limits, StoreError, StreamState, StreamStore};
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::Notify;

impl Inner {
    /// Fills the duplicate window, and the last Msg-Id, from the stored
    /// headers, once: at the first publish that needs them after a start.
    pub fn load_dedupe(&mut self) {
        if self.dedupe.loaded {
            return;
        }
        self.dedupe.loaded = true;
        let window = self.cfg.duplicates;
        if window <= 0 || self.store.fast_state().msgs == 0 {
            return;
        }
        let mut seq = self.store.seq_from_time(now_ns() - window);
        while let Ok(m) = self.store.load_next_msg("", seq) {
            seq = m.seq + 1;
            if let Some(id) = super::headers::value(&m.hdr, super::headers::MSG_ID) {
                let id = id.to_string();
                self.dedupe.insert(&id, m.seq, m.ts, window);
                self.last_msg_id = id;
            }
        }
    }
}

/// What a stream changes under its lock.
pub struct Inner {
    pub cfg: StreamConfig,
    pub store: Box<dyn StreamStore>,
    pub dedupe: Dedupe,
    /// The last Msg-Id stored (for Nats-Expected-Last-Msg-Id).
    pub last_msg_id: String,
    /// The transform of `republish`.
    pub republish: Option<Transform>,
    /// Bytes the store held at the last count (for the account's usage).
    pub bytes: u64,
    /// The PubAck's text up to the sequence.
    pub pub_ack: String,
    /// The file store's directory (None in memory).
    pub dir: Option<std::path::PathBuf>,
    /// Answers waiting for their messages' write (see [`inbound::Held`]).
    pub held: inbound::Held,
}

pub struct Stream {
    pub name: String,
    pub account: Arc<Account>,
    jsa: Weak<JsAccount>,
    js: Weak<JetStream>,
    /// The stream's own connection into its account (PubAcks, direct get
    /// answers, republished messages).
    pub conn: Arc<Connection>,
    /// Nanoseconds since the Unix epoch.
    pub created: i64,
    pub inner: Mutex<Inner>,
    subs: Mutex<Vec<Arc<Subscription>>>,
    /// The stream's consumers by name. Lock order: this map, then a
    /// consumer's state, then `inner`.
    pub consumers: RwLock<BTreeMap<String, Arc<crate::jetstream::consumer::Consumer>>>,
    /// Wakes the expiry task (a new message in an empty stream, a new
    /// config, the stop).
    expiry: Arc<Notify>,
    closed: AtomicBool,
    /// The config's retention is interest (read on the publish path
    /// without the stream's lock, see [`Stream::has_interest_in`]).
    interest_retention: AtomicBool,
    /// The mirror or the sources followed.
    origins: sources::Links,
}

/// Nanoseconds since the Unix epoch, now.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// The store limits of a config.
pub fn limits_of(cfg: &StreamConfig) -> Limits {
    Limits {
        max_msgs: cfg.max_msgs,
        max_bytes: cfg.max_bytes,
        max_age: Duration::from_nanos(cfg.max_age.max(0) as u64),
        max_msgs_per_subject: cfg.max_msgs_per,
        discard: match cfg.discard {
            DiscardPolicy::Old => Discard::Old,
            DiscardPolicy::New => Discard::New,
        },
        discard_new_per_subject: cfg.discard_new_per,
    }
}

fn pub_ack_prefix(name: &str, domain: &str) -> String {
    let q = check::go_quote;
    if domain.is_empty() {
        format!("{{\"stream\":{}, \"seq\":", q(name))
    } else {
        format!(
            "{{\"stream\":{}, \"domain\":{}, \"seq\":",
            q(name),
            q(domain)
        )
    }
}

impl Stream {
    /// A stream of `cfg` (checked) over `store`, subscribed to its
    /// subjects, its timer started.
    pub fn start(
        js: &Arc<JetStream>,
        jsa: &Arc<JsAccount>,
        cfg: StreamConfig,
        opened: store::Opened,
        created: i64,
    ) -> Arc<Stream> {
        let store::Opened { mut store, dir } = opened;
        // What aged out while the server was down goes before anyone can
        // read the stream, as Go expires on recovery.
        if cfg.max_age > 0 {
            store.expire(now_ns());
        }
        let conn = js.internal_connection(&jsa.account);
        let republish = cfg
            .republish
            .as_ref()
            .and_then(|r| Transform::new(&r.source, &r.destination).ok());
        let bytes = store.fast_state().bytes;
        let interest = cfg.retention == natsd_proto::jetstream::stream::Retention::Interest;
        let stream = Arc::new(Stream {
            name: cfg.name.clone(),
            account: jsa.account.clone(),
            jsa: Arc::downgrade(jsa),
            js: Arc::downgrade(js),
            conn,
            created,
            inner: Mutex::new(Inner {
                pub_ack: pub_ack_prefix(&cfg.name, &js.config.domain),
                cfg,
                store,
                dedupe: Dedupe::default(),
                last_msg_id: String::new(),
                republish,
                bytes,
                dir,
                held: inbound::Held::default(),
            }),
            subs: Mutex::default(),
            consumers: RwLock::default(),
            expiry: Arc::new(Notify::new()),
            closed: AtomicBool::new(false),
            interest_retention: AtomicBool::new(interest),
            origins: sources::Links::default(),
        });
        jsa.add_usage(stream.storage(), bytes as i64);
        stream.subscribe_all();
        stream.start_origins();
        tokio::spawn(expiry_task(Arc::downgrade(&stream), stream.expiry.clone()));
        tokio::spawn(checkpoint_task(Arc::downgrade(&stream)));
        stream
    }

    pub fn config(&self) -> StreamConfig {
        self.inner.lock().cfg.clone()
    }

    pub fn storage(&self) -> Storage {
        self.inner.lock().cfg.storage
    }

    pub fn jsa(&self) -> Option<Arc<JsAccount>> {
        self.jsa.upgrade()
    }

    pub fn js(&self) -> Option<Arc<JetStream>> {
        self.js.upgrade()
    }

    /// The consumers clients see (not the direct ones of mirrors and
    /// sources).
    pub fn consumer_count(&self) -> usize {
        self.consumers
            .read()
            .values()
            .filter(|c| !c.st.lock().cfg.direct)
            .count()
    }

    /// Re-counts the store's bytes into the account's usage.
    pub fn account_usage(&self, inner: &mut Inner) {
        let now = inner.store.fast_state().bytes;
        if now != inner.bytes {
            if let Some(jsa) = self.jsa() {
                jsa.add_usage(inner.cfg.storage, now as i64 - inner.bytes as i64);
            }
            inner.bytes = now;
        }
    }

    /// Subscribes the stream's subjects (and direct gets) in its account.
    fn subscribe_all(self: &Arc<Self>) {
        let cfg = self.config();
        let mut subs = Vec::new();
        for s in &cfg.subjects {
            subs.push(self.subscribe(s, None, inbound::handler(self)));
        }
        if cfg.allow_direct {
            subs.extend(direct::subscribe(self));
        }
        *self.subs.lock() = subs;
    }

    /// An internal subscription of the stream's connection; it takes
    /// what stream imports bring too.
    pub fn subscribe(
        &self,
        subject: &str,
        queue: Option<&str>,
        handler: InternalHandler,
    ) -> Arc<Subscription> {
        let sub = self
            .account
            .subscribe_handler(&self.conn, subject, queue, handler);
        crate::core::imports::shadow::add(&self.account, &sub);
        sub
    }

    /// A subscription of another internal connection of the stream's
    /// account (a consumer's), which also takes what imports bring.
    pub fn subscribe_as(
        &self,
        conn: &Arc<Connection>,
        subject: &str,
        handler: InternalHandler,
    ) -> Arc<Subscription> {
        let sub = self.account.subscribe_handler(conn, subject, None, handler);
        crate::core::imports::shadow::add(&self.account, &sub);
        sub
    }

    fn unsubscribe_all(&self) {
        for sub in std::mem::take(&mut *self.subs.lock()) {
            sub.closed.store(true, Ordering::Release);
            sub.client.unsubscribe(&sub);
        }
    }

    /// Applies a checked config: new subjects, limits, republish.
    pub fn update(self: &Arc<Self>, cfg: StreamConfig) {
        let origins_changed;
        {
            let mut inner = self.inner.lock();
            origins_changed = inner.cfg.mirror != cfg.mirror || inner.cfg.sources != cfg.sources;
            inner.store.update_limits(limits_of(&cfg), now_ns());
            inner.republish = cfg
                .republish
                .as_ref()
                .and_then(|r| Transform::new(&r.source, &r.destination).ok());
            if let Some(dir) = &inner.dir {
                if let Err(e) =
                    store::rewrite_meta(dir, &cfg, self.created, self.encryption().as_ref())
                {
                    crate::warn!(
                        "JetStream stream '{} > {}': {e}",
                        self.account.name,
                        self.name
                    );
                }
            }
            self.interest_retention.store(
                cfg.retention == natsd_proto::jetstream::stream::Retention::Interest,
                Ordering::Release,
            );
            inner.cfg = cfg;
            self.account_usage(&mut inner);
        }
        self.unsubscribe_all();
        self.subscribe_all();
        if origins_changed {
            self.stop_origins();
            self.start_origins();
        }
        self.expiry.notify_one();
    }

    /// The stream's state as stream info reports it.
    pub fn state(&self) -> StreamStateJson {
        let consumers = self.consumer_count();
        let inner = self.inner.lock();
        let mut state = state_json(&inner.store.fast_state(), false, consumers);
        state.lost = lost_of(inner.store.as_ref());
        state
    }

    pub fn info(&self, domain: &str) -> StreamInfo {
        let (mirror, sources) = self.origins_info();
        StreamInfo {
            config: self.config(),
            created: Timestamp(self.created),
            state: self.state(),
            domain: domain.to_string(),
            mirror,
            sources,
        }
    }

    /// Removes the messages `filter`/`seq`/`keep` select; how many. The
    /// consumers the filter concerns move past what went.
    pub fn purge(&self, filter: &str, seq: u64, keep: u64) -> Result<u64, StoreError> {
        let (n, first, last) = {
            let mut inner = self.inner.lock();
            let n = if filter.is_empty() && seq == 0 && keep == 0 {
                Ok(inner.store.purge())
            } else {
                inner.store.purge_ex(filter, seq, keep)
            };
            self.account_usage(&mut inner);
            // An answered purge survives a kill -9 (Go's may come back).
            let _ = inner.store.checkpoint();
            let st = inner.store.fast_state();
            let first = if filter.is_empty() {
                st.first_seq
            } else {
                inner.store.filtered_state(st.first_seq, filter).first
            };
            (n?, first, st.last_seq)
        };
        for c in self.consumer_list() {
            if filter.is_empty() || c.filter_match(filter) {
                c.purged(first, last);
            }
        }
        Ok(n)
    }

    /// Removes one message (erasing it unless `no_erase`).
    pub fn remove_msg(&self, seq: u64, no_erase: bool) -> bool {
        let (removed, subject) = {
            let mut inner = self.inner.lock();
            let subject = inner
                .store
                .load_msg(seq)
                .map(|m| m.subject)
                .unwrap_or_default();
            let removed = if no_erase {
                inner.store.remove_msg(seq)
            } else {
                inner.store.erase_msg(seq)
            };
            self.account_usage(&mut inner);
            // An answered delete survives a kill -9 (Go's may come back).
            let _ = inner.store.checkpoint();
            (removed, subject)
        };
        if removed {
            self.message_removed(seq, &subject);
        }
        removed
    }

    /// Stops the stream; `delete` removes what it stored too.
    pub fn stop(&self, delete: bool) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.unsubscribe_all();
        self.stop_origins();
        self.expiry.notify_one();
        let consumers: Vec<_> = std::mem::take(&mut *self.consumers.write())
            .into_values()
            .collect();
        for c in consumers {
            c.stop(delete, false);
        }
        let mut inner = self.inner.lock();
        if let Some(jsa) = self.jsa() {
            jsa.add_usage(inner.cfg.storage, -(inner.bytes as i64));
        }
        inner.bytes = 0;
        let result = if delete {
            inner.store.delete()
        } else {
            inner.store.stop()
        };
        if let Err(e) = result {
            crate::warn!(
                "JetStream stream '{} > {}' did not stop cleanly: {e}",
                self.account.name,
                self.name
            );
        }
        if delete {
            if let Some(dir) = &inner.dir {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Ages messages out; when to look again.
    fn expire(&self) -> Option<Duration> {
        let mut inner = self.inner.lock();
        if inner.cfg.max_age <= 0 {
            return None;
        }
        let next = inner.store.expire(now_ns());
        self.account_usage(&mut inner);
        Some(next.unwrap_or(Duration::from_nanos(inner.cfg.max_age as u64)))
    }

    /// Writes out the store's changed bookkeeping; a failure is logged and
    /// retried at the next checkpoint.
    fn checkpoint(&self) {
        if let Err(e) = self.inner.lock().store.checkpoint() {
            crate::warn!(
                "JetStream stream '{}' could not write its state: {e}",
                self.name
            );
        }
    }

    /// Wakes the expiry timer (a message arrived in an empty stream).
    pub fn wake_expiry(&self) {
        self.expiry.notify_one();
    }
}

/// Ages the stream's messages out when they pass max_age.
async fn expiry_task(stream: Weak<Stream>, wake: Arc<Notify>) {
    loop {
        let next = match stream.upgrade() {
            Some(s) if !s.is_closed() => s.expire(),
            _ => return,
        };
        match next {
            Some(d) => {
                tokio::select! {
                    _ = tokio::time::sleep(d) => {}
                    _ = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

/// How often a stream's store writes out its changed bookkeeping (and
/// syncs, when its sync interval has passed): what a kill -9 can make a
/// restart rebuild from the message records is at most this old.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

async fn checkpoint_task(stream: Weak<Stream>) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match stream.upgrade() {
            Some(s) if !s.is_closed() => s.checkpoint(),
            _ => return,
        }
    }
}

/// What the store lost at recovery, as stream info reports it.
pub fn lost_of(store: &dyn StreamStore) -> Option<natsd_proto::jetstream::api::LostData> {
    store
        .lost_data()
        .map(|l| natsd_proto::jetstream::api::LostData {
            msgs: l.msgs,
            bytes: l.bytes,
        })
}

/// A store's state in Go's JSON; the deleted list only when asked for.
pub fn state_json(st: &StreamState, deleted_details: bool, consumers: usize) -> StreamStateJson {
    StreamStateJson {
        messages: st.msgs,
        bytes: st.bytes,
        first_seq: st.first_seq,
        first_ts: Timestamp(st.first_ts),
        last_seq: st.last_seq,
        last_ts: Timestamp(st.last_ts),
        num_subjects: st.num_subjects,
        subjects: None::<BTreeMap<String, u64>>,
        num_deleted: st.num_deleted,
        deleted: if deleted_details {
            st.deleted.clone()
        } else {
            Vec::new()
        },
        lost: None,
        consumer_count: consumers,
    }
}
