//! The `prof_port` listener. Go serves its runtime profiles (pprof) there;
//! natsd has no Go runtime to profile, so the listener is bound, announced
//! and listed in the ports file as Go's is, but every request is answered
//! `501 Not Implemented`. It lives until the process exits.

use crate::server::{bind_listener, go_net_error, join_host_port};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use tokio::net::TcpListener;

const NOT_AVAILABLE: &str = "profiling is not available in natsd\n";

/// Binds `host:port` (`-1` for a random port), logs Go's line and starts
/// answering. Returns the bound address.
pub async fn start(host: &str, port: i64) -> Result<SocketAddr, String> {
    let port = if port == -1 { 0 } else { port };
    let hp = join_host_port(host, port);
    let listener = bind_listener(host, &hp)
        .await
        .map_err(|e| format!("listen tcp {hp}: {}", go_net_error(&e)))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    crate::notice!("profiling port: {}", addr.port());
    tokio::spawn(accept_loop(listener));
    Ok(addr)
}

async fn accept_loop(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors, most likely: try again shortly.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(|_req| async {
                let mut resp =
                    Response::new(Full::new(Bytes::from_static(NOT_AVAILABLE.as_bytes())));
                *resp.status_mut() = StatusCode::NOT_IMPLEMENTED;
                Ok::<_, Infallible>(resp)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
