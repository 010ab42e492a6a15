//! The client protocol parser.
//!
//! Works on the unconsumed bytes of a connection's read buffer, without
//! copying or allocating: each call looks at them and either returns one
//! complete operation, its argument or payload borrowed from the input,
//! with the number of bytes it spans (the caller consumes them when it is
//! done with the operation), asks for more input, or reports the error the
//! Go server would report at the first offending byte.
//!
//! Operation names are matched byte by byte (so a bad byte is reported as
//! soon as it arrives), argument lines are found with `memchr`, and a
//! payload is taken by length once its control line has been accepted by the
//! caller (see [`Parser::expect_payload`]).

use bytes::Bytes;
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

/// One complete client operation, its argument borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op<'a> {
    Connect(&'a [u8]),
    /// A PUB control line; the caller validates it and then calls
    /// [`Parser::expect_payload`].
    Pub(&'a [u8]),
    /// An HPUB control line, handled like [`Op::Pub`].
    HPub(&'a [u8]),
    /// An HMSG control line from a client: the Go server ignores it and then
    /// expects an empty payload.
    HMsg(&'a [u8]),
    /// The payload (headers included) of the last accepted PUB/HPUB,
    /// without its trailing CRLF.
    Payload(&'a [u8]),
    /// A payload that was to be ignored (after a client's HMSG).
    Skipped,
    Sub(&'a [u8]),
    Unsub(&'a [u8]),
    Ping,
    Pong,
    Info(&'a [u8]),
    Ok,
    Err(&'a [u8]),
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
    Line(Op<'static>, usize),
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
    // What clients send nearly always, decided at once; the same answer
    // as the byte-by-byte match below.
    if buf.len() > 4 && buf[..4] == *b"PUB " && !is_space(buf[4]) {
        return Head::Arg(ArgOp::Pub, 4);
    }
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
            b'I' => Op::Ping,
            b'O' => Op::Pong,
            _ => Op::Ok,
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

    /// The next operation at the start of `buf` (the unconsumed input) and
    /// the number of bytes it spans, which the caller then consumes.
    /// `Ok(None)` means more input is needed. `expect_connect` makes any
    /// first op other than CONNECT an authentication error. Error offsets
    /// are within `buf`.
    pub fn parse<'a>(
        &mut self,
        buf: &'a [u8],
        max_control_line: usize,
        expect_connect: bool,
    ) -> Result<Option<(Op<'a>, usize)>, ParseError> {
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
            self.pending = Pending::Op;
            let op = if discard {
                Op::Skipped
            } else {
                Op::Payload(&buf[..size])
            };
            return Ok(Some((op, size + 2)));
        }
        if buf.is_empty() {
            return Ok(None);
        }
        if expect_connect && !matches!(buf[0], b'C' | b'c') {
            return Err(ParseError::AuthRequired);
        }
        match head(buf) {
            Head::More => Ok(None),
            Head::Bad(state, pos) => Err(ParseError::Unknown { state, pos }),
            Head::Line(op, end) => Ok(memchr(b'\n', &buf[end..]).map(|nl| (op, end + nl + 1))),
            Head::Arg(op, start) => {
                // Go takes the argument's first byte without looking at
                // it, even a CR or LF: `PUB \nfoo 1` publishes to "\nfoo".
                let nl = buf
                    .get(start + 1..)
                    .and_then(|rest| memchr(b'\n', rest))
                    .map(|n| start + 1 + n);
                let line_end = nl.unwrap_or(buf.len());
                let line = &buf[start..line_end];
                // Go drops one byte before the newline once it has seen
                // a carriage return anywhere after that first byte (a
                // well-formed line ends in one: no need to look further).
                let after_first = line.get(1..).unwrap_or_default();
                let cr = after_first.last() == Some(&b'\r') || memchr(b'\r', after_first).is_some();
                let len = line.len().saturating_sub(usize::from(cr));
                if len > max_control_line {
                    return Err(ParseError::ControlLine {
                        state: op.state(),
                        len,
                    });
                }
                if nl.is_none() {
                    return Ok(None);
                }
                let arg = &buf[start..start + len];
                let op = match op {
                    ArgOp::Connect => Op::Connect(arg),
                    ArgOp::Pub => Op::Pub(arg),
                    ArgOp::HPub => Op::HPub(arg),
                    ArgOp::HMsg => Op::HMsg(arg),
                    ArgOp::Sub => Op::Sub(arg),
                    ArgOp::Unsub => Op::Unsub(arg),
                    ArgOp::Info => Op::Info(arg),
                    ArgOp::Err => Op::Err(arg),
                };
                Ok(Some((op, line_end + 1)))
            }
        }
    }
}

/// Most PUB/HPUB arguments kept by [`ArgList::split`]; a line with more is
/// an error anyway.
const MAX_PUB_ARGS: usize = 4;

/// The space- or tab-separated arguments of a PUB/HPUB line, split without
/// allocating.
#[derive(Debug, Clone, Copy)]
pub struct ArgList<'a> {
    items: [&'a [u8]; MAX_PUB_ARGS],
    /// How many arguments the line has (may exceed [`MAX_PUB_ARGS`]).
    count: usize,
}

impl<'a> ArgList<'a> {
    pub fn split(arg: &'a [u8]) -> Self {
        // Most bytes are above the space: one comparison tells them apart.
        let sep = |b: u8| b <= b' ' && (b == b' ' || b == b'\t');
        let mut items: [&'a [u8]; MAX_PUB_ARGS] = [&[]; MAX_PUB_ARGS];
        let mut count = 0;
        let mut i = 0;
        loop {
            while i < arg.len() && sep(arg[i]) {
                i += 1;
            }
            if i == arg.len() {
                break;
            }
            let start = i;
            while i < arg.len() && !sep(arg[i]) {
                i += 1;
            }
            if count < MAX_PUB_ARGS {
                items[count] = &arg[start..i];
            }
            count += 1;
        }
        Self { items, count }
    }

    /// The arguments, when there are at most [`MAX_PUB_ARGS`].
    pub fn as_slice(&self) -> Option<&[&'a [u8]]> {
        (self.count <= MAX_PUB_ARGS).then(|| &self.items[..self.count])
    }
}

/// Splits an argument line on spaces, tabs, CR and LF (SUB/UNSUB rules).
pub fn split_args(arg: &Bytes) -> Vec<Bytes> {
    let mut out = Vec::with_capacity(4);
    let mut start: Option<usize> = None;
    for (i, &b) in arg.iter().enumerate() {
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
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

    /// An operation as text, for readable comparisons.
    fn show(op: Op) -> String {
        let (name, arg): (&str, &[u8]) = match op {
            Op::Connect(a) => ("CONNECT", a),
            Op::Pub(a) => ("PUB", a),
            Op::HPub(a) => ("HPUB", a),
            Op::HMsg(a) => ("HMSG", a),
            Op::Payload(a) => ("PAYLOAD", a),
            Op::Skipped => ("SKIPPED", b""),
            Op::Sub(a) => ("SUB", a),
            Op::Unsub(a) => ("UNSUB", a),
            Op::Ping => ("PING", b""),
            Op::Pong => ("PONG", b""),
            Op::Info(a) => ("INFO", a),
            Op::Ok => ("OK", b""),
            Op::Err(a) => ("ERR", a),
        };
        format!("{name} {}", String::from_utf8_lossy(arg))
            .trim_end()
            .to_string()
    }

    /// Feeds `input` in pieces split at `cuts` (as reads into a buffer the
    /// caller consumes from), accepting every PUB whose size parses, and
    /// returns the operations.
    fn run(input: &[u8], cuts: &[usize]) -> Result<Vec<String>, ParseError> {
        let mut p = Parser::new();
        let mut buf: Vec<u8> = Vec::new();
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
            let mut at = 0;
            while let Some((op, n)) = p.parse(&buf[at..], 4096, false)? {
                if let Op::Pub(a) | Op::HPub(a) = op {
                    let args = ArgList::split(a);
                    let size = parse_size(args.as_slice().unwrap().last().unwrap());
                    p.expect_payload(size as usize, false);
                }
                if let Op::HMsg(_) = op {
                    p.expect_payload(0, true);
                }
                out.push(show(op));
                at += n;
            }
            buf.drain(..at);
        }
        Ok(out)
    }

    const STREAM: &[u8] = b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nsub bar q 2\r\nPUB foo 5\r\nhello\r\nHPUB foo reply 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\npong\r\nUNSUB 1 5\r\n+OK\r\n-ERR 'x'\r\nINFO {}\r\nPUB foo 0\r\n\r\nHMSG foo 1 0 0\r\n\r\nPING\r\n";

    fn expected() -> Vec<&'static str> {
        vec![
            "CONNECT {\"verbose\":false}",
            "SUB foo 1",
            "SUB bar q 2",
            "PUB foo 5",
            "PAYLOAD hello",
            "HPUB foo reply 12 14",
            "PAYLOAD NATS/1.0\r\n\r\nhi",
            "PING",
            "PONG",
            "UNSUB 1 5",
            "OK",
            "ERR 'x'",
            "INFO {}",
            "PUB foo 0",
            "PAYLOAD",
            "HMSG foo 1 0 0",
            "SKIPPED",
            "PING",
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
    fn split_at_every_pair_of_bytes() {
        for a in 1..STREAM.len() {
            for b in a..STREAM.len() {
                assert_eq!(run(STREAM, &[a, b]).unwrap(), expected(), "cut at {a}, {b}");
            }
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let cuts: Vec<usize> = (1..STREAM.len()).collect();
        assert_eq!(run(STREAM, &cuts).unwrap(), expected());
    }

    #[test]
    fn spans_cover_the_input() {
        let mut p = Parser::new();
        let (op, n) = p
            .parse(b"PUB foo 5\r\nhello\r\nPI", 4096, false)
            .unwrap()
            .unwrap();
        assert_eq!((show(op), n), ("PUB foo 5".to_string(), 11));
        p.expect_payload(5, false);
        let (op, n) = p.parse(b"hello\r\nPI", 4096, false).unwrap().unwrap();
        assert_eq!((show(op), n), ("PAYLOAD hello".to_string(), 7));
        assert_eq!(p.parse(b"PI", 4096, false), Ok(None));
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
        assert_eq!(
            p.parse(b"SUB foo.bar.baz 1\r\n", 8, false),
            Err(ParseError::ControlLine { state: 47, len: 13 })
        );
        // Detected before the newline arrives.
        assert!(matches!(
            p.parse(b"PUB aaaaaaaaaaaaaaaaaaa", 8, false),
            Err(ParseError::ControlLine { .. })
        ));
        // A carriage return anywhere drops the byte before the newline.
        assert_eq!(
            p.parse(b"SUB a\rb 1x\n", 4096, false)
                .unwrap()
                .map(|(op, n)| (show(op), n)),
            Some(("SUB a\rb 1".to_string(), 11))
        );
    }

    #[test]
    fn auth_required_first() {
        let mut p = Parser::new();
        assert_eq!(
            p.parse(b"PING\r\n", 4096, true),
            Err(ParseError::AuthRequired)
        );
        assert_eq!(
            p.parse(b"connect {}\r\n", 4096, true),
            Ok(Some((Op::Connect(b"{}"), 12)))
        );
    }

    #[test]
    fn ping_ignores_rest_of_line_and_tabs_allowed() {
        assert_eq!(
            run(b"PINGXYZ\r\nPUB\tfoo\t\t1\r\nx\r\n", &[]).unwrap(),
            vec!["PING", "PUB foo\t\t1", "PAYLOAD x"]
        );
    }

    #[test]
    fn sizes_and_splits() {
        assert_eq!(parse_size(b"123"), 123);
        assert_eq!(parse_size(b"-1"), -1);
        assert_eq!(parse_size(b""), -1);
        assert_eq!(parse_size(b"1234567890"), -1);
        let a = ArgList::split(b" foo  bar\tbaz ");
        assert_eq!(a.as_slice().unwrap(), [&b"foo"[..], b"bar", b"baz"]);
        let a = ArgList::split(b"a b c d");
        assert_eq!(a.as_slice().unwrap().len(), 4);
        assert!(ArgList::split(b"a b c d e").as_slice().is_none());
        assert!(ArgList::split(b"a b c d e f").as_slice().is_none());
        assert_eq!(ArgList::split(b" \t ").as_slice().unwrap().len(), 0);
        let a = Bytes::from_static(b" foo\r\nbar\tbaz ");
        assert_eq!(split_args(&a), vec!["foo", "bar", "baz"]);
    }
}
