//! Helpers for the tests that run real IntelMQ 3.5 bots under intelmqd
//! (`tests/intelmq_real.rs`): finding the venv that `.ci/intelmq-setup.sh`
//! made, a redis-server of the test's own, and one description of the bots
//! written as the runtime.yaml that both the daemon and the bots read.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::{poll_until, Daemon, TIMEOUT};

/// The variable naming the venv with IntelMQ 3.5 in it.
pub const VENV_VAR: &str = "INTELMQD_TEST_INTELMQ_VENV";

/// How long a real pipeline may take to deliver: Python bots take a second
/// or more to start on a loaded machine, and the collector polls every 2 s.
pub const PIPELINE_TIMEOUT: Duration = Duration::from_secs(90);

/// The venv of `INTELMQD_TEST_INTELMQ_VENV`, checked. `None`, after printing
/// why, when the variable is unset outside CI; a panic when it is unset in CI
/// (`CI=true`) or names no usable venv, so that CI never passes by skipping.
pub fn venv_or_skip(test: &str) -> Option<PathBuf> {
    let Some(venv) = std::env::var_os(VENV_VAR).filter(|v| !v.is_empty()) else {
        if std::env::var("CI").is_ok_and(|ci| ci == "true") {
            panic!(
                "{test}: CI=true but {VENV_VAR} is not set: run .ci/intelmq-setup.sh and export {VENV_VAR} (.ci/run does both)"
            );
        }
        eprintln!(
            "SKIPPED {test}: {VENV_VAR} is not set; run .ci/intelmq-setup.sh and set {VENV_VAR}=/opt/intelmq-venv to run real IntelMQ bots"
        );
        return None;
    };
    let venv = PathBuf::from(venv);
    let collector = venv.join("bin").join(FILE_COLLECTOR);
    assert!(
        collector.is_file(),
        "{VENV_VAR}={} has no {}: run .ci/intelmq-setup.sh",
        venv.display(),
        collector.display()
    );
    Some(venv)
}

/// IntelMQ's harmonization.conf in the venv, which the bots load at start.
pub fn harmonization_conf(venv: &Path) -> PathBuf {
    let lib = venv.join("lib");
    std::fs::read_dir(&lib)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", lib.display()))
        .filter_map(Result::ok)
        .map(|entry| {
            entry
                .path()
                .join("site-packages/intelmq/etc/harmonization.conf")
        })
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("no intelmq/etc/harmonization.conf under {}", lib.display()))
}

/// IntelMQ's modules used by the tests.
pub const FILE_COLLECTOR: &str = "intelmq.bots.collectors.file.collector_file";
pub const CSV_PARSER: &str = "intelmq.bots.parsers.generic.parser_csv";
pub const FILTER_EXPERT: &str = "intelmq.bots.experts.filter.expert";
pub const FILE_OUTPUT: &str = "intelmq.bots.outputs.file.output";

/// A redis-server on a free loopback port, its files in `dir`; killed on drop.
pub struct Redis {
    pub port: u16,
    child: Child,
}

impl Redis {
    /// Starts it and waits until it answers PING.
    pub fn start(dir: &Path) -> Redis {
        let port = free_port();
        let log = std::fs::File::create(dir.join("redis.log")).expect("create redis.log");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone a file handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start redis-server (run .ci/intelmq-setup.sh): {error}")
            });
        let redis = Redis { port, child };
        if poll_until(TIMEOUT, || redis.answers_ping()).is_err() {
            panic!(
                "redis-server on port {port} did not answer PING within {TIMEOUT:?}\n{}",
                crate::tail(&dir.join("redis.log"), 20)
            );
        }
        redis
    }

    fn answers_ping(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listened on a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("bind a free loopback port")
}

/// How a bot runs.
#[derive(Debug, Clone)]
pub enum Mode {
    Stream,
    /// Run by the daemon's scheduler at these ticks.
    Scheduled(&'static str),
}

/// One real bot of a test's configuration.
#[derive(Debug, Clone)]
pub struct RealBot {
    pub id: &'static str,
    pub module: &'static str,
    pub mode: Mode,
    /// Member of the botnet (`botnet` for the daemon, `enabled` for IntelMQ).
    pub botnet: bool,
    /// The daemon's crash-restart mode, where the test sets one.
    pub restart: Option<&'static str>,
    pub parameters: Value,
}

impl RealBot {
    pub fn stream(id: &'static str, module: &'static str, parameters: Value) -> RealBot {
        RealBot {
            id,
            module,
            mode: Mode::Stream,
            botnet: true,
            restart: None,
            parameters,
        }
    }
}

/// Which files lie in the config dir.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFiles {
    /// runtime.yaml alone, read by the daemon and the bots.
    YamlOnly,
    /// runtime.yaml, and beside it the runtime.conf and defaults.conf an
    /// older installation left, which the daemon ignores (and says so): they
    /// put every bot outside the botnet, so a daemon reading them would start
    /// none of them.
    YamlBesideStaleConf,
}

/// A test's IntelMQ installation: `INTELMQ_ROOT_DIR=<root>` with `<root>/etc`
/// the daemon's config dir, so that the bots read the runtime.yaml the test
/// writes there. Directories the bots write are owned by `intelmq` when the
/// tests run as root (the daemon then runs the bots as that user).
pub struct Installation {
    /// The directory holding everything below.
    pub base: PathBuf,
    /// `INTELMQ_ROOT_DIR`.
    pub root: PathBuf,
    /// Where the file collector looks for `*.csv`.
    pub spool: PathBuf,
    /// Where the file output writes.
    pub output_dir: PathBuf,
}

impl Installation {
    /// The directories under `base` (the fixture's temporary directory).
    /// Call [`Installation::prepare`] once the daemon has created its dirs.
    pub fn under(base: &Path) -> Installation {
        Installation {
            base: base.to_path_buf(),
            root: base.join("intelmq"),
            spool: base.join("spool"),
            output_dir: base.join("output"),
        }
    }

    /// Creates the directories, links `<root>/etc` to the daemon's config
    /// dir, copies harmonization.conf there and hands what the bots write to
    /// their user. The daemon's log dir is also IntelMQ's `logging_path` (as
    /// on an LSB installation, where both are /var/log/intelmq).
    pub fn prepare(&self, daemon: &Daemon, venv: &Path) {
        // The fixture's directory is private to its creator; the bots' user
        // must reach the configuration and its own directories in it.
        for dir in [daemon.root(), self.base.as_path()] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
                .expect("open a temporary directory to the bots' user");
        }
        for dir in [
            self.root.join("var/log"),
            self.root.join("var/run"),
            self.root.join("var/lib/bots"),
            self.spool.clone(),
            self.output_dir.clone(),
        ] {
            std::fs::create_dir_all(&dir).expect("create a directory of the installation");
        }
        std::os::unix::fs::symlink(&daemon.config_dir, self.root.join("etc"))
            .expect("link <root>/etc to the config dir");
        std::fs::copy(
            harmonization_conf(venv),
            daemon.config_dir.join("harmonization.conf"),
        )
        .expect("copy harmonization.conf");
        if nix::unistd::Uid::effective().is_root() {
            let user = nix::unistd::User::from_name("intelmq")
                .ok()
                .flatten()
                .expect("the user intelmq exists (run .ci/intelmq-setup.sh)");
            for dir in [
                self.root.join("var"),
                self.spool.clone(),
                self.output_dir.clone(),
                daemon.log_dir.clone(),
            ] {
                chown_tree(&dir, user.uid, user.gid);
            }
        }
    }

    /// Writes the configuration of `bots` with a redis on `redis_port` and
    /// the daemon's global settings `daemon_settings` (defaults.conf keys):
    /// runtime.yaml in IntelMQ 3's format, a `global:` section with the
    /// broker and logging settings and the daemon's, then the bots with
    /// IntelMQ's keys and the daemon's (`botnet`, `schedule_time`,
    /// `restart`). runtime.yaml is written as JSON, which is YAML too. The
    /// JSON files of the fixture are removed, or, with
    /// [`ConfigFiles::YamlBesideStaleConf`], replaced by stale ones.
    pub fn write_config(
        &self,
        daemon: &Daemon,
        bots: &[RealBot],
        redis_port: u16,
        daemon_settings: &Value,
        files: ConfigFiles,
    ) {
        let mut yaml = Map::new();
        let mut global = Map::new();
        for side in ["source", "destination"] {
            global.insert(format!("{side}_pipeline_broker"), json!("redis"));
            global.insert(format!("{side}_pipeline_host"), json!("127.0.0.1"));
            global.insert(format!("{side}_pipeline_port"), json!(redis_port));
            global.insert(format!("{side}_pipeline_db"), json!(2));
        }
        global.insert("statistics_host".into(), json!("127.0.0.1"));
        global.insert("statistics_port".into(), json!(redis_port));
        global.insert("statistics_database".into(), json!(3));
        global.insert("error_procedure".into(), json!("pass"));
        global.insert("logging_handler".into(), json!("file"));
        global.insert("logging_level".into(), json!("INFO"));
        global.insert(
            "logging_path".into(),
            json!(daemon.log_dir.to_string_lossy()),
        );
        if let Some(settings) = daemon_settings.as_object() {
            global.extend(settings.clone());
        }
        yaml.insert("global".into(), Value::Object(global.clone()));
        let mut stale = Map::new();
        for bot in bots {
            let (run_mode, schedule_time) = match bot.mode {
                Mode::Stream => ("continuous", None),
                Mode::Scheduled(schedule) => ("scheduled", Some(schedule)),
            };
            let mut entry = json!({
                "bot_id": bot.id,
                "module": bot.module,
                "run_mode": run_mode,
                "enabled": bot.botnet,
                "parameters": bot.parameters,
            });
            if let Some(schedule) = schedule_time {
                entry["schedule_time"] = json!(schedule);
            }
            entry["botnet"] = json!(bot.botnet);
            if let Some(restart) = bot.restart {
                entry["restart"] = json!(restart);
            }
            let mut stale_entry = entry.clone();
            stale_entry["botnet"] = json!(false);
            stale_entry["enabled"] = json!(false);
            stale.insert(bot.id.into(), stale_entry);
            yaml.insert(bot.id.into(), entry);
        }
        let yaml_text =
            serde_json::to_string_pretty(&Value::Object(yaml)).expect("JSON values serialise");
        // runtime.yaml first: from then on the daemon reads it alone, and
        // never sees a config dir without its bots.
        daemon.write_config_text("runtime.yaml", &format!("{yaml_text}\n"));
        for file in ["runtime.conf", "defaults.conf", "pipeline.conf"] {
            let _ = std::fs::remove_file(daemon.config_dir.join(file));
        }
        if files == ConfigFiles::YamlBesideStaleConf {
            let write = |name: &str, value: Value| {
                let text = serde_json::to_string_pretty(&value).expect("JSON values serialise");
                daemon.write_config_text(name, &format!("{text}\n"));
            };
            write("defaults.conf", Value::Object(global));
            write("runtime.conf", Value::Object(stale));
        }
    }

    /// Drops `text` into the spool as `<name>.csv`, written under another
    /// name first so that the collector never reads half a file.
    pub fn drop_csv(&self, name: &str, text: &str) {
        let temporary = self.spool.join(format!(".{name}.part"));
        std::fs::write(&temporary, text).expect("write a CSV file into the spool");
        if nix::unistd::Uid::effective().is_root() {
            if let Ok(Some(user)) = nix::unistd::User::from_name("intelmq") {
                let _ = std::os::unix::fs::chown(
                    &temporary,
                    Some(user.uid.as_raw()),
                    Some(user.gid.as_raw()),
                );
            }
        }
        std::fs::rename(&temporary, self.spool.join(format!("{name}.csv")))
            .expect("rename the CSV file into place");
    }
}

fn chown_tree(path: &Path, uid: nix::unistd::Uid, gid: nix::unistd::Gid) {
    std::os::unix::fs::chown(path, Some(uid.as_raw()), Some(gid.as_raw()))
        .unwrap_or_else(|error| panic!("chown {}: {error}", path.display()));
    if path.is_dir() && !path.is_symlink() {
        for entry in std::fs::read_dir(path).expect("list a directory").flatten() {
            chown_tree(&entry.path(), uid, gid);
        }
    }
}

/// The live processes started from the venv (a console script's interpreter
/// runs `<venv>/bin/<module>`) whose environment names `config_dir`.
pub fn venv_bot_processes(venv: &Path, config_dir: &Path) -> Vec<u32> {
    let bin = venv.join("bin");
    crate::procfs::processes_with_env("INTELMQ_CONFIG_DIR", config_dir)
        .into_iter()
        .filter(|&pid| {
            crate::procfs::cmdline(pid)
                .iter()
                .any(|argument| Path::new(argument).starts_with(&bin))
        })
        .collect()
}

/// `intelmqctl --json status <bot_id>`: the bot's status object.
#[track_caller]
pub fn json_status(daemon: &Daemon, bot_id: &str) -> Value {
    let output = daemon.ctl(&["--json", "status", bot_id]);
    output.expect_code(0);
    let document = output.json();
    let bots = document
        .as_array()
        .or_else(|| document["bots"].as_array())
        .cloned()
        .unwrap_or_default();
    bots.into_iter()
        .find(|bot| bot["bot_id"] == json!(bot_id))
        .unwrap_or_else(|| panic!("no status of {bot_id} in {document}"))
}
