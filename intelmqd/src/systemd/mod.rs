//! The daemon's way to systemd, for the systemd process manager: `systemctl`
//! run for one verb on one bot's unit (`intelmq-bot@<bot_id>.service`, the
//! template of `contrib/systemd`), and the state of many units read at once
//! from their properties (ActiveState, SubState, MainPID, NRestarts, ...):
//! over D-Bus (see [`bus`]), or from `systemctl show` where the bus cannot be
//! reached, never from systemctl's human text.
//!
//! `systemctl` waits for the job it queued (start, stop, reload, restart), so
//! each call returns when systemd has done it, as a control of a PID-mode bot
//! does. Calls that arrive together (a botnet command's bots all ask at once)
//! are made as one `systemctl` call per verb (see [`queue`]).

use std::collections::HashMap;
use std::process::{Command, Stdio};

use intelmqd_proto::{ExitInfo, RunState};
use nix::sys::signal::Signal;

use crate::bot::BotSnapshot;
use crate::config::SystemdInstance;
use crate::process::Termination;

mod bus;
mod queue;
mod watch;
pub use queue::SystemdQueue;

/// The properties `show` asks for; the parser reads these names, and
/// `bus::PROPERTIES` names the same.
const PROPERTIES: &str = "Id,LoadState,ActiveState,SubState,Result,MainPID,NRestarts,ExecMainCode,ExecMainStatus,ExecMainExitTimestamp,StateChangeTimestamp,UnitFileState,Restart,RestartPreventExitStatus,SuccessExitStatus";

/// Why a call to systemd failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SystemdError {
    #[error("cannot run systemctl: {0}")]
    Spawn(String),
    #[error("`{command}` failed (exit status {status}): {stderr}")]
    Failed {
        command: String,
        status: i32,
        stderr: String,
    },
}

/// The unit that runs a bot under systemd.
pub fn unit_name(bot_id: &str) -> String {
    format!("intelmq-bot@{bot_id}.service")
}

/// One systemd manager (the machine's or the daemon's user's), reached
/// through the daemon's queue of `systemctl` calls.
#[derive(Debug, Clone)]
pub struct Systemctl {
    pub instance: SystemdInstance,
    queue: SystemdQueue,
}

impl Systemctl {
    pub fn new(instance: SystemdInstance, queue: &SystemdQueue) -> Systemctl {
        Systemctl {
            instance,
            queue: queue.clone(),
        }
    }

    /// How an operator would type the call, for messages.
    pub fn describe(&self, verb: &str, bot_id: &str) -> String {
        describe(self.instance, verb, &[bot_id.to_owned()])
    }

    /// Runs `verb` on the bot's unit and waits for systemd's job to finish.
    pub async fn unit_verb(&self, verb: &'static str, bot_id: &str) -> Result<(), SystemdError> {
        self.queue.verb(self.instance, verb, bot_id).await
    }

    /// The state of each bot's unit, by bot id: from memory where the
    /// manager's signals keep it current (see the `watch` module), read from the
    /// manager otherwise (and then kept).
    pub async fn show(
        &self,
        bot_ids: &[String],
    ) -> Result<HashMap<String, UnitState>, SystemdError> {
        self.read(bot_ids, false).await
    }

    /// The state of each bot's unit read from the manager now, not from
    /// memory: right after a call on a unit its signals may still be on the
    /// way.
    pub async fn show_fresh(
        &self,
        bot_ids: &[String],
    ) -> Result<HashMap<String, UnitState>, SystemdError> {
        self.read(bot_ids, true).await
    }

    async fn read(
        &self,
        bot_ids: &[String],
        fresh: bool,
    ) -> Result<HashMap<String, UnitState>, SystemdError> {
        if bot_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let kept = self.queue.units(self.instance);
        let wanted: &[String] = if fresh { &[] } else { bot_ids };
        let (mut units, start) = kept.lookup(wanted).await;
        let missing: Vec<String> = bot_ids
            .iter()
            .filter(|id| !units.contains_key(*id))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(units);
        }
        let read = self.queue.show(self.instance, missing).await?;
        if let Some(start) = start {
            kept.store(start, read.clone());
        }
        units.extend(read);
        Ok(units)
    }
}

/// How an operator would type a call on the units of `bot_ids`.
pub(crate) fn describe(instance: SystemdInstance, verb: &str, bot_ids: &[String]) -> String {
    let units: Vec<String> = bot_ids.iter().map(|id| unit_name(id)).collect();
    match instance {
        SystemdInstance::System => format!("systemctl {verb} {}", units.join(" ")),
        SystemdInstance::User => format!("systemctl --user {verb} {}", units.join(" ")),
    }
}

/// Runs `systemctl [--user] <args>` and returns its stdout.
async fn run(
    instance: SystemdInstance,
    args: Vec<String>,
    described: String,
) -> Result<String, SystemdError> {
    let joined = tokio::task::spawn_blocking(move || {
        let mut command = Command::new("systemctl");
        if instance == SystemdInstance::User {
            command.arg("--user");
        }
        command
            .args(["--no-ask-password", "--no-pager"])
            .args(&args)
            .stdin(Stdio::null())
            // The daemon's own NOTIFY_SOCKET is not systemctl's business.
            .env_remove("NOTIFY_SOCKET")
            .output()
    })
    .await;
    let output = match joined {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => return Err(SystemdError::Spawn(error.to_string())),
        Err(error) => return Err(SystemdError::Spawn(error.to_string())),
    };
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    Err(SystemdError::Failed {
        command: described,
        status: output.status.code().unwrap_or(-1),
        stderr: if stderr.is_empty() {
            "no message".to_owned()
        } else {
            stderr
        },
    })
}

/// `systemctl show`'s arguments for the units of `bot_ids`.
fn show_args(bot_ids: &[String]) -> Vec<String> {
    let mut args = vec![
        "show".to_owned(),
        "--timestamp=unix".to_owned(),
        "-p".to_owned(),
        PROPERTIES.to_owned(),
    ];
    args.extend(bot_ids.iter().map(|id| unit_name(id)));
    args
}

/// A unit as `systemctl show` described it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnitState {
    pub id: String,
    pub load_state: String,
    pub active_state: String,
    pub sub_state: String,
    pub result: String,
    pub main_pid: Option<u32>,
    pub restarts: u64,
    /// `ExecMainCode`: 1 exited, 2 killed, 3 dumped core (the kernel's
    /// CLD_* codes); 0 when the main process never ended.
    pub exec_main_code: i32,
    pub exec_main_status: i32,
    pub exited_at: Option<u64>,
    pub since: Option<u64>,
    pub unit_file_state: String,
    /// `Restart=`: when systemd starts the main process again after it ended.
    pub restart: String,
    /// `RestartPreventExitStatus=`: ends that are never restarted.
    pub restart_prevented: ExitStatusSet,
    /// `SuccessExitStatus=`: ends counted as clean besides the usual ones.
    pub success: ExitStatusSet,
}

/// A set of exit codes and signals as `systemctl show` prints one
/// (`64 78 KILL`: systemd names signals without `SIG`; `SIGKILL` is read too).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExitStatusSet {
    pub codes: Vec<i32>,
    pub signals: Vec<i32>,
}

impl ExitStatusSet {
    fn parse(value: &str) -> ExitStatusSet {
        let mut set = ExitStatusSet::default();
        for word in value.split_whitespace() {
            if let Ok(code) = word.parse() {
                set.codes.push(code);
            } else if let Some(signal) = parse_signal(word) {
                set.signals.push(signal);
            }
        }
        set
    }

    fn contains(&self, exit: &ExitInfo) -> bool {
        exit.code.is_some_and(|code| self.codes.contains(&code))
            || exit
                .signal
                .is_some_and(|signal| self.signals.contains(&signal))
    }
}

impl UnitState {
    /// The bot id of an `intelmq-bot@<id>.service` unit.
    pub fn bot_id(&self) -> Option<&str> {
        self.id
            .strip_prefix("intelmq-bot@")
            .and_then(|rest| rest.strip_suffix(".service"))
    }

    /// A process of the unit runs, or systemd is about to start one again:
    /// starting the bot elsewhere would run it twice.
    pub fn is_active(&self) -> bool {
        matches!(
            self.active_state.as_str(),
            "active" | "reloading" | "activating" | "deactivating" | "refreshing"
        )
    }

    pub fn is_enabled(&self) -> bool {
        matches!(
            self.unit_file_state.as_str(),
            "enabled" | "enabled-runtime" | "alias" | "linked" | "linked-runtime"
        )
    }

    /// How the unit's main process last ended, if it did.
    pub fn last_exit(&self) -> Option<ExitInfo> {
        let at = self.exited_at?;
        // The same words as for a process the daemon ran itself.
        let termination = match self.exec_main_code {
            1 => Termination::Exited(self.exec_main_status),
            2 | 3 => Termination::Signaled(self.exec_main_status),
            _ => return None,
        };
        let (code, signal) = match termination {
            Termination::Exited(code) => (Some(code), None),
            Termination::Signaled(signal) => (None, Some(signal)),
            Termination::Unknown => (None, None),
        };
        let description = termination.describe();
        Some(ExitInfo {
            code,
            signal,
            at,
            description,
        })
    }

    /// Whether `Restart=` asks for a new start after this end of the main
    /// process (the table of systemd.service(5): clean ends are code 0,
    /// SIGHUP, SIGINT, SIGTERM, SIGPIPE and `SuccessExitStatus=`).
    fn restart_wanted(&self, exit: &ExitInfo) -> bool {
        if self.restart_prevented.contains(exit) {
            return false;
        }
        let clean = exit.code == Some(0)
            || exit.signal.is_some_and(|signal| {
                [
                    Signal::SIGHUP,
                    Signal::SIGINT,
                    Signal::SIGTERM,
                    Signal::SIGPIPE,
                ]
                .iter()
                .any(|clean| *clean as i32 == signal)
            })
            || self.success.contains(exit);
        match self.restart.as_str() {
            "always" => true,
            "on-success" => clean,
            "on-failure" => !clean,
            "on-abnormal" | "on-abort" => exit.signal.is_some() && !clean,
            _ => false,
        }
    }

    /// The unit is failed because its start limit refused a restart:
    /// `NRestarts` counts that restart too (systemd raises it when it queues
    /// the restart). After a crash loop the unit's `Result` stays the last
    /// exit's (`exit-code`, `signal`, `core-dump`: systemd keeps the first
    /// failure), so the refusal shows as an end that `Restart=` wanted to
    /// restart; `start-limit-hit` appears only when that end was clean.
    fn restart_refused(&self) -> bool {
        self.active_state == "failed"
            && (self.result == "start-limit-hit"
                || self
                    .last_exit()
                    .is_some_and(|exit| self.restart_wanted(&exit)))
    }

    /// What the daemon shows of a bot run by this unit.
    pub fn snapshot(&self) -> BotSnapshot {
        let state = match self.active_state.as_str() {
            "active" | "reloading" | "refreshing" => RunState::Running,
            "activating" => RunState::Starting,
            "deactivating" => RunState::Stopping,
            "failed" => RunState::Failed,
            _ => RunState::Stopped,
        };
        let pid = match state {
            RunState::Running | RunState::Stopping | RunState::Starting => self.main_pid,
            _ => None,
        };
        // systemd counts the restart that its start limit refused; the
        // daemon counts restarts that started a process.
        let restarts = if self.restart_refused() {
            self.restarts.saturating_sub(1)
        } else {
            self.restarts
        };
        BotSnapshot {
            state,
            pid,
            since: self.since,
            last_exit: self.last_exit(),
            restarts,
            ..BotSnapshot::stopped()
        }
    }
}

/// Parses `systemctl show` output: `Key=value` lines, one block a unit,
/// blocks separated by an empty line.
pub fn parse_show(text: &str) -> Vec<UnitState> {
    let mut units = Vec::new();
    let mut current: Option<UnitState> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            units.extend(current.take());
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let unit = current.get_or_insert_with(UnitState::default);
        match key {
            "Id" => unit.id = value.to_owned(),
            "LoadState" => unit.load_state = value.to_owned(),
            "ActiveState" => unit.active_state = value.to_owned(),
            "SubState" => unit.sub_state = value.to_owned(),
            "Result" => unit.result = value.to_owned(),
            "MainPID" => unit.main_pid = value.parse().ok().filter(|pid| *pid != 0),
            "NRestarts" => unit.restarts = value.parse().unwrap_or(0),
            "ExecMainCode" => unit.exec_main_code = value.parse().unwrap_or(0),
            "ExecMainStatus" => unit.exec_main_status = value.parse().unwrap_or(0),
            "ExecMainExitTimestamp" => unit.exited_at = unix_timestamp(value),
            "StateChangeTimestamp" => unit.since = unix_timestamp(value),
            "UnitFileState" => unit.unit_file_state = value.to_owned(),
            "Restart" => unit.restart = value.to_owned(),
            "RestartPreventExitStatus" => unit.restart_prevented = ExitStatusSet::parse(value),
            "SuccessExitStatus" => unit.success = ExitStatusSet::parse(value),
            _ => {}
        }
    }
    units.extend(current);
    units
}

/// A signal's number from its name, with or without `SIG`.
fn parse_signal(name: &str) -> Option<i32> {
    let full = if name.starts_with("SIG") {
        name.to_owned()
    } else {
        format!("SIG{name}")
    };
    full.parse::<Signal>().ok().map(|signal| signal as i32)
}

/// `@1733330000` (with `--timestamp=unix`); empty when never.
fn unix_timestamp(value: &str) -> Option<u64> {
    value.trim().strip_prefix('@')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOW: &str = "Id=intelmq-bot@a.service
LoadState=loaded
ActiveState=active
SubState=running
Result=success
MainPID=4242
NRestarts=2
ExecMainCode=0
ExecMainStatus=0
ExecMainExitTimestamp=
StateChangeTimestamp=@1733330000
UnitFileState=enabled

Id=intelmq-bot@b.service
LoadState=loaded
ActiveState=failed
SubState=failed
Result=start-limit-hit
MainPID=0
NRestarts=4
ExecMainCode=1
ExecMainStatus=3
ExecMainExitTimestamp=@1733330100
StateChangeTimestamp=@1733330101
UnitFileState=disabled

Id=intelmq-bot@c.service
LoadState=loaded
ActiveState=inactive
SubState=dead
Result=success
MainPID=0
NRestarts=0
ExecMainCode=2
ExecMainStatus=15
ExecMainExitTimestamp=@1733330200
StateChangeTimestamp=@1733330200
UnitFileState=disabled
";

    #[test]
    fn reads_running_failed_and_stopped_units() {
        let units = parse_show(SHOW);
        assert_eq!(units.len(), 3);
        let running = units[0].snapshot();
        assert_eq!(units[0].bot_id(), Some("a"));
        assert!(units[0].is_active() && units[0].is_enabled());
        assert_eq!(running.state, RunState::Running);
        assert_eq!(running.pid, Some(4242));
        assert_eq!(running.restarts, 2);
        assert_eq!(running.since, Some(1_733_330_000));
        assert_eq!(running.last_exit, None);

        let failed = units[1].snapshot();
        assert!(!units[1].is_active() && !units[1].is_enabled());
        assert_eq!(failed.state, RunState::Failed);
        assert_eq!(failed.restarts, 3, "the refused restart is not counted");
        assert_eq!(failed.pid, None);
        let exit = failed.last_exit.expect("an exit");
        assert_eq!((exit.code, exit.signal), (Some(3), None));
        assert_eq!(exit.description, "exited with code 3");

        let stopped = units[2].snapshot();
        assert_eq!(stopped.state, RunState::Stopped);
        let exit = stopped.last_exit.expect("an exit");
        assert_eq!((exit.code, exit.signal), (None, Some(15)));
        assert_eq!(exit.description, "killed by signal 15 (SIGTERM)");
    }

    /// A failed unit as systemd 252 leaves it after a crash loop (`Result`
    /// of the last exit, the refused restart counted in `NRestarts`), or
    /// after an exit its `RestartPreventExitStatus=` names.
    fn failed_unit(code: i32, status: i32, result: &str, n_restarts: u64) -> UnitState {
        let text = format!(
            "Id=intelmq-bot@f.service\nActiveState=failed\nSubState=failed\nResult={result}\n\
             NRestarts={n_restarts}\nExecMainCode={code}\nExecMainStatus={status}\n\
             ExecMainExitTimestamp=@1733330100\nRestart=on-failure\n\
             RestartPreventExitStatus=64 78 USR1\nSuccessExitStatus=\n"
        );
        parse_show(&text).remove(0)
    }

    #[test]
    fn the_restart_a_start_limit_refused_is_not_counted() {
        let exited = failed_unit(1, 3, "exit-code", 5);
        assert_eq!(exited.restart_prevented.codes, vec![64, 78]);
        assert_eq!(
            exited.restart_prevented.signals,
            vec![Signal::SIGUSR1 as i32]
        );
        assert_eq!(exited.snapshot().restarts, 4);
        let aborted = failed_unit(3, 6, "core-dump", 5);
        assert_eq!(aborted.snapshot().restarts, 4);
        // Not restarted, so nothing was refused.
        let prevented = failed_unit(1, 78, "exit-code", 2);
        assert_eq!(prevented.snapshot().restarts, 2);
        let prevented_signal = failed_unit(2, Signal::SIGUSR1 as i32, "signal", 2);
        assert_eq!(prevented_signal.snapshot().restarts, 2);
        let mut never = failed_unit(1, 3, "exit-code", 0);
        never.restart = "no".to_owned();
        assert_eq!(never.snapshot().restarts, 0);
    }

    #[test]
    fn an_unknown_unit_is_stopped_and_other_units_have_no_bot() {
        let units = parse_show(
            "Id=intelmq-bot@x.service\nLoadState=not-found\nActiveState=inactive\nMainPID=0\n",
        );
        assert_eq!(units[0].snapshot().state, RunState::Stopped);
        assert!(!units[0].is_active());
        let units = parse_show("Id=cron.service\nActiveState=active\n");
        assert_eq!(units[0].bot_id(), None);
        assert!(parse_show("").is_empty());
    }

    #[test]
    fn describes_calls_as_an_operator_would_type_them() {
        assert_eq!(
            describe(SystemdInstance::System, "start", &["a".to_owned()]),
            "systemctl start intelmq-bot@a.service"
        );
        assert_eq!(
            describe(
                SystemdInstance::User,
                "stop",
                &["a".to_owned(), "b".to_owned()]
            ),
            "systemctl --user stop intelmq-bot@a.service intelmq-bot@b.service"
        );
    }
}
