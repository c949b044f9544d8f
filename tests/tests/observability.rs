//! `intelmqctl log`, `events` and `metrics` against the real daemon, `--json`
//! on every command, colour on a terminal (and `NO_COLOR`), and a refused
//! client seeing the daemon's answer.
//!
//! Run `cargo build --workspace` first: the tests use target/debug binaries.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

use intelmqd_tests::botnet_helpers::EVERY_SECOND;
use intelmqd_tests::observe_helpers::{json_lines, kinds_of, parse_prometheus, ticks, Running};
use intelmqd_tests::pty::PtyRun;
use intelmqd_tests::{bin, poll_until, run_with_deadline, testbot, Daemon, TIMEOUT};
use serde_json::{json, Value};

/// An IntelMQ log line of bot `b`.
fn line(second: u32, level: &str, message: &str) -> String {
    format!("2026-01-01 00:00:{second:02},000 - b - {level} - {message}")
}

fn append(path: &Path, lines: &[String]) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open the log for appending");
    for line in lines {
        writeln!(file, "{line}").expect("append to the log");
    }
}

/// A scheduled test bot that ticks every second and runs for 0.1 s.
fn every_second() -> Value {
    let mut entry = testbot(json!({"run_for": 0.1}));
    entry["run_mode"] = json!("scheduled");
    entry["schedule_time"] = json!(EVERY_SECOND);
    entry
}

/// `YYYY-MM-DD HH:MM:SS ` at the start of `line`.
fn starts_with_local_time(line: &str) -> bool {
    let bytes = line.as_bytes();
    bytes.len() > 20
        && bytes[..19].iter().enumerate().all(|(at, byte)| match at {
            4 | 7 => *byte == b'-',
            10 => *byte == b' ',
            13 | 16 => *byte == b':',
            _ => byte.is_ascii_digit(),
        })
        && bytes[19] == b' '
}

#[test]
fn log_shows_the_last_n_lines() {
    let daemon = Daemon::start(json!({
        "ticker": testbot(json!({"log_every": 0.01, "ticks": 15})),
    }));
    daemon.start_bot("ticker");
    daemon.wait_for_log("ticker", " - tick 15");

    let three = daemon.ctl(&["log", "ticker", "-n", "3"]);
    three.expect_code(0);
    assert_eq!(ticks(&three.stdout), [13, 14, 15], "{three:?}");
    assert_eq!(three.stdout.lines().count(), 3, "{three:?}");

    let default = daemon.ctl(&["log", "ticker"]);
    default.expect_code(0);
    assert_eq!(default.stdout.lines().count(), 10, "{default:?}");
    assert_eq!(ticks(&default.stdout), (6..=15).collect::<Vec<_>>());

    // IntelMQ's positional form: log <bot_id> <N>.
    let positional = daemon.ctl(&["log", "ticker", "2"]);
    positional.expect_code(0);
    assert_eq!(ticks(&positional.stdout), [14, 15], "{positional:?}");

    let json = daemon.ctl(&["--json", "log", "ticker", "-n", "2"]);
    json.expect_code(0);
    let value = json.json();
    assert_eq!(value["ok"], true, "{json:?}");
    assert_eq!(value["result"]["kind"], "log");
    assert_eq!(
        value["result"]["path"],
        daemon.log_dir.join("ticker.log").to_string_lossy().as_ref()
    );
    assert_eq!(value["result"]["lines"].as_array().map(Vec::len), Some(2));

    let unknown = daemon.ctl(&["log", "nobody"]);
    unknown.expect_code(1);
    assert!(unknown.stderr.contains("no bot \"nobody\""), "{unknown:?}");

    // status -n 0: the table, and no log section at all.
    let status = daemon.ctl(&["status", "ticker", "-n", "0"]);
    status.expect_code(0);
    assert!(!status.stdout.contains("log"), "{status:?}");
    assert!(!status.stdout.contains(" - tick "), "{status:?}");
    assert!(!status.stdout.ends_with("\n\n"), "{status:?}");
}

#[test]
fn log_level_keeps_that_level_and_above_with_continuation_lines() {
    let daemon = Daemon::start(json!({"b": testbot(json!({}))}));
    let path = daemon.log_dir.join("b.log");
    let lines = [
        line(1, "INFO", "one"),
        line(2, "WARNING", "two"),
        line(3, "ERROR", "three"),
        "Traceback (most recent call last):".to_owned(),
        "  File \"bot.py\", line 1".to_owned(),
        line(4, "DEBUG", "four"),
        line(5, "CRITICAL", "five"),
        line(6, "INFO", "six"),
    ];
    append(&path, &lines);
    let shown = |args: &[&str]| {
        let out = daemon.ctl(args);
        out.expect_code(0);
        out.stdout.lines().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(
        shown(&["log", "b", "--level", "WARNING"]),
        [
            lines[1].as_str(),
            lines[2].as_str(),
            lines[3].as_str(),
            lines[4].as_str(),
            lines[6].as_str()
        ]
    );
    assert_eq!(
        shown(&["log", "b", "10", "ERROR"]),
        [
            lines[2].as_str(),
            lines[3].as_str(),
            lines[4].as_str(),
            lines[6].as_str()
        ]
    );
    assert_eq!(
        shown(&["log", "b", "-n", "2", "--level", "warning"]),
        [lines[4].as_str(), lines[6].as_str()]
    );
    assert_eq!(
        shown(&["log", "b", "--level", "ALL", "-n", "3"]),
        &lines[5..]
    );

    for bad in [
        &["log", "b", "--level", "LOUD"][..],
        &["log", "b", "3", "LOUD"],
    ] {
        let out = daemon.ctl(bad);
        out.expect_code(2);
        assert!(out.stderr.contains("unknown log level"), "{out:?}");
    }

    // Following applies the same filter to the new lines.
    let follow = Running::ctl(
        &daemon,
        &["log", "b", "-n", "1", "--level", "WARNING", "-f"],
    );
    follow.wait_for_stdout("the last warning line", |out| out.contains("five"));
    let more = [
        line(7, "INFO", "seven"),
        line(8, "ERROR", "eight"),
        "  continuation of eight".to_owned(),
        line(9, "DEBUG", "nine"),
        "  continuation of nine".to_owned(),
        line(10, "WARNING", "ten"),
    ];
    append(&path, &more);
    follow.wait_for_stdout("the new warning", |out| out.contains("ten"));
    let followed: Vec<String> = follow.stdout().lines().map(str::to_owned).collect();
    assert_eq!(
        followed,
        [
            lines[6].as_str(),
            more[1].as_str(),
            more[2].as_str(),
            more[5].as_str()
        ]
    );
    follow.interrupt();
}

#[test]
fn log_follow_goes_on_across_a_rotation() {
    let daemon = Daemon::start(json!({
        "ticker": testbot(json!({"log_every": 0.05})),
    }));
    daemon.start_bot("ticker");
    daemon.wait_for_log("ticker", " - tick 3");

    let follow = Running::ctl(&daemon, &["log", "ticker", "-n", "2", "--follow"]);
    follow.wait_for_stdout("a dozen ticks", |out| ticks(out).len() >= 12);
    let seen = ticks(&follow.stdout());
    assert!(
        seen.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "the daemon's tail and the followed lines join without a gap or a repeat: {seen:?}"
    );

    // logrotate without copytruncate: the file is renamed away, and the bot
    // (restarted here, as a postrotate script would) writes a new one.
    let log = daemon.log_dir.join("ticker.log");
    std::fs::rename(&log, daemon.log_dir.join("ticker.log.1")).expect("rotate the log");
    let restart = daemon.ctl(&["--json", "restart", "ticker"]);
    restart.expect_code(0);
    let new_pid = restart.json()["result"]["bots"][0]["pid"]
        .as_u64()
        .expect("the new pid");
    let started = format!("started (pid {new_pid})");
    follow.wait_for_stdout("ticks of the new file", |out| {
        out.split_once(started.as_str())
            .is_some_and(|(_, after)| ticks(after).contains(&3))
    });
    follow.wait_for_stderr("was replaced (rotated); following the new file");
    let out = follow.stdout();
    let last_words = out
        .find("received SIGTERM, exiting")
        .expect("the old file's last line was read before switching");
    assert!(last_words < out.find(&started).expect("new file"), "{out}");
    assert!(log.exists());
    follow.interrupt();
}

#[test]
fn log_follow_goes_on_after_a_truncation() {
    let daemon = Daemon::start(json!({"b": testbot(json!({}))}));
    let path = daemon.log_dir.join("b.log");
    let old: Vec<String> = (0..30).map(|n| line(n, "INFO", "old line")).collect();
    append(&path, &old);
    let follow = Running::ctl(&daemon, &["log", "b", "-n", "0", "--follow"]);
    // -n 0 shows nothing: append probes until one comes through, so that the
    // follower is known to read the file.
    let mut probe = 0;
    let reading = poll_until(TIMEOUT, || {
        probe += 1;
        append(&path, &[line(59, "INFO", &format!("probe {probe}"))]);
        follow.stdout().contains("probe")
    });
    assert!(reading.is_ok(), "{}", follow.report());
    assert!(!follow.stdout().contains("old line"), "{}", follow.report());

    std::fs::File::create(&path).expect("truncate the log");
    append(&path, &[line(1, "INFO", "after the truncation")]);
    follow.wait_for_stdout("the line after the truncation", |out| {
        out.contains("after the truncation")
    });
    follow.wait_for_stderr("was truncated; following it from its start");
    follow.interrupt();
}

#[test]
fn events_show_crash_restart_scheduled_runs_and_config_changes() {
    let mut crasher = testbot(json!({"exit_after": 0.3, "exit_code": 3}));
    crasher["restart"] = json!("on-failure");
    let daemon = Daemon::builder()
        .defaults(json!({"process_manager": "pid", "restart_delay": 0.2, "stop_timeout": 1}))
        .runtime(json!({"crasher": crasher, "sched": every_second()}))
        .start();
    let events = Running::ctl(&daemon, &["--json", "events"]);
    let human = Running::ctl(&daemon, &["events"]);
    events.wait_for_stderr("subscribed to the events of intelmqd");
    human.wait_for_stderr("subscribed to the events of intelmqd");

    daemon.ctl(&["start", "crasher"]).expect_code(0);
    events.wait_for_stdout("crasher was restarted", |out| {
        kinds_of(&json_lines(out), "crasher").contains(&"restarted".to_owned())
    });
    daemon.ctl(&["stop", "crasher"]).expect_code(0);

    daemon.ctl(&["start", "sched"]).expect_code(0);
    events.wait_for_stdout("a run of sched at a tick ended", |out| {
        kinds_of(&json_lines(out), "sched").contains(&"run-ended".to_owned())
    });
    // A run on request; it may wait for a tick's run to end (a conflict then).
    let wait_for_exec = poll_until(TIMEOUT, || {
        daemon.ctl(&["scheduler-exec", "sched"]).code == Some(0)
    });
    assert!(wait_for_exec.is_ok(), "scheduler-exec sched kept failing");
    daemon.ctl(&["stop", "sched"]).expect_code(0);

    let mut runtime = daemon.read_runtime_conf();
    runtime["crasher"]["parameters"]["note"] = json!("edited");
    daemon.write_runtime_conf(&runtime);
    events.wait_for_stdout("the configuration change", |out| {
        json_lines(out)
            .iter()
            .any(|event| event["kind"] == "config-changed")
    });
    events.wait_for_stdout("sched unscheduled", |out| {
        kinds_of(&json_lines(out), "sched").contains(&"unscheduled".to_owned())
    });

    let all = json_lines(&events.stdout());
    for event in &all {
        assert!(event["at_ms"].as_u64().is_some(), "{event}");
        assert!(event["text"].as_str().is_some(), "{event}");
    }
    let of =
        |bot_id: &str| -> Vec<&Value> { all.iter().filter(|e| e["bot_id"] == bot_id).collect() };
    let crasher = of("crasher");
    assert_eq!(
        kinds_of(&all, "crasher")[..4],
        ["started", "exited", "restarting", "restarted"],
        "{all:#?}"
    );
    let first_pid = crasher[0]["pid"].as_u64().expect("started has the pid");
    assert_eq!(
        crasher[1]["pid"].as_u64(),
        Some(first_pid),
        "{:#?}",
        crasher[1]
    );
    assert_eq!(crasher[1]["exit"]["code"], 3, "{:#?}", crasher[1]);
    assert!(
        crasher[2]["text"]
            .as_str()
            .is_some_and(|t| t.contains("0.2 s")),
        "{:#?}",
        crasher[2]
    );
    assert_ne!(
        crasher[3]["pid"].as_u64(),
        Some(first_pid),
        "{:#?}",
        crasher[3]
    );
    let sched = kinds_of(&all, "sched");
    assert_eq!(sched[0], "scheduled", "{all:#?}");
    assert_eq!(
        sched.last().map(String::as_str),
        Some("unscheduled"),
        "{all:#?}"
    );
    // The run on request: run-started, then its run-ended with its pid.
    let runs = of("sched");
    let started = runs
        .iter()
        .position(|event| event["kind"] == "run-started")
        .unwrap_or_else(|| panic!("no run-started: {all:#?}"));
    let pid = runs[started]["pid"]
        .as_u64()
        .expect("run-started has the pid");
    let ended = runs[started..]
        .iter()
        .find(|event| event["kind"] == "run-ended" && event["pid"].as_u64() == Some(pid))
        .unwrap_or_else(|| panic!("no run-ended of pid {pid}: {all:#?}"));
    assert_eq!(ended["exit"]["code"], 0, "{ended}");
    assert!(
        runs.iter()
            .all(|event| event["kind"] != "run-ended" || event["exit"]["code"] == 0),
        "{all:#?}"
    );
    let changed = all
        .iter()
        .find(|event| event["kind"] == "config-changed")
        .expect("config-changed");
    assert!(changed.get("bot_id").is_none(), "{changed}");

    // The human form: `<local time> <kind> <bot_id>: <text>`, one line an event.
    human.wait_for_stdout("the human subscriber's config-changed", |out| {
        out.contains(" config-changed: ")
    });
    let text = human.stdout();
    let first = text.lines().next().expect("a line");
    assert!(starts_with_local_time(first), "{text}");
    assert_eq!(
        &first[20..],
        format!("started crasher: crasher started (pid {first_pid})"),
        "{text}"
    );
    assert!(text.lines().all(starts_with_local_time), "{text}");

    events.interrupt();
    human.interrupt();
}

/// The protocol says run-started comes "at a tick or on request": a run at a
/// tick sends both of its events.
#[test]
fn a_run_at_a_tick_sends_run_started_then_run_ended() {
    let daemon = Daemon::start(json!({"sched": every_second()}));
    let events = Running::ctl(&daemon, &["--json", "events"]);
    events.wait_for_stderr("subscribed to the events of intelmqd");
    daemon.ctl(&["start", "sched"]).expect_code(0);
    events.wait_for_stdout("a run of sched at a tick ended", |out| {
        kinds_of(&json_lines(out), "sched").contains(&"run-ended".to_owned())
    });
    let kinds = kinds_of(&json_lines(&events.stdout()), "sched");
    assert_eq!(
        kinds[..3],
        ["scheduled", "run-started", "run-ended"],
        "{kinds:?}"
    );
    events.interrupt();
}

#[test]
fn metrics_parse_and_match_the_bots() {
    let daemon = Daemon::builder()
        .defaults(json!({
            "process_manager": "pid",
            "restart_delay": 0.1,
            "restart_delay_max": 0.1,
            "start_limit_burst": 2,
            "stop_timeout": 1,
        }))
        .runtime(json!({
            "runner": testbot(json!({})),
            "idle": testbot(json!({})),
            "crasher": testbot(json!({"exit_after": 0.1, "exit_code": 3})),
            "sched": every_second(),
        }))
        .start();
    daemon.start_bot("runner");
    daemon.ctl(&["start", "crasher"]).expect_code(0);
    daemon.ctl(&["start", "sched"]).expect_code(0);
    daemon.wait_until(TIMEOUT, "crasher failed", || {
        daemon.status_json("crasher")["status"] == "failed"
    });
    daemon.wait_until(TIMEOUT, "a run of sched ended", || {
        !daemon.status_json("sched")["schedule"]["last_run_duration_ms"].is_null()
    });

    let out = daemon.ctl(&["metrics"]);
    out.expect_code(0);
    let metrics = parse_prometheus(&out.stdout).unwrap_or_else(|error| panic!("{error}\n{out:?}"));
    let status = daemon.ctl(&["--json", "status", "--all"]);
    status.expect_code(0);
    let bots = status.json();
    let bots = bots.as_array().expect("an array");

    assert_eq!(metrics.families["intelmqd_bots"].kind, "gauge");
    assert_eq!(
        metrics.families["intelmqd_bot_restarts_total"].kind,
        "counter"
    );
    for word in ["running", "stopped", "unstable", "failed"] {
        let count = bots.iter().filter(|bot| bot["status"] == word).count();
        assert_eq!(
            metrics.value("intelmqd_bots", &[("status", word)]),
            Some(count as f64),
            "bots {word}\n{}",
            out.stdout
        );
    }
    for (word, expected) in [
        ("running", 2.0),
        ("stopped", 1.0),
        ("failed", 1.0),
        ("unstable", 0.0),
    ] {
        assert_eq!(
            metrics.value("intelmqd_bots", &[("status", word)]),
            Some(expected),
            "{}",
            out.stdout
        );
    }
    for bot in bots {
        let id = bot["bot_id"].as_str().expect("bot_id");
        let up = matches!(bot["status"].as_str(), Some("running" | "unstable"));
        assert_eq!(
            metrics.value("intelmqd_bot_up", &[("bot_id", id)]),
            Some(f64::from(u8::from(up))),
            "{id}\n{}",
            out.stdout
        );
        assert_eq!(
            metrics.value("intelmqd_bot_restarts_total", &[("bot_id", id)]),
            bot["restarts"].as_f64(),
            "{id}\n{}",
            out.stdout
        );
    }
    assert!(
        metrics.value("intelmqd_bot_restarts_total", &[("bot_id", "crasher")]) >= Some(1.0),
        "{}",
        out.stdout
    );
    assert_eq!(
        metrics.value("intelmqd_bot_last_exit_code", &[("bot_id", "crasher")]),
        Some(3.0),
        "{}",
        out.stdout
    );
    assert!(
        metrics.value("intelmqd_scheduled_runs_total", &[("bot_id", "sched")]) >= Some(1.0),
        "{}",
        out.stdout
    );

    let json = daemon.ctl(&["--json", "metrics"]);
    json.expect_code(0);
    let value = json.json();
    let object = value.as_object().expect("an object");
    assert_eq!(object.keys().collect::<Vec<_>>(), ["text"], "{json:?}");
    let again = parse_prometheus(value["text"].as_str().expect("text")).expect("valid");
    assert_eq!(
        again.families.keys().collect::<Vec<_>>(),
        metrics.families.keys().collect::<Vec<_>>()
    );
}

#[test]
fn every_command_has_json() {
    let mut scheduled = every_second();
    scheduled["schedule_time"] = json!("0 0 1 1 *");
    let daemon = Daemon::builder()
        .defaults(json!({"process_manager": "pid", "stop_timeout": 1}))
        .runtime(json!({"a": testbot(json!({"log_every": 0.2})), "s": scheduled}))
        .start();
    let commands: &[(&[&str], i32)] = &[
        (&["start", "a"], 0),
        (&["status"], 0),
        (&["status", "a"], 0),
        (&["status", "a", "-n", "0"], 0),
        (&["list"], 0),
        (&["configtest"], 0),
        (&["check", "a"], 0),
        (&["reload", "a"], 0),
        (&["restart", "a"], 0),
        (&["enable", "a"], 0),
        (&["disable", "a"], 0),
        (&["add-to-botnet", "a"], 0),
        (&["remove-from-botnet", "a"], 0),
        (&["scheduler-exec", "s"], 0),
        (&["start", "--now", "--wait", "s"], 0),
        (&["log", "a", "-n", "2"], 0),
        (&["log", "a", "5", "ERROR"], 0),
        (&["metrics"], 0),
        (&["completions", "bash"], 0),
        (&["debug", "a"], 1),
        (&["run", "a"], 1),
        (&["stop", "a"], 0),
        (&["start"], 0),
        (&["restart", "--all"], 0),
        (&["reload"], 0),
        (&["stop", "--all"], 0),
        (&["stop", "nobody"], 1),
        (&["log", "nobody"], 1),
        (&["status", "../x"], 2),
    ];
    for (args, code) in commands {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        if args[0] == "debug" || args[0] == "run" {
            // Refused while the bot runs: the JSON error, not the bot's output.
            daemon.ctl(&["start", "a"]).expect_code(0);
        }
        let out = daemon.ctl(&full);
        out.expect_code(*code);
        let value: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|error| {
            panic!("{args:?}: stdout is not one JSON document: {error}\n{out:?}")
        });
        assert!(value.is_object() || value.is_array(), "{args:?}: {out:?}");
        if *code == 0 && value.is_object() && args[0] != "metrics" && args[0] != "completions" {
            assert_eq!(value["ok"], true, "{args:?}: {out:?}");
        }
        if *code != 0 {
            assert_eq!(value["ok"], false, "{args:?}: {out:?}");
        }
        assert!(!out.stdout.contains('\x1b'), "{args:?}: {out:?}");
    }

    // The streaming commands: one JSON object a line.
    daemon.ctl(&["start", "a"]).expect_code(0);
    let follow = Running::ctl(&daemon, &["--json", "log", "a", "-n", "1", "-f"]);
    follow.wait_for_stdout("two followed lines", |out| json_lines(out).len() >= 3);
    let lines = json_lines(&follow.stdout());
    assert_eq!(lines[0]["result"]["kind"], "log", "{lines:?}");
    for followed in &lines[1..] {
        assert_eq!(followed["bot_id"], "a", "{followed}");
        assert!(
            followed["line"]
                .as_str()
                .is_some_and(|l| l.contains(" - a - INFO - ")),
            "{followed}"
        );
    }
    follow.interrupt();
    let events = Running::ctl(&daemon, &["--json", "events"]);
    events.wait_for_stderr("subscribed");
    daemon.ctl(&["stop", "a"]).expect_code(0);
    events.wait_for_stdout("the stop event", |out| {
        kinds_of(&json_lines(out), "a").contains(&"stopped".to_owned())
    });
    events.interrupt();
}

#[test]
fn colour_on_a_terminal_but_not_with_no_color_nor_without_a_terminal() {
    let daemon = Daemon::start(json!({"a": testbot(json!({})), "b": testbot(json!({}))}));
    daemon.start_bot("a");
    let plain = daemon.ctl(&["status"]);
    plain.expect_code(0);
    assert!(!plain.stdout.contains('\x1b'), "{plain:?}");

    let coloured = PtyRun::spawn(daemon.ctl_command(&["status"])).wait(TIMEOUT);
    coloured.expect_code(0);
    assert!(
        coloured.stdout.contains("\x1b[38;5;10mrunning"),
        "{coloured:?}"
    );

    let mut no_color = daemon.ctl_command(&["status"]);
    no_color.env("NO_COLOR", "1");
    let no_color = PtyRun::spawn(no_color).wait(TIMEOUT);
    no_color.expect_code(0);
    assert!(no_color.stdout.contains("running"), "{no_color:?}");
    assert!(!no_color.stdout.contains("\x1b["), "{no_color:?}");
}

/// A user the daemon does not serve sees the daemon's refusal, not "Broken
/// pipe … Is the daemon running?". Needs root (to run intelmqctl as nobody).
#[test]
fn a_refused_client_sees_the_daemons_answer() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root to run intelmqctl as another user");
        return;
    }
    let daemon = Daemon::start(json!({}));
    // Let nobody reach the socket, so that the daemon's own check refuses it.
    let open = |path: &Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    open(daemon.root(), 0o755);
    open(&daemon.socket, 0o666);
    // A copy of intelmqctl that nobody may run, whatever the checkout's modes.
    let ctl = daemon.root().join("intelmqctl");
    std::fs::copy(bin("intelmqctl"), &ctl).expect("copy intelmqctl");
    open(&ctl, 0o755);
    for json in [false, true] {
        let mut command = std::process::Command::new(&ctl);
        command
            .uid(65534)
            .gid(65534)
            .arg("--socket")
            .arg(&daemon.socket);
        if json {
            command.arg("--json");
        }
        command.arg("list");
        let out = run_with_deadline(&mut command, TIMEOUT);
        out.expect_code(1);
        assert!(
            !out.all_output().contains("Is the daemon running"),
            "{out:?}"
        );
        if json {
            assert_eq!(out.json()["error"]["kind"], "permission-denied", "{out:?}");
        } else {
            assert!(
                out.stderr
                    .starts_with("intelmqctl: error: permission denied: uid 65534"),
                "{out:?}"
            );
        }
    }
}
