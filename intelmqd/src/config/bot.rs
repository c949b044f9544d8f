//! One bot's entry of runtime.conf, read into the keys the daemon acts on.

use serde_json::{Map, Value};

use crate::bot::restart::RestartMode;

/// How a bot runs: indefinitely, or once at each tick of its schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    Stream,
    Scheduled,
}

impl RunMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RunMode::Stream => "stream",
            RunMode::Scheduled => "scheduled",
        }
    }
}

/// What `reload` does to a stream bot: send it SIGHUP (the spec's way), or
/// restart it, for bots that do not re-read their configuration on SIGHUP
/// (IntelMQ 3.5's do not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadMode {
    Signal,
    Restart,
}

impl ReloadMode {
    pub fn parse(text: &str) -> Option<ReloadMode> {
        match text {
            "signal" => Some(ReloadMode::Signal),
            "restart" => Some(ReloadMode::Restart),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReloadMode::Signal => "signal",
            ReloadMode::Restart => "restart",
        }
    }
}

/// A bot as configured. `problems` lists what makes it invalid; a bot with
/// problems is shown by `status` but never started.
#[derive(Debug, Clone, PartialEq)]
pub struct BotConfig {
    pub bot_id: String,
    pub module: Option<String>,
    pub run_mode: RunMode,
    /// The run mode as written, for display when it is not one we know.
    pub run_mode_text: String,
    pub schedule_time: Option<String>,
    pub botnet: bool,
    pub onboot: bool,
    /// When the bot is restarted after it ended by itself.
    pub restart: RestartMode,
    /// What `reload` does, where the entry says; else the global setting.
    pub reload: Option<ReloadMode>,
    /// The entry exactly as in the file.
    pub raw: Value,
    pub problems: Vec<String>,
}

impl BotConfig {
    /// Reads one entry; never fails, but records each problem found.
    pub fn from_entry(bot_id: &str, raw: Value) -> BotConfig {
        let mut problems = Vec::new();
        if let Err(error) = intelmqd_proto::validate_bot_id(bot_id) {
            problems.push(format!("invalid bot id {bot_id:?}: {error}"));
        }
        let empty = Map::new();
        let entry = match raw.as_object() {
            Some(entry) => entry,
            None => {
                problems.push("the entry must be a JSON object".to_owned());
                &empty
            }
        };
        let module = match entry.get("module") {
            Some(Value::String(module)) if is_plain_name(module) => Some(module.clone()),
            Some(Value::String(module)) => {
                problems.push(format!(
                    "module {module:?} must be the name of an executable on PATH, without '/' or spaces"
                ));
                None
            }
            Some(other) => {
                problems.push(format!("module must be a string, not {other}"));
                None
            }
            None => {
                problems.push("module is missing".to_owned());
                None
            }
        };
        let (run_mode, run_mode_text) = match entry.get("run_mode") {
            None => (RunMode::Stream, "stream".to_owned()),
            Some(Value::String(text)) => match text.as_str() {
                "stream" | "continuous" => (RunMode::Stream, "stream".to_owned()),
                "scheduled" => (RunMode::Scheduled, "scheduled".to_owned()),
                _ => {
                    problems.push(format!(
                        "unknown run_mode {text:?}: expected \"stream\" (or \"continuous\") or \"scheduled\""
                    ));
                    (RunMode::Stream, text.clone())
                }
            },
            Some(other) => {
                problems.push(format!("run_mode must be a string, not {other}"));
                (RunMode::Stream, other.to_string())
            }
        };
        let schedule_time = match entry.get("schedule_time") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) if text.trim().is_empty() => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(other) => {
                problems.push(format!("schedule_time must be a string, not {other}"));
                None
            }
        };
        match (run_mode, &schedule_time) {
            (RunMode::Scheduled, Some(expression)) => {
                if let Err(error) = crate::cron::CronSchedule::parse(expression) {
                    problems.push(error.to_string());
                }
            }
            (RunMode::Scheduled, None) => problems.push(
                "run_mode is \"scheduled\" but schedule_time is missing: give a crontab expression"
                    .to_owned(),
            ),
            (RunMode::Stream, Some(_)) if run_mode_text == "stream" => {
                problems.push("schedule_time is only valid with run_mode \"scheduled\"".to_owned())
            }
            _ => {}
        }
        let flag = |key: &str, problems: &mut Vec<String>| match entry.get(key) {
            None => None,
            Some(Value::Bool(value)) => Some(*value),
            Some(other) => {
                problems.push(format!("{key} must be true or false, not {other}"));
                None
            }
        };
        // IntelMQ's `enabled` stands in for `botnet` where `botnet` is absent.
        let botnet = flag("botnet", &mut problems)
            .or_else(|| flag("enabled", &mut problems))
            .unwrap_or(false);
        let onboot = flag("onboot", &mut problems).unwrap_or(false);
        let restart = match entry.get("restart") {
            None => RestartMode::default(),
            Some(Value::String(text)) => RestartMode::parse(text).unwrap_or_else(|| {
                problems.push(format!(
                    "unknown restart {text:?}: expected \"on-failure\", \"always\" or \"never\""
                ));
                RestartMode::default()
            }),
            Some(other) => {
                problems.push(format!("restart must be a string, not {other}"));
                RestartMode::default()
            }
        };
        let reload = match entry.get("reload") {
            None => None,
            Some(Value::String(text)) => ReloadMode::parse(text).or_else(|| {
                problems.push(format!(
                    "unknown reload {text:?}: expected \"signal\" or \"restart\""
                ));
                None
            }),
            Some(other) => {
                problems.push(format!("reload must be a string, not {other}"));
                None
            }
        };
        if let Some(parameters) = entry.get("parameters") {
            if !parameters.is_object() {
                problems.push("parameters must be a JSON object".to_owned());
            }
        }
        BotConfig {
            bot_id: bot_id.to_owned(),
            module,
            run_mode,
            run_mode_text,
            schedule_time,
            botnet,
            onboot,
            restart,
            reload,
            raw,
            problems,
        }
    }

    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

fn is_plain_name(module: &str) -> bool {
    !module.is_empty()
        && !module.starts_with('-')
        && !module.contains(['/', '\0'])
        && !module.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_design_keys_and_intelmq_spellings() {
        let bot = BotConfig::from_entry(
            "p",
            json!({"module": "intelmq.bots.parsers.x", "run_mode": "continuous",
                   "enabled": true, "parameters": {"a": 1}, "name": "kept"}),
        );
        assert!(bot.is_valid(), "{:?}", bot.problems);
        assert_eq!(bot.run_mode, RunMode::Stream);
        assert!(bot.botnet);
        assert!(!bot.onboot);
        assert_eq!(bot.raw["name"], "kept");
        let bot = BotConfig::from_entry(
            "p",
            json!({"module": "m", "enabled": true, "botnet": false}),
        );
        assert!(!bot.botnet, "botnet wins over enabled");
    }

    #[test]
    fn names_every_problem() {
        let bot = BotConfig::from_entry(
            "../x",
            json!({"module": "a/b", "run_mode": "sometimes", "botnet": "yes"}),
        );
        let all = bot.problems.join("\n");
        assert!(all.contains("invalid bot id"), "{all}");
        assert!(all.contains("module \"a/b\""), "{all}");
        assert!(all.contains("unknown run_mode \"sometimes\""), "{all}");
        assert!(all.contains("botnet must be true or false"), "{all}");
        assert_eq!(bot.run_mode_text, "sometimes");

        let bot = BotConfig::from_entry("s", json!({"module": "m", "run_mode": "scheduled"}));
        assert!(bot.problems[0].contains("schedule_time is missing"));
        let bot = BotConfig::from_entry("s", json!({"module": "m", "schedule_time": "* * * * *"}));
        assert!(bot.problems[0].contains("only valid with run_mode"));
        let bot = BotConfig::from_entry("s", json!({"module": "m", "reload": "kill"}));
        assert!(
            bot.problems[0].contains("unknown reload \"kill\""),
            "{:?}",
            bot.problems
        );
        let bot = BotConfig::from_entry("s", json!({"module": "m", "reload": "restart"}));
        assert_eq!(bot.reload, Some(ReloadMode::Restart));
        let bot = BotConfig::from_entry("s", json!("not an object"));
        assert!(bot.problems.iter().any(|p| p.contains("JSON object")));
        assert!(bot.problems.iter().any(|p| p == "module is missing"));
    }
}
