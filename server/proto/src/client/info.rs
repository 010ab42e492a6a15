//! The INFO document, with Go's field order and omission rules.

use super::connect::SUBJECT_PERMISSION;
use crate::gojson::{GoStruct, GoType};
use serde::Serialize;

/// The server's INFO; per-client fields are filled in before sending.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Info {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: i32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub git_commit: String,
    pub go: String,
    pub host: String,
    pub port: i64,
    pub headers: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_available: bool,
    pub max_payload: i32,
    #[serde(skip_serializing_if = "is_false")]
    pub jetstream: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ip: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub client_id: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_ip: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub ldm: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Info {
    /// `INFO {...} \r\n` (Go puts a space before the CRLF).
    pub fn to_line(&self) -> Vec<u8> {
        let json = serde_json::to_string(self).unwrap_or_default();
        let mut out = Vec::with_capacity(json.len() + 8);
        out.extend_from_slice(b"INFO ");
        out.extend_from_slice(go_html_escape(&json).as_bytes());
        out.extend_from_slice(b" \r\n");
        out
    }
}

/// Go's encoding/json escapes `<`, `>`, `&`, U+2028 and U+2029 in strings.
/// Those characters can only appear inside strings in valid JSON.
pub fn go_html_escape(json: &str) -> String {
    if !json.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return json.to_string();
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(c),
        }
    }
    out
}

/// Go's `Info` as a client's INFO is decoded into (and then ignored):
/// only its syntax and types can fail.
pub static GO_INFO: GoStruct = GoStruct {
    name: "Info",
    fields: &[
        ("server_id", GoType::Str),
        ("server_name", GoType::Str),
        ("version", GoType::Str),
        ("proto", GoType::Int(64)),
        ("git_commit", GoType::Str),
        ("go", GoType::Str),
        ("host", GoType::Str),
        ("port", GoType::Int(64)),
        ("headers", GoType::Bool),
        ("auth_required", GoType::Bool),
        ("tls_required", GoType::Bool),
        ("tls_verify", GoType::Bool),
        ("tls_available", GoType::Bool),
        ("max_payload", GoType::Int(32)),
        ("jetstream", GoType::Bool),
        ("ip", GoType::Str),
        ("client_id", GoType::Uint(64)),
        ("client_ip", GoType::Str),
        ("nonce", GoType::Str),
        ("cluster", GoType::Str),
        ("cluster_dynamic", GoType::Bool),
        ("domain", GoType::Str),
        ("connect_urls", GoType::StrList),
        ("ws_connect_urls", GoType::StrList),
        ("ldm", GoType::Bool),
        ("import", GoType::Struct(&SUBJECT_PERMISSION)),
        ("export", GoType::Struct(&SUBJECT_PERMISSION)),
        ("lnoc", GoType::Bool),
        ("info_on_connect", GoType::Bool),
        ("connect_info", GoType::Bool),
        ("gateway", GoType::Str),
        ("gateway_urls", GoType::StrList),
        ("gateway_url", GoType::Str),
        ("gateway_cmd", GoType::Uint(8)),
        ("gateway_cmd_payload", GoType::Bytes),
        ("gateway_nrp", GoType::Bool),
        ("gateway_iom", GoType::Bool),
        ("leafnode_urls", GoType::StrList),
        ("remote_account", GoType::Str),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_order_and_omission() {
        let info = Info {
            server_id: "NID".into(),
            server_name: "n<1>".into(),
            version: "2.9.10".into(),
            proto: 1,
            go: "go1.19.8".into(),
            host: "0.0.0.0".into(),
            port: 4222,
            headers: true,
            max_payload: 1048576,
            client_id: 4,
            client_ip: "127.0.0.1".into(),
            ..Default::default()
        };
        let line = String::from_utf8(info.to_line()).unwrap();
        assert_eq!(
            line,
            "INFO {\"server_id\":\"NID\",\"server_name\":\"n\\u003c1\\u003e\",\"version\":\"2.9.10\",\"proto\":1,\"go\":\"go1.19.8\",\"host\":\"0.0.0.0\",\"port\":4222,\"headers\":true,\"max_payload\":1048576,\"client_id\":4,\"client_ip\":\"127.0.0.1\"} \r\n"
        );
    }
}
