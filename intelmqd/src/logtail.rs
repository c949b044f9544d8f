//! The last lines of a bot's log file, read from its end so that a log of
//! gigabytes costs no more than a short one.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// How far back from the end the tail is looked for.
const TAIL_WINDOW: u64 = 256 * 1024;

/// The last `count` lines of the file at `path`; empty when it does not exist.
pub fn last_lines(path: &Path, count: usize) -> Vec<String> {
    if count == 0 {
        return Vec::new();
    }
    let Ok(mut file) = File::open(path) else {
        return Vec::new();
    };
    let Ok(len) = file.seek(SeekFrom::End(0)) else {
        return Vec::new();
    };
    let start = len.saturating_sub(TAIL_WINDOW);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 && !lines.is_empty() {
        // The first line of the window is probably cut.
        lines.remove(0);
    }
    let skip = lines.len().saturating_sub(count);
    lines[skip..]
        .iter()
        .map(|line| (*line).to_owned())
        .collect()
}

/// IntelMQ's log levels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl LogLevel {
    /// A level as a user writes it; `ALL` is the lowest.
    pub fn parse(text: &str) -> Option<LogLevel> {
        match text.to_ascii_uppercase().as_str() {
            "ALL" | "DEBUG" => Some(LogLevel::Debug),
            "INFO" => Some(LogLevel::Info),
            "WARNING" | "WARN" => Some(LogLevel::Warning),
            "ERROR" => Some(LogLevel::Error),
            "CRITICAL" => Some(LogLevel::Critical),
            _ => None,
        }
    }

    /// The level of an IntelMQ log line, `<time> - <bot_id> - <LEVEL> - <message>`.
    pub fn of_line(line: &str) -> Option<LogLevel> {
        let mut fields = line.splitn(4, " - ");
        let (_, _, level) = (fields.next()?, fields.next()?, fields.next()?);
        fields.next()?;
        LogLevel::parse(level.trim())
    }
}

/// The last `count` lines at `level` or above. A line without a level (a
/// traceback's continuation) goes with the line before it.
pub fn last_lines_at_level(path: &Path, count: usize, level: Option<LogLevel>) -> Vec<String> {
    let Some(minimum) = level else {
        return last_lines(path, count);
    };
    let window = last_lines(path, usize::MAX);
    let mut kept = Vec::new();
    let mut keeping = false;
    for line in window {
        if let Some(found) = LogLevel::of_line(&line) {
            keeping = found >= minimum;
        }
        if keeping {
            kept.push(line);
        }
    }
    let skip = kept.len().saturating_sub(count);
    kept.split_off(skip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_level_keeping_continuations() {
        let path = std::env::temp_dir().join(format!("intelmqd-loglevel-{}", std::process::id()));
        std::fs::write(
            &path,
            "2026-01-01 00:00:00,000 - b - INFO - one\n\
             2026-01-01 00:00:01,000 - b - ERROR - two\n\
             Traceback line\n\
             2026-01-01 00:00:02,000 - b - DEBUG - three\n\
             2026-01-01 00:00:03,000 - b - WARNING - four\n",
        )
        .unwrap();
        let warnings = last_lines_at_level(&path, 10, Some(LogLevel::Warning));
        assert_eq!(
            warnings,
            [
                "2026-01-01 00:00:01,000 - b - ERROR - two",
                "Traceback line",
                "2026-01-01 00:00:03,000 - b - WARNING - four"
            ]
        );
        assert_eq!(
            last_lines_at_level(&path, 1, Some(LogLevel::Debug)).len(),
            1
        );
        assert_eq!(LogLevel::parse("all"), Some(LogLevel::Debug));
        assert_eq!(LogLevel::parse("loud"), None);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn returns_the_last_lines() {
        let path = std::env::temp_dir().join(format!("intelmqd-logtail-{}", std::process::id()));
        let text: String = (1..=15).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let lines = last_lines(&path, 10);
        assert_eq!(lines.len(), 10);
        assert_eq!(lines[0], "line 6");
        assert_eq!(lines[9], "line 15");
        assert_eq!(last_lines(&path, 100).len(), 15);
        std::fs::remove_file(&path).unwrap();
        assert!(last_lines(&path, 10).is_empty());
    }
}
