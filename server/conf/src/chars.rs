//! Character classes and UTF-8 decoding with the exact semantics of the
//! reference implementation (Go's `unicode` and `unicode/utf8` packages).
//!
//! The lexer works on raw bytes, because a configuration file is not required
//! to be valid UTF-8: an invalid byte decodes to U+FFFD with a width of one.

/// The character the reference lexer uses both for "end of input" and for a
/// literal NUL byte: the two are indistinguishable in its comparisons.
pub(crate) const EOF: char = '\0';

/// Decodes the character starting at `bytes[0]`, returning it and its width.
/// `bytes` must not be empty.
pub(crate) fn decode(bytes: &[u8]) -> (char, usize) {
    let end = bytes.len().min(4);
    match std::str::from_utf8(&bytes[..end]) {
        Ok(s) => first_char(s),
        Err(e) if e.valid_up_to() > 0 => {
            // The prefix is valid UTF-8, so this cannot fail.
            first_char(std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or("\u{FFFD}"))
        }
        Err(_) => ('\u{FFFD}', 1),
    }
}

fn first_char(s: &str) -> (char, usize) {
    match s.chars().next() {
        Some(c) => (c, c.len_utf8()),
        None => ('\u{FFFD}', 1),
    }
}

/// Unicode `White_Space`, which is what Go's `unicode.IsSpace` tests.
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// The spec's narrow "whitespace": only space and tab.
pub(crate) fn is_whitespace(c: char) -> bool {
    c == ' ' || c == '\t'
}

pub(crate) fn is_nl(c: char) -> bool {
    c == '\n' || c == '\r'
}

pub(crate) fn is_key_separator(c: char) -> bool {
    c == '=' || c == ':'
}

pub(crate) fn is_number_suffix(c: char) -> bool {
    matches!(
        c,
        'k' | 'K' | 'm' | 'M' | 'g' | 'G' | 't' | 'T' | 'p' | 'P' | 'e' | 'E'
    )
}

/// Ranges of the Unicode 13 general category `Nd` (decimal digits), the
/// Unicode version of the Go toolchain that built nats-server 2.9.10.
/// Go's `unicode.IsDigit` accepts all of them, not just ASCII.
const DECIMAL_DIGITS: &[(u32, u32)] = &[
    (0x30, 0x39),
    (0x660, 0x669),
    (0x6F0, 0x6F9),
    (0x7C0, 0x7C9),
    (0x966, 0x96F),
    (0x9E6, 0x9EF),
    (0xA66, 0xA6F),
    (0xAE6, 0xAEF),
    (0xB66, 0xB6F),
    (0xBE6, 0xBEF),
    (0xC66, 0xC6F),
    (0xCE6, 0xCEF),
    (0xD66, 0xD6F),
    (0xDE6, 0xDEF),
    (0xE50, 0xE59),
    (0xED0, 0xED9),
    (0xF20, 0xF29),
    (0x1040, 0x1049),
    (0x1090, 0x1099),
    (0x17E0, 0x17E9),
    (0x1810, 0x1819),
    (0x1946, 0x194F),
    (0x19D0, 0x19D9),
    (0x1A80, 0x1A89),
    (0x1A90, 0x1A99),
    (0x1B50, 0x1B59),
    (0x1BB0, 0x1BB9),
    (0x1C40, 0x1C49),
    (0x1C50, 0x1C59),
    (0xA620, 0xA629),
    (0xA8D0, 0xA8D9),
    (0xA900, 0xA909),
    (0xA9D0, 0xA9D9),
    (0xA9F0, 0xA9F9),
    (0xAA50, 0xAA59),
    (0xABF0, 0xABF9),
    (0xFF10, 0xFF19),
    (0x104A0, 0x104A9),
    (0x10D30, 0x10D39),
    (0x11066, 0x1106F),
    (0x110F0, 0x110F9),
    (0x11136, 0x1113F),
    (0x111D0, 0x111D9),
    (0x112F0, 0x112F9),
    (0x11450, 0x11459),
    (0x114D0, 0x114D9),
    (0x11650, 0x11659),
    (0x116C0, 0x116C9),
    (0x11730, 0x11739),
    (0x118E0, 0x118E9),
    (0x11950, 0x11959),
    (0x11C50, 0x11C59),
    (0x11D50, 0x11D59),
    (0x11DA0, 0x11DA9),
    (0x16A60, 0x16A69),
    (0x16B50, 0x16B59),
    (0x1D7CE, 0x1D7FF),
    (0x1E140, 0x1E149),
    (0x1E2F0, 0x1E2F9),
    (0x1E950, 0x1E959),
    (0x1FBF0, 0x1FBF9),
];

/// Go's `unicode.IsDigit`: any decimal digit, in any script.
pub(crate) fn is_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    let c = c as u32;
    DECIMAL_DIGITS
        .iter()
        .any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// Compares raw bytes with an ASCII lower-case word the way Go compares
/// `strings.ToLower(s) == word`: simple case mapping per character, under
/// which two non-ASCII letters also fold to ASCII ones.
pub(crate) fn lower_eq(bytes: &[u8], word: &str) -> bool {
    let mut rest = bytes;
    let mut expected = word.chars();
    while !rest.is_empty() {
        let (c, width) = decode(rest);
        rest = &rest[width..];
        let folded = match c {
            '\u{130}' => 'i',
            '\u{212A}' => 'k',
            c => c.to_ascii_lowercase(),
        };
        if expected.next() != Some(folded) {
            return false;
        }
    }
    expected.next().is_none()
}

/// Renders a character inside an error message as the reference does: only
/// a new line is escaped.
pub(crate) fn show(c: char) -> String {
    if c == '\n' {
        "\\n".to_string()
    } else {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_valid_and_invalid_utf8() {
        assert_eq!(decode(b"a"), ('a', 1));
        assert_eq!(decode("ø!".as_bytes()), ('ø', 2));
        assert_eq!(decode(&[0xff, b'a']), ('\u{FFFD}', 1));
        assert_eq!(decode(&[0xe2, 0x82]), ('\u{FFFD}', 1));
        assert_eq!(decode(&[0xed, 0xa0, 0x80]), ('\u{FFFD}', 1));
    }

    #[test]
    fn digits_cover_other_scripts() {
        assert!(is_digit('7'));
        assert!(is_digit('\u{663}'));
        assert!(is_digit('\u{FF15}'));
        assert!(!is_digit('a'));
        assert!(!is_digit('\u{B2}')); // superscript two is No, not Nd
    }

    #[test]
    fn lower_eq_folds_like_go() {
        assert!(lower_eq(b"INCLUDE", "include"));
        assert!(lower_eq("\u{130}nclude".as_bytes(), "include"));
        assert!(!lower_eq(b"includes", "include"));
        assert!(!lower_eq(b"includ", "include"));
    }
}
