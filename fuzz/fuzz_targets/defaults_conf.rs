//! Arbitrary UTF-8 as defaults.conf.
//!
//! Checks, besides "never panics" (it converts numbers to `Duration`s, which
//! panics on negative, NaN or huge values):
//! - only a JSON object is accepted;
//! - every accepted value lies in its documented range, and keys that are
//!   absent keep their defaults.
#![no_main]

use std::time::Duration;

use intelmqd::config::{parse_defaults, Defaults, ProcessManager};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = serde_json::from_str::<Value>(text);
    let Ok(defaults) = parse_defaults(text) else {
        return;
    };
    let Ok(Value::Object(map)) = parsed else {
        panic!("defaults.conf accepted though it is not a JSON object: {text:?}");
    };
    let fallback = Defaults::default();
    let secs = |d: Duration| d.as_secs_f64();
    let within = |key: &str, value: Duration, default: Duration, min: f64, max: f64| {
        if map.contains_key(key) {
            assert!(
                (min..=max).contains(&secs(value)),
                "{key} = {value:?} is outside {min}..={max}"
            );
        } else {
            assert_eq!(value, default, "{key} absent but changed");
        }
    };
    within("stop_timeout", defaults.stop_timeout, fallback.stop_timeout, 0.0, 86_400.0);
    within("client_timeout", defaults.client_timeout, fallback.client_timeout, 0.1, 3600.0);
    within(
        "start_limit_interval",
        defaults.restart.interval,
        fallback.restart.interval,
        0.0,
        86_400.0,
    );
    within("restart_delay", defaults.restart.delay, fallback.restart.delay, 0.0, 3600.0);
    within(
        "restart_delay_max",
        defaults.restart.delay_max,
        fallback.restart.delay_max,
        0.0,
        86_400.0,
    );
    if map.contains_key("max_connections") {
        assert!((1..=65_536).contains(&defaults.max_connections));
    } else {
        assert_eq!(defaults.max_connections, fallback.max_connections);
    }
    if map.contains_key("start_limit_burst") {
        assert!((1..=1000).contains(&defaults.restart.burst));
    } else {
        assert_eq!(defaults.restart.burst, fallback.restart.burst);
    }
    let expected_manager = match map.get("process_manager").and_then(Value::as_str) {
        Some("systemd") => ProcessManager::Systemd,
        _ => ProcessManager::Pid,
    };
    assert_eq!(defaults.process_manager, expected_manager);
});
