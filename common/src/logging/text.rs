//! The text format's fields, with every control character escaped.
//!
//! Log fields and messages carry text from outside: a spool file's name, an S3 key, an SQS
//! body, an error an HTTP peer wrote. In the text format one event is one line, so a raw
//! `\n` or `\r` in such a value would start a line of the attacker's choosing (a fake
//! `ERROR`), and an ESC would send escape sequences to the operator's terminal. The JSON and
//! journal formats are safe by construction (JSON escapes, the journal frames each value by
//! its length); the text format is made safe here, by formatting every field and the message
//! through [`escape_control`].
//!
//! tracing-subscriber's own `DefaultFields` escapes only some of it (since 0.3.20: ESC, BEL,
//! BS, FF, DEL and C1 in the message), not `\n`, `\r` nor a field written with `%` (its
//! `Display`), which is how most of our fields are written; hence this formatter.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::FormatFields;

/// Formats fields as tracing-subscriber's `DefaultFields` does (the message first as text,
/// then `name=value` with strings quoted), each value escaped with [`escape_control`].
#[derive(Debug, Default, Clone, Copy)]
pub struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut visitor = Visitor { writer: &mut writer, result: Ok(()), first: true };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct Visitor<'a, 'writer> {
    writer: &'a mut Writer<'writer>,
    result: fmt::Result,
    first: bool,
}

impl Visitor<'_, '_> {
    fn write(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_err() {
            return;
        }
        let mut text = String::new();
        if field.name() != "message" {
            text.push_str(field.name());
            text.push('=');
        }
        let _ = text.write_fmt(value);
        let separator = if std::mem::take(&mut self.first) { "" } else { " " };
        self.result = write!(self.writer, "{separator}{}", escape_control(&text));
    }
}

impl Visit for Visitor<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.write(field, format_args!("{value}"));
        } else {
            self.write(field, format_args!("{value:?}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, format_args!("{value:?}"));
    }
}

/// `text` with every character that could break a line or reach a terminal written as an
/// escape: the C0 controls (`\n`, `\r`, `\t`, ESC as `\x1b`, the rest as `\xNN`), DEL, the
/// C1 controls (`\u{9b}` is a one-byte CSI on some terminals), the Unicode line and paragraph
/// separators and the bidirectional overrides and isolates (which reorder what a person
/// reads). Everything else is kept, non-ASCII names and backslashes included: a name holding
/// a backslash and an `n` reads like an escaped newline, but stays on its line, which is
/// what matters.
pub fn escape_control(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && needs_escape(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// True for a character [`escape_control`] escapes.
fn needs_escape(c: char) -> bool {
    c.is_control() // C0, DEL and C1
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_names_kept() {
        assert_eq!(escape_control("Zoë Ødegård, 東京"), "Zoë Ødegård, 東京");
        assert_eq!(escape_control("a\\b"), "a\\b", "nothing to escape: kept as is");
        assert_eq!(
            escape_control("x.csv\n2026-01-01T00:00:00Z ERROR fake"),
            "x.csv\\n2026-01-01T00:00:00Z ERROR fake"
        );
        assert_eq!(escape_control("a\r\tb\x1b[31mred\x07\x7f"), "a\\r\\tb\\x1b[31mred\\x07\\x7f");
        assert_eq!(escape_control("\u{9b}2J\u{85}"), "\\u{9b}2J\\u{85}");
        assert_eq!(escape_control("evil\u{202e}vsc.exe\u{2028}"), "evil\\u{202e}vsc.exe\\u{2028}");
        assert_eq!(escape_control("a\\b\n"), "a\\b\\n");
    }
}
