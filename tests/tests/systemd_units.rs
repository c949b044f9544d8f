//! The units of `contrib/systemd` under a real systemd: the bot template
//! `intelmq-bot@.service` with `intelmq-bot-launcher`, and `intelmqd.service`
//! with its `Type=notify` readiness. Each test runs its own isolated
//! `systemd --user` manager ([`UserManager`]) with the shipped units rewritten
//! for its temporary directories; without root or systemd the tests are
//! skipped (they fail instead when `CI=true`).

use std::time::Duration;

use intelmqd_tests::procfs;
use intelmqd_tests::systemd::{IntelmqDirs, UserManager};
use intelmqd_tests::{testbot, wait_for, TESTBOT, TIMEOUT};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::json;

/// Waits until the bot's log has a line ending in `text`.
#[track_caller]
fn wait_for_log(dirs: &IntelmqDirs, bot_id: &str, text: &str) {
    let mut log = String::new();
    let found = intelmqd_tests::poll_until(TIMEOUT, || {
        log = dirs.log_of(bot_id);
        log.lines().any(|line| line.ends_with(text))
    });
    assert!(
        found.is_ok(),
        "the log of {bot_id} has no line ending in {text:?} after {TIMEOUT:?}:\n{log}"
    );
}

/// The value of `key` in a process's environment, if set.
fn env_of(pid: u32, key: &str) -> Option<String> {
    let prefix = format!("{key}=");
    procfs::environ(pid)
        .into_iter()
        .find_map(|entry| entry.strip_prefix(&prefix).map(str::to_string))
}

/// Waits until the unit runs the test bot as its main process and the bot has
/// logged that it started (so its signal handlers are in place); its pid.
#[track_caller]
fn wait_for_running_bot(manager: &UserManager, dirs: &IntelmqDirs, bot_id: &str) -> u32 {
    let unit = format!("intelmq-bot@{bot_id}.service");
    manager.wait_for_property(&unit, "ActiveState", "active");
    manager.wait_for_property(&unit, "SubState", "running");
    // The launcher is the main process until it execs the bot.
    let mut pid = None;
    let bot_is_main = intelmqd_tests::poll_until(TIMEOUT, || {
        pid = manager.main_pid(&unit);
        pid.is_some_and(|pid| {
            procfs::cmdline(pid)
                .first()
                .is_some_and(|argv0| argv0.ends_with(TESTBOT))
        })
    });
    assert!(
        bot_is_main.is_ok(),
        "the main process of {unit} is not {TESTBOT}: {pid:?} {:?}\n{}",
        pid.map(procfs::cmdline),
        manager.unit_report(&unit)
    );
    let pid = pid.expect("polled until set");
    wait_for_log(dirs, bot_id, &format!("started (pid {pid})"));
    pid
}

#[test]
fn the_bot_template_starts_reloads_enables_disables_and_stops_a_bot() {
    let Some(manager) = UserManager::start_or_skip(
        "the_bot_template_starts_reloads_enables_disables_and_stops_a_bot",
    ) else {
        return;
    };
    // A bot id with a dash: the template must pass `%i` as it is, not
    // unescaped (`%I` would turn the dash into a slash).
    let dirs = IntelmqDirs::create(
        manager.root(),
        &json!({"a": testbot(json!({})), "file-output": testbot(json!({}))}),
    );
    dirs.bot_template_unit().install(&manager);

    manager.systemctl_ok(&[
        "start",
        "intelmq-bot@a.service",
        "intelmq-bot@file-output.service",
    ]);
    let pid = wait_for_running_bot(&manager, &dirs, "a");
    let other = wait_for_running_bot(&manager, &dirs, "file-output");
    assert_ne!(pid, other);

    // The bot has the environment intelmqd gives its bots in PID mode.
    let expected = [
        ("INTELMQD_BOT_ID", "a".to_string()),
        ("INTELMQ_CONFIG_DIR", dirs.config_dir.display().to_string()),
        ("INTELMQ_STATE_DIR", dirs.state_dir.display().to_string()),
        ("INTELMQ_LOG_DIR", dirs.log_dir.display().to_string()),
    ];
    for (key, value) in &expected {
        assert_eq!(env_of(pid, key).as_ref(), Some(value), "{key} of the bot");
    }
    assert_eq!(
        env_of(other, "INTELMQD_BOT_ID").as_deref(),
        Some("file-output")
    );

    // reload: SIGHUP to the bot, which stays the same process.
    manager.systemctl_ok(&["reload", "intelmq-bot@a.service"]);
    wait_for_log(&dirs, "a", "reloaded (count 1)");
    assert_eq!(manager.main_pid("intelmq-bot@a.service"), Some(pid));
    assert_eq!(
        manager.property("intelmq-bot@a.service", "ActiveState"),
        "active"
    );

    // enable and disable: the symlink under the unit dir, and is-enabled.
    manager.systemctl_ok(&["enable", "intelmq-bot@a.service"]);
    let enabled = manager.systemctl(&["is-enabled", "intelmq-bot@a.service"]);
    assert_eq!(enabled.stdout.trim(), "enabled", "{enabled:?}");
    assert!(manager
        .unit_dir()
        .join("default.target.wants")
        .join("intelmq-bot@a.service")
        .is_symlink());
    manager.systemctl_ok(&["disable", "intelmq-bot@a.service"]);
    let disabled = manager.systemctl(&["is-enabled", "intelmq-bot@a.service"]);
    assert_eq!(disabled.stdout.trim(), "disabled", "{disabled:?}");
    // Enabling does not start or stop anything.
    assert_eq!(manager.main_pid("intelmq-bot@a.service"), Some(pid));

    // stop: SIGTERM, the bot exits, nothing of it is left.
    manager.systemctl_ok(&["stop", "intelmq-bot@a.service"]);
    assert_eq!(
        manager.property("intelmq-bot@a.service", "ActiveState"),
        "inactive"
    );
    wait_for_log(&dirs, "a", "received SIGTERM, exiting");
    wait_for(TIMEOUT, "the stopped bot's process is gone", || {
        !procfs::pid_alive(pid)
    });
    let left: Vec<u32> = procfs::processes_with_env("INTELMQ_CONFIG_DIR", &dirs.config_dir)
        .into_iter()
        .filter(|&process| env_of(process, "INTELMQD_BOT_ID").as_deref() == Some("a"))
        .collect();
    assert!(left.is_empty(), "processes of a left after stop: {left:?}");

    // The other bot was not touched.
    assert_eq!(
        manager.main_pid("intelmq-bot@file-output.service"),
        Some(other)
    );
    manager.systemctl_ok(&["stop", "intelmq-bot@file-output.service"]);
    wait_for(TIMEOUT, "the second bot's process is gone", || {
        !procfs::pid_alive(other)
    });
}

#[test]
fn the_bot_template_fails_with_the_launchers_status_for_a_bot_not_in_runtime_conf() {
    let Some(manager) = UserManager::start_or_skip(
        "the_bot_template_fails_with_the_launchers_status_for_a_bot_not_in_runtime_conf",
    ) else {
        return;
    };
    let dirs = IntelmqDirs::create(manager.root(), &json!({"a": testbot(json!({}))}));
    dirs.bot_template_unit().install(&manager);

    let unit = "intelmq-bot@missing.service";
    // Type=simple: the start succeeds once the launcher runs; it then exits.
    manager.systemctl_ok(&["start", unit]);
    manager.wait_for_property(unit, "ActiveState", "failed");
    assert_eq!(manager.property(unit, "Result"), "exit-code");
    // EX_CONFIG, and not restarted: only an edit of runtime.conf helps.
    assert_eq!(manager.property(unit, "ExecMainStatus"), "78");
    assert_eq!(manager.property(unit, "NRestarts"), "0");
    // The launcher's reason is in the bot's log, where `intelmqctl log` looks.
    let log = dirs.log_of("missing");
    assert!(
        log.contains("intelmq-bot-launcher: no bot \"missing\" in"),
        "the log of missing: {log:?}"
    );
}

#[test]
fn intelmqd_is_a_notify_unit_ready_when_its_socket_answers_and_stopping_it_leaves_the_bots() {
    let Some(manager) = UserManager::start_or_skip(
        "intelmqd_is_a_notify_unit_ready_when_its_socket_answers_and_stopping_it_leaves_the_bots",
    ) else {
        return;
    };
    let dirs = IntelmqDirs::create(manager.root(), &json!({"kept": testbot(json!({}))}));
    dirs.daemon_unit().install(&manager);
    let unit = "intelmqd.service";

    // Type=notify: `start` returns once intelmqd said READY=1, so the unit
    // is running and the socket answers right away, without waiting.
    manager.systemctl_ok(&["start", unit]);
    assert_eq!(
        (
            manager.property(unit, "ActiveState"),
            manager.property(unit, "SubState")
        ),
        ("active".to_string(), "running".to_string()),
        "{}",
        manager.unit_report(unit)
    );
    dirs.ctl(&["status"]).expect_code(0);
    let status_text = manager.property(unit, "StatusText");
    assert!(
        status_text.starts_with("ready"),
        "StatusText: {status_text:?}"
    );
    let daemon = manager.main_pid(unit).expect("intelmqd runs");
    assert!(procfs::cmdline(daemon)
        .first()
        .is_some_and(|argv0| argv0.ends_with("intelmqd")));

    // A bot in PID mode: the daemon's child, without the daemon's
    // NOTIFY_SOCKET.
    dirs.ctl(&["start", "kept"]).expect_code(0);
    let bot = dirs.ctl(&["--json", "status", "kept"]).json()[0]["pid"]
        .as_u64()
        .map(|pid| pid as u32)
        .expect("the started bot has a pid");
    wait_for_log(&dirs, "kept", &format!("started (pid {bot})"));
    let bot_start_time = procfs::stat(bot).expect("the bot runs").starttime;
    assert!(env_of(daemon, "NOTIFY_SOCKET").is_some());
    assert_eq!(env_of(bot, "NOTIFY_SOCKET"), None);

    // KillMode=process: stopping the daemon leaves its bots running.
    manager.systemctl_ok(&["stop", unit]);
    assert_eq!(manager.property(unit, "ActiveState"), "inactive");
    wait_for(TIMEOUT, "intelmqd has exited", || {
        !procfs::pid_alive(daemon)
    });
    assert!(
        procfs::stat(bot).is_some_and(|stat| stat.starttime == bot_start_time && !stat.is_zombie()),
        "the bot {bot} did not survive the stop of intelmqd"
    );
    // Still the running bot, not a zombie: it answers SIGHUP.
    kill(Pid::from_raw(bot as i32), Signal::SIGHUP).expect("signal the bot");
    wait_for_log(&dirs, "kept", "reloaded (count 1)");

    kill(Pid::from_raw(bot as i32), Signal::SIGKILL).expect("kill the bot");
    wait_for(Duration::from_secs(10), "the bot is gone", || {
        procfs::stat(bot).map_or(true, |stat| {
            stat.starttime != bot_start_time || stat.is_zombie()
        })
    });
}
