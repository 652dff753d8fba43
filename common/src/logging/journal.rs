//! Log events as systemd journal entries, in the journal's native protocol
//! (<https://systemd.io/JOURNAL_NATIVE_PROTOCOL/>): one datagram per entry to journald's
//! socket, each field a `NAME=value` line, or for a value with a newline `NAME`, a newline,
//! the value's length as 64-bit little-endian, the value and a newline.
//!
//! Each entry carries `PRIORITY` (error 3, warn 4, info 5 "notice", debug 6, trace 7, as
//! tracing-journald maps them: `journalctl -p warning` shows errors and warnings, `-p
//! notice` everything the daemons say at their default level), `MESSAGE`,
//! `SYSLOG_IDENTIFIER` (the program: `journalctl -t reportsengine`), `TARGET`, `CODE_FILE`,
//! `CODE_LINE`, and every field of the event and of the spans it is in, named in upper case
//! (`key` → `KEY`, `message_id` → `MESSAGE_ID`, `operation` → `OPERATION`). journald adds
//! the trusted fields itself (`_PID`, `_SYSTEMD_UNIT`, …), from the socket's credentials.
//!
//! Why not the tracing-journald crate, which speaks the same protocol: it always writes to
//! `/run/systemd/journal/socket`, and the tests need a socket they own. Entries larger than
//! a datagram (tracing-journald passes those as a memfd, which needs `unsafe` here) and any
//! other send failure are written to stderr instead, which systemd also puts in the
//! journal, so nothing is lost. A send blocks while journald's queue is full, as
//! `sd_journal_send` does.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// journald's socket for native-protocol entries (the same path on systemd 219 and 252).
pub const SOCKET: &str = "/run/systemd/journal/socket";

/// Field names journald or this layer already set for every entry: an event field of the
/// same name is sent as `F_NAME` instead, so it cannot pose as, say, the entry's priority.
const OWN_FIELDS: &[&str] =
    &["PRIORITY", "MESSAGE", "SYSLOG_IDENTIFIER", "TARGET", "CODE_FILE", "CODE_LINE"];

/// The journal layer: a datagram socket and where to send to.
pub struct Journal {
    socket: UnixDatagram,
    path: PathBuf,
    identifier: String,
}

impl Journal {
    /// Opens a socket to `path` and checks that something listens there (journald
    /// discards an empty datagram).
    pub fn connect(path: &Path, identifier: &str) -> std::io::Result<Journal> {
        let socket = UnixDatagram::unbound()?;
        socket.send_to(&[], path)?;
        Ok(Journal { socket, path: path.to_path_buf(), identifier: identifier.to_string() })
    }

    fn send(&self, entry: &[u8]) {
        if self.socket.send_to(entry, &self.path).is_err() {
            // Too large for one datagram, or journald gone: stderr reaches the journal too.
            let mut stderr = std::io::stderr().lock();
            let _ = stderr.write_all(&one_line(entry)).and_then(|()| stderr.write_all(b"\n"));
        }
    }
}

/// The journal's name for a tracing field: upper case, `[A-Z0-9_]` only, not starting with
/// `_` (journald keeps those for its trusted fields) or a digit, at most 64 bytes.
pub fn field_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
        .collect();
    if out.is_empty() || out.starts_with('_') || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "F_");
    }
    if OWN_FIELDS.contains(&out.as_str()) {
        out.insert_str(0, "F_");
    }
    out.truncate(64);
    out
}

/// Appends one field in the native protocol's form.
pub fn put_field(buf: &mut Vec<u8>, name: &str, value: &[u8]) {
    buf.extend_from_slice(name.as_bytes());
    if value.contains(&b'\n') {
        buf.push(b'\n');
        buf.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        buf.push(b'=');
    }
    buf.extend_from_slice(value);
    buf.push(b'\n');
}

/// An entry as one line of `NAME=value` pairs, for the stderr fallback (which systemd reads
/// line by line: a raw newline in a value would start an entry of its own).
fn one_line(entry: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entry.len());
    let mut rest = entry;
    while !rest.is_empty() {
        let name_end = rest.iter().position(|&b| b == b'=' || b == b'\n').unwrap_or(rest.len());
        let (name, after) = rest.split_at(name_end);
        let (value, next) = match after.first() {
            Some(b'=') => {
                let body = &after[1..];
                let end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
                (&body[..end], body.get(end + 1..).unwrap_or_default())
            }
            Some(_) if after.len() >= 9 => {
                let mut len = [0u8; 8];
                len.copy_from_slice(&after[1..9]);
                let len = usize::try_from(u64::from_le_bytes(len)).unwrap_or(usize::MAX);
                let body = &after[9..];
                let end = len.min(body.len());
                (&body[..end], body.get(end + 1..).unwrap_or_default())
            }
            _ => (after, &[][..]),
        };
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(name);
        out.push(b'=');
        // One line, whatever the value holds: every control escaped, as in the text format.
        let value = String::from_utf8_lossy(value);
        out.extend_from_slice(sales_domain::text::escape_control(&value).as_bytes());
        rest = next;
    }
    out
}

fn priority(level: &Level) -> &'static [u8] {
    match *level {
        Level::ERROR => b"3",
        Level::WARN => b"4",
        Level::INFO => b"5",
        Level::DEBUG => b"6",
        Level::TRACE => b"7",
    }
}

/// A span's fields, already encoded, kept in the span's extensions.
struct SpanFields(Vec<u8>);

/// Encodes the fields it visits; `message` becomes `MESSAGE` (events only).
struct Fields<'a> {
    buf: &'a mut Vec<u8>,
    event: bool,
}

impl Fields<'_> {
    fn put(&mut self, field: &Field, value: &[u8]) {
        if self.event && field.name() == "message" {
            put_field(self.buf, "MESSAGE", value);
        } else {
            put_field(self.buf, &field_name(field.name()), value);
        }
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.as_bytes());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.put(field, text.as_bytes());
    }
}

fn put_metadata(buf: &mut Vec<u8>, meta: &Metadata<'_>) {
    put_field(buf, "TARGET", meta.target().as_bytes());
    if let Some(file) = meta.file() {
        put_field(buf, "CODE_FILE", file.as_bytes());
    }
    if let Some(line) = meta.line() {
        put_field(buf, "CODE_LINE", line.to_string().as_bytes());
    }
}

impl<S> tracing_subscriber::Layer<S> for Journal
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut buf = Vec::new();
        attrs.record(&mut Fields { buf: &mut buf, event: false });
        span.extensions_mut().insert(SpanFields(buf));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>() {
            values.record(&mut Fields { buf: &mut fields.0, event: false });
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut buf = Vec::with_capacity(256);
        put_field(&mut buf, "PRIORITY", priority(meta.level()));
        put_field(&mut buf, "SYSLOG_IDENTIFIER", self.identifier.as_bytes());
        put_metadata(&mut buf, meta);
        // The spans' fields (outermost first), e.g. the message id of the message in hand.
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    buf.extend_from_slice(&fields.0);
                }
            }
        }
        event.record(&mut Fields { buf: &mut buf, event: true });
        self.send(&buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_follow_the_journals_rules() {
        assert_eq!(field_name("message_id"), "MESSAGE_ID");
        assert_eq!(field_name("key"), "KEY");
        assert_eq!(field_name("moved_to"), "MOVED_TO");
        assert_eq!(field_name("error.sources"), "ERROR_SOURCES");
        assert_eq!(field_name("_private"), "F__PRIVATE", "no trusted-field look-alikes");
        assert_eq!(field_name("3d"), "F_3D");
        assert_eq!(field_name("priority"), "F_PRIORITY", "cannot pose as the entry's priority");
        assert_eq!(field_name(&"x".repeat(100)).len(), 64);
    }

    #[test]
    fn values_with_newlines_use_the_length_prefixed_form() {
        let mut buf = Vec::new();
        put_field(&mut buf, "KEY", b"sales/2026-01-15/sales.csv");
        put_field(&mut buf, "ERROR", b"line 1\nline 2");
        let mut want = b"KEY=sales/2026-01-15/sales.csv\nERROR\n".to_vec();
        want.extend_from_slice(&13u64.to_le_bytes());
        want.extend_from_slice(b"line 1\nline 2\n");
        assert_eq!(buf, want);
        assert_eq!(
            String::from_utf8(one_line(&buf)).unwrap(),
            "KEY=sales/2026-01-15/sales.csv ERROR=line 1\\nline 2"
        );
    }
}
