//! The exit codes of `intelmqctl`: fixed, documented, and the same for humans and
//! for `--json`. `debug` is the exception once the bot runs: it exits with the
//! bot's own code.

/// The request was carried out (or there was nothing to do).
pub const SUCCESS: u8 = 0;
/// The daemon answered `ok: false`: unknown bot, the action failed, a conflict…
/// Also used when `debug` cannot start the bot's executable.
pub const FAILED: u8 = 1;
/// A usage error: clap's own, or an invalid bot id (nothing was sent).
pub const USAGE: u8 = 2;
/// The daemon cannot be reached: no socket, connection refused, or the
/// connection was closed before the answer.
pub const UNREACHABLE: u8 = 3;
/// The daemon's answer cannot be understood: not JSON, another protocol
/// version, a reply to another request, or an answer of the wrong kind.
pub const PROTOCOL: u8 = 4;
/// `debug`: a bot killed by signal `n` makes the client exit with `128 + n`.
pub const SIGNAL_BASE: u8 = 128;

/// The exit codes as the help text shows them.
pub const HELP: &str = "\
Exit codes:
  0  success (also when there was nothing to do, e.g. the bot was already running)
  1  the daemon answered with an error (unknown bot, the action failed, ...)
  2  usage error (bad arguments, invalid bot id); nothing was sent
  3  intelmqd cannot be reached (no socket, connection refused or closed)
  4  protocol error (an answer intelmqctl cannot read; versions differ?)
  debug exits with the bot's exit code, or 128+N if a signal N killed it.";
