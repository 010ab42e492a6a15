//! `parity bench`: natsd against the Go server, side by side in one run. Each
//! row's workload runs on a freshly started server of each target in
//! alternation (A B A B ...), and the report gives medians, spreads, ratios
//! and peak memory.

mod load;
pub mod report;
mod ws;

use crate::kit::{Binaries, Ctx, ServerSpec, Target};
use anyhow::{Context, Result};
use serde::Serialize;

/// What a row measures, and which way is better.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

#[derive(Debug, Clone, Copy)]
enum Workload {
    Publish {
        size: usize,
        count: u64,
    },
    PubSub {
        size: usize,
        count: u64,
        subs: usize,
        queue: bool,
    },
    /// One publisher to one subscriber, both WebSocket clients; with
    /// permessage-deflate both ways when `compress`.
    WsPubSub {
        size: usize,
        count: u64,
        compress: bool,
    },
    RequestReply {
        count: usize,
    },
    /// Request/reply between two accounts, through a service import.
    ServiceImport {
        count: usize,
    },
    ManyConnections {
        conns: usize,
        subs: usize,
    },
    /// Publishes to a JetStream stream, with `window` PubAcks outstanding;
    /// with `sync_always`, natsd fsyncs each write (`sync_interval:
    /// always`), which Go 2.9.10 cannot be told to do.
    JsPublish {
        storage: load::Storage,
        size: usize,
        count: u64,
        window: u64,
        sync_always: bool,
    },
    /// Fills `streams` file streams with `msgs` messages of `size` bytes
    /// (`window` PubAcks outstanding), stops the server (SIGTERM, or SIGKILL
    /// when `crash`) and starts it again on the same store: the time from
    /// the process start until `$JS.API.INFO` counts the streams again, and
    /// the server's memory then. The store must come back whole.
    JsRestart {
        streams: u64,
        msgs: u64,
        size: usize,
        window: u64,
        crash: bool,
    },
    /// Fills a file stream with `count` messages of `size` bytes, restarts
    /// the server so that nothing of it is cached, then reads `read`
    /// messages from its start through a pull consumer, `batch` at a time
    /// with `pause_ms` between batches: the server's peak memory during the
    /// read, and the read's rate.
    JsSlowConsumer {
        size: usize,
        count: u64,
        read: u64,
        batch: u64,
        pause_ms: u64,
    },
    /// Drains a stream of `count` messages through a pull consumer, in
    /// requests of `batch`, acking all.
    JsConsume {
        storage: load::Storage,
        size: usize,
        count: u64,
        batch: u64,
    },
    /// Drains a stream of `count` messages through a push consumer with flow
    /// control and idle heartbeats.
    JsPushFc {
        storage: load::Storage,
        size: usize,
        count: u64,
    },
    /// Sequential key-value put then get round trips.
    KvRoundTrip {
        size: usize,
        count: u64,
    },
}

/// One row of the benchmark table.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub id: &'static str,
    pub title: &'static str,
    workload: Workload,
}

/// One metric of one row; a row may report several (p50 and p99).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MetricSpec {
    pub name: &'static str,
    pub unit: &'static str,
    pub better: Better,
}

const THROUGHPUT: &[MetricSpec] = &[MetricSpec {
    name: "throughput",
    unit: "msgs/s",
    better: Better::Higher,
}];
const ROUND_TRIPS: &[MetricSpec] = &[MetricSpec {
    name: "put+get round trips",
    unit: "round trips/s",
    better: Better::Higher,
}];
const LATENCY: &[MetricSpec] = &[
    MetricSpec {
        name: "p50 latency",
        unit: "µs",
        better: Better::Lower,
    },
    MetricSpec {
        name: "p99 latency",
        unit: "µs",
        better: Better::Lower,
    },
];
const CONNECTIONS: &[MetricSpec] = &[
    MetricSpec {
        name: "connect time",
        unit: "ms",
        better: Better::Lower,
    },
    MetricSpec {
        name: "disconnect time",
        unit: "ms",
        better: Better::Lower,
    },
    MetricSpec {
        name: "server memory",
        unit: "MiB",
        better: Better::Lower,
    },
];

const RESTART: &[MetricSpec] = &[
    MetricSpec {
        name: "restart time",
        unit: "ms",
        better: Better::Lower,
    },
    MetricSpec {
        name: "server memory",
        unit: "MiB",
        better: Better::Lower,
    },
];
const SLOW_READ: &[MetricSpec] = &[
    MetricSpec {
        name: "peak server memory during the read",
        unit: "MiB",
        better: Better::Lower,
    },
    MetricSpec {
        name: "read rate",
        unit: "msgs/s",
        better: Better::Higher,
    },
];

impl Row {
    pub fn metrics(&self) -> &'static [MetricSpec] {
        match self.workload {
            Workload::Publish { .. }
            | Workload::PubSub { .. }
            | Workload::WsPubSub { .. }
            | Workload::JsPublish { .. }
            | Workload::JsConsume { .. }
            | Workload::JsPushFc { .. } => THROUGHPUT,
            Workload::KvRoundTrip { .. } => ROUND_TRIPS,
            Workload::RequestReply { .. } | Workload::ServiceImport { .. } => LATENCY,
            Workload::ManyConnections { .. } => CONNECTIONS,
            Workload::JsRestart { .. } => RESTART,
            Workload::JsSlowConsumer { .. } => SLOW_READ,
        }
    }
}

/// The rows, in report order.
pub const ROWS: &[Row] = &[
    Row {
        id: "pub-16",
        title: "publish only, 16 B",
        workload: Workload::Publish {
            size: 16,
            count: 2_000_000,
        },
    },
    Row {
        id: "pub-128",
        title: "publish only, 128 B",
        workload: Workload::Publish {
            size: 128,
            count: 1_000_000,
        },
    },
    Row {
        id: "pub-1k",
        title: "publish only, 1 KiB",
        workload: Workload::Publish {
            size: 1024,
            count: 300_000,
        },
    },
    Row {
        id: "pubsub-16",
        title: "1 publisher → 1 subscriber, 16 B",
        workload: Workload::PubSub {
            size: 16,
            count: 1_000_000,
            subs: 1,
            queue: false,
        },
    },
    Row {
        id: "pubsub-1k",
        title: "1 publisher → 1 subscriber, 1 KiB",
        workload: Workload::PubSub {
            size: 1024,
            count: 200_000,
            subs: 1,
            queue: false,
        },
    },
    Row {
        id: "fanout4-16",
        title: "fan-out 1 → 4 subscribers, 16 B",
        workload: Workload::PubSub {
            size: 16,
            count: 500_000,
            subs: 4,
            queue: false,
        },
    },
    Row {
        id: "fanout4-1k",
        title: "fan-out 1 → 4 subscribers, 1 KiB",
        workload: Workload::PubSub {
            size: 1024,
            count: 100_000,
            subs: 4,
            queue: false,
        },
    },
    Row {
        id: "queue4-128",
        title: "queue group of 4 subscribers, 128 B",
        workload: Workload::PubSub {
            size: 128,
            count: 500_000,
            subs: 4,
            queue: true,
        },
    },
    Row {
        id: "ws-pubsub-1k",
        title: "WebSocket: 1 publisher → 1 subscriber, 1 KiB of text, both over ws://",
        workload: Workload::WsPubSub {
            size: 1024,
            count: 200_000,
            compress: false,
        },
    },
    Row {
        id: "ws-pubsub-1k-deflate",
        title: "WebSocket with permessage-deflate both ways: 1 publisher → 1 subscriber, 1 KiB of text",
        workload: Workload::WsPubSub {
            size: 1024,
            count: 200_000,
            compress: true,
        },
    },
    Row {
        id: "reqrep",
        title: "request/reply round trip, sequential",
        workload: Workload::RequestReply { count: 10_000 },
    },
    Row {
        id: "reqrep-import",
        title: "request/reply through a service import, sequential",
        workload: Workload::ServiceImport { count: 10_000 },
    },
    Row {
        id: "conns-2000",
        title: "2,000 idle clients × 5 subscriptions",
        workload: Workload::ManyConnections {
            conns: 2000,
            subs: 5,
        },
    },
    Row {
        id: "conns-10000",
        title: "10,000 clients × 1 subscription, connected then closed at once",
        workload: Workload::ManyConnections {
            conns: 10_000,
            subs: 1,
        },
    },
    Row {
        id: "js-pub-sync",
        title: "JetStream: synchronous publish to a file stream, 128 B (both servers: each message written to the OS before its PubAck, so safe against kill -9; synced to disk every 2 min, Go's fixed interval and natsd's default sync_interval)",
        workload: Workload::JsPublish {
            storage: load::Storage::File,
            size: 128,
            count: 20_000,
            window: 1,
            sync_always: false,
        },
    },
    Row {
        id: "js-pub-async",
        title: "JetStream: asynchronous publish to a file stream (1,000 acks outstanding), 128 B (both servers: each message written to the OS before its PubAck, so safe against kill -9; synced to disk every 2 min, Go's fixed interval and natsd's default sync_interval)",
        workload: Workload::JsPublish {
            storage: load::Storage::File,
            size: 128,
            count: 300_000,
            window: 1000,
            sync_always: false,
        },
    },
    Row {
        id: "js-pub-async-always",
        title: "JetStream: asynchronous publish to a file stream (1,000 acks outstanding) with an fsync before every PubAck, 128 B (natsd: `sync_interval: always`, each write synced to disk before its PubAck, so safe against power loss; the messages of one socket read share one fsync. Go 2.9.10 cannot be told to sync and syncs every 2 min, so its side of the row is the weaker guarantee)",
        workload: Workload::JsPublish {
            storage: load::Storage::File,
            size: 128,
            count: 100_000,
            window: 1000,
            sync_always: true,
        },
    },
    Row {
        id: "js-pub-sync-mem",
        title: "JetStream: synchronous publish to a memory stream, 128 B",
        workload: Workload::JsPublish {
            storage: load::Storage::Memory,
            size: 128,
            count: 20_000,
            window: 1,
            sync_always: false,
        },
    },
    Row {
        id: "js-pub-async-mem",
        title: "JetStream: asynchronous publish to a memory stream (1,000 acks outstanding), 128 B",
        workload: Workload::JsPublish {
            storage: load::Storage::Memory,
            size: 128,
            count: 300_000,
            window: 1000,
            sync_always: false,
        },
    },
    Row {
        id: "js-consume",
        title: "JetStream: a pull consumer drains a 200,000-message file stream, 128 B, batches of 500, ack all (1M in the issue, scaled to a few seconds a run)",
        workload: Workload::JsConsume {
            storage: load::Storage::File,
            size: 128,
            count: 200_000,
            batch: 500,
        },
    },
    Row {
        id: "js-push-fc",
        title: "JetStream: a push consumer with flow control and 1 s heartbeats drains a 200,000-message file stream, 128 B, ack none",
        workload: Workload::JsPushFc {
            storage: load::Storage::File,
            size: 128,
            count: 200_000,
        },
    },
    Row {
        id: "js-restart-streams",
        title: "JetStream restart: 1,000 file streams × 1,000 messages of 128 B, stopped with SIGTERM and started again on the same store; time from the process start until $JS.API.INFO counts 1,000 streams, memory then",
        workload: Workload::JsRestart {
            streams: 1000,
            msgs: 1000,
            size: 128,
            window: 1000,
            crash: false,
        },
    },
    Row {
        id: "js-restart-5m",
        title: "JetStream restart: 1 file stream × 5,000,000 messages of 16 B, stopped with SIGTERM and started again on the same store; time from the process start until $JS.API.INFO counts the stream, memory then",
        workload: Workload::JsRestart {
            streams: 1,
            msgs: 5_000_000,
            size: 16,
            window: 5000,
            crash: false,
        },
    },
    Row {
        id: "js-restart-crash",
        title: "JetStream restart after a crash: 1 file stream × 1,000,000 messages of 16 B, killed with SIGKILL and started again, recovering from its block files; time from the process start until $JS.API.INFO counts the stream, memory then",
        workload: Workload::JsRestart {
            streams: 1,
            msgs: 1_000_000,
            size: 16,
            window: 5000,
            crash: true,
        },
    },
    Row {
        id: "js-slow-consumer-mem",
        title: "JetStream: a slow pull consumer far behind: a 2 GiB file stream (2,000,000 × 1 KiB), the server restarted so nothing is cached, then 200,000 messages read from the start in batches of 100 with 2 ms pauses, ack all; peak server memory during the read",
        workload: Workload::JsSlowConsumer {
            size: 1024,
            count: 2_000_000,
            read: 200_000,
            batch: 100,
            pause_ms: 2,
        },
    },
    Row {
        id: "kv-roundtrip",
        title: "key-value: put (waiting for its PubAck) then direct get of the same key, sequential, 128 B, 100 keys, file bucket",
        workload: Workload::KvRoundTrip {
            size: 128,
            count: 10_000,
        },
    },
];

/// Rows that wait for a capability natsd does not have yet.
pub const WAITING: &[(&str, &str)] = &[];

/// A JetStream server whose store is the run's directory.
const JETSTREAM: &str = "jetstream: {store_dir: \"{{dir}}/js\"}\n";
/// The same, fsyncing every write: natsd only (Go 2.10's option, which
/// Go 2.9.10 refuses).
const JETSTREAM_SYNC_ALWAYS: &str =
    "jetstream: {store_dir: \"{{dir}}/js\", sync_interval: always}\n";

/// How long filling a store for a restart row may take.
const FILL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);
/// How long a graceful stop may take (a server killed instead would turn
/// a clean restart into a recovery).
const STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// How long a restarted server may take to count its streams again.
const RECOVERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// What one run of one row on one server measured.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub values: Vec<f64>,
    pub peak_rss_kib: u64,
}

/// All samples of one row, per target.
#[derive(Debug, Clone, Serialize)]
pub struct RowResult {
    pub id: &'static str,
    pub title: &'static str,
    pub metrics: &'static [MetricSpec],
    pub go: Vec<Sample>,
    pub rust: Vec<Sample>,
    /// A run that failed (a lost message, a server that would not start).
    pub errors: Vec<String>,
}

fn proc_status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// A plain WebSocket listener that compresses for clients that ask.
const WEBSOCKET: &str =
    "websocket { host: 127.0.0.1, port: {{ws_port}}, no_tls: true, compression: true }\n";

/// Monitoring, for the rows that count connections.
const MONITORING: &str = "http: 127.0.0.1:{{http_port}}\n";

/// Two accounts: `svc` exports the service `bench.svc`, `app` imports it.
const SERVICE_IMPORT: &str = "accounts {
  SVC { users [{user: svc, password: svc}], exports [{service: bench.svc}] }
  APP { users [{user: app, password: app}], imports [{service: {account: SVC, subject: bench.svc}}] }
}
";

async fn measure(row: &Row, target: Target, bins: &Binaries) -> Result<Sample> {
    let ctx = Ctx::new(target, bins)?;
    let spec = match row.workload {
        Workload::ManyConnections { .. } => ServerSpec::new().conf(MONITORING),
        Workload::ServiceImport { .. } => ServerSpec::new().conf(SERVICE_IMPORT),
        Workload::WsPubSub { .. } => ServerSpec::new().conf(WEBSOCKET),
        Workload::JsPublish {
            sync_always: true, ..
        } if target == Target::Rust => ServerSpec::new().conf(JETSTREAM_SYNC_ALWAYS),
        Workload::JsPublish { .. }
        | Workload::JsRestart { .. }
        | Workload::JsSlowConsumer { .. }
        | Workload::JsConsume { .. }
        | Workload::JsPushFc { .. }
        | Workload::KvRoundTrip { .. } => ServerSpec::new().conf(JETSTREAM),
        _ => ServerSpec::new(),
    };
    let mut server = ctx.server(spec).await?;
    let addr = server.addr();
    let pid = server.pid().context("server has no pid")?;
    let values = match row.workload {
        Workload::Publish { size, count } => vec![load::publish_only(&addr, size, count).await?],
        Workload::PubSub {
            size,
            count,
            subs,
            queue,
        } => {
            vec![load::pub_sub(&addr, load::Via::Tcp, size, count, subs, queue).await?]
        }
        Workload::WsPubSub {
            size,
            count,
            compress,
        } => {
            let via = load::Via::Ws { compress };
            vec![load::pub_sub(&server.ws_addr()?, via, size, count, 1, false).await?]
        }
        Workload::RequestReply { count } => {
            let same = load::Parties {
                responder: None,
                requester: None,
            };
            percentiles(&load::request_reply(&addr, count, &same).await?)
        }
        Workload::ServiceImport { count } => {
            let across = load::Parties {
                responder: Some("svc"),
                requester: Some("app"),
            };
            percentiles(&load::request_reply(&addr, count, &across).await?)
        }
        Workload::JsPublish {
            storage,
            size,
            count,
            window,
            ..
        } => vec![load::js_publish(&addr, storage, size, count, window).await?],
        Workload::JsRestart {
            streams,
            msgs,
            size,
            window,
            crash,
        } => {
            let fill = load::fill_streams(&addr, streams, msgs, size, window);
            load::bounded_for(FILL_TIMEOUT, "filling the streams", fill).await?;
            let before = load::js_usage(&addr).await?;
            if crash {
                server.kill().await?;
            } else {
                graceful_stop(&mut server).await?;
            }
            let start = std::time::Instant::now();
            server.start_again(RECOVERY_TIMEOUT).await?;
            let left = RECOVERY_TIMEOUT.saturating_sub(start.elapsed());
            let after = load::wait_for_streams(&addr, streams, left).await?;
            let ms = start.elapsed().as_secs_f64() * 1e3;
            let pid = server.pid().context("server has no pid")?;
            let rss_mib = proc_status_kib(pid, "VmRSS:")? as f64 / 1024.0;
            anyhow::ensure!(
                after == before,
                "the store did not come back whole: {before:?} before, {after:?} after"
            );
            vec![ms, rss_mib]
        }
        Workload::JsSlowConsumer {
            size,
            count,
            read,
            batch,
            pause_ms,
        } => {
            let fill = load::fill_bench_stream(&addr, size, count, 1000);
            load::bounded_for(FILL_TIMEOUT, "filling the stream", fill).await?;
            graceful_stop(&mut server).await?;
            server.start_again(RECOVERY_TIMEOUT).await?;
            load::wait_for_streams(&addr, 1, RECOVERY_TIMEOUT).await?;
            let pid = server.pid().context("server has no pid")?;
            // The peak from here on: the read's, not the recovery's.
            std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
                .context("resetting the server's peak memory")?;
            let pause = std::time::Duration::from_millis(pause_ms);
            let slow = load::js_slow_read(&addr, read, batch, pause);
            let rate = load::bounded_for(FILL_TIMEOUT, "the slow read", slow).await?;
            let peak_mib = proc_status_kib(pid, "VmHWM:")? as f64 / 1024.0;
            vec![peak_mib, rate]
        }
        Workload::JsConsume {
            storage,
            size,
            count,
            batch,
        } => vec![load::js_consume(&addr, storage, size, count, batch).await?],
        Workload::JsPushFc {
            storage,
            size,
            count,
        } => vec![load::js_push_fc(&addr, storage, size, count).await?],
        Workload::KvRoundTrip { size, count } => {
            vec![load::kv_roundtrip(&addr, size, count).await?]
        }
        Workload::ManyConnections { conns, subs } => {
            let (ms, held) = load::many_connections(&addr, conns, subs).await?;
            let rss_mib = proc_status_kib(pid, "VmRSS:")? as f64 / 1024.0;
            let closing = std::time::Instant::now();
            drop(held);
            wait_for_no_connections(&ctx, &server).await?;
            let close_ms = closing.elapsed().as_secs_f64() * 1e3;
            vec![ms, close_ms, rss_mib]
        }
    };
    // A restart row's server is a new process by now.
    let pid = server.pid().context("server has no pid")?;
    let peak_rss_kib = proc_status_kib(pid, "VmHWM:")?;
    server.stop().await?;
    Ok(Sample {
        values,
        peak_rss_kib,
    })
}

/// SIGTERM, then a wait for the process to exit; a server that does not
/// exit in time fails the run.
async fn graceful_stop(server: &mut crate::kit::Server) -> Result<()> {
    server.signal(nix::sys::signal::Signal::SIGTERM)?;
    server
        .wait_exit(STOP_TIMEOUT)
        .await
        .context("graceful stop")?;
    Ok(())
}

/// p50 and p99 of sorted latencies.
fn percentiles(lat: &[f64]) -> Vec<f64> {
    let at = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
    vec![at(0.50), at(0.99)]
}

/// Polls /varz every 5 ms until the server counts no client connection (30 s
/// at most); `kit::eventually`'s 20 ms steps are too coarse for a
/// measurement of about 50 ms.
async fn wait_for_no_connections(ctx: &Ctx, server: &crate::kit::Server) -> Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let varz = ctx.http_json(server, "/varz").await?;
        if varz["connections"].as_u64() == Some(0) {
            return Ok(());
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "{} connections still open after 30 s",
            varz["connections"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Lets this process and the servers it starts hold thousands of sockets.
fn raise_fd_limit() -> Result<()> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    Ok(())
}

impl Workload {
    /// Sequential round trips time one message at a time: their clients run
    /// on one thread, so that where the load generator's own threads land on
    /// 2 cores does not decide the latency (it made runs bimodal, ±2×).
    fn is_round_trip(&self) -> bool {
        matches!(
            self,
            Workload::RequestReply { .. } | Workload::ServiceImport { .. }
        )
    }
}

/// Runs the selected rows `runs` times on each target, alternating targets.
pub fn run(rows: &[&Row], runs: usize, bins: &Binaries) -> Result<Vec<RowResult>> {
    raise_fd_limit()?;
    let parallel = tokio::runtime::Runtime::new()?;
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut results = Vec::new();
    for row in rows {
        let runtime = if row.workload.is_round_trip() {
            &single
        } else {
            &parallel
        };
        let mut result = RowResult {
            id: row.id,
            title: row.title,
            metrics: row.metrics(),
            go: Vec::new(),
            rust: Vec::new(),
            errors: Vec::new(),
        };
        for i in 0..runs {
            for target in [Target::Go, Target::Rust] {
                eprintln!(
                    "bench {} run {}/{} on {}",
                    row.id,
                    i + 1,
                    runs,
                    target.as_str()
                );
                match runtime.block_on(measure(row, target, bins)) {
                    Ok(sample) => match target {
                        Target::Go => result.go.push(sample),
                        Target::Rust => result.rust.push(sample),
                    },
                    Err(e) => {
                        result
                            .errors
                            .push(format!("{} run {}: {e:#}", target.as_str(), i + 1))
                    }
                }
            }
        }
        results.push(result);
    }
    Ok(results)
}
