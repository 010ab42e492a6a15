//! Scenarios for the WebSocket listener (server/websocket_test.go): the
//! HTTP upgrade and its refusals, origin checks, frames read from clients
//! (masked, fragmented, compressed, cut anywhere), control frames and close
//! codes, how the server frames what it sends (browsers, compression),
//! authentication of its own, and monitoring. The WebSocket client is the
//! kit's (`kit::ws`), which can also send frames that break the rules.

use crate::check_eq;
use crate::kit::tls_raw::TlsOptions;
use crate::kit::ws::{
    self, client_frame, send_upgrade, Upgrade, WsClient, KEY_ACCEPT, OP_BINARY, OP_CLOSE,
    OP_CONTINUATION, OP_PING, OP_PONG,
};
use crate::kit::{eventually, Ctx, Server, ServerSpec};
use crate::registry::Scenario;
use anyhow::{bail, ensure, Context, Result};
use futures::FutureExt;
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("websocket/pub-sub", |c| pub_sub(c).boxed()).full("TestWSPubSub"),
        Scenario::new("websocket/upgrade-refusals", |c| {
            upgrade_refusals(c).boxed()
        })
        .full("TestWSUpgradeValidationErrors"),
        Scenario::new("websocket/origins", |c| origins(c).boxed())
            .full("TestWSCheckOrigin")
            .partial_because(
                "TestWSSetOriginOptions",
                "its two origins are refused at start-up by Go's url.Parse check (checked by websocket/config-errors), so the log line of wsSetOriginOptions it waits for is reached only in process",
            ),
        Scenario::new("websocket/compression", |c| compression(c).boxed())
            .full("TestWSCompressNegotiation")
            .partial_because(
                "TestWSCompressionBasic",
                "it compares the compressed bytes with those of Go's own flate writer; any valid deflate stream is valid permessage-deflate, and natsd's (zlib-rs) differs; the round trip and the compressed flag are checked",
            )
            .partial("TestWSReadCompressedFrames")
            .partial_because(
                "TestWSCompressionWithPartialWrite",
                "it forces a partial socket write through a wrapped net.Conn and reads internal pending counters; a client cannot force a partial write",
            ),
        Scenario::new("websocket/frames-read", |c| frames_read(c).boxed())
            .full("TestWSReadUncompressedFrames")
            .full("TestWSReadVariousFrameSizes")
            .full("TestWSReadFragmentedFrames")
            .full("TestWSReadPartialFrameHeaderAtEndOfReadBuffer")
            .partial_because(
                "TestWSGet",
                "a unit test of the wsGet buffer helper: half its checks are the errors of the test's fake reader; reads cut at every point are checked",
            )
            .full("TestWSUnmask"),
        Scenario::new("websocket/control-frames", |c| control_frames(c).boxed())
            .full("TestWSReadPingFrame")
            .full("TestWSReadPongFrame")
            .full("TestWSReadControlFrameBetweebFragmentedFrames")
            .full("TestWSIsControlFrame"),
        Scenario::new("websocket/close-frames", |c| close_frames(c).boxed())
            .full("TestWSReadCloseFrame")
            .full("TestWSCloseFrameWithPartialOrInvalid")
            .full("TestWSHandleControlFrameErrors")
            .partial_because(
                "TestWSCreateCloseMessage",
                "the truncation of a reason over 123 bytes to '...' cannot happen on the wire: every close reason the server sends is shorter",
            ),
        Scenario::new("websocket/protocol-errors", |c| protocol_errors(c).boxed())
            .partial("TestWSReadErrors")
            .partial("TestWSReadGetErrors"),
        Scenario::new("websocket/corrupted-compressed", |c| {
            corrupted_compressed(c).boxed()
        })
        .full("TestWSReadCompressedFrameCorrupted"),
        Scenario::new("websocket/close-reasons", |c| close_reasons(c).boxed())
            .partial_because(
                "TestWSEnqueueCloseMsg",
                "10 of its 22 close reasons are triggered (authentication failure and timeout, the server's and an account's connection limits, the control line limit, a bad protocol version, max payload, protocol violation, shutdown, stale connection); slow consumers and JWT expiry, revocation and missing accounts are not yet, and read, write and TLS errors cannot be caused from a client that still reads the close frame",
            )
            .full("TestWSCloseMsgSendOnConnectionClose"),
        Scenario::new("websocket/browser-frames", |c| browser_frames(c).boxed())
            .full("TestWSWebrowserClient")
            .partial_because(
                "TestWSCompressionFrameSizeLimit",
                "it checks internal buffer lists with server-side masking, which no client can ask for; browser frame sizes of compressed messages are checked",
            )
            .partial_because(
                "TestWSFrameOutbound",
                "it checks the outbound buffer lists, including frames the server masks, which no client can ask for; the framing a client receives is checked",
            ),
        Scenario::new("websocket/server-frame-headers", |c| {
            server_frame_headers(c).boxed()
        })
        .full("TestWSCreateFrameHeader"),
        Scenario::new("websocket/no-masking", |c| no_masking(c).boxed())
            .partial("TestWSReadUncompressedFrames"),
        Scenario::new("websocket/auth-override", |c| auth_override(c).boxed())
            .partial("TestWSBasicAuth")
            .partial("TestWSTokenAuth")
            .partial("TestWSAuthTimeout"),
        Scenario::new("websocket/users", |c| users(c).boxed())
            .partial("TestWSUsersAuth")
            .partial("TestWSBindToProperAccount")
            .partial("TestWSNoAuthUser"),
        Scenario::new("websocket/config-errors", |c| config_errors(c).boxed())
            .full("TestWSValidateOptions")
            .full("TestWSNoAuthUserValidation")
            .full("TestWSFailureToStartServer")
            .partial_because(
                "TestWSAdvertise",
                "the ws_connect_urls of a second server arrive through a route; natsd has no routes yet (the bad advertise is checked)",
            ),
        Scenario::new("websocket/varz", |c| varz(c).boxed()).partial_because(
                "TestMonitorWebsocket",
                "the Go test's block sets jwt_cookie, which needs operator mode, refused by natsd at start-up (monitoring/varz-websocket); the section's other fields are compared here",
            ),
        Scenario::new("websocket/x-forwarded-for", |c| x_forwarded_for(c).boxed())
            .full("TestWSXForwardedFor"),
        Scenario::new("websocket/handshake-timeout", |c| {
            handshake_timeout(c).boxed()
        })
        .full("TestWSHandshakeTimeout"),
        Scenario::new("websocket/tls", |c| tls(c).boxed())
            .full("TestWSTLSConnection")
            .full("TestWSServerReportUpgradeFailure"),
        Scenario::new("websocket/tls-verify", |c| tls_verify(c).boxed())
            .partial_because(
                "TestWSTLSVerifyClientCert",
                "Go's client sees a 'bad certificate' alert; natsd's TLS 1.3 stack (rustls) sends certificate_required for a missing client certificate, so only the refusal is checked",
            ),
        Scenario::new("websocket/reload", |c| reload(c).boxed()).full("TestWSReloadTLSConfig"),
        Scenario::new("websocket/nkey", |c| nkey(c).boxed()).partial("TestWSNkeyAuth"),
        Scenario::new("websocket/basic-auth", |c| basic_auth(c).boxed()).full("TestWSBasicAuth"),
        Scenario::new("websocket/token-auth", |c| token_auth(c).boxed()).full("TestWSTokenAuth"),
        Scenario::new("websocket/auth-timeout", |c| auth_timeout(c).boxed())
            .full("TestWSAuthTimeout"),
        Scenario::new("websocket/users-auth", |c| users_auth(c).boxed()).full("TestWSUsersAuth"),
        Scenario::new("websocket/bind-account", |c| bind_account(c).boxed())
            .full("TestWSBindToProperAccount"),
        Scenario::new("websocket/no-auth-user", |c| no_auth_user(c).boxed())
            .full("TestWSNoAuthUser"),
        Scenario::new("websocket/read-errors", |c| read_errors(c).boxed())
            .full("TestWSReadErrors")
            .full("TestWSReadGetErrors"),
        Scenario::new("websocket/read-compressed", |c| read_compressed(c).boxed())
            .full("TestWSReadCompressedFrames"),
        Scenario::new("websocket/nkey-auth", |c| nkey_auth(c).boxed()).full("TestWSNkeyAuth"),
    ]
}

/// A plain WebSocket listener on loopback.
const WS: &str = "websocket { host: 127.0.0.1, port: {{ws_port}}, no_tls: true }\n";

/// A server with `WS` and `extra` config.
async fn ws_server(ctx: &Ctx, extra: &str) -> Result<Server> {
    ctx.server(ServerSpec::new().conf(&format!("{WS}{extra}")))
        .await
}

/// A WebSocket client that has sent CONNECT and got its PONG.
async fn nats_ws(s: &Server, up: &Upgrade) -> Result<WsClient> {
    WsClient::connect_nats(&s.ws_addr()?, up, r#"{"verbose":false,"protocol":1}"#).await
}

async fn pub_sub(ctx: Ctx) -> Result<()> {
    // TestWSPubSub runs without and with compression.
    for compress in [false, true] {
        let s = ctx
            .server(ServerSpec::new().conf(&format!(
                "http: 127.0.0.1:{{{{http_port}}}}\n{}",
                ws_block(&format!("compression: {compress}"))
            )))
            .await?;
        // The account's own subscriptions (the system's imports) come first.
        let base = crate::kit::global_subs(&ctx, &s).await?;
        let subs = |n: i64| {
            let (ctx, s, want) = (&ctx, &s, base + n);
            async move {
                eventually(Duration::from_secs(3), || async move {
                    Ok((crate::kit::global_subs(ctx, s).await? == want).then_some(()))
                })
                .await
                .with_context(|| format!("the server never had {n} more subscriptions"))
            }
        };
        // A plain client subscribes to foo.
        let mut tcp = ctx.raw_connected(&s, r#"{"verbose":false}"#).await?;
        tcp.send("SUB foo 1\r\nPING\r\n").await?;
        tcp.expect_pong().await?;
        subs(1).await?;
        let up = Upgrade {
            compress,
            ..Default::default()
        };
        let mut w = nats_ws(&s, &up).await?;
        check_eq!(w.response.status, 101);
        check_eq!(w.response.header("Sec-WebSocket-Accept"), Some(KEY_ACCEPT));
        check_eq!(w.compressed, compress);
        // The websocket client publishes on foo.
        w.send_data(b"PUB foo 7\r\nfrom ws\r\n").await?;
        let msgs = tcp
            .read_msgs(1)
            .await
            .context("no message from the websocket client")?;
        check_eq!(&msgs[0].payload[..], b"from ws");
        // And subscribes to bar, where the plain client publishes.
        w.send_data(b"SUB bar 1\r\n").await?;
        subs(2).await?;
        tcp.send("PUB bar 9\r\nfrom nats\r\nPING\r\n").await?;
        tcp.expect_pong().await?;
        let got = w.expect(r"MSG bar 1 9\r\n(.*)\r\n").await?;
        check_eq!(got[1].as_str(), "from nats");
        // The server's frames are never masked.
        ensure!(w.frames.iter().all(|f| !f.masked), "a masked server frame");
    }
    Ok(())
}

/// Each refused request, its status and body, and the log line.
async fn upgrade_refusals(ctx: Ctx) -> Result<()> {
    let s = ws_server(&ctx, "").await?;
    let addr = s.ws_addr()?;
    let good = Upgrade::default().request(&addr);
    let key = format!("Sec-WebSocket-Key: {}", ws::KEY);
    const BAD: (u16, &str) = (400, "Bad Request");
    let cases = [
        (
            "method",
            good.replacen("GET", "POST", 1),
            (405, "Method Not Allowed"),
            "request method must be GET",
        ),
        (
            "upgrade",
            good.replace("Upgrade: websocket", "Upgrade: h2c"),
            BAD,
            "invalid value for header 'Upgrade'",
        ),
        (
            "connection",
            good.replace("Connection: Upgrade", "Connection: keep-alive"),
            BAD,
            "invalid value for header 'Connection'",
        ),
        ("key", good.replace(&key, "X-Key: 1"), BAD, "key missing"),
        (
            "empty key",
            good.replace(&key, "Sec-WebSocket-Key: "),
            BAD,
            "key missing",
        ),
        (
            "version",
            good.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 12"),
            BAD,
            "invalid version",
        ),
        (
            "missing version",
            good.replace("Sec-WebSocket-Version: 13\r\n", ""),
            BAD,
            "invalid version",
        ),
        (
            "no-host-http10",
            "GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".to_string(),
            BAD,
            "'Host' missing in request",
        ),
    ];
    for (name, request, (status, text), reason) in cases {
        let (_, _, r) = send_upgrade(&addr, request.as_bytes()).await?;
        ctx.observe(
            &format!("{name} status"),
            format!("{} {:?}", r.status, String::from_utf8_lossy(&r.body)),
        );
        {
            let (got, want) = (r.header("Sec-Websocket-Version"), Some("13"));
            ensure!(got == want, "{name}: got {got:?}, want {want:?}");
        }
        let expected = format!("{status}{text}\n");
        let got = format!("{}{}", r.status, String::from_utf8_lossy(&r.body));
        ensure!(got == expected, "Expected {expected:?} got {got:?}");
        s.wait_for_log(
            &format!("websocket handshake error: {reason}"),
            Duration::from_secs(3),
        )
        .await
        .with_context(|| format!("Should get error {reason:?}"))?;
    }
    // An origin that is not the same as the host: 403.
    let same = ctx
        .server(ServerSpec::new().conf(
            "websocket { host: 127.0.0.1, port: {{ws_port}}, no_tls: true, same_origin: true }\n",
        ))
        .await?;
    let request = Upgrade::default()
        .header("Origin", "http://bad.host.com")
        .request(&same.ws_addr()?);
    let (_, _, r) = send_upgrade(&same.ws_addr()?, request.as_bytes()).await?;
    let got = format!("{}{}", r.status, String::from_utf8_lossy(&r.body));
    ensure!(
        got == "403Forbidden\n",
        "Expected \"403Forbidden\\n\" got {got:?}"
    );
    same.wait_for_log(
        "websocket handshake error: origin not allowed",
        Duration::from_secs(3),
    )
    .await?;
    // HTTP/1.1 without a Host never reaches the upgrade's own checks.
    let (_, _, r) = send_upgrade(&addr, b"GET / HTTP/1.1\r\n\r\n").await?;
    check_eq!(r.status, 400);
    ensure!(
        r.head.contains("missing required Host header"),
        "{}",
        r.head
    );
    // Data sent with the upgrade request: the connection is closed unanswered.
    let mut early = good.clone().into_bytes();
    early.extend_from_slice(b"PING\r\n");
    let outcome = send_upgrade(&addr, &early).await;
    ensure!(
        outcome.is_err(),
        "answered an upgrade sent with data: {:?}",
        outcome.map(|r| r.2)
    );
    s.wait_for_log(
        "websocket handshake error: client sent data before handshake is complete",
        Duration::from_secs(3),
    )
    .await?;
    Ok(())
}

async fn origins(ctx: Ctx) -> Result<()> {
    let same = ctx
        .server(ServerSpec::new().conf(
            "websocket { host: 127.0.0.1, port: {{ws_port}}, no_tls: true, same_origin: true }\n",
        ))
        .await?;
    let addr = same.ws_addr()?;
    let status = |addr: String, origin: Option<String>| async move {
        let mut up = Upgrade::default();
        if let Some(o) = origin {
            up = up.header("Origin", &o);
        }
        let (_, _, r) = send_upgrade(&addr, up.request(&addr).as_bytes()).await?;
        Ok::<u16, anyhow::Error>(r.status)
    };
    {
        let (got, want) = (status(addr.clone(), None).await?, 101);
        ensure!(
            got == want,
            "no Origin is accepted: got {got:?}, want {want:?}"
        );
    }
    check_eq!(
        status(addr.clone(), Some(format!("http://{addr}"))).await?,
        101
    );
    check_eq!(
        status(addr.clone(), Some("http://127.0.0.1:1".into())).await?,
        403
    );
    let port = same
        .ws_addr()?
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    check_eq!(
        status(addr.clone(), Some(format!("http://other.host.com:{port}"))).await?,
        403
    );
    {
        let (got, want) = (
            status(addr.clone(), Some(format!("https://{addr}"))).await?,
            101,
        );
        ensure!(
            got == want,
            "the scheme is not compared for same origin: got {got:?}, want {want:?}"
        );
    }
    same.wait_for_log(
        "origin not allowed: not same origin",
        Duration::from_secs(3),
    )
    .await?;
    // Origins (and a Host) that cannot be parsed are refused, naming why.
    let request_with = |host: &str, origin: &str| {
        Upgrade::default()
            .header("Origin", origin)
            .request(host)
            .into_bytes()
    };
    for (host, origin, err, times) in [
        (addr.as_str(), "@@@://invalid:url:1234", "invalid URI", 1),
        (
            addr.as_str(),
            "http://invalid:url:1234",
            "too many colons",
            1,
        ),
        ("invalid:url:1234", "http://host.com", "too many colons", 2),
    ] {
        let (_, _, r) = send_upgrade(&addr, &request_with(host, origin)).await?;
        check_eq!(r.status, 403);
        // The refusal's log line names the cause (the third repeats the
        // second's text, for the Host this time).
        let refusals = || {
            let logs = same.logs();
            logs.lines()
                .filter(|l| l.contains("origin not allowed") && l.contains(err))
                .count()
        };
        eventually(Duration::from_secs(3), || async {
            Ok((refusals() >= times).then_some(()))
        })
        .await
        .with_context(|| format!("Expected error {err:?} for {origin} from {host}"))?;
    }
    let listed = ctx
        .server(ServerSpec::new().conf(
            "websocket { host: 127.0.0.1, port: {{ws_port}}, no_tls: true, allowed_origins: [\"http://nats.io\", \"https://example.com:8443\"] }\n",
        ))
        .await?;
    let addr = listed.ws_addr()?;
    for (origin, want) in [
        ("http://nats.io", 101),
        ("http://nats.io/some/path", 101),
        ("http://NATS.io:80", 101),
        ("https://nats.io", 403),
        ("http://nats.io:81", 403),
        ("https://example.com:8443", 101),
        ("https://example.com", 403),
        ("http://other.io", 403),
        ("bad origin", 403),
    ] {
        {
            let (got, want) = (status(addr.clone(), Some(origin.into())).await?, want);
            ensure!(got == want, "{origin}: got {got:?}, want {want:?}");
        }
    }
    listed
        .wait_for_log(
            "origin not allowed: not in the allowed list",
            Duration::from_secs(3),
        )
        .await?;
    Ok(())
}

const COMPRESSION: &str =
    "websocket { host: 127.0.0.1, port: {{ws_port}}, no_tls: true, compression: true }\n";

async fn compression(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(COMPRESSION)).await?;
    let offer = Upgrade {
        compress: true,
        ..Default::default()
    };
    let mut w = nats_ws(&s, &offer).await?;
    check_eq!(
        w.response.header("Sec-WebSocket-Extensions"),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
    // A compressed SUB and PUB from the client; the big message comes back
    // compressed, the small one not.
    w.send_data(b"SUB foo 1\r\nPING\r\n").await?;
    w.expect("PONG\r\n").await?;
    let big = "x".repeat(2000);
    w.send_data(format!("PUB foo {}\r\n{big}\r\n", big.len()).as_bytes())
        .await?;
    let got = w.expect(r"MSG foo 1 2000\r\n(x+)\r\n").await?;
    check_eq!(got[1].len(), 2000);
    ensure!(
        w.frames.iter().any(|f| f.rsv1 && f.opcode == OP_BINARY),
        "no compressed frame from the server"
    );
    w.frames.clear();
    w.send_data(b"PING\r\n").await?;
    w.expect("PONG\r\n").await?;
    ensure!(
        w.frames.iter().all(|f| !f.rsv1),
        "6 bytes were compressed: {:?}",
        w.frames
    );
    // No offer: no extension in the answer, no compressed frames.
    let mut plain = nats_ws(&s, &Upgrade::default()).await?;
    check_eq!(plain.response.header("Sec-WebSocket-Extensions"), None);
    plain.send_data(b"SUB foo 1\r\nPING\r\n").await?;
    plain.expect("PONG\r\n").await?;
    w.send_data(format!("PUB foo {}\r\n{big}\r\n", big.len()).as_bytes())
        .await?;
    plain.expect(r"MSG foo 1 2000\r\n").await?;
    ensure!(
        plain.frames.iter().all(|f| !f.rsv1),
        "compressed without an offer"
    );
    // An offer to a server without compression is not taken.
    let off = ws_server(&ctx, "").await?;
    let w = WsClient::connect(&off.ws_addr()?, &offer).await?;
    check_eq!(w.response.header("Sec-WebSocket-Extensions"), None);
    Ok(())
}

/// Sends `PUB foo` messages of several sizes in frames cut at several
/// places, and reads them back.
async fn frames_read(ctx: Ctx) -> Result<()> {
    let s = ws_server(&ctx, "").await?;
    let mut w = nats_ws(&s, &Upgrade::default()).await?;
    w.send_data(b"SUB foo 1\r\nPING\r\n").await?;
    w.expect("PONG\r\n").await?;
    for size in [
        0usize, 1, 100, 125, 126, 1000, 65535, 65536, 70_000, 100_000,
    ] {
        let payload: String = (0..size).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        w.send_data(format!("PUB foo {size}\r\n{payload}\r\n").as_bytes())
            .await?;
        let got = w.expect(r"MSG foo 1 (\d+)\r\n([a-z]*)\r\n").await?;
        {
            let (got, want) = (&got[2], &payload);
            ensure!(got == want, "size {size}: got {got:?}, want {want:?}");
        }
    }
    // The client's frames are masked: the payload is not sent as is.
    let plain = b"this is a clear text";
    let masked = client_frame(0x80 | OP_BINARY, plain, true);
    ensure!(&masked[6..] != plain, "masking did not do anything");
    // Two whole frames in one write (TestWSReadUncompressedFrames), then
    // the same bytes written in three parts, cut inside the first frame's
    // payload and inside the second frame's.
    let first = client_frame(0x80 | OP_BINARY, b"PUB foo 13\r\nfirst message\r\n", true);
    let second = client_frame(0x80 | OP_BINARY, b"PUB foo 14\r\nsecond message\r\n", true);
    let both = [first.clone(), second].concat();
    let cut = first.len() + 13;
    for ends in [vec![both.len()], vec![11, cut, both.len()]] {
        let mut start = 0;
        for end in ends {
            w.send_raw(&both[start..end]).await?;
            start = end;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let got = w
            .expect(r"MSG foo 1 13\r\n(.*)\r\nMSG foo 1 14\r\n(.*)\r\n")
            .await?;
        check_eq!(
            (got[1].as_str(), got[2].as_str()),
            ("first message", "second message")
        );
    }
    // A frame and the first byte of the next in one write, the rest of
    // that frame in another.
    let msg1 = client_frame(0x80 | OP_BINARY, b"PUB foo 4\r\nmsg1\r\n", true);
    let msg2 = client_frame(0x80 | OP_BINARY, b"PUB foo 4\r\nmsg2\r\n", true);
    w.send_raw(&[&msg1[..], &msg2[..1]].concat()).await?;
    tokio::time::sleep(Duration::from_millis(20)).await;
    w.send_raw(&msg2[1..]).await?;
    let got = w
        .expect(r"MSG foo 1 4\r\n(.*)\r\nMSG foo 1 4\r\n(.*)\r\n")
        .await?;
    check_eq!((got[1].as_str(), got[2].as_str()), ("msg1", "msg2"));
    // Three fragments of one message in one write.
    let fragments = [
        client_frame(OP_BINARY, b"PUB foo 16\r\nfirst", true),
        client_frame(OP_CONTINUATION, b"second", true),
        client_frame(0x80 | OP_CONTINUATION, b"third\r\n", true),
    ]
    .concat();
    w.send_raw(&fragments).await?;
    let got = w.expect(r"MSG foo 1 16\r\n(.*)\r\n").await?;
    check_eq!(got[1].as_str(), "firstsecondthird");
    // One message in three fragments.
    w.send_frame(OP_BINARY, b"PUB foo 5\r\nhe").await?;
    w.send_frame(OP_CONTINUATION, b"l").await?;
    w.send_frame(0x80 | OP_CONTINUATION, b"lo\r\n").await?;
    let got = w.expect(r"MSG foo 1 5\r\n(.*)\r\n").await?;
    check_eq!(got[1].as_str(), "hello");
    // Frames written a byte at a time: headers cut anywhere.
    let mut bytes = client_frame(0x80 | OP_BINARY, b"PUB foo 3\r\nabc\r\n", true);
    bytes.extend(client_frame(0x80 | OP_BINARY, &vec![b'-'; 300], true));
    let (first, rest) = bytes.split_at(bytes.len() - 300 - 8);
    for b in first {
        w.send_raw(&[*b]).await?;
    }
    let got = w.expect(r"MSG foo 1 3\r\n(.*)\r\n").await?;
    check_eq!(got[1].as_str(), "abc");
    // The 300 dashes are not a protocol op: the client is closed with a
    // protocol error.
    w.send_raw(rest).await?;
    let (code, reason) = w.expect_close().await?;
    ctx.observe("dashes close", format!("{code} {reason}"));
    Ok(())
}

async fn control_frames(ctx: Ctx) -> Result<()> {
    let s = ws_server(&ctx, "").await?;
    let mut w = nats_ws(&s, &Upgrade::default()).await?;
    // A ping is answered with a final pong carrying its payload.
    w.send_frame(0x80 | OP_PING, b"ping payload").await?;
    let pong = w.read_frame().await?;
    check_eq!((pong.opcode, pong.fin), (OP_PONG, true));
    check_eq!(&pong.payload[..], b"ping payload");
    w.send_frame(0x80 | OP_PING, b"").await?;
    let pong = w.read_frame().await?;
    check_eq!(
        (pong.opcode, pong.fin, pong.payload.len()),
        (OP_PONG, true, 0)
    );
    // A pong, with or without payload, is ignored: no answer, and its
    // payload is not read as protocol (the PONG below comes first).
    w.frames.clear();
    w.send_frame(0x80 | OP_PONG, b"").await?;
    w.send_frame(0x80 | OP_PONG, b"unsolicited").await?;
    w.send_data(b"PING\r\n").await?;
    w.expect("^PONG\r\n").await?;
    ensure!(
        w.frames.iter().all(|f| f.opcode == OP_BINARY),
        "answered a pong: {:?}",
        w.frames
    );
    // A ping between the fragments of a message.
    w.send_data(b"SUB foo 1\r\n").await?;
    w.send_frame(OP_BINARY, b"PUB foo 2\r\n").await?;
    w.send_frame(0x80 | OP_PING, b"mid").await?;
    w.send_frame(0x80 | OP_CONTINUATION, b"ok\r\n").await?;
    let got = w.expect(r"MSG foo 1 2\r\n(.*)\r\n").await?;
    check_eq!(got[1].as_str(), "ok");
    ensure!(
        w.frames
            .iter()
            .any(|f| f.opcode == OP_PONG && f.payload == b"mid"),
        "no pong for the ping between fragments"
    );
    // A pong between two fragments, all in one write.
    let bytes = [
        client_frame(OP_BINARY, b"PUB foo 11\r\nfirst", true),
        client_frame(0x80 | OP_PONG, b"", true),
        client_frame(0x80 | OP_CONTINUATION, b"second\r\n", true),
    ]
    .concat();
    w.send_raw(&bytes).await?;
    let got = w.expect(r"MSG foo 1 11\r\n(.*)\r\n").await?;
    check_eq!(got[1].as_str(), "firstsecond");
    // Which opcodes are control frames (TestWSIsControlFrame): a control
    // frame must be final; a data frame may start a fragmented message.
    for (name, op, control) in [
        ("binary", OP_BINARY, false),
        ("text", ws::OP_TEXT, false),
        ("ping", OP_PING, true),
        ("pong", OP_PONG, true),
        ("close", OP_CLOSE, true),
    ] {
        let mut c = nats_ws(&s, &Upgrade::default()).await?;
        let payload: &[u8] = if op == OP_CLOSE { &[0x03, 0xe8] } else { b"PI" };
        let needle = "read error: control frame does not have final bit set";
        let logged = s.logs().matches(needle).count();
        c.send_frame(op, payload).await?;
        if control {
            if let Some((code, reason)) = c.close_or_eof().await? {
                ensure!(
                    code == 1002 && reason == "control frame does not have final bit set",
                    "{name}: close {code} {reason:?}"
                );
            }
            eventually(Duration::from_secs(3), || async {
                Ok((s.logs().matches(needle).count() > logged).then_some(()))
            })
            .await
            .with_context(|| format!("{name}: not refused as a control frame"))?;
        } else {
            c.send_frame(0x80 | OP_CONTINUATION, b"NG\r\n").await?;
            c.expect("^PONG\r\n")
                .await
                .with_context(|| format!("{name}: not read as a data frame"))?;
        }
    }
    Ok(())
}

async fn close_frames(ctx: Ctx) -> Result<()> {
    let s = ws_server(&ctx, "").await?;
    let mut sub = ctx.raw_connected(&s, r#"{"verbose":false}"#).await?;
    sub.send("SUB foo 1\r\nPING\r\n").await?;
    sub.expect_pong().await?;
    let status = |code: u16, text: &[u8]| [&code.to_be_bytes()[..], text].concat();
    let mut bad_utf8 = status(1000, b"this is a close message");
    bad_utf8[10] = 0xf1;
    // (name, close payload, a data frame written with it, echo wanted)
    let cases = [
        (
            "status and reason",
            status(1000, b"optional payload"),
            true,
            (1000, "optional payload"),
        ),
        ("status only", status(1000, b""), true, (1000, "")),
        ("other status", status(1001, b""), false, (1001, "")),
        ("nothing", Vec::new(), false, (1005, "")),
        ("one byte of status", vec![0x03], false, (1005, "")),
        (
            "bad utf-8",
            bad_utf8,
            false,
            (1007, "invalid utf8 body in close frame"),
        ),
    ];
    for (name, payload, with_data, want) in cases {
        let mut w = nats_ws(&s, &Upgrade::default()).await?;
        let close = client_frame(0x80 | OP_CLOSE, &payload, true);
        if with_data {
            // A message and the close in one write: the message is still
            // delivered.
            let msg = client_frame(0x80 | OP_BINARY, b"PUB foo 3\r\nmsg\r\n", true);
            w.send_raw(&[msg, close].concat()).await?;
            let msgs = sub.read_msgs(1).await.context(name)?;
            check_eq!(&msgs[0].payload[..], b"msg");
        } else {
            w.send_raw(&close).await?;
        }
        let (code, reason) = w.expect_close().await?;
        ensure!(
            (code, reason.as_str()) == want,
            "{name}: close {code} {reason:?}, want {want:?}"
        );
        let last = w.frames.last().context("no frame")?;
        ensure!(last.fin && last.opcode == OP_CLOSE, "{name}: {last:?}");
        ctx.observe(&format!("close {name}"), format!("{code} {reason:?}"));
        w.expect_eof(Duration::from_secs(3)).await?;
    }
    // A close frame whose first byte comes alone, the rest later.
    let mut w = nats_ws(&s, &Upgrade::default()).await?;
    let close = client_frame(0x80 | OP_CLOSE, &status(1000, b"hello"), true);
    w.send_raw(&close[..1]).await?;
    tokio::time::sleep(Duration::from_millis(20)).await;
    w.send_raw(&close[1..]).await?;
    let (code, reason) = w.expect_close().await?;
    check_eq!((code, reason.as_str()), (1000, "hello"));
    let last = w.frames.last().context("no frame")?;
    ensure!(last.fin && last.opcode == OP_CLOSE, "{last:?}");
    w.expect_eof(Duration::from_secs(3)).await?;
    // A close frame cut 4 bytes before its end: nothing is done until the
    // rest comes, and none of it is read as protocol.
    let mut w = nats_ws(&s, &Upgrade::default()).await?;
    let close = client_frame(
        0x80 | OP_CLOSE,
        &status(1000, b"this is a close message"),
        true,
    );
    w.send_raw(&close[..close.len() - 4]).await?;
    let early = w.read_frame_within(Duration::from_millis(200)).await;
    ensure!(early.is_err(), "answered a partial close frame: {early:?}");
    w.send_raw(&close[close.len() - 4..]).await?;
    let (code, reason) = w.expect_close().await?;
    check_eq!((code, reason.as_str()), (1000, "this is a close message"));
    w.expect_eof(Duration::from_secs(3)).await?;
    Ok(())
}

/// Frames that break the rules: each ends the connection with a close
/// frame carrying status 1002 and Go's text.
async fn protocol_errors(ctx: Ctx) -> Result<()> {
    let s = ws_server(&ctx, "").await?;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "unmasked",
            client_frame(0x80 | OP_BINARY, b"PING\r\n", false),
            "mask bit missing",
        ),
        (
            "long control",
            client_frame(0x80 | OP_PING, &[b'p'; 126], true),
            "control frame length bigger than maximum allowed of 125 bytes",
        ),
        (
            "fragmented control",
            client_frame(OP_PING, b"x", true),
            "control frame does not have final bit set",
        ),
        (
            "bad continuation",
            client_frame(0x80 | OP_CONTINUATION, b"x", true),
            "invalid continuation frame",
        ),
        (
            "compressed continuation",
            client_frame(0xc0, b"NG", true),
            "invalid continuation frame",
        ),
        (
            "unknown opcode",
            client_frame(0x80 | 3, b"x", true),
            "unknown opcode 3",
        ),
        (
            "new message before final",
            client_frame(0x80 | OP_BINARY, b"NG", true),
            "new message started before final frame for previous message was received",
        ),
    ];
    for (name, bytes, text) in cases {
        let mut w = nats_ws(&s, &Upgrade::default()).await?;
        if matches!(name, "compressed continuation" | "new message before final") {
            // The first fragment of a message, in a read of its own: Go
            // drops an error found in a read that also carried data.
            w.send_frame(OP_BINARY, b"PI").await?;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let needle = format!("read error: {text}");
        let logged = s.logs().matches(&needle).count();
        w.send_raw(&bytes).await?;
        // Go closes the connection as a read error, which skips what is
        // queued: its close frame is sent only when its writer was
        // faster. When one comes, it is status 1002 and Go's text.
        if let Some((code, reason)) = w.close_or_eof().await? {
            ensure!(
                code == 1002 && reason == text,
                "{name}: close {code} {reason:?}, want 1002 {text:?}"
            );
        }
        eventually(Duration::from_secs(3), || async {
            Ok((s.logs().matches(&needle).count() > logged).then_some(()))
        })
        .await
        .with_context(|| format!("{name}: no new log line {needle:?}"))?;
    }
    Ok(())
}

async fn corrupted_compressed(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(COMPRESSION)).await?;
    let offer = Upgrade {
        compress: true,
        ..Default::default()
    };
    let mut sub = ctx.raw_connected(&s, r#"{"verbose":false}"#).await?;
    sub.send("SUB foo 1\r\nPING\r\n").await?;
    sub.expect_pong().await?;
    let mut w = nats_ws(&s, &offer).await?;
    // A compressed PUB whose deflate stream is damaged.
    let mut deflated = ws::deflate(b"PUB foo 27\r\nthis is the uncompress data\r\n");
    let n = deflated.len().min(8);
    deflated[..n].copy_from_slice(&[0xff; 8][..n]);
    w.send_frame(0x80 | 0x40 | OP_BINARY, &deflated).await?;
    w.expect_eof(Duration::from_secs(3)).await?;
    // The read error names the corrupt input.
    let line = s
        .wait_for_log("read error:", Duration::from_secs(3))
        .await?;
    ensure!(
        line.contains("corrupt"),
        "Expected error about corrupted data, got {line}"
    );
    // Nothing of it was delivered.
    sub.send("PING\r\n").await?;
    let msgs = sub.msgs_until_pong().await?;
    ensure!(msgs.is_empty(), "delivered: {msgs:?}");
    Ok(())
}

/// TestWSReadCompressedFrames on the wire: a compressed frame cut in two
/// writes, ten in one write, and one compressed message in two fragments
/// (the compressed bit on the first only).
async fn read_compressed(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(COMPRESSION)).await?;
    let offer = Upgrade {
        compress: true,
        ..Default::default()
    };
    let mut w = nats_ws(&s, &offer).await?;
    check_eq!(w.compressed, true);
    w.send_data(b"SUB foo 1\r\nPING\r\n").await?;
    w.expect("PONG\r\n").await?;
    let data = b"PUB foo 27\r\nthis is the uncompress data\r\n";
    let deflated = ws::deflate(data);
    let frame = client_frame(0x80 | 0x40 | OP_BINARY, &deflated, true);
    w.send_raw(&frame[..10]).await?;
    tokio::time::sleep(Duration::from_millis(20)).await;
    w.send_raw(&frame[10..]).await?;
    let got = w.expect(r"MSG foo 1 27\r\n(.*)\r\n").await?;
    check_eq!(got[1].as_str(), "this is the uncompress data");
    w.send_raw(&frame.repeat(10)).await?;
    for i in 0..10 {
        let got = w
            .expect(r"MSG foo 1 27\r\n(.*)\r\n")
            .await
            .with_context(|| format!("message {i} of 10"))?;
        check_eq!(got[1].as_str(), "this is the uncompress data");
    }
    let fragments = [
        client_frame(0x40 | OP_BINARY, &deflated[..10], true),
        client_frame(0x80 | OP_CONTINUATION, &deflated[10..], true),
    ]
    .concat();
    w.send_raw(&fragments).await?;
    let got = w.expect(r"MSG foo 1 27\r\n(.*)\r\n").await?;
    check_eq!(got[1].as_str(), "this is the uncompress data");
    w.send_data(b"PING\r\n").await?;
    w.expect("^PONG\r\n").await?;
    Ok(())
}

/// The close frame the server sends when it closes a client, by reason.
async fn close_reasons(ctx: Ctx) -> Result<()> {
    let s = ws_server(
        &ctx,
        "authorization { user: u, password: p }\nmax_payload: 100\n",
    )
    .await?;
    let addr = s.ws_addr()?;
    // Authentication failure.
    let mut w = WsClient::connect(&addr, &Upgrade::default()).await?;
    w.expect("^INFO ").await?;
    w.send_data(b"CONNECT {\"user\":\"u\",\"pass\":\"bad\"}\r\n")
        .await?;
    let (code, reason) = w.expect_close().await.context("auth failure")?;
    check_eq!((code, reason.as_str()), (1008, "Authentication Failure"));
    let good = r#"{"user":"u","pass":"p","protocol":1}"#;
    // Payload over max_payload.
    let mut w = WsClient::connect_nats(&addr, &Upgrade::default(), good).await?;
    w.send_data(b"PUB foo 200\r\n").await?;
    let (code, reason) = w.expect_close().await.context("max payload")?;
    check_eq!(
        (code, reason.as_str()),
        (1009, "Maximum Message Payload Exceeded")
    );
    // A parser error.
    let mut w = WsClient::connect_nats(&addr, &Upgrade::default(), good).await?;
    w.send_data(b"NOT A PROTO\r\n").await?;
    let (code, reason) = w.expect_close().await.context("parser error")?;
    ctx.observe("parser error close", format!("{code} {reason}"));
    check_eq!((code, reason.as_str()), (1002, "Protocol Violation"));
    // Authentication timeout.
    let s2 = ws_server(
        &ctx,
        "authorization { user: u, password: p, timeout: 0.5 }\n",
    )
    .await?;
    let mut w = WsClient::connect(&s2.ws_addr()?, &Upgrade::default()).await?;
    w.expect("^INFO ").await?;
    let (code, reason) = w.expect_close().await.context("auth timeout")?;
    check_eq!((code, reason.as_str()), (1008, "Authentication Timeout"));
    // Server shutdown.
    let mut s = s;
    let mut w = WsClient::connect_nats(&addr, &Upgrade::default(), good).await?;
    s.stop().await?;
    let (code, reason) = w.expect_close().await.context("shutdown")?;
    check_eq!((code, reason.as_str()), (1001, "Server Shutdown"));
    limit_close_reasons(&ctx).await
}

/// More of TestWSEnqueueCloseMsg's reasons, each caused on a server of
/// its own: the server's and an account's connection limits, the control
/// line limit, a protocol version the server does not know, and a client
/// that answers no PING.
async fn limit_close_reasons(ctx: &Ctx) -> Result<()> {
    let connect = r#"{"verbose":false,"protocol":1}"#;
    let closed = |mut w: WsClient, what: &'static str| async move {
        let (code, reason) = w.expect_close().await.context(what)?;
        ctx.observe(&format!("{what} close"), format!("{code} {reason}"));
        Ok::<_, anyhow::Error>((code, reason))
    };
    // The server's max_connections.
    let s = ws_server(ctx, "max_connections: 1\n").await?;
    let _first = WsClient::connect_nats(&s.ws_addr()?, &Upgrade::default(), connect).await?;
    let w = WsClient::connect(&s.ws_addr()?, &Upgrade::default()).await?;
    let (code, reason) = closed(w, "max connections").await?;
    check_eq!(
        (code, reason.as_str()),
        (1008, "Maximum Connections Exceeded")
    );
    // An account's max_connections.
    let s = ws_server(
        ctx,
        "accounts { A { users [ {user: a, password: a} ], limits { max_connections: 1 } } }\n",
    )
    .await?;
    let login = r#"{"verbose":false,"protocol":1,"user":"a","pass":"a"}"#;
    let _first = WsClient::connect_nats(&s.ws_addr()?, &Upgrade::default(), login).await?;
    let mut w = WsClient::connect(&s.ws_addr()?, &Upgrade::default()).await?;
    w.expect("^INFO ").await?;
    w.send_data(format!("CONNECT {login}\r\nPING\r\n").as_bytes())
        .await?;
    let (code, reason) = closed(w, "account max connections").await?;
    check_eq!(
        (code, reason.as_str()),
        (1008, "Maximum Account Connections Exceeded")
    );
    // max_control_line.
    let s = ws_server(ctx, "max_control_line: 64\n").await?;
    let mut w = WsClient::connect_nats(&s.ws_addr()?, &Upgrade::default(), connect).await?;
    w.send_data(format!("SUB {} 1\r\n", "x".repeat(100)).as_bytes())
        .await?;
    let (code, reason) = closed(w, "max control line").await?;
    check_eq!(
        (code, reason.as_str()),
        (1008, "Maximum Control Line Exceeded")
    );
    // A protocol version above the server's.
    let s = ws_server(ctx, "").await?;
    let mut w = WsClient::connect(&s.ws_addr()?, &Upgrade::default()).await?;
    w.expect("^INFO ").await?;
    w.send_data(b"CONNECT {\"verbose\":false,\"protocol\":5}\r\n")
        .await?;
    let (code, reason) = closed(w, "bad protocol version").await?;
    check_eq!(
        (code, reason.as_str()),
        (1002, "Bad Client Protocol Version")
    );
    // A client that answers no PING.
    let s = ws_server(ctx, "ping_interval: \"100ms\"\nping_max: 1\n").await?;
    let w = WsClient::connect_nats(&s.ws_addr()?, &Upgrade::default(), connect).await?;
    let (code, reason) = closed(w, "stale connection").await?;
    check_eq!((code, reason.as_str()), (1006, "Stale Connection"));
    Ok(())
}

/// The frames a browser gets: 4 KiB at most, compressed ones fragmented
/// except for Safari.
async fn browser_frames(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(COMPRESSION)).await?;
    let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
    let safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15";
    // Incompressible payload, so compressed messages stay over 4 KiB.
    let mut seed = 7u32;
    let noise: String = (0..20_000)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (b'!' + ((seed >> 16) % 90) as u8) as char
        })
        .collect();
    for (name, agent, compress) in [
        ("browser", chrome, false),
        ("browser compressed", chrome, true),
        ("safari compressed", safari, true),
        ("not a browser", "Go-http-client/1.1", false),
    ] {
        let up = Upgrade {
            compress,
            ..Default::default()
        }
        .header("User-Agent", agent);
        let mut w = nats_ws(&s, &up).await?;
        w.send_data(b"SUB foo 1\r\nPING\r\n").await?;
        w.expect("PONG\r\n").await?;
        w.frames.clear();
        w.send_data(format!("PUB foo {}\r\n{noise}\r\n", noise.len()).as_bytes())
            .await?;
        let got = w.expect(r"MSG foo 1 20000\r\n([^\r]*)\r\n").await?;
        {
            let (got, want) = (&got[1], &noise);
            ensure!(got == want, "{name}: got {got:?}, want {want:?}");
        }
        let largest = w.frames.iter().map(|f| f.payload.len()).max().unwrap_or(0);
        let fragmented = w.frames.iter().any(|f| f.opcode == OP_CONTINUATION);
        ctx.observe(
            &format!("{name} frames"),
            format!("largest<=4096:{} fragmented:{fragmented}", largest <= 4096),
        );
        match name {
            "browser" | "browser compressed" => {
                ensure!(largest <= 4096, "{name}: frame of {largest}")
            }
            _ => ensure!(largest > 4096, "{name}: frames were cut to {largest}"),
        }
    }
    // Go's own case: a message of 204813 bytes from a plain client reaches
    // a browser in frames of 4 KiB at most.
    const PSIZE: usize = 204_813;
    let mut w = nats_ws(&s, &Upgrade::default().header("User-Agent", chrome)).await?;
    w.send_data(b"SUB foo 1\r\nPING\r\n").await?;
    w.expect("PONG\r\n").await?;
    let (mut nc, _) = ctx.raw(&s).await?;
    let mut publish = format!("CONNECT {{\"verbose\":false}}\r\nPUB foo {PSIZE}\r\n").into_bytes();
    publish.resize(publish.len() + PSIZE, 0);
    publish.extend_from_slice(b"\r\nPING\r\n");
    nc.send_bytes(&publish).await?;
    let rsize = format!("MSG foo 1 {PSIZE}\r\n\r\n").len() + PSIZE;
    let (mut total, mut nframes) = (0, 0);
    while total < rsize {
        total += w.read_frame().await?.payload.len();
        nframes += 1;
    }
    let expected = PSIZE / 4096;
    ctx.observe(
        "frames of a 204813-byte message to a browser",
        format!("at least {expected}: {}", nframes >= expected),
    );
    ensure!(
        nframes >= expected,
        "Expected {expected} frames, got {nframes}"
    );
    Ok(())
}

/// Server frame headers use the 7-bit, 16-bit and 64-bit length forms.
async fn server_frame_headers(ctx: Ctx) -> Result<()> {
    let plain = ws_server(&ctx, "").await?;
    let deflating = ctx.server(ServerSpec::new().conf(COMPRESSION)).await?;
    let offer = Upgrade {
        compress: true,
        ..Default::default()
    };
    // Incompressible bytes, so that compressed messages keep their size
    // class (over 125, over 65535 bytes).
    let mut seed = 11u32;
    let noise: String = (0..100_000)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (b'!' + ((seed >> 16) % 90) as u8) as char
        })
        .collect();
    for (server, up, compressed) in [
        (&plain, Upgrade::default(), false),
        (&deflating, offer, true),
    ] {
        let mut w = nats_ws(server, &up).await?;
        w.send_data(b"SUB foo 1\r\nPING\r\n").await?;
        w.expect("PONG\r\n").await?;
        for size in [10usize, 600, 100_000] {
            w.frames.clear();
            let body = &noise[..size];
            w.send_data(format!("PUB foo {size}\r\n{body}\r\n").as_bytes())
                .await?;
            w.expect(&format!(r"MSG foo 1 {size}\r\n"))
                .await
                .with_context(|| format!("{size} bytes, compressed: {compressed}"))?;
            // One frame for the message; Go sends it in one binary frame,
            // final, compressed past 64 bytes when agreed.
            let f = w.frames.first().context("no frame")?;
            let res = &f.header;
            let mut expected = 0x80 | OP_BINARY;
            if compressed && size > 64 {
                expected |= 0x40;
            }
            ensure!(
                res[0] == expected,
                "Expected first byte to be {expected}, got {}",
                res[0]
            );
            let len = f.payload.len();
            match len {
                0..=125 => {
                    ensure!(res.len() == 2, "Frame len should be 2, got {}", res.len());
                    ensure!(
                        usize::from(res[1]) == len,
                        "Expected len to be in second byte and be {len}, got {}",
                        res[1]
                    );
                }
                126..=65535 => {
                    ensure!(res.len() == 4, "Frame len should be 4, got {}", res.len());
                    ensure!(
                        res[1] == 126,
                        "Second byte value should be 126, got {}",
                        res[1]
                    );
                    let rl = usize::from(u16::from_be_bytes([res[2], res[3]]));
                    ensure!(rl == len, "Expected len to be {len}, got {rl}");
                }
                _ => {
                    ensure!(res.len() == 10, "Frame len should be 10, got {}", res.len());
                    ensure!(
                        res[1] == 127,
                        "Second byte value should be 127, got {}",
                        res[1]
                    );
                    let rl = u64::from_be_bytes(res[2..10].try_into()?);
                    ensure!(rl == len as u64, "Expected len to be {len}, got {rl}");
                }
            }
        }
    }
    Ok(())
}

/// `Nats-No-Masking: true`: echoed, and the client's unmasked frames read.
async fn no_masking(ctx: Ctx) -> Result<()> {
    let s = ws_server(&ctx, "").await?;
    let up = Upgrade {
        no_masking: true,
        ..Default::default()
    };
    let mut w = nats_ws(&s, &up).await?;
    check_eq!(w.response.header("Nats-No-Masking"), Some("true"));
    w.send_data(b"SUB foo 1\r\nPUB foo 2\r\nok\r\n").await?;
    let got = w.expect(r"MSG foo 1 2\r\n(.*)\r\n").await?;
    check_eq!(got[1].as_str(), "ok");
    Ok(())
}

async fn auth_override(ctx: Ctx) -> Result<()> {
    // The websocket block's user replaces the top-level token for its
    // clients; plain clients still use the token.
    let s = ctx
        .server(ServerSpec::new().conf(
            "authorization { token: top }\nwebsocket { host: 127.0.0.1, port: {{ws_port}}, no_tls: true, authorization { user: wsu, password: wsp, timeout: 0.5 } }\n",
        ))
        .await?;
    let addr = s.ws_addr()?;
    let mut w = WsClient::connect(&addr, &Upgrade::default()).await?;
    let info = w.expect(r"^INFO (\{.*\}) \r\n").await?;
    let info: serde_json::Value = serde_json::from_str(&info[1])?;
    check_eq!(info["auth_required"], true);
    WsClient::connect_nats(&addr, &Upgrade::default(), r#"{"user":"wsu","pass":"wsp"}"#).await?;
    let mut bad = WsClient::connect(&addr, &Upgrade::default()).await?;
    bad.expect("^INFO ").await?;
    bad.send_data(b"CONNECT {\"auth_token\":\"top\"}\r\nPING\r\n")
        .await?;
    bad.expect(r"-ERR 'Authorization Violation'\r\n").await?;
    ctx.raw_connected(&s, r#"{"auth_token":"top","verbose":false}"#)
        .await?;
    // The block's timeout applies to its clients.
    let mut slow = WsClient::connect(&addr, &Upgrade::default()).await?;
    let started = std::time::Instant::now();
    slow.expect("^INFO ").await?;
    slow.expect(r"-ERR 'Authentication Timeout'\r\n").await?;
    ensure!(
        started.elapsed() < Duration::from_millis(1800),
        "timed out after {:?}",
        started.elapsed()
    );
    // A token of its own, without top-level authorization.
    let t = ctx
        .server(ServerSpec::new().conf(
            "websocket { host: 127.0.0.1, port: {{ws_port}}, no_tls: true, authorization { token: wst } }\n",
        ))
        .await?;
    WsClient::connect_nats(
        &t.ws_addr()?,
        &Upgrade::default(),
        r#"{"auth_token":"wst"}"#,
    )
    .await?;
    let mut bad = WsClient::connect(&t.ws_addr()?, &Upgrade::default()).await?;
    bad.expect("^INFO ").await?;
    bad.send_data(b"CONNECT {\"auth_token\":\"nope\"}\r\nPING\r\n")
        .await?;
    bad.expect(r"-ERR 'Authorization Violation'\r\n").await?;
    // Plain clients of that server need no authentication.
    ctx.raw_connected(&t, r#"{"verbose":false}"#).await?;
    Ok(())
}

const USERS: &str = r#"
accounts {
  A { users [ { user: a, password: pa } ] }
  B { users [ { user: b, password: pb, allowed_connection_types: ["WEBSOCKET"] } ] }
  C { users [ { user: c, password: pc, allowed_connection_types: ["STANDARD"] } ] }
}
"#;

async fn users(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(&format!(
            "{USERS}websocket {{ host: 127.0.0.1, port: {{{{ws_port}}}}, no_tls: true, no_auth_user: b }}\n"
        )))
        .await?;
    let addr = s.ws_addr()?;
    let connect = |user: &str, pass: &str| format!(r#"{{"user":"{user}","pass":"{pass}"}}"#);
    // a and b may use websocket; c may not.
    let mut a = WsClient::connect_nats(&addr, &Upgrade::default(), &connect("a", "pa")).await?;
    let mut b = WsClient::connect_nats(&addr, &Upgrade::default(), &connect("b", "pb")).await?;
    let mut c = WsClient::connect(&addr, &Upgrade::default()).await?;
    c.expect("^INFO ").await?;
    c.send_data(connect("c", "pc").replace('{', "CONNECT {").as_bytes())
        .await?;
    c.send_data(b"\r\nPING\r\n").await?;
    c.expect(r"-ERR 'Authorization Violation'\r\n").await?;
    // b is websocket-only.
    let mut raw = ctx.raw(&s).await?.0;
    raw.send(&format!("CONNECT {}\r\nPING\r\n", connect("b", "pb")))
        .await?;
    raw.expect(r"-ERR 'Authorization Violation'\r\n").await?;
    // Each is bound to its account: b does not see a's messages.
    b.send_data(b"SUB foo 1\r\nPING\r\n").await?;
    b.expect("PONG\r\n").await?;
    a.send_data(b"SUB foo 1\r\nPUB foo 2\r\nhi\r\n").await?;
    a.expect(r"MSG foo 1 2\r\nhi\r\n").await?;
    b.send_data(b"PING\r\n").await?;
    let seen = b.expect("PONG\r\n").await;
    ensure!(seen.is_ok(), "b lost its connection: {seen:?}");
    // No credentials: the websocket block's no_auth_user (b, account B).
    let mut anon = WsClient::connect_nats(&addr, &Upgrade::default(), "{}").await?;
    anon.send_data(b"PUB foo 2\r\nyo\r\nPING\r\n").await?;
    anon.expect("PONG\r\n").await?;
    b.expect(r"MSG foo 1 2\r\nyo\r\n").await?;
    Ok(())
}

/// Configurations Go refuses to start with, each with what its error says.
async fn config_errors(ctx: Ctx) -> Result<()> {
    const USERS: &str = "authorization { users [ { user: a, password: b } ] }\n";
    let cases = [
        (
            "no tls",
            "websocket { port: -1 }\n".to_string(),
            "requires TLS configuration",
        ),
        (
            "user with users",
            format!("{USERS}websocket {{ port: -1, no_tls: true, authorization {{ user: x, password: y }} }}\n"),
            "websocket authentication username not compatible with presence of users/nkeys",
        ),
        (
            "token with users",
            format!("{USERS}websocket {{ port: -1, no_tls: true, authorization {{ token: t }} }}\n"),
            "websocket authentication token not compatible with presence of users/nkeys",
        ),
        (
            "unknown no_auth_user",
            format!("{USERS}websocket {{ port: -1, no_tls: true, no_auth_user: z }}\n"),
            "not present as user",
        ),
        (
            "no_auth_user without users",
            "websocket { port: -1, no_tls: true, no_auth_user: z }\n".to_string(),
            "users are not defined",
        ),
        (
            "unknown no_auth_user beside a global one",
            format!("{USERS}no_auth_user: a\nwebsocket {{ port: -1, no_tls: true, no_auth_user: z }}\n"),
            "not present as user",
        ),
        (
            "bad url in allowed list",
            "websocket { port: -1, no_tls: true, allowed_origins: [\"http://this:is:bad:url\"] }\n"
                .to_string(),
            "unable to parse",
        ),
        (
            "control character in allowed list",
            "websocket { port: -1, no_tls: true, allowed_origins: [\"http://x\ty\"] }\n".to_string(),
            "unable to parse",
        ),
        (
            "jwt cookie",
            "websocket { port: -1, no_tls: true, jwt_cookie: jwt }\n".to_string(),
            "keys configuration is required",
        ),
        (
            "bad advertise",
            "websocket { port: -1, no_tls: true, advertise: \"xxx:host:yyy\" }\n".to_string(),
            "Unable to get websocket connect URLs",
        ),
    ];
    for (name, conf, expect) in cases {
        let path = ctx.write_file(&format!("{}.conf", name.replace(' ', "_")), &conf)?;
        let out = ctx.run_binary(&["-c", &path.to_string_lossy()]).await?;
        ensure!(out.code != Some(0), "{name}: started");
        let text = format!("{}{}", out.stderr, out.stdout);
        ensure!(
            text.contains(expect),
            "Expected error to contain {expect:?}, got {text}"
        );
        let line = text
            .lines()
            .find(|l| {
                ["websocket", "no_auth_user", "cookie", "allowed origin"]
                    .iter()
                    .any(|k| l.contains(k))
            })
            .with_context(|| format!("{name}: no error named the option: {text}"))?;
        let error = line.split("] ").last().unwrap_or(line);
        ctx.observe(name, error.trim_end_matches(|c: char| c.is_whitespace()));
    }
    // Without a port the block is not checked: the server starts ("websocket
    // disabled").
    ctx.server(
        ServerSpec::new().conf("websocket { allowed_origins: [\"http://this:is:bad:url\"] }\n"),
    )
    .await
    .context("Unexpected error: websocket disabled")?;
    // A port in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = taken.local_addr()?.port();
    let path = ctx.write_file(
        "busy.conf",
        &format!("port: -1\nwebsocket {{ host: 127.0.0.1, port: {port}, no_tls: true }}\n"),
    )?;
    let out = ctx.run_binary(&["-c", &path.to_string_lossy()]).await?;
    ensure!(out.code != Some(0), "started on a busy websocket port");
    let text = format!("{}{}", out.stderr, out.stdout);
    ensure!(
        text.contains("Unable to listen for websocket connections"),
        "{text}"
    );
    Ok(())
}

async fn varz(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(
            "http: 127.0.0.1:{{http_port}}\nwebsocket { host: 127.0.0.1, port: {{ws_port}}, no_tls: true, compression: true, same_origin: true, allowed_origins: [\"http://a.io\"], handshake_timeout: \"2s\", advertise: \"ws.example.com:443\" }\n",
        ))
        .await?;
    let v = ctx.http_json(&s, "/varz").await?;
    ctx.observe_json("varz websocket", &v["websocket"]);
    check_eq!(
        v["websocket"]["port"].as_u64(),
        Some(u64::from(s.ports().ws.unwrap_or(0)))
    );
    // A client over websocket is in /connz.
    let _w = nats_ws(&s, &Upgrade::default()).await?;
    let connz = eventually(Duration::from_secs(3), || async {
        let c = ctx.http_json(&s, "/connz").await?;
        Ok((c["num_connections"] == 1).then_some(c))
    })
    .await?;
    check_eq!(connz["connections"][0]["ip"], "127.0.0.1");
    Ok(())
}

async fn x_forwarded_for(ctx: Ctx) -> Result<()> {
    let s = ctx.server(ServerSpec::new().conf(WS).args(["-D"])).await?;
    const XFF: &str = "X-Forwarded-For";
    let cases: [(&str, &[&str], Option<&str>); 6] = [
        ("no header", &[], None),
        ("header with an empty value", &[""], None),
        ("invalid IP", &["not a valid IP"], None),
        ("one IP", &["1.2.3.4"], Some("1.2.3.4")),
        ("multiple IPs", &["1.2.3.4", "5.6.7.8"], Some("1.2.3.4")),
        ("IPv6", &["::1"], Some("[::1]")),
    ];
    for (i, (name, values, expected)) in cases.into_iter().enumerate() {
        let up = values
            .iter()
            .fold(Upgrade::default(), |up, v| up.header(XFF, v));
        // CONNECT and PING, then the PONG.
        let _w = nats_ws(&s, &up)
            .await
            .with_context(|| format!("{name}: Expected PONG"))?;
        // The i-th connection's "Client connection created" debug line.
        let created = eventually(Duration::from_secs(3), || async {
            let logs = s.logs();
            let line = logs
                .lines()
                .filter(|l| l.contains("Client connection created"))
                .nth(i)
                .map(str::to_string);
            Ok(line)
        })
        .await
        .with_context(|| format!("{name}: Did not get connect debug statement"))?;
        let statement = created.split_once("[DBG] ").map_or("", |(_, m)| m);
        match expected {
            Some(ip) => ensure!(
                statement.starts_with(&format!("{ip}/")),
                "Expected debug statement to start with: {ip}/, got {statement:?}"
            ),
            None => ensure!(
                statement.starts_with("127.0.0.1:"),
                "Unexpected debug statement: {statement:?}"
            ),
        }
    }
    Ok(())
}

async fn handshake_timeout(ctx: Ctx) -> Result<()> {
    let s = crate::scenarios::tls::start(
        &ctx,
        "websocket { host: 127.0.0.1, port: {{ws_port}}, handshake_timeout: \"50ms\", tls { cert_file: \"server-cert.pem\", key_file: \"server-key.pem\" } }\n",
    )
    .await?;
    // Connect and start no TLS handshake: the server cuts the connection.
    let mut tcp = tokio::net::TcpStream::connect(s.ws_addr()?).await?;
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(
        Duration::from_secs(3),
        tokio::io::AsyncReadExt::read(&mut tcp, &mut buf),
    )
    .await
    .context("the server kept a connection that never started its handshake")?;
    ensure!(matches!(read, Ok(0) | Err(_)), "got bytes: {read:?}");
    let line = s
        .wait_for_log("websocket: ", Duration::from_secs(3))
        .await?;
    let error = line.split_once("[ERR] ").map_or("", |(_, e)| e);
    ensure!(
        error.starts_with("websocket: "),
        "Wrong log line start: {line}"
    );
    ensure!(line.contains("timeout"), "{line}");
    Ok(())
}

/// A `wss` listener with the kit's certificate, `extra` in its block.
fn wss_conf(ctx: &Ctx, extra: &str) -> Result<String> {
    let path = |name| {
        crate::scenarios::tls::cert_path(ctx, name)
            .map(|p| format!("{:?}", p.display().to_string()))
    };
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(", {extra}")
    };
    Ok(format!(
        "{LISTEN}websocket {{ host: 127.0.0.1, port: {{{{ws_port}}}}, tls {{ cert_file: {}, key_file: {}{extra} }} }}\n",
        path("server-cert.pem")?,
        path("server-key.pem")?,
    ))
}

const LISTEN: &str = crate::kit::reload::LISTEN;

fn over_tls(opts: TlsOptions) -> Upgrade {
    Upgrade {
        tls: Some(opts),
        ..Default::default()
    }
}

async fn tls(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().own_listen().conf(&wss_conf(&ctx, "")?))
        .await?;
    s.wait_for_log(
        "Listening for websocket clients on wss://127.0.0.1:",
        Duration::from_secs(3),
    )
    .await?;
    ensure!(
        !s.logs().contains("DO NOT USE IN PRODUCTION"),
        "warned about plain websocket"
    );
    let mut w = nats_ws(&s, &over_tls(TlsOptions::default())).await?;
    w.send_data(b"SUB foo 1\r\nPUB foo 6\r\nsecure\r\n").await?;
    let got = w.expect(r"MSG foo 1 6\r\n(.*)\r\n").await?;
    check_eq!(got[1].as_str(), "secure");
    // Plain HTTP to a wss listener: Go's HTTP server answers 400.
    let (_, _, plain) =
        send_upgrade(&s.ws_addr()?, Upgrade::default().request("x").as_bytes()).await?;
    check_eq!(plain.status, 400);
    ctx.observe("plain http to wss", &plain.head);
    // An upgrade refused over TLS: 400, and the logged error starts with
    // the client's address.
    let request = Upgrade::default()
        .request(&s.ws_addr()?)
        .replace("Connection: Upgrade\r\n", "");
    let (_, _, refused) = ws::send_upgrade_over(
        &s.ws_addr()?,
        Some(&TlsOptions::default()),
        request.as_bytes(),
    )
    .await?;
    check_eq!(refused.status, 400);
    let line = s
        .wait_for_log(
            "invalid value for header 'Connection'",
            Duration::from_secs(3),
        )
        .await?;
    let error = line.rsplit_once("] ").map_or("", |(_, e)| e);
    ensure!(
        error.starts_with("127.0.0.1:"),
        "IP should have been logged, it was not: {line}"
    );
    Ok(())
}

async fn tls_verify(ctx: Ctx) -> Result<()> {
    let ca = crate::scenarios::tls::cert_path(&ctx, "ca.pem")?;
    let extra = format!("ca_file: {:?}, verify: true", ca.display().to_string());
    let s = ctx
        .server(
            ServerSpec::new()
                .own_listen()
                .conf(&wss_conf(&ctx, &extra)?),
        )
        .await?;
    let without = nats_ws(&s, &over_tls(TlsOptions::default())).await;
    ensure!(without.is_err(), "connected without a client certificate");
    nats_ws(&s, &over_tls(TlsOptions::with_client_cert())).await?;
    Ok(())
}

/// The websocket block's TLS reloads; its other fields refuse a reload.
async fn reload(ctx: Ctx) -> Result<()> {
    // First a certificate for localhost only (no IP SAN), which a client
    // that trusts its CA still refuses for 127.0.0.1.
    let noip = wss_conf(&ctx, "")?
        .replace("server-cert.pem", "noip-cert.pem")
        .replace("server-key.pem", "noip-key.pem");
    let s = ctx
        .server(ServerSpec::new().own_listen().conf(&noip))
        .await?;
    let client = TlsOptions {
        trust_noip_ca: true,
        server_name: Some("127.0.0.1"),
        ..TlsOptions::default()
    };
    let refused = match nats_ws(&s, &over_tls(client.clone())).await {
        Ok(_) => bail!("a certificate without the IP SAN was accepted for 127.0.0.1"),
        Err(e) => format!("{e:#}"),
    };
    ctx.observe(
        "handshake with the certificate for localhost only",
        &refused,
    );
    ensure!(
        refused.contains("not valid for name"),
        "Unexpected error: {refused}"
    );
    // The reload swaps in the certificate for 127.0.0.1.
    crate::kit::reload::reload_conf(&s, &wss_conf(&ctx, "")?).await?;
    let _after = nats_ws(&s, &over_tls(client))
        .await
        .context("Error on TLS handshake")?;
    let ca = crate::scenarios::tls::cert_path(&ctx, "ca.pem")?;
    let verify = format!("ca_file: {:?}, verify: true", ca.display().to_string());
    crate::kit::reload::reload_conf(&s, &wss_conf(&ctx, &verify)?).await?;
    // New connections get the new settings: a client certificate is needed.
    let without = nats_ws(&s, &over_tls(TlsOptions::default())).await;
    ensure!(without.is_err(), "the reloaded TLS settings were not used");
    nats_ws(&s, &over_tls(TlsOptions::with_client_cert())).await?;
    let changed = wss_conf(&ctx, &verify)?.replace("tls {", "compression: true, tls {");
    match crate::kit::reload::hup(&s, &changed).await? {
        crate::kit::reload::Outcome::Refused(line) => ensure!(
            line.contains("config reload not supported for Websocket"),
            "{line}"
        ),
        crate::kit::reload::Outcome::Applied => {
            bail!("a websocket compression change was reloaded")
        }
    }
    Ok(())
}

async fn nkey(ctx: Ctx) -> Result<()> {
    let kp = nkeys::KeyPair::new_user();
    let s = ws_server(
        &ctx,
        &format!(
            "authorization {{ users [ {{ nkey: {} }} ] }}\n",
            kp.public_key()
        ),
    )
    .await?;
    let mut w = WsClient::connect(&s.ws_addr()?, &Upgrade::default()).await?;
    let info = w.expect(r"^INFO (\{.*\}) \r\n").await?;
    let info: serde_json::Value = serde_json::from_str(&info[1])?;
    let nonce = info["nonce"].as_str().context("INFO has no nonce")?;
    let sig = kp
        .sign(nonce.as_bytes())
        .map_err(|e| anyhow::anyhow!("signing the nonce: {e}"))?;
    let sig = crate::kit::encoding::b64url(&sig);
    w.send_data(
        format!(
            "CONNECT {{\"nkey\":\"{}\",\"sig\":\"{sig}\",\"verbose\":false}}\r\nPING\r\n",
            kp.public_key()
        )
        .as_bytes(),
    )
    .await?;
    w.expect("PONG\r\n").await?;
    // A wrong signature is refused.
    let mut bad = WsClient::connect(&s.ws_addr()?, &Upgrade::default()).await?;
    bad.expect("^INFO ").await?;
    bad.send_data(
        format!(
            "CONNECT {{\"nkey\":\"{}\",\"sig\":\"{sig}\",\"verbose\":false}}\r\nPING\r\n",
            kp.public_key()
        )
        .as_bytes(),
    )
    .await?;
    bad.expect(r"-ERR 'Authorization Violation'\r\n").await?;
    Ok(())
}

/// The websocket block on loopback with `extra` inside it.
fn ws_block(extra: &str) -> String {
    format!("websocket {{\n  host: 127.0.0.1, port: {{{{ws_port}}}}, no_tls: true\n  {extra}\n}}\n")
}

const VIOLATION: &str = "-ERR 'Authorization Violation'";

/// A new websocket client's first answer to `CONNECT <connect>` and PING:
/// `PONG` or the `-ERR` line.
async fn connect_answer(addr: &str, connect: &str) -> Result<String> {
    let mut w = WsClient::connect(addr, &Upgrade::default()).await?;
    w.expect(r"^INFO .*\r\n").await?;
    w.send_data(format!("CONNECT {connect}\r\nPING\r\n").as_bytes())
        .await?;
    let got = w.expect(r"^(PONG|-ERR '[^']*')\r\n").await?;
    Ok(got[1].clone())
}

/// TestWSBasicAuth's table: the websocket block's user replaces the
/// top-level one for websocket clients.
async fn basic_auth(ctx: Ctx) -> Result<()> {
    let top = "authorization { user: normal, password: client }\n";
    let own = "authorization { user: websocket, password: client }";
    for (name, conf, user, want) in [
        (
            "top level, wrong",
            format!("{top}{}", ws_block("")),
            "websocket",
            VIOLATION,
        ),
        (
            "top level, correct",
            format!("{top}{}", ws_block("")),
            "normal",
            "PONG",
        ),
        ("ws only, wrong", ws_block(own), "normal", VIOLATION),
        ("ws only, correct", ws_block(own), "websocket", "PONG"),
        (
            "override, wrong",
            format!("{top}{}", ws_block(own)),
            "normal",
            VIOLATION,
        ),
        (
            "override, correct",
            format!("{top}{}", ws_block(own)),
            "websocket",
            "PONG",
        ),
    ] {
        let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
        let connect =
            format!(r#"{{"verbose":false,"protocol":1,"user":"{user}","pass":"client"}}"#);
        let got = connect_answer(&s.ws_addr()?, &connect).await?;
        ensure!(got == want, "{name}: got {got:?}, want {want:?}");
    }
    Ok(())
}

/// TestWSTokenAuth's table: the websocket block's token replaces the
/// top-level one for websocket clients.
async fn token_auth(ctx: Ctx) -> Result<()> {
    let good = "authorization { token: goodtoken }\n";
    let client = "authorization { token: clienttoken }\n";
    let own = "authorization { token: websockettoken }";
    let own_good = "authorization { token: goodtoken }";
    for (name, conf, token, want) in [
        (
            "top level, wrong",
            format!("{good}{}", ws_block("")),
            "badtoken",
            VIOLATION,
        ),
        (
            "top level, correct",
            format!("{good}{}", ws_block("")),
            "goodtoken",
            "PONG",
        ),
        ("ws only, wrong", ws_block(own_good), "badtoken", VIOLATION),
        ("ws only, correct", ws_block(own_good), "goodtoken", "PONG"),
        (
            "override, wrong",
            format!("{client}{}", ws_block(own)),
            "clienttoken",
            VIOLATION,
        ),
        (
            "override, correct",
            format!("{client}{}", ws_block(own)),
            "websockettoken",
            "PONG",
        ),
    ] {
        let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
        let connect = format!(r#"{{"verbose":false,"protocol":1,"auth_token":"{token}"}}"#);
        let got = connect_answer(&s.ws_addr()?, &connect).await?;
        ensure!(got == want, "{name}: got {got:?}, want {want:?}");
    }
    Ok(())
}

/// TestWSAuthTimeout: without a timeout of its own the websocket block
/// uses the top-level one (10s); with one (50ms) its clients are cut off.
async fn auth_timeout(ctx: Ctx) -> Result<()> {
    let connect = r#"{"verbose":false,"protocol":1,"user":"websocket","pass":"client"}"#;
    for (name, conf, want) in [
        (
            "top-level timeout",
            format!(
                "authorization {{ timeout: 10 }}\n{}",
                ws_block("authorization { user: websocket, password: client }")
            ),
            "PONG",
        ),
        (
            "websocket timeout",
            format!(
                "authorization {{ timeout: 10 }}\n{}",
                ws_block("authorization { user: websocket, password: client, timeout: 0.05 }")
            ),
            "-ERR 'Authentication Timeout'",
        ),
    ] {
        let s = ctx.server(ServerSpec::new().conf(&conf)).await?;
        let mut w = WsClient::connect(&s.ws_addr()?, &Upgrade::default()).await?;
        let info = w.expect(r"^INFO (\{.*\}) \r\n").await?;
        let info: serde_json::Value = serde_json::from_str(&info[1])?;
        ensure!(
            info["auth_required"] == true,
            "{name}: auth not required: {info}"
        );
        let start = std::time::Instant::now();
        tokio::time::sleep(Duration::from_millis(100)).await;
        if want == "PONG" {
            w.send_data(format!("CONNECT {connect}\r\nPING\r\n").as_bytes())
                .await?;
        }
        // (The timed-out client's CONNECT would be written to a closed
        // connection; its answer is read first.)
        let got = w.expect(r"^(PONG|-ERR '[^']*')\r\n").await?;
        ensure!(got[1] == want, "{name}: got {:?}, want {want:?}", got[1]);
        ensure!(
            start.elapsed() < Duration::from_secs(1),
            "{name}: too long to get the answer: {:?}",
            start.elapsed()
        );
    }
    Ok(())
}

/// TestWSUsersAuth's table: top-level users, filtered by connection type.
async fn users_auth(ctx: Ctx) -> Result<()> {
    let users = |types: &str| {
        format!("authorization {{ users [ {{ user: user, password: pwd{types} }} ] }}\n")
    };
    let standard = ", allowed_connection_types: [\"STANDARD\"]";
    let both = ", allowed_connection_types: [\"STANDARD\", \"WEBSOCKET\"]";
    for (name, conf, user, pass, want) in [
        (
            "no filtering, wrong user",
            users(""),
            "wronguser",
            "pwd",
            VIOLATION,
        ),
        (
            "no filtering, correct user",
            users(""),
            "user",
            "pwd",
            "PONG",
        ),
        (
            "filtering, user not allowed",
            users(standard),
            "user",
            "pwd",
            VIOLATION,
        ),
        (
            "filtering, user allowed",
            users(both),
            "user",
            "pwd",
            "PONG",
        ),
        (
            "filtering, wrong password",
            users(both),
            "user",
            "badpassword",
            VIOLATION,
        ),
    ] {
        let s = ctx
            .server(ServerSpec::new().conf(&format!("{conf}{}", ws_block(""))))
            .await?;
        let connect =
            format!(r#"{{"verbose":false,"protocol":1,"user":"{user}","pass":"{pass}"}}"#);
        let got = connect_answer(&s.ws_addr()?, &connect).await?;
        ensure!(got == want, "{name}: got {got:?}, want {want:?}");
    }
    Ok(())
}

/// TestWSBindToProperAccount: a websocket client of account `a` (whose
/// user lists the connection type in lower case) publishes to a plain
/// client of the same account.
async fn bind_account(ctx: Ctx) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(&format!(
            "accounts {{\n  a {{ users [ {{ user: a, password: pwd, allowed_connection_types: [\"STANDARD\", \"websocket\"] }} ] }}\n  b {{ users [ {{ user: b, password: pwd }} ] }}\n}}\n{}",
            ws_block("")
        )))
        .await?;
    let mut sub = ctx
        .raw_connected(&s, r#"{"verbose":false,"user":"a","pass":"pwd"}"#)
        .await?;
    sub.send("SUB foo 1\r\nPING\r\n").await?;
    sub.expect_pong().await?;
    let mut w = WsClient::connect(&s.ws_addr()?, &Upgrade::default()).await?;
    w.expect(r"^INFO .*\r\n").await?;
    w.send_data(
        b"CONNECT {\"verbose\":false,\"protocol\":1,\"user\":\"a\",\"pass\":\"pwd\"}\r\nPING\r\n",
    )
    .await?;
    w.expect(r"^PONG\r\n").await?;
    w.send_data(b"PUB foo 7\r\nfrom ws\r\n").await?;
    let msgs = sub
        .read_msgs(1)
        .await
        .context("the websocket client's message in account a")?;
    check_eq!(&msgs[0].payload[..], b"from ws");
    Ok(())
}

/// TestWSNoAuthUser's table: the websocket block's no_auth_user replaces
/// the top-level one; the user and account each client got, from /connz.
async fn no_auth_user(ctx: Ctx) -> Result<()> {
    let accounts = "accounts {\n  normal { users [ { user: noauth, password: pwd }, { user: user, password: pwd } ] }\n  websocket { users [ { user: wsnoauth, password: pwd }, { user: wsuser, password: pwd } ] }\n}\nno_auth_user: noauth\nhttp: 127.0.0.1:{{http_port}}\n";
    for (override_user, with_user, want_user, want_account) in [
        (false, false, "noauth", "normal"),
        (false, true, "user", "normal"),
        (true, false, "wsnoauth", "websocket"),
        (true, true, "wsuser", "websocket"),
    ] {
        let block = ws_block(if override_user {
            "no_auth_user: wsnoauth"
        } else {
            ""
        });
        let s = ctx
            .server(ServerSpec::new().conf(&format!("{accounts}{block}")))
            .await?;
        let connect = if with_user {
            format!(r#"{{"verbose":false,"protocol":1,"user":"{want_user}","pass":"pwd"}}"#)
        } else {
            r#"{"verbose":false,"protocol":1}"#.to_string()
        };
        let mut w = WsClient::connect(&s.ws_addr()?, &Upgrade::default()).await?;
        w.expect(r"^INFO .*\r\n").await?;
        w.send_data(format!("CONNECT {connect}\r\nPING\r\n").as_bytes())
            .await?;
        w.expect(r"^PONG\r\n").await?;
        let who = crate::kit::connz_users(&ctx, &s, &Default::default()).await?;
        check_eq!(who, vec![format!("{want_user} in {want_account}")]);
    }
    Ok(())
}

/// TestWSNkeyAuth's table: nkey users, filtered by connection type.
async fn nkey_auth(ctx: Ctx) -> Result<()> {
    let (nkp, wsnkp, badkp) = (
        nkeys::KeyPair::new_user(),
        nkeys::KeyPair::new_user(),
        nkeys::KeyPair::new_user(),
    );
    let (pub_, wspub) = (nkp.public_key(), wsnkp.public_key());
    let types = |t: &str| format!(", allowed_connection_types: [{t}]");
    let standard = types("\"STANDARD\"");
    let websocket = types("\"WEBSOCKET\"");
    let both = types("\"STANDARD\", \"WEBSOCKET\"");
    let users = |list: Vec<(String, String)>| {
        let list: Vec<String> = list
            .into_iter()
            .map(|(k, t)| format!("{{ nkey: {k}{t} }}"))
            .collect();
        format!("authorization {{ users [ {} ] }}\n", list.join(", "))
    };
    let cases = [
        (
            "no filtering, wrong nkey",
            users(vec![(pub_.clone(), String::new())]),
            &badkp,
            VIOLATION,
        ),
        (
            "no filtering, correct nkey",
            users(vec![(pub_.clone(), String::new())]),
            &nkp,
            "PONG",
        ),
        (
            "filtering, nkey not allowed",
            users(vec![(pub_.clone(), standard), (wspub.clone(), websocket)]),
            &nkp,
            VIOLATION,
        ),
        (
            "filtering, correct nkey",
            users(vec![
                (pub_.clone(), String::new()),
                (wspub.clone(), both.clone()),
            ]),
            &wsnkp,
            "PONG",
        ),
        (
            "filtering, wrong nkey",
            users(vec![(wspub.clone(), both)]),
            &badkp,
            VIOLATION,
        ),
    ];
    for (name, conf, kp, want) in cases {
        let s = ctx
            .server(ServerSpec::new().conf(&format!("{conf}{}", ws_block(""))))
            .await?;
        let mut w = WsClient::connect(&s.ws_addr()?, &Upgrade::default()).await?;
        let info = w.expect(r"^INFO (\{.*\}) \r\n").await?;
        let info: serde_json::Value = serde_json::from_str(&info[1])?;
        let nonce = info["nonce"].as_str().context("INFO has no nonce")?;
        let sig = kp
            .sign(nonce.as_bytes())
            .map_err(|e| anyhow::anyhow!("signing the nonce: {e}"))?;
        let sig = crate::kit::encoding::b64url(&sig);
        let connect = format!(
            "CONNECT {{\"verbose\":false,\"protocol\":1,\"nkey\":\"{}\",\"sig\":\"{sig}\"}}\r\nPING\r\n",
            kp.public_key()
        );
        w.send_data(connect.as_bytes()).await?;
        let got = w.expect(r"^(PONG|-ERR '[^']*')\r\n").await?;
        ensure!(got[1] == want, "{name}: got {:?}, want {want:?}", got[1]);
    }
    Ok(())
}

/// TestWSReadErrors and TestWSReadGetErrors on the wire: a valid message
/// written together with what ends the connection (a frame that breaks
/// the rules, or a frame cut short before the client goes away) is still
/// delivered.
async fn read_errors(ctx: Ctx) -> Result<()> {
    let s = ws_server(&ctx, "").await?;
    let mut sub = ctx.raw_connected(&s, r#"{"verbose":false}"#).await?;
    sub.send("SUB foo 1\r\nPING\r\n").await?;
    sub.expect_pong().await?;
    let hello = client_frame(0x80 | OP_BINARY, b"PUB foo 5\r\nhello\r\n", true);
    // (name, the bad frames, the error)
    let cases: Vec<(&str, Vec<Vec<u8>>, &str)> = vec![
        (
            "mask bit missing",
            vec![client_frame(0x80 | OP_BINARY, b"hello", false)],
            "mask bit missing",
        ),
        (
            "control frame length",
            vec![client_frame(0x80 | OP_PING, &[0; 200], true)],
            "control frame length bigger than maximum allowed",
        ),
        (
            "control frame not final",
            vec![client_frame(OP_PING, b"hello", true)],
            "control frame does not have final bit set",
        ),
        (
            "new message before final",
            vec![
                client_frame(OP_BINARY, b"PI", true),
                client_frame(0x80 | OP_BINARY, b"NG\r\n", true),
            ],
            "new message started before final frame for previous message was received",
        ),
        (
            "invalid continuation",
            vec![
                client_frame(0x80 | OP_BINARY, b"PING\r\n", true),
                client_frame(OP_CONTINUATION, b"continuation", true),
            ],
            "invalid continuation frame",
        ),
        (
            "compressed continuation",
            vec![client_frame(0x40 | OP_CONTINUATION, b"frame", true)],
            "invalid continuation frame",
        ),
        (
            "unknown opcode",
            vec![client_frame(99, b"hello", true)],
            "unknown opcode",
        ),
    ];
    for (name, bad, text) in cases {
        // After a valid message, in the same write: the message is
        // delivered.
        let mut w = nats_ws(&s, &Upgrade::default()).await?;
        w.send_raw(&[vec![hello.clone()], bad.clone()].concat().concat())
            .await?;
        let msgs = sub
            .read_msgs(1)
            .await
            .with_context(|| format!("{name}: the message before the bad frame"))?;
        check_eq!(&msgs[0].payload[..], b"hello");
        drop(w);
        // Alone, each frame in a read of its own: the error closes the
        // connection (Go drops an error found in a read that also carried
        // data), with a 1002 close frame when Go's writer was faster.
        let mut w = nats_ws(&s, &Upgrade::default()).await?;
        let logged = s.logs().matches(&format!("read error: {text}")).count();
        for (i, frame) in bad.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            w.send_raw(frame).await?;
        }
        if let Some((code, reason)) = w.close_or_eof().await? {
            ensure!(
                code == 1002 && reason.contains(text),
                "{name}: close {code} {reason:?}, want 1002 {text:?}"
            );
        }
        eventually(Duration::from_secs(3), || async {
            let n = s.logs().matches(&format!("read error: {text}")).count();
            Ok((n > logged).then_some(()))
        })
        .await
        .with_context(|| format!("{name}: no new log line with {text:?}"))?;
    }
    // A message, then part of the next frame (a header cut anywhere, or
    // part of its payload), and the client goes away.
    for (len, extra) in [
        (10usize, 1usize),
        (10, 3),
        (200, 1),
        (200, 2),
        (200, 5),
        (70_000, 1),
        (70_000, 5),
        (70_000, 13),
    ] {
        let mut w = nats_ws(&s, &Upgrade::default()).await?;
        let frame = client_frame(0x80 | OP_BINARY, &vec![0; len], true);
        w.send_raw(&[&hello[..], &frame[..extra]].concat()).await?;
        drop(w);
        let msgs = sub
            .read_msgs(1)
            .await
            .with_context(|| format!("({len}, {extra}): the message before the cut frame"))?;
        check_eq!(&msgs[0].payload[..], b"hello");
    }
    // Nothing else was delivered.
    sub.send("PING\r\n").await?;
    let rest = sub.msgs_until_pong().await?;
    ensure!(rest.is_empty(), "more messages: {rest:?}");
    Ok(())
}
