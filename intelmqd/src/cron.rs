//! Crontab expressions of scheduled bots: the pure part of the scheduler.
//!
//! This module owns the `schedule_time` of a bot with `run_mode: scheduled`: it parses
//! and validates the expression ([`CronSchedule::parse`]), explains a bad one with an
//! error that names the field ([`CronError`]), and computes the first tick strictly
//! after a given time ([`CronSchedule::next_after`]). It has no clock, no task and no
//! I/O; the tick loop that sleeps until the next tick and runs the bot lives elsewhere
//! and passes the time in, so tests never read the wall clock.
//!
//! # Syntax
//!
//! - 5 fields `minute hour day-of-month month day-of-week`, or 6 with a leading
//!   `second` field, separated by blanks.
//! - A shortcut instead: `@yearly` = `@annually` (`0 0 1 1 *`), `@monthly` (`0 0 1 * *`),
//!   `@weekly` (`0 0 * * 0`), `@daily` = `@midnight` (`0 0 * * *`), `@hourly`
//!   (`0 * * * *`). `@reboot` is rejected: `onboot` is the daemon's way to start a bot
//!   at boot.
//! - In a field: `*`, a number, a range `1-10`, a step over all values `*/5` or over a
//!   range `1-10/2`, and lists of those `1,5,10-12`. A step needs `*` or a range in front
//!   of it: `5/10` is rejected (cron implementations disagree on what it means); write
//!   `5-59/10`.
//! - Ranges: second 0-59, minute 0-59, hour 0-23, day-of-month 1-31, month 1-12,
//!   day-of-week 0-7 where both 0 and 7 are Sunday.
//! - Names, case-insensitive, in their own field only: `JAN`..`DEC` for months and
//!   `SUN`..`SAT` for days of week, also in ranges and lists (`mon-fri`, `jan,jul`);
//!   `SUN` at the end of a range is 7, so `FRI-SUN` is Friday to Sunday.
//! - `?` alone in the day-of-month or day-of-week field means the same as `*`.
//! - Extensions that croner implements and that we accept because they are harmless
//!   (they are not valid classic cron, so they cannot change what a classic
//!   expression means): in
//!   day-of-month `L` (last day of the month), `15W` (the weekday nearest the 15th,
//!   inside the month) and `LW` (the last weekday of the month); in day-of-week `5L`
//!   (the last Friday of the month), `5#2` (the second Friday; 1 to 5) and `5#L` (the
//!   last Friday), also on a range (`MON-FRI#1`). croner's `+` prefix on day-of-week
//!   (force AND of day-of-month and day-of-week) and a seventh year field are rejected.
//! - An expression that can never fire because its days of month do not exist in its
//!   months (`0 0 30 2 *`, `0 0 31 4 *`) is rejected ([`CronError::NeverMatches`]);
//!   classic cron would accept it and silently never run the job. `0 0 29 2 *` is
//!   accepted: it fires in leap years.
//!
//! # Day of month and day of week
//!
//! As in Vixie cron (and cronie and Debian's cron, which derive from it): when both
//! fields are restricted, a day matches when EITHER matches, so `0 0 13 * 5` runs on
//! every 13th and on every Friday. A field counts as unrestricted when it starts with
//! `*` (or is `?`), exactly as cron tests its first character; so when one of the two
//! fields is a stepped wildcard such as `*/2` and the other is restricted, both must
//! match (`0 0 */2 * 1`: odd days of month that are Mondays), as in cron.
//!
//! # Time zones and daylight saving time
//!
//! [`CronSchedule::next_after`] works in the time zone of the time it is given (the
//! daemon passes `chrono::Local`) and compares instants, so a tick is never in the
//! past of the argument. Wall-clock times that a DST change skips or repeats are
//! handled by croner's rules, measured for `Europe/Berlin` in this module's tests:
//!
//! - A job whose second, minute and hour are each one single number (a "fixed-time"
//!   job, such as `30 2 * * *` or any shortcut) runs exactly once a day across both
//!   changes. On the spring-forward day (2026-03-29, 02:00 CET jumps to 03:00 CEST)
//!   `30 2 * * *` runs at 03:00 CEST, the first instant after the gap, and the next
//!   day at 02:30 again. On the fall-back day (2026-10-25, 02:00-02:59 happens twice)
//!   it runs at the first 02:30 (CEST, +02:00) only, and not at the second 02:30
//!   (CET); asked from inside the repeated hour's second pass, the next tick is the
//!   next day's. A fixed-time job just before the gap (`30 1 * * *`) runs once at
//!   01:30 and does not run again after the gap.
//! - Any other job (a wildcard, a step, a range or a list in the second, minute or
//!   hour field, such as `*/30 * * * *` or `0,30 2 * * *`) follows the wall clock:
//!   ticks inside the spring-forward gap are skipped without being made up, and ticks
//!   inside the repeated hour run in both passes (`*/30 * * * *` runs at 02:00 and
//!   02:30 CEST and again at 02:00 and 02:30 CET, i.e. every 30 real minutes).
//!   Unlike Vixie cron, which catches up the skipped ticks of `0,30 2 * * *` right
//!   after the gap and does not repeat them in the repeated hour, such a job does not
//!   run at all on the spring-forward day and runs twice as often during the
//!   repeated hour.
//!
//! To run a fixed-time job once per day across the fall-back change, the tick loop
//! must ask for the next tick after the previous tick (or after the current time,
//! which is later), never after an earlier time.
//!
//! # Engine
//!
//! The search is croner's (4.x), built with: seconds [`Seconds::Required`] (we always
//! hand it six fields, inserting second `0` for a 5-field expression, so a 5-field
//! expression ticks at second 0 of its minutes), year [`Year::Disallowed`] (no
//! seventh field), Vixie weekday numbering (`alternative_weekdays` off: 0 and 7 are
//! Sunday, not Quartz's 1 = Sunday), strict steps (`sloppy_ranges` off: no `5/10`),
//! and `dom_and_dow` on only where cron ANDs the two day fields (see above);
//! otherwise croner ORs them. croner 4.0.3 rather than 3.x because 3.x runs a
//! fixed-time job in the hour before a spring-forward gap twice (at 01:30 and again
//! at 03:00 for `30 1 * * *` in Berlin; croner issue 67, fixed in 4.0.3), and 4.0
//! fixed the ordering of searches through a repeated hour. Every field is checked
//! by this module before croner sees it, so that an error names its field;
//! croner's own errors do not.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeZone};
use croner::parser::{CronParser, Seconds, Year};

/// A parsed `schedule_time`.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    expression: String,
    has_seconds: bool,
    cron: croner::Cron,
}

impl CronSchedule {
    /// Parses a `schedule_time`: 5 classic fields (minute hour day-of-month month
    /// day-of-week), or 6 with a leading seconds field, or a shortcut: `@yearly`
    /// `@annually` `@monthly` `@weekly` `@daily` `@midnight` `@hourly`. `@reboot` is
    /// rejected with a message that points to `onboot`. Names of months and days
    /// (`jan`, `MON`), ranges, lists, steps (`*/5`, `1-10/2`) and `?` (alone, in the
    /// day-of-month or day-of-week field) are accepted, and so are croner's `L`, `W`
    /// and `#` in the day fields; see the module documentation for the whole syntax.
    pub fn parse(expression: &str) -> Result<CronSchedule, CronError> {
        let expression = expression.trim();
        if expression.is_empty() {
            return Err(CronError::Empty);
        }
        let shortcut = if expression.starts_with('@') {
            Some(expand_shortcut(expression)?)
        } else {
            None
        };
        let parts: Vec<&str> = shortcut.unwrap_or(expression).split_whitespace().collect();
        let (fields, has_seconds): ([&str; 6], bool) = match parts[..] {
            [mi, h, dom, mo, dow] => (["0", mi, h, dom, mo, dow], false),
            [s, mi, h, dom, mo, dow] => ([s, mi, h, dom, mo, dow], true),
            _ => {
                return Err(CronError::FieldCount {
                    expression: expression.to_string(),
                    found: parts.len(),
                })
            }
        };

        let mut checked = Vec::with_capacity(6);
        for (field, text) in CronField::ALL.into_iter().zip(fields) {
            let result = check_field(field, text).map_err(|problem| CronError::Field {
                expression: expression.to_string(),
                field,
                text: text.to_string(),
                token: problem.token,
                problem: problem.problem,
            })?;
            checked.push(result);
        }
        let (dom, month) = (&checked[3], &checked[4]);

        // Vixie cron: a day field is unrestricted when its first character is '*'.
        let dom_text = fields[3];
        let dow_text = fields[5];
        let unrestricted = |text: &str| text.starts_with('*') || text == "?";
        let and_days = unrestricted(dom_text) || unrestricted(dow_text);
        // Where the day of month has to match (AND, or a wildcard day of week), make sure
        // that some month of the expression has one of its days.
        if and_days && !dom.modifiers && !month_has_day(month.values, dom.values) {
            return Err(CronError::NeverMatches {
                expression: expression.to_string(),
                reason: format!(
                    "no month in the month field {:?} has a day named in the day-of-month field {:?}",
                    fields[4], dom_text
                ),
            });
        }

        let normalized: Vec<&str> = checked.iter().map(|c| c.normalized.as_str()).collect();
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Disallowed)
            .dom_and_dow(and_days)
            .alternative_weekdays(false)
            .sloppy_ranges(false)
            .build()
            .parse(&normalized.join(" "))
            .map_err(|e| CronError::Rejected {
                expression: expression.to_string(),
                message: e.to_string(),
            })?;
        Ok(CronSchedule {
            expression: expression.to_string(),
            has_seconds,
            cron,
        })
    }

    /// The first tick strictly after `after`, in `after`'s time zone; None if there is
    /// none (croner searches up to the year 5000). A fraction of a second in `after`
    /// counts: after 10:15:00.5 the next `*/5 * * * *` tick is 10:20:00. Ticks are
    /// always on a whole second.
    pub fn next_after<Tz: TimeZone>(&self, after: &DateTime<Tz>) -> Option<DateTime<Tz>> {
        self.cron.find_next_occurrence(after, false).ok()
    }

    /// The expression as written (trimmed).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// True when the expression has a seconds field.
    pub fn has_seconds(&self) -> bool {
        self.has_seconds
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression)
    }
}

impl FromStr for CronSchedule {
    type Err = CronError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CronSchedule::parse(s)
    }
}

/// A field of a crontab expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CronField {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl CronField {
    /// The fields in the order of a 6-field expression.
    pub const ALL: [CronField; 6] = [
        CronField::Second,
        CronField::Minute,
        CronField::Hour,
        CronField::DayOfMonth,
        CronField::Month,
        CronField::DayOfWeek,
    ];

    /// The field's name as error messages use it.
    pub fn name(self) -> &'static str {
        match self {
            CronField::Second => "second",
            CronField::Minute => "minute",
            CronField::Hour => "hour",
            CronField::DayOfMonth => "day-of-month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day-of-week",
        }
    }

    /// The smallest and largest number the field accepts.
    pub fn range(self) -> (u32, u32) {
        match self {
            CronField::Second | CronField::Minute => (0, 59),
            CronField::Hour => (0, 23),
            CronField::DayOfMonth => (1, 31),
            CronField::Month => (1, 12),
            CronField::DayOfWeek => (0, 7),
        }
    }

    /// The names the field accepts, and the number of the first.
    fn names(self) -> (&'static [&'static str], u32) {
        match self {
            CronField::Month => (&MONTH_NAMES, 1),
            CronField::DayOfWeek => (&DAY_NAMES, 0),
            _ => (&[], 0),
        }
    }
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a `schedule_time` was rejected. Every message starts with
/// `schedule_time "<expression>": ` and, where one field is at fault, names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    /// Empty or blank.
    #[error("schedule_time is empty: expected 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or a shortcut such as @daily")]
    Empty,
    /// Not 5 or 6 fields.
    #[error("schedule_time {expression:?}: expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, found {found}")]
    FieldCount { expression: String, found: usize },
    /// `@reboot`.
    #[error("schedule_time {expression:?}: @reboot is not supported; to start a bot at boot, set \"onboot\": true instead")]
    Reboot { expression: String },
    /// An `@word` other than the known shortcuts.
    #[error("schedule_time {expression:?}: unknown shortcut; known are @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly")]
    UnknownShortcut { expression: String },
    /// One field is wrong. `text` is the whole field, `token` the part of it at fault
    /// (the same as `text` when the whole field is), `problem` what is wrong with
    /// `token` (for example `is out of range 0-59`).
    #[error("schedule_time {expression:?}: the {field} field {text:?}{}", field_detail(.text, .token, .problem))]
    Field {
        expression: String,
        field: CronField,
        text: String,
        token: String,
        problem: String,
    },
    /// The fields are each fine but no date has them all.
    #[error("schedule_time {expression:?}: never matches: {reason}")]
    NeverMatches { expression: String, reason: String },
    /// croner refused an expression that our own checks let through (a bug of ours).
    #[error("schedule_time {expression:?}: not accepted by the cron engine: {message}")]
    Rejected { expression: String, message: String },
}

fn field_detail(text: &str, token: &str, problem: &str) -> String {
    if text == token {
        format!(" {problem}")
    } else {
        format!(": {token:?} {problem}")
    }
}

fn expand_shortcut(expression: &str) -> Result<&'static str, CronError> {
    match expression.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => Ok("0 0 1 1 *"),
        "@monthly" => Ok("0 0 1 * *"),
        "@weekly" => Ok("0 0 * * 0"),
        "@daily" | "@midnight" => Ok("0 0 * * *"),
        "@hourly" => Ok("0 * * * *"),
        "@reboot" => Err(CronError::Reboot {
            expression: expression.to_string(),
        }),
        _ => Err(CronError::UnknownShortcut {
            expression: expression.to_string(),
        }),
    }
}

/// A field that passed [`check_field`].
struct CheckedField {
    /// The field as handed to croner: names replaced by numbers, upper case.
    normalized: String,
    /// Bit n set when plain number n is selected (L, W and # not counted).
    values: u64,
    /// L, W or # is used.
    modifiers: bool,
}

/// What is wrong with a field: `token` (a part of the field) `problem`.
struct Problem {
    token: String,
    problem: String,
}

fn problem(token: &str, problem: impl Into<String>) -> Problem {
    Problem {
        token: token.to_string(),
        problem: problem.into(),
    }
}

fn bits(from: u32, to: u32, step: u32) -> u64 {
    (from..=to)
        .step_by(step as usize)
        .fold(0, |acc, v| acc | 1 << v)
}

fn check_field(field: CronField, text: &str) -> Result<CheckedField, Problem> {
    let (min, max) = field.range();
    let day_field = matches!(field, CronField::DayOfMonth | CronField::DayOfWeek);
    if text == "*" || (text == "?" && day_field) {
        return Ok(CheckedField {
            normalized: "*".to_string(),
            values: bits(min, max, 1),
            modifiers: false,
        });
    }
    if text.contains('?') {
        return Err(problem(
            text,
            "uses ?, which is only allowed as the whole day-of-month or day-of-week field",
        ));
    }
    let mut normalized = Vec::new();
    let mut values = 0;
    let mut modifiers = false;
    for item in text.split(',') {
        if item.is_empty() {
            return Err(problem(text, "has an empty list item"));
        }
        let (n, v, m) = check_item(field, item)?;
        normalized.push(n);
        values |= v;
        modifiers |= m;
    }
    Ok(CheckedField {
        normalized: normalized.join(","),
        values,
        modifiers,
    })
}

/// Checks one list item; returns it normalized, its plain values and whether it uses a
/// modifier (L, W, #).
fn check_item(field: CronField, item: &str) -> Result<(String, u64, bool), Problem> {
    let (min, max) = field.range();

    if let Some((base, step_text)) = item.split_once('/') {
        let step = match number(step_text) {
            Some(step) if (1..=max).contains(&step) => step,
            Some(_) => return Err(problem(item, format!("has a step out of range 1-{max}"))),
            None => return Err(problem(item, "has a step that is not a number")),
        };
        if base == "*" {
            return Ok((format!("*/{step}"), bits(min, max, step), false));
        }
        if !base.contains('-') {
            return Err(problem(
                item,
                format!(
                    "needs * or a range before the step, as in */{step} or {base}-{max}/{step}"
                ),
            ));
        }
        let (lo, hi) = check_range(field, item, base)?;
        return Ok((format!("{lo}-{hi}/{step}"), bits(lo, hi, step), false));
    }

    if field == CronField::DayOfMonth {
        if item.eq_ignore_ascii_case("L") || item.eq_ignore_ascii_case("LW") {
            return Ok((item.to_ascii_uppercase(), 0, true));
        }
        if let Some(day) = strip_suffix_ignore_case(item, 'W') {
            let day = check_value(field, item, day)?;
            // The weekday nearest day n stays inside the month, so the month
            // must have a day n: counted as a plain day for that check.
            return Ok((format!("{day}W"), bits(day, day, 1), false));
        }
    }

    if field == CronField::DayOfWeek {
        if let Some((base, nth)) = item.split_once('#') {
            let nth = if nth.eq_ignore_ascii_case("L") {
                "L".to_string()
            } else {
                match number(nth) {
                    Some(n) if (1..=5).contains(&n) => n.to_string(),
                    _ => {
                        return Err(problem(
                            item,
                            "has an occurrence after # that is not 1-5 or L",
                        ))
                    }
                }
            };
            let base = if base.contains('-') {
                let (lo, hi) = check_range(field, item, base)?;
                format!("{lo}-{hi}")
            } else {
                check_value(field, item, base)?.to_string()
            };
            return Ok((format!("{base}#{nth}"), 0, true));
        }
        if let Some(base) = strip_suffix_ignore_case(item, 'L') {
            if !base.is_empty() && !base.contains('-') {
                let day = check_value(field, item, base)?;
                return Ok((format!("{day}L"), 0, true));
            }
        }
    }

    if item.contains('-') {
        let (lo, hi) = check_range(field, item, item)?;
        return Ok((format!("{lo}-{hi}"), bits(lo, hi, 1), false));
    }
    let value = check_value(field, item, item)?;
    Ok((value.to_string(), bits(value, value, 1), false))
}

fn strip_suffix_ignore_case(text: &str, suffix: char) -> Option<&str> {
    text.strip_suffix(suffix.to_ascii_uppercase())
        .or_else(|| text.strip_suffix(suffix.to_ascii_lowercase()))
}

/// Checks the range `a-b` that is `item` or part of it.
fn check_range(field: CronField, item: &str, range: &str) -> Result<(u32, u32), Problem> {
    let Some((lo_text, hi_text)) = range.split_once('-') else {
        return Err(problem(item, "is not a range"));
    };
    if hi_text.contains('-') {
        return Err(problem(item, "has more than one - in a range"));
    }
    let lo = check_value(field, item, lo_text)?;
    let mut hi = check_value(field, item, hi_text)?;
    // As in cron, SUN at the end of a range is 7 (FRI-SUN), unless the range starts at 0.
    if field == CronField::DayOfWeek && lo > 0 && hi_text.eq_ignore_ascii_case(DAY_NAMES[0]) {
        hi = 7;
    }
    if lo > hi {
        return Err(problem(item, "is a range whose start is after its end"));
    }
    Ok((lo, hi))
}

/// Checks a number or a name, `text`, that is `item` or part of it.
fn check_value(field: CronField, item: &str, text: &str) -> Result<u32, Problem> {
    let (min, max) = field.range();
    if text.is_empty() {
        return Err(problem(item, "is missing a number"));
    }
    if let Some(value) = number(text) {
        if !(min..=max).contains(&value) {
            return Err(problem(text, format!("is out of range {min}-{max}")));
        }
        return Ok(value);
    }
    let (names, first) = field.names();
    if let Some(index) = names
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text))
    {
        return Ok(first + index as u32);
    }
    let what = match field {
        CronField::Month => "is not a number or a month name (JAN-DEC)",
        CronField::DayOfWeek => "is not a number or a day name (SUN-SAT)",
        _ => "is not a number",
    };
    Err(problem(text, what))
}

fn number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse().unwrap_or(u32::MAX))
}

/// Whether any month in `months` (bit n = month n) has a day in `days` (bit n = day n).
fn month_has_day(months: u64, days: u64) -> bool {
    const LONGEST: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    (1..=12u32)
        .filter(|m| months & (1 << m) != 0)
        .any(|m| days & bits(1, LONGEST[m as usize - 1], 1) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Local, NaiveDate, Utc, Weekday};
    use chrono_tz::Europe::Berlin;
    use chrono_tz::Tz;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn schedule(expression: &str) -> CronSchedule {
        CronSchedule::parse(expression)
            .unwrap_or_else(|e| panic!("{expression:?} should parse: {e}"))
    }

    /// The first `n` ticks after `start`, each strictly after the one before.
    fn ticks<T: TimeZone>(expression: &str, start: DateTime<T>, n: usize) -> Vec<DateTime<T>> {
        let schedule = schedule(expression);
        let mut out = Vec::new();
        let mut t = start;
        for _ in 0..n {
            t = schedule.next_after(&t).expect("a next tick");
            out.push(t.clone());
        }
        out
    }

    fn ticks_rfc3339<T: TimeZone>(expression: &str, start: DateTime<T>, n: usize) -> Vec<String>
    where
        T::Offset: fmt::Display,
    {
        ticks(expression, start, n)
            .iter()
            .map(|t| t.to_rfc3339())
            .collect()
    }

    fn field_error(expression: &str) -> (CronField, String) {
        match CronSchedule::parse(expression) {
            Err(e @ CronError::Field { field, .. }) => (field, e.to_string()),
            other => panic!("{expression:?}: expected a field error, got {other:?}"),
        }
    }

    // ---- shortcuts ----

    #[test]
    fn shortcuts() {
        // Wednesday 2026-05-13 10:11:12 UTC.
        let start = utc(2026, 5, 13, 10, 11, 12);
        let cases = [
            ("@yearly", utc(2027, 1, 1, 0, 0, 0)),
            ("@annually", utc(2027, 1, 1, 0, 0, 0)),
            ("@monthly", utc(2026, 6, 1, 0, 0, 0)),
            ("@weekly", utc(2026, 5, 17, 0, 0, 0)),
            ("@daily", utc(2026, 5, 14, 0, 0, 0)),
            ("@midnight", utc(2026, 5, 14, 0, 0, 0)),
            ("@hourly", utc(2026, 5, 13, 11, 0, 0)),
        ];
        for (expression, next) in cases {
            let s = schedule(expression);
            assert_eq!(s.next_after(&start), Some(next), "{expression}");
            assert!(!s.has_seconds(), "{expression}");
            assert_eq!(s.expression(), expression);
        }
        assert_eq!(utc(2026, 5, 17, 0, 0, 0).weekday(), Weekday::Sun);
        // The tick after a tick.
        assert_eq!(
            ticks("@weekly", start, 2)[1],
            utc(2026, 5, 24, 0, 0, 0),
            "a week later"
        );
        assert_eq!(
            schedule("  @DAILY ").next_after(&start),
            Some(utc(2026, 5, 14, 0, 0, 0))
        );
    }

    #[test]
    fn reboot_and_unknown_shortcuts_are_rejected() {
        let e = CronSchedule::parse("@reboot").unwrap_err();
        assert_eq!(
            e,
            CronError::Reboot {
                expression: "@reboot".into()
            }
        );
        assert!(e.to_string().contains("onboot"), "{e}");
        assert!(
            e.to_string().starts_with("schedule_time \"@reboot\": "),
            "{e}"
        );
        let e = CronSchedule::parse("@fortnightly").unwrap_err();
        assert!(matches!(e, CronError::UnknownShortcut { .. }), "{e:?}");
        assert!(e.to_string().contains("@hourly"), "{e}");
        assert!(matches!(
            CronSchedule::parse("@daily 5").unwrap_err(),
            CronError::UnknownShortcut { .. }
        ));
    }

    // ---- fields ----

    #[test]
    fn every_five_minutes() {
        assert_eq!(
            ticks("*/5 * * * *", utc(2026, 5, 13, 10, 11, 12), 3),
            [
                utc(2026, 5, 13, 10, 15, 0),
                utc(2026, 5, 13, 10, 20, 0),
                utc(2026, 5, 13, 10, 25, 0)
            ]
        );
        assert_eq!(
            ticks("*/5 * * * *", utc(2026, 12, 31, 23, 57, 0), 1),
            [utc(2027, 1, 1, 0, 0, 0)]
        );
    }

    #[test]
    fn ranges_lists_and_steps() {
        let start = utc(2026, 5, 13, 10, 11, 12);
        assert_eq!(
            ticks("1-10/3 * * * *", start, 5),
            [
                utc(2026, 5, 13, 11, 1, 0),
                utc(2026, 5, 13, 11, 4, 0),
                utc(2026, 5, 13, 11, 7, 0),
                utc(2026, 5, 13, 11, 10, 0),
                utc(2026, 5, 13, 12, 1, 0),
            ]
        );
        assert_eq!(
            ticks("10,20,45-46 * * * *", start, 5),
            [
                utc(2026, 5, 13, 10, 20, 0),
                utc(2026, 5, 13, 10, 45, 0),
                utc(2026, 5, 13, 10, 46, 0),
                utc(2026, 5, 13, 11, 10, 0),
                utc(2026, 5, 13, 11, 20, 0),
            ]
        );
        // 8:00, 10:00 ... 16:00 on weekdays; Wednesday 10:11 -> 12:00, Friday 16:00 -> Monday 8:00.
        assert_eq!(
            ticks("0 8-17/2 * * 1-5", start, 2),
            [utc(2026, 5, 13, 12, 0, 0), utc(2026, 5, 13, 14, 0, 0)]
        );
        assert_eq!(
            ticks("0 8-17/2 * * 1-5", utc(2026, 5, 15, 16, 0, 0), 1),
            [utc(2026, 5, 18, 8, 0, 0)]
        );
        // */7 restarts at 0 every hour, as in cron.
        assert_eq!(
            ticks("*/7 * * * *", utc(2026, 5, 13, 10, 50, 0), 2),
            [utc(2026, 5, 13, 10, 56, 0), utc(2026, 5, 13, 11, 0, 0)]
        );
        // Step over months.
        assert_eq!(
            ticks("0 0 1 */4 *", start, 3),
            [
                utc(2026, 9, 1, 0, 0, 0),
                utc(2027, 1, 1, 0, 0, 0),
                utc(2027, 5, 1, 0, 0, 0)
            ]
        );
    }

    #[test]
    fn month_and_day_names() {
        let start = utc(2026, 5, 13, 10, 11, 12);
        // July 2026: Wed 1st, so the first weekday at noon is July 1.
        assert_eq!(
            ticks("0 12 * jan,JUL mon-fri", start, 3),
            [
                utc(2026, 7, 1, 12, 0, 0),
                utc(2026, 7, 2, 12, 0, 0),
                utc(2026, 7, 3, 12, 0, 0)
            ]
        );
        assert_eq!(ticks("0 0 1 Dec *", start, 1), [utc(2026, 12, 1, 0, 0, 0)]);
        assert_eq!(
            ticks("0 0 1 mar-may/2 *", start, 2),
            [utc(2027, 3, 1, 0, 0, 0), utc(2027, 5, 1, 0, 0, 0)]
        );
        // SUN at the end of a range is 7: Friday to Sunday.
        let weekend: Vec<Weekday> = ticks("0 0 * * FRI-SUN", start, 4)
            .iter()
            .map(|t| t.weekday())
            .collect();
        assert_eq!(
            weekend,
            [Weekday::Fri, Weekday::Sat, Weekday::Sun, Weekday::Fri]
        );
        // SUN-SAT is every day, SUN-SUN only Sunday.
        assert_eq!(ticks("0 0 * * sun-sat", start, 7).len(), 7);
        assert_eq!(
            ticks("0 0 * * sun-sun", start, 2),
            [utc(2026, 5, 17, 0, 0, 0), utc(2026, 5, 24, 0, 0, 0)]
        );
    }

    #[test]
    fn sunday_is_0_and_7() {
        let start = utc(2026, 5, 13, 10, 11, 12);
        let sundays = [
            utc(2026, 5, 17, 0, 0, 0),
            utc(2026, 5, 24, 0, 0, 0),
            utc(2026, 5, 31, 0, 0, 0),
        ];
        for expression in [
            "0 0 * * 0",
            "0 0 * * 7",
            "0 0 * * SUN",
            "0 0 * * sun",
            "0 0 * * 0,7",
        ] {
            assert_eq!(ticks(expression, start, 3), sundays, "{expression}");
        }
        let days: Vec<Weekday> = ticks("0 0 * * 5-7", start, 4)
            .iter()
            .map(|t| t.weekday())
            .collect();
        assert_eq!(
            days,
            [Weekday::Fri, Weekday::Sat, Weekday::Sun, Weekday::Fri]
        );
        assert_eq!(ticks("0 0 * * 0-7", start, 7).len(), 7);
    }

    #[test]
    fn month_ends() {
        assert_eq!(
            ticks("0 0 31 * *", utc(2026, 4, 30, 0, 0, 0), 3),
            [
                utc(2026, 5, 31, 0, 0, 0),
                utc(2026, 7, 31, 0, 0, 0),
                utc(2026, 8, 31, 0, 0, 0)
            ]
        );
        // A date that never exists is rejected up front, not accepted to never run.
        for expression in [
            "0 0 30 2 *",
            "0 0 31 2 *",
            "0 0 31 4,6,9,11 *",
            "0 0 30-31 feb *",
        ] {
            let e = CronSchedule::parse(expression).unwrap_err();
            assert!(
                matches!(e, CronError::NeverMatches { .. }),
                "{expression}: {e:?}"
            );
            assert!(e.to_string().contains("never matches"), "{e}");
        }
        assert_eq!(
            CronSchedule::parse("0 0 30 2 *").unwrap_err().to_string(),
            "schedule_time \"0 0 30 2 *\": never matches: no month in the month field \"2\" has a day named in the day-of-month field \"30\""
        );
        // With a restricted day of week, cron ORs: Mondays of February (Feb 30 never comes).
        assert_eq!(
            ticks("0 0 30 2 mon", utc(2026, 3, 1, 0, 0, 0), 2),
            [utc(2027, 2, 1, 0, 0, 0), utc(2027, 2, 8, 0, 0, 0)]
        );
        // One existing combination is enough.
        assert_eq!(
            ticks("0 0 31 2,3 *", utc(2026, 1, 1, 0, 0, 0), 1),
            [utc(2026, 3, 31, 0, 0, 0)]
        );
    }

    #[test]
    fn leap_days() {
        assert_eq!(
            ticks("0 0 29 2 *", utc(2025, 3, 1, 0, 0, 0), 2),
            [utc(2028, 2, 29, 0, 0, 0), utc(2032, 2, 29, 0, 0, 0)]
        );
        // 2100 is not a leap year.
        assert_eq!(
            ticks("0 0 29 2 *", utc(2096, 3, 1, 0, 0, 0), 1),
            [utc(2104, 2, 29, 0, 0, 0)]
        );
    }

    #[test]
    fn day_of_month_or_day_of_week() {
        // January 2026: the 13th is a Tuesday; Fridays are 2, 9, 16, 23, 30.
        assert_eq!(
            ticks("0 0 13 * 5", utc(2026, 1, 1, 0, 0, 0), 6),
            [
                utc(2026, 1, 2, 0, 0, 0),
                utc(2026, 1, 9, 0, 0, 0),
                utc(2026, 1, 13, 0, 0, 0),
                utc(2026, 1, 16, 0, 0, 0),
                utc(2026, 1, 23, 0, 0, 0),
                utc(2026, 1, 30, 0, 0, 0),
            ]
        );
        // February 2026: Friday the 13th runs once.
        assert_eq!(
            ticks("0 0 13 * 5", utc(2026, 2, 7, 0, 0, 0), 2),
            [utc(2026, 2, 13, 0, 0, 0), utc(2026, 2, 20, 0, 0, 0)]
        );
        // With one day field '*', the other decides alone.
        assert_eq!(
            ticks("0 0 13 * *", utc(2026, 1, 1, 0, 0, 0), 2),
            [utc(2026, 1, 13, 0, 0, 0), utc(2026, 2, 13, 0, 0, 0)]
        );
        assert_eq!(
            ticks("0 0 * * 5", utc(2026, 1, 1, 0, 0, 0), 2),
            [utc(2026, 1, 2, 0, 0, 0), utc(2026, 1, 9, 0, 0, 0)]
        );
        // `?` is `*`.
        assert_eq!(
            ticks("0 0 ? * 5", utc(2026, 1, 1, 0, 0, 0), 2),
            [utc(2026, 1, 2, 0, 0, 0), utc(2026, 1, 9, 0, 0, 0)]
        );
        assert_eq!(
            ticks("0 0 13 * ?", utc(2026, 1, 1, 0, 0, 0), 2),
            [utc(2026, 1, 13, 0, 0, 0), utc(2026, 2, 13, 0, 0, 0)]
        );
    }

    #[test]
    fn star_prefixed_day_field_means_and_as_in_cron() {
        // Vixie cron tests the first character: `*/2` is unrestricted, so both must
        // match: odd days of month that are Mondays. June 2026: Mondays 1, 8, 15, 22, 29.
        assert_eq!(
            ticks("0 0 */2 * 1", utc(2026, 6, 1, 0, 0, 0), 3),
            [
                utc(2026, 6, 15, 0, 0, 0),
                utc(2026, 6, 29, 0, 0, 0),
                utc(2026, 7, 13, 0, 0, 0)
            ]
        );
        // The 1st of a month that is Sun, Tue, Thu or Sat (2026: Feb Sun, Mar Sun,
        // Apr Wed, May Fri, Jun Mon, Jul Wed, Aug Sat).
        let firsts = ticks("0 0 1 * */2", utc(2026, 1, 1, 0, 0, 0), 3);
        assert_eq!(
            firsts,
            [
                utc(2026, 2, 1, 0, 0, 0),
                utc(2026, 3, 1, 0, 0, 0),
                utc(2026, 8, 1, 0, 0, 0)
            ]
        );
    }

    #[test]
    fn seconds_field() {
        let s = schedule("*/2 * * * * *");
        assert!(s.has_seconds());
        let start = utc(2026, 5, 13, 10, 11, 12);
        let got = ticks("*/2 * * * * *", start, 4);
        assert_eq!(got[0], utc(2026, 5, 13, 10, 11, 14));
        for pair in got.windows(2) {
            assert_eq!(pair[1] - pair[0], chrono::TimeDelta::seconds(2));
        }
        assert_eq!(
            ticks("30 0 12 * * *", start, 2),
            [utc(2026, 5, 13, 12, 0, 30), utc(2026, 5, 14, 12, 0, 30)]
        );
        // Five fields tick at second 0.
        assert!(!schedule("* * * * *").has_seconds());
        assert_eq!(ticks("* * * * *", start, 1), [utc(2026, 5, 13, 10, 12, 0)]);
    }

    #[test]
    fn strictly_after() {
        let s = schedule("*/5 * * * *");
        let tick = utc(2026, 5, 13, 10, 15, 0);
        assert_eq!(s.next_after(&tick), Some(utc(2026, 5, 13, 10, 20, 0)));
        let half_past = tick + chrono::TimeDelta::milliseconds(500);
        assert_eq!(s.next_after(&half_past), Some(utc(2026, 5, 13, 10, 20, 0)));
        let just_before = tick - chrono::TimeDelta::milliseconds(1);
        assert_eq!(s.next_after(&just_before), Some(tick));
        let s = schedule("* * * * * *");
        assert_eq!(
            s.next_after(&tick),
            Some(tick + chrono::TimeDelta::seconds(1))
        );
        assert_eq!(
            s.next_after(&half_past),
            Some(tick + chrono::TimeDelta::seconds(1))
        );
    }

    #[test]
    fn extensions_l_w_hash() {
        let start = utc(2026, 2, 1, 0, 0, 0);
        // Last day of February 2026 and of March.
        assert_eq!(
            ticks("0 0 L * *", start, 2),
            [utc(2026, 2, 28, 0, 0, 0), utc(2026, 3, 31, 0, 0, 0)]
        );
        // Last Friday: Feb 27, Mar 27.
        assert_eq!(
            ticks("0 0 * * 5L", start, 2),
            [utc(2026, 2, 27, 0, 0, 0), utc(2026, 3, 27, 0, 0, 0)]
        );
        assert_eq!(
            ticks("0 0 * * FRI#L", start, 1),
            [utc(2026, 2, 27, 0, 0, 0)]
        );
        // First Monday: Feb 2, Mar 2.
        assert_eq!(
            ticks("0 0 * * mon#1", start, 2),
            [utc(2026, 2, 2, 0, 0, 0), utc(2026, 3, 2, 0, 0, 0)]
        );
        // Nearest weekday to the 15th: Sun Feb 15 -> Mon 16; Sun Mar 15 -> Mon 16.
        assert_eq!(ticks("0 0 15W * *", start, 1), [utc(2026, 2, 16, 0, 0, 0)]);
        // Found by fuzzing: a W day that no month of the expression has.
        for never in ["0 0 31W 9 *", "0 0 30W 2 *", "0 0 31W 4,6,9,11 *"] {
            assert!(
                matches!(
                    CronSchedule::parse(never),
                    Err(CronError::NeverMatches { .. })
                ),
                "{never} must be refused"
            );
        }
        // Last weekday: Fri Feb 27 (28th is Saturday).
        assert_eq!(ticks("0 0 LW * *", start, 1), [utc(2026, 2, 27, 0, 0, 0)]);
        // First Monday to Friday of the month (each weekday's first occurrence).
        assert_eq!(ticks("0 0 * * MON-FRI#1", start, 5).len(), 5);
    }

    #[test]
    fn accepted_syntax_is_accepted_by_croner() {
        for expression in [
            "* * * * *",
            "0-59 0-23 1-31 1-12 0-7",
            "0,59 0,23 1,31 1,12 0,7",
            "*/59 */23 */31 */12 */7",
            "0-59/59 0-23/23 1-31/31 1-12/12 0-7/7",
            "59 59 23 31 12 7",
            "00 05 01 01 00",
            "0 0 L * *",
            "0 0 LW * *",
            "0 0 1W,15W * *",
            "0 0 ? * 7L",
            "0 0 ? * SUN#5",
            "0 0 * * 1-5#2",
            "0 0 1,L * 1-5",
            "0 0 * JAN-DEC SUN-SAT",
            "0 0 * jan-dec/3 mon-sun",
            "\t0  0\t* * *  ",
        ] {
            assert!(
                CronSchedule::parse(expression).is_ok(),
                "{expression:?}: {:?}",
                CronSchedule::parse(expression)
            );
        }
    }

    // ---- errors ----

    #[test]
    fn field_errors_name_the_field() {
        assert_eq!(
            CronSchedule::parse("61 * * * *").unwrap_err().to_string(),
            "schedule_time \"61 * * * *\": the minute field \"61\" is out of range 0-59"
        );
        let cases = [
            ("61 * * * *", CronField::Minute),
            ("* 24 * * *", CronField::Hour),
            ("* * 0 * *", CronField::DayOfMonth),
            ("* * 32 * *", CronField::DayOfMonth),
            ("* * * 0 *", CronField::Month),
            ("* * * 13 *", CronField::Month),
            ("* * * * 8", CronField::DayOfWeek),
            ("60 * * * * *", CronField::Second),
            ("* 60 * * * *", CronField::Minute),
            ("* * 24 * * *", CronField::Hour),
            ("* * * 32 * *", CronField::DayOfMonth),
            ("* * * * 13 *", CronField::Month),
            ("* * * * * 8", CronField::DayOfWeek),
        ];
        for (expression, field) in cases {
            let (got, message) = field_error(expression);
            assert_eq!(got, field, "{expression}: {message}");
            let text = expression.split_whitespace().find(|f| *f != "*").unwrap();
            let (min, max) = field.range();
            assert_eq!(
                message,
                format!(
                    "schedule_time {expression:?}: the {} field {text:?} is out of range {min}-{max}",
                    field.name()
                )
            );
        }
    }

    #[test]
    fn syntax_errors_name_the_field_and_the_part() {
        let cases: [(&str, CronField, &str); 19] = [
            ("1,61 * * * *", CronField::Minute, "the minute field \"1,61\": \"61\" is out of range 0-59"),
            ("1-61 * * * *", CronField::Minute, "the minute field \"1-61\": \"61\" is out of range 0-59"),
            ("5/10 * * * *", CronField::Minute, "the minute field \"5/10\" needs * or a range before the step, as in */10 or 5-59/10"),
            ("*/0 * * * *", CronField::Minute, "the minute field \"*/0\" has a step out of range 1-59"),
            ("*/x * * * *", CronField::Minute, "the minute field \"*/x\" has a step that is not a number"),
            ("* 10-5 * * *", CronField::Hour, "the hour field \"10-5\" is a range whose start is after its end"),
            ("1,,2 * * * *", CronField::Minute, "the minute field \"1,,2\" has an empty list item"),
            ("1- * * * *", CronField::Minute, "the minute field \"1-\" is missing a number"),
            ("* * * foo *", CronField::Month, "the month field \"foo\" is not a number or a month name (JAN-DEC)"),
            ("* * * mon *", CronField::Month, "the month field \"mon\" is not a number or a month name (JAN-DEC)"),
            ("* * * * jan", CronField::DayOfWeek, "the day-of-week field \"jan\" is not a number or a day name (SUN-SAT)"),
            ("* * * * Monday", CronField::DayOfWeek, "the day-of-week field \"Monday\" is not a number or a day name (SUN-SAT)"),
            ("? * * * *", CronField::Minute, "the minute field \"?\" uses ?, which is only allowed as the whole day-of-month or day-of-week field"),
            ("L * * * *", CronField::Minute, "the minute field \"L\" is not a number"),
            ("* * * * 5#6", CronField::DayOfWeek, "the day-of-week field \"5#6\" has an occurrence after # that is not 1-5 or L"),
            ("* * * * +MON", CronField::DayOfWeek, "the day-of-week field \"+MON\" is not a number or a day name (SUN-SAT)"),
            ("* * 32W * *", CronField::DayOfMonth, "the day-of-month field \"32W\": \"32\" is out of range 1-31"),
            ("* * * * 1-2-3", CronField::DayOfWeek, "the day-of-week field \"1-2-3\" has more than one - in a range"),
            ("* * * * 99999999999", CronField::DayOfWeek, "the day-of-week field \"99999999999\" is out of range 0-7"),
        ];
        for (expression, field, message) in cases {
            let (got, display) = field_error(expression);
            assert_eq!(got, field, "{expression}: {display}");
            assert_eq!(display, format!("schedule_time {expression:?}: {message}"));
        }
    }

    #[test]
    fn wrong_field_counts() {
        assert_eq!(
            CronSchedule::parse("* * *").unwrap_err().to_string(),
            "schedule_time \"* * *\": expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, found 3"
        );
        for (expression, found) in [("*", 1), ("* * * *", 4), ("0 0 0 1 1 * 2026", 7)] {
            assert_eq!(
                CronSchedule::parse(expression).unwrap_err(),
                CronError::FieldCount {
                    expression: expression.into(),
                    found
                }
            );
        }
    }

    #[test]
    fn empty_expression() {
        for expression in ["", "   ", "\t\n"] {
            let e = CronSchedule::parse(expression).unwrap_err();
            assert_eq!(e, CronError::Empty);
            assert!(e.to_string().contains("empty"), "{e}");
        }
    }

    // ---- the rest of the API ----

    #[test]
    fn expression_is_trimmed_and_kept_as_written() {
        let s = schedule("  0 12 * jan,Jul Mon-Fri\t");
        assert_eq!(s.expression(), "0 12 * jan,Jul Mon-Fri");
        assert_eq!(s.to_string(), "0 12 * jan,Jul Mon-Fri");
        assert!(!s.has_seconds());
        let s: CronSchedule = "0 */5 * * * *".parse().unwrap();
        assert!(s.has_seconds());
    }

    #[test]
    fn none_when_no_tick_is_left() {
        // croner searches up to the year 5000.
        let s = schedule("0 0 1 1 *");
        assert_eq!(
            s.next_after(&utc(4998, 6, 1, 0, 0, 0)),
            Some(utc(4999, 1, 1, 0, 0, 0))
        );
        assert_eq!(s.next_after(&utc(5000, 6, 1, 0, 0, 0)), None);
    }

    #[test]
    fn works_with_other_time_zones() {
        // The tick is 00:00 in the argument's zone, not in UTC.
        let berlin = Berlin.with_ymd_and_hms(2026, 5, 13, 10, 0, 0).unwrap();
        let next = schedule("@daily").next_after(&berlin).unwrap();
        assert_eq!(next, Berlin.with_ymd_and_hms(2026, 5, 14, 0, 0, 0).unwrap());
        assert_eq!(next.with_timezone(&Utc), utc(2026, 5, 13, 22, 0, 0));
        // chrono::Local is what the daemon passes; that it compiles is the test.
        let _ = |s: &CronSchedule, now: DateTime<Local>| -> Option<DateTime<Local>> {
            s.next_after(&now)
        };
    }

    // ---- daylight saving time (Europe/Berlin) ----

    fn berlin(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Tz> {
        Berlin
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap()
    }

    #[test]
    fn dst_spring_forward_fixed_time_job_runs_once_after_the_gap() {
        // 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist.
        assert!(Berlin
            .from_local_datetime(
                &NaiveDate::from_ymd_opt(2026, 3, 29)
                    .unwrap()
                    .and_hms_opt(2, 30, 0)
                    .unwrap()
            )
            .earliest()
            .is_none());
        assert_eq!(
            ticks_rfc3339("30 2 * * *", berlin(2026, 3, 28, 12, 0), 3),
            [
                "2026-03-29T03:00:00+02:00",
                "2026-03-30T02:30:00+02:00",
                "2026-03-31T02:30:00+02:00",
            ]
        );
        // Asked from exactly that tick, the next is the next day's (no second run).
        assert_eq!(
            schedule("30 2 * * *")
                .next_after(&berlin(2026, 3, 29, 3, 0))
                .map(|t| t.to_rfc3339()),
            Some("2026-03-30T02:30:00+02:00".to_string())
        );
        // A job just before the gap runs once, not again after it (croner 3.x did).
        assert_eq!(
            ticks_rfc3339("30 1 * * *", berlin(2026, 3, 28, 12, 0), 2),
            ["2026-03-29T01:30:00+01:00", "2026-03-30T01:30:00+02:00"]
        );
        // A job after the gap is unaffected.
        assert_eq!(
            ticks_rfc3339("0 3 * * *", berlin(2026, 3, 28, 12, 0), 2),
            ["2026-03-29T03:00:00+02:00", "2026-03-30T03:00:00+02:00"]
        );
    }

    #[test]
    fn dst_fall_back_fixed_time_job_runs_once_in_the_first_pass() {
        // 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice.
        assert_eq!(
            ticks_rfc3339("30 2 * * *", berlin(2026, 10, 24, 12, 0), 3),
            [
                "2026-10-25T02:30:00+02:00",
                "2026-10-26T02:30:00+01:00",
                "2026-10-27T02:30:00+01:00"
            ]
        );
        // From inside the second pass of the repeated hour, before its 02:30: next day.
        let second_pass = match Berlin.from_local_datetime(
            &NaiveDate::from_ymd_opt(2026, 10, 25)
                .unwrap()
                .and_hms_opt(2, 10, 0)
                .unwrap(),
        ) {
            chrono::LocalResult::Ambiguous(first, second) => {
                assert_eq!(
                    schedule("30 2 * * *")
                        .next_after(&first)
                        .map(|t| t.to_rfc3339()),
                    Some("2026-10-25T02:30:00+02:00".to_string())
                );
                second
            }
            other => panic!("02:10 should be ambiguous, is {other:?}"),
        };
        assert_eq!(
            schedule("30 2 * * *")
                .next_after(&second_pass)
                .map(|t| t.to_rfc3339()),
            Some("2026-10-26T02:30:00+01:00".to_string())
        );
    }

    #[test]
    fn dst_interval_jobs_follow_the_wall_clock() {
        // Spring: the ticks inside the gap are skipped.
        assert_eq!(
            ticks_rfc3339("*/30 * * * *", berlin(2026, 3, 29, 1, 10), 3),
            [
                "2026-03-29T01:30:00+01:00",
                "2026-03-29T03:00:00+02:00",
                "2026-03-29T03:30:00+02:00"
            ]
        );
        // Fall: the repeated hour's ticks come in both passes, 30 real minutes apart.
        assert_eq!(
            ticks_rfc3339("*/30 * * * *", berlin(2026, 10, 25, 1, 10), 6),
            [
                "2026-10-25T01:30:00+02:00",
                "2026-10-25T02:00:00+02:00",
                "2026-10-25T02:30:00+02:00",
                "2026-10-25T02:00:00+01:00",
                "2026-10-25T02:30:00+01:00",
                "2026-10-25T03:00:00+01:00"
            ]
        );
        // A list of times inside the gap is not a fixed-time job: none runs that day.
        assert_eq!(
            ticks_rfc3339("0,30 2 * * *", berlin(2026, 3, 29, 1, 10), 1),
            ["2026-03-30T02:00:00+02:00"]
        );
        // ...and in the repeated hour it runs in both passes.
        assert_eq!(
            ticks_rfc3339("0,30 2 * * *", berlin(2026, 10, 25, 1, 10), 5),
            [
                "2026-10-25T02:00:00+02:00",
                "2026-10-25T02:30:00+02:00",
                "2026-10-25T02:00:00+01:00",
                "2026-10-25T02:30:00+01:00",
                "2026-10-26T02:00:00+01:00"
            ]
        );
    }
}
