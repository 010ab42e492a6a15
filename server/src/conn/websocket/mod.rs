//! A WebSocket client's connection after its upgrade: [`WsRead`] turns its
//! frames back into the client protocol for the reader task, and
//! [`WsSink`] frames what the writer task sends. Pongs and close frames go
//! from the one to the other through [`Control`].

use crate::core::connection::{ClosedState, Connection};
use crate::core::outbound::Chunks;
use bytes::{Buf, BytesMut};
use natsd_proto::websocket::frame::{self, close_payload, control_frame, status, Decoder, Event};
use natsd_proto::websocket::outbound::{FrameRules, Framer, KEEP_CAPACITY};
use parking_lot::Mutex;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Control frames the reader queued for the writer.
#[derive(Default)]
pub struct Control {
    inner: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    /// Pongs, sent before the next data.
    frames: Vec<u8>,
    /// The close frame, sent after the data queued before it.
    close: Option<Vec<u8>>,
    /// A close frame was queued: there is never a second one.
    close_queued: bool,
}

impl Control {
    /// Queues a pong; false when the pongs waiting pass `max` bytes (a
    /// client that pings and does not read: Go counts pongs in its pending
    /// bytes, which max_pending bounds).
    fn pong(&self, payload: &[u8], max: usize) -> bool {
        let frame = control_frame(frame::OP_PONG, payload);
        let mut p = self.inner.lock();
        p.frames.extend_from_slice(&frame);
        p.frames.len() <= max
    }

    /// Queues a close frame with `payload`, unless one was queued before.
    fn close(&self, payload: &[u8]) {
        self.inner.lock().close(payload);
    }
}

impl Pending {
    fn close(&mut self, payload: &[u8]) {
        if !self.close_queued {
            self.close_queued = true;
            self.close = Some(control_frame(frame::OP_CLOSE, payload));
        }
    }
}

/// Go's close status for the reason a connection closed.
pub fn close_status(reason: ClosedState) -> u16 {
    use ClosedState::*;
    match reason {
        ClientClosed => status::NORMAL_CLOSURE,
        AuthenticationTimeout
        | AuthenticationViolation
        | SlowConsumerPendingBytes
        | SlowConsumerWriteDeadline
        | MaxAccountConnectionsExceeded
        | MaxConnectionsExceeded
        | MaxControlLineExceeded => status::POLICY_VIOLATION,
        TlsHandshakeError => status::TLS_HANDSHAKE,
        ParseError | ProtocolViolation | BadClientProtocolVersion => status::PROTOCOL_ERROR,
        MaxPayloadExceeded => status::MESSAGE_TOO_BIG,
        ServerShutdown => status::GOING_AWAY,
        WriteError | ReadError | StaleConnection => status::ABNORMAL_CLOSURE,
        NoRespondersRequiresHeaders => status::INTERNAL_SERVER_ERROR,
    }
}

/// Size of one read from the socket.
const READ_SIZE: usize = 32 * 1024;

/// The client protocol bytes carried by a WebSocket client's frames.
pub struct WsRead<R> {
    inner: R,
    client: Arc<Connection>,
    control: Arc<Control>,
    decoder: Decoder,
    /// Bytes read from the socket and not decoded yet.
    raw: BytesMut,
    /// Decoded bytes the reader has not taken yet.
    decoded: BytesMut,
    /// The client sent a close frame, or broke the framing rules: what
    /// was decoded before is delivered, then the end.
    ended: Option<io::ErrorKind>,
}

impl<R> WsRead<R> {
    /// `masked`: the client masks its frames (it did not ask for no
    /// masking). A compressed message may inflate to `max_inflated` bytes.
    pub fn new(
        inner: R,
        client: Arc<Connection>,
        control: Arc<Control>,
        masked: bool,
        max_inflated: usize,
    ) -> Self {
        Self {
            inner,
            client,
            control,
            decoder: Decoder::new(masked, max_inflated),
            raw: BytesMut::new(),
            decoded: BytesMut::new(),
            ended: None,
        }
    }

    /// Decodes what was read; control frames are answered through the
    /// writer.
    fn decode(&mut self) {
        let Self {
            decoder,
            raw,
            decoded,
            control,
            ..
        } = self;
        let mut answered = false;
        let mut closed = false;
        let mut flooded = false;
        let max_pongs = usize::try_from(self.client.max_pending).unwrap_or(usize::MAX);
        let result = decoder.decode(&mut raw[..], |e| match e {
            Event::Data(b) => decoded.extend_from_slice(b),
            Event::Inflated(b) => decoded.extend_from_slice(&b),
            Event::Ping(p) => {
                flooded |= !control.pong(p, max_pongs);
                answered = true;
            }
            Event::Close(reply) => {
                control.close(&reply);
                answered = true;
                closed = true;
            }
        });
        match result {
            Ok(used) => {
                raw.advance(used);
                if closed {
                    self.ended = Some(io::ErrorKind::UnexpectedEof);
                }
            }
            Err(e) => {
                crate::error!("{} - read error: {e}", self.client.label());
                if e.is_protocol_error() {
                    self.control
                        .close(&close_payload(status::PROTOCOL_ERROR, &e.to_string()));
                    answered = true;
                }
                self.ended = Some(io::ErrorKind::InvalidData);
            }
        }
        if flooded {
            crate::notice!(
                "{} - Slow Consumer Detected: MaxPending of {} Exceeded",
                self.client.label(),
                self.client.max_pending
            );
            self.client.count_slow_consumer();
            self.client.close(ClosedState::SlowConsumerPendingBytes);
            self.ended = Some(io::ErrorKind::InvalidData);
        }
        if answered {
            self.client.write_ready.notify_one();
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for WsRead<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        loop {
            if !me.decoded.is_empty() {
                let n = me.decoded.len().min(buf.remaining());
                buf.put_slice(&me.decoded[..n]);
                me.decoded.advance(n);
                return Poll::Ready(Ok(()));
            }
            match me.ended {
                // A close frame ends the stream as the client's close.
                Some(io::ErrorKind::UnexpectedEof) => return Poll::Ready(Ok(())),
                Some(kind) => return Poll::Ready(Err(kind.into())),
                None => {}
            }
            me.raw.reserve(READ_SIZE);
            let before = me.raw.len();
            let mut read = ReadBuf::uninit(me.raw.spare_capacity_mut());
            match Pin::new(&mut me.inner).poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    let n = read.filled().len();
                    if n == 0 {
                        return Poll::Ready(Ok(()));
                    }
                    // SAFETY: `n` bytes of the spare capacity were just
                    // initialized by the read.
                    unsafe { me.raw.set_len(before + n) };
                }
            }
            me.decode();
        }
    }
}

/// The queued bytes one WebSocket message carries at most.
const MESSAGE_SIZE: usize = 1 << 20;

/// Writes `head`, the `body` slices and `end`, in that order, with as few
/// system calls as the socket allows.
async fn write_all_vectored(
    io: &mut (dyn AsyncWrite + Send + Unpin),
    head: &[u8],
    body: &[&[u8]],
    end: &[u8],
) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = std::iter::once(head)
        .chain(body.iter().copied())
        .chain(std::iter::once(end))
        .filter(|s| !s.is_empty())
        .map(IoSlice::new)
        .collect();
    if slices.is_empty() {
        return Ok(());
    }
    let mut left = &mut slices[..];
    while !left.is_empty() {
        let n = io.write_vectored(left).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut left, n);
    }
    io.flush().await
}

/// The writer's end of a WebSocket client.
pub struct WsSink {
    io: Box<dyn AsyncWrite + Send + Unpin>,
    framer: Framer,
    control: Arc<Control>,
    /// Frames built for one write.
    out: Vec<u8>,
}

impl WsSink {
    pub fn new(
        io: Box<dyn AsyncWrite + Send + Unpin>,
        rules: FrameRules,
        control: Arc<Control>,
    ) -> Self {
        Self {
            io,
            framer: Framer::new(rules),
            control,
            out: Vec::new(),
        }
    }

    /// Writes queued control frames, then what `data` holds (when
    /// `flush_data`), then, once the connection is closing, the close
    /// frame: the client's echoed or the server's own for `closing`, once.
    /// The data goes in messages of [`MESSAGE_SIZE`] bytes at most, each
    /// dropped from `data` and told to `wrote` once written: a large
    /// backlog's memory, and its deflated copy, shrink as it goes.
    pub async fn write(
        &mut self,
        data: &mut Chunks,
        closing: Option<ClosedState>,
        flush_data: bool,
        mut wrote: impl FnMut(usize),
    ) -> io::Result<()> {
        self.out.clear();
        let close = {
            let mut p = self.control.inner.lock();
            self.out.append(&mut p.frames);
            if let Some(reason) = closing.filter(|_| flush_data) {
                p.close(&close_payload(close_status(reason), &reason.to_string()));
            }
            p.close.take()
        };
        let close = close.unwrap_or_default();
        if flush_data && self.framer.compresses() {
            return self.write_deflated(data, &close, wrote).await;
        }
        loop {
            let parts = if flush_data {
                data.front(MESSAGE_SIZE)
            } else {
                Vec::new()
            };
            let n: usize = parts.iter().map(|p| p.len()).sum();
            let last = !flush_data || n == data.len();
            // The queued bytes (or their deflated form) follow their frame
            // header as they are, without a copy.
            let body = self.framer.frame_vectored(&parts, &mut self.out);
            let end: &[u8] = if last { &close } else { &[] };
            write_all_vectored(&mut *self.io, &self.out, &body, end).await?;
            self.out.clear();
            if n > 0 {
                data.consume(n);
                wrote(n);
            }
            if last {
                break;
            }
        }
        if self.out.capacity() > KEEP_CAPACITY {
            self.out = Vec::new();
        }
        Ok(())
    }

    /// Deflates all of `data` before writing: the queued bytes are dropped
    /// as they are deflated, so that while a slow reader takes the messages
    /// the server holds their compact form. As in Go, the connection's
    /// pending bytes then count the deflated size: what deflating saved is
    /// told to `wrote` at once, the rest as it is written. The deflated
    /// frames are kept in chunks of the size the queued bytes had, so the
    /// memory freed by one is what the other takes, and each is freed once
    /// written.
    async fn write_deflated(
        &mut self,
        data: &mut Chunks,
        close: &[u8],
        mut wrote: impl FnMut(usize),
    ) -> io::Result<()> {
        let mut frames = Chunks::default();
        let mut header = Vec::new();
        let mut owed = 0;
        while !data.is_empty() {
            let parts = data.front(MESSAGE_SIZE);
            let n: usize = parts.iter().map(|p| p.len()).sum();
            header.clear();
            let body = self.framer.frame_vectored(&parts, &mut header);
            let framed = header.len() + body.iter().map(|b| b.len()).sum::<usize>();
            frames.push(&header);
            for b in body {
                frames.push(b);
            }
            data.consume(n);
            owed += framed.min(n);
            wrote(n.saturating_sub(framed));
        }
        let mut head: &[u8] = &self.out;
        let written = loop {
            let body = frames.front(MESSAGE_SIZE);
            let n: usize = body.iter().map(|b| b.len()).sum();
            let last = n == frames.len();
            let end = if last { close } else { &[] };
            if let Err(e) = write_all_vectored(&mut *self.io, head, &body, end).await {
                break Err(e);
            }
            head = &[];
            frames.consume(n);
            let told = n.min(owed);
            owed -= told;
            wrote(told);
            if last {
                break Ok(());
            }
        };
        // What was never written (an error) leaves the pending count too.
        if owed > 0 {
            wrote(owed);
        }
        if self.out.capacity() > KEEP_CAPACITY {
            self.out = Vec::new();
        }
        written
    }

    pub async fn shutdown(&mut self) {
        let _ = self.io.shutdown().await;
    }
}
