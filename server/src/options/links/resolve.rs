//! What Go does with the accounts' exports and imports once every account
//! is parsed, in its order: stream exports, service exports (with their
//! thresholds and latency tracking), stream imports, then service imports,
//! each checked against what was added before it. The first failure of an
//! item is Go's error for it, reported at the `accounts` block; what
//! passes is kept, resolved, in the account's configuration.

use super::{
    Export, ExportConfig, ImportConfig, LinkKind, ServiceImport, StreamImport,
    DEFAULT_RESPONSE_THRESHOLD,
};
use crate::config::Node;
use crate::options::{AccountConfig, ConfigErrors, Options};
use natsd_proto::mapping::{tokenize_wildcards, untokenize, Transform};
use natsd_proto::quote::go_quote;
use natsd_proto::subject::{is_literal, is_subset_match, is_valid_subject, subjects_collide};
use std::collections::HashSet;

/// Go gives up a cycle search that has visited this many accounts.
const MAX_CYCLE_SEARCH_DEPTH: usize = 1024;

/// Why an import was refused, in Go's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportError {
    NotAuthorized(LinkKind),
    BadPrefix,
    FormsCycle,
    SearchDepth,
    InvalidSubject,
    StreamDuplicate,
    ServiceDuplicate {
        from: String,
        account: String,
        to: String,
    },
    Transform {
        kind: LinkKind,
        from: String,
        to: String,
        why: String,
    },
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportError::NotAuthorized(kind) => write!(f, "{} import not authorized", kind.noun()),
            ImportError::BadPrefix => {
                f.write_str("stream import prefix can not contain wildcard tokens")
            }
            ImportError::FormsCycle => f.write_str("import forms a cycle"),
            ImportError::SearchDepth => f.write_str("search cycle depth exhausted"),
            ImportError::InvalidSubject => f.write_str("sublist: invalid subject"),
            ImportError::StreamDuplicate => f.write_str("stream import already exists"),
            ImportError::ServiceDuplicate { from, account, to } => write!(
                f,
                "duplicate service import subject {}, previously used in import for account {}, subject {}",
                go_quote(from.as_bytes()),
                go_quote(account.as_bytes()),
                go_quote(to.as_bytes())
            ),
            ImportError::Transform { kind, from, to, why } => write!(
                f,
                "failed to create mapping transform for {} import subject {} to {}: {why}",
                kind.noun(),
                go_quote(from.as_bytes()),
                go_quote(to.as_bytes())
            ),
        }
    }
}

/// Applies every account's exports and imports in Go's order; errors go to
/// `errs` at the `accounts` node, accepted items into `o.accounts`.
pub fn resolve(accounts: &Node, o: &mut Options, errs: &mut ConfigErrors) {
    let names: HashSet<String> = o.accounts.iter().map(|a| a.name.clone()).collect();
    let mut fail = |msg: String| errs.error(accounts, msg);
    for kind in [LinkKind::Stream, LinkKind::Service] {
        for i in 0..o.accounts.len() {
            let items: Vec<ExportConfig> = o.accounts[i]
                .export_items
                .iter()
                .filter(|e| e.kind == kind)
                .cloned()
                .collect();
            for item in items {
                add_export(
                    &mut o.accounts[i],
                    &item,
                    &names,
                    o.no_system_account,
                    &mut fail,
                );
            }
        }
    }
    for kind in [LinkKind::Stream, LinkKind::Service] {
        for i in 0..o.accounts.len() {
            let items: Vec<ImportConfig> = o.accounts[i]
                .import_items
                .iter()
                .filter(|m| m.kind == kind)
                .cloned()
                .collect();
            for item in items {
                let Some(exporter) = o.accounts.iter().position(|a| a.name == item.account) else {
                    fail(format!(
                        "{} account not defined for {} import",
                        go_quote(item.account.as_bytes()),
                        kind.noun()
                    ));
                    continue;
                };
                let added = match kind {
                    LinkKind::Stream => add_stream_import(&mut o.accounts, i, exporter, &item),
                    LinkKind::Service => add_service_import(&mut o.accounts, i, exporter, &item),
                };
                if let Err(e) = added {
                    fail(format!(
                        "Error adding {} import {}: {e}",
                        kind.noun(),
                        go_quote(item.subject.as_bytes())
                    ));
                }
            }
        }
    }
}

/// Go's addStreamExport / addServiceExportWithResponse and what follows
/// them: items of one subject merge.
fn add_export(
    acc: &mut AccountConfig,
    item: &ExportConfig,
    names: &HashSet<String>,
    no_system_account: bool,
    fail: &mut impl FnMut(String),
) {
    let kind = item.kind.noun();
    let mut approved = Vec::new();
    for name in &item.accounts {
        if names.contains(name) {
            approved.push(name.clone());
        } else {
            fail(format!(
                "{} account not defined for {kind} export",
                go_quote(name.as_bytes())
            ));
        }
    }
    let subject = &item.subject;
    if item.token_position > 0 {
        let toks: Vec<&str> = subject.split('.').collect();
        let pos = item.token_position as usize;
        if toks.len() < pos || toks[pos - 1] != "*" {
            fail(format!(
                "Error adding {kind} export {}: sublist: invalid subject",
                go_quote(subject.as_bytes())
            ));
            return;
        }
    }
    let restricted = !item.accounts.is_empty() || item.token_position > 0;
    let at = match acc
        .exports
        .iter()
        .position(|e| e.kind == item.kind && e.subject == *subject)
    {
        Some(at) => at,
        None => {
            acc.exports.push(Export {
                kind: item.kind,
                subject: subject.clone(),
                approved: None,
                token_position: 0,
                response: Default::default(),
                threshold: DEFAULT_RESPONSE_THRESHOLD,
                latency: None,
            });
            acc.exports.len() - 1
        }
    };
    let e = &mut acc.exports[at];
    if restricted {
        e.token_position = item.token_position;
        let list = e.approved.get_or_insert_with(Vec::new);
        for name in approved {
            if !list.contains(&name) {
                list.push(name);
            }
        }
    }
    if item.kind == LinkKind::Stream {
        return;
    }
    if item.response != Default::default() {
        e.response = item.response;
    }
    e.threshold = item.threshold.unwrap_or(DEFAULT_RESPONSE_THRESHOLD);
    let Some(latency) = &item.latency else {
        return;
    };
    if no_system_account {
        fail(format!(
            "Error adding service latency sampling for {subject:?}: system account not setup"
        ));
        return;
    }
    let target = &latency.subject;
    let publishable = is_valid_subject(target.as_bytes()) && is_literal(target.as_bytes());
    let exported = acc
        .exports
        .iter()
        .any(|e| e.kind == LinkKind::Service && e.subject == *target);
    if !publishable || exported {
        fail(format!(
            "Error adding service latency sampling for {subject:?} on subject {target:?}: invalid publish subject"
        ));
        return;
    }
    if acc.exports[at].response != super::ResponseType::Singleton {
        fail(format!(
            "Error adding service latency sampling for {subject:?} on subject {target:?}: bad service response type"
        ));
        return;
    }
    acc.exports[at].latency = Some(latency.clone());
}

/// Go's AddStreamImport (with a prefix) and AddMappedStreamImport.
fn add_stream_import(
    accounts: &mut [AccountConfig],
    importer: usize,
    exporter: usize,
    item: &ImportConfig,
) -> Result<(), ImportError> {
    let from = item.subject.clone();
    let name = accounts[importer].name.clone();
    let exp = &accounts[exporter];
    if !exp.authorizes(&name, LinkKind::Stream, &from) {
        return Err(ImportError::NotAuthorized(LinkKind::Stream));
    }
    let mut to = if item.prefix.is_empty() {
        item.to.clone()
    } else {
        if !is_literal(item.prefix.as_bytes()) {
            return Err(ImportError::BadPrefix);
        }
        let sep = if item.prefix.ends_with('.') { "" } else { "." };
        format!("{}{sep}{from}", item.prefix)
    };
    if to.is_empty() {
        to = from.clone();
    }
    let mut visited = HashSet::from([name]);
    stream_cycles(accounts, exporter, &to, &mut visited)?;
    let (mut transform, mut use_pub) = (None, false);
    if !is_literal(from.as_bytes()) {
        if to == from {
            use_pub = true;
        } else {
            let t = Transform::new(&from, &tokenize_wildcards(&to)).map_err(|e| {
                ImportError::Transform {
                    kind: LinkKind::Stream,
                    from: from.clone(),
                    to: to.clone(),
                    why: e.to_string(),
                }
            })?;
            transform = Some(t);
            to = untokenize(&to).0;
        }
    }
    let account = accounts[exporter].name.clone();
    let imports = &mut accounts[importer].stream_imports;
    if imports
        .iter()
        .any(|s| s.account == account && s.from == from)
    {
        return Err(ImportError::StreamDuplicate);
    }
    imports.push(StreamImport {
        account,
        from,
        to,
        transform,
        use_pub,
    });
    Ok(())
}

/// Go's AddServiceImport: `to` of the item is the local subject.
fn add_service_import(
    accounts: &mut [AccountConfig],
    importer: usize,
    exporter: usize,
    item: &ImportConfig,
) -> Result<(), ImportError> {
    let to = item.subject.clone();
    let from = if item.to.is_empty() {
        to.clone()
    } else {
        item.to.clone()
    };
    if !is_valid_subject(from.as_bytes()) || !is_valid_subject(to.as_bytes()) {
        return Err(ImportError::InvalidSubject);
    }
    let name = accounts[importer].name.clone();
    if !accounts[exporter].authorizes(&name, LinkKind::Service, &to) {
        return Err(ImportError::NotAuthorized(LinkKind::Service));
    }
    let mut visited = HashSet::from([name]);
    service_cycles(accounts, exporter, &from, &mut visited)?;
    let account = accounts[exporter].name.clone();
    if let Some(dup) = accounts[importer]
        .service_imports
        .iter()
        .find(|s| s.from == from)
    {
        return Err(ImportError::ServiceDuplicate {
            from,
            account: dup.account.clone(),
            to: dup.to.clone(),
        });
    }
    let (mut from, mut to) = (from, to);
    let (mut transform, mut use_pub) = (None, false);
    if !is_literal(to.as_bytes()) {
        if to == from {
            use_pub = true;
        } else {
            to = untokenize(&to).0;
            let t = Transform::new(&to, &tokenize_wildcards(&from)).map_err(|e| {
                ImportError::Transform {
                    kind: LinkKind::Service,
                    from: from.clone(),
                    to: to.clone(),
                    why: e.to_string(),
                }
            })?;
            from = untokenize(&from).0;
            transform = t.reverse();
        }
    }
    accounts[importer].service_imports.push(ServiceImport {
        account,
        from,
        to,
        transform,
        use_pub,
        share: item.share,
    });
    Ok(())
}

/// Go's checkStreamImportsForCycles from account `at`, for messages on
/// `to`.
fn stream_cycles(
    accounts: &[AccountConfig],
    at: usize,
    to: &str,
    visited: &mut HashSet<String>,
) -> Result<(), ImportError> {
    if visited.len() >= MAX_CYCLE_SEARCH_DEPTH {
        return Err(ImportError::SearchDepth);
    }
    let acc = &accounts[at];
    let exports_it = acc
        .exports
        .iter()
        .any(|e| e.kind == LinkKind::Stream && is_subset_match(to, &e.subject));
    if !exports_it {
        return Ok(());
    }
    let mut to = to.to_string();
    for si in &acc.stream_imports {
        if !subjects_collide(&to, &si.to) {
            continue;
        }
        if visited.contains(&si.account) {
            return Err(ImportError::FormsCycle);
        }
        visited.insert(acc.name.clone());
        if is_subset_match(&si.to, &to) {
            to = si.to.clone();
        }
        if let Some(next) = accounts.iter().position(|a| a.name == si.account) {
            stream_cycles(accounts, next, &to, visited)?;
        }
    }
    Ok(())
}

/// Go's checkServiceImportsForCycles from account `at`, for requests on
/// `from`.
fn service_cycles(
    accounts: &[AccountConfig],
    at: usize,
    from: &str,
    visited: &mut HashSet<String>,
) -> Result<(), ImportError> {
    if visited.len() >= MAX_CYCLE_SEARCH_DEPTH {
        return Err(ImportError::SearchDepth);
    }
    let acc = &accounts[at];
    let mut from = from.to_string();
    for si in &acc.service_imports {
        if !subjects_collide(&from, &si.to) {
            continue;
        }
        if visited.contains(&si.account) {
            return Err(ImportError::FormsCycle);
        }
        visited.insert(acc.name.clone());
        if is_subset_match(&si.from, &from) {
            from = si.from.clone();
        }
        if let Some(next) = accounts.iter().position(|a| a.name == si.account) {
            service_cycles(accounts, next, &from, visited)?;
        }
    }
    Ok(())
}

impl AccountConfig {
    /// The export of `kind` a subject falls under: the export of that very
    /// subject, else the first one whose subject contains it.
    pub fn export_of(&self, kind: LinkKind, subject: &str) -> Option<&Export> {
        let of_kind = || self.exports.iter().filter(move |e| e.kind == kind);
        of_kind()
            .find(|e| e.subject == subject)
            .or_else(|| of_kind().find(|e| is_subset_match(subject, &e.subject)))
    }

    /// Whether this account lets `importer` import `subject` of `kind`
    /// (Go's checkStreamImportAuthorized / checkServiceImportAuthorized).
    pub fn authorizes(&self, importer: &str, kind: LinkKind, subject: &str) -> bool {
        if !is_valid_subject(subject.as_bytes()) {
            return false;
        }
        let Some(e) = self.export_of(kind, subject) else {
            return false;
        };
        if e.token_position > 0 {
            // An export matched by its very subject has no tokens to check.
            if e.subject == subject {
                return false;
            }
            let toks: Vec<&str> = subject.split('.').collect();
            let pos = e.token_position as usize;
            return pos <= toks.len() && toks[pos - 1] == importer;
        }
        match &e.approved {
            None => true,
            Some(list) => list.iter().any(|a| a == importer),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::options::tests::load;

    fn error_of(text: &str) -> String {
        load(text).1.unwrap_err().to_string()
    }

    #[test]
    fn imports_resolve_to_subjects_and_transforms() {
        let (o, r) = load(
            "accounts {\n  A { exports [{stream: \"foo.>\"}, {service: \"req.*\", response: stream}] }\n  B { imports [{stream: {account: A, subject: \"foo.>\"}, prefix: p}, {service: {account: A, subject: \"req.*\"}, to: \"ask.*\"}] }\n}\n",
        );
        r.unwrap();
        let b = &o.accounts[1];
        assert_eq!(b.stream_imports[0].to, "p.foo.>");
        assert!(b.stream_imports[0].transform.is_some());
        let si = &b.service_imports[0];
        assert_eq!((si.from.as_str(), si.to.as_str()), ("ask.*", "req.*"));
        assert_eq!(
            si.transform.as_ref().map(|t| t.apply_subject("ask.x")),
            Some("req.x".to_string())
        );
    }

    #[test]
    fn a_chain_past_the_cycle_search_depth_is_refused() {
        let mut text = String::from("accounts {\n");
        for i in 1..=super::MAX_CYCLE_SEARCH_DEPTH + 1 {
            let import = if i > 1 {
                format!(
                    ", imports [{{service: {{account: ACC{}, subject: foo}}}}]",
                    i - 1
                )
            } else {
                String::new()
            };
            text.push_str(&format!(
                "  ACC{i} {{ exports [{{service: \"*\"}}]{import} }}\n"
            ));
        }
        text.push_str("}\n");
        let e = error_of(&text);
        assert!(e.contains("search cycle depth exhausted"), "{e}");
        assert_eq!(e.matches("Error adding").count(), 1, "{e}");
    }

    #[test]
    fn go_errors() {
        let two = |a: &str, b: &str| format!("accounts {{\n  A {{ {a} }}\n  B {{ {b} }}\n}}\n");
        assert!(error_of(&two(
            "exports [{stream: foo, accounts: [C]}]",
            "imports [{stream: {account: A, subject: foo}}]"
        ))
        .contains("\"C\" account not defined for stream export"));
        assert!(error_of(&two(
            "exports [{stream: foo, accounts: [A]}]",
            "imports [{stream: {account: A, subject: foo}}]"
        ))
        .contains("Error adding stream import \"foo\": stream import not authorized"));
        assert!(error_of(&two(
            "exports [{stream: \"foo.>\"}]",
            "imports [{stream: {account: A, subject: \"foo.>\"}, prefix: \"p.*\"}]"
        ))
        .contains("stream import prefix can not contain wildcard tokens"));
        assert!(error_of(&two(
            "exports [{service: foo}], imports [{service: {account: B, subject: bar}, to: foo}]",
            "exports [{service: bar}], imports [{service: {account: A, subject: foo}, to: bar}]"
        ))
        .contains("import forms a cycle"));
        assert!(error_of(&two(
            "exports [{service: \"a.>\", latency: \"lat\", response: chunked}]",
            ""
        ))
        .contains("bad service response type"));
    }
}
