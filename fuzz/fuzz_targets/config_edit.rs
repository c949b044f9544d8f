//! Span-preserving JSON edits: `config::edit::set_member` / `remove_member`.
//!
//! Input format (UTF-8), two modes:
//! - header mode: the first line is a JSON array `["set", [keys...], value]`
//!   or `["remove", [keys...]]`; the rest of the input (after the first `\n`)
//!   is the document, and that one edit is made;
//! - walk mode (the first line is no such header): the whole input is the
//!   document, and for each of its members (depth-first, at most
//!   `MAX_EDITS`) it is set to a few values, removed, and a new key is
//!   inserted into each object member.
//!
//! Every edit is compared with a reference implementation on the parsed
//! `serde_json::Value` (independent of the module's own check):
//! - an empty path gives `EmptyPath`; (else) invalid JSON `Syntax`; a non-object on
//!   the path `NotAnObject`, a missing object on the way `MissingParent`, a
//!   missing member to remove `NotFound` — and only then;
//! - when the reference succeeds the edit must succeed (an `Unverified` error
//!   means the text-level edit was wrong; set FUZZ_EDIT_ALLOW_UNVERIFIED=1 to
//!   tolerate those while hunting other bugs), and the result must parse to
//!   exactly the reference value, key order included;
//! - `set` is idempotent: setting the same value again gives the same bytes;
//! - inserting a new member into a non-empty object and removing it again
//!   gives back the original text byte for byte;
//! - removing twice: the second removal is `NotFound`.
#![no_main]

use intelmqd::config::edit::{remove_member, set_member, EditError};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};

const MAX_EDITS: usize = 24;

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Expect {
    Syntax,
    EmptyPath,
    NotAnObject,
    MissingParent,
    NotFound,
}

fn kind(error: &EditError) -> Option<Expect> {
    Some(match error {
        EditError::Syntax { .. } => Expect::Syntax,
        EditError::EmptyPath => Expect::EmptyPath,
        EditError::NotAnObject { .. } => Expect::NotAnObject,
        EditError::MissingParent { .. } => Expect::MissingParent,
        EditError::NotFound { .. } => Expect::NotFound,
        EditError::Unverified { .. } => return None,
        EditError::NotYaml { message } => panic!("an edit of JSON text failed as YAML: {message}"),
    })
}

/// The reference: the parent object of the last key, or why there is none.
fn parent<'v>(root: &'v mut Value, keys: &[String]) -> Result<&'v mut Map<String, Value>, Expect> {
    let mut current = root;
    for key in keys {
        let Value::Object(map) = current else {
            return Err(Expect::NotAnObject);
        };
        current = map.get_mut(key).ok_or(Expect::MissingParent)?;
    }
    match current {
        Value::Object(map) => Ok(map),
        _ => Err(Expect::NotAnObject),
    }
}

fn same(got: &Value, expected: &Value) -> bool {
    got == expected && serde_json::to_string(got).ok() == serde_json::to_string(expected).ok()
}

fn allow_unverified() -> bool {
    std::env::var_os("FUZZ_EDIT_ALLOW_UNVERIFIED").is_some_and(|v| v != "0")
}

/// Makes one edit (`value` Some: set, None: remove) and checks it.
fn edit(text: &str, path: &[String], value: Option<&Value>) {
    let keys: Vec<&str> = path.iter().map(String::as_str).collect();
    let actual = match value {
        Some(value) => set_member(text, &keys, value),
        None => remove_member(text, &keys),
    };
    let op = if value.is_some() { "set" } else { "remove" };

    // The reference edit on the parsed value.
    let mut was_present = false;
    let mut parent_was_empty = false;
    let expected: Result<Value, Expect> = (|| {
        // The module checks the path before the text.
        let (last, parents) = path.split_last().ok_or(Expect::EmptyPath)?;
        let mut root: Value = serde_json::from_str(text).map_err(|_| Expect::Syntax)?;
        let map = parent(&mut root, parents)?;
        was_present = map.contains_key(last);
        parent_was_empty = map.is_empty();
        match value {
            Some(value) => {
                map.insert(last.clone(), value.clone());
            }
            None => {
                map.shift_remove(last).ok_or(Expect::NotFound)?;
            }
        }
        Ok(root)
    })();

    let result = match (expected, actual) {
        (Err(want), Err(got)) => {
            assert_eq!(
                Some(want),
                kind(&got),
                "{op} {path:?} on {text:?}: expected {want:?}, got {got:?}"
            );
            return;
        }
        (Err(want), Ok(result)) => {
            panic!("{op} {path:?} on {text:?}: expected {want:?}, got Ok({result:?})")
        }
        (Ok(_), Err(EditError::Unverified { .. })) if allow_unverified() => return,
        (Ok(expected), Err(got)) => {
            panic!("{op} {path:?} = {value:?} on {text:?}: expected Ok({expected}), got {got:?}")
        }
        (Ok(expected), Ok(result)) => {
            let got: Value = serde_json::from_str(&result).unwrap_or_else(|error| {
                panic!("{op} {path:?} on {text:?} returned invalid JSON {result:?}: {error}")
            });
            assert!(
                same(&got, &expected),
                "{op} {path:?} = {value:?} on {text:?} returned {result:?}, which reads as {got} instead of {expected}"
            );
            result
        }
    };

    match value {
        Some(value) => {
            let again = set_member(&result, &keys, value);
            assert_eq!(
                again.as_ref(),
                Ok(&result),
                "set {path:?} = {value} is not idempotent on {text:?}"
            );
            if !was_present && !parent_was_empty {
                let removed = remove_member(&result, &keys);
                assert_eq!(
                    removed.as_deref(),
                    Ok(text),
                    "insert then remove {path:?} does not give back {text:?} (inserted: {result:?})"
                );
            }
        }
        None => {
            let again = remove_member(&result, &keys);
            assert!(
                matches!(again, Err(EditError::NotFound { .. })),
                "remove {path:?} twice on {text:?}: second gave {again:?}"
            );
        }
    }
}

/// Walk mode: edit every member of the document, depth first.
fn walk(text: &str, value: &Value, path: &mut Vec<String>, budget: &mut usize) {
    let Value::Object(map) = value else { return };
    for (key, child) in map {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        path.push(key.clone());
        edit(text, path, Some(&json!({"n": [1, {"m": null}]})));
        edit(text, path, Some(&json!("v")));
        edit(text, path, Some(&json!([])));
        edit(text, path, None);
        if child.is_object() {
            path.push("new \"key\"\n".to_owned());
            edit(text, path, Some(&json!(true)));
            edit(text, path, Some(&json!({"x": {}})));
            path.pop();
        }
        walk(text, child, path, budget);
        path.pop();
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let (header, document) = input.split_once('\n').unwrap_or((input, ""));
    if let Ok(Value::Array(header)) = serde_json::from_str::<Value>(header) {
        let path: Option<Vec<String>> = header.get(1).and_then(Value::as_array).and_then(|keys| {
            keys.iter().map(|k| k.as_str().map(str::to_owned)).collect()
        });
        match (header.first().and_then(Value::as_str), path, header.get(2)) {
            (Some("set"), Some(path), Some(value)) if header.len() == 3 => {
                edit(document, &path, Some(value));
                return;
            }
            (Some("remove"), Some(path), None) => {
                edit(document, &path, None);
                return;
            }
            _ => {}
        }
    }
    // Walk mode: the whole input is the document.
    edit(input, &["fuzz".to_owned()], Some(&json!(1)));
    edit(input, &[], Some(&json!(1)));
    if let Ok(value) = serde_json::from_str::<Value>(input) {
        walk(input, &value, &mut Vec::new(), &mut MAX_EDITS.clone());
    }
});
