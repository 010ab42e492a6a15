//! Parse errors. The `Display` text of each variant is the text nats-server
//! 2.9.10 prints for the same problem (it adds no `file:line:col` prefix to
//! these; syntax errors carry only a line number).

use std::path::PathBuf;

/// Where in the input an error was detected.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// `None` for text given to `parse_str`.
    pub file: Option<PathBuf>,
    pub line: usize,
    /// Byte column, counted the way the lexer counts (see [`crate::Node`]).
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfError {
    /// Rejected by the lexer.
    #[error("Parse error on line {}: '{message}'", .at.line)]
    Syntax { message: String, at: Location },

    #[error("integer '{text}' is out of the range")]
    IntegerOutOfRange { text: String, at: Location },

    #[error("expected integer, but got '{text}'")]
    InvalidInteger { text: String, at: Location },

    #[error("float '{text}' is out of the range")]
    FloatOutOfRange { text: String, at: Location },

    #[error("expected float, but got '{text}'")]
    InvalidFloat { text: String, at: Location },

    #[error("expected Zulu formatted DateTime, but got '{text}'")]
    InvalidDateTime { text: String, at: Location },

    /// `$name` matched no key in scope and no environment variable.
    #[error("variable reference for '{name}' on line {} can not be found", .at.line)]
    UndefinedVariable { name: String, at: Location },

    /// An environment variable's value is not a valid configuration value.
    #[error("variable reference for '{name}' on line {} could not be parsed: {source}", .at.line)]
    BadVariable {
        name: String,
        at: Location,
        source: Box<ConfError>,
    },

    /// `$name` expands, through environment variables, into itself.
    /// (The reference recurses until it crashes.)
    #[error("variable reference for '{name}' on line {} could not be parsed: environment variable references nest too deeply", .at.line)]
    VariableTooDeep { name: String, at: Location },

    /// `include` of a file that could not be read or parsed. `include` is
    /// the path as written.
    #[error("error parsing include file '{include}', {source}")]
    Include {
        include: String,
        at: Location,
        source: Box<ConfError>,
    },

    /// Includes nested too deeply, e.g. a file including itself.
    /// (The reference recurses until it crashes.)
    #[error("include nesting is too deep")]
    IncludeTooDeep { at: Location },

    /// The file could not be read. Formatted like Go's `*fs.PathError`,
    /// e.g. `open x.conf: no such file or directory`.
    #[error("{op} {}: {reason}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        reason: String,
    },
}

impl ConfError {
    /// Where the error was detected, when known.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ConfError::Syntax { at, .. }
            | ConfError::IntegerOutOfRange { at, .. }
            | ConfError::InvalidInteger { at, .. }
            | ConfError::FloatOutOfRange { at, .. }
            | ConfError::InvalidFloat { at, .. }
            | ConfError::InvalidDateTime { at, .. }
            | ConfError::UndefinedVariable { at, .. }
            | ConfError::BadVariable { at, .. }
            | ConfError::VariableTooDeep { at, .. }
            | ConfError::Include { at, .. }
            | ConfError::IncludeTooDeep { at } => Some(at),
            ConfError::Io { .. } => None,
        }
    }

    pub(crate) fn io(op: &'static str, path: PathBuf, err: &std::io::Error) -> Self {
        ConfError::Io {
            op,
            path,
            reason: go_io_reason(err),
        }
    }
}

/// Go prints the bare C library message in lower case ("no such file or
/// directory"); Rust appends " (os error N)" and capitalises it.
fn go_io_reason(err: &std::io::Error) -> String {
    let text = err.to_string();
    let text = match text.rfind(" (os error ") {
        Some(i) if err.raw_os_error().is_some() => text[..i].to_string(),
        _ => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}
