//! A client's publish/subscribe permissions, compiled into small indexes,
//! and the reply subjects it may answer when `allow_responses` is set.

use crate::options::{Permissions, ResponsePermission};
use bytes::Bytes;
use foldhash::HashMap;
use natsd_proto::subject::is_subset_match;
use natsd_proto::sublist::Sublist;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Instant;

/// Most cached publish decisions kept per client.
const PUB_CACHE_MAX: usize = 128;

fn index(subjects: &[String], with_queues: bool) -> Sublist<()> {
    let sl = Sublist::new(true);
    for s in subjects {
        let mut parts = s.split_whitespace();
        let (subject, queue) = match (with_queues, parts.next(), parts.next(), parts.next()) {
            (true, Some(subj), Some(q), None) => (subj.to_string(), Some(Arc::from(q.as_bytes()))),
            _ => (s.clone(), None),
        };
        let _ = sl.insert(subject.as_bytes(), queue.as_ref(), Arc::new(()));
    }
    sl
}

/// Subjects a client may not receive even through a wider subscription.
pub struct DenyFilter {
    deny: Sublist<()>,
}

impl DenyFilter {
    pub fn denies(&self, subject: &[u8]) -> bool {
        !self.deny.match_subject(subject).psubs.is_empty()
    }
}

/// Reply subjects a responder has received and may publish to.
struct Reply {
    at: Instant,
    sent: i64,
}

pub struct ClientPermissions {
    pub_allow: Option<Sublist<()>>,
    pub_deny: Option<Sublist<()>>,
    sub_allow: Option<Sublist<()>>,
    sub_deny: Option<Sublist<()>>,
    deny_list: Vec<String>,
    pub response: Option<ResponsePermission>,
    pub_cache: Mutex<HashMap<Bytes, bool>>,
    replies: Mutex<HashMap<Bytes, Reply>>,
}

impl ClientPermissions {
    pub fn new(p: &Permissions) -> Self {
        let (pub_allow, pub_deny) = match &p.publish {
            Some(sp) => (
                sp.allow.as_ref().map(|a| index(a, false)),
                sp.deny
                    .as_ref()
                    .filter(|d| !d.is_empty())
                    .map(|d| index(d, false)),
            ),
            None => (None, None),
        };
        let (sub_allow, sub_deny, deny_list) = match &p.subscribe {
            Some(sp) => (
                sp.allow
                    .as_ref()
                    .filter(|a| !a.is_empty())
                    .map(|a| index(a, true)),
                sp.deny
                    .as_ref()
                    .filter(|d| !d.is_empty())
                    .map(|d| index(d, true)),
                sp.deny.clone().unwrap_or_default(),
            ),
            None => (None, None, Vec::new()),
        };
        Self {
            pub_allow,
            pub_deny,
            sub_allow,
            sub_deny,
            deny_list,
            response: p.response.clone(),
            pub_cache: Mutex::new(HashMap::default()),
            replies: Mutex::new(HashMap::default()),
        }
    }

    pub fn has_pub_rules(&self) -> bool {
        self.pub_allow.is_some() || self.pub_deny.is_some()
    }

    /// Whether the client may publish to `subject`.
    pub fn can_publish(&self, subject: &[u8]) -> bool {
        if let Some(v) = self.pub_cache.lock().get(subject) {
            return *v;
        }
        let mut allowed = true;
        if let Some(a) = &self.pub_allow {
            allowed = !a.match_subject(subject).psubs.is_empty();
        }
        if allowed {
            if let Some(d) = &self.pub_deny {
                allowed = d.match_subject(subject).psubs.is_empty();
            }
        }
        if !allowed {
            if let Some(rp) = &self.response {
                let mut replies = self.replies.lock();
                if let Some(r) = replies.get_mut(subject) {
                    r.sent += 1;
                    let too_many = rp.max_msgs > 0 && r.sent > rp.max_msgs;
                    let expired = !rp.expires.is_zero() && r.at.elapsed() > rp.expires;
                    if too_many || expired {
                        replies.remove(subject);
                    } else {
                        return true;
                    }
                }
                return false;
            }
        }
        let mut cache = self.pub_cache.lock();
        if cache.len() >= PUB_CACHE_MAX {
            cache.clear();
        }
        cache.insert(Bytes::copy_from_slice(subject), allowed);
        allowed
    }

    /// Remembers a reply subject delivered to this client.
    pub fn track_reply(&self, reply: &[u8]) {
        if self.response.is_some() {
            let mut replies = self.replies.lock();
            replies.insert(
                Bytes::copy_from_slice(reply),
                Reply {
                    at: Instant::now(),
                    sent: 0,
                },
            );
        }
    }

    /// Carries the reply subjects `old` was tracking over to these
    /// permissions (a reload replaces a client's permissions, not what it
    /// was asked to answer).
    pub fn inherit_replies(&self, old: &ClientPermissions) {
        if self.response.is_some() {
            let taken = std::mem::take(&mut *old.replies.lock());
            self.replies.lock().extend(taken);
        }
    }

    /// Whether the client may subscribe to `subject` (in `queue`).
    pub fn can_subscribe(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let mut allowed = true;
        if let Some(a) = &self.sub_allow {
            let r = a.match_subject(subject);
            allowed = !r.psubs.is_empty();
            if let Some(q) = queue {
                if !r.qsubs.is_empty() {
                    allowed = queue_matches(q, &r.qsubs);
                }
            }
        }
        if allowed {
            if let Some(d) = &self.sub_deny {
                let r = d.match_subject(subject);
                allowed = r.psubs.is_empty();
                if let Some(q) = queue {
                    if !r.qsubs.is_empty() {
                        allowed = !queue_matches(q, &r.qsubs);
                    }
                }
            }
        }
        allowed
    }

    /// A deny filter for deliveries, needed once a wildcard subscription
    /// covers a denied subject.
    pub fn deny_filter_for(&self, subject: &str) -> Option<DenyFilter> {
        if self.deny_list.is_empty() || natsd_proto::subject::is_literal(subject.as_bytes()) {
            return None;
        }
        if !self.deny_list.iter().any(|d| is_subset_match(d, subject)) {
            return None;
        }
        let deny = Sublist::new(true);
        for d in &self.deny_list {
            let _ = deny.insert(d.as_bytes(), None, Arc::new(()));
        }
        Some(DenyFilter { deny })
    }
}

fn queue_matches(queue: &[u8], groups: &[natsd_proto::sublist::QueueGroup<()>]) -> bool {
    if groups.is_empty() {
        return true;
    }
    let q = String::from_utf8_lossy(queue);
    groups.iter().any(|g| {
        let name = String::from_utf8_lossy(&g.name);
        *queue == *g.name
            || (!natsd_proto::subject::is_literal(&g.name) && is_subset_match(&q, &name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::users::SubjectPermission;

    fn perms(pub_allow: &[&str], sub_deny: &[&str]) -> ClientPermissions {
        let v = |a: &[&str]| (!a.is_empty()).then(|| a.iter().map(|s| s.to_string()).collect());
        ClientPermissions::new(&Permissions {
            publish: Some(SubjectPermission {
                allow: v(pub_allow),
                deny: None,
            }),
            subscribe: Some(SubjectPermission {
                allow: None,
                deny: v(sub_deny),
            }),
            response: None,
        })
    }

    #[test]
    fn publish_allow() {
        let p = perms(&["foo.*"], &[]);
        assert!(p.can_publish(&Bytes::from_static(b"foo.bar")));
        assert!(!p.can_publish(&Bytes::from_static(b"bar")));
        assert!(!p.can_publish(&Bytes::from_static(b"bar")));
    }

    #[test]
    fn subscribe_deny_and_filter() {
        let p = perms(&[], &["foo.secret", "q.* grp"]);
        assert!(!p.can_subscribe(b"foo.secret", None));
        assert!(p.can_subscribe(b"foo.*", None));
        assert!(p.deny_filter_for("foo.*").unwrap().denies(b"foo.secret"));
        assert!(p.deny_filter_for("bar.*").is_none());
        assert!(!p.can_subscribe(b"q.x", Some(b"grp")));
        assert!(p.can_subscribe(b"q.x", Some(b"other")));
    }

    fn responder() -> ClientPermissions {
        ClientPermissions::new(&Permissions {
            publish: Some(SubjectPermission {
                allow: Some(Vec::new()),
                deny: None,
            }),
            subscribe: None,
            response: Some(ResponsePermission::default()),
        })
    }

    #[test]
    fn replies_survive_a_permissions_swap() {
        let old = responder();
        old.track_reply(b"_INBOX.1");
        let new = responder();
        new.inherit_replies(&old);
        assert!(new.can_publish(&Bytes::from_static(b"_INBOX.1")));
        assert!(!old.can_publish(&Bytes::from_static(b"_INBOX.1")));
    }

    #[test]
    fn responses() {
        let p = responder();
        let r = Bytes::from_static(b"_INBOX.1");
        assert!(!p.can_publish(&r));
        p.track_reply(b"_INBOX.1");
        assert!(p.can_publish(&r));
        assert!(!p.can_publish(&r));
    }
}
