//! The bots' units kept in memory, current from the manager's signals, so
//! that a reading (`status`, the reading before a request) is answered
//! without asking the manager.
//!
//! One task per manager owns the units read so far (`bot_id → UnitState`)
//! and its own bus connection, on which it calls
//! `org.freedesktop.systemd1.Manager.Subscribe` (without it the manager sends
//! no signal) and listens to:
//!
//! - `PropertiesChanged` on an `intelmq-bot@…` unit's object path (on the
//!   `Unit` or the `Service` interface, with the values or only their names):
//!   the unit is dropped from memory, and the next reading that wants it
//!   reads it from the manager (and keeps it again). It is not read back at
//!   once: reading a unit that is not loaded loads it, and the manager
//!   unloading it again would signal again, a loop for nothing.
//! - `UnitRemoved` (the manager unloaded the unit): dropped likewise, so that
//!   nothing of an unloaded unit is shown.
//! - `UnitFilesChanged` (enable, disable) and `Reloading` (`daemon-reload`,
//!   which can change `Restart=` and the exit status sets, of which no
//!   signal tells): every unit is dropped.
//! - `NameOwnerChanged` of `org.freedesktop.systemd1` (the manager restarted;
//!   the new one knows nothing of the subscription), or the connection's end:
//!   every unit is dropped, it is said once, and until the subscription is
//!   made anew every reading goes to the manager, as without this module.
//!
//! A reading that ran while a unit changed may bring the unit as it was
//! before the change: each reading carries the number of the last signal
//! handled when it began ([`ReadingStart`]), and what it read is kept only
//! for the units of which no signal came since.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::stream::{SelectAll, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use zbus::message::Type as MessageType;
use zbus::{MatchRule, Message, MessageStream};

use super::bus::{self, BusError, DESTINATION, PROPERTIES_INTERFACE};
use super::UnitState;
use crate::config::SystemdInstance;

type Units = HashMap<String, UnitState>;

const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER_INTERFACE: &str = "org.freedesktop.systemd1.Manager";
/// All units' object paths are under it.
const UNIT_PATH_NAMESPACE: &str = "/org/freedesktop/systemd1/unit";
/// The object paths of the bots' units begin with it: `intelmq-bot@` as
/// systemd escapes it.
const BOT_UNIT_PATH_PREFIX: &str = "/org/freedesktop/systemd1/unit/intelmq_2dbot_40";
/// How long after a failed subscription the next is tried.
const RETRY_AFTER: Duration = Duration::from_secs(2);
/// Signals waiting to be handled before the connection's reader waits: a
/// botnet start of hundreds of bots sends a few signals a unit at once.
const SIGNALS_QUEUED: usize = 4096;

/// Where a reading began in the order of the signals handled; what it read
/// is kept only for units of which no signal came since.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadingStart {
    subscription: u64,
    signal: u64,
}

enum Request {
    /// The units of these bots held in memory, and where a reading of the
    /// others begins (none when nothing is kept: not subscribed).
    Lookup {
        bot_ids: Vec<String>,
        reply: oneshot::Sender<(Units, Option<ReadingStart>)>,
    },
    /// Units just read from the manager.
    Store { start: ReadingStart, units: Units },
}

/// A handle on one manager's units in memory; its task ends when every
/// handle is dropped.
#[derive(Debug, Clone)]
pub struct UnitCache {
    requests: mpsc::UnboundedSender<Request>,
}

impl UnitCache {
    /// Starts the task; it subscribes at the first lookup, so a manager that
    /// is never asked is never connected to.
    pub fn spawn(instance: SystemdInstance) -> UnitCache {
        let (requests, inbox) = mpsc::unbounded_channel();
        tokio::spawn(Watcher::new(instance).run(inbox));
        UnitCache { requests }
    }

    /// The units of `bot_ids` held in memory, and where a reading of the
    /// others begins (to give to [`UnitCache::store`]).
    pub async fn lookup(&self, bot_ids: &[String]) -> (Units, Option<ReadingStart>) {
        let (reply, answer) = oneshot::channel();
        let request = Request::Lookup {
            bot_ids: bot_ids.to_vec(),
            reply,
        };
        if self.requests.send(request).is_err() {
            return (Units::new(), None);
        }
        answer.await.unwrap_or_default()
    }

    /// Keeps units read from the manager by a reading that began at `start`.
    pub fn store(&self, start: ReadingStart, units: Units) {
        let _ = self.requests.send(Request::Store { start, units });
    }
}

/// The bot id of a unit from its object path, for the bots' units only
/// (`intelmq-bot@<id>.service`).
pub fn bot_id_of_unit_path(path: &str) -> Option<String> {
    let escaped = path.strip_prefix(BOT_UNIT_PATH_PREFIX)?;
    let unit = format!("intelmq-bot@{}", unescape_label(escaped)?);
    bot_id_of_unit(&unit)
}

fn bot_id_of_unit(unit: &str) -> Option<String> {
    let id = unit
        .strip_prefix("intelmq-bot@")?
        .strip_suffix(".service")?;
    (!id.is_empty()).then(|| id.to_owned())
}

/// The inverse of systemd's `bus_label_escape` (see `bus::unit_object_path`):
/// `_` and two hex digits is that byte.
fn unescape_label(label: &str) -> Option<String> {
    let bytes = label.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut position = 0;
    while let Some(&byte) = bytes.get(position) {
        if byte == b'_' {
            let hex = std::str::from_utf8(bytes.get(position + 1..position + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            position += 3;
        } else {
            out.push(byte);
            position += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The subscription in place: the connection and its signals.
struct Subscription {
    _connection: zbus::Connection,
    signals: SelectAll<MessageStream>,
}

/// What a signal asks of the units in memory.
#[derive(Debug, PartialEq)]
enum Change {
    Unit(String),
    All,
    /// The manager went away or another took its name.
    ManagerChanged,
    Nothing,
}

struct Watcher {
    instance: SystemdInstance,
    units: Units,
    /// The number of the last signal handled.
    signal: u64,
    /// Per bot id, the number of the last signal about its unit.
    changed_at: HashMap<String, u64>,
    /// The number of the last signal about every unit.
    all_changed_at: u64,
    /// Counts the subscriptions made, so that a reading begun under an
    /// earlier one is not kept.
    subscription: u64,
    /// A lookup came: the subscription is wanted.
    wanted: bool,
    retry_at: Option<Instant>,
    /// The loss of the subscription was logged, and it was not made again.
    failure_logged: bool,
}

impl Watcher {
    fn new(instance: SystemdInstance) -> Watcher {
        Watcher {
            instance,
            units: Units::new(),
            signal: 0,
            changed_at: HashMap::new(),
            all_changed_at: 0,
            subscription: 0,
            wanted: false,
            retry_at: None,
            failure_logged: false,
        }
    }

    async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Request>) {
        let mut subscribed: Option<Subscription> = None;
        let mut attempt: Option<JoinHandle<Result<Subscription, BusError>>> = None;
        loop {
            let may_attempt = self.wanted && subscribed.is_none() && attempt.is_none();
            let retry_at = self.retry_at.unwrap_or_else(Instant::now);
            tokio::select! {
                // Signals first: a reading's answer may have come after a
                // signal that is already waiting here.
                biased;
                signal = next_signal(&mut subscribed) => {
                    let change = match signal {
                        Some(Ok(message)) => change_of(&message),
                        Some(Err(error)) => {
                            self.lose(&format!("error on the bus: {error}"));
                            subscribed = None;
                            continue;
                        }
                        None => {
                            self.lose("the bus connection ended");
                            subscribed = None;
                            continue;
                        }
                    };
                    match change {
                        Change::Unit(bot_id) => self.unit_changed(bot_id),
                        Change::All => self.all_changed(),
                        Change::ManagerChanged => {
                            // Not a failure: subscribe again to the new manager.
                            tracing::info!("the systemd manager changed; following its units anew");
                            self.forget();
                            subscribed = None;
                            self.retry_at = None;
                        }
                        Change::Nothing => {}
                    }
                }
                joined = finished(&mut attempt) => {
                    attempt = None;
                    match joined {
                        Ok(Ok(subscription)) => {
                            self.forget();
                            subscribed = Some(subscription);
                            if std::mem::take(&mut self.failure_logged) {
                                tracing::info!("following the bots' units from the systemd manager's signals again");
                            }
                        }
                        Ok(Err(error)) => self.lose(&error.to_string()),
                        Err(error) => self.lose(&error.to_string()),
                    }
                }
                request = inbox.recv() => {
                    let Some(request) = request else { return };
                    self.handle(request, subscribed.is_some());
                }
                () = tokio::time::sleep_until(retry_at), if may_attempt => {
                    attempt = Some(tokio::spawn(subscribe(self.instance)));
                }
            }
        }
    }

    fn handle(&mut self, request: Request, subscribed: bool) {
        match request {
            Request::Lookup { bot_ids, reply } => {
                self.wanted = true;
                let answer = if subscribed {
                    let held = bot_ids
                        .iter()
                        .filter_map(|id| Some((id.clone(), self.units.get(id)?.clone())))
                        .collect();
                    let start = ReadingStart {
                        subscription: self.subscription,
                        signal: self.signal,
                    };
                    (held, Some(start))
                } else {
                    (Units::new(), None)
                };
                let _ = reply.send(answer);
            }
            Request::Store { start, units } => {
                if !subscribed || start.subscription != self.subscription {
                    return;
                }
                if self.all_changed_at > start.signal {
                    return;
                }
                for (bot_id, unit) in units {
                    let changed_since = self
                        .changed_at
                        .get(&bot_id)
                        .is_some_and(|at| *at > start.signal);
                    if !changed_since {
                        self.units.insert(bot_id, unit);
                    }
                }
            }
        }
    }

    fn unit_changed(&mut self, bot_id: String) {
        self.signal += 1;
        self.units.remove(&bot_id);
        self.changed_at.insert(bot_id, self.signal);
    }

    fn all_changed(&mut self) {
        self.signal += 1;
        self.all_changed_at = self.signal;
        self.units.clear();
        self.changed_at.clear();
    }

    /// Drops everything held; readings begun before are not kept.
    fn forget(&mut self) {
        self.subscription += 1;
        self.units.clear();
        self.changed_at.clear();
    }

    /// The subscription is gone or could not be made: readings go to the
    /// manager until it is made again.
    fn lose(&mut self, why: &str) {
        self.forget();
        self.retry_at = Some(Instant::now() + RETRY_AFTER);
        if !std::mem::replace(&mut self.failure_logged, true) {
            tracing::warn!(
                "cannot follow the bots' units from the systemd manager's signals ({why}); reading them from the manager at each request until it works again"
            );
        }
    }
}

async fn next_signal(subscribed: &mut Option<Subscription>) -> Option<zbus::Result<Message>> {
    match subscribed {
        Some(subscription) => subscription.signals.next().await,
        None => std::future::pending().await,
    }
}

async fn finished<T>(attempt: &mut Option<JoinHandle<T>>) -> Result<T, tokio::task::JoinError> {
    match attempt {
        Some(handle) => handle.await,
        None => std::future::pending().await,
    }
}

/// Connects, asks the bus for the signals, then subscribes: the signals are
/// asked for first so that none sent after `Subscribe` is missed.
async fn subscribe(instance: SystemdInstance) -> Result<Subscription, BusError> {
    let connection = bus::connect(instance).await?;
    let failed = |source: zbus::Error| BusError::Subscribe { source };
    let rules = [
        MatchRule::builder()
            .msg_type(MessageType::Signal)
            .sender(DESTINATION)
            .and_then(|rule| rule.interface(PROPERTIES_INTERFACE))
            .and_then(|rule| rule.member("PropertiesChanged"))
            .and_then(|rule| rule.path_namespace(UNIT_PATH_NAMESPACE))
            .map(|rule| rule.build()),
        MatchRule::builder()
            .msg_type(MessageType::Signal)
            .sender(DESTINATION)
            .and_then(|rule| rule.interface(MANAGER_INTERFACE))
            .and_then(|rule| rule.path(MANAGER_PATH))
            .map(|rule| rule.build()),
        MatchRule::builder()
            .msg_type(MessageType::Signal)
            .sender("org.freedesktop.DBus")
            .and_then(|rule| rule.interface("org.freedesktop.DBus"))
            .and_then(|rule| rule.member("NameOwnerChanged"))
            .and_then(|rule| rule.add_arg(DESTINATION))
            .map(|rule| rule.build()),
    ];
    let mut signals = SelectAll::new();
    for rule in rules {
        let rule = rule.map_err(failed)?;
        let stream = MessageStream::for_match_rule(rule, &connection, Some(SIGNALS_QUEUED))
            .await
            .map_err(failed)?;
        signals.push(stream);
    }
    connection
        .call_method(
            Some(DESTINATION),
            MANAGER_PATH,
            Some(MANAGER_INTERFACE),
            "Subscribe",
            &(),
        )
        .await
        .map_err(failed)?;
    Ok(Subscription {
        _connection: connection,
        signals,
    })
}

/// What a signal asks of the units in memory.
fn change_of(message: &Message) -> Change {
    let header = message.header();
    let (Some(interface), Some(member)) = (header.interface(), header.member()) else {
        return Change::Nothing;
    };
    match (interface.as_str(), member.as_str()) {
        (PROPERTIES_INTERFACE, "PropertiesChanged") => header
            .path()
            .and_then(|path| bot_id_of_unit_path(path.as_str()))
            .map_or(Change::Nothing, Change::Unit),
        (MANAGER_INTERFACE, "UnitRemoved") => {
            match message
                .body()
                .deserialize::<(String, zbus::zvariant::OwnedObjectPath)>()
            {
                Ok((unit, _)) => bot_id_of_unit(&unit).map_or(Change::Nothing, Change::Unit),
                // Which unit is not known: none is trusted.
                Err(_) => Change::All,
            }
        }
        (MANAGER_INTERFACE, "UnitFilesChanged" | "Reloading") => Change::All,
        ("org.freedesktop.DBus", "NameOwnerChanged") => Change::ManagerChanged,
        _ => Change::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{bus::unit_object_path, unit_name};
    use super::*;

    #[test]
    fn only_the_paths_of_the_bots_units_name_a_bot() {
        for id in ["a", "file-output", "a_1", "x.y", "Bot-2", "ü"] {
            let path = unit_object_path(&unit_name(id));
            assert_eq!(bot_id_of_unit_path(&path).as_deref(), Some(id), "{path}");
        }
        for path in [
            // The template itself, a timer of a bot, another service.
            "/org/freedesktop/systemd1/unit/intelmq_2dbot_40_2eservice",
            "/org/freedesktop/systemd1/unit/intelmq_2dbot_40a_2etimer",
            "/org/freedesktop/systemd1/unit/intelmqd_2eservice",
            "/org/freedesktop/systemd1/unit/intelmq_2dbot_2eslice",
            "/org/freedesktop/systemd1/job/42",
            "/org/freedesktop/systemd1",
            // Broken escapes.
            "/org/freedesktop/systemd1/unit/intelmq_2dbot_40a_2",
            "/org/freedesktop/systemd1/unit/intelmq_2dbot_40a_zz_2eservice",
        ] {
            assert_eq!(bot_id_of_unit_path(path), None, "{path}");
        }
    }

    fn unit(active_state: &str) -> UnitState {
        UnitState {
            active_state: active_state.to_owned(),
            ..UnitState::default()
        }
    }

    fn lookup(watcher: &mut Watcher, bot_id: &str) -> (Units, Option<ReadingStart>) {
        let (reply, mut answer) = oneshot::channel();
        let bot_ids = vec![bot_id.to_owned()];
        watcher.handle(Request::Lookup { bot_ids, reply }, true);
        answer.try_recv().unwrap_or_default()
    }

    #[test]
    fn a_reading_begun_before_a_signal_about_its_unit_is_not_kept() {
        let mut watcher = Watcher::new(SystemdInstance::User);
        let (_, start) = lookup(&mut watcher, "a");
        let start = start.unwrap_or_else(|| panic!("subscribed"));
        watcher.unit_changed("a".to_owned());
        let units = Units::from([
            ("a".to_owned(), unit("active")),
            ("b".to_owned(), unit("active")),
        ]);
        watcher.handle(Request::Store { start, units }, true);
        assert!(lookup(&mut watcher, "a").0.is_empty());
        assert_eq!(lookup(&mut watcher, "b").0.len(), 1);
        // A signal drops the unit; a reading after it is kept.
        watcher.unit_changed("b".to_owned());
        assert!(lookup(&mut watcher, "b").0.is_empty());
        let (_, start) = lookup(&mut watcher, "a");
        let start = start.unwrap_or_else(|| panic!("subscribed"));
        let units = Units::from([("a".to_owned(), unit("failed"))]);
        watcher.handle(Request::Store { start, units }, true);
        assert_eq!(lookup(&mut watcher, "a").0["a"], unit("failed"));
        // A lost subscription drops everything, and what was begun under it.
        watcher.forget();
        assert!(lookup(&mut watcher, "a").0.is_empty());
        let units = Units::from([("a".to_owned(), unit("failed"))]);
        watcher.handle(Request::Store { start, units }, true);
        assert!(lookup(&mut watcher, "a").0.is_empty());
    }
}
