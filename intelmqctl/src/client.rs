//! The connection to the daemon: one request out, one reply in, over a blocking
//! Unix stream, and the errors that keep an answer from arriving or from being
//! understood.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use intelmqd_proto::{
    encode_line, Answers, Command, Question, Reply, ReplyBody, Request, Response, MAX_LINE_BYTES,
    PROTOCOL_VERSION,
};

use crate::exit;

/// The id of the one request a connection carries.
const REQUEST_ID: u64 = 1;

/// How much longer than [`MAX_LINE_BYTES`] a reply line may be before it is
/// refused: the limit is the daemon's, so leave it room for the newline and a
/// little more.
const READ_SLACK: usize = 4096;

/// Why no answer could be had or understood.
#[derive(Debug)]
pub enum ClientError {
    /// The daemon cannot be reached, or it closed the connection before answering.
    Unreachable { socket: PathBuf, reason: String },
    /// The daemon answered something this client cannot read.
    Protocol { socket: PathBuf, reason: String },
}

impl ClientError {
    /// The `kind` of the error in `--json` output.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientError::Unreachable { .. } => "unreachable",
            ClientError::Protocol { .. } => "protocol",
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Unreachable { .. } => exit::UNREACHABLE,
            ClientError::Protocol { .. } => exit::PROTOCOL,
        }
    }

    fn unreachable(socket: &Path, reason: impl fmt::Display) -> Self {
        ClientError::Unreachable {
            socket: socket.to_owned(),
            reason: reason.to_string(),
        }
    }

    pub fn protocol(socket: &Path, reason: impl fmt::Display) -> Self {
        ClientError::Protocol {
            socket: socket.to_owned(),
            reason: reason.to_string(),
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Unreachable { socket, reason } => write!(
                f,
                "cannot reach intelmqd at {}: {reason}. Is the daemon running? \
                 Start it with 'intelmqd' (or 'systemctl start intelmqd').",
                socket.display()
            ),
            ClientError::Protocol { socket, reason } => write!(
                f,
                "cannot understand the answer of intelmqd at {}: {reason}. \
                 Are intelmqd and intelmqctl the same version?",
                socket.display()
            ),
        }
    }
}

impl std::error::Error for ClientError {}

/// Sends `command` to the daemon at `socket` and returns its response. The
/// daemon's questions on the way are put to `prompt`; `None` from it answers
/// with the question's default.
pub fn request(
    socket: &Path,
    command: Command,
    answers: Answers,
    prompt: &mut dyn FnMut(&Question) -> Option<bool>,
) -> Result<Response, ClientError> {
    let mut stream =
        UnixStream::connect(socket).map_err(|error| ClientError::unreachable(socket, error))?;
    let request = Request::new(REQUEST_ID, command).with_answers(answers);
    stream
        .write_all(&encode_line(&request))
        .map_err(|error| ClientError::unreachable(socket, error))?;
    let mut reader = BufReader::new(
        stream
            .try_clone()
            .map_err(|error| ClientError::unreachable(socket, error))?,
    );
    loop {
        let line = read_line(socket, &mut reader)?;
        match parse_reply(socket, &line)? {
            ReplyBody::Response(response) => return Ok(response),
            ReplyBody::Event(_) => {
                return Err(ClientError::protocol(
                    socket,
                    "the daemon sent an event to a request that did not subscribe",
                ))
            }
            ReplyBody::Question(question) => {
                let yes = prompt(&question).unwrap_or(question.default);
                let answer = Request::new(
                    REQUEST_ID,
                    Command::Answer {
                        question: question.question,
                        yes,
                    },
                );
                stream
                    .write_all(&encode_line(&answer))
                    .map_err(|error| ClientError::unreachable(socket, error))?;
            }
        }
    }
}

/// Reads one line, newline excluded, refusing one over the limit.
fn read_line(socket: &Path, reader: &mut BufReader<UnixStream>) -> Result<Vec<u8>, ClientError> {
    let cap = MAX_LINE_BYTES + READ_SLACK;
    let mut line = Vec::new();
    reader
        .take(cap as u64)
        .read_until(b'\n', &mut line)
        .map_err(|error| ClientError::unreachable(socket, error))?;
    if line.last() == Some(&b'\n') {
        line.pop();
        return Ok(line);
    }
    if line.len() >= cap {
        return Err(ClientError::protocol(
            socket,
            format!("the reply is longer than the limit of {MAX_LINE_BYTES} bytes"),
        ));
    }
    Err(ClientError::unreachable(
        socket,
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the daemon closed the connection before answering",
        ),
    ))
}

/// Parses a reply line, checking the version before the shape so that a daemon
/// of another version is named as such, and then the id echo.
pub fn parse_reply(socket: &Path, line: &[u8]) -> Result<ReplyBody, ClientError> {
    let value: serde_json::Value = serde_json::from_slice(line).map_err(|error| {
        ClientError::protocol(socket, format!("the reply is not JSON ({error})"))
    })?;
    match value.get("v").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(PROTOCOL_VERSION) => {}
        Some(v) => {
            return Err(ClientError::protocol(
                socket,
                format!(
                    "the daemon speaks protocol version {v}, this intelmqctl speaks version {PROTOCOL_VERSION}"
                ),
            ))
        }
        None => {
            return Err(ClientError::protocol(
                socket,
                "the reply has no protocol version \"v\"",
            ))
        }
    }
    let reply: Reply = serde_json::from_value(value).map_err(|error| {
        ClientError::protocol(socket, format!("the reply is malformed ({error})"))
    })?;
    if reply.id != Some(REQUEST_ID) {
        let id = reply.id.map_or("null".to_owned(), |id| id.to_string());
        let detail = match reply.body {
            ReplyBody::Response(Response {
                error: Some(error), ..
            }) => format!("; the daemon said: {}", error.message),
            _ => String::new(),
        };
        return Err(ClientError::protocol(
            socket,
            format!("the reply answers request {id}, not request {REQUEST_ID}{detail}"),
        ));
    }
    Ok(reply.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Response, ClientError> {
        match parse_reply(Path::new("/s"), line.as_bytes())? {
            ReplyBody::Response(response) => Ok(response),
            ReplyBody::Question(question) => panic!("unexpected question {question:?}"),
            ReplyBody::Event(event) => panic!("unexpected event {event:?}"),
        }
    }

    #[test]
    fn accepts_a_reply_to_our_request() {
        let response = parse(r#"{"v":1,"id":1,"type":"response","ok":true}"#).expect("ok");
        assert!(response.ok);
    }

    #[test]
    fn refuses_garbage_other_versions_and_other_ids() {
        for (line, words) in [
            ("hello", "not JSON"),
            (r#"{"v":2,"id":1,"type":"response","ok":true}"#, "version 2"),
            (r#"{"id":1,"type":"response","ok":true}"#, "\"v\""),
            (r#"{"v":1,"id":1,"type":"surprise","ok":true}"#, "malformed"),
            (r#"{"v":1,"id":7,"type":"response","ok":true}"#, "request 7"),
            (
                r#"{"v":1,"id":null,"type":"response","ok":false,"error":{"kind":"invalid-json","message":"bad"}}"#,
                "the daemon said: bad",
            ),
        ] {
            let error = parse(line).unwrap_err();
            assert_eq!(error.exit_code(), exit::PROTOCOL, "{line}");
            assert!(error.to_string().contains(words), "{line}: {error}");
        }
    }
}
