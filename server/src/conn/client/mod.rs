//! A network client: its reader task parses and acts on what it sends, its
//! writer task flushes its outbound queue and runs the ping timer.

pub mod reader;
pub mod writer;

use crate::core::connection::{ClosedState, Connection};
use crate::options::Options;
use crate::server::Server;
use natsd_proto::client::connect::ClientOpts;
use std::sync::Arc;

/// Go's authViolation: logs who failed, tells the client and closes.
pub fn auth_violation(srv: &Server, o: &Options, c: &Arc<Connection>, copts: &ClientOpts) {
    let label = c.label();
    if !o.nkeys.is_empty() {
        crate::error!("{label} - authentication error - Nkey \"{}\"", copts.nkey);
    } else if !o.users.is_empty() {
        crate::error!("{label} - authentication error - User \"{}\"", copts.user);
    } else {
        crate::error!("{label} - authentication error");
    }
    c.send_err("Authorization Violation");
    if let Some(sys) = srv.system() {
        sys.auth_error(c, &srv.info().server_id);
    }
    c.close(ClosedState::AuthenticationViolation);
}
