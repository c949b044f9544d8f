//! The control socket: binding it safely, accepting connections, and serving
//! each connection in a task of its own. A connection reads one line at a time
//! (at most [`MAX_LINE_BYTES`]), answers each with one line, and never lets a
//! bad line end it: invalid JSON, an unknown command or an oversized line each
//! get an error answer and the connection goes on.
//!
//! Limits keep one client from hurting the others: a peer that may not talk
//! ([`crate::access`]) gets one refusal; past `max_connections` a new client gets
//! one "too many connections" answer; a client that starts a line and does not
//! finish it within `client_timeout` is dropped. Each of these ends only the
//! offending connection.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use intelmqd_proto::{
    decode_request, encode_line, ErrorBody, ErrorKind, Reply, Response, MAX_LINE_BYTES,
};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixSocket, UnixStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use intelmqd_proto::{Answers, Command, EventKind, Outcome, Question, ReplyBody, Request};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::broadcast;
use tokio::sync::mpsc;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::access::{Access, Peer};
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

/// The connection limits, from defaults.conf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub client_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        let defaults = crate::config::Defaults::default();
        Limits {
            max_connections: defaults.max_connections,
            client_timeout: defaults.client_timeout,
        }
    }
}

/// Binds the socket at `path`, owned by the socket group (if any) with mode
/// 0660, both set before anyone can connect. A socket file left by a dead
/// daemon is replaced; a live one is not.
pub fn bind(path: &Path, access: &Access) -> Result<UnixListener, BindError> {
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
    if let Some(gid) = access.group_gid() {
        nix::unistd::chown(path, None, Some(nix::unistd::Gid::from_raw(gid)))
            .map_err(|errno| io_error(io::Error::from(errno)))?;
    }
    socket.listen(1024).map_err(io_error)
}

/// Counters of the control socket, for the metrics.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Connections accepted and served.
    pub served: AtomicU64,
    /// Connections refused (permission, limit).
    pub refused: AtomicU64,
    /// Connections open now.
    pub open: AtomicUsize,
    /// Requests answered.
    pub requests: AtomicU64,
}

/// Accepts connections until `shutdown`, each served in its own task.
pub async fn serve(
    listener: UnixListener,
    supervisor: SupervisorHandle,
    access: Access,
    stats: Arc<ConnectionStats>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
) {
    let limits = supervisor.limits();
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::error!("accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Limits {
            max_connections,
            client_timeout,
        } = *limits.borrow();
        let supervisor = supervisor.clone();
        let shutdown = shutdown.clone();
        let access = access.clone();
        let stats = Arc::clone(&stats);
        let count = stats.open.fetch_add(1, Ordering::SeqCst) + 1;
        tracker.spawn(async move {
            let _slot = Slot(Arc::clone(&stats));
            if let Err(refused) = admit(&stream, &access, count, max_connections) {
                stats.refused.fetch_add(1, Ordering::Relaxed);
                let reply = Reply::response(None, Response::failure(refused.kind, refused.message));
                let (_, mut writer) = stream.into_split();
                let _ = writer.write_all(&encode_line(&reply)).await;
                return;
            }
            stats.served.fetch_add(1, Ordering::Relaxed);
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = serve_connection(stream, supervisor, client_timeout, &stats) => {}
            }
        });
    }
}

/// Frees a connection's place when its task ends, however it ends.
struct Slot(Arc<ConnectionStats>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Checks the peer and the connection count; the refusal to send otherwise.
fn admit(stream: &UnixStream, access: &Access, count: usize, max: usize) -> Result<(), ErrorBody> {
    let peer = match stream.peer_cred() {
        Ok(cred) => Peer {
            uid: cred.uid(),
            gid: cred.gid(),
            pid: cred.pid(),
        },
        Err(error) => {
            tracing::warn!("refused a connection whose credentials cannot be read: {error}");
            return Err(refusal(
                ErrorKind::PermissionDenied,
                format!("permission denied: cannot read your credentials ({error})"),
            ));
        }
    };
    if let Err(reason) = access.check(peer) {
        tracing::warn!(
            uid = peer.uid,
            pid = peer.pid.unwrap_or(0),
            "refused a connection: {reason}"
        );
        return Err(refusal(ErrorKind::PermissionDenied, reason));
    }
    if count > max {
        tracing::warn!(
            uid = peer.uid,
            pid = peer.pid.unwrap_or(0),
            "refused a connection: {count} connections open, max_connections is {max}"
        );
        return Err(refusal(
            ErrorKind::TooManyConnections,
            format!("too many connections: intelmqd serves at most {max} at once (max_connections in defaults.conf); try again"),
        ));
    }
    Ok(())
}

fn refusal(kind: ErrorKind, message: String) -> ErrorBody {
    ErrorBody { kind, message }
}

async fn serve_connection(
    stream: UnixStream,
    supervisor: SupervisorHandle,
    timeout: Duration,
    stats: &ConnectionStats,
) {
    let (read_half, write_half) = stream.into_split();
    let mut connection = Connection {
        reader: BufReader::new(read_half),
        writer: write_half,
        timeout,
    };
    loop {
        let reply = match next_line(&mut connection.reader, MAX_LINE_BYTES, timeout).await {
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
            Err(error) if error.kind() == io::ErrorKind::TimedOut => {
                let _ = connection.send(&timed_out(timeout)).await;
                return;
            }
            Err(error) => {
                tracing::debug!("connection closed: {error}");
                return;
            }
        };
        stats.requests.fetch_add(1, Ordering::Relaxed);
        if connection.send(&reply).await.is_err() {
            return;
        }
    }
}

struct Connection {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    timeout: Duration,
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
        if request.command == Command::Events {
            return self.stream_events(request.id, supervisor).await;
        }
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

    /// Sends `event` lines until the client closes the connection (or sends
    /// anything, which ends the subscription). Returns the closing reply.
    async fn stream_events(&mut self, id: u64, supervisor: &SupervisorHandle) -> io::Result<Reply> {
        let mut events = supervisor.subscribe();
        self.send(&Reply::response(
            Some(id),
            Response::success(Vec::new(), Outcome::Subscribed),
        ))
        .await?;
        loop {
            tokio::select! {
                event = events.recv() => {
                    let event = match event {
                        Ok(event) => event,
                        Err(broadcast::error::RecvError::Lagged(missed)) => crate::events::event(
                            EventKind::Lagged,
                            None,
                            format!("{missed} events were dropped: this subscriber read too slowly"),
                        ),
                        Err(broadcast::error::RecvError::Closed) => {
                            return Ok(Reply::response(Some(id), Response::failure(ErrorKind::Internal, "the daemon is shutting down")));
                        }
                    };
                    self.send(&Reply { v: intelmqd_proto::PROTOCOL_VERSION, id: Some(id), body: ReplyBody::Event(event) }).await?;
                }
                read = self.reader.fill_buf() => {
                    let read = read?;
                    if read.is_empty() {
                        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the subscriber left"));
                    }
                    let consumed = read.len();
                    self.reader.consume(consumed);
                    return Ok(Reply::response(
                        Some(id),
                        Response::success(
                            vec![intelmqd_proto::Message::new(intelmqd_proto::Level::Info, None, "the subscription ended")],
                            Outcome::Subscribed,
                        ),
                    ));
                }
            }
        }
    }

    /// Reads the answer to question `number` of request `id`. Anything else
    /// gets an error reply and counts as no answer.
    async fn read_answer(&mut self, id: u64, number: u32) -> io::Result<Option<bool>> {
        let line = match next_line(&mut self.reader, MAX_LINE_BYTES, self.timeout).await? {
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

fn timed_out(timeout: Duration) -> Reply {
    Reply::response(
        None,
        Response::failure(
            ErrorKind::Timeout,
            format!(
                "the line was not finished within {} s; the connection is closed",
                timeout.as_secs_f64()
            ),
        ),
    )
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
/// A last line without a newline counts as a line. `None` at the end. Once a
/// line has begun, each read must come within `timeout` (a `TimedOut` error);
/// waiting for a line to begin has no limit.
async fn next_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
    timeout: Duration,
) -> io::Result<Option<Line>> {
    let mut line = Vec::new();
    let mut too_long = false;
    let mut seen_any = false;
    loop {
        let buffer = if seen_any {
            match tokio::time::timeout(timeout, reader.fill_buf()).await {
                Ok(read) => read?,
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client did not finish its line",
                    ))
                }
            }
        } else {
            reader.fill_buf().await?
        };
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
        while let Some(line) = next_line(&mut reader, max, Duration::from_secs(5))
            .await
            .expect("reads")
        {
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

    #[tokio::test]
    async fn a_half_line_times_out() {
        let (client, server) = tokio::io::duplex(64);
        let mut reader = BufReader::new(server);
        let mut client = client;
        client.write_all(b"{\"v\":1").await.expect("writes");
        let error = next_line(&mut reader, 100, Duration::from_millis(50))
            .await
            .expect_err("times out");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        drop(client);
    }
}
