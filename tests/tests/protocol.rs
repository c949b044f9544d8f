//! The raw protocol: what a badly behaved client gets.

use std::io::Write;

use intelmqd_tests::{testbot, Daemon};
use serde_json::json;

const HELLO: &str = r#"{"v":1,"id":2,"command":"hello"}"#;

#[test]
fn garbage_gets_invalid_json_and_the_connection_stays_usable() {
    let daemon = Daemon::start(json!({}));
    let mut connection = daemon.connect();
    let reply = connection.call("garbage");
    assert_eq!(reply["ok"], false, "{reply}");
    assert_eq!(reply["error"]["kind"], "invalid-json", "{reply}");
    assert_eq!(reply["id"], json!(null), "{reply}");

    let reply = connection.call(HELLO);
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["id"], 2, "{reply}");
    assert_eq!(reply["result"]["kind"], "hello", "{reply}");
}

#[test]
fn a_line_over_the_limit_gets_line_too_long() {
    let daemon = Daemon::start(json!({}));
    let mut connection = daemon.connect();
    let mut writer = connection.writer();
    // Written from a thread: the daemon may answer before it has read it all.
    let sender = std::thread::spawn(move || {
        let mut line = vec![b'x'; 2 * 1024 * 1024];
        line.push(b'\n');
        writer.write_all(&line)
    });
    let reply: serde_json::Value =
        serde_json::from_str(&connection.read_line()).expect("a JSON reply");
    assert_eq!(reply["ok"], false, "{reply}");
    assert_eq!(reply["error"]["kind"], "line-too-long", "{reply}");
    sender
        .join()
        .expect("the writer thread")
        .expect("the daemon reads the long line to its end");

    let reply = connection.call(HELLO);
    assert_eq!(
        reply["ok"], true,
        "the connection survives a long line: {reply}"
    );
}

#[test]
fn a_silent_client_does_not_block_others() {
    let daemon = Daemon::start(json!({"bot": testbot(json!({}))}));
    let _silent = daemon.connect();
    let out = daemon.ctl(&["status", "bot"]);
    out.expect_code(0);
    assert!(out.stdout.contains("stopped"), "{out:?}");
}

#[test]
fn an_unknown_command_gets_unknown_command() {
    let daemon = Daemon::start(json!({}));
    let reply: serde_json::Value =
        serde_json::from_str(&daemon.request(r#"{"v":1,"id":5,"command":"explode"}"#))
            .expect("a JSON reply");
    assert_eq!(reply["ok"], false, "{reply}");
    assert_eq!(reply["error"]["kind"], "unknown-command", "{reply}");
    assert_eq!(reply["id"], 5, "{reply}");
}
