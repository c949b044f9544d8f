//! The configuration the daemon acts on: the last good reading of the three
//! JSON files or of runtime.yaml (whichever [`Layout`] the config dir has),
//! re-read when a file's identity or timestamps change, kept when a new
//! reading is bad.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::layout::Layout;
use super::yaml::{parse_runtime_yaml, RuntimeYaml};
use super::{
    parse_defaults, parse_pipeline, parse_runtime, Config, FileError, DEFAULTS_FILE, PIPELINE_FILE,
    RUNTIME_FILE, RUNTIME_YAML_FILE,
};

/// What identifies one version of a file on disk. An editor's rename-over
/// changes the inode, an in-place write the size or mtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

fn fingerprint(path: &Path) -> Option<Fingerprint> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Fingerprint {
        dev: meta.dev(),
        ino: meta.ino(),
        size: meta.size(),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
    })
}

/// What a refresh found, for the log and for the client that is waiting.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigNotice {
    /// A file was read and is now in use.
    Loaded { file: &'static str },
    /// A file is missing; its defaults are used.
    Missing { file: &'static str },
    /// A file was rejected; the last good reading stays in use.
    Rejected { error: FileError },
    /// The config dir changed format: `file` holds the bots from now on.
    Source { file: &'static str },
    /// A file lies in the config dir but is not read.
    Ignored { warning: String },
}

impl ConfigNotice {
    /// Whether the bots were (re)read: runtime.conf or runtime.yaml.
    pub fn bots_read(&self) -> bool {
        matches!(self, ConfigNotice::Loaded { file } | ConfigNotice::Missing { file }
            if *file == RUNTIME_FILE || *file == RUNTIME_YAML_FILE)
    }
}

impl std::fmt::Display for ConfigNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigNotice::Loaded { file } => write!(f, "{file} read"),
            ConfigNotice::Missing { file } => {
                write!(
                    f,
                    "{file} does not exist; using an empty configuration for it"
                )
            }
            ConfigNotice::Rejected { error } => {
                write!(f, "{error}; keeping the last good configuration")
            }
            ConfigNotice::Source { file: RUNTIME_YAML_FILE } => write!(
                f,
                "the configuration is read from {RUNTIME_YAML_FILE} (IntelMQ 3.x: its global \
                 section and the bots, queues in their parameters; no defaults.conf or pipeline.conf)"
            ),
            ConfigNotice::Source { file } => write!(
                f,
                "the configuration is read from {file}, {DEFAULTS_FILE} and {PIPELINE_FILE}"
            ),
            ConfigNotice::Ignored { warning } => f.write_str(warning),
        }
    }
}

#[derive(Debug, Default)]
struct FileState {
    seen: Option<Option<Fingerprint>>,
    error: Option<FileError>,
}

/// Owns the current configuration. Only the supervisor holds one.
#[derive(Debug)]
pub struct ConfigStore {
    dir: PathBuf,
    current: Arc<Config>,
    /// The format last read; `None` before the first refresh.
    layout: Option<Layout>,
    runtime: FileState,
    defaults: FileState,
    pipeline: FileState,
}

impl ConfigStore {
    pub fn new(dir: &Path) -> ConfigStore {
        ConfigStore {
            dir: dir.to_owned(),
            current: Arc::new(Config::default()),
            layout: None,
            runtime: FileState::default(),
            defaults: FileState::default(),
            pipeline: FileState::default(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn current(&self) -> &Arc<Config> {
        &self.current
    }

    /// The format of the config dir at the last refresh.
    pub fn layout(&self) -> Layout {
        self.layout.unwrap_or(Layout::Json)
    }

    /// The file that holds the bots (runtime.conf or runtime.yaml), for
    /// messages.
    pub fn runtime_file(&self) -> &'static str {
        self.layout().runtime_file()
    }

    /// Why `file` is currently rejected, if it is.
    pub fn file_error(&self, file: &str) -> Option<&FileError> {
        match file {
            RUNTIME_FILE | RUNTIME_YAML_FILE => self.runtime.error.as_ref(),
            DEFAULTS_FILE => self.defaults.error.as_ref(),
            PIPELINE_FILE => self.pipeline.error.as_ref(),
            _ => None,
        }
    }

    /// The errors of files currently rejected, one line each.
    pub fn file_errors(&self) -> Vec<String> {
        [&self.runtime, &self.defaults, &self.pipeline]
            .into_iter()
            .filter_map(|state| state.error.as_ref().map(ToString::to_string))
            .collect()
    }

    /// Re-reads every file whose fingerprint changed since the last reading.
    /// Costs three `stat` calls when nothing changed.
    pub fn refresh(&mut self) -> Vec<ConfigNotice> {
        let mut notices = Vec::new();
        let layout = Layout::detect(&self.dir);
        if self.layout != Some(layout) {
            let first = self.layout.is_none();
            let format_changed =
                self.layout.map(Layout::runtime_file) != Some(layout.runtime_file());
            if format_changed {
                // Everything is read afresh from the other files.
                self.runtime = FileState::default();
                self.defaults = FileState::default();
                self.pipeline = FileState::default();
                if !first || layout != Layout::Json {
                    notices.push(ConfigNotice::Source {
                        file: layout.runtime_file(),
                    });
                }
            }
            if let Some(warning) = layout.ignored_warning() {
                notices.push(ConfigNotice::Ignored { warning });
            }
            self.layout = Some(layout);
        }
        if layout != Layout::Json {
            self.refresh_yaml(&mut notices);
            return notices;
        }
        let bots = reread(
            &self.dir,
            RUNTIME_FILE,
            &mut self.runtime,
            parse_runtime,
            &mut notices,
        );
        let defaults = reread(
            &self.dir,
            DEFAULTS_FILE,
            &mut self.defaults,
            parse_defaults,
            &mut notices,
        );
        let pipeline = reread(
            &self.dir,
            PIPELINE_FILE,
            &mut self.pipeline,
            parse_pipeline,
            &mut notices,
        );
        if bots.is_some() || defaults.is_some() || pipeline.is_some() {
            let mut config = (*self.current).clone();
            if let Some(bots) = bots {
                config.bots = bots;
            }
            if let Some(defaults) = defaults {
                config.defaults = defaults;
            }
            if let Some(pipeline) = pipeline {
                config.pipeline = pipeline;
            }
            self.current = Arc::new(config);
        }
        notices
    }
}

impl ConfigStore {
    /// runtime.yaml holds the bots and the defaults; there is no pipeline
    /// file (the queues are in the bots' parameters).
    fn refresh_yaml(&mut self, notices: &mut Vec<ConfigNotice>) {
        let parse = |text: &str| parse_runtime_yaml(text);
        let read: Option<RuntimeYaml> = reread(
            &self.dir,
            RUNTIME_YAML_FILE,
            &mut self.runtime,
            parse,
            notices,
        );
        if let Some(read) = read {
            let mut config = (*self.current).clone();
            config.bots = read.bots;
            config.defaults = read.defaults;
            config.pipeline = serde_json::Map::new();
            self.current = Arc::new(config);
        }
    }
}

/// Reads and parses a file if it changed; returns the new value when it was
/// accepted. A missing file parses as `{}`.
fn reread<T>(
    dir: &Path,
    file: &'static str,
    state: &mut FileState,
    parse: fn(&str) -> Result<T, FileError>,
    notices: &mut Vec<ConfigNotice>,
) -> Option<T> {
    let text = read_if_changed(dir, file, state)?;
    let missing = matches!(text, Ok(None));
    match text.and_then(|text| parse(text.as_deref().unwrap_or("{}"))) {
        Ok(value) => {
            state.error = None;
            notices.push(if missing {
                ConfigNotice::Missing { file }
            } else {
                ConfigNotice::Loaded { file }
            });
            Some(value)
        }
        Err(error) => {
            state.error = Some(error.clone());
            notices.push(ConfigNotice::Rejected { error });
            None
        }
    }
}

/// Reads a file when its fingerprint differs from the one last seen.
/// `Ok(None)` means the file does not exist.
fn read_if_changed(
    dir: &Path,
    file: &'static str,
    state: &mut FileState,
) -> Option<Result<Option<String>, FileError>> {
    let path = dir.join(file);
    let before = fingerprint(&path);
    if state.seen == Some(before) {
        return None;
    }
    // Recorded before reading: a write that races the read changes the
    // fingerprint again, so the next refresh reads the file once more.
    state.seen = Some(before);
    if before.is_none() {
        return Some(Ok(None));
    }
    Some(match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(FileError::Unreadable {
            file,
            message: error.to_string(),
        }),
    })
}
