//! Helpers for the fault and security suites (`tests/faults.rs`,
//! `tests/security.rs`): running a client as another user, system groups made
//! for one test, a daemon started with extra flags, tiny or read-only mounts
//! over a test's directories, the process table by bot id, VmRSS, and the
//! timestamps of a bot's log.
//!
//! Everything here cleans up after itself when dropped (groups, mounts,
//! processes), also when the test panics. Changes to `/etc/group` are
//! serialised between test processes with a file lock, and every name is
//! unique to the test process.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::{bin, bin_dir, procfs, CtlOutput, TIMEOUT};

/// Skips the rest of a test, saying why on stdout (shown with `--nocapture`
/// and in the test's captured output).
#[macro_export]
macro_rules! skip {
    ($($reason:tt)*) => {{
        println!("SKIPPED: {}", format!($($reason)*));
        return;
    }};
}

/// True when this test process runs as root (needed to switch users, mount,
/// and create groups).
pub fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// The uid of `nobody` on Debian and most other systems.
pub const NOBODY: u32 = 65534;

/// Whether a user of this name exists (as `getent passwd` sees it).
pub fn user_exists(name: &str) -> bool {
    matches!(nix::unistd::User::from_name(name), Ok(Some(_)))
}

/// Whether a group of this name exists.
pub fn group_exists(name: &str) -> bool {
    matches!(nix::unistd::Group::from_name(name), Ok(Some(_)))
}

/// A name unique to this test process and call: `<prefix><pid>x<n>`, short
/// enough for a group name (at most 32 characters).
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An exclusive lock on a file under /tmp shared by every test process:
/// `groupadd` and `groupdel` of parallel tests must not race on /etc/group.
struct AccountsLock(File);

impl AccountsLock {
    fn take() -> AccountsLock {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open("/tmp/intelmqd-tests-accounts.lock")
            .expect("open the accounts lock file");
        // SAFETY: flock on a valid descriptor we own; blocks until granted.
        let result = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(result, 0, "flock: {}", std::io::Error::last_os_error());
        AccountsLock(file)
    }
}

impl Drop for AccountsLock {
    fn drop(&mut self) {
        // SAFETY: unlocking our own descriptor.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// A system group created for one test with `groupadd`, removed on drop.
pub struct TempGroup {
    pub name: String,
    pub gid: u32,
}

impl TempGroup {
    /// Creates a group with a unique name; `Err` with the reason when
    /// `groupadd` is missing or fails (not root, read-only /etc, ...).
    pub fn create() -> Result<TempGroup, String> {
        let name = unique_name("imqt");
        let _lock = AccountsLock::take();
        let output = Command::new("groupadd")
            .arg(&name)
            .output()
            .map_err(|error| format!("cannot run groupadd: {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "groupadd {name} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let gid = match nix::unistd::Group::from_name(&name) {
            Ok(Some(group)) => group.gid.as_raw(),
            other => {
                let _ = Command::new("groupdel").arg(&name).output();
                return Err(format!(
                    "the new group {name} cannot be looked up: {other:?}"
                ));
            }
        };
        Ok(TempGroup { name, gid })
    }
}

impl Drop for TempGroup {
    fn drop(&mut self) {
        let _lock = AccountsLock::take();
        match Command::new("groupdel").arg(&self.name).output() {
            Ok(output) if output.status.success() => {}
            other => eprintln!(
                "intelmqd-tests: cannot remove the group {}: {other:?}",
                self.name
            ),
        }
    }
}

/// The credentials a child process switches to before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

impl Identity {
    /// `nobody` with its own group and no supplementary groups.
    pub fn nobody() -> Identity {
        Identity {
            uid: NOBODY,
            gid: NOBODY,
            groups: Vec::new(),
        }
    }
}

/// Makes `command` switch to `identity` (setgroups, setgid, setuid) in the
/// child between fork and exec.
pub fn run_as(command: &mut Command, identity: &Identity) {
    let uid = nix::unistd::Uid::from_raw(identity.uid);
    let gid = nix::unistd::Gid::from_raw(identity.gid);
    let groups: Vec<nix::unistd::Gid> = identity
        .groups
        .iter()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    // SAFETY: the closure makes only system calls on values prepared before
    // the fork; it allocates nothing and takes no lock.
    unsafe {
        command.pre_exec(move || {
            nix::unistd::setgroups(&groups)?;
            nix::unistd::setgid(gid)?;
            nix::unistd::setuid(uid)?;
            Ok(())
        });
    }
}

/// Runs `command` to its end with its output captured, like
/// [`crate::run_with_deadline`], and also returns its pid (to find it in the
/// daemon's log).
pub fn run_capturing(command: &mut Command, deadline: Duration) -> (u32, CtlOutput) {
    crate::ctl::run_with_pid(command, deadline)
}

/// `intelmqctl --socket <socket> <args>` with the test's `INTELMQ_*`
/// variables removed.
pub fn ctl_command(socket: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(bin("intelmqctl"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("INTELMQ_") {
            command.env_remove(key);
        }
    }
    command.arg("--socket").arg(socket).args(args);
    command
}

/// Sets the mode of a file or directory.
pub fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|error| panic!("chmod {mode:o} {}: {error}", path.display()));
}

/// The mode bits (permissions only) of a path.
pub fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|error| panic!("stat {}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Lets anyone reach the socket through the file system, so that only the
/// daemon's own credential check stands between a client and the daemon:
/// the directory holding it becomes 0755 and the socket 0666.
pub fn open_socket_to_everyone(socket: &Path) {
    chmod(socket.parent().expect("the socket has a directory"), 0o755);
    chmod(socket, 0o666);
}

/// A value of `/proc/<pid>/status` (`Uid`, `Gid`, `Groups`, `VmRSS`, ...),
/// the text after the colon, trimmed.
pub fn proc_status_field(pid: u32, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key == field).then(|| value.trim().to_string())
    })
}

/// The four uids (real, effective, saved, file system) of a process.
pub fn proc_uids(pid: u32) -> Vec<u32> {
    proc_status_field(pid, "Uid")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect()
}

/// The four gids of a process.
pub fn proc_gids(pid: u32) -> Vec<u32> {
    proc_status_field(pid, "Gid")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect()
}

/// The resident set size of a process in KiB.
pub fn vm_rss_kib(pid: u32) -> u64 {
    proc_status_field(pid, "VmRSS")
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS for pid {pid}"))
}

/// The live processes whose environment names `config_dir` as
/// `INTELMQ_CONFIG_DIR`, grouped by their `INTELMQD_BOT_ID` (the daemon and
/// anything without a bot id are left out). A bot's forked children carry its
/// environment too: pass `leaders_only` to count only process-group leaders,
/// which is what a bot's own process is.
pub fn processes_by_bot(config_dir: &Path, leaders_only: bool) -> BTreeMap<String, Vec<u32>> {
    let mut by_bot: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for pid in procfs::processes_with_env("INTELMQ_CONFIG_DIR", config_dir) {
        if leaders_only && !procfs::stat(pid).is_some_and(|s| s.pgrp == pid) {
            continue;
        }
        let environ = procfs::environ(pid);
        if let Some(id) = environ
            .iter()
            .find_map(|v| v.strip_prefix("INTELMQD_BOT_ID="))
        {
            by_bot.entry(id.to_string()).or_default().push(pid);
        }
    }
    by_bot
}

/// The times (seconds since the epoch, UTC, millisecond precision) of the
/// lines of a test bot's log whose message starts with `message_prefix`.
pub fn log_times(log: &str, message_prefix: &str) -> Vec<f64> {
    log.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(4, " - ");
            let stamp = parts.next()?;
            let _bot = parts.next()?;
            let _level = parts.next()?;
            let message = parts.next()?;
            message
                .starts_with(message_prefix)
                .then(|| parse_log_stamp(stamp))
                .flatten()
        })
        .collect()
}

/// `YYYY-MM-DD HH:MM:SS,mmm` (UTC) as seconds since the epoch.
pub fn parse_log_stamp(stamp: &str) -> Option<f64> {
    let (date, time) = stamp.split_once(' ')?;
    let mut date = date.split('-').map(|p| p.parse::<i64>());
    let (year, month, day) = (date.next()?.ok()?, date.next()?.ok()?, date.next()?.ok()?);
    let (hms, millis) = time.split_once(',')?;
    let mut hms = hms.split(':').map(|p| p.parse::<i64>());
    let (h, m, s) = (hms.next()?.ok()?, hms.next()?.ok()?, hms.next()?.ok()?);
    let millis: i64 = millis.parse().ok()?;
    // Days from civil, after Howard Hinnant.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + m * 60 + s) as f64 + millis as f64 / 1000.0)
}

/// Sends one request line on a fresh connection with a timeout and returns
/// the reply line; `Err` when the daemon does not answer.
pub fn raw_request(socket: &Path, line: &str, timeout: Duration) -> std::io::Result<String> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(format!("{line}\n").as_bytes())?;
    read_reply_line(&mut stream)
}

/// Reads up to and without the next newline; `Err(UnexpectedEof)` when the
/// peer closed first.
pub fn read_reply_line(stream: &mut UnixStream) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte)? {
            0 => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("closed after {:?}", String::from_utf8_lossy(&bytes)),
                ))
            }
            _ if byte[0] == b'\n' => break,
            _ => bytes.push(byte[0]),
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// True when the peer has closed the connection: a read returns end of file
/// (waits up to the stream's read timeout).
pub fn reads_eof(stream: &mut UnixStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.read(&mut byte), Ok(0))
}

/// An intelmqd started with extra flags (`--socket-group ...`), on a
/// temporary directory laid out as [`crate::Daemon`]'s, for the tests that
/// need a flag the shared fixture does not pass. Dropping it kills the daemon
/// and every process with its config dir in the environment.
pub struct FlaggedDaemon {
    pub config_dir: PathBuf,
    pub state_dir: PathBuf,
    pub log_dir: PathBuf,
    pub socket: PathBuf,
    stderr_path: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl FlaggedDaemon {
    /// Starts intelmqd with `extra` flags and `runtime` as its bots, in the
    /// run's format (bots run as root when the test is root, as in the
    /// shared fixture);
    /// `Err` with its stderr when it exits or does not answer.
    pub fn start(extra: &[&str], runtime: &serde_json::Value) -> Result<FlaggedDaemon, String> {
        procfs::become_reaper_of_orphans();
        let dir = tempfile::Builder::new()
            .prefix("imqf-")
            .tempdir_in("/tmp")
            .expect("a temporary directory under /tmp");
        let root = dir.path().to_path_buf();
        let mut daemon = FlaggedDaemon {
            config_dir: root.join("config"),
            state_dir: root.join("state"),
            log_dir: root.join("log"),
            socket: root.join("sock"),
            stderr_path: root.join("intelmqd.stderr"),
            dir,
            child: None,
        };
        for d in [&daemon.config_dir, &daemon.state_dir, &daemon.log_dir] {
            std::fs::create_dir(d).expect("create a directory");
        }
        let defaults = crate::daemon::as_test_user(serde_json::json!({"process_manager": "pid"}));
        // In the run's format, as the shared fixture writes it.
        for (name, text) in crate::ConfigFormat::from_env().files(runtime, &defaults) {
            std::fs::write(daemon.config_dir.join(name), text).expect("write a config file");
        }
        let mut path = OsString::from(bin_dir());
        if let Some(original) = std::env::var_os("PATH") {
            path.push(":");
            path.push(original);
        }
        let stderr = File::create(&daemon.stderr_path).expect("create the stderr file");
        let mut command = Command::new(bin("intelmqd"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("INTELMQ_") {
                command.env_remove(key);
            }
        }
        command
            .arg("--config-dir")
            .arg(&daemon.config_dir)
            .arg("--state-dir")
            .arg(&daemon.state_dir)
            .arg("--log-dir")
            .arg(&daemon.log_dir)
            .arg("--socket")
            .arg(&daemon.socket)
            .args(extra)
            .env("PATH", path)
            .env("INTELMQ_CONFIG_DIR", &daemon.config_dir)
            .stdin(Stdio::null())
            .stdout(stderr.try_clone().expect("clone a file"))
            .stderr(stderr);
        daemon.child = Some(
            command
                .spawn()
                .map_err(|e| format!("cannot run intelmqd: {e}"))?,
        );
        let mut exited = None;
        let ready = crate::poll_until(TIMEOUT, || {
            exited = daemon.child.as_mut().and_then(|c| c.try_wait().ok()?);
            exited.is_some()
                || raw_request(
                    &daemon.socket,
                    r#"{"v":1,"id":0,"command":"hello"}"#,
                    Duration::from_secs(2),
                )
                .is_ok_and(|reply| reply.contains(r#""ok":true"#))
        });
        if let Some(status) = exited {
            daemon.child = None;
            return Err(format!(
                "intelmqd exited with {status}:\n{}",
                daemon.stderr()
            ));
        }
        if ready.is_err() {
            return Err(format!("intelmqd did not answer:\n{}", daemon.stderr()));
        }
        Ok(daemon)
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for FlaggedDaemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- intelmqd stderr ---\n{}", self.stderr());
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for pid in procfs::processes_with_env("INTELMQ_CONFIG_DIR", &self.config_dir) {
            procfs::kill_tree(pid);
        }
    }
}

/// A file system mounted over a directory for one test; unmounted on drop
/// (lazily, should something still use it).
pub struct Mount {
    pub path: PathBuf,
    pub what: String,
}

impl Mount {
    /// Mounts a tmpfs of `size` (mount's syntax, e.g. `64k`) over `dir`. The
    /// files of `dir` are copied into it first (the directory is not in use:
    /// stop the daemon before).
    pub fn tmpfs_over(dir: &Path, size: &str) -> Result<Mount, String> {
        let saved = read_files(dir);
        mount(&[
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size},mode=0755"),
            "tmpfs",
            &dir.display().to_string(),
        ])?;
        let guard = Mount {
            path: dir.to_path_buf(),
            what: format!("a tmpfs of {size}"),
        };
        for (name, bytes, mode) in saved {
            let path = dir.join(&name);
            std::fs::write(&path, &bytes)
                .map_err(|e| format!("copy {name:?} into the tmpfs: {e}"))?;
            chmod(&path, mode);
        }
        Ok(guard)
    }

    /// Makes `dir` read-only by bind-mounting it over itself and remounting
    /// the bind read-only (root cannot write through it either).
    pub fn read_only_bind(dir: &Path) -> Result<Mount, String> {
        let text = dir.display().to_string();
        mount(&["--bind", &text, &text])?;
        let guard = Mount {
            path: dir.to_path_buf(),
            what: "a read-only bind mount".into(),
        };
        mount(&["-o", "remount,bind,ro", &text])?;
        Ok(guard)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.path)
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            let lazy = Command::new("umount").arg("-l").arg(&self.path).output();
            if !lazy.is_ok_and(|o| o.status.success()) {
                eprintln!("intelmqd-tests: cannot unmount {}", self.path.display());
            }
        }
    }
}

fn mount(args: &[&str]) -> Result<(), String> {
    let output = Command::new("mount")
        .args(args)
        .output()
        .map_err(|error| format!("cannot run mount: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "mount {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// The regular files of a directory: name, content, mode.
fn read_files(dir: &Path) -> Vec<(OsString, Vec<u8>, u32)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read a directory").flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_file() {
            if let Ok(bytes) = std::fs::read(entry.path()) {
                files.push((entry.file_name(), bytes, meta.permissions().mode() & 0o7777));
            }
        }
    }
    files
}

/// Fills the file system of `dir` up: writes `dir/<name>` until the disk is
/// full (`ENOSPC`). Returns the path of the filler file.
pub fn fill_up(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let mut file = File::create(&path).expect("create the filler file");
    let chunk = vec![0xA5u8; 4096];
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) if error.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(error) => panic!("filling {}: {error}", dir.display()),
        }
    }
    // Single bytes too, so that not even a partial block is left.
    while file.write(&[0u8]).is_ok_and(|n| n == 1) {}
    let _ = file.sync_all();
    path
}

/// How a directory is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakage {
    /// A tiny tmpfs, filled up: writes fail with `ENOSPC`.
    Full,
    /// A read-only bind mount: writes fail with `EROFS`, also for root.
    ReadOnly,
}

/// A directory with a tiny tmpfs mounted over it where possible, to be broken
/// later while a daemon uses it ([`FragileDir::break_it`]) and repaired again.
/// Dropping it unmounts everything.
pub struct FragileDir {
    pub path: PathBuf,
    // Dropped in this order: the bind above the tmpfs first.
    read_only: Option<Mount>,
    tmpfs: Option<Mount>,
    tmpfs_error: Option<String>,
    filler: Option<PathBuf>,
}

impl FragileDir {
    /// Mounts a 64 KiB tmpfs over `dir`, with the files of `dir` copied in.
    /// `dir` must not be in use (stop the daemon first). When tmpfs cannot be
    /// mounted the directory stays as it is (a read-only bind can still break
    /// it).
    pub fn mount_over(dir: &Path) -> FragileDir {
        let (tmpfs, tmpfs_error) = match Mount::tmpfs_over(dir, "64k") {
            Ok(mount) => (Some(mount), None),
            Err(error) => (None, Some(error)),
        };
        FragileDir {
            path: dir.to_path_buf(),
            read_only: None,
            tmpfs,
            tmpfs_error,
            filler: None,
        }
    }

    /// Breaks the directory the way `preferred` says, or the other way when
    /// that one is not possible here. Returns what was done, or every reason
    /// why nothing could be.
    pub fn break_it(&mut self, preferred: Breakage) -> Result<String, String> {
        let order = match preferred {
            Breakage::Full => [Breakage::Full, Breakage::ReadOnly],
            Breakage::ReadOnly => [Breakage::ReadOnly, Breakage::Full],
        };
        let mut reasons = Vec::new();
        for how in order {
            match how {
                Breakage::Full => match &self.tmpfs {
                    Some(mount) => {
                        self.filler = Some(fill_up(&self.path, "zz-filler"));
                        return Ok(format!("{} filled up", mount.what));
                    }
                    None => reasons.push(format!(
                        "tmpfs: {}",
                        self.tmpfs_error.clone().unwrap_or_default()
                    )),
                },
                Breakage::ReadOnly => match Mount::read_only_bind(&self.path) {
                    Ok(mount) => {
                        let what = mount.what.clone();
                        self.read_only = Some(mount);
                        return Ok(what);
                    }
                    Err(error) => reasons.push(format!("read-only bind: {error}")),
                },
            }
        }
        Err(reasons.join("; "))
    }

    /// Makes the directory writable again (frees the space, or unmounts the
    /// read-only bind).
    pub fn repair(&mut self) {
        if let Some(filler) = self.filler.take() {
            std::fs::remove_file(filler).expect("remove the filler file");
        }
        self.read_only = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_log_stamps() {
        assert_eq!(parse_log_stamp("1970-01-01 00:00:00,000"), Some(0.0));
        assert_eq!(
            parse_log_stamp("2024-02-29 12:34:56,789"),
            Some(1_709_210_096.789)
        );
        let log = "2024-02-29 12:34:56,789 - b - INFO - started (pid 1)\n\
                   2024-02-29 12:34:57,000 - b - INFO - exiting with code 3\n\
                   2024-02-29 12:34:58,000 - b - INFO - started (pid 2)\n";
        assert_eq!(
            log_times(log, "started (pid"),
            vec![1_709_210_096.789, 1_709_210_098.0]
        );
    }

    #[test]
    fn unique_names_fit_a_group_name() {
        let a = unique_name("imqt");
        let b = unique_name("imqt");
        assert_ne!(a, b);
        assert!(a.len() <= 32, "{a}");
    }
}
