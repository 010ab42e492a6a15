//! Tokenizer for the configuration format.
//!
//! This is a state machine that reproduces the reference lexer step for step,
//! including its cursor bookkeeping, so that the token values, line numbers
//! and column positions (and their quirks) come out identical. Columns are
//! byte offsets; on the first line they count from 0, on later lines from 1,
//! because the reference measures from the preceding new-line character.

mod scalars;
mod structure;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use crate::chars::{decode, EOF};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Error,
    Eof,
    Key,
    Text,
    String,
    Bool,
    Integer,
    Float,
    Datetime,
    ArrayStart,
    ArrayEnd,
    MapStart,
    MapEnd,
    CommentStart,
    Variable,
    Include,
}

/// One token. `val` is raw bytes: escapes such as `\xff` may produce
/// sequences that are not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    pub kind: Kind,
    pub val: Vec<u8>,
    pub line: usize,
    pub pos: isize,
}

/// The states of the machine. `Done` means lexing has stopped (after EOF or
/// an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Done,
    Top,
    TopValueEnd,
    KeyStart,
    DubQuotedKey,
    QuotedKey,
    IncludeStart,
    Include,
    IncludeQuotedString,
    IncludeDubQuotedString,
    IncludeString,
    Key,
    KeyEnd,
    Value,
    ArrayValue,
    ArrayValueEnd,
    ArrayEnd,
    MapKeyStart,
    MapQuotedKey,
    MapDubQuotedKey,
    MapKey,
    MapKeyEnd,
    MapValue,
    MapValueEnd,
    MapEnd,
    QuotedString,
    DubQuotedString,
    String,
    Block,
    StringEscape,
    StringBinary,
    NumberOrDateOrStringOrIpStart,
    NumberOrDateOrStringOrIp,
    ConvenientNumber,
    DateAfterYear,
    NegNumberStart,
    NegNumber,
    FloatStart,
    Float,
    IpAddr,
    CommentStart,
    Comment,
}

pub(crate) struct Lexer<'a> {
    input: &'a [u8],
    /// Start of the pending token.
    start: usize,
    /// Read cursor.
    pos: usize,
    /// Width of the last character read, for `backup`.
    width: usize,
    line: usize,
    /// Offset of the new-line character that began the current line.
    lstart: usize,
    /// Value of `lstart` when the pending token was started.
    ilstart: usize,
    state: State,
    stack: Vec<State>,
    /// Decoded pieces of a string containing escapes, joined.
    parts: Vec<u8>,
    /// Number of pieces; an empty piece still counts as "has escapes".
    part_count: usize,
    /// Where to resume after an escape sequence.
    string_state: State,
    items: VecDeque<Item>,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Lexer {
            input,
            start: 0,
            pos: 0,
            width: 0,
            line: 1,
            lstart: 0,
            ilstart: 0,
            state: State::Top,
            stack: Vec::new(),
            parts: Vec::new(),
            part_count: 0,
            string_state: State::String,
            items: VecDeque::new(),
        }
    }

    /// Returns the next token. Once lexing has stopped, keeps returning EOF.
    pub(crate) fn next_item(&mut self) -> Item {
        loop {
            if let Some(item) = self.items.pop_front() {
                return item;
            }
            if self.state == State::Done {
                return Item {
                    kind: Kind::Eof,
                    val: Vec::new(),
                    line: self.line,
                    pos: 0,
                };
            }
            self.state = self.step(self.state);
        }
    }

    fn step(&mut self, state: State) -> State {
        match state {
            State::Done => State::Done,
            State::Top => self.top(),
            State::TopValueEnd => self.top_value_end(),
            State::KeyStart => self.key_start(),
            State::DubQuotedKey => self.quoted_key('"'),
            State::QuotedKey => self.quoted_key('\''),
            State::IncludeStart => self.include_start(),
            State::Include => self.include(),
            State::IncludeQuotedString => self.include_quoted('\''),
            State::IncludeDubQuotedString => self.include_quoted('"'),
            State::IncludeString => self.include_string(),
            State::Key => self.key(),
            State::KeyEnd => self.key_end(),
            State::Value => self.value(),
            State::ArrayValue => self.array_value(),
            State::ArrayValueEnd => self.array_value_end(),
            State::ArrayEnd => self.array_end(),
            State::MapKeyStart => self.map_key_start(),
            State::MapQuotedKey => self.map_quoted_key('\''),
            State::MapDubQuotedKey => self.map_quoted_key('"'),
            State::MapKey => self.map_key(),
            State::MapKeyEnd => self.map_key_end(),
            State::MapValue => self.map_value(),
            State::MapValueEnd => self.map_value_end(),
            State::MapEnd => self.map_end(),
            State::QuotedString => self.quoted_string(),
            State::DubQuotedString => self.dub_quoted_string(),
            State::String => self.string(),
            State::Block => self.block(),
            State::StringEscape => self.string_escape(),
            State::StringBinary => self.string_binary(),
            State::NumberOrDateOrStringOrIpStart => self.number_start(),
            State::NumberOrDateOrStringOrIp => self.number_or_date(),
            State::ConvenientNumber => self.convenient_number(),
            State::DateAfterYear => self.date_after_year(),
            State::NegNumberStart => self.neg_number_start(),
            State::NegNumber => self.neg_number(),
            State::FloatStart => self.float_start(),
            State::Float => self.float(),
            State::IpAddr => self.ip_addr(),
            State::CommentStart => self.comment_start(),
            State::Comment => self.comment(),
        }
    }

    // ----- cursor primitives -------------------------------------------------

    fn next(&mut self) -> char {
        if self.pos >= self.input.len() {
            self.width = 0;
            return EOF;
        }
        if self.input[self.pos] == b'\n' {
            self.line += 1;
            self.lstart = self.pos;
        }
        let (c, width) = decode(&self.input[self.pos..]);
        self.width = width;
        self.pos += width;
        c
    }

    /// Steps back by the width of the last character read. Like the
    /// reference, this does not restore `lstart`, and calling it twice steps
    /// back twice that width.
    fn backup(&mut self) {
        self.pos = self.pos.saturating_sub(self.width);
        if self.pos < self.input.len() && self.input[self.pos] == b'\n' {
            self.line = self.line.saturating_sub(1);
        }
    }

    fn peek(&mut self) -> char {
        let c = self.next();
        self.backup();
        c
    }

    fn ignore(&mut self) {
        self.start = self.pos;
        self.ilstart = self.lstart;
    }

    fn push(&mut self, state: State) {
        self.stack.push(state);
    }

    fn pop(&mut self) -> State {
        match self.stack.pop() {
            Some(state) => state,
            None => self.error("BUG in lexer: no states to pop.".to_string()),
        }
    }

    fn pending(&self) -> &'a [u8] {
        &self.input[self.start.min(self.pos)..self.pos]
    }

    fn emit(&mut self, kind: Kind) {
        let mut val = self.parts.clone();
        val.extend_from_slice(self.pending());
        self.push_item(kind, val);
    }

    /// Like `emit`, for strings: also consumes the escaped pieces.
    fn emit_string(&mut self) {
        let mut val = std::mem::take(&mut self.parts);
        self.part_count = 0;
        val.extend_from_slice(self.pending());
        self.push_item(Kind::String, val);
    }

    fn push_item(&mut self, kind: Kind, val: Vec<u8>) {
        let pos = self.pos as isize - self.ilstart as isize - val.len() as isize;
        self.items.push_back(Item {
            kind,
            val,
            line: self.line,
            pos,
        });
        self.start = self.pos;
        self.ilstart = self.lstart;
    }

    /// Saves the text read so far (minus `offset` trailing bytes) as a piece.
    fn add_current_part(&mut self, offset: usize) {
        let end = self.pos.saturating_sub(offset).max(self.start);
        self.parts.extend_from_slice(&self.input[self.start..end]);
        self.part_count += 1;
        self.start = self.pos;
    }

    fn add_part(&mut self, piece: &[u8]) -> State {
        self.parts.extend_from_slice(piece);
        self.part_count += 1;
        self.start = self.pos;
        self.string_state
    }

    fn error(&mut self, message: String) -> State {
        self.items.push_back(Item {
            kind: Kind::Error,
            val: message.into_bytes(),
            line: self.line,
            pos: self.pos as isize - self.lstart as isize,
        });
        State::Done
    }

    /// End of input (or a NUL byte): an error if anything is pending.
    fn eof_or_error(&mut self) -> State {
        if self.pos > self.start {
            return self.error("Unexpected EOF.".to_string());
        }
        self.emit(Kind::Eof);
        State::Done
    }

    /// After reading a `/`: starts a comment if another `/` follows.
    /// Otherwise steps back over the lookahead and returns false.
    fn slash_comment(&mut self, resume: State) -> bool {
        if self.next() == '/' {
            self.push(resume);
            return true;
        }
        self.backup();
        false
    }
}
