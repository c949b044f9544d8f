//! start, stop, restart, reload, status, enable and disable in IntelMQ's
//! shapes: one bot answers with its state word (`"running"`, `"stopped"`,
//! `"disabled"`), restart with `[<after stop>, <after start>]`, the botnet
//! and a `--group` with `{"<bot_id>": "<state>", ...}`.
//!
//! The words: a running bot (also a scheduled bot on its schedule, and one
//! removed from the runtime configuration that still runs) is `running`; a
//! bot that does not run is `stopped`, or `disabled` where it is not in the
//! botnet (IntelMQ's `enabled: false`); a bot the daemon gave up restarting
//! (`failed`) does not run, so it is `stopped` too.

use intelmqd_proto::{
    ActionKind, ActionRow, BotStatus, Command, Outcome, Response, RunStatus, Selection,
};
use serde_json::{Map, Value};

use super::args::{Group, Target};
use super::{Daemon, Failure, Report};
use crate::exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Start,
    Stop,
    Restart,
    Reload,
    Status,
}

const RUNNING: &str = "running";
const STOPPED: &str = "stopped";
const DISABLED: &str = "disabled";

/// IntelMQ's word for a bot in `status`.
fn word(status: RunStatus, botnet: bool) -> &'static str {
    match (status, botnet) {
        (RunStatus::Running | RunStatus::Unstable, _) => RUNNING,
        (RunStatus::Stopped | RunStatus::Failed, true) => STOPPED,
        (RunStatus::Stopped | RunStatus::Failed, false) => DISABLED,
    }
}

fn is_running(status: RunStatus) -> bool {
    matches!(status, RunStatus::Running | RunStatus::Unstable)
}

/// IntelMQ's text line for a word.
fn sentence(bot_id: &str, word: &str) -> String {
    format!("Bot {bot_id} is {word}.\n")
}

/// A bot's word and whether it is what the command asked for.
struct BotWord {
    word: &'static str,
    ok: bool,
}

pub fn act(daemon: &Daemon<'_>, verb: Verb, target: &Target) -> Report {
    match &target.bot_id {
        Some(bot_id) => one_bot(daemon, verb, bot_id),
        None => botnet(daemon, verb, target.group.and_then(Group::entry_group)),
    }
}

fn one_bot(daemon: &Daemon<'_>, verb: Verb, bot_id: &str) -> Report {
    let result = match verb {
        Verb::Restart => return restart_one(daemon, bot_id),
        Verb::Start => start_one(daemon, bot_id),
        Verb::Stop => stop_one(daemon, bot_id),
        Verb::Reload => reload_one(daemon, bot_id),
        Verb::Status => status_of(daemon, bot_id).map(|bot| status_word(&bot)),
    };
    match result {
        Ok(outcome) => word_report(bot_id, &outcome),
        Err(failure) => failure.into(),
    }
}

fn word_report(bot_id: &str, outcome: &BotWord) -> Report {
    let line = sentence(bot_id, outcome.word);
    let (text, text_errors) = if outcome.ok {
        (line, String::new())
    } else {
        (String::new(), line)
    };
    Report {
        code: if outcome.ok {
            exit::SUCCESS
        } else {
            exit::FAILED
        },
        json: Value::from(outcome.word),
        text,
        text_errors,
        failure: None,
    }
}

fn status_word(bot: &BotStatus) -> BotWord {
    let word = word(bot.status, bot.botnet);
    BotWord {
        word,
        ok: word != STOPPED,
    }
}

/// `running`, as a start or reload asks; else `stopped`, which it did not.
fn running_as_asked(status: RunStatus) -> BotWord {
    if is_running(status) {
        BotWord {
            word: RUNNING,
            ok: true,
        }
    } else {
        BotWord {
            word: STOPPED,
            ok: false,
        }
    }
}

fn start_one(daemon: &Daemon<'_>, bot_id: &str) -> Result<BotWord, Failure> {
    let row = action_row(
        daemon,
        Command::Start {
            bot_id: Some(bot_id.to_owned()),
            now: false,
            wait: false,
            select: Selection::default(),
        },
    )?;
    // IntelMQ starts a bot asked for by name also when it is disabled.
    Ok(running_as_asked(row.status))
}

fn stop_one(daemon: &Daemon<'_>, bot_id: &str) -> Result<BotWord, Failure> {
    let botnet = status_of(daemon, bot_id)?.botnet;
    let row = action_row(
        daemon,
        Command::Stop {
            bot_id: Some(bot_id.to_owned()),
            select: Selection::default(),
        },
    )?;
    Ok(match (is_running(row.status), row.action, botnet) {
        (true, _, _) => BotWord {
            word: RUNNING,
            ok: false,
        },
        (false, ActionKind::AlreadyStopped, false) => BotWord {
            word: DISABLED,
            ok: true,
        },
        (false, _, _) => BotWord {
            word: STOPPED,
            ok: true,
        },
    })
}

fn reload_one(daemon: &Daemon<'_>, bot_id: &str) -> Result<BotWord, Failure> {
    let before = status_of(daemon, bot_id)?;
    if word(before.status, before.botnet) == DISABLED {
        return Ok(BotWord {
            word: DISABLED,
            ok: true,
        });
    }
    let row = action_row(
        daemon,
        Command::Reload {
            bot_id: Some(bot_id.to_owned()),
            select: Selection::default(),
        },
    )?;
    Ok(running_as_asked(row.status))
}

/// IntelMQ's restart of one bot: stop, and only if that worked, start;
/// the two words as a list (a failed stop answers with its word alone).
fn restart_one(daemon: &Daemon<'_>, bot_id: &str) -> Report {
    let stopped = match stop_one(daemon, bot_id) {
        Ok(stopped) => stopped,
        Err(failure) => return failure.into(),
    };
    if !stopped.ok {
        return word_report(bot_id, &stopped);
    }
    let started = match start_one(daemon, bot_id) {
        Ok(started) => started,
        Err(failure) => return failure.into(),
    };
    let mut report = word_report(bot_id, &started);
    report.json = Value::from(vec![stopped.word, started.word]);
    report.text = format!("{}{}", sentence(bot_id, stopped.word), report.text);
    report
}

/// The one row of a single bot's action; the daemon's error when there is none.
fn action_row(daemon: &Daemon<'_>, command: Command) -> Result<ActionRow, Failure> {
    let response = daemon.request(command).map_err(|e| Failure::client(&e))?;
    if let Some(Outcome::Actions { bots }) = &response.result {
        if let Some(row) = bots.first() {
            return Ok(row.clone());
        }
    }
    Err(daemon_error(&response))
}

fn status_of(daemon: &Daemon<'_>, bot_id: &str) -> Result<BotStatus, Failure> {
    let response = daemon
        .request(Command::Status {
            bot_id: Some(bot_id.to_owned()),
            log_lines: Some(0),
            select: Selection::default(),
        })
        .map_err(|e| Failure::client(&e))?;
    match &response.result {
        Some(Outcome::Status { bots, .. }) if response.ok => bots
            .iter()
            .find(|bot| bot.bot_id == bot_id)
            .cloned()
            .ok_or_else(|| daemon_error(&response)),
        _ => Err(daemon_error(&response)),
    }
}

/// Every bot the daemon knows: those of the runtime configuration and those
/// removed from it that still run.
fn all_bots(daemon: &Daemon<'_>) -> Result<Vec<BotStatus>, Failure> {
    let response = daemon
        .request(Command::Status {
            bot_id: None,
            log_lines: None,
            select: EVERY_BOT,
        })
        .map_err(|e| Failure::client(&e))?;
    match response.result {
        Some(Outcome::Status { bots, .. }) => Ok(bots),
        _ => Err(daemon_error(&response)),
    }
}

const EVERY_BOT: Selection = Selection {
    all: true,
    stream_bots: false,
    scheduled_bots: false,
};

/// A refusal of the daemon as IntelMQ reports errors. An unknown bot id is a
/// usage error there (its argument parser knows the configured bots).
pub fn daemon_error(response: &Response) -> Failure {
    match &response.error {
        Some(error) => {
            let code = match error.kind {
                intelmqd_proto::ErrorKind::UnknownBot | intelmqd_proto::ErrorKind::InvalidBotId => {
                    exit::USAGE
                }
                _ => exit::FAILED,
            };
            Failure::new(code, format!("intelmqctl: error: {}", error.message))
        }
        None => Failure::new(
            exit::PROTOCOL,
            "intelmqctl: error: the daemon's answer carries no result",
        ),
    }
}

/// The botnet (every bot), or the bots of one `group`: act, then report
/// each bot's word.
fn botnet(daemon: &Daemon<'_>, verb: Verb, group: Option<&str>) -> Report {
    let acted = match group {
        None => act_on_botnet(daemon, verb),
        Some(group) => act_on_group(daemon, verb, group),
    };
    if let Err(failure) = acted {
        return failure.into();
    }
    let bots = match all_bots(daemon) {
        Ok(bots) => bots,
        Err(failure) => return failure.into(),
    };
    let expected: &[&str] = match verb {
        Verb::Stop => &[STOPPED, DISABLED],
        _ => &[RUNNING, DISABLED],
    };
    let mut map = Map::new();
    let mut report = Report::default();
    for bot in bots
        .iter()
        .filter(|bot| group.is_none() || bot.group.as_deref() == group)
    {
        // A bot outside the botnet is not started with it: IntelMQ calls it
        // disabled whatever its process does.
        let word = if matches!(verb, Verb::Start | Verb::Restart) && !bot.botnet {
            DISABLED
        } else {
            word(bot.status, bot.botnet)
        };
        if !expected.contains(&word) {
            report.code = exit::FAILED;
        }
        map.insert(bot.bot_id.clone(), Value::from(word));
        report.text.push_str(&sentence(&bot.bot_id, word));
    }
    report.json = Value::Object(map);
    report
}

/// IntelMQ acts on every configured bot: start and restart start the
/// botnet's, stop and reload reach every bot.
fn act_on_botnet(daemon: &Daemon<'_>, verb: Verb) -> Result<(), Failure> {
    let botnet = Selection::default();
    let commands = match verb {
        Verb::Start => vec![start(None, botnet)],
        Verb::Stop => vec![stop(None, EVERY_BOT)],
        Verb::Restart => vec![stop(None, EVERY_BOT), start(None, botnet)],
        Verb::Reload => vec![Command::Reload {
            bot_id: None,
            select: EVERY_BOT,
        }],
        Verb::Status => Vec::new(),
    };
    for command in commands {
        // Bots that did not end as asked show in the words that follow.
        daemon.request(command).map_err(|e| Failure::client(&e))?;
    }
    Ok(())
}

/// The bots of one group, each its own request, all at once.
fn act_on_group(daemon: &Daemon<'_>, verb: Verb, group: &str) -> Result<(), Failure> {
    let members: Vec<BotStatus> = all_bots(daemon)?
        .into_iter()
        .filter(|bot| bot.group.as_deref() == Some(group))
        .collect();
    let each = |make: &dyn Fn(&BotStatus) -> Option<Command>| -> Result<(), Failure> {
        let commands: Vec<Command> = members.iter().filter_map(make).collect();
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = commands
                .into_iter()
                .map(|command| scope.spawn(move || daemon.request(command)))
                .collect();
            handles.into_iter().map(|handle| handle.join()).collect()
        });
        for result in results {
            match result {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => return Err(Failure::client(&error)),
                Err(_) => return Err(Failure::new(exit::FAILED, "intelmqctl: a request failed")),
            }
        }
        Ok(())
    };
    let start_botnet = |bot: &BotStatus| {
        bot.botnet
            .then(|| start(Some(&bot.bot_id), Selection::default()))
    };
    let stop_any = |bot: &BotStatus| Some(stop(Some(&bot.bot_id), Selection::default()));
    match verb {
        Verb::Start => each(&start_botnet),
        Verb::Stop => each(&stop_any),
        Verb::Restart => {
            each(&stop_any)?;
            each(&start_botnet)
        }
        Verb::Reload => each(&|bot| {
            Some(Command::Reload {
                bot_id: Some(bot.bot_id.clone()),
                select: Selection::default(),
            })
        }),
        Verb::Status => Ok(()),
    }
}

fn start(bot_id: Option<&str>, select: Selection) -> Command {
    Command::Start {
        bot_id: bot_id.map(str::to_owned),
        now: false,
        wait: false,
        select,
    }
}

fn stop(bot_id: Option<&str>, select: Selection) -> Command {
    Command::Stop {
        bot_id: bot_id.map(str::to_owned),
        select,
    }
}

/// IntelMQ's enable and disable: `enabled` there is the botnet membership
/// here; the answer is the bot's word afterwards.
pub fn set_botnet(daemon: &Daemon<'_>, bot_id: &str, member: bool) -> Report {
    let command = if member {
        Command::AddToBotnet {
            bot_id: bot_id.to_owned(),
        }
    } else {
        Command::RemoveFromBotnet {
            bot_id: bot_id.to_owned(),
        }
    };
    if let Err(failure) = action_row(daemon, command) {
        return failure.into();
    }
    match status_of(daemon, bot_id) {
        Ok(bot) => word_report(bot_id, &status_word(&bot)),
        Err(failure) => failure.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_states_become_intelmqs_words() {
        assert_eq!(word(RunStatus::Running, true), "running");
        assert_eq!(word(RunStatus::Running, false), "running");
        assert_eq!(word(RunStatus::Unstable, true), "running");
        assert_eq!(word(RunStatus::Stopped, true), "stopped");
        assert_eq!(word(RunStatus::Failed, true), "stopped");
        assert_eq!(word(RunStatus::Stopped, false), "disabled");
        assert_eq!(word(RunStatus::Failed, false), "disabled");
    }

    #[test]
    fn a_word_report_is_a_bare_json_string_and_a_sentence() {
        let report = word_report(
            "b",
            &BotWord {
                word: RUNNING,
                ok: true,
            },
        );
        assert_eq!(report.json, Value::from("running"));
        assert_eq!(report.text, "Bot b is running.\n");
        assert_eq!(report.code, exit::SUCCESS);
        let failed = word_report(
            "b",
            &BotWord {
                word: STOPPED,
                ok: false,
            },
        );
        assert_eq!(failed.code, exit::FAILED);
        assert!(failed.text.is_empty());
        assert_eq!(
            failed.failure, None,
            "a word is no error: stderr stays empty in json"
        );
    }

    #[test]
    fn an_unknown_bot_is_a_usage_error_on_stderr() {
        let response = Response::failure(intelmqd_proto::ErrorKind::UnknownBot, "no bot \"x\"");
        let report = Report::from(daemon_error(&response));
        assert_eq!(report.code, exit::USAGE);
        assert_eq!(report.json, Value::from("error"));
        assert!(report.failure.is_some_and(|text| text.contains("no bot")));
    }
}
