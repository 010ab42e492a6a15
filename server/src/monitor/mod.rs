//! The HTTP monitoring server: `/varz`, `/connz`, `/subsz` and the other
//! endpoints of nats-server, with its JSON shapes, parameters and errors.
//!
//! Endpoints for features natsd does not have (routes, gateways, leaf
//! nodes) answer what the Go server answers when the feature is off.

pub mod accstat;
mod closed;
mod connz;
mod http;
pub(crate) mod json;
mod jsz;
mod links;
mod misc;
mod query;
mod subsz;
mod varz;

pub use closed::{ClosedConn, ClosedRing};
pub use http::{start, Endpoint};
pub(crate) use jsz::account_jsz;
pub(crate) use misc::account_info_json;
pub(crate) use varz::process_usage;

use crate::core::connection::{ClosedState, Connection};
use crate::server::Server;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use tokio::sync::Notify;

/// Closed connections kept for `/connz?state=closed`.
const CLOSED_RING_SIZE: usize = 10_000;

/// Monitoring state kept by the server.
pub struct MonitorState {
    pub closed: Mutex<ClosedRing>,
    /// Requests served per endpoint (`/varz` `http_req_stats`).
    req_stats: Mutex<BTreeMap<&'static str, u64>>,
    /// Stops the HTTP listener at shutdown.
    pub stop: Notify,
}

impl Default for MonitorState {
    fn default() -> Self {
        Self {
            closed: Mutex::new(ClosedRing::new(CLOSED_RING_SIZE)),
            req_stats: Mutex::default(),
            stop: Notify::new(),
        }
    }
}

impl crate::server::services::Monitoring for MonitorState {
    fn connection_closed(&self, c: &Connection, reason: ClosedState) {
        self.closed.lock().push(ClosedConn::capture(c, reason));
    }

    fn stop(&self) {
        self.stop.notify_one();
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The monitoring state of `srv`, which natsd's assembly gives every
/// server (see `launch`).
pub(crate) fn state(srv: &Server) -> &MonitorState {
    srv.monitoring()
        .as_any()
        .downcast_ref()
        .expect("natsd servers are assembled with MonitorState")
}

impl MonitorState {
    /// Counts a request to `endpoint` if it came over HTTP.
    fn count(&self, q: &query::Query, endpoint: &'static str) {
        if q.is_http() {
            *self.req_stats.lock().entry(endpoint).or_default() += 1;
        }
    }

    fn request_counts(&self) -> BTreeMap<&'static str, u64> {
        self.req_stats.lock().clone()
    }
}

/// Answers `ep` for a request made over the system account, with the
/// request's options as query parameters. Not counted as an HTTP request.
pub fn internal_request(
    srv: &crate::server::Server,
    ep: Endpoint,
    params: Vec<(String, String)>,
) -> Reply {
    http::dispatch(srv, ep, &query::Query::internal(params))
}

/// What an endpoint answers.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Reply {
    /// A 400 with Go's plain-text error.
    fn bad_request(msg: impl Into<String>) -> Reply {
        Reply {
            status: 400,
            content_type: "text/plain; charset=utf-8",
            body: msg.into().into_bytes(),
        }
    }

    fn not_found() -> Reply {
        Reply {
            status: 404,
            content_type: "text/plain; charset=utf-8",
            body: b"404 page not found\n".to_vec(),
        }
    }

    /// JSON, or JSONP when the request names a `callback`.
    fn json(q: &query::Query, status: u16, body: Vec<u8>) -> Reply {
        let callback = q.get("callback");
        if callback.is_empty() {
            return Reply {
                status,
                content_type: "application/json",
                body,
            };
        }
        let mut wrapped = Vec::with_capacity(body.len() + callback.len() + 2);
        wrapped.extend_from_slice(callback.as_bytes());
        wrapped.push(b'(');
        wrapped.extend_from_slice(&body);
        wrapped.push(b')');
        Reply {
            status,
            content_type: "application/javascript",
            body: wrapped,
        }
    }
}
