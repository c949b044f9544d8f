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

#[cfg(test)]
mod tests {
    use super::*;

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
