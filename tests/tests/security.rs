//! Who may talk to intelmqd and as whom bots run.
//!
//! - The control socket: a client whose uid is neither root, the daemon's own
//!   nor a member of the socket group is refused (`permission-denied`) and
//!   logged with its uid and pid; a member of `--socket-group` (primary or
//!   supplementary group) is served. The socket file is 0660 and owned by that
//!   group, so the kernel keeps the others out before the daemon's own check.
//! - Bots: a root daemon runs them as `bot_user` (e.g. `nobody`), by default as
//!   the user `intelmq`, and refuses to start them as root unless told.
//!
//! These tests switch users and create groups, so they need root; run as
//! another user they say so and pass without checking.

use std::process::Command;
use std::time::Duration;

use intelmqd_tests::fault_helpers::{
    ctl_command, is_root, mode_of, open_socket_to_everyone, proc_gids, proc_status_field,
    proc_uids, processes_by_bot, run_as, run_capturing, user_exists, FlaggedDaemon, Identity,
    TempGroup, NOBODY,
};
use intelmqd_tests::{logged_pid, pid_alive, skip, testbot, Daemon, TIMEOUT};
use serde_json::json;

/// Runs `intelmqctl <args>` against `socket` as `identity`; its pid and output.
fn ctl_as(
    socket: &std::path::Path,
    identity: &Identity,
    args: &[&str],
) -> (u32, intelmqd_tests::CtlOutput) {
    let mut command: Command = ctl_command(socket, args);
    run_as(&mut command, identity);
    run_capturing(&mut command, TIMEOUT)
}

/// Set in the environment of a copy of this test executable that acts as a
/// raw socket client (see [`raw_client_helper`]).
const RAW_CLIENT_SOCKET: &str = "INTELMQD_TESTS_RAW_CLIENT_SOCKET";
const RAW_CLIENT_LINE: &str = "INTELMQD_TESTS_RAW_CLIENT_LINE";

/// Connects to `socket` as `identity` in a child process (this test
/// executable run again, see [`raw_client_helper`]), sends `line` if given
/// (a failed write is ignored), and reads one reply line. Returns the child's
/// pid and the parsed reply (`Err` with what the child printed when there was
/// none).
fn raw_client_as(
    socket: &std::path::Path,
    identity: &Identity,
    line: Option<&str>,
) -> (u32, Result<serde_json::Value, String>) {
    let exe = std::env::current_exe().expect("the test executable");
    let mut command = Command::new(exe);
    command
        .args([
            "--exact",
            "raw_client_helper",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(RAW_CLIENT_SOCKET, socket)
        .env(RAW_CLIENT_LINE, line.unwrap_or(""));
    run_as(&mut command, identity);
    let (pid, out) = run_capturing(&mut command, TIMEOUT);
    let reply = out
        .stdout
        .lines()
        .find_map(|l| l.split_once("RAW-REPLY ").map(|(_, r)| r))
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| format!("{out:?}"));
    (pid, reply)
}

/// Not a test by itself: run by [`raw_client_as`] as another user, it is a
/// socket client that prints the daemon's first reply line (`RAW-REPLY ...`).
/// Without its environment variable it does nothing.
#[test]
fn raw_client_helper() {
    use std::io::{BufRead, Write};
    let Some(socket) = std::env::var_os(RAW_CLIENT_SOCKET) else {
        return;
    };
    let mut stream = match std::os::unix::net::UnixStream::connect(&socket) {
        Ok(stream) => stream,
        Err(error) => {
            println!("RAW-CONNECT-ERROR {error}");
            return;
        }
    };
    stream.set_read_timeout(Some(TIMEOUT)).expect("a timeout");
    let line = std::env::var(RAW_CLIENT_LINE).unwrap_or_default();
    if !line.is_empty() {
        if let Err(error) = stream.write_all(format!("{line}\n").as_bytes()) {
            println!("RAW-WRITE-ERROR {error}");
        }
    }
    let mut reply = String::new();
    match std::io::BufReader::new(stream).read_line(&mut reply) {
        Ok(_) => println!("RAW-REPLY {}", reply.trim_end()),
        Err(error) => println!("RAW-READ-ERROR {error}"),
    }
}

#[test]
fn a_client_of_an_unauthorised_uid_is_refused_and_logged() {
    if !is_root() {
        skip!("switching the client to uid {NOBODY} needs root");
    }
    let daemon = Daemon::start(json!({"bot": testbot(json!({}))}));
    let socket_mode = mode_of(&daemon.socket);
    assert_eq!(socket_mode, 0o660, "the daemon creates its socket 0660");

    // First lock: the file mode. nobody cannot even connect.
    let root_dir = daemon.socket.parent().expect("a directory");
    intelmqd_tests::fault_helpers::chmod(root_dir, 0o755);
    let (_, out) = ctl_as(&daemon.socket, &Identity::nobody(), &["--json", "status"]);
    out.expect_code(3);
    assert_eq!(out.json()["error"]["kind"], "unreachable", "{out:?}");
    assert!(out.stdout.contains("Permission denied"), "{out:?}");

    // Second lock: with the socket open to everyone, the daemon's own check.
    // A raw client that only reads: the daemon answers at once.
    open_socket_to_everyone(&daemon.socket);
    let mark = daemon.stderr_mark();
    let (pid, reply) = raw_client_as(&daemon.socket, &Identity::nobody(), None);
    let reply = reply.unwrap_or_else(|error| panic!("no refusal line: {error}"));
    assert_eq!(reply["ok"], false, "{reply}");
    assert_eq!(reply["error"]["kind"], "permission-denied", "{reply}");
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("uid {NOBODY} may not control intelmqd")),
        "{message}"
    );
    assert!(message.contains("allowed: root"), "{message}");
    let logged = daemon.wait_for_stderr(
        mark,
        TIMEOUT,
        &[
            "refused a connection",
            &format!("uid={NOBODY}"),
            &format!("pid={pid}"),
        ],
    );
    println!("logged: {logged}");

    // A raw client that sends a start first: refused, nothing started.
    let (_, reply) = raw_client_as(
        &daemon.socket,
        &Identity::nobody(),
        Some(r#"{"v":1,"id":7,"command":"start","bot_id":"bot"}"#),
    );
    let reply = reply.unwrap_or_else(|error| panic!("no refusal line: {error}"));
    assert_eq!(reply["error"]["kind"], "permission-denied", "{reply}");
    assert!(
        processes_by_bot(&daemon.config_dir, true).is_empty(),
        "a refused start started nothing"
    );
    assert_eq!(daemon.status_json("bot")["status"], "stopped");

    // Root is still served, on the same daemon.
    daemon.ctl(&["status"]).expect_code(0);
    let pid = daemon.start_bot("bot");
    assert!(pid_alive(pid));
    daemon.ctl(&["stop", "bot"]).expect_code(0);

    // What an operator sees: intelmqctl as nobody, JSON and human.
    let mark = daemon.stderr_mark();
    let (pid, out) = ctl_as(
        &daemon.socket,
        &Identity::nobody(),
        &["--json", "start", "bot"],
    );
    let reply = out.json();
    assert_eq!(
        reply["error"]["kind"], "permission-denied",
        "intelmqctl run by uid {NOBODY} must report the refusal\n{out:?}"
    );
    out.expect_code(1);
    daemon.wait_for_stderr(
        mark,
        TIMEOUT,
        &["refused a connection", &format!("pid={pid}")],
    );
    let (_, out) = ctl_as(&daemon.socket, &Identity::nobody(), &["status"]);
    assert!(
        out.stderr.contains(&format!(
            "intelmqctl: error: permission denied: uid {NOBODY}"
        )),
        "{out:?}"
    );
    out.expect_code(1);
    assert!(processes_by_bot(&daemon.config_dir, true).is_empty());
}

#[test]
fn a_member_of_the_socket_group_may_talk_and_others_may_not() {
    if !is_root() {
        skip!("creating a group and switching users needs root");
    }
    let group = match TempGroup::create() {
        Ok(group) => group,
        Err(reason) => skip!("no group could be created: {reason}"),
    };
    let daemon = FlaggedDaemon::start(&["--socket-group", &group.name], &json!({}))
        .unwrap_or_else(|error| panic!("intelmqd with --socket-group: {error}"));
    let meta = std::fs::metadata(&daemon.socket).expect("stat the socket");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        meta.gid(),
        group.gid,
        "the socket belongs to the socket group"
    );
    assert_eq!(mode_of(&daemon.socket), 0o660);
    assert!(
        daemon
            .stderr()
            .contains(&format!("allowed=root, members of group {}", group.name)),
        "the start is logged with who is allowed:\n{}",
        daemon.stderr()
    );
    // Let others reach the directory; the socket keeps its own mode and group.
    intelmqd_tests::fault_helpers::chmod(daemon.root(), 0o755);

    let member = Identity {
        uid: NOBODY,
        gid: group.gid,
        groups: Vec::new(),
    };
    let (_, out) = ctl_as(&daemon.socket, &member, &["--json", "list"]);
    out.expect_code(0);
    assert!(out.json().is_array(), "{out:?}");

    let supplementary = Identity {
        uid: NOBODY,
        gid: NOBODY,
        groups: vec![group.gid],
    };
    let (_, out) = ctl_as(&daemon.socket, &supplementary, &["--json", "list"]);
    out.expect_code(0);

    // Not a member: the kernel refuses the connection (0660, other group)...
    let (_, out) = ctl_as(&daemon.socket, &Identity::nobody(), &["--json", "list"]);
    out.expect_code(3);
    // ...and with the socket opened up, the daemon does.
    open_socket_to_everyone(&daemon.socket);
    let (pid, reply) = raw_client_as(
        &daemon.socket,
        &Identity::nobody(),
        Some(r#"{"v":1,"id":1,"command":"list"}"#),
    );
    let reply = reply.unwrap_or_else(|error| panic!("no refusal line: {error}"));
    assert_eq!(reply["error"]["kind"], "permission-denied", "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("members of group {}", group.name)),
        "{reply}"
    );
    intelmqd_tests::wait_for(TIMEOUT, "the refusal is logged", || {
        daemon.stderr().lines().any(|line| {
            line.contains("refused a connection")
                && line.contains(&format!("uid={NOBODY}"))
                && line.contains(&format!("pid={pid}"))
        })
    });
    // The members are still served after the refusal, by a raw client too.
    let (_, out) = ctl_as(&daemon.socket, &supplementary, &["--json", "list"]);
    out.expect_code(0);
    let (_, reply) = raw_client_as(
        &daemon.socket,
        &member,
        Some(r#"{"v":1,"id":3,"command":"hello"}"#),
    );
    let reply = reply.unwrap_or_else(|error| panic!("no answer: {error}"));
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["id"], 3, "{reply}");

    // intelmqctl as a non-member reports the daemon's refusal.
    let (_, out) = ctl_as(&daemon.socket, &Identity::nobody(), &["--json", "list"]);
    assert_eq!(
        out.json()["error"]["kind"],
        "permission-denied",
        "intelmqctl run by uid {NOBODY} must report the refusal\n{out:?}"
    );
    out.expect_code(1);
}

#[test]
fn an_unknown_socket_group_stops_the_daemon_at_start() {
    let name = intelmqd_tests::fault_helpers::unique_name("nogrp");
    let error = match FlaggedDaemon::start(&["--socket-group", &name], &json!({})) {
        Ok(_) => panic!("intelmqd started with the unknown socket group {name}"),
        Err(error) => error,
    };
    assert!(
        error.contains(&format!("the socket group \"{name}\" does not exist")),
        "{error}"
    );
}

/// Makes the fixture's config readable for a bot running as another user:
/// the temporary root and the config dir 0755, the runtime file 0644.
fn config_readable_by_everyone(daemon: &Daemon) {
    use intelmqd_tests::fault_helpers::chmod;
    chmod(daemon.root(), 0o755);
    chmod(&daemon.config_dir, 0o755);
    chmod(&daemon.runtime_conf_path(), 0o644);
}

#[test]
fn bots_run_as_the_configured_unprivileged_user() {
    if !is_root() {
        skip!("only a root daemon switches users");
    }
    if !user_exists("nobody") {
        skip!("there is no user nobody");
    }
    let daemon = Daemon::builder()
        .defaults(json!({"process_manager": "pid", "stop_timeout": 1, "bot_user": "nobody"}))
        .runtime(json!({"bot": testbot(json!({"fork_child": true}))}))
        .start();
    config_readable_by_everyone(&daemon);

    let pid = daemon.start_bot("bot");
    assert_eq!(proc_uids(pid), vec![NOBODY; 4], "the bot's uids");
    assert_eq!(proc_gids(pid), vec![NOBODY; 4], "the bot's gids");
    let groups = proc_status_field(pid, "Groups").unwrap_or_default();
    assert!(
        !groups.split_whitespace().any(|g| g == "0"),
        "the bot keeps none of root's groups: {groups}"
    );
    let env = intelmqd_tests::procfs::environ(pid);
    assert!(env.contains(&"USER=nobody".to_string()), "{env:?}");
    assert!(
        !daemon.log_of("bot").contains("cannot read my parameters"),
        "the bot read its runtime file"
    );
    daemon.wait_until(TIMEOUT, "the bot's child has started", || {
        logged_pid(&daemon.log_of("bot"), "child started").is_some()
    });
    let child = logged_pid(&daemon.log_of("bot"), "child started").expect("the child's pid");
    assert_eq!(proc_uids(child), vec![NOBODY; 4], "the bot's child's uids");
    // The daemon, root, still controls it.
    let out = daemon.ctl(&["stop", "bot"]);
    out.expect_code(0);
    daemon.wait_until(TIMEOUT, "the bot and its child are gone", || {
        !pid_alive(pid) && !pid_alive(child)
    });
}

#[test]
fn a_bot_user_that_does_not_exist_refuses_the_start() {
    if !is_root() {
        skip!("only a root daemon switches users");
    }
    let name = intelmqd_tests::fault_helpers::unique_name("nouser");
    let daemon = Daemon::builder()
        .defaults(json!({"process_manager": "pid", "bot_user": name}))
        .runtime(json!({"bot": testbot(json!({}))}))
        .start();
    let out = daemon.ctl(&["--json", "start", "bot"]);
    out.expect_code(1);
    let reply = out.json();
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("the user \"{name}\" (bot_user) does not exist")),
        "{reply}"
    );
    assert!(processes_by_bot(&daemon.config_dir, false).is_empty());
    assert!(!daemon.pid_file("bot").exists());
}

#[test]
fn without_bot_user_a_root_daemon_refuses_to_run_bots_when_intelmq_is_missing() {
    if !is_root() {
        skip!("only a root daemon refuses to run bots as root");
    }
    if user_exists("intelmq") {
        skip!("the user intelmq exists on this machine (getent passwd intelmq), so a root daemon without bot_user runs bots as intelmq; see without_bot_user_a_root_daemon_runs_bots_as_intelmq");
    }
    let daemon = Daemon::start(json!({"bot": testbot(json!({}))}));
    // The fixture adds "bot_user": "root"; take it out again.
    daemon.write_defaults_exactly(&json!({"process_manager": "pid"}));
    let out = daemon.ctl(&["--json", "start", "bot"]);
    out.expect_code(1);
    let message = out.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("does not run bots as root"), "{message}");
    assert!(message.contains("bot_user"), "{message}");
    assert!(message.contains("create the user intelmq"), "{message}");
    assert!(processes_by_bot(&daemon.config_dir, false).is_empty());
}

#[test]
fn without_bot_user_a_root_daemon_runs_bots_as_intelmq() {
    if !is_root() {
        skip!("only a root daemon switches users");
    }
    let Ok(Some(intelmq)) = nix::unistd::User::from_name("intelmq") else {
        skip!("there is no user intelmq on this machine (the refusal is checked instead)");
    };
    let daemon = Daemon::builder()
        .defaults(json!({"process_manager": "pid", "stop_timeout": 1}))
        .runtime(json!({"bot": testbot(json!({}))}))
        .start();
    // The fixture adds "bot_user": "root"; take it out again.
    daemon.write_defaults_exactly(&json!({"process_manager": "pid", "stop_timeout": 1}));
    config_readable_by_everyone(&daemon);
    let pid = daemon.start_bot("bot");
    let uid = intelmq.uid.as_raw();
    assert_eq!(proc_uids(pid), vec![uid; 4], "the bot runs as intelmq");
    assert_eq!(proc_gids(pid), vec![intelmq.gid.as_raw(); 4]);
    daemon.ctl(&["stop", "bot"]).expect_code(0);
    daemon.wait_until(TIMEOUT, "the bot is gone", || !pid_alive(pid));
}

/// A bot as `nobody` cannot write into the state dir or replace its pid file:
/// the daemon writes those itself, as root.
#[test]
fn a_bot_running_as_nobody_cannot_touch_the_daemons_state() {
    if !is_root() || !user_exists("nobody") {
        skip!("needs root and the user nobody");
    }
    let daemon = Daemon::builder()
        .defaults(json!({"process_manager": "pid", "stop_timeout": 1, "bot_user": "nobody"}))
        .runtime(json!({"bot": testbot(json!({}))}))
        .start();
    config_readable_by_everyone(&daemon);
    let pid = daemon.start_bot("bot");
    let pid_file = daemon.pid_file("bot");
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&pid_file).expect("the pid file");
    assert_eq!(meta.uid(), 0, "the pid file is root's");
    assert_eq!(mode_of(&pid_file) & 0o022, 0, "nobody else may write it");
    let effective = std::fs::metadata(daemon.effective_state_path()).expect("the state");
    assert_eq!(effective.uid(), 0);
    assert_eq!(mode_of(&daemon.effective_state_path()), 0o600);
    // Try it, as nobody, with the directories open for traversal.
    let (_, out) = {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg("echo 1 > \"$1\"")
            .arg("sh")
            .arg(&pid_file);
        run_as(&mut command, &Identity::nobody());
        run_capturing(&mut command, Duration::from_secs(10))
    };
    assert_ne!(
        out.code,
        Some(0),
        "nobody could write the pid file: {out:?}"
    );
    assert_eq!(daemon.read_pid_file("bot"), Some(format!("{pid}\n")));
    daemon.ctl(&["stop", "bot"]).expect_code(0);
}
