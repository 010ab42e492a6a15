//! One client connection: the state other connections touch (outbound
//! buffer, subscriptions, close flag), shared as `Arc<Client>`.
//!
//! The connection's reader task ([`reader`]) parses input and does all
//! publishing; its writer task ([`writer`]) flushes the outbound buffer in
//! batches, runs the ping timer and closes the socket.

use super::account::Account;
use super::outbound::Outbound;
use super::permissions;
use bytes::Bytes;
use foldhash::HashMap;
use natsd_proto::client::connect::ClientOpts;
use parking_lot::Mutex;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

pub use super::kind::{Kind, Transport};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Notify;

/// Why a connection was closed (Go's `ClosedState` texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosedState {
    ClientClosed,
    AuthenticationTimeout,
    AuthenticationViolation,
    SlowConsumerPendingBytes,
    SlowConsumerWriteDeadline,
    WriteError,
    ReadError,
    ParseError,
    StaleConnection,
    ProtocolViolation,
    BadClientProtocolVersion,
    MaxConnectionsExceeded,
    MaxAccountConnectionsExceeded,
    MaxPayloadExceeded,
    MaxControlLineExceeded,
    ServerShutdown,
    NoRespondersRequiresHeaders,
    TlsHandshakeError,
}

impl ClosedState {
    /// Closes that must not try to flush what is still queued.
    fn skips_flush(self) -> bool {
        matches!(
            self,
            ClosedState::ReadError
                | ClosedState::WriteError
                | ClosedState::SlowConsumerPendingBytes
                | ClosedState::SlowConsumerWriteDeadline
        )
    }
}

impl fmt::Display for ClosedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClosedState::ClientClosed => "Client Closed",
            ClosedState::AuthenticationTimeout => "Authentication Timeout",
            ClosedState::AuthenticationViolation => "Authentication Failure",
            ClosedState::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            ClosedState::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            ClosedState::WriteError => "Write Error",
            ClosedState::ReadError => "Read Error",
            ClosedState::ParseError => "Parse Error",
            ClosedState::StaleConnection => "Stale Connection",
            ClosedState::ProtocolViolation => "Protocol Violation",
            ClosedState::BadClientProtocolVersion => "Bad Client Protocol Version",
            ClosedState::MaxConnectionsExceeded => "Maximum Connections Exceeded",
            ClosedState::MaxAccountConnectionsExceeded => "Maximum Account Connections Exceeded",
            ClosedState::MaxPayloadExceeded => "Maximum Message Payload Exceeded",
            ClosedState::MaxControlLineExceeded => "Maximum Control Line Exceeded",
            ClosedState::ServerShutdown => "Server Shutdown",
            ClosedState::NoRespondersRequiresHeaders => "No Responders Requires Headers",
            ClosedState::TlsHandshakeError => "TLS Handshake Failure",
        })
    }
}

/// Ping bookkeeping shared by the reader (activity, PONGs) and the writer
/// (the timer).
pub(crate) struct PingState {
    /// Outstanding PINGs without a PONG.
    pub out: i64,
    /// Last time the client published or subscribed (or connected).
    pub last_activity: Instant,
    /// Last PING received from the client.
    pub last_ping_in: Option<Instant>,
    /// When the server last sent a PING (RTT measurement start).
    pub rtt_start: Option<Instant>,
    /// Last measured round trip; zero until CONNECT gives a first estimate.
    pub rtt: Duration,
    /// When the timer fires next.
    pub deadline: Instant,
}

/// A message delivered to a server-internal subscription.
pub struct InternalMsg<'a> {
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// Header length within `msg`, or -1 without headers.
    pub hdr: i64,
    /// Headers and payload.
    pub msg: &'a [u8],
    /// The publisher's account.
    pub account: &'a Arc<Account>,
    /// The publisher.
    pub from: &'a Arc<Connection>,
    /// Where the handler puts what it publishes in answer (see
    /// [`crate::core::delivery::Deferred`]).
    pub out: &'a mut Vec<crate::core::delivery::Deferred>,
    /// What the handler leaves for the end of the publisher's batch (see
    /// [`crate::core::delivery::BatchEnd`]).
    pub at_end: &'a mut Vec<crate::core::delivery::BatchEnd>,
}

/// What takes the messages of a server-internal subscription, in the
/// publisher's task: it must not block.
pub type InternalHandler = Arc<dyn Fn(InternalMsg<'_>) + Send + Sync>;

/// A subscription, shared between the owning client and the account index.
pub struct Subscription {
    pub client: Arc<Connection>,
    pub subject: Bytes,
    pub queue: Option<Arc<[u8]>>,
    pub sid: Bytes,
    /// Auto-unsubscribe limit; 0 means none.
    pub max: AtomicU64,
    /// Messages delivered so far.
    pub delivered: AtomicU64,
    pub closed: AtomicBool,
    /// Set for the server's own subscriptions, which handle messages
    /// instead of queueing them.
    pub internal: Option<InternalHandler>,
    /// Set on a shadow copy in an exporting account: the stream import it
    /// delivers through.
    pub stream_import: Option<Arc<crate::core::imports::StreamImport>>,
    /// Set on an account's subscriptions for service imports and
    /// responses.
    pub service: Option<crate::core::imports::ServiceRole>,
    /// Shadow copies of this subscription in exporting accounts.
    pub shadows: Mutex<Vec<(Arc<Account>, Arc<Subscription>)>>,
}

/// What queueing bytes for a client found.
#[derive(Debug, Default, Clone, Copy)]
pub struct Queued {
    /// The caller should wake the writer (it was not signaled yet).
    pub wake: bool,
    /// The backlog is past half of max_pending: a publisher stalls before
    /// its next message, as Go's producers do.
    pub backlogged: bool,
}

impl Subscription {
    pub fn new(
        client: Arc<Connection>,
        subject: Bytes,
        queue: Option<Arc<[u8]>>,
        sid: Bytes,
    ) -> Self {
        Self {
            client,
            subject,
            queue,
            sid,
            max: Default::default(),
            delivered: Default::default(),
            closed: Default::default(),
            internal: None,
            stream_import: None,
            service: None,
            shadows: Default::default(),
        }
    }
}

/// The shared half of a client connection.
pub struct Connection {
    pub cid: u64,
    /// What the connection is; the rules that differ by kind are [`Kind`]'s.
    pub kind: Kind,
    /// How a network client reached the server.
    pub transport: Transport,
    owner: Weak<dyn Owner>,
    /// `ip:port - cid:N`, with ` - "version:lang:name"` once known.
    label: Mutex<Arc<str>>,
    pub host: String,
    pub port: u16,
    pub(crate) out: Mutex<Outbound>,
    pub(crate) write_ready: Notify,
    pub(crate) reader_wake: Notify,
    closed: AtomicBool,
    pub echo: AtomicBool,
    pub headers: AtomicBool,
    pub(crate) max_pending: i64,
    pub(crate) ping: Mutex<PingState>,
    pub subs: Mutex<HashMap<Bytes, Arc<Subscription>>>,
    pub account: Mutex<Arc<Account>>,
    /// Accounts the client left, by a second CONNECT, while it had
    /// subscriptions: as in Go, those stay in the old account's sublist.
    former_accounts: Mutex<Vec<Arc<Account>>>,
    /// Subscribe deny list applied at delivery time (see permissions).
    pub deliver_deny: Mutex<Option<Arc<permissions::DenyFilter>>>,
    /// Fast check before taking `deliver_deny`'s lock.
    pub has_deliver_deny: AtomicBool,
    /// The permissions the client was given at CONNECT or by the last
    /// reload; the reader keeps its own copy and refreshes it on reload.
    pub perms: Mutex<Option<Arc<permissions::ClientPermissions>>>,
    /// What the client authenticated with (set at CONNECT), so that a
    /// reload can check it again against the new users.
    pub credentials: Mutex<Option<Arc<Credentials>>>,
    /// Set when the client answers requests under `allow_responses`.
    pub reply_perms: Mutex<Option<Arc<permissions::ClientPermissions>>>,
    pub tracks_replies: AtomicBool,
    /// Protocol 1 client that has sent CONNECT and a PING: may receive
    /// INFO updates (e.g. lame duck mode).
    pub async_info: AtomicBool,
    /// The client has sent CONNECT.
    pub connect_received: AtomicBool,
    /// The server requires authentication of this client. A write deadline
    /// missed before its CONNECT is not counted as a slow consumer, as in Go.
    pub expect_connect: AtomicBool,
    /// Set once the client has been counted as a slow consumer, so that the
    /// pending-bytes and write-deadline paths never count it twice.
    slow_consumer: AtomicBool,
    /// Monitoring counters. Inbound ones are added once per read batch by
    /// the reader, outbound ones per delivery by the publisher's reader.
    pub stats: crate::core::account::Traffic,
    /// What CONNECT said about the client, for monitoring.
    pub meta: Mutex<ConnMeta>,
    /// Wall-clock time the connection was accepted, paired with `start` to
    /// turn the `Instant`s kept elsewhere into timestamps.
    pub start_wall: SystemTime,
    pub start: Instant,
    /// Last delivery to this client, as nanoseconds since `start` (0: none).
    /// An atomic so publishers need no lock to stamp it.
    last_delivery: AtomicU64,
    /// What the TLS handshake agreed on, once it has completed.
    pub tls: std::sync::OnceLock<TlsState>,
}

/// What a client's TLS handshake agreed on, in Go's names, for monitoring.
#[derive(Debug, Clone, Default)]
pub struct TlsState {
    /// "1.2" or "1.3".
    pub version: String,
    /// The cipher suite, e.g. "TLS_AES_128_GCM_SHA256".
    pub cipher_suite: String,
    /// The certificates the client presented, leaf first.
    pub peer_certs: Vec<PeerCert>,
    /// The DER of the first one, which `verify_and_map` reads.
    pub peer_leaf: Option<std::sync::Arc<[u8]>>,
}

/// A client certificate as `/connz?auth=1` shows it (Go's `TLSPeerCert`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PeerCert {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// Hex SHA-256 of the DER SubjectPublicKeyInfo.
    #[serde(rename = "spki_sha256", skip_serializing_if = "String::is_empty")]
    pub spki_sha256: String,
    /// Hex SHA-256 of the whole DER certificate.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cert_sha256: String,
}

/// The credentials of a CONNECT and the nonce the client was given (an nkey
/// signature covers it).
pub struct Credentials {
    pub opts: ClientOpts,
    pub nonce: Vec<u8>,
}

impl Credentials {
    /// The user as Go names it in violation logs.
    pub fn auth_user(&self) -> String {
        auth_user(&self.opts)
    }
}

/// How Go names a client's user in violation logs.
pub fn auth_user(o: &ClientOpts) -> String {
    if !o.nkey.is_empty() {
        format!("Nkey \"{}\"", o.nkey)
    } else if !o.user.is_empty() {
        format!("User \"{}\"", o.user)
    } else {
        "User \"N/A\"".into()
    }
}

/// The client's self-description from CONNECT, as monitoring reports it.
#[derive(Default, Clone)]
pub struct ConnMeta {
    pub name: String,
    pub lang: String,
    pub version: String,
    /// The user name given in CONNECT (or implied by no_auth_user).
    pub username: String,
    /// What `/connz?auth=1` shows: nkey, else user name, else token.
    pub auth_user: String,
}

/// Who runs connections (the server): told when one is cut as a slow
/// consumer and when one closes. The core reports through it and so never
/// needs the server itself.
pub trait Owner: Send + Sync {
    /// A connection was counted as a slow consumer (once per connection).
    fn slow_consumer(&self);
    /// A connection is closing; its subscriptions are still in place.
    fn closing(&self, c: &Arc<Connection>, reason: ClosedState);
    /// A closed connection's subscriptions are gone.
    fn closed(&self, cid: u64);
    /// The server's name and cluster, for request headers.
    fn origin(&self) -> (String, String);
    /// An account's new internal connection.
    fn internal_connection(&self, acc: &Arc<Account>) -> Arc<Connection>;
    /// The hash of the server's name that tracked reply subjects carry.
    fn server_hash(&self) -> String;
    /// Publishes a message of the server's into `acc` (latency advisories).
    fn account_message(&self, acc: &Arc<Account>, subject: &str, payload: Vec<u8>);
}

impl Connection {
    /// A network client from `host:port`, with the limits of its kind.
    #[allow(clippy::too_many_arguments)]
    pub fn client(
        cid: u64,
        owner: Weak<dyn Owner>,
        host: String,
        port: u16,
        transport: Transport,
        max_pending: i64,
        account: Arc<Account>,
        first_ping: Instant,
    ) -> Self {
        let label = format!(
            "{} - {}:{cid}",
            transport.address(&host, port),
            transport.id_tag()
        );
        let mut c = Self::new(
            Kind::Client,
            cid,
            owner,
            host,
            port,
            max_pending,
            account,
            first_ping,
            label,
        );
        c.transport = transport;
        c
    }

    /// The label before CONNECT names the client: `ip:port - cid:N`.
    pub fn base_label(&self) -> String {
        format!(
            "{} - {}:{}",
            self.transport.address(&self.host, self.port),
            self.transport.id_tag(),
            self.cid
        )
    }

    /// One of the server's own connections into `account`: no socket, no
    /// ping timer, never cut; it publishes with headers and without echo.
    pub fn internal(
        kind: Kind,
        cid: u64,
        owner: Weak<dyn Owner>,
        account: Arc<Account>,
        label: &str,
    ) -> Self {
        let never = Instant::now() + Duration::from_secs(86400 * 365);
        let c = Self::new(
            kind,
            cid,
            owner,
            String::new(),
            0,
            i64::MAX,
            account,
            never,
            label.into(),
        );
        c.echo.store(false, Ordering::Relaxed);
        c.headers.store(true, Ordering::Relaxed);
        c
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        kind: Kind,
        cid: u64,
        owner: Weak<dyn Owner>,
        host: String,
        port: u16,
        max_pending: i64,
        account: Arc<Account>,
        first_ping: Instant,
        label: String,
    ) -> Self {
        let label: Arc<str> = Arc::from(label);
        let now = Instant::now();
        Self {
            cid,
            kind,
            transport: Transport::Tcp,
            owner,
            label: Mutex::new(label),
            host,
            port,
            out: Mutex::new(Outbound::new()),
            write_ready: Notify::new(),
            reader_wake: Notify::new(),
            closed: AtomicBool::new(false),
            echo: AtomicBool::new(true),
            headers: AtomicBool::new(false),
            max_pending,
            ping: Mutex::new(PingState {
                out: 0,
                last_activity: now,
                last_ping_in: None,
                rtt_start: None,
                rtt: Duration::ZERO,
                deadline: first_ping,
            }),
            subs: Mutex::new(HashMap::default()),
            account: Mutex::new(account),
            former_accounts: Mutex::new(Vec::new()),
            deliver_deny: Mutex::new(None),
            has_deliver_deny: AtomicBool::new(false),
            perms: Mutex::new(None),
            credentials: Mutex::new(None),
            reply_perms: Mutex::new(None),
            tracks_replies: AtomicBool::new(false),
            async_info: AtomicBool::new(false),
            connect_received: AtomicBool::new(false),
            expect_connect: AtomicBool::new(false),
            slow_consumer: AtomicBool::new(false),
            stats: crate::core::account::Traffic::default(),
            meta: Mutex::new(ConnMeta::default()),
            start_wall: SystemTime::now(),
            start: now,
            last_delivery: AtomicU64::new(0),
            tls: std::sync::OnceLock::new(),
        }
    }

    /// Who runs the connection, while it runs.
    pub fn owner(&self) -> Option<Arc<dyn Owner>> {
        self.owner.upgrade()
    }

    /// The last measured round trip.
    pub fn rtt(&self) -> Duration {
        self.ping.lock().rtt
    }

    pub fn label(&self) -> Arc<str> {
        self.label.lock().clone()
    }

    pub fn set_label(&self, label: String) {
        *self.label.lock() = Arc::from(label);
    }

    /// Authentication is required and CONNECT has not come yet.
    pub fn awaiting_auth(&self) -> bool {
        self.expect_connect.load(Ordering::Acquire)
            && !self.connect_received.load(Ordering::Acquire)
    }

    /// Counts this client as a slow consumer, once; false if it already was.
    pub fn count_slow_consumer(&self) -> bool {
        if self.slow_consumer.swap(true, Ordering::AcqRel) {
            return false;
        }
        if let Some(h) = self.owner.upgrade() {
            h.slow_consumer();
        }
        true
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Queues protocol bytes and wakes the writer now.
    pub fn send(self: &Arc<Self>, data: &[u8]) {
        if self.queue(&[data]).wake {
            self.write_ready.notify_one();
        }
    }

    /// Queues `parts` back to back. A client whose pending bytes would
    /// exceed max_pending is closed as a slow consumer.
    pub fn queue(self: &Arc<Self>, parts: &[&[u8]]) -> Queued {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let mut out = self.out.lock();
        if out.close.is_some() {
            return Queued::default();
        }
        if self.kind.cut_when_slow() && out.pending + len as i64 > self.max_pending {
            drop(out);
            crate::notice!(
                "{} - Slow Consumer Detected: MaxPending of {} Exceeded",
                self.label(),
                self.max_pending
            );
            self.count_slow_consumer();
            self.close(ClosedState::SlowConsumerPendingBytes);
            return Queued::default();
        }
        out.pending += len as i64;
        out.queued.push_all(parts, len);
        let wake = !out.signaled;
        out.signaled = true;
        Queued {
            wake,
            backlogged: out.pending > self.max_pending / 2,
        }
    }

    /// Installs the client's permissions (None: unrestricted), with the
    /// reply tracking `allow_responses` needs.
    pub fn set_permissions(&self, perms: Option<Arc<permissions::ClientPermissions>>) {
        let replies = perms.as_ref().filter(|p| p.response.is_some()).cloned();
        self.tracks_replies
            .store(replies.is_some(), Ordering::Relaxed);
        *self.reply_perms.lock() = replies;
        *self.perms.lock() = perms;
    }

    /// Sends `-ERR 'text'` now.
    pub fn send_err(self: &Arc<Self>, text: &str) {
        crate::trace!("{} - ->> [-ERR {}]", self.label(), text);
        self.send(&natsd_proto::client::err_line(text));
    }

    /// Marks the connection closed: stops deliveries, removes its
    /// subscriptions and registration, and lets the writer flush (unless the
    /// reason forbids it) and close the socket.
    pub fn close(self: &Arc<Self>, reason: ClosedState) {
        {
            let mut out = self.out.lock();
            if reason.skips_flush() {
                out.skip_flush = true;
            }
            if out.close.is_some() {
                return;
            }
            out.close = Some(reason);
        }
        self.closed.store(true, Ordering::Release);
        crate::debug!("{} - Client connection closed: {}", self.label(), reason);
        self.write_ready.notify_one();
        self.reader_wake.notify_one();
        // Recorded before teardown so the entry still lists the subscriptions.
        if let Some(h) = self.owner.upgrade() {
            h.closing(self, reason);
        }
        self.teardown();
    }

    fn teardown(self: &Arc<Self>) {
        let subs: Vec<Arc<Subscription>> = self.subs.lock().drain().map(|(_, s)| s).collect();
        for s in subs {
            s.closed.store(true, Ordering::Release);
            self.remove_from_sublist(&s);
            crate::trace!(
                "{} - <-> [DELSUB {}]",
                self.label(),
                String::from_utf8_lossy(&s.sid)
            );
        }
        if let Some(h) = self.owner.upgrade() {
            h.closed(self.cid);
        }
    }

    /// Removes one subscription (UNSUB, auto-unsubscribe).
    pub fn unsubscribe(&self, sub: &Arc<Subscription>) {
        if sub.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        {
            let mut subs = self.subs.lock();
            if subs.get(&sub.sid).is_some_and(|s| Arc::ptr_eq(s, sub)) {
                subs.remove(&sub.sid);
            }
        }
        crate::trace!(
            "{} - <-> [DELSUB {}]",
            self.label(),
            String::from_utf8_lossy(&sub.sid)
        );
        self.remove_from_sublist(sub);
    }

    /// Takes a subscription out of its account's sublist: the current
    /// account, or one the client left while subscribed.
    fn remove_from_sublist(&self, sub: &Arc<Subscription>) {
        crate::core::imports::shadow::remove(sub);
        let acc = self.account.lock().clone();
        if acc
            .sublist
            .remove(&sub.subject, sub.queue.as_ref(), sub)
            .is_ok()
        {
            acc.waiting.interest_lost(&acc, &sub.subject);
            return;
        }
        for former in self.former_accounts.lock().iter() {
            if former
                .sublist
                .remove(&sub.subject, sub.queue.as_ref(), sub)
                .is_ok()
            {
                return;
            }
        }
    }

    /// Moves the client to `acc` (a second CONNECT for a user of another
    /// account). Returns the account it left.
    pub fn move_to_account(&self, acc: Arc<Account>) -> Arc<Account> {
        let former = std::mem::replace(&mut *self.account.lock(), acc);
        if !self.subs.lock().is_empty() {
            self.former_accounts.lock().push(former.clone());
        }
        former
    }

    /// Records client activity for the ping timer and monitoring.
    pub fn touch(&self) {
        self.touch_at(Instant::now());
    }

    pub fn touch_at(&self, now: Instant) {
        self.ping.lock().last_activity = now;
    }

    /// Notes a delivery made during a read batch that arrived at `at`.
    pub fn mark_delivery(&self, at: Instant) {
        let ns = at.saturating_duration_since(self.start).as_nanos() as u64;
        if self.last_delivery.load(Ordering::Relaxed) < ns {
            self.last_delivery.fetch_max(ns, Ordering::Relaxed);
        }
    }

    /// When the last delivery's batch arrived (`start` if none yet).
    pub fn delivered_at(&self) -> Instant {
        self.start + Duration::from_nanos(self.last_delivery.load(Ordering::Relaxed))
    }

    /// Last publish, subscription change or delivery (Go's `last`).
    pub fn last_activity(&self) -> Instant {
        let own = self.ping.lock().last_activity;
        own.max(self.delivered_at())
    }

    /// The wall-clock time of an instant during this connection's life.
    pub fn wall_time(&self, at: Instant) -> SystemTime {
        self.start_wall + at.saturating_duration_since(self.start)
    }
}
