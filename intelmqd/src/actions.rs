//! Carrying out one bot's plan: asking its question, writing its entry back
//! into runtime.conf, driving its task, changing its flags. Runs in a task of
//! its own per bot, so a botnet command acts on all its bots at once; the
//! result goes back to the supervisor, which records it.

use std::time::Duration;

use intelmqd_proto::{ActionKind, ErrorBody, ErrorKind, ExitInfo, Level, Message};
use serde_json::Value;

use crate::asker::Asker;
use crate::backend::{Backend, ManagedBot};
use crate::bot::ActionReport;
use crate::config::{BotConfig, ReloadMode, RunMode};
use crate::plan::{BotPlan, Effect, Op, Step};
use crate::say::logged;
use crate::systemd::UnitState;
use crate::writer::ConfigWriter;
use crate::{launch, Paths};

/// What every bot's action of one request shares.
#[derive(Debug, Clone)]
pub struct Context {
    pub paths: Paths,
    pub stop_timeout: Duration,
    pub defaults: crate::config::Defaults,
    pub writer: ConfigWriter,
    pub asker: Asker,
}

/// One bot to act on.
#[derive(Debug)]
pub struct Target {
    pub plan: BotPlan,
    /// The bot under the process manager that acts on it.
    pub bot: ManagedBot,
    /// The entry and queues the bot was last acted on with, for writing back.
    pub effective: Option<(Value, Option<Value>)>,
    /// The bot's queues in pipeline.conf now, to record on start.
    pub pipeline: Option<Value>,
}

/// How the daemon's record of the bot changes.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Keep,
    /// Acted on with this entry and these queues.
    Set(Box<BotConfig>, Option<Value>),
    /// A flag of the entry changed.
    Flag(&'static str, bool),
    /// Dropped from the internal configurations.
    Forget,
}

/// The result of one bot's action.
#[derive(Debug, Clone)]
pub struct BotResult {
    pub bot_id: String,
    pub messages: Vec<Message>,
    pub outcome: Result<ActionKind, ErrorBody>,
    pub exit: Option<ExitInfo>,
    pub record: Record,
    /// The bot's systemd unit as read after the action.
    pub observed: Option<UnitState>,
    /// A reload that was done, and how.
    pub reloaded: Option<ReloadMode>,
}

/// Carries out `target`'s plan.
pub async fn execute(target: Target, context: &Context) -> BotResult {
    let Target {
        plan,
        bot,
        effective,
        pipeline,
    } = target;
    let bot_id = plan.bot_id.clone();
    let mut result = BotResult {
        bot_id: bot_id.clone(),
        messages: plan.messages.into_iter().map(logged).collect(),
        outcome: Ok(ActionKind::Skipped),
        exit: None,
        record: Record::Keep,
        observed: None,
        reloaded: None,
    };
    let effect = match plan.step {
        Step::Refuse(error) => {
            result.outcome = Err(error);
            return result;
        }
        Step::Do(effect) => effect,
        Step::Ask {
            text,
            default,
            yes,
            no,
        } => {
            let (answer, message) = context.asker.ask(&bot_id, &text, default).await;
            result.messages.push(logged(message));
            if answer {
                *yes
            } else {
                *no
            }
        }
    };
    let Effect {
        restore,
        op,
        forget,
        note,
    } = effect;
    if restore {
        if let Some((entry, queues)) = effective {
            if let Err(error) = context.writer.restore(&bot_id, entry, queues).await {
                result.messages.push(logged(Message::new(
                    Level::Error,
                    Some(&bot_id),
                    format!(
                        "{bot_id} was removed from {} while running and could not be written back: {error}. Its configuration is kept in the internal runtime configuration.",
                        context.writer.runtime_file()
                    ),
                )));
            }
        }
    }
    let report = match op {
        Op::Keep(kind) => ActionReport::done(Vec::new(), kind),
        Op::Stop => bot.stop(context.stop_timeout).await,
        Op::Start(config) => match launch_of(context, &config) {
            Ok(launch) => {
                let report = bot.start(launch).await;
                if report.outcome.is_ok() {
                    result.record = Record::Set(Box::new(config), pipeline);
                }
                report
            }
            Err(error) => refused(error),
        },
        Op::Restart(config) => match launch_of(context, &config) {
            Ok(launch) => {
                let report = bot.restart(launch, context.stop_timeout).await;
                if report.outcome.is_ok() {
                    result.record = Record::Set(Box::new(config), pipeline);
                }
                report
            }
            Err(error) => refused(error),
        },
        Op::Reload(config) => {
            let mode = config.reload.unwrap_or(context.defaults.reload);
            let report = match (config.run_mode, mode) {
                // A schedule is replaced from the entry now in the file.
                (RunMode::Scheduled, _) => match launch_of(context, &config) {
                    Ok(launch) => bot.reload(Some(launch)).await,
                    Err(error) => return finish(result, refused(error), false),
                },
                (RunMode::Stream, ReloadMode::Signal) => bot.reload(None).await,
                (RunMode::Stream, ReloadMode::Restart) => match launch_of(context, &config) {
                    Ok(launch) => {
                        let mut report = bot.restart(launch, context.stop_timeout).await;
                        if report.outcome == Ok(ActionKind::Restarted) {
                            report.messages.push(logged(Message::new(
                                Level::Info,
                                Some(&bot_id),
                                format!("{bot_id} was restarted to reload (reload: \"restart\"): it runs with its entry now in the configuration."),
                            )));
                            report.outcome = Ok(ActionKind::Reloaded);
                        }
                        report
                    }
                    Err(error) => return finish(result, refused(error), false),
                },
            };
            if matches!(
                report.outcome,
                Ok(ActionKind::Reloaded | ActionKind::Rescheduled)
            ) {
                result.record = Record::Set(Box::new(config.clone()), pipeline);
                if config.run_mode == RunMode::Stream {
                    result.reloaded = Some(mode);
                }
            }
            report
        }
        Op::RunOnce { config, wait } => match launch_of(context, &config) {
            Ok(launch) => {
                let report = bot.run_once(launch, wait).await;
                if report.outcome.is_ok() {
                    result.record = Record::Set(Box::new(config), pipeline);
                }
                report
            }
            Err(error) => refused(error),
        },
        Op::OnBoot { value, stream } => {
            let report = bot.set_onboot(value, stream).await;
            match report.outcome {
                Ok(_) => {
                    let flag = set_flag(context, &bot_id, "onboot", value, &mut result).await;
                    ActionReport {
                        messages: report.messages.into_iter().chain(flag.messages).collect(),
                        observed: report.observed,
                        ..flag
                    }
                }
                Err(_) => report,
            }
        }
        Op::SetFlag { key, value } => set_flag(context, &bot_id, key, value, &mut result).await,
    };
    let mut result = finish(result, report, forget);
    if result.record == Record::Forget {
        // "check in all IntelMQ system if there is some additional internal
        // configurations that are still having configured that bot": its queues.
        let message = match context.writer.forget_queues(&bot_id).await {
            Ok(true) => Some(Message::new(
                Level::Info,
                Some(&bot_id),
                format!("The queues of {bot_id} were removed from pipeline.conf (the previous version is in pipeline.conf.bak)."),
            )),
            Ok(false) => None,
            Err(error) => Some(Message::new(
                Level::Error,
                Some(&bot_id),
                format!("The queues of {bot_id} could not be removed from pipeline.conf: {error}"),
            )),
        };
        result.messages.extend(message.map(logged));
    }
    // The note tells what was done, so it comes after, and only if it was.
    if result.outcome.is_ok() && result.outcome != Ok(ActionKind::Unchanged) {
        result.messages.extend(note.map(logged));
    }
    result
}

/// Sets a flag of the bot's entry in the configuration file.
async fn set_flag(
    context: &Context,
    bot_id: &str,
    key: &'static str,
    value: bool,
    result: &mut BotResult,
) -> ActionReport {
    match context.writer.set_flag(bot_id, key, value).await {
        Ok(changed) => {
            result.record = Record::Flag(key, value);
            let file = context.writer.runtime_file();
            let text = if changed {
                format!("{key} of {bot_id} is now {value} in {file}.")
            } else {
                format!("{key} of {bot_id} is already {value} in {file}.")
            };
            let kind = if changed {
                ActionKind::Updated
            } else {
                ActionKind::Unchanged
            };
            ActionReport::done(vec![Message::new(Level::Info, Some(bot_id), text)], kind)
        }
        Err(error) => refused(ErrorBody {
            kind: ErrorKind::ActionFailed,
            message: format!(
                "cannot change {key} of {bot_id} in {}: {error}",
                context.writer.runtime_file()
            ),
        }),
    }
}

/// Folds the bot's report into the result.
fn finish(mut result: BotResult, report: ActionReport, forget: bool) -> BotResult {
    result.messages.extend(report.messages);
    result.outcome = report.outcome;
    result.exit = report.exit;
    result.observed = report.observed;
    if forget && result.outcome.is_ok() {
        result.record = Record::Forget;
        result.outcome = Ok(ActionKind::Forgotten);
    }
    result
}
fn launch_of(context: &Context, config: &BotConfig) -> Result<crate::process::Launch, ErrorBody> {
    launch::launch_for(&context.paths, config, &context.defaults).map_err(|reason| ErrorBody {
        kind: ErrorKind::InvalidConfig,
        message: format!("{} cannot be started: {reason}", config.bot_id),
    })
}

/// An action refused before the bot's task was asked; the error itself is
/// the message.
fn refused(error: ErrorBody) -> ActionReport {
    tracing::warn!("{}", error.message);
    ActionReport::failed(Vec::new(), error.kind, error.message)
}
