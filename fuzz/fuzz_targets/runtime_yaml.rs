//! Arbitrary UTF-8 as IntelMQ 3.x's runtime.yaml, and the daemon's edits of it.
//!
//! Checks, besides "never panics" (nor hangs or eats memory: anchors and
//! deep nesting are bounded by the reader):
//! - what `parse_document` accepts, `emit_document` writes back as block YAML
//!   that reads as the same document (the emitter and the reader agree);
//! - `parse_runtime_yaml` accepts a document exactly when its `global:` is a
//!   mapping (or absent) of valid settings, and then yields one bot per other
//!   key;
//! - setting a flag of the first bot (what `enable`/`add-to-botnet` write)
//!   gives a text that reads as the document with that one member changed,
//!   whether edited in place or rewritten; removing the bot gives the
//!   document without it.
#![no_main]

use intelmqd::config::yaml::edit::{remove_member, set_member};
use intelmqd::config::yaml::{emit_document, parse_document, parse_runtime_yaml, GLOBAL_KEY};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(document) = parse_document(text) else {
        assert!(parse_runtime_yaml(text).is_err());
        return;
    };
    let emitted = emit_document(&document);
    let read_back = parse_document(&emitted)
        .unwrap_or_else(|error| panic!("emitted YAML does not read: {error}\n{emitted}"));
    assert_eq!(read_back, document, "emitted YAML reads differently:\n{emitted}");

    if let Ok(runtime) = parse_runtime_yaml(text) {
        let bots = document.keys().filter(|key| *key != GLOBAL_KEY).count();
        assert_eq!(runtime.bots.len(), bots, "one bot per key besides global");
    }

    let Some((bot_id, entry)) = document
        .iter()
        .find(|(key, entry)| *key != GLOBAL_KEY && entry.is_object())
    else {
        return;
    };
    if let Ok(edited) = set_member(text, &[bot_id, "botnet"], &Value::Bool(true)) {
        let mut expected = document.clone();
        let mut changed = entry.clone();
        if let Some(map) = changed.as_object_mut() {
            map.insert("botnet".to_owned(), Value::Bool(true));
        }
        expected.insert(bot_id.clone(), changed);
        let after = parse_document(&edited.text)
            .unwrap_or_else(|error| panic!("an edit gave YAML that does not read: {error}"));
        assert_eq!(after, expected, "the edit changed more than one member");
    }
    if let Ok(edited) = remove_member(text, &[bot_id]) {
        let mut expected = document.clone();
        expected.shift_remove(bot_id);
        let after = parse_document(&edited.text)
            .unwrap_or_else(|error| panic!("a removal gave YAML that does not read: {error}"));
        assert_eq!(after, expected, "the removal changed more than the bot");
    }
});
