//! IntelMQ's log lines read into the entries of its `log` command:
//! `2024-05-01 10:00:00,123 - bot-id - INFO - message` (optionally
//! `bot-id.4` for thread 4) becomes `{"date","bot_id","thread_id",
//! "log_level","message"}`; the lines that follow an entry without that
//! shape (a traceback) become its `extended_message`.

use serde_json::{json, Value};

/// IntelMQ's log levels, lowest first.
pub const LEVELS: [&str; 5] = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

/// One entry of a bot's log, serialised as IntelMQ's intelmqctl prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// ISO 8601 without a zone: `2024-05-01T10:00:00.123000`.
    pub date: String,
    pub bot_id: String,
    pub thread_id: Option<u64>,
    pub log_level: String,
    pub message: String,
    /// The continuation lines, each ended by a newline, as IntelMQ joins them.
    pub extended_message: Option<String>,
}

impl LogEntry {
    /// The entry as IntelMQ's `--type json log` prints it, in its key order.
    pub fn to_json(&self) -> Value {
        let mut value = json!({
            "date": self.date,
            "bot_id": self.bot_id,
            "thread_id": self.thread_id,
            "log_level": self.log_level,
            "message": self.message,
        });
        if let (Some(extended), Some(object)) = (&self.extended_message, value.as_object_mut()) {
            object.insert("extended_message".into(), json!(extended));
        }
        value
    }

    /// The entry as IntelMQ's text mode prints it.
    pub fn to_text(&self) -> String {
        let mut text = [
            self.date.as_str(),
            &self.bot_id,
            &self.log_level,
            &self.message,
        ]
        .join(" - ");
        text.push('\n');
        if let Some(extended) = &self.extended_message {
            text.push_str(extended);
            text.push('\n');
        }
        text
    }
}

/// The rank of a level in [`LEVELS`]; `ALL` is `DEBUG`.
pub fn level_rank(level: &str) -> Option<usize> {
    let upper = level.to_ascii_uppercase();
    let upper = if upper == "ALL" {
        "DEBUG".to_owned()
    } else {
        upper
    };
    LEVELS.iter().position(|known| *known == upper)
}

/// Reads one line in IntelMQ's format, or `None` when it has another shape.
pub fn parse_line(line: &str) -> Option<LogEntry> {
    let (date, rest) = parse_date(line)?;
    let rest = rest.strip_prefix(" - ")?;
    let (bot_id, thread_id, rest) = parse_logger(rest)?;
    let rest = rest.strip_prefix(" - ")?;
    let level_len = rest.bytes().take_while(u8::is_ascii_uppercase).count();
    if level_len == 0 {
        return None;
    }
    let (log_level, rest) = rest.split_at(level_len);
    let message = rest.strip_prefix(" - ")?;
    if message.is_empty() {
        return None;
    }
    Some(LogEntry {
        date,
        bot_id: bot_id.to_owned(),
        thread_id,
        log_level: log_level.to_owned(),
        message: message.to_owned(),
        extended_message: None,
    })
}

/// `YYYY-MM-DD HH:MM:SS,fraction` as `YYYY-MM-DDTHH:MM:SS[.micro]` and the rest.
fn parse_date(line: &str) -> Option<(String, &str)> {
    const PATTERN: &[u8] = b"dddd-dd-dd dd:dd:dd,";
    let bytes = line.as_bytes();
    if bytes.len() <= PATTERN.len() {
        return None;
    }
    let shaped = PATTERN.iter().zip(bytes).all(|(want, got)| match want {
        b'd' => got.is_ascii_digit(),
        other => other == got,
    });
    if !shaped {
        return None;
    }
    let digits = bytes[PATTERN.len()..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 {
        return None;
    }
    let end = PATTERN.len() + digits;
    // Python's isoformat: microseconds, left out when zero.
    let fraction: String = line[PATTERN.len()..end]
        .chars()
        .chain(std::iter::repeat('0'))
        .take(6)
        .collect();
    let mut date = format!("{}T{}", &line[..10], &line[11..19]);
    if fraction != "000000" {
        date.push('.');
        date.push_str(&fraction);
    }
    Some((date, &line[end..]))
}

/// The logger name: a bot id of word characters and `-` (or `py.warnings`),
/// with an optional `.<thread>`.
fn parse_logger(text: &str) -> Option<(&str, Option<u64>, &str)> {
    if let Some(rest) = text.strip_prefix("py.warnings") {
        if rest.starts_with(" - ") {
            return Some(("py.warnings", None, rest));
        }
    }
    let id_len: usize = text
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        .map(char::len_utf8)
        .sum();
    if id_len == 0 {
        return None;
    }
    let (bot_id, rest) = text.split_at(id_len);
    let Some(after_dot) = rest.strip_prefix('.') else {
        return Some((bot_id, None, rest));
    };
    let thread_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
    let thread = after_dot[..thread_len].parse().ok()?;
    Some((bot_id, Some(thread), &after_dot[thread_len..]))
}

/// The entries of `lines` (oldest first) that `bot_id` logged at level
/// `minimum` (a rank of [`LEVELS`]) or above, the last `count` of them (all
/// with `None`). Lines before the first entry belong to an entry that is not
/// there and are dropped; an entry of another logger or below the level is
/// dropped with its continuation lines. A level IntelMQ does not know counts
/// as the lowest.
pub fn entries(
    lines: &[String],
    bot_id: &str,
    minimum: usize,
    count: Option<usize>,
) -> Vec<LogEntry> {
    let mut kept: Vec<LogEntry> = Vec::new();
    let mut current: Option<LogEntry> = None;
    for line in lines {
        match parse_line(line) {
            Some(entry) => {
                kept.extend(current.take());
                let rank = level_rank(&entry.log_level).unwrap_or(0);
                if entry.bot_id == bot_id && rank >= minimum {
                    current = Some(entry);
                }
            }
            None => {
                if let Some(entry) = current.as_mut() {
                    let extended = entry.extended_message.get_or_insert_with(String::new);
                    extended.push_str(line);
                    extended.push('\n');
                }
            }
        }
    }
    kept.extend(current);
    if let Some(count) = count {
        let skip = kept.len().saturating_sub(count);
        kept.drain(..skip);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn reads_intelmqs_own_examples() {
        let entry = parse_line(
            "2015-05-29 21:00:24,379 - malware-domain-list-collector - ERROR - Something went wrong",
        )
        .expect("parses");
        assert_eq!(
            entry.to_json(),
            serde_json::json!({"date": "2015-05-29T21:00:24.379000",
                "bot_id": "malware-domain-list-collector", "thread_id": null,
                "log_level": "ERROR", "message": "Something went wrong"})
        );
        let threaded = parse_line(
            "2015-05-29 21:00:24,379 - malware-domain-list-collector.4 - ERROR - Something went wrong",
        )
        .expect("parses");
        assert_eq!(threaded.thread_id, Some(4));
        assert_eq!(threaded.bot_id, "malware-domain-list-collector");
        assert!(parse_line("    report = self.receive_message()").is_none());
    }

    #[test]
    fn a_zero_fraction_is_left_out_like_pythons_isoformat() {
        let entry = parse_line("2024-05-01 10:00:00,000 - b - INFO - m").expect("parses");
        assert_eq!(entry.date, "2024-05-01T10:00:00");
        let entry = parse_line("2024-05-01 10:00:00,5 - b - INFO - m").expect("parses");
        assert_eq!(entry.date, "2024-05-01T10:00:00.500000");
    }

    #[test]
    fn lines_of_other_shapes_are_not_entries() {
        for line in [
            "",
            "2024-05-01 10:00:00 - b - INFO - no fraction",
            "2024-05-01 10:00:00,1 - b - info - lower case level",
            "2024-05-01 10:00:00,1 - b - INFO - ",
            "2024-05-01 10:00:00,1 - b/c - INFO - slash",
            "24-05-01 10:00:00,1 - b - INFO - short year",
        ] {
            assert!(parse_line(line).is_none(), "{line:?}");
        }
        let warning = parse_line("2024-05-01 10:00:00,1 - py.warnings - WARNING - w").expect("py");
        assert_eq!(warning.bot_id, "py.warnings");
    }

    #[test]
    fn continuations_become_the_extended_message_and_levels_filter() {
        let log = lines(
            "Traceback without its entry\n\
             2024-05-01 10:00:00,100 - b - INFO - one\n\
             2024-05-01 10:00:01,200 - b - ERROR - two\n\
             Traceback (most recent call last):\n\
             \x20 File \"x.py\", line 1\n\
             ValueError: bad\n\
             2024-05-01 10:00:02,300 - b - DEBUG - three\n\
             debug detail\n\
             2024-05-01 10:00:03,000 - other - ERROR - not ours\n\
             2024-05-01 10:00:04,400 - b - WARNING - four",
        );
        let all = entries(&log, "b", 0, None);
        let messages: Vec<&str> = all.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["one", "two", "three", "four"]);
        assert_eq!(
            all[1].extended_message.as_deref(),
            Some("Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: bad\n")
        );
        assert_eq!(all[2].extended_message.as_deref(), Some("debug detail\n"));
        assert_eq!(all[0].extended_message, None);

        let warnings = entries(&log, "b", level_rank("WARNING").expect("level"), None);
        let messages: Vec<&str> = warnings.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["two", "four"]);
        let last = entries(&log, "b", level_rank("info").expect("level"), Some(2));
        let messages: Vec<&str> = last.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["two", "four"]);
        assert!(entries(&log, "b", 0, Some(0)).is_empty());
    }

    #[test]
    fn levels_rank_like_intelmqs() {
        assert_eq!(level_rank("ALL"), Some(0));
        assert_eq!(level_rank("debug"), Some(0));
        assert_eq!(level_rank("CRITICAL"), Some(4));
        assert_eq!(level_rank("LOUD"), None);
    }
}
