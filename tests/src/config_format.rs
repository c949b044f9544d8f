//! The format of the configuration that the fixtures write: the spec's JSON
//! files (`runtime.conf`, `defaults.conf`, `pipeline.conf`) or IntelMQ 3.x's
//! single `runtime.yaml` (its `global:` section holding what defaults.conf
//! holds, queues in the bots' parameters). `INTELMQD_TEST_CONFIG_FORMAT`
//! (`json`, the default, or `yaml`) chooses it for the whole run, so that the
//! same tests check the daemon on either format.
//!
//! Both are read and written with the daemon's own code (`intelmqd::config`),
//! so a fixture never reads a file differently from the daemon.

use serde_json::{Map, Value};

use intelmqd::config::yaml::{emit_document, parse_document, GLOBAL_KEY};

/// The variable that chooses the format of a test run.
pub const FORMAT_VAR: &str = "INTELMQD_TEST_CONFIG_FORMAT";

/// Which files hold a fixture's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    /// runtime.conf, defaults.conf and an empty pipeline.conf.
    Json,
    /// runtime.yaml alone: `global:` (the defaults) and the bots.
    Yaml,
}

/// A syntax error written on purpose, and how the daemon names it.
#[derive(Debug, Clone, Copy)]
pub struct BrokenRuntime {
    /// The file's text.
    pub text: &'static str,
    /// The daemon's words for it: `not valid JSON` or `not valid YAML`.
    pub words: &'static str,
    /// The line the daemon names, as it appears in its message.
    pub line: &'static str,
}

impl ConfigFormat {
    /// The format of this test run: `INTELMQD_TEST_CONFIG_FORMAT`, JSON when
    /// unset. Any other value is a mistake of whoever runs the tests, and
    /// fails every test rather than running them in the wrong format.
    pub fn from_env() -> ConfigFormat {
        match std::env::var(FORMAT_VAR) {
            Err(std::env::VarError::NotPresent) => ConfigFormat::Json,
            Ok(value) if value.is_empty() || value == "json" => ConfigFormat::Json,
            Ok(value) if value == "yaml" => ConfigFormat::Yaml,
            Ok(value) => panic!("{FORMAT_VAR}={value:?}: must be \"json\" or \"yaml\""),
            Err(error) => panic!("{FORMAT_VAR}: {error}"),
        }
    }

    /// `json` or `yaml`, as in the variable.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigFormat::Json => "json",
            ConfigFormat::Yaml => "yaml",
        }
    }

    /// The file that holds the bots, as the daemon names it in messages.
    pub fn runtime_file(self) -> &'static str {
        match self {
            ConfigFormat::Json => "runtime.conf",
            ConfigFormat::Yaml => "runtime.yaml",
        }
    }

    /// The whole configuration as (file name, text): `bots` is what
    /// runtime.conf holds (bot id -> entry), `defaults` what defaults.conf
    /// holds, written as is (the caller adds the test's bot user).
    pub fn files(self, bots: &Value, defaults: &Value) -> Vec<(&'static str, String)> {
        match self {
            ConfigFormat::Json => vec![
                ("runtime.conf", json_text(bots)),
                ("defaults.conf", json_text(defaults)),
                ("pipeline.conf", "{}\n".to_string()),
            ],
            ConfigFormat::Yaml => vec![("runtime.yaml", yaml_text(bots, defaults))],
        }
    }

    /// The text of the runtime file holding `bots`; in YAML with `global` as
    /// its `global:` section.
    pub fn runtime_text(self, bots: &Value, global: &Value) -> String {
        match self {
            ConfigFormat::Json => json_text(bots),
            ConfigFormat::Yaml => yaml_text(bots, global),
        }
    }

    /// Reads the runtime file's text: the bots (without `global:`), and in
    /// YAML the `global:` section (`None` in JSON, or when absent).
    pub fn parse_runtime(self, text: &str) -> Result<(Value, Option<Value>), String> {
        match self {
            ConfigFormat::Json => serde_json::from_str(text)
                .map(|bots| (bots, None))
                .map_err(|error| format!("runtime.conf is not JSON: {error}")),
            ConfigFormat::Yaml => {
                let mut document = parse_document(text).map_err(|error| error.to_string())?;
                let global = document.shift_remove(GLOBAL_KEY);
                Ok((Value::Object(document), global))
            }
        }
    }

    /// A runtime file with a syntax error on its second line, in this format.
    pub fn broken_runtime(self) -> BrokenRuntime {
        match self {
            ConfigFormat::Json => BrokenRuntime {
                text: "{\"bot\": {\"module\": \"intelmq-testbot\",\n",
                words: "not valid JSON",
                line: "line 2",
            },
            ConfigFormat::Yaml => BrokenRuntime {
                text: "bot:\n  module: [intelmq-testbot\n",
                words: "not valid YAML",
                line: "line 3",
            },
        }
    }
}

/// JSON pretty-printed with a final newline, as the fixtures always wrote it.
pub fn json_text(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values serialise");
    text.push('\n');
    text
}

/// runtime.yaml in block style: `global:` first, then the bots in their
/// order. A `bots` value that is not a mapping is written as it is (without
/// `global:`), for the tests of a file of the wrong shape.
fn yaml_text(bots: &Value, global: &Value) -> String {
    let Some(bots) = bots.as_object() else {
        // JSON is YAML: the daemon reads it with the same YAML parser.
        return json_text(bots);
    };
    let mut document = Map::new();
    document.insert(GLOBAL_KEY.to_string(), global.clone());
    for (bot_id, entry) in bots {
        document.insert(bot_id.clone(), entry.clone());
    }
    emit_document(&document)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_holds_global_and_the_bots_and_reads_back() {
        let bots = json!({"b": {"module": "m", "parameters": {"x": [1, 2]}}, "a": {"module": "n"}});
        let defaults = json!({"process_manager": "pid", "stop_timeout": 1});
        let files = ConfigFormat::Yaml.files(&bots, &defaults);
        assert_eq!(files.len(), 1);
        let (name, text) = &files[0];
        assert_eq!(*name, "runtime.yaml");
        assert!(
            text.starts_with("global:\n  process_manager: pid\n"),
            "{text}"
        );
        let (read, global) = ConfigFormat::Yaml.parse_runtime(text).unwrap();
        assert_eq!(read, bots);
        assert_eq!(global, Some(defaults));
    }

    #[test]
    fn the_broken_files_are_broken() {
        assert!(ConfigFormat::Json
            .parse_runtime(ConfigFormat::Json.broken_runtime().text)
            .is_err());
        let broken = ConfigFormat::Yaml.broken_runtime();
        let error = ConfigFormat::Yaml.parse_runtime(broken.text).unwrap_err();
        assert!(error.contains(broken.words), "{error}");
        assert!(
            error.contains(&format!("({}, column", broken.line)),
            "{error}"
        );
    }
}
