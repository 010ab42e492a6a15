//! A WebSocket client for scenarios, in the spirit of the Go tests' own
//! `testNewWSClient`, `testWSCreateClientMsg` and `testWSReadFrame`: it
//! sends the HTTP upgrade with chosen headers, writes frames (masked as a
//! client must, or crafted bit by bit to break the rules), and reads the
//! server's frames raw, inflating compressed ones.

use super::raw::{Io, EXPECT_TIMEOUT};
use super::tls_raw::{client_tls, TlsOptions};
use anyhow::{anyhow, bail, Context, Result};
use bytes::{Buf, BytesMut};
use regex::bytes::Regex;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

pub const OP_CONTINUATION: u8 = 0;
pub const OP_TEXT: u8 = 1;
pub const OP_BINARY: u8 = 2;
pub const OP_CLOSE: u8 = 8;
pub const OP_PING: u8 = 9;
pub const OP_PONG: u8 = 10;

/// The RFC 6455 example key; its accept value is known.
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const KEY_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// What the upgrade request asks for.
#[derive(Clone, Default)]
pub struct Upgrade {
    /// Connect over TLS (`wss`) with these options.
    pub tls: Option<TlsOptions>,
    /// Request path; "/" when empty.
    pub path: String,
    /// Offer permessage-deflate.
    pub compress: bool,
    /// `Nats-No-Masking: true`: the client then sends unmasked frames.
    pub no_masking: bool,
    /// More headers, as written.
    pub headers: Vec<(String, String)>,
}

impl Upgrade {
    /// The request head: GET with the upgrade headers and the extras.
    pub fn request(&self, host: &str) -> String {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        let mut r = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
        );
        if self.compress {
            r.push_str("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n");
        }
        if self.no_masking {
            r.push_str("Nats-No-Masking: true\r\n");
        }
        for (k, v) in &self.headers {
            r.push_str(&format!("{k}: {v}\r\n"));
        }
        r.push_str("\r\n");
        r
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// An HTTP response head (and the body a refusal carries).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// The status line and headers, as sent.
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header (names compare without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// One frame as it came from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The header's bytes as sent (first byte, length forms, mask key).
    pub header: Vec<u8>,
    pub fin: bool,
    pub rsv1: bool,
    pub opcode: u8,
    pub masked: bool,
    pub payload: Vec<u8>,
}

impl Frame {
    /// A close frame's status and reason.
    pub fn close_status(&self) -> Option<(u16, String)> {
        if self.opcode != OP_CLOSE || self.payload.len() < 2 {
            return None;
        }
        let code = u16::from_be_bytes([self.payload[0], self.payload[1]]);
        Some((
            code,
            String::from_utf8_lossy(&self.payload[2..]).into_owned(),
        ))
    }
}

pub struct WsClient {
    stream: Box<dyn Io>,
    buf: BytesMut,
    /// The client masks its frames (it did not ask for no masking).
    masks: bool,
    /// permessage-deflate was agreed.
    pub compressed: bool,
    /// The upgrade's response.
    pub response: Response,
    /// Data frames' payloads read so far and not yet matched.
    text: Vec<u8>,
    /// The frames read, in order, for checks on framing.
    pub frames: Vec<Frame>,
}

/// Sends `request` on a new connection and reads the response head; the
/// stream stays open for what follows a 101.
pub async fn send_upgrade(addr: &str, request: &[u8]) -> Result<(Box<dyn Io>, BytesMut, Response)> {
    send_upgrade_over(addr, None, request).await
}

/// [`send_upgrade`], over TLS when `tls` is given.
pub async fn send_upgrade_over(
    addr: &str,
    tls: Option<&TlsOptions>,
    request: &[u8],
) -> Result<(Box<dyn Io>, BytesMut, Response)> {
    let stream = tokio::time::timeout(EXPECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| anyhow!("connect to {addr} timed out"))??;
    stream.set_nodelay(true)?;
    let mut stream: Box<dyn Io> = match tls {
        Some(opts) => Box::new(client_tls(stream, opts).await?),
        None => Box::new(stream),
    };
    stream.write_all(request).await?;
    let mut buf = BytesMut::with_capacity(4096);
    let response = read_response(&mut stream, &mut buf).await?;
    Ok((stream, buf, response))
}

/// Reads one response head, and a body of `Content-Length` bytes.
pub async fn read_response(stream: &mut Box<dyn Io>, buf: &mut BytesMut) -> Result<Response> {
    let deadline = Instant::now() + EXPECT_TIMEOUT;
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = timeout_at(deadline, stream.read_buf(buf))
            .await
            .map_err(|_| {
                anyhow!(
                    "no HTTP response within {EXPECT_TIMEOUT:?}; got {:?}",
                    String::from_utf8_lossy(buf)
                )
            })??;
        if n == 0 {
            bail!(
                "connection closed before an HTTP response (got {:?})",
                String::from_utf8_lossy(buf)
            );
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    buf.advance(head_end + 4);
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no status in {head:?}"))?;
    let mut response = Response {
        status,
        head,
        body: Vec::new(),
    };
    if let Some(len) = response
        .header("Content-Length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        while buf.len() < len {
            let n = timeout_at(deadline, stream.read_buf(buf))
                .await
                .map_err(|_| anyhow!("HTTP body cut"))??;
            if n == 0 {
                break;
            }
        }
        response.body = buf.split_to(len.min(buf.len())).to_vec();
    }
    Ok(response)
}

impl WsClient {
    /// Upgrades a new connection; fails unless the server answers 101.
    pub async fn connect(addr: &str, up: &Upgrade) -> Result<WsClient> {
        let (stream, buf, response) =
            send_upgrade_over(addr, up.tls.as_ref(), up.request(addr).as_bytes()).await?;
        if response.status != 101 {
            bail!("upgrade refused: {}", response.head);
        }
        let compressed = response
            .header("Sec-WebSocket-Extensions")
            .is_some_and(|v| v.contains("permessage-deflate"));
        Ok(WsClient {
            stream,
            buf,
            masks: !up.no_masking,
            compressed,
            response,
            text: Vec::new(),
            frames: Vec::new(),
        })
    }

    /// Upgrades, reads the INFO, then sends CONNECT (with `connect`'s JSON)
    /// and PING and waits for the PONG.
    pub async fn connect_nats(addr: &str, up: &Upgrade, connect: &str) -> Result<WsClient> {
        let mut c = Self::connect(addr, up).await?;
        c.expect("^INFO ").await?;
        c.send_data(format!("CONNECT {connect}\r\nPING\r\n").as_bytes())
            .await?;
        c.expect("PONG\r\n").await?;
        Ok(c)
    }

    /// Sends `data` as one binary message, deflated when compression was
    /// agreed.
    pub async fn send_data(&mut self, data: &[u8]) -> Result<()> {
        if self.compressed {
            let deflated = deflate(data);
            self.send_frame(0x80 | 0x40 | OP_BINARY, &deflated).await
        } else {
            self.send_frame(0x80 | OP_BINARY, data).await
        }
    }

    /// Sends one frame with first byte `b0` (FIN, RSV and opcode bits),
    /// masked unless the client asked for no masking.
    pub async fn send_frame(&mut self, b0: u8, payload: &[u8]) -> Result<()> {
        let frame = client_frame(b0, payload, self.masks);
        self.send_raw(&frame).await
    }

    /// Writes bytes as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// The next frame from the server, within the default wait.
    pub async fn read_frame(&mut self) -> Result<Frame> {
        self.read_frame_within(EXPECT_TIMEOUT).await
    }

    pub async fn read_frame_within(&mut self, wait: Duration) -> Result<Frame> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(frame) = parse_frame(&mut self.buf)? {
                self.frames.push(frame.clone());
                return Ok(frame);
            }
            let n = timeout_at(deadline, self.stream.read_buf(&mut self.buf))
                .await
                .map_err(|_| anyhow!("no frame within {wait:?}"))??;
            if n == 0 {
                bail!("connection closed");
            }
        }
    }

    /// Reads frames until the data read matches `pattern`; returns the
    /// match's groups and drops the data up to its end. Pings are
    /// answered; a close frame fails the wait.
    pub async fn expect(&mut self, pattern: &str) -> Result<Vec<String>> {
        let re = Regex::new(pattern)?;
        let deadline = Instant::now() + EXPECT_TIMEOUT;
        let mut message = Vec::new();
        let mut deflated = false;
        loop {
            if let Some(caps) = re.captures(&self.text) {
                let groups = caps
                    .iter()
                    .map(|m| {
                        m.map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
                            .unwrap_or_default()
                    })
                    .collect();
                let end = caps.get(0).expect("whole match").end();
                self.text.drain(..end);
                return Ok(groups);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = self.read_frame_within(left).await.with_context(|| {
                format!(
                    "waiting for {pattern:?}, got {:?}",
                    String::from_utf8_lossy(&self.text)
                )
            })?;
            match frame.opcode {
                OP_PING => self.send_frame(0x80 | OP_PONG, &frame.payload).await?,
                OP_CLOSE => bail!(
                    "close frame {:?} while waiting for {pattern:?}",
                    frame.close_status()
                ),
                OP_PONG => {}
                _ => {
                    if frame.opcode != OP_CONTINUATION {
                        deflated = frame.rsv1;
                    }
                    message.extend_from_slice(&frame.payload);
                    if frame.fin {
                        let data = std::mem::take(&mut message);
                        if deflated {
                            self.text.extend_from_slice(&inflate(&data)?);
                        } else {
                            self.text.extend_from_slice(&data);
                        }
                    }
                }
            }
        }
    }

    /// Reads frames until a close; returns its status and reason.
    pub async fn expect_close(&mut self) -> Result<(u16, String)> {
        let deadline = Instant::now() + EXPECT_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = self.read_frame_within(left).await?;
            if frame.opcode == OP_CLOSE {
                return frame
                    .close_status()
                    .with_context(|| format!("close frame without a status: {frame:?}"));
            }
        }
    }

    /// Reads until the server closes the connection: the close frame's
    /// status and reason if one came first.
    pub async fn close_or_eof(&mut self) -> Result<Option<(u16, String)>> {
        let deadline = Instant::now() + EXPECT_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("connection still open after {EXPECT_TIMEOUT:?}");
            }
            match self.read_frame_within(left).await {
                Ok(f) if f.opcode == OP_CLOSE => return Ok(f.close_status()),
                Ok(_) => {}
                Err(e) if e.to_string() == "connection closed" => return Ok(None),
                Err(e) if e.downcast_ref::<std::io::Error>().is_some() => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits for the server to close the connection, skipping any frames.
    pub async fn expect_eof(&mut self, wait: Duration) -> Result<()> {
        let deadline = Instant::now() + wait;
        loop {
            self.buf.clear();
            let n = timeout_at(deadline, self.stream.read_buf(&mut self.buf))
                .await
                .map_err(|_| anyhow!("connection still open after {wait:?}"))?;
            match n {
                Ok(0) | Err(_) => return Ok(()),
                Ok(_) => {}
            }
        }
    }
}

/// A client frame: `b0` as given, the payload masked with a fixed key when
/// `masked`.
pub fn client_frame(b0: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![b0];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n <= 125 => out.push(mask_bit | n as u8),
        n if n < 65536 => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i & 3]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// Takes one whole frame off the front of `buf`, if it holds one.
fn parse_frame(buf: &mut BytesMut) -> Result<Option<Frame>> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (buf[0], buf[1]);
    let (len, mut at) = match b1 & 0x7f {
        126 if buf.len() >= 4 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => (u64::from_be_bytes(buf[2..10].try_into()?), 10),
        126 | 127 => return Ok(None),
        n => (u64::from(n), 2),
    };
    let masked = b1 & 0x80 != 0;
    let key = if masked {
        if buf.len() < at + 4 {
            return Ok(None);
        }
        at += 4;
        Some([buf[at - 4], buf[at - 3], buf[at - 2], buf[at - 1]])
    } else {
        None
    };
    let len = usize::try_from(len)?;
    if buf.len() < at + len {
        return Ok(None);
    }
    let header = buf.split_to(at).to_vec();
    let mut payload = buf.split_to(len).to_vec();
    if let Some(k) = key {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= k[i & 3];
        }
    }
    Ok(Some(Frame {
        header,
        fin: b0 & 0x80 != 0,
        rsv1: b0 & 0x40 != 0,
        opcode: b0 & 0x0f,
        masked,
        payload,
    }))
}

/// Raw deflate with a sync flush, its trailing empty block left out, as a
/// permessage-deflate sender does.
pub fn deflate(data: &[u8]) -> Vec<u8> {
    use flate2::write::DeflateEncoder;
    use std::io::Write;
    let mut e = DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("deflate to memory");
    e.flush().expect("deflate to memory");
    let mut out = e.finish().expect("deflate to memory");
    // finish() adds a final empty block after the sync flush's marker.
    if let Some(i) = out.windows(4).rposition(|w| w == [0, 0, 0xff, 0xff]) {
        out.truncate(i);
    }
    out
}

/// Inflates a permessage-deflate message.
pub fn inflate(data: &[u8]) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut input = data.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff]);
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(&input[..])
        .read_to_end(&mut out)
        .context("inflating a compressed message")?;
    Ok(out)
}
