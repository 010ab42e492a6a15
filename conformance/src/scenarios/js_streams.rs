//! Scenarios for the stream half of the JetStream API on one server, from
//! server/jetstream_test.go (TestJetStreamAddStream*, TestJetStreamUpdateStream,
//! TestJetStreamRequestAPI, TestJetStreamInfoAPIWithHeaders,
//! TestJetStreamFilteredStreamNames, TestJetStreamTemplate*,
//! TestJetStreamSystemLimits, TestJetStreamStream*TrackingAndLimits,
//! TestJetStreamStreamLimitUpdate, TestJetStreamMultipleAccountsBasics,
//! TestJetStreamServerResourcesConfig, TestJetStreamServerReload,
//! TestJetStreamConfigReloadWithGlobalAccount, TestJetStreamServerDomain*,
//! TestJetStreamDomainInPubAck, TestJetStreamStreamInfoSubjectsDetails*,
//! TestJetStreamDisabledLimitsEnforcement, the subject
//! overlap tests, ...), server/norace_test.go
//! (TestNoRaceJetStreamAPIStreamListPaging) and the single-server part of
//! server/monitor_test.go TestMonitorJsz.
//!
//! The Go tests mostly call `acc.addStream`, `mset.update`, `mset.state()`
//! and `acc.addStreamTemplate` in-process. Here every one of those is the
//! JetStream API request a client makes for it (`$JS.API.STREAM.CREATE.<name>`,
//! `...UPDATE`, `...INFO`, `$JS.API.STREAM.TEMPLATE.*`, `$JS.API.INFO`), sent
//! with a raw client whose replies are read as the server wrote them: the
//! whole response text is observed (key order, Go's `\u003e` escapes, the
//! defaults written back into the config), with times and ids masked by the
//! normalizer and the store folder shown as `<dir>`. The error of an in-process
//! call is the `error` object of the response (`code`, `err_code`,
//! `description`, checked exactly); the server's own JetStream settings are
//! read from `/varz` and `/jsz`; a Go `s.Reload()` is a SIGHUP after the
//! config file is rewritten, a Go restart a graceful stop and start on the
//! same store. Some scenarios also go through async-nats' own JetStream API
//! (`create_stream`, `publish` and its PubAck, `query_account`).

use crate::check_eq;
use crate::kit::js::{api_error, js_server, Js, Reply};
use crate::kit::{eventually, Ctx, Server, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{anyhow, bail, ensure, Context, Result};
use futures::FutureExt;
use nix::sys::signal::Signal;
use serde_json::{json, Value};
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    let js = |s: Scenario| s.needs(Need::JetStream);
    let mon = |s: Scenario| s.needs(Need::JetStream).needs(Need::Monitoring);
    vec![
        js(Scenario::new("jetstream/info-api-with-headers", |c| {
            info_api_with_headers(c).boxed()
        })
        .full("TestJetStreamInfoAPIWithHeaders")),
        js(Scenario::new("jetstream/request-api", |c| request_api(c).boxed())
            .full("TestJetStreamRequestAPI")),
        js(Scenario::new("jetstream/add-stream", |c| add_stream(c).boxed())
            .full("TestJetStreamAddStream")),
        js(Scenario::new("jetstream/add-stream-discard-new", |c| {
            add_stream_discard_new(c).boxed()
        })
        .full("TestJetStreamAddStreamDiscardNew")),
        js(Scenario::new("jetstream/add-stream-max-msg-size", |c| {
            add_stream_max_msg_size(c).boxed()
        })
        .full("TestJetStreamAddStreamMaxMsgSize")),
        js(Scenario::new("jetstream/add-stream-canonical-names", |c| {
            canonical_names(c).boxed()
        })
        .full("TestJetStreamAddStreamCanonicalNames")),
        js(Scenario::new("jetstream/add-stream-bad-subjects", |c| {
            bad_subjects(c).boxed()
        })
        .full("TestJetStreamAddStreamBadSubjects")),
        js(Scenario::new("jetstream/add-stream-overlapping-subjects", |c| {
            overlapping_subjects(c).boxed()
        })
        .full("TestJetStreamAddStreamOverlappingSubjects")),
        js(Scenario::new("jetstream/add-stream-overlap-js-api", |c| {
            overlap_js_api(c).boxed()
        })
        .full("TestJetStreamAddStreamOverlapWithJSAPISubjects")),
        js(Scenario::new("jetstream/add-stream-same-config", |c| {
            same_config(c).boxed()
        })
        .full("TestJetStreamAddStreamSameConfigOK")),
        js(Scenario::new("jetstream/filtered-stream-names", |c| {
            filtered_stream_names(c).boxed()
        })
        .full("TestJetStreamFilteredStreamNames")),
        js(Scenario::new("jetstream/stream-list-paging", |c| {
            stream_list_paging(c).boxed()
        })
        .full("TestNoRaceJetStreamAPIStreamListPaging")),
        js(Scenario::new("jetstream/default-max-msgs-per-subject", |c| {
            default_max_msgs_per(c).boxed()
        })
        .full("TestJetStreamDefaultMaxMsgsPer")),
        js(Scenario::new("jetstream/long-stream-names", |c| {
            long_stream_names(c).boxed()
        })
        .full("TestJetStreamLongStreamNamesAndPubAck")),
        js(Scenario::new("jetstream/negative-dupe-window", |c| {
            negative_dupe_window(c).boxed()
        })
        .full("TestJetStreamNegativeDupeWindow")),
        js(Scenario::new("jetstream/names-with-path-separators", |c| {
            path_separators(c).boxed()
        })
        .full("TestJetStreamConsumerAndStreamNamesWithPathSeparators")),
        js(Scenario::new("jetstream/stream-subjects-overlap", |c| {
            stream_subjects_overlap(c).boxed()
        })
        .full("TestJetStreamStreamSubjectsOverlap")),
        js(Scenario::new("jetstream/update-subjects-overlap-others", |c| {
            update_overlap_others(c).boxed()
        })
        .full("TestJetStreamStreamUpdateSubjectsOverlapOthers")),
        js(Scenario::new("jetstream/overlap-error-code", |c| {
            overlap_error_code(c).boxed()
        })
        .partial("TestJetStreamProperErrorDueToOverlapSubjects")),
        js(Scenario::new("jetstream/mirror-update-prevents-subjects", |c| {
            mirror_update_subjects(c).boxed()
        })
        .full("TestJetStreamMirrorUpdatePreventsSubjects")),
        js(Scenario::new("jetstream/update-stream", |c| update_stream(c).boxed())
            .full("TestJetStreamUpdateStream")),
        js(Scenario::new("jetstream/template-basics", |c| {
            template_basics(c).boxed()
        })
        .full("TestJetStreamTemplateBasics")),
        js(Scenario::new("jetstream/template-file-recovery", |c| {
            template_file_recovery(c).boxed()
        })
        .full("TestJetStreamTemplateFileStoreRecovery")),
        js(Scenario::new("jetstream/stream-info-subjects-details", |c| {
            subjects_details(c).boxed()
        })
        .full("TestJetStreamStreamInfoSubjectsDetails")),
        js(Scenario::new("jetstream/stream-info-subjects-delete-purge", |c| {
            subjects_details_delete_purge(c).boxed()
        })
        .full("TestJetStreamStreamInfoSubjectsDetailsWithDeleteAndPurge")),
        js(Scenario::new("jetstream/stream-info-subjects-after-restart", |c| {
            subjects_details_restart(c).boxed()
        })
        .full("TestJetStreamStreamInfoSubjectsDetailsAfterRestart")),
        js(Scenario::new("jetstream/multiple-accounts-basics", |c| {
            multiple_accounts(c).boxed()
        })
        .full("TestJetStreamMultipleAccountsBasics")),
        mon(Scenario::new("jetstream/server-resources-config", |c| {
            server_resources(c).boxed()
        })
        .full("TestJetStreamServerResourcesConfig")),
        js(Scenario::new("jetstream/server-reload", |c| server_reload(c).boxed())
            .full("TestJetStreamServerReload")),
        js(Scenario::new("jetstream/config-reload-global-account", |c| {
            reload_global_account(c).boxed()
        })
        .full("TestJetStreamConfigReloadWithGlobalAccount")),
        js(Scenario::new("jetstream/domain-bad-config", |c| {
            domain_bad_config(c).boxed()
        })
        .full("TestJetStreamServerDomainBadConfig")),
        mon(Scenario::new("jetstream/domain-config", |c| domain_config(c).boxed())
            .full("TestJetStreamServerDomainConfig")),
        mon(Scenario::new("jetstream/domain-config-disabled", |c| {
            domain_config_disabled(c).boxed()
        })
        .partial("TestJetStreamServerDomainConfigButDisabled")),
        js(Scenario::new("jetstream/disabled-limits-enforcement", |c| {
            disabled_limits_enforcement(c).boxed()
        })
        .full("TestJetStreamDisabledLimitsEnforcement")),
        mon(Scenario::new("jetstream/system-limits", |c| system_limits(c).boxed())
            .full("TestJetStreamSystemLimits")),
        js(Scenario::new("jetstream/stream-limit-update", |c| {
            stream_limit_update(c).boxed()
        })
        .full("TestJetStreamStreamLimitUpdate")),
        js(Scenario::new("jetstream/storage-tracking-limits", |c| {
            storage_tracking(c).boxed()
        })
        .partial("TestJetStreamStreamStorageTrackingAndLimits")),
        js(Scenario::new("jetstream/file-tracking-limits", |c| {
            file_tracking(c).boxed()
        })
        .partial("TestJetStreamStreamFileTrackingAndLimits")),
        js(Scenario::new("jetstream/system-account-refused", |c| {
            system_account_refused(c).boxed()
        })
        .full("TestJetStreamCanNotEnableOnSystemAccount")),
        mon(Scenario::new("jetstream/nil-config-defaults", |c| nil_config(c).boxed())
            .full("TestJetStreamBasicNilConfig")),
        js(Scenario::new("jetstream/consumer-stream-update", |c| {
            consumer_stream_update(c).boxed()
        })
        .partial("TestJetStreamConsumerStreamUpdate")),
        js(Scenario::new("jetstream/import-reload", |c| import_reload(c).boxed())
            .full("TestJetStreamImportReload")),
        mon(Scenario::new("jetstream/enable-disable-account", |c| {
            enable_disable_account(c).boxed()
        })
        .partial("TestJetStreamEnableAndDisableAccount")),
        js(Scenario::new("jetstream/cluster-only-api", |c| {
            cluster_only_api(c).boxed()
        })
        .beyond_go("jetstream_api.go: the stream/consumer leader stepdown and peer remove handlers answer JSClusterRequiredErr when not clustered; the meta ones listen in the system account only")),
        mon(Scenario::new("jetstream/jsz-single-server", |c| {
            jsz_single_server(c).boxed()
        })
        .partial("TestMonitorJsz")),
        js(Scenario::new("jetstream/max-consumers", |c| max_consumers(c).boxed())
            .full("TestJetStreamMaxConsumers")),
        js(Scenario::new("jetstream/stream-config-defaults", |c| {
            config_defaults(c).boxed()
        })
        .beyond_go("the config a minimal create writes back (jetstream_api.go / stream.go checkStreamCfg), byte for byte; sealing; replicas on one server")),
        js(Scenario::new("jetstream/api-error-shapes", |c| {
            api_error_shapes(c).boxed()
        })
        .beyond_go("the error responses of the stream API keep their zero fields (jetstream_api.go); account stream-bytes limits from the config (only JWT tests check them)")),
        js(Scenario::new("jetstream/store-directory-fix", |c| {
            store_directory_fix(c).boxed()
        })
        .full("TestJetStreamStoreDirectoryFix")),
    ]
}

// ---------------------------------------------------------------- helpers

/// How long a request waits for the server's answer.
const WAIT: Duration = Duration::from_secs(3);
/// How long a request that must stay unanswered is given.
const SILENCE: Duration = Duration::from_millis(250);
/// The requests of these scenarios on the kit's [`Js`] (connected with
/// [`Js::connect_no_responders`] or [`Js::user`]): each is given [`WAIT`].
impl Js {
    /// A request that must be answered with a body: its text as sent.
    async fn raw(&mut self, subject: &str, payload: &str) -> Result<String> {
        match self.ask(subject, payload, WAIT).await? {
            Reply::Body(b) => Ok(b),
            other => bail!("{subject} {payload}: expected a response, got {other:?}"),
        }
    }

    /// A request answered with JSON.
    async fn req(&mut self, subject: &str, payload: &str) -> Result<Value> {
        let text = self.raw(subject, payload).await?;
        serde_json::from_str(&text).with_context(|| format!("{subject}: not JSON: {text}"))
    }

    /// A request whose payload is `v` as JSON.
    async fn req_json(&mut self, subject: &str, v: &Value) -> Result<Value> {
        self.req(subject, &v.to_string()).await
    }

    /// Publishes as a request and expects a PubAck without an error:
    /// returns it.
    async fn pub_ack(&mut self, subject: &str, payload: &str) -> Result<Value> {
        match self.ask(subject, payload, WAIT).await? {
            Reply::Body(b) => {
                let v: Value = serde_json::from_str(&b).with_context(|| format!("PubAck {b}"))?;
                ensure!(
                    v.get("error").is_none() && v["seq"].is_u64(),
                    "publish on {subject}: not a PubAck: {b}"
                );
                Ok(v)
            }
            other => bail!("publish on {subject}: expected a PubAck, got {other:?}"),
        }
    }
}

/// A string field (empty when absent).
fn st(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// An unsigned field (fails when absent).
fn num(v: &Value, what: &str) -> Result<u64> {
    v.as_u64()
        .with_context(|| format!("{what} is not a number: {v}"))
}

/// `$JS.API.STREAM.<op>.<name>`.
fn api(op: &str, name: &str) -> String {
    format!("$JS.API.STREAM.{op}.{name}")
}

/// Creates a stream from `cfg` (its `name` names the subject) and expects
/// it created: returns the response.
async fn create(js: &mut Js, cfg: Value) -> Result<Value> {
    let name = st(&cfg["name"]).to_string();
    let r = js.req_json(&api("CREATE", &name), &cfg).await?;
    ensure!(
        r.get("error").is_none() && r["config"]["name"] == json!(name),
        "creating {name}: {r}"
    );
    Ok(r)
}

/// Creating a stream from `cfg` fails: returns the error as [`api_error`].
async fn create_err(js: &mut Js, cfg: Value) -> Result<String> {
    let name = st(&cfg["name"]).to_string();
    let r = js.req_json(&api("CREATE", &name), &cfg).await?;
    ensure!(r.get("config").is_none(), "{name} was created: {r}");
    Ok(api_error(&r))
}

/// Updates a stream from `cfg`: the response.
async fn update(js: &mut Js, cfg: Value) -> Result<Value> {
    let name = st(&cfg["name"]).to_string();
    js.req_json(&api("UPDATE", &name), &cfg).await
}

/// `$JS.API.STREAM.INFO.<name>` with an optional request.
async fn info(js: &mut Js, name: &str, req: &str) -> Result<Value> {
    js.req(&api("INFO", name), req).await
}

/// The `state` of a stream's info.
async fn state(js: &mut Js, name: &str) -> Result<Value> {
    let i = info(js, name, "").await?;
    ensure!(i.get("error").is_none(), "info of {name}: {i}");
    Ok(i["state"].clone())
}

/// `(messages, bytes)` of a stream.
async fn msgs_bytes(js: &mut Js, name: &str) -> Result<(u64, u64)> {
    let s = state(js, name).await?;
    Ok((num(&s["messages"], "messages")?, num(&s["bytes"], "bytes")?))
}

/// Deletes a stream and expects success.
async fn delete(js: &mut Js, name: &str) -> Result<()> {
    let r = js.req(&api("DELETE", name), "").await?;
    check_eq!(
        r,
        json!({"type": "io.nats.jetstream.api.v1.stream_delete_response", "success": true})
    );
    Ok(())
}

/// The stream names of `$JS.API.STREAM.NAMES` (with a request body).
async fn names(js: &mut Js, req: &str) -> Result<Vec<String>> {
    let r = js.req("$JS.API.STREAM.NAMES", req).await?;
    Ok(r["streams"]
        .as_array()
        .map(|a| a.iter().map(|v| st(v).to_string()).collect())
        .unwrap_or_default())
}

/// Records a response as the server wrote it, the server's folder shown
/// as `<dir>` (times and ids are masked by the normalizer).
fn observe_raw(ctx: &Ctx, s: &Server, key: &str, text: &str) {
    ctx.observe(key, text.replace(&*s.dir().to_string_lossy(), "<dir>"));
}

/// Rewrites the config (the listen lines kept) and reloads it with SIGHUP;
/// waits until the server says it reloaded.
async fn reload(s: &Server, body: &str) -> Result<()> {
    let count = |s: &Server| s.logs().matches("Reloaded server configuration").count();
    let before = count(s);
    s.rewrite_conf(&format!(
        "host: 127.0.0.1\nport: {{{{client_port}}}}\n{body}"
    ))?;
    s.signal(Signal::SIGHUP)?;
    eventually(Duration::from_secs(5), || async {
        Ok((count(s) > before).then_some(()))
    })
    .await
    .with_context(|| format!("reload; log:\n{}", s.logs()))
}

/// Runs the server binary on a config that must stop it at start-up: the
/// exit code and its non-informational log lines (pids and times masked by
/// the normalizer when observed).
async fn refused(ctx: &Ctx, name: &str, body: &str) -> Result<(Option<i32>, String)> {
    let dir = ctx.new_dir("refused")?;
    let conf = format!(
        "host: 127.0.0.1\nport: -1\n{}",
        body.replace("{{dir}}", &dir.to_string_lossy())
    );
    let path = dir.join(format!("{name}.conf"));
    std::fs::write(&path, conf)?;
    let out = ctx.run_binary(&["-c", &path.to_string_lossy()]).await?;
    let text = format!("{}{}", out.stderr, out.stdout);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("[INF]") && !l.contains("Plaintext passwords"))
        .collect();
    Ok((out.code, lines.join("\n")))
}

/// The text after the `[FTL] ` of a log line.
fn fatal(lines: &str) -> String {
    lines
        .lines()
        .find_map(|l| l.split_once("[FTL] ").map(|x| x.1.to_string()))
        .unwrap_or_default()
}

const STREAM_CREATE: &str = "io.nats.jetstream.api.v1.stream_create_response";
const STREAM_UPDATE: &str = "io.nats.jetstream.api.v1.stream_update_response";
const ACCOUNT_INFO: &str = "io.nats.jetstream.api.v1.account_info_response";

// ---------------------------------------------------------------- account info

/// TestJetStreamInfoAPIWithHeaders: `$JS.API.INFO` with a header block and a
/// payload that is not a request is still answered with the account's info.
async fn info_api_with_headers(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    let headers = [("Accept-Encoding", "json"), ("Authorization", "s3cr3t")];
    let r = js
        .ask_h("$JS.API.INFO", &headers, b"HELLO-JS!", WAIT)
        .await?;
    let v = r.json()?;
    check_eq!(api_error(&v), "none");
    check_eq!(st(&v["type"]), ACCOUNT_INFO);
    if let Reply::Body(b) = &r {
        observe_raw(&ctx, &s, "info with headers", b);
    }
    Ok(())
}

// ---------------------------------------------------------------- the request API

/// TestJetStreamRequestAPI: account info, stream create (name must match
/// the subject), update, update of an unknown stream, names, list, info,
/// an ephemeral push consumer, durable create rules, message delete, purge,
/// stream delete, templates, and empty request bodies.
async fn request_api(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;

    let first = js.raw("$JS.API.INFO", "").await?;
    let v: Value = serde_json::from_str(&first)?;
    check_eq!(api_error(&v), "none");
    check_eq!(v["api"], json!({"total": 0, "errors": 0}));
    observe_raw(&ctx, &s, "first account info", &first);

    let cfg = json!({"name": "MSET22", "storage": "file", "subjects": ["foo", "bar", "baz"], "max_msgs": 100});
    let text = js.raw(&api("CREATE", "MSET22"), &cfg.to_string()).await?;
    let sc: Value = serde_json::from_str(&text)?;
    check_eq!(api_error(&sc), "none");
    check_eq!(st(&sc["type"]), STREAM_CREATE);
    ensure!(sc["created"].is_string(), "no created time: {sc}");
    check_eq!(sc["did_create"], json!(true));
    observe_raw(&ctx, &s, "create MSET22", &text);

    // The name in the config has to match the name in the subject.
    let r = js.req_json(&api("CREATE", "BOB"), &cfg).await?;
    check_eq!(
        api_error(&r),
        "400 10056 stream name in subject does not match request"
    );

    // Update works.
    let mut upd = cfg.clone();
    upd["max_bytes"] = json!(2222222);
    let text = js.raw(&api("UPDATE", "MSET22"), &upd.to_string()).await?;
    let r: Value = serde_json::from_str(&text)?;
    check_eq!(api_error(&r), "none");
    check_eq!(r["config"]["max_bytes"], json!(2222222));
    observe_raw(&ctx, &s, "update MSET22", &text);

    // Updating a stream that does not exist.
    let r = update(
        &mut js,
        json!({"name": "UNKNOWN_STREAM", "storage": "file", "subjects": ["foo"]}),
    )
    .await?;
    check_eq!(api_error(&r), "404 10059 stream not found");
    ensure!(
        r.get("config").is_none(),
        "update of an unknown stream: {r}"
    );

    let r = js.req("$JS.API.INFO", "").await?;
    check_eq!(r["streams"], json!(1));

    let text = js.raw("$JS.API.STREAM.NAMES", "").await?;
    let r: Value = serde_json::from_str(&text)?;
    check_eq!(r["streams"], json!(["MSET22"]));
    check_eq!(
        (r["total"].clone(), r["offset"].clone(), r["limit"].clone()),
        (json!(1), json!(0), json!(1024))
    );
    observe_raw(&ctx, &s, "names", &text);

    let text = js.raw("$JS.API.STREAM.LIST", "").await?;
    let r: Value = serde_json::from_str(&text)?;
    check_eq!(r["streams"].as_array().map(Vec::len), Some(1));
    check_eq!(
        (r["total"].clone(), r["offset"].clone(), r["limit"].clone()),
        (json!(1), json!(0), json!(256))
    );
    check_eq!(st(&r["streams"][0]["config"]["name"]), "MSET22");
    observe_raw(&ctx, &s, "list", &text);

    for _ in 0..10 {
        js.pub_ack("foo", "WELCOME JETSTREAM").await?;
    }
    let text = js.raw(&api("INFO", "MSET22"), "").await?;
    let r: Value = serde_json::from_str(&text)?;
    check_eq!(r["state"]["messages"], json!(10));
    ensure!(r["created"].is_string(), "no created time: {r}");
    observe_raw(&ctx, &s, "info MSET22", &text);

    let r = info(&mut js, "BOB", "").await?;
    check_eq!(api_error(&r), "404 10059 stream not found");

    // An ephemeral push consumer, whose subscriber comes after it.
    let creq = json!({"stream_name": "MSET22", "config": {"deliver_subject": "d.elivery"}});
    let r = js.req_json("$JS.API.CONSUMER.CREATE.MSET22", &creq).await?;
    check_eq!(api_error(&r), "none");
    ensure!(
        r["created"].is_string() && r["config"].is_object(),
        "consumer: {r}"
    );
    let mut sub = Js::connect_no_responders(&ctx, &s).await?;
    sub.conn().send("SUB d.elivery 9\r\n").await?;
    let got = sub.conn().read_msgs(10).await?;
    check_eq!(got.len(), 10);

    let r = js.req_json("$JS.API.CONSUMER.CREATE.BOB", &creq).await?;
    check_eq!(
        api_error(&r),
        "400 10056 stream name in subject does not match request"
    );

    let r = js.req("$JS.API.CONSUMER.NAMES.MSET22", "").await?;
    let consumers = r["consumers"].as_array().cloned().unwrap_or_default();
    check_eq!(consumers.len(), 1);
    let cname = st(&consumers[0]).to_string();
    let subject = format!("$JS.API.CONSUMER.INFO.MSET22.{cname}");
    let mut oinfo = js.req(&subject, "").await?;
    for _ in 0..100 {
        if oinfo["ack_floor"]["consumer_seq"] == json!(10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        oinfo = js.req(&subject, "").await?;
    }
    check_eq!(oinfo["name"].as_str().map(str::len), Some(8));
    check_eq!(oinfo["config"].get("durable_name"), None);
    check_eq!(st(&oinfo["config"]["deliver_subject"]), "d.elivery");
    check_eq!(oinfo["delivered"]["consumer_seq"], json!(10));
    check_eq!(oinfo["ack_floor"]["consumer_seq"], json!(10));

    let r = js
        .req(&format!("$JS.API.CONSUMER.DELETE.MSET22.{cname}"), "")
        .await?;
    check_eq!(r["success"], json!(true));
    check_eq!(api_error(&r), "none");

    // A durable through the ephemeral endpoint, then through its own.
    let dreq = json!({"stream_name": "MSET22", "config": {"durable_name": "myd", "deliver_subject": "d.elivery"}});
    let r = js.req_json("$JS.API.CONSUMER.CREATE.MSET22", &dreq).await?;
    check_eq!(
        api_error(&r),
        "400 10020 consumer expected to be ephemeral but a durable name was set in request"
    );
    let r = js
        .req_json("$JS.API.CONSUMER.DURABLE.CREATE.MSET22.myd", &dreq)
        .await?;
    check_eq!(api_error(&r), "none");
    check_eq!(st(&r["name"]), "myd");
    let r = js
        .req_json("$JS.API.CONSUMER.DURABLE.CREATE.MSET22.myd", &creq)
        .await?;
    check_eq!(
        api_error(&r),
        "400 10018 consumer expected to be durable but a durable name was not set"
    );

    let text = js
        .raw(&api("MSG.DELETE", "MSET22"), &json!({"seq": 2}).to_string())
        .await?;
    check_eq!(
        text,
        r#"{"type":"io.nats.jetstream.api.v1.stream_msg_delete_response","success":true}"#
    );
    let text = js.raw(&api("PURGE", "MSET22"), "").await?;
    check_eq!(
        text,
        r#"{"type":"io.nats.jetstream.api.v1.stream_purge_response","success":true,"purged":9}"#
    );
    let text = js.raw(&api("DELETE", "MSET22"), "").await?;
    check_eq!(
        text,
        r#"{"type":"io.nats.jetstream.api.v1.stream_delete_response","success":true}"#
    );

    let r = js.req("$JS.API.INFO", "").await?;
    check_eq!(r["streams"], json!(0));

    // Templates.
    let tmpl = |name: &str, subjects: Value| {
        json!({"name": name, "config": {"subjects": subjects, "retention": "limits",
            "max_age": 3_600_000_000_000u64, "max_msgs": 4, "storage": "memory", "num_replicas": 1},
            "max_streams": 4})
    };
    let kv = tmpl("kv", json!(["kv.*"]));
    let r = js
        .req_json("$JS.API.STREAM.TEMPLATE.CREATE.BOB", &kv)
        .await?;
    check_eq!(
        api_error(&r),
        "400 10073 template name in subject does not match request"
    );
    let text = js
        .raw("$JS.API.STREAM.TEMPLATE.CREATE.kv", &kv.to_string())
        .await?;
    let r: Value = serde_json::from_str(&text)?;
    check_eq!(api_error(&r), "none");
    ensure!(r["config"].is_object(), "template kv: {r}");
    observe_raw(&ctx, &s, "template kv", &text);
    let r = js
        .req_json(
            "$JS.API.STREAM.TEMPLATE.CREATE.ss",
            &tmpl("ss", json!(["foo", "bar"])),
        )
        .await?;
    check_eq!(api_error(&r), "none");
    ensure!(r["config"].is_object(), "template ss: {r}");

    let text = js.raw("$JS.API.STREAM.TEMPLATE.NAMES", "").await?;
    let r: Value = serde_json::from_str(&text)?;
    check_eq!(r["streams"], json!(["kv", "ss"]));
    observe_raw(&ctx, &s, "template names", &text);

    let r = js.req("$JS.API.STREAM.TEMPLATE.DELETE.bob", "").await?;
    check_eq!(api_error(&r), "404 10068 template not found");
    let r = js.req("$JS.API.STREAM.TEMPLATE.DELETE.ss", "").await?;
    check_eq!(r["success"], json!(true));
    check_eq!(api_error(&r), "none");
    let r = js.req("$JS.API.STREAM.TEMPLATE.NAMES", "").await?;
    check_eq!(r["streams"], json!(["kv"]));

    let ack = js.pub_ack("kv.22", "derek").await?;
    check_eq!(ack, json!({"stream": "kv_22", "seq": 1}));
    let text = js.raw("$JS.API.STREAM.TEMPLATE.INFO.kv", "").await?;
    let r: Value = serde_json::from_str(&text)?;
    check_eq!(r["streams"], json!(["kv_22"]));
    observe_raw(&ctx, &s, "template info kv", &text);

    // Requests that take no arguments accept nothing or empty JSON.
    for arg in ["", "{}", " {} ", " { } "] {
        let r = js.req(&api("DELETE", "foo_bar_baz"), arg).await?;
        check_eq!(api_error(&r), "404 10059 stream not found");
    }
    let last = js.raw("$JS.API.INFO", "").await?;
    observe_raw(&ctx, &s, "last account info", &last);
    Ok(())
}

// ---------------------------------------------------------------- add stream

/// TestJetStreamAddStream: a stream of each storage through async-nats;
/// two messages stored, then the stream deleted.
async fn add_stream(ctx: Ctx) -> Result<()> {
    use async_nats::jetstream::stream::{Config, RetentionPolicy, StorageType};
    let s = js_server(&ctx).await?;
    let client = ctx.client(&s).await?;
    let jsc = async_nats::jetstream::new(client);
    let mut raw = Js::connect_no_responders(&ctx, &s).await?;
    for (label, storage) in [("memory", StorageType::Memory), ("file", StorageType::File)] {
        let mut stream = jsc
            .create_stream(Config {
                name: "foo".into(),
                retention: RetentionPolicy::Limits,
                max_age: Duration::from_secs(3600),
                storage,
                num_replicas: 1,
                ..Default::default()
            })
            .await
            .map_err(|e| anyhow!("create_stream ({label}): {e}"))?;
        let ack = jsc
            .publish("foo", "Hello World!".into())
            .await?
            .await
            .map_err(|e| anyhow!("publish: {e}"))?;
        check_eq!((ack.stream.as_str(), ack.sequence), ("foo", 1));
        let st1 = stream.info().await?.state.clone();
        check_eq!(st1.messages, 1);
        ensure!(st1.bytes > 0, "no bytes after one message");
        jsc.publish("foo", "Hello World Again!".into())
            .await?
            .await
            .map_err(|e| anyhow!("publish: {e}"))?;
        let st2 = stream.info().await?.state.clone();
        check_eq!(st2.messages, 2);
        let text = raw.raw(&api("INFO", "foo"), "").await?;
        observe_raw(&ctx, &s, &format!("{label}: info"), &text);
        let del = jsc
            .delete_stream("foo")
            .await
            .map_err(|e| anyhow!("delete_stream: {e}"))?;
        check_eq!(del.success, true);
        ctx.observe(
            &format!("{label}: bytes"),
            format!("{} {}", st1.bytes, st2.bytes),
        );
    }
    Ok(())
}

/// TestJetStreamAddStreamDiscardNew: with discard new, the 11th message of
/// a 10-message stream, then (after a purge) an 8 KiB message in a 4 KiB
/// stream, are refused with the PubAck's error.
async fn add_stream_discard_new(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    for storage in ["memory", "file"] {
        create(
            &mut js,
            json!({"name": "foo", "max_msgs": 10, "max_bytes": 4096, "discard": "new", "storage": storage, "num_replicas": 1}),
        )
        .await?;
        for i in 1..=10 {
            js.pub_ack("foo", &format!("MSG: {i}")).await?;
        }
        let r = js.ask("foo", "discard me", WAIT).await?;
        let v = r.json()?;
        check_eq!(st(&v["error"]["description"]), "maximum messages exceeded");
        check_eq!(st(&v["stream"]), "foo");
        if let Reply::Body(b) = &r {
            ctx.observe(&format!("{storage}: over max msgs"), b);
        }
        let p = js.req(&api("PURGE", "foo"), "").await?;
        check_eq!(p["success"], json!(true));
        let big = "x".repeat(8192);
        let r = js.ask("foo", &big, WAIT).await?;
        let v = r.json()?;
        check_eq!(st(&v["error"]["description"]), "maximum bytes exceeded");
        check_eq!(st(&v["stream"]), "foo");
        if let Reply::Body(b) = &r {
            ctx.observe(&format!("{storage}: over max bytes"), b);
        }
        delete(&mut js, "foo").await?;
    }
    Ok(())
}

/// TestJetStreamAddStreamMaxMsgSize: a message over the stream's max_msg_size
/// is refused with the PubAck's error.
async fn add_stream_max_msg_size(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    for storage in ["memory", "file"] {
        create(
            &mut js,
            json!({"name": "foo", "retention": "limits", "max_age": 3_600_000_000_000u64, "storage": storage, "max_msg_size": 22, "num_replicas": 1}),
        )
        .await?;
        js.pub_ack("foo", "Hello World!").await?;
        let r = js
            .ask("foo", "1234567890ABCDEFGHIJKLMNOPQRSTUVWXYZ", WAIT)
            .await?;
        let v = r.json()?;
        check_eq!(
            st(&v["error"]["description"]),
            "message size exceeds maximum allowed"
        );
        if let Reply::Body(b) = &r {
            ctx.observe(&format!("{storage}: too big"), b);
        }
        delete(&mut js, "foo").await?;
    }
    Ok(())
}

/// TestJetStreamAddStreamCanonicalNames: a name with `*` or `>` is refused
/// with JSStreamInvalidConfigF (10052); a name with `.` cannot even be
/// asked for (its create subject has more tokens and nobody answers), and
/// no stream is created.
async fn canonical_names(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    for name in ["*", ">", "*>"] {
        let r = js
            .req_json(&api("CREATE", name), &json!({"name": name}))
            .await?;
        let e = api_error(&r);
        check_eq!(
            e,
            "500 10052 stream name is required and can not contain '.', '*', '>'"
        );
        ctx.observe(&format!("create {name}"), &e);
    }
    for name in ["foo.bar", "foo.bar.", "foo.*", "foo.>"] {
        let r = js
            .ask(
                &api("CREATE", name),
                &json!({"name": name}).to_string(),
                SILENCE,
            )
            .await?;
        ensure!(
            !matches!(r, Reply::Body(_)),
            "create {name} was answered: {r:?}"
        );
    }
    // A mismatch with the subject comes first when the name is in the body only.
    let r = js
        .req_json(&api("CREATE", "x"), &json!({"name": "foo.bar"}))
        .await?;
    check_eq!(
        api_error(&r),
        "400 10056 stream name in subject does not match request"
    );
    let r = js.req("$JS.API.STREAM.NAMES", "").await?;
    check_eq!(r["total"], json!(0));
    Ok(())
}

/// TestJetStreamAddStreamBadSubjects: invalid subjects are refused with
/// JSStreamInvalidConfigF "invalid subject".
async fn bad_subjects(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    for subject in ["foo.bar.", "..", ".*", ".>", " x", "y "] {
        let text = js
            .raw(
                &api("CREATE", "MyStream"),
                &json!({"name": "MyStream", "storage": "memory", "subjects": [subject]})
                    .to_string(),
            )
            .await?;
        let r: Value = serde_json::from_str(&text)?;
        check_eq!(api_error(&r), "500 10052 invalid subject");
        ctx.observe(&format!("subject {subject:?}"), &text);
    }
    Ok(())
}

/// TestJetStreamAddStreamOverlappingSubjects: streams whose subjects overlap
/// an existing stream's are refused with 10065.
async fn overlapping_subjects(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    create(
        &mut js,
        json!({"name": "ok", "storage": "memory", "subjects": ["foo", "bar", "baz.*", "foo.bar.baz.>"]}),
    )
    .await?;
    let cases = [
        json!({"name": "foo"}),
        json!({"name": "a", "subjects": ["baz", "bar"]}),
        json!({"name": "b", "subjects": [">"]}),
        json!({"name": "c", "subjects": ["baz.33"]}),
        json!({"name": "d", "subjects": ["*.33"]}),
        json!({"name": "e", "subjects": ["*.>"]}),
        json!({"name": "f", "subjects": ["foo.bar", "*.bar.>"]}),
    ];
    for cfg in cases {
        let name = st(&cfg["name"]).to_string();
        let e = create_err(&mut js, cfg).await?;
        check_eq!(e, "400 10065 subjects overlap with an existing stream");
        ctx.observe(&format!("stream {name}"), &e);
    }
    check_eq!(names(&mut js, "").await?, vec!["ok"]);
    Ok(())
}

/// TestJetStreamAddStreamOverlapWithJSAPISubjects: subjects under `$JS.API`
/// are refused; `$JS.EVENT.>` is fine.
async fn overlap_js_api(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    for (name, subjects) in [
        ("a", json!(["$JS.API.foo", "$JS.API.bar"])),
        ("b", json!(["$JS.API.>"])),
        ("c", json!(["$JS.API.*"])),
    ] {
        let e = create_err(&mut js, json!({"name": name, "subjects": subjects})).await?;
        check_eq!(e, "500 10052 subjects overlap with jetstream api");
        ctx.observe(&format!("stream {name}"), &e);
    }
    let r = create(&mut js, json!({"name": "a", "subjects": ["$JS.EVENT.>"]})).await?;
    check_eq!(r["config"]["subjects"], json!(["$JS.EVENT.>"]));
    Ok(())
}

/// TestJetStreamAddStreamSameConfigOK: creating a stream again with the same
/// config succeeds.
async fn same_config(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    let cfg = json!({"name": "ok", "subjects": ["foo", "bar", "baz.*", "foo.bar.baz.>"], "storage": "memory"});
    let first = js.raw(&api("CREATE", "ok"), &cfg.to_string()).await?;
    let again = js.raw(&api("CREATE", "ok"), &cfg.to_string()).await?;
    let r: Value = serde_json::from_str(&again)?;
    check_eq!(api_error(&r), "none");
    check_eq!(r["did_create"], json!(true));
    observe_raw(&ctx, &s, "first", &first);
    observe_raw(&ctx, &s, "again", &again);
    // A different config under the same name is refused.
    let mut other = cfg.clone();
    other["max_msgs"] = json!(5);
    let e = create_err(&mut js, other).await?;
    check_eq!(
        e,
        "400 10058 stream name already in use with a different configuration"
    );
    Ok(())
}

/// TestJetStreamFilteredStreamNames: `$JS.API.STREAM.NAMES` with a subject
/// filter lists the streams whose subjects it matches.
async fn filtered_stream_names(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    let subjects = [
        json!(["foo"]),
        json!(["bar"]),
        json!(["baz"]),
        json!(["foo.*", "bar.*"]),
        json!(["foo-1.22", "bar-1.33"]),
    ];
    for (i, subjects) in subjects.into_iter().enumerate() {
        create(
            &mut js,
            json!({"name": format!("S-{}", i + 1), "subjects": subjects}),
        )
        .await?;
    }
    for (filter, want) in [
        ("foo", vec!["S-1"]),
        ("bar", vec!["S-2"]),
        ("baz", vec!["S-3"]),
        ("*", vec!["S-1", "S-2", "S-3"]),
        (">", vec!["S-1", "S-2", "S-3", "S-4", "S-5"]),
        ("*.*", vec!["S-4", "S-5"]),
        ("*.22", vec!["S-4", "S-5"]),
    ] {
        let text = js
            .raw(
                "$JS.API.STREAM.NAMES",
                &json!({"subject": filter}).to_string(),
            )
            .await?;
        let r: Value = serde_json::from_str(&text)?;
        let got: Vec<&str> = r["streams"]
            .as_array()
            .map(|a| a.iter().map(st).collect())
            .unwrap_or_default();
        check_eq!(got, want);
        ctx.observe(&format!("filter {filter}"), &text);
    }
    Ok(())
}

/// TestNoRaceJetStreamAPIStreamListPaging: 2048 streams; the names come
/// sorted, 1024 a page, from the offset asked for; past the end, none.
async fn stream_list_paging(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    let total = 2 * 1024;
    let reqs: Vec<(String, String)> = (1..=total)
        .map(|i| {
            let name = format!("STREAM-{i:06}");
            (
                api("CREATE", &name),
                json!({"name": name, "storage": "memory"}).to_string(),
            )
        })
        .collect();
    for (i, r) in js.many(&reqs).await?.iter().enumerate() {
        let v = r.json()?;
        ensure!(v.get("error").is_none(), "creating stream {}: {v}", i + 1);
    }
    for (offset, len) in [
        (0, 1024),
        (1024, 1024),
        (total, 0),
        (total - 22, 22),
        (total + 22, 0),
    ] {
        let req = if offset > 0 {
            json!({"offset": offset}).to_string()
        } else {
            String::new()
        };
        let r = js.req("$JS.API.STREAM.NAMES", &req).await?;
        let streams = r["streams"].as_array().cloned().unwrap_or_default();
        check_eq!(streams.len(), len);
        check_eq!(r["total"], json!(total));
        let want_offset = offset.min(total);
        check_eq!(r["offset"], json!(want_offset));
        if len > 0 {
            check_eq!(st(&streams[0]), format!("STREAM-{:06}", want_offset + 1));
            let sorted = streams.windows(2).all(|w| st(&w[0]) < st(&w[1]));
            ensure!(sorted, "names not sorted at offset {offset}");
        }
        let first = streams
            .first()
            .map(|v| st(v).to_string())
            .unwrap_or_default();
        ctx.observe(
            &format!("offset {offset}"),
            format!(
                "total {} offset {} limit {} len {len} first {first} null {}",
                r["total"],
                r["offset"],
                r["limit"],
                r["streams"].is_null()
            ),
        );
    }
    // The detailed list pages by 256.
    let r = js
        .req("$JS.API.STREAM.LIST", &json!({"offset": 2000}).to_string())
        .await?;
    check_eq!(r["streams"].as_array().map(Vec::len), Some(48));
    check_eq!(
        (r["total"].clone(), r["offset"].clone(), r["limit"].clone()),
        (json!(total), json!(2000), json!(256))
    );
    Ok(())
}

/// TestJetStreamDefaultMaxMsgsPer: max_msgs_per_subject defaults to -1.
async fn default_max_msgs_per(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    let text = js
        .raw(
            &api("CREATE", "TEST"),
            &json!({"name": "TEST", "subjects": ["foo.*"], "storage": "memory", "max_msgs": 10})
                .to_string(),
        )
        .await?;
    let r: Value = serde_json::from_str(&text)?;
    check_eq!(r["config"]["max_msgs_per_subject"], json!(-1));
    observe_raw(&ctx, &s, "create", &text);
    Ok(())
}

/// TestJetStreamLongStreamNamesAndPubAck: a 255-character stream name, and
/// a PubAck naming it.
async fn long_stream_names(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    let name = "ZABC".repeat(64)[..255].to_string();
    create(&mut js, json!({"name": name, "subjects": ["foo"]})).await?;
    let ack = js.pub_ack("foo", "HELLO").await?;
    check_eq!(ack, json!({"stream": name, "seq": 1}));
    ctx.observe("name length", name.len().to_string());
    Ok(())
}

/// TestJetStreamNegativeDupeWindow: a max_age of -1 makes the default
/// duplicates window negative, which is refused.
async fn negative_dupe_window(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    let e = create_err(
        &mut js,
        json!({"name": "TEST", "retention": "workqueue", "max_consumers": 1, "max_msgs": -1,
            "max_bytes": -1, "discard": "new", "max_age": -1, "max_msgs_per_subject": -1,
            "max_msg_size": -1, "storage": "file", "num_replicas": 1, "no_ack": false}),
    )
    .await?;
    check_eq!(e, "500 10052 duplicates window can not be negative");
    ctx.observe("error", &e);
    Ok(())
}

/// TestJetStreamConsumerAndStreamNamesWithPathSeparators: `/` and `\` are
/// refused in stream names (10128) and durable names (10127).
async fn path_separators(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    for name in ["usr/bin", r"a\b"] {
        let e = create_err(&mut js, json!({"name": name})).await?;
        check_eq!(e, "400 10128 Stream name can not contain path separators");
        ctx.observe(&format!("stream {name}"), &e);
    }
    // A name with a `.` as well has a create subject of more tokens than
    // the API's: nobody answers, and no stream is created.
    let name = r"Documents\readme.txt";
    let r = js
        .ask(
            &api("CREATE", name),
            &json!({"name": name}).to_string(),
            SILENCE,
        )
        .await?;
    ensure!(
        !matches!(r, Reply::Body(_)),
        "create {name} was answered: {r:?}"
    );
    check_eq!(names(&mut js, "").await?, Vec::<String>::new());
    create(&mut js, json!({"name": "T"})).await?;
    for durable in ["a/b", r"a\b"] {
        let r = js
            .req_json(
                &format!("$JS.API.CONSUMER.DURABLE.CREATE.T.{durable}"),
                &json!({"stream_name": "T", "config": {"durable_name": durable, "ack_policy": "explicit"}}),
            )
            .await?;
        let e = api_error(&r);
        check_eq!(e, "400 10127 Consumer name can not contain path separators");
        ctx.observe(&format!("durable {durable}"), &e);
    }
    Ok(())
}

/// TestJetStreamStreamSubjectsOverlap: a stream's own subjects may not
/// overlap each other, at create or update.
async fn stream_subjects_overlap(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    let e = create_err(
        &mut js,
        json!({"name": "TEST", "subjects": ["foo.*", "foo.A"]}),
    )
    .await?;
    check_eq!(e, "500 10052 subject \"foo.*\" overlaps with \"foo.A\"");
    ctx.observe("create", &e);
    create(&mut js, json!({"name": "TEST", "subjects": ["foo.*"]})).await?;
    let r = update(
        &mut js,
        json!({"name": "TEST", "subjects": ["foo.*", "foo.A"]}),
    )
    .await?;
    let e = api_error(&r);
    check_eq!(e, "500 10052 subject \"foo.*\" overlaps with \"foo.A\"");
    ctx.observe("update", &e);
    Ok(())
}

/// TestJetStreamStreamUpdateSubjectsOverlapOthers: an update may not take
/// subjects that overlap another stream's.
async fn update_overlap_others(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    create(&mut js, json!({"name": "TEST", "subjects": ["TEST"]})).await?;
    let r = update(
        &mut js,
        json!({"name": "TEST", "subjects": ["TEST", "foo.a"]}),
    )
    .await?;
    check_eq!(api_error(&r), "none");
    check_eq!(r["config"]["subjects"], json!(["TEST", "foo.a"]));
    create(&mut js, json!({"name": "TEST2", "subjects": ["TEST2"]})).await?;
    let r = update(
        &mut js,
        json!({"name": "TEST2", "subjects": ["TEST2", "foo.*"]}),
    )
    .await?;
    let e = api_error(&r);
    check_eq!(e, "400 10065 subjects overlap with an existing stream");
    ctx.observe("update TEST2", &e);
    Ok(())
}

/// TestJetStreamProperErrorDueToOverlapSubjects, its single server: the
/// create error is JSStreamSubjectOverlapErr.
async fn overlap_error_code(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    create(&mut js, json!({"name": "TEST", "subjects": ["foo.*"]})).await?;
    let text = js
        .raw(
            &api("CREATE", "TEST2"),
            &json!({"name": "TEST2", "subjects": ["foo.>"]}).to_string(),
        )
        .await?;
    let r: Value = serde_json::from_str(&text)?;
    check_eq!(
        api_error(&r),
        "400 10065 subjects overlap with an existing stream"
    );
    ctx.observe("create TEST2", &text);
    Ok(())
}

/// TestJetStreamMirrorUpdatePreventsSubjects: a mirror cannot be given
/// subjects by an update.
async fn mirror_update_subjects(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    create(&mut js, json!({"name": "ORIGINAL"})).await?;
    let r = create(
        &mut js,
        json!({"name": "MIRROR", "mirror": {"name": "ORIGINAL"}}),
    )
    .await?;
    check_eq!(r["config"].get("subjects"), None);
    let r = update(
        &mut js,
        json!({"name": "MIRROR", "mirror": {"name": "ORIGINAL"}, "subjects": ["x"]}),
    )
    .await?;
    let e = api_error(&r);
    check_eq!(e, "400 10034 stream mirrors can not contain subjects");
    ctx.observe("update", &e);
    Ok(())
}

// ---------------------------------------------------------------- update

/// TestJetStreamUpdateStream, for both storages: what an update may not
/// change, limits that take effect at once, subjects that move, and (file)
/// the updated config surviving a restart.
async fn update_stream(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    for storage in ["memory", "file"] {
        let mut js = Js::connect_no_responders(&ctx, &s).await?;
        let base = json!({"name": "foo", "retention": "limits", "max_age": 3_600_000_000_000u64, "storage": storage, "num_replicas": 1});
        create(&mut js, base.clone()).await?;
        let with = |k: &str, v: Value| {
            let mut c = base.clone();
            c[k] = v;
            c
        };
        // Through the API the name is the subject's: another name is a mismatch.
        let r = js
            .req_json(&api("UPDATE", "foo"), &with("name", json!("bar")))
            .await?;
        check_eq!(
            api_error(&r),
            "400 10056 stream name in subject does not match request"
        );
        let other = if storage == "file" { "memory" } else { "file" };
        for (k, v, want) in [
            (
                "max_consumers",
                json!(10),
                "500 10052 stream configuration update can not change MaxConsumers",
            ),
            (
                "storage",
                json!(other),
                "500 10052 stream configuration update can not change storage type",
            ),
            ("num_replicas", json!(10), "500 10052 maximum replicas is 5"),
            (
                "template_owner",
                json!("baz"),
                "500 10052 stream configuration update can not be owned by a template",
            ),
            (
                "retention",
                json!("workqueue"),
                "500 10052 stream configuration update can not change retention policy",
            ),
        ] {
            let r = update(&mut js, with(k, v)).await?;
            let e = api_error(&r);
            check_eq!(e, want);
            ctx.observe(&format!("{storage}: update {k}"), &e);
        }

        let pending = 100u64;
        let reqs: Vec<(String, String)> = (0..pending)
            .map(|_| ("foo".to_string(), "0123456789".to_string()))
            .collect();
        for r in js.many(&reqs).await? {
            ensure!(r.json()?.get("error").is_none(), "publish: {r:?}");
        }
        let (msgs, bytes) = msgs_bytes(&mut js, "foo").await?;
        check_eq!(msgs, pending);
        ctx.observe(&format!("{storage}: 100 messages"), bytes.to_string());

        let r = update(&mut js, with("max_msgs", json!(pending * 2))).await?;
        check_eq!(r["config"]["max_msgs"], json!(pending * 2));
        check_eq!(msgs_bytes(&mut js, "foo").await?, (pending, bytes));

        let r = update(&mut js, with("max_msgs", json!(pending / 2))).await?;
        check_eq!(r["config"]["max_msgs"], json!(pending / 2));
        check_eq!(msgs_bytes(&mut js, "foo").await?, (pending / 2, bytes / 2));

        let r = update(&mut js, with("max_bytes", json!(bytes / 4))).await?;
        check_eq!(r["config"]["max_bytes"], json!(bytes / 4));
        check_eq!(msgs_bytes(&mut js, "foo").await?, (pending / 4, bytes / 4));

        let r = update(&mut js, with("max_age", json!(100_000_000))).await?;
        check_eq!(r["config"]["max_age"], json!(100_000_000));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut left = msgs_bytes(&mut js, "foo").await?;
        for _ in 0..100 {
            if left == (0, 0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            left = msgs_bytes(&mut js, "foo").await?;
        }
        check_eq!(left, (0, 0));

        let r = update(&mut js, base.clone()).await?;
        check_eq!(api_error(&r), "none");
        for r in js.many(&reqs).await? {
            ensure!(r.json()?.get("error").is_none(), "publish: {r:?}");
        }

        let r = update(&mut js, with("subjects", json!(["foo", "bar"]))).await?;
        check_eq!(r["config"]["subjects"], json!(["foo", "bar"]));
        js.pub_ack("foo", "0123456789").await?;
        js.pub_ack("bar", "0123456789").await?;
        let r = update(&mut js, with("subjects", json!(["baz"]))).await?;
        check_eq!(r["config"]["subjects"], json!(["baz"]));
        for subject in ["foo", "bar"] {
            let r = js.ask(subject, "", WAIT).await?;
            check_eq!(r, Reply::Status("NATS/1.0 503".to_string()));
        }
        js.pub_ack("baz", "0123456789").await?;
        check_eq!(msgs_bytes(&mut js, "foo").await?.0, pending + 3);

        if storage == "file" {
            let text = js
                .raw(
                    &api("UPDATE", "foo"),
                    &json!({"name": "foo", "retention": "limits", "storage": "file", "num_replicas": 1,
                        "subjects": ["foo", "bar"], "max_msgs": 2222, "max_bytes": 3333333,
                        "max_age": 79_200_000_000_000u64})
                    .to_string(),
                )
                .await?;
            let r: Value = serde_json::from_str(&text)?;
            check_eq!(api_error(&r), "none");
            let cfg = r["config"].clone();
            drop(js);
            s.restart().await?;
            let mut js = Js::connect_no_responders(&ctx, &s).await?;
            let after = info(&mut js, "foo", "").await?;
            check_eq!(after["config"], cfg);
            observe_raw(
                &ctx,
                &s,
                "file: config after restart",
                &after["config"].to_string(),
            );
        } else {
            delete(&mut js, "foo").await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- templates

/// TestJetStreamTemplateBasics: a template is listed, deleted, added back;
/// a message on its subjects creates a stream, up to max_streams; deleting
/// the template deletes its streams.
async fn template_basics(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    let tmpl = json!({"name": "kv", "config": {"subjects": ["kv.*"], "retention": "limits",
        "max_age": 3_600_000_000_000u64, "max_msgs": 4, "storage": "memory", "num_replicas": 1},
        "max_streams": 4});
    let r = js
        .req_json("$JS.API.STREAM.TEMPLATE.CREATE.kv", &tmpl)
        .await?;
    check_eq!(api_error(&r), "none");
    let r = js.req("$JS.API.STREAM.TEMPLATE.NAMES", "").await?;
    check_eq!(r["streams"], json!(["kv"]));
    let r = js.req("$JS.API.STREAM.TEMPLATE.DELETE.foo", "").await?;
    check_eq!(api_error(&r), "404 10068 template not found");
    let r = js.req("$JS.API.STREAM.TEMPLATE.DELETE.kv", "").await?;
    check_eq!(r["success"], json!(true));
    let text = js.raw("$JS.API.STREAM.TEMPLATE.NAMES", "").await?;
    let r: Value = serde_json::from_str(&text)?;
    check_eq!(r["streams"], json!([]));
    ctx.observe("no templates", &text);
    let r = js
        .req_json("$JS.API.STREAM.TEMPLATE.CREATE.kv", &tmpl)
        .await?;
    check_eq!(api_error(&r), "none");

    for (subject, payload) in [
        ("kv.22", "derek"),
        ("kv.33", "cat"),
        ("kv.44", "sam"),
        ("kv.55", "meg"),
    ] {
        let ack = js.pub_ack(subject, payload).await?;
        check_eq!(ack, json!({"stream": subject.replace('.', "_"), "seq": 1}));
    }
    check_eq!(
        names(&mut js, "").await?,
        vec!["kv_22", "kv_33", "kv_44", "kv_55"]
    );
    let text = js.raw(&api("INFO", "kv_22"), "").await?;
    observe_raw(&ctx, &s, "stream of the template", &text);

    // Over max_streams: no stream, and no answer.
    let r = js.ask("kv.99", "", SILENCE).await?;
    check_eq!(r, Reply::Nothing);
    check_eq!(names(&mut js, "").await?.len(), 4);

    let r = js.req("$JS.API.STREAM.TEMPLATE.DELETE.kv", "").await?;
    check_eq!(r["success"], json!(true));
    let r = js.req("$JS.API.STREAM.NAMES", "").await?;
    check_eq!(r["total"], json!(0));
    ctx.observe("names after delete", r.to_string());
    Ok(())
}

/// TestJetStreamTemplateFileStoreRecovery: a stream may not name a template
/// owner itself; a file template's 100 streams survive a restart, and the
/// template's deletion does too.
async fn template_file_recovery(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    let cfg = json!({"subjects": ["kv.*"], "retention": "limits", "max_age": 3_600_000_000_000u64,
        "max_msgs": 50, "storage": "file", "num_replicas": 1});
    let r = js
        .req_json(
            "$JS.API.STREAM.TEMPLATE.CREATE.kv",
            &json!({"name": "kv", "config": cfg, "max_streams": 100}),
        )
        .await?;
    check_eq!(api_error(&r), "none");
    let mut bad = cfg.clone();
    bad["name"] = json!("bad");
    bad["template_owner"] = json!("kv");
    let e = create_err(&mut js, bad).await?;
    check_eq!(e, "500 10049 stream not owned by template");

    // The first message of each subject creates its stream; the rest go
    // in one batch.
    for i in 1..=100 {
        js.pub_ack(&format!("kv.{i}"), "Hello").await?;
    }
    let rest: Vec<(String, String)> = (1..=100)
        .flat_map(|i| (1..50).map(move |_| (format!("kv.{i}"), "Hello".to_string())))
        .collect();
    for r in js.many(&rest).await? {
        ensure!(r.json()?.get("error").is_none(), "publish: {r:?}");
    }
    let r = js.req("$JS.API.STREAM.NAMES", "").await?;
    check_eq!(r["total"], json!(100));
    check_eq!(msgs_bytes(&mut js, "kv_7").await?.0, 50);

    drop(js);
    s.restart().await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    let r = js.req("$JS.API.STREAM.NAMES", "").await?;
    check_eq!(r["total"], json!(100));
    let t = js.req("$JS.API.STREAM.TEMPLATE.INFO.kv", "").await?;
    check_eq!(api_error(&t), "none");
    check_eq!(t["streams"].as_array().map(Vec::len), Some(100));
    check_eq!(msgs_bytes(&mut js, "kv_7").await?.0, 50);
    let r = js.req("$JS.API.STREAM.TEMPLATE.DELETE.kv", "").await?;
    check_eq!(r["success"], json!(true));

    drop(js);
    s.restart().await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    let r = js.req("$JS.API.STREAM.NAMES", "").await?;
    check_eq!(r["total"], json!(0));
    let t = js.req("$JS.API.STREAM.TEMPLATE.INFO.kv", "").await?;
    let e = api_error(&t);
    check_eq!(e, "404 10068 template not found");
    ctx.observe("template after restart", &e);
    Ok(())
}

// ---------------------------------------------------------------- subjects details

/// The `state.subjects` map and `num_subjects` of a stream's info with a
/// subjects filter.
async fn subjects_of(js: &mut Js, name: &str, filter: &str) -> Result<(Value, Value)> {
    let i = info(js, name, &json!({"subjects_filter": filter}).to_string()).await?;
    ensure!(i.get("error").is_none(), "info of {name}: {i}");
    Ok((
        i["state"].get("subjects").cloned().unwrap_or(Value::Null),
        i["state"]["num_subjects"].clone(),
    ))
}

/// TestJetStreamStreamInfoSubjectsDetails: per-subject counts in the stream
/// info, all or filtered, for both storages.
async fn subjects_details(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    for storage in ["memory", "file"] {
        create(
            &mut js,
            json!({"name": "TEST", "subjects": ["*"], "storage": storage}),
        )
        .await?;
        let mut reqs = Vec::new();
        for (subject, n) in [("foo", 22), ("bar", 33), ("baz", 44)] {
            reqs.extend((0..n).map(|_| (subject.to_string(), "ok".to_string())));
        }
        for r in js.many(&reqs).await? {
            ensure!(r.json()?.get("error").is_none(), "publish: {r:?}");
        }
        let all = json!({"foo": 22, "bar": 33, "baz": 44});
        for (filter, want) in [
            (">", all.clone()),
            ("*", all.clone()),
            ("foo", json!({"foo": 22})),
        ] {
            let (subjects, n) = subjects_of(&mut js, "TEST", filter).await?;
            check_eq!(subjects, want);
            check_eq!(n, json!(3));
        }
        let text = js
            .raw(
                &api("INFO", "TEST"),
                &json!({"subjects_filter": "foo"}).to_string(),
            )
            .await?;
        observe_raw(&ctx, &s, &format!("{storage}: filtered info"), &text);
        delete(&mut js, "TEST").await?;
    }
    Ok(())
}

/// TestJetStreamStreamInfoSubjectsDetailsWithDeleteAndPurge: the counts
/// follow message deletes and purges, by subject and whole.
async fn subjects_details_delete_purge(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    for storage in ["memory", "file"] {
        create(
            &mut js,
            json!({"name": "TEST", "subjects": ["*"], "storage": storage}),
        )
        .await?;
        for subject in ["foo", "foo", "bar", "baz", "baz", "bar", "bar"] {
            js.pub_ack(subject, "ok").await?;
        }
        let check = |want: Value| {
            let n = want.as_object().map(|o| o.len()).unwrap_or(0);
            (want, json!(n))
        };
        check_eq!(
            subjects_of(&mut js, "TEST", ">").await?,
            check(json!({"foo": 2, "bar": 3, "baz": 2}))
        );
        let r = js
            .req(&api("MSG.DELETE", "TEST"), &json!({"seq": 6}).to_string())
            .await?;
        check_eq!(r["success"], json!(true));
        check_eq!(
            subjects_of(&mut js, "TEST", ">").await?,
            check(json!({"foo": 2, "bar": 2, "baz": 2}))
        );
        let r = js
            .req(&api("MSG.DELETE", "TEST"), &json!({"seq": 5}).to_string())
            .await?;
        check_eq!(r["success"], json!(true));
        js.pub_ack("baz", "ok").await?;
        check_eq!(
            subjects_of(&mut js, "TEST", ">").await?,
            check(json!({"foo": 2, "bar": 2, "baz": 2}))
        );
        let r = js
            .req(&api("PURGE", "TEST"), &json!({"filter": "bar"}).to_string())
            .await?;
        check_eq!(r["success"], json!(true));
        check_eq!(
            subjects_of(&mut js, "TEST", ">").await?,
            check(json!({"foo": 2, "baz": 2}))
        );
        let r = js.req(&api("PURGE", "TEST"), "").await?;
        check_eq!(r["success"], json!(true));
        let (subjects, n) = subjects_of(&mut js, "TEST", ">").await?;
        // Both are left out when empty (omitempty).
        check_eq!((subjects, n), (Value::Null, Value::Null));
        let text = js
            .raw(
                &api("INFO", "TEST"),
                &json!({"subjects_filter": ">"}).to_string(),
            )
            .await?;
        observe_raw(&ctx, &s, &format!("{storage}: info after purge"), &text);
        delete(&mut js, "TEST").await?;
    }
    Ok(())
}

/// TestJetStreamStreamInfoSubjectsDetailsAfterRestart: the subject count of
/// a file stream survives a restart.
async fn subjects_details_restart(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    create(&mut js, json!({"name": "TEST", "subjects": ["*"]})).await?;
    for subject in ["foo", "foo", "bar", "baz", "baz"] {
        js.pub_ack(subject, "ok").await?;
    }
    check_eq!(subjects_of(&mut js, "TEST", ">").await?.1, json!(3));
    drop(js);
    s.restart().await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    let (subjects, n) = subjects_of(&mut js, "TEST", ">").await?;
    check_eq!(n, json!(3));
    check_eq!(subjects, json!({"foo": 2, "bar": 1, "baz": 2}));
    let text = js
        .raw(
            &api("INFO", "TEST"),
            &json!({"subjects_filter": ">"}).to_string(),
        )
        .await?;
    observe_raw(&ctx, &s, "info after restart", &text);
    Ok(())
}

// ---------------------------------------------------------------- accounts and limits

/// The account info of `$JS.API.INFO` for a connection.
async fn account_info(js: &mut Js) -> Result<Value> {
    js.req("$JS.API.INFO", "").await
}

/// `limits` of an account info as `mem store streams consumers`.
fn limits(v: &Value) -> String {
    let l = &v["limits"];
    format!(
        "{} {} {} {}",
        l["max_memory"], l["max_storage"], l["max_streams"], l["max_consumers"]
    )
}

const GB: u64 = 1024 * 1024 * 1024;

/// TestJetStreamMultipleAccountsBasics: account limits from the config, an
/// account without JetStream answered with an error (not a timeout), and a
/// reload that disables one account, enables another and changes limits.
async fn multiple_accounts(ctx: Ctx) -> Result<()> {
    let conf = |a: &str, b: &str, c: &str| {
        format!(
            "jetstream: {{max_mem_store: 64GB, max_file_store: 10TB, store_dir: \"{{{{dir}}}}/js\"}}\naccounts: {{\n  A: {{\n    {a}\n    users: [ {{user: ua, password: pwd}} ]\n  }},\n  B: {{\n    {b}\n    users: [ {{user: ub, password: pwd}} ]\n  }},\n  C: {{\n    {c}\n    users: [ {{user: uc, password: pwd}} ]\n  }},\n}}\n"
        )
    };
    let first = conf(
        "jetstream: enabled",
        "jetstream: {max_mem: 1GB, max_store: 1TB, max_streams: 10, max_consumers: 1k}",
        "",
    );
    let s = ctx.server(ServerSpec::new().conf(&first)).await?;
    let mut a = Js::user(&ctx, &s, "ua", "pwd").await?;
    let mut b = Js::user(&ctx, &s, "ub", "pwd").await?;
    let mut c = Js::user(&ctx, &s, "uc", "pwd").await?;
    let text = b.raw("$JS.API.INFO", "").await?;
    let info: Value = serde_json::from_str(&text)?;
    check_eq!(limits(&info), format!("{} {} 10 1000", GB, 1024 * GB));
    ctx.observe("B info", &text);
    let text = c.raw("$JS.API.INFO", "").await?;
    let info: Value = serde_json::from_str(&text)?;
    check_eq!(
        api_error(&info),
        "503 10039 JetStream not enabled for account"
    );
    ctx.observe("C info", &text);

    reload(
        &s,
        &conf(
            "jetstream: disabled",
            "jetstream: {max_mem: 32GB, max_store: 512GB, max_streams: 100, max_consumers: 4k}",
            "jetstream: {max_mem: 1GB, max_store: 1TB, max_streams: 10, max_consumers: 1k}",
        ),
    )
    .await?;
    let info = account_info(&mut a).await?;
    check_eq!(
        api_error(&info),
        "503 10039 JetStream not enabled for account"
    );
    let info = account_info(&mut b).await?;
    check_eq!(api_error(&info), "none");
    check_eq!(limits(&info), format!("{} {} 100 4000", 32 * GB, 512 * GB));
    let text = c.raw("$JS.API.INFO", "").await?;
    let info: Value = serde_json::from_str(&text)?;
    check_eq!(api_error(&info), "none");
    check_eq!(limits(&info), format!("{} {} 10 1000", GB, 1024 * GB));
    ctx.observe("C info after reload", &text);
    Ok(())
}

/// TestJetStreamServerResourcesConfig: max_mem_store and max_file_store as
/// the server's JetStream limits (in /varz and /jsz).
async fn server_resources(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(
            "http: 127.0.0.1:{{http_port}}\njetstream: {max_mem_store: 2GB, max_file_store: 1TB, store_dir: \"{{dir}}/js\"}\n",
        ))
        .await?;
    let varz = ctx.http_json(&s, "/varz").await?;
    let cfg = &varz["jetstream"]["config"];
    check_eq!(
        (cfg["max_memory"].clone(), cfg["max_storage"].clone()),
        (json!(2 * GB), json!(1024 * GB))
    );
    let jsz = ctx.http_json(&s, "/jsz").await?;
    check_eq!(jsz["config"], *cfg);
    observe_raw(&ctx, &s, "varz jetstream", &varz["jetstream"].to_string());
    Ok(())
}

/// TestJetStreamServerReload: a reload of the same config keeps the
/// account's JetStream and its stream.
async fn server_reload(ctx: Ctx) -> Result<()> {
    let conf = "jetstream: {max_mem_store: 64GB, max_file_store: 10TB, store_dir: \"{{dir}}/js\"}\naccounts: {\n  A: { users: [ {user: ua, password: pwd} ] },\n  B: {\n    jetstream: {max_mem: 1GB, max_store: 1TB, max_streams: 10, max_consumers: 1k}\n    users: [ {user: ub, password: pwd} ]\n  },\n  SYS: { users: [ {user: uc, password: pwd} ] },\n}\nno_auth_user: ub\nsystem_account: SYS\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    let info = account_info(&mut js).await?;
    check_eq!(api_error(&info), "none");
    create(&mut js, json!({"name": "22"})).await?;
    for i in 1..=10 {
        js.pub_ack("22", &format!("MSG: {i}")).await?;
    }
    check_eq!(msgs_bytes(&mut js, "22").await?.0, 10);
    reload(&s, conf).await?;
    let info = account_info(&mut js).await?;
    check_eq!(api_error(&info), "none");
    check_eq!(info["streams"], json!(1));
    let ack = js.pub_ack("22", "MSG: 22").await?;
    check_eq!(ack, json!({"stream": "22", "seq": 11}));
    ctx.observe("ack after reload", ack.to_string());
    Ok(())
}

/// TestJetStreamConfigReloadWithGlobalAccount: with users in the global
/// account and `jetstream: enabled`, a reload that changes a password keeps
/// JetStream working for the global account (through async-nats).
async fn reload_global_account(ctx: Ctx) -> Result<()> {
    use async_nats::jetstream::stream::Config;
    let conf = |pwd: &str| {
        format!(
            "authorization {{\n  users [\n    {{user: anonymous}}\n    {{user: user1, password: {pwd}}}\n  ]\n}}\nno_auth_user: anonymous\njetstream: {{store_dir: \"{{{{dir}}}}/js\"}}\n"
        )
    };
    let s = ctx.server(ServerSpec::new().conf(&conf("pwd"))).await?;
    // async-nats' account info needs fields 2.9.10 does not send
    // (reserved_memory): the account info is asked for by hand.
    let mut raw = Js::connect_no_responders(&ctx, &s).await?;
    let info = account_info(&mut raw).await?;
    check_eq!(
        (api_error(&info), info["streams"].clone()),
        ("none".to_string(), json!(0))
    );
    let jsc = async_nats::jetstream::new(ctx.client(&s).await?);
    let mut stream = jsc
        .create_stream(Config {
            name: "foo".into(),
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow!("create foo: {e}"))?;
    for i in 1..=10 {
        jsc.publish("foo", format!("MSG: {i}").into())
            .await?
            .await
            .map_err(|e| anyhow!("publish: {e}"))?;
    }
    check_eq!(stream.info().await?.state.messages, 10);
    reload(&s, &conf("pwd2")).await?;
    let jsc = async_nats::jetstream::new(ctx.client(&s).await?);
    let bar = jsc
        .create_stream(Config {
            name: "bar".into(),
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow!("create bar: {e}"))?;
    check_eq!(bar.cached_info().config.subjects, vec!["bar".to_string()]);
    let mut raw = Js::connect_no_responders(&ctx, &s).await?;
    let text = raw.raw("$JS.API.INFO", "").await?;
    let info: Value = serde_json::from_str(&text)?;
    check_eq!(
        (api_error(&info), info["streams"].clone()),
        ("none".to_string(), json!(2))
    );
    ctx.observe("account info after reload", &text);
    Ok(())
}

/// TestJetStreamServerDomainBadConfig: a domain that would not make a
/// valid `$JS.<domain>.API.>` subject stops the server at start-up.
async fn domain_bad_config(ctx: Ctx) -> Result<()> {
    for (i, domain) in [
        "HU..B",
        "HU B",
        " ",
        "\\t",
        "CORE.",
        ".CORE",
        "C.*.O. RE",
        "C.ORE",
    ]
    .iter()
    .enumerate()
    {
        let (code, out) = refused(
            &ctx,
            &format!("d{i}"),
            &format!("jetstream: {{domain: \"{domain}\", store_dir: \"{{{{dir}}}}/js\"}}\n"),
        )
        .await?;
        ensure!(code != Some(0), "domain {domain:?}: exit {code:?}");
        let line = out.lines().last().unwrap_or_default().to_string();
        ensure!(
            line.contains("invalid domain name"),
            "domain {domain:?}: {out}"
        );
        ctx.observe(
            &format!("domain {domain:?}"),
            format!("exit {code:?}: {line}"),
        );
    }
    Ok(())
}

/// TestJetStreamServerDomainConfig: the configured domain is the server's
/// (in /varz and in the account info).
async fn domain_config(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(
            "http: 127.0.0.1:{{http_port}}\njetstream: {domain: \"HUB\", store_dir: \"{{dir}}/js\"}\n",
        ))
        .await?;
    let varz = ctx.http_json(&s, "/varz").await?;
    check_eq!(st(&varz["jetstream"]["config"]["domain"]), "HUB");
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    let text = js.raw("$JS.API.INFO", "").await?;
    let info: Value = serde_json::from_str(&text)?;
    check_eq!(st(&info["domain"]), "HUB");
    ctx.observe("account info", &text);
    Ok(())
}

/// TestJetStreamServerDomainConfigButDisabled: `enabled: false` with a
/// domain leaves JetStream off (no /varz section, no API).
async fn domain_config_disabled(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(
            ServerSpec::new().conf(
                "http: 127.0.0.1:{{http_port}}\njetstream: {domain: \"HUB\", enabled: false}\n",
            ),
        )
        .await?;
    let varz = ctx.http_json(&s, "/varz").await?;
    check_eq!(varz["jetstream"], json!({}));
    let jsz = ctx.http_json(&s, "/jsz").await?;
    check_eq!(jsz["disabled"], json!(true));
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    let r = js.ask("$JS.API.INFO", "", WAIT).await?;
    check_eq!(r, Reply::Status("NATS/1.0 503".to_string()));
    ctx.observe("info", format!("{r:?}"));
    Ok(())
}

/// TestJetStreamDisabledLimitsEnforcement: an account whose disk limit is 0
/// cannot create a file stream.
async fn disabled_limits_enforcement(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(
            "jetstream: {max_mem_store: 256MB, max_file_store: 2GB, store_dir: \"{{dir}}/js\"}\naccounts {\n  one {\n    jetstream: {\n      mem: 1024\n      disk: 0\n      streams: 1\n      consumers: 2\n    }\n    users [{user: one, password: password}]\n  }\n}\nno_auth_user: one\n",
        ))
        .await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    let info = js.raw("$JS.API.INFO", "").await?;
    ctx.observe("account info", &info);
    let e = create_err(
        &mut js,
        json!({"name": "disk", "storage": "file", "subjects": ["disk"]}),
    )
    .await?;
    check_eq!(e, "500 10047 insufficient storage resources available");
    ctx.observe("file stream", &e);
    Ok(())
}

/// Creates a durable consumer (explicit acks) on a stream: the error.
async fn durable(js: &mut Js, stream: &str, name: &str) -> Result<String> {
    let r = js
        .req_json(
            &format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{name}"),
            &json!({"stream_name": stream, "config": {"durable_name": name, "ack_policy": "explicit"}}),
        )
        .await?;
    Ok(api_error(&r))
}

/// TestJetStreamSystemLimits: accounts whose limits exceed the server's
/// stop it at start-up; max_streams and max_consumers of the account (and
/// of the stream) are enforced; a stream's max_bytes over the account limit
/// and replicas are refused; a reload adjusts the limits; nothing stays
/// reserved on the server (/jsz).
async fn system_limits(ctx: Ctx) -> Result<()> {
    let server =
        "jetstream: {max_mem_store: 1024, max_file_store: 8192, store_dir: \"{{dir}}/js\"}\n";
    let two = "  FOO { jetstream: {max_mem: 24, max_store: 192} }\n  BAR { jetstream: {max_mem: 1000, max_store: 0} }\n";
    for (label, third, want) in [
        ("memory", "  BAZ { jetstream: {max_mem: 1000, max_store: 0} }\n", "Can't start JetStream: Error enabling jetstream on configured accounts: insufficient memory resources available (10028)"),
        ("disk", "  BAZ { jetstream: {max_mem: 0, max_store: 10000} }\n", "Can't start JetStream: Error enabling jetstream on configured accounts: insufficient storage resources available (10047)"),
    ] {
        let (code, out) = refused(&ctx, label, &format!("{server}accounts {{\n{two}{third}}}\n")).await?;
        check_eq!(fatal(&out), want);
        check_eq!(code, Some(1));
        ctx.observe(&format!("{label} exhausted"), fatal(&out));
    }
    let s = ctx
        .server(ServerSpec::new().conf(&format!(
            "http: 127.0.0.1:{{{{http_port}}}}\n{server}accounts {{\n{two}}}\n"
        )))
        .await?;
    let jsz = ctx.http_json(&s, "/jsz").await?;
    check_eq!(
        (
            jsz["reserved_memory"].clone(),
            jsz["reserved_storage"].clone()
        ),
        (json!(0), json!(0))
    );
    check_eq!(jsz["accounts"], json!(2));
    drop(s);

    let f2 = |consumers: u32| {
        format!("http: 127.0.0.1:{{{{http_port}}}}\n{server}accounts {{\n  FOO {{ jetstream: {{max_mem: 1024, max_store: 8192, max_streams: 10, max_consumers: {consumers}}}, users: [{{user: foo, password: p}}] }}\n}}\n")
    };
    let s = ctx.server(ServerSpec::new().conf(&f2(10))).await?;
    let mut js = Js::user(&ctx, &s, "foo", "p").await?;
    for i in 0..10 {
        create(
            &mut js,
            json!({"name": i.to_string(), "storage": "memory", "subjects": [format!("foo.{i}")]}),
        )
        .await?;
    }
    let e = create_err(
        &mut js,
        json!({"name": "10", "storage": "memory", "subjects": ["foo.10"]}),
    )
    .await?;
    check_eq!(e, "400 10027 maximum number of streams reached");
    ctx.observe("11th stream", &e);
    for i in 0..10 {
        delete(&mut js, &i.to_string()).await?;
    }
    let e = create_err(
        &mut js,
        json!({"name": "22", "storage": "memory", "max_bytes": 16384}),
    )
    .await?;
    check_eq!(e, "500 10028 insufficient memory resources available");
    ctx.observe("max_bytes over the limit", &e);
    let e = create_err(
        &mut js,
        json!({"name": "22", "storage": "memory", "num_replicas": 10}),
    )
    .await?;
    check_eq!(e, "500 10052 maximum replicas is 5");

    // Consumers: the account's limit, then the stream's, then an account
    // limit lowered below the stream's by a reload.
    let over = "400 10026 maximum consumers limit reached";
    for (stream_max, reload_to, allowed) in
        [(None, None, 10), (Some(5), None, 5), (Some(10), Some(5), 5)]
    {
        let mut cfg = json!({"name": "22", "storage": "memory", "subjects": ["foo.22"]});
        if let Some(m) = stream_max {
            cfg["max_consumers"] = json!(m);
        }
        create(&mut js, cfg).await?;
        if let Some(n) = reload_to {
            reload(&s, &f2(n)).await?;
        }
        for i in 0..allowed {
            check_eq!(durable(&mut js, "22", &format!("O{i}")).await?, "none");
        }
        let e = durable(&mut js, "22", "O22").await?;
        check_eq!(e, over);
        ctx.observe(
            &format!("consumer {} over {stream_max:?}/{reload_to:?}", allowed + 1),
            &e,
        );
        delete(&mut js, "22").await?;
    }
    let jsz = ctx.http_json(&s, "/jsz").await?;
    check_eq!(
        (
            jsz["reserved_memory"].clone(),
            jsz["reserved_storage"].clone()
        ),
        (json!(0), json!(0))
    );
    Ok(())
}

/// TestJetStreamStreamLimitUpdate: in an account of 128 bytes and one
/// stream, a 32-byte stream is created, updated down to 16 and deleted,
/// for both storages.
async fn stream_limit_update(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(
            "jetstream: {store_dir: \"{{dir}}/js\"}\naccounts { A { jetstream: {max_mem: 128, max_store: 128, max_streams: 1}, users: [{user: a, password: p}] } }\nno_auth_user: a\n",
        ))
        .await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    for storage in ["memory", "file"] {
        create(
            &mut js,
            json!({"name": "TEST", "subjects": ["foo"], "storage": storage, "max_bytes": 32}),
        )
        .await?;
        let text = js
            .raw(
                &api("UPDATE", "TEST"),
                &json!({"name": "TEST", "subjects": ["foo"], "storage": storage, "max_bytes": 16})
                    .to_string(),
            )
            .await?;
        let r: Value = serde_json::from_str(&text)?;
        check_eq!(api_error(&r), "none");
        check_eq!(st(&r["type"]), STREAM_UPDATE);
        check_eq!(r["config"]["max_bytes"], json!(16));
        observe_raw(&ctx, &s, &format!("{storage}: update"), &text);
        delete(&mut js, "TEST").await?;
    }
    Ok(())
}

/// TestJetStreamStreamStorageTrackingAndLimits and its file twin, without
/// the consumer that drains the work queue: the account's usage is the sum
/// of its streams' bytes, a deleted stream's bytes leave it, and past the
/// account's limit a publish is refused and usage stays under it.
async fn tracking_limits(ctx: Ctx, storage: &str) -> Result<()> {
    let (mem, store, used) = match storage {
        "memory" => ("8192", "-1", "memory"),
        _ => ("8192", "9600", "storage"),
    };
    let s = ctx
        .server(ServerSpec::new().conf(&format!(
            "jetstream: {{store_dir: \"{{{{dir}}}}/js\"}}\naccounts {{ A {{ jetstream: {{max_mem: {mem}, max_store: {store}, max_streams: -1, max_consumers: -1}}, users: [{{user: a, password: p}}] }} }}\nno_auth_user: a\n"
        )))
        .await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    let hello = |name: &str| -> Vec<(String, String)> {
        (0..100)
            .map(|_| (name.to_string(), "Hello World!".to_string()))
            .collect()
    };
    create(
        &mut js,
        json!({"name": "LIMITS", "storage": storage, "retention": "workqueue"}),
    )
    .await?;
    for r in js.many(&hello("LIMITS")).await? {
        ensure!(r.json()?.get("error").is_none(), "publish: {r:?}");
    }
    let (_, b1) = msgs_bytes(&mut js, "LIMITS").await?;
    let usage = account_info(&mut js).await?;
    check_eq!(usage[used], json!(b1));
    check_eq!(usage["streams"], json!(1));

    create(
        &mut js,
        json!({"name": "NUM22", "storage": storage, "retention": "workqueue"}),
    )
    .await?;
    for r in js.many(&hello("NUM22")).await? {
        ensure!(r.json()?.get("error").is_none(), "publish: {r:?}");
    }
    let (_, b2) = msgs_bytes(&mut js, "NUM22").await?;
    check_eq!(account_info(&mut js).await?[used], json!(b1 + b2));
    delete(&mut js, "NUM22").await?;
    check_eq!(account_info(&mut js).await?[used], json!(b1));
    ctx.observe("bytes of 100 messages", b1.to_string());

    let mut refused = None;
    for i in 0..200 {
        let r = js
            .ask("LIMITS", "The quick brown fox jumped over the...", WAIT)
            .await?
            .json()?;
        if r.get("error").is_some() {
            refused = Some((i, r));
            break;
        }
    }
    let (i, r) = refused.context("no publish was refused past the account's limit")?;
    check_eq!(
        r,
        json!({"error": {"code": 400, "err_code": 10002, "description": "resource limits exceeded for account"}, "stream": "LIMITS", "seq": 0})
    );
    ctx.observe("refused", format!("after {i}: {r}"));
    let usage = account_info(&mut js).await?;
    let limit: u64 = if storage == "memory" { 8192 } else { 9600 };
    ensure!(
        num(&usage[used], used)? <= limit,
        "usage over the limit: {usage}"
    );
    ctx.observe("usage", usage[used].to_string());
    Ok(())
}

async fn storage_tracking(ctx: Ctx) -> Result<()> {
    tracking_limits(ctx, "memory").await
}

async fn file_tracking(ctx: Ctx) -> Result<()> {
    tracking_limits(ctx, "file").await
}

/// TestJetStreamCanNotEnableOnSystemAccount: JetStream on the system account
/// stops the server at start-up.
async fn system_account_refused(ctx: Ctx) -> Result<()> {
    let (code, out) = refused(
        &ctx,
        "sys",
        "system_account: SYS\njetstream { store_dir: \"{{dir}}/js\" }\naccounts { SYS { jetstream: enabled, users: [{user: s, password: p}] } }\n",
    )
    .await?;
    check_eq!(
        fatal(&out),
        "Not allowed to enable JetStream on the system account"
    );
    check_eq!(code, Some(1));
    ctx.observe("start", format!("exit {code:?}: {}", fatal(&out)));
    Ok(())
}

/// TestJetStreamBasicNilConfig: `jetstream: enabled` alone: the store under
/// the temporary folder (`$TMPDIR/nats/jetstream`, created), 75% of the
/// machine's memory, and a system account made up.
async fn nil_config(ctx: Ctx) -> Result<()> {
    let tmp = ctx.new_dir("tmp")?;
    ctx.set_env("TMPDIR", &tmp.to_string_lossy());
    let s = ctx
        .server(ServerSpec::new().conf("http: 127.0.0.1:{{http_port}}\njetstream: enabled\n"))
        .await?;
    let varz = ctx.http_json(&s, "/varz").await?;
    let cfg = &varz["jetstream"]["config"];
    let store = tmp.join("nats").join("jetstream");
    check_eq!(st(&cfg["store_dir"]), store.to_string_lossy());
    ensure!(store.is_dir(), "{} was not created", store.display());
    let meminfo = std::fs::read_to_string("/proc/meminfo")?;
    let kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no MemTotal in /proc/meminfo")?;
    check_eq!(cfg["max_memory"], json!(kb * 1024 / 4 * 3));
    check_eq!(st(&varz["system_account"]), "$SYS");
    ctx.observe(
        "store_dir",
        st(&cfg["store_dir"]).replace(&*tmp.to_string_lossy(), "$TMPDIR"),
    );
    ctx.observe("max_memory is 3/4 of MemTotal", "yes");
    Ok(())
}

/// TestJetStreamConsumerStreamUpdate, its single server: a stream updated
/// with no change and with a description; a durable updated likewise.
async fn consumer_stream_update(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(
            "jetstream: {max_mem_store: 2MB, max_file_store: 8MB, store_dir: \"{{dir}}/js\"}\n",
        ))
        .await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    let cfg = json!({"name": "foo", "duplicate_window": 60_000_000_000u64, "num_replicas": 1});
    create(&mut js, cfg.clone()).await?;
    let r = update(&mut js, cfg.clone()).await?;
    check_eq!(api_error(&r), "none");
    let mut described = cfg.clone();
    described["description"] = json!("stream");
    let text = js
        .raw(&api("UPDATE", "foo"), &described.to_string())
        .await?;
    let r: Value = serde_json::from_str(&text)?;
    check_eq!(api_error(&r), "none");
    check_eq!(st(&r["config"]["description"]), "stream");
    observe_raw(&ctx, &s, "update with a description", &text);
    let consumer = |desc: Option<&str>| {
        let mut c = json!({"durable_name": "dur1", "ack_policy": "explicit"});
        if let Some(d) = desc {
            c["description"] = json!(d);
        }
        json!({"stream_name": "foo", "config": c})
    };
    for desc in [None, None, Some("consumer")] {
        let r = js
            .req_json("$JS.API.CONSUMER.DURABLE.CREATE.foo.dur1", &consumer(desc))
            .await?;
        check_eq!(api_error(&r), "none");
        check_eq!(r["config"].get("description").map(st), desc);
    }
    Ok(())
}

/// TestJetStreamImportReload: a stream of account B stores what account A
/// publishes through B's stream import; once a reload removes the import,
/// nothing more arrives.
async fn import_reload(ctx: Ctx) -> Result<()> {
    let conf = |with_imports: bool| {
        let (exports, imports) = if with_imports {
            (
                "    exports: [{stream: news.>}]\n",
                "    imports: [{stream: {subject: news.>, account: account_a}}]\n",
            )
        } else {
            ("", "")
        };
        format!(
            "jetstream: {{max_mem_store: 2MB, max_file_store: 8MB, store_dir: \"{{{{dir}}}}/js\"}}\naccounts: {{\n  account_a: {{\n    users: [{{user: user_a, password: pwd}}]\n{exports}  }}\n  account_b: {{\n    users: [{{user: user_b, password: pwd}}]\n    jetstream: enabled\n{imports}  }}\n}}\n"
        )
    };
    let s = ctx.server(ServerSpec::new().conf(&conf(true))).await?;
    let mut a = Js::user(&ctx, &s, "user_a", "pwd").await?;
    let mut b = Js::user(&ctx, &s, "user_b", "pwd").await?;
    create(&mut b, json!({"name": "news", "subjects": ["news.>"]})).await?;
    a.conn().send("PUB news.article 0\r\n\r\n").await?;
    a.conn().flush().await?;
    // The stream stores what it gets in its own time: poll for it.
    let mut stored = msgs_bytes(&mut b, "news").await?.0;
    for _ in 0..100 {
        if stored == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        stored = msgs_bytes(&mut b, "news").await?.0;
    }
    check_eq!(stored, 1);
    reload(&s, &conf(false)).await?;
    a.conn().send("PUB news.article 0\r\n\r\n").await?;
    a.conn().flush().await?;
    // Nothing arrives: give it the time the first message took, and more.
    tokio::time::sleep(Duration::from_millis(200)).await;
    check_eq!(msgs_bytes(&mut b, "news").await?.0, 1);
    let text = b.raw(&api("INFO", "news"), "").await?;
    observe_raw(&ctx, &s, "news", &text);
    Ok(())
}

/// TestJetStreamEnableAndDisableAccount, from outside: the number of
/// JetStream accounts (/jsz) follows the config across reloads that
/// disable and enable an account, and nothing stays reserved.
async fn enable_disable_account(ctx: Ctx) -> Result<()> {
    let conf = |a: &str| {
        format!(
            "http: 127.0.0.1:{{{{http_port}}}}\njetstream: {{store_dir: \"{{{{dir}}}}/js\"}}\naccounts {{ A {{ {a} users: [{{user: a, password: p}}] }}, B {{ users: [{{user: b, password: p}}] }} }}\n"
        )
    };
    let s = ctx
        .server(ServerSpec::new().conf(&conf("jetstream: enabled,")))
        .await?;
    let count = |j: &Value| {
        (
            j["accounts"].clone(),
            j["reserved_memory"].clone(),
            j["reserved_storage"].clone(),
        )
    };
    let jsz = ctx.http_json(&s, "/jsz").await?;
    check_eq!(count(&jsz), (json!(1), json!(0), json!(0)));
    let mut a = Js::user(&ctx, &s, "a", "p").await?;
    check_eq!(api_error(&account_info(&mut a).await?), "none");
    reload(&s, &conf("jetstream: disabled,")).await?;
    let jsz = ctx.http_json(&s, "/jsz").await?;
    check_eq!(count(&jsz), (json!(0), json!(0), json!(0)));
    let e = api_error(&account_info(&mut a).await?);
    check_eq!(e, "503 10039 JetStream not enabled for account");
    reload(&s, &conf("jetstream: enabled,")).await?;
    let jsz = ctx.http_json(&s, "/jsz").await?;
    check_eq!(count(&jsz), (json!(1), json!(0), json!(0)));
    let mut b = Js::user(&ctx, &s, "b", "p").await?;
    let e = api_error(&account_info(&mut b).await?);
    check_eq!(e, "503 10039 JetStream not enabled for account");
    ctx.observe("B", &e);
    Ok(())
}

// ---------------------------------------------------------------- beyond Go's tests

/// The API subjects that only a cluster serves are answered on one server
/// with JSClusterRequiredErr (10010); the meta-group ones (system account
/// only) are not answered from another account.
async fn cluster_only_api(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    create(&mut js, json!({"name": "S", "storage": "memory"})).await?;
    for (subject, payload) in [
        ("$JS.API.STREAM.LEADER.STEPDOWN.S", ""),
        ("$JS.API.STREAM.LEADER.STEPDOWN.NOPE", ""),
        ("$JS.API.STREAM.PEER.REMOVE.S", "{\"peer\":\"x\"}"),
        ("$JS.API.CONSUMER.LEADER.STEPDOWN.S.c", ""),
    ] {
        let text = js.raw(subject, payload).await?;
        let r: Value = serde_json::from_str(&text)?;
        check_eq!(
            api_error(&r),
            "503 10010 JetStream clustering support required"
        );
        ctx.observe(subject, &text);
    }
    for subject in ["$JS.API.META.LEADER.STEPDOWN", "$JS.API.SERVER.REMOVE"] {
        let r = js.ask(subject, "{\"peer\":\"x\"}", SILENCE).await?;
        check_eq!(r, Reply::Nothing);
    }
    Ok(())
}

/// TestMonitorJsz on one server: /jsz and its account details, the /varz
/// JetStream section, and `$SYS.REQ.SERVER.PING.JSZ`, after streams,
/// a consumer and a message.
async fn jsz_single_server(ctx: Ctx) -> Result<()> {
    let conf = "http: 127.0.0.1:{{http_port}}\nsystem_account: SYS\naccounts {\n  SYS { users [{user: sys, password: pwd}] }\n  ACC { users [{user: usr, password: pwd}], jetstream: {max_store: 4Mb, max_memory: 5Mb} }\n  BCC_TO_HAVE_ONE_EXTRA { users [{user: usr2, password: pwd}], jetstream: enabled }\n}\njetstream: {\n  max_mem_store: 10Mb\n  max_file_store: 10Mb\n  store_dir: \"{{dir}}/js\"\n}\nserver_name: server_1\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut js = Js::user(&ctx, &s, "usr", "pwd").await?;
    create(
        &mut js,
        json!({"name": "my-stream-a", "subjects": ["foo", "bar"]}),
    )
    .await?;
    create(&mut js, json!({"name": "my-stream-b", "subjects": ["baz"]})).await?;
    check_eq!(
        durable(&mut js, "my-stream-a", "my-consumer").await?,
        "none"
    );
    js.pub_ack("foo", "").await?;

    let jsz = ctx.http_json(&s, "/jsz").await?;
    check_eq!(jsz.get("account_details"), None);
    check_eq!(
        (
            jsz["streams"].clone(),
            jsz["consumers"].clone(),
            jsz["messages"].clone()
        ),
        (json!(2), json!(1), json!(1))
    );
    let with_accounts = ctx.http_json(&s, "/jsz?accounts=true").await?;
    let details = with_accounts["account_details"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    check_eq!(details.len(), 2);
    let acc = ctx.http_json(&s, "/jsz?accounts=true&acc=ACC").await?;
    let d = &acc["account_details"][0];
    check_eq!(st(&d["name"]), "ACC");
    check_eq!(
        (d["reserved_memory"].clone(), d["reserved_storage"].clone()),
        (json!(5 * 1024 * 1024), json!(4 * 1024 * 1024))
    );
    let streams = ctx
        .http_json(&s, "/jsz?acc=ACC&streams=true&consumers=true")
        .await?;
    let mut keys: Vec<String> = streams
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    ctx.observe("jsz keys", keys.join(","));
    let mut plain = jsz.clone();
    plain["config"]["store_dir"] = json!("<dir>");
    ctx.observe_json("jsz", &plain);
    let mut d = acc["account_details"].clone();
    if let Some(list) = d.as_array_mut() {
        for a in list {
            if let Some(sd) = a.get_mut("stream_detail").and_then(Value::as_array_mut) {
                for st in sd {
                    st["cluster"]["leader"] = json!("<server>");
                }
            }
        }
    }
    ctx.observe_json("jsz acc=ACC", &d);
    let varz = ctx.http_json(&s, "/varz").await?;
    let mut vj = varz["jetstream"].clone();
    check_eq!(vj["stats"]["accounts"], json!(2));
    vj["config"]["store_dir"] = json!("<dir>");
    ctx.observe_json("varz jetstream", &vj);

    let mut sys = Js::user(&ctx, &s, "sys", "pwd").await?;
    let r = sys.req("$SYS.REQ.SERVER.PING.JSZ", "").await?;
    check_eq!(r["server"]["jetstream"], json!(true));
    check_eq!(r["data"]["streams"], json!(2));
    check_eq!(r["data"]["config"], jsz["config"]);
    let r = sys
        .req(
            "$SYS.REQ.SERVER.PING.JSZ",
            &json!({"accounts": true}).to_string(),
        )
        .await?;
    check_eq!(
        r["data"]["account_details"].as_array().map(Vec::len),
        Some(2)
    );
    Ok(())
}

/// TestJetStreamMaxConsumers: a stream's max_consumers is written back and
/// enforced.
async fn max_consumers(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    create(
        &mut js,
        json!({"name": "MAXC", "storage": "memory", "subjects": ["in.maxc.>"], "max_consumers": 1}),
    )
    .await?;
    let i = info(&mut js, "MAXC", "").await?;
    check_eq!(i["config"]["max_consumers"], json!(1));
    let push = |n: u32| {
        json!({"stream_name": "MAXC", "config": {"deliver_subject": format!("d.{n}"),
            "filter_subject": if n == 1 { "in.maxc.foo" } else { "in.maxc.bar" }}})
    };
    let r = js
        .req_json("$JS.API.CONSUMER.CREATE.MAXC", &push(1))
        .await?;
    check_eq!(api_error(&r), "none");
    let r = js
        .req_json("$JS.API.CONSUMER.CREATE.MAXC", &push(2))
        .await?;
    let e = api_error(&r);
    check_eq!(e, "400 10026 maximum consumers limit reached");
    ctx.observe("second consumer", &e);
    Ok(())
}

// ---------------------------------------------------------------- beyond Go's tests, for natsd

/// A response with its `created` time replaced, for exact comparisons.
fn without_created(text: &str) -> String {
    let re = regex::Regex::new(r#""created":"[^"]*""#).expect("regex");
    re.replace_all(text, r#""created":"<t>""#).into_owned()
}

/// The defaults a minimal config gets written back, byte for byte (key
/// order, `\u003e` for `>`), for each storage; a sealed stream's defaults;
/// and an update to three replicas, which one server accepts as is.
async fn config_defaults(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    let text = js
        .raw(&api("CREATE", "F"), &json!({"name": "F"}).to_string())
        .await?;
    check_eq!(
        without_created(&text),
        r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{"name":"F","subjects":["F"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false},"created":"<t>","state":{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0},"did_create":true}"#
    );
    let text = js
        .raw(
            &api("CREATE", "M"),
            &json!({"name": "M", "storage": "memory", "subjects": ["m.>"], "max_msgs_per_subject": 0})
                .to_string(),
        )
        .await?;
    check_eq!(
        without_created(&text),
        r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{"name":"M","subjects":["m.\u003e"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"memory","num_replicas":1,"duplicate_window":120000000000,"allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false},"created":"<t>","state":{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0},"did_create":true}"#
    );
    // The stored sizes of one message `hi` on `M.1` / `F`.
    let ack = js.pub_ack("m.1", "hi").await?;
    check_eq!(ack, json!({"stream": "M", "seq": 1}));
    match js.ask("F", "hi", WAIT).await? {
        Reply::Body(b) => check_eq!(b, r#"{"stream":"F", "seq":1}"#),
        other => bail!("PubAck of F: {other:?}"),
    }
    let sizes = (
        msgs_bytes(&mut js, "M").await?.1,
        msgs_bytes(&mut js, "F").await?.1,
    );
    check_eq!(sizes, (21, 33));
    ctx.observe("stored sizes (memory, file)", format!("{sizes:?}"));
    // Sealing turns on deny_delete and deny_purge and makes discard new.
    let text = js
        .raw(
            &api("UPDATE", "M"),
            &json!({"name": "M", "storage": "memory", "subjects": ["m.>"], "sealed": true})
                .to_string(),
        )
        .await?;
    let r: Value = serde_json::from_str(&text)?;
    check_eq!(
        (
            st(&r["type"]),
            r["config"]["sealed"].clone(),
            r["config"]["deny_delete"].clone(),
            r["config"]["deny_purge"].clone(),
            st(&r["config"]["discard"])
        ),
        (STREAM_UPDATE, json!(true), json!(true), json!(true), "new")
    );
    match js.ask("m.2", "x", WAIT).await? {
        Reply::Body(b) => check_eq!(
            b,
            r#"{"error":{"code":400,"err_code":10109,"description":"invalid operation on sealed stream"},"stream":"M","seq":0}"#
        ),
        other => bail!("publish on a sealed stream: {other:?}"),
    }
    let r = update(
        &mut js,
        json!({"name": "M", "storage": "memory", "subjects": ["m.>"], "sealed": false}),
    )
    .await?;
    check_eq!(
        api_error(&r),
        "500 10052 stream configuration update can not unseal a sealed stream"
    );
    // One server takes an update to three replicas (the create refuses it).
    let e = create_err(&mut js, json!({"name": "R", "num_replicas": 3})).await?;
    check_eq!(
        e,
        "500 10074 replicas > 1 not supported in non-clustered mode"
    );
    let r = update(&mut js, json!({"name": "F", "num_replicas": 3})).await?;
    check_eq!(
        (api_error(&r), r["config"]["num_replicas"].clone()),
        ("none".to_string(), json!(3))
    );
    let r = update(&mut js, json!({"name": "F", "duplicate_window": 1000})).await?;
    check_eq!(
        api_error(&r),
        "500 10052 duplicates window needs to be >= 100ms"
    );
    Ok(())
}

/// Errors keep the zero values of the response's other fields: invalid
/// JSON, an account without JetStream, and the account limits on stream
/// bytes (`max_bytes_required`, `memory_max_stream_bytes`,
/// `disk_max_stream_bytes`) from the config.
async fn api_error_shapes(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(
            "jetstream: {store_dir: \"{{dir}}/js\"}\naccounts {\n  A { jetstream: {max_mem: 1MB, max_store: 1MB, max_bytes_required: true}, users: [{user: a, password: p}] }\n  B { jetstream: {max_mem: 1MB, max_store: 1MB, memory_max_stream_bytes: 1000, disk_max_stream_bytes: 2000}, users: [{user: b, password: p}] }\n  C { users: [{user: c, password: p}] }\n}\n",
        ))
        .await?;
    let bad = r#""error":{"code":400,"err_code":10025,"description":"invalid JSON"}"#;
    let not_enabled = r#""error":{"code":503,"err_code":10039,"description":"JetStream not enabled for account"}"#;
    let mut b = Js::user(&ctx, &s, "b", "p").await?;
    let mut c = Js::user(&ctx, &s, "c", "p").await?;
    let t = |kind: &str| format!("{{\"type\":\"io.nats.jetstream.api.v1.{kind}\",");
    for (subject, kind, rest) in [
        (
            "$JS.API.STREAM.NAMES",
            "stream_names_response",
            r#","total":0,"offset":0,"limit":0,"streams":null}"#,
        ),
        (
            "$JS.API.STREAM.LIST",
            "stream_list_response",
            r#","total":0,"offset":0,"limit":0,"streams":[]}"#,
        ),
        (
            "$JS.API.STREAM.INFO.F",
            "stream_info_response",
            r#","total":0,"offset":0,"limit":0}"#,
        ),
        (
            "$JS.API.STREAM.TEMPLATE.NAMES",
            "stream_template_names_response",
            r#","total":0,"offset":0,"limit":0,"streams":null}"#,
        ),
    ] {
        let got = b.raw(subject, "{bad").await?;
        check_eq!(got, format!("{}{bad}{rest}", t(kind)));
        let got = c.raw(subject, "").await?;
        check_eq!(got, format!("{}{not_enabled}{rest}", t(kind)));
        ctx.observe(&format!("{subject} without JetStream"), &got);
    }
    for (subject, kind, rest) in [
        ("$JS.API.STREAM.CREATE.X", "stream_create_response", "}"),
        ("$JS.API.STREAM.UPDATE.X", "stream_update_response", "}"),
        ("$JS.API.STREAM.DELETE.X", "stream_delete_response", "}"),
        (
            "$JS.API.STREAM.PURGE.X",
            "stream_purge_response",
            r#","purged":0}"#,
        ),
    ] {
        let got = c.raw(subject, r#"{"name":"X"}"#).await?;
        check_eq!(got, format!("{}{not_enabled}{rest}", t(kind)));
        ctx.observe(&format!("{subject} without JetStream"), &got);
    }
    let mut a = Js::user(&ctx, &s, "a", "p").await?;
    let info = account_info(&mut a).await?;
    check_eq!(info["limits"]["max_bytes_required"], json!(true));
    let required = "400 10113 account requires a stream config to have max bytes set";
    check_eq!(
        create_err(&mut a, json!({"name": "S", "storage": "memory"})).await?,
        required
    );
    create(
        &mut a,
        json!({"name": "S", "storage": "memory", "max_bytes": 100}),
    )
    .await?;
    let r = update(&mut a, json!({"name": "S", "storage": "memory"})).await?;
    check_eq!(api_error(&r), required);
    let info = account_info(&mut b).await?;
    check_eq!(
        (
            info["limits"]["memory_max_stream_bytes"].clone(),
            info["limits"]["storage_max_stream_bytes"].clone()
        ),
        (json!(1000), json!(2000))
    );
    let over = "400 10122 stream max bytes exceeds account limit max stream bytes";
    check_eq!(
        create_err(
            &mut b,
            json!({"name": "M", "storage": "memory", "max_bytes": 1001})
        )
        .await?,
        over
    );
    check_eq!(
        create_err(
            &mut b,
            json!({"name": "F", "storage": "file", "max_bytes": 2001})
        )
        .await?,
        over
    );
    let r = create(&mut b, json!({"name": "F", "storage": "file"})).await?;
    check_eq!(r["config"]["max_bytes"], json!(-1));
    let list = b.raw("$JS.API.STREAM.LIST", r#"{"subject":"F"}"#).await?;
    let v: Value = serde_json::from_str(&list)?;
    check_eq!(
        (v["total"].clone(), st(&v["streams"][0]["config"]["name"])),
        (json!(1), "F")
    );
    Ok(())
}

/// TestJetStreamStoreDirectoryFix: a store whose accounts sit directly under
/// store_dir (as 2.2.2 left them) is moved under `jetstream/` at start-up,
/// with its stream and durable consumer.
async fn store_directory_fix(ctx: Ctx) -> Result<()> {
    let mut s = ctx
        .server(ServerSpec::new().conf("jetstream: {store_dir: \"{{dir}}/sd\"}\n"))
        .await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    create(&mut js, json!({"name": "TEST"})).await?;
    js.pub_ack("TEST", "TSS").await?;
    let r = js
        .req_json(
            "$JS.API.CONSUMER.DURABLE.CREATE.TEST.dlc",
            &json!({"stream_name": "TEST", "config": {"durable_name": "dlc", "deliver_subject": "d.lc"}}),
        )
        .await?;
    check_eq!(api_error(&r), "none");
    drop(js);
    s.stop().await?;

    let sd = s.dir().join("sd");
    let jssd = sd.join("jetstream");
    for entry in std::fs::read_dir(&jssd)? {
        let entry = entry?;
        std::fs::rename(entry.path(), sd.join(entry.file_name()))?;
    }
    std::fs::remove_dir_all(&jssd)?;
    ensure!(sd.join("$G").is_dir(), "no $G under the store dir");

    s.restart().await?;
    let mut js = Js::connect_no_responders(&ctx, &s).await?;
    check_eq!(names(&mut js, "").await?, vec!["TEST"]);
    let r = js.req("$JS.API.CONSUMER.NAMES.TEST", "").await?;
    check_eq!(r["consumers"], json!(["dlc"]));
    check_eq!(msgs_bytes(&mut js, "TEST").await?.0, 1);
    ensure!(
        jssd.join("$G").is_dir(),
        "the account was not moved back under jetstream/"
    );
    ctx.observe("consumers", r.to_string());
    Ok(())
}
