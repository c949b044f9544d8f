//! The process managers behind the commands: [`Backend`] is what a command
//! does to one bot (start, stop, restart, reload, run once, on-boot), with a
//! PID implementation (the bot's own task runs its process, see
//! [`crate::bot`]) and a systemd implementation (`systemctl` on the bot's
//! unit, see [`crate::systemd`]). [`crate::actions`] carries plans out through
//! the trait and never asks which manager it has.
//!
//! Scheduled bots run from the daemon's own scheduler under both managers.
//! A bot runs under one manager at a time: whichever runs it now keeps it
//! until it is stopped, so switching `process_manager` never runs a bot twice.

use std::future::Future;
use std::time::Duration;

use intelmqd_proto::{ActionKind, ErrorKind, Level, Message};

use crate::bot::{ActionReport, BotHandle, BotSnapshot};
use crate::process::Launch;
use crate::systemd::{Systemctl, UnitState};

/// What a process manager does to one bot. Each call answers when it is done.
pub trait Backend {
    /// Starts a stream bot, or puts a scheduled one on its schedule.
    fn start(&self, launch: Launch) -> impl Future<Output = ActionReport> + Send;
    fn stop(&self, timeout: Duration) -> impl Future<Output = ActionReport> + Send;
    fn restart(
        &self,
        launch: Launch,
        timeout: Duration,
    ) -> impl Future<Output = ActionReport> + Send;
    /// SIGHUP to a stream bot; a new schedule for a scheduled one (`launch`
    /// carries it).
    fn reload(&self, launch: Option<Launch>) -> impl Future<Output = ActionReport> + Send;
    /// Runs a scheduled bot once now.
    fn run_once(&self, launch: Launch, wait: bool) -> impl Future<Output = ActionReport> + Send;
    /// Makes the bot start at boot, or not. `stream` tells whether it is a
    /// stream bot (a scheduled bot is put on its schedule by the daemon at
    /// its own start instead).
    fn set_onboot(&self, value: bool, stream: bool) -> impl Future<Output = ActionReport> + Send;
}

/// The PID process manager: the bot's task runs it.
#[derive(Debug, Clone)]
pub struct PidBot {
    pub handle: BotHandle,
}

impl Backend for PidBot {
    async fn start(&self, launch: Launch) -> ActionReport {
        self.handle.start(launch).await
    }

    async fn stop(&self, timeout: Duration) -> ActionReport {
        self.handle.stop(timeout).await
    }

    async fn restart(&self, launch: Launch, timeout: Duration) -> ActionReport {
        self.handle.restart(launch, timeout).await
    }

    async fn reload(&self, launch: Option<Launch>) -> ActionReport {
        self.handle.reload(launch).await
    }

    async fn run_once(&self, launch: Launch, wait: bool) -> ActionReport {
        self.handle.run_once(launch, wait).await
    }

    /// Nothing starts at boot under the PID manager; the plan says so.
    async fn set_onboot(&self, _value: bool, _stream: bool) -> ActionReport {
        ActionReport::done(Vec::new(), ActionKind::Updated)
    }
}

/// The systemd process manager: stream bots are the units
/// `intelmq-bot@<id>.service`; scheduled bots, and a stream bot still running
/// under the PID manager from before a switch, stay with the bot's task.
#[derive(Debug, Clone)]
pub struct SystemdBot {
    pub bot_id: String,
    pub handle: BotHandle,
    pub systemctl: Systemctl,
    /// The unit as systemd described it just before the command.
    pub unit: Option<UnitState>,
    /// The configured manager is the PID manager: the bot is here only
    /// because its unit still runs, and a restart moves it to the PID manager.
    pub leaving: bool,
}

impl SystemdBot {
    /// The bot's task runs something: a process or a schedule.
    fn task_runs(&self) -> bool {
        self.handle.snapshot().is_running()
    }

    fn unit_active(&self) -> bool {
        self.unit.as_ref().is_some_and(UnitState::is_active)
    }

    fn say(&self, level: Level, text: String) -> Message {
        crate::say::say(level, &self.bot_id, text)
    }

    /// Runs `verb` on the unit, then reads the unit's state back.
    async fn unit_call(
        &self,
        verb: &'static str,
        mut messages: Vec<Message>,
        done: ActionKind,
        said: String,
    ) -> ActionReport {
        let id = &self.bot_id;
        if let Err(error) = self.systemctl.unit_verb(verb, id).await {
            let text = format!("{id}: {error}");
            messages.push(self.say(Level::Error, text.clone()));
            return with_observed(
                ActionReport::failed(messages, ErrorKind::ActionFailed, text),
                self.observe().await,
            );
        }
        let observed = self.observe().await;
        let failed = observed
            .as_ref()
            .filter(|unit| verb != "stop" && unit.active_state == "failed");
        if let Some(unit) = failed {
            let how = unit
                .last_exit()
                .map_or_else(|| unit.result.clone(), |exit| exit.description);
            let text = format!(
                "{id} failed under systemd ({how}); see 'intelmqctl log {id}' and '{}'",
                self.systemctl.describe("status", id)
            );
            messages.push(self.say(Level::Error, text.clone()));
            return with_observed(
                ActionReport::failed(messages, ErrorKind::ActionFailed, text),
                observed,
            );
        }
        messages.push(self.say(Level::Info, said));
        with_observed(ActionReport::done(messages, done), observed)
    }

    /// `reset-failed` on a failed unit: an operator's start of a failed bot
    /// begins anew, as under the PID manager (the start limit would otherwise
    /// refuse it until its interval has passed), and a stopped one no longer
    /// shows as failed.
    async fn reset_if_failed(&self) {
        if self
            .unit
            .as_ref()
            .is_some_and(|unit| unit.active_state == "failed")
        {
            if let Err(error) = self.systemctl.unit_verb("reset-failed", &self.bot_id).await {
                tracing::warn!(bot_id = %self.bot_id, "{error}");
            }
        }
    }

    /// Reads the unit from the manager, never from memory: after a call on
    /// the unit, its signals may not have come yet.
    async fn observe(&self) -> Option<UnitState> {
        match self
            .systemctl
            .show_fresh(std::slice::from_ref(&self.bot_id))
            .await
        {
            Ok(mut units) => units.remove(&self.bot_id),
            Err(error) => {
                tracing::warn!(bot_id = %self.bot_id, "cannot read the unit's state: {error}");
                None
            }
        }
    }

    fn executed(&self, verb: &str) -> Message {
        self.say(
            Level::Info,
            format!(
                "Executed `{}`.",
                self.systemctl.describe(verb, &self.bot_id)
            ),
        )
    }
}

impl Backend for SystemdBot {
    async fn start(&self, launch: Launch) -> ActionReport {
        let id = self.bot_id.clone();
        if launch.schedule.is_some() || self.task_runs() {
            return self.handle.start(launch).await;
        }
        if self.unit_active() {
            let text = format!("{id} is already running.");
            return ActionReport::done(
                vec![self.say(Level::Info, text)],
                ActionKind::AlreadyRunning,
            );
        }
        self.reset_if_failed().await;
        let messages = vec![
            self.say(Level::Info, format!("Starting {id}...")),
            self.executed("start"),
        ];
        self.unit_call(
            "start",
            messages,
            ActionKind::Started,
            format!("{id} is running."),
        )
        .await
    }

    async fn stop(&self, timeout: Duration) -> ActionReport {
        let id = self.bot_id.clone();
        if self.task_runs() {
            let report = self.handle.stop(timeout).await;
            if !self.unit_active() {
                return report;
            }
        }
        if !self.unit_active() {
            // A failed unit is reset, so that it no longer shows as failed.
            self.reset_if_failed().await;
            let text = format!("{id} is already stopped.");
            return with_observed(
                ActionReport::done(
                    vec![self.say(Level::Info, text)],
                    ActionKind::AlreadyStopped,
                ),
                self.observe().await,
            );
        }
        let messages = vec![
            self.say(Level::Info, format!("Stopping {id}...")),
            self.executed("stop"),
        ];
        self.unit_call(
            "stop",
            messages,
            ActionKind::Stopped,
            format!("{id} is stopped."),
        )
        .await
    }

    async fn restart(&self, launch: Launch, timeout: Duration) -> ActionReport {
        if launch.schedule.is_some() {
            return self.handle.restart(launch, timeout).await;
        }
        let id = self.bot_id.clone();
        let mut messages = Vec::new();
        if self.leaving && !self.task_runs() {
            // process_manager is "pid" now: the unit stops, the bot starts
            // under the PID manager.
            messages.push(self.executed("stop"));
            let stopped = self
                .unit_call(
                    "stop",
                    messages,
                    ActionKind::Stopped,
                    format!("{id} is stopped."),
                )
                .await;
            if stopped.outcome.is_err() {
                return stopped;
            }
            let mut started = self.handle.start(launch).await;
            let mut all = stopped.messages;
            all.append(&mut started.messages);
            started.messages = all;
            started.outcome = started.outcome.map(|kind| match kind {
                ActionKind::Started => ActionKind::Restarted,
                other => other,
            });
            started.observed = stopped.observed;
            return started;
        }
        if self.task_runs() {
            // Running under the PID manager from before a switch: it stops
            // there and starts under systemd.
            let stopped = self.handle.stop(timeout).await;
            messages.extend(stopped.messages);
            if let Err(error) = stopped.outcome {
                return ActionReport::failed(messages, error.kind, error.message);
            }
        }
        self.reset_if_failed().await;
        messages.push(self.executed("restart"));
        self.unit_call(
            "restart",
            messages,
            ActionKind::Restarted,
            format!("{id} is running."),
        )
        .await
    }

    async fn reload(&self, launch: Option<Launch>) -> ActionReport {
        let scheduled = launch.as_ref().is_some_and(|l| l.schedule.is_some());
        if scheduled || self.task_runs() {
            return self.handle.reload(launch).await;
        }
        let id = self.bot_id.clone();
        if !self.unit_active() {
            let text = format!("{id} is not running, nothing to reload.");
            return ActionReport::done(
                vec![self.say(Level::Warning, text)],
                ActionKind::NotRunning,
            );
        }
        let messages = vec![
            self.say(Level::Info, format!("Reloading {id} ...")),
            self.executed("reload"),
        ];
        self.unit_call(
            "reload",
            messages,
            ActionKind::Reloaded,
            format!("{id} was sent SIGHUP (the unit's ExecReload) to reload its configuration."),
        )
        .await
    }

    async fn run_once(&self, launch: Launch, wait: bool) -> ActionReport {
        self.handle.run_once(launch, wait).await
    }

    async fn set_onboot(&self, value: bool, stream: bool) -> ActionReport {
        let id = self.bot_id.clone();
        if !stream {
            let text = if value {
                format!("{id} is put on its schedule each time intelmqd starts.")
            } else {
                format!("{id} is no longer put on its schedule when intelmqd starts.")
            };
            return ActionReport::done(vec![self.say(Level::Info, text)], ActionKind::Updated);
        }
        let verb = if value { "enable" } else { "disable" };
        let messages = vec![self.executed(verb)];
        let said = if value {
            format!("{id} starts at boot.")
        } else {
            format!("{id} no longer starts at boot.")
        };
        let mut report = self
            .unit_call(verb, messages, ActionKind::Updated, said)
            .await;
        // Enabling is about the next boot: a unit that failed now is not the
        // enable's failure.
        if report.outcome.is_err()
            && report
                .observed
                .as_ref()
                .is_some_and(|unit| unit.active_state == "failed")
        {
            report.outcome = Ok(ActionKind::Updated);
        }
        report
    }
}

/// The bot under whichever manager acts on it for one command.
#[derive(Debug, Clone)]
pub enum ManagedBot {
    Pid(PidBot),
    Systemd(Box<SystemdBot>),
}

impl ManagedBot {
    /// The PID task's view of the bot, and the unit's when there is one.
    pub fn handle(&self) -> &BotHandle {
        match self {
            ManagedBot::Pid(bot) => &bot.handle,
            ManagedBot::Systemd(bot) => &bot.handle,
        }
    }
}

impl Backend for ManagedBot {
    async fn start(&self, launch: Launch) -> ActionReport {
        match self {
            ManagedBot::Pid(bot) => bot.start(launch).await,
            ManagedBot::Systemd(bot) => bot.start(launch).await,
        }
    }

    async fn stop(&self, timeout: Duration) -> ActionReport {
        match self {
            ManagedBot::Pid(bot) => bot.stop(timeout).await,
            ManagedBot::Systemd(bot) => bot.stop(timeout).await,
        }
    }

    async fn restart(&self, launch: Launch, timeout: Duration) -> ActionReport {
        match self {
            ManagedBot::Pid(bot) => bot.restart(launch, timeout).await,
            ManagedBot::Systemd(bot) => bot.restart(launch, timeout).await,
        }
    }

    async fn reload(&self, launch: Option<Launch>) -> ActionReport {
        match self {
            ManagedBot::Pid(bot) => bot.reload(launch).await,
            ManagedBot::Systemd(bot) => bot.reload(launch).await,
        }
    }

    async fn run_once(&self, launch: Launch, wait: bool) -> ActionReport {
        match self {
            ManagedBot::Pid(bot) => bot.run_once(launch, wait).await,
            ManagedBot::Systemd(bot) => bot.run_once(launch, wait).await,
        }
    }

    async fn set_onboot(&self, value: bool, stream: bool) -> ActionReport {
        match self {
            ManagedBot::Pid(bot) => bot.set_onboot(value, stream).await,
            ManagedBot::Systemd(bot) => bot.set_onboot(value, stream).await,
        }
    }
}

fn with_observed(mut report: ActionReport, observed: Option<UnitState>) -> ActionReport {
    report.observed = observed;
    report
}

/// What `status` shows of a bot: whichever of its task and its unit runs it,
/// else whichever ended last.
pub fn merged_snapshot(task: BotSnapshot, unit: Option<&UnitState>) -> BotSnapshot {
    let Some(unit) = unit else { return task };
    if task.is_running() {
        return task;
    }
    let unit_shows = unit.is_active()
        || unit.active_state == "failed"
        || (unit.last_exit().is_some() && unit.since >= task.since);
    if !unit_shows {
        return task;
    }
    let mut shown = unit.snapshot();
    // A scheduled bot's record of runs belongs to the task.
    shown.schedule = task.schedule;
    shown.runs = task.runs;
    shown.run_seconds = task.run_seconds;
    shown
}
