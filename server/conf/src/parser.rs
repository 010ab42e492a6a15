//! Builds the value tree from the token stream.
//!
//! Like the reference, the parser keeps a stack of open containers and a
//! separate stack of pending keys; a value is stored under whatever key is on
//! top of the key stack. This reproduces the reference's handling of odd
//! inputs, e.g. an integer with an unknown unit suffix (`1kbb`) is silently
//! dropped and its key stays pending for the next value.

use std::path::{Path, PathBuf};

use crate::chars::{decode, is_digit};
use crate::error::{ConfError, Location};
use crate::lexer::{Item, Kind, Lexer};
use crate::path;
use crate::value::{Map, Node, Value};

/// Includes nested deeper than this are rejected (the reference overflows
/// its stack on a file that includes itself).
const MAX_INCLUDE_DEPTH: usize = 64;
/// Limit for environment variables whose values reference further variables.
const MAX_ENV_DEPTH: usize = 64;

/// Key used to parse an environment variable's value as `pk=<value>`.
const ENV_KEY: &str = "pk";
/// A `$` followed by this is a bcrypt hash, not a variable.
const BCRYPT_PREFIX: &str = "2a$";

pub(crate) struct Options<'p> {
    /// The file being parsed, as the caller named it; `None` for a string.
    pub file: Option<&'p Path>,
    /// Whether values get positions. Off only for environment variable
    /// values, which the reference parses in its non-pedantic mode.
    pub positions: bool,
    pub include_depth: usize,
    pub env_depth: usize,
}

enum Container {
    Map(Map),
    Array(Vec<Node>),
}

struct PendingKey {
    name: String,
    line: usize,
    col: usize,
}

struct Parser<'p> {
    opts: Options<'p>,
    /// Directory that relative includes are resolved against.
    dir: PathBuf,
    containers: Vec<Container>,
    keys: Vec<PendingKey>,
}

pub(crate) fn parse(input: &[u8], opts: Options<'_>) -> Result<Map, ConfError> {
    let dir = path::dir(opts.file.unwrap_or(Path::new("")));
    let mut parser = Parser {
        opts,
        dir,
        containers: vec![Container::Map(Map::new())],
        keys: Vec::new(),
    };
    let mut lexer = Lexer::new(input);
    loop {
        let item = lexer.next_item();
        if item.kind == Kind::Eof {
            break;
        }
        parser.process(item)?;
    }
    // Containers are balanced by the lexer; only the top level is left.
    match parser.containers.into_iter().next() {
        Some(Container::Map(map)) => Ok(map),
        _ => Ok(Map::new()),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Parser<'_> {
    fn location(&self, item: &Item) -> Location {
        Location {
            file: self.opts.file.map(Path::to_path_buf),
            line: item.line,
            col: item.pos.max(0) as usize,
        }
    }

    fn node(&self, item: &Item, value: Value) -> Node {
        if !self.opts.positions {
            return Node::new(value);
        }
        Node {
            value,
            file: self.opts.file.map(Path::to_path_buf),
            line: item.line,
            col: item.pos.max(0) as usize,
            used_variable: false,
        }
    }

    fn process(&mut self, item: Item) -> Result<(), ConfError> {
        match item.kind {
            Kind::Error => {
                return Err(ConfError::Syntax {
                    message: text(&item.val),
                    at: self.location(&item),
                })
            }
            Kind::Key => self.keys.push(PendingKey {
                name: text(&item.val),
                line: item.line,
                col: item.pos.max(0) as usize,
            }),
            Kind::MapStart => self.containers.push(Container::Map(Map::new())),
            Kind::ArrayStart => self.containers.push(Container::Array(Vec::new())),
            Kind::MapEnd | Kind::ArrayEnd => {
                if self.containers.len() > 1 {
                    let value = match self.containers.pop() {
                        Some(Container::Map(map)) => Value::Map(map),
                        Some(Container::Array(array)) => Value::Array(array),
                        None => return Ok(()),
                    };
                    let node = self.node(&item, value);
                    self.set_value(node);
                }
            }
            Kind::String => {
                let node = self.node(&item, Value::Str(text(&item.val)));
                self.set_value(node);
            }
            Kind::Integer => {
                if let Some(value) = self.integer(&item)? {
                    let node = self.node(&item, Value::Int(value));
                    self.set_value(node);
                }
            }
            Kind::Float => {
                let value = self.float(&item)?;
                let node = self.node(&item, Value::Float(value));
                self.set_value(node);
            }
            Kind::Bool => {
                // The lexer only produces the six boolean words.
                let on = ["true", "yes", "on"]
                    .iter()
                    .any(|w| crate::chars::lower_eq(&item.val, w));
                let node = self.node(&item, Value::Bool(on));
                self.set_value(node);
            }
            Kind::Datetime => {
                let raw = text(&item.val);
                if !valid_datetime(&raw) {
                    return Err(ConfError::InvalidDateTime {
                        text: raw,
                        at: self.location(&item),
                    });
                }
                let node = self.node(&item, Value::DateTime(raw));
                self.set_value(node);
            }
            Kind::Variable => {
                let value = self.resolve_variable(&item)?;
                let node = self.node(&item, value);
                self.set_value(node);
            }
            Kind::Include => self.include(&item)?,
            Kind::Eof | Kind::Text | Kind::CommentStart => {}
        }
        Ok(())
    }

    /// Stores a finished value in the innermost container. In a map it goes
    /// under the most recent pending key and takes that key's position.
    fn set_value(&mut self, mut node: Node) {
        match self.containers.last_mut() {
            Some(Container::Array(array)) => array.push(node),
            Some(Container::Map(map)) => {
                // The reference would crash on a missing key; it cannot
                // happen with the lexer's token sequences.
                let Some(key) = self.keys.pop() else { return };
                if self.opts.positions {
                    node.line = key.line;
                    node.col = key.col;
                }
                map.insert(key.name, node);
            }
            None => {}
        }
    }

    /// Converts an integer token, applying its unit suffix. Returns `None`
    /// for an unknown suffix, which the reference silently ignores.
    fn integer(&self, item: &Item) -> Result<Option<i64>, ConfError> {
        let raw = &item.val;
        // The reference counts leading digit characters but then cuts that
        // many *bytes*; any non-ASCII digit therefore spoils the number.
        let mut count = 0;
        let mut rest = &raw[..];
        while !rest.is_empty() {
            let (c, width) = decode(rest);
            if !is_digit(c) && c != '-' {
                break;
            }
            count += 1;
            rest = &rest[width..];
        }
        let digits = std::str::from_utf8(&raw[..count.min(raw.len())]).unwrap_or("\u{FFFD}");
        let number = match digits.parse::<i64>() {
            Ok(n) => n,
            Err(e) => {
                let at = self.location(item);
                let text = text(raw);
                return Err(match e.kind() {
                    std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                        ConfError::IntegerOutOfRange { text, at }
                    }
                    _ => ConfError::InvalidInteger { text, at },
                });
            }
        };
        let suffix = text(&raw[count.min(raw.len())..])
            .trim()
            .to_ascii_lowercase();
        let multiplier: i64 = match suffix.as_str() {
            "" => 1,
            "k" => 1000,
            "kb" | "ki" | "kib" => 1 << 10,
            "m" => 1000_i64.pow(2),
            "mb" | "mi" | "mib" => 1 << 20,
            "g" => 1000_i64.pow(3),
            "gb" | "gi" | "gib" => 1 << 30,
            "t" => 1000_i64.pow(4),
            "tb" | "ti" | "tib" => 1 << 40,
            "p" => 1000_i64.pow(5),
            "pb" | "pi" | "pib" => 1 << 50,
            "e" => 1000_i64.pow(6),
            "eb" | "ei" | "eib" => 1 << 60,
            _ => return Ok(None),
        };
        // The reference overflows silently.
        Ok(Some(number.wrapping_mul(multiplier)))
    }

    fn float(&self, item: &Item) -> Result<f64, ConfError> {
        let raw = text(&item.val);
        // The lexer guarantees `-?digits.digits`; only non-ASCII digits fail.
        match raw.parse::<f64>() {
            Ok(f) if f.is_infinite() => Err(ConfError::FloatOutOfRange {
                text: raw,
                at: self.location(item),
            }),
            Ok(f) => Ok(f),
            Err(_) => Err(ConfError::InvalidFloat {
                text: raw,
                at: self.location(item),
            }),
        }
    }

    /// Looks `$name` up in the open maps, innermost first, then in the
    /// environment. A referenced key is marked as used.
    fn resolve_variable(&mut self, item: &Item) -> Result<Value, ConfError> {
        let name = text(&item.val);
        if name.starts_with(BCRYPT_PREFIX) {
            return Ok(Value::Str(format!("${name}")));
        }
        for container in self.containers.iter_mut().rev() {
            if let Container::Map(map) = container {
                if let Some(found) = map.get_mut(&name) {
                    found.used_variable = true;
                    return Ok(found.value.clone());
                }
            }
        }
        if let Some(raw) = env_value(&item.val) {
            if self.opts.env_depth >= MAX_ENV_DEPTH {
                return Err(ConfError::VariableTooDeep {
                    name,
                    at: self.location(item),
                });
            }
            let mut input = format!("{ENV_KEY}=").into_bytes();
            input.extend_from_slice(&raw);
            let opts = Options {
                file: None,
                positions: false,
                include_depth: self.opts.include_depth,
                env_depth: self.opts.env_depth + 1,
            };
            return match parse(&input, opts) {
                Ok(map) => match map.into_iter().find(|(k, _)| k == ENV_KEY) {
                    Some((_, node)) => Ok(node.value),
                    None => Err(ConfError::UndefinedVariable {
                        name,
                        at: self.location(item),
                    }),
                },
                Err(ConfError::VariableTooDeep { .. }) => Err(ConfError::VariableTooDeep {
                    name,
                    at: self.location(item),
                }),
                Err(e) => Err(ConfError::BadVariable {
                    name,
                    at: self.location(item),
                    source: Box::new(e),
                }),
            };
        }
        Err(ConfError::UndefinedVariable {
            name,
            at: self.location(item),
        })
    }

    /// Parses an included file and merges its top-level keys into the
    /// current map.
    fn include(&mut self, item: &Item) -> Result<(), ConfError> {
        let include = text(&item.val);
        let at = self.location(item);
        if self.opts.include_depth >= MAX_INCLUDE_DEPTH {
            return Err(ConfError::IncludeTooDeep { at });
        }
        let target = path::join(&self.dir, &item.val);
        let result =
            crate::read_and_parse(&target, self.opts.include_depth + 1, self.opts.env_depth);
        let map = match result {
            Ok(map) => map,
            Err(e @ ConfError::IncludeTooDeep { .. }) => return Err(e),
            Err(e) => {
                return Err(ConfError::Include {
                    include,
                    at,
                    source: Box::new(e),
                })
            }
        };
        for (key, node) in map {
            self.keys.push(PendingKey {
                name: key,
                line: node.line,
                col: node.col,
            });
            self.set_value(node);
        }
        Ok(())
    }
}

/// The raw value of an environment variable. Names that cannot exist (empty,
/// or containing `=` or NUL) are simply not found.
fn env_value(name: &[u8]) -> Option<Vec<u8>> {
    if name.is_empty() || name.contains(&b'=') || name.contains(&0) {
        return None;
    }
    let name = path::from_bytes(name.to_vec()).into_os_string();
    let value = std::env::var_os(name)?;
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        Some(value.into_vec())
    }
    #[cfg(not(unix))]
    {
        Some(value.to_string_lossy().into_owned().into_bytes())
    }
}

/// Validates `YYYY-MM-DDTHH:MM:SSZ` as Go's `time.Parse` would: ASCII digits
/// and in-range fields, including the length of the month.
fn valid_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 20 {
        return false;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = &b[range];
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(part.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
    };
    let fields = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    );
    let (Some(year), Some(month), Some(day), Some(hour), Some(min), Some(sec)) = fields else {
        return false;
    };
    if !(1..=12).contains(&month) || hour > 23 || min > 59 || sec > 59 {
        return false;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (1..=days).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::valid_datetime;

    #[test]
    fn datetime_validation() {
        assert!(valid_datetime("2016-05-04T18:53:41Z"));
        assert!(valid_datetime("2024-02-29T00:00:00Z"));
        assert!(!valid_datetime("2023-02-29T00:00:00Z"));
        assert!(valid_datetime("2000-02-29T23:59:59Z"));
        assert!(!valid_datetime("1900-02-29T00:00:00Z"));
        assert!(!valid_datetime("2016-13-04T18:53:41Z"));
        assert!(!valid_datetime("2016-00-04T18:53:41Z"));
        assert!(!valid_datetime("2016-04-31T18:53:41Z"));
        assert!(!valid_datetime("2016-04-00T18:53:41Z"));
        assert!(!valid_datetime("2016-04-01T24:00:00Z"));
        assert!(!valid_datetime("2016-04-01T23:60:00Z"));
        assert!(!valid_datetime("2016-04-01T23:00:60Z"));
    }
}
