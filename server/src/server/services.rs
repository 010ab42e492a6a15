//! What a server asks of the services built on it: the system account's
//! events (`events`) and monitoring (`monitor`). The server calls them
//! through these traits and gets them from whoever assembles it
//! (`launch`), so that it depends on neither while they read its state.

use crate::core::account::Account;
use crate::core::connection::{ClosedState, Connection};
use crate::server::Server;
use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A future a service returns to the server.
pub type ServiceFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the system account's events hear about connections and accounts.
pub trait SystemEvents: Send + Sync {
    /// A client joined `account` (at accept, the global account; at
    /// CONNECT, the account it authenticated for).
    fn client_joined(&self, account: &Arc<Account>);
    /// A client left `account`.
    fn client_left(&self, account: &Arc<Account>, global: bool);
    /// A client authenticated.
    fn client_connected(&self, c: &Connection, global: bool);
    /// A client closed.
    fn client_disconnected(&self, c: &Connection, reason: ClosedState, global: bool);
    /// A client failed to authenticate.
    fn auth_error(&self, c: &Connection, server_id: &str);
    /// A reload installed new accounts.
    fn accounts_changed(&self, srv: &Server);
    /// Publishes a message of the server's into `account` (latency
    /// advisories), from the system's task.
    fn account_message(&self, account: Arc<Account>, subject: String, payload: Vec<u8>);
    /// Sends the shutdown notice and stops.
    fn shutdown(&self) -> ServiceFuture<'_, ()>;
}

/// Monitoring's part in a running server.
pub trait Monitoring: Send + Sync {
    /// A connection is closing (kept for `/connz?state=closed`).
    fn connection_closed(&self, c: &Connection, reason: ClosedState);
    /// The server is stopping: the HTTP listener stops too.
    fn stop(&self);
    /// Its own state, for the monitoring code that reads it back.
    fn as_any(&self) -> &dyn Any;
}

/// How a server gets its services.
pub trait Services: Send + Sync {
    /// Monitoring, from the server's creation on.
    fn monitoring(&self) -> Arc<dyn Monitoring>;
    /// Client ids the system account's internal connections take in a
    /// server with `accounts` accounts: clients are numbered after them.
    fn internal_connections(&self, accounts: usize) -> u64;
    /// Starts the system account's events, when there is a system account.
    fn start_system(&self, srv: &Arc<Server>) -> Option<Arc<dyn SystemEvents>>;
    /// Starts the HTTP monitor; its port when one is configured.
    fn start_http<'a>(
        &'a self,
        srv: &'a Arc<Server>,
    ) -> ServiceFuture<'a, Result<Option<u16>, String>>;
}
