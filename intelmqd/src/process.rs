//! One bot process at the operating-system level: spawning it in a session of
//! its own, adopting one left by an earlier daemon, waiting for it to end
//! through a pidfd, signalling its process group, and reaping it.
//!
//! Nothing here calls `waitpid(-1)`: a process is reaped by its own pid, and
//! only when it is our child. A process is identified by its pid *and* its start
//! time (field 22 of `/proc/<pid>/stat`), and all waiting and leader signalling
//! goes through a pidfd, so a recycled pid is never signalled.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{Gid, Pid, Uid};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    Exited(i32),
    Signaled(i32),
    /// It was not our child (adopted), so its status went to someone else.
    Unknown,
}

impl Termination {
    pub fn describe(self) -> String {
        match self {
            Termination::Exited(code) => format!("exited with code {code}"),
            Termination::Signaled(signal) => match Signal::try_from(signal) {
                Ok(named) => format!("killed by signal {signal} ({})", named.as_str()),
                Err(_) => format!("killed by signal {signal}"),
            },
            Termination::Unknown => {
                "ended while adopted from an earlier daemon (exit status unknown)".to_owned()
            }
        }
    }
}

/// What is needed to start a bot.
#[derive(Debug, Clone)]
pub struct Launch {
    pub executable: std::path::PathBuf,
    pub bot_id: String,
    pub env: Vec<(OsString, OsString)>,
    pub log_path: std::path::PathBuf,
    /// For a scheduled bot: when it runs.
    pub schedule: Option<crate::cron::CronSchedule>,
    /// For a stream bot: whether and how it is restarted when it ends by itself.
    pub restart: crate::bot::restart::RestartPolicy,
    /// The user the bot runs as, when the daemon runs as root.
    pub run_as: Option<RunAs>,
}

/// A user to run a bot as: resolved before the fork, so that the child only
/// makes system calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Its supplementary groups, as `initgroups` would set them.
    pub groups: Vec<u32>,
    pub home: std::path::PathBuf,
}

/// A running (or just ended, not yet reaped) bot process.
#[derive(Debug)]
pub struct BotProcess {
    pid: Pid,
    start_time: u64,
    pidfd: AsyncFd<OwnedFd>,
    /// True when we spawned it: then we reap it and know its exit status, and
    /// its zombie keeps its process group id from being reused until we do.
    is_child: bool,
}

impl BotProcess {
    /// Spawns `<executable> <bot_id>` as the leader of a new session and
    /// process group, stdin from /dev/null, stdout and stderr appended to the
    /// log file (an inherited descriptor, not a pipe: the bot outlives us).
    pub fn spawn(launch: &Launch) -> io::Result<BotProcess> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&launch.log_path)
            .map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!(
                        "cannot open log file {}: {error}",
                        launch.log_path.display()
                    ),
                )
            })?;
        let mut command = Command::new(&launch.executable);
        command
            .arg(&launch.bot_id)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            // The daemon's own channel to systemd (Type=notify) is not the bot's.
            .env_remove("NOTIFY_SOCKET");
        let identity = launch.run_as.as_ref().map(|user| {
            command
                .env("HOME", &user.home)
                .env("USER", &user.name)
                .env("LOGNAME", &user.name);
            let groups: Vec<Gid> = user.groups.iter().map(|g| Gid::from_raw(*g)).collect();
            (Uid::from_raw(user.uid), Gid::from_raw(user.gid), groups)
        });
        // SAFETY: between fork and exec the closure only makes system calls
        // (setsid, setgroups, setgid, setuid) on values prepared before the
        // fork; it allocates nothing and takes no lock.
        unsafe {
            command.pre_exec(move || {
                nix::unistd::setsid()?;
                if let Some((uid, gid, groups)) = &identity {
                    nix::unistd::setgroups(groups)?;
                    nix::unistd::setgid(*gid)?;
                    nix::unistd::setuid(*uid)?;
                }
                Ok(())
            });
        }
        let child = command.spawn()?;
        let pid = Pid::from_raw(child.id() as i32);
        // The child cannot be reaped by anyone but us, so its pid is ours until
        // we wait for it: opening the pidfd now cannot name another process.
        let pidfd = pidfd_open(pid)?;
        let start_time = proc_start_time(pid).unwrap_or(0);
        Ok(BotProcess {
            pid,
            start_time,
            pidfd: watch_pidfd(pidfd)?,
            is_child: true,
        })
    }

    /// Takes over a process started by an earlier daemon, if `pid` still names
    /// it: its start time must equal `expected_start_time` when one is known,
    /// else its command line must be `<...module> <bot_id>`. Returns `None` when
    /// the pid is gone or names another process.
    pub fn adopt(
        pid: u32,
        expected_start_time: Option<u64>,
        module: &str,
        bot_id: &str,
    ) -> io::Result<Option<BotProcess>> {
        let Ok(raw) = i32::try_from(pid) else {
            return Ok(None);
        };
        if raw <= 1 {
            return Ok(None);
        }
        let pid = Pid::from_raw(raw);
        let pidfd = match pidfd_open(pid) {
            Ok(fd) => fd,
            Err(error) if error.raw_os_error() == Some(libc::ESRCH) => return Ok(None),
            Err(error) => return Err(error),
        };
        // Checked after opening the pidfd: if the pid was recycled before the
        // open, the check fails; if it is recycled after, the pidfd still names
        // the process we checked (and is readable because it ended).
        let Some(start_time) = proc_start_time(pid) else {
            return Ok(None);
        };
        let same = match expected_start_time {
            Some(expected) => expected == start_time,
            None => cmdline_matches(pid, module, bot_id),
        };
        if !same {
            return Ok(None);
        }
        Ok(Some(BotProcess {
            pid,
            start_time,
            pidfd: watch_pidfd(pidfd)?,
            is_child: false,
        }))
    }

    pub fn pid(&self) -> u32 {
        self.pid.as_raw() as u32
    }

    pub fn start_time(&self) -> u64 {
        self.start_time
    }

    /// Resolves when the process has ended (it may still be an unreaped zombie).
    pub async fn ended(&self) {
        // A pidfd becomes readable once, when the process exits, and stays so.
        // An error here would mean the fd itself is broken; treat it as ended
        // rather than spin.
        let _ = self.pidfd.readable().await;
    }

    /// True when the process has ended, without waiting.
    pub fn has_ended(&self) -> bool {
        let mut poll = libc::pollfd {
            fd: self.pidfd.get_ref().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let ready = unsafe { libc::poll(&mut poll, 1, 0) };
        ready != 0
    }

    /// Sends `signal` to the whole process group (the bot and what it forked).
    pub fn signal_group(&self, signal: Signal) -> io::Result<()> {
        if self.has_ended() && !self.is_child {
            // The leader is gone and was reaped elsewhere: its pid (our group
            // id) may be reused, so signal only verified group members.
            return self.signal_stragglers(signal);
        }
        match killpg(self.pid, signal) {
            Ok(()) => Ok(()),
            Err(nix::errno::Errno::ESRCH) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Sends `signal` to the leader alone, through its pidfd.
    pub fn signal_leader(&self, signal: Signal) -> io::Result<()> {
        // SAFETY: the fd is a valid pidfd; a null siginfo means "as kill()".
        let result = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.get_ref().as_raw_fd(),
                signal as libc::c_int,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if result == 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        if error.raw_os_error() == Some(libc::ESRCH) {
            return Ok(());
        }
        Err(error)
    }

    /// After the leader ended: kills whatever is left of its process group and
    /// reaps the leader if it is our child. Returns how the leader ended.
    pub fn finish(self) -> Termination {
        // Our child's zombie still holds the group id, so killpg cannot reach
        // another group; for an adopted process, only verified members.
        let _ = self.signal_group(Signal::SIGKILL);
        if !self.is_child {
            return Termination::Unknown;
        }
        match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => Termination::Exited(code),
            Ok(WaitStatus::Signaled(_, signal, _)) => Termination::Signaled(signal as i32),
            _ => Termination::Unknown,
        }
    }

    /// Kills the whole group at once and reaps the leader: undoes a start.
    pub fn kill_now(self) {
        let _ = self.signal_group(Signal::SIGKILL);
        if self.is_child {
            // SIGKILL cannot be caught; the wait is as long as the kernel
            // needs to tear the process down.
            let _ = waitpid(self.pid, None);
        }
    }

    fn signal_stragglers(&self, signal: Signal) -> io::Result<()> {
        for member in process_group_members(self.pid) {
            let Ok(fd) = pidfd_open(member) else { continue };
            // Re-check membership after opening, so the pidfd names a member.
            if proc_stat_field(member, 5).and_then(|g| g.parse::<i32>().ok())
                != Some(self.pid.as_raw())
            {
                continue;
            }
            // SAFETY: a valid pidfd; null siginfo.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    signal as libc::c_int,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                );
            }
        }
        Ok(())
    }
}

/// Registers a pidfd with the runtime, readable once the process ends.
fn watch_pidfd(pidfd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: the OwnedFd is a valid descriptor that the AsyncFd owns from now
    // on; nothing else closes or replaces it.
    unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) }.map_err(Into::into)
}

fn pidfd_open(pid: Pid) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with an integer pid and no flags.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// The fields of `/proc/<pid>/stat` after the command name, counted as in
/// `proc(5)`: field 3 is the state, 5 the process group, 22 the start time.
fn proc_stat_field(pid: Pid, field: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_field(&stat, field).map(str::to_owned)
}

fn parse_stat_field(stat: &str, field: usize) -> Option<&str> {
    // The command name (field 2) is in parentheses and may itself contain
    // spaces and parentheses, so count from the last ')'.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(field.checked_sub(3)?)
}

/// The start time of a process in clock ticks since boot.
pub fn proc_start_time(pid: Pid) -> Option<u64> {
    proc_stat_field(pid, 22)?.parse().ok()
}

fn cmdline_matches(pid: Pid, module: &str, bot_id: &str) -> bool {
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = raw.split(|b| *b == 0).filter(|a| !a.is_empty()).collect();
    let Some((last, rest)) = args.split_last() else {
        return false;
    };
    *last == bot_id.as_bytes()
        && rest.iter().any(|arg| {
            Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(arg))
                .file_name()
                .is_some_and(|name| name.as_encoded_bytes() == module.as_bytes())
        })
}

fn process_group_members(group: Pid) -> Vec<Pid> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .map(Pid::from_raw)
        .filter(|pid| {
            proc_stat_field(*pid, 5).and_then(|g| g.parse::<i32>().ok()) == Some(group.as_raw())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat =
            "4242 (my bot) (x)) S 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 987654 0";
        assert_eq!(parse_stat_field(stat, 3), Some("S"));
        assert_eq!(parse_stat_field(stat, 5), Some("4242"));
        assert_eq!(parse_stat_field(stat, 22), Some("987654"));
        assert_eq!(parse_stat_field("garbage", 3), None);
    }

    #[test]
    fn own_start_time_is_readable() {
        assert!(proc_start_time(nix::unistd::getpid()).is_some());
    }

    #[test]
    fn termination_words() {
        assert_eq!(Termination::Exited(3).describe(), "exited with code 3");
        assert_eq!(
            Termination::Signaled(9).describe(),
            "killed by signal 9 (SIGKILL)"
        );
    }
}
