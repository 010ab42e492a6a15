//! The `accounts` block: named accounts, their users, and the checks Go
//! makes on them. Users of an account are added to the server-wide user
//! lists, tagged with the account they bind a client to.
//!
//! Imports and exports are checked for shape. natsd does not route
//! messages between accounts yet (the server logs that at start-up); the
//! one import it applies is of a service the system account itself
//! provides (see [`AccountConfig::system_service_imports`]).

use super::duration::parse_go_duration;
use super::users::{apply_default_permissions, parse_permissions, parse_users, Placed};
use super::{ConfigErrors, Options};
use crate::config::{Map, Node, Value};
use natsd_proto::quote::go_quote;
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
    /// Imports or exports were configured.
    pub has_imports_exports: bool,
    /// Service imports: the exporting account and the subject.
    pub service_imports: Vec<(String, String)>,
    /// Imports other than plain service imports.
    pub other_imports: usize,
    /// Exports: "stream" or "service", and the subject.
    pub exports: Vec<(String, String)>,
    /// Service exports with latency tracking: the service and the subject
    /// latency results are published to.
    pub latency: Vec<(String, String)>,
    /// Its `mappings` block.
    pub mappings: Vec<natsd_proto::mapping::MappingConfig>,
    /// Accounts its exports and imports name, checked once every account
    /// is known.
    pub references: Vec<AccountReference>,
}

/// An account named by an export's `accounts` list or by an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountReference {
    pub kind: ReferenceKind,
    pub account: String,
    /// The export's subject, or the subject imported.
    pub subject: String,
}

/// Where an account is named, in the order Go checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReferenceKind {
    StreamExport,
    ServiceExport,
    StreamImport,
    ServiceImport,
}

impl ReferenceKind {
    fn of(kind: &str, import: bool) -> Self {
        match (kind, import) {
            ("stream", false) => ReferenceKind::StreamExport,
            ("service", false) => ReferenceKind::ServiceExport,
            ("stream", true) => ReferenceKind::StreamImport,
            _ => ReferenceKind::ServiceImport,
        }
    }

    /// "stream" or "service".
    fn noun(self) -> &'static str {
        match self {
            ReferenceKind::StreamExport | ReferenceKind::StreamImport => "stream",
            ReferenceKind::ServiceExport | ReferenceKind::ServiceImport => "service",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            ReferenceKind::StreamExport => "stream export",
            ReferenceKind::ServiceExport => "service export",
            ReferenceKind::StreamImport => "stream import",
            ReferenceKind::ServiceImport => "service import",
        }
    }
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
            check_references(node, o, errs, false);
            check_latency_tracking(node, o, errs);
            check_references(node, o, errs, true);
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
            "imports" => {
                acc.has_imports_exports = true;
                let (services, others) = check_imports(v, &mut acc.references, errs);
                acc.service_imports = services;
                acc.other_imports = others;
            }
            "exports" => {
                acc.has_imports_exports = true;
                (acc.exports, acc.latency) = check_exports(v, &mut acc.references, errs);
            }
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
            "limits" => o.refusals.push(super::unserved::Refusal {
                location: v.location(),
                option: k.to_string(),
                kind: super::unserved::RefusalKind::AccountLimits,
            }),
            "jetstream" => {}
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

/// The element list of an `imports`/`exports` array, or Go's error.
fn items<'a>(node: &'a Node, what: &str, errs: &mut ConfigErrors) -> Option<&'a [Node]> {
    match &node.value {
        Value::Array(a) => Some(a),
        other => {
            errs.error(
                node,
                format!("{what} should be an array, got {}", other.kind_name()),
            );
            None
        }
    }
}

/// Each element must be a map; yields the maps.
fn item_maps<'a>(list: &'a [Node], what: &str, errs: &mut ConfigErrors) -> Vec<&'a Map> {
    let mut out = Vec::new();
    for item in list {
        match &item.value {
            Value::Map(m) => out.push(m),
            other => errs.error(
                item,
                format!(
                    "{what} Items should be a map with type entry, got {}",
                    other.kind_name()
                ),
            ),
        }
    }
    out
}

/// A service export's latency tracking (`latency: subject` or
/// `latency: { sampling, subject }`), checked as Go checks it; the subject
/// when it is well-formed.
fn check_latency(v: &Node, errs: &mut ConfigErrors) -> Option<String> {
    let m = match &v.value {
        Value::Str(subject) => return Some(subject.clone()),
        Value::Map(m) => m,
        other => {
            errs.error(
                v,
                format!(
                    "Expected latency entry to be a map/struct or string, got {}",
                    other.kind_name()
                ),
            );
            return None;
        }
    };
    if let Some(sampling) = m.get("sampling") {
        let sample = match &sampling.value {
            Value::Int(n) => Some(*n),
            Value::Str(s) if s.trim().eq_ignore_ascii_case("headers") => None,
            Value::Str(s) => {
                let digits = s.strip_suffix('%').unwrap_or(s);
                match digits.parse::<i64>() {
                    Ok(n) => Some(n),
                    Err(_) => {
                        errs.error(
                            sampling,
                            format!(
                                "Failed to parse latency sample: strconv.Atoi: parsing {digits:?}: invalid syntax"
                            ),
                        );
                        return None;
                    }
                }
            }
            other => {
                errs.error(
                    sampling,
                    format!(
                        "Expected latency sample to be a string or map/struct, got {}",
                        other.kind_name()
                    ),
                );
                return None;
            }
        };
        if sample.is_some_and(|n| !(1..=100).contains(&n)) {
            errs.error(sampling, "bad sampling percentage, should be 1-100".into());
            return None;
        }
    }
    match m.get("subject") {
        None => {
            errs.error(v, "Latency subject required, but missing".into());
            None
        }
        Some(subject) => match &subject.value {
            Value::Str(s) => Some(s.clone()),
            // Go prints the type of the empty string it assigned to.
            _ => {
                errs.error(
                    subject,
                    "Expected latency subject to be a string, got string".into(),
                );
                None
            }
        },
    }
}

/// The keys Go knows in an import besides `stream` and `service`; any
/// other is an unknown field.
const IMPORT_KEYS: &[&str] = &["prefix", "to", "share"];

/// Pairs of names: (kind, subject) of exports, (service, subject) of
/// latency tracking.
type NamePairs = Vec<(String, String)>;

/// Checks the exports; returns their kinds and subjects, and the service
/// exports' latency subjects.
fn check_exports(
    node: &Node,
    references: &mut Vec<AccountReference>,
    errs: &mut ConfigErrors,
) -> (NamePairs, NamePairs) {
    let (mut exports, mut latency) = (Vec::new(), Vec::new());
    let Some(list) = items(node, "Exports", errs) else {
        return (exports, latency);
    };
    for m in item_maps(list, "Export", errs) {
        let item = check_export_item(m, errs);
        let Some((kind, subject)) = item.export else {
            continue;
        };
        references.extend(item.accounts.into_iter().map(|account| AccountReference {
            kind: ReferenceKind::of(&kind, false),
            account,
            subject: subject.clone(),
        }));
        if let (true, Some(latency_subject)) = (kind == "service", item.latency) {
            latency.push((subject.clone(), latency_subject));
        }
        exports.push((kind, subject));
    }
    (exports, latency)
}

/// What one export item declares.
#[derive(Default)]
struct ExportItem {
    /// "stream" or "service", and its subject.
    export: Option<(String, String)>,
    accounts: Vec<String>,
    /// A well-formed latency subject.
    latency: Option<String>,
}

/// Checks one export item key by key, in file order (Go's map order is
/// random; file order is one of its orders), with Go's errors.
fn check_export_item(m: &Map, errs: &mut ConfigErrors) -> ExportItem {
    const NOT_SERVICE: &str = "Detected response directive on non-service";
    let mut item = ExportItem::default();
    let (mut response_at, mut latency_at): (Option<&Node>, Option<&Node>) = (None, None);
    let mut threshold_seen = false;
    let is = |item: &ExportItem, kind: &str| item.export.as_ref().is_some_and(|(k, _)| k == kind);
    for (k, v) in m.iter() {
        match k.to_lowercase().as_str() {
            kind @ ("stream" | "service") => {
                let other = if kind == "stream" {
                    "service"
                } else {
                    "stream"
                };
                if is(&item, other) {
                    errs.error(
                        v,
                        format!(
                            "Detected {kind} {} but already saw a {other}",
                            go_quote(super::users::go_value(&v.value).as_bytes())
                        ),
                    );
                    continue;
                }
                if kind == "stream" {
                    if let Some(at) = response_at {
                        errs.error(at, NOT_SERVICE.into());
                        continue;
                    }
                    if let Some(at) = latency_at {
                        errs.error(at, "Detected latency directive on non-service".into());
                        continue;
                    }
                }
                match v.as_str() {
                    Some(subject) => item.export = Some((kind.to_string(), subject.to_string())),
                    None => errs.error(
                        v,
                        format!(
                            "Expected {kind} name to be string, got {}",
                            v.value.kind_name()
                        ),
                    ),
                }
            }
            "response" | "response_type" => {
                if response_at.is_some() {
                    errs.error(v, "Duplicate response type definition".into());
                    continue;
                }
                response_at = Some(v);
                let Some(rt) = v.as_str() else {
                    errs.error(
                        v,
                        format!(
                            "Expected response type to be string, got {}",
                            v.value.kind_name()
                        ),
                    );
                    continue;
                };
                if !matches!(
                    rt.to_lowercase().as_str(),
                    "single" | "singleton" | "stream" | "chunk" | "chunked"
                ) {
                    errs.error(
                        v,
                        format!("Unknown response type: {}", go_quote(rt.as_bytes())),
                    );
                    continue;
                }
                if is(&item, "stream") {
                    errs.error(v, NOT_SERVICE.into());
                }
            }
            "threshold" | "response_threshold" | "response_max_time" | "response_time" => {
                if threshold_seen {
                    errs.error(v, "Duplicate response threshold detected".into());
                    continue;
                }
                threshold_seen = true;
                let parsed = v.as_str().map(|t| (t, parse_go_duration(t)));
                match parsed {
                    None => errs.error(
                        v,
                        format!(
                            "Expected response threshold to be a parseable time duration, got {}",
                            v.value.kind_name()
                        ),
                    ),
                    Some((t, Err(_))) => errs.error(
                        v,
                        format!(
                            "Expected response threshold to be a parseable time duration, got {}",
                            go_quote(t.as_bytes())
                        ),
                    ),
                    Some((_, Ok(_))) if is(&item, "stream") => errs.error(v, NOT_SERVICE.into()),
                    Some(_) => {}
                }
            }
            "accounts" => item.accounts = account_names(v, errs),
            "latency" => {
                latency_at = Some(v);
                let Some(subject) = check_latency(v, errs) else {
                    continue;
                };
                if is(&item, "stream") {
                    errs.error(v, "Detected latency directive on non-service".into());
                    continue;
                }
                item.latency = Some(subject);
            }
            "account_token_position" => {
                if !matches!(v.value, Value::Int(_)) {
                    errs.error(v, super::type_mismatch(&v.value, "int64"));
                }
            }
            _ => {
                if !v.used_variable {
                    errs.unknown(v, k);
                }
            }
        }
    }
    item
}

/// The names of an export's `accounts` list.
fn account_names(v: &Node, errs: &mut ConfigErrors) -> Vec<String> {
    let Value::Array(items) = &v.value else {
        errs.error(v, super::type_mismatch(&v.value, "[]interface {}"));
        return Vec::new();
    };
    let mut names = Vec::new();
    for item in items {
        match &item.value {
            Value::Str(name) => names.push(name.clone()),
            other => errs.error(item, super::type_mismatch(other, "string")),
        }
    }
    names
}

/// Every account an export (`imports: false`) or import names must be
/// defined, and an import must be of a subject its account exports to the
/// importer; Go reports each at the `accounts` block's position.
fn check_references(accounts: &Node, o: &Options, errs: &mut ConfigErrors, imports: bool) {
    let mut refs: Vec<(&AccountConfig, &AccountReference)> = o
        .accounts
        .iter()
        .flat_map(|acc| acc.references.iter().map(move |r| (acc, r)))
        .filter(|(_, r)| (r.kind >= ReferenceKind::StreamImport) == imports)
        .collect();
    refs.sort_by_key(|(_, r)| r.kind);
    for (importer, r) in refs {
        let reason = match o.accounts.iter().find(|a| a.name == r.account) {
            None => format!(
                "{} account not defined for {}",
                go_quote(r.account.as_bytes()),
                r.kind.describe()
            ),
            Some(exporter) if imports && !exporter.authorizes(importer, r) => {
                let kind = r.kind.noun();
                format!(
                    "Error adding {kind} import {}: {kind} import not authorized",
                    go_quote(r.subject.as_bytes())
                )
            }
            Some(_) => continue,
        };
        errs.error(accounts, reason);
    }
}

impl AccountConfig {
    /// Whether this account exports the subject of `import` to `importer`:
    /// an export of that exact subject, or else one whose subject contains
    /// it, public or naming the importer.
    fn authorizes(&self, importer: &AccountConfig, import: &AccountReference) -> bool {
        let kind = import.kind.noun();
        if !natsd_proto::subject::is_valid_subject(import.subject.as_bytes()) {
            return false;
        }
        let of_kind = || self.exports.iter().filter(|(k, _)| k == kind);
        let export = of_kind().find(|(_, s)| *s == import.subject).or_else(|| {
            of_kind().find(|(_, s)| natsd_proto::subject::is_subset_match(&import.subject, s))
        });
        let Some((_, subject)) = export else {
            return false;
        };
        let export_kind = ReferenceKind::of(kind, false);
        let mut approved = self
            .references
            .iter()
            .filter(|r| r.kind == export_kind && r.subject == *subject)
            .peekable();
        approved.peek().is_none() || approved.any(|r| r.account == importer.name)
    }
}

/// What Go checks when it turns on latency tracking, after every account
/// is parsed; its errors carry the `accounts` block's position.
fn check_latency_tracking(accounts: &Node, o: &Options, errs: &mut ConfigErrors) {
    for acc in &o.accounts {
        for (service, subject) in &acc.latency {
            if o.no_system_account {
                errs.error(
                    accounts,
                    format!(
                        "Error adding service latency sampling for {service:?}: system account not setup"
                    ),
                );
                continue;
            }
            let publishable = natsd_proto::subject::is_valid_subject(subject.as_bytes())
                && natsd_proto::subject::is_literal(subject.as_bytes());
            let exported = acc
                .exports
                .iter()
                .any(|(kind, s)| kind == "service" && s == subject);
            if !publishable || exported {
                errs.error(
                    accounts,
                    format!(
                        "Error adding service latency sampling for {service:?} on subject {subject:?}: invalid publish subject"
                    ),
                );
            }
        }
    }
}

/// Checks the imports; returns the service imports (account, subject) and
/// how many others there are.
fn check_imports(
    node: &Node,
    references: &mut Vec<AccountReference>,
    errs: &mut ConfigErrors,
) -> (Vec<(String, String)>, usize) {
    let (mut services, mut others) = (Vec::new(), 0);
    let Some(list) = items(node, "Imports", errs) else {
        return (services, others);
    };
    for m in item_maps(list, "Import", errs) {
        for (k, v) in m.iter() {
            let kind = k.to_lowercase();
            if kind != "stream" && kind != "service" {
                if !IMPORT_KEYS.contains(&kind.as_str()) && !v.used_variable {
                    errs.unknown(v, k);
                }
                continue;
            }
            let Value::Map(src) = &v.value else {
                let title = if kind == "stream" {
                    "Stream"
                } else {
                    "Service"
                };
                errs.error(
                    v,
                    format!(
                        "{title} entry should be an account map, got {}",
                        v.value.kind_name()
                    ),
                );
                continue;
            };
            let account = src.get_ci("account").and_then(Node::as_str);
            let subject = src.get_ci("subject").and_then(Node::as_str);
            match (account, subject) {
                (Some(a), Some(s)) if !a.is_empty() && !s.is_empty() => {
                    references.push(AccountReference {
                        kind: ReferenceKind::of(&kind, true),
                        account: a.to_string(),
                        subject: s.to_string(),
                    });
                    if kind == "service" && src.get_ci("to").is_none() {
                        services.push((a.to_string(), s.to_string()));
                    } else {
                        others += 1;
                    }
                }
                _ => errs.error(v, "Expect an account name and a subject".into()),
            }
        }
    }
    (services, others)
}

impl AccountConfig {
    /// The service imports of subjects the system account `system`
    /// serves itself: these natsd applies.
    pub fn system_service_imports<'a>(&'a self, system: &'a str) -> impl Iterator<Item = &'a str> {
        self.service_imports
            .iter()
            .filter(move |(a, s)| a == system && s == natsd_proto::system::DEBUG_SUBSCRIBERS)
            .map(|(_, s)| s.as_str())
    }

    /// Whether imports or exports natsd does not apply are configured.
    pub fn has_unapplied_imports_exports(&self, system: &str) -> bool {
        // The system account exports its own services anyway.
        let exported_anyway = |(kind, subject): &(String, String)| {
            self.name == system
                && kind == "service"
                && natsd_proto::system::SYSTEM_EXPORTS
                    .iter()
                    .any(|(s, _)| s == subject)
        };
        self.other_imports > 0
            || self.service_imports.len() > self.system_service_imports(system).count()
            || !self.exports.iter().all(exported_anyway)
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
        assert!(o.accounts.iter().all(|a| a.has_imports_exports));
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
