//! Connection kinds, as Go distinguishes them (`CLIENT`, `SYSTEM`, and
//! later `ROUTER`, `GATEWAY`, `LEAF`, `JETSTREAM`, `ACCOUNT`), and every
//! rule that differs by kind, so that a new kind is one match arm in each.

/// What a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A network client speaking the client protocol.
    Client,
    /// The server's own connection into an account: the system account's
    /// events and services, and their imports into other accounts.
    System,
    /// A JetStream stream's own connection into its account: it sends
    /// PubAcks and republished messages.
    JetStream,
}

impl Kind {
    /// Cut as a slow consumer when its backlog passes max_pending. Go cuts
    /// only clients; a server-internal connection is never cut.
    pub fn cut_when_slow(self) -> bool {
        matches!(self, Kind::Client)
    }

    /// What it publishes counts as received (`in_msgs`) on the server and
    /// its account. Go counts what its internal clients deliver, not what
    /// they publish.
    pub fn counts_inbound(self) -> bool {
        matches!(self, Kind::Client)
    }

    /// A publisher of this kind waits for a subscriber's backlog past half
    /// of max_pending to drain before its next message (Go's stall).
    /// The server never waits on a subscriber.
    pub fn stalls_on_backlog(self) -> bool {
        matches!(self, Kind::Client)
    }

    /// Its own operations are traced with `-V`; the system connection's
    /// only with `trace_verbose` too (Go's `traceSysAcc`).
    pub fn traced(self) -> bool {
        match self {
            Kind::Client => crate::logging::trace_enabled(),
            Kind::System | Kind::JetStream => {
                crate::logging::trace_enabled() && crate::logging::trace_system()
            }
        }
    }

    /// Its publishes carry a reply field even when empty: Go's internal
    /// clients' MSG lines show a missing reply as two spaces.
    pub fn always_has_reply(self) -> bool {
        matches!(self, Kind::System | Kind::JetStream)
    }

    /// Go's name of the kind in advisories (`client.kind`).
    pub fn go_name(self) -> &'static str {
        match self {
            Kind::Client => "Client",
            Kind::System => "System",
            Kind::JetStream => "JetStream",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn only_clients_are_cut_counted_and_stalled() {
        assert!(Kind::Client.cut_when_slow());
        assert!(!Kind::System.cut_when_slow());
        assert!(Kind::Client.counts_inbound());
        assert!(!Kind::System.counts_inbound());
        assert!(Kind::Client.stalls_on_backlog());
        assert!(!Kind::System.stalls_on_backlog());
        assert!(Kind::System.always_has_reply());
        assert!(Kind::JetStream.always_has_reply());
        assert!(!Kind::Client.always_has_reply());
    }
}
