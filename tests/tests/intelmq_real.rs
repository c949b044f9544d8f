//! Real IntelMQ 3.5 bots under intelmqd: a pipeline that delivers, a botnet
//! stop that leaves nothing behind, a scheduled collector on its ticks, and a
//! crash that status shows.
//!
//! They need the venv, redis-server and the user `intelmq` that
//! `.ci/intelmq-setup.sh` sets up, found through `INTELMQD_TEST_INTELMQ_VENV`.
//! Without that variable they are skipped (with a note on stderr), except in
//! CI (`CI=true`), where they fail.

use intelmqd_tests::intelmq_helpers::{
    json_status, venv_bot_processes, venv_or_skip, ConfigFiles, Installation, Mode, RealBot, Redis,
    CSV_PARSER, FILE_COLLECTOR, FILE_OUTPUT, FILTER_EXPERT, PIPELINE_TIMEOUT,
};
use intelmqd_tests::{Daemon, TIMEOUT};
use serde_json::{json, Value};
use std::path::Path;

/// The daemon's global settings for real bots (runtime.yaml's `global:`):
/// as root, bots run as `intelmq`, as IntelMQ itself insists.
fn defaults() -> Value {
    if nix::unistd::Uid::effective().is_root() {
        json!({"process_manager": "pid", "stop_timeout": 5, "bot_user": "intelmq"})
    } else {
        json!({"process_manager": "pid", "stop_timeout": 5})
    }
}

/// A daemon with the venv's bin on PATH and `INTELMQ_ROOT_DIR` pointing at
/// the test's IntelMQ installation, that installation prepared, and a redis.
/// Fields drop in order: the daemon and its bots first, then redis, then the
/// installation's directory.
struct RealSetup {
    daemon: Daemon,
    installation: Installation,
    redis: Redis,
    _base: tempfile::TempDir,
}

fn start(venv: &Path) -> RealSetup {
    // INTELMQ_ROOT_DIR is in the daemon's environment from its start, so the
    // installation lives beside the fixture's directory, not in it.
    let base = tempfile::Builder::new()
        .prefix("imq-root-")
        .tempdir_in("/tmp")
        .expect("a temporary directory under /tmp");
    let installation = Installation::under(base.path());
    let daemon = Daemon::builder()
        .defaults(defaults())
        .path_prefix(venv.join("bin"))
        .env("INTELMQ_ROOT_DIR", &installation.root)
        .start();
    let redis = Redis::start(base.path());
    installation.prepare(&daemon, venv);
    RealSetup {
        daemon,
        installation,
        redis,
        _base: base,
    }
}

fn pipeline(installation: &Installation) -> Vec<RealBot> {
    vec![
        RealBot::stream(
            "file-collector",
            FILE_COLLECTOR,
            json!({
                "path": installation.spool,
                "postfix": ".csv",
                "delete_file": true,
                "rate_limit": 1,
                "name": "Test Feed",
                "provider": "intelmqd tests",
                "destination_queues": {"_default": ["csv-parser-queue"]},
            }),
        ),
        RealBot::stream(
            "csv-parser",
            CSV_PARSER,
            json!({
                "columns": ["time.source", "source.ip", "source.fqdn"],
                "delimiter": ",",
                "type": "scanner",
                "destination_queues": {"_default": ["filter-expert-queue"]},
            }),
        ),
        RealBot::stream(
            "filter-expert",
            FILTER_EXPERT,
            json!({
                "filter_action": "keep",
                "filter_key": "source.fqdn",
                "filter_regex": true,
                "filter_value": "\\.example\\.com$",
                "destination_queues": {"_default": ["file-output-queue"]},
            }),
        ),
        RealBot::stream(
            "file-output",
            FILE_OUTPUT,
            json!({
                "file": installation.output_dir.join("events.txt"),
                "hierarchical_output": false,
            }),
        ),
    ]
}

/// runtime.yaml, with the runtime.conf and defaults.conf of an older
/// installation beside it: the daemon reads runtime.yaml (the stale files put
/// every bot outside the botnet) and says that runtime.conf is ignored.
#[test]
fn real_pipeline_delivers_filtered_events_and_stops_cleanly() {
    let Some(venv) = venv_or_skip("real_pipeline_delivers_filtered_events_and_stops_cleanly")
    else {
        return;
    };
    run_pipeline(&venv, ConfigFiles::YamlBesideStaleConf);
}

#[test]
fn real_pipeline_from_runtime_yaml_only() {
    let Some(venv) = venv_or_skip("real_pipeline_from_runtime_yaml_only") else {
        return;
    };
    run_pipeline(&venv, ConfigFiles::YamlOnly);
}

fn run_pipeline(venv: &Path, files: ConfigFiles) {
    let setup = start(venv);
    let (daemon, installation, redis) = (&setup.daemon, &setup.installation, &setup.redis);
    let bots = pipeline(installation);
    installation.write_config(daemon, &bots, redis.port, &defaults(), files);
    let configtest = daemon.ctl(&["configtest"]);
    assert_eq!(
        configtest.all_output().contains("runtime.conf is ignored"),
        files == ConfigFiles::YamlBesideStaleConf,
        "configtest names a runtime.conf beside runtime.yaml, and only then:\n{configtest:?}"
    );

    daemon.ctl(&["start"]).expect_code(0);
    for bot in &bots {
        assert_eq!(
            json_status(daemon, bot.id)["status"],
            json!("running"),
            "{} runs after botnet start",
            bot.id
        );
    }

    // The line the filter drops comes first: once the kept one is in the
    // output, the other has been through the filter too.
    installation.drop_csv(
        "scan",
        "2024-05-01T10:00:00+00:00,192.0.2.11,scanner.example.net\n\
         2024-05-01T10:00:01+00:00,192.0.2.10,scanner.example.com\n",
    );
    let output = installation.output_dir.join("events.txt");
    daemon.wait_until(
        PIPELINE_TIMEOUT,
        "the filtered event is in the output file",
        || std::fs::read_to_string(&output).is_ok_and(|text| text.contains("scanner.example.com")),
    );
    let delivered = std::fs::read_to_string(&output).expect("read the output file");
    let event: Value = serde_json::from_str(delivered.lines().next().unwrap_or_default())
        .unwrap_or_else(|error| panic!("the output is not JSON lines: {error}\n{delivered}"));
    assert_eq!(event["source.ip"], json!("192.0.2.10"), "{delivered}");
    assert_eq!(event["feed.name"], json!("Test Feed"), "{delivered}");
    assert!(
        !delivered.contains("scanner.example.net"),
        "the filter dropped the other line:\n{delivered}"
    );
    assert_eq!(delivered.lines().count(), 1, "{delivered}");

    // `log` shows the bot's own IntelMQ log, once, without the copies the
    // bot writes to stdout/stderr (they go to <bot_id>.output.log).
    let log = daemon.ctl(&["log", "file-output", "-n", "200"]);
    log.expect_code(0);
    assert!(
        log.stdout.contains(" - file-output - INFO - "),
        "IntelMQ's log lines:\n{log:?}"
    );
    let initialized = log
        .stdout
        .lines()
        .filter(|line| line.ends_with("Bot initialization completed."))
        .count();
    assert_eq!(initialized, 1, "one start, logged once:\n{log:?}");
    let own_log = std::fs::read_to_string(daemon.log_dir.join("file-output.log"))
        .expect("IntelMQ's log file of file-output");
    assert!(
        !own_log
            .lines()
            .any(|line| line.starts_with("file-output: ")),
        "no stdout/stderr copies in the bot's log:\n{own_log}"
    );
    let copies = std::fs::read_to_string(daemon.log_dir.join("file-output.output.log"))
        .expect("the bot's stdout/stderr file");
    assert!(copies.contains("file-output: "), "{copies}");

    let pids: Vec<u32> = bots
        .iter()
        .filter_map(|bot| daemon.status_pid(bot.id))
        .collect();
    assert_eq!(pids.len(), bots.len(), "every bot has a pid");
    daemon.ctl(&["stop"]).expect_code(0);
    for bot in &bots {
        assert_eq!(
            json_status(daemon, bot.id)["status"],
            json!("stopped"),
            "{} stopped",
            bot.id
        );
    }
    let left = venv_bot_processes(venv, &daemon.config_dir);
    assert!(left.is_empty(), "bot processes left after stop: {left:?}");
    for pid in pids {
        assert!(!intelmqd_tests::pid_alive(pid), "bot pid {pid} still runs");
    }
}

#[test]
fn real_scheduled_collector_runs_at_its_ticks() {
    let Some(venv) = venv_or_skip("real_scheduled_collector_runs_at_its_ticks") else {
        return;
    };
    let setup = start(&venv);
    let (daemon, installation, redis) = (&setup.daemon, &setup.installation, &setup.redis);
    let collector = RealBot {
        mode: Mode::Scheduled("*/2 * * * * *"),
        ..RealBot::stream(
            "scheduled-collector",
            FILE_COLLECTOR,
            json!({
                "path": installation.spool,
                "postfix": ".csv",
                "delete_file": true,
                "name": "Scheduled Feed",
                "provider": "intelmqd tests",
                "destination_queues": {"_default": ["csv-parser-queue"]},
            }),
        )
    };
    installation.write_config(
        daemon,
        &[collector],
        redis.port,
        &defaults(),
        ConfigFiles::YamlOnly,
    );
    daemon.ctl(&["start", "scheduled-collector"]).expect_code(0);
    installation.drop_csv(
        "tick",
        "2024-05-01T10:00:00+00:00,192.0.2.10,a.example.com\n",
    );

    let mut status = Value::Null;
    daemon.wait_until(
        PIPELINE_TIMEOUT,
        "the scheduled collector ran twice, each run ending with code 0",
        || {
            status = json_status(daemon, "scheduled-collector");
            status["schedule"]["runs"].as_u64().unwrap_or(0) >= 2
        },
    );
    assert_eq!(
        status["schedule"]["last_run_exit"]["code"],
        json!(0),
        "{status}"
    );
    assert!(
        !installation.spool.join("tick.csv").exists(),
        "a run read and deleted the spooled file"
    );
    let log = daemon.ctl(&["log", "scheduled-collector", "-n", "500"]);
    let runs_logged = log
        .stdout
        .lines()
        .filter(|line| line.ends_with("Bot initialization completed."))
        .count();
    assert!(runs_logged >= 2, "each run is in the bot's log:\n{log:?}");

    daemon.ctl(&["stop", "scheduled-collector"]).expect_code(0);
    assert_eq!(
        json_status(daemon, "scheduled-collector")["status"],
        json!("stopped")
    );
    let left = venv_bot_processes(&venv, &daemon.config_dir);
    assert!(left.is_empty(), "bot processes left after stop: {left:?}");
}

#[test]
fn real_bot_crash_shows_in_status() {
    let Some(venv) = venv_or_skip("real_bot_crash_shows_in_status") else {
        return;
    };
    let setup = start(&venv);
    let (daemon, installation, redis) = (&setup.daemon, &setup.installation, &setup.redis);
    let broken = RealBot {
        restart: Some("no"),
        ..RealBot::stream(
            "broken-collector",
            FILE_COLLECTOR,
            json!({
                "path": installation.root.join("no-such-spool"),
                "postfix": ".csv",
                "delete_file": true,
                "name": "Broken Feed",
                "destination_queues": {"_default": ["csv-parser-queue"]},
            }),
        )
    };
    installation.write_config(
        daemon,
        &[broken],
        redis.port,
        &defaults(),
        ConfigFiles::YamlOnly,
    );
    daemon.ctl(&["start", "broken-collector"]).expect_code(0);

    let mut status = Value::Null;
    daemon.wait_until(
        TIMEOUT * 3,
        "status shows that broken-collector exited with code 1",
        || {
            status = json_status(daemon, "broken-collector");
            status["last_exit"]["code"] == json!(1)
        },
    );
    assert_eq!(status["status"], json!("stopped"), "{status}");
    let table = daemon.ctl(&["status", "broken-collector"]);
    assert!(
        table.all_output().contains("exited with code 1"),
        "the human status says how it ended:\n{table:?}"
    );
    let log = daemon.ctl(&["log", "broken-collector", "--level", "ERROR"]);
    assert!(
        log.stdout.contains("no-such-spool"),
        "the log says what was wrong:\n{log:?}"
    );
}
