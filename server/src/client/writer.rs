//! The writer task: flushes the outbound buffer in batches, runs the ping
//! timer, and closes the socket once the connection is marked closed.

use super::{Client, ClosedState};
use crate::options::go_duration;
use crate::proto;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;

/// Largest spare buffer kept between flushes.
const KEEP_CAPACITY: usize = 1 << 20;
/// Write deadline for the last flush of a closing connection.
const CLOSE_FLUSH_DEADLINE: Duration = Duration::from_millis(100);

pub struct PingConfig {
    pub interval: Duration,
    pub max_out: i64,
    pub write_deadline: Duration,
}

pub async fn run(client: Arc<Client>, mut wr: OwnedWriteHalf, cfg: PingConfig) {
    let mut spare: Vec<u8> = Vec::with_capacity(512);
    loop {
        let deadline = client.ping.lock().deadline;
        tokio::select! {
            _ = client.write_ready.notified() => {}
            _ = tokio::time::sleep_until(deadline.into()) => {
                ping_timer(&client, &cfg);
            }
        }
        loop {
            let (closing, skip) = {
                let mut out = client.out.lock();
                std::mem::swap(&mut out.buf, &mut spare);
                out.signaled = false;
                (out.close.is_some(), out.skip_flush)
            };
            let wrote = spare.len();
            if wrote > 0 && !skip {
                let limit = if closing {
                    CLOSE_FLUSH_DEADLINE.min(cfg.write_deadline)
                } else {
                    cfg.write_deadline
                };
                match tokio::time::timeout(limit, wr.write_all(&spare)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => client.close(ClosedState::WriteError),
                    Err(_) => {
                        let counts =
                            !closing && !client.awaiting_auth() && client.count_slow_consumer();
                        if counts {
                            crate::notice!(
                                "{} - Slow Consumer Detected: WriteDeadline of {} exceeded with 1 chunks of {} total bytes.",
                                client.label(),
                                go_duration(cfg.write_deadline),
                                wrote
                            );
                        }
                        client.close(ClosedState::SlowConsumerWriteDeadline);
                    }
                }
            }
            {
                let mut out = client.out.lock();
                out.pending -= wrote as i64;
            }
            spare.clear();
            if spare.capacity() > KEEP_CAPACITY {
                spare = Vec::with_capacity(512);
            }
            let (closing, more) = {
                let out = client.out.lock();
                (out.close.is_some(), !out.buf.is_empty())
            };
            if closing && !more {
                let _ = wr.shutdown().await;
                return;
            }
            if !more {
                break;
            }
        }
    }
}

/// Go's processPingTimer: send a PING unless the client was recently
/// active, and close the connection once too many are unanswered.
fn ping_timer(client: &Arc<Client>, cfg: &PingConfig) {
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
        client.queue(&[&proto::err_line("Stale Connection")]);
        client.close(ClosedState::StaleConnection);
    } else if send {
        crate::trace!("{} - ->> [PING]", client.label());
        client.queue(&[proto::PING]);
    }
}
