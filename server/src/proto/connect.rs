//! The CONNECT document. Decoded like Go's encoding/json into a struct that
//! starts from the client defaults: keys match case-insensitively, unknown
//! keys are ignored, `null` leaves a field unchanged, and a value of the
//! wrong type is an error.

use serde_json::Value;

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

fn type_err(got: &Value, field: &str, want: &str) -> String {
    let kind = match got {
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    };
    format!("json: cannot unmarshal {kind} into Go struct field ClientOpts.{field} of type {want}")
}

impl ClientOpts {
    /// Applies a CONNECT argument on top of `self`.
    pub fn apply_json(&mut self, arg: &[u8]) -> Result<(), String> {
        let v: Value = serde_json::from_slice(arg).map_err(|e| json_error_text(arg, &e))?;
        let Value::Object(map) = v else {
            if v.is_null() {
                return Ok(());
            }
            return Err(
                type_err(&v, "", "server.ClientOpts").replace(" field ClientOpts.", " value ")
            );
        };
        for (k, v) in &map {
            if v.is_null() {
                continue;
            }
            let key = k.to_lowercase();
            let b = |field: &str| v.as_bool().ok_or_else(|| type_err(v, field, "bool"));
            let s = |field: &str| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| type_err(v, field, "string"))
            };
            match key.as_str() {
                "echo" => self.echo = b("echo")?,
                "verbose" => self.verbose = b("verbose")?,
                "pedantic" => self.pedantic = b("pedantic")?,
                "tls_required" => self.tls_required = b("tls_required")?,
                "nkey" => self.nkey = s("nkey")?,
                "jwt" => self.jwt = s("jwt")?,
                "sig" => self.sig = s("sig")?,
                "auth_token" => self.auth_token = s("auth_token")?,
                "user" => self.user = s("user")?,
                "pass" => self.pass = s("pass")?,
                "name" => self.name = s("name")?,
                "lang" => self.lang = s("lang")?,
                "version" => self.version = s("version")?,
                "protocol" => {
                    self.protocol = v.as_i64().ok_or_else(|| type_err(v, "protocol", "int"))?
                }
                "account" => self.account = s("account")?,
                "new_account" => self.new_account = b("new_account")?,
                "headers" => self.headers = b("headers")?,
                "no_responders" => self.no_responders = b("no_responders")?,
                _ => {}
            }
        }
        Ok(())
    }
}

/// Approximates Go's JSON syntax error texts for the common cases.
fn json_error_text(arg: &[u8], e: &serde_json::Error) -> String {
    if arg.iter().all(|b| b.is_ascii_whitespace()) || e.is_eof() {
        return "unexpected end of JSON input".into();
    }
    // Column is 1-based; find the offending character.
    let col = e.column().saturating_sub(1);
    let line_start = arg
        .split(|&b| b == b'\n')
        .take(e.line().saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum::<usize>();
    if e.to_string().starts_with("key must be a string") {
        if let Some(&c) = arg.get(line_start + col) {
            return format!(
                "invalid character '{}' looking for beginning of object key string",
                c as char
            );
        }
    }
    match arg.get(line_start + col) {
        Some(&c) => format!(
            "invalid character '{}' looking for beginning of value",
            c as char
        ),
        None => "unexpected end of JSON input".into(),
    }
}

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
