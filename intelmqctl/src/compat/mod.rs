//! The IntelMQ-compatible mode, `intelmqctl --type json|text ...`: IntelMQ's
//! own command forms answered in IntelMQ's output shapes and words, so that
//! intelmq-api and IntelMQ Manager work against intelmqd unchanged. It speaks
//! the same protocol as the rest of the client; it never asks a question
//! (every question of the daemon takes its default) and writes nothing on
//! stderr when a command succeeds.

mod args;
mod info;
mod logline;
mod states;

use std::path::Path;

use clap::Parser;
use intelmqd_proto::{Answers, Command, Response};
use serde_json::Value;

use crate::client::{self, ClientError};
use crate::exit;
use crate::render::Output;
pub use args::requested;
use args::{CompatCli, CompatCommand, OutputType};

/// IntelMQ's own intelmqctl, named where the daemon cannot help.
const INTELMQ_TOOL: &str = "IntelMQ's own intelmqctl (from the intelmq package, e.g. \
    /opt/intelmq-venv/bin/intelmqctl)";

/// What a command found: the JSON document, IntelMQ's text lines, and how it
/// ended. `failure` is said on stderr.
#[derive(Debug, Default)]
pub struct Report {
    pub code: u8,
    pub json: Value,
    /// Lines for stdout in text mode.
    pub text: String,
    /// Lines for stderr in text mode (IntelMQ writes warnings and errors there).
    pub text_errors: String,
    /// Why the command failed, for stderr in both modes.
    pub failure: Option<String>,
}

impl Report {
    /// A failure as IntelMQ reports one: the reason on stderr and, in json
    /// mode, the string `"error"` on stdout.
    pub fn error(code: u8, reason: impl Into<String>) -> Report {
        Report {
            code,
            json: Value::from("error"),
            failure: Some(reason.into()),
            ..Report::default()
        }
    }

    fn client_error(error: &ClientError) -> Report {
        Failure::client(error).into()
    }
}

/// Why a command failed: its exit code and the reason for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: u8,
    pub reason: String,
}

impl Failure {
    pub fn new(code: u8, reason: impl Into<String>) -> Failure {
        Failure {
            code,
            reason: reason.into(),
        }
    }

    fn client(error: &ClientError) -> Failure {
        Failure::new(error.exit_code(), error.to_string())
    }
}

impl From<Failure> for Report {
    fn from(failure: Failure) -> Report {
        Report::error(failure.code, failure.reason)
    }
}

/// Runs IntelMQ's form of the command line `args`.
pub fn run(args: Vec<String>) -> Output {
    let cli = match CompatCli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version go to stdout with 0, usage errors to stderr with 2.
            let text = error.render().to_string();
            let code = u8::try_from(error.exit_code()).unwrap_or(exit::USAGE);
            return if error.use_stderr() {
                Output {
                    code,
                    stderr: text,
                    ..Output::default()
                }
            } else {
                Output {
                    code,
                    stdout: text,
                    ..Output::default()
                }
            };
        }
    };
    let daemon = Daemon {
        socket: &cli.daemon.socket,
    };
    let report = execute(&daemon, cli.command);
    render(&report, cli.output)
}

fn execute(daemon: &Daemon<'_>, command: CompatCommand) -> Report {
    match command {
        CompatCommand::Start(target) => states::act(daemon, states::Verb::Start, &target),
        CompatCommand::Stop(target) => states::act(daemon, states::Verb::Stop, &target),
        CompatCommand::Restart(target) => states::act(daemon, states::Verb::Restart, &target),
        CompatCommand::Reload(target) => states::act(daemon, states::Verb::Reload, &target),
        CompatCommand::Status(target) => states::act(daemon, states::Verb::Status, &target),
        CompatCommand::Enable { bot_id } => states::set_botnet(daemon, &bot_id, true),
        CompatCommand::Disable { bot_id } => states::set_botnet(daemon, &bot_id, false),
        CompatCommand::List {
            kind,
            configured,
            quiet,
            ..
        } => info::list(daemon, kind, configured, quiet),
        CompatCommand::Clear { queue } => not_ours(&format!("clear {queue}"), "queues"),
        CompatCommand::Run { .. } => not_ours("run", "running a bot's process or messages"),
        CompatCommand::UpgradeConfig { .. } => not_ours("upgrade-config", "upgrades"),
        CompatCommand::Log {
            bot_id,
            number_of_lines,
            log_level,
        } => info::log(daemon, &bot_id, number_of_lines, log_level.as_deref()),
        CompatCommand::Check { .. } => info::check(daemon),
        CompatCommand::Debug {
            get_paths,
            get_environment_variables,
        } => info::debug(daemon, get_paths, get_environment_variables),
    }
}

/// A command of IntelMQ's broker and bot catalogue, which intelmqd does not have.
fn not_ours(command: &str, what: &str) -> Report {
    Report::error(
        exit::FAILED,
        format!(
            "intelmqctl: intelmqd manages bot processes only; for {what} ('{command}') \
             use {INTELMQ_TOOL}"
        ),
    )
}

/// The text of a report for the mode.
fn render(report: &Report, output: OutputType) -> Output {
    let mut stderr = String::new();
    let stdout = match output {
        OutputType::Json => pretty(&report.json),
        OutputType::Text => {
            stderr.push_str(&report.text_errors);
            report.text.clone()
        }
    };
    if let Some(failure) = &report.failure {
        stderr.push_str(failure);
        stderr.push('\n');
    }
    Output {
        code: report.code,
        stdout,
        stderr,
    }
}

/// JSON indented by four spaces, as IntelMQ's `json.dumps(..., indent=4)`.
fn pretty(value: &Value) -> String {
    use serde::Serialize;
    let mut bytes = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, formatter);
    // A Value always serialises.
    let _ = value.serialize(&mut serializer);
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    text.push('\n');
    text
}

/// The daemon, asked without questions: each question takes its default, so
/// that no caller is ever prompted or blocked.
pub struct Daemon<'a> {
    socket: &'a Path,
}

impl Daemon<'_> {
    pub fn request(&self, command: Command) -> Result<Response, ClientError> {
        client::request(self.socket, command, Answers::Default, &mut |_| None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_indented_like_intelmqs() {
        let text = pretty(&serde_json::json!({"a": "running"}));
        assert_eq!(text, "{\n    \"a\": \"running\"\n}\n");
        assert_eq!(pretty(&Value::from("stopped")), "\"stopped\"\n");
    }

    #[test]
    fn queue_commands_name_intelmqs_tool_and_fail() {
        let report = not_ours("clear q", "queues");
        assert_eq!(report.code, exit::FAILED);
        let output = render(&report, OutputType::Json);
        assert_eq!(output.stdout, "\"error\"\n");
        assert!(
            output.stderr.contains("IntelMQ's own intelmqctl"),
            "{}",
            output.stderr
        );
        let output = render(&report, OutputType::Text);
        assert!(output.stdout.is_empty());
        assert!(output.stderr.contains("'clear q'"), "{}", output.stderr);
    }
}
