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

/// How a network client reached the server. Go keeps a WebSocket client a
/// `CLIENT`; what differs is its label, its connection type for
/// `allowed_connection_types`, and the framing of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Transport {
    #[default]
    Tcp,
    Websocket {
        /// The client's address from `X-Forwarded-For`, shown before the
        /// socket's in its label.
        forwarded_for: Option<String>,
    },
}

impl Transport {
    pub fn is_websocket(&self) -> bool {
        matches!(self, Transport::Websocket { .. })
    }

    /// The label's connection id tag: `cid:N`, or `wid:N`.
    pub fn id_tag(&self) -> &'static str {
        match self {
            Transport::Tcp => "cid",
            Transport::Websocket { .. } => "wid",
        }
    }

    /// The connection type `allowed_connection_types` names.
    pub fn connection_type(&self) -> &'static str {
        match self {
            Transport::Tcp => "STANDARD",
            Transport::Websocket { .. } => "WEBSOCKET",
        }
    }

    /// The address part of the label: `ip:port`, after the forwarded
    /// address and a slash when there is one.
    pub fn address(&self, host: &str, port: u16) -> String {
        let socket = crate::net::join_host_port(host, i64::from(port));
        match self {
            Transport::Websocket {
                forwarded_for: Some(ip),
            } if ip.contains(':') => format!("[{ip}]/{socket}"),
            Transport::Websocket {
                forwarded_for: Some(ip),
            } => format!("{ip}/{socket}"),
            _ => socket,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Kind, Transport};

    #[test]
    fn websocket_labels_show_the_forwarded_address() {
        let ws = |ip: Option<&str>| Transport::Websocket {
            forwarded_for: ip.map(str::to_string),
        };
        assert_eq!(ws(None).address("127.0.0.1", 5), "127.0.0.1:5");
        assert_eq!(
            ws(Some("1.2.3.4")).address("127.0.0.1", 5),
            "1.2.3.4/127.0.0.1:5"
        );
        assert_eq!(ws(Some("::1")).address("127.0.0.1", 5), "[::1]/127.0.0.1:5");
        assert_eq!((Transport::Tcp.id_tag(), ws(None).id_tag()), ("cid", "wid"));
    }

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
