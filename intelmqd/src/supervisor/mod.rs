//! The supervisor: the one owner of the daemon's state. It holds the
//! configuration, the table of bot handles with the configuration each bot was
//! last acted on with, and is fed by a channel: requests from connections, the
//! results of actions, configuration changes seen by the watcher, and change
//! notices from bot tasks. It never waits on a bot itself; actions run in tasks
//! of their own and come back as messages, so `status` is answered at once even
//! while a bot takes seconds to stop.

mod act;
mod observe;
mod query;
mod units;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use intelmqd_proto::{Answers, Command, ErrorKind, Level, Message, Response};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::asker::AskRequest;
use crate::backend::{merged_snapshot, ManagedBot, PidBot, SystemdBot};
use crate::bot::{BotHandle, BotSnapshot, ChangeSender, Shared};
use crate::config::store::ConfigNotice;
use crate::config::{BotConfig, ConfigStore};
use crate::config::{ProcessManager, ReloadMode};
use crate::control::Limits;
use crate::effective::{EffectiveBot, EffectiveState};
use crate::events::EventBus;
use crate::persist::Persister;
use crate::systemd::{Systemctl, SystemdError, UnitState};
use crate::writer::ConfigWriter;
use crate::{adopt, launch, reconcile, Paths};

/// Sends the answer to the client that asked.
type Respond = Box<dyn FnOnce(Response) + Send>;

/// A request as the supervisor gets it.
pub struct Incoming {
    pub command: Command,
    pub answers: Answers,
    /// Where questions go when the client answers them itself.
    pub questions: Option<mpsc::Sender<AskRequest>>,
    pub reply: oneshot::Sender<Response>,
    /// The systemd units it is about were read for it already.
    pub observed: bool,
}

enum Msg {
    Request(Box<Incoming>),
    /// The units a request is about, read from systemd before it is handled.
    Observed(
        Box<Incoming>,
        Result<HashMap<String, UnitState>, SystemdError>,
    ),
    ActionsDone(Box<act::ActionsDone>),
    ConfigChanged,
}

/// The connections' and the watcher's way in.
#[derive(Clone, Debug)]
pub struct SupervisorHandle {
    messages: mpsc::Sender<Msg>,
    limits: watch::Receiver<Limits>,
    events: EventBus,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

impl SupervisorHandle {
    /// Sends one request and waits for its answer.
    pub async fn request(
        &self,
        command: Command,
        answers: Answers,
        questions: Option<mpsc::Sender<AskRequest>>,
    ) -> Response {
        send_request(&self.messages, command, answers, questions).await
    }

    /// The connection limits of defaults.conf, as they change.
    pub fn limits(&self) -> watch::Receiver<Limits> {
        self.limits.clone()
    }

    /// A subscription to the daemon's events.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<intelmqd_proto::Event> {
        self.events.subscribe()
    }

    /// Tells the supervisor that a configuration file may have changed.
    pub fn config_changed(&self) {
        // A full queue already holds work that refreshes the configuration.
        let _ = self.messages.try_send(Msg::ConfigChanged);
    }
}

/// Sends one request into the supervisor's channel and waits for its answer.
async fn send_request(
    messages: &mpsc::Sender<Msg>,
    command: Command,
    answers: Answers,
    questions: Option<mpsc::Sender<AskRequest>>,
) -> Response {
    let (reply, answer) = oneshot::channel();
    let shutting_down = || Response::failure(ErrorKind::Internal, "the daemon is shutting down");
    let incoming = Incoming {
        command,
        answers,
        questions,
        reply,
        observed: false,
    };
    if messages
        .send(Msg::Request(Box::new(incoming)))
        .await
        .is_err()
    {
        return shutting_down();
    }
    answer.await.unwrap_or_else(|_| shutting_down())
}

/// What the daemon keeps of one bot beyond its task.
struct Tracked {
    handle: BotHandle,
    /// The configuration the bot was last successfully acted on with.
    effective: Option<BotConfig>,
    /// Its queues in pipeline.conf at that time.
    pipeline: Option<Value>,
    /// Its systemd unit as last read, once it ran under systemd.
    unit: Option<UnitState>,
    /// Its last reload while running, and when (Unix seconds).
    reloaded: Option<(ReloadMode, u64)>,
}

impl Tracked {
    fn new(handle: BotHandle) -> Tracked {
        Tracked {
            handle,
            effective: None,
            pipeline: None,
            unit: None,
            reloaded: None,
        }
    }

    /// What the daemon knows of the bot: its task's view, or its unit's.
    fn snapshot(&self) -> BotSnapshot {
        merged_snapshot(self.handle.snapshot(), self.unit.as_ref())
    }
}

pub struct Supervisor {
    paths: Paths,
    config: ConfigStore,
    /// Whether each configured module was found on PATH at the last reading
    /// of runtime.conf, so that `status` does no file-system walk.
    modules_found: HashMap<String, bool>,
    bots: BTreeMap<String, Tracked>,
    /// Bots whose unit systemd did not know at the last reading (the
    /// template unit is not installed).
    units_not_found: std::collections::HashSet<String>,
    /// Every `systemctl` call goes through it, gathered with the others.
    systemd: crate::systemd::SystemdQueue,
    persister: Persister,
    writer: ConfigWriter,
    limits: watch::Sender<Limits>,
    events: EventBus,
    stats: Arc<crate::control::ConnectionStats>,
    /// Unix time in seconds when the daemon started.
    started_at: u64,
    dirty: bool,
    changes: ChangeSender,
    messages: mpsc::Sender<Msg>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl Supervisor {
    /// Reads the configuration and the effective state, adopts the bots an
    /// earlier daemon left running, and starts the supervisor's task.
    pub fn spawn(
        paths: Paths,
        events: EventBus,
        stats: Arc<crate::control::ConnectionStats>,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) -> SupervisorHandle {
        let (messages, inbox) = mpsc::channel(1024);
        let (changes, change_inbox) = mpsc::unbounded_channel();
        let (limits, limits_seen) = watch::channel(Limits::default());
        let mut supervisor = Supervisor {
            limits,
            stats,
            started_at: crate::bot::ticks::unix_seconds(std::time::SystemTime::now()),
            events: events.clone(),
            config: ConfigStore::new(&paths.config_dir),
            persister: Persister::spawn(paths.state_dir.clone(), tracker),
            writer: ConfigWriter::spawn(paths.config_dir.clone()),
            paths,
            modules_found: HashMap::new(),
            bots: BTreeMap::new(),
            units_not_found: Default::default(),
            systemd: crate::systemd::SystemdQueue::spawn(),
            dirty: true,
            changes,
            messages: messages.clone(),
            tracker: tracker.clone(),
            shutdown,
        };
        let notices = supervisor.config.refresh();
        log_notices(&notices);
        supervisor.publish_limits();
        for recovered in adopt::recover(&supervisor.paths, supervisor.config.current()) {
            let adopted = recovered.process.is_some();
            let handle =
                supervisor.new_handle(&recovered.bot_id, recovered.process, recovered.snapshot);
            if recovered.scheduled {
                supervisor.rearm(&handle, recovered.effective.as_ref());
            } else if adopted {
                supervisor.supervise(&handle, recovered.effective.as_ref());
            }
            // A bot that ran under systemd is read from systemd at the first
            // request about it.
            let unit = recovered.systemd.then(|| UnitState {
                id: crate::systemd::unit_name(&recovered.bot_id),
                ..UnitState::default()
            });
            supervisor.bots.insert(
                recovered.bot_id,
                Tracked {
                    effective: recovered.effective,
                    pipeline: recovered.pipeline,
                    unit,
                    ..Tracked::new(handle)
                },
            );
        }
        supervisor.schedule_onboot_bots();
        // Logs what the files say against what runs, once at start.
        supervisor.after_config_change(true);
        tracker.spawn(supervisor.run(inbox, change_inbox));
        SupervisorHandle {
            messages,
            limits: limits_seen,
            events,
        }
    }

    async fn run(
        mut self,
        mut inbox: mpsc::Receiver<Msg>,
        mut changes: mpsc::UnboundedReceiver<String>,
    ) {
        loop {
            let mut answered = Vec::new();
            tokio::select! {
                biased;
                _ = self.shutdown.cancelled() => break,
                Some(message) = inbox.recv() => answered.extend(self.on_message(message)),
                Some(_) = changes.recv() => self.dirty = true,
            }
            // Take what else is waiting, so that a burst costs one state write.
            for _ in 0..256 {
                match inbox.try_recv() {
                    Ok(message) => answered.extend(self.on_message(message)),
                    Err(_) => break,
                }
            }
            while changes.try_recv().is_ok() {
                self.dirty = true;
            }
            let generation = self.persist();
            for (respond, response) in answered {
                let written = self.persister.written(generation);
                tokio::spawn(async move {
                    let response = match written.await {
                        Ok(()) => response,
                        Err(error) => unsaved(response, &error),
                    };
                    respond(response);
                });
            }
        }
        let generation = self.persist();
        if let Err(error) = self.persister.written(generation).await {
            tracing::error!("the last state could not be saved before stopping: {error}");
        }
        tracing::info!("supervisor stopped; bots keep running");
    }

    /// Handles one message; returns the answers that must wait for the state
    /// to be written.
    fn on_message(&mut self, message: Msg) -> Option<(Respond, Response)> {
        match message {
            Msg::Request(incoming) => {
                self.on_request(*incoming);
                None
            }
            Msg::ActionsDone(done) => Some(self.on_actions_done(*done)),
            Msg::Observed(incoming, units) => {
                self.on_observed(units);
                self.on_request(*incoming);
                None
            }
            Msg::ConfigChanged => {
                self.refresh_config();
                None
            }
        }
    }

    fn on_request(&mut self, incoming: Incoming) {
        if !incoming.observed {
            let units = self.units_to_observe(&incoming.command);
            if !units.is_empty() {
                return self.observe_then(units, incoming);
            }
        }
        let notices = self.refresh_config();
        let Incoming {
            command,
            answers,
            questions,
            reply,
            observed: _,
        } = incoming;
        let respond = move |response: Response| {
            let _ = reply.send(with_notices(notices, response));
        };
        match command {
            Command::Hello => respond(query::hello(&self.paths)),
            Command::List => respond(self.list()),
            Command::Status {
                bot_id,
                log_lines,
                select,
            } => self.answer_status(bot_id, log_lines, select, respond),
            Command::Debug { bot_id } => respond(self.debug(&bot_id)),
            Command::Configtest { bot_id } => respond(self.configtest(bot_id.as_deref())),
            Command::Metrics => respond(self.metrics()),
            Command::Log {
                bot_id,
                lines,
                level,
            } => self.answer_log(bot_id, lines, level, respond),
            Command::Events => respond(Response::failure(
                ErrorKind::Internal,
                "events are served by the connection, not the supervisor",
            )),
            Command::Answer { .. } => respond(Response::failure(
                ErrorKind::BadRequest,
                "no question is waiting for an answer on this connection",
            )),
            command => self.act(command, answers, questions, Box::new(respond)),
        }
    }

    /// Writes the effective state if anything changed; returns the generation
    /// that holds every change so far.
    fn persist(&mut self) -> u64 {
        if !std::mem::take(&mut self.dirty) {
            // Nothing new, but an earlier change may still be on its way to
            // disk: answers wait for that one too.
            return self.persister.latest();
        }
        let mut state = EffectiveState::default();
        for (bot_id, tracked) in &self.bots {
            // The task's own view: a pid here is one the next daemon adopts,
            // which a unit's main pid must never be.
            let snapshot = tracked.handle.snapshot();
            let Some(config) = tracked.effective.as_ref() else {
                continue;
            };
            state.bots.insert(
                bot_id.clone(),
                EffectiveBot {
                    config: config.raw.clone(),
                    pipeline: tracked.pipeline.clone(),
                    state: snapshot.state,
                    scheduled: snapshot.scheduled,
                    pid: snapshot.pid,
                    start_time: snapshot.start_time,
                    since: snapshot.since,
                    last_exit: snapshot.last_exit,
                    systemd: tracked.unit.is_some(),
                },
            );
        }
        self.persister.publish(state)
    }

    /// Re-reads changed configuration files; returns warnings for the client
    /// about files that are rejected.
    fn refresh_config(&mut self) -> Vec<Message> {
        let notices = self.config.refresh();
        log_notices(&notices);
        for notice in &notices {
            let kind = match notice {
                ConfigNotice::Rejected { .. } => intelmqd_proto::EventKind::ConfigInvalid,
                _ => intelmqd_proto::EventKind::ConfigChanged,
            };
            self.events.emit(kind, None, notice.to_string());
        }
        if !notices.is_empty() {
            self.publish_limits();
        }
        let runtime_read = notices.iter().any(ConfigNotice::bots_read);
        if runtime_read {
            self.after_config_change(false);
        }
        self.config
            .file_errors()
            .into_iter()
            .map(|error| {
                Message::new(
                    Level::Warning,
                    None,
                    format!("{error}; the daemon keeps using the last good configuration"),
                )
            })
            .collect()
    }

    /// After runtime.conf was read: finds the modules on PATH again, forgets
    /// bots that were removed the right way (stopped first), and logs what
    /// drifted for the bots that run. Watching never acts on a bot.
    fn after_config_change(&mut self, at_start: bool) {
        let path = std::env::var_os("PATH");
        let config = std::sync::Arc::clone(self.config.current());
        self.modules_found = config
            .bots
            .values()
            .filter_map(|bot| bot.module.clone())
            .map(|module| {
                let found = launch::resolve_module(&module, path.as_deref()).is_some();
                (module, found)
            })
            .collect();
        let gone: Vec<String> = self
            .bots
            .iter()
            .filter(|(id, tracked)| {
                !config.bots.contains_key(*id) && !tracked.snapshot().is_running()
            })
            .map(|(id, _)| id.clone())
            .collect();
        for bot_id in gone {
            tracing::info!(
                bot_id,
                "{bot_id} was removed from {} while stopped; the daemon forgets it",
                self.config.runtime_file()
            );
            self.bots.remove(&bot_id);
            self.dirty = true;
        }
        for (bot_id, tracked) in &self.bots {
            let running = tracked.snapshot().is_running();
            match reconcile::drift(config.bots.get(bot_id), tracked.effective.as_ref(), running) {
                Some(reconcile::Drift::RemovedWhileRunning { .. }) => {
                    tracing::warn!(bot_id, "{}", reconcile::unstable_hint(bot_id))
                }
                Some(reconcile::Drift::ChangedWhileRunning { .. }) if !at_start => tracing::info!(
                    bot_id,
                    "the configuration of {bot_id} changed while it runs. {}",
                    reconcile::RELOAD_HINT
                ),
                _ => {}
            }
        }
    }

    fn publish_limits(&self) {
        let defaults = &self.config.current().defaults;
        let limits = Limits {
            max_connections: defaults.max_connections,
            client_timeout: defaults.client_timeout,
        };
        self.limits.send_if_modified(|current| {
            let changed = *current != limits;
            *current = limits;
            changed
        });
    }

    fn new_handle(
        &self,
        bot_id: &str,
        process: Option<crate::process::BotProcess>,
        snapshot: BotSnapshot,
    ) -> BotHandle {
        let shared = Shared {
            state_dir: self.paths.state_dir.clone(),
            changes: self.changes.clone(),
            events: self.events.clone(),
            tracker: self.tracker.clone(),
            shutdown: self.shutdown.clone(),
        };
        BotHandle::spawn(bot_id, process, snapshot, &shared)
    }

    /// Puts a bot back on the schedule it was on when the last daemon
    /// stopped, from the configuration it was armed with.
    fn rearm(&self, handle: &BotHandle, effective: Option<&BotConfig>) {
        let Some(config) = effective else { return };
        match launch::launch_for(&self.paths, config, &self.config.current().defaults) {
            Ok(launch) => {
                let handle = handle.clone();
                tokio::spawn(async move { handle.start(launch).await });
            }
            Err(reason) => tracing::error!(
                bot_id = %config.bot_id,
                "{} was scheduled but cannot be put back on its schedule: {reason}",
                config.bot_id
            ),
        }
    }

    /// Gives an adopted stream bot its restart policy again.
    fn supervise(&self, handle: &BotHandle, effective: Option<&BotConfig>) {
        let Some(config) = effective.filter(|c| c.run_mode == crate::config::RunMode::Stream)
        else {
            return;
        };
        match launch::launch_for(&self.paths, config, &self.config.current().defaults) {
            Ok(launch) => handle.supervise(launch),
            Err(reason) => tracing::warn!(
                bot_id = %config.bot_id,
                "{} was adopted but will not be restarted if it ends: {reason}",
                config.bot_id
            ),
        }
    }

    fn handle_for(&mut self, bot_id: &str) -> BotHandle {
        if let Some(tracked) = self.bots.get(bot_id) {
            return tracked.handle.clone();
        }
        let handle = self.new_handle(bot_id, None, BotSnapshot::stopped());
        self.bots
            .insert(bot_id.to_owned(), Tracked::new(handle.clone()));
        handle
    }

    /// The bot under the process manager that acts on it now: systemd when
    /// it is configured or when the bot's unit runs (a bot stays with the
    /// manager it runs under until it is stopped), else the PID manager.
    fn managed_bot(&mut self, bot_id: &str) -> ManagedBot {
        let handle = self.handle_for(bot_id);
        let defaults = &self.config.current().defaults;
        let unit = self.bots.get(bot_id).and_then(|t| t.unit.clone());
        let unit_runs = unit.as_ref().is_some_and(UnitState::is_active);
        if defaults.process_manager == ProcessManager::Systemd || unit_runs {
            ManagedBot::Systemd(Box::new(SystemdBot {
                bot_id: bot_id.to_owned(),
                handle,
                systemctl: Systemctl::new(defaults.systemd_instance, &self.systemd),
                unit,
                leaving: defaults.process_manager == ProcessManager::Pid,
            }))
        } else {
            ManagedBot::Pid(PidBot { handle })
        }
    }

    fn is_running(&self, bot_id: &str) -> bool {
        self.bots
            .get(bot_id)
            .is_some_and(|t| t.snapshot().is_running())
    }

    fn snapshot(&self, bot_id: &str) -> BotSnapshot {
        self.bots
            .get(bot_id)
            .map_or_else(BotSnapshot::stopped, Tracked::snapshot)
    }
}

fn log_notices(notices: &[ConfigNotice]) {
    for notice in notices {
        match notice {
            ConfigNotice::Rejected { .. } => tracing::error!("{notice}"),
            ConfigNotice::Missing { .. } | ConfigNotice::Ignored { .. } => {
                tracing::warn!("{notice}")
            }
            ConfigNotice::Source { .. } => tracing::info!("{notice}"),
            ConfigNotice::Loaded { .. } => tracing::info!("{notice}"),
        }
    }
}

/// An answer whose state did not reach the disk: what was done stands, but
/// the request failed, since a daemon restarted now would not know of it.
fn unsaved(mut response: Response, error: &str) -> Response {
    let text = format!(
        "the action was carried out, but the daemon could not save its state: {error}. Free space or fix the state dir; until then a restarted daemon may not know what runs"
    );
    response
        .messages
        .push(Message::new(Level::Error, None, text.clone()));
    response.ok = false;
    response.error = Some(intelmqd_proto::ErrorBody {
        kind: ErrorKind::ActionFailed,
        message: text,
    });
    response
}

/// Puts the warnings about rejected configuration files before the answer's
/// own messages.
fn with_notices(mut notices: Vec<Message>, mut response: Response) -> Response {
    notices.append(&mut response.messages);
    response.messages = notices;
    response
}
