//! A real browser on the WebSocket listener (server/websocket_test.go's
//! TestWSWebrowserClient, with the client the Go test only imitates): the
//! official NATS browser client, nats.ws, in headless Chromium
//! (`kit::browser`) connects over ws://, with the listener's compression off
//! and on. The page subscribes, makes a request that a raw TCP client (the
//! page's peer, here) answers after publishing to it, makes a request that
//! its own responder answers, and publishes to the peer, headers and a large
//! payload included. Both sides check every payload byte for byte.

use crate::check_eq;
use crate::kit::{browser, Ctx, Msg, RawClient, ServerSpec};
use crate::registry::{Need, Scenario};
use crate::rng::Rng;
use anyhow::{ensure, Context, Result};
use futures::FutureExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::time::Duration;

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new("websocket/browser", |c| browser_client(c, false).boxed())
            .partial("TestWSWebrowserClient")
            .needs(Need::WebSocket)
            .needs(Need::Browser)
            .timeout(SCENARIO_TIMEOUT),
        Scenario::new("websocket/browser-compressed", |c| {
            browser_client(c, true).boxed()
        })
        .partial("TestWSWebrowserClient")
        .partial("TestWSCompressionBasic")
        .needs(Need::WebSocket)
        .needs(Need::Browser)
        .timeout(SCENARIO_TIMEOUT),
    ]
}

/// How long the page may take, Chromium's start included (slow on a busy
/// 2-core machine). The peer waits as long for the page's request.
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// The page's time, the runner's grace after it, and the server's start.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(60);

/// What Go 2.9.10 answers to Chromium's offer of permessage-deflate.
const DEFLATE_ACCEPTED: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// `window.__result` of conformance/browser/page.mjs.
#[derive(Debug, Deserialize)]
struct Report {
    connected: bool,
    info: Option<serde_json::Value>,
    received: Vec<Received>,
    peer_reply: Option<String>,
    self_reply: Option<String>,
    closed: Option<String>,
    error: Option<String>,
}

/// One message the page got on browser.in.
#[derive(Debug, Deserialize, PartialEq, Eq)]
struct Received {
    subject: String,
    size: usize,
    sha256: String,
    headers: Option<Vec<(String, Vec<String>)>>,
}

/// A message the peer publishes to the page: optional header, payload.
struct ToPage {
    header: Option<(&'static str, &'static str)>,
    payload: Vec<u8>,
}

impl ToPage {
    fn plain(payload: impl Into<Vec<u8>>) -> ToPage {
        ToPage {
            header: None,
            payload: payload.into(),
        }
    }

    fn proto(&self) -> Vec<u8> {
        let mut out = match self.header {
            None => format!("PUB browser.in {}\r\n", self.payload.len()).into_bytes(),
            Some((k, v)) => {
                let hdr = format!("NATS/1.0\r\n{k}: {v}\r\n\r\n");
                let total = hdr.len() + self.payload.len();
                format!("HPUB browser.in {} {total}\r\n{hdr}", hdr.len()).into_bytes()
            }
        };
        out.extend_from_slice(&self.payload);
        out.extend_from_slice(b"\r\n");
        out
    }

    /// How the page reports the message when it arrives intact.
    fn as_received(&self) -> Received {
        Received {
            subject: "browser.in".into(),
            size: self.payload.len(),
            sha256: hex_sha256(&self.payload),
            headers: self
                .header
                .map(|(k, v)| vec![(k.to_string(), vec![v.to_string()])]),
        }
    }
}

/// What the peer sends: small, with a header, empty, larger than the frames
/// Go sends browsers (compressible, then not), and the page's "end".
fn to_page() -> Vec<ToPage> {
    vec![
        ToPage::plain("hello browser"),
        ToPage {
            header: Some(("X-Peer", "rust")),
            payload: b"with a header".to_vec(),
        },
        ToPage::plain(""),
        ToPage::plain(digits(200_000)),
        ToPage::plain(Rng::for_case(1, 0, 0).bytes(100_000)),
        ToPage::plain("end"),
    ]
}

/// `size` bytes of "0123456789" repeated, as page.mjs makes them.
fn digits(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'0' + (i % 10) as u8).collect()
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn browser_client(ctx: Ctx, compression: bool) -> Result<()> {
    let s = ctx
        .server(ServerSpec::new().conf(&format!(
            "websocket {{ host: 127.0.0.1, port: {{{{ws_port}}}}, no_tls: true, compression: {compression} }}\n"
        )))
        .await?;
    let mut peer = ctx
        .raw_connected(&s, r#"{"verbose":false,"headers":true,"protocol":1}"#)
        .await?;
    peer.send("SUB browser.req 1\r\nSUB browser.out 2\r\n")
        .await?;
    peer.flush().await?;
    let url = format!("ws://{}", s.ws_addr()?);
    let profile = ctx.new_dir("chromium")?;
    let sent = to_page();
    let (run, from_page) = tokio::join!(
        browser::run_page(&url, &profile, PAGE_TIMEOUT),
        answer(&mut peer, &sent)
    );
    // The page's own failure explains more than the peer's wait for it.
    let run = run?;
    let report: Report =
        serde_json::from_value(run.page()?.clone()).context("the page's report")?;
    ensure!(
        report.error.is_none(),
        "the page failed: {:?} (connected: {}); console: {:?}; page errors: {:?}; the peer: {:?}",
        report.error,
        report.connected,
        run.console,
        run.page_errors,
        from_page.as_ref().map(|(reply, msgs)| (reply, msgs.len()))
    );
    ensure!(
        run.page_errors.is_empty(),
        "page errors: {:?}",
        run.page_errors
    );

    let handshake = run.handshake.context("no WebSocket handshake seen")?;
    check_eq!(handshake.status, Some(101));
    // Chromium always offers compression; the server takes it only when on.
    let offer = handshake.request_header("Sec-WebSocket-Extensions");
    ensure!(
        offer.is_some_and(|o| o.contains("permessage-deflate")),
        "Chromium did not offer permessage-deflate: {offer:?}"
    );
    let accepted = handshake.response_header("Sec-WebSocket-Extensions");
    check_eq!(accepted, compression.then_some(DEFLATE_ACCEPTED));
    let names: Vec<&String> = handshake.response.iter().flat_map(|h| h.keys()).collect();
    ctx.observe("upgrade response headers", format!("{names:?}"));

    let info = report.info.context("no INFO in the page's report")?;
    check_eq!(info["proto"], 1);
    check_eq!(info["headers"], true);
    check_eq!(info["max_payload"], 1_048_576);
    ctx.observe_json("INFO seen by nats.ws", &info);

    let want: Vec<Received> = sent.iter().map(ToPage::as_received).collect();
    check_eq!(report.received, want);
    check_eq!(report.peer_reply.as_deref(), Some("world"));
    check_eq!(report.self_reply.as_deref(), Some("echo:ping"));
    check_eq!(report.closed.as_deref(), Some("clean"));

    let (reply, msgs) = from_page?;
    ensure!(
        reply.starts_with("_INBOX."),
        "request reply subject {reply}"
    );
    check_eq!(msgs.len(), 3);
    check_eq!(&msgs[0].payload[..], b"from the browser");
    check_eq!(msgs[0].headers, None);
    ensure!(
        msgs[1].payload == digits(150_000),
        "the large payload from the browser differs: {} bytes",
        msgs[1].payload.len()
    );
    check_eq!(&msgs[2].payload[..], b"with headers");
    let hdr = msgs[2].headers.as_deref().unwrap_or_default();
    check_eq!(
        String::from_utf8_lossy(hdr),
        "NATS/1.0\r\nX-Browser: chromium\r\n\r\n"
    );
    for m in &msgs {
        check_eq!(m.subject, "browser.out");
    }
    Ok(())
}

/// Plays the page's peer: waits for its request on browser.req, publishes
/// `sent` to browser.in, answers "world", then reads the three messages the
/// page publishes on browser.out. Returns the request's reply subject and
/// those messages.
async fn answer(peer: &mut RawClient, sent: &[ToPage]) -> Result<(String, Vec<Msg>)> {
    // The server's first PING comes a second after CONNECT, often before
    // Chromium is up.
    let deadline = tokio::time::Instant::now() + PAGE_TIMEOUT;
    let reply = loop {
        let wait = deadline.saturating_duration_since(tokio::time::Instant::now());
        let got = peer
            .expect_within(r"PING\r\n|MSG browser\.req 1 (\S+) 5\r\nhello\r\n", wait)
            .await
            .context("the page's request")?;
        if !got[0].is_empty() {
            break got[0].clone();
        }
        peer.send("PONG\r\n").await?;
    };
    for m in sent {
        peer.send_bytes(&m.proto()).await?;
    }
    peer.send(&format!("PUB {reply} 5\r\nworld\r\n")).await?;
    let msgs = peer
        .read_msgs(3)
        .await
        .context("the page's messages on browser.out")?;
    Ok((reply, msgs))
}
