//! The `exports` and `imports` blocks of one account, checked key by key
//! in file order (Go's map order is random; file order is one of its
//! orders), with Go's errors.

use super::{ExportConfig, ImportConfig, LatencyConfig, LinkKind, ResponseType, Sampling};
use crate::config::{Map, Node, Value};
use crate::options::duration::parse_go_duration;
use crate::options::ConfigErrors;
use natsd_proto::quote::go_quote;

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

/// Each element must be a map; yields the elements and their maps.
fn item_maps<'a>(
    list: &'a [Node],
    what: &str,
    errs: &mut ConfigErrors,
) -> Vec<(&'a Node, &'a Map)> {
    let mut out = Vec::new();
    for item in list {
        match &item.value {
            Value::Map(m) => out.push((item, m)),
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
/// `latency: { sampling, subject }`), checked as Go checks it; None when
/// it is malformed.
fn check_latency(v: &Node, errs: &mut ConfigErrors) -> Option<LatencyConfig> {
    let m = match &v.value {
        Value::Str(subject) => {
            return Some(LatencyConfig {
                sampling: Sampling::Percent(100),
                subject: subject.clone(),
            })
        }
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
    let mut sampling = Sampling::Percent(100);
    if let Some(node) = m.get("sampling") {
        let sample = match &node.value {
            Value::Int(n) => Some(*n),
            Value::Str(s) if s.trim().eq_ignore_ascii_case("headers") => None,
            Value::Str(s) => {
                let digits = s.strip_suffix('%').unwrap_or(s);
                match digits.parse::<i64>() {
                    Ok(n) => Some(n),
                    Err(_) => {
                        errs.error(
                            node,
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
                    node,
                    format!(
                        "Expected latency sample to be a string or map/struct, got {}",
                        other.kind_name()
                    ),
                );
                return None;
            }
        };
        sampling = match sample {
            None => Sampling::Headers,
            Some(n) if (1..=100).contains(&n) => Sampling::Percent(n as u8),
            Some(_) => {
                errs.error(node, "bad sampling percentage, should be 1-100".into());
                return None;
            }
        };
    }
    match m.get("subject") {
        None => {
            errs.error(v, "Latency subject required, but missing".into());
            None
        }
        Some(subject) => match &subject.value {
            Value::Str(s) => Some(LatencyConfig {
                sampling,
                subject: s.clone(),
            }),
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

/// Checks the exports; returns those well-formed.
pub fn exports(node: &Node, errs: &mut ConfigErrors) -> Vec<ExportConfig> {
    let Some(list) = items(node, "Exports", errs) else {
        return Vec::new();
    };
    item_maps(list, "Export", errs)
        .into_iter()
        .filter_map(|(_, m)| {
            let item = check_export_item(m, errs);
            let (kind, subject) = item.export?;
            let service = kind == LinkKind::Service;
            Some(ExportConfig {
                kind,
                subject,
                accounts: item.accounts,
                token_position: item.token_position,
                response: if service {
                    item.response
                } else {
                    ResponseType::Singleton
                },
                threshold: item.threshold.filter(|_| service),
                latency: item.latency.filter(|_| service),
            })
        })
        .collect()
}

/// What one export item declares.
#[derive(Default)]
struct ExportItem {
    export: Option<(LinkKind, String)>,
    accounts: Vec<String>,
    token_position: u32,
    response: ResponseType,
    threshold: Option<std::time::Duration>,
    latency: Option<LatencyConfig>,
}

/// Checks one export item key by key, in file order (Go's map order is
/// random; file order is one of its orders), with Go's errors.
fn check_export_item(m: &Map, errs: &mut ConfigErrors) -> ExportItem {
    const NOT_SERVICE: &str = "Detected response directive on non-service";
    let mut item = ExportItem::default();
    let (mut response_at, mut latency_at): (Option<&Node>, Option<&Node>) = (None, None);
    let mut threshold_seen = false;
    let is =
        |item: &ExportItem, kind: &str| item.export.as_ref().is_some_and(|(k, _)| k.noun() == kind);
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
                            go_quote(crate::options::users::go_value(&v.value).as_bytes())
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
                    Some(subject) => {
                        let kind = if kind == "stream" {
                            LinkKind::Stream
                        } else {
                            LinkKind::Service
                        };
                        item.export = Some((kind, subject.to_string()))
                    }
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
                item.response = match rt.to_lowercase().as_str() {
                    "single" | "singleton" => ResponseType::Singleton,
                    "stream" => ResponseType::Streamed,
                    "chunk" | "chunked" => ResponseType::Chunked,
                    _ => {
                        errs.error(
                            v,
                            format!("Unknown response type: {}", go_quote(rt.as_bytes())),
                        );
                        continue;
                    }
                };
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
                    Some((_, Ok(ns))) => {
                        item.threshold = Some(std::time::Duration::from_nanos(ns.max(0) as u64))
                    }
                }
            }
            "accounts" => item.accounts = account_names(v, errs),
            "latency" => {
                latency_at = Some(v);
                let Some(latency) = check_latency(v, errs) else {
                    continue;
                };
                if is(&item, "stream") {
                    errs.error(v, "Detected latency directive on non-service".into());
                    continue;
                }
                item.latency = Some(latency);
            }
            "account_token_position" => match v.value {
                Value::Int(n) => item.token_position = n.clamp(0, u32::MAX as i64) as u32,
                _ => errs.error(v, crate::options::type_mismatch(&v.value, "int64")),
            },
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
        errs.error(v, crate::options::type_mismatch(&v.value, "[]interface {}"));
        return Vec::new();
    };
    let mut names = Vec::new();
    for item in items {
        match &item.value {
            Value::Str(name) => names.push(name.clone()),
            other => errs.error(item, crate::options::type_mismatch(other, "string")),
        }
    }
    names
}

/// Checks the imports; returns those well-formed. `to`, `prefix` and
/// `share` apply to the stream or service seen before or after them, as in
/// Go.
pub fn imports(node: &Node, errs: &mut ConfigErrors) -> Vec<ImportConfig> {
    let Some(list) = items(node, "Imports", errs) else {
        return Vec::new();
    };
    let mut out: Vec<ImportConfig> = Vec::new();
    for (node, m) in item_maps(list, "Import", errs) {
        let Some(import) = check_import_item(m, errs) else {
            continue;
        };
        let local = |i: &ImportConfig| {
            if i.to.is_empty() {
                i.subject.clone()
            } else {
                i.to.clone()
            }
        };
        let dup = (import.kind == LinkKind::Service)
            .then(|| {
                out.iter()
                    .find(|i| i.kind == LinkKind::Service && local(i) == local(&import))
            })
            .flatten();
        if let Some(dup) = dup {
            errs.error(
                node,
                format!(
                    "Duplicate service import subject {}, previously used in import for account {}, subject {}",
                    go_quote(local(&import).as_bytes()),
                    go_quote(dup.account.as_bytes()),
                    go_quote(dup.subject.as_bytes())
                ),
            );
            continue;
        }
        out.push(import);
    }
    out
}

fn check_import_item(m: &Map, errs: &mut ConfigErrors) -> Option<ImportConfig> {
    let mut import: Option<ImportConfig> = None;
    let (mut to, mut prefix, mut share) = (String::new(), String::new(), false);
    for (k, v) in m.iter() {
        let key = k.to_lowercase();
        match key.as_str() {
            "stream" | "service" => {
                let kind = if key == "stream" {
                    LinkKind::Stream
                } else {
                    LinkKind::Service
                };
                if let Some(seen) = &import {
                    errs.error(
                        v,
                        format!("Detected {key} but already saw a {}", seen.kind.noun()),
                    );
                    continue;
                }
                let Value::Map(src) = &v.value else {
                    let title = if kind == LinkKind::Stream {
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
                        import = Some(ImportConfig {
                            kind,
                            account: a.to_string(),
                            subject: s.to_string(),
                            to: to.clone(),
                            prefix: if kind == LinkKind::Stream {
                                prefix.clone()
                            } else {
                                String::new()
                            },
                            share: kind == LinkKind::Service && share,
                        });
                    }
                    _ => errs.error(v, "Expect an account name and a subject".into()),
                }
            }
            "prefix" => {
                prefix = v.as_str().unwrap_or_default().to_string();
                if let Some(i) = import.as_mut().filter(|i| i.kind == LinkKind::Stream) {
                    i.prefix = prefix.clone();
                }
            }
            "to" => {
                to = v.as_str().unwrap_or_default().to_string();
                if let Some(i) = import.as_mut() {
                    i.to = to.clone();
                    if i.kind == LinkKind::Stream && !i.prefix.is_empty() {
                        errs.error(
                            v,
                            "Stream import can not have a 'prefix' and a 'to' property".into(),
                        );
                    }
                }
            }
            "share" => {
                share = matches!(v.value, Value::Bool(true));
                if let Some(i) = import.as_mut().filter(|i| i.kind == LinkKind::Service) {
                    i.share = share;
                }
            }
            _ => {
                if !v.used_variable {
                    errs.unknown(v, k);
                }
            }
        }
    }
    import
}
