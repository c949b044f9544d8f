//! How a bot's executable is found and what its environment is.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::bot::restart::RestartPolicy;
use crate::config::{BotConfig, Defaults, RunMode};
use crate::cron::CronSchedule;
use std::ffi::CString;

use nix::unistd::{getgrouplist, Gid, Uid, User};

use crate::process::{Launch, RunAs};
use crate::Paths;

/// Finds `module` as an executable file in the directories of `path_var`.
pub fn resolve_module(module: &str, path_var: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let path_var = path_var?;
    std::env::split_paths(path_var)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(module))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The environment a bot gets on top of the daemon's own: where the
/// configuration, logs and state are, and its own id.
pub fn bot_env(paths: &Paths, bot_id: &str) -> Vec<(OsString, OsString)> {
    vec![
        ("INTELMQ_CONFIG_DIR".into(), paths.config_dir.clone().into()),
        ("INTELMQ_LOG_DIR".into(), paths.log_dir.clone().into()),
        ("INTELMQ_STATE_DIR".into(), paths.state_dir.clone().into()),
        ("INTELMQ_BOT_ID".into(), bot_id.into()),
    ]
}

/// Everything needed to start the bot of `config`, or why it cannot be.
pub fn launch_for(
    paths: &Paths,
    config: &BotConfig,
    defaults: &Defaults,
) -> Result<Launch, String> {
    let bot_id = config.bot_id.as_str();
    let module = config
        .module
        .as_deref()
        .ok_or_else(|| "module is missing".to_owned())?;
    let executable = resolve_module(module, std::env::var_os("PATH").as_deref())
        .ok_or_else(|| format!("module {module:?} is not an executable on PATH"))?;
    let schedule = match (config.run_mode, &config.schedule_time) {
        (RunMode::Scheduled, Some(expression)) => {
            Some(CronSchedule::parse(expression).map_err(|error| error.to_string())?)
        }
        (RunMode::Scheduled, None) => return Err("schedule_time is missing".to_owned()),
        (RunMode::Stream, _) => None,
    };
    Ok(Launch {
        executable,
        bot_id: bot_id.to_owned(),
        env: bot_env(paths, bot_id),
        log_path: paths.log_dir.join(format!("{bot_id}.log")),
        schedule,
        restart: RestartPolicy {
            mode: config.restart,
            ..defaults.restart
        },
        run_as: run_as(defaults.bot_user.as_deref())?,
    })
}

/// The user bots run as. A daemon running as root never runs a bot as root
/// unless defaults.conf says `"bot_user": "root"`: by default bots run as the
/// user `intelmq`, and without that user they are not started. A daemon
/// running as another user runs bots as itself.
pub fn run_as(bot_user: Option<&str>) -> Result<Option<RunAs>, String> {
    let euid = Uid::effective();
    if !euid.is_root() {
        return match bot_user {
            None => Ok(None),
            Some(name) if lookup(name)?.uid == euid.as_raw() => Ok(None),
            Some(name) => Err(format!(
                "intelmqd runs as uid {euid} and cannot run bots as {name:?} (bot_user in defaults.conf): only root can switch users"
            )),
        };
    }
    match bot_user {
        Some("root") => Ok(None),
        Some(name) => lookup(name).map(Some),
        None => lookup(DEFAULT_BOT_USER).map(Some).map_err(|_| {
            format!(
                "intelmqd runs as root and does not run bots as root: create the user {DEFAULT_BOT_USER} (useradd --system --no-create-home --shell /usr/sbin/nologin {DEFAULT_BOT_USER}), set \"bot_user\" in defaults.conf to the user to run bots as, or to \"root\" to run them as root on purpose"
            )
        }),
    }
}

/// The user bots run as by default when the daemon runs as root.
pub const DEFAULT_BOT_USER: &str = "intelmq";

fn lookup(name: &str) -> Result<RunAs, String> {
    let user = match User::from_name(name) {
        Ok(Some(user)) => user,
        Ok(None) => return Err(format!("the user {name:?} (bot_user) does not exist")),
        Err(error) => return Err(format!("cannot look up the user {name:?}: {error}")),
    };
    let cname = CString::new(name).map_err(|_| format!("the user name {name:?} has a NUL byte"))?;
    let groups = getgrouplist(&cname, user.gid)
        .map_err(|error| format!("cannot list the groups of {name:?}: {error}"))?;
    Ok(RunAs {
        name: name.to_owned(),
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        groups: groups.into_iter().map(Gid::as_raw).collect(),
        home: user.dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bots_run_as_root_only_when_told() {
        if Uid::effective().is_root() {
            assert_eq!(run_as(Some("root")), Ok(None));
            let missing = run_as(Some("no-such-user-here")).unwrap_err();
            assert!(missing.contains("\"no-such-user-here\""), "{missing}");
            let nobody = run_as(Some("nobody"))
                .expect("nobody exists")
                .expect("switches");
            assert_ne!(nobody.uid, 0);
        } else {
            assert_eq!(run_as(None), Ok(None));
            assert!(run_as(Some("root")).is_err());
        }
    }

    #[test]
    fn finds_executables_only() {
        let found = resolve_module(
            "sh",
            Some(std::ffi::OsStr::new("/nonexistent:/bin:/usr/bin")),
        );
        assert!(found.is_some_and(|p| p.ends_with("sh")));
        assert_eq!(
            resolve_module("no-such-module-here", Some(std::ffi::OsStr::new("/bin"))),
            None
        );
        assert_eq!(
            resolve_module("passwd", Some(std::ffi::OsStr::new("/etc"))),
            None
        );
        assert_eq!(resolve_module("sh", None), None);
    }
}
