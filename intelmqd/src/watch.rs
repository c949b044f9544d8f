//! Watching the configuration directory, so that an operator's edit of
//! runtime.conf, defaults.conf, pipeline.conf or runtime.yaml is seen within a
//! second: the
//! supervisor re-reads the file, says in its log what changed or what is wrong,
//! and keeps the last good configuration. Watching never acts on a bot.
//!
//! The directory is watched, not the files: an editor that saves by writing a
//! new file and renaming it over the old one replaces the inode a file watch
//! would be on. Events are gathered until the directory has been quiet for a
//! moment, so a file is not read half-written.

use std::path::Path;
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{DEFAULTS_FILE, PIPELINE_FILE, RUNTIME_FILE, RUNTIME_YAML_FILE};
use crate::supervisor::SupervisorHandle;

/// How long the directory must be quiet before the files are read.
const SETTLE: Duration = Duration::from_millis(100);

/// Watches `config_dir` until `shutdown`; `None` (with the reason logged)
/// when the directory cannot be watched, in which case files are still read
/// before every request.
pub fn spawn(
    config_dir: &Path,
    supervisor: SupervisorHandle,
    shutdown: CancellationToken,
) -> Option<RecommendedWatcher> {
    let (events, mut changed) = mpsc::unbounded_channel();
    let handler = move |event: notify::Result<notify::Event>| match event {
        Ok(event) if event.paths.iter().any(|path| is_config_file(path)) => {
            let _ = events.send(());
        }
        Ok(_) => {}
        Err(error) => tracing::warn!("watching the configuration failed: {error}"),
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(watcher) => watcher,
        Err(error) => {
            tracing::warn!(
                "cannot watch the configuration: {error}; it is read before every request"
            );
            return None;
        }
    };
    if let Err(error) = watcher.watch(config_dir, RecursiveMode::NonRecursive) {
        tracing::warn!(
            "cannot watch {}: {error}; the configuration is read before every request",
            config_dir.display()
        );
        return None;
    }
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                event = changed.recv() => if event.is_none() { return },
            }
            // Let a burst of events (truncate, write, rename) settle first.
            while let Ok(Some(())) = tokio::time::timeout(SETTLE, changed.recv()).await {}
            supervisor.config_changed();
        }
    });
    Some(watcher)
}

fn is_config_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| {
            [
                RUNTIME_FILE,
                DEFAULTS_FILE,
                PIPELINE_FILE,
                RUNTIME_YAML_FILE,
            ]
            .contains(&name)
        })
}
