//! The parsed configuration tree.

use std::path::PathBuf;

/// A configuration value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// An ISO8601 Zulu datetime (`YYYY-MM-DDTHH:MM:SSZ`), validated, kept as
    /// written.
    DateTime(String),
    Array(Vec<Node>),
    Map(Map),
}

impl Value {
    /// The type name Go's `%T` prints for the equivalent Go value, which is
    /// what nats-server puts in its "unsupported type" messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::Int(_) => "int64",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::DateTime(_) => "time.Time",
            Value::Array(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
        }
    }
}

/// A value together with where it was defined.
///
/// The position follows the reference's "pedantic" rules: a value stored
/// under a key carries the position of its key; an array element carries
/// its own position (for a nested map or array, that of its closing
/// bracket). Lines are 1-based. Columns are byte offsets that count from 0
/// on the first line of a file and from 1 on the other lines, exactly as
/// nats-server reports them. A node with `line == 0` has no known position
/// (the inner parts of a value taken from an environment variable).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    /// The file the value comes from; `None` for text given to `parse_str`.
    pub file: Option<PathBuf>,
    pub line: usize,
    pub col: usize,
    /// Set when the value was referenced as a `$variable` somewhere.
    /// nats-server does not report such top-level keys as unknown fields.
    pub used_variable: bool,
}

impl Node {
    /// A node without a position.
    pub fn new(value: Value) -> Self {
        Node {
            value,
            file: None,
            line: 0,
            col: 0,
            used_variable: false,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self.value {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self.value {
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_datetime(&self) -> Option<&str> {
        match &self.value {
            Value::DateTime(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// See [`Value::kind_name`].
    pub fn kind_name(&self) -> &'static str {
        self.value.kind_name()
    }

    /// `file:line:col` as nats-server prefixes its configuration errors
    /// (the file part is empty when there is no file).
    pub fn location(&self) -> String {
        let file = self
            .file
            .as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_default();
        format!("{}:{}:{}", file, self.line, self.col)
    }
}

/// A map in file order. Keys keep their original spelling; a key defined
/// twice keeps its first position in the order and its last value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Map(pub Vec<(String, Node)>);

impl Map {
    pub fn new() -> Self {
        Map(Vec::new())
    }

    /// Exact (case-sensitive) lookup.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, n)| n)
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, n)| n)
    }

    /// Case-insensitive lookup, as the nats-server options layer matches
    /// option names. If several keys match, the last one wins.
    pub fn get_ci(&self, key: &str) -> Option<&Node> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k.to_lowercase() == key.to_lowercase())
            .map(|(_, n)| n)
    }

    /// Sets `key`, replacing an existing value in place.
    pub fn insert(&mut self, key: String, node: Node) {
        match self.get_mut(&key) {
            Some(slot) => *slot = node,
            None => self.0.push((key, node)),
        }
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.0.iter().map(|(k, n)| (k.as_str(), n))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = &'a (String, Node);
    type IntoIter = std::slice::Iter<'a, (String, Node)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for Map {
    type Item = (String, Node);
    type IntoIter = std::vec::IntoIter<(String, Node)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
