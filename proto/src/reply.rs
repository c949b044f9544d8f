//! Replies: what the daemon answers. Every reply is one line tagged by `type`:
//! a `response` is the final answer to one request; a `question` asks the
//! client to decide something before the request can go on.

use serde::{Deserialize, Serialize};

use crate::PROTOCOL_VERSION;

/// One line from the daemon. `id` echoes the request's id; it is null when the
/// line could not be read far enough to find one (invalid JSON, a line over the
/// limit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub v: u32,
    pub id: Option<u64>,
    #[serde(flatten)]
    pub body: ReplyBody,
}

/// What a reply line carries, named on the wire by `"type"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ReplyBody {
    /// The final answer to a request.
    Response(Response),
    /// A question; the client answers with an `answer` request carrying the
    /// same request id and the question's number.
    Question(Question),
    /// Something that happened, sent to a connection that asked for `events`.
    Event(Event),
}

impl Reply {
    pub fn response(id: Option<u64>, response: Response) -> Self {
        Reply {
            v: PROTOCOL_VERSION,
            id,
            body: ReplyBody::Response(response),
        }
    }

    /// Reads a reply from a parsed line. The same as `Reply::deserialize`,
    /// but a response's `result` of kind status, list or actions is read
    /// field by field: serde reads an internally tagged enum by first copying
    /// all of it, which for the status of a thousand bots costs more than the
    /// rest of a client's work together.
    pub fn from_value(value: &serde_json::Value) -> Result<Reply, serde_json::Error> {
        use serde::de::Error;
        if value.get("type").and_then(serde_json::Value::as_str) != Some("response") {
            return Reply::deserialize(value);
        }
        let field = |name: &str| value.get(name).filter(|v| !v.is_null());
        let v = match field("v") {
            Some(v) => u32::deserialize(v)?,
            None => return Err(serde_json::Error::missing_field("v")),
        };
        let id = field("id").map(u64::deserialize).transpose()?;
        let ok = match field("ok") {
            Some(ok) => bool::deserialize(ok)?,
            None => return Err(serde_json::Error::missing_field("ok")),
        };
        let messages = field("messages")
            .map(Vec::<Message>::deserialize)
            .transpose()?
            .unwrap_or_default();
        let error = field("error").map(ErrorBody::deserialize).transpose()?;
        let result = field("result").map(outcome_from_value).transpose()?;
        Ok(Reply {
            v,
            id,
            body: ReplyBody::Response(Response {
                ok,
                messages,
                error,
                result,
            }),
        })
    }

    /// Reads a reply line. A response's `result` is taken as raw text and read
    /// by [`outcome_from_str`], without building a JSON tree first; anything
    /// else goes through `Reply::deserialize`.
    pub fn from_slice(line: &[u8]) -> Result<Reply, serde_json::Error> {
        #[derive(Deserialize)]
        struct Envelope<'a> {
            v: u32,
            id: Option<u64>,
            #[serde(rename = "type", borrow)]
            kind: std::borrow::Cow<'a, str>,
            ok: Option<bool>,
            #[serde(default)]
            messages: Vec<Message>,
            #[serde(default)]
            error: Option<ErrorBody>,
            #[serde(default, borrow)]
            result: Option<&'a serde_json::value::RawValue>,
        }
        let envelope: Envelope<'_> = serde_json::from_slice(line)?;
        let Some(ok) = envelope.ok.filter(|_| envelope.kind == "response") else {
            return serde_json::from_slice(line);
        };
        Ok(Reply {
            v: envelope.v,
            id: envelope.id,
            body: ReplyBody::Response(Response {
                ok,
                messages: envelope.messages,
                error: envelope.error,
                result: envelope
                    .result
                    .map(|raw| outcome_from_str(raw.get()))
                    .transpose()?,
            }),
        })
    }

    pub fn question(id: u64, question: Question) -> Self {
        Reply {
            v: PROTOCOL_VERSION,
            id: Some(id),
            body: ReplyBody::Question(question),
        }
    }
}

/// One thing that happened in the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Unix time in milliseconds.
    pub at_ms: u64,
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitInfo>,
    /// What happened, in words.
    pub text: String,
}

/// The kinds of event, stable for scripts to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A stream bot's process started (by an operator).
    Started,
    /// A bot was stopped by an operator.
    Stopped,
    /// A stream bot's process ended by itself.
    Exited,
    /// A restart after an exit is pending.
    Restarting,
    /// A stream bot was started again by the restart policy.
    Restarted,
    /// A bot kept failing and was given up on.
    Failed,
    /// A bot was put on its schedule.
    Scheduled,
    /// A bot was taken off its schedule.
    Unscheduled,
    /// A run of a scheduled bot began (at a tick or on request).
    RunStarted,
    /// A run of a scheduled bot ended.
    RunEnded,
    /// A tick came while the previous run was still going.
    TickSkipped,
    /// A configuration file was read after a change.
    ConfigChanged,
    /// A configuration file was rejected; the last good one stays in use.
    ConfigInvalid,
    /// This subscriber read too slowly; `text` says how many events it missed.
    Lagged,
}

/// A yes/no question of the spec, such as "Do you want to stop the bot …? [N/y]".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// Numbers the questions of one request, from 1.
    pub question: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_id: Option<String>,
    /// The question as the spec words it, ending in `[Y/n]` or `[N/y]`.
    pub text: String,
    /// The answer taken when nobody answers.
    pub default: bool,
}

/// The answer to one request. `ok` is true when everything asked was done (or
/// was already so); `messages` are what the daemon also logged, in order;
/// `error` says why not when `ok` is false; `result` carries the data.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Outcome>,
}

impl Response {
    pub fn success(messages: Vec<Message>, result: Outcome) -> Self {
        Response {
            ok: true,
            messages,
            error: None,
            result: Some(result),
        }
    }

    pub fn failure(kind: ErrorKind, message: impl Into<String>) -> Self {
        Response {
            ok: false,
            messages: Vec::new(),
            error: Some(ErrorBody {
                kind,
                message: message.into(),
            }),
            result: None,
        }
    }
}

/// A message for the operator: what was done and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub level: Level,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_id: Option<String>,
    pub text: String,
}

impl Message {
    pub fn new(level: Level, bot_id: Option<&str>, text: impl Into<String>) -> Self {
        Message {
            level,
            bot_id: bot_id.map(str::to_owned),
            text: text.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warning,
    Error,
}

/// Why a request was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub kind: ErrorKind,
    pub message: String,
}

/// The kinds of error, stable for scripts to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The line is not JSON.
    InvalidJson,
    /// The line is longer than [`crate::MAX_LINE_BYTES`].
    LineTooLong,
    /// The line is JSON but not a request: missing or mistyped fields.
    BadRequest,
    /// The command is not one the daemon knows.
    UnknownCommand,
    /// The request speaks another protocol version.
    VersionMismatch,
    /// The bot id does not follow the bot id rule.
    InvalidBotId,
    /// No bot of that id is configured or known to the daemon.
    UnknownBot,
    /// The bot's configuration does not allow the action (no module, bad run mode…).
    InvalidConfig,
    /// The action was tried and did not succeed (the bot did not start, …).
    ActionFailed,
    /// The bot is busy with something that excludes the action (running while
    /// a foreground debug run was asked, …).
    Conflict,
    /// The peer's user may not talk to the daemon.
    PermissionDenied,
    /// The daemon serves as many connections as it allows; try again later.
    TooManyConnections,
    /// The client sent part of a line and then nothing for too long.
    Timeout,
    /// The daemon failed in a way that is not the request's fault.
    Internal,
}

/// The data of a successful (or partly successful) response, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Outcome {
    Hello {
        daemon_version: String,
        protocol: u32,
        pid: u32,
        /// The daemon's directories, for clients that show or use them
        /// (IntelMQ's `debug --get-paths`); left out by older daemons.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dirs: Option<DaemonDirs>,
    },
    /// One row a bot acted on.
    Actions {
        bots: Vec<ActionRow>,
    },
    /// One row a bot; `log` holds the tail of the log when one bot was asked for.
    Status {
        bots: Vec<BotStatus>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        log: Vec<String>,
    },
    List {
        bots: Vec<ListRow>,
    },
    /// The result of configtest: each file, and each bot with its problems.
    Configtest {
        valid: bool,
        files: Vec<FileCheck>,
        bots: Vec<BotProblems>,
    },
    /// The Prometheus text exposition of the daemon's metrics.
    Metrics {
        text: String,
    },
    /// The last lines of a bot's log file.
    Log {
        bot_id: String,
        path: String,
        lines: Vec<String>,
    },
    /// The subscription is on: `event` lines follow.
    Subscribed,
    /// How to run a bot in the client's foreground: the daemon checked that it
    /// is not running and resolved its executable.
    Debug {
        bot_id: String,
        module: String,
        executable: String,
        env: Vec<(String, String)>,
    },
}

/// Where the daemon reads its configuration, keeps its state and writes the
/// bots' logs, as it was started with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonDirs {
    pub config_dir: String,
    pub state_dir: String,
    pub log_dir: String,
}

/// Reads an [`Outcome`], the large kinds field by field (see
/// [`Reply::from_value`]).
fn outcome_from_value(value: &serde_json::Value) -> Result<Outcome, serde_json::Error> {
    let bots = || value.get("bots").unwrap_or(&serde_json::Value::Null);
    match value.get("kind").and_then(serde_json::Value::as_str) {
        Some("status") => Ok(Outcome::Status {
            bots: Vec::<BotStatus>::deserialize(bots())?,
            log: value
                .get("log")
                .map(Vec::<String>::deserialize)
                .transpose()?
                .unwrap_or_default(),
        }),
        Some("list") => Ok(Outcome::List {
            bots: Vec::<ListRow>::deserialize(bots())?,
        }),
        Some("actions") => Ok(Outcome::Actions {
            bots: Vec::<ActionRow>::deserialize(bots())?,
        }),
        _ => Outcome::deserialize(value),
    }
}

/// Reads an [`Outcome`] from its text; the large kinds field by field.
fn outcome_from_str(text: &str) -> Result<Outcome, serde_json::Error> {
    use serde_json::value::RawValue;
    #[derive(Deserialize)]
    struct Parts<'a> {
        #[serde(borrow)]
        kind: std::borrow::Cow<'a, str>,
        #[serde(default, borrow)]
        bots: Option<&'a RawValue>,
        #[serde(default)]
        log: Vec<String>,
    }
    let parts: Parts<'_> = serde_json::from_str(text)?;
    let bots = || parts.bots.map_or("null", RawValue::get);
    match (parts.kind.as_ref(), parts.bots.is_some()) {
        ("status", true) => Ok(Outcome::Status {
            bots: serde_json::from_str(bots())?,
            log: parts.log,
        }),
        ("list", true) => Ok(Outcome::List {
            bots: serde_json::from_str(bots())?,
        }),
        ("actions", true) => Ok(Outcome::Actions {
            bots: serde_json::from_str(bots())?,
        }),
        _ => serde_json::from_str(text),
    }
}

/// What an action did to one bot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRow {
    pub bot_id: String,
    pub action: ActionKind,
    pub status: RunStatus,
    pub pid: Option<u32>,
    /// Why the action failed, for a row whose action is `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How a run ended, for `start --now --wait` and `scheduler-exec`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitInfo>,
}

/// One configuration file as configtest found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCheck {
    pub file: String,
    pub valid: bool,
    /// What is wrong, naming the line and column for a JSON syntax error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

/// One bot as configtest found it; `problems` is empty when it is valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotProblems {
    pub bot_id: String,
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    Started,
    AlreadyRunning,
    Stopped,
    /// Stopped, but only after SIGKILL: it ignored SIGTERM for the stop timeout.
    Killed,
    AlreadyStopped,
    Restarted,
    Reloaded,
    NotRunning,
    /// A scheduled bot was put on its schedule.
    Scheduled,
    AlreadyScheduled,
    /// A scheduled bot was taken off its schedule.
    Unscheduled,
    /// A scheduled bot's schedule was replaced by the one in runtime.conf.
    Rescheduled,
    /// A one-off run was launched and not waited for.
    Launched,
    /// A one-off run was launched and waited for; `exit` says how it ended.
    Ran,
    /// The bot's configuration was changed (enable, disable, add-to-botnet…).
    Updated,
    /// The configuration already said so.
    Unchanged,
    /// Nothing was done, on purpose (a question answered no, …).
    Skipped,
    /// The bot was stopped and its configuration dropped from the daemon's
    /// internal configurations.
    Forgotten,
    Failed,
}

/// The status words of the spec's table; scripts match on these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Stopped,
    /// Running, but its configuration is no longer in runtime.conf.
    Unstable,
    /// Gave up on: it failed to start or kept crashing.
    Failed,
}

impl RunStatus {
    /// The word the human status table shows.
    pub fn table_word(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Stopped => "stopped",
            RunStatus::Unstable => "running (unstable)",
            RunStatus::Failed => "failed",
        }
    }
}

/// Where a bot's process is in its life, finer than [`RunStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Stopped,
    Starting,
    Running,
    Stopping,
    /// Exited by itself; `last_exit` says how.
    Exited,
    Failed,
    /// A scheduled bot waiting for its next tick (no process now).
    Scheduled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfigTest {
    Valid,
    Invalid,
}

/// How a bot's last process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// The exit code, when it exited.
    pub code: Option<i32>,
    /// The signal number, when a signal ended it.
    pub signal: Option<i32>,
    /// Unix time in seconds.
    pub at: u64,
    /// Human words: "exited with code 3", "killed by signal 9 (SIGKILL)",
    /// "ended while the daemon was not watching (exit status unknown)".
    pub description: String,
}

/// One bot in a status answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotStatus {
    pub bot_id: String,
    pub run_mode: String,
    pub schedule_time: Option<String>,
    pub botnet: bool,
    pub status: RunStatus,
    pub onboot: bool,
    pub configtest: ConfigTest,
    pub pid: Option<u32>,
    pub state: RunState,
    /// Unix time in seconds when the bot entered its state, when known.
    pub since: Option<u64>,
    pub last_exit: Option<ExitInfo>,
    /// What configtest found wrong with the bot, empty when valid.
    #[serde(default)]
    pub problems: Vec<String>,
    /// Automatic restarts since an operator last started the bot.
    #[serde(default)]
    pub restarts: u64,
    /// For a scheduled bot: its next and its last run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleInfo>,
    /// IntelMQ's `group` of the entry (`Collector`, `Parser`, `Expert`,
    /// `Output`), where it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// IntelMQ's `description` of the entry, where it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The last reload of a running stream bot, and whether it is known to
    /// have applied the configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload: Option<ReloadInfo>,
}

/// What `status` knows of a bot's last reload. A reload by signal is never
/// taken as applied: only the bot knows whether it re-read its configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadInfo {
    /// `signal` (SIGHUP was sent) or `restart` (the bot was restarted).
    pub mode: String,
    /// Unix time in seconds of the reload.
    pub at: u64,
    /// The bot runs with the configuration it was reloaded with: true only
    /// after a restart.
    pub applied: bool,
}

/// What `status` shows of a scheduled bot's runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleInfo {
    /// Unix time in seconds of the next tick, when scheduled.
    pub next_run: Option<u64>,
    /// Unix time in seconds when the last run started.
    pub last_run_started: Option<u64>,
    /// How long the last run took, in milliseconds, once it ended.
    pub last_run_duration_ms: Option<u64>,
    /// How the last run ended.
    pub last_run_exit: Option<ExitInfo>,
    /// Ticks skipped because the previous run was still going.
    #[serde(default)]
    pub skipped_ticks: u64,
    /// Runs that ended since the daemon started, and their time together.
    #[serde(default)]
    pub runs: u64,
    #[serde(default)]
    pub run_seconds: f64,
}

/// One bot in a list answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRow {
    pub bot_id: String,
    pub run_mode: String,
    pub schedule_time: Option<String>,
    pub botnet: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_reply_has_the_documented_shape() {
        let reply = Reply::response(
            Some(3),
            Response::failure(ErrorKind::UnknownBot, "no bot \"x\""),
        );
        let value: serde_json::Value =
            serde_json::from_slice(&crate::encode_line(&reply)).expect("json");
        assert_eq!(
            value,
            serde_json::json!({"v": 1, "id": 3, "type": "response", "ok": false,
                "error": {"kind": "unknown-bot", "message": "no bot \"x\""}})
        );
    }

    #[test]
    fn status_reply_round_trips() {
        let status = BotStatus {
            bot_id: "b".into(),
            run_mode: "stream".into(),
            schedule_time: None,
            botnet: true,
            status: RunStatus::Unstable,
            onboot: false,
            configtest: ConfigTest::Valid,
            pid: Some(42),
            state: RunState::Running,
            since: Some(1),
            last_exit: None,
            problems: vec![],
            schedule: None,
            restarts: 0,
            group: None,
            description: None,
            reload: None,
        };
        let reply = Reply::response(
            Some(1),
            Response::success(
                vec![Message::new(Level::Warning, Some("b"), "careful")],
                Outcome::Status {
                    bots: vec![status],
                    log: vec!["line".into()],
                },
            ),
        );
        let line = crate::encode_line(&reply);
        let decoded: Reply = serde_json::from_slice(&line).expect("decodes");
        assert_eq!(decoded, reply);
        let value: serde_json::Value = serde_json::from_slice(&line).expect("json");
        assert_eq!(Reply::from_value(&value).expect("decodes"), reply);
        assert_eq!(Reply::from_slice(&line).expect("decodes"), reply);
        let text = String::from_utf8(line).expect("utf8");
        assert!(text.contains(r#""status":"unstable""#), "{text}");
        assert!(text.contains(r#""kind":"status""#), "{text}");
    }

    #[test]
    fn group_and_description_are_optional_and_left_out_when_absent() {
        let line = r#"{"bot_id":"b","run_mode":"stream","schedule_time":null,"botnet":true,"status":"running","onboot":false,"configtest":"valid","pid":1,"state":"running","since":null,"last_exit":null}"#;
        let old: BotStatus = serde_json::from_str(line).expect("a status without group reads");
        assert_eq!(
            (old.group.as_deref(), old.description.as_deref()),
            (None, None)
        );
        assert!(!serde_json::to_string(&old).expect("json").contains("group"));
        let mut grouped = old;
        grouped.group = Some("Parser".into());
        grouped.description = Some("parses".into());
        let text = serde_json::to_string(&grouped).expect("json");
        assert!(text.contains(r#""group":"Parser""#), "{text}");
        let back: BotStatus = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back, grouped);
    }

    #[test]
    fn hello_carries_the_daemons_dirs_and_reads_without_them() {
        let old: Outcome = serde_json::from_str(
            r#"{"kind":"hello","daemon_version":"0.1.0","protocol":1,"pid":7}"#,
        )
        .expect("an older hello reads");
        assert_eq!(
            old,
            Outcome::Hello {
                daemon_version: "0.1.0".into(),
                protocol: 1,
                pid: 7,
                dirs: None
            }
        );
        let new = Outcome::Hello {
            daemon_version: "0.1.0".into(),
            protocol: 1,
            pid: 7,
            dirs: Some(DaemonDirs {
                config_dir: "/etc/intelmq".into(),
                state_dir: "/run/intelmq".into(),
                log_dir: "/var/log/intelmq".into(),
            }),
        };
        let value = serde_json::to_value(&new).expect("json");
        assert_eq!(value["dirs"]["config_dir"], "/etc/intelmq");
        assert_eq!(
            serde_json::from_value::<Outcome>(value).expect("reads back"),
            new
        );
    }
}
