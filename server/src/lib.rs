//! natsd: a NATS server that behaves like nats-server 2.9.10, as a
//! library. The `natsd` binary is [`cli::main`]; tests and benches start
//! servers through [`server::Server`].

pub mod auth;
pub mod cli;
pub mod config;
pub mod conn;
pub mod core;
pub mod embedded;
pub mod events;
pub mod flags;
pub mod jetstream;
pub mod launch;
pub mod logging;
pub mod monitor;
pub mod net;
pub mod options;
pub mod ports_file;
pub mod profiler;
pub mod reload;
pub mod server;
pub mod signals;
pub mod tls;
