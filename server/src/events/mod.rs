//! The system account's internal client (Go's `SYSTEM`): it subscribes to
//! the `$SYS` subjects that tools and other servers use, answers their
//! requests (stats, monitoring documents, per-account information) and
//! publishes the server's events: client connect and disconnect advisories,
//! account connection counts, authentication errors, periodic stats and
//! the shutdown notice.
//!
//! One task owns the internal connections' publishers and sends
//! everything, so events leave in order and every message carries the next
//! sequence number. A request to a service is answered in its publisher's
//! task, as in Go (the answer reports the state when the request arrived);
//! the answer goes to the task over a channel, so the publisher never waits
//! for it to be sent.

mod messages;
mod services;

use crate::conn::internal::Publisher;
use crate::core::account::Account;
use crate::core::connection::{ClosedState, Connection, InternalMsg, Subscription};
use crate::monitor::accstat::DataStats;
use crate::server::services::{ServiceFuture, SystemEvents};
use crate::server::Server;
use bytes::Bytes;
use foldhash::HashMap;
use messages::{
    AccNumConnsReq, AccountNumConns, ClientInfo, ConnectEventMsg, DisconnectEventMsg, ServerInfo,
    ServerStats, ServerStatsMsg, TypedEvent,
};
use natsd_proto::system::{self as subjects, Service};
use parking_lot::Mutex;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{mpsc, oneshot};

/// The id of the system client; the internal clients of other accounts
/// follow it.
pub const SYSTEM_CLIENT_ID: u64 = 1;
/// Go's stats heartbeat: the first after 250 ms, then twice as long each
/// time up to 30 s.
const FIRST_STATSZ: Duration = Duration::from_millis(250);
const STATSZ_INTERVAL: Duration = Duration::from_secs(30);
/// An account with connections repeats its connection count this often.
const ACCOUNT_CONNS_INTERVAL: Duration = Duration::from_secs(30);
/// How long shutdown waits for the shutdown notice to go out.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(1);

/// A message body made when it is sent, from the sender's stamp.
type Body = Box<dyn FnOnce(ServerInfo) -> Vec<u8> + Send>;

enum Cmd {
    /// An event on the system account, with a reply subject or "".
    Event {
        subject: String,
        reply: String,
        body: Body,
    },
    /// An account's connection count changed: the account and the count
    /// then (a later count would merge a join with a quick leave).
    AccountConns(Arc<Account>, usize),
    /// What a request got, to send to its reply subject in `account`.
    Answer {
        answer: services::Answer,
        reply: Option<String>,
        account: Arc<Account>,
    },
    /// Sends the shutdown notice and stops.
    Shutdown(oneshot::Sender<()>),
}

/// The running system client.
pub struct System {
    srv: Weak<Server>,
    client: Arc<Connection>,
    account_name: String,
    tx: mpsc::UnboundedSender<Cmd>,
    /// The internal connections of the other accounts (made for their
    /// imports of the system's services), by account name: the system
    /// publishes into an account through its connection.
    importers: Mutex<HashMap<String, Arc<Connection>>>,
}

impl System {
    /// Creates the system client of `srv`'s system account, subscribes it
    /// and starts its task. None without a system account.
    pub fn start(srv: &Arc<Server>) -> Option<Arc<System>> {
        let accounts = srv.accounts();
        let account = accounts.get(accounts.system_name())?.clone();
        let client = crate::conn::internal::connection(srv, SYSTEM_CLIENT_ID, &account, "SYSTEM");
        let (tx, rx) = mpsc::unbounded_channel();
        let sys = Arc::new(System {
            srv: Arc::downgrade(srv),
            client: client.clone(),
            account_name: account.name.clone(),
            tx,
            importers: Mutex::default(),
        });
        let info = srv.info();
        let hash = server_hash(&info.server_name);
        for (i, s) in subjects::system_subscriptions(&info.server_id, &hash)
            .into_iter()
            .enumerate()
        {
            sys.subscribe(&client, &account, &s.subject, i as u64 + 2, s.service);
        }
        for (i, acc) in accounts
            .all()
            .iter()
            .filter(|a| a.name != account.name)
            .enumerate()
        {
            sys.add_imports(srv, acc, SYSTEM_CLIENT_ID + 1 + i as u64);
        }
        let task = Task {
            srv: Arc::downgrade(srv),
            sys: sys.clone(),
            publishers: HashMap::default(),
            seq: 0,
            account_beats: HashMap::default(),
        };
        tokio::spawn(task.run(rx));
        // The system client joins its account, then asks the others about
        // every account it now tracks.
        let conns = account.num_clients();
        sys.send(Cmd::AccountConns(account, conns));
        for acc in accounts.all() {
            sys.request_account_conns(&info.server_id, &acc.name);
        }
        Some(sys)
    }

    /// The number of internal clients a server with `accounts` accounts
    /// creates when it has a system account: real clients come after them.
    pub fn internal_clients(accounts: usize) -> u64 {
        accounts as u64 + 1
    }

    fn send(&self, cmd: Cmd) {
        let _ = self.tx.send(cmd);
    }

    /// Subscribes `client` (internal) to `subject` in `account`, handing
    /// its messages to the task as requests for `service`.
    fn subscribe(
        &self,
        client: &Arc<Connection>,
        account: &Arc<Account>,
        subject: &str,
        sid: u64,
        service: Service,
    ) {
        // Go traces the system client's own subscriptions only.
        let traced = Arc::ptr_eq(client, &self.client);
        if traced && crate::logging::trace_enabled() && crate::logging::trace_system() {
            crate::logging::write(
                "TRC",
                format_args!("{} - <<- [SUB {subject}  {sid}]", client.label()),
            );
        }
        let (tx, srv) = (self.tx.clone(), self.srv.clone());
        let mut sub = Subscription::new(
            client.clone(),
            Bytes::copy_from_slice(subject.as_bytes()),
            None,
            Bytes::from(sid.to_string()),
        );
        // Answered in the publisher's task, as Go does: what the answer
        // reports is the state when the request arrived.
        sub.internal = Some(Arc::new(move |m: InternalMsg<'_>| {
            let Some(srv) = srv.upgrade() else { return };
            let req = services::Request::of(service.clone(), &m);
            let answer = services::answer(&srv, &req);
            if !matches!(answer, services::Answer::None) {
                let _ = tx.send(Cmd::Answer {
                    answer,
                    reply: req.reply,
                    account: req.account,
                });
            }
        }));
        let sub = Arc::new(sub);
        client.subs.lock().insert(sub.sid.clone(), sub.clone());
        if account
            .sublist
            .insert(&sub.subject, None, sub.clone())
            .is_err()
        {
            client.subs.lock().remove(&sub.sid);
        }
    }

    /// Makes `account`'s internal connection, with id `cid` (Go makes it
    /// for the system imports, which `core::imports` adds through it).
    fn add_imports(&self, srv: &Server, account: &Arc<Account>, cid: u64) {
        let client = account.internal_connection(|| {
            crate::conn::internal::connection(srv, cid, account, "ACCOUNT")
        });
        self.importers.lock().insert(account.name.clone(), client);
    }

    /// Whether `acc` (this very account, not an earlier one of the same
    /// name) has its internal connection.
    fn has_imports(&self, acc: &Arc<Account>) -> bool {
        self.importers
            .lock()
            .get(&acc.name)
            .is_some_and(|c| Arc::ptr_eq(&c.account.lock(), acc))
    }

    fn request_account_conns(&self, server_id: &str, account: &str) {
        let (subject, reply) = subjects::account_conns_request(account, server_id);
        let acc = account.to_string();
        self.send(Cmd::Event {
            subject,
            reply,
            body: Box::new(move |server| {
                crate::monitor::json::compact(&AccNumConnsReq { server, acc })
            }),
        });
    }

    /// A disconnect advisory for `c`, on the subject `subject` makes of its
    /// account's name.
    fn send_disconnect(
        &self,
        c: &Connection,
        reason: ClosedState,
        subject: impl FnOnce(&str) -> String,
    ) {
        let now = SystemTime::now();
        let mut event = TypedEvent::new(messages::DISCONNECT_EVENT);
        event.timestamp = now;
        let client = client_info(c, Some(now));
        // The client's inbound is what it sent.
        let (sent, received) = (DataStats::inbound(&c.stats), DataStats::outbound(&c.stats));
        self.send(Cmd::Event {
            subject: subject(&client.acc),
            reply: String::new(),
            body: Box::new(move |server| {
                crate::monitor::json::compact(&DisconnectEventMsg {
                    event,
                    server,
                    client,
                    sent,
                    received,
                    reason: reason.to_string(),
                })
            }),
        });
    }
}

impl SystemEvents for System {
    fn account_message(&self, account: Arc<Account>, subject: String, payload: Vec<u8>) {
        self.send(Cmd::Answer {
            answer: services::Answer::Body(Box::new(move |_| payload)),
            reply: Some(subject),
            account,
        });
    }

    /// A reload installed new accounts: those without the system imports
    /// get them, and are tracked.
    fn accounts_changed(&self, srv: &Server) {
        let accounts = srv.accounts();
        let server_id = srv.info().server_id;
        for acc in accounts.all() {
            if acc.name == self.account_name || self.has_imports(acc) {
                continue;
            }
            self.add_imports(srv, acc, srv.next_client_id());
            self.request_account_conns(&server_id, &acc.name);
        }
    }
    /// A client joined `account` (at accept, the global account; at
    /// CONNECT, the account it authenticated for).
    fn client_joined(&self, account: &Arc<Account>) {
        self.send(Cmd::AccountConns(account.clone(), account.num_clients()));
    }
    /// A client left `account`; Go reports no change of the global
    /// account's count here.
    fn client_left(&self, account: &Arc<Account>, global: bool) {
        if !global {
            self.send(Cmd::AccountConns(account.clone(), account.num_clients()));
        }
    }
    /// A client authenticated: the connect advisory of its account (none
    /// for the global account).
    fn client_connected(&self, c: &Connection, global: bool) {
        if global {
            return;
        }
        let event = TypedEvent::new(messages::CONNECT_EVENT);
        let client = client_info(c, None);
        let subject = subjects::connect_event(&client.acc);
        self.send(Cmd::Event {
            subject,
            reply: String::new(),
            body: Box::new(move |server| {
                crate::monitor::json::compact(&ConnectEventMsg {
                    event,
                    server,
                    client,
                })
            }),
        });
    }
    /// A client closed: the disconnect advisory of its account (none for
    /// the global account).
    fn client_disconnected(&self, c: &Connection, reason: ClosedState, global: bool) {
        if !global {
            self.send_disconnect(c, reason, subjects::disconnect_event);
        }
    }
    /// A client failed to authenticate: a disconnect advisory on the
    /// server's authentication error subject.
    fn auth_error(&self, c: &Connection, server_id: &str) {
        self.send_disconnect(c, ClosedState::AuthenticationViolation, |_| {
            subjects::auth_error_event(server_id)
        });
    }
    /// Sends the shutdown notice and stops the task. The internal clients
    /// are not closed one by one: they go with the server (Go logs only
    /// that the system connection closed, which the server does).
    fn shutdown(&self) -> ServiceFuture<'_, ()> {
        Box::pin(async move {
            let (done, wait) = oneshot::channel();
            self.send(Cmd::Shutdown(done));
            let _ = tokio::time::timeout(SHUTDOWN_WAIT, wait).await;
        })
    }
}

/// A client as its advisories describe it; `stop` for a closed one.
fn client_info(c: &Connection, stop: Option<SystemTime>) -> ClientInfo {
    let meta = c.meta.lock().clone();
    let creds = c.credentials.lock().clone();
    let (user, issuer_key) = match &creds {
        Some(cr) if !cr.opts.nkey.is_empty() => (cr.opts.nkey.clone(), String::new()),
        Some(cr) if !cr.opts.user.is_empty() => (cr.opts.user.clone(), String::new()),
        Some(cr) => (cr.opts.auth_token.clone(), String::new()),
        None => (meta.username.clone(), String::new()),
    };
    ClientInfo {
        start: Some(c.start_wall),
        host: c.host.clone(),
        id: c.cid,
        acc: c.account.lock().name.clone(),
        user,
        name: meta.name,
        lang: meta.lang,
        ver: meta.version,
        rtt: if stop.is_some() {
            c.ping.lock().rtt
        } else {
            Duration::ZERO
        },
        stop,
        issuer_key,
        kind: c.kind.go_name().into(),
        client_type: "nats".into(),
    }
}

/// The system client's task.
struct Task {
    srv: Weak<Server>,
    sys: Arc<System>,
    /// One publisher per account the task publishes into.
    publishers: HashMap<String, Publisher>,
    seq: u64,
    /// When each account with connections repeats its count.
    account_beats: HashMap<String, (Arc<Account>, Instant)>,
}

impl Task {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        let mut statsz_every = FIRST_STATSZ;
        let mut next_statsz = Instant::now() + statsz_every;
        loop {
            let next_beat = self.account_beats.values().map(|(_, at)| *at).min();
            let beat = async {
                match next_beat {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                cmd = rx.recv() => {
                    let Some(cmd) = cmd else { return };
                    let Some(srv) = self.srv.upgrade() else { return };
                    match cmd {
                        Cmd::Event { subject, reply, body } => self.event(&srv, &subject, &reply, body),
                        Cmd::AccountConns(acc, conns) => {
                            self.account_conns(&srv, &acc, None, Some(conns))
                        }
                        Cmd::Answer { answer, reply, account } => self.answer(&srv, answer, reply, &account),
                        Cmd::Shutdown(done) => {
                            let id = srv.info().server_id;
                            self.event(&srv, &subjects::shutdown(&id), "", Box::new(|si| crate::monitor::json::compact(&si)));
                            let _ = done.send(());
                            return;
                        }
                    }
                }
                _ = tokio::time::sleep_until(next_statsz.into()) => {
                    let Some(srv) = self.srv.upgrade() else { return };
                    let id = srv.info().server_id;
                    self.statsz(&srv, &subjects::statsz(&id), services::statsz(&srv));
                    statsz_every = (statsz_every * 2).min(STATSZ_INTERVAL);
                    next_statsz = Instant::now() + statsz_every;
                }
                _ = beat => {
                    let Some(srv) = self.srv.upgrade() else { return };
                    let now = Instant::now();
                    let due: Vec<Arc<Account>> = self
                        .account_beats
                        .values()
                        .filter(|(_, at)| *at <= now)
                        .map(|(a, _)| a.clone())
                        .collect();
                    for acc in due {
                        self.account_conns(&srv, &acc, None, None);
                    }
                }
            }
        }
    }

    /// The stamp of the next message this server sends.
    fn stamp(&mut self, srv: &Server) -> ServerInfo {
        self.seq += 1;
        let info = srv.info();
        let o = srv.opts();
        ServerInfo {
            name: info.server_name,
            host: info.host,
            id: info.server_id,
            cluster: info.cluster,
            domain: o.jetstream_config.domain.clone(),
            ver: crate::server::VERSION,
            tags: o.tags.clone(),
            seq: self.seq,
            jetstream: srv.jetstream().is_some(),
            time: SystemTime::now(),
        }
    }

    /// Publishes into `account` (the system account when None).
    fn publish(
        &mut self,
        srv: &Arc<Server>,
        account: Option<&Arc<Account>>,
        subject: &str,
        reply: &str,
        payload: &[u8],
    ) {
        let name = account.map_or(self.sys.account_name.as_str(), |a| a.name.as_str());
        let client = if name == self.sys.account_name {
            Some(self.sys.client.clone())
        } else {
            self.sys.importers.lock().get(name).cloned()
        };
        let Some(client) = client else { return };
        let publisher = self
            .publishers
            .entry(name.to_string())
            .or_insert_with(|| Publisher::new(client.clone()));
        publisher.publish(srv, subject, reply, payload);
    }

    /// An event on the system account, stamped now.
    fn event(&mut self, srv: &Arc<Server>, subject: &str, reply: &str, body: Body) {
        let stamp = self.stamp(srv);
        let payload = body(stamp);
        self.publish(srv, None, subject, reply, &payload);
    }

    fn statsz(&mut self, srv: &Arc<Server>, subject: &str, statsz: ServerStats) {
        let msg = ServerStatsMsg {
            server: self.stamp(srv),
            statsz,
        };
        let payload = crate::monitor::json::compact(&msg);
        self.publish(srv, None, subject, "", &payload);
    }

    /// Sends `acc`'s connection count (`conns`, or the count now), to
    /// `reply` or on both update subjects, and keeps repeating it while it
    /// has connections.
    fn account_conns(
        &mut self,
        srv: &Arc<Server>,
        acc: &Arc<Account>,
        reply: Option<&str>,
        conns: Option<usize>,
    ) {
        let mut stat = crate::monitor::accstat::account_stat(srv, acc);
        if let Some(n) = conns {
            stat.conns = n;
            stat.total_conns = n;
        }
        if stat.total_conns == 0 {
            self.account_beats.remove(&acc.name);
        } else {
            self.account_beats.insert(
                acc.name.clone(),
                (acc.clone(), Instant::now() + ACCOUNT_CONNS_INTERVAL),
            );
        }
        let msg = AccountNumConns {
            event: TypedEvent::new(messages::ACCOUNT_CONNS_EVENT),
            server: self.stamp(srv),
            stat,
        };
        let subjects: Vec<String> = match reply {
            Some(r) => vec![r.to_string()],
            None => subjects::account_conns(&acc.name).to_vec(),
        };
        let payload = crate::monitor::json::compact(&msg);
        for s in subjects {
            self.publish(srv, None, &s, "", &payload);
        }
    }

    fn answer(
        &mut self,
        srv: &Arc<Server>,
        answer: services::Answer,
        reply: Option<String>,
        account: &Arc<Account>,
    ) {
        match answer {
            services::Answer::None => {}
            services::Answer::AccountConns(acc) => {
                if let Some(r) = reply {
                    self.account_conns(srv, &acc, Some(&r), None);
                }
            }
            services::Answer::Statsz(statsz) => {
                let id = srv.info().server_id;
                let to = reply.unwrap_or_else(|| subjects::statsz(&id));
                self.statsz(srv, &to, statsz);
            }
            services::Answer::Body(body) => {
                let Some(reply) = reply else { return };
                let stamp = self.stamp(srv);
                let payload = body(stamp);
                self.publish(srv, Some(account), &reply, "", &payload);
            }
        }
    }
}

/// Go's 8-character hash of a server name, which targets one server.
pub fn server_hash(name: &str) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let digest = ring::digest::digest(&ring::digest::SHA256, name.as_bytes());
    digest.as_ref()[..8]
        .iter()
        .map(|b| DIGITS[usize::from(*b) % DIGITS.len()] as char)
        .collect()
}

#[cfg(test)]
mod hash_tests {
    #[test]
    fn hash_is_eight_base62_characters() {
        // What Go 2.9.10 subscribes to for a server of this name.
        assert_eq!(super::server_hash("monitor_server"), "8HPyvpzu");
    }
}
