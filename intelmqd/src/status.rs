//! Turning what the daemon knows of a bot into the rows of `status` and
//! `list`. Pure functions: no process, no file.

use intelmqd_proto::{BotStatus, ConfigTest, ListRow, ReloadInfo, RunState, RunStatus};

use crate::bot::BotSnapshot;
use crate::config::{BotConfig, ReloadMode};

/// The status row of one bot. `configured` is its runtime.conf entry, if it has
/// one; `effective` the entry it was last acted on with (used when it was
/// removed from runtime.conf); `module_found` whether its module is on PATH;
/// `reloaded` its last reload and when, shown while it runs.
pub fn bot_status(
    bot_id: &str,
    configured: Option<&BotConfig>,
    effective: Option<&BotConfig>,
    snapshot: &BotSnapshot,
    module_found: bool,
    reloaded: Option<(ReloadMode, u64)>,
) -> BotStatus {
    let shown = configured.or(effective);
    let mut problems = shown.map(|c| c.problems.clone()).unwrap_or_default();
    if configured.is_none() {
        problems.push(crate::reconcile::unstable_hint(bot_id));
    } else if !module_found {
        if let Some(module) = shown.and_then(|c| c.module.as_deref()) {
            problems.push(format!("module {module:?} is not an executable on PATH"));
        }
    }
    let running = snapshot.is_running();
    let status = match (running, configured.is_some(), snapshot.state) {
        (true, false, _) => RunStatus::Unstable,
        (true, true, _) => RunStatus::Running,
        (false, _, RunState::Failed) => RunStatus::Failed,
        (false, _, _) => RunStatus::Stopped,
    };
    BotStatus {
        bot_id: bot_id.to_owned(),
        run_mode: shown.map_or_else(|| "stream".to_owned(), |c| c.run_mode_text.clone()),
        schedule_time: shown.and_then(|c| c.schedule_time.clone()),
        botnet: shown.is_some_and(|c| c.botnet),
        status,
        onboot: shown.is_some_and(|c| c.onboot),
        configtest: if problems.is_empty() {
            ConfigTest::Valid
        } else {
            ConfigTest::Invalid
        },
        pid: snapshot.pid,
        state: snapshot.state,
        since: snapshot.since,
        last_exit: snapshot.last_exit.clone(),
        problems,
        schedule: snapshot.schedule.clone(),
        restarts: snapshot.restarts,
        // A reload by signal is never taken as applied: only the bot knows
        // whether it re-read its configuration.
        reload: reloaded.filter(|_| running).map(|(mode, at)| ReloadInfo {
            mode: mode.as_str().to_owned(),
            at,
            applied: mode == ReloadMode::Restart,
        }),
        group: shown.and_then(|c| raw_text(&c.raw, "group")),
        description: shown.and_then(|c| raw_text(&c.raw, "description")),
    }
}

/// A string value of the bot's entry as written (IntelMQ's `group`,
/// `description`), which the daemon itself does not use.
fn raw_text(raw: &serde_json::Value, key: &str) -> Option<String> {
    raw.get(key)?.as_str().map(str::to_owned)
}

pub fn list_row(config: &BotConfig) -> ListRow {
    ListRow {
        bot_id: config.bot_id.clone(),
        run_mode: config.run_mode_text.clone(),
        schedule_time: config.schedule_time.clone(),
        botnet: config.botnet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn running() -> BotSnapshot {
        BotSnapshot {
            state: RunState::Running,
            pid: Some(10),
            ..BotSnapshot::stopped()
        }
    }

    #[test]
    fn configured_and_running_is_running() {
        let config = BotConfig::from_entry("a", json!({"module": "m", "botnet": true}));
        let row = bot_status("a", Some(&config), None, &running(), true, None);
        assert_eq!(row.status, RunStatus::Running);
        assert_eq!(row.configtest, ConfigTest::Valid);
        assert!(row.botnet);
        assert_eq!(row.pid, Some(10));
    }

    #[test]
    fn removed_but_running_is_unstable_and_invalid() {
        let effective = BotConfig::from_entry("a", json!({"module": "m"}));
        let row = bot_status("a", None, Some(&effective), &running(), true, None);
        assert_eq!(row.status, RunStatus::Unstable);
        assert_eq!(row.configtest, ConfigTest::Invalid);
    }

    #[test]
    fn missing_module_makes_configtest_invalid() {
        let config = BotConfig::from_entry("a", json!({"module": "nope"}));
        let row = bot_status(
            "a",
            Some(&config),
            None,
            &BotSnapshot::stopped(),
            false,
            None,
        );
        assert_eq!(row.status, RunStatus::Stopped);
        assert_eq!(row.configtest, ConfigTest::Invalid);
        assert!(row.problems[0].contains("\"nope\""));
    }

    #[test]
    fn intelmqs_group_and_description_come_from_the_entry() {
        let config = BotConfig::from_entry(
            "a",
            json!({"module": "m", "group": "Parser", "description": "parses"}),
        );
        let row = bot_status(
            "a",
            Some(&config),
            None,
            &BotSnapshot::stopped(),
            true,
            None,
        );
        assert_eq!(row.group.as_deref(), Some("Parser"));
        assert_eq!(row.description.as_deref(), Some("parses"));
        let plain = BotConfig::from_entry("b", json!({"module": "m", "group": 3}));
        let row = bot_status("b", Some(&plain), None, &BotSnapshot::stopped(), true, None);
        assert_eq!((row.group, row.description), (None, None));
    }

    #[test]
    fn a_reload_is_applied_only_after_a_restart_and_shown_while_running() {
        let config = BotConfig::from_entry("a", json!({"module": "m"}));
        let row = bot_status(
            "a",
            Some(&config),
            None,
            &running(),
            true,
            Some((ReloadMode::Signal, 5)),
        );
        let reload = row.reload.expect("shown while running");
        assert_eq!(
            (reload.mode.as_str(), reload.at, reload.applied),
            ("signal", 5, false)
        );
        let row = bot_status(
            "a",
            Some(&config),
            None,
            &running(),
            true,
            Some((ReloadMode::Restart, 6)),
        );
        assert!(row.reload.expect("shown").applied);
        let stopped = BotSnapshot::stopped();
        let row = bot_status(
            "a",
            Some(&config),
            None,
            &stopped,
            true,
            Some((ReloadMode::Signal, 5)),
        );
        assert_eq!(row.reload, None);
    }
}
