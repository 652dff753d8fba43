//! The text format's fields, with every control character escaped.
//!
//! Log fields and messages carry text from outside: a spool file's name, an S3 key, an SQS
//! body, an error an HTTP peer wrote. In the text format one event is one line, so a raw
//! `\n` or `\r` in such a value would start a line of the attacker's choosing (a fake
//! `ERROR`), and an ESC would send escape sequences to the operator's terminal. The JSON and
//! journal formats are safe by construction (JSON escapes, the journal frames each value by
//! its length); the text format is made safe here, by formatting every field and the message
//! through `sales_domain::text::escape_control`.
//!
//! tracing-subscriber's own `DefaultFields` escapes only some of it (since 0.3.20: ESC, BEL,
//! BS, FF, DEL and C1 in the message), not `\n`, `\r` nor a field written with `%` (its
//! `Display`), which is how most of our fields are written; hence this formatter.

use std::fmt::{self, Write as _};

use sales_domain::text::escape_control;
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
