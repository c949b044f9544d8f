//! Restarting a stream bot that ended by itself, as its restart policy says
//! (see [`crate::bot::restart`]), and giving up on it after its start limit.

use std::time::Instant;

use intelmqd_proto::{EventKind, Level, RunState};

use super::{BotTask, Run};
use crate::bot::restart::Decision;
use crate::events::process_event;
use crate::process::Termination;

/// Resolves when the pending restart is due.
pub(super) async fn restart_due(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl BotTask {
    /// The loop saw the process end by itself: record it, and restart a
    /// stream bot if its policy says so.
    pub(super) fn on_ended_by_itself(&mut self) {
        let Some(ended) = self.on_exit() else {
            return;
        };
        let id = self.bot_id.clone();
        let (kind, what) = if ended.stream {
            (EventKind::Exited, "")
        } else {
            (EventKind::RunEnded, "the run of ")
        };
        self.events.send(process_event(
            kind,
            &id,
            Some(ended.pid),
            Some(ended.exit.clone()),
            format!("{what}{id} {}", ended.exit.description),
        ));
        if !ended.stream {
            return;
        }
        let end = ended.termination;
        let Some((restarts, _)) = self.restarts.as_mut() else {
            return;
        };
        let id = self.bot_id.clone();
        let within = restarts.policy.interval.as_secs_f64();
        match restarts.decide(end, Instant::now()) {
            Decision::Stay => {}
            Decision::RestartIn(delay) => {
                self.restart_at = Some(tokio::time::Instant::now() + delay);
                let text = format!("{id} will be restarted in {} s", delay.as_secs_f64());
                self.say(Level::Warning, text.clone());
                self.events.emit(EventKind::Restarting, Some(&id), text);
                self.publish(|_| {});
            }
            Decision::GiveUp { starts } => {
                // The count stays for `status` until an operator acts.
                self.failed = true;
                self.say(
                    Level::Error,
                    format!(
                        "{id} failed: it started {starts} times within {within} s and kept ending; it is left stopped until an operator starts it again ('intelmqctl start {id}')"
                    ),
                );
                self.events.emit(
                    EventKind::Failed,
                    Some(&id),
                    format!("{id} failed: it started {starts} times within {within} s"),
                );
                self.publish(|s| s.state = RunState::Failed);
            }
        }
    }

    /// The restart delay is over: start the stream bot again.
    pub(super) fn restart_now(&mut self) {
        self.restart_at = None;
        let Some((_, launch)) = self.restarts.as_ref() else {
            return;
        };
        let launch = launch.clone();
        let id = self.bot_id.clone();
        match self.spawn(&launch, Run::Stream) {
            Ok(pid) => {
                if let Some((restarts, _)) = self.restarts.as_mut() {
                    restarts.restarted(Instant::now());
                }
                self.announce(
                    EventKind::Restarted,
                    pid,
                    format!("{id} was restarted (pid {pid})"),
                );
                self.publish(|_| {});
            }
            Err(reason) => {
                self.say(
                    Level::Error,
                    format!("{id} could not be restarted: {reason}"),
                );
                // Counts as one more failure, with the same policy.
                if let Some((restarts, _)) = self.restarts.as_mut() {
                    restarts.restarted(Instant::now());
                }
                self.process = None;
                self.restart_after_failure(Termination::Exited(127));
            }
        }
    }

    fn restart_after_failure(&mut self, end: Termination) {
        let Some((restarts, _)) = self.restarts.as_mut() else {
            return;
        };
        match restarts.decide(end, Instant::now()) {
            Decision::RestartIn(delay) => {
                self.restart_at = Some(tokio::time::Instant::now() + delay);
            }
            Decision::GiveUp { .. } | Decision::Stay => {
                // The count stays for `status` until an operator acts.
                self.failed = true;
            }
        }
        self.publish(|_| {});
    }
}
