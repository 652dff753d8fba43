//! The overlay of `VPCE_LAB_<SECTION>_<KEY>` variables and `--set section.key=value` flags
//! on the file: each names a key of [`KEYS`], and a value of the wrong type is an error.

use super::keys::{Key, ValueType, KEYS};
use super::{CONFIG_ENV, ENV_PREFIX};
use crate::failure::{Error, Result};

/// Overlays the `VPCE_LAB_*` variables, then the `--set` flags, on the file's table.
pub(super) fn apply(
    table: &mut toml::Table,
    env_vars: &[(String, String)],
    sets: &[String],
) -> Result<()> {
    for (name, raw) in env_vars {
        if name == CONFIG_ENV || !name.starts_with(ENV_PREFIX) {
            continue;
        }
        let key = key_for_env(name).ok_or_else(|| {
            Error::config(format!("environment variable {name} names no configuration key"))
        })?;
        set_key(table, key.section, key.name, typed_value(name, key.value, raw)?)?;
    }
    for set in sets {
        let (dotted, raw) = set
            .split_once('=')
            .ok_or_else(|| Error::config(format!("--set {set:?}: expected section.key=value")))?;
        let key = key_for_flag(dotted.trim()).ok_or_else(|| {
            Error::config(format!("--set {set:?}: {dotted:?} is not a configuration key"))
        })?;
        let value = typed_value(&format!("--set {dotted}"), key.value, raw)?;
        set_key(table, key.section, key.name, value)?;
    }
    Ok(())
}

/// Where a value came from, for error messages that point at the right place.
fn typed_value(origin: &str, value: ValueType, raw: &str) -> Result<toml::Value> {
    match value {
        ValueType::Str | ValueType::Duration | ValueType::Size => {
            Ok(toml::Value::String(raw.to_string()))
        }
        ValueType::Table => {
            Err(Error::config(format!("{origin}: a table is set in the file, not here")))
        }
        ValueType::Int => raw
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| Error::config(format!("{origin}: {raw:?} is not an integer"))),
        ValueType::Bool => match raw.trim() {
            "true" | "1" | "yes" => Ok(toml::Value::Boolean(true)),
            "false" | "0" | "no" => Ok(toml::Value::Boolean(false)),
            _ => Err(Error::config(format!("{origin}: {raw:?} is not true or false"))),
        },
    }
}

fn set_key(table: &mut toml::Table, section: &str, key: &str, value: toml::Value) -> Result<()> {
    let target = if section.is_empty() {
        table
    } else {
        let entry = table
            .entry(section.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match entry {
            toml::Value::Table(t) => t,
            _ => return Err(Error::config(format!("`{section}` must be a table"))),
        }
    };
    target.insert(key.to_string(), value);
    Ok(())
}

/// Finds the key an environment variable name stands for: `VPCE_LAB_REPORTSENGINE_WAIT_TIME`
/// → (`reportsengine`, `wait_time`). Matching against the known list (rather than splitting
/// on `_`) is what makes keys with underscores unambiguous.
fn key_for_env(name: &str) -> Option<&'static Key> {
    name.strip_prefix(ENV_PREFIX)?;
    KEYS.iter().find(|key| key.variable() == name)
}

/// Finds the key a `--set section.key=value` flag names.
fn key_for_flag(dotted: &str) -> Option<&'static Key> {
    KEYS.iter().find(|key| key.dotted() == dotted)
}
