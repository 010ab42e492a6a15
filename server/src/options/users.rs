//! Users, nkey users and their permissions, as configured in an
//! `authorization` block.

use super::{ConfigErrors, Field};
use crate::config::{Map, Node, Value};
use crate::options::duration::parse_go_duration;
use crate::subject::is_valid_subject;
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
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NkeyUser {
    pub nkey: String,
    pub permissions: Option<Arc<Permissions>>,
}

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

pub fn parse_authorization(node: &Node, errs: &mut ConfigErrors) -> Result<Authorization, ()> {
    let map = Field(node).map(errs)?;
    let mut auth = Authorization::default();
    for (k, v) in map {
        let f = Field(v);
        let r: Result<(), ()> = (|| {
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
                    if let Ok((nkeys, users)) = parse_users(v, errs) {
                        auth.users = Some(users);
                        auth.nkeys = nkeys;
                    }
                }
                "default_permission" | "default_permissions" | "permissions" => {
                    if let Ok(p) = parse_permissions(v, errs) {
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
            return Err(());
        }
    }
    if let Some(dp) = &auth.default_permissions {
        for u in auth.users.iter_mut().flatten() {
            if u.permissions.is_none() {
                u.permissions = Some(dp.clone());
            }
        }
        for u in auth.nkeys.iter_mut() {
            if u.permissions.is_none() {
                u.permissions = Some(dp.clone());
            }
        }
    }
    Ok(auth)
}

type ParsedUsers = (Vec<NkeyUser>, Vec<User>);

fn parse_users(node: &Node, errs: &mut ConfigErrors) -> Result<ParsedUsers, ()> {
    let Value::Array(items) = &node.value else {
        errs.error(
            node,
            format!(
                "Expected users field to be an array, got {}",
                go_value(&node.value)
            ),
        );
        return Err(());
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
        let mut last = item;
        for (k, v) in um {
            last = v;
            let f = Field(v);
            match k.to_lowercase().as_str() {
                "nkey" => nkey = f.string(errs)?,
                "user" | "username" => user.username = f.string(errs)?,
                "pass" | "password" => user.password = f.string(errs)?,
                "permission" | "permissions" | "authorization" => {
                    if let Ok(p) = parse_permissions(v, errs) {
                        perms = Some(Arc::new(p));
                    }
                }
                "allowed_connection_types" | "connection_types" | "clients" => {}
                _ => {
                    if !v.used_variable {
                        errs.unknown(v, k);
                    }
                }
            }
        }
        if nkey.is_empty() && user.username.is_empty() {
            errs.error(last, "User entry requires a user".into());
            return Err(());
        } else if !nkey.is_empty() {
            if !crate::auth::nkey::is_valid_public_user_key(&nkey) {
                errs.error(last, "Not a valid public nkey for a user".into());
                return Err(());
            }
            if !user.username.is_empty() || !user.password.is_empty() {
                errs.error(last, "Nkey users do not take usernames or passwords".into());
                return Err(());
            }
            keys.push(NkeyUser {
                nkey,
                permissions: perms,
            });
        } else {
            user.permissions = perms;
            users.push(user);
        }
    }
    Ok((keys, users))
}

fn parse_permissions(node: &Node, errs: &mut ConfigErrors) -> Result<Permissions, ()> {
    let Value::Map(pm) = &node.value else {
        errs.error(
            node,
            format!(
                "Expected permissions to be a map/struct, got {}",
                go_value(&node.value)
            ),
        );
        return Err(());
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
                    errs.error(v, format!("Unknown field \"{k}\" parsing permissions"));
                }
            }
        }
    }
    Ok(p)
}

fn parse_variable_permissions(
    node: &Node,
    errs: &mut ConfigErrors,
) -> Result<Option<SubjectPermission>, ()> {
    match &node.value {
        Value::Map(m) => parse_subject_permission(m, errs),
        _ => match parse_perm_subjects(node) {
            Ok(subjects) => Ok(Some(SubjectPermission {
                allow: subjects,
                deny: None,
            })),
            Err(e) => {
                errs.error(node, e);
                Err(())
            }
        },
    }
}

fn parse_subject_permission(
    m: &Map,
    errs: &mut ConfigErrors,
) -> Result<Option<SubjectPermission>, ()> {
    if m.is_empty() {
        return Ok(None);
    }
    let mut p = SubjectPermission::default();
    for (k, v) in m {
        match k.to_lowercase().as_str() {
            "allow" => match parse_perm_subjects(v) {
                Ok(s) => p.allow = s,
                Err(e) => errs.error(v, e),
            },
            "deny" => match parse_perm_subjects(v) {
                Ok(s) => p.deny = s,
                Err(e) => errs.error(v, e),
            },
            _ => {
                if !v.used_variable {
                    errs.error(
                        v,
                        format!(
                            "Unknown field name \"{k}\" parsing subject permissions, only 'allow' or 'deny' are permitted"
                        ),
                    );
                }
            }
        }
    }
    Ok(Some(p))
}

/// A subject or an array of subjects; `None` for an empty array (Go's nil).
fn parse_perm_subjects(node: &Node) -> Result<Option<Vec<String>>, String> {
    let subjects = match &node.value {
        Value::Str(s) => vec![s.clone()],
        Value::Array(a) => {
            let mut out = Vec::new();
            for i in a {
                match &i.value {
                    Value::Str(s) => out.push(s.clone()),
                    _ => return Err("Subject in permissions array cannot be cast to string".into()),
                }
            }
            out
        }
        other => {
            return Err(format!(
                "Expected subject permissions to be a subject, or array of subjects, got {}",
                other.kind_name()
            ))
        }
    };
    for s in &subjects {
        if !is_valid_subject(s.as_bytes()) {
            let parts: Vec<&str> = s.split_whitespace().collect();
            if parts.len() != 2 {
                return Err(format!("subject \"{s}\" is not a valid subject"));
            } else if !is_valid_subject(parts[0].as_bytes()) {
                return Err(format!("subject \"{}\" is not a valid subject", parts[0]));
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
                    errs.error(v, format!("Unknown field \"{k}\" parsing permissions"));
                }
            }
        }
    }
    Some(rp)
}

/// How Go's `%v` prints a configuration value (close enough for messages).
fn go_value(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Str(s) | Value::DateTime(s) => s.clone(),
        Value::Array(_) => "[...]".into(),
        Value::Map(_) => "map[...]".into(),
    }
}
