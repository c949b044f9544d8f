//! The fault suite: what intelmqd does when things go wrong around it.
//!
//! - 500 concurrent clients, a third of them misbehaving (garbage, oversized
//!   lines, half a line and hang up, nothing at all): every well-formed
//!   request gets its answer, and the daemon's memory returns to its baseline.
//! - A client that sends half a line is dropped after `client_timeout`; past
//!   `max_connections` a client is refused and the others are served.
//! - `kill -9` of the daemon in the middle of a botnet start of 100 bots: after
//!   a restart each bot runs once, tracked, and runtime.conf is unchanged.
//! - A bot that crashes in a loop backs off (growing gaps) and ends `failed`;
//!   a bot's forked children do not outlive a stop or a crash.
//! - A full or read-only state dir, or a full config dir: actions fail with a
//!   clear error and runtime.conf and the effective state stay intact; an
//!   action is answered only once its new state is on disk.
//!
//! Every wait is for a condition with a deadline. Mounts need root; run as
//! another user those tests say so and pass without checking.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::{Duration, Instant};

use intelmqd_tests::botnet_helpers::{ctl_timed, rows_by_id};
use intelmqd_tests::fault_helpers::{
    fill_up, is_root, log_times, processes_by_bot, raw_request, read_reply_line, reads_eof,
    vm_rss_kib, Breakage, FragileDir, Mount,
};
use intelmqd_tests::{logged_pid, pid_alive, poll_until, skip, testbot, Daemon, TIMEOUT};
use nix::sys::signal::Signal;
use serde_json::{json, Value};

/// The daemon's limit on a request line (1 MiB), as the protocol defines it.
const MAX_LINE_BYTES: usize = 1024 * 1024;

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"))
}

fn hello(id: u64) -> String {
    format!(r#"{{"v":1,"id":{id},"command":"hello"}}"#)
}

// ---------------------------------------------------------------------------
// Connection limits

#[test]
fn a_half_line_is_dropped_after_client_timeout_while_others_are_served() {
    let daemon = Daemon::builder()
        .defaults(json!({"process_manager": "pid", "client_timeout": 1.0}))
        .runtime(json!({"bot": testbot(json!({}))}))
        .start();
    // A client that never begins a line is not subject to the timeout.
    let mut idle = UnixStream::connect(&daemon.socket).expect("connect");
    idle.set_read_timeout(Some(TIMEOUT)).expect("timeout");

    let mut slow = UnixStream::connect(&daemon.socket).expect("connect");
    slow.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let began = Instant::now();
    slow.write_all(br#"{"v":1,"id":1,"command":"sta"#)
        .expect("write half a line");
    let reader = {
        let mut slow = slow.try_clone().expect("clone");
        std::thread::spawn(move || {
            let line = read_reply_line(&mut slow);
            (line, began.elapsed())
        })
    };
    // Meanwhile others are served.
    let mut served = Vec::new();
    for id in 0..5 {
        let reply =
            parse(&raw_request(&daemon.socket, &hello(100 + id), TIMEOUT).expect("an answer"));
        assert_eq!(reply["ok"], true, "{reply}");
        assert_eq!(reply["id"], 100 + id, "{reply}");
        served.push(began.elapsed());
    }
    let status = daemon.status_json("bot");
    assert_eq!(status["status"], "stopped");
    let served_by = began.elapsed();

    let (line, timed_out_after) = reader.join().expect("the reader thread");
    let line = line.expect("the timeout reply");
    let reply = parse(&line);
    println!(
        "others served within {served_by:?}; the half line was dropped after {timed_out_after:?}"
    );
    assert_eq!(reply["ok"], false, "{reply}");
    assert_eq!(reply["error"]["kind"], "timeout", "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not finished within 1 s"),
        "{reply}"
    );
    assert!(
        served_by < timed_out_after,
        "the other clients were served while the half line waited"
    );
    assert!(
        timed_out_after >= Duration::from_millis(950),
        "dropped before client_timeout: {timed_out_after:?}"
    );
    assert!(timed_out_after < TIMEOUT, "{timed_out_after:?}");
    assert!(
        reads_eof(&mut slow),
        "the connection is closed after the timeout"
    );

    // The idle connection outlived the timeout and is served.
    idle.write_all(format!("{}\n", hello(7)).as_bytes())
        .expect("write");
    let reply = parse(&read_reply_line(&mut idle).expect("an answer"));
    assert_eq!(reply["ok"], true, "{reply}");
}

#[test]
fn the_client_past_max_connections_is_refused_and_the_others_are_served() {
    let daemon = Daemon::builder()
        .defaults(json!({"process_manager": "pid", "max_connections": 5}))
        .runtime(json!({"bot": testbot(json!({}))}))
        .start();
    // Admit five. The fixture's own readiness connection may still hold a
    // place for a moment: a refused one is simply tried again.
    let mut held: Vec<UnixStream> = Vec::new();
    let mut attempts = 0;
    daemon.wait_until(TIMEOUT, "five connections are admitted", || {
        attempts += 1;
        let mut stream = UnixStream::connect(&daemon.socket).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        stream
            .write_all(format!("{}\n", hello(attempts)).as_bytes())
            .expect("write");
        let reply = parse(&read_reply_line(&mut stream).expect("an answer"));
        if reply["ok"] == true {
            held.push(stream);
        }
        held.len() == 5
    });

    let mark = daemon.stderr_mark();
    let mut sixth = UnixStream::connect(&daemon.socket).expect("connect");
    sixth.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let reply = parse(&read_reply_line(&mut sixth).expect("the refusal"));
    assert_eq!(reply["ok"], false, "{reply}");
    assert_eq!(reply["error"]["kind"], "too-many-connections", "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("at most 5 at once"),
        "{reply}"
    );
    assert!(reads_eof(&mut sixth), "the refused connection is closed");
    daemon.wait_for_stderr(
        mark,
        TIMEOUT,
        &["refused a connection", "max_connections is 5"],
    );

    // intelmqctl shows the same refusal.
    let out = daemon.ctl(&["--json", "status"]);
    assert_eq!(
        out.json()["error"]["kind"],
        "too-many-connections",
        "intelmqctl reports the refusal\n{out:?}"
    );
    out.expect_code(1);

    // The five are still served.
    for (n, stream) in held.iter_mut().enumerate() {
        let id = 1000 + n;
        stream
            .write_all(
                format!(r#"{{"v":1,"id":{id},"command":"status","bot_id":"bot"}}"#).as_bytes(),
            )
            .expect("write");
        stream.write_all(b"\n").expect("write");
        let reply = parse(&read_reply_line(stream).expect("an answer"));
        assert_eq!(reply["ok"], true, "{reply}");
        assert_eq!(reply["id"], id, "{reply}");
        assert_eq!(reply["result"]["bots"][0]["bot_id"], "bot", "{reply}");
    }

    // Closing one frees its place.
    drop(held.pop());
    daemon.wait_until(TIMEOUT, "a new client is admitted again", || {
        raw_request(&daemon.socket, &hello(9), TIMEOUT).is_ok_and(|line| parse(&line)["ok"] == true)
    });
}

// ---------------------------------------------------------------------------
// 500 concurrent clients

/// What one client of the crowd does.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Behaviour {
    /// hello, status of a bot, status of an unknown bot, list.
    WellFormed,
    /// A line of bytes that is not JSON, then a hello on the same connection.
    Garbage,
    /// A line longer than 1 MiB, then a hello on the same connection.
    Oversized,
    /// Half a request and then its end of the connection is shut.
    HalfAndHangUp,
    /// Connects and sends nothing until everyone else is done; then a hello.
    Silent,
}

fn behaviour(n: usize) -> Behaviour {
    if n % 3 != 0 {
        return Behaviour::WellFormed;
    }
    match (n / 3) % 4 {
        0 => Behaviour::Garbage,
        1 => Behaviour::Oversized,
        2 => Behaviour::HalfAndHangUp,
        _ => Behaviour::Silent,
    }
}

const BOTS: [&str; 3] = ["crowd-a", "crowd-b", "crowd-c"];

/// Sends `line` and a newline, reads one reply.
fn exchange(stream: &mut UnixStream, line: &[u8]) -> Result<Value, String> {
    stream
        .write_all(line)
        .and_then(|()| stream.write_all(b"\n"))
        .map_err(|error| format!("write: {error}"))?;
    let reply = read_reply_line(stream).map_err(|error| format!("read: {error}"))?;
    serde_json::from_str(&reply).map_err(|error| format!("reply is not JSON ({error}): {reply}"))
}

fn expect(condition: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(what())
    }
}

fn well_formed(stream: &mut UnixStream, n: usize) -> Result<(), String> {
    let base = n as u64 * 10;
    let reply = exchange(stream, hello(base + 1).as_bytes())?;
    expect(reply["ok"] == true && reply["id"] == base + 1, || {
        format!("hello: {reply}")
    })?;
    let bot = BOTS[n % BOTS.len()];
    let line = format!(
        r#"{{"v":1,"id":{},"command":"status","bot_id":"{bot}"}}"#,
        base + 2
    );
    let reply = exchange(stream, line.as_bytes())?;
    expect(
        reply["ok"] == true
            && reply["id"] == base + 2
            && reply["result"]["bots"][0]["bot_id"] == bot
            && reply["result"]["bots"][0]["status"] == "stopped",
        || format!("status {bot}: {reply}"),
    )?;
    let line = format!(
        r#"{{"v":1,"id":{},"command":"status","bot_id":"nobody-{n}"}}"#,
        base + 3
    );
    let reply = exchange(stream, line.as_bytes())?;
    expect(
        reply["ok"] == false && reply["id"] == base + 3 && reply["error"]["kind"] == "unknown-bot",
        || format!("status of an unknown bot: {reply}"),
    )?;
    let line = format!(r#"{{"v":1,"id":{},"command":"list"}}"#, base + 4);
    let reply = exchange(stream, line.as_bytes())?;
    let rows = reply["result"]["bots"].as_array().map_or(0, Vec::len);
    expect(
        reply["ok"] == true && reply["id"] == base + 4 && rows == 3,
        || format!("list: {reply}"),
    )
}

/// After an error reply, the same connection still serves a hello.
fn still_served(stream: &mut UnixStream, n: usize) -> Result<(), String> {
    let id = n as u64 * 10 + 9;
    let reply = exchange(stream, hello(id).as_bytes())?;
    expect(reply["ok"] == true && reply["id"] == id, || {
        format!("hello after an error: {reply}")
    })
}

fn misbehave(
    stream: &mut UnixStream,
    n: usize,
    how: Behaviour,
    everyone_done: &(Mutex<bool>, Condvar),
) -> Result<(), String> {
    match how {
        Behaviour::WellFormed => well_formed(stream, n),
        Behaviour::Garbage => {
            let reply = exchange(stream, b"\xff\xfe{{{ this is not json \x00\x01")?;
            expect(
                reply["ok"] == false && reply["error"]["kind"] == "invalid-json",
                || format!("garbage: {reply}"),
            )?;
            still_served(stream, n)
        }
        Behaviour::Oversized => {
            let line = vec![b'x'; MAX_LINE_BYTES + 4096];
            let reply = exchange(stream, &line)?;
            expect(
                reply["ok"] == false && reply["error"]["kind"] == "line-too-long",
                || format!("oversized: {reply}"),
            )?;
            still_served(stream, n)
        }
        Behaviour::HalfAndHangUp => {
            stream
                .write_all(br#"{"v":1,"id":"#)
                .and_then(|()| stream.shutdown(std::net::Shutdown::Write))
                .map_err(|error| format!("write: {error}"))?;
            let reply = read_reply_line(stream).map_err(|error| format!("read: {error}"))?;
            let reply = parse(&reply);
            expect(reply["ok"] == false, || {
                format!("half and hang up: {reply}")
            })?;
            expect(reads_eof(stream), || {
                "not closed after the last line".into()
            })
        }
        Behaviour::Silent => {
            let (lock, signal) = everyone_done;
            let mut done = lock.lock().unwrap_or_else(|e| e.into_inner());
            while !*done {
                done = signal.wait(done).unwrap_or_else(|e| e.into_inner());
            }
            drop(done);
            still_served(stream, n)
        }
    }
}

/// Runs `clients` clients at once against `socket`; returns the failures.
fn crowd(socket: &Path, clients: usize) -> Vec<String> {
    let start_together = Arc::new(Barrier::new(clients + 1));
    let everyone_done = Arc::new((Mutex::new(false), Condvar::new()));
    let mut handles = Vec::new();
    for n in 0..clients {
        let socket = socket.to_path_buf();
        let start_together = Arc::clone(&start_together);
        let everyone_done = Arc::clone(&everyone_done);
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let how = behaviour(n);
                let connected = UnixStream::connect(&socket);
                start_together.wait();
                let mut stream = connected.map_err(|error| format!("connect: {error}"))?;
                let timeout = Some(Duration::from_secs(60));
                let _ = stream.set_read_timeout(timeout);
                let _ = stream.set_write_timeout(timeout);
                misbehave(&mut stream, n, how, &everyone_done)
                    .map_err(|error| format!("client {n} ({how:?}): {error}"))
            })
            .expect("spawn a client thread");
        handles.push((n, handle));
    }
    start_together.wait();
    let mut failures = Vec::new();
    let (silent, others): (Vec<_>, Vec<_>) = handles
        .into_iter()
        .partition(|(n, _)| behaviour(*n) == Behaviour::Silent);
    for (_, handle) in others {
        if let Err(error) = handle.join().expect("a client thread") {
            failures.push(error);
        }
    }
    {
        let (lock, signal) = &*everyone_done;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        signal.notify_all();
    }
    for (_, handle) in silent {
        if let Err(error) = handle.join().expect("a client thread") {
            failures.push(error);
        }
    }
    failures
}

/// Waits until the daemon's VmRSS stops changing (three readings 200 ms
/// apart within 256 KiB); returns it.
fn settled_rss(pid: u32) -> u64 {
    let mut readings = vec![vm_rss_kib(pid)];
    let _ = poll_until(TIMEOUT, || {
        readings.push(vm_rss_kib(pid));
        let last: Vec<u64> = readings.iter().rev().take(10).copied().collect();
        last.len() == 10 && last.iter().max().unwrap() - last.iter().min().unwrap() <= 256
    });
    *readings.last().expect("a reading")
}

/// How many file descriptors a process has open.
fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |entries| entries.count())
}

/// The connection counters of the daemon's metrics (one connection itself).
fn connection_metrics(daemon: &Daemon) -> BTreeMap<String, u64> {
    let reply = daemon.call(json!({"command": "metrics"}));
    let text = reply["result"]["text"].as_str().unwrap_or_default();
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (name, value) = line.split_once(' ')?;
            (name.starts_with("intelmqd_connections_") || name == "intelmqd_requests_total")
                .then(|| Some((name.to_string(), value.trim().parse::<f64>().ok()? as u64)))
                .flatten()
        })
        .collect()
}

#[test]
fn five_hundred_concurrent_clients_a_third_misbehaving_are_each_answered_and_memory_returns() {
    const CLIENTS: usize = 500;
    let runtime: serde_json::Map<String, Value> = BOTS
        .iter()
        .map(|id| (id.to_string(), testbot(json!({}))))
        .collect();
    let daemon = Daemon::start(Value::Object(runtime));
    let pid = daemon.pid();

    // Warm-up: one full crowd, so that the daemon's runtime and allocator have
    // grown their pools (glibc keeps ~10 MiB of arenas after the first crowd
    // of 500 and reuses them), then the baseline.
    let failures = crowd(&daemon.socket, CLIENTS);
    assert!(failures.is_empty(), "warm-up: {failures:#?}");
    let baseline = settled_rss(pid);
    // Allocator caches vary with how many 1 MiB lines were held at once (up
    // to +15 MiB seen on a loaded machine); a leak also shows in the file
    // descriptors and the connection gauge, which must return exactly.
    let margin = 16 * 1024 + baseline / 2;
    let baseline_fds = fd_count(pid);
    let mut counters = connection_metrics(&daemon);
    let expected_requests: u64 = (0..CLIENTS)
        .map(|n| match behaviour(n) {
            Behaviour::WellFormed => 4,
            Behaviour::Garbage | Behaviour::Oversized => 2,
            Behaviour::HalfAndHangUp | Behaviour::Silent => 1,
        })
        .sum();

    for round in 1..=3 {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut peak = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    peak = peak.max(vm_rss_kib(pid));
                    std::thread::sleep(Duration::from_millis(10));
                }
                peak
            })
        };
        let began = Instant::now();
        let failures = crowd(&daemon.socket, CLIENTS);
        let took = began.elapsed();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let peak = sampler.join().expect("the sampler");
        if round == 1 {
            let counts = (0..CLIENTS).fold(BTreeMap::new(), |mut counts, n| {
                *counts.entry(format!("{:?}", behaviour(n))).or_insert(0) += 1;
                counts
            });
            println!("{CLIENTS} clients at once: {counts:?}");
        }
        assert!(
            failures.is_empty(),
            "round {round}: {} of {CLIENTS} clients failed, e.g.:\n{:#?}",
            failures.len(),
            &failures[..failures.len().min(10)]
        );
        // Memory: back to the baseline, with a margin for allocator caches.
        let mut now = vm_rss_kib(pid);
        let back = poll_until(TIMEOUT, || {
            now = vm_rss_kib(pid);
            now <= baseline + margin
        });
        println!(
            "round {round} took {took:?}; VmRSS of intelmqd: baseline {baseline} KiB, peak {peak} KiB, after {now} KiB (allowed {} KiB)",
            baseline + margin
        );
        assert!(
            back.is_ok(),
            "round {round}: intelmqd's VmRSS stays at {now} KiB after the crowd left (baseline {baseline} KiB, peak {peak} KiB, allowed {} KiB)",
            baseline + margin
        );
        daemon.wait_until(TIMEOUT, "the daemon's file descriptors are back", || {
            fd_count(pid) == baseline_fds
        });
        let now = connection_metrics(&daemon);
        // Each reading is itself one connection and one request.
        assert_eq!(now["intelmqd_connections_open"], 1, "{now:?}");
        assert_eq!(
            now["intelmqd_connections_served_total"]
                - counters["intelmqd_connections_served_total"],
            CLIENTS as u64 + 1,
            "every client was served: {now:?}"
        );
        assert_eq!(
            now["intelmqd_requests_total"] - counters["intelmqd_requests_total"],
            expected_requests + 1,
            "every request was answered: {now:?}"
        );
        counters = now;
    }
    // And the daemon still answers.
    assert_eq!(daemon.call(json!({"command": "hello"}))["ok"], true);
}

// ---------------------------------------------------------------------------
// kill -9 during a botnet start

/// The test bots' own processes (group leaders) of a daemon, by bot id.
fn bot_leaders(daemon: &Daemon) -> BTreeMap<String, Vec<u32>> {
    processes_by_bot(&daemon.config_dir, true)
}

/// `intelmqctl --json status` as bot id -> pid (running bots only).
fn reported_pids(daemon: &Daemon) -> BTreeMap<String, u32> {
    let (out, _) = ctl_timed(daemon, &["--json", "status"], Duration::from_secs(120));
    out.expect_code(0);
    out.json()
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|status| {
            Some((
                status["bot_id"].as_str()?.to_string(),
                status["pid"].as_u64()? as u32,
            ))
        })
        .collect()
}

fn pid_files(state_dir: &Path) -> usize {
    std::fs::read_dir(state_dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".pid"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn kill_9_during_a_botnet_start_of_100_bots_leaves_each_bot_running_once() {
    const COUNT: usize = 100;
    let ids: Vec<String> = (1..=COUNT).map(|n| format!("k9-{n:03}")).collect();
    let runtime: serde_json::Map<String, Value> = ids
        .iter()
        .map(|id| (id.clone(), testbot(json!({}))))
        .collect();
    let mut daemon = Daemon::builder()
        .defaults(json!({"process_manager": "pid", "stop_timeout": 2}))
        .runtime(Value::Object(runtime))
        .start();
    let runtime_before = std::fs::read(daemon.runtime_conf_path()).expect("runtime.conf");

    // Start the botnet and kill the daemon as soon as part of it runs.
    let mut start = daemon.ctl_command(&["start"]);
    let mut client = start
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run intelmqctl start");
    let caught = poll_until(Duration::from_secs(120), || {
        std::hint::spin_loop();
        pid_files(&daemon.state_dir) >= 10 || bot_leaders(&daemon).len() >= 10
    });
    daemon.kill9();
    let at_kill = bot_leaders(&daemon);
    let files_at_kill = pid_files(&daemon.state_dir);
    assert!(caught.is_ok(), "no bot started within the deadline");
    let client_status = client.wait().expect("wait for intelmqctl");
    println!(
        "killed intelmqd with {} bot processes and {files_at_kill} pid files; intelmqctl start ended with {client_status}",
        at_kill.len()
    );
    if at_kill.len() == COUNT {
        println!("note: the botnet start had already finished when the daemon was killed");
    }
    for (id, pids) in &at_kill {
        assert_eq!(
            pids.len(),
            1,
            "{id} runs more than once at the kill: {pids:?}"
        );
    }
    assert_eq!(
        std::fs::read(daemon.runtime_conf_path()).expect("runtime.conf"),
        runtime_before,
        "runtime.conf is byte for byte what it was after the kill"
    );
    let state = daemon.effective_state(); // panics unless valid JSON (or absent)
    assert!(state.is_null() || state["bots"].is_object(), "{state}");

    // A bot forked but not yet exec'd at the kill still holds a copy of the
    // listening socket for a moment; restart once the socket is dead.
    let dead = Instant::now();
    daemon.wait_until(
        TIMEOUT,
        "the killed daemon's socket refuses connections",
        || UnixStream::connect(&daemon.socket).is_err(),
    );
    if dead.elapsed() > Duration::from_millis(50) {
        println!(
            "the killed daemon's socket accepted connections for {:?} after its death",
            dead.elapsed()
        );
    }
    daemon.restart();
    // Every finding is collected, so that one run shows all the consequences.
    let mut problems: Vec<String> = Vec::new();
    let processes = bot_leaders(&daemon);
    for (id, pids) in &processes {
        if pids.len() != 1 {
            problems.push(format!(
                "after the restart {id} runs more than once: {pids:?}"
            ));
        }
    }
    let reported = reported_pids(&daemon);
    let running: BTreeMap<String, u32> = processes
        .iter()
        .map(|(id, pids)| (id.clone(), pids[0]))
        .collect();
    for (id, pid) in &running {
        if reported.get(id) != Some(pid) {
            problems.push(format!(
                "{id} (pid {pid}) runs but the new daemon does not track it (status pid {:?}, pid file {:?})",
                reported.get(id),
                daemon.read_pid_file(id)
            ));
        }
    }
    for (id, pid) in &reported {
        if running.get(id) != Some(pid) {
            problems.push(format!(
                "status shows {id} with pid {pid}, which is not that bot"
            ));
        }
    }

    // A botnet start of the new daemon starts the missing ones.
    let (out, took) = ctl_timed(&daemon, &["--json", "start"], Duration::from_secs(120));
    println!("the second botnet start took {took:?}");
    out.expect_code(0);
    let rows = rows_by_id(&out.json());
    assert_eq!(rows.len(), COUNT);
    for (id, row) in &rows {
        let expected = if reported.contains_key(id) {
            "already-running"
        } else {
            "started"
        };
        if row["action"] != expected {
            problems.push(format!("second start of {id}: {expected} expected: {row}"));
        }
    }
    let processes = bot_leaders(&daemon);
    if processes.len() != COUNT {
        problems.push(format!("{} of {COUNT} bots run", processes.len()));
    }
    for (id, pids) in &processes {
        if pids.len() != 1 {
            problems.push(format!(
                "after the second botnet start {id} runs {} times: {pids:?}",
                pids.len()
            ));
        }
    }
    let reported = reported_pids(&daemon);
    for (id, pids) in &processes {
        for pid in pids {
            if reported.get(id) != Some(pid) {
                problems.push(format!(
                    "after the second botnet start {id} pid {pid} is not the one status shows ({:?})",
                    reported.get(id)
                ));
            }
        }
    }

    let (out, _) = ctl_timed(&daemon, &["--json", "stop"], Duration::from_secs(120));
    out.expect_code(0);
    if poll_until(TIMEOUT, || {
        processes_by_bot(&daemon.config_dir, false).is_empty()
    })
    .is_err()
    {
        problems.push(format!(
            "after the botnet stop these still run: {:?}",
            processes_by_bot(&daemon.config_dir, false)
        ));
    }
    if std::fs::read(daemon.runtime_conf_path()).expect("runtime.conf") != runtime_before {
        problems.push("runtime.conf changed".into());
    }
    if pid_files(&daemon.state_dir) != 0 {
        problems.push(format!(
            "{} pid files are left",
            pid_files(&daemon.state_dir)
        ));
    }
    assert!(
        problems.is_empty(),
        "after kill -9 during a botnet start ({} processes, {files_at_kill} pid files at the kill):\n{}",
        at_kill.len(),
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Crash loops and process groups

#[test]
fn a_bot_that_crashes_in_a_loop_backs_off_and_ends_failed() {
    let daemon = Daemon::builder()
        .defaults(json!({
            "process_manager": "pid",
            "restart_delay": 0.2,
            "restart_delay_max": 10,
            "start_limit_burst": 5,
            "start_limit_interval": 60,
        }))
        .runtime(json!({"crasher": testbot(json!({"exit_after": 0, "exit_code": 3}))}))
        .start();
    let mark = daemon.stderr_mark();
    daemon.ctl(&["start", "crasher"]).expect_code(0);
    daemon.wait_until(Duration::from_secs(60), "crasher is failed", || {
        daemon.status_json("crasher")["status"] == "failed"
    });
    let status = daemon.status_json("crasher");
    assert_eq!(status["state"], "failed", "{status}");
    assert_eq!(status["restarts"], 4, "{status}");
    assert!(status["pid"].is_null(), "{status}");
    assert_eq!(status["last_exit"]["code"], 3, "{status}");

    let log = daemon.log_of("crasher");
    let starts = log_times(&log, "started (pid ");
    assert_eq!(starts.len(), 5, "5 starts (start_limit_burst):\n{log}");
    let gaps: Vec<f64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    println!("gaps between the starts: {gaps:?}");
    let delays = [0.2, 0.4, 0.8, 1.6];
    for (k, (gap, delay)) in gaps.iter().zip(delays).enumerate() {
        assert!(
            *gap >= delay - 0.01,
            "restart {} came after {gap} s, before its delay {delay} s: {gaps:?}",
            k + 1
        );
        assert!(
            *gap < delay + 2.0,
            "restart {} came after {gap} s, far later than its delay {delay} s: {gaps:?}",
            k + 1
        );
    }
    assert!(
        gaps.windows(2).all(|w| w[1] > w[0]),
        "the gaps grow: {gaps:?}"
    );

    let said = daemon.stderr_since(mark);
    let mut from = 0;
    for delay in ["0.2", "0.4", "0.8", "1.6"] {
        let text = format!("crasher will be restarted in {delay} s");
        let at = said[from..]
            .find(&text)
            .unwrap_or_else(|| panic!("{text:?} is logged after the previous one:\n{said}"));
        from += at + text.len();
    }
    assert!(
        said.contains("crasher failed: it started 5 times within 60 s"),
        "{said}"
    );
    assert!(
        processes_by_bot(&daemon.config_dir, false).is_empty(),
        "a failed bot runs no process"
    );
    let table = daemon.ctl(&["status", "crasher"]);
    assert!(
        intelmqd_tests::table_row(&table.stdout, "crasher").is_some_and(|row| row[4] == "failed"),
        "{table:?}"
    );
    // A stop clears the failed state.
    daemon.ctl(&["stop", "crasher"]).expect_code(0);
    assert_eq!(daemon.status_json("crasher")["status"], "stopped");
}

fn forking_daemon(parameters: Value, restart: &str) -> Daemon {
    let mut entry = testbot(parameters);
    entry["restart"] = json!(restart);
    Daemon::builder()
        .defaults(json!({"process_manager": "pid", "stop_timeout": 2, "restart_delay": 0.2}))
        .runtime(json!({"forker": entry}))
        .start()
}

fn wait_child(daemon: &Daemon, after: usize) -> u32 {
    let mut child = None;
    daemon.wait_until(TIMEOUT, "the bot's child has started", || {
        let log = daemon.log_of("forker");
        let tail: String = log.lines().skip(after).collect::<Vec<_>>().join("\n");
        child = logged_pid(&tail, "child started");
        child.is_some()
    });
    child.expect("waited for it")
}

#[test]
fn a_bot_that_forks_leaves_no_child_after_stop() {
    let daemon = forking_daemon(json!({"fork_child": true}), "on-failure");
    let pid = daemon.start_bot("forker");
    let child = wait_child(&daemon, 0);
    assert_eq!(
        intelmqd_tests::procfs::stat(child).map(|s| s.pgrp),
        Some(pid),
        "the child is in the bot's process group"
    );
    daemon.ctl(&["stop", "forker"]).expect_code(0);
    daemon.wait_until(TIMEOUT, "the bot and its child are gone", || {
        !pid_alive(pid) && !pid_alive(child)
    });
    assert!(processes_by_bot(&daemon.config_dir, false).is_empty());
}

#[test]
fn a_bot_that_forks_and_crashes_leaves_no_child() {
    let daemon = forking_daemon(json!({"fork_child": true, "crash_after": 0.5}), "never");
    daemon.ctl(&["start", "forker"]).expect_code(0);
    let child = wait_child(&daemon, 0);
    daemon.wait_until(TIMEOUT, "the crash is recorded", || {
        daemon.status_json("forker")["last_exit"]["signal"] == 6
    });
    daemon.wait_until(
        TIMEOUT,
        "the orphaned child is killed with its group",
        || !pid_alive(child),
    );
    assert!(
        processes_by_bot(&daemon.config_dir, false).is_empty(),
        "nothing of the crashed bot runs"
    );
    assert_eq!(daemon.status_json("forker")["status"], "stopped");
}

#[test]
fn a_bot_killed_from_outside_is_restarted_without_its_old_child() {
    let daemon = forking_daemon(json!({"fork_child": true}), "on-failure");
    let pid = daemon.start_bot("forker");
    let child = wait_child(&daemon, 0);
    let lines = daemon.log_of("forker").lines().count();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL)
        .expect("kill the bot");
    let new_child = wait_child(&daemon, lines);
    assert!(
        !pid_alive(child),
        "the old child {child} died with its group"
    );
    // The bot may log before the daemon has recorded the restart.
    daemon.wait_until(TIMEOUT, "status shows the restart", || {
        let status = daemon.status_json("forker");
        status["restarts"] == 1 && status["pid"].is_u64()
    });
    let status = daemon.status_json("forker");
    let new_pid = status["pid"].as_u64().expect("a new pid") as u32;
    assert_ne!(new_pid, pid);
    let all: BTreeSet<u32> = processes_by_bot(&daemon.config_dir, false)
        .remove("forker")
        .unwrap_or_default()
        .into_iter()
        .collect();
    assert_eq!(
        all,
        BTreeSet::from([new_pid, new_child]),
        "only the new bot and its child"
    );
    daemon.ctl(&["stop", "forker"]).expect_code(0);
    daemon.wait_until(TIMEOUT, "nothing is left", || {
        processes_by_bot(&daemon.config_dir, false).is_empty()
    });
}

// ---------------------------------------------------------------------------
// Full and read-only directories

/// Everything that must stay intact while a directory is broken.
struct Snapshot {
    runtime_conf: Vec<u8>,
    effective: Vec<u8>,
}

fn snapshot(daemon: &Daemon) -> Snapshot {
    Snapshot {
        runtime_conf: std::fs::read(daemon.runtime_conf_path()).expect("runtime.conf"),
        effective: std::fs::read(daemon.effective_state_path()).expect("the effective state"),
    }
}

fn assert_intact(daemon: &Daemon, before: &Snapshot, when: &str) {
    assert_eq!(
        std::fs::read(daemon.runtime_conf_path()).expect("runtime.conf"),
        before.runtime_conf,
        "runtime.conf is byte for byte as it was {when}"
    );
    let effective = std::fs::read(daemon.effective_state_path()).expect("the effective state");
    let parsed: Result<Value, _> = serde_json::from_slice(&effective);
    assert!(
        parsed.is_ok(),
        "runtime.effective.json is valid JSON {when}: {}",
        String::from_utf8_lossy(&effective)
    );
    assert_eq!(
        effective, before.effective,
        "runtime.effective.json keeps its last good content {when}"
    );
}

/// Temporary files of the daemon's atomic writes left in a directory.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.contains(".tmp."))
                .collect()
        })
        .unwrap_or_default()
}

/// A daemon whose state dir is a [`FragileDir`], with bot `a` running and
/// `b`, `c` stopped, and what its files held then; the state dir is not broken
/// yet.
fn daemon_on_a_fragile_state_dir() -> (Daemon, FragileDir, Snapshot, u32) {
    let mut daemon = Daemon::builder()
        .defaults(json!({"process_manager": "pid", "stop_timeout": 2}))
        .runtime(json!({
            "a": testbot(json!({})),
            "b": testbot(json!({})),
            "c": testbot(json!({})),
        }))
        .start();
    // The tmpfs goes under a stopped daemon (its files are copied in); the
    // daemon then runs on it.
    daemon.signal_and_wait(Signal::SIGTERM);
    let fragile = FragileDir::mount_over(&daemon.state_dir);
    daemon.restart();
    let pid = daemon.start_bot("a");
    let before = snapshot(&daemon);
    (daemon, fragile, before, pid)
}

fn a_broken_state_dir_refuses_starts_and_keeps_the_state(how: Breakage) {
    if !is_root() {
        skip!("mounting needs root");
    }
    // Declared in this order so that the mounts go before the daemon's files.
    let (daemon, mut fragile, before, pid_a) = daemon_on_a_fragile_state_dir();
    let what = match fragile.break_it(how) {
        Ok(what) => what,
        Err(reason) => skip!("the state dir cannot be broken here: {reason}"),
    };
    println!("state dir: {what}");
    let mark = daemon.stderr_mark();

    // A start that cannot write its pid file is refused, and leaves no process.
    let out = daemon.ctl(&["--json", "start", "b"]);
    let reply = out.json();
    println!("start b: {reply}");
    out.expect_code(1);
    assert_eq!(reply["ok"], false, "{reply}");
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("cannot write its pid file")
            && message.contains("b.pid")
            && (message.contains("No space left on device")
                || message.contains("Read-only file system")),
        "the error says what could not be written and why: {message}"
    );
    let processes = processes_by_bot(&daemon.config_dir, false);
    assert!(
        !processes.contains_key("b"),
        "the refused start left a process: {processes:?}"
    );
    assert_eq!(daemon.status_json("b")["status"], "stopped");
    assert_intact(&daemon, &before, "after a refused start");

    // The botnet start: a runs already, b and c cannot start.
    let out = daemon.ctl(&["--json", "start"]);
    out.expect_code(1);
    let rows = rows_by_id(&out.json());
    assert_eq!(rows["a"]["action"], "already-running", "{rows:?}");
    let processes = processes_by_bot(&daemon.config_dir, false);
    assert_eq!(
        processes.keys().collect::<Vec<_>>(),
        ["a"],
        "only a runs: {processes:?}"
    );
    assert_eq!(processes["a"], vec![pid_a]);
    assert_intact(&daemon, &before, "after a refused botnet start");

    // Stopping a works (the process ends). On a read-only dir its new state
    // cannot be written: the last good state stays on disk. On a full tmpfs
    // the removal of a.pid frees a block, and the new state may fit: then it
    // is complete and says that a is stopped. Never anything in between.
    let out = daemon.ctl(&["--json", "stop", "a"]);
    println!("stop a: {}", out.stdout.trim());
    daemon.wait_until(TIMEOUT, "a is gone", || !pid_alive(pid_a));
    // (The answer may come before the write: see
    // each_action_is_answered_only_once_its_state_is_on_disk. Wait for it.)
    let mut effective = Vec::new();
    daemon.wait_until(TIMEOUT, "the state write is done or has failed", || {
        effective = std::fs::read(daemon.effective_state_path()).expect("the effective state");
        effective != before.effective
            || daemon
                .stderr_since(mark)
                .contains("cannot write the effective state")
    });
    if effective == before.effective {
        assert_intact(
            &daemon,
            &before,
            "after a stop whose state cannot be written",
        );
    } else {
        println!("the new state fit into the space a.pid left");
        let state: Value = serde_json::from_slice(&effective).unwrap_or_else(|error| {
            panic!(
                "runtime.effective.json is not valid JSON ({error}): {}",
                String::from_utf8_lossy(&effective)
            )
        });
        assert_eq!(state["bots"]["a"]["state"], "stopped", "{state}");
        assert_eq!(
            std::fs::read(daemon.runtime_conf_path()).expect("runtime.conf"),
            before.runtime_conf
        );
    }
    assert!(
        leftovers(&daemon.state_dir).is_empty(),
        "{:?}",
        leftovers(&daemon.state_dir)
    );

    // Repaired, the daemon writes again and starts what it refused.
    fragile.repair();
    let pid_b = daemon.start_bot("b");
    let state = daemon.effective_state();
    assert_eq!(state["bots"]["b"]["pid"], pid_b, "{state}");
    assert_eq!(state["bots"]["a"]["state"], "stopped", "{state}");
    assert_eq!(
        std::fs::read(daemon.runtime_conf_path()).expect("runtime.conf"),
        before.runtime_conf
    );
    daemon.ctl(&["stop", "b"]).expect_code(0);
    drop(fragile);
}

#[test]
fn a_full_state_dir_refuses_starts_and_keeps_runtime_conf_and_the_effective_state() {
    a_broken_state_dir_refuses_starts_and_keeps_the_state(Breakage::Full);
}

#[test]
fn a_read_only_state_dir_refuses_starts_and_keeps_runtime_conf_and_the_effective_state() {
    a_broken_state_dir_refuses_starts_and_keeps_the_state(Breakage::ReadOnly);
}

/// The client is told when the new state of an action could not be written:
/// the daemon documents that "an action is answered only once its new state is
/// on disk".
#[test]
fn a_stop_whose_state_cannot_be_written_tells_the_client() {
    if !is_root() {
        skip!("mounting needs root");
    }
    let (daemon, mut fragile, before, pid_a) = daemon_on_a_fragile_state_dir();
    // Read-only: on a full tmpfs the removal of a.pid would make room.
    let what = match fragile.break_it(Breakage::ReadOnly) {
        Ok(what) => what,
        Err(reason) => skip!("the state dir cannot be broken here: {reason}"),
    };
    let mark = daemon.stderr_mark();
    let out = daemon.ctl(&["--json", "stop", "a"]);
    daemon.wait_until(TIMEOUT, "a is gone", || !pid_alive(pid_a));
    let failed = poll_until(TIMEOUT, || {
        daemon
            .stderr_since(mark)
            .contains("cannot write the effective state")
    });
    if failed.is_err() {
        skip!(
            "the state write did not fail ({what}), nothing to report:\n{}",
            daemon.stderr_since(mark)
        );
    }
    assert_intact(&daemon, &before, "after the stop");
    let reply = out.json();
    let told = reply["ok"] == false
        || reply["messages"].as_array().is_some_and(|messages| {
            messages.iter().any(|m| {
                m["level"] != "info"
                    && m["text"].as_str().is_some_and(|t| {
                        t.contains("runtime.effective.json") || t.contains("state")
                    })
            })
        });
    assert!(
        told,
        "stop answered as if its new state were on disk, while the write of runtime.effective.json failed ({what}):\n{reply}"
    );
    drop(fragile);
}

#[test]
fn a_full_config_dir_keeps_runtime_conf_byte_for_byte() {
    if !is_root() {
        skip!("mounting needs root");
    }
    let mut outside = testbot(json!({}));
    outside["botnet"] = json!(false);
    let mut daemon = Daemon::builder().runtime(json!({"bot": outside})).start();
    daemon.signal_and_wait(Signal::SIGTERM);
    let mount = match Mount::tmpfs_over(&daemon.config_dir, "64k") {
        Ok(mount) => mount,
        Err(reason) => skip!("no tmpfs can be mounted over the config dir: {reason}"),
    };
    daemon.restart();
    let before = std::fs::read(daemon.runtime_conf_path()).expect("runtime.conf");
    let filler = fill_up(&daemon.config_dir, "zz-filler");

    let out = daemon.ctl(&["--json", "add-to-botnet", "bot"]);
    let reply = out.json();
    println!("add-to-botnet on a full disk: {reply}");
    out.expect_code(1);
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(daemon.runtime_file()) && message.contains("No space left on device"),
        "the error names the file and the reason: {message}"
    );
    assert_eq!(
        std::fs::read(daemon.runtime_conf_path()).expect("runtime.conf"),
        before,
        "runtime.conf is byte for byte as it was"
    );
    assert!(
        leftovers(&daemon.config_dir).is_empty(),
        "{:?}",
        leftovers(&daemon.config_dir)
    );
    assert_eq!(
        daemon.runtime_entry("bot").expect("the entry")["botnet"],
        false
    );

    std::fs::remove_file(&filler).expect("free the space");
    daemon.ctl(&["add-to-botnet", "bot"]).expect_code(0);
    assert_eq!(
        daemon.runtime_entry("bot").expect("the entry")["botnet"],
        true
    );
    assert_eq!(
        std::fs::read(
            daemon
                .config_dir
                .join(format!("{}.bak", daemon.runtime_file()))
        )
        .expect("the backup"),
        before,
        "the backup holds runtime.conf as it was"
    );
    drop(mount);
}

/// The daemon answers an action only once its new state is on disk
/// (docs/configuration.md): right after each answer, runtime.effective.json
/// already says what the answer says.
#[test]
fn each_action_is_answered_only_once_its_state_is_on_disk() {
    let daemon = Daemon::builder()
        .defaults(json!({"process_manager": "pid", "stop_timeout": 2}))
        .runtime(json!({"a": testbot(json!({}))}))
        .start();
    // Raw requests, so that the file is read the moment the answer arrives.
    let mut stale = Vec::new();
    for round in 0..30 {
        let reply = daemon.call(json!({"command": "start", "bot_id": "a"}));
        assert_eq!(reply["ok"], true, "{reply}");
        let pid = rows_by_id(&reply)["a"]["pid"].clone();
        let on_disk = daemon.effective_state()["bots"]["a"].clone();
        if on_disk["state"] != "running" || on_disk["pid"] != pid {
            stale.push(format!(
                "round {round}: start answered pid {pid}, on disk: {on_disk}"
            ));
        }
        let reply = daemon.call(json!({"command": "stop", "bot_id": "a"}));
        assert_eq!(reply["ok"], true, "{reply}");
        let on_disk = daemon.effective_state()["bots"]["a"].clone();
        if on_disk["state"] != "stopped" {
            stale.push(format!("round {round}: stop answered, on disk: {on_disk}"));
        }
    }
    assert!(
        stale.is_empty(),
        "{} of 60 answers came before their state was on disk:\n{}",
        stale.len(),
        stale.join("\n")
    );
}
