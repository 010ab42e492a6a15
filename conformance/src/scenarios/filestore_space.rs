//! The file store on a full disk (TestFileStoreWriteFailures). Go's test
//! runs only where its folder is a small filesystem (a 32 KiB tmpfs in
//! Docker); here the server's store folder is a tmpfs mounted for the
//! scenario, which needs root (CAP_SYS_ADMIN), as CI has.
//!
//! A publish is `StoreMsg`, `$JS.API.STREAM.MSG.GET` is `LoadMsg`,
//! `$JS.API.STREAM.INFO` is `State`; the server is killed and started again
//! on the same store where the Go test stops its store and opens it again.

use crate::check_eq;
use crate::kit::js::{api_err, b64, num, Js, Reply};
use crate::kit::{Ctx, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{bail, ensure, Context, Result};
use futures::FutureExt;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario::new("filestore-recovery/write-failures", |c| {
        write_failures(c).boxed()
    })
    .needs(Need::JetStream)
    .with_category("filestore")
    .partial("TestFileStoreWriteFailures")]
}

/// A tmpfs of a fixed size mounted for the scenario; unmounted when dropped
/// (lazily: a server killed a moment before may still hold a file).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Result<Tmpfs> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .context("running mount")?;
        ensure!(
            out.status.success(),
            "mounting a {size} tmpfs (needs root): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

const SUBJECT: &str = "foo";
const MSG: &str = "Hello Write Failures!";

/// How the publish that found the disk full was answered: an error (its
/// code and err_code), or no answer within 2 s, as Go 2.9.10 does.
fn refusal_of(reply: &Reply) -> Result<Option<String>> {
    match reply {
        Reply::Nothing => Ok(Some("no reply".into())),
        Reply::Body(text) => {
            let v: Value = serde_json::from_str(text).with_context(|| format!("PubAck: {text}"))?;
            Ok(v.get("error").map(|_| {
                let (code, err_code, _) = api_err(&v);
                format!("error {code} {err_code}")
            }))
        }
        Reply::Status(s) => bail!("publish answered by a status: {s}"),
    }
}

/// Publishes until a publish is not acknowledged (at most 20,000): its
/// number and how it was refused.
async fn publish_until_refused(js: &mut Js) -> Result<(u64, String)> {
    for i in 1..=20_000u64 {
        let reply = js.ask(SUBJECT, MSG, Duration::from_secs(2)).await?;
        if let Some(refusal) = refusal_of(&reply)? {
            return Ok((i, refusal));
        }
    }
    bail!("Expected to get a failure but did not")
}

/// TestFileStoreWriteFailures, up to the restart. Partial: on a full disk
/// Go 2.9.10 answers neither the refused publish nor any later request on
/// the stream, and does not stop on SIGTERM (its stream stays locked), so
/// the server is killed, and what the Go test checks after its restart
/// (a publish still fails, a purge frees the space, the next failure comes
/// at the same sequence) is out of reach on Go. natsd answers with an
/// error and serves the stream on (natsd's own tests check the rest).
async fn write_failures(ctx: Ctx) -> Result<()> {
    let store = ctx.new_dir("jswf")?;
    // Declared first, dropped last: after the server is gone.
    let _tmpfs = Tmpfs::mount(&store, "256k")?;
    // The limit is set above the disk: what fails is the disk, not an
    // account's reservation.
    let conf = format!(
        "jetstream {{ store_dir: \"{}\", max_file_store: 1G }}\n",
        store.display()
    );
    let mut s = ctx.server(ServerSpec::new().conf(&conf)).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "zzz", "subjects": [SUBJECT], "storage": "file"}))
        .await?;

    let (lseq, refusal) = publish_until_refused(&mut js).await?;
    ctx.observe("refused publish", refusal);
    ensure!(lseq > 1000, "the disk filled after only {lseq} publishes");

    s.kill().await?;
    s.start_again(Duration::from_secs(10)).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let state = js.state("zzz").await?;
    check_eq!(num(&state["last_seq"]), lseq - 1);
    check_eq!(num(&state["messages"]), lseq - 1);
    let failed = js
        .msg_get("zzz", &json!({ "seq": lseq }).to_string())
        .await?;
    ensure!(
        api_err(&failed).0 == 404,
        "Expected error loading seq that failed, got {failed}"
    );
    for seq in [1, lseq - 1] {
        let m = js
            .msg_get("zzz", &json!({ "seq": seq }).to_string())
            .await?;
        ensure!(m.get("error").is_none(), "Unexpected error: {m}");
        check_eq!(m["message"]["data"], json!(b64(MSG.as_bytes())));
    }
    Ok(())
}
