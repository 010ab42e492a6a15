//! The WebSocket side of the load generator: the upgrade, the client's
//! frames (masked, deflated when compression was agreed) and the reading
//! of the server's frames, so that a bench connection speaks NATS over
//! WebSocket as a browser client would.

use crate::kit::ws::{client_frame, deflate, Upgrade, OP_BINARY, OP_CLOSE, OP_CONTINUATION};
use anyhow::{bail, Context, Result};
use bytes::{Buf, BytesMut};
use flate2::{Decompress, FlushDecompress, Status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A WebSocket connection's framing state, beside its socket.
pub struct WsLayer {
    /// permessage-deflate was agreed.
    compress: bool,
    /// Bytes read from the socket and not decoded yet.
    pub raw: BytesMut,
    /// The payload of a fragmented message read so far.
    message: Vec<u8>,
    /// The message being read is compressed.
    compressed: bool,
    inflater: Decompress,
    /// A compressed message with the deflate tail, then its inflated bytes.
    scratch_in: Vec<u8>,
    scratch_out: Vec<u8>,
}

/// Sends the upgrade (offering compression when `compress`) and checks the
/// answer: a 101, with permessage-deflate when it was offered.
pub async fn upgrade(stream: &mut TcpStream, host: &str, compress: bool) -> Result<WsLayer> {
    let request = Upgrade {
        compress,
        ..Upgrade::default()
    }
    .request(host);
    stream.write_all(request.as_bytes()).await?;
    let mut raw = BytesMut::with_capacity(256 * 1024);
    let end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if stream.read_buf(&mut raw).await? == 0 {
            bail!("server closed the connection during the upgrade");
        }
    };
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    if !head.starts_with("HTTP/1.1 101") {
        bail!("upgrade refused: {head}");
    }
    if compress && !head.contains("permessage-deflate") {
        bail!("compression was not agreed: {head}");
    }
    raw.advance(end);
    Ok(WsLayer {
        compress,
        raw,
        message: Vec::new(),
        compressed: false,
        inflater: Decompress::new(false),
        scratch_in: Vec::new(),
        scratch_out: Vec::new(),
    })
}

impl WsLayer {
    /// `data` as one masked binary message, deflated when agreed.
    pub fn frame(&self, data: &[u8]) -> Vec<u8> {
        if self.compress {
            client_frame(0x80 | 0x40 | OP_BINARY, &deflate(data), true)
        } else {
            client_frame(0x80 | OP_BINARY, data, true)
        }
    }

    /// Decodes the whole frames read so far; the messages' bytes, inflated,
    /// go to `out`. Pings are left unanswered (the server pings a client
    /// every two minutes, far longer than a row runs); a close fails.
    pub fn decode(&mut self, out: &mut BytesMut) -> Result<()> {
        while let Some((b0, at, len)) = self.header() {
            let opcode = b0 & 0x0f;
            let fin = b0 & 0x80 != 0;
            if opcode == OP_CLOSE {
                bail!("the server closed the WebSocket");
            }
            if opcode & 0x08 != 0 {
                self.raw.advance(at + len);
                continue;
            }
            if opcode != OP_CONTINUATION {
                self.compressed = b0 & 0x40 != 0;
            }
            let payload = &self.raw[at..at + len];
            if fin && self.message.is_empty() && !self.compressed {
                out.extend_from_slice(payload);
            } else {
                self.message.extend_from_slice(payload);
                if fin {
                    let message = std::mem::take(&mut self.message);
                    if self.compressed {
                        self.inflate(&message, out)?;
                    } else {
                        out.extend_from_slice(&message);
                    }
                    self.message = message;
                    self.message.clear();
                }
            }
            self.raw.advance(at + len);
        }
        Ok(())
    }

    /// The first whole frame's first byte, header length and payload
    /// length (the server's frames are not masked).
    fn header(&self) -> Option<(u8, usize, usize)> {
        let b = &self.raw;
        if b.len() < 2 {
            return None;
        }
        let (len, at) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (usize::from(u16::from_be_bytes([b[2], b[3]])), 4),
            127 if b.len() >= 10 => (
                usize::try_from(u64::from_be_bytes(b[2..10].try_into().ok()?)).ok()?,
                10,
            ),
            126 | 127 => return None,
            n => (usize::from(n), 2),
        };
        (b.len() >= at + len).then_some((b[0], at, len))
    }

    /// Inflates one message (no context takeover: a fresh window each).
    fn inflate(&mut self, data: &[u8], out: &mut BytesMut) -> Result<()> {
        self.inflater.reset(false);
        self.scratch_in.clear();
        self.scratch_in.extend_from_slice(data);
        self.scratch_in.extend_from_slice(&[0, 0, 0xff, 0xff]);
        self.scratch_out.clear();
        let mut used = 0;
        loop {
            if self.scratch_out.capacity() - self.scratch_out.len() < 16 * 1024 {
                self.scratch_out.reserve(64 * 1024);
            }
            let before = self.inflater.total_in();
            let status = self
                .inflater
                .decompress_vec(
                    &self.scratch_in[used..],
                    &mut self.scratch_out,
                    FlushDecompress::Sync,
                )
                .context("inflating a message from the server")?;
            used += usize::try_from(self.inflater.total_in() - before)?;
            let full = self.scratch_out.len() == self.scratch_out.capacity();
            if status != Status::Ok || (used == self.scratch_in.len() && !full) {
                break;
            }
        }
        out.extend_from_slice(&self.scratch_out);
        Ok(())
    }
}
