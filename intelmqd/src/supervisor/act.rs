//! The requests that act on bots, one bot or many: choosing the bots, planning
//! each, running the plans concurrently in a task of their own, and recording
//! what they did when their results come back.

use std::sync::Arc;

use intelmqd_proto::{
    ActionKind, ActionRow, Answers, Command, ErrorBody, ErrorKind, Level, Message, Outcome,
    Response, Selection,
};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{Msg, Respond, Supervisor};
use crate::actions::{self, BotResult, Context, Record, Target};
use crate::asker::{AskRequest, Asker};
use crate::config::BotConfig;
use crate::plan::{self, Facts, Verb};

/// The results of one request's actions, on their way back to the supervisor.
pub struct ActionsDone {
    verb: Verb,
    /// One bot was named, rather than a selection.
    single: bool,
    results: Vec<BotResult>,
    respond: Respond,
}

impl Supervisor {
    pub(super) fn act(
        &mut self,
        command: Command,
        answers: Answers,
        questions: Option<mpsc::Sender<AskRequest>>,
        respond: Respond,
    ) {
        let none = Selection::default();
        let (verb, bot_id, select) = match command {
            Command::Start {
                bot_id,
                now,
                wait,
                select,
            } => (Verb::Start { now, wait }, bot_id, select),
            Command::Stop { bot_id, select } => (Verb::Stop, bot_id, select),
            Command::Restart { bot_id, select } => (Verb::Restart, bot_id, select),
            Command::Reload { bot_id, select } => (Verb::Reload, bot_id, select),
            Command::Enable { bot_id, select } => (Verb::Enable, bot_id, select),
            Command::Disable { bot_id, select } => (Verb::Disable, bot_id, select),
            Command::AddToBotnet { bot_id } => (Verb::AddToBotnet, Some(bot_id), none),
            Command::RemoveFromBotnet { bot_id } => (Verb::RemoveFromBotnet, Some(bot_id), none),
            Command::SchedulerExec { bot_id } => (Verb::SchedulerExec, Some(bot_id), none),
            other => {
                return respond(Response::failure(
                    ErrorKind::Internal,
                    format!("{} is not an action", other.name()),
                ))
            }
        };
        let single = bot_id.is_some();
        let ids = match bot_id {
            Some(bot_id) => match self.known(&bot_id) {
                Ok(()) => vec![bot_id],
                Err(error) => {
                    tracing::warn!("{} refused: {}", verb.name(), error.message);
                    return respond(super::query::failure(error));
                }
            },
            None => self.selected(select),
        };
        if ids.is_empty() {
            let file = self.config.runtime_file();
            let text = if select.all {
                format!("No bot matches: {file} has no bot of that run mode.")
            } else {
                format!("No bot matches: no bot in {file} has botnet: true (of that run mode). Use --all to act on every bot.")
            };
            return respond(Response::success(
                vec![Message::new(Level::Warning, None, text)],
                Outcome::Actions { bots: Vec::new() },
            ));
        }
        let config = Arc::clone(self.config.current());
        let planned: Vec<_> = ids
            .iter()
            .map(|bot_id| {
                let tracked = self.bots.get(bot_id);
                let effective = tracked.and_then(|t| t.effective.as_ref());
                let facts = Facts {
                    bot_id,
                    configured: config.bots.get(bot_id),
                    effective,
                    running: self.is_running(bot_id),
                    process_manager: config.defaults.process_manager,
                };
                let restore = tracked.and_then(|t| {
                    t.effective
                        .as_ref()
                        .map(|e| (e.raw.clone(), t.pipeline.clone()))
                });
                (plan::plan(verb, facts), restore)
            })
            .collect();
        let targets: Vec<Target> = planned
            .into_iter()
            .map(|(plan, effective)| Target {
                bot: self.managed_bot(&plan.bot_id),
                pipeline: config.pipeline.get(&plan.bot_id).cloned(),
                plan,
                effective,
            })
            .collect();
        let context = Arc::new(Context {
            paths: self.paths.clone(),
            stop_timeout: config.defaults.stop_timeout,
            defaults: config.defaults.clone(),
            writer: self.writer.clone(),
            asker: Asker::new(answers, questions),
        });
        let supervisor = self.messages.clone();
        tokio::spawn(async move {
            let results = execute_all(targets, context).await;
            let done = ActionsDone {
                verb,
                single,
                results,
                respond,
            };
            let _ = supervisor.send(Msg::ActionsDone(Box::new(done))).await;
        });
    }

    pub(super) fn on_actions_done(&mut self, done: ActionsDone) -> (Respond, Response) {
        let ActionsDone {
            verb,
            single,
            results,
            respond,
        } = done;
        for result in &results {
            self.record(&result.bot_id, &result.record);
            self.note_manager(result);
        }
        // Our own writes of runtime.conf are read back now, not at the next
        // request; the request's answer already carries the file warnings.
        self.refresh_config();
        let mut messages = Vec::new();
        let mut rows = Vec::new();
        let mut missed = Vec::new();
        for result in results {
            messages.extend(result.messages);
            let status = self.bot_status(&result.bot_id).status;
            let (action, error) = match &result.outcome {
                Ok(kind) => (*kind, None),
                Err(error) => (ActionKind::Failed, Some(error.clone())),
            };
            let arrived = error.is_none() && arrived(verb, action);
            if !arrived {
                let reason = error.clone().unwrap_or_else(|| ErrorBody {
                    kind: ErrorKind::ActionFailed,
                    message: format!(
                        "{} is {} after {}",
                        result.bot_id,
                        status.table_word(),
                        verb.name()
                    ),
                });
                missed.push((result.bot_id.clone(), reason));
            }
            rows.push(ActionRow {
                pid: self.snapshot(&result.bot_id).pid,
                bot_id: result.bot_id,
                action,
                status,
                error: error.map(|e| e.message),
                exit: result.exit,
            });
        }
        let count = rows.len();
        let outcome = Outcome::Actions { bots: rows };
        let response = match missed.len() {
            0 => Response::success(messages, outcome),
            _ if single => {
                let (_, error) = missed.remove(0);
                Response {
                    ok: false,
                    messages,
                    error: Some(error),
                    result: Some(outcome),
                }
            }
            failed => Response {
                ok: false,
                messages,
                error: Some(ErrorBody {
                    kind: ErrorKind::ActionFailed,
                    message: format!(
                        "{failed} of {count} bots did not end as asked by {}: {}",
                        verb.name(),
                        missed
                            .iter()
                            .map(|(id, error)| format!("{id} ({})", error.message))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }),
                result: Some(outcome),
            },
        };
        (respond, response)
    }

    /// Keeps what the action showed of the bot's unit, and its reload.
    fn note_manager(&mut self, result: &BotResult) {
        let Some(tracked) = self.bots.get_mut(&result.bot_id) else {
            return;
        };
        if let Some(unit) = &result.observed {
            tracked.unit = Some(unit.clone());
            self.dirty = true;
        }
        match (&result.outcome, result.reloaded) {
            (Ok(_), Some(mode)) => {
                let now = crate::bot::ticks::unix_seconds(std::time::SystemTime::now());
                tracked.reloaded = Some((mode, now));
            }
            (
                Ok(
                    ActionKind::Started
                    | ActionKind::Stopped
                    | ActionKind::Killed
                    | ActionKind::Restarted
                    | ActionKind::AlreadyStopped,
                ),
                None,
            ) => tracked.reloaded = None,
            _ => {}
        }
    }

    /// Changes the daemon's record of a bot after an action.
    fn record(&mut self, bot_id: &str, record: &Record) {
        match record {
            Record::Keep => {}
            Record::Set(config, pipeline) => {
                if let Some(tracked) = self.bots.get_mut(bot_id) {
                    tracked.effective = Some((**config).clone());
                    tracked.pipeline = pipeline.clone();
                    self.dirty = true;
                }
            }
            Record::Flag(key, value) => {
                if let Some(tracked) = self.bots.get_mut(bot_id) {
                    if let Some(effective) = tracked.effective.as_mut() {
                        let mut raw = effective.raw.clone();
                        if let Some(entry) = raw.as_object_mut() {
                            entry.insert((*key).to_owned(), serde_json::Value::Bool(*value));
                        }
                        *effective = BotConfig::from_entry(bot_id, raw);
                        self.dirty = true;
                    }
                }
            }
            Record::Forget => {
                if !self.is_running(bot_id) {
                    self.bots.remove(bot_id);
                    self.dirty = true;
                }
            }
        }
    }
}

/// Runs every target's plan at once; the results come back in target order.
async fn execute_all(targets: Vec<Target>, context: Arc<Context>) -> Vec<BotResult> {
    let count = targets.len();
    let mut running = JoinSet::new();
    for (index, target) in targets.into_iter().enumerate() {
        let context = Arc::clone(&context);
        running.spawn(async move { (index, actions::execute(target, &context).await) });
    }
    let mut results: Vec<Option<BotResult>> = vec![None; count];
    while let Some(joined) = running.join_next().await {
        match joined {
            Ok((index, result)) => results[index] = Some(result),
            Err(error) => tracing::error!("an action task failed: {error}"),
        }
    }
    results.into_iter().flatten().collect()
}

/// Whether a bot ended where the command asked it to be, by what its task
/// did (its status a moment later may already tell of a crash, which `status`
/// shows).
fn arrived(verb: Verb, action: ActionKind) -> bool {
    use ActionKind as A;
    match verb {
        Verb::Start { now: false, .. } | Verb::Restart => matches!(
            action,
            A::Started | A::AlreadyRunning | A::Scheduled | A::AlreadyScheduled | A::Restarted
        ),
        Verb::Stop => matches!(
            action,
            A::Stopped | A::Killed | A::AlreadyStopped | A::Unscheduled
        ),
        _ => action != A::Failed,
    }
}
