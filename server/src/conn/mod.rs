//! Connection kinds and the tasks that serve them: network clients today
//! ([`client`]), and the server's internal connections ([`internal`]),
//! which publish into the core as values. Routes, gateways, leaf nodes,
//! WebSocket and MQTT belong beside them.

pub mod client;
pub mod internal;
