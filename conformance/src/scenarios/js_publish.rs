//! Scenarios for the JetStream publish path and stored messages on one
//! server, from server/jetstream_test.go: PubAcks (TestJetStreamPubAck,
//! TestJetStreamBasicAckPublish, TestJetStreamDomainInPubAck,
//! TestJetStreamLongStreamNamesAndPubAck), no-ack streams, message ids and
//! the duplicates window (TestJetStreamPublishDeDupe,
//! TestJetStreamNegativeDupeWindow, TestJetStreamMsgIDHeaderCollision), the
//! expected-* headers (TestJetStreamPublishExpect,
//! TestJetStreamPublishExpectNoMsg, TestJetStreamLastSequenceBySubject),
//! limits and discard policies (TestJetStreamAddStreamDiscardNew,
//! TestJetStreamAddStreamMaxMsgSize, TestJetStreamMaxMsgsPerSubject*,
//! TestJetStreamLimitLockBug, TestJetStreamMessagePerSubjectKeepBug,
//! TestJetStreamDefaultMaxMsgsPer), interest retention without consumers,
//! purge, message get and delete, direct get, republish, sealed and
//! append-only streams and roll-ups.
//!
//! The Go tests add streams in-process (`acc.addStream`) and read the
//! store's state (`mset.state()`, `mset.getMsg`); here every stream is made
//! through `$JS.API.STREAM.CREATE.<name>` and every state is read back through
//! `$JS.API.STREAM.INFO.<name>` (`state.messages`, `bytes`, `first_seq`, ...),
//! `$JS.API.STREAM.MSG.GET.<name>` or `$JS.API.DIRECT.GET.<name>`, from a raw
//! client that sees the exact bytes of every answer (a PubAck is
//! `{"stream":"S", "seq":N}`, with Go's space), and, where the Go test uses
//! the nats.go JetStream API, through async-nats' own JetStream API. A
//! restart of the Go test is a graceful restart of the server on the same
//! store. Volatile fields (`created`, `first_ts`, `last_ts`, `time`) are
//! recorded only as set or zero.

use crate::check_eq;
use crate::kit::{Ctx, Msg, Op, RawClient, Server, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{bail, ensure, Context, Result};
use async_nats::jetstream::{self, stream};
use futures::FutureExt;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

/// The JetStream block of a server's config: its store in the server's folder.
pub(super) const JS_CONF: &str = "jetstream { store_dir: \"{{dir}}/js\" }\n";

/// The two storage types, as the API spells them.
pub(super) const STORAGES: [&str; 2] = ["memory", "file"];

pub fn scenarios() -> Vec<Scenario> {
    let js = |s: Scenario| s.needs(Need::JetStream);
    vec![
        js(Scenario::new("jetstream/pub-ack", |c| pub_ack(c).boxed()).full("TestJetStreamPubAck")),
        js(
            Scenario::new("jetstream/pub-ack-basic", |c| basic_ack_publish(c).boxed())
                .full("TestJetStreamBasicAckPublish"),
        ),
        js(
            Scenario::new("jetstream/no-ack-stream", |c| no_ack_stream(c).boxed())
                .full("TestJetStreamNoAckStream"),
        ),
        js(
            Scenario::new("jetstream/limit-max-msgs", |c| limit_lock_bug(c).boxed())
                .full("TestJetStreamLimitLockBug"),
        ),
        js(
            Scenario::new("jetstream/pub-ack-domain", |c| domain_in_pub_ack(c).boxed())
                .full("TestJetStreamDomainInPubAck"),
        ),
        js(Scenario::new("jetstream/max-msgs-per-subject-keep", |c| {
            per_subject_keep(c).boxed()
        })
        .full("TestJetStreamMessagePerSubjectKeepBug")),
        js(Scenario::new("jetstream/msg-id-header-collision", |c| {
            msg_id_collision(c).boxed()
        })
        .full("TestJetStreamMsgIDHeaderCollision")),
        js(
            Scenario::new("jetstream/expected-last-subject-seq-zero", |c| {
                expect_no_msg(c).boxed()
            })
            .full("TestJetStreamPublishExpectNoMsg"),
        ),
        js(Scenario::new("jetstream/max-msgs-per-subject", |c| {
            max_msgs_per_subject(c).boxed()
        })
        .full("TestJetStreamMaxMsgsPerSubject")),
        js(
            Scenario::new("jetstream/max-msgs-per-subject-discard-new", |c| {
                per_subject_discard_new(c).boxed()
            })
            .full("TestJetStreamMaxMsgsPerSubjectWithDiscardNew"),
        ),
        js(Scenario::new("jetstream/state-timestamps", |c| {
            state_timestamps(c).boxed()
        })
        .full("TestJetStreamStateTimestamps")),
        js(
            Scenario::new("jetstream/stream-purge", |c| stream_purge(c).boxed())
                .full("TestJetStreamStreamPurge"),
        ),
        js(
            Scenario::new("jetstream/publish-dedupe", |c| publish_dedupe(c).boxed())
                .full("TestJetStreamPublishDeDupe"),
        ),
        js(
            Scenario::new("jetstream/publish-expect", |c| publish_expect(c).boxed())
                .full("TestJetStreamPublishExpect"),
        ),
    ]
}

// ---------------------------------------------------------------- helpers

/// A server with JetStream (and `extra` config after it).
pub(super) async fn js_server_with(ctx: &Ctx, extra: &str) -> Result<Server> {
    ctx.server(ServerSpec::new().conf(&format!("{JS_CONF}{extra}")))
        .await
}

pub(super) async fn js_server(ctx: &Ctx) -> Result<Server> {
    js_server_with(ctx, "").await
}

/// Where a [`Js`] connection gets its replies.
const INBOX: &str = "_INBOX.parity";

/// A raw connection that speaks headers and has an inbox for replies: the
/// JetStream API and PubAcks byte for byte.
pub(super) struct Js {
    c: RawClient,
    n: u64,
    /// Messages of the connection's other subscriptions that arrived while it
    /// waited for a reply, in order.
    pub others: Vec<Msg>,
}

impl Js {
    pub(super) async fn connect(ctx: &Ctx, s: &Server) -> Result<Js> {
        Self::connect_with(ctx, s, "").await
    }

    /// `extra` is appended to the CONNECT's fields (`,"user":"u",...`).
    pub(super) async fn connect_with(ctx: &Ctx, s: &Server, extra: &str) -> Result<Js> {
        let connect = format!("{{\"verbose\":false,\"pedantic\":false,\"headers\":true{extra}}}");
        let mut c = ctx.raw_connected(s, &connect).await?;
        c.send(&format!("SUB {INBOX}.* 1\r\n")).await?;
        c.flush().await?;
        Ok(Js {
            c,
            n: 0,
            others: Vec::new(),
        })
    }

    /// Subscribes `subject` with `sid` (confirmed by a PONG).
    pub(super) async fn sub(&mut self, subject: &str, sid: &str) -> Result<()> {
        self.c.send(&format!("SUB {subject} {sid}\r\n")).await?;
        self.flush().await
    }

    /// PING/PONG; the messages that arrive before the PONG go to `others`.
    pub(super) async fn flush(&mut self) -> Result<()> {
        for op in self.c.ops_until_pong().await? {
            match op {
                Op::Msg(m) => self.others.push(m),
                Op::Ok => {}
                other => bail!("while flushing: {other:?}"),
            }
        }
        Ok(())
    }

    /// Sends PUB (no headers) or HPUB, with a reply subject when given.
    pub(super) async fn send(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: &[(&str, &str)],
        payload: &[u8],
    ) -> Result<()> {
        let reply = reply.map(|r| format!(" {r}")).unwrap_or_default();
        let mut b = if headers.is_empty() {
            format!("PUB {subject}{reply} {}\r\n", payload.len()).into_bytes()
        } else {
            let h = header_block(headers);
            let mut b = format!(
                "HPUB {subject}{reply} {} {}\r\n",
                h.len(),
                h.len() + payload.len()
            )
            .into_bytes();
            b.extend_from_slice(h.as_bytes());
            b
        };
        b.extend_from_slice(payload);
        b.extend_from_slice(b"\r\n");
        self.c.send_bytes(&b).await
    }

    /// Publishes without a reply subject.
    pub(super) async fn publish(&mut self, subject: &str, payload: &str) -> Result<()> {
        self.send(subject, None, &[], payload.as_bytes()).await
    }

    fn next_reply(&mut self) -> String {
        self.n += 1;
        format!("{INBOX}.{}", self.n)
    }

    /// Sends a request and returns its reply (other messages go to `others`).
    pub(super) async fn request_msg(
        &mut self,
        subject: &str,
        headers: &[(&str, &str)],
        payload: &[u8],
    ) -> Result<Msg> {
        let reply = self.next_reply();
        self.send(subject, Some(&reply), headers, payload).await?;
        loop {
            match self
                .c
                .read_op()
                .await
                .with_context(|| format!("waiting for the reply to a request on {subject}"))?
            {
                Op::Msg(m) if m.subject == reply => return Ok(m),
                Op::Msg(m) => self.others.push(m),
                Op::Ping => self.c.send("PONG\r\n").await?,
                Op::Pong | Op::Ok => {}
                other => bail!("request on {subject}: got {other:?}"),
            }
        }
    }

    /// A request that must get no reply within `wait`.
    pub(super) async fn no_reply(
        &mut self,
        subject: &str,
        headers: &[(&str, &str)],
        payload: &[u8],
        wait: Duration,
    ) -> Result<()> {
        let reply = self.next_reply();
        self.send(subject, Some(&reply), headers, payload).await?;
        self.c.expect_nothing(wait).await
    }

    /// The text of the reply to a message published on a stream's subject:
    /// a PubAck or its error, exactly as the server wrote it.
    pub(super) async fn ack_h(
        &mut self,
        subject: &str,
        headers: &[(&str, &str)],
        payload: &[u8],
    ) -> Result<String> {
        let m = self.request_msg(subject, headers, payload).await?;
        Ok(String::from_utf8_lossy(&m.payload).into_owned())
    }

    pub(super) async fn ack(&mut self, subject: &str, payload: &str) -> Result<String> {
        self.ack_h(subject, &[], payload.as_bytes()).await
    }

    /// Publishes and requires a PubAck without error; returns its sequence.
    pub(super) async fn stored_h(
        &mut self,
        subject: &str,
        headers: &[(&str, &str)],
        payload: &[u8],
    ) -> Result<u64> {
        let text = self.ack_h(subject, headers, payload).await?;
        let v: Value =
            serde_json::from_str(&text).with_context(|| format!("PubAck not JSON: {text}"))?;
        ensure!(v.get("error").is_none(), "publish on {subject}: {text}");
        v["seq"]
            .as_u64()
            .with_context(|| format!("PubAck without seq: {text}"))
    }

    pub(super) async fn stored(&mut self, subject: &str, payload: &str) -> Result<u64> {
        self.stored_h(subject, &[], payload.as_bytes()).await
    }

    /// A JetStream API request: its JSON response.
    pub(super) async fn api(&mut self, subject: &str, body: &str) -> Result<Value> {
        let m = self.request_msg(subject, &[], body.as_bytes()).await?;
        serde_json::from_slice(&m.payload).with_context(|| {
            format!(
                "{subject}: not JSON: {}",
                String::from_utf8_lossy(&m.payload)
            )
        })
    }

    /// `$JS.API.STREAM.CREATE.<name>` of `cfg`: the response, whatever it is.
    pub(super) async fn try_create(&mut self, cfg: &Value) -> Result<Value> {
        let name = cfg["name"].as_str().context("config without name")?;
        self.api(&format!("$JS.API.STREAM.CREATE.{name}"), &cfg.to_string())
            .await
    }

    /// Creates a stream, which must succeed; returns the response.
    pub(super) async fn create(&mut self, cfg: Value) -> Result<Value> {
        let r = self.try_create(&cfg).await?;
        ensure!(r.get("error").is_none(), "creating stream {cfg}: {r}");
        Ok(r)
    }

    /// `$JS.API.STREAM.UPDATE.<name>` of `cfg`: the response.
    pub(super) async fn update(&mut self, cfg: &Value) -> Result<Value> {
        let name = cfg["name"].as_str().context("config without name")?;
        self.api(&format!("$JS.API.STREAM.UPDATE.{name}"), &cfg.to_string())
            .await
    }

    pub(super) async fn delete_stream(&mut self, name: &str) -> Result<Value> {
        self.api(&format!("$JS.API.STREAM.DELETE.{name}"), "").await
    }

    /// `$JS.API.STREAM.INFO.<name>` with `body`; it must not be an error.
    pub(super) async fn info_with(&mut self, name: &str, body: &str) -> Result<Value> {
        let r = self
            .api(&format!("$JS.API.STREAM.INFO.{name}"), body)
            .await?;
        ensure!(r.get("error").is_none(), "info of {name}: {r}");
        Ok(r)
    }

    pub(super) async fn info(&mut self, name: &str) -> Result<Value> {
        self.info_with(name, "").await
    }

    /// The `state` of a stream's info.
    pub(super) async fn state(&mut self, name: &str) -> Result<Value> {
        Ok(self.info(name).await?["state"].clone())
    }

    /// `state.messages` of a stream.
    pub(super) async fn msgs(&mut self, name: &str) -> Result<u64> {
        Ok(num(&self.state(name).await?["messages"]))
    }

    /// `$JS.API.STREAM.PURGE.<name>` with `body`.
    pub(super) async fn purge(&mut self, name: &str, body: &str) -> Result<Value> {
        self.api(&format!("$JS.API.STREAM.PURGE.{name}"), body)
            .await
    }

    /// `$JS.API.STREAM.MSG.GET.<name>` with `body`.
    pub(super) async fn msg_get(&mut self, name: &str, body: &str) -> Result<Value> {
        self.api(&format!("$JS.API.STREAM.MSG.GET.{name}"), body)
            .await
    }

    /// `$JS.API.STREAM.MSG.DELETE.<name>` with `body`.
    pub(super) async fn msg_delete(&mut self, name: &str, body: &str) -> Result<Value> {
        self.api(&format!("$JS.API.STREAM.MSG.DELETE.{name}"), body)
            .await
    }

    /// Sends PING and returns the messages the other subscriptions got
    /// until its PONG, with those already set aside; empties `others`.
    pub(super) async fn take_others(&mut self) -> Result<Vec<Msg>> {
        self.flush().await?;
        Ok(std::mem::take(&mut self.others))
    }
}

/// `NATS/1.0` and one `Name: value` line per header, then the blank line.
pub(super) fn header_block(headers: &[(&str, &str)]) -> String {
    let mut h = String::from("NATS/1.0\r\n");
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h
}

/// A number of a JSON response; a missing one reads as `u64::MAX`, which no
/// check expects.
pub(super) fn num(v: &Value) -> u64 {
    v.as_u64().unwrap_or(u64::MAX)
}

/// `(code, err_code, description)` of an API response's or PubAck's error;
/// `(0, 0, "")` when it has none.
pub(super) fn api_err(v: &Value) -> (u64, u64, String) {
    let e = &v["error"];
    if e.is_null() {
        return (0, 0, String::new());
    }
    (
        num(&e["code"]),
        num(&e["err_code"]),
        e["description"].as_str().unwrap_or_default().to_string(),
    )
}

/// The error of a PubAck's text (see [`api_err`]) and its `stream`.
pub(super) fn ack_err(text: &str) -> Result<(u64, u64, String, String)> {
    let v: Value = serde_json::from_str(text).with_context(|| format!("not JSON: {text}"))?;
    let (code, err_code, desc) = api_err(&v);
    Ok((
        code,
        err_code,
        desc,
        v["stream"].as_str().unwrap_or_default().to_string(),
    ))
}

/// The exact text of a successful PubAck, as Go writes it.
pub(super) fn pub_ack_text(stream: &str, seq: u64) -> String {
    format!("{{\"stream\":\"{stream}\", \"seq\":{seq}}}")
}

/// Fields whose values are times: recorded only as `<zero>` (Go's zero time)
/// or `<time>`.
const TIME_FIELDS: [&str; 4] = ["created", "first_ts", "last_ts", "time"];

/// A response with its times reduced to set or zero, for observations.
pub(super) fn scrub(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = match v.as_str() {
                        Some(t) if TIME_FIELDS.contains(&k.as_str()) => {
                            json!(if t == GO_ZERO_TIME {
                                "<zero>"
                            } else {
                                "<time>"
                            })
                        }
                        _ => scrub(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(scrub).collect()),
        other => other.clone(),
    }
}

/// Go's zero `time.Time` in JSON.
pub(super) const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A time of a response (RFC 3339 in UTC, as Go writes it).
pub(super) fn time_of(v: &Value) -> Result<SystemTime> {
    let t = v.as_str().with_context(|| format!("not a time: {v}"))?;
    humantime::parse_rfc3339(t).with_context(|| format!("not an RFC 3339 time: {t}"))
}

/// Go's `base64.StdEncoding` (how `[]byte` fields are written in JSON).
pub(super) fn b64(data: &[u8]) -> String {
    let mut s = crate::kit::b64url(data).replace('-', "+").replace('_', "/");
    while s.len() % 4 != 0 {
        s.push('=');
    }
    s
}

/// The value of header `name` in a raw header block.
pub(super) fn header<'a>(block: &'a str, name: &str) -> Option<&'a str> {
    block
        .split("\r\n")
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
}

/// The header block of a message as text (empty when it had none).
pub(super) fn headers_of(m: &Msg) -> String {
    m.headers
        .as_deref()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .unwrap_or_default()
}

/// A header block with its `Nats-Time-Stamp` value masked, for observations.
pub(super) fn mask_stamp(block: &str) -> String {
    block
        .split("\r\n")
        .map(|l| {
            if l.starts_with("Nats-Time-Stamp: ") {
                "Nats-Time-Stamp: <time>"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// An async-nats JetStream context on a new client of the server.
pub(super) async fn js_context(ctx: &Ctx, s: &Server) -> Result<jetstream::Context> {
    Ok(jetstream::new(ctx.client(s).await?))
}

/// The server's error carried by an async-nats error, as `code/err_code
/// description`, or the error's own text when it carries none.
pub(super) fn server_error(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(js) = err.downcast_ref::<jetstream::Error>() {
            return format!(
                "{}/{} {}",
                js.code(),
                js.error_code().0,
                js.to_string().split(" (code ").next().unwrap_or_default()
            );
        }
        cur = err.source();
    }
    e.to_string()
}

// ---------------------------------------------------------------- PubAck

async fn pub_ack(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let created = js
        .create(json!({"name": "PUBACK", "subjects": ["foo"], "storage": "memory"}))
        .await?;
    ctx.observe_json("create", &scrub(&created));
    // 1000 requests, each answered with the PubAck of the next sequence.
    for seq in 1..=1000u64 {
        let ack = js.ack("foo", "HELLO").await?;
        check_eq!(ack, pub_ack_text("PUBACK", seq));
        if seq == 1 || seq == 1000 {
            ctx.observe(&format!("ack {seq}"), &ack);
        }
    }
    // The same through async-nats' JetStream API.
    let jsc = js_context(&ctx, &s).await?;
    let pa = jsc.publish("foo", "HELLO".into()).await?.await?;
    check_eq!(
        (
            pa.stream.as_str(),
            pa.sequence,
            pa.duplicate,
            pa.domain.as_str()
        ),
        ("PUBACK", 1001, false, "")
    );
    Ok(())
}

async fn basic_ack_publish(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "foo", "storage": storage, "subjects": ["foo.*"]}))
            .await?;
        for i in 1..=50 {
            let seq = js.stored("foo.bar", "Hello World!").await?;
            check_eq!(seq, i);
        }
        let state = js.state("foo").await?;
        check_eq!(num(&state["messages"]), 50);
        ctx.observe_json(&format!("{storage}: state"), &scrub(&state));
        js.delete_stream("foo").await?;
    }
    Ok(())
}

async fn no_ack_stream(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        let r = js
            .create(json!({"name": "foo", "storage": storage, "no_ack": true}))
            .await?;
        check_eq!(r["config"]["no_ack"], json!(true));
        // A request gets no PubAck, but the message is stored.
        js.no_reply("foo", &[], b"Hello World!", Duration::from_millis(250))
            .await?;
        let state = js.state("foo").await?;
        check_eq!(num(&state["messages"]), 1);
        ctx.observe_json(&format!("{storage}: state"), &scrub(&state));
        js.delete_stream("foo").await?;
    }
    Ok(())
}

async fn limit_lock_bug(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "foo", "retention": "limits", "max_msgs": 10,
            "storage": storage, "num_replicas": 1}))
            .await?;
        for i in 1..=100 {
            check_eq!(js.stored("foo", "ok").await?, i);
        }
        let state = js.state("foo").await?;
        check_eq!(num(&state["messages"]), 10);
        check_eq!(
            (num(&state["first_seq"]), num(&state["last_seq"])),
            (91, 100)
        );
        ctx.observe_json(&format!("{storage}: state"), &scrub(&state));
        js.delete_stream("foo").await?;
    }
    Ok(())
}

async fn domain_in_pub_ack(ctx: Ctx) -> Result<()> {
    let conf = "jetstream: {domain: \"HUB\", store_dir: \"{{dir}}/js\"}\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let jsc = js_context(&ctx, &s).await?;
    jsc.create_stream(stream::Config {
        name: "TEST".into(),
        storage: stream::StorageType::Memory,
        subjects: vec!["foo".into()],
        ..Default::default()
    })
    .await
    .context("adding stream TEST")?;
    // By hand: the PubAck carries the domain between stream and seq.
    let mut js = Js::connect(&ctx, &s).await?;
    let ack = js.ack("foo", "").await?;
    ctx.observe("ack", &ack);
    check_eq!(ack, "{\"stream\":\"TEST\", \"domain\":\"HUB\", \"seq\":1}");
    let pa = jsc.publish("foo", "".into()).await?.await?;
    check_eq!((pa.domain.as_str(), pa.sequence), ("HUB", 2));
    Ok(())
}

async fn per_subject_keep(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let jsc = js_context(&ctx, &s).await?;
    for (storage, st) in [
        ("file", stream::StorageType::File),
        ("memory", stream::StorageType::Memory),
    ] {
        for keep in [10i64, 1] {
            let mut stream = jsc
                .create_stream(stream::Config {
                    name: "TEST".into(),
                    max_messages_per_subject: keep,
                    storage: st,
                    ..Default::default()
                })
                .await
                .context("adding stream TEST")?;
            for i in 0..100 {
                jsc.publish("TEST", format!("test {i}").into())
                    .await?
                    .await
                    .context("publishing on TEST")?;
            }
            let nfo = stream.info().await?;
            check_eq!(nfo.state.messages, keep as u64);
            ctx.observe(
                &format!("{storage} keep {keep}"),
                format!(
                    "{} msgs, seq {}..{}",
                    nfo.state.messages, nfo.state.first_sequence, nfo.state.last_sequence
                ),
            );
            jsc.delete_stream("TEST").await?;
        }
    }
    Ok(())
}

async fn msg_id_collision(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let jsc = js_context(&ctx, &s).await?;
    let mut stream = jsc
        .create_stream(stream::Config {
            name: "TEST".into(),
            subjects: vec!["ORDERS.*".into()],
            ..Default::default()
        })
        .await?;
    // Only the exact Nats-Msg-Id header is a message id.
    let sets: [&[(&str, &str)]; 5] = [
        &[("Nats-Msg-Id", "1")],
        &[("Orig-Nats-Msg-Id", "1")],
        &[("Original-Nats-Msg-Id", "1")],
        &[
            ("Original-Nats-Msg-Id", "1"),
            ("Really-Original-Nats-Msg-Id", "1"),
        ],
        &[("X", "Nats-Msg-Id:1")],
    ];
    let mut seqs = Vec::new();
    for set in sets {
        let mut h = async_nats::HeaderMap::new();
        for (k, v) in set {
            h.insert(*k, *v);
        }
        let pa = jsc
            .publish_with_headers("ORDERS.test", h, "ok".into())
            .await?
            .await
            .with_context(|| format!("publishing with {set:?}"))?;
        seqs.push((pa.sequence, pa.duplicate));
    }
    check_eq!(
        seqs,
        vec![(1, false), (2, false), (3, false), (4, false), (5, false)]
    );
    let si = stream.info().await?;
    check_eq!(si.state.messages, 5);
    ctx.observe("acks", format!("{seqs:?}"));
    Ok(())
}

async fn expect_no_msg(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "KV", "subjects": ["KV.>"], "max_msgs_per_subject": 5}))
        .await
        .context("add stream failed")?;
    check_eq!(js.stored("KV.22", "hello world").await?, 1);
    // No message on KV.33 yet: an expected last subject sequence of 0 holds.
    let expect0 = [("Nats-Expected-Last-Subject-Sequence", "0")];
    let ok = js.ack_h("KV.33", &expect0, b"").await?;
    check_eq!(ok, pub_ack_text("KV", 2));
    // KV.22 has one: refused, with the sequence it has.
    let refused = js.ack_h("KV.22", &expect0, b"").await?;
    ctx.observe("KV.22 expecting 0", &refused);
    let (code, err_code, desc, _) = ack_err(&refused)?;
    check_eq!(
        (code, err_code, desc.as_str()),
        (400, 10071, "wrong last sequence: 1")
    );
    let r = js.purge("KV", "").await?;
    check_eq!((r["success"].clone(), num(&r["purged"])), (json!(true), 2));
    // After the purge it holds again.
    let ok = js.ack_h("KV.22", &expect0, b"").await?;
    check_eq!(ok, pub_ack_text("KV", 3));
    // async-nats sees the refusal as a wrong last sequence.
    let jsc = js_context(&ctx, &s).await?;
    let mut h = async_nats::HeaderMap::new();
    h.insert("Nats-Expected-Last-Subject-Sequence", "0");
    let err = jsc
        .publish_with_headers("KV.22", h, "".into())
        .await?
        .await
        .err()
        .context("expected an error publishing on KV.22 expecting 0")?;
    check_eq!(
        err.kind(),
        async_nats::jetstream::context::PublishErrorKind::WrongLastSequence
    );
    check_eq!(server_error(&err), "400/10071 wrong last sequence: 3");
    Ok(())
}

async fn max_msgs_per_subject(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "TEST", "subjects": ["foo", "bar", "baz.*"],
            "storage": storage, "max_msgs_per_subject": 5}))
            .await?;
        let mut seen = Vec::new();
        let steps: [(&str, usize, u64); 7] = [
            ("foo", 1, 1),
            ("foo", 4, 5),
            // The per-subject limit kicks in.
            ("foo", 2, 5),
            ("baz.22", 5, 10),
            ("baz.33", 5, 15),
            ("baz.22", 5, 15),
            ("baz.33", 5, 15),
        ];
        for (subj, num_msgs, expected) in steps {
            for _ in 0..num_msgs {
                js.stored(subj, "TSLA").await?;
            }
            let msgs = js.msgs("TEST").await?;
            check_eq!(msgs, expected);
            seen.push(msgs);
        }
        // Purge, and the same again.
        js.purge("TEST", "").await?;
        for (subj, num_msgs, expected) in [
            ("foo", 1, 1),
            ("foo", 4, 5),
            ("baz.22", 5, 10),
            ("baz.33", 5, 15),
        ] {
            for _ in 0..num_msgs {
                js.stored(subj, "TSLA").await?;
            }
            let msgs = js.msgs("TEST").await?;
            check_eq!(msgs, expected);
            seen.push(msgs);
        }
        let state = js.info_with("TEST", "{\"subjects_filter\":\">\"}").await?["state"].clone();
        ctx.observe_json(&format!("{storage}: state"), &scrub(&state));
        ctx.observe(&format!("{storage}: counts"), format!("{seen:?}"));
        js.delete_stream("TEST").await?;
    }
    Ok(())
}

async fn per_subject_discard_new(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(
            json!({"name": "TEST", "subjects": ["foo", "bar", "baz", "x"],
            "discard": "new", "storage": storage, "max_msgs_per_subject": 4,
            "max_msgs": 10, "max_bytes": 500}),
        )
        .await?;
        let steps: [(&str, usize, u64); 6] = [
            ("foo", 1, 1),
            // Treated as discard old per subject: only 4 kept.
            ("foo", 4, 4),
            ("bar", 8, 8),
            ("baz", 2, 10),
            // Full, but foo and bar are at their limit: adding replaces.
            ("foo", 1, 10),
            ("bar", 1, 10),
        ];
        for (subj, n, expected) in steps {
            for _ in 0..n {
                js.stored(subj, "TSLA").await?;
            }
            check_eq!(js.msgs("TEST").await?, expected);
        }
        // A large message on bar: dropping bar's oldest does not make room.
        let big = js.ack_h("bar", &[], &[b'X'; 300]).await?;
        ctx.observe(&format!("{storage}: bar 300 bytes"), &big);
        let (code, err_code, desc, _) = ack_err(&big)?;
        check_eq!((code, err_code), (503, 10077));
        ensure!(
            desc == "maximum bytes exceeded" || desc == "maximum messages exceeded",
            "bar 300 bytes: {big}"
        );
        // A new subject when the stream is full.
        let new_subject = js.ack_h("x", &[], b"XX").await?;
        ctx.observe(&format!("{storage}: x"), &new_subject);
        let (code, err_code, desc, _) = ack_err(&new_subject)?;
        check_eq!((code, err_code), (503, 10077));
        ensure!(
            desc == "maximum bytes exceeded" || desc == "maximum messages exceeded",
            "x: {new_subject}"
        );
        js.delete_stream("TEST").await?;
    }
    Ok(())
}

async fn state_timestamps(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "foo", "storage": storage, "subjects": ["foo.*"]}))
            .await?;
        let start = SystemTime::now();
        let delay = Duration::from_millis(250);
        js.stored("foo.bar", "Hello World!").await?;
        tokio::time::sleep(delay).await;
        js.stored("foo.bar", "Hello World Again!").await?;
        let state = js.state("foo").await?;
        let (first, last) = (time_of(&state["first_ts"])?, time_of(&state["last_ts"])?);
        ensure!(
            first >= start,
            "Unexpected first message timestamp: {state}"
        );
        ensure!(
            last >= start + delay,
            "Unexpected last message timestamp: {state}"
        );
        ctx.observe_json(&format!("{storage}: state"), &scrub(&state));
        js.delete_stream("foo").await?;
    }
    Ok(())
}

async fn stream_purge(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "DC", "storage": storage})).await?;
        for _ in 0..100 {
            js.publish("DC", "OK!").await?;
        }
        js.flush().await?;
        check_eq!(js.msgs("DC").await?, 100);
        let r = js.purge("DC", "").await?;
        ctx.observe_json(&format!("{storage}: purge"), &r);
        check_eq!(num(&r["purged"]), 100);
        let state = js.state("DC").await?;
        check_eq!(num(&state["messages"]), 0);
        // The first time is reset.
        check_eq!(state["first_ts"], json!(GO_ZERO_TIME));
        ctx.observe_json(&format!("{storage}: purged state"), &scrub(&state));
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now = SystemTime::now();
        js.publish("DC", "OK!").await?;
        js.flush().await?;
        let state = js.state("DC").await?;
        check_eq!(num(&state["messages"]), 1);
        ensure!(
            time_of(&state["first_ts"])? >= now,
            "First time is incorrect after adding messages back in: {state}"
        );
        check_eq!(state["first_ts"], state["last_ts"]);
        check_eq!(
            (num(&state["first_seq"]), num(&state["last_seq"])),
            (101, 101)
        );
        js.delete_stream("DC").await?;
    }
    Ok(())
}

async fn publish_dedupe(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let mut cfg = json!({"name": "DeDupe", "storage": "file", "max_age": 3_600_000_000_000u64,
        "subjects": ["foo.*"]});
    let r = js.create(cfg.clone()).await?;
    // The default window: two minutes.
    check_eq!(r["config"]["duplicate_window"], json!(120_000_000_000u64));
    // It can not be negative, nor longer than max_age.
    cfg["duplicate_window"] = json!(-25_000_000);
    let r = js.update(&cfg).await?;
    check_eq!(
        api_err(&r),
        (
            500,
            10052,
            "duplicates window can not be negative".to_string()
        )
    );
    cfg["duplicate_window"] = json!(7_200_000_000_000u64);
    let r = js.update(&cfg).await?;
    check_eq!(
        api_err(&r),
        (
            500,
            10052,
            "duplicates window can not be larger then max age".to_string()
        )
    );
    ctx.observe_json("window longer than max_age", &r);

    // Publishes foo.<seq> with a message id; the PubAck must carry `seq`.
    async fn send(js: &mut Js, seq: u64, id: &str) -> Result<String> {
        let ack = js
            .ack_h(
                &format!("foo.{seq}"),
                &[("Nats-Msg-Id", id)],
                b"Hello DeDupe!",
            )
            .await?;
        let v: Value = serde_json::from_str(&ack)?;
        ensure!(
            v.get("error").is_none(),
            "Expected a JetStreamPubAck, got {ack}"
        );
        check_eq!(num(&v["seq"]), seq);
        Ok(ack)
    }
    for (seq, id) in [(1, "AA"), (2, "BB"), (3, "CC"), (4, "ZZ")] {
        send(&mut js, seq, id).await?;
    }
    check_eq!(js.msgs("DeDupe").await?, 4);
    // Duplicates: the PubAck of the first, flagged, and nothing stored.
    let mut dups = Vec::new();
    for (seq, id) in [(1, "AA"), (2, "BB"), (4, "ZZ")] {
        dups.push(send(&mut js, seq, id).await?);
    }
    check_eq!(
        dups[0],
        "{\"stream\":\"DeDupe\", \"seq\":1,\"duplicate\": true}"
    );
    ctx.observe("duplicates", dups.join(" "));
    check_eq!(js.msgs("DeDupe").await?, 4);

    // A window of 100ms: ids are forgotten after it.
    cfg["duplicate_window"] = json!(100_000_000);
    let r = js.update(&cfg).await?;
    check_eq!(api_err(&r).0, 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    for (seq, id) in [(5, "AAA"), (6, "BBB"), (7, "CCC"), (8, "DDD"), (9, "ZZZ")] {
        send(&mut js, seq, id).await?;
    }
    // Eventually all five are forgotten: ZZZ again is a new message.
    tokio::time::sleep(Duration::from_millis(250)).await;
    send(&mut js, 10, "ZZZ").await?;

    // Now a long window, a purge, five new messages and a restart.
    cfg["duplicate_window"] = json!(1_800_000_000_000u64);
    let r = js.update(&cfg).await?;
    check_eq!(api_err(&r).0, 0);
    js.purge("DeDupe", "").await?;
    let ids = [
        (11, "AAAA"),
        (12, "BBBB"),
        (13, "CCCC"),
        (14, "DDDD"),
        (15, "EEEE"),
    ];
    for (seq, id) in ids {
        send(&mut js, seq, id).await?;
    }
    drop(js);
    s.restart().await?;
    let mut js = Js::connect(&ctx, &s).await?;
    check_eq!(js.msgs("DeDupe").await?, 5);
    // The ids survived the restart: the same five are duplicates.
    for (seq, id) in ids {
        let ack = send(&mut js, seq, id).await?;
        check_eq!(
            ack,
            format!("{{\"stream\":\"DeDupe\", \"seq\":{seq},\"duplicate\": true}}")
        );
    }
    check_eq!(js.msgs("DeDupe").await?, 5);
    // A purge does not wipe the ids.
    js.purge("DeDupe", "").await?;
    let ack = send(&mut js, 11, "AAAA").await?;
    check_eq!(
        ack,
        "{\"stream\":\"DeDupe\", \"seq\":11,\"duplicate\": true}"
    );
    // async-nats reads the flag.
    let jsc = js_context(&ctx, &s).await?;
    let mut h = async_nats::HeaderMap::new();
    h.insert("Nats-Msg-Id", "BBBB");
    let pa = jsc
        .publish_with_headers("foo.12", h, "Hello DeDupe!".into())
        .await?
        .await?;
    check_eq!((pa.sequence, pa.duplicate), (12, true));
    Ok(())
}

async fn publish_expect(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(
        json!({"name": "EXPECT", "storage": "file", "max_age": 3_600_000_000_000u64,
        "subjects": ["foo.*"]}),
    )
    .await?;
    // The right expected stream.
    let ack = js
        .ack_h("foo.bar", &[("Nats-Expected-Stream", "EXPECT")], b"HELLO")
        .await?;
    check_eq!(ack, pub_ack_text("EXPECT", 1));
    // Another stream.
    let ack = js
        .ack_h("foo.bar", &[("Nats-Expected-Stream", "ORDERS")], b"HELLO")
        .await?;
    ctx.observe("expected stream ORDERS", &ack);
    let (code, err_code, desc, stream) = ack_err(&ack)?;
    check_eq!(
        (code, err_code, desc.as_str(), stream.as_str()),
        (400, 10060, "expected stream does not match", "EXPECT")
    );
    // Another last sequence.
    let ack = js
        .ack_h(
            "foo.bar",
            &[
                ("Nats-Expected-Stream", "EXPECT"),
                ("Nats-Expected-Last-Sequence", "10"),
            ],
            b"HELLO",
        )
        .await?;
    ctx.observe("expected last sequence 10", &ack);
    let (code, err_code, desc, _) = ack_err(&ack)?;
    check_eq!(
        (code, err_code, desc.as_str()),
        (400, 10071, "wrong last sequence: 1")
    );
    // Expecting no messages at all.
    let ack = js
        .ack_h(
            "foo.bar",
            &[
                ("Nats-Expected-Stream", "EXPECT"),
                ("Nats-Expected-Last-Sequence", "0"),
            ],
            b"HELLO",
        )
        .await?;
    let (code, err_code, desc, _) = ack_err(&ack)?;
    check_eq!(
        (code, err_code, desc.as_str()),
        (400, 10071, "wrong last sequence: 1")
    );
    // A message id, then another expecting the last id to be BBB.
    let ack = js
        .ack_h("foo.bar", &[("Nats-Msg-Id", "AAA")], b"HELLO")
        .await?;
    check_eq!(ack, pub_ack_text("EXPECT", 2));
    let ack = js
        .ack_h(
            "foo.bar",
            &[("Nats-Msg-Id", "ZZZ"), ("Nats-Expected-Last-Msg-Id", "BBB")],
            b"HELLO",
        )
        .await?;
    ctx.observe("expected last msg id BBB", &ack);
    let (code, err_code, desc, _) = ack_err(&ack)?;
    check_eq!(
        (code, err_code, desc.as_str()),
        (400, 10070, "wrong last msg ID: AAA")
    );
    // After a restart the last sequence (2) and last id (AAA) are rebuilt.
    drop(js);
    s.restart().await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let ack = js
        .ack_h(
            "foo.baz",
            &[
                ("Nats-Expected-Last-Sequence", "2"),
                ("Nats-Expected-Last-Msg-Id", "AAA"),
                ("Nats-Msg-Id", "BBB"),
            ],
            b"HELLO AGAIN",
        )
        .await?;
    check_eq!(ack, pub_ack_text("EXPECT", 3));
    Ok(())
}
