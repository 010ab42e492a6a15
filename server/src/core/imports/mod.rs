//! Imports and exports between accounts at run time.
//!
//! A stream import makes a subscriber of the importing account also a
//! subscriber in the exporting account: its subscription gets a shadow
//! copy there ([`shadow`]), which delivers on the importer's subject. A
//! service import is a subscription of the importing account's internal
//! connection on the imported subject: the router hands a request that
//! matches it to the exporting account, with a reply subject of that
//! account's (`_R_.…`) that maps the responses back ([`responses`]).
//!
//! What is imported and exported comes resolved from the options
//! (`options::links`); [`install`] builds it for every account at start-up
//! and again at a reload.

pub mod info;
pub mod latency;
pub mod responses;
pub mod shadow;

use super::account::Account;
use super::connection::{Connection, Subscription};
use crate::options::links::{self, LatencyConfig, ResponseType};
use crate::options::Options;
use bytes::Bytes;
use natsd_proto::mapping::Transform;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

/// A service export as the router uses it.
#[derive(Debug)]
pub struct ServiceExport {
    pub subject: String,
    pub response: ResponseType,
    pub threshold: Duration,
    pub latency: Option<LatencyConfig>,
}

/// A stream import of an account.
pub struct StreamImport {
    pub exporter: Arc<Account>,
    pub from: String,
    pub to: String,
    transform: Option<Transform>,
    /// The transform from `to` back to `from`, for shadow subjects.
    reverse: Option<Transform>,
    use_pub: bool,
}

impl StreamImport {
    /// The subject a message published on `subject` in the exporting
    /// account is delivered on to the importer's subscribers.
    pub fn delivered_subject<'a>(&self, subject: &'a [u8]) -> Cow<'a, [u8]> {
        if let Some(t) = &self.transform {
            let s = String::from_utf8_lossy(subject);
            return Cow::Owned(t.apply_subject(&s).into_bytes());
        }
        if self.use_pub {
            Cow::Borrowed(subject)
        } else {
            Cow::Owned(self.to.as_bytes().to_vec())
        }
    }
}

/// A service import of an account.
pub struct ServiceImport {
    pub exporter: Arc<Account>,
    /// The subject requests are published on in the importing account.
    pub from: String,
    /// The subject they are delivered on in the exporting account.
    pub to: String,
    transform: Option<Transform>,
    use_pub: bool,
    pub share: bool,
    pub export: Option<Arc<ServiceExport>>,
}

impl ServiceImport {
    /// The exporter's subject for a request published on `subject`.
    pub fn target_subject(&self, subject: &[u8]) -> String {
        let s = String::from_utf8_lossy(subject);
        match &self.transform {
            Some(t) => t.apply_subject(&s),
            None if self.use_pub => s.into_owned(),
            None => self.to.clone(),
        }
    }

    pub fn response_type(&self) -> ResponseType {
        self.export
            .as_ref()
            .map_or(ResponseType::Singleton, |e| e.response)
    }
}

/// What a subscription of an account's internal connection does with a
/// message.
pub enum ServiceRole {
    /// Passes requests to the exporting account.
    Import(Arc<ServiceImport>),
    /// Passes responses (`_R_.<prefix>.>`) back to the requestors.
    Responses,
}

/// An account's imports and exports, replaced whole by a reload.
#[derive(Default)]
pub struct Links {
    pub stream_imports: Vec<Arc<StreamImport>>,
    pub service_imports: Vec<Arc<ServiceImport>>,
    pub service_exports: Vec<Arc<ServiceExport>>,
}

/// Builds every configured account's imports and exports from `o`: the
/// service imports subscribe through the account's internal connection
/// (`internal` gives it), and the subscribers of an account whose stream
/// imports changed get their shadows again.
pub fn install(
    accounts: &[Arc<Account>],
    o: &Options,
    mut internal: impl FnMut(&Arc<Account>) -> Arc<Connection>,
) {
    let find = |name: &str| accounts.iter().find(|a| a.name == name).cloned();
    let system = accounts.iter().find(|a| a.is_system()).cloned();
    for acc in accounts {
        let configured = o.accounts.iter().find(|a| a.name == acc.name);
        let mut service_exports: Vec<Arc<ServiceExport>> = configured
            .into_iter()
            .flat_map(|c| c.exports.iter())
            .filter(|e| e.kind == links::LinkKind::Service)
            .map(|e| {
                Arc::new(ServiceExport {
                    subject: e.subject.clone(),
                    response: e.response,
                    threshold: e.threshold,
                    latency: e.latency.clone(),
                })
            })
            .collect();
        if acc.is_system() {
            add_system_exports(&mut service_exports);
            if o.jetstream && !service_exports.iter().any(|e| e.subject == JS_API) {
                service_exports.push(Arc::new(ServiceExport {
                    subject: JS_API.to_string(),
                    response: ResponseType::Singleton,
                    threshold: links::DEFAULT_RESPONSE_THRESHOLD,
                    latency: None,
                }));
            }
        }
        let old = acc.links.read().clone();
        let mut new = Links {
            service_exports,
            ..Default::default()
        };
        // Exports first: imports of this account's own services look them up.
        *acc.links.write() = Arc::new(Links {
            service_exports: new.service_exports.clone(),
            ..Default::default()
        });
        for s in configured.into_iter().flat_map(|c| c.stream_imports.iter()) {
            let Some(exporter) = find(&s.account) else {
                continue;
            };
            new.stream_imports.push(Arc::new(StreamImport {
                exporter,
                from: s.from.clone(),
                to: s.to.clone(),
                reverse: s.transform.as_ref().and_then(Transform::reverse),
                transform: s.transform.clone(),
                use_pub: s.use_pub,
            }));
        }
        if let Some(system) = system.as_ref().filter(|s| !Arc::ptr_eq(s, acc)) {
            new.service_imports.extend(system_imports(acc, system));
            if o.jetstream && !jetstream_api_shadowed(configured) {
                new.service_imports.push(jetstream_api_import(system));
            }
        }
        for s in configured
            .into_iter()
            .flat_map(|c| c.service_imports.iter())
        {
            let Some(exporter) = find(&s.account) else {
                continue;
            };
            new.service_imports.push(Arc::new(ServiceImport {
                export: None,
                exporter,
                from: s.from.clone(),
                to: s.to.clone(),
                transform: s.transform.clone(),
                use_pub: s.use_pub,
                share: s.share,
            }));
        }
        let streams_changed = !same_stream_imports(&old.stream_imports, &new.stream_imports);
        *acc.links.write() = Arc::new(new);
        if streams_changed {
            shadow::refresh_account(acc);
        }
    }
    // Service imports find their exports once every account has its own.
    for acc in accounts {
        let links = acc.links.read().clone();
        if links.service_imports.is_empty() && !acc.has_import_subs() {
            continue;
        }
        let resolved: Vec<Arc<ServiceImport>> = links
            .service_imports
            .iter()
            .map(|si| Arc::new(si.with_export()))
            .collect();
        *acc.links.write() = Arc::new(Links {
            stream_imports: links.stream_imports.clone(),
            service_imports: resolved.clone(),
            service_exports: links.service_exports.clone(),
        });
        let ic = internal(acc);
        acc.replace_import_subs(&ic, &resolved);
    }
}

/// The JetStream API, which the system account exports and every other
/// account imports when JetStream is on.
const JS_API: &str = "$JS.API.>";

/// Whether the account imports the JetStream API from another account
/// (Go then leaves the system's import out).
fn jetstream_api_shadowed(configured: Option<&crate::options::AccountConfig>) -> bool {
    configured.is_some_and(|c| {
        c.service_imports
            .iter()
            .any(|i| natsd_proto::subject::is_subset_match("$JS.API.INFO", &i.from))
    })
}

fn jetstream_api_import(system: &Arc<Account>) -> Arc<ServiceImport> {
    Arc::new(ServiceImport {
        exporter: system.clone(),
        from: JS_API.to_string(),
        to: JS_API.to_string(),
        transform: None,
        use_pub: true,
        share: false,
        export: None,
    })
}

/// The services the system account exports to every account, unless its
/// configuration exports them itself.
fn add_system_exports(exports: &mut Vec<Arc<ServiceExport>>) {
    for (subject, response) in natsd_proto::system::SYSTEM_EXPORTS {
        if exports.iter().any(|e| e.subject == subject) {
            continue;
        }
        let response = match response {
            "Streamed" => ResponseType::Streamed,
            _ => ResponseType::Singleton,
        };
        exports.push(Arc::new(ServiceExport {
            subject: subject.to_string(),
            response,
            threshold: links::DEFAULT_RESPONSE_THRESHOLD,
            latency: None,
        }));
    }
}

/// The system services every other account imports: a request on the
/// account's `$SYS.REQ.…PING` subject becomes the system account's
/// request about that account.
fn system_imports(acc: &Account, system: &Arc<Account>) -> Vec<Arc<ServiceImport>> {
    natsd_proto::system::SYSTEM_IMPORTS
        .iter()
        .map(|i| {
            Arc::new(ServiceImport {
                exporter: system.clone(),
                from: i.subject.to_string(),
                to: natsd_proto::system::import_target(&acc.name, i.req),
                transform: None,
                use_pub: false,
                share: false,
                export: None,
            })
        })
        .collect()
}

impl ServiceImport {
    /// This import with the exporter's service export it falls under.
    fn with_export(&self) -> ServiceImport {
        let exports = self.exporter.links.read().service_exports.clone();
        let export = exports
            .iter()
            .find(|e| e.subject == self.to)
            .or_else(|| {
                exports
                    .iter()
                    .find(|e| natsd_proto::subject::is_subset_match(&self.to, &e.subject))
            })
            .cloned();
        ServiceImport {
            exporter: self.exporter.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            transform: self.transform.clone(),
            use_pub: self.use_pub,
            share: self.share,
            export,
        }
    }
}

fn same_stream_imports(a: &[Arc<StreamImport>], b: &[Arc<StreamImport>]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| Arc::ptr_eq(&x.exporter, &y.exporter) && x.from == y.from && x.to == y.to)
}

/// A subscription of an internal connection for a service import or for
/// responses.
pub fn service_subscription(
    ic: &Arc<Connection>,
    subject: &str,
    sid: u64,
    role: ServiceRole,
) -> Arc<Subscription> {
    let mut sub = Subscription::new(
        ic.clone(),
        Bytes::copy_from_slice(subject.as_bytes()),
        None,
        Bytes::from(sid.to_string()),
    );
    sub.service = Some(role);
    Arc::new(sub)
}
