//! Go's processServiceImport: a message that matched a service import's
//! subscription (a request) or an account's responses subscription (a
//! response) is routed again, into the other account: on the exporter's
//! subject with a reply subject of the exporter's that maps back, and the
//! requestor's details in a `Nats-Request-Info` header; or to the
//! requestor's own reply subject. Singleton responses end their entry;
//! measured requests report their latency.

use super::{Message, Router, SizeText};
use crate::core::account::Account;
use crate::core::connection::Connection;
use crate::core::imports::info::{self, RequestInfo};
use crate::core::imports::latency::{self, Advisory, Failure, Tracking};
use crate::core::imports::responses::{Expected, ResponseImport};
use crate::core::imports::{ServiceExport, ServiceRole};
use crate::options::links::{LatencyConfig, ResponseType};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Most service imports one message goes through (imports that feed each
/// other without forming a cycle Go detects still end here).
const MAX_SERVICE_HOPS: usize = 32;

/// Where one message goes across a service import or back as a response.
struct Hop {
    /// The account it goes into: the exporter, or the requestor.
    target: Arc<Account>,
    /// Its subject there.
    to: String,
    response_type: ResponseType,
    export: Option<Arc<ServiceExport>>,
    share: bool,
    /// Set for a response: the entry it answers.
    response: Option<Arc<ResponseImport>>,
    latency: Option<LatencyConfig>,
}

impl Hop {
    /// The hop for `m`, published in `acc`; None for a response nobody
    /// expects (any more).
    fn of(acc: &Account, role: &ServiceRole, m: &Message) -> Option<Hop> {
        Some(match role {
            ServiceRole::Import(si) => Hop {
                target: si.exporter.clone(),
                to: si.target_subject(m.subject),
                response_type: si.response_type(),
                export: si.export.clone(),
                share: si.share,
                response: None,
                latency: si.export.as_ref().and_then(|e| e.latency.clone()),
            },
            ServiceRole::Responses => {
                let rsi = acc.responses.get(m.subject)?;
                Hop {
                    target: rsi.requestor.clone(),
                    to: rsi.to.clone(),
                    response_type: rsi.response,
                    export: rsi.export.clone(),
                    share: rsi.share,
                    latency: None,
                    response: Some(rsi),
                }
            }
        })
    }

    /// The export's identity, which a message passes once (Go's cycle
    /// check on service imports): 0 for none.
    fn export_id(&self) -> usize {
        self.export.as_ref().map_or(0, |e| Arc::as_ptr(e) as usize)
    }
}

impl Router {
    /// Passes `m`, which matched `role`'s subscription in `acc`, across.
    pub(super) fn serve(
        &mut self,
        acc: &Arc<Account>,
        from: &Arc<Connection>,
        role: &ServiceRole,
        m: &Message,
    ) {
        let Some(hop) = Hop::of(acc, role, m) else {
            return;
        };
        let export_id = hop.export_id();
        if self.hops.len() >= MAX_SERVICE_HOPS || self.hops.iter().any(|(id, _)| *id == export_id) {
            return;
        }
        let (reply, new_response) = self.expect_response(acc, from, &hop, m);
        if let Some(rsi) = &hop.response {
            report_latency(acc, from, rsi);
        }
        let to = self
            .mapped_subject(&hop.target, hop.to.as_bytes())
            .unwrap_or_else(|| hop.to.clone());
        let prev_share = self.hops.last().map(|(_, s)| *s);
        let header = hop
            .response
            .is_none()
            .then(|| request_info(acc, from, m, &hop.target, hop.share, prev_share))
            .flatten();
        let (buf, hdr);
        let (payload, hdr_len) = match header {
            Some(json) => {
                (buf, hdr) = info::set_header(m.hdr, m.payload, info::HEADER, &json);
                (&buf[..], hdr)
            }
            None => (m.payload, m.hdr),
        };
        let sizes = SizeText::new(hdr_len, payload.len());
        let reply = reply.as_deref().map(str::as_bytes);
        let nested = sizes.message(to.as_bytes(), reply, hdr_len, payload);
        self.hops.push((export_id, hop.share));
        let r = hop.target.sublist.match_subject(nested.subject);
        let delivered = self.route_to(&hop.target, from, &nested, &r);
        self.hops.pop();
        settle(acc, &hop, m, delivered, new_response);
    }

    /// The reply subject the message carries across: for a request with a
    /// reply, a new expected response in the target account (measured if
    /// sampled), also returned as the entry to settle. A measured request
    /// without a reply is reported as a bad request.
    fn expect_response(
        &mut self,
        acc: &Arc<Account>,
        from: &Arc<Connection>,
        hop: &Hop,
        m: &Message,
    ) -> (Option<String>, Option<String>) {
        let (sampled, trace) = match &hop.latency {
            Some(l) => latency::should_sample(l, &m.payload[..m.hdr.max(0) as usize]),
            None => (false, None),
        };
        let Some(r) = m.reply.filter(|r| !r.is_empty()) else {
            if let (Some(l), true, None) = (&hop.latency, sampled, &hop.response) {
                let a = Advisory::bad_request(from, hop.share, trace);
                latency::publish(from, &hop.target, l, &a);
            }
            return (None, None);
        };
        if r.starts_with(b"$JS.ACK") {
            return (Some(String::from_utf8_lossy(r).into_owned()), None);
        }
        subscribe_responses(&hop.target, from);
        let tracking = match (&hop.latency, sampled, from.owner()) {
            (Some(l), true, Some(owner)) => Some((
                Tracking {
                    latency: l.clone(),
                    requestor: from.clone(),
                    share: hop.share,
                    header: trace,
                    started: Instant::now(),
                    started_wall: SystemTime::now(),
                },
                owner.server_hash(),
            )),
            _ => None,
        };
        let key = hop.target.responses.add(Expected {
            requestor: acc.clone(),
            to: String::from_utf8_lossy(r).into_owned(),
            response: hop.response_type,
            export: hop.export.clone(),
            share: hop.share,
            tracking,
        });
        acc.waiting.add(r, hop.target.clone(), key.clone());
        watch_threshold(&hop.target, &key);
        (Some(key.clone()), Some(key))
    }
}

/// The first response to a measured request reports its latency.
fn report_latency(acc: &Arc<Account>, responder: &Connection, rsi: &ResponseImport) {
    let Some(t) = rsi.tracked_undelivered() else {
        return;
    };
    if !rsi.delivered.swap(true, Ordering::AcqRel) {
        t.send(acc, &Advisory::response(t, responder));
    }
}

/// After the hop: a response entry lives on for streams and chunks, and
/// goes with a singleton's response, an empty (EOF) response, or when
/// nothing took the message; a request nothing took drops the entry made
/// for it (reported if measured).
fn settle(acc: &Account, hop: &Hop, m: &Message, delivered: bool, new_response: Option<String>) {
    if let Some(rsi) = &hop.response {
        if delivered && hop.response_type != ResponseType::Singleton {
            rsi.touch();
        }
        let done = hop.response_type == ResponseType::Singleton || m.payload.is_empty();
        if !delivered || done {
            let key = String::from_utf8_lossy(m.subject);
            acc.responses.remove(&key);
            rsi.requestor.waiting.remove(&rsi.to, &key);
        }
        return;
    }
    let Some(key) = new_response.filter(|_| !delivered) else {
        return;
    };
    if let Some(rsi) = hop.target.responses.remove(&key) {
        if let Some(t) = rsi.tracked_undelivered() {
            t.send(&hop.target, &Advisory::failure(t, Failure::NoDelivery));
        }
    }
    if let Some(r) = m.reply {
        acc.waiting.remove(&String::from_utf8_lossy(r), &key);
    }
}

/// The wildcard subscription of `acc`'s responses, made with its reply
/// prefix.
fn subscribe_responses(acc: &Arc<Account>, from: &Connection) {
    let (prefix, made) = acc.responses.prefix();
    if !made {
        return;
    }
    let Some(owner) = from.owner() else { return };
    let ic = owner.internal_connection(acc);
    acc.subscribe_internal(&ic, &format!("{prefix}>"), ServiceRole::Responses);
}

/// Reports a measured request whose response does not come within its
/// export's threshold (Go's response threshold timer).
fn watch_threshold(exporter: &Arc<Account>, key: &str) {
    let Some(threshold) = exporter
        .responses
        .get(key.as_bytes())
        .filter(|r| r.tracking.is_some())
        .map(|r| r.threshold)
    else {
        return;
    };
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let (exporter, key) = (exporter.clone(), key.to_string());
    rt.spawn(async move {
        tokio::time::sleep(threshold + Duration::from_millis(1)).await;
        let Some(rsi) = exporter.responses.take_expired(&key) else {
            return;
        };
        rsi.requestor.waiting.remove(&rsi.to, &key);
        if let Some(t) = rsi.tracked_undelivered() {
            t.send(&exporter, &Advisory::failure(t, Failure::Timeout));
        }
    });
}

/// The `Nats-Request-Info` header value for a request from `from` into
/// `acc` crossing to `target`: the requestor's details, or those an
/// earlier import put in the header, naming `acc` as the service.
fn request_info(
    acc: &Account,
    from: &Connection,
    m: &Message,
    target: &Account,
    share: bool,
    prev_share: Option<bool>,
) -> Option<String> {
    let to_system = target.is_system();
    let ci = match prev_share {
        Some(prev) if m.hdr > 0 => {
            let head = &m.payload[..m.hdr as usize];
            let mut ci: RequestInfo =
                serde_json::from_slice(info::get_header(head, info::HEADER)?).ok()?;
            ci.svc = acc.name.clone();
            if !prev && (share || to_system) {
                ci.add_server(from);
            }
            ci
        }
        _ => {
            let share = prev_share.unwrap_or(share);
            let mut ci = RequestInfo::of(from, share)?;
            if !share && to_system {
                ci.add_server(from);
            }
            ci
        }
    };
    serde_json::to_string(&ci).ok()
}
