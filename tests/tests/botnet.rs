//! Botnet commands: `start`, `stop`, `restart`, `reload` and `status` without a
//! bot id act on every bot with `botnet: true` (all at once), `--stream-bots`
//! and `--scheduled-bots` keep one run mode, `--all` takes every bot; and the
//! spec's scenarios 1 and 2 (a running bot removed from runtime.conf by hand).

use std::time::Duration;

use intelmqd_tests::botnet_helpers::{
    ctl_timed, missing_module_bot, outside_botnet, rows_by_id, scheduled_testbot, status_by_id,
    table_rows, EVERY_SECOND,
};
use intelmqd_tests::{pid_alive, testbot, Daemon, TIMEOUT};
use serde_json::{json, Value};

const MISSING_MODULE: &str = "intelmq-no-such-module";

/// The botnet bots of [`mixed`] that can run.
const NET_OK: [&str; 3] = ["net-running", "net-stopped", "net-sched"];
/// Its bots outside the botnet.
const SOLO: [&str; 3] = ["solo-running", "solo-stopped", "solo-sched"];

/// A mixed runtime.conf: botnet and non-botnet bots, stream and scheduled,
/// and (with `missing`) a botnet bot whose module is not on PATH.
fn mixed(missing: bool) -> Value {
    let mut runtime = json!({
        "net-running": testbot(json!({})),
        "net-stopped": testbot(json!({})),
        "net-sched": scheduled_testbot(EVERY_SECOND),
        "solo-running": outside_botnet(testbot(json!({}))),
        "solo-stopped": outside_botnet(testbot(json!({}))),
        "solo-sched": outside_botnet(scheduled_testbot(EVERY_SECOND)),
    });
    if missing {
        runtime["net-missing"] = missing_module_bot(MISSING_MODULE);
    }
    runtime
}

/// A daemon on [`mixed`] with `net-running` and `solo-running` started by id;
/// returns their pids.
fn mixed_daemon(missing: bool) -> (Daemon, u32, u32) {
    let daemon = Daemon::start(mixed(missing));
    let net = daemon.start_bot("net-running");
    let solo = daemon.start_bot("solo-running");
    (daemon, net, solo)
}

fn status_word(daemon: &Daemon, bot_id: &str) -> String {
    daemon.status_json(bot_id)["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[track_caller]
fn assert_status(daemon: &Daemon, bot_id: &str, expected: &str) {
    let status = daemon.status_json(bot_id);
    assert_eq!(status["status"], expected, "{bot_id}: {status}");
}

/// The stream bot runs with a live pid; returns it.
#[track_caller]
fn running_pid(daemon: &Daemon, bot_id: &str) -> u32 {
    let status = daemon.status_json(bot_id);
    assert_eq!(status["status"], "running", "{bot_id}: {status}");
    let pid = status["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("{bot_id} runs without a pid: {status}")) as u32;
    assert!(pid_alive(pid), "{bot_id}'s pid {pid} is not alive");
    pid
}

#[track_caller]
fn assert_stopped(daemon: &Daemon, bot_id: &str) {
    let status = daemon.status_json(bot_id);
    assert_eq!(status["status"], "stopped", "{bot_id}: {status}");
    assert_eq!(status["pid"], Value::Null, "{bot_id}: {status}");
}

/// The row of a scheduled bot that `stop` took off its schedule: `unscheduled`,
/// or `stopped` / `killed` when a run was going on (a tick every second).
#[track_caller]
fn assert_unscheduled(row: &Value) {
    let action = row["action"].as_str().unwrap_or_default();
    assert!(
        ["unscheduled", "stopped", "killed"].contains(&action),
        "taken off its schedule: {row}"
    );
    assert_eq!(row["status"], "stopped", "{row}");
}

#[test]
fn start_without_an_id_starts_the_botnet_and_reports_the_bot_that_cannot_start() {
    let (daemon, net_pid, solo_pid) = mixed_daemon(true);

    let out = daemon.ctl(&["start"]);
    out.expect_code(1);
    // Every botnet bot that can run runs, the scheduled one on its schedule.
    assert_eq!(
        running_pid(&daemon, "net-running"),
        net_pid,
        "the running one is kept"
    );
    let started = running_pid(&daemon, "net-stopped");
    assert_ne!(started, net_pid);
    let sched = daemon.status_json("net-sched");
    assert_eq!(sched["status"], "running", "on its schedule: {sched}");
    // Between runs `scheduled`; during one (a tick every second) `running`.
    assert!(
        sched["state"] == "scheduled" || sched["state"] == "running",
        "{sched}"
    );
    // The bots outside the botnet are untouched.
    assert_eq!(running_pid(&daemon, "solo-running"), solo_pid);
    assert_stopped(&daemon, "solo-stopped");
    assert_stopped(&daemon, "solo-sched");
    assert!(
        !daemon.log_of("solo-sched").contains("started (pid"),
        "solo-sched never ran"
    );
    // The bot whose module is missing failed, and says why.
    let rows = table_rows(&out.stdout);
    let missing_row = rows
        .iter()
        .find(|row| row.first().is_some_and(|id| id == "net-missing"))
        .unwrap_or_else(|| panic!("no row for net-missing: {out:?}"));
    assert_eq!(missing_row[1], "failed", "{out:?}");
    assert!(
        missing_row[3].contains(&format!(
            "module \"{MISSING_MODULE}\" is not an executable on PATH"
        )),
        "the row gives the reason: {out:?}"
    );
    assert_eq!(rows[0], ["bot_id", "action", "status", "detail"], "{out:?}");
    let ids: Vec<&str> = rows[1..].iter().map(|row| row[0].as_str()).collect();
    assert_eq!(
        ids,
        ["net-missing", "net-running", "net-sched", "net-stopped"],
        "one row a botnet bot and no other: {out:?}"
    );
    assert!(
        out.stderr.starts_with("intelmqctl: error: ") && out.stderr.contains("net-missing"),
        "{out:?}"
    );
    assert!(
        out.stdout.contains("net-stopped is running."),
        "the started bot's message: {out:?}"
    );

    // --json: one row a bot, ok false, exit 1 still.
    let out = daemon.ctl(&["--json", "start"]);
    out.expect_code(1);
    let reply = out.json();
    assert_eq!(reply["ok"], false, "{reply}");
    let rows = rows_by_id(&reply);
    assert_eq!(
        rows.keys().map(String::as_str).collect::<Vec<_>>(),
        ["net-missing", "net-running", "net-sched", "net-stopped"],
        "{reply}"
    );
    assert_eq!(rows["net-missing"]["action"], "failed", "{reply}");
    assert!(
        rows["net-missing"]["error"]
            .as_str()
            .is_some_and(|error| error.contains("is not an executable on PATH")),
        "{reply}"
    );
    assert_eq!(rows["net-running"]["action"], "already-running", "{reply}");
    assert_eq!(rows["net-running"]["pid"], net_pid, "{reply}");
    assert_eq!(rows["net-stopped"]["action"], "already-running", "{reply}");
    // The plan says `already-running` for any running bot; `already-scheduled`
    // would say more, and either is right.
    assert!(
        ["already-running", "already-scheduled"]
            .contains(&rows["net-sched"]["action"].as_str().unwrap_or_default()),
        "{reply}"
    );
    for id in NET_OK {
        assert_eq!(rows[id]["status"], "running", "{id}: {reply}");
    }
    assert_ne!(
        rows["net-missing"]["status"], "running",
        "the missing module bot does not run: {reply}"
    );
}

#[test]
fn start_stop_restart_reload_of_the_botnet_exit_0_when_every_bot_ends_as_asked() {
    let (daemon, net_pid, solo_pid) = mixed_daemon(false);

    let out = daemon.ctl(&["start"]);
    out.expect_code(0);
    let net_stopped_pid = running_pid(&daemon, "net-stopped");
    assert_eq!(running_pid(&daemon, "net-running"), net_pid);
    assert_status(&daemon, "net-sched", "running");
    assert_eq!(running_pid(&daemon, "solo-running"), solo_pid);
    assert_stopped(&daemon, "solo-stopped");
    assert_stopped(&daemon, "solo-sched");
    daemon.wait_for_log("net-stopped", &format!("started (pid {net_stopped_pid})"));
    // The scheduled bot actually runs on its schedule.
    daemon.wait_for_log("net-sched", "run finished");

    // reload: the running botnet bots get SIGHUP, the others nothing.
    let out = daemon.ctl(&["--json", "reload"]);
    out.expect_code(0);
    let reply = out.json();
    assert_eq!(reply["ok"], true, "{reply}");
    let rows = rows_by_id(&reply);
    assert_eq!(
        rows.keys().map(String::as_str).collect::<Vec<_>>(),
        ["net-running", "net-sched", "net-stopped"],
        "{reply}"
    );
    assert_eq!(rows["net-running"]["action"], "reloaded", "{reply}");
    assert_eq!(rows["net-stopped"]["action"], "reloaded", "{reply}");
    daemon.wait_for_log("net-running", "reloaded (count 1)");
    daemon.wait_for_log("net-stopped", "reloaded (count 1)");
    assert!(
        !daemon.log_of("solo-running").contains("reloaded"),
        "a bot outside the botnet is not reloaded"
    );
    assert_eq!(running_pid(&daemon, "net-running"), net_pid);

    // restart: new processes for the botnet's stream bots only.
    let out = daemon.ctl(&["--json", "restart"]);
    out.expect_code(0);
    let rows = rows_by_id(&out.json());
    assert_eq!(rows.len(), 3, "{out:?}");
    for id in NET_OK {
        assert_ne!(rows[id]["action"], "failed", "{id}: {out:?}");
        assert_eq!(rows[id]["status"], "running", "{id}: {out:?}");
    }
    let new_net = running_pid(&daemon, "net-running");
    let new_net_stopped = running_pid(&daemon, "net-stopped");
    assert_ne!(new_net, net_pid, "restart runs a new process");
    assert_ne!(
        new_net_stopped, net_stopped_pid,
        "restart runs a new process"
    );
    assert!(!pid_alive(net_pid) && !pid_alive(net_stopped_pid));
    assert_eq!(rows["net-running"]["pid"], new_net, "{out:?}");
    assert_status(&daemon, "net-sched", "running");
    assert_eq!(
        running_pid(&daemon, "solo-running"),
        solo_pid,
        "restart leaves a bot outside the botnet alone"
    );

    // stop: every botnet bot stops; solo-running keeps running. (What status
    // says of the scheduled bot afterwards is the test
    // `stop_takes_a_scheduled_botnet_bot_off_its_schedule`.)
    let out = daemon.ctl(&["stop"]);
    out.expect_code(0);
    assert!(out.stderr.is_empty(), "{out:?}");
    assert_stopped(&daemon, "net-running");
    assert_stopped(&daemon, "net-stopped");
    assert!(
        out.stdout
            .lines()
            .any(|line| line == "net-sched is unscheduled."),
        "{out:?}"
    );
    assert_stopped(&daemon, "net-sched");
    assert!(!pid_alive(new_net) && !pid_alive(new_net_stopped));
    assert_eq!(running_pid(&daemon, "solo-running"), solo_pid);
    let rows = table_rows(&out.stdout);
    assert_eq!(rows.len(), 4, "a header and 3 rows: {out:?}");

    // reload of a stopped botnet: nothing to do, not an error.
    let out = daemon.ctl(&["--json", "reload"]);
    out.expect_code(0);
    let reply = out.json();
    assert_eq!(reply["ok"], true, "{reply}");
    let rows = rows_by_id(&reply);
    assert_eq!(rows["net-running"]["action"], "not-running", "{reply}");
    assert_eq!(rows["net-stopped"]["action"], "not-running", "{reply}");
    assert_ne!(rows["net-sched"]["action"], "failed", "{reply}");
    assert_stopped(&daemon, "net-running");
    assert_stopped(&daemon, "net-stopped");
    assert_eq!(
        daemon
            .log_of("net-stopped")
            .matches("reloaded (count")
            .count(),
        1,
        "only the first reload reached a process"
    );

    // stop again: already stopped, exit 0.
    let out = daemon.ctl(&["--json", "stop"]);
    out.expect_code(0);
    let rows = rows_by_id(&out.json());
    assert_eq!(rows["net-running"]["action"], "already-stopped", "{out:?}");
    assert_eq!(running_pid(&daemon, "solo-running"), solo_pid);
}

#[test]
fn reload_of_a_partly_running_botnet_reloads_the_running_bots_only() {
    let (daemon, net_pid, solo_pid) = mixed_daemon(false);

    let out = daemon.ctl(&["reload"]);
    out.expect_code(0);
    assert!(out.stderr.is_empty(), "not an error: {out:?}");
    daemon.wait_for_log("net-running", "reloaded (count 1)");
    assert_eq!(running_pid(&daemon, "net-running"), net_pid);
    assert_stopped(&daemon, "net-stopped");
    assert_stopped(&daemon, "net-sched");
    assert_eq!(daemon.log_of("net-stopped"), "", "never started");
    assert!(!daemon.log_of("solo-running").contains("reloaded"));
    assert_eq!(running_pid(&daemon, "solo-running"), solo_pid);
    let rows = table_rows(&out.stdout);
    let row = |id: &str| {
        rows.iter()
            .find(|row| row[0] == id)
            .unwrap_or_else(|| panic!("no row for {id}: {out:?}"))
            .clone()
    };
    assert_eq!(row("net-running")[1], "reloaded", "{out:?}");
    assert_eq!(row("net-stopped")[1], "not-running", "{out:?}");
    assert_eq!(row("net-stopped")[2], "stopped", "{out:?}");
}

#[test]
fn status_without_an_id_is_the_table_of_the_botnet_without_log_lines() {
    let (daemon, _, _) = mixed_daemon(true);

    let out = daemon.ctl(&["status"]);
    out.expect_code(0);
    let rows = table_rows(&out.stdout);
    assert_eq!(
        rows[0],
        [
            "bot_id",
            "run_mode",
            "scheduled_time (if applicable)",
            "is on botnet",
            "status",
            "enabled_on_boot",
            "configtest"
        ],
        "{out:?}"
    );
    let ids: Vec<&str> = rows[1..].iter().map(|row| row[0].as_str()).collect();
    assert_eq!(
        ids,
        ["net-missing", "net-running", "net-sched", "net-stopped"],
        "only the botnet: {out:?}"
    );
    let row = |id: &str| rows.iter().find(|row| row[0] == id).expect("a row").clone();
    assert_eq!(
        row("net-running"),
        [
            "net-running",
            "stream",
            "-",
            "true",
            "running",
            "no",
            "valid"
        ],
        "{out:?}"
    );
    assert_eq!(
        row("net-sched"),
        [
            "net-sched",
            "scheduled",
            EVERY_SECOND,
            "true",
            "stopped",
            "no",
            "valid"
        ],
        "{out:?}"
    );
    assert_eq!(row("net-stopped")[4], "stopped", "{out:?}");
    assert!(!out.stdout.contains("log lines of"), "{out:?}");
    assert!(!out.stdout.contains("started (pid"), "{out:?}");
    assert!(!out.stdout.contains("is empty"), "{out:?}");

    // --json: the same bots.
    let all = status_by_id(&daemon, &[]);
    assert_eq!(
        all.keys().map(String::as_str).collect::<Vec<_>>(),
        ["net-missing", "net-running", "net-sched", "net-stopped"]
    );
    // --all: the bots outside the botnet too.
    let all = status_by_id(&daemon, &["--all"]);
    assert_eq!(all.len(), 7, "{all:?}");
    assert_eq!(all["solo-running"]["status"], "running");
    assert_eq!(all["solo-running"]["botnet"], false);
    // One run mode.
    let stream = status_by_id(&daemon, &["--stream-bots"]);
    assert_eq!(
        stream.keys().map(String::as_str).collect::<Vec<_>>(),
        ["net-missing", "net-running", "net-stopped"]
    );
    let scheduled = status_by_id(&daemon, &["--scheduled-bots"]);
    assert_eq!(
        scheduled.keys().map(String::as_str).collect::<Vec<_>>(),
        ["net-sched"]
    );
    let scheduled = status_by_id(&daemon, &["--all", "--scheduled-bots"]);
    assert_eq!(
        scheduled.keys().map(String::as_str).collect::<Vec<_>>(),
        ["net-sched", "solo-sched"]
    );
    // The human table with --all has every bot.
    let out = daemon.ctl(&["status", "--all"]);
    out.expect_code(0);
    assert_eq!(table_rows(&out.stdout).len(), 8, "{out:?}");
}

#[test]
fn run_mode_flags_act_on_that_run_mode_only() {
    let (daemon, net_pid, solo_pid) = mixed_daemon(false);

    // Only the scheduled botnet bot.
    let out = daemon.ctl(&["--json", "start", "--scheduled-bots"]);
    out.expect_code(0);
    let rows = rows_by_id(&out.json());
    assert_eq!(
        rows.keys().map(String::as_str).collect::<Vec<_>>(),
        ["net-sched"],
        "{out:?}"
    );
    assert_eq!(rows["net-sched"]["action"], "scheduled", "{out:?}");
    assert_status(&daemon, "net-sched", "running");
    assert_stopped(&daemon, "net-stopped");
    assert_stopped(&daemon, "solo-sched");

    // Only the stream botnet bots.
    let out = daemon.ctl(&["--json", "start", "--stream-bots"]);
    out.expect_code(0);
    let rows = rows_by_id(&out.json());
    assert_eq!(
        rows.keys().map(String::as_str).collect::<Vec<_>>(),
        ["net-running", "net-stopped"],
        "{out:?}"
    );
    assert_eq!(rows["net-stopped"]["action"], "started", "{out:?}");
    running_pid(&daemon, "net-stopped");
    assert_stopped(&daemon, "solo-stopped");

    // Stop the stream bots: the scheduled one stays on its schedule.
    let out = daemon.ctl(&["stop", "--stream-bots"]);
    out.expect_code(0);
    assert_stopped(&daemon, "net-running");
    assert_stopped(&daemon, "net-stopped");
    assert!(!pid_alive(net_pid));
    assert_status(&daemon, "net-sched", "running");
    assert_eq!(running_pid(&daemon, "solo-running"), solo_pid);

    // --all --stream-bots: every stream bot, in the botnet or not.
    let out = daemon.ctl(&["--json", "start", "--all", "--stream-bots"]);
    out.expect_code(0);
    let rows = rows_by_id(&out.json());
    assert_eq!(
        rows.keys().map(String::as_str).collect::<Vec<_>>(),
        ["net-running", "net-stopped", "solo-running", "solo-stopped"],
        "{out:?}"
    );
    assert_eq!(rows["solo-running"]["action"], "already-running", "{out:?}");
    for id in ["net-running", "net-stopped", "solo-stopped"] {
        running_pid(&daemon, id);
    }
    assert_stopped(&daemon, "solo-sched");

    // --scheduled-bots stop: the scheduled botnet bot leaves its schedule.
    let out = daemon.ctl(&["--json", "stop", "--scheduled-bots"]);
    out.expect_code(0);
    let rows = rows_by_id(&out.json());
    assert_eq!(
        rows.keys().map(String::as_str).collect::<Vec<_>>(),
        ["net-sched"],
        "{out:?}"
    );
    assert_unscheduled(&rows["net-sched"]);
    assert_stopped(&daemon, "net-sched");
    running_pid(&daemon, "net-running");

    // --all stop: everything stops.
    let out = daemon.ctl(&["--json", "stop", "--all"]);
    out.expect_code(0);
    let rows = rows_by_id(&out.json());
    assert_eq!(rows.len(), 6, "{out:?}");
    assert_eq!(rows["net-sched"]["action"], "already-stopped", "{out:?}");
    assert_eq!(rows["solo-sched"]["action"], "already-stopped", "{out:?}");
    for id in NET_OK.iter().chain(SOLO.iter()) {
        assert_stopped(&daemon, id);
    }
    daemon.wait_until(TIMEOUT, "no test bot process is left", || {
        daemon.bot_processes().is_empty()
    });
}

#[test]
fn all_acts_on_the_bots_outside_the_botnet_too() {
    let (daemon, _, solo_pid) = mixed_daemon(false);

    let out = daemon.ctl(&["--json", "start", "--all"]);
    out.expect_code(0);
    let rows = rows_by_id(&out.json());
    assert_eq!(rows.len(), 6, "{out:?}");
    for id in NET_OK.iter().chain(SOLO.iter()) {
        assert_status(&daemon, id, "running");
    }
    assert_eq!(rows["solo-sched"]["action"], "scheduled", "{out:?}");
    assert_eq!(rows["solo-stopped"]["action"], "started", "{out:?}");

    let out = daemon.ctl(&["--json", "reload", "--all"]);
    out.expect_code(0);
    daemon.wait_for_log("solo-running", "reloaded (count 1)");
    daemon.wait_for_log("solo-stopped", "reloaded (count 1)");

    let out = daemon.ctl(&["restart", "--all"]);
    out.expect_code(0);
    let new_solo = running_pid(&daemon, "solo-running");
    assert_ne!(new_solo, solo_pid, "restart --all restarts it");

    let out = daemon.ctl(&["--json", "stop", "--all"]);
    out.expect_code(0);
    let rows = rows_by_id(&out.json());
    for id in ["net-sched", "solo-sched"] {
        assert_unscheduled(&rows[id]);
    }
    for id in NET_OK.iter().chain(SOLO.iter()) {
        assert_stopped(&daemon, id);
    }
    assert!(!pid_alive(new_solo));
}

/// After `stop`, a scheduled botnet bot is off its schedule: status says
/// stopped (not "running" = scheduled), and the next `start` schedules it
/// again rather than finding it "already running".
#[test]
fn stop_takes_a_scheduled_botnet_bot_off_its_schedule() {
    let daemon = Daemon::start(json!({
        "stream": testbot(json!({})),
        "sched": scheduled_testbot(EVERY_SECOND),
        "sched-idle": scheduled_testbot("0 0 1 1 *"),
    }));
    daemon.ctl(&["start"]).expect_code(0);
    for id in ["sched", "sched-idle"] {
        let status = daemon.status_json(id);
        assert_eq!(status["status"], "running", "{id}: {status}");
        assert!(
            status["state"] == "scheduled" || status["state"] == "running",
            "{id}: {status}"
        );
    }
    // One run of `sched` has been and gone; `sched-idle` never runs.
    daemon.wait_for_log("sched", "run finished");
    daemon.wait_until(TIMEOUT, "the run of sched has been reaped", || {
        daemon.status_json("sched")["pid"].is_null()
    });

    let out = daemon.ctl(&["--json", "stop"]);
    out.expect_code(0);
    let rows = rows_by_id(&out.json());
    assert_eq!(rows["sched-idle"]["action"], "unscheduled", "{out:?}");
    assert_unscheduled(&rows["sched"]);
    for id in ["sched", "sched-idle"] {
        assert_eq!(
            rows[id]["status"], "stopped",
            "{id}: the row's status: {out:?}"
        );
    }
    for id in ["sched", "sched-idle"] {
        let status = daemon.status_json(id);
        assert_eq!(status["status"], "stopped", "{id} after stop: {status}");
        assert_ne!(status["state"], "scheduled", "{id} after stop: {status}");
    }
    let out = daemon.ctl(&["--json", "start"]);
    out.expect_code(0);
    let rows = rows_by_id(&out.json());
    assert_eq!(rows["sched-idle"]["action"], "scheduled", "{out:?}");
}

#[test]
fn scenario_1_botnet_start_keeps_a_removed_running_bot_and_writes_it_back() {
    let bot1 = testbot(json!({"log_every": 3600}));
    let daemon = Daemon::start(json!({
        "my-bot-1": bot1,
        "my-bot-other": testbot(json!({})),
    }));
    daemon.ctl(&["start"]).expect_code(0);
    let pid1 = running_pid(&daemon, "my-bot-1");
    let other = running_pid(&daemon, "my-bot-other");

    // The operator removes my-bot-1 without stopping it, and adds my-bot-2.
    daemon.write_runtime_conf(&json!({
        "my-bot-other": testbot(json!({})),
        "my-bot-2": testbot(json!({})),
    }));
    let out = daemon.ctl(&["start"]);
    out.expect_code(0);
    let warning = "warning: intelmqctl detected that bot my-bot-1 is still running but has been removed from user runtime configuration. intelmqctl added it to the user runtime configuration. Please first stop the bot, and remove it afterwards.";
    assert!(
        out.stdout.lines().any(|line| line == warning),
        "the spec's warning: {out:?}"
    );
    assert_eq!(running_pid(&daemon, "my-bot-1"), pid1, "kept running");
    assert_eq!(running_pid(&daemon, "my-bot-other"), other, "untouched");
    let pid2 = running_pid(&daemon, "my-bot-2");
    assert!(out.stdout.contains("my-bot-2 is running."), "{out:?}");
    // Written back, as it was.
    let runtime = daemon.read_runtime_conf();
    assert_eq!(runtime["my-bot-1"], bot1, "{runtime}");
    assert_eq!(runtime["my-bot-2"], testbot(json!({})), "{runtime}");
    assert_eq!(status_word(&daemon, "my-bot-1"), "running");

    // The next start finds nothing to say about it.
    let out = daemon.ctl(&["start"]);
    out.expect_code(0);
    assert!(!out.stdout.contains("warning:"), "{out:?}");
    assert_eq!(running_pid(&daemon, "my-bot-2"), pid2);
}

#[test]
fn scenario_2_botnet_stop_stops_a_removed_running_bot_and_writes_it_back() {
    let bot1 = testbot(json!({"log_every": 3600}));
    let daemon = Daemon::start(json!({
        "my-bot-1": bot1,
        "my-bot-2": testbot(json!({})),
        "my-bot-4": testbot(json!({})),
    }));
    daemon.ctl(&["start"]).expect_code(0);
    let pid1 = running_pid(&daemon, "my-bot-1");
    let pid4 = running_pid(&daemon, "my-bot-4");

    // Removed by hand while running; my-bot-2 stopped properly; my-bot-3 new.
    daemon.write_runtime_conf(&json!({
        "my-bot-2": testbot(json!({})),
        "my-bot-3": testbot(json!({})),
        "my-bot-4": testbot(json!({})),
    }));
    daemon.ctl(&["stop", "my-bot-2"]).expect_code(0);

    let out = daemon.ctl(&["--json", "stop"]);
    out.expect_code(0);
    let reply = out.json();
    assert_eq!(reply["ok"], true, "{reply}");
    let rows = rows_by_id(&reply);
    assert_eq!(
        rows.keys().map(String::as_str).collect::<Vec<_>>(),
        ["my-bot-1", "my-bot-2", "my-bot-3", "my-bot-4"],
        "{reply}"
    );
    assert_eq!(rows["my-bot-1"]["action"], "stopped", "{reply}");
    assert_eq!(rows["my-bot-2"]["action"], "already-stopped", "{reply}");
    assert_eq!(rows["my-bot-3"]["action"], "already-stopped", "{reply}");
    assert_eq!(rows["my-bot-4"]["action"], "stopped", "{reply}");
    let warnings: Vec<&Value> = reply["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|message| message["level"] == "warning")
        .collect();
    assert_eq!(warnings.len(), 1, "{reply}");
    let text = warnings[0]["text"].as_str().expect("a text");
    assert!(
        text.starts_with("intelmqctl detected that bot with `bot_id: my-bot-1` ")
            && text.contains("was running but has been removed from admin runtime configuration. intelmqctl stopped it and added it to the admin runtime configuration. Please first stop the bot, and remove it afterwards."),
        "the spec's warning: {text}"
    );
    assert!(!pid_alive(pid1), "my-bot-1 was stopped");
    assert!(!pid_alive(pid4));
    assert_stopped(&daemon, "my-bot-1");
    assert_eq!(daemon.log_of("my-bot-3"), "", "my-bot-3 never started");
    let runtime = daemon.read_runtime_conf();
    assert_eq!(runtime["my-bot-1"], bot1, "written back: {runtime}");
    assert_eq!(runtime.as_object().map(|o| o.len()), Some(4), "{runtime}");
}

#[test]
fn a_botnet_stop_waits_for_its_bots_at_once() {
    let stubborn = testbot(json!({"ignore_sigterm": true}));
    let ids = ["s1", "s2", "s3", "s4", "s5"];
    let runtime: serde_json::Map<String, Value> = ids
        .iter()
        .map(|id| (id.to_string(), stubborn.clone()))
        .collect();
    let daemon = Daemon::builder()
        .runtime(Value::Object(runtime))
        .defaults(json!({"process_manager": "pid", "stop_timeout": 2}))
        .start();
    daemon.ctl(&["start"]).expect_code(0);
    let pids: Vec<u32> = ids
        .iter()
        .map(|id| {
            let pid = running_pid(&daemon, id);
            daemon.wait_for_log(id, &format!("started (pid {pid})"));
            pid
        })
        .collect();

    let (out, took) = ctl_timed(&daemon, &["--json", "stop"], Duration::from_secs(60));
    println!("botnet stop of 5 bots ignoring SIGTERM (stop_timeout 2 s) took {took:?}");
    out.expect_code(0);
    let rows = rows_by_id(&out.json());
    for id in ids {
        assert_eq!(rows[id]["action"], "killed", "{id}: {out:?}");
    }
    for pid in pids {
        assert!(!pid_alive(pid), "{pid} was killed");
    }
    assert!(
        took >= Duration::from_secs(2),
        "SIGKILL comes only after the stop timeout: {took:?}"
    );
    assert!(
        took < Duration::from_secs(8),
        "the bots are stopped at once, not one after the other (5 x 2 s): {took:?}"
    );
}
