//! A consumer's advisories and metrics: created and deleted, a message
//! that reached max deliveries, was NAKed or terminated, and sampled ack
//! times. Each is built only when something in the account listens.

use crate::conn::internal::Outgoing;
use crate::core::account::Account;
use crate::jetstream::advisories::Typed;
use serde::Serialize;

const ACTION_TYPE: &str = "io.nats.jetstream.advisory.v1.consumer_action";
const MAX_DELIVER_TYPE: &str = "io.nats.jetstream.advisory.v1.max_deliver";
const NAK_TYPE: &str = "io.nats.jetstream.advisory.v1.nak";
const TERMINATED_TYPE: &str = "io.nats.jetstream.advisory.v1.terminated";
const ACK_METRIC_TYPE: &str = "io.nats.jetstream.metric.v1.consumer_ack";

/// Which consumer an advisory is about.
pub struct About<'a> {
    pub account: &'a Account,
    pub stream: &'a str,
    pub consumer: &'a str,
    pub domain: &'a str,
}

#[derive(Serialize)]
struct Action<'a> {
    #[serde(flatten)]
    typed: Typed,
    stream: &'a str,
    consumer: &'a str,
    action: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    domain: &'a str,
}

/// The message sequences an advisory reports.
#[derive(Serialize)]
struct Delivery<'a> {
    #[serde(flatten)]
    typed: Typed,
    stream: &'a str,
    consumer: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumer_seq: Option<u64>,
    stream_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ack_time: Option<i64>,
    deliveries: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    domain: &'a str,
}

impl About<'_> {
    fn publish(&self, prefix: &str, body: impl FnOnce() -> String) -> Option<Outgoing> {
        let subject = format!("{prefix}.{}.{}", self.stream, self.consumer);
        if self
            .account
            .sublist
            .match_subject(subject.as_bytes())
            .is_empty()
        {
            return None;
        }
        Some(Outgoing {
            subject,
            hdr: -1,
            payload: body().into_bytes(),
            ..Default::default()
        })
    }

    /// Created (`true`) or deleted.
    pub fn action(&self, created: bool) -> Option<Outgoing> {
        let (prefix, action) = if created {
            ("$JS.EVENT.ADVISORY.CONSUMER.CREATED", "create")
        } else {
            ("$JS.EVENT.ADVISORY.CONSUMER.DELETED", "delete")
        };
        self.publish(prefix, || {
            crate::jetstream::api::go_json(&Action {
                typed: Typed::new(ACTION_TYPE),
                stream: self.stream,
                consumer: self.consumer,
                action,
                domain: self.domain,
            })
        })
    }

    fn delivery(
        &self,
        prefix: &str,
        kind: &'static str,
        dseq: Option<u64>,
        sseq: u64,
        ack_time: Option<i64>,
        deliveries: u64,
    ) -> Option<Outgoing> {
        self.publish(prefix, || {
            crate::jetstream::api::go_json(&Delivery {
                typed: Typed::new(kind),
                stream: self.stream,
                consumer: self.consumer,
                consumer_seq: dseq,
                stream_seq: sseq,
                ack_time,
                deliveries,
                domain: self.domain,
            })
        })
    }

    pub fn max_deliveries(&self, sseq: u64, deliveries: u64) -> Option<Outgoing> {
        self.delivery(
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES",
            MAX_DELIVER_TYPE,
            None,
            sseq,
            None,
            deliveries,
        )
    }

    pub fn nak(&self, dseq: u64, sseq: u64, deliveries: u64) -> Option<Outgoing> {
        self.delivery(
            "$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED",
            NAK_TYPE,
            Some(dseq),
            sseq,
            None,
            deliveries,
        )
    }

    pub fn terminated(&self, dseq: u64, sseq: u64, deliveries: u64) -> Option<Outgoing> {
        self.delivery(
            "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED",
            TERMINATED_TYPE,
            Some(dseq),
            sseq,
            None,
            deliveries,
        )
    }

    pub fn ack_metric(
        &self,
        dseq: u64,
        sseq: u64,
        delay: i64,
        deliveries: u64,
    ) -> Option<Outgoing> {
        self.delivery(
            "$JS.EVENT.METRIC.CONSUMER.ACK",
            ACK_METRIC_TYPE,
            Some(dseq),
            sseq,
            Some(delay),
            deliveries,
        )
    }
}
