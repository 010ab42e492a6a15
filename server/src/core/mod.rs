//! The routing core: accounts with their subscriptions and mappings,
//! permissions, connections' outbound queues, and delivery. Any source (a
//! client's reader, the server's internal connections, later routes and
//! JetStream) publishes into an account through [`delivery`], which hands
//! the message to every matching subscription in its connection's encoding.
//!
//! The core knows options and the protocol crate; it never imports the
//! server, its connection tasks, events or monitoring. A connection tells
//! whoever runs it about its end through [`connection::Owner`].

pub mod account;
pub mod connection;
pub mod delivery;
pub mod imports;
pub mod kind;
pub mod mappings;
pub mod outbound;
pub mod permissions;
