//! Replies: what the daemon answers. Every reply is one line tagged by `type`;
//! today the only type is `response`, the final answer to one request.

use serde::{Deserialize, Serialize};

use crate::PROTOCOL_VERSION;

/// One line from the daemon. `id` echoes the request's id; it is null when the
/// line could not be read far enough to find one (invalid JSON, a line over the
/// limit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub v: u32,
    pub id: Option<u64>,
    #[serde(rename = "type")]
    pub kind: ReplyKind,
    #[serde(flatten)]
    pub response: Response,
}

/// What kind of line a reply is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplyKind {
    /// The final answer to a request.
    Response,
}

impl Reply {
    pub fn response(id: Option<u64>, response: Response) -> Self {
        Reply {
            v: PROTOCOL_VERSION,
            id,
            kind: ReplyKind::Response,
            response,
        }
    }
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
    /// How to run a bot in the client's foreground: the daemon checked that it
    /// is not running and resolved its executable.
    Debug {
        bot_id: String,
        module: String,
        executable: String,
        env: Vec<(String, String)>,
    },
}

/// What an action did to one bot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRow {
    pub bot_id: String,
    pub action: ActionKind,
    pub status: RunStatus,
    pub pid: Option<u32>,
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
        let text = String::from_utf8(line).expect("utf8");
        assert!(text.contains(r#""status":"unstable""#), "{text}");
        assert!(text.contains(r#""kind":"status""#), "{text}");
    }
}
