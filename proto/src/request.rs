//! Requests: what a client may ask, and the decoder that turns one line into a
//! request or into an error precise enough to answer with.

use serde::{Deserialize, Serialize};

use crate::reply::ErrorKind;
use crate::PROTOCOL_VERSION;

/// One request: the protocol version, an id chosen by the client (echoed in the
/// reply), and the command with its arguments.
///
/// On the wire: `{"v":1,"id":7,"command":"start","bot_id":"my-bot"}`.
///
/// Requests are read with [`decode_request`], which reports each kind of bad
/// line precisely; that is why this type only derives `Serialize`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    pub v: u32,
    pub id: u64,
    #[serde(flatten)]
    pub command: Command,
}

impl Request {
    pub fn new(id: u64, command: Command) -> Self {
        Request {
            v: PROTOCOL_VERSION,
            id,
            command,
        }
    }
}

/// The commands of the protocol, named on the wire by `"command"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Command {
    /// Version handshake: answered with the daemon's version and protocol.
    Hello,
    /// Start a bot; `now` runs a scheduled bot once right away.
    Start {
        bot_id: String,
        #[serde(default)]
        now: bool,
    },
    /// Stop a bot: SIGTERM to its process group, SIGKILL after the stop timeout.
    Stop { bot_id: String },
    /// Stop then start a bot; answered when the new process runs.
    Restart { bot_id: String },
    /// Ask a running bot to reload its configuration (SIGHUP).
    Reload { bot_id: String },
    /// The status of one bot (with the tail of its log) or of every bot.
    Status {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bot_id: Option<String>,
        /// How many log lines to return with a single bot's status (default 10).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        log_lines: Option<usize>,
    },
    /// Every configured bot with its run mode, schedule and botnet membership.
    List,
    /// Ask whether a bot may be run in the client's foreground, and how.
    Debug { bot_id: String },
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
        }
    }

    /// Every command name the protocol knows, for error messages.
    pub const NAMES: &'static [&'static str] = &[
        "hello", "start", "stop", "restart", "reload", "status", "list", "debug",
    ];
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
    let mut arguments = object.clone();
    arguments.remove("v");
    arguments.remove("id");
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
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_command() {
        let commands = vec![
            Command::Hello,
            Command::Start {
                bot_id: "a".into(),
                now: true,
            },
            Command::Stop { bot_id: "a".into() },
            Command::Restart { bot_id: "a".into() },
            Command::Reload { bot_id: "a".into() },
            Command::Status {
                bot_id: Some("a".into()),
                log_lines: Some(3),
            },
            Command::Status {
                bot_id: None,
                log_lines: None,
            },
            Command::List,
            Command::Debug { bot_id: "a".into() },
        ];
        assert_eq!(commands.len(), Command::NAMES.len() + 1);
        for (id, command) in commands.into_iter().enumerate() {
            let request = Request::new(id as u64, command);
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
                bot_id: "my-bot".into(),
                now: false
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

        let error = decode_request(br#"{"v":1,"id":5,"command":"start"}"#).unwrap_err();
        assert_eq!((error.kind, error.id), (ErrorKind::BadRequest, Some(5)));
        assert!(error.message.contains("bot_id"), "{}", error.message);

        let error = decode_request(br#"{"v":1,"id":6,"command":"stop","bot_id":"a","force":1}"#)
            .unwrap_err();
        assert!(error.message.contains("force"), "{}", error.message);
    }
}
