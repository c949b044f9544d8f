//! What a starting daemon finds of an earlier one: the effective state and the
//! pid files. Each recorded process is adopted only if its pid still names the
//! same process (its start time, or its command line when no start time was
//! recorded); a stale pid file is removed and never signalled.

use std::collections::{BTreeSet, HashMap};

use intelmqd_proto::RunState;

use crate::bot::BotSnapshot;
use crate::config::{BotConfig, Config};
use crate::effective::{self, EffectiveBot};
use crate::launch::{BOT_ID_VAR, OLD_BOT_ID_VAR};
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
    /// It ran under systemd: its unit is read, not adopted.
    pub systemd: bool,
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
    let untracked = untracked_bots(&paths.config_dir);
    let mut ids: BTreeSet<String> = saved.bots.keys().cloned().collect();
    ids.extend(pid_file_ids(paths));
    ids.extend(untracked.keys().cloned());
    ids.into_iter()
        .filter(|id| intelmqd_proto::validate_bot_id(id).is_ok())
        .filter_map(|bot_id| {
            recover_one(
                paths,
                config,
                &bot_id,
                saved.bots.get(&bot_id),
                untracked.get(&bot_id).copied(),
            )
        })
        .collect()
}

/// Bot processes of this configuration that no pid file names: started by a
/// daemon that died between spawning them and writing their pid file. Found by
/// the environment every bot gets (`INTELMQ_CONFIG_DIR` and
/// [`BOT_ID_VAR`], or [`OLD_BOT_ID_VAR`] from an older daemon), among session
/// leaders only, as every bot leads its own session.
fn untracked_bots(config_dir: &std::path::Path) -> HashMap<String, u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    let wanted = {
        let mut wanted = b"INTELMQ_CONFIG_DIR=".to_vec();
        wanted.extend_from_slice(config_dir.as_os_str().as_encoded_bytes());
        wanted
    };
    let mut found = HashMap::new();
    for pid in entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
    {
        if !leads_its_session(pid) {
            continue;
        }
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let mut variables = environ.split(|b| *b == 0);
        let mut ours = false;
        let mut bot_id = None;
        for variable in variables.by_ref() {
            if variable == wanted.as_slice() {
                ours = true;
            } else if let Some(id) = [BOT_ID_VAR, OLD_BOT_ID_VAR].iter().find_map(|name| {
                variable
                    .strip_prefix(name.as_bytes())
                    .and_then(|rest| rest.strip_prefix(b"="))
            }) {
                bot_id = std::str::from_utf8(id).ok().map(str::to_owned);
            }
        }
        if let (true, Some(bot_id)) = (ours, bot_id) {
            found.insert(bot_id, pid);
        }
    }
    found
}

fn leads_its_session(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some(after_name) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return false;
    };
    // Fields after the name: state, ppid, pgrp, session.
    after_name
        .split_whitespace()
        .nth(3)
        .and_then(|s| s.parse::<u32>().ok())
        == Some(pid)
}

fn recover_one(
    paths: &Paths,
    config: &Config,
    bot_id: &str,
    saved: Option<&EffectiveBot>,
    untracked: Option<u32>,
) -> Option<Recovered> {
    let effective = saved.map(|s| BotConfig::from_entry(bot_id, s.config.clone()));
    let module = effective
        .as_ref()
        .and_then(|c| c.module.clone())
        .or_else(|| config.bots.get(bot_id).and_then(|c| c.module.clone()));
    let recorded_pid = pidfile::read(&paths.state_dir, bot_id)
        .or(saved.and_then(|s| s.pid))
        .or(untracked);
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
    if let (None, Some(pid)) = (&process, untracked.filter(|pid| Some(*pid) != recorded_pid)) {
        if let Ok(Some(adopted)) =
            BotProcess::adopt(pid, None, module.as_deref().unwrap_or(""), bot_id)
        {
            tracing::warn!(bot_id, pid, "adopted a running bot that had no pid file");
            snapshot.state = RunState::Running;
            snapshot.pid = Some(adopted.pid());
            snapshot.start_time = Some(adopted.start_time());
            process = Some(adopted);
        }
    }
    if let Some(adopted) = &process {
        if pidfile::read(&paths.state_dir, bot_id) != Some(adopted.pid()) {
            if let Err(error) = pidfile::write(&paths.state_dir, bot_id, adopted.pid()) {
                tracing::error!(
                    bot_id,
                    "cannot write the pid file of an adopted bot: {error}"
                );
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
        systemd: saved.is_some_and(|s| s.systemd),
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
