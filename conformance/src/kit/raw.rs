//! A raw client-protocol connection with send / expect helpers, in the spirit
//! of the Go tests' own `sendProto`, `expectResult` and `checkInfoMsg`.

use anyhow::{anyhow, bail, Context, Result};
use bytes::{Buf, BytesMut};
use regex::bytes::Regex;
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

/// How long an expectation waits by default.
pub const EXPECT_TIMEOUT: Duration = Duration::from_secs(3);

/// One message delivered by MSG or HMSG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub subject: String,
    pub sid: String,
    pub reply: Option<String>,
    /// The raw header block (`NATS/1.0...\r\n\r\n`) of an HMSG.
    pub headers: Option<Vec<u8>>,
    pub payload: Vec<u8>,
}

/// One server-to-client protocol operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Info(Value),
    Msg(Msg),
    Ping,
    Pong,
    Ok,
    Err(String),
}

/// What a raw client reads and writes: a TCP stream, or a TLS one over it.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

pub struct RawClient {
    stream: Box<dyn Io>,
    buf: BytesMut,
    closed: bool,
}

impl RawClient {
    /// Opens a TCP connection; reads nothing.
    pub async fn connect(addr: &str) -> Result<RawClient> {
        let stream = tokio::time::timeout(EXPECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| anyhow!("connect to {addr} timed out"))?
            .with_context(|| format!("connect to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Self::from_stream(Box::new(stream)))
    }

    /// Wraps a connection that is already open (a TLS stream, say).
    pub fn from_stream(stream: Box<dyn Io>) -> RawClient {
        RawClient {
            stream,
            buf: BytesMut::with_capacity(16 * 1024),
            closed: false,
        }
    }

    /// Opens a connection and reads the server's first INFO.
    pub async fn connect_info(addr: &str) -> Result<(RawClient, Value)> {
        let mut c = Self::connect(addr).await?;
        let info = c.expect_info().await?;
        Ok((c, info))
    }

    /// Writes the text as it is (protocol lines end in `\r\n`).
    pub async fn send(&mut self, proto: &str) -> Result<()> {
        self.send_bytes(proto.as_bytes()).await
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream
            .write_all(bytes)
            .await
            .context("writing to the server")?;
        Ok(())
    }

    /// Reads more bytes; false when the server closed the connection.
    async fn fill(&mut self, deadline: Instant) -> Result<bool> {
        if self.closed {
            return Ok(false);
        }
        let mut chunk = [0u8; 16 * 1024];
        match timeout_at(deadline, self.stream.read(&mut chunk)).await {
            Err(_) => bail!("timed out"),
            Ok(Ok(0)) | Ok(Err(_)) => {
                self.closed = true;
                Ok(false)
            }
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
        }
    }

    fn received(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }

    /// Waits until what the server sent next matches `pattern` (anchored at
    /// the start of the unread bytes), consumes it, and returns its groups.
    pub async fn expect(&mut self, pattern: &str) -> Result<Vec<String>> {
        self.expect_within(pattern, EXPECT_TIMEOUT).await
    }

    pub async fn expect_within(&mut self, pattern: &str, wait: Duration) -> Result<Vec<String>> {
        let re = Regex::new(&format!(r"\A(?:{pattern})"))
            .with_context(|| format!("bad pattern {pattern:?}"))?;
        let deadline = Instant::now() + wait;
        loop {
            if let Some(caps) = re.captures(&self.buf) {
                let groups = caps
                    .iter()
                    .skip(1)
                    .map(|g| {
                        g.map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
                            .unwrap_or_default()
                    })
                    .collect();
                let end = caps.get(0).expect("whole match").end();
                self.buf.advance(end);
                return Ok(groups);
            }
            let more = self.fill(deadline).await.map_err(|_| {
                anyhow!(
                    "expected /{pattern}/ within {wait:?}, got {:?}",
                    self.received()
                )
            })?;
            if !more {
                bail!(
                    "expected /{pattern}/, connection closed after {:?}",
                    self.received()
                );
            }
        }
    }

    pub async fn expect_ok(&mut self) -> Result<()> {
        self.expect(r"\+OK\r\n").await.map(|_| ())
    }

    pub async fn expect_pong(&mut self) -> Result<()> {
        self.expect(r"PONG\r\n").await.map(|_| ())
    }

    /// Expects `-ERR '<text>'` and returns the text.
    pub async fn expect_err(&mut self) -> Result<String> {
        let g = self.expect(r"-ERR '([^\r]*)'\r\n").await?;
        Ok(g[0].clone())
    }

    pub async fn expect_info(&mut self) -> Result<Value> {
        let g = self.expect(r"INFO\s+(\{[^\r\n]*\})\s*\r\n").await?;
        serde_json::from_str(&g[0]).context("INFO is not JSON")
    }

    /// Sends `PING` and waits for the `PONG`: everything sent before has been processed.
    pub async fn flush(&mut self) -> Result<()> {
        self.send("PING\r\n").await?;
        self.expect_pong().await
    }

    /// Fails if the server sends anything within `wait`.
    pub async fn expect_nothing(&mut self, wait: Duration) -> Result<()> {
        if !self.buf.is_empty() {
            bail!("expected nothing, have {:?}", self.received());
        }
        let deadline = Instant::now() + wait;
        match self.fill(deadline).await {
            Err(_) => Ok(()),
            Ok(true) => bail!("expected nothing, got {:?}", self.received()),
            Ok(false) => bail!("expected nothing, but the connection was closed"),
        }
    }

    /// Waits for the server to close the connection; what it sent first is returned.
    pub async fn expect_closed(&mut self, wait: Duration) -> Result<String> {
        let deadline = Instant::now() + wait;
        while self
            .fill(deadline)
            .await
            .map_err(|_| anyhow!("connection still open after {wait:?}"))?
        {}
        let rest = self.received();
        self.buf.clear();
        Ok(rest)
    }

    /// Reads the next complete protocol operation.
    pub async fn read_op(&mut self) -> Result<Op> {
        let deadline = Instant::now() + EXPECT_TIMEOUT;
        loop {
            if let Some(op) = self.parse_op()? {
                return Ok(op);
            }
            let more = self
                .fill(deadline)
                .await
                .map_err(|_| anyhow!("no complete operation, have {:?}", self.received()))?;
            if !more {
                bail!("connection closed, have {:?}", self.received());
            }
        }
    }

    /// Sends PING and returns every operation that arrives before its PONG
    /// (PINGs from the server are answered, not returned).
    pub async fn ops_until_pong(&mut self) -> Result<Vec<Op>> {
        self.send("PING\r\n").await?;
        let mut ops = Vec::new();
        loop {
            match self.read_op().await? {
                Op::Pong => return Ok(ops),
                Op::Ping => self.send("PONG\r\n").await?,
                op => ops.push(op),
            }
        }
    }

    /// The messages delivered before the PONG of a PING; anything else fails.
    pub async fn msgs_until_pong(&mut self) -> Result<Vec<Msg>> {
        self.ops_until_pong()
            .await?
            .into_iter()
            .map(|op| match op {
                Op::Msg(m) => Ok(m),
                other => Err(anyhow!("expected only messages, got {other:?}")),
            })
            .collect()
    }

    /// Reads `n` messages, failing on any other operation except PING (answered).
    pub async fn read_msgs(&mut self, n: usize) -> Result<Vec<Msg>> {
        let mut msgs = Vec::with_capacity(n);
        while msgs.len() < n {
            match self.read_op().await? {
                Op::Msg(m) => msgs.push(m),
                Op::Ping => self.send("PONG\r\n").await?,
                other => bail!("expected a message, got {other:?}"),
            }
        }
        Ok(msgs)
    }

    /// Parses one op from the buffer if it is all there.
    fn parse_op(&mut self) -> Result<Option<Op>> {
        let Some(eol) = self.buf.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = String::from_utf8_lossy(&self.buf[..eol]).into_owned();
        let (verb, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let simple = |op| Ok(Some(op));
        let op = match verb {
            "PING" => simple(Op::Ping),
            "PONG" => simple(Op::Pong),
            "+OK" => simple(Op::Ok),
            "-ERR" => simple(Op::Err(rest.trim_matches('\'').to_string())),
            "INFO" => simple(Op::Info(serde_json::from_str(rest)?)),
            "MSG" | "HMSG" => return self.parse_msg(verb == "HMSG", rest, eol),
            _ => bail!("unknown operation {line:?}"),
        };
        self.buf.advance(eol + 2);
        op
    }

    fn parse_msg(&mut self, with_headers: bool, args: &str, eol: usize) -> Result<Option<Op>> {
        let parts: Vec<&str> = args.split_whitespace().collect();
        let sizes = if with_headers { 2 } else { 1 };
        if parts.len() < 2 + sizes || parts.len() > 3 + sizes {
            bail!("malformed message line {args:?}");
        }
        let nums: Vec<usize> = parts[parts.len() - sizes..]
            .iter()
            .map(|s| s.parse().context("message size"))
            .collect::<Result<_>>()?;
        let total = *nums.last().expect("a size");
        let header_len = if with_headers { nums[0] } else { 0 };
        let start = eol + 2;
        if self.buf.len() < start + total + 2 {
            return Ok(None);
        }
        let body = &self.buf[start..start + total];
        let msg = Msg {
            subject: parts[0].to_string(),
            sid: parts[1].to_string(),
            reply: (parts.len() == 3 + sizes).then(|| parts[2].to_string()),
            headers: with_headers.then(|| body[..header_len].to_vec()),
            payload: body[header_len..].to_vec(),
        };
        if &self.buf[start + total..start + total + 2] != b"\r\n" {
            bail!("message payload not followed by CRLF");
        }
        self.buf.advance(start + total + 2);
        Ok(Some(Op::Msg(msg)))
    }
}
