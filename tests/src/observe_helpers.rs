//! Helpers for the observability tests (`tests/observability.rs`): an
//! `intelmqctl` that keeps running (`log --follow`, `events`) with its output
//! collected as it comes, the events it printed, and a strict parser of the
//! Prometheus text format for `metrics`.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use crate::{Daemon, TIMEOUT};

/// An `intelmqctl` that runs until it is stopped: its stdout and stderr are
/// collected by threads while it runs. Dropping it kills it.
pub struct Running {
    description: String,
    child: Option<Child>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    /// `intelmqctl --socket <daemon's socket> <args>`, stdin closed.
    pub fn ctl(daemon: &Daemon, args: &[&str]) -> Running {
        Running::spawn(daemon.ctl_command(args))
    }

    pub fn spawn(mut command: Command) -> Running {
        let description = format!("{command:?}");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run {description}: {error}"));
        let collect = |mut pipe: Box<dyn Read + Send>| {
            let text = Arc::new(Mutex::new(String::new()));
            let sink = Arc::clone(&text);
            std::thread::spawn(move || {
                let mut buffer = [0_u8; 4096];
                let mut pending = Vec::new();
                while let Ok(read) = pipe.read(&mut buffer) {
                    if read == 0 {
                        break;
                    }
                    pending.extend_from_slice(&buffer[..read]);
                    // Only whole UTF-8 characters go into the text.
                    let valid = match std::str::from_utf8(&pending) {
                        Ok(text) => text.len(),
                        Err(error) => error.valid_up_to(),
                    };
                    let chunk: Vec<u8> = pending.drain(..valid).collect();
                    lock(&sink).push_str(&String::from_utf8_lossy(&chunk));
                }
                lock(&sink).push_str(&String::from_utf8_lossy(&pending));
            });
            text
        };
        let stdout = collect(Box::new(child.stdout.take().expect("piped stdout")));
        let stderr = collect(Box::new(child.stderr.take().expect("piped stderr")));
        Running {
            description,
            child: Some(child),
            stdout,
            stderr,
        }
    }

    /// What it printed on stdout so far.
    pub fn stdout(&self) -> String {
        lock(&self.stdout).clone()
    }

    /// What it printed on stderr so far.
    pub fn stderr(&self) -> String {
        lock(&self.stderr).clone()
    }

    /// Waits until `condition` holds for its stdout; panics with everything
    /// after [`TIMEOUT`].
    #[track_caller]
    pub fn wait_for_stdout(&self, what: &str, mut condition: impl FnMut(&str) -> bool) {
        self.wait_for(what, || condition(&self.stdout()));
    }

    /// Waits until its stderr contains `text`.
    #[track_caller]
    pub fn wait_for_stderr(&self, text: &str) {
        self.wait_for(&format!("stderr shows {text:?}"), || {
            self.stderr().contains(text)
        });
    }

    #[track_caller]
    fn wait_for(&self, what: &str, condition: impl FnMut() -> bool) {
        if let Err(waited) = crate::poll_until(TIMEOUT, condition) {
            panic!(
                "timed out after {waited:?} waiting until {what}\n{}",
                self.report()
            );
        }
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| child.try_wait().ok().flatten().is_none())
    }

    /// Sends SIGINT (Ctrl+C) and waits for it to end.
    pub fn interrupt(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGINT);
        let mut status = None;
        let ended = crate::poll_until(TIMEOUT, || {
            status = child.try_wait().ok().flatten();
            status.is_some()
        });
        if ended.is_err() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} did not end on SIGINT\n{}",
                self.description,
                self.report()
            );
        }
        status.expect("ended")
    }

    /// Waits for it to end by itself; panics after `deadline`.
    pub fn wait_exit(mut self, deadline: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let mut status = None;
        let ended = crate::poll_until(deadline, || {
            status = child.try_wait().ok().flatten();
            status.is_some()
        });
        if ended.is_err() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} did not end\n{}", self.description, self.report());
        }
        status.expect("ended")
    }

    /// The command and its output, for panic messages.
    pub fn report(&self) -> String {
        format!(
            "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.description,
            self.stdout().trim_end(),
            self.stderr().trim_end()
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("{}", self.report());
        }
    }
}

fn lock(text: &Mutex<String>) -> std::sync::MutexGuard<'_, String> {
    text.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The JSON lines of `text` (`events --json`); panics on a line that is not
/// a JSON object. A last line without its newline is left out (still being
/// written).
pub fn json_lines(text: &str) -> Vec<Value> {
    let complete = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    complete
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("not a JSON line ({error}): {line:?}"));
            assert!(value.is_object(), "not a JSON object: {line}");
            value
        })
        .collect()
}

/// The kinds of the events of `bot_id` among `events`, in order.
pub fn kinds_of(events: &[Value], bot_id: &str) -> Vec<String> {
    events
        .iter()
        .filter(|event| event["bot_id"] == bot_id)
        .filter_map(|event| event["kind"].as_str().map(str::to_owned))
        .collect()
}

/// The numbers of the `tick N` lines of `text`, in order.
pub fn ticks(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|line| line.rsplit_once(" - tick ")?.1.trim().parse().ok())
        .collect()
}

/// One metric family: its `# HELP` text and `# TYPE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub help: String,
    pub kind: String,
}

/// One sample line: `name{labels} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed exposition in the Prometheus text format (version 0.0.4).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposition {
    pub families: BTreeMap<String, Family>,
    pub samples: Vec<Sample>,
}

impl Exposition {
    /// The value of the one sample of `name` with exactly these labels.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|sample| sample.name == name && sample.labels == wanted)
            .map(|sample| sample.value)
    }

    /// The samples of `name`.
    pub fn samples_of(&self, name: &str) -> Vec<&Sample> {
        self.samples.iter().filter(|s| s.name == name).collect()
    }
}

/// Parses the Prometheus text format strictly: every line ends with a
/// newline; `# HELP` and `# TYPE` once per family, before its samples; the
/// samples of a family together, right after its `# TYPE`; names and label
/// names valid; label values quoted with only `\\`, `\"` and `\n` escaped;
/// values Go floats (`NaN`, `+Inf`, `-Inf`); no series twice; counters not
/// negative. Errors name the line.
pub fn parse_prometheus(text: &str) -> Result<Exposition, String> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the text does not end with a newline".into());
    }
    let mut exposition = Exposition::default();
    let mut helps: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut done: Vec<String> = Vec::new();
    let mut series: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let fail = |what: String| Err(format!("line {number}: {what}: {line:?}"));
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("HELP"), Some(name), help) => {
                    if !valid_metric_name(name) {
                        return fail(format!("invalid metric name {name:?}"));
                    }
                    if helps.contains_key(name) || exposition.families.contains_key(name) {
                        return fail(format!("second HELP of {name}, or after its TYPE"));
                    }
                    helps.insert(name.to_owned(), help.unwrap_or("").to_owned());
                }
                (Some("TYPE"), Some(name), Some(kind)) => {
                    if !valid_metric_name(name) {
                        return fail(format!("invalid metric name {name:?}"));
                    }
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return fail(format!("unknown type {kind:?}"));
                    }
                    if exposition.families.contains_key(name) {
                        return fail(format!("second TYPE of {name}"));
                    }
                    let Some(help) = helps.get(name) else {
                        return fail(format!("TYPE of {name} without its HELP before it"));
                    };
                    exposition.families.insert(
                        name.to_owned(),
                        Family {
                            help: help.clone(),
                            kind: kind.to_owned(),
                        },
                    );
                    if let Some(previous) = current.replace(name.to_owned()) {
                        done.push(previous);
                    }
                }
                _ => {} // another comment
            }
            continue;
        }
        let sample = match parse_sample(line) {
            Ok(sample) => sample,
            Err(error) => return fail(error),
        };
        let family = family_of(&sample.name, &exposition.families);
        let Some(family) = family else {
            return fail(format!("sample of {} without a TYPE", sample.name));
        };
        if current.as_deref() != Some(family.as_str()) {
            return fail(format!(
                "sample of {family} apart from its family (the family now is {current:?})"
            ));
        }
        if done.contains(&family) {
            return fail(format!("{family} appears twice"));
        }
        if exposition.families[&family].kind == "counter" && sample.value < 0.0 {
            return fail("a negative counter".into());
        }
        let key = (sample.name.clone(), sample.labels.clone());
        if series.contains(&key) {
            return fail("the same series twice".into());
        }
        series.push(key);
        exposition.samples.push(sample);
    }
    Ok(exposition)
}

/// The family a sample belongs to: its own name, or for histograms and
/// summaries the name without `_bucket`, `_sum` or `_count`.
fn family_of(name: &str, families: &BTreeMap<String, Family>) -> Option<String> {
    if families.contains_key(name) {
        return Some(name.to_owned());
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let base = name.strip_suffix(suffix)?;
        families
            .get(base)
            .filter(|family| family.kind == "histogram" || family.kind == "summary")
            .map(|_| base.to_owned())
    })
}

fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `name{label="value",...} value [timestamp]`.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if !valid_metric_name(name) {
        return Err(format!("invalid metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        loop {
            // A label name, `=`, a quoted value, then `,` or `}`.
            let start = match chars.peek() {
                Some(&(_, '}')) => {
                    let (at, _) = chars.next().expect("peeked");
                    rest = &inner[at + 1..];
                    break;
                }
                Some(&(at, _)) => at,
                None => return Err("unclosed labels".into()),
            };
            let mut eq = None;
            for (at, c) in chars.by_ref() {
                if c == '=' {
                    eq = Some(at);
                    break;
                }
            }
            let eq = eq.ok_or("a label without '='")?;
            let label = &inner[start..eq];
            if !valid_label_name(label) {
                return Err(format!("invalid label name {label:?}"));
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err(format!("the value of label {label} is not quoted"));
            }
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => return Err(format!("bad escape {other:?} in a label value")),
                    },
                    Some((_, '"')) => break,
                    Some((_, '\n')) => return Err("a newline in a label value".into()),
                    Some((_, c)) => value.push(c),
                    None => return Err("unclosed label value".into()),
                }
            }
            if labels.insert(label.to_owned(), value).is_some() {
                return Err(format!("label {label} twice"));
            }
            match chars.next() {
                Some((_, ',')) => {}
                Some((at, '}')) => {
                    rest = &inner[at + 1..];
                    break;
                }
                other => return Err(format!("expected ',' or '}}' after a label, not {other:?}")),
            }
        }
    }
    let rest = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let mut fields = rest.split(' ');
    let value = fields.next().ok_or("no value")?;
    let value = match value {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        number => number
            .parse::<f64>()
            .ok()
            .filter(|_| !number.contains(['i', 'I', 'n', 'N']))
            .ok_or_else(|| format!("invalid value {number:?}"))?,
    };
    if let Some(timestamp) = fields.next() {
        timestamp
            .parse::<i64>()
            .map_err(|_| format!("invalid timestamp {timestamp:?}"))?;
    }
    if fields.next().is_some() {
        return Err("more than a value and a timestamp".into());
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "# HELP a_total Things.\n# TYPE a_total counter\na_total{bot_id=\"x\",q=\"a\\\"b\\\\c\\nd\"} 3\na_total{bot_id=\"y\"} 0 1700000000000\n# some comment\n\n# HELP b A gauge.\n# TYPE b gauge\nb -1.5e3\nb{z=\"\"} NaN\n";

    #[test]
    fn parses_a_valid_exposition() {
        let exposition = parse_prometheus(GOOD).expect("valid");
        assert_eq!(exposition.families["a_total"].kind, "counter");
        assert_eq!(exposition.families["b"].help, "A gauge.");
        assert_eq!(exposition.value("a_total", &[("bot_id", "y")]), Some(0.0));
        let odd = exposition.samples_of("a_total")[0];
        assert_eq!(odd.labels["q"], "a\"b\\c\nd");
        assert_eq!(exposition.value("b", &[]), Some(-1500.0));
        assert!(exposition.value("b", &[("z", "")]).is_some_and(f64::is_nan));
    }

    #[test]
    fn refuses_what_the_format_does_not_allow() {
        for (bad, why) in [
            ("# TYPE a gauge\na 1\n", "TYPE without HELP"),
            ("# HELP a x\n# TYPE a gauge\na 1", "no final newline"),
            ("a 1\n", "no TYPE"),
            ("# HELP a x\n# TYPE a gauge\na{b=1} 1\n", "unquoted label"),
            (
                "# HELP a x\n# TYPE a gauge\na{b=\"1\" 1\n",
                "unclosed labels",
            ),
            ("# HELP a x\n# TYPE a gauge\na one\n", "bad value"),
            (
                "# HELP a x\n# TYPE a gauge\na 1\na 2\n",
                "same series twice",
            ),
            ("# HELP a x\n# TYPE a counter\na -1\n", "negative counter"),
            (
                "# HELP a x\n# TYPE a gauge\n# HELP b y\n# TYPE b gauge\na 1\n",
                "apart",
            ),
            ("# HELP a x\n# TYPE a gauge\na{b=\"\\t\"} 1\n", "bad escape"),
            ("# HELP 1a x\n# TYPE 1a gauge\n", "bad name"),
            ("# HELP a x\n# TYPE a gauge\na  1\n", "two spaces"),
            ("# HELP a x\n# TYPE a gauge\na 1 2 3\n", "extra field"),
            ("# HELP a x\n# TYPE a wobbly\n", "unknown type"),
        ] {
            assert!(parse_prometheus(bad).is_err(), "accepted ({why}): {bad:?}");
        }
    }

    #[test]
    fn reads_ticks_and_json_lines() {
        assert_eq!(
            ticks("x - b - INFO - tick 1\nother\nx - b - INFO - tick 12\n"),
            [1, 12]
        );
        let lines = json_lines("{\"kind\":\"started\",\"bot_id\":\"b\"}\n{\"kind\":");
        assert_eq!(lines.len(), 1);
        assert_eq!(kinds_of(&lines, "b"), ["started"]);
    }
}
