//! Bot ids and configuration files that are wrong.

use intelmqd_tests::{testbot, Daemon, TIMEOUT};
use serde_json::json;

#[test]
fn an_unknown_bot_is_an_error_naming_the_bot() {
    let daemon = Daemon::start(json!({"bot": testbot(json!({}))}));
    let out = daemon.ctl(&["start", "no-such-bot"]);
    out.expect_code(1);
    assert!(out.stderr.contains("no-such-bot"), "{out:?}");
}

#[test]
fn an_invalid_bot_id_is_a_usage_error() {
    let daemon = Daemon::start(json!({"bot": testbot(json!({}))}));
    let out = daemon.ctl(&["start", "../x"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("../x") && out.stderr.contains("bot id"),
        "the message names the id and says what is wrong: {out:?}"
    );

    // The daemon refuses it too, for clients that do not check.
    let reply: serde_json::Value = serde_json::from_str(
        &daemon.request(r#"{"v":1,"id":9,"command":"start","bot_id":"../x"}"#),
    )
    .expect("a JSON reply");
    assert_eq!(reply["ok"], false, "{reply}");
    assert_eq!(reply["error"]["kind"], "invalid-bot-id", "{reply}");
    assert!(!daemon.state_dir.join("../x.pid").exists());
}

#[test]
fn invalid_runtime_conf_at_start_is_reported_and_the_daemon_serves() {
    let daemon = Daemon::builder().runtime_with_syntax_error().start();
    let broken = daemon.format().broken_runtime();
    let reply: serde_json::Value =
        serde_json::from_str(&daemon.request(r#"{"v":1,"id":1,"command":"status"}"#))
            .expect("status answers with JSON");
    assert_eq!(reply["type"], "response", "{reply}");
    let out = daemon.ctl(&["status"]);
    assert!(matches!(out.code, Some(0 | 1)), "status answers: {out:?}");
    daemon.wait_until(
        TIMEOUT,
        &format!(
            "intelmqd's stderr says that {} is {}",
            daemon.runtime_file(),
            broken.words
        ),
        || {
            daemon.stderr().lines().any(|line| {
                line.contains(daemon.runtime_file())
                    && line.contains(broken.words)
                    && line.contains(broken.line)
            })
        },
    );
}

#[test]
fn invalid_runtime_conf_while_running_keeps_the_last_good_configuration() {
    let daemon = Daemon::start(json!({"bot": testbot(json!({}))}));
    assert_eq!(daemon.status_json("bot")["status"], "stopped");
    let stderr_before = daemon.stderr().len();
    let broken = daemon.format().broken_runtime();

    daemon.write_runtime_file_text(broken.text);
    let out = daemon.ctl(&["start", "bot"]);
    out.expect_code(0);
    assert!(out.stdout.contains("bot is running."), "{out:?}");
    // The bot was started from the last good configuration. (The test bot
    // itself then reads the broken runtime file for its parameters, logs that
    // and exits with 2, as a real bot would fail: that is not the daemon's.)
    daemon.wait_until(TIMEOUT, "the started bot writes to its log", || {
        !daemon.log_of("bot").is_empty()
    });

    // The user sees why: the warning comes back with the answer, and the
    // daemon logs it.
    let warning = format!("warning: {} is {}", daemon.runtime_file(), broken.words);
    assert!(
        out.stdout.contains(&warning),
        "intelmqctl does not say that {} is invalid: {out:?}",
        daemon.runtime_file()
    );
    daemon.wait_until(
        TIMEOUT,
        &format!("intelmqd logs that {} is invalid", daemon.runtime_file()),
        || {
            daemon.stderr()[stderr_before..]
                .lines()
                .any(|line| line.contains(daemon.runtime_file()) && line.contains(broken.words))
        },
    );
}
