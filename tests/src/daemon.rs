//! The `Daemon` fixture: one intelmqd on its own temporary directories.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

use crate::{bin, bin_dir, procfs, run_with_deadline, CtlOutput, TIMEOUT};

/// How a [`Daemon`] is set up before it starts.
#[derive(Debug, Clone)]
pub struct DaemonBuilder {
    runtime: String,
    defaults: String,
    /// Variables added to the daemon's environment, e.g. those that make its
    /// `systemctl --user` reach a test's own systemd manager.
    extra_env: Vec<(OsString, OsString)>,
}

impl Default for DaemonBuilder {
    fn default() -> Self {
        DaemonBuilder {
            runtime: "{}\n".into(),
            defaults: to_text(&as_test_user(json!({"process_manager": "pid"}))),
            extra_env: Vec::new(),
        }
    }
}

impl DaemonBuilder {
    /// runtime.conf: bot id -> configuration (see [`crate::testbot`]).
    pub fn runtime(mut self, runtime: Value) -> Self {
        self.runtime = to_text(&runtime);
        self
    }

    /// runtime.conf as raw text, e.g. invalid JSON.
    pub fn runtime_text(mut self, text: &str) -> Self {
        self.runtime = text.to_string();
        self
    }

    /// defaults.conf (default: `{"process_manager": "pid"}`). When the tests
    /// run as root, `"bot_user": "root"` is added unless the test sets it:
    /// the daemon runs bots as root only when told so.
    pub fn defaults(mut self, defaults: Value) -> Self {
        self.defaults = to_text(&as_test_user(defaults));
        self
    }

    /// Adds a variable to the daemon's environment (every daemon of the
    /// fixture, also after [`Daemon::restart`]); the bots it starts inherit it.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.extra_env.push((key.into(), value.into()));
        self
    }

    /// Creates the directories, writes the configuration, starts intelmqd and
    /// waits until it answers `hello`.
    pub fn start(self) -> Daemon {
        procfs::become_reaper_of_orphans();
        // Unix socket paths are limited to 108 bytes: stay short, under /tmp.
        let dir = tempfile::Builder::new()
            .prefix("imqd-")
            .tempdir_in("/tmp")
            .expect("a temporary directory under /tmp");
        let root = dir.path().to_path_buf();
        let daemon = Daemon {
            config_dir: root.join("config"),
            state_dir: root.join("state"),
            log_dir: root.join("log"),
            socket: root.join("sock"),
            stderr_path: root.join("intelmqd.stderr"),
            dir,
            child: None,
            next_id: AtomicU64::new(1),
            seen_pids: Mutex::new(BTreeMap::new()),
            extra_env: self.extra_env,
        };
        for dir in [&daemon.config_dir, &daemon.state_dir, &daemon.log_dir] {
            std::fs::create_dir(dir).expect("create a directory in the temporary directory");
        }
        daemon.write_runtime_conf_text(&self.runtime);
        daemon.write_config_file("defaults.conf", &self.defaults);
        daemon.write_config_file("pipeline.conf", "{}\n");
        let mut daemon = daemon;
        daemon.spawn();
        daemon
    }
}

fn to_text(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values serialise");
    text.push('\n');
    text
}

/// One intelmqd on a temporary directory. Dropping it kills the daemon and every
/// process that it (or an earlier daemon on the same directories) started.
pub struct Daemon {
    pub config_dir: PathBuf,
    pub state_dir: PathBuf,
    pub log_dir: PathBuf,
    pub socket: PathBuf,
    stderr_path: PathBuf,
    /// Owns the directory: removed when the fixture drops, after the processes.
    dir: tempfile::TempDir,
    child: Option<Child>,
    next_id: AtomicU64,
    /// Bot pids seen in status answers, with their start times, so that Drop
    /// kills them (and never a process that took over a pid).
    seen_pids: Mutex<BTreeMap<u32, u64>>,
    /// Added to each daemon's environment ([`DaemonBuilder::env`]).
    extra_env: Vec<(OsString, OsString)>,
}

impl Daemon {
    /// A daemon with this runtime.conf and default defaults.conf.
    pub fn start(runtime: Value) -> Daemon {
        Daemon::builder().runtime(runtime).start()
    }

    pub fn builder() -> DaemonBuilder {
        DaemonBuilder::default()
    }

    /// The temporary directory holding everything.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Starts intelmqd on this fixture's directories and waits until it answers.
    fn spawn(&mut self) {
        assert!(self.child.is_none(), "intelmqd is already running");
        let mut stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr_path)
            .expect("open the daemon's stderr file");
        writeln!(stderr, "--- intelmqd started by the test harness ---")
            .expect("write the daemon's stderr file");
        let mut path = OsString::from(bin_dir());
        if let Some(original) = std::env::var_os("PATH") {
            path.push(":");
            path.push(original);
        }
        let mut command = Command::new(bin("intelmqd"));
        command
            .arg("--config-dir")
            .arg(&self.config_dir)
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("--log-dir")
            .arg(&self.log_dir)
            .arg("--socket")
            .arg(&self.socket);
        clear_intelmq_env(&mut command);
        let child = command
            .envs(self.extra_env.iter().map(|(key, value)| (key, value)))
            .env("PATH", path)
            .env("INTELMQ_CONFIG_DIR", &self.config_dir)
            .stdin(Stdio::null())
            .stdout(stderr.try_clone().expect("clone a file handle"))
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start intelmqd: {error}"));
        self.child = Some(child);

        let mut exited = None;
        let ready = crate::poll_until(TIMEOUT, || {
            exited = self.child.as_mut().and_then(|child| child.try_wait().ok()?);
            exited.is_some() || self.answers_hello()
        });
        if let Some(status) = exited {
            self.child = None;
            panic!(
                "intelmqd exited at start with {status}\n{}",
                self.stderr_report()
            );
        }
        if ready.is_err() {
            panic!(
                "intelmqd did not answer hello on {} within {TIMEOUT:?}\n{}",
                self.socket.display(),
                self.stderr_report()
            );
        }
    }

    fn answers_hello(&self) -> bool {
        let Ok(mut connection) = Connection::open(&self.socket) else {
            return false;
        };
        connection.set_timeout(Duration::from_secs(2));
        connection
            .try_request(r#"{"v":1,"id":0,"command":"hello"}"#)
            .ok()
            .and_then(|line| serde_json::from_str::<Value>(&line).ok())
            .is_some_and(|reply| reply["ok"] == json!(true))
    }

    /// The running daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("intelmqd is running").id()
    }

    /// SIGKILL to the daemon (only the daemon, not its bots); waits for its end.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("intelmqd is running");
        let _ = child.kill();
        child.wait().expect("wait for the killed intelmqd");
    }

    /// Sends `signal` to the daemon and waits for it to exit.
    pub fn signal_and_wait(&mut self, signal: Signal) -> ExitStatus {
        let mut child = self.child.take().expect("intelmqd is running");
        kill(Pid::from_raw(child.id() as i32), signal).expect("signal intelmqd");
        let mut status = None;
        if crate::poll_until(TIMEOUT, || {
            status = child.try_wait().expect("wait for intelmqd");
            status.is_some()
        })
        .is_err()
        {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "intelmqd did not exit within {TIMEOUT:?} of {signal}\n{}",
                self.stderr_report()
            );
        }
        status.expect("polled until set")
    }

    /// Starts a new daemon on the same directories (stopping the running one
    /// with SIGTERM first, if any).
    pub fn restart(&mut self) {
        if self.child.is_some() {
            self.signal_and_wait(Signal::SIGTERM);
        }
        self.spawn();
    }

    /// Everything the daemon (and earlier daemons of this fixture) wrote to
    /// stderr.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    fn stderr_report(&self) -> String {
        format!(
            "--- intelmqd stderr (last 40 lines of {}) ---\n{}",
            self.stderr_path.display(),
            crate::tail(&self.stderr_path, 40)
        )
    }

    /// Polls `condition` until it is true; panics naming `what`, with the
    /// daemon's stderr, after `deadline`.
    #[track_caller]
    pub fn wait_until(&self, deadline: Duration, what: &str, condition: impl FnMut() -> bool) {
        if let Err(waited) = crate::poll_until(deadline, condition) {
            panic!(
                "timed out after {waited:?} waiting until {what}\n{}",
                self.stderr_report()
            );
        }
    }

    /// Runs `intelmqctl --socket <socket> <args>` to its end.
    pub fn ctl(&self, args: &[&str]) -> CtlOutput {
        run_with_deadline(&mut self.ctl_command(args), TIMEOUT)
    }

    /// One raw line to the daemon on a new connection; its reply line.
    pub fn request(&self, line: &str) -> String {
        let mut connection = self.connect();
        connection.request(line)
    }

    /// A new connection to the daemon's socket.
    pub fn connect(&self) -> Connection {
        Connection::open(&self.socket)
            .unwrap_or_else(|error| panic!("cannot connect to {}: {error}", self.socket.display()))
    }

    /// Sends `command` (an object with `command` and its arguments) as a request
    /// and returns the parsed reply.
    pub fn call(&self, mut command: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let object = command.as_object_mut().expect("a command is a JSON object");
        object.insert("v".into(), json!(1));
        object.insert("id".into(), json!(id));
        let line = self.request(&command.to_string());
        serde_json::from_str(&line)
            .unwrap_or_else(|error| panic!("reply is not JSON: {error}: {line}"))
    }

    /// The daemon's status object of one bot (`result.bots[0]` of `status`),
    /// asked over the socket so that it is the daemon's view.
    pub fn status_json(&self, bot_id: &str) -> Value {
        let reply = self.call(json!({"command": "status", "bot_id": bot_id}));
        assert_eq!(reply["ok"], json!(true), "status {bot_id} failed: {reply}");
        let status = reply["result"]["bots"][0].clone();
        assert_eq!(status["bot_id"], json!(bot_id), "status {bot_id}: {reply}");
        if let Some(pid) = status["pid"].as_u64() {
            self.remember_pid(pid as u32);
        }
        status
    }

    /// The pid in the bot's status, if any.
    pub fn status_pid(&self, bot_id: &str) -> Option<u32> {
        self.status_json(bot_id)["pid"]
            .as_u64()
            .map(|pid| pid as u32)
    }

    fn remember_pid(&self, pid: u32) {
        if let Some(stat) = procfs::stat(pid) {
            let mut seen = self.seen_pids.lock().unwrap_or_else(|e| e.into_inner());
            seen.entry(pid).or_insert(stat.starttime);
        }
    }

    /// `intelmqctl start <bot>`, which must succeed, then waits until the bot
    /// has logged `started (pid N)` for the pid in its status (so its signal
    /// handlers are in place). Returns the pid.
    #[track_caller]
    pub fn start_bot(&self, bot_id: &str) -> u32 {
        self.ctl(&["start", bot_id]).expect_code(0);
        self.wait_started(bot_id)
    }

    /// The pid of a bot that was started: the pid in its status, once the bot
    /// has logged `started (pid N)` for it (so its signal handlers are in place).
    #[track_caller]
    pub fn wait_started(&self, bot_id: &str) -> u32 {
        let pid = self.status_pid(bot_id).unwrap_or_else(|| {
            panic!(
                "{bot_id} has no pid after start: {}",
                self.status_json(bot_id)
            )
        });
        self.wait_for_log(bot_id, &format!("started (pid {pid})"));
        pid
    }

    /// Waits until the bot's log has a line ending in `text`.
    #[track_caller]
    pub fn wait_for_log(&self, bot_id: &str, text: &str) {
        self.wait_until(
            TIMEOUT,
            &format!("the log of {bot_id} has {text:?}"),
            || self.log_of(bot_id).lines().any(|line| line.ends_with(text)),
        );
    }

    /// The bot's log file (empty when it does not exist).
    pub fn log_of(&self, bot_id: &str) -> String {
        std::fs::read_to_string(self.log_dir.join(format!("{bot_id}.log"))).unwrap_or_default()
    }

    /// `<state_dir>/<bot_id>.pid`.
    pub fn pid_file(&self, bot_id: &str) -> PathBuf {
        self.state_dir.join(format!("{bot_id}.pid"))
    }

    /// The pid file's content, `None` when it does not exist.
    pub fn read_pid_file(&self, bot_id: &str) -> Option<String> {
        std::fs::read_to_string(self.pid_file(bot_id)).ok()
    }

    /// Replaces runtime.conf (atomically, as an editor saving it would).
    pub fn write_runtime_conf(&self, runtime: &Value) {
        self.write_runtime_conf_text(&to_text(runtime));
    }

    /// Replaces runtime.conf with raw text, e.g. invalid JSON.
    pub fn write_runtime_conf_text(&self, text: &str) {
        self.write_config_file("runtime.conf", text);
    }

    pub fn read_runtime_conf(&self) -> Value {
        let text = std::fs::read_to_string(self.config_dir.join("runtime.conf"))
            .expect("read runtime.conf");
        serde_json::from_str(&text).expect("runtime.conf is JSON")
    }

    /// `<config_dir>/runtime.conf`.
    pub fn runtime_conf_path(&self) -> PathBuf {
        self.config_dir.join("runtime.conf")
    }

    /// runtime.conf exactly as it is on disk.
    pub fn read_runtime_conf_text(&self) -> String {
        std::fs::read_to_string(self.runtime_conf_path()).expect("read runtime.conf")
    }

    /// One bot's entry of runtime.conf as it is on disk (`None` when absent).
    pub fn runtime_entry(&self, bot_id: &str) -> Option<Value> {
        self.read_runtime_conf().get(bot_id).cloned()
    }

    /// Rewrites runtime.conf in place (truncate and write the same inode), as
    /// `echo ... > runtime.conf` or an editor without atomic saves would.
    pub fn write_runtime_conf_in_place(&self, text: &str) {
        let mut file = OpenOptions::new()
            .write(true)
            .truncate(true)
            .create(true)
            .open(self.runtime_conf_path())
            .expect("open runtime.conf for writing");
        file.write_all(text.as_bytes())
            .expect("write runtime.conf in place");
    }

    /// Replaces any file of the config dir with raw text (atomically).
    pub fn write_config_text(&self, name: &str, text: &str) {
        self.write_config_file(name, text);
    }

    /// `<state_dir>/runtime.effective.json`, the daemon's internal runtime
    /// configuration.
    pub fn effective_state_path(&self) -> PathBuf {
        self.state_dir.join("runtime.effective.json")
    }

    /// The effective state file parsed (`Value::Null` when it does not exist).
    pub fn effective_state(&self) -> Value {
        match std::fs::read_to_string(self.effective_state_path()) {
            Ok(text) => serde_json::from_str(&text).unwrap_or_else(|error| {
                panic!("runtime.effective.json is not JSON: {error}\n{text}")
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Value::Null,
            Err(error) => panic!("cannot read runtime.effective.json: {error}"),
        }
    }

    /// How many bytes the daemon's stderr file holds now: a mark for
    /// [`Daemon::stderr_since`] and [`Daemon::wait_for_stderr`].
    pub fn stderr_mark(&self) -> usize {
        self.stderr().len()
    }

    /// What the daemon wrote to stderr after `mark`.
    pub fn stderr_since(&self, mark: usize) -> String {
        self.stderr().get(mark..).unwrap_or_default().to_string()
    }

    /// Waits until a line the daemon wrote to stderr after `mark` contains
    /// every one of `texts`; returns that line. Panics with the daemon's
    /// stderr after `deadline`.
    #[track_caller]
    pub fn wait_for_stderr(&self, mark: usize, deadline: Duration, texts: &[&str]) -> String {
        let mut found = None;
        self.wait_until(
            deadline,
            &format!("intelmqd logs a line with {texts:?}"),
            || {
                found = self
                    .stderr_since(mark)
                    .lines()
                    .find(|line| texts.iter().all(|text| line.contains(text)))
                    .map(str::to_string);
                found.is_some()
            },
        );
        found.expect("waited for it")
    }

    /// `intelmqctl --socket <socket> <args>` as a command not yet run (e.g. to
    /// run it under a terminal, see [`crate::pty`]).
    pub fn ctl_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(bin("intelmqctl"));
        clear_intelmq_env(&mut command);
        command.arg("--socket").arg(&self.socket).args(args);
        command
    }

    /// Replaces defaults.conf (with `bot_user` as [`DaemonBuilder::defaults`]).
    pub fn write_defaults_conf(&self, defaults: &Value) {
        self.write_config_file("defaults.conf", &to_text(&as_test_user(defaults.clone())));
    }

    fn write_config_file(&self, name: &str, text: &str) {
        let temporary = self.config_dir.join(format!(".{name}.tmp"));
        std::fs::write(&temporary, text).expect("write a config file");
        std::fs::rename(&temporary, self.config_dir.join(name)).expect("rename a config file");
    }

    /// The live test bot processes of this fixture: processes whose
    /// environment names its config dir and that run `intelmq-testbot`.
    pub fn bot_processes(&self) -> Vec<u32> {
        let daemon = self.child.as_ref().map(Child::id);
        procfs::processes_with_env("INTELMQ_CONFIG_DIR", &self.config_dir)
            .into_iter()
            .filter(|&pid| Some(pid) != daemon)
            .filter(|&pid| {
                procfs::cmdline(pid)
                    .first()
                    .is_some_and(|argv0| argv0.ends_with(crate::TESTBOT))
            })
            .collect()
    }

    /// Kills everything this fixture may have left running.
    fn kill_everything(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let mut victims = procfs::processes_with_env("INTELMQ_CONFIG_DIR", &self.config_dir);
        let seen = self.seen_pids.lock().unwrap_or_else(|e| e.into_inner());
        for (&pid, &starttime) in seen.iter() {
            if procfs::stat(pid).is_some_and(|stat| stat.starttime == starttime) {
                victims.push(pid);
            }
        }
        drop(seen);
        for &pid in &victims {
            procfs::kill_tree(pid);
        }
        let gone = crate::poll_until(Duration::from_secs(5), || {
            procfs::reap_orphaned_bots();
            !victims.iter().any(|&pid| procfs::pid_alive(pid))
        });
        if gone.is_err() {
            let left: Vec<u32> = victims
                .into_iter()
                .filter(|&pid| procfs::pid_alive(pid))
                .collect();
            eprintln!("intelmqd-tests: processes {left:?} survived SIGKILL");
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.stderr_report());
            if let Ok(entries) = std::fs::read_dir(&self.log_dir) {
                for entry in entries.flatten() {
                    eprintln!(
                        "--- {} (last 15 lines) ---\n{}",
                        entry.path().display(),
                        crate::tail(&entry.path(), 15)
                    );
                }
            }
        }
        self.kill_everything();
    }
}

/// Removes the `INTELMQ_*` variables of the test's own environment, so that
/// only what the fixture sets reaches the daemon and the client.
fn clear_intelmq_env(command: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("INTELMQ_") {
            command.env_remove(key);
        }
    }
}

/// A connection to the daemon speaking raw lines.
pub struct Connection {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Connection {
    /// Connects, with reads and writes timing out after [`TIMEOUT`].
    pub fn open(socket: &Path) -> std::io::Result<Connection> {
        let stream = UnixStream::connect(socket)?;
        let connection = Connection {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        };
        connection.set_timeout(TIMEOUT);
        Ok(connection)
    }

    pub fn set_timeout(&self, timeout: Duration) {
        let stream = self.reader.get_ref();
        let _ = stream.set_read_timeout(Some(timeout));
        let _ = stream.set_write_timeout(Some(timeout));
    }

    /// Another handle on the socket for writing (e.g. from a thread).
    pub fn writer(&self) -> UnixStream {
        self.writer.try_clone().expect("clone a socket")
    }

    /// Writes bytes as they are (add the newline yourself).
    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to the socket");
    }

    /// Reads one reply line (without its newline).
    pub fn read_line(&mut self) -> String {
        self.try_read_line()
            .unwrap_or_else(|error| panic!("no reply line from intelmqd: {error}"))
    }

    fn try_read_line(&mut self) -> std::io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection",
            ));
        }
        Ok(line.trim_end_matches('\n').to_string())
    }

    /// Sends `line` and a newline; returns the reply line.
    pub fn request(&mut self, line: &str) -> String {
        self.try_request(line)
            .unwrap_or_else(|error| panic!("request {line:?} got no reply: {error}"))
    }

    fn try_request(&mut self, line: &str) -> std::io::Result<String> {
        self.writer.write_all(format!("{line}\n").as_bytes())?;
        self.try_read_line()
    }

    /// Sends `line` and returns the parsed reply.
    pub fn call(&mut self, line: &str) -> Value {
        let reply = self.request(line);
        serde_json::from_str(&reply)
            .unwrap_or_else(|error| panic!("reply is not JSON: {error}: {reply}"))
    }
}

/// Adds `"bot_user": "root"` to a defaults.conf object when the tests run as
/// root and it names no bot user: the tests' bots run as the tests' user.
pub fn as_test_user(mut defaults: Value) -> Value {
    if nix::unistd::Uid::effective().is_root() {
        if let Some(object) = defaults.as_object_mut() {
            object
                .entry("bot_user")
                .or_insert_with(|| Value::String("root".into()));
        }
    }
    defaults
}
