//! The real `intelmqctl` binary against missing sockets and fake daemons.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread::{self, JoinHandle};

use intelmqd_proto::{
    encode_line, ActionKind, ActionRow, BotStatus, ConfigTest, ErrorKind, Level, Message, Outcome,
    Reply, Response, RunState, RunStatus,
};

fn intelmqctl(socket: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_intelmqctl"))
        .env_remove("INTELMQ_SOCKET")
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .expect("intelmqctl runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A daemon that accepts one connection, reads one line and answers `answer`
/// (raw bytes). The handle yields the request line it read.
struct FakeDaemon {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    handle: JoinHandle<String>,
}

impl FakeDaemon {
    fn new(answer: Vec<u8>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("intelmqd.sock");
        let listener = UnixListener::bind(&socket).expect("bind");
        let handle = thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(stream);
            let mut request = String::new();
            reader.read_line(&mut request).expect("read request");
            let mut stream = reader.into_inner();
            stream.write_all(&answer).expect("write answer");
            request
        });
        FakeDaemon {
            _dir: dir,
            socket,
            handle,
        }
    }

    fn answering(response: Response) -> Self {
        Self::new(encode_line(&Reply::response(Some(1), response)))
    }

    fn request(self) -> serde_json::Value {
        let line = self.handle.join().expect("fake daemon");
        serde_json::from_str(&line).expect("the request is JSON")
    }
}

fn a_bot() -> BotStatus {
    BotStatus {
        bot_id: "my-bot-2".into(),
        run_mode: "scheduled".into(),
        schedule_time: Some("1 * * * *".into()),
        botnet: false,
        status: RunStatus::Unstable,
        onboot: false,
        configtest: ConfigTest::Invalid,
        pid: Some(42),
        state: RunState::Running,
        since: None,
        last_exit: None,
        problems: vec![],
        schedule: None,
        restarts: 0,
        reload: None,
        group: None,
        description: None,
    }
}

#[test]
fn unreachable_daemon_exits_3_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("missing.sock");
    let output = intelmqctl(&socket, &["status"]);
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(text(&output.stdout), "");
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "intelmqctl: cannot reach intelmqd at {}: ",
            socket.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(
            ". Is the daemon running? Start it with 'intelmqd' (or 'systemctl start intelmqd').\n"
        ),
        "{stderr}"
    );
}

#[test]
fn unreachable_daemon_in_json_exits_3_with_json_on_stdout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("missing.sock");
    let output = intelmqctl(&socket, &["--json", "status"]);
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(text(&output.stderr), "");
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(value["ok"], false);
    assert_eq!(value["error"]["kind"], "unreachable");
    assert!(value["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("cannot reach intelmqd")));
}

#[test]
fn a_socket_nobody_listens_on_is_unreachable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("dead.sock");
    drop(UnixListener::bind(&socket).expect("bind"));
    let output = intelmqctl(&socket, &["list"]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
}

#[test]
fn a_daemon_closing_without_an_answer_is_unreachable() {
    let daemon = FakeDaemon::new(Vec::new());
    let output = intelmqctl(&daemon.socket, &["list"]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("closed the connection"));
}

#[test]
fn status_prints_the_table_and_exits_0() {
    let daemon = FakeDaemon::answering(Response::success(
        vec![],
        Outcome::Status {
            bots: vec![a_bot()],
            log: vec![],
        },
    ));
    let output = intelmqctl(&daemon.socket, &["status"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let header = stdout.lines().next().unwrap_or_default();
    let words: Vec<&str> = header
        .split('|')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .collect();
    assert_eq!(
        words,
        [
            "bot_id",
            "run_mode",
            "scheduled_time (if applicable)",
            "is on botnet",
            "status",
            "enabled_on_boot",
            "configtest"
        ]
    );
    assert!(stdout.contains("| running (unstable) |"), "{stdout}");
    assert!(stdout.contains("| 1 * * * * "), "{stdout}");
    let request = daemon.request();
    assert_eq!(
        request,
        serde_json::json!({"v": 1, "id": 1, "command": "status"})
    );
}

#[test]
fn json_after_the_subcommand_prints_the_array() {
    let daemon = FakeDaemon::answering(Response::success(
        vec![],
        Outcome::Status {
            bots: vec![a_bot()],
            log: vec!["log line".into()],
        },
    ));
    let output = intelmqctl(&daemon.socket, &["status", "my-bot-2", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(value[0]["bot_id"], "my-bot-2");
    assert_eq!(value[0]["status"], "unstable");
    assert_eq!(
        daemon.request(),
        serde_json::json!({"v": 1, "id": 1, "command": "status", "bot_id": "my-bot-2"})
    );
}

#[test]
fn an_action_prints_the_daemons_messages_and_exits_0() {
    let daemon = FakeDaemon::answering(Response::success(
        vec![
            Message::new(Level::Info, Some("b"), "Starting b..."),
            Message::new(Level::Info, Some("b"), "b is running."),
        ],
        Outcome::Actions {
            bots: vec![ActionRow {
                bot_id: "b".into(),
                action: ActionKind::Started,
                status: RunStatus::Running,
                pid: Some(9),
                error: None,
                exit: None,
            }],
        },
    ));
    let output = intelmqctl(&daemon.socket, &["start", "--now", "b"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "Starting b...\nb is running.\n");
    assert_eq!(
        daemon.request(),
        serde_json::json!({"v": 1, "id": 1, "command": "start", "bot_id": "b", "now": true})
    );
}

#[test]
fn a_daemon_error_exits_1() {
    let daemon = FakeDaemon::answering(Response::failure(
        ErrorKind::UnknownBot,
        "no bot \"nope\" in runtime.conf",
    ));
    let output = intelmqctl(&daemon.socket, &["stop", "nope"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr),
        "intelmqctl: error: no bot \"nope\" in runtime.conf\n"
    );
    daemon.request();
}

#[test]
fn a_daemon_error_in_json_is_the_response_object() {
    let daemon = FakeDaemon::answering(Response::failure(ErrorKind::Conflict, "b is running"));
    let output = intelmqctl(&daemon.socket, &["--json", "debug", "b"]);
    assert_eq!(output.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(
        value,
        serde_json::json!({"ok": false, "error": {"kind": "conflict", "message": "b is running"}})
    );
}

#[test]
fn garbage_from_the_daemon_exits_4() {
    let daemon = FakeDaemon::new(b"this is not json\n".to_vec());
    let output = intelmqctl(&daemon.socket, &["list"]);
    assert_eq!(output.status.code(), Some(4));
    assert!(
        text(&output.stderr).contains("not JSON"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn another_protocol_version_exits_4() {
    let daemon =
        FakeDaemon::new(b"{\"v\":2,\"id\":1,\"type\":\"response\",\"ok\":true}\n".to_vec());
    let output = intelmqctl(&daemon.socket, &["--json", "list"]);
    assert_eq!(output.status.code(), Some(4));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(value["error"]["kind"], "protocol");
}

#[test]
fn an_invalid_bot_id_exits_2_and_sends_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("intelmqd.sock");
    let listener = UnixListener::bind(&socket).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    for args in [
        &["stop", "../x"][..],
        &["--json", "status", "../x"][..],
        &["debug", "../x"][..],
    ] {
        let output = intelmqctl(&socket, args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let all = text(&output.stdout) + &text(&output.stderr);
        assert!(
            all.contains("invalid bot id \\\"../x\\\"") || all.contains("invalid bot id \"../x\""),
            "{all}"
        );
        assert!(all.contains("'/'"), "{all}");
    }
    assert!(listener.accept().is_err(), "intelmqctl connected");
}

#[test]
fn yes_and_no_conflict() {
    let output = intelmqctl(Path::new("/nonexistent.sock"), &["--yes", "--no", "list"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn version_names_the_program() {
    let output = intelmqctl(Path::new("/nonexistent.sock"), &["--version"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        text(&output.stdout),
        format!("intelmqctl {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn debug_runs_the_bot_and_exits_with_its_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bot = dir.path().join("fake-bot");
    std::fs::write(&bot, "#!/bin/sh\necho \"bot $1 $INTELMQ_BOT_ID\"\nexit 3\n")
        .expect("write bot");
    std::fs::set_permissions(&bot, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let daemon = FakeDaemon::answering(Response::success(
        vec![],
        Outcome::Debug {
            bot_id: "b".into(),
            module: "fake-bot".into(),
            executable: bot.display().to_string(),
            env: vec![("INTELMQ_BOT_ID".into(), "b".into())],
        },
    ));
    let output = intelmqctl(&daemon.socket, &["start", "--debug", "b"]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "bot b b\n");
    assert_eq!(
        daemon.request(),
        serde_json::json!({"v": 1, "id": 1, "command": "debug", "bot_id": "b"})
    );
}

#[test]
fn debug_reports_a_bot_killed_by_a_signal_as_128_plus_n() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bot = dir.path().join("fake-bot");
    std::fs::write(&bot, "#!/bin/sh\nkill -ABRT $$\n").expect("write bot");
    std::fs::set_permissions(&bot, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let daemon = FakeDaemon::answering(Response::success(
        vec![],
        Outcome::Debug {
            bot_id: "b".into(),
            module: "fake-bot".into(),
            executable: bot.display().to_string(),
            env: vec![],
        },
    ));
    let output = intelmqctl(&daemon.socket, &["debug", "b"]);
    assert_eq!(output.status.code(), Some(134), "{}", text(&output.stderr));
}

/// A daemon that refuses the client (its permission check) answers at once
/// and closes without reading: the client's write may fail (EPIPE), and the
/// answer is what the client shows, not "Is the daemon running?".
#[test]
fn a_refused_client_shows_the_daemons_answer_and_exits_1() {
    for json in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("intelmqd.sock");
        let listener = UnixListener::bind(&socket).expect("bind");
        let refusal = Reply::response(
            None,
            Response::failure(
                ErrorKind::PermissionDenied,
                "permission denied: uid 65534 may not control intelmqd (allowed: root)",
            ),
        );
        let daemon = thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            stream.write_all(&encode_line(&refusal)).expect("answer");
            // Closed without reading: the request is unread.
        });
        let args: &[&str] = if json { &["--json", "list"] } else { &["list"] };
        let child = Command::new(env!("CARGO_BIN_EXE_intelmqctl"))
            .env_remove("INTELMQ_SOCKET")
            .arg("--socket")
            .arg(&socket)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("intelmqctl runs");
        daemon.join().expect("fake daemon");
        let output = child.wait_with_output().expect("intelmqctl ends");
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
        assert!(!stderr.contains("Is the daemon running"), "{stderr}");
        if json {
            let value: serde_json::Value = serde_json::from_str(&stdout).expect("json");
            assert_eq!(value["error"]["kind"], "permission-denied", "{stdout}");
        } else {
            assert_eq!(
                stderr,
                "intelmqctl: error: permission denied: uid 65534 may not control intelmqd (allowed: root)\n"
            );
        }
    }
}
