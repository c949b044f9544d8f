//! `intelmqctl configtest` (alias `check`): each kind of bad file and bad bot
//! with its message and exit code 1, a valid configuration with exit 0, one
//! bot only, `--json`, and the `configtest` column of `status`.
//!
//! The tests of defaults.conf and pipeline.conf as files run on the JSON
//! files whatever the run's format; their runtime.yaml counterparts (a syntax
//! error, a `global:` that is not a mapping) run on runtime.yaml.

use intelmqd_tests::{table_row, testbot, ConfigFormat, CtlOutput, Daemon, TIMEOUT};
use serde_json::{json, Value};

/// Runs `configtest` and its alias `check` (same arguments); both must give
/// the same exit code and output. Returns the `configtest` output.
fn configtest(daemon: &Daemon, args: &[&str]) -> CtlOutput {
    let mut configtest_args = vec!["configtest"];
    configtest_args.extend_from_slice(args);
    let out = daemon.ctl(&configtest_args);
    let mut check_args = vec!["check"];
    check_args.extend_from_slice(args);
    let check = daemon.ctl(&check_args);
    assert_eq!(
        check.code, out.code,
        "check and configtest differ\n{check:?}\n{out:?}"
    );
    assert_eq!(check.stdout, out.stdout, "check and configtest differ");
    assert_eq!(check.stderr, out.stderr, "check and configtest differ");
    out
}

/// An invalid configuration: exit 1, an `error:` line on stdout with every
/// one of `words`, and the summary on stderr.
#[track_caller]
fn assert_invalid(out: &CtlOutput, words: &[&str]) {
    out.expect_code(1);
    assert!(
        out.stdout.lines().any(|line| line.starts_with("error: ")
            && words.iter().all(|word| line.contains(word))),
        "no error line with {words:?}: {out:?}"
    );
    assert!(
        out.stderr
            .contains("intelmqctl: error: the configuration is invalid"),
        "{out:?}"
    );
}

/// `--json configtest`: the response object, with `valid`, `files` and `bots`.
fn configtest_json(daemon: &Daemon, args: &[&str]) -> (CtlOutput, Value) {
    let mut all = vec!["--json", "configtest"];
    all.extend_from_slice(args);
    let out = daemon.ctl(&all);
    let reply = out.json();
    (out, reply)
}

/// The problems `--json configtest` lists for `bot_id`.
fn problems_of(reply: &Value, bot_id: &str) -> Vec<String> {
    reply["result"]["bots"]
        .as_array()
        .and_then(|bots| bots.iter().find(|bot| bot["bot_id"] == bot_id))
        .and_then(|bot| bot["problems"].as_array())
        .map(|problems| {
            problems
                .iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_else(|| panic!("no bot {bot_id} in {reply}"))
}

/// A daemon on the JSON files whatever the run's format, for the tests of
/// defaults.conf and pipeline.conf as files.
fn json_daemon(runtime: Value) -> Daemon {
    Daemon::builder()
        .format(ConfigFormat::Json)
        .runtime(runtime)
        .start()
}

/// A daemon with a valid bot `good` and `bad` configured as `entry`.
fn with_bad_bot(entry: Value) -> Daemon {
    Daemon::start(json!({"good": testbot(json!({})), "bad": entry}))
}

/// The test bot's entry with `key` set to `value`.
fn testbot_with(key: &str, value: Value) -> Value {
    let mut entry = testbot(json!({}));
    entry[key] = value;
    entry
}

#[test]
fn a_valid_configuration_passes() {
    let mut scheduled = testbot_with("run_mode", json!("scheduled"));
    scheduled["schedule_time"] = json!("*/5 * * * *");
    // The queues where the format keeps them: pipeline.conf, or the bot's
    // parameters in runtime.yaml.
    let stream = testbot(json!({"destination_queues": {"_default": ["cron-queue"]}}));
    let daemon = Daemon::start(json!({"stream": stream, "cron": scheduled}));
    if daemon.format() == ConfigFormat::Json {
        daemon.write_config_text(
            "pipeline.conf",
            "{\"stream\": {\"destination-queues\": [\"cron-queue\"]}}\n",
        );
    }
    let out = configtest(&daemon, &[]);
    out.expect_code(0);
    assert!(
        out.stdout.contains("The configuration is valid."),
        "{out:?}"
    );
    assert!(!out.stdout.contains("error:"), "{out:?}");
    assert_eq!(out.stderr, "", "{out:?}");

    let (out, reply) = configtest_json(&daemon, &[]);
    out.expect_code(0);
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["result"]["valid"], true, "{reply}");
}

#[test]
fn runtime_conf_with_a_json_syntax_error_names_file_line_and_column() {
    let text = "{\n  \"bot\": {\"module\": \"intelmq-testbot\",,}\n}\n";
    let syntax = serde_json::from_str::<Value>(text).expect_err("the text is invalid JSON");
    let daemon = Daemon::builder().runtime_text(text).start();
    let out = configtest(&daemon, &[]);
    assert_invalid(
        &out,
        &[
            "runtime.conf",
            "json is bad",
            &format!("line {}, column {}", syntax.line(), syntax.column()),
        ],
    );

    let (out, reply) = configtest_json(&daemon, &[]);
    out.expect_code(1);
    let file = reply["result"]["files"]
        .as_array()
        .and_then(|files| files.iter().find(|f| f["file"] == "runtime.conf"))
        .cloned()
        .unwrap_or_else(|| panic!("no runtime.conf in {reply}"));
    assert_eq!(file["valid"], false, "{reply}");
    assert_eq!(file["line"], syntax.line(), "{reply}");
    assert_eq!(file["column"], syntax.column(), "{reply}");
}

#[test]
fn runtime_yaml_with_a_syntax_error_names_file_line_and_column() {
    let text = "bot:\n  module: intelmq-testbot\n  parameters: {note: [x}\n";
    let daemon = Daemon::builder().runtime_yaml(text).start();
    let (out, reply) = configtest_json(&daemon, &[]);
    out.expect_code(1);
    let file = reply["result"]["files"]
        .as_array()
        .and_then(|files| files.iter().find(|f| f["file"] == "runtime.yaml"))
        .cloned()
        .unwrap_or_else(|| panic!("no runtime.yaml in {reply}"));
    assert_eq!(file["valid"], false, "{reply}");
    assert_eq!(file["line"], 3, "{reply}");
    let column = file["column"].as_u64().unwrap_or_else(|| panic!("{reply}"));
    assert!(column > 2, "a column inside the flow mapping: {reply}");

    let out = configtest(&daemon, &[]);
    assert_invalid(
        &out,
        &[
            "runtime.yaml",
            "yaml is bad",
            &format!("line 3, column {column}"),
        ],
    );
}

#[test]
fn a_global_section_that_is_not_a_mapping_is_bad() {
    let text = "global:\n- pid\nbot:\n  module: intelmq-testbot\n";
    let daemon = Daemon::builder().runtime_yaml(text).start();
    let out = configtest(&daemon, &[]);
    assert_invalid(
        &out,
        &["runtime.yaml", "yaml is bad", "global must be a mapping"],
    );
    let (out, reply) = configtest_json(&daemon, &[]);
    out.expect_code(1);
    let files: Vec<(&str, bool)> = reply["result"]["files"]
        .as_array()
        .map(|files| {
            files
                .iter()
                .filter_map(|f| Some((f["file"].as_str()?, f["valid"].as_bool()?)))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(files, vec![("runtime.yaml", false)], "{reply}");
}

#[test]
fn defaults_conf_that_is_not_an_object_is_bad() {
    let daemon = json_daemon(json!({"bot": testbot(json!({}))}));
    daemon.write_config_text("defaults.conf", "[\"pid\"]\n");
    let out = configtest(&daemon, &[]);
    assert_invalid(
        &out,
        &["defaults.conf", "json is bad", "must hold a JSON object"],
    );
}

#[test]
fn a_pipeline_conf_entry_that_is_not_an_object_is_bad() {
    let daemon = json_daemon(json!({"bot": testbot(json!({}))}));
    daemon.write_config_text("pipeline.conf", "{\"bot\": [\"bot-queue\"]}\n");
    let out = configtest(&daemon, &[]);
    assert_invalid(&out, &["pipeline.conf", "json is bad", "\"bot\"", "object"]);
}

#[test]
fn an_unknown_run_mode_is_bad() {
    let daemon = with_bad_bot(testbot_with("run_mode", json!("sometimes")));
    let out = configtest(&daemon, &[]);
    assert_invalid(
        &out,
        &[
            "bot config of bad is bad because",
            "run_mode",
            "\"sometimes\"",
        ],
    );
    assert!(!out.stdout.contains("bot config of good"), "{out:?}");
}

#[test]
fn scheduled_without_schedule_time_is_bad() {
    let daemon = with_bad_bot(testbot_with("run_mode", json!("scheduled")));
    let out = configtest(&daemon, &[]);
    assert_invalid(
        &out,
        &[
            "bot config of bad is bad because",
            "schedule_time is missing",
        ],
    );
}

#[test]
fn a_bad_schedule_time_names_the_field() {
    let mut entry = testbot_with("run_mode", json!("scheduled"));
    entry["schedule_time"] = json!("61 0 * * *");
    let daemon = with_bad_bot(entry);
    let out = configtest(&daemon, &[]);
    assert_invalid(
        &out,
        &[
            "bot config of bad is bad because",
            "schedule_time",
            "minute",
            "\"61\"",
        ],
    );
}

#[test]
fn schedule_time_on_a_stream_bot_is_bad() {
    let daemon = with_bad_bot(testbot_with("schedule_time", json!("0 * * * *")));
    let out = configtest(&daemon, &[]);
    assert_invalid(
        &out,
        &[
            "bot config of bad is bad because",
            "schedule_time",
            "scheduled",
        ],
    );
}

#[test]
fn a_module_not_on_path_is_bad() {
    let daemon = with_bad_bot(testbot_with("module", json!("intelmq-no-such-bot")));
    let out = configtest(&daemon, &[]);
    assert_invalid(
        &out,
        &[
            "bot config of bad is bad because",
            "module \"intelmq-no-such-bot\" is not an executable on PATH",
        ],
    );
}

#[test]
fn an_invalid_bot_id_in_runtime_conf_is_bad() {
    let daemon = Daemon::start(json!({"good": testbot(json!({})), "../x": testbot(json!({}))}));
    let out = configtest(&daemon, &[]);
    assert_invalid(&out, &["../x", "invalid bot id"]);
}

#[test]
fn pipeline_conf_naming_an_unconfigured_bot_is_bad() {
    let daemon = json_daemon(json!({"bot": testbot(json!({}))}));
    daemon.write_config_text(
        "pipeline.conf",
        "{\"bot\": {\"destination-queues\": [\"ghost-queue\"]}, \"ghost\": {\"source-queue\": \"ghost-queue\"}}\n",
    );
    let out = configtest(&daemon, &[]);
    assert_invalid(&out, &["ghost", "pipeline.conf", "not in runtime.conf"]);
}

#[test]
fn a_running_bot_removed_from_runtime_conf_is_bad() {
    let daemon = Daemon::start(json!({"bot": testbot(json!({})), "other": testbot(json!({}))}));
    let pid = daemon.start_bot("bot");
    daemon.write_runtime_conf(&json!({"other": testbot(json!({}))}));
    let runtime_before = daemon.read_runtime_conf_text();

    let out = configtest(&daemon, &[]);
    assert_invalid(
        &out,
        &["bot config of bot is bad because", "intelmqctl stop bot"],
    );
    // configtest only looks.
    assert_eq!(daemon.status_pid("bot"), Some(pid));
    assert_eq!(daemon.read_runtime_conf_text(), runtime_before);
}

#[test]
fn configtest_of_one_bot_checks_only_that_bot() {
    let daemon = with_bad_bot(testbot_with("run_mode", json!("sometimes")));
    let out = configtest(&daemon, &["good"]);
    out.expect_code(0);
    assert!(
        out.stdout.contains("The configuration is valid."),
        "{out:?}"
    );
    assert!(
        !out.stdout.contains("bad"),
        "another bot was checked: {out:?}"
    );

    let out = configtest(&daemon, &["bad"]);
    assert_invalid(&out, &["bot config of bad is bad because", "sometimes"]);

    let (out, reply) = configtest_json(&daemon, &["good"]);
    out.expect_code(0);
    let bots: Vec<&str> = reply["result"]["bots"]
        .as_array()
        .map(|bots| bots.iter().filter_map(|b| b["bot_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(bots, vec!["good"], "{reply}");

    let out = configtest(&daemon, &["nobody"]);
    out.expect_code(1);
    assert!(out.stderr.contains("no bot \"nobody\""), "{out:?}");
}

#[test]
fn json_configtest_has_valid_files_and_bots() {
    let mut scheduled = testbot_with("run_mode", json!("scheduled"));
    scheduled["schedule_time"] = json!("61 0 * * *");
    let daemon = json_daemon(json!({"good": testbot(json!({})), "cron": scheduled}));
    daemon.write_config_text("defaults.conf", "{\"stop_timeout\": \n");

    let (out, reply) = configtest_json(&daemon, &[]);
    out.expect_code(1);
    assert_eq!(out.stderr, "", "--json puts everything on stdout: {out:?}");
    assert_eq!(reply["ok"], false, "{reply}");
    assert_eq!(reply["error"]["kind"], "invalid-config", "{reply}");
    let result = &reply["result"];
    assert_eq!(result["kind"], "configtest", "{reply}");
    assert_eq!(result["valid"], false, "{reply}");
    let files: Vec<(String, bool)> = result["files"]
        .as_array()
        .expect("files is an array")
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap_or_default().to_string(),
                f["valid"].as_bool().expect("valid is a boolean"),
            )
        })
        .collect();
    assert_eq!(
        files,
        vec![
            ("runtime.conf".to_string(), true),
            ("defaults.conf".to_string(), false),
            ("pipeline.conf".to_string(), true),
        ],
        "{reply}"
    );
    assert_eq!(problems_of(&reply, "good"), Vec::<String>::new(), "{reply}");
    let problems = problems_of(&reply, "cron");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("minute") && p.contains("\"61\"")),
        "{reply}"
    );
}

#[test]
fn status_shows_invalid_in_the_configtest_column() {
    let mut bad_schedule = testbot_with("run_mode", json!("scheduled"));
    bad_schedule["schedule_time"] = json!("61 0 * * *");
    let daemon = Daemon::start(json!({
        "good": testbot(json!({})),
        "mode": testbot_with("run_mode", json!("sometimes")),
        "cron": bad_schedule,
        "nomodule": testbot_with("module", json!("intelmq-no-such-bot")),
    }));
    let out = daemon.ctl(&["status"]);
    out.expect_code(0);
    let headers = intelmqd_tests::table_headers(&out.stdout);
    assert_eq!(
        headers.last().map(String::as_str),
        Some("configtest"),
        "{out:?}"
    );
    let column = |id: &str| {
        table_row(&out.stdout, id)
            .and_then(|row| row.last().cloned())
            .unwrap_or_else(|| panic!("no row of {id}: {out:?}"))
    };
    assert_eq!(column("good"), "valid", "{out:?}");
    for id in ["mode", "cron", "nomodule"] {
        assert_eq!(column(id), "invalid", "{id}: {out:?}");
        let status = daemon.status_json(id);
        assert_eq!(status["configtest"], "invalid", "{status}");
        assert!(
            status["problems"].as_array().is_some_and(|p| !p.is_empty()),
            "{status}"
        );
    }
    // An invalid bot is never started.
    let out = daemon.ctl(&["start", "mode"]);
    out.expect_code(1);
    assert!(out.stderr.contains("configtest mode"), "{out:?}");
    daemon.wait_until(TIMEOUT, "mode is still stopped", || {
        daemon.status_json("mode")["status"] == "stopped"
    });
}
