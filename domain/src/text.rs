//! Text from outside made safe to show on one line: a spool file's name, an S3 key, an SQS
//! body, an error an HTTP peer wrote. Pure, so every crate that prints such text uses this one
//! rule: the daemons' text log format and `systemctl status` line, the operator tools'
//! messages, the local lab's `why`.

use std::fmt::Write as _;

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
