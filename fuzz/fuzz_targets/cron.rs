//! Arbitrary UTF-8 as a `schedule_time`.
//!
//! Checks, besides "never panics" (parse, and the tick search in croner):
//! - an accepted expression ticks: `next_after(t)` is Some for fixed times
//!   `t` (the module rejects expressions that can never fire), strictly after
//!   `t`, on a whole second, at second 0 for a 5-field expression; and the
//!   tick after that is strictly later again;
//! - in UTC no tick is skipped: asked from one second before the tick `n`
//!   (when that is after `t`), the next tick is `n` again;
//! - the same holds in Europe/Berlin around both DST changes of 2026 (Some,
//!   strictly after, strictly increasing);
//! - `expression()` is the trimmed input and parses again to a schedule with
//!   the same ticks.
#![no_main]

use chrono::{DateTime, Duration, TimeZone, Timelike, Utc};
use chrono_tz::Europe::Berlin;
use intelmqd::cron::CronSchedule;
use libfuzzer_sys::fuzz_target;

/// FUZZ_CRON_ALLOW_NO_TICK=1 tolerates accepted expressions without a tick
/// (a known bug class, see fuzz/regressions/cron/) to hunt for other bugs.
fn allow_no_tick() -> bool {
    std::env::var_os("FUZZ_CRON_ALLOW_NO_TICK").is_some_and(|v| v != "0")
}

fn ticks<Tz: TimeZone>(schedule: &CronSchedule, start: &DateTime<Tz>) -> Option<[DateTime<Tz>; 2]>
where
    Tz::Offset: std::fmt::Display,
{
    let expression = schedule.expression();
    let Some(first) = schedule.next_after(start) else {
        if allow_no_tick() {
            return None;
        }
        panic!("{expression:?} accepted but has no tick after {start}");
    };
    assert!(first > *start, "{expression:?}: tick {first} is not after {start}");
    let second = schedule
        .next_after(&first)
        .unwrap_or_else(|| panic!("{expression:?} has a tick at {first} but none after it"));
    assert!(second > first, "{expression:?}: tick {second} is not after {first}");
    for tick in [&first, &second] {
        assert_eq!(tick.nanosecond(), 0, "{expression:?}: tick {tick} is not on a whole second");
        if !schedule.has_seconds() {
            assert_eq!(tick.second(), 0, "{expression:?}: 5-field tick {tick} not at second 0");
        }
    }
    Some([first, second])
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Keep inputs to what a schedule_time could be; long inputs only slow the
    // search down without reaching new code.
    if text.len() > 256 {
        return;
    }
    let Ok(schedule) = CronSchedule::parse(text) else {
        return;
    };
    assert_eq!(schedule.expression(), text.trim());

    let utc_starts = [
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2027, 12, 31, 23, 59, 59).unwrap() + Duration::milliseconds(500),
    ];
    let mut utc_ticks = Vec::new();
    for start in &utc_starts {
        let Some([first, second]) = ticks(&schedule, start) else {
            return;
        };
        // No tick in (start, first): asking just before `first` finds `first`.
        let just_before = first - Duration::seconds(1);
        if just_before > *start {
            assert_eq!(
                schedule.next_after(&just_before),
                Some(first),
                "{text:?}: from {just_before} the next tick is not {first}"
            );
        }
        utc_ticks.push((first, second));
    }

    let berlin_starts = [
        // Before the spring-forward gap (02:00 CET -> 03:00 CEST).
        Berlin.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap(),
        // Inside the repeated hour of the fall-back change (first pass).
        Berlin.with_ymd_and_hms(2026, 10, 25, 2, 15, 0).earliest().unwrap(),
        // ... and its second pass.
        Berlin.with_ymd_and_hms(2026, 10, 25, 2, 15, 0).latest().unwrap(),
    ];
    for start in &berlin_starts {
        ticks(&schedule, start);
    }

    // The expression as stored parses again to the same schedule.
    let again = CronSchedule::parse(schedule.expression())
        .unwrap_or_else(|error| panic!("{text:?}: stored expression does not parse: {error}"));
    assert_eq!(again.has_seconds(), schedule.has_seconds());
    for (start, (first, _)) in utc_starts.iter().zip(&utc_ticks) {
        assert_eq!(again.next_after(start).as_ref(), Some(first));
    }
});
