//! The supervisor: the one owner of the daemon's state. It holds the
//! configuration, the table of bot handles and their effective configuration,
//! and is fed by a channel: requests from connections, the results of actions,
//! and change notices from bot tasks. It never waits on a bot itself; actions
//! run in tasks of their own and come back as messages, so `status` is answered
//! at once even while a bot takes seconds to stop.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use intelmqd_proto::{ActionRow, Command, ErrorBody, ErrorKind, Level, Message, Outcome, Response};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bot::{ActionReport, BotHandle, BotSnapshot, ChangeSender};
use crate::config::store::ConfigNotice;
use crate::config::{BotConfig, Config, ConfigStore, RunMode};
use crate::effective::{EffectiveBot, EffectiveState};
use crate::persist::Persister;
use crate::{adopt, launch, logtail, status, Paths};

/// How many log lines `status <bot_id>` returns unless asked otherwise.
const DEFAULT_LOG_LINES: usize = 10;
/// The most log lines one status answer carries.
const MAX_LOG_LINES: usize = 10_000;

enum Msg {
    Request(Command, oneshot::Sender<Response>),
    ActionDone(Box<ActionDone>),
}

/// What an action comes to once checked.
enum Plan {
    /// Act; start and restart carry the launch and the entry it came from.
    Run(Option<(crate::process::Launch, BotConfig)>),
    /// Nothing to do but answer.
    Answer(Response),
}

/// Sends the answer to the client that asked.
type Respond = Box<dyn FnOnce(Response) + Send>;

struct ActionDone {
    bot_id: String,
    /// The entry the bot was started with, to record as effective.
    started_with: Option<BotConfig>,
    report: ActionReport,
    respond: Respond,
}

/// The connections' way in.
#[derive(Clone, Debug)]
pub struct SupervisorHandle {
    messages: mpsc::Sender<Msg>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

impl SupervisorHandle {
    /// Sends one request and waits for its answer.
    pub async fn request(&self, command: Command) -> Response {
        let (reply, answer) = oneshot::channel();
        let shutting_down =
            || Response::failure(ErrorKind::Internal, "the daemon is shutting down");
        if self
            .messages
            .send(Msg::Request(command, reply))
            .await
            .is_err()
        {
            return shutting_down();
        }
        answer.await.unwrap_or_else(|_| shutting_down())
    }
}

struct Tracked {
    handle: BotHandle,
    /// The configuration the bot was last successfully acted on with.
    effective: Option<BotConfig>,
}

pub struct Supervisor {
    paths: Paths,
    config: ConfigStore,
    /// Whether each configured module was found on PATH at the last reading
    /// of runtime.conf, so that `status` does no file-system walk.
    modules_found: HashMap<String, bool>,
    bots: BTreeMap<String, Tracked>,
    persister: Persister,
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
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) -> SupervisorHandle {
        let (messages, inbox) = mpsc::channel(1024);
        let (changes, change_inbox) = mpsc::unbounded_channel();
        let mut supervisor = Supervisor {
            config: ConfigStore::new(&paths.config_dir),
            persister: Persister::spawn(paths.state_dir.clone(), tracker),
            paths,
            modules_found: HashMap::new(),
            bots: BTreeMap::new(),
            dirty: false,
            changes,
            messages: messages.clone(),
            tracker: tracker.clone(),
            shutdown,
        };
        supervisor.refresh_config();
        for adopted in adopt::recover(&supervisor.paths, supervisor.config.current()) {
            let handle = BotHandle::spawn(
                &adopted.bot_id,
                supervisor.paths.state_dir.clone(),
                adopted.process,
                adopted.snapshot,
                supervisor.changes.clone(),
                &supervisor.tracker,
                supervisor.shutdown.clone(),
            );
            supervisor.bots.insert(
                adopted.bot_id,
                Tracked {
                    handle,
                    effective: adopted.effective,
                },
            );
        }
        supervisor.dirty = true;
        tracker.spawn(supervisor.run(inbox, change_inbox));
        SupervisorHandle { messages }
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
                Some(message) = inbox.recv() => {
                    answered.extend(self.on_message(message));
                }
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
                    written.await;
                    respond(response);
                });
            }
        }
        let generation = self.persist();
        self.persister.written(generation).await;
        tracing::info!("supervisor stopped; bots keep running");
    }

    /// Writes the effective state if anything changed; returns the generation
    /// that holds every change so far.
    fn persist(&mut self) -> u64 {
        if !std::mem::take(&mut self.dirty) {
            return 0;
        }
        let mut state = EffectiveState::default();
        for (bot_id, tracked) in &self.bots {
            let snapshot = tracked.handle.snapshot();
            let Some(config) = tracked.effective.as_ref() else {
                if snapshot.pid.is_none() {
                    continue;
                }
                tracing::warn!(bot_id, "running bot without an effective configuration");
                continue;
            };
            state.bots.insert(
                bot_id.clone(),
                EffectiveBot {
                    config: config.raw.clone(),
                    state: snapshot.state,
                    pid: snapshot.pid,
                    start_time: snapshot.start_time,
                    since: snapshot.since,
                    last_exit: snapshot.last_exit,
                },
            );
        }
        self.persister.publish(state)
    }

    /// Handles one message; returns the answers that must wait for the state
    /// to be written.
    fn on_message(&mut self, message: Msg) -> Option<(Respond, Response)> {
        match message {
            Msg::Request(command, reply) => {
                self.on_request(command, reply);
                None
            }
            Msg::ActionDone(done) => Some(self.on_action_done(*done)),
        }
    }

    /// Re-reads changed configuration files; returns warnings for the client
    /// about files that are rejected.
    fn refresh_config(&mut self) -> Vec<Message> {
        let notices = self.config.refresh();
        let runtime_changed = notices.iter().any(|n| {
            matches!(n, ConfigNotice::Loaded { file } | ConfigNotice::Missing { file } if *file == crate::config::RUNTIME_FILE)
        });
        for notice in &notices {
            match notice {
                ConfigNotice::Rejected { .. } => tracing::error!("{notice}"),
                ConfigNotice::Missing { .. } => tracing::warn!("{notice}"),
                ConfigNotice::Loaded { .. } => tracing::info!("{notice}"),
            }
        }
        if runtime_changed {
            let path = std::env::var_os("PATH");
            self.modules_found = self
                .config
                .current()
                .bots
                .values()
                .filter_map(|bot| bot.module.clone())
                .map(|module| {
                    let found = launch::resolve_module(&module, path.as_deref()).is_some();
                    (module, found)
                })
                .collect();
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

    fn handle_for(&mut self, bot_id: &str) -> BotHandle {
        if let Some(tracked) = self.bots.get(bot_id) {
            return tracked.handle.clone();
        }
        let handle = BotHandle::spawn(
            bot_id,
            self.paths.state_dir.clone(),
            None,
            BotSnapshot::stopped(),
            self.changes.clone(),
            &self.tracker,
            self.shutdown.clone(),
        );
        self.bots.insert(
            bot_id.to_owned(),
            Tracked {
                handle: handle.clone(),
                effective: None,
            },
        );
        handle
    }

    fn on_request(&mut self, command: Command, reply: oneshot::Sender<Response>) {
        let notices = self.refresh_config();
        let respond = move |response: Response| {
            let _ = reply.send(with_notices(notices, response));
        };
        let (bot_id, kind) = match command {
            Command::Hello => {
                return respond(Response::success(
                    Vec::new(),
                    Outcome::Hello {
                        daemon_version: env!("CARGO_PKG_VERSION").to_owned(),
                        protocol: intelmqd_proto::PROTOCOL_VERSION,
                        pid: std::process::id(),
                    },
                ))
            }
            Command::List => {
                let bots = self
                    .config
                    .current()
                    .bots
                    .values()
                    .map(status::list_row)
                    .collect();
                return respond(Response::success(Vec::new(), Outcome::List { bots }));
            }
            Command::Status { bot_id, log_lines } => {
                return self.answer_status(bot_id, log_lines, respond)
            }
            Command::Debug { bot_id } => return respond(self.debug(&bot_id)),
            Command::Start { bot_id, .. } => (bot_id, ActionKind::Start),
            Command::Stop { bot_id } => (bot_id, ActionKind::Stop),
            Command::Restart { bot_id } => (bot_id, ActionKind::Restart),
            Command::Reload { bot_id } => (bot_id, ActionKind::Reload),
        };
        if let Err(error) = self.dispatch(&bot_id, kind, respond) {
            tracing::warn!(bot_id, "{} refused: {}", kind.name(), error.message);
        }
    }

    fn answer_status(
        &self,
        bot_id: Option<String>,
        log_lines: Option<usize>,
        respond: impl FnOnce(Response) + Send + 'static,
    ) {
        let bots = match self.status(bot_id.as_deref()) {
            Ok(bots) => bots,
            Err(error) => return respond(failure(error)),
        };
        let Some(bot_id) = bot_id else {
            return respond(Response::success(
                Vec::new(),
                Outcome::Status {
                    bots,
                    log: Vec::new(),
                },
            ));
        };
        let path = self.paths.log_dir.join(format!("{bot_id}.log"));
        let lines = log_lines.unwrap_or(DEFAULT_LOG_LINES).min(MAX_LOG_LINES);
        tokio::spawn(async move {
            let log = tokio::task::spawn_blocking(move || logtail::last_lines(&path, lines))
                .await
                .unwrap_or_default();
            respond(Response::success(Vec::new(), Outcome::Status { bots, log }));
        });
    }

    fn status(&self, bot_id: Option<&str>) -> Result<Vec<intelmqd_proto::BotStatus>, ErrorBody> {
        let config = self.config.current();
        let ids: Vec<String> = match bot_id {
            Some(bot_id) => {
                check_bot_id(bot_id)?;
                if !config.bots.contains_key(bot_id) && !self.is_running(bot_id) {
                    return Err(unknown_bot(bot_id, &self.paths));
                }
                vec![bot_id.to_owned()]
            }
            None => {
                let mut ids: BTreeSet<String> = config.bots.keys().cloned().collect();
                ids.extend(self.bots.keys().filter(|id| self.is_running(id)).cloned());
                ids.into_iter().collect()
            }
        };
        Ok(ids.iter().map(|id| self.bot_status(config, id)).collect())
    }

    fn bot_status(&self, config: &Config, bot_id: &str) -> intelmqd_proto::BotStatus {
        let configured = config.bots.get(bot_id);
        let tracked = self.bots.get(bot_id);
        let snapshot = tracked.map_or_else(BotSnapshot::stopped, |t| t.handle.snapshot());
        let module_found = configured
            .and_then(|c| c.module.as_ref())
            .and_then(|m| self.modules_found.get(m).copied())
            .unwrap_or(true);
        status::bot_status(
            bot_id,
            configured,
            tracked.and_then(|t| t.effective.as_ref()),
            &snapshot,
            module_found,
        )
    }

    fn is_running(&self, bot_id: &str) -> bool {
        self.bots
            .get(bot_id)
            .is_some_and(|t| t.handle.snapshot().is_running())
    }

    fn debug(&mut self, bot_id: &str) -> Response {
        if let Err(error) = check_bot_id(bot_id) {
            return failure(error);
        }
        let config = Arc::clone(self.config.current());
        let Some(bot) = config.bots.get(bot_id) else {
            return failure(unknown_bot(bot_id, &self.paths));
        };
        if let Some(pid) = self.bots.get(bot_id).and_then(|t| {
            let snapshot = t.handle.snapshot();
            snapshot.is_running().then_some(snapshot.pid).flatten()
        }) {
            return Response::failure(
                ErrorKind::Conflict,
                format!(
                    "cannot debug {bot_id} because it is running (pid {pid}); stop it first with 'intelmqctl stop {bot_id}'"
                ),
            );
        }
        match startable(bot).and_then(|module| {
            launch::launch_for(&self.paths, bot_id, module).map_err(|e| cannot_start(bot_id, &e))
        }) {
            Ok(launch) => Response::success(
                Vec::new(),
                Outcome::Debug {
                    bot_id: bot_id.to_owned(),
                    module: bot.module.clone().unwrap_or_default(),
                    executable: launch.executable.to_string_lossy().into_owned(),
                    env: launch
                        .env
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.to_string_lossy().into_owned(),
                                v.to_string_lossy().into_owned(),
                            )
                        })
                        .collect(),
                },
            ),
            Err(message) => Response::failure(ErrorKind::InvalidConfig, message),
        }
    }

    /// Checks an action and sends it to the bot's task; the answer comes back
    /// as [`Msg::ActionDone`]. A refusal is returned for the caller to send.
    fn dispatch(
        &mut self,
        bot_id: &str,
        kind: ActionKind,
        respond: impl FnOnce(Response) + Send + 'static,
    ) -> Result<(), ErrorBody> {
        let launch = match self.plan(bot_id, kind) {
            Ok(Plan::Run(launch)) => launch,
            Ok(Plan::Answer(response)) => {
                respond(response);
                return Ok(());
            }
            Err(error) => {
                respond(failure(error.clone()));
                return Err(error);
            }
        };
        let timeout = self.config.current().defaults.stop_timeout;
        let handle = self.handle_for(bot_id);
        let messages = self.messages.clone();
        let bot_id = bot_id.to_owned();
        tokio::spawn(async move {
            let (report, started_with) = match (kind, launch) {
                (ActionKind::Start, Some((launch, bot))) => (handle.start(launch).await, Some(bot)),
                (ActionKind::Restart, Some((launch, bot))) => {
                    (handle.restart(launch, timeout).await, Some(bot))
                }
                (ActionKind::Stop, _) => (handle.stop(timeout).await, None),
                (ActionKind::Reload, _) => (handle.reload().await, None),
                // `plan` gives start and restart a launch, or answers itself.
                (ActionKind::Start | ActionKind::Restart, None) => return,
            };
            let _ = messages
                .send(Msg::ActionDone(Box::new(ActionDone {
                    bot_id,
                    started_with,
                    report,
                    respond: Box::new(respond),
                })))
                .await;
        });
        Ok(())
    }

    /// Decides what an action needs: the refusal, an answer without acting, or
    /// (for start and restart) the launch and the entry it is made from.
    fn plan(&self, bot_id: &str, kind: ActionKind) -> Result<Plan, ErrorBody> {
        check_bot_id(bot_id)?;
        let config = self.config.current();
        let configured = config.bots.get(bot_id);
        let running = self.is_running(bot_id);
        if configured.is_none() && !running {
            return Err(unknown_bot(bot_id, &self.paths));
        }
        if matches!(kind, ActionKind::Stop | ActionKind::Reload) {
            return Ok(Plan::Run(None));
        }
        let Some(bot) = configured else {
            return Err(unknown_bot(bot_id, &self.paths));
        };
        let launch = startable(bot).and_then(|module| {
            launch::launch_for(&self.paths, bot_id, module).map_err(|e| cannot_start(bot_id, &e))
        });
        match launch {
            Ok(launch) => Ok(Plan::Run(Some((launch, bot.clone())))),
            // Starting a running bot needs nothing new: say so rather than
            // complain about its configuration.
            Err(_) if kind == ActionKind::Start && running => {
                let text = format!("{bot_id} is already running.");
                tracing::info!(bot_id, "{text}");
                let row = ActionRow {
                    bot_id: bot_id.to_owned(),
                    action: intelmqd_proto::ActionKind::AlreadyRunning,
                    status: self.bot_status(config, bot_id).status,
                    pid: self.bots.get(bot_id).and_then(|t| t.handle.snapshot().pid),
                };
                let message = Message::new(Level::Info, Some(bot_id), text);
                Ok(Plan::Answer(Response::success(
                    vec![message],
                    Outcome::Actions { bots: vec![row] },
                )))
            }
            Err(message) => Err(error_body(ErrorKind::InvalidConfig, message)),
        }
    }

    fn on_action_done(&mut self, done: ActionDone) -> (Respond, Response) {
        let ActionDone {
            bot_id,
            started_with,
            report,
            respond,
        } = done;
        let mut notices = Vec::new();
        let succeeded = report.outcome.is_ok();
        if let Some(tracked) = self.bots.get_mut(&bot_id) {
            if succeeded {
                if let Some(config) = started_with {
                    tracked.effective = Some(config);
                    self.dirty = true;
                }
            }
        }
        let snapshot = self
            .bots
            .get(&bot_id)
            .map_or_else(BotSnapshot::stopped, |t| t.handle.snapshot());
        let row_status = self.bot_status(self.config.current(), &bot_id).status;
        notices.extend(report.messages);
        let row = |action| ActionRow {
            bot_id: bot_id.clone(),
            action,
            status: row_status,
            pid: snapshot.pid,
        };
        let response = match report.outcome {
            Ok(action) => Response::success(
                notices,
                Outcome::Actions {
                    bots: vec![row(action)],
                },
            ),
            Err(ErrorBody { kind, message }) => Response {
                ok: false,
                messages: notices,
                error: Some(ErrorBody { kind, message }),
                result: Some(Outcome::Actions {
                    bots: vec![row(intelmqd_proto::ActionKind::Failed)],
                }),
            },
        };
        (respond, response)
    }
}

/// The actions on one bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ActionKind {
    Start,
    Stop,
    Restart,
    Reload,
}

impl ActionKind {
    fn name(self) -> &'static str {
        match self {
            ActionKind::Start => "start",
            ActionKind::Stop => "stop",
            ActionKind::Restart => "restart",
            ActionKind::Reload => "reload",
        }
    }
}

fn error_body(kind: ErrorKind, message: String) -> ErrorBody {
    ErrorBody { kind, message }
}

fn failure(error: ErrorBody) -> Response {
    Response::failure(error.kind, error.message)
}

fn check_bot_id(bot_id: &str) -> Result<(), ErrorBody> {
    intelmqd_proto::validate_bot_id(bot_id).map_err(|error| {
        error_body(
            ErrorKind::InvalidBotId,
            format!("invalid bot id {bot_id:?}: {error}"),
        )
    })
}

fn unknown_bot(bot_id: &str, paths: &Paths) -> ErrorBody {
    error_body(
        ErrorKind::UnknownBot,
        format!(
            "no bot \"{bot_id}\" in {}; add it there first (see 'intelmqctl list' for the configured bots)",
            paths.config_dir.join(crate::config::RUNTIME_FILE).display()
        ),
    )
}

fn cannot_start(bot_id: &str, reason: &str) -> String {
    format!("{bot_id} cannot be started: {reason}")
}

/// The module of a bot that may be started, or why it may not.
fn startable(bot: &BotConfig) -> Result<&str, String> {
    if !bot.is_valid() {
        return Err(cannot_start(
            &bot.bot_id,
            &format!(
                "its configuration is invalid: {}. Run 'intelmqctl status {}' for details",
                bot.problems.join("; "),
                bot.bot_id
            ),
        ));
    }
    if bot.run_mode == RunMode::Scheduled {
        return Err(cannot_start(
            &bot.bot_id,
            "run_mode \"scheduled\" is not supported by this daemon yet; use run_mode \"stream\"",
        ));
    }
    bot.module
        .as_deref()
        .ok_or_else(|| cannot_start(&bot.bot_id, "module is missing"))
}

/// Puts the warnings about rejected configuration files before the answer's
/// own messages.
fn with_notices(mut notices: Vec<Message>, mut response: Response) -> Response {
    notices.append(&mut response.messages);
    response.messages = notices;
    response
}
