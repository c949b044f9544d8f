//! How a bot's executable is found, what its environment is, and where its
//! output and its log go.
//!
//! The environment covers real IntelMQ 3 bots, which fix all their paths at
//! import time from `INTELMQ_ROOT_DIR` (`$ROOT/etc/runtime.yaml`,
//! `$ROOT/var/log`, ...) or `INTELMQ_PATHS_NO_OPT` (`/etc/intelmq`,
//! `/var/log/intelmq`, ...), and turn every other `INTELMQ_<NAME>` variable
//! into their parameter `<name>` ([`IntelmqLayout`]). An IntelMQ bot writes its
//! own log file and copies every line to stdout/stderr, so for it the daemon's
//! capture of stdout/stderr goes to a file of its own ([`BotLogFiles`]).

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::bot::restart::RestartPolicy;
use crate::config::{BotConfig, Defaults, RunMode};
use crate::cron::CronSchedule;
use serde_json::{Map, Value};
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

/// The variable that names the bot in its environment, so that a daemon finds
/// the bots it started even without their pid files. Deliberately not
/// `INTELMQ_`-prefixed: an IntelMQ 3 bot sets every `INTELMQ_<NAME>` variable
/// as its attribute `<name>`, and its `bot_id` is read-only, so
/// `INTELMQ_BOT_ID` makes it die at init.
pub const BOT_ID_VAR: &str = "INTELMQD_BOT_ID";

/// The name [`BOT_ID_VAR`] had before, still recognised when adopting bots
/// that an older daemon started.
pub const OLD_BOT_ID_VAR: &str = "INTELMQ_BOT_ID";

/// The environment a bot gets on top of the daemon's own: where the
/// configuration, logs and state are, its own id, and where IntelMQ's own
/// paths are ([`IntelmqLayout`]).
pub fn bot_env(paths: &Paths, bot_id: &str) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = vec![
        ("INTELMQ_CONFIG_DIR".into(), paths.config_dir.clone().into()),
        ("INTELMQ_LOG_DIR".into(), paths.log_dir.clone().into()),
        ("INTELMQ_STATE_DIR".into(), paths.state_dir.clone().into()),
        (BOT_ID_VAR.into(), bot_id.into()),
    ];
    env.extend(IntelmqLayout::of_daemon(&paths.config_dir).env);
    env
}

/// Where IntelMQ 3 looks for its files, and the variables that tell it so.
///
/// The rule, first match wins:
/// 1. `INTELMQ_ROOT_DIR` in the daemon's environment: everything under it
///    (IntelMQ itself gives it precedence over `INTELMQ_PATHS_NO_OPT`);
/// 2. `INTELMQ_PATHS_NO_OPT`: the LSB paths (`/etc/intelmq`, ...), under
///    `ROOT_DIR` where that is set, as IntelMQ reads it;
/// 3. `INTELMQ_PATHS_OPT`: IntelMQ's default, everything under `/opt/intelmq`;
/// 4. a config dir `<X>/etc`: `INTELMQ_ROOT_DIR=<X>`;
/// 5. a config dir `<X>/etc/intelmq`: `INTELMQ_PATHS_NO_OPT=1` (and
///    `ROOT_DIR=<X>` unless `<X>` is `/`);
/// 6. anything else: nothing is set, and IntelMQ uses `/opt/intelmq`.
///
/// Variables of rules 1–3 are passed on explicitly, so that `debug` shows
/// them and `intelmq-bot-launcher` gives them too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntelmqLayout {
    /// IntelMQ's default directory of bot logs (`DEFAULT_LOGGING_PATH`).
    pub default_logging_path: PathBuf,
    /// The variables to give each bot.
    pub env: Vec<(OsString, OsString)>,
}

impl IntelmqLayout {
    /// The layout for a daemon on `config_dir` with its own environment.
    pub fn of_daemon(config_dir: &Path) -> IntelmqLayout {
        IntelmqLayout::detect(config_dir, |name| {
            std::env::var_os(name).filter(|value| !value.is_empty())
        })
    }

    /// The layout for `config_dir`, with `lookup` reading the daemon's
    /// environment (a variable set to the empty string counts as unset, as
    /// IntelMQ treats it).
    pub fn detect(config_dir: &Path, lookup: impl Fn(&str) -> Option<OsString>) -> IntelmqLayout {
        if let Some(root) = lookup("INTELMQ_ROOT_DIR") {
            return IntelmqLayout::opt(
                Path::new(&root),
                vec![("INTELMQ_ROOT_DIR".into(), root.clone())],
            );
        }
        if let Some(flag) = lookup("INTELMQ_PATHS_NO_OPT") {
            let mut env = vec![("INTELMQ_PATHS_NO_OPT".into(), flag)];
            let root = lookup("ROOT_DIR");
            if let Some(root) = &root {
                env.push(("ROOT_DIR".into(), root.clone()));
            }
            return IntelmqLayout::lsb(Path::new(root.as_deref().unwrap_or("/".as_ref())), env);
        }
        if let Some(flag) = lookup("INTELMQ_PATHS_OPT") {
            return IntelmqLayout::opt(
                Path::new(INTELMQ_OPT_ROOT),
                vec![("INTELMQ_PATHS_OPT".into(), flag)],
            );
        }
        let dir = Path::new(config_dir);
        if dir.file_name().is_some_and(|name| name == "etc") {
            if let Some(root) = dir.parent() {
                return IntelmqLayout::opt(
                    root,
                    vec![("INTELMQ_ROOT_DIR".into(), root.as_os_str().to_owned())],
                );
            }
        }
        if dir.file_name().is_some_and(|name| name == "intelmq") {
            let etc = dir.parent();
            if let Some(root) = etc
                .filter(|etc| etc.file_name().is_some_and(|name| name == "etc"))
                .and_then(Path::parent)
            {
                let mut env = vec![("INTELMQ_PATHS_NO_OPT".into(), "1".into())];
                if root != Path::new("/") {
                    env.push(("ROOT_DIR".into(), root.as_os_str().to_owned()));
                }
                return IntelmqLayout::lsb(root, env);
            }
        }
        IntelmqLayout::opt(Path::new(INTELMQ_OPT_ROOT), Vec::new())
    }

    fn opt(root: &Path, env: Vec<(OsString, OsString)>) -> IntelmqLayout {
        IntelmqLayout {
            default_logging_path: root.join("var/log"),
            env,
        }
    }

    fn lsb(root: &Path, env: Vec<(OsString, OsString)>) -> IntelmqLayout {
        IntelmqLayout {
            default_logging_path: root.join("var/log/intelmq"),
            env,
        }
    }
}

/// IntelMQ's root directory when nothing says otherwise.
const INTELMQ_OPT_ROOT: &str = "/opt/intelmq";

/// Where a bot's output goes and where its log is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotLogFiles {
    /// The file the bot's stdout and stderr are appended to.
    pub output: PathBuf,
    /// The file `intelmqctl log` and `status <bot>` read.
    pub log: PathBuf,
}

impl BotLogFiles {
    /// The files of `bot_id`. For a bot that writes IntelMQ's log file (see
    /// [`intelmq_log_file`]) that file is the log, and stdout/stderr, which
    /// repeat its lines (IntelMQ's stream handler always writes them there)
    /// and add only what comes before its logger works, go to
    /// `<log_dir>/<bot_id>.output.log`: never into the log itself, even when
    /// IntelMQ's `logging_path` is the daemon's log dir. For any other bot
    /// both are `<log_dir>/<bot_id>.log`.
    pub fn of(
        paths: &Paths,
        bot_id: &str,
        config: Option<&BotConfig>,
        globals: &Map<String, Value>,
    ) -> BotLogFiles {
        let plain = paths.log_dir.join(format!("{bot_id}.log"));
        let intelmq_log = config.and_then(|config| {
            intelmq_log_file(
                config,
                globals,
                &IntelmqLayout::of_daemon(&paths.config_dir),
                |name| std::env::var(name).ok().filter(|value| !value.is_empty()),
            )
        });
        match intelmq_log {
            Some(log) => BotLogFiles {
                output: paths.log_dir.join(format!("{bot_id}.output.log")),
                log,
            },
            None => BotLogFiles {
                output: plain.clone(),
                log: plain,
            },
        }
    }
}

/// The log file an IntelMQ 3 bot writes itself, `<logging_path>/<bot_id>.log`,
/// or `None` when the bot is not an IntelMQ bot or logs to syslog.
///
/// A bot counts as an IntelMQ bot when its module is one of IntelMQ's own
/// (`intelmq.…`) or when its parameters or the global settings have IntelMQ's
/// `logging_handler` or `logging_path`. Each setting is read as the bot reads
/// it: its environment variable (`INTELMQ_LOGGING_PATH`, through `env`) over
/// the bot's `parameters` over the global settings over IntelMQ's default.
pub fn intelmq_log_file(
    config: &BotConfig,
    globals: &Map<String, Value>,
    layout: &IntelmqLayout,
    env: impl Fn(&str) -> Option<String>,
) -> Option<PathBuf> {
    let parameters = config.raw.get("parameters").and_then(Value::as_object);
    let setting = |key: &str, variable: &str| -> Option<String> {
        env(variable).or_else(|| {
            [parameters, Some(globals)]
                .into_iter()
                .flatten()
                .find_map(|source| source.get(key).and_then(Value::as_str).map(str::to_owned))
        })
    };
    let has_logging_settings = [parameters, Some(globals)]
        .into_iter()
        .flatten()
        .any(|source| {
            source.contains_key("logging_handler") || source.contains_key("logging_path")
        });
    let is_intelmq_module = config
        .module
        .as_deref()
        .is_some_and(|module| module.starts_with("intelmq."));
    if !(is_intelmq_module || has_logging_settings) {
        return None;
    }
    let handler = setting("logging_handler", "INTELMQ_LOGGING_HANDLER");
    if handler.as_deref() == Some("syslog") {
        return None;
    }
    let directory = setting("logging_path", "INTELMQ_LOGGING_PATH")
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| layout.default_logging_path.clone());
    Some(directory.join(format!("{}.log", config.bot_id)))
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
        log_path: BotLogFiles::of(paths, bot_id, Some(config), &defaults.raw).output,
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

    fn layout(config_dir: &str, env: &[(&str, &str)]) -> IntelmqLayout {
        IntelmqLayout::detect(Path::new(config_dir), |name| {
            env.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        })
    }

    fn vars(layout: &IntelmqLayout) -> Vec<(String, String)> {
        layout
            .env
            .iter()
            .map(|(k, v)| (k.to_string_lossy().into(), v.to_string_lossy().into()))
            .collect()
    }

    #[test]
    fn intelmq_paths_follow_the_daemons_environment_first() {
        let root = layout("/etc/intelmq", &[("INTELMQ_ROOT_DIR", "/srv/imq")]);
        assert_eq!(root.default_logging_path, Path::new("/srv/imq/var/log"));
        assert_eq!(
            vars(&root),
            [("INTELMQ_ROOT_DIR".into(), "/srv/imq".into())]
        );
        let lsb = layout("/x/etc", &[("INTELMQ_PATHS_NO_OPT", "1")]);
        assert_eq!(lsb.default_logging_path, Path::new("/var/log/intelmq"));
        assert_eq!(vars(&lsb), [("INTELMQ_PATHS_NO_OPT".into(), "1".into())]);
        let opt = layout("/etc/intelmq", &[("INTELMQ_PATHS_OPT", "1")]);
        assert_eq!(opt.default_logging_path, Path::new("/opt/intelmq/var/log"));
    }

    #[test]
    fn intelmq_paths_follow_the_config_dir_otherwise() {
        let lsb = layout("/etc/intelmq", &[]);
        assert_eq!(lsb.default_logging_path, Path::new("/var/log/intelmq"));
        assert_eq!(vars(&lsb), [("INTELMQ_PATHS_NO_OPT".into(), "1".into())]);
        let chroot = layout("/srv/a/etc/intelmq/", &[]);
        assert_eq!(
            chroot.default_logging_path,
            Path::new("/srv/a/var/log/intelmq")
        );
        assert_eq!(
            vars(&chroot),
            [
                ("INTELMQ_PATHS_NO_OPT".into(), "1".into()),
                ("ROOT_DIR".into(), "/srv/a".into())
            ]
        );
        let opt = layout("/opt/intelmq/etc", &[]);
        assert_eq!(opt.default_logging_path, Path::new("/opt/intelmq/var/log"));
        assert_eq!(
            vars(&opt),
            [("INTELMQ_ROOT_DIR".into(), "/opt/intelmq".into())]
        );
        let other = layout("/srv/conf", &[]);
        assert_eq!(
            other.default_logging_path,
            Path::new("/opt/intelmq/var/log")
        );
        assert!(other.env.is_empty());
    }

    #[test]
    fn intelmq_bots_log_where_their_settings_say() {
        let lsb = layout("/etc/intelmq", &[]);
        let no_env = |_: &str| None;
        let bot = |entry: Value| BotConfig::from_entry("b", entry);
        let globals = |value: Value| value.as_object().cloned().unwrap_or_default();
        let intelmq = bot(serde_json::json!({"module": "intelmq.bots.experts.filter.expert"}));
        assert_eq!(
            intelmq_log_file(&intelmq, &Map::new(), &lsb, no_env),
            Some(PathBuf::from("/var/log/intelmq/b.log"))
        );
        assert_eq!(
            intelmq_log_file(
                &intelmq,
                &globals(serde_json::json!({"logging_path": "/l"})),
                &lsb,
                no_env
            ),
            Some(PathBuf::from("/l/b.log"))
        );
        let own_path = bot(serde_json::json!({
            "module": "intelmq.bots.experts.filter.expert",
            "parameters": {"logging_path": "/p"}
        }));
        assert_eq!(
            intelmq_log_file(
                &own_path,
                &globals(serde_json::json!({"logging_path": "/l"})),
                &lsb,
                no_env
            ),
            Some(PathBuf::from("/p/b.log"))
        );
        assert_eq!(
            intelmq_log_file(&own_path, &Map::new(), &lsb, |name| {
                (name == "INTELMQ_LOGGING_PATH").then(|| "/e".to_owned())
            }),
            Some(PathBuf::from("/e/b.log"))
        );
        let syslog = globals(serde_json::json!({"logging_handler": "syslog"}));
        assert_eq!(intelmq_log_file(&intelmq, &syslog, &lsb, no_env), None);
        let other = bot(serde_json::json!({"module": "intelmq-testbot"}));
        assert_eq!(intelmq_log_file(&other, &Map::new(), &lsb, no_env), None);
        let third_party = globals(serde_json::json!({"logging_handler": "file"}));
        assert_eq!(
            intelmq_log_file(&other, &third_party, &lsb, no_env),
            Some(PathBuf::from("/var/log/intelmq/b.log"))
        );
    }

    #[test]
    fn the_output_of_an_intelmq_bot_never_goes_into_its_log() {
        let paths = Paths {
            config_dir: "/etc/intelmq".into(),
            state_dir: "/run/intelmq".into(),
            log_dir: "/var/log/intelmq".into(),
        };
        let intelmq = BotConfig::from_entry(
            "b",
            serde_json::json!({"module": "intelmq.bots.experts.filter.expert"}),
        );
        let files = BotLogFiles::of(&paths, "b", Some(&intelmq), &Map::new());
        assert_ne!(files.log, files.output);
        assert_eq!(files.output, Path::new("/var/log/intelmq/b.output.log"));
        let plain = BotLogFiles::of(&paths, "b", None, &Map::new());
        assert_eq!(plain.output, Path::new("/var/log/intelmq/b.log"));
        assert_eq!(plain.log, plain.output);
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
