//! Any byte stream, cut into reads at any points, drives the client
//! protocol parser to operations or to an error, never to a panic or a loop
//! that stops consuming input.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

/// The parser is one self-contained file of natsd (natsd is a binary crate).
#[allow(dead_code)]
#[path = "../../src/proto/parser.rs"]
mod parser;

use parser::{parse_size, split_pub_args, Event, Parser};

/// Go's default max_control_line.
const MAX_CONTROL_LINE: usize = 4096;

fuzz_target!(|data: &[u8]| {
    // The first byte chooses where the input is cut into reads.
    let Some((&cut_seed, input)) = data.split_first() else {
        return;
    };
    let step = usize::from(cut_seed % 64) + 1;
    let mut parser = Parser::new();
    let mut buf = BytesMut::new();
    for chunk in input.chunks(step) {
        buf.extend_from_slice(chunk);
        loop {
            let before = buf.len();
            match parser.next(&mut buf, MAX_CONTROL_LINE, false) {
                Ok(Some(Event::Pub(arg))) | Ok(Some(Event::HPub(arg))) => {
                    let args = split_pub_args(&arg);
                    let size = args.last().map_or(-1, |s| parse_size(s));
                    if size < 0 {
                        return; // natsd closes the connection here
                    }
                    parser.expect_payload(size as usize, false);
                }
                Ok(Some(_)) => assert!(buf.len() <= before, "an operation grew the buffer"),
                Ok(None) => break,
                Err(_) => return, // natsd answers -ERR and closes
            }
        }
    }
});
