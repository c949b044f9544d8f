//! IntelMQ's web API, intelmq-api 3.2.0, configured to call intelmqd's
//! `intelmqctl`: its HTTP endpoints answer what the daemon says and act on the
//! daemon's bots. The botnet is made of test bots (intelmq-api only runs
//! `intelmqctl --type json ...` and needs neither redis nor IntelMQ's bots).
//!
//! They need the venv with intelmq-api that `.ci/intelmq-setup.sh` sets up,
//! found through `INTELMQD_TEST_INTELMQ_VENV`. Without that variable they are
//! skipped (with a note on stderr), except in CI (`CI=true`), where they fail.

use intelmqd_tests::intelmq_api_helpers::{HttpResponse, IntelmqApi};
use intelmqd_tests::intelmq_helpers::venv_or_skip;
use intelmqd_tests::{fast_stop_defaults, testbot, Daemon};
use serde_json::{json, Map, Value};

/// A test bot entry with IntelMQ's `group`.
fn grouped(group: &str, botnet: bool, parameters: Value) -> Value {
    let mut entry = testbot(parameters);
    entry["group"] = json!(group);
    entry["botnet"] = json!(botnet);
    entry
}

/// One bot of each group in the botnet, the collector logging a few ticks
/// (so that its log has lines to show), and an expert outside the botnet.
fn runtime() -> Value {
    json!({
        "collector": grouped("Collector", true, json!({"log_every": 0.05, "ticks": 3})),
        "parser": grouped("Parser", true, json!({})),
        "expert": grouped("Expert", true, json!({})),
        "spare-expert": grouped("Expert", false, json!({})),
        "output": grouped("Output", true, json!({})),
    })
}

/// The API and the daemon it calls. The API drops first, so that no
/// intelmqctl call is under way when the daemon goes.
struct Setup {
    api: IntelmqApi,
    daemon: Daemon,
}

/// `None` (the test is skipped) without the venv, see the module docs.
fn start(test: &str) -> Option<Setup> {
    let venv = venv_or_skip(test)?;
    let daemon = Daemon::builder()
        .runtime(runtime())
        .defaults(fast_stop_defaults())
        .start();
    let api = IntelmqApi::start(&venv, &daemon);
    Some(Setup { api, daemon })
}

/// IntelMQ's word for each bot, from the daemon's own `intelmqctl --json
/// status --all`: a bot whose process runs is `running`, one that does not is
/// `stopped`, or `disabled` when it is not in the botnet.
fn daemon_words(daemon: &Daemon) -> Map<String, Value> {
    let status = daemon.ctl(&["--json", "status", "--all"]);
    status.expect_code(0);
    let document = status.json();
    let bots = document.as_array().expect("status is a list of bots");
    bots.iter()
        .map(|bot| {
            let word = if bot["status"] == json!("running") {
                "running"
            } else if bot["botnet"] == json!(false) {
                "disabled"
            } else {
                "stopped"
            };
            let id = bot["bot_id"].as_str().expect("a bot id");
            (id.to_owned(), json!(word))
        })
        .collect()
}

/// `GET /v1/api/<endpoint>`, which must answer 200 with JSON.
#[track_caller]
fn api_json(setup: &Setup, endpoint: &str) -> Value {
    setup.api.get(&format!("/v1/api/{endpoint}")).ok_json()
}

/// intelmq-api's answer when intelmqctl wrote on stderr or nothing on
/// stdout: HTTP 500 with `{"tip", "message", "command"}`, the message being
/// intelmqctl's stderr. Checks the shape and that the command ends in
/// `expected_args`; returns the message.
#[track_caller]
fn intelmqctl_error(answer: &HttpResponse, expected_args: &str) -> String {
    assert_eq!(answer.status, 500, "HTTP status, body: {}", answer.body);
    let error = answer.json();
    assert_eq!(error["tip"], json!(""), "{error}");
    let command = error["command"].as_str().expect("the command");
    assert!(
        command.ends_with(&format!(" --type json {expected_args}")),
        "{error}"
    );
    error["message"].as_str().expect("a message").to_owned()
}

#[test]
fn botnet_endpoints_report_start_and_stop_every_bot() {
    let Some(setup) = start("botnet_endpoints_report_start_and_stop_every_bot") else {
        return;
    };
    let daemon = &setup.daemon;
    let all_stopped = json!({"collector": "stopped", "expert": "stopped", "output": "stopped",
                             "parser": "stopped", "spare-expert": "disabled"});
    let status = api_json(&setup, "botnet?action=status");
    assert_eq!(status, all_stopped);
    assert_eq!(status, Value::Object(daemon_words(daemon)));

    let started = api_json(&setup, "botnet?action=start");
    let all_running = json!({"collector": "running", "expert": "running", "output": "running",
                             "parser": "running", "spare-expert": "disabled"});
    assert_eq!(started, all_running);
    assert_eq!(Value::Object(daemon_words(daemon)), all_running);
    assert_eq!(api_json(&setup, "botnet?action=status"), all_running);

    // `group=botnet` is the whole botnet; the other groups are the entries'
    // `group`.
    assert_eq!(
        api_json(&setup, "botnet?action=status&group=botnet"),
        all_running
    );
    assert_eq!(
        api_json(&setup, "botnet?action=status&group=experts"),
        json!({"expert": "running", "spare-expert": "disabled"})
    );
    assert_eq!(
        api_json(&setup, "botnet?action=stop&group=outputs"),
        json!({"output": "stopped"})
    );
    let words = daemon_words(daemon);
    assert_eq!(words["output"], json!("stopped"));
    assert_eq!(words["collector"], json!("running"));

    assert_eq!(api_json(&setup, "botnet?action=stop"), all_stopped);
    assert_eq!(Value::Object(daemon_words(daemon)), all_stopped);
    for bot_id in ["collector", "parser", "expert", "output"] {
        assert_eq!(daemon.status_pid(bot_id), None, "{bot_id} still has a pid");
    }
}

#[test]
fn bot_endpoints_act_on_one_bot_with_intelmqs_words() {
    let Some(setup) = start("bot_endpoints_act_on_one_bot_with_intelmqs_words") else {
        return;
    };
    let daemon = &setup.daemon;
    assert_eq!(api_json(&setup, "bot?action=status&id=parser"), "stopped");
    assert_eq!(
        api_json(&setup, "bot?action=status&id=spare-expert"),
        "disabled"
    );

    assert_eq!(api_json(&setup, "bot?action=start&id=parser"), "running");
    let started_pid = daemon.wait_started("parser");
    assert_eq!(api_json(&setup, "bot?action=status&id=parser"), "running");
    assert_eq!(daemon_words(daemon)["parser"], json!("running"));

    // The testbot logs each SIGHUP it gets: the API's reload reached the bot,
    // which kept running as the same process.
    assert_eq!(api_json(&setup, "bot?action=reload&id=parser"), "running");
    daemon.wait_for_log("parser", " - reloaded (count 1)");
    assert_eq!(daemon.status_pid("parser"), Some(started_pid));

    assert_eq!(
        api_json(&setup, "bot?action=restart&id=parser"),
        json!(["stopped", "running"])
    );
    let restarted_pid = daemon.wait_started("parser");
    assert_ne!(restarted_pid, started_pid, "restart kept the old process");

    assert_eq!(api_json(&setup, "bot?action=stop&id=parser"), "stopped");
    assert_eq!(daemon.status_pid("parser"), None);
    assert_eq!(daemon_words(daemon)["parser"], json!("stopped"));

    // An unknown bot: intelmqctl's reason on stderr becomes the API's error.
    let unknown = setup.api.get("/v1/api/bot?action=status&id=nobody");
    let message = intelmqctl_error(&unknown, "status nobody");
    assert!(message.contains("no bot \"nobody\""), "{message}");
}

#[test]
fn getlog_check_version_and_debug_endpoints_answer_from_the_daemon() {
    let Some(setup) = start("getlog_check_version_and_debug_endpoints_answer_from_the_daemon")
    else {
        return;
    };
    let daemon = &setup.daemon;
    daemon.start_bot("collector");
    daemon.wait_for_log("collector", " - tick 3");

    let entries = api_json(&setup, "getlog?id=collector&lines=2");
    let entries = entries.as_array().expect("getlog answers a list");
    let messages: Vec<&Value> = entries.iter().map(|entry| &entry["message"]).collect();
    assert_eq!(
        messages,
        [&json!("tick 2"), &json!("tick 3")],
        "{entries:?}"
    );
    // `2024-05-01 10:00:00,123 - collector - INFO - tick 3` in the bot's log.
    let logged = daemon.log_of("collector");
    let last_line = logged
        .lines()
        .rfind(|line| line.ends_with(" - tick 3"))
        .expect("tick 3 is logged");
    let (day, time) = last_line[..23].split_once(' ').expect("a logged time");
    let (seconds, millis) = time.split_once(',').expect("milliseconds");
    // Python's isoformat(), as IntelMQ's: no fraction when it is zero.
    let date = if millis == "000" {
        format!("{day}T{seconds}")
    } else {
        format!("{day}T{seconds}.{millis}000")
    };
    assert_eq!(
        entries[1],
        json!({"date": date, "bot_id": "collector",
               "thread_id": null, "log_level": "INFO", "message": "tick 3"})
    );
    assert_eq!(
        api_json(&setup, "getlog?id=collector&lines=10&level=ERROR"),
        json!([])
    );
    assert_eq!(
        api_json(&setup, "getlog?id=parser&lines=10")[0]["message"],
        json!("No log file exists (yet).")
    );

    let check = api_json(&setup, "check");
    assert_eq!(check["status"], json!("success"), "{check}");
    let lines = check["lines"].as_array().expect("check has lines");
    assert!(!lines.is_empty(), "{check}");
    for line in lines {
        let pair = line.as_array().expect("a line is [level, text]");
        assert!(
            pair.len() == 2 && pair.iter().all(Value::is_string),
            "{check}"
        );
    }

    let version = daemon.ctl(&["--version"]);
    version.expect_code(0);
    assert_eq!(
        api_json(&setup, "version"),
        json!({"intelmq": version.stdout.trim(), "intelmq-api": "3.2.0"})
    );

    let debug = api_json(&setup, "debug");
    let config_dir = debug["paths"]["CONFIG_DIR"].as_str().expect("CONFIG_DIR");
    assert_eq!(
        std::path::Path::new(config_dir),
        daemon.config_dir,
        "{debug}"
    );
    // intelmqctl runs in the API's environment.
    assert_eq!(
        debug["environment_variables"]["INTELMQ_ROOT_DIR"],
        json!(setup.api.intelmq_root),
        "{debug}"
    );

    // harmonization and positions find their files in the CONFIG_DIR of
    // `intelmqctl --type json debug --get-paths`, the daemon's config dir.
    assert_eq!(api_json(&setup, "harmonization"), json!({}));
    let harmonization = json!({"event": {"source.ip": {"type": "IPAddress",
                                                       "description": "The IP"}}});
    std::fs::write(
        daemon.config_dir.join("harmonization.conf"),
        harmonization.to_string(),
    )
    .expect("write harmonization.conf");
    assert_eq!(api_json(&setup, "harmonization"), harmonization);

    assert_eq!(api_json(&setup, "positions"), json!({}));
    let positions = json!({"collector": {"x": 10, "y": 20}, "parser": {"x": 30, "y": 40}});
    let saved = setup.api.post_json("/v1/api/positions", &positions);
    assert_eq!((saved.status, saved.body.as_str()), (200, "success"));
    let written = std::fs::read_to_string(daemon.config_dir.join("manager/positions.conf"))
        .expect("the API wrote manager/positions.conf in the daemon's config dir");
    assert_eq!(
        serde_json::from_str::<Value>(&written).expect("JSON"),
        positions
    );
    assert_eq!(api_json(&setup, "positions"), positions);
}

#[test]
fn queue_endpoints_answer_with_intelmq_apis_error_naming_intelmqs_own_tool() {
    let Some(setup) =
        start("queue_endpoints_answer_with_intelmq_apis_error_naming_intelmqs_own_tool")
    else {
        return;
    };
    for (endpoint, args) in [
        ("queues", "list queues"),
        ("queues-and-status", "list queues-and-status"),
        ("bots", "list bots"),
        ("clear?id=parser-queue", "clear parser-queue"),
    ] {
        let answer = setup.api.get(&format!("/v1/api/{endpoint}"));
        let message = intelmqctl_error(&answer, args);
        assert!(
            message.contains("intelmqd manages bot processes only")
                && message.contains("IntelMQ's own intelmqctl"),
            "{endpoint}: {message}"
        );
    }
    // None of it touched the bots.
    let words = daemon_words(&setup.daemon);
    assert!(
        words.values().all(|word| word != "running"),
        "{words:?} after the queue endpoints"
    );
}
