//! [`Effective`]: the configuration in effect, with where each value came from (what
//! `config` shows), and how a value that does not fit its key is said: in the key's terms,
//! located at the file's line, the variable or the flag it came from.

use std::path::Path;

use super::keys::{self, Key, KeyDefault, ValueType, KEYS};
use super::sources::{self, Source, Sources};
use super::values::mask_url;
use super::{overlay, permissions, Config, CONFIG_ENV};
use crate::failure::{Error, Result};

/// The configuration in effect, with where each value came from: what `config` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    pub config: Config,
    /// The file's path (or the name of the text).
    pub origin: String,
    pub sources: Sources,
    /// The file's table with the variables and flags overlaid: each value as it was given.
    given: toml::Table,
}

impl Effective {
    /// Reads the file at `path` (refused when others may write it, see
    /// [`permissions::check`]), overlays `env_vars` and `sets`, then validates.
    pub fn load(path: &Path, env_vars: &[(String, String)], sets: &[String]) -> Result<Effective> {
        let unreadable = |e: std::io::Error| {
            Error::config(format!("cannot read {}: {e}", path.display())).hint(format!(
                "Choose the file with --config PATH or ${CONFIG_ENV}; `salesapp configure \
                 --stack-outputs outputs.json -o {}` writes one from the lab's stack outputs.",
                path.display()
            ))
        };
        let mut file = std::fs::File::open(path).map_err(unreadable)?;
        let metadata = file.metadata().map_err(unreadable)?;
        permissions::check(path, &metadata, permissions::effective_uid())?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file, &mut text).map_err(unreadable)?;
        Self::from_parts(&path.display().to_string(), &text, env_vars, sets)
    }

    /// [`Effective::load`] without the file system: `origin` names the text in errors.
    pub fn from_parts(
        origin: &str,
        text: &str,
        env_vars: &[(String, String)],
        sets: &[String],
    ) -> Result<Effective> {
        let mut sources = Sources::of_file(origin, text)?;
        let mut table: toml::Table = toml::from_str(text)
            .map_err(|e| Error::config(format!("{origin}: not valid TOML: {}", e.message())))?;
        overlay::apply(&mut table, env_vars, sets, &mut sources)?;
        let config: Config = typed(origin, &table, &sources)?;
        config.validate().map_err(|message| invalid(origin, &sources, &message))?;
        Ok(Effective { config, origin: origin.to_string(), sources, given: table })
    }

    /// Every key with its value in effect, as TOML (masked where it could carry a secret;
    /// `unset` when it has none) and its source, in the order of [`KEYS`]; a per-rep rate
    /// of `[compensation.overrides]` is a row of its own.
    pub fn rows(&self) -> Vec<(String, String, Source)> {
        let mut rows = Vec::new();
        for key in KEYS {
            let dotted = key.dotted();
            let given = match key.section {
                "" => self.given.get(key.name),
                section => self.given.get(section).and_then(|t| t.get(key.name)),
            };
            if let (ValueType::Table, Some(toml::Value::Table(entries))) = (key.value, given) {
                for (name, value) in entries {
                    let entry = format!("{dotted}.{name:?}");
                    let source = self.sources.of(&entry).clone();
                    rows.push((entry, shown(value), source));
                }
                continue;
            }
            let value = match (given, key.default) {
                (Some(value), _) => shown(value),
                (None, KeyDefault::Is(default)) => default.to_string(),
                (None, _) => "unset".to_string(),
            };
            rows.push((dotted.clone(), value, self.sources.of(&dotted).clone()));
        }
        rows
    }
}

/// `table` as a `T` (the whole configuration, or some of its sections), a value of the wrong
/// type said in the key's terms and located where it came from.
pub(super) fn typed<T: serde::de::DeserializeOwned>(
    origin: &str,
    table: &toml::Table,
    sources: &Sources,
) -> Result<T> {
    serde_path_to_error::deserialize(toml::Value::Table(table.clone())).map_err(|e| {
        // The document itself is `.` to serde_path_to_error: no key.
        let key = e.path().to_string().trim_start_matches('.').to_string();
        let message = wrong_value(&key, e.inner().message(), table);
        Error::config(sources.locate(origin, &key, &message)).hint(keys::ADVICE)
    })
}

/// A validation message (it starts with its dotted key, see `validate.rs`), located where
/// the key's value came from.
pub(super) fn invalid(origin: &str, sources: &Sources, message: &str) -> Error {
    let key = key_of(message);
    Error::config(sources.locate(origin, &key, message)).hint(keys::ADVICE)
}

/// A value as TOML, with a URL's user name and password masked.
fn shown(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => toml::Value::String(mask_url(text)).to_string(),
        other => other.to_string(),
    }
}

/// The dotted key a validation message is about: the longest known key it starts with (see
/// `validate.rs`), a per-rep rate included.
fn key_of(message: &str) -> String {
    let overrides = "compensation.overrides.";
    if let Some(rest) = message.strip_prefix(overrides) {
        // `compensation.overrides."Ada Lovelace" = …`: the quoted name is part of the key.
        if let Some(end) = rest.strip_prefix('"').and_then(|r| r.find("\" ")) {
            return format!("{overrides}{}", &rest[..end + 2]);
        }
    }
    KEYS.iter()
        .map(Key::dotted)
        .filter(|dotted| {
            message.strip_prefix(dotted.as_str()).is_some_and(|rest| rest.starts_with([' ', ':']))
        })
        .max_by_key(String::len)
        .unwrap_or_default()
}

/// What serde said about `key`'s value, in the key's terms: the TOML value given and what
/// the key takes (`reportsengine.concurrency = "one": expected a whole number`), rather than
/// serde's (`invalid type: string "one", expected usize`).
fn wrong_value(key: &str, serde_says: &str, table: &toml::Table) -> String {
    let (section, name) = key.rsplit_once('.').unwrap_or(("", key));
    let wrong_type =
        serde_says.starts_with("invalid type") || serde_says.starts_with("invalid value");
    let given = match section {
        "" => table.get(name),
        section => table.get(section).and_then(|t| t.get(name)),
    };
    match (sources::find(section, name), given) {
        (Some(known), Some(value)) if wrong_type => {
            let expected = match known.value {
                ValueType::Str => "a string in quotes",
                ValueType::Int => "a whole number",
                ValueType::Bool => "true or false",
                ValueType::Duration => "a duration in quotes, like \"20s\"",
                ValueType::Size => "a size like \"10GiB\", or a number of bytes",
                ValueType::Table => "a table",
            };
            let value = match value {
                toml::Value::Table(_) => "a table".to_string(),
                toml::Value::Array(_) => "an array".to_string(),
                value => shown(value),
            };
            format!("{key} = {value}: expected {expected}")
        }
        _ if serde_says.starts_with("missing field") => {
            let missing = serde_says.trim_start_matches("missing field ").trim_matches('`');
            let dotted =
                if key.is_empty() { missing.to_string() } else { format!("{key}.{missing}") };
            format!("{dotted} is required and not set")
        }
        _ if key.is_empty() => serde_says.to_string(),
        _ => format!("{key}: {serde_says}"),
    }
}
