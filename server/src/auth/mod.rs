//! Client authentication against the configured user, token, users list
//! or nkey users, as the Go server checks it at CONNECT.

pub mod nkey;

use crate::options::users::STANDARD_CONNECTION;
use crate::options::{NkeyUser, Options, Permissions, User};
use natsd_proto::client::connect::ClientOpts;
use std::sync::Arc;

/// Who a client authenticated as.
#[derive(Debug, Default)]
pub struct Identity {
    pub permissions: Option<Arc<Permissions>>,
    /// The account to bind the client to; empty for the global account.
    pub account: String,
}

impl Identity {
    fn of_user(u: &User) -> Option<Identity> {
        allows_standard(&u.allowed_connection_types).then(|| Identity {
            permissions: u.permissions.clone(),
            account: u.account.clone(),
        })
    }

    fn of_nkey(u: &NkeyUser) -> Option<Identity> {
        allows_standard(&u.allowed_connection_types).then(|| Identity {
            permissions: u.permissions.clone(),
            account: u.account.clone(),
        })
    }
}

/// natsd clients are all plain TCP ones: a user restricted to other
/// connection types (websocket, MQTT, leafnode) is refused.
fn allows_standard(types: &[String]) -> bool {
    types.is_empty() || types.iter().any(|t| t == STANDARD_CONNECTION)
}

/// Whether the options require clients to authenticate.
pub fn auth_required(o: &Options) -> bool {
    !o.nkeys.is_empty()
        || !o.users.is_empty()
        || !o.username.is_empty()
        || !o.authorization.is_empty()
}

/// Checks a CONNECT. `opts` may be updated (no_auth_user fills in the user).
pub fn check(o: &Options, copts: &mut ClientOpts, nonce: &[u8], label: &str) -> Option<Identity> {
    if !auth_required(o) {
        return Some(Identity::default());
    }
    if !o.nkeys.is_empty() && !copts.nkey.is_empty() {
        let user = o.nkeys.iter().find(|n| n.nkey == copts.nkey)?;
        if copts.sig.is_empty() {
            crate::debug!("{label} - Signature missing");
            return None;
        }
        if let Err(e) = nkey::verify(&copts.nkey, nonce, &copts.sig) {
            crate::debug!("{label} - {e}");
            return None;
        }
        return Identity::of_nkey(user);
    }
    if !o.users.is_empty() {
        if !o.no_auth_user.is_empty()
            && copts.user.is_empty()
            && copts.pass.is_empty()
            && copts.auth_token.is_empty()
        {
            if let Some(u) = o.users.iter().find(|u| u.username == o.no_auth_user) {
                copts.user = u.username.clone();
                copts.pass = u.password.clone();
            }
        }
        if !copts.user.is_empty() {
            let user = o.users.iter().find(|u| u.username == copts.user)?;
            if !compare_passwords(&user.password, &copts.pass) {
                return None;
            }
            return Identity::of_user(user);
        }
    }
    if !o.authorization.is_empty() {
        return compare_passwords(&o.authorization, &copts.auth_token).then(Identity::default);
    }
    if !o.username.is_empty() {
        if o.username != copts.user {
            return None;
        }
        return compare_passwords(&o.password, &copts.pass).then(Identity::default);
    }
    None
}

fn is_bcrypt(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() >= 7
        && b[0] == b'$'
        && b[1] == b'2'
        && matches!(b[2], b'a' | b'b' | b'x' | b'y')
        && b[3] == b'$'
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
}

/// Plain equality, or a bcrypt check when the server secret is a hash.
pub fn compare_passwords(server: &str, client: &str) -> bool {
    if is_bcrypt(server) {
        bcrypt::verify(client, server).unwrap_or(false)
    } else {
        server == client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_and_plain() {
        let h = bcrypt::hash("s3cr3t", 4).unwrap();
        assert!(compare_passwords(&h, "s3cr3t"));
        assert!(!compare_passwords(&h, "nope"));
        assert!(compare_passwords("plain", "plain"));
        assert!(!compare_passwords("plain", "Plain"));
    }

    #[test]
    fn users_and_no_auth_user() {
        let o = Options {
            users: vec![User {
                username: "a".into(),
                password: "b".into(),
                account: "A".into(),
                ..Default::default()
            }],
            no_auth_user: "a".into(),
            ..Default::default()
        };
        let mut c = ClientOpts::default();
        assert_eq!(check(&o, &mut c, b"", "x").unwrap().account, "A");
        let mut c = ClientOpts {
            user: "a".into(),
            pass: "x".into(),
            ..Default::default()
        };
        assert!(check(&o, &mut c, b"", "x").is_none());
    }

    #[test]
    fn connection_types() {
        let user = |types: &[&str]| User {
            username: "u".into(),
            password: "p".into(),
            allowed_connection_types: types.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        };
        for (types, ok) in [
            (&[][..], true),
            (&["STANDARD"][..], true),
            (&["WEBSOCKET"][..], false),
        ] {
            let o = Options {
                users: vec![user(types)],
                ..Default::default()
            };
            let mut c = ClientOpts {
                user: "u".into(),
                pass: "p".into(),
                ..Default::default()
            };
            assert_eq!(check(&o, &mut c, b"", "x").is_some(), ok, "{types:?}");
        }
    }

    #[test]
    fn token_and_single_user() {
        let o = Options {
            authorization: "tok".into(),
            ..Default::default()
        };
        let mut c = ClientOpts {
            auth_token: "tok".into(),
            ..Default::default()
        };
        assert!(check(&o, &mut c, b"", "x").is_some());
        c.auth_token = "bad".into();
        assert!(check(&o, &mut c, b"", "x").is_none());
        let o = Options {
            username: "u".into(),
            password: "p".into(),
            ..Default::default()
        };
        let mut c = ClientOpts {
            user: "u".into(),
            pass: "p".into(),
            ..Default::default()
        };
        assert!(check(&o, &mut c, b"", "x").is_some());
    }
}
