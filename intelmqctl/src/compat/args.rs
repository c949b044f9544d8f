//! The command line of the IntelMQ-compatible mode: IntelMQ's own intelmqctl
//! forms (`--type json start --group parsers`, `log <bot_id> 10 INFO`,
//! `list bots --configured`, `debug --get-paths`, ...), parsed with clap into
//! [`CompatCommand`].
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::cli::DaemonSocket;

/// What the output looks like: IntelMQ's `--type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputType {
    /// One JSON document on stdout, as IntelMQ's `--type json`.
    Json,
    /// IntelMQ's human lines.
    Text,
}

#[derive(Debug, Parser)]
#[command(
    name = "intelmqctl",
    version,
    about = "intelmqctl in IntelMQ's command forms and output (--type json|text)"
)]
pub struct CompatCli {
    /// json: one JSON document as IntelMQ prints it; text: IntelMQ's lines.
    #[arg(
        long = "type",
        short = 't',
        global = true,
        value_enum,
        default_value = "text"
    )]
    pub output: OutputType,

    /// Quiet mode (accepted for IntelMQ's command lines).
    #[arg(long, short = 'q')]
    pub quiet: bool,

    #[command(flatten)]
    pub daemon: DaemonSocket,

    #[command(subcommand)]
    pub command: CompatCommand,
}

/// A bot, or a group of bots, or (neither) the botnet.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// The bot; without it, the botnet (or the group).
    pub bot_id: Option<String>,
    /// Only the bots of this group (the entry's `group`); botnet: every bot.
    #[arg(long, value_enum, conflicts_with = "bot_id")]
    pub group: Option<Group>,
}

/// IntelMQ's `--group` values and the entry `group` each stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Group {
    Collectors,
    Parsers,
    Experts,
    Outputs,
    Botnet,
}

impl Group {
    /// The value of the runtime configuration's `group` key; `None` for the
    /// whole botnet.
    pub fn entry_group(self) -> Option<&'static str> {
        match self {
            Group::Collectors => Some("Collector"),
            Group::Parsers => Some("Parser"),
            Group::Experts => Some("Expert"),
            Group::Outputs => Some("Output"),
            Group::Botnet => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListKind {
    Bots,
    Queues,
    QueuesAndStatus,
}

#[derive(Debug, Subcommand)]
pub enum CompatCommand {
    /// Start a bot, a group or the botnet.
    Start(Target),
    /// Stop a bot, a group or the botnet.
    Stop(Target),
    /// Restart a bot, a group or the botnet.
    Restart(Target),
    /// Reload a bot, a group or the botnet.
    Reload(Target),
    /// The state of a bot, a group or the botnet.
    Status(Target),
    /// Put a bot into the botnet (IntelMQ's `enabled: true`).
    Enable { bot_id: String },
    /// Take a bot out of the botnet (IntelMQ's `enabled: false`).
    Disable { bot_id: String },
    /// The configured bots (bots, --configured); queues are IntelMQ's own.
    List {
        kind: ListKind,
        /// Only the configured bots.
        #[arg(long, short = 'c', conflicts_with = "non_configured")]
        configured: bool,
        /// The bots of the installed IntelMQ package.
        #[arg(long)]
        non_configured: bool,
        /// Text: only the ids of the bots in the botnet.
        #[arg(long, short = 'q', visible_alias = "non-zero")]
        quiet: bool,
        /// Queues only: the total of the messages.
        #[arg(long, short = 's', visible_alias = "sum")]
        count: bool,
    },
    /// Clear a queue (IntelMQ's own intelmqctl does this).
    Clear { queue: String },
    /// The last entries of a bot's log, at a level and above.
    Log {
        bot_id: String,
        /// How many entries (default 10; -1: all that the daemon returns).
        #[arg(allow_negative_numbers = true)]
        number_of_lines: Option<i64>,
        /// DEBUG, INFO (default), WARNING, ERROR, CRITICAL (ALL: DEBUG).
        log_level: Option<String>,
    },
    /// Run a bot's process or its messages (IntelMQ's own intelmqctl does this).
    Run {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        arguments: Vec<String>,
    },
    /// Check the configuration.
    Check {
        /// Accepted for IntelMQ's command lines.
        #[arg(long, short = 'q')]
        quiet: bool,
        /// Accepted for IntelMQ's command lines (the daemon checks no broker).
        #[arg(long, short = 'C')]
        no_connections: bool,
    },
    /// Paths and environment variables.
    Debug {
        /// Only the paths.
        #[arg(long)]
        get_paths: bool,
        /// Only the environment variables.
        #[arg(long)]
        get_environment_variables: bool,
    },
    /// Upgrade the configuration (IntelMQ's own intelmqctl does this).
    UpgradeConfig {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        arguments: Vec<String>,
    },
}

/// Whether the command line asks for IntelMQ's mode: `--type X`,
/// `--type=X`, `-t X` or `-tX` anywhere among the arguments.
pub fn requested(args: &[String]) -> bool {
    args.iter().skip(1).any(|arg| {
        arg == "--type" || arg.starts_with("--type=") || (arg.starts_with("-t") && arg != "-")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<CompatCli, String> {
        CompatCli::try_parse_from(args).map_err(|error| error.to_string())
    }

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| (*arg).to_owned()).collect()
    }

    #[test]
    fn the_type_option_selects_the_mode_wherever_it_is() {
        assert!(requested(&strings(&[
            "intelmqctl",
            "--type",
            "json",
            "status"
        ])));
        assert!(requested(&strings(&["intelmqctl", "status", "-t", "text"])));
        assert!(requested(&strings(&["intelmqctl", "--type=json", "check"])));
        assert!(requested(&strings(&["intelmqctl", "-tjson", "check"])));
        assert!(!requested(&strings(&["intelmqctl", "--json", "status"])));
        assert!(!requested(&strings(&["intelmqctl", "status", "tbot"])));
    }

    #[test]
    fn intelmq_api_command_lines_parse() {
        let cli = parse(&[
            "intelmqctl",
            "--type",
            "json",
            "start",
            "--group",
            "parsers",
        ])
        .expect("valid");
        assert_eq!(cli.output, OutputType::Json);
        match cli.command {
            CompatCommand::Start(Target { bot_id, group }) => {
                assert_eq!(bot_id, None);
                assert_eq!(group.and_then(Group::entry_group), Some("Parser"));
            }
            other => panic!("not start: {other:?}"),
        }
        let cli =
            parse(&["intelmqctl", "--type", "json", "log", "b", "-1", "DEBUG"]).expect("valid");
        match cli.command {
            CompatCommand::Log {
                bot_id,
                number_of_lines,
                log_level,
            } => assert_eq!(
                (bot_id.as_str(), number_of_lines, log_level.as_deref()),
                ("b", Some(-1), Some("DEBUG"))
            ),
            other => panic!("not log: {other:?}"),
        }
        for args in [
            &["intelmqctl", "--type", "json", "restart", "b"][..],
            &["intelmqctl", "--type", "json", "list", "bots"],
            &[
                "intelmqctl",
                "--type",
                "json",
                "list",
                "bots",
                "--configured",
            ],
            &["intelmqctl", "--type", "json", "list", "queues-and-status"],
            &["intelmqctl", "--type", "json", "clear", "q"],
            &["intelmqctl", "--type", "json", "check"],
            &["intelmqctl", "--type", "json", "debug"],
            &["intelmqctl", "--type", "json", "debug", "--get-paths"],
            &[
                "intelmqctl",
                "--type",
                "text",
                "status",
                "--group",
                "botnet",
            ],
            &["intelmqctl", "--type", "json", "run", "b", "message", "get"],
            &[
                "intelmqctl",
                "-t",
                "json",
                "run",
                "b",
                "process",
                "--dry",
                "--msg",
                "{}",
            ],
        ] {
            parse(args).unwrap_or_else(|error| panic!("{args:?}: {error}"));
        }
    }

    #[test]
    fn bad_forms_are_refused() {
        assert!(parse(&["intelmqctl", "--type", "xml", "status"]).is_err());
        assert!(parse(&[
            "intelmqctl",
            "--type",
            "json",
            "start",
            "b",
            "--group",
            "parsers"
        ])
        .is_err());
        assert!(parse(&["intelmqctl", "--type", "json", "start", "--group", "robots"]).is_err());
        assert!(parse(&["intelmqctl", "--type", "json", "list", "bees"]).is_err());
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        CompatCli::command().debug_assert();
    }
}
