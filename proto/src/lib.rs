//! The language `intelmqd` and its clients speak: request and reply types, the
//! line framing, and the rules for bot ids, shared by the daemon and `intelmqctl`.
//!
//! The wire format is JSON lines over a Unix stream socket: every request is one
//! JSON object on one line, and every reply is one JSON object on one line. A
//! connection may carry any number of requests; replies come back in the order
//! of the requests. `docs/protocol.md` describes the format for script authors.
//!
//! This crate depends on serde alone so that the client links no runtime.

mod bot_id;
mod reply;
mod request;

pub use bot_id::{validate_bot_id, BotIdError, MAX_BOT_ID_LEN};
pub use reply::{
    ActionKind, ActionRow, BotProblems, BotStatus, ConfigTest, DaemonDirs, ErrorBody, ErrorKind,
    Event, EventKind, ExitInfo, FileCheck, Level, ListRow, Message, Outcome, Question, ReloadInfo,
    Reply, ReplyBody, Response, RunState, RunStatus, ScheduleInfo,
};
pub use request::{decode_request, Answers, Command, DecodeError, Request, Selection};

/// The protocol version this build speaks. A request carrying another version is
/// answered with a `version-mismatch` error that names both.
pub const PROTOCOL_VERSION: u32 = 1;

/// The longest line either side accepts, newline excluded. A longer line is
/// answered with a `line-too-long` error and discarded up to its newline.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Serialises a message as one line of the protocol, newline included.
pub fn encode_line<T: serde::Serialize>(message: &T) -> Vec<u8> {
    // Serialising our own types cannot fail: they hold no maps with non-string
    // keys and no types whose Serialize impl can refuse.
    let mut line = serde_json::to_vec(message).unwrap_or_else(|error| {
        format!(r#"{{"v":{PROTOCOL_VERSION},"id":null,"type":"response","ok":false,"error":{{"kind":"internal","message":"cannot encode reply: {error}"}}}}"#)
            .into_bytes()
    });
    line.push(b'\n');
    line
}
