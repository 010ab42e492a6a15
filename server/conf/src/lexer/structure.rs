//! States for the document structure: top level, keys, `include`,
//! arrays, maps and comments.

use super::{Kind, Lexer, State};
use crate::chars::{
    is_digit, is_key_separator, is_nl, is_space, is_whitespace, lower_eq, show, EOF,
};

impl Lexer<'_> {
    // ----- top level ---------------------------------------------------------

    pub(super) fn top(&mut self) -> State {
        let r = self.next();
        if is_space(r) {
            self.ignore();
            return State::Top;
        }
        match r {
            '{' => {
                self.ignore();
                return State::Top;
            }
            '#' => {
                self.push(State::Top);
                return State::CommentStart;
            }
            '/' => {
                if self.slash_comment(State::Top) {
                    return State::CommentStart;
                }
                return self.eof_or_error();
            }
            EOF => return self.eof_or_error(),
            _ => {}
        }
        self.backup();
        self.push(State::TopValueEnd);
        State::KeyStart
    }

    pub(super) fn top_value_end(&mut self) -> State {
        let r = self.next();
        match r {
            '#' => {
                self.push(State::Top);
                State::CommentStart
            }
            '/' => {
                if self.slash_comment(State::Top) {
                    State::CommentStart
                } else {
                    State::TopValueEnd
                }
            }
            _ if is_whitespace(r) => State::TopValueEnd,
            _ if is_nl(r) || r == EOF || r == ';' || r == ',' || r == '}' => {
                self.ignore();
                State::Top
            }
            _ => self.error(format!(
                "Expected a top-level value to end with a new line, comment or EOF, but got '{}' instead.",
                show(r)
            )),
        }
    }

    // ----- keys --------------------------------------------------------------

    pub(super) fn key_start(&mut self) -> State {
        let r = self.peek();
        if is_key_separator(r) {
            return self.error(format!("Unexpected key separator '{}'", show(r)));
        }
        if is_space(r) {
            self.next();
            self.ignore();
            return State::KeyStart;
        }
        if r == '"' || r == '\'' {
            self.next();
            self.ignore();
            return if r == '"' {
                State::DubQuotedKey
            } else {
                State::QuotedKey
            };
        }
        self.ignore();
        self.next();
        State::Key
    }

    pub(super) fn quoted_key(&mut self, quote: char) -> State {
        let r = self.peek();
        if r == quote {
            self.emit(Kind::Key);
            self.next();
            self.ignore();
            return State::KeyEnd;
        }
        if r == EOF {
            return self.eof_or_error();
        }
        self.next();
        if quote == '"' {
            State::DubQuotedKey
        } else {
            State::QuotedKey
        }
    }

    /// A bare key followed by a space may be the `include` keyword.
    pub(super) fn check_keyword(&mut self, otherwise: State, resume: Option<State>) -> State {
        if lower_eq(self.pending(), "include") {
            self.ignore();
            if let Some(state) = resume {
                self.push(state);
            }
            return State::IncludeStart;
        }
        self.emit(Kind::Key);
        otherwise
    }

    pub(super) fn key(&mut self) -> State {
        let r = self.peek();
        if is_space(r) {
            return self.check_keyword(State::KeyEnd, None);
        }
        if is_key_separator(r) || r == EOF {
            self.emit(Kind::Key);
            return State::KeyEnd;
        }
        self.next();
        State::Key
    }

    pub(super) fn key_end(&mut self) -> State {
        let r = self.next();
        if is_space(r) {
            self.ignore();
            return State::KeyEnd;
        }
        if is_key_separator(r) {
            self.ignore();
            return State::Value;
        }
        if r == EOF {
            self.emit(Kind::Eof);
            return State::Done;
        }
        self.backup();
        State::Value
    }

    // ----- include -----------------------------------------------------------

    pub(super) fn include_start(&mut self) -> State {
        let r = self.next();
        if is_whitespace(r) {
            self.ignore();
            return State::IncludeStart;
        }
        self.backup();
        State::Include
    }

    pub(super) fn include(&mut self) -> State {
        let r = self.next();
        let found = match r {
            '\'' => {
                self.ignore();
                return State::IncludeQuotedString;
            }
            '"' => {
                self.ignore();
                return State::IncludeDubQuotedString;
            }
            '[' => "start of an array",
            '{' => "start of a map",
            '(' => "start of a block",
            '-' => "start of a number",
            '\\' => "escape sequence",
            _ if is_digit(r) => "start of a number",
            _ if is_nl(r) => "new line",
            _ => {
                self.backup();
                return State::IncludeString;
            }
        };
        self.error(format!("Expected include value but found {found}"))
    }

    pub(super) fn include_quoted(&mut self, quote: char) -> State {
        let r = self.next();
        if r == quote {
            self.backup();
            self.emit(Kind::Include);
            self.next();
            self.ignore();
            return self.pop();
        }
        if r == EOF {
            let what = if quote == '"' {
                "double quoted"
            } else {
                "quoted"
            };
            return self.error(format!("Unexpected EOF in {what} include"));
        }
        if quote == '"' {
            State::IncludeDubQuotedString
        } else {
            State::IncludeQuotedString
        }
    }

    pub(super) fn include_string(&mut self) -> State {
        let r = self.next();
        if is_nl(r) || r == EOF || r == ';' || r == '}' || is_whitespace(r) {
            self.backup();
            self.emit(Kind::Include);
            return self.pop();
        }
        if r == '\'' {
            self.backup();
            self.emit(Kind::Include);
            self.next();
            self.ignore();
            return self.pop();
        }
        State::IncludeString
    }

    // ----- values ------------------------------------------------------------

    pub(super) fn value(&mut self) -> State {
        let r = self.next();
        if is_whitespace(r) {
            self.ignore();
            return State::Value;
        }
        match r {
            '[' => {
                self.ignore();
                self.emit(Kind::ArrayStart);
                State::ArrayValue
            }
            '{' => {
                self.ignore();
                self.emit(Kind::MapStart);
                State::MapKeyStart
            }
            '\'' => {
                self.ignore();
                State::QuotedString
            }
            '"' => {
                self.ignore();
                self.string_state = State::DubQuotedString;
                State::DubQuotedString
            }
            '-' => State::NegNumberStart,
            '(' => {
                self.ignore();
                State::Block
            }
            _ if is_digit(r) => {
                self.backup();
                State::NumberOrDateOrStringOrIpStart
            }
            '.' => self.error("Floats must start with a digit".to_string()),
            _ if is_nl(r) => self.error("Expected value but found new line".to_string()),
            _ => {
                self.backup();
                self.string_state = State::String;
                State::String
            }
        }
    }

    // ----- arrays ------------------------------------------------------------

    pub(super) fn array_value(&mut self) -> State {
        let r = self.next();
        if is_space(r) {
            self.ignore();
            return State::ArrayValue;
        }
        match r {
            '#' => {
                self.push(State::ArrayValue);
                State::CommentStart
            }
            // A lone '/' is reported as a stray terminator, as the reference does.
            '/' if self.slash_comment(State::ArrayValue) => State::CommentStart,
            '/' | ',' => self.error("Unexpected array value terminator ','.".to_string()),
            ']' => State::ArrayEnd,
            _ => {
                self.backup();
                self.push(State::ArrayValueEnd);
                State::Value
            }
        }
    }

    pub(super) fn array_value_end(&mut self) -> State {
        let r = self.next();
        if is_whitespace(r) {
            self.ignore();
            return State::ArrayValueEnd;
        }
        match r {
            '#' => {
                self.push(State::ArrayValueEnd);
                State::CommentStart
            }
            '/' if self.slash_comment(State::ArrayValueEnd) => State::CommentStart,
            '/' | ',' => {
                self.ignore();
                State::ArrayValue
            }
            _ if is_nl(r) => {
                self.ignore();
                State::ArrayValue
            }
            ']' => State::ArrayEnd,
            _ => self.error(format!(
                "Expected an array value terminator \",\" or an array terminator \"]\", but got '{}' instead.",
                show(r)
            )),
        }
    }

    pub(super) fn array_end(&mut self) -> State {
        self.ignore();
        self.emit(Kind::ArrayEnd);
        self.pop()
    }

    // ----- maps --------------------------------------------------------------

    pub(super) fn map_key_start(&mut self) -> State {
        let r = self.peek();
        if is_key_separator(r) {
            return self.error(format!("Unexpected key separator '{}'.", show(r)));
        }
        if r == ']' {
            return self.error(format!(
                "Unexpected array end '{}' processing map.",
                show(r)
            ));
        }
        if is_space(r) {
            self.next();
            self.ignore();
            return State::MapKeyStart;
        }
        match r {
            '}' => {
                self.next();
                self.ignore();
                return State::MapEnd;
            }
            '#' => {
                self.next();
                self.push(State::MapKeyStart);
                return State::CommentStart;
            }
            '/' => {
                self.next();
                if self.slash_comment(State::MapKeyStart) {
                    return State::CommentStart;
                }
                // Not a comment: the reference drops the '/' and starts the
                // key at the following character.
            }
            '\'' => {
                self.next();
                self.ignore();
                return State::MapQuotedKey;
            }
            '"' => {
                self.next();
                self.ignore();
                return State::MapDubQuotedKey;
            }
            EOF => return self.error("Unexpected EOF processing map.".to_string()),
            _ => {}
        }
        self.ignore();
        self.next();
        State::MapKey
    }

    pub(super) fn map_quoted_key(&mut self, quote: char) -> State {
        let r = self.peek();
        if r == EOF {
            let what = if quote == '"' {
                "double quoted"
            } else {
                "quoted"
            };
            return self.error(format!("Unexpected EOF processing {what} map key."));
        }
        if r == quote {
            self.emit(Kind::Key);
            self.next();
            self.ignore();
            return State::MapKeyEnd;
        }
        self.next();
        if quote == '"' {
            State::MapDubQuotedKey
        } else {
            State::MapQuotedKey
        }
    }

    pub(super) fn map_key(&mut self) -> State {
        let r = self.peek();
        if r == EOF {
            return self.error("Unexpected EOF processing map key.".to_string());
        }
        if is_space(r) {
            return self.check_keyword(State::MapKeyEnd, Some(State::MapValueEnd));
        }
        if is_key_separator(r) {
            self.emit(Kind::Key);
            return State::MapKeyEnd;
        }
        self.next();
        State::MapKey
    }

    pub(super) fn map_key_end(&mut self) -> State {
        let r = self.next();
        if is_space(r) {
            self.ignore();
            return State::MapKeyEnd;
        }
        if is_key_separator(r) {
            self.ignore();
            return State::MapValue;
        }
        self.backup();
        State::MapValue
    }

    pub(super) fn map_value(&mut self) -> State {
        let r = self.next();
        if is_space(r) {
            self.ignore();
            return State::MapValue;
        }
        match r {
            ',' => self.error("Unexpected map value terminator \",\".".to_string()),
            '}' => {
                self.ignore();
                State::MapEnd
            }
            _ => {
                self.backup();
                self.push(State::MapValueEnd);
                State::Value
            }
        }
    }

    pub(super) fn map_value_end(&mut self) -> State {
        let r = self.next();
        if is_whitespace(r) {
            self.ignore();
            return State::MapValueEnd;
        }
        match r {
            '#' => {
                self.push(State::MapValueEnd);
                State::CommentStart
            }
            '/' if self.slash_comment(State::MapValueEnd) => State::CommentStart,
            '/' | ';' | ',' => {
                self.ignore();
                State::MapKeyStart
            }
            _ if is_nl(r) => {
                self.ignore();
                State::MapKeyStart
            }
            '}' => {
                self.ignore();
                State::MapEnd
            }
            _ => self.error(format!(
                "Expected a map value terminator \",\" or a map terminator \"}}\", but got '{}' instead.",
                show(r)
            )),
        }
    }

    pub(super) fn map_end(&mut self) -> State {
        self.ignore();
        self.emit(Kind::MapEnd);
        self.pop()
    }

    // ----- comments ----------------------------------------------------------

    pub(super) fn comment_start(&mut self) -> State {
        self.ignore();
        self.emit(Kind::CommentStart);
        State::Comment
    }

    pub(super) fn comment(&mut self) -> State {
        let r = self.peek();
        if is_nl(r) || r == EOF {
            self.emit(Kind::Text);
            return self.pop();
        }
        self.next();
        State::Comment
    }
}
