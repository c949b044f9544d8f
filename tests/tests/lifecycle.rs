//! Starting, stopping, reloading and restarting one bot, and how a bot that
//! ends by itself shows up.

use intelmqd_tests::{logged_pid, pid_alive, procfs, testbot, zombie_children, Daemon, TIMEOUT};
use serde_json::json;

#[test]
fn start_runs_one_process_and_a_second_start_keeps_it() {
    let daemon = Daemon::start(json!({"bot": testbot(json!({}))}));

    let out = daemon.ctl(&["start", "bot"]);
    out.expect_code(0);
    assert!(out.stdout.contains("bot is running."), "{out:?}");
    let status = daemon.status_json("bot");
    assert_eq!(status["status"], "running", "{status}");
    let pid = status["pid"].as_u64().expect("a running bot has a pid") as u32;
    assert!(pid_alive(pid), "pid {pid} of the running bot is not alive");
    assert_eq!(
        daemon.read_pid_file("bot").as_deref(),
        Some(format!("{pid}\n").as_str()),
        "the pid file holds the bot's pid"
    );
    daemon.wait_for_log("bot", &format!("started (pid {pid})"));

    let again = daemon.ctl(&["start", "bot"]);
    again.expect_code(0);
    assert!(again.stdout.contains("already running"), "{again:?}");
    assert_eq!(daemon.status_pid("bot"), Some(pid), "the same process runs");
    assert_eq!(daemon.bot_processes(), vec![pid], "exactly one bot process");
}

#[test]
fn stop_ends_the_whole_process_group() {
    let daemon = Daemon::start(json!({"forker": testbot(json!({"fork_child": true}))}));
    let pid = daemon.start_bot("forker");
    let mut child = None;
    daemon.wait_until(TIMEOUT, "the bot logs its child's pid", || {
        child = logged_pid(&daemon.log_of("forker"), "child started");
        child.is_some()
    });
    let child = child.expect("waited for it");
    assert!(pid_alive(child), "the bot's child {child} runs");
    assert_eq!(
        procfs::stat(child).map(|stat| stat.pgrp),
        Some(pid),
        "the child is in the bot's process group"
    );

    let out = daemon.ctl(&["stop", "forker"]);
    out.expect_code(0);
    assert!(out.stdout.contains("forker is stopped."), "{out:?}");
    assert!(!pid_alive(pid), "the bot {pid} still runs after stop");
    daemon.wait_until(TIMEOUT, "the bot's child is gone", || !pid_alive(child));
    assert!(
        !daemon.pid_file("forker").exists(),
        "the pid file is removed on stop"
    );
    let status = daemon.status_json("forker");
    assert_eq!(status["status"], "stopped", "{status}");
    assert_eq!(status["pid"], json!(null), "{status}");

    let again = daemon.ctl(&["stop", "forker"]);
    again.expect_code(0);
    assert!(again.stdout.contains("already stopped"), "{again:?}");
}

#[test]
fn a_bot_that_ignores_sigterm_is_killed_after_the_stop_timeout() {
    let stubborn = testbot(json!({"ignore_sigterm": true}));
    let daemon = Daemon::builder()
        .runtime(json!({"stubborn": stubborn, "stubborn-json": stubborn}))
        .defaults(json!({"process_manager": "pid", "stop_timeout": 1}))
        .start();
    let pid = daemon.start_bot("stubborn");
    let json_pid = daemon.start_bot("stubborn-json");

    let out = daemon.ctl(&["stop", "stubborn"]);
    out.expect_code(0);
    assert!(
        out.stdout.contains("was killed") && out.stdout.contains("SIGKILL"),
        "the output says the bot was killed: {out:?}"
    );
    assert!(!pid_alive(pid), "the killed bot {pid} is gone");
    assert!(
        daemon
            .log_of("stubborn")
            .contains("received SIGTERM, ignoring it"),
        "the bot got SIGTERM first"
    );

    let out = daemon.ctl(&["--json", "stop", "stubborn-json"]);
    out.expect_code(0);
    let reply = out.json();
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["result"]["bots"][0]["action"], "killed", "{reply}");
    assert!(!pid_alive(json_pid), "the killed bot {json_pid} is gone");
    assert_eq!(daemon.status_json("stubborn-json")["status"], "stopped");
}

#[test]
fn reload_sends_sighup_and_restart_starts_a_new_process() {
    let daemon = Daemon::start(json!({"bot": testbot(json!({}))}));
    let pid = daemon.start_bot("bot");

    daemon.ctl(&["reload", "bot"]).expect_code(0);
    daemon.wait_for_log("bot", "reloaded (count 1)");
    assert_eq!(
        daemon.status_pid("bot"),
        Some(pid),
        "reload keeps the process"
    );

    daemon.ctl(&["restart", "bot"]).expect_code(0);
    let status = daemon.status_json("bot");
    assert_eq!(status["status"], "running", "{status}");
    let new_pid = status["pid"].as_u64().expect("a pid after restart") as u32;
    assert_ne!(new_pid, pid, "restart runs a new process");
    assert!(pid_alive(new_pid), "the new process {new_pid} runs");
    assert!(!pid_alive(pid), "the old process {pid} is gone");
    assert_eq!(
        daemon.read_pid_file("bot").as_deref(),
        Some(format!("{new_pid}\n").as_str())
    );
}

#[test]
fn a_bot_that_exits_or_crashes_is_reaped_and_its_end_is_shown() {
    // Without a restart policy, to see the end as it is.
    let never = |mut bot: serde_json::Value| {
        bot["restart"] = json!("never");
        bot
    };
    let daemon = Daemon::start(json!({
        "quitter": never(testbot(json!({"exit_after": 0.2, "exit_code": 3}))),
        "crasher": never(testbot(json!({"crash_after": 0.2}))),
    }));
    let mut pids = Vec::new();
    for bot in ["quitter", "crasher"] {
        let out = daemon.ctl(&["start", bot]);
        // The bot may already be gone when the daemon answers; that is not
        // what this test is about, but the daemon must have answered.
        assert!(matches!(out.code, Some(0 | 1)), "{out:?}");
        let mut pid = None;
        daemon.wait_until(TIMEOUT, &format!("{bot} logs its pid"), || {
            pid = logged_pid(&daemon.log_of(bot), "started");
            pid.is_some()
        });
        pids.push(pid.expect("waited for it"));
    }

    for bot in ["quitter", "crasher"] {
        daemon.wait_until(TIMEOUT, &format!("{bot} is in state exited"), || {
            daemon.status_json(bot)["state"] == "exited"
        });
    }
    let quitter = daemon.status_json("quitter");
    assert_eq!(quitter["status"], "stopped", "{quitter}");
    assert_eq!(quitter["pid"], json!(null), "{quitter}");
    assert_eq!(quitter["last_exit"]["code"], 3, "{quitter}");
    assert_eq!(quitter["last_exit"]["signal"], json!(null), "{quitter}");
    let crasher = daemon.status_json("crasher");
    assert_eq!(crasher["status"], "stopped", "{crasher}");
    assert_eq!(crasher["last_exit"]["signal"], 6, "{crasher}");
    assert!(
        crasher["last_exit"]["description"]
            .as_str()
            .is_some_and(|text| text.contains("SIGABRT")),
        "{crasher}"
    );

    let daemon_pid = daemon.pid();
    daemon.wait_until(TIMEOUT, "intelmqd has no zombie children", || {
        zombie_children(daemon_pid).is_empty()
    });
    for pid in pids {
        assert!(
            procfs::stat(pid).map_or(true, |stat| stat.ppid != daemon_pid),
            "the ended bot {pid} is still a child of intelmqd: {:?}",
            procfs::stat(pid)
        );
    }

    let out = daemon.ctl(&["status", "quitter"]);
    out.expect_code(0);
    assert!(
        out.stdout.contains("quitter: exited with code 3"),
        "status shows how the bot ended: {out:?}"
    );
}

#[test]
fn reload_by_signal_is_not_shown_as_applied_and_reload_restart_is() {
    let mut restarting = testbot(json!({"note": "restarting"}));
    restarting["reload"] = json!("restart");
    let daemon = Daemon::start(json!({
        "hup": testbot(json!({"note": "hup"})),
        "restarting": restarting,
    }));
    let hup = daemon.start_bot("hup");
    let old = daemon.start_bot("restarting");
    assert!(daemon.status_json("hup").get("reload").is_none());

    daemon.ctl(&["reload", "hup"]).expect_code(0);
    daemon.wait_for_log("hup", "reloaded (count 1)");
    let status = daemon.status_json("hup");
    assert_eq!(status["pid"], json!(hup), "{status}");
    assert_eq!(status["reload"]["mode"], "signal", "{status}");
    assert_eq!(status["reload"]["applied"], false, "{status}");
    let table = daemon.ctl(&["status", "hup"]);
    assert!(
        table
            .stdout
            .contains("not known whether the bot re-read its configuration"),
        "{table:?}"
    );

    let out = daemon.ctl(&["--json", "reload", "restarting"]);
    out.expect_code(0);
    let reply = out.json();
    assert_eq!(reply["result"]["bots"][0]["action"], "reloaded", "{reply}");
    let status = daemon.status_json("restarting");
    let new = status["pid"].as_u64().expect("a pid after the reload") as u32;
    assert_ne!(new, old, "reload: restart runs a new process");
    assert!(!pid_alive(old), "the old process {old} is gone");
    assert_eq!(status["reload"]["mode"], "restart", "{status}");
    assert_eq!(status["reload"]["applied"], true, "{status}");

    // Stopped, the bot has no reload to show.
    daemon.ctl(&["stop", "hup"]).expect_code(0);
    assert!(daemon.status_json("hup").get("reload").is_none());
}
