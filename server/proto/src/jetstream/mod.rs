//! The JetStream API's wire shapes, beginning with its errors.

pub mod api;
pub mod consumer;
pub mod errors;
pub mod stream;

pub use errors::ErrorId;
use serde::Serialize;

/// An API error as responses carry it: `{"code":..,"err_code":..,"description":..}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    pub code: u16,
    #[serde(skip_serializing_if = "is_zero")]
    pub err_code: u16,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
}

fn is_zero(n: &u16) -> bool {
    *n == 0
}

impl ApiError {
    /// The error as Go writes it, placeholders left as they are.
    pub fn new(id: ErrorId) -> ApiError {
        Self::with(id, &[])
    }

    /// The error with each `{name}` placeholder replaced by its value.
    pub fn with(id: ErrorId, args: &[(&str, &str)]) -> ApiError {
        let mut description = id.description().to_string();
        for (name, value) in args {
            description = description.replace(&format!("{{{name}}}"), value);
        }
        ApiError {
            code: id.code(),
            err_code: id.err_code(),
            description,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_every_code_once() {
        let mut codes: Vec<u16> = ErrorId::ALL.iter().map(|e| e.err_code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 132);
        assert_eq!((codes[0], codes[131]), (10002, 10133));
    }

    #[test]
    fn errors_serialize_as_go_writes_them() {
        let e = ApiError::new(ErrorId::StreamNotFound);
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":404,"err_code":10059,"description":"stream not found"}"#
        );
        let e = ApiError::with(ErrorId::ClusterNoPeers, &[("err", "no suitable peers")]);
        assert_eq!(e.description, "no suitable peers");
    }
}
