//! The daemon's command line, in the library so that the man page and the
//! shell completions can be generated from it (`intelmqd-gen-docs`).

use std::path::PathBuf;

use clap::Parser;

/// Supervisor daemon for IntelMQ bots.
///
/// Runs in the foreground and logs to stderr (one line an event, for journald).
/// It starts, stops, reloads and watches the bots of runtime.conf on request of
/// `intelmqctl` over its control socket. Stopping the daemon leaves the bots
/// running; the next daemon adopts them.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
pub struct Args {
    /// Directory of runtime.conf, defaults.conf and pipeline.conf.
    #[arg(long, env = "INTELMQ_CONFIG_DIR", default_value = "/etc/intelmq")]
    pub config_dir: PathBuf,
    /// Directory of the effective state and the pid files.
    #[arg(long, env = "INTELMQ_STATE_DIR", default_value = "/run/intelmq")]
    pub state_dir: PathBuf,
    /// Directory of the bots' logs, one <bot_id>.log a bot.
    #[arg(long, env = "INTELMQ_LOG_DIR", default_value = "/var/log/intelmq")]
    pub log_dir: PathBuf,
    /// The control socket.
    #[arg(
        long,
        env = "INTELMQ_SOCKET",
        default_value = "/run/intelmq/intelmqd.sock"
    )]
    pub socket: PathBuf,
    /// The group whose members may use the control socket, besides root and
    /// the daemon's own user [default: intelmq, where that group exists].
    #[arg(long, env = "INTELMQ_SOCKET_GROUP", value_name = "GROUP")]
    pub socket_group: Option<String>,
    /// Also serve the metrics over HTTP (GET /metrics) on this loopback
    /// address, e.g. 127.0.0.1:9120.
    #[arg(long, env = "INTELMQD_METRICS_ADDRESS", value_name = "ADDRESS")]
    pub metrics_address: Option<std::net::SocketAddr>,
}
