//! One task per bot, owning the bot's process and, for a scheduled bot, its
//! schedule, behind a cloneable handle with a systemctl-like API. Each control
//! is answered when it is done (a stop answers once the process group is gone),
//! and the bot's state is published on a watch channel so that `status` reads
//! memory, never the process table.

pub mod restart;
mod task;
pub mod ticks;

use std::path::PathBuf;
use std::time::Duration;

use intelmqd_proto::{ActionKind, ErrorBody, ErrorKind, ExitInfo, Message, RunState, ScheduleInfo};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::events::EventBus;
use crate::process::{BotProcess, Launch};

/// What the daemon knows of a bot's process and schedule, as published by
/// its task.
#[derive(Debug, Clone, PartialEq)]
pub struct BotSnapshot {
    pub state: RunState,
    pub pid: Option<u32>,
    pub start_time: Option<u64>,
    pub since: Option<u64>,
    pub last_exit: Option<ExitInfo>,
    /// Set while the bot is on a schedule, or once it ran scheduled.
    pub schedule: Option<ScheduleInfo>,
    /// On a schedule now.
    pub scheduled: bool,
    /// Automatic restarts since an operator last started the bot.
    pub restarts: u64,
    /// Runs of a scheduled bot that ended, and their time together.
    pub runs: u64,
    pub run_seconds: f64,
}

impl BotSnapshot {
    pub fn stopped() -> BotSnapshot {
        BotSnapshot {
            state: RunState::Stopped,
            pid: None,
            start_time: None,
            since: None,
            last_exit: None,
            schedule: None,
            scheduled: false,
            restarts: 0,
            runs: 0,
            run_seconds: 0.0,
        }
    }

    /// Running in the spec's sense: a process runs, or the bot is scheduled.
    pub fn is_running(&self) -> bool {
        self.scheduled
            || matches!(
                self.state,
                RunState::Running | RunState::Stopping | RunState::Starting | RunState::Scheduled
            )
    }
}

/// The answer to one control: the messages for the operator, what was done or
/// why it failed, and how a waited-for run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionReport {
    pub messages: Vec<Message>,
    pub outcome: Result<ActionKind, ErrorBody>,
    pub exit: Option<ExitInfo>,
    /// The bot's systemd unit as read right after the action, under the
    /// systemd process manager.
    pub observed: Option<crate::systemd::UnitState>,
}

impl ActionReport {
    pub fn done(messages: Vec<Message>, kind: ActionKind) -> ActionReport {
        ActionReport {
            messages,
            outcome: Ok(kind),
            exit: None,
            observed: None,
        }
    }

    pub fn failed(messages: Vec<Message>, kind: ErrorKind, text: String) -> ActionReport {
        ActionReport {
            messages,
            outcome: Err(ErrorBody {
                kind,
                message: text,
            }),
            exit: None,
            observed: None,
        }
    }
}

type Reply = oneshot::Sender<ActionReport>;

/// Launches are boxed: a bot's control channel keeps room for 32 controls,
/// and with a thousand bots that room is most of the daemon's memory.
enum Control {
    /// Start a stream bot, or put a scheduled one on its schedule.
    Start(Box<Launch>, Reply),
    Stop(Duration, Reply),
    Restart(Box<Launch>, Duration, Reply),
    /// SIGHUP to a stream bot; a new schedule for a scheduled one (the
    /// launch carries it).
    Reload(Option<Box<Launch>>, Reply),
    /// Run once now; with `wait`, answer when the run ended.
    RunOnce(Box<Launch>, bool, Reply),
    /// An adopted stream bot: restart it by this launch when it ends by itself.
    Supervise(Box<Launch>),
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

/// What every bot task gets from the daemon.
#[derive(Debug, Clone)]
pub struct Shared {
    /// Where pid files go.
    pub state_dir: PathBuf,
    pub changes: ChangeSender,
    pub events: EventBus,
    pub tracker: TaskTracker,
    pub shutdown: CancellationToken,
}

impl BotHandle {
    /// Starts the task of one bot, optionally with a process adopted from an
    /// earlier daemon and the last known snapshot.
    pub fn spawn(
        bot_id: &str,
        adopted: Option<BotProcess>,
        initial: BotSnapshot,
        shared: &Shared,
    ) -> BotHandle {
        let (control, receiver) = mpsc::unbounded_channel();
        let (publish, state) = watch::channel(initial);
        let task = task::BotTask::new(
            bot_id,
            shared.state_dir.clone(),
            adopted,
            publish,
            shared.changes.clone(),
            shared.events.clone(),
        );
        shared
            .tracker
            .spawn(task.run(receiver, shared.shutdown.clone()));
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
        self.call(|reply| Control::Start(Box::new(launch), reply))
            .await
    }

    pub async fn stop(&self, timeout: Duration) -> ActionReport {
        self.call(|reply| Control::Stop(timeout, reply)).await
    }

    pub async fn restart(&self, launch: Launch, timeout: Duration) -> ActionReport {
        self.call(|reply| Control::Restart(Box::new(launch), timeout, reply))
            .await
    }

    pub async fn reload(&self, launch: Option<Launch>) -> ActionReport {
        self.call(|reply| Control::Reload(launch.map(Box::new), reply))
            .await
    }

    pub async fn run_once(&self, launch: Launch, wait: bool) -> ActionReport {
        self.call(|reply| Control::RunOnce(Box::new(launch), wait, reply))
            .await
    }

    /// Applies `launch`'s restart policy to a stream bot adopted from an
    /// earlier daemon, which was not started through this handle.
    pub fn supervise(&self, launch: Launch) {
        let _ = self.control.send(Control::Supervise(Box::new(launch)));
    }

    async fn call(&self, make: impl FnOnce(Reply) -> Control) -> ActionReport {
        let (reply, answer) = oneshot::channel();
        let gone = || {
            ActionReport::failed(
                Vec::new(),
                ErrorKind::Internal,
                format!(
                    "the daemon is shutting down; the action on {} was not finished",
                    self.bot_id
                ),
            )
        };
        if self.control.send(make(reply)).is_err() {
            return gone();
        }
        answer.await.unwrap_or_else(|_| gone())
    }
}
