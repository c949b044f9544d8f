//! `intelmqd`: parse flags, set up logging and signals, bind, run; tell
//! systemd (`Type=notify`) when the daemon is ready and when it stops.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use intelmqd::cli::Args;
use sd_notify::NotifyState;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("INTELMQD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(false)
        .init();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("intelmqd: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    for (what, dir) in [("state", &args.state_dir), ("log", &args.log_dir)] {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the {what} dir {}", dir.display()))?;
    }
    if let Some(parent) = args.socket.parent() {
        create_socket_dir(parent)?;
    }
    let access = intelmqd::access::Access::new(args.socket_group.as_deref())
        .map_err(anyhow::Error::msg)
        .context("--socket-group")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = intelmqd::control::bind(&args.socket, &access)?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
        let shutdown = CancellationToken::new();
        let stopper = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = terminate.recv() => tracing::info!("SIGTERM received, shutting down; bots keep running"),
                _ = interrupt.recv() => tracing::info!("SIGINT received, shutting down; bots keep running"),
            }
            notify_systemd(&[
                NotifyState::Stopping,
                NotifyState::Status("stopping; the bots keep running"),
            ]);
            stopper.cancel();
        });
        tracing::info!(
            config_dir = %args.config_dir.display(),
            state_dir = %args.state_dir.display(),
            log_dir = %args.log_dir.display(),
            socket = %args.socket.display(),
            allowed = %access.describe(),
            "intelmqd {} starting",
            env!("CARGO_PKG_VERSION")
        );
        let paths = intelmqd::Paths {
            config_dir: args.config_dir.clone(),
            state_dir: args.state_dir.clone(),
            log_dir: args.log_dir.clone(),
        };
        let metrics = match args.metrics_address {
            None => None,
            Some(address) => {
                let address = intelmqd::metrics_http::check_address(address)
                    .map_err(anyhow::Error::msg)?;
                let listener = tokio::net::TcpListener::bind(address)
                    .await
                    .with_context(|| format!("cannot listen on --metrics-address {address}"))?;
                let bound = listener.local_addr().unwrap_or(address);
                tracing::info!("serving metrics on http://{bound}/metrics");
                Some(listener)
            }
        };
        let ready_status = format!("ready; serving {}", args.socket.display());
        intelmqd::run(paths, listener, access, metrics, shutdown, || {
            notify_systemd(&[NotifyState::Ready, NotifyState::Status(&ready_status)]);
        })
        .await;
        let _ = std::fs::remove_file(&args.socket);
        tracing::info!("stopped");
        anyhow::Ok(())
    })
}

/// Tells the service manager of a `Type=notify` unit about the daemon; does
/// nothing where `NOTIFY_SOCKET` is not set (not started by systemd). A
/// failure is logged only: the daemon serves its socket all the same.
fn notify_systemd(states: &[NotifyState]) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!("cannot notify systemd: {error}");
    }
}

/// Creates the socket's directory, mode 0755 whatever the umask, so that the
/// socket file's own mode and group decide who can connect. An existing
/// directory is used as it is, unless anyone may write to it without the
/// sticky bit: then another user could replace the socket.
fn create_socket_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    match std::fs::metadata(dir) {
        Ok(meta) => {
            let mode = meta.permissions().mode();
            if mode & 0o002 != 0 && mode & 0o1000 == 0 {
                anyhow::bail!(
                    "the socket's dir {} is writable by everyone (mode {:o}); use a directory only root or the daemon's user may write to",
                    dir.display(),
                    mode & 0o7777
                );
            }
            Ok(())
        }
        Err(_) => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .with_context(|| format!("cannot create the socket's dir {}", dir.display()))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("cannot set the mode of {}", dir.display()))
        }
    }
}
