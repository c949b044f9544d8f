//! `intelmqctl --type json|text`: IntelMQ's command forms answered in
//! IntelMQ's shapes, as intelmq-api sends them (no terminal, stdout one JSON
//! document, nothing on stderr when the call succeeds).

use intelmqd_tests::{fast_stop_defaults, testbot, CtlOutput, Daemon};
use serde_json::{json, Value};

/// A test bot entry with IntelMQ's `group`.
fn grouped(group: &str, botnet: bool) -> Value {
    let mut entry = testbot(json!({}));
    entry["group"] = json!(group);
    entry["botnet"] = json!(botnet);
    entry["description"] = json!(format!("a {group}"));
    entry
}

fn pipeline() -> Daemon {
    Daemon::builder()
        .runtime(json!({
            "collector": grouped("Collector", true),
            "parser": grouped("Parser", true),
            "spare-parser": grouped("Parser", false),
            "output": grouped("Output", true),
        }))
        .defaults(fast_stop_defaults())
        .start()
}

/// Runs `intelmqctl --type json <args>`; checks stderr is empty and returns
/// stdout's JSON.
#[track_caller]
fn api(daemon: &Daemon, args: &[&str], code: i32) -> Value {
    let out = json_call(daemon, args);
    out.expect_code(code);
    assert!(out.stderr.is_empty(), "stderr must stay empty: {out:?}");
    out.json()
}

fn json_call(daemon: &Daemon, args: &[&str]) -> CtlOutput {
    let mut all = vec!["--type", "json"];
    all.extend_from_slice(args);
    daemon.ctl(&all)
}

#[test]
fn one_bot_answers_with_intelmqs_state_words() {
    let daemon = pipeline();
    assert_eq!(api(&daemon, &["status", "parser"], 1), json!("stopped"));
    assert_eq!(
        api(&daemon, &["status", "spare-parser"], 0),
        json!("disabled")
    );
    assert_eq!(api(&daemon, &["start", "parser"], 0), json!("running"));
    assert_eq!(api(&daemon, &["status", "parser"], 0), json!("running"));
    assert_eq!(api(&daemon, &["reload", "parser"], 0), json!("running"));
    assert_eq!(
        api(&daemon, &["restart", "parser"], 0),
        json!(["stopped", "running"])
    );
    assert_eq!(api(&daemon, &["stop", "parser"], 0), json!("stopped"));
    assert_eq!(
        api(&daemon, &["stop", "spare-parser"], 0),
        json!("disabled")
    );

    let unknown = json_call(&daemon, &["status", "nobody"]);
    unknown.expect_code(2);
    assert!(unknown.stderr.contains("nobody"), "{unknown:?}");
}

#[test]
fn botnet_and_group_forms_answer_with_a_map() {
    let daemon = pipeline();
    let started = api(&daemon, &["start"], 0);
    assert_eq!(
        started,
        json!({"collector": "running", "output": "running", "parser": "running",
               "spare-parser": "disabled"})
    );
    let parsers = api(&daemon, &["stop", "--group", "parsers"], 0);
    assert_eq!(
        parsers,
        json!({"parser": "stopped", "spare-parser": "disabled"})
    );
    assert_eq!(daemon.status_json("collector")["status"], json!("running"));
    let status = api(&daemon, &["status", "--group", "parsers"], 1);
    assert_eq!(
        status,
        json!({"parser": "stopped", "spare-parser": "disabled"})
    );
    let restarted = api(&daemon, &["restart", "--group", "parsers"], 0);
    assert_eq!(
        restarted,
        json!({"parser": "running", "spare-parser": "disabled"})
    );
    let everything = api(&daemon, &["status", "--group", "botnet"], 0);
    assert_eq!(everything.as_object().map(|map| map.len()), Some(4));
    let stopped = api(&daemon, &["stop"], 0);
    assert_eq!(
        stopped,
        json!({"collector": "stopped", "output": "stopped", "parser": "stopped",
               "spare-parser": "disabled"})
    );
}

#[test]
fn check_lists_and_debug_paths() {
    let daemon = pipeline();
    let check = api(&daemon, &["check"], 0);
    assert_eq!(check["status"], json!("success"));
    let lines = check["lines"].as_array().expect("lines is a list");
    assert!(lines
        .iter()
        .all(|line| line.as_array().is_some_and(|pair| pair.len() == 2)));

    let bots = api(&daemon, &["list", "bots", "--configured"], 0);
    assert_eq!(
        bots[0],
        json!({"id": "collector", "description": "a Collector"})
    );
    assert_eq!(bots.as_array().map(Vec::len), Some(4));

    let paths = api(&daemon, &["debug", "--get-paths"], 0);
    let config_dir = paths["paths"]["CONFIG_DIR"].as_str().expect("CONFIG_DIR");
    assert_eq!(
        std::path::Path::new(config_dir),
        daemon.config_dir.as_path(),
        "{paths}"
    );
    assert!(paths.get("environment_variables").is_none());
    let both = api(&daemon, &["debug"], 0);
    assert!(
        both["environment_variables"].get("PATH").is_some(),
        "{both}"
    );

    let text = daemon.ctl(&["--type", "text", "status", "parser"]);
    text.expect_code(1);
    assert!(text.stderr.contains("Bot parser is stopped."), "{text:?}");
}

#[test]
fn an_invalid_configuration_checks_as_error() {
    let daemon = Daemon::start(json!({
        "broken": {"module": "intelmq-no-such-bot", "group": "Parser"},
    }));
    let check = api(&daemon, &["check"], 1);
    assert_eq!(check["status"], json!("error"));
    let lines = check["lines"].to_string();
    assert!(lines.contains("broken"), "{check}");
}

#[test]
fn log_entries_are_parsed_from_the_bots_log() {
    let daemon = Daemon::start(json!({
        "ticker": testbot(json!({"log_every": 0.01, "ticks": 5})),
        "quiet": testbot(json!({})),
    }));
    daemon.start_bot("ticker");
    daemon.wait_for_log("ticker", " - tick 5");
    let entries = api(&daemon, &["log", "ticker", "3", "INFO"], 0);
    let entries = entries.as_array().expect("a list");
    assert_eq!(entries.len(), 3, "{entries:?}");
    let last = &entries[2];
    assert_eq!(last["bot_id"], json!("ticker"));
    assert_eq!(last["log_level"], json!("INFO"));
    assert_eq!(last["message"], json!("tick 5"));
    assert_eq!(last["thread_id"], json!(null));
    assert!(
        last["date"].as_str().is_some_and(|d| d.contains('T')),
        "{last}"
    );

    let no_file = api(&daemon, &["log", "quiet"], 0);
    assert_eq!(no_file[0]["message"], json!("No log file exists (yet)."));

    std::fs::write(
        daemon.log_dir.join("quiet.log"),
        "2024-05-01 10:00:00,100 - quiet - INFO - fine\n\
         2024-05-01 10:00:01,000 - quiet - ERROR - broke\n\
         Traceback (most recent call last):\n\
         ValueError: bad\n\
         2024-05-01 10:00:02,000 - quiet - DEBUG - detail\n",
    )
    .expect("write the log");
    let errors = api(&daemon, &["log", "quiet", "10", "ERROR"], 0);
    assert_eq!(
        errors,
        json!([{"date": "2024-05-01T10:00:01", "bot_id": "quiet", "thread_id": null,
                "log_level": "ERROR", "message": "broke",
                "extended_message": "Traceback (most recent call last):\nValueError: bad\n"}])
    );
    let all = api(&daemon, &["log", "quiet", "-1", "DEBUG"], 0);
    assert_eq!(all.as_array().map(Vec::len), Some(3));
    assert_eq!(all[0]["date"], json!("2024-05-01T10:00:00.100000"));
}

#[test]
fn queue_and_message_commands_name_intelmqs_own_tool() {
    let daemon = pipeline();
    for args in [
        &["list", "queues"][..],
        &["list", "queues-and-status"],
        &["list", "bots"],
        &["clear", "parser-queue"],
        &["run", "parser", "message", "get"],
    ] {
        let out = json_call(&daemon, args);
        out.expect_code(1);
        assert_eq!(out.json(), json!("error"), "{args:?}");
        assert!(
            out.stderr.contains("IntelMQ's own intelmqctl"),
            "{args:?}: {out:?}"
        );
    }
}

#[test]
fn version_is_one_line() {
    let daemon = pipeline();
    let out = daemon.ctl(&["--version"]);
    out.expect_code(0);
    assert_eq!(out.stdout.lines().count(), 1, "{out:?}");
    assert!(out.stderr.is_empty());
}
