//! Client authentication against the configured user, token, users list
//! or nkey users, as the Go server checks it at CONNECT.

pub mod nkey;
pub mod tls_map;

use crate::core::connection::TlsState;
use crate::core::kind::Transport;
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
    fn of_user(u: &User, transport: &Transport) -> Option<Identity> {
        allows(&u.allowed_connection_types, transport).then(|| Identity {
            permissions: u.permissions.clone(),
            account: u.account.clone(),
        })
    }

    fn of_nkey(u: &NkeyUser, transport: &Transport) -> Option<Identity> {
        allows(&u.allowed_connection_types, transport).then(|| Identity {
            permissions: u.permissions.clone(),
            account: u.account.clone(),
        })
    }
}

/// A user restricted to connection types lets in only clients of those.
fn allows(types: &[String], transport: &Transport) -> bool {
    types.is_empty() || types.iter().any(|t| t == transport.connection_type())
}

/// The single user, token and no_auth_user a client is checked against.
/// A websocket block that sets any of them replaces all three for its
/// clients (Go's auth override); users and nkeys are always the top-level
/// ones.
pub struct Simple<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub token: &'a str,
    pub no_auth_user: &'a str,
    /// The websocket block's values are in use.
    pub overridden: bool,
}

impl<'a> Simple<'a> {
    pub fn of(o: &'a Options, transport: &Transport) -> Simple<'a> {
        let w = &o.websocket;
        if transport.is_websocket() && websocket_overrides(o) {
            return Simple {
                username: &w.username,
                password: &w.password,
                token: &w.token,
                no_auth_user: &w.no_auth_user,
                overridden: true,
            };
        }
        Simple {
            username: &o.username,
            password: &o.password,
            token: &o.authorization,
            no_auth_user: &o.no_auth_user,
            overridden: false,
        }
    }
}

/// The websocket block sets its own user, token or no_auth_user.
fn websocket_overrides(o: &Options) -> bool {
    let w = &o.websocket;
    !w.username.is_empty() || !w.token.is_empty() || !w.no_auth_user.is_empty()
}

/// Whether the options require plain TCP clients to authenticate.
pub fn auth_required(o: &Options) -> bool {
    !o.nkeys.is_empty()
        || !o.users.is_empty()
        || !o.username.is_empty()
        || !o.authorization.is_empty()
}

/// Whether clients of `transport` must authenticate: websocket clients also
/// when only the websocket block asks for it.
pub fn auth_required_for(o: &Options, transport: &Transport) -> bool {
    auth_required(o) || (transport.is_websocket() && websocket_overrides(o))
}

/// Whether clients of `transport` are mapped to users by their TLS
/// certificate: the websocket block's `verify_and_map` always decides for
/// its clients.
fn maps_certificates(o: &Options, transport: &Transport) -> bool {
    let tls = if transport.is_websocket() {
        o.websocket.tls.as_ref()
    } else {
        o.tls_config.as_ref()
    };
    tls.is_some_and(|t| t.map)
}

/// Checks a CONNECT. `opts` may be updated (no_auth_user fills in the user,
/// and so does a certificate mapped to one). `tls` is what the client's
/// handshake agreed on, if it made one.
pub fn check(
    o: &Options,
    transport: &Transport,
    tls: Option<&TlsState>,
    copts: &mut ClientOpts,
    nonce: &[u8],
    label: &str,
) -> Option<Identity> {
    if !auth_required_for(o, transport) {
        return Some(Identity::default());
    }
    let simple = Simple::of(o, transport);
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
        return Identity::of_nkey(user, transport);
    }
    if !o.users.is_empty() && maps_certificates(o, transport) {
        let user = tls_map::find_user(&o.users, transport, tls, label)?;
        if !copts.user.is_empty() {
            crate::warn!(
                "User {} found in connect proto, but user required from cert",
                natsd_proto::quote::go_quote(copts.user.as_bytes())
            );
        }
        copts.user = user.username.clone();
        if !compare_passwords(&user.password, &copts.pass) {
            return None;
        }
        return Identity::of_user(user, transport);
    }
    if !o.users.is_empty() {
        if !simple.no_auth_user.is_empty()
            && copts.user.is_empty()
            && copts.pass.is_empty()
            && copts.auth_token.is_empty()
        {
            if let Some(u) = o.users.iter().find(|u| u.username == simple.no_auth_user) {
                copts.user = u.username.clone();
                copts.pass = u.password.clone();
            }
        }
        if !copts.user.is_empty() {
            let user = o.users.iter().find(|u| u.username == copts.user)?;
            if !compare_passwords(&user.password, &copts.pass) {
                return None;
            }
            return Identity::of_user(user, transport);
        }
    }
    if !simple.token.is_empty() {
        return compare_passwords(simple.token, &copts.auth_token).then(Identity::default);
    }
    if !simple.username.is_empty() {
        if simple.username != copts.user {
            return None;
        }
        return compare_passwords(simple.password, &copts.pass).then(Identity::default);
    }
    None
}

/// Whether a password of the config is in clear (Go warns at start-up):
/// the top-level one, or a user's, unless that user has none and
/// certificates map clients to users, or is the hidden no-auth user of a
/// config whose only account is the system account.
pub fn plaintext_passwords(o: &Options) -> bool {
    let mapped = o.tls_config.as_ref().is_some_and(|t| t.map);
    let exempt = |u: &User| {
        (u.password.is_empty() && mapped)
            || (o.no_auth_user_is_hidden && u.username == o.no_auth_user)
    };
    (!o.password.is_empty() && !is_bcrypt(&o.password))
        || o.users
            .iter()
            .any(|u| !exempt(u) && !is_bcrypt(&u.password))
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
    fn plaintext_passwords_are_found_as_go_finds_them() {
        let user = |name: &str, password: &str| User {
            username: name.into(),
            password: password.into(),
            ..Default::default()
        };
        let hash = "$2a$11$PWIFAL8RsWyGI3jVZtO9Nu8.6jOxzxfZo7c/W0eLk017hjgUKWrhy";
        let mut o = Options {
            users: vec![user("a", hash)],
            ..Default::default()
        };
        assert!(!plaintext_passwords(&o));
        o.users.push(user("b", ""));
        assert!(plaintext_passwords(&o), "a user without a password");
        o.tls_config = Some(crate::options::tls::TlsConfig {
            map: true,
            ..Default::default()
        });
        assert!(!plaintext_passwords(&o), "mapped by certificate");
        o.users.push(user("nats-ABCDEFGH", "ABCDEFGH"));
        o.no_auth_user = "nats-ABCDEFGH".into();
        o.no_auth_user_is_hidden = true;
        assert!(!plaintext_passwords(&o), "the hidden no-auth user");
        o.password = "secret".into();
        assert!(plaintext_passwords(&o), "the top-level password");
    }

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
        assert_eq!(
            check(&o, &Transport::Tcp, None, &mut c, b"", "x")
                .unwrap()
                .account,
            "A"
        );
        let mut c = ClientOpts {
            user: "a".into(),
            pass: "x".into(),
            ..Default::default()
        };
        assert!(check(&o, &Transport::Tcp, None, &mut c, b"", "x").is_none());
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
            assert_eq!(
                check(&o, &Transport::Tcp, None, &mut c, b"", "x").is_some(),
                ok,
                "{types:?}"
            );
            let ws = Transport::Websocket {
                forwarded_for: None,
            };
            let ws_ok = types.is_empty() || types.contains(&"WEBSOCKET");
            assert_eq!(
                check(&o, &ws, None, &mut c, b"", "x").is_some(),
                ws_ok,
                "{types:?}"
            );
        }
    }

    #[test]
    fn the_websocket_block_overrides_user_and_token_for_its_clients() {
        let mut o = Options {
            authorization: "top".into(),
            ..Default::default()
        };
        o.websocket.token = "ws".into();
        let ws = Transport::Websocket {
            forwarded_for: None,
        };
        let token = |t: &str| ClientOpts {
            auth_token: t.into(),
            ..Default::default()
        };
        assert!(check(&o, &ws, None, &mut token("ws"), b"", "x").is_some());
        assert!(check(&o, &ws, None, &mut token("top"), b"", "x").is_none());
        assert!(check(&o, &Transport::Tcp, None, &mut token("top"), b"", "x").is_some());
        o.authorization.clear();
        assert!(!auth_required(&o) && auth_required_for(&o, &ws));
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
        assert!(check(&o, &Transport::Tcp, None, &mut c, b"", "x").is_some());
        c.auth_token = "bad".into();
        assert!(check(&o, &Transport::Tcp, None, &mut c, b"", "x").is_none());
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
        assert!(check(&o, &Transport::Tcp, None, &mut c, b"", "x").is_some());
    }
}
