//! The responses an exporting account expects: each request passed to it
//! through a service import gets a reply subject of the account's own,
//! `_R_.<prefix>.<token>`, and an entry here that sends what is published
//! on it back to the requestor's reply subject. A singleton entry goes
//! with its first response; every entry expires after its export's
//! response threshold without a response.

use super::latency::{Advisory, Failure, Tracking};
use super::ServiceExport;
use crate::core::account::Account;
use crate::options::links::ResponseType;
use foldhash::HashMap;
use parking_lot::Mutex;
use rand::Rng;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Below this many entries, expired ones are not looked for.
const PURGE_FLOOR: usize = 64;

/// One expected response (Go's response service import).
pub struct ResponseImport {
    /// Where responses go: the requestor's account and reply subject.
    pub requestor: Arc<Account>,
    pub to: String,
    pub response: ResponseType,
    pub export: Option<Arc<ServiceExport>>,
    /// The import shares the requestor's details.
    pub share: bool,
    /// Set when the request is measured (singleton responses only).
    pub tracking: Option<Tracking>,
    /// A response went through (the measurement is done).
    pub delivered: std::sync::atomic::AtomicBool,
    pub threshold: Duration,
    /// Created, or last responded to (streams and chunks).
    last: Mutex<Instant>,
}

/// What a new expected response is.
pub struct Expected {
    pub requestor: Arc<Account>,
    pub to: String,
    pub response: ResponseType,
    pub export: Option<Arc<ServiceExport>>,
    pub share: bool,
    /// The measurement and the server hash its reply subject carries.
    pub tracking: Option<(Tracking, String)>,
}

impl ResponseImport {
    /// A measured request that got no response yet.
    pub fn tracked_undelivered(&self) -> Option<&Tracking> {
        self.tracking
            .as_ref()
            .filter(|_| !self.delivered.load(std::sync::atomic::Ordering::Acquire))
    }

    fn expired(&self, now: Instant) -> bool {
        now.saturating_duration_since(*self.last.lock()) > self.threshold
    }

    /// A response went through: a stream or chunked one lives on.
    pub fn touch(&self) {
        *self.last.lock() = Instant::now();
    }
}

/// An account's expected responses.
#[derive(Default)]
pub struct Responses {
    /// `_R_.<6 random characters>.`, made on first use.
    prefix: OnceLock<String>,
    map: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    entries: HashMap<String, Arc<ResponseImport>>,
    purge_at: usize,
}

impl Responses {
    /// The account's reply prefix, and whether this call made it (its
    /// wildcard subscription is then due).
    pub fn prefix(&self) -> (&str, bool) {
        let mut made = false;
        let p = self.prefix.get_or_init(|| {
            made = true;
            let mut p = String::from("_R_.");
            push_base62(&mut p, rand::thread_rng().gen(), 6);
            p.push('.');
            p
        });
        (p, made)
    }

    /// Expects a response; returns the reply subject it is to be
    /// published on.
    pub fn add(&self, e: Expected) -> String {
        let mut reply = self.prefix().0.to_string();
        push_base62(&mut reply, rand::thread_rng().gen(), 6);
        let tracking = e.tracking.map(|(t, hash)| {
            reply.push('.');
            reply.push_str(&hash);
            reply.push_str(".T");
            t
        });
        let threshold = e
            .export
            .as_ref()
            .map_or(crate::options::links::DEFAULT_RESPONSE_THRESHOLD, |x| {
                x.threshold
            });
        let entry = Arc::new(ResponseImport {
            requestor: e.requestor,
            to: e.to,
            tracking: tracking.filter(|_| e.response == ResponseType::Singleton),
            response: e.response,
            export: e.export,
            share: e.share,
            delivered: Default::default(),
            threshold,
            last: Mutex::new(Instant::now()),
        });
        let mut t = self.map.lock();
        if t.entries.len() >= t.purge_at.max(PURGE_FLOOR) {
            let now = Instant::now();
            t.entries
                .retain(|_, e| !e.expired(now) || e.tracking.is_some());
            t.purge_at = t.entries.len() * 2;
        }
        t.entries.insert(reply.clone(), entry);
        reply
    }

    /// The entry `reply` when its threshold has passed: it is removed.
    pub fn take_expired(&self, reply: &str) -> Option<Arc<ResponseImport>> {
        let mut t = self.map.lock();
        let e = t.entries.get(reply)?;
        if !e.expired(Instant::now()) {
            return None;
        }
        t.entries.remove(reply)
    }

    /// The live entry for a response published on `subject`; an expired
    /// one is dropped.
    pub fn get(&self, subject: &[u8]) -> Option<Arc<ResponseImport>> {
        let key = std::str::from_utf8(subject).ok()?;
        let mut t = self.map.lock();
        let e = t.entries.get(key)?.clone();
        if e.expired(Instant::now()) {
            // A measured one waits for its timer, which reports it.
            if e.tracking.is_none() {
                t.entries.remove(key);
            }
            return None;
        }
        Some(e)
    }

    /// The live entries, by reply subject.
    pub fn entries(&self) -> Vec<(String, Arc<ResponseImport>)> {
        let now = Instant::now();
        let t = self.map.lock();
        t.entries
            .iter()
            .filter(|(_, e)| !e.expired(now))
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect()
    }

    pub fn remove(&self, reply: &str) -> Option<Arc<ResponseImport>> {
        self.map.lock().entries.remove(reply)
    }
}

fn push_base62(s: &mut String, mut n: u64, len: usize) {
    for _ in 0..len {
        s.push(DIGITS[(n % 62) as usize] as char);
        n /= 62;
    }
}

/// The responses a requestor account waits for, by its reply subject (Go's
/// reverse response map): when nothing in the account listens on a reply
/// any more, the exporters stop expecting responses to it.
#[derive(Default)]
pub struct Waiting {
    by_reply: Mutex<HashMap<String, Vec<Expecting>>>,
}

/// An exporting account and the reply subject of its own it expects a
/// response on.
type Expecting = (Arc<Account>, String);

impl Waiting {
    /// `exporter` expects responses to `reply` on its subject `key`.
    pub fn add(&self, reply: &[u8], exporter: Arc<Account>, key: String) {
        let reply = String::from_utf8_lossy(reply).into_owned();
        self.by_reply
            .lock()
            .entry(reply)
            .or_default()
            .push((exporter, key));
    }

    /// The exporter's entry `key` for `reply` went.
    pub fn remove(&self, reply: &str, key: &str) {
        let mut map = self.by_reply.lock();
        if let Some(list) = map.get_mut(reply) {
            list.retain(|(_, k)| k != key);
            if list.is_empty() {
                map.remove(reply);
            }
        }
    }

    /// A subscription on `subject` left `acc`: the replies it covered that
    /// nothing else in the account listens on are given up.
    pub fn interest_lost(&self, acc: &Account, subject: &[u8]) {
        let subject = String::from_utf8_lossy(subject);
        let gone: Vec<Vec<Expecting>> = {
            let mut map = self.by_reply.lock();
            if map.is_empty() {
                return;
            }
            let replies: Vec<String> = if natsd_proto::subject::is_literal(subject.as_bytes()) {
                map.contains_key(subject.as_ref())
                    .then(|| subject.to_string())
                    .into_iter()
                    .collect()
            } else {
                map.keys()
                    .filter(|k| natsd_proto::subject::is_subset_match(k, &subject))
                    .cloned()
                    .collect()
            };
            replies
                .into_iter()
                .filter(|r| acc.sublist.match_subject(r.as_bytes()).is_empty())
                .filter_map(|r| map.remove(&r))
                .collect()
        };
        for (exporter, key) in gone.into_iter().flatten() {
            let Some(rsi) = exporter.responses.remove(&key) else {
                continue;
            };
            if let Some(t) = rsi.tracked_undelivered() {
                t.send(&exporter, &Advisory::failure(t, Failure::InterestLost));
            }
        }
    }
}
