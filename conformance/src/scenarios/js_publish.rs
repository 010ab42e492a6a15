//! Scenarios for the JetStream publish path and stored messages on one
//! server, from server/jetstream_test.go: PubAcks (TestJetStreamPubAck,
//! TestJetStreamBasicAckPublish, TestJetStreamDomainInPubAck), no-ack and
//! interest streams (TestJetStreamNoAckStream, the no-consumer part of
//! TestJetStreamInterestRetentionStream), message ids and the duplicates
//! window (TestJetStreamPublishDeDupe, TestJetStreamMsgIDHeaderCollision, the
//! duplicates part of TestJetStreamLimits), the expected-* headers
//! (TestJetStreamPublishExpect, TestJetStreamPublishExpectNoMsg,
//! TestJetStreamLastSequenceBySubject), limits (TestJetStreamLimitLockBug,
//! TestJetStreamMaxMsgsPerSubject, TestJetStreamMaxMsgsPerSubjectWithDiscardNew,
//! TestJetStreamMessagePerSubjectKeepBug), state and purge
//! (TestJetStreamStateTimestamps, TestJetStreamStreamPurge, the single-server
//! part of TestNoRaceJetStreamClusterExtendedStreamPurge), stored messages
//! (TestJetStreamDeleteMsg, TestJetStreamMsgHeaders' stored side,
//! TestJetStreamMsgGetNoAdvisory, TestJetStreamGetLastMsgBySubject*), direct
//! get (TestJetStreamDirectMsgGet*, TestJetStreamDirectGetBySubject,
//! TestJetStreamAllowDirectAfterUpdate, TestJetStreamSuppressAllowDirect),
//! republish (TestJetStreamStreamRepublish*), sealed streams
//! (TestJetStreamRecoverSealedAfterServerRestart), and the single-server half
//! of the cluster tests of sealed, append-only and roll-up streams
//! (TestJetStreamClusterSeal, TestJetStreamClusterAppendOnly,
//! TestJetStreamClusterRollups, TestJetStreamClusterRollupsRequirePurge).
//!
//! The Go tests add streams in-process (`acc.addStream`) and read the
//! store's state (`mset.state()`, `mset.getMsg`); here every stream is made
//! through `$JS.API.STREAM.CREATE.<name>` and every state is read back through
//! `$JS.API.STREAM.INFO.<name>` (`state.messages`, `bytes`, `first_seq`, ...),
//! `$JS.API.STREAM.MSG.GET.<name>` or `$JS.API.DIRECT.GET.<name>`, from a raw
//! client that sees the exact bytes of every answer (a PubAck is
//! `{"stream":"S", "seq":N}`, with Go's space), and, where the Go test uses
//! the nats.go JetStream API, through async-nats' own JetStream API. A
//! consumer the Go test makes only to read messages back is a walk with
//! `next_by_subj`. A restart of the Go test is a graceful restart of the
//! server on the same store. Volatile fields (`created`, `first_ts`,
//! `last_ts`, `time`) are recorded only as set or zero.

use crate::check_eq;
use crate::kit::js::{
    ack_err, api_err, b64, header, header_block, headers_of, js_context, js_server, mask_stamp,
    num, pub_ack_text, scrub, server_error, time_of, Js, GO_ZERO_TIME, STORAGES,
};
use crate::kit::{Ctx, Msg, Server, ServerSpec};
use crate::registry::{Need, Scenario};
use anyhow::{ensure, Context, Result};
use async_nats::jetstream::stream;
use futures::FutureExt;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

pub fn scenarios() -> Vec<Scenario> {
    let js = |s: Scenario| s.needs(Need::JetStream);
    vec![
        js(Scenario::new("jetstream/pub-ack", |c| pub_ack(c).boxed()).full("TestJetStreamPubAck")),
        js(
            Scenario::new("jetstream/pub-ack-basic", |c| basic_ack_publish(c).boxed())
                .full("TestJetStreamBasicAckPublish"),
        ),
        js(
            Scenario::new("jetstream/no-ack-stream", |c| no_ack_stream(c).boxed())
                .full("TestJetStreamNoAckStream"),
        ),
        js(
            Scenario::new("jetstream/limit-max-msgs", |c| limit_lock_bug(c).boxed())
                .full("TestJetStreamLimitLockBug"),
        ),
        js(
            Scenario::new("jetstream/pub-ack-domain", |c| domain_in_pub_ack(c).boxed())
                .full("TestJetStreamDomainInPubAck"),
        ),
        js(Scenario::new("jetstream/max-msgs-per-subject-keep", |c| {
            per_subject_keep(c).boxed()
        })
        .full("TestJetStreamMessagePerSubjectKeepBug")),
        js(Scenario::new("jetstream/msg-id-header-collision", |c| {
            msg_id_collision(c).boxed()
        })
        .full("TestJetStreamMsgIDHeaderCollision")),
        js(
            Scenario::new("jetstream/expected-last-subject-seq-zero", |c| {
                expect_no_msg(c).boxed()
            })
            .full("TestJetStreamPublishExpectNoMsg"),
        ),
        js(Scenario::new("jetstream/max-msgs-per-subject", |c| {
            max_msgs_per_subject(c).boxed()
        })
        .full("TestJetStreamMaxMsgsPerSubject")),
        js(
            Scenario::new("jetstream/max-msgs-per-subject-discard-new", |c| {
                per_subject_discard_new(c).boxed()
            })
            .full("TestJetStreamMaxMsgsPerSubjectWithDiscardNew"),
        ),
        js(Scenario::new("jetstream/state-timestamps", |c| {
            state_timestamps(c).boxed()
        })
        .full("TestJetStreamStateTimestamps")),
        js(
            Scenario::new("jetstream/stream-purge", |c| stream_purge(c).boxed())
                .full("TestJetStreamStreamPurge"),
        ),
        js(
            Scenario::new("jetstream/publish-dedupe", |c| publish_dedupe(c).boxed())
                .full("TestJetStreamPublishDeDupe"),
        ),
        js(
            Scenario::new("jetstream/publish-expect", |c| publish_expect(c).boxed())
                .full("TestJetStreamPublishExpect"),
        ),
        js(
            Scenario::new("jetstream/interest-retention-no-consumers", |c| {
                interest_no_consumers(c).boxed()
            })
            .partial("TestJetStreamInterestRetentionStream"),
        ),
        js(
            Scenario::new("jetstream/delete-msg", |c| delete_msg(c).boxed())
                .full("TestJetStreamDeleteMsg"),
        ),
        js(
            Scenario::new("jetstream/msg-headers-stored", |c| msg_headers(c).boxed())
                .partial("TestJetStreamMsgHeaders"),
        ),
        js(Scenario::new("jetstream/msg-get-no-advisory", |c| {
            msg_get_no_advisory(c).boxed()
        })
        .full("TestJetStreamMsgGetNoAdvisory")),
        js(
            Scenario::new("jetstream/direct-msg-get", |c| direct_msg_get(c).boxed())
                .full("TestJetStreamDirectMsgGet"),
        ),
        js(Scenario::new("jetstream/direct-msg-get-next", |c| {
            direct_msg_get_next(c).boxed()
        })
        .full("TestJetStreamDirectMsgGetNext")),
        js(Scenario::new("jetstream/direct-get-by-subject", |c| {
            direct_get_by_subject(c).boxed()
        })
        .full("TestJetStreamDirectGetBySubject")),
        js(Scenario::new("jetstream/allow-direct-after-update", |c| {
            allow_direct_after_update(c).boxed()
        })
        .full("TestJetStreamAllowDirectAfterUpdate")),
        js(Scenario::new("jetstream/suppress-allow-direct", |c| {
            suppress_allow_direct(c).boxed()
        })
        .full("TestJetStreamSuppressAllowDirect")),
        js(
            Scenario::new("jetstream/republish-cycle", |c| republish_cycle(c).boxed())
                .full("TestJetStreamStreamRepublishCycle"),
        ),
        js(Scenario::new("jetstream/republish-one-token-match", |c| {
            republish_one_token_match(c).boxed()
        })
        .full("TestJetStreamStreamRepublishOneTokenMatch")),
        js(Scenario::new("jetstream/republish-multi-token-match", |c| {
            republish_multi_token_match(c).boxed()
        })
        .full("TestJetStreamStreamRepublishMultiTokenMatch")),
        js(Scenario::new("jetstream/republish-any-subject-match", |c| {
            republish_any_subject_match(c).boxed()
        })
        .full("TestJetStreamStreamRepublishAnySubjectMatch")),
        js(
            Scenario::new("jetstream/republish-multi-token-no-match", |c| {
                republish_multi_token_no_match(c).boxed()
            })
            .full("TestJetStreamStreamRepublishMultiTokenNoMatch"),
        ),
        js(
            Scenario::new("jetstream/republish-one-token-no-match", |c| {
                republish_one_token_no_match(c).boxed()
            })
            .full("TestJetStreamStreamRepublishOneTokenNoMatch"),
        ),
        js(Scenario::new("jetstream/republish-headers-only", |c| {
            republish_headers_only(c).boxed()
        })
        .full("TestJetStreamStreamRepublishHeadersOnly")),
        js(
            Scenario::new("jetstream/sealed-recover-after-restart", |c| {
                sealed_after_restart(c).boxed()
            })
            .full("TestJetStreamRecoverSealedAfterServerRestart"),
        ),
        js(
            Scenario::new("jetstream/sealed-stream", |c| sealed_stream(c).boxed())
                .partial("TestJetStreamClusterSeal"),
        ),
        js(Scenario::new("jetstream/deny-delete-and-purge", |c| {
            append_only(c).boxed()
        })
        .partial("TestJetStreamClusterAppendOnly")),
        js(Scenario::new("jetstream/rollup-requires-purge", |c| {
            rollup_requires_purge(c).boxed()
        })
        .partial("TestJetStreamClusterRollupsRequirePurge")),
        js(Scenario::new("jetstream/rollups", |c| rollups(c).boxed())
            .partial("TestJetStreamClusterRollups")),
        js(Scenario::new("jetstream/get-last-msg-by-subject", |c| {
            get_last_by_subject(c).boxed()
        })
        .partial("TestJetStreamGetLastMsgBySubject")),
        js(
            Scenario::new("jetstream/get-last-msg-by-subject-after-update", |c| {
                get_last_after_update(c).boxed()
            })
            .partial("TestJetStreamGetLastMsgBySubjectAfterUpdate"),
        ),
        js(Scenario::new("jetstream/last-sequence-by-subject", |c| {
            last_sequence_by_subject(c).boxed()
        })
        .partial("TestJetStreamLastSequenceBySubject")),
        js(Scenario::new("jetstream/limits-duplicate-window", |c| {
            limits_duplicate_window(c).boxed()
        })
        .partial("TestJetStreamLimits")),
        js(Scenario::new("jetstream/purge-filter-seq-keep", |c| {
            purge_filter_seq_keep(c).boxed()
        })
        .partial("TestNoRaceJetStreamClusterExtendedStreamPurge")),
        js(Scenario::new("jetstream/purge-by-sequence", |c| {
            purge_by_sequence(c).boxed()
        })
        .partial("TestJetStreamClusterPurgeBySequence")),
        js(Scenario::new("jetstream/discard-new-per-subject", |c| {
            discard_new_per_subject(c).boxed()
        })
        .partial("TestJetStreamClusterDiscardNewAndMaxMsgsPerSubject")),
        js(Scenario::new("jetstream/expire-all-while-down", |c| {
            expire_all_while_down(c).boxed()
        })
        .full("TestJetStreamExpireAllWhileServerDown")),
        js(Scenario::new("jetstream/large-expires-and-restart", |c| {
            large_expires_and_restart(c).boxed()
        })
        .full("TestJetStreamLargeExpiresAndServerRestart")),
    ]
}

// ---------------------------------------------------------------- PubAck

async fn pub_ack(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let created = js
        .create(json!({"name": "PUBACK", "subjects": ["foo"], "storage": "memory"}))
        .await?;
    ctx.observe_json("create", &scrub(&created));
    // 1000 requests, each answered with the PubAck of the next sequence.
    for seq in 1..=1000u64 {
        let ack = js.ack("foo", "HELLO").await?;
        check_eq!(ack, pub_ack_text("PUBACK", seq));
        if seq == 1 || seq == 1000 {
            ctx.observe(&format!("ack {seq}"), &ack);
        }
    }
    // The same through async-nats' JetStream API.
    let jsc = js_context(&ctx, &s).await?;
    let pa = jsc.publish("foo", "HELLO".into()).await?.await?;
    check_eq!(
        (
            pa.stream.as_str(),
            pa.sequence,
            pa.duplicate,
            pa.domain.as_str()
        ),
        ("PUBACK", 1001, false, "")
    );
    Ok(())
}

async fn basic_ack_publish(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "foo", "storage": storage, "subjects": ["foo.*"]}))
            .await?;
        for i in 1..=50 {
            let seq = js.stored("foo.bar", "Hello World!").await?;
            check_eq!(seq, i);
        }
        let state = js.state("foo").await?;
        check_eq!(num(&state["messages"]), 50);
        ctx.observe_json(&format!("{storage}: state"), &scrub(&state));
        js.delete_stream("foo").await?;
    }
    Ok(())
}

async fn no_ack_stream(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        let r = js
            .create(json!({"name": "foo", "storage": storage, "no_ack": true}))
            .await?;
        check_eq!(r["config"]["no_ack"], json!(true));
        // A request gets no PubAck, but the message is stored.
        js.no_reply("foo", &[], b"Hello World!", Duration::from_millis(250))
            .await?;
        let state = js.state("foo").await?;
        check_eq!(num(&state["messages"]), 1);
        ctx.observe_json(&format!("{storage}: state"), &scrub(&state));
        js.delete_stream("foo").await?;
    }
    Ok(())
}

async fn limit_lock_bug(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "foo", "retention": "limits", "max_msgs": 10,
            "storage": storage, "num_replicas": 1}))
            .await?;
        for i in 1..=100 {
            check_eq!(js.stored("foo", "ok").await?, i);
        }
        let state = js.state("foo").await?;
        check_eq!(num(&state["messages"]), 10);
        check_eq!(
            (num(&state["first_seq"]), num(&state["last_seq"])),
            (91, 100)
        );
        ctx.observe_json(&format!("{storage}: state"), &scrub(&state));
        js.delete_stream("foo").await?;
    }
    Ok(())
}

async fn domain_in_pub_ack(ctx: Ctx) -> Result<()> {
    let conf = "jetstream: {domain: \"HUB\", store_dir: \"{{dir}}/js\"}\n";
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let jsc = js_context(&ctx, &s).await?;
    jsc.create_stream(stream::Config {
        name: "TEST".into(),
        storage: stream::StorageType::Memory,
        subjects: vec!["foo".into()],
        ..Default::default()
    })
    .await
    .context("adding stream TEST")?;
    // By hand: the PubAck carries the domain between stream and seq.
    let mut js = Js::connect(&ctx, &s).await?;
    let ack = js.ack("foo", "").await?;
    ctx.observe("ack", &ack);
    check_eq!(ack, "{\"stream\":\"TEST\", \"domain\":\"HUB\", \"seq\":1}");
    let pa = jsc.publish("foo", "".into()).await?.await?;
    check_eq!((pa.domain.as_str(), pa.sequence), ("HUB", 2));
    Ok(())
}

async fn per_subject_keep(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let jsc = js_context(&ctx, &s).await?;
    for (storage, st) in [
        ("file", stream::StorageType::File),
        ("memory", stream::StorageType::Memory),
    ] {
        for keep in [10i64, 1] {
            let mut stream = jsc
                .create_stream(stream::Config {
                    name: "TEST".into(),
                    max_messages_per_subject: keep,
                    storage: st,
                    ..Default::default()
                })
                .await
                .context("adding stream TEST")?;
            for i in 0..100 {
                jsc.publish("TEST", format!("test {i}").into())
                    .await?
                    .await
                    .context("publishing on TEST")?;
            }
            let nfo = stream.info().await?;
            check_eq!(nfo.state.messages, keep as u64);
            ctx.observe(
                &format!("{storage} keep {keep}"),
                format!(
                    "{} msgs, seq {}..{}",
                    nfo.state.messages, nfo.state.first_sequence, nfo.state.last_sequence
                ),
            );
            jsc.delete_stream("TEST").await?;
        }
    }
    Ok(())
}

async fn msg_id_collision(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let jsc = js_context(&ctx, &s).await?;
    let mut stream = jsc
        .create_stream(stream::Config {
            name: "TEST".into(),
            subjects: vec!["ORDERS.*".into()],
            ..Default::default()
        })
        .await?;
    // Only the exact Nats-Msg-Id header is a message id.
    let sets: [&[(&str, &str)]; 5] = [
        &[("Nats-Msg-Id", "1")],
        &[("Orig-Nats-Msg-Id", "1")],
        &[("Original-Nats-Msg-Id", "1")],
        &[
            ("Original-Nats-Msg-Id", "1"),
            ("Really-Original-Nats-Msg-Id", "1"),
        ],
        &[("X", "Nats-Msg-Id:1")],
    ];
    let mut seqs = Vec::new();
    for set in sets {
        let mut h = async_nats::HeaderMap::new();
        for (k, v) in set {
            h.insert(*k, *v);
        }
        let pa = jsc
            .publish_with_headers("ORDERS.test", h, "ok".into())
            .await?
            .await
            .with_context(|| format!("publishing with {set:?}"))?;
        seqs.push((pa.sequence, pa.duplicate));
    }
    check_eq!(
        seqs,
        vec![(1, false), (2, false), (3, false), (4, false), (5, false)]
    );
    let si = stream.info().await?;
    check_eq!(si.state.messages, 5);
    ctx.observe("acks", format!("{seqs:?}"));
    Ok(())
}

async fn expect_no_msg(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "KV", "subjects": ["KV.>"], "max_msgs_per_subject": 5}))
        .await
        .context("add stream failed")?;
    check_eq!(js.stored("KV.22", "hello world").await?, 1);
    // No message on KV.33 yet: an expected last subject sequence of 0 holds.
    let expect0 = [("Nats-Expected-Last-Subject-Sequence", "0")];
    let ok = js.ack_h("KV.33", &expect0, b"").await?;
    check_eq!(ok, pub_ack_text("KV", 2));
    // KV.22 has one: refused, with the sequence it has.
    let refused = js.ack_h("KV.22", &expect0, b"").await?;
    ctx.observe("KV.22 expecting 0", &refused);
    let (code, err_code, desc, _) = ack_err(&refused)?;
    check_eq!(
        (code, err_code, desc.as_str()),
        (400, 10071, "wrong last sequence: 1")
    );
    let r = js.purge("KV", "").await?;
    check_eq!((r["success"].clone(), num(&r["purged"])), (json!(true), 2));
    // After the purge it holds again.
    let ok = js.ack_h("KV.22", &expect0, b"").await?;
    check_eq!(ok, pub_ack_text("KV", 3));
    // async-nats sees the refusal as a wrong last sequence.
    let jsc = js_context(&ctx, &s).await?;
    let mut h = async_nats::HeaderMap::new();
    h.insert("Nats-Expected-Last-Subject-Sequence", "0");
    let err = jsc
        .publish_with_headers("KV.22", h, "".into())
        .await?
        .await
        .err()
        .context("expected an error publishing on KV.22 expecting 0")?;
    check_eq!(
        err.kind(),
        async_nats::jetstream::context::PublishErrorKind::WrongLastSequence
    );
    check_eq!(server_error(&err), "400/10071 wrong last sequence: 3");
    Ok(())
}

async fn max_msgs_per_subject(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "TEST", "subjects": ["foo", "bar", "baz.*"],
            "storage": storage, "max_msgs_per_subject": 5}))
            .await?;
        let mut seen = Vec::new();
        let steps: [(&str, usize, u64); 7] = [
            ("foo", 1, 1),
            ("foo", 4, 5),
            // The per-subject limit kicks in.
            ("foo", 2, 5),
            ("baz.22", 5, 10),
            ("baz.33", 5, 15),
            ("baz.22", 5, 15),
            ("baz.33", 5, 15),
        ];
        for (subj, num_msgs, expected) in steps {
            for _ in 0..num_msgs {
                js.stored(subj, "TSLA").await?;
            }
            let msgs = js.msgs("TEST").await?;
            check_eq!(msgs, expected);
            seen.push(msgs);
        }
        // Purge, and the same again.
        js.purge("TEST", "").await?;
        for (subj, num_msgs, expected) in [
            ("foo", 1, 1),
            ("foo", 4, 5),
            ("baz.22", 5, 10),
            ("baz.33", 5, 15),
        ] {
            for _ in 0..num_msgs {
                js.stored(subj, "TSLA").await?;
            }
            let msgs = js.msgs("TEST").await?;
            check_eq!(msgs, expected);
            seen.push(msgs);
        }
        let state = js.info_with("TEST", "{\"subjects_filter\":\">\"}").await?["state"].clone();
        ctx.observe_json(&format!("{storage}: state"), &scrub(&state));
        ctx.observe(&format!("{storage}: counts"), format!("{seen:?}"));
        js.delete_stream("TEST").await?;
    }
    Ok(())
}

async fn per_subject_discard_new(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(
            json!({"name": "TEST", "subjects": ["foo", "bar", "baz", "x"],
            "discard": "new", "storage": storage, "max_msgs_per_subject": 4,
            "max_msgs": 10, "max_bytes": 500}),
        )
        .await?;
        let steps: [(&str, usize, u64); 6] = [
            ("foo", 1, 1),
            // Treated as discard old per subject: only 4 kept.
            ("foo", 4, 4),
            ("bar", 8, 8),
            ("baz", 2, 10),
            // Full, but foo and bar are at their limit: adding replaces.
            ("foo", 1, 10),
            ("bar", 1, 10),
        ];
        for (subj, n, expected) in steps {
            for _ in 0..n {
                js.stored(subj, "TSLA").await?;
            }
            check_eq!(js.msgs("TEST").await?, expected);
        }
        // A large message on bar: dropping bar's oldest does not make room.
        let big = js.ack_h("bar", &[], &[b'X'; 300]).await?;
        ctx.observe(&format!("{storage}: bar 300 bytes"), &big);
        let (code, err_code, desc, _) = ack_err(&big)?;
        check_eq!((code, err_code), (503, 10077));
        ensure!(
            desc == "maximum bytes exceeded" || desc == "maximum messages exceeded",
            "bar 300 bytes: {big}"
        );
        // A new subject when the stream is full.
        let new_subject = js.ack_h("x", &[], b"XX").await?;
        ctx.observe(&format!("{storage}: x"), &new_subject);
        let (code, err_code, desc, _) = ack_err(&new_subject)?;
        check_eq!((code, err_code), (503, 10077));
        ensure!(
            desc == "maximum bytes exceeded" || desc == "maximum messages exceeded",
            "x: {new_subject}"
        );
        js.delete_stream("TEST").await?;
    }
    Ok(())
}

async fn state_timestamps(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "foo", "storage": storage, "subjects": ["foo.*"]}))
            .await?;
        let start = SystemTime::now();
        let delay = Duration::from_millis(250);
        js.stored("foo.bar", "Hello World!").await?;
        tokio::time::sleep(delay).await;
        js.stored("foo.bar", "Hello World Again!").await?;
        let state = js.state("foo").await?;
        let (first, last) = (time_of(&state["first_ts"])?, time_of(&state["last_ts"])?);
        ensure!(
            first >= start,
            "Unexpected first message timestamp: {state}"
        );
        ensure!(
            last >= start + delay,
            "Unexpected last message timestamp: {state}"
        );
        ctx.observe_json(&format!("{storage}: state"), &scrub(&state));
        js.delete_stream("foo").await?;
    }
    Ok(())
}

async fn stream_purge(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "DC", "storage": storage})).await?;
        for _ in 0..100 {
            js.publish("DC", "OK!").await?;
        }
        js.flush().await?;
        check_eq!(js.msgs("DC").await?, 100);
        let r = js.purge("DC", "").await?;
        ctx.observe_json(&format!("{storage}: purge"), &r);
        check_eq!(num(&r["purged"]), 100);
        let state = js.state("DC").await?;
        check_eq!(num(&state["messages"]), 0);
        // The first time is reset.
        check_eq!(state["first_ts"], json!(GO_ZERO_TIME));
        ctx.observe_json(&format!("{storage}: purged state"), &scrub(&state));
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now = SystemTime::now();
        js.publish("DC", "OK!").await?;
        js.flush().await?;
        let state = js.state("DC").await?;
        check_eq!(num(&state["messages"]), 1);
        ensure!(
            time_of(&state["first_ts"])? >= now,
            "First time is incorrect after adding messages back in: {state}"
        );
        check_eq!(state["first_ts"], state["last_ts"]);
        check_eq!(
            (num(&state["first_seq"]), num(&state["last_seq"])),
            (101, 101)
        );
        js.delete_stream("DC").await?;
    }
    Ok(())
}

async fn publish_dedupe(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let mut cfg = json!({"name": "DeDupe", "storage": "file", "max_age": 3_600_000_000_000u64,
        "subjects": ["foo.*"]});
    let r = js.create(cfg.clone()).await?;
    // The default window: two minutes.
    check_eq!(r["config"]["duplicate_window"], json!(120_000_000_000u64));
    // It can not be negative, nor longer than max_age.
    cfg["duplicate_window"] = json!(-25_000_000);
    let r = js.update(&cfg).await?;
    check_eq!(
        api_err(&r),
        (
            500,
            10052,
            "duplicates window can not be negative".to_string()
        )
    );
    cfg["duplicate_window"] = json!(7_200_000_000_000u64);
    let r = js.update(&cfg).await?;
    check_eq!(
        api_err(&r),
        (
            500,
            10052,
            "duplicates window can not be larger then max age".to_string()
        )
    );
    ctx.observe_json("window longer than max_age", &r);

    // Publishes foo.<seq> with a message id; the PubAck must carry `seq`.
    async fn send(js: &mut Js, seq: u64, id: &str) -> Result<String> {
        let ack = js
            .ack_h(
                &format!("foo.{seq}"),
                &[("Nats-Msg-Id", id)],
                b"Hello DeDupe!",
            )
            .await?;
        let v: Value = serde_json::from_str(&ack)?;
        ensure!(
            v.get("error").is_none(),
            "Expected a JetStreamPubAck, got {ack}"
        );
        check_eq!(num(&v["seq"]), seq);
        Ok(ack)
    }
    for (seq, id) in [(1, "AA"), (2, "BB"), (3, "CC"), (4, "ZZ")] {
        send(&mut js, seq, id).await?;
    }
    check_eq!(js.msgs("DeDupe").await?, 4);
    // Duplicates: the PubAck of the first, flagged, and nothing stored.
    let mut dups = Vec::new();
    for (seq, id) in [(1, "AA"), (2, "BB"), (4, "ZZ")] {
        dups.push(send(&mut js, seq, id).await?);
    }
    check_eq!(
        dups[0],
        "{\"stream\":\"DeDupe\", \"seq\":1,\"duplicate\": true}"
    );
    ctx.observe("duplicates", dups.join(" "));
    check_eq!(js.msgs("DeDupe").await?, 4);

    // A window of 100ms: ids are forgotten after it.
    cfg["duplicate_window"] = json!(100_000_000);
    let r = js.update(&cfg).await?;
    check_eq!(api_err(&r).0, 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    for (seq, id) in [(5, "AAA"), (6, "BBB"), (7, "CCC"), (8, "DDD"), (9, "ZZZ")] {
        send(&mut js, seq, id).await?;
    }
    // Eventually all five are forgotten: ZZZ again is a new message.
    tokio::time::sleep(Duration::from_millis(250)).await;
    send(&mut js, 10, "ZZZ").await?;

    // Now a long window, a purge, five new messages and a restart.
    cfg["duplicate_window"] = json!(1_800_000_000_000u64);
    let r = js.update(&cfg).await?;
    check_eq!(api_err(&r).0, 0);
    js.purge("DeDupe", "").await?;
    let ids = [
        (11, "AAAA"),
        (12, "BBBB"),
        (13, "CCCC"),
        (14, "DDDD"),
        (15, "EEEE"),
    ];
    for (seq, id) in ids {
        send(&mut js, seq, id).await?;
    }
    drop(js);
    s.restart().await?;
    let mut js = Js::connect(&ctx, &s).await?;
    check_eq!(js.msgs("DeDupe").await?, 5);
    // The ids survived the restart: the same five are duplicates.
    for (seq, id) in ids {
        let ack = send(&mut js, seq, id).await?;
        check_eq!(
            ack,
            format!("{{\"stream\":\"DeDupe\", \"seq\":{seq},\"duplicate\": true}}")
        );
    }
    check_eq!(js.msgs("DeDupe").await?, 5);
    // A purge does not wipe the ids.
    js.purge("DeDupe", "").await?;
    let ack = send(&mut js, 11, "AAAA").await?;
    check_eq!(
        ack,
        "{\"stream\":\"DeDupe\", \"seq\":11,\"duplicate\": true}"
    );
    // async-nats reads the flag.
    let jsc = js_context(&ctx, &s).await?;
    let mut h = async_nats::HeaderMap::new();
    h.insert("Nats-Msg-Id", "BBBB");
    let pa = jsc
        .publish_with_headers("foo.12", h, "Hello DeDupe!".into())
        .await?
        .await?;
    check_eq!((pa.sequence, pa.duplicate), (12, true));
    Ok(())
}

async fn publish_expect(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(
        json!({"name": "EXPECT", "storage": "file", "max_age": 3_600_000_000_000u64,
        "subjects": ["foo.*"]}),
    )
    .await?;
    // The right expected stream.
    let ack = js
        .ack_h("foo.bar", &[("Nats-Expected-Stream", "EXPECT")], b"HELLO")
        .await?;
    check_eq!(ack, pub_ack_text("EXPECT", 1));
    // Another stream.
    let ack = js
        .ack_h("foo.bar", &[("Nats-Expected-Stream", "ORDERS")], b"HELLO")
        .await?;
    ctx.observe("expected stream ORDERS", &ack);
    let (code, err_code, desc, stream) = ack_err(&ack)?;
    check_eq!(
        (code, err_code, desc.as_str(), stream.as_str()),
        (400, 10060, "expected stream does not match", "EXPECT")
    );
    // Another last sequence.
    let ack = js
        .ack_h(
            "foo.bar",
            &[
                ("Nats-Expected-Stream", "EXPECT"),
                ("Nats-Expected-Last-Sequence", "10"),
            ],
            b"HELLO",
        )
        .await?;
    ctx.observe("expected last sequence 10", &ack);
    let (code, err_code, desc, _) = ack_err(&ack)?;
    check_eq!(
        (code, err_code, desc.as_str()),
        (400, 10071, "wrong last sequence: 1")
    );
    // Expecting no messages at all.
    let ack = js
        .ack_h(
            "foo.bar",
            &[
                ("Nats-Expected-Stream", "EXPECT"),
                ("Nats-Expected-Last-Sequence", "0"),
            ],
            b"HELLO",
        )
        .await?;
    let (code, err_code, desc, _) = ack_err(&ack)?;
    check_eq!(
        (code, err_code, desc.as_str()),
        (400, 10071, "wrong last sequence: 1")
    );
    // A message id, then another expecting the last id to be BBB.
    let ack = js
        .ack_h("foo.bar", &[("Nats-Msg-Id", "AAA")], b"HELLO")
        .await?;
    check_eq!(ack, pub_ack_text("EXPECT", 2));
    let ack = js
        .ack_h(
            "foo.bar",
            &[("Nats-Msg-Id", "ZZZ"), ("Nats-Expected-Last-Msg-Id", "BBB")],
            b"HELLO",
        )
        .await?;
    ctx.observe("expected last msg id BBB", &ack);
    let (code, err_code, desc, _) = ack_err(&ack)?;
    check_eq!(
        (code, err_code, desc.as_str()),
        (400, 10070, "wrong last msg ID: AAA")
    );
    // After a restart the last sequence (2) and last id (AAA) are rebuilt.
    drop(js);
    s.restart().await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let ack = js
        .ack_h(
            "foo.baz",
            &[
                ("Nats-Expected-Last-Sequence", "2"),
                ("Nats-Expected-Last-Msg-Id", "AAA"),
                ("Nats-Msg-Id", "BBB"),
            ],
            b"HELLO AGAIN",
        )
        .await?;
    check_eq!(ack, pub_ack_text("EXPECT", 3));
    Ok(())
}

// ---------------------------------------------------------------- retention, delete, get

async fn interest_no_consumers(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "DC", "storage": storage, "retention": "interest"}))
            .await?;
        // Without consumers nothing is kept, yet each message takes a sequence.
        for _ in 0..100 {
            js.publish("DC", "OK!").await?;
        }
        js.flush().await?;
        check_eq!(js.msgs("DC").await?, 0);
        let ack = js.ack("DC", "OK!").await?;
        check_eq!(ack, pub_ack_text("DC", 101));
        let state = js.state("DC").await?;
        check_eq!(num(&state["messages"]), 0);
        check_eq!(
            (num(&state["first_seq"]), num(&state["last_seq"])),
            (102, 101)
        );
        ctx.observe_json(&format!("{storage}: state"), &scrub(&state));
        js.delete_stream("DC").await?;
    }
    Ok(())
}

/// Publishes `n` times `payload` on `subject` without PubAcks, then flushes.
async fn publish_n(js: &mut Js, subject: &str, payload: &str, n: usize) -> Result<()> {
    for _ in 0..n {
        js.publish(subject, payload).await?;
    }
    js.flush().await
}

/// The state of stream `foo` without its deleted details.
async fn state_without_deleted(js: &mut Js) -> Result<Value> {
    let mut state = js.state("foo").await?;
    if let Some(m) = state.as_object_mut() {
        m.remove("deleted");
        m.remove("num_deleted");
    }
    Ok(state)
}

/// Removes `seq` from stream `foo` and checks the state is the one before
/// with a message less, its bytes less, and `first` first.
async fn delete_and_check(js: &mut Js, seq: u64, first: u64, bytes_per_msg: u64) -> Result<()> {
    let before = state_without_deleted(js).await?;
    let r = js
        .msg_delete("foo", &format!("{{\"seq\":{seq},\"no_erase\":true}}"))
        .await?;
    ensure!(
        r["success"] == json!(true),
        "Expected the delete of sequence {seq} to succeed: {r}"
    );
    let mut expected = before.clone();
    expected["messages"] = json!(num(&before["messages"]) - 1);
    expected["bytes"] = json!(num(&before["bytes"]) - bytes_per_msg);
    expected["first_seq"] = json!(first);
    let sm = js.msg_get("foo", &format!("{{\"seq\":{first}}}")).await?;
    ensure!(
        sm.get("error").is_none(),
        "Error fetching message for seq: {first} - {sm}"
    );
    expected["first_ts"] = sm["message"]["time"].clone();
    let after = state_without_deleted(js).await?;
    check_eq!(after, expected);
    Ok(())
}

async fn delete_msg(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        js.create(json!({"name": "foo", "retention": "limits",
            "max_age": 3_600_000_000_000u64, "storage": storage, "num_replicas": 1}))
            .await?;
        publish_n(&mut js, "foo", "Hello World!", 10).await?;
        let state = js.state("foo").await?;
        check_eq!(num(&state["messages"]), 10);
        let bytes_per_msg = num(&state["bytes"]) / 10;
        ensure!(bytes_per_msg > 0, "Expected non-zero bytes for msg size");
        // The middle, the first, the last, then gaps.
        for (seq, first) in [(5, 1), (1, 2), (10, 2), (3, 2), (2, 4)] {
            delete_and_check(&mut js, seq, first, bytes_per_msg).await?;
        }
        js.purge("foo", "").await?;
        publish_n(&mut js, "foo", "Hello World!", 10).await?;
        for (seq, first) in [(11, 12), (15, 12), (16, 12), (20, 12)] {
            delete_and_check(&mut js, seq, first, bytes_per_msg).await?;
        }
        let state = js.info_with("foo", "{\"deleted_details\":true}").await?["state"].clone();
        ctx.observe_json(&format!("{storage}: state"), &scrub(&state));
        if storage == "memory" {
            js.delete_stream("foo").await?;
            continue;
        }
        // File storage: the same state after a restart.
        drop(js);
        s.restart().await?;
        js = Js::connect(&ctx, &s).await?;
        let mut state = state_without_deleted(&mut js).await?;
        if let Some(m) = state.as_object_mut() {
            m.remove("first_ts");
            m.remove("last_ts");
        }
        check_eq!(
            state,
            json!({"messages": 6, "bytes": 6 * bytes_per_msg, "first_seq": 12,
                "last_seq": 20, "num_subjects": 1, "consumer_count": 0})
        );
        // The stored sequences, walked with next_by_subj.
        let mut seqs = Vec::new();
        let mut next = 0;
        loop {
            let r = js
                .msg_get(
                    "foo",
                    &format!("{{\"seq\":{next},\"next_by_subj\":\"foo\"}}"),
                )
                .await?;
            if r.get("error").is_some() {
                check_eq!(api_err(&r), (404, 10037, "no message found".to_string()));
                break;
            }
            let seq = num(&r["message"]["seq"]);
            ensure!(seq >= next && seqs.len() < 10, "walking foo: {r}");
            seqs.push(seq);
            next = seq + 1;
        }
        check_eq!(seqs, vec![12, 13, 14, 17, 18, 19]);
    }
    Ok(())
}

async fn msg_headers(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let jsc = js_context(&ctx, &s).await?;
    let headers = [("Accept-Encoding", "json"), ("Authorization", "s3cr3t")];
    let data = "Hello JetStream Headers - #1!";
    for storage in STORAGES {
        js.create(json!({"name": "foo", "retention": "limits",
            "max_age": 3_600_000_000_000u64, "storage": storage, "num_replicas": 1}))
            .await?;
        js.send("foo", None, &headers, data.as_bytes()).await?;
        js.flush().await?;
        let state = js.state("foo").await?;
        check_eq!(num(&state["messages"]), 1);
        ensure!(num(&state["bytes"]) > 0, "Expected non-zero bytes: {state}");
        // The stored headers are the block as sent.
        let r = js.msg_get("foo", "{\"seq\":1}").await?;
        ensure!(r.get("error").is_none(), "getting the stored message: {r}");
        check_eq!(
            r["message"]["hdrs"],
            json!(b64(header_block(&headers).as_bytes()))
        );
        check_eq!(r["message"]["data"], json!(b64(data.as_bytes())));
        ctx.observe_json(&format!("{storage}: get 1"), &scrub(&r));
        let sm = jsc.get_stream("foo").await?.get_raw_message(1).await?;
        check_eq!(
            (
                sm.headers.get("Accept-Encoding").map(|v| v.to_string()),
                sm.headers.get("Authorization").map(|v| v.to_string()),
                sm.payload.as_ref()
            ),
            (
                Some("json".to_string()),
                Some("s3cr3t".to_string()),
                data.as_bytes()
            )
        );
        js.delete_stream("foo").await?;
    }
    Ok(())
}

async fn msg_get_no_advisory(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "foo"})).await?;
    for _ in 0..100 {
        js.stored("foo", "ok").await?;
    }
    let jsc = js_context(&ctx, &s).await?;
    let stream = jsc.get_stream("foo").await?;
    js.sub("$JS.EVENT.ADVISORY.>", "2").await?;
    // A message get, by hand and through async-nats: no advisory.
    let r = js.msg_get("foo", "{\"seq\":1}").await?;
    ensure!(r.get("error").is_none(), "getting message 1: {r}");
    ctx.observe_json("get 1", &scrub(&r));
    let sm = stream.get_raw_message(1).await?;
    check_eq!((sm.sequence, sm.payload.as_ref()), (1, b"ok".as_slice()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let advisories = js.take_others().await?;
    check_eq!(advisories.len(), 0);
    // A stream info is audited: the subscription sees that one.
    js.info("foo").await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let advisories = loop {
        let got = js.take_others().await?;
        if !got.is_empty() || tokio::time::Instant::now() >= deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let subjects: Vec<&str> = advisories.iter().map(|m| m.subject.as_str()).collect();
    check_eq!(subjects, vec!["$JS.EVENT.ADVISORY.API"]);
    let audit: Value = serde_json::from_slice(&advisories[0].payload)?;
    ctx.observe("audit advisory type", audit["type"].to_string());
    Ok(())
}

/// A direct get request on `stream` with `body`: the reply's header block
/// and payload.
async fn direct(js: &mut Js, stream: &str, body: &str) -> Result<(String, String)> {
    let m = js
        .request_msg(
            &format!("$JS.API.DIRECT.GET.{stream}"),
            &[],
            body.as_bytes(),
        )
        .await?;
    Ok((
        headers_of(&m),
        String::from_utf8_lossy(&m.payload).into_owned(),
    ))
}

async fn direct_msg_get(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(
        json!({"name": "DSMG", "storage": "memory", "subjects": ["foo", "bar", "baz"],
        "max_msgs_per_subject": 1, "allow_direct": true}),
    )
    .await?;
    for subj in ["foo", "bar", "baz"] {
        js.stored(subj, subj).await?;
    }
    for (seq, subj) in [(1, "foo"), (2, "bar"), (3, "baz")] {
        let (h, data) = direct(&mut js, "DSMG", &json!({"last_by_subj": subj}).to_string()).await?;
        check_eq!(data, subj);
        check_eq!(header(&h, "Nats-Stream"), Some("DSMG"));
        let seq = seq.to_string();
        check_eq!(header(&h, "Nats-Sequence"), Some(seq.as_str()));
        check_eq!(header(&h, "Nats-Subject"), Some(subj));
        let stamp = header(&h, "Nats-Time-Stamp").unwrap_or_default();
        ensure!(
            humantime::parse_rfc3339(stamp).is_ok(),
            "Nats-Time-Stamp {stamp:?} in {h:?}"
        );
        ctx.observe(&format!("last {subj}"), mask_stamp(&h));
    }
    // Errors: a status line and no payload.
    for (body, want) in [
        ("", "NATS/1.0 408 Empty Request\r\n\r\n"),
        ("{}", "NATS/1.0 408 Empty Request\r\n\r\n"),
        (
            "{\"seq\":1,\"last_by_subj\":\"foo\"}",
            "NATS/1.0 408 Bad Request\r\n\r\n",
        ),
        (
            "{\"last_by_subj\":\"foobar\"}",
            "NATS/1.0 404 Message Not Found\r\n\r\n",
        ),
        ("{\"seq\":22}", "NATS/1.0 404 Message Not Found\r\n\r\n"),
    ] {
        let (h, data) = direct(&mut js, "DSMG", body).await?;
        check_eq!((h.as_str(), data.as_str()), (want, ""));
    }
    // async-nats: the message, and not found.
    let jsc = js_context(&ctx, &s).await?;
    let stream = jsc.get_stream("DSMG").await?;
    let m = stream.direct_get_last_for_subject("bar").await?;
    check_eq!((m.sequence, m.payload.as_ref()), (2, b"bar".as_slice()));
    let err = stream
        .direct_get(22)
        .await
        .err()
        .context("direct get of 22 should fail")?;
    check_eq!(format!("{:?}", err.kind()), "NotFound");
    Ok(())
}

async fn direct_msg_get_next(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(
        json!({"name": "DSMG", "storage": "memory", "subjects": ["foo", "bar", "baz"],
        "allow_direct": true}),
    )
    .await?;
    js.stored("foo", "foo").await?;
    for _ in 0..10 {
        js.stored("bar", "bar").await?;
    }
    for _ in 0..10 {
        js.stored("baz", "baz").await?;
    }
    js.stored("foo", "foo").await?;
    let mut got = Vec::new();
    for (seq, subj, want) in [
        (0, "foo", "1"),
        (1, "foo", "1"),
        (2, "foo", "22"),
        (2, "bar", "2"),
        (5, "baz", "12"),
        (14, "baz", "14"),
    ] {
        let body = format!("{{\"seq\": {seq}, \"next_by_subj\": \"{subj}\"}}");
        let (h, _) = direct(&mut js, "DSMG", &body).await?;
        check_eq!(
            (header(&h, "Nats-Sequence"), header(&h, "Nats-Subject")),
            (Some(want), Some(subj))
        );
        got.push(format!("{seq} {subj} -> {want}"));
    }
    ctx.observe("next", got.join(", "));
    let jsc = js_context(&ctx, &s).await?;
    let m = jsc
        .get_stream("DSMG")
        .await?
        .direct_get_next_for_subject("baz", Some(5))
        .await?;
    check_eq!((m.sequence, m.subject.as_str()), (12, "baz"));
    Ok(())
}

async fn direct_get_by_subject(ctx: Ctx) -> Result<()> {
    let conf = r#"jetstream: {max_mem_store: 64GB, max_file_store: 10TB, store_dir: "{{dir}}/js"}

ONLYME = {
    publish = { allow = "$JS.API.DIRECT.GET.KV.vid.22.>"}
}

accounts: {
    A: {
        jetstream: enabled
        users: [
            { user: admin, password: s3cr3t },
            { user: user, password: pwd, permissions: $ONLYME},
        ]
    },
}
"#;
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let mut admin = Js::connect_with(&ctx, &s, ",\"user\":\"admin\",\"pass\":\"s3cr3t\"").await?;
    admin
        .create(
            json!({"name": "KV", "storage": "memory", "subjects": ["vid.*.>"],
            "max_msgs_per_subject": 1, "allow_direct": true}),
        )
        .await?;
    // And a mirror that answers direct gets too.
    let r = admin
        .create(
            json!({"name": "M", "storage": "memory", "mirror": {"name": "KV"},
            "mirror_direct": true}),
        )
        .await?;
    ctx.observe_json("mirror", &scrub(&r["config"]));
    admin.stored("vid.22.speed", "100").await?;
    admin.stored("vid.33.speed", "55").await?;
    // The restricted user may ask for vid.22 only.
    let mut user = Js::connect_with(&ctx, &s, ",\"user\":\"user\",\"pass\":\"pwd\"").await?;
    let m = user
        .request_msg("$JS.API.DIRECT.GET.KV.vid.22.speed", &[], b"")
        .await?;
    check_eq!(String::from_utf8_lossy(&m.payload), "100");
    // KV or its mirror answers: the stream is not recorded.
    let h = mask_stamp(&headers_of(&m)).replace("Nats-Stream: M\r\n", "Nats-Stream: KV\r\n");
    ctx.observe("vid.22", h);
    user.send(
        "$JS.API.DIRECT.GET.KV.vid.33.speed",
        Some("_INBOX.parity.x"),
        &[],
        b"",
    )
    .await?;
    let err = user.conn().expect_err().await?;
    check_eq!(
        err,
        "Permissions Violation for Publish to \"$JS.API.DIRECT.GET.KV.vid.33.speed\""
    );
    user.conn()
        .expect_nothing(Duration::from_millis(200))
        .await?;
    // The mirror answers some of the requests for KV.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let mut saw_mirror = false;
    while !saw_mirror && tokio::time::Instant::now() < deadline {
        let m = user
            .request_msg("$JS.API.DIRECT.GET.KV.vid.22.speed", &[], b"")
            .await?;
        let h = headers_of(&m);
        if header(&h, "Nats-Stream") == Some("M") {
            check_eq!(String::from_utf8_lossy(&m.payload), "100");
            saw_mirror = true;
        }
    }
    ensure!(
        saw_mirror,
        "Expected to see the mirror respond at least once"
    );
    Ok(())
}

async fn allow_direct_after_update(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut jsc = js_context(&ctx, &s).await?;
    jsc.set_timeout(Duration::from_millis(300));
    let config = |allow_direct: bool| stream::Config {
        name: "TEST".into(),
        subjects: vec!["*".into()],
        allow_direct,
        ..Default::default()
    };
    jsc.create_stream(config(false)).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.stored("foo", "msg").await?;
    let si = jsc.update_stream(config(true)).await?;
    check_eq!(si.config.allow_direct, true);
    let m = jsc
        .get_stream("TEST")
        .await?
        .direct_get_last_for_subject("foo")
        .await?;
    check_eq!(m.payload.as_ref(), b"msg".as_slice());
    // Turned off again: nobody answers.
    let si = jsc.update_stream(config(false)).await?;
    check_eq!(si.config.allow_direct, false);
    let err = jsc
        .get_stream("TEST")
        .await?
        .direct_get_last_for_subject("foo")
        .await
        .err()
        .context("a direct get should fail once allow_direct is off")?;
    ctx.observe("direct get when off", format!("{:?}", err.kind()));
    js.no_reply(
        "$JS.API.DIRECT.GET.TEST.foo",
        &[],
        b"",
        Duration::from_millis(200),
    )
    .await?;
    Ok(())
}

async fn suppress_allow_direct(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut jsc = js_context(&ctx, &s).await?;
    jsc.set_timeout(Duration::from_millis(300));
    let config = |allow_direct: bool| stream::Config {
        name: "TEST".into(),
        subjects: vec!["key.*".into()],
        max_messages_per_subject: 1,
        allow_direct,
        ..Default::default()
    };
    let st = jsc.create_stream(config(true)).await?;
    check_eq!(st.cached_info().config.allow_direct, true);
    let si = jsc.update_stream(config(false)).await?;
    check_eq!(si.config.allow_direct, false);
    let mut js = Js::connect(&ctx, &s).await?;
    js.stored("key.22", "msg").await?;
    let err = jsc
        .get_stream("TEST")
        .await?
        .direct_get_last_for_subject("foo")
        .await
        .err()
        .context("a direct get should fail with allow_direct off")?;
    ctx.observe("direct get when off", format!("{:?}", err.kind()));
    // Not even the stored key is answered.
    js.no_reply(
        "$JS.API.DIRECT.GET.TEST.key.22",
        &[],
        b"",
        Duration::from_millis(200),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- republish

async fn republish_cycle(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for (src, dest) in [
        ("foo.>", "foo.>"),
        ("bar.bar", "foo.bar"),
        ("baz", "bar.bar"),
    ] {
        let r = js
            .try_create(&json!({"name": "RPC", "storage": "memory",
                "subjects": ["foo.>", "bar.*", "baz"],
                "republish": {"src": src, "dest": dest}}))
            .await?;
        check_eq!(
            r["type"],
            json!("io.nats.jetstream.api.v1.stream_create_response")
        );
        let (code, err_code, desc) = api_err(&r);
        ensure!(
            desc.contains("republish destination forms a cycle"),
            "Expected cycle error, got {r}"
        );
        check_eq!((code, err_code), (500, 10052));
        ctx.observe_json(&format!("{src} -> {dest}"), &r);
    }
    Ok(())
}

/// Creates `cfg`, subscribes `sub`, stores 100 messages of 512 `Z` on
/// `subject` and returns what the subscription got.
async fn republished(ctx: &Ctx, cfg: Value, sub: &str, subject: &str) -> Result<Vec<Msg>> {
    let s = js_server(ctx).await?;
    let mut js = Js::connect(ctx, &s).await?;
    let r = js.create(cfg).await?;
    ctx.observe_json("config", &r["config"]);
    js.sub(sub, "9").await?;
    let msg = "Z".repeat(512);
    for seq in 1..=100 {
        let ack = js.ack(subject, &msg).await?;
        check_eq!(ack, pub_ack_text("Stream1", seq));
    }
    let got: Vec<Msg> = js
        .take_others()
        .await?
        .into_iter()
        .filter(|m| m.sid == "9")
        .collect();
    if let Some(first) = got.first() {
        ctx.observe("first", format!("{} {}", first.subject, headers_of(first)));
    }
    Ok(got)
}

async fn republish_one_token_match(ctx: Ctx) -> Result<()> {
    let cfg = json!({"name": "Stream1", "storage": "memory", "subjects": ["one", "four"],
        "republish": {"src": "one", "dest": "uno", "headers_only": false}});
    let got = republished(&ctx, cfg, "uno", "one").await?;
    check_eq!(got.len(), 100);
    ensure!(!got[0].payload.is_empty(), "Expected msg data");
    check_eq!(got[0].subject, "uno");
    check_eq!(
        headers_of(&got[0]),
        "NATS/1.0\r\nNats-Stream: Stream1\r\nNats-Subject: one\r\nNats-Sequence: 1\r\nNats-Last-Sequence: 0\r\n\r\n"
    );
    let last = headers_of(&got[99]);
    check_eq!(header(&last, "Nats-Last-Sequence"), Some("99"));
    Ok(())
}

async fn republish_multi_token_match(ctx: Ctx) -> Result<()> {
    let cfg = json!({"name": "Stream1", "storage": "memory", "subjects": ["one.>", "four.>"],
        "republish": {"src": "one.two.>", "dest": "uno.dos.>", "headers_only": false}});
    let got = republished(&ctx, cfg, "uno.dos.>", "one.two.three").await?;
    check_eq!(got.len(), 100);
    ensure!(!got[0].payload.is_empty(), "Expected msg data");
    check_eq!(got[0].subject, "uno.dos.three");
    Ok(())
}

async fn republish_any_subject_match(ctx: Ctx) -> Result<()> {
    let cfg = json!({"name": "Stream1", "storage": "memory", "subjects": ["one.>", "four.>"],
        "republish": {"dest": "uno.dos.>", "headers_only": false}});
    let got = republished(&ctx, cfg, "uno.dos.>", "one.two.three").await?;
    check_eq!(got.len(), 100);
    ensure!(!got[0].payload.is_empty(), "Expected msg data");
    check_eq!(got[0].subject, "uno.dos.one.two.three");
    Ok(())
}

async fn republish_multi_token_no_match(ctx: Ctx) -> Result<()> {
    let cfg = json!({"name": "Stream1", "storage": "memory", "subjects": ["one.>", "four.>"],
        "republish": {"src": "one.two.>", "dest": "uno.dos.>", "headers_only": true}});
    let got = republished(&ctx, cfg, "uno.dos.>", "four.five.six").await?;
    check_eq!(got.len(), 0);
    Ok(())
}

async fn republish_one_token_no_match(ctx: Ctx) -> Result<()> {
    let cfg = json!({"name": "Stream1", "storage": "memory", "subjects": ["one", "four"],
        "republish": {"src": "one", "dest": "uno", "headers_only": true}});
    let got = republished(&ctx, cfg, "uno", "four").await?;
    check_eq!(got.len(), 0);
    Ok(())
}

async fn republish_headers_only(ctx: Ctx) -> Result<()> {
    let cfg = json!({"name": "Stream1", "storage": "memory", "subjects": ["foo", "bar", "baz"],
        "republish": {"dest": "RP.>", "headers_only": true}});
    let got = republished(&ctx, cfg, "RP.>", "foo").await?;
    check_eq!(got.len(), 100);
    ensure!(
        got[0].payload.is_empty(),
        "Expected no msg just headers, but got {} bytes",
        got[0].payload.len()
    );
    let first = headers_of(&got[0]);
    check_eq!(header(&first, "Nats-Msg-Size"), Some("512"));
    check_eq!(got[0].subject, "RP.foo");
    Ok(())
}

// ---------------------------------------------------------------- sealed, append-only, roll-ups

async fn sealed_after_restart(ctx: Ctx) -> Result<()> {
    let mut s = js_server(&ctx).await?;
    let jsc = js_context(&ctx, &s).await?;
    let config = |sealed: bool| stream::Config {
        name: "foo".into(),
        sealed,
        ..Default::default()
    };
    jsc.create_stream(config(false)).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for _ in 0..100 {
        js.stored("foo", "OK").await?;
    }
    let si = jsc.update_stream(config(true)).await?;
    check_eq!(si.config.sealed, true);
    drop((js, jsc));
    s.restart().await?;
    let jsc = js_context(&ctx, &s).await?;
    let mut stream = jsc.get_stream("foo").await?;
    let si = stream.info().await?;
    check_eq!((si.state.messages, si.config.sealed), (100, true));
    let mut js = Js::connect(&ctx, &s).await?;
    let info = js.info("foo").await?;
    ctx.observe_json("info after restart", &scrub(&info));
    Ok(())
}

async fn sealed_stream(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    // A stream can not start sealed.
    let r = js
        .try_create(
            &json!({"name": "SEALED", "num_replicas": 1, "storage": "memory",
            "sealed": true}),
        )
        .await?;
    check_eq!(
        api_err(&r),
        (
            500,
            10052,
            "stream configuration for create can not be sealed".to_string()
        )
    );
    let cfg = json!({"name": "SEALED", "num_replicas": 1, "max_age": 60_000_000_000u64,
        "storage": "memory"});
    js.create(cfg.clone()).await?;
    for _ in 0..100 {
        js.stored("SEALED", "OK").await?;
    }
    let mut sealed = cfg.clone();
    sealed["sealed"] = json!(true);
    let r = js.update(&sealed).await?;
    check_eq!(api_err(&r).0, 0);
    // Sealing clears max_age, moves to discard new, denies delete and purge.
    let c = js.info("SEALED").await?["config"].clone();
    check_eq!(
        (
            c["sealed"].clone(),
            c["max_age"].clone(),
            c["discard"].clone(),
            c["deny_delete"].clone(),
            c["deny_purge"].clone(),
            c["allow_rollup_hdrs"].clone()
        ),
        (
            json!(true),
            json!(0),
            json!("new"),
            json!(true),
            json!(true),
            json!(false)
        )
    );
    ctx.observe_json("sealed config", &c);
    // Not reversible.
    let r = js
        .update(
            &json!({"name": "SEALED", "num_replicas": 1, "storage": "memory",
            "sealed": false}),
        )
        .await?;
    check_eq!(
        api_err(&r),
        (
            500,
            10052,
            "stream configuration update can not unseal a sealed stream".to_string()
        )
    );
    // Publish, delete and purge all fail; deleting the stream works.
    let sealed_err = (400, 10109, "invalid operation on sealed stream".to_string());
    let ack = js.ack("SEALED", "OK").await?;
    ctx.observe("publish", &ack);
    let (code, err_code, desc, _) = ack_err(&ack)?;
    check_eq!((code, err_code, desc), sealed_err.clone());
    let r = js.msg_delete("SEALED", "{\"seq\":1}").await?;
    check_eq!(api_err(&r), sealed_err.clone());
    let r = js.purge("SEALED", "").await?;
    check_eq!(api_err(&r), sealed_err.clone());
    ctx.observe_json("purge", &r);
    let r = js.delete_stream("SEALED").await?;
    check_eq!(r["success"], json!(true));
    Ok(())
}

async fn append_only(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let mut cfg = json!({"name": "AUDIT", "storage": "memory", "subjects": ["foo"],
        "num_replicas": 1, "deny_delete": true, "deny_purge": true});
    let r = js.create(cfg.clone()).await?;
    check_eq!(
        (
            r["config"]["deny_delete"].clone(),
            r["config"]["deny_purge"].clone()
        ),
        (json!(true), json!(true))
    );
    for _ in 0..10 {
        js.stored("foo", "ok").await?;
    }
    let r = js.msg_delete("AUDIT", "{\"seq\":1}").await?;
    ctx.observe_json("delete", &r);
    check_eq!(
        api_err(&r),
        (500, 10057, "message delete not permitted".to_string())
    );
    let r = js.purge("AUDIT", "").await?;
    ctx.observe_json("purge", &r);
    check_eq!(
        api_err(&r),
        (500, 10110, "stream purge not permitted".to_string())
    );
    // Deny flags can not be lifted.
    cfg["deny_delete"] = json!(false);
    cfg["deny_purge"] = json!(false);
    let r = js.update(&cfg).await?;
    ctx.observe_json("update", &r);
    check_eq!(
        api_err(&r),
        (
            500,
            10052,
            "stream configuration update can not cancel deny message deletes".to_string()
        )
    );
    check_eq!(js.msgs("AUDIT").await?, 10);
    Ok(())
}

async fn rollup_requires_purge(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let r = js
        .try_create(&json!({"name": "SENSORS", "storage": "file",
            "subjects": ["sensor.*.temp"], "max_msgs_per_subject": 10,
            "allow_rollup_hdrs": true, "deny_purge": true, "num_replicas": 1}))
        .await?;
    ctx.observe_json("create", &r);
    check_eq!(
        api_err(&r),
        (
            500,
            10052,
            "roll-ups require the purge permission".to_string()
        )
    );
    Ok(())
}

/// The count of `subject` in the stream's subjects (info with a filter).
async fn subject_count(js: &mut Js, stream: &str, subject: &str) -> Result<u64> {
    let info = js
        .info_with(stream, &json!({"subjects_filter": subject}).to_string())
        .await?;
    Ok(info["state"]["subjects"]
        .as_object()
        .map(|m| m.values().map(num).sum())
        .unwrap_or(0))
}

async fn rollups(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(
        json!({"name": "SENSORS", "storage": "file", "subjects": ["sensor.*.temp"],
        "max_msgs_per_subject": 10, "allow_rollup_hdrs": true, "num_replicas": 1}),
    )
    .await?;
    // 1000 measurements for 9 sensors.
    for i in 0..1000u32 {
        let (id, temp) = (i % 9 + 1, 60 + (i * 7) % 42);
        js.publish(&format!("sensor.{id}.temp"), &temp.to_string())
            .await?;
    }
    js.flush().await?;
    let sensor = "sensor.3.temp";
    check_eq!(subject_count(&mut js, "SENSORS", sensor).await?, 10);
    check_eq!(js.msgs("SENSORS").await?, 90);
    // Roll up the subject: only the roll-up is left of it.
    let ack = js.ack_h(sensor, &[("Nats-Rollup", "sub")], b"81").await?;
    check_eq!(ack, pub_ack_text("SENSORS", 1001));
    check_eq!(subject_count(&mut js, "SENSORS", sensor).await?, 1);
    check_eq!(js.msgs("SENSORS").await?, 81);
    // Roll up all: only one message in the whole stream.
    let ack = js.ack_h(sensor, &[("Nats-Rollup", "all")], b"81").await?;
    check_eq!(ack, pub_ack_text("SENSORS", 1002));
    check_eq!(subject_count(&mut js, "SENSORS", sensor).await?, 1);
    let state = js.state("SENSORS").await?;
    check_eq!(num(&state["messages"]), 1);
    ctx.observe_json("after rollup all", &scrub(&state));
    // A stream that does not allow roll-ups refuses them.
    js.create(json!({"name": "PLAIN", "storage": "memory", "subjects": ["plain"]}))
        .await?;
    let ack = js.ack_h("plain", &[("Nats-Rollup", "sub")], b"x").await?;
    ctx.observe("rollup not allowed", &ack);
    let (code, err_code, desc, stream) = ack_err(&ack)?;
    check_eq!(
        (code, err_code, desc.as_str(), stream.as_str()),
        (500, 10111, "rollup not permitted", "PLAIN")
    );
    check_eq!(js.msgs("PLAIN").await?, 0);
    Ok(())
}

// ---------------------------------------------------------------- last by subject

async fn get_last_by_subject(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let jsc = js_context(&ctx, &s).await?;
    for storage in ["file", "memory"] {
        js.create(
            json!({"name": "KV", "subjects": ["kv.>"], "storage": storage,
            "num_replicas": 1, "max_msgs_per_subject": 20}),
        )
        .await?;
        check_eq!(js.info("KV").await?["config"]["name"], json!("KV"));
        for i in 1..=1000 {
            let msg = format!("VAL-{i}");
            for subj in ["kv.foo", "kv.bar", "kv.baz"] {
                js.publish(subj, &msg).await?;
            }
        }
        js.flush().await?;
        // Both a sequence and a subject: an error.
        let r = js
            .msg_get("KV", "{\"last_by_subj\":\"kv.foo\",\"seq\":950}")
            .await?;
        check_eq!(api_err(&r), (400, 10003, "bad request".to_string()));
        for (subject, seq, stored_on) in [
            ("kv.foo", 2998, "kv.foo"),
            ("kv.bar", 2999, "kv.bar"),
            ("kv.baz", 3000, "kv.baz"),
            ("kv.*", 3000, "kv.baz"),
            (">", 3000, "kv.baz"),
        ] {
            let r = js
                .msg_get("KV", &json!({"last_by_subj": subject}).to_string())
                .await?;
            ensure!(
                r.get("error").is_none(),
                "Did not receive correct response: {r}"
            );
            let m = &r["message"];
            check_eq!(m["data"], json!(b64(b"VAL-1000")));
            check_eq!(num(&m["seq"]), seq);
            check_eq!(m["subject"], json!(stored_on));
        }
        let m = jsc
            .get_stream("KV")
            .await?
            .get_last_raw_message_by_subject("kv.bar")
            .await?;
        check_eq!(
            (m.sequence, m.payload.as_ref()),
            (2999, b"VAL-1000".as_slice())
        );
        let state = js.state("KV").await?;
        ctx.observe_json(&format!("{storage}: state"), &scrub(&state));
        js.delete_stream("KV").await?;
    }
    Ok(())
}

async fn get_last_after_update(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let jsc = js_context(&ctx, &s).await?;
    let mut config = stream::Config {
        name: "TEST".into(),
        subjects: vec!["foo".into()],
        ..Default::default()
    };
    jsc.create_stream(config.clone()).await?;
    // Now add other subjects.
    config
        .subjects
        .extend(["bar".to_string(), "baz".to_string()]);
    jsc.update_stream(config).await?;
    for (subj, data) in [
        ("foo", "OK1"),
        ("bar", "OK1"),
        ("foo", "OK2"),
        ("bar", "OK2"),
    ] {
        jsc.publish(subj, data.into()).await?.await?;
    }
    let mut js = Js::connect(&ctx, &s).await?;
    for (subject, seq) in [("foo", 3), ("bar", 4)] {
        let r = js
            .msg_get("TEST", &json!({"last_by_subj": subject}).to_string())
            .await?;
        ensure!(
            r.get("error").is_none(),
            "Did not receive correct response: {r}"
        );
        check_eq!(num(&r["message"]["seq"]), seq);
        check_eq!(r["message"]["subject"], json!(subject));
        ctx.observe_json(&format!("last {subject}"), &scrub(&r));
    }
    Ok(())
}

async fn last_sequence_by_subject(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in ["file", "memory"] {
        js.create(
            json!({"name": "KV", "subjects": ["kv.>"], "storage": storage,
            "num_replicas": 1, "max_msgs_per_subject": 1}),
        )
        .await?;
        for (subj, data) in [("kv.foo", "1"), ("kv.bar", "2"), ("kv.baz", "3")] {
            js.stored(subj, data).await?;
        }
        let mut answers = Vec::new();
        for (subj, seq, ok, want) in [
            ("kv.foo", "1", true, "4"),
            ("kv.foo", "1", false, "wrong last sequence: 4"),
            ("kv.bar", "2", true, "5"),
            ("kv.bar", "5", true, "6"),
            ("kv.xxx", "5", false, "wrong last sequence: 0"),
        ] {
            let ack = js
                .ack_h(
                    subj,
                    &[("Nats-Expected-Last-Subject-Sequence", seq)],
                    b"HELLO",
                )
                .await?;
            let v: Value = serde_json::from_str(&ack)?;
            if ok {
                ensure!(v.get("error").is_none(), "Unexpected error: {ack}");
                check_eq!(v["seq"].to_string(), want);
            } else {
                check_eq!(api_err(&v), (400, 10071, want.to_string()));
            }
            answers.push(ack);
        }
        ctx.observe(&format!("{storage}: acks"), answers.join(" "));
        js.delete_stream("KV").await?;
    }
    Ok(())
}

async fn limits_duplicate_window(ctx: Ctx) -> Result<()> {
    let conf = r#"jetstream: {
    max_mem_store: 2MB,
    max_file_store: 8MB,
    store_dir: "{{dir}}/js",
    limits: {duplicate_window: "1m", max_request_batch: 250}
}
no_auth_user: u
accounts {
    ONE {
        users = [ { user: "u", pass: "s3cr3t!" } ]
        jetstream: enabled
    }
    $SYS { users = [ { user: "admin", pass: "s3cr3t!" } ] }
}
"#;
    let s = ctx.server(ServerSpec::new().conf(conf)).await?;
    let jsc = js_context(&ctx, &s).await?;
    let config = |name: &str, window: Duration| stream::Config {
        name: name.into(),
        duplicate_window: window,
        ..Default::default()
    };
    // The default window is the server's limit.
    let st = jsc.create_stream(config("foo", Duration::ZERO)).await?;
    check_eq!(
        st.cached_info().config.duplicate_window,
        Duration::from_secs(60)
    );
    let st = jsc
        .create_stream(config("bar", Duration::from_millis(1500)))
        .await?;
    check_eq!(
        st.cached_info().config.duplicate_window,
        Duration::from_millis(1500)
    );
    let over = "500/10052 duplicates window can not be larger then server limit of 1m0s";
    let err = jsc
        .update_stream(config("bar", Duration::from_secs(120)))
        .await
        .err()
        .context("updating bar to a 2m window should fail")?;
    check_eq!(server_error(&err), over);
    let err = jsc
        .create_stream(config("baz", Duration::from_secs(120)))
        .await
        .err()
        .context("creating baz with a 2m window should fail")?;
    check_eq!(server_error(&err), over);
    // By hand, the exact response.
    let mut js = Js::connect(&ctx, &s).await?;
    let r = js
        .try_create(&json!({"name": "baz", "duplicate_window": 120_000_000_000u64}))
        .await?;
    ctx.observe_json("create baz", &r);
    check_eq!(
        api_err(&r),
        (
            500,
            10052,
            "duplicates window can not be larger then server limit of 1m0s".to_string()
        )
    );
    Ok(())
}

// ---------------------------------------------------------------- purge

/// The sequences of the stream's messages that match `subject`, walked with
/// `next_by_subj` (what a filtered consumer would be delivered).
async fn walk_seqs(js: &mut Js, stream: &str, subject: &str) -> Result<Vec<u64>> {
    let (mut seqs, mut next) = (Vec::new(), 0);
    loop {
        let body = json!({"seq": next, "next_by_subj": subject}).to_string();
        let r = js.msg_get(stream, &body).await?;
        if r.get("error").is_some() {
            check_eq!(api_err(&r), (404, 10037, "no message found".to_string()));
            return Ok(seqs);
        }
        let seq = num(&r["message"]["seq"]);
        ensure!(seq >= next && seqs.len() < 5000, "walking {subject}: {r}");
        seqs.push(seq);
        next = seq + 1;
    }
}

/// How many messages of the stream match `subject` (see [`walk_seqs`]).
async fn walk_count(js: &mut Js, stream: &str, subject: &str) -> Result<u64> {
    Ok(walk_seqs(js, stream, subject).await?.len() as u64)
}

/// Stores `n` messages on each of `subjects` in turn, without PubAcks.
async fn publish_rounds(js: &mut Js, n: usize, subjects: &[&str]) -> Result<()> {
    for _ in 0..n {
        for subj in subjects {
            js.publish(subj, "OK").await?;
        }
    }
    js.flush().await
}

async fn purge_filter_seq_keep(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in ["file", "memory"] {
        let cfg = json!({"name": "KV", "subjects": ["kv.>"], "storage": storage,
            "num_replicas": 1, "max_msgs_per_subject": 100});
        js.create(cfg.clone()).await?;
        publish_rounds(&mut js, 1000, &["kv.foo", "kv.bar", "kv.baz"]).await?;
        for i in 1..=700 {
            js.publish(&format!("kv.{i}"), "OK").await?;
        }
        js.flush().await?;
        check_eq!(js.msgs("KV").await?, 1000);
        // Sequence and keep are mutually exclusive.
        let r = js.purge("KV", "{\"seq\":10,\"keep\":10}").await?;
        check_eq!(api_err(&r), (400, 10003, "bad request".to_string()));
        check_eq!(r["success"], Value::Null);
        let mut purged = Vec::new();
        for (body, total, subject, left) in [
            ("{\"filter\":\"kv.foo\"}", 900, "kv.foo", 0),
            ("{\"filter\":\"kv.bar\",\"keep\":1}", 801, "kv.bar", 1),
            ("{\"filter\":\"kv.baz\",\"seq\":2851}", 751, "kv.baz", 50),
            ("{\"filter\":\"kv.*\"}", 0, "kv.*", 0),
        ] {
            let r = js.purge("KV", body).await?;
            ensure!(r["success"] == json!(true), "Got a bad response {r}");
            purged.push(num(&r["purged"]));
            check_eq!(js.msgs("KV").await?, total);
            check_eq!(walk_count(&mut js, "KV", subject).await?, left);
        }
        check_eq!(purged, vec![100, 99, 50, 751]);
        // Keep 10 of one subject, twice.
        for (body, prefill, total, left_subject, left) in [
            (
                "{\"filter\":\"kv.foo\",\"keep\":10}",
                true,
                10,
                "kv.foo",
                10,
            ),
            (
                "{\"filter\":\"kv.foo\",\"keep\":10}",
                false,
                10,
                "kv.foo",
                10,
            ),
            ("{\"keep\":10}", true, 10, ">", 10),
            ("{\"seq\":90}", true, 11, ">", 11),
        ] {
            if prefill {
                js.delete_stream("KV").await?;
                js.create(cfg.clone()).await?;
                publish_rounds(&mut js, 100, &["kv.foo"]).await?;
            }
            let r = js.purge("KV", body).await?;
            ensure!(r["success"] == json!(true), "Got a bad response {r}");
            check_eq!(js.msgs("KV").await?, total);
            check_eq!(walk_count(&mut js, "KV", left_subject).await?, left);
            ctx.observe_json(&format!("{storage}: {body}"), &r);
        }
        js.delete_stream("KV").await?;
    }
    Ok(())
}

async fn purge_by_sequence(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in ["file", "memory"] {
        js.create(
            json!({"name": "KV", "subjects": ["kv.*.*"], "storage": storage,
            "num_replicas": 1, "max_msgs_per_subject": 5}),
        )
        .await?;
        for subject in ["kv.myapp.username", "kv.myapp.password"] {
            for i in 0..20 {
                js.stored(subject, &format!("value {i}")).await?;
            }
        }
        let username = walk_seqs(&mut js, "KV", "kv.myapp.username").await?;
        check_eq!(username, vec![16, 17, 18, 19, 20]);
        let password = walk_seqs(&mut js, "KV", "kv.myapp.password").await?;
        check_eq!(password, vec![36, 37, 38, 39, 40]);
        // Up to but not including 18, of username only.
        let r = js
            .purge("KV", "{\"filter\":\"kv.myapp.username\",\"seq\":18}")
            .await?;
        ctx.observe_json(&format!("{storage}: purge"), &r);
        check_eq!(num(&r["purged"]), 2);
        let username = walk_seqs(&mut js, "KV", "kv.myapp.username").await?;
        check_eq!(username, vec![18, 19, 20]);
        let password = walk_seqs(&mut js, "KV", "kv.myapp.password").await?;
        check_eq!(password, vec![36, 37, 38, 39, 40]);
        js.delete_stream("KV").await?;
    }
    Ok(())
}

async fn discard_new_per_subject(ctx: Ctx) -> Result<()> {
    let s = js_server(&ctx).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    for storage in STORAGES {
        let mut cfg = json!({"name": "KV", "subjects": ["KV.>"], "storage": storage,
            "allow_direct": true, "discard_new_per_subject": true, "max_msgs": 10,
            "num_replicas": 1});
        // It needs the discard new policy ...
        let r = js.try_create(&cfg).await?;
        check_eq!(
            api_err(&r),
            (
                500,
                10052,
                "discard new per subject requires discard new policy to be set".to_string()
            )
        );
        // ... and a limit of messages per subject.
        cfg["discard"] = json!("new");
        let r = js.try_create(&cfg).await?;
        check_eq!(
            api_err(&r),
            (
                500,
                10052,
                "discard new per subject requires max msgs per subject > 0".to_string()
            )
        );
        cfg["max_msgs_per_subject"] = json!(1);
        let r = js.create(cfg).await?;
        check_eq!(r["config"]["discard_new_per_subject"], json!(true));
        ctx.observe_json(&format!("{storage}: config"), &r["config"]);
        // The second message of a subject is refused, though the stream has room.
        check_eq!(js.ack("KV.foo", "").await?, pub_ack_text("KV", 1));
        let ack = js.ack("KV.foo", "").await?;
        ctx.observe(&format!("{storage}: second KV.foo"), &ack);
        let (code, err_code, desc, _) = ack_err(&ack)?;
        check_eq!(
            (code, err_code, desc.as_str()),
            (503, 10077, "maximum messages per subject exceeded")
        );
        check_eq!(js.ack("KV.bar", "").await?, pub_ack_text("KV", 2));
        js.delete_stream("KV").await?;
    }
    Ok(())
}

/// A server whose JetStream store is `store` (a folder shared by the servers
/// that stand for one restarted Go server).
async fn js_server_on(ctx: &Ctx, store: &std::path::Path) -> Result<Server> {
    let conf = format!("jetstream {{ store_dir: \"{}\" }}\n", store.display());
    ctx.server(ServerSpec::new().conf(&conf)).await
}

async fn expire_all_while_down(ctx: Ctx) -> Result<()> {
    let store = ctx.new_dir("store")?;
    let mut s = js_server_on(&ctx, &store).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    js.create(json!({"name": "TEST", "max_age": 250_000_000}))
        .await?;
    publish_n(&mut js, "TEST", "OK", 10_000).await?;
    check_eq!(js.stored("TEST", "OK").await?, 10_001);
    drop(js);
    s.stop().await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Started again after all expired: none left.
    let s = js_server_on(&ctx, &store).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let state = js.state("TEST").await?;
    check_eq!(num(&state["messages"]), 0);
    ctx.observe_json("state after restart", &scrub(&state));
    for _ in 0..10 {
        js.stored("TEST", "OK").await?;
    }
    check_eq!(js.msgs("TEST").await?, 10);
    Ok(())
}

async fn large_expires_and_restart(ctx: Ctx) -> Result<()> {
    let store = ctx.new_dir("store")?;
    let mut s = js_server_on(&ctx, &store).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let max_age = Duration::from_secs(2);
    js.create(json!({"name": "S", "subjects": ["foo"], "max_age": max_age.as_nanos() as u64}))
        .await?;
    let start = tokio::time::Instant::now();
    js.stored("foo", "ok").await?;
    // Stopped and started again a second before the message expires.
    tokio::time::sleep((max_age - Duration::from_secs(1)).saturating_sub(start.elapsed())).await;
    drop(js);
    s.stop().await?;
    let s = js_server_on(&ctx, &store).await?;
    let mut js = Js::connect(&ctx, &s).await?;
    let deadline = start + Duration::from_secs(5);
    loop {
        let msgs = js.msgs("S").await?;
        if msgs == 0 {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "Expected no messages, got {msgs}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    ctx.observe_json("state once expired", &scrub(&js.state("S").await?));
    let waited = start.elapsed();
    ensure!(
        waited <= max_age + Duration::from_secs(1),
        "Waited to long {waited:?} vs {max_age:?} for messages to expire"
    );
    Ok(())
}
