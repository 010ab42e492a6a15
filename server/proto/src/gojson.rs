//! JSON read the way Go's `encoding/json` reads it, for documents that
//! clients send (CONNECT). Clients are written against the Go server, so
//! what it accepts natsd must accept, with the same meaning:
//!
//! - the whole input is checked first, with Go's syntax error texts and
//!   its nesting limit (10,000), without recursion;
//! - strings decode with Go's replacements: each invalid UTF-8 byte and
//!   each unpaired surrogate escape becomes U+FFFD;
//! - numbers are only checked for syntax until a field needs one (`1e999`
//!   in an ignored field is fine);
//! - object keys match field names exactly first, then case-insensitively
//!   with Go's folding (see [`key_matches`]), and a later key wins.

/// Go's limit on nested objects and arrays.
const MAX_DEPTH: usize = 10_000;

/// Why a document does not decode as Go's `encoding/json` would decode it,
/// with Go's text. The connection that read the document decides on it:
/// it closes the client with this text, as Go does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// Go's `SyntaxError`: the document is not JSON.
    #[error("{0}")]
    Syntax(String),
    /// Go's `UnmarshalTypeError` for the top-level value.
    #[error("json: cannot unmarshal {} into Go value of type server.{go_struct}", .kind.go_name())]
    Value { kind: Kind, go_struct: &'static str },
    /// Go's `UnmarshalTypeError` for a struct field: `field` is the struct
    /// and the dotted path (`Info.port`), `value` what was there.
    #[error("json: cannot unmarshal {value} into Go struct field {field} of type {go_type}")]
    Field {
        value: String,
        field: String,
        go_type: String,
    },
    /// Go's `base64.CorruptInputError`, for a `[]byte` field.
    #[error("illegal base64 data at input byte {0}")]
    Base64(usize),
}

/// The JSON kinds, named as Go's type errors name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Object,
    Array,
    String,
    Number,
    Bool,
    Null,
}

impl Kind {
    pub fn go_name(self) -> &'static str {
        match self {
            Kind::Object => "object",
            Kind::Array => "array",
            Kind::String => "string",
            Kind::Number => "number",
            Kind::Bool => "bool",
            Kind::Null => "null",
        }
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Go's `quoteChar`: how a byte is shown in a syntax error.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => r"'\''".into(),
        b'"' => "'\"'".into(),
        b'\\' => r"'\\'".into(),
        0x07 => r"'\a'".into(),
        0x08 => r"'\b'".into(),
        0x0c => r"'\f'".into(),
        b'\n' => r"'\n'".into(),
        b'\r' => r"'\r'".into(),
        b'\t' => r"'\t'".into(),
        0x0b => r"'\v'".into(),
        0x00..=0x1f | 0x7f => format!(r"'\x{c:02x}'"),
        // Go shows the byte as the Latin-1 character of the same value.
        0x80..=0xa0 | 0xad => format!(r"'\u{c:04x}'"),
        _ => format!("'{}'", char::from(c)),
    }
}

/// What the syntax check expects next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Value,
    /// A key or the end of an empty object.
    FirstKey,
    Key,
    Colon,
    /// `,` or `}` after an object value.
    ObjectNext,
    /// A value or the end of an empty array.
    FirstItem,
    /// `,` or `]` after an array element.
    ArrayNext,
    End,
}

/// Checks that `data` is one JSON value with only whitespace around it.
pub fn check_valid(data: &[u8]) -> Result<(), JsonError> {
    syntax(data).map_err(JsonError::Syntax)
}

/// The syntax check of [`check_valid`]; the error is Go's message.
fn syntax(data: &[u8]) -> Result<(), String> {
    let invalid = |c: u8, context: &str| format!("invalid character {} {context}", quote_char(c));
    // true: an object, false: an array.
    let mut stack: Vec<bool> = Vec::new();
    let mut expect = Expect::Value;
    let mut i = 0;
    while i < data.len() {
        let c = data[i];
        if is_ws(c) {
            i += 1;
            continue;
        }
        match expect {
            Expect::Value | Expect::FirstItem => {
                if expect == Expect::FirstItem && c == b']' {
                    stack.pop();
                    expect = after_value(&stack);
                    i += 1;
                    continue;
                }
                match c {
                    b'{' | b'[' => {
                        stack.push(c == b'{');
                        if stack.len() > MAX_DEPTH {
                            return Err("exceeded max depth".into());
                        }
                        expect = if c == b'{' {
                            Expect::FirstKey
                        } else {
                            Expect::FirstItem
                        };
                        i += 1;
                        continue;
                    }
                    b'"' => i = scan_string(data, i)?,
                    b'-' | b'0'..=b'9' => i = scan_number(data, i)?,
                    b't' => i = scan_literal(data, i, b"true")?,
                    b'f' => i = scan_literal(data, i, b"false")?,
                    b'n' => i = scan_literal(data, i, b"null")?,
                    _ => return Err(invalid(c, "looking for beginning of value")),
                }
                expect = after_value(&stack);
            }
            Expect::FirstKey | Expect::Key => {
                if c == b'}' && expect == Expect::FirstKey {
                    stack.pop();
                    expect = after_value(&stack);
                    i += 1;
                } else if c == b'"' {
                    i = scan_string(data, i)?;
                    expect = Expect::Colon;
                } else {
                    return Err(invalid(c, "looking for beginning of object key string"));
                }
            }
            Expect::Colon => {
                if c != b':' {
                    return Err(invalid(c, "after object key"));
                }
                expect = Expect::Value;
                i += 1;
            }
            Expect::ObjectNext | Expect::ArrayNext => {
                let object = expect == Expect::ObjectNext;
                match (c, object) {
                    (b',', true) => expect = Expect::Key,
                    (b',', false) => expect = Expect::Value,
                    (b'}', true) | (b']', false) => {
                        stack.pop();
                        expect = after_value(&stack);
                    }
                    (_, true) => return Err(invalid(c, "after object key:value pair")),
                    (_, false) => return Err(invalid(c, "after array element")),
                }
                i += 1;
            }
            Expect::End => return Err(invalid(c, "after top-level value")),
        }
    }
    if expect == Expect::End {
        Ok(())
    } else {
        Err("unexpected end of JSON input".into())
    }
}

fn after_value(stack: &[bool]) -> Expect {
    match stack.last() {
        None => Expect::End,
        Some(true) => Expect::ObjectNext,
        Some(false) => Expect::ArrayNext,
    }
}

const EOF: &str = "unexpected end of JSON input";

/// Checks the string starting at `data[at]` (a quote); returns the offset
/// after its closing quote.
fn scan_string(data: &[u8], at: usize) -> Result<usize, String> {
    let mut i = at + 1;
    loop {
        let &c = data.get(i).ok_or(EOF)?;
        match c {
            b'"' => return Ok(i + 1),
            b'\\' => {
                let &e = data.get(i + 1).ok_or(EOF)?;
                match e {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                    b'u' => {
                        for k in 0..4 {
                            let &h = data.get(i + 2 + k).ok_or(EOF)?;
                            if !h.is_ascii_hexdigit() {
                                return Err(format!(
                                    "invalid character {} in \\u hexadecimal character escape",
                                    quote_char(h)
                                ));
                            }
                        }
                        i += 6;
                    }
                    _ => {
                        return Err(format!(
                            "invalid character {} in string escape code",
                            quote_char(e)
                        ))
                    }
                }
            }
            0x00..=0x1f => {
                return Err(format!(
                    "invalid character {} in string literal",
                    quote_char(c)
                ))
            }
            _ => i += 1,
        }
    }
}

/// Checks the number starting at `data[at]`; returns the offset after it.
/// What follows it is checked by the caller, as Go's scanner does.
fn scan_number(data: &[u8], at: usize) -> Result<usize, String> {
    let mut i = at;
    if data[i] == b'-' {
        i += 1;
        match data.get(i) {
            None => return Err(EOF.into()),
            Some(c) if !c.is_ascii_digit() => {
                return Err(format!(
                    "invalid character {} in numeric literal",
                    quote_char(*c)
                ))
            }
            _ => {}
        }
    }
    if data[i] == b'0' {
        i += 1;
    } else {
        while data.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    if data.get(i) == Some(&b'.') {
        i += 1;
        match data.get(i) {
            None => return Err(EOF.into()),
            Some(c) if !c.is_ascii_digit() => {
                return Err(format!(
                    "invalid character {} after decimal point in numeric literal",
                    quote_char(*c)
                ))
            }
            _ => {}
        }
        while data.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    if matches!(data.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(data.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        match data.get(i) {
            None => return Err(EOF.into()),
            Some(c) if !c.is_ascii_digit() => {
                return Err(format!(
                    "invalid character {} in exponent of numeric literal",
                    quote_char(*c)
                ))
            }
            _ => {}
        }
        while data.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    Ok(i)
}

fn scan_literal(data: &[u8], at: usize, word: &[u8]) -> Result<usize, String> {
    for (k, &w) in word.iter().enumerate().skip(1) {
        let &c = data.get(at + k).ok_or(EOF)?;
        if c != w {
            return Err(format!(
                "invalid character {} in literal {} (expecting '{}')",
                quote_char(c),
                String::from_utf8_lossy(word),
                char::from(w)
            ));
        }
    }
    Ok(at + word.len())
}

/// Reads a document that [`check_valid`] accepted.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader of `data`, which must have passed [`check_valid`].
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    fn skip_ws(&mut self) {
        while self.data.get(self.pos).copied().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    /// The kind of the next value.
    pub fn peek(&mut self) -> Kind {
        self.skip_ws();
        match self.data.get(self.pos) {
            Some(b'{') => Kind::Object,
            Some(b'[') => Kind::Array,
            Some(b'"') => Kind::String,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'n') => Kind::Null,
            _ => Kind::Number,
        }
    }

    /// Passes over the next value, however deep, without recursion.
    pub fn skip(&mut self) {
        self.skip_ws();
        let mut depth = 0usize;
        loop {
            let Some(&c) = self.data.get(self.pos) else {
                return;
            };
            match c {
                b'"' => self.pos = scan_string(self.data, self.pos).unwrap_or(self.data.len()),
                b'{' | b'[' => {
                    depth += 1;
                    self.pos += 1;
                }
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    self.pos += 1;
                }
                _ => {
                    // A scalar: up to the next delimiter.
                    while self
                        .data
                        .get(self.pos)
                        .is_some_and(|&b| !is_ws(b) && !matches!(b, b',' | b']' | b'}' | b':'))
                    {
                        self.pos += 1;
                    }
                }
            }
            self.skip_ws();
            if depth == 0 {
                return;
            }
            if matches!(self.data.get(self.pos), Some(b',' | b':')) {
                self.pos += 1;
            }
        }
    }

    /// The next value, a string, decoded.
    pub fn string(&mut self) -> String {
        self.skip_ws();
        let start = self.pos + 1;
        let end = scan_string(self.data, self.pos).unwrap_or(self.data.len());
        self.pos = end;
        unquote(&self.data[start..end.saturating_sub(1).max(start)])
    }

    /// The next value, a number, true, false or null, as written.
    pub fn literal(&mut self) -> &'a [u8] {
        self.skip_ws();
        let start = self.pos;
        self.skip();
        let mut end = self.pos;
        while end > start && is_ws(self.data[end - 1]) {
            end -= 1;
        }
        &self.data[start..end]
    }

    /// Enters the next value, an object, and calls `each` with every key;
    /// `each` must consume the key's value.
    pub fn object(&mut self, mut each: impl FnMut(&mut Self, String)) {
        self.skip_ws();
        self.pos += 1;
        loop {
            self.skip_ws();
            match self.data.get(self.pos) {
                Some(b'"') => {}
                Some(b',') => {
                    self.pos += 1;
                    continue;
                }
                _ => {
                    self.pos += 1;
                    return;
                }
            }
            let key = self.string();
            self.skip_ws();
            self.pos += 1; // the colon
            each(self, key);
        }
    }

    /// Enters the next value, an array, and calls `each` for every element;
    /// `each` must consume it.
    pub fn array(&mut self, mut each: impl FnMut(&mut Self)) {
        self.skip_ws();
        self.pos += 1;
        loop {
            self.skip_ws();
            match self.data.get(self.pos) {
                Some(b']') | None => {
                    self.pos += 1;
                    return;
                }
                Some(b',') => self.pos += 1,
                Some(_) => each(self),
            }
        }
    }
}

/// The contents of a checked string literal (without its quotes), with
/// Go's replacements for invalid UTF-8 and unpaired surrogates.
fn unquote(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'\\' => {
                let e = s.get(i + 1).copied().unwrap_or(b'\\');
                i += 2;
                match e {
                    b'b' => out.push('\u{8}'),
                    b'f' => out.push('\u{c}'),
                    b'n' => out.push('\n'),
                    b'r' => out.push('\r'),
                    b't' => out.push('\t'),
                    b'u' => {
                        let first = hex4(&s[i..]);
                        i += 4;
                        let decoded = match first {
                            0xd800..=0xdbff if s[i..].starts_with(b"\\u") => {
                                let second = hex4(&s[i + 2..]);
                                if (0xdc00..=0xdfff).contains(&second) {
                                    i += 6;
                                    let c = 0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00);
                                    char::from_u32(c)
                                } else {
                                    None
                                }
                            }
                            _ => char::from_u32(first),
                        };
                        out.push(decoded.unwrap_or('\u{fffd}'));
                    }
                    other => out.push(char::from(other)),
                }
            }
            b if b < 0x80 => {
                out.push(char::from(b));
                i += 1;
            }
            b => {
                let width = match b {
                    0xc2..=0xdf => 2,
                    0xe0..=0xef => 3,
                    0xf0..=0xf4 => 4,
                    _ => 1,
                };
                match s
                    .get(i..i + width)
                    .and_then(|c| std::str::from_utf8(c).ok())
                {
                    Some(c) if width > 1 => {
                        out.push_str(c);
                        i += width;
                    }
                    _ => {
                        out.push('\u{fffd}');
                        i += 1;
                    }
                }
            }
        }
    }
    out
}

fn hex4(s: &[u8]) -> u32 {
    s.iter().take(4).fold(0, |acc, &h| {
        acc * 16 + char::from(h).to_digit(16).unwrap_or(0)
    })
}

/// The Go type of a struct field whose value is only checked, not kept.
#[derive(Debug, Clone, Copy)]
pub enum GoType {
    Bool,
    Str,
    /// A signed integer of this many bits (`int` is 64).
    Int(u32),
    /// An unsigned integer of this many bits.
    Uint(u32),
    StrList,
    /// `[]byte`: a base64 string, or an array of bytes.
    Bytes,
    Struct(&'static GoStruct),
}

/// A Go struct: its name as errors print it and its JSON fields.
#[derive(Debug)]
pub struct GoStruct {
    pub name: &'static str,
    pub fields: &'static [(&'static str, GoType)],
}

impl GoType {
    fn go_name(self) -> String {
        match self {
            GoType::Bool => "bool".into(),
            GoType::Str => "string".into(),
            GoType::Int(64) => "int".into(),
            GoType::Int(bits) => format!("int{bits}"),
            GoType::Uint(bits) => format!("uint{bits}"),
            GoType::StrList => "[]string".into(),
            GoType::Bytes => "[]uint8".into(),
            GoType::Struct(s) => format!("server.{}", s.name),
        }
    }
}

/// Decodes a document into `go_struct` as Go would, keeping nothing: the
/// error is Go's first, syntax or type.
pub fn check_types(data: &[u8], go_struct: &'static GoStruct) -> Result<(), JsonError> {
    check_valid(data)?;
    let mut r = Reader::new(data);
    match r.peek() {
        Kind::Null => Ok(()),
        Kind::Object => {
            let mut first = None;
            check_struct(&mut r, go_struct, "", &mut first);
            first.map_or(Ok(()), Err)
        }
        kind => Err(JsonError::Value {
            kind,
            go_struct: go_struct.name,
        }),
    }
}

/// Checks the next value, an object, against `go_struct`; `path` is the
/// dotted field path to it (empty at the top).
pub fn check_struct(
    r: &mut Reader<'_>,
    go_struct: &'static GoStruct,
    path: &str,
    first: &mut Option<JsonError>,
) {
    r.object(|r, key| {
        let Some((name, ty)) = go_struct
            .fields
            .iter()
            .find(|(name, _)| key_matches(name, &key))
        else {
            r.skip();
            return;
        };
        let path = if path.is_empty() {
            (*name).to_string()
        } else {
            format!("{path}.{name}")
        };
        if let Err(e) = check_value(r, *ty, go_struct.name, &path, first) {
            first.get_or_insert(e);
        }
    });
}

/// Checks (and consumes) the next value against `ty`, the type of field
/// `path` of struct `owner`; later errors go to `first` if it is empty.
pub fn check_value(
    r: &mut Reader<'_>,
    ty: GoType,
    owner: &str,
    path: &str,
    first: &mut Option<JsonError>,
) -> Result<(), JsonError> {
    let kind = r.peek();
    let mismatch = |value: String| JsonError::Field {
        value,
        field: format!("{owner}.{path}"),
        go_type: ty.go_name(),
    };
    match (ty, kind) {
        (_, Kind::Null) | (GoType::Bool, Kind::Bool) => r.skip(),
        (GoType::Str, Kind::String) => r.skip(),
        (GoType::Int(bits), Kind::Number) => {
            let text = r.literal();
            let fits = parse_int(text).is_some_and(|n| {
                bits >= 64 || n.unsigned_abs() < 1 << (bits - 1) || n == -(1 << (bits - 1))
            });
            if !fits {
                return Err(mismatch(format!(
                    "number {}",
                    String::from_utf8_lossy(text)
                )));
            }
        }
        (GoType::Uint(bits), Kind::Number) => {
            let text = r.literal();
            let fits = std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse::<u64>().ok())
                .is_some_and(|n| bits >= 64 || n < 1 << bits);
            if !fits {
                return Err(mismatch(format!(
                    "number {}",
                    String::from_utf8_lossy(text)
                )));
            }
        }
        (GoType::StrList, Kind::Array) => r.array(|r| {
            if let Err(e) = check_value(r, GoType::Str, owner, path, first) {
                first.get_or_insert(e);
            }
        }),
        (GoType::Bytes, Kind::String) => {
            let text = r.string();
            base64_check(text.as_bytes())?;
        }
        (GoType::Bytes, Kind::Array) => r.array(|r| {
            if let Err(e) = check_value(r, GoType::Uint(8), owner, path, first) {
                first.get_or_insert(e);
            }
        }),
        (GoType::Struct(inner), Kind::Object) => check_struct(r, inner, path, first),
        (_, kind) => {
            r.skip();
            return Err(mismatch(kind.go_name().into()));
        }
    }
    Ok(())
}

/// Go's standard base64 (padded; CR and LF ignored), for `[]byte` fields.
fn base64_check(s: &[u8]) -> Result<(), JsonError> {
    let data: Vec<(usize, u8)> = s
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, b)| *b != b'\r' && *b != b'\n')
        .collect();
    let is_alphabet = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    let body = data.iter().take_while(|(_, b)| *b != b'=').count();
    if let Some((at, _)) = data[..body].iter().find(|(_, b)| !is_alphabet(*b)) {
        return Err(JsonError::Base64(*at));
    }
    let padding = data.len() - body;
    let padded_ok = padding <= 2
        && data[body..].iter().all(|(_, b)| *b == b'=')
        && data.len().is_multiple_of(4)
        && (padding == 0 || body % 4 >= 2);
    if !padded_ok {
        let at = data.get(body).map_or(s.len(), |(at, _)| *at);
        return Err(JsonError::Base64(at));
    }
    Ok(())
}

/// Whether a decoded object key selects the field named `field` (ASCII),
/// as Go matches them: byte for byte, or with each letter in either case,
/// where `ſ` (U+017F) also stands for `s` and the Kelvin sign (U+212A) for
/// `k`, the two non-ASCII letters that fold to ASCII ones.
pub fn key_matches(field: &str, key: &str) -> bool {
    let mut key_chars = key.chars();
    for f in field.chars() {
        let Some(k) = key_chars.next() else {
            return false;
        };
        let same = k == f
            || (f.is_ascii_alphabetic() && k.is_ascii() && k.eq_ignore_ascii_case(&f))
            || (f.eq_ignore_ascii_case(&'s') && k == '\u{17f}')
            || (f.eq_ignore_ascii_case(&'k') && k == '\u{212a}');
        if !same {
            return false;
        }
    }
    key_chars.next().is_none()
}

/// Go's `strconv.ParseInt(text, 10, 64)` for a JSON number given to an
/// integer field: a fraction or an exponent does not fit.
pub fn parse_int(text: &[u8]) -> Option<i64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Go's `time.Time` in JSON: UTC, RFC 3339 with trailing zeros of the
/// nanoseconds dropped.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, day) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    let nanos = d.subsec_nanos();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// An RFC 3339 time (`2006-01-02T15:04:05.999999999Z07:00`) as
/// nanoseconds since the Unix epoch.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    let mut nanos = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let frac = &s[start..i];
        let digits: String = frac.chars().chain("000000000".chars()).take(9).collect();
        nanos = digits.parse().ok()?;
    }
    let offset = match b.get(i)? {
        b'Z' if i + 1 == b.len() => 0,
        b'+' | b'-' if b.len() == i + 6 => {
            let o = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            if b[i] == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// (year, month, day) to days since 1970-01-01 (Howard Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_read_back() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(1_600_000_000_123_456_789);
        assert_eq!(parse_rfc3339(&rfc3339(t)), Some(1_600_000_000_123_456_789));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339("nonsense"), None);
    }

    #[test]
    fn syntax_errors_are_go_texts() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "unexpected end of JSON input"),
            (b"{", "unexpected end of JSON input"),
            (
                b"{bad",
                "invalid character 'b' looking for beginning of object key string",
            ),
            (b"x", "invalid character 'x' looking for beginning of value"),
            (b"{\"a\" 1}", "invalid character '1' after object key"),
            (
                b"{\"a\":1 2}",
                "invalid character '2' after object key:value pair",
            ),
            (b"[1 2]", "invalid character '2' after array element"),
            (b"{} x", "invalid character 'x' after top-level value"),
            (b"01", "invalid character '1' after top-level value"),
            (b"-x", "invalid character 'x' in numeric literal"),
            (
                b"1.x",
                "invalid character 'x' after decimal point in numeric literal",
            ),
            (
                b"1ex",
                "invalid character 'x' in exponent of numeric literal",
            ),
            (b"tru", "unexpected end of JSON input"),
            (
                b"trux",
                "invalid character 'x' in literal true (expecting 'e')",
            ),
            (
                b"nul1",
                "invalid character '1' in literal null (expecting 'l')",
            ),
            (b"\"\\x\"", "invalid character 'x' in string escape code"),
            (
                b"\"\\u12g4\"",
                "invalid character 'g' in \\u hexadecimal character escape",
            ),
            (b"\"a\x01\"", "invalid character '\\x01' in string literal"),
            (b"\"a\n\"", "invalid character '\\n' in string literal"),
            (
                b"'",
                "invalid character '\\'' looking for beginning of value",
            ),
            (
                b"\xff",
                "invalid character '\u{ff}' looking for beginning of value",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                check_valid(input).unwrap_err().to_string(),
                *want,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn accepts_what_go_accepts() {
        for ok in [
            &b"{\"name\":\"\xff\"}"[..],
            b"{\"a\":\"\\ud800\"}",
            b"{\"a\":1e999,\"b\":-0,\"c\":[[[]]],\"d\":{}}",
            b" null ",
            b"[]",
        ] {
            check_valid(ok).unwrap();
        }
    }

    #[test]
    fn nesting_limit_without_recursion() {
        let deep = |n: usize| {
            let mut v = vec![b'['; n];
            v.extend(std::iter::repeat_n(b']', n));
            v
        };
        check_valid(&deep(10_000)).unwrap();
        assert_eq!(
            check_valid(&deep(10_001)).unwrap_err(),
            JsonError::Syntax("exceeded max depth".into())
        );
        let mut doc = b"{\"x\":".to_vec();
        doc.extend(deep(9_000));
        doc.extend(b",\"y\":true}");
        let mut r = Reader::new(&doc);
        let mut seen = Vec::new();
        r.object(|r, key| {
            seen.push((key, r.peek()));
            r.skip();
        });
        assert_eq!(
            seen,
            vec![
                ("x".to_string(), Kind::Array),
                ("y".to_string(), Kind::Bool)
            ]
        );
    }

    #[test]
    fn strings_decode_with_go_replacements() {
        let read = |s: &[u8]| Reader::new(s).string();
        assert_eq!(read(b"\"a\\u00e9\\n\""), "a\u{e9}\n");
        assert_eq!(read(b"\"\\ud83d\\ude00\""), "\u{1f600}");
        assert_eq!(read(b"\"\\ud800\""), "\u{fffd}");
        assert_eq!(read(b"\"\\ud800\\u0041\""), "\u{fffd}A");
        assert_eq!(read(b"\"\\udc00\""), "\u{fffd}");
        assert_eq!(read(b"\"\xff\""), "\u{fffd}");
        // Go replaces each byte of a truncated sequence.
        assert_eq!(read(b"\"\xe2\x82\""), "\u{fffd}\u{fffd}");
        assert_eq!(read(b"\"\xe2\x82\xac\""), "\u{20ac}");
    }

    #[test]
    fn keys_fold_as_go_folds_them() {
        assert!(key_matches("verbose", "Verbose"));
        assert!(key_matches("echo", "ECHO"));
        assert!(key_matches("tls_required", "TLS_Required"));
        assert!(key_matches("user", "u\u{17f}er"));
        assert!(key_matches("nkey", "n\u{212a}ey"));
        assert!(!key_matches("user", "users"));
        assert!(!key_matches("tls_required", "tls-required"));
        assert!(!key_matches("name", "n\u{e1}me"));
    }

    static PERM: GoStruct = GoStruct {
        name: "SubjectPermission",
        fields: &[("allow", GoType::StrList), ("deny", GoType::StrList)],
    };
    static DOC: GoStruct = GoStruct {
        name: "Info",
        fields: &[
            ("port", GoType::Int(64)),
            ("max_payload", GoType::Int(32)),
            ("client_id", GoType::Uint(64)),
            ("gateway_cmd_payload", GoType::Bytes),
            ("import", GoType::Struct(&PERM)),
        ],
    };

    #[test]
    fn type_checks_follow_go() {
        check_types(br#"{"port":4222,"max_payload":-2147483648,"client_id":1,"x":[1],"Import":{"allow":["a"]}}"#, &DOC)
            .unwrap();
        check_types(br#"{"gateway_cmd_payload":"aGk=","port":null}"#, &DOC).unwrap();
        let err = |doc: &[u8]| check_types(doc, &DOC).unwrap_err().to_string();
        assert_eq!(
            err(br#"{"port":"x"}"#),
            "json: cannot unmarshal string into Go struct field Info.port of type int"
        );
        assert_eq!(
            err(br#"{"max_payload":2147483648}"#),
            "json: cannot unmarshal number 2147483648 into Go struct field Info.max_payload of type int32"
        );
        assert_eq!(
            err(br#"{"client_id":-1}"#),
            "json: cannot unmarshal number -1 into Go struct field Info.client_id of type uint64"
        );
        assert_eq!(
            err(br#"{"import":{"deny":[1]}}"#),
            "json: cannot unmarshal number into Go struct field SubjectPermission.import.deny of type string"
        );
        assert_eq!(
            err(br#"{"gateway_cmd_payload":"a!=="}"#),
            "illegal base64 data at input byte 1"
        );
        assert!(err(br#"{"gateway_cmd_payload":"abc"}"#).starts_with("illegal base64 data"));
        assert_eq!(
            err(b"[]"),
            "json: cannot unmarshal array into Go value of type server.Info"
        );
    }

    #[test]
    fn literals_and_integers() {
        let mut r = Reader::new(b"[ -0 , 1e999 ,true,null]");
        let mut lits = Vec::new();
        r.array(|r| lits.push(String::from_utf8_lossy(r.literal()).into_owned()));
        assert_eq!(lits, ["-0", "1e999", "true", "null"]);
        assert_eq!(parse_int(b"-0"), Some(0));
        assert_eq!(parse_int(b"1e999"), None);
        assert_eq!(parse_int(b"1.0"), None);
        assert_eq!(parse_int(b"99999999999999999999"), None);
    }
}
