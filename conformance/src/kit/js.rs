//! The JetStream client of the scenarios: a raw connection that sends the
//! JetStream API requests and publishes a Go test makes and reads their
//! replies byte for byte, the helpers that read its responses (errors,
//! PubAcks, states, times), and servers with JetStream on. async-nats'
//! own JetStream API is there too, for scenarios that go through it.

use super::{Ctx, Msg, Op, RawClient, Server, ServerSpec};
use anyhow::{anyhow, bail, ensure, Context, Result};
use async_nats::jetstream;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// The JetStream block of a server's config: its store in the server's folder.
pub const JS_CONF: &str = "jetstream { store_dir: \"{{dir}}/js\" }\n";

/// The two storage types, as the API spells them.
pub const STORAGES: [&str; 2] = ["memory", "file"];

/// A server with JetStream (and `extra` config after it).
pub async fn js_server_with(ctx: &Ctx, extra: &str) -> Result<Server> {
    ctx.server(ServerSpec::new().conf(&format!("{JS_CONF}{extra}")))
        .await
}

pub async fn js_server(ctx: &Ctx) -> Result<Server> {
    js_server_with(ctx, "").await
}

/// The folder of stream `name` of the global account in the store of a
/// server started with [`JS_CONF`].
pub fn stream_dir(s: &Server, name: &str) -> PathBuf {
    s.dir()
        .join("js")
        .join("jetstream")
        .join("$G")
        .join("streams")
        .join(name)
}

/// A key-value bucket keeping `history` values a key, made as nats.go 1.x
/// makes it for a 2.9 server (async-nats' own `create_key_value` first
/// reads the account's info in 2.10's shape, which 2.9.10 does not give),
/// then opened through async-nats' KV API.
pub async fn kv_bucket(
    js: &jetstream::Context,
    bucket: &str,
    history: i64,
) -> Result<jetstream::kv::Store> {
    use jetstream::stream;
    js.create_stream(stream::Config {
        name: format!("KV_{bucket}"),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: history,
        discard: stream::DiscardPolicy::New,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await?;
    Ok(js.get_key_value(bucket).await?)
}

/// Where a [`Js`] connection gets its replies.
const INBOX: &str = "_INBOX.parity";

/// A raw connection that speaks headers and has an inbox for replies: the
/// JetStream API and PubAcks byte for byte.
pub struct Js {
    c: RawClient,
    n: u64,
    /// Messages of the connection's other subscriptions that arrived while it
    /// waited for a reply, in order.
    pub others: Vec<Msg>,
}

impl Js {
    pub async fn connect(ctx: &Ctx, s: &Server) -> Result<Js> {
        Self::connect_with(ctx, s, "").await
    }

    /// A connection that asks for no-responders statuses: a request nobody
    /// listens to is answered with `NATS/1.0 503` (see [`Reply::Status`]).
    pub async fn connect_no_responders(ctx: &Ctx, s: &Server) -> Result<Js> {
        Self::connect_with(ctx, s, ",\"no_responders\":true").await
    }

    /// [`Js::connect_no_responders`] as `user` with password `pass`.
    pub async fn user(ctx: &Ctx, s: &Server, user: &str, pass: &str) -> Result<Js> {
        Self::connect_with(
            ctx,
            s,
            &format!(",\"no_responders\":true,\"user\":\"{user}\",\"pass\":\"{pass}\""),
        )
        .await
    }

    /// `extra` is appended to the CONNECT's fields (`,"user":"u",...`).
    pub async fn connect_with(ctx: &Ctx, s: &Server, extra: &str) -> Result<Js> {
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

    /// The connection itself, for what the client does not wrap.
    pub fn conn(&mut self) -> &mut RawClient {
        &mut self.c
    }

    /// Subscribes `subject` with `sid` (confirmed by a PONG).
    pub async fn sub(&mut self, subject: &str, sid: &str) -> Result<()> {
        self.c.send(&format!("SUB {subject} {sid}\r\n")).await?;
        self.flush().await
    }

    /// PING/PONG; the messages that arrive before the PONG go to `others`.
    pub async fn flush(&mut self) -> Result<()> {
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
    pub async fn send(
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
    pub async fn publish(&mut self, subject: &str, payload: &str) -> Result<()> {
        self.send(subject, None, &[], payload.as_bytes()).await
    }

    fn next_reply(&mut self) -> String {
        self.n += 1;
        format!("{INBOX}.{}", self.n)
    }

    /// Sends a request and returns its reply (other messages go to `others`).
    pub async fn request_msg(
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
    pub async fn no_reply(
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

    /// A request given up to `wait` for its reply: other messages go to
    /// `others`, PINGs are answered, `-ERR`s are skipped.
    pub async fn ask_h(
        &mut self,
        subject: &str,
        headers: &[(&str, &str)],
        payload: &[u8],
        wait: Duration,
    ) -> Result<Reply> {
        let reply = self.next_reply();
        self.send(subject, Some(&reply), headers, payload).await?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let op = match tokio::time::timeout_at(deadline, self.c.read_op()).await {
                Err(_) => return Ok(Reply::Nothing),
                Ok(op) => op?,
            };
            match op {
                Op::Msg(m) if m.subject == reply => return Ok(Reply::of(m)),
                Op::Msg(m) => self.others.push(m),
                Op::Ping => self.c.send("PONG\r\n").await?,
                _ => {}
            }
        }
    }

    /// [`Js::ask_h`] without headers.
    pub async fn ask(&mut self, subject: &str, payload: &str, wait: Duration) -> Result<Reply> {
        self.ask_h(subject, &[], payload.as_bytes(), wait).await
    }

    /// Sends every `(subject, payload)` as requests at once, then reads
    /// their replies (all within 10 seconds): returned in the order sent.
    /// Other messages go to `others`, `-ERR`s are skipped.
    pub async fn many(&mut self, reqs: &[(String, String)]) -> Result<Vec<Reply>> {
        let mut pending: HashMap<String, usize> = HashMap::new();
        let mut batch = String::new();
        for (i, (subject, payload)) in reqs.iter().enumerate() {
            let reply = self.next_reply();
            batch.push_str(&format!(
                "PUB {subject} {reply} {}\r\n{payload}\r\n",
                payload.len()
            ));
            pending.insert(reply, i);
            if batch.len() > 32 * 1024 {
                self.c.send(&batch).await?;
                batch.clear();
            }
        }
        self.c.send(&batch).await?;
        let mut out = vec![Reply::Nothing; reqs.len()];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !pending.is_empty() {
            let op = tokio::time::timeout_at(deadline, self.c.read_op())
                .await
                .map_err(|_| anyhow!("{} requests still unanswered", pending.len()))??;
            match op {
                Op::Msg(m) => match pending.remove(&m.subject) {
                    Some(i) => out[i] = Reply::of(m),
                    None => self.others.push(m),
                },
                Op::Ping => self.c.send("PONG\r\n").await?,
                _ => {}
            }
        }
        Ok(out)
    }

    /// The text of the reply to a message published on a stream's subject:
    /// a PubAck or its error, exactly as the server wrote it.
    pub async fn ack_h(
        &mut self,
        subject: &str,
        headers: &[(&str, &str)],
        payload: &[u8],
    ) -> Result<String> {
        let m = self.request_msg(subject, headers, payload).await?;
        Ok(String::from_utf8_lossy(&m.payload).into_owned())
    }

    pub async fn ack(&mut self, subject: &str, payload: &str) -> Result<String> {
        self.ack_h(subject, &[], payload.as_bytes()).await
    }

    /// Publishes and requires a PubAck without error; returns its sequence.
    pub async fn stored_h(
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

    pub async fn stored(&mut self, subject: &str, payload: &str) -> Result<u64> {
        self.stored_h(subject, &[], payload.as_bytes()).await
    }

    /// A JetStream API request: its JSON response.
    pub async fn api(&mut self, subject: &str, body: &str) -> Result<Value> {
        let m = self.request_msg(subject, &[], body.as_bytes()).await?;
        serde_json::from_slice(&m.payload).with_context(|| {
            format!(
                "{subject}: not JSON: {}",
                String::from_utf8_lossy(&m.payload)
            )
        })
    }

    /// `$JS.API.STREAM.CREATE.<name>` of `cfg`: the response, whatever it is.
    pub async fn try_create(&mut self, cfg: &Value) -> Result<Value> {
        let name = cfg["name"].as_str().context("config without name")?;
        self.api(&format!("$JS.API.STREAM.CREATE.{name}"), &cfg.to_string())
            .await
    }

    /// Creates a stream, which must succeed; returns the response.
    pub async fn create(&mut self, cfg: Value) -> Result<Value> {
        let r = self.try_create(&cfg).await?;
        ensure!(r.get("error").is_none(), "creating stream {cfg}: {r}");
        Ok(r)
    }

    /// `$JS.API.STREAM.UPDATE.<name>` of `cfg`: the response.
    pub async fn update(&mut self, cfg: &Value) -> Result<Value> {
        let name = cfg["name"].as_str().context("config without name")?;
        self.api(&format!("$JS.API.STREAM.UPDATE.{name}"), &cfg.to_string())
            .await
    }

    pub async fn delete_stream(&mut self, name: &str) -> Result<Value> {
        self.api(&format!("$JS.API.STREAM.DELETE.{name}"), "").await
    }

    /// `$JS.API.STREAM.INFO.<name>` with `body`; it must not be an error.
    pub async fn info_with(&mut self, name: &str, body: &str) -> Result<Value> {
        let r = self
            .api(&format!("$JS.API.STREAM.INFO.{name}"), body)
            .await?;
        ensure!(r.get("error").is_none(), "info of {name}: {r}");
        Ok(r)
    }

    pub async fn info(&mut self, name: &str) -> Result<Value> {
        self.info_with(name, "").await
    }

    /// The `state` of a stream's info.
    pub async fn state(&mut self, name: &str) -> Result<Value> {
        Ok(self.info(name).await?["state"].clone())
    }

    /// `state.messages` of a stream.
    pub async fn msgs(&mut self, name: &str) -> Result<u64> {
        Ok(num(&self.state(name).await?["messages"]))
    }

    /// `$JS.API.STREAM.PURGE.<name>` with `body`.
    pub async fn purge(&mut self, name: &str, body: &str) -> Result<Value> {
        self.api(&format!("$JS.API.STREAM.PURGE.{name}"), body)
            .await
    }

    /// `$JS.API.STREAM.MSG.GET.<name>` with `body`.
    pub async fn msg_get(&mut self, name: &str, body: &str) -> Result<Value> {
        self.api(&format!("$JS.API.STREAM.MSG.GET.{name}"), body)
            .await
    }

    /// `$JS.API.STREAM.MSG.DELETE.<name>` with `body`.
    pub async fn msg_delete(&mut self, name: &str, body: &str) -> Result<Value> {
        self.api(&format!("$JS.API.STREAM.MSG.DELETE.{name}"), body)
            .await
    }

    /// Sends PING and returns the messages the other subscriptions got
    /// until its PONG, with those already set aside; empties `others`.
    pub async fn take_others(&mut self) -> Result<Vec<Msg>> {
        self.flush().await?;
        Ok(std::mem::take(&mut self.others))
    }
}

/// What came back for a timed request ([`Js::ask`], [`Js::many`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A message with no headers: the payload.
    Body(String),
    /// A status message (headers only): its first line, e.g. `NATS/1.0 503`
    /// for no responders.
    Status(String),
    /// Nothing within the wait.
    Nothing,
}

impl Reply {
    fn of(m: Msg) -> Reply {
        match m.headers {
            Some(h) if m.payload.is_empty() => Reply::Status(
                String::from_utf8_lossy(&h)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            ),
            _ => Reply::Body(String::from_utf8_lossy(&m.payload).into_owned()),
        }
    }

    /// The JSON of a body; fails for a status or nothing.
    pub fn json(&self) -> Result<Value> {
        match self {
            Reply::Body(b) => serde_json::from_str(b).with_context(|| format!("not JSON: {b}")),
            other => bail!("expected a body, got {other:?}"),
        }
    }
}

/// `NATS/1.0` and one `Name: value` line per header, then the blank line.
pub fn header_block(headers: &[(&str, &str)]) -> String {
    let mut h = String::from("NATS/1.0\r\n");
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h
}

/// A number of a JSON response; a missing one reads as `u64::MAX`, which no
/// check expects.
pub fn num(v: &Value) -> u64 {
    v.as_u64().unwrap_or(u64::MAX)
}

/// `(code, err_code, description)` of an API response's or PubAck's error;
/// `(0, 0, "")` when it has none.
pub fn api_err(v: &Value) -> (u64, u64, String) {
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

/// A response's error as `code err_code description`, or `none`.
pub fn api_error(v: &Value) -> String {
    match v.get("error") {
        None => "none".to_string(),
        Some(e) => format!(
            "{} {} {}",
            e["code"],
            e["err_code"],
            e["description"].as_str().unwrap_or_default()
        ),
    }
}

/// Whether a pulled message is a status (`NATS/1.0 408 Request Timeout`,
/// `404 No Messages`, ...) rather than a delivered message, which has a
/// reply subject and whose header block, when it has one (a sourced or
/// republished message, even with an empty payload), starts `NATS/1.0\r\n`.
pub fn is_status(m: &Msg) -> bool {
    m.reply.is_none()
        && m.headers
            .as_ref()
            .is_some_and(|h| h.starts_with(b"NATS/1.0 "))
}

/// The error of a PubAck's text (see [`api_err`]) and its `stream`.
pub fn ack_err(text: &str) -> Result<(u64, u64, String, String)> {
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
pub fn pub_ack_text(stream: &str, seq: u64) -> String {
    format!("{{\"stream\":\"{stream}\", \"seq\":{seq}}}")
}

/// Fields whose values are times: recorded only as `<zero>` (Go's zero time)
/// or `<time>`.
const TIME_FIELDS: [&str; 4] = ["created", "first_ts", "last_ts", "time"];

/// A response with its times reduced to set or zero, for observations.
pub fn scrub(v: &Value) -> Value {
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
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A time of a response (RFC 3339 in UTC, as Go writes it).
pub fn time_of(v: &Value) -> Result<SystemTime> {
    let t = v.as_str().with_context(|| format!("not a time: {v}"))?;
    humantime::parse_rfc3339(t).with_context(|| format!("not an RFC 3339 time: {t}"))
}

/// Go's `base64.StdEncoding` (how `[]byte` fields are written in JSON).
pub fn b64(data: &[u8]) -> String {
    let mut s = crate::kit::b64url(data).replace('-', "+").replace('_', "/");
    while !s.len().is_multiple_of(4) {
        s.push('=');
    }
    s
}

/// The value of header `name` in a raw header block.
pub fn header<'a>(block: &'a str, name: &str) -> Option<&'a str> {
    block
        .split("\r\n")
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
}

/// The header block of a message as text (empty when it had none).
pub fn headers_of(m: &Msg) -> String {
    m.headers
        .as_deref()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .unwrap_or_default()
}

/// A header block with its `Nats-Time-Stamp` value masked, for observations.
pub fn mask_stamp(block: &str) -> String {
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
pub async fn js_context(ctx: &Ctx, s: &Server) -> Result<jetstream::Context> {
    Ok(jetstream::new(ctx.client(s).await?))
}

/// The server's error carried by an async-nats error, as `code/err_code
/// description`, or the error's own text when it carries none.
pub fn server_error(e: &(dyn std::error::Error + 'static)) -> String {
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
    // Errors whose kind holds the server's error show it in their text.
    let text = e.to_string();
    let text = text.strip_prefix("jetstream error: ").unwrap_or(&text);
    match regex::Regex::new(r"^(.*) \(code (\d+), error code (\d+)\)$")
        .expect("valid regex")
        .captures(text)
    {
        Some(c) => format!("{}/{} {}", &c[2], &c[3], &c[1]),
        None => text.to_string(),
    }
}

/// The inbox (and its sid) a scenario subscribes before [`pull_one`].
pub const PULL_INBOX: &str = "pull.in";
pub const PULL_SID: &str = "50";

/// Pulls one message of a durable, as Go's tests do with
/// `nc.Request(o.requestNextMsgSubject(), nil, wait)`: the reply subject
/// is [`PULL_INBOX`], which must be subscribed with [`PULL_SID`]; the
/// message keeps its stream subject, so it is told by its subscription.
/// Messages of other subscriptions read meanwhile go to `js.others`.
pub async fn pull_one(js: &mut Js, stream: &str, consumer: &str, wait: Duration) -> Result<Msg> {
    js.send(
        &format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"),
        Some(PULL_INBOX),
        &[],
        b"",
    )
    .await?;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Some(i) = js.others.iter().position(|m| m.sid == PULL_SID) {
            return Ok(js.others.remove(i));
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "no message pulled within {wait:?}"
        );
        match js.conn().read_op().await? {
            Op::Msg(m) if m.sid == PULL_SID => return Ok(m),
            Op::Msg(m) => js.others.push(m),
            Op::Ping => js.conn().send("PONG\r\n").await?,
            _ => {}
        }
    }
}
