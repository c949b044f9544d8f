//! The spec's "normal checks between the internal runtime configuration and
//! the admin runtime configuration": how a bot's entry in runtime.conf differs
//! from the one the daemon last acted on while the bot runs, and the words the
//! spec gives for each case. Every command goes through [`drift`]; nothing else
//! compares the two configurations.

use crate::config::BotConfig;

/// How a running bot's configuration drifted from what it runs with.
#[derive(Debug, Clone, PartialEq)]
pub enum Drift {
    /// It runs, but its entry is gone from runtime.conf (the operator removed
    /// it without stopping the bot first). Carries the entry it runs with.
    RemovedWhileRunning { effective: BotConfig },
    /// It runs, and its entry in runtime.conf changed since it was started.
    ChangedWhileRunning { run_mode_changed: bool },
}

/// Compares a bot's entry in runtime.conf with the one it was last acted on
/// with. Only a running bot can drift: a stopped bot simply starts with what
/// runtime.conf says.
pub fn drift(
    configured: Option<&BotConfig>,
    effective: Option<&BotConfig>,
    running: bool,
) -> Option<Drift> {
    if !running {
        return None;
    }
    match (configured, effective) {
        (None, Some(effective)) => Some(Drift::RemovedWhileRunning {
            effective: effective.clone(),
        }),
        (Some(configured), Some(effective)) if configured.raw != effective.raw => {
            Some(Drift::ChangedWhileRunning {
                run_mode_changed: configured.run_mode_text != effective.run_mode_text,
            })
        }
        _ => None,
    }
}

/// Scenario 1: a botnet or bot `start` finds the bot running but removed.
pub fn kept_and_restored(bot_id: &str) -> String {
    format!(
        "intelmqctl detected that bot {bot_id} is still running but has been removed from user runtime configuration. intelmqctl added it to the user runtime configuration. Please first stop the bot, and remove it afterwards."
    )
}

/// Scenario 2: a `stop` finds the bot running but removed.
pub fn stopped_and_restored(bot_id: &str) -> String {
    format!(
        "intelmqctl detected that bot with `bot_id: {bot_id}` was running but has been removed from admin runtime configuration. intelmqctl stopped it and added it to the admin runtime configuration. Please first stop the bot, and remove it afterwards."
    )
}

/// Scenario 3: a `reload` finds the bot running but removed.
pub fn removed_while_running(bot_id: &str) -> String {
    format!(
        "intelmqctl detected that bot with `bot_id: {bot_id}` is still running but has been removed from admin runtime configuration."
    )
}

/// Scenario 3's question.
pub fn ask_stop_removed(bot_id: &str) -> String {
    format!("Do you want to stop the bot with `bot_id: {bot_id}`? [N/y]")
}

/// The reload check's question for a running bot whose run_mode changed.
pub fn ask_restart_for_run_mode(bot_id: &str) -> String {
    format!(
        "{bot_id} is configured with a new run_mode therefore cannot be reload and it requires to be restarted in order to reload the new configuration. Do you want to restart the bot to apply the new run_mode? [Y/n]"
    )
}

/// `start` of a running bot whose configuration changed.
pub const RELOAD_HINT: &str =
    "To reload the new configuration, please execute reload action command.";

/// Scenario 4: what `status` says of a running bot removed from runtime.conf,
/// and how to fix it (the spec's FIXME, decided: `stop` uses the internal
/// configuration and writes it back).
pub fn unstable_hint(bot_id: &str) -> String {
    format!(
        "{bot_id} is running (unstable): it has been removed from runtime.conf without being stopped first. Run 'intelmqctl stop {bot_id}' to stop it with its last configuration, which is written back into runtime.conf; then remove it from runtime.conf."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bot(entry: serde_json::Value) -> BotConfig {
        BotConfig::from_entry("b", entry)
    }

    #[test]
    fn a_stopped_bot_never_drifts() {
        let effective = bot(json!({"module": "m"}));
        assert_eq!(drift(None, Some(&effective), false), None);
    }

    #[test]
    fn removed_while_running_carries_the_effective_entry() {
        let effective = bot(json!({"module": "m", "x": 1}));
        assert_eq!(
            drift(None, Some(&effective), true),
            Some(Drift::RemovedWhileRunning {
                effective: effective.clone()
            })
        );
    }

    #[test]
    fn changes_are_told_apart_by_run_mode() {
        let effective = bot(json!({"module": "m", "run_mode": "stream"}));
        let same = bot(json!({"module": "m", "run_mode": "stream"}));
        assert_eq!(drift(Some(&same), Some(&effective), true), None);
        let parameters = bot(json!({"module": "m", "run_mode": "stream", "parameters": {"a": 1}}));
        assert_eq!(
            drift(Some(&parameters), Some(&effective), true),
            Some(Drift::ChangedWhileRunning {
                run_mode_changed: false
            })
        );
        let mode =
            bot(json!({"module": "m", "run_mode": "scheduled", "schedule_time": "* * * * *"}));
        assert_eq!(
            drift(Some(&mode), Some(&effective), true),
            Some(Drift::ChangedWhileRunning {
                run_mode_changed: true
            })
        );
        // IntelMQ's "continuous" is the same run mode as "stream".
        let continuous = bot(json!({"module": "m", "run_mode": "continuous"}));
        assert_eq!(
            drift(Some(&continuous), Some(&effective), true),
            Some(Drift::ChangedWhileRunning {
                run_mode_changed: false
            })
        );
    }
}
