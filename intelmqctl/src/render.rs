//! What the user sees: pure functions from a daemon's [`Response`] (or a client
//! error) to the text for stdout and stderr and the exit code. Human output is
//! messages and comfy-table tables (no colour yet); `--json` output is one JSON
//! document on stdout.

use comfy_table::{presets, Table};
use intelmqd_proto::Level;
use intelmqd_proto::{
    ActionRow, BotStatus, Command, ConfigTest, ListRow, Message, Outcome, Response, RunState,
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
pub fn response(command: &Command, response: &Response, json: bool) -> Output {
    if !response.ok {
        return failure(response, json);
    }
    match command {
        Command::Status { bot_id, .. } => match &response.result {
            Some(Outcome::Status { bots, log }) => {
                if json {
                    json_output(serde_json::to_string(bots), exit::SUCCESS)
                } else {
                    let mut stdout = messages(&response.messages);
                    stdout.push_str(&status(bots, bot_id.as_deref(), log));
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
        _ => {
            let code = run_exit_code(command, response).unwrap_or(exit::SUCCESS);
            if json {
                return json_output(serde_json::to_string(response), code);
            }
            let mut stdout = messages(&response.messages);
            if let Some(Outcome::Actions { bots }) = &response.result {
                if acts_on_many(command) {
                    stdout.push_str(&actions(bots));
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
pub fn actions(bots: &[ActionRow]) -> String {
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
            bot.bot_id.clone(),
            action,
            bot.status.table_word().to_owned(),
            detail,
        ]);
    }
    format!("{table}\n")
}

/// The daemon answered `ok: false`: the messages (and the rows of a botnet
/// action), then the error; exit 1.
pub fn failure(response: &Response, json: bool) -> Output {
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
            stdout.push_str(&actions(bots));
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

/// The status table, a line for each bot that exited by itself, and, when one
/// bot was asked for, the tail of its log.
pub fn status(bots: &[BotStatus], bot_id: Option<&str>, log: &[String]) -> String {
    let mut table = new_table(&STATUS_HEADERS);
    for bot in bots {
        table.add_row(vec![
            bot.bot_id.as_str(),
            bot.run_mode.as_str(),
            bot.schedule_time.as_deref().unwrap_or("-"),
            if bot.botnet { "true" } else { "false" },
            bot.status.table_word(),
            if bot.onboot { "yes" } else { "no" },
            match bot.configtest {
                ConfigTest::Valid => "valid",
                ConfigTest::Invalid => "invalid",
            },
        ]);
    }
    let mut out = format!("{table}\n");
    for bot in bots {
        if let (RunState::Exited, Some(last_exit)) = (bot.state, &bot.last_exit) {
            out.push_str(&format!("{}: {}\n", bot.bot_id, last_exit.description));
        }
    }
    if let Some(bot_id) = bot_id {
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
    use intelmqd_proto::{ActionKind, ActionRow, ErrorKind, ExitInfo, RunStatus};

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
        let output = super::response(&status_command(None), &response, false);
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
        let output = super::response(&status_command(Some("b")), &response, false);
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
        let output = super::response(&status_command(Some("b")), &response, false);
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
        assert!(!status(&[restarted], None, &[]).contains("exited"));
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
        let output = super::response(&status_command(Some("b")), &response, true);
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
        let human = super::response(&Command::List, &response, false);
        let lines: Vec<&str> = human.stdout.lines().collect();
        assert_eq!(cells(lines[0]), LIST_HEADERS);
        assert_eq!(cells(lines[2]), ["a", "stream", "-", "true"]);
        assert_eq!(cells(lines[3]), ["b", "scheduled", "@hourly", "false"]);
        let json = super::response(&Command::List, &response, true);
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
        let human = super::response(&command, &response, false);
        assert_eq!(
            human,
            Output {
                stdout: "Starting b...\nb is running.\nwarning: careful\nerror: oops\n".into(),
                stderr: String::new(),
                code: exit::SUCCESS,
            }
        );
        let json = super::response(&command, &response, true);
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
        let human = super::response(&botnet, &response, false);
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
        assert_eq!(super::response(&exec, &response, false).code, 5);
        assert_eq!(super::response(&exec, &response, true).code, 5);
    }

    #[test]
    fn daemon_errors_exit_1() {
        let mut response = Response::failure(ErrorKind::UnknownBot, "no bot \"x\" in runtime.conf");
        response.messages = vec![Message::new(Level::Warning, None, "first")];
        let command = Command::Stop {
            bot_id: Some("x".into()),
            select: Default::default(),
        };
        let human = super::response(&command, &response, false);
        assert_eq!(
            human,
            Output {
                stdout: "warning: first\n".into(),
                stderr: "intelmqctl: error: no bot \"x\" in runtime.conf\n".into(),
                code: exit::FAILED,
            }
        );
        let json = super::response(&status_command(Some("x")), &response, true);
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
        let output = super::response(&status_command(None), &response, false);
        assert_eq!(output.code, exit::PROTOCOL);
        assert!(
            output.stderr.starts_with("intelmqctl: error:"),
            "{}",
            output.stderr
        );
    }
}
