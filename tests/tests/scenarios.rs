//! The spec's four scenarios ("Configuration concepts"): a botnet command after
//! a running bot was removed from runtime.conf by hand, each with several
//! botnet bots started by `intelmqctl start`; and the same checks for one bot.

use std::collections::BTreeMap;
use std::time::Duration;

use intelmqd_tests::{
    botnet_of, fast_stop_defaults, pid_alive, poll_until, table_row, testbot, Daemon, TIMEOUT,
};
use serde_json::{json, Value};

/// Scenario 1's warning, word for word.
fn kept_and_restored(bot_id: &str) -> String {
    format!(
        "intelmqctl detected that bot {bot_id} is still running but has been removed from user runtime configuration. intelmqctl added it to the user runtime configuration. Please first stop the bot, and remove it afterwards."
    )
}

/// Scenario 2's warning (the spec's "is was running" read as "was running").
fn stopped_and_restored(bot_id: &str) -> String {
    format!(
        "intelmqctl detected that bot with `bot_id: {bot_id}` was running but has been removed from admin runtime configuration. intelmqctl stopped it and added it to the admin runtime configuration. Please first stop the bot, and remove it afterwards."
    )
}

/// Scenario 3's warning (the spec's "intelmqct" read as "intelmqctl").
fn removed_while_running(bot_id: &str) -> String {
    format!(
        "intelmqctl detected that bot with `bot_id: {bot_id}` is still running but has been removed from admin runtime configuration."
    )
}

/// Scenario 3's question.
fn ask_stop(bot_id: &str) -> String {
    format!("Do you want to stop the bot with `bot_id: {bot_id}`? [N/y]")
}

/// A daemon whose runtime.conf holds a botnet bot for each id.
fn botnet_daemon(bot_ids: &[&str]) -> Daemon {
    Daemon::builder()
        .runtime(botnet_of(bot_ids))
        .defaults(fast_stop_defaults())
        .start()
}

/// `intelmqctl start` (the botnet); the pid of each of `bot_ids` once it runs.
fn start_botnet(daemon: &Daemon, bot_ids: &[&str]) -> BTreeMap<String, u32> {
    let out = daemon.ctl(&["start"]);
    out.expect_code(0);
    bot_ids
        .iter()
        .map(|id| (id.to_string(), daemon.wait_started(id)))
        .collect()
}

/// Removes `bot_id` from runtime.conf by hand (rewriting the file without it);
/// returns its entry as it was.
fn remove_by_hand(daemon: &Daemon, bot_id: &str) -> Value {
    let mut runtime = daemon.read_runtime_conf();
    let entry = runtime
        .as_object_mut()
        .expect("runtime.conf is an object")
        .remove(bot_id)
        .unwrap_or_else(|| panic!("{bot_id} is in runtime.conf"));
    daemon.write_runtime_conf(&runtime);
    entry
}

/// Adds or replaces `bot_id`'s entry in runtime.conf by hand.
fn set_by_hand(daemon: &Daemon, bot_id: &str, entry: Value) {
    let mut runtime = daemon.read_runtime_conf();
    runtime
        .as_object_mut()
        .expect("runtime.conf is an object")
        .insert(bot_id.to_string(), entry);
    daemon.write_runtime_conf(&runtime);
}

/// The status word of `bot_id` in the daemon's view.
fn status_of(daemon: &Daemon, bot_id: &str) -> String {
    daemon.status_json(bot_id)["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// How many times the bot logged that it started.
fn starts_logged(daemon: &Daemon, bot_id: &str) -> usize {
    daemon
        .log_of(bot_id)
        .lines()
        .filter(|line| line.contains(" - started (pid "))
        .count()
}

/// Asserts that the daemon's log (stderr) after `mark` has a line with `text`,
/// waiting a little for it: the spec says each of these warnings is logged.
#[track_caller]
fn assert_logged(daemon: &Daemon, mark: usize, text: &str) {
    let logged = poll_until(Duration::from_secs(5), || {
        daemon.stderr_since(mark).contains(text)
    });
    assert!(
        logged.is_ok(),
        "the daemon's log does not have the warning {text:?}\n--- intelmqd stderr since the command ---\n{}",
        daemon.stderr_since(mark)
    );
}

#[test]
fn scenario_1_botnet_start_after_a_running_bot_was_removed() {
    let ids = ["my-bot-1", "my-bot-3", "my-bot-4", "my-bot-5"];
    let daemon = botnet_daemon(&ids);
    let pids = start_botnet(&daemon, &ids);

    let original = remove_by_hand(&daemon, "my-bot-1");
    set_by_hand(&daemon, "my-bot-2", testbot(json!({"note": "my-bot-2"})));

    let mark = daemon.stderr_mark();
    let out = daemon.ctl(&["start"]);
    out.expect_code(0);

    // 4.3: my-bot-1 keeps running, the same process.
    assert_eq!(
        daemon.status_pid("my-bot-1"),
        Some(pids["my-bot-1"]),
        "{out:?}"
    );
    assert!(pid_alive(pids["my-bot-1"]), "my-bot-1 was stopped: {out:?}");
    assert_eq!(
        starts_logged(&daemon, "my-bot-1"),
        1,
        "my-bot-1 started again"
    );
    // 4.2: my-bot-2 is started.
    let new_pid = daemon.wait_started("my-bot-2");
    assert!(pid_alive(new_pid));
    // 4.1: the others are left alone.
    for id in ["my-bot-3", "my-bot-4", "my-bot-5"] {
        assert_eq!(
            daemon.status_pid(id),
            Some(pids[id]),
            "{id} was touched: {out:?}"
        );
        assert_eq!(starts_logged(&daemon, id), 1, "{id} started again");
    }
    let mut running = daemon.bot_processes();
    running.sort_unstable();
    let mut expected: Vec<u32> = pids.values().copied().chain([new_pid]).collect();
    expected.sort_unstable();
    assert_eq!(running, expected, "exactly the five bots run");

    // 4.3: my-bot-1's entry is back in runtime.conf, as it was.
    assert_eq!(
        daemon.runtime_entry("my-bot-1").as_ref(),
        Some(&original),
        "my-bot-1 is not written back into runtime.conf as it was:\n{}",
        daemon.read_runtime_conf_text()
    );
    assert_eq!(
        daemon.runtime_entry("my-bot-2"),
        Some(testbot(json!({"note": "my-bot-2"}))),
        "the operator's new entry is kept"
    );
    assert_eq!(
        status_of(&daemon, "my-bot-1"),
        "running",
        "no longer unstable"
    );

    // 4.4: the warning, to the operator and in the log.
    let warning = kept_and_restored("my-bot-1");
    assert!(
        out.stdout.contains(&format!("warning: {warning}")),
        "intelmqctl does not show the spec's warning: {out:?}"
    );
    assert_logged(&daemon, mark, &warning);
}

#[test]
fn scenario_2_botnet_stop_after_a_running_bot_was_removed() {
    let ids = ["my-bot-1", "my-bot-2", "my-bot-4", "my-bot-5"];
    let mut runtime = botnet_of(&ids);
    // my-bot-3 is configured but outside the botnet: the botnet start
    // leaves it alone, so it never runs.
    let mut my_bot_3 = testbot(json!({"note": "my-bot-3"}));
    my_bot_3["botnet"] = json!(false);
    runtime["my-bot-3"] = my_bot_3;
    let daemon = Daemon::builder()
        .runtime(runtime)
        .defaults(fast_stop_defaults())
        .start();
    let pids = start_botnet(&daemon, &ids);
    assert_eq!(status_of(&daemon, "my-bot-3"), "stopped");

    // 2: my-bot-1 is removed while it runs.
    let original = remove_by_hand(&daemon, "my-bot-1");
    // 3: my-bot-2 is stopped the right way.
    daemon.ctl(&["stop", "my-bot-2"]).expect_code(0);
    assert!(!pid_alive(pids["my-bot-2"]));
    // 5: my-bot-3 gets a completely new configuration (now in the botnet).
    set_by_hand(
        &daemon,
        "my-bot-3",
        json!({"module": "intelmq-testbot", "run_mode": "stream", "botnet": true,
               "onboot": false, "parameters": {"note": "new", "log_every": 60}}),
    );

    let mark = daemon.stderr_mark();
    let out = daemon.ctl(&["stop"]);
    out.expect_code(0);

    // Every bot process is gone: the running ones were stopped, my-bot-1 too.
    daemon.wait_until(TIMEOUT, "no bot process is left", || {
        daemon.bot_processes().is_empty()
    });
    for (id, pid) in &pids {
        assert!(!pid_alive(*pid), "{id} ({pid}) still runs: {out:?}");
        assert_eq!(status_of(&daemon, id), "stopped", "{id}");
    }
    // 6.1 and 6.2: nothing was done to my-bot-2 (already stopped) nor to
    // my-bot-3 (never started).
    let row = table_row(&out.stdout, "my-bot-2");
    assert!(
        row.as_ref()
            .is_some_and(|row| row.iter().any(|c| c == "already-stopped")),
        "my-bot-2's row: {row:?}\n{out:?}"
    );
    assert_eq!(
        starts_logged(&daemon, "my-bot-3"),
        0,
        "my-bot-3 was started"
    );
    assert_eq!(
        daemon
            .log_of("my-bot-2")
            .matches("received SIGTERM")
            .count(),
        1,
        "my-bot-2 was stopped once, before the botnet stop"
    );

    // 6.3: my-bot-1's entry is back in runtime.conf, as it was.
    assert_eq!(
        daemon.runtime_entry("my-bot-1").as_ref(),
        Some(&original),
        "my-bot-1 is not written back into runtime.conf as it was:\n{}",
        daemon.read_runtime_conf_text()
    );
    assert_eq!(
        daemon.runtime_entry("my-bot-3").expect("my-bot-3 stays")["parameters"]["note"],
        "new",
        "the operator's new my-bot-3 is kept"
    );

    // 6.4: the warning.
    let warning = stopped_and_restored("my-bot-1");
    assert!(
        out.stdout.contains(&format!("warning: {warning}")),
        "intelmqctl does not show the spec's warning: {out:?}"
    );
    assert_logged(&daemon, mark, &warning);
}

/// Scenario 3's set-up: five botnet bots running, my-bot-1 stopped by
/// command, my-bot-2 removed from runtime.conf while it runs. Returns the
/// daemon, the pids and my-bot-2's entry as it was.
fn scenario_3_setup() -> (Daemon, BTreeMap<String, u32>, Value) {
    let ids = ["my-bot-1", "my-bot-2", "my-bot-3", "my-bot-4", "my-bot-5"];
    let daemon = botnet_daemon(&ids);
    let pids = start_botnet(&daemon, &ids);
    daemon.ctl(&["stop", "my-bot-1"]).expect_code(0);
    assert!(!pid_alive(pids["my-bot-1"]));
    let original = remove_by_hand(&daemon, "my-bot-2");
    (daemon, pids, original)
}

/// Checks the part of scenario 3 that does not depend on the answer: my-bot-1
/// untouched, every other running bot reloaded once.
#[track_caller]
fn assert_reloaded_the_others(daemon: &Daemon, pids: &BTreeMap<String, u32>) {
    for id in ["my-bot-3", "my-bot-4", "my-bot-5"] {
        daemon.wait_for_log(id, "reloaded (count 1)");
        assert_eq!(daemon.status_pid(id), Some(pids[id]), "{id} was restarted");
    }
    assert_eq!(
        status_of(daemon, "my-bot-1"),
        "stopped",
        "my-bot-1 was touched"
    );
    assert_eq!(starts_logged(daemon, "my-bot-1"), 1, "my-bot-1 was started");
    assert!(
        !daemon.log_of("my-bot-1").contains("reloaded"),
        "the stopped my-bot-1 was reloaded"
    );
}

#[test]
fn scenario_3_botnet_reload_after_a_running_bot_was_removed() {
    let (daemon, pids, original) = scenario_3_setup();

    let mark = daemon.stderr_mark();
    let out = daemon.ctl(&["reload", "--no"]);
    out.expect_code(0);

    assert_reloaded_the_others(&daemon, &pids);
    // 4.3: the warning; 4.4: the question, answered no by --no.
    assert!(
        out.stdout
            .contains(&format!("warning: {}", removed_while_running("my-bot-2"))),
        "intelmqctl does not show the spec's warning: {out:?}"
    );
    assert!(
        out.stdout.contains(&ask_stop("my-bot-2")) && out.stdout.contains("no (--no)"),
        "the question and its answer are not shown: {out:?}"
    );
    // "N": my-bot-2 keeps running, was not sent SIGHUP, and its entry is
    // written back into runtime.conf.
    assert_eq!(daemon.status_pid("my-bot-2"), Some(pids["my-bot-2"]));
    assert!(pid_alive(pids["my-bot-2"]));
    assert!(
        !daemon.log_of("my-bot-2").contains("reloaded"),
        "my-bot-2 was sent SIGHUP:\n{}",
        daemon.log_of("my-bot-2")
    );
    assert_eq!(
        daemon.runtime_entry("my-bot-2").as_ref(),
        Some(&original),
        "my-bot-2 is not written back into runtime.conf as it was:\n{}",
        daemon.read_runtime_conf_text()
    );
    assert_eq!(status_of(&daemon, "my-bot-2"), "running");
    assert_logged(&daemon, mark, &removed_while_running("my-bot-2"));
}

#[test]
fn scenario_3_botnet_reload_after_a_running_bot_was_removed_answered_yes() {
    let (daemon, pids, _) = scenario_3_setup();
    let runtime_before = daemon.read_runtime_conf_text();
    assert!(
        daemon.effective_state()["bots"].get("my-bot-2").is_some(),
        "my-bot-2 is in the effective state before: {}",
        daemon.effective_state()
    );

    let out = daemon.ctl(&["reload", "--yes"]);
    out.expect_code(0);

    assert_reloaded_the_others(&daemon, &pids);
    assert!(
        out.stdout.contains(&ask_stop("my-bot-2")) && out.stdout.contains("yes (--yes)"),
        "the question and its answer are not shown: {out:?}"
    );
    // "Y": my-bot-2 is stopped and removed from both configurations.
    daemon.wait_until(TIMEOUT, "my-bot-2's process is gone", || {
        !pid_alive(pids["my-bot-2"])
    });
    assert!(
        !daemon.log_of("my-bot-2").contains("reloaded"),
        "my-bot-2 was sent SIGHUP"
    );
    assert_eq!(
        daemon.read_runtime_conf_text(),
        runtime_before,
        "runtime.conf changed (my-bot-2 must not be written back)"
    );
    let state = daemon.effective_state();
    assert!(
        state["bots"].get("my-bot-2").is_none(),
        "my-bot-2 is still in the effective state: {state}"
    );
    let status = daemon.call(json!({"command": "status", "bot_id": "my-bot-2"}));
    assert_eq!(status["ok"], false, "my-bot-2 is still known: {status}");
    assert_eq!(status["error"]["kind"], "unknown-bot", "{status}");
    let mut running = daemon.bot_processes();
    running.sort_unstable();
    let mut expected = vec![pids["my-bot-3"], pids["my-bot-4"], pids["my-bot-5"]];
    expected.sort_unstable();
    assert_eq!(running, expected, "exactly my-bot-3..5 run");
}

#[test]
fn scenario_3_botnet_reload_without_a_terminal_takes_the_default() {
    let (daemon, pids, original) = scenario_3_setup();

    // The harness runs intelmqctl with stdin closed: no terminal.
    let out = daemon.ctl(&["reload"]);
    out.expect_code(0);

    assert_reloaded_the_others(&daemon, &pids);
    assert!(
        out.stdout.contains(&ask_stop("my-bot-2"))
            && out.stdout.contains("no (")
            && out.stdout.contains("the default was taken"),
        "the output does not say that the default (N) was taken: {out:?}"
    );
    assert_eq!(daemon.status_pid("my-bot-2"), Some(pids["my-bot-2"]));
    assert!(pid_alive(pids["my-bot-2"]));
    assert_eq!(daemon.runtime_entry("my-bot-2").as_ref(), Some(&original));
}

#[test]
fn scenario_4_botnet_status_after_a_running_bot_was_removed() {
    let ids = ["my-bot-1", "my-bot-2", "my-bot-3", "my-bot-4"];
    let daemon = botnet_daemon(&ids);
    let pids = start_botnet(&daemon, &ids);

    let original = remove_by_hand(&daemon, "my-bot-1");
    set_by_hand(
        &daemon,
        "my-bot-666",
        testbot(json!({"note": "my-bot-666"})),
    );
    let runtime_before = daemon.read_runtime_conf_text();

    let out = daemon.ctl(&["status"]);
    out.expect_code(0);
    let status_word = |id: &str| {
        let row = table_row(&out.stdout, id)
            .unwrap_or_else(|| panic!("no row of {id} in the status table: {out:?}"));
        row.get(4).cloned().unwrap_or_default()
    };
    // 1: my-bot-666 is stopped; 2: the others run; 3: my-bot-1 is unstable.
    assert_eq!(status_word("my-bot-666"), "stopped", "{out:?}");
    for id in ["my-bot-2", "my-bot-3", "my-bot-4"] {
        assert_eq!(status_word(id), "running", "{out:?}");
    }
    assert_eq!(status_word("my-bot-1"), "running (unstable)", "{out:?}");
    assert!(
        out.stdout.contains("intelmqctl stop my-bot-1"),
        "status does not say how to fix my-bot-1: {out:?}"
    );

    let json_out = daemon.ctl(&["--json", "status"]);
    json_out.expect_code(0);
    let rows = json_out.json();
    let json_status = |id: &str| {
        rows.as_array()
            .and_then(|rows| rows.iter().find(|row| row["bot_id"] == id))
            .map(|row| row["status"].clone())
            .unwrap_or_else(|| panic!("no {id} in {rows}"))
    };
    assert_eq!(json_status("my-bot-1"), "unstable", "{rows}");
    assert_eq!(json_status("my-bot-666"), "stopped", "{rows}");
    for id in ["my-bot-2", "my-bot-3", "my-bot-4"] {
        assert_eq!(json_status(id), "running", "{rows}");
    }

    // status only looks: nothing was started, stopped or written.
    assert_eq!(daemon.read_runtime_conf_text(), runtime_before);
    for (id, pid) in &pids {
        assert_eq!(daemon.status_pid(id), Some(*pid), "{id}");
    }
    assert_eq!(starts_logged(&daemon, "my-bot-666"), 0);

    // The fix the hint names: stop stops it and writes it back.
    let out = daemon.ctl(&["stop", "my-bot-1"]);
    out.expect_code(0);
    assert!(!pid_alive(pids["my-bot-1"]), "my-bot-1 still runs: {out:?}");
    assert_eq!(status_of(&daemon, "my-bot-1"), "stopped");
    assert_eq!(
        daemon.runtime_entry("my-bot-1").as_ref(),
        Some(&original),
        "my-bot-1 is not written back:\n{}",
        daemon.read_runtime_conf_text()
    );
    assert!(
        out.stdout
            .contains(&format!("warning: {}", stopped_and_restored("my-bot-1"))),
        "{out:?}"
    );
}

#[test]
fn scenario_2_for_one_bot_stop_of_a_running_bot_that_was_removed() {
    let daemon = botnet_daemon(&["my-bot-1", "my-bot-2"]);
    let pid = daemon.start_bot("my-bot-1");
    let other = daemon.start_bot("my-bot-2");
    let original = remove_by_hand(&daemon, "my-bot-1");

    let mark = daemon.stderr_mark();
    let out = daemon.ctl(&["stop", "my-bot-1"]);
    out.expect_code(0);

    assert!(!pid_alive(pid), "my-bot-1 still runs: {out:?}");
    assert!(out.stdout.contains("my-bot-1 is stopped."), "{out:?}");
    assert_eq!(status_of(&daemon, "my-bot-1"), "stopped");
    assert_eq!(
        daemon.status_pid("my-bot-2"),
        Some(other),
        "my-bot-2 was touched"
    );
    assert_eq!(
        daemon.runtime_entry("my-bot-1").as_ref(),
        Some(&original),
        "my-bot-1 is not written back:\n{}",
        daemon.read_runtime_conf_text()
    );
    let warning = stopped_and_restored("my-bot-1");
    assert!(
        out.stdout.contains(&format!("warning: {warning}")),
        "{out:?}"
    );
    assert_logged(&daemon, mark, &warning);
}

#[test]
fn start_of_a_running_bot_whose_parameters_changed_says_to_reload() {
    let daemon = botnet_daemon(&["my-bot-1"]);
    let pid = daemon.start_bot("my-bot-1");
    set_by_hand(
        &daemon,
        "my-bot-1",
        testbot(json!({"note": "my-bot-1", "log_every": 60})),
    );
    let runtime_before = std::fs::read(daemon.runtime_conf_path()).expect("read runtime.conf");

    let out = daemon.ctl(&["start", "my-bot-1"]);
    out.expect_code(0);
    assert!(
        out.stdout.contains("my-bot-1 is already running."),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains("To reload the new configuration, please execute reload action command."),
        "{out:?}"
    );
    assert_eq!(
        daemon.status_pid("my-bot-1"),
        Some(pid),
        "the bot was restarted"
    );
    assert!(
        !daemon.log_of("my-bot-1").contains("reloaded"),
        "start reloaded the bot"
    );
    assert_eq!(
        std::fs::read(daemon.runtime_conf_path()).expect("read runtime.conf"),
        runtime_before,
        "start changed runtime.conf"
    );
}
