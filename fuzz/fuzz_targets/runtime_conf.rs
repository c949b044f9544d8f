//! Arbitrary UTF-8 as runtime.conf.
//!
//! Checks, besides "never panics":
//! - `parse_runtime` accepts exactly the texts that are a JSON object;
//! - it yields one `BotConfig` per (distinct) key, keyed by its bot id, whose
//!   `raw` is the entry as parsed;
//! - `is_valid()` is true iff `problems` is empty;
//! - a bot whose id fails `validate_bot_id` is never valid (a valid bot id
//!   names files: `<bot_id>.pid`, `<bot_id>.log`);
//! - a valid bot has a plain module name (no '/', NUL, whitespace, no leading
//!   '-'), and a valid scheduled bot has a schedule_time that
//!   `CronSchedule::parse` accepts; a valid stream bot whose run_mode is
//!   written "stream" (or absent) has no schedule_time.
#![no_main]

use intelmqd::config::{parse_runtime, RunMode};
use intelmqd::cron::CronSchedule;
use intelmqd_proto::validate_bot_id;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = serde_json::from_str::<Value>(text);
    let bots = match parse_runtime(text) {
        Ok(bots) => bots,
        Err(_) => {
            assert!(
                !matches!(parsed, Ok(Value::Object(_))),
                "a JSON object was rejected as runtime.conf"
            );
            return;
        }
    };
    let Ok(Value::Object(map)) = parsed else {
        panic!("runtime.conf accepted though it is not a JSON object: {text:?}");
    };
    assert_eq!(bots.len(), map.len(), "one BotConfig per key");
    for (bot_id, bot) in &bots {
        assert_eq!(&bot.bot_id, bot_id);
        assert_eq!(Some(&bot.raw), map.get(bot_id), "raw is the entry as read");
        assert_eq!(bot.is_valid(), bot.problems.is_empty());
        if validate_bot_id(bot_id).is_err() {
            assert!(!bot.is_valid(), "bot id {bot_id:?} is invalid but the bot is valid");
        }
        if bot.is_valid() {
            let module = bot.module.as_deref().expect("a valid bot has a module");
            assert!(
                !module.is_empty()
                    && !module.starts_with('-')
                    && !module.contains(['/', '\0'])
                    && !module.chars().any(char::is_whitespace),
                "valid bot {bot_id:?} has module {module:?}"
            );
            assert!(bot.raw.is_object());
            match bot.run_mode {
                RunMode::Scheduled => {
                    let expression = bot
                        .schedule_time
                        .as_deref()
                        .expect("a valid scheduled bot has a schedule_time");
                    assert!(
                        CronSchedule::parse(expression).is_ok(),
                        "valid bot {bot_id:?} has a bad schedule {expression:?}"
                    );
                }
                RunMode::Stream => {
                    if bot.run_mode_text == "stream" {
                        assert!(bot.schedule_time.is_none());
                    }
                }
            }
        }
    }
});
