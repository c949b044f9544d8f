//! What a starting daemon finds of an earlier one: the effective state and the
//! pid files. Each recorded process is adopted only if its pid still names the
//! same process (its start time, or its command line when no start time was
//! recorded); a stale pid file is removed and never signalled.

use std::collections::BTreeSet;

use intelmqd_proto::RunState;

use crate::bot::BotSnapshot;
use crate::config::{BotConfig, Config};
use crate::effective::{self, EffectiveBot};
use crate::process::BotProcess;
use crate::{pidfile, Paths};

/// One bot recovered at start-up.
pub struct Recovered {
    pub bot_id: String,
    pub process: Option<BotProcess>,
    pub snapshot: BotSnapshot,
    pub effective: Option<BotConfig>,
    pub pipeline: Option<serde_json::Value>,
    /// It was on its schedule: arm it again.
    pub scheduled: bool,
}

/// Reads the state an earlier daemon left and adopts its running bots.
pub fn recover(paths: &Paths, config: &Config) -> Vec<Recovered> {
    let saved = match effective::load(&paths.state_dir) {
        Ok(saved) => saved,
        Err(error) => {
            let aside = effective::path(&paths.state_dir).with_extension("json.unreadable");
            tracing::error!(
                "{error}; moved aside to {} and recovering from pid files alone",
                aside.display()
            );
            let _ = std::fs::rename(effective::path(&paths.state_dir), &aside);
            Default::default()
        }
    };
    let mut ids: BTreeSet<String> = saved.bots.keys().cloned().collect();
    ids.extend(pid_file_ids(paths));
    ids.into_iter()
        .filter(|id| intelmqd_proto::validate_bot_id(id).is_ok())
        .filter_map(|bot_id| recover_one(paths, config, &bot_id, saved.bots.get(&bot_id)))
        .collect()
}

fn recover_one(
    paths: &Paths,
    config: &Config,
    bot_id: &str,
    saved: Option<&EffectiveBot>,
) -> Option<Recovered> {
    let effective = saved.map(|s| BotConfig::from_entry(bot_id, s.config.clone()));
    let module = effective
        .as_ref()
        .and_then(|c| c.module.clone())
        .or_else(|| config.bots.get(bot_id).and_then(|c| c.module.clone()));
    let recorded_pid = pidfile::read(&paths.state_dir, bot_id).or(saved.and_then(|s| s.pid));
    let mut snapshot = BotSnapshot {
        last_exit: saved.and_then(|s| s.last_exit.clone()),
        since: saved.and_then(|s| s.since),
        ..BotSnapshot::stopped()
    };
    let mut process = None;
    if let Some(pid) = recorded_pid {
        // The start time only vouches for the pid it was recorded with.
        let start_time = saved
            .filter(|s| s.pid == Some(pid))
            .and_then(|s| s.start_time);
        match BotProcess::adopt(pid, start_time, module.as_deref().unwrap_or(""), bot_id) {
            Ok(Some(adopted)) => {
                tracing::info!(bot_id, pid, "adopted running bot");
                snapshot.state = RunState::Running;
                snapshot.pid = Some(adopted.pid());
                snapshot.start_time = Some(adopted.start_time());
                if saved.and_then(|s| s.pid) != Some(pid) {
                    snapshot.since = None;
                }
                process = Some(adopted);
            }
            Ok(None) => {
                tracing::warn!(
                    bot_id,
                    pid,
                    "pid {pid} recorded for {bot_id} is not that bot any more (it ended while no daemon watched, or the pid was reused); {bot_id} is stopped and the stale pid file removed"
                );
                let _ = pidfile::remove(&paths.state_dir, bot_id);
            }
            Err(error) => {
                tracing::error!(bot_id, pid, "cannot check pid {pid} of {bot_id}: {error}");
            }
        }
    }
    if process.is_none() && saved.is_none() {
        return None;
    }
    // A bot adopted from its pid file alone (the state write had not happened
    // yet) is taken to run with what runtime.conf says.
    let effective = effective.or_else(|| {
        process
            .as_ref()
            .and_then(|_| config.bots.get(bot_id).cloned())
    });
    Some(Recovered {
        bot_id: bot_id.to_owned(),
        process,
        snapshot,
        effective,
        pipeline: saved.and_then(|s| s.pipeline.clone()),
        scheduled: saved.is_some_and(|s| s.scheduled),
    })
}

fn pid_file_ids(paths: &Paths) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(&paths.state_dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            name.strip_suffix(".pid").map(str::to_owned)
        })
        .collect()
}
