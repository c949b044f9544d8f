//! The daemon binary's own command line: its flags, and refusing to start
//! beside a live daemon on the same socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INTELMQD: &str = env!("CARGO_BIN_EXE_intelmqd");

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("intelmqd-cli")
        .tempdir()
        .expect("temp dir")
}

fn start(dir: &std::path::Path) -> Running {
    let child = Command::new(INTELMQD)
        .args(["--config-dir", dir.join("etc").to_str().expect("utf8")])
        .args(["--state-dir", dir.join("run").to_str().expect("utf8")])
        .args(["--log-dir", dir.join("log").to_str().expect("utf8")])
        .args(["--socket", dir.join("s.sock").to_str().expect("utf8")])
        .stderr(Stdio::null())
        .spawn()
        .expect("intelmqd starts");
    Running(child)
}

fn hello(socket: &std::path::Path) -> Option<String> {
    let mut stream = UnixStream::connect(socket).ok()?;
    stream
        .write_all(b"{\"v\":1,\"id\":1,\"command\":\"hello\"}\n")
        .ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    Some(line)
}

fn wait_ready(socket: &std::path::Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(line) = hello(socket) {
            return line;
        }
        assert!(Instant::now() < deadline, "intelmqd did not answer hello");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn help_names_the_four_paths_and_their_environment() {
    let output = Command::new(INTELMQD).arg("--help").output().expect("runs");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "--config-dir",
        "INTELMQ_CONFIG_DIR",
        "--state-dir",
        "INTELMQ_STATE_DIR",
        "--log-dir",
        "INTELMQ_LOG_DIR",
        "--socket",
        "INTELMQ_SOCKET",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn answers_hello_and_refuses_a_second_daemon_on_the_same_socket() {
    let temp = temp_dir();
    let dir = temp.path();
    let _first = start(dir);
    let line = wait_ready(&dir.join("s.sock"));
    assert!(line.contains(r#""kind":"hello""#), "{line}");
    let mode = std::fs::metadata(dir.join("s.sock")).expect("socket exists");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o660
    );

    let second = Command::new(INTELMQD)
        .args(["--config-dir", dir.join("etc").to_str().expect("utf8")])
        .args(["--state-dir", dir.join("run2").to_str().expect("utf8")])
        .args(["--log-dir", dir.join("log").to_str().expect("utf8")])
        .args(["--socket", dir.join("s.sock").to_str().expect("utf8")])
        .output()
        .expect("runs");
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another intelmqd is already serving"),
        "{stderr}"
    );
    // The first one is untouched.
    assert!(hello(&dir.join("s.sock")).is_some());
}

#[test]
fn replaces_a_stale_socket_file() {
    let temp = temp_dir();
    let dir = temp.path();
    // A socket file nobody listens on, as a killed daemon leaves it.
    drop(std::os::unix::net::UnixListener::bind(dir.join("s.sock")).expect("bind"));
    let _daemon = start(dir);
    wait_ready(&dir.join("s.sock"));
}
