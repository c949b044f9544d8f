//! The requests that only read: hello, list, status, configtest and the
//! check before a foreground debug run.

use std::collections::BTreeSet;

use intelmqd_proto::{
    BotProblems, BotStatus, ErrorBody, ErrorKind, FileCheck, Level, Message, Outcome, Response,
    RunStatus, Selection,
};

use super::Supervisor;
use crate::config::{FileError, RunMode, RUNTIME_YAML_FILE};
use crate::{launch, logtail, reconcile, status};

/// How many log lines `status <bot_id>` returns unless asked otherwise.
const DEFAULT_LOG_LINES: usize = 10;
/// The most log lines one status answer carries.
const MAX_LOG_LINES: usize = 10_000;

pub fn hello(paths: &crate::Paths) -> Response {
    Response::success(
        Vec::new(),
        Outcome::Hello {
            daemon_version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol: intelmqd_proto::PROTOCOL_VERSION,
            pid: std::process::id(),
            dirs: Some(intelmqd_proto::DaemonDirs {
                config_dir: paths.config_dir.display().to_string(),
                state_dir: paths.state_dir.display().to_string(),
                log_dir: paths.log_dir.display().to_string(),
            }),
        },
    )
}

impl Supervisor {
    pub(super) fn list(&self) -> Response {
        let bots = self
            .config
            .current()
            .bots
            .values()
            .map(status::list_row)
            .collect();
        Response::success(Vec::new(), Outcome::List { bots })
    }

    /// The bots a command without a bot id acts on: those of runtime.conf that
    /// the selection picks (the botnet unless `all`), and those removed from
    /// runtime.conf that still run, picked by their effective configuration.
    pub(super) fn selected(&self, select: Selection) -> Vec<String> {
        let config = self.config.current();
        let picks = |bot: &crate::config::BotConfig| {
            let mode = match (select.stream_bots, select.scheduled_bots) {
                (true, false) => bot.run_mode == RunMode::Stream,
                (false, true) => bot.run_mode == RunMode::Scheduled,
                _ => true,
            };
            (select.all || bot.botnet) && mode
        };
        let mut ids: BTreeSet<String> = config
            .bots
            .values()
            .filter(|bot| picks(bot))
            .map(|bot| bot.bot_id.clone())
            .collect();
        for (bot_id, tracked) in &self.bots {
            if config.bots.contains_key(bot_id) || !tracked.snapshot().is_running() {
                continue;
            }
            if tracked.effective.as_ref().is_some_and(picks) {
                ids.insert(bot_id.clone());
            }
        }
        ids.into_iter().collect()
    }

    pub(super) fn answer_status(
        &self,
        bot_id: Option<String>,
        log_lines: Option<usize>,
        select: Selection,
        respond: impl FnOnce(Response) + Send + 'static,
    ) {
        let ids = match &bot_id {
            Some(bot_id) => match self.known(bot_id) {
                Ok(()) => vec![bot_id.clone()],
                Err(error) => return respond(failure(error)),
            },
            None => self.selected(select),
        };
        let bots: Vec<BotStatus> = ids.iter().map(|id| self.bot_status(id)).collect();
        let messages: Vec<Message> = bots
            .iter()
            .filter(|bot| bot.status == RunStatus::Unstable)
            .map(|bot| {
                Message::new(
                    Level::Warning,
                    Some(&bot.bot_id),
                    reconcile::unstable_hint(&bot.bot_id),
                )
            })
            .collect();
        let Some(bot_id) = bot_id else {
            return respond(Response::success(
                messages,
                Outcome::Status {
                    bots,
                    log: Vec::new(),
                },
            ));
        };
        let path = self.log_file(&bot_id);
        let lines = log_lines.unwrap_or(DEFAULT_LOG_LINES).min(MAX_LOG_LINES);
        tokio::spawn(async move {
            let log = tokio::task::spawn_blocking(move || logtail::last_lines(&path, lines))
                .await
                .unwrap_or_default();
            respond(Response::success(messages, Outcome::Status { bots, log }));
        });
    }

    /// The file a bot's log is read from: IntelMQ's own log file for an
    /// IntelMQ bot, else the file its output goes to (see
    /// [`launch::BotLogFiles`]). A bot that is no longer configured is judged
    /// by the entry it was last started with.
    pub(super) fn log_file(&self, bot_id: &str) -> std::path::PathBuf {
        let config = self.config.current();
        let entry = config.bots.get(bot_id).or_else(|| {
            self.bots
                .get(bot_id)
                .and_then(|tracked| tracked.effective.as_ref())
        });
        launch::BotLogFiles::of(&self.paths, bot_id, entry, &config.defaults.raw).log
    }

    /// A bot id that is valid and names a configured or running bot.
    pub(super) fn known(&self, bot_id: &str) -> Result<(), ErrorBody> {
        if let Err(error) = intelmqd_proto::validate_bot_id(bot_id) {
            return Err(ErrorBody {
                kind: ErrorKind::InvalidBotId,
                message: format!("invalid bot id {bot_id:?}: {error}"),
            });
        }
        if self.config.current().bots.contains_key(bot_id) || self.is_running(bot_id) {
            return Ok(());
        }
        Err(ErrorBody {
            kind: ErrorKind::UnknownBot,
            message:
            format!(
                "no bot \"{bot_id}\" in {}; add it there first (see 'intelmqctl list' for the configured bots)",
                self.paths.config_dir.join(self.config.runtime_file()).display()
            ),
        })
    }

    pub(super) fn bot_status(&self, bot_id: &str) -> BotStatus {
        let config = self.config.current();
        let configured = config.bots.get(bot_id);
        let tracked = self.bots.get(bot_id);
        let module_found = configured
            .and_then(|c| c.module.as_ref())
            .and_then(|m| self.modules_found.get(m).copied())
            .unwrap_or(true);
        status::bot_status(
            bot_id,
            configured,
            tracked.and_then(|t| t.effective.as_ref()),
            &self.snapshot(bot_id),
            module_found,
            tracked.and_then(|t| t.reloaded),
        )
    }

    pub(super) fn debug(&self, bot_id: &str) -> Response {
        if let Err(error) = self.known(bot_id) {
            return failure(error);
        }
        let config = self.config.current();
        let Some(bot) = config.bots.get(bot_id) else {
            return Response::failure(
                ErrorKind::UnknownBot,
                format!(
                    "{bot_id} is not in {}; it cannot be debugged",
                    self.config.runtime_file()
                ),
            );
        };
        let snapshot = self.snapshot(bot_id);
        if snapshot.is_running() {
            let what = match snapshot.pid {
                Some(pid) => format!("it is running (pid {pid})"),
                None => "it is scheduled".to_owned(),
            };
            return Response::failure(
                ErrorKind::Conflict,
                format!(
                    "cannot debug {bot_id} because {what}; stop it first with 'intelmqctl stop {bot_id}'"
                ),
            );
        }
        if !bot.is_valid() {
            return Response::failure(
                ErrorKind::InvalidConfig,
                format!(
                    "{bot_id} cannot be debugged: its configuration is invalid: {}",
                    bot.problems.join("; ")
                ),
            );
        }
        let module = bot.module.as_deref().unwrap_or_default();
        match launch::launch_for(&self.paths, bot, &config.defaults) {
            Ok(launch) => Response::success(
                Vec::new(),
                Outcome::Debug {
                    bot_id: bot_id.to_owned(),
                    module: module.to_owned(),
                    executable: launch.executable.to_string_lossy().into_owned(),
                    env: launch
                        .env
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.to_string_lossy().into_owned(),
                                v.to_string_lossy().into_owned(),
                            )
                        })
                        .collect(),
                },
            ),
            Err(reason) => Response::failure(
                ErrorKind::InvalidConfig,
                format!("{bot_id} cannot be debugged: {reason}"),
            ),
        }
    }

    /// The spec's two kinds of check: each file's JSON, then each bot.
    pub(super) fn configtest(&self, bot_id: Option<&str>) -> Response {
        if let Some(bot_id) = bot_id {
            if let Err(error) = self.known(bot_id) {
                return failure(error);
            }
        }
        let config = self.config.current();
        let layout = self.config.layout();
        let files: Vec<FileCheck> = layout
            .files()
            .iter()
            .copied()
            .map(|file| file_check(file, self.config.file_error(file)))
            .collect();
        let path = std::env::var_os("PATH");
        let under_systemd =
            config.defaults.process_manager == crate::config::ProcessManager::Systemd;
        let mut bots: Vec<BotProblems> = config
            .bots
            .values()
            .filter(|bot| bot_id.is_none_or(|id| id == bot.bot_id))
            .map(|bot| {
                let mut problems = bot.problems.clone();
                if let Some(module) = &bot.module {
                    if launch::resolve_module(module, path.as_deref()).is_none() {
                        problems.push(format!("module {module:?} is not an executable on PATH"));
                    }
                }
                if under_systemd
                    && bot.run_mode == RunMode::Stream
                    && self.units_not_found.contains(&bot.bot_id)
                {
                    problems.push(format!(
                        "systemd does not know its unit {}: install the template unit intelmq-bot@.service (see docs/systemd.md)",
                        crate::systemd::unit_name(&bot.bot_id)
                    ));
                }
                BotProblems {
                    bot_id: bot.bot_id.clone(),
                    problems,
                }
            })
            .collect();
        for queued in config.pipeline.keys() {
            if !config.bots.contains_key(queued) && bot_id.is_none_or(|id| id == queued) {
                bots.push(BotProblems {
                    bot_id: queued.clone(),
                    problems: vec![format!(
                        "pipeline.conf has queues for {queued:?}, which is not in runtime.conf"
                    )],
                });
            }
        }
        for (tracked_id, tracked) in &self.bots {
            if !config.bots.contains_key(tracked_id)
                && tracked.snapshot().is_running()
                && bot_id.is_none_or(|id| id == tracked_id)
            {
                bots.push(BotProblems {
                    bot_id: tracked_id.clone(),
                    problems: vec![reconcile::unstable_hint(tracked_id)],
                });
            }
        }
        let valid = files.iter().all(|f| f.valid) && bots.iter().all(|b| b.problems.is_empty());
        let mut messages = self.manager_mismatches();
        if let Some(warning) = layout.ignored_warning() {
            messages.push(Message::new(Level::Warning, None, warning));
        }
        for file in files.iter().filter(|f| !f.valid) {
            let error = file.error.as_deref().unwrap_or("");
            let what = if file.file == RUNTIME_YAML_FILE {
                "yaml is bad: "
            } else {
                "json is bad: "
            };
            messages.push(Message::new(
                Level::Error,
                None,
                format!("{}: {what}{error}", file.file),
            ));
        }
        for bot in bots.iter().filter(|b| !b.problems.is_empty()) {
            messages.push(Message::new(
                Level::Error,
                Some(&bot.bot_id),
                format!(
                    "bot config of {} is bad because: {}",
                    bot.bot_id,
                    bot.problems.join("; ")
                ),
            ));
        }
        let outcome = Outcome::Configtest { valid, files, bots };
        if valid {
            messages.push(Message::new(
                Level::Info,
                None,
                "The configuration is valid.",
            ));
            return Response::success(messages, outcome);
        }
        let count = messages.len();
        Response {
            ok: false,
            messages,
            error: Some(intelmqd_proto::ErrorBody {
                kind: ErrorKind::InvalidConfig,
                message: format!(
                    "the configuration is invalid: {count} problem{} found",
                    if count == 1 { "" } else { "s" }
                ),
            }),
            result: Some(outcome),
        }
    }
}

fn file_check(file: &str, error: Option<&FileError>) -> FileCheck {
    let (line, column) = match error {
        Some(
            FileError::Syntax { line, column, .. } | FileError::YamlSyntax { line, column, .. },
        ) => (Some(*line), Some(*column)),
        _ => (None, None),
    };
    FileCheck {
        file: file.to_owned(),
        valid: error.is_none(),
        error: error.map(ToString::to_string),
        line,
        column,
    }
}

pub(super) fn failure(error: ErrorBody) -> Response {
    Response::failure(error.kind, error.message)
}
