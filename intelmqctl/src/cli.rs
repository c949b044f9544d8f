//! The command line: clap definitions, and their conversion into a validated
//! [`Config`]. This is the only place raw arguments are looked at.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use intelmqd_proto::{validate_bot_id, Command, Selection};

use crate::exit;

/// The default control socket of the daemon.
pub const DEFAULT_SOCKET: &str = "/run/intelmq/intelmqd.sock";

/// Where the daemon is: both command lines (ours and IntelMQ's forms) take it.
#[derive(Debug, Clone, clap::Args)]
pub struct DaemonSocket {
    /// The daemon's control socket.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "INTELMQ_SOCKET",
        default_value = DEFAULT_SOCKET
    )]
    pub socket: PathBuf,
}

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
    /// Print JSON on stdout instead of tables and messages: one document
    /// (`events` and `log --follow`: one object a line).
    #[arg(long, global = true)]
    pub json: bool,

    /// Answer yes to every question of the daemon (for scripts).
    #[arg(long, global = true, conflicts_with = "no")]
    pub yes: bool,

    /// Answer no to every question of the daemon (for scripts).
    #[arg(long, global = true)]
    pub no: bool,

    #[command(flatten)]
    pub daemon: DaemonSocket,

    /// IntelMQ's command forms and output, for intelmq-api and IntelMQ
    /// Manager: `--type json` prints one JSON document as IntelMQ's intelmqctl
    /// does, `--type text` IntelMQ's lines (see "IntelMQ-compatible output" in
    /// docs/operations.md).
    #[arg(
        long = "type",
        short = 't',
        global = true,
        value_name = "TYPE",
        value_parser = ["json", "text"]
    )]
    pub intelmq_type: Option<String>,

    #[command(subcommand)]
    pub command: Sub,
}

/// Which bots a command without a bot id acts on.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct SelectArgs {
    /// Act on every bot of runtime.conf, not only the botnet (botnet: true).
    #[arg(long)]
    pub all: bool,
    /// Only the stream bots.
    #[arg(long)]
    pub stream_bots: bool,
    /// Only the scheduled bots.
    #[arg(long)]
    pub scheduled_bots: bool,
}

impl SelectArgs {
    fn any(self) -> bool {
        self.all || self.stream_bots || self.scheduled_bots
    }

    fn selection(self) -> Selection {
        Selection {
            all: self.all,
            stream_bots: self.stream_bots,
            scheduled_bots: self.scheduled_bots,
        }
    }
}

const BOTNET: &str = "Without a bot id the command acts on the botnet: every bot with \
    `botnet: true` in runtime.conf (and any bot removed from runtime.conf that still \
    runs), all at once, one row a bot. --all acts on every bot instead; \
    --stream-bots and --scheduled-bots keep only the bots of that run mode. The exit \
    code is 0 only when every bot ended where it was asked to be.";

#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Start a bot, or the botnet.
    #[command(long_about = format!("Start a bot, or the botnet.\n\n\
        The daemon starts a stream bot's module as `<module> <bot_id>` in the background \
        and answers once it runs; a scheduled bot is put on its schedule. A bot that \
        already runs is left alone (exit 0).\n\n\
        --now runs a scheduled bot once right away instead (a stream bot just starts); \
        with --wait the answer comes when that run ended, with its exit status. \
        With --debug the bot is run in this terminal instead, as `intelmqctl debug`.\n\n{BOTNET}"))]
    Start {
        /// Run a scheduled bot once right away.
        #[arg(long, conflicts_with = "debug")]
        now: bool,
        /// With --now: answer when the run has ended.
        #[arg(long, requires = "now")]
        wait: bool,
        /// Run the bot in the foreground of this terminal (same as `debug`).
        #[arg(long, requires = "bot_id")]
        debug: bool,
        /// The bot, as named in runtime.conf; without it, the botnet.
        bot_id: Option<String>,
        #[command(flatten)]
        select: SelectArgs,
    },
    /// Stop a bot, or the botnet.
    #[command(long_about = format!("Stop a bot, or the botnet.\n\n\
        The daemon sends SIGTERM to the bot's process group and, if the bot has not \
        stopped within the stop timeout (defaults.conf `stop_timeout`, 10 s), SIGKILL. \
        A scheduled bot is taken off its schedule. A bot that is not running is left \
        alone (exit 0).\n\n{BOTNET}"))]
    Stop {
        /// The bot, as named in runtime.conf; without it, the botnet.
        bot_id: Option<String>,
        #[command(flatten)]
        select: SelectArgs,
    },
    /// Stop a bot (or the botnet), then start it again.
    #[command(long_about = format!("Stop a bot, then start it again.\n\n\
        The answer comes once the new process runs.\n\n{BOTNET}"))]
    Restart {
        /// The bot, as named in runtime.conf; without it, the botnet.
        bot_id: Option<String>,
        #[command(flatten)]
        select: SelectArgs,
    },
    /// Ask a running bot (or the botnet) to reload its configuration.
    #[command(long_about = format!("Ask a running bot to reload its configuration.\n\n\
        The daemon sends SIGHUP to the bot; a scheduled bot gets the schedule now in \
        runtime.conf. A bot that is not running is left alone (exit 0). Before that the \
        daemon checks runtime.conf against what the bot runs with and may ask: whether to \
        restart a bot whose run_mode changed [Y/n], whether to stop a running bot that \
        was removed from runtime.conf [N/y]. --yes or --no answer for scripts; without \
        a terminal and without them, the default is taken.\n\n{BOTNET}"))]
    Reload {
        /// The bot, as named in runtime.conf; without it, the botnet.
        bot_id: Option<String>,
        #[command(flatten)]
        select: SelectArgs,
    },
    /// Show the status of one bot or of the botnet.
    #[command(long_about = "Show the status of one bot or of the botnet.\n\n\
        Prints a table: bot_id, run_mode, scheduled_time (if applicable), is on botnet, \
        status (running, stopped, running (unstable), failed), enabled_on_boot and \
        configtest. A bot that exited by itself gets a line saying how. With a bot id, \
        the last lines of the bot's log follow the table (-n sets how many).\n\n\
        Without a bot id: the botnet; --all shows every bot.\n\n\
        With --json: a JSON array with one object a bot (also for one bot id).")]
    Status {
        /// Only this bot, with the tail of its log.
        bot_id: Option<String>,
        /// How many log lines to show with one bot (default 10; 0: none).
        #[arg(short = 'n', long, value_name = "N", requires = "bot_id")]
        lines: Option<usize>,
        #[command(flatten)]
        select: SelectArgs,
    },
    /// List every configured bot.
    #[command(long_about = "List every configured bot.\n\n\
        Prints a table: bot_id, run_mode, scheduled_time (if applicable), is on botnet.\n\n\
        With --json: a JSON array with one object a bot.")]
    List,
    /// Check the configuration files and the bots.
    #[command(
        visible_alias = "check",
        long_about = "Check the configuration files and the bots.\n\n\
        Two kinds of check: each file must be valid JSON (the error names the file, line \
        and column), and each bot's configuration must be usable: a known run_mode, a \
        valid schedule_time where scheduled, its module an executable on PATH, a valid \
        bot id; pipeline.conf must only name configured bots; no bot may run that was \
        removed from runtime.conf without being stopped. Exit 0 only when all is valid."
    )]
    Configtest {
        /// Only this bot (the files are always checked).
        bot_id: Option<String>,
    },
    /// Mark a bot (or the botnet) to start at boot.
    #[command(long_about = format!("Mark a bot to start at boot (onboot: true).\n\n\
        Only the systemd process manager starts bots at boot. Under the PID process \
        manager onboot is set to false and the daemon says why.\n\n{BOTNET}"))]
    Enable {
        /// The bot, as named in runtime.conf; without it, the botnet.
        bot_id: Option<String>,
        #[command(flatten)]
        select: SelectArgs,
    },
    /// Mark a bot (or the botnet) not to start at boot.
    #[command(long_about = format!("Mark a bot not to start at boot (onboot: false).\n\n{BOTNET}"))]
    Disable {
        /// The bot, as named in runtime.conf; without it, the botnet.
        bot_id: Option<String>,
        #[command(flatten)]
        select: SelectArgs,
    },
    /// Make a bot part of the botnet (botnet: true), without starting it.
    #[command(long_about = "Make a bot part of the botnet.\n\n\
        Sets `botnet: true` in runtime.conf (only that value changes in the file) and in \
        the daemon's internal configuration. The bot keeps running or stopped as it is.")]
    AddToBotnet {
        /// The bot, as named in runtime.conf.
        bot_id: String,
    },
    /// Take a bot out of the botnet (botnet: false), without stopping it.
    #[command(long_about = "Take a bot out of the botnet.\n\n\
        Sets `botnet: false` in runtime.conf (only that value changes in the file) and in \
        the daemon's internal configuration. The bot keeps running or stopped as it is.")]
    RemoveFromBotnet {
        /// The bot, as named in runtime.conf.
        bot_id: String,
    },
    /// Run a bot once now, as its schedule would, and wait for it.
    #[command(
        long_about = "Run a bot once now, as its schedule would, and wait for it.\n\n\
        For an operator testing a schedule by hand: the daemon runs `<module> <bot_id>` \
        once (same process group, log file and stop rules as a scheduled run) and \
        answers when it ended. intelmqctl exits with the bot's exit status (128+N if \
        signal N ended it)."
    )]
    SchedulerExec {
        /// The bot, as named in runtime.conf.
        bot_id: String,
    },
    /// Show the last lines of a bot's log, and follow it.
    #[command(long_about = "Show the last lines of a bot's log, and follow it.\n\n\
        The daemon reads the last N lines of <log_dir>/<bot_id>.log (default 10) and \
        says where the file is. With --follow intelmqctl then reads the file itself and \
        prints new lines as the bot writes them, also after the log was rotated (renamed \
        away and created anew, or truncated), until Ctrl+C.\n\n\
        --level keeps the lines of that level and above (DEBUG, INFO, WARNING, ERROR, \
        CRITICAL; ALL keeps every line). A line's level is the third field of IntelMQ's \
        `<time> - <bot_id> - <LEVEL> - <message>`; a line without one (a traceback) goes \
        with the line before it.\n\n\
        As with IntelMQ's intelmqctl, `intelmqctl log <bot_id> <N> <LEVEL>` works too.\n\n\
        With --json: the daemon's response object; with --follow, then one \
        {\"bot_id\":...,\"line\":...} object a new line.")]
    Log {
        /// The bot, as named in runtime.conf.
        bot_id: String,
        /// How many lines (IntelMQ's positional form of -n).
        #[arg(value_name = "N", conflicts_with = "lines")]
        count: Option<usize>,
        /// The lowest level shown (IntelMQ's positional form of --level).
        #[arg(value_name = "LEVEL", value_parser = parse_level, conflicts_with = "level")]
        positional_level: Option<String>,
        /// How many of the last lines to show (default 10).
        #[arg(short = 'n', long, value_name = "N")]
        lines: Option<usize>,
        /// Show only lines of this level and above: DEBUG, INFO, WARNING, ERROR,
        /// CRITICAL, or ALL.
        #[arg(long, value_name = "LEVEL", value_parser = parse_level)]
        level: Option<String>,
        /// Go on printing new lines as they are written, until Ctrl+C.
        #[arg(short = 'f', long)]
        follow: bool,
    },
    /// Print the daemon's events as they happen, until Ctrl+C.
    #[command(
        long_about = "Print the daemon's events as they happen, until Ctrl+C.\n\n\
        One line an event: `<local time> <kind> <bot_id>: <text>`. The kinds: started, \
        stopped, exited, restarting, restarted, failed, scheduled, unscheduled, \
        run-started, run-ended, tick-skipped, config-changed, config-invalid, and lagged \
        (this client read too slowly and missed events).\n\n\
        With --json: one JSON object an event (at_ms, kind, bot_id, pid, exit, text)."
    )]
    Events,
    /// Print the daemon's metrics in the Prometheus text format.
    #[command(
        long_about = "Print the daemon's metrics in the Prometheus text format.\n\n\
        Bots by status, each bot up or not, automatic restarts, last exit codes, the runs \
        of scheduled bots and the control socket's counters, as text for node_exporter's \
        textfile collector.\n\n\
        With --json: {\"text\": \"<the same text>\"}."
    )]
    Metrics,
    /// Print a shell completion script for intelmqctl.
    #[command(long_about = "Print a shell completion script for intelmqctl.\n\n\
        bash:  intelmqctl completions bash > /etc/bash_completion.d/intelmqctl\n\
        zsh:   intelmqctl completions zsh > \"${fpath[1]}/_intelmqctl\"\n\
        fish:  intelmqctl completions fish > ~/.config/fish/completions/intelmqctl.fish\n\n\
        The Debian package installs them. Needs no daemon.")]
    Completions {
        /// The shell.
        shell: Shell,
    },
    /// Run a bot in the foreground of this terminal.
    #[command(
        visible_alias = "run",
        long_about = "Run a bot in the foreground of this terminal.\n\n\
        intelmqctl asks the daemon how to run the bot (the daemon refuses while the \
        bot runs or is scheduled) and then runs `<executable> <bot_id>` itself, with the \
        bot's environment, its input and output on this terminal. Ctrl+C goes to the \
        bot. intelmqctl exits with the bot's exit code, or 128+N if signal N killed it."
    )]
    Debug {
        /// The bot, as named in runtime.conf.
        bot_id: String,
    },
}

/// How the daemon's questions are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Ask at the terminal when there is one, else take the defaults.
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
    /// The last lines of a bot's log, then (with `follow`) its new lines.
    Log(LogArgs),
    /// Subscribe to the daemon's events and print them until Ctrl+C.
    Events,
    /// Print a completion script; needs no daemon.
    Completions(Shell),
}

/// What `log` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogArgs {
    pub bot_id: String,
    /// How many of the last lines (default 10).
    pub lines: usize,
    /// The lowest level shown, upper case; `None` for every line (also `ALL`).
    pub level: Option<String>,
    pub follow: bool,
}

/// The default number of lines of `log`.
pub const DEFAULT_LOG_LINES: usize = 10;

/// The shells `completions` writes scripts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Shell {
    /// Every shell, for the generator of the packaged completions.
    pub const ALL: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

    pub fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
        }
    }

    /// The completion script for `command`, installed as `bin_name`.
    pub fn script(self, command: &mut clap::Command, bin_name: &str) -> String {
        let mut bytes = Vec::new();
        match self {
            Shell::Bash => {
                clap_complete::generate(clap_complete::Shell::Bash, command, bin_name, &mut bytes)
            }
            Shell::Zsh => {
                clap_complete::generate(clap_complete::Shell::Zsh, command, bin_name, &mut bytes)
            }
            Shell::Fish => {
                clap_complete::generate(clap_complete::Shell::Fish, command, bin_name, &mut bytes)
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Where Debian's shells look for a completion script of `bin_name`.
    pub fn debian_path(self, bin_name: &str) -> String {
        match self {
            Shell::Bash => format!("usr/share/bash-completion/completions/{bin_name}"),
            Shell::Zsh => format!("usr/share/zsh/vendor-completions/_{bin_name}"),
            Shell::Fish => format!("usr/share/fish/vendor_completions.d/{bin_name}.fish"),
        }
    }
}

/// The levels of IntelMQ's log lines, lowest first, as `--level` takes them.
pub const LOG_LEVELS: [&str; 5] = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

/// `--level`: one of [`LOG_LEVELS`] or `ALL`, in any case; upper case.
fn parse_level(text: &str) -> Result<String, String> {
    let upper = text.to_ascii_uppercase();
    if upper == "ALL" || LOG_LEVELS.contains(&upper.as_str()) {
        Ok(upper)
    } else {
        Err(format!(
            "unknown log level {text:?}: use {}, or ALL",
            LOG_LEVELS.join(", ")
        ))
    }
}

/// The validated command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub socket: PathBuf,
    pub json: bool,
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
    /// Checks what clap cannot (bot ids, selections beside a bot id) and
    /// builds the config.
    pub fn into_config(self) -> Result<Config, UsageError> {
        let action = match self.command {
            Sub::Start {
                bot_id: Some(bot_id),
                debug: true,
                ..
            }
            | Sub::Debug { bot_id } => Action::Debug(checked(bot_id)?),
            Sub::Start {
                bot_id,
                now,
                wait,
                select,
                ..
            } => {
                let (bot_id, select) = target(bot_id, select)?;
                Action::Request(Command::Start {
                    bot_id,
                    now,
                    wait,
                    select,
                })
            }
            Sub::Stop { bot_id, select } => {
                let (bot_id, select) = target(bot_id, select)?;
                Action::Request(Command::Stop { bot_id, select })
            }
            Sub::Restart { bot_id, select } => {
                let (bot_id, select) = target(bot_id, select)?;
                Action::Request(Command::Restart { bot_id, select })
            }
            Sub::Reload { bot_id, select } => {
                let (bot_id, select) = target(bot_id, select)?;
                Action::Request(Command::Reload { bot_id, select })
            }
            Sub::Status {
                bot_id,
                lines,
                select,
            } => {
                let (bot_id, select) = target(bot_id, select)?;
                Action::Request(Command::Status {
                    bot_id,
                    log_lines: lines,
                    select,
                })
            }
            Sub::Enable { bot_id, select } => {
                let (bot_id, select) = target(bot_id, select)?;
                Action::Request(Command::Enable { bot_id, select })
            }
            Sub::Disable { bot_id, select } => {
                let (bot_id, select) = target(bot_id, select)?;
                Action::Request(Command::Disable { bot_id, select })
            }
            Sub::Configtest { bot_id } => Action::Request(Command::Configtest {
                bot_id: bot_id.map(checked).transpose()?,
            }),
            Sub::AddToBotnet { bot_id } => Action::Request(Command::AddToBotnet {
                bot_id: checked(bot_id)?,
            }),
            Sub::RemoveFromBotnet { bot_id } => Action::Request(Command::RemoveFromBotnet {
                bot_id: checked(bot_id)?,
            }),
            Sub::SchedulerExec { bot_id } => Action::Request(Command::SchedulerExec {
                bot_id: checked(bot_id)?,
            }),
            Sub::List => Action::Request(Command::List),
            Sub::Log {
                bot_id,
                count,
                positional_level,
                lines,
                level,
                follow,
            } => Action::Log(LogArgs {
                bot_id: checked(bot_id)?,
                lines: lines.or(count).unwrap_or(DEFAULT_LOG_LINES),
                level: level.or(positional_level).filter(|level| level != "ALL"),
                follow,
            }),
            Sub::Events => Action::Events,
            Sub::Metrics => Action::Request(Command::Metrics),
            Sub::Completions { shell } => Action::Completions(shell),
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
            socket: self.daemon.socket,
            json: self.json,
            answer,
            action,
        })
    }
}

/// A bot id, or a selection of bots, but not both.
fn target(
    bot_id: Option<String>,
    select: SelectArgs,
) -> Result<(Option<String>, Selection), UsageError> {
    match bot_id {
        Some(bot_id) if select.any() => Err(UsageError {
            kind: "usage",
            message: format!(
                "--all, --stream-bots and --scheduled-bots choose the bots of a botnet command; \
                 leave them out to act on {bot_id} alone, or leave out {bot_id}"
            ),
        }),
        Some(bot_id) => Ok((Some(checked(bot_id)?), Selection::default())),
        None => Ok((None, select.selection())),
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
    fn without_a_bot_id_a_command_acts_on_a_selection() {
        let config = config(&["intelmqctl", "stop", "--all", "--stream-bots"]).expect("valid");
        assert_eq!(
            config.action,
            Action::Request(Command::Stop {
                bot_id: None,
                select: Selection {
                    all: true,
                    stream_bots: true,
                    scheduled_bots: false
                }
            })
        );
        let error = config_error(&["intelmqctl", "stop", "a", "--all"]);
        assert!(error.contains("--all"), "{error}");
    }

    fn config_error(args: &[&str]) -> String {
        config(args).expect_err("refused")
    }

    #[test]
    fn check_and_run_are_intelmq_habits() {
        let check = config(&["intelmqctl", "check"]).expect("valid");
        assert_eq!(
            check.action,
            Action::Request(Command::Configtest { bot_id: None })
        );
        let run = config(&["intelmqctl", "run", "b"]).expect("valid");
        assert_eq!(run.action, Action::Debug("b".into()));
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

    fn log_args(args: &[&str]) -> LogArgs {
        match config(args).expect("valid").action {
            Action::Log(log) => log,
            other => panic!("not log: {other:?}"),
        }
    }

    #[test]
    fn log_takes_flags_and_intelmqs_positional_forms() {
        assert_eq!(
            log_args(&["intelmqctl", "log", "b"]),
            LogArgs {
                bot_id: "b".into(),
                lines: 10,
                level: None,
                follow: false
            }
        );
        let flags = log_args(&[
            "intelmqctl",
            "log",
            "b",
            "-n",
            "5",
            "--level",
            "warning",
            "-f",
        ]);
        assert_eq!(
            flags,
            LogArgs {
                bot_id: "b".into(),
                lines: 5,
                level: Some("WARNING".into()),
                follow: true
            }
        );
        let positional = log_args(&["intelmqctl", "log", "b", "5", "WARNING", "--follow"]);
        assert_eq!(positional, flags);
        assert_eq!(log_args(&["intelmqctl", "log", "b", "20"]).lines, 20);
        assert_eq!(
            log_args(&["intelmqctl", "log", "b", "3", "ALL"]).level,
            None
        );
        assert!(config(&["intelmqctl", "log", "b", "--level", "LOUD"]).is_err());
        assert!(config(&["intelmqctl", "log", "b", "5", "-n", "6"]).is_err());
        assert!(config(&["intelmqctl", "log", "../b"]).is_err());
    }

    #[test]
    fn the_new_commands_parse() {
        assert_eq!(
            config(&["intelmqctl", "events"]).expect("valid").action,
            Action::Events
        );
        assert_eq!(
            config(&["intelmqctl", "metrics", "--json"])
                .expect("valid")
                .action,
            Action::Request(Command::Metrics)
        );
        assert_eq!(
            config(&["intelmqctl", "completions", "zsh"])
                .expect("valid")
                .action,
            Action::Completions(Shell::Zsh)
        );
        let status = config(&["intelmqctl", "status", "b", "-n", "0"]).expect("valid");
        assert_eq!(
            status.action,
            Action::Request(Command::Status {
                bot_id: Some("b".into()),
                log_lines: Some(0),
                select: Selection::default()
            })
        );
    }

    #[test]
    fn completion_scripts_name_the_subcommands() {
        use clap::CommandFactory;
        for shell in Shell::ALL {
            let script = shell.script(&mut Cli::command(), "intelmqctl");
            assert!(script.contains("intelmqctl"), "{shell:?}");
            assert!(script.contains("scheduler-exec"), "{shell:?}");
            assert!(script.contains("completions"), "{shell:?}");
        }
    }
}
