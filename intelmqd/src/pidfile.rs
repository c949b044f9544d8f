//! Pid files, `<state_dir>/<bot_id>.pid`: the pid in decimal and a newline, as
//! IntelMQ writes them, so that its tools and operators' scripts can read them.

use std::io;
use std::path::{Path, PathBuf};

use crate::fsutil::write_replace;

pub fn path(state_dir: &Path, bot_id: &str) -> PathBuf {
    state_dir.join(format!("{bot_id}.pid"))
}

/// Writes the pid file atomically (never half a pid), but without fsync: it
/// must survive the daemon's death, and a reboot ends the bot it names anyway.
pub fn write(state_dir: &Path, bot_id: &str, pid: u32) -> io::Result<()> {
    write_replace(
        &path(state_dir, bot_id),
        format!("{pid}\n").as_bytes(),
        0o644,
    )
}

/// The pid in a bot's pid file; `None` when there is no file or it holds no pid.
pub fn read(state_dir: &Path, bot_id: &str) -> Option<u32> {
    std::fs::read_to_string(path(state_dir, bot_id))
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub fn remove(state_dir: &Path, bot_id: &str) -> io::Result<()> {
    match std::fs::remove_file(path(state_dir, bot_id)) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}
