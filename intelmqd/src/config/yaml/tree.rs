//! A runtime.yaml document as a tree of nodes that know where they are in
//! the text (byte offsets, line, column), built from saphyr-parser's events:
//! the loader turns it into JSON values, the editor finds the bytes to change
//! in it. Anything JSON cannot hold is refused here, with its position: a
//! mapping key that is not a string, a duplicate key, a non-core tag, an
//! infinity, more than one document. Aliases are expanded (with a budget, so
//! a file of nested aliases cannot exhaust memory).

use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScanError, Span, StrInput};
use serde_json::{Map, Value};

use super::resolve;

/// How deep collections may nest.
const MAX_DEPTH: usize = 128;
/// How many nodes a document may expand to, aliases included.
const MAX_NODES: usize = 1_000_000;

/// Why a text is not a runtime.yaml the daemon can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    /// Not YAML at all. Lines and columns count from 1.
    #[error("{message} (line {line}, column {column})")]
    Syntax {
        message: String,
        line: usize,
        column: usize,
    },
    /// YAML, but with something JSON has no form for.
    #[error("line {line}, column {column}: {message}")]
    NotJson {
        message: String,
        line: usize,
        column: usize,
    },
}

/// One node and where its text is: `start..end` are byte offsets (`end` is
/// the end of its last scalar or closing bracket, never a trailing comment).
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub shape: Shape,
    pub start: usize,
    pub end: usize,
    /// Written in flow style (`{...}`, `[...]`).
    pub flow: bool,
    /// How many nodes this subtree holds, for the alias budget.
    count: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum Shape {
    Scalar(Value),
    Sequence(Vec<Node>),
    Mapping(Vec<Entry>),
}

/// One key of a mapping with its value.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub key: String,
    /// Byte offset of the key's first character.
    pub key_start: usize,
    /// The key's column in characters, from 0.
    pub key_column: usize,
    pub value: Node,
}

impl Node {
    /// The node as JSON.
    pub fn to_value(&self) -> Value {
        match &self.shape {
            Shape::Scalar(value) => value.clone(),
            Shape::Sequence(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Shape::Mapping(entries) => Value::Object(
                entries
                    .iter()
                    .map(|entry| (entry.key.clone(), entry.value.to_value()))
                    .collect::<Map<String, Value>>(),
            ),
        }
    }

    /// The entries of a mapping node.
    pub fn entries(&self) -> Option<&[Entry]> {
        match &self.shape {
            Shape::Mapping(entries) => Some(entries),
            _ => None,
        }
    }
}

/// Parses a whole text; `None` for a text without a document (empty, or
/// only comments).
pub(crate) fn parse(text: &str) -> Result<Option<Node>, YamlError> {
    let mut builder = Builder {
        parser: Parser::new_from_str(text),
        offsets: text
            .char_indices()
            .map(|(at, _)| at)
            .chain(std::iter::once(text.len()))
            .collect(),
        text,
        anchors: HashMap::new(),
        nodes: 0,
    };
    builder.document()
}

struct Builder<'t> {
    parser: Parser<'t, StrInput<'t>>,
    /// Byte offset of each character index (the parser counts characters).
    offsets: Vec<usize>,
    text: &'t str,
    anchors: HashMap<usize, Node>,
    nodes: usize,
}

fn syntax(error: &ScanError) -> YamlError {
    YamlError::Syntax {
        message: error.info().to_owned(),
        line: error.marker().line(),
        column: error.marker().col() + 1,
    }
}

fn not_json(message: String, at: Marker) -> YamlError {
    YamlError::NotJson {
        message,
        line: at.line(),
        column: at.col() + 1,
    }
}

impl<'t> Builder<'t> {
    fn next(&mut self) -> Result<(Event<'t>, Span), YamlError> {
        match self.parser.next_event() {
            Some(Ok(event)) => Ok(event),
            Some(Err(error)) => Err(syntax(&error)),
            None => Err(YamlError::Syntax {
                message: "unexpected end of the text".into(),
                line: self.text.lines().count().max(1),
                column: 1,
            }),
        }
    }

    fn byte(&self, at: Marker) -> usize {
        self.offsets
            .get(at.index())
            .copied()
            .unwrap_or(self.text.len())
    }

    fn document(&mut self) -> Result<Option<Node>, YamlError> {
        let mut root = None;
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => return Ok(root),
                Event::DocumentStart(_) if root.is_some() => {
                    return Err(not_json(
                        "a second YAML document; runtime.yaml must hold exactly one".into(),
                        span.start,
                    ))
                }
                Event::DocumentStart(_) => {
                    let (event, span) = self.next()?;
                    root = Some(self.node(event, span, 0)?);
                }
                _ => {
                    return Err(YamlError::Syntax {
                        message: "unexpected content outside of a document".into(),
                        line: span.start.line(),
                        column: span.start.col() + 1,
                    })
                }
            }
        }
    }

    fn node(&mut self, event: Event<'t>, span: Span, depth: usize) -> Result<Node, YamlError> {
        if depth > MAX_DEPTH {
            return Err(not_json(
                format!("nested more than {MAX_DEPTH} levels deep"),
                span.start,
            ));
        }
        let start = self.byte(span.start);
        let (node, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value = resolve::scalar(&text, style, tag.as_deref())
                    .map_err(|message| not_json(message, span.start))?;
                let node = Node {
                    shape: Shape::Scalar(value),
                    start,
                    end: self.byte(span.end).max(start),
                    flow: false,
                    count: 1,
                };
                (node, anchor)
            }
            Event::SequenceStart(anchor, tag) => {
                self.collection_tag(tag.as_deref(), "seq", span.start)?;
                (self.sequence(start, depth)?, anchor)
            }
            Event::MappingStart(anchor, tag) => {
                self.collection_tag(tag.as_deref(), "map", span.start)?;
                (self.mapping(start, depth)?, anchor)
            }
            Event::Alias(anchor) => {
                let Some(target) = self.anchors.get(&anchor) else {
                    return Err(not_json("an alias to an unknown anchor".into(), span.start));
                };
                let mut node = target.clone();
                node.start = start;
                node.end = self.byte(span.end).max(start);
                node.flow = true;
                (node, 0)
            }
            _ => {
                return Err(YamlError::Syntax {
                    message: "unexpected YAML event".into(),
                    line: span.start.line(),
                    column: span.start.col() + 1,
                })
            }
        };
        self.nodes += node.count;
        if self.nodes > MAX_NODES {
            return Err(not_json(
                format!("expands to more than {MAX_NODES} values (aliases?)"),
                span.start,
            ));
        }
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }

    fn collection_tag(
        &self,
        tag: Option<&saphyr_parser::Tag>,
        expected: &str,
        at: Marker,
    ) -> Result<(), YamlError> {
        match tag {
            None => Ok(()),
            Some(tag) if tag.is_yaml_core_schema() && tag.suffix == expected => Ok(()),
            Some(tag) => Err(not_json(
                format!("the tag {tag} has no JSON equivalent"),
                at,
            )),
        }
    }

    fn sequence(&mut self, start: usize, depth: usize) -> Result<Node, YamlError> {
        let flow = self.text[start..].starts_with('[');
        let mut items: Vec<Node> = Vec::new();
        loop {
            let (event, span) = self.next()?;
            if matches!(event, Event::SequenceEnd) {
                let end = if flow {
                    self.byte(span.end)
                } else {
                    items.last().map_or(start, |item| item.end)
                };
                let count = 1 + items.iter().map(|item| item.count).sum::<usize>();
                return Ok(Node {
                    shape: Shape::Sequence(items),
                    start,
                    end: end.max(start),
                    flow,
                    count,
                });
            }
            items.push(self.node(event, span, depth + 1)?);
        }
    }

    fn mapping(&mut self, start: usize, depth: usize) -> Result<Node, YamlError> {
        let flow = self.text[start..].starts_with('{');
        let mut entries: Vec<Entry> = Vec::new();
        loop {
            let (event, span) = self.next()?;
            if matches!(event, Event::MappingEnd) {
                let end = if flow {
                    self.byte(span.end)
                } else {
                    entries.last().map_or(start, |entry| entry.value.end)
                };
                let count = 1 + entries.iter().map(|e| e.value.count + 1).sum::<usize>();
                return Ok(Node {
                    shape: Shape::Mapping(entries),
                    start,
                    end: end.max(start),
                    flow,
                    count,
                });
            }
            let key_at = span.start;
            let key = self.node(event, span, depth + 1)?;
            let key = match key.shape {
                Shape::Scalar(Value::String(key)) => key,
                other => {
                    let found = match other {
                        Shape::Scalar(value) => format!("{value}"),
                        Shape::Sequence(_) => "a sequence".into(),
                        Shape::Mapping(_) => "a mapping".into(),
                    };
                    return Err(not_json(
                        format!("a mapping key must be a string, not {found} (quote it)"),
                        key_at,
                    ));
                }
            };
            if entries.iter().any(|entry| entry.key == key) {
                return Err(not_json(format!("the key {key:?} appears twice"), key_at));
            }
            let (event, span) = self.next()?;
            let value = self.node(event, span, depth + 1)?;
            entries.push(Entry {
                key,
                key_start: self.byte(key_at),
                key_column: key_at.col(),
                value,
            });
        }
    }
}
