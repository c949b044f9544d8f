//! The daemon's metrics in the Prometheus text exposition format (version
//! 0.0.4), ready for node_exporter's textfile collector or a scrape of
//! `--metrics-address`. Pure: built from the bots' status rows and the
//! socket's counters.

use std::fmt::Write;

use intelmqd_proto::{BotStatus, RunStatus};

/// The socket's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketCounts {
    pub served: u64,
    pub refused: u64,
    pub open: u64,
    pub requests: u64,
}

struct Writer(String);

impl Writer {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (index, (key, label)) in labels.iter().enumerate() {
                if index > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{key}=\"{}\"", escape(label));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Renders the metrics of `bots` (one status row each) and the socket.
pub fn render(bots: &[BotStatus], socket: SocketCounts, started_at: u64) -> String {
    let mut out = Writer(String::new());
    out.family(
        "intelmqd_start_time_seconds",
        "gauge",
        "When the daemon started, in Unix time.",
    );
    out.sample("intelmqd_start_time_seconds", &[], started_at as f64);

    out.family("intelmqd_bots", "gauge", "Bots by status.");
    for (status, word) in [
        (RunStatus::Running, "running"),
        (RunStatus::Stopped, "stopped"),
        (RunStatus::Unstable, "unstable"),
        (RunStatus::Failed, "failed"),
    ] {
        let count = bots.iter().filter(|bot| bot.status == status).count();
        out.sample("intelmqd_bots", &[("status", word)], count as f64);
    }

    out.family(
        "intelmqd_bot_up",
        "gauge",
        "1 when the bot runs (or is scheduled), else 0.",
    );
    for bot in bots {
        let up = matches!(bot.status, RunStatus::Running | RunStatus::Unstable);
        out.sample(
            "intelmqd_bot_up",
            &[("bot_id", &bot.bot_id)],
            f64::from(u8::from(up)),
        );
    }

    out.family(
        "intelmqd_bot_restarts_total",
        "counter",
        "Automatic restarts since an operator last started the bot.",
    );
    for bot in bots {
        out.sample(
            "intelmqd_bot_restarts_total",
            &[("bot_id", &bot.bot_id)],
            bot.restarts as f64,
        );
    }

    out.family(
        "intelmqd_bot_last_exit_code",
        "gauge",
        "How the bot's last process ended: its exit code, or 128+N for signal N.",
    );
    for bot in bots {
        if let Some(exit) = &bot.last_exit {
            let code = exit
                .code
                .or(exit.signal.map(|signal| 128 + signal))
                .unwrap_or(-1);
            out.sample(
                "intelmqd_bot_last_exit_code",
                &[("bot_id", &bot.bot_id)],
                f64::from(code),
            );
        }
    }

    let scheduled: Vec<_> = bots
        .iter()
        .filter_map(|bot| bot.schedule.as_ref().map(|schedule| (bot, schedule)))
        .collect();
    out.family(
        "intelmqd_scheduled_runs_total",
        "counter",
        "Runs of a scheduled bot that ended.",
    );
    for (bot, _) in &scheduled {
        out.sample(
            "intelmqd_scheduled_runs_total",
            &[("bot_id", &bot.bot_id)],
            bot_runs(bot).0,
        );
    }
    out.family(
        "intelmqd_scheduled_run_seconds_total",
        "counter",
        "Time the ended runs of a scheduled bot took together.",
    );
    for (bot, _) in &scheduled {
        out.sample(
            "intelmqd_scheduled_run_seconds_total",
            &[("bot_id", &bot.bot_id)],
            bot_runs(bot).1,
        );
    }
    out.family(
        "intelmqd_scheduled_run_last_duration_seconds",
        "gauge",
        "How long the last ended run of a scheduled bot took.",
    );
    for (bot, schedule) in &scheduled {
        if let Some(ms) = schedule.last_run_duration_ms {
            out.sample(
                "intelmqd_scheduled_run_last_duration_seconds",
                &[("bot_id", &bot.bot_id)],
                ms as f64 / 1000.0,
            );
        }
    }
    out.family(
        "intelmqd_scheduled_ticks_skipped_total",
        "counter",
        "Ticks skipped because the previous run was still going.",
    );
    for (bot, schedule) in &scheduled {
        out.sample(
            "intelmqd_scheduled_ticks_skipped_total",
            &[("bot_id", &bot.bot_id)],
            schedule.skipped_ticks as f64,
        );
    }

    out.family(
        "intelmqd_connections_served_total",
        "counter",
        "Client connections served.",
    );
    out.sample(
        "intelmqd_connections_served_total",
        &[],
        socket.served as f64,
    );
    out.family(
        "intelmqd_connections_refused_total",
        "counter",
        "Client connections refused.",
    );
    out.sample(
        "intelmqd_connections_refused_total",
        &[],
        socket.refused as f64,
    );
    out.family(
        "intelmqd_connections_open",
        "gauge",
        "Client connections open now.",
    );
    out.sample("intelmqd_connections_open", &[], socket.open as f64);
    out.family("intelmqd_requests_total", "counter", "Requests answered.");
    out.sample("intelmqd_requests_total", &[], socket.requests as f64);
    out.0
}

/// The ended runs of a scheduled bot and their time together.
fn bot_runs(bot: &BotStatus) -> (f64, f64) {
    bot.schedule
        .as_ref()
        .map_or((0.0, 0.0), |s| (s.runs as f64, s.run_seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use intelmqd_proto::{ConfigTest, ExitInfo, RunState};

    fn bot(bot_id: &str, status: RunStatus) -> BotStatus {
        BotStatus {
            bot_id: bot_id.into(),
            run_mode: "stream".into(),
            schedule_time: None,
            botnet: true,
            status,
            onboot: false,
            configtest: ConfigTest::Valid,
            pid: None,
            state: RunState::Stopped,
            since: None,
            last_exit: None,
            problems: vec![],
            schedule: None,
            restarts: 0,
            reload: None,
            group: None,
            description: None,
        }
    }

    #[test]
    fn counts_bots_and_labels_each() {
        let mut crashed = bot("b", RunStatus::Stopped);
        crashed.last_exit = Some(ExitInfo {
            code: None,
            signal: Some(6),
            at: 0,
            description: String::new(),
        });
        crashed.restarts = 2;
        let text = render(
            &[bot("a", RunStatus::Running), crashed],
            SocketCounts {
                served: 7,
                ..SocketCounts::default()
            },
            100,
        );
        for line in [
            "intelmqd_bots{status=\"running\"} 1",
            "intelmqd_bots{status=\"stopped\"} 1",
            "intelmqd_bots{status=\"failed\"} 0",
            "intelmqd_bot_up{bot_id=\"a\"} 1",
            "intelmqd_bot_restarts_total{bot_id=\"b\"} 2",
            "intelmqd_bot_last_exit_code{bot_id=\"b\"} 134",
            "intelmqd_connections_served_total 7",
            "# TYPE intelmqd_bots gauge",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn escapes_label_values() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
