//! Running a command under a pseudo-terminal, as a user at a terminal would:
//! the command gets the terminal as stdin, stdout and stderr (and as its
//! controlling terminal, in a session of its own); the test reads what appears
//! on the terminal and types into it.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::pty::{openpty, Winsize};

use crate::CtlOutput;

/// A command running under a pseudo-terminal.
pub struct PtyRun {
    description: String,
    child: Option<Child>,
    /// The terminal's master side: what is written here is typed.
    master: File,
    /// Everything the terminal showed so far (output and the echo of what
    /// was typed).
    screen: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
}

impl PtyRun {
    /// Starts `command` with a new terminal as its stdin, stdout and stderr.
    pub fn spawn(mut command: Command) -> PtyRun {
        let description = format!("{command:?}");
        let size = Winsize {
            ws_row: 40,
            ws_col: 200,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(&size, None).expect("open a pseudo-terminal");
        let slave = |pty_slave: &OwnedFd| {
            Stdio::from(pty_slave.try_clone().expect("duplicate the terminal's fd"))
        };
        command
            .stdin(slave(&pty.slave))
            .stdout(slave(&pty.slave))
            .stderr(slave(&pty.slave));
        // SAFETY: only async-signal-safe calls (setsid, ioctl) between fork and exec.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // Make the terminal (now stdin) the session's controlling terminal.
                if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run {description} under a terminal: {error}"));
        // Only the child may hold the terminal's slave side: once it exits,
        // reading the master ends (EIO).
        drop(command);
        drop(pty.slave);

        let master = File::from(pty.master);
        let screen = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let mut master = master
                .try_clone()
                .expect("duplicate the terminal's master fd");
            let screen = Arc::clone(&screen);
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                loop {
                    match master.read(&mut buffer) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => screen
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .extend_from_slice(&buffer[..n]),
                    }
                }
            })
        };
        PtyRun {
            description,
            child: Some(child),
            master,
            screen,
            reader: Some(reader),
        }
    }

    /// Everything the terminal showed so far, with the terminal's `\r\n`
    /// turned into `\n`.
    pub fn screen(&self) -> String {
        let bytes = self
            .screen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
    }

    /// Waits until the terminal shows `text`; panics with the screen after
    /// `deadline`.
    #[track_caller]
    pub fn wait_for_screen(&self, text: &str, deadline: Duration) {
        if crate::poll_until(deadline, || self.screen().contains(text)).is_err() {
            panic!(
                "{} did not show {text:?} on its terminal within {deadline:?}\n--- terminal ---\n{}",
                self.description,
                self.screen()
            );
        }
    }

    /// Types `text` into the terminal.
    pub fn type_text(&mut self, text: &str) {
        self.master
            .write_all(text.as_bytes())
            .and_then(|()| self.master.flush())
            .expect("type into the terminal");
    }

    /// Waits for the command to exit (killing it and panicking after
    /// `deadline`); its exit code, and the whole screen as `stdout`.
    pub fn wait(mut self, deadline: Duration) -> CtlOutput {
        let mut child = self.child.take().expect("the command was started");
        let mut status = None;
        let finished = crate::poll_until(deadline, || {
            status = child.try_wait().expect("wait for a command");
            status.is_some()
        });
        if finished.is_err() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} did not finish within {deadline:?}\n--- terminal ---\n{}",
                self.description,
                self.screen()
            );
        }
        // The reader ends when the last holder of the terminal closed it.
        if let Some(reader) = self.reader.take() {
            let _ = crate::poll_until(deadline, || reader.is_finished());
            if reader.is_finished() {
                let _ = reader.join();
            }
        }
        CtlOutput {
            code: status.and_then(|status| status.code()),
            stdout: self.screen(),
            stderr: String::new(),
        }
    }
}

impl Drop for PtyRun {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
