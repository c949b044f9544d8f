//! `debug`: run a bot in the client's own foreground, after the daemon said it
//! is not running and how to run it. The bot inherits the terminal; Ctrl+C (and
//! Ctrl+\) reach it from the terminal while the client ignores them, and the
//! client exits with the bot's exit code, or 128+signal.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};

use nix::sys::signal::{signal, SigHandler, Signal};

use crate::exit;

/// Runs `<executable> <bot_id>` with `env` added to this process's environment
/// and returns the exit code for the client. Errors say why the bot could not
/// be started.
pub fn run(executable: &str, bot_id: &str, env: &[(String, String)]) -> Result<u8, String> {
    let mut child = Command::new(executable)
        .arg(bot_id)
        .envs(env.iter().map(|(key, value)| (key, value)))
        .spawn()
        .map_err(|error| {
            format!("cannot run {executable:?} for bot {bot_id:?}: {error}; check the bot's module and intelmqd's PATH")
        })?;
    // Ignored only after the spawn: an ignored signal stays ignored across exec,
    // and the bot must still die of Ctrl+C. The client exits right after the
    // bot, so nothing is restored.
    ignore(Signal::SIGINT);
    ignore(Signal::SIGQUIT);
    let status = child
        .wait()
        .map_err(|error| format!("cannot wait for bot {bot_id:?}: {error}"))?;
    Ok(exit_code(status))
}

fn ignore(sig: Signal) {
    // SAFETY: installing SIG_IGN runs no code in the signal context, and this
    // process has no other handler for these signals that could be replaced.
    // Failure (impossible for these signals) would only mean that Ctrl+C ends
    // the client along with the bot.
    let _ = unsafe { signal(sig, SigHandler::SigIgn) };
}

/// The bot's exit code, 128+N for a bot killed by signal N.
pub fn exit_code(status: ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code).unwrap_or(exit::FAILED);
    }
    match status.signal() {
        Some(number) => u8::try_from(number)
            .ok()
            .and_then(|number| exit::SIGNAL_BASE.checked_add(number))
            .unwrap_or(exit::FAILED),
        None => exit::FAILED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(0)), 0);
        assert_eq!(exit_code(ExitStatus::from_raw(6)), 134);
        assert_eq!(exit_code(ExitStatus::from_raw(9)), 137);
    }
}
