//! Users, nkey users and their permissions, as configured in an
//! `authorization` block.

use super::Recorded;
use super::{ConfigErrors, Field};
use crate::config::{Map, Node, Value};
use crate::options::duration::parse_go_duration;
use natsd_proto::quote::go_quote;
use natsd_proto::subject::is_valid_subject;
use std::sync::Arc;
use std::time::Duration;

/// Allow and deny lists for one direction (publish or subscribe).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubjectPermission {
    pub allow: Option<Vec<String>>,
    pub deny: Option<Vec<String>>,
}

/// Lets a client publish to reply subjects of requests it received.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponsePermission {
    pub max_msgs: i64,
    pub expires: Duration,
}

impl Default for ResponsePermission {
    fn default() -> Self {
        Self {
            max_msgs: 1,
            expires: Duration::from_secs(120),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Permissions {
    pub publish: Option<SubjectPermission>,
    pub subscribe: Option<SubjectPermission>,
    pub response: Option<ResponsePermission>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct User {
    pub username: String,
    pub password: String,
    pub permissions: Option<Arc<Permissions>>,
    /// The account the user belongs to; empty for the global account.
    pub account: String,
    /// Upper-cased connection types the user may connect with; empty allows all.
    pub allowed_connection_types: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NkeyUser {
    pub nkey: String,
    pub permissions: Option<Arc<Permissions>>,
    /// The account the user belongs to; empty for the global account.
    pub account: String,
    /// Upper-cased connection types the user may connect with; empty allows all.
    pub allowed_connection_types: Vec<String>,
}

/// The connection types Go knows (its jwt package names).
const CONNECTION_TYPES: [&str; 6] = [
    "STANDARD",
    "WEBSOCKET",
    "LEAFNODE",
    "LEAFNODE_WS",
    "MQTT",
    "MQTT_WS",
];

/// What Go reports when a block's authorization failed on a wrong type and
/// it went on with nothing in its hands.
pub const NIL_DEREF: &str = "runtime error: invalid memory address or nil pointer dereference";

/// What an `authorization` block holds.
#[derive(Debug, Default)]
pub struct Authorization {
    pub user: String,
    pub pass: String,
    pub token: String,
    pub timeout: f64,
    /// `Some` as soon as a `users` array is present, even empty.
    pub users: Option<Vec<User>>,
    pub nkeys: Vec<NkeyUser>,
    pub default_permissions: Option<Arc<Permissions>>,
}

pub fn parse_authorization(
    node: &Node,
    errs: &mut ConfigErrors,
) -> Result<Authorization, Recorded> {
    let map = Field(node).map(errs)?;
    let mut auth = Authorization::default();
    for (k, v) in map {
        let f = Field(v);
        let r: Result<(), Recorded> = (|| {
            match k.to_lowercase().as_str() {
                "user" | "username" => auth.user = f.string(errs)?,
                "pass" | "password" => auth.pass = f.string(errs)?,
                "token" => auth.token = f.string(errs)?,
                "timeout" => {
                    auth.timeout = match v.value {
                        Value::Int(i) => i as f64,
                        Value::Float(x) => x,
                        _ => 1.0,
                    }
                }
                "users" => {
                    if let Ok((nkeys, users)) = parse_users(v, Placed::Yes, errs) {
                        auth.users = Some(users);
                        auth.nkeys = nkeys;
                    }
                }
                "default_permission" | "default_permissions" | "permissions" => {
                    if let Ok(p) = parse_permissions(v, Placed::Yes, errs) {
                        auth.default_permissions = Some(Arc::new(p));
                    }
                }
                _ => {
                    if !v.used_variable {
                        errs.unknown(v, k);
                    }
                    return Ok(());
                }
            }
            Ok(())
        })();
        if r.is_err() {
            return Err(Recorded);
        }
    }
    if let Some(dp) = &auth.default_permissions {
        apply_default_permissions(auth.users.iter_mut().flatten(), &mut auth.nkeys, dp);
    }
    Ok(auth)
}

/// The `authorization` block of a websocket or MQTT listener: one user or a
/// token, and a timeout.
#[derive(Debug, Default, PartialEq)]
pub struct SimpleAuth {
    pub user: String,
    pub pass: String,
    pub token: String,
    pub timeout: f64,
}

/// A wrong type fails the whole block, as Go's recovered panic does.
pub fn parse_simple_authorization(
    node: &Node,
    errs: &mut ConfigErrors,
) -> Result<SimpleAuth, Recorded> {
    let map = Field(node).map(errs)?;
    let mut auth = SimpleAuth::default();
    for (k, v) in map {
        let f = Field(v);
        match k.to_lowercase().as_str() {
            "user" | "username" => auth.user = f.string(errs)?,
            "pass" | "password" => auth.pass = f.string(errs)?,
            "token" => auth.token = f.string(errs)?,
            "timeout" => {
                auth.timeout = match v.value {
                    Value::Int(i) => i as f64,
                    Value::Float(x) => x,
                    _ => 1.0,
                }
            }
            _ => {
                if !v.used_variable {
                    errs.unknown(v, k);
                }
            }
        }
    }
    Ok(auth)
}

/// Gives users without permissions of their own the block's defaults.
pub fn apply_default_permissions<'a>(
    users: impl Iterator<Item = &'a mut User>,
    nkeys: &mut [NkeyUser],
    dp: &Arc<Permissions>,
) {
    for u in users {
        if u.permissions.is_none() {
            u.permissions = Some(dp.clone());
        }
    }
    for u in nkeys {
        if u.permissions.is_none() {
            u.permissions = Some(dp.clone());
        }
    }
}

pub type ParsedUsers = (Vec<NkeyUser>, Vec<User>);

/// Whether an error about the value as a whole carries its position. Go
/// passes some blocks on already unwrapped (an account's `users`, a
/// cluster's `permissions`), and their type errors come without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    Yes,
    No,
}

fn type_error(node: &Node, placed: Placed, reason: String, errs: &mut ConfigErrors) {
    match placed {
        Placed::Yes => errs.error(node, reason),
        Placed::No => errs.errors.push(reason),
    }
}

pub fn parse_users(
    node: &Node,
    placed: Placed,
    errs: &mut ConfigErrors,
) -> Result<ParsedUsers, Recorded> {
    let Value::Array(items) = &node.value else {
        let reason = format!(
            "Expected users field to be an array, got {}",
            go_value(&node.value)
        );
        type_error(node, placed, reason, errs);
        return Err(Recorded);
    };
    let mut users = Vec::new();
    let mut keys = Vec::new();
    for item in items {
        let Value::Map(um) = &item.value else {
            errs.error(
                item,
                format!(
                    "Expected user entry to be a map/struct, got {}",
                    go_value(&item.value)
                ),
            );
            continue;
        };
        let mut user = User::default();
        let mut nkey = String::new();
        let mut perms = None;
        let mut conn_types = Vec::new();
        let mut last = item;
        for (k, v) in um {
            last = v;
            let f = Field(v);
            match k.to_lowercase().as_str() {
                "nkey" => nkey = f.string(errs)?,
                "user" | "username" => user.username = f.string(errs)?,
                "pass" | "password" => user.password = f.string(errs)?,
                "permission" | "permissions" | "authorization" => {
                    if let Ok(p) = parse_permissions(v, Placed::Yes, errs) {
                        perms = Some(Arc::new(p));
                    }
                }
                "allowed_connection_types" | "connection_types" | "clients" => {
                    conn_types = parse_connection_types(v, errs);
                }
                _ => {
                    if !v.used_variable {
                        errs.unknown(v, k);
                    }
                }
            }
        }
        if nkey.is_empty() && user.username.is_empty() {
            errs.error(last, "User entry requires a user".into());
            return Err(Recorded);
        } else if !nkey.is_empty() {
            if !crate::options::nkeys::is_valid_public_user_key(&nkey) {
                errs.error(last, "Not a valid public nkey for a user".into());
                return Err(Recorded);
            }
            if !user.username.is_empty() || !user.password.is_empty() {
                errs.error(last, "Nkey users do not take usernames or passwords".into());
                return Err(Recorded);
            }
            keys.push(NkeyUser {
                nkey,
                permissions: perms,
                allowed_connection_types: conn_types,
                ..Default::default()
            });
        } else {
            user.permissions = perms;
            user.allowed_connection_types = conn_types;
            users.push(user);
        }
    }
    Ok((keys, users))
}

/// A connection type or a list of them, upper-cased. Unknown types are
/// reported; the known ones are still kept, as Go does.
fn parse_connection_types(node: &Node, errs: &mut ConfigErrors) -> Vec<String> {
    const FIELD: &str = "allowed connection types";
    let given: Vec<&str> = match &node.value {
        Value::Str(s) => vec![s.as_str()],
        Value::Array(items) => items
            .iter()
            .filter_map(|i| match &i.value {
                Value::Str(s) => Some(s.as_str()),
                other => {
                    errs.error(
                        i,
                        format!(
                            "error parsing {FIELD}: unsupported type in array {}",
                            other.kind_name()
                        ),
                    );
                    None
                }
            })
            .collect(),
        other => {
            errs.error(
                node,
                format!(
                    "error parsing {FIELD}: unsupported type {}",
                    other.kind_name()
                ),
            );
            return Vec::new();
        }
    };
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for t in given {
        let t = t.to_uppercase();
        if CONNECTION_TYPES.contains(&t.as_str()) {
            if !known.contains(&t) {
                known.push(t);
            }
        } else {
            unknown.push(t);
        }
    }
    if !unknown.is_empty() {
        let quoted: Vec<String> = unknown.iter().map(|t| format!("{t:?}")).collect();
        errs.error(
            node,
            format!("invalid connection types [{}]", quoted.join(" ")),
        );
    }
    known
}

pub fn parse_permissions(
    node: &Node,
    placed: Placed,
    errs: &mut ConfigErrors,
) -> Result<Permissions, Recorded> {
    let Value::Map(pm) = &node.value else {
        let reason = format!(
            "Expected permissions to be a map/struct, got {}",
            go_value(&node.value)
        );
        type_error(node, placed, reason, errs);
        return Err(Recorded);
    };
    let mut p = Permissions::default();
    for (k, v) in pm {
        match k.to_lowercase().as_str() {
            "pub" | "publish" | "import" => {
                if let Ok(sp) = parse_variable_permissions(v, errs) {
                    p.publish = sp;
                }
            }
            "sub" | "subscribe" | "export" => {
                if let Ok(sp) = parse_variable_permissions(v, errs) {
                    p.subscribe = sp;
                }
            }
            "publish_allow_responses" | "allow_responses" => {
                p.response = match v.value {
                    Value::Bool(true) => Some(ResponsePermission::default()),
                    Value::Bool(false) => None,
                    _ => parse_allow_responses(v, errs),
                };
                if p.response.is_some() {
                    let publish = p.publish.get_or_insert_with(SubjectPermission::default);
                    publish.allow.get_or_insert_with(Vec::new);
                }
            }
            _ => {
                if !v.used_variable {
                    errs.error(
                        v,
                        format!(
                            "Unknown field {} parsing permissions",
                            go_quote(k.as_bytes())
                        ),
                    );
                }
            }
        }
    }
    Ok(p)
}

fn parse_variable_permissions(
    node: &Node,
    errs: &mut ConfigErrors,
) -> Result<Option<SubjectPermission>, Recorded> {
    match &node.value {
        Value::Map(m) => parse_subject_permission(m, errs),
        _ => match parse_perm_subjects(node) {
            Ok(subjects) => Ok(Some(SubjectPermission {
                allow: subjects,
                deny: None,
            })),
            Err((at, e)) => {
                errs.error(at, e);
                Err(Recorded)
            }
        },
    }
}

fn parse_subject_permission(
    m: &Map,
    errs: &mut ConfigErrors,
) -> Result<Option<SubjectPermission>, Recorded> {
    if m.is_empty() {
        return Ok(None);
    }
    let mut p = SubjectPermission::default();
    for (k, v) in m {
        match k.to_lowercase().as_str() {
            "allow" => match parse_perm_subjects(v) {
                Ok(s) => p.allow = s,
                Err((at, e)) => errs.error(at, e),
            },
            "deny" => match parse_perm_subjects(v) {
                Ok(s) => p.deny = s,
                Err((at, e)) => errs.error(at, e),
            },
            _ => {
                if !v.used_variable {
                    errs.error(
                        v,
                        format!(
                            "Unknown field name {} parsing subject permissions, only 'allow' or 'deny' are permitted",
                            go_quote(k.as_bytes())
                        ),
                    );
                }
            }
        }
    }
    Ok(Some(p))
}

/// A subject or an array of subjects; `None` for an empty array (Go's nil).
/// An error names the node it is about: Go points at an offending array
/// element, not at the array.
pub(super) fn parse_perm_subjects(node: &Node) -> Result<Option<Vec<String>>, (&Node, String)> {
    let subjects = match &node.value {
        Value::Str(s) => vec![s.clone()],
        Value::Array(a) => {
            let mut out = Vec::new();
            for i in a {
                match &i.value {
                    Value::Str(s) => out.push(s.clone()),
                    _ => {
                        return Err((
                            i,
                            "Subject in permissions array cannot be cast to string".into(),
                        ))
                    }
                }
            }
            out
        }
        other => {
            return Err((
                node,
                format!(
                    "Expected subject permissions to be a subject, or array of subjects, got {}",
                    other.kind_name()
                ),
            ))
        }
    };
    for s in &subjects {
        if !is_valid_subject(s.as_bytes()) {
            let parts: Vec<&str> = s.split_whitespace().collect();
            if parts.len() != 2 {
                return Err((node, format!("subject \"{s}\" is not a valid subject")));
            } else if !is_valid_subject(parts[0].as_bytes()) {
                return Err((
                    node,
                    format!("subject \"{}\" is not a valid subject", parts[0]),
                ));
            }
        }
    }
    Ok((!subjects.is_empty()).then_some(subjects))
}

fn parse_allow_responses(node: &Node, errs: &mut ConfigErrors) -> Option<ResponsePermission> {
    let Value::Map(m) = &node.value else {
        errs.error(
            node,
            "error parsing response permissions, expected a boolean or a map".into(),
        );
        return None;
    };
    let mut rp = ResponsePermission::default();
    for (k, v) in m {
        match k.to_lowercase().as_str() {
            "max" | "max_msgs" | "max_messages" | "max_responses" => {
                let n = Field(v).int(errs).ok()?;
                if n != 0 {
                    rp.max_msgs = n;
                }
            }
            "expires" | "expiration" | "ttl" => match &v.value {
                Value::Str(s) => match parse_go_duration(s) {
                    Ok(ns) => {
                        if ns != 0 {
                            rp.expires = Duration::from_nanos(ns.max(0) as u64);
                        }
                    }
                    Err(e) => {
                        errs.error(v, format!("error parsing expires: {e}"));
                        return None;
                    }
                },
                _ => {
                    errs.error(v, "error parsing expires, not a duration string".into());
                    return None;
                }
            },
            _ => {
                if !v.used_variable {
                    errs.error(
                        v,
                        format!(
                            "Unknown field {} parsing permissions",
                            go_quote(k.as_bytes())
                        ),
                    );
                }
            }
        }
    }
    Some(rp)
}

/// How Go's `%v` prints a time the config gave in Zulu form
/// (`2016-05-04T18:53:41Z`, the only form its lexer takes).
fn go_time(zulu: &str) -> String {
    match zulu.strip_suffix('Z').and_then(|t| t.split_once('T')) {
        Some((date, time)) => format!("{date} {time} +0000 UTC"),
        None => zulu.to_string(),
    }
}

/// How Go's `%v` prints a configuration value (close enough for messages).
pub(super) fn go_value(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Str(s) => s.clone(),
        Value::DateTime(s) => go_time(s),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Map(m) if m.is_empty() => "map[]".into(),
        Value::Array(_) => "[...]".into(),
        Value::Map(_) => "map[...]".into(),
    }
}
