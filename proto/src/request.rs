//! Requests: what a client may ask, and the decoder that turns one line into a
//! request or into an error precise enough to answer with.

use serde::{Deserialize, Serialize};

use crate::reply::ErrorKind;
use crate::PROTOCOL_VERSION;

/// One request: the protocol version, an id chosen by the client (echoed in the
/// reply), how the daemon's questions are answered, and the command with its
/// arguments.
///
/// On the wire: `{"v":1,"id":7,"command":"start","bot_id":"my-bot"}`.
///
/// Requests are read with [`decode_request`], which reports each kind of bad
/// line precisely; that is why this type only derives `Serialize`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    pub v: u32,
    pub id: u64,
    #[serde(skip_serializing_if = "Answers::is_default")]
    pub answers: Answers,
    #[serde(flatten)]
    pub command: Command,
}

impl Request {
    pub fn new(id: u64, command: Command) -> Self {
        Request {
            v: PROTOCOL_VERSION,
            id,
            answers: Answers::Default,
            command,
        }
    }

    pub fn with_answers(mut self, answers: Answers) -> Self {
        self.answers = answers;
        self
    }
}

/// How the questions the daemon has during a request are answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Answers {
    /// Take each question's default and say so in the answer's messages.
    #[default]
    Default,
    /// Answer yes to every question (`intelmqctl --yes`).
    Yes,
    /// Answer no to every question (`intelmqctl --no`).
    No,
    /// Send each question to the client as a `question` line and wait for an
    /// `answer` request on the same connection.
    Ask,
}

impl Answers {
    fn is_default(&self) -> bool {
        *self == Answers::Default
    }
}

/// Which bots a command without a bot id acts on: the botnet (bots with
/// `botnet: true`) by default, or every bot with `all`, optionally only those
/// of one run mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    #[serde(default, skip_serializing_if = "is_false")]
    pub all: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub stream_bots: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub scheduled_bots: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// The commands of the protocol, named on the wire by `"command"`. Where
/// `bot_id` is optional, leaving it out acts on the bots that `select` picks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Command {
    /// Version handshake: answered with the daemon's version and protocol.
    Hello,
    /// Start a bot; `now` runs a scheduled bot once right away, and `wait`
    /// answers only when that run has ended.
    Start {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bot_id: Option<String>,
        #[serde(default, skip_serializing_if = "is_false")]
        now: bool,
        #[serde(default, skip_serializing_if = "is_false")]
        wait: bool,
        #[serde(flatten)]
        select: Selection,
    },
    /// Stop a bot: SIGTERM to its process group, SIGKILL after the stop timeout.
    Stop {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bot_id: Option<String>,
        #[serde(flatten)]
        select: Selection,
    },
    /// Stop then start a bot; answered when the new process runs.
    Restart {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bot_id: Option<String>,
        #[serde(flatten)]
        select: Selection,
    },
    /// Ask a running bot to reload its configuration (SIGHUP).
    Reload {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bot_id: Option<String>,
        #[serde(flatten)]
        select: Selection,
    },
    /// The status of one bot (with the tail of its log) or of the selected bots.
    Status {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bot_id: Option<String>,
        /// How many log lines to return with a single bot's status (default 10).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        log_lines: Option<usize>,
        #[serde(flatten)]
        select: Selection,
    },
    /// Every configured bot with its run mode, schedule and botnet membership.
    List,
    /// Ask whether a bot may be run in the client's foreground, and how.
    Debug { bot_id: String },
    /// Check the configuration files and the bots (one bot, or all).
    Configtest {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bot_id: Option<String>,
    },
    /// Set `onboot: true` (where the process manager supports it).
    Enable {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bot_id: Option<String>,
        #[serde(flatten)]
        select: Selection,
    },
    /// Set `onboot: false`.
    Disable {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bot_id: Option<String>,
        #[serde(flatten)]
        select: Selection,
    },
    /// Set `botnet: true` in runtime.conf and the effective configuration.
    AddToBotnet { bot_id: String },
    /// Set `botnet: false` in runtime.conf and the effective configuration.
    RemoveFromBotnet { bot_id: String },
    /// Run a bot once now, as its schedule would, and answer when it ended.
    SchedulerExec { bot_id: String },
    /// The answer to a `question` the daemon sent during the request `id`.
    Answer { question: u32, yes: bool },
    /// Subscribe to the daemon's events: `event` lines follow on this
    /// connection until the client closes it.
    Events,
    /// The daemon's counters and gauges in the Prometheus text format.
    Metrics,
    /// The last lines of a bot's log, optionally only those of a level and up.
    Log {
        bot_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lines: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        level: Option<String>,
    },
}

impl Command {
    /// The command's name as it appears on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Hello => "hello",
            Command::Start { .. } => "start",
            Command::Stop { .. } => "stop",
            Command::Restart { .. } => "restart",
            Command::Reload { .. } => "reload",
            Command::Status { .. } => "status",
            Command::List => "list",
            Command::Debug { .. } => "debug",
            Command::Configtest { .. } => "configtest",
            Command::Enable { .. } => "enable",
            Command::Disable { .. } => "disable",
            Command::AddToBotnet { .. } => "add-to-botnet",
            Command::RemoveFromBotnet { .. } => "remove-from-botnet",
            Command::SchedulerExec { .. } => "scheduler-exec",
            Command::Answer { .. } => "answer",
            Command::Events => "events",
            Command::Metrics => "metrics",
            Command::Log { .. } => "log",
        }
    }

    /// Every command name the protocol knows, for error messages.
    pub const NAMES: &'static [&'static str] = &[
        "hello",
        "start",
        "stop",
        "restart",
        "reload",
        "status",
        "list",
        "debug",
        "configtest",
        "enable",
        "disable",
        "add-to-botnet",
        "remove-from-botnet",
        "scheduler-exec",
        "answer",
        "events",
        "metrics",
        "log",
    ];

    /// The arguments each command accepts, for rejecting unknown ones (serde's
    /// `deny_unknown_fields` does not combine with flattened fields).
    fn arguments(name: &str) -> &'static [&'static str] {
        const SELECT: [&str; 3] = ["all", "stream_bots", "scheduled_bots"];
        match name {
            "start" => &["bot_id", "now", "wait", SELECT[0], SELECT[1], SELECT[2]],
            "stop" | "restart" | "reload" | "enable" | "disable" => {
                &["bot_id", SELECT[0], SELECT[1], SELECT[2]]
            }
            "status" => &["bot_id", "log_lines", SELECT[0], SELECT[1], SELECT[2]],
            "debug" | "add-to-botnet" | "remove-from-botnet" | "scheduler-exec" | "configtest" => {
                &["bot_id"]
            }
            "answer" => &["question", "yes"],
            "log" => &["bot_id", "lines", "level"],
            _ => &[],
        }
    }
}

/// A line that is not a valid request. `id` is set when the line was a JSON
/// object with a numeric `id`, so that the error reply can carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    pub id: Option<u64>,
    pub kind: ErrorKind,
    pub message: String,
}

/// Decodes one line (without its newline) into a request.
///
/// Checks in order: JSON syntax, that it is an object, the protocol version,
/// the command name, and then the command's arguments, so that each failure is
/// reported with the most precise message.
pub fn decode_request(line: &[u8]) -> Result<Request, DecodeError> {
    let value: serde_json::Value = serde_json::from_slice(line).map_err(|error| DecodeError {
        id: None,
        kind: ErrorKind::InvalidJson,
        message: format!("the request is not valid JSON: {error}"),
    })?;
    let Some(object) = value.as_object() else {
        return Err(DecodeError {
            id: None,
            kind: ErrorKind::BadRequest,
            message: "a request must be a JSON object".into(),
        });
    };
    let Some(id) = object.get("id").and_then(serde_json::Value::as_u64) else {
        return Err(DecodeError {
            id: None,
            kind: ErrorKind::BadRequest,
            message: "a request needs an \"id\": a non-negative integer the reply will echo".into(),
        });
    };
    let fail = |kind, message: String| DecodeError {
        id: Some(id),
        kind,
        message,
    };
    match object.get("v").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(PROTOCOL_VERSION) => {}
        Some(v) => {
            return Err(fail(
                ErrorKind::VersionMismatch,
                format!(
                    "the request speaks protocol version {v}, this daemon speaks version {PROTOCOL_VERSION}"
                ),
            ))
        }
        None => {
            return Err(fail(
                ErrorKind::BadRequest,
                format!("a request needs \"v\": the protocol version ({PROTOCOL_VERSION})"),
            ))
        }
    }
    let command = match object.get("command") {
        Some(serde_json::Value::String(name)) => name.clone(),
        _ => {
            return Err(fail(
                ErrorKind::BadRequest,
                "a request needs \"command\": a string".into(),
            ))
        }
    };
    if !Command::NAMES.contains(&command.as_str()) {
        return Err(fail(
            ErrorKind::UnknownCommand,
            format!(
                "unknown command {command:?}; known commands: {}",
                Command::NAMES.join(", ")
            ),
        ));
    }
    let answers = match object.get("answers") {
        None => Answers::Default,
        Some(value) => serde_json::from_value(value.clone()).map_err(|_| {
            fail(
                ErrorKind::BadRequest,
                format!("\"answers\" must be \"default\", \"yes\", \"no\" or \"ask\", not {value}"),
            )
        })?,
    };
    let mut arguments = object.clone();
    for envelope in ["v", "id", "answers"] {
        arguments.remove(envelope);
    }
    let allowed = Command::arguments(&command);
    if let Some(unknown) = arguments
        .keys()
        .find(|key| key.as_str() != "command" && !allowed.contains(&key.as_str()))
    {
        return Err(fail(
            ErrorKind::BadRequest,
            format!(
                "bad arguments for {command:?}: unknown field {unknown:?}; it takes {}",
                if allowed.is_empty() {
                    "none".to_owned()
                } else {
                    allowed.join(", ")
                }
            ),
        ));
    }
    let command = serde_json::from_value::<Command>(serde_json::Value::Object(arguments)).map_err(
        |error| {
            fail(
                ErrorKind::BadRequest,
                format!("bad arguments for {command:?}: {error}"),
            )
        },
    )?;
    Ok(Request {
        v: PROTOCOL_VERSION,
        id,
        answers,
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_command() {
        let a = || Some("a".to_owned());
        let some = Selection {
            all: true,
            stream_bots: true,
            scheduled_bots: false,
        };
        let commands = vec![
            Command::Hello,
            Command::Start {
                bot_id: a(),
                now: true,
                wait: true,
                select: Selection::default(),
            },
            Command::Stop {
                bot_id: None,
                select: some,
            },
            Command::Restart {
                bot_id: a(),
                select: Selection::default(),
            },
            Command::Reload {
                bot_id: a(),
                select: Selection::default(),
            },
            Command::Status {
                bot_id: a(),
                log_lines: Some(3),
                select: Selection::default(),
            },
            Command::Status {
                bot_id: None,
                log_lines: None,
                select: some,
            },
            Command::List,
            Command::Debug { bot_id: "a".into() },
            Command::Configtest { bot_id: None },
            Command::Enable {
                bot_id: a(),
                select: Selection::default(),
            },
            Command::Disable {
                bot_id: None,
                select: some,
            },
            Command::AddToBotnet { bot_id: "a".into() },
            Command::RemoveFromBotnet { bot_id: "a".into() },
            Command::SchedulerExec { bot_id: "a".into() },
            Command::Answer {
                question: 1,
                yes: true,
            },
            Command::Events,
            Command::Metrics,
            Command::Log {
                bot_id: "a".into(),
                lines: Some(5),
                level: Some("ERROR".into()),
            },
        ];
        let mut names: Vec<_> = commands.iter().map(Command::name).collect();
        names.dedup();
        assert_eq!(names, Command::NAMES, "every command is covered");
        for (id, command) in commands.into_iter().enumerate() {
            let request = Request::new(id as u64, command).with_answers(Answers::Ask);
            let line = crate::encode_line(&request);
            assert_eq!(line.last(), Some(&b'\n'));
            let decoded = decode_request(&line[..line.len() - 1]).expect("decodes");
            assert_eq!(decoded, request);
        }
    }

    #[test]
    fn documented_example_decodes() {
        let request = decode_request(br#"{"v":1,"id":7,"command":"start","bot_id":"my-bot"}"#)
            .expect("decodes");
        assert_eq!(
            request.command,
            Command::Start {
                bot_id: Some("my-bot".into()),
                now: false,
                wait: false,
                select: Selection::default(),
            }
        );
    }

    #[test]
    fn errors_name_the_problem_and_keep_the_id() {
        let error = decode_request(b"{not json").unwrap_err();
        assert_eq!((error.kind, error.id), (ErrorKind::InvalidJson, None));

        let error = decode_request(b"[1,2]").unwrap_err();
        assert_eq!(error.kind, ErrorKind::BadRequest);

        let error = decode_request(br#"{"v":1,"command":"list"}"#).unwrap_err();
        assert!(error.message.contains("\"id\""), "{}", error.message);

        let error = decode_request(br#"{"v":9,"id":3,"command":"list"}"#).unwrap_err();
        assert_eq!(
            (error.kind, error.id),
            (ErrorKind::VersionMismatch, Some(3))
        );
        assert!(error.message.contains('9') && error.message.contains('1'));

        let error = decode_request(br#"{"v":1,"id":4,"command":"explode"}"#).unwrap_err();
        assert_eq!((error.kind, error.id), (ErrorKind::UnknownCommand, Some(4)));
        assert!(error.message.contains("explode"));

        let error = decode_request(br#"{"v":1,"id":5,"command":"debug"}"#).unwrap_err();
        assert_eq!((error.kind, error.id), (ErrorKind::BadRequest, Some(5)));
        assert!(error.message.contains("bot_id"), "{}", error.message);

        let error =
            decode_request(br#"{"v":1,"id":5,"command":"list","answers":"maybe"}"#).unwrap_err();
        assert!(error.message.contains("answers"), "{}", error.message);

        let error = decode_request(br#"{"v":1,"id":6,"command":"stop","bot_id":"a","force":1}"#)
            .unwrap_err();
        assert!(error.message.contains("force"), "{}", error.message);
    }
}
