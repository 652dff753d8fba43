//! Exact uniqueness of order ids in little memory: compact codes, runs and a final merge.

use super::names::same_bytes;
use super::names::FastHash;
use std::collections::HashMap;

/// The order ids seen, exactly, in at most 8 bytes per row for the usual shapes of id.
///
/// # Encoding
/// An id is mapped *injectively* to a `u64` when it has a usual shape:
/// - a prefix followed by 1 to 16 digits (`ORD-20260115-000042`, `INV7`, `123456`): the
///   prefix gets one of [`ID_PREFIXES`] slots the first time it is seen, and the code is
///   (slot, number of digits, value), so leading zeros count and the order of numbers is
///   kept within a prefix;
/// - otherwise an id of at most 7 bytes: its bytes and length.
///
/// Whether a prefix has a slot is settled the first time it is seen, before any id with
/// it is stored, so an id always gets the same code. Codes are appended, in line order, to
/// chunks of [`ID_CHUNK`] (no doubling of one huge vector), with their lines (implicit
/// while they are consecutive: 2 more bytes per row only in a chunk where rows do not
/// follow each other line after line). Any other id (more distinct prefixes, long ids
/// without a numeric tail) is kept whole in a hash map, checked at once.
///
/// While codes come in increasing order, consecutive ones on consecutive lines are kept as
/// runs (start, line, length): a file of numbered ids in order costs a few bytes in all.
///
/// # Finding duplicates
/// While every code is larger than the one before (ids in increasing order, as most
/// exports write them), there cannot be a duplicate: nothing more is done. Otherwise, at
/// the end, each chunk is sorted (with the permutation, 2 bytes per row, to recover lines)
/// and the chunks are merged: equal codes are equal ids. Exact: no false duplicate, none
/// missed. A duplicate's lines come from the chunks, so this works the same on a stream
/// that cannot be read twice (an S3 object).
#[derive(Default)]
pub(super) struct OrderIds {
    pub(super) prefixes: Vec<Box<[u8]>>,
    pub(super) last_slot: usize,
    /// While the codes increase and mostly by one from one line to the next (numbered ids
    /// in file order): runs of them, so such a file needs almost no memory at all. Turned
    /// into `chunks` when the codes turn back or runs get short (fewer than 3 codes on
    /// average: then 24 bytes a run would cost more than 8 a code).
    pub(super) runs: Option<Vec<IdRun>>,
    pub(super) codes_in_runs: u64,
    pub(super) chunks: Vec<IdChunk>,
    pub(super) last_code: Option<u64>,
    /// Every code so far was larger than the previous one.
    pub(super) increasing: bool,
    /// Ids without a compact code, with the line of their first occurrence.
    pub(super) others: HashMap<Box<[u8]>, u64, FastHash>,
}

/// Codes `code..code + len` on lines `line..line + len`.
#[derive(Default)]
pub(super) struct IdRun {
    pub(super) code: u64,
    pub(super) line: u64,
    pub(super) len: u64,
}

/// How many prefixes get a compact code (5 bits of the code; 0 is for short ids).
pub(super) const ID_PREFIXES: usize = 31;
pub(super) const ID_CHUNK: usize = 1 << 16;
pub(super) const SLOT_SHIFT: u32 = 59;
pub(super) const DIGITS_SHIFT: u32 = 55;

pub(super) struct IdChunk {
    pub(super) codes: Vec<u64>,
    pub(super) first_line: u64,
    pub(super) last_line: u64,
    /// Once a step is not 1: `steps[i - 1]` = line(i) − line(i − 1), 0 meaning "see `far`".
    pub(super) steps: Option<Vec<u16>>,
    pub(super) far: Vec<(u32, u64)>,
    pub(super) increasing: bool,
    /// After sorting: the original index of each code.
    pub(super) order: Option<Vec<u16>>,
}

impl IdChunk {
    pub(super) fn new(line: u64) -> IdChunk {
        IdChunk {
            codes: Vec::with_capacity(ID_CHUNK),
            first_line: line,
            last_line: line,
            steps: None,
            far: Vec::new(),
            increasing: true,
            order: None,
        }
    }
    pub(super) fn push(&mut self, code: u64, line: u64) {
        if let Some(&prev) = self.codes.last() {
            self.increasing &= code > prev;
            let step = line - self.last_line;
            if step != 1 || self.steps.is_some() {
                let index = self.codes.len();
                let steps = self.steps.get_or_insert_with(|| {
                    let mut v = Vec::with_capacity(ID_CHUNK);
                    v.resize(index - 1, 1);
                    v
                });
                match u16::try_from(step) {
                    Ok(s) if s > 0 => steps.push(s),
                    _ => {
                        steps.push(0);
                        self.far.push((index as u32, line));
                    }
                }
            }
        } else {
            self.first_line = line;
        }
        self.last_line = line;
        self.codes.push(code);
    }
    /// The line of the code that was at `index` when appended.
    pub(super) fn line(&self, index: usize) -> u64 {
        let Some(steps) = &self.steps else { return self.first_line + index as u64 };
        let mut line = self.first_line;
        for (i, &s) in steps.iter().enumerate().take(index) {
            line = match s {
                0 => self.far.iter().find(|&&(k, _)| k as usize == i + 1).map_or(line, |&(_, l)| l),
                s => line + u64::from(s),
            };
        }
        line
    }
    /// Sorts the codes, keeping where each was (idempotent).
    pub(super) fn sort(&mut self) {
        if self.increasing || self.order.is_some() {
            return;
        }
        let mut pairs: Vec<(u64, u16)> =
            self.codes.iter().enumerate().map(|(i, &c)| (c, i as u16)).collect();
        pairs.sort_unstable();
        self.codes = pairs.iter().map(|p| p.0).collect();
        self.order = Some(pairs.iter().map(|p| p.1).collect());
    }
    pub(super) fn original_index(&self, sorted: usize) -> usize {
        self.order.as_ref().map_or(sorted, |o| usize::from(o[sorted]))
    }
}

/// One later occurrence of an id: where it is and where its first occurrence is, as
/// (chunk, original index), which orders them like lines.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Repeat {
    pub(super) at: (usize, usize),
    pub(super) first: (usize, usize),
    pub(super) code: u64,
}

impl OrderIds {
    pub(super) fn new() -> OrderIds {
        OrderIds { increasing: true, runs: Some(Vec::new()), ..OrderIds::default() }
    }

    /// Records `id` at `line`. `Err(line of its first occurrence)` when a duplicate is known
    /// at once (ids kept whole); the others are settled by [`OrderIds::duplicates`].
    pub(super) fn insert(&mut self, id: &[u8], line: u64) -> Result<(), u64> {
        let Some(code) = self.encode(id) else {
            return match self.others.get(id) {
                Some(&first) => Err(first),
                None => {
                    self.others.insert(Box::from(id), line);
                    Ok(())
                }
            };
        };
        if let Some(last) = self.last_code {
            self.increasing &= code > last;
        }
        self.last_code = Some(code);
        if let Some(runs) = &mut self.runs {
            let short = (runs.len() as u64) * 3 > self.codes_in_runs + 3;
            match runs.last_mut() {
                Some(r)
                    if r.code.checked_add(r.len) == Some(code)
                        && r.line.checked_add(r.len) == Some(line) =>
                {
                    r.len += 1;
                    self.codes_in_runs += 1;
                    return Ok(());
                }
                _ if self.increasing && !short => {
                    runs.push(IdRun { code, line, len: 1 });
                    self.codes_in_runs += 1;
                    return Ok(());
                }
                _ => {
                    // Out of order, or short runs: one code each from now on.
                    for r in self.runs.take().unwrap_or_default() {
                        for k in 0..r.len {
                            self.push_code(r.code + k, r.line + k);
                        }
                    }
                }
            }
        }
        self.push_code(code, line);
        Ok(())
    }

    pub(super) fn push_code(&mut self, code: u64, line: u64) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.codes.len() < ID_CHUNK => chunk.push(code, line),
            _ => {
                let mut chunk = IdChunk::new(line);
                chunk.push(code, line);
                self.chunks.push(chunk);
            }
        }
    }

    /// The compact code of `id`, if it has a usual shape (see the type's documentation).
    pub(super) fn encode(&mut self, id: &[u8]) -> Option<u64> {
        // The usual case: the prefix of the previous id again, then up to 16 digits. (The
        // prefix must not end with a digit, or the split below would take a longer tail.)
        if let Some(prefix) = self.prefixes.get(self.last_slot) {
            let n = prefix.len();
            let tail = id.get(n..).unwrap_or_default();
            if (1..=16).contains(&tail.len())
                && !prefix.last().is_some_and(u8::is_ascii_digit)
                && same_bytes(&id[..n], prefix)
            {
                let mut value = 0u64;
                let mut digits = true;
                for &b in tail {
                    let d = b.wrapping_sub(b'0');
                    digits &= d <= 9;
                    value = value.wrapping_mul(10).wrapping_add(u64::from(d));
                }
                if digits {
                    let slot = self.last_slot as u64 + 1;
                    let len = tail.len() as u64 - 1;
                    return Some(slot << SLOT_SHIFT | len << DIGITS_SHIFT | value);
                }
            }
        }
        let digits = id.iter().rev().take(16).take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 {
            let (prefix, tail) = id.split_at(id.len() - digits);
            if let Some(slot) = self.prefix_slot(prefix) {
                let value = tail.iter().fold(0u64, |v, &d| v * 10 + u64::from(d - b'0'));
                let slot = slot as u64 + 1;
                return Some(slot << SLOT_SHIFT | (digits as u64 - 1) << DIGITS_SHIFT | value);
            }
        }
        if id.len() <= 7 {
            let bytes = id.iter().fold(0u64, |v, &b| v << 8 | u64::from(b));
            return Some((id.len() as u64) << 56 | bytes);
        }
        None
    }

    pub(super) fn prefix_slot(&mut self, prefix: &[u8]) -> Option<usize> {
        if self.prefixes.get(self.last_slot).is_some_and(|p| same_bytes(p, prefix)) {
            return Some(self.last_slot);
        }
        let slot = match self.prefixes.iter().position(|p| **p == *prefix) {
            Some(slot) => slot,
            None if self.prefixes.len() < ID_PREFIXES => {
                self.prefixes.push(Box::from(prefix));
                self.prefixes.len() - 1
            }
            None => return None,
        };
        self.last_slot = slot;
        Some(slot)
    }

    /// The id a code stands for.
    pub(super) fn decode(&self, code: u64) -> String {
        let slot = (code >> SLOT_SHIFT) as usize;
        if slot == 0 {
            let len = (code >> 56) as usize & 7;
            let bytes: Vec<u8> = (0..len).rev().map(|i| (code >> (8 * i)) as u8).collect();
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        let digits = ((code >> DIGITS_SHIFT) & 0xF) as usize + 1;
        let value = code & ((1 << DIGITS_SHIFT) - 1);
        let prefix = self.prefixes.get(slot - 1).map(|p| String::from_utf8_lossy(p));
        format!("{}{value:0digits$}", prefix.unwrap_or_default())
    }

    /// Every later occurrence of an id among the compact codes: how many, and the first
    /// `keep` of them as (line, line of the first occurrence, id), in line order.
    pub(super) fn duplicates(&mut self, keep: usize) -> (u64, Vec<(u64, u64, String)>) {
        if self.increasing {
            return (0, Vec::new());
        }
        for chunk in &mut self.chunks {
            chunk.sort();
        }
        // Merge the sorted chunks; equal codes come out in (chunk, original index) order,
        // so the first of a run is the first occurrence.
        let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<(u64, usize, usize)>> = self
            .chunks
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.codes.is_empty())
            .map(|(k, c)| std::cmp::Reverse((c.codes[0], k, 0)))
            .collect();
        let mut total = 0u64;
        let mut kept: Vec<Repeat> = Vec::new();
        let mut run: Option<(u64, (usize, usize))> = None;
        while let Some(std::cmp::Reverse((code, k, i))) = heap.pop() {
            let chunk = &self.chunks[k];
            let at = (k, chunk.original_index(i));
            if let Some(&c) = chunk.codes.get(i + 1) {
                heap.push(std::cmp::Reverse((c, k, i + 1)));
            }
            match run {
                Some((c, first)) if c == code => {
                    total += 1;
                    kept.push(Repeat { at, first, code });
                    if kept.len() >= 4 * keep.max(1) {
                        kept.sort_unstable();
                        kept.truncate(keep);
                    }
                }
                _ => run = Some((code, at)),
            }
        }
        kept.sort_unstable();
        kept.truncate(keep);
        let line = |(k, i): (usize, usize)| self.chunks[k].line(i);
        let shown = kept.iter().map(|r| (line(r.at), line(r.first), self.decode(r.code))).collect();
        (total, shown)
    }
}
