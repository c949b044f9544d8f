//! Span-preserving edits of JSON text: set or remove one member of an object
//! (addressed by its keys from the root) and leave every other byte of the
//! file as the operator wrote it — whitespace, line endings, key order, number
//! spellings, escapes, even duplicate keys.
//!
//! This module owns the text level only. A small scanner finds the byte spans
//! of members (no crate is trusted for spans); an edit replaces, inserts or
//! deletes exactly those bytes. Every result is then checked: it is parsed
//! again with serde_json and compared, key order included, with the same edit
//! applied to the parsed [`Value`]. A result that does not match is an error,
//! never a return value, so a caller can never write something wrong.
//!
//! Duplicate keys follow serde_json, which keeps the last occurrence:
//! [`set_member`] edits (and descends into) the last occurrence, and
//! [`remove_member`] removes every occurrence of the final key, since removing
//! only the last one would bring an older value back to life.
//!
//! Writing the result to disk is [`super::write`]'s business.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

/// A path of object keys from the root, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPath(pub Vec<String>);

impl KeyPath {
    pub(crate) fn of(path: &[&str]) -> KeyPath {
        KeyPath(path.iter().map(|key| (*key).to_owned()).collect())
    }
}

impl fmt::Display for KeyPath {
    /// The root is `the top-level object`; a path is its keys as JSON strings
    /// joined by `.`, e.g. `"my-bot"."botnet"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("the top-level object");
        }
        for (index, key) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(".")?;
            }
            let quoted = serde_json::to_string(key).unwrap_or_else(|_| format!("{key:?}"));
            f.write_str(&quoted)?;
        }
        Ok(())
    }
}

/// Why an edit was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The text is not valid JSON.
    #[error("not valid JSON: {message} (line {line}, column {column})")]
    Syntax {
        message: String,
        line: usize,
        column: usize,
    },
    /// The text is not YAML JSON could hold (runtime.yaml's edits).
    #[error("{message}")]
    NotYaml { message: String },
    /// The path names no member (it must hold at least one key).
    #[error("no key given to edit")]
    EmptyPath,
    /// A value on the path that must be an object is something else.
    #[error("{path} is {found}, not an object")]
    NotAnObject { path: KeyPath, found: &'static str },
    /// An object on the way to the member does not exist.
    #[error("{path} does not exist")]
    MissingParent { path: KeyPath },
    /// The member to remove does not exist.
    #[error("{path} does not exist")]
    NotFound { path: KeyPath },
    /// The edited text does not hold what the edit should have produced; the
    /// result was thrown away.
    #[error("internal error, edit not made: {detail}")]
    Unverified { detail: String },
}

/// Sets `path` (object keys from the root, e.g. `["my-bot", "botnet"]` or
/// `["my-bot"]`) to `value`.
///
/// An existing member keeps everything but its value's bytes (with duplicate
/// keys, the last occurrence is edited). A missing member is inserted as the
/// last member of its parent object, separated and indented like its last
/// sibling (or on its own line, indented like the parent plus one level, when
/// the parent is empty), with a comma added after the previous member. An
/// object or array value is pretty-printed at the member's indentation, or
/// compactly when the member shares a line with its siblings. A missing
/// intermediate object is an error: the caller decides whether to create it.
pub fn set_member(text: &str, path: &[&str], value: &Value) -> Result<String, EditError> {
    let (key, parent_path) = path.split_last().ok_or(EditError::EmptyPath)?;
    let mut expected = parse(text)?;
    parent_of(&mut expected, parent_path)?.insert((*key).to_owned(), value.clone());

    let root = scan(text)?;
    let parent = object_at(text, &root, parent_path)?;
    let nl = newline_of(text);
    let result = match parent.members.iter().rev().find(|m| m.key == *key) {
        Some(member) => {
            let lead = &text[member.lead_start..member.key_start];
            let layout = lead.rfind('\n').map(|at| {
                let indent = &lead[at + 1..];
                Layout {
                    nl,
                    indent: indent.to_owned(),
                    unit: unit_of(indent, line_indent(text, parent.open)),
                }
            });
            let rendered = render(value, layout.as_ref())?;
            splice(text, member.value.start, member.value.end, &rendered)
        }
        None => insert(text, parent, key, value, nl)?,
    };
    check(&result, &expected)?;
    Ok(result)
}

/// Removes the member at `path` with its separating comma, leaving the rest
/// byte-for-byte. Removing the only member of an object leaves `{}`. With
/// duplicate keys every occurrence of the member is removed (serde_json would
/// otherwise read an earlier one).
pub fn remove_member(text: &str, path: &[&str]) -> Result<String, EditError> {
    let (key, parent_path) = path.split_last().ok_or(EditError::EmptyPath)?;
    let mut expected = parse(text)?;
    if parent_of(&mut expected, parent_path)?
        .shift_remove(*key)
        .is_none()
    {
        return Err(EditError::NotFound {
            path: KeyPath::of(path),
        });
    }

    let mut result = text.to_owned();
    loop {
        let root = scan(&result)?;
        let parent = object_at(&result, &root, parent_path)?;
        let Some(index) = parent.members.iter().rposition(|m| m.key == *key) else {
            break;
        };
        let members = &parent.members;
        let (start, end) = if members.len() == 1 {
            (parent.open + 1, parent.close)
        } else if index + 1 < members.len() {
            (members[index].key_start, members[index + 1].key_start)
        } else {
            (members[index - 1].value.end, members[index].value.end)
        };
        result = splice(&result, start, end, "");
    }
    check(&result, &expected)?;
    Ok(result)
}

// ---------------------------------------------------------------------------
// The edits on the parsed value: the reference every text edit is checked
// against, and the source of the path errors.

fn parse(text: &str) -> Result<Value, EditError> {
    serde_json::from_str(text).map_err(|error| EditError::Syntax {
        message: super::syntax_message(&error),
        line: error.line(),
        column: error.column(),
    })
}

/// The object at `path` in a parsed document.
pub(crate) fn parent_of<'v>(
    root: &'v mut Value,
    path: &[&str],
) -> Result<&'v mut Map<String, Value>, EditError> {
    let mut current = root;
    for depth in 0..=path.len() {
        let found = super::json_type_name(current);
        let Value::Object(map) = current else {
            return Err(EditError::NotAnObject {
                path: KeyPath::of(&path[..depth]),
                found,
            });
        };
        let Some(key) = path.get(depth) else {
            return Ok(map);
        };
        current = map.get_mut(*key).ok_or_else(|| EditError::MissingParent {
            path: KeyPath::of(&path[..=depth]),
        })?;
    }
    // The loop returns at depth == path.len() at the latest.
    Err(EditError::Unverified {
        detail: "path walk ended early".to_owned(),
    })
}

/// Parses the edited text and compares it, key order included, with the
/// expected value.
fn check(result: &str, expected: &Value) -> Result<(), EditError> {
    let got: Value = serde_json::from_str(result).map_err(|error| EditError::Unverified {
        detail: format!("the edited text is not valid JSON: {error}"),
    })?;
    let same_order = serde_json::to_string(&got).ok() == serde_json::to_string(expected).ok();
    if got != *expected || !same_order {
        return Err(EditError::Unverified {
            detail: "the edited text does not read back as the intended value".to_owned(),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Text edits.

/// `text` with the bytes `start..end` replaced.
pub(crate) fn splice(text: &str, start: usize, end: usize, replacement: &str) -> String {
    let mut result = String::with_capacity(text.len() + replacement.len());
    result.push_str(&text[..start]);
    result.push_str(replacement);
    result.push_str(&text[end..]);
    result
}

/// Where nested values go on lines of their own: the newline, the
/// indentation of the member's line and one level of indentation.
struct Layout<'a> {
    nl: &'a str,
    indent: String,
    unit: String,
}

/// The document's line ending: CRLF if it uses any, else LF.
fn newline_of(text: &str) -> &'static str {
    if text.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    }
}

/// The leading spaces and tabs of the line holding byte `at`.
fn line_indent(text: &str, at: usize) -> &str {
    let start = text[..at].rfind('\n').map_or(0, |nl| nl + 1);
    let line = &text[start..];
    let width = line
        .bytes()
        .take_while(|b| *b == b' ' || *b == b'\t')
        .count();
    &line[..width]
}

/// One level of indentation: what a member's indentation adds to its parent
/// line's, or four spaces (a tab in a tab-indented file).
fn unit_of(indent: &str, parent_indent: &str) -> String {
    match indent.strip_prefix(parent_indent) {
        Some(extra) if !extra.is_empty() && extra.bytes().all(|b| b == b' ' || b == b'\t') => {
            extra.to_owned()
        }
        _ if indent.contains('\t') || parent_indent.contains('\t') => "\t".to_owned(),
        _ => "    ".to_owned(),
    }
}

/// A value as JSON text: pretty-printed at `layout`, or compact without one.
fn render(value: &Value, layout: Option<&Layout>) -> Result<String, EditError> {
    let unverified = |detail: String| EditError::Unverified { detail };
    let Some(layout) = layout else {
        return serde_json::to_string(value).map_err(|e| unverified(e.to_string()));
    };
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(layout.unit.as_bytes());
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value
        .serialize(&mut serializer)
        .map_err(|e| unverified(e.to_string()))?;
    let pretty = String::from_utf8(out).map_err(|e| unverified(e.to_string()))?;
    // serde_json escapes newlines inside strings, so every "\n" is a line break.
    Ok(pretty.replace('\n', &format!("{}{}", layout.nl, layout.indent)))
}

/// Inserts `key: value` as the last member of `parent`.
fn insert(
    text: &str,
    parent: &ObjectSpan,
    key: &str,
    value: &Value,
    nl: &str,
) -> Result<String, EditError> {
    let key_json = serde_json::to_string(key).map_err(|e| EditError::Unverified {
        detail: e.to_string(),
    })?;
    let parent_indent = line_indent(text, parent.open);
    let Some(last) = parent.members.last() else {
        let unit = unit_of("", parent_indent);
        let indent = format!("{parent_indent}{unit}");
        let layout = Layout { nl, indent, unit };
        let rendered = render(value, Some(&layout))?;
        let inner = format!(
            "{nl}{}{key_json}: {rendered}{nl}{parent_indent}",
            layout.indent
        );
        return Ok(splice(text, parent.open + 1, parent.close, &inner));
    };
    let lead = &text[last.lead_start..last.key_start];
    let colon = match &text[last.key_end..last.value.start] {
        colon if colon.contains('\n') => ": ",
        colon => colon,
    };
    let (separator, layout) = match lead.rfind('\n') {
        Some(at) => {
            let indent = &lead[at + 1..];
            let unit = unit_of(indent, parent_indent);
            let layout = Layout {
                nl,
                indent: indent.to_owned(),
                unit,
            };
            (lead, Some(layout))
        }
        // `{"a": 1}`: the first member hugs the brace; separate with a space
        // unless the file is written without any (`{"a":1}`).
        None if lead.is_empty() && parent.members.len() == 1 && colon.contains(' ') => (" ", None),
        None => (lead, None),
    };
    let rendered = render(value, layout.as_ref())?;
    let addition = format!(",{separator}{key_json}{colon}{rendered}");
    Ok(splice(text, last.value.end, last.value.end, &addition))
}

// ---------------------------------------------------------------------------
// The scanner: byte spans of values, and of the members of every object.

struct ValueSpan {
    start: usize,
    end: usize,
    object: Option<ObjectSpan>,
}

struct ObjectSpan {
    /// The byte offset of `{`.
    open: usize,
    /// The byte offset of `}`.
    close: usize,
    members: Vec<MemberSpan>,
}

struct MemberSpan {
    /// Where the whitespace before the key starts (after `{` or `,`).
    lead_start: usize,
    /// The decoded key.
    key: String,
    /// The span of the key, quotes included.
    key_start: usize,
    key_end: usize,
    value: ValueSpan,
}

/// The object at `path` in a scanned document (last occurrence of each key).
fn object_at<'s>(
    text: &str,
    root: &'s ValueSpan,
    path: &[&str],
) -> Result<&'s ObjectSpan, EditError> {
    let mut current = root;
    for depth in 0..=path.len() {
        let Some(object) = &current.object else {
            return Err(EditError::NotAnObject {
                path: KeyPath::of(&path[..depth]),
                found: match text.as_bytes().get(current.start) {
                    Some(b'[') => "an array",
                    Some(b'"') => "a string",
                    Some(b't' | b'f') => "a boolean",
                    Some(b'n') => "null",
                    _ => "a number",
                },
            });
        };
        let Some(key) = path.get(depth) else {
            return Ok(object);
        };
        current = object
            .members
            .iter()
            .rev()
            .find(|m| m.key == *key)
            .map(|m| &m.value)
            .ok_or_else(|| EditError::MissingParent {
                path: KeyPath::of(&path[..=depth]),
            })?;
    }
    Err(EditError::Unverified {
        detail: "path walk ended early".to_owned(),
    })
}

/// Scans a whole document.
fn scan(text: &str) -> Result<ValueSpan, EditError> {
    let mut scanner = Scanner {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    scanner.skip_whitespace();
    let value = scanner.value()?;
    scanner.skip_whitespace();
    if scanner.pos != scanner.bytes.len() {
        return Err(scanner.error("trailing characters"));
    }
    Ok(value)
}

/// Deeper nesting than this is refused (serde_json's own limit is 128).
const MAX_DEPTH: usize = 256;

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Scanner<'_> {
    fn error(&self, message: &str) -> EditError {
        let before = &self.text[..self.pos.min(self.text.len())];
        let line_start = before.rfind('\n').map_or(0, |nl| nl + 1);
        EditError::Syntax {
            message: message.to_owned(),
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), EditError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    fn value(&mut self) -> Result<ValueSpan, EditError> {
        let start = self.pos;
        let object = match self.peek() {
            Some(b'{') => Some(self.nested(Self::object)?),
            Some(b'[') => {
                self.nested(Self::array)?;
                None
            }
            Some(b'"') => {
                self.string()?;
                None
            }
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
                None
            }
            Some(b't') => {
                self.literal("true")?;
                None
            }
            Some(b'f') => {
                self.literal("false")?;
                None
            }
            Some(b'n') => {
                self.literal("null")?;
                None
            }
            Some(_) => return Err(self.error("expected a value")),
            None => return Err(self.error("EOF while parsing a value")),
        };
        Ok(ValueSpan {
            start,
            end: self.pos,
            object,
        })
    }

    fn nested<T>(&mut self, scan: fn(&mut Self) -> Result<T, EditError>) -> Result<T, EditError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.depth += 1;
        let result = scan(self);
        self.depth -= 1;
        result
    }

    fn object(&mut self) -> Result<ObjectSpan, EditError> {
        let open = self.pos;
        self.expect(b'{', "expected `{`")?;
        let mut members = Vec::new();
        loop {
            let lead_start = self.pos;
            self.skip_whitespace();
            if members.is_empty() && self.peek() == Some(b'}') {
                break;
            }
            let key_start = self.pos;
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a key"));
            }
            self.string()?;
            let key_end = self.pos;
            let key: String = serde_json::from_str(&self.text[key_start..key_end])
                .map_err(|_| self.error("invalid key"))?;
            self.skip_whitespace();
            self.expect(b':', "expected `:`")?;
            self.skip_whitespace();
            let value = self.value()?;
            members.push(MemberSpan {
                lead_start,
                key,
                key_start,
                key_end,
                value,
            });
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => break,
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
        let close = self.pos;
        self.pos += 1;
        Ok(ObjectSpan {
            open,
            close,
            members,
        })
    }

    fn array(&mut self) -> Result<(), EditError> {
        self.expect(b'[', "expected `[`")?;
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_whitespace();
            self.value()?;
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    fn string(&mut self) -> Result<(), EditError> {
        self.expect(b'"', "expected `\"`")?;
        loop {
            match self.peek() {
                None => return Err(self.error("EOF while parsing a string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1
                        }
                        Some(b'u') => {
                            self.pos += 1;
                            for _ in 0..4 {
                                if !self.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
                                    return Err(self.error("invalid \\u escape"));
                                }
                                self.pos += 1;
                            }
                        }
                        _ => return Err(self.error("invalid escape")),
                    }
                }
                Some(byte) if byte < 0x20 => {
                    return Err(self.error("control character in a string"))
                }
                // Bytes of multi-byte characters are >= 0x80: never `"` or `\`.
                Some(_) => self.pos += 1,
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<(), EditError> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        Ok(())
    }

    fn literal(&mut self, word: &str) -> Result<(), EditError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.error("expected a value"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An IntelMQ-style runtime.conf: 4-space indentation, nested parameters.
    const RUNTIME: &str = r#"{
    "deduplicator-expert": {
        "bot_id": "deduplicator-expert",
        "description": "Deduplicator is the bot responsible for detection and removal of duplicate messages.",
        "enabled": true,
        "group": "Expert",
        "module": "intelmq.bots.experts.deduplicator.expert",
        "name": "Deduplicator",
        "parameters": {
            "filter_keys": "raw,time.observation",
            "filter_type": "blacklist",
            "redis_cache_ttl": 86400
        },
        "run_mode": "continuous"
    },
    "file-output": {
        "bot_id": "file-output",
        "enabled": true,
        "module": "intelmq.bots.outputs.file.output",
        "parameters": {
            "file": "/opt/intelmq/var/lib/bots/file-output/events.txt",
            "hierarchical_output": false
        },
        "run_mode": "continuous"
    }
}
"#;

    fn set(text: &str, path: &[&str], value: Value) -> String {
        set_member(text, path, &value).unwrap()
    }

    #[test]
    fn replaces_only_the_value_bytes() {
        let result = set(RUNTIME, &["file-output", "enabled"], json!(false));
        assert_eq!(
            result,
            RUNTIME.replacen(
                "\"enabled\": true,\n        \"module\": \"intelmq.bots.outputs",
                "\"enabled\": false,\n        \"module\": \"intelmq.bots.outputs",
                1
            )
        );
    }

    #[test]
    fn keeps_odd_whitespace_crlf_tabs_unicode_and_escapes() {
        let text = "{\r\n\t\"b\u{e4}r\" :\t1.50e+2 ,\r\n\t\"say \\\"hi\\\"\":\"\\u00e4\\\"}\\\\\",\r\n\t\"x\"  :  [ 1,{\"y\":null} ]\r\n}  \r\n";
        let result = set(text, &["b\u{e4}r"], json!(7));
        assert_eq!(result, text.replacen("1.50e+2", "7", 1));
        let result = set(text, &["say \"hi\""], json!("ok"));
        assert_eq!(result, text.replacen("\"\\u00e4\\\"}\\\\\"", "\"ok\"", 1));
        let result = set(text, &["new"], json!({"a": [1, 2]}));
        assert_eq!(
            result,
            text.replacen(
                "]\r\n}",
                "],\r\n\t\"new\"  :  {\r\n\t\t\"a\": [\r\n\t\t\t1,\r\n\t\t\t2\r\n\t\t]\r\n\t}\r\n}",
                1
            )
        );
    }

    #[test]
    fn a_key_that_is_a_value_elsewhere_or_nested_deeper_is_not_confused() {
        let text =
            r#"{"botnet": {"botnet": "botnet", "x": {"botnet": 1}}, "y": "botnet", "botnet2": 0}"#;
        let result = set(text, &["botnet"], json!(true));
        assert_eq!(result, r#"{"botnet": true, "y": "botnet", "botnet2": 0}"#);
        let result = set(text, &["botnet", "botnet"], json!(false));
        assert_eq!(
            result,
            r#"{"botnet": {"botnet": false, "x": {"botnet": 1}}, "y": "botnet", "botnet2": 0}"#
        );
        let result = set(text, &["botnet", "x", "botnet"], json!(2));
        assert_eq!(
            result,
            r#"{"botnet": {"botnet": "botnet", "x": {"botnet": 2}}, "y": "botnet", "botnet2": 0}"#
        );
    }

    #[test]
    fn escaped_keys_are_matched_by_their_decoded_text() {
        let text = "{\"\\u0061\\n\": 1, \"\\ud83d\\ude00\": 2}";
        assert_eq!(
            set(text, &["a\n"], json!(3)),
            "{\"\\u0061\\n\": 3, \"\\ud83d\\ude00\": 2}"
        );
        assert_eq!(
            set(text, &["\u{1f600}"], json!(4)),
            "{\"\\u0061\\n\": 1, \"\\ud83d\\ude00\": 4}"
        );
    }

    #[test]
    fn duplicate_keys_edit_the_last_occurrence() {
        let text = r#"{"a": 1, "b": 2, "a": 3}"#;
        assert_eq!(set(text, &["a"], json!(9)), r#"{"a": 1, "b": 2, "a": 9}"#);
        assert_eq!(remove_member(text, &["a"]).unwrap(), r#"{"b": 2}"#);
        let text = r#"{"a": {"x": 1}, "a": {"x": 2}}"#;
        assert_eq!(
            set(text, &["a", "x"], json!(5)),
            r#"{"a": {"x": 1}, "a": {"x": 5}}"#
        );
    }

    #[test]
    fn inserts_a_member_like_its_siblings() {
        let result = set(RUNTIME, &["file-output", "botnet"], json!(true));
        assert_eq!(
            result,
            RUNTIME.replacen(
                "\"run_mode\": \"continuous\"\n    }\n}",
                "\"run_mode\": \"continuous\",\n        \"botnet\": true\n    }\n}",
                1
            )
        );
    }

    #[test]
    fn inserts_a_whole_bot_entry_at_the_root() {
        let entry = json!({
            "module": "intelmq.bots.collectors.http.collector_http",
            "parameters": {"http_url": "https://example.org/feed", "tags": []},
            "run_mode": "scheduled"
        });
        let result = set(RUNTIME, &["http-collector"], entry);
        let expected = RUNTIME.replacen(
            "        \"run_mode\": \"continuous\"\n    }\n}\n",
            concat!(
                "        \"run_mode\": \"continuous\"\n",
                "    },\n",
                "    \"http-collector\": {\n",
                "        \"module\": \"intelmq.bots.collectors.http.collector_http\",\n",
                "        \"parameters\": {\n",
                "            \"http_url\": \"https://example.org/feed\",\n",
                "            \"tags\": []\n",
                "        },\n",
                "        \"run_mode\": \"scheduled\"\n",
                "    }\n",
                "}\n"
            ),
            1,
        );
        assert_eq!(result, expected);
    }

    #[test]
    fn inserts_into_empty_objects() {
        assert_eq!(set("{}", &["a"], json!(1)), "{\n    \"a\": 1\n}");
        assert_eq!(set("{ }\n", &["a"], json!(1)), "{\n    \"a\": 1\n}\n");
        assert_eq!(
            set("{\r\n}\r\n", &["a"], json!({"b": 2})),
            "{\r\n    \"a\": {\r\n        \"b\": 2\r\n    }\r\n}\r\n"
        );
        let text = "{\n    \"bot\": {\n        \"parameters\": {},\n        \"x\": 1\n    }\n}";
        assert_eq!(
            set(text, &["bot", "parameters", "k"], json!("v")),
            "{\n    \"bot\": {\n        \"parameters\": {\n            \"k\": \"v\"\n        },\n        \"x\": 1\n    }\n}"
        );
    }

    #[test]
    fn inserts_into_one_line_objects() {
        assert_eq!(set(r#"{"a": 1}"#, &["b"], json!(2)), r#"{"a": 1, "b": 2}"#);
        assert_eq!(set(r#"{"a":1}"#, &["b"], json!(2)), r#"{"a":1,"b":2}"#);
        assert_eq!(
            set(r#"{ "a" : 1,  "b" : 2 }"#, &["c"], json!({"d": [3]})),
            r#"{ "a" : 1,  "b" : 2,  "c" : {"d":[3]} }"#
        );
    }

    #[test]
    fn follows_the_files_indentation_unit() {
        let text = "{\n  \"a\": {\n    \"b\": 1\n  }\n}\n";
        assert_eq!(
            set(text, &["c"], json!({"d": 1})),
            "{\n  \"a\": {\n    \"b\": 1\n  },\n  \"c\": {\n    \"d\": 1\n  }\n}\n"
        );
    }

    #[test]
    fn replaces_a_nested_value_pretty_printed_at_its_indentation() {
        let result = set(
            RUNTIME,
            &["file-output", "parameters"],
            json!({"file": "/x"}),
        );
        assert_eq!(
            result,
            RUNTIME.replacen(
                "{\n            \"file\": \"/opt/intelmq/var/lib/bots/file-output/events.txt\",\n            \"hierarchical_output\": false\n        }",
                "{\n            \"file\": \"/x\"\n        }",
                1
            )
        );
    }

    #[test]
    fn removes_first_middle_last_and_only_members() {
        let text = "{\n    \"a\": 1,\n    \"b\": [2],\n    \"c\": {\"d\": 3}\n}\n";
        assert_eq!(
            remove_member(text, &["a"]).unwrap(),
            "{\n    \"b\": [2],\n    \"c\": {\"d\": 3}\n}\n"
        );
        assert_eq!(
            remove_member(text, &["b"]).unwrap(),
            "{\n    \"a\": 1,\n    \"c\": {\"d\": 3}\n}\n"
        );
        assert_eq!(
            remove_member(text, &["c"]).unwrap(),
            "{\n    \"a\": 1,\n    \"b\": [2]\n}\n"
        );
        assert_eq!(
            remove_member(text, &["c", "d"]).unwrap(),
            "{\n    \"a\": 1,\n    \"b\": [2],\n    \"c\": {}\n}\n"
        );
        assert_eq!(remove_member("{\"a\": 1}", &["a"]).unwrap(), "{}");
        let from = RUNTIME.find("\"file-output\": {").unwrap();
        assert_eq!(
            remove_member(RUNTIME, &["deduplicator-expert"]).unwrap(),
            format!("{{\n    {}", &RUNTIME[from..])
        );
    }

    #[test]
    fn removing_a_whole_bot_keeps_the_others_byte_for_byte() {
        let result = remove_member(RUNTIME, &["file-output"]).unwrap();
        let cut = RUNTIME.find("    },\n    \"file-output\"").unwrap() + "    }".len();
        assert_eq!(result, format!("{}\n}}\n", &RUNTIME[..cut]));
    }

    #[test]
    fn path_errors() {
        assert_eq!(
            remove_member("{\"a\": 1}", &["b"]).unwrap_err(),
            EditError::NotFound {
                path: KeyPath(vec!["b".into()])
            }
        );
        assert_eq!(
            set_member("{\"a\": 1}", &["b", "c"], &json!(1)).unwrap_err(),
            EditError::MissingParent {
                path: KeyPath(vec!["b".into()])
            }
        );
        let error = set_member("{\"a\": 1}", &["a", "c"], &json!(1)).unwrap_err();
        assert_eq!(
            error,
            EditError::NotAnObject {
                path: KeyPath(vec!["a".into()]),
                found: "a number"
            }
        );
        assert_eq!(error.to_string(), "\"a\" is a number, not an object");
        assert!(matches!(
            set_member("[1]", &["a"], &json!(1)).unwrap_err(),
            EditError::NotAnObject { .. }
        ));
        assert_eq!(
            set_member("{}", &[], &json!(1)).unwrap_err(),
            EditError::EmptyPath
        );
    }

    #[test]
    fn invalid_json_is_refused_with_its_position() {
        for text in [
            "",
            "{",
            "{\n  \"a\": 1,\n}",
            "{\"a\" 1}",
            "{} x",
            "{\"a\": tru}",
        ] {
            let error = set_member(text, &["a"], &json!(1)).unwrap_err();
            assert!(
                matches!(error, EditError::Syntax { .. }),
                "{text:?}: {error:?}"
            );
            assert!(remove_member(text, &["a"]).is_err());
        }
        match set_member("{\n  \"a\": 1,\n}", &["a"], &json!(1)).unwrap_err() {
            EditError::Syntax { line, column, .. } => assert_eq!((line, column), (3, 1)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn the_scanner_agrees_with_serde_json_on_tricky_strings_and_numbers() {
        let text =
            r#"{"s": "a\"b\\", "t": "\\\"", "n": -0.5E-3, "u": "\u005c", "z": [[], {}, ""]}"#;
        for key in ["s", "t", "n", "u", "z"] {
            let result = set(text, &[key], json!(null));
            let value: Value = serde_json::from_str(&result).unwrap();
            assert_eq!(value[key], Value::Null);
        }
        assert_eq!(
            set(text, &["z"], json!(0)),
            r#"{"s": "a\"b\\", "t": "\\\"", "n": -0.5E-3, "u": "\u005c", "z": 0}"#
        );
    }

    /// Every edit of every member of a few odd documents passes its own check.
    #[test]
    fn every_member_of_odd_documents_can_be_set_and_removed() {
        let documents = [
            RUNTIME,
            "{\r\n\t\"a\" :\t{ \"b\":[{\"c\":{}}] , \"d\" : \"}\\\"{\" } ,\r\n\t\"e\":{}\r\n}",
            "  {\"x\":{\"y\":{\"z\":[]}},\"x\":{\"y\":{}}}  ",
        ];
        fn walk(text: &str, path: &mut Vec<String>, value: &Value) {
            let Value::Object(map) = value else { return };
            for (key, child) in map {
                path.push(key.clone());
                let keys: Vec<&str> = path.iter().map(String::as_str).collect();
                set_member(text, &keys, &json!({"n": [1, {"m": null}]})).unwrap();
                set_member(text, &keys, &json!("v")).unwrap();
                remove_member(text, &keys).unwrap();
                let mut new_key = keys.clone();
                new_key.push("new \"key\"");
                if child.is_object() {
                    set_member(text, &new_key, &json!([true])).unwrap();
                }
                walk(text, path, child);
                path.pop();
            }
        }
        for text in documents {
            let value: Value = serde_json::from_str(text).unwrap();
            walk(text, &mut Vec::new(), &value);
        }
    }

    #[test]
    fn set_then_remove_round_trips() {
        let inserted = set(RUNTIME, &["file-output", "botnet"], json!(true));
        assert_eq!(
            remove_member(&inserted, &["file-output", "botnet"]).unwrap(),
            RUNTIME
        );
        let inserted = set(RUNTIME, &["new-bot"], json!({"module": "m"}));
        assert_eq!(remove_member(&inserted, &["new-bot"]).unwrap(), RUNTIME);
    }
}
