//! The task of one bot: its loop over controls, the end of its process and
//! the ticks of its schedule, and what each of them does. Scheduled runs are
//! in [`runs`], automatic restarts in [`respawn`].

mod respawn;
mod runs;

use respawn::restart_due;
use runs::{describe_next, tick};

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use intelmqd_proto::{ActionKind, ErrorKind, EventKind, ExitInfo, Level, Message, RunState};
use nix::sys::signal::Signal;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::restart::Restarts;
use super::ticks::{unix_seconds, Armed, RunRecord};
use super::{ActionReport, BotSnapshot, ChangeSender, Control, Reply};
use crate::events::{process_event, EventBus};
use crate::pidfile;
use crate::process::{BotProcess, Launch, Termination};

/// How long a process gets to disappear after SIGKILL before the stop is
/// reported as failed (only a process stuck in the kernel takes that long).
const KILL_GRACE: Duration = Duration::from_secs(5);

/// What the current process is.
#[derive(Debug)]
enum Run {
    /// A stream bot: runs until stopped.
    Stream,
    /// A run of a scheduled bot, at a tick or on request; `waiters` get the
    /// report when it ends.
    Once {
        started: Instant,
        started_at: SystemTime,
        /// Each with the messages said when the run was launched.
        waiters: Vec<(Reply, Vec<Message>)>,
    },
}

impl Run {
    /// A run of a scheduled bot beginning now, nobody waiting for it yet.
    fn once() -> Run {
        Run::Once {
            started: Instant::now(),
            started_at: SystemTime::now(),
            waiters: Vec::new(),
        }
    }
}

pub(super) struct BotTask {
    bot_id: String,
    state_dir: PathBuf,
    process: Option<(BotProcess, Run)>,
    armed: Option<(Armed, Launch)>,
    record: RunRecord,
    /// A stream bot's restart bookkeeping and the launch to restart it with.
    restarts: Option<(Restarts, Launch)>,
    /// When the pending automatic restart is due.
    restart_at: Option<tokio::time::Instant>,
    /// Gave up restarting: failed until an operator acts.
    failed: bool,
    publish: watch::Sender<BotSnapshot>,
    changes: ChangeSender,
    events: EventBus,
}

async fn ended(process: &Option<(BotProcess, Run)>) {
    match process {
        Some((process, _)) => process.ended().await,
        None => std::future::pending().await,
    }
}

impl BotTask {
    pub(super) fn new(
        bot_id: &str,
        state_dir: PathBuf,
        adopted: Option<BotProcess>,
        publish: watch::Sender<BotSnapshot>,
        changes: ChangeSender,
        events: EventBus,
    ) -> BotTask {
        BotTask {
            bot_id: bot_id.to_owned(),
            state_dir,
            // An adopted process is taken as a stream bot until a schedule is
            // armed for it; its end is recorded either way.
            process: adopted.map(|process| (process, Run::Stream)),
            armed: None,
            record: RunRecord::default(),
            restarts: None,
            restart_at: None,
            failed: false,
            publish,
            changes,
            events,
        }
    }

    pub(super) async fn run(
        mut self,
        mut controls: mpsc::UnboundedReceiver<Control>,
        shutdown: CancellationToken,
    ) {
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                _ = ended(&self.process) => self.on_ended_by_itself(),
                _ = tick(&self.armed) => self.on_tick(),
                _ = restart_due(self.restart_at) => self.restart_now(),
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
                let _ = reply.send(self.start(*launch));
            }
            Control::Stop(timeout, reply) => {
                let report = self.stop(timeout).await;
                let _ = reply.send(report);
            }
            Control::Restart(launch, timeout, reply) => {
                let mut report = self.stop(timeout).await;
                if report.outcome.is_ok() {
                    let started = self.start(*launch);
                    report.messages.extend(started.messages);
                    report.outcome = started.outcome.map(|kind| match kind {
                        ActionKind::Started | ActionKind::Scheduled => ActionKind::Restarted,
                        other => other,
                    });
                }
                let _ = reply.send(report);
            }
            Control::Reload(launch, reply) => {
                let _ = reply.send(self.reload(launch.map(|l| *l)));
            }
            Control::RunOnce(launch, wait, reply) => self.run_once(*launch, wait, reply),
            Control::Supervise(launch) => {
                if self.restarts.is_none() && self.process_running() && launch.schedule.is_none() {
                    self.restarts = Some((Restarts::new(launch.restart, Instant::now()), *launch));
                }
            }
        }
    }

    fn say(&self, level: Level, text: String) -> Message {
        crate::say::say(level, &self.bot_id, text)
    }

    /// Logs that a process of the bot started, and tells the subscribers.
    fn announce(&self, kind: EventKind, pid: u32, text: String) {
        self.say(Level::Info, text.clone());
        self.events
            .send(process_event(kind, &self.bot_id, Some(pid), None, text));
    }

    /// Publishes the snapshot as it follows from the task's state.
    fn publish(&self, update: impl FnOnce(&mut BotSnapshot)) {
        let pid = self.process.as_ref().map(|(p, _)| p.pid());
        let start_time = self.process.as_ref().map(|(p, _)| p.start_time());
        let scheduled = self.armed.is_some();
        let restarts = self.restarts.as_ref().map_or(0, |(r, _)| r.count);
        let (runs, run_seconds) = (self.record.runs, self.record.run_seconds);
        let (pending, failed) = (self.restart_at.is_some(), self.failed);
        let schedule = (scheduled || self.record != RunRecord::default()).then(|| {
            self.record
                .info(self.armed.as_ref().and_then(|(a, _)| a.next.as_ref()))
        });
        self.publish.send_modify(|snapshot| {
            update(snapshot);
            snapshot.pid = pid;
            snapshot.start_time = start_time;
            snapshot.scheduled = scheduled;
            snapshot.schedule = schedule;
            snapshot.restarts = restarts;
            snapshot.runs = runs;
            snapshot.run_seconds = run_seconds;
            snapshot.state = match (pid, scheduled, snapshot.state) {
                (Some(_), _, RunState::Stopping) => RunState::Stopping,
                (Some(_), _, _) => RunState::Running,
                (None, true, _) => RunState::Scheduled,
                // Waiting for an automatic restart, or given up on.
                (None, false, _) if pending => RunState::Starting,
                (None, false, _) if failed => RunState::Failed,
                // Nothing runs and nothing is scheduled: whatever the state
                // said of a process or schedule is over.
                (
                    None,
                    false,
                    RunState::Running
                    | RunState::Scheduled
                    | RunState::Starting
                    | RunState::Stopping,
                ) => RunState::Stopped,
                (None, false, other) => other,
            };
        });
        let _ = self.changes.send(self.bot_id.clone());
    }

    fn process_running(&self) -> bool {
        self.process.as_ref().is_some_and(|(p, _)| !p.has_ended())
    }

    /// Spawns the bot's process and writes its pid file.
    fn spawn(&mut self, launch: &Launch, run: Run) -> Result<u32, String> {
        let id = &self.bot_id;
        let process = BotProcess::spawn(launch)
            .map_err(|error| format!("cannot run {}: {error}", launch.executable.display()))?;
        let pid = process.pid();
        if let Err(error) = pidfile::write(&self.state_dir, id, pid) {
            // An untracked bot is worse than a bot that did not start.
            process.kill_now();
            return Err(format!(
                "cannot write its pid file {}: {error}",
                pidfile::path(&self.state_dir, id).display()
            ));
        }
        self.process = Some((process, run));
        self.publish(|s| s.since = Some(unix_seconds(SystemTime::now())));
        Ok(pid)
    }

    fn start(&mut self, launch: Launch) -> ActionReport {
        let id = self.bot_id.clone();
        if let Some(schedule) = launch.schedule.clone() {
            let expression = schedule.expression().to_owned();
            if let Some((armed, _)) = &self.armed {
                let text = format!(
                    "{id} is already running (scheduled: `{}`).",
                    armed.schedule.expression()
                );
                return ActionReport::done(
                    vec![self.say(Level::Info, text)],
                    ActionKind::AlreadyScheduled,
                );
            }
            let armed = Armed::new(schedule);
            let next = describe_next(&armed);
            self.armed = Some((armed, launch));
            self.publish(|s| s.since = Some(unix_seconds(SystemTime::now())));
            let text =
                format!("{id} is scheduled and will run at this time: `{expression}` ({next}).");
            self.events
                .emit(EventKind::Scheduled, Some(&id), text.clone());
            return ActionReport::done(vec![self.say(Level::Info, text)], ActionKind::Scheduled);
        }
        if self.process_running() {
            let text = format!("{id} is already running.");
            return ActionReport::done(
                vec![self.say(Level::Info, text)],
                ActionKind::AlreadyRunning,
            );
        }
        if self.process.is_some() {
            // Ended but not yet noticed by the loop: record it first.
            self.on_exit();
        }
        let mut messages = vec![self.say(Level::Info, format!("Starting {id}..."))];
        // An operator's start ends a pending restart and a failed state.
        self.restart_at = None;
        self.failed = false;
        match self.spawn(&launch, Run::Stream) {
            Ok(pid) => {
                self.restarts = Some((Restarts::new(launch.restart, Instant::now()), launch));
                self.publish(|_| {});
                self.events.send(process_event(
                    EventKind::Started,
                    &id,
                    Some(pid),
                    None,
                    format!("{id} started (pid {pid})"),
                ));
                messages.push(self.say(Level::Info, format!("{id} is running.")));
                ActionReport::done(messages, ActionKind::Started)
            }
            Err(reason) => {
                let text = format!("{id} could not be started: {reason}");
                messages.push(self.say(Level::Error, text.clone()));
                ActionReport::failed(messages, ErrorKind::ActionFailed, text)
            }
        }
    }

    async fn stop(&mut self, timeout: Duration) -> ActionReport {
        let id = self.bot_id.clone();
        let mut messages = Vec::new();
        let mut kind = None;
        if self.armed.take().is_some() {
            let text = format!("{id} is unscheduled.");
            self.events
                .emit(EventKind::Unscheduled, Some(&id), text.clone());
            messages.push(self.say(Level::Info, text));
            kind = Some(ActionKind::Unscheduled);
            self.publish(|s| s.since = Some(unix_seconds(SystemTime::now())));
        }
        if self.restart_at.take().is_some() {
            messages.push(self.say(
                Level::Info,
                format!("{id} is stopped; its pending restart is cancelled."),
            ));
            kind = Some(ActionKind::Stopped);
        }
        if std::mem::take(&mut self.failed) {
            self.publish(|s| s.state = RunState::Stopped);
        }
        self.restarts = None;
        if !self.process_running() {
            if self.process.is_some() {
                self.on_exit();
            }
            if kind.is_none() {
                messages.push(self.say(Level::Info, format!("{id} is already stopped.")));
            }
            self.publish(|_| {});
            return ActionReport::done(messages, kind.unwrap_or(ActionKind::AlreadyStopped));
        }
        let Some((process, run)) = self.process.take() else {
            return ActionReport::done(messages, kind.unwrap_or(ActionKind::AlreadyStopped));
        };
        messages.push(self.say(Level::Info, format!("Stopping {id}...")));
        self.publish.send_modify(|s| s.state = RunState::Stopping);
        if let Err(error) = process.signal_group(Signal::SIGTERM) {
            messages.push(self.say(
                Level::Warning,
                format!("cannot send SIGTERM to {id}: {error}"),
            ));
        }
        let mut stopped = ActionKind::Stopped;
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
                messages.push(self.say(Level::Error, text.clone()));
                self.process = Some((process, run));
                self.publish(|s| s.state = RunState::Running);
                return ActionReport::failed(messages, ErrorKind::ActionFailed, text);
            }
            stopped = ActionKind::Killed;
        }
        self.process = Some((process, run));
        if let Some(ended) = self.on_exit() {
            self.events.send(process_event(
                EventKind::Stopped,
                &id,
                Some(ended.pid),
                Some(ended.exit),
                format!("{id} was stopped"),
            ));
        }
        messages.push(self.say(
            Level::Info,
            match stopped {
                ActionKind::Killed => format!(
                    "{id} did not stop within {} s of SIGTERM and was killed (SIGKILL).",
                    format_seconds(timeout)
                ),
                _ => format!("{id} is stopped."),
            },
        ));
        self.publish(|s| s.state = RunState::Stopped);
        ActionReport::done(messages, stopped)
    }

    fn reload(&mut self, launch: Option<Launch>) -> ActionReport {
        let id = self.bot_id.clone();
        if let Some((launch, schedule)) =
            launch.and_then(|l| l.schedule.clone().map(|schedule| (l, schedule)))
        {
            let Some((armed, current)) = self.armed.as_mut() else {
                let text = format!("{id} is not running, nothing to reload.");
                return ActionReport::done(
                    vec![self.say(Level::Warning, text)],
                    ActionKind::NotRunning,
                );
            };
            let expression = schedule.expression().to_owned();
            *armed = Armed::new(schedule);
            *current = launch;
            let next = describe_next(armed);
            let mut messages = vec![self.say(
                Level::Info,
                format!("{id} is rescheduled and will run at this time: `{expression}` ({next})."),
            )];
            if self.process_running() {
                messages.push(self.say(
                    Level::Info,
                    format!("The run of {id} in progress finishes as it is; the new schedule applies from its next tick."),
                ));
            }
            self.publish(|_| {});
            return ActionReport::done(messages, ActionKind::Rescheduled);
        }
        let Some((process, _)) = self.process.as_ref().filter(|(p, _)| !p.has_ended()) else {
            let text = format!("{id} is not running, nothing to reload.");
            return ActionReport::done(
                vec![self.say(Level::Warning, text)],
                ActionKind::NotRunning,
            );
        };
        let pid = process.pid();
        let result = process.signal_leader(Signal::SIGHUP);
        let mut messages = vec![self.say(Level::Info, format!("Reloading {id} ..."))];
        if let Err(error) = result {
            let text = format!("cannot send SIGHUP to {id} (pid {pid}): {error}");
            messages.push(self.say(Level::Error, text.clone()));
            return ActionReport::failed(messages, ErrorKind::ActionFailed, text);
        }
        messages.push(self.say(
            Level::Info,
            format!("{id} was sent SIGHUP to reload its configuration."),
        ));
        ActionReport::done(messages, ActionKind::Reloaded)
    }

    /// The process ended (by itself, or after a stop): reap it, forget it,
    /// record how it ended, and answer whoever waited for the run. Returns
    /// how a stream bot's process ended (a run's end is not restarted).
    fn on_exit(&mut self) -> Option<Ended> {
        let (process, run) = self.process.take()?;
        let pid = process.pid();
        let termination = process.finish();
        if let Err(error) = pidfile::remove(&self.state_dir, &self.bot_id) {
            tracing::warn!(bot_id = %self.bot_id, "cannot remove pid file: {error}");
        }
        let now = SystemTime::now();
        let exit = ExitInfo {
            code: match termination {
                Termination::Exited(code) => Some(code),
                _ => None,
            },
            signal: match termination {
                Termination::Signaled(signal) => Some(signal),
                _ => None,
            },
            at: unix_seconds(now),
            description: termination.describe(),
        };
        let level = match termination {
            Termination::Exited(0) => Level::Info,
            _ => Level::Warning,
        };
        let text = format!("{} {}", self.bot_id, termination.describe());
        let message = self.say(level, text);
        let (state, run_kind) = match &run {
            Run::Stream => (RunState::Exited, RunKind::Stream),
            Run::Once { .. } => (RunState::Stopped, RunKind::Once),
        };
        if let Run::Once {
            started,
            started_at,
            waiters,
        } = run
        {
            self.record.last_started = Some(started_at);
            self.record.last_duration = Some(started.elapsed());
            self.record.runs += 1;
            self.record.run_seconds += started.elapsed().as_secs_f64();
            self.record.last_exit = Some(exit.clone());
            for (waiter, mut messages) in waiters {
                messages.push(message.clone());
                let _ = waiter.send(ActionReport {
                    messages,
                    outcome: Ok(ActionKind::Ran),
                    exit: Some(exit.clone()),
                    observed: None,
                });
            }
        }
        let stream = matches!(run_kind, RunKind::Stream);
        let ended = Ended {
            stream,
            termination,
            exit: exit.clone(),
            pid,
        };
        self.publish(|s| {
            s.state = state;
            s.since = Some(exit.at);
            s.last_exit = Some(exit);
        });
        Some(ended)
    }
}

enum RunKind {
    Stream,
    Once,
}

/// How a process ended, as [`BotTask::on_exit`] recorded it.
struct Ended {
    /// A stream bot's process, rather than a run of a scheduled bot.
    stream: bool,
    termination: Termination,
    exit: ExitInfo,
    pid: u32,
}

fn format_seconds(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds.fract() == 0.0 {
        format!("{seconds:.0}")
    } else {
        format!("{seconds}")
    }
}
