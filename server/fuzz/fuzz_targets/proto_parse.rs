//! Any byte stream, cut into reads at any points, drives the client
//! protocol parser to operations or to an error, never to a panic or a loop
//! that stops consuming input.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// The parser is one self-contained file of natsd (natsd is a binary crate).
#[allow(dead_code)]
#[path = "../../src/proto/parser.rs"]
mod parser;

use parser::{parse_size, ArgList, Op, Parser};

/// Go's default max_control_line.
const MAX_CONTROL_LINE: usize = 4096;

fuzz_target!(|data: &[u8]| {
    // The first byte chooses where the input is cut into reads.
    let Some((&cut_seed, input)) = data.split_first() else {
        return;
    };
    let step = usize::from(cut_seed % 64) + 1;
    let mut parser = Parser::new();
    // What the reader keeps between reads: the input not consumed yet.
    let mut buf: Vec<u8> = Vec::new();
    for chunk in input.chunks(step) {
        buf.extend_from_slice(chunk);
        let mut at = 0;
        loop {
            match parser.parse(&buf[at..], MAX_CONTROL_LINE, false) {
                Ok(Some((op, n))) => {
                    assert!(n > 0, "an operation consumed nothing");
                    assert!(at + n <= buf.len(), "an operation spans past the input");
                    if let Op::Pub(arg) | Op::HPub(arg) = op {
                        let size = ArgList::split(arg)
                            .as_slice()
                            .and_then(|a| a.last())
                            .map_or(-1, |s| parse_size(s));
                        if size < 0 {
                            return; // natsd closes the connection here
                        }
                        parser.expect_payload(size as usize, false);
                    }
                    at += n;
                }
                Ok(None) => break,
                Err(_) => return, // natsd answers -ERR and closes
            }
        }
        buf.drain(..at);
    }
});
