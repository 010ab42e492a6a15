//! Imports, exports and pending responses of an account as `/accountz`
//! (and `$SYS.REQ.ACCOUNT.<acc>.INFO`) list them, in Go's JSON shapes:
//! the system account's own services and those of the configuration.

use crate::core::account::Account;
use crate::options::links::{Export, LinkKind, Sampling};
use crate::options::Options;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
pub struct ExportInfo {
    subject: String,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_latency: Option<LatencyInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    approved_accounts: Vec<String>,
}

#[derive(Serialize)]
pub struct LatencyInfo {
    sampling: serde_json::Value,
    results: String,
}

#[derive(Serialize)]
pub struct ImportInfo {
    subject: String,
    account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    to: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    local_subject: String,
    /// "stream" or "service"; Go writes the response entries' type as
    /// its number (2).
    #[serde(rename = "type")]
    kind: serde_json::Value,
    invalid: bool,
    share: bool,
    tracking: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency: Option<LatencyInfo>,
}

fn latency_of(e: Option<&crate::options::links::LatencyConfig>) -> Option<LatencyInfo> {
    e.map(|l| LatencyInfo {
        sampling: match l.sampling {
            Sampling::Percent(n) => serde_json::Value::from(n),
            Sampling::Headers => serde_json::Value::from("headers"),
        },
        results: l.subject.clone(),
    })
}

/// The account's exports: services, then streams.
pub fn exports(o: &Options, acc: &Account, system_account: &str) -> Vec<ExportInfo> {
    let mut out = Vec::new();
    if !system_account.is_empty() && acc.name == system_account {
        out.extend(
            natsd_proto::system::SYSTEM_EXPORTS
                .iter()
                .map(|(subject, response_type)| ExportInfo {
                    subject: subject.to_string(),
                    kind: "service",
                    response_type: Some(response_type),
                    service_latency: None,
                    approved_accounts: Vec::new(),
                }),
        );
    }
    let configured: Vec<&Export> = o
        .accounts
        .iter()
        .filter(|a| a.name == acc.name)
        .flat_map(|a| a.exports.iter())
        .collect();
    for kind in [LinkKind::Service, LinkKind::Stream] {
        for e in configured.iter().filter(|e| e.kind == kind) {
            if out
                .iter()
                .any(|x| x.subject == e.subject && x.kind == kind.noun())
            {
                continue;
            }
            out.push(ExportInfo {
                subject: e.subject.clone(),
                kind: kind.noun(),
                response_type: (kind == LinkKind::Service).then(|| e.response.go_name()),
                service_latency: latency_of(e.latency.as_ref()),
                approved_accounts: e.approved.clone().unwrap_or_default(),
            });
        }
    }
    out
}

/// The account's imports: streams, then services (the system's first).
pub fn imports(acc: &Account) -> Vec<ImportInfo> {
    let links = acc.links.read().clone();
    let mut out: Vec<ImportInfo> = links
        .stream_imports
        .iter()
        .map(|s| ImportInfo {
            subject: s.from.clone(),
            account: s.exporter.name.clone(),
            to: String::new(),
            local_subject: s.to.clone(),
            kind: "stream".into(),
            invalid: false,
            share: false,
            tracking: false,
            latency: None,
        })
        .collect();
    out.extend(links.service_imports.iter().map(|s| ImportInfo {
        subject: s.from.clone(),
        account: s.exporter.name.clone(),
        to: s.to.clone(),
        local_subject: String::new(),
        kind: "service".into(),
        invalid: false,
        share: s.share,
        tracking: false,
        latency: latency_of(s.export.as_ref().and_then(|e| e.latency.as_ref())),
    }));
    out
}

/// The responses the account expects, by reply subject.
pub fn responses(acc: &Account) -> BTreeMap<String, ImportInfo> {
    acc.responses
        .entries()
        .into_iter()
        .map(|(reply, r)| {
            let info = ImportInfo {
                subject: reply.clone(),
                account: r.requestor.name.clone(),
                to: r.to.clone(),
                local_subject: String::new(),
                kind: 2.into(),
                invalid: false,
                share: r.share,
                tracking: false,
                latency: None,
            };
            (reply, info)
        })
        .collect()
}
