//! Shadow subscriptions: a subscription in an account with stream imports
//! gets a copy in each exporting account whose import its subject
//! overlaps (Go's addShadowSubscriptions), on the exporter's subject. The
//! copy delivers to the same connection, on the importer's subject.

use super::StreamImport;
use crate::core::account::Account;
use crate::core::connection::{Kind, Subscription};
use bytes::Bytes;
use natsd_proto::subject::is_subset_match;
use std::sync::Arc;

/// Adds the shadows of `sub`, a subscription in `acc`.
pub fn add(acc: &Arc<Account>, sub: &Arc<Subscription>) {
    let imports = acc.links.read().stream_imports.clone();
    if imports.is_empty() {
        return;
    }
    let subject = String::from_utf8_lossy(&sub.subject).into_owned();
    let mut added = Vec::new();
    for im in &imports {
        let Some(shadow_subject) = shadow_subject(&subject, im) else {
            continue;
        };
        let mut copy = Subscription::new(
            sub.client.clone(),
            Bytes::from(shadow_subject.into_bytes()),
            sub.queue.clone(),
            sub.sid.clone(),
        );
        copy.stream_import = Some(im.clone());
        copy.internal = sub.internal.clone();
        let copy = Arc::new(copy);
        crate::debug!(
            "{} - Creating import subscription on {:?} from account {:?}",
            sub.client.label(),
            String::from_utf8_lossy(&copy.subject),
            im.exporter.name
        );
        if im
            .exporter
            .sublist
            .insert(&copy.subject, copy.queue.as_ref(), copy.clone())
            .is_ok()
        {
            added.push((im.exporter.clone(), copy));
        }
    }
    if !added.is_empty() {
        sub.shadows.lock().extend(added);
    }
}

/// Removes the shadows of `sub`.
pub fn remove(sub: &Subscription) {
    let shadows = std::mem::take(&mut *sub.shadows.lock());
    for (acc, copy) in shadows {
        let _ = acc
            .sublist
            .remove(&copy.subject, copy.queue.as_ref(), &copy);
    }
}

/// Gives every client subscription of `acc` its shadows again, after its
/// stream imports changed.
pub fn refresh_account(acc: &Arc<Account>) {
    for sub in acc.sublist.all() {
        // Of the server's own subscriptions, only JetStream's (streams,
        // templates) take imported messages.
        let own = sub.internal.is_some() && sub.client.kind != Kind::JetStream;
        if sub.stream_import.is_some() || sub.service.is_some() || own {
            continue;
        }
        remove(&sub);
        add(acc, &sub);
    }
}

/// The exporter's subject a subscription on `subject` shadows through
/// `im`, if they overlap: the import's own subject when the subscription
/// covers it, the subscription's subject mapped back when the import
/// covers the subscription, or the overlap of the two.
fn shadow_subject(subject: &str, im: &StreamImport) -> Option<String> {
    if subject == im.to {
        return Some(im.from.clone());
    }
    let (dynamic, overlap) = if is_subset_match(subject, &im.to) {
        (true, None)
    } else if natsd_proto::subject::is_literal(subject.as_bytes()) {
        return None;
    } else if is_subset_match(&im.to, subject) {
        (false, None)
    } else {
        (true, Some(overlap(subject, &im.to)?))
    };
    let from_pattern = |s: &str| match &im.reverse {
        Some(r) if !im.use_pub => r.apply_subject(s),
        _ => s.to_string(),
    };
    Some(match (dynamic, overlap) {
        (true, Some(o)) if im.transform.is_some() && !im.use_pub => from_pattern(&o),
        (true, Some(o)) => o,
        (true, None) if im.transform.is_some() && !im.use_pub => from_pattern(subject),
        (true, None) if im.use_pub => subject.to_string(),
        _ => im.from.clone(),
    })
}

/// Go's narrowing of a wildcard subscription to the part an import's
/// subject covers: its `*` tokens take the import's tokens, and a
/// trailing `>` the import's remaining ones. None when they do not
/// overlap.
fn overlap(subject: &str, import_to: &str) -> Option<String> {
    let mut toks: Vec<&str> = subject.split('.').collect();
    let im: Vec<&str> = import_to.split('.').collect();
    let mut modified = false;
    for (i, t) in toks.iter_mut().enumerate() {
        if i >= im.len() {
            break;
        }
        if *t == "*" && im[i] != ">" {
            *t = im[i];
            modified = true;
        }
    }
    let last = toks.len() - 1;
    if toks[last] == ">" && im.len() >= toks.len() {
        toks[last] = im[last];
        modified = true;
        toks.extend_from_slice(&im[toks.len()..]);
    }
    let joined = toks.join(".");
    (modified && is_subset_match(&joined, import_to)).then_some(joined)
}

#[cfg(test)]
mod tests {
    use super::*;
    use natsd_proto::mapping::{tokenize_wildcards, Transform};

    /// A stream import as the options resolve it: `to` from `from`.
    fn import(from: &str, to: &str) -> StreamImport {
        let wild = !natsd_proto::subject::is_literal(from.as_bytes());
        let transform =
            (wild && from != to).then(|| Transform::new(from, &tokenize_wildcards(to)).unwrap());
        StreamImport {
            exporter: Arc::new(Account::new("E", false)),
            from: from.into(),
            to: to.into(),
            reverse: transform.as_ref().and_then(Transform::reverse),
            transform,
            use_pub: wild && from == to,
        }
    }

    #[test]
    fn subscriptions_shadow_the_exporters_subjects() {
        let prefixed = import(">", "myprefix.>");
        let shadow = |s| shadow_subject(s, &prefixed);
        assert_eq!(shadow("myprefix.>").as_deref(), Some(">"));
        assert_eq!(shadow("myprefix.test").as_deref(), Some("test"));
        assert_eq!(shadow("myprefix.*").as_deref(), Some("*"));
        assert_eq!(shadow(">").as_deref(), Some(">"));
        assert_eq!(shadow("other.test"), None);
        let same = import("foo.*", "foo.*");
        assert_eq!(shadow_subject("foo.bar", &same).as_deref(), Some("foo.bar"));
        assert_eq!(shadow_subject("foo.>", &same).as_deref(), Some("foo.*"));
        let literal = import("foo", "imp.foo");
        assert_eq!(shadow_subject("imp.foo", &literal).as_deref(), Some("foo"));
        assert_eq!(shadow_subject("imp.*", &literal).as_deref(), Some("foo"));
        assert_eq!(shadow_subject("imp.bar", &literal), None);
    }

    #[test]
    fn partial_overlaps_narrow_to_the_import() {
        let im = import("a.b.>", "my.a.b.>");
        assert_eq!(shadow_subject("my.*.b.c", &im).as_deref(), Some("a.b.c"));
        assert_eq!(overlap("*.*.c", "a.b.>").as_deref(), Some("a.b.c"));
        assert_eq!(overlap("a.*", "a.b.c").as_deref(), None);
        assert_eq!(overlap("a.>", "a.b.c").as_deref(), Some("a.b.c"));
    }

    #[test]
    fn deliveries_carry_the_importers_subject() {
        let prefixed = import("foo.>", "pre.foo.>");
        assert_eq!(&*prefixed.delivered_subject(b"foo.x"), b"pre.foo.x");
        let literal = import("foo", "bar");
        assert_eq!(&*literal.delivered_subject(b"foo"), b"bar");
        let same = import("foo.*", "foo.*");
        assert_eq!(&*same.delivered_subject(b"foo.x"), b"foo.x");
    }
}
