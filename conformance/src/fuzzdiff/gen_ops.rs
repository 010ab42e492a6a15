//! Malformed client operations: bad sizes, subjects and header blocks,
//! control-line overflow, odd line ends and separators, lower-case ops,
//! random bytes, a valid stream cut into several writes, and operations
//! sent after one that fails. Each case starts with one of a few CONNECTs
//! (or none, which leaves Go's defaults: verbose and pedantic) and a
//! `SUB ~.> 99` so that whatever the case publishes comes back (`~.` is
//! the case's own subject prefix, see [`super::generate`]).

use super::generate::PREFIX_LEN;
use crate::rng::Rng;

/// What a case may start with, before its `SUB ~.> 99`.
const PREAMBLES: &[&str] = &[
    "",
    "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n",
    "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\n",
    "CONNECT {\"verbose\":true,\"pedantic\":true,\"headers\":true}\r\n",
];

/// A preamble and a catch-all subscription, then `body`.
fn with_preamble(rng: &mut Rng, body: &[u8]) -> Vec<u8> {
    [rng.pick(PREAMBLES).as_bytes(), b"SUB ~.> 99\r\n", body].concat()
}

fn one(rng: &mut Rng, body: &[u8]) -> Vec<Vec<u8>> {
    vec![with_preamble(rng, body)]
}

/// Negative, huge, non-digit and overflowing sizes, and a payload that is
/// shorter or longer than its size.
pub fn pub_bad_size(rng: &mut Rng) -> Vec<Vec<u8>> {
    let body = if rng.chance(1, 3) {
        let size = rng.range(0, 8);
        let len = rng.range(0, 8);
        format!("PUB ~.foo {size}\r\n{}\r\nPING\r\n", "x".repeat(len))
    } else {
        let size = *rng.pick(&[
            "-1",
            "-0",
            "99999999999999999999",
            "18446744073709551616",
            "9223372036854775808",
            "4294967299",
            "1a",
            "a",
            "+1",
            "0x1",
            "1.5",
            "1048577",
            "1048576",
            "",
        ]);
        let reply = if rng.chance(1, 3) { "r " } else { "" };
        format!("PUB ~.foo {reply}{size}\r\nabc\r\nPING\r\n")
    };
    one(rng, body.as_bytes())
}

/// HPUB with header blocks that are missing `NATS/1.0`, or whose sizes lie.
pub fn hpub_bad(rng: &mut Rng) -> Vec<Vec<u8>> {
    let block = *rng.pick(&[
        "NATS/1.0\r\n\r\n",
        "NATS/1.0\r\nA: b\r\n\r\n",
        "XATS/1.0\r\n\r\n",
        "NATS/1.0 503\r\n\r\n",
        "NATS/1.0\r\nnocolon\r\n\r\n",
        "NATS/1.0\r\n",
        "\r\n\r\n",
        "NATS/2.0\r\nA: b\r\n\r\n",
    ]);
    let payload = "pay";
    let real_hdr = block.len();
    let real_total = real_hdr + payload.len();
    let (hdr, total) = match rng.range(0, 5) {
        0 => (real_hdr.to_string(), real_total.to_string()),
        1 => ((real_total + 1).to_string(), real_total.to_string()),
        2 => (
            (*rng.pick(&["-1", "x", "", "99999999999999999999"])).to_string(),
            real_total.to_string(),
        ),
        3 => (real_hdr.to_string(), (real_hdr - 1).to_string()),
        4 => ("0".to_string(), real_total.to_string()),
        _ => ((real_hdr - 2).to_string(), real_total.to_string()),
    };
    let body = format!("HPUB ~.foo {hdr} {total}\r\n{block}{payload}\r\nPING\r\n");
    one(rng, body.as_bytes())
}

/// Empty tokens, wildcards in a PUB, spaces, long and non-UTF-8 subjects,
/// in PUB and in SUB.
pub fn bad_subject(rng: &mut Rng) -> Vec<Vec<u8>> {
    let long = "a.".repeat(rng.range(100, 1500)) + "z";
    let subject: Vec<u8> = match rng.range(0, 14) {
        0 => b"~.foo..bar".to_vec(),
        1 => b".foo".to_vec(),
        2 => b"~.foo.".to_vec(),
        3 => b".".to_vec(),
        4 => b"~.foo.*".to_vec(),
        5 => b"~.foo.>".to_vec(),
        6 => b"~.>".to_vec(),
        7 => b"~.foo.>.bar".to_vec(),
        8 => b"~.foo*.bar".to_vec(),
        9 => format!("~.{long}").into_bytes(),
        10 => b"~.fo\xffo".to_vec(),
        11 => b"~.foo\x00bar".to_vec(),
        12 => b"~.foo\x7f".to_vec(),
        13 => b"~.*.*".to_vec(),
        _ => b"~.foo.\xc3\xa9".to_vec(),
    };
    let body = if rng.chance(1, 2) {
        [b"PUB ", &subject[..], b" 2\r\nhi\r\nPING\r\n"].concat()
    } else {
        [
            b"SUB ",
            &subject[..],
            b" 5\r\nPUB ~.foo 2\r\nhi\r\nPING\r\n",
        ]
        .concat()
    };
    one(rng, &body)
}

/// SUB and UNSUB with too few or too many arguments and odd sids.
pub fn sub_args(rng: &mut Rng) -> Vec<Vec<u8>> {
    let line = *rng.pick(&[
        "SUB\r\n",
        "SUB ~.foo\r\n",
        "SUB ~.foo q 1 extra\r\n",
        "SUB ~.foo q 1\r\n",
        "SUB ~.foo  1\r\n",
        "SUB ~.foo -1\r\n",
        "SUB ~.foo 1\r\nSUB ~.foo 1\r\n",
        "UNSUB\r\n",
        "UNSUB 99 1 2\r\n",
        "UNSUB 99 x\r\n",
        "UNSUB 99 -1\r\n",
        "UNSUB 99 0\r\n",
        "UNSUB 12345\r\n",
        "UNSUB 99 99999999999999999999\r\n",
    ]);
    one(
        rng,
        format!("{line}PUB ~.foo 2\r\nhi\r\nPING\r\n").as_bytes(),
    )
}

/// A control line longer than 4096 bytes (or right at the limit).
pub fn ctrl_overflow(rng: &mut Rng) -> Vec<Vec<u8>> {
    // The length of the op's arguments; a subject's `~.` becomes the case's
    // prefix, of PREFIX_LEN bytes.
    let n = *rng.pick(&[4090usize, 4096, 4097, 5000, 9000]);
    let long = "a".repeat(n);
    let subject = format!("~.{}", &long[PREFIX_LEN + " 1".len()..]);
    let body = match rng.range(0, 4) {
        0 => format!("PUB {subject} 1\r\nx\r\nPING\r\n"),
        1 => format!("SUB {subject} 1\r\nPING\r\n"),
        2 => format!("{long}\r\nPING\r\n"),
        3 => format!("CONNECT {{\"verbose\":false,\"name\":\"{long}\"}}\r\nPING\r\n"),
        _ => format!("PUB ~.foo {long}\r\nPING\r\n"),
    };
    one(rng, body.as_bytes())
}

/// A space and a bare LF after the op name (`PUB \n~.foo 1\r\n...`), and bare
/// LF line ends elsewhere.
pub fn bare_lf(rng: &mut Rng) -> Vec<Vec<u8>> {
    let body = *rng.pick(&[
        "PUB \n~.foo 1\r\nx\r\nPING\r\n",
        "SUB \nPING\r\n",
        "UNSUB \nPING\r\n",
        "HPUB \n~.foo 12 12\r\nNATS/1.0\r\n\r\n\r\nPING\r\n",
        "PUB ~.foo 1\nx\nPING\r\n",
        "SUB ~.foo 1\nPUB ~.foo 1\r\nx\r\nPING\r\n",
        "PING\nPING\r\n",
        "PUB ~.foo 1\r\nx\nPING\r\n",
        "CONNECT {}\nPING\r\n",
        "UNSUB 99\nPING\r\n",
    ]);
    one(rng, body.as_bytes())
}

/// Lower- and mixed-case op names.
pub fn lower_case(rng: &mut Rng) -> Vec<Vec<u8>> {
    let body = *rng.pick(&[
        "pub ~.foo 1\r\nx\r\nping\r\n",
        "sub ~.foo 1\r\npub ~.foo 1\r\nx\r\nPING\r\n",
        "pInG\r\n",
        "PiNg\r\nPING\r\n",
        "unsub 99\r\nPUB ~.foo 1\r\nx\r\nPING\r\n",
        "connect {\"verbose\":true}\r\nPING\r\n",
        "hpub ~.foo 12 13\r\nNATS/1.0\r\n\r\nx\r\nPING\r\n",
        "pong\r\nPING\r\n",
        "Pub ~.foo 1\r\nx\r\nPING\r\n",
    ]);
    one(rng, body.as_bytes())
}

/// Tabs where the protocol has spaces.
pub fn tabs(rng: &mut Rng) -> Vec<Vec<u8>> {
    let body = *rng.pick(&[
        "PUB\t~.foo\t1\r\nx\r\nPING\r\n",
        "SUB\t~.foo\t1\r\nPUB ~.foo 1\r\nx\r\nPING\r\n",
        "PING\t\r\n",
        "SUB ~.foo\t\t1\r\nPING\r\n",
        "PUB ~.foo \t 1\r\nx\r\nPING\r\n",
        "UNSUB\t99\r\nPING\r\n",
        "PUB ~.foo 1\t\r\nx\r\nPING\r\n",
        "CONNECT\t{\"verbose\":true}\r\nPING\r\n",
    ]);
    one(rng, body.as_bytes())
}

/// CR without LF.
pub fn cr_no_lf(rng: &mut Rng) -> Vec<Vec<u8>> {
    let body = *rng.pick(&[
        "PING\rPING\r\n",
        "PUB ~.foo 1\rx\r\nPING\r\n",
        "SUB ~.foo 1\r\rPING\r\n",
        "PING\r\r\n",
        "PUB ~.foo 1\r\nx\rPING\r\n",
        "\rPING\r\n",
        "PONG\rPING\r\n",
    ]);
    one(rng, body.as_bytes())
}

/// Random bytes, now and then after the start of a real op.
pub fn random_bytes(rng: &mut Rng) -> Vec<Vec<u8>> {
    let start = *rng.pick(&["", "", "PUB ", "SUB ", "CONNECT ", "P", "HPUB ~.foo "]);
    let n = rng.range(1, 200);
    // No wildcard, and no `~` that would become the case's prefix: random
    // bytes must not subscribe to what other cases publish.
    let noise: Vec<u8> = rng
        .bytes(n)
        .into_iter()
        .map(|b| {
            if matches!(b, b'~' | b'*' | b'>') {
                b'^'
            } else {
                b
            }
        })
        .collect();
    let mut body = [start.as_bytes(), &noise].concat();
    if rng.chance(1, 2) {
        body.extend_from_slice(b"\r\nPING\r\n");
    }
    one(rng, &body)
}

/// A valid stream cut at random points into several writes.
pub fn split_stream(rng: &mut Rng) -> Vec<Vec<u8>> {
    let stream = with_preamble(
        rng,
        b"SUB ~.foo 1\r\nSUB ~.foo q 2\r\nPUB ~.foo r 5\r\nhello\r\n\
UNSUB 1\r\nPUB ~.foo 0\r\n\r\nPING\r\n",
    );
    let pieces = rng.range(2, 8);
    // Never between the `~` and the `.` of a prefix, which is replaced
    // within each write.
    let mut cuts: Vec<usize> = (1..pieces)
        .map(|_| rng.range(1, stream.len() - 1))
        .filter(|cut| stream[cut - 1] != b'~')
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut chunks = Vec::new();
    let mut from = 0;
    for cut in cuts.into_iter().chain([stream.len()]) {
        chunks.push(stream[from..cut].to_vec());
        from = cut;
    }
    chunks
}

/// An op that fails, then more ops: whether the server goes on reading.
pub fn after_error(rng: &mut Rng) -> Vec<Vec<u8>> {
    let bad = *rng.pick(&[
        "PUB ~.foo -1\r\n",
        "FOO\r\n",
        "SUB\r\n",
        "UNSUB\r\n",
        "PUB ~.foo.* 1\r\nx\r\n",
        "SUB ~.foo..bar 1\r\n",
        "+OK\r\n",
        "-ERR 'x'\r\n",
        "MSG ~.foo 1 1\r\nx\r\n",
        "INFO {}\r\n",
        "PUB ~.foo 2\r\nabc\r\n",
        "CONNECT {\r\n",
    ]);
    one(
        rng,
        format!("{bad}PUB ~.foo 2\r\nhi\r\nPING\r\n").as_bytes(),
    )
}

/// Bytes that parsers treat specially, for mutations.
const SPECIAL: &[u8] = b" \t\r\n0-9.*>\x00\xff";

/// A valid stream with a few bytes changed, inserted or dropped. The `~.`
/// placeholders are never touched, so the case still subscribes only under
/// its own prefix.
pub fn mutated_stream(rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut stream = with_preamble(
        rng,
        b"SUB ~.foo 1\r\nSUB ~.bar q 2\r\nPUB ~.foo r 5\r\nhello\r\n\
HPUB ~.bar 12 14\r\nNATS/1.0\r\n\r\nhi\r\nUNSUB 1 1\r\nPUB ~.bar 0\r\n\r\nPING\r\n",
    );
    for _ in 0..rng.range(1, 4) {
        let at = rng.range(0, stream.len() - 1);
        let near_placeholder = stream[at] == b'~'
            || (at > 0 && stream[at - 1] == b'~')
            || stream.get(at + 1) == Some(&b'~');
        if near_placeholder {
            continue;
        }
        let byte = *rng.pick(SPECIAL);
        match rng.range(0, 2) {
            0 => stream[at] = byte,
            1 => stream.insert(at, byte),
            _ => {
                stream.remove(at);
            }
        }
    }
    if !stream.ends_with(b"PING\r\n") {
        stream.extend_from_slice(b"PING\r\n");
    }
    vec![stream]
}
