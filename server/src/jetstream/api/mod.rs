//! The `$JS.API` dispatcher. It subscribes `$JS.API.>` in the system
//! account, which every account imports; it acts only on requests that
//! came through an import (with their `Nats-Request-Info` header, which
//! names the account to act for), except `$JS.API.INFO` from the system
//! account itself, as Go does. Each request is answered in its
//! publisher's task; the answer, counted in the API stats, goes to the
//! reply subject and, when someone listens, into an audit advisory.

pub mod consumers;
pub mod info;
pub mod msgs;
pub mod snapshots;
pub mod streams;
pub mod templates;

use super::account::JsAccount;
use super::advisories::{Sink, StreamAction};
use super::JetStream;
use crate::core::account::Account;
use crate::core::connection::InternalMsg;
use crate::core::delivery::Deferred;
use crate::core::imports::info::HEADER;
use crate::server::Server;
use natsd_proto::jetstream::api::Response;
use natsd_proto::jetstream::{ApiError, ErrorId};
use serde::Serialize;
use std::sync::{Arc, Weak};

/// Account purges listen in the system account only.
const ACCOUNT_PURGE: &str = "$JS.API.ACCOUNT.PURGE.*";

/// Subscribes the dispatcher and the account purge in the system account.
pub fn subscribe(js: &Arc<JetStream>, system: &Arc<Account>) {
    let weak = Arc::downgrade(js);
    internal_sub(js, system, super::API_ALL, move |m| {
        dispatch(&weak, m, false)
    });
    let weak = Arc::downgrade(js);
    internal_sub(js, system, ACCOUNT_PURGE, move |m| dispatch(&weak, m, true));
}

fn internal_sub(
    js: &JetStream,
    system: &Arc<Account>,
    subject: &str,
    handler: impl Fn(InternalMsg<'_>) + Send + Sync + 'static,
) {
    system.subscribe_handler(js.connection(), subject, None, Arc::new(handler));
}

/// One API request being answered.
pub struct Ctx<'a> {
    pub js: &'a Arc<JetStream>,
    pub srv: Arc<Server>,
    pub subject: &'a str,
    pub reply: Option<String>,
    /// The body, without headers.
    pub body: &'a [u8],
    /// The account the request acts for.
    pub account: Arc<Account>,
    /// The requestor as its `Nats-Request-Info` header tells (for audits).
    client: serde_json::Value,
    out: &'a mut Vec<Deferred>,
}

fn dispatch(js: &Weak<JetStream>, m: InternalMsg<'_>, purge: bool) {
    let Some(js) = js.upgrade() else { return };
    let Some(srv) = js.server() else { return };
    let subject = String::from_utf8_lossy(m.subject).into_owned();
    let (head, body) = if m.hdr > 0 {
        let n = (m.hdr as usize).min(m.msg.len());
        (&m.msg[..n], &m.msg[n..])
    } else {
        (&b""[..], m.msg)
    };
    let info = crate::core::imports::info::get_header(head, HEADER);
    let accounts = srv.accounts();
    let system = accounts.get(accounts.system_name()).cloned();
    let from_system = system.as_ref().is_some_and(|s| Arc::ptr_eq(s, m.account));
    // The purge subscription is not the dispatcher's: it takes the system
    // account's own requests.
    if info.is_none() && !purge && !(from_system && subject == "$JS.API.INFO") {
        return;
    }
    let client: serde_json::Value = match info {
        Some(raw) => match serde_json::from_slice(raw) {
            Ok(v) => v,
            Err(_) => {
                crate::warn!(
                    "Malformed JetStream API Request: {}",
                    super::stream::check::go_quote(&String::from_utf8_lossy(body))
                );
                return;
            }
        },
        None => serde_json::Value::Object(Default::default()),
    };
    let named = |key: &str| {
        client
            .get(key)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let account = match named("svc").or_else(|| named("acc")) {
        Some(name) => accounts.get(&name).cloned(),
        None => Some(m.account.clone()),
    };
    let Some(account) = account else {
        crate::warn!(
            "Malformed JetStream API Request: {}",
            super::stream::check::go_quote(&String::from_utf8_lossy(body))
        );
        return;
    };
    let mut ctx = Ctx {
        js: &js,
        srv,
        subject: &subject,
        reply: m
            .reply
            .filter(|r| !r.is_empty())
            .map(|r| String::from_utf8_lossy(r).into_owned()),
        body,
        account,
        client,
        out: m.out,
    };
    if purge {
        return streams::account_purge(&mut ctx);
    }
    route(&mut ctx);
}

/// Hands the request to its handler by subject; a subject the API does
/// not know gets no answer.
fn route(ctx: &mut Ctx<'_>) {
    let subject = ctx.subject.to_string();
    let Some(rest) = subject.strip_prefix("$JS.API.") else {
        return;
    };
    let t: Vec<&str> = rest.split('.').collect();
    match t.as_slice() {
        ["INFO"] => info::account_info(ctx),
        ["STREAM", "TEMPLATE", "CREATE", n] => templates::create(ctx, n),
        ["STREAM", "TEMPLATE", "NAMES"] => templates::names(ctx),
        ["STREAM", "TEMPLATE", "INFO", n] => templates::info(ctx, n),
        ["STREAM", "TEMPLATE", "DELETE", n] => templates::delete(ctx, n),
        ["STREAM", "CREATE", n] => streams::create(ctx, n),
        ["STREAM", "UPDATE", n] => streams::update(ctx, n),
        ["STREAM", "NAMES"] => streams::names(ctx, false),
        ["STREAM", "LIST"] => streams::names(ctx, true),
        ["STREAM", "INFO", n] => streams::info(ctx, n),
        ["STREAM", "DELETE", n] => streams::delete(ctx, n),
        ["STREAM", "PURGE", n] => streams::purge(ctx, n),
        ["STREAM", "MSG", "DELETE", n] => msgs::delete(ctx, n),
        ["STREAM", "MSG", "GET", n] => msgs::get(ctx, n),
        ["STREAM", "SNAPSHOT", n] => snapshots::snapshot(ctx, n),
        ["STREAM", "RESTORE", n] => snapshots::restore(ctx, n),
        ["STREAM", "PEER", "REMOVE", _] => info::cluster_required(ctx, info::Op::PeerRemove),
        ["STREAM", "LEADER", "STEPDOWN", _] => {
            info::cluster_required(ctx, info::Op::StreamStepdown)
        }
        ["CONSUMER", "CREATE", _, ..] | ["CONSUMER", "DURABLE", "CREATE", ..] => {
            consumers::create(ctx, &t)
        }
        ["CONSUMER", "INFO", s, c] => consumers::info(ctx, s, c),
        ["CONSUMER", "DELETE", s, c] => consumers::delete(ctx, s, c),
        ["CONSUMER", "NAMES", s] => consumers::names(ctx, s, false),
        ["CONSUMER", "LIST", s] => consumers::names(ctx, s, true),
        ["CONSUMER", "LEADER", "STEPDOWN", _, _] => {
            info::cluster_required(ctx, info::Op::ConsumerStepdown)
        }
        _ => {}
    }
}

/// A response with nothing besides its type and error.
#[derive(Serialize)]
pub struct Empty {}

impl Ctx<'_> {
    /// The JetStream account the request acts for, or Go's 10039 answer
    /// (with `body` as the response's other fields).
    pub fn enabled<T: Serialize>(&mut self, kind: &'static str, body: T) -> Option<Arc<JsAccount>> {
        let jsa = self.jsa();
        if jsa.is_none() {
            self.fail(kind, ApiError::new(ErrorId::NotEnabledForAccount), body);
        }
        jsa
    }

    /// The account and the request's JSON, for requests that need one:
    /// Go's 10003 for none, 10025 for bad JSON.
    pub fn required_request<R: serde::de::DeserializeOwned + Default>(
        &mut self,
        kind: &'static str,
    ) -> Option<(Arc<JsAccount>, R)> {
        let jsa = self.enabled(kind, Empty {})?;
        if is_empty_request(self.body) {
            self.fail(kind, ApiError::new(ErrorId::BadRequest), Empty {});
            return None;
        }
        match decode::<R>(self.body) {
            Ok(r) => Some((jsa, r)),
            Err(_) => {
                self.fail(kind, ApiError::new(ErrorId::InvalidJSON), Empty {});
                None
            }
        }
    }

    /// The account, for requests that take no body: Go's 10038 otherwise.
    pub fn bodyless_request(&mut self, kind: &'static str) -> Option<Arc<JsAccount>> {
        let jsa = self.enabled(kind, Empty {})?;
        if !is_empty_request(self.body) {
            self.fail(kind, ApiError::new(ErrorId::NotEmptyRequest), Empty {});
            return None;
        }
        Some(jsa)
    }

    /// The JetStream account the request acts for, if enabled.
    pub fn jsa(&self) -> Option<Arc<JsAccount>> {
        self.js.account(&self.account.name)
    }

    /// Sends a response of `kind` (counted as an error with `error`).
    pub fn send<T: Serialize>(&mut self, kind: &'static str, error: Option<ApiError>, body: T) {
        let is_error = error.is_some();
        let text = go_json(&Response { kind, error, body });
        self.send_text(text, is_error);
    }

    /// Sends an error response whose other fields are `body`.
    pub fn fail<T: Serialize>(&mut self, kind: &'static str, e: ApiError, body: T) {
        self.send(kind, Some(e), body);
    }

    /// Sends a response to the reply subject only: not counted, not
    /// audited (Go's answer to a message get).
    pub fn send_uncounted<T: Serialize>(&mut self, kind: &'static str, body: T) {
        let text = go_json(&Response {
            kind,
            error: None,
            body,
        });
        if let Some(reply) = &self.reply {
            let conn = self.js.connection().clone();
            let account = conn.account.lock().clone();
            self.out.push(Deferred {
                account,
                from: conn,
                subject: reply.clone(),
                reply: None,
                hdr: -1,
                payload: text.into_bytes(),
            });
        }
    }

    /// Sends a prepared response text.
    pub fn send_text(&mut self, text: String, is_error: bool) {
        let jsa = self.jsa();
        self.js.count_api(jsa.as_deref(), is_error);
        let conn = self.js.connection().clone();
        if let Some(reply) = &self.reply {
            self.out.push(Deferred {
                from: conn.clone(),
                account: conn.account.lock().clone(),
                subject: reply.clone(),
                reply: None,
                hdr: -1,
                payload: text.clone().into_bytes(),
            });
        }
        let request = String::from_utf8_lossy(self.body).into_owned();
        let server = self.srv.info().server_name;
        let domain = self.js.config.domain.clone();
        let account = self.account.clone();
        Sink {
            from: &conn,
            account: &account,
            out: self.out,
        }
        .api_audit(
            &server,
            &self.client,
            self.subject,
            &request,
            &text,
            &domain,
        );
    }

    /// Announces what was done to a stream, into the requestor's account.
    pub fn stream_action(&mut self, action: StreamAction, stream: &str, template: &str) {
        let conn = self.js.connection().clone();
        let account = self.account.clone();
        let domain = self.js.config.domain.clone();
        Sink {
            from: &conn,
            account: &account,
            out: self.out,
        }
        .stream_action(action, stream, template, &domain);
    }

    pub fn out(&mut self) -> &mut Vec<Deferred> {
        self.out
    }
}

/// A value as Go's encoder writes it (`<`, `>`, `&` escaped).
pub fn go_json<T: Serialize>(v: &T) -> String {
    natsd_proto::client::info::go_html_escape(&serde_json::to_string(v).unwrap_or_default())
}

/// Decodes a request body as Go's decoder does where serde differs: a
/// `null` (the whole body, or a field's value) leaves the zero value.
pub fn decode<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> serde_json::Result<T> {
    let mut v: serde_json::Value = serde_json::from_slice(body)?;
    if v.is_null() {
        return Ok(T::default());
    }
    strip_nulls(&mut v);
    serde_json::from_value(v)
}

fn strip_nulls(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// Go's isEmptyRequest: no body, `{}`, or JSON that decodes to an empty
/// object.
pub fn is_empty_request(body: &[u8]) -> bool {
    if body.is_empty() {
        return true;
    }
    if body == b"{}" {
        return true;
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m)) => m.is_empty(),
        _ => false,
    }
}
