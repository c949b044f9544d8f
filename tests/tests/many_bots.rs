//! A botnet of 200 bots starts with one `intelmqctl start` and stops with one
//! `intelmqctl stop`. Deadlines are generous for a loaded two-core machine; the
//! time each command took is printed, not asserted.

use std::collections::BTreeSet;
use std::time::Duration;

use intelmqd_tests::botnet_helpers::{ctl_timed, rows_by_id};
use intelmqd_tests::{pid_alive, testbot, Daemon};
use serde_json::{json, Value};

const BOTS: usize = 200;
const DEADLINE: Duration = Duration::from_secs(120);

#[test]
fn a_botnet_of_200_bots_starts_and_stops_with_one_command_each() {
    let ids: Vec<String> = (1..=BOTS).map(|n| format!("bot-{n:03}")).collect();
    let runtime: serde_json::Map<String, Value> = ids
        .iter()
        .map(|id| (id.clone(), testbot(json!({}))))
        .collect();
    let daemon = Daemon::start(Value::Object(runtime));

    let (out, took) = ctl_timed(&daemon, &["--json", "start"], DEADLINE);
    println!("intelmqctl start of {BOTS} bots took {took:?}");
    out.expect_code(0);
    let reply = out.json();
    assert_eq!(reply["ok"], true, "{reply}");
    let rows = rows_by_id(&reply);
    assert_eq!(rows.len(), BOTS, "one row a bot");
    for (id, row) in &rows {
        assert_eq!(row["action"], "started", "{id}: {row}");
    }

    let (out, took) = ctl_timed(&daemon, &["--json", "status"], DEADLINE);
    println!("intelmqctl status of {BOTS} bots took {took:?}");
    out.expect_code(0);
    let statuses = out.json();
    let statuses = statuses.as_array().expect("status --json is an array");
    assert_eq!(statuses.len(), BOTS, "{out:?}");
    let mut pids = BTreeSet::new();
    for status in statuses {
        assert_eq!(status["status"], "running", "{status}");
        let pid = status["pid"]
            .as_u64()
            .unwrap_or_else(|| panic!("a running bot without a pid: {status}"))
            as u32;
        assert!(pid_alive(pid), "{pid} of {} is not alive", status["bot_id"]);
        pids.insert(pid);
    }
    assert_eq!(pids.len(), BOTS, "{BOTS} distinct pids");
    let processes: BTreeSet<u32> = daemon.bot_processes().into_iter().collect();
    assert_eq!(
        processes, pids,
        "the test bot processes of this daemon are the ones status shows"
    );

    let (out, took) = ctl_timed(&daemon, &["--json", "stop"], DEADLINE);
    println!("intelmqctl stop of {BOTS} bots took {took:?}");
    out.expect_code(0);
    let rows = rows_by_id(&out.json());
    assert_eq!(rows.len(), BOTS, "one row a bot");
    for (id, row) in &rows {
        assert!(
            row["action"] == "stopped" || row["action"] == "killed",
            "{id}: {row}"
        );
        assert_eq!(row["status"], "stopped", "{id}: {row}");
    }
    daemon.wait_until(
        DEADLINE,
        "no test bot process of this daemon is left",
        || daemon.bot_processes().is_empty(),
    );
    let alive: Vec<u32> = pids.iter().copied().filter(|&pid| pid_alive(pid)).collect();
    assert!(alive.is_empty(), "still alive after stop: {alive:?}");
}
