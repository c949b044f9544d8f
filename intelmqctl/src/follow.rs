//! `log --follow`: after the daemon's tail of a bot's log, read the file
//! itself from where that tail ended and print the new lines as they come,
//! also across a rotation: the file renamed away and created anew (another
//! inode at the path), or truncated in place (smaller than what was read).
//! The file is polled every [`POLL`]; nothing but the standard library.

use std::fs::File;
use std::io::{self, ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::LOG_LEVELS;

/// How often the file is looked at.
pub const POLL: Duration = Duration::from_millis(200);

/// How far back from the end the daemon's last line is looked for.
const WINDOW: u64 = 1024 * 1024;

/// The level of an IntelMQ log line `<time> - <bot_id> - <LEVEL> - <message>`,
/// as an index into [`LOG_LEVELS`]; `None` for a line without one.
pub fn level_of(line: &str) -> Option<usize> {
    let mut fields = line.splitn(4, " - ");
    let (_, _, level) = (fields.next()?, fields.next()?, fields.next()?);
    fields.next()?;
    let level = match level.trim() {
        "WARN" => "WARNING",
        other => other,
    };
    LOG_LEVELS.iter().position(|known| *known == level)
}

/// Keeps the lines of a level and above; a line without a level goes with the
/// line before it (a traceback stays with its error).
#[derive(Debug, Clone)]
pub struct LevelFilter {
    minimum: Option<usize>,
    keeping: bool,
}

impl LevelFilter {
    /// `level` is one of [`LOG_LEVELS`]; `None` keeps every line.
    pub fn new(level: Option<&str>) -> LevelFilter {
        LevelFilter {
            minimum: level.and_then(|level| LOG_LEVELS.iter().position(|known| *known == level)),
            keeping: false,
        }
    }

    pub fn keep(&mut self, line: &str) -> bool {
        let Some(minimum) = self.minimum else {
            return true;
        };
        if let Some(level) = level_of(line) {
            self.keeping = level >= minimum;
        }
        self.keeping
    }
}

/// What one look at the file found: new lines (filtered), and notices for the
/// operator (rotation, truncation).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Found {
    pub lines: Vec<String>,
    pub notices: Vec<String>,
}

/// Follows one log file by its path.
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    file: Option<File>,
    /// Device and inode of the open file.
    identity: (u64, u64),
    /// How far the open file was read.
    offset: u64,
    /// The start of a line whose end was not written yet.
    partial: Vec<u8>,
    filter: LevelFilter,
}

impl Follower {
    /// A follower of `path` that goes on after the lines the daemon showed
    /// (`shown`, the last `requested` lines at `level` and above).
    ///
    /// Where the daemon's tail ended is found by looking for its last line
    /// from the end of the file, so that lines written between the daemon's
    /// read and this open are neither lost nor shown twice. Without a shown
    /// line: after `-n 0` from the end of the file; else the daemon found no
    /// (matching) line, so every line that matches now is new.
    pub fn new(
        path: &Path,
        shown: &[String],
        requested: usize,
        level: Option<&str>,
    ) -> io::Result<Follower> {
        let mut follower = Follower {
            path: path.to_owned(),
            file: None,
            identity: (0, 0),
            offset: 0,
            partial: Vec::new(),
            filter: LevelFilter::new(level),
        };
        let mut file = match File::open(path) {
            Ok(file) => file,
            // Not there yet: everything it will hold is new.
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(follower),
            Err(error) => return Err(error),
        };
        let meta = file.metadata()?;
        let size = meta.len();
        let window_start = size.saturating_sub(WINDOW);
        file.seek(SeekFrom::Start(window_start))?;
        let mut window = Vec::new();
        file.by_ref()
            .take(size - window_start)
            .read_to_end(&mut window)?;
        let lines = split_lines(&window, window_start, window_start > 0);
        let text = |line: &(u64, u64, String)| line.2.clone();
        let (offset, before) = match shown.last() {
            Some(last) => {
                let found = lines.iter().rposition(|line| line.2 == *last).or_else(|| {
                    lines
                        .iter()
                        .rposition(|line| line.2.starts_with(last.as_str()))
                });
                match found {
                    Some(index) => (lines[index].1, index + 1),
                    None => (
                        lines.last().map_or(window_start, |line| line.1),
                        lines.len(),
                    ),
                }
            }
            None if requested == 0 => (
                lines.last().map_or(window_start, |line| line.1),
                lines.len(),
            ),
            None => (lines.first().map_or(window_start, |line| line.0), 0),
        };
        // The filter's state at the start: as after the lines before it.
        for line in lines.iter().take(before) {
            follower.filter.keep(&text(line));
        }
        file.seek(SeekFrom::Start(offset))?;
        follower.identity = (meta.dev(), meta.ino());
        follower.offset = offset;
        follower.file = Some(file);
        Ok(follower)
    }

    /// Reads what was added since the last look, and checks whether the path
    /// now names another file (rotated) or a shorter one (truncated).
    pub fn poll(&mut self) -> io::Result<Found> {
        let mut found = Found::default();
        self.read_new(&mut found)?;
        match std::fs::metadata(&self.path) {
            Ok(meta) if self.file.is_none() || (meta.dev(), meta.ino()) != self.identity => {
                if self.file.is_some() {
                    self.flush_partial(&mut found);
                    found.notices.push(format!(
                        "{} was replaced (rotated); following the new file",
                        self.path.display()
                    ));
                }
                match File::open(&self.path) {
                    Ok(file) => {
                        let meta = file.metadata()?;
                        self.identity = (meta.dev(), meta.ino());
                        self.file = Some(file);
                        self.offset = 0;
                        self.read_new(&mut found)?;
                    }
                    // Gone again between the look and the open: next time.
                    Err(error) if error.kind() == ErrorKind::NotFound => {}
                    Err(error) => return Err(error),
                }
            }
            Ok(meta) if meta.len() < self.offset => {
                self.partial.clear();
                found.notices.push(format!(
                    "{} was truncated; following it from its start",
                    self.path.display()
                ));
                if let Some(file) = self.file.as_mut() {
                    file.seek(SeekFrom::Start(0))?;
                }
                self.offset = 0;
                self.read_new(&mut found)?;
            }
            Ok(_) => {}
            // Renamed away and not created anew yet: keep reading the old file.
            Err(error) if error.kind() == ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        Ok(found)
    }

    /// Reads the open file to its end; complete lines go to `found`.
    fn read_new(&mut self, found: &mut Found) -> io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let mut bytes = Vec::new();
        let read = file.read_to_end(&mut bytes)?;
        self.offset += read as u64;
        self.partial.extend_from_slice(&bytes);
        while let Some(end) = self.partial.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            let line = text_of(&line[..line.len() - 1]);
            if self.filter.keep(&line) {
                found.lines.push(line);
            }
        }
        Ok(())
    }

    /// A last line without its newline, at the end of a file left behind.
    fn flush_partial(&mut self, found: &mut Found) {
        if !self.partial.is_empty() {
            let line = text_of(&std::mem::take(&mut self.partial));
            if self.filter.keep(&line) {
                found.lines.push(line);
            }
        }
    }
}

/// A line's text as the daemon shows it: lossy UTF-8, without a `\r`.
fn text_of(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.strip_suffix('\r').unwrap_or(&text).to_owned()
}

/// The lines of `bytes` (read from file offset `base`) as (start, end after
/// the newline, text). A last line without a newline counts, ending where the
/// bytes end; with `cut`, the first line is dropped (it began before `base`).
fn split_lines(bytes: &[u8], base: u64, cut: bool) -> Vec<(u64, u64, String)> {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let end = bytes[start..]
            .iter()
            .position(|&byte| byte == b'\n')
            .map_or(bytes.len(), |at| start + at + 1);
        let content = bytes[start..end]
            .strip_suffix(b"\n")
            .unwrap_or(&bytes[start..end]);
        lines.push((base + start as u64, base + end as u64, text_of(content)));
        start = end;
    }
    if cut && !lines.is_empty() {
        lines.remove(0);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn line(n: usize, level: &str) -> String {
        format!("2026-01-01 00:00:{n:02},000 - b - {level} - message {n}")
    }

    fn append(path: &Path, lines: &[String]) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open for appending");
        for line in lines {
            writeln!(file, "{line}").expect("append");
        }
    }

    #[test]
    fn reads_the_level_of_intelmq_lines() {
        assert_eq!(level_of(&line(1, "INFO")), Some(1));
        assert_eq!(level_of(&line(1, "WARN")), Some(2));
        assert_eq!(level_of(&line(1, "CRITICAL")), Some(4));
        assert_eq!(level_of("Traceback (most recent call last):"), None);
        assert_eq!(level_of("a - b - INFO"), None, "no message field");
    }

    #[test]
    fn the_filter_keeps_continuations_with_their_line() {
        let mut filter = LevelFilter::new(Some("WARNING"));
        let kept: Vec<bool> = [
            line(1, "INFO"),
            "  continued info".into(),
            line(2, "ERROR"),
            "Traceback".into(),
            line(3, "DEBUG"),
            line(4, "WARNING"),
        ]
        .iter()
        .map(|l| filter.keep(l))
        .collect();
        assert_eq!(kept, [false, false, true, true, false, true]);
        let mut all = LevelFilter::new(None);
        assert!(all.keep("anything"));
    }

    #[test]
    fn goes_on_after_the_daemons_last_line_without_loss_or_repeat() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("b.log");
        let lines: Vec<String> = (1..=5).map(|n| line(n, "INFO")).collect();
        append(&path, &lines);
        // The daemon showed lines 2..=3; 4 and 5 came before the client opened.
        let mut follower = Follower::new(&path, &lines[1..3], 2, None).expect("follower");
        let found = follower.poll().expect("poll");
        assert_eq!(found.lines, &lines[3..]);
        append(&path, &[line(6, "INFO")]);
        assert_eq!(follower.poll().expect("poll").lines, [line(6, "INFO")]);
        assert_eq!(follower.poll().expect("poll"), Found::default());
    }

    #[test]
    fn n_0_starts_at_the_end_and_an_empty_tail_means_everything_is_new() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("b.log");
        append(&path, &[line(1, "INFO"), line(2, "INFO")]);
        let mut from_end = Follower::new(&path, &[], 0, None).expect("follower");
        assert!(from_end.poll().expect("poll").lines.is_empty());
        // --level ERROR found nothing: a matching line that came since is new.
        let mut errors = Follower::new(&path, &[], 10, Some("ERROR")).expect("follower");
        append(&path, &[line(3, "ERROR"), line(4, "INFO")]);
        assert_eq!(errors.poll().expect("poll").lines, [line(3, "ERROR")]);
        assert_eq!(from_end.poll().expect("poll").lines.len(), 2);
    }

    #[test]
    fn follows_a_rename_and_a_new_file_and_a_truncation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("b.log");
        append(&path, &[line(1, "INFO")]);
        let mut follower = Follower::new(&path, &[line(1, "INFO")], 1, None).expect("follower");
        append(&path, &[line(2, "INFO")]);
        std::fs::rename(&path, dir.path().join("b.log.1")).expect("rename");
        // The bot still writes to the renamed file until it reopens.
        append(&dir.path().join("b.log.1"), &[line(3, "INFO")]);
        let found = follower.poll().expect("poll");
        assert_eq!(found.lines, [line(2, "INFO"), line(3, "INFO")]);
        assert!(found.notices.is_empty(), "{found:?}");
        append(&path, &[line(4, "INFO")]);
        let found = follower.poll().expect("poll");
        assert_eq!(found.lines, [line(4, "INFO")]);
        assert_eq!(found.notices.len(), 1, "{found:?}");
        assert!(found.notices[0].contains("replaced"), "{found:?}");

        append(&path, &[line(5, "INFO"), line(6, "INFO")]);
        assert_eq!(follower.poll().expect("poll").lines.len(), 2);
        std::fs::write(&path, "").expect("truncate");
        append(&path, &[line(7, "INFO")]);
        let found = follower.poll().expect("poll");
        assert_eq!(found.lines, [line(7, "INFO")]);
        assert!(found.notices[0].contains("truncated"), "{found:?}");
    }

    #[test]
    fn waits_for_a_file_that_does_not_exist_yet_and_keeps_partial_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("b.log");
        let mut follower = Follower::new(&path, &[], 10, None).expect("follower");
        assert_eq!(follower.poll().expect("poll"), Found::default());
        std::fs::write(&path, "first\nsecond wi").expect("write");
        assert_eq!(follower.poll().expect("poll").lines, ["first"]);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        file.write_all(b"thout end\r\n").expect("append");
        assert_eq!(follower.poll().expect("poll").lines, ["second without end"]);
    }

    #[test]
    fn the_level_filter_state_carries_over_from_the_shown_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("b.log");
        append(&path, &[line(1, "ERROR")]);
        let mut follower =
            Follower::new(&path, &[line(1, "ERROR")], 10, Some("WARNING")).expect("follower");
        append(
            &path,
            &[
                "Traceback of the error".into(),
                line(2, "INFO"),
                "more info".into(),
            ],
        );
        assert_eq!(
            follower.poll().expect("poll").lines,
            ["Traceback of the error"]
        );
    }
}
