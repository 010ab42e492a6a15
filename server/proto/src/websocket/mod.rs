//! WebSocket as nats-server 2.9.10 serves it: the HTTP upgrade
//! ([`handshake`]), the frames clients send and the server's answers
//! ([`frame`]), and how the server frames and compresses what it sends
//! ([`outbound`]).

pub mod frame;
pub mod handshake;
pub mod outbound;
