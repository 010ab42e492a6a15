//! The monitoring listener: binds the HTTP or HTTPS port, serves HTTP/1.1
//! with hyper (over the `tls` block's certificate for HTTPS), and routes
//! paths (under `http_base_path`) to the endpoints the way Go's `ServeMux`
//! does: exact paths, anything else 404.

use super::query::{unescape_path, Query};
use super::{connz, jsz, misc, subsz, varz, Reply};
use crate::net::{bind_listener, go_net_error, join_host_port};
use crate::server::Server;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The monitoring endpoints, also served over the system account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Varz,
    Connz,
    Routez,
    Gatewayz,
    Leafz,
    Subsz,
    Accountz,
    Accstatz,
    Jsz,
    Healthz,
}

const ENDPOINTS: [(&str, Endpoint); 11] = [
    ("/varz", Endpoint::Varz),
    ("/connz", Endpoint::Connz),
    ("/routez", Endpoint::Routez),
    ("/gatewayz", Endpoint::Gatewayz),
    ("/leafz", Endpoint::Leafz),
    ("/subsz", Endpoint::Subsz),
    ("/subscriptionsz", Endpoint::Subsz),
    ("/accountz", Endpoint::Accountz),
    ("/accstatz", Endpoint::Accstatz),
    ("/jsz", Endpoint::Jsz),
    ("/healthz", Endpoint::Healthz),
];

/// Paths resolved against the base path once.
struct Router {
    base: String,
    routes: Vec<(String, Endpoint)>,
}

impl Router {
    fn new(base_path: &str) -> Router {
        let base = normalize_base(base_path);
        let routes = ENDPOINTS
            .iter()
            .map(|(p, e)| (join_base(&base, p), *e))
            .collect();
        Router { base, routes }
    }

    fn serve(&self, srv: &Server, path: &str, q: &Query) -> Reply {
        let Some(ep) = self.routes.iter().find(|(p, _)| p == path).map(|r| r.1) else {
            // The root pattern catches everything else; only the base path
            // itself is the root page.
            if path == self.base {
                return misc::root(srv, &self.base);
            }
            return Reply::not_found();
        };
        dispatch(srv, ep, q)
    }
}

/// Answers one endpoint.
pub(super) fn dispatch(srv: &Server, ep: Endpoint, q: &Query) -> Reply {
    match ep {
        Endpoint::Varz => varz::handle(srv, q),
        Endpoint::Connz => connz::handle(srv, q),
        Endpoint::Routez => misc::routez(srv, q),
        Endpoint::Gatewayz => misc::gatewayz(srv, q),
        Endpoint::Leafz => misc::leafz(srv, q),
        Endpoint::Subsz => subsz::handle(srv, q),
        Endpoint::Accountz => misc::accountz(srv, q),
        Endpoint::Accstatz => misc::accstatz(srv, q),
        Endpoint::Jsz => jsz::jsz(srv, q),
        Endpoint::Healthz => misc::healthz(srv, q),
    }
}

/// Starts monitoring if a monitor port is configured (Go's
/// StartMonitoring) and returns the bound port. The error is the text after
/// "Can't start monitoring: ".
pub async fn start(srv: &Arc<Server>) -> Result<Option<u16>, String> {
    let o = srv.opts();
    if o.http_port != 0 && o.https_port != 0 {
        return Err(format!(
            "can't specify both HTTP ({}) and HTTPs ({}) ports",
            o.http_port, o.https_port
        ));
    }
    let (port, secure) = match (o.http_port, o.https_port) {
        (0, 0) => return Ok(None),
        (0, https) => {
            if o.tls_config.is_none() {
                return Err("TLS cert and key required for HTTPS".into());
            }
            (https, true)
        }
        (http, _) => (http, false),
    };
    let port = if port == -1 { 0 } else { port };
    let hp = join_host_port(&o.http_host, port);
    let listener = bind_listener(&o.http_host, &hp).await.map_err(|e| {
        format!(
            "can't listen to the monitor port: listen tcp {hp}: {}",
            go_net_error(&e)
        )
    })?;
    let rport = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    crate::notice!(
        "Starting {} monitor on {}",
        if secure { "https" } else { "http" },
        join_host_port(&o.http_host, i64::from(rport))
    );
    let router = Arc::new(Router::new(&o.http_base_path));
    tokio::spawn(accept_loop(srv.clone(), listener, router, secure));
    Ok(Some(rport))
}

/// Longest a monitoring client may take over its TLS handshake.
const HTTPS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn accept_loop(srv: Arc<Server>, listener: TcpListener, router: Arc<Router>, secure: bool) {
    loop {
        let accepted = tokio::select! {
            _ = super::state(&srv).stop.notified() => return,
            r = listener.accept() => r,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let (srv, router) = (srv.clone(), router.clone());
        tokio::spawn(async move {
            if !secure {
                serve(srv, router, stream).await;
                return;
            }
            // The certificate in use now: a reload that changes the tls
            // block changes it for the next connection, as in Go.
            let Some(tls) = srv.client_tls() else {
                return;
            };
            let handshake = tls.monitor_acceptor.accept(stream);
            if let Ok(Ok(stream)) = tokio::time::timeout(HTTPS_HANDSHAKE_TIMEOUT, handshake).await {
                serve(srv, router, stream).await;
            }
        });
    }
}

/// Serves HTTP/1.1 requests on one connection.
async fn serve<S>(srv: Arc<Server>, router: Arc<Router>, stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| {
        let reply = respond(&srv, &router, &req);
        async move { Ok::<_, Infallible>(reply) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), svc)
        .await;
}

fn respond(srv: &Server, router: &Router, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let uri = req.uri();
    let path = unescape_path(uri.path());
    let q = Query::parse(uri.query().unwrap_or(""));
    let reply = router.serve(srv, &path, &q);
    let mut resp = Response::new(Full::new(Bytes::from(reply.body)));
    *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    if reply.status == 404 {
        h.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
    }
    resp
}

/// Go's normalizeBasePath: leading slash, cleaned, "/" when empty.
fn normalize_base(p: &str) -> String {
    if p.is_empty() {
        return "/".into();
    }
    clean(&format!("/{}", p.trim_start_matches('/')))
}

/// `path.Join(base, p)`.
pub fn join_base(base: &str, p: &str) -> String {
    clean(&format!("{base}/{p}"))
}

/// Go's `path.Clean` for rooted paths: no empty, `.` or `..` elements and
/// no trailing slash.
fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths() {
        assert_eq!(normalize_base(""), "/");
        assert_eq!(normalize_base("nats"), "/nats");
        assert_eq!(normalize_base("/nats/"), "/nats");
        assert_eq!(normalize_base("/a/../b//c"), "/b/c");
        assert_eq!(join_base("/", "/varz"), "/varz");
        assert_eq!(join_base("/nats", "/varz"), "/nats/varz");
    }
}
