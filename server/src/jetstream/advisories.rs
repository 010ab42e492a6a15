//! JetStream's advisories on `$JS.EVENT.ADVISORY.>`: API audits and
//! stream actions, published into the account concerned when something
//! there listens.

use crate::core::account::Account;
use crate::core::connection::Connection;
use crate::core::delivery::Deferred;
use natsd_proto::jetstream::api::Timestamp;
use serde::Serialize;
use std::sync::Arc;

pub const API_AUDIT: &str = "$JS.EVENT.ADVISORY.API";
const API_AUDIT_TYPE: &str = "io.nats.jetstream.advisory.v1.api_audit";
const STREAM_ACTION_TYPE: &str = "io.nats.jetstream.advisory.v1.stream_action";

/// What was done to a stream.
#[derive(Clone, Copy)]
pub enum StreamAction {
    Create,
    Update,
    Delete,
}

impl StreamAction {
    fn name(self) -> &'static str {
        match self {
            StreamAction::Create => "create",
            StreamAction::Update => "update",
            StreamAction::Delete => "delete",
        }
    }

    fn subject(self, stream: &str) -> String {
        let what = match self {
            StreamAction::Create => "CREATED",
            StreamAction::Update => "UPDATED",
            StreamAction::Delete => "DELETED",
        };
        format!("$JS.EVENT.ADVISORY.STREAM.{what}.{stream}")
    }
}

/// The `type`, `id` and `timestamp` every advisory starts with.
#[derive(Serialize)]
pub struct Typed {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: Timestamp,
}

impl Typed {
    pub fn new(kind: &'static str) -> Typed {
        Typed {
            kind,
            id: nuid::next().to_string(),
            timestamp: Timestamp(crate::jetstream::stream::now_ns()),
        }
    }
}

#[derive(Serialize)]
struct ApiAudit<'a> {
    #[serde(flatten)]
    typed: Typed,
    server: &'a str,
    client: &'a serde_json::Value,
    subject: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    request: &'a str,
    response: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    domain: &'a str,
}

#[derive(Serialize)]
struct StreamActionAdvisory<'a> {
    #[serde(flatten)]
    typed: Typed,
    stream: &'a str,
    action: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    template: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    domain: &'a str,
}

/// Where an advisory goes: from a server connection into an account.
pub struct Sink<'a> {
    pub from: &'a Arc<Connection>,
    pub account: &'a Arc<Account>,
    pub out: &'a mut Vec<Deferred>,
}

impl Sink<'_> {
    fn publish(&mut self, subject: String, body: impl FnOnce() -> Vec<u8>) {
        if self
            .account
            .sublist
            .match_subject(subject.as_bytes())
            .is_empty()
        {
            return;
        }
        self.out.push(Deferred {
            from: self.from.clone(),
            account: self.account.clone(),
            subject,
            reply: None,
            hdr: -1,
            payload: body(),
        });
    }

    /// Any advisory: `body` (its JSON, Go's escapes) on `subject`.
    pub fn advisory<T: Serialize>(&mut self, subject: String, body: &T) {
        self.publish(subject, || {
            crate::jetstream::api::go_json(body).into_bytes()
        });
    }

    /// The audit of one API request and its response.
    pub fn api_audit(
        &mut self,
        server: &str,
        client: &serde_json::Value,
        subject: &str,
        request: &str,
        response: &str,
        domain: &str,
    ) {
        self.publish(API_AUDIT.to_string(), || {
            crate::jetstream::api::go_json(&ApiAudit {
                typed: Typed::new(API_AUDIT_TYPE),
                server,
                client,
                subject,
                request,
                response,
                domain,
            })
            .into_bytes()
        });
    }

    pub fn stream_action(
        &mut self,
        action: StreamAction,
        stream: &str,
        template: &str,
        domain: &str,
    ) {
        self.publish(action.subject(stream), || {
            crate::jetstream::api::go_json(&StreamActionAdvisory {
                typed: Typed::new(STREAM_ACTION_TYPE),
                stream,
                action: action.name(),
                template,
                domain,
            })
            .into_bytes()
        });
    }
}
