//! The server's internal connections: the system account's, and one per
//! other account for its imports of the system's services. They have no
//! socket; the server publishes through them as values, into the core's
//! delivery, with the same mappings, counters and traces as a client's
//! publish, and Go's rules for internal clients (see [`Kind::System`]).

use crate::core::account::Account;
use crate::core::connection::{Connection, Kind};
use crate::core::delivery::{Router, SizeText};
use crate::server::Server;
use std::sync::Arc;

/// A new internal connection into `account`, labelled `label` in logs.
pub fn connection(srv: &Server, cid: u64, account: &Arc<Account>, label: &str) -> Arc<Connection> {
    Arc::new(Connection::internal(
        Kind::System,
        cid,
        srv.weak(),
        account.clone(),
        label,
    ))
}

/// A message the server publishes, owned.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    pub subject: String,
    /// The subject subscribers see, when not `subject` (see
    /// [`crate::core::delivery::Message::shown_as`]).
    pub shown_as: Option<String>,
    pub reply: String,
    /// Header length within `payload`, or -1 without headers.
    pub hdr: i64,
    pub payload: Vec<u8>,
}

/// Publishes as one internal connection.
pub struct Publisher {
    conn: Arc<Connection>,
    router: Router,
}

impl Publisher {
    pub fn new(conn: Arc<Connection>) -> Self {
        Self {
            conn,
            router: Router::new(),
        }
    }

    /// Publishes one message into the connection's account and flushes
    /// it to the subscribers; the server never waits on their backlog.
    pub fn publish(&mut self, srv: &Server, subject: &str, reply: &str, payload: &[u8]) {
        self.publish_with_headers(srv, subject, reply, -1, payload)
    }

    /// Publishes a message whose first `hdr` bytes (-1: none) are headers.
    pub fn publish_with_headers(
        &mut self,
        srv: &Server,
        subject: &str,
        reply: &str,
        hdr: i64,
        payload: &[u8],
    ) {
        let c = &self.conn;
        let traced = c.kind.traced();
        self.router.begin_batch();
        if traced {
            crate::logging::write(
                "TRC",
                format_args!(
                    "{} - <<- [PUB {subject} {reply} {}]",
                    c.label(),
                    payload.len()
                ),
            );
            crate::logging::write(
                "TRC",
                format_args!(
                    "{} - <<- MSG_PAYLOAD: [{}]",
                    c.label(),
                    super::trace_payload(payload, srv.opts().max_traced_msg_len)
                ),
            );
        }
        let acc = c.account.lock().clone();
        let mapped = self.router.mapped_subject(&acc, subject.as_bytes());
        if let (Some(to), true) = (&mapped, traced) {
            crate::logging::write(
                "TRC",
                format_args!("{} - <<- [MAPPING {subject} -> {to}]", c.label()),
            );
        }
        let subject = mapped.as_deref().unwrap_or(subject);
        let sizes = SizeText::new(hdr, payload.len());
        let reply = (c.kind.always_has_reply() || !reply.is_empty()).then_some(reply.as_bytes());
        let m = sizes.message(subject.as_bytes(), reply, hdr, payload);
        self.router.received(c.kind, payload.len());
        self.router.route(&acc, c, &m);
        self.end_batch(srv, &acc);
    }

    /// Publishes messages in one batch, flushed once at its end; returns
    /// for each whether anything took it.
    pub fn publish_batch(&mut self, srv: &Server, msgs: &[Outgoing]) -> Vec<bool> {
        let c = &self.conn;
        self.router.begin_batch();
        let acc = c.account.lock().clone();
        let mut delivered = Vec::with_capacity(msgs.len());
        for o in msgs {
            let sizes = SizeText::new(o.hdr, o.payload.len());
            let reply =
                (c.kind.always_has_reply() || !o.reply.is_empty()).then_some(o.reply.as_bytes());
            let mut m = sizes.message(o.subject.as_bytes(), reply, o.hdr, &o.payload);
            m.shown_as = o.shown_as.as_deref().map(str::as_bytes);
            self.router.received(c.kind, o.payload.len());
            delivered.push(self.router.route(&acc, c, &m));
        }
        self.end_batch(srv, &acc);
        delivered
    }

    /// Adds the batch's traffic to the server's and the account's
    /// counters and flushes what it queued.
    fn end_batch(&mut self, srv: &Server, acc: &Account) {
        let b = self.router.take_stats();
        if b.in_msgs > 0 || b.out_msgs > 0 {
            srv.stats
                .traffic
                .add(b.in_msgs, b.in_bytes, b.out_msgs, b.out_bytes);
            acc.traffic
                .add(b.in_msgs, b.in_bytes, b.out_msgs, b.out_bytes);
        }
        self.router.flush(&self.conn);
    }
}
