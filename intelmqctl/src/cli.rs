//! The command line: clap definitions, and their conversion into a validated
//! [`Config`]. This is the only place raw arguments are looked at.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use intelmqd_proto::{validate_bot_id, Command};

use crate::exit;

/// The default control socket of the daemon.
pub const DEFAULT_SOCKET: &str = "/run/intelmq/intelmqd.sock";

#[derive(Debug, Parser)]
#[command(
    name = "intelmqctl",
    version,
    about = "Control the IntelMQ bots run by intelmqd",
    long_about = "Control the IntelMQ bots run by intelmqd.\n\n\
        intelmqctl sends one request to the daemon intelmqd over its Unix socket and \
        shows the answer: as tables and messages for humans, or as one JSON document \
        on stdout with --json, for scripts. The global options may be given before or \
        after the subcommand.",
    after_help = exit::HELP
)]
pub struct Cli {
    /// Print one JSON document on stdout instead of tables and messages.
    #[arg(long, global = true)]
    pub json: bool,

    /// Answer yes to every question of the daemon (for scripts).
    #[arg(long, global = true, conflicts_with = "no")]
    pub yes: bool,

    /// Answer no to every question of the daemon (for scripts).
    #[arg(long, global = true)]
    pub no: bool,

    /// The daemon's control socket.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "INTELMQ_SOCKET",
        default_value = DEFAULT_SOCKET
    )]
    pub socket: PathBuf,

    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Start a bot.
    #[command(long_about = "Start a bot.\n\n\
        The daemon starts the bot's module as `<module> <bot_id>` in the background \
        and answers once it runs. A bot that already runs is left alone (exit 0). \
        A scheduled bot is armed on its schedule; --now also runs it once right away.\n\n\
        With --debug the bot is run in this terminal instead, as `intelmqctl debug`.")]
    Start {
        /// Run a scheduled bot once right away.
        #[arg(long, conflicts_with = "debug")]
        now: bool,
        /// Run the bot in the foreground of this terminal (same as `debug`).
        #[arg(long)]
        debug: bool,
        /// The bot, as named in runtime.conf.
        bot_id: String,
    },
    /// Stop a bot.
    #[command(long_about = "Stop a bot.\n\n\
        The daemon sends SIGTERM to the bot's process group and, if the bot has not \
        stopped within the stop timeout (defaults.conf `stop_timeout`, 10 s), SIGKILL. \
        A bot that is not running is left alone (exit 0).")]
    Stop {
        /// The bot, as named in runtime.conf.
        bot_id: String,
    },
    /// Stop a bot, then start it again.
    #[command(long_about = "Stop a bot, then start it again.\n\n\
        The answer comes once the new process runs.")]
    Restart {
        /// The bot, as named in runtime.conf.
        bot_id: String,
    },
    /// Ask a running bot to reload its configuration (SIGHUP).
    #[command(long_about = "Ask a running bot to reload its configuration.\n\n\
        The daemon sends SIGHUP to the bot. A bot that is not running gets a warning \
        and nothing else (exit 0).")]
    Reload {
        /// The bot, as named in runtime.conf.
        bot_id: String,
    },
    /// Show the status of one bot or of every bot.
    #[command(long_about = "Show the status of one bot or of every bot.\n\n\
        Prints a table: bot_id, run_mode, scheduled_time (if applicable), is on botnet, \
        status (running, stopped, running (unstable), failed), enabled_on_boot and \
        configtest. A bot that exited by itself gets a line saying how. With a bot id, \
        the last lines of the bot's log follow the table.\n\n\
        With --json: a JSON array with one object a bot (also for one bot id).")]
    Status {
        /// Only this bot, with the tail of its log.
        bot_id: Option<String>,
    },
    /// List every configured bot.
    #[command(long_about = "List every configured bot.\n\n\
        Prints a table: bot_id, run_mode, scheduled_time (if applicable), is on botnet.\n\n\
        With --json: a JSON array with one object a bot.")]
    List,
    /// Run a bot in the foreground of this terminal.
    #[command(long_about = "Run a bot in the foreground of this terminal.\n\n\
        intelmqctl asks the daemon how to run the bot (the daemon refuses while the \
        bot runs under it) and then runs `<executable> <bot_id>` itself, with the \
        bot's environment, its input and output on this terminal. Ctrl+C goes to the \
        bot. intelmqctl exits with the bot's exit code, or 128+N if signal N killed it.")]
    Debug {
        /// The bot, as named in runtime.conf.
        bot_id: String,
    },
}

/// How the daemon's questions are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Ask at the terminal (the default).
    Ask,
    /// `--yes`.
    Yes,
    /// `--no`.
    No,
}

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this request and render the answer.
    Request(Command),
    /// Ask the daemon how to run this bot, then run it in the foreground.
    Debug(String),
}

/// The validated command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub socket: PathBuf,
    pub json: bool,
    /// Kept for the daemon's questions, which come in a later version.
    #[allow(dead_code)]
    pub answer: Answer,
    pub action: Action,
}

/// A command line that clap accepted but that is still not valid.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageError {
    /// The error kind for `--json`.
    pub kind: &'static str,
    pub message: String,
}

impl Cli {
    /// Checks what clap cannot (bot ids) and builds the config.
    pub fn into_config(self) -> Result<Config, UsageError> {
        let action = match self.command {
            Sub::Start {
                bot_id,
                debug: true,
                ..
            }
            | Sub::Debug { bot_id } => Action::Debug(checked(bot_id)?),
            Sub::Start { bot_id, now, .. } => Action::Request(Command::Start {
                bot_id: checked(bot_id)?,
                now,
            }),
            Sub::Stop { bot_id } => Action::Request(Command::Stop {
                bot_id: checked(bot_id)?,
            }),
            Sub::Restart { bot_id } => Action::Request(Command::Restart {
                bot_id: checked(bot_id)?,
            }),
            Sub::Reload { bot_id } => Action::Request(Command::Reload {
                bot_id: checked(bot_id)?,
            }),
            Sub::Status { bot_id } => Action::Request(Command::Status {
                bot_id: bot_id.map(checked).transpose()?,
                log_lines: None,
            }),
            Sub::List => Action::Request(Command::List),
        };
        // clap's conflicts_with misses a global flag given on each side of the
        // subcommand (`--yes list --no`), so check again here.
        let answer = match (self.yes, self.no) {
            (true, true) => {
                return Err(UsageError {
                    kind: "usage",
                    message: "--yes and --no cannot be used together; give one of them".into(),
                })
            }
            (true, false) => Answer::Yes,
            (false, true) => Answer::No,
            (false, false) => Answer::Ask,
        };
        Ok(Config {
            socket: self.socket,
            json: self.json,
            answer,
            action,
        })
    }
}

fn checked(bot_id: String) -> Result<String, UsageError> {
    match validate_bot_id(&bot_id) {
        Ok(()) => Ok(bot_id),
        Err(problem) => Err(UsageError {
            kind: "invalid-bot-id",
            message: format!("invalid bot id {bot_id:?}: {problem}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Result<Config, String> {
        let cli = Cli::try_parse_from(args).map_err(|e| e.to_string())?;
        cli.into_config().map_err(|e| e.message)
    }

    #[test]
    fn global_flags_go_before_or_after_the_subcommand() {
        let before = config(&["intelmqctl", "--json", "--socket", "/s", "stop", "a"]);
        let after = config(&["intelmqctl", "stop", "a", "--json", "--socket", "/s"]);
        assert_eq!(before, after);
        let config = before.expect("valid");
        assert!(config.json);
        assert_eq!(config.socket, PathBuf::from("/s"));
    }

    #[test]
    fn yes_and_no_conflict() {
        assert!(config(&["intelmqctl", "--yes", "--no", "list"]).is_err());
        assert!(config(&["intelmqctl", "list", "--yes", "--no"]).is_err());
        assert!(config(&["intelmqctl", "--yes", "list", "--no"]).is_err());
        let yes = config(&["intelmqctl", "list", "--yes"]).expect("valid");
        assert_eq!(yes.answer, Answer::Yes);
    }

    #[test]
    fn start_debug_is_debug() {
        let config = config(&["intelmqctl", "start", "--debug", "b"]).expect("valid");
        assert_eq!(config.action, Action::Debug("b".into()));
    }

    #[test]
    fn invalid_bot_ids_are_refused_with_the_reason() {
        let error = config(&["intelmqctl", "status", "../x"]).unwrap_err();
        assert!(
            error.contains("\"../x\"") && error.contains("'/'"),
            "{error}"
        );
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
