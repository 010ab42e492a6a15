//! natsd inside another program: each server gets its own runtime and its
//! own log (its runtime's threads are bound to it), so several servers can
//! run in one process, as the integration tests in `server/tests/` do.

use crate::flags::Flags;
use crate::logging::{self, Log, LogConfig};
use crate::options::Options;
use crate::server::{Server, StartError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Runtime;

/// Worker threads of an embedded server's runtime.
const WORKERS: usize = 2;
/// How long dropping a server waits for its tasks after shutdown.
const STOP_WAIT: Duration = Duration::from_secs(2);

/// Why an embedded server did not start.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("{0}")]
    Options(String),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("cannot create the server's runtime: {0}")]
    Runtime(#[from] std::io::Error),
    #[error("the start task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A running server; dropping it shuts the server down.
pub struct Embedded {
    runtime: Option<Runtime>,
    server: Arc<Server>,
    addr: SocketAddr,
}

impl Embedded {
    /// Starts a server with `opts`, completed and checked as the command
    /// line completes them after reading a config file.
    pub fn start(mut opts: Options) -> Result<Embedded, EmbedError> {
        opts.set_baseline();
        opts.add_system_only_no_auth_user(None);
        opts.validate()
            .map_err(|e| EmbedError::Options(e.to_string()))?;
        let log = Log::new(LogConfig::of(&opts));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .thread_name("natsd")
            .enable_all()
            .on_thread_start(move || logging::bind(&log))
            .build()?;
        // Created on a runtime thread, so that it takes the bound log.
        let (server, addr) = runtime.block_on(runtime.spawn(async move {
            let server = crate::launch::server(opts, Flags::default())?;
            let addr = server.start().await?;
            Ok::<_, StartError>((server, addr))
        }))??;
        Ok(Embedded {
            runtime: Some(runtime),
            server,
            addr,
        })
    }

    /// The client listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn server(&self) -> &Arc<Server> {
        &self.server
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        let server = self.server.clone();
        let _ = runtime.block_on(runtime.spawn(async move { server.shutdown().await }));
        runtime.shutdown_timeout(STOP_WAIT);
    }
}
