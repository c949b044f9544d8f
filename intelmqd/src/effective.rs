//! The internal runtime configuration (the spec's `.runtime.conf`), kept in
//! the state dir as `runtime.effective.json`: for each bot, the configuration it
//! was last successfully acted on with and what the daemon knows of its process.
//! A restarted daemon reads it to know what it left behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use intelmqd_proto::{ExitInfo, RunState};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const EFFECTIVE_FILE: &str = "runtime.effective.json";
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EffectiveState {
    pub version: u32,
    pub bots: BTreeMap<String, EffectiveBot>,
}

impl Default for EffectiveState {
    fn default() -> Self {
        EffectiveState {
            version: FORMAT_VERSION,
            bots: BTreeMap::new(),
        }
    }
}

/// What the daemon knows of one bot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EffectiveBot {
    /// The runtime.conf entry the bot was last successfully acted on with.
    pub config: Value,
    /// Its queues in pipeline.conf at that time.
    #[serde(default)]
    pub pipeline: Option<Value>,
    pub state: RunState,
    /// On its schedule (a scheduled bot): the next daemon arms it again.
    #[serde(default)]
    pub scheduled: bool,
    #[serde(default)]
    pub pid: Option<u32>,
    /// Clock ticks since boot (`/proc/<pid>/stat` field 22): with the pid,
    /// what identifies the process.
    #[serde(default)]
    pub start_time: Option<u64>,
    #[serde(default)]
    pub since: Option<u64>,
    #[serde(default)]
    pub last_exit: Option<ExitInfo>,
    /// It ran under systemd: the next daemon reads its unit.
    #[serde(default)]
    pub systemd: bool,
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(EFFECTIVE_FILE)
}

/// Reads the effective state. A missing file is an empty state; a file that
/// cannot be read is an error naming the file and the reason.
pub fn load(state_dir: &Path) -> Result<EffectiveState, String> {
    let path = path(state_dir);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(EffectiveState::default())
        }
        Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
    };
    let state: EffectiveState = serde_json::from_slice(&bytes)
        .map_err(|error| format!("{} is not a valid state file: {error}", path.display()))?;
    if state.version != FORMAT_VERSION {
        return Err(format!(
            "{} has format version {}, this daemon reads version {FORMAT_VERSION}",
            path.display(),
            state.version
        ));
    }
    Ok(state)
}

pub fn encode(state: &EffectiveState) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(state).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut state = EffectiveState::default();
        state.bots.insert(
            "b".into(),
            EffectiveBot {
                config: serde_json::json!({"module": "m", "z": 1, "a": 2}),
                pipeline: None,
                scheduled: false,
                state: RunState::Running,
                pid: Some(7),
                start_time: Some(99),
                since: Some(1),
                last_exit: None,
                systemd: false,
            },
        );
        let decoded: EffectiveState = serde_json::from_slice(&encode(&state)).unwrap();
        assert_eq!(decoded, state);
        let keys: Vec<_> = decoded.bots["b"]
            .config
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(keys, ["module", "z", "a"], "key order is kept");
    }
}
