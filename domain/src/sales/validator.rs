//! The streaming [`Validator`]: takes the file's bytes in any chunking, finds the records
//! and hands them to the checks, hashing the bytes as it goes.

use super::checks::Checker;
use super::date::SalesDate;
use super::scan::block_masks;
use super::scan::scan;
use super::scan::split_careful;
use super::scan::split_plain;
use super::scan::QuoteError;
use super::scan::Scan;
use super::summary::DaySummary;
use super::summary::ValidationErrors;
use super::Limits;
use super::BOM;
use memchr::memchr;
use sha2::{Digest, Sha256};

/// Streaming validator: feed any chunking of the file's bytes, then finish.
///
/// The result does not depend on how the bytes were cut into chunks.
pub struct Validator {
    pub(super) limits: Limits,
    /// `None` when the caller computes the SHA-256 (see [`Validator::hash_elsewhere`]).
    pub(super) hasher: Option<Sha256>,
    pub(super) bytes: u64,
    /// The first bytes, held until we know whether they are a BOM.
    pub(super) bom_buf: Vec<u8>,
    pub(super) bom_done: bool,
    /// The incomplete record at the end of the last chunk (≤ `max_line_bytes`).
    pub(super) carry: Vec<u8>,
    /// Where the boundary scanner stands at the end of `carry`.
    pub(super) carry_scan: Scan,
    /// Physical line where the next record (or the one in `carry`) starts.
    pub(super) line: u64,
    /// Unescaped field contents of a quoted record.
    pub(super) scratch: Vec<u8>,
    /// Field boundaries in the current record (or in `scratch`).
    pub(super) spans: Vec<(usize, usize)>,
    /// Field boundaries in `scratch` of a record the fast path unescaped.
    pub(super) unescaped: Vec<(usize, usize)>,
    pub(super) checker: Checker,
}

impl Validator {
    pub fn new(file_label: &str, limits: Limits) -> Self {
        Validator {
            limits,
            hasher: Some(Sha256::new()),
            bytes: 0,
            bom_buf: Vec::with_capacity(3),
            bom_done: false,
            carry: Vec::new(),
            carry_scan: Scan::FieldStart,
            line: 1,
            scratch: Vec::new(),
            spans: Vec::with_capacity(16),
            unescaped: Vec::with_capacity(16),
            checker: Checker::new(file_label, limits),
        }
    }
    /// Requires every row to carry `date` (the `--date D` flag), instead of only agreeing
    /// with the first row.
    pub fn with_expected_date(mut self, date: SalesDate) -> Self {
        self.checker.expected = Some((date, date.bytes()));
        self
    }
    /// Leaves the file's SHA-256 to the caller, who computes it from the same bytes (on
    /// another core: [`crate::local::validate_file`]) and gives it to
    /// [`Validator::finish_with_sha256`].
    pub fn hash_elsewhere(mut self) -> Self {
        self.hasher = None;
        self
    }
    /// Feeds the next bytes. `Err` when the input can no longer be a sales file at all (bad
    /// header, binary data, a record over the limit): the caller stops reading and reports it.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), ValidationErrors> {
        if self.checker.fatal {
            return Err(self.checker.errors());
        }
        self.bytes += chunk.len() as u64;
        let mut hashing =
            Hashing { hasher: std::mem::take(&mut self.hasher), data: chunk, done: 0 };
        let mut chunk = chunk;
        if !self.bom_done {
            let take = (BOM.len() - self.bom_buf.len()).min(chunk.len());
            self.bom_buf.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.bom_buf.len() < BOM.len() && BOM.starts_with(&self.bom_buf) {
                self.hasher = hashing.all();
                return Ok(()); // could still be a BOM: wait for more bytes
            }
            self.release_bom_buf(&mut hashing);
        }
        self.ingest(chunk, &mut hashing);
        self.hasher = hashing.all();
        if self.checker.fatal {
            Err(self.checker.errors())
        } else {
            Ok(())
        }
    }

    pub fn finish(self) -> Result<DaySummary, ValidationErrors> {
        self.finish_hashed(None)
    }

    /// [`Validator::finish`] for a validator that [hashes elsewhere](Validator::hash_elsewhere):
    /// `sha256` is the digest of every byte fed.
    pub fn finish_with_sha256(self, sha256: [u8; 32]) -> Result<DaySummary, ValidationErrors> {
        self.finish_hashed(Some(sha256))
    }

    pub(super) fn finish_hashed(
        mut self,
        given: Option<[u8; 32]>,
    ) -> Result<DaySummary, ValidationErrors> {
        if !self.checker.fatal && !self.bom_done {
            let mut hashing =
                Hashing { hasher: std::mem::take(&mut self.hasher), data: &[], done: 0 };
            self.release_bom_buf(&mut hashing);
            self.hasher = hashing.all();
        }
        if self.checker.fatal {
            return Err(self.checker.errors());
        }
        if self.bytes == 0 {
            self.checker.fatal(1, "file", "the file is empty (0 bytes)".into());
            return Err(self.checker.errors());
        }
        if !self.carry.is_empty() {
            let carry = std::mem::take(&mut self.carry);
            if self.carry_scan == Scan::Quoted {
                // The last record opened a quote and the file ended before it closed.
                let field = match split_careful(&carry, &mut self.scratch, &mut self.spans) {
                    Err(QuoteError::Unterminated(k)) => k,
                    _ => self.spans.len().saturating_sub(1),
                };
                let column = self.checker.column_name(field);
                self.checker.fatal(
                    self.line,
                    &column,
                    "a quoted field starts on this line but its closing quote is missing \
                     (the file ends inside it)"
                        .into(),
                );
                return Err(self.checker.errors());
            }
            // The last line has no line end: still a record.
            self.take_record(&carry, None);
        }
        if self.checker.fatal {
            return Err(self.checker.errors());
        }
        let sha256 = match (given, self.hasher.take()) {
            (Some(sha256), _) => sha256,
            (None, Some(hasher)) => hasher.finalize().into(),
            (None, None) => {
                // A caller's mistake, never shown as a wrong digest.
                self.checker.fatal(1, "file", "internal error: no SHA-256 was given".into());
                return Err(self.checker.errors());
            }
        };
        self.checker.finish(sha256, self.bytes)
    }

    /// Hands a complete record (without its `\n`) to [`handle_record`] at the current line
    /// and moves the line count past it.
    pub(super) fn take_record(&mut self, rec: &[u8], plain: Option<bool>) {
        let line = self.line;
        let spans = &mut self.spans;
        self.line += handle_record(&mut self.checker, &mut self.scratch, spans, line, rec, plain);
    }

    /// Processes the bytes held for BOM detection, without the BOM itself.
    pub(super) fn release_bom_buf(&mut self, hashing: &mut Hashing) {
        self.bom_done = true;
        let pre = std::mem::take(&mut self.bom_buf);
        let rest = pre.strip_prefix(BOM).unwrap_or(&pre);
        self.ingest(rest, hashing);
    }

    /// Stops at a NUL byte: a text file never has one, and it is the cheapest sure sign of
    /// binary content (an image, a spreadsheet, a compressed file).
    pub(super) fn ingest(&mut self, data: &[u8], hashing: &mut Hashing) {
        if self.checker.fatal {
            return;
        }
        match memchr(0, data) {
            None => self.process(data, hashing),
            Some(i) => {
                self.process(&data[..i], hashing);
                if !self.checker.fatal {
                    let line = self.line + memchr::memchr_iter(b'\n', &self.carry).count() as u64;
                    self.checker.fatal(
                        line,
                        "file",
                        "binary content (a NUL byte): a sales file is UTF-8 text; is this \
                         really the CSV export?"
                            .into(),
                    );
                }
            }
        }
    }

    pub(super) fn too_long(&mut self) {
        let reason = format!(
            "a line (record) longer than {} bytes: a sales row is far shorter; is this really \
             a sales file?",
            self.limits.max_line_bytes
        );
        self.checker.fatal(self.line, "row", reason);
    }

    /// Splits `buf` into records, completing the carried-over one first.
    pub(super) fn process(&mut self, buf: &[u8], hashing: &mut Hashing) {
        let max = self.limits.max_line_bytes;
        let mut p = 0;
        if !self.carry.is_empty() {
            // The record may only grow to `max` bytes before its line end.
            let room = (max + 1).saturating_sub(self.carry.len());
            let window = &buf[..buf.len().min(room)];
            match scan(window, &mut self.carry_scan) {
                Some(j) => {
                    self.carry.extend_from_slice(&buf[..j]);
                    let rec = std::mem::take(&mut self.carry);
                    self.carry_scan = Scan::FieldStart;
                    self.take_record(&rec, None);
                    // Reuse the allocation for the next carry.
                    self.carry = rec;
                    self.carry.clear();
                    p = j + 1;
                }
                None => {
                    if window.len() < buf.len() {
                        return self.too_long();
                    }
                    self.carry.extend_from_slice(buf);
                    if self.carry.len() > max {
                        self.too_long();
                    }
                    return;
                }
            }
        }
        // UTF-8 is checked once for the whole rest of the chunk (SIMD, far faster than record
        // by record): a record before `utf8_until` is valid text. Records are cut at ASCII
        // bytes (LF, comma, quote), which never fall inside a character, so a valid chunk
        // gives valid records and fields. Past it (an invalid byte, or a character cut by
        // the chunk's end) each record is checked on its own, to say where the problem is.
        let utf8_until = match simdutf8::compat::from_utf8(&buf[p..]) {
            Ok(_) => buf.len(),
            Err(e) => p + e.valid_up_to(),
        };
        while p < buf.len() && !self.checker.fatal {
            if self.checker.header.is_some() {
                match self.fast_records(buf, p, utf8_until, hashing) {
                    Some(q) => p = q,
                    None => return,
                }
            }
            match self.careful_record(buf, p) {
                Some(q) => p = q,
                None => return,
            }
        }
    }

    /// One record at `p` the simple way (the header, and any record the fast path declines):
    /// `Some(next record's start)`, or `None` when the rest was carried over or was fatal.
    pub(super) fn careful_record(&mut self, buf: &[u8], p: usize) -> Option<usize> {
        let max = self.limits.max_line_bytes;
        let rest = &buf[p..];
        let window = &rest[..rest.len().min(max + 1)];
        if let Some(i) = memchr(b'\n', window) {
            if memchr(b'"', &window[..i]).is_none() {
                self.take_record(&window[..i], Some(true));
                return Some(p + i + 1);
            }
        }
        let mut state = Scan::FieldStart;
        match scan(window, &mut state) {
            Some(end) => {
                self.take_record(&window[..end], Some(false));
                Some(p + end + 1)
            }
            None => {
                if window.len() < rest.len() || window.len() > max {
                    self.too_long();
                    return None;
                }
                self.carry.extend_from_slice(rest);
                self.carry_scan = state;
                None
            }
        }
    }

    /// The fast path, once the header is known: the records from `p` on, found by looking
    /// only at the bytes that matter (`,` `"` LF), located 64 bytes at a time as bit masks,
    /// so the loop runs once per field rather than once per byte. A record is taken here
    /// only when its quoting is regular (a quote opens a field and closes right before a
    /// delimiter); otherwise `Some(start)` hands it to [`Validator::careful_record`], whose
    /// byte-by-byte rules decide. `None`: the buffer is used up (the incomplete last record
    /// carried over) or the file turned out hopeless.
    pub(super) fn fast_records(
        &mut self,
        buf: &[u8],
        mut p: usize,
        utf8_until: usize,
        hashing: &mut Hashing,
    ) -> Option<usize> {
        let max = self.limits.max_line_bytes;
        let len = buf.len();
        let mut base = p;
        let mut bits = block_masks(buf, base);
        loop {
            if p >= len {
                return None;
            }
            let start = p;
            let mut field_start = p;
            let mut lines = 1u64;
            // The content of the field just closed by a quote, pushed at its delimiter.
            let mut quoted: Option<(usize, usize)> = None;
            let mut escaped = false;
            self.spans.clear();
            // The next byte that matters, or the end of the buffer (the record is carried).
            macro_rules! next {
                () => {{
                    while bits == 0 {
                        base += 64;
                        if base >= len {
                            return self.carry_rest(buf, start);
                        }
                        bits = block_masks(buf, base);
                    }
                    let s = base + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    s
                }};
            }
            loop {
                let s = next!();
                match buf[s] {
                    b',' => {
                        self.spans.push(quoted.take().unwrap_or((field_start, s)));
                        field_start = s + 1;
                    }
                    b'\n' => {
                        if s - start > max {
                            self.too_long();
                            return None;
                        }
                        let mut end = s;
                        if end > start && buf[end - 1] == b'\r' {
                            end -= 1;
                        }
                        self.spans.push(quoted.take().unwrap_or((field_start, end)));
                        let line = self.line;
                        self.line += lines;
                        p = s + 1;
                        hashing.keep_up(p);
                        if end > start {
                            self.fast_record(line, buf, start, s, s <= utf8_until, escaped);
                            if self.checker.fatal {
                                return None;
                            }
                        }
                        break;
                    }
                    _ => {
                        // A quote: regular only at the start of a field.
                        if s != field_start {
                            return Some(start);
                        }
                        let close = loop {
                            let q = next!();
                            match buf[q] {
                                b'"' => match buf.get(q + 1) {
                                    None => return self.carry_rest(buf, start),
                                    Some(b'"') => {
                                        // `""`: a quote inside the field; skip its second half.
                                        escaped = true;
                                        let _ = next!();
                                    }
                                    Some(_) => break q,
                                },
                                b'\n' => lines += 1,
                                _ => {}
                            }
                        };
                        match (buf.get(close + 1), buf.get(close + 2)) {
                            (Some(b',' | b'\n'), _) | (Some(b'\r'), Some(b'\n')) => {}
                            (Some(b'\r'), None) => return self.carry_rest(buf, start),
                            _ => return Some(start),
                        }
                        quoted = Some((s + 1, close));
                    }
                }
            }
        }
    }

    /// Hands a complete record found by the fast path to the checker; `start..lf` is the
    /// record up to its LF, `self.spans` its fields (positions in `buf`).
    pub(super) fn fast_record(
        &mut self,
        line: u64,
        buf: &[u8],
        start: usize,
        lf: usize,
        known_utf8: bool,
        escaped: bool,
    ) {
        // Commas, quotes and line ends are ASCII, so the record is UTF-8 exactly when each
        // of its fields is: one check per record, and none at all for an ASCII record.
        let utf8 = known_utf8 || std::str::from_utf8(&buf[start..lf]).is_ok();
        if !self.checker.count_data_record(line) {
            return;
        }
        if !escaped {
            self.checker.data_row(line, buf, &self.spans, utf8);
            return;
        }
        // `""` inside a quoted field: copy the fields, unescaped, into `scratch`. (The
        // quoting is regular here: inside quotes, quotes come in pairs.)
        self.scratch.clear();
        self.unescaped.clear();
        for &(a, b) in &self.spans {
            let from = self.scratch.len();
            let field = &buf[a..b];
            if a > start && buf[a - 1] == b'"' {
                let mut rest = field;
                while let Some(i) = memchr(b'"', rest) {
                    self.scratch.extend_from_slice(&rest[..=i]);
                    rest = rest.get(i + 2..).unwrap_or(&[]);
                }
                self.scratch.extend_from_slice(rest);
            } else {
                self.scratch.extend_from_slice(field);
            }
            self.unescaped.push((from, self.scratch.len()));
        }
        self.checker.data_row(line, &self.scratch, &self.unescaped, utf8);
    }

    /// The end of the buffer cut a record: keep it for the next chunk (or fail if it is
    /// already over the limit). `None`, as [`Validator::fast_records`] returns then.
    pub(super) fn carry_rest(&mut self, buf: &[u8], start: usize) -> Option<usize> {
        let rest = &buf[start..];
        let mut state = Scan::FieldStart;
        if scan(rest, &mut state).is_some() {
            // Never expected (the fast path saw no record end), but the careful rules decide.
            return Some(start);
        }
        if rest.len() > self.limits.max_line_bytes {
            self.too_long();
            return None;
        }
        self.carry.extend_from_slice(rest);
        self.carry_scan = state;
        None
    }
}

/// The SHA-256 of a chunk, computed a block at a time as the parsing advances, while each
/// block is still in the L1 cache. The rounds of one stream depend on each other, so
/// nothing done around them makes them cheaper; with a second core, the shell's
/// `validate_file` hashes there instead.
pub(super) struct Hashing<'a> {
    pub(super) hasher: Option<Sha256>,
    pub(super) data: &'a [u8],
    pub(super) done: usize,
}

impl Hashing<'_> {
    /// Hashes whole blocks up to about `parsed` bytes into the chunk.
    #[inline]
    pub(super) fn keep_up(&mut self, parsed: usize) {
        while self.done + 64 <= parsed {
            match (&mut self.hasher, self.data.get(self.done..self.done + 64)) {
                (Some(hasher), Some(block)) => hasher.update(block),
                _ => return,
            }
            self.done += 64;
        }
    }
    /// Hashes the rest of the chunk.
    pub(super) fn all(mut self) -> Option<Sha256> {
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&self.data[self.done.min(self.data.len())..]);
        }
        self.hasher
    }
}

/// Handles one complete record (without its `\n`); returns how many physical lines it took.
/// `plain`: whether the record is known to hold no quote (`None`: look).
pub(super) fn handle_record(
    checker: &mut Checker,
    scratch: &mut Vec<u8>,
    spans: &mut Vec<(usize, usize)>,
    line: u64,
    rec: &[u8],
    plain: Option<bool>,
) -> u64 {
    // A CR before the LF ends the line (CRLF); it is outside quotes, or the LF would be too.
    let rec = rec.strip_suffix(b"\r").unwrap_or(rec);
    if rec.is_empty() {
        return 1; // an entirely empty line: no data
    }
    let plain = plain.unwrap_or_else(|| memchr(b'"', rec).is_none());
    if plain {
        split_plain(rec, spans);
        checker.record(line, rec, spans);
        return 1;
    }
    let lines = 1 + memchr::memchr_iter(b'\n', rec).count() as u64;
    match split_careful(rec, scratch, spans) {
        Ok(()) => checker.record(line, scratch, spans),
        Err(e) => checker.quote_problem(line, e),
    }
    lines
}
