//! The answers to requests on the system account's subjects: the server's
//! stats, its monitoring documents (the same as over HTTP, with options in
//! a JSON body), per-account documents, and the small services other
//! servers use.

use super::messages::{AccNumSubsReq, ApiError, ApiResponse, EventFilter, ServerInfo, ServerStats};
use crate::core::account::Account;
use crate::core::connection::InternalMsg;
use crate::monitor::accstat::DataStats;
use crate::monitor::{self, json, Endpoint};
use crate::server::Server;
use bytes::Bytes;
use natsd_proto::system::{self as subjects, AccountReq, ServerReq, Service};
use serde_json::{Map, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A message on an internal subscription, copied out of the publisher's
/// buffer.
pub struct Request {
    pub service: Service,
    pub subject: String,
    pub reply: Option<String>,
    /// The body, without headers.
    pub body: Bytes,
    /// The publisher's account, where the answer goes.
    pub account: Arc<Account>,
    /// The requestor's account when the request came through a service
    /// import (its `Nats-Request-Info` header): the service, else the
    /// account.
    pub requestor: Option<String>,
}

impl Request {
    pub fn of(service: Service, m: &InternalMsg<'_>) -> Request {
        let body = if m.hdr > 0 {
            &m.msg[(m.hdr as usize).min(m.msg.len())..]
        } else {
            m.msg
        };
        Request {
            service,
            subject: String::from_utf8_lossy(m.subject).into_owned(),
            reply: m
                .reply
                .filter(|r| !r.is_empty())
                .map(|r| String::from_utf8_lossy(r).into_owned()),
            body: Bytes::copy_from_slice(body),
            account: m.account.clone(),
            requestor: requestor_of(m),
        }
    }
}

/// The account a `Nats-Request-Info` header names, if any.
fn requestor_of(m: &InternalMsg<'_>) -> Option<String> {
    use crate::core::imports::info::{get_header, RequestInfo, HEADER};
    if m.hdr <= 0 {
        return None;
    }
    let head = &m.msg[..(m.hdr as usize).min(m.msg.len())];
    let ci: RequestInfo = serde_json::from_slice(get_header(head, HEADER)?).ok()?;
    [ci.svc, ci.acc].into_iter().find(|a| !a.is_empty())
}

/// A response body, made from the sender's stamp.
pub type Body = Box<dyn FnOnce(ServerInfo) -> Vec<u8> + Send>;

/// What the system client does about a request.
pub enum Answer {
    None,
    /// Answer with the server's stats (to the reply, or on the stats
    /// subject without one).
    Statsz(ServerStats),
    /// Answer with this account's connection count.
    AccountConns(Arc<Account>),
    Body(Body),
}

pub fn answer(srv: &Arc<Server>, req: &Request) -> Answer {
    match &req.service {
        Service::Ignored => Answer::None,
        Service::StatszPing | Service::Server(ServerReq::Statsz) => statsz_request(srv, req),
        Service::Server(r) => server_request(srv, req, *r),
        Service::Account(r) => match subjects::account_of_request(&req.subject) {
            Some(acc) => account_request(srv, req, acc, *r),
            None => Answer::None,
        },
        Service::AccountPingStatz => api_answer(srv, req, || {
            let unused = bool_field(&req.body, "include_unused");
            let mut params = vec![("unused".to_string(), unused.to_string())];
            params.extend(
                string_list(&req.body, "accounts")
                    .into_iter()
                    .map(|a| ("acc".to_string(), a)),
            );
            skip_empty_statz(monitor::internal_request(srv, Endpoint::Accstatz, params))
        }),
        Service::NumSubs => num_subs(srv, req),
        Service::ClaimsUpdate => claims_update(req),
        Service::DebugSubscribers => debug_subscribers(srv, req),
    }
}

/// Go's `statszReq`: a bad body gets an error, a filter that does not
/// match this server gets nothing.
fn statsz_request(srv: &Server, req: &Request) -> Answer {
    if req.body.is_empty() {
        return Answer::Statsz(statsz(srv));
    }
    match serde_json::from_slice::<EventFilter>(&req.body) {
        Err(e) => error_body(400, e.to_string()),
        Ok(f) if !matches_filter(srv, &f) => Answer::None,
        Ok(_) => Answer::Statsz(statsz(srv)),
    }
}

/// The server's stats as the heartbeat and `STATSZ` send them.
pub fn statsz(srv: &Server) -> ServerStats {
    let st = &srv.stats;
    let (cpu, mem) = monitor::process_usage();
    let accounts = srv.accounts();
    ServerStats {
        start: srv.start_wall,
        mem,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu,
        connections: srv.num_clients(),
        total_connections: st.total_connections.load(Ordering::Relaxed),
        active_accounts: accounts
            .all()
            .iter()
            .filter(|a| a.num_clients() > 0)
            .count(),
        subscriptions: accounts.all().iter().map(|a| a.sublist.count()).sum(),
        sent: DataStats::outbound(&st.traffic),
        received: DataStats::inbound(&st.traffic),
        slow_consumers: st.slow_consumers.load(Ordering::Relaxed),
        active_servers: 1,
    }
}

/// Go's `filterRequest`: whether this server is one the request is for.
fn matches_filter(srv: &Server, f: &EventFilter) -> bool {
    let info = srv.info();
    let o = srv.opts();
    (f.server_name.is_empty() || info.server_name.contains(&f.server_name))
        && (f.host.is_empty() || info.host.contains(&f.host))
        && (f.cluster.is_empty() || info.cluster.contains(&f.cluster))
        && f.tags.iter().all(|t| o.tags.contains(&t.to_lowercase()))
        && (f.domain.is_empty() || f.domain == o.jetstream_config.domain)
}

/// A monitoring request answered with a document, or not at all.
enum Doc {
    Data(Vec<u8>),
    Error(u16, String),
    /// Not for this server, or nothing to say.
    Skip,
}

/// Go's `zReq`: parses the body's filter (a bad body is a 400), skips
/// requests for other servers, and wraps what `make` produces.
fn api_answer(srv: &Server, req: &Request, make: impl FnOnce() -> Doc) -> Answer {
    if req.reply.is_none() {
        return Answer::None;
    }
    if !req.body.is_empty() {
        match serde_json::from_slice::<EventFilter>(&req.body) {
            Err(e) => return error_body(400, e.to_string()),
            Ok(f) if !matches_filter(srv, &f) => return Answer::None,
            Ok(_) => {}
        }
    }
    match make() {
        Doc::Skip => Answer::None,
        Doc::Error(code, description) => error_body(code, description),
        Doc::Data(data) => Answer::Body(Box::new(move |server| {
            let raw = serde_json::value::RawValue::from_string(
                String::from_utf8(data).unwrap_or_default(),
            )
            .ok();
            json::compact(&ApiResponse {
                server,
                data: raw.as_deref(),
                error: None,
            })
        })),
    }
}

/// An error answer. A 500 comes from producing the data, and Go then
/// writes `"data":null` too; a 400 (a body it could not decode) has none.
fn error_body(code: u16, description: String) -> Answer {
    Answer::Body(Box::new(move |server| {
        let null = serde_json::value::RawValue::from_string("null".into()).ok();
        json::compact(&ApiResponse {
            server,
            data: if code == 500 { null.as_deref() } else { None },
            error: Some(ApiError { code, description }),
        })
    }))
}

/// How an endpoint's error starts when the request is not for this server.
const SKIPPED: &str = "filtered response";

/// A monitoring endpoint's reply as an API document: its JSON, or Go's
/// error for what failed to produce it.
fn doc_of(reply: monitor::Reply) -> Doc {
    if reply.status == 200 || reply.status == 503 {
        Doc::Data(json::minify(&reply.body))
    } else if reply.body.starts_with(SKIPPED.as_bytes()) {
        // `leader_only` on a server that is not the leader: no answer.
        Doc::Skip
    } else {
        // The options were valid JSON: what failed is producing the data.
        Doc::Error(500, String::from_utf8_lossy(&reply.body).into_owned())
    }
}

fn server_request(srv: &Arc<Server>, req: &Request, r: ServerReq) -> Answer {
    api_answer(srv, req, || {
        let params = match params_of(&req.body, options_struct(r), endpoint_params(r)) {
            Ok(p) => p,
            Err(e) => return Doc::Error(400, e),
        };
        let Some(ep) = endpoint(r) else {
            return Doc::Skip;
        };
        doc_of(monitor::internal_request(srv, ep, params))
    })
}

fn account_request(srv: &Arc<Server>, req: &Request, account: &str, r: AccountReq) -> Answer {
    if r == AccountReq::Conns {
        return match srv.accounts().get(account) {
            Some(acc) if acc.num_clients() > 0 => Answer::AccountConns(acc.clone()),
            _ => Answer::None,
        };
    }
    api_answer(srv, req, || {
        let acc = || account.to_string();
        let doc = match r {
            AccountReq::Subsz => {
                let mut p = match params_of(&req.body, "SubszEventOptions", SUBSZ_PARAMS) {
                    Ok(p) => p,
                    Err(e) => return Doc::Error(400, e),
                };
                p.retain(|(k, _)| k != "subs" && k != "acc");
                p.push(("subs".into(), "true".into()));
                p.push(("acc".into(), acc()));
                monitor::internal_request(srv, Endpoint::Subsz, p)
            }
            AccountReq::Connz => {
                let mut p = match params_of(&req.body, "ConnzEventOptions", CONNZ_PARAMS) {
                    Ok(p) => p,
                    Err(e) => return Doc::Error(400, e),
                };
                p.retain(|(k, _)| k != "acc");
                p.push(("acc".into(), acc()));
                monitor::internal_request(srv, Endpoint::Connz, p)
            }
            AccountReq::Leafz => {
                let p = match params_of(&req.body, "LeafzEventOptions", LEAFZ_PARAMS) {
                    Ok(p) => p,
                    Err(e) => return Doc::Error(400, e),
                };
                monitor::internal_request(srv, Endpoint::Leafz, p)
            }
            AccountReq::Jsz => {
                let p = match params_of(&req.body, "JszEventOptions", JSZ_PARAMS) {
                    Ok(p) => p,
                    Err(e) => return Doc::Error(400, e),
                };
                let on = |k: &str| p.iter().any(|(key, v)| key == k && v == "true");
                return match monitor::account_jsz(
                    srv,
                    account,
                    on("streams"),
                    on("consumers"),
                    on("config"),
                ) {
                    Ok(detail) => Doc::Data(detail),
                    Err(e) => Doc::Error(500, e),
                };
            }
            AccountReq::Info => {
                return match monitor::account_info_json(srv, account) {
                    Some(info) => Doc::Data(info),
                    None => Doc::Error(500, format!("Account {account} does not exist")),
                }
            }
            AccountReq::Statz => {
                if account == "PING" {
                    return Doc::Skip;
                }
                let unused = bool_field(&req.body, "include_unused");
                let doc = monitor::internal_request(
                    srv,
                    Endpoint::Accstatz,
                    vec![("unused".into(), unused.to_string()), ("acc".into(), acc())],
                );
                return skip_empty_statz(doc);
            }
            AccountReq::Conns => unreachable!("answered above"),
        };
        doc_of(doc)
    })
}

/// An account statz document with no account in it is not sent.
fn skip_empty_statz(reply: monitor::Reply) -> Doc {
    let empty = serde_json::from_slice::<Value>(&reply.body)
        .ok()
        .and_then(|v| v["account_statz"].as_array().map(Vec::is_empty))
        .unwrap_or(true);
    if empty {
        Doc::Skip
    } else {
        doc_of(reply)
    }
}

/// A list of strings in the body's field `name` (none if absent).
fn string_list(body: &[u8], name: &str) -> Vec<String> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get(name)?.as_array().map(|l| {
                l.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
        })
        .unwrap_or_default()
}

fn bool_field(body: &[u8], name: &str) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get(name).and_then(Value::as_bool))
        .unwrap_or(false)
}

/// How a JSON option becomes a query parameter.
#[derive(Clone, Copy)]
enum Param {
    Bool(&'static str),
    Int(&'static str),
    Str(&'static str),
    /// `subscriptions_detail`: `subs=detail`.
    SubsDetail,
    /// Connz `state`: 0 open, 1 closed, 2 any.
    State,
}

const CONNZ_PARAMS: &[(&str, Param)] = &[
    ("sort", Param::Str("sort")),
    ("auth", Param::Bool("auth")),
    ("subscriptions", Param::Bool("subs")),
    ("subscriptions_detail", Param::SubsDetail),
    ("offset", Param::Int("offset")),
    ("limit", Param::Int("limit")),
    ("cid", Param::Int("cid")),
    ("mqtt_client", Param::Str("mqtt_client")),
    ("state", Param::State),
    ("user", Param::Str("user")),
    ("acc", Param::Str("acc")),
];
const SUBSZ_PARAMS: &[(&str, Param)] = &[
    ("offset", Param::Int("offset")),
    ("limit", Param::Int("limit")),
    ("subscriptions", Param::Bool("subs")),
    ("account", Param::Str("acc")),
    ("test", Param::Str("test")),
];
const ROUTEZ_PARAMS: &[(&str, Param)] = &[
    ("subscriptions", Param::Bool("subs")),
    ("subscriptions_detail", Param::SubsDetail),
];
const GATEWAYZ_PARAMS: &[(&str, Param)] = &[
    ("name", Param::Str("gw_name")),
    ("accounts", Param::Bool("accs")),
    ("account_name", Param::Str("acc_name")),
];
const LEAFZ_PARAMS: &[(&str, Param)] = &[
    ("subscriptions", Param::Bool("subs")),
    ("account", Param::Str("acc")),
];
const ACCOUNTZ_PARAMS: &[(&str, Param)] = &[("account", Param::Str("acc"))];
const JSZ_PARAMS: &[(&str, Param)] = &[
    ("account", Param::Str("acc")),
    ("accounts", Param::Bool("accounts")),
    ("streams", Param::Bool("streams")),
    ("consumer", Param::Bool("consumers")),
    ("config", Param::Bool("config")),
    ("leader_only", Param::Bool("leader-only")),
    ("offset", Param::Int("offset")),
    ("limit", Param::Int("limit")),
];
const HEALTHZ_PARAMS: &[(&str, Param)] = &[
    ("js-enabled-only", Param::Bool("js-enabled-only")),
    ("js-server-only", Param::Bool("js-server-only")),
];

/// The monitoring endpoint that answers a server-wide request.
fn endpoint(r: ServerReq) -> Option<Endpoint> {
    Some(match r {
        ServerReq::Statsz => return None,
        ServerReq::Varz => Endpoint::Varz,
        ServerReq::Subsz => Endpoint::Subsz,
        ServerReq::Connz => Endpoint::Connz,
        ServerReq::Routez => Endpoint::Routez,
        ServerReq::Gatewayz => Endpoint::Gatewayz,
        ServerReq::Leafz => Endpoint::Leafz,
        ServerReq::Accountz => Endpoint::Accountz,
        ServerReq::Jsz => Endpoint::Jsz,
        ServerReq::Healthz => Endpoint::Healthz,
    })
}

/// The query parameters a server-wide request's body may set.
fn endpoint_params(r: ServerReq) -> &'static [(&'static str, Param)] {
    match r {
        ServerReq::Statsz | ServerReq::Varz => &[],
        ServerReq::Subsz => SUBSZ_PARAMS,
        ServerReq::Connz => CONNZ_PARAMS,
        ServerReq::Routez => ROUTEZ_PARAMS,
        ServerReq::Gatewayz => GATEWAYZ_PARAMS,
        ServerReq::Leafz => LEAFZ_PARAMS,
        ServerReq::Accountz => ACCOUNTZ_PARAMS,
        ServerReq::Jsz => JSZ_PARAMS,
        ServerReq::Healthz => HEALTHZ_PARAMS,
    }
}

/// The Go type a server-wide request's body decodes into (named in its
/// decoding errors).
fn options_struct(r: ServerReq) -> &'static str {
    match r {
        ServerReq::Statsz => "StatszEventOptions",
        ServerReq::Varz => "VarzEventOptions",
        ServerReq::Subsz => "SubszEventOptions",
        ServerReq::Connz => "ConnzEventOptions",
        ServerReq::Routez => "RoutezEventOptions",
        ServerReq::Gatewayz => "GatewayzEventOptions",
        ServerReq::Leafz => "LeafzEventOptions",
        ServerReq::Accountz => "AccountzEventOptions",
        ServerReq::Jsz => "JszEventOptions",
        ServerReq::Healthz => "HealthzEventOptions",
    }
}

/// Turns the options of a request body into the endpoint's query
/// parameters; a value of the wrong JSON type fails as Go's decoder does.
fn params_of(
    body: &[u8],
    go_struct: &str,
    known: &[(&str, Param)],
) -> Result<Vec<(String, String)>, String> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let v: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Ok(Vec::new()),
        Err(e) => return Err(e.to_string()),
    };
    let mut out = Vec::new();
    for (field, p) in known {
        let Some(val) = v.get(*field) else { continue };
        if val.is_null() {
            continue;
        }
        let wrong = |want: &str| {
            format!(
                "json: cannot unmarshal {} into Go struct field {go_struct}.{field} of type {want}",
                json_kind(val)
            )
        };
        match p {
            Param::Bool(k) => {
                let b = val.as_bool().ok_or_else(|| wrong("bool"))?;
                out.push((k.to_string(), b.to_string()));
            }
            Param::SubsDetail => {
                if val.as_bool().ok_or_else(|| wrong("bool"))? {
                    out.retain(|(k, _)| k != "subs");
                    out.push(("subs".into(), "detail".into()));
                }
            }
            Param::Int(k) => {
                let n = val.as_i64().ok_or_else(|| wrong("int"))?;
                out.push((k.to_string(), n.to_string()));
            }
            Param::Str(k) => {
                let s = val.as_str().ok_or_else(|| wrong("string"))?;
                out.push((k.to_string(), s.to_string()));
            }
            Param::State => {
                let n = val.as_i64().ok_or_else(|| wrong("server.ConnState"))?;
                let state = match n {
                    1 => "closed",
                    2 => "any",
                    _ => "open",
                };
                out.push(("state".into(), state.into()));
            }
        }
    }
    Ok(out)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Another server asks how many subscribe to a subject in an account.
fn num_subs(srv: &Server, req: &Request) -> Answer {
    let Ok(m) = serde_json::from_slice::<AccNumSubsReq>(&req.body) else {
        return Answer::None;
    };
    let accounts = srv.accounts();
    let Some(acc) = accounts.get(&m.acc).filter(|a| a.num_clients() > 0) else {
        return Answer::None;
    };
    let n = count_subscribers(acc, &m.subject, m.queue.as_deref());
    if req.reply.is_none() {
        return Answer::None;
    }
    Answer::Body(Box::new(move |_| n.to_string().into_bytes()))
}

/// Clients' subscriptions in `acc` matching `subject` (a wildcard
/// subject counts those it covers), within `queue` if given.
fn count_subscribers(acc: &Account, subject: &str, queue: Option<&str>) -> usize {
    let in_queue = |s: &crate::core::connection::Subscription| match queue {
        None => true,
        Some(q) => s.queue.as_deref() == Some(q.as_bytes()),
    };
    let is_client =
        |s: &crate::core::connection::Subscription| s.internal.is_none() && s.service.is_none();
    if natsd_proto::subject::is_valid_literal_subject(subject.as_bytes()) {
        let r = acc.sublist.match_subject(subject.as_bytes());
        let plain = if queue.is_none() {
            r.psubs.iter().filter(|s| is_client(s)).count()
        } else {
            0
        };
        plain
            + r.qsubs
                .iter()
                .flat_map(|g| g.members.iter())
                .filter(|s| in_queue(s) && is_client(s))
                .count()
    } else {
        acc.sublist
            .all()
            .iter()
            .filter(|s| {
                is_client(s)
                    && in_queue(s)
                    && natsd_proto::subject::is_subset_match(
                        &String::from_utf8_lossy(&s.subject),
                        subject,
                    )
            })
            .count()
    }
}

/// `$SYS.DEBUG.SUBSCRIBERS`: the body is a subject and an optional queue
/// group; the answer counts the subscribers in the requester's account.
fn debug_subscribers(srv: &Server, req: &Request) -> Answer {
    if req.reply.is_none() {
        return Answer::None;
    }
    let accounts = srv.accounts();
    let account = match &req.requestor {
        Some(name) => match accounts.get(name) {
            Some(a) => a.clone(),
            None => return Answer::None,
        },
        None => req.account.clone(),
    };
    let text = String::from_utf8_lossy(&req.body);
    let mut args = text.split_whitespace();
    let n = match args.next() {
        None => 0,
        Some(subject) => count_subscribers(&account, subject, args.next()),
    };
    Answer::Body(Box::new(move |_| n.to_string().into_bytes()))
}

/// Account claims updates: natsd has no JWT accounts, so an update is an
/// error, answered as Go answers one it cannot decode.
fn claims_update(req: &Request) -> Answer {
    let mut tokens = req.subject.split('.');
    let account = if req.subject.starts_with("$SYS.REQ.") {
        tokens.nth(3)
    } else {
        tokens.nth(2)
    }
    .unwrap_or_default()
    .to_string();
    let (message, why) = if req.body.is_empty() {
        ("jwt update error", "request body is empty")
    } else {
        ("jwt update resulted in error", "expected 3 chunks")
    };
    crate::error!("{message} - {account} - {why}");
    if req.reply.is_none() {
        return Answer::None;
    }
    let description = format!("{message} - {why}");
    Answer::Body(Box::new(move |server| {
        let mut error = Map::new();
        error.insert("account".into(), Value::String(account));
        error.insert("code".into(), Value::from(500));
        error.insert("description".into(), Value::String(description));
        let mut doc = Map::new();
        doc.insert("error".into(), Value::Object(error));
        doc.insert(
            "server".into(),
            serde_json::to_value(&server).unwrap_or_default(),
        );
        json::compact(&doc)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connz_options_become_query_parameters() {
        let body = br#"{"sort":"cid","subscriptions_detail":true,"limit":5,"state":1,"acc":"A","bogus":1}"#;
        let p = params_of(body, "ConnzEventOptions", CONNZ_PARAMS).unwrap();
        let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            p,
            [
                ("sort", "cid"),
                ("subs", "detail"),
                ("limit", "5"),
                ("state", "closed"),
                ("acc", "A")
            ]
        );
        assert!(params_of(b"", "ConnzEventOptions", CONNZ_PARAMS)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn wrong_option_types_are_errors() {
        let e = params_of(br#"{"auth":"yes"}"#, "ConnzEventOptions", CONNZ_PARAMS).unwrap_err();
        assert_eq!(
            e,
            "json: cannot unmarshal string into Go struct field ConnzEventOptions.auth of type bool"
        );
        assert!(params_of(b"{MALFORMED", "ConnzEventOptions", CONNZ_PARAMS).is_err());
    }

    #[test]
    fn account_lists_in_bodies() {
        assert_eq!(
            string_list(br#"{"accounts":["A","B"]}"#, "accounts"),
            ["A", "B"]
        );
        assert!(string_list(b"{}", "accounts").is_empty());
        assert!(bool_field(br#"{"include_unused":true}"#, "include_unused"));
    }
}
