//! YAML text → [`Node`] tree, with the line and column of every value. What the keys mean is
//! [`file`](super::file)'s business.
//!
//! The reader is saphyr's event parser, maintained, YAML 1.2, with positions: serde_yaml 0.9 is deprecated, took
//! 26 s to refuse 100,000 levels of `[` (quadratic in the depth), and gave no position to a value. The tree is
//! built from the events without recursion and refused at [`MAX_DEPTH`] levels, so a hostile file costs what its
//! first levels do: 100,000 levels are refused in under a millisecond.

use std::path::Path;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError};
use traced_conventions::suggest::closest;

use super::tree::{located, too_deep, Node, Position, Value, MAX_DEPTH};
use super::warn;
use crate::Error;

/// What aliases may expand to in all, in nodes: a config file never needs many, and without a bound a few lines of
/// nested aliases expand to billions of values.
const MAX_ALIAS_NODES: usize = 100_000;

/// Reads a file's text, the error naming the file.
pub(crate) fn read_file(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::File {
        file: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// The value of the top-level key `section` of a YAML document (null when the key is absent: the application
/// configures no tracing there). The other keys are the application's: they are read, never checked.
pub(crate) fn section(text: &str, origin: &str, section: &str) -> Result<Node, Error> {
    let root = parse(text, origin)?;
    let entries = match root.value {
        Value::Null => Vec::new(),
        Value::Mapping(entries) => entries,
        _ => {
            return Err(Error::invalid(
                format!("(top level) in {}", located(origin, root.at)),
                "not a mapping",
                format!("expected a mapping with a {section:?} key"),
            ))
        }
    };
    let keys: Vec<&str> = entries.iter().filter_map(|(k, _)| k.as_str()).collect();
    if !keys.contains(&section) {
        if let Some(close) = keys.iter().find(|key| closest(key, &[section]).is_some()) {
            warn::warn_once(&format!(
                "{origin} has no {section:?} section, only {close:?}: tracing takes its defaults"
            ));
        }
    }
    Ok(entries
        .into_iter()
        .rev()
        .find(|(k, _)| k.as_str() == Some(section))
        .map(|(_, value)| value)
        .unwrap_or_default())
}

/// Reads one YAML document into a tree. An empty text is a null root.
pub(crate) fn parse(text: &str, origin: &str) -> Result<Node, Error> {
    let mut reader = Reader {
        origin,
        open: Vec::new(),
        root: None,
        anchors: Vec::new(),
        aliased: 0,
        documents: 0,
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| syntax(origin, &e))?;
        reader.event(event, position(span.start))?;
    }
    Ok(reader.root.unwrap_or_default())
}

/// The tree under construction.
struct Reader<'a> {
    origin: &'a str,
    /// The collections opened and not yet closed, innermost last.
    open: Vec<Open>,
    /// The document's value, once complete.
    root: Option<Node>,
    /// Anchored values by anchor id (saphyr numbers them from 1).
    anchors: Vec<Option<Node>>,
    /// Nodes that aliases have expanded to so far.
    aliased: usize,
    documents: usize,
}

/// A collection being read.
struct Open {
    node: Node,
    anchor: usize,
    /// For a mapping: the key read, waiting for its value.
    key: Option<Node>,
}

impl Reader<'_> {
    fn event(&mut self, event: Event<'_>, at: Position) -> Result<(), Error> {
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(self.error(at, "more than one YAML document (`---`); write one"));
                }
            }
            Event::Scalar(text, style, anchor, _tag) => {
                let value = if style == ScalarStyle::Plain && is_null(&text) {
                    Value::Null
                } else {
                    Value::Scalar(text.into_owned())
                };
                self.complete(Node::new(value, Some(at)), anchor)?;
            }
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .get(id)
                    .cloned()
                    .flatten()
                    .ok_or_else(|| self.error(at, "an alias to an unknown anchor"))?;
                self.aliased += node.size();
                if self.aliased > MAX_ALIAS_NODES {
                    return Err(self.error(
                        at,
                        &format!("aliases expand to more than {MAX_ALIAS_NODES} values"),
                    ));
                }
                self.complete(
                    Node {
                        at: Some(at),
                        ..node
                    },
                    0,
                )?;
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.open.len() >= MAX_DEPTH {
                    return Err(self.error(at, &too_deep()));
                }
                let value = match event {
                    Event::SequenceStart(..) => Value::Sequence(Vec::new()),
                    _ => Value::Mapping(Vec::new()),
                };
                self.open.push(Open {
                    node: Node::new(value, Some(at)),
                    anchor,
                    key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(open) = self.open.pop() {
                    self.complete(open.node, open.anchor)?;
                }
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    /// Puts a finished value where it belongs: in the innermost open collection, or as the document.
    fn complete(&mut self, node: Node, anchor: usize) -> Result<(), Error> {
        if anchor > 0 {
            if self.anchors.len() <= anchor {
                self.anchors.resize(anchor + 1, None);
            }
            self.anchors[anchor] = Some(node.clone());
        }
        let Some(open) = self.open.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match &mut open.node.value {
            Value::Sequence(items) => items.push(node),
            Value::Mapping(entries) => match open.key.take() {
                None => open.key = Some(node),
                Some(key) => entries.push((key, node)),
            },
            Value::Null | Value::Scalar(_) => unreachable!("only collections are open"),
        }
        Ok(())
    }

    fn error(&self, at: Position, reason: &str) -> Error {
        Error::File {
            file: located(self.origin, Some(at)),
            reason: reason.to_owned(),
        }
    }
}

/// The YAML 1.2 core schema's null: `~`, `null` in three spellings, or nothing.
fn is_null(plain: &str) -> bool {
    matches!(plain, "" | "~" | "null" | "Null" | "NULL")
}

fn syntax(origin: &str, error: &ScanError) -> Error {
    // saphyr refuses 256 levels of flow collections itself, sometimes before our bound is reached (it looks
    // ahead): one reason for both.
    let reason = match error.info() {
        "recursion limit exceeded" => too_deep(),
        info => info.to_owned(),
    };
    Error::File {
        file: located(origin, Some(position(*error.marker()))),
        reason,
    }
}

/// saphyr counts lines from 1 and columns from 0.
fn position(marker: Marker) -> Position {
    Position {
        line: marker.line(),
        column: marker.col() + 1,
    }
}

#[cfg(test)]
mod tests;
