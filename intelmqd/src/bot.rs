//! One task per bot, owning the bot's process, behind a cloneable handle with a
//! systemctl-like API. Each control is answered when it is done (a stop answers
//! once the process group is gone), and the bot's state is published on a watch
//! channel so that `status` reads memory, never the process table.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use intelmqd_proto::{ActionKind, ErrorBody, ErrorKind, ExitInfo, Level, Message, RunState};
use nix::sys::signal::Signal;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::pidfile;
use crate::process::{BotProcess, Launch, Termination};

/// How long a process gets to disappear after SIGKILL before the stop is
/// reported as failed (only a process stuck in the kernel takes that long).
const KILL_GRACE: Duration = Duration::from_secs(5);

/// What the daemon knows of a bot's process, as published by its task.
#[derive(Debug, Clone, PartialEq)]
pub struct BotSnapshot {
    pub state: RunState,
    pub pid: Option<u32>,
    pub start_time: Option<u64>,
    pub since: Option<u64>,
    pub last_exit: Option<ExitInfo>,
}

impl BotSnapshot {
    pub fn stopped() -> BotSnapshot {
        BotSnapshot {
            state: RunState::Stopped,
            pid: None,
            start_time: None,
            since: None,
            last_exit: None,
        }
    }

    pub fn is_running(&self) -> bool {
        matches!(
            self.state,
            RunState::Running | RunState::Stopping | RunState::Starting
        )
    }
}

/// The answer to one control: the messages for the operator, and what was
/// done or why it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionReport {
    pub messages: Vec<Message>,
    pub outcome: Result<ActionKind, ErrorBody>,
}

enum Control {
    Start(Launch, oneshot::Sender<ActionReport>),
    Stop(Duration, oneshot::Sender<ActionReport>),
    Restart(Launch, Duration, oneshot::Sender<ActionReport>),
    Reload(oneshot::Sender<ActionReport>),
}

/// A handle on one bot's task. Dropping every handle ends the task, leaving
/// the process running.
#[derive(Debug, Clone)]
pub struct BotHandle {
    bot_id: String,
    control: mpsc::UnboundedSender<Control>,
    state: watch::Receiver<BotSnapshot>,
}

/// Where a bot task reports that its snapshot changed.
pub type ChangeSender = mpsc::UnboundedSender<String>;

impl BotHandle {
    /// Starts the task of one bot, optionally with a process adopted from an
    /// earlier daemon and the last known snapshot.
    pub fn spawn(
        bot_id: &str,
        state_dir: PathBuf,
        adopted: Option<BotProcess>,
        initial: BotSnapshot,
        changes: ChangeSender,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) -> BotHandle {
        let (control, receiver) = mpsc::unbounded_channel();
        let (publish, state) = watch::channel(initial);
        let task = BotTask {
            bot_id: bot_id.to_owned(),
            state_dir,
            process: adopted,
            publish,
            changes,
        };
        tracker.spawn(task.run(receiver, shutdown));
        BotHandle {
            bot_id: bot_id.to_owned(),
            control,
            state,
        }
    }

    pub fn snapshot(&self) -> BotSnapshot {
        self.state.borrow().clone()
    }

    pub async fn start(&self, launch: Launch) -> ActionReport {
        self.call(|reply| Control::Start(launch, reply)).await
    }

    pub async fn stop(&self, timeout: Duration) -> ActionReport {
        self.call(|reply| Control::Stop(timeout, reply)).await
    }

    pub async fn restart(&self, launch: Launch, timeout: Duration) -> ActionReport {
        self.call(|reply| Control::Restart(launch, timeout, reply))
            .await
    }

    pub async fn reload(&self) -> ActionReport {
        self.call(Control::Reload).await
    }

    async fn call(
        &self,
        make: impl FnOnce(oneshot::Sender<ActionReport>) -> Control,
    ) -> ActionReport {
        let (reply, answer) = oneshot::channel();
        let gone = || ActionReport {
            messages: Vec::new(),
            outcome: Err(ErrorBody {
                kind: ErrorKind::Internal,
                message: format!(
                    "the daemon is shutting down; the action on {} was not finished",
                    self.bot_id
                ),
            }),
        };
        if self.control.send(make(reply)).is_err() {
            return gone();
        }
        answer.await.unwrap_or_else(|_| gone())
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

struct BotTask {
    bot_id: String,
    state_dir: PathBuf,
    process: Option<BotProcess>,
    publish: watch::Sender<BotSnapshot>,
    changes: ChangeSender,
}

async fn ended(process: &Option<BotProcess>) {
    match process {
        Some(process) => process.ended().await,
        None => std::future::pending().await,
    }
}

impl BotTask {
    async fn run(
        mut self,
        mut controls: mpsc::UnboundedReceiver<Control>,
        shutdown: CancellationToken,
    ) {
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                _ = ended(&self.process) => self.on_exit(),
                control = controls.recv() => {
                    let Some(control) = control else { return };
                    // A daemon shutdown abandons the action half-way: the process
                    // stays as it is, recorded in its pid file, for the next daemon.
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = self.handle(control) => {}
                    }
                }
            }
        }
    }

    async fn handle(&mut self, control: Control) {
        match control {
            Control::Start(launch, reply) => {
                let _ = reply.send(self.start(&launch));
            }
            Control::Stop(timeout, reply) => {
                let report = self.stop(timeout).await;
                let _ = reply.send(report);
            }
            Control::Restart(launch, timeout, reply) => {
                let mut report = self.stop(timeout).await;
                if report.outcome.is_ok() {
                    let started = self.start(&launch);
                    report.messages.extend(started.messages);
                    report.outcome = started.outcome.map(|kind| match kind {
                        ActionKind::Started => ActionKind::Restarted,
                        other => other,
                    });
                }
                let _ = reply.send(report);
            }
            Control::Reload(reply) => {
                let _ = reply.send(self.reload());
            }
        }
    }

    fn message(&self, level: Level, text: String) -> Message {
        match level {
            Level::Info => tracing::info!(bot_id = %self.bot_id, "{text}"),
            Level::Warning => tracing::warn!(bot_id = %self.bot_id, "{text}"),
            Level::Error => tracing::error!(bot_id = %self.bot_id, "{text}"),
        }
        Message::new(level, Some(&self.bot_id), text)
    }

    fn set(&self, update: impl FnOnce(&mut BotSnapshot)) {
        self.publish.send_modify(update);
        let _ = self.changes.send(self.bot_id.clone());
    }

    fn running(&self) -> bool {
        self.process.as_ref().is_some_and(|p| !p.has_ended())
    }

    fn start(&mut self, launch: &Launch) -> ActionReport {
        let id = self.bot_id.clone();
        if self.running() {
            return ActionReport {
                messages: vec![self.message(Level::Info, format!("{id} is already running."))],
                outcome: Ok(ActionKind::AlreadyRunning),
            };
        }
        if let Some(process) = self.process.take() {
            // Ended but not yet noticed by the loop: record it first.
            self.record_exit(process.finish());
        }
        let mut messages = vec![self.message(Level::Info, format!("Starting {id}..."))];
        let process = match BotProcess::spawn(launch) {
            Ok(process) => process,
            Err(error) => {
                let text = format!(
                    "{id} could not be started: cannot run {}: {error}",
                    launch.executable.display()
                );
                messages.push(self.message(Level::Error, text.clone()));
                return failed(messages, ErrorKind::ActionFailed, text);
            }
        };
        let pid = process.pid();
        if let Err(error) = pidfile::write(&self.state_dir, &id, pid) {
            // An untracked bot is worse than a bot that did not start.
            process.kill_now();
            let text = format!(
                "{id} was not started: cannot write its pid file {}: {error}",
                pidfile::path(&self.state_dir, &id).display()
            );
            messages.push(self.message(Level::Error, text.clone()));
            return failed(messages, ErrorKind::ActionFailed, text);
        }
        let start_time = process.start_time();
        self.process = Some(process);
        self.set(|s| {
            s.state = RunState::Running;
            s.pid = Some(pid);
            s.start_time = Some(start_time);
            s.since = Some(unix_now());
        });
        messages.push(self.message(Level::Info, format!("{id} is running.")));
        ActionReport {
            messages,
            outcome: Ok(ActionKind::Started),
        }
    }

    async fn stop(&mut self, timeout: Duration) -> ActionReport {
        let id = self.bot_id.clone();
        let Some(process) = self.process.take() else {
            return ActionReport {
                messages: vec![self.message(Level::Info, format!("{id} is already stopped."))],
                outcome: Ok(ActionKind::AlreadyStopped),
            };
        };
        if process.has_ended() {
            self.record_exit(process.finish());
            return ActionReport {
                messages: vec![self.message(Level::Info, format!("{id} is already stopped."))],
                outcome: Ok(ActionKind::AlreadyStopped),
            };
        }
        let mut messages = vec![self.message(Level::Info, format!("Stopping {id}..."))];
        self.set(|s| s.state = RunState::Stopping);
        if let Err(error) = process.signal_group(Signal::SIGTERM) {
            messages.push(self.message(
                Level::Warning,
                format!("cannot send SIGTERM to {id}: {error}"),
            ));
        }
        let mut kind = ActionKind::Stopped;
        if tokio::time::timeout(timeout, process.ended())
            .await
            .is_err()
        {
            let _ = process.signal_group(Signal::SIGKILL);
            if tokio::time::timeout(KILL_GRACE, process.ended())
                .await
                .is_err()
            {
                let text = format!(
                    "{id} did not end even after SIGKILL (pid {}); it is still tracked",
                    process.pid()
                );
                messages.push(self.message(Level::Error, text.clone()));
                self.process = Some(process);
                self.set(|s| s.state = RunState::Running);
                return failed(messages, ErrorKind::ActionFailed, text);
            }
            kind = ActionKind::Killed;
        }
        self.record_exit(process.finish());
        messages.push(self.message(
            Level::Info,
            match kind {
                ActionKind::Killed => format!(
                    "{id} did not stop within {} s of SIGTERM and was killed (SIGKILL).",
                    format_seconds(timeout)
                ),
                _ => format!("{id} is stopped."),
            },
        ));
        self.set(|s| s.state = RunState::Stopped);
        ActionReport {
            messages,
            outcome: Ok(kind),
        }
    }

    fn reload(&mut self) -> ActionReport {
        let id = self.bot_id.clone();
        let Some(process) = self.process.as_ref().filter(|p| !p.has_ended()) else {
            return ActionReport {
                messages: vec![self.message(
                    Level::Warning,
                    format!("{id} is not running, nothing to reload."),
                )],
                outcome: Ok(ActionKind::NotRunning),
            };
        };
        let mut messages = vec![self.message(Level::Info, format!("Reloading {id} ..."))];
        if let Err(error) = process.signal_leader(Signal::SIGHUP) {
            let text = format!("cannot send SIGHUP to {id}: {error}");
            messages.push(self.message(Level::Error, text.clone()));
            return failed(messages, ErrorKind::ActionFailed, text);
        }
        messages.push(self.message(
            Level::Info,
            format!("{id} was sent SIGHUP to reload its configuration."),
        ));
        ActionReport {
            messages,
            outcome: Ok(ActionKind::Reloaded),
        }
    }

    /// The loop saw the process end by itself.
    fn on_exit(&mut self) {
        if let Some(process) = self.process.take() {
            let termination = process.finish();
            let level = match termination {
                Termination::Exited(0) => Level::Info,
                _ => Level::Warning,
            };
            self.message(level, format!("{} {}", self.bot_id, termination.describe()));
            self.record_exit(termination);
            self.set(|s| s.state = RunState::Exited);
        }
    }

    /// Forgets the process: pid file removed, exit recorded.
    fn record_exit(&mut self, termination: Termination) {
        if let Err(error) = pidfile::remove(&self.state_dir, &self.bot_id) {
            tracing::warn!(bot_id = %self.bot_id, "cannot remove pid file: {error}");
        }
        let exit = ExitInfo {
            code: match termination {
                Termination::Exited(code) => Some(code),
                _ => None,
            },
            signal: match termination {
                Termination::Signaled(signal) => Some(signal),
                _ => None,
            },
            at: unix_now(),
            description: termination.describe(),
        };
        self.set(|s| {
            s.state = RunState::Stopped;
            s.pid = None;
            s.start_time = None;
            s.since = Some(exit.at);
            s.last_exit = Some(exit);
        });
    }
}

fn failed(messages: Vec<Message>, kind: ErrorKind, text: String) -> ActionReport {
    ActionReport {
        messages,
        outcome: Err(ErrorBody {
            kind,
            message: text,
        }),
    }
}

fn format_seconds(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds.fract() == 0.0 {
        format!("{seconds:.0}")
    } else {
        format!("{seconds}")
    }
}
