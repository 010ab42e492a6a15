//! A load generator of our own that speaks the raw client protocol, so that a
//! benchmark measures the server and not a client library.

use super::ws::WsLayer;
use anyhow::{anyhow, bail, Context, Result};
use bytes::{Buf, BytesMut};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long any one workload may take before it counts as stuck.
const WORKLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// How a bench connection reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Tcp,
    /// WebSocket, with permessage-deflate when `compress`.
    Ws {
        compress: bool,
    },
}

/// A raw connection that has read INFO and sent CONNECT.
pub struct Conn {
    stream: TcpStream,
    /// The framing, when the connection is a WebSocket.
    ws: Option<WsLayer>,
    /// The client protocol's bytes read and not parsed yet.
    buf: BytesMut,
    /// Look into each payload for a JSON `"error"` (JetStream answers); off
    /// elsewhere, so that plain subscribers read at full speed.
    scan_errors: bool,
    /// Keep the payload of the last message read in `payload` (for the
    /// few JetStream answers a row reads, never for a stream of messages).
    keep_payload: bool,
    payload: Vec<u8>,
}

impl Conn {
    pub async fn open(addr: &str) -> Result<Conn> {
        Self::open_as(addr, None).await
    }

    /// A connection that logs in as `user` (password: the same) when given.
    pub async fn open_as(addr: &str, user: Option<&str>) -> Result<Conn> {
        Self::open_with(addr, user, false, Via::Tcp).await
    }

    /// A connection that says it reads headers: JetStream's status messages
    /// (flow control, heartbeats, pull statuses) and direct gets come as HMSG.
    pub async fn open_headers(addr: &str) -> Result<Conn> {
        Self::open_with(addr, None, true, Via::Tcp).await
    }

    /// A connection over `via`.
    pub async fn open_via(addr: &str, via: Via) -> Result<Conn> {
        Self::open_with(addr, None, false, via).await
    }

    async fn open_with(addr: &str, user: Option<&str>, headers: bool, via: Via) -> Result<Conn> {
        let mut stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect {addr}"))?;
        stream.set_nodelay(true)?;
        let ws = match via {
            Via::Tcp => None,
            Via::Ws { compress } => Some(super::ws::upgrade(&mut stream, addr, compress).await?),
        };
        let mut c = Conn {
            stream,
            ws,
            buf: BytesMut::with_capacity(256 * 1024),
            scan_errors: false,
            keep_payload: false,
            payload: Vec::new(),
        };
        if let Some(ws) = &mut c.ws {
            // Frames the upgrade read past its response.
            ws.decode(&mut c.buf)?;
        }
        c.read_line().await?; // INFO
        let login = user.map_or(String::new(), |u| {
            format!(",\"user\":\"{u}\",\"pass\":\"{u}\"")
        });
        let headers = if headers { ",\"headers\":true" } else { "" };
        let connect = format!(
            "CONNECT {{\"verbose\":false,\"pedantic\":false,\"echo\":false{login}{headers}}}\r\n"
        );
        c.write(connect.as_bytes()).await?;
        Ok(c)
    }

    async fn fill(&mut self) -> Result<()> {
        let n = match &mut self.ws {
            None => self.stream.read_buf(&mut self.buf).await?,
            Some(ws) => {
                let n = self.stream.read_buf(&mut ws.raw).await?;
                ws.decode(&mut self.buf)?;
                n
            }
        };
        if n == 0 {
            bail!("server closed the connection");
        }
        Ok(())
    }

    async fn read_line(&mut self) -> Result<String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.advance(i + 2);
                return Ok(line);
            }
            self.fill().await?;
        }
    }

    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        match &self.ws {
            None => self.stream.write_all(bytes).await?,
            Some(ws) => self.stream.write_all(&ws.frame(bytes)).await?,
        }
        Ok(())
    }

    /// `bytes` as this connection sends them: framed once, for a
    /// publisher that sends the same batch again and again.
    fn wire(&self, bytes: &[u8]) -> Vec<u8> {
        match &self.ws {
            None => bytes.to_vec(),
            Some(ws) => ws.frame(bytes),
        }
    }

    /// PING and wait for the PONG, counting messages that arrive before it.
    pub async fn round_trip(&mut self) -> Result<u64> {
        self.write(b"PING\r\n").await?;
        let mut msgs = 0;
        loop {
            match self.next_event().await? {
                Event::Pong => return Ok(msgs),
                Event::Msg { .. } => msgs += 1,
            }
        }
    }

    /// The next MSG or PONG; answers PINGs; fails on -ERR.
    async fn next_event(&mut self) -> Result<Event> {
        loop {
            if let Some(ev) = self.parse_event()? {
                match ev {
                    Parsed::Event(e) => return Ok(e),
                    Parsed::Ping => self.write(b"PONG\r\n").await?,
                }
                continue;
            }
            self.fill().await?;
        }
    }

    /// The next MSG or PONG already read, if any (answers PINGs).
    async fn buffered_event(&mut self) -> Result<Option<Event>> {
        while let Some(p) = self.parse_event()? {
            match p {
                Parsed::Event(e) => return Ok(Some(e)),
                Parsed::Ping => self.write(b"PONG\r\n").await?,
            }
        }
        Ok(None)
    }

    fn parse_event(&mut self) -> Result<Option<Parsed>> {
        let Some(eol) = self.buf.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = &self.buf[..eol];
        let headers = line.starts_with(b"HMSG ");
        if headers || line.starts_with(b"MSG ") {
            let text = std::str::from_utf8(line)?;
            let mut parts = text.split(' ');
            let _ = parts.next();
            let _subject = parts.next();
            let _sid = parts.next();
            let rest: Vec<&str> = parts.collect();
            let size: usize = rest.last().context("MSG without size")?.parse()?;
            // MSG: [reply] size; HMSG: [reply] header-size size.
            let sizes = if headers { 2 } else { 1 };
            let reply = (rest.len() == sizes + 1).then(|| rest[0].to_string());
            if self.buf.len() < eol + 2 + size + 2 {
                return Ok(None);
            }
            let payload = &self.buf[eol + 2..eol + 2 + size];
            let error = self.scan_errors && payload.windows(7).any(|w| w == b"\"error\"");
            let status = if headers { status_code(payload) } else { None };
            if self.keep_payload {
                self.payload = payload.to_vec();
            }
            self.buf.advance(eol + 2 + size + 2);
            return Ok(Some(Parsed::Event(Event::Msg {
                reply,
                error,
                status,
            })));
        }
        let parsed = match line {
            b"PONG" => Parsed::Event(Event::Pong),
            b"PING" => Parsed::Ping,
            l if l.starts_with(b"-ERR") => bail!("{}", String::from_utf8_lossy(l)),
            _ => {
                // +OK, INFO updates: nothing to count.
                self.buf.advance(eol + 2);
                return self.parse_event();
            }
        };
        self.buf.advance(eol + 2);
        Ok(Some(parsed))
    }

    /// Waits until `n` messages have arrived.
    pub async fn receive(&mut self, n: u64) -> Result<()> {
        self.receive_ok(n).await.map(|_| ())
    }

    /// Waits until `n` messages have arrived; how many were errors.
    async fn receive_ok(&mut self, n: u64) -> Result<u64> {
        let (mut got, mut errors) = (0, 0);
        while got < n {
            if let Event::Msg { error, .. } = self.next_event().await? {
                got += 1;
                errors += u64::from(error);
            }
        }
        Ok(errors)
    }
}

enum Event {
    /// A message; `error` when its payload holds a JSON `"error"` (a
    /// refused JetStream publish or request); `status` when it is a status
    /// message (`NATS/1.0 100 Idle Heartbeat`, `NATS/1.0 404 No Messages`).
    Msg {
        reply: Option<String>,
        error: bool,
        status: Option<u16>,
    },
    Pong,
}

/// The status code of a header block's first line (`NATS/1.0 408 ...`).
fn status_code(block: &[u8]) -> Option<u16> {
    let line = block.split(|&b| b == b'\r').next()?;
    let rest = line.strip_prefix(b"NATS/1.0 ")?;
    std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()
}

enum Parsed {
    Event(Event),
    Ping,
}

/// `size` bytes of words, the same each time: a payload that deflates
/// about as well as text does (a run of one letter would vanish).
fn text_payload(size: usize) -> Vec<u8> {
    const WORDS: [&[u8]; 8] = [
        b"order ",
        b"id:4711 ",
        b"price ",
        b"12.50 ",
        b"\"status\":",
        b"shipped ",
        b"eu-west ",
        b"qty=3 ",
    ];
    let mut state: u32 = 0x9e37_79b9;
    let mut out = Vec::with_capacity(size + 16);
    while out.len() < size {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        out.extend_from_slice(WORDS[(state % 8) as usize]);
        out.push(b'a' + (state >> 8) as u8 % 26);
    }
    out.truncate(size);
    out
}

/// `count` PUB frames of `size` bytes on `subject`, cut into ~64 KiB writes.
fn pub_chunks(subject: &str, size: usize, count: u64) -> (Vec<u8>, u64, u64) {
    let mut frame = format!("PUB {subject} {size}\r\n").into_bytes();
    frame.extend_from_slice(&text_payload(size));
    frame.extend_from_slice(b"\r\n");
    let per_chunk = (64 * 1024 / frame.len()).max(1) as u64;
    let chunk = frame.repeat(per_chunk as usize);
    (chunk, per_chunk, count.div_ceil(per_chunk))
}

async fn publish(c: &mut Conn, subject: &str, size: usize, count: u64) -> Result<u64> {
    let (chunk, per_chunk, chunks) = pub_chunks(subject, size, count);
    let wire = c.wire(&chunk);
    for _ in 0..chunks {
        c.stream.write_all(&wire).await?;
    }
    Ok(per_chunk * chunks)
}

async fn bounded<T>(what: &str, f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    bounded_for(WORKLOAD_TIMEOUT, what, f).await
}

/// `f`, failed with an error naming `what` if it takes longer than `limit`.
pub async fn bounded_for<T>(
    limit: Duration,
    what: &str,
    f: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(limit, f)
        .await
        .map_err(|_| anyhow!("{what} did not finish within {limit:?}"))?
}

/// Publishes `count` messages; msgs/s until the server has read them all.
pub async fn publish_only(addr: &str, size: usize, count: u64) -> Result<f64> {
    bounded("publish", async {
        let mut c = Conn::open(addr).await?;
        c.round_trip().await?;
        let start = Instant::now();
        let sent = publish(&mut c, "bench.pub", size, count).await?;
        c.round_trip().await?;
        Ok(sent as f64 / start.elapsed().as_secs_f64())
    })
    .await
}

/// One publisher, `subs` subscribers (members of one queue group when
/// `queue` is set), all connected `via` the same way: messages delivered
/// per second, over all subscribers.
pub async fn pub_sub(
    addr: &str,
    via: Via,
    size: usize,
    count: u64,
    subs: usize,
    queue: bool,
) -> Result<f64> {
    bounded("publish/subscribe", async {
        let (done_tx, done_rx) = tokio::sync::watch::channel(false);
        let mut receivers = Vec::with_capacity(subs);
        for _ in 0..subs {
            let mut s = Conn::open_via(addr, via).await?;
            let sub = if queue {
                "SUB bench.s q 1\r\n"
            } else {
                "SUB bench.s 1\r\n"
            };
            s.write(sub.as_bytes()).await?;
            s.round_trip().await?;
            receivers.push(tokio::spawn(drain_until_done(s, done_rx.clone())));
        }
        let mut p = Conn::open_via(addr, via).await?;
        p.round_trip().await?;
        let start = Instant::now();
        let sent = publish(&mut p, "bench.s", size, count).await?;
        // Once the publisher's PONG is back, every message is in some
        // subscriber's outbound queue, ahead of the PONG each will ask for.
        p.round_trip().await?;
        done_tx.send(true)?;
        let mut delivered = 0;
        for r in receivers {
            delivered += r.await??;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let want = if queue { sent } else { sent * subs as u64 };
        if delivered != want {
            bail!("delivered {delivered} of {want} messages");
        }
        Ok(delivered as f64 / elapsed)
    })
    .await
}

/// Counts messages until told the publisher is done, then until the PONG of
/// its own PING.
async fn drain_until_done(
    mut s: Conn,
    mut done: tokio::sync::watch::Receiver<bool>,
) -> Result<u64> {
    let mut got = 0;
    loop {
        tokio::select! {
            ev = s.next_event() => {
                if let Event::Msg { .. } = ev? {
                    got += 1;
                }
            }
            _ = done.wait_for(|d| *d) => break,
        }
    }
    Ok(got + s.round_trip().await?)
}

/// Answers every request with `ok` until the connection ends.
async fn serve_requests(mut responder: Conn) -> Result<()> {
    loop {
        if let Event::Msg {
            reply: Some(reply), ..
        } = responder.next_event().await?
        {
            responder
                .write(format!("PUB {reply} 2\r\nok\r\n").as_bytes())
                .await?;
        }
    }
}

/// Who answers and who asks, when they log in as users of two accounts
/// (the request then crosses a service import).
pub struct Parties {
    pub responder: Option<&'static str>,
    pub requester: Option<&'static str>,
}

/// Sequential request/reply round trips: latencies in microseconds, sorted.
pub async fn request_reply(addr: &str, count: usize, parties: &Parties) -> Result<Vec<f64>> {
    bounded("request/reply", async {
        let mut responder = Conn::open_as(addr, parties.responder).await?;
        responder.write(b"SUB bench.svc 1\r\n").await?;
        responder.round_trip().await?;
        let serve = tokio::spawn(serve_requests(responder));
        let mut requester = Conn::open_as(addr, parties.requester).await?;
        requester.write(b"SUB bench.inbox 1\r\n").await?;
        requester.round_trip().await?;
        let mut latencies = Vec::with_capacity(count);
        for _ in 0..count {
            let start = Instant::now();
            requester
                .write(b"PUB bench.svc bench.inbox 2\r\nhi\r\n")
                .await?;
            requester.receive(1).await?;
            latencies.push(start.elapsed().as_secs_f64() * 1e6);
        }
        serve.abort();
        latencies.sort_by(|a, b| a.total_cmp(b));
        Ok(latencies)
    })
    .await
}

/// Opens `conns` clients with `subs` subscriptions each, all at once in
/// batches; returns the time to have them all registered, and the
/// connections, which the caller holds while it measures memory.
pub async fn many_connections(addr: &str, conns: usize, subs: usize) -> Result<(f64, Vec<Conn>)> {
    bounded("many connections", async {
        let start = Instant::now();
        let mut all = Vec::with_capacity(conns);
        for batch in (0..conns).collect::<Vec<_>>().chunks(100) {
            let opened = futures::future::try_join_all(batch.iter().map(|i| async move {
                let mut c = Conn::open(addr).await?;
                let mut proto = String::new();
                for s in 0..subs {
                    proto.push_str(&format!("SUB idle.{i}.{s} {s}\r\n"));
                }
                c.write(proto.as_bytes()).await?;
                c.round_trip().await?;
                Ok::<Conn, anyhow::Error>(c)
            }))
            .await?;
            all.extend(opened);
        }
        Ok((start.elapsed().as_secs_f64() * 1e3, all))
    })
    .await
}

/// Where a JetStream row's stream keeps its messages.
#[derive(Debug, Clone, Copy)]
pub enum Storage {
    File,
    Memory,
}

/// How long a JetStream row waits for any one answer or message before it
/// gives up (a server without consumers answers nothing, or an error).
const STEP: Duration = Duration::from_secs(10);

/// `f`, given up after `wait` with an error naming `what`.
async fn within<T>(
    wait: Duration,
    what: &str,
    f: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(wait, f)
        .await
        .map_err(|_| anyhow!("no {what} within {wait:?}"))?
}

impl Storage {
    fn as_str(self) -> &'static str {
        match self {
            Storage::File => "file",
            Storage::Memory => "memory",
        }
    }
}

/// A connection for JetStream API requests: replies come to `bench.api`
/// and are looked into for errors.
async fn api_conn(addr: &str) -> Result<Conn> {
    let mut c = Conn::open_headers(addr).await?;
    c.scan_errors = true;
    c.write(b"SUB bench.api 1\r\n").await?;
    c.round_trip().await?;
    Ok(c)
}

/// A JetStream API request on an [`api_conn`]: fails on an error answer or
/// on no answer within [`STEP`].
async fn api(c: &mut Conn, subject: &str, body: &str) -> Result<()> {
    let req = format!("PUB {subject} bench.api {}\r\n{body}\r\n", body.len());
    c.write(req.as_bytes()).await?;
    let errors = within(STEP, &format!("answer to {subject}"), c.receive_ok(1)).await?;
    if errors > 0 {
        bail!("{subject} answered with an error");
    }
    Ok(())
}

/// Publishes `count` copies of the PUB `frame` (whose reply subject is the
/// connection's only subscription), at most `window` PubAcks outstanding;
/// how many were refused. Each PubAck is waited for [`STEP`] at most.
async fn publish_windowed(c: &mut Conn, frame: &[u8], count: u64, window: u64) -> Result<u64> {
    publish_windowed_by(c, count, window, |_| frame).await
}

/// Like [`publish_windowed`], with message `n` (from 0) sent as `frame(n)`.
async fn publish_windowed_by<'a>(
    c: &mut Conn,
    count: u64,
    window: u64,
    frame: impl Fn(u64) -> &'a [u8],
) -> Result<u64> {
    let mut out = Vec::new();
    let frames = |from: u64, n: u64, out: &mut Vec<u8>| {
        out.clear();
        for i in from..from + n {
            out.extend_from_slice(frame(i));
        }
    };
    let first = window.min(count);
    frames(0, first, &mut out);
    c.write(&out).await?;
    let (mut sent, mut acked, mut refused) = (first, 0u64, 0u64);
    while acked < count {
        // Like a client's async publish: every ack read so far frees a
        // slot, and the freed slots are refilled in one write.
        let mut freed = 0u64;
        let mut event = Some(within(STEP, "PubAck", c.next_event()).await?);
        while let Some(e) = event {
            if let Event::Msg { error, .. } = e {
                freed += 1;
                refused += u64::from(error);
            }
            event = c.buffered_event().await?;
        }
        acked += freed;
        let more = freed.min(count - sent);
        if more > 0 {
            frames(sent, more, &mut out);
            c.write(&out).await?;
            sent += more;
        }
    }
    Ok(refused)
}

/// One PUB frame of `size` bytes on `subject` with `reply`.
fn pub_frame(subject: &str, reply: &str, size: usize) -> Vec<u8> {
    let mut f = format!("PUB {subject} {reply} {size}\r\n").into_bytes();
    f.extend(std::iter::repeat_n(b'x', size));
    f.extend_from_slice(b"\r\n");
    f
}

/// Creates the stream `BENCH` on `bench.js` in `storage`.
async fn create_bench_stream(c: &mut Conn, storage: Storage) -> Result<()> {
    let cfg = format!(
        "{{\"name\":\"BENCH\",\"subjects\":[\"bench.js\"],\"storage\":\"{}\"}}",
        storage.as_str()
    );
    api(c, "$JS.API.STREAM.CREATE.BENCH", &cfg)
        .await
        .context("the stream could not be created")
}

/// Publishes `count` messages of `size` bytes to a JetStream stream of
/// `storage`, with at most `window` PubAcks outstanding (1: each publish
/// waits for its ack); msgs/s. Any refused publish fails the run.
pub async fn js_publish(
    addr: &str,
    storage: Storage,
    size: usize,
    count: u64,
    window: u64,
) -> Result<f64> {
    bounded("JetStream publish", async {
        let mut c = api_conn(addr).await?;
        create_bench_stream(&mut c, storage).await?;
        let frame = pub_frame("bench.js", "bench.api", size);
        let start = Instant::now();
        let refused = publish_windowed(&mut c, &frame, count, window).await?;
        let secs = start.elapsed().as_secs_f64();
        if refused > 0 {
            bail!("{refused} of {count} publishes refused");
        }
        Ok(count as f64 / secs)
    })
    .await
}

/// The stream `BENCH` with `count` messages of `size` bytes (not timed).
async fn filled_stream(addr: &str, storage: Storage, size: usize, count: u64) -> Result<()> {
    let mut c = api_conn(addr).await?;
    create_bench_stream(&mut c, storage).await?;
    let frame = pub_frame("bench.js", "bench.api", size);
    let refused = publish_windowed(&mut c, &frame, count, 1000).await?;
    if refused > 0 {
        bail!("filling the stream: {refused} of {count} publishes refused");
    }
    Ok(())
}

/// A stream of `count` messages drained through a durable pull consumer
/// (`ack_policy: all`): two pull requests of `batch` messages outstanding,
/// the last message of each batch acked (which acks the batch) and a new
/// request sent in its place; msgs/s from the first request to the last
/// message.
pub async fn js_consume(
    addr: &str,
    storage: Storage,
    size: usize,
    count: u64,
    batch: u64,
) -> Result<f64> {
    bounded("JetStream pull consume", async {
        filled_stream(addr, storage, size, count).await?;
        let mut c = api_conn(addr).await?;
        api(
            &mut c,
            "$JS.API.CONSUMER.DURABLE.CREATE.BENCH.PULL",
            r#"{"stream_name":"BENCH","config":{"durable_name":"PULL","ack_policy":"all"}}"#,
        )
        .await
        .context("the pull consumer could not be created")?;
        c.write(b"SUB bench.pull 2\r\n").await?;
        c.round_trip().await?;
        let body = format!("{{\"batch\":{batch},\"expires\":5000000000}}");
        let request = format!(
            "PUB $JS.API.CONSUMER.MSG.NEXT.BENCH.PULL bench.pull {}\r\n{body}\r\n",
            body.len()
        );
        let start = Instant::now();
        c.write(request.repeat(2).as_bytes()).await?;
        let (mut got, mut requested, mut in_batch) = (0u64, 2 * batch, 0u64);
        while got < count {
            let what = format!("message after {got} of {count}");
            match within(STEP, &what, c.next_event()).await? {
                Event::Msg {
                    status: Some(408), ..
                } => {
                    // A request expired short of its batch: ask again.
                    in_batch = 0;
                    c.write(request.as_bytes()).await?;
                }
                Event::Msg {
                    status: Some(code), ..
                } => bail!("a pull request answered with status {code} after {got} messages"),
                Event::Msg {
                    reply: Some(ack), ..
                } => {
                    got += 1;
                    in_batch += 1;
                    if in_batch == batch || got == count {
                        in_batch = 0;
                        let mut out = format!("PUB {ack} 0\r\n\r\n");
                        if requested < count {
                            out.push_str(&request);
                            requested += batch;
                        }
                        c.write(out.as_bytes()).await?;
                    }
                }
                Event::Msg { reply: None, .. } => bail!("a delivery without an ack subject"),
                Event::Pong => {}
            }
        }
        Ok(count as f64 / start.elapsed().as_secs_f64())
    })
    .await
}

/// A stream of `count` messages drained through a durable push consumer with
/// flow control and a 1 s idle heartbeat (`ack_policy: none`), answering each
/// flow-control request; msgs/s from the consumer's create request to the
/// last message.
pub async fn js_push_fc(addr: &str, storage: Storage, size: usize, count: u64) -> Result<f64> {
    bounded("JetStream push consume with flow control", async {
        filled_stream(addr, storage, size, count).await?;
        let mut push = Conn::open_headers(addr).await?;
        push.write(b"SUB bench.push 1\r\n").await?;
        push.round_trip().await?;
        let drain = tokio::spawn(async move {
            let (mut got, mut fc) = (0u64, 0u64);
            // Heartbeats arrive while a stalled consumer sends nothing else:
            // only a message moves the deadline.
            let mut deadline = tokio::time::Instant::now() + STEP;
            while got < count {
                let event = tokio::time::timeout_at(deadline, push.next_event())
                    .await
                    .map_err(|_| {
                        anyhow!("no push delivery within {STEP:?} after {got} of {count} ({fc} flow-control requests answered)")
                    })??;
                match event {
                    Event::Msg {
                        status: Some(100),
                        reply: Some(reply),
                        ..
                    } => {
                        fc += 1;
                        push.write(format!("PUB {reply} 0\r\n\r\n").as_bytes())
                            .await?;
                    }
                    // An idle heartbeat.
                    Event::Msg {
                        status: Some(100), ..
                    } => {}
                    Event::Msg {
                        status: Some(code), ..
                    } => bail!("status {code} on the deliver subject after {got} messages"),
                    Event::Msg { .. } => {
                        got += 1;
                        deadline = tokio::time::Instant::now() + STEP;
                    }
                    Event::Pong => {}
                }
            }
            Ok::<u64, anyhow::Error>(fc)
        });
        let mut c = api_conn(addr).await?;
        let start = Instant::now();
        let created = api(
            &mut c,
            "$JS.API.CONSUMER.DURABLE.CREATE.BENCH.PUSH",
            r#"{"stream_name":"BENCH","config":{"durable_name":"PUSH","deliver_subject":"bench.push","ack_policy":"none","flow_control":true,"idle_heartbeat":1000000000}}"#,
        )
        .await;
        if let Err(e) = created {
            drain.abort();
            return Err(e.context("the push consumer could not be created"));
        }
        let fc = drain.await??;
        let secs = start.elapsed().as_secs_f64();
        if fc == 0 {
            bail!("{count} messages went through without a flow-control request");
        }
        Ok(count as f64 / secs)
    })
    .await
}

/// Sequential key-value round trips on a 2.9-style bucket (`KV_BENCH`, file
/// storage, one value per key): a put of `size` bytes that waits for its
/// PubAck, then a direct get of that key's last value; round trips/s over
/// 100 keys.
pub async fn kv_roundtrip(addr: &str, size: usize, count: u64) -> Result<f64> {
    bounded("key-value put/get", async {
        let mut c = api_conn(addr).await?;
        api(
            &mut c,
            "$JS.API.STREAM.CREATE.KV_BENCH",
            r#"{"name":"KV_BENCH","subjects":["$KV.BENCH.>"],"storage":"file","max_msgs_per_subject":1,"discard":"new","allow_rollup_hdrs":true,"deny_delete":true,"allow_direct":true}"#,
        )
        .await
        .context("the bucket's stream could not be created")?;
        let value = "x".repeat(size);
        let start = Instant::now();
        for i in 0..count {
            let key = format!("$KV.BENCH.k{}", i % 100);
            let put = format!("PUB {key} bench.api {size}\r\n{value}\r\n");
            c.write(put.as_bytes()).await?;
            if within(STEP, "PubAck of a put", c.receive_ok(1)).await? > 0 {
                bail!("put {i} refused");
            }
            let get = format!("PUB $JS.API.DIRECT.GET.KV_BENCH.{key} bench.api 0\r\n\r\n");
            c.write(get.as_bytes()).await?;
            match within(STEP, "answer to a direct get", c.next_event()).await? {
                Event::Msg {
                    status: None,
                    error: false,
                    ..
                } => {}
                Event::Msg { status, .. } => {
                    bail!("get {i} of {key} answered with status {status:?} or an error")
                }
                Event::Pong => bail!("a PONG instead of a direct get's answer"),
            }
        }
        Ok(count as f64 / start.elapsed().as_secs_f64())
    })
    .await
}

/// A JetStream API request on an [`api_conn`]: its JSON answer, waited for
/// `wait` at most. An answer with an `error` is returned like any other.
async fn api_json(
    c: &mut Conn,
    subject: &str,
    body: &str,
    wait: Duration,
) -> Result<serde_json::Value> {
    c.keep_payload = true;
    let req = format!("PUB {subject} bench.api {}\r\n{body}\r\n", body.len());
    c.write(req.as_bytes()).await?;
    loop {
        match within(wait, &format!("answer to {subject}"), c.next_event()).await? {
            Event::Msg { status: None, .. } => break,
            Event::Msg {
                status: Some(code), ..
            } => bail!("{subject} answered with status {code}"),
            Event::Pong => {}
        }
    }
    serde_json::from_slice(&c.payload).with_context(|| {
        format!(
            "{subject}: not JSON: {}",
            String::from_utf8_lossy(&c.payload)
        )
    })
}

/// What `$JS.API.INFO` says the account holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub streams: u64,
    /// Bytes stored, over all streams.
    pub storage: u64,
}

impl Usage {
    fn of(info: &serde_json::Value) -> Result<Usage> {
        if info.get("error").is_some() {
            bail!("$JS.API.INFO answered with an error: {info}");
        }
        let field = |f: &str| {
            info[f]
                .as_u64()
                .with_context(|| format!("$JS.API.INFO without {f}: {info}"))
        };
        Ok(Usage {
            streams: field("streams")?,
            storage: field("storage")?,
        })
    }
}

/// The account's JetStream usage, asked once.
pub async fn js_usage(addr: &str) -> Result<Usage> {
    let mut c = api_conn(addr).await?;
    Usage::of(&api_json(&mut c, "$JS.API.INFO", "", STEP).await?)
}

/// Creates the file streams `R0`, `R1`, ... (subject `r.<i>`), 100 requests
/// in flight at a time, and fills each with `per_stream` messages of `size`
/// bytes, `window` PubAcks outstanding (not timed). Any refusal fails.
pub async fn fill_streams(
    addr: &str,
    streams: u64,
    per_stream: u64,
    size: usize,
    window: u64,
) -> Result<()> {
    let mut c = api_conn(addr).await?;
    for from in (0..streams).step_by(100) {
        let to = (from + 100).min(streams);
        let mut out = String::new();
        for i in from..to {
            let cfg = format!(r#"{{"name":"R{i}","subjects":["r.{i}"],"storage":"file"}}"#);
            out.push_str(&format!(
                "PUB $JS.API.STREAM.CREATE.R{i} bench.api {}\r\n{cfg}\r\n",
                cfg.len()
            ));
        }
        c.write(out.as_bytes()).await?;
        let wait = Duration::from_secs(30);
        if within(wait, "stream create answers", c.receive_ok(to - from)).await? > 0 {
            bail!("creating streams R{from}..R{}: refused", to - 1);
        }
    }
    let frames: Vec<Vec<u8>> = (0..streams)
        .map(|i| pub_frame(&format!("r.{i}"), "bench.api", size))
        .collect();
    let count = streams * per_stream;
    let refused = publish_windowed_by(&mut c, count, window, |n| {
        frames[(n / per_stream) as usize].as_slice()
    })
    .await?;
    if refused > 0 {
        bail!("filling the streams: {refused} of {count} publishes refused");
    }
    Ok(())
}

/// The file stream `BENCH` with `count` messages of `size` bytes, `window`
/// PubAcks outstanding (not timed).
pub async fn fill_bench_stream(addr: &str, size: usize, count: u64, window: u64) -> Result<()> {
    let mut c = api_conn(addr).await?;
    create_bench_stream(&mut c, Storage::File).await?;
    let frame = pub_frame("bench.js", "bench.api", size);
    let refused = publish_windowed(&mut c, &frame, count, window).await?;
    if refused > 0 {
        bail!("filling the stream: {refused} of {count} publishes refused");
    }
    Ok(())
}

/// Asks `$JS.API.INFO` every 2 ms until the server counts `streams`
/// streams, connecting again as long as the server refuses connections or
/// answers nothing (JetStream not up yet); the usage it then reports.
pub async fn wait_for_streams(addr: &str, streams: u64, timeout: Duration) -> Result<Usage> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut conn: Option<Conn> = None;
    let mut last = String::from("no answer");
    loop {
        if tokio::time::Instant::now() >= deadline {
            bail!("the server did not count {streams} streams within {timeout:?} ({last})");
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match within(Duration::from_secs(1), "connection", api_conn(addr)).await {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    last = format!("{e:#}");
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                }
            },
        };
        match api_json(c, "$JS.API.INFO", "", Duration::from_secs(1)).await {
            Ok(info) => match Usage::of(&info) {
                Ok(u) if u.streams == streams => return Ok(u),
                Ok(u) => last = format!("{} streams", u.streams),
                Err(e) => last = format!("{e:#}"),
            },
            Err(e) => {
                last = format!("{e:#}");
                // A late answer could be taken for the next one's: start over.
                conn = None;
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Reads `read` messages from the start of the stream `BENCH` through a
/// durable pull consumer (`ack_policy: all`) the way a slow reader does:
/// one request of `batch` messages at a time, the batch acked by its last
/// message, then a pause of `pause` before the next request; msgs/s.
pub async fn js_slow_read(addr: &str, read: u64, batch: u64, pause: Duration) -> Result<f64> {
    let mut c = api_conn(addr).await?;
    api(
        &mut c,
        "$JS.API.CONSUMER.DURABLE.CREATE.BENCH.SLOW",
        r#"{"stream_name":"BENCH","config":{"durable_name":"SLOW","ack_policy":"all"}}"#,
    )
    .await
    .context("the pull consumer could not be created")?;
    c.write(b"SUB bench.pull 2\r\n").await?;
    c.round_trip().await?;
    let start = Instant::now();
    let mut got = 0u64;
    while got < read {
        let want = batch.min(read - got);
        let body = format!("{{\"batch\":{want},\"expires\":5000000000}}");
        let request = format!(
            "PUB $JS.API.CONSUMER.MSG.NEXT.BENCH.SLOW bench.pull {}\r\n{body}\r\n",
            body.len()
        );
        c.write(request.as_bytes()).await?;
        let mut in_batch = 0u64;
        while in_batch < want {
            let what = format!("message after {got} of {read}");
            match within(STEP, &what, c.next_event()).await? {
                // The request expired short of its batch: ask for the rest.
                Event::Msg {
                    status: Some(408), ..
                } => break,
                Event::Msg {
                    status: Some(code), ..
                } => bail!("a pull request answered with status {code} after {got} messages"),
                Event::Msg {
                    reply: Some(ack), ..
                } => {
                    got += 1;
                    in_batch += 1;
                    if in_batch == want {
                        c.write(format!("PUB {ack} 0\r\n\r\n").as_bytes()).await?;
                    }
                }
                Event::Msg { reply: None, .. } => bail!("a delivery without an ack subject"),
                Event::Pong => {}
            }
        }
        tokio::time::sleep(pause).await;
    }
    Ok(read as f64 / start.elapsed().as_secs_f64())
}
