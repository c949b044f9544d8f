//! The supervisor's side of the systemd process manager: reading the units a
//! request is about before it is handled (so that a plan and a status answer
//! see what systemd sees, not what it saw last), keeping what was read, and
//! putting the scheduled bots with `onboot` on their schedules when the daemon
//! starts under systemd.

use std::collections::HashMap;

use intelmqd_proto::{Answers, Command, Level, Message, Selection};

use super::{send_request, Incoming, Msg, Supervisor};
use crate::config::{ProcessManager, RunMode};
use crate::systemd::{Systemctl, SystemdError, UnitState};

impl Supervisor {
    /// The bots whose units must be read before `command` is handled: under
    /// the systemd manager the stream bots it is about, and under either
    /// manager the bots known to have run under systemd.
    pub(super) fn units_to_observe(&self, command: &Command) -> Vec<String> {
        let bot_id = match command {
            Command::Status { bot_id, .. }
            | Command::Start { bot_id, .. }
            | Command::Stop { bot_id, .. }
            | Command::Restart { bot_id, .. }
            | Command::Reload { bot_id, .. }
            | Command::Enable { bot_id, .. }
            | Command::Disable { bot_id, .. } => bot_id.as_deref(),
            Command::Configtest { bot_id } => bot_id.as_deref(),
            _ => return Vec::new(),
        };
        let config = self.config.current();
        let about = |id: &str| bot_id.is_none_or(|wanted| wanted == id);
        let mut ids: Vec<String> = Vec::new();
        if config.defaults.process_manager == ProcessManager::Systemd {
            ids.extend(
                config
                    .bots
                    .values()
                    .filter(|bot| bot.run_mode == RunMode::Stream && about(&bot.bot_id))
                    .map(|bot| bot.bot_id.clone()),
            );
        }
        for (id, tracked) in &self.bots {
            if tracked.unit.is_some() && about(id) && !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        // An id that names no bot is refused by the request itself.
        ids.retain(|id| intelmqd_proto::validate_bot_id(id).is_ok());
        ids
    }

    /// Reads `bot_ids`' units off the supervisor's loop, then handles the
    /// request with what was read.
    pub(super) fn observe_then(&self, bot_ids: Vec<String>, mut incoming: Incoming) {
        incoming.observed = true;
        let systemctl = Systemctl::new(
            self.config.current().defaults.systemd_instance,
            &self.systemd,
        );
        let supervisor = self.messages.clone();
        tokio::spawn(async move {
            let units = systemctl.show(&bot_ids).await;
            let _ = supervisor
                .send(Msg::Observed(Box::new(incoming), units))
                .await;
        });
    }

    /// Keeps what systemd said of the units: for bots the daemon tracks, and
    /// for bots whose unit runs or failed without the daemon having started
    /// it (started by hand, or before the state was lost).
    pub(super) fn on_observed(&mut self, units: Result<HashMap<String, UnitState>, SystemdError>) {
        let units = match units {
            Ok(units) => units,
            Err(error) => {
                tracing::warn!("cannot read the bots' units from systemd: {error}; status shows what was read last");
                return;
            }
        };
        for (bot_id, unit) in units {
            if unit.load_state == "not-found" {
                self.units_not_found.insert(bot_id.clone());
            } else {
                self.units_not_found.remove(&bot_id);
            }
            let known = self.bots.contains_key(&bot_id);
            let shows = unit.is_active() || unit.active_state == "failed";
            if !known && !shows {
                continue;
            }
            self.handle_for(&bot_id);
            if let Some(tracked) = self.bots.get_mut(&bot_id) {
                if tracked.unit.as_ref() != Some(&unit) {
                    self.dirty = true;
                }
                tracked.unit = Some(unit);
            }
        }
    }

    /// Under the systemd manager, the scheduled bots with `onboot: true` are
    /// put on their schedules when the daemon starts (stream bots with
    /// `onboot` are started by systemd itself, their units being enabled).
    pub(super) fn schedule_onboot_bots(&self) {
        let config = self.config.current();
        if config.defaults.process_manager != ProcessManager::Systemd {
            return;
        }
        for bot in config.bots.values() {
            if bot.run_mode != RunMode::Scheduled || !bot.onboot || !bot.is_valid() {
                continue;
            }
            tracing::info!(bot_id = %bot.bot_id, "{} has onboot: true; putting it on its schedule", bot.bot_id);
            let start = Command::Start {
                bot_id: Some(bot.bot_id.clone()),
                now: false,
                wait: false,
                select: Selection::default(),
            };
            let supervisor = self.messages.clone();
            tokio::spawn(async move {
                let response = send_request(&supervisor, start, Answers::default(), None).await;
                if !response.ok {
                    let reason = response.error.map(|e| e.message).unwrap_or_default();
                    tracing::error!(
                        "a scheduled bot with onboot could not be put on its schedule: {reason}"
                    );
                }
            });
        }
    }

    /// Warnings for configtest: the bots that run under the other process
    /// manager than the configured one. They stay there until stopped.
    pub(super) fn manager_mismatches(&self) -> Vec<Message> {
        let configured = self.config.current().defaults.process_manager;
        let mut messages = Vec::new();
        for (bot_id, tracked) in &self.bots {
            let task = tracked.handle.snapshot();
            let pid_runs = task.is_running() && !task.scheduled;
            let unit_runs = tracked.unit.as_ref().is_some_and(UnitState::is_active);
            let text = match configured {
                ProcessManager::Systemd if pid_runs => format!(
                    "{bot_id} runs under the PID process manager (pid {}) although process_manager is \"systemd\"; it stays there until it is stopped. 'intelmqctl restart {bot_id}' moves it to systemd.",
                    task.pid.map_or_else(|| "unknown".to_owned(), |pid| pid.to_string())
                ),
                ProcessManager::Pid if unit_runs => format!(
                    "{bot_id} runs under systemd ({}) although process_manager is \"pid\"; it stays there until it is stopped. 'intelmqctl restart {bot_id}' moves it to the PID process manager.",
                    crate::systemd::unit_name(bot_id)
                ),
                _ => continue,
            };
            messages.push(Message::new(Level::Warning, Some(bot_id), text));
        }
        messages
    }
}
