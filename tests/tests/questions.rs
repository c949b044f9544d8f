//! The daemon's questions during `reload` (spec: "reload checks" and
//! Scenario 3): answered by --yes/--no, by nobody (the default is taken), at a
//! real terminal, and over the raw protocol.

use std::collections::BTreeMap;

use intelmqd_tests::pty::PtyRun;
use intelmqd_tests::{
    botnet_of, fast_stop_defaults, pid_alive, testbot, CtlOutput, Daemon, TIMEOUT,
};
use serde_json::{json, Value};

/// A cron expression that is valid and far from now (1 January, midnight):
/// the scheduled bot waits on its schedule and does not run during the test.
const FAR_SCHEDULE: &str = "0 0 1 1 *";

/// The run_mode question for `bot_id`, as the daemon words it.
fn run_mode_question(bot_id: &str) -> String {
    format!(
        "{bot_id} is configured with a new run_mode therefore cannot be reload and it requires to be restarted in order to reload the new configuration. Do you want to restart the bot to apply the new run_mode? [Y/n]"
    )
}

/// Scenario 3's question.
fn stop_question(bot_id: &str) -> String {
    format!("Do you want to stop the bot with `bot_id: {bot_id}`? [N/y]")
}

/// A running stream bot `bot` whose runtime.conf entry then changed to
/// run_mode scheduled. Returns the daemon and the running pid.
fn bot_whose_run_mode_changed() -> (Daemon, u32) {
    let daemon = Daemon::builder()
        .runtime(json!({"bot": testbot(json!({}))}))
        .defaults(fast_stop_defaults())
        .start();
    let pid = daemon.start_bot("bot");
    let mut entry = testbot(json!({}));
    entry["run_mode"] = json!("scheduled");
    entry["schedule_time"] = json!(FAR_SCHEDULE);
    daemon.write_runtime_conf(&json!({"bot": entry}));
    (daemon, pid)
}

/// The bot was restarted into its new run mode: the old process is gone and
/// the bot waits on its schedule.
#[track_caller]
fn assert_restarted_as_scheduled(daemon: &Daemon, old_pid: u32, out: &CtlOutput) {
    daemon.wait_until(TIMEOUT, "the old stream process is gone", || {
        !pid_alive(old_pid)
    });
    let status = daemon.status_json("bot");
    assert_eq!(status["run_mode"], "scheduled", "{status}\n{out:?}");
    assert_eq!(status["schedule_time"], FAR_SCHEDULE, "{status}");
    assert_eq!(
        status["status"], "running",
        "a scheduled bot on its schedule: {status}"
    );
    assert_eq!(status["state"], "scheduled", "{status}");
    assert_eq!(
        status["pid"],
        Value::Null,
        "no process until the schedule's tick: {status}"
    );
    assert!(daemon.bot_processes().is_empty(), "a bot process runs");
    let table = daemon.ctl(&["status", "bot"]);
    table.expect_code(0);
    let row = intelmqd_tests::table_row(&table.stdout, "bot").expect("a row of bot");
    assert_eq!(row[1], "scheduled", "{table:?}");
    assert_eq!(row[2], FAR_SCHEDULE, "{table:?}");
    assert_eq!(row[4], "running", "{table:?}");
}

/// The bot kept running as it was: the same process, in stream mode.
#[track_caller]
fn assert_kept_running(daemon: &Daemon, pid: u32, out: &CtlOutput) {
    assert_eq!(daemon.status_pid("bot"), Some(pid), "{out:?}");
    assert!(pid_alive(pid), "the bot's process {pid} is gone: {out:?}");
    assert_eq!(daemon.bot_processes(), vec![pid]);
    assert!(
        !daemon.log_of("bot").contains("received SIGTERM"),
        "the bot was sent SIGTERM"
    );
}

#[test]
fn reload_yes_restarts_a_bot_whose_run_mode_changed() {
    let (daemon, pid) = bot_whose_run_mode_changed();
    let out = daemon.ctl(&["reload", "--yes", "bot"]);
    out.expect_code(0);
    assert!(
        out.stdout
            .contains(&format!("{} yes (--yes)", run_mode_question("bot"))),
        "the question and its answer are not shown: {out:?}"
    );
    assert_restarted_as_scheduled(&daemon, pid, &out);
    assert!(
        !daemon.log_of("bot").contains("reloaded"),
        "the bot was sent SIGHUP instead"
    );
}

#[test]
fn reload_no_keeps_a_bot_whose_run_mode_changed_running() {
    let (daemon, pid) = bot_whose_run_mode_changed();
    let out = daemon.ctl(&["reload", "--no", "bot"]);
    out.expect_code(0);
    assert!(
        out.stdout
            .contains(&format!("{} no (--no)", run_mode_question("bot"))),
        "the question and its answer are not shown: {out:?}"
    );
    assert!(
        out.stdout
            .contains("bot keeps running in its current run_mode."),
        "{out:?}"
    );
    assert_kept_running(&daemon, pid, &out);
    assert!(
        !daemon.log_of("bot").contains("reloaded"),
        "the bot was sent SIGHUP"
    );
}

#[test]
fn reload_without_a_terminal_takes_the_run_mode_questions_default_yes() {
    let (daemon, pid) = bot_whose_run_mode_changed();
    let out = daemon.ctl(&["reload", "bot"]);
    out.expect_code(0);
    assert!(
        out.stdout.contains(&run_mode_question("bot"))
            && out.stdout.contains("yes (")
            && out.stdout.contains("the default was taken"),
        "the output does not say that the default (Y) was taken: {out:?}"
    );
    assert_restarted_as_scheduled(&daemon, pid, &out);
}

/// my-bot-1 and my-bot-2 run; my-bot-1 is then removed from runtime.conf.
/// Returns the daemon, the pids and my-bot-1's entry as it was.
fn removed_running_bot() -> (Daemon, BTreeMap<&'static str, u32>, Value) {
    let daemon = Daemon::builder()
        .runtime(botnet_of(&["my-bot-1", "my-bot-2"]))
        .defaults(fast_stop_defaults())
        .start();
    let pids: BTreeMap<&str, u32> = ["my-bot-1", "my-bot-2"]
        .into_iter()
        .map(|id| (id, daemon.start_bot(id)))
        .collect();
    let mut runtime = daemon.read_runtime_conf();
    let entry = runtime
        .as_object_mut()
        .and_then(|bots| bots.remove("my-bot-1"))
        .expect("my-bot-1 is configured");
    daemon.write_runtime_conf(&runtime);
    (daemon, pids, entry)
}

/// "Y": my-bot-1 stopped, not written back, forgotten.
#[track_caller]
fn assert_stopped_and_forgotten(daemon: &Daemon, pids: &BTreeMap<&str, u32>, out: &CtlOutput) {
    daemon.wait_until(TIMEOUT, "my-bot-1's process is gone", || {
        !pid_alive(pids["my-bot-1"])
    });
    assert_eq!(
        daemon.runtime_entry("my-bot-1"),
        None,
        "written back: {out:?}"
    );
    let state = daemon.effective_state();
    assert!(
        state["bots"].get("my-bot-1").is_none(),
        "my-bot-1 is still in the effective state: {state}"
    );
    assert_eq!(daemon.status_pid("my-bot-2"), Some(pids["my-bot-2"]));
}

/// "N": my-bot-1 keeps running and is written back.
#[track_caller]
fn assert_kept_and_written_back(
    daemon: &Daemon,
    pids: &BTreeMap<&str, u32>,
    original: &Value,
    out: &CtlOutput,
) {
    assert_eq!(
        daemon.status_pid("my-bot-1"),
        Some(pids["my-bot-1"]),
        "{out:?}"
    );
    assert!(pid_alive(pids["my-bot-1"]), "{out:?}");
    assert!(
        !daemon.log_of("my-bot-1").contains("reloaded"),
        "my-bot-1 was sent SIGHUP"
    );
    assert_eq!(
        daemon.runtime_entry("my-bot-1").as_ref(),
        Some(original),
        "my-bot-1 is not written back as it was: {out:?}\n{}",
        daemon.read_runtime_conf_text()
    );
    assert_eq!(daemon.status_json("my-bot-1")["status"], "running");
}

#[test]
fn reload_yes_stops_and_forgets_a_running_bot_that_was_removed() {
    let (daemon, pids, _) = removed_running_bot();
    let out = daemon.ctl(&["reload", "--yes", "my-bot-1"]);
    out.expect_code(0);
    assert!(
        out.stdout
            .contains(&format!("{} yes (--yes)", stop_question("my-bot-1"))),
        "{out:?}"
    );
    assert_stopped_and_forgotten(&daemon, &pids, &out);
}

#[test]
fn reload_no_keeps_a_running_bot_that_was_removed_and_writes_it_back() {
    let (daemon, pids, original) = removed_running_bot();
    let out = daemon.ctl(&["reload", "--no", "my-bot-1"]);
    out.expect_code(0);
    assert!(
        out.stdout
            .contains(&format!("{} no (--no)", stop_question("my-bot-1"))),
        "{out:?}"
    );
    assert_kept_and_written_back(&daemon, &pids, &original, &out);
}

/// Runs `intelmqctl <args>` under a terminal, waits for `question` to
/// appear, types `typed`, and returns what it did.
fn answer_at_a_terminal(daemon: &Daemon, args: &[&str], question: &str, typed: &str) -> CtlOutput {
    let mut run = PtyRun::spawn(daemon.ctl_command(args));
    run.wait_for_screen(question, TIMEOUT);
    run.type_text(typed);
    run.wait(TIMEOUT)
}

#[test]
fn run_mode_question_answered_y_at_a_terminal_restarts_the_bot() {
    let (daemon, pid) = bot_whose_run_mode_changed();
    let out = answer_at_a_terminal(
        &daemon,
        &["reload", "bot"],
        &run_mode_question("bot"),
        "y\n",
    );
    out.expect_code(0);
    assert!(out.stdout.contains("yes (answered)"), "{out:?}");
    assert_restarted_as_scheduled(&daemon, pid, &out);
}

#[test]
fn run_mode_question_answered_n_at_a_terminal_keeps_the_bot() {
    let (daemon, pid) = bot_whose_run_mode_changed();
    let out = answer_at_a_terminal(
        &daemon,
        &["reload", "bot"],
        &run_mode_question("bot"),
        "n\n",
    );
    out.expect_code(0);
    assert!(out.stdout.contains("no (answered)"), "{out:?}");
    assert!(
        out.stdout
            .contains("bot keeps running in its current run_mode."),
        "{out:?}"
    );
    assert_kept_running(&daemon, pid, &out);
}

#[test]
fn run_mode_question_with_enter_at_a_terminal_takes_the_default_yes() {
    let (daemon, pid) = bot_whose_run_mode_changed();
    let out = answer_at_a_terminal(&daemon, &["reload", "bot"], &run_mode_question("bot"), "\n");
    out.expect_code(0);
    assert!(out.stdout.contains("yes (answered)"), "{out:?}");
    assert_restarted_as_scheduled(&daemon, pid, &out);
}

#[test]
fn stop_question_answered_y_at_a_terminal_stops_the_removed_bot() {
    let (daemon, pids, _) = removed_running_bot();
    let out = answer_at_a_terminal(
        &daemon,
        &["reload", "my-bot-1"],
        &stop_question("my-bot-1"),
        "y\n",
    );
    out.expect_code(0);
    assert!(out.stdout.contains("yes (answered)"), "{out:?}");
    assert_stopped_and_forgotten(&daemon, &pids, &out);
}

#[test]
fn stop_question_answered_n_at_a_terminal_keeps_the_removed_bot() {
    let (daemon, pids, original) = removed_running_bot();
    let out = answer_at_a_terminal(
        &daemon,
        &["reload", "my-bot-1"],
        &stop_question("my-bot-1"),
        "n\n",
    );
    out.expect_code(0);
    assert!(out.stdout.contains("no (answered)"), "{out:?}");
    assert_kept_and_written_back(&daemon, &pids, &original, &out);
}

#[test]
fn stop_question_with_enter_at_a_terminal_takes_the_default_no() {
    let (daemon, pids, original) = removed_running_bot();
    let out = answer_at_a_terminal(
        &daemon,
        &["reload", "my-bot-1"],
        &stop_question("my-bot-1"),
        "\n",
    );
    out.expect_code(0);
    assert!(out.stdout.contains("no (answered)"), "{out:?}");
    assert_kept_and_written_back(&daemon, &pids, &original, &out);
}

#[test]
fn a_botnet_reload_at_a_terminal_asks_about_the_removed_bot() {
    let (daemon, pids, original) = removed_running_bot();
    let out = answer_at_a_terminal(&daemon, &["reload"], &stop_question("my-bot-1"), "n\n");
    out.expect_code(0);
    daemon.wait_for_log("my-bot-2", "reloaded (count 1)");
    assert_kept_and_written_back(&daemon, &pids, &original, &out);
}

#[test]
fn a_question_over_the_raw_protocol_is_answered_with_an_answer_request() {
    let (daemon, pid) = bot_whose_run_mode_changed();
    let mut connection = daemon.connect();
    connection.send(
        b"{\"v\":1,\"id\":5,\"command\":\"reload\",\"bot_id\":\"bot\",\"answers\":\"ask\"}\n",
    );
    let line = connection.read_line();
    let question: Value = serde_json::from_str(&line).expect("the question line is JSON");
    assert_eq!(question["type"], "question", "{question}");
    assert_eq!(question["v"], 1, "{question}");
    assert_eq!(question["id"], 5, "{question}");
    assert_eq!(question["question"], 1, "{question}");
    assert_eq!(question["bot_id"], "bot", "{question}");
    assert_eq!(question["text"], run_mode_question("bot"), "{question}");
    assert_eq!(question["default"], true, "{question}");
    // Nothing happens while the question waits.
    assert_eq!(daemon.status_pid("bot"), Some(pid));

    let reply = connection.call(r#"{"v":1,"id":5,"command":"answer","question":1,"yes":true}"#);
    assert_eq!(reply["type"], "response", "{reply}");
    assert_eq!(reply["id"], 5, "{reply}");
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["result"]["bots"][0]["bot_id"], "bot", "{reply}");
    assert_eq!(reply["result"]["bots"][0]["action"], "restarted", "{reply}");
    let said: Vec<&str> = reply["messages"]
        .as_array()
        .map(|messages| messages.iter().filter_map(|m| m["text"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        said.iter().any(|text| text.ends_with("yes (answered)")),
        "{reply}"
    );
    let out = CtlOutput {
        code: Some(0),
        stdout: reply.to_string(),
        stderr: String::new(),
    };
    assert_restarted_as_scheduled(&daemon, pid, &out);
}

#[test]
fn a_no_over_the_raw_protocol_keeps_the_removed_bot() {
    let (daemon, pids, original) = removed_running_bot();
    let mut connection = daemon.connect();
    connection.send(
        b"{\"v\":1,\"id\":7,\"command\":\"reload\",\"bot_id\":\"my-bot-1\",\"answers\":\"ask\"}\n",
    );
    let question: Value =
        serde_json::from_str(&connection.read_line()).expect("the question line is JSON");
    assert_eq!(question["type"], "question", "{question}");
    assert_eq!(question["text"], stop_question("my-bot-1"), "{question}");
    assert_eq!(question["default"], false, "{question}");
    let reply = connection.call(r#"{"v":1,"id":7,"command":"answer","question":1,"yes":false}"#);
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["result"]["bots"][0]["action"], "skipped", "{reply}");
    let out = CtlOutput {
        code: Some(0),
        stdout: reply.to_string(),
        stderr: String::new(),
    };
    assert_kept_and_written_back(&daemon, &pids, &original, &out);
}
