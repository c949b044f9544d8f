//! Each scenario of the spec, as a decision.

use serde_json::json;

use super::*;

fn bot(entry: serde_json::Value) -> BotConfig {
    BotConfig::from_entry("my-bot-1", entry)
}

fn facts<'a>(
    configured: Option<&'a BotConfig>,
    effective: Option<&'a BotConfig>,
    running: bool,
) -> Facts<'a> {
    Facts {
        bot_id: "my-bot-1",
        configured,
        effective,
        running,
        process_manager: ProcessManager::Pid,
    }
}

fn effect(plan: &BotPlan) -> &Effect {
    match &plan.step {
        Step::Do(effect) => effect,
        other => panic!("expected Do, got {other:?}"),
    }
}

#[test]
fn scenario_1_start_keeps_a_removed_running_bot_and_restores_it() {
    let effective = bot(json!({"module": "m", "botnet": true}));
    let plan = plan(
        Verb::Start {
            now: false,
            wait: false,
        },
        facts(None, Some(&effective), true),
    );
    let effect = effect(&plan);
    assert!(effect.restore);
    assert_eq!(effect.op, Op::Keep(ActionKind::AlreadyRunning));
    let note = effect.note.as_ref().expect("a warning");
    assert_eq!(note.level, Level::Warning);
    assert!(note
        .text
        .starts_with("intelmqctl detected that bot my-bot-1 is still running"));
}

#[test]
fn scenario_2_stop_stops_a_removed_running_bot_and_restores_it() {
    let effective = bot(json!({"module": "m"}));
    let plan = plan(Verb::Stop, facts(None, Some(&effective), true));
    let effect = effect(&plan);
    assert!(effect.restore);
    assert_eq!(effect.op, Op::Stop);
    assert!(effect
        .note
        .as_ref()
        .expect("warning")
        .text
        .contains("intelmqctl stopped it"));
}

#[test]
fn scenario_3_reload_asks_whether_to_stop_a_removed_running_bot() {
    let effective = bot(json!({"module": "m"}));
    let plan = plan(Verb::Reload, facts(None, Some(&effective), true));
    assert!(plan.messages[0]
        .text
        .contains("has been removed from admin runtime configuration"));
    let Step::Ask {
        text,
        default,
        yes,
        no,
    } = &plan.step
    else {
        panic!("expected a question, got {:?}", plan.step);
    };
    assert_eq!(
        text,
        "Do you want to stop the bot with `bot_id: my-bot-1`? [N/y]"
    );
    assert!(!default, "the capitalised default is N");
    assert_eq!(
        (yes.op.clone(), yes.forget, yes.restore),
        (Op::Stop, true, false)
    );
    assert_eq!(
        (no.op.clone(), no.forget, no.restore),
        (Op::Keep(ActionKind::Skipped), false, true)
    );
}

#[test]
fn reload_of_a_changed_run_mode_asks_to_restart() {
    let effective = bot(json!({"module": "m"}));
    let configured =
        bot(json!({"module": "m", "run_mode": "scheduled", "schedule_time": "* * * * *"}));
    let plan = plan(
        Verb::Reload,
        facts(Some(&configured), Some(&effective), true),
    );
    let Step::Ask {
        text,
        default,
        yes,
        no,
    } = &plan.step
    else {
        panic!("expected a question");
    };
    assert!(text.ends_with("Do you want to restart the bot to apply the new run_mode? [Y/n]"));
    assert!(*default);
    assert_eq!(yes.op, Op::Restart(configured.clone()));
    assert_eq!(no.op, Op::Keep(ActionKind::Skipped));
}

#[test]
fn start_of_a_running_changed_bot_gives_the_reload_hint() {
    let effective = bot(json!({"module": "m"}));
    let configured = bot(json!({"module": "m", "parameters": {"x": 1}}));
    let plan = plan(
        Verb::Start {
            now: false,
            wait: false,
        },
        facts(Some(&configured), Some(&effective), true),
    );
    assert_eq!(effect(&plan).op, Op::Keep(ActionKind::AlreadyRunning));
    let texts: Vec<_> = plan.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "my-bot-1 is already running.",
            "To reload the new configuration, please execute reload action command."
        ]
    );
}

#[test]
fn start_of_a_stopped_bot_needs_a_valid_entry() {
    let good = bot(json!({"module": "m"}));
    let plan_ok = plan(
        Verb::Start {
            now: false,
            wait: false,
        },
        facts(Some(&good), None, false),
    );
    assert_eq!(effect(&plan_ok).op, Op::Start(good.clone()));
    let bad = bot(json!({"run_mode": "sometimes"}));
    let refused = plan(
        Verb::Start {
            now: false,
            wait: false,
        },
        facts(Some(&bad), None, false),
    );
    let Step::Refuse(error) = refused.step else {
        panic!("expected a refusal");
    };
    assert_eq!(error.kind, ErrorKind::InvalidConfig);
    assert!(
        error.message.contains("module is missing"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("unknown run_mode"),
        "{}",
        error.message
    );
}

#[test]
fn reload_of_a_stopped_bot_does_nothing() {
    let good = bot(json!({"module": "m"}));
    let plan = plan(Verb::Reload, facts(Some(&good), Some(&good), false));
    assert_eq!(effect(&plan).op, Op::Keep(ActionKind::NotRunning));
}

#[test]
fn enable_under_pid_sets_onboot_false_and_says_why() {
    let good = bot(json!({"module": "m"}));
    let plan = plan(Verb::Enable, facts(Some(&good), None, false));
    assert_eq!(
        effect(&plan).op,
        Op::SetFlag {
            key: "onboot",
            value: false
        }
    );
    assert_eq!(plan.messages[0].text, PID_NO_ONBOOT);
}

#[test]
fn enable_and_disable_under_systemd_change_the_unit_and_onboot() {
    let stream = bot(json!({"module": "m"}));
    let scheduled =
        bot(json!({"module": "m", "run_mode": "scheduled", "schedule_time": "@hourly"}));
    let under_systemd = |configured| Facts {
        process_manager: ProcessManager::Systemd,
        ..facts(Some(configured), None, false)
    };
    let plan_enable = plan(Verb::Enable, under_systemd(&stream));
    assert_eq!(
        effect(&plan_enable).op,
        Op::OnBoot {
            value: true,
            stream: true
        }
    );
    assert!(plan_enable.messages.is_empty());
    let plan_disable = plan(Verb::Disable, under_systemd(&scheduled));
    assert_eq!(
        effect(&plan_disable).op,
        Op::OnBoot {
            value: false,
            stream: false
        }
    );
    let disable_pid = plan(Verb::Disable, facts(Some(&stream), None, false));
    assert_eq!(
        effect(&disable_pid).op,
        Op::SetFlag {
            key: "onboot",
            value: false
        }
    );
    assert!(disable_pid.messages.is_empty());
}

#[test]
fn botnet_membership_changes_one_flag_and_nothing_else() {
    let good = bot(json!({"module": "m"}));
    let plan = plan(Verb::AddToBotnet, facts(Some(&good), None, true));
    let effect = effect(&plan);
    assert_eq!(
        effect.op,
        Op::SetFlag {
            key: "botnet",
            value: true
        }
    );
    assert!(!effect.restore && !effect.forget);
    assert!(effect
        .note
        .as_ref()
        .expect("message")
        .text
        .contains("will keep its current status"));
}
