//! Micro-benchmarks of natsd's outbound path: the queue a delivery goes
//! into, and a message routed through the core to a subscriber's socket.
//! Run with `cargo bench -p natsd --bench outbound`.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use natsd::conn::client::writer::{self, PingConfig, Sink};
use natsd::core::account::Account;
use natsd::core::connection::{ClosedState, Connection, Owner, Subscription};
use natsd::core::delivery::{Message, Router};
use natsd::core::outbound::Chunks;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Deliveries queued before each drain.
const BATCH: usize = 256;

/// Queues `BATCH` MSG deliveries of `size` bytes, then writes them out in
/// vectored writes, as a TLS client's writer does.
fn queue_and_drain(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("outbound_queue");
    for size in [16usize, 1024] {
        let line = format!("MSG foo.bar 1 {size}\r\n");
        let payload = vec![b'x'; size];
        let len = line.len() + size + 2;
        g.throughput(Throughput::Bytes((len * BATCH) as u64));
        g.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, _| {
            let mut chunks = Chunks::default();
            let mut sink = tokio::io::sink();
            b.iter(|| {
                for _ in 0..BATCH {
                    chunks.push_all(&[line.as_bytes(), &payload, b"\r\n"], len);
                }
                rt.block_on(chunks.write_all_to(&mut sink, |_| {})).unwrap();
            });
        });
    }
    g.finish();
}

/// Stands in for the server: a benchmark has no registry to report to.
struct NoOwner;

impl Owner for NoOwner {
    fn slow_consumer(&self) {}
    fn closing(&self, _: &Arc<Connection>, _: ClosedState) {}
    fn closed(&self, _: u64) {}
    fn origin(&self) -> (String, String) {
        Default::default()
    }
    fn server_hash(&self) -> String {
        String::new()
    }
    fn account_message(&self, _: &Arc<Account>, _: &str, _: Vec<u8>) {}
    fn internal_connection(&self, acc: &Arc<Account>) -> Arc<Connection> {
        let owner: Weak<dyn Owner> = Weak::<NoOwner>::new();
        Arc::new(Connection::internal(
            natsd::core::kind::Kind::System,
            0,
            owner,
            acc.clone(),
            "ACCOUNT",
        ))
    }
}

/// A subscriber on `foo.bar` whose connection writes to a loopback socket
/// that a thread drains, and the publisher's connection.
struct Subscriber {
    account: Arc<Account>,
    publisher: Arc<Connection>,
    subscriber: Arc<Connection>,
}

fn subscriber(rt: &tokio::runtime::Runtime) -> Subscriber {
    let owner: Weak<dyn Owner> = Weak::<NoOwner>::new();
    let account = Arc::new(Account::new("$G", true));
    let conn = |cid| {
        Arc::new(Connection::client(
            cid,
            owner.clone(),
            "127.0.0.1".into(),
            0,
            natsd::core::connection::Transport::Tcp,
            64 * 1024 * 1024,
            account.clone(),
            Instant::now() + Duration::from_secs(3600),
        ))
    };
    let (publisher, subscriber) = (conn(1), conn(2));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut far = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (near, _) = listener.accept().unwrap();
    std::thread::spawn(move || {
        let mut buf = vec![0; 256 * 1024];
        while matches!(far.read(&mut buf), Ok(n) if n > 0) {}
    });
    near.set_nonblocking(true).unwrap();
    let cfg = PingConfig {
        interval: Duration::from_secs(3600),
        max_out: 2,
        write_deadline: Duration::from_secs(10),
    };
    let sub = subscriber.clone();
    rt.spawn(async move {
        let near = tokio::net::TcpStream::from_std(near).unwrap();
        let (_rd, wr) = near.into_split();
        writer::run(Weak::new(), sub, Sink::Tcp(wr), cfg).await;
    });
    let sub = Arc::new(Subscription::new(
        subscriber.clone(),
        Bytes::from_static(b"foo.bar"),
        None,
        Bytes::from_static(b"1"),
    ));
    subscriber.subs.lock().insert(sub.sid.clone(), sub.clone());
    account.sublist.insert(b"foo.bar", None, sub).unwrap();
    Subscriber {
        account,
        publisher,
        subscriber,
    }
}

/// One message routed into the account and flushed to the subscriber's
/// socket, in batches as a client's reader does.
fn route_to_socket(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let s = subscriber(&rt);
    let mut g = c.benchmark_group("route_to_socket");
    for size in [16usize, 1024] {
        let payload = vec![b'x'; size];
        let size_text = size.to_string();
        let m = Message {
            subject: b"foo.bar",
            reply: None,
            hdr: -1,
            payload: &payload,
            hdr_text: b"",
            size_text: size_text.as_bytes(),
            shown_as: None,
        };
        g.throughput(Throughput::Elements(BATCH as u64));
        g.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, _| {
            let mut router = Router::new();
            b.iter(|| {
                router.begin_batch();
                for _ in 0..BATCH {
                    router.route(&s.account, &s.publisher, &m);
                }
                router.take_stats();
                // A publisher waits on a backlogged subscriber (Go's stall).
                for c in router.flush(&s.publisher) {
                    rt.block_on(c.wait_backlog(&s.publisher));
                }
            });
        });
        assert!(!s.subscriber.is_closed(), "the subscriber was cut");
    }
    g.finish();
    s.subscriber.close(ClosedState::ServerShutdown);
    rt.shutdown_timeout(Duration::from_secs(1));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = queue_and_drain, route_to_socket
}
criterion_main!(benches);
