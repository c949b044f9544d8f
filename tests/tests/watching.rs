//! The daemon watches its configuration directory: an edit of the runtime
//! file (runtime.conf or runtime.yaml) is seen within a second without any
//! intelmqctl call (the daemon's log says so), a broken edit is reported and
//! the last good configuration kept, and watching never acts on a bot.

use std::time::{Duration, Instant};

use intelmqd_tests::{pid_alive, table_row, testbot, ConfigFormat, Daemon, TIMEOUT};
use serde_json::json;

/// The daemon promises to see an edit within a second; twice that leaves
/// room for a loaded machine without hiding a daemon that only looks at the
/// files when asked.
const WATCH_DEADLINE: Duration = Duration::from_secs(2);

/// The runtime file's text, in the daemon's format, with a test bot a bot id.
fn runtime_text(daemon: &Daemon, bot_ids: &[&str]) -> String {
    let bots: serde_json::Map<String, serde_json::Value> = bot_ids
        .iter()
        .map(|id| (id.to_string(), testbot(json!({}))))
        .collect();
    daemon.runtime_text_of(&serde_json::Value::Object(bots))
}

/// The bot ids `intelmqctl list` shows.
fn listed(daemon: &Daemon) -> Vec<String> {
    let out = daemon.ctl(&["--json", "list"]);
    out.expect_code(0);
    out.json()
        .as_array()
        .expect("list is an array")
        .iter()
        .filter_map(|row| row["bot_id"].as_str().map(str::to_string))
        .collect()
}

/// Waits, without asking the daemon anything, until it logs that it read
/// the runtime file after `mark`; returns how long that took.
#[track_caller]
fn wait_for_runtime_read(daemon: &Daemon, mark: usize) -> Duration {
    let start = Instant::now();
    let read = format!("{} read", daemon.runtime_file());
    daemon.wait_for_stderr(mark, WATCH_DEADLINE, &[&read]);
    start.elapsed()
}

#[test]
fn a_rename_over_is_seen_without_a_command() {
    let daemon = Daemon::start(json!({"old": testbot(json!({}))}));
    let mark = daemon.stderr_mark();
    let temporary = daemon
        .config_dir
        .join(format!("{}.tmp", daemon.runtime_file()));
    std::fs::write(&temporary, runtime_text(&daemon, &["old", "new"]))
        .expect("write the temporary file");
    std::fs::rename(&temporary, daemon.runtime_conf_path())
        .expect("rename it over the runtime file");
    wait_for_runtime_read(&daemon, mark);
    assert_eq!(listed(&daemon), vec!["new", "old"]);
}

#[test]
fn an_in_place_write_is_seen_without_a_command() {
    let daemon = Daemon::start(json!({"old": testbot(json!({}))}));
    let inode = std::fs::metadata(daemon.runtime_conf_path())
        .map(|meta| std::os::unix::fs::MetadataExt::ino(&meta))
        .expect("stat runtime.conf");
    let mark = daemon.stderr_mark();
    daemon.write_runtime_conf_in_place(&runtime_text(&daemon, &["old", "new"]));
    wait_for_runtime_read(&daemon, mark);
    assert_eq!(
        std::fs::metadata(daemon.runtime_conf_path())
            .map(|meta| std::os::unix::fs::MetadataExt::ino(&meta))
            .ok(),
        Some(inode),
        "the test wrote a new file instead of writing in place"
    );
    assert_eq!(listed(&daemon), vec!["new", "old"]);
}

#[test]
fn a_delete_and_a_new_write_are_seen_without_a_command() {
    let daemon = Daemon::start(json!({"old": testbot(json!({}))}));
    let text = runtime_text(&daemon, &["new"]);
    let mark = daemon.stderr_mark();
    std::fs::remove_file(daemon.runtime_conf_path()).expect("delete the runtime file");
    // Without runtime.yaml the daemon looks for the JSON files: runtime.conf
    // is then the file missing, in either format.
    daemon.wait_for_stderr(mark, WATCH_DEADLINE, &["runtime.conf does not exist"]);

    let mark = daemon.stderr_mark();
    std::fs::write(daemon.runtime_conf_path(), text).expect("write the runtime file again");
    wait_for_runtime_read(&daemon, mark);
    assert_eq!(listed(&daemon), vec!["new"]);
}

#[test]
fn a_broken_edit_is_logged_and_the_last_good_configuration_is_kept() {
    let daemon = Daemon::start(json!({"bot": testbot(json!({})), "other": testbot(json!({}))}));
    let broken = daemon.format().broken_runtime();
    let good_text = runtime_text(&daemon, &["bot", "third"]);
    let mark = daemon.stderr_mark();
    daemon.write_runtime_file_text(broken.text);
    let line = daemon.wait_for_stderr(mark, WATCH_DEADLINE, &[daemon.runtime_file(), broken.words]);
    assert!(line.contains("ERROR"), "logged as an error: {line}");
    assert!(line.contains(broken.line), "the line is named: {line}");
    assert!(
        line.contains("keeping the last good configuration"),
        "{line}"
    );

    // The old bots are still configured, and can be started.
    assert_eq!(listed(&daemon), vec!["bot", "other"]);
    let out = daemon.ctl(&["start", "other"]);
    out.expect_code(0);
    assert!(out.stdout.contains("other is running."), "{out:?}");
    let warning = format!("warning: {} is {}", daemon.runtime_file(), broken.words);
    assert!(
        out.stdout.contains(&warning),
        "the answer says why the old configuration is used: {out:?}"
    );
    // (The test bot then reads the broken file for its parameters and exits
    // with 2, as a real bot would fail; that is the bot's doing.)
    daemon.wait_until(TIMEOUT, "the started bot writes to its log", || {
        !daemon.log_of("other").is_empty()
    });

    // A good edit is taken again.
    let mark = daemon.stderr_mark();
    daemon.write_runtime_file_text(&good_text);
    wait_for_runtime_read(&daemon, mark);
    assert_eq!(listed(&daemon), vec!["bot", "third"]);
}

#[test]
fn watching_never_acts_on_a_bot() {
    let daemon = Daemon::start(json!({"bot": testbot(json!({})), "other": testbot(json!({}))}));
    let pid = daemon.start_bot("bot");

    let mark = daemon.stderr_mark();
    let without_bot = runtime_text(&daemon, &["other"]);
    daemon.write_runtime_file_text(&without_bot);
    let line = daemon.wait_for_stderr(mark, WATCH_DEADLINE, &["bot is running (unstable)"]);
    assert!(line.contains("intelmqctl stop bot"), "{line}");

    // Another edit after it, seen too: by now the daemon has handled the
    // removal, and still nothing was done to the bot or to the runtime file.
    // (pipeline.conf where the daemon reads it; else the runtime file once
    // more, with the same bots in another layout.)
    let mark = daemon.stderr_mark();
    let without_bot = match daemon.format() {
        ConfigFormat::Json => {
            daemon.write_config_text("pipeline.conf", "{\"other\": {}}\n");
            daemon.wait_for_stderr(mark, WATCH_DEADLINE, &["pipeline.conf read"]);
            without_bot
        }
        ConfigFormat::Yaml => {
            let edited = format!("# edited\n{without_bot}");
            daemon.write_runtime_file_text(&edited);
            wait_for_runtime_read(&daemon, mark);
            edited
        }
    };
    assert!(pid_alive(pid), "the removed bot was stopped");
    assert_eq!(daemon.bot_processes(), vec![pid]);
    assert_eq!(
        daemon.read_runtime_conf_text(),
        without_bot,
        "the daemon wrote the runtime file without a command"
    );
    assert!(
        !daemon.log_of("bot").contains("received"),
        "the bot got a signal:\n{}",
        daemon.log_of("bot")
    );

    // status shows it as unstable and changes nothing either.
    let out = daemon.ctl(&["status"]);
    out.expect_code(0);
    let row = table_row(&out.stdout, "bot").expect("a row of the removed bot");
    assert_eq!(row[4], "running (unstable)", "{out:?}");
    assert_eq!(daemon.read_runtime_conf_text(), without_bot);
    assert_eq!(daemon.status_pid("bot"), Some(pid));

    // A command is what writes it back.
    let out = daemon.ctl(&["start"]);
    out.expect_code(0);
    assert!(daemon.runtime_entry("bot").is_some(), "{out:?}");
    assert_eq!(daemon.status_pid("bot"), Some(pid));
}
