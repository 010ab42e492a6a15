//! The writer task: flushes the outbound queue in batches (what a
//! publisher's reader did not write directly, see [`super::outbound`]), runs
//! the ping timer, and closes the socket once the connection is marked
//! closed.

use crate::conn::websocket::WsSink;
use crate::core::connection::{ClosedState, Connection};
use crate::options::go_duration;
use crate::server::Server;
use natsd_proto::client as proto;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;

/// Where a connection's bytes go: the plain socket, which publishers'
/// readers may also write to directly, or a TLS stream or WebSocket
/// frames, written by this task only.
pub enum Sink {
    Tcp(OwnedWriteHalf),
    Tls(tokio::io::WriteHalf<tokio_rustls::server::TlsStream<TcpStream>>),
    Ws(Box<WsSink>),
}

enum Held {
    Tcp(Arc<OwnedWriteHalf>),
    Tls(tokio::io::WriteHalf<tokio_rustls::server::TlsStream<TcpStream>>),
    Ws(Box<WsSink>),
}

/// Write deadline for the last flush of a closing connection.
const CLOSE_FLUSH_DEADLINE: Duration = Duration::from_millis(100);

pub struct PingConfig {
    pub interval: Duration,
    pub max_out: i64,
    pub write_deadline: Duration,
}

pub async fn run(srv: Weak<Server>, client: Arc<Connection>, sink: Sink, mut cfg: PingConfig) {
    let mut wr = match sink {
        Sink::Tcp(wr) => {
            // Shared with publishers' readers, which write small amounts
            // directly.
            let wr = Arc::new(wr);
            client.out.lock().sock = Some(wr.clone());
            Held::Tcp(wr)
        }
        Sink::Tls(wr) => Held::Tls(wr),
        Sink::Ws(wr) => Held::Ws(wr),
    };
    let mut config_gen = srv.upgrade().map(|s| s.config_gen());
    loop {
        let deadline = client.ping.lock().deadline;
        tokio::select! {
            _ = client.write_ready.notified() => {}
            _ = tokio::time::sleep_until(deadline.into()) => {
                refresh_config(&srv, &mut cfg, &mut config_gen);
                ping_timer(&client, &cfg);
            }
        }
        loop {
            let (mut taken, reason, skip) = {
                let mut out = client.out.lock();
                let taken = std::mem::take(&mut out.queued);
                out.writing = !taken.is_empty();
                out.signaled = false;
                (taken, out.close, out.skip_flush)
            };
            let wrote = taken.len();
            let chunks = taken.count();
            // A WebSocket client may have pongs or its close frame to get.
            let websocket = matches!(wr, Held::Ws(_));
            if (wrote > 0 && !skip) || websocket {
                let closing = reason.is_some();
                let limit = if closing {
                    CLOSE_FLUSH_DEADLINE.min(cfg.write_deadline)
                } else {
                    cfg.write_deadline
                };
                let wrote_some = |n| client.out.lock().wrote(n);
                let written = async {
                    match &mut wr {
                        Held::Tcp(half) => {
                            let sock: &TcpStream = (**half).as_ref();
                            taken.write_all(sock, wrote_some).await
                        }
                        Held::Tls(tls) => taken.write_all_to(tls, wrote_some).await,
                        Held::Ws(ws) => ws.write(&mut taken, reason, !skip, wrote_some).await,
                    }
                };
                // Like a socket write deadline, one already past when the
                // write starts fails it before anything is written (a
                // write_deadline of 1ns closes a client before its INFO).
                let deadline = tokio::time::Instant::now() + limit;
                let outcome = if tokio::time::Instant::now() >= deadline {
                    Err(())
                } else {
                    tokio::time::timeout_at(deadline, written)
                        .await
                        .map_err(|_| ())
                };
                match outcome {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => client.close(ClosedState::WriteError),
                    Err(_) => {
                        let counts =
                            !closing && !client.awaiting_auth() && client.count_slow_consumer();
                        if counts {
                            crate::notice!(
                                "{} - Slow Consumer Detected: WriteDeadline of {} exceeded with {} chunks of {} total bytes.",
                                client.label(),
                                go_duration(cfg.write_deadline),
                                chunks,
                                wrote
                            );
                        }
                        client.close(ClosedState::SlowConsumerWriteDeadline);
                    }
                }
            }
            let (closing, mut more) = {
                let mut out = client.out.lock();
                // What was written is accounted for already.
                out.pending -= taken.len() as i64;
                out.writing = false;
                (out.close.is_some(), !out.queued.is_empty())
            };
            // The connection closed during a WebSocket write that did not
            // know it: the close frame (the client's echoed one, or the
            // server's) goes out in one more write.
            more |= closing && reason.is_none() && websocket;
            drop(taken);
            if closing && !more {
                {
                    let mut out = client.out.lock();
                    out.sock = None;
                    out.release();
                }
                match wr {
                    Held::Tcp(half) => {
                        if let Ok(mut half) = Arc::try_unwrap(half) {
                            let _ = half.shutdown().await;
                        }
                    }
                    Held::Tls(mut tls) => {
                        let _ = tls.shutdown().await;
                    }
                    Held::Ws(mut ws) => ws.shutdown().await,
                }
                client.out.lock().finished = true;
                return;
            }
            if !more {
                break;
            }
        }
    }
}

/// A reload's ping interval, ping count and write deadline apply to
/// connections already open from their next ping timer, as in Go.
fn refresh_config(srv: &Weak<Server>, cfg: &mut PingConfig, seen: &mut Option<u64>) {
    let Some(srv) = srv.upgrade() else {
        return;
    };
    let now = Some(srv.config_gen());
    if now != *seen {
        *seen = now;
        let o = srv.opts();
        *cfg = PingConfig::of(&o);
    }
}

impl PingConfig {
    pub fn of(o: &crate::options::Options) -> PingConfig {
        PingConfig {
            interval: o.ping_interval,
            max_out: o.max_pings_out,
            write_deadline: o.write_deadline,
        }
    }
}

/// Go's processPingTimer: send a PING unless the client was recently
/// active, and close the connection once too many are unanswered.
fn ping_timer(client: &Arc<Connection>, cfg: &PingConfig) {
    if client.is_closed() {
        // Keep the timer from firing again; the close path wakes us.
        client.ping.lock().deadline = Instant::now() + Duration::from_secs(3600);
        return;
    }
    crate::debug!("{} - Client Ping Timer", client.label());
    let now = Instant::now();
    let mut send = true;
    let stale;
    {
        let mut p = client.ping.lock();
        let need_rtt = p
            .rtt_start
            .is_none_or(|t| now - t > Duration::from_secs(3600));
        let since_activity = now - p.last_activity.max(client.delivered_at());
        if since_activity < cfg.interval && !need_rtt {
            crate::debug!(
                "{} - Delaying PING due to client activity {} ago",
                client.label(),
                go_duration(Duration::from_secs(
                    since_activity.as_secs_f64().round() as u64
                ))
            );
            send = false;
        } else if let Some(t) = p
            .last_ping_in
            .filter(|t| now - *t < cfg.interval && !need_rtt)
        {
            crate::debug!(
                "{} - Delaying PING due to remote ping {} ago",
                client.label(),
                go_duration(Duration::from_secs((now - t).as_secs_f64().round() as u64))
            );
            send = false;
        }
        stale = send && p.out + 1 > cfg.max_out;
        if send && !stale {
            p.out += 1;
            p.rtt_start = Some(now);
        }
        p.deadline = now + cfg.interval;
    }
    if stale {
        crate::debug!("{} - Stale Client Connection - Closing", client.label());
        let _ = client.queue(&[&proto::err_line("Stale Connection")]);
        client.close(ClosedState::StaleConnection);
    } else if send {
        crate::trace!("{} - ->> [PING]", client.label());
        let _ = client.queue(&[proto::PING]);
    }
}
