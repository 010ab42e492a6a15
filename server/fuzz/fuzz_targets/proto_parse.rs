//! Any byte stream, cut into reads at any points, drives the client
//! protocol parser to operations or to an error, never to a panic or a loop
//! that stops consuming input; and every CONNECT argument decodes (Go's
//! JSON rules) to options or to an error, never to a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

use natsd_proto::client::connect::{ClientOpts, SUBJECT_PERMISSION};
use natsd_proto::client::parser::{parse_size, ArgList, Op, Parser};
use natsd_proto::gojson::{self, GoStruct, GoType};

/// A document type with every kind of field, for INFO arguments.
static EVERY_TYPE: GoStruct = GoStruct {
    name: "Info",
    fields: &[
        ("s", GoType::Str),
        ("b", GoType::Bool),
        ("i", GoType::Int(64)),
        ("i32", GoType::Int(32)),
        ("u", GoType::Uint(64)),
        ("u8", GoType::Uint(8)),
        ("list", GoType::StrList),
        ("bytes", GoType::Bytes),
        ("import", GoType::Struct(&SUBJECT_PERMISSION)),
    ],
};

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
                    if let Op::Info(arg) = op {
                        let valid = gojson::check_valid(arg).is_ok();
                        if gojson::check_types(arg, &EVERY_TYPE).is_ok() {
                            assert!(valid, "typed from invalid JSON");
                        }
                    }
                    if let Op::Connect(arg) = op {
                        let mut opts = ClientOpts::default();
                        let valid = gojson::check_valid(arg).is_ok();
                        if opts.apply_json(arg).is_ok() {
                            assert!(valid, "options from invalid JSON");
                        }
                    }
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
