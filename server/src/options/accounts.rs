//! The `accounts` block: named accounts, their users, and the checks Go
//! makes on them. Users of an account are added to the server-wide user
//! lists, tagged with the account they bind a client to.
//!
//! Their imports and exports are [`links`]'.

use super::links::{self, Export, ExportConfig, ImportConfig, ServiceImport, StreamImport};
use super::users::{apply_default_permissions, parse_permissions, parse_users, Placed};
use super::{ConfigErrors, Options};
use crate::config::{Node, Value};
use std::sync::Arc;

/// The global account, which clients without an account belong to.
pub const GLOBAL_ACCOUNT: &str = "$G";
/// The system account's name unless `system_account` says otherwise.
pub const DEFAULT_SYSTEM_ACCOUNT: &str = "$SYS";

/// One configured account.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountConfig {
    pub name: String,
    pub nkey: String,
    /// Its `exports` and `imports` items, as written.
    pub export_items: Vec<ExportConfig>,
    pub import_items: Vec<ImportConfig>,
    /// What Go made of them once every account was known (see
    /// [`links::resolve`]).
    pub exports: Vec<Export>,
    pub stream_imports: Vec<StreamImport>,
    pub service_imports: Vec<ServiceImport>,
    /// Its `mappings` block.
    pub mappings: Vec<natsd_proto::mapping::MappingConfig>,
    pub limits: AccountLimits,
    /// Its JetStream limits; None when JetStream is not enabled for it.
    pub jetstream: Option<super::jetstream::AccountJsLimits>,
}

/// An account's `limits`; -1 is no limit (Go's NoLimit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountLimits {
    pub max_connections: i64,
    pub max_subscriptions: i64,
    pub max_payload: i64,
    pub max_leafnodes: i64,
}

impl Default for AccountLimits {
    fn default() -> Self {
        Self {
            max_connections: -1,
            max_subscriptions: -1,
            max_payload: -1,
            max_leafnodes: -1,
        }
    }
}

/// An account's `limits` block, with Go's errors.
fn parse_limits(node: &Node, errs: &mut ConfigErrors) -> AccountLimits {
    let mut l = AccountLimits::default();
    let Value::Map(m) = &node.value else {
        errs.error(
            node,
            format!(
                "Expected account limits to be a map/struct, got {}",
                super::users::go_value(&node.value)
            ),
        );
        return l;
    };
    for (k, v) in m.iter() {
        let slot = match k.to_lowercase().as_str() {
            "max_connections" | "max_conn" => &mut l.max_connections,
            "max_subscriptions" | "max_subs" => &mut l.max_subscriptions,
            "max_payload" | "max_pay" => &mut l.max_payload,
            "max_leafnodes" | "max_leafs" => &mut l.max_leafnodes,
            _ => {
                if !v.used_variable {
                    errs.error(v, format!("Unknown field {k:?} parsing account limits"));
                }
                continue;
            }
        };
        match v.value {
            Value::Int(n) => *slot = i64::from(n as i32),
            _ => errs.error(v, super::type_mismatch(&v.value, "int64")),
        }
    }
    l
}

/// Applies an `accounts` block: a list of names or a map of definitions.
pub fn parse_accounts(node: &Node, o: &mut Options, errs: &mut ConfigErrors) {
    match &node.value {
        Value::Array(items) => parse_name_list(items, o, errs),
        Value::Map(m) => {
            for (name, v) in m.iter() {
                parse_account(name, v, o, errs);
            }
            // Go checks what refers across accounts only in a file
            // without errors so far.
            if !errs.errors.is_empty() {
                return;
            }
            links::resolve::resolve(node, o, errs);
        }
        other => errs.error(node, super::type_mismatch(other, "map[string]interface {}")),
    }
}

fn parse_name_list(items: &[Node], o: &mut Options, errs: &mut ConfigErrors) {
    let mut seen: Vec<&str> = Vec::new();
    for item in items {
        let Value::Str(name) = &item.value else {
            errs.error(item, super::type_mismatch(&item.value, "string"));
            return;
        };
        if name == GLOBAL_ACCOUNT {
            errs.error(item, format!("\"{name}\" is a Reserved Account"));
        } else if seen.contains(&name.as_str()) {
            errs.error(item, format!("Duplicate Account Entry: {name}"));
        } else {
            seen.push(name);
            o.accounts.push(AccountConfig {
                name: name.clone(),
                ..Default::default()
            });
        }
    }
}

fn parse_account(name: &str, node: &Node, o: &mut Options, errs: &mut ConfigErrors) {
    if node.used_variable {
        return;
    }
    let Value::Map(m) = &node.value else {
        errs.error(node, "Expected map entries for accounts".into());
        return;
    };
    if name == GLOBAL_ACCOUNT {
        errs.error(node, format!("\"{name}\" is a Reserved Account"));
        return;
    }
    let mut acc = AccountConfig {
        name: name.to_string(),
        ..Default::default()
    };
    let mut users = Vec::new();
    let mut nkeys = Vec::new();
    let mut users_node = node;
    let mut default_perms = None;
    for (k, v) in m.iter() {
        match k.to_lowercase().as_str() {
            "nkey" => match v.as_str() {
                Some(nk) if crate::options::nkeys::is_valid_public_account_key(nk) => {
                    acc.nkey = nk.to_string()
                }
                _ => errs.error(
                    v,
                    format!(
                        "Not a valid public nkey for an account: \"{}\"",
                        v.as_str()
                            .map_or_else(|| super::users::go_value(&v.value), str::to_string)
                    ),
                ),
            },
            "imports" => acc.import_items = links::parse::imports(v, errs),
            "exports" => acc.export_items = links::parse::exports(v, errs),
            "users" => {
                users_node = v;
                if let Ok((n, u)) = parse_users(v, Placed::No, errs) {
                    nkeys = n;
                    users = u;
                }
            }
            "default_permissions" => {
                if let Ok(p) = parse_permissions(v, Placed::Yes, errs) {
                    default_perms = Some(Arc::new(p));
                }
            }
            "mappings" | "maps" => acc
                .mappings
                .extend(super::mappings::parse_mappings(v, errs)),
            "limits" => acc.limits = parse_limits(v, errs),
            "jetstream" => {
                if let Ok(js) = super::jetstream::parse_account_jetstream(v, errs) {
                    acc.jetstream = js;
                }
            }
            _ => {
                if !v.used_variable {
                    errs.unknown(v, k);
                }
            }
        }
    }
    o.accounts.push(acc);
    if !users.is_empty() || !nkeys.is_empty() {
        if !o.username.is_empty() {
            errs.error(
                users_node,
                "Can not have a single user/pass and accounts".into(),
            );
            return;
        }
        if !o.authorization.is_empty() {
            errs.error(users_node, "Can not have a token and accounts".into());
            return;
        }
    }
    if let Some(dp) = &default_perms {
        apply_default_permissions(users.iter_mut(), &mut nkeys, dp);
    }
    let mut taken = o.user_names();
    for mut u in nkeys {
        if taken.contains(&u.nkey) {
            errs.error(
                users_node,
                format!("Duplicate nkey \"{}\" detected", u.nkey),
            );
            continue;
        }
        taken.push(u.nkey.clone());
        u.account = name.to_string();
        o.nkeys.push(u);
    }
    for mut u in users {
        if taken.contains(&u.username) {
            errs.error(
                users_node,
                format!("Duplicate user \"{}\" detected", u.username),
            );
            continue;
        }
        taken.push(u.username.clone());
        u.account = name.to_string();
        o.users.push(u);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;

    fn error_of(text: &str) -> String {
        load(text).1.unwrap_err().to_string()
    }

    #[test]
    fn users_bound_to_accounts() {
        let (o, r) = load(
            "accounts { A { users [{user: a, password: p}] }, B { users [{user: b, password: p}] } }\n",
        );
        r.unwrap();
        let names: Vec<_> = o.accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["A", "B"]);
        assert_eq!(o.users[0].account, "A");
        assert_eq!(o.users[1].account, "B");
    }

    #[test]
    fn reserved_and_duplicate() {
        assert!(error_of("accounts { $G { } }\n").contains("\"$G\" is a Reserved Account"));
        assert!(error_of("accounts = [a, b, b]\n").contains("Duplicate Account Entry: b"));
        assert!(error_of("accounts { x = 1 }\n").contains("Expected map entries for accounts"));
        assert!(error_of(
            "authorization { users [{user: u, password: p}] }\naccounts { A { users [{user: u}] } }\n"
        )
        .contains("Duplicate user \"u\" detected"));
        assert!(error_of(
            "accounts { A { users [{user: u}] } }\nauthorization { users [{user: u, password: p}] }\n"
        )
        .contains("Duplicate user \"u\" detected"));
    }

    #[test]
    fn import_export_shapes() {
        assert!(error_of("accounts { A { imports = true } }\n")
            .contains("Imports should be an array, got bool"));
        assert!(error_of("accounts { A { exports = [ false ] } }\n")
            .contains("Export Items should be a map with type entry, got bool"));
        assert!(
            error_of("accounts { A { imports = [ { service: {} } ] } }\n")
                .contains("Expect an account name and a subject")
        );
        let (o, r) = load(
            "accounts { A { exports = [ { stream: \"a.>\" } ] }, B { imports = [ { stream: { account: A, subject: \"a.>\" } } ] } }\n",
        );
        r.unwrap();
        assert_eq!(o.accounts[0].exports.len(), 1);
        assert_eq!(o.accounts[1].stream_imports.len(), 1);
    }

    #[test]
    fn account_limits() {
        let (o, r) = load("accounts { A { limits { max_connections: 5, max_subs: 10 } } }\n");
        r.unwrap();
        let l = o.accounts[0].limits;
        assert_eq!(
            (l.max_connections, l.max_subscriptions, l.max_payload),
            (5, 10, -1)
        );
        assert!(error_of("accounts { A { limits { max_wat: 1 } } }\n")
            .contains("Unknown field \"max_wat\" parsing account limits"));
    }

    #[test]
    fn account_default_permissions() {
        let (o, r) = load(
            "accounts { A { default_permissions = { publish = \"foo\" }, users [{user: a, password: p}] } }\n",
        );
        r.unwrap();
        let p = o.users[0].permissions.as_ref().unwrap();
        assert_eq!(
            p.publish.as_ref().unwrap().allow,
            Some(vec!["foo".to_string()])
        );
    }
}
