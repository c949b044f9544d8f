//! The daemon's own changes to runtime.conf and pipeline.conf, one at a time:
//! writing back the entry of a bot the operator removed while it ran, and
//! setting one flag of a bot (botnet, onboot). Each change edits only the bytes
//! it must, goes through [`crate::config::write::update_file`] (atomic, with a
//! backup, never over an edit saved after it was read), and is refused when the
//! result would not parse.

use std::path::PathBuf;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::config::edit::{remove_member, set_member};
use crate::config::write::update_file;
use crate::config::{parse_pipeline, parse_runtime, BotConfig, PIPELINE_FILE, RUNTIME_FILE};

enum Job {
    Restore {
        bot_id: String,
        entry: Value,
        pipeline: Option<Value>,
        done: oneshot::Sender<Result<(), String>>,
    },
    SetFlag {
        bot_id: String,
        key: &'static str,
        value: bool,
        done: oneshot::Sender<Result<bool, String>>,
    },
    ForgetQueues {
        bot_id: String,
        done: oneshot::Sender<Result<bool, String>>,
    },
}

/// A handle on the writer task.
#[derive(Debug, Clone)]
pub struct ConfigWriter {
    jobs: mpsc::UnboundedSender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl ConfigWriter {
    pub fn spawn(config_dir: PathBuf) -> ConfigWriter {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        tokio::spawn(async move {
            while let Some(job) = queue.recv().await {
                let dir = config_dir.clone();
                // File work blocks; one job at a time keeps our own writes
                // from racing each other.
                let _ = tokio::task::spawn_blocking(move || run(&dir, job)).await;
            }
        });
        ConfigWriter { jobs }
    }

    /// Writes `entry` back into runtime.conf under `bot_id`, and its queues
    /// into pipeline.conf, each only where it is missing.
    pub async fn restore(
        &self,
        bot_id: &str,
        entry: Value,
        pipeline: Option<Value>,
    ) -> Result<(), String> {
        let bot_id = bot_id.to_owned();
        self.submit(|done| Job::Restore {
            bot_id,
            entry,
            pipeline,
            done,
        })
        .await
    }

    /// Removes `bot_id`'s queues from pipeline.conf; returns whether it had any.
    pub async fn forget_queues(&self, bot_id: &str) -> Result<bool, String> {
        let bot_id = bot_id.to_owned();
        self.submit(|done| Job::ForgetQueues { bot_id, done }).await
    }

    /// Sets `key` of `bot_id`'s entry in runtime.conf to `value`; returns
    /// whether the file changed.
    pub async fn set_flag(
        &self,
        bot_id: &str,
        key: &'static str,
        value: bool,
    ) -> Result<bool, String> {
        let bot_id = bot_id.to_owned();
        self.submit(|done| Job::SetFlag {
            bot_id,
            key,
            value,
            done,
        })
        .await
    }

    /// Queues a job and waits for its result.
    async fn submit<T>(
        &self,
        job: impl FnOnce(oneshot::Sender<Result<T, String>>) -> Job,
    ) -> Result<T, String> {
        let (done, result) = oneshot::channel();
        if self.jobs.send(job(done)).is_err() {
            return Err("the daemon is shutting down".into());
        }
        result
            .await
            .unwrap_or_else(|_| Err("the configuration writer stopped".into()))
    }
}

fn run(dir: &std::path::Path, job: Job) {
    match job {
        Job::Restore {
            bot_id,
            entry,
            pipeline,
            done,
        } => {
            let mut result =
                insert_if_missing(&dir.join(RUNTIME_FILE), &bot_id, &entry, validate_runtime);
            if let (Ok(()), Some(queues)) = (&result, pipeline) {
                result = insert_if_missing(
                    &dir.join(PIPELINE_FILE),
                    &bot_id,
                    &queues,
                    validate_pipeline,
                );
            }
            let _ = done.send(result);
        }
        Job::SetFlag {
            bot_id,
            key,
            value,
            done,
        } => {
            let _ = done.send(set_flag(&dir.join(RUNTIME_FILE), &bot_id, key, value));
        }
        Job::ForgetQueues { bot_id, done } => {
            let path = dir.join(PIPELINE_FILE);
            let result = if path.exists() {
                remove_if_present(&path, &bot_id, validate_pipeline)
            } else {
                Ok(false)
            };
            let _ = done.send(result);
        }
    }
}

fn validate_runtime(text: &str) -> Result<(), String> {
    parse_runtime(text)
        .map(drop)
        .map_err(|error| error.to_string())
}

fn validate_pipeline(text: &str) -> Result<(), String> {
    parse_pipeline(text)
        .map(drop)
        .map_err(|error| error.to_string())
}

fn has_member(text: &str, bot_id: &str) -> bool {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|value| value.get(bot_id).cloned())
        .is_some()
}

fn insert_if_missing(
    path: &std::path::Path,
    bot_id: &str,
    entry: &Value,
    validate: fn(&str) -> Result<(), String>,
) -> Result<(), String> {
    update_file(
        path,
        |text| {
            // The operator may have put it back in the meantime: theirs wins.
            if has_member(text, bot_id) {
                return Ok(text.to_owned());
            }
            set_member(text, &[bot_id], entry)
        },
        validate,
    )
    .map(drop)
    .map_err(|error| error.to_string())
}

fn remove_if_present(
    path: &std::path::Path,
    bot_id: &str,
    validate: fn(&str) -> Result<(), String>,
) -> Result<bool, String> {
    let removed = std::cell::Cell::new(false);
    update_file(
        path,
        |text| {
            removed.set(has_member(text, bot_id));
            if !removed.get() {
                return Ok(text.to_owned());
            }
            remove_member(text, &[bot_id])
        },
        validate,
    )
    .map_err(|error| error.to_string())?;
    Ok(removed.get())
}

fn set_flag(path: &std::path::Path, bot_id: &str, key: &str, value: bool) -> Result<bool, String> {
    // Set by the edit, which runs again on a fresh read after a race.
    let changed = std::cell::Cell::new(false);
    update_file(
        path,
        |text| {
            let entry = serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|root| root.get(bot_id).cloned())
                .unwrap_or(Value::Null);
            // What the flag means now, read as the daemon reads the entry
            // (an absent botnet is IntelMQ's `enabled`, an absent onboot false).
            let config = BotConfig::from_entry(bot_id, entry);
            let current = match key {
                "botnet" => config.botnet,
                _ => config.onboot,
            };
            changed.set(current != value);
            if !changed.get() {
                return Ok(text.to_owned());
            }
            set_member(text, &[bot_id, key], &Value::Bool(value))
        },
        validate_runtime,
    )
    .map_err(|error| error.to_string())?;
    Ok(changed.get())
}
