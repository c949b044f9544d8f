//! Helpers for the botnet, on-boot and membership tests: scheduled and
//! non-botnet test bot entries, running `intelmqctl` with a deadline of one's
//! own and timing it, reading action rows, tables and the daemon's state files.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{bin, run_with_deadline, testbot, CtlOutput, Daemon};

/// A schedule that ticks every second (cron with a seconds field).
pub const EVERY_SECOND: &str = "*/1 * * * * *";

/// A runtime.conf entry for a scheduled test bot: `run_mode: scheduled`, this
/// `schedule_time`, in the botnet, and parameters that make each run short
/// (`run_for` 0.2 s).
pub fn scheduled_testbot(schedule_time: &str) -> Value {
    let mut entry = testbot(json!({"run_for": 0.2}));
    entry["run_mode"] = json!("scheduled");
    entry["schedule_time"] = json!(schedule_time);
    entry
}

/// The same entry with `botnet: false`.
pub fn outside_botnet(mut entry: Value) -> Value {
    entry["botnet"] = json!(false);
    entry
}

/// A botnet stream entry whose module is not an executable on the daemon's PATH.
pub fn missing_module_bot(module: &str) -> Value {
    let mut entry = testbot(json!({}));
    entry["module"] = json!(module);
    entry
}

/// Runs `intelmqctl --socket <daemon's socket> <args>` with `deadline` (instead
/// of the harness's [`crate::TIMEOUT`]) and returns what it did and how long it
/// took.
pub fn ctl_timed(daemon: &Daemon, args: &[&str], deadline: Duration) -> (CtlOutput, Duration) {
    let mut command = Command::new(bin("intelmqctl"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("INTELMQ_") {
            command.env_remove(key);
        }
    }
    command.arg("--socket").arg(&daemon.socket).args(args);
    let start = Instant::now();
    let out = run_with_deadline(&mut command, deadline);
    (out, start.elapsed())
}

/// The action rows (`result.bots`) of a `--json` action answer, by bot id.
#[track_caller]
pub fn rows_by_id(reply: &Value) -> BTreeMap<String, Value> {
    let rows = reply["result"]["bots"]
        .as_array()
        .unwrap_or_else(|| panic!("no result.bots in {reply}"));
    let mut by_id = BTreeMap::new();
    for row in rows {
        let id = row["bot_id"]
            .as_str()
            .unwrap_or_else(|| panic!("a row without bot_id: {row}"))
            .to_owned();
        assert!(
            by_id.insert(id.clone(), row.clone()).is_none(),
            "two rows for {id}: {reply}"
        );
    }
    by_id
}

/// The daemon's status objects of the bots `intelmqctl --json status <extra>`
/// shows, by bot id.
#[track_caller]
pub fn status_by_id(daemon: &Daemon, extra: &[&str]) -> BTreeMap<String, Value> {
    let mut args = vec!["--json", "status"];
    args.extend_from_slice(extra);
    let out = daemon.ctl(&args);
    out.expect_code(0);
    let bots = out.json();
    let bots = bots
        .as_array()
        .unwrap_or_else(|| panic!("status --json is not an array: {out:?}"));
    bots.iter()
        .map(|bot| {
            (
                bot["bot_id"].as_str().expect("a bot_id").to_owned(),
                bot.clone(),
            )
        })
        .collect()
}

/// The rows of the ASCII markdown tables in `text` (lines starting with `|`,
/// without the `|---|` separators), each as its trimmed cells; the header row
/// is included.
pub fn table_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(str::trim)
        .filter(|line| line.starts_with('|'))
        .filter(|line| !line.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ')))
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_owned())
                .collect()
        })
        .collect()
}

/// The runtime file (runtime.conf or runtime.yaml) as text.
pub fn runtime_text(daemon: &Daemon) -> String {
    daemon.read_runtime_conf_text()
}

/// The runtime file's backup (`runtime.conf.bak` or `runtime.yaml.bak`) as
/// text, `None` when there is none.
pub fn runtime_backup_text(daemon: &Daemon) -> Option<String> {
    std::fs::read_to_string(
        daemon
            .config_dir
            .join(format!("{}.bak", daemon.runtime_file())),
    )
    .ok()
}

/// The daemon's effective state, `<state_dir>/runtime.effective.json`.
#[track_caller]
pub fn effective_state(daemon: &Daemon) -> Value {
    let path = daemon.state_dir.join("runtime.effective.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not JSON: {error}\n{text}", path.display()))
}
