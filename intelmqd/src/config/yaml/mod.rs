//! IntelMQ 3.x's `runtime.yaml`: one mapping with a `global:` section (what
//! defaults.conf holds for the spec's JSON files) and one entry per bot id
//! (module, run_mode, enabled, parameters with the bot's
//! `destination_queues`, and the daemon's own keys such as botnet, onboot,
//! schedule_time). Reading it ([`parse_runtime_yaml`]) gives the same
//! [`BotConfig`]s and [`Defaults`] as the JSON files, so nothing outside the
//! config module knows which format is in use. Editing it keeps its text
//! ([`edit`]).
//!
//! Each bot's raw entry is the YAML converted to JSON faithfully (see
//! [`tree`] and [`resolve`] for what is refused). `global:`'s keys that the
//! daemon does not know are IntelMQ's and are kept but not used.

pub mod edit;
mod emit;
mod resolve;
mod tree;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{
    bots_from_map, defaults_from_map, json_type_name, BotConfig, Defaults, FileError,
    RUNTIME_YAML_FILE,
};
pub use tree::YamlError;

/// The key of the global settings.
pub const GLOBAL_KEY: &str = "global";

/// What runtime.yaml holds.
#[derive(Debug, Clone, Default)]
pub struct RuntimeYaml {
    pub bots: BTreeMap<String, BotConfig>,
    pub defaults: Defaults,
    /// The `global:` section as written, IntelMQ's keys included.
    pub global: Map<String, Value>,
}

/// The whole document as a JSON object; an empty document is `{}`.
pub fn parse_document(text: &str) -> Result<Map<String, Value>, FileError> {
    let root = match tree::parse(text) {
        Ok(root) => root,
        Err(YamlError::Syntax {
            message,
            line,
            column,
        }) => {
            return Err(FileError::YamlSyntax {
                file: RUNTIME_YAML_FILE,
                message,
                line,
                column,
            })
        }
        Err(error @ YamlError::NotJson { .. }) => {
            return Err(FileError::Invalid {
                file: RUNTIME_YAML_FILE,
                message: error.to_string(),
            })
        }
    };
    match root.map(|node| node.to_value()) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(other) => Err(FileError::Invalid {
            file: RUNTIME_YAML_FILE,
            message: format!(
                "must hold a mapping of bot ids (and {GLOBAL_KEY}:), not {}",
                yaml_type_name(&other)
            ),
        }),
    }
}

/// Parses runtime.yaml: `global:` into [`Defaults`] (checked as
/// defaults.conf is), every other entry into a [`BotConfig`], valid or not.
pub fn parse_runtime_yaml(text: &str) -> Result<RuntimeYaml, FileError> {
    let mut map = parse_document(text)?;
    let global = match map.shift_remove(GLOBAL_KEY) {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(global)) => global,
        Some(other) => {
            return Err(FileError::Invalid {
                file: RUNTIME_YAML_FILE,
                message: format!(
                    "{GLOBAL_KEY} must be a mapping of settings, not {}",
                    yaml_type_name(&other)
                ),
            })
        }
    };
    let defaults = defaults_from_map(RUNTIME_YAML_FILE, &global).map_err(|error| match error {
        FileError::Invalid { file, message } => FileError::Invalid {
            file,
            message: format!("{GLOBAL_KEY}: {message}"),
        },
        other => other,
    })?;
    Ok(RuntimeYaml {
        bots: bots_from_map(map),
        defaults,
        global,
    })
}

/// `document` as a whole runtime.yaml in block style, indented by two
/// columns as IntelMQ writes it; an empty mapping is `{}`. For tools and
/// tests that write a configuration from scratch (the daemon itself edits
/// the operator's text instead, see [`edit`]).
pub fn emit_document(document: &Map<String, Value>) -> String {
    let mut text = String::new();
    emit::block(&Value::Object(document.clone()), 0, 2, &mut text);
    if text.is_empty() {
        text.push_str("{}\n");
    }
    text
}

/// A value's kind in YAML's words, for messages about runtime.yaml.
fn yaml_type_name(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
        other => json_type_name(other),
    }
}

#[cfg(test)]
mod tests;
