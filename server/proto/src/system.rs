//! The system account's subjects (`$SYS...`): its requests, events and
//! the services it exports and imports into other accounts, and the
//! internal subscriptions a server makes on them, in Go's order (their
//! sids follow it).

/// Server-wide monitoring requests, answered on `$SYS.REQ.SERVER.PING.<X>`
/// and `$SYS.REQ.SERVER.<id>.<X>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerReq {
    Statsz,
    Varz,
    Subsz,
    Connz,
    Routez,
    Gatewayz,
    Leafz,
    Accountz,
    Jsz,
    Healthz,
}

impl ServerReq {
    /// In the order Go subscribes to them.
    pub const ALL: [ServerReq; 10] = [
        ServerReq::Connz,
        ServerReq::Routez,
        ServerReq::Accountz,
        ServerReq::Jsz,
        ServerReq::Statsz,
        ServerReq::Varz,
        ServerReq::Subsz,
        ServerReq::Gatewayz,
        ServerReq::Leafz,
        ServerReq::Healthz,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ServerReq::Statsz => "STATSZ",
            ServerReq::Varz => "VARZ",
            ServerReq::Subsz => "SUBSZ",
            ServerReq::Connz => "CONNZ",
            ServerReq::Routez => "ROUTEZ",
            ServerReq::Gatewayz => "GATEWAYZ",
            ServerReq::Leafz => "LEAFZ",
            ServerReq::Accountz => "ACCOUNTZ",
            ServerReq::Jsz => "JSZ",
            ServerReq::Healthz => "HEALTHZ",
        }
    }
}

/// Per-account requests, on `$SYS.REQ.ACCOUNT.<account>.<X>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountReq {
    Subsz,
    Connz,
    Leafz,
    Jsz,
    Info,
    Statz,
    Conns,
}

impl AccountReq {
    /// In the order Go subscribes to them.
    pub const ALL: [AccountReq; 7] = [
        AccountReq::Connz,
        AccountReq::Leafz,
        AccountReq::Jsz,
        AccountReq::Info,
        AccountReq::Statz,
        AccountReq::Conns,
        AccountReq::Subsz,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AccountReq::Subsz => "SUBSZ",
            AccountReq::Connz => "CONNZ",
            AccountReq::Leafz => "LEAFZ",
            AccountReq::Jsz => "JSZ",
            AccountReq::Info => "INFO",
            AccountReq::Statz => "STATZ",
            AccountReq::Conns => "CONNS",
        }
    }
}

/// What a message on an internal subscription asks of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    /// Replies to requests this server made, and updates from other
    /// servers: a server alone only ever hears itself, so they are dropped.
    Ignored,
    /// `$SYS.REQ.SERVER.PING` (the old name of PING.STATSZ).
    StatszPing,
    Server(ServerReq),
    /// The account is the subject's third token.
    Account(AccountReq),
    /// `$SYS.REQ.ACCOUNT.PING.STATZ`: the statz of every account.
    AccountPingStatz,
    /// `$SYS.REQ.ACCOUNT.NSUBS` from other servers.
    NumSubs,
    /// `$SYS.ACCOUNT.<acc>.CLAIMS.UPDATE` and its `$SYS.REQ` form.
    ClaimsUpdate,
    /// `$SYS.DEBUG.SUBSCRIBERS`: how many subscribe to a subject.
    DebugSubscribers,
}

/// An internal subscription of the system client.
pub struct SysSub {
    pub subject: String,
    pub service: Service,
}

/// The system client's subscriptions, in Go's order.
pub fn system_subscriptions(server_id: &str, hash: &str) -> Vec<SysSub> {
    let sub = |subject: String, service: Service| SysSub { subject, service };
    let mut subs = vec![
        sub(format!("$SYS._INBOX.{hash}.*"), Service::Ignored),
        sub("$SYS.SERVER.ACCOUNT.*.CONNS".into(), Service::Ignored),
        sub(format!("$SYS._INBOX_.{server_id}"), Service::Ignored),
        sub("$SYS.REQ.ACCOUNT.NSUBS".into(), Service::NumSubs),
        sub("$SYS.SERVER.*.STATSZ".into(), Service::Ignored),
        sub("$SYS.SERVER.*.SHUTDOWN".into(), Service::Ignored),
        sub("$SYS.ACCOUNT.*.CLAIMS.UPDATE".into(), Service::ClaimsUpdate),
        sub(
            "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE".into(),
            Service::ClaimsUpdate,
        ),
        sub("$SYS.REQ.SERVER.PING".into(), Service::StatszPing),
    ];
    for req in ServerReq::ALL {
        let name = req.name();
        subs.push(sub(
            format!("$SYS.REQ.SERVER.{server_id}.{name}"),
            Service::Server(req),
        ));
        subs.push(sub(
            format!("$SYS.REQ.SERVER.PING.{name}"),
            Service::Server(req),
        ));
    }
    for req in AccountReq::ALL {
        subs.push(sub(
            format!("$SYS.REQ.ACCOUNT.*.{}", req.name()),
            Service::Account(req),
        ));
    }
    subs.push(sub(
        "$SYS.REQ.ACCOUNT.PING.STATZ".into(),
        Service::AccountPingStatz,
    ));
    subs.push(sub(
        "$SYS.ACCOUNT.*.LEAFNODE.CONNECT".into(),
        Service::Ignored,
    ));
    subs.push(sub(format!("$SYS.LATENCY.M2.{hash}"), Service::Ignored));
    subs.push(sub(DEBUG_SUBSCRIBERS.into(), Service::DebugSubscribers));
    subs
}

/// A system import into another account: the subject clients of that
/// account use, and where Go maps it in the system account.
pub struct SystemImport {
    pub subject: &'static str,
    pub req: AccountReq,
}

/// The system services every other account imports, in Go's sid order.
pub const SYSTEM_IMPORTS: [SystemImport; 3] = [
    SystemImport {
        subject: "$SYS.REQ.ACCOUNT.PING.CONNZ",
        req: AccountReq::Connz,
    },
    SystemImport {
        subject: "$SYS.REQ.SERVER.PING.CONNZ",
        req: AccountReq::Connz,
    },
    SystemImport {
        subject: "$SYS.REQ.ACCOUNT.PING.STATZ",
        req: AccountReq::Statz,
    },
];

/// The service that counts subscribers, which accounts may import.
pub const DEBUG_SUBSCRIBERS: &str = "$SYS.DEBUG.SUBSCRIBERS";

/// The services the system account exports, as `/accountz` lists them:
/// subject and response type.
pub const SYSTEM_EXPORTS: [(&str, &str); 3] = [
    ("$SYS.REQ.ACCOUNT.*.CONNZ", "Streamed"),
    ("$SYS.REQ.ACCOUNT.*.STATZ", "Streamed"),
    (DEBUG_SUBSCRIBERS, "Singleton"),
];

/// Where an import's requests go in the system account.
pub fn import_target(account: &str, req: AccountReq) -> String {
    format!("$SYS.REQ.ACCOUNT.{account}.{}", req.name())
}

pub fn connect_event(account: &str) -> String {
    format!("$SYS.ACCOUNT.{account}.CONNECT")
}

pub fn disconnect_event(account: &str) -> String {
    format!("$SYS.ACCOUNT.{account}.DISCONNECT")
}

/// The account connections update, under its old and new names.
pub fn account_conns(account: &str) -> [String; 2] {
    [
        format!("$SYS.SERVER.ACCOUNT.{account}.CONNS"),
        format!("$SYS.ACCOUNT.{account}.SERVER.CONNS"),
    ]
}

pub fn auth_error_event(server_id: &str) -> String {
    format!("$SYS.SERVER.{server_id}.CLIENT.AUTH.ERR")
}

pub fn statsz(server_id: &str) -> String {
    format!("$SYS.SERVER.{server_id}.STATSZ")
}

pub fn shutdown(server_id: &str) -> String {
    format!("$SYS.SERVER.{server_id}.SHUTDOWN")
}

/// The request a server sends for an account it starts tracking, and the
/// inbox for the answers.
pub fn account_conns_request(account: &str, server_id: &str) -> (String, String) {
    (
        format!("$SYS.REQ.ACCOUNT.{account}.CONNS"),
        format!("$SYS._INBOX_.{server_id}"),
    )
}

/// The account token of `$SYS.REQ.ACCOUNT.<acc>.<X>`; None when the
/// subject has another shape.
pub fn account_of_request(subject: &str) -> Option<&str> {
    let mut tokens = subject.split('.');
    let acc = tokens.nth(3)?;
    (tokens.count() == 1).then_some(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forty_internal_subscriptions() {
        let subs = system_subscriptions("NID", "abcdefgh");
        assert_eq!(subs.len(), 40);
        assert_eq!(subs[0].subject, "$SYS._INBOX.abcdefgh.*");
        assert_eq!(subs[9].subject, "$SYS.REQ.SERVER.NID.CONNZ");
        assert_eq!(subs[39].subject, "$SYS.DEBUG.SUBSCRIBERS");
    }

    #[test]
    fn account_token_of_requests() {
        assert_eq!(account_of_request("$SYS.REQ.ACCOUNT.A.CONNZ"), Some("A"));
        assert_eq!(account_of_request("$SYS.REQ.ACCOUNT.A.B.CONNZ"), None);
        assert_eq!(account_of_request("$SYS.REQ.ACCOUNT.A"), None);
    }
}
