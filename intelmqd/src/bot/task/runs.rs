//! The runs of a scheduled bot: the ticks of its schedule, a tick that finds
//! the previous run still going, and a run on request (`start --now`,
//! `scheduler-exec`).

use std::time::{Duration, SystemTime};

use chrono::Local;
use intelmqd_proto::{ActionKind, ErrorKind, EventKind, Level};

use super::{BotTask, Run};
use crate::bot::ticks::{wait_until, Armed};
use crate::bot::{ActionReport, Reply};
use crate::events::process_event;
use crate::process::Launch;

/// The longest single sleep towards a tick: the wall clock can be set while
/// we sleep on the monotonic one, so the tick is looked at again this often.
const MAX_TICK_SLEEP: Duration = Duration::from_secs(60);

/// Resolves when the armed schedule's next tick is due.
pub(super) async fn tick(armed: &Option<(Armed, Launch)>) {
    let Some(next) = armed.as_ref().and_then(|(armed, _)| armed.next) else {
        return std::future::pending().await;
    };
    loop {
        let wait = wait_until(&next, &Local::now());
        if wait.is_zero() {
            return;
        }
        tokio::time::sleep(wait.min(MAX_TICK_SLEEP)).await;
    }
}

impl BotTask {
    pub(super) fn run_once(&mut self, launch: Launch, wait: bool, reply: Reply) {
        let id = self.bot_id.clone();
        if let Some((process, _)) = self.process.as_ref().filter(|(p, _)| !p.has_ended()) {
            let text = format!(
                "{id} is running now (pid {}); a second run at the same time is refused. Wait for it to end, or stop it with 'intelmqctl stop {id}'",
                process.pid()
            );
            let _ = reply.send(ActionReport::failed(Vec::new(), ErrorKind::Conflict, text));
            return;
        }
        if self.process.is_some() {
            self.on_exit();
        }
        let run = Run::once();
        let mut messages = vec![self.say(Level::Info, format!("Running {id} once now..."))];
        match self.spawn(&launch, run) {
            Ok(pid) => {
                self.record.begin(SystemTime::now());
                self.events.send(process_event(
                    EventKind::RunStarted,
                    &id,
                    Some(pid),
                    None,
                    format!("a run of {id} on request started (pid {pid})"),
                ));
                if wait {
                    if let Some((_, Run::Once { waiters, .. })) = self.process.as_mut() {
                        waiters.push((reply, messages));
                    }
                    return;
                }
                messages.push(self.say(
                    Level::Info,
                    format!("{id} was launched (pid {pid}); 'intelmqctl status {id}' shows how it ends."),
                ));
                let _ = reply.send(ActionReport::done(messages, ActionKind::Launched));
            }
            Err(reason) => {
                let text = format!("{id} could not be run: {reason}");
                messages.push(self.say(Level::Error, text.clone()));
                let _ = reply.send(ActionReport::failed(
                    messages,
                    ErrorKind::ActionFailed,
                    text,
                ));
            }
        }
    }

    pub(super) fn on_tick(&mut self) {
        let Some((armed, launch)) = self.armed.as_mut() else {
            return;
        };
        let tick = armed.next;
        armed.advance();
        let launch = launch.clone();
        let id = self.bot_id.clone();
        let tick_text = tick.map_or_else(String::new, |t| {
            t.format("%Y-%m-%d %H:%M:%S %Z").to_string()
        });
        if let Some((process, _)) = self.process.as_ref().filter(|(p, _)| !p.has_ended()) {
            self.record.skipped_ticks += 1;
            let text = format!(
                "the tick of {id} at {tick_text} was skipped: its previous run (pid {}) is still running",
                process.pid()
            );
            self.events
                .emit(EventKind::TickSkipped, Some(&id), text.clone());
            self.say(Level::Warning, text);
            self.publish(|_| {});
            return;
        }
        if self.process.is_some() {
            self.on_exit();
        }
        let run = Run::once();
        match self.spawn(&launch, run) {
            Ok(pid) => {
                self.record.begin(SystemTime::now());
                self.announce(
                    EventKind::RunStarted,
                    pid,
                    format!("scheduled run of {id} for {tick_text} started (pid {pid})"),
                );
                self.publish(|_| {});
            }
            Err(reason) => {
                self.say(
                    Level::Error,
                    format!("scheduled run of {id} for {tick_text} could not start: {reason}"),
                );
            }
        }
    }
}

pub(super) fn describe_next(armed: &Armed) -> String {
    match &armed.next {
        Some(next) => format!("next run: {}", next.format("%Y-%m-%d %H:%M:%S %Z")),
        None => "it has no next run".to_owned(),
    }
}
