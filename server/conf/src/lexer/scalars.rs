//! States for scalar values: quoted, bare and block strings, escapes,
//! numbers, dates and IP addresses.

use super::{Kind, Lexer, State};
use crate::chars::{is_digit, is_nl, is_number_suffix, is_whitespace, lower_eq, show, EOF};

impl Lexer<'_> {
    // ----- strings -----------------------------------------------------------

    pub(super) fn quoted_string(&mut self) -> State {
        let r = self.next();
        if r == '\'' {
            self.backup();
            self.emit(Kind::String);
            self.next();
            self.ignore();
            return self.pop();
        }
        if r == EOF {
            return self.eof_or_error();
        }
        State::QuotedString
    }

    pub(super) fn dub_quoted_string(&mut self) -> State {
        let r = self.next();
        match r {
            '\\' => {
                self.add_current_part(1);
                State::StringEscape
            }
            '"' => {
                self.backup();
                self.emit_string();
                self.next();
                self.ignore();
                self.pop()
            }
            EOF => self.eof_or_error(),
            _ => State::DubQuotedString,
        }
    }

    /// A bare (unquoted) string, which may turn out to be a boolean or a
    /// variable reference.
    pub(super) fn string(&mut self) -> State {
        let r = self.next();
        if r == '\\' {
            self.add_current_part(1);
            return State::StringEscape;
        }
        if is_nl(r) || r == EOF || r == ';' || r == ',' || r == ']' || r == '}' || is_whitespace(r)
        {
            self.backup();
            if self.part_count > 0 {
                self.emit_string();
            } else if self.is_bool() {
                self.emit(Kind::Bool);
            } else if self.is_variable() {
                self.emit(Kind::Variable);
            } else {
                self.emit_string();
            }
            return self.pop();
        }
        if r == '\'' {
            self.backup();
            self.emit_string();
            self.next();
            self.ignore();
            return self.pop();
        }
        State::String
    }

    pub(super) fn is_bool(&self) -> bool {
        let text = self.pending();
        ["true", "false", "on", "off", "yes", "no"]
            .iter()
            .any(|word| lower_eq(text, word))
    }

    /// A leading `$` marks a variable; it is dropped from the token.
    pub(super) fn is_variable(&mut self) -> bool {
        if self.input.get(self.start) == Some(&b'$') {
            self.start += 1;
            return true;
        }
        false
    }

    /// A `(` ... `)` block: raw text up to a `)` alone at the start of a line.
    pub(super) fn block(&mut self) -> State {
        let r = self.next();
        if r == ')' {
            self.backup();
            self.backup();
            if self.next() != '\n' {
                self.next();
                return State::Block;
            }
            self.next();
            let after = self.next();
            if after == '\n' || after == EOF {
                self.backup();
                self.backup();
                self.emit(Kind::String);
                self.next();
                self.ignore();
                return self.pop();
            }
            self.backup();
        } else if r == EOF {
            return self.error("Unexpected EOF processing block.".to_string());
        }
        State::Block
    }

    pub(super) fn string_escape(&mut self) -> State {
        let r = self.next();
        let piece: &[u8] = match r {
            'x' => return State::StringBinary,
            't' => b"\t",
            'n' => b"\n",
            'r' => b"\r",
            '"' => b"\"",
            '\\' => b"\\",
            _ => {
                return self.error(format!(
                    "Invalid escape character '{}'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.",
                    show(r)
                ))
            }
        };
        self.add_part(piece)
    }

    /// The two hexadecimal digits after `\x`.
    pub(super) fn string_binary(&mut self) -> State {
        for _ in 0..2 {
            if is_nl(self.next()) {
                return self.error(
                    "Expected two hexadecimal digits after '\\x', but hit end of line".to_string(),
                );
            }
        }
        let digits = &self.input[self.pos.saturating_sub(2)..self.pos];
        match decode_hex_pair(digits) {
            Some(byte) => self.add_part(&[byte]),
            None => self.error(format!(
                "Expected two hexadecimal digits after '\\x', but got '{}'",
                String::from_utf8_lossy(digits)
            )),
        }
    }

    // ----- numbers and dates -------------------------------------------------

    pub(super) fn first_digit(&mut self, next: State) -> State {
        let r = self.next();
        if !is_digit(r) {
            if r == '.' {
                return self.error("Floats must start with a digit, not '.'.".to_string());
            }
            return self.error(format!("Expected a digit but got '{}'.", show(r)));
        }
        next
    }

    pub(super) fn number_start(&mut self) -> State {
        self.first_digit(State::NumberOrDateOrStringOrIp)
    }

    /// Characters that may directly follow an integer.
    pub(super) fn ends_integer(r: char) -> bool {
        is_nl(r) || r == EOF || r == '}' || r == ';' || r == ',' || is_whitespace(r) || is_digit(r)
    }

    /// A positive integer, float, date, IP address or a bare string that
    /// happens to start with a digit.
    pub(super) fn number_or_date(&mut self) -> State {
        let r = self.next();
        if r == '-' {
            if self.pos.checked_sub(self.start) != Some(5) {
                return self.error("All ISO8601 dates must be in full Zulu form.".to_string());
            }
            return State::DateAfterYear;
        }
        if is_digit(r) {
            return State::NumberOrDateOrStringOrIp;
        }
        if r == '.' {
            return State::FloatStart;
        }
        if is_number_suffix(r) {
            return State::ConvenientNumber;
        }
        if !Self::ends_integer(r) {
            self.string_state = State::String;
            return State::String;
        }
        self.backup();
        self.emit(Kind::Integer);
        self.pop()
    }

    /// An integer with a unit suffix such as `1k` or `2MiB`.
    pub(super) fn convenient_number(&mut self) -> State {
        let r = self.next();
        if matches!(r, 'b' | 'B' | 'i' | 'I') {
            return State::ConvenientNumber;
        }
        self.backup();
        if Self::ends_integer(r) {
            self.emit(Kind::Integer);
            return self.pop();
        }
        self.string_state = State::String;
        State::String
    }

    pub(super) fn date_after_year(&mut self) -> State {
        // '0' stands for any digit, anything else must match exactly.
        for expected in "00-00T00:00:00Z".chars() {
            let r = self.next();
            if expected == '0' {
                if !is_digit(r) {
                    return self.error(format!(
                        "Expected digit in ISO8601 datetime, but found '{}' instead.",
                        show(r)
                    ));
                }
            } else if expected != r {
                return self.error(format!(
                    "Expected '{}' in ISO8601 datetime, but found '{}' instead.",
                    expected,
                    show(r)
                ));
            }
        }
        self.emit(Kind::Datetime);
        self.pop()
    }

    pub(super) fn neg_number_start(&mut self) -> State {
        self.first_digit(State::NegNumber)
    }

    pub(super) fn neg_number(&mut self) -> State {
        let r = self.next();
        if is_digit(r) {
            return State::NegNumber;
        }
        if r == '.' {
            return State::FloatStart;
        }
        if is_number_suffix(r) {
            return State::ConvenientNumber;
        }
        self.backup();
        self.emit(Kind::Integer);
        self.pop()
    }

    pub(super) fn float_start(&mut self) -> State {
        let r = self.next();
        if !is_digit(r) {
            return self.error(format!(
                "Floats must have a digit after the '.', but got '{}' instead.",
                show(r)
            ));
        }
        State::Float
    }

    pub(super) fn float(&mut self) -> State {
        let r = self.next();
        if is_digit(r) {
            return State::Float;
        }
        // A second '.' means this was an IP address after all.
        if r == '.' {
            return State::IpAddr;
        }
        self.backup();
        self.emit(Kind::Float);
        self.pop()
    }

    pub(super) fn ip_addr(&mut self) -> State {
        let r = self.next();
        if is_digit(r) || r == '.' || r == ':' || r == '-' {
            return State::IpAddr;
        }
        self.backup();
        self.emit(Kind::String);
        self.pop()
    }
}

fn decode_hex_pair(digits: &[u8]) -> Option<u8> {
    let value = |b: u8| (b as char).to_digit(16);
    match digits {
        [hi, lo] => Some((value(*hi)? * 16 + value(*lo)?) as u8),
        _ => None,
    }
}
