//! intelmqd under the systemd process manager in the tests: a [`Daemon`]
//! whose `systemctl --user` reaches a sandboxed [`UserManager`] (the
//! manager's `XDG_*` and bus variables in its environment), configured with
//! `"process_manager": "systemd"` and `"systemd_instance": "user"`, and the
//! bot template unit installed into the manager for the daemon's directories.
//!
//! Declare the manager before the daemon in a test, so that the daemon (and
//! what it started) is dropped first and the manager last, which then kills
//! whatever is left in its cgroup.

use serde_json::{json, Value};

use crate::procfs;
use crate::systemd::{IntelmqDirs, UserManager};
use crate::{Daemon, DaemonBuilder, TESTBOT, TIMEOUT};

/// The unit of a stream bot under systemd.
pub fn unit_of(bot_id: &str) -> String {
    format!("intelmq-bot@{bot_id}.service")
}

/// defaults.conf for the systemd process manager on a user manager, with a
/// stop timeout of one second as the PID-mode tests use.
pub fn systemd_defaults() -> Value {
    json!({"process_manager": "systemd", "systemd_instance": "user", "stop_timeout": 1})
}

/// A daemon builder whose daemon talks to `manager`, under the systemd
/// process manager with this runtime.conf; change the defaults with
/// [`DaemonBuilder::defaults`] (keep `systemd_instance: "user"`).
pub fn builder_for(manager: &UserManager, runtime: Value) -> DaemonBuilder {
    manager.env().into_iter().fold(
        Daemon::builder()
            .runtime(runtime)
            .defaults(systemd_defaults()),
        |builder, (key, value)| builder.env(key, value),
    )
}

/// The daemon's directories as the units see them.
pub fn dirs_of(daemon: &Daemon) -> IntelmqDirs {
    IntelmqDirs {
        config_dir: daemon.config_dir.clone(),
        state_dir: daemon.state_dir.clone(),
        log_dir: daemon.log_dir.clone(),
        socket: daemon.socket.clone(),
        daemon_output: daemon.root().join("intelmqd.unit.out"),
    }
}

/// Installs `intelmq-bot@.service` into `manager`, pointed at the daemon's
/// directories.
pub fn install_bot_template(manager: &UserManager, daemon: &Daemon) {
    dirs_of(daemon).bot_template_unit().install(manager);
}

/// Starts a daemon under the systemd process manager on `manager` with this
/// runtime.conf, and installs the bot template unit for it.
pub fn start_under_systemd(manager: &UserManager, runtime: Value) -> Daemon {
    let daemon = builder_for(manager, runtime).start();
    install_bot_template(manager, &daemon);
    daemon
}

/// Installs a drop-in `<unit>.d/<name>.conf` into `manager` and reloads it.
pub fn install_drop_in(manager: &UserManager, unit: &str, name: &str, text: &str) {
    let dir = manager.unit_dir().join(format!("{unit}.d"));
    std::fs::create_dir_all(&dir).expect("create the drop-in directory");
    std::fs::write(dir.join(format!("{name}.conf")), text).expect("write the drop-in");
    manager.systemctl_ok(&["daemon-reload"]);
}

/// Whether the unit's `ActiveState` is `state` now.
pub fn unit_is(manager: &UserManager, bot_id: &str, state: &str) -> bool {
    manager.property(&unit_of(bot_id), "ActiveState") == state
}

/// Waits until the bot's unit runs the test bot itself as its main process
/// (the launcher has exec'd it), the bot has logged that it started (its
/// signal handlers are in place) and the daemon's status shows that pid;
/// returns it.
#[track_caller]
pub fn wait_for_unit_bot(manager: &UserManager, daemon: &Daemon, bot_id: &str) -> u32 {
    let unit = unit_of(bot_id);
    let mut main_pid = None;
    let mut status = Value::Null;
    let settled = crate::poll_until(TIMEOUT, || {
        main_pid = manager.main_pid(&unit).filter(|&pid| {
            procfs::cmdline(pid)
                .first()
                .is_some_and(|argv0| argv0.ends_with(TESTBOT))
        });
        let Some(pid) = main_pid else { return false };
        status = daemon.status_json(bot_id);
        status["status"] == json!("running")
            && status["pid"] == json!(pid)
            && daemon
                .log_of(bot_id)
                .lines()
                .any(|line| line.ends_with(&format!("started (pid {pid})")))
    });
    if settled.is_err() {
        panic!(
            "{bot_id} does not run under {unit} as the daemon says: MainPID {main_pid:?}, status {status}\n{}",
            manager.unit_report(&unit)
        );
    }
    main_pid.expect("polled until set")
}

/// The live test bot processes of `bot_id` (by `INTELMQD_BOT_ID` in their
/// environment) among the processes of the daemon's config dir, wherever
/// they run: under the daemon or in a unit.
pub fn bot_processes_of(daemon: &Daemon, bot_id: &str) -> Vec<u32> {
    let wanted = format!("INTELMQD_BOT_ID={bot_id}");
    procfs::processes_with_env("INTELMQ_CONFIG_DIR", &daemon.config_dir)
        .into_iter()
        .filter(|&pid| {
            procfs::cmdline(pid)
                .first()
                .is_some_and(|argv0| argv0.ends_with(TESTBOT))
                && procfs::stat(pid).is_some_and(|stat| !stat.is_zombie())
                && procfs::environ(pid).contains(&wanted)
        })
        .collect()
}

/// Waits until no test bot process of `bot_id` is left.
#[track_caller]
pub fn wait_until_no_process_of(daemon: &Daemon, bot_id: &str) {
    daemon.wait_until(TIMEOUT, &format!("no process of {bot_id} is left"), || {
        bot_processes_of(daemon, bot_id).is_empty()
    });
}

/// A drop-in for `intelmq-bot@.service` that restarts crashed bots after
/// 200 ms instead of the shipped 1 s, so that a crash loop reaches the start
/// limit (5 starts in 60 s, kept) in about a second instead of five.
pub const FAST_RESTART_DROP_IN: &str = "[Service]\nRestartSec=200ms\n";

/// The PID-mode defaults.conf crash-loop policy that matches the template
/// unit with [`FAST_RESTART_DROP_IN`]: 5 starts in 60 s, a constant 200 ms
/// between them (the PID manager doubles its delay up to
/// `restart_delay_max`; systemd waits the same time each time).
pub fn restart_policy_like_the_unit(mut defaults: Value) -> Value {
    if let Some(object) = defaults.as_object_mut() {
        object.insert("restart_delay".into(), json!(0.2));
        object.insert("restart_delay_max".into(), json!(0.2));
        object.insert("start_limit_burst".into(), json!(5));
        object.insert("start_limit_interval".into(), json!(60));
    }
    defaults
}
