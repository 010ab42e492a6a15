//! Connected clients against a reloaded configuration, as Go's
//! reloadAuthorization does it: a client whose user is gone or now belongs
//! to another account is closed (it reconnects into the right one); a
//! client whose credentials no longer pass is refused; the others get
//! their new permissions and lose the subscriptions those no longer allow.

use crate::auth;
use crate::core::connection::{ClosedState, Connection, Credentials};
use crate::core::permissions::ClientPermissions;
use crate::options::accounts::GLOBAL_ACCOUNT;
use crate::options::Options;
use crate::server::Server;
use natsd_proto::quote::go_quote;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub(super) fn recheck(srv: &Server, o: &Options) {
    for c in srv.clients() {
        if c.is_closed() {
            continue;
        }
        // Not yet authenticated: its CONNECT is checked against `o`.
        let Some(creds) = c.credentials.lock().clone() else {
            continue;
        };
        if moved_account(&c, &creds, o) {
            c.close(ClosedState::ClientClosed);
            continue;
        }
        let mut copts = creds.opts.clone();
        let Some(id) = auth::check(
            o,
            &c.transport,
            c.tls.get(),
            &mut copts,
            &creds.nonce,
            &c.label(),
        ) else {
            crate::conn::client::auth_violation(srv, o, &c, &creds.opts);
            continue;
        };
        let perms = id
            .permissions
            .as_deref()
            .map(|p| Arc::new(ClientPermissions::new(p)));
        if let (Some(new), Some(old)) = (&perms, c.perms.lock().as_ref()) {
            new.inherit_replies(old);
        }
        c.set_permissions(perms.clone());
        remove_forbidden_subs(&c, &creds, perms.as_deref());
    }
}

/// Go's clientHasMovedToDifferentAccount: the client's user (or nkey) no
/// longer exists, or now belongs to another account. Clients that gave no
/// user (token, no auth) never move.
fn moved_account(c: &Connection, creds: &Credentials, o: &Options) -> bool {
    let account = if !creds.opts.nkey.is_empty() {
        o.nkeys
            .iter()
            .find(|n| n.nkey == creds.opts.nkey)
            .map(|n| n.account.as_str())
    } else if !creds.opts.user.is_empty() {
        o.users
            .iter()
            .find(|u| u.username == creds.opts.user)
            .map(|u| u.account.as_str())
    } else {
        return false;
    };
    match account {
        None => true,
        Some(name) => {
            let name = if name.is_empty() {
                GLOBAL_ACCOUNT
            } else {
                name
            };
            c.account.lock().name != name
        }
    }
}

/// Unsubscribes what the new permissions forbid, telling the client, and
/// rebuilds the delivery deny filter from the subscriptions left.
fn remove_forbidden_subs(
    c: &Arc<Connection>,
    creds: &Credentials,
    perms: Option<&ClientPermissions>,
) {
    let subs: Vec<_> = c.subs.lock().values().cloned().collect();
    let mut deny = None;
    for sub in subs {
        let Some(p) = perms else { break };
        if p.can_subscribe(&sub.subject, sub.queue.as_deref()) {
            if deny.is_none() {
                deny = p.deny_filter_for(&String::from_utf8_lossy(&sub.subject));
            }
            continue;
        }
        c.unsubscribe(&sub);
        c.send_err(&format!(
            "Permissions Violation for Subscription to {} (sid {})",
            go_quote(&sub.subject),
            go_quote(&sub.sid)
        ));
        crate::notice!(
            "Removed sub {} (sid {}) for {} - not authorized",
            go_quote(&sub.subject),
            go_quote(&sub.sid),
            creds.auth_user()
        );
    }
    let deny = deny.map(Arc::new);
    c.has_deliver_deny.store(deny.is_some(), Ordering::Release);
    *c.deliver_deny.lock() = deny;
}
