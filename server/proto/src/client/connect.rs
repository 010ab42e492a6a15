//! The CONNECT document, decoded as Go's `encoding/json` decodes it into
//! the struct of client options (see [`crate::gojson`]): into the options
//! the client has so far (defaults, or an earlier CONNECT), keys matched
//! case-insensitively with the last one winning, unknown keys ignored,
//! `null` leaving a field unchanged. A value of the wrong type does not stop
//! the decoding, but the first one fails the CONNECT, as in Go.

use crate::gojson::{self, GoStruct, GoType, JsonError, Kind, Reader};

#[derive(Debug, Clone, PartialEq)]
pub struct ClientOpts {
    pub echo: bool,
    pub verbose: bool,
    pub pedantic: bool,
    pub tls_required: bool,
    pub nkey: String,
    pub jwt: String,
    pub sig: String,
    pub auth_token: String,
    pub user: String,
    pub pass: String,
    pub name: String,
    pub lang: String,
    pub version: String,
    pub protocol: i64,
    pub account: String,
    pub new_account: bool,
    pub headers: bool,
    pub no_responders: bool,
}

impl Default for ClientOpts {
    /// What a client has before it sends CONNECT.
    fn default() -> Self {
        Self {
            echo: true,
            verbose: true,
            pedantic: true,
            tls_required: false,
            nkey: String::new(),
            jwt: String::new(),
            sig: String::new(),
            auth_token: String::new(),
            user: String::new(),
            pass: String::new(),
            name: String::new(),
            lang: String::new(),
            version: String::new(),
            protocol: 0,
            account: String::new(),
            new_account: false,
            headers: false,
            no_responders: false,
        }
    }
}

/// A field of the client options, by its JSON name.
enum FieldRef<'a> {
    Bool(&'a mut bool),
    Str(&'a mut String),
    Int(&'a mut i64),
    /// `import`/`export`, which only routes and leaf nodes use; a client's
    /// value is decoded for its type errors and dropped.
    SubjectPermission,
}

/// The JSON names of the fields, in Go's declaration order.
const FIELDS: [&str; 20] = [
    "echo",
    "verbose",
    "pedantic",
    "tls_required",
    "nkey",
    "jwt",
    "sig",
    "auth_token",
    "user",
    "pass",
    "name",
    "lang",
    "version",
    "protocol",
    "account",
    "new_account",
    "headers",
    "no_responders",
    "import",
    "export",
];

/// Go's error for a JSON value that does not fit its field.
fn type_error(value: String, field: &str, want: &str) -> JsonError {
    JsonError::Field {
        value,
        field: format!("ClientOpts.{field}"),
        go_type: want.into(),
    }
}

impl ClientOpts {
    fn field(&mut self, name: &str) -> FieldRef<'_> {
        match name {
            "echo" => FieldRef::Bool(&mut self.echo),
            "verbose" => FieldRef::Bool(&mut self.verbose),
            "pedantic" => FieldRef::Bool(&mut self.pedantic),
            "tls_required" => FieldRef::Bool(&mut self.tls_required),
            "nkey" => FieldRef::Str(&mut self.nkey),
            "jwt" => FieldRef::Str(&mut self.jwt),
            "sig" => FieldRef::Str(&mut self.sig),
            "auth_token" => FieldRef::Str(&mut self.auth_token),
            "user" => FieldRef::Str(&mut self.user),
            "pass" => FieldRef::Str(&mut self.pass),
            "name" => FieldRef::Str(&mut self.name),
            "lang" => FieldRef::Str(&mut self.lang),
            "version" => FieldRef::Str(&mut self.version),
            "protocol" => FieldRef::Int(&mut self.protocol),
            "account" => FieldRef::Str(&mut self.account),
            "new_account" => FieldRef::Bool(&mut self.new_account),
            "headers" => FieldRef::Bool(&mut self.headers),
            "no_responders" => FieldRef::Bool(&mut self.no_responders),
            _ => FieldRef::SubjectPermission,
        }
    }

    /// Applies a CONNECT argument on top of `self`; the error is Go's.
    pub fn apply_json(&mut self, arg: &[u8]) -> Result<(), JsonError> {
        gojson::check_valid(arg)?;
        let mut r = Reader::new(arg);
        match r.peek() {
            Kind::Object => {}
            Kind::Null => return Ok(()),
            kind => {
                return Err(JsonError::Value {
                    kind,
                    go_struct: "ClientOpts",
                })
            }
        }
        let mut first_error: Option<JsonError> = None;
        r.object(|r, key| {
            let Some(name) = FIELDS.iter().find(|f| gojson::key_matches(f, &key)) else {
                r.skip();
                return;
            };
            if let Err(e) = self.decode_field(name, r) {
                first_error.get_or_insert(e);
            }
        });
        first_error.map_or(Ok(()), Err)
    }

    /// Decodes the next value into field `name`; always consumes it.
    fn decode_field(&mut self, name: &str, r: &mut Reader<'_>) -> Result<(), JsonError> {
        let kind = r.peek();
        if kind == Kind::Null {
            r.skip();
            return Ok(());
        }
        match self.field(name) {
            FieldRef::Bool(slot) if kind == Kind::Bool => *slot = r.literal() == b"true",
            FieldRef::Str(slot) if kind == Kind::String => *slot = r.string(),
            FieldRef::Int(slot) if kind == Kind::Number => {
                let text = r.literal();
                *slot = gojson::parse_int(text).ok_or_else(|| {
                    let value = format!("number {}", String::from_utf8_lossy(text));
                    type_error(value, name, "int")
                })?;
            }
            FieldRef::SubjectPermission => {
                let mut first = None;
                let ty = GoType::Struct(&SUBJECT_PERMISSION);
                gojson::check_value(r, ty, "ClientOpts", name, &mut first)?;
                return first.map_or(Ok(()), Err);
            }
            other => {
                r.skip();
                let want = match other {
                    FieldRef::Bool(_) => "bool",
                    FieldRef::Str(_) => "string",
                    _ => "int",
                };
                return Err(type_error(kind.go_name().into(), name, want));
            }
        }
        Ok(())
    }
}

/// Go's `SubjectPermission`, which routes and leaf nodes send in CONNECT
/// and INFO.
pub static SUBJECT_PERMISSION: GoStruct = GoStruct {
    name: "SubjectPermission",
    fields: &[("allow", GoType::StrList), ("deny", GoType::StrList)],
};

/// The CONNECT argument with any password value replaced, for trace lines.
pub fn redact_pass(arg: &[u8]) -> String {
    let text = String::from_utf8_lossy(arg).into_owned();
    let Some(i) = text.find("\"pass\"") else {
        return text;
    };
    let after = &text[i + 6..];
    let Some(colon) = after.find(':') else {
        return text;
    };
    let rest = &after[colon + 1..];
    let trimmed = rest.trim_start();
    let lead = rest.len() - trimmed.len();
    if !trimmed.starts_with('"') {
        return text;
    }
    let mut end = None;
    let bytes = trimmed.as_bytes();
    let mut j = 1;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' => j += 2,
            b'"' => {
                end = Some(j);
                break;
            }
            _ => j += 1,
        }
    }
    let Some(end) = end else {
        return text;
    };
    let start = i + 6 + colon + 1 + lead;
    format!(
        "{}\"[REDACTED]\"{}",
        &text[..start],
        &text[start + end + 1..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let mut o = ClientOpts::default();
        o.apply_json(br#"{"Verbose":false,"name":"x","protocol":1,"extra":3,"user":null}"#)
            .unwrap();
        assert!(!o.verbose);
        assert!(o.pedantic);
        assert!(o.echo);
        assert_eq!(o.name, "x");
        assert_eq!(o.protocol, 1);
    }

    #[test]
    fn keys_match_like_go_and_the_last_wins() {
        let mut o = ClientOpts::default();
        o.apply_json(br#"{"verbose":false,"Verbose":true,"echo":true,"ECHO":false}"#)
            .unwrap();
        assert!(o.verbose);
        assert!(!o.echo);
        let mut o = ClientOpts::default();
        o.apply_json(br#"{"user":"guest","User":"alice","pass":"alicepw","Pass":"wrong"}"#)
            .unwrap();
        assert_eq!((o.user.as_str(), o.pass.as_str()), ("alice", "wrong"));
    }

    #[test]
    fn accepts_what_go_accepts() {
        let mut o = ClientOpts::default();
        o.apply_json(b"{\"verbose\":true,\"name\":\"\xff\",\"lang\":\"\\ud800\",\"x\":1e999,\"protocol\":-0}")
            .unwrap();
        assert_eq!(o.name, "\u{fffd}");
        assert_eq!(o.lang, "\u{fffd}");
        assert_eq!(o.protocol, 0);
        let mut deep = b"{\"x\":".to_vec();
        deep.extend([b'['; 500]);
        deep.extend([b']'; 500]);
        deep.extend(b",\"name\":\"n\"}");
        o.apply_json(&deep).unwrap();
        assert_eq!(o.name, "n");
    }

    #[test]
    fn type_errors_are_go_texts_and_the_first_one_counts() {
        let err = |doc: &[u8]| {
            ClientOpts::default()
                .apply_json(doc)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(br#"{"verbose":"yes","echo":1}"#),
            "json: cannot unmarshal string into Go struct field ClientOpts.verbose of type bool"
        );
        assert_eq!(
            err(br#"{"protocol":1e999}"#),
            "json: cannot unmarshal number 1e999 into Go struct field ClientOpts.protocol of type int"
        );
        assert_eq!(
            err(br#"{"import":{"allow":5}}"#),
            "json: cannot unmarshal number into Go struct field SubjectPermission.import.allow of type []string"
        );
        assert_eq!(
            err(b"[1]"),
            "json: cannot unmarshal array into Go value of type server.ClientOpts"
        );
        assert_eq!(
            err(b"{bad"),
            "invalid character 'b' looking for beginning of object key string"
        );
    }

    #[test]
    fn bad_json() {
        let mut o = ClientOpts::default();
        assert!(o.apply_json(b"{bad").is_err());
        assert!(o.apply_json(b"").is_err());
        assert!(o.apply_json(br#"{"verbose":"yes"}"#).is_err());
    }

    #[test]
    fn redacts_password() {
        assert_eq!(
            redact_pass(br#"{"user":"a","pass":"s\"e","name":"n"}"#),
            r#"{"user":"a","pass":"[REDACTED]","name":"n"}"#
        );
    }
}
