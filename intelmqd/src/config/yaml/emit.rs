//! JSON values written as block-style YAML the way IntelMQ's ruamel.yaml
//! writes runtime.yaml: mappings indented by the file's unit, sequence dashes
//! at their key's indentation, strings plain where that reads back as the
//! same string and double-quoted (JSON's escapes, which YAML shares)
//! otherwise. What is emitted is always parsed again by the caller.

use serde_json::Value;

use super::resolve;

/// The longest key written as `key:`; YAML's limit is 1024 characters.
const MAX_IMPLICIT_KEY: usize = 1000;

/// `value` as the block of a mapping key or sequence item at `indent`
/// columns: scalars and empty collections inline (` true`, ` {}`), others
/// on the following lines. `unit` is the indentation step.
pub(super) fn after_key(value: &Value, indent: usize, unit: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            block(value, indent + unit, unit, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            block(value, indent, unit, out);
        }
        _ => {
            out.push(' ');
            out.push_str(&inline(value));
            out.push('\n');
        }
    }
}

/// A non-empty collection's lines at `indent` (anything else inline).
pub(super) fn block(value: &Value, indent: usize, unit: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, member) in map {
                let key = string(key);
                out.push_str(&pad);
                if key.chars().count() > MAX_IMPLICIT_KEY {
                    // YAML reads a key written `key:` only up to 1024
                    // characters; a longer one needs the explicit form.
                    out.push_str("? ");
                    out.push_str(&key);
                    out.push('\n');
                    out.push_str(&pad);
                } else {
                    out.push_str(&key);
                }
                out.push(':');
                after_key(member, indent, unit, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                match item {
                    Value::Object(map) if !map.is_empty() => {
                        // The mapping's first key goes on the dash's line.
                        let mut nested = String::new();
                        block(item, indent + 2, unit, &mut nested);
                        out.push_str(&pad);
                        out.push_str("- ");
                        out.push_str(&nested[indent + 2..]);
                    }
                    Value::Array(inner) if !inner.is_empty() => {
                        out.push_str(&pad);
                        out.push_str("-\n");
                        block(item, indent + 2, unit, out);
                    }
                    _ => {
                        out.push_str(&pad);
                        out.push_str("- ");
                        out.push_str(&inline(item));
                        out.push('\n');
                    }
                }
            }
        }
        _ => {
            out.push_str(&pad);
            out.push_str(&inline(value));
            out.push('\n');
        }
    }
}

/// A scalar or empty collection on one line.
pub(super) fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => string(text),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string plain when that is safe and unambiguous, double-quoted otherwise.
fn string(text: &str) -> String {
    let safe_chars = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-./@+, ".contains(c));
    let safe_ends = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '/')
        && !text.ends_with(' ');
    let reads_back = resolve::plain(text).is_ok_and(|value| value == Value::String(text.into()));
    // YAML 1.1 readers (PyYAML) take these for booleans; ruamel quotes them too.
    let yaml11_bool =
        ["yes", "no", "on", "off", "y", "n"].contains(&text.to_ascii_lowercase().as_str());
    if safe_chars && safe_ends && reads_back && !yaml11_bool {
        text.to_owned()
    } else {
        serde_json::to_string(text).unwrap_or_else(|_| format!("{text:?}"))
    }
}
