//! The reader task: reads, parses and acts on everything a client sends.
//! A PUB is checked here (limits, permissions, reserved replies) and then
//! routed into the client's account by its [`Router`]; what a read batch
//! queued is flushed at the batch's end.
//!
//! Operations are parsed in place: arguments and payloads are slices of the
//! read buffer, which is consumed once per batch.

use crate::auth;
use crate::core::account::Account;
use crate::core::connection::{
    auth_user, ClosedState, ConnMeta, Connection, Credentials, Subscription,
};
use crate::core::delivery::{Message, Router};
use crate::core::permissions::ClientPermissions;
use crate::server::Server;
use bytes::{Buf, Bytes, BytesMut};
use natsd_proto::client::connect::{redact_pass, ClientOpts};
use natsd_proto::client::parser::{parse_size, split_args, ArgList, Op, ParseError, Parser};
use natsd_proto::client::{self as proto, err_line};
use natsd_proto::quote::go_quote;
use natsd_proto::subject::is_valid_literal_subject;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// The queue group name reserved for the server's own subscriptions.
const SYS_QUEUE_GROUP: &[u8] = b"_sys_";

const START_BUF: usize = 512;
const MIN_BUF: usize = 64;
const MAX_BUF: usize = 64 * 1024;
/// Short reads in a row before the read size is halved.
const SHORTS_TO_SHRINK: u32 = 2;
/// Snippet sizes in parser error logs.
const PROTO_SNIPPET: usize = 32;
const CONTROL_LINE_SNIPPET: usize = 128;
/// Go's first ping to a client after CONNECT comes sooner.
const FIRST_CLIENT_PING: Duration = Duration::from_secs(2);

/// An accepted PUB/HPUB control line, borrowed from the read buffer while
/// its payload is handled in the same read batch.
#[derive(Clone, Copy)]
struct PubMsg<'a> {
    /// The whole argument line.
    line: &'a [u8],
    headers: bool,
    subject: &'a [u8],
    reply: Option<&'a [u8]>,
    /// Header length, or -1 for PUB.
    hdr: i64,
    size: usize,
    /// Sizes exactly as the client wrote them (echoed in MSG/HMSG).
    szb: &'a [u8],
    hdb: &'a [u8],
}

/// The subject, reply, header size and total size fields of a PUB/HPUB
/// argument line; None when it has the wrong number of fields.
#[allow(clippy::type_complexity)]
fn pub_fields(line: &[u8], headers: bool) -> Option<(&[u8], Option<&[u8]>, &[u8], &[u8])> {
    let args = ArgList::split(line);
    Some(match (headers, args.as_slice()?) {
        (false, &[subject, szb]) => (subject, None, &[][..], szb),
        (false, &[subject, reply, szb]) => (subject, Some(reply), &[][..], szb),
        (true, &[subject, hdb, szb]) => (subject, None, hdb, szb),
        (true, &[subject, reply, hdb, szb]) => (subject, Some(reply), hdb, szb),
        _ => return None,
    })
}

/// A PUB/HPUB control line accepted in an earlier read batch, kept until
/// its payload arrives.
struct PubArgs {
    line: Vec<u8>,
    headers: bool,
    hdr: i64,
    size: usize,
}

impl PubArgs {
    fn keep(m: &PubMsg) -> Self {
        Self {
            line: m.line.to_vec(),
            headers: m.headers,
            hdr: m.hdr,
            size: m.size,
        }
    }

    /// The control line as it was accepted.
    fn msg(&self) -> PubMsg<'_> {
        let (subject, reply, hdb, szb) =
            pub_fields(&self.line, self.headers).unwrap_or((&[], None, &[], &[]));
        PubMsg {
            line: &self.line,
            headers: self.headers,
            subject,
            reply,
            hdr: self.hdr,
            size: self.size,
            szb,
            hdb,
        }
    }
}

/// Why the reader stops processing.
struct Stop;

pub struct Reader {
    srv: Arc<Server>,
    client: Arc<Connection>,
    acc: Arc<Account>,
    parser: Parser,
    opts: ClientOpts,
    /// Authentication still pending (no CONNECT yet).
    expect_connect: bool,
    auth_deadline: Option<Instant>,
    connected: bool,
    nonce: Vec<u8>,
    perms: Option<Arc<ClientPermissions>>,
    pa: Option<PubArgs>,
    /// Delivers what this client publishes.
    router: Router,
    /// Payload and subscription limits; -1 is none.
    mpay: i64,
    msubs: i64,
    mcl: usize,
    /// The server's config generation the limits and permissions are from.
    config_gen: u64,
    rng: SmallRng,
    /// Published or subscribed during this read batch (for the ping timer).
    active: bool,
    /// A delivery left a subscriber's backlog past half of its max_pending:
    /// the next PUB waits until the backlog is flushed (Go's stall).
    stall_next: bool,
    /// Processing stopped before a PUB to stall; the rest of the read
    /// buffer is processed after the wait.
    stalled: bool,
    /// Whether this client's operations are traced: the log's level, read
    /// at start and after each reload (not per message).
    traced: bool,
}

impl Reader {
    pub fn new(
        srv: Arc<Server>,
        client: Arc<Connection>,
        nonce: Vec<u8>,
        auth_required: bool,
    ) -> Self {
        let o = srv.opts();
        let acc = client.account.lock().clone();
        // A websocket block's own authorization timeout replaces the
        // server's for its clients.
        let timeout = match o.websocket.auth_timeout {
            t if client.transport.is_websocket() && t != 0.0 => t,
            _ => o.auth_timeout,
        };
        let auth_deadline =
            auth_required.then(|| Instant::now() + Duration::from_secs_f64(timeout.max(0.0)));
        Self {
            mpay: if o.max_payload == 0 {
                -1
            } else {
                i64::from(o.max_payload)
            },
            msubs: if o.max_subs == 0 { -1 } else { o.max_subs },
            mcl: o.max_control_line.max(0) as usize,
            config_gen: srv.config_gen(),
            srv,
            client,
            acc,
            parser: Parser::new(),
            opts: ClientOpts::default(),
            expect_connect: auth_required,
            auth_deadline,
            connected: false,
            nonce,
            perms: None,
            pa: None,
            router: Router::new(),
            rng: SmallRng::from_entropy(),
            active: false,
            stall_next: false,
            stalled: false,
            traced: crate::logging::trace_enabled(),
        }
    }

    /// Whether this client's own operations are traced.
    fn traces(&self) -> bool {
        self.traced
    }

    pub async fn run<R: tokio::io::AsyncRead + Unpin>(mut self, mut rd: R) {
        let mut buf = BytesMut::with_capacity(START_BUF);
        // Read size: doubles after a read that filled it, halves after a
        // few that used less than half of it (as Go sizes its reads).
        let mut rsz = START_BUF;
        let mut shorts = 0;
        loop {
            if buf.is_empty() && buf.capacity() > 2 * rsz {
                // Back to the read size after a burst or a large message.
                buf = BytesMut::with_capacity(rsz);
            } else if buf.capacity() - buf.len() < rsz {
                buf.reserve(rsz);
            }
            let before = buf.len();
            let auth_sleep = async {
                match self.auth_deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            let res = tokio::select! {
                biased;
                _ = self.client.reader_wake.notified() => {
                    if self.client.is_closed() {
                        return;
                    }
                    continue;
                }
                _ = auth_sleep => {
                    self.send_err("Authentication Timeout");
                    crate::debug!("{} - Authentication Timeout", self.client.label());
                    self.client.close(ClosedState::AuthenticationTimeout);
                    return;
                }
                r = rd.read_buf(&mut buf) => r,
            };
            let n = match res {
                Ok(0) => {
                    self.client.close(ClosedState::ClientClosed);
                    return;
                }
                Ok(n) => n,
                Err(_) => {
                    // Go logs nothing here for a plain TCP client; the close
                    // reason says it.
                    self.client.close(ClosedState::ReadError);
                    return;
                }
            };
            self.router.begin_batch();
            self.refresh_config();
            let mut leftover = before;
            loop {
                let stopped = self.process(&mut buf, leftover).is_err();
                leftover = 0;
                self.flush_stats();
                // Stamped before anything this batch queued is written: a
                // client that sees the answer (a PONG) sees the activity.
                if std::mem::take(&mut self.active) {
                    self.client.touch();
                }
                for c in self.router.flush(&self.client) {
                    // Flow control: the client waits while its subscribers
                    // catch up (see client::outbound).
                    c.wait_backlog(&self.client).await;
                }
                if stopped || self.client.is_closed() {
                    return;
                }
                // After a stall, the rest of what was read.
                if !std::mem::take(&mut self.stalled) {
                    break;
                }
            }
            if n >= rsz {
                shorts = 0;
                if rsz < MAX_BUF {
                    rsz *= 2;
                }
            } else if n < rsz / 2 {
                shorts += 1;
                if shorts > SHORTS_TO_SHRINK && rsz > MIN_BUF {
                    rsz /= 2;
                    shorts = 0;
                }
            } else {
                shorts = 0;
            }
        }
    }

    /// Adds this batch's counters to the connection's and the server's.
    fn flush_stats(&mut self) {
        let b = self.router.take_stats();
        if b.in_msgs > 0 {
            let cs = &self.client.stats;
            cs.in_msgs.fetch_add(b.in_msgs, Ordering::Relaxed);
            cs.in_bytes.fetch_add(b.in_bytes, Ordering::Relaxed);
        }
        if b.in_msgs > 0 || b.out_msgs > 0 {
            self.srv
                .stats
                .traffic
                .add(b.in_msgs, b.in_bytes, b.out_msgs, b.out_bytes);
            self.acc
                .traffic
                .add(b.in_msgs, b.in_bytes, b.out_msgs, b.out_bytes);
        }
    }

    /// Queues bytes for this client (woken at the end of the batch).
    fn send(&mut self, data: &[u8]) {
        self.router.queue_for(&self.client, data);
    }

    fn send_err(&mut self, text: &str) {
        crate::trace!("{} - ->> [-ERR {}]", self.client.label(), text);
        self.send(&err_line(text));
    }

    fn send_ok(&mut self) {
        crate::trace!("{} - ->> [OK]", self.client.label());
        self.send(proto::OK);
    }

    /// Closes after a protocol error that Go logs as an error line.
    fn protocol_error(&mut self, msg: &str) -> Stop {
        crate::error!("{} - {msg}", self.client.label());
        self.client.close(ClosedState::ProtocolViolation);
        Stop
    }

    /// Handles every complete operation in `buf` and consumes them;
    /// `leftover` bytes at its start came from earlier reads (Go reports
    /// offsets within the last read only).
    fn process(&mut self, buf: &mut BytesMut, leftover: usize) -> Result<(), Stop> {
        let mut at = 0;
        let res = self.process_ops(buf, &mut at, leftover);
        buf.advance(at);
        res
    }

    /// Parses and handles operations from `data[*at..]`, moving `at` past
    /// each one handled. Arguments and payloads stay borrowed from `data`.
    fn process_ops(&mut self, data: &[u8], at: &mut usize, leftover: usize) -> Result<(), Stop> {
        // The accepted PUB/HPUB whose payload comes next.
        let mut pending: Option<PubMsg<'_>> = None;
        loop {
            let buf = &data[*at..];
            let (op, n) = match self.parser.parse(buf, self.mcl, self.expect_connect) {
                Ok(Some(op)) => op,
                Ok(None) => {
                    if let Some(m) = pending {
                        // The payload comes in a later read.
                        self.pa = Some(PubArgs::keep(&m));
                    }
                    return Ok(());
                }
                Err(ParseError::AuthRequired) => {
                    if self.try_no_auth_user() {
                        continue;
                    }
                    return Err(self.auth_violation());
                }
                Err(ParseError::Unknown { state, pos }) => {
                    self.send_err("Unknown Protocol Operation");
                    let i = (*at + pos).saturating_sub(leftover);
                    let msg = format!(
                        "Client parser ERROR, state={state}, i={i}: proto='{}...'",
                        snippet(buf, pos, PROTO_SNIPPET)
                    );
                    return Err(self.protocol_error(&msg));
                }
                Err(ParseError::ControlLine { state, len }) => {
                    let line = &buf[..len.min(buf.len())];
                    let start = line
                        .iter()
                        .position(|b| *b == b' ' || *b == b'\t')
                        .map_or(0, |p| p + 1);
                    let arg = trim_leading_space(&buf[start.min(buf.len())..]);
                    let snip = snippet(&arg[..len.min(arg.len())], 0, CONTROL_LINE_SNIPPET);
                    self.send_err("maximum control line exceeded");
                    crate::error!(
                        "{} - maximum control line exceeded: State {state}, max_control_line {}, Buffer len 0 (snip: {snip}...)",
                        self.client.label(),
                        self.mcl
                    );
                    self.client.close(ClosedState::MaxControlLineExceeded);
                    return Err(Stop);
                }
            };
            if self.stall_next && matches!(op, Op::Pub(_) | Op::HPub(_)) {
                // Go waits before delivering the next message.
                self.stall_next = false;
                self.stalled = true;
                return Ok(());
            }
            *at += n;
            self.handle(op, &mut pending)?;
            if self.client.is_closed() {
                return Err(Stop);
            }
        }
    }

    /// Go lets a first non-CONNECT op through when no_auth_user names a
    /// configured user.
    fn try_no_auth_user(&mut self) -> bool {
        let o = self.srv.opts();
        let no_auth_user = auth::Simple::of(&o, &self.client.transport).no_auth_user;
        if no_auth_user.is_empty() {
            return false;
        }
        let Some(user) = o.users.iter().find(|u| u.username == no_auth_user) else {
            return false;
        };
        if let Some(p) = &user.permissions {
            self.set_permissions(p);
        }
        let account = user.account.clone();
        self.bind_account(&account);
        self.keep_credentials(ClientOpts {
            user: user.username.clone(),
            pass: user.password.clone(),
            ..Default::default()
        });
        self.expect_connect = false;
        self.auth_deadline = None;
        self.connected = true;
        self.connect_event();
        true
    }

    /// The connect advisory of an authenticated client.
    fn connect_event(&self) {
        if let Some(sys) = self.srv.system() {
            let global = self.acc.name == crate::options::accounts::GLOBAL_ACCOUNT;
            sys.client_connected(&self.client, global);
        }
    }

    fn auth_violation(&mut self) -> Stop {
        super::auth_violation(&self.srv, &self.srv.opts(), &self.client, &self.opts);
        Stop
    }

    fn handle<'a>(&mut self, op: Op<'a>, pending: &mut Option<PubMsg<'a>>) -> Result<(), Stop> {
        match op {
            Op::Connect(arg) => self.connect(&Bytes::copy_from_slice(arg)),
            Op::Pub(arg) => {
                if self.traces() {
                    crate::logging::write(
                        "TRC",
                        format_args!("{} - <<- [PUB {}]", self.client.label(), lossy(arg)),
                    );
                }
                *pending = Some(self.pub_args(arg, false)?);
                Ok(())
            }
            Op::HPub(arg) => {
                if self.traces() {
                    crate::logging::write(
                        "TRC",
                        format_args!("{} - <<- [HPUB {}]", self.client.label(), lossy(arg)),
                    );
                }
                if !self.client.headers.load(Ordering::Relaxed) {
                    return Err(self.protocol_error("message headers not supported"));
                }
                *pending = Some(self.pub_args(arg, true)?);
                Ok(())
            }
            Op::HMsg(_) => {
                self.parser.expect_payload(0, true);
                Ok(())
            }
            Op::Skipped => Ok(()),
            Op::Payload(payload) => {
                if self.traces() {
                    crate::logging::write(
                        "TRC",
                        format_args!(
                            "{} - <<- MSG_PAYLOAD: [{}]",
                            self.client.label(),
                            crate::conn::trace_payload(payload, self.srv.opts().max_traced_msg_len)
                        ),
                    );
                }
                if let Some(m) = pending.take() {
                    self.inbound_msg(&m, payload);
                } else if let Some(pa) = self.pa.take() {
                    self.inbound_msg(&pa.msg(), payload);
                }
                Ok(())
            }
            Op::Sub(arg) => {
                crate::trace!("{} - <<- [SUB {}]", self.client.label(), lossy(arg));
                self.sub(&Bytes::copy_from_slice(arg))
            }
            Op::Unsub(arg) => {
                crate::trace!("{} - <<- [UNSUB {}]", self.client.label(), lossy(arg));
                self.unsub(&Bytes::copy_from_slice(arg))
            }
            Op::Ping => {
                crate::trace!("{} - <<- [PING]", self.client.label());
                crate::trace!("{} - ->> [PONG]", self.client.label());
                self.send(proto::PONG);
                self.client.ping.lock().last_ping_in = Some(Instant::now());
                if self.connected && self.opts.protocol >= 1 {
                    let first = !self.client.async_info.swap(true, Ordering::AcqRel);
                    // As Go: after the PONG of the first PING of a client
                    // that takes async INFOs, an INFO with the client's own
                    // max_payload when an account or user limit lowered it.
                    let o = self.srv.opts();
                    let server_pay = match o.max_payload {
                        0 => -1,
                        n => i64::from(n),
                    };
                    if first && self.mpay != server_pay {
                        let mut info = self.srv.info();
                        info.auth_required =
                            crate::auth::auth_required_for(&o, &self.client.transport);
                        info.client_id = self.client.cid;
                        info.client_ip = self.client.host.clone();
                        info.max_payload = i32::try_from(self.mpay).unwrap_or(-1);
                        self.send(&info.to_line());
                    }
                }
                Ok(())
            }
            Op::Pong => {
                crate::trace!("{} - <<- [PONG]", self.client.label());
                let mut p = self.client.ping.lock();
                p.out = 0;
                if let Some(sent) = p.rtt_start {
                    p.rtt = rtt_since(sent);
                }
                Ok(())
            }
            Op::Ok => Ok(()),
            // A client's INFO is ignored, but like Go it must decode into
            // Go's Info.
            Op::Info(arg) => {
                match natsd_proto::gojson::check_types(arg, &natsd_proto::client::info::GO_INFO) {
                    Ok(()) => Ok(()),
                    Err(e) => Err(self.protocol_error(&e.to_string())),
                }
            }
            Op::Err(arg) => {
                crate::error!("{} - Client Error {}", self.client.label(), lossy(arg));
                self.client.close(ClosedState::ParseError);
                Err(Stop)
            }
        }
    }

    fn connect(&mut self, arg: &Bytes) -> Result<(), Stop> {
        crate::trace!(
            "{} - <<- [CONNECT {}]",
            self.client.label(),
            redact_pass(arg)
        );
        let o = self.srv.opts();
        self.auth_deadline = None;
        {
            let now = Instant::now();
            let mut p = self.client.ping.lock();
            p.last_activity = now;
            p.rtt = rtt_since(self.client.start);
            let mut first = o.ping_interval.min(FIRST_CLIENT_PING);
            let jitter = first.as_nanos() as u64 / 5;
            if jitter > 0 {
                first += Duration::from_nanos(self.rng.gen_range(0..jitter));
            }
            p.deadline = now + first;
        }
        self.client.write_ready.notify_one();
        if let Err(e) = self.opts.apply_json(arg) {
            return Err(self.protocol_error(&e.to_string()));
        }
        self.connected = true;
        self.client.connect_received.store(true, Ordering::Release);
        self.client.echo.store(self.opts.echo, Ordering::Relaxed);
        let headers = !o.no_header_support && self.opts.headers;
        self.client.headers.store(headers, Ordering::Relaxed);
        self.update_label();

        let label = self.client.label();
        let checked = auth::check(
            &o,
            &self.client.transport,
            self.client.tls.get(),
            &mut self.opts,
            &self.nonce,
            &label,
        );
        self.publish_meta();
        match checked {
            Some(id) => {
                // A second CONNECT re-authenticates: the new user's
                // permissions replace the old ones, none included.
                match &id.permissions {
                    Some(p) => self.set_permissions(p),
                    None if self.perms.is_some() => self.clear_permissions(),
                    None => {}
                }
                self.bind_account(&id.account);
                if self.acc.connections_exceeded() {
                    return Err(self.account_connections_exceeded());
                }
                self.keep_credentials(self.opts.clone());
                self.connect_event();
            }
            None => return Err(self.auth_violation()),
        }
        if self.opts.new_account || !self.opts.account.is_empty() {
            return Err(self.auth_violation());
        }
        self.expect_connect = false;
        if self.opts.protocol < 0 || self.opts.protocol > 1 {
            self.send_err("invalid client protocol");
            crate::error!("{label} - invalid client protocol");
            self.client.close(ClosedState::BadClientProtocolVersion);
            return Err(Stop);
        }
        if self.opts.no_responders && !headers {
            self.send_err("no responders requires headers support");
            crate::error!("{label} - no responders requires headers support");
            self.client.close(ClosedState::NoRespondersRequiresHeaders);
            return Err(Stop);
        }
        if self.opts.verbose {
            self.send_ok();
        }
        Ok(())
    }

    /// The sixth client of an account limited to five: refused and closed.
    fn account_connections_exceeded(&mut self) -> Stop {
        const WHY: &str = "maximum account active connections exceeded";
        crate::error!("{} - {WHY}", self.client.label());
        self.send_err(WHY);
        self.client
            .close(ClosedState::MaxAccountConnectionsExceeded);
        Stop
    }

    /// The payload and subscription limits of the client: the account's,
    /// unless the server's are lower (Go's applyAccountLimits).
    fn apply_limits(&mut self) {
        let o = self.srv.opts();
        let limits = self.acc.limits();
        let min = |account: i64, server: i64, what: &str| -> i64 {
            if server < 0 || (account >= 0 && account <= server) {
                return account;
            }
            if account >= 0 {
                crate::error!(
                    "{} - Max {what} set to {server} from server overrides account or user config",
                    self.client.label()
                );
            }
            server
        };
        let server_pay = if o.max_payload == 0 {
            -1
        } else {
            i64::from(o.max_payload)
        };
        let server_subs = if o.max_subs == 0 { -1 } else { o.max_subs };
        self.mpay = min(limits.max_payload, server_pay, "Payload");
        self.msubs = min(limits.max_subscriptions, server_subs, "Subscriptions");
    }

    /// Keeps what the client authenticated with for a reload to check.
    fn keep_credentials(&self, opts: ClientOpts) {
        *self.client.credentials.lock() = Some(Arc::new(Credentials {
            opts,
            nonce: self.nonce.clone(),
        }));
    }

    /// Shares what CONNECT said with monitoring.
    fn publish_meta(&self) {
        let o = &self.opts;
        let auth_user = [&o.nkey, &o.user, &o.auth_token]
            .into_iter()
            .find(|s| !s.is_empty())
            .cloned()
            .unwrap_or_default();
        *self.client.meta.lock() = ConnMeta {
            name: o.name.clone(),
            lang: o.lang.clone(),
            version: o.version.clone(),
            username: o.user.clone(),
            auth_user,
        };
    }

    fn update_label(&self) {
        let o = &self.opts;
        let mut ncs = String::new();
        if !o.version.is_empty() {
            ncs = format!("v{}", o.version);
        }
        if !o.lang.is_empty() {
            ncs = if o.version.is_empty() {
                o.lang.clone()
            } else {
                format!("{ncs}:{}", o.lang)
            };
        }
        if !o.name.is_empty() {
            ncs = if o.version.is_empty() && o.lang.is_empty() {
                o.name.clone()
            } else {
                format!("{ncs}:{}", o.name)
            };
        }
        if !ncs.is_empty() {
            let c = &self.client;
            c.set_label(format!("{} - {}", c.base_label(), go_quote(ncs.as_bytes())));
        }
    }

    /// Moves the client into the account it authenticated for (empty: the
    /// global account), at every CONNECT.
    fn bind_account(&mut self, name: &str) {
        let acc = match self.srv.accounts().get(name) {
            Some(a) if !name.is_empty() => a.clone(),
            _ => self.srv.global_account().clone(),
        };
        if !Arc::ptr_eq(&acc, &self.acc) {
            self.client.move_to_account(acc.clone());
            self.srv.client_moved(&self.acc, &acc);
            self.acc = acc;
        }
        self.apply_limits();
    }

    fn set_permissions(&mut self, p: &crate::options::Permissions) {
        let perms = Arc::new(ClientPermissions::new(p));
        self.client.set_permissions(Some(perms.clone()));
        self.perms = Some(perms);
    }

    /// Lifts every permission, the delivery deny filter included (a user
    /// without permissions after a second CONNECT).
    fn clear_permissions(&mut self) {
        self.client.set_permissions(None);
        self.perms = None;
        *self.client.deliver_deny.lock() = None;
        self.client.has_deliver_deny.store(false, Ordering::Release);
    }

    /// Picks up what a config reload changed for this connection: limits
    /// and permissions.
    fn refresh_config(&mut self) {
        let generation = self.srv.config_gen();
        if generation == self.config_gen {
            return;
        }
        self.config_gen = generation;
        self.traced = self.client.kind.traced();
        self.perms = self.client.perms.lock().clone();
        let o = self.srv.opts();
        self.apply_limits();
        self.mcl = o.max_control_line.max(0) as usize;
    }

    /// The user as Go names it in violation logs.
    fn auth_user(&self) -> String {
        auth_user(&self.opts)
    }

    /// Validates a PUB/HPUB argument line; the payload of the returned
    /// message comes next.
    fn pub_args<'a>(&mut self, arg: &'a [u8], headers: bool) -> Result<PubMsg<'a>, Stop> {
        let what = if headers {
            "processHeaderPub"
        } else {
            "processPub"
        };
        let Some((subject, reply, hdb, szb)) = pub_fields(arg, headers) else {
            return Err(self.protocol_error(&format!("{what} Parse Error: {}", go_quote(arg))));
        };
        let hdr = if headers { parse_size(hdb) } else { -1 };
        let size = parse_size(szb);
        if headers && hdr < 0 {
            return Err(self.protocol_error(&format!(
                "processHeaderPub Bad or Missing Header Size: {}",
                go_quote(arg)
            )));
        }
        if size < 0 {
            let m = if headers {
                "processHeaderPub Bad or Missing Total Size"
            } else {
                "processPub Bad or Missing Size"
            };
            return Err(self.protocol_error(&format!("{m}: {}", go_quote(arg))));
        }
        if headers && hdr > size {
            return Err(self.protocol_error(&format!(
                "processHeaderPub Header Size larger then TotalSize: {}",
                go_quote(arg)
            )));
        }
        if self.mpay >= 0 && size > self.mpay {
            crate::error!(
                "{} - maximum payload exceeded: {size} vs {}",
                self.client.label(),
                self.mpay
            );
            self.send_err("Maximum Payload Violation");
            self.client.close(ClosedState::MaxPayloadExceeded);
            return Err(Stop);
        }
        if self.opts.pedantic && !is_valid_literal_subject(subject) {
            self.send_err("Invalid Publish Subject");
        }
        self.parser.expect_payload(size as usize, false);
        Ok(PubMsg {
            line: arg,
            headers,
            subject,
            reply,
            hdr,
            size: size as usize,
            szb,
            hdb,
        })
    }

    fn pub_violation(&mut self, subject: &[u8]) {
        self.send_err(&format!(
            "Permissions Violation for Publish to {}",
            go_quote(subject)
        ));
        crate::error!(
            "{} - Publish Violation - {}, Subject {}",
            self.client.label(),
            self.auth_user(),
            go_quote(subject)
        );
    }

    fn inbound_msg(&mut self, pa: &PubMsg, payload: &[u8]) {
        // Subject mappings: the rest of the way uses the mapped subject.
        let (mapped, remapped);
        let pa = if self.acc.mappings.is_active() {
            mapped = self.mapped_subject(pa.subject);
            match &mapped {
                Some(s) => {
                    remapped = PubMsg {
                        subject: s.as_bytes(),
                        ..*pa
                    };
                    &remapped
                }
                None => pa,
            }
        } else {
            pa
        };
        self.active = true;
        self.router.received(self.client.kind, pa.size);
        if pa.subject.len() > 5 && pa.subject.starts_with(b"_GR_.") {
            self.pub_violation(pa.subject);
            return;
        }
        let denied = self
            .perms
            .as_ref()
            .is_some_and(|p| p.has_pub_rules() && !p.can_publish(pa.subject));
        if denied {
            self.pub_violation(pa.subject);
            return;
        }
        if let Some(reply) = pa.reply {
            if is_reserved_reply(reply) {
                self.send_err(&format!(
                    "Permissions Violation for Publish with Reply of {}",
                    go_quote(reply)
                ));
                crate::error!(
                    "{} - Publish Violation - {}, Reply {}",
                    self.client.label(),
                    self.auth_user(),
                    go_quote(reply)
                );
                return;
            }
        }
        if self.opts.verbose {
            self.send_ok();
        }
        let m = Message {
            subject: pa.subject,
            reply: pa.reply,
            hdr: pa.hdr,
            payload,
            hdr_text: pa.hdb,
            size_text: pa.szb,
            shown_as: None,
        };
        let delivered = self.router.route(&self.acc, &self.client, &m);
        if self.router.take_backlogged() {
            // Go waits before delivering the next message.
            self.stall_next = true;
        }
        if !delivered && self.opts.no_responders {
            if let Some(reply) = pa.reply {
                self.no_responders(reply);
            }
        }
    }

    /// The subject the account's mappings send `subject` to, if any.
    fn mapped_subject(&mut self, subject: &[u8]) -> Option<String> {
        let to = self.router.mapped_subject(&self.acc, subject)?;
        if self.traces() {
            crate::logging::write(
                "TRC",
                format_args!(
                    "{} - <<- [MAPPING {} -> {to}]",
                    self.client.label(),
                    lossy(subject)
                ),
            );
        }
        Some(to)
    }

    fn no_responders(&mut self, reply: &[u8]) {
        let r = self.acc.sublist.match_subject(reply);
        let own = r
            .psubs
            .iter()
            .find(|s| Arc::ptr_eq(&s.client, &self.client))
            .cloned();
        if let Some(sub) = own {
            let mut line = Vec::with_capacity(64);
            line.extend_from_slice(b"HMSG ");
            line.extend_from_slice(reply);
            line.push(b' ');
            line.extend_from_slice(&sub.sid);
            line.extend_from_slice(b" 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
            self.send(&line);
        }
    }

    fn sub(&mut self, arg: &Bytes) -> Result<(), Stop> {
        let args = split_args(arg);
        let (subject, queue, sid) = match args.len() {
            2 => (args[0].clone(), None, args[1].clone()),
            3 => (args[0].clone(), Some(args[1].clone()), args[2].clone()),
            _ => {
                return Err(
                    self.protocol_error(&format!("processSub Parse Error: {}", go_quote(arg)))
                )
            }
        };
        self.active = true;
        let perms = self.perms.clone();
        // The system queue group is reserved, permissions or not.
        let allowed = perms
            .as_ref()
            .is_none_or(|p| p.can_subscribe(&subject, queue.as_deref()))
            && queue.as_deref() != Some(SYS_QUEUE_GROUP);
        if !allowed {
            let (err, log) = match &queue {
                Some(q) => (
                    format!(
                        "Permissions Violation for Subscription to {} using queue {}",
                        go_quote(&subject),
                        go_quote(q)
                    ),
                    format!(
                        "Subscription Violation - {}, Subject {}, Queue: {}, SID {}",
                        self.auth_user(),
                        go_quote(&subject),
                        go_quote(q),
                        lossy(&sid)
                    ),
                ),
                None => (
                    format!(
                        "Permissions Violation for Subscription to {}",
                        go_quote(&subject)
                    ),
                    format!(
                        "Subscription Violation - {}, Subject {}, SID {}",
                        self.auth_user(),
                        go_quote(&subject),
                        lossy(&sid)
                    ),
                ),
            };
            self.send_err(&err);
            crate::error!("{} - {log}", self.client.label());
            return Ok(());
        }
        if let Some(f) = perms.and_then(|p| p.deny_filter_for(&String::from_utf8_lossy(&subject))) {
            let mut d = self.client.deliver_deny.lock();
            if d.is_none() {
                *d = Some(Arc::new(f));
                self.client.has_deliver_deny.store(true, Ordering::Release);
            }
        }
        let o = self.srv.opts();
        if o.max_sub_tokens > 0
            && subject.split(|b| *b == b'.').count() > usize::from(o.max_sub_tokens)
        {
            self.send_err(&format!(
                "Permissions Violation for Subscription to {}, too many tokens",
                go_quote(&subject)
            ));
            crate::error!(
                "{} - Subscription Violation Too Many Tokens - {}, Subject {}, SID {}",
                self.client.label(),
                self.auth_user(),
                go_quote(&subject),
                lossy(&sid)
            );
            return Ok(());
        }
        let at_limit = self.msubs >= 0 && self.client.subs.lock().len() as i64 >= self.msubs;
        if at_limit {
            crate::error!("{} - maximum subscriptions exceeded", self.client.label());
            self.send_err("maximum subscriptions exceeded");
            return Ok(());
        }
        let exists = self.client.subs.lock().contains_key(&sid);
        if !exists {
            let sub = Arc::new(Subscription::new(
                self.client.clone(),
                subject.clone(),
                queue.as_ref().map(|q| Arc::from(&q[..])),
                sid.clone(),
            ));
            self.client.subs.lock().insert(sid.clone(), sub.clone());
            if self
                .acc
                .sublist
                .insert(&subject, sub.queue.as_ref(), sub.clone())
                .is_err()
            {
                self.client.subs.lock().remove(&sid);
                self.send_err("Invalid Subject");
                return Ok(());
            }
            crate::core::imports::shadow::add(&self.acc, &sub);
            self.acc.interest_watch.changed(&subject);
        }
        if self.opts.verbose {
            self.send_ok();
        }
        Ok(())
    }

    fn unsub(&mut self, arg: &Bytes) -> Result<(), Stop> {
        let args = split_args(arg);
        let (sid, max) = match args.len() {
            1 => (args[0].clone(), -1),
            2 => (args[0].clone(), parse_size(&args[1])),
            _ => {
                return Err(
                    self.protocol_error(&format!("processUnsub Parse Error: {}", go_quote(arg)))
                )
            }
        };
        self.active = true;
        let sub = self.client.subs.lock().get(&sid).cloned();
        if self.opts.verbose {
            self.send_ok();
        }
        if let Some(sub) = sub {
            let delivered = sub.delivered.load(Ordering::Acquire) as i64;
            if max > 0 && max > delivered {
                sub.max.store(max as u64, Ordering::Release);
                crate::debug!(
                    "{} - Deferring actual UNSUB({}): {max} max, {delivered} received",
                    self.client.label(),
                    lossy(&sub.subject)
                );
            } else {
                self.client.unsubscribe(&sub);
                self.acc.interest_watch.changed(&sub.subject);
            }
        }
        Ok(())
    }
}

/// Go's round-trip estimate: never zero once measured.
fn rtt_since(start: Instant) -> Duration {
    start.elapsed().max(Duration::from_nanos(1))
}

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

fn trim_leading_space(b: &[u8]) -> &[u8] {
    let i = b
        .iter()
        .position(|c| *c != b' ' && *c != b'\t')
        .unwrap_or(b.len());
    &b[i..]
}

/// Go's protoSnippet: quoted bytes from `start`, at most `max`, with its
/// quirk of dropping the last byte when the input is shorter.
fn snippet(buf: &[u8], start: usize, max: usize) -> String {
    if start >= buf.len() {
        return "\"\"".into();
    }
    let mut stop = start + max;
    if stop > buf.len() {
        stop = buf.len() - 1;
    }
    go_quote(&buf[start..stop.max(start)])
}

/// Reply subjects a client may not use: service imports, JetStream acks and
/// gateway-routed replies.
fn is_reserved_reply(reply: &[u8]) -> bool {
    reply.starts_with(b"_R_.")
        || (reply.len() > 8 && reply.starts_with(b"$JS.ACK."))
        || (reply.len() > 5 && reply.starts_with(b"_GR_."))
}
