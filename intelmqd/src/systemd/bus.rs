//! Reading the bots' units straight from the systemd manager over D-Bus, the
//! way `systemctl show` reads them, without a `systemctl` process: one
//! long-lived connection per manager (the session bus for the user instance,
//! the system bus for the system's), and for each unit a
//! `org.freedesktop.DBus.Properties.Get` of each property the daemon reads,
//! all units' calls in flight at once on that connection.
//!
//! `systemctl show` spends about 0.5 ms of its own CPU a unit decoding every
//! property of it, one unit after the other; here the manager is asked for the
//! 15 properties alone (`Get` a property costs the manager less than half of
//! what `GetAll` of the unit's ~400 properties does), and the daemon decodes
//! only those.
//!
//! The unit's object path is computed from its name as systemd escapes it,
//! as `systemctl show` does: the manager then loads a unit it does not have
//! loaded (and answers `LoadState` `not-found` for one without a unit file),
//! exactly as for `systemctl show`, where `GetUnit` would fail for it.
//!
//! The manager's private socket (`$XDG_RUNTIME_DIR/systemd/private`,
//! `/run/systemd/private`) is not used: its replies carry the sender
//! `org.freedesktop.systemd1`, which zbus 5 cannot take on a peer-to-peer
//! connection (its reader stops, and every call waits for ever).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use zbus::zvariant::Value;

use super::{unit_name, ExitStatusSet, UnitState};
use crate::config::SystemdInstance;

/// How long one call may take, as `systemctl`'s own default.
const CALL_TIMEOUT: Duration = Duration::from_secs(25);

pub(super) const DESTINATION: &str = "org.freedesktop.systemd1";
pub(super) const PROPERTIES_INTERFACE: &str = "org.freedesktop.DBus.Properties";
const UNIT_INTERFACE: &str = "org.freedesktop.systemd1.Unit";
const SERVICE_INTERFACE: &str = "org.freedesktop.systemd1.Service";

/// The properties read, each with the interface it belongs to: the same that
/// `systemctl show -p` is asked for (see `PROPERTIES`).
const PROPERTIES: [(&str, &str); 15] = [
    (UNIT_INTERFACE, "Id"),
    (UNIT_INTERFACE, "LoadState"),
    (UNIT_INTERFACE, "ActiveState"),
    (UNIT_INTERFACE, "SubState"),
    (UNIT_INTERFACE, "StateChangeTimestamp"),
    (UNIT_INTERFACE, "UnitFileState"),
    (SERVICE_INTERFACE, "Result"),
    (SERVICE_INTERFACE, "MainPID"),
    (SERVICE_INTERFACE, "NRestarts"),
    (SERVICE_INTERFACE, "ExecMainCode"),
    (SERVICE_INTERFACE, "ExecMainStatus"),
    (SERVICE_INTERFACE, "ExecMainExitTimestamp"),
    (SERVICE_INTERFACE, "Restart"),
    (SERVICE_INTERFACE, "RestartPreventExitStatus"),
    (SERVICE_INTERFACE, "SuccessExitStatus"),
];

/// Why the units could not be read over D-Bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to the {bus} bus: {source}")]
    Connect {
        bus: &'static str,
        source: zbus::Error,
    },
    #[error("cannot read {property} of {unit}: {source}")]
    Call {
        unit: String,
        property: &'static str,
        source: zbus::Error,
    },
    #[error("cannot subscribe to the manager's signals: {source}")]
    Subscribe { source: zbus::Error },
    #[error("a reading ended before its answer came: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// The daemon's connections to the managers' buses, made at the first
/// reading and kept; a connection that failed a call is dropped, so the next
/// reading connects anew.
#[derive(Debug, Default)]
pub struct UnitBus {
    system: Mutex<Option<zbus::Connection>>,
    user: Mutex<Option<zbus::Connection>>,
    /// A failure to read over the bus was logged and not followed by a
    /// reading that worked: the next failure is not logged again.
    failure_logged: AtomicBool,
}

impl UnitBus {
    /// The units of `bot_ids`, in no particular order.
    pub async fn read_units(
        &self,
        instance: SystemdInstance,
        bot_ids: &[String],
    ) -> Result<Vec<UnitState>, BusError> {
        let slot = match instance {
            SystemdInstance::System => &self.system,
            SystemdInstance::User => &self.user,
        };
        let connection = {
            let mut cached = slot.lock().await;
            match cached.as_ref() {
                Some(connection) => connection.clone(),
                None => {
                    let connection = connect(instance).await?;
                    *cached = Some(connection.clone());
                    connection
                }
            }
        };
        let result = read_with(&connection, bot_ids).await;
        if result.is_err() {
            // A broken connection, or a manager that went away and came back
            // (its replies would never come): connect again next time.
            *slot.lock().await = None;
        }
        result
    }

    /// Logs a failure to read over the bus once, until a reading works again.
    pub fn note_failure(&self, error: &BusError) {
        if !self.failure_logged.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "cannot read the bots' units over D-Bus ({error}); reading them with `systemctl show` until the bus answers"
            );
        }
    }

    /// A reading over the bus worked.
    pub fn note_success(&self) {
        if self.failure_logged.swap(false, Ordering::Relaxed) {
            tracing::info!("reading the bots' units over D-Bus again");
        }
    }
}

pub(super) async fn connect(instance: SystemdInstance) -> Result<zbus::Connection, BusError> {
    let (bus, builder) = match instance {
        SystemdInstance::System => ("system", zbus::connection::Builder::system()),
        SystemdInstance::User => ("session", zbus::connection::Builder::session()),
    };
    let connected = match builder {
        Ok(builder) => builder.method_timeout(CALL_TIMEOUT).build().await,
        Err(error) => Err(error),
    };
    connected.map_err(|source| BusError::Connect { bus, source })
}

/// Asks for every property of every unit at once, then puts each unit
/// together from its answers.
async fn read_with(
    connection: &zbus::Connection,
    bot_ids: &[String],
) -> Result<Vec<UnitState>, BusError> {
    let mut calls = tokio::task::JoinSet::new();
    for (index, bot_id) in bot_ids.iter().enumerate() {
        let unit = unit_name(bot_id);
        let path = unit_object_path(&unit);
        for (interface, property) in PROPERTIES {
            let connection = connection.clone();
            let path = path.clone();
            let unit = unit.clone();
            calls.spawn(async move {
                let reply = connection
                    .call_method(
                        Some(DESTINATION),
                        path.as_str(),
                        Some(PROPERTIES_INTERFACE),
                        "Get",
                        &(interface, property),
                    )
                    .await;
                let value = reply
                    .and_then(|reply| reply.body().deserialize::<zbus::zvariant::OwnedValue>());
                (index, unit, property, value)
            });
        }
    }
    let mut units = vec![UnitState::default(); bot_ids.len()];
    while let Some(joined) = calls.join_next().await {
        let (index, unit, property, value) = joined.map_err(BusError::Task)?;
        let value = value.map_err(|source| BusError::Call {
            unit: unit.clone(),
            property,
            source,
        })?;
        if let Some(state) = units.get_mut(index) {
            apply_property(state, property, &value);
        }
    }
    Ok(units)
}

/// The object path of a unit: `/org/freedesktop/systemd1/unit/` and the
/// name as systemd's `bus_label_escape` writes it (every byte but ASCII
/// letters, and digits after the first byte, as `_` and two lowercase hex
/// digits).
pub fn unit_object_path(unit: &str) -> String {
    let mut path = String::from("/org/freedesktop/systemd1/unit/");
    if unit.is_empty() {
        path.push('_');
        return path;
    }
    for (position, byte) in unit.bytes().enumerate() {
        if byte.is_ascii_alphabetic() || (position > 0 && byte.is_ascii_digit()) {
            path.push(char::from(byte));
        } else {
            path.push_str(&format!("_{byte:02x}"));
        }
    }
    path
}

/// Sets the field of `unit` that `property` fills, to what `parse_show` makes
/// of the same property in `systemctl show --timestamp=unix` output.
pub(super) fn apply_property(unit: &mut UnitState, property: &str, value: &Value<'_>) {
    // `Get` answers a variant; some decoders keep it wrapped.
    let value = match value {
        Value::Value(inner) => inner.as_ref(),
        other => other,
    };
    match property {
        "Id" => unit.id = string(value),
        "LoadState" => unit.load_state = string(value),
        "ActiveState" => unit.active_state = string(value),
        "SubState" => unit.sub_state = string(value),
        "Result" => unit.result = string(value),
        "MainPID" => unit.main_pid = unsigned(value).and_then(|pid| u32::try_from(pid).ok()),
        "NRestarts" => unit.restarts = unsigned(value).unwrap_or(0),
        "ExecMainCode" => unit.exec_main_code = signed(value).unwrap_or(0),
        "ExecMainStatus" => unit.exec_main_status = signed(value).unwrap_or(0),
        "ExecMainExitTimestamp" => unit.exited_at = timestamp(value),
        "StateChangeTimestamp" => unit.since = timestamp(value),
        "UnitFileState" => unit.unit_file_state = string(value),
        "Restart" => unit.restart = string(value),
        "RestartPreventExitStatus" => unit.restart_prevented = exit_status_set(value),
        "SuccessExitStatus" => unit.success = exit_status_set(value),
        _ => {}
    }
}

fn string(value: &Value<'_>) -> String {
    match value {
        Value::Str(text) => text.as_str().to_owned(),
        _ => String::new(),
    }
}

/// An unsigned number; 0 is none, as `MainPID=0` is for `parse_show`.
fn unsigned(value: &Value<'_>) -> Option<u64> {
    let number = match value {
        Value::U32(number) => u64::from(*number),
        Value::U64(number) => *number,
        _ => return None,
    };
    Some(number).filter(|number| *number != 0)
}

fn signed(value: &Value<'_>) -> Option<i32> {
    match value {
        Value::I32(number) => Some(*number),
        _ => None,
    }
}

/// A realtime timestamp in µs as the unix seconds `systemctl show
/// --timestamp=unix` prints (`@<µs / 10⁶>`); 0 and `USEC_INFINITY` are never
/// (printed empty).
fn timestamp(value: &Value<'_>) -> Option<u64> {
    match value {
        Value::U64(0) | Value::U64(u64::MAX) => None,
        Value::U64(microseconds) => Some(microseconds / 1_000_000),
        _ => None,
    }
}

/// `(aiai)`: the exit codes, then the signals.
fn exit_status_set(value: &Value<'_>) -> ExitStatusSet {
    let Value::Structure(structure) = value else {
        return ExitStatusSet::default();
    };
    let numbers = |field: Option<&Value<'_>>| -> Vec<i32> {
        match field {
            Some(Value::Array(array)) => array
                .iter()
                .filter_map(|item| match item {
                    Value::I32(number) => Some(*number),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    let fields = structure.fields();
    ExitStatusSet {
        codes: numbers(fields.first()),
        signals: numbers(fields.get(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_show;
    use super::*;

    /// A unit read over the bus from `(property, value)` pairs.
    fn from_bus(properties: Vec<(&str, Value<'static>)>) -> UnitState {
        let mut unit = UnitState::default();
        for (property, value) in &properties {
            apply_property(&mut unit, property, value);
        }
        unit
    }

    #[test]
    fn a_unit_read_over_the_bus_is_the_unit_systemctl_show_describes() {
        let show = parse_show(
            "Id=intelmq-bot@b.service\nLoadState=loaded\nActiveState=failed\nSubState=failed\n\
             Result=exit-code\nMainPID=0\nNRestarts=4\nExecMainCode=1\nExecMainStatus=3\n\
             ExecMainExitTimestamp=@1733330100\nStateChangeTimestamp=@1733330101\n\
             UnitFileState=enabled\nRestart=on-failure\nRestartPreventExitStatus=64 78 USR1\n\
             SuccessExitStatus=\n",
        )
        .remove(0);
        let bus = from_bus(vec![
            ("Id", Value::from("intelmq-bot@b.service")),
            ("LoadState", Value::from("loaded")),
            ("ActiveState", Value::from("failed")),
            ("SubState", Value::from("failed")),
            ("Result", Value::from("exit-code")),
            ("MainPID", Value::U32(0)),
            ("NRestarts", Value::U32(4)),
            ("ExecMainCode", Value::I32(1)),
            ("ExecMainStatus", Value::I32(3)),
            // µs; systemctl prints the whole seconds.
            ("ExecMainExitTimestamp", Value::U64(1_733_330_100_999_999)),
            ("StateChangeTimestamp", Value::U64(1_733_330_101_000_000)),
            ("UnitFileState", Value::from("enabled")),
            ("Restart", Value::from("on-failure")),
            (
                "RestartPreventExitStatus",
                Value::from((vec![64i32, 78], vec![libc::SIGUSR1])),
            ),
            (
                "SuccessExitStatus",
                Value::from((Vec::<i32>::new(), Vec::<i32>::new())),
            ),
        ]);
        assert_eq!(bus, show);
        assert_eq!(bus.restart_prevented.signals, vec![libc::SIGUSR1]);
        assert_eq!(bus.snapshot(), show.snapshot());
    }

    #[test]
    fn a_running_unit_and_timestamps_never_set() {
        let unit = from_bus(vec![
            ("Id", Value::from("intelmq-bot@a.service")),
            ("ActiveState", Value::from("active")),
            ("MainPID", Value::U32(4242)),
            ("NRestarts", Value::U32(2)),
            ("ExecMainExitTimestamp", Value::U64(0)),
            ("StateChangeTimestamp", Value::U64(u64::MAX)),
        ]);
        let show = parse_show(
            "Id=intelmq-bot@a.service\nActiveState=active\nMainPID=4242\nNRestarts=2\n\
             ExecMainExitTimestamp=\nStateChangeTimestamp=\n",
        )
        .remove(0);
        assert_eq!(unit, show);
        assert_eq!(
            (unit.main_pid, unit.exited_at, unit.since),
            (Some(4242), None, None)
        );
    }

    #[test]
    fn a_value_of_another_type_or_a_wrapped_one_is_read_as_parse_show_would() {
        let unit = from_bus(vec![
            // Get answers a variant, which may arrive still wrapped.
            ("ActiveState", Value::Value(Box::new(Value::from("active")))),
            ("MainPID", Value::from("not a number")),
            ("ExecMainCode", Value::U32(1)),
            ("RestartPreventExitStatus", Value::from("64")),
            ("NoSuchProperty", Value::U32(1)),
        ]);
        assert_eq!(unit.active_state, "active");
        assert_eq!(unit.main_pid, None);
        assert_eq!(unit.exec_main_code, 0);
        assert_eq!(unit.restart_prevented, ExitStatusSet::default());
    }

    #[test]
    fn object_paths_are_escaped_as_systemd_escapes_them() {
        assert_eq!(
            unit_object_path("intelmq-bot@file-output.service"),
            "/org/freedesktop/systemd1/unit/intelmq_2dbot_40file_2doutput_2eservice"
        );
        assert_eq!(
            unit_object_path("intelmq-bot@a_1.service"),
            "/org/freedesktop/systemd1/unit/intelmq_2dbot_40a_5f1_2eservice"
        );
        assert_eq!(
            unit_object_path("1x.service"),
            "/org/freedesktop/systemd1/unit/_31x_2eservice"
        );
        assert_eq!(unit_object_path(""), "/org/freedesktop/systemd1/unit/_");
    }
}
