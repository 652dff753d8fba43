//! Where each value of the configuration came from (the file and its line, a `VPCE_LAB_*`
//! variable, a `--set` flag, or the default), so that an error points at the line to fix and
//! `config` shows what is in effect, like `aws configure list`; and the nearest valid key to
//! a name that is none.
//!
//! The file is read twice: once with its spans (to know each key's line and to check every
//! name against [`KEYS`] before anything else), once as a plain table for the overlay and
//! serde. A syntax error is said by its line and column and the parser's words, never by
//! quoting the line: the line may hold a secret pasted by mistake.

use std::collections::BTreeMap;
use std::fmt;

use super::keys::{Key, ValueType, KEYS};
use crate::failure::{Error, Result};

/// Where a key's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Not set anywhere: the key's documented default (or unset).
    Default,
    /// The configuration file, at this line (1-based).
    File { path: String, line: usize },
    /// A `VPCE_LAB_*` environment variable.
    Env(String),
    /// A `--set section.key=value` flag.
    Flag,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File { path, line } => write!(f, "{path}:{line}"),
            Source::Env(name) => write!(f, "env {name}"),
            Source::Flag => f.write_str("--set"),
        }
    }
}

/// Every key set somewhere, by dotted name (`reportsengine.concurrency`; a per-rep rate as
/// `compensation.overrides."Ada Lovelace"`), with its source. A key not in it has its
/// default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    by_key: BTreeMap<String, Source>,
}

impl Sources {
    /// Where `dotted`'s value came from.
    pub fn of(&self, dotted: &str) -> &Source {
        self.by_key.get(dotted).unwrap_or(&Source::Default)
    }

    /// Every key set somewhere, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Source)> {
        self.by_key.iter().map(|(k, s)| (k.as_str(), s))
    }

    pub(super) fn set(&mut self, dotted: String, source: Source) {
        self.by_key.insert(dotted, source);
    }

    /// An error about `dotted`, located where its value came from: `PATH:LINE: message`,
    /// `VPCE_LAB_…: message`, `--set KEY: message`, or `origin: message` for a default.
    pub(super) fn locate(&self, origin: &str, dotted: &str, message: &str) -> String {
        match self.of(dotted) {
            Source::Default => format!("{origin}: {message}"),
            Source::File { path, line } => format!("{path}:{line}: {message}"),
            Source::Env(name) => format!("{name}: {message}"),
            Source::Flag => format!("--set {dotted}: {message}"),
        }
    }

    /// The sources of the file's keys, with every name checked against [`KEYS`]: an unknown
    /// key or section is an error at its line, with the nearest valid name when one is near.
    pub(super) fn of_file(path: &str, text: &str) -> Result<Sources> {
        let document = toml::de::DeTable::parse(text).map_err(|e| {
            let at = e.span().map_or(String::new(), |span| {
                let (line, column) = line_and_column(text, span.start);
                format!(":{line}:{column}")
            });
            Error::config(format!("{path}{at}: not valid TOML: {}", e.message().trim())).hint(
                "Strings go in double quotes, one `key = value` per line under its `[section]`; \
                 `salesapp configure --stack-outputs outputs.json` writes a whole file.",
            )
        })?;
        let mut sources = Sources::default();
        let line = |span: std::ops::Range<usize>| Source::File {
            path: path.to_string(),
            line: line_and_column(text, span.start).0,
        };
        for (name, value) in document.get_ref().iter() {
            let name_text = name.get_ref().as_ref();
            let section = KEYS.iter().any(|k| k.section == name_text);
            match value.get_ref().as_table() {
                Some(table) if section => {
                    sources.set(name_text.to_string(), line(name.span()));
                    for (key, value) in table.iter() {
                        let key_text = key.get_ref().as_ref();
                        let dotted = format!("{name_text}.{key_text}");
                        let known = find(name_text, key_text)
                            .ok_or_else(|| unknown_key(&line(key.span()).to_string(), &dotted))?;
                        sources.set(dotted.clone(), line(key.span()));
                        if known.value == ValueType::Table {
                            for (entry, _) in value.get_ref().as_table().into_iter().flatten() {
                                let entry_name = entry.get_ref().as_ref();
                                sources.set(format!("{dotted}.{entry_name:?}"), line(entry.span()));
                            }
                        }
                    }
                }
                _ if find("", name_text).is_some() => {
                    sources.set(name_text.to_string(), line(name.span()));
                }
                _ => return Err(unknown_key(&line(name.span()).to_string(), name_text)),
            }
        }
        Ok(sources)
    }
}

/// The key `section.name`, if there is one.
pub(super) fn find(section: &str, name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.section == section && k.name == name)
}

/// "`where`: unknown key `dotted`", with the nearest valid one when one is near.
fn unknown_key(at: &str, dotted: &str) -> Error {
    let known_section = KEYS.iter().any(|k| k.section == dotted);
    let what = if known_section { "is a section, not a key" } else { "is not a configuration key" };
    let mut message = format!("{at}: `{dotted}` {what}");
    if let Some(near) = nearest_key(dotted) {
        message.push_str(&format!("; did you mean `{near}`?"));
    }
    Error::config(message).hint(super::keys::ADVICE)
}

/// The valid dotted key nearest to `dotted`, when one is near enough to be what was meant:
/// within the section when the section is right (`reportsengine.concurency`), in the nearest
/// section when it is not (`reportengine.wait_time`), a section or a top-level key for a
/// top-level name (`reportengine`, `buckett`), or the key of that name in another section
/// (`wait_time` at the top level).
pub(super) fn nearest_key(dotted: &str) -> Option<String> {
    let sections = super::keys::sections();
    let elsewhere = |name: &str| KEYS.iter().find(|k| k.name == name).map(Key::dotted);
    let Some((section, name)) = dotted.rsplit_once('.') else {
        let top = KEYS.iter().filter(|k| k.section.is_empty()).map(|k| k.name);
        let names = top.chain(sections.iter().copied().filter(|s| !s.is_empty()));
        return nearest(dotted, names).map(str::to_string).or_else(|| elsewhere(dotted));
    };
    let section =
        if sections.contains(&section) { section } else { nearest(section, sections.clone())? };
    if let Some(key) = find(section, name) {
        return Some(key.dotted());
    }
    let in_section = KEYS.iter().filter(|k| k.section == section).map(|k| k.name);
    nearest(name, in_section).map(|n| format!("{section}.{n}")).or_else(|| elsewhere(name))
}

/// The variable of the valid key nearest to the variable `name` (`VPCE_LAB_…`).
pub(super) fn nearest_variable(name: &str) -> Option<String> {
    let variables: Vec<String> = KEYS.iter().map(Key::variable).collect();
    nearest(name, variables.iter().map(String::as_str)).map(str::to_string)
}

/// The candidate nearest to `name`, if near enough to be a slip of the keyboard: at most one
/// edit in four (Damerau–Levenshtein, relative to the longer), and not `name` itself.
fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    const NEAR: f64 = 0.75;
    candidates
        .into_iter()
        .filter(|c| *c != name && !c.is_empty())
        .map(|c| (strsim::normalized_damerau_levenshtein(name, c), c))
        .filter(|(score, _)| *score >= NEAR)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The 1-based line and column of byte `offset` of `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_keys_are_suggested_and_far_ones_are_not() {
        let near = |s: &str| nearest_key(s);
        assert_eq!(
            near("reportsengine.visibilty_timeout").as_deref(),
            Some("reportsengine.visibility_timeout")
        );
        assert_eq!(near("reportsengine.concurency").as_deref(), Some("reportsengine.concurrency"));
        assert_eq!(near("reportengine.wait_time").as_deref(), Some("reportsengine.wait_time"));
        assert_eq!(near("wait_time").as_deref(), Some("reportsengine.wait_time"));
        assert_eq!(near("buckett").as_deref(), Some("bucket"));
        assert_eq!(near("endpoints.s4"), None, "too short to guess");
        assert_eq!(near("colour"), None);
        assert_eq!(near("reportsengine.nope"), None);
        assert_eq!(
            nearest_variable("VPCE_LAB_REPORTSENGINE_CONCURENCY").as_deref(),
            Some("VPCE_LAB_REPORTSENGINE_CONCURRENCY")
        );
        assert_eq!(nearest_variable("VPCE_LAB_REPORTSENGINE_FOO"), None);
    }

    #[test]
    fn the_file_s_keys_have_their_lines() {
        let text = "bucket = \"b\"\nqueue_url = \"https://q/1/q\"\n\n[reportsengine]\n\
                    concurrency = 8\n[compensation.overrides]\n\"Ada Lovelace\" = 700\n";
        let sources = Sources::of_file("c.toml", text).expect("parses");
        let line = |k: &str| sources.of(k).to_string();
        assert_eq!(line("bucket"), "c.toml:1");
        assert_eq!(line("reportsengine.concurrency"), "c.toml:5");
        assert_eq!(line("compensation.overrides.\"Ada Lovelace\""), "c.toml:7");
        assert_eq!(line("reportsengine.wait_time"), "default");
    }

    #[test]
    fn unknown_names_are_located_with_a_suggestion() {
        let err = |text: &str| Sources::of_file("c.toml", text).unwrap_err().to_string();
        let e = err("bucket = \"b\"\n[reportsengine]\nvisibilty_timeout = \"30s\"\n");
        assert!(
            e.starts_with(
                "c.toml:3: `reportsengine.visibilty_timeout` is not a configuration \
                           key; did you mean `reportsengine.visibility_timeout`?"
            ),
            "{e}"
        );
        let e = err("[reportengine]\nconcurrency = 2\n");
        assert!(e.starts_with("c.toml:1: `reportengine` is not a configuration key; did you mean `reportsengine`?"), "{e}");
        let e = err("reportsengine = 4\n");
        assert!(e.starts_with("c.toml:1: `reportsengine` is a section, not a key"), "{e}");
    }

    /// A syntax error says where, never what the line holds (it may hold a secret).
    #[test]
    fn syntax_errors_are_located_without_quoting_the_line() {
        let text = "bucket = \"b\"\n[endpoints]\ns3 = \"http://user:s3cr3t@127.0.0.1:1\n";
        let e = Sources::of_file("c.toml", text).unwrap_err().to_string();
        assert!(e.starts_with("c.toml:3:"), "{e}");
        assert!(e.contains("not valid TOML"), "{e}");
        assert!(!e.contains("s3cr3t"), "the line was quoted: {e}");
        assert_eq!(Sources::of_file("c.toml", text).unwrap_err().exit_code(), 78);
    }
}
