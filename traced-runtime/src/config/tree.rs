//! [`Node`]: a configuration file as read, before it is checked: scalars as text, with where each value was
//! written when the reader knows it.
//!
//! Our own YAML reader ([`yaml`](super::yaml)) and any serde format (an application that embeds
//! [`FileConfig`](super::FileConfig) in its own configuration struct) produce the same tree, so the checks of
//! [`file`](super::file) and their key-path errors are the same whatever read the file.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Collections nested deeper than this are refused while reading, in any format: the schema nests four
/// mappings (`exporter.otlp.headers.NAME`), an application's own file may nest its other sections further, and
/// nothing needs more. Refusing early is what keeps a hostile file cheap: serde_yaml 0.9 took 26 s to refuse
/// 100,000 levels of `[`.
pub(crate) const MAX_DEPTH: usize = 64;

/// One value of a configuration file.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Node {
    pub(crate) value: Value,
    /// Where the value starts, when the reader knows (our YAML reader does, serde does not).
    pub(crate) at: Option<Position>,
}

/// The kinds of values the schema distinguishes.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) enum Value {
    /// An absent value (`key:`, `~`, `null`): an empty section or an unset option.
    #[default]
    Null,
    /// A string, number or boolean, as text.
    Scalar(String),
    /// A list.
    Sequence(Vec<Node>),
    /// A mapping, in the file's order; keys are nodes so that a non-string key can be reported.
    Mapping(Vec<(Node, Node)>),
}

/// A line and a column, both counted from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// `origin:line:column`, or `origin` when the position is unknown.
pub(crate) fn located(origin: &str, at: Option<Position>) -> String {
    match at {
        Some(at) => format!("{origin}:{at}"),
        None => origin.to_owned(),
    }
}

impl Node {
    pub(crate) fn new(value: Value, at: Option<Position>) -> Node {
        Node { value, at }
    }

    /// The text of a scalar key, `None` for any other node.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(text) => Some(text),
            _ => None,
        }
    }

    /// How many nodes this one holds, itself included (what an alias to it costs).
    pub(crate) fn size(&self) -> usize {
        1 + match &self.value {
            Value::Null | Value::Scalar(_) => 0,
            Value::Sequence(items) => items.iter().map(Node::size).sum(),
            Value::Mapping(entries) => entries.iter().map(|(k, v)| k.size() + v.size()).sum(),
        }
    }
}

/// Reads any serde value into a [`Node`], refusing nesting deeper than [`MAX_DEPTH`].
pub(crate) struct NodeSeed {
    /// Collections already open around the value.
    pub(crate) depth: usize,
}

impl<'de> DeserializeSeed<'de> for NodeSeed {
    type Value = Node;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tracing configuration value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(scalar(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(scalar(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(scalar(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(scalar(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(scalar(v))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Node, E> {
        Ok(Node::default())
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Node, E> {
        Ok(Node::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let depth = self.nested::<A::Error>()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(NodeSeed { depth })? {
            items.push(item);
        }
        Ok(Node::new(Value::Sequence(items), None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let depth = self.nested::<A::Error>()?;
        let mut entries = Vec::new();
        while let Some(key) = map.next_key_seed(NodeSeed { depth })? {
            entries.push((key, map.next_value_seed(NodeSeed { depth })?));
        }
        Ok(Node::new(Value::Mapping(entries), None))
    }
}

impl NodeSeed {
    /// The depth inside one more collection, or the error when that is too deep.
    fn nested<E: serde::de::Error>(&self) -> Result<usize, E> {
        let depth = self.depth + 1;
        if depth > MAX_DEPTH {
            return Err(E::custom(too_deep()));
        }
        Ok(depth)
    }
}

/// Why a too deeply nested value is refused.
pub(crate) fn too_deep() -> String {
    format!(
        "values nested more than {MAX_DEPTH} levels deep; the tracing configuration uses at most 5"
    )
}

fn scalar(value: impl ToString) -> Node {
    Node::new(Value::Scalar(value.to_string()), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_json(text: &str) -> Result<Node, serde_json::Error> {
        NodeSeed { depth: 0 }.deserialize(&mut serde_json::Deserializer::from_str(text))
    }

    #[test]
    fn any_serde_format_gives_the_same_tree() {
        let node = from_json(r#"{"a": [1, true, null, "x"], "b": 2.5}"#).unwrap();
        let Value::Mapping(entries) = &node.value else {
            panic!("{node:?}")
        };
        assert_eq!(entries[0].0.as_str(), Some("a"));
        let Value::Sequence(items) = &entries[0].1.value else {
            panic!("{node:?}")
        };
        let texts: Vec<_> = items.iter().map(|item| item.value.clone()).collect();
        assert_eq!(
            texts,
            [
                Value::Scalar("1".into()),
                Value::Scalar("true".into()),
                Value::Null,
                Value::Scalar("x".into())
            ]
        );
        assert_eq!(entries[1].1.value, Value::Scalar("2.5".into()));
        assert_eq!(node.size(), 9);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(from_json(&ok).is_ok());
        // serde_json stops at 128 levels itself; ours stops earlier, with our reason.
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let error = from_json(&deep).unwrap_err().to_string();
        assert!(error.contains("nested more than 64 levels"), "{error}");
    }
}
