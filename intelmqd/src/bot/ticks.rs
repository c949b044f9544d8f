//! A scheduled bot's schedule as its task keeps it: the expression, the next
//! tick, and what the runs did. The time arithmetic is pure and takes the time
//! as an argument, so it is tested without a clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Local, TimeZone};
use intelmqd_proto::{ExitInfo, ScheduleInfo};

use crate::cron::CronSchedule;

/// The first tick to run after `previous` (the last tick, run or skipped) and
/// `now`: ticks missed while the daemon was busy or the clock jumped are not
/// made up, and asking from the later of the two keeps a fixed-time job from
/// running twice in an hour that daylight saving time repeats.
pub fn next_tick<Tz: TimeZone>(
    schedule: &CronSchedule,
    previous: Option<&DateTime<Tz>>,
    now: &DateTime<Tz>,
) -> Option<DateTime<Tz>> {
    let after = match previous {
        Some(previous) if previous > now => previous,
        _ => now,
    };
    schedule.next_after(after)
}

/// How long to sleep from `now` until `tick`: zero when it is due.
pub fn wait_until<Tz: TimeZone>(tick: &DateTime<Tz>, now: &DateTime<Tz>) -> Duration {
    (tick.clone() - now.clone())
        .to_std()
        .unwrap_or(Duration::ZERO)
}

/// A schedule a bot is on.
#[derive(Debug, Clone)]
pub struct Armed {
    pub schedule: CronSchedule,
    pub next: Option<DateTime<Local>>,
    pub previous: Option<DateTime<Local>>,
}

impl Armed {
    pub fn new(schedule: CronSchedule) -> Armed {
        let now = Local::now();
        Armed {
            next: next_tick(&schedule, None, &now),
            schedule,
            previous: None,
        }
    }

    /// Moves past the tick that came, run or skipped.
    pub fn advance(&mut self) {
        self.previous = self.next.take();
        self.next = next_tick(&self.schedule, self.previous.as_ref(), &Local::now());
    }
}

/// What the runs of a scheduled bot did, for `status`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunRecord {
    pub last_started: Option<SystemTime>,
    pub last_duration: Option<Duration>,
    pub last_exit: Option<ExitInfo>,
    pub skipped_ticks: u64,
    /// Runs that ended, and their time together, for the metrics.
    pub runs: u64,
    pub run_seconds: f64,
}

impl RunRecord {
    /// A run began: until it ends, it has no duration and no exit.
    pub fn begin(&mut self, at: SystemTime) {
        self.last_started = Some(at);
        self.last_duration = None;
        self.last_exit = None;
    }

    pub fn info(&self, next: Option<&DateTime<Local>>) -> ScheduleInfo {
        ScheduleInfo {
            next_run: next.and_then(|t| u64::try_from(t.timestamp()).ok()),
            last_run_started: self.last_started.map(unix_seconds),
            last_run_duration_ms: self
                .last_duration
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            last_run_exit: self.last_exit.clone(),
            skipped_ticks: self.skipped_ticks,
            runs: self.runs,
            run_seconds: self.run_seconds,
        }
    }
}

pub fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("valid time")
            .with_timezone(&Utc)
    }

    #[test]
    fn the_next_tick_comes_after_now() {
        let every_five = CronSchedule::parse("*/5 * * * *").expect("valid");
        let now = at("2026-12-04T10:02:00Z");
        assert_eq!(
            next_tick(&every_five, None, &now),
            Some(at("2026-12-04T10:05:00Z"))
        );
    }

    #[test]
    fn missed_ticks_are_not_made_up() {
        let every_minute = CronSchedule::parse("* * * * *").expect("valid");
        // The last tick was at 10:00, and the daemon looks again at 10:07:30.
        let previous = at("2026-12-04T10:00:00Z");
        let now = at("2026-12-04T10:07:30Z");
        assert_eq!(
            next_tick(&every_minute, Some(&previous), &now),
            Some(at("2026-12-04T10:08:00Z"))
        );
    }

    #[test]
    fn a_clock_that_went_back_does_not_repeat_a_tick() {
        let every_minute = CronSchedule::parse("* * * * *").expect("valid");
        let previous = at("2026-12-04T10:05:00Z");
        let now = at("2026-12-04T10:02:00Z");
        assert_eq!(
            next_tick(&every_minute, Some(&previous), &now),
            Some(at("2026-12-04T10:06:00Z"))
        );
    }

    #[test]
    fn waits_until_the_tick_and_not_for_a_past_one() {
        let now = at("2026-12-04T10:00:00Z");
        assert_eq!(
            wait_until(&at("2026-12-04T10:00:02Z"), &now),
            Duration::from_secs(2)
        );
        assert_eq!(
            wait_until(&at("2026-12-04T09:59:00Z"), &now),
            Duration::ZERO
        );
    }
}
