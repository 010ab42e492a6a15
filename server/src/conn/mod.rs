//! Connection kinds and the tasks that serve them: network clients
//! ([`client`]), over TCP or WebSocket ([`websocket`]), and the server's
//! internal connections ([`internal`]), which publish into the core as
//! values. Routes, gateways, leaf nodes and MQTT belong beside them.

pub mod client;
pub mod internal;
pub mod websocket;

use natsd_proto::quote::go_quote;

/// A payload as Go traces it, truncated to `max` bytes when positive.
pub(crate) fn trace_payload(payload: &[u8], max: i64) -> String {
    if max > 0 && payload.len() as i64 > max {
        let q = go_quote(&payload[..max as usize]);
        format!("\"{}...\"", &q[1..q.len() - 1])
    } else {
        go_quote(payload)
    }
}
