//! The client wire protocol: parsing input, encoding deliveries and the
//! INFO/CONNECT documents.

pub mod connect;
pub mod info;
pub mod msg;
pub mod parser;

/// Replies that carry no arguments.
pub const PONG: &[u8] = b"PONG\r\n";
pub const PING: &[u8] = b"PING\r\n";
pub const OK: &[u8] = b"+OK\r\n";

/// `-ERR '<text>'` line.
pub fn err_line(text: &str) -> Vec<u8> {
    format!("-ERR '{text}'\r\n").into_bytes()
}
