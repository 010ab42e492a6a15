//! Mirrors and sources: a stream that follows other streams of its account.
//! For each origin it runs a task that makes a direct push consumer on the
//! origin (acks none, flow control and heartbeats, delivering to a private
//! inbox of the stream), and stores what arrives: a mirror with the
//! origin's sequences and times (skipping the gaps), a source with the next
//! sequence and a `Nats-Stream-Source` header naming the origin and its
//! sequence. A missing origin, a consumer that went away or a stall makes
//! the task start over from where the stream is, as Go retries.

use super::Stream;
use crate::core::connection::{InternalHandler, InternalMsg, Subscription};
use crate::jetstream::consumer::Consumer;
use crate::jetstream::headers as h;
use natsd_proto::jetstream::api::StreamSourceInfo;
use natsd_proto::jetstream::consumer::{AckPolicy, ConsumerConfig, DeliverPolicy};
use natsd_proto::jetstream::stream::StreamSource;
use natsd_proto::jetstream::{ApiError, ErrorId};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};

/// The header a source adds: `<origin> <origin sequence>`.
pub const STREAM_SOURCE: &str = "Nats-Stream-Source";
const LAST_CONSUMER: &str = "Nats-Last-Consumer";
const CONSUMER_STALLED: &str = "Nats-Consumer-Stalled";
/// Go's heartbeat of the origin's consumer, and its health check period.
const HEALTH: Duration = Duration::from_secs(1);
/// The shortest time between two consumer set-ups of one origin.
const RETRY: Duration = Duration::from_secs(2);
/// A mirror answers direct gets of its origin once this close to it.
const DIRECT_CAUGHT_UP: u64 = 10;

/// One origin followed.
pub struct Link {
    mirror: bool,
    src: StreamSource,
    /// The origin's index name (its name, with the external API prefix's
    /// hash when external).
    iname: String,
    st: Mutex<LinkState>,
    cancelled: AtomicBool,
    wake: Notify,
}

#[derive(Default)]
struct LinkState {
    cname: String,
    /// The last origin sequence and consumer sequence taken.
    sseq: u64,
    dseq: u64,
    lag: u64,
    last: Option<Instant>,
    err: Option<ApiError>,
    /// A mirror's direct get subscriptions for its origin's name.
    direct: Vec<Arc<Subscription>>,
}

/// What arrived on the inbox.
struct Inbound {
    subject: String,
    reply: String,
    hdr: Vec<u8>,
    msg: Vec<u8>,
}

/// One attempt's inbox subscription, consumer and messages.
type Attempt = (
    Arc<Subscription>,
    Arc<Consumer>,
    mpsc::UnboundedReceiver<Inbound>,
);

/// What to do after a message.
enum Next {
    Go,
    Retry,
}

/// The stream's origins, mirror first.
#[derive(Default)]
pub struct Links(Mutex<Vec<Arc<Link>>>);

fn index_name(src: &StreamSource) -> String {
    match &src.external {
        Some(ext) => format!(
            "{}:{}",
            src.name,
            crate::events::server_hash(&ext.api_prefix)
        ),
        None => src.name.clone(),
    }
}

fn unsubscribe(sub: &Arc<Subscription>) {
    sub.closed.store(true, Ordering::Release);
    sub.client.unsubscribe(sub);
}

impl Stream {
    /// Starts following the config's mirror or sources.
    pub fn start_origins(self: &Arc<Self>) {
        let cfg = self.config();
        let mut links = Vec::new();
        if let Some(m) = &cfg.mirror {
            links.push((true, m.clone()));
        } else {
            links.extend(cfg.sources.iter().map(|s| (false, s.clone())));
        }
        let links: Vec<Arc<Link>> = links
            .into_iter()
            .map(|(mirror, src)| {
                Arc::new(Link {
                    mirror,
                    iname: index_name(&src),
                    src,
                    st: Mutex::default(),
                    cancelled: AtomicBool::new(false),
                    wake: Notify::new(),
                })
            })
            .collect();
        for l in &links {
            tokio::spawn(run(Arc::downgrade(self), l.clone()));
        }
        *self.origins.0.lock() = links;
    }

    /// Stops following the origins (their tasks remove their consumers).
    pub fn stop_origins(&self) {
        for l in std::mem::take(&mut *self.origins.0.lock()) {
            l.cancelled.store(true, Ordering::Release);
            l.wake.notify_one();
            for sub in std::mem::take(&mut l.st.lock().direct) {
                unsubscribe(&sub);
            }
        }
    }

    /// Stream info's `mirror` and `sources`.
    pub fn origins_info(&self) -> (Option<StreamSourceInfo>, Vec<StreamSourceInfo>) {
        let links = self.origins.0.lock();
        let info = |l: &Link| {
            let st = l.st.lock();
            StreamSourceInfo {
                name: l.src.name.clone(),
                external: l.src.external.clone(),
                lag: st.lag,
                active: st.last.map_or(-1, |t| t.elapsed().as_nanos() as i64),
                error: st.err.clone(),
            }
        };
        let mirror = links.iter().find(|l| l.mirror).map(|l| info(l));
        let sources = links
            .iter()
            .filter(|l| !l.mirror)
            .map(|l| info(l))
            .collect();
        (mirror, sources)
    }

    /// The consumer config and the starting point of a new attempt.
    fn link_consumer_config(&self, link: &Link, inbox: &str) -> ConsumerConfig {
        let mut cfg = ConsumerConfig {
            deliver_subject: inbox.to_string(),
            ack_policy: AckPolicy::None,
            ack_wait: 22 * 3600 * 1_000_000_000,
            max_deliver: 1,
            heartbeat: HEALTH.as_nanos() as i64,
            flow_control: true,
            direct: true,
            filter_subject: link.src.filter_subject.clone(),
            ..Default::default()
        };
        let src = &link.src;
        if link.mirror {
            let st = self.inner.lock().store.fast_state();
            let mut start = st.last_seq + 1;
            let mut time = None;
            // The options count only the first time.
            if st.msgs == 0 && st.first_seq == 0 {
                start = src.opt_start_seq;
                if start == 0 {
                    time = src.opt_start_time.clone();
                }
            }
            {
                let mut l = link.st.lock();
                l.sseq = st.last_seq;
                l.dseq = 0;
            }
            if let Some(t) = time {
                cfg.deliver_policy = DeliverPolicy::ByStartTime;
                cfg.opt_start_time = Some(t);
            } else if start > 0 {
                cfg.deliver_policy = DeliverPolicy::ByStartSequence;
                cfg.opt_start_seq = start;
            }
            return cfg;
        }
        let seq = self.source_start(&link.iname) + 1;
        {
            let mut l = link.st.lock();
            l.sseq = seq - 1;
            l.dseq = 0;
        }
        if seq <= 1 {
            if src.opt_start_seq > 0 {
                cfg.deliver_policy = DeliverPolicy::ByStartSequence;
                cfg.opt_start_seq = src.opt_start_seq;
            } else if let Some(t) = &src.opt_start_time {
                cfg.deliver_policy = DeliverPolicy::ByStartTime;
                cfg.opt_start_time = Some(t.clone());
            } else {
                // What it sourced is gone (acked, purged, aged out): it
                // starts after the time of its last message, as Go does.
                let last_ts = self.inner.lock().store.fast_state().last_ts;
                if last_ts != 0 {
                    cfg.deliver_policy = DeliverPolicy::ByStartTime;
                    cfg.opt_start_time =
                        Some(natsd_proto::jetstream::api::Timestamp(last_ts).text());
                }
            }
        } else {
            cfg.deliver_policy = DeliverPolicy::ByStartSequence;
            cfg.opt_start_seq = seq;
        }
        cfg
    }

    /// The last origin sequence of `iname` stored, from the newest
    /// `Nats-Stream-Source` header naming it (0: none).
    fn source_start(&self, iname: &str) -> u64 {
        let inner = self.inner.lock();
        let st = inner.store.fast_state();
        if st.msgs == 0 {
            return 0;
        }
        let mut seq = st.last_seq;
        while seq >= st.first_seq && seq > 0 {
            if let Ok(m) = inner.store.load_msg(seq) {
                if let Some((name, sseq)) = h::value(&m.hdr, STREAM_SOURCE).and_then(parse_source) {
                    if name == iname {
                        return sseq;
                    }
                }
            }
            seq -= 1;
        }
        0
    }

    /// One attempt: the inbox subscribed, the origin's consumer made.
    fn open_link(self: &Arc<Self>, link: &Arc<Link>) -> Result<Attempt, ApiError> {
        let (Some(js), Some(jsa)) = (self.js(), self.jsa()) else {
            return Err(ApiError::new(ErrorId::StreamNotFound));
        };
        if link.src.external.is_some() {
            // DEFERRED: origins of other accounts or domains (through the
            // API prefix) are not followed yet.
            return Err(setup_failed(
                link.mirror,
                "external origins are not supported",
            ));
        }
        let Some(origin) = jsa.stream(&link.src.name) else {
            return Err(ApiError::new(ErrorId::StreamNotFound));
        };
        let inbox = format!(
            "$JS.{}.{}",
            if link.mirror { "M" } else { "S" },
            nuid::next()
        );
        let cfg = self.link_consumer_config(link, &inbox);
        let (tx, rx) = mpsc::unbounded_channel();
        let handler: InternalHandler = Arc::new(move |m: InternalMsg<'_>| {
            let n = if m.hdr > 0 {
                (m.hdr as usize).min(m.msg.len())
            } else {
                0
            };
            let _ = tx.send(Inbound {
                subject: String::from_utf8_lossy(m.subject).into_owned(),
                reply: m
                    .reply
                    .map(|r| String::from_utf8_lossy(r).into_owned())
                    .unwrap_or_default(),
                hdr: m.msg[..n].to_vec(),
                msg: m.msg[n..].to_vec(),
            });
        });
        let sub = self.subscribe(&inbox, None, handler);
        match origin.add_consumer(&js, &jsa, cfg, false) {
            Ok(c) => {
                let mut l = link.st.lock();
                l.cname = c.name.clone();
                l.err = None;
                l.last = Some(Instant::now());
                Ok((sub, c, rx))
            }
            Err(e) => {
                unsubscribe(&sub);
                Err(e)
            }
        }
    }

    /// Sends an empty message to `to` (flow control answers).
    fn send_empty(&self, to: &str) {
        if let Some(srv) = self.js().and_then(|js| js.server()) {
            crate::conn::internal::Publisher::new(self.conn.clone()).publish(&srv, to, "", b"");
        }
    }

    /// Takes one message of the inbox.
    fn link_msg(self: &Arc<Self>, link: &Link, m: Inbound) -> Next {
        let control = m.msg.is_empty() && m.hdr.starts_with(b"NATS/1.0 100 ");
        let current = {
            let l = link.st.lock();
            !l.cname.is_empty() && m.reply.starts_with("$JS.ACK.") && token(&m.reply, 3) == l.cname
        };
        if !control && !current {
            return Next::Go;
        }
        link.st.lock().last = Some(Instant::now());
        if control {
            if !m.reply.is_empty() {
                self.send_empty(&m.reply);
                return Next::Go;
            }
            let last = h::value(&m.hdr, LAST_CONSUMER).and_then(|v| v.trim().parse::<u64>().ok());
            if let Some(ld) = last.filter(|&n| n > 0) {
                if ld != link.st.lock().dseq {
                    return Next::Retry;
                }
            }
            if let Some(to) = h::value(&m.hdr, CONSUMER_STALLED) {
                self.send_empty(to.trim());
            }
            return Next::Go;
        }
        let Some(ack) = AckInfo::parse(&m.reply) else {
            return Next::Go;
        };
        if ack.dc > 1 {
            return Next::Go;
        }
        if link.mirror {
            self.mirror_msg(link, &m, &ack)
        } else {
            self.source_msg(link, &m, &ack)
        }
    }

    fn mirror_msg(self: &Arc<Self>, link: &Link, m: &Inbound, ack: &AckInfo) -> Next {
        let (osseq, odseq) = {
            let mut l = link.st.lock();
            let old = (l.sseq, l.dseq);
            if ack.sseq == l.sseq + 1 {
                l.dseq = ack.dseq;
                l.sseq += 1;
            } else if ack.sseq <= l.sseq {
                return Next::Go;
            } else if ack.dseq == l.dseq + 1 {
                // The origin lost messages: the mirror skips them.
                let (from, to) = (l.sseq + 1, ack.sseq - 1);
                self.skip_msgs(from, to);
                l.dseq += 1;
                l.sseq = ack.sseq;
            } else {
                return Next::Retry;
            }
            l.lag = ack.pending.saturating_sub(1);
            old
        };
        self.mirror_direct(link, ack.pending);
        let last = self.inner.lock().store.fast_state().last_seq;
        if last + 1 != ack.sseq {
            let mut l = link.st.lock();
            l.sseq = osseq;
            l.dseq = odseq;
            return if ack.sseq <= last {
                Next::Go
            } else {
                Next::Retry
            };
        }
        self.store_origin_msg(&m.subject, &m.hdr, &m.msg, Some((ack.sseq, ack.ts)));
        Next::Go
    }

    fn source_msg(self: &Arc<Self>, link: &Link, m: &Inbound, ack: &AckInfo) -> Next {
        {
            let mut l = link.st.lock();
            if ack.dseq == l.dseq + 1 {
                l.dseq += 1;
                l.sseq = ack.sseq;
            } else if ack.dseq > l.dseq {
                return Next::Retry;
            } else {
                return Next::Go;
            }
            l.lag = ack.pending.saturating_sub(1);
        }
        // A chained source keeps only the last origin's header.
        let hdr = if m.hdr.is_empty() {
            None
        } else {
            h::remove(&m.hdr, STREAM_SOURCE)
        };
        let value = format!("{} {}", link.iname, source_seq_text(&m.reply));
        let hdr = h::add(hdr.as_deref().unwrap_or(b""), STREAM_SOURCE, &value);
        if self.store_origin_msg(&m.subject, &hdr, &m.msg, None) {
            Next::Go
        } else {
            Next::Retry
        }
    }

    /// Stores a message of an origin as a publish would (false: refused).
    fn store_origin_msg(
        self: &Arc<Self>,
        subject: &str,
        hdr: &[u8],
        body: &[u8],
        at: Option<(u64, i64)>,
    ) -> bool {
        let interest = self.has_interest_in(subject);
        let mut out = Vec::new();
        let stored = self.store_inbound(subject, hdr, body, true, interest, at, false, &mut out);
        if let Some(seq) = stored {
            self.signal_consumers(subject, seq);
        }
        let mut refused = false;
        let srv = self.js().and_then(|js| js.server());
        for (to, hdr_len, payload) in out {
            match to {
                // The PubAck nobody asked for tells whether it was refused.
                None => refused |= payload.starts_with(b"{\"error\""),
                Some(to) => {
                    if let Some(srv) = &srv {
                        crate::conn::internal::Publisher::new(self.conn.clone())
                            .publish_with_headers(srv, &to, "", hdr_len, &payload);
                    }
                }
            }
        }
        !refused
    }

    /// Uses the sequences `from..=to` without messages.
    fn skip_msgs(&self, from: u64, to: u64) {
        let mut inner = self.inner.lock();
        let now = super::now_ns();
        let st = inner.store.fast_state();
        if st.msgs == 0 && to >= from && from == st.last_seq + 1 {
            let _ = inner.store.compact(to + 1);
            return;
        }
        for _ in from..=to {
            inner.store.skip_msg(now);
        }
    }

    /// A mirror with `mirror_direct` answers its origin's direct gets once
    /// it has nearly caught up.
    fn mirror_direct(self: &Arc<Self>, link: &Link, pending: u64) {
        if !link.mirror || pending >= DIRECT_CAUGHT_UP || !self.inner.lock().cfg.mirror_direct {
            return;
        }
        let mut l = link.st.lock();
        if l.direct.is_empty() && !link.cancelled.load(Ordering::Acquire) {
            l.direct = super::direct::subscribe_for(self, &link.src.name);
        }
    }
}

/// The subjects a consumer filter of a stream with `cfg` may take: its
/// own and those of its origins, down their chains (Go's
/// gatherSourceMirrorSubjects); true when an origin is external, which
/// leaves the filter unchecked.
pub fn gather_subjects(
    jsa: &crate::jetstream::account::JsAccount,
    cfg: &natsd_proto::jetstream::stream::StreamConfig,
) -> (Vec<String>, bool) {
    fn walk(
        jsa: &crate::jetstream::account::JsAccount,
        origins: Vec<StreamSource>,
        seen: &mut std::collections::HashSet<String>,
        out: &mut Vec<String>,
    ) -> bool {
        for src in origins {
            if src.external.is_some() {
                return true;
            }
            if !seen.insert(src.name.clone()) {
                continue;
            }
            let Some(o) = jsa.stream(&src.name) else {
                continue;
            };
            let c = o.config();
            out.extend(c.subjects.iter().cloned());
            let next = match c.mirror {
                Some(m) => vec![m],
                None => c.sources,
            };
            if walk(jsa, next, seen, out) {
                return true;
            }
        }
        false
    }
    let mut out = cfg.subjects.clone();
    let origins = match &cfg.mirror {
        Some(m) => vec![m.clone()],
        None => cfg.sources.clone(),
    };
    let ext = walk(jsa, origins, &mut Default::default(), &mut out);
    (out, ext)
}

/// Go's `$JS.ACK` reply: its numbers.
struct AckInfo {
    dc: u64,
    sseq: u64,
    dseq: u64,
    ts: i64,
    pending: u64,
}

impl AckInfo {
    fn parse(reply: &str) -> Option<AckInfo> {
        let t: Vec<&str> = reply.split('.').collect();
        let o = match t.len() {
            9 => 4,
            n if n >= 11 => 6,
            _ => return None,
        };
        if t[0] != "$JS" || t[1] != "ACK" {
            return None;
        }
        Some(AckInfo {
            dc: t[o].parse().ok()?,
            sseq: t[o + 1].parse().ok()?,
            dseq: t[o + 2].parse().ok()?,
            ts: t[o + 3].parse().ok()?,
            pending: t[o + 4].parse().ok()?,
        })
    }
}

fn token(s: &str, i: usize) -> &str {
    s.split('.').nth(i).unwrap_or("")
}

/// The origin sequence of the source header, as the reply writes it.
fn source_seq_text(reply: &str) -> &str {
    let t: Vec<&str> = reply.split('.').collect();
    if t.len() == 9 && t[0] == "$JS" && t[1] == "ACK" {
        t[5]
    } else {
        "1"
    }
}

/// A source header's origin and sequence (the new form `<name> <seq>` or
/// the old one, the whole ack reply).
fn parse_source(v: &str) -> Option<(String, u64)> {
    if v.starts_with("$JS.ACK.") {
        let t: Vec<&str> = v.split('.').collect();
        if t.len() != 9 {
            return None;
        }
        return Some((t[2].to_string(), t[5].parse().ok()?));
    }
    let mut f = v.split_whitespace();
    let (name, seq) = (f.next()?, f.next()?);
    if f.next().is_some() {
        return None;
    }
    Some((name.to_string(), seq.parse().ok()?))
}

fn setup_failed(mirror: bool, err: &str) -> ApiError {
    let id = if mirror {
        ErrorId::MirrorConsumerSetupFailed
    } else {
        ErrorId::SourceConsumerSetupFailed
    };
    ApiError::with(id, &[("err", err)])
}

/// Ends an attempt: the inbox unsubscribed, the origin's consumer removed.
fn close_attempt(sub: &Arc<Subscription>, c: &Arc<Consumer>, link: &Link) {
    unsubscribe(sub);
    if let Some(origin) = c.stream() {
        origin.remove_consumer(c, false);
    }
    let mut l = link.st.lock();
    l.cname.clear();
    for sub in std::mem::take(&mut l.direct) {
        unsubscribe(&sub);
    }
}

/// The task of one origin: attempts, each until a retry is needed, at
/// most one every [`RETRY`].
async fn run(stream: Weak<Stream>, link: Arc<Link>) {
    let mut last_try: Option<Instant> = None;
    loop {
        if let Some(t) = last_try {
            let wait = RETRY.saturating_sub(t.elapsed()) + Duration::from_millis(10);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = link.wake.notified() => {}
            }
        }
        if link.cancelled.load(Ordering::Acquire) {
            return;
        }
        let Some(s) = stream.upgrade().filter(|s| !s.is_closed()) else {
            return;
        };
        last_try = Some(Instant::now());
        let opened = s.open_link(&link);
        drop(s);
        let (sub, c, mut rx) = match opened {
            Ok(x) => x,
            Err(e) => {
                link.st.lock().err = Some(e);
                continue;
            }
        };
        let mut tick = tokio::time::interval(HEALTH);
        tick.tick().await;
        let end = loop {
            tokio::select! {
                m = rx.recv() => {
                    let Some(m) = m else { break false };
                    let Some(s) = stream.upgrade() else { break true };
                    if let Next::Retry = s.link_msg(&link, m) {
                        break false;
                    }
                }
                _ = tick.tick() => {
                    let stalled = link
                        .st
                        .lock()
                        .last
                        .is_none_or(|t| t.elapsed() > 3 * HEALTH);
                    if stalled || c.is_closed() {
                        break false;
                    }
                }
                _ = link.wake.notified() => {}
            }
            if link.cancelled.load(Ordering::Acquire)
                || stream.upgrade().is_none_or(|s| s.is_closed())
            {
                break true;
            }
        };
        close_attempt(&sub, &c, &link);
        if end {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ack_replies_and_source_headers() {
        let a = AckInfo::parse("$JS.ACK.O.c1.1.7.3.1700000000000000000.2").unwrap();
        assert_eq!((a.dc, a.sseq, a.dseq, a.pending), (1, 7, 3, 2));
        assert_eq!(a.ts, 1_700_000_000_000_000_000);
        assert!(AckInfo::parse("_INBOX.x").is_none());
        assert_eq!(source_seq_text("$JS.ACK.O.c1.1.7.3.1.2"), "7");
        assert_eq!(parse_source("O 12"), Some(("O".into(), 12)));
        assert_eq!(
            parse_source("$JS.ACK.O.c1.1.7.3.1.2"),
            Some(("O".into(), 7))
        );
        assert_eq!(parse_source("O"), None);
    }
}
