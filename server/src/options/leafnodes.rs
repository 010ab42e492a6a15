//! The `leafnodes` block: the listener that leaf nodes connect to, its
//! users, and the `remotes` this server connects to. natsd has no leaf
//! nodes yet; the block is checked as Go checks it, so that `-t` accepts and
//! refuses the same files, and its values are kept in [`LeafNodeOpts`].

use super::cluster::{parse_url, parse_urls};
use super::tls::{self, TlsConfig};
use super::users::{go_value, parse_perm_subjects, NIL_DEREF};
use super::Recorded;
use super::{each_map, listener_key, ConfigErrors, Field, Options};
use crate::config::{Node, Value};
use std::time::Duration;

/// The TLS handshake timeout of a remote whose `tls` block sets none.
const DEFAULT_REMOTE_TLS_TIMEOUT: f64 = 2.0;

/// What the `leafnodes` block configures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeafNodeOpts {
    pub host: String,
    pub port: i64,
    pub username: String,
    pub password: String,
    pub auth_timeout: f64,
    /// The account a leaf node that logs in with the single user binds to.
    pub account: String,
    pub users: Vec<LeafUser>,
    pub remotes: Vec<RemoteLeafOpts>,
    pub reconnect_interval: Duration,
    pub tls: Option<TlsConfig>,
    pub advertise: String,
    pub no_advertise: bool,
    pub min_version: String,
}

/// A user of the leaf node listener.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeafUser {
    pub username: String,
    pub password: String,
    pub account: String,
}

/// A remote this server connects to as a leaf node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteLeafOpts {
    pub no_randomize: bool,
    pub urls: Vec<String>,
    pub local_account: String,
    /// The credentials file, with `~` and environment variables expanded.
    pub credentials: String,
    pub tls: Option<TlsConfig>,
    pub tls_timeout: f64,
    pub hub: bool,
    pub deny_imports: Vec<String>,
    pub deny_exports: Vec<String>,
    pub ws_compression: bool,
    pub ws_no_masking: bool,
    pub jetstream_cluster_migrate: bool,
}

/// Applies a `leafnodes` block. A value of the wrong type abandons the rest
/// of the block, as Go's recovered panic does.
pub fn parse_leafnodes(
    node: &Node,
    o: &mut Options,
    errs: &mut ConfigErrors,
) -> Result<(), Recorded> {
    let Value::Map(m) = &node.value else {
        return errs.fail(
            node,
            format!(
                "Expected map to define a leafnode, got {}",
                node.value.kind_name()
            ),
        );
    };
    let l = &mut o.leafnode;
    for (k, v) in m.iter() {
        let f = Field(v);
        let key = k.to_lowercase();
        if listener_key(&key, v, &mut l.host, &mut l.port, errs)? {
            continue;
        }
        match key.as_str() {
            "authorization" => {
                let Ok(auth) = parse_leaf_authorization(v, errs) else {
                    return errs.fail(v, NIL_DEREF.into());
                };
                l.username = auth.user;
                l.password = auth.pass;
                l.auth_timeout = auth.timeout;
                l.account = auth.account;
                l.users = auth.users;
                if let Err(e) = check_users(l) {
                    errs.error(v, e);
                }
            }
            "remotes" => match parse_remotes(v, errs) {
                Ok(remotes) => l.remotes = remotes,
                Err(Some(e)) => errs.error(v, e),
                Err(None) => {}
            },
            "reconnect" | "reconnect_delay" | "reconnect_interval" => {
                l.reconnect_interval = Duration::from_secs(f.int(errs)?.max(0) as u64)
            }
            "tls" => {
                if let Ok(tc) = tls::parse_and_load(v, tls::Context::Client, errs) {
                    l.tls = Some(tc);
                }
            }
            "leafnode_advertise" | "advertise" => l.advertise = f.string(errs)?,
            "no_advertise" => l.no_advertise = f.boolean(errs)?,
            "min_version" | "minimum_version" => {
                let version = f.string(errs)?;
                match check_min_version(&version) {
                    Ok(()) => l.min_version = version,
                    Err(e) => errs.error(v, e),
                }
            }
            _ => {
                if !v.used_variable {
                    errs.unknown(v, k);
                }
            }
        }
    }
    Ok(())
}

/// The listener's `authorization` block.
#[derive(Debug, Default)]
struct LeafAuth {
    user: String,
    pass: String,
    timeout: f64,
    account: String,
    users: Vec<LeafUser>,
}

fn parse_leaf_authorization(node: &Node, errs: &mut ConfigErrors) -> Result<LeafAuth, Recorded> {
    let map = Field(node).map(errs)?;
    let mut auth = LeafAuth::default();
    for (k, v) in map {
        let f = Field(v);
        match k.to_lowercase().as_str() {
            "user" | "username" => auth.user = f.string(errs)?,
            "pass" | "password" => auth.pass = f.string(errs)?,
            "timeout" => {
                auth.timeout = match v.value {
                    Value::Int(i) => i as f64,
                    Value::Float(x) => x,
                    _ => 1.0,
                }
            }
            "users" => {
                if let Some(users) = parse_leaf_users(v, errs) {
                    auth.users = users;
                }
            }
            "account" => auth.account = f.string(errs)?,
            _ => {
                if !v.used_variable {
                    errs.unknown(v, k);
                }
            }
        }
    }
    Ok(auth)
}

/// The `users` list; `None` when it is not a list or an entry has a value
/// of the wrong type (recorded).
fn parse_leaf_users(node: &Node, errs: &mut ConfigErrors) -> Option<Vec<LeafUser>> {
    let Value::Array(items) = &node.value else {
        errs.error(
            node,
            format!(
                "Expected users field to be an array, got {}",
                go_value(&node.value)
            ),
        );
        return None;
    };
    let mut users = Vec::new();
    for item in items {
        let Value::Map(m) = &item.value else {
            errs.error(
                item,
                format!(
                    "Expected user entry to be a map/struct, got {}",
                    go_value(&item.value)
                ),
            );
            continue;
        };
        let mut user = LeafUser::default();
        for (k, v) in m {
            let f = Field(v);
            match k.to_lowercase().as_str() {
                "user" | "username" => user.username = f.string(errs).ok()?,
                "pass" | "password" => user.password = f.string(errs).ok()?,
                "account" => user.account = f.string(errs).ok()?,
                _ => {
                    if !v.used_variable {
                        errs.unknown(v, k);
                    }
                }
            }
        }
        users.push(user);
    }
    Some(users)
}

/// One user or a list of distinct users, not both.
fn check_users(l: &LeafNodeOpts) -> Result<(), String> {
    if l.users.is_empty() {
        return Ok(());
    }
    if !l.username.is_empty() {
        return Err("can not have a single user/pass and a users array".into());
    }
    let mut seen: Vec<&str> = Vec::new();
    for u in &l.users {
        if seen.contains(&u.username.as_str()) {
            return Err(format!(
                "duplicate user {:?} detected in leafnode authorization",
                u.username
            ));
        }
        seen.push(&u.username);
    }
    Ok(())
}

/// The `remotes` list. `Err(Some(text))`: not a list; `Err(None)`: a value
/// of the wrong type, already recorded, that abandons the list.
fn parse_remotes(
    node: &Node,
    errs: &mut ConfigErrors,
) -> Result<Vec<RemoteLeafOpts>, Option<String>> {
    let mut remotes = Vec::new();
    each_map(node, "remotes", "remote leafnode", errs, |m, errs| {
        let mut r = RemoteLeafOpts::default();
        for (k, v) in m.iter() {
            let f = Field(v);
            let wrong_type = |_| None;
            match k.to_lowercase().as_str() {
                "no_randomize" | "dont_randomize" => {
                    r.no_randomize = f.boolean(errs).map_err(wrong_type)?
                }
                "url" | "urls" => match &v.value {
                    Value::Array(list) => {
                        if let Ok(urls) = parse_urls(list, "leafnode", errs) {
                            r.urls = urls;
                        }
                    }
                    Value::Str(s) => match parse_url(s, "leafnode") {
                        Ok(u) => r.urls.push(u),
                        Err(e) => errs.error(v, e),
                    },
                    other => errs.error(
                        v,
                        format!(
                            "Expected remote leafnode url to be an array or string, got {}",
                            go_value(other)
                        ),
                    ),
                },
                "account" | "local" => r.local_account = f.string(errs).map_err(wrong_type)?,
                "creds" | "credentials" => {
                    let path = f.string(errs).map_err(wrong_type)?;
                    match expand_path(&path, &|name| std::env::var(name).ok()) {
                        Ok(p) => r.credentials = p,
                        Err(e) => errs.error(v, e.to_string()),
                    }
                }
                "tls" => {
                    if let Ok(tc) = tls::parse_and_load(v, tls::Context::Client, errs) {
                        r.tls_timeout = if tc.timeout > 0.0 {
                            tc.timeout
                        } else {
                            DEFAULT_REMOTE_TLS_TIMEOUT
                        };
                        r.tls = Some(tc);
                    }
                }
                "hub" => r.hub = f.boolean(errs).map_err(wrong_type)?,
                "deny_imports" | "deny_import" => match parse_perm_subjects(v) {
                    Ok(s) => r.deny_imports = s.unwrap_or_default(),
                    Err((at, e)) => errs.error(at, e),
                },
                "deny_exports" | "deny_export" => match parse_perm_subjects(v) {
                    Ok(s) => r.deny_exports = s.unwrap_or_default(),
                    Err((at, e)) => errs.error(at, e),
                },
                "ws_compress"
                | "ws_compression"
                | "websocket_compress"
                | "websocket_compression" => {
                    r.ws_compression = f.boolean(errs).map_err(wrong_type)?
                }
                "ws_no_masking" | "websocket_no_masking" => {
                    r.ws_no_masking = f.boolean(errs).map_err(wrong_type)?
                }
                "jetstream_cluster_migrate" | "js_cluster_migrate" => {
                    r.jetstream_cluster_migrate = true
                }
                _ => {
                    if !v.used_variable {
                        errs.unknown(v, k);
                    }
                }
            }
        }
        remotes.push(r);
        Ok(())
    })?;
    Ok(remotes)
}

/// A path starts with `~` and there is no home directory to expand it to
/// (Go's text). The option holding the path decides: a config error at its
/// position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("failed to get home dir, require $HOME")]
pub struct NoHomeDir;

/// Expands environment variables (`$NAME`, `${NAME}`; unset ones are empty)
/// and then a leading `~` to the home directory, as Go does for a remote's
/// credentials file.
pub fn expand_path(p: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, NoHomeDir> {
    let p = expand_env(p, env);
    let Some(rest) = p.strip_prefix('~') else {
        return Ok(p);
    };
    let home = env("HOME").unwrap_or_default();
    if home.is_empty() {
        return Err(NoHomeDir);
    }
    Ok(clean_path(&format!("{home}/{rest}")))
}

/// Go's `os.ExpandEnv`.
fn expand_env(s: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut start = 0;
    let mut j = 0;
    while j < b.len() {
        if b[j] == b'$' && j + 1 < b.len() {
            out.push_str(&s[start..j]);
            let (name, width) = shell_name(&s[j + 1..]);
            if name.is_empty() && width == 0 {
                out.push('$');
            } else if !name.is_empty() {
                out.push_str(&env(name).unwrap_or_default());
            }
            j += width;
            start = j + 1;
        }
        j += 1;
    }
    out.push_str(&s[start.min(s.len())..]);
    out
}

/// The variable name after a `$` and how many bytes it took.
fn shell_name(s: &str) -> (&str, usize) {
    let b = s.as_bytes();
    let special = |c: u8| b"*#$@!?-".contains(&c) || c.is_ascii_digit();
    if b[0] == b'{' {
        if b.len() > 2 && special(b[1]) && b[2] == b'}' {
            return (&s[1..2], 3);
        }
        return match b.iter().skip(1).position(|&c| c == b'}') {
            Some(0) => ("", 2),
            Some(i) => (&s[1..i + 1], i + 2),
            None => ("", 1),
        };
    }
    if special(b[0]) {
        return (&s[..1], 1);
    }
    let n = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    (&s[..n], n)
}

/// Go's `filepath.Clean` for an absolute or relative slash-separated path.
fn clean_path(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// A leaf node's `min_version`: a semantic version of at least 2.8.0.
fn check_min_version(v: &str) -> Result<(), String> {
    let (major, minor, patch) =
        version_components(v).map_err(|e| format!("invalid leafnode's minimum version: {e}"))?;
    if (major, minor, patch) < (2, 8, 0) {
        return Err("the minimum version should be at least 2.8.0".into());
    }
    Ok(())
}

/// Major, minor and patch of `[v]MAJOR[.][MINOR][.][PATCH]...`, each of
/// which must be there and be a number, with Go's texts.
fn version_components(v: &str) -> Result<(i64, i64, i64), String> {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let s = match v.strip_prefix('v') {
        Some(rest) if digits(rest) > 0 => rest,
        _ => v,
    };
    let n = digits(s);
    if n == 0 {
        return Err("invalid semver".into());
    }
    let (major, rest) = s.split_at(n);
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    let (minor, rest) = rest.split_at(digits(rest));
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    let patch = &rest[..digits(rest)];
    let atoi = |s: &str| -> Result<i64, String> {
        if s.is_empty() {
            return Err(format!("strconv.Atoi: parsing {s:?}: invalid syntax"));
        }
        s.parse()
            .map_err(|_| format!("strconv.Atoi: parsing {s:?}: value out of range"))
    };
    Ok((atoi(major)?, atoi(minor)?, atoi(patch)?))
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;
    use super::*;

    fn error_of(text: &str) -> String {
        load(text).1.unwrap_err().to_string()
    }

    #[test]
    fn fields_kept() {
        let (o, r) = load(
            "leafnodes {\n listen: \"127.0.0.1:7422\"\n authorization { users: [ {user: a, password: b, account: X} ] }\n remotes: [ {url: \"nats://127.0.0.1:7423\", account: X, deny_imports: \"foo\", tls { timeout: 0.5 }}, {urls: [\"nats://h:1\", \"nats://h:2\"]} ]\n min_version: 2.8.1\n reconnect: 3\n}\n",
        );
        r.unwrap();
        let l = &o.leafnode;
        assert_eq!((l.host.as_str(), l.port), ("127.0.0.1", 7422));
        assert_eq!(l.users[0].account, "X");
        assert_eq!(l.remotes.len(), 2);
        assert_eq!(l.remotes[0].urls, ["nats://127.0.0.1:7423"]);
        assert_eq!(l.remotes[0].deny_imports, ["foo"]);
        assert_eq!(l.remotes[0].tls_timeout, 0.5);
        assert_eq!(l.remotes[1].urls.len(), 2);
        assert_eq!(l.min_version, "2.8.1");
        assert_eq!(l.reconnect_interval, Duration::from_secs(3));
    }

    #[test]
    fn refused() {
        assert!(error_of("leafnodes {\n remotes: [ { urls: 1234 } ]\n}\n")
            .contains("Expected remote leafnode url to be an array or string, got 1234"));
        assert!(error_of("leafnodes {\n min_version = 2.7.9\n}\n")
            .contains("the minimum version should be at least 2.8.0"));
        assert!(error_of("leafnodes {\n min_version = bad.version\n}\n")
            .contains("invalid leafnode's minimum version: invalid semver"));
        assert!(error_of(
            "leafnodes {\n authorization {\n  users = [ {user: u, password: p}, {user: u, password: q} ]\n }\n}\n"
        )
        .contains("duplicate user \"u\" detected in leafnode authorization"));
        assert!(error_of("leafnodes {\n remotes: [ { url: \"nats://h:1\", tls { timeout: 1, verify_cert_and_check_known_urls: true } } ]\n}\n")
            .contains("verify_cert_and_check_known_urls not supported in this context"));
    }

    #[test]
    fn versions() {
        assert_eq!(version_components("v2.8.0"), Ok((2, 8, 0)));
        assert_eq!(version_components("2.10.1-beta"), Ok((2, 10, 1)));
        assert_eq!(
            version_components("2.8"),
            Err("strconv.Atoi: parsing \"\": invalid syntax".into())
        );
        assert_eq!(version_components("x"), Err("invalid semver".into()));
    }

    /// Go's TestExpandPath cases on Unix.
    #[test]
    fn expand_paths() {
        let home = |h: &'static str| move |name: &str| (name == "HOME").then(|| h.to_string());
        assert_eq!(
            expand_path("/foo/bar", &home("/fizz/buzz")),
            Ok("/foo/bar".into())
        );
        assert_eq!(
            expand_path("foo/bar", &home("/fizz/buzz")),
            Ok("foo/bar".into())
        );
        assert_eq!(
            expand_path("~/fizz", &home("/foo/bar")),
            Ok("/foo/bar/fizz".into())
        );
        assert_eq!(
            expand_path("$HOME/fizz", &home("/foo/bar")),
            Ok("/foo/bar/fizz".into())
        );
        assert_eq!(
            expand_path("${HOME}/x/../y", &home("/h")),
            Ok("/h/x/../y".into())
        );
        assert_eq!(expand_path("~/fizz", &|_: &str| None), Err(NoHomeDir));
        assert_eq!(expand_env("a$", &|_: &str| None), "a$");
        assert_eq!(expand_env("a${}b", &|_: &str| None), "ab");
    }
}
