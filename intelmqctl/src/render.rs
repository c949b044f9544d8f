//! What the user sees: pure functions from a daemon's [`Response`] (or a client
//! error) to the text for stdout and stderr and the exit code. Human output is
//! messages and comfy-table tables, the status words coloured when [`Style`]
//! says so (a terminal, no `NO_COLOR`); `--json` output is one JSON document on
//! stdout.

use std::ffi::OsStr;

use comfy_table::{presets, Cell, Color, Table};
use intelmqd_proto::Level;
use intelmqd_proto::{
    ActionRow, BotStatus, Command, ConfigTest, Event, ListRow, Message, Outcome, ReloadInfo,
    Response, RunState, RunStatus, ScheduleInfo,
};

use crate::client::ClientError;
use crate::exit;

/// Text for stdout and stderr (each empty or ending in a newline), and the exit code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub code: u8,
}

/// How human output looks: with colour or plain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// Colour when stdout is a terminal and `NO_COLOR` is not set to a
    /// non-empty value (<https://no-color.org>).
    pub fn new(terminal: bool, no_color: Option<&OsStr>) -> Style {
        Style {
            color: terminal && no_color.is_none_or(OsStr::is_empty),
        }
    }

    /// The style for this process's stdout and environment.
    pub fn detect() -> Style {
        use std::io::IsTerminal;
        Style::new(
            std::io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        )
    }

    /// A status word in a table cell: running green, unstable yellow, failed
    /// red, stopped as it is.
    fn status_cell(self, status: RunStatus) -> Cell {
        let cell = Cell::new(status.table_word());
        let color = match status {
            RunStatus::Running => Some(Color::Green),
            RunStatus::Unstable => Some(Color::Yellow),
            RunStatus::Failed => Some(Color::Red),
            RunStatus::Stopped => None,
        };
        match color {
            Some(color) if self.color => cell.fg(color),
            _ => cell,
        }
    }
}

/// The headers of the status table, in the spec's order and words.
pub const STATUS_HEADERS: [&str; 7] = [
    "bot_id",
    "run_mode",
    "scheduled_time (if applicable)",
    "is on botnet",
    "status",
    "enabled_on_boot",
    "configtest",
];

/// The headers of the list table.
pub const LIST_HEADERS: [&str; 4] = [
    "bot_id",
    "run_mode",
    "scheduled_time (if applicable)",
    "is on botnet",
];

/// Renders the daemon's answer to `command`.
pub fn response(command: &Command, response: &Response, json: bool, style: Style) -> Output {
    if !response.ok {
        return failure(response, json, style);
    }
    match command {
        Command::Status {
            bot_id, log_lines, ..
        } => match &response.result {
            Some(Outcome::Status { bots, log }) => {
                if json {
                    json_output(serde_json::to_string(bots), exit::SUCCESS)
                } else {
                    let mut stdout = messages(&response.messages);
                    // `-n 0`: no log section at all.
                    let log_of = bot_id.as_deref().filter(|_| *log_lines != Some(0));
                    stdout.push_str(&status(bots, log_of, log, style));
                    Output {
                        stdout,
                        stderr: String::new(),
                        code: exit::SUCCESS,
                    }
                }
            }
            _ => wrong_result("status", json),
        },
        Command::List => match &response.result {
            Some(Outcome::List { bots }) => {
                if json {
                    json_output(serde_json::to_string(bots), exit::SUCCESS)
                } else {
                    let mut stdout = messages(&response.messages);
                    stdout.push_str(&list(bots));
                    Output {
                        stdout,
                        stderr: String::new(),
                        code: exit::SUCCESS,
                    }
                }
            }
            _ => wrong_result("list", json),
        },
        Command::Metrics => match &response.result {
            Some(Outcome::Metrics { text }) => {
                if json {
                    let document = serde_json::json!({ "text": text });
                    return json_output(serde_json::to_string(&document), exit::SUCCESS);
                }
                let mut stdout = messages(&response.messages);
                stdout.push_str(text);
                if !stdout.is_empty() && !stdout.ends_with('\n') {
                    stdout.push('\n');
                }
                Output {
                    stdout,
                    stderr: String::new(),
                    code: exit::SUCCESS,
                }
            }
            _ => wrong_result("metrics", json),
        },
        Command::Log { level, .. } => match &response.result {
            Some(Outcome::Log {
                bot_id,
                path,
                lines,
            }) => {
                if json {
                    return json_output(serde_json::to_string(response), exit::SUCCESS);
                }
                let mut stdout = messages(&response.messages);
                for line in lines {
                    stdout.push_str(line);
                    stdout.push('\n');
                }
                let stderr = if lines.is_empty() {
                    let at = level
                        .as_deref()
                        .map_or(String::new(), |level| format!(" at level {level} or above"));
                    format!("intelmqctl: the log of {bot_id} ({path}) has no lines{at}\n")
                } else {
                    String::new()
                };
                Output {
                    stdout,
                    stderr,
                    code: exit::SUCCESS,
                }
            }
            _ => wrong_result("log", json),
        },
        _ => {
            let code = run_exit_code(command, response).unwrap_or(exit::SUCCESS);
            if json {
                return json_output(serde_json::to_string(response), code);
            }
            let mut stdout = messages(&response.messages);
            if let Some(Outcome::Actions { bots }) = &response.result {
                if acts_on_many(command) {
                    stdout.push_str(&actions(bots, style));
                }
            }
            Output {
                stdout,
                stderr: String::new(),
                code,
            }
        }
    }
}

/// True for a command given without a bot id: it acted on a selection.
fn acts_on_many(command: &Command) -> bool {
    match command {
        Command::Start { bot_id, .. }
        | Command::Stop { bot_id, .. }
        | Command::Restart { bot_id, .. }
        | Command::Reload { bot_id, .. }
        | Command::Enable { bot_id, .. }
        | Command::Disable { bot_id, .. } => bot_id.is_none(),
        _ => false,
    }
}

/// The exit code of a waited-for run (`scheduler-exec`, `start --now --wait`):
/// the bot's own exit code, or 128+N for signal N.
fn run_exit_code(command: &Command, response: &Response) -> Option<u8> {
    let waited = matches!(
        command,
        Command::SchedulerExec { .. } | Command::Start { wait: true, .. }
    );
    if !waited {
        return None;
    }
    let Some(Outcome::Actions { bots }) = &response.result else {
        return None;
    };
    let exit = bots.first()?.exit.as_ref()?;
    match (exit.code, exit.signal) {
        (Some(code), _) => Some(u8::try_from(code).unwrap_or(exit::FAILED)),
        (None, Some(signal)) => Some(exit::SIGNAL_BASE.saturating_add(signal as u8)),
        (None, None) => None,
    }
}

/// The headers of the table of a botnet action.
pub const ACTION_HEADERS: [&str; 4] = ["bot_id", "action", "status", "detail"];

/// One row a bot: what was done, where it is now, and why not when it failed.
pub fn actions(bots: &[ActionRow], style: Style) -> String {
    let mut table = new_table(&ACTION_HEADERS);
    for bot in bots {
        let action = serde_json::to_value(bot.action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let detail = match (&bot.error, bot.pid, &bot.exit) {
            (Some(error), _, _) => error.clone(),
            (None, _, Some(exit)) => exit.description.clone(),
            (None, Some(pid), None) => format!("pid {pid}"),
            (None, None, None) => String::new(),
        };
        table.add_row(vec![
            Cell::new(&bot.bot_id),
            Cell::new(action),
            style.status_cell(bot.status),
            Cell::new(detail),
        ]);
    }
    finish(table, style)
}

/// The daemon answered `ok: false`: the messages (and the rows of a botnet
/// action), then the error; exit 1.
pub fn failure(response: &Response, json: bool, style: Style) -> Output {
    if json {
        return json_output(serde_json::to_string(response), exit::FAILED);
    }
    let reason = response.error.as_ref().map_or(
        "the daemon reported a failure without saying why; see its log",
        |error| error.message.as_str(),
    );
    let mut stdout = messages(&response.messages);
    if let Some(Outcome::Actions { bots }) = &response.result {
        if bots.len() > 1 {
            stdout.push_str(&actions(bots, style));
        }
    }
    Output {
        stdout,
        stderr: format!("intelmqctl: error: {reason}\n"),
        code: exit::FAILED,
    }
}

/// The daemon could not be reached or understood.
/// `intelmqctl: <message>` on stderr (the message says what to do), or
/// `{"ok":false,"error":{"kind":...,"message":...}}` on stdout with `--json`.
pub fn client_error(error: &ClientError, json: bool) -> Output {
    error_output(
        error.kind(),
        &error.to_string(),
        error.exit_code(),
        json,
        "intelmqctl: ",
    )
}

/// An error found by intelmqctl itself (an invalid bot id, …):
/// `intelmqctl: error: <message>` on stderr, or the JSON error object on stdout.
pub fn local_error(kind: &str, message: &str, code: u8, json: bool) -> Output {
    error_output(kind, message, code, json, "intelmqctl: error: ")
}

fn error_output(kind: &str, message: &str, code: u8, json: bool, prefix: &str) -> Output {
    if json {
        let document = serde_json::json!({
            "ok": false,
            "error": {"kind": kind, "message": message},
        });
        Output {
            stdout: format!("{document}\n"),
            stderr: String::new(),
            code,
        }
    } else {
        Output {
            stdout: String::new(),
            stderr: format!("{prefix}{message}\n"),
            code,
        }
    }
}

/// One line a message: info bare, warnings and errors prefixed.
pub fn messages(messages: &[Message]) -> String {
    let mut out = String::new();
    for message in messages {
        match message.level {
            Level::Info => {}
            Level::Warning => out.push_str("warning: "),
            Level::Error => out.push_str("error: "),
        }
        out.push_str(&message.text);
        out.push('\n');
    }
    out
}

/// The status table; under it, for each bot, how it exited (when it exited by
/// itself), its next and last run (a scheduled bot) and how often it was
/// restarted automatically; and, when `log_of` names a bot, the tail of its log.
pub fn status(bots: &[BotStatus], log_of: Option<&str>, log: &[String], style: Style) -> String {
    let mut table = new_table(&STATUS_HEADERS);
    for bot in bots {
        table.add_row(vec![
            Cell::new(&bot.bot_id),
            Cell::new(&bot.run_mode),
            Cell::new(bot.schedule_time.as_deref().unwrap_or("-")),
            Cell::new(if bot.botnet { "true" } else { "false" }),
            style.status_cell(bot.status),
            Cell::new(if bot.onboot { "yes" } else { "no" }),
            Cell::new(match bot.configtest {
                ConfigTest::Valid => "valid",
                ConfigTest::Invalid => "invalid",
            }),
        ]);
    }
    let mut out = finish(table, style);
    for bot in bots {
        if let (RunState::Exited, Some(last_exit)) = (bot.state, &bot.last_exit) {
            out.push_str(&format!("{}: {}\n", bot.bot_id, last_exit.description));
        }
        if let (true, Some(schedule)) = (bot.run_mode == "scheduled", &bot.schedule) {
            out.push_str(&format!("{}: {}\n", bot.bot_id, runs(schedule)));
        }
        if let Some(reload) = &bot.reload {
            out.push_str(&format!("{}: {}\n", bot.bot_id, reloaded(reload)));
        }
        if bot.restarts > 0 {
            let times = if bot.restarts == 1 { "time" } else { "times" };
            out.push_str(&format!(
                "{}: restarted {} {times}\n",
                bot.bot_id, bot.restarts
            ));
        }
    }
    if let Some(bot_id) = log_of {
        out.push('\n');
        if log.is_empty() {
            out.push_str(&format!("(the log of {bot_id} is empty)\n"));
        } else {
            out.push_str(&format!("Last {} log lines of {bot_id}:\n", log.len()));
            for line in log {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// `next run <time>; last run <start> took <x> s, <how it ended>`, in local time.
/// A running bot's last reload, and whether it is known to be applied.
pub fn reloaded(reload: &ReloadInfo) -> String {
    let at = local_time(reload.at.saturating_mul(1000));
    if reload.applied {
        format!("reload: restarted {at}, with its configuration as it was then")
    } else {
        format!("reload: SIGHUP sent {at}; not known whether the bot re-read its configuration (\"reload\": \"restart\" restarts it instead)")
    }
}

pub fn runs(schedule: &ScheduleInfo) -> String {
    let next = match schedule.next_run {
        Some(at) => format!("next run {}", local_time(at * 1000)),
        None => "not scheduled".to_owned(),
    };
    let last = match (schedule.last_run_started, schedule.last_run_duration_ms) {
        (None, _) => "no run yet".to_owned(),
        (Some(started), None) => format!("last run {} still running", local_time(started * 1000)),
        (Some(started), Some(ms)) => {
            let ended = schedule
                .last_run_exit
                .as_ref()
                .map_or(String::new(), |exit| format!(", {}", exit.description));
            format!(
                "last run {} took {:.1} s{ended}",
                local_time(started * 1000),
                ms as f64 / 1000.0
            )
        }
    };
    format!("{next}; {last}")
}

/// Unix time in milliseconds as local time, `2026-12-04 17:53:30`.
pub fn local_time(ms: u64) -> String {
    use chrono::TimeZone;
    match i64::try_from(ms)
        .ok()
        .and_then(|ms| chrono::Local.timestamp_millis_opt(ms).single())
    {
        Some(time) => time.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => format!("@{}", ms / 1000),
    }
}

/// One event as a line: `<local time> <kind> <bot_id>: <text>` (no bot id:
/// `<local time> <kind>: <text>`), or with `json` the event object.
pub fn event_line(event: &Event, json: bool) -> String {
    if json {
        return serde_json::to_string(event).unwrap_or_else(|error| {
            serde_json::json!({"kind": "internal", "text": format!("cannot write the event as JSON: {error}")})
                .to_string()
        }) + "\n";
    }
    let kind = serde_json::to_value(event.kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default();
    let time = local_time(event.at_ms);
    match &event.bot_id {
        Some(bot_id) => format!("{time} {kind} {bot_id}: {}\n", event.text),
        None => format!("{time} {kind}: {}\n", event.text),
    }
}

/// One followed log line: the line, or with `json` `{"bot_id":…,"line":…}`.
pub fn log_line(bot_id: &str, line: &str, json: bool) -> String {
    if json {
        format!("{}\n", serde_json::json!({"bot_id": bot_id, "line": line}))
    } else {
        format!("{line}\n")
    }
}

/// The list table.
pub fn list(bots: &[ListRow]) -> String {
    let mut table = new_table(&LIST_HEADERS);
    for bot in bots {
        table.add_row(vec![
            bot.bot_id.as_str(),
            bot.run_mode.as_str(),
            bot.schedule_time.as_deref().unwrap_or("-"),
            if bot.botnet { "true" } else { "false" },
        ]);
    }
    format!("{table}\n")
}

fn new_table(headers: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_style(presets::ASCII_MARKDOWN)
        .force_no_tty()
        .set_header(headers.to_vec());
    table
}

/// The table as text. With colour, comfy-table styles the coloured cells'
/// text (not their padding, so the columns stay aligned).
fn finish(mut table: Table, style: Style) -> String {
    if style.color {
        table.enforce_styling();
        table.style_text_only();
    }
    format!("{table}\n")
}

fn json_output(document: serde_json::Result<String>, code: u8) -> Output {
    match document {
        Ok(document) => Output {
            stdout: format!("{document}\n"),
            stderr: String::new(),
            code,
        },
        Err(error) => local_error(
            "internal",
            &format!("cannot write the answer as JSON: {error}"),
            exit::PROTOCOL,
            true,
        ),
    }
}

fn wrong_result(command: &str, json: bool) -> Output {
    local_error(
        "protocol",
        &format!(
            "the daemon's answer to {command:?} carries no {command} result. \
             Are intelmqd and intelmqctl the same version?"
        ),
        exit::PROTOCOL,
        json,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use intelmqd_proto::{ActionKind, ActionRow, ErrorKind, EventKind, ExitInfo, RunStatus};

    const PLAIN: Style = Style { color: false };
    const COLOR: Style = Style { color: true };

    fn bot(bot_id: &str, status: RunStatus) -> BotStatus {
        BotStatus {
            bot_id: bot_id.into(),
            run_mode: "stream".into(),
            schedule_time: None,
            botnet: true,
            status,
            onboot: false,
            configtest: ConfigTest::Valid,
            pid: Some(42),
            state: RunState::Running,
            since: Some(1),
            last_exit: None,
            problems: vec![],
            schedule: None,
            restarts: 0,
            reload: None,
            group: None,
            description: None,
        }
    }

    fn status_command(bot_id: Option<&str>) -> Command {
        Command::Status {
            bot_id: bot_id.map(str::to_owned),
            log_lines: None,
            select: Default::default(),
        }
    }

    fn cells(line: &str) -> Vec<&str> {
        line.trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect()
    }

    #[test]
    fn status_table_has_the_spec_headers_and_words() {
        let mut scheduled = bot("my-bot-2", RunStatus::Unstable);
        scheduled.run_mode = "scheduled".into();
        scheduled.schedule_time = Some("1 * * * *".into());
        scheduled.botnet = false;
        scheduled.configtest = ConfigTest::Invalid;
        let mut streaming = bot("my-bot-1", RunStatus::Running);
        streaming.onboot = true;
        let response = Response::success(
            vec![],
            Outcome::Status {
                bots: vec![streaming, scheduled],
                log: vec![],
            },
        );
        let output = super::response(&status_command(None), &response, false, PLAIN);
        assert_eq!(output.code, exit::SUCCESS);
        assert_eq!(output.stderr, "");
        let lines: Vec<&str> = output.stdout.lines().collect();
        assert_eq!(cells(lines[0]), STATUS_HEADERS);
        assert_eq!(
            cells(lines[2]),
            ["my-bot-1", "stream", "-", "true", "running", "yes", "valid"]
        );
        assert_eq!(
            cells(lines[3]),
            [
                "my-bot-2",
                "scheduled",
                "1 * * * *",
                "false",
                "running (unstable)",
                "no",
                "invalid"
            ]
        );
        assert_eq!(
            lines.len(),
            4,
            "no log section for all bots:\n{}",
            output.stdout
        );
    }

    #[test]
    fn status_of_one_bot_shows_its_log_and_how_it_exited() {
        let mut crashed = bot("b", RunStatus::Stopped);
        crashed.state = RunState::Exited;
        crashed.pid = None;
        crashed.last_exit = Some(ExitInfo {
            code: Some(3),
            signal: None,
            at: 5,
            description: "exited with code 3".into(),
        });
        let response = Response::success(
            vec![],
            Outcome::Status {
                bots: vec![crashed],
                log: vec!["one".into(), "two".into()],
            },
        );
        let output = super::response(&status_command(Some("b")), &response, false, PLAIN);
        let tail: Vec<&str> = output.stdout.lines().skip(3).collect();
        assert_eq!(
            tail,
            [
                "b: exited with code 3",
                "",
                "Last 2 log lines of b:",
                "one",
                "two"
            ]
        );
    }

    #[test]
    fn status_of_one_bot_with_an_empty_log_says_so() {
        let response = Response::success(
            vec![],
            Outcome::Status {
                bots: vec![bot("b", RunStatus::Failed)],
                log: vec![],
            },
        );
        let output = super::response(&status_command(Some("b")), &response, false, PLAIN);
        assert!(output.stdout.contains("| failed "), "{}", output.stdout);
        assert!(
            output.stdout.ends_with("\n\n(the log of b is empty)\n"),
            "{}",
            output.stdout
        );
    }

    #[test]
    fn a_running_bot_with_a_past_exit_gets_no_exit_line() {
        let mut restarted = bot("b", RunStatus::Running);
        restarted.last_exit = Some(ExitInfo {
            code: Some(1),
            signal: None,
            at: 5,
            description: "exited with code 1".into(),
        });
        assert!(!status(&[restarted], None, &[], PLAIN).contains("exited"));
    }

    #[test]
    fn status_json_is_an_array_of_bots_even_for_one() {
        let response = Response::success(
            vec![Message::new(Level::Info, None, "not in json")],
            Outcome::Status {
                bots: vec![bot("b", RunStatus::Unstable)],
                log: vec!["line".into()],
            },
        );
        let output = super::response(&status_command(Some("b")), &response, true, PLAIN);
        let value: serde_json::Value = serde_json::from_str(&output.stdout).expect("json");
        assert_eq!(value[0]["bot_id"], "b");
        assert_eq!(value[0]["status"], "unstable");
        assert_eq!(value[0]["pid"], 42);
        assert_eq!(value[0]["schedule_time"], serde_json::Value::Null);
        assert_eq!(value.as_array().map(Vec::len), Some(1));
        assert!(output.stdout.ends_with('\n') && output.stdout.lines().count() == 1);
    }

    #[test]
    fn list_table_and_json() {
        let rows = vec![
            ListRow {
                bot_id: "a".into(),
                run_mode: "stream".into(),
                schedule_time: None,
                botnet: true,
            },
            ListRow {
                bot_id: "b".into(),
                run_mode: "scheduled".into(),
                schedule_time: Some("@hourly".into()),
                botnet: false,
            },
        ];
        let response = Response::success(vec![], Outcome::List { bots: rows });
        let human = super::response(&Command::List, &response, false, PLAIN);
        let lines: Vec<&str> = human.stdout.lines().collect();
        assert_eq!(cells(lines[0]), LIST_HEADERS);
        assert_eq!(cells(lines[2]), ["a", "stream", "-", "true"]);
        assert_eq!(cells(lines[3]), ["b", "scheduled", "@hourly", "false"]);
        let json = super::response(&Command::List, &response, true, PLAIN);
        let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
        assert_eq!(value[1]["schedule_time"], "@hourly");
        assert_eq!(value[0]["botnet"], true);
    }

    #[test]
    fn actions_print_their_messages() {
        let response = Response::success(
            vec![
                Message::new(Level::Info, Some("b"), "Starting b..."),
                Message::new(Level::Info, Some("b"), "b is running."),
                Message::new(Level::Warning, Some("b"), "careful"),
                Message::new(Level::Error, Some("b"), "oops"),
            ],
            Outcome::Actions {
                bots: vec![ActionRow {
                    bot_id: "b".into(),
                    action: ActionKind::Started,
                    status: RunStatus::Running,
                    pid: Some(7),
                    error: None,
                    exit: None,
                }],
            },
        );
        let command = Command::Start {
            bot_id: Some("b".into()),
            now: false,
            wait: false,
            select: Default::default(),
        };
        let human = super::response(&command, &response, false, PLAIN);
        assert_eq!(
            human,
            Output {
                stdout: "Starting b...\nb is running.\nwarning: careful\nerror: oops\n".into(),
                stderr: String::new(),
                code: exit::SUCCESS,
            }
        );
        let json = super::response(&command, &response, true, PLAIN);
        let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
        assert_eq!(value["ok"], true);
        assert_eq!(value["messages"][0]["text"], "Starting b...");
        assert_eq!(value["result"]["kind"], "actions");
        assert_eq!(value["result"]["bots"][0]["action"], "started");
    }

    #[test]
    fn a_botnet_action_gets_a_table_and_a_waited_run_its_exit_code() {
        let row = |bot_id: &str, action, error: Option<&str>| ActionRow {
            bot_id: bot_id.into(),
            action,
            status: RunStatus::Stopped,
            pid: None,
            error: error.map(str::to_owned),
            exit: None,
        };
        let response = Response::success(
            vec![],
            Outcome::Actions {
                bots: vec![
                    row("a", ActionKind::Stopped, None),
                    row("b", ActionKind::AlreadyStopped, None),
                ],
            },
        );
        let botnet = Command::Stop {
            bot_id: None,
            select: Default::default(),
        };
        let human = super::response(&botnet, &response, false, PLAIN);
        let lines: Vec<&str> = human.stdout.lines().collect();
        assert_eq!(cells(lines[0]), ACTION_HEADERS);
        assert_eq!(cells(lines[2]), ["a", "stopped", "stopped", ""]);
        assert_eq!(cells(lines[3]), ["b", "already-stopped", "stopped", ""]);

        let mut ran = row("s", ActionKind::Ran, None);
        ran.exit = Some(ExitInfo {
            code: Some(5),
            signal: None,
            at: 0,
            description: "exited with code 5".into(),
        });
        let response = Response::success(vec![], Outcome::Actions { bots: vec![ran] });
        let exec = Command::SchedulerExec { bot_id: "s".into() };
        assert_eq!(super::response(&exec, &response, false, PLAIN).code, 5);
        assert_eq!(super::response(&exec, &response, true, PLAIN).code, 5);
    }

    #[test]
    fn daemon_errors_exit_1() {
        let mut response = Response::failure(ErrorKind::UnknownBot, "no bot \"x\" in runtime.conf");
        response.messages = vec![Message::new(Level::Warning, None, "first")];
        let command = Command::Stop {
            bot_id: Some("x".into()),
            select: Default::default(),
        };
        let human = super::response(&command, &response, false, PLAIN);
        assert_eq!(
            human,
            Output {
                stdout: "warning: first\n".into(),
                stderr: "intelmqctl: error: no bot \"x\" in runtime.conf\n".into(),
                code: exit::FAILED,
            }
        );
        let json = super::response(&status_command(Some("x")), &response, true, PLAIN);
        assert_eq!(json.code, exit::FAILED);
        assert_eq!(json.stderr, "");
        let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
        assert_eq!(value["ok"], false);
        assert_eq!(value["error"]["kind"], "unknown-bot");
    }

    #[test]
    fn client_errors_in_both_forms() {
        let error = ClientError::Unreachable {
            socket: "/run/x.sock".into(),
            reason: "No such file or directory (os error 2)".into(),
        };
        let human = client_error(&error, false);
        assert_eq!(human.code, exit::UNREACHABLE);
        assert_eq!(human.stdout, "");
        assert_eq!(
            human.stderr,
            "intelmqctl: cannot reach intelmqd at /run/x.sock: No such file or directory \
             (os error 2). Is the daemon running? Start it with 'intelmqd' \
             (or 'systemctl start intelmqd').\n"
        );
        let json = client_error(&error, true);
        assert_eq!(json.code, exit::UNREACHABLE);
        let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
        assert_eq!(value["ok"], false);
        assert_eq!(value["error"]["kind"], "unreachable");
        assert!(value["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("cannot reach intelmqd at /run/x.sock")));
    }

    #[test]
    fn a_status_answer_without_status_is_a_protocol_error() {
        let response = Response::success(vec![], Outcome::List { bots: vec![] });
        let output = super::response(&status_command(None), &response, false, PLAIN);
        assert_eq!(output.code, exit::PROTOCOL);
        assert!(
            output.stderr.starts_with("intelmqctl: error:"),
            "{}",
            output.stderr
        );
    }

    fn status_of(bots: Vec<BotStatus>) -> Response {
        Response::success(vec![], Outcome::Status { bots, log: vec![] })
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(Style::new(true, None).color);
        assert!(!Style::new(false, None).color, "not a terminal");
        assert!(!Style::new(true, Some(OsStr::new("1"))).color);
        assert!(!Style::new(true, Some(OsStr::new("no"))).color, "any value");
        assert!(
            Style::new(true, Some(OsStr::new(""))).color,
            "an empty NO_COLOR is unset (no-color.org)"
        );
    }

    #[test]
    fn status_words_are_coloured_and_the_table_stays_aligned() {
        let bots = vec![
            bot("a-running", RunStatus::Running),
            bot("b-stopped", RunStatus::Stopped),
            bot("c-unstable", RunStatus::Unstable),
            bot("d-failed", RunStatus::Failed),
        ];
        let plain = super::response(
            &status_command(None),
            &status_of(bots.clone()),
            false,
            PLAIN,
        );
        assert!(!plain.stdout.contains('\x1b'), "{}", plain.stdout);
        let coloured = super::response(&status_command(None), &status_of(bots), false, COLOR);
        let lines: Vec<&str> = coloured.stdout.lines().collect();
        let status_cell = |line: &str| cells(line)[4].to_owned();
        // crossterm's codes: dark green 2, dark yellow 3, dark red 1.
        assert!(
            status_cell(lines[2]).contains("\x1b[38;5;10mrunning"),
            "{:?}",
            lines[2]
        );
        assert_eq!(status_cell(lines[3]), "stopped", "stopped is not coloured");
        assert!(
            status_cell(lines[4]).contains("\x1b[38;5;11mrunning (unstable)"),
            "{:?}",
            lines[4]
        );
        assert!(
            status_cell(lines[5]).contains("\x1b[38;5;9mfailed"),
            "{:?}",
            lines[5]
        );
        // Without the escapes every line is as wide as the header: aligned.
        let strip = |line: &str| {
            let mut out = String::new();
            let mut chars = line.chars();
            while let Some(c) = chars.next() {
                if c == '\x1b' {
                    for c in chars.by_ref() {
                        if c == 'm' {
                            break;
                        }
                    }
                } else {
                    out.push(c);
                }
            }
            out
        };
        let plain_lines: Vec<String> = plain.stdout.lines().map(str::to_owned).collect();
        let stripped: Vec<String> = lines.iter().map(|line| strip(line)).collect();
        assert_eq!(stripped, plain_lines);
        let width = plain_lines[0].chars().count();
        assert!(plain_lines.iter().all(|line| line.chars().count() == width));
    }

    #[test]
    fn a_botnet_action_table_colours_its_status_column() {
        let response = Response::success(
            vec![],
            Outcome::Actions {
                bots: vec![ActionRow {
                    bot_id: "a".into(),
                    action: ActionKind::Started,
                    status: RunStatus::Running,
                    pid: Some(3),
                    error: None,
                    exit: None,
                }],
            },
        );
        let botnet = Command::Start {
            bot_id: None,
            now: false,
            wait: false,
            select: Default::default(),
        };
        assert!(super::response(&botnet, &response, false, COLOR)
            .stdout
            .contains("\x1b["));
        assert!(!super::response(&botnet, &response, false, PLAIN)
            .stdout
            .contains('\x1b'));
        assert!(!super::response(&botnet, &response, true, COLOR)
            .stdout
            .contains('\x1b'));
    }

    #[test]
    fn json_never_has_colour() {
        let output = super::response(
            &status_command(None),
            &status_of(vec![bot("a", RunStatus::Failed)]),
            true,
            COLOR,
        );
        assert!(!output.stdout.contains('\x1b'));
        serde_json::from_str::<serde_json::Value>(&output.stdout).expect("json");
    }

    fn scheduled(bot_id: &str, schedule: ScheduleInfo) -> BotStatus {
        let mut scheduled = bot(bot_id, RunStatus::Running);
        scheduled.run_mode = "scheduled".into();
        scheduled.schedule_time = Some("*/30 * * * * *".into());
        scheduled.state = RunState::Scheduled;
        scheduled.pid = None;
        scheduled.schedule = Some(schedule);
        scheduled
    }

    #[test]
    fn a_reload_by_signal_is_never_shown_as_applied() {
        let mut signalled = bot("hup", RunStatus::Running);
        signalled.reload = Some(ReloadInfo {
            mode: "signal".into(),
            at: 1_796_403_210,
            applied: false,
        });
        let mut restarted = bot("re", RunStatus::Running);
        restarted.reload = Some(ReloadInfo {
            mode: "restart".into(),
            at: 1_796_403_210,
            applied: true,
        });
        let out = status(&[signalled, restarted], None, &[], PLAIN);
        assert!(
            out.contains("hup: reload: SIGHUP sent ")
                && out.contains("not known whether the bot re-read"),
            "{out}"
        );
        assert!(out.contains("re: reload: restarted "), "{out}");
    }

    #[test]
    fn scheduled_bots_get_their_runs_and_restarted_bots_their_count() {
        let ran = ScheduleInfo {
            next_run: Some(1_796_403_240),
            last_run_started: Some(1_796_403_210),
            last_run_duration_ms: Some(1012),
            last_run_exit: Some(ExitInfo {
                code: Some(0),
                signal: None,
                at: 1_796_403_211,
                description: "exited with code 0".into(),
            }),
            skipped_ticks: 0,
            runs: 1,
            run_seconds: 1.012,
        };
        let fresh = ScheduleInfo {
            next_run: Some(1_796_403_240),
            last_run_started: None,
            last_run_duration_ms: None,
            last_run_exit: None,
            skipped_ticks: 0,
            runs: 0,
            run_seconds: 0.0,
        };
        let going = ScheduleInfo {
            next_run: None,
            last_run_started: Some(1_796_403_210),
            ..fresh.clone()
        };
        let mut flaky = bot("flaky", RunStatus::Running);
        flaky.restarts = 3;
        let mut once = bot("once", RunStatus::Running);
        once.restarts = 1;
        let output = super::response(
            &status_command(None),
            &status_of(vec![
                scheduled("fetcher", ran),
                flaky,
                scheduled("fresh", fresh),
                scheduled("going", going),
                once,
            ]),
            false,
            PLAIN,
        );
        let under: Vec<&str> = output.stdout.lines().skip(7).collect();
        let next = local_time(1_796_403_240_000);
        let last = local_time(1_796_403_210_000);
        assert_eq!(
            under,
            [
                format!("fetcher: next run {next}; last run {last} took 1.0 s, exited with code 0"),
                "flaky: restarted 3 times".to_owned(),
                format!("fresh: next run {next}; no run yet"),
                format!("going: not scheduled; last run {last} still running"),
                "once: restarted 1 time".to_owned(),
            ],
            "{}",
            output.stdout
        );
        assert!(next.len() == 19 && next.as_bytes()[10] == b' ', "{next}");
    }

    #[test]
    fn status_with_n_0_has_no_log_section() {
        let command = Command::Status {
            bot_id: Some("b".into()),
            log_lines: Some(0),
            select: Default::default(),
        };
        let output = super::response(
            &command,
            &status_of(vec![bot("b", RunStatus::Running)]),
            false,
            PLAIN,
        );
        assert_eq!(output.stdout.lines().count(), 3, "{}", output.stdout);
        assert!(!output.stdout.contains("log"), "{}", output.stdout);
    }

    #[test]
    fn metrics_are_printed_as_they_are() {
        let text = "# HELP intelmqd_bots Bots by status.\n# TYPE intelmqd_bots gauge\nintelmqd_bots{status=\"running\"} 1\n";
        let response = Response::success(vec![], Outcome::Metrics { text: text.into() });
        let human = super::response(&Command::Metrics, &response, false, COLOR);
        assert_eq!(human.stdout, text);
        let json = super::response(&Command::Metrics, &response, true, PLAIN);
        assert_eq!(
            json.stdout,
            format!("{}\n", serde_json::json!({ "text": text }))
        );
    }

    #[test]
    fn log_prints_the_lines_or_says_there_are_none() {
        let command = Command::Log {
            bot_id: "b".into(),
            lines: Some(2),
            level: Some("WARNING".into()),
        };
        let with = |lines: Vec<String>| {
            Response::success(
                vec![],
                Outcome::Log {
                    bot_id: "b".into(),
                    path: "/var/log/intelmq/b.log".into(),
                    lines,
                },
            )
        };
        let output = super::response(
            &command,
            &with(vec!["one".into(), "two".into()]),
            false,
            PLAIN,
        );
        assert_eq!(
            (output.stdout.as_str(), output.stderr.as_str()),
            ("one\ntwo\n", "")
        );
        let empty = super::response(&command, &with(vec![]), false, PLAIN);
        assert_eq!(empty.stdout, "");
        assert_eq!(
            empty.stderr,
            "intelmqctl: the log of b (/var/log/intelmq/b.log) has no lines at level WARNING or above\n"
        );
        let json = super::response(&command, &with(vec!["one".into()]), true, PLAIN);
        let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
        assert_eq!(value["result"]["kind"], "log");
        assert_eq!(value["result"]["path"], "/var/log/intelmq/b.log");
        assert_eq!(value["result"]["lines"][0], "one");
        assert_eq!(
            log_line("b", "x \"y\"", true),
            "{\"bot_id\":\"b\",\"line\":\"x \\\"y\\\"\"}\n"
        );
        assert_eq!(log_line("b", "x", false), "x\n");
    }

    #[test]
    fn events_as_lines_and_as_json() {
        let event = Event {
            at_ms: 1_796_403_210_123,
            kind: EventKind::RunEnded,
            bot_id: Some("fetcher".into()),
            pid: Some(12),
            exit: None,
            text: "the run of fetcher exited with code 0".into(),
        };
        assert_eq!(
            event_line(&event, false),
            format!(
                "{} run-ended fetcher: the run of fetcher exited with code 0\n",
                local_time(1_796_403_210_123)
            )
        );
        let config = Event {
            bot_id: None,
            kind: EventKind::ConfigChanged,
            text: "runtime.conf was read".into(),
            ..event.clone()
        };
        assert!(event_line(&config, false).ends_with(" config-changed: runtime.conf was read\n"));
        let json = event_line(&event, true);
        assert_eq!(json.lines().count(), 1);
        let back: Event = serde_json::from_str(&json).expect("an event");
        assert_eq!(back, event);
    }
}
