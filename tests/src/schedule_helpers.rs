//! Helpers for the tests of scheduled bots (`tests/scheduled.rs`): runtime.conf
//! entries with `run_mode: scheduled`, reading the runs back from a test bot's
//! log, and watching a bot for a stretch of wall-clock time without a fixed
//! sleep.
//!
//! The test bot writes `YYYY-MM-DD HH:MM:SS,mmm - <bot_id> - INFO - <message>`
//! in UTC, with its own clock, after exec: a `started (pid N)` line is a little
//! later than the tick that launched it (the time to fork, exec and read
//! runtime.conf).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{Daemon, TESTBOT};

/// A runtime.conf entry for the test bot with `run_mode: scheduled`, on the
/// botnet, not on boot.
pub fn scheduled_testbot(schedule_time: &str, parameters: Value) -> Value {
    json!({
        "module": TESTBOT,
        "run_mode": "scheduled",
        "schedule_time": schedule_time,
        "botnet": true,
        "onboot": false,
        "parameters": parameters,
    })
}

/// One line of a test bot's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Milliseconds since the Unix epoch (the bot's clock, UTC).
    pub millis: i64,
    pub message: String,
}

/// The lines of a test bot's log that parse; others (e.g. a half-written last
/// line) are left out.
pub fn parse_log(log: &str) -> Vec<LogLine> {
    log.lines().filter_map(parse_line).collect()
}

/// `2024-01-01 00:00:00,000 - bot - INFO - message`.
pub fn parse_line(line: &str) -> Option<LogLine> {
    let (stamp, rest) = line.split_once(" - ")?;
    let (_bot, rest) = rest.split_once(" - ")?;
    let (_level, message) = rest.split_once(" - ")?;
    Some(LogLine {
        millis: parse_timestamp(stamp)?,
        message: message.to_string(),
    })
}

/// `YYYY-MM-DD HH:MM:SS,mmm` (UTC) as milliseconds since the Unix epoch.
pub fn parse_timestamp(stamp: &str) -> Option<i64> {
    let (date, time) = stamp.split_once(' ')?;
    let mut date_parts = date.splitn(3, '-');
    let year: i64 = date_parts.next()?.parse().ok()?;
    let month: u32 = date_parts.next()?.parse().ok()?;
    let day: u32 = date_parts.next()?.parse().ok()?;
    let (hms, millis) = time.split_once(',')?;
    let mut hms_parts = hms.splitn(3, ':');
    let hour: i64 = hms_parts.next()?.parse().ok()?;
    let minute: i64 = hms_parts.next()?.parse().ok()?;
    let second: i64 = hms_parts.next()?.parse().ok()?;
    let millis: i64 = millis.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || millis > 999 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some((((days * 24 + hour) * 60 + minute) * 60 + second) * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// One run of a scheduled bot as its log tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub pid: u32,
    /// When the bot logged `started (pid N)`.
    pub started: i64,
    /// When it logged `run finished` (or `exiting with code N`), if it has.
    pub finished: Option<i64>,
}

/// The runs in a test bot's log, in order: each `started (pid N)` line opens
/// one, the next `run finished` / `exiting with code` line closes it.
pub fn runs(log: &str) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for line in parse_log(log) {
        if let Some(pid) = line
            .message
            .strip_prefix("started (pid ")
            .and_then(|rest| rest.strip_suffix(')'))
            .and_then(|pid| pid.parse().ok())
        {
            runs.push(Run {
                pid,
                started: line.millis,
                finished: None,
            });
        } else if line.message == "run finished" || line.message.starts_with("exiting with code") {
            if let Some(run) = runs.last_mut().filter(|run| run.finished.is_none()) {
                run.finished = Some(line.millis);
            }
        }
    }
    runs
}

/// How many `started (pid N)` lines the log has.
pub fn started_count(log: &str) -> usize {
    parse_log(log)
        .iter()
        .filter(|line| line.message.starts_with("started (pid "))
        .count()
}

/// The pairs of runs where the later one started before the earlier one
/// finished (or while it had not finished yet): runs that overlapped.
pub fn overlapping_runs(runs: &[Run]) -> Vec<(Run, Run)> {
    runs.windows(2)
        .filter(|pair| !matches!(pair[0].finished, Some(end) if pair[1].started >= end))
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect()
}

/// The gaps in milliseconds between successive starts.
pub fn start_gaps(runs: &[Run]) -> Vec<i64> {
    runs.windows(2)
        .map(|pair| pair[1].started - pair[0].started)
        .collect()
}

/// Watches for `period` of wall-clock time, calling `check` on every poll (at
/// least once at the end); panics with `check`'s complaint as soon as it has
/// one. This replaces a fixed sleep where a test must show that something does
/// NOT happen for a while (no new run after stop).
#[track_caller]
pub fn hold_for(period: Duration, mut check: impl FnMut() -> Result<(), String>) {
    let start = Instant::now();
    loop {
        if let Err(complaint) = check() {
            panic!(
                "after {:?} of the {period:?} watch: {complaint}",
                start.elapsed()
            );
        }
        if start.elapsed() >= period {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Daemon {
    /// The `schedule` object of a bot's status (`null` when there is none).
    pub fn schedule_json(&self, bot_id: &str) -> Value {
        self.status_json(bot_id)["schedule"].clone()
    }

    /// The runs in the bot's log so far.
    pub fn runs_of(&self, bot_id: &str) -> Vec<Run> {
        runs(&self.log_of(bot_id))
    }

    /// Waits (up to `deadline`) until the bot's log shows `n` runs that have
    /// finished; returns all runs.
    #[track_caller]
    pub fn wait_for_finished_runs(&self, bot_id: &str, n: usize, deadline: Duration) -> Vec<Run> {
        let mut found = Vec::new();
        self.wait_until(
            deadline,
            &format!("the log of {bot_id} shows {n} finished runs"),
            || {
                found = self.runs_of(bot_id);
                found.iter().filter(|run| run.finished.is_some()).count() >= n
            },
        );
        found
    }

    /// Waits (up to `deadline`) until the bot's log has `n` `started` lines;
    /// returns all runs.
    #[track_caller]
    pub fn wait_for_starts(&self, bot_id: &str, n: usize, deadline: Duration) -> Vec<Run> {
        let mut found = Vec::new();
        self.wait_until(
            deadline,
            &format!("the log of {bot_id} shows {n} starts"),
            || {
                found = self.runs_of(bot_id);
                found.len() >= n
            },
        );
        found
    }

    /// Changes the `schedule_time` of a bot in runtime.conf.
    pub fn set_schedule_time(&self, bot_id: &str, schedule_time: &str) {
        let mut runtime = self.read_runtime_conf();
        runtime[bot_id]["schedule_time"] = json!(schedule_time);
        self.write_runtime_conf(&runtime);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_timestamps() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:00,000"), Some(0));
        // `date -u -d @1709210096` = 2024-02-29 12:34:56.
        assert_eq!(
            parse_timestamp("2024-02-29 12:34:56,789"),
            Some(1_709_210_096_789)
        );
        assert_eq!(
            parse_timestamp("2100-03-01 00:00:00,000"),
            Some(4_107_542_400_000)
        );
        assert_eq!(parse_timestamp("2024-13-01 00:00:00,000"), None);
        assert_eq!(parse_timestamp("garbage"), None);
    }

    #[test]
    fn reads_runs_from_a_log() {
        let log = "2024-01-01 00:00:01,003 - b - INFO - started (pid 10)\n\
                   2024-01-01 00:00:01,203 - b - INFO - run finished\n\
                   2024-01-01 00:00:02,004 - b - INFO - started (pid 11)\n\
                   2024-01-01 00:00:02,104 - b - INFO - exiting with code 3\n\
                   2024-01-01 00:00:03,002 - b - INFO - started (pid 12)\n\
                   2024-01-01 00:00:03,5";
        let found = runs(log);
        assert_eq!(found.len(), 3);
        assert_eq!(found[0].pid, 10);
        assert_eq!(found[0].finished.map(|f| f - found[0].started), Some(200));
        assert_eq!(found[1].finished.map(|f| f - found[1].started), Some(100));
        assert_eq!(found[2].finished, None);
        assert_eq!(start_gaps(&found), vec![1001, 998]);
        assert!(overlapping_runs(&found).is_empty());
        assert_eq!(started_count(log), 3);

        let overlapping = "2024-01-01 00:00:01,000 - b - INFO - started (pid 10)\n\
                           2024-01-01 00:00:02,000 - b - INFO - started (pid 11)\n\
                           2024-01-01 00:00:02,500 - b - INFO - run finished\n";
        assert_eq!(overlapping_runs(&runs(overlapping)).len(), 1);
    }
}
