//! `--metrics-address`: the metrics over HTTP on loopback, and nowhere else.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use intelmqd_tests::fault_helpers::FlaggedDaemon;
use intelmqd_tests::{poll_until, testbot, TIMEOUT};
use serde_json::json;

/// The address the daemon says it serves the metrics on.
fn served_address(daemon: &FlaggedDaemon) -> String {
    let mut address = None;
    let found = poll_until(TIMEOUT, || {
        address = daemon.stderr().lines().find_map(|line| {
            let rest = line.split("serving metrics on http://").nth(1)?;
            rest.split('/').next().map(str::to_owned)
        });
        address.is_some()
    });
    assert!(
        found.is_ok(),
        "no metrics address in the log:\n{}",
        daemon.stderr()
    );
    address.expect("found")
}

fn get(address: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").expect("sends");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reads");
    answer
}

#[test]
fn get_metrics_on_loopback_answers_the_prometheus_text() {
    let daemon = FlaggedDaemon::start(
        &["--metrics-address", "127.0.0.1:0"],
        &json!({"a": testbot(json!({})), "b": testbot(json!({}))}),
    )
    .expect("intelmqd starts");
    let address = served_address(&daemon);

    let answer = get(&address, "/metrics");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(
        answer.contains("Content-Type: text/plain; version=0.0.4"),
        "{answer}"
    );
    assert!(
        answer
            .lines()
            .any(|line| line == "intelmqd_bots{status=\"stopped\"} 2"),
        "{answer}"
    );

    let missing = get(&address, "/elsewhere");
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
}

#[test]
fn a_metrics_address_off_loopback_is_refused_at_start() {
    let refused = FlaggedDaemon::start(&["--metrics-address", "0.0.0.0:0"], &json!({}));
    let Err(stderr) = refused else {
        panic!("intelmqd started with its metrics on every interface");
    };
    assert!(stderr.contains("not a loopback address"), "{stderr}");
}
