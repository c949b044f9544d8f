//! The daemon's queue of `systemctl` calls. A botnet command acts on all its
//! bots at once, each in a task of its own; made one by one, N concurrent
//! `systemctl` calls cost the manager time that grows with N² (each client is
//! told of every job). So the calls that arrive together are gathered (until
//! the queue has been quiet for [`QUIET`], at most [`GATHER_AT_MOST`]) and
//! made as one `systemctl <verb> <units...>` per verb and one reading of the
//! units for all the readings (over D-Bus, or one `systemctl show
//! <units...>` where the bus cannot be reached), and each caller gets its own
//! part of the answer.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::bus::UnitBus;
use super::watch::UnitCache;
use super::{describe, parse_show, run, show_args, unit_name, SystemdError, UnitState};
use crate::config::SystemdInstance;

/// How long the queue waits for more calls after the last one came.
const QUIET: Duration = Duration::from_millis(3);
/// The longest a call waits for others to join it.
const GATHER_AT_MOST: Duration = Duration::from_millis(50);

type Units = HashMap<String, UnitState>;
/// The callers of one verb: each bot id with where its answer goes.
type VerbReplies = Vec<(String, oneshot::Sender<Result<(), SystemdError>>)>;
/// The callers of one reading: the bot ids each wants, and where it goes.
type ShowReplies = Vec<(Vec<String>, oneshot::Sender<Result<Units, SystemdError>>)>;

enum Request {
    Verb {
        verb: &'static str,
        bot_id: String,
        reply: oneshot::Sender<Result<(), SystemdError>>,
    },
    Show {
        bot_ids: Vec<String>,
        reply: oneshot::Sender<Result<Units, SystemdError>>,
    },
}

struct Job {
    instance: SystemdInstance,
    request: Request,
}

/// A handle on the queue, and on each manager's units kept in memory; their
/// tasks end when every handle is dropped.
#[derive(Debug, Clone)]
pub struct SystemdQueue {
    jobs: mpsc::UnboundedSender<Job>,
    system_units: UnitCache,
    user_units: UnitCache,
}

impl SystemdQueue {
    /// Starts the queue's task and the tasks that keep the units.
    pub fn spawn() -> SystemdQueue {
        let (jobs, inbox) = mpsc::unbounded_channel();
        tokio::spawn(gather(inbox, Arc::new(UnitBus::default())));
        SystemdQueue {
            jobs,
            system_units: UnitCache::spawn(SystemdInstance::System),
            user_units: UnitCache::spawn(SystemdInstance::User),
        }
    }

    /// The units of `instance`'s manager kept in memory.
    pub(super) fn units(&self, instance: SystemdInstance) -> &UnitCache {
        match instance {
            SystemdInstance::System => &self.system_units,
            SystemdInstance::User => &self.user_units,
        }
    }

    pub(super) async fn verb(
        &self,
        instance: SystemdInstance,
        verb: &'static str,
        bot_id: &str,
    ) -> Result<(), SystemdError> {
        let (reply, answer) = oneshot::channel();
        let request = Request::Verb {
            verb,
            bot_id: bot_id.to_owned(),
            reply,
        };
        self.send(instance, request)?;
        answer.await.unwrap_or_else(|_| Err(gone()))
    }

    pub(super) async fn show(
        &self,
        instance: SystemdInstance,
        bot_ids: Vec<String>,
    ) -> Result<Units, SystemdError> {
        let (reply, answer) = oneshot::channel();
        self.send(instance, Request::Show { bot_ids, reply })?;
        answer.await.unwrap_or_else(|_| Err(gone()))
    }

    fn send(&self, instance: SystemdInstance, request: Request) -> Result<(), SystemdError> {
        self.jobs
            .send(Job { instance, request })
            .map_err(|_| gone())
    }
}

fn gone() -> SystemdError {
    SystemdError::Spawn("the daemon is shutting down".to_owned())
}

/// Gathers the calls that come together and makes each batch in a task of
/// its own, so that the next batch gathers meanwhile.
async fn gather(mut inbox: mpsc::UnboundedReceiver<Job>, bus: Arc<UnitBus>) {
    while let Some(first) = inbox.recv().await {
        let mut batch = vec![first];
        let until = Instant::now() + GATHER_AT_MOST;
        while Instant::now() < until {
            match tokio::time::timeout(QUIET, inbox.recv()).await {
                Ok(Some(job)) => batch.push(job),
                Ok(None) | Err(_) => break,
            }
        }
        tokio::spawn(make(batch, bus.clone()));
    }
}

/// Makes one batch: one call per manager and verb, one reading per manager.
async fn make(batch: Vec<Job>, bus: Arc<UnitBus>) {
    let mut verbs: BTreeMap<(u8, &'static str), (SystemdInstance, VerbReplies)> = BTreeMap::new();
    let mut shows: BTreeMap<u8, (SystemdInstance, ShowReplies)> = BTreeMap::new();
    for Job { instance, request } in batch {
        let key = instance as u8;
        match request {
            Request::Verb {
                verb,
                bot_id,
                reply,
            } => verbs
                .entry((key, verb))
                .or_insert_with(|| (instance, Vec::new()))
                .1
                .push((bot_id, reply)),
            Request::Show { bot_ids, reply } => shows
                .entry(key)
                .or_insert_with(|| (instance, Vec::new()))
                .1
                .push((bot_ids, reply)),
        }
    }
    let mut calls = tokio::task::JoinSet::new();
    for ((_, verb), (instance, callers)) in verbs {
        calls.spawn(verb_call(instance, verb, callers));
    }
    for (_, (instance, callers)) in shows {
        calls.spawn(show_call(bus.clone(), instance, callers));
    }
    while calls.join_next().await.is_some() {}
}

async fn verb_call(instance: SystemdInstance, verb: &'static str, callers: VerbReplies) {
    let mut bot_ids: Vec<String> = callers.iter().map(|(id, _)| id.clone()).collect();
    bot_ids.dedup();
    let mut args = vec![verb.to_owned()];
    args.extend(bot_ids.iter().map(|id| unit_name(id)));
    let result = run(instance, args, describe(instance, verb, &bot_ids)).await;
    for (bot_id, reply) in callers {
        let _ = reply.send(part_of(&result, instance, verb, &bot_id, bot_ids.len()));
    }
}

/// The part of a call on many units that concerns one: a failed call is
/// that unit's failure when systemctl named the unit, or when the call was
/// for it alone, or when it named no unit at all (it could not reach the
/// manager); otherwise the failure was another unit's.
fn part_of(
    result: &Result<String, SystemdError>,
    instance: SystemdInstance,
    verb: &str,
    bot_id: &str,
    units: usize,
) -> Result<(), SystemdError> {
    let error = match result {
        Ok(_) => return Ok(()),
        Err(error) => error,
    };
    let SystemdError::Failed { status, stderr, .. } = error else {
        return Err(error.clone());
    };
    let unit = unit_name(bot_id);
    let own: Vec<&str> = stderr.lines().filter(|line| line.contains(&unit)).collect();
    let names_any = stderr.contains("intelmq-bot@");
    if own.is_empty() && units > 1 && names_any {
        return Ok(());
    }
    Err(SystemdError::Failed {
        command: describe(instance, verb, &[bot_id.to_owned()]),
        status: *status,
        stderr: if own.is_empty() {
            stderr.clone()
        } else {
            own.join("\n")
        },
    })
}

async fn show_call(bus: Arc<UnitBus>, instance: SystemdInstance, callers: ShowReplies) {
    let mut bot_ids: Vec<String> = callers.iter().flat_map(|(ids, _)| ids.clone()).collect();
    bot_ids.sort();
    bot_ids.dedup();
    let result = read_units(&bus, instance, &bot_ids).await.map(|units| {
        units
            .into_iter()
            .filter_map(|unit| Some((unit.bot_id()?.to_owned(), unit)))
            .collect::<Units>()
    });
    for (wanted, reply) in callers {
        let part = result.as_ref().map_err(Clone::clone).map(|units| {
            wanted
                .iter()
                .filter_map(|id| units.get(id).map(|unit| (id.clone(), unit.clone())))
                .collect()
        });
        let _ = reply.send(part);
    }
}

/// The units of `bot_ids`: over D-Bus, or from `systemctl show` where the
/// bus cannot be reached or does not answer.
async fn read_units(
    bus: &UnitBus,
    instance: SystemdInstance,
    bot_ids: &[String],
) -> Result<Vec<UnitState>, SystemdError> {
    match bus.read_units(instance, bot_ids).await {
        Ok(units) => {
            bus.note_success();
            return Ok(units);
        }
        Err(error) => bus.note_failure(&error),
    }
    let text = run(instance, show_args(bot_ids), "systemctl show".to_owned()).await?;
    Ok(parse_show(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(stderr: &str) -> Result<String, SystemdError> {
        Err(SystemdError::Failed {
            command: "systemctl start ...".to_owned(),
            status: 5,
            stderr: stderr.to_owned(),
        })
    }

    #[test]
    fn a_failure_is_the_part_of_the_unit_it_names() {
        let result =
            failed("Failed to start intelmq-bot@b.service: Unit intelmq-bot@b.service not found.");
        let user = SystemdInstance::User;
        assert_eq!(part_of(&result, user, "start", "a", 2), Ok(()));
        let Err(SystemdError::Failed {
            command, stderr, ..
        }) = part_of(&result, user, "start", "b", 2)
        else {
            panic!("b's start failed");
        };
        assert_eq!(command, "systemctl --user start intelmq-bot@b.service");
        assert!(stderr.contains("not found"), "{stderr}");
    }

    #[test]
    fn a_failure_that_names_no_unit_is_everyones() {
        let result = failed("Failed to connect to bus: No such file or directory");
        assert!(part_of(&result, SystemdInstance::User, "stop", "a", 3).is_err());
        let alone = failed("Job failed. See \"journalctl -xe\" for details.");
        assert!(part_of(&alone, SystemdInstance::System, "start", "a", 1).is_err());
        assert_eq!(
            part_of(&Ok(String::new()), SystemdInstance::System, "start", "a", 3),
            Ok(())
        );
    }
}
