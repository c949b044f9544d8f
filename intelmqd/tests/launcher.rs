//! `intelmq-bot-launcher`: runs a bot of runtime.conf by replacing itself with
//! `<module> <bot_id>`, or says why it cannot, with its exit code.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

const LAUNCHER: &str = env!("CARGO_BIN_EXE_intelmq-bot-launcher");

/// A config dir with `runtime` as runtime.conf and a module `probe` on a
/// directory of its own, which prints its pid, its arguments and the
/// environment a bot gets.
fn setup(runtime: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("launcher")
        .tempdir()
        .expect("temp dir");
    std::fs::write(dir.path().join("runtime.conf"), runtime).expect("runtime.conf");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("bin dir");
    let probe = bin.join("probe");
    std::fs::write(
        &probe,
        "#!/bin/sh\necho \"pid=$$ args=$* config=$INTELMQ_CONFIG_DIR bot=$INTELMQD_BOT_ID\"\n",
    )
    .expect("probe");
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

fn launch(dir: &tempfile::TempDir, bot_id: &str) -> (Output, u32) {
    let path = format!(
        "{}:{}",
        dir.path().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let child = Command::new(LAUNCHER)
        .arg(bot_id)
        .env("INTELMQ_CONFIG_DIR", dir.path())
        .env("PATH", path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the launcher runs");
    let pid = child.id();
    (child.wait_with_output().expect("it ends"), pid)
}

#[test]
fn the_bot_replaces_the_launcher_with_the_bots_environment() {
    let dir = setup(r#"{"collector": {"module": "probe", "parameters": {}}}"#);
    let (output, pid) = launch(&dir, "collector");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with(&format!("pid={pid} args=collector ")),
        "the module runs in the launcher's own process: {stdout}"
    );
    assert!(
        stdout.contains(&format!("config={}", dir.path().display())),
        "{stdout}"
    );
    assert!(stdout.contains("bot=collector"), "{stdout}");
}

#[test]
fn what_cannot_run_is_refused_with_the_reason_and_exit_code() {
    let dir = setup(
        r#"{"scheduled": {"module": "probe", "run_mode": "scheduled", "schedule_time": "@hourly"},
            "broken": {"run_mode": "sometimes"},
            "elsewhere": {"module": "no-such-module-anywhere"}}"#,
    );
    for (bot_id, code, words) in [
        ("../x", 64, "invalid bot id"),
        ("missing", 78, "no bot \"missing\""),
        ("broken", 78, "unknown run_mode"),
        ("scheduled", 78, "scheduled bot"),
        ("elsewhere", 78, "is not an executable on PATH"),
    ] {
        let (output, _) = launch(&dir, bot_id);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{bot_id}: {stderr}");
        assert!(stderr.contains(words), "{bot_id}: {stderr}");
        assert!(output.stdout.is_empty(), "{bot_id} ran nothing");
    }

    std::fs::write(dir.path().join("runtime.conf"), "{not json").expect("write");
    let (output, _) = launch(&dir, "broken");
    assert_eq!(output.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&output.stderr).contains("runtime.conf is not valid JSON"));
}
