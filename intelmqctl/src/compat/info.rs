//! The commands that only look, in IntelMQ's shapes: `list bots`, `log`,
//! `check` and `debug` (paths and environment variables).

use std::path::Path;

use intelmqd_proto::{Command, Level, Outcome, RunStatus, Selection};
use serde_json::{json, Map, Value};

use super::args::ListKind;
use super::logline::{self, LogEntry};
use super::states::daemon_error;
use super::{not_ours, Daemon, Failure, Report};
use crate::exit;

/// The most log lines the daemon returns in one answer; IntelMQ's `-1`
/// ("all") asks for that many.
const ALL_LOG_LINES: usize = 10_000;
/// IntelMQ's defaults for `log`.
const DEFAULT_ENTRIES: i64 = 10;
const DEFAULT_LEVEL: &str = "INFO";

/// `list bots --configured`: `[{"id", "description"}]`. The other lists are
/// IntelMQ's: its bot catalogue and its queues.
pub fn list(daemon: &Daemon<'_>, kind: ListKind, configured: bool, quiet: bool) -> Report {
    match kind {
        ListKind::Bots if configured => configured_bots(daemon, quiet),
        ListKind::Bots => not_ours("list bots", "the bots of the installed IntelMQ package"),
        ListKind::Queues => not_ours("list queues", "queues"),
        ListKind::QueuesAndStatus => not_ours("list queues-and-status", "queues"),
    }
}

fn configured_bots(daemon: &Daemon<'_>, quiet: bool) -> Report {
    let response = match daemon.request(Command::Status {
        bot_id: None,
        log_lines: None,
        select: Selection {
            all: true,
            ..Selection::default()
        },
    }) {
        Ok(response) => response,
        Err(error) => return Report::client_error(&error),
    };
    let Some(Outcome::Status { bots, .. }) = &response.result else {
        return daemon_error(&response).into();
    };
    let mut report = Report::default();
    let mut rows = Vec::new();
    // A bot that runs after it was removed from the configuration is not configured.
    for bot in bots.iter().filter(|bot| bot.status != RunStatus::Unstable) {
        rows.push(json!({"id": bot.bot_id, "description": bot.description}));
        if quiet {
            if bot.botnet {
                report.text.push_str(&format!("{}\n", bot.bot_id));
            }
        } else {
            report.text.push_str(&format!(
                "Bot ID: {}\nDescription: {}\n",
                bot.bot_id,
                bot.description.as_deref().unwrap_or("None")
            ));
        }
    }
    report.json = Value::Array(rows);
    report
}

/// `log BOT_ID [LINES] [LEVEL]`: the last LINES entries at LEVEL and above.
pub fn log(daemon: &Daemon<'_>, bot_id: &str, lines: Option<i64>, level: Option<&str>) -> Report {
    let level = level.unwrap_or(DEFAULT_LEVEL);
    let Some(minimum) = logline::level_rank(level) else {
        return Report::error(
            exit::USAGE,
            format!(
                "intelmqctl: error: argument log_level: invalid choice: '{level}' (choose from {})",
                logline::LEVELS.join(", ")
            ),
        );
    };
    let count = match lines.unwrap_or(DEFAULT_ENTRIES) {
        -1 => None,
        n => match usize::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => {
                return Report::error(
                    exit::USAGE,
                    format!("intelmqctl: error: argument number_of_lines: {n} is not a number of lines (use -1 for all)"),
                )
            }
        },
    };
    let response = match daemon.request(Command::Log {
        bot_id: bot_id.to_owned(),
        lines: Some(ALL_LOG_LINES),
        level: Some(logline::LEVELS[minimum].to_owned()),
    }) {
        Ok(response) => response,
        Err(error) => return Report::client_error(&error),
    };
    let Some(Outcome::Log { path, lines, .. }) = &response.result else {
        return daemon_error(&response).into();
    };
    let entries = if Path::new(path).exists() {
        logline::entries(lines, bot_id, minimum, count)
    } else {
        vec![no_log_yet(bot_id)]
    };
    Report {
        json: Value::Array(entries.iter().map(LogEntry::to_json).collect()),
        text: entries.iter().map(LogEntry::to_text).collect(),
        ..Report::default()
    }
}

/// IntelMQ's answer for a bot without a log file.
fn no_log_yet(bot_id: &str) -> LogEntry {
    LogEntry {
        date: chrono::Local::now()
            .naive_local()
            .format("%Y-%m-%dT%H:%M:%S%.6f")
            .to_string(),
        bot_id: bot_id.to_owned(),
        thread_id: None,
        log_level: "INFO".to_owned(),
        message: "No log file exists (yet).".to_owned(),
        extended_message: None,
    }
}

/// `check`: `{"status": "success"|"error", "lines": [[level, text], ...]}`
/// from the daemon's configtest.
pub fn check(daemon: &Daemon<'_>) -> Report {
    let response = match daemon.request(Command::Configtest { bot_id: None }) {
        Ok(response) => response,
        Err(error) => return Report::client_error(&error),
    };
    let Some(Outcome::Configtest { valid, files, bots }) = &response.result else {
        return daemon_error(&response).into();
    };
    let mut lines: Vec<(&str, String)> = vec![("info", "Reading configuration files.".into())];
    for file in files.iter().filter(|file| !file.valid) {
        let why = file.error.as_deref().unwrap_or("invalid");
        lines.push(("error", format!("Could not load '{}': {why}.", file.file)));
    }
    lines.push((
        "info",
        "Checking runtime and pipeline configuration.".into(),
    ));
    for message in &response.messages {
        if message.level == Level::Warning {
            lines.push(("warning", message.text.clone()));
        }
    }
    lines.push(("info", "Checking for bots.".into()));
    for bot in bots {
        for problem in &bot.problems {
            lines.push(("error", format!("Bot '{}': {problem}", bot.bot_id)));
        }
    }
    let mut report = Report {
        code: if *valid { exit::SUCCESS } else { exit::FAILED },
        json: json!({
            "status": if *valid { "success" } else { "error" },
            "lines": lines.iter().map(|(level, text)| json!([level, text])).collect::<Vec<_>>(),
        }),
        ..Report::default()
    };
    for (level, text) in &lines {
        // IntelMQ's console: info on stdout, warnings and errors on stderr.
        let target = if *level == "info" {
            &mut report.text
        } else {
            &mut report.text_errors
        };
        target.push_str(text);
        target.push('\n');
    }
    if *valid {
        report.text.push_str("No issues found.\n");
    } else {
        report
            .text_errors
            .push_str("Some issues have been found, please check the above output.\n");
    }
    report
}

/// IntelMQ's environment variables that `debug` shows.
const ENVIRONMENT_VARIABLES: [&str; 5] = [
    "INTELMQ_ROOT_DIR",
    "INTELMQ_PATHS_NO_OPT",
    "INTELMQ_PATHS_OPT",
    "INTELMQ_MANAGER_CONTROLLER_CMD",
    "PATH",
];

/// `debug [--get-paths] [--get-environment-variables]`: both without either.
pub fn debug(daemon: &Daemon<'_>, get_paths: bool, get_environment: bool) -> Report {
    let both = !get_paths && !get_environment;
    let mut document = Map::new();
    let mut report = Report::default();
    if get_paths || both {
        let paths = match daemon_paths(daemon) {
            Ok(paths) => paths,
            Err(failure) => return failure.into(),
        };
        report.text.push_str("Paths:\n");
        for (name, value) in &paths {
            report
                .text
                .push_str(&format!("{name}: {}\n", python_repr(value)));
        }
        document.insert("paths".into(), Value::Object(paths));
    }
    if get_environment || both {
        let mut variables = Map::new();
        report.text.push_str("Environment variables:\n");
        for name in ENVIRONMENT_VARIABLES {
            let value = std::env::var(name).ok().map_or(Value::Null, Value::from);
            report
                .text
                .push_str(&format!("{name}: {}\n", python_repr(&value)));
            variables.insert(name.into(), value);
        }
        document.insert("environment_variables".into(), Value::Object(variables));
    }
    report.json = Value::Object(document);
    report
}

/// IntelMQ's path names, filled in from the daemon's own directories.
fn daemon_paths(daemon: &Daemon<'_>) -> Result<Map<String, Value>, Failure> {
    let response = daemon
        .request(Command::Hello)
        .map_err(|error| Failure::client(&error))?;
    let dirs = match &response.result {
        Some(Outcome::Hello {
            dirs: Some(dirs), ..
        }) => dirs.clone(),
        Some(Outcome::Hello { dirs: None, .. }) => {
            return Err(Failure::new(
                exit::PROTOCOL,
                "intelmqctl: error: this intelmqd does not report its directories; \
                 update intelmqd to the version of intelmqctl",
            ))
        }
        _ => return Err(daemon_error(&response)),
    };
    let config_dir = Path::new(&dirs.config_dir);
    // IntelMQ 3's runtime.yaml where the daemon reads one, else runtime.conf.
    let runtime = ["runtime.yaml", "runtime.conf"]
        .iter()
        .map(|name| config_dir.join(name))
        .find(|path| path.exists())
        .unwrap_or_else(|| config_dir.join("runtime.conf"));
    let this = std::env::current_exe()
        .map(|path| Value::from(path.display().to_string()))
        .unwrap_or(Value::Null);
    let root = std::env::var("INTELMQ_ROOT_DIR").unwrap_or_else(|_| "/".to_owned());
    let mut paths = Map::new();
    let mut put = |name: &str, value: Value| {
        paths.insert(name.to_owned(), value);
    };
    put(
        "HARMONIZATION_CONF_FILE",
        Value::from(config_dir.join("harmonization.conf").display().to_string()),
    );
    put(
        "RUNTIME_CONF_FILE",
        Value::from(runtime.display().to_string()),
    );
    put("VAR_RUN_PATH", Value::from(with_slash(&dirs.state_dir)));
    // IntelMQ's upgrade state file; intelmqd keeps none.
    put("STATE_FILE_PATH", Value::Null);
    put(
        "DEFAULT_LOGGING_PATH",
        Value::from(with_slash(&dirs.log_dir)),
    );
    put("__file__", this);
    put("CONFIG_DIR", Value::from(with_slash(&dirs.config_dir)));
    put("ROOT_DIR", Value::from(with_slash(&root)));
    Ok(paths)
}

/// A directory as IntelMQ writes its paths, ending in `/`, so that both
/// `os.path.join` and plain concatenation of a file name work.
fn with_slash(dir: &str) -> String {
    if dir.ends_with('/') {
        dir.to_owned()
    } else {
        format!("{dir}/")
    }
}

/// A value as Python's `repr` shows it in IntelMQ's text output.
fn python_repr(value: &Value) -> String {
    match value {
        Value::String(text) => format!("'{text}'"),
        Value::Null => "None".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_end_in_a_slash_like_intelmqs() {
        assert_eq!(with_slash("/etc/intelmq"), "/etc/intelmq/");
        assert_eq!(with_slash("/etc/intelmq/"), "/etc/intelmq/");
    }

    #[test]
    fn text_mode_shows_values_as_python_does() {
        assert_eq!(python_repr(&Value::from("/x")), "'/x'");
        assert_eq!(python_repr(&Value::Null), "None");
    }

    #[test]
    fn a_missing_log_file_is_intelmqs_single_entry() {
        let entry = no_log_yet("b").to_json();
        assert_eq!(entry["message"], "No log file exists (yet).");
        assert_eq!(entry["log_level"], "INFO");
        assert!(entry["date"]
            .as_str()
            .is_some_and(|date| date.contains('T')));
    }
}
