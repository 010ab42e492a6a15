//! natsd-proto: what natsd says and reads on the wire, with no runtime.
//!
//! - [`subject`]: subject syntax and wildcard rules.
//! - [`sublist`]: the subscription index, generic over what it stores.
//! - [`client`]: the client protocol codec (parser, MSG/HMSG lines, INFO,
//!   CONNECT). Route, leaf, gateway and MQTT codecs belong beside it.
//! - [`websocket`]: the WebSocket upgrade, frames and compression.
//! - [`mapping`]: subject mappings and their transforms.
//! - [`system`]: the system account's subjects and services.
//! - [`gojson`], [`quote`] and [`oserror`]: Go's JSON decoding rules, `%q`
//!   quoting and OS error texts, so that natsd's errors read as Go's.

pub mod client;
pub mod gojson;
pub mod hostport;
pub mod jetstream;
pub mod mapping;
pub mod oserror;
pub mod quote;
pub mod subject;
pub mod sublist;
pub mod system;
pub mod url;
pub mod websocket;
