//! Arbitrary UTF-8 as pipeline.conf.
//!
//! Checks, besides "never panics": pipeline.conf is accepted iff it is a JSON
//! object of objects, and then it is returned exactly as parsed (key order
//! included).
#![no_main]

use intelmqd::config::parse_pipeline;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = serde_json::from_str::<Value>(text);
    let should_accept = matches!(&parsed, Ok(Value::Object(map)) if map.values().all(Value::is_object));
    match parse_pipeline(text) {
        Ok(pipeline) => {
            assert!(should_accept, "accepted a pipeline.conf that is not an object of objects: {text:?}");
            let Ok(Value::Object(map)) = parsed else { unreachable!() };
            assert_eq!(pipeline, map);
            assert_eq!(
                serde_json::to_string(&pipeline).unwrap(),
                serde_json::to_string(&map).unwrap(),
                "key order is kept"
            );
        }
        Err(error) => {
            assert!(!should_accept, "rejected a valid pipeline.conf: {error}: {text:?}");
        }
    }
});
