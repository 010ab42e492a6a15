//! The WebSocket listener: it accepts connections, runs TLS when the
//! block has a `tls` section, reads HTTP upgrade requests within
//! `handshake_timeout`, answers them as Go's HTTP server does, and starts a
//! client whose reader and writer speak frames.

use super::{Server, StartError};
use crate::auth;
use crate::conn::client::writer::{self, PingConfig, Sink};
use crate::conn::websocket::{Control, WsRead, WsSink};
use crate::core::connection::{Connection, Transport};
use crate::net::{bind_listener, go_net_error, join_host_port};
use crate::{debug, error, notice, warn};
use bytes::{Buf, BytesMut};
use natsd_proto::websocket::handshake::{self, Endpoint, Origins, Policy, Upgrade};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The running listener's settings.
pub(crate) struct WsListener {
    origins: Origins,
    /// Set for a `wss` listener; a reload may replace it, not add or drop it.
    tls: parking_lot::RwLock<Option<Arc<crate::tls::ClientTls>>>,
    /// The port bound (the configured one, or the one picked for -1).
    pub port: u16,
}

impl WsListener {
    /// New TLS settings from a reload, for the next handshakes.
    pub(crate) fn replace_tls(&self, tls: Arc<crate::tls::ClientTls>) {
        let mut current = self.tls.write();
        if current.is_some() {
            *current = Some(tls);
        }
    }
}

/// How a plain HTTP request starts, seen where a TLS record header should
/// be (Go's HTTP server checks these five bytes).
const PLAIN_HTTP_STARTS: [&[u8]; 5] = [b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO"];
/// Go's HTTP server's answer to plain HTTP on its TLS listener.
const PLAIN_HTTP_TO_TLS: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// Reads of a request head.
const HEAD_READ: usize = 4096;

impl Server {
    /// Binds the WebSocket listener when the block enables it, and starts
    /// accepting.
    pub(super) async fn start_websocket(self: &Arc<Self>) -> Result<(), StartError> {
        let o = self.opts();
        let w = &o.websocket;
        if w.port == 0 {
            return Ok(());
        }
        let host = if w.host.is_empty() {
            "0.0.0.0"
        } else {
            &w.host
        };
        let port = if w.port == -1 { 0 } else { w.port };
        let bind = join_host_port(host, port);
        let listener = bind_listener(host, &bind).await.map_err(|e| {
            StartError::Websocket(format!("listen tcp {bind}: {}", go_net_error(&e)))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| StartError::Websocket(e.to_string()))?
            .port();
        let tls = match &w.tls {
            Some(tc) => Some(Arc::new(
                crate::tls::ClientTls::new(tc).map_err(|e| StartError::Tls(e.to_string()))?,
            )),
            None => None,
        };
        let scheme = if tls.is_some() { "wss" } else { "ws" };
        notice!("Listening for websocket clients on {scheme}://{host}:{port}");
        if tls.is_none() {
            warn!("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
        }
        // Checked once listening, so that Go's notice comes first.
        if !w.advertise.is_empty() {
            crate::net::parse_host_port(&w.advertise, i64::from(port))
                .map_err(|e| StartError::WebsocketUrls(e.to_string()))?;
        }
        let (origins, errors) = Origins::new(w.same_origin, &w.allowed_origins);
        for e in errors {
            error!("{e}");
        }
        let ws = Arc::new(WsListener {
            origins,
            tls: parking_lot::RwLock::new(tls),
            port,
        });
        *self.websocket.write() = Some(ws);
        let me = self.clone();
        tokio::spawn(async move { me.ws_accept_loop(listener).await });
        Ok(())
    }

    /// The listener's settings, while it runs.
    pub(crate) fn websocket_listener(&self) -> Option<Arc<WsListener>> {
        self.websocket.read().clone()
    }

    async fn ws_accept_loop(self: Arc<Self>, listener: TcpListener) {
        loop {
            let accepted = tokio::select! {
                _ = self.stop_ws_accept.notified() => break,
                r = listener.accept() => r,
            };
            match accepted {
                Ok((stream, peer)) => {
                    let Some(ws) = self.websocket_listener() else {
                        break;
                    };
                    let me = self.clone();
                    tokio::spawn(async move { me.ws_serve(stream, peer, ws).await });
                }
                Err(e) => {
                    error!("websocket: Accept error: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    /// One connection to the listener: TLS, then HTTP requests until one
    /// upgrades (Go's HTTP server keeps an HTTP/1.1 connection open after
    /// refusing an upgrade).
    async fn ws_serve(self: Arc<Self>, stream: TcpStream, peer: SocketAddr, ws: Arc<WsListener>) {
        let _ = stream.set_nodelay(true);
        let o = self.opts();
        let timeout = o.websocket.handshake_timeout;
        let deadline = (!timeout.is_zero()).then(|| Instant::now() + timeout);
        let tls = ws.tls.read().clone();
        let local = stream.local_addr().ok();
        if tls.is_some() {
            let mut head = [0u8; 5];
            if let Some(Ok(5)) = within(deadline, stream.peek(&mut head)).await {
                if PLAIN_HTTP_STARTS.contains(&&head[..]) {
                    let mut stream = stream;
                    let _ = stream.write_all(PLAIN_HTTP_TO_TLS).await;
                    return;
                }
            }
        }
        let mut io: Box<dyn Io> = match &tls {
            Some(tls) => match within(deadline, tls.acceptor.accept(stream)).await {
                Some(Ok(s)) => Box::new(s),
                Some(Err(e)) => {
                    error!("websocket: http: TLS handshake error from {peer}: {e}");
                    return;
                }
                None => {
                    let local = local.map(|a| a.to_string()).unwrap_or_default();
                    error!("websocket: http: TLS handshake error from {peer}: read tcp {local}->{peer}: i/o timeout");
                    return;
                }
            },
            None => Box::new(stream),
        };
        let remote = join_host_port(
            &peer.ip().to_canonical().to_string(),
            i64::from(peer.port()),
        );
        let mut buf = BytesMut::with_capacity(HEAD_READ);
        loop {
            let parsed = loop {
                match handshake::parse_request(&buf) {
                    Ok(Some(parsed)) => break parsed,
                    Ok(None) => {}
                    Err(unreadable) => {
                        let _ = io.write_all(&unreadable.response()).await;
                        return;
                    }
                }
                buf.reserve(HEAD_READ);
                match within(deadline, io.read_buf(&mut buf)).await {
                    Some(Ok(n)) if n > 0 => {}
                    _ => return,
                }
            };
            let (req, head) = parsed;
            let policy = Policy {
                compression: o.websocket.compression,
                origins: &ws.origins,
                tls: tls.is_some(),
            };
            match handshake::check(&req, &policy) {
                Err(refusal) => {
                    error!("{remote} - websocket handshake error: {}", refusal.reason);
                    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
                    let answer = refusal.response(req.minor_version, &date);
                    if io.write_all(&answer).await.is_err() || !req.keep_alive() {
                        return;
                    }
                    buf.advance(head);
                }
                Ok(up) => {
                    if buf.len() > head {
                        error!("{remote} - websocket handshake error: client sent data before handshake is complete");
                        return;
                    }
                    if io
                        .write_all(&handshake::accept_response(&up))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    match up.endpoint {
                        Endpoint::Client => self.create_ws_client(io, peer, up),
                        Endpoint::Leafnode => {
                            error!("Not configured to accept leaf node connections");
                        }
                        Endpoint::Mqtt => {
                            error!("Not configured to accept MQTT connections");
                        }
                    }
                    return;
                }
            }
        }
    }

    /// Go's createWSClient: INFO, registration, and the reader and writer
    /// over frames.
    fn create_ws_client(self: &Arc<Self>, io: Box<dyn Io>, peer: SocketAddr, up: Upgrade) {
        let o = self.opts();
        let cid = self.next_client_id();
        self.stats.total_connections.fetch_add(1, Ordering::Relaxed);
        let transport = Transport::Websocket {
            forwarded_for: up.forwarded_for.clone(),
        };
        let client = Arc::new(Connection::client(
            cid,
            self.self_ref.clone(),
            peer.ip().to_canonical().to_string(),
            peer.port(),
            transport,
            o.max_pending,
            self.global_account(),
            Instant::now() + o.ping_interval,
        ));
        let auth_required = auth::auth_required_for(&o, &client.transport);
        client
            .expect_connect
            .store(auth_required, Ordering::Release);
        // What a plain client's INFO says, unless the websocket block asks
        // for authentication of its own.
        let mut info = self.info();
        info.auth_required =
            auth::auth_required(&o) && (o.no_auth_user.is_empty() || o.no_auth_user_is_hidden);
        info.auth_required |= auth::Simple::of(&o, &client.transport).overridden;
        let nonce = if !o.nkeys.is_empty() {
            crate::auth::nkey::new_nonce()
        } else {
            String::new()
        };
        info.nonce = nonce.clone();
        info.client_id = cid;
        info.client_ip = client.host.clone();
        debug!("{} - Client connection created", client.label());
        client.send(&info.to_line());
        let (rd, wr) = tokio::io::split(io);
        let control = Arc::new(Control::default());
        let sink = WsSink::new(Box::new(wr), up.rules, control.clone());
        tokio::spawn(writer::run(
            self.weak(),
            client.clone(),
            Sink::Ws(Box::new(sink)),
            PingConfig::of(&o),
        ));
        let max_inflated = usize::try_from(o.max_pending).unwrap_or(usize::MAX);
        let read = WsRead::new(rd, client.clone(), control, !up.no_masking, max_inflated);
        if let Some(reader) = self.register(client, nonce.into_bytes(), auth_required) {
            tokio::spawn(reader.run(read));
        }
    }
}

/// A socket, plain or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// `f`, given up at `deadline` (None: never).
async fn within<T>(
    deadline: Option<Instant>,
    f: impl std::future::Future<Output = T>,
) -> Option<T> {
    match deadline {
        Some(d) => tokio::time::timeout_at(d.into(), f).await.ok(),
        None => Some(f.await),
    }
}
