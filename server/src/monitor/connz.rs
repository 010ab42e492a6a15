//! `/connz`: open and closed client connections, filtered, sorted and paged
//! as nats-server does it.

use super::json::{self, is_zero};
use super::query::Query;
use super::{closed::ClosedConn, Reply};
use crate::core::connection::Connection;
use crate::options::go_duration;
use crate::server::Server;
use serde::Serialize;
use std::cmp::Ordering as CmpOrdering;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Connections listed when no limit is given.
const DEFAULT_LIMIT: i64 = 1024;
use crate::options::accounts::GLOBAL_ACCOUNT;

/// One connection as `/connz` shows it (Go's `ConnInfo`).
#[derive(Serialize, Clone)]
pub struct ConnInfo {
    pub cid: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub kind: &'static str,
    #[serde(rename = "type", skip_serializing_if = "str::is_empty")]
    pub conn_type: &'static str,
    pub ip: String,
    pub port: u16,
    #[serde(serialize_with = "json::time")]
    pub start: SystemTime,
    #[serde(serialize_with = "json::time")]
    pub last_activity: SystemTime,
    #[serde(
        serialize_with = "json::opt_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub stop: Option<SystemTime>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rtt: String,
    pub uptime: String,
    pub idle: String,
    pub pending_bytes: i64,
    pub in_msgs: i64,
    pub out_msgs: i64,
    pub in_bytes: i64,
    pub out_bytes: i64,
    pub subscriptions: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tls_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tls_cipher_suite: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tls_peer_certs: Vec<crate::core::connection::PeerCert>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub authorized_user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(rename = "subscriptions_list", skip_serializing_if = "Vec::is_empty")]
    pub subs: Vec<String>,
    #[serde(
        rename = "subscriptions_list_detail",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub subs_detail: Vec<SubDetail>,
}

impl Default for ConnInfo {
    fn default() -> Self {
        Self {
            cid: 0,
            kind: "",
            conn_type: "",
            ip: String::new(),
            port: 0,
            start: UNIX_EPOCH,
            last_activity: UNIX_EPOCH,
            stop: None,
            reason: String::new(),
            rtt: String::new(),
            uptime: String::new(),
            idle: String::new(),
            pending_bytes: 0,
            in_msgs: 0,
            out_msgs: 0,
            in_bytes: 0,
            out_bytes: 0,
            subscriptions: 0,
            name: String::new(),
            lang: String::new(),
            version: String::new(),
            tls_version: String::new(),
            tls_cipher_suite: String::new(),
            tls_peer_certs: Vec::new(),
            authorized_user: String::new(),
            account: String::new(),
            subs: Vec::new(),
            subs_detail: Vec::new(),
        }
    }
}

impl ConnInfo {
    /// The live state of a connection at `now`.
    pub fn fill(c: &Connection, now: Instant) -> ConnInfo {
        let last = c.last_activity();
        let rtt = c.ping.lock().rtt;
        let meta = c.meta.lock().clone();
        let st = &c.stats;
        let tls = c.tls.get().cloned().unwrap_or_default();
        ConnInfo {
            cid: c.cid,
            kind: "Client",
            conn_type: "nats",
            ip: c.host.clone(),
            port: c.port,
            start: c.start_wall,
            last_activity: c.wall_time(last),
            uptime: json::uptime(now.saturating_duration_since(c.start)),
            idle: json::uptime(now.saturating_duration_since(last)),
            rtt: go_duration(display_rtt(rtt)),
            pending_bytes: c.out.lock().pending,
            in_msgs: st.in_msgs.load(Ordering::Relaxed),
            out_msgs: st.out_msgs.load(Ordering::Relaxed),
            in_bytes: st.in_bytes.load(Ordering::Relaxed),
            out_bytes: st.out_bytes.load(Ordering::Relaxed),
            subscriptions: c.subs.lock().len() as u32,
            name: meta.name,
            lang: meta.lang,
            version: meta.version,
            tls_version: tls.version,
            tls_cipher_suite: tls.cipher_suite,
            ..ConnInfo::default()
        }
    }
}

/// Go shows sub-millisecond round trips in whole microseconds.
fn display_rtt(rtt: Duration) -> Duration {
    if rtt > Duration::from_micros(1) && rtt < Duration::from_millis(1) {
        Duration::from_micros(rtt.as_micros() as u64)
    } else {
        rtt
    }
}

/// One subscription in a details list (Go's `SubDetail`).
#[derive(Serialize, Clone)]
pub struct SubDetail {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    pub subject: String,
    #[serde(rename = "qgroup", skip_serializing_if = "String::is_empty")]
    pub queue: String,
    pub sid: String,
    pub msgs: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: i64,
    pub cid: u64,
}

impl SubDetail {
    pub fn of(s: &crate::core::connection::Subscription, with_account: bool) -> SubDetail {
        SubDetail {
            account: if with_account {
                s.client.account.lock().name.clone()
            } else {
                String::new()
            },
            subject: String::from_utf8_lossy(&s.subject).into_owned(),
            queue: s
                .queue
                .as_ref()
                .map(|q| String::from_utf8_lossy(q).into_owned())
                .unwrap_or_default(),
            sid: String::from_utf8_lossy(&s.sid).into_owned(),
            msgs: s.delivered.load(Ordering::Relaxed) as i64,
            max: s.max.load(Ordering::Relaxed) as i64,
            cid: s.client.cid,
        }
    }

    /// A client's subscriptions; closed connections keep the account name.
    pub fn of_client(c: &Connection, with_account: bool) -> Vec<SubDetail> {
        c.subs
            .lock()
            .values()
            .map(|s| SubDetail::of(s, with_account))
            .collect()
    }
}

/// The `/connz` document.
#[derive(Serialize)]
pub struct Connz {
    pub server_id: String,
    #[serde(serialize_with = "json::time")]
    pub now: SystemTime,
    pub num_connections: usize,
    pub total: usize,
    pub offset: i64,
    pub limit: i64,
    pub connections: Option<Vec<ConnInfo>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Cid,
    Start,
    Subs,
    Pending,
    MsgsTo,
    MsgsFrom,
    BytesTo,
    BytesFrom,
    Last,
    Idle,
    Uptime,
    Stop,
    Reason,
}

impl SortBy {
    fn parse(s: &str) -> Option<SortBy> {
        Some(match s {
            "" | "cid" => SortBy::Cid,
            "start" => SortBy::Start,
            "subs" => SortBy::Subs,
            "pending" => SortBy::Pending,
            "msgs_to" => SortBy::MsgsTo,
            "msgs_from" => SortBy::MsgsFrom,
            "bytes_to" => SortBy::BytesTo,
            "bytes_from" => SortBy::BytesFrom,
            "last" => SortBy::Last,
            "idle" => SortBy::Idle,
            "uptime" => SortBy::Uptime,
            "stop" => SortBy::Stop,
            "reason" => SortBy::Reason,
            _ => return None,
        })
    }

    /// Go's orderings: only cid/start, uptime and reason ascend.
    fn compare(self, a: &ConnInfo, b: &ConnInfo, now: SystemTime) -> CmpOrdering {
        let span = |c: &ConnInfo| {
            let end = c.stop.unwrap_or(now);
            end.duration_since(c.start).unwrap_or_default()
        };
        let active = |c: &ConnInfo| c.last_activity.duration_since(c.start).unwrap_or_default();
        match self {
            SortBy::Cid | SortBy::Start => a.cid.cmp(&b.cid),
            SortBy::Subs => b.subscriptions.cmp(&a.subscriptions),
            SortBy::Pending => b.pending_bytes.cmp(&a.pending_bytes),
            SortBy::MsgsTo => b.out_msgs.cmp(&a.out_msgs),
            SortBy::MsgsFrom => b.in_msgs.cmp(&a.in_msgs),
            SortBy::BytesTo => b.out_bytes.cmp(&a.out_bytes),
            SortBy::BytesFrom => b.in_bytes.cmp(&a.in_bytes),
            SortBy::Last => b.last_activity.cmp(&a.last_activity),
            // Go orders "idle" by active span (last activity - start),
            // longest first.
            SortBy::Idle => active(b).cmp(&active(a)),
            SortBy::Uptime => span(a).cmp(&span(b)),
            SortBy::Stop => b.stop.cmp(&a.stop),
            SortBy::Reason => a.reason.cmp(&b.reason),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Open,
    Closed,
    All,
}

/// The request's parameters (Go's `ConnzOptions`).
#[derive(Debug, Clone)]
pub struct ConnzOptions {
    pub sort: String,
    pub auth: bool,
    pub subs: bool,
    pub subs_detail: bool,
    pub offset: i64,
    pub limit: i64,
    pub cid: u64,
    pub state: State,
    pub user: String,
    pub acc: String,
    pub mqtt_client: String,
}

impl ConnzOptions {
    /// Decodes the query in Go's order, failing on the first bad value.
    pub fn from_query(q: &Query) -> Result<ConnzOptions, Reply> {
        let sort = q.get("sort").to_string();
        let auth = q.bool("auth")?;
        let (subs, subs_detail) = subs_param(q)?;
        let offset = q.int("offset")?;
        let limit = q.int("limit")?;
        let cid = q.uint64("cid")?;
        let state = match q.get("state").to_lowercase().as_str() {
            "" | "open" => State::Open,
            "closed" => State::Closed,
            "any" | "all" => State::All,
            _ => {
                return Err(Reply::bad_request(format!(
                    "Error decoding state for {}",
                    q.get("state")
                )))
            }
        };
        Ok(ConnzOptions {
            sort,
            auth,
            subs,
            subs_detail,
            offset,
            limit,
            cid,
            state,
            user: q.get("user").to_string(),
            acc: q.get("acc").to_string(),
            mqtt_client: q.get("mqtt_client").to_string(),
        })
    }
}

/// `subs=detail`, or a boolean.
pub fn subs_param(q: &Query) -> Result<(bool, bool), Reply> {
    if q.get("subs").eq_ignore_ascii_case("detail") {
        return Ok((false, true));
    }
    Ok((q.bool("subs")?, false))
}

pub fn handle(srv: &Server, q: &Query) -> Reply {
    let opts = match ConnzOptions::from_query(q) {
        Ok(o) => o,
        Err(r) => return r,
    };
    super::state(srv).count(q, "/connz");
    match connz(srv, &opts) {
        Ok(c) => Reply::json(q, 200, json::pretty(&c)),
        Err(e) => Reply::bad_request(e),
    }
}

/// A connection picked for the answer, before its details are filled in.
enum Picked {
    Open(Arc<Connection>),
    Closed(Arc<ClosedConn>),
}

pub fn connz(srv: &Server, o: &ConnzOptions) -> Result<Connz, String> {
    let sort =
        SortBy::parse(&o.sort).ok_or_else(|| format!("invalid sorting option: {}", o.sort))?;
    let mut limit = if o.limit <= 0 { DEFAULT_LIMIT } else { o.limit };
    let offset = o.offset.max(0);
    if sort == SortBy::Stop && o.state != State::Closed {
        return Err("sort by stop only valid on closed connections".into());
    }
    if sort == SortBy::Reason && o.state != State::Closed {
        return Err("sort by reason only valid on closed connections".into());
    }
    if o.cid > 0 {
        limit = 1;
    }
    let now_wall = SystemTime::now();
    let now = Instant::now();
    let mut out = Connz {
        server_id: String::new(),
        now: now_wall,
        num_connections: 0,
        total: 0,
        offset,
        limit,
        connections: None,
    };
    // Go answers an unknown account with this bare document.
    if !o.acc.is_empty() && srv.accounts().get(&o.acc).is_none() {
        return Ok(out);
    }
    out.server_id = srv.info().server_id;

    let mut open = srv.clients();
    if !o.acc.is_empty() {
        open.retain(|c| c.account.lock().name == o.acc);
    }
    let mut closed = match o.state {
        State::Open => Vec::new(),
        State::Closed | State::All => super::state(srv).closed.lock().snapshot(),
    };
    out.total = match o.state {
        State::Open => open.len(),
        State::Closed => closed.len(),
        State::All => open.len() + closed.len(),
    };
    if !o.acc.is_empty() {
        let before = closed.len();
        closed.retain(|c| c.acc == o.acc);
        out.total -= before - closed.len();
    }

    let mut picked: Vec<Picked> = Vec::new();
    if o.cid > 0 {
        // As in Go, a cid with state=all looks among the closed ones only.
        if o.state == State::Open {
            picked.extend(srv.client(o.cid).map(Picked::Open));
        } else if let Some(c) = closed.iter().find(|c| c.info.cid == o.cid) {
            picked.push(Picked::Closed(c.clone()));
        }
    } else {
        if o.state != State::Closed {
            for c in open {
                if !o.user.is_empty() && c.meta.lock().username != o.user {
                    continue;
                }
                if !o.mqtt_client.is_empty() {
                    continue;
                }
                picked.push(Picked::Open(c));
            }
        }
        for c in closed {
            if !o.user.is_empty() && c.user != o.user {
                continue;
            }
            if !o.mqtt_client.is_empty() {
                continue;
            }
            picked.push(Picked::Closed(c));
        }
    }
    if picked.is_empty() {
        out.connections = Some(Vec::new());
        return Ok(out);
    }

    let mut infos: Vec<ConnInfo> = picked
        .into_iter()
        .map(|p| match p {
            Picked::Open(c) => open_info(&c, now, o),
            Picked::Closed(c) => closed_info(&c, o),
        })
        .collect();
    // Ties fall back to cid order (Go leaves them in map order).
    infos.sort_by(|a, b| sort.compare(a, b, now_wall).then(a.cid.cmp(&b.cid)));
    let page = page(infos.len(), offset, limit);
    let conns: Vec<ConnInfo> = infos.drain(page).collect();
    out.num_connections = conns.len();
    out.connections = Some(conns);
    Ok(out)
}

/// The slice of `len` entries that `offset` and `limit` select.
fn page(len: usize, offset: i64, limit: i64) -> std::ops::Range<usize> {
    let lo = (offset.max(0) as usize).min(len);
    let hi = (offset.max(0).saturating_add(limit.max(0)) as usize).min(len);
    lo..hi
}

fn open_info(c: &Connection, now: Instant, o: &ConnzOptions) -> ConnInfo {
    let mut ci = ConnInfo::fill(c, now);
    if o.subs_detail {
        ci.subs_detail = SubDetail::of_client(c, false);
    } else if o.subs {
        ci.subs = c
            .subs
            .lock()
            .values()
            .map(|s| String::from_utf8_lossy(&s.subject).into_owned())
            .collect();
    }
    if o.auth {
        if let Some(tls) = c.tls.get() {
            ci.tls_peer_certs = tls.peer_certs.clone();
        }
        ci.authorized_user = c.meta.lock().auth_user.clone();
        let acc = c.account.lock();
        if acc.name != GLOBAL_ACCOUNT {
            ci.account = acc.name.clone();
        }
    }
    ci
}

fn closed_info(c: &ClosedConn, o: &ConnzOptions) -> ConnInfo {
    let mut ci = c.info.clone();
    if o.subs_detail {
        ci.subs_detail = c.subs.clone();
    } else if o.subs {
        ci.subs = c.subs.iter().map(|s| s.subject.clone()).collect();
    }
    if o.auth {
        ci.authorized_user = c.user.clone();
        if !c.acc.is_empty() && c.acc != GLOBAL_ACCOUNT {
            ci.account = c.acc.clone();
        }
    }
    ci
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(cid: u64, subs: u32, reason: &str, start_ms: u64) -> ConnInfo {
        ConnInfo {
            cid,
            subscriptions: subs,
            reason: reason.into(),
            start: UNIX_EPOCH + Duration::from_millis(start_ms),
            last_activity: UNIX_EPOCH + Duration::from_millis(start_ms + 10 * cid),
            stop: Some(UNIX_EPOCH + Duration::from_millis(1000 + cid)),
            ..ConnInfo::default()
        }
    }

    fn sorted(by: SortBy, mut v: Vec<ConnInfo>) -> Vec<u64> {
        let now = UNIX_EPOCH + Duration::from_secs(10);
        v.sort_by(|a, b| by.compare(a, b, now).then(a.cid.cmp(&b.cid)));
        v.iter().map(|c| c.cid).collect()
    }

    #[test]
    fn sort_orders() {
        let v = vec![
            info(3, 0, "b", 30),
            info(1, 2, "c", 10),
            info(2, 1, "a", 20),
        ];
        assert_eq!(sorted(SortBy::Cid, v.clone()), vec![1, 2, 3]);
        assert_eq!(sorted(SortBy::Subs, v.clone()), vec![1, 2, 3]);
        assert_eq!(sorted(SortBy::Reason, v.clone()), vec![2, 3, 1]);
        // Most recent stop first.
        assert_eq!(sorted(SortBy::Stop, v.clone()), vec![3, 2, 1]);
        // Shortest life first: stop - start.
        assert_eq!(sorted(SortBy::Uptime, v.clone()), vec![3, 2, 1]);
        // Longest active span first.
        assert_eq!(sorted(SortBy::Idle, v.clone()), vec![3, 2, 1]);
        assert_eq!(sorted(SortBy::Last, v), vec![3, 2, 1]);
    }

    #[test]
    fn sort_names() {
        assert_eq!(SortBy::parse(""), Some(SortBy::Cid));
        assert_eq!(SortBy::parse("bytes_to"), Some(SortBy::BytesTo));
        assert_eq!(SortBy::parse("foo"), None);
    }

    #[test]
    fn paging() {
        assert_eq!(page(2, 1, 1), 1..2);
        assert_eq!(page(2, 2, 1), 2..2);
        assert_eq!(page(2, 5, 10), 2..2);
        assert_eq!(page(3, 0, 1024), 0..3);
    }

    #[test]
    fn params() {
        let o = ConnzOptions::from_query(&Query::parse("subs=detail&state=ALL&cid=4")).unwrap();
        assert!(o.subs_detail && !o.subs);
        assert_eq!(o.state, State::All);
        assert_eq!(o.cid, 4);
        let e = ConnzOptions::from_query(&Query::parse("state=xxx"))
            .err()
            .unwrap();
        assert_eq!(e.body, b"Error decoding state for xxx");
        let e = ConnzOptions::from_query(&Query::parse("auth=xxx&subs=yyy"))
            .err()
            .unwrap();
        assert!(String::from_utf8(e.body).unwrap().contains("'auth'"));
    }
}
