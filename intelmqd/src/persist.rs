//! The writer of the effective state. The supervisor hands it the latest
//! snapshot of the bot table; it writes the newest one it has (so a burst of
//! changes costs a few writes, not one each) and publishes which generation is
//! on disk, so that an action can be answered once its result is durable.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use crate::effective::{self, EffectiveState};
use crate::fsutil::write_atomic;

/// One version of the state to write.
#[derive(Debug, Default)]
pub struct Job {
    pub generation: u64,
    pub state: EffectiveState,
}

/// The last write: which generation, and its error if it failed.
#[derive(Debug, Clone, Default)]
struct Written {
    generation: u64,
    error: Option<String>,
}

/// The supervisor's side of the writer.
#[derive(Debug)]
pub struct Persister {
    jobs: watch::Sender<Arc<Job>>,
    written: watch::Receiver<Written>,
    generation: u64,
}

impl Persister {
    pub fn spawn(state_dir: PathBuf, tracker: &TaskTracker) -> Persister {
        let (jobs, mut pending) = watch::channel(Arc::new(Job::default()));
        let (done, written) = watch::channel(Written::default());
        tracker.spawn(async move {
            // Ends when the supervisor drops its sender, after the last write.
            while pending.changed().await.is_ok() {
                let job = Arc::clone(&pending.borrow_and_update());
                let path = effective::path(&state_dir);
                let bytes = effective::encode(&job.state);
                let result =
                    tokio::task::spawn_blocking(move || write_atomic(&path, &bytes, 0o600)).await;
                let error = match result {
                    Ok(Ok(())) => None,
                    Ok(Err(error)) => Some(format!(
                        "cannot write the effective state to {}: {error}; the previous version is kept",
                        effective::path(&state_dir).display()
                    )),
                    Err(error) => Some(format!("the state writer failed: {error}")),
                };
                if let Some(error) = &error {
                    tracing::error!("{error}");
                }
                // Published after a failed write too, so that no answer waits
                // forever: it carries the error, and the next change retries.
                let _ = done.send(Written {
                    generation: job.generation,
                    error,
                });
            }
        });
        Persister {
            jobs,
            written,
            generation: 0,
        }
    }

    /// Queues `state` for writing; returns its generation.
    pub fn publish(&mut self, state: EffectiveState) -> u64 {
        self.generation += 1;
        let _ = self.jobs.send(Arc::new(Job {
            generation: self.generation,
            state,
        }));
        self.generation
    }

    /// The newest generation handed to the writer.
    pub fn latest(&self) -> u64 {
        self.generation
    }

    /// A future that resolves once `generation` (or a later one) was
    /// written, with the error if that write failed.
    pub fn written(
        &self,
        generation: u64,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send + 'static {
        let mut written = self.written.clone();
        async move {
            match written.wait_for(|done| done.generation >= generation).await {
                Ok(done) => done.error.clone().map_or(Ok(()), Err),
                Err(_) => Err("the state writer stopped".to_owned()),
            }
        }
    }
}
