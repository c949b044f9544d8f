//! The harness for intelmqd's integration tests, after pueue's test fixtures.
//!
//! Every test starts its own [`Daemon`]: a temporary directory under `/tmp`
//! with `config/`, `state/`, `log/` and a socket, the real `intelmqd` binary
//! running on it, and `intelmqctl` pointed at it. Bots are the fake bot
//! `intelmq-testbot` (see `src/bin/intelmq-testbot.rs`), configured through
//! their `parameters` ([`testbot`]).
//!
//! Waiting is always for a condition with a deadline ([`Daemon::wait_until`]),
//! never for a fixed time, so the tests hold on a loaded machine. Dropping the
//! fixture kills the daemon and every process it started, including bots that
//! outlived it.
//!
//! Tests of the systemd units run a real, isolated `systemd --user` manager
//! of their own ([`systemd::UserManager`]).
//!
//! The binaries come from the cargo target directory of the test executable:
//! run `cargo build --workspace` before `cargo test -p intelmqd-tests`.

pub mod botnet_helpers;
pub mod config_format;
mod ctl;
mod daemon;
pub mod fault_helpers;
pub mod intelmq_api_helpers;
pub mod intelmq_helpers;
pub mod observe_helpers;
pub mod procfs;
pub mod pty;
pub mod schedule_helpers;
pub mod systemd;
pub mod systemd_daemon;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use config_format::ConfigFormat;
pub use ctl::{run_with_deadline, CtlOutput};
pub use daemon::{Connection, Daemon, DaemonBuilder};
pub use procfs::{pid_alive, zombie_children};

/// How long any one condition may take to come true. Generous, so that a loaded
/// two-core machine does not fail the tests; a passing test never waits it out.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// How often a condition is checked while waiting.
const POLL: Duration = Duration::from_millis(20);

/// The module name the test bot is configured with.
pub const TESTBOT: &str = "intelmq-testbot";

/// A runtime.conf entry for the test bot with these parameters.
pub fn testbot(parameters: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "module": TESTBOT,
        "run_mode": "stream",
        "botnet": true,
        "onboot": false,
        "parameters": parameters,
    })
}

/// runtime.conf with one test bot (`botnet: true`) a bot id; each bot's
/// parameters name it (`{"note": "<bot_id>"}`), so that entries differ.
pub fn botnet_of(bot_ids: &[&str]) -> serde_json::Value {
    let bots: serde_json::Map<String, serde_json::Value> = bot_ids
        .iter()
        .map(|id| (id.to_string(), testbot(serde_json::json!({"note": id}))))
        .collect();
    serde_json::Value::Object(bots)
}

/// defaults.conf with a stop timeout of one second, for tests that stop bots.
pub fn fast_stop_defaults() -> serde_json::Value {
    serde_json::json!({"process_manager": "pid", "stop_timeout": 1})
}

/// The directory holding the workspace's binaries (`target/debug`), found from
/// this test executable (`target/debug/deps/<test>-<hash>`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the test executable");
    let dir = exe.parent().expect("the test executable is in a directory");
    if dir.file_name().is_some_and(|name| name == "deps") {
        dir.parent().expect("deps/ has a parent").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// The path of one of the workspace's binaries; panics with what to do when it
/// has not been built.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} does not exist: run `cargo build --workspace` first",
        path.display()
    );
    path
}

/// Polls `condition` until it is true; panics naming `what` after `deadline`.
/// [`Daemon::wait_until`] adds the daemon's stderr to the panic message.
pub fn wait_for(deadline: Duration, what: &str, condition: impl FnMut() -> bool) {
    if let Err(waited) = poll_until(deadline, condition) {
        panic!("timed out after {waited:?} waiting until {what}");
    }
}

/// Polls `condition` until it is true (`Ok`) or `deadline` has passed
/// (`Err(time waited)`).
pub fn poll_until(deadline: Duration, mut condition: impl FnMut() -> bool) -> Result<(), Duration> {
    let start = Instant::now();
    loop {
        if condition() {
            return Ok(());
        }
        if start.elapsed() >= deadline {
            return Err(start.elapsed());
        }
        std::thread::sleep(POLL);
    }
}

/// The last `n` lines of a text file, empty when it cannot be read.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The pid a bot's log line `started (pid N)` (or `child started (pid N)`)
/// names, from the last such line of `log`.
pub fn logged_pid(log: &str, what: &str) -> Option<u32> {
    let marker = format!("- {what} (pid ");
    log.lines().rev().find_map(|line| {
        let rest = &line[line.find(&marker)? + marker.len()..];
        rest.strip_suffix(')')?.parse().ok()
    })
}

/// The cells of the row of `bot_id` in a table as intelmqctl prints it
/// (`| a | b |`), trimmed; `None` when no row starts with that bot id.
pub fn table_row(text: &str, bot_id: &str) -> Option<Vec<String>> {
    text.lines().find_map(|line| {
        let cells: Vec<String> = line
            .trim()
            .strip_prefix('|')?
            .strip_suffix('|')?
            .split('|')
            .map(|cell| cell.trim().to_string())
            .collect();
        (cells.first().map(String::as_str) == Some(bot_id)).then_some(cells)
    })
}

/// The headers of a table as intelmqctl prints it: the first `| ... |` line.
pub fn table_headers(text: &str) -> Vec<String> {
    text.lines()
        .find_map(|line| {
            let inner = line.trim().strip_prefix('|')?.strip_suffix('|')?;
            Some(
                inner
                    .split('|')
                    .map(|cell| cell.trim().to_string())
                    .collect(),
            )
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_logged_pids() {
        let log = "2024-01-01 00:00:00,000 - b - INFO - started (pid 12)\n\
                   2024-01-01 00:00:00,001 - b - INFO - child started (pid 13)\n\
                   2024-01-01 00:00:01,000 - b - INFO - started (pid 14)\n";
        assert_eq!(logged_pid(log, "started"), Some(14));
        assert_eq!(logged_pid(log, "child started"), Some(13));
        assert_eq!(logged_pid("", "started"), None);
    }
}
