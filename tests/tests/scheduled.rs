//! Scheduled bots (`run_mode: scheduled`): intelmqd keeps their schedule
//! itself (no crontab). `start` puts a bot on its schedule and the daemon runs
//! it once at every tick; `stop` takes it off; `reload` reschedules; `start
//! --now` and `scheduler-exec` run it once; the schedule survives a restart of
//! the daemon.
//!
//! The schedules tick every 1 to 4 seconds (6-field expressions with a seconds
//! field), and the test bot is given `run_for` (log `run finished`, exit 0),
//! `exit_after`/`exit_code` or `crash_after`. What ran, and when, is read back
//! from the bot's log: every run logs `started (pid N)` with a millisecond
//! timestamp of the bot's own clock. Nothing waits a fixed time: waits are for
//! a condition with a deadline, and where a test must show that something does
//! NOT happen it watches for a stretch of wall-clock time while polling
//! ([`hold_for`]).

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use intelmqd_tests::schedule_helpers::{
    hold_for, overlapping_runs, scheduled_testbot, start_gaps, started_count, Run,
};
use intelmqd_tests::{pid_alive, testbot, Daemon, TIMEOUT};
use nix::sys::signal::Signal;
use serde_json::{json, Value};

const EVERY_SECOND: &str = "*/1 * * * * *";
const EVERY_TWO_SECONDS: &str = "*/2 * * * * *";

/// Long enough for several ticks of a slow schedule (every 4 s) on a loaded
/// machine.
const LONG: Duration = Duration::from_secs(40);

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// `intelmqctl --json status <bot>` (the client's view), the one object.
fn ctl_status(daemon: &Daemon, bot_id: &str) -> Value {
    let out = daemon.ctl(&["--json", "status", bot_id]);
    out.expect_code(0);
    let array = out.json();
    assert_eq!(array[0]["bot_id"], bot_id, "{out:?}");
    array[0].clone()
}

fn distinct_pids(runs: &[Run]) -> BTreeSet<u32> {
    runs.iter().map(|run| run.pid).collect()
}

/// How late a run started after the whole multiple of `period_ms` (since the
/// epoch) it belongs to. Offsets of time zones are whole minutes, so a
/// `*/N` seconds tick with N dividing 60 falls on such a multiple.
fn lateness(run: &Run, period_ms: i64) -> i64 {
    run.started.rem_euclid(period_ms)
}

#[test]
fn start_puts_the_bot_on_its_schedule_and_it_runs_at_every_tick() {
    let daemon = Daemon::start(json!({
        "sched": scheduled_testbot(EVERY_TWO_SECONDS, json!({"run_for": 0.2})),
    }));

    let out = daemon.ctl(&["start", "sched"]);
    out.expect_code(0);
    assert!(
        out.stdout
            .contains("sched is scheduled and will run at this time: `*/2 * * * * *`"),
        "{out:?}"
    );
    let status = ctl_status(&daemon, "sched");
    assert_eq!(
        status["status"], "running",
        "a scheduled bot is running: {status}"
    );
    let next_run = status["schedule"]["next_run"]
        .as_u64()
        .unwrap_or_else(|| panic!("status has schedule.next_run: {status}"));
    let now = now_unix();
    assert!(
        next_run + 2 >= now && next_run <= now + 3,
        "next_run {next_run} is within a tick of now {now}: {status}"
    );

    let runs = daemon.wait_for_finished_runs("sched", 3, TIMEOUT);
    assert!(
        distinct_pids(&runs).len() == runs.len(),
        "every run is a new process: {runs:?}"
    );
    for run in &runs {
        assert!(
            lateness(run, 2000) < 1500,
            "the run started at an even second (the tick), less than 1.5 s late: {run:?}\n{}",
            daemon.log_of("sched")
        );
    }
    assert!(overlapping_runs(&runs).is_empty(), "{runs:?}");

    // Between two runs the status tells how the last one went.
    let mut schedule = Value::Null;
    daemon.wait_until(TIMEOUT, "status shows a finished last run", || {
        schedule = daemon.schedule_json("sched");
        schedule["last_run_duration_ms"].is_u64() && schedule["last_run_exit"].is_object()
    });
    assert!(schedule["last_run_started"].is_u64(), "{schedule}");
    assert_eq!(schedule["last_run_exit"]["code"], 0, "{schedule}");
    let duration = schedule["last_run_duration_ms"].as_u64().expect("checked");
    assert!(
        (150..10_000).contains(&duration),
        "a run of 0.2 s took {duration} ms: {schedule}"
    );
    assert!(schedule["next_run"].is_u64(), "{schedule}");
    assert_eq!(schedule["skipped_ticks"], 0, "{schedule}");

    let again = daemon.ctl(&["start", "sched"]);
    again.expect_code(0);
    assert!(
        again.stdout.contains("sched is already running"),
        "{again:?}"
    );
    assert!(
        !again.stdout.contains("is scheduled and will run"),
        "{again:?}"
    );
    let reply = daemon.ctl(&["--json", "start", "sched"]).json();
    let action = reply["result"]["bots"][0]["action"].as_str().unwrap_or("");
    assert!(
        action == "already-running" || action == "already-scheduled",
        "a second start changes nothing: {reply}"
    );
}

#[test]
fn a_run_longer_than_the_period_skips_ticks_and_runs_never_overlap() {
    let daemon = Daemon::start(json!({
        "slow": scheduled_testbot(EVERY_SECOND, json!({"run_for": 3.5})),
    }));
    daemon.ctl(&["start", "slow"]).expect_code(0);

    // Sample the process table on every poll, too.
    let mut most_processes = Vec::new();
    let mut schedule = Value::Null;
    daemon.wait_until(LONG, "two runs finished and ticks were skipped", || {
        let processes = daemon.bot_processes();
        if processes.len() > most_processes.len() {
            most_processes = processes;
        }
        schedule = daemon.schedule_json("slow");
        let finished = daemon
            .runs_of("slow")
            .iter()
            .filter(|run| run.finished.is_some())
            .count();
        finished >= 2 && schedule["skipped_ticks"].as_u64().unwrap_or(0) > 0
    });
    assert!(
        most_processes.len() <= 1,
        "two runs of the bot at once: {most_processes:?}"
    );
    let runs = daemon.runs_of("slow");
    assert!(
        overlapping_runs(&runs).is_empty(),
        "a run started before the previous one finished: {:?}\n{}",
        overlapping_runs(&runs),
        daemon.log_of("slow")
    );
    for gap in start_gaps(&runs) {
        assert!(
            gap >= 3500,
            "runs of 3.5 s start at least 3.5 s apart: {runs:?}"
        );
    }
    assert!(
        schedule["skipped_ticks"].as_u64().unwrap_or(0) >= 2,
        "a run of 3.5 s on a 1 s schedule skips at least 2 ticks: {schedule}"
    );
    let stderr = daemon.stderr();
    assert!(
        stderr.contains("was skipped") && stderr.contains("WARN"),
        "the daemon warns about a skipped tick:\n{stderr}"
    );
}

#[test]
fn stop_unschedules_the_bot_and_no_run_follows() {
    let daemon = Daemon::start(json!({
        "sched": scheduled_testbot(EVERY_SECOND, json!({"run_for": 0.2})),
    }));
    daemon.ctl(&["start", "sched"]).expect_code(0);
    daemon.wait_for_finished_runs("sched", 2, TIMEOUT);

    let out = daemon.ctl(&["stop", "sched"]);
    out.expect_code(0);
    assert!(out.stdout.contains("sched is unscheduled."), "{out:?}");
    // A run in progress at the stop is stopped with it; its line is already
    // in the log (the stop answers once the process is gone).
    let starts = started_count(&daemon.log_of("sched"));

    // Three tick periods and more: no new run.
    hold_for(Duration::from_millis(3500), || {
        let now = started_count(&daemon.log_of("sched"));
        if now == starts {
            Ok(())
        } else {
            Err(format!(
                "a run started after stop ({starts} -> {now} starts):\n{}",
                daemon.log_of("sched")
            ))
        }
    });
    assert!(daemon.bot_processes().is_empty(), "no bot process is left");

    let status = ctl_status(&daemon, "sched");
    assert!(
        status["schedule"]["next_run"].is_null(),
        "no next run after stop: {status}"
    );
    assert_eq!(
        status["status"], "stopped",
        "an unscheduled bot is stopped: {status}"
    );

    let again = daemon.ctl(&["stop", "sched"]);
    again.expect_code(0);
    assert!(
        again.stdout.contains("sched is already stopped."),
        "{again:?}"
    );
}

#[test]
fn a_scheduled_bot_stopped_between_runs_can_be_scheduled_again() {
    let daemon = Daemon::start(json!({
        "sched": scheduled_testbot(EVERY_SECOND, json!({"run_for": 0.1})),
    }));
    daemon.ctl(&["start", "sched"]).expect_code(0);
    daemon.wait_for_finished_runs("sched", 1, TIMEOUT);
    // Stop between two runs (no process): only the schedule is removed.
    daemon.wait_until(TIMEOUT, "the bot is between two runs", || {
        daemon.status_pid("sched").is_none()
    });
    let out = daemon.ctl(&["stop", "sched"]);
    out.expect_code(0);
    assert!(out.stdout.contains("sched is unscheduled."), "{out:?}");
    let starts = started_count(&daemon.log_of("sched"));

    let out = daemon.ctl(&["start", "sched"]);
    out.expect_code(0);
    assert!(
        out.stdout
            .contains("sched is scheduled and will run at this time: `*/1 * * * * *`"),
        "start after stop puts the bot on its schedule again: {out:?}\nstatus: {}",
        daemon.status_json("sched")
    );
    daemon.wait_for_starts("sched", starts + 2, TIMEOUT);
}

#[test]
fn stop_during_a_run_ends_the_run_and_unschedules() {
    let daemon = Daemon::start(json!({
        "long": scheduled_testbot(EVERY_SECOND, json!({"run_for": 30})),
    }));
    daemon.ctl(&["start", "long"]).expect_code(0);
    let mut pid = None;
    daemon.wait_until(TIMEOUT, "a run is in progress", || {
        pid = daemon.status_pid("long");
        pid.is_some()
    });
    let pid = pid.expect("waited for it");
    daemon.wait_for_log("long", &format!("started (pid {pid})"));

    let out = daemon.ctl(&["stop", "long"]);
    out.expect_code(0);
    assert!(out.stdout.contains("long is unscheduled."), "{out:?}");
    assert!(out.stdout.contains("long is stopped."), "{out:?}");
    assert!(!pid_alive(pid), "the run {pid} ended with the stop");
    assert!(daemon.log_of("long").contains("received SIGTERM, exiting"));
    let status = ctl_status(&daemon, "long");
    assert_eq!(status["status"], "stopped", "{status}");
    assert!(status["schedule"]["next_run"].is_null(), "{status}");
}

#[test]
fn start_now_runs_a_bot_that_is_not_scheduled_once() {
    let daemon = Daemon::start(json!({
        "oneshot": scheduled_testbot(EVERY_SECOND, json!({"run_for": 0.3})),
    }));

    let out = daemon.ctl(&["start", "--now", "oneshot"]);
    out.expect_code(0);
    assert!(
        !out.stdout.contains("is scheduled"),
        "--now does not schedule the bot: {out:?}"
    );
    let runs = daemon.wait_for_finished_runs("oneshot", 1, TIMEOUT);
    assert_eq!(runs.len(), 1, "{runs:?}");
    daemon.wait_until(TIMEOUT, "the run is recorded as ended", || {
        daemon.schedule_json("oneshot")["last_run_exit"]["code"] == 0
    });

    // Three tick periods of the bot's schedule: no run.
    hold_for(Duration::from_millis(3500), || {
        let starts = started_count(&daemon.log_of("oneshot"));
        let status = daemon.status_json("oneshot");
        if starts != 1 {
            Err(format!(
                "{starts} runs after start --now:\n{}",
                daemon.log_of("oneshot")
            ))
        } else if status["status"] != "stopped" || !status["schedule"]["next_run"].is_null() {
            Err(format!(
                "the bot is not stopped after its one run: {status}"
            ))
        } else {
            Ok(())
        }
    });
}

#[test]
fn start_now_wait_answers_when_the_run_ended_with_its_exit_code() {
    let daemon = Daemon::start(json!({
        "ok": scheduled_testbot(EVERY_SECOND, json!({"run_for": 0.5})),
        "failing": scheduled_testbot(EVERY_SECOND, json!({"exit_after": 0.3, "exit_code": 3})),
    }));

    let out = daemon.ctl(&["start", "--now", "--wait", "ok"]);
    out.expect_code(0);
    assert!(
        daemon.log_of("ok").contains("run finished"),
        "the answer came after the run ended: {out:?}\n{}",
        daemon.log_of("ok")
    );

    let out = daemon.ctl(&["start", "--now", "--wait", "failing"]);
    out.expect_code(3);
    assert!(out.stdout.contains("exited with code 3"), "{out:?}");
    assert!(daemon.log_of("failing").contains("exiting with code 3"));
    let status = daemon.status_json("failing");
    assert_eq!(status["status"], "stopped", "{status}");
    assert_eq!(status["schedule"]["last_run_exit"]["code"], 3, "{status}");

    let reply = daemon
        .ctl(&["--json", "start", "--now", "--wait", "failing"])
        .json();
    assert_eq!(reply["result"]["bots"][0]["exit"]["code"], 3, "{reply}");
    assert_eq!(
        started_count(&daemon.log_of("failing")),
        2,
        "one run for each start --now:\n{}",
        daemon.log_of("failing")
    );
}

#[test]
fn scheduler_exec_runs_once_and_exits_with_the_bots_status() {
    let daemon = Daemon::start(json!({
        "ok": scheduled_testbot(EVERY_SECOND, json!({"run_for": 0.2})),
        "failing": scheduled_testbot(EVERY_SECOND, json!({"exit_after": 0.2, "exit_code": 3})),
        "crashing": scheduled_testbot(EVERY_SECOND, json!({"crash_after": 0.2})),
    }));

    let out = daemon.ctl(&["scheduler-exec", "ok"]);
    out.expect_code(0);
    assert!(daemon.log_of("ok").contains("run finished"), "{out:?}");

    let out = daemon.ctl(&["scheduler-exec", "failing"]);
    out.expect_code(3);
    assert!(out.stdout.contains("exited with code 3"), "{out:?}");

    let out = daemon.ctl(&["scheduler-exec", "crashing"]);
    out.expect_code(128 + 6);
    assert!(out.stdout.contains("SIGABRT"), "{out:?}");
    assert!(daemon.log_of("crashing").contains("crashing with SIGABRT"));

    for bot in ["ok", "failing", "crashing"] {
        assert_eq!(
            started_count(&daemon.log_of(bot)),
            1,
            "scheduler-exec ran {bot} once:\n{}",
            daemon.log_of(bot)
        );
        let status = daemon.status_json(bot);
        assert_eq!(
            status["status"], "stopped",
            "scheduler-exec does not schedule {bot}: {status}"
        );
    }
    let crashed = daemon.schedule_json("crashing");
    assert_eq!(crashed["last_run_exit"]["signal"], 6, "{crashed}");
}

#[test]
fn reload_reschedules_with_the_new_schedule_time() {
    let daemon = Daemon::start(json!({
        "sched": scheduled_testbot(EVERY_SECOND, json!({"run_for": 0.1})),
    }));
    daemon.ctl(&["start", "sched"]).expect_code(0);
    let before = daemon.wait_for_starts("sched", 4, TIMEOUT);

    daemon.set_schedule_time("sched", "*/4 * * * * *");
    let out = daemon.ctl(&["reload", "sched"]);
    out.expect_code(0);
    assert!(
        out.stdout
            .contains("sched is rescheduled and will run at this time: `*/4 * * * * *`"),
        "{out:?}"
    );
    let reloaded_at = daemon.runs_of("sched").len();
    let next_run = daemon.schedule_json("sched")["next_run"]
        .as_u64()
        .expect("a next run after reload");
    assert_eq!(next_run % 4, 0, "the next run is on the new schedule");

    let runs = daemon.wait_for_starts("sched", reloaded_at + 3, LONG);
    let gaps_before = start_gaps(&before);
    let mean_before = gaps_before.iter().sum::<i64>() / gaps_before.len() as i64;
    assert!(
        mean_before < 2000,
        "every second before the reload: gaps {gaps_before:?}"
    );
    let after = &runs[reloaded_at..];
    let gaps_after = start_gaps(after);
    assert!(
        gaps_after.iter().all(|&gap| gap >= 3000),
        "every 4 s after the reload: gaps {gaps_after:?}\n{}",
        daemon.log_of("sched")
    );
    for run in after {
        assert!(
            lateness(run, 4000) < 1500,
            "a run after the reload started at a multiple of 4 s: {run:?}"
        );
    }
    assert!(
        !daemon.log_of("sched").contains("reloaded (count"),
        "no SIGHUP reaches a scheduled bot"
    );
}

#[test]
fn reload_during_a_run_lets_it_finish_and_applies_from_the_next_tick() {
    let daemon = Daemon::start(json!({
        "sched": scheduled_testbot(EVERY_SECOND, json!({"run_for": 2.5})),
    }));
    daemon.ctl(&["start", "sched"]).expect_code(0);
    let mut pid = None;
    daemon.wait_until(TIMEOUT, "a run is in progress", || {
        pid = daemon.status_pid("sched");
        pid.is_some()
    });
    let pid = pid.expect("waited for it");
    daemon.wait_for_log("sched", &format!("started (pid {pid})"));

    daemon.set_schedule_time("sched", "*/3 * * * * *");
    let out = daemon.ctl(&["reload", "sched"]);
    out.expect_code(0);
    assert!(
        out.stdout
            .contains("sched is rescheduled and will run at this time: `*/3 * * * * *`"),
        "{out:?}"
    );
    assert!(
        out.stdout.contains("finishes as it is")
            && out
                .stdout
                .contains("the new schedule applies from its next tick"),
        "the answer says the run goes on and when the new schedule applies: {out:?}"
    );
    assert!(pid_alive(pid), "the run {pid} goes on after the reload");

    let mut runs = Vec::new();
    daemon.wait_until(
        TIMEOUT,
        "the run in progress at the reload finished",
        || {
            runs = daemon.runs_of("sched");
            runs.iter()
                .any(|run| run.pid == pid && run.finished.is_some())
        },
    );
    let end = runs
        .iter()
        .find_map(|run| (run.pid == pid).then_some(run.finished).flatten())
        .expect("waited for it");
    let log = daemon.log_of("sched");
    assert!(
        !log.contains("received SIGTERM") && !log.contains("reloaded (count"),
        "the run was not signalled:\n{log}"
    );

    let runs = daemon.wait_for_starts("sched", runs.len() + 2, LONG);
    let later: Vec<&Run> = runs.iter().filter(|run| run.started > end).collect();
    assert!(!later.is_empty(), "{runs:?}");
    for run in later {
        assert!(
            lateness(run, 3000) < 1500,
            "a run after the reload started on the new schedule (a multiple of 3 s): {run:?}\n{log}"
        );
    }
    assert!(overlapping_runs(&runs).is_empty(), "{runs:?}");
}

#[test]
fn a_daemon_stopped_with_sigterm_keeps_the_schedule() {
    let mut daemon = Daemon::start(json!({
        "sched": scheduled_testbot(EVERY_SECOND, json!({"run_for": 0.2})),
    }));
    daemon.ctl(&["start", "sched"]).expect_code(0);
    daemon.wait_for_finished_runs("sched", 2, TIMEOUT);

    let exit = daemon.signal_and_wait(Signal::SIGTERM);
    assert_eq!(exit.code(), Some(0), "{exit}");
    // Whatever ran at the SIGTERM has ended or goes on; count from here.
    let before = daemon.runs_of("sched").len();
    daemon.restart();

    let status = ctl_status(&daemon, "sched");
    assert_eq!(
        status["status"], "running",
        "the new daemon has the bot on its schedule: {status}"
    );
    assert!(status["schedule"]["next_run"].is_u64(), "{status}");
    let runs = daemon.wait_for_starts("sched", before + 3, TIMEOUT);
    assert_eq!(
        distinct_pids(&runs).len(),
        runs.len(),
        "every run is a new process: {runs:?}"
    );
}

#[test]
fn a_daemon_killed_during_a_run_keeps_the_schedule_and_adopts_the_run() {
    let mut daemon = Daemon::start(json!({
        "sched": scheduled_testbot(EVERY_TWO_SECONDS, json!({"run_for": 1.2})),
    }));
    daemon.ctl(&["start", "sched"]).expect_code(0);
    let mut pid = None;
    daemon.wait_until(TIMEOUT, "a run is in progress", || {
        pid = daemon.status_pid("sched");
        pid.is_some()
    });
    let pid = pid.expect("waited for it");

    daemon.kill9();
    assert!(pid_alive(pid), "the run {pid} survives its daemon's death");
    daemon.restart();

    let status = ctl_status(&daemon, "sched");
    assert_eq!(
        status["status"], "running",
        "the new daemon has the bot on its schedule: {status}"
    );
    let runs = daemon.wait_for_finished_runs("sched", 3, LONG);
    assert!(
        runs.iter()
            .any(|run| run.pid == pid && run.finished.is_some()),
        "the adopted run finished: {runs:?}"
    );
    let after: Vec<&Run> = runs
        .iter()
        .skip_while(|run| run.pid != pid)
        .skip(1)
        .collect();
    assert!(
        after.len() >= 2,
        "the new daemon ran the bot at its ticks: {runs:?}"
    );
    assert!(
        overlapping_runs(&runs).is_empty(),
        "no tick ran while the adopted run went on: {runs:?}"
    );
    daemon.wait_until(TIMEOUT, "the status shows the last run", || {
        daemon.schedule_json("sched")["last_run_exit"]["code"] == 0
    });
}

#[test]
fn an_invalid_schedule_time_is_refused_naming_the_minute_field() {
    let daemon = Daemon::start(json!({
        "bad": scheduled_testbot("61 * * * *", json!({"run_for": 0.1})),
    }));

    let out = daemon.ctl(&["start", "bad"]);
    out.expect_code(1);
    let text = out.all_output();
    assert!(
        text.contains("minute field") && text.contains("61"),
        "the refusal names the minute field: {out:?}"
    );
    let status = daemon.status_json("bad");
    assert_eq!(status["status"], "stopped", "{status}");
    assert_eq!(status["configtest"], "invalid", "{status}");
    assert!(status["schedule"].is_null() || status["schedule"]["next_run"].is_null());

    let out = daemon.ctl(&["configtest", "bad"]);
    out.expect_code(1);
    assert!(
        out.all_output().contains("minute field"),
        "configtest names the minute field: {out:?}"
    );
    let out = daemon.ctl(&["start", "--now", "--wait", "bad"]);
    out.expect_code(1);
    assert!(out.all_output().contains("minute field"), "{out:?}");
    assert_eq!(started_count(&daemon.log_of("bad")), 0, "the bot never ran");
}

#[test]
fn scheduled_bots_selection_acts_only_on_scheduled_bots() {
    let daemon = Daemon::start(json!({
        "s1": scheduled_testbot(EVERY_SECOND, json!({"run_for": 0.1})),
        "s2": scheduled_testbot(EVERY_TWO_SECONDS, json!({"run_for": 0.1})),
        "stream": testbot(json!({})),
    }));

    let out = daemon.ctl(&["--json", "start", "--scheduled-bots"]);
    out.expect_code(0);
    let reply = out.json();
    let rows = reply["result"]["bots"].as_array().expect("rows").clone();
    let ids: BTreeSet<&str> = rows
        .iter()
        .filter_map(|row| row["bot_id"].as_str())
        .collect();
    assert_eq!(ids, BTreeSet::from(["s1", "s2"]), "{reply}");
    assert!(
        rows.iter().all(|row| row["action"] == "scheduled"),
        "{reply}"
    );
    let stream = daemon.status_json("stream");
    assert_eq!(
        stream["status"], "stopped",
        "the stream bot was left alone: {stream}"
    );
    daemon.wait_for_starts("s1", 1, TIMEOUT);
    daemon.wait_for_starts("s2", 1, TIMEOUT);
    assert!(
        daemon.log_of("stream").is_empty(),
        "the stream bot never ran"
    );

    let stream_pid = daemon.start_bot("stream");
    let out = daemon.ctl(&["--json", "stop", "--scheduled-bots"]);
    out.expect_code(0);
    let reply = out.json();
    let rows = reply["result"]["bots"].as_array().expect("rows").clone();
    let ids: BTreeSet<&str> = rows
        .iter()
        .filter_map(|row| row["bot_id"].as_str())
        .collect();
    assert_eq!(ids, BTreeSet::from(["s1", "s2"]), "{reply}");
    assert!(
        rows.iter()
            .all(|row| row["action"] == "unscheduled" || row["action"] == "stopped"),
        "{reply}"
    );
    assert_eq!(
        daemon.status_pid("stream"),
        Some(stream_pid),
        "the stream bot keeps running"
    );

    let starts = (
        started_count(&daemon.log_of("s1")),
        started_count(&daemon.log_of("s2")),
    );
    hold_for(Duration::from_millis(4500), || {
        let now = (
            started_count(&daemon.log_of("s1")),
            started_count(&daemon.log_of("s2")),
        );
        if now == starts {
            Ok(())
        } else {
            Err(format!(
                "a scheduled bot ran after stop: {starts:?} -> {now:?}"
            ))
        }
    });
    for bot in ["s1", "s2"] {
        let schedule = daemon.schedule_json(bot);
        assert!(schedule["next_run"].is_null(), "{bot}: {schedule}");
    }
    assert!(pid_alive(stream_pid));
}
