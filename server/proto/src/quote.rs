//! Go's `%q` quoting, used in log lines and error texts.

/// Go's `%q` of bytes: a double-quoted string with Go escapes.
pub fn go_quote(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push('"');
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        // Decode one UTF-8 character if valid, else escape the byte.
        let width = utf8_width(c);
        if width > 1 {
            if let Some(s) = b
                .get(i..i + width)
                .and_then(|s| std::str::from_utf8(s).ok())
            {
                let ch = s.chars().next().unwrap_or('\u{fffd}');
                if is_go_printable(ch) {
                    out.push(ch);
                } else if (ch as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", ch as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", ch as u32));
                }
                i += width;
                continue;
            }
        }
        match c {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            0x0b => out.push_str("\\v"),
            0x20..=0x7e => out.push(c as char),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
        i += 1;
    }
    out.push('"');
    out
}

fn utf8_width(c: u8) -> usize {
    match c {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 1,
    }
}

fn is_go_printable(ch: char) -> bool {
    !ch.is_control() && ch != '\u{fffd}' && !matches!(ch, '\u{2028}' | '\u{2029}' | '\u{ad}')
}

#[cfg(test)]
mod tests {
    use super::go_quote;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote(b"he\"lo"), "\"he\\\"lo\"");
        assert_eq!(go_quote(b"a\r\nb"), "\"a\\r\\nb\"");
        assert_eq!(go_quote(b"\x00\xff"), "\"\\x00\\xff\"");
        assert_eq!(go_quote("é".as_bytes()), "\"é\"");
    }
}
