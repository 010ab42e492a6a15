//! Service latency tracking: which requests through a service import are
//! measured (Go's shouldSample, by percentage or by trace headers), and
//! the advisory the exporting account gets on its latency subject, for a
//! response (200) or a request that got none (400, 408, 503, 504).

use super::info::RequestInfo;
use crate::core::account::Account;
use crate::core::connection::Connection;
use crate::options::links::{LatencyConfig, Sampling};
use rand::Rng;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The trace headers that decided a sample, by canonical key.
pub type TraceHeader = BTreeMap<String, Vec<String>>;

/// A measured request: who asked, when, and why it was sampled.
pub struct Tracking {
    pub latency: LatencyConfig,
    pub requestor: Arc<Connection>,
    pub share: bool,
    pub header: Option<TraceHeader>,
    pub started: Instant,
    pub started_wall: SystemTime,
}

/// Why a measured request got no response.
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    /// 408: the requestor stopped listening for the response.
    InterestLost,
    /// 503: nothing in the exporting account took the request.
    NoDelivery,
    /// 504: no response within the export's threshold.
    Timeout,
}

/// Go's ServiceLatency advisory.
#[derive(Serialize)]
pub struct Advisory {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: String,
    status: u16,
    #[serde(rename = "description", skip_serializing_if = "str::is_empty")]
    error: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    requestor: Option<RequestInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    responder: Option<RequestInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<TraceHeader>,
    start: String,
    service: i64,
    system: i64,
    total: i64,
}

const TYPE: &str = "io.nats.server.metric.v1.service_latency";

impl Advisory {
    fn new(status: u16, error: &'static str, start: SystemTime) -> Advisory {
        Advisory {
            kind: TYPE,
            id: nuid::next().to_string(),
            timestamp: natsd_proto::gojson::rfc3339(SystemTime::now()),
            status,
            error,
            requestor: None,
            responder: None,
            header: None,
            start: natsd_proto::gojson::rfc3339(start),
            service: 0,
            system: 0,
            total: 0,
        }
    }

    pub fn json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A response from `responder` to the tracked request.
    pub fn response(t: &Tracking, responder: &Connection) -> Advisory {
        let now = Instant::now();
        let requestor = RequestInfo::of(&t.requestor, t.share);
        let responder = RequestInfo::of(responder, true);
        let req_rtt = requestor.as_ref().map_or(0, |r| r.rtt as i64);
        let resp_rtt = responder.as_ref().map_or(0, |r| r.rtt as i64);
        let service_rtt = nanos(now.saturating_duration_since(t.started));
        let mut a = Advisory::new(200, "", back(t.started_wall, req_rtt));
        a.service = (service_rtt - resp_rtt).max(0);
        a.total = req_rtt + service_rtt;
        if resp_rtt > 0 {
            a.system = nanos(now.elapsed());
            a.total += a.system;
        }
        a.header = t.header.clone();
        a.requestor = requestor;
        a.responder = responder;
        a
    }

    /// A request without a reply subject (400).
    pub fn bad_request(
        requestor: &Connection,
        share: bool,
        header: Option<TraceHeader>,
    ) -> Advisory {
        let info = RequestInfo::of(requestor, share);
        let rtt = info.as_ref().map_or(0, |r| r.rtt as i64);
        let mut a = Advisory::new(400, "Bad Request", back(SystemTime::now(), rtt));
        a.header = header;
        a.requestor = info;
        a
    }

    /// A tracked request that got no response.
    pub fn failure(t: &Tracking, why: Failure) -> Advisory {
        let (status, error) = match why {
            Failure::InterestLost => (408, "Request Timeout"),
            Failure::NoDelivery => (503, "Service Unavailable"),
            Failure::Timeout => (504, "Service Timeout"),
        };
        let requestor = RequestInfo::of(&t.requestor, t.share);
        let rtt = requestor.as_ref().map_or(0, |r| r.rtt as i64);
        let mut a = Advisory::new(status, error, back(t.started_wall, rtt));
        a.header = t.header.clone();
        a.requestor = requestor;
        a
    }
}

impl Tracking {
    /// Publishes `a` on the latency subject in `exporter`.
    pub fn send(&self, exporter: &Arc<Account>, a: &Advisory) {
        publish(&self.requestor, exporter, &self.latency, a);
    }
}

/// Publishes `a` on `l`'s subject in `exporter`, through the server that
/// runs `via`.
pub fn publish(via: &Connection, exporter: &Arc<Account>, l: &LatencyConfig, a: &Advisory) {
    if let Some(owner) = via.owner() {
        owner.account_message(exporter, &l.subject, a.json());
    }
}

fn nanos(d: Duration) -> i64 {
    d.as_nanos().min(i64::MAX as u128) as i64
}

fn back(t: SystemTime, ns: i64) -> SystemTime {
    t.checked_sub(Duration::from_nanos(ns.max(0) as u64))
        .unwrap_or(t)
}

/// Whether a request with headers `head` (the header block, empty for
/// none) is measured, and the trace headers that decided it.
pub fn should_sample(l: &LatencyConfig, head: &[u8]) -> (bool, Option<TraceHeader>) {
    match l.sampling {
        Sampling::Percent(p) if p >= 100 => return (true, None),
        Sampling::Percent(p) if rand::thread_rng().gen_range(0..100) <= i32::from(p) => {
            return (true, None)
        }
        _ => {}
    }
    let h = parse_header(head);
    if h.is_empty() {
        return (false, None);
    }
    let one = |k: &str| h.get(k).and_then(|v| v.first()).map(String::as_str);
    if let Some(id) = h.get("Uber-Trace-Id") {
        let tk: Vec<&str> = id[0].split(':').collect();
        // Go decodes "0" and the flags' last character as one hex byte.
        let flags = tk.get(3).copied().unwrap_or_default();
        let sampled = tk.len() == 4
            && (1..=2).contains(&flags.len())
            && u8::from_str_radix(&flags[flags.len() - 1..], 16).is_ok_and(|b| b & 1 == 1);
        if !sampled {
            return (false, None);
        }
        let mut out = TraceHeader::from([("Uber-Trace-Id".to_string(), id.clone())]);
        out.extend(
            h.iter()
                .filter(|(k, _)| k.starts_with("Uberctx-"))
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        return (true, Some(out));
    }
    let b3 = || {
        let keys = [
            "X-B3-Sampled",
            "X-B3-Traceid",
            "X-B3-Parentspanid",
            "X-B3-Spanid",
        ];
        keys.iter()
            .filter_map(|k| h.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect::<TraceHeader>()
    };
    match one("X-B3-Sampled") {
        Some("1") => return (true, Some(b3())),
        Some("0") => return (false, None),
        _ => {}
    }
    if h.contains_key("X-B3-Traceid") {
        return (true, Some(b3()));
    }
    if let Some(v) = h.get("B3") {
        let tk: Vec<&str> = v[0].split('-').collect();
        if (tk.len() > 2 && tk[2] == "0") || (tk.len() == 1 && tk[0] == "0") {
            return (false, None);
        }
        return (
            true,
            Some(TraceHeader::from([("B3".to_string(), v.clone())])),
        );
    }
    if let Some(v) = h.get("Traceparent") {
        let tk: Vec<&str> = v[0].split('-').collect();
        if tk.len() == 4 && tk[3] == "01" {
            let mut out = TraceHeader::from([("Traceparent".to_string(), v.clone())]);
            if let Some(st) = h.get("Tracestate") {
                out.insert("Tracestate".into(), st.clone());
            }
            return (true, Some(out));
        }
        return (false, None);
    }
    (false, None)
}

/// A header block's fields by canonical key (Go's textproto reader): the
/// status line is skipped.
fn parse_header(head: &[u8]) -> TraceHeader {
    let text = String::from_utf8_lossy(head);
    let mut out = TraceHeader::new();
    for line in text.split("\r\n").skip(1) {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        out.entry(canonical_key(k.trim()))
            .or_default()
            .push(v.trim().to_string());
    }
    out
}

/// Go's CanonicalMIMEHeaderKey: the first letter and each one after a
/// `-` upper case, the others lower case.
fn canonical_key(k: &str) -> String {
    let mut upper = true;
    k.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[&str]) -> Vec<u8> {
        let mut h = String::from("NATS/1.0\r\n");
        for l in lines {
            h.push_str(l);
            h.push_str("\r\n");
        }
        h.push_str("\r\n");
        h.into_bytes()
    }

    fn by_headers() -> LatencyConfig {
        LatencyConfig {
            sampling: Sampling::Headers,
            subject: "lat".into(),
        }
    }

    #[test]
    fn trace_headers_decide_as_in_go() {
        let l = by_headers();
        let sampled = |lines: &[&str]| should_sample(&l, &headers(lines)).0;
        assert!(sampled(&["X-B3-Sampled: 1"]));
        assert!(!sampled(&["X-B3-Sampled: 0"]));
        assert!(sampled(&["x-b3-traceid: 80f198ee56343ba864fe8b2a57d3eff7"]));
        assert!(sampled(&[
            "B3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"
        ]));
        assert!(!sampled(&["B3: 0"]));
        assert!(sampled(&[
            "Uber-Trace-Id: 479fefe9525eddb:5adb976bfc1f95c1:479fefe9525eddb:1"
        ]));
        assert!(!sampled(&[
            "Uber-Trace-Id: 479fefe9525eddb:5adb976bfc1f95c1:479fefe9525eddb:0"
        ]));
        assert!(sampled(&[
            "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ]));
        assert!(!sampled(&[
            "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
        ]));
        assert!(!sampled(&["Some-Other: 1"]));
        assert_eq!(canonical_key("x-b3-traceid"), "X-B3-Traceid");
    }
}
