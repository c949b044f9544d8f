//! The operator's configuration: `runtime.conf` (the bots), `defaults.conf`
//! (global settings) and `pipeline.conf` (queues), or IntelMQ 3.x's single
//! `runtime.yaml` ([`yaml`], chosen by [`layout`]), parsed into typed values
//! while keeping each bot's raw entry untouched for the effective state.
//!
//! Parsing is split in two: a file that is not valid JSON (or not an object) is
//! a file error, and the daemon keeps its last good configuration; a file that
//! parses but holds a bad bot entry only makes that bot invalid, with its
//! problems listed for `status` and `configtest`.

mod bot;
pub mod edit;
pub mod layout;
pub mod store;
pub mod write;
pub mod yaml;

pub use bot::{BotConfig, ReloadMode, RunMode};
pub use store::ConfigStore;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

pub const RUNTIME_FILE: &str = "runtime.conf";
pub const DEFAULTS_FILE: &str = "defaults.conf";
pub const PIPELINE_FILE: &str = "pipeline.conf";
/// IntelMQ 3.x's single file: `global:` settings plus the bots.
pub const RUNTIME_YAML_FILE: &str = "runtime.yaml";

/// Why a configuration file was rejected as a whole.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FileError {
    #[error("{file} is not valid JSON: {message} (line {line}, column {column})")]
    Syntax {
        file: &'static str,
        message: String,
        line: usize,
        column: usize,
    },
    #[error("{file} is not valid YAML: {message} (line {line}, column {column})")]
    YamlSyntax {
        file: &'static str,
        message: String,
        line: usize,
        column: usize,
    },
    #[error("{file} must hold a JSON object, not {found}")]
    NotAnObject {
        file: &'static str,
        found: &'static str,
    },
    #[error("{file}: {message}")]
    Invalid { file: &'static str, message: String },
    #[error("cannot read {file}: {message}")]
    Unreadable { file: &'static str, message: String },
}

/// Which process manager runs stream bots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessManager {
    Pid,
    Systemd,
}

/// Which systemd manager the systemd process manager talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemdInstance {
    /// The machine's manager (`systemctl`), as at boot.
    System,
    /// The manager of the daemon's own user (`systemctl --user`), for an
    /// operator running IntelMQ as its own user with lingering, and for tests.
    User,
}

impl SystemdInstance {
    pub fn as_str(self) -> &'static str {
        match self {
            SystemdInstance::System => "system",
            SystemdInstance::User => "user",
        }
    }
}

/// The settings of `defaults.conf` the daemon reads; other keys are IntelMQ's.
#[derive(Debug, Clone, PartialEq)]
pub struct Defaults {
    pub process_manager: ProcessManager,
    /// The systemd manager of the systemd process manager.
    pub systemd_instance: SystemdInstance,
    /// What `reload` does to a stream bot whose entry does not say.
    pub reload: ReloadMode,
    /// How long a bot has between SIGTERM and SIGKILL.
    pub stop_timeout: Duration,
    /// The most client connections served at once.
    pub max_connections: usize,
    /// How long a client may take to finish a line it began.
    pub client_timeout: Duration,
    /// The crash-restart limits of stream bots (the mode is per bot).
    pub restart: crate::bot::restart::RestartPolicy,
    /// The user bots run as when the daemon runs as root.
    pub bot_user: Option<String>,
    /// The global settings exactly as read, for the keys that belong to the
    /// bots (IntelMQ's `logging_path`, `logging_handler`, ...).
    pub raw: Map<String, Value>,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            process_manager: ProcessManager::Pid,
            systemd_instance: SystemdInstance::System,
            reload: ReloadMode::Signal,
            stop_timeout: Duration::from_secs(10),
            max_connections: 1024,
            client_timeout: Duration::from_secs(10),
            restart: crate::bot::restart::RestartPolicy::default(),
            bot_user: None,
            raw: Map::new(),
        }
    }
}

/// One consistent view of the three files.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub bots: BTreeMap<String, BotConfig>,
    pub defaults: Defaults,
    /// pipeline.conf as read: bot id to its queues.
    pub pipeline: Map<String, Value>,
}

/// How a JSON value's type is named in error messages ("an array", ...).
pub(crate) fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses a file's text as a JSON object.
pub fn parse_object(file: &'static str, text: &str) -> Result<Map<String, Value>, FileError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(FileError::NotAnObject {
            file,
            found: json_type_name(&other),
        }),
        Err(error) => Err(FileError::Syntax {
            file,
            message: syntax_message(&error),
            line: error.line(),
            column: error.column(),
        }),
    }
}

/// A JSON syntax error's words without serde_json's " at line L column C",
/// which the errors here give as fields of their own.
pub fn syntax_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    text.split(" at line").next().unwrap_or_default().to_owned()
}

/// Parses runtime.conf: every entry becomes a [`BotConfig`], valid or not.
pub fn parse_runtime(text: &str) -> Result<BTreeMap<String, BotConfig>, FileError> {
    Ok(bots_from_map(parse_object(RUNTIME_FILE, text)?))
}

/// The bots of the config dir `dir`, from runtime.yaml or runtime.conf as
/// [`layout::Layout`] decides, with the path of the file they came from.
pub fn read_bots(
    dir: &std::path::Path,
) -> Result<(std::path::PathBuf, BTreeMap<String, BotConfig>), FileError> {
    let layout = layout::Layout::detect(dir);
    let file = layout.runtime_file();
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).map_err(|error| FileError::Unreadable {
        file,
        message: format!("{}: {error}", path.display()),
    })?;
    let bots = match layout {
        layout::Layout::Json => parse_runtime(&text)?,
        layout::Layout::Yaml { .. } => yaml::parse_runtime_yaml(&text)?.bots,
    };
    Ok((path, bots))
}

/// Every entry of `map` as a [`BotConfig`], valid or not.
pub fn bots_from_map(map: Map<String, Value>) -> BTreeMap<String, BotConfig> {
    map.into_iter()
        .map(|(bot_id, entry)| {
            let bot = BotConfig::from_entry(&bot_id, entry);
            (bot_id, bot)
        })
        .collect()
}

/// Parses defaults.conf.
pub fn parse_defaults(text: &str) -> Result<Defaults, FileError> {
    defaults_from_map(DEFAULTS_FILE, &parse_object(DEFAULTS_FILE, text)?)
}

/// Reads the global settings from `map`, the whole of defaults.conf or
/// runtime.yaml's `global:` section (`file` names it in errors). Keys the
/// daemon does not know are IntelMQ's and are left alone.
pub fn defaults_from_map(
    file: &'static str,
    map: &Map<String, Value>,
) -> Result<Defaults, FileError> {
    let invalid = |message: String| FileError::Invalid { file, message };
    let mut defaults = Defaults::default();
    match map.get("process_manager") {
        None => {}
        Some(Value::String(name)) if name == "pid" => {}
        Some(Value::String(name)) if name == "systemd" => {
            defaults.process_manager = ProcessManager::Systemd
        }
        Some(other) => {
            return Err(invalid(format!(
                "process_manager must be \"pid\" or \"systemd\", not {other}"
            )))
        }
    }
    match map.get("systemd_instance") {
        None => {}
        Some(Value::String(name)) if name == "system" => {}
        Some(Value::String(name)) if name == "user" => {
            defaults.systemd_instance = SystemdInstance::User
        }
        Some(other) => {
            return Err(invalid(format!(
                "systemd_instance must be \"system\" or \"user\", not {other}"
            )))
        }
    }
    match map.get("reload") {
        None => {}
        Some(Value::String(text)) if ReloadMode::parse(text).is_some() => {
            defaults.reload = ReloadMode::parse(text).unwrap_or(ReloadMode::Signal)
        }
        Some(other) => {
            return Err(invalid(format!(
                "reload must be \"signal\" or \"restart\", not {other}"
            )))
        }
    }
    match map.get("stop_timeout") {
        None => {}
        Some(value) => match value.as_f64() {
            Some(seconds) if seconds.is_finite() && (0.0..=86_400.0).contains(&seconds) => {
                defaults.stop_timeout = Duration::from_secs_f64(seconds)
            }
            _ => {
                return Err(invalid(format!(
                    "stop_timeout must be a number of seconds from 0 to 86400, not {value}"
                )))
            }
        },
    }
    match map.get("bot_user") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) if !name.is_empty() => defaults.bot_user = Some(name.clone()),
        Some(other) => {
            return Err(invalid(format!(
                "bot_user must be the name of a user, not {other}"
            )))
        }
    }
    if let Some(value) = map.get("start_limit_burst") {
        match value.as_u64() {
            Some(count) if (1..=1000).contains(&count) => defaults.restart.burst = count as u32,
            _ => {
                return Err(invalid(format!(
                    "start_limit_burst must be a whole number from 1 to 1000, not {value}"
                )))
            }
        }
    }
    for (key, slot, max) in [
        (
            "start_limit_interval",
            &mut defaults.restart.interval,
            86_400.0,
        ),
        ("restart_delay", &mut defaults.restart.delay, 3600.0),
        (
            "restart_delay_max",
            &mut defaults.restart.delay_max,
            86_400.0,
        ),
    ] {
        if let Some(value) = map.get(key) {
            match value.as_f64() {
                Some(seconds) if seconds.is_finite() && (0.0..=max).contains(&seconds) => {
                    *slot = Duration::from_secs_f64(seconds)
                }
                _ => {
                    return Err(invalid(format!(
                        "{key} must be a number of seconds from 0 to {max}, not {value}"
                    )))
                }
            }
        }
    }
    if let Some(value) = map.get("max_connections") {
        match value.as_u64() {
            Some(count) if (1..=65_536).contains(&count) => {
                defaults.max_connections = count as usize
            }
            _ => {
                return Err(invalid(format!(
                    "max_connections must be a whole number from 1 to 65536, not {value}"
                )))
            }
        }
    }
    if let Some(value) = map.get("client_timeout") {
        match value.as_f64() {
            Some(seconds) if seconds.is_finite() && (0.1..=3600.0).contains(&seconds) => {
                defaults.client_timeout = Duration::from_secs_f64(seconds)
            }
            _ => {
                return Err(invalid(format!(
                    "client_timeout must be a number of seconds from 0.1 to 3600, not {value}"
                )))
            }
        }
    }
    defaults.raw = map.clone();
    Ok(defaults)
}

/// Parses pipeline.conf: an object of objects keyed by bot id.
pub fn parse_pipeline(text: &str) -> Result<Map<String, Value>, FileError> {
    let map = parse_object(PIPELINE_FILE, text)?;
    for (bot_id, queues) in &map {
        if !queues.is_object() {
            return Err(FileError::Invalid {
                file: PIPELINE_FILE,
                message: format!(
                    "the entry of {bot_id:?} must be an object of queues, not {}",
                    json_type_name(queues)
                ),
            });
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let error = parse_runtime("{\n  \"a\": {,\n}").unwrap_err();
        match &error {
            FileError::Syntax { file, line, .. } => {
                assert_eq!((*file, *line), (RUNTIME_FILE, 2));
            }
            other => panic!("unexpected {other:?}"),
        }
        let text = error.to_string();
        assert!(text.starts_with("runtime.conf is not valid JSON"), "{text}");
        assert!(text.contains("line 2, column"), "{text}");
    }

    #[test]
    fn a_file_must_be_an_object() {
        assert_eq!(
            parse_runtime("[]").unwrap_err().to_string(),
            "runtime.conf must hold a JSON object, not an array"
        );
    }

    #[test]
    fn defaults_are_read_and_checked() {
        assert_eq!(parse_defaults("{}").unwrap(), Defaults::default());
        let defaults =
            parse_defaults(r#"{"process_manager":"systemd","stop_timeout":1.5,"x":1}"#).unwrap();
        assert_eq!(defaults.process_manager, ProcessManager::Systemd);
        assert_eq!(defaults.stop_timeout, Duration::from_millis(1500));
        let error = parse_defaults(r#"{"stop_timeout":-1}"#).unwrap_err();
        assert!(error.to_string().contains("stop_timeout"), "{error}");
        let error = parse_defaults(r#"{"process_manager":"cron"}"#).unwrap_err();
        assert!(error.to_string().contains("\"cron\""), "{error}");
        let defaults = parse_defaults(r#"{"systemd_instance":"user","reload":"restart"}"#).unwrap();
        assert_eq!(defaults.systemd_instance, SystemdInstance::User);
        assert_eq!(defaults.reload, ReloadMode::Restart);
        let error = parse_defaults(r#"{"systemd_instance":"session"}"#).unwrap_err();
        assert!(error.to_string().contains("systemd_instance"), "{error}");
        let error = parse_defaults(r#"{"reload":"hup"}"#).unwrap_err();
        assert!(error.to_string().contains("reload must be"), "{error}");
    }

    #[test]
    fn pipeline_entries_must_be_objects() {
        assert!(parse_pipeline(r#"{"a":{"source-queue":"a-queue"}}"#).is_ok());
        let error = parse_pipeline(r#"{"a":["q"]}"#).unwrap_err();
        assert!(error.to_string().contains("\"a\""), "{error}");
    }
}
