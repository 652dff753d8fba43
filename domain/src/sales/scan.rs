//! The record scanner: SIMD masks of the bytes that matter, the RFC 4180 boundary state
//! machine, and the field splitters (plain records, and quoted ones).

use memchr::memchr;

/// The bytes that matter in `buf[base..base + 64]` (fewer at the end, as if padded with
/// NULs): bit `i` is set when byte `base + i` is `,` `"` or LF.
pub(super) fn block_masks(buf: &[u8], base: usize) -> u64 {
    match buf.get(base..base + 64).and_then(|b| <&[u8; 64]>::try_from(b).ok()) {
        Some(block) => masks64(block),
        None => {
            let mut padded = [0u8; 64];
            let tail = buf.get(base..).unwrap_or(&[]);
            padded[..tail.len()].copy_from_slice(tail);
            masks64(&padded)
        }
    }
}

/// [`block_masks`] of 64 bytes, 16 at a time with SSE2 (always there on x86-64): three
/// byte compares and a byte-mask move per 16 bytes.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
pub(super) fn masks64(block: &[u8; 64]) -> u64 {
    use safe_arch::{cmp_eq_mask_i8_m128i, m128i, move_mask_i8_m128i, set_splat_i8_m128i};
    let comma = set_splat_i8_m128i(b',' as i8);
    let quote = set_splat_i8_m128i(b'"' as i8);
    let lf = set_splat_i8_m128i(b'\n' as i8);
    let mut special = 0u64;
    for (k, part) in block.chunks_exact(16).enumerate() {
        let mut lanes = [0u8; 16];
        lanes.copy_from_slice(part);
        let v = m128i::from(lanes);
        let hit = cmp_eq_mask_i8_m128i(v, comma)
            | cmp_eq_mask_i8_m128i(v, quote)
            | cmp_eq_mask_i8_m128i(v, lf);
        special |= u64::from(move_mask_i8_m128i(hit) as u16) << (16 * k);
    }
    special
}

/// [`block_masks`] of 64 bytes, portably.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
pub(super) fn masks64(block: &[u8; 64]) -> u64 {
    let mut special = 0u64;
    for (i, &b) in block.iter().enumerate() {
        special |= u64::from(matches!(b, b',' | b'"' | b'\n')) << i;
    }
    special
}

/// The record-boundary scanner's state (RFC 4180: a quote opens a quoted field only at the
/// start of a field; inside, `""` is a quote and `"` followed by anything else closes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scan {
    FieldStart,
    Unquoted,
    Quoted,
    /// Just after a quote inside a quoted field: either `""` or the closing quote.
    QuoteInQuoted,
}

/// Advances `state` over `buf`; returns the index of the `\n` that ends the record, if any.
pub(super) fn scan(buf: &[u8], state: &mut Scan) -> Option<usize> {
    let mut i = 0;
    while i < buf.len() {
        if *state == Scan::Quoted {
            // Inside quotes only a quote matters: jump to it.
            let j = memchr(b'"', &buf[i..])?;
            i += j + 1;
            *state = Scan::QuoteInQuoted;
            continue;
        }
        *state = match (*state, buf[i]) {
            (_, b'\n') => return Some(i),
            (Scan::FieldStart | Scan::QuoteInQuoted, b'"') => Scan::Quoted,
            (_, b',') => Scan::FieldStart,
            _ => Scan::Unquoted,
        };
        i += 1;
    }
    None
}

/// A record without quotes: fields are the bytes between commas.
pub(super) fn split_plain(rec: &[u8], spans: &mut Vec<(usize, usize)>) {
    spans.clear();
    let mut start = 0;
    for i in memchr::memchr_iter(b',', rec) {
        spans.push((start, i));
        start = i + 1;
    }
    spans.push((start, rec.len()));
}

/// A malformed quoted record; the number is the field's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum QuoteError {
    /// `ab"c`: a quote inside a field that does not start with one.
    Stray(usize),
    /// `"ab"c`: text after the closing quote.
    AfterClose(usize),
    /// `"ab` and the end of the record.
    Unterminated(usize),
}

/// A record with quotes: unescapes every field into `scratch`, spans pointing into it.
pub(super) fn split_careful(
    rec: &[u8],
    scratch: &mut Vec<u8>,
    spans: &mut Vec<(usize, usize)>,
) -> Result<(), QuoteError> {
    scratch.clear();
    spans.clear();
    let mut state = Scan::FieldStart;
    let mut start = 0;
    for &b in rec {
        let field = spans.len();
        state = match (state, b) {
            (Scan::Quoted, b'"') => Scan::QuoteInQuoted,
            (Scan::Quoted, _) => {
                scratch.push(b);
                Scan::Quoted
            }
            (Scan::FieldStart, b'"') => Scan::Quoted,
            (Scan::QuoteInQuoted, b'"') => {
                scratch.push(b'"');
                Scan::Quoted
            }
            (_, b',') => {
                spans.push((start, scratch.len()));
                start = scratch.len();
                Scan::FieldStart
            }
            (Scan::QuoteInQuoted, _) => return Err(QuoteError::AfterClose(field)),
            (_, b'"') => return Err(QuoteError::Stray(field)),
            _ => {
                scratch.push(b);
                Scan::Unquoted
            }
        };
    }
    if state == Scan::Quoted {
        return Err(QuoteError::Unterminated(spans.len()));
    }
    spans.push((start, scratch.len()));
    Ok(())
}
