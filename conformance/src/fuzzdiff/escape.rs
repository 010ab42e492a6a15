//! Bytes shown as one line of text: printable ASCII as is, `\r`, `\n`,
//! `\t` and `\\` escaped, every other byte as `\xNN`. Reproducers and
//! answers hold arbitrary bytes; the report must show each one exactly.

/// The escaped form of `bytes`; backticks are escaped too, so the text is
/// safe inside Markdown code.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b'`' => out.push_str("\\x60"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

/// [`escape`], cut to about `max` characters with a note of the full size.
pub fn escape_cut(bytes: &[u8], max: usize) -> String {
    if bytes.len() <= max {
        return escape(bytes);
    }
    format!(
        "{}... ({} bytes in all)",
        escape(&bytes[..max]),
        bytes.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_line_ends_and_non_printables() {
        assert_eq!(
            escape(b"PUB \nfoo\r\n\xff`\\"),
            "PUB \\nfoo\\r\\n\\xff\\x60\\\\"
        );
    }

    #[test]
    fn cuts_long_input() {
        assert_eq!(escape_cut(b"abcdef", 3), "abc... (6 bytes in all)");
        assert_eq!(escape_cut(b"abc", 3), "abc");
    }
}
