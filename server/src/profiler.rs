//! The `prof_port` listener: the Go server serves its runtime profiles
//! (`net/http/pprof`) there. natsd serves what applies to a Rust process: a
//! CPU profile at `/debug/pprof/profile?seconds=N`, in the pprof protobuf
//! format that `go tool pprof` and other pprof tools read, and an index at
//! `/debug/pprof/`. Go's other profiles (heap, goroutine, ...) describe the
//! Go runtime and answer 404 here. Requests have no time limit, as in Go:
//! a profile takes as long as asked. The listener lives until the process
//! exits.

use crate::net::{bind_listener, go_net_error, join_host_port};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// Go's default and sampling rate for CPU profiles.
const DEFAULT_SECONDS: u64 = 30;
const SAMPLES_PER_SECOND: i32 = 100;
/// Libraries the sampler must not unwind through (their signal frames can
/// deadlock the unwinder).
const UNWIND_BLOCKLIST: [&str; 4] = ["libc", "libgcc", "pthread", "vdso"];

const INDEX: &str = "<html>\n<head><title>/debug/pprof/</title></head>\n<body>\n/debug/pprof/<br>\n<br>\nTypes of profiles available:\n<table>\n<tr><td><a href=\"profile\">profile</a></td><td>CPU profile (pprof protobuf); add ?seconds=N, default 30</td></tr>\n</table>\n</body>\n</html>\n";

/// Why the profiling listener did not start. The server decides on it: it
/// does not start.
#[derive(Debug, thiserror::Error)]
pub enum ProfilerError {
    /// Binding `addr` failed, in Go's words.
    #[error("listen tcp {addr}: {}", go_net_error(.source))]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    /// The bound socket has no address.
    #[error(transparent)]
    LocalAddr(std::io::Error),
}

/// Binds `host:port` (`-1` for a random port), logs Go's line and starts
/// answering. Returns the bound address.
pub async fn start(host: &str, port: i64) -> Result<SocketAddr, ProfilerError> {
    let port = if port == -1 { 0 } else { port };
    let hp = join_host_port(host, port);
    let listener = bind_listener(host, &hp)
        .await
        .map_err(|source| ProfilerError::Listen {
            addr: hp.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(ProfilerError::LocalAddr)?;
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
            let svc =
                hyper::service::service_fn(
                    |req| async move { Ok::<_, Infallible>(handle(req).await) },
                );
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn handle(req: Request<Incoming>) -> Response<Full<Bytes>> {
    match req.uri().path() {
        "/debug/pprof/" | "/debug/pprof" => {
            reply(StatusCode::OK, "text/html; charset=utf-8", INDEX.into())
        }
        "/debug/pprof/profile" => {
            let seconds = seconds_param(req.uri().query().unwrap_or_default());
            match cpu_profile(Duration::from_secs(seconds)).await {
                Ok(body) => {
                    let mut resp = reply(StatusCode::OK, "application/octet-stream", body);
                    resp.headers_mut().insert(
                        hyper::header::CONTENT_DISPOSITION,
                        hyper::header::HeaderValue::from_static("attachment; filename=\"profile\""),
                    );
                    resp
                }
                Err(e) => reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain; charset=utf-8",
                    format!("Could not enable CPU profiling: {e}\n").into(),
                ),
            }
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "Unknown profile\n".into(),
        ),
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    resp
}

/// `seconds=N` from the query; Go falls back to 30 for a missing, invalid
/// or non-positive value.
fn seconds_param(query: &str) -> u64 {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("seconds="))
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .map_or(DEFAULT_SECONDS, |n| n as u64)
}

/// Samples the whole process for `duration`; the pprof protobuf encoding.
/// One profile at a time, as in Go.
async fn cpu_profile(duration: Duration) -> Result<Bytes, String> {
    use pprof::protos::Message;
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(SAMPLES_PER_SECOND)
        .blocklist(&UNWIND_BLOCKLIST)
        .build()
        .map_err(|_| "cpu profiling already in use".to_string())?;
    tokio::time::sleep(duration).await;
    tokio::task::spawn_blocking(move || {
        let profile = guard
            .report()
            .build()
            .and_then(|r| r.pprof())
            .map_err(|e| e.to_string())?;
        Ok(Bytes::from(profile.encode_to_vec()))
    })
    .await
    .map_err(|e| e.to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_like_go() {
        assert_eq!(seconds_param(""), 30);
        assert_eq!(seconds_param("seconds=5"), 5);
        assert_eq!(seconds_param("debug=1&seconds=2"), 2);
        assert_eq!(seconds_param("seconds=0"), 30);
        assert_eq!(seconds_param("seconds=-3"), 30);
        assert_eq!(seconds_param("seconds=x"), 30);
    }
}
