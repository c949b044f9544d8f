//! `intelmq-bot-launcher <bot_id>`: runs one bot the way intelmqd does, for a
//! process manager that is not intelmqd (the systemd template unit of the
//! systemd process manager runs it as its `ExecStart`). It reads runtime.conf
//! (or runtime.yaml, as intelmqd does),
//! checks the bot's entry as intelmqd would, and replaces itself (`exec`) with
//! `<module> <bot_id>`, with the environment intelmqd gives its bots, so that
//! the bot is the service's main process.
//!
//! Exit codes when it cannot: 64 for a bad bot id, 78 for a configuration that
//! does not allow the bot to run (missing, invalid, scheduled, module not on
//! PATH), 126 when the module cannot be executed.

use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::Parser;
use intelmqd::config::{read_bots, ConfigStore, RunMode};
use intelmqd::launch::{bot_env, resolve_module, BotLogFiles};
use intelmqd::Paths;

/// The sysexits codes used.
const EX_USAGE: u8 = 64;
const EX_CONFIG: u8 = 78;
const CANNOT_EXECUTE: u8 = 126;

/// Run one IntelMQ bot of runtime.conf in the foreground, replacing this process.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Directory of runtime.conf.
    #[arg(long, env = "INTELMQ_CONFIG_DIR", default_value = "/etc/intelmq")]
    config_dir: PathBuf,
    /// Directory of the effective state and pid files (given to the bot).
    #[arg(long, env = "INTELMQ_STATE_DIR", default_value = "/run/intelmq")]
    state_dir: PathBuf,
    /// Directory of the bots' logs (given to the bot).
    #[arg(long, env = "INTELMQ_LOG_DIR", default_value = "/var/log/intelmq")]
    log_dir: PathBuf,
    /// The bot, as named in runtime.conf.
    bot_id: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match launch(&args) {
        Ok(never) => match never {},
        Err((code, message)) => {
            eprintln!("intelmq-bot-launcher: {message}");
            ExitCode::from(code)
        }
    }
}

enum Never {}

fn launch(args: &Args) -> Result<Never, (u8, String)> {
    let id = args.bot_id.as_str();
    intelmqd_proto::validate_bot_id(id)
        .map_err(|error| (EX_USAGE, format!("invalid bot id {id:?}: {error}")))?;
    let paths = Paths {
        config_dir: args.config_dir.clone(),
        state_dir: args.state_dir.clone(),
        log_dir: args.log_dir.clone(),
    };
    // The bot's output goes where the daemon sends it under the PID process
    // manager (`<log_dir>/<id>.log`, or `<id>.output.log` beside an IntelMQ
    // bot's own log), so that `intelmqctl log` reads the same file under both
    // managers; this launcher's own complaints land there too.
    let mut store = ConfigStore::new(&args.config_dir);
    store.refresh();
    let config = std::sync::Arc::clone(store.current());
    let files = BotLogFiles::of(&paths, id, config.bots.get(id), &config.defaults.raw);
    if let Err(error) = redirect_output(&files.output) {
        eprintln!(
            "intelmq-bot-launcher: cannot append to {}: {error}; the bot's output stays on this process's stdout and stderr",
            files.output.display()
        );
    }
    let (path, bots) =
        read_bots(&args.config_dir).map_err(|error| (EX_CONFIG, error.to_string()))?;
    let bot = bots
        .get(id)
        .ok_or_else(|| (EX_CONFIG, format!("no bot {id:?} in {}", path.display())))?;
    if !bot.is_valid() {
        return Err((
            EX_CONFIG,
            format!(
                "the configuration of {id} is invalid: {}",
                bot.problems.join("; ")
            ),
        ));
    }
    if bot.run_mode == RunMode::Scheduled {
        return Err((
            EX_CONFIG,
            format!("{id} is a scheduled bot: intelmqd's scheduler runs it, not a service"),
        ));
    }
    let module = bot.module.as_deref().unwrap_or_default();
    let executable =
        resolve_module(module, std::env::var_os("PATH").as_deref()).ok_or_else(|| {
            (
                EX_CONFIG,
                format!("module {module:?} of {id} is not an executable on PATH"),
            )
        })?;
    let error = Command::new(&executable)
        .arg(id)
        .envs(bot_env(&paths, id))
        .exec();
    Err((
        CANNOT_EXECUTE,
        format!("cannot execute {}: {error}", executable.display()),
    ))
}

/// Makes `path` (appended to, created 0640) this process's stdout and stderr,
/// which the bot inherits at exec.
fn redirect_output(path: &Path) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(path)?;
    nix::unistd::dup2_stdout(&file)?;
    nix::unistd::dup2_stderr(&file)?;
    Ok(())
}
