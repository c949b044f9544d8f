//! Reading the process table from `/proc`, and cleaning up after the tests.
//!
//! The tests look at processes the way an operator would with `ps`: is a pid
//! alive, is it a zombie, who is its parent, which processes belong to one test's
//! daemon (their environment names its config dir).

use std::path::Path;
use std::sync::Once;
use std::time::Duration;

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

/// What `/proc/<pid>/stat` says about a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: u32,
    /// The executable's name, at most 15 bytes.
    pub comm: String,
    /// `R`, `S`, `D`, `Z` (zombie), `T`, ...
    pub state: char,
    pub ppid: u32,
    pub pgrp: u32,
    pub session: u32,
    /// Clock ticks after boot; with the pid it identifies a process.
    pub starttime: u64,
}

impl ProcStat {
    pub fn is_zombie(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses the text of `/proc/<pid>/stat`. The name in parentheses may itself
/// contain spaces and parentheses, so the fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    let comm = text.get(open + 1..close)?.to_string();
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // fields[0] is field 3 of proc(5) (state); starttime is field 22.
    Some(ProcStat {
        pid,
        comm,
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        session: fields.get(3)?.parse().ok()?,
        starttime: fields.get(19)?.parse().ok()?,
    })
}

/// The process's stat, or `None` when there is no process of that pid.
pub fn stat(pid: u32) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// True when the process exists and is not a zombie (a zombie has ended; only
/// its exit status waits to be collected).
pub fn pid_alive(pid: u32) -> bool {
    stat(pid).is_some_and(|stat| !stat.is_zombie())
}

/// Every pid in `/proc`.
pub fn all_pids() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Every process whose parent is `ppid`.
pub fn children_of(ppid: u32) -> Vec<ProcStat> {
    all_pids()
        .into_iter()
        .filter_map(stat)
        .filter(|stat| stat.ppid == ppid)
        .collect()
}

/// The zombie children of `ppid`: processes it has not reaped.
pub fn zombie_children(ppid: u32) -> Vec<ProcStat> {
    children_of(ppid)
        .into_iter()
        .filter(ProcStat::is_zombie)
        .collect()
}

/// The process's environment (empty when unreadable, e.g. for a zombie).
pub fn environ(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|bytes| split_nul(&bytes))
        .unwrap_or_default()
}

/// The process's arguments, `argv[0]` first.
pub fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| split_nul(&bytes))
        .unwrap_or_default()
}

fn split_nul(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|&byte| byte == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect()
}

/// Every live process (other than this one) whose environment has `key=value`.
pub fn processes_with_env(key: &str, value: &Path) -> Vec<u32> {
    let wanted = format!("{key}={}", value.display());
    let me = std::process::id();
    all_pids()
        .into_iter()
        .filter(|&pid| pid != me && pid_alive(pid))
        .filter(|&pid| environ(pid).contains(&wanted))
        .collect()
}

/// SIGKILL to a process and, when it leads its own process group (as bots do),
/// to that whole group. Never to this test process's own group.
pub fn kill_tree(pid: u32) {
    let Some(stat) = stat(pid) else { return };
    let own_group = nix::unistd::getpgrp().as_raw() as u32;
    if stat.pgrp == pid && stat.pgrp != own_group {
        let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
}

/// The file name of the test bot as the kernel shows it (`comm`).
const TESTBOT_COMM: &str = "intelmq-testbot";

static REAPER: Once = Once::new();

/// Makes this test process a child subreaper and reaps, in a background thread,
/// the test bots that end up as its children.
///
/// Bots outlive their daemon by design; when a test kills the daemon, its bots
/// are reparented. On a normal system init reaps them once they exit, but a
/// container's pid 1 often does not, and then a stopped bot stays a zombie and
/// looks alive to `kill(pid, 0)`. As subreaper this process plays init for the
/// bots the tests orphan. It reaps only zombies named `intelmq-testbot`, never
/// the processes it started itself (their `Child` handles wait for those).
pub fn become_reaper_of_orphans() {
    REAPER.call_once(|| {
        // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer argument
        // and changes only this process's attributes.
        let result = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        if result != 0 {
            eprintln!(
                "intelmqd-tests: cannot become a child subreaper: {}",
                std::io::Error::last_os_error()
            );
        }
        std::thread::spawn(|| loop {
            reap_orphaned_bots();
            std::thread::sleep(Duration::from_millis(20));
        });
    });
}

/// Reaps the zombie test bots that are children of this process.
pub fn reap_orphaned_bots() {
    for zombie in zombie_children(std::process::id()) {
        if zombie.comm == TESTBOT_COMM {
            // SAFETY: waitpid on one specific pid that is our child and a
            // zombie; WNOHANG never blocks.
            unsafe {
                libc::waitpid(zombie.pid as i32, std::ptr::null_mut(), libc::WNOHANG);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_with_a_strange_name() {
        let line =
            "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 10";
        let stat = parse_stat(line).expect("parses");
        assert_eq!(stat.pid, 4242);
        assert_eq!(stat.comm, "a) b (c)");
        assert_eq!(stat.state, 'S');
        assert_eq!((stat.ppid, stat.pgrp, stat.session), (1, 4242, 4242));
        assert_eq!(stat.starttime, 98765);
    }

    #[test]
    fn sees_this_process_alive() {
        let me = stat(std::process::id()).expect("own stat");
        assert!(pid_alive(me.pid));
        assert!(!me.is_zombie());
    }
}
