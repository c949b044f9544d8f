//! intelmqd's systemd process manager against a real systemd: each test runs
//! its own isolated `systemd --user` manager ([`UserManager`], ready in about
//! 0.2 s) with the bot template unit `intelmq-bot@.service` installed for the
//! test's directories, and the real `intelmqd` configured with
//! `"process_manager": "systemd"` and `"systemd_instance": "user"`, whose
//! `systemctl --user` reaches that manager through its environment. Every
//! command goes through the real `intelmqctl`; what is checked is what an
//! operator sees: `intelmqctl --json status`, the messages, exit codes,
//! runtime.conf, the bots' logs and processes, and systemd's own view of the
//! units (`systemctl --user show`, `is-enabled`).
//!
//! Without root, systemd or cgroup2 the tests are skipped with the reason on
//! stderr; with `CI=true` they fail instead.

use std::collections::BTreeMap;
use std::time::Duration;

use intelmqd_tests::schedule_helpers::scheduled_testbot;
use intelmqd_tests::systemd::UserManager;
use intelmqd_tests::systemd_daemon::{
    bot_processes_of, builder_for, install_bot_template, install_drop_in,
    restart_policy_like_the_unit, start_under_systemd, systemd_defaults, unit_is, unit_of,
    wait_for_unit_bot, wait_until_no_process_of, FAST_RESTART_DROP_IN,
};
use intelmqd_tests::{botnet_of, pid_alive, testbot, CtlOutput, Daemon, TIMEOUT};
use nix::sys::signal::Signal;
use serde_json::{json, Map, Value};

/// A 6-field schedule (with seconds) that ticks every two seconds.
const EVERY_TWO_SECONDS: &str = "*/2 * * * * *";

/// The texts of the messages of an `intelmqctl --json` answer.
fn message_texts(output: &CtlOutput) -> Vec<String> {
    output.json()["messages"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .filter_map(|message| message["text"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Panics, showing the whole answer, unless a message of it is `text`.
#[track_caller]
fn assert_says(output: &CtlOutput, text: &str) {
    assert!(
        message_texts(output).iter().any(|said| said == text),
        "no message {text:?}\n{output:?}"
    );
}

/// `intelmqctl --json status <bot_id>`: the bot's one object.
#[track_caller]
fn ctl_status(daemon: &Daemon, bot_id: &str) -> Value {
    let output = daemon.ctl(&["--json", "status", bot_id]);
    output.expect_code(0);
    let status = output.json()[0].clone();
    assert_eq!(status["bot_id"], json!(bot_id), "{output:?}");
    status
}

/// Waits until `intelmqctl --json status <bot_id>` says `wanted`; returns
/// that status object.
#[track_caller]
fn wait_for_status(daemon: &Daemon, bot_id: &str, wanted: &str) -> Value {
    let mut status = Value::Null;
    daemon.wait_until(TIMEOUT, &format!("{bot_id} is {wanted}"), || {
        status = ctl_status(daemon, bot_id);
        status["status"] == json!(wanted)
    });
    status
}

/// `systemctl --user is-enabled` of the bot's unit.
fn is_enabled(manager: &UserManager, bot_id: &str) -> String {
    manager
        .systemctl(&["is-enabled", &unit_of(bot_id)])
        .stdout
        .trim()
        .to_string()
}

/// The `onboot` of a bot's entry in runtime.conf as it is on disk.
fn onboot_in_file(daemon: &Daemon, bot_id: &str) -> Value {
    daemon
        .runtime_entry(bot_id)
        .map(|entry| entry["onboot"].clone())
        .unwrap_or(Value::Null)
}

/// defaults.conf for the PID process manager, with the systemd manager of
/// the tests named, as an operator switching between the two keeps it: a bot
/// still running under systemd is reached there.
fn pid_defaults() -> Value {
    json!({"process_manager": "pid", "systemd_instance": "user", "stop_timeout": 1})
}

/// A stream test bot that exits with code 3 after `seconds`.
fn exiting_bot(seconds: f64) -> Value {
    testbot(json!({"exit_after": seconds, "exit_code": 3}))
}

#[test]
fn start_runs_the_bot_as_its_unit_and_stop_leaves_nothing() {
    let Some(manager) =
        UserManager::start_or_skip("start_runs_the_bot_as_its_unit_and_stop_leaves_nothing")
    else {
        return;
    };
    let daemon = start_under_systemd(&manager, botnet_of(&["a", "other"]));
    let unit = unit_of("a");

    let start = daemon.ctl(&["--json", "start", "a"]);
    start.expect_code(0);
    assert_says(
        &start,
        "Executed `systemctl --user start intelmq-bot@a.service`.",
    );
    assert_says(&start, "a is running.");
    let pid = wait_for_unit_bot(&manager, &daemon, "a");
    let status = ctl_status(&daemon, "a");
    assert_eq!(status["status"], json!("running"), "{status}");
    assert_eq!(status["pid"], json!(pid), "{status}");
    assert_eq!(manager.main_pid(&unit), Some(pid));
    // systemd runs the bot, not the daemon: the manager is its parent, and
    // the daemon keeps no pid file of its own for it.
    let parent = intelmqd_tests::procfs::stat(pid).map(|stat| stat.ppid);
    assert_eq!(parent, Some(manager.pid()), "the parent of the bot {pid}");
    assert_eq!(daemon.read_pid_file("a"), None);
    // Only the bot asked for runs.
    assert!(unit_is(&manager, "other", "inactive"));
    assert_eq!(ctl_status(&daemon, "other")["status"], json!("stopped"));

    let again = daemon.ctl(&["--json", "start", "a"]);
    again.expect_code(0);
    assert_says(&again, "a is already running.");
    assert_eq!(
        manager.main_pid(&unit),
        Some(pid),
        "a second start restarted it"
    );

    let stop = daemon.ctl(&["--json", "stop", "a"]);
    stop.expect_code(0);
    assert_says(
        &stop,
        "Executed `systemctl --user stop intelmq-bot@a.service`.",
    );
    assert_says(&stop, "a is stopped.");
    assert!(
        unit_is(&manager, "a", "inactive"),
        "{}",
        manager.unit_report(&unit)
    );
    let status = ctl_status(&daemon, "a");
    assert_eq!(status["status"], json!("stopped"), "{status}");
    assert_eq!(status["pid"], Value::Null, "{status}");
    assert!(!pid_alive(pid), "the bot {pid} outlived its stop");
    wait_until_no_process_of(&daemon, "a");
    daemon.wait_for_log("a", "received SIGTERM, exiting");

    let again = daemon.ctl(&["--json", "stop", "a"]);
    again.expect_code(0);
    assert_says(&again, "a is already stopped.");
    // The units were read over D-Bus all along, not with `systemctl show`.
    let stderr = daemon.stderr();
    assert!(
        !stderr.contains("cannot read the bots' units over D-Bus"),
        "{stderr}"
    );
}

/// Status is answered from the units the daemon keeps current from the
/// manager's signals; how long a change made elsewhere may take to show.
const SIGNAL_DEADLINE: Duration = Duration::from_secs(5);

/// Waits until `intelmqctl --json status <bot_id>` satisfies `wanted`.
#[track_caller]
fn wait_for_status_where(
    daemon: &Daemon,
    bot_id: &str,
    what: &str,
    mut wanted: impl FnMut(&Value) -> bool,
) -> Value {
    let mut status = Value::Null;
    daemon.wait_until(SIGNAL_DEADLINE, what, || {
        status = ctl_status(daemon, bot_id);
        wanted(&status)
    });
    status
}

#[test]
fn changes_made_behind_the_daemons_back_show_in_status() {
    let Some(manager) =
        UserManager::start_or_skip("changes_made_behind_the_daemons_back_show_in_status")
    else {
        return;
    };
    let daemon = start_under_systemd(&manager, botnet_of(&["a", "b"]));
    let unit = unit_of("a");
    daemon.ctl(&["start", "a"]).expect_code(0);
    let pid = wait_for_unit_bot(&manager, &daemon, "a");
    // Read, and so kept by the daemon.
    for _ in 0..3 {
        let status = ctl_status(&daemon, "a");
        assert_eq!(status["pid"], json!(pid), "{status}");
        assert_eq!(
            daemon
                .ctl(&["--json", "status"])
                .json()
                .as_array()
                .map(Vec::len),
            Some(2)
        );
    }

    manager.systemctl_ok(&["stop", &unit]);
    let stopped = wait_for_status_where(&daemon, "a", "a shows stopped", |status| {
        status["status"] == json!("stopped")
    });
    assert_eq!(stopped["pid"], Value::Null, "{stopped}");

    manager.systemctl_ok(&["start", &unit]);
    let status = wait_for_status_where(&daemon, "a", "a shows running again", |status| {
        status["status"] == json!("running") && status["pid"] != json!(pid)
    });
    let pid = manager
        .main_pid(&unit)
        .unwrap_or_else(|| panic!("{}", manager.unit_report(&unit)));
    assert_eq!(status["pid"], json!(pid), "{status}");

    // A crash: systemd restarts the bot (Restart=on-failure), counted.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL)
        .unwrap_or_else(|error| panic!("kill {pid}: {error}"));
    let restarted = wait_for_status_where(&daemon, "a", "a runs again after its crash", |status| {
        status["status"] == json!("running")
            && status["restarts"] == json!(1)
            && status["pid"] != json!(pid)
            && status["pid"] != Value::Null
    });
    assert_eq!(
        restarted["pid"],
        json!(manager.main_pid(&unit)),
        "{restarted}"
    );
    // b was never touched.
    assert_eq!(ctl_status(&daemon, "b")["status"], json!("stopped"));

    daemon.ctl(&["stop", "a"]).expect_code(0);
    assert_eq!(ctl_status(&daemon, "a")["status"], json!("stopped"));
    // The units were followed from the manager's signals all along.
    let stderr = daemon.stderr();
    assert!(
        !stderr.contains("cannot follow the bots' units"),
        "{stderr}"
    );
}

#[test]
fn reload_signals_the_unit_and_a_bot_with_reload_restart_is_restarted() {
    let Some(manager) = UserManager::start_or_skip(
        "reload_signals_the_unit_and_a_bot_with_reload_restart_is_restarted",
    ) else {
        return;
    };
    let mut restarting = testbot(json!({"note": "restarting"}));
    restarting["reload"] = json!("restart");
    let daemon = start_under_systemd(
        &manager,
        json!({"signalled": testbot(json!({})), "restarting": restarting}),
    );
    daemon.ctl(&["start", "signalled"]).expect_code(0);
    daemon.ctl(&["start", "restarting"]).expect_code(0);
    let signalled = wait_for_unit_bot(&manager, &daemon, "signalled");
    let restarted = wait_for_unit_bot(&manager, &daemon, "restarting");

    let reload = daemon.ctl(&["--json", "reload", "signalled"]);
    reload.expect_code(0);
    assert_says(
        &reload,
        "Executed `systemctl --user reload intelmq-bot@signalled.service`.",
    );
    daemon.wait_for_log("signalled", "reloaded (count 1)");
    let status = ctl_status(&daemon, "signalled");
    assert_eq!(status["pid"], json!(signalled), "{status}");
    assert_eq!(manager.main_pid(&unit_of("signalled")), Some(signalled));
    assert_eq!(status["reload"]["mode"], json!("signal"), "{status}");
    assert_eq!(status["reload"]["applied"], json!(false), "{status}");
    assert!(status["reload"]["at"].is_u64(), "{status}");

    let reload = daemon.ctl(&["--json", "reload", "restarting"]);
    reload.expect_code(0);
    assert_says(
        &reload,
        "Executed `systemctl --user restart intelmq-bot@restarting.service`.",
    );
    let new_pid = wait_for_unit_bot(&manager, &daemon, "restarting");
    assert_ne!(new_pid, restarted, "reload: restart kept the old process");
    assert!(
        !pid_alive(restarted),
        "the old process {restarted} is still alive"
    );
    let status = ctl_status(&daemon, "restarting");
    assert_eq!(status["reload"]["mode"], json!("restart"), "{status}");
    assert_eq!(status["reload"]["applied"], json!(true), "{status}");
    // A restart is not a SIGHUP: the new process saw no reload signal.
    assert!(!daemon.log_of("restarting").contains("reloaded (count"));
}

#[test]
fn enable_and_disable_set_the_units_enablement_and_onboot_in_runtime_conf() {
    let Some(manager) = UserManager::start_or_skip(
        "enable_and_disable_set_the_units_enablement_and_onboot_in_runtime_conf",
    ) else {
        return;
    };
    let daemon = start_under_systemd(
        &manager,
        json!({
            "a": testbot(json!({})),
            "s": scheduled_testbot("0 0 * * *", json!({})),
        }),
    );
    assert_eq!(is_enabled(&manager, "a"), "disabled");

    let enable = daemon.ctl(&["--json", "enable", "a"]);
    enable.expect_code(0);
    assert_says(
        &enable,
        "Executed `systemctl --user enable intelmq-bot@a.service`.",
    );
    assert_eq!(is_enabled(&manager, "a"), "enabled");
    assert_eq!(onboot_in_file(&daemon, "a"), json!(true));
    // Enabling is for the next boot: nothing starts now.
    assert!(unit_is(&manager, "a", "inactive"));
    assert_eq!(ctl_status(&daemon, "a")["onboot"], json!(true));

    let disable = daemon.ctl(&["--json", "disable", "a"]);
    disable.expect_code(0);
    assert_says(
        &disable,
        "Executed `systemctl --user disable intelmq-bot@a.service`.",
    );
    assert_eq!(is_enabled(&manager, "a"), "disabled");
    assert_eq!(onboot_in_file(&daemon, "a"), json!(false));
    assert_eq!(ctl_status(&daemon, "a")["onboot"], json!(false));

    // A scheduled bot has no unit: only runtime.conf changes, and the
    // daemon puts it on its schedule when it starts.
    let wants = manager.unit_dir().join("default.target.wants");
    let enable = daemon.ctl(&["--json", "enable", "s"]);
    enable.expect_code(0);
    assert_says(
        &enable,
        "s is put on its schedule each time intelmqd starts.",
    );
    assert!(
        !message_texts(&enable)
            .iter()
            .any(|text| text.contains("systemctl")),
        "{enable:?}"
    );
    assert_eq!(onboot_in_file(&daemon, "s"), json!(true));
    assert_eq!(is_enabled(&manager, "s"), "disabled");
    assert!(!wants.join(unit_of("s")).exists());
    assert_eq!(ctl_status(&daemon, "s")["status"], json!("stopped"));

    let disable = daemon.ctl(&["--json", "disable", "s"]);
    disable.expect_code(0);
    assert_says(
        &disable,
        "s is no longer put on its schedule when intelmqd starts.",
    );
    assert_eq!(onboot_in_file(&daemon, "s"), json!(false));
}

#[test]
fn botnet_start_and_stop_cover_every_unit_and_the_scheduled_bot() {
    let Some(manager) =
        UserManager::start_or_skip("botnet_start_and_stop_cover_every_unit_and_the_scheduled_bot")
    else {
        return;
    };
    let mut runtime = botnet_of(&["a", "b", "c"]);
    runtime["s"] = scheduled_testbot(EVERY_TWO_SECONDS, json!({"run_for": 0.1}));
    let daemon = start_under_systemd(&manager, runtime);

    daemon.ctl(&["start"]).expect_code(0);
    let mut pids = BTreeMap::new();
    for bot_id in ["a", "b", "c"] {
        pids.insert(bot_id, wait_for_unit_bot(&manager, &daemon, bot_id));
    }
    let s = ctl_status(&daemon, "s");
    assert_eq!(s["status"], json!("running"), "{s}");
    assert!(s["schedule"]["next_run"].is_u64(), "{s}");
    // The daemon's scheduler runs it: a run happens, and its unit never ran.
    daemon.wait_for_finished_runs("s", 1, TIMEOUT);
    assert!(unit_is(&manager, "s", "inactive"));
    assert_eq!(manager.property(&unit_of("s"), "ExecMainPID"), "0");

    daemon.ctl(&["stop"]).expect_code(0);
    for (bot_id, pid) in &pids {
        assert!(unit_is(&manager, bot_id, "inactive"), "{bot_id}");
        assert_eq!(ctl_status(&daemon, bot_id)["status"], json!("stopped"));
        assert!(
            !pid_alive(*pid),
            "{bot_id}'s process {pid} outlived the stop"
        );
    }
    let s = ctl_status(&daemon, "s");
    assert_eq!(s["status"], json!("stopped"), "{s}");
    assert_eq!(s["schedule"]["next_run"], Value::Null, "{s}");
    daemon.wait_until(TIMEOUT, "no bot process is left", || {
        daemon.bot_processes().is_empty()
    });
}

#[test]
fn a_crashing_bot_ends_failed_with_its_exit_and_systemds_restart_count() {
    let Some(manager) = UserManager::start_or_skip(
        "a_crashing_bot_ends_failed_with_its_exit_and_systemds_restart_count",
    ) else {
        return;
    };
    let daemon = start_under_systemd(
        &manager,
        json!({
            "exits": exiting_bot(0.5),
            "aborts": testbot(json!({"crash_after": 0.5})),
        }),
    );
    // Keeps the crash loop short; the start limit stays the shipped one.
    install_drop_in(
        &manager,
        "intelmq-bot@.service",
        "fast-restart",
        FAST_RESTART_DROP_IN,
    );
    daemon.ctl(&["start", "exits"]).expect_code(0);
    daemon.ctl(&["start", "aborts"]).expect_code(0);

    let exits = wait_for_status(&daemon, "exits", "failed");
    assert_eq!(exits["last_exit"]["code"], json!(3), "{exits}");
    assert_eq!(exits["last_exit"]["signal"], Value::Null, "{exits}");
    assert_eq!(exits["pid"], Value::Null, "{exits}");
    // Five starts in 60 s (the unit's StartLimitBurst): the operator's, then
    // four automatic restarts; the sixth is refused.
    assert_eq!(exits["restarts"], json!(4), "{exits}");
    assert_eq!(
        daemon
            .log_of("exits")
            .matches("exiting with code 3")
            .count(),
        5,
        "{}",
        daemon.log_of("exits")
    );
    assert!(unit_is(&manager, "exits", "failed"));

    let aborts = wait_for_status(&daemon, "aborts", "failed");
    assert_eq!(aborts["last_exit"]["signal"], json!(6), "{aborts}");
    assert_eq!(aborts["last_exit"]["code"], Value::Null, "{aborts}");
    assert_eq!(aborts["restarts"], json!(4), "{aborts}");

    // An operator's start begins anew, as under the PID manager, although
    // the unit's start limit (5 in 60 s) was hit moments ago: the bot runs
    // and crashes its way to failed again, counting from zero.
    let start = daemon.ctl(&["--json", "start", "exits"]);
    start.expect_code(0);
    assert_says(&start, "exits is running.");
    daemon.wait_until(TIMEOUT, "exits has failed a second time", || {
        daemon
            .log_of("exits")
            .matches("exiting with code 3")
            .count()
            == 10
            && ctl_status(&daemon, "exits")["status"] == json!("failed")
    });
    assert_eq!(ctl_status(&daemon, "exits")["restarts"], json!(4));
}

#[test]
fn a_restarted_daemon_finds_the_units_bots_with_their_pids_and_stops_them() {
    let Some(manager) = UserManager::start_or_skip(
        "a_restarted_daemon_finds_the_units_bots_with_their_pids_and_stops_them",
    ) else {
        return;
    };
    let mut daemon = start_under_systemd(&manager, botnet_of(&["a", "b"]));
    daemon.ctl(&["start"]).expect_code(0);
    let a = wait_for_unit_bot(&manager, &daemon, "a");
    let b = wait_for_unit_bot(&manager, &daemon, "b");

    for signal in [Signal::SIGTERM, Signal::SIGKILL] {
        if signal == Signal::SIGKILL {
            daemon.kill9();
        } else {
            daemon.signal_and_wait(signal);
        }
        assert!(
            pid_alive(a) && pid_alive(b),
            "a bot ended with the daemon ({signal})"
        );
        daemon.restart();
        for (bot_id, pid) in [("a", a), ("b", b)] {
            let status = ctl_status(&daemon, bot_id);
            assert_eq!(
                status["status"],
                json!("running"),
                "after {signal}: {status}"
            );
            assert_eq!(status["pid"], json!(pid), "after {signal}: {status}");
            assert_eq!(manager.main_pid(&unit_of(bot_id)), Some(pid));
        }
    }

    let stop = daemon.ctl(&["--json", "stop", "a"]);
    stop.expect_code(0);
    assert_says(&stop, "a is stopped.");
    assert!(unit_is(&manager, "a", "inactive"));
    assert!(!pid_alive(a));
    assert_eq!(ctl_status(&daemon, "b")["pid"], json!(b));
    daemon.ctl(&["stop"]).expect_code(0);
    assert!(unit_is(&manager, "b", "inactive"));
    wait_until_no_process_of(&daemon, "b");
}

#[test]
fn an_onboot_scheduled_bot_is_on_its_schedule_when_the_daemon_starts() {
    let Some(manager) = UserManager::start_or_skip(
        "an_onboot_scheduled_bot_is_on_its_schedule_when_the_daemon_starts",
    ) else {
        return;
    };
    let mut on_boot = scheduled_testbot(EVERY_TWO_SECONDS, json!({"run_for": 0.1}));
    on_boot["onboot"] = json!(true);
    let daemon = start_under_systemd(
        &manager,
        json!({
            "on-boot": on_boot,
            "not-on-boot": scheduled_testbot(EVERY_TWO_SECONDS, json!({"run_for": 0.1})),
        }),
    );
    // No start command: the daemon put it on its schedule by itself.
    let status = wait_for_status(&daemon, "on-boot", "running");
    assert!(status["schedule"]["next_run"].is_u64(), "{status}");
    daemon.wait_for_finished_runs("on-boot", 1, TIMEOUT);
    let other = ctl_status(&daemon, "not-on-boot");
    assert_eq!(other["status"], json!("stopped"), "{other}");
    assert_eq!(daemon.log_of("not-on-boot"), "");
    daemon.ctl(&["stop", "on-boot"]).expect_code(0);
}

#[test]
fn a_bot_running_under_the_pid_manager_stays_there_until_restart_moves_it_to_systemd() {
    let Some(manager) = UserManager::start_or_skip(
        "a_bot_running_under_the_pid_manager_stays_there_until_restart_moves_it_to_systemd",
    ) else {
        return;
    };
    let daemon = builder_for(&manager, botnet_of(&["a"]))
        .defaults(pid_defaults())
        .start();
    install_bot_template(&manager, &daemon);
    let old = daemon.start_bot("a");
    assert!(daemon.read_pid_file("a").is_some());

    daemon.write_defaults_conf(&systemd_defaults());
    let configtest = daemon.ctl(&["--json", "configtest"]);
    let warning = message_texts(&configtest)
        .into_iter()
        .find(|text| text.starts_with("a runs under the PID process manager"));
    let warning = warning.unwrap_or_else(|| panic!("no warning about a\n{configtest:?}"));
    assert!(warning.contains(&format!("(pid {old})")), "{warning}");
    assert!(warning.contains("'intelmqctl restart a'"), "{warning}");

    // Never twice: start leaves it where it runs.
    let start = daemon.ctl(&["--json", "start", "a"]);
    start.expect_code(0);
    assert_says(&start, "a is already running.");
    assert!(
        unit_is(&manager, "a", "inactive"),
        "{}",
        manager.unit_report(&unit_of("a"))
    );
    assert_eq!(ctl_status(&daemon, "a")["pid"], json!(old));
    assert_eq!(bot_processes_of(&daemon, "a"), vec![old]);

    let restart = daemon.ctl(&["--json", "restart", "a"]);
    restart.expect_code(0);
    assert_says(
        &restart,
        "Executed `systemctl --user restart intelmq-bot@a.service`.",
    );
    let new = wait_for_unit_bot(&manager, &daemon, "a");
    assert_ne!(new, old);
    assert!(!pid_alive(old), "the PID-mode process {old} is still alive");
    assert_eq!(daemon.read_pid_file("a"), None);
    assert_eq!(bot_processes_of(&daemon, "a"), vec![new]);
    let configtest = daemon.ctl(&["--json", "configtest"]);
    assert!(
        !message_texts(&configtest)
            .iter()
            .any(|text| text.contains("runs under")),
        "{configtest:?}"
    );
}

#[test]
fn a_bot_running_under_systemd_stays_there_after_a_switch_to_pid_until_restart_or_stop() {
    let Some(manager) = UserManager::start_or_skip(
        "a_bot_running_under_systemd_stays_there_after_a_switch_to_pid_until_restart_or_stop",
    ) else {
        return;
    };
    let daemon = start_under_systemd(&manager, botnet_of(&["a"]));
    daemon.ctl(&["start", "a"]).expect_code(0);
    let under_systemd = wait_for_unit_bot(&manager, &daemon, "a");

    daemon.write_defaults_conf(&pid_defaults());
    let configtest = daemon.ctl(&["--json", "configtest"]);
    let warning = message_texts(&configtest)
        .into_iter()
        .find(|text| text.starts_with("a runs under systemd (intelmq-bot@a.service)"));
    assert!(warning.is_some(), "no warning about a\n{configtest:?}");

    let start = daemon.ctl(&["--json", "start", "a"]);
    start.expect_code(0);
    assert_says(&start, "a is already running.");
    assert_eq!(
        daemon.read_pid_file("a"),
        None,
        "a PID-mode process was started"
    );
    assert_eq!(bot_processes_of(&daemon, "a"), vec![under_systemd]);
    assert_eq!(ctl_status(&daemon, "a")["pid"], json!(under_systemd));

    // restart, as configtest says: the unit stops and the bot starts under
    // the PID manager.
    let restart = daemon.ctl(&["--json", "restart", "a"]);
    restart.expect_code(0);
    assert_says(
        &restart,
        "Executed `systemctl --user stop intelmq-bot@a.service`.",
    );
    assert!(unit_is(&manager, "a", "inactive"));
    assert!(!pid_alive(under_systemd));
    let moved = daemon.wait_started("a");
    assert_ne!(moved, under_systemd);
    assert_eq!(
        intelmqd_tests::procfs::stat(moved).map(|s| s.ppid),
        Some(daemon.pid())
    );
    let configtest = daemon.ctl(&["--json", "configtest"]);
    assert!(
        !message_texts(&configtest)
            .iter()
            .any(|text| text.contains("runs under")),
        "{configtest:?}"
    );

    // Back under systemd, then stop and start: the bot moves too.
    daemon.write_defaults_conf(&systemd_defaults());
    daemon.ctl(&["restart", "a"]).expect_code(0);
    let under_systemd = wait_for_unit_bot(&manager, &daemon, "a");
    daemon.write_defaults_conf(&pid_defaults());
    let stop = daemon.ctl(&["--json", "stop", "a"]);
    stop.expect_code(0);
    assert!(unit_is(&manager, "a", "inactive"));
    assert!(!pid_alive(under_systemd));
    let pid = daemon.start_bot("a");
    assert_ne!(pid, under_systemd);
    assert!(unit_is(&manager, "a", "inactive"));
    assert_eq!(
        daemon
            .read_pid_file("a")
            .map(|text| text.trim().to_string()),
        Some(pid.to_string())
    );
    assert_eq!(
        intelmqd_tests::procfs::stat(pid).map(|s| s.ppid),
        Some(daemon.pid())
    );
    assert_eq!(bot_processes_of(&daemon, "a"), vec![pid]);
}

/// `intelmqctl --json status --all` without what differs from run to run
/// (pids, times), by bot id.
fn comparable_status(daemon: &Daemon) -> BTreeMap<String, Value> {
    let output = daemon.ctl(&["--json", "status", "--all"]);
    output.expect_code(0);
    let bots = output.json();
    let mut by_id = BTreeMap::new();
    for bot in bots.as_array().expect("status prints an array") {
        let mut bot = bot.clone();
        strip_volatile(&mut bot);
        let id = bot["bot_id"].as_str().expect("a bot id").to_string();
        by_id.insert(id, bot);
    }
    by_id
}

/// Removes pids and timestamps, wherever they are.
fn strip_volatile(value: &mut Value) {
    const VOLATILE: [&str; 7] = [
        "pid",
        "since",
        "at",
        "next_run",
        "last_run_started",
        "last_run_duration_ms",
        "run_seconds",
    ];
    match value {
        Value::Object(object) => {
            let object: &mut Map<String, Value> = object;
            object.retain(|key, _| !VOLATILE.contains(&key.as_str()));
            object.values_mut().for_each(strip_volatile);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_volatile),
        _ => {}
    }
}

/// The same commands on a daemon under either process manager: a botnet of
/// three stream bots, one of which crashes until it is failed, and a
/// scheduled bot; then one bot stopped and one reloaded. Returns the exit
/// codes of the commands and the status afterwards.
fn parity_sequence(
    daemon: &Daemon,
    wait_running: &dyn Fn(&str),
) -> (Vec<Option<i32>>, BTreeMap<String, Value>) {
    let mut codes = vec![daemon.ctl(&["start"]).code];
    wait_running("steady");
    wait_running("reloaded");
    wait_for_status(daemon, "crashing", "failed");
    daemon.wait_for_finished_runs("scheduled", 1, TIMEOUT);
    codes.push(daemon.ctl(&["stop", "steady"]).code);
    codes.push(daemon.ctl(&["reload", "reloaded"]).code);
    daemon.wait_for_log("reloaded", "reloaded (count 1)");
    codes.push(daemon.ctl(&["stop", "scheduled"]).code);
    let mut status = comparable_status(daemon);
    // How many ticks came before the stop depends on the clock: at least one.
    let schedule = &mut status.get_mut("scheduled").expect("the scheduled bot")["schedule"];
    assert!(schedule["runs"].as_u64() >= Some(1), "{schedule}");
    if let Some(object) = schedule.as_object_mut() {
        object.remove("runs");
    }
    (codes, status)
}

fn parity_runtime() -> Value {
    json!({
        "steady": testbot(json!({"note": "steady"})),
        "reloaded": testbot(json!({"note": "reloaded"})),
        "crashing": exiting_bot(0.3),
        "scheduled": scheduled_testbot(EVERY_TWO_SECONDS, json!({"run_for": 0.1})),
    })
}

#[test]
fn the_same_commands_give_the_same_status_under_both_process_managers() {
    let Some(manager) = UserManager::start_or_skip(
        "the_same_commands_give_the_same_status_under_both_process_managers",
    ) else {
        return;
    };
    // The crash-loop policy of both: the unit's, with the drop-in's 200 ms.
    install_drop_in(
        &manager,
        "intelmq-bot@.service",
        "fast-restart",
        FAST_RESTART_DROP_IN,
    );
    let pid_daemon = Daemon::builder()
        .runtime(parity_runtime())
        .defaults(restart_policy_like_the_unit(pid_defaults()))
        .start();
    let (pid_codes, mut pid_status) = parity_sequence(&pid_daemon, &|bot_id| {
        pid_daemon.wait_started(bot_id);
    });
    drop(pid_daemon);

    let systemd_daemon = builder_for(&manager, parity_runtime())
        .defaults(restart_policy_like_the_unit(systemd_defaults()))
        .start();
    install_bot_template(&manager, &systemd_daemon);
    let (systemd_codes, mut systemd_status) = parity_sequence(&systemd_daemon, &|bot_id| {
        wait_for_unit_bot(&manager, &systemd_daemon, bot_id);
    });
    // A known difference of the daemon, left out here: once a bot's unit is
    // stopped, systemd unloads the inactive unit (garbage collection) and
    // `systemctl show` no longer has its ExecMain* properties, so `status`
    // under systemd shows `last_exit: null` where the PID manager shows
    // `exited with code 0`.
    let steady_exit = pid_status
        .get_mut("steady")
        .and_then(|steady| steady.as_object_mut())
        .and_then(|steady| steady.remove("last_exit"));
    assert_eq!(steady_exit.map(|exit| exit["code"].clone()), Some(json!(0)));
    if let Some(steady) = systemd_status
        .get_mut("steady")
        .and_then(|steady| steady.as_object_mut())
    {
        steady.remove("last_exit");
    }

    assert_eq!(pid_codes, systemd_codes, "the exit codes differ");
    assert_eq!(
        pid_status.keys().collect::<Vec<_>>(),
        systemd_status.keys().collect::<Vec<_>>()
    );
    for (bot_id, pid_mode) in &pid_status {
        assert_eq!(
            Some(pid_mode),
            systemd_status.get(bot_id),
            "status of {bot_id}: PID mode (left) and systemd (right) differ"
        );
    }
}

#[test]
fn configtest_names_the_missing_template_unit_of_each_stream_bot() {
    let Some(manager) =
        UserManager::start_or_skip("configtest_names_the_missing_template_unit_of_each_stream_bot")
    else {
        return;
    };
    let mut runtime = botnet_of(&["a", "file-output"]);
    runtime["s"] = scheduled_testbot("0 0 * * *", json!({}));
    // The template unit is not installed.
    let daemon = builder_for(&manager, runtime).start();

    let configtest = daemon.ctl(&["--json", "configtest"]);
    configtest.expect_code(1);
    let answer = configtest.json();
    let problems = |bot_id: &str| -> Vec<String> {
        answer["result"]["bots"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|bot| bot["bot_id"] == json!(bot_id))
            .flat_map(|bot| bot["problems"].as_array().cloned().unwrap_or_default())
            .filter_map(|problem| problem.as_str().map(str::to_string))
            .collect()
    };
    for bot_id in ["a", "file-output"] {
        let expected = format!(
            "systemd does not know its unit intelmq-bot@{bot_id}.service: install the template unit intelmq-bot@.service (see docs/systemd.md)"
        );
        assert!(
            problems(bot_id).contains(&expected),
            "{bot_id}: {:?}\n{configtest:?}",
            problems(bot_id)
        );
    }
    assert!(problems("s").is_empty(), "{configtest:?}");
    // The human output names the units too.
    let text = daemon.ctl(&["configtest"]);
    text.expect_code(1);
    for bot_id in ["a", "file-output"] {
        assert!(text.all_output().contains(&unit_of(bot_id)), "{text:?}");
    }

    // Installed, the problem is gone.
    install_bot_template(&manager, &daemon);
    daemon.ctl(&["configtest"]).expect_code(0);
}

#[test]
fn without_a_reachable_bus_units_are_read_with_systemctl_show() {
    let Some(manager) =
        UserManager::start_or_skip("without_a_reachable_bus_units_are_read_with_systemctl_show")
    else {
        return;
    };
    // systemctl --user reaches the manager through its private socket in
    // XDG_RUNTIME_DIR; the daemon's own D-Bus reader needs the session bus,
    // which this address does not lead to.
    let daemon = builder_for(&manager, botnet_of(&["a"]))
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .start();
    install_bot_template(&manager, &daemon);
    daemon.ctl(&["start", "a"]).expect_code(0);
    let pid = wait_for_unit_bot(&manager, &daemon, "a");
    assert_eq!(ctl_status(&daemon, "a")["pid"], json!(pid));
    let stderr = daemon.stderr();
    assert_eq!(
        stderr
            .matches("cannot read the bots' units over D-Bus")
            .count(),
        1,
        "the fallback is said once\n{stderr}"
    );
    daemon.ctl(&["stop", "a"]).expect_code(0);
    assert!(unit_is(&manager, "a", "inactive"));
    assert_eq!(ctl_status(&daemon, "a")["status"], json!("stopped"));
}
