//! Any input to the config parser gives a value or an error, never a panic,
//! and an error always says where it happened.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = natsd_conf::parse_str(text) {
            assert!(!e.to_string().is_empty());
        }
    }
});
