//! Any byte stream, cut into reads at any points, drives the WebSocket
//! frame decoder (masked or not) to events or to an error, never to a
//! panic, a loop that stops consuming input, or an inflated message past
//! its bound; and any request head parses and is checked without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

use natsd_proto::websocket::frame::{Decoder, Event};
use natsd_proto::websocket::handshake::{check, parse_request, Origins, Policy};

/// Bound on an inflated message, small so that deflate bombs are found.
const MAX_INFLATED: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let masked = first & 1 == 0;
    let step = usize::from(first >> 1).max(1);
    let mut decoder = Decoder::new(masked, MAX_INFLATED);
    let mut pending: Vec<u8> = Vec::new();
    'reads: for piece in rest.chunks(step) {
        pending.extend_from_slice(piece);
        let mut closed = false;
        let result = decoder.decode(&mut pending, |e| match e {
            Event::Inflated(b) => assert!(b.len() <= MAX_INFLATED),
            Event::Close(reply) => {
                assert!(reply.len() >= 2 && reply.len() <= 125);
                closed = true;
            }
            Event::Data(_) | Event::Ping(_) => {}
        });
        match result {
            Ok(used) => {
                assert!(used <= pending.len());
                pending.drain(..used);
            }
            Err(_) => break 'reads,
        }
        if closed {
            break;
        }
    }
    let (origins, _) = Origins::new(true, &["http://a.io".to_string()]);
    let policy = Policy {
        compression: true,
        origins: &origins,
        tls: false,
    };
    if let Ok(Some((req, len))) = parse_request(rest) {
        assert!(len <= rest.len());
        let _ = check(&req, &policy);
    }
});
