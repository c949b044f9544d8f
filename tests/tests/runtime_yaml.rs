//! IntelMQ 3.x's runtime.yaml as the whole configuration: the daemon reads
//! its bots and `global:` settings, runs and schedules the bots, and writes
//! the YAML file itself (flags, a removed bot written back) keeping the
//! operator's comments and layout.

use intelmqd_tests::{pid_alive, table_row, Daemon, TIMEOUT};
use serde_json::Value;

/// The `global:` section: IntelMQ's keys plus the daemon's, and the tests'
/// bot user when they run as root (the daemon runs bots as root only when
/// told so).
fn global_section() -> String {
    let mut global = String::from(
        "global:\n  destination_pipeline_broker: redis\n  logging_level: INFO\n  \
         process_manager: pid\n  stop_timeout: 1\n",
    );
    if nix::unistd::Uid::effective().is_root() {
        global.push_str("  bot_user: root\n");
    }
    global
}

/// A runtime.yaml laid out as IntelMQ writes it, with an operator's comments:
/// a stream bot in the botnet (IntelMQ's `enabled: true`), a scheduled bot
/// that runs once a year, and a bot outside the botnet.
fn runtime_yaml() -> String {
    format!(
        "\
# Operator's note: keep this comment.
collector:
  bot_id: collector
  description: Collects.
  enabled: true
  group: Collector
  module: intelmq-testbot
  name: Collector
  parameters:
    destination_queues:
      _default:
      - parser-queue
    note: collector
  run_mode: continuous
fetcher:
  enabled: true
  module: intelmq-testbot
  parameters:
    run_for: 0.1
  run_mode: scheduled
  schedule_time: 0 0 1 1 *
idle:
  enabled: false   # not yet
  module: intelmq-testbot
  onboot: true
  parameters: {{}}
  run_mode: continuous
{}",
        global_section()
    )
}

fn yaml_daemon() -> Daemon {
    Daemon::builder().runtime_yaml(&runtime_yaml()).start()
}

/// `intelmqctl --json status --all`, one object a bot.
fn status_rows(daemon: &Daemon) -> Vec<Value> {
    let out = daemon.ctl(&["--json", "status", "--all"]);
    out.expect_code(0);
    out.json().as_array().cloned().unwrap_or_default()
}

fn row<'r>(rows: &'r [Value], bot_id: &str) -> &'r Value {
    rows.iter()
        .find(|row| row["bot_id"] == bot_id)
        .unwrap_or_else(|| panic!("no {bot_id} in {rows:?}"))
}

#[test]
fn status_lists_the_bots_of_runtime_yaml_with_their_modes() {
    let daemon = yaml_daemon();
    let rows = status_rows(&daemon);
    let ids: Vec<&str> = rows.iter().filter_map(|r| r["bot_id"].as_str()).collect();
    assert_eq!(ids, ["collector", "fetcher", "idle"], "global is not a bot");
    assert_eq!(row(&rows, "collector")["run_mode"], "stream");
    assert_eq!(row(&rows, "collector")["botnet"], true);
    assert_eq!(row(&rows, "fetcher")["run_mode"], "scheduled");
    assert_eq!(row(&rows, "fetcher")["schedule_time"], "0 0 1 1 *");
    assert_eq!(row(&rows, "idle")["botnet"], false);
    for row in &rows {
        assert_eq!(row["configtest"], "valid", "{row}");
    }
    let stderr = daemon.stderr();
    assert!(
        stderr.contains("the configuration is read from runtime.yaml"),
        "{stderr}"
    );
    let out = daemon.ctl(&["configtest"]);
    out.expect_code(0);
    assert!(!out.all_output().contains("runtime.conf"), "{out:?}");
}

#[test]
fn a_stream_bot_starts_and_stops_and_a_scheduled_bot_is_scheduled() {
    let daemon = yaml_daemon();
    let pid = daemon.start_bot("collector");
    assert!(pid_alive(pid));
    let out = daemon.ctl(&["stop", "collector"]);
    out.expect_code(0);
    assert!(out.stdout.contains("collector is stopped."), "{out:?}");
    assert!(!pid_alive(pid), "collector still runs");

    let out = daemon.ctl(&["start", "fetcher"]);
    out.expect_code(0);
    assert!(
        out.stdout
            .contains("fetcher is scheduled and will run at this time: `0 0 1 1 *`"),
        "{out:?}"
    );
    assert_eq!(daemon.status_json("fetcher")["status"], "running");
}

#[test]
fn add_to_botnet_and_enable_write_runtime_yaml_keeping_its_comments() {
    let daemon = yaml_daemon();
    let before = daemon.read_runtime_yaml_text();

    let out = daemon.ctl(&["add-to-botnet", "idle"]);
    out.expect_code(0);
    assert!(
        out.stdout
            .contains("botnet of idle is now true in runtime.yaml."),
        "{out:?}"
    );
    let expected = before.replacen(
        "  run_mode: continuous\nglobal:",
        "  run_mode: continuous\n  botnet: true\nglobal:",
        1,
    );
    assert_eq!(daemon.read_runtime_yaml_text(), expected);
    let backup = daemon.config_dir.join("runtime.yaml.bak");
    assert_eq!(std::fs::read_to_string(&backup).ok(), Some(before));
    assert_eq!(daemon.status_json("idle")["botnet"], true);

    // Under the PID process manager enable sets onboot to false: in place.
    let out = daemon.ctl(&["enable", "idle"]);
    out.expect_code(0);
    let expected = expected.replacen("  onboot: true\n", "  onboot: false\n", 1);
    assert_eq!(daemon.read_runtime_yaml_text(), expected);
    assert!(expected.contains("# Operator's note: keep this comment.\n"));
    assert!(expected.contains("  enabled: false   # not yet\n"));
}

#[test]
fn stop_writes_back_a_running_bot_removed_from_runtime_yaml() {
    let daemon = yaml_daemon();
    let pid = daemon.start_bot("collector");
    let original = daemon.read_runtime_yaml_text();
    let start = original.find("collector:\n").expect("the entry");
    let end = original.find("fetcher:\n").expect("the next entry");
    let entry_text = &original[start..end];

    // The operator removes the running bot; the watcher reads the file.
    let mark = daemon.stderr_mark();
    let without = original.replacen(entry_text, "", 1);
    daemon.write_config_text("runtime.yaml", &without);
    daemon.wait_for_stderr(mark, TIMEOUT, &["runtime.yaml read"]);

    let out = daemon.ctl(&["status", "--all"]);
    out.expect_code(0);
    let row = table_row(&out.stdout, "collector").expect("a row of collector");
    assert_eq!(row[4], "running (unstable)", "{out:?}");

    let out = daemon.ctl(&["stop", "collector"]);
    out.expect_code(0);
    assert!(!pid_alive(pid), "collector still runs: {out:?}");
    let after = daemon.read_runtime_yaml_text();
    assert!(
        after.starts_with(&without),
        "the rest is not kept:\n{after}"
    );
    let restored = &after[without.len()..];
    assert!(restored.starts_with("collector:\n"), "{after}");
    for line in entry_text.lines().skip(1) {
        assert!(restored.contains(line), "{line:?} is missing:\n{after}");
    }
    // The daemon reads its own write back as the bot's configuration.
    let status = daemon.status_json("collector");
    assert_eq!(status["status"], "stopped", "{status}");
    assert_eq!(status["configtest"], "valid", "{status}");
}
