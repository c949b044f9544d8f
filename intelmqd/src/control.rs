//! The control socket: binding it safely, accepting connections, and serving
//! each connection in a task of its own. A connection reads one line at a time
//! (at most [`MAX_LINE_BYTES`]), answers each with one line, and never lets a
//! bad line end it: invalid JSON, an unknown command or an oversized line each
//! get an error answer and the connection goes on.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use intelmqd_proto::{decode_request, encode_line, ErrorKind, Reply, Response, MAX_LINE_BYTES};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixSocket, UnixStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use intelmqd_proto::{Answers, Command, Question, Request};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use crate::supervisor::SupervisorHandle;

/// Why the control socket could not be bound.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error(
        "another intelmqd is already serving {0}; stop it first, or give this one another --socket"
    )]
    InUse(String),
    #[error("cannot create the socket {path}: {source}")]
    Io { path: String, source: io::Error },
}

/// Binds the socket at `path`, mode 0660 before anyone can connect. A socket
/// file left by a dead daemon is replaced; a live one is not.
pub fn bind(path: &Path) -> Result<UnixListener, BindError> {
    let io_error = |source| BindError::Io {
        path: path.display().to_string(),
        source,
    };
    if path.exists() {
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => return Err(BindError::InUse(path.display().to_string())),
            Err(_) => std::fs::remove_file(path).map_err(io_error)?,
        }
    }
    let socket = UnixSocket::new_stream().map_err(io_error)?;
    socket.bind(path).map_err(io_error)?;
    // Not listening yet, so nobody can connect before the mode is right.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(io_error)?;
    socket.listen(1024).map_err(io_error)
}

/// Accepts connections until `shutdown`, each served in its own task.
pub async fn serve(
    listener: UnixListener,
    supervisor: SupervisorHandle,
    tracker: TaskTracker,
    shutdown: CancellationToken,
) {
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::error!("accept failed: {error}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let supervisor = supervisor.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = serve_connection(stream, supervisor) => {}
            }
        });
    }
}

async fn serve_connection(stream: UnixStream, supervisor: SupervisorHandle) {
    let (read_half, write_half) = stream.into_split();
    let mut connection = Connection {
        reader: BufReader::new(read_half),
        writer: write_half,
    };
    loop {
        let reply = match next_line(&mut connection.reader, MAX_LINE_BYTES).await {
            Ok(Some(Line::Complete(line))) => match decode(&line) {
                Ok(request) => match connection.serve(request, &supervisor).await {
                    Ok(reply) => reply,
                    Err(error) => {
                        tracing::debug!("connection closed during a question: {error}");
                        return;
                    }
                },
                Err(reply) => *reply,
            },
            Ok(Some(Line::TooLong)) => too_long(),
            Ok(None) => return,
            Err(error) => {
                tracing::debug!("connection closed: {error}");
                return;
            }
        };
        if connection.send(&reply).await.is_err() {
            return;
        }
    }
}

struct Connection {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Connection {
    async fn send(&mut self, reply: &Reply) -> io::Result<()> {
        self.writer.write_all(&encode_line(reply)).await
    }

    /// Serves one request; questions the daemon has on the way are sent as
    /// `question` lines and their answers read from the same connection.
    async fn serve(
        &mut self,
        request: Request,
        supervisor: &SupervisorHandle,
    ) -> io::Result<Reply> {
        let (ask, mut questions) = mpsc::channel(1);
        let ask = (request.answers == Answers::Ask).then_some(ask);
        let pending = supervisor.request(request.command, request.answers, ask);
        tokio::pin!(pending);
        let mut number = 0;
        loop {
            tokio::select! {
                response = &mut pending => return Ok(Reply::response(Some(request.id), response)),
                Some(question) = questions.recv() => {
                    number += 1;
                    let asked = Question {
                        question: number,
                        bot_id: Some(question.bot_id.clone()),
                        text: question.text.clone(),
                        default: question.default,
                    };
                    self.send(&Reply::question(request.id, asked)).await?;
                    if let Some(yes) = self.read_answer(request.id, number).await? {
                        let _ = question.answer.send(yes);
                    }
                    // Without an answer the sender is dropped here, and the
                    // asker takes the default and says so.
                }
            }
        }
    }

    /// Reads the answer to question `number` of request `id`. Anything else
    /// gets an error reply and counts as no answer.
    async fn read_answer(&mut self, id: u64, number: u32) -> io::Result<Option<bool>> {
        let line = match next_line(&mut self.reader, MAX_LINE_BYTES).await? {
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the client left before answering",
                ))
            }
            Some(Line::TooLong) => {
                self.send(&too_long()).await?;
                return Ok(None);
            }
            Some(Line::Complete(line)) => line,
        };
        let refusal = match decode(&line) {
            Ok(Request {
                id: answer_id,
                command: Command::Answer { question, yes },
                ..
            }) if answer_id == id && question == number => return Ok(Some(yes)),
            Ok(other) => Reply::response(
                Some(other.id),
                Response::failure(
                    ErrorKind::BadRequest,
                    format!(
                        "expected the answer to question {number} of request {id} \
                         ({{\"v\":1,\"id\":{id},\"command\":\"answer\",\"question\":{number},\"yes\":true}}); \
                         the question's default is taken"
                    ),
                ),
            ),
            Err(reply) => *reply,
        };
        self.send(&refusal).await?;
        Ok(None)
    }
}

fn too_long() -> Reply {
    Reply::response(
        None,
        Response::failure(
            ErrorKind::LineTooLong,
            format!("the request line is longer than {MAX_LINE_BYTES} bytes; it was discarded"),
        ),
    )
}

/// Decodes a line; a bad one becomes the error reply for it.
fn decode(line: &[u8]) -> Result<Request, Box<Reply>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    decode_request(line).map_err(|error| {
        Box::new(Reply::response(
            error.id,
            Response::failure(error.kind, error.message),
        ))
    })
}

/// One line read from a client.
#[derive(Debug, PartialEq)]
enum Line {
    Complete(Vec<u8>),
    /// Longer than the limit: read to its end and dropped.
    TooLong,
}

/// Reads up to the next newline, never holding more than `max` bytes of it.
/// A last line without a newline counts as a line. `None` at the end.
async fn next_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> io::Result<Option<Line>> {
    let mut line = Vec::new();
    let mut too_long = false;
    let mut seen_any = false;
    loop {
        let buffer = reader.fill_buf().await?;
        if buffer.is_empty() {
            return Ok(match (seen_any, too_long) {
                (false, _) => None,
                (true, true) => Some(Line::TooLong),
                (true, false) => Some(Line::Complete(line)),
            });
        }
        seen_any = true;
        let (chunk, consumed, complete) = match buffer.iter().position(|b| *b == b'\n') {
            Some(end) => (&buffer[..end], end + 1, true),
            None => (buffer, buffer.len(), false),
        };
        if !too_long {
            if line.len() + chunk.len() > max {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        reader.consume(consumed);
        if complete {
            return Ok(Some(if too_long {
                Line::TooLong
            } else {
                Line::Complete(line)
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], max: usize) -> Vec<Line> {
        let mut reader = BufReader::with_capacity(4, input);
        let mut found = Vec::new();
        while let Some(line) = next_line(&mut reader, max).await.expect("reads") {
            found.push(line);
        }
        found
    }

    #[tokio::test]
    async fn splits_lines_and_drops_only_the_long_one() {
        let found = lines(b"ab\n0123456789\ncd\nlast", 5).await;
        assert_eq!(
            found,
            vec![
                Line::Complete(b"ab".to_vec()),
                Line::TooLong,
                Line::Complete(b"cd".to_vec()),
                Line::Complete(b"last".to_vec()),
            ]
        );
        assert_eq!(lines(b"", 5).await, vec![]);
        assert_eq!(lines(b"\n", 5).await, vec![Line::Complete(vec![])]);
    }
}
