//! The overlay of `VPCE_LAB_<SECTION>_<KEY>` variables and `--set section.key=value` flags
//! on the file: each names a key of [`KEYS`], and a value of the wrong type is an error.

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
        let (section, key, kind) = key_for_env(name).ok_or_else(|| {
            Error::config(format!("environment variable {name} names no configuration key"))
        })?;
        set_key(table, section, key, typed_value(name, kind, raw)?)?;
    }
    for set in sets {
        let (dotted, raw) = set
            .split_once('=')
            .ok_or_else(|| Error::config(format!("--set {set:?}: expected section.key=value")))?;
        let (section, key, kind) = key_for_flag(dotted.trim()).ok_or_else(|| {
            Error::config(format!("--set {set:?}: {dotted:?} is not a configuration key"))
        })?;
        set_key(table, section, key, typed_value(&format!("--set {dotted}"), kind, raw)?)?;
    }
    Ok(())
}

/// The kind of value a key holds, so that `VPCE_LAB_…=8` becomes an integer and
/// `VPCE_LAB_…=true` a boolean while `VPCE_LAB_BUCKET=123456789012-…` stays a string.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    Str,
    Int,
    Bool,
}

/// Every scalar key, as (section, key, kind); section "" is the top level. A unit test checks
/// that each entry is accepted by [`Config`], so this list cannot drift from the struct.
pub(super) const KEYS: &[(&str, &str, Kind)] = &[
    ("", "region", Kind::Str),
    ("", "bucket", Kind::Str),
    ("", "queue_url", Kind::Str),
    ("endpoints", "s3", Kind::Str),
    ("endpoints", "sqs", Kind::Str),
    ("endpoints", "force_path_style", Kind::Bool),
    ("endpoints", "require_private_sqs", Kind::Bool),
    ("endpoints", "connect_timeout", Kind::Str),
    ("endpoints", "attempt_timeout", Kind::Str),
    ("endpoints", "give_up_after", Kind::Str),
    ("compensation", "commission_bps", Kind::Int),
    ("salesapp", "spool_dir", Kind::Str),
    ("salesapp", "poll_interval", Kind::Str),
    ("salesapp", "settle_time", Kind::Str),
    ("salesapp", "shutdown_grace", Kind::Str),
    ("reportsengine", "concurrency", Kind::Int),
    ("reportsengine", "wait_time", Kind::Str),
    ("reportsengine", "visibility_timeout", Kind::Str),
    ("reportsengine", "shutdown_grace", Kind::Str),
    ("reportsengine", "max_object_size", Kind::Str),
    ("reportsengine", "read_connections", Kind::Int),
    ("reportsengine", "read_part_size", Kind::Str),
    ("reportsengine", "input_prefix", Kind::Str),
    ("doctor", "unrestricted_bucket", Kind::Str),
    ("metrics", "listen", Kind::Str),
    ("metrics", "textfile", Kind::Str),
    ("metrics", "textfile_interval", Kind::Str),
    ("limits", "max_line_bytes", Kind::Int),
    ("limits", "max_columns", Kind::Int),
    ("limits", "max_name_bytes", Kind::Int),
    ("limits", "max_order_id_bytes", Kind::Int),
    ("limits", "max_rows", Kind::Int),
    ("limits", "max_reps", Kind::Int),
    ("limits", "max_regions", Kind::Int),
    ("limits", "max_products", Kind::Int),
    ("limits", "max_problems", Kind::Int),
    ("limits", "max_message_bytes", Kind::Int),
];

/// Where a value came from, for error messages that point at the right place.
fn typed_value(origin: &str, kind: Kind, raw: &str) -> Result<toml::Value> {
    match kind {
        Kind::Str => Ok(toml::Value::String(raw.to_string())),
        Kind::Int => raw
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| Error::config(format!("{origin}: {raw:?} is not an integer"))),
        Kind::Bool => match raw.trim() {
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
fn key_for_env(name: &str) -> Option<(&'static str, &'static str, Kind)> {
    let rest = name.strip_prefix(ENV_PREFIX)?;
    KEYS.iter().copied().find(|(section, key, _)| {
        let full = if section.is_empty() {
            key.to_ascii_uppercase()
        } else {
            format!("{}_{}", section.to_ascii_uppercase(), key.to_ascii_uppercase())
        };
        full == rest
    })
}

/// Finds the key a `--set section.key=value` flag names.
fn key_for_flag(dotted: &str) -> Option<(&'static str, &'static str, Kind)> {
    let (section, key) = dotted.rsplit_once('.').unwrap_or(("", dotted));
    KEYS.iter().copied().find(|(s, k, _)| *s == section && *k == key)
}
