//! Bots outlive their daemon: a new daemon adopts them, and never mistakes an
//! unrelated process for a bot.

use std::process::{Child, Command};

use intelmqd_tests::{pid_alive, procfs, testbot, Daemon, TIMEOUT};
use nix::sys::signal::Signal;
use serde_json::json;

#[test]
fn a_new_daemon_adopts_a_running_bot_and_can_stop_it() {
    let mut daemon = Daemon::start(json!({"bot": testbot(json!({}))}));
    let pid = daemon.start_bot("bot");

    daemon.kill9();
    assert!(pid_alive(pid), "the bot {pid} survives its daemon's death");
    daemon.restart();

    let status = daemon.status_json("bot");
    assert_eq!(status["status"], "running", "{status}");
    assert_eq!(
        status["pid"], pid,
        "the adopted bot keeps its pid: {status}"
    );

    let out = daemon.ctl(&["stop", "bot"]);
    out.expect_code(0);
    assert!(out.stdout.contains("bot is stopped."), "{out:?}");
    assert!(!pid_alive(pid), "the adopted bot {pid} is gone after stop");
    assert!(daemon.log_of("bot").contains("received SIGTERM, exiting"));
    assert!(!daemon.pid_file("bot").exists(), "the pid file is removed");
    assert_eq!(daemon.status_json("bot")["status"], "stopped");
}

/// Kills a process started by the test when the test ends, also on panic.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_pid_file_naming_an_unrelated_process_is_not_trusted() {
    let mut daemon = Daemon::start(json!({"bot": testbot(json!({}))}));
    let pid = daemon.start_bot("bot");
    daemon.kill9();
    procfs::kill_tree(pid);
    daemon.wait_until(TIMEOUT, "the killed bot is gone", || !pid_alive(pid));

    // A pid that was recycled: a live process that is not the bot.
    let mut sleeper = KillOnDrop(
        Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("run sleep 60"),
    );
    let sleeper_pid = sleeper.0.id();
    std::fs::write(daemon.pid_file("bot"), format!("{sleeper_pid}\n")).expect("write the pid file");

    daemon.restart();
    let status = daemon.status_json("bot");
    assert_eq!(status["status"], "stopped", "{status}");
    assert_ne!(status["pid"], sleeper_pid, "{status}");

    let out = daemon.ctl(&["stop", "bot"]);
    out.expect_code(0);
    assert!(
        pid_alive(sleeper_pid),
        "stop signalled the unrelated process {sleeper_pid}: {out:?}"
    );
    assert!(
        sleeper.0.try_wait().expect("check on sleep").is_none(),
        "the unrelated process {sleeper_pid} ended"
    );
}

#[test]
fn sigterm_stops_the_daemon_and_leaves_the_bot_running() {
    let mut daemon = Daemon::start(json!({"bot": testbot(json!({}))}));
    let pid = daemon.start_bot("bot");

    let status = daemon.signal_and_wait(Signal::SIGTERM);
    assert_eq!(
        status.code(),
        Some(0),
        "intelmqd exits with 0 on SIGTERM: {status}"
    );

    // A SIGHUP of our own, answered by the bot, shows that it runs and that any
    // signal sent to it before the daemon exited has been handled by now.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGHUP)
        .expect("the bot is there to signal");
    daemon.wait_for_log("bot", "reloaded (count 1)");
    assert!(pid_alive(pid), "the bot {pid} runs after the daemon's exit");
    assert!(
        !daemon.log_of("bot").contains("SIGTERM"),
        "the daemon signalled the bot on its way out:\n{}",
        daemon.log_of("bot")
    );
}

/// The restart policy holds for a bot adopted from an earlier daemon: when it
/// ends by itself later, the new daemon starts it again.
#[test]
fn an_adopted_bot_that_ends_later_is_restarted_by_its_policy() {
    let mut daemon = Daemon::builder()
        .runtime(json!({"late": testbot(json!({"crash_after": 5}))}))
        .defaults(json!({"process_manager": "pid", "restart_delay": 0.2}))
        .start();
    let first = daemon.start_bot("late");
    daemon.kill9();
    daemon.restart();
    assert_eq!(
        daemon.status_json("late")["pid"],
        first,
        "the new daemon adopted the bot"
    );
    daemon.wait_until(
        TIMEOUT,
        "the adopted bot ended and was started again",
        || {
            let status = daemon.status_json("late");
            status["restarts"].as_u64().unwrap_or(0) >= 1
                && status["pid"]
                    .as_u64()
                    .is_some_and(|pid| pid != u64::from(first))
        },
    );
    assert!(!pid_alive(first), "the first process {first} is gone");
}
