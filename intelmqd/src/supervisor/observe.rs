//! The requests that watch the daemon rather than the bots' state: metrics
//! and a bot's log.

use std::sync::atomic::Ordering;

use intelmqd_proto::{ErrorKind, Outcome, Response};

use super::query::failure;
use super::Supervisor;
use crate::logtail::{self, LogLevel};
use crate::metrics::{self, SocketCounts};

/// How many log lines `log` returns unless asked otherwise.
const DEFAULT_LOG_LINES: usize = 10;
/// The most log lines one answer carries.
const MAX_LOG_LINES: usize = 10_000;

impl Supervisor {
    pub(super) fn metrics(&self) -> Response {
        let mut ids: Vec<String> = self.config.current().bots.keys().cloned().collect();
        ids.extend(
            self.bots
                .keys()
                .filter(|id| !self.config.current().bots.contains_key(*id))
                .cloned(),
        );
        let bots: Vec<_> = ids.iter().map(|id| self.bot_status(id)).collect();
        let socket = SocketCounts {
            served: self.stats.served.load(Ordering::Relaxed),
            refused: self.stats.refused.load(Ordering::Relaxed),
            open: self.stats.open.load(Ordering::Relaxed) as u64,
            requests: self.stats.requests.load(Ordering::Relaxed),
        };
        let text = metrics::render(&bots, socket, self.started_at);
        Response::success(Vec::new(), Outcome::Metrics { text })
    }

    pub(super) fn answer_log(
        &self,
        bot_id: String,
        lines: Option<usize>,
        level: Option<String>,
        respond: impl FnOnce(Response) + Send + 'static,
    ) {
        if let Err(error) = self.known(&bot_id) {
            return respond(failure(error));
        }
        let level = match level.as_deref().map(LogLevel::parse) {
            None => None,
            Some(Some(level)) => Some(level),
            Some(None) => {
                return respond(Response::failure(
                    ErrorKind::BadRequest,
                    format!(
                        "unknown log level {:?}: use DEBUG, INFO, WARNING, ERROR, CRITICAL or ALL",
                        level.unwrap_or_default()
                    ),
                ))
            }
        };
        let path = self.log_file(&bot_id);
        let count = lines.unwrap_or(DEFAULT_LOG_LINES).min(MAX_LOG_LINES);
        tokio::spawn(async move {
            let shown = path.clone();
            let lines = tokio::task::spawn_blocking(move || {
                logtail::last_lines_at_level(&path, count, level)
            })
            .await
            .unwrap_or_default();
            respond(Response::success(
                Vec::new(),
                Outcome::Log {
                    bot_id,
                    path: shown.to_string_lossy().into_owned(),
                    lines,
                },
            ));
        });
    }
}
