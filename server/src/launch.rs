//! natsd's assembly: a server with the system account's events and the
//! HTTP monitor built on it. The command line and embedded servers start
//! servers through here; the server itself knows these services only
//! through `services`.

use crate::events::System;
use crate::flags::Flags;
use crate::monitor::MonitorState;
use crate::options::Options;
use crate::server::services::{Monitoring, ServiceFuture, Services, SystemEvents};
use crate::server::{Server, StartError};
use std::sync::Arc;

/// The services of a natsd server.
struct Natsd;

impl Services for Natsd {
    fn monitoring(&self) -> Arc<dyn Monitoring> {
        Arc::new(MonitorState::default())
    }

    fn internal_connections(&self, accounts: usize) -> u64 {
        System::internal_clients(accounts)
    }

    fn start_system(&self, srv: &Arc<Server>) -> Option<Arc<dyn SystemEvents>> {
        System::start(srv).map(|s| s as Arc<dyn SystemEvents>)
    }

    fn start_http<'a>(
        &'a self,
        srv: &'a Arc<Server>,
    ) -> ServiceFuture<'a, Result<Option<u16>, String>> {
        Box::pin(crate::monitor::start(srv))
    }
}

/// A natsd server for `opts` and the command line `flags`, not started.
pub fn server(opts: Options, flags: Flags) -> Result<Arc<Server>, StartError> {
    Server::new(opts, flags, Arc::new(Natsd))
}
