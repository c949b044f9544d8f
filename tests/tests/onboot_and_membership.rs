//! Changing a bot's configuration through the daemon: `add-to-botnet`,
//! `remove-from-botnet`, `enable` and `disable` change one value of
//! runtime.conf and leave the rest of the file and the bot's process as they
//! are; and `list`.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use intelmqd_tests::botnet_helpers::{
    effective_state, rows_by_id, runtime_backup_text, runtime_text, table_rows,
};
use intelmqd_tests::{pid_alive, Daemon};
use serde_json::{json, Value};

/// An IntelMQ-style runtime.conf (four spaces, IntelMQ's keys and parameters),
/// with placeholders `@NAME@` for the values the tests change.
const TEMPLATE: &str = r#"{
    "deduplicator-expert": {
        "bot_id": "deduplicator-expert",
        "description": "Deduplicator is the bot responsible for detection and removal of duplicate messages.",
        "enabled": true,
        "group": "Expert",
        "groupname": "experts",
        "module": "intelmq-testbot",
        "name": "Deduplicator",
        "botnet": @DEDUP_BOTNET@,
        "onboot": @DEDUP_ONBOOT@,
        "parameters": {
            "filter_keys": "raw,time.observation",
            "filter_type": "blacklist",
            "redis_cache_db": 6,
            "redis_cache_host": "127.0.0.1",
            "redis_cache_ttl": 86400
        },
        "run_mode": "stream"
    },
    "file-output": {
        "bot_id": "file-output",
        "description": "File is the bot responsible to send events to a file.",
        "enabled": true,
        "group": "Output",
        "groupname": "outputs",
        "module": "intelmq-testbot",
        "name": "File",
        "botnet": @OUTPUT_BOTNET@,
        "onboot": @OUTPUT_ONBOOT@,
        "parameters": {
            "file": "/opt/intelmq/var/lib/bots/file-output/events.txt",
            "hierarchical_output": false,
            "single_key": null
        },
        "run_mode": "stream"
    },
    "shadowserver-collector": {
        "bot_id": "shadowserver-collector",
        "description": "Shadowserver reports, collected on a schedule.",
        "group": "Collector",
        "groupname": "collectors",
        "module": "intelmq-testbot",
        "name": "Shadowserver Reports API",
        "botnet": @COLLECTOR_BOTNET@,
        "parameters": {
            "run_for": 0.2,
            "country": "at",
            "rate_limit": 86400
        },
        "run_mode": "scheduled",
        "schedule_time": "0 3 * * *"
    },
    "taxonomy-expert": {
        "bot_id": "taxonomy-expert",
        "description": "Taxonomy is the bot responsible to apply the eCSIRT Taxonomy to all events.",
        "enabled": false,
        "group": "Expert",
        "groupname": "experts",
        "module": "intelmq-testbot",
        "name": "Taxonomy",
        "parameters": {},
        "run_mode": "stream"
    }
}
"#;

/// The placeholders of [`TEMPLATE`] and the values a fresh file has.
const INITIAL: [(&str, &str); 5] = [
    ("@DEDUP_BOTNET@", "false"),
    ("@DEDUP_ONBOOT@", "true"),
    ("@OUTPUT_BOTNET@", "true"),
    ("@OUTPUT_ONBOOT@", "true"),
    ("@COLLECTOR_BOTNET@", "true"),
];

/// [`TEMPLATE`] with the initial values, but those in `changes`.
fn runtime_with(changes: &[(&str, &str)]) -> String {
    let mut text = TEMPLATE.to_owned();
    for (placeholder, initial) in INITIAL {
        let value = changes
            .iter()
            .find(|(name, _)| *name == placeholder)
            .map_or(initial, |(_, value)| *value);
        text = text.replace(placeholder, value);
    }
    assert!(!text.contains('@'), "a placeholder is left: {text}");
    text
}

fn daemon() -> Daemon {
    let daemon = Daemon::builder().runtime_text(&runtime_with(&[])).start();
    assert_eq!(runtime_text(&daemon), runtime_with(&[]));
    daemon
}

/// Identifies a file's content as written: (inode, mtime ns, text).
fn file_identity(path: &Path) -> (u64, i64, String) {
    let meta = std::fs::metadata(path).expect("stat a file");
    let text = std::fs::read_to_string(path).expect("read a file");
    (
        meta.ino(),
        meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        text,
    )
}

fn runtime_identity(daemon: &Daemon) -> (u64, i64, String) {
    file_identity(&daemon.config_dir.join("runtime.conf"))
}

/// The first line of a text that differs from another's, for messages.
fn first_difference(expected: &str, actual: &str) -> String {
    for (n, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
        if e != a {
            return format!("line {}: expected {e:?}, found {a:?}", n + 1);
        }
    }
    format!(
        "{} lines expected, {} found",
        expected.lines().count(),
        actual.lines().count()
    )
}

#[track_caller]
fn assert_runtime_is(daemon: &Daemon, expected: &str) {
    let actual = runtime_text(daemon);
    assert!(
        actual == expected,
        "runtime.conf is not as expected ({}):\n{actual}",
        first_difference(expected, &actual)
    );
}

fn added_message(bot_id: &str) -> String {
    format!("{bot_id} runtime configuration has been changed in order to add the bot to the botnet but the bot will keep")
}

fn removed_message(bot_id: &str) -> String {
    format!("{bot_id} runtime configuration has been changed in order to remove the bot from the botnet but the bot will keep")
}

/// The end of both membership messages. The spec words it "will keep is
/// current status"; the daemon says "its", which is what the spec means.
const MESSAGE_END: &str = "current status (running or stopped). Please check bot current status and then perform, if needs, the action to start/stop/restart";

#[track_caller]
fn assert_says(out: &intelmqd_tests::CtlOutput, start: &str) {
    assert!(
        out.stdout
            .lines()
            .any(|line| line.starts_with(start) && line.ends_with(MESSAGE_END)),
        "the spec's message {start:?}...: {out:?}"
    );
}

const PID_NO_ONBOOT: &str = "IntelMQ is configured with process management as PID, therefore enabling a bot onboot is not supported. Please use systemd process management instead.";

#[test]
fn add_to_botnet_changes_one_value_and_leaves_a_running_bot_running() {
    let daemon = daemon();
    let pid = daemon.start_bot("deduplicator-expert");
    let before = runtime_text(&daemon);

    let out = daemon.ctl(&["add-to-botnet", "deduplicator-expert"]);
    out.expect_code(0);
    assert_says(&out, &added_message("deduplicator-expert"));
    assert_runtime_is(&daemon, &runtime_with(&[("@DEDUP_BOTNET@", "true")]));
    assert_eq!(
        runtime_backup_text(&daemon).as_deref(),
        Some(before.as_str()),
        "runtime.conf.bak holds the previous text"
    );
    // The process is untouched.
    assert_eq!(daemon.status_pid("deduplicator-expert"), Some(pid));
    assert!(pid_alive(pid));
    assert_eq!(daemon.bot_processes(), vec![pid]);
    let status = daemon.status_json("deduplicator-expert");
    assert_eq!(status["botnet"], true, "{status}");
    assert_eq!(status["status"], "running", "{status}");
    // The effective configuration follows.
    let effective = effective_state(&daemon);
    assert_eq!(
        effective["bots"]["deduplicator-expert"]["config"]["botnet"], true,
        "{effective}"
    );
    // Status does not take it for a bot whose configuration drifted.
    let out_status = daemon.ctl(&["status", "deduplicator-expert"]);
    out_status.expect_code(0);
    assert!(!out_status.stdout.contains("unstable"), "{out_status:?}");

    // Again: already so, and the file is not written.
    let written = runtime_identity(&daemon);
    let out = daemon.ctl(&["add-to-botnet", "deduplicator-expert"]);
    out.expect_code(0);
    assert!(
        out.stdout.contains("already"),
        "says it already is in the botnet: {out:?}"
    );
    assert_eq!(runtime_identity(&daemon), written, "runtime.conf untouched");
    assert_eq!(
        runtime_backup_text(&daemon).as_deref(),
        Some(before.as_str())
    );
    assert_eq!(daemon.status_pid("deduplicator-expert"), Some(pid));

    // Now in the botnet: a botnet stop stops it.
    let out = daemon.ctl(&["--json", "stop"]);
    out.expect_code(0);
    let rows = rows_by_id(&out.json());
    assert_eq!(rows["deduplicator-expert"]["action"], "stopped", "{out:?}");
    assert!(!pid_alive(pid));
}

/// Running `add-to-botnet` on a bot already in the botnet must not claim that
/// its configuration "has been changed".
#[test]
fn add_to_botnet_twice_does_not_say_it_changed_anything() {
    let daemon = daemon();
    daemon
        .ctl(&["add-to-botnet", "deduplicator-expert"])
        .expect_code(0);
    let out = daemon.ctl(&["add-to-botnet", "deduplicator-expert"]);
    out.expect_code(0);
    assert!(out.stdout.contains("already"), "{out:?}");
    assert!(
        !out.stdout.contains("has been changed"),
        "nothing was changed, yet the output says so: {out:?}"
    );
    let out = daemon.ctl(&["--json", "remove-from-botnet", "taxonomy-expert"]);
    out.expect_code(0);
    let reply = out.json();
    let rows = rows_by_id(&reply);
    assert_eq!(rows["taxonomy-expert"]["action"], "unchanged", "{reply}");
    assert!(
        !out.stdout.contains("has been changed"),
        "nothing was changed, yet the output says so: {out:?}"
    );
}

#[test]
fn remove_from_botnet_changes_one_value_and_leaves_the_bots_as_they_are() {
    let daemon = daemon();
    let pid = daemon.start_bot("file-output");
    daemon.ctl(&["stop", "file-output"]).expect_code(0);
    let collector = daemon.ctl(&["--json", "start", "shadowserver-collector"]);
    collector.expect_code(0);
    assert_eq!(
        daemon.status_json("shadowserver-collector")["status"],
        "running",
        "on its schedule"
    );
    let running = daemon.start_bot("deduplicator-expert");
    assert!(!pid_alive(pid));
    let before = runtime_text(&daemon);

    // A stopped bot.
    let out = daemon.ctl(&["remove-from-botnet", "file-output"]);
    out.expect_code(0);
    assert_says(&out, &removed_message("file-output"));
    let expected = runtime_with(&[("@OUTPUT_BOTNET@", "false")]);
    assert_runtime_is(&daemon, &expected);
    assert_eq!(
        runtime_backup_text(&daemon).as_deref(),
        Some(before.as_str())
    );
    let status = daemon.status_json("file-output");
    assert_eq!(status["status"], "stopped", "{status}");
    assert_eq!(status["botnet"], false, "{status}");
    assert_eq!(
        daemon.log_of("file-output").matches("started (pid").count(),
        1,
        "not started again"
    );
    let effective = effective_state(&daemon);
    if let Some(bot) = effective["bots"].get("file-output") {
        assert_eq!(bot["config"]["botnet"], false, "{effective}");
    }

    // A scheduled bot on its schedule.
    let out = daemon.ctl(&["remove-from-botnet", "shadowserver-collector"]);
    out.expect_code(0);
    assert_says(&out, &removed_message("shadowserver-collector"));
    let expected_both = runtime_with(&[
        ("@OUTPUT_BOTNET@", "false"),
        ("@COLLECTOR_BOTNET@", "false"),
    ]);
    assert_runtime_is(&daemon, &expected_both);
    assert_eq!(
        runtime_backup_text(&daemon).as_deref(),
        Some(expected.as_str()),
        "the backup is the text before this change"
    );
    let status = daemon.status_json("shadowserver-collector");
    assert_eq!(status["status"], "running", "still scheduled: {status}");
    assert_eq!(status["botnet"], false, "{status}");
    let effective = effective_state(&daemon);
    assert_eq!(
        effective["bots"]["shadowserver-collector"]["config"]["botnet"], false,
        "{effective}"
    );

    // Twice: already so; nothing written.
    let written = runtime_identity(&daemon);
    let out = daemon.ctl(&["remove-from-botnet", "shadowserver-collector"]);
    out.expect_code(0);
    assert!(out.stdout.contains("already"), "{out:?}");
    assert_eq!(runtime_identity(&daemon), written, "runtime.conf untouched");

    // Out of the botnet: a botnet stop leaves it on its schedule.
    let out = daemon.ctl(&["--json", "stop"]);
    out.expect_code(0);
    let rows = rows_by_id(&out.json());
    assert!(
        !rows.contains_key("shadowserver-collector") && !rows.contains_key("file-output"),
        "{out:?}"
    );
    assert_eq!(
        daemon.status_json("shadowserver-collector")["status"],
        "running"
    );
    assert_eq!(daemon.status_pid("deduplicator-expert"), Some(running));
}

#[test]
fn add_to_botnet_writes_an_absent_key_next_to_its_siblings() {
    let daemon = daemon();
    let before = runtime_text(&daemon);
    // taxonomy-expert has no botnet key and `enabled: false`: not in the botnet.
    assert_eq!(daemon.status_json("taxonomy-expert")["botnet"], false);

    let out = daemon.ctl(&["add-to-botnet", "taxonomy-expert"]);
    out.expect_code(0);
    assert_says(&out, &added_message("taxonomy-expert"));
    let after = runtime_text(&daemon);
    // Exactly one line more, the new member at the entry's indentation; the
    // line before it may get the comma JSON needs, and nothing else changes.
    let strip = |line: &str| line.trim_end_matches(',').to_owned();
    let old_lines: Vec<String> = before.lines().map(strip).collect();
    let new_lines: Vec<String> = after.lines().map(strip).collect();
    assert_eq!(
        new_lines.len(),
        old_lines.len() + 1,
        "one line more:\n{after}"
    );
    let at = (0..old_lines.len())
        .find(|&i| new_lines[i] != old_lines[i])
        .unwrap_or(old_lines.len());
    assert_eq!(new_lines[at], "        \"botnet\": true", "{after}");
    assert_eq!(
        new_lines[at + 1..],
        old_lines[at..],
        "nothing else changed:\n{after}"
    );
    assert!(
        old_lines[..at]
            .iter()
            .any(|line| line == "    \"taxonomy-expert\": {"),
        "inserted into taxonomy-expert's entry:\n{after}"
    );
    let mut expected: Value = serde_json::from_str(&before).expect("JSON");
    expected["taxonomy-expert"]["botnet"] = json!(true);
    assert_eq!(daemon.read_runtime_conf(), expected);
    assert_eq!(daemon.status_json("taxonomy-expert")["botnet"], true);
    assert_eq!(
        runtime_backup_text(&daemon).as_deref(),
        Some(before.as_str())
    );
}

#[test]
fn enable_under_pid_sets_onboot_false_and_says_why() {
    let daemon = daemon();
    let pid = daemon.start_bot("deduplicator-expert");
    let before = runtime_text(&daemon);

    // Explicit true becomes false.
    let out = daemon.ctl(&["enable", "deduplicator-expert"]);
    out.expect_code(0);
    assert!(
        out.stdout
            .lines()
            .any(|line| line == format!("warning: {PID_NO_ONBOOT}")),
        "the spec's message: {out:?}"
    );
    assert_runtime_is(&daemon, &runtime_with(&[("@DEDUP_ONBOOT@", "false")]));
    assert_eq!(
        runtime_backup_text(&daemon).as_deref(),
        Some(before.as_str())
    );
    assert_eq!(daemon.status_pid("deduplicator-expert"), Some(pid));
    assert_eq!(daemon.status_json("deduplicator-expert")["onboot"], false);

    // An absent key stays absent.
    let written = runtime_identity(&daemon);
    let out = daemon.ctl(&["enable", "shadowserver-collector"]);
    out.expect_code(0);
    assert!(out.stdout.contains(PID_NO_ONBOOT), "{out:?}");
    assert_eq!(runtime_identity(&daemon), written, "runtime.conf untouched");
    assert_eq!(
        daemon.status_json("shadowserver-collector")["onboot"],
        false
    );

    // disable: an absent key stays absent too; true becomes false.
    let out = daemon.ctl(&["disable", "shadowserver-collector"]);
    out.expect_code(0);
    assert_eq!(runtime_identity(&daemon), written, "runtime.conf untouched");
    let out = daemon.ctl(&["disable", "file-output"]);
    out.expect_code(0);
    assert!(!out.stdout.contains(PID_NO_ONBOOT), "{out:?}");
    assert_runtime_is(
        &daemon,
        &runtime_with(&[("@DEDUP_ONBOOT@", "false"), ("@OUTPUT_ONBOOT@", "false")]),
    );
    assert_eq!(daemon.status_pid("deduplicator-expert"), Some(pid));
    assert_eq!(daemon.status_json("file-output")["status"], "stopped");
}

#[test]
fn enable_and_disable_without_an_id_act_on_the_botnet() {
    let daemon = daemon();

    // enable: the botnet is file-output and shadowserver-collector; the
    // deduplicator (onboot true, not in the botnet) is left alone.
    let out = daemon.ctl(&["--json", "enable"]);
    out.expect_code(0);
    let reply = out.json();
    let rows = rows_by_id(&reply);
    assert_eq!(
        rows.keys().map(String::as_str).collect::<Vec<_>>(),
        ["file-output", "shadowserver-collector"],
        "{reply}"
    );
    assert_eq!(rows["file-output"]["action"], "updated", "{reply}");
    assert_eq!(
        rows["shadowserver-collector"]["action"], "unchanged",
        "{reply}"
    );
    assert!(reply.to_string().contains(PID_NO_ONBOOT), "{reply}");
    assert_runtime_is(&daemon, &runtime_with(&[("@OUTPUT_ONBOOT@", "false")]));

    // disable: after add-to-botnet the deduplicator is in it.
    daemon
        .ctl(&["add-to-botnet", "deduplicator-expert"])
        .expect_code(0);
    let out = daemon.ctl(&["disable"]);
    out.expect_code(0);
    let rows = table_rows(&out.stdout);
    let ids: Vec<&str> = rows[1..].iter().map(|row| row[0].as_str()).collect();
    assert_eq!(
        ids,
        [
            "deduplicator-expert",
            "file-output",
            "shadowserver-collector"
        ],
        "{out:?}"
    );
    assert_runtime_is(
        &daemon,
        &runtime_with(&[
            ("@OUTPUT_ONBOOT@", "false"),
            ("@DEDUP_BOTNET@", "true"),
            ("@DEDUP_ONBOOT@", "false"),
        ]),
    );
    assert!(daemon.bot_processes().is_empty(), "nothing was started");
}

#[test]
fn list_shows_every_configured_bot() {
    let daemon = daemon();
    daemon.start_bot("deduplicator-expert");

    let out = daemon.ctl(&["list"]);
    out.expect_code(0);
    let rows = table_rows(&out.stdout);
    assert_eq!(
        rows,
        [
            vec![
                "bot_id",
                "run_mode",
                "scheduled_time (if applicable)",
                "is on botnet"
            ],
            vec!["deduplicator-expert", "stream", "-", "false"],
            vec!["file-output", "stream", "-", "true"],
            vec!["shadowserver-collector", "scheduled", "0 3 * * *", "true"],
            vec!["taxonomy-expert", "stream", "-", "false"],
        ],
        "{out:?}"
    );

    let out = daemon.ctl(&["--json", "list"]);
    out.expect_code(0);
    assert_eq!(
        out.json(),
        json!([
            {"bot_id": "deduplicator-expert", "run_mode": "stream", "schedule_time": null, "botnet": false},
            {"bot_id": "file-output", "run_mode": "stream", "schedule_time": null, "botnet": true},
            {"bot_id": "shadowserver-collector", "run_mode": "scheduled", "schedule_time": "0 3 * * *", "botnet": true},
            {"bot_id": "taxonomy-expert", "run_mode": "stream", "schedule_time": null, "botnet": false},
        ]),
        "{out:?}"
    );

    // list follows runtime.conf.
    daemon
        .ctl(&["add-to-botnet", "taxonomy-expert"])
        .expect_code(0);
    let out = daemon.ctl(&["--json", "list"]);
    out.expect_code(0);
    assert_eq!(out.json()[3]["botnet"], true, "{out:?}");
}
