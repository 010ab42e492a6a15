//! WebSocket frames (RFC 6455) as nats-server 2.9.10 reads and writes them.
//!
//! Reading follows Go's checks and their order: the mask bit first (unless
//! the client asked for no masking), then the opcode rules, then the
//! length. The RSV2 and RSV3 bits are ignored, text frames are taken as
//! binary ones, and a compressed message is inflated whole once its final
//! frame is in. Protocol errors carry Go's texts, which go to the client in
//! a close frame with status 1002.
//!
//! Writing: the server never masks, control frames are never compressed,
//! and close payloads are truncated as Go truncates them.

use std::fmt;

pub const OP_CONTINUATION: u8 = 0;
pub const OP_TEXT: u8 = 1;
pub const OP_BINARY: u8 = 2;
pub const OP_CLOSE: u8 = 8;
pub const OP_PING: u8 = 9;
pub const OP_PONG: u8 = 10;

const FINAL_BIT: u8 = 0x80;
const RSV1_BIT: u8 = 0x40;
const MASK_BIT: u8 = 0x80;

/// Longest payload of a control frame.
pub const MAX_CONTROL_PAYLOAD: usize = 125;
/// Longest frame header: 2 bytes, an 8-byte length and a 4-byte mask key.
pub const MAX_HEADER: usize = 14;

/// Close status codes the server sends (RFC 6455 section 7.4.1).
pub mod status {
    pub const NORMAL_CLOSURE: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const NO_STATUS_RECEIVED: u16 = 1005;
    pub const ABNORMAL_CLOSURE: u16 = 1006;
    pub const INVALID_PAYLOAD_DATA: u16 = 1007;
    pub const POLICY_VIOLATION: u16 = 1008;
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    pub const INTERNAL_SERVER_ERROR: u16 = 1011;
    pub const TLS_HANDSHAKE: u16 = 1015;
}

/// Why a client's frames cannot be read. The protocol violations print as
/// Go's texts; the server sends them in its close frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    MaskBitMissing,
    ControlTooLong,
    ControlNotFinal,
    NewMessageBeforeFinal,
    InvalidContinuation,
    UnknownOpcode(u8),
    /// The deflated payload of a compressed message is corrupt.
    Inflate(String),
    /// A compressed message inflates past the decoder's bound.
    InflatedTooLarge(usize),
}

impl FrameError {
    /// A violation of the framing rules, answered with a close frame with
    /// status 1002 and this text; the others end the connection as a read
    /// error.
    pub fn is_protocol_error(&self) -> bool {
        !matches!(
            self,
            FrameError::Inflate(_) | FrameError::InflatedTooLarge(_)
        )
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::MaskBitMissing => f.write_str("mask bit missing"),
            FrameError::ControlTooLong => write!(
                f,
                "control frame length bigger than maximum allowed of {MAX_CONTROL_PAYLOAD} bytes"
            ),
            FrameError::ControlNotFinal => f.write_str("control frame does not have final bit set"),
            FrameError::NewMessageBeforeFinal => f.write_str(
                "new message started before final frame for previous message was received",
            ),
            FrameError::InvalidContinuation => f.write_str("invalid continuation frame"),
            FrameError::UnknownOpcode(op) => write!(f, "unknown opcode {op}"),
            FrameError::Inflate(e) => write!(f, "flate: {e}"),
            FrameError::InflatedTooLarge(max) => {
                write!(f, "compressed message inflates past {max} bytes")
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// What a read of frames found, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Bytes of a message, unmasked in place.
    Data(&'a [u8]),
    /// A whole compressed message, inflated.
    Inflated(Vec<u8>),
    /// A ping: the server answers with a pong carrying this payload.
    Ping(&'a [u8]),
    /// A close: the server answers with this close payload and stops
    /// reading.
    Close(Vec<u8>),
}

/// The payload of the frame being read.
#[derive(Debug, Clone, Copy)]
struct Payload {
    remaining: u64,
    key: Option<[u8; 4]>,
    key_pos: usize,
}

/// Reads a client's frames from successive reads of its socket.
pub struct Decoder {
    /// Client frames must be masked (all but `Nats-No-Masking` clients).
    masked: bool,
    /// Bound on an inflated message.
    max_inflated: usize,
    /// Inside a data frame's payload.
    payload: Option<Payload>,
    /// The last data frame was final: a new message may start (Go's `ff`).
    message_done: bool,
    /// The current message is compressed (Go's `fc`).
    compressed: bool,
    /// The deflated bytes of the current compressed message.
    deflated: Vec<u8>,
    inflater: Option<flate2::Decompress>,
}

/// Tail that makes a deflate stream flushed with a sync block end cleanly
/// (RFC 7692 section 7.2.2).
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

impl Decoder {
    pub fn new(masked: bool, max_inflated: usize) -> Self {
        Self {
            masked,
            max_inflated,
            payload: None,
            message_done: true,
            compressed: false,
            deflated: Vec::new(),
            inflater: None,
        }
    }

    /// Decodes what `buf` holds, unmasking payloads in place, and hands
    /// each event to `on`. Returns how many bytes were used: a frame header
    /// or a control frame cut by the end of `buf` is left for the next
    /// call, with more bytes after it. Stops after a close.
    pub fn decode<'a>(
        &mut self,
        mut buf: &'a mut [u8],
        mut on: impl FnMut(Event<'a>),
    ) -> Result<usize, FrameError> {
        let mut used = 0;
        loop {
            if let Some(p) = self.payload.as_mut() {
                let n = (p.remaining.min(buf.len() as u64)) as usize;
                let (data, rest) = std::mem::take(&mut buf).split_at_mut(n);
                buf = rest;
                used += n;
                if let Some(key) = p.key {
                    p.key_pos = unmask(data, key, p.key_pos);
                }
                p.remaining -= n as u64;
                let done = p.remaining == 0;
                if done {
                    self.payload = None;
                }
                if self.compressed {
                    self.deflated.extend_from_slice(data);
                    if done && self.message_done {
                        self.compressed = false;
                        on(Event::Inflated(self.inflate()?));
                    }
                } else if !data.is_empty() {
                    on(Event::Data(data));
                }
                if !done {
                    return Ok(used);
                }
            }
            let Some(header) = Header::parse(buf, self.masked)? else {
                return Ok(used);
            };
            if header.is_control() {
                let whole = header.len + header.payload as usize;
                if buf.len() < whole {
                    return Ok(used);
                }
                let (frame, rest) = std::mem::take(&mut buf).split_at_mut(whole);
                buf = rest;
                used += whole;
                let payload = &mut frame[header.len..];
                if let Some(key) = header.key {
                    unmask(payload, key, 0);
                }
                match header.opcode {
                    OP_CLOSE => {
                        on(Event::Close(close_reply(payload)));
                        return Ok(used);
                    }
                    OP_PING => on(Event::Ping(payload)),
                    _ => {}
                }
                continue;
            }
            match header.opcode {
                OP_TEXT | OP_BINARY => {
                    if !self.message_done {
                        return Err(FrameError::NewMessageBeforeFinal);
                    }
                    self.compressed = header.compressed;
                }
                _ => {
                    if self.message_done || header.compressed {
                        return Err(FrameError::InvalidContinuation);
                    }
                }
            }
            self.message_done = header.final_frame;
            buf = &mut std::mem::take(&mut buf)[header.len..];
            used += header.len;
            self.payload = Some(Payload {
                remaining: header.payload,
                key: header.key,
                key_pos: 0,
            });
        }
    }

    /// Inflates the collected message (no context is kept between
    /// messages).
    fn inflate(&mut self) -> Result<Vec<u8>, FrameError> {
        use flate2::{Decompress, FlushDecompress, Status};
        self.deflated.extend_from_slice(&SYNC_TAIL);
        let inflater = self.inflater.get_or_insert_with(|| Decompress::new(false));
        inflater.reset(false);
        let input = &self.deflated;
        let mut out = Vec::with_capacity((input.len() * 4).min(self.max_inflated));
        let mut at = 0;
        loop {
            if out.len() == out.capacity() {
                if out.len() >= self.max_inflated {
                    return Err(FrameError::InflatedTooLarge(self.max_inflated));
                }
                out.reserve(out.len().max(1024).min(self.max_inflated - out.len()));
            }
            let (in_before, out_before) = (inflater.total_in(), out.len());
            // Go's flate names where the input went bad, as here.
            let corrupt = |d: &Decompress| {
                FrameError::Inflate(format!("corrupt input before offset {}", d.total_in()))
            };
            let status = inflater
                .decompress_vec(&input[at..], &mut out, FlushDecompress::Sync)
                .map_err(|_| corrupt(inflater))?;
            let consumed = (inflater.total_in() - in_before) as usize;
            at += consumed;
            let room_left = out.len() < out.capacity();
            if status == Status::StreamEnd || (at >= input.len() && room_left) {
                break;
            }
            if consumed == 0 && out.len() == out_before && room_left {
                return Err(corrupt(inflater));
            }
        }
        self.deflated.clear();
        Ok(out)
    }
}

/// A frame header, parsed in Go's order of checks.
struct Header {
    opcode: u8,
    final_frame: bool,
    compressed: bool,
    payload: u64,
    key: Option<[u8; 4]>,
    /// Bytes of the header.
    len: usize,
}

impl Header {
    fn is_control(&self) -> bool {
        self.opcode >= OP_CLOSE
    }

    /// The header at the start of `buf`; None when `buf` ends inside it.
    /// Errors are found as soon as the bytes that show them are in.
    fn parse(buf: &[u8], masked: bool) -> Result<Option<Header>, FrameError> {
        let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else {
            return Ok(None);
        };
        let opcode = b0 & 0x0f;
        let final_frame = b0 & FINAL_BIT != 0;
        if masked && b1 & MASK_BIT == 0 {
            return Err(FrameError::MaskBitMissing);
        }
        let short = b1 & 0x7f;
        match opcode {
            OP_CLOSE | OP_PING | OP_PONG => {
                if short as usize > MAX_CONTROL_PAYLOAD {
                    return Err(FrameError::ControlTooLong);
                }
                if !final_frame {
                    return Err(FrameError::ControlNotFinal);
                }
            }
            OP_TEXT | OP_BINARY | OP_CONTINUATION => {}
            other => return Err(FrameError::UnknownOpcode(other)),
        }
        let (payload, mut len) = match short {
            126 => match buf.get(2..4) {
                Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
                None => return Ok(None),
            },
            127 => match buf.get(2..10) {
                Some(b) => (u64::from_be_bytes(b.try_into().expect("8 bytes")), 10),
                None => return Ok(None),
            },
            n => (u64::from(n), 2),
        };
        let key = if masked {
            let Some(k) = buf.get(len..len + 4) else {
                return Ok(None);
            };
            len += 4;
            Some([k[0], k[1], k[2], k[3]])
        } else {
            None
        };
        Ok(Some(Header {
            opcode,
            final_frame,
            compressed: b0 & RSV1_BIT != 0,
            payload,
            key,
            len,
        }))
    }
}

/// XORs `data` with `key`, starting at `pos` in the key; returns the
/// position after.
pub fn unmask(data: &mut [u8], key: [u8; 4], pos: usize) -> usize {
    let mut rotated = [0u8; 4];
    for (i, r) in rotated.iter_mut().enumerate() {
        *r = key[(pos + i) & 3];
    }
    let word = u32::from_ne_bytes(rotated);
    let mut chunks = data.chunks_exact_mut(4);
    for c in &mut chunks {
        let v = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]) ^ word;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    let tail = chunks.into_remainder();
    for (i, b) in tail.iter_mut().enumerate() {
        *b ^= rotated[i];
    }
    (pos + data.len()) & 3
}

/// The server's answer to a client's close payload: its status echoed
/// (1005 when it had none), and its reason unless that is not UTF-8.
pub fn close_reply(payload: &[u8]) -> Vec<u8> {
    if payload.len() < 2 {
        return close_payload(status::NO_STATUS_RECEIVED, "");
    }
    let code = u16::from_be_bytes([payload[0], payload[1]]);
    match std::str::from_utf8(&payload[2..]) {
        Ok(body) => close_payload(code, body),
        Err(_) => close_payload(
            status::INVALID_PAYLOAD_DATA,
            "invalid utf8 body in close frame",
        ),
    }
}

/// A close payload: the status, then the reason, cut to fit a control
/// frame with "..." at the end when too long.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + reason.len().min(MAX_CONTROL_PAYLOAD - 2));
    out.extend_from_slice(&code.to_be_bytes());
    if reason.len() > MAX_CONTROL_PAYLOAD - 2 {
        out.extend_from_slice(&reason.as_bytes()[..MAX_CONTROL_PAYLOAD - 5]);
        out.extend_from_slice(b"...");
    } else {
        out.extend_from_slice(reason.as_bytes());
    }
    out
}

/// Appends an unmasked frame header.
pub fn put_header(
    out: &mut Vec<u8>,
    opcode: u8,
    first: bool,
    last: bool,
    compressed: bool,
    len: usize,
) {
    let mut b0 = if first { opcode } else { OP_CONTINUATION };
    if last {
        b0 |= FINAL_BIT;
    }
    if compressed {
        b0 |= RSV1_BIT;
    }
    if len <= 125 {
        out.extend_from_slice(&[b0, len as u8]);
    } else if len < 65536 {
        out.extend_from_slice(&[b0, 126]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&[b0, 127]);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// A whole control frame (pong, close) as the server sends it.
pub fn control_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + payload.len());
    put_header(&mut out, opcode, true, true, false, payload.len());
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame: masked with a fixed key unless `key` is None.
    fn client_frame(b0: u8, payload: &[u8], key: Option<[u8; 4]>) -> Vec<u8> {
        let mut out = Vec::new();
        put_header(&mut out, b0 & 0x0f, true, true, false, payload.len());
        out[0] = b0;
        if let Some(k) = key {
            out[1] |= MASK_BIT;
            out.extend_from_slice(&k);
            let mut p = payload.to_vec();
            unmask(&mut p, k, 0);
            out.extend_from_slice(&p);
        } else {
            out.extend_from_slice(payload);
        }
        out
    }

    const KEY: Option<[u8; 4]> = Some([1, 2, 3, 4]);

    /// Decodes `input` fed in pieces of `step` bytes, keeping what a call
    /// left unused, as the server's reader does.
    fn decode_all(d: &mut Decoder, input: &[u8], step: usize) -> Result<Vec<String>, FrameError> {
        let mut events = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        for piece in input.chunks(step) {
            pending.extend_from_slice(piece);
            let mut buf = pending.clone();
            let used = d.decode(&mut buf, |e| {
                events.push(match e {
                    Event::Data(b) => format!("data:{}", String::from_utf8_lossy(b)),
                    Event::Inflated(b) => format!("inflated:{}", String::from_utf8_lossy(&b)),
                    Event::Ping(b) => format!("ping:{}", String::from_utf8_lossy(b)),
                    Event::Close(b) => format!("close:{:?}", b),
                })
            })?;
            pending.drain(..used);
        }
        // Data cut by the reads is joined back.
        let mut joined: Vec<String> = Vec::new();
        for e in events {
            match (joined.last_mut(), e.strip_prefix("data:")) {
                (Some(last), Some(more)) if last.starts_with("data:") => last.push_str(more),
                _ => joined.push(e),
            }
        }
        Ok(joined)
    }

    fn joined_data(events: &[String]) -> String {
        events
            .iter()
            .filter_map(|e| e.strip_prefix("data:"))
            .collect()
    }

    #[test]
    fn masked_frames_of_every_length_form_read_whole_at_any_cut() {
        for len in [0usize, 1, 125, 126, 200, 65535, 65536, 70000] {
            let payload: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let frame = client_frame(0x82, &payload, KEY);
            for step in [1, 7, frame.len()] {
                let mut d = Decoder::new(true, 1 << 20);
                let events = decode_all(&mut d, &frame, step).unwrap();
                assert_eq!(
                    joined_data(&events).as_bytes(),
                    &payload[..],
                    "len {len} step {step}"
                );
            }
        }
    }

    #[test]
    fn fragments_with_a_ping_between_read_in_order() {
        let mut input = client_frame(0x02, b"first ", KEY); // binary, not final
        input.extend(client_frame(0x89, b"hi", KEY)); // ping
        input.extend(client_frame(0x80, b"last", KEY)); // final continuation
        let events = decode_all(&mut Decoder::new(true, 1 << 20), &input, 3).unwrap();
        assert_eq!(events, ["data:first ", "ping:hi", "data:last"]);
    }

    #[test]
    fn close_is_echoed_and_stops_reading() {
        let mut payload = 1001u16.to_be_bytes().to_vec();
        payload.extend_from_slice(b"bye");
        let mut input = client_frame(0x88, &payload, KEY);
        input.extend(client_frame(0x82, b"after", KEY));
        let mut d = Decoder::new(true, 1 << 20);
        let mut buf = input.clone();
        let mut events = Vec::new();
        let used = d
            .decode(&mut buf, |e| events.push(format!("{e:?}")))
            .unwrap();
        assert_eq!(used, input.len() - client_frame(0x82, b"after", KEY).len());
        assert_eq!(events, [format!("{:?}", Event::Close(payload))]);
    }

    #[test]
    fn close_replies_as_go_does() {
        assert_eq!(close_reply(&[]), 1005u16.to_be_bytes());
        assert_eq!(close_reply(&[3]), 1005u16.to_be_bytes());
        let mut bad = 1000u16.to_be_bytes().to_vec();
        bad.extend_from_slice(&[0xff, 0xfe]);
        let mut want = 1007u16.to_be_bytes().to_vec();
        want.extend_from_slice(b"invalid utf8 body in close frame");
        assert_eq!(close_reply(&bad), want);
        let long = "x".repeat(200);
        let p = close_payload(1002, &long);
        assert_eq!(p.len(), MAX_CONTROL_PAYLOAD);
        assert!(p.ends_with(b"xx..."));
    }

    #[test]
    fn protocol_errors_have_go_texts() {
        let cases: [(Vec<u8>, &str); 6] = [
            (client_frame(0x82, b"x", None), "mask bit missing"),
            (
                client_frame(0x89, &[0; 126], KEY),
                "control frame length bigger than maximum allowed of 125 bytes",
            ),
            (
                client_frame(0x09, b"", KEY),
                "control frame does not have final bit set",
            ),
            (client_frame(0x80, b"x", KEY), "invalid continuation frame"),
            (client_frame(0x83, b"x", KEY), "unknown opcode 3"),
            (
                [client_frame(0x02, b"a", KEY), client_frame(0x82, b"b", KEY)].concat(),
                "new message started before final frame for previous message was received",
            ),
        ];
        for (input, text) in cases {
            let err =
                decode_all(&mut Decoder::new(true, 1 << 20), &input, input.len()).unwrap_err();
            assert_eq!(err.to_string(), text);
            assert!(err.is_protocol_error());
        }
    }

    #[test]
    fn unmasked_frames_read_when_no_masking_was_agreed() {
        let input = client_frame(0x82, b"plain", None);
        let events = decode_all(&mut Decoder::new(false, 1 << 20), &input, 2).unwrap();
        assert_eq!(events, ["data:plain"]);
    }

    #[test]
    fn compressed_messages_inflate_once_whole() {
        let text = "PUB foo 5\r\nhello\r\n".repeat(50);
        let mut framer =
            crate::websocket::outbound::Framer::new(crate::websocket::outbound::FrameRules {
                compress: true,
                ..Default::default()
            });
        let mut server_frames = Vec::new();
        framer.frame(&[text.as_bytes()], &mut server_frames);
        // Re-mask the server's compressed frame as a client would send it,
        // split in two fragments.
        let header = if server_frames[1] == 126 { 4 } else { 2 };
        let deflated = &server_frames[header..];
        let (a, b) = deflated.split_at(deflated.len() / 2);
        let mut input = client_frame(0x42, a, KEY); // compressed, not final
        input.extend(client_frame(0x80, b, KEY));
        let events = decode_all(&mut Decoder::new(true, 1 << 20), &input, 5).unwrap();
        assert_eq!(events, [format!("inflated:{text}")]);
        let err = decode_all(&mut Decoder::new(true, 100), &input, input.len()).unwrap_err();
        assert_eq!(err, FrameError::InflatedTooLarge(100));
        let garbage = client_frame(0xc2, &[0xff; 20], KEY);
        let err = decode_all(&mut Decoder::new(true, 1 << 20), &garbage, 20).unwrap_err();
        assert!(matches!(err, FrameError::Inflate(_)), "{err:?}");
    }
}
