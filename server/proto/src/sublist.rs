//! The subscription index: a trie over subject tokens with `*` and `>`
//! wildcards, queue groups, and a cache of match results that is kept
//! consistent on every insert and remove.
//!
//! A generation counter moves on every change so callers may keep their own
//! caches (the client read loop does) and drop them when it moves.

use crate::subject::{self, FWC, PWC, SEP};
use foldhash::HashMap;
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use thiserror::Error;

/// Most results kept in the cache before it is trimmed.
const CACHE_MAX: usize = 1024;
/// What the cache is trimmed down to.
const CACHE_SWEEP: usize = 256;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SublistError {
    #[error("sublist invalid subject")]
    InvalidSubject,
    #[error("sublist no matches found")]
    NotFound,
}

/// Everything that matched one literal subject.
pub struct SublistResult<T> {
    /// Plain subscriptions.
    pub psubs: Vec<Arc<T>>,
    /// One list per queue group; a message goes to one member of each.
    pub qsubs: Vec<QueueGroup<T>>,
}

pub struct QueueGroup<T> {
    pub name: Arc<[u8]>,
    pub members: Vec<Arc<T>>,
}

impl<T> Clone for QueueGroup<T> {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            members: self.members.clone(),
        }
    }
}

impl<T> Clone for SublistResult<T> {
    fn clone(&self) -> Self {
        Self {
            psubs: self.psubs.clone(),
            qsubs: self.qsubs.clone(),
        }
    }
}

impl<T> Default for SublistResult<T> {
    fn default() -> Self {
        Self {
            psubs: Vec::new(),
            qsubs: Vec::new(),
        }
    }
}

impl<T> SublistResult<T> {
    pub fn is_empty(&self) -> bool {
        self.psubs.is_empty() && self.qsubs.is_empty()
    }

    fn add(&mut self, queue: Option<&Arc<[u8]>>, item: &Arc<T>) {
        match queue {
            None => self.psubs.push(item.clone()),
            Some(q) => match self.qsubs.iter_mut().find(|g| g.name == *q) {
                Some(g) => g.members.push(item.clone()),
                None => self.qsubs.push(QueueGroup {
                    name: q.clone(),
                    members: vec![item.clone()],
                }),
            },
        }
    }

    fn without(&self, queue: Option<&Arc<[u8]>>, item: &Arc<T>) -> Self {
        let mut r = self.clone();
        match queue {
            None => r.psubs.retain(|s| !Arc::ptr_eq(s, item)),
            Some(q) => {
                for g in r.qsubs.iter_mut().filter(|g| g.name == *q) {
                    g.members.retain(|s| !Arc::ptr_eq(s, item));
                }
                r.qsubs.retain(|g| !g.members.is_empty());
            }
        }
        r
    }
}

struct Node<T> {
    next: Option<Box<Level<T>>>,
    psubs: Vec<Arc<T>>,
    qsubs: Vec<QueueGroup<T>>,
}

impl<T> Node<T> {
    fn new() -> Self {
        Self {
            next: None,
            psubs: Vec::new(),
            qsubs: Vec::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.psubs.is_empty()
            && self.qsubs.is_empty()
            && self.next.as_ref().is_none_or(|l| l.is_empty())
    }

    fn add_to(&self, r: &mut SublistResult<T>) {
        r.psubs.extend(self.psubs.iter().cloned());
        for g in &self.qsubs {
            match r.qsubs.iter_mut().find(|x| x.name == g.name) {
                Some(x) => x.members.extend(g.members.iter().cloned()),
                None => r.qsubs.push(g.clone()),
            }
        }
    }
}

struct Level<T> {
    nodes: HashMap<Box<[u8]>, Node<T>>,
    pwc: Option<Box<Node<T>>>,
    fwc: Option<Box<Node<T>>>,
}

impl<T> Level<T> {
    fn new() -> Self {
        Self {
            nodes: HashMap::default(),
            pwc: None,
            fwc: None,
        }
    }

    fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.pwc.is_none() && self.fwc.is_none()
    }

    fn node_mut(&mut self, token: &[u8]) -> &mut Node<T> {
        if token.len() == 1 && token[0] == PWC {
            self.pwc.get_or_insert_with(|| Box::new(Node::new()))
        } else if token.len() == 1 && token[0] == FWC {
            self.fwc.get_or_insert_with(|| Box::new(Node::new()))
        } else {
            self.nodes.entry(token.into()).or_insert_with(Node::new)
        }
    }

    fn collect(&self, out: &mut Vec<Arc<T>>) {
        let wild = [self.pwc.as_deref(), self.fwc.as_deref()];
        for n in self.nodes.values().chain(wild.into_iter().flatten()) {
            out.extend(n.psubs.iter().cloned());
            for g in &n.qsubs {
                out.extend(g.members.iter().cloned());
            }
            if let Some(next) = &n.next {
                next.collect(out);
            }
        }
    }

    fn match_tokens(&self, toks: &[&[u8]], r: &mut SublistResult<T>) {
        let mut level = self;
        let mut pwc_node: Option<&Node<T>> = None;
        let mut node: Option<&Node<T>> = None;
        for (i, t) in toks.iter().enumerate() {
            if let Some(f) = &level.fwc {
                f.add_to(r);
            }
            pwc_node = level.pwc.as_deref();
            if let Some(p) = pwc_node {
                if let Some(next) = &p.next {
                    next.match_tokens(&toks[i + 1..], r);
                }
            }
            node = level.nodes.get(*t);
            match node.and_then(|n| n.next.as_deref()) {
                Some(next) => level = next,
                None => {
                    if i + 1 < toks.len() {
                        return;
                    }
                }
            }
        }
        if let Some(n) = node {
            n.add_to(r);
        }
        if let Some(p) = pwc_node {
            p.add_to(r);
        }
    }

    /// Removes `item` under `toks`; returns whether it was found.
    fn remove(&mut self, toks: &[&[u8]], queue: Option<&Arc<[u8]>>, item: &Arc<T>) -> bool {
        let Some((first, rest)) = toks.split_first() else {
            return false;
        };
        let is_pwc = first.len() == 1 && first[0] == PWC;
        let is_fwc = first.len() == 1 && first[0] == FWC;
        let node = if is_pwc {
            self.pwc.as_deref_mut()
        } else if is_fwc {
            self.fwc.as_deref_mut()
        } else {
            self.nodes.get_mut(*first)
        };
        let Some(node) = node else {
            return false;
        };
        let found = if rest.is_empty() {
            remove_from_node(node, queue, item)
        } else {
            match node.next.as_deref_mut() {
                Some(next) => next.remove(rest, queue, item),
                None => false,
            }
        };
        if found && node.is_empty() {
            if is_pwc {
                self.pwc = None;
            } else if is_fwc {
                self.fwc = None;
            } else {
                self.nodes.remove(*first);
            }
        }
        found
    }

    #[cfg(test)]
    fn count_nodes(&self) -> usize {
        self.nodes.len() + usize::from(self.pwc.is_some()) + usize::from(self.fwc.is_some())
    }
}

fn remove_from_node<T>(node: &mut Node<T>, queue: Option<&Arc<[u8]>>, item: &Arc<T>) -> bool {
    match queue {
        None => match node.psubs.iter().position(|s| Arc::ptr_eq(s, item)) {
            Some(i) => {
                node.psubs.swap_remove(i);
                true
            }
            None => false,
        },
        Some(q) => {
            let Some(gi) = node.qsubs.iter().position(|g| g.name == *q) else {
                return false;
            };
            let g = &mut node.qsubs[gi];
            match g.members.iter().position(|s| Arc::ptr_eq(s, item)) {
                Some(i) => {
                    g.members.swap_remove(i);
                    if g.members.is_empty() {
                        node.qsubs.swap_remove(gi);
                    }
                    true
                }
                None => false,
            }
        }
    }
}

fn tokens(subject: &[u8]) -> Vec<&[u8]> {
    subject.split(|&b| b == SEP).collect()
}

type ResultCache<T> = Mutex<HashMap<Box<[u8]>, Arc<SublistResult<T>>>>;

/// The subscription index for one account.
pub struct Sublist<T> {
    root: RwLock<Level<T>>,
    cache: Option<ResultCache<T>>,
    genid: AtomicU64,
    count: AtomicU64,
    inserts: AtomicU64,
    removes: AtomicU64,
    matches: AtomicU64,
    cache_hits: AtomicU64,
}

/// Index statistics as `/subsz` reports them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SublistStats {
    pub num_subs: u64,
    pub num_cache: u64,
    pub num_inserts: u64,
    pub num_removes: u64,
    pub num_matches: u64,
    pub cache_hit_rate: f64,
    pub max_fanout: u64,
    pub avg_fanout: f64,
    /// Inputs of the two ratios, kept so several indexes can be summed.
    pub cache_hits: u64,
    pub total_fanout: u64,
    pub cached_results: u64,
}

impl SublistStats {
    /// Adds another index's numbers; ratios are recomputed from the sums.
    pub fn add(&mut self, o: &SublistStats) {
        self.num_subs += o.num_subs;
        self.num_cache += o.num_cache;
        self.num_inserts += o.num_inserts;
        self.num_removes += o.num_removes;
        self.num_matches += o.num_matches;
        self.cache_hits += o.cache_hits;
        self.max_fanout = self.max_fanout.max(o.max_fanout);
        self.total_fanout += o.total_fanout;
        self.cached_results += o.cached_results;
        if self.total_fanout > 0 {
            self.avg_fanout = self.total_fanout as f64 / self.cached_results as f64;
        }
        if self.num_matches > 0 {
            self.cache_hit_rate = self.cache_hits as f64 / self.num_matches as f64;
        }
    }
}

impl<T> Sublist<T> {
    pub fn new(with_cache: bool) -> Self {
        Self {
            root: RwLock::new(Level::new()),
            cache: with_cache.then(|| Mutex::new(HashMap::default())),
            genid: AtomicU64::new(0),
            count: AtomicU64::new(0),
            inserts: AtomicU64::new(0),
            removes: AtomicU64::new(0),
            matches: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
        }
    }

    /// Moves on every change to the index.
    pub fn genid(&self) -> u64 {
        self.genid.load(Ordering::Acquire)
    }

    /// Number of subscriptions held.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Number of cached match results.
    #[cfg(test)]
    pub fn cache_count(&self) -> usize {
        self.cache.as_ref().map_or(0, |c| c.lock().len())
    }

    pub fn insert(
        &self,
        subject: &[u8],
        queue: Option<&Arc<[u8]>>,
        item: Arc<T>,
    ) -> Result<(), SublistError> {
        let toks = tokens(subject);
        // Validate before touching the trie so a bad subject leaves no nodes.
        let mut seen_fwc = false;
        for t in &toks {
            if t.is_empty() || seen_fwc {
                return Err(SublistError::InvalidSubject);
            }
            if t.len() == 1 && t[0] == FWC {
                seen_fwc = true;
            }
        }
        let mut root = self.root.write();
        let mut level: &mut Level<T> = &mut root;
        let last = toks.len() - 1;
        for (i, t) in toks.iter().enumerate() {
            let node = level.node_mut(t);
            if i == last {
                match queue {
                    None => node.psubs.push(item.clone()),
                    Some(q) => match node.qsubs.iter_mut().find(|g| g.name == *q) {
                        Some(g) => g.members.push(item.clone()),
                        None => node.qsubs.push(QueueGroup {
                            name: q.clone(),
                            members: vec![item.clone()],
                        }),
                    },
                }
                break;
            }
            level = node.next.get_or_insert_with(|| Box::new(Level::new()));
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.inserts.fetch_add(1, Ordering::Relaxed);
        if let Some(cache) = &self.cache {
            let mut cache = cache.lock();
            for (key, r) in cache.iter_mut() {
                if subject::matches(subject, key) {
                    let mut nr = (**r).clone();
                    nr.add(queue, &item);
                    *r = Arc::new(nr);
                }
            }
        }
        self.genid.fetch_add(1, Ordering::AcqRel);
        drop(root);
        Ok(())
    }

    pub fn remove(
        &self,
        subject: &[u8],
        queue: Option<&Arc<[u8]>>,
        item: &Arc<T>,
    ) -> Result<(), SublistError> {
        let toks = tokens(subject);
        let mut root = self.root.write();
        if !root.remove(&toks, queue, item) {
            return Err(SublistError::NotFound);
        }
        self.count.fetch_sub(1, Ordering::Relaxed);
        self.removes.fetch_add(1, Ordering::Relaxed);
        if let Some(cache) = &self.cache {
            let mut cache = cache.lock();
            for (key, r) in cache.iter_mut() {
                if subject::matches(subject, key) {
                    *r = Arc::new(r.without(queue, item));
                }
            }
        }
        self.genid.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Everything that matches literal `subject`.
    pub fn match_subject(&self, subject: &[u8]) -> Arc<SublistResult<T>> {
        self.matches.fetch_add(1, Ordering::Relaxed);
        if let Some(cache) = &self.cache {
            if let Some(r) = cache.lock().get(subject) {
                self.cache_hits.fetch_add(1, Ordering::Relaxed);
                return r.clone();
            }
        }
        let toks = tokens(subject);
        if toks.iter().any(|t| t.is_empty()) {
            return Arc::new(SublistResult::default());
        }
        let root = self.root.read();
        let mut r = SublistResult::default();
        root.match_tokens(&toks, &mut r);
        let r = Arc::new(r);
        if let Some(cache) = &self.cache {
            // Inserted while the trie is still read-locked so a concurrent
            // insert cannot slip between the match and the cache update.
            let mut cache = cache.lock();
            if cache.len() >= CACHE_MAX {
                let drop_keys: Vec<_> = cache
                    .keys()
                    .take(cache.len() - CACHE_SWEEP)
                    .cloned()
                    .collect();
                for k in drop_keys {
                    cache.remove(&k);
                }
            }
            cache.insert(subject.into(), r.clone());
        }
        drop(root);
        r
    }

    /// Current statistics; fanout figures come from the cached results.
    pub fn stats(&self) -> SublistStats {
        let mut st = SublistStats {
            num_subs: self.count.load(Ordering::Relaxed),
            num_inserts: self.inserts.load(Ordering::Relaxed),
            num_removes: self.removes.load(Ordering::Relaxed),
            num_matches: self.matches.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            ..Default::default()
        };
        if st.num_matches > 0 {
            st.cache_hit_rate = st.cache_hits as f64 / st.num_matches as f64;
        }
        if let Some(cache) = &self.cache {
            let cache = cache.lock();
            st.num_cache = cache.len() as u64;
            for r in cache.values() {
                let n = (r.psubs.len() + r.qsubs.len()) as u64;
                st.total_fanout += n;
                st.max_fanout = st.max_fanout.max(n);
            }
            st.cached_results = st.num_cache;
            if st.total_fanout > 0 {
                st.avg_fanout = st.total_fanout as f64 / st.cached_results as f64;
            }
        }
        st
    }

    /// Every subscription held, walking the trie.
    pub fn all(&self) -> Vec<Arc<T>> {
        let mut out = Vec::with_capacity(self.count() as usize);
        self.root.read().collect(&mut out);
        out
    }

    /// Number of nodes directly under the root (for tests of pruning).
    #[cfg(test)]
    pub fn root_nodes(&self) -> usize {
        self.root.read().count_nodes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(r: &SublistResult<&'static str>) -> Vec<&'static str> {
        let mut v: Vec<_> = r.psubs.iter().map(|s| **s).collect();
        v.sort();
        v
    }

    #[test]
    fn literal_and_wildcards() {
        let sl = Sublist::new(true);
        for s in ["foo.bar", "foo.*", "foo.>", "*.bar", ">", "foo.bar.baz"] {
            sl.insert(s.as_bytes(), None, Arc::new(s)).unwrap();
        }
        assert_eq!(
            names(&sl.match_subject(b"foo.bar")),
            vec!["*.bar", ">", "foo.*", "foo.>", "foo.bar"]
        );
        assert_eq!(
            names(&sl.match_subject(b"foo.bar.baz")),
            vec![">", "foo.>", "foo.bar.baz"]
        );
        assert_eq!(names(&sl.match_subject(b"foo")), vec![">"]);
        assert!(sl.match_subject(b"foo..bar").is_empty());
        assert!(sl.match_subject(b"foo.").is_empty());
        assert_eq!(sl.count(), 6);
    }

    #[test]
    fn invalid_subjects_rejected() {
        let sl = Sublist::new(true);
        for s in ["", "foo.", ".foo", "foo..bar", "foo.>.bar", ">.>"] {
            assert_eq!(
                sl.insert(s.as_bytes(), None, Arc::new("x")),
                Err(SublistError::InvalidSubject),
                "{s}"
            );
        }
        assert_eq!(sl.root_nodes(), 0);
    }

    #[test]
    fn queues_grouped() {
        let sl = Sublist::new(true);
        let q1: Arc<[u8]> = Arc::from(&b"q1"[..]);
        let q2: Arc<[u8]> = Arc::from(&b"q2"[..]);
        sl.insert(b"foo", Some(&q1), Arc::new("a")).unwrap();
        sl.insert(b"foo", Some(&q1), Arc::new("b")).unwrap();
        sl.insert(b"*", Some(&q1), Arc::new("c")).unwrap();
        sl.insert(b"foo", Some(&q2), Arc::new("d")).unwrap();
        sl.insert(b"foo", None, Arc::new("e")).unwrap();
        let r = sl.match_subject(b"foo");
        assert_eq!(r.psubs.len(), 1);
        assert_eq!(r.qsubs.len(), 2);
        let g1 = r.qsubs.iter().find(|g| &*g.name == b"q1").unwrap();
        assert_eq!(g1.members.len(), 3);
    }

    #[test]
    fn cache_follows_changes() {
        let sl = Sublist::new(true);
        let a = Arc::new("a");
        sl.insert(b"foo.*", None, a.clone()).unwrap();
        assert_eq!(sl.match_subject(b"foo.bar").psubs.len(), 1);
        assert_eq!(sl.cache_count(), 1);
        let g = sl.genid();
        let b = Arc::new("b");
        sl.insert(b"foo.bar", None, b.clone()).unwrap();
        assert_ne!(sl.genid(), g);
        assert_eq!(sl.match_subject(b"foo.bar").psubs.len(), 2);
        sl.remove(b"foo.*", None, &a).unwrap();
        assert_eq!(names(&sl.match_subject(b"foo.bar")), vec!["b"]);
        sl.remove(b"foo.bar", None, &b).unwrap();
        assert!(sl.match_subject(b"foo.bar").is_empty());
        assert_eq!(sl.remove(b"foo.bar", None, &b), Err(SublistError::NotFound));
        assert_eq!(sl.root_nodes(), 0);
        assert_eq!(sl.count(), 0);
    }

    #[test]
    fn queue_removal_updates_cache() {
        let sl = Sublist::new(true);
        let q: Arc<[u8]> = Arc::from(&b"q"[..]);
        let a = Arc::new("a");
        sl.insert(b"foo", Some(&q), a.clone()).unwrap();
        assert_eq!(sl.match_subject(b"foo").qsubs.len(), 1);
        sl.remove(b"foo", Some(&q), &a).unwrap();
        assert!(sl.match_subject(b"foo").is_empty());
    }

    #[test]
    fn cache_is_bounded() {
        let sl = Sublist::new(true);
        sl.insert(b">", None, Arc::new("all")).unwrap();
        for i in 0..3000 {
            sl.match_subject(format!("s.{i}").as_bytes());
        }
        assert!(sl.cache_count() <= CACHE_MAX);
    }
}
