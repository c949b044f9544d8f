//! The daemon's own changes to runtime.conf and pipeline.conf, or to
//! runtime.yaml, one at a time: writing back the entry of a bot the operator
//! removed while it ran, setting one flag of a bot (botnet, onboot), removing
//! a forgotten bot's queues. Each change edits only the bytes it must, goes
//! through [`crate::config::write::update_file`] (atomic, with a backup, never
//! over an edit saved after it was read), and is refused when the result would
//! not parse. Which file is edited is decided per change by
//! [`Layout::detect`], as the loader decides which file is read; in
//! runtime.yaml a bot's queues are in its entry, so there is no pipeline file
//! to change.

use std::path::PathBuf;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::config::edit::{remove_member, set_member, EditError};
use crate::config::layout::Layout;
use crate::config::write::update_file;
use crate::config::yaml::{self, parse_runtime_yaml};
use crate::config::{parse_pipeline, parse_runtime, BotConfig, PIPELINE_FILE};

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
    config_dir: PathBuf,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl ConfigWriter {
    pub fn spawn(config_dir: PathBuf) -> ConfigWriter {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        let dir = config_dir.clone();
        tokio::spawn(async move {
            while let Some(job) = queue.recv().await {
                let dir = dir.clone();
                // File work blocks; one job at a time keeps our own writes
                // from racing each other.
                let _ = tokio::task::spawn_blocking(move || run(&dir, job)).await;
            }
        });
        ConfigWriter { jobs, config_dir }
    }

    /// The file that holds the bots now (runtime.conf or runtime.yaml), for
    /// messages.
    pub fn runtime_file(&self) -> &'static str {
        Layout::detect(&self.config_dir).runtime_file()
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

/// The file that holds the bots and how to edit and check it.
#[derive(Clone, Copy)]
struct RuntimeFile {
    name: &'static str,
    format: Format,
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Json,
    Yaml,
}

impl RuntimeFile {
    fn of(layout: Layout) -> RuntimeFile {
        RuntimeFile {
            name: layout.runtime_file(),
            format: match layout {
                Layout::Json => Format::Json,
                Layout::Yaml { .. } => Format::Yaml,
            },
        }
    }

    /// Reads `text` as this file; its top-level entries as JSON.
    fn entries(self, text: &str) -> Option<serde_json::Map<String, Value>> {
        match self.format {
            Format::Json => match serde_json::from_str(text) {
                Ok(Value::Object(map)) => Some(map),
                _ => None,
            },
            Format::Yaml => yaml::parse_document(text).ok(),
        }
    }

    fn validate(self, text: &str) -> Result<(), String> {
        match self.format {
            Format::Json => parse_runtime(text).map(drop),
            Format::Yaml => parse_runtime_yaml(text).map(drop),
        }
        .map_err(|error| error.to_string())
    }

    /// Sets `path` to `value` keeping the rest of the text.
    fn set(self, text: &str, path: &[&str], value: &Value) -> Result<String, EditError> {
        match self.format {
            Format::Json => set_member(text, path, value),
            Format::Yaml => yaml::edit::set_member(text, path, value).map(|edited| {
                if edited.rewritten {
                    // Flow style or a layout the span edit cannot keep: the
                    // whole file was written again as block YAML.
                    tracing::warn!(
                        "{} is written again as a whole in block style: its layout does not allow \
                         editing only {}; comments are lost (the previous version is in {}.bak)",
                        self.name,
                        path.join("."),
                        self.name
                    );
                }
                edited.text
            }),
        }
    }
}

fn run(dir: &std::path::Path, job: Job) {
    let runtime = RuntimeFile::of(Layout::detect(dir));
    match job {
        Job::Restore {
            bot_id,
            entry,
            pipeline,
            done,
        } => {
            let mut result = insert_if_missing(
                &dir.join(runtime.name),
                &bot_id,
                &entry,
                |text| runtime.entries(text),
                |text, path, value| runtime.set(text, path, value),
                |text| runtime.validate(text),
            );
            // runtime.yaml has no pipeline file: the queues came back with
            // the entry's parameters.
            let pipeline = pipeline.filter(|_| runtime.format == Format::Json);
            if let (Ok(()), Some(queues)) = (&result, pipeline) {
                result = insert_if_missing(
                    &dir.join(PIPELINE_FILE),
                    &bot_id,
                    &queues,
                    json_entries,
                    set_member,
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
            let _ = done.send(set_flag(
                runtime,
                &dir.join(runtime.name),
                &bot_id,
                key,
                value,
            ));
        }
        Job::ForgetQueues { bot_id, done } => {
            let path = dir.join(PIPELINE_FILE);
            // In runtime.yaml the queues went with the entry.
            let result = if runtime.format == Format::Json && path.exists() {
                remove_if_present(&path, &bot_id, validate_pipeline)
            } else {
                Ok(false)
            };
            let _ = done.send(result);
        }
    }
}

fn validate_pipeline(text: &str) -> Result<(), String> {
    parse_pipeline(text)
        .map(drop)
        .map_err(|error| error.to_string())
}

fn json_entries(text: &str) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

fn has_member(text: &str, bot_id: &str) -> bool {
    json_entries(text).is_some_and(|map| map.contains_key(bot_id))
}

fn insert_if_missing(
    path: &std::path::Path,
    bot_id: &str,
    entry: &Value,
    entries: impl Fn(&str) -> Option<serde_json::Map<String, Value>>,
    set: impl Fn(&str, &[&str], &Value) -> Result<String, EditError>,
    validate: impl Fn(&str) -> Result<(), String>,
) -> Result<(), String> {
    update_file(
        path,
        |text| {
            // The operator may have put it back in the meantime: theirs wins.
            if entries(text).is_some_and(|map| map.contains_key(bot_id)) {
                return Ok(text.to_owned());
            }
            set(text, &[bot_id], entry)
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

fn set_flag(
    runtime: RuntimeFile,
    path: &std::path::Path,
    bot_id: &str,
    key: &str,
    value: bool,
) -> Result<bool, String> {
    // Set by the edit, which runs again on a fresh read after a race.
    let changed = std::cell::Cell::new(false);
    update_file(
        path,
        |text| {
            let entry = runtime
                .entries(text)
                .and_then(|mut root| root.shift_remove(bot_id))
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
            runtime.set(text, &[bot_id, key], &Value::Bool(value))
        },
        |text| runtime.validate(text),
    )
    .map_err(|error| error.to_string())?;
    Ok(changed.get())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::write::backup_path;
    use crate::config::RUNTIME_YAML_FILE;
    use serde_json::json;

    const RUNTIME_YAML: &str = "\
# Managed by hand and by intelmqd.
my-bot:
  enabled: true
  module: intelmq-testbot   # the fake bot
  parameters:
    destination_queues:
      _default:
      - next-queue
  run_mode: continuous
global:
  process_manager: pid
";

    fn config_dir() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RUNTIME_YAML_FILE);
        std::fs::write(&path, RUNTIME_YAML).unwrap();
        (dir, path)
    }

    /// Runs one job as the writer task does and returns its result.
    fn run_job<T>(
        dir: &std::path::Path,
        job: impl FnOnce(oneshot::Sender<Result<T, String>>) -> Job,
    ) -> Result<T, String> {
        let (done, mut result) = oneshot::channel();
        run(dir, job(done));
        result.try_recv().expect("the job answered")
    }

    #[test]
    fn a_flag_is_set_in_runtime_yaml_keeping_every_other_byte() {
        let (dir, path) = config_dir();
        let changed = run_job(dir.path(), |done| Job::SetFlag {
            bot_id: "my-bot".into(),
            key: "onboot",
            value: true,
            done,
        });
        assert_eq!(changed, Ok(true));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            RUNTIME_YAML.replacen(
                "  run_mode: continuous\n",
                "  run_mode: continuous\n  onboot: true\n",
                1
            )
        );
        assert_eq!(
            std::fs::read_to_string(backup_path(&path)).unwrap(),
            RUNTIME_YAML
        );
        // botnet reads IntelMQ's enabled: already true, nothing written.
        let changed = run_job(dir.path(), |done| Job::SetFlag {
            bot_id: "my-bot".into(),
            key: "botnet",
            value: true,
            done,
        });
        assert_eq!(changed, Ok(false));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        assert!(!dir.path().join("runtime.conf").exists());
    }

    #[test]
    fn a_removed_entry_is_written_back_into_runtime_yaml() {
        let (dir, path) = config_dir();
        let parsed = crate::config::yaml::parse_document(RUNTIME_YAML).unwrap();
        let entry = parsed["my-bot"].clone();
        let without = RUNTIME_YAML.replacen(
            "my-bot:\n  enabled: true\n  module: intelmq-testbot   # the fake bot\n  parameters:\n    destination_queues:\n      _default:\n      - next-queue\n  run_mode: continuous\n",
            "",
            1,
        );
        std::fs::write(&path, &without).unwrap();
        let restored = run_job(dir.path(), |done| Job::Restore {
            bot_id: "my-bot".into(),
            entry: entry.clone(),
            pipeline: Some(json!({"source-queue": "my-bot-queue"})),
            done,
        });
        assert_eq!(restored, Ok(()));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(&without), "{text}");
        let reread = crate::config::yaml::parse_document(&text).unwrap();
        assert_eq!(reread["my-bot"], entry);
        assert_eq!(
            std::fs::read_to_string(backup_path(&path)).unwrap(),
            without
        );
        // No pipeline.conf in the YAML layout: the queues are in the entry.
        assert!(!dir.path().join(PIPELINE_FILE).exists());
        let forgotten = run_job(dir.path(), |done| Job::ForgetQueues {
            bot_id: "my-bot".into(),
            done,
        });
        assert_eq!(forgotten, Ok(false));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn a_yaml_file_with_an_error_is_not_written() {
        let (dir, path) = config_dir();
        let broken = format!("{RUNTIME_YAML}other: [\n");
        std::fs::write(&path, &broken).unwrap();
        let result = run_job(dir.path(), |done| Job::SetFlag {
            bot_id: "my-bot".into(),
            key: "onboot",
            value: true,
            done,
        });
        let error = result.unwrap_err();
        assert!(error.contains("runtime.yaml"), "{error}");
        assert!(error.contains("not valid YAML"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
        assert!(!backup_path(&path).exists());
    }
}
