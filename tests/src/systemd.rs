//! The [`UserManager`] fixture: a real `systemd --user` manager of its own, for
//! the tests of the systemd units and of intelmqd under systemd, and
//! [`UnitFile`], which rewrites the units shipped in `contrib/systemd` for it.
//!
//! The manager is isolated from the machine: it runs in a cgroup2 subtree of
//! its own under this test process's cgroup (a cgroup namespace makes that
//! subtree its root), in a private mount namespace where `/run/systemd/system`
//! exists (systemd checks it) without that directory appearing on the host,
//! and with `XDG_RUNTIME_DIR`, `XDG_CONFIG_HOME` and the others in a temporary
//! directory, so that sockets, unit files and `enable` symlinks stay there. A
//! plain `systemd --user` in the machine's root cgroup would instead move every
//! process of the machine into its own cgroups: never start one that way.
//!
//! Dropping the fixture (also when a test panics) stops the manager, kills
//! whatever is left in its cgroup subtree and removes the subtree.
//!
//! Tests that need a manager start with [`UserManager::start_or_skip`]: where
//! the machine cannot run one (not root, no systemd, no cgroup2) the test is
//! skipped with the reason on stderr, unless `CI=true`, where it fails.

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

use crate::{bin, bin_dir, procfs, run_with_deadline, CtlOutput, TIMEOUT};

/// The systemd binary a user manager runs.
const SYSTEMD: &str = "/lib/systemd/systemd";

/// How long the manager may take to stop its units and exit before what is
/// left in its cgroup subtree is killed.
const MANAGER_STOP_GRACE: Duration = Duration::from_secs(3);

/// The directory of the units shipped with the project.
pub fn shipped_units_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("contrib")
        .join("systemd")
}

/// Started in the new mount and cgroup namespaces: a cgroup2 mount whose root
/// is the manager's subtree, `/run/systemd/system` on a private tmpfs (over
/// `/run/systemd`, or over `/run` where the machine has no `/run/systemd`),
/// then the manager itself.
const INNER_SCRIPT: &str = r#"
mount -t cgroup2 cgroup2 /sys/fs/cgroup || exit 1
if [ -d /run/systemd ]; then hidden=/run/systemd; else hidden=/run; fi
mount -t tmpfs -o mode=755 tmpfs "$hidden" || exit 1
mkdir -p /run/systemd/system || exit 1
exec "$0" --user --log-target=console --log-level=info
"#;

/// Moves itself into the cgroup whose `cgroup.procs` is `$1`, then runs
/// [`INNER_SCRIPT`] with `$2` (systemd) in new mount and cgroup namespaces.
/// Every step execs, so the pid of the spawned child is the manager's.
const OUTER_SCRIPT: &str = r#"
echo $$ > "$1" || exit 1
exec unshare --mount --cgroup --propagation private -- sh -c "$3" "$2"
"#;

/// Why this machine cannot run a sandboxed user manager, if it cannot.
pub fn unavailable_reason() -> Option<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Some("the systemd tests need root (new namespaces and cgroups)".into());
    }
    if !Path::new(SYSTEMD).is_file() {
        return Some(format!(
            "{SYSTEMD} does not exist (apt-get install systemd dbus dbus-user-session)"
        ));
    }
    for tool in ["systemctl", "unshare", "mount"] {
        if !on_path(tool) {
            return Some(format!("{tool} is not on PATH"));
        }
    }
    if let Err(reason) = own_cgroup_dir() {
        return Some(reason);
    }
    None
}

/// Whether `program` is an executable in a directory of `PATH`.
fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(program))
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Whether this is a CI run (`CI=true`), where a test that cannot run fails.
fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}

/// The cgroup2 directory of this process: `/sys/fs/cgroup/unified/<path>` on
/// a hybrid machine, `/sys/fs/cgroup/<path>` on a pure cgroup2 one.
fn own_cgroup_dir() -> Result<PathBuf, String> {
    let hierarchy = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .into_iter()
        .map(Path::new)
        .find(|dir| {
            dir.join("cgroup.procs").is_file() && dir.join("cgroup.subtree_control").is_file()
        })
        .ok_or_else(|| {
            "no cgroup2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified".to_string()
        })?;
    let membership = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|error| format!("cannot read /proc/self/cgroup: {error}"))?;
    let path = membership
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .ok_or_else(|| "this process is in no cgroup2 cgroup (/proc/self/cgroup)".to_string())?;
    Ok(hierarchy.join(path.trim_start_matches('/')))
}

/// Tells apart the cgroup subtrees of the managers of one test process.
static NEXT_MANAGER: AtomicU32 = AtomicU32::new(0);

/// A running, isolated `systemd --user` manager on a temporary directory.
pub struct UserManager {
    /// `XDG_RUNTIME_DIR`: the manager's private socket, the bus, the notify socket.
    pub runtime_dir: PathBuf,
    /// `XDG_CONFIG_HOME`: `systemd/user` holds the installed units and the
    /// `enable` symlinks.
    pub config_home: PathBuf,
    data_home: PathBuf,
    state_home: PathBuf,
    home: PathBuf,
    /// The manager's cgroup2 subtree as seen from the host.
    cgroup: PathBuf,
    /// The manager's console output.
    log_path: PathBuf,
    manager: Option<Child>,
    /// Owns the directory: removed after the manager and its processes.
    dir: tempfile::TempDir,
}

impl UserManager {
    /// A started manager, or `None` with the reason printed where this machine
    /// cannot run one. Panics instead of skipping when `CI=true`.
    pub fn start_or_skip(test: &str) -> Option<UserManager> {
        match unavailable_reason() {
            None => Some(UserManager::start()),
            Some(reason) if is_ci() => {
                panic!("{test}: CI=true, so this test must run, but it cannot: {reason}")
            }
            Some(reason) => {
                // Written past the test harness's output capture, so that the
                // skip shows in a passing run.
                let _ = writeln!(std::io::stderr(), "skipping {test}: {reason}");
                None
            }
        }
    }

    /// Starts a manager and waits until its `SystemState` is `running`.
    /// Panics, with the manager's output, when it does not get there.
    pub fn start() -> UserManager {
        procfs::become_reaper_of_orphans();
        // Unix socket paths are limited to 108 bytes: stay short, under /tmp.
        let dir = tempfile::Builder::new()
            .prefix("imqsd-")
            .tempdir_in("/tmp")
            .expect("a temporary directory under /tmp");
        let root = dir.path().to_path_buf();
        let cgroup = create_cgroup_subtree();
        let mut manager = UserManager {
            runtime_dir: root.join("xdg"),
            config_home: root.join("config"),
            data_home: root.join("data"),
            state_home: root.join("state"),
            home: root.join("home"),
            cgroup,
            log_path: root.join("manager.log"),
            manager: None,
            dir,
        };
        for dir in [
            &manager.runtime_dir,
            &manager.config_home.join("systemd").join("user"),
            &manager.data_home,
            &manager.state_home,
            &manager.home,
        ] {
            std::fs::create_dir_all(dir).expect("create a directory of the user manager");
        }
        {
            use std::os::unix::fs::PermissionsExt;
            // systemd refuses a runtime dir that others may enter.
            std::fs::set_permissions(&manager.runtime_dir, std::fs::Permissions::from_mode(0o700))
                .expect("chmod the runtime dir");
        }
        manager.spawn();
        manager
    }

    fn spawn(&mut self) {
        let log = File::create(&self.log_path).expect("create the manager's log file");
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(OUTER_SCRIPT)
            .arg("sh")
            .arg(self.cgroup.join("cgroup.procs"))
            .arg(SYSTEMD)
            .arg(INNER_SCRIPT)
            // Units get the manager's environment: only what is set here.
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("HOME", &self.home)
            .env("USER", "root")
            .env("LOGNAME", "root")
            .envs(self.env())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone a file handle"))
            .stderr(log)
            // Its own process group: a Ctrl-C at the terminal is for the
            // tests, and Drop stops the manager.
            .process_group(0);
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start the user manager: {error}"));
        self.manager = Some(child);

        let private_socket = self.runtime_dir.join("systemd").join("private");
        let mut exited = None;
        let ready = crate::poll_until(TIMEOUT, || {
            exited = self
                .manager
                .as_mut()
                .and_then(|child| child.try_wait().ok()?);
            exited.is_some()
                || (private_socket.exists() && self.system_state().as_deref() == Some("running"))
        });
        if let Some(status) = exited {
            self.manager = None;
            panic!(
                "the user manager exited at start with {status}\n{}",
                self.manager_log_report()
            );
        }
        if ready.is_err() {
            panic!(
                "the user manager's SystemState is {:?}, not running, after {TIMEOUT:?}\n{}",
                self.system_state(),
                self.manager_log_report()
            );
        }
    }

    fn system_state(&self) -> Option<String> {
        let output = self.systemctl(&["show", "--property=SystemState", "--value"]);
        (output.code == Some(0)).then(|| output.stdout.trim().to_string())
    }

    /// The temporary directory holding everything of this manager; a test
    /// puts its own directories here too.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The manager's pid.
    pub fn pid(&self) -> u32 {
        self.manager.as_ref().expect("the user manager runs").id()
    }

    /// The environment that makes `systemctl --user` (and intelmqd) talk to
    /// this manager.
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        let mut bus = OsString::from("unix:path=");
        bus.push(self.runtime_dir.join("bus"));
        vec![
            ("XDG_RUNTIME_DIR", self.runtime_dir.clone().into()),
            ("XDG_CONFIG_HOME", self.config_home.clone().into()),
            ("XDG_DATA_HOME", self.data_home.clone().into()),
            ("XDG_STATE_HOME", self.state_home.clone().into()),
            ("DBUS_SESSION_BUS_ADDRESS", bus),
        ]
    }

    /// `systemctl --user <args>`, not yet run, with this manager's environment.
    pub fn systemctl_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("systemctl");
        command
            .arg("--user")
            .arg("--no-pager")
            .args(args)
            .envs(self.env())
            .env("SYSTEMD_COLORS", "0");
        command
    }

    /// Runs `systemctl --user <args>` to its end.
    pub fn systemctl(&self, args: &[&str]) -> CtlOutput {
        run_with_deadline(&mut self.systemctl_command(args), TIMEOUT)
    }

    /// Runs `systemctl --user <args>`, which must exit with 0.
    #[track_caller]
    pub fn systemctl_ok(&self, args: &[&str]) -> CtlOutput {
        let output = self.systemctl(args);
        if output.code != Some(0) {
            panic!(
                "systemctl --user {} failed\n{output:?}\n{}",
                args.join(" "),
                self.manager_log_report()
            );
        }
        output
    }

    /// One property of a unit (`systemctl show -p <property> --value`).
    #[track_caller]
    pub fn property(&self, unit: &str, property: &str) -> String {
        let output =
            self.systemctl_ok(&["show", unit, &format!("--property={property}"), "--value"]);
        output.stdout.trim_end_matches('\n').to_string()
    }

    /// The unit's main pid; `None` when it has none.
    #[track_caller]
    pub fn main_pid(&self, unit: &str) -> Option<u32> {
        self.property(unit, "MainPID")
            .parse()
            .ok()
            .filter(|&pid| pid != 0)
    }

    /// Waits until the unit's `property` is `value`; panics with the unit's
    /// status and the manager's log after [`TIMEOUT`].
    #[track_caller]
    pub fn wait_for_property(&self, unit: &str, property: &str, value: &str) {
        let mut last = String::new();
        let reached = crate::poll_until(TIMEOUT, || {
            last = self.property(unit, property);
            last == value
        });
        if reached.is_err() {
            panic!(
                "{unit}: {property} is {last:?}, not {value:?}, after {TIMEOUT:?}\n{}",
                self.unit_report(unit)
            );
        }
    }

    /// `systemctl status` of a unit and the manager's log, for a failure message.
    pub fn unit_report(&self, unit: &str) -> String {
        let status = self.systemctl(&["status", unit]);
        format!(
            "--- systemctl --user status {unit} ---\n{}\n{}",
            status.all_output().trim_end(),
            self.manager_log_report()
        )
    }

    /// The directory the manager reads user units from.
    pub fn unit_dir(&self) -> PathBuf {
        self.config_home.join("systemd").join("user")
    }

    /// Writes a unit file into [`UserManager::unit_dir`] and has the manager
    /// read it (`daemon-reload`).
    #[track_caller]
    pub fn install_unit(&self, name: &str, text: &str) {
        std::fs::write(self.unit_dir().join(name), text)
            .unwrap_or_else(|error| panic!("cannot write the unit {name}: {error}"));
        self.systemctl_ok(&["daemon-reload"]);
    }

    /// The processes in the manager's cgroup subtree (the manager, its units
    /// and whatever they left behind).
    pub fn processes(&self) -> Vec<u32> {
        cgroup_processes(&self.cgroup)
    }

    fn manager_log_report(&self) -> String {
        format!(
            "--- user manager log (last 40 lines of {}) ---\n{}",
            self.log_path.display(),
            crate::tail(&self.log_path, 40)
        )
    }

    /// Stops the manager (its units with it), kills what is left in its
    /// cgroup subtree, removes the subtree.
    fn shut_down(&mut self) {
        if let Some(mut child) = self.manager.take() {
            // SIGTERM: the manager stops its units and exits.
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
            let stopped = crate::poll_until(MANAGER_STOP_GRACE, || {
                matches!(child.try_wait(), Ok(Some(_)) | Err(_))
            });
            if stopped.is_err() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let emptied = crate::poll_until(Duration::from_secs(5), || {
            let left = cgroup_processes(&self.cgroup);
            for &pid in &left {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
            procfs::reap_orphaned_bots();
            left.is_empty()
        });
        if emptied.is_err() {
            eprintln!(
                "intelmqd-tests: processes {:?} survived SIGKILL in {}",
                cgroup_processes(&self.cgroup),
                self.cgroup.display()
            );
        }
        remove_cgroup_subtree(&self.cgroup);
    }
}

impl Drop for UserManager {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.manager_log_report());
        }
        self.shut_down();
    }
}

/// Creates a cgroup2 directory of its own for one manager under this
/// process's cgroup.
fn create_cgroup_subtree() -> PathBuf {
    let parent = own_cgroup_dir().unwrap_or_else(|reason| panic!("{reason}"));
    loop {
        let number = NEXT_MANAGER.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("intelmqd-test-{}-{number}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return dir,
            // Left by an earlier test process that had this pid.
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(error) => panic!("cannot create the cgroup {}: {error}", dir.display()),
        }
    }
}

/// The cgroup directories of a subtree, deepest first.
fn cgroup_dirs(top: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut pending = vec![top.to_path_buf()];
    while let Some(dir) = pending.pop() {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                    pending.push(entry.path());
                }
            }
        }
        dirs.push(dir);
    }
    dirs.sort_by_key(|dir| std::cmp::Reverse(dir.components().count()));
    dirs
}

/// Every process in a cgroup subtree.
fn cgroup_processes(top: &Path) -> Vec<u32> {
    cgroup_dirs(top)
        .iter()
        .filter_map(|dir| std::fs::read_to_string(dir.join("cgroup.procs")).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(|line| line.trim().parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Removes an emptied cgroup subtree, deepest directories first.
fn remove_cgroup_subtree(top: &Path) {
    for dir in cgroup_dirs(top) {
        if let Err(error) = std::fs::remove_dir(&dir) {
            if error.kind() != std::io::ErrorKind::NotFound {
                eprintln!(
                    "intelmqd-tests: cannot remove the cgroup {}: {error}",
                    dir.display()
                );
            }
        }
    }
}

/// A unit file of `contrib/systemd`, rewritten for a test. Every rewrite must
/// find what it replaces, so that a change of the shipped unit that the
/// tests no longer cover fails them instead of passing unnoticed.
#[derive(Debug, Clone)]
pub struct UnitFile {
    name: String,
    text: String,
}

impl UnitFile {
    /// The unit `contrib/systemd/<name>` as shipped.
    pub fn shipped(name: &str) -> UnitFile {
        let path = shipped_units_dir().join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        UnitFile {
            name: name.to_string(),
            text,
        }
    }

    /// Replaces every occurrence of `from`, which must occur.
    #[track_caller]
    pub fn replace(mut self, from: &str, to: &str) -> UnitFile {
        assert!(
            self.text.contains(from),
            "{} no longer contains {from:?}:\n{}",
            self.name,
            self.text
        );
        self.text = self.text.replace(from, to);
        self
    }

    /// Removes the lines that set `key` (`key=...`), of which there must be one.
    #[track_caller]
    pub fn remove_setting(mut self, key: &str) -> UnitFile {
        let prefix = format!("{key}=");
        let before = self.text.lines().count();
        let kept: Vec<&str> = self
            .text
            .lines()
            .filter(|line| !line.trim_start().starts_with(&prefix))
            .collect();
        assert!(
            kept.len() < before,
            "{} has no {key}= to remove:\n{}",
            self.name,
            self.text
        );
        self.text = kept.join("\n") + "\n";
        self
    }

    /// Adds a line at the end of the `[section]` section, which must exist.
    #[track_caller]
    pub fn add_to_section(mut self, section: &str, line: &str) -> UnitFile {
        let header = format!("[{section}]");
        let mut lines: Vec<String> = self.text.lines().map(str::to_string).collect();
        let start = lines
            .iter()
            .position(|candidate| candidate.trim() == header)
            .unwrap_or_else(|| panic!("{} has no {header} section", self.name));
        let end = lines[start + 1..]
            .iter()
            .position(|candidate| candidate.trim_start().starts_with('['))
            .map_or(lines.len(), |offset| start + 1 + offset);
        // Before the blank lines that end the section.
        let mut at = end;
        while at > start + 1 && lines[at - 1].trim().is_empty() {
            at -= 1;
        }
        lines.insert(at, line.to_string());
        self.text = lines.join("\n") + "\n";
        self
    }

    /// The unit's file name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The unit's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Installs the unit into `manager` (and reloads it).
    #[track_caller]
    pub fn install(&self, manager: &UserManager) {
        manager.install_unit(&self.name, &self.text);
    }
}

/// The `PATH` of units in the tests: the workspace's binaries first, so that
/// `intelmq-testbot` is found as a module.
fn test_path() -> String {
    format!("{}:/usr/local/bin:/usr/bin:/bin", bin_dir().display())
}

/// The directories of one IntelMQ installation inside a test, as the units
/// and intelmqd see them.
#[derive(Debug, Clone)]
pub struct IntelmqDirs {
    pub config_dir: PathBuf,
    pub state_dir: PathBuf,
    pub log_dir: PathBuf,
    pub socket: PathBuf,
    /// Where the rewritten intelmqd.service sends the daemon's output.
    pub daemon_output: PathBuf,
}

impl IntelmqDirs {
    /// The directories' places under `root`, nothing created.
    pub fn under(root: &Path) -> IntelmqDirs {
        IntelmqDirs {
            config_dir: root.join("config"),
            state_dir: root.join("state"),
            log_dir: root.join("log"),
            socket: root.join("sock"),
            daemon_output: root.join("intelmqd.out"),
        }
    }

    /// Creates `config/`, `state/` and `log/` under `root` and writes the
    /// configuration: this runtime.conf, an empty pipeline.conf, and
    /// defaults.conf with the PID process manager, a stop timeout of one
    /// second, and bots running as root where the tests do (a daemon running
    /// as root runs bots as root only when told so).
    pub fn create(root: &Path, runtime: &Value) -> IntelmqDirs {
        let dirs = IntelmqDirs::under(root);
        for dir in [&dirs.config_dir, &dirs.state_dir, &dirs.log_dir] {
            std::fs::create_dir_all(dir).expect("create a directory of the test");
        }
        let mut defaults = json!({"process_manager": "pid", "stop_timeout": 1});
        if nix::unistd::Uid::effective().is_root() {
            defaults["bot_user"] = json!("root");
        }
        dirs.write_config("defaults.conf", &defaults);
        dirs.write_config("pipeline.conf", &json!({}));
        dirs.write_config("runtime.conf", runtime);
        dirs
    }

    fn write_config(&self, name: &str, value: &Value) {
        let mut text = serde_json::to_string_pretty(value).expect("JSON values serialise");
        text.push('\n');
        std::fs::write(self.config_dir.join(name), text).expect("write a config file");
    }

    /// A bot's log file, `<log_dir>/<bot_id>.log`.
    pub fn log_path(&self, bot_id: &str) -> PathBuf {
        self.log_dir.join(format!("{bot_id}.log"))
    }

    /// A bot's log (empty while it does not exist).
    pub fn log_of(&self, bot_id: &str) -> String {
        std::fs::read_to_string(self.log_path(bot_id)).unwrap_or_default()
    }

    /// The shipped `intelmq-bot@.service`, for a user manager: the paths of
    /// the system (`/etc/intelmq`, `/run/intelmq`, `/var/log/intelmq`,
    /// `/usr/bin/intelmq-bot-launcher`) pointed at these directories and the
    /// built launcher, without `User=`/`Group=` (a user manager cannot switch
    /// users), wanted by `default.target` (a user manager has no
    /// `multi-user.target`), and with the test binaries on `PATH`.
    pub fn bot_template_unit(&self) -> UnitFile {
        UnitFile::shipped("intelmq-bot@.service")
            .remove_setting("User")
            .remove_setting("Group")
            .replace(
                "/usr/bin/intelmq-bot-launcher",
                &bin("intelmq-bot-launcher").display().to_string(),
            )
            .replace("/etc/intelmq", &self.config_dir.display().to_string())
            .replace("/run/intelmq", &self.state_dir.display().to_string())
            .replace("/var/log/intelmq", &self.log_dir.display().to_string())
            .replace("WantedBy=multi-user.target", "WantedBy=default.target")
            .add_to_section("Service", &format!("Environment=PATH={}", test_path()))
    }

    /// The shipped `intelmqd.service`, for a user manager: the built intelmqd
    /// on these directories, its output in [`IntelmqDirs::daemon_output`],
    /// wanted by `default.target`, with the test binaries on `PATH`.
    pub fn daemon_unit(&self) -> UnitFile {
        let exec_start = format!(
            "ExecStart={} --config-dir {} --state-dir {} --log-dir {} --socket {}",
            bin("intelmqd").display(),
            self.config_dir.display(),
            self.state_dir.display(),
            self.log_dir.display(),
            self.socket.display()
        );
        let output = format!("append:{}", self.daemon_output.display());
        UnitFile::shipped("intelmqd.service")
            .replace("ExecStart=/usr/bin/intelmqd", &exec_start)
            .replace("WantedBy=multi-user.target", "WantedBy=default.target")
            .add_to_section("Service", &format!("Environment=PATH={}", test_path()))
            .add_to_section("Service", &format!("StandardOutput={output}"))
            .add_to_section("Service", &format!("StandardError={output}"))
    }

    /// `intelmqctl --socket <socket> <args>` to its end.
    pub fn ctl(&self, args: &[&str]) -> CtlOutput {
        let mut command = Command::new(bin("intelmqctl"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("INTELMQ_") {
                command.env_remove(key);
            }
        }
        command.arg("--socket").arg(&self.socket).args(args);
        run_with_deadline(&mut command, TIMEOUT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_a_line_at_the_end_of_a_section() {
        let unit = UnitFile {
            name: "x.service".into(),
            text: "[Unit]\nA=1\n\n[Service]\nB=2\n\n[Install]\nC=3\n".into(),
        };
        let unit = unit
            .add_to_section("Service", "D=4")
            .add_to_section("Install", "E=5");
        assert_eq!(
            unit.text(),
            "[Unit]\nA=1\n\n[Service]\nB=2\nD=4\n\n[Install]\nC=3\nE=5\n"
        );
    }

    #[test]
    fn removes_settings_but_not_lookalikes() {
        let unit = UnitFile {
            name: "x.service".into(),
            text: "[Service]\nUser=intelmq\nUserNamespace=x\nGroup=intelmq\n".into(),
        };
        let unit = unit.remove_setting("User").remove_setting("Group");
        assert_eq!(unit.text(), "[Service]\nUserNamespace=x\n");
    }

    #[test]
    #[should_panic(expected = "no longer contains")]
    fn a_rewrite_that_finds_nothing_fails() {
        let unit = UnitFile {
            name: "x.service".into(),
            text: "[Service]\n".into(),
        };
        let _ = unit.replace("/usr/bin/nothing", "/x");
    }

    #[test]
    fn the_shipped_units_rewrite_for_a_test() {
        let root = Path::new("/tmp/imqsd-rewrite");
        let dirs = IntelmqDirs::under(root);
        let shipped = UnitFile::shipped("intelmq-bot@.service");
        assert!(shipped.text().contains("\nUser=intelmq\n"));
        // Only the binaries' paths need a build; the rest is checked here.
        let template = shipped
            .remove_setting("User")
            .remove_setting("Group")
            .replace("/etc/intelmq", &dirs.config_dir.display().to_string())
            .replace("/var/log/intelmq", &dirs.log_dir.display().to_string());
        assert!(template
            .text()
            .contains("Environment=INTELMQ_LOG_DIR=/tmp/imqsd-rewrite/log"));
        assert!(!template.text().contains("User="));
    }
}
