//! Reading and editing runtime.yaml, on a file laid out as IntelMQ writes it.

use serde_json::json;

use super::edit::{remove_member, set_member};
use super::*;
use crate::config::{ProcessManager, RunMode};

/// A runtime.yaml as IntelMQ 3 writes it, with an operator's comments.
pub(crate) const RUNTIME_YAML: &str = "\
# IntelMQ runtime configuration, edited by hand.
file-collector:
  bot_id: file-collector
  description: Reads *.csv files from a spool directory.
  enabled: true   # collects every minute
  group: Collector
  module: intelmq.bots.collectors.file.collector_file
  name: File Collector
  parameters:
    delete_file: true
    destination_queues:
      _default:
      - csv-parser-queue
    path: /tmp/intelmq-example/input
    rate_limit: 2
  run_mode: continuous
# The parser, fed by the collector.
csv-parser:
  enabled: false
  module: intelmq.bots.parsers.generic.parser_csv
  parameters:
    columns:
    - time.source
    - source.ip
    delimiter: ','
    ratio: 0.5
    note: null
  run_mode: scheduled
  schedule_time: '*/5 * * * *'
global:
  destination_pipeline_broker: redis
  destination_pipeline_port: 6390
  process_manager: pid
  stop_timeout: 3
";

#[test]
fn global_becomes_the_defaults_and_the_rest_bots() {
    let parsed = parse_runtime_yaml(RUNTIME_YAML).unwrap();
    assert_eq!(parsed.defaults.process_manager, ProcessManager::Pid);
    assert_eq!(parsed.defaults.stop_timeout.as_secs(), 3);
    assert_eq!(parsed.global["destination_pipeline_port"], json!(6390));
    assert_eq!(
        parsed.bots.keys().collect::<Vec<_>>(),
        ["csv-parser", "file-collector"]
    );
    let collector = &parsed.bots["file-collector"];
    assert_eq!(collector.run_mode, RunMode::Stream);
    assert!(collector.botnet, "enabled: true reads as botnet");
    assert!(collector.is_valid(), "{:?}", collector.problems);
    assert_eq!(
        collector.raw["parameters"]["destination_queues"],
        json!({"_default": ["csv-parser-queue"]})
    );
    let parser = &parsed.bots["csv-parser"];
    assert_eq!(parser.run_mode, RunMode::Scheduled);
    assert!(!parser.botnet);
    assert_eq!(
        parser.raw["parameters"],
        json!({"columns": ["time.source", "source.ip"], "delimiter": ",", "ratio": 0.5, "note": null})
    );
}

#[test]
fn an_empty_file_is_an_empty_configuration() {
    let parsed = parse_runtime_yaml("# nothing yet\n").unwrap();
    assert!(parsed.bots.is_empty());
    assert_eq!(parsed.defaults, Defaults::default());
}

#[test]
fn a_syntax_error_names_line_and_column() {
    let error = parse_runtime_yaml("a-bot:\n  module: m\n  parameters: [1, 2\n").unwrap_err();
    assert!(
        matches!(
            error,
            FileError::YamlSyntax { line: 4, .. } | FileError::YamlSyntax { line: 3, .. }
        ),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.starts_with("runtime.yaml is not valid YAML: "),
        "{text}"
    );
    assert!(text.contains("column"), "{text}");
}

#[test]
fn what_json_cannot_hold_is_refused_by_name() {
    for (text, words) in [
        (
            "- a\n- b\n",
            "must hold a mapping of bot ids (and global:), not a sequence",
        ),
        ("just text\n", "not a string"),
        (
            "a-bot:\n  1: x\n",
            "line 2, column 3: a mapping key must be a string, not 1",
        ),
        (
            "a-bot:\n  module: m\na-bot:\n  module: n\n",
            "line 3, column 1: the key \"a-bot\" appears twice",
        ),
        (
            "a-bot:\n  module: !python/name:os.system m\n",
            "has no JSON equivalent",
        ),
        (
            "a-bot:\n  parameters:\n    limit: .inf\n",
            "line 3, column 12: .inf (infinity or NaN)",
        ),
        ("a: 1\n---\nb: 2\n", "a second YAML document"),
        (
            "global: [1]\n",
            "global must be a mapping of settings, not a sequence",
        ),
        (
            "global:\n  stop_timeout: -1\n",
            "runtime.yaml: global: stop_timeout must be",
        ),
        (
            "global:\n  process_manager: cron\n",
            "process_manager must be",
        ),
    ] {
        let error = parse_runtime_yaml(text).unwrap_err().to_string();
        assert!(error.contains(words), "{text:?}: {error}");
        assert!(error.starts_with("runtime.yaml"), "{error}");
    }
}

#[test]
fn anchors_and_quoting_convert_faithfully() {
    let text =
        "base: &base\n  module: m\n  parameters: {a: 1, b: [x, 'true', \"2\"]}\ncopy: *base\n";
    let map = parse_document(text).unwrap();
    assert_eq!(map["copy"], map["base"]);
    assert_eq!(
        map["base"]["parameters"],
        json!({"a": 1, "b": ["x", "true", "2"]})
    );
}

fn reread(text: &str) -> Value {
    Value::Object(parse_document(text).unwrap())
}

#[test]
fn setting_a_flag_changes_only_its_bytes() {
    let edited = set_member(RUNTIME_YAML, &["file-collector", "enabled"], &json!(false)).unwrap();
    assert!(!edited.rewritten);
    assert_eq!(
        edited.text,
        RUNTIME_YAML.replacen("enabled: true   #", "enabled: false   #", 1)
    );
}

#[test]
fn a_new_flag_goes_after_the_entrys_last_line() {
    let edited = set_member(RUNTIME_YAML, &["csv-parser", "botnet"], &json!(true)).unwrap();
    assert!(!edited.rewritten);
    assert_eq!(
        edited.text,
        RUNTIME_YAML.replacen(
            "  schedule_time: '*/5 * * * *'\n",
            "  schedule_time: '*/5 * * * *'\n  botnet: true\n",
            1
        )
    );
    // After a nested block too: the new key is the entry's, not the parameters'.
    let edited = set_member(RUNTIME_YAML, &["global", "onboot"], &json!(false)).unwrap();
    assert!(
        edited
            .text
            .ends_with("  stop_timeout: 3\n  onboot: false\n"),
        "{}",
        edited.text
    );
}

#[test]
fn a_whole_entry_is_written_back_in_block_style() {
    let mut map = parse_document(RUNTIME_YAML).unwrap();
    let entry = map.shift_remove("file-collector").unwrap();
    let removed = remove_member(RUNTIME_YAML, &["file-collector"]).unwrap();
    assert!(!removed.rewritten);
    assert!(removed
        .text
        .starts_with("# IntelMQ runtime configuration, edited by hand.\n# The parser"));
    assert_eq!(reread(&removed.text), Value::Object(map.clone()));

    let restored = set_member(&removed.text, &["file-collector"], &entry).unwrap();
    assert!(!restored.rewritten);
    assert!(
        restored.text.starts_with(&removed.text),
        "{}",
        restored.text
    );
    let added = &restored.text[removed.text.len()..];
    assert!(
        added.starts_with("file-collector:\n  bot_id: file-collector\n"),
        "{added}"
    );
    assert!(
        added.contains("\n    destination_queues:\n      _default:\n      - csv-parser-queue\n"),
        "{added}"
    );
    map.insert("file-collector".into(), entry);
    assert_eq!(reread(&restored.text), Value::Object(map));
}

#[test]
fn flow_style_is_rewritten_as_block_yaml() {
    let text = "{a-bot: {module: m, enabled: true}}\n";
    let edited = set_member(text, &["a-bot", "botnet"], &json!(true)).unwrap();
    assert!(edited.rewritten);
    assert_eq!(
        edited.text,
        "a-bot:\n  module: m\n  enabled: true\n  botnet: true\n"
    );
}

#[test]
fn strings_that_look_like_other_things_are_quoted() {
    let value =
        json!({"a": ["yes", "1", "", "true", "x: y", " lead", "#x", "null", "ok-text", "ünï"]});
    let edited = set_member("", &["b"], &value).unwrap();
    assert_eq!(reread(&edited.text)["b"], value);
    assert!(edited.text.contains("- ok-text\n"), "{}", edited.text);
}

#[test]
fn edits_on_a_missing_path_or_bad_text_are_errors() {
    assert!(matches!(
        set_member(RUNTIME_YAML, &["no-bot", "botnet"], &json!(true)),
        Err(EditError::MissingParent { .. })
    ));
    assert!(matches!(
        remove_member(RUNTIME_YAML, &["no-bot"]),
        Err(EditError::NotFound { .. })
    ));
    let error = set_member("a: [\n", &["a"], &json!(1)).unwrap_err();
    assert!(error.to_string().starts_with("not valid YAML"), "{error}");
}

use crate::config::edit::EditError;

#[test]
fn an_operators_save_during_a_yaml_write_is_kept_and_backed_up() {
    use crate::config::write::{backup_path, update_file};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runtime.yaml");
    std::fs::write(&path, RUNTIME_YAML).unwrap();
    let operator_text = RUNTIME_YAML.replacen("rate_limit: 2", "rate_limit: 5  # slower", 1);
    let calls = std::cell::Cell::new(0);
    let validate = |text: &str| {
        parse_runtime_yaml(text)
            .map(drop)
            .map_err(|e| e.to_string())
    };
    let written = update_file(
        &path,
        |text| {
            calls.set(calls.get() + 1);
            if calls.get() == 1 {
                // The operator saves while the daemon edits.
                std::fs::write(&path, &operator_text).unwrap();
            }
            set_member(text, &["csv-parser", "botnet"], &json!(true)).map(|e| e.text)
        },
        validate,
    )
    .unwrap();
    assert_eq!(calls.get(), 2, "the edit ran again on a fresh read");
    assert_eq!(
        written,
        operator_text.replacen(
            "  schedule_time: '*/5 * * * *'\n",
            "  schedule_time: '*/5 * * * *'\n  botnet: true\n",
            1
        )
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), written);
    assert_eq!(
        std::fs::read_to_string(backup_path(&path)).unwrap(),
        operator_text
    );
    // A result the daemon would reject is never written.
    let error = update_file(
        &path,
        |text| set_member(text, &["global", "stop_timeout"], &json!("soon")).map(|e| e.text),
        validate,
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("stop_timeout must be"),
        "{error}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), written);
}

#[test]
fn the_store_reads_runtime_yaml_and_keeps_it_over_a_bad_edit() {
    use crate::config::store::{ConfigNotice, ConfigStore};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("runtime.yaml"), RUNTIME_YAML).unwrap();
    let mut store = ConfigStore::new(dir.path());
    let notices = store.refresh();
    assert_eq!(
        notices,
        [
            ConfigNotice::Source {
                file: RUNTIME_YAML_FILE
            },
            ConfigNotice::Loaded {
                file: RUNTIME_YAML_FILE
            }
        ]
    );
    assert!(notices[1].bots_read());
    assert_eq!(store.runtime_file(), RUNTIME_YAML_FILE);
    assert_eq!(store.current().bots.len(), 2);
    assert_eq!(store.current().defaults.stop_timeout.as_secs(), 3);

    std::fs::write(dir.path().join("runtime.yaml"), "file-collector: [\n").unwrap();
    let notices = store.refresh();
    assert!(
        matches!(
            &notices[..],
            [ConfigNotice::Rejected {
                error: FileError::YamlSyntax { line: 2, .. }
            }]
        ),
        "{notices:?}"
    );
    assert_eq!(store.current().bots.len(), 2, "the last good reading stays");
    assert!(store.file_error(RUNTIME_YAML_FILE).is_some());

    std::fs::write(dir.path().join("runtime.conf"), "{}").unwrap();
    let notices = store.refresh();
    assert!(
        notices.iter().any(|n| matches!(n, ConfigNotice::Ignored { warning } if warning.starts_with("runtime.conf is ignored"))),
        "{notices:?}"
    );
    std::fs::remove_file(dir.path().join("runtime.yaml")).unwrap();
    let notices = store.refresh();
    assert!(
        notices.contains(&ConfigNotice::Loaded {
            file: "runtime.conf"
        }),
        "{notices:?}"
    );
    assert!(store.current().bots.is_empty());
    assert_eq!(store.file_error(RUNTIME_YAML_FILE), None);
}

#[test]
fn wrapped_block_and_empty_values_are_edited_in_place() {
    let text = "\
a-bot:
  description: A long description that ruamel.yaml wraps at eighty characters
    onto a second line.
  module: m
  botnet:
  notes: |
    first line
    # not a comment
b-bot:
  module: n
";
    let edited = set_member(text, &["a-bot", "onboot"], &json!(true)).unwrap();
    assert!(!edited.rewritten);
    assert_eq!(
        edited.text,
        text.replacen("# not a comment\n", "# not a comment\n  onboot: true\n", 1)
    );
    let edited = set_member(text, &["a-bot", "botnet"], &json!(true)).unwrap();
    assert!(!edited.rewritten);
    assert_eq!(
        edited.text,
        text.replacen("  botnet:\n", "  botnet: true\n", 1)
    );
    let removed = remove_member(text, &["a-bot"]).unwrap();
    assert_eq!(removed.text, "b-bot:\n  module: n\n");
}

#[test]
fn a_whole_document_is_emitted_in_block_style_and_reads_back() {
    let document = json!({
        "global": {"process_manager": "pid", "stop_timeout": 1.5},
        "bot": {
            "module": "intelmq-testbot",
            "enabled": true,
            "parameters": {
                "destination_queues": {"_default": ["a-queue", "b queue"]},
                "note": "yes",
                "empty": {},
            },
        },
    });
    let map = document.as_object().cloned().unwrap();
    let text = emit_document(&map);
    assert!(
        text.starts_with("global:\n  process_manager: pid\n"),
        "{text}"
    );
    assert!(
        text.contains("      _default:\n      - a-queue\n"),
        "{text}"
    );
    assert!(text.contains("    note: \"yes\"\n"), "{text}");
    assert_eq!(Value::Object(parse_document(&text).unwrap()), document);
    assert_eq!(emit_document(&Map::new()), "{}\n");
    assert!(parse_document(&emit_document(&Map::new()))
        .unwrap()
        .is_empty());
}

#[test]
fn a_key_longer_than_yaml_allows_after_a_plain_colon_is_written_explicitly() {
    let long = "k".repeat(1500);
    let mut document = Map::new();
    let mut entry = Map::new();
    entry.insert(long.clone(), Value::String("v".into()));
    entry.insert("module".into(), Value::String("m".into()));
    document.insert("bot".into(), Value::Object(entry.clone()));
    document.insert(long.clone(), Value::Object(entry));
    let text = emit_document(&document);
    assert!(text.contains(&format!("? {long}\n")), "{text}");
    assert_eq!(parse_document(&text).expect("reads back"), document);
}
