//! Edits of runtime.yaml that keep its text: set or remove one member
//! (addressed by keys from the root) and leave every other byte as it was,
//! comments included. The positions come from [`super::tree`]; the edit
//! replaces a scalar's bytes, inserts a line (indented like its siblings)
//! after the last line of a block mapping, or deletes an entry's lines.
//!
//! Like the JSON edits, every result is parsed again and compared, key order
//! included, with the same edit applied to the parsed value. Where the text
//! cannot be edited in place (flow style such as `{module: x}`, an empty
//! document's edge cases, anchors that an edit would change elsewhere,
//! anything the check rejects), the whole file is written again as block
//! YAML from the edited value: correct, but the comments and layout are
//! lost, so [`Edited::rewritten`] says so and the caller logs it.

use serde_json::{Map, Value};

use super::emit;
use super::tree::{self, Node, Shape};
use crate::config::edit::{parent_of, splice, EditError, KeyPath};

/// An edit's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    pub text: String,
    /// The file was written again as a whole (comments and layout lost).
    pub rewritten: bool,
}

/// The indentation step when the file shows none.
const DEFAULT_UNIT: usize = 2;

/// Sets `path` (e.g. `["my-bot", "botnet"]`, or `["my-bot"]` for a whole
/// entry) to `value`. A missing member is added as the last of its mapping;
/// a missing intermediate mapping is an error.
pub fn set_member(text: &str, path: &[&str], value: &Value) -> Result<Edited, EditError> {
    let (key, parent_path) = path.split_last().ok_or(EditError::EmptyPath)?;
    let root = parse(text)?;
    let mut expected = root
        .as_ref()
        .map_or(Value::Object(Map::new()), Node::to_value);
    parent_of(&mut expected, parent_path)?.insert((*key).to_owned(), value.clone());
    let in_place = set_in_place(text, root.as_ref(), parent_path, key, value);
    finish(text, in_place, &expected)
}

/// Removes the member at `path` with its lines.
pub fn remove_member(text: &str, path: &[&str]) -> Result<Edited, EditError> {
    let (key, parent_path) = path.split_last().ok_or(EditError::EmptyPath)?;
    let root = parse(text)?;
    let mut expected = root
        .as_ref()
        .map_or(Value::Object(Map::new()), Node::to_value);
    if parent_of(&mut expected, parent_path)?
        .shift_remove(*key)
        .is_none()
    {
        return Err(EditError::NotFound {
            path: KeyPath::of(path),
        });
    }
    let in_place = root.as_ref().and_then(|root| {
        let parent = mapping_at(root, parent_path)?;
        let entry = parent.entries()?.iter().find(|e| e.key == *key)?;
        let start = own_line_start(text, entry.key_start)?;
        Some(splice(text, start, line_end(text, entry.value.end), ""))
    });
    finish(text, in_place, &expected)
}

fn parse(text: &str) -> Result<Option<Node>, EditError> {
    tree::parse(text).map_err(|error| EditError::NotYaml {
        message: format!("not valid YAML: {error}"),
    })
}

/// Keeps the in-place result when it reads back as `expected`; otherwise
/// writes the whole value again.
fn finish(text: &str, in_place: Option<String>, expected: &Value) -> Result<Edited, EditError> {
    if let Some(edited) = in_place.filter(|edited| reads_as(edited, expected)) {
        return Ok(Edited {
            text: edited,
            rewritten: false,
        });
    }
    let mut whole = String::new();
    match expected {
        Value::Object(map) if map.is_empty() => whole.push_str("{}\n"),
        _ => emit::block(expected, 0, indent_unit(text), &mut whole),
    }
    if reads_as(&whole, expected) {
        return Ok(Edited {
            text: whole,
            rewritten: true,
        });
    }
    Err(EditError::Unverified {
        detail: "the edited runtime.yaml does not read back as the intended value".into(),
    })
}

/// Whether `text` parses to `expected`, key order included.
fn reads_as(text: &str, expected: &Value) -> bool {
    let got = match tree::parse(text) {
        Ok(Some(root)) => root.to_value(),
        Ok(None) => Value::Object(Map::new()),
        Err(_) => return false,
    };
    got == *expected && serde_json::to_string(&got).ok() == serde_json::to_string(expected).ok()
}

/// The span edit of [`set_member`], `None` where only a rewrite will do.
fn set_in_place(
    text: &str,
    root: Option<&Node>,
    parent_path: &[&str],
    key: &str,
    value: &Value,
) -> Option<String> {
    let unit = indent_unit(text);
    let Some(root) = root else {
        // A file of comments only: the entry goes at its end.
        let mut entry = String::new();
        if !parent_path.is_empty() {
            return None;
        }
        entry.push_str(&emit::inline(&Value::String(key.to_owned())));
        entry.push(':');
        emit::after_key(value, 0, unit, &mut entry);
        return Some(append(text, text.len(), &entry));
    };
    let parent = mapping_at(root, parent_path)?;
    let entries = parent.entries()?;
    if let Some(existing) = entries.iter().find(|e| e.key == key) {
        let scalar_for_scalar = matches!(existing.value.shape, Shape::Scalar(_))
            && !existing.value.flow
            && existing.value.end > existing.value.start
            && !is_nonempty_collection(value);
        if scalar_for_scalar {
            return Some(splice(
                text,
                existing.value.start,
                existing.value.end,
                &emit::inline(value),
            ));
        }
        // The whole entry's lines, written again at the key's indentation.
        let start = own_line_start(text, existing.key_start)?;
        let mut entry = " ".repeat(existing.key_column);
        entry.push_str(&emit::inline(&Value::String(key.to_owned())));
        entry.push(':');
        emit::after_key(value, existing.key_column, unit, &mut entry);
        return Some(splice(
            text,
            start,
            line_end(text, existing.value.end),
            &entry,
        ));
    }
    let first = entries.first()?;
    own_line_start(text, first.key_start)?;
    let mut entry = " ".repeat(first.key_column);
    entry.push_str(&emit::inline(&Value::String(key.to_owned())));
    entry.push(':');
    emit::after_key(value, first.key_column, unit, &mut entry);
    Some(append(text, line_end(text, parent.end), &entry))
}

fn is_nonempty_collection(value: &Value) -> bool {
    match value {
        Value::Object(map) => !map.is_empty(),
        Value::Array(items) => !items.is_empty(),
        _ => false,
    }
}

/// The block mapping at `path`, if every step is one.
fn mapping_at<'n>(root: &'n Node, path: &[&str]) -> Option<&'n Node> {
    let mut current = root;
    for key in path {
        if current.flow {
            return None;
        }
        current = &current.entries()?.iter().find(|e| e.key == *key)?.value;
    }
    (!current.flow && current.entries().is_some()).then_some(current)
}

/// The start of the line of `at`, when only spaces come before it there.
fn own_line_start(text: &str, at: usize) -> Option<usize> {
    let start = text[..at].rfind('\n').map_or(0, |newline| newline + 1);
    text[start..at].bytes().all(|b| b == b' ').then_some(start)
}

/// Just past the line that `end` (an end of content) is on. A block scalar's
/// end already is the start of the next line.
fn line_end(text: &str, end: usize) -> usize {
    if end > 0 && text[..end].ends_with('\n') {
        return end;
    }
    text[end..]
        .find('\n')
        .map_or(text.len(), |newline| end + newline + 1)
}

/// Inserts the line(s) `entry` at `at` (a line start or the end of the text).
fn append(text: &str, at: usize, entry: &str) -> String {
    let needs_newline = at == text.len() && !text.is_empty() && !text.ends_with('\n');
    let separator = if needs_newline { "\n" } else { "" };
    splice(text, at, at, &format!("{separator}{entry}"))
}

/// The file's indentation step: how far the first nested block mapping's
/// keys are indented from their parent's key.
fn indent_unit(text: &str) -> usize {
    let Ok(Some(root)) = tree::parse(text) else {
        return DEFAULT_UNIT;
    };
    root.entries()
        .into_iter()
        .flatten()
        .find_map(|entry| {
            let child = entry.value.entries()?.first()?;
            (!entry.value.flow && child.key_column > entry.key_column)
                .then(|| child.key_column - entry.key_column)
        })
        .unwrap_or(DEFAULT_UNIT)
}
