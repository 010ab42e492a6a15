//! `parity crash`: kills a server with SIGKILL under load, again and again,
//! and checks after each restart that nothing it acknowledged is lost or
//! changed (see `verify`).
//!
//! Each server keeps one file store across all its cycles. A cycle puts the
//! server under load (see `workload`), kills it at a random moment
//! (sometimes within milliseconds of the load starting), restarts it on the
//! same store, times the restart, and checks the stream and its durable
//! consumer. What the server acknowledged is in the `ledger`.
//!
//! The clients of a cycle must not outlive its kill: a client that
//! reconnected to the restarted server would send the publishes it still had
//! queued while the check reads the stream (the stream would grow under the
//! check). They give up at their first failed reconnect, and the restart
//! waits until all of them have.

mod ledger;
pub mod report;
mod verify;
mod workload;

use crate::kit::js::JS_CONF;
use crate::kit::{Binaries, Ctx, Server, ServerSpec, Target};
use crate::rng::Rng;
use anyhow::{anyhow, Context as _, Result};
use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, stream};
use ledger::Ledger;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

pub const STREAM: &str = "CRASH";
pub const CONSUMER: &str = "C";
/// Generator streams of the run's draws.
const RNG_CYCLES: u64 = 1;
const RNG_PUBLISH: u64 = 2;
const RNG_ADMIN: u64 = 3;
/// How long a connection to a restarted server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a task may take to end once aborted.
const ABORT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the clients of a killed server may take to give up.
const GIVE_UP_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Options {
    pub seed: u64,
    pub cycles: usize,
    pub targets: Vec<Target>,
    pub bins: Binaries,
}

/// Counters of the whole run of one server (a cycle's are differences).
#[derive(Default)]
pub struct Counts {
    pub published: AtomicU64,
    pub acked: AtomicU64,
    pub expected: AtomicU64,
    pub republished: AtomicU64,
    pub consumer_acks: AtomicU64,
    pub redelivered_after_ack: AtomicU64,
    /// Snapshots read to their end.
    pub snapshots: AtomicU64,
}

/// What the admin task was doing (for where kills landed).
#[derive(Default)]
pub struct Activity {
    pub purge: AtomicBool,
    pub delete: AtomicBool,
    pub compact: AtomicBool,
    pub snapshot: AtomicBool,
}

impl Activity {
    /// The operations a kill can land in, by name.
    pub const NAMES: [&'static str; 4] = ["purge", "delete", "compaction purge", "snapshot"];

    fn flags(&self) -> [(&'static str, &AtomicBool); 4] {
        let flags = [&self.purge, &self.delete, &self.compact, &self.snapshot];
        std::array::from_fn(|i| (Self::NAMES[i], flags[i]))
    }

    /// What is in flight now.
    fn in_flight(&self) -> Vec<&'static str> {
        self.flags()
            .into_iter()
            .filter(|(_, on)| on.load(Ordering::Relaxed))
            .map(|(what, _)| what)
            .collect()
    }

    fn clear(&self) {
        for (_, f) in self.flags() {
            f.store(false, Ordering::Relaxed);
        }
    }
}

/// The state of one server's run, shared by its tasks.
pub struct Run {
    pub seed: u64,
    pub ledger: Mutex<Ledger>,
    /// The highest stream sequence the durable consumer acked.
    pub consumer_acked_upto: AtomicU64,
    pub counts: Counts,
    pub activity: Activity,
    problems: Mutex<Vec<String>>,
}

impl Run {
    pub fn problem(&self, p: String) {
        self.problems.lock().expect("problems").push(p);
    }

    fn take_problems(&self) -> Vec<String> {
        std::mem::take(&mut *self.problems.lock().expect("problems"))
    }
}

/// One cycle: load, kill, restart, check.
#[derive(Debug, Clone, Default)]
pub struct Cycle {
    pub kill_after: Duration,
    /// Admin operations in flight at the kill.
    pub killed_during: Vec<&'static str>,
    pub published: u64,
    pub acked: u64,
    pub consumer_acks: u64,
    pub redelivered_after_ack: u64,
    pub snapshots: u64,
    pub restart: Duration,
    pub findings: verify::Findings,
}

impl Cycle {
    /// Nothing acknowledged lost or corrupt, and no other problem.
    pub fn clean(&self) -> bool {
        self.safe() && self.findings.problems.is_empty()
    }

    /// Nothing acknowledged lost or corrupt.
    pub fn safe(&self) -> bool {
        self.findings.lost.is_empty() && self.findings.corrupt.is_empty()
    }
}

/// All cycles of one server.
pub struct TargetRun {
    pub target: Target,
    pub cycles: Vec<Cycle>,
    /// Why the run stopped early, if it did.
    pub error: Option<String>,
    /// Messages acknowledged and not removed at the end.
    pub live: usize,
}

impl TargetRun {
    pub fn clean(&self) -> bool {
        self.error.is_none() && self.cycles.iter().all(Cycle::clean)
    }

    /// Ran to the end with nothing acknowledged lost or corrupt (other
    /// problems are reported, not failed on).
    pub fn safe(&self) -> bool {
        self.error.is_none() && self.cycles.iter().all(Cycle::safe)
    }
}

/// Runs the cycles on each target in turn.
pub fn run(opts: &Options) -> Result<Vec<TargetRun>> {
    let runtime = tokio::runtime::Runtime::new()?;
    let mut runs = Vec::new();
    for &target in &opts.targets {
        let ctx = Ctx::new(target, &opts.bins)?;
        let run = Arc::new(Run {
            seed: opts.seed,
            ledger: Mutex::new(Ledger::new(opts.seed)),
            consumer_acked_upto: AtomicU64::new(0),
            counts: Counts::default(),
            activity: Activity::default(),
            problems: Mutex::default(),
        });
        let mut cycles = Vec::new();
        let outcome = runtime.block_on(run_target(&ctx, &run, opts, &mut cycles));
        let live = run.ledger.lock().expect("ledger").live();
        runs.push(TargetRun {
            target,
            cycles,
            error: outcome.err().map(|e| format!("{e:#}")),
            live,
        });
    }
    Ok(runs)
}

async fn run_target(ctx: &Ctx, run: &Arc<Run>, opts: &Options, out: &mut Vec<Cycle>) -> Result<()> {
    let mut server = ctx.server(ServerSpec::new().conf(JS_CONF)).await?;
    let client = connect(&server).await?;
    create(&client).await?;
    drop(client);
    let mut rng = Rng::for_case(opts.seed, RNG_CYCLES, 0);
    let mut last_seq = 0;
    let mut floor = 0;
    for i in 1..=opts.cycles {
        eprintln!("crash {} cycle {i}/{}", ctx.target().as_str(), opts.cycles);
        let c = cycle(&mut server, run, &mut rng, i as u64, last_seq, floor)
            .await
            .with_context(|| format!("cycle {i}"))?;
        last_seq = c.findings.last_seq;
        floor = c.findings.ack_floor.max(floor);
        out.push(c);
    }
    server.stop().await
}

/// The stream (file storage, subjects `crash.>`) and its durable consumer.
async fn create(client: &async_nats::Client) -> Result<()> {
    let js = jetstream::new(client.clone());
    let stream = js
        .create_stream(stream::Config {
            name: STREAM.to_string(),
            subjects: vec!["crash.>".to_string()],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow!("creating the stream: {e}"))?;
    stream
        .create_consumer(pull::Config {
            durable_name: Some(CONSUMER.to_string()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(1),
            max_ack_pending: 20_000,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow!("creating the consumer: {e}"))?;
    Ok(())
}

async fn connect(server: &Server) -> Result<async_nats::Client> {
    async_nats::ConnectOptions::new()
        .connection_timeout(CONNECT_TIMEOUT)
        .connect(server.url())
        .await
        .map_err(|e| anyhow!("connecting to {}: {e}", server.url()))
}

/// How many clients of a cycle have given up their connection for good.
#[derive(Default)]
struct GaveUp {
    count: AtomicUsize,
    notify: Notify,
}

impl GaveUp {
    /// Waits until `n` clients have given up.
    async fn all(&self, n: usize) -> Result<()> {
        let wait = async {
            loop {
                let notified = self.notify.notified();
                if self.count.load(Ordering::SeqCst) >= n {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(GIVE_UP_TIMEOUT, wait)
            .await
            .map_err(|_| anyhow!("a client of the killed server still had not given up after {GIVE_UP_TIMEOUT:?}"))
    }
}

/// A client of one cycle: one reconnect attempt at most (it fails, the
/// server is dead), after which it counts in `gave_up`.
async fn cycle_client(server: &Server, gave_up: &Arc<GaveUp>) -> Result<async_nats::Client> {
    let gave_up = gave_up.clone();
    async_nats::ConnectOptions::new()
        .connection_timeout(CONNECT_TIMEOUT)
        .max_reconnects(1)
        .event_callback(move |event| {
            let gave_up = gave_up.clone();
            async move {
                use async_nats::{ClientError, Event};
                if matches!(
                    event,
                    Event::Closed | Event::ClientError(ClientError::MaxReconnects)
                ) {
                    gave_up.count.fetch_add(1, Ordering::SeqCst);
                    gave_up.notify.notify_waiters();
                }
            }
        })
        .connect(server.url())
        .await
        .map_err(|e| anyhow!("connecting to {}: {e}", server.url()))
}

async fn cycle(
    server: &mut Server,
    run: &Arc<Run>,
    rng: &mut Rng,
    index: u64,
    last_seq: u64,
    previous_floor: u64,
) -> Result<Cycle> {
    let before = snapshot(&run.counts);
    let kill_after = Duration::from_millis(if rng.chance(1, 10) {
        rng.range(0, 30)
    } else {
        rng.range(100, 1500)
    } as u64);
    let gave_up = Arc::new(GaveUp::default());
    let publisher = jetstream::new(cycle_client(server, &gave_up).await?);
    let reader = jetstream::new(cycle_client(server, &gave_up).await?);
    let admin = cycle_client(server, &gave_up).await?;
    let consumer = reader
        .get_stream(STREAM)
        .await
        .map_err(|e| anyhow!("{e}"))?
        .get_consumer(CONSUMER)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let seed = run.seed;
    let tasks = [
        tokio::spawn(workload::publish(
            publisher,
            run.clone(),
            Rng::for_case(seed, RNG_PUBLISH, index),
            last_seq,
        )),
        tokio::spawn(workload::consume(consumer, run.clone())),
        tokio::spawn(workload::administer(
            admin,
            run.clone(),
            Rng::for_case(seed, RNG_ADMIN, index),
        )),
    ];
    tokio::time::sleep(kill_after).await;
    let killed_during = run.activity.in_flight();
    server.kill().await?;
    for t in tasks {
        t.abort();
        // A task that ended early on its own says why in the problems it
        // recorded; how it ended is not news.
        let _ = tokio::time::timeout(ABORT_TIMEOUT, t).await;
    }
    run.activity.clear();
    gave_up.all(3).await?;
    let start = Instant::now();
    server.restart().await?;
    let client = connect(server).await?;
    let js = jetstream::new(client.clone());
    let stream = js.get_stream(STREAM).await.map_err(|e| anyhow!("{e}"))?;
    let restart = start.elapsed();
    let mut findings = verify::check_stream(&client, &stream, run).await?;
    verify::check_consumer(&client, &stream, run, &mut findings, previous_floor).await?;
    verify::check_unchanged(&client, &mut findings).await?;
    findings.problems.extend(run.take_problems());
    let after = snapshot(&run.counts);
    Ok(Cycle {
        kill_after,
        killed_during,
        published: after[0] - before[0],
        acked: after[1] - before[1],
        consumer_acks: after[4] - before[4],
        redelivered_after_ack: after[5] - before[5],
        snapshots: after[6] - before[6],
        restart,
        findings,
    })
}

fn snapshot(c: &Counts) -> [u64; 7] {
    [
        &c.published,
        &c.acked,
        &c.expected,
        &c.republished,
        &c.consumer_acks,
        &c.redelivered_after_ack,
        &c.snapshots,
    ]
    .map(|a| a.load(Ordering::Relaxed))
}

/// Where the report goes by default.
pub fn default_report(root: &std::path::Path) -> PathBuf {
    root.join("reports/crash.md")
}
