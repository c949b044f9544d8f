//! The connection to the daemon: one request out, one reply in, over a blocking
//! Unix stream, and the errors that keep an answer from arriving or from being
//! understood.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use intelmqd_proto::{
    encode_line, Answers, Command, Event, Question, Reply, ReplyBody, Request, Response,
    MAX_LINE_BYTES, PROTOCOL_VERSION,
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
    let mut connection = Connection::open(socket)?;
    connection.send(&Request::new(REQUEST_ID, command).with_answers(answers));
    loop {
        match connection.read_reply()? {
            ReplyBody::Response(response) => return Ok(response),
            ReplyBody::Event(_) => {
                return Err(ClientError::protocol(
                    socket,
                    "the daemon sent an event to a request that did not subscribe",
                ))
            }
            ReplyBody::Question(question) => {
                let yes = prompt(&question).unwrap_or(question.default);
                connection.send(&Request::new(
                    REQUEST_ID,
                    Command::Answer {
                        question: question.question,
                        yes,
                    },
                ));
            }
        }
    }
}

/// One connection to the daemon.
///
/// A failed write is not an error by itself: the daemon may have answered and
/// closed the connection before reading the request (a client it refuses, too
/// many connections). The reply is still read; only when there is none does
/// the write's error become the answer.
pub struct Connection {
    socket: PathBuf,
    stream: UnixStream,
    reader: BufReader<UnixStream>,
    write_error: Option<io::Error>,
}

impl Connection {
    pub fn open(socket: &Path) -> Result<Connection, ClientError> {
        let stream =
            UnixStream::connect(socket).map_err(|error| ClientError::unreachable(socket, error))?;
        Connection::on(socket, stream)
    }

    /// A connection over an already connected stream.
    fn on(socket: &Path, stream: UnixStream) -> Result<Connection, ClientError> {
        let reader = BufReader::new(
            stream
                .try_clone()
                .map_err(|error| ClientError::unreachable(socket, error))?,
        );
        Ok(Connection {
            socket: socket.to_owned(),
            stream,
            reader,
            write_error: None,
        })
    }

    /// Sends one request line; a failure is kept for [`Connection::read_reply`].
    pub fn send(&mut self, request: &Request) {
        if self.write_error.is_some() {
            return;
        }
        if let Err(error) = self.stream.write_all(&encode_line(request)) {
            self.write_error = Some(error);
        }
    }

    /// Reads and parses the next reply line.
    pub fn read_reply(&mut self) -> Result<ReplyBody, ClientError> {
        let line = match read_line(&self.socket, &mut self.reader) {
            Ok(line) => line,
            Err(ClientError::Unreachable { .. }) if self.write_error.is_some() => {
                let error = self.write_error.take().map_or_else(
                    || "the request could not be sent".to_owned(),
                    |error| error.to_string(),
                );
                return Err(ClientError::unreachable(&self.socket, error));
            }
            Err(error) => return Err(error),
        };
        parse_reply(&self.socket, &line)
    }
}

/// Subscribes to the daemon's events: the daemon's first answer (`subscribed`,
/// or why not), and the connection to read the events from with
/// [`next_event`].
pub fn subscribe(socket: &Path) -> Result<(Connection, Response), ClientError> {
    let mut connection = Connection::open(socket)?;
    connection.send(&Request::new(REQUEST_ID, Command::Events));
    match connection.read_reply()? {
        ReplyBody::Response(response) => Ok((connection, response)),
        ReplyBody::Event(_) | ReplyBody::Question(_) => Err(ClientError::protocol(
            socket,
            "the daemon sent something else before the answer to \"events\"",
        )),
    }
}

/// The next event of a subscription; `Ok(None)` when the daemon ended the
/// subscription with a response (`Err` with its reason when it was not ok).
pub fn next_event(connection: &mut Connection) -> Result<Option<Event>, ClientError> {
    match connection.read_reply() {
        Ok(ReplyBody::Event(event)) => Ok(Some(event)),
        Ok(ReplyBody::Response(Response { ok: true, .. })) => Ok(None),
        Ok(ReplyBody::Response(response)) => Err(ClientError::unreachable(
            &connection.socket,
            response.error.map_or_else(
                || "the daemon ended the subscription".to_owned(),
                |error| error.message,
            ),
        )),
        Ok(ReplyBody::Question(_)) => Err(ClientError::protocol(
            &connection.socket,
            "the daemon asked a question during a subscription",
        )),
        Err(ClientError::Unreachable { socket, reason }) => Err(ClientError::Unreachable {
            socket,
            reason: format!(
                "the subscription ended: {}",
                reason.replace(" before answering", "")
            ),
        }),
        Err(error) => Err(error),
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
/// Reads a reply that the fast path refused, naming what is wrong with it.
fn diagnose(socket: &Path, line: &[u8]) -> Result<Reply, ClientError> {
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
    let reply = Reply::from_value(&value).map_err(|error| {
        ClientError::protocol(socket, format!("the reply is malformed ({error})"))
    })?;
    Ok(reply)
}

pub fn parse_reply(socket: &Path, line: &[u8]) -> Result<ReplyBody, ClientError> {
    // The common case read in one pass; anything odd is read again slowly,
    // to say precisely what is wrong with it.
    let reply = match Reply::from_slice(line) {
        Ok(reply) if reply.v == PROTOCOL_VERSION => reply,
        _ => diagnose(socket, line)?,
    };
    if reply.id.is_none() {
        // The daemon could not or would not read the request (a refused
        // connection, a line it could not parse): its error is the answer.
        if let ReplyBody::Response(response @ Response { ok: false, .. }) = reply.body {
            if response.error.is_some() {
                return Ok(ReplyBody::Response(response));
            }
        }
        return Err(ClientError::protocol(
            socket,
            format!("the reply answers no request, not request {REQUEST_ID}"),
        ));
    }
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
                r#"{"v":1,"id":7,"type":"response","ok":false,"error":{"kind":"invalid-json","message":"bad"}}"#,
                "the daemon said: bad",
            ),
            (
                r#"{"v":1,"id":null,"type":"response","ok":true}"#,
                "no request",
            ),
        ] {
            let error = parse(line).unwrap_err();
            assert_eq!(error.exit_code(), exit::PROTOCOL, "{line}");
            assert!(error.to_string().contains(words), "{line}: {error}");
        }
    }

    const REFUSAL: &str = r#"{"v":1,"id":null,"type":"response","ok":false,"error":{"kind":"permission-denied","message":"permission denied: uid 65534 may not control intelmqd (allowed: root)"}}"#;

    #[test]
    fn a_refusal_without_an_id_is_the_daemons_answer() {
        let response = parse(REFUSAL).expect("the refusal is an answer");
        assert!(!response.ok);
        assert_eq!(
            response.error.map(|error| error.kind),
            Some(intelmqd_proto::ErrorKind::PermissionDenied)
        );
    }

    /// The daemon answered and closed before the request was written: the
    /// write fails (EPIPE), and the answer is still read.
    #[test]
    fn a_refused_client_reads_the_answer_after_its_write_failed() {
        let (client, daemon) = UnixStream::pair().expect("socketpair");
        (&daemon)
            .write_all(format!("{REFUSAL}\n").as_bytes())
            .expect("the refusal is written");
        drop(daemon);
        let mut connection = Connection::on(Path::new("/s"), client).expect("connection");
        connection.send(&Request::new(REQUEST_ID, Command::List));
        connection.send(&Request::new(REQUEST_ID, Command::List));
        assert!(
            connection.write_error.is_some(),
            "writing to a closed peer fails"
        );
        match connection.read_reply() {
            Ok(ReplyBody::Response(response)) => {
                assert!(!response.ok);
                assert!(response
                    .error
                    .is_some_and(|error| error.message.contains("uid 65534")));
            }
            other => panic!("expected the refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_failed_write_without_an_answer_is_unreachable_with_the_write_error() {
        let (client, daemon) = UnixStream::pair().expect("socketpair");
        drop(daemon);
        let mut connection = Connection::on(Path::new("/s"), client).expect("connection");
        connection.send(&Request::new(REQUEST_ID, Command::List));
        let error = connection.read_reply().expect_err("no answer");
        assert_eq!(error.exit_code(), exit::UNREACHABLE);
        assert!(error.to_string().contains("Broken pipe"), "{error}");
    }
}
