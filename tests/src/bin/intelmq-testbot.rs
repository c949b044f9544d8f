//! A fake IntelMQ bot for the integration tests.
//!
//! Run as `intelmq-testbot <bot_id>`, the way intelmqd runs `<module> <bot_id>`.
//! It reads its parameters from `$INTELMQ_CONFIG_DIR/runtime.conf`, or from
//! `runtime.yaml` where the config dir holds one (read by intelmqd's own
//! loader, as the daemon reads it), key `[bot_id].parameters` (a missing file
//! or entry means the defaults; a file that does not parse is logged and the
//! bot exits with code 2):
//!
//! | parameter        | meaning                                                    |
//! |------------------|------------------------------------------------------------|
//! | `ignore_sigterm` | log SIGTERM and keep running                               |
//! | `exit_after`     | seconds; then log `exiting with code N` and exit           |
//! | `exit_code`      | the code for `exit_after` (default 0)                      |
//! | `crash_after`    | seconds; then log `crashing with SIGABRT` and abort()      |
//! | `fork_child`     | start `intelmq-testbot --child <bot_id>` in our group      |
//! | `log_every`      | seconds; log `tick N` at that interval                     |
//! | `ticks`          | stop ticking after this many ticks (default: never)        |
//! | `run_for`        | seconds; then log `run finished` and exit 0                |
//!
//! Every line goes to stdout, flushed, in IntelMQ's format
//! `YYYY-MM-DD HH:MM:SS,mmm - <bot_id> - INFO - <message>` (UTC).

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use intelmqd::config::layout::Layout;
use serde_json::Value;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, bot_id] if flag == "--child" => run_child(bot_id),
        [bot_id] if !bot_id.starts_with('-') => run_bot(bot_id),
        _ => {
            eprintln!("usage: intelmq-testbot <bot_id>");
            std::process::exit(2);
        }
    }
}

/// The bot's parameters, see the module documentation.
#[derive(Debug, Default, PartialEq)]
struct Params {
    ignore_sigterm: bool,
    exit_after: Option<Duration>,
    exit_code: i32,
    crash_after: Option<Duration>,
    fork_child: bool,
    log_every: Option<Duration>,
    ticks: Option<u64>,
    run_for: Option<Duration>,
}

impl Params {
    /// Reads `[bot_id].parameters` of runtime.conf or runtime.yaml (as the
    /// daemon chooses); `Ok(default)` when the file, the bot or its
    /// parameters are missing.
    fn load(bot_id: &str) -> Result<Params, String> {
        let Some(dir) = std::env::var_os("INTELMQ_CONFIG_DIR") else {
            return Ok(Params::default());
        };
        let dir = PathBuf::from(dir);
        let file = Layout::detect(&dir).runtime_file();
        if !dir.join(file).exists() {
            return Ok(Params::default());
        }
        let (_, bots) = intelmqd::config::read_bots(&dir).map_err(|error| error.to_string())?;
        match bots.get(bot_id).and_then(|bot| bot.raw.get("parameters")) {
            None | Some(Value::Null) => Ok(Params::default()),
            Some(parameters) => Params::from_json(parameters),
        }
    }

    fn from_json(parameters: &Value) -> Result<Params, String> {
        let Some(object) = parameters.as_object() else {
            return Err("\"parameters\" is not a JSON object".into());
        };
        let flag = |name: &str| match object.get(name) {
            None => Ok(false),
            Some(value) => value
                .as_bool()
                .ok_or_else(|| format!("parameter {name:?} must be true or false, not {value}")),
        };
        let seconds = |name: &str| match object.get(name) {
            None => Ok(None),
            Some(value) => value
                .as_f64()
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .map(Some)
                .ok_or_else(|| format!("parameter {name:?} must be seconds >= 0, not {value}")),
        };
        let integer = |name: &str| match object.get(name) {
            None => Ok(None),
            Some(value) => value
                .as_i64()
                .map(Some)
                .ok_or_else(|| format!("parameter {name:?} must be an integer, not {value}")),
        };
        let exit_code = integer("exit_code")?.unwrap_or(0);
        let ticks = integer("ticks")?;
        Ok(Params {
            ignore_sigterm: flag("ignore_sigterm")?,
            exit_after: seconds("exit_after")?,
            exit_code: i32::try_from(exit_code)
                .map_err(|_| format!("parameter \"exit_code\" is out of range: {exit_code}"))?,
            crash_after: seconds("crash_after")?,
            fork_child: flag("fork_child")?,
            log_every: seconds("log_every")?,
            ticks: ticks
                .map(u64::try_from)
                .transpose()
                .map_err(|_| "parameter \"ticks\" must not be negative".to_string())?,
            run_for: seconds("run_for")?,
        })
    }
}

fn run_bot(bot_id: &str) {
    let log = |message: &str| log_line(bot_id, message);

    // Handlers first, so that a signal sent after "started" is never fatal.
    let (signal_tx, signal_rx) = mpsc::channel();
    let mut signals = match Signals::new([SIGHUP, SIGTERM, SIGINT]) {
        Ok(signals) => signals,
        Err(error) => {
            log(&format!("cannot install signal handlers: {error}"));
            std::process::exit(2);
        }
    };
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if signal_tx.send(signal).is_err() {
                break;
            }
        }
    });

    let params = match Params::load(bot_id) {
        Ok(params) => params,
        Err(error) => {
            log(&format!("cannot read my parameters: {error}"));
            std::process::exit(2);
        }
    };
    log(&format!("started (pid {})", std::process::id()));

    // Kept (not waited for) so that the child stays in our process group.
    let _child = params.fork_child.then(|| spawn_child(bot_id));

    let start = Instant::now();
    let crash_at = params.crash_after.map(|after| start + after);
    let exit_at = params.exit_after.map(|after| start + after);
    let finish_at = params.run_for.map(|after| start + after);
    let mut next_tick = params.log_every.map(|every| start + every);
    let mut ticks = 0_u64;
    let mut reloads = 0_u64;

    loop {
        let now = Instant::now();
        if crash_at.is_some_and(|at| at <= now) {
            log("crashing with SIGABRT");
            std::process::abort();
        }
        if exit_at.is_some_and(|at| at <= now) {
            log(&format!("exiting with code {}", params.exit_code));
            std::process::exit(params.exit_code);
        }
        if finish_at.is_some_and(|at| at <= now) {
            log("run finished");
            std::process::exit(0);
        }
        if let (Some(at), Some(every)) = (next_tick, params.log_every) {
            if at <= now {
                ticks += 1;
                log(&format!("tick {ticks}"));
                let more = params.ticks.map_or(true, |limit| ticks < limit);
                // A zero interval would spin; tick at most every millisecond.
                next_tick = more.then(|| at + every.max(Duration::from_millis(1)));
                continue;
            }
        }

        let wake_at = [crash_at, exit_at, finish_at, next_tick]
            .into_iter()
            .flatten()
            .min();
        let signal = match wake_at {
            Some(at) => match signal_rx.recv_timeout(at.saturating_duration_since(now)) {
                Ok(signal) => signal,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            },
            None => match signal_rx.recv() {
                Ok(signal) => signal,
                Err(_) => break,
            },
        };
        match signal {
            SIGHUP => {
                reloads += 1;
                log(&format!("reloaded (count {reloads})"));
            }
            SIGTERM if params.ignore_sigterm => log("received SIGTERM, ignoring it"),
            SIGTERM => {
                log("received SIGTERM, exiting");
                std::process::exit(0);
            }
            SIGINT => {
                log("received SIGINT, exiting");
                std::process::exit(0);
            }
            _ => {}
        }
    }
    log("the signal thread ended, exiting");
    std::process::exit(1);
}

fn spawn_child(bot_id: &str) -> Option<std::process::Child> {
    let spawned = std::env::current_exe().and_then(|exe| {
        Command::new(exe)
            .args(["--child", bot_id])
            .env("INTELMQ_TESTBOT_CHILD", "1")
            .spawn()
    });
    match spawned {
        Ok(child) => Some(child),
        Err(error) => {
            log_line(bot_id, &format!("cannot start my child: {error}"));
            None
        }
    }
}

/// The forked child: logs its pid and sleeps until a signal ends it.
fn run_child(bot_id: &str) {
    log_line(
        bot_id,
        &format!("child started (pid {})", std::process::id()),
    );
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn log_line(bot_id: &str, message: &str) {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis());
    let mut stdout = std::io::stdout().lock();
    // A log line that cannot be written has nowhere else to go.
    let _ = writeln!(
        stdout,
        "{} - {bot_id} - INFO - {message}",
        format_timestamp(millis)
    );
    let _ = stdout.flush();
}

/// `YYYY-MM-DD HH:MM:SS,mmm` in UTC for milliseconds since the Unix epoch.
fn format_timestamp(unix_millis: u128) -> String {
    let millis = unix_millis % 1000;
    let seconds = unix_millis / 1000;
    let days = i64::try_from(seconds / 86_400).unwrap_or(i64::MAX);
    let of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02},{millis:03}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// The proleptic Gregorian date of a day number (days since 1970-01-01), after
/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097); // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365; // [0, 399]
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // [0, 365]
    let month_index = (5 * day_of_year + 2) / 153; // [0, 11], March first
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_the_epoch() {
        assert_eq!(format_timestamp(0), "1970-01-01 00:00:00,000");
    }

    #[test]
    fn formats_leap_days_and_millis() {
        // Checked with `date -u -d @1709210096`.
        assert_eq!(
            format_timestamp(1_709_210_096_789),
            "2024-02-29 12:34:56,789"
        );
        // 2000 is a leap year (divisible by 400).
        assert_eq!(format_timestamp(951_825_600_005), "2000-02-29 12:00:00,005");
        // 2100 is not: Feb 28 is followed by Mar 1.
        assert_eq!(
            format_timestamp(4_107_542_399_999),
            "2100-02-28 23:59:59,999"
        );
        assert_eq!(
            format_timestamp(4_107_542_400_000),
            "2100-03-01 00:00:00,000"
        );
    }

    #[test]
    fn formats_year_ends() {
        assert_eq!(
            format_timestamp(4_102_444_799_999),
            "2099-12-31 23:59:59,999"
        );
        assert_eq!(format_timestamp(946_684_800_000), "2000-01-01 00:00:00,000");
    }

    #[test]
    fn every_day_follows_the_last() {
        // Walk 1969..2400 day by day: each date is the next one of the calendar.
        let days_in_month = |year: i64, month: u32| match month {
            2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        let mut last = civil_from_days(-1);
        assert_eq!(last, (1969, 12, 31));
        for days in 0..(430 * 365) {
            let (year, month, day) = last;
            let expected = if day < days_in_month(year, month) {
                (year, month, day + 1)
            } else if month < 12 {
                (year, month + 1, 1)
            } else {
                (year + 1, 1, 1)
            };
            let date = civil_from_days(days);
            assert_eq!(date, expected, "day {days}");
            last = date;
        }
        assert_eq!(last, (2399, 9, 18), "430 * 365 days later");
    }

    #[test]
    fn reads_parameters() {
        let params = Params::from_json(&serde_json::json!({
            "ignore_sigterm": true, "exit_after": 0.2, "exit_code": 3, "log_every": 1,
            "ticks": 15, "unrelated": "kept"
        }))
        .expect("valid parameters");
        assert_eq!(
            params,
            Params {
                ignore_sigterm: true,
                exit_after: Some(Duration::from_millis(200)),
                exit_code: 3,
                log_every: Some(Duration::from_secs(1)),
                ticks: Some(15),
                ..Params::default()
            }
        );
        let error = Params::from_json(&serde_json::json!({"exit_after": "soon"})).unwrap_err();
        assert!(error.contains("exit_after"), "{error}");
        let error = Params::from_json(&serde_json::json!({"crash_after": -1})).unwrap_err();
        assert!(error.contains("crash_after"), "{error}");
    }
}
