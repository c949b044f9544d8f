//! Which files of a config dir hold the configuration: the spec's JSON files
//! (`runtime.conf`, `defaults.conf`, `pipeline.conf`) or IntelMQ 3.x's single
//! `runtime.yaml`. Decided afresh on every look, so that an operator can move
//! from one to the other while the daemon runs.
//!
//! Decision: where `runtime.yaml` exists it is used, also when `runtime.conf`
//! is there too. IntelMQ 3 bots read `runtime.yaml`, so it is the file that
//! describes the bots that actually run; the other file is reported as
//! ignored (daemon log and `configtest`) rather than merged.

use std::path::Path;

use super::{DEFAULTS_FILE, PIPELINE_FILE, RUNTIME_FILE, RUNTIME_YAML_FILE};

/// The format of the configuration in one config dir.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// runtime.conf, defaults.conf and pipeline.conf.
    Json,
    /// runtime.yaml: its `global:` section and the bots, queues in their
    /// parameters. `runtime_conf_ignored` says a runtime.conf lies beside it.
    Yaml { runtime_conf_ignored: bool },
}

impl Layout {
    /// Looks at `dir`: runtime.yaml if it exists (even as a dangling link,
    /// which then reads as an error rather than silently as runtime.conf).
    pub fn detect(dir: &Path) -> Layout {
        let exists = |name: &str| std::fs::symlink_metadata(dir.join(name)).is_ok();
        if exists(RUNTIME_YAML_FILE) {
            Layout::Yaml {
                runtime_conf_ignored: exists(RUNTIME_FILE),
            }
        } else {
            Layout::Json
        }
    }

    /// The file that holds the bots.
    pub fn runtime_file(self) -> &'static str {
        match self {
            Layout::Json => RUNTIME_FILE,
            Layout::Yaml { .. } => RUNTIME_YAML_FILE,
        }
    }

    /// Every file read, in the order `configtest` lists them.
    pub fn files(self) -> &'static [&'static str] {
        match self {
            Layout::Json => &[RUNTIME_FILE, DEFAULTS_FILE, PIPELINE_FILE],
            Layout::Yaml { .. } => &[RUNTIME_YAML_FILE],
        }
    }

    /// The warning for a runtime.conf that is not read, if there is one.
    pub fn ignored_warning(self) -> Option<String> {
        match self {
            Layout::Yaml {
                runtime_conf_ignored: true,
            } => Some(format!(
                "{RUNTIME_FILE} is ignored: {RUNTIME_YAML_FILE} is in the same directory and is \
                 used (IntelMQ 3 bots read it); move {RUNTIME_FILE} away to silence this"
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_yaml_wins_and_a_runtime_conf_beside_it_is_named() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Layout::detect(dir.path()), Layout::Json);
        std::fs::write(dir.path().join(RUNTIME_FILE), "{}").unwrap();
        assert_eq!(Layout::detect(dir.path()).runtime_file(), RUNTIME_FILE);
        assert_eq!(Layout::detect(dir.path()).ignored_warning(), None);
        std::fs::write(dir.path().join(RUNTIME_YAML_FILE), "").unwrap();
        let layout = Layout::detect(dir.path());
        assert_eq!(layout.runtime_file(), RUNTIME_YAML_FILE);
        assert_eq!(layout.files(), [RUNTIME_YAML_FILE]);
        let warning = layout.ignored_warning().unwrap();
        assert!(warning.starts_with("runtime.conf is ignored"), "{warning}");
        std::fs::remove_file(dir.path().join(RUNTIME_FILE)).unwrap();
        assert_eq!(Layout::detect(dir.path()).ignored_warning(), None);
    }
}
