//! More stream-side JetStream scenarios on one server, from
//! server/jetstream_test.go: the API imported from another account
//! (TestJetStreamAccountImportAll), reservations of max_bytes in /varz
//! (TestJetStreamStorageReservedBytes), the file store's recovery of what an
//! older server or a crash left behind (TestJetStreamRecoverBadStreamSubjects,
//! TestJetStreamRecoverBadMirrorConfigWithSubjects,
//! TestJetStreamRecoverStreamWithDeletedMessagesNonCleanShutdown,
//! TestJetStreamSimpleFileRecovery), the block size a file stream
//! gets (TestJetStreamAutoTuneFSConfig), a mirror's config that may not
//! change (TestJetStreamMirrorUpdatesNotSupported), an account's JetStream
//! data purged from the system account (TestJetStreamAccountPurge, with
//! config accounts) and stream descriptions
//! (TestJetStreamConsumerAndStreamDescriptions' stream half).
//!
//! The Go tests call `acc.addStream`, `mset.state()`, `mset.config()` and
//! `mset.fileStoreConfig()` in process; here a stream is made through
//! `$JS.API.STREAM.CREATE`, its state and config are read through
//! `$JS.API.STREAM.INFO`, and what the Go test reads or writes in the store
//! folder (`<store>/jetstream/<account>/streams/<stream>/...`) is read or
//! written in the store folder of the server the scenario started: a stream's
//! `meta.inf` rewritten the way an older server would have written it (with
//! its `meta.sum`, Go's HighwayHash-64 keyed by the sha256 of the stream's
//! folder name, so that the server trusts it), a `msgs/1.fss` removed as a
//! crash leaves it, the `msgs/N.blk` files that show where a block ended. A
//! Go `s.Shutdown()` and restart on the same store is a graceful stop and a
//! start of the same config.

use crate::check_eq;
use crate::kit::js::{
    api_err, b64, js_server_with, num, pull_one, scrub, Js, JS_CONF, PULL_INBOX, PULL_SID,
};
use crate::kit::{Ctx, Server, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{ensure, Context, Result};
use futures::FutureExt;
use highway::{HighwayHash, HighwayHasher, Key};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    let js = |s: Scenario| s.needs(Need::JetStream);
    let mon = |s: Scenario| s.needs(Need::JetStream).needs(Need::Monitoring);
    vec![
        js(Scenario::new("jetstream/account-import-all", |c| {
            account_import_all(c).boxed()
        })
        .full("TestJetStreamAccountImportAll")),
        mon(Scenario::new("jetstream/storage-reserved-bytes", |c| {
            storage_reserved_bytes(c).boxed()
        })
        .full("TestJetStreamStorageReservedBytes")),
        js(
            Scenario::new("jetstream/recover-deleted-msgs-non-clean", |c| {
                recover_deleted_non_clean(c).boxed()
            })
            .full("TestJetStreamRecoverStreamWithDeletedMessagesNonCleanShutdown"),
        ),
        js(Scenario::new("jetstream/recover-bad-stream-subjects", |c| {
            recover_bad_subjects(c).boxed()
        })
        .full("TestJetStreamRecoverBadStreamSubjects")),
        js(Scenario::new("jetstream/recover-bad-mirror-config", |c| {
            recover_bad_mirror(c).boxed()
        })
        .full("TestJetStreamRecoverBadMirrorConfigWithSubjects")),
        js(
            Scenario::new("jetstream/mirror-updates-not-supported", |c| {
                mirror_updates_not_supported(c).boxed()
            })
            .full("TestJetStreamMirrorUpdatesNotSupported"),
        ),
        js(Scenario::new("jetstream/auto-tune-fs-block-size", |c| {
            auto_tune_block_size(c).boxed()
        })
        .full("TestJetStreamAutoTuneFSConfig")),
        // Partial: config accounts stand for the Go test's operator, JWT
        // resolver and account JWT (needs jwt), and its durable consumer
        // DUR1 is not made (needs consumers); the JWT removed before the
        // restart has no config-account counterpart.
        js(
            Scenario::new("jetstream/account-purge", |c| account_purge(c).boxed())
                .partial("TestJetStreamAccountPurge"),
        ),
        // Partial: the stream half only; the consumer's description and its
        // length limit need consumers.
        js(Scenario::new("jetstream/stream-description", |c| {
            stream_description(c).boxed()
        })
        .partial("TestJetStreamConsumerAndStreamDescriptions")),
        js(Scenario::new("jetstream/simple-file-recovery", |c| {
            simple_file_recovery(c).boxed()
        })
        .full("TestJetStreamSimpleFileRecovery")),
    ]
}

// ---------------------------------------------------------------- helpers

/// Where a server started from [`JS_CONF`] keeps `account`'s streams.
fn streams_dir(s: &Server, account: &str) -> PathBuf {
    s.dir()
        .join("js")
        .join("jetstream")
        .join(account)
        .join("streams")
}

/// The names in a folder, sorted; an error when it can not be read.
fn entries(dir: &Path) -> Result<Vec<String>> {
    let mut names = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
        .collect::<Result<Vec<_>>>()?;
    names.sort();
    Ok(names)
}

/// The `meta.sum` of a stream folder named `name` whose `meta.inf` is
/// `meta`: HighwayHash-64 keyed by sha256 of the name (its 32 bytes as four
/// little-endian words), the sum's 8 bytes little-endian, in lower-case hex.
fn meta_sum(name: &str, meta: &[u8]) -> String {
    let digest = Sha256::digest(name.as_bytes());
    let mut key = [0u64; 4];
    for (k, chunk) in key.iter_mut().zip(digest.chunks_exact(8)) {
        *k = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
    }
    let mut h = HighwayHasher::new(Key(key));
    h.append(meta);
    h.finalize64()
        .to_le_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Rewrites a stream's `meta.inf` with `edit` applied to its JSON, and its
/// `meta.sum` to match, as a server would have written them.
fn rewrite_meta(stream_dir: &Path, edit: impl FnOnce(&mut Value)) -> Result<()> {
    let inf = stream_dir.join("meta.inf");
    let mut meta: Value = serde_json::from_slice(
        &std::fs::read(&inf).with_context(|| format!("reading {}", inf.display()))?,
    )
    .context("meta.inf is not JSON")?;
    edit(&mut meta);
    let text = serde_json::to_vec(&meta)?;
    let name = stream_dir
        .file_name()
        .context("stream folder without a name")?
        .to_string_lossy()
        .into_owned();
    std::fs::write(&inf, &text)?;
    std::fs::write(stream_dir.join("meta.sum"), meta_sum(&name, &text))?;
    Ok(())
}

/// A stream's config from its info, without the fields that say when.
fn config_of(info: &Value) -> Value {
    info["config"].clone()
}

// ---------------------------------------------------------------- imports

async fn account_import_all(ctx: Ctx) -> Result<()> {
    let conf = "no_auth_user: rip
jetstream: {max_mem_store: 64GB, max_file_store: 10TB, store_dir: \"{{dir}}/js\"}
accounts: {
  JS: {
    jetstream: enabled
    users: [ {user: dlc, password: foo} ]
    exports [ { service: \"$JS.API.>\" } ]
  },
  IU: {
    users: [ {user: rip, password: bar} ]
    imports [ { service: { subject: \"$JS.API.>\", account: JS }, to: \"jsapi.>\"} ]
  },
}
";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    // The Go test adds the stream to JS in process: here a JS user does.
    let mut dlc = Js::connect_with(&ctx, &s, ",\"user\":\"dlc\",\"pass\":\"foo\"").await?;
    dlc.create(json!({"name": "ORDERS", "subjects": ["ORDERS.*"]}))
        .await?;
    // The no-auth user is rip, of IU, which imports all of JS's API.
    let mut rip = Js::connect(&ctx, &s).await?;
    let info = rip.api("jsapi.INFO", "").await?;
    check_eq!(api_err(&info), (0, 0, String::new()));
    check_eq!(info["streams"], json!(1));
    ctx.observe_json("account info through the import", &info);
    let names = rip.api("jsapi.STREAM.NAMES", "").await?;
    check_eq!(api_err(&names), (0, 0, String::new()));
    check_eq!(names["streams"], json!(["ORDERS"]));
    ctx.observe_json("stream names through the import", &names);
    Ok(())
}

// ---------------------------------------------------------------- reservations

/// The server's JetStream config and stats in /varz.
async fn varz_js(ctx: &Ctx, s: &Server) -> Result<Value> {
    Ok(ctx.http_json(s, "/varz").await?["jetstream"].clone())
}

async fn storage_reserved_bytes(ctx: Ctx) -> Result<()> {
    const SYSTEM: i64 = 1024;
    let server = format!(
        "http: 127.0.0.1:{{{{http_port}}}}\njetstream: {{max_mem_store: {SYSTEM}, max_file_store: {SYSTEM}, store_dir: \"{{{{dir}}}}/js\"}}\n"
    );
    // The Go test sets the global account's limits in process between its
    // cases: here the cases without account limits run on a server whose
    // global account has none, those with a limit of half the server's on a
    // server where the account A has it from the config.
    let half = SYSTEM / 2;
    let unlimited = ctx.server(ServerSpec::new().conf(&server)).await?;
    let limited = ctx
        .server(ServerSpec::new().conf(&format!(
            "{server}accounts: {{ A: {{ jetstream: {{max_mem: {half}, max_store: {half}}}, users: [ {{user: a, password: a}} ] }} }}\nno_auth_user: a\n"
        )))
        .await?;
    for s in [&unlimited, &limited] {
        let v = varz_js(&ctx, s).await?;
        check_eq!(
            (
                v["config"]["max_memory"].clone(),
                v["config"]["max_storage"].clone()
            ),
            (json!(SYSTEM), json!(SYSTEM))
        );
    }
    let r66 = |limit: i64| (limit as f64 * 0.666).round() as i64;
    // (label, account limit, storage, max_bytes at create, at update, update refused)
    let cases: [(&str, i64, &str, i64, i64, bool); 12] = [
        (
            "file reserve 66% of system limit",
            -1,
            "file",
            r66(SYSTEM),
            r66(SYSTEM) + 1,
            false,
        ),
        (
            "memory reserve 66% of system limit",
            -1,
            "memory",
            r66(SYSTEM),
            r66(SYSTEM) + 1,
            false,
        ),
        (
            "file update past system limit",
            -1,
            "file",
            SYSTEM,
            SYSTEM + 1,
            true,
        ),
        (
            "memory update past system limit",
            -1,
            "memory",
            SYSTEM,
            SYSTEM + 1,
            true,
        ),
        (
            "file update to system limit",
            -1,
            "file",
            SYSTEM - 1,
            SYSTEM,
            false,
        ),
        (
            "memory update to system limit",
            -1,
            "memory",
            SYSTEM - 1,
            SYSTEM,
            false,
        ),
        (
            "file reserve 66% of account limit",
            half,
            "file",
            r66(half),
            r66(half) + 1,
            false,
        ),
        (
            "memory reserve 66% of account limit",
            half,
            "memory",
            r66(half),
            r66(half) + 1,
            false,
        ),
        (
            "file update past account limit",
            half,
            "file",
            half,
            half + 1,
            true,
        ),
        (
            "memory update past account limit",
            half,
            "memory",
            half,
            half + 1,
            true,
        ),
        (
            "file update to account limit",
            half,
            "file",
            half - 1,
            half,
            false,
        ),
        (
            "memory update to account limit",
            half,
            "memory",
            half - 1,
            half,
            false,
        ),
    ];
    for (label, account_limit, storage, create_max, update_max, refused) in cases {
        let s = if account_limit < 0 {
            &unlimited
        } else {
            &limited
        };
        let reserved_field = if storage == "memory" {
            "reserved_memory"
        } else {
            "reserved_storage"
        };
        let mut js = Js::connect(&ctx, s).await?;
        let mut cfg = json!({"name": "TEST", "subjects": ["foo"], "storage": storage,
            "max_bytes": create_max});
        js.create(cfg.clone())
            .await
            .with_context(|| label.to_string())?;
        cfg["max_bytes"] = json!(update_max);
        let r = js.update(&cfg).await?;
        let (code, err_code, desc) = api_err(&r);
        if refused {
            ensure!(
                code != 0,
                "{label}: Unexpected update success, newMaxBytes={}",
                r["config"]["max_bytes"]
            );
            ctx.observe(
                &format!("{label}: update"),
                format!("{code} {err_code} {desc}"),
            );
        } else {
            ensure!(code == 0, "{label}: Unexpected update error: {desc}");
            let reserved = varz_js(&ctx, s).await?["stats"][reserved_field].clone();
            check_eq!((label, reserved), (label, json!(update_max)));
        }
        let r = js.delete_stream("TEST").await?;
        check_eq!(api_err(&r), (0, 0, String::new()));
        let reserved = varz_js(&ctx, s).await?["stats"][reserved_field].clone();
        check_eq!((label, reserved), (label, json!(0)));
    }
    Ok(())
}

// ---------------------------------------------------------------- recovery

async fn recover_deleted_non_clean(ctx: Ctx) -> Result<()> {
    let mut s = js_server_with(&ctx, "").await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "T"})).await?;
    for _ in 0..100 {
        js.stored("T", "OK").await?;
    }
    let r = js.msg_delete("T", "{\"seq\":22}").await?;
    check_eq!(r["success"], json!(true));
    drop(js);
    s.stop().await?;
    // A non-clean shutdown: the per-subject state file was never written.
    let fss = streams_dir(&s, "$G").join("T").join("msgs").join("1.fss");
    std::fs::remove_file(&fss).with_context(|| format!("removing {}", fss.display()))?;
    s.restart().await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let info = js.info("T").await?;
    let state = &info["state"];
    check_eq!(
        (
            num(&state["messages"]),
            num(&state["first_seq"]),
            num(&state["last_seq"]),
            num(&state["num_deleted"])
        ),
        (99, 1, 100, 1)
    );
    ctx.observe_json("state after restart", &scrub(state));
    Ok(())
}

async fn recover_bad_subjects(ctx: Ctx) -> Result<()> {
    let mut s = js_server_with(&ctx, "").await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "subjects": ["foo", "bar", "baz"], "storage": "file"}))
        .await?;
    drop(js);
    s.stop().await?;
    // As a server that let spaces around a subject through wrote it.
    rewrite_meta(&streams_dir(&s, "$G").join("TEST"), |m| {
        m["subjects"] = json!(["foo", "bar", " baz "]);
    })?;
    s.restart().await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let info = js.info("TEST").await?;
    let subjects = info["config"]["subjects"].clone();
    check_eq!(subjects.as_array().map(Vec::len), Some(3));
    // Recovered with the spaces trimmed, as Go repairs it.
    check_eq!(subjects, json!(["foo", "bar", "baz"]));
    ctx.observe_json("subjects after recovery", &subjects);
    Ok(())
}

async fn recover_bad_mirror(ctx: Ctx) -> Result<()> {
    let mut s = js_server_with(&ctx, "").await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "S", "subjects": ["foo"]})).await?;
    js.create(json!({"name": "M", "mirror": {"name": "S"}, "storage": "file"}))
        .await?;
    drop(js);
    s.stop().await?;
    // As a server that let a mirror have subjects wrote it.
    rewrite_meta(&streams_dir(&s, "$G").join("M"), |m| {
        m["subjects"] = json!(["foo", "bar", "baz"]);
    })?;
    s.restart().await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let info = js.info("M").await?;
    let subjects = info["config"].get("subjects").cloned();
    check_eq!(
        subjects
            .as_ref()
            .and_then(Value::as_array)
            .map(Vec::len)
            .unwrap_or(0),
        0
    );
    ctx.observe(
        "mirror subjects after recovery",
        info["config"]["subjects"].to_string(),
    );
    Ok(())
}

/// TestJetStreamSimpleFileRecovery: ten file streams, each with up to five
/// work-queue durables that pulled (and acked) some of its messages, come
/// back from a restart with the same state, config and consumers, each
/// consumer where it was; and the account's usage is the same.
async fn simple_file_recovery(ctx: Ctx) -> Result<()> {
    let mut s = js_server_with(&ctx, "").await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.sub(PULL_INBOX, PULL_SID).await?;
    // The Go test's random choices, fixed: how many messages each stream
    // gets and on which of its three subjects, how many consumers it gets
    // and how many messages each of them takes.
    let mut before = Vec::new();
    for i in 1..=10u64 {
        let name = format!("MMS-{i}");
        let subjects: Vec<String> = (1..=3).map(|k| format!("SUBJ.{i}.{k}")).collect();
        js.create(
            json!({"name": name, "storage": "file", "subjects": subjects,
            "max_msgs": 100}),
        )
        .await
        .with_context(|| format!("Unexpected error adding stream {name:?}"))?;
        let to_send = (i * 37) % 100 + 1;
        for n in 1..=to_send {
            let subject = &subjects[((n * 7 + i) % 3) as usize];
            js.stored(subject, &format!("Hello {}", n * i)).await?;
        }
        let num_obs = (i * 3) % 5 + 1;
        let mut obs = Vec::new();
        for n in 1..=num_obs {
            let oname = format!("WQ-{i}-{n}");
            // workerModeConfig: a pull durable with explicit acks.
            let r = js
                .api(
                    &format!("$JS.API.CONSUMER.DURABLE.CREATE.{name}.{oname}"),
                    &json!({"stream_name": name,
                        "config": {"durable_name": oname, "ack_policy": "explicit"}})
                    .to_string(),
                )
                .await?;
            ensure!(r.get("error").is_none(), "Unexpected error: {r}");
            let to_receive = (i * 11 + n * 13) % to_send + 1;
            for _ in 0..to_receive {
                let m = pull_one(&mut js, &name, &oname, Duration::from_secs(1))
                    .await
                    .with_context(|| format!("pulling from {oname}"))?;
                ensure!(
                    m.headers.is_none(),
                    "{oname}: a status instead of a message: {m:?}"
                );
                let reply = m.reply.context("a pulled message without reply")?;
                js.send(&reply, None, &[], b"").await?;
            }
            obs.push((oname, to_receive));
        }
        let info = js.info(&name).await?;
        before.push((name, info["state"].clone(), config_of(&info), obs));
    }
    let usage = js.api("$JS.API.INFO", "").await?;
    js.flush().await?;
    drop(js);
    // The Go test's count of goroutines left after Shutdown() is the
    // in-process server's; here the server is a process that stops.
    s.restart().await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let after = js.api("$JS.API.INFO", "").await?;
    // JetStreamUsage: all of $JS.API.INFO but its API counters.
    for field in [
        "memory",
        "storage",
        "reserved_memory",
        "reserved_storage",
        "streams",
        "consumers",
        "limits",
    ] {
        check_eq!((field, &after[field]), (field, &usage[field]));
    }
    ctx.observe_json("usage after restart", &after);
    for (name, state, cfg, obs) in before {
        let info = js
            .info(&name)
            .await
            .with_context(|| format!("Expected to find a stream for {name:?}"))?;
        check_eq!((&name, &info["state"]), (&name, &state));
        check_eq!((&name, config_of(&info)), (&name, cfg));
        ctx.observe_json(&format!("{name} state"), &scrub(&info["state"]));
        ensure!(
            num(&info["state"]["consumer_count"]) == obs.len() as u64,
            "Number of consumers do not match: {} vs {}",
            info["state"]["consumer_count"],
            obs.len()
        );
        for (oname, to_receive) in obs {
            let ci = js
                .api(&format!("$JS.API.CONSUMER.INFO.{name}.{oname}"), "")
                .await?;
            ensure!(
                ci.get("error").is_none(),
                "Expected to get an consumer: {ci}"
            );
            // o.nextSeq(): the stream sequence it delivers next.
            let next_seq = num(&ci["delivered"]["stream_seq"]) + 1;
            ensure!(
                next_seq == to_receive + 1,
                "Consumer next seq is not correct: {} vs {next_seq}",
                to_receive + 1
            );
            ctx.observe(
                &format!("{oname} delivered (consumer, stream)"),
                format!(
                    "{} {}",
                    ci["delivered"]["consumer_seq"], ci["delivered"]["stream_seq"]
                ),
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- file store blocks

/// The block files of a stream, in index order.
fn blocks(s: &Server, stream: &str) -> Result<Vec<String>> {
    let dir = streams_dir(s, "$G").join(stream).join("msgs");
    let mut blks: Vec<(u64, String)> = entries(&dir)?
        .into_iter()
        .filter_map(|n| Some((n.strip_suffix(".blk")?.parse().ok()?, n)))
        .collect();
    blks.sort();
    Ok(blks.into_iter().map(|(_, n)| n).collect())
}

/// Publishes `n` messages of `payload` on `subject` without replies and waits
/// until the stream's last sequence is `last`.
async fn publish_until(
    js: &mut Js,
    stream: &str,
    subject: &str,
    payload: &str,
    n: u64,
    last: u64,
) -> Result<()> {
    for _ in 0..n {
        js.publish(subject, payload).await?;
    }
    js.flush().await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got = num(&js.state(stream).await?["last_seq"]);
        if got == last {
            return Ok(());
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "{stream}: last_seq {got}, want {last}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn auto_tune_block_size(ctx: Ctx) -> Result<()> {
    const MIN_BLK: u64 = 32 * 1000;
    const MEDIUM_BLK: u64 = 4 * 1024 * 1024;
    const MAX_BLK: u64 = 8 * 1024 * 1024;
    // A record in a block is 22 bytes of header, the subject, the payload
    // and an 8-byte checksum: payloads sized so that each record is 512
    // bytes, which makes a block of B bytes hold B / 512 messages.
    const RECORD: u64 = 512;
    let s = js_server_with(&ctx, "").await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for (name, max_msgs, max_bytes, want) in [
        ("foo", 1i64, 0i64, MIN_BLK),
        ("foo", 1, 512, MIN_BLK),
        ("foo", 1, 1024 * 1024, MEDIUM_BLK),
        ("foo", 1, 8 * 1024 * 1024, MEDIUM_BLK),
        ("foo_bar_baz", -1, 32 * 1024 * 1024, MAX_BLK),
    ] {
        let mut cfg = json!({"name": name, "max_msg_size": 512, "storage": "file"});
        if max_msgs > 0 {
            cfg["max_msgs"] = json!(max_msgs);
        }
        if max_bytes > 0 {
            cfg["max_bytes"] = json!(max_bytes);
        }
        js.create(cfg).await?;
        let payload = "x".repeat((RECORD - 22 - 8) as usize - name.len());
        // A block of `want` bytes is full after this many records; the next
        // one starts block 2 (and block 1 goes away once it holds nothing).
        let fits = want / RECORD;
        publish_until(&mut js, name, name, &payload, fits, fits).await?;
        let full = blocks(&s, name)?;
        publish_until(&mut js, name, name, &payload, 1, fits + 1).await?;
        let next = blocks(&s, name)?;
        let label = format!("{name} max_msgs {max_msgs} max_bytes {max_bytes}");
        check_eq!((&label, &full), (&label, &vec!["1.blk".to_string()]));
        ensure!(
            next.last().map(String::as_str) == Some("2.blk"),
            "{label}: expected auto tuned block size to be {want}: after {} records the blocks are {next:?}",
            fits + 1
        );
        ctx.observe(
            &format!("{label}: blocks"),
            format!("{full:?} then {next:?}"),
        );
        let r = js.delete_stream(name).await?;
        check_eq!(api_err(&r), (0, 0, String::new()));
    }
    Ok(())
}

// ---------------------------------------------------------------- mirrors

async fn mirror_updates_not_supported(ctx: Ctx) -> Result<()> {
    let s = js_server_with(&ctx, "").await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "SOURCE"})).await?;
    js.create(json!({"name": "M", "mirror": {"name": "SOURCE"}}))
        .await?;
    let r = js.update(&json!({"name": "M"})).await?;
    let e = api_err(&r);
    check_eq!(
        e,
        (
            400,
            10055,
            "stream mirror configuration can not be updated".to_string()
        )
    );
    ctx.observe_json("update without the mirror", &r);
    Ok(())
}

// ---------------------------------------------------------------- account purge

/// Adds the stream TEST1 as a user of account A.
async fn purge_test_data(ctx: &Ctx, s: &Server) -> Result<()> {
    let mut js = Js::connect_with(ctx, s, ",\"user\":\"a\",\"pass\":\"a\"").await?;
    js.create(json!({"name": "TEST1", "subjects": ["foo"]}))
        .await?;
    Ok(())
}

/// `$JS.API.ACCOUNT.PURGE.A` from the system account; it must be initiated.
async fn purge_account(ctx: &Ctx, s: &Server) -> Result<Value> {
    let mut sys = Js::connect_with(ctx, s, ",\"user\":\"sys\",\"pass\":\"sys\"").await?;
    let r = sys.api("$JS.API.ACCOUNT.PURGE.A", "").await?;
    check_eq!(r["initiated"], json!(true));
    Ok(r)
}

/// The account's streams in the store: `total` of them, or (0) no account
/// folder left with anything in it.
fn inspect_dirs(account_dir: &Path, total: usize) -> Result<()> {
    if total == 0 {
        let left = entries(account_dir).map(|e| e.len()).unwrap_or(0);
        check_eq!(left, 0);
    } else {
        check_eq!(entries(&account_dir.join("streams"))?.len(), total);
    }
    Ok(())
}

async fn account_purge(ctx: Ctx) -> Result<()> {
    let conf = format!(
        "{JS_CONF}system_account: SYS
accounts: {{
  A: {{ jetstream: {{max_mem: 5MB, max_file: 5MB}}, users: [ {{user: a, password: a}} ] }}
  SYS: {{ users: [ {{user: sys, password: sys}} ] }}
}}
"
    );
    let mut s = ctx.server(ServerSpec::new().conf(&conf)).await?;
    let account_dir = s.dir().join("js").join("jetstream").join("A");
    purge_test_data(&ctx, &s).await?;
    inspect_dirs(&account_dir, 1)?;
    let r = purge_account(&ctx, &s).await?;
    ctx.observe_json("purge", &r);
    inspect_dirs(&account_dir, 0)?;
    purge_test_data(&ctx, &s).await?;
    inspect_dirs(&account_dir, 1)?;
    s.restart().await?;
    inspect_dirs(&account_dir, 1)?;
    let r = purge_account(&ctx, &s).await?;
    ctx.observe_json("purge after restart", &r);
    inspect_dirs(&account_dir, 0)?;
    Ok(())
}

// ---------------------------------------------------------------- descriptions

async fn stream_description(ctx: Ctx) -> Result<()> {
    let s = js_server_with(&ctx, "").await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let r = js
        .create(json!({"name": "foo", "description": "foo asset"}))
        .await?;
    check_eq!(r["config"]["description"], json!("foo asset"));
    // One byte over the limit of 4 KiB, base64 encoded as in the Go test.
    let data: Vec<u8> = (0..4 * 1024 + 1).map(|i| (i * 7 % 251) as u8).collect();
    let big = b64(&data);
    let r = js
        .try_create(&json!({"name": "bar", "description": big}))
        .await?;
    let (code, err_code, desc) = api_err(&r);
    ensure!(
        desc.contains("description is too long"),
        "Expected an error but got none: {r}"
    );
    ctx.observe("too long", format!("{code} {err_code} {desc}"));
    Ok(())
}
