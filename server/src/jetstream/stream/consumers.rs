//! A stream's side of its consumers: adding one with Go's checks
//! (addConsumerWithAssignment), removing one, telling them of new and
//! removed messages, and the retention of interest and work-queue streams,
//! which removes a message once no consumer needs it.

use super::Stream;
use crate::jetstream::account::JsAccount;
use crate::jetstream::consumer::persist::{self, Files};
use crate::jetstream::consumer::{config, Consumer};
use crate::jetstream::JetStream;
use natsd_proto::jetstream::consumer::{AckPolicy, ConsumerConfig, DeliverPolicy};
use natsd_proto::jetstream::stream::{Retention, Storage};
use natsd_proto::jetstream::{ApiError, ErrorId};
use std::sync::Arc;

/// The longest consumer name.
const MAX_NAME_LEN: usize = 255;

impl Stream {
    pub fn consumer_list(&self) -> Vec<Arc<Consumer>> {
        self.consumers.read().values().cloned().collect()
    }

    pub fn consumer(&self, name: &str) -> Option<Arc<Consumer>> {
        self.consumers.read().get(name).cloned()
    }

    /// Adds a consumer of `cfg` or updates the one of its name; Go's
    /// checks in Go's order. `recovering` is a consumer read back at
    /// start-up.
    pub fn add_consumer(
        self: &Arc<Self>,
        js: &Arc<JetStream>,
        jsa: &JsAccount,
        mut cfg: ConsumerConfig,
        recovering: bool,
    ) -> Result<Arc<Consumer>, ApiError> {
        let srv_limits = js
            .server()
            .map(|s| s.opts().jetstream_config.limits.clone())
            .unwrap_or_default();
        let acc_limits = jsa.limits();
        config::set_defaults(&mut cfg, &srv_limits, &acc_limits);
        let scfg = self.config();
        // A mirror's or a source's filters are checked against its origins'
        // subjects.
        let mut fcfg = scfg.clone();
        if !recovering && (scfg.mirror.is_some() || !scfg.sources.is_empty()) {
            let (subjects, external) = super::sources::gather_subjects(jsa, &scfg);
            if !external {
                (fcfg.subjects, fcfg.mirror) = (subjects, None);
                fcfg.sources.clear();
            }
        }
        config::check(&cfg, &srv_limits, &fcfg, &acc_limits, recovering)?;
        let mut consumers = self.consumers.write();
        let named = if cfg.is_durable() {
            cfg.durable.clone()
        } else {
            cfg.name.clone()
        };
        if !named.is_empty() {
            if let Some(existing) = consumers.get(&named).cloned() {
                drop(consumers);
                existing.update(cfg)?;
                return Ok(existing);
            }
        }
        let mut maxc = scfg.max_consumers;
        if maxc <= 0 || (acc_limits.max_consumers > 0 && acc_limits.max_consumers < maxc) {
            maxc = acc_limits.max_consumers;
        }
        let public = consumers
            .values()
            .filter(|c| !c.st.lock().cfg.direct)
            .count();
        if maxc > 0 && public as i64 >= maxc {
            return Err(ApiError::new(ErrorId::MaximumConsumersLimit));
        }
        if scfg.retention == Retention::WorkQueue && !cfg.direct {
            if cfg.ack_policy != AckPolicy::Explicit {
                return Err(ApiError::new(ErrorId::ConsumerWQRequiresExplicitAck));
            }
            if !consumers.is_empty() {
                if cfg.filter_subject.is_empty() {
                    return Err(ApiError::new(ErrorId::ConsumerWQMultipleUnfiltered));
                }
                if !partition_unique(&consumers, &cfg.filter_subject) {
                    if recovering {
                        crate::warn!(
                            "Consumer \"{}\" > \"{named}\" has a filter subject that overlaps with other consumers, which is not allowed for a stream with WorkQueue policy, it should be administratively deleted",
                            scfg.name
                        );
                    } else {
                        return Err(ApiError::new(ErrorId::ConsumerWQConsumerNotUnique));
                    }
                }
            }
            if cfg.deliver_policy != DeliverPolicy::All {
                return Err(ApiError::new(ErrorId::ConsumerWQConsumerNotDeliverAll));
            }
        }
        let name = if cfg.is_durable() {
            if cfg.durable.len() > MAX_NAME_LEN {
                return Err(ApiError::with(
                    ErrorId::ConsumerNameTooLong,
                    &[("max", &MAX_NAME_LEN.to_string())],
                ));
            }
            cfg.durable.clone()
        } else if !cfg.name.is_empty() {
            cfg.name.clone()
        } else {
            // Go names it without writing the name into its config.
            loop {
                let n = crate::events::server_hash(&nuid::next().to_string());
                if !consumers.contains_key(&n) {
                    break n;
                }
            }
        };
        if !super::check::is_valid_name(&name) {
            return Err(ApiError::new(ErrorId::ConsumerBadDurableName));
        }
        let dir = self.inner.lock().dir.clone();
        let files = match (&dir, scfg.storage, cfg.memory_storage, cfg.direct) {
            (Some(dir), Storage::File, false, false) => {
                let f = Files::open(dir, &self.name, &name, self.encryption().as_ref())
                    .map_err(|e| ApiError::with(ErrorId::ConsumerStoreFailed, &[("err", &e)]))?;
                if !f.dir.join("meta.inf").exists() {
                    // The stored copy of a config carries the name Go
                    // generated (the live one does not): a recovered
                    // ephemeral shows it.
                    let mut stored = cfg.clone();
                    if stored.name.is_empty() && !stored.is_durable() {
                        stored.name = name.clone();
                    }
                    f.write_config(&name, &stored, super::now_ns())
                        .map_err(|e| {
                            ApiError::with(ErrorId::ConsumerStoreFailed, &[("err", &e)])
                        })?;
                }
                Some(f)
            }
            _ => None,
        };
        let c = Consumer::new(self, js, name.clone(), cfg, files);
        consumers.insert(name, c.clone());
        drop(consumers);
        c.persist();
        c.start();
        let advisory = c.about().action(true);
        c.send_now(advisory.into_iter().collect());
        Ok(c)
    }

    /// Removes a consumer (deleted: its state and, for interest
    /// retention, what only it still needed).
    pub fn remove_consumer(&self, c: &Arc<Consumer>, advisory: bool) {
        let removed = {
            let mut consumers = self.consumers.write();
            match consumers.get(&c.name) {
                Some(x) if Arc::ptr_eq(x, c) => consumers.remove(&c.name),
                _ => None,
            }
        };
        if removed.is_none() {
            return;
        }
        c.stop(true, advisory);
        if self.config().retention != Retention::Interest {
            return;
        }
        let floor = c.st.lock().asflr;
        let (first, last) = {
            let st = self.inner.lock().store.fast_state();
            (st.first_seq, st.last_seq)
        };
        let start = floor.max(first);
        let unneeded: Vec<u64> = (start..=last)
            .filter(|seq| *seq > 0 && !self.still_needed(*seq, None))
            .collect();
        let mut inner = self.inner.lock();
        for seq in unneeded {
            inner.store.remove_msg(seq);
        }
        self.account_usage(&mut inner);
    }

    /// Whether a consumer other than `except` still needs `seq` (Go's
    /// checkInterest).
    fn still_needed(&self, seq: u64, except: Option<&Consumer>) -> bool {
        let subjects = self.config().subjects;
        let potential_filters = subjects.len() > 1
            || subjects
                .first()
                .is_some_and(|s| !natsd_proto::subject::is_literal(s.as_bytes()));
        let subject = if potential_filters {
            match self.inner.lock().store.load_msg(seq) {
                Ok(m) => Some(m.subject),
                Err(_) => return false,
            }
        } else {
            None
        };
        self.consumer_list().iter().any(|o| {
            !except.is_some_and(|e| std::ptr::eq(e, o.as_ref()))
                && o.needs_ack(seq, subject.as_deref(), &subjects)
        })
    }

    /// Messages a consumer acknowledged (Go's ackMsg): an interest stream
    /// removes those no other consumer needs, a work queue all of them.
    pub fn acked(&self, by: Option<&Consumer>, seqs: &[u64]) {
        let retention = self.inner.lock().cfg.retention;
        if retention == Retention::Limits {
            return;
        }
        for &seq in seqs {
            let first = self.inner.lock().store.fast_state().first_seq;
            if seq < first {
                continue;
            }
            let remove = match retention {
                Retention::WorkQueue => true,
                _ => !self.still_needed(seq, by),
            };
            if !remove {
                continue;
            }
            let removed = {
                let mut inner = self.inner.lock();
                let subject = inner.store.load_msg(seq).map(|m| m.subject).ok();
                let removed = inner.store.remove_msg(seq);
                self.account_usage(&mut inner);
                subject.filter(|_| removed)
            };
            if let Some(subject) = removed {
                self.message_removed(seq, &subject);
            }
        }
    }

    /// Tells the consumers a message left the stream.
    pub fn message_removed(&self, seq: u64, subject: &str) {
        for c in self.consumer_list() {
            c.message_removed(seq, subject);
        }
    }

    /// Tells the consumers whose filter takes it of a new message.
    pub fn signal_consumers(&self, subject: &str, seq: u64) {
        for c in self.consumers.read().values() {
            c.signal(subject, seq);
        }
    }

    /// Whether an interest stream keeps a message on `subject`: some
    /// consumer's filter takes it. Streams of other retentions keep
    /// everything and skip the look at their consumers.
    pub fn has_interest_in(&self, subject: &str) -> bool {
        if !self
            .interest_retention
            .load(std::sync::atomic::Ordering::Acquire)
        {
            return true;
        }
        self.consumers
            .read()
            .values()
            .any(|c| c.filter_match(subject))
    }

    /// What the stream's files (its consumers' too) are encrypted with.
    pub(crate) fn encryption(&self) -> Option<natsd_store::file::Encryption> {
        let js = self.js.upgrade()?;
        let e = js.config.encryption.as_ref()?;
        Some(e.for_account(&self.account.name))
    }

    /// After a restart, an interest stream drops what every consumer has
    /// acknowledged (messages a consumer's stored state says are done, left
    /// behind by a crash or an older server), as Go does.
    pub fn purge_orphans(&self) {
        let floor = self
            .consumer_list()
            .iter()
            .map(|c| c.st.lock().asflr)
            .min()
            .unwrap_or(0);
        let first = self.inner.lock().store.fast_state().first_seq;
        if floor > first {
            if let Err(e) = self.purge("", floor + 1, 0) {
                crate::warn!(
                    "stream '{} > {}' could not auto purge orphaned messages: {e}",
                    self.account.name,
                    self.name
                );
            }
        }
    }

    /// Brings back the consumers of a file stream after a restart.
    pub fn restore_consumers(self: &Arc<Self>, js: &Arc<JetStream>, jsa: &JsAccount) {
        let Some(dir) = self.inner.lock().dir.clone() else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(dir.join(persist::CONSUMERS_DIR)) else {
            return;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if names.is_empty() {
            return;
        }
        names.sort();
        crate::notice!(
            "  Recovering {} consumers for stream - '{} > {}'",
            names.len(),
            self.account.name,
            self.name
        );
        let enc = self.encryption();
        for name in names {
            let files = match Files::open(&dir, &self.name, &name, enc.as_ref()) {
                Ok(f) => f,
                Err(e) => {
                    crate::warn!("  Error decrypting our consumer metafile: {e}");
                    continue;
                }
            };
            let info = match files.read_config() {
                Ok(i) => i,
                Err(e) => {
                    crate::warn!("    Error reading consumer metafile: {e}");
                    continue;
                }
            };
            let mut cfg = info.config;
            let ephemeral = !cfg.is_durable();
            if ephemeral {
                cfg.durable = name.clone();
            }
            match self.add_consumer(js, jsa, cfg, true) {
                Ok(c) => {
                    if ephemeral {
                        c.switch_to_ephemeral();
                    }
                    if let Some(ns) = natsd_proto::gojson::parse_rfc3339(&info.created) {
                        c.set_created(ns);
                    }
                }
                Err(e) => crate::warn!(
                    "    Error adding consumer {}: {}",
                    super::check::go_quote(&name),
                    e.description
                ),
            }
        }
    }
}

/// Go's partitionUnique: a work queue's filters may not overlap.
fn partition_unique(
    consumers: &std::collections::BTreeMap<String, Arc<Consumer>>,
    partition: &str,
) -> bool {
    use natsd_proto::subject::is_subset_match;
    consumers.values().all(|c| {
        let f = c.st.lock().cfg.filter_subject.clone();
        !f.is_empty() && !is_subset_match(partition, &f) && !is_subset_match(&f, partition)
    })
}
