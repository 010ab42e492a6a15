//! Scenarios for the file store's recovery, corruption handling, expiry and
//! per-subject state, from server/filestore_test.go (the tests from
//! TestFileStoreRemovePartialRecovery to TestFileStoreEraseAndNoIndexRecovery
//! and from TestFileStoreStreamIndexBug to the end of the file), observed
//! through streams with `storage: file` on one server.
//!
//! The Go tests drive a `fileStore` in-process; here the same operations go
//! through the JetStream API of a file stream, as in `memstore.rs`: a
//! publish is `StoreMsg` (its PubAck gives the sequence),
//! `$JS.API.STREAM.MSG.GET` is `LoadMsg` (and, with `next_by_subj` or
//! `last_by_subj`, `LoadNextMsg` / `LoadLastMsg`),
//! `$JS.API.STREAM.MSG.DELETE` is `RemoveMsg` (`no_erase: true`) or
//! `EraseMsg`, `$JS.API.STREAM.PURGE` is `Purge`, `Compact` (`seq`) and
//! `PurgeEx` (`filter`, `seq`, `keep`), a stream update is `UpdateConfig`,
//! and `$JS.API.STREAM.INFO` (with `deleted_details` and `subjects_filter`)
//! is `State` and `SubjectsState`. `fs.Stop()` and a `newFileStore` on the
//! same folder is a graceful stop of the server and a start on the same
//! store; what the Go test does to the block files in between (truncating,
//! flipping bytes, removing an `.idx`, putting back an old `.fss`) is done
//! to the same files in `<store>/jetstream/$G/streams/<stream>/msgs/` while
//! the server is stopped. A stored message counts `fileStoreMsgSize` bytes
//! (`22 + len(subject) + len(headers) + len(data) + 8`, plus 4 when it has
//! headers).
//!
//! A stream's block size is not a client's choice: Go picks it from the
//! stream's limits (`autoTuneFileStorageBlockSize`): 32000 bytes when
//! `max_bytes` (or `max_msgs` times the largest message) is at most 127996,
//! else 4 or 8 MB. Where a Go test relies on a small `BlockSize`, the
//! scenario takes 32000-byte blocks (through `max_bytes`) and messages large
//! enough to give the same block layout; the evidence says so.

use crate::check_eq;
use crate::kit::js::{api_err, b64, js_server, num, scrub, stream_dir, time_of, Js};
use crate::kit::{Ctx, Server};
use crate::registry::{Need, Scenario};
use anyhow::{bail, ensure, Context, Result};
use futures::FutureExt;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    let fs = |s: Scenario| s.needs(Need::JetStream).with_category("filestore");
    vec![
        fs(Scenario::new("filestore-recovery/remove-partial", |c| {
            remove_partial(c).boxed()
        })
        .full("TestFileStoreRemovePartialRecovery")),
        fs(
            Scenario::new("filestore-recovery/remove-out-of-order", |c| {
                remove_out_of_order(c).boxed()
            })
            .full("TestFileStoreRemoveOutOfOrderRecovery"),
        ),
        fs(
            Scenario::new("filestore-recovery/age-limit", |c| age_limit(c).boxed())
                .full("TestFileStoreAgeLimitRecovery"),
        ),
        fs(
            Scenario::new("filestore-recovery/bit-rot", |c| bit_rot(c).boxed())
                .full("TestFileStoreBitRot"),
        ),
        fs(Scenario::new("filestore-recovery/erase-no-index", |c| {
            erase_no_index(c).boxed()
        })
        .full("TestFileStoreEraseAndNoIndexRecovery")),
        // Partial: Go's readIndexInfo error text ("short index") has no
        // outside view, and what the server makes of the numbers read before
        // the index ran short differs (see the scenario).
        fs(Scenario::new("filestore-recovery/short-index-file", |c| {
            short_index_file(c).boxed()
        })
        .partial("TestFileStoreStreamIndexBug")),
        fs(
            Scenario::new("filestore-recovery/erase-then-load-after-cache", |c| {
                delete_cache_bug(c).boxed()
            })
            .full("TestFileStoreStreamDeleteCacheBug"),
        ),
        fs(
            Scenario::new("filestore-recovery/purge-dirty-restart", |c| {
                purge_dirty_restart(c).boxed()
            })
            .full("TestFileStoreStreamPurgeAndDirtyRestartBug"),
        ),
        fs(
            Scenario::new("filestore-recovery/roll-blocks-under-max-bytes", |c| {
                fail_to_roll(c).boxed()
            })
            .full("TestFileStoreStreamFailToRollBug"),
        ),
        fs(Scenario::new("filestore-recovery/purge-ex-keep-one", |c| {
            purge_ex_keep_one(c).boxed()
        })
        .full("TestFileStorePurgeExKeepOneBug")),
        fs(
            Scenario::new("filestore-recovery/remove-all-writes-index", |c| {
                remove_last_write_index(c).boxed()
            })
            .full("TestFileStoreRemoveLastWriteIndex"),
        ),
        fs(
            Scenario::new("filestore-recovery/filtered-pending-past-end", |c| {
                filtered_pending(c).boxed()
            })
            .full("TestFileStoreFilteredPendingBug"),
        ),
        fs(
            Scenario::new("filestore-recovery/purge-ex-with-subject", |c| {
                purge_ex_with_subject(c).boxed()
            })
            .full("TestFileStorePurgeExWithSubject"),
        ),
        fs(
            Scenario::new("filestore-recovery/compact-all-dangling-last-block", |c| {
                compact_all_dangling(c).boxed()
            })
            .full("TestFileStoreCompactAllWithDanglingLMB"),
        ),
        fs(
            Scenario::new("filestore-recovery/update-max-msgs-per-subject", |c| {
                update_max_per_subject(c).boxed()
            })
            .full("TestFileStoreUpdateMaxMsgsPerSubject"),
        ),
        fs(
            Scenario::new("filestore-recovery/fss-expire-num-pending", |c| {
                fss_expire_num_pending(c).boxed()
            })
            .full("TestFileStoreFSSExpireNumPendingBug"),
        ),
        fs(Scenario::new(
            "filestore-recovery/no-subjects-after-expire-on-recover",
            |c| fss_expire_on_recover(c).boxed(),
        )
        .full("TestFileStoreFSSCloseAndKeepOnExpireOnRecoverBug")),
        fs(
            Scenario::new("filestore-recovery/stale-fss-on-restart", |c| {
                fss_bad_state(c).boxed()
            })
            .full("TestFileStoreFSSBadStateBug"),
        ),
        fs(
            Scenario::new("filestore-recovery/filtered-first-matching", |c| {
                filtered_first_matching(c).boxed()
            })
            .full("TestFileStoreFilteredFirstMatchingBug"),
        ),
        fs(
            Scenario::new("filestore-recovery/no-fss-after-remove-first", |c| {
                no_fss_after_remove_first(c).boxed()
            })
            .full("TestFileStoreNoFSSBugAfterRemoveFirst"),
        ),
        fs(
            Scenario::new("filestore-recovery/remember-last-msg-time", |c| {
                remember_last_msg_time(c).boxed()
            })
            .full("TestFileStoreRememberLastMsgTime"),
        ),
        fs(
            Scenario::new("filestore-recovery/bad-first-failed-expire", |c| {
                bad_first_failed_expire(c).boxed()
            })
            .full("TestFileStoreBadFirstAndFailedExpireAfterRestart"),
        ),
        // The Go test runs encrypted only; this is its plain variant.
        fs(Scenario::new("filestore-recovery/short-index-write", |c| {
            short_index_write(c).boxed()
        })
        .full("TestFileStoreShortIndexWriteBug")),
        fs(
            Scenario::new("filestore-recovery/rebuild-max-msgs-per-subject", |c| {
                rebuild_max_per_subject(c).boxed()
            })
            .full("TestFileStoreRebuildStateProperlyWithMaxMsgsPerSubject"),
        ),
        fs(
            Scenario::new("filestore-recovery/subject-state-cache-expiration", |c| {
                subject_state_cache_expiration(c).boxed()
            })
            .full("TestFileStoreSubjectStateCacheExpiration"),
        ),
        // Partial: the plain half; the Go test's encrypted second half
        // (newFileStoreWithCreated with a prf) waits for encryption.
        fs(
            Scenario::new("filestore-recovery/compact-reclaim-head-space", |c| {
                compact_reclaim_head_space(c).boxed()
            })
            .partial("TestFileStoreCompactReclaimHeadSpace"),
        ),
        // Partial: that the blocks' per-subject state (mb.fss) leaves memory
        // has no outside view.
        fs(
            Scenario::new("filestore-recovery/expire-subject-meta", |c| {
                expire_subject_meta(c).boxed()
            })
            .partial("TestFileStoreExpireSubjectMeta"),
        ),
        // Partial: a stream's blocks are 4MB with max_msgs_per_subject (Go's
        // test has 128 bytes and counts 34 blocks).
        fs(
            Scenario::new("filestore-recovery/max-msgs-per-subject", |c| {
                max_msgs_per_subject(c).boxed()
            })
            .partial("TestFileStoreMaxMsgsPerSubject"),
        ),
        // Partial: mb.compact() of a block and fs.Utilization() are in
        // process; the encrypted half waits for encryption.
        fs(Scenario::new("filestore-recovery/sparse-compaction", |c| {
            sparse_compaction(c).boxed()
        })
        .partial("TestFileStoreSparseCompaction")),
        // Partial: the hand-made compaction of the last block is in process.
        fs(Scenario::new(
            "filestore-recovery/sparse-compaction-interior-deletes",
            |c| sparse_compaction_interior(c).boxed(),
        )
        .partial("TestFileStoreSparseCompactionWithInteriorDeletes")),
        // Partial: a stream's blocks are 32000 bytes at least, which four
        // blocks of 250 messages can not fill without a limit dropping
        // them: the phase that counts five blocks (150 + 100 messages in
        // 8KB blocks) is left out.
        fs(
            Scenario::new("filestore-recovery/expire-msgs-on-start", |c| {
                expire_msgs_on_start(c).boxed()
            })
            .timeout(Duration::from_secs(90))
            .partial("TestFileStoreExpireMsgsOnStart"),
        ),
        fs(Scenario::new("filestore-recovery/bad-consumer-state", |c| {
            bad_consumer_state(c).boxed()
        })
        .full("TestFileStoreBadConsumerState")),
        fs(
            Scenario::new("filestore-recovery/rebuild-dmap-accounting", |c| {
                rebuild_dmap_accounting(c).boxed()
            })
            .full("TestFileStoreRebuildStateDmapAccountingBug"),
        ),
    ]
}

// ---------------------------------------------------------------- helpers

/// The `msgs` folder of stream `name`.
fn msgs_dir(s: &Server, name: &str) -> PathBuf {
    stream_dir(s, name).join("msgs")
}

/// The indexes of the files of the `msgs` folder ending in `.{ext}`, in order.
fn block_files(s: &Server, name: &str, ext: &str) -> Result<Vec<u32>> {
    let dir = msgs_dir(s, name);
    let mut out: Vec<u32> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            name.strip_suffix(&format!(".{ext}"))?.parse().ok()
        })
        .collect();
    out.sort_unstable();
    Ok(out)
}

/// A server with JetStream, a connection, and a file stream of `cfg`
/// (`storage: file` added).
async fn file_stream(ctx: &Ctx, cfg: Value) -> Result<(Server, Js)> {
    let s = js_server(ctx).await?;
    let mut js = Js::connect(ctx, &s).await?;
    let mut cfg = cfg;
    cfg["storage"] = json!("file");
    let r = js.create(cfg).await?;
    ctx.observe_json("create", &scrub(&r["config"]));
    Ok((s, js))
}

/// A graceful stop, `edit` on the stopped store, and a start on it; the
/// new connection.
async fn restart_with<F>(ctx: &Ctx, s: &mut Server, edit: F) -> Result<Js>
where
    F: FnOnce(&Server) -> Result<()>,
{
    s.stop().await?;
    edit(s)?;
    s.restart().await?;
    Js::connect(ctx, s).await
}

async fn restart(ctx: &Ctx, s: &mut Server) -> Result<Js> {
    restart_with(ctx, s, |_| Ok(())).await
}

/// The state of a stream's info with its deleted sequences listed.
async fn full_state(js: &mut Js, name: &str) -> Result<Value> {
    Ok(js.info_with(name, "{\"deleted_details\":true}").await?["state"].clone())
}

/// `state.subjects` of a stream's info for `filter`: subject → count.
async fn subjects(js: &mut Js, name: &str, filter: &str) -> Result<Value> {
    let info = js
        .info_with(name, &json!({"subjects_filter": filter}).to_string())
        .await?;
    Ok(info["state"]["subjects"].clone())
}

/// `FilteredState(1, filter).Msgs`: the `num_pending` of a new consumer
/// on `filter` that starts at the first message.
async fn pending(js: &mut Js, name: &str, filter: &str) -> Result<u64> {
    let r = js
        .api(
            &format!("$JS.API.CONSUMER.CREATE.{name}"),
            &json!({"stream_name": name, "config": {"filter_subject": filter,
                "deliver_policy": "all", "ack_policy": "explicit"}})
            .to_string(),
        )
        .await?;
    ensure!(api_err(&r).0 == 0, "consumer on {filter}: {r}");
    Ok(num(&r["num_pending"]))
}

/// Deletes `seq` (`erase`: overwritten on disk, else only removed); the
/// response must be a success.
async fn delete(js: &mut Js, name: &str, seq: u64, erase: bool) -> Result<()> {
    let body = if erase {
        json!({ "seq": seq })
    } else {
        json!({"seq": seq, "no_erase": true})
    };
    let r = js.msg_delete(name, &body.to_string()).await?;
    ensure!(r["success"] == json!(true), "deleting {seq}: {r}");
    Ok(())
}

/// `$JS.API.STREAM.MSG.GET` of `seq`.
async fn get(js: &mut Js, name: &str, seq: u64) -> Result<Value> {
    js.msg_get(name, &json!({ "seq": seq }).to_string()).await
}

/// The "no message found" error of a get.
fn no_message(r: &Value) -> bool {
    api_err(r) == (404, 10037, "no message found".to_string())
}

/// `fileStoreMsgSize`.
fn stored_size(subject: &str, hdr: usize, msg: usize) -> u64 {
    let h = if hdr > 0 { hdr + 4 } else { 0 };
    (22 + subject.len() + h + msg + 8) as u64
}

/// Waits up to `timeout` for `f` of the stream's state to hold.
async fn state_until<F>(js: &mut Js, name: &str, timeout: Duration, f: F) -> Result<Value>
where
    F: Fn(&Value) -> bool,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let state = js.state(name).await?;
        if f(&state) {
            return Ok(state);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("state of {name} after {timeout:?}: {state}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A Go `binary.Uvarint` at `*at` of `buf`, moving `at` past it.
fn uvarint(buf: &[u8], at: &mut usize) -> Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at).context("short index")?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(v);
        }
    }
    bail!("bad varint")
}

/// What an `N.idx` file says: (msgs, bytes, first, last, interior deletes).
fn read_index(path: &Path) -> Result<(u64, u64, u64, u64, Vec<u64>)> {
    let buf = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    ensure!(
        buf.len() >= 2 && buf[0] == 22 && buf[1] == 1,
        "{}: bad index header",
        path.display()
    );
    let mut at = 2;
    let msgs = uvarint(&buf, &mut at)?;
    let bytes = uvarint(&buf, &mut at)?;
    let first = uvarint(&buf, &mut at)?;
    let _first_ts = uvarint(&buf, &mut at)?;
    let last = uvarint(&buf, &mut at)?;
    let _last_ts = uvarint(&buf, &mut at)?;
    let ndel = uvarint(&buf, &mut at)?;
    at += 8;
    let mut dmap = Vec::new();
    for _ in 0..ndel {
        dmap.push(first + uvarint(&buf, &mut at)?);
    }
    Ok((msgs, bytes, first, last, dmap))
}

// ---------------------------------------------------------------- scenarios

async fn remove_partial(ctx: Ctx) -> Result<()> {
    let (mut s, mut js) = file_stream(&ctx, json!({"name": "zzz", "subjects": ["foo"]})).await?;
    let to_store = 100;
    for _ in 0..to_store {
        js.stored("foo", "Hello World").await?;
    }
    check_eq!(js.msgs("zzz").await?, to_store);
    // Remove the first half.
    for seq in 1..=to_store / 2 {
        delete(&mut js, "zzz", seq, false).await?;
    }
    let state = full_state(&mut js, "zzz").await?;
    check_eq!(num(&state["messages"]), to_store / 2);
    // The same state after a restart.
    let mut js = restart(&ctx, &mut s).await?;
    let state2 = full_state(&mut js, "zzz").await?;
    check_eq!(state2, state);
    ctx.observe_json("recovered", &scrub(&state2));
    Ok(())
}

async fn remove_out_of_order(ctx: Ctx) -> Result<()> {
    let (mut s, mut js) = file_stream(&ctx, json!({"name": "zzz", "subjects": ["foo"]})).await?;
    let to_store = 100;
    for _ in 0..to_store {
        js.stored("foo", "Hello World").await?;
    }
    check_eq!(js.msgs("zzz").await?, to_store);
    // Remove the even ones.
    for seq in (2..=to_store).step_by(2) {
        delete(&mut js, "zzz", seq, false).await?;
    }
    let state = full_state(&mut js, "zzz").await?;
    check_eq!(num(&state["messages"]), to_store / 2);
    check_loads(&mut js, to_store).await?;
    let mut js = restart(&ctx, &mut s).await?;
    let state2 = full_state(&mut js, "zzz").await?;
    check_eq!(state2, state);
    check_loads(&mut js, to_store).await?;
    ctx.observe_json("recovered", &scrub(&state2));
    Ok(())
}

/// Sequence 1 loads, the even ones are gone.
async fn check_loads(js: &mut Js, to_store: u64) -> Result<()> {
    let r = get(js, "zzz", 1).await?;
    ensure!(
        r["message"]["seq"] == json!(1),
        "Expected to retrieve seq 1: {r}"
    );
    for seq in (2..=to_store).step_by(2) {
        let r = get(js, "zzz", seq).await?;
        ensure!(
            no_message(&r),
            "Expected error looking up seq {seq} that should be deleted: {r}"
        );
    }
    Ok(())
}

async fn age_limit(ctx: Ctx) -> Result<()> {
    // Go's store takes 10ms; a stream takes no max_age under 100ms, and one
    // second leaves room to count the messages before they go.
    let max_age = Duration::from_secs(1);
    let (mut s, mut js) = file_stream(
        &ctx,
        json!({"name": "zzz", "subjects": ["foo"], "max_age": max_age.as_nanos() as u64}),
    )
    .await?;
    let to_store = 100;
    for _ in 0..to_store {
        js.publish("foo", "Hello World").await?;
    }
    js.flush().await?;
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), to_store);
    let mut js = restart(&ctx, &mut s).await?;
    // They expire after the restart: no messages, no bytes.
    let state = state_until(&mut js, "zzz", Duration::from_secs(5), |st| {
        num(&st["messages"]) == 0 && num(&st["bytes"]) == 0
    })
    .await?;
    ctx.observe_json("expired", &scrub(&state));
    Ok(())
}

/// The size of one "Hello World" on foo in a block.
const HELLO_SIZE: usize = 22 + 3 + 11 + 8;

async fn bit_rot(ctx: Ctx) -> Result<()> {
    let (mut s, mut js) = file_stream(&ctx, json!({"name": "zzz", "subjects": ["foo"]})).await?;
    let to_store = 100u64;
    for _ in 0..to_store {
        js.stored("foo", "Hello World").await?;
    }
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), to_store);
    // A clean restart finds no corrupt message.
    let mut js = restart(&ctx, &mut s).await?;
    let state = full_state(&mut js, "zzz").await?;
    ensure!(
        state.get("lost").is_none() && num(&state["messages"]) == to_store,
        "Expected to have no corrupt msgs, got {state}"
    );
    // Twiddle bits: a byte of the 50th message's payload, and the block's
    // last byte (the last record's checksum), so that the recovery does not
    // trust the index and checks every record.
    let mut js = restart_with(&ctx, &mut s, |s| {
        let path = msgs_dir(s, "zzz").join("1.blk");
        let mut buf = std::fs::read(&path)?;
        ensure!(
            buf.len() == HELLO_SIZE * to_store as usize,
            "block of {} bytes",
            buf.len()
        );
        let at = 49 * HELLO_SIZE + 22 + 3;
        buf[at] = buf[at].reverse_bits();
        let end = buf.len() - 1;
        buf[end] = !buf[end];
        std::fs::write(&path, buf)?;
        Ok(())
    })
    .await?;
    let state = full_state(&mut js, "zzz").await?;
    let lost = &state["lost"];
    ensure!(
        lost["msgs"].as_array().is_some_and(|m| !m.is_empty()),
        "Expected to have corrupt msgs got none: {state}"
    );
    // The records from the corrupt one on are cut off.
    check_eq!(lost["msgs"], json!((51..=to_store).collect::<Vec<_>>()));
    check_eq!(num(&lost["bytes"]), 51 * HELLO_SIZE as u64);
    check_eq!(num(&state["messages"]), 49);
    ctx.observe_json("corrupt", &scrub(&state));
    let r = get(&mut js, "zzz", 49).await?;
    check_eq!(r["message"]["data"], json!(b64(b"Hello World")));
    // The store was repaired: a restart finds nothing wrong.
    let mut js = restart(&ctx, &mut s).await?;
    let state = full_state(&mut js, "zzz").await?;
    ensure!(
        state.get("lost").is_none(),
        "Expected no errors restoring checked and fixed filestore, got {state}"
    );
    check_eq!(num(&state["messages"]), 49);
    ctx.observe_json("repaired", &scrub(&state));
    Ok(())
}

async fn erase_no_index(ctx: Ctx) -> Result<()> {
    let (mut s, mut js) = file_stream(&ctx, json!({"name": "zzz", "subjects": ["foo"]})).await?;
    let to_store = 100;
    for _ in 0..to_store {
        js.stored("foo", "Hello World").await?;
    }
    check_eq!(js.msgs("zzz").await?, to_store);
    // Erase the even ones.
    for seq in (2..=to_store).step_by(2) {
        delete(&mut js, "zzz", seq, true).await?;
    }
    check_eq!(js.msgs("zzz").await?, to_store / 2);
    // Stop and remove the index file.
    let mut js = restart_with(&ctx, &mut s, |s| {
        std::fs::remove_file(msgs_dir(s, "zzz").join("1.idx"))?;
        Ok(())
    })
    .await?;
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), to_store / 2);
    ctx.observe_json("recovered", &scrub(&state));
    for seq in (2..=to_store).step_by(2) {
        let r = get(&mut js, "zzz", seq).await?;
        ensure!(
            no_message(&r),
            "Expected error looking up seq {seq} that should be erased: {r}"
        );
    }
    Ok(())
}

/// The index file of nats-io/jetstream#406: its varints run past its end.
const SHORT_INDEX: [u8; 17] = [
    22, 1, 129, 147, 14, 195, 253, 255, 63, 239, 189, 162, 12, 240, 200, 129, 181,
];

async fn short_index_file(ctx: Ctx) -> Result<()> {
    let (mut s, mut js) = file_stream(&ctx, json!({"name": "zzz", "subjects": ["foo"]})).await?;
    for _ in 0..10 {
        js.stored("foo", "Hello World").await?;
    }
    let mut js = restart_with(&ctx, &mut s, |s| {
        std::fs::write(msgs_dir(s, "zzz").join("1.idx"), SHORT_INDEX)?;
        Ok(())
    })
    .await?;
    // The short index is refused: the server starts, the stream is there,
    // and the block's index is written anew, whole.
    let state = js.state("zzz").await?;
    let path = msgs_dir(&s, "zzz").join("1.idx");
    ensure!(
        std::fs::read(&path)? != SHORT_INDEX,
        "the short index is still there"
    );
    read_index(&path)?;
    // What the state is differs: Go keeps the numbers it read before the
    // index ran short (a first sequence of 25730799), which hides the
    // block's messages; natsd rebuilds the block from its records.
    ctx.observe_json("recovered", &scrub(&state));
    Ok(())
}

async fn delete_cache_bug(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = file_stream(&ctx, json!({"name": "zzz", "subjects": ["foo"]})).await?;
    js.stored("foo", "Hello World").await?;
    js.stored("foo", "Hello World").await?;
    delete(&mut js, "zzz", 1, true).await?;
    // Past the block cache's expiry (5s in a server, 50ms in the Go test).
    tokio::time::sleep(Duration::from_millis(5500)).await;
    let r = get(&mut js, "zzz", 2).await?;
    ensure!(api_err(&r).0 == 0, "Unexpected error looking up msg: {r}");
    check_eq!(r["message"]["data"], json!(b64(b"Hello World")));
    ctx.observe_json("get 2", &scrub(&r));
    Ok(())
}

async fn purge_dirty_restart(ctx: Ctx) -> Result<()> {
    let (mut s, mut js) = file_stream(&ctx, json!({"name": "zzz", "subjects": ["foo"]})).await?;
    let n = 100;
    for _ in 0..n {
        js.stored_h("foo", &[("name", "derek")], b"Hello World")
            .await?;
    }
    let r = js.purge("zzz", "").await?;
    check_eq!(num(&r["purged"]), n);
    let state = js.state("zzz").await?;
    ensure!(
        num(&state["first_seq"]) == n + 1 && num(&state["last_seq"]) == n,
        "Unexpected state: {state}"
    );
    // Corrupt the last block's index so that the restart rebuilds.
    let mut js = restart_with(&ctx, &mut s, |s| {
        let last = *block_files(s, "zzz", "idx")?
            .last()
            .context("no index file")?;
        let path = msgs_dir(s, "zzz").join(format!("{last}.idx"));
        let mut buf = std::fs::read(&path).context("Error opening the index file")?;
        let len = buf.len();
        buf[len - 2..].copy_from_slice(&[1, 1]);
        std::fs::write(&path, buf).context("Error writing the index file")?;
        Ok(())
    })
    .await?;
    let state = js.state("zzz").await?;
    ensure!(
        num(&state["first_seq"]) == n + 1 && num(&state["last_seq"]) == n,
        "Unexpected state: {state}"
    );
    ctx.observe_json("recovered", &scrub(&state));
    Ok(())
}

/// The least block size Go gives a stream (max_bytes up to 127996).
const SMALL_BLOCK: u64 = 32000;

async fn fail_to_roll(ctx: Ctx) -> Result<()> {
    // Go: 512-byte blocks, ~100-byte messages, max_bytes 300: three records
    // to a block, two kept. Here: 32000-byte blocks (max_bytes 25000) and
    // 10000-byte records, the same layout.
    let msg = "ABC".repeat(3322) + "A";
    let rl = stored_size("zzz", 0, msg.len());
    check_eq!(rl, 10000);
    let (s, mut js) = file_stream(
        &ctx,
        json!({"name": "zzz", "subjects": ["zzz"], "max_bytes": 25000}),
    )
    .await?;
    for _ in 0..200 {
        js.stored("zzz", &msg).await?;
    }
    let blks = block_files(&s, "zzz", "blk")?;
    ensure!(blks.len() == 1, "Expected only one block, got {blks:?}");
    let index = blks[0];
    ensure!(index > 60, "Expected a block index > 60, got {index}");
    let size = std::fs::metadata(msgs_dir(&s, "zzz").join(format!("{index}.blk")))?.len();
    ensure!(
        size <= SMALL_BLOCK,
        "Expected block to be <= {SMALL_BLOCK}, got {size}"
    );
    ctx.observe("blocks", format!("{blks:?} of {size} bytes"));
    let state = js.state("zzz").await?;
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}

async fn purge_ex_keep_one(ctx: Ctx) -> Result<()> {
    // Go: 128-byte blocks, so that each message has its own. Here 32000-byte
    // blocks and a fill large enough that each message starts a new block.
    let (s, mut js) = file_stream(
        &ctx,
        json!({"name": "zzz", "subjects": ["*"], "max_bytes": 127996}),
    )
    .await?;
    let fill = "X".repeat(31950);
    js.stored("A", "META").await?;
    js.stored("B", &fill).await?;
    js.stored("A", "META").await?;
    js.stored("B", &fill).await?;
    check_eq!(block_files(&s, "zzz", "blk")?, vec![1, 2, 3, 4]);
    let a = pending(&mut js, "zzz", "A").await?;
    ensure!(a == 2, "Expected to find 2 `A` msgs, got {a}");
    let r = js.purge("zzz", "{\"filter\":\"A\",\"keep\":1}").await?;
    ensure!(api_err(&r).0 == 0, "Unexpected error: {r}");
    ensure!(
        num(&r["purged"]) == 1,
        "Expected PurgeEx to remove 1 `A` msgs, got {r}"
    );
    let a = pending(&mut js, "zzz", "A").await?;
    ensure!(a == 1, "Expected to find 1 `A` msgs, got {a}");
    ctx.observe_json("purge", &r);
    Ok(())
}

async fn remove_last_write_index(ctx: Ctx) -> Result<()> {
    let (s, mut js) = file_stream(&ctx, json!({"name": "TEST", "subjects": ["foo"]})).await?;
    for _ in 0..10 {
        js.stored("foo", "msg").await?;
    }
    for seq in 1..=10 {
        delete(&mut js, "TEST", seq, false).await?;
    }
    let last = *block_files(&s, "TEST", "blk")?.last().context("no block")?;
    let path = msgs_dir(&s, "TEST").join(format!("{last}.idx"));
    let meta = std::fs::metadata(&path)
        .with_context(|| format!("Error getting stats for index file {}", path.display()))?;
    ensure!(meta.len() > 0, "Index file {} size is 0", path.display());
    let state = js.state("TEST").await?;
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}

async fn filtered_pending(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = file_stream(&ctx, json!({"name": "TEST", "subjects": ["*"]})).await?;
    js.stored("foo", "msg").await?;
    js.stored("bar", "msg").await?;
    js.stored("baz", "msg").await?;
    // Pending on foo from sequence 3: none, and no first or last either.
    let r = js
        .api(
            "$JS.API.CONSUMER.CREATE.TEST",
            &json!({"stream_name": "TEST", "config": {"filter_subject": "foo",
                "deliver_policy": "by_start_sequence", "opt_start_seq": 3,
                "ack_policy": "explicit"}})
            .to_string(),
        )
        .await?;
    ensure!(api_err(&r).0 == 0, "consumer: {r}");
    ensure!(
        num(&r["num_pending"]) == 0,
        "Expected total of 0 but got {}",
        r["num_pending"]
    );
    let next = js
        .msg_get("TEST", "{\"seq\":3,\"next_by_subj\":\"foo\"}")
        .await?;
    ensure!(
        no_message(&next),
        "Expected first and last to be 0 as well, but got {next}"
    );
    ctx.observe_json("pending", &r["num_pending"]);
    ctx.observe_json("next foo from 3", &next);
    Ok(())
}

async fn purge_ex_with_subject(ctx: Ctx) -> Result<()> {
    // Go: 1000-byte blocks. Here 32000-byte blocks and 600-byte payloads:
    // four blocks, fifty messages to a block.
    let (s, mut js) = file_stream(
        &ctx,
        json!({"name": "TEST", "subjects": ["foo.>"], "max_bytes": 127996}),
    )
    .await?;
    let payload = "\0".repeat(600);
    let total = 200;
    for _ in 0..total {
        js.stored("foo.1", &payload).await?;
    }
    js.stored("foo.2", "xxxxxx").await?;
    check_eq!(block_files(&s, "TEST", "blk")?.len(), 4);
    let r = js.purge("TEST", "{\"filter\":\"foo.1\",\"seq\":1}").await?;
    ensure!(api_err(&r).0 == 0, "Unexpected error: {r}");
    check_eq!(num(&r["purged"]), total);
    check_eq!(js.msgs("TEST").await?, 1);
    ctx.observe_json("purge", &r);
    Ok(())
}

async fn compact_all_dangling(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = file_stream(&ctx, json!({"name": "zzz", "subjects": ["foo"]})).await?;
    for _ in 0..100 {
        js.stored("foo", "ZZ").await?;
    }
    delete(&mut js, "zzz", 100, false).await?;
    let r = js.purge("zzz", "{\"seq\":100}").await?;
    ensure!(api_err(&r).0 == 0, "Unexpected error: {r}");
    check_eq!(num(&r["purged"]), 99);
    let seq = js.stored("foo", "ZZ").await?;
    check_eq!(seq, 101);
    let state = js.state("zzz").await?;
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}

async fn update_max_per_subject(ctx: Ctx) -> Result<()> {
    let mut cfg = json!({"name": "TEST", "subjects": ["foo"], "max_msgs_per_subject": 10});
    let (_s, mut js) = file_stream(&ctx, cfg.clone()).await?;
    cfg["storage"] = json!("file");
    // Raised on an update.
    cfg["max_msgs_per_subject"] = json!(50);
    let r = js.update(&cfg).await?;
    ensure!(api_err(&r).0 == 0, "update: {r}");
    let num_stored = 22;
    for _ in 0..num_stored {
        js.stored("foo", "").await?;
    }
    let ss = subjects(&mut js, "TEST", "foo").await?;
    ensure!(
        num(&ss["foo"]) == num_stored,
        "Expected to have {num_stored} stored, got {ss}"
    );
    // Lowered: the subject is cut down to the new limit.
    cfg["max_msgs_per_subject"] = json!(10);
    let r = js.update(&cfg).await?;
    ensure!(api_err(&r).0 == 0, "update: {r}");
    let ss = subjects(&mut js, "TEST", "foo").await?;
    ensure!(
        num(&ss["foo"]) == 10,
        "Expected to have 10 stored, got {ss}"
    );
    let state = js.state("TEST").await?;
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}

async fn fss_expire_num_pending(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = file_stream(
        &ctx,
        json!({"name": "zzz", "subjects": ["KV.>"], "max_msgs_per_subject": 1}),
    )
    .await?;
    // Let the per-subject state expire (the block cache's 5s in a server).
    tokio::time::sleep(Duration::from_millis(5500)).await;
    js.stored("KV.X", "Y").await?;
    let ss = pending(&mut js, "zzz", "KV.X").await?;
    ensure!(ss == 1, "Expected only 1 msg, got {ss}");
    ctx.observe("KV.X", ss.to_string());
    Ok(())
}

async fn fss_expire_on_recover(ctx: Ctx) -> Result<()> {
    // Go: 100ms; the least a stream takes.
    let ttl = Duration::from_millis(100);
    let (mut s, mut js) = file_stream(
        &ctx,
        json!({"name": "zzz", "subjects": ["foo"], "max_age": ttl.as_nanos() as u64}),
    )
    .await?;
    js.stored("foo", "").await?;
    s.stop().await?;
    tokio::time::sleep(2 * ttl).await;
    s.restart().await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let state = js.state("zzz").await?;
    ensure!(
        state.get("num_subjects").is_none() && num(&state["messages"]) == 0,
        "Expected no subjects with no messages, got {state}"
    );
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}

async fn fss_bad_state(ctx: Ctx) -> Result<()> {
    let (mut s, mut js) = file_stream(&ctx, json!({"name": "zzz", "subjects": ["foo"]})).await?;
    js.stored("foo", "").await?;
    js.stored("foo", "").await?;
    // A stop writes the block's per-subject state: keep it (2 on foo).
    let mut saved = Vec::new();
    let mut js = restart_with(&ctx, &mut s, |s| {
        saved = std::fs::read(msgs_dir(s, "zzz").join("1.fss"))?;
        Ok(())
    })
    .await?;
    delete(&mut js, "zzz", 1, false).await?;
    // Put the old one back, which says 2.
    let mut js = restart_with(&ctx, &mut s, |s| {
        std::fs::write(msgs_dir(s, "zzz").join("1.fss"), &saved)?;
        Ok(())
    })
    .await?;
    let ss = subjects(&mut js, "zzz", "foo").await?;
    ensure!(num(&ss["foo"]) == 1, "Got bad state on restart: {ss}");
    ctx.observe_json("foo", &ss);
    Ok(())
}

async fn filtered_first_matching(ctx: Ctx) -> Result<()> {
    let (mut s, mut js) = file_stream(&ctx, json!({"name": "zzz", "subjects": ["foo.>"]})).await?;
    for data in ["A", "B", "C"] {
        js.stored("foo.foo", data).await?;
    }
    // The block's per-subject state written out and read back in (here by
    // a restart), with only foo.foo in it.
    let mut js = restart(&ctx, &mut s).await?;
    js.stored("foo.bar", "X").await?;
    // A filtered load of foo.foo from 4 finds nothing.
    let r = js
        .msg_get("zzz", "{\"seq\":4,\"next_by_subj\":\"foo.foo\"}")
        .await?;
    ensure!(
        no_message(&r),
        "Loaded filtered message with wrong subject, wanted \"foo.foo\" got {r}"
    );
    ctx.observe_json("next foo.foo from 4", &r);
    Ok(())
}

async fn no_fss_after_remove_first(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = file_stream(&ctx, json!({"name": "zzz", "subjects": ["foo.bar.*"]})).await?;
    let n = 100;
    let msg = "ZZZ".repeat(33);
    for i in 0..n {
        js.stored(&format!("foo.bar.{i}"), &msg).await?;
    }
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), n);
    // Let the per-subject state expire (the block cache's 5s in a server).
    tokio::time::sleep(Duration::from_millis(5500)).await;
    delete(&mut js, "zzz", 1, false).await?;
    let r = js
        .msg_get("zzz", "{\"seq\":1,\"next_by_subj\":\"foo.>\"}")
        .await?;
    ensure!(api_err(&r).0 == 0, "next foo.>: {r}");
    check_eq!(r["message"]["subject"], json!("foo.bar.1"));
    // No state is left for foo.bar.0.
    let ss = subjects(&mut js, "zzz", "foo.bar.0").await?;
    ensure!(
        ss.get("foo.bar.0").is_none(),
        "Expected no state for \"foo.bar.0\", but got {ss}"
    );
    let all = subjects(&mut js, "zzz", ">").await?;
    check_eq!(all.as_object().map(|m| m.len()), Some(99));
    ctx.observe_json("next", &scrub(&r));
    Ok(())
}

/// The `time` of message `seq`, as the server wrote it.
async fn time_of_seq(js: &mut Js, name: &str, seq: u64) -> Result<String> {
    let r = get(js, name, seq).await?;
    ensure!(api_err(&r).0 == 0, "get {seq}: {r}");
    let t = r["message"]["time"].as_str().context("no time")?;
    time_of(&r["message"]["time"])?;
    Ok(t.to_string())
}

async fn remember_last_msg_time(ctx: Ctx) -> Result<()> {
    // Go: 500ms and 2MB messages; a server takes 1MB at most, and one
    // second leaves room for the checks before the messages expire.
    let max_age = Duration::from_secs(1);
    let (mut s, mut js) = file_stream(
        &ctx,
        json!({"name": "TEST", "subjects": ["foo"], "max_age": max_age.as_nanos() as u64}),
    )
    .await?;
    let msg = "X".repeat(64 * 1024);
    let last_ts = |st: &Value| st["last_ts"].as_str().unwrap_or_default().to_string();
    // The last time survives a delete, a purge and expiry, and restarts.
    let seq = js.stored("foo", &msg).await?;
    let lt = time_of_seq(&mut js, "TEST", seq).await?;
    delete(&mut js, "TEST", seq, false).await?;
    let state = js.state("TEST").await?;
    ensure!(
        last_ts(&state) == lt,
        "last time {} want {lt}",
        state["last_ts"]
    );
    let mut js = restart(&ctx, &mut s).await?;
    let state = js.state("TEST").await?;
    ensure!(
        last_ts(&state) == lt,
        "last time {} want {lt}",
        state["last_ts"]
    );
    let seq = js.stored("foo", &msg).await?;
    let lt = time_of_seq(&mut js, "TEST", seq).await?;
    let r = js.purge("TEST", "").await?;
    ensure!(api_err(&r).0 == 0, "purge: {r}");
    let mut js = restart(&ctx, &mut s).await?;
    let state = js.state("TEST").await?;
    ensure!(
        last_ts(&state) == lt,
        "last time {} want {lt}",
        state["last_ts"]
    );
    js.stored("foo", &msg).await?;
    let seq = js.stored("foo", &msg).await?;
    check_eq!(seq, 4);
    let lt = time_of_seq(&mut js, "TEST", seq).await?;
    // Wait until they expire.
    state_until(&mut js, "TEST", Duration::from_secs(3), |st| {
        num(&st["messages"]) == 0
    })
    .await?;
    let mut js = restart(&ctx, &mut s).await?;
    let state = js.state("TEST").await?;
    ensure!(
        last_ts(&state) == lt,
        "last time {} want {lt}",
        state["last_ts"]
    );
    // The true last sequence is kept too.
    js.stored("foo", &msg).await?;
    let seq = js.stored("foo", &msg).await?;
    check_eq!(seq, 6);
    let lt = time_of_seq(&mut js, "TEST", seq).await?;
    delete(&mut js, "TEST", seq, false).await?;
    delete(&mut js, "TEST", seq - 1, false).await?;
    let mut js = restart(&ctx, &mut s).await?;
    let state = js.state("TEST").await?;
    ensure!(
        last_ts(&state) == lt,
        "last time {} want {lt}",
        state["last_ts"]
    );
    check_eq!(num(&state["last_seq"]), 6);
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}

/// The sequence of the first record of block `index`.
fn first_record_seq(s: &Server, name: &str, index: u32) -> Result<u64> {
    let buf = std::fs::read(msgs_dir(s, name).join(format!("{index}.blk")))?;
    ensure!(buf.len() >= 22, "block {index} has no record");
    Ok(u64::from_le_bytes(buf[4..12].try_into()?))
}

async fn bad_first_failed_expire(ctx: Ctx) -> Result<()> {
    // Go: BlockSize 256 and "ZZ": seven records to a block, and a TTL of
    // 1s. Here 32000-byte blocks (max_bytes 127996) and 4493-byte records,
    // the same layout, and 2s with a 1s gap, for a server's restart.
    let ttl = Duration::from_secs(2);
    let msg = "Z".repeat(4460);
    check_eq!(stored_size("foo", 0, msg.len()), 4493);
    let (mut s, mut js) = file_stream(
        &ctx,
        json!({"name": "zzz", "subjects": ["foo"], "max_bytes": 127996,
            "max_age": ttl.as_nanos() as u64}),
    )
    .await?;
    let start = tokio::time::Instant::now();
    for _ in 0..7 {
        js.stored("foo", &msg).await?;
    }
    // Two more after a delay.
    tokio::time::sleep(ttl / 2).await;
    let seq = js.stored("foo", &msg).await?;
    js.stored("foo", &msg).await?;
    // Sequence 8 is the first of the second block.
    check_eq!(block_files(&s, "zzz", "blk")?, vec![1, 2]);
    let first = first_record_seq(&s, "zzz", 2)?;
    ensure!(first == 8, "the second block starts at {first}");
    // Remove the first of the second block; stop until the first block
    // has expired.
    delete(&mut js, "zzz", seq, false).await?;
    s.stop().await?;
    tokio::time::sleep_until(start + ttl + Duration::from_millis(10)).await;
    s.restart().await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let state = js.state("zzz").await?;
    check_eq!(num(&state["messages"]), 1);
    check_eq!(num(&state["first_seq"]), 9);
    let ts = state["first_ts"].as_str().unwrap_or_default().to_string();
    ensure!(
        time_of(&state["first_ts"])? > std::time::UNIX_EPOCH,
        "first time is zero: {state}"
    );
    ctx.observe_json("after restart", &scrub(&state));
    // The expiry timer still runs: 9 goes too.
    let state = state_until(&mut js, "zzz", ttl + Duration::from_secs(1), |st| {
        num(&st["messages"]) == 0
    })
    .await?;
    check_eq!(num(&state["messages"]), 0);
    check_eq!(num(&state["first_seq"]), 10);
    check_eq!(num(&state["last_seq"]), 9);
    check_eq!(state["last_ts"], json!(ts));
    ctx.observe_json("expired", &scrub(&state));
    Ok(())
}

/// The files the server process has open whose names end in `suffix`.
fn open_files(s: &Server, suffix: &str) -> Result<Vec<String>> {
    let pid = s.pid().context("server not running")?;
    let mut out = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        if let Ok(target) = std::fs::read_link(e?.path()) {
            let t = target.to_string_lossy().into_owned();
            if t.ends_with(suffix) {
                out.push(t);
            }
        }
    }
    Ok(out)
}

async fn short_index_write(ctx: Ctx) -> Result<()> {
    let (mut s, mut js) = file_stream(
        &ctx,
        json!({"name": "TEST", "subjects": ["foo"], "max_age": 1_000_000_000u64}),
    )
    .await?;
    for _ in 0..100 {
        js.stored("foo", "").await?;
    }
    // Wait until they are all gone.
    state_until(&mut js, "TEST", Duration::from_secs(4), |st| {
        num(&st["messages"]) == 0
    })
    .await?;
    let state = js.state("TEST").await?;
    ensure!(
        num(&state["first_seq"]) == 101,
        "Expected first sequence of 101 vs {}",
        state["first_seq"]
    );
    // No index file is left open.
    let open = open_files(&s, ".idx")?;
    ensure!(open.is_empty(), "index files left open: {open:?}");
    let mut js = restart(&ctx, &mut s).await?;
    let state = js.state("TEST").await?;
    ensure!(
        num(&state["first_seq"]) == 101 && num(&state["last_seq"]) == 100,
        "Expected first sequence of 101 vs {}",
        state["first_seq"]
    );
    ctx.observe_json("recovered", &scrub(&state));
    Ok(())
}

async fn rebuild_max_per_subject(ctx: Ctx) -> Result<()> {
    // Go: BlockSize 4096; here 32000-byte blocks (max_bytes 127996).
    let (mut s, mut js) = file_stream(
        &ctx,
        json!({"name": "zzz", "subjects": ["foo", "bar", "baz"],
            "max_msgs_per_subject": 1, "max_bytes": 127996}),
    )
    .await?;
    js.stored("baz", "").await?;
    for _ in 0..1000 {
        js.stored("foo", "").await?;
        js.stored("bar", "").await?;
    }
    let check_state = |st: &Value| -> Result<()> {
        ensure!(
            num(&st["num_subjects"]) == 3,
            "Expected NumSubjects of 3, got {}",
            st["num_subjects"]
        );
        ensure!(
            num(&st["messages"]) == 3,
            "Expected NumMsgs of 3, got {}",
            st["messages"]
        );
        Ok(())
    };
    check_state(&js.state("zzz").await?)?;
    // Stop and remove the index files, as a crash would leave them.
    let mut js = restart_with(&ctx, &mut s, |s| {
        for i in block_files(s, "zzz", "idx")? {
            std::fs::remove_file(msgs_dir(s, "zzz").join(format!("{i}.idx")))?;
        }
        Ok(())
    })
    .await?;
    let state = js.state("zzz").await?;
    check_state(&state)?;
    ctx.observe_json("recovered", &scrub(&state));
    // The recovery wrote every block's index.
    let blks = block_files(&s, "zzz", "blk")?;
    ensure!(!blks.is_empty(), "no blocks");
    for i in blks {
        let (msgs, ..) = read_index(&msgs_dir(&s, "zzz").join(format!("{i}.idx")))
            .context("Unexpected error reading index info")?;
        ensure!(
            msgs > 0,
            "Expected msgs for all blks, got none for index {i}"
        );
    }
    Ok(())
}

/// (messages, first, last) of `subject`: its count in the stream's
/// subjects, the first and the last of its messages.
async fn subject_state(js: &mut Js, name: &str, subject: &str) -> Result<(u64, u64, u64)> {
    let ss = subjects(js, name, subject).await?;
    let first = js
        .msg_get(
            name,
            &json!({"seq": 1, "next_by_subj": subject}).to_string(),
        )
        .await?;
    let last = js
        .msg_get(name, &json!({ "last_by_subj": subject }).to_string())
        .await?;
    Ok((
        num(&ss[subject]),
        num(&first["message"]["seq"]),
        num(&last["message"]["seq"]),
    ))
}

async fn subject_state_cache_expiration(ctx: Ctx) -> Result<()> {
    // Go: BlockSize 32, one message to a block; here 32000-byte blocks
    // (max_bytes 127996) and 580-byte values: several blocks.
    let (_s, mut js) = file_stream(
        &ctx,
        json!({"name": "zzz", "subjects": ["kv.>"], "max_msgs_per_subject": 2,
            "max_bytes": 127996}),
    )
    .await?;
    let value = "v".repeat(580);
    for i in 1..=100 {
        js.stored(&format!("kv.foo.{i}"), &value).await?;
    }
    for i in 1..=100 {
        js.stored(&format!("kv.bar.{i}"), &value).await?;
    }
    // Past the expiry of the blocks' per-subject state (5s in a server).
    tokio::time::sleep(Duration::from_millis(5500)).await;
    let bar = subjects(&mut js, "zzz", "kv.bar.>").await?;
    let n = bar.as_object().map_or(0, |m| m.len());
    ensure!(n == 100, "Expected 100 entries but got {n}");
    let one = subjects(&mut js, "zzz", "kv.bar.99").await?;
    let n = one.as_object().map_or(0, |m| m.len());
    ensure!(n == 1, "Expected 1 entry but got {n}");
    let ss = subject_state(&mut js, "zzz", "kv.bar.99").await?;
    ensure!(
        ss == (1, 199, 199),
        "Bad subject state, expected (1, 199, 199) but got {ss:?}"
    );
    // One more at the end, for a literal subject.
    js.stored("kv.foo.1", "value22").await?;
    let state = js.state("zzz").await?;
    ensure!(
        num(&state["messages"]) == 201,
        "Expected 201 msgs but got {state}"
    );
    let one = subjects(&mut js, "zzz", "kv.foo.1").await?;
    let n = one.as_object().map_or(0, |m| m.len());
    ensure!(n == 1, "Expected 1 entry but got {n}");
    let ss = subject_state(&mut js, "zzz", "kv.foo.1").await?;
    ensure!(
        ss == (2, 1, 201),
        "Bad subject state, expected (2, 1, 201) but got {ss:?}"
    );
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}

/// `n` bytes that do not repeat (a fixed pseudo-random sequence).
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

async fn compact_reclaim_head_space(ctx: Ctx) -> Result<()> {
    // Go: BlockSize 1MB and 16KB messages (~63 in the first block, ~37 in
    // the second). Here 32000-byte blocks (max_bytes 127996) and 512-byte
    // messages: 58 in the first, 42 in the second.
    let (mut s, mut js) = file_stream(
        &ctx,
        json!({"name": "TEST", "subjects": ["z"], "max_bytes": 127996}),
    )
    .await?;
    let msg = noise(512);
    let rl = stored_size("z", 0, msg.len());
    let n = 100;
    for _ in 0..n {
        js.stored_h("z", &[], &msg).await?;
    }
    check_eq!(block_files(&s, "TEST", "blk")?, vec![1, 2]);
    // Each block holds only its messages' bytes (the space of what was
    // removed is given back), and its first and last load intact.
    async fn check_blocks(
        s: &Server,
        js: &mut Js,
        msg: &[u8],
        rl: u64,
        want: &[(u32, u64, u64)],
    ) -> Result<()> {
        let blks = block_files(s, "TEST", "blk")?;
        let indexes: Vec<u32> = want.iter().map(|w| w.0).collect();
        ensure!(blks == indexes, "Expected blocks {indexes:?}, got {blks:?}");
        for &(index, first, last) in want {
            let size = std::fs::metadata(msgs_dir(s, "TEST").join(format!("{index}.blk")))?.len();
            let bytes = (last - first + 1) * rl;
            ensure!(
                size == bytes,
                "Expected to reclaim and have bytes == rbytes == file size, got {bytes} vs {size}"
            );
            for seq in [first, last] {
                let r = get(js, "TEST", seq).await?;
                ensure!(api_err(&r).0 == 0, "get {seq}: {r}");
                ensure!(
                    r["message"]["data"] == json!(b64(msg)),
                    "Msgs don't match for {seq}"
                );
            }
        }
        Ok(())
    }
    let r = js.purge("TEST", "{\"seq\":33}").await?;
    ensure!(api_err(&r).0 == 0, "compact: {r}");
    check_blocks(&s, &mut js, &msg, rl, &[(1, 33, 58), (2, 59, 100)]).await?;
    let r = js.purge("TEST", "{\"seq\":85}").await?;
    ensure!(api_err(&r).0 == 0, "compact: {r}");
    check_blocks(&s, &mut js, &msg, rl, &[(2, 85, 100)]).await?;
    // It takes writes.
    js.stored_h("z", &[], &msg).await?;
    check_blocks(&s, &mut js, &msg, rl, &[(2, 85, 101)]).await?;
    // And a restart.
    let mut js = restart(&ctx, &mut s).await?;
    check_blocks(&s, &mut js, &msg, rl, &[(2, 85, 101)]).await?;
    let state = js.state("TEST").await?;
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}

async fn expire_subject_meta(ctx: Ctx) -> Result<()> {
    let (mut s, mut js) = file_stream(
        &ctx,
        json!({"name": "zzz", "subjects": ["kv.>"], "max_msgs_per_subject": 1}),
    )
    .await?;
    let ns = 100;
    for i in 1..=ns {
        js.stored(&format!("kv.{i}"), "value").await?;
    }
    // After a restart the stream knows its subjects.
    let mut js = restart(&ctx, &mut s).await?;
    let state = js.state("zzz").await?;
    ensure!(
        num(&state["num_subjects"]) == ns,
        "Expected NumSubjects of {ns}, got {}",
        state["num_subjects"]
    );
    tokio::time::sleep(Duration::from_millis(5500)).await;
    // Load by sequence, and the last of a subject (what KV does).
    let r = get(&mut js, "zzz", 1).await?;
    ensure!(api_err(&r).0 == 0, "get 1: {r}");
    let r = js.msg_get("zzz", "{\"last_by_subj\":\"kv.22\"}").await?;
    ensure!(api_err(&r).0 == 0, "last kv.22: {r}");
    check_eq!(r["message"]["seq"], json!(22));
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}

async fn max_msgs_per_subject(ctx: Ctx) -> Result<()> {
    let (_s, mut js) = file_stream(
        &ctx,
        json!({"name": "zzz", "subjects": ["kv.>"], "max_msgs_per_subject": 1}),
    )
    .await?;
    let ns = 100;
    for _ in 0..2 {
        for i in 1..=ns {
            js.stored(&format!("kv.{i}"), "value").await?;
        }
    }
    let state = full_state(&mut js, "zzz").await?;
    ensure!(
        num(&state["messages"]) == 100
            && num(&state["first_seq"]) == 101
            && num(&state["last_seq"]) == 200
            && state.get("deleted").is_none(),
        "Bad state: {state}"
    );
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}

async fn sparse_compaction(ctx: Ctx) -> Result<()> {
    let (mut s, mut js) = file_stream(&ctx, json!({"name": "KV", "subjects": ["kv.>"]})).await?;
    let msg = "ABC".repeat(33);
    for i in 1..=1000 {
        js.stored(&format!("kv.{}", i % 10), &msg).await?;
    }
    let check_state = |st: &Value, msgs: u64, first: u64, last: u64| -> Result<()> {
        ensure!(
            (
                num(&st["messages"]),
                num(&st["first_seq"]),
                num(&st["last_seq"])
            ) == (msgs, first, last),
            "Expected {msgs} msgs from {first} to {last}, got {st}"
        );
        Ok(())
    };
    check_state(&js.state("KV").await?, 1000, 1, 1000)?;
    // Deletes and erases, each time the same state before and after a
    // restart (which stands for the block's compaction).
    let rounds: [(&[u64], bool); 3] = [
        (&[1], false),
        (&[1000, 999, 998, 997], false),
        (&[500, 502, 504, 506, 508, 510], true),
    ];
    for (seqs, erase) in rounds {
        for &seq in seqs {
            delete(&mut js, "KV", seq, erase).await?;
        }
        let before = full_state(&mut js, "KV").await?;
        js = restart(&ctx, &mut s).await?;
        let after = full_state(&mut js, "KV").await?;
        check_eq!(after, before);
    }
    let state = js.state("KV").await?;
    check_state(&state, 989, 2, 1000)?;
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}

async fn sparse_compaction_interior(ctx: Ctx) -> Result<()> {
    let (mut s, mut js) = file_stream(&ctx, json!({"name": "KV", "subjects": ["kv.>"]})).await?;
    for i in 1..=1000 {
        js.stored(&format!("kv.{}", i % 10), "OK").await?;
    }
    for seq in [500, 600, 700, 800] {
        delete(&mut js, "KV", seq, false).await?;
    }
    let r = get(&mut js, "KV", 900).await?;
    ensure!(api_err(&r).0 == 0, "Unexpected error: {r}");
    // A restart (the Go test closes the block and compacts it by hand).
    let mut js = restart(&ctx, &mut s).await?;
    let r = get(&mut js, "KV", 900).await?;
    ensure!(api_err(&r).0 == 0, "Unexpected error: {r}");
    ctx.observe_json("get 900", &scrub(&r));
    Ok(())
}

/// Messages == last - first + 1 - deleted, by the state with its deletes.
async fn accounting_holds(js: &mut Js, name: &str) -> Result<Value> {
    let st = full_state(js, name).await?;
    let (msgs, first, last) = (
        num(&st["messages"]),
        num(&st["first_seq"]),
        num(&st["last_seq"]),
    );
    let deleted = st["deleted"].as_array().map_or(0, |d| d.len()) as u64;
    ensure!(
        msgs == (last - first + 1) - deleted,
        "Consistency check failed: {msgs} != {} -> last {last} first {first} len(dmap) {deleted}",
        (last - first + 1) - deleted
    );
    Ok(st)
}

async fn rebuild_dmap_accounting(ctx: Ctx) -> Result<()> {
    // Go compacts the block by hand. A server compacts a block itself when
    // an interior delete leaves it a quarter used and it is over 2MB and
    // not the last: a KV stream's 4MB blocks, 100KB messages (40 to a
    // block), then the deletes of 2-40.
    let (mut s, mut js) = file_stream(
        &ctx,
        json!({"name": "TEST", "subjects": ["foo"], "max_msgs_per_subject": 1000}),
    )
    .await?;
    let msg = "\0".repeat(100 * 1024);
    for _ in 0..50 {
        js.stored("foo", &msg).await?;
    }
    let blks = block_files(&s, "TEST", "blk")?;
    ensure!(blks.first() == Some(&1), "no first block: {blks:?}");
    for seq in 2..=40 {
        delete(&mut js, "TEST", seq, false).await?;
    }
    accounting_holds(&mut js, "TEST").await?;
    // The block was compacted: what is left of it is its live records and
    // the deletes' markers.
    let size = std::fs::metadata(msgs_dir(&s, "TEST").join("1.blk"))?.len();
    ctx.observe("block 1 size after the deletes", size.to_string());
    // Now the first.
    delete(&mut js, "TEST", 1, false).await?;
    accounting_holds(&mut js, "TEST").await?;
    // The block's state rebuilt from its records: a restart with an index
    // that does not match the block's tail.
    let mut js = restart_with(&ctx, &mut s, |s| {
        let path = msgs_dir(s, "TEST").join("1.idx");
        if let Ok(mut buf) = std::fs::read(&path) {
            let mut at = 2;
            for _ in 0..7 {
                uvarint(&buf, &mut at)?;
            }
            buf[at] = !buf[at];
            std::fs::write(&path, buf)?;
        }
        Ok(())
    })
    .await?;
    let st = accounting_holds(&mut js, "TEST").await?;
    ctx.observe_json("state", &scrub(&st));
    Ok(())
}

/// The consumer state of the Go test: a redelivered record of sequence 0.
const BAD_CONSUMER_STATE: &[u8] =
    b"\x16\x02\x01\x01\x03\x02\x01\x98\xf4\x8a\x8a\x0c\x01\x03\x86\xfa\n\x01\x00\x01";

async fn bad_consumer_state(ctx: Ctx) -> Result<()> {
    let (mut s, mut js) = file_stream(&ctx, json!({"name": "zzz", "subjects": ["foo"]})).await?;
    for _ in 0..3 {
        js.stored("foo", "Hello World").await?;
    }
    let r = js
        .api(
            "$JS.API.CONSUMER.DURABLE.CREATE.zzz.dlc",
            &json!({"stream_name": "zzz", "config": {"durable_name": "dlc",
                "ack_policy": "explicit"}})
            .to_string(),
        )
        .await?;
    ensure!(api_err(&r).0 == 0, "consumer: {r}");
    // The consumer's state file replaced by the Go test's bytes.
    let mut js = restart_with(&ctx, &mut s, |s| {
        let dir = stream_dir(s, "zzz").join("obs").join("dlc");
        std::fs::write(dir.join("o.dat"), BAD_CONSUMER_STATE)?;
        Ok(())
    })
    .await?;
    // It decodes: the consumer is there with that state.
    let info = js.api("$JS.API.CONSUMER.INFO.zzz.dlc", "").await?;
    ensure!(
        api_err(&info).0 == 0,
        "Expected to not throw error, got {info}"
    );
    check_eq!(
        (
            &info["delivered"]["consumer_seq"],
            &info["delivered"]["stream_seq"]
        ),
        (&json!(3), &json!(2))
    );
    check_eq!(
        (
            &info["ack_floor"]["consumer_seq"],
            &info["ack_floor"]["stream_seq"]
        ),
        (&json!(1), &json!(1))
    );
    let mut seen = scrub(&info);
    seen["config"] = json!("<config>");
    ctx.observe_json("consumer", &seen);
    Ok(())
}

/// FilteredState(1, filter): (messages, first, last) by the subjects'
/// counts, the first message from 1 and the last one.
async fn filtered_state(js: &mut Js, name: &str, filter: &str) -> Result<(u64, u64, u64)> {
    let ss = subjects(js, name, filter).await?;
    let msgs = ss
        .as_object()
        .map_or(0, |m| m.values().map(num).sum::<u64>());
    let first = js
        .msg_get(name, &json!({"seq": 1, "next_by_subj": filter}).to_string())
        .await?;
    let last = js
        .msg_get(name, &json!({ "last_by_subj": filter }).to_string())
        .await?;
    Ok((
        msgs,
        num(&first["message"]["seq"]),
        num(&last["message"]["seq"]),
    ))
}

async fn expire_msgs_on_start(ctx: Ctx) -> Result<()> {
    // Go: a TTL of 250ms, 100ms between two batches and restarts 175ms
    // after the stop, so that the first batch has expired at the start and
    // the second has not. Here 2s, 1s between the batches, and the start
    // once the first batch is 2.2s old, which leaves a server time to
    // restart.
    let ttl = Duration::from_secs(2);
    let gap = Duration::from_secs(1);
    let s = js_server(&ctx).await?;
    let mut s = s;
    let cfg = json!({"name": "ORDERS", "subjects": ["orders.*"], "storage": "file",
        "max_age": ttl.as_nanos() as u64});
    let msg = "ABC".repeat(33);
    // A new stream (Go's newFS: the store removed and made anew).
    async fn new_fs(ctx: &Ctx, s: &Server, cfg: &Value) -> Result<Js> {
        let mut js = Js::connect(ctx, s).await?;
        js.delete_stream("ORDERS").await?;
        js.create(cfg.clone()).await?;
        Ok(js)
    }
    async fn load(js: &mut Js, msg: &str, n: u64) -> Result<tokio::time::Instant> {
        let at = tokio::time::Instant::now();
        for i in 1..=n {
            js.stored(&format!("orders.{}", i % 10), msg).await?;
        }
        Ok(at)
    }
    // Stops, and starts once the batch stored at `at` has expired.
    async fn restart_after(
        ctx: &Ctx,
        s: &mut Server,
        at: tokio::time::Instant,
        ttl: Duration,
    ) -> Result<Js> {
        s.stop().await?;
        tokio::time::sleep_until(at + ttl + Duration::from_millis(200)).await;
        s.restart().await?;
        Js::connect(ctx, s).await
    }
    async fn check_state(js: &mut Js, msgs: u64, first: u64, last: u64) -> Result<()> {
        let st = js.state("ORDERS").await?;
        check_eq!(
            (
                num(&st["messages"]),
                num(&st["first_seq"]),
                num(&st["last_seq"])
            ),
            (msgs, first, last)
        );
        Ok(())
    }
    // The first block's index file says what the stream's state says.
    fn check_blk_state(s: &Server, msgs: u64, first: u64, last: u64) -> Result<()> {
        let index = *block_files(s, "ORDERS", "blk")?
            .first()
            .context("No blocks?")?;
        let path = msgs_dir(s, "ORDERS").join(format!("{index}.idx"));
        let (m, _, f, l, dmap) = read_index(&path).context("Error during readIndexInfo")?;
        check_eq!((m, f, l, dmap), (msgs, first, last, Vec::<u64>::new()));
        Ok(())
    }

    // All of them expire: the last block is kept for the sequence.
    let mut js = new_fs(&ctx, &s, &cfg).await?;
    let at = load(&mut js, &msg, 500).await?;
    let mut js = restart_after(&ctx, &mut s, at, ttl).await?;
    check_state(&mut js, 0, 501, 500).await?;
    check_eq!(block_files(&s, "ORDERS", "blk")?.len(), 1);

    // Half of them expire, and the per-subject state follows.
    let mut js = new_fs(&ctx, &s, &cfg).await?;
    let at = load(&mut js, &msg, 10).await?;
    tokio::time::sleep(gap).await;
    load(&mut js, &msg, 10).await?;
    check_eq!(
        filtered_state(&mut js, "ORDERS", "orders.*").await?,
        (20, 1, 20)
    );
    let mut js = restart_after(&ctx, &mut s, at, ttl).await?;
    check_state(&mut js, 10, 11, 20).await?;
    check_eq!(block_files(&s, "ORDERS", "blk")?.len(), 1);
    check_eq!(
        filtered_state(&mut js, "ORDERS", "orders.*").await?,
        (10, 11, 20)
    );
    check_eq!(
        filtered_state(&mut js, "ORDERS", "orders.5").await?,
        (1, 15, 15)
    );
    check_blk_state(&s, 10, 11, 20)?;

    let mut js = new_fs(&ctx, &s, &cfg).await?;
    let at = load(&mut js, &msg, 5).await?;
    tokio::time::sleep(gap).await;
    load(&mut js, &msg, 15).await?;
    let mut js = restart_after(&ctx, &mut s, at, ttl).await?;
    check_state(&mut js, 15, 6, 20).await?;
    check_eq!(
        filtered_state(&mut js, "ORDERS", "orders.*").await?,
        (15, 6, 20)
    );
    check_eq!(
        filtered_state(&mut js, "ORDERS", "orders.5").await?,
        (2, 10, 20)
    );

    // Sparse deletes in the expired part leave no deletes behind.
    let mut js = new_fs(&ctx, &s, &cfg).await?;
    let at = load(&mut js, &msg, 10).await?;
    for seq in [2, 4, 6] {
        delete(&mut js, "ORDERS", seq, false).await?;
    }
    tokio::time::sleep(gap).await;
    load(&mut js, &msg, 10).await?;
    let mut js = restart_after(&ctx, &mut s, at, ttl).await?;
    check_state(&mut js, 10, 11, 20).await?;
    check_eq!(block_files(&s, "ORDERS", "blk")?.len(), 1);
    check_blk_state(&s, 10, 11, 20)?;

    // The tail deleted and the head expired: nothing left.
    let mut js = new_fs(&ctx, &s, &cfg).await?;
    let at = load(&mut js, &msg, 7).await?;
    tokio::time::sleep(gap).await;
    load(&mut js, &msg, 3).await?;
    for seq in [8, 9, 10] {
        delete(&mut js, "ORDERS", seq, false).await?;
    }
    let mut js = restart_after(&ctx, &mut s, at, ttl).await?;
    check_state(&mut js, 0, 11, 10).await?;

    // Compact keeps the per-subject state.
    let mut js = new_fs(&ctx, &s, &cfg).await?;
    load(&mut js, &msg, 100).await?;
    check_eq!(
        filtered_state(&mut js, "ORDERS", "orders.*").await?,
        (100, 1, 100)
    );
    check_eq!(
        filtered_state(&mut js, "ORDERS", "orders.5").await?,
        (10, 5, 95)
    );
    let r = js.purge("ORDERS", "{\"seq\":51}").await?;
    ensure!(api_err(&r).0 == 0, "compact: {r}");
    check_eq!(
        filtered_state(&mut js, "ORDERS", "orders.*").await?,
        (50, 51, 100)
    );
    check_eq!(
        filtered_state(&mut js, "ORDERS", "orders.5").await?,
        (5, 55, 95)
    );
    check_blk_state(&s, 50, 51, 100)?;
    let state = js.state("ORDERS").await?;
    ctx.observe_json("state", &scrub(&state));
    Ok(())
}
