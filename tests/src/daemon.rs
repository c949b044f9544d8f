//! The `Daemon` fixture: one intelmqd on its own temporary directories.
//!
//! Its configuration is written in the format of the test run
//! ([`ConfigFormat::from_env`], `INTELMQD_TEST_CONFIG_FORMAT`): the spec's
//! runtime.conf, defaults.conf and pipeline.conf, or one runtime.yaml with
//! the defaults as its `global:` section. Tests speak of bots and defaults as
//! JSON values ([`DaemonBuilder::runtime`], [`Daemon::write_runtime_conf`],
//! [`Daemon::read_runtime_conf`], [`Daemon::write_defaults_conf`]) and name
//! the runtime file through [`Daemon::runtime_file`], so that most tests run
//! unchanged on either format.
//!
//! Format-specific tests, which run in their own format whatever the switch:
//! - JSON always: tests given runtime.conf as text
//!   ([`DaemonBuilder::runtime_text`], JSON text by definition) or of
//!   defaults.conf and pipeline.conf as files ([`DaemonBuilder::format`]):
//!   all of `onboot_and_membership.rs` (an IntelMQ-style runtime.conf edited
//!   byte for byte), and in `configtest.rs` the JSON syntax error, the bad
//!   defaults.conf and pipeline.conf tests and `json_configtest_has_valid_files_and_bots`.
//!   The systemd unit tests (`systemd_units.rs`) and the launcher's tests
//!   (`intelmqd/tests/launcher.rs`) have fixtures of their own on runtime.conf.
//! - YAML always ([`DaemonBuilder::runtime_yaml`] or their own files):
//!   `runtime_yaml.rs` (an operator's runtime.yaml with comments, kept by the
//!   daemon's writes), `configtest.rs`'s YAML syntax error and bad `global:`,
//!   and `intelmq_real.rs` (real IntelMQ 3 bots read runtime.yaml).
//! - Both, each in the format's own words: the syntax errors of `config.rs`
//!   and `watching.rs` ([`ConfigFormat::broken_runtime`]: file and line), and
//!   every message naming the runtime file. `watching.rs`'s edit of
//!   pipeline.conf is one of runtime.yaml on YAML, where pipeline.conf is
//!   not read.

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

use crate::config_format::{json_text, ConfigFormat};
use crate::{bin, bin_dir, procfs, run_with_deadline, CtlOutput, TIMEOUT};

/// What the runtime file of a [`DaemonBuilder`] holds.
#[derive(Debug, Clone)]
enum RuntimeSource {
    /// Bots as a JSON value, written in the run's format.
    Bots(Value),
    /// runtime.conf's text as it is.
    JsonText(String),
    /// runtime.yaml's text as it is, `global:` included.
    YamlText(String),
    /// The run format's runtime file with a syntax error
    /// ([`ConfigFormat::broken_runtime`]).
    Broken,
}

/// How a [`Daemon`] is set up before it starts.
#[derive(Debug, Clone)]
pub struct DaemonBuilder {
    runtime: RuntimeSource,
    /// defaults.conf, or runtime.yaml's `global:`, bot user added.
    defaults: Value,
    env: Vec<(OsString, OsString)>,
    path_prefix: Vec<PathBuf>,
    /// The format a test insists on; else the run's ([`ConfigFormat::from_env`]).
    format: Option<ConfigFormat>,
}

impl Default for DaemonBuilder {
    fn default() -> Self {
        DaemonBuilder {
            runtime: RuntimeSource::Bots(json!({})),
            defaults: as_test_user(json!({"process_manager": "pid"})),
            env: Vec::new(),
            path_prefix: Vec::new(),
            format: None,
        }
    }
}

impl DaemonBuilder {
    /// runtime.conf: bot id -> configuration (see [`crate::testbot`]),
    /// written in the run's format.
    pub fn runtime(mut self, runtime: Value) -> Self {
        self.runtime = RuntimeSource::Bots(runtime);
        self
    }

    /// runtime.conf as raw text, e.g. invalid JSON. JSON text by definition:
    /// the daemon then runs on the JSON files whatever the run's format.
    pub fn runtime_text(mut self, text: &str) -> Self {
        self.runtime = RuntimeSource::JsonText(text.to_string());
        self.format(ConfigFormat::Json)
    }

    /// A runtime file with a syntax error in the run's format
    /// ([`ConfigFormat::broken_runtime`] says what the daemon reports).
    pub fn runtime_with_syntax_error(mut self) -> Self {
        self.runtime = RuntimeSource::Broken;
        self
    }

    /// The format of the configuration files, whatever the run's, for the
    /// tests of one format's files as such.
    pub fn format(mut self, format: ConfigFormat) -> Self {
        self.format = Some(format);
        self
    }

    /// defaults.conf (default: `{"process_manager": "pid"}`), or the
    /// `global:` section of runtime.yaml. When the tests run as root,
    /// `"bot_user": "root"` is added unless the test sets it: the daemon runs
    /// bots as root only when told so.
    pub fn defaults(mut self, defaults: Value) -> Self {
        self.defaults = as_test_user(defaults);
        self
    }

    /// One more variable in the daemon's environment (its bots inherit it).
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// A directory searched before the daemon's usual `PATH` (the workspace's
    /// binaries, then the test's own `PATH`), e.g. a venv's `bin`.
    pub fn path_prefix(mut self, dir: impl Into<PathBuf>) -> Self {
        self.path_prefix.push(dir.into());
        self
    }

    /// runtime.yaml as raw text: the config dir then holds only this file (no
    /// runtime.conf, defaults.conf or pipeline.conf), as with IntelMQ 3.x,
    /// whatever the run's format. Its `global:` section is the test's to
    /// write, `bot_user` included (see [`as_test_user`]).
    pub fn runtime_yaml(mut self, text: &str) -> Self {
        self.runtime = RuntimeSource::YamlText(text.to_string());
        self.format(ConfigFormat::Yaml)
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
        let format = self.format.unwrap_or_else(ConfigFormat::from_env);
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
            env: self.env,
            path_prefix: self.path_prefix,
            format,
            defaults: Mutex::new(self.defaults.clone()),
        };
        for dir in [&daemon.config_dir, &daemon.state_dir, &daemon.log_dir] {
            std::fs::create_dir(dir).expect("create a directory in the temporary directory");
        }
        let files = match (&self.runtime, format) {
            (RuntimeSource::Bots(bots), format) => format.files(bots, &self.defaults),
            (RuntimeSource::Broken, format) => {
                let mut files = format.files(&json!({}), &self.defaults);
                files[0].1 = format.broken_runtime().text.to_string();
                files
            }
            (RuntimeSource::JsonText(text), ConfigFormat::Json) => vec![
                ("runtime.conf", text.clone()),
                ("defaults.conf", json_text(&self.defaults)),
                ("pipeline.conf", "{}\n".to_string()),
            ],
            (RuntimeSource::YamlText(text), ConfigFormat::Yaml) => {
                vec![("runtime.yaml", text.clone())]
            }
            (source, format) => panic!(
                "the runtime file {source:?} cannot be written in the {} format",
                format.as_str()
            ),
        };
        for (name, text) in files {
            daemon.write_config_file(name, &text);
        }
        let mut daemon = daemon;
        daemon.spawn();
        daemon
    }
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
    /// Extra environment of the daemon ([`DaemonBuilder::env`]).
    env: Vec<(OsString, OsString)>,
    /// Directories put first on the daemon's `PATH`.
    path_prefix: Vec<PathBuf>,
    /// The format of the configuration files.
    format: ConfigFormat,
    /// The defaults last written, for runtime.yaml's `global:` when the
    /// file on disk has none to keep.
    defaults: Mutex<Value>,
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
        let mut path = OsString::new();
        for dir in &self.path_prefix {
            path.push(dir);
            path.push(":");
        }
        path.push(bin_dir());
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
            .envs(self.env.iter().map(|(key, value)| (key, value)))
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

    /// The format of the configuration files.
    pub fn format(&self) -> ConfigFormat {
        self.format
    }

    /// The name of the file that holds the bots (`runtime.conf` or
    /// `runtime.yaml`), as the daemon names it in its messages.
    pub fn runtime_file(&self) -> &'static str {
        self.format.runtime_file()
    }

    /// Replaces the bots of the runtime file (atomically, as an editor saving
    /// it would); runtime.yaml keeps its `global:` section.
    pub fn write_runtime_conf(&self, runtime: &Value) {
        self.write_runtime_file_text(&self.runtime_text_of(runtime));
    }

    /// The runtime file's text holding `runtime` in this daemon's format, as
    /// [`Daemon::write_runtime_conf`] writes it.
    pub fn runtime_text_of(&self, runtime: &Value) -> String {
        self.format.runtime_text(runtime, &self.current_global())
    }

    /// runtime.yaml's `global:` on disk, else the defaults last written.
    fn current_global(&self) -> Value {
        let on_disk = std::fs::read_to_string(self.runtime_conf_path())
            .ok()
            .and_then(|text| self.format.parse_runtime(&text).ok())
            .and_then(|(_, global)| global);
        on_disk.unwrap_or_else(|| {
            self.defaults
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        })
    }

    /// Replaces runtime.conf with raw JSON text, e.g. invalid JSON; only for
    /// a daemon on the JSON files ([`DaemonBuilder::runtime_text`] or
    /// [`DaemonBuilder::format`]). See [`Daemon::write_runtime_file_text`]
    /// for text in the daemon's format.
    #[track_caller]
    pub fn write_runtime_conf_text(&self, text: &str) {
        assert_eq!(
            self.format,
            ConfigFormat::Json,
            "runtime.conf's JSON text for a daemon on runtime.yaml: force the JSON format or write \
             the text of the daemon's format (write_runtime_file_text)"
        );
        self.write_config_file("runtime.conf", text);
    }

    /// Replaces the runtime file (runtime.conf or runtime.yaml) with raw
    /// text in the daemon's format.
    pub fn write_runtime_file_text(&self, text: &str) {
        self.write_config_file(self.runtime_file(), text);
    }

    /// The bots of the runtime file as a JSON object (runtime.yaml without
    /// its `global:`), read as the daemon reads it.
    #[track_caller]
    pub fn read_runtime_conf(&self) -> Value {
        let text = self.read_runtime_conf_text();
        self.format
            .parse_runtime(&text)
            .map(|(bots, _)| bots)
            .unwrap_or_else(|error| panic!("{error}\n{text}"))
    }

    /// `<config_dir>/runtime.conf`, or runtime.yaml for a daemon on it: the
    /// file that holds the bots.
    pub fn runtime_conf_path(&self) -> PathBuf {
        self.config_dir.join(self.runtime_file())
    }

    /// The runtime file exactly as it is on disk.
    pub fn read_runtime_conf_text(&self) -> String {
        std::fs::read_to_string(self.runtime_conf_path())
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", self.runtime_file()))
    }

    /// One bot's entry of the runtime file as it is on disk (`None` when
    /// absent).
    pub fn runtime_entry(&self, bot_id: &str) -> Option<Value> {
        self.read_runtime_conf().get(bot_id).cloned()
    }

    /// Rewrites the runtime file in place (truncate and write the same
    /// inode), as `echo ... > runtime.conf` or an editor without atomic saves
    /// would; `text` is in the daemon's format.
    pub fn write_runtime_conf_in_place(&self, text: &str) {
        let mut file = OpenOptions::new()
            .write(true)
            .truncate(true)
            .create(true)
            .open(self.runtime_conf_path())
            .expect("open the runtime file for writing");
        file.write_all(text.as_bytes())
            .expect("write the runtime file in place");
    }

    /// `<config_dir>/runtime.yaml`.
    pub fn runtime_yaml_path(&self) -> PathBuf {
        self.config_dir.join("runtime.yaml")
    }

    /// runtime.yaml exactly as it is on disk.
    pub fn read_runtime_yaml_text(&self) -> String {
        std::fs::read_to_string(self.runtime_yaml_path()).expect("read runtime.yaml")
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

    /// Replaces defaults.conf, or runtime.yaml's `global:` keeping its bots
    /// (with `bot_user` as [`DaemonBuilder::defaults`]).
    pub fn write_defaults_conf(&self, defaults: &Value) {
        self.write_defaults_exactly(&as_test_user(defaults.clone()));
    }

    /// Replaces defaults.conf, or runtime.yaml's `global:` keeping its bots,
    /// with `defaults` exactly (no bot user added), for the tests of a root
    /// daemon without `bot_user`.
    pub fn write_defaults_exactly(&self, defaults: &Value) {
        let defaults = defaults.clone();
        *self.defaults.lock().unwrap_or_else(|e| e.into_inner()) = defaults.clone();
        match self.format {
            ConfigFormat::Json => self.write_config_file("defaults.conf", &json_text(&defaults)),
            ConfigFormat::Yaml => {
                let bots = self.read_runtime_conf();
                self.write_runtime_file_text(&self.format.runtime_text(&bots, &defaults));
            }
        }
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
