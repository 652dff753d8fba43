//! What one field of a record holds (a name that is surely not blank, a quantity), and the
//! words of a field's problems, as the checks in `checks.rs` say them.

use super::MAX_QUANTITY;
use crate::money::shown;

/// Whether a field surely holds a name, judged from its first byte: a visible ASCII
/// character, or the start of a character that is not a space (Unicode spaces start with
/// 0xC2, 0xE1, 0xE2 or 0xE3). `false` only means "look closer" ([`is_blank`]).
pub(super) fn surely_not_blank(v: &[u8]) -> bool {
    matches!(v.first(), Some(&b) if (0x21..0x7F).contains(&b)
        || (b >= 0x80 && !matches!(b, 0xC2 | 0xE1 | 0xE2 | 0xE3)))
}

/// A quantity of the usual form, 1 to 10 digits within 1 ..= [`MAX_QUANTITY`]; `None` when
/// it needs [`parse_quantity`]'s judgement.
pub(super) fn plain_quantity(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 10 {
        return None;
    }
    crate::money::ascii_digits(v).filter(|q| (1..=MAX_QUANTITY).contains(q))
}

pub(super) fn duplicate_reason(id: &str, first: u64) -> String {
    format!("{:?} was already used on line {first}; each order id must appear once", shown(id))
}

/// Empty, or only whitespace: either way there is no name.
pub(super) fn is_blank(v: &str) -> bool {
    v.trim().is_empty()
}

/// A field longer than its limit; only its first characters are shown.
pub(super) fn too_long_reason(v: &str, max: usize, key: &str) -> String {
    format!("{} bytes ({:?}), longer than {max} (limits.{key})", v.len(), shown(v))
}

pub(super) fn blank_reason(v: &str, what: &str) -> String {
    if v.is_empty() {
        format!("empty; every row needs {what}")
    } else {
        format!("only spaces ({:?}); every row needs {what}", shown(v))
    }
}

pub(super) fn utf8_reason(bytes: &[u8], e: &std::str::Utf8Error) -> String {
    let at = e.valid_up_to();
    let byte = bytes.get(at).copied().unwrap_or(0);
    format!(
        "not valid UTF-8 text (byte 0x{byte:02X} at position {}); save the file as UTF-8 \
         (it may be in Latin-1 or Windows-1252)",
        at + 1
    )
}

/// A whole number 1 ..= [`MAX_QUANTITY`], ASCII digits only.
pub(super) fn parse_quantity(v: &str) -> Result<u64, String> {
    if v.is_empty() {
        return Err("empty; expected a whole number ≥ 1".into());
    }
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{:?} is not a whole number ≥ 1", shown(v)));
    }
    let mut q: u64 = 0;
    for d in v.bytes() {
        q = q.saturating_mul(10).saturating_add(u64::from(d - b'0'));
    }
    match q {
        0 => Err(format!("{:?} is not a whole number ≥ 1", shown(v))),
        q if q > MAX_QUANTITY => {
            Err(format!("{:?} is more than {MAX_QUANTITY}, the most one row may hold", shown(v)))
        }
        q => Ok(q),
    }
}
