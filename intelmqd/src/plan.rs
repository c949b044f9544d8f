//! What a command does to one bot, decided before anything is done: the
//! checks of [`crate::reconcile`] applied to the command, the spec's messages,
//! and the questions to ask. A pure function of what the daemon knows, so each
//! scenario of the spec is a unit test here; [`crate::actions`] carries a plan out.

use intelmqd_proto::{ActionKind, ErrorBody, ErrorKind, Level, Message};

use crate::config::{BotConfig, ProcessManager, RunMode};
use crate::reconcile::{self, Drift};

/// The commands that act on bots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Start { now: bool, wait: bool },
    Stop,
    Restart,
    Reload,
    Enable,
    Disable,
    AddToBotnet,
    RemoveFromBotnet,
    SchedulerExec,
}

impl Verb {
    pub fn name(self) -> &'static str {
        match self {
            Verb::Start { .. } => "start",
            Verb::Stop => "stop",
            Verb::Restart => "restart",
            Verb::Reload => "reload",
            Verb::Enable => "enable",
            Verb::Disable => "disable",
            Verb::AddToBotnet => "add-to-botnet",
            Verb::RemoveFromBotnet => "remove-from-botnet",
            Verb::SchedulerExec => "scheduler-exec",
        }
    }
}

/// What the daemon knows of one bot when a command comes.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub bot_id: &'a str,
    /// Its entry in runtime.conf.
    pub configured: Option<&'a BotConfig>,
    /// The entry it was last acted on with.
    pub effective: Option<&'a BotConfig>,
    /// Its process runs, or (scheduled bots) it is on its schedule.
    pub running: bool,
    pub process_manager: ProcessManager,
}

/// The operation on the bot's process or schedule, or on its configuration.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Start a stream bot, or put a scheduled bot on its schedule.
    Start(BotConfig),
    Stop,
    Restart(BotConfig),
    /// Reload with the entry now in runtime.conf.
    Reload(BotConfig),
    /// Run once now; `wait` answers when the run ended.
    RunOnce {
        config: BotConfig,
        wait: bool,
    },
    /// Set a boolean key of the bot's entry in runtime.conf (and the
    /// effective configuration).
    SetFlag {
        key: &'static str,
        value: bool,
    },
    /// Make the bot start at boot or not (systemd process manager): the
    /// unit's enablement for a stream bot, then `onboot` in runtime.conf.
    OnBoot {
        value: bool,
        stream: bool,
    },
    /// Nothing to do to the bot; the row says `kind`.
    Keep(ActionKind),
}

/// One way the plan can go: write the effective entry back into runtime.conf
/// first, then the operation, then (on success) drop the bot from the
/// internal configurations.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    pub restore: bool,
    pub op: Op,
    pub forget: bool,
    /// Said when this way is taken.
    pub note: Option<Message>,
}

impl Effect {
    fn op(op: Op) -> Effect {
        Effect {
            restore: false,
            op,
            forget: false,
            note: None,
        }
    }
}

// One plan is made per bot and request and moved once: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Do(Effect),
    /// Ask the operator; `default` is taken when nobody answers.
    Ask {
        text: String,
        default: bool,
        yes: Box<Effect>,
        no: Box<Effect>,
    },
    Refuse(ErrorBody),
}

#[derive(Debug, Clone, PartialEq)]
pub struct BotPlan {
    pub bot_id: String,
    /// Said before anything is done.
    pub messages: Vec<Message>,
    pub step: Step,
}

/// The message the spec gives for `enable` under the PID process manager.
pub const PID_NO_ONBOOT: &str = "IntelMQ is configured with process management as PID, therefore enabling a bot onboot is not supported. Please use systemd process management instead.";

/// Decides what `verb` does to the bot described by `facts`.
pub fn plan(verb: Verb, facts: Facts<'_>) -> BotPlan {
    let id = facts.bot_id;
    let drift = reconcile::drift(facts.configured, facts.effective, facts.running);
    let mut messages = Vec::new();
    let say = |level, text: String| Message::new(level, Some(id), text);
    let step = match (verb, drift) {
        (Verb::Start { .. }, Some(Drift::RemovedWhileRunning { .. })) => Step::Do(Effect {
            restore: true,
            note: Some(say(Level::Warning, reconcile::kept_and_restored(id))),
            ..Effect::op(Op::Keep(ActionKind::AlreadyRunning))
        }),
        (Verb::Start { now: false, .. }, drift) if facts.running => {
            messages.push(say(Level::Info, format!("{id} is already running.")));
            if matches!(drift, Some(Drift::ChangedWhileRunning { .. })) {
                messages.push(say(Level::Info, reconcile::RELOAD_HINT.to_owned()));
            }
            Step::Do(Effect::op(Op::Keep(ActionKind::AlreadyRunning)))
        }
        (Verb::Start { now, wait }, _) => match valid(facts) {
            Ok(config) if now && config.run_mode == RunMode::Scheduled => {
                Step::Do(Effect::op(Op::RunOnce { config, wait }))
            }
            Ok(config) => Step::Do(Effect::op(Op::Start(config))),
            Err(error) => Step::Refuse(error),
        },
        (Verb::SchedulerExec, _) => match valid(facts) {
            Ok(config) => Step::Do(Effect::op(Op::RunOnce { config, wait: true })),
            Err(error) => Step::Refuse(error),
        },
        (Verb::Stop, Some(Drift::RemovedWhileRunning { .. })) => Step::Do(Effect {
            restore: true,
            note: Some(say(Level::Warning, reconcile::stopped_and_restored(id))),
            ..Effect::op(Op::Stop)
        }),
        (Verb::Stop, _) => Step::Do(Effect::op(Op::Stop)),
        (Verb::Restart, Some(Drift::RemovedWhileRunning { effective })) => Step::Do(Effect {
            restore: true,
            note: Some(say(Level::Warning, reconcile::kept_and_restored(id))),
            ..Effect::op(Op::Restart(effective))
        }),
        (Verb::Restart, _) => match valid(facts) {
            Ok(config) => Step::Do(Effect::op(Op::Restart(config))),
            Err(error) => Step::Refuse(error),
        },
        (Verb::Reload, Some(Drift::RemovedWhileRunning { .. })) => {
            messages.push(say(Level::Warning, reconcile::removed_while_running(id)));
            Step::Ask {
                text: reconcile::ask_stop_removed(id),
                default: false,
                yes: Box::new(Effect {
                    forget: true,
                    note: Some(say(
                        Level::Info,
                        format!("{id} was stopped and removed from the internal runtime configuration."),
                    )),
                    ..Effect::op(Op::Stop)
                }),
                no: Box::new(Effect {
                    restore: true,
                    note: Some(say(
                        Level::Info,
                        format!("{id} keeps running; its configuration was written back into runtime.conf."),
                    )),
                    ..Effect::op(Op::Keep(ActionKind::Skipped))
                }),
            }
        }
        (Verb::Reload, Some(Drift::ChangedWhileRunning { run_mode_changed: true })) => {
            match valid(facts) {
                Ok(config) => Step::Ask {
                    text: reconcile::ask_restart_for_run_mode(id),
                    default: true,
                    yes: Box::new(Effect::op(Op::Restart(config))),
                    no: Box::new(Effect {
                        note: Some(say(
                            Level::Info,
                            format!("{id} keeps running in its current run_mode."),
                        )),
                        ..Effect::op(Op::Keep(ActionKind::Skipped))
                    }),
                },
                Err(error) => Step::Refuse(error),
            }
        }
        (Verb::Reload, _) if !facts.running => {
            messages.push(say(
                Level::Warning,
                format!("{id} is not running, nothing to reload."),
            ));
            Step::Do(Effect::op(Op::Keep(ActionKind::NotRunning)))
        }
        (Verb::Reload, _) => match valid(facts) {
            Ok(config) => Step::Do(Effect::op(Op::Reload(config))),
            Err(error) => Step::Refuse(ErrorBody {
                message: format!("{}; {id} keeps running with its current configuration", error.message),
                ..error
            }),
        },
        (Verb::Enable | Verb::Disable, _) if facts.configured.is_none() => {
            Step::Refuse(not_configured(id))
        }
        (Verb::Enable | Verb::Disable, _) => {
            let value = verb == Verb::Enable;
            match (facts.process_manager, facts.configured) {
                (ProcessManager::Systemd, Some(config)) => Step::Do(Effect::op(Op::OnBoot {
                    value,
                    stream: config.run_mode == RunMode::Stream,
                })),
                _ => {
                    if value {
                        messages.push(say(Level::Warning, PID_NO_ONBOOT.to_owned()));
                    }
                    Step::Do(Effect::op(Op::SetFlag {
                        key: "onboot",
                        value: false,
                    }))
                }
            }
        }
        (Verb::AddToBotnet | Verb::RemoveFromBotnet, _) if facts.configured.is_none() => {
            Step::Refuse(not_configured(id))
        }
        (Verb::AddToBotnet, _) => Step::Do(Effect {
            note: Some(say(Level::Info, format!(
                "{id} runtime configuration has been changed in order to add the bot to the botnet but the bot will keep its current status (running or stopped). Please check bot current status and then perform, if needs, the action to start/stop/restart"
            ))),
            ..Effect::op(Op::SetFlag { key: "botnet", value: true })
        }),
        (Verb::RemoveFromBotnet, _) => Step::Do(Effect {
            note: Some(say(Level::Info, format!(
                "{id} runtime configuration has been changed in order to remove the bot from the botnet but the bot will keep its current status (running or stopped). Please check bot current status and then perform, if needs, the action to start/stop/restart"
            ))),
            ..Effect::op(Op::SetFlag { key: "botnet", value: false })
        }),
    };
    BotPlan {
        bot_id: id.to_owned(),
        messages,
        step,
    }
}

fn not_configured(bot_id: &str) -> ErrorBody {
    ErrorBody {
        kind: ErrorKind::UnknownBot,
        message: format!(
            "no bot \"{bot_id}\" in runtime.conf; it can only be changed there once it is configured"
        ),
    }
}

/// The bot's entry in runtime.conf, if it may be started.
fn valid(facts: Facts<'_>) -> Result<BotConfig, ErrorBody> {
    let id = facts.bot_id;
    let Some(config) = facts.configured else {
        return Err(not_configured(id));
    };
    if !config.is_valid() {
        return Err(ErrorBody {
            kind: ErrorKind::InvalidConfig,
            message: format!(
                "{id} cannot be started: its configuration is invalid: {}. Run 'intelmqctl configtest {id}' for details",
                config.problems.join("; ")
            ),
        });
    }
    Ok(config.clone())
}

#[cfg(test)]
mod tests;
