//! The overlay of `VPCE_LAB_<SECTION>_<KEY>` variables and `--set section.key=value` flags
//! on the file: each names a key of [`KEYS`], and a value of the wrong type is an error.

use super::keys::{Key, ValueType, ADVICE, KEYS};
use super::sources::{nearest_key, nearest_variable, Source, Sources};
use super::{CONFIG_ENV, ENV_PREFIX};
use crate::failure::{Error, Result};

/// Overlays the `VPCE_LAB_*` variables, then the `--set` flags, on the file's table, and
/// notes each key's new source in `sources`.
pub(super) fn apply(
    table: &mut toml::Table,
    env_vars: &[(String, String)],
    sets: &[String],
    sources: &mut Sources,
) -> Result<()> {
    for (name, raw) in env_vars {
        if name == CONFIG_ENV || !name.starts_with(ENV_PREFIX) {
            continue;
        }
        let key = key_for_env(name).ok_or_else(|| {
            let near =
                nearest_variable(name).map_or(String::new(), |v| format!("; did you mean {v}?"));
            Error::config(format!("environment variable {name} names no configuration key{near}"))
                .hint(ADVICE)
        })?;
        set_key(table, key.section, key.name, typed_value(name, key.value, raw)?)?;
        sources.set(key.dotted(), Source::Env(name.clone()));
    }
    for set in sets {
        let (key, value) = flag_setting(set)?;
        set_key(table, key.section, key.name, value)?;
        sources.set(key.dotted(), Source::Flag);
    }
    Ok(())
}

/// What one `--set section.key=value` flag sets: the key it names and the value, typed as
/// that key is (a wrong type, an unknown key or a table is an error). `configure` writes the
/// same flags into the file it writes.
pub fn flag_setting(set: &str) -> Result<(&'static Key, toml::Value)> {
    let (dotted, raw) = set.split_once('=').ok_or_else(|| {
        Error::config(format!("--set {:?}: expected section.key=value", mask_value(set)))
    })?;
    let dotted = dotted.trim();
    let key = key_for_flag(dotted).ok_or_else(|| {
        let near = nearest_key(dotted).map_or(String::new(), |k| format!("; did you mean `{k}`?"));
        Error::config(format!("--set {dotted}: `{dotted}` is not a configuration key{near}"))
            .hint(ADVICE)
    })?;
    let value = typed_value(&format!("--set {dotted}"), key.value, raw)?;
    Ok((key, value))
}

/// A `--set` argument without its `=`: shown, unless it looks like it carries a secret.
fn mask_value(text: &str) -> String {
    if text.contains('@') || text.contains("://") {
        super::values::mask_url(text)
    } else {
        text.to_string()
    }
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
        ValueType::Int => raw.trim().parse::<i64>().map(toml::Value::Integer).map_err(|_| {
            Error::config(format!("{origin}: {raw:?} is not a whole number")).hint(ADVICE)
        }),
        ValueType::Bool => match raw.trim() {
            "true" | "1" | "yes" => Ok(toml::Value::Boolean(true)),
            "false" | "0" | "no" => Ok(toml::Value::Boolean(false)),
            _ => Err(Error::config(format!("{origin}: {raw:?} is not true or false")).hint(ADVICE)),
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
