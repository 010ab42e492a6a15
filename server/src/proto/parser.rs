//! The client protocol parser.
//!
//! Works on the connection's read buffer: each call looks at the bytes not
//! yet consumed and either returns one complete operation (consuming its
//! bytes), asks for more input, or reports the error the Go server would
//! report at the first offending byte. Message payloads are split off the
//! buffer as `Bytes` without copying.
//!
//! Operation names are matched byte by byte (so a bad byte is reported as
//! soon as it arrives), argument lines are found with `memchr`, and a
//! payload is taken by length once its control line has been accepted by the
//! caller (see [`Parser::expect_payload`]).

use bytes::{Buf, Bytes, BytesMut};
use memchr::memchr;

/// Go's parser state numbers, used only in the error log line.
pub mod state {
    pub const OP_START: u8 = 0;
    pub const MINUS_ERR_ARG: u8 = 9;
    pub const CONNECT_ARG: u8 = 17;
    pub const HPUB_ARG: u8 = 23;
    pub const HMSG_ARG: u8 = 28;
    pub const PUB_ARG: u8 = 33;
    pub const MSG_END_R: u8 = 41;
    pub const MSG_END_N: u8 = 42;
    pub const SUB_ARG: u8 = 47;
    pub const UNSUB_ARG: u8 = 65;
    pub const INFO_ARG: u8 = 75;
}

/// One complete client operation.
#[derive(Debug, PartialEq)]
pub enum Event {
    Connect(Bytes),
    /// A PUB control line; the caller validates it and then calls
    /// [`Parser::expect_payload`].
    Pub(Bytes),
    /// An HPUB control line, handled like [`Event::Pub`].
    HPub(Bytes),
    /// An HMSG control line from a client: the Go server ignores it and then
    /// expects an empty payload.
    HMsg(Bytes),
    /// The payload (headers included) of the last accepted PUB/HPUB,
    /// without its trailing CRLF.
    Payload(Bytes),
    Sub(Bytes),
    Unsub(Bytes),
    Ping,
    Pong,
    Info(Bytes),
    Ok,
    Err(Bytes),
}

/// Why parsing stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// `-ERR 'Unknown Protocol Operation'`: Go state number and the offset
    /// of the offending byte in the unconsumed input.
    Unknown { state: u8, pos: usize },
    /// An argument line longer than max_control_line (length given).
    ControlLine { state: u8, len: usize },
    /// A first operation other than CONNECT while authentication is
    /// required.
    AuthRequired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// Between operations.
    Op,
    /// Waiting for `size` payload bytes and CRLF.
    Payload { size: usize, discard: bool },
}

/// What kind of argument-line op was recognised.
#[derive(Clone, Copy)]
enum ArgOp {
    Connect,
    Pub,
    HPub,
    HMsg,
    Sub,
    Unsub,
    Info,
    Err,
}

impl ArgOp {
    fn state(self) -> u8 {
        match self {
            ArgOp::Connect => state::CONNECT_ARG,
            ArgOp::Pub => state::PUB_ARG,
            ArgOp::HPub => state::HPUB_ARG,
            ArgOp::HMsg => state::HMSG_ARG,
            ArgOp::Sub => state::SUB_ARG,
            ArgOp::Unsub => state::UNSUB_ARG,
            ArgOp::Info => state::INFO_ARG,
            ArgOp::Err => state::MINUS_ERR_ARG,
        }
    }
}

/// Result of matching an operation name at the start of the input.
enum Head {
    /// Need more bytes.
    More,
    /// Bad byte at this offset, in this Go state.
    Bad(u8, usize),
    /// An op with an argument line; the argument starts at this offset.
    Arg(ArgOp, usize),
    /// PING, PONG or +OK: the name ended at this offset (rest of line ignored).
    Line(Event, usize),
}

/// Matches `word` case-insensitively at `buf[at..]`. Returns the offset
/// after it, `Err(None)` if more bytes are needed, `Err(Some(pos))` for a bad
/// byte.
fn word(buf: &[u8], at: usize, word: &[u8]) -> Result<usize, Option<usize>> {
    for (i, w) in word.iter().enumerate() {
        match buf.get(at + i) {
            None => return Err(None),
            Some(b) if b.eq_ignore_ascii_case(w) => {}
            Some(_) => return Err(Some(at + i)),
        }
    }
    Ok(at + word.len())
}

/// Go state numbers while matching the letters of each op name.
fn name_state(first: u8, idx: usize) -> u8 {
    // The state after having matched `idx` letters of the op.
    match first {
        b'P' => [0, 29, 30, 31][idx.min(3)],
        b'I' => [0, 29, 34, 35, 36][idx.min(4)],
        b'O' => [0, 29, 37, 38, 39][idx.min(4)],
        b'H' => [0, 18, 19, 20, 21][idx.min(4)],
        b'M' => [0, 18, 24, 25, 26][idx.min(4)],
        b'S' => [0, 43, 44, 45][idx.min(3)],
        b'U' => [0, 59, 60, 61, 62, 63][idx.min(5)],
        b'C' => [0, 10, 11, 12, 13, 14, 15, 16][idx.min(7)],
        b'N' => [0, 71, 72, 73, 74][idx.min(4)],
        b'+' => [0, 1, 2, 3][idx.min(3)],
        b'-' => [0, 4, 5, 6, 7][idx.min(4)],
        _ => 0,
    }
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Matches the op name at the start of `buf`.
fn head(buf: &[u8]) -> Head {
    let Some(&first) = buf.first() else {
        return Head::More;
    };
    // `spc`: the op requires at least one space or tab after its name.
    let (name, key, op, spc): (&[u8], u8, Option<ArgOp>, bool) = match first {
        b'P' | b'p' => match buf.get(1).map(|b| b.to_ascii_uppercase()) {
            None => return Head::More,
            Some(b'U') => (b"PUB", b'P', Some(ArgOp::Pub), true),
            Some(b'I') => (b"PING", b'I', None, false),
            Some(b'O') => (b"PONG", b'O', None, false),
            Some(_) => return Head::Bad(29, 1),
        },
        b'H' | b'h' => match buf.get(1).map(|b| b.to_ascii_uppercase()) {
            None => return Head::More,
            Some(b'P') => (b"HPUB", b'H', Some(ArgOp::HPub), true),
            Some(b'M') => (b"HMSG", b'M', Some(ArgOp::HMsg), true),
            Some(_) => return Head::Bad(18, 1),
        },
        b'S' | b's' => (b"SUB", b'S', Some(ArgOp::Sub), true),
        b'U' | b'u' => (b"UNSUB", b'U', Some(ArgOp::Unsub), true),
        b'C' | b'c' => (b"CONNECT", b'C', Some(ArgOp::Connect), false),
        b'I' | b'i' => (b"INFO", b'N', Some(ArgOp::Info), false),
        b'+' => (b"+OK", b'+', None, false),
        b'-' => (b"-ERR", b'-', Some(ArgOp::Err), true),
        _ => return Head::Bad(state::OP_START, 0),
    };
    let end = match word(buf, 0, name) {
        Ok(e) => e,
        Err(None) => return Head::More,
        Err(Some(pos)) => return Head::Bad(name_state(key, pos), pos),
    };
    let Some(op) = op else {
        let ev = match key {
            b'I' => Event::Ping,
            b'O' => Event::Pong,
            _ => Event::Ok,
        };
        return Head::Line(ev, end);
    };
    let mut at = end;
    if spc {
        match buf.get(at) {
            None => return Head::More,
            Some(&b) if is_space(b) => at += 1,
            Some(_) => return Head::Bad(name_state(key, name.len()), at),
        }
    }
    while let Some(&b) = buf.get(at) {
        if !is_space(b) {
            return Head::Arg(op, at);
        }
        at += 1;
    }
    Head::More
}

/// Parser state for one connection.
#[derive(Debug)]
pub struct Parser {
    pending: Pending,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl Parser {
    pub fn new() -> Self {
        Self {
            pending: Pending::Op,
        }
    }

    /// After accepting a PUB/HPUB (or an ignored HMSG) control line: the
    /// next `size` bytes and CRLF are its payload.
    pub fn expect_payload(&mut self, size: usize, discard: bool) {
        self.pending = Pending::Payload { size, discard };
    }

    /// Takes the next operation from `buf`. `Ok(None)` means more input is
    /// needed. `expect_connect` makes any first op other than CONNECT an
    /// authentication error.
    pub fn next(
        &mut self,
        buf: &mut BytesMut,
        max_control_line: usize,
        expect_connect: bool,
    ) -> Result<Option<Event>, ParseError> {
        loop {
            if let Pending::Payload { size, discard } = self.pending {
                let avail = buf.len();
                if avail > size && buf[size] != b'\r' {
                    return Err(ParseError::Unknown {
                        state: state::MSG_END_R,
                        pos: size,
                    });
                }
                if avail > size + 1 && buf[size + 1] != b'\n' {
                    return Err(ParseError::Unknown {
                        state: state::MSG_END_N,
                        pos: size + 1,
                    });
                }
                if avail < size + 2 {
                    return Ok(None);
                }
                let payload = buf.split_to(size).freeze();
                buf.advance(2);
                self.pending = Pending::Op;
                if discard {
                    continue;
                }
                return Ok(Some(Event::Payload(payload)));
            }
            if buf.is_empty() {
                return Ok(None);
            }
            if expect_connect && !matches!(buf[0], b'C' | b'c') {
                return Err(ParseError::AuthRequired);
            }
            match head(buf) {
                Head::More => return Ok(None),
                Head::Bad(state, pos) => return Err(ParseError::Unknown { state, pos }),
                Head::Line(ev, end) => {
                    let Some(nl) = memchr(b'\n', &buf[end..]) else {
                        return Ok(None);
                    };
                    buf.advance(end + nl + 1);
                    return Ok(Some(ev));
                }
                Head::Arg(op, start) => {
                    let nl = memchr(b'\n', &buf[start..]);
                    let line_end = nl.map_or(buf.len(), |n| start + n);
                    let line = &buf[start..line_end];
                    // Go drops one byte before the newline once it has seen
                    // a carriage return anywhere in the argument.
                    let drop = usize::from(memchr(b'\r', line).is_some());
                    let len = line.len().saturating_sub(drop);
                    if len > max_control_line {
                        return Err(ParseError::ControlLine {
                            state: op.state(),
                            len,
                        });
                    }
                    if nl.is_none() {
                        return Ok(None);
                    }
                    let mut taken = buf.split_to(line_end + 1).freeze();
                    taken.truncate(start + len);
                    let arg = taken.slice(start..);
                    return Ok(Some(match op {
                        ArgOp::Connect => Event::Connect(arg),
                        ArgOp::Pub => Event::Pub(arg),
                        ArgOp::HPub => Event::HPub(arg),
                        ArgOp::HMsg => Event::HMsg(arg),
                        ArgOp::Sub => Event::Sub(arg),
                        ArgOp::Unsub => Event::Unsub(arg),
                        ArgOp::Info => Event::Info(arg),
                        ArgOp::Err => Event::Err(arg),
                    }));
                }
            }
        }
    }
}

/// Splits an argument line on spaces and tabs (PUB/HPUB rules).
pub fn split_pub_args(arg: &Bytes) -> Vec<Bytes> {
    split_on(arg, |b| b == b' ' || b == b'\t')
}

/// Splits an argument line on spaces, tabs, CR and LF (SUB/UNSUB rules).
pub fn split_args(arg: &Bytes) -> Vec<Bytes> {
    split_on(arg, |b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

fn split_on(arg: &Bytes, sep: impl Fn(u8) -> bool) -> Vec<Bytes> {
    let mut out = Vec::with_capacity(4);
    let mut start: Option<usize> = None;
    for (i, &b) in arg.iter().enumerate() {
        if sep(b) {
            if let Some(s) = start.take() {
                out.push(arg.slice(s..i));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push(arg.slice(s..));
    }
    out
}

/// Go's parseSize: decimal digits only, else -1.
pub fn parse_size(d: &[u8]) -> i64 {
    const MAX_PARSE_SIZE_LEN: usize = 9;
    if d.is_empty() || d.len() > MAX_PARSE_SIZE_LEN {
        return -1;
    }
    let mut n: i64 = 0;
    for &c in d {
        if !c.is_ascii_digit() {
            return -1;
        }
        n = n * 10 + i64::from(c - b'0');
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces split at `cut`, accepting every PUB whose
    /// size parses, and returns the events.
    fn run(input: &[u8], cuts: &[usize]) -> Result<Vec<Event>, ParseError> {
        let mut p = Parser::new();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut last = 0;
        let mut pieces: Vec<&[u8]> = Vec::new();
        for &c in cuts {
            pieces.push(&input[last..c]);
            last = c;
        }
        pieces.push(&input[last..]);
        for piece in pieces {
            buf.extend_from_slice(piece);
            while let Some(ev) = p.next(&mut buf, 4096, false)? {
                match &ev {
                    Event::Pub(a) => {
                        let args = split_pub_args(a);
                        p.expect_payload(parse_size(&args[args.len() - 1]) as usize, false);
                    }
                    Event::HPub(a) => {
                        let args = split_pub_args(a);
                        p.expect_payload(parse_size(&args[args.len() - 1]) as usize, false);
                    }
                    _ => {}
                }
                out.push(ev);
            }
        }
        Ok(out)
    }

    const STREAM: &[u8] = b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nsub bar q 2\r\nPUB foo 5\r\nhello\r\nHPUB foo reply 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\npong\r\nUNSUB 1 5\r\n+OK\r\n-ERR 'x'\r\nINFO {}\r\nPUB foo 0\r\n\r\n";

    fn expected() -> Vec<Event> {
        vec![
            Event::Connect(Bytes::from_static(b"{\"verbose\":false}")),
            Event::Sub(Bytes::from_static(b"foo 1")),
            Event::Sub(Bytes::from_static(b"bar q 2")),
            Event::Pub(Bytes::from_static(b"foo 5")),
            Event::Payload(Bytes::from_static(b"hello")),
            Event::HPub(Bytes::from_static(b"foo reply 12 14")),
            Event::Payload(Bytes::from_static(b"NATS/1.0\r\n\r\nhi")),
            Event::Ping,
            Event::Pong,
            Event::Unsub(Bytes::from_static(b"1 5")),
            Event::Ok,
            Event::Err(Bytes::from_static(b"'x'")),
            Event::Info(Bytes::from_static(b"{}")),
            Event::Pub(Bytes::from_static(b"foo 0")),
            Event::Payload(Bytes::new()),
        ]
    }

    #[test]
    fn whole_stream() {
        assert_eq!(run(STREAM, &[]).unwrap(), expected());
    }

    #[test]
    fn split_at_every_byte() {
        for cut in 1..STREAM.len() {
            assert_eq!(run(STREAM, &[cut]).unwrap(), expected(), "cut at {cut}");
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let cuts: Vec<usize> = (1..STREAM.len()).collect();
        assert_eq!(run(STREAM, &cuts).unwrap(), expected());
    }

    #[test]
    fn unknown_ops() {
        assert_eq!(
            run(b"FOO\r\n", &[]),
            Err(ParseError::Unknown { state: 0, pos: 0 })
        );
        assert_eq!(
            run(b"PIX", &[]),
            Err(ParseError::Unknown { state: 34, pos: 2 })
        );
        assert_eq!(
            run(b"UNSUB\r\n", &[]),
            Err(ParseError::Unknown { state: 63, pos: 5 })
        );
        assert_eq!(
            run(b"MSG foo 1 1\r\n", &[]),
            Err(ParseError::Unknown { state: 0, pos: 0 })
        );
        // Payload longer than announced.
        assert_eq!(
            run(b"PUB foo 2\r\nhiX", &[]),
            Err(ParseError::Unknown { state: 41, pos: 2 })
        );
        assert_eq!(
            run(b"PUB foo 2\r\nhi\rX", &[]),
            Err(ParseError::Unknown { state: 42, pos: 3 })
        );
    }

    #[test]
    fn control_line_limit() {
        let mut p = Parser::new();
        let mut buf = BytesMut::from(&b"SUB foo.bar.baz 1\r\n"[..]);
        assert_eq!(
            p.next(&mut buf, 8, false),
            Err(ParseError::ControlLine { state: 47, len: 13 })
        );
        // Detected before the newline arrives.
        let mut buf = BytesMut::from(&b"PUB aaaaaaaaaaaaaaaaaaa"[..]);
        assert!(matches!(
            p.next(&mut buf, 8, false),
            Err(ParseError::ControlLine { .. })
        ));
    }

    #[test]
    fn auth_required_first() {
        let mut p = Parser::new();
        let mut buf = BytesMut::from(&b"PING\r\n"[..]);
        assert_eq!(p.next(&mut buf, 4096, true), Err(ParseError::AuthRequired));
        let mut buf = BytesMut::from(&b"connect {}\r\n"[..]);
        assert_eq!(
            p.next(&mut buf, 4096, true),
            Ok(Some(Event::Connect(Bytes::from_static(b"{}"))))
        );
    }

    #[test]
    fn ping_ignores_rest_of_line_and_tabs_allowed() {
        assert_eq!(
            run(b"PINGXYZ\r\nPUB\tfoo\t\t1\r\nx\r\n", &[]).unwrap(),
            vec![
                Event::Ping,
                Event::Pub(Bytes::from_static(b"foo\t\t1")),
                Event::Payload(Bytes::from_static(b"x"))
            ]
        );
    }

    #[test]
    fn sizes_and_splits() {
        assert_eq!(parse_size(b"123"), 123);
        assert_eq!(parse_size(b"-1"), -1);
        assert_eq!(parse_size(b""), -1);
        assert_eq!(parse_size(b"1234567890"), -1);
        let a = Bytes::from_static(b" foo  bar\tbaz ");
        assert_eq!(split_pub_args(&a), vec!["foo", "bar", "baz"]);
    }
}
