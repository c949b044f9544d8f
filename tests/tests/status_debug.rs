//! What `status` shows, and running a bot in the foreground with `debug`.

use intelmqd_tests::{testbot, Daemon};
use serde_json::json;

fn has_line_ending(text: &str, end: &str) -> bool {
    text.lines().any(|line| line.ends_with(end))
}

#[test]
fn status_of_one_bot_shows_the_last_ten_log_lines() {
    let daemon = Daemon::start(json!({
        "ticker": testbot(json!({"log_every": 0.01, "ticks": 15})),
    }));
    daemon.start_bot("ticker");
    daemon.wait_for_log("ticker", " - tick 15");

    let out = daemon.ctl(&["status", "ticker"]);
    out.expect_code(0);
    assert!(
        out.stdout.contains("Last 10 log lines of ticker:"),
        "{out:?}"
    );
    for n in 6..=15 {
        assert!(
            has_line_ending(&out.stdout, &format!(" - tick {n}")),
            "tick {n} missing: {out:?}"
        );
    }
    for n in 1..=5 {
        assert!(
            !has_line_ending(&out.stdout, &format!(" - tick {n}")),
            "tick {n} shown: {out:?}"
        );
    }
    assert!(!out.stdout.contains("started (pid"), "{out:?}");
}

#[test]
fn json_status_is_an_array_of_bots_with_the_documented_keys() {
    let daemon = Daemon::start(json!({
        "runner": testbot(json!({})),
        "idler": testbot(json!({})),
    }));
    let pid = daemon.start_bot("runner");

    let out = daemon.ctl(&["--json", "status"]);
    out.expect_code(0);
    let bots = out.json();
    let bots = bots
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {out:?}"));
    assert_eq!(bots.len(), 2, "{out:?}");
    for bot in bots {
        for key in [
            "bot_id",
            "run_mode",
            "schedule_time",
            "botnet",
            "status",
            "onboot",
            "configtest",
            "pid",
        ] {
            assert!(bot.get(key).is_some(), "{key} missing in {bot}");
        }
        assert_eq!(bot["run_mode"], "stream", "{bot}");
        assert_eq!(bot["schedule_time"], json!(null), "{bot}");
        assert_eq!(bot["botnet"], true, "{bot}");
        assert_eq!(bot["onboot"], false, "{bot}");
        assert_eq!(bot["configtest"], "valid", "{bot}");
    }
    let find = |id: &str| {
        bots.iter()
            .find(|bot| bot["bot_id"] == id)
            .unwrap_or_else(|| panic!("{id} missing: {out:?}"))
    };
    assert_eq!(find("runner")["status"], "running");
    assert_eq!(find("runner")["pid"], pid);
    assert_eq!(find("idler")["status"], "stopped");
    assert_eq!(find("idler")["pid"], json!(null));
}

#[test]
fn debug_is_refused_while_the_bot_runs_and_runs_it_in_the_foreground_otherwise() {
    let daemon = Daemon::start(json!({
        "busy": testbot(json!({})),
        "foreground": testbot(json!({"exit_after": 0.3, "exit_code": 5})),
    }));
    daemon.start_bot("busy");
    let out = daemon.ctl(&["debug", "busy"]);
    out.expect_code(1);
    assert!(
        !out.stderr.trim().is_empty(),
        "the refusal says why: {out:?}"
    );
    assert_eq!(daemon.bot_processes().len(), 1, "debug started nothing");

    let out = daemon.ctl(&["debug", "foreground"]);
    out.expect_code(5);
    assert!(
        out.stdout.contains(" - foreground - INFO - started (pid "),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains(" - foreground - INFO - exiting with code 5"),
        "{out:?}"
    );
    assert_eq!(daemon.status_json("foreground")["status"], "stopped");
}
