//! intelmqd: the supervisor daemon of IntelMQ bots.
//!
//! The binary is thin: it parses flags into [`Paths`], binds the control socket
//! with [`control::bind`] and calls [`run`]. Inside, one task owns the state
//! ([`supervisor`]), one task per bot owns its process ([`bot`]), one task per
//! client connection speaks the protocol ([`control`]), and one task writes the
//! effective state ([`persist`]). `docs/architecture.md` draws the picture.

pub mod access;
pub mod actions;
pub mod adopt;
pub mod asker;
pub mod backend;
pub mod bot;
pub mod cli;
pub mod config;
pub mod control;
pub mod cron;
pub mod effective;
pub mod events;
pub mod fsutil;
pub mod launch;
pub mod logtail;
pub mod metrics;
pub mod metrics_http;
pub mod persist;
pub mod pidfile;
pub mod plan;
pub mod process;
pub mod reconcile;
pub mod say;
pub mod status;
pub mod supervisor;
pub mod systemd;
pub mod watch;
pub mod writer;

use std::path::PathBuf;

use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Where the daemon reads and writes.
#[derive(Debug, Clone)]
pub struct Paths {
    /// runtime.conf, defaults.conf, pipeline.conf.
    pub config_dir: PathBuf,
    /// The effective state and the pid files.
    pub state_dir: PathBuf,
    /// One `<bot_id>.log` a bot.
    pub log_dir: PathBuf,
}

/// Runs the daemon on a bound listener until `shutdown` is cancelled. Bots
/// keep running after it returns; the next daemon adopts them. `on_ready` is
/// called once, when the configuration is loaded, the bots that still run are
/// adopted and requests on the socket are about to be served (the binary tells
/// systemd then).
pub async fn run(
    paths: Paths,
    listener: UnixListener,
    access: access::Access,
    metrics: Option<tokio::net::TcpListener>,
    shutdown: CancellationToken,
    on_ready: impl FnOnce(),
) {
    let tracker = TaskTracker::new();
    let config_dir = paths.config_dir.clone();
    let events = events::EventBus::default();
    let stats = std::sync::Arc::new(control::ConnectionStats::default());
    let supervisor = supervisor::Supervisor::spawn(
        paths,
        events,
        std::sync::Arc::clone(&stats),
        &tracker,
        shutdown.clone(),
    );
    // Dropping the watcher ends the watch; it lives as long as the daemon serves.
    let _watcher = watch::spawn(&config_dir, supervisor.clone(), shutdown.clone());
    if let Some(metrics) = metrics {
        tracker.spawn(metrics_http::serve(
            metrics,
            supervisor.clone(),
            tracker.clone(),
            shutdown.clone(),
        ));
    }
    tracing::info!("ready");
    on_ready();
    control::serve(
        listener,
        supervisor,
        access,
        stats,
        tracker.clone(),
        shutdown,
    )
    .await;
    tracker.close();
    tracker.wait().await;
}
