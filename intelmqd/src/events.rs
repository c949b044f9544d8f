//! The daemon's live events: what happened to which bot, and to the
//! configuration, fanned out to every connection that subscribed with
//! `events`. A subscriber that reads too slowly misses events and is told how
//! many; nobody else waits for it.

use std::time::{SystemTime, UNIX_EPOCH};

use intelmqd_proto::{Event, EventKind, ExitInfo};
use tokio::sync::broadcast;

/// How many events a slow subscriber may fall behind before it misses some.
const BACKLOG: usize = 4096;

/// The sending side, cloned into every bot task and the supervisor.
#[derive(Debug, Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            sender: broadcast::channel(BACKLOG).0,
        }
    }
}

impl EventBus {
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    /// Sends an event to the subscribers there are (none is fine).
    pub fn emit(&self, kind: EventKind, bot_id: Option<&str>, text: impl Into<String>) {
        self.send(event(kind, bot_id, text));
    }

    pub fn send(&self, event: Event) {
        let _ = self.sender.send(event);
    }
}

/// An event stamped with the current time.
pub fn event(kind: EventKind, bot_id: Option<&str>, text: impl Into<String>) -> Event {
    Event {
        at_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0),
        kind,
        bot_id: bot_id.map(str::to_owned),
        pid: None,
        exit: None,
        text: text.into(),
    }
}

/// An event about a process: its pid, or how it ended.
pub fn process_event(
    kind: EventKind,
    bot_id: &str,
    pid: Option<u32>,
    exit: Option<ExitInfo>,
    text: impl Into<String>,
) -> Event {
    Event {
        pid,
        exit,
        ..event(kind, Some(bot_id), text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_subscriber_gets_every_event_and_a_slow_one_is_told() {
        let bus = EventBus::default();
        let mut first = bus.subscribe();
        let mut second = bus.subscribe();
        bus.emit(EventKind::Started, Some("a"), "a started");
        assert_eq!(first.recv().await.expect("event").kind, EventKind::Started);
        assert_eq!(
            second.recv().await.expect("event").bot_id.as_deref(),
            Some("a")
        );
        for _ in 0..BACKLOG + 10 {
            bus.emit(EventKind::ConfigChanged, None, "x");
        }
        assert!(matches!(
            first.recv().await,
            Err(broadcast::error::RecvError::Lagged(missed)) if missed >= 10
        ));
    }
}
