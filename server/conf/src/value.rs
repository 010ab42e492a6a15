//! The parsed configuration tree.

use std::path::PathBuf;

/// A configuration value.
///
/// Go accepts any nesting depth, so a tree is cloned and dropped without
/// recursion (see the `Clone` and `Drop` impls): no input overflows the
/// stack.
#[derive(Debug, PartialEq)]
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

impl Drop for Value {
    fn drop(&mut self) {
        let mut detached = Vec::new();
        detach_children(self, &mut detached);
        while let Some(mut node) = detached.pop() {
            // The node then drops with no children left.
            detach_children(&mut node.value, &mut detached);
        }
    }
}

fn detach_children(value: &mut Value, into: &mut Vec<Node>) {
    match value {
        Value::Array(items) => into.append(items),
        Value::Map(map) => into.extend(map.0.drain(..).map(|(_, node)| node)),
        _ => {}
    }
}

impl Clone for Value {
    fn clone(&self) -> Self {
        match self {
            Value::Bool(b) => Value::Bool(*b),
            Value::Int(i) => Value::Int(*i),
            Value::Float(f) => Value::Float(*f),
            Value::Str(s) => Value::Str(s.clone()),
            Value::DateTime(s) => Value::DateTime(s.clone()),
            Value::Array(_) | Value::Map(_) => clone_container(self),
        }
    }
}

/// A container being copied by [`clone_container`].
struct CloneFrame<'a> {
    source: &'a Value,
    next: usize,
    copy: Value,
    /// The key and node the finished copy goes under in its parent.
    slot: Option<(Option<String>, &'a Node)>,
}

impl<'a> CloneFrame<'a> {
    fn new(source: &'a Value, slot: Option<(Option<String>, &'a Node)>) -> Self {
        let copy = match source {
            Value::Map(_) => Value::Map(Map::new()),
            _ => Value::Array(Vec::new()),
        };
        CloneFrame {
            source,
            next: 0,
            copy,
            slot,
        }
    }

    fn next_child(&mut self) -> Option<(Option<String>, &'a Node)> {
        let child = match self.source {
            Value::Array(items) => items.get(self.next).map(|node| (None, node)),
            Value::Map(map) => map
                .0
                .get(self.next)
                .map(|(k, node)| (Some(k.clone()), node)),
            _ => None,
        };
        self.next += 1;
        child
    }

    fn push(&mut self, key: Option<String>, node: Node) {
        match (&mut self.copy, key) {
            (Value::Map(map), Some(key)) => map.0.push((key, node)),
            (Value::Array(items), _) => items.push(node),
            _ => {}
        }
    }
}

/// Copies a map or array depth-first with an explicit stack.
fn clone_container(root: &Value) -> Value {
    let mut stack = vec![CloneFrame::new(root, None)];
    loop {
        let Some(top) = stack.last_mut() else {
            return Value::Array(Vec::new());
        };
        match top.next_child() {
            Some((key, node)) if matches!(node.value, Value::Array(_) | Value::Map(_)) => {
                stack.push(CloneFrame::new(&node.value, Some((key, node))));
            }
            Some((key, node)) => top.push(key, node.with_value(node.value.clone())),
            None => {
                let Some(mut done) = stack.pop() else {
                    continue;
                };
                let copy = std::mem::replace(&mut done.copy, Value::Bool(false));
                match (done.slot, stack.last_mut()) {
                    (Some((key, node)), Some(parent)) => parent.push(key, node.with_value(copy)),
                    _ => return copy,
                }
            }
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
#[derive(Debug, PartialEq)]
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

impl Clone for Node {
    fn clone(&self) -> Self {
        self.with_value(self.value.clone())
    }
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

    /// `value` at this node's position.
    fn with_value(&self, value: Value) -> Node {
        Node {
            value,
            file: self.file.clone(),
            line: self.line,
            col: self.col,
            used_variable: self.used_variable,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Nested `depth` levels of single-element arrays or maps.
    fn nested(depth: usize, map: bool) -> Value {
        let mut value = Value::Int(1);
        for _ in 0..depth {
            let node = Node::new(value);
            value = if map {
                Value::Map(Map(vec![("a".to_string(), node)]))
            } else {
                Value::Array(vec![node])
            };
        }
        value
    }

    fn depth(mut value: &Value) -> usize {
        let mut levels = 0;
        loop {
            value = match value {
                Value::Array(items) => &items[0].value,
                Value::Map(map) => &map.0[0].1.value,
                _ => return levels,
            };
            levels += 1;
        }
    }

    #[test]
    fn deep_trees_clone_and_drop_without_recursion() {
        for map in [false, true] {
            let deep = nested(1_000_000, map);
            let copy = deep.clone();
            assert_eq!(depth(&copy), 1_000_000);
            drop(deep);
            drop(copy);
        }
    }

    #[test]
    fn clone_keeps_keys_order_and_positions() {
        let mut inner = Map::new();
        inner.insert("x".into(), Node::new(Value::Int(1)));
        inner.insert(
            "y".into(),
            Node::new(Value::Array(vec![Node::new(Value::Str("s".into()))])),
        );
        let mut node = Node::new(Value::Map(inner));
        node.line = 3;
        node.col = 7;
        node.used_variable = true;
        let copy = node.clone();
        assert_eq!(copy, node);
        assert_eq!((copy.line, copy.col, copy.used_variable), (3, 7, true));
    }
}
