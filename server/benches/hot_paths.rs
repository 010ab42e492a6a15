//! Micro-benchmarks of natsd's hot paths: protocol parsing, subscription
//! matching and delivery encoding. Run with `cargo bench -p natsd`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use natsd_proto::client::msg::{msg_line, Sizes};
use natsd_proto::client::parser::{parse_size, ArgList, Op, Parser};
use natsd_proto::sublist::Sublist;

/// Go's default max_control_line.
const MAX_CONTROL_LINE: usize = 4096;

/// Parses everything in `buf` as the client reader does (accepting each
/// PUB/HPUB by its size); returns the number of operations and the bytes
/// consumed.
fn parse_all(p: &mut Parser, buf: &[u8]) -> (usize, usize) {
    let mut at = 0;
    let mut ops = 0;
    while let Ok(Some((op, n))) = p.parse(&buf[at..], MAX_CONTROL_LINE, false) {
        if let Op::Pub(arg) | Op::HPub(arg) = op {
            let args = ArgList::split(arg);
            let size = args
                .as_slice()
                .and_then(|a| a.last())
                .map_or(-1, |s| parse_size(s));
            p.expect_payload(size.max(0) as usize, false);
        }
        black_box(&op);
        ops += 1;
        at += n;
    }
    (ops, at)
}

/// `count` PUB frames with a `size`-byte payload.
fn pubs(subject: &str, size: usize, count: usize) -> Vec<u8> {
    let mut frame = format!("PUB {subject} {size}\r\n").into_bytes();
    frame.extend(std::iter::repeat_n(b'x', size));
    frame.extend_from_slice(b"\r\n");
    frame.repeat(count)
}

fn parsing(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    let lines: &[(&str, &[u8])] = &[
        ("PUB", b"PUB foo.bar 5\r\nhello\r\n"),
        ("PUB reply", b"PUB foo.bar _INBOX.abcdef.1 5\r\nhello\r\n"),
        (
            "HPUB",
            b"HPUB foo.bar _INBOX.abcdef.1 12 17\r\nNATS/1.0\r\n\r\nhello\r\n",
        ),
        ("SUB", b"SUB foo.* workers 1\r\n"),
        ("PING", b"PING\r\n"),
    ];
    for (name, line) in lines {
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::new("op", name), line, |b, line| {
            let mut p = Parser::new();
            b.iter(|| parse_all(&mut p, black_box(line)))
        });
    }
    // 64 KiB reads full of PUBs, whole and cut into reads at arbitrary
    // points (each read appended to what the last one left, as the reader
    // does).
    for size in [16usize, 128, 1024] {
        let frame_len = format!("PUB bench.pub {size}\r\n").len() + size + 2;
        let buf = pubs("bench.pub", size, (64 * 1024 / frame_len).max(1));
        g.throughput(Throughput::Bytes(buf.len() as u64));
        g.bench_with_input(BenchmarkId::new("pubs whole", size), &buf, |b, buf| {
            let mut p = Parser::new();
            b.iter(|| parse_all(&mut p, black_box(buf)))
        });
        let cuts: Vec<usize> = {
            // A fixed pseudo-random sequence of read sizes, 1 to 4 KiB.
            let mut x: u32 = 0x9e37_79b9;
            let mut at = 0;
            let mut v = Vec::new();
            loop {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                at += 1 + (x as usize % 4096);
                if at >= buf.len() {
                    break;
                }
                v.push(at);
            }
            v
        };
        g.bench_with_input(BenchmarkId::new("pubs split", size), &buf, |b, buf| {
            let mut p = Parser::new();
            let mut pending: Vec<u8> = Vec::with_capacity(8192);
            b.iter(|| {
                let mut last = 0;
                for &cut in cuts.iter().chain(std::iter::once(&buf.len())) {
                    pending.extend_from_slice(&buf[last..cut]);
                    last = cut;
                    let (_, used) = parse_all(&mut p, &pending);
                    pending.drain(..used);
                }
            })
        });
    }
    g.finish();
}

/// A subscription index like a busy account's: `n` literal subjects
/// `svc.<i>.req`, one `*` and one `>` subscription per hundred of them, and
/// a few catch-all wildcards.
fn index(n: usize, cache: bool) -> Sublist<u32> {
    let sl = Sublist::new(cache);
    let mut id = 0;
    let mut add = |s: String| {
        sl.insert(s.as_bytes(), None, Arc::new(id)).unwrap();
        id += 1;
    };
    for i in 0..n {
        add(format!("svc.{i}.req"));
        if i % 100 == 0 {
            add(format!("svc.{i}.*"));
            add(format!("svc.{i}.>"));
        }
    }
    add("svc.*.status".into());
    add("logs.>".into());
    sl
}

fn matching(c: &mut Criterion) {
    let mut g = c.benchmark_group("sublist match");
    g.throughput(Throughput::Elements(1));
    for n in [100usize, 10_000] {
        for cache in [true, false] {
            let sl = index(n, cache);
            let label = |what: &str| {
                format!(
                    "{what}/{n} subs/{}",
                    if cache { "cache" } else { "no cache" }
                )
            };
            let cases: [(&str, &[u8]); 5] = [
                ("literal", b"svc.42.req"),
                ("literal and wildcards", b"svc.100.req"),
                ("*", b"svc.7.status"),
                (">", b"logs.app.1.error"),
                ("no match", b"other.subject.here"),
            ];
            for (what, subject) in cases {
                g.bench_function(label(what), |b| {
                    b.iter(|| sl.match_subject(black_box(subject)))
                });
            }
        }
    }
    g.finish();
}

fn encoding(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(1));
    let mut out = Vec::with_capacity(256);
    g.bench_function("MSG", |b| {
        b.iter(|| {
            out.clear();
            msg_line(
                &mut out,
                black_box(b"bench.subject"),
                b"1",
                None,
                Sizes::Msg(b"128"),
            );
        })
    });
    g.bench_function("MSG reply", |b| {
        b.iter(|| {
            out.clear();
            msg_line(
                &mut out,
                black_box(b"bench.subject"),
                b"42",
                Some(b"_INBOX.4VnPpwGj3bJ0Kg1hZYNfLm.1"),
                Sizes::Msg(b"128"),
            );
        })
    });
    g.bench_function("HMSG", |b| {
        b.iter(|| {
            out.clear();
            msg_line(
                &mut out,
                black_box(b"bench.subject"),
                b"42",
                Some(b"_INBOX.4VnPpwGj3bJ0Kg1hZYNfLm.1"),
                Sizes::HMsg {
                    hdr: b"22",
                    total: b"150",
                },
            );
        })
    });
    g.bench_function("MSG headers stripped", |b| {
        b.iter(|| {
            out.clear();
            msg_line(
                &mut out,
                black_box(b"bench.subject"),
                b"42",
                None,
                Sizes::Stripped(black_box(128)),
            );
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = parsing, matching, encoding
}
criterion_main!(benches);
