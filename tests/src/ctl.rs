//! Running a command to its end, with a deadline, and what it printed.

use std::fmt;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

/// What a finished command did: its exit code and its output.
#[derive(Clone)]
pub struct CtlOutput {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CtlOutput {
    /// Panics, showing everything, unless the command exited with `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit code\n{self:?}");
        self
    }

    /// stdout and stderr together, for checks that do not care where a
    /// message went.
    pub fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// stdout parsed as one JSON document.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not one JSON document: {error}\n{self:?}"))
    }
}

impl fmt::Debug for CtlOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "exit code: {:?}", self.code)?;
        writeln!(f, "--- stdout ---\n{}", self.stdout.trim_end())?;
        write!(f, "--- stderr ---\n{}", self.stderr.trim_end())
    }
}

/// Runs `command` with stdin closed and its output captured; kills it and
/// panics when it has not finished after `deadline`.
pub fn run_with_deadline(command: &mut Command, deadline: Duration) -> CtlOutput {
    run_with_pid(command, deadline).1
}

/// [`run_with_deadline`], also returning the command's pid (to find it in the
/// daemon's log).
pub fn run_with_pid(command: &mut Command, deadline: Duration) -> (u32, CtlOutput) {
    let description = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {description}: {error}"));
    let pid = child.id();
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = read_all(Box::new(child.stderr.take().expect("piped stderr")));

    let mut status = None;
    let finished = crate::poll_until(deadline, || {
        status = child.try_wait().expect("waiting for a command");
        status.is_some()
    });
    if finished.is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "{description} did not finish within {deadline:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            stdout.join().unwrap_or_default(),
            stderr.join().unwrap_or_default()
        );
    }
    let output = CtlOutput {
        code: status.and_then(|status| status.code()),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    (pid, output)
}
