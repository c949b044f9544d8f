//! How a bot's executable is found and what its environment is.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::bot::restart::RestartPolicy;
use crate::config::{BotConfig, Defaults, RunMode};
use crate::cron::CronSchedule;
use crate::process::Launch;
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
