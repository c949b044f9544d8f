//! Messages for the operator. Every message the spec says to "log" is both
//! written to the daemon's log and returned to the client that asked.

use intelmqd_proto::{Level, Message};

/// Logs `message` at its level, with its bot id, and hands it back.
pub fn logged(message: Message) -> Message {
    let bot_id = message.bot_id.as_deref().unwrap_or("-");
    match message.level {
        Level::Info => tracing::info!(bot_id, "{}", message.text),
        Level::Warning => tracing::warn!(bot_id, "{}", message.text),
        Level::Error => tracing::error!(bot_id, "{}", message.text),
    }
    message
}

/// A message about `bot_id`, logged.
pub fn say(level: Level, bot_id: &str, text: String) -> Message {
    logged(Message::new(level, Some(bot_id), text))
}
