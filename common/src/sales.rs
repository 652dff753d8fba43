//! The daily sales CSV: schema, streaming validation and aggregation into a [`DaySummary`]. (pure)
//!
//! # Why streaming
//! The same validator runs on a local file before upload and on an S3 object stream in the
//! reportsengine, whatever its size: it takes the bytes in any chunking, keeps only an
//! incomplete record between chunks, and aggregates as it goes, so memory is
//! O(distinct reps, regions, products) plus the order ids.
//!
//! # How a chunk is read
//! Most records have no quote at all: for those, `memchr` finds the line end and the commas
//! (the fast path). A record with a quote goes through a byte-by-byte RFC 4180 state machine
//! (the careful path), which also finds where a quoted field spanning lines ends. Only the
//! record cut by a chunk boundary is copied (into `carry`).
//!
//! # Rules (SPEC §4), and the decisions taken where the SPEC is silent
//! - UTF-8, an optional BOM at the very start, LF or CRLF (mixed tolerated); a lone CR is data.
//! - Lines are physical lines, the header being line 1; a problem in a record is reported at the
//!   line where the record starts. Entirely empty lines are skipped anywhere (also before the
//!   header): they carry no data.
//! - Fields are taken exactly as written (no trimming), so names compare bytewise; a field that
//!   is empty or only whitespace counts as empty.
//! - `quantity`: ASCII digits only, 1 ..= [`MAX_QUANTITY`].
//! - Header names must match exactly (case and spaces included); a near miss gets a hint.
//! - Hopeless files (empty, binary, bad header, a record over the limit, an unterminated quote)
//!   stop at the first such problem; all other problems are collected (the first
//!   [`MAX_SHOWN_PROBLEMS`] kept, all counted) so one run shows everything to fix.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use memchr::memchr;
use sha2::{Digest, Sha256};

use crate::money::{shown, Cents};

/// A calendar date, `YYYY-MM-DD`, validated (no 2026-02-30).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SalesDate(pub time::Date);

/// Why a date field is not a date; kept apart from the message so the validator can reuse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateError {
    Shape,
    NotReal,
}

impl SalesDate {
    /// The date, if `year-month-day` exists in the calendar.
    pub fn from_ymd(year: i32, month: u8, day: u8) -> Option<SalesDate> {
        let month = time::Month::try_from(month).ok()?;
        time::Date::from_calendar_date(year, month, day).ok().map(SalesDate)
    }
    pub fn year(self) -> i32 {
        self.0.year()
    }
    /// January 1 of the same year: where year-to-date sums start.
    pub fn first_of_year(self) -> SalesDate {
        // Invariant: January 1 exists in every year `time::Date` can hold, and `self` is one.
        match time::Date::from_calendar_date(self.0.year(), time::Month::January, 1) {
            Ok(d) => SalesDate(d),
            Err(_) => self,
        }
    }
    /// The day before, `None` only at the very beginning of `time`'s range.
    pub fn previous_day(self) -> Option<SalesDate> {
        self.0.previous_day().map(SalesDate)
    }
    /// `YYYYMMDD`, as used in generated order ids.
    pub fn compact(self) -> String {
        format!("{:04}{:02}{:02}", self.0.year(), u8::from(self.0.month()), self.0.day())
    }

    /// Strict `YYYY-MM-DD`: exactly 10 ASCII bytes, no sign, no spaces, a real date.
    fn parse_bytes(b: &[u8]) -> Result<SalesDate, DateError> {
        let shape_ok = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shape_ok {
            return Err(DateError::Shape);
        }
        let num = |r: std::ops::Range<usize>| {
            b[r].iter().fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'))
        };
        let (y, m, d) = (num(0..4), num(5..7), num(8..10));
        // y ≤ 9999 and m, d ≤ 99: the conversions cannot fail.
        let (Ok(y), Ok(m), Ok(d)) = (i32::try_from(y), u8::try_from(m), u8::try_from(d)) else {
            return Err(DateError::Shape);
        };
        SalesDate::from_ymd(y, m, d).ok_or(DateError::NotReal)
    }

    /// The 10 bytes of `YYYY-MM-DD`, to compare raw fields without parsing every row.
    fn bytes(self) -> [u8; 10] {
        let mut out = [0u8; 10];
        let s = self.to_string();
        if s.len() == 10 {
            out.copy_from_slice(s.as_bytes());
        }
        out
    }
}

fn date_reason(input: &str, e: DateError) -> String {
    match e {
        DateError::Shape => format!("{:?} is not a date of the form YYYY-MM-DD", shown(input)),
        DateError::NotReal => format!("{:?} is not a real calendar date", shown(input)),
    }
}

impl std::str::FromStr for SalesDate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SalesDate::parse_bytes(s.as_bytes()).map_err(|e| date_reason(s, e))
    }
}
impl std::fmt::Display for SalesDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.0;
        write!(f, "{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    }
}
impl serde::Serialize for SalesDate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One rep's day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepDay {
    pub orders: u64,
    pub units: u64,
    pub revenue: Cents,
    pub regions: BTreeSet<String>,
}
/// One region's day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionDay {
    pub orders: u64,
    pub units: u64,
    pub revenue: Cents,
}
/// One product's day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductDay {
    pub units: u64,
    pub revenue: Cents,
}

/// Everything the ledger and the report need from a valid day's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySummary {
    pub date: SalesDate,
    /// Data rows (= orders).
    pub rows: u64,
    pub units: u64,
    pub revenue: Cents,
    /// Keys are compared bytewise (BTreeMap<String> order), as SPEC's sort order requires.
    pub reps: BTreeMap<String, RepDay>,
    pub regions: BTreeMap<String, RegionDay>,
    pub products: BTreeMap<String, ProductDay>,
    /// SHA-256 of the file's bytes, exactly as fed.
    pub sha256: [u8; 32],
    pub bytes: u64,
    /// Columns beyond the required ones (ignored, worth a warning).
    pub extra_columns: Vec<String>,
}

/// One located problem: `FILE:LINE: column: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Physical line, the header being line 1.
    pub line: u64,
    /// The column's name (or `header`, `file`, …).
    pub column: String,
    pub reason: String,
}

/// Why a file is not a valid sales file: the first problems, located, and how many in all.
///
/// `Display` prints one `FILE:LINE: column: reason` per line (SPEC §5), then
/// `… and N more problems` when some were not kept; no trailing newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors {
    pub file: String,
    pub problems: Vec<Problem>,
    pub total: u64,
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}:{}: {}: {}", self.file, p.line, p.column, p.reason)?;
        }
        let more = self.total.saturating_sub(self.problems.len() as u64);
        if more > 0 {
            if !self.problems.is_empty() {
                f.write_str("\n")?;
            }
            let s = if more == 1 { "" } else { "s" };
            write!(f, "… and {more} more problem{s}")?;
        }
        Ok(())
    }
}
impl std::error::Error for ValidationErrors {}

/// How many problems a [`ValidationErrors`] keeps (all are counted in `total`).
pub const MAX_SHOWN_PROBLEMS: usize = 20;
/// The largest quantity one row may hold: far above any real order, and low enough that
/// quantity × price and the day's sums are checked rather than merely hoped to fit.
pub const MAX_QUANTITY: u64 = 1_000_000_000;
/// The required columns, in the SPEC's order (also the order [`crate::generate`] writes).
pub const REQUIRED_COLUMNS: [&str; 7] =
    ["date", "order_id", "sales_rep", "region", "product", "quantity", "unit_price"];
const DATE: usize = 0;
const ORDER_ID: usize = 1;
const SALES_REP: usize = 2;
const REGION: usize = 3;
const PRODUCT: usize = 4;
const QUANTITY: usize = 5;
const UNIT_PRICE: usize = 6;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Limits that protect memory against hostile input.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A physical record longer than this cannot be a sales row.
    pub max_record_bytes: usize,
}

impl Default for Limits {
    /// 1 MiB: a sales row is ~100 bytes; even a header with many extra columns fits, and the
    /// carry-over buffer stays small whatever the input.
    fn default() -> Self {
        Limits { max_record_bytes: 1 << 20 }
    }
}

/// Validates a whole in-memory file: [`Validator::feed`] once, then [`Validator::finish`].
pub fn validate_slice(
    file_label: &str,
    data: &[u8],
    limits: Limits,
) -> Result<DaySummary, ValidationErrors> {
    let mut v = Validator::new(file_label, limits);
    v.feed(data)?;
    v.finish()
}

/// Streaming validator: feed any chunking of the file's bytes, then finish.
///
/// The result does not depend on how the bytes were cut into chunks.
pub struct Validator {
    limits: Limits,
    /// `None` when the caller computes the SHA-256 (see [`Validator::hash_elsewhere`]).
    hasher: Option<Sha256>,
    bytes: u64,
    /// The first bytes, held until we know whether they are a BOM.
    bom_buf: Vec<u8>,
    bom_done: bool,
    /// The incomplete record at the end of the last chunk (≤ `max_record_bytes`).
    carry: Vec<u8>,
    /// Where the boundary scanner stands at the end of `carry`.
    carry_scan: Scan,
    /// Physical line where the next record (or the one in `carry`) starts.
    line: u64,
    /// Unescaped field contents of a quoted record.
    scratch: Vec<u8>,
    /// Field boundaries in the current record (or in `scratch`).
    spans: Vec<(usize, usize)>,
    /// Field boundaries in `scratch` of a record the fast path unescaped.
    unescaped: Vec<(usize, usize)>,
    checker: Checker,
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
            checker: Checker::new(file_label),
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

    fn finish_hashed(mut self, given: Option<[u8; 32]>) -> Result<DaySummary, ValidationErrors> {
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
    fn take_record(&mut self, rec: &[u8], plain: Option<bool>) {
        let line = self.line;
        let spans = &mut self.spans;
        self.line += handle_record(&mut self.checker, &mut self.scratch, spans, line, rec, plain);
    }

    /// Processes the bytes held for BOM detection, without the BOM itself.
    fn release_bom_buf(&mut self, hashing: &mut Hashing) {
        self.bom_done = true;
        let pre = std::mem::take(&mut self.bom_buf);
        let rest = pre.strip_prefix(BOM).unwrap_or(&pre);
        self.ingest(rest, hashing);
    }

    /// Stops at a NUL byte: a text file never has one, and it is the cheapest sure sign of
    /// binary content (an image, a spreadsheet, a compressed file).
    fn ingest(&mut self, data: &[u8], hashing: &mut Hashing) {
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

    fn too_long(&mut self) {
        let reason = format!(
            "a line (record) longer than {} bytes: a sales row is far shorter; is this really \
             a sales file?",
            self.limits.max_record_bytes
        );
        self.checker.fatal(self.line, "row", reason);
    }

    /// Splits `buf` into records, completing the carried-over one first.
    fn process(&mut self, buf: &[u8], hashing: &mut Hashing) {
        let max = self.limits.max_record_bytes;
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
    fn careful_record(&mut self, buf: &[u8], p: usize) -> Option<usize> {
        let max = self.limits.max_record_bytes;
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
    fn fast_records(
        &mut self,
        buf: &[u8],
        mut p: usize,
        utf8_until: usize,
        hashing: &mut Hashing,
    ) -> Option<usize> {
        let max = self.limits.max_record_bytes;
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
    fn fast_record(
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
        self.checker.data_records += 1;
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
    fn carry_rest(&mut self, buf: &[u8], start: usize) -> Option<usize> {
        let rest = &buf[start..];
        let mut state = Scan::FieldStart;
        if scan(rest, &mut state).is_some() {
            // Never expected (the fast path saw no record end), but the careful rules decide.
            return Some(start);
        }
        if rest.len() > self.limits.max_record_bytes {
            self.too_long();
            return None;
        }
        self.carry.extend_from_slice(rest);
        self.carry_scan = state;
        None
    }
}

/// The SHA-256 of a chunk, computed a block at a time as the parsing advances, while each
/// block is still in the L1 cache. (The SHA instructions of one stream form a chain of
/// dependent rounds that no reordering shortens: on one core, hashing costs about 0.5 s
/// per GB on this kind of processor whatever is done around it. With a second core,
/// [`crate::local::validate_file`] hashes there instead.)
struct Hashing<'a> {
    hasher: Option<Sha256>,
    data: &'a [u8],
    done: usize,
}

impl Hashing<'_> {
    /// Hashes whole blocks up to about `parsed` bytes into the chunk.
    #[inline]
    fn keep_up(&mut self, parsed: usize) {
        while self.done + 64 <= parsed {
            match (&mut self.hasher, self.data.get(self.done..self.done + 64)) {
                (Some(hasher), Some(block)) => hasher.update(block),
                _ => return,
            }
            self.done += 64;
        }
    }
    /// Hashes the rest of the chunk.
    fn all(mut self) -> Option<Sha256> {
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&self.data[self.done.min(self.data.len())..]);
        }
        self.hasher
    }
}

/// The bytes that matter in `buf[base..base + 64]` (fewer at the end, as if padded with
/// NULs): bit `i` is set when byte `base + i` is `,` `"` or LF.
fn block_masks(buf: &[u8], base: usize) -> u64 {
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
fn masks64(block: &[u8; 64]) -> u64 {
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
fn masks64(block: &[u8; 64]) -> u64 {
    let mut special = 0u64;
    for (i, &b) in block.iter().enumerate() {
        special |= u64::from(matches!(b, b',' | b'"' | b'\n')) << i;
    }
    special
}

/// Handles one complete record (without its `\n`); returns how many physical lines it took.
/// `plain`: whether the record is known to hold no quote (`None`: look).
fn handle_record(
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

/// The record-boundary scanner's state (RFC 4180: a quote opens a quoted field only at the
/// start of a field; inside, `""` is a quote and `"` followed by anything else closes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    FieldStart,
    Unquoted,
    Quoted,
    /// Just after a quote inside a quoted field: either `""` or the closing quote.
    QuoteInQuoted,
}

/// Advances `state` over `buf`; returns the index of the `\n` that ends the record, if any.
fn scan(buf: &[u8], state: &mut Scan) -> Option<usize> {
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
fn split_plain(rec: &[u8], spans: &mut Vec<(usize, usize)>) {
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
enum QuoteError {
    /// `ab"c`: a quote inside a field that does not start with one.
    Stray(usize),
    /// `"ab"c`: text after the closing quote.
    AfterClose(usize),
    /// `"ab` and the end of the record.
    Unterminated(usize),
}

/// A record with quotes: unescapes every field into `scratch`, spans pointing into it.
fn split_careful(
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

/// The parsed header: which field holds each required column.
struct Header {
    line: u64,
    names: Vec<String>,
    /// Field index of each of [`REQUIRED_COLUMNS`].
    index: [usize; 7],
    /// Field indexes of the other columns.
    extra: Vec<usize>,
}

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
struct OrderIds {
    prefixes: Vec<Box<[u8]>>,
    last_slot: usize,
    /// While the codes increase and mostly by one from one line to the next (numbered ids
    /// in file order): runs of them, so such a file needs almost no memory at all. Turned
    /// into `chunks` when the codes turn back or runs get short (fewer than 3 codes on
    /// average: then 24 bytes a run would cost more than 8 a code).
    runs: Option<Vec<IdRun>>,
    codes_in_runs: u64,
    chunks: Vec<IdChunk>,
    last_code: Option<u64>,
    /// Every code so far was larger than the previous one.
    increasing: bool,
    /// Ids without a compact code, with the line of their first occurrence.
    others: HashMap<Box<[u8]>, u64, FastHash>,
}

/// Codes `code..code + len` on lines `line..line + len`.
#[derive(Default)]
struct IdRun {
    code: u64,
    line: u64,
    len: u64,
}

/// How many prefixes get a compact code (5 bits of the code; 0 is for short ids).
const ID_PREFIXES: usize = 31;
const ID_CHUNK: usize = 1 << 16;
const SLOT_SHIFT: u32 = 59;
const DIGITS_SHIFT: u32 = 55;

struct IdChunk {
    codes: Vec<u64>,
    first_line: u64,
    last_line: u64,
    /// Once a step is not 1: `steps[i - 1]` = line(i) − line(i − 1), 0 meaning "see `far`".
    steps: Option<Vec<u16>>,
    far: Vec<(u32, u64)>,
    increasing: bool,
    /// After sorting: the original index of each code.
    order: Option<Vec<u16>>,
}

impl IdChunk {
    fn new(line: u64) -> IdChunk {
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
    fn push(&mut self, code: u64, line: u64) {
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
    fn line(&self, index: usize) -> u64 {
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
    fn sort(&mut self) {
        if self.increasing || self.order.is_some() {
            return;
        }
        let mut pairs: Vec<(u64, u16)> =
            self.codes.iter().enumerate().map(|(i, &c)| (c, i as u16)).collect();
        pairs.sort_unstable();
        self.codes = pairs.iter().map(|p| p.0).collect();
        self.order = Some(pairs.iter().map(|p| p.1).collect());
    }
    fn original_index(&self, sorted: usize) -> usize {
        self.order.as_ref().map_or(sorted, |o| usize::from(o[sorted]))
    }
}

/// One later occurrence of an id: where it is and where its first occurrence is, as
/// (chunk, original index), which orders them like lines.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Repeat {
    at: (usize, usize),
    first: (usize, usize),
    code: u64,
}

impl OrderIds {
    fn new() -> OrderIds {
        OrderIds { increasing: true, runs: Some(Vec::new()), ..OrderIds::default() }
    }

    /// Records `id` at `line`. `Err(line of its first occurrence)` when a duplicate is known
    /// at once (ids kept whole); the others are settled by [`OrderIds::duplicates`].
    fn insert(&mut self, id: &[u8], line: u64) -> Result<(), u64> {
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

    fn push_code(&mut self, code: u64, line: u64) {
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
    fn encode(&mut self, id: &[u8]) -> Option<u64> {
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

    fn prefix_slot(&mut self, prefix: &[u8]) -> Option<usize> {
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
    fn decode(&self, code: u64) -> String {
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
    fn duplicates(&mut self, keep: usize) -> (u64, Vec<(u64, u64, String)>) {
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

/// The hasher of the validator's maps: fast on short keys, seeded per process.
type FastHash = foldhash::fast::RandomState;

/// Names (of reps, regions, products) seen so far, each with a dense index: an
/// open-addressing table looked up by the name's bytes, three times per row, so it is
/// made cheap. The slots are 8 bytes (32 bits of the hash and the index), kept at most a
/// quarter full, so a table of a few hundred names stays in the L1 cache and a lookup
/// nearly always ends at its first slot; a name's key keeps its first and last 8 bytes and
/// its length, which decide equality outright for names of up to 16 bytes (and leave only
/// the middle to compare for longer ones). The hash is a seeded multiply-fold of the
/// words: a file cannot choose names that collide. (Public for the benchmarks' floor,
/// `perfkit bare-numbers`, which uses the same tables.)
pub struct Names {
    /// `hash >> 32 << 32 | (index + 1)`; 0 is an empty slot.
    slots: Vec<u64>,
    keys: Vec<NameKey>,
    names: Vec<Box<[u8]>>,
    seed: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct NameKey {
    head: u64,
    tail: u64,
    len: usize,
}

/// The first and last 8 bytes of `k` (overlapping when shorter than 16; zero-padded when
/// shorter than 8).
#[inline]
fn name_words(k: &[u8]) -> (u64, u64) {
    let word = |b: &[u8]| b.try_into().map_or(0, u64::from_le_bytes);
    match k.len() {
        n if n >= 8 => (word(&k[..8]), word(&k[n - 8..])),
        _ => (k.iter().rev().fold(0u64, |w, &b| w << 8 | u64::from(b)), 0),
    }
}

/// `a == b`, 8 bytes at a time and inline (names and id prefixes are short: a call to
/// `memcmp` would cost more than the comparison).
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() < 8 {
        return a == b;
    }
    let word = |x: &[u8], i: usize| x[i..i + 8].try_into().map_or(0, u64::from_le_bytes);
    let last = a.len() - 8;
    let mut i = 0;
    while i < last {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    word(a, last) == word(b, last)
}

#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

impl Default for Names {
    fn default() -> Self {
        Names::new()
    }
}

impl Names {
    pub fn new() -> Names {
        use std::hash::BuildHasher;
        let seed = std::collections::hash_map::RandomState::new().hash_one(0x5EED_u64) | 1;
        Names { slots: vec![0; 64], keys: Vec::new(), names: Vec::new(), seed }
    }

    #[inline]
    fn hash(&self, k: &[u8], head: u64, tail: u64) -> u64 {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut h = fold_mul(head ^ self.seed, tail ^ K ^ k.len() as u64);
        let n = k.len();
        if n > 16 {
            let middle = &k[8..n - 8];
            let mut words = middle.chunks_exact(8);
            for w in &mut words {
                h = fold_mul(h ^ w.try_into().map_or(0, u64::from_le_bytes), K);
            }
            if !words.remainder().is_empty() {
                let w = k[n - 16..n - 8].try_into().map_or(0, u64::from_le_bytes);
                h = fold_mul(h ^ w, K);
            }
        }
        h
    }

    /// The index of `name`, adding it the first time. Inlined (the cold part is not) so
    /// that a row's three lookups, which do not depend on each other, overlap.
    #[inline(always)]
    pub fn slot(&mut self, name: &[u8]) -> usize {
        let (head, tail) = name_words(name);
        let key = NameKey { head, tail, len: name.len() };
        let hash = self.hash(name, head, tail);
        let tag = hash & !0xFFFF_FFFF;
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return self.add(i, name, key, tag);
            }
            if slot & !0xFFFF_FFFF == tag {
                let index = (slot as u32 - 1) as usize;
                if self.keys[index] == key
                    && (name.len() <= 16 || same_bytes(&self.names[index], name))
                {
                    return index;
                }
            }
            i = (i + 1) & mask;
        }
    }

    #[cold]
    #[inline(never)]
    fn add(&mut self, at: usize, name: &[u8], key: NameKey, tag: u64) -> usize {
        let index = self.names.len();
        self.names.push(Box::from(name));
        self.keys.push(key);
        self.slots[at] = tag | (index as u64 + 1);
        if self.names.len() * 4 > self.slots.len() {
            let grown = vec![0u64; 2 * self.slots.len()];
            let old = std::mem::replace(&mut self.slots, grown);
            for slot in old.into_iter().filter(|&slot| slot != 0) {
                // The tag is the hash's high half; the slot came from its low bits, which
                // are recomputed from the name (no need to keep them).
                let index = (slot as u32 - 1) as usize;
                let k = self.keys[index];
                let hash = self.hash(&self.names[index], k.head, k.tail);
                let mask = self.slots.len() - 1;
                let mut i = hash as usize & mask;
                while self.slots[i] != 0 {
                    i = (i + 1) & mask;
                }
                self.slots[i] = slot;
            }
        }
        index
    }

    /// How many names there are.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The name at `i` as text (names come only from rows found valid UTF-8).
    fn text(&self, i: usize) -> String {
        String::from_utf8_lossy(&self.names[i]).into_owned()
    }
}

#[derive(Default)]
struct RepAcc {
    orders: u64,
    units: u64,
    revenue: Cents,
    /// Regions 0..64 as bits; a rep sells in few regions.
    region_bits: u64,
    /// Regions from 64 on, sorted.
    more_regions: Vec<usize>,
}
#[derive(Default)]
struct ProductAcc {
    units: u64,
    revenue: Cents,
}

/// The rules on records, the aggregation and the problem list; knows nothing of chunks.
struct Checker {
    file: String,
    expected: Option<(SalesDate, [u8; 10])>,
    /// The first valid date seen, its bytes and its line, when no date is expected.
    first_date: Option<(SalesDate, [u8; 10], u64)>,
    header: Option<Header>,
    data_records: u64,
    order_ids: OrderIds,
    rep_names: Names,
    reps: Vec<RepAcc>,
    region_names: Names,
    regions: Vec<RegionDay>,
    product_names: Names,
    products: Vec<ProductAcc>,
    rows: u64,
    units: u64,
    revenue: Cents,
    problems: Vec<Problem>,
    /// For each kept problem: whether it comes before an order id check of the same line
    /// (UTF-8 and date problems), to place duplicates found later where a row-by-row check
    /// would have put them.
    early: Vec<bool>,
    /// Set while a row's UTF-8 and date checks run.
    in_early_checks: bool,
    total: u64,
    fatal: bool,
    /// Duplicate order ids, once settled: how many, and the first ones as problems.
    duplicates: Option<(u64, Vec<Problem>)>,
}

impl Checker {
    fn new(file: &str) -> Self {
        Checker {
            file: file.to_string(),
            expected: None,
            first_date: None,
            header: None,
            data_records: 0,
            order_ids: OrderIds::new(),
            rep_names: Names::new(),
            reps: Vec::new(),
            region_names: Names::new(),
            regions: Vec::new(),
            product_names: Names::new(),
            products: Vec::new(),
            rows: 0,
            units: 0,
            revenue: Cents::ZERO,
            problems: Vec::new(),
            early: Vec::new(),
            in_early_checks: false,
            total: 0,
            fatal: false,
            duplicates: None,
        }
    }

    /// Counts a problem; builds its text only if it will be shown.
    fn problem(&mut self, line: u64, column: &str, reason: impl FnOnce() -> String) {
        self.total += 1;
        if self.problems.len() < MAX_SHOWN_PROBLEMS {
            self.problems.push(Problem { line, column: column.to_string(), reason: reason() });
            self.early.push(self.in_early_checks);
        }
    }
    fn fatal(&mut self, line: u64, column: &str, reason: String) {
        self.problem(line, column, || reason);
        self.fatal = true;
    }
    /// Settles the duplicate order ids (once: called when the input ended or turned out
    /// hopeless, so no id comes after).
    fn settle_duplicates(&mut self) -> u64 {
        if self.duplicates.is_none() {
            let (total, first) = self.order_ids.duplicates(MAX_SHOWN_PROBLEMS);
            let problems = first
                .into_iter()
                .map(|(line, first_line, id)| Problem {
                    line,
                    column: "order_id".to_string(),
                    reason: duplicate_reason(&id, first_line),
                })
                .collect();
            self.duplicates = Some((total, problems));
        }
        self.duplicates.as_ref().map_or(0, |d| d.0)
    }

    /// All problems: those found row by row and the duplicate ids, in line order.
    fn errors(&mut self) -> ValidationErrors {
        let duplicates = self.settle_duplicates();
        let mut dups = self.duplicates.as_ref().map(|d| d.1.as_slice()).unwrap_or(&[]).iter();
        let mut problems = Vec::with_capacity(MAX_SHOWN_PROBLEMS);
        let mut next_dup = dups.next();
        for (p, &early) in self.problems.iter().zip(&self.early) {
            while let Some(d) = next_dup.filter(|d| d.line < p.line || (d.line == p.line && !early))
            {
                problems.push(d.clone());
                next_dup = dups.next();
            }
            problems.push(p.clone());
        }
        problems.extend(next_dup.into_iter().chain(dups).cloned());
        problems.truncate(MAX_SHOWN_PROBLEMS);
        ValidationErrors { file: self.file.clone(), problems, total: self.total + duplicates }
    }
    fn column_name(&self, field: usize) -> String {
        match &self.header {
            None => "header".to_string(),
            Some(h) => h.names.get(field).cloned().unwrap_or_else(|| "row".to_string()),
        }
    }

    fn quote_problem(&mut self, line: u64, e: QuoteError) {
        let (field, reason) = match e {
            QuoteError::Stray(k) => (
                k,
                "a quote (\") inside a field that does not start with one; put the whole \
                 field in quotes and double the inner quote, like \"27\"\" monitor\"",
            ),
            QuoteError::AfterClose(k) => (
                k,
                "text after the closing quote of a quoted field; expected a comma or the end \
                 of the line right after it",
            ),
            QuoteError::Unterminated(k) => (k, "a quoted field is never closed"),
        };
        let column = self.column_name(field);
        if self.header.is_none() {
            self.fatal(line, &column, reason.to_string());
        } else {
            self.data_records += 1;
            self.problem(line, &column, || reason.to_string());
        }
    }

    fn record(&mut self, line: u64, base: &[u8], spans: &[(usize, usize)]) {
        if self.header.is_none() {
            self.header(line, base, spans);
        } else {
            self.data_records += 1;
            let utf8 = std::str::from_utf8(base).is_ok();
            self.data_row(line, base, spans, utf8);
        }
    }

    /// The first non-empty record. Any problem here is fatal: without the columns, no row can
    /// be read.
    fn header(&mut self, line: u64, base: &[u8], spans: &[(usize, usize)]) {
        let mut names = Vec::with_capacity(spans.len());
        for (k, &(s, e)) in spans.iter().enumerate() {
            match std::str::from_utf8(&base[s..e]) {
                Ok(n) => names.push(n.to_string()),
                Err(_) => {
                    let r = format!("column {} of the header is not valid UTF-8 text", k + 1);
                    return self.fatal(line, "header", r);
                }
            }
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut duplicates = Vec::new();
        for (k, n) in names.iter().enumerate() {
            if let Some(&first) = seen.get(n.as_str()) {
                duplicates.push(format!("{:?} (columns {} and {})", shown(n), first + 1, k + 1));
            } else {
                seen.insert(n, k);
            }
        }
        let mut index = [0usize; 7];
        let mut missing = Vec::new();
        for (r, want) in REQUIRED_COLUMNS.iter().enumerate() {
            match seen.get(want) {
                Some(&k) => index[r] = k,
                None => {
                    let near = names.iter().find(|n| n.trim().eq_ignore_ascii_case(want));
                    missing.push(match near {
                        Some(n) => {
                            format!("{want} (found {:?}: names must match exactly)", shown(n))
                        }
                        None => want.to_string(),
                    });
                }
            }
        }
        if !duplicates.is_empty() {
            let r = format!("a column name appears twice: {}", duplicates.join(", "));
            self.problem(line, "header", || r);
            self.fatal = true;
        }
        if !missing.is_empty() {
            let mut r = format!(
                "missing required column{} {}; the header must name {}",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", "),
                REQUIRED_COLUMNS.join(","),
            );
            if names.iter().any(|n| n.contains('\r')) {
                r.push_str(" (the lines seem to end with a lone CR: use LF or CRLF line ends)");
            }
            self.problem(line, "header", || r);
            self.fatal = true;
        }
        if self.fatal {
            return;
        }
        let extra = (0..names.len()).filter(|k| !index.contains(k)).collect();
        self.header = Some(Header { line, names, index, extra });
    }

    /// A data row; `utf8`: whether all of its fields are valid UTF-8.
    fn data_row(&mut self, line: u64, base: &[u8], spans: &[(usize, usize)], utf8: bool) {
        if utf8 && self.good_row(line, base, spans) {
            return;
        }
        let Some(h) = self.header.take() else { return };
        self.data_row_with(&h, line, base, spans);
        self.header = Some(h);
    }

    /// The common case, fast: a row that passes every check is added and `true` returned.
    /// Anything unusual returns `false` having changed nothing, and [`Checker::data_row_with`]
    /// checks the row again, the long way, to say what is wrong.
    fn good_row(&mut self, line: u64, base: &[u8], spans: &[(usize, usize)]) -> bool {
        let Some(h) = &self.header else { return false };
        if spans.len() != h.names.len() {
            return false;
        }
        let index = h.index;
        let field = |r: usize| spans.get(index[r]).and_then(|&(s, e)| base.get(s..e));
        let (Some(date), Some(id), Some(rep), Some(region), Some(product), Some(q), Some(p)) = (
            field(DATE),
            field(ORDER_ID),
            field(SALES_REP),
            field(REGION),
            field(PRODUCT),
            field(QUANTITY),
            field(UNIT_PRICE),
        ) else {
            return false;
        };
        let reference = match (&self.expected, &self.first_date) {
            (Some((_, b)), _) | (None, Some((_, b, _))) => b,
            (None, None) => return false,
        };
        if date != reference
            || !surely_not_blank(id)
            || !surely_not_blank(rep)
            || !surely_not_blank(region)
            || !surely_not_blank(product)
        {
            return false;
        }
        let (Some(q), Some(p)) = (plain_quantity(q), crate::money::plain_price(p)) else {
            return false;
        };
        let Some(revenue) = p.checked_mul(q) else { return false };
        if self.revenue.checked_add(revenue).is_none()
            || self.units.checked_add(q).is_none()
            || self.order_ids.insert(id, line).is_err()
        {
            // A duplicate is not recorded a second time by the long way: `insert` of a known
            // id changes nothing.
            return false;
        }
        self.add(line, rep, region, product, q, revenue);
        true
    }

    fn data_row_with(&mut self, h: &Header, line: u64, base: &[u8], spans: &[(usize, usize)]) {
        if spans.len() != h.names.len() {
            let (got, want) = (spans.len(), h.names.len());
            return self.problem(line, "row", || {
                let s = if got == 1 { "" } else { "s" };
                format!(
                    "this row has {got} field{s} but the header has {want}; check for a missing \
                     or extra comma, or a name with a comma that is not in quotes"
                )
            });
        }
        // UTF-8 first: every later check needs text.
        self.in_early_checks = true;
        let mut vals: [Option<&str>; 7] = [None; 7];
        let mut ok = true;
        let field = |k: usize| {
            let (s, e) = spans[k];
            &base[s..e]
        };
        for (r, &k) in h.index.iter().enumerate() {
            match std::str::from_utf8(field(k)) {
                Ok(v) => vals[r] = Some(v),
                Err(e) => {
                    ok = false;
                    self.problem(line, REQUIRED_COLUMNS[r], || utf8_reason(field(k), &e));
                }
            }
        }
        for &k in &h.extra {
            if let Err(e) = std::str::from_utf8(field(k)) {
                ok = false;
                self.problem(line, &h.names[k], || utf8_reason(field(k), &e));
            }
        }
        if let Some(v) = vals[DATE] {
            ok &= self.check_date(line, v);
        }
        self.in_early_checks = false;
        if let Some(v) = vals[ORDER_ID] {
            if is_blank(v) {
                ok = false;
                self.problem(line, "order_id", || blank_reason(v, "an order id"));
            } else if let Err(first) = self.order_ids.insert(v.as_bytes(), line) {
                ok = false;
                self.problem(line, "order_id", || duplicate_reason(v, first));
            }
        }
        for (r, what) in [(SALES_REP, "a sales rep"), (REGION, "a region"), (PRODUCT, "a product")]
        {
            if let Some(v) = vals[r] {
                if is_blank(v) {
                    ok = false;
                    self.problem(line, REQUIRED_COLUMNS[r], || blank_reason(v, what));
                }
            }
        }
        let quantity = vals[QUANTITY].and_then(|v| match parse_quantity(v) {
            Ok(q) => Some(q),
            Err(reason) => {
                self.problem(line, "quantity", || reason);
                None
            }
        });
        let price = vals[UNIT_PRICE].and_then(|v| match Cents::parse_price(v) {
            Ok(p) => Some(p),
            Err(e) => {
                self.problem(line, "unit_price", || e.to_string());
                None
            }
        });
        let (Some(q), Some(p), Some(rep), Some(region), Some(product), true) =
            (quantity, price, vals[SALES_REP], vals[REGION], vals[PRODUCT], ok)
        else {
            return;
        };
        let Some(revenue) = p.checked_mul(q) else {
            return self.problem(line, "unit_price", || {
                format!("quantity {q} × unit_price {p} is too large an amount to hold")
            });
        };
        self.add(line, rep.as_bytes(), region.as_bytes(), product.as_bytes(), q, revenue);
    }

    /// The date rule: the expected date, or else the same date as the first row's.
    fn check_date(&mut self, line: u64, v: &str) -> bool {
        let reference = match (self.expected, self.first_date) {
            (Some((_, b)), _) | (None, Some((_, b, _))) => Some(b),
            (None, None) => None,
        };
        if reference.is_some_and(|b| b == v.as_bytes()) {
            return true; // the common case: no parsing
        }
        let date = match SalesDate::parse_bytes(v.as_bytes()) {
            Ok(d) => d,
            Err(e) => {
                self.problem(line, "date", || date_reason(v, e));
                return false;
            }
        };
        match (self.expected, self.first_date) {
            (Some((want, _)), _) => {
                self.problem(line, "date", || {
                    format!("{date} is not the date given for this file ({want})")
                });
                false
            }
            (None, Some((first, _, first_line))) => {
                self.problem(line, "date", || {
                    format!(
                        "{date} differs from {first}, the date on line {first_line}; a file \
                         holds one day's sales"
                    )
                });
                false
            }
            (None, None) => {
                self.first_date = Some((date, date.bytes(), line));
                true
            }
        }
    }

    /// Adds a valid row. The totals are checked; each part (rep, region, product) is at most
    /// its total since all amounts are ≥ 0, so once the total fits the parts cannot overflow.
    fn add(&mut self, line: u64, rep: &[u8], region: &[u8], product: &[u8], q: u64, rev: Cents) {
        let (Some(rows), Some(units), Some(revenue)) =
            (self.rows.checked_add(1), self.units.checked_add(q), self.revenue.checked_add(rev))
        else {
            return self.problem(line, "unit_price", || {
                format!(
                    "the day's total revenue goes beyond {}, the largest amount this program \
                     can hold",
                    Cents(i64::MAX)
                )
            });
        };
        (self.rows, self.units, self.revenue) = (rows, units, revenue);
        let add = |a: Cents, b: Cents| Cents(a.0.saturating_add(b.0)); // bounded, see above

        let region_idx = self.region_names.slot(region);
        if region_idx == self.regions.len() {
            self.regions.push(RegionDay::default());
        }
        if let Some(acc) = self.regions.get_mut(region_idx) {
            acc.orders += 1;
            acc.units = acc.units.saturating_add(q);
            acc.revenue = add(acc.revenue, rev);
        }
        let rep_idx = self.rep_names.slot(rep);
        if rep_idx == self.reps.len() {
            self.reps.push(RepAcc::default());
        }
        if let Some(acc) = self.reps.get_mut(rep_idx) {
            acc.orders += 1;
            acc.units = acc.units.saturating_add(q);
            acc.revenue = add(acc.revenue, rev);
            if region_idx < 64 {
                acc.region_bits |= 1 << region_idx;
            } else if let Err(pos) = acc.more_regions.binary_search(&region_idx) {
                acc.more_regions.insert(pos, region_idx);
            }
        }
        let product_idx = self.product_names.slot(product);
        if product_idx == self.products.len() {
            self.products.push(ProductAcc::default());
        }
        if let Some(acc) = self.products.get_mut(product_idx) {
            acc.units = acc.units.saturating_add(q);
            acc.revenue = add(acc.revenue, rev);
        }
    }

    fn finish(mut self, sha256: [u8; 32], bytes: u64) -> Result<DaySummary, ValidationErrors> {
        let Some(header) = self.header.take() else {
            self.fatal(1, "file", "no header line: the file holds only empty lines".into());
            return Err(self.errors());
        };
        if self.data_records == 0 {
            self.problem(header.line, "file", || {
                "no sales rows: the file has a header but no data rows".into()
            });
        }
        if self.total + self.settle_duplicates() > 0 {
            return Err(self.errors());
        }
        let date = match (self.expected, self.first_date) {
            (Some((d, _)), _) | (None, Some((d, _, _))) => d,
            (None, None) => {
                // Unreachable: a valid data row sets the first date.
                self.problem(header.line, "date", || "no valid date in the file".into());
                return Err(self.errors());
            }
        };
        let region_names = &self.region_names;
        let reps = self
            .reps
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                let bits = (0..64).filter(|k| a.region_bits & (1 << k) != 0);
                let regions = bits.chain(a.more_regions).map(|k| region_names.text(k)).collect();
                let day = RepDay { orders: a.orders, units: a.units, revenue: a.revenue, regions };
                (self.rep_names.text(i), day)
            })
            .collect();
        let regions = self
            .regions
            .into_iter()
            .enumerate()
            .map(|(i, day)| (self.region_names.text(i), day))
            .collect();
        let products = self
            .products
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                (self.product_names.text(i), ProductDay { units: a.units, revenue: a.revenue })
            })
            .collect();
        let extra_columns = header.extra.iter().map(|&k| header.names[k].clone()).collect();
        Ok(DaySummary {
            date,
            rows: self.rows,
            units: self.units,
            revenue: self.revenue,
            reps,
            regions,
            products,
            sha256,
            bytes,
            extra_columns,
        })
    }
}

/// Whether a field surely holds a name, judged from its first byte: a visible ASCII
/// character, or the start of a character that is not a space (Unicode spaces start with
/// 0xC2, 0xE1, 0xE2 or 0xE3). `false` only means "look closer" ([`is_blank`]).
fn surely_not_blank(v: &[u8]) -> bool {
    matches!(v.first(), Some(&b) if (0x21..0x7F).contains(&b)
        || (b >= 0x80 && !matches!(b, 0xC2 | 0xE1 | 0xE2 | 0xE3)))
}

/// A quantity of the usual form, 1 to 10 digits within 1 ..= [`MAX_QUANTITY`]; `None` when
/// it needs [`parse_quantity`]'s judgement.
fn plain_quantity(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 10 {
        return None;
    }
    crate::money::ascii_digits(v).filter(|q| (1..=MAX_QUANTITY).contains(q))
}

fn duplicate_reason(id: &str, first: u64) -> String {
    format!("{:?} was already used on line {first}; each order id must appear once", shown(id))
}

/// Empty, or only whitespace: either way there is no name.
fn is_blank(v: &str) -> bool {
    v.trim().is_empty()
}

fn blank_reason(v: &str, what: &str) -> String {
    if v.is_empty() {
        format!("empty; every row needs {what}")
    } else {
        format!("only spaces ({:?}); every row needs {what}", shown(v))
    }
}

fn utf8_reason(bytes: &[u8], e: &std::str::Utf8Error) -> String {
    let at = e.valid_up_to();
    let byte = bytes.get(at).copied().unwrap_or(0);
    format!(
        "not valid UTF-8 text (byte 0x{byte:02X} at position {}); save the file as UTF-8 \
         (it may be in Latin-1 or Windows-1252)",
        at + 1
    )
}

/// A whole number 1 ..= [`MAX_QUANTITY`], ASCII digits only.
fn parse_quantity(v: &str) -> Result<u64, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "date,order_id,sales_rep,region,product,quantity,unit_price\n";

    fn limits() -> Limits {
        Limits { max_record_bytes: 4096 }
    }
    fn check(data: &[u8]) -> Result<DaySummary, ValidationErrors> {
        validate_slice("t.csv", data, limits())
    }
    fn ok(data: &str) -> DaySummary {
        match check(data.as_bytes()) {
            Ok(s) => s,
            Err(e) => panic!("expected valid, got:\n{e}"),
        }
    }
    /// (line, column, reason) of every kept problem.
    fn problems(data: &[u8]) -> Vec<(u64, String, String)> {
        match check(data) {
            Ok(_) => panic!("expected problems"),
            Err(e) => e.problems.into_iter().map(|p| (p.line, p.column, p.reason)).collect(),
        }
    }
    /// The single problem's (line, column), and its reason contains `needle`.
    fn one(data: &str, line: u64, column: &str, needle: &str) {
        let ps = problems(data.as_bytes());
        assert_eq!(ps.len(), 1, "{data:?}: {ps:?}");
        assert_eq!((ps[0].0, ps[0].1.as_str()), (line, column), "{data:?}: {ps:?}");
        assert!(ps[0].2.contains(needle), "{data:?}: {:?} lacks {needle:?}", ps[0].2);
    }
    fn row(id: &str) -> String {
        format!("2026-01-15,{id},Ada Lovelace,EMEA,Widget,2,1.50\n")
    }
    fn file(rows: &[String]) -> String {
        let mut s = H.to_string();
        for r in rows {
            s.push_str(r);
        }
        s
    }

    #[test]
    fn sales_date_parse_and_display() {
        for good in ["2026-01-15", "2024-02-29", "0001-01-01", "9999-12-31"] {
            let d: SalesDate = good.parse().unwrap();
            assert_eq!(d.to_string(), good);
        }
        let bad = [
            ("2026-02-30", "is not a real calendar date"),
            ("2025-02-29", "is not a real calendar date"),
            ("2026-13-01", "is not a real calendar date"),
            ("2026-00-10", "is not a real calendar date"),
            ("2026-1-15", "YYYY-MM-DD"),
            ("15/01/2026", "YYYY-MM-DD"),
            (" 2026-01-15", "YYYY-MM-DD"),
            ("2026-01-15 ", "YYYY-MM-DD"),
            ("+202-01-15", "YYYY-MM-DD"),
            ("2026-01-15T00:00", "YYYY-MM-DD"),
            ("", "YYYY-MM-DD"),
            ("２０２６-01-15", "YYYY-MM-DD"),
        ];
        for (s, why) in bad {
            let e = s.parse::<SalesDate>().unwrap_err();
            assert!(e.contains(why), "{s:?}: {e}");
        }
        let d: SalesDate = "2026-03-01".parse().unwrap();
        assert_eq!(d.year(), 2026);
        assert_eq!(d.first_of_year().to_string(), "2026-01-01");
        assert_eq!(d.previous_day().unwrap().to_string(), "2026-02-28");
        assert_eq!(d.compact(), "20260301");
        assert_eq!(SalesDate::from_ymd(2026, 2, 29), None);
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"2026-03-01\"");
    }

    #[test]
    fn aggregation_by_hand() {
        let data = "\
date,order_id,sales_rep,region,product,quantity,unit_price
2026-01-15,A1,Ada,EMEA,Widget,2,1.50
2026-01-15,A2,Bob,APAC,Gadget,1,19.99
2026-01-15,A3,Ada,APAC,Widget,3,1.5
2026-01-15,A4,Ada,EMEA,Gizmo,10,0.07
";
        let s = ok(data);
        assert_eq!(s.date.to_string(), "2026-01-15");
        assert_eq!((s.rows, s.units, s.revenue), (4, 16, Cents(300 + 1999 + 450 + 70)));
        let ada = &s.reps["Ada"];
        assert_eq!((ada.orders, ada.units, ada.revenue), (3, 15, Cents(820)));
        assert_eq!(ada.regions.iter().collect::<Vec<_>>(), ["APAC", "EMEA"]);
        let bob = &s.reps["Bob"];
        assert_eq!((bob.orders, bob.units, bob.revenue), (1, 1, Cents(1999)));
        assert_eq!(bob.regions.len(), 1);
        assert_eq!(s.regions["EMEA"], RegionDay { orders: 2, units: 12, revenue: Cents(370) });
        assert_eq!(s.regions["APAC"], RegionDay { orders: 2, units: 4, revenue: Cents(2449) });
        assert_eq!(s.products["Widget"], ProductDay { units: 5, revenue: Cents(750) });
        assert_eq!(s.products["Gadget"], ProductDay { units: 1, revenue: Cents(1999) });
        assert_eq!(s.products["Gizmo"], ProductDay { units: 10, revenue: Cents(70) });
        assert_eq!(s.bytes, data.len() as u64);
        assert_eq!(s.sha256, <[u8; 32]>::from(Sha256::digest(data.as_bytes())));
        assert!(s.extra_columns.is_empty());
        assert_eq!(s.reps.keys().collect::<Vec<_>>(), ["Ada", "Bob"]);
    }

    #[test]
    fn bytewise_key_order_and_non_ascii() {
        let s = ok(&file(&[
            "2026-01-15,1,Zoë Ødegaard,Nord,Café crème,1,2.00\n".into(),
            "2026-01-15,2,José Núñez,Sud,Été,1,3.00\n".into(),
            "2026-01-15,3,Zed,Nord,abc,1,1.00\n".into(),
        ]));
        // Bytewise: "José" < "Zed" < "Zoë" ('e' 0x65 < 'o' 0x6F); "abc" < "Été" (0x61 < 0xC3).
        assert_eq!(s.reps.keys().collect::<Vec<_>>(), ["José Núñez", "Zed", "Zoë Ødegaard"]);
        assert_eq!(s.products.keys().collect::<Vec<_>>(), ["Café crème", "abc", "Été"]);
    }

    #[test]
    fn bom_crlf_mixed_line_ends_and_no_final_newline() {
        let plain = ok(&file(&[row("1"), row("2")]));
        let variants = [
            format!("\u{FEFF}{}", file(&[row("1"), row("2")])),
            file(&[row("1"), row("2")]).replace('\n', "\r\n"),
            H.replace('\n', "\r\n") + &row("1") + row("2").trim_end(),
            format!("{H}{}\r\n{}", row("1").trim_end(), row("2").trim_end()),
        ];
        for v in variants {
            let s = ok(&v);
            assert_eq!(s.rows, 2);
            assert_eq!(s.reps, plain.reps, "{v:?}");
            assert_eq!(s.products, plain.products);
        }
        // A BOM anywhere else is data: here it spoils the first column's name.
        one(&format!("x\u{FEFF}{}", file(&[row("1")])), 1, "header", "missing required");
    }

    #[test]
    fn quoted_fields() {
        let data = "\
date,order_id,sales_rep,region,product,quantity,unit_price
2026-01-15,1,\"Lovelace, Ada\",EMEA,\"Cable, USB-C 2m\",1,9.99
2026-01-15,2,Bob,EMEA,\"Monitor 27\"\" 4K\",1,299.00
\"2026-01-15\",\"3\",\"Bob\",\"EMEA\",\"Multi
line
name\",\"1\",\"1.00\"
2026-01-15,4,Bob,\"\",x,1,1.00
2026-01-15,5,Bob,EMEA,x,0,1.00
";
        let ps = problems(data.as_bytes());
        // Row 4 starts on line 4 and spans 3 lines: rows 5 and 6 are on lines 7 and 8.
        assert_eq!(ps[0].0, 7);
        assert_eq!(ps[0].1, "region");
        assert_eq!((ps[1].0, ps[1].1.as_str()), (8, "quantity"));
        let good = data.lines().take(6).collect::<Vec<_>>().join("\n");
        let s = ok(&good);
        assert!(s.reps.contains_key("Lovelace, Ada"));
        assert!(s.products.contains_key("Cable, USB-C 2m"));
        assert!(s.products.contains_key("Monitor 27\" 4K"));
        assert!(s.products.contains_key("Multi\nline\nname"));
        // A CRLF inside quotes is data; the one ending the record is not.
        let crlf = good.replace('\n', "\r\n") + "\r\n";
        let s = ok(&crlf);
        assert!(s.products.contains_key("Multi\r\nline\r\nname"));
        assert!(s.products.contains_key("Cable, USB-C 2m"));
    }

    #[test]
    fn quote_errors_are_located() {
        one(&file(&["2026-01-15,1,Bob,EMEA,TV 55\" set,1,1.00\n".into()]), 2, "product", "double");
        one(
            &file(&["2026-01-15,1,Bob,EMEA,\"TV\" set,1,1.00\n".into()]),
            2,
            "product",
            "after the closing quote",
        );
        // A quote-error row still counts as a row, and later rows keep their lines.
        let data = file(&[
            "2026-01-15,1,Bob,E,a\"b,1,1.00\n".into(),
            "2026-01-15,2,Bob,E,p,x,1.00\n".into(),
        ]);
        let ps = problems(data.as_bytes());
        assert_eq!(
            ps.iter().map(|p| (p.0, p.1.as_str())).collect::<Vec<_>>(),
            [(2, "product"), (3, "quantity")]
        );
    }

    #[test]
    fn unterminated_quote_at_eof_is_fatal() {
        let data = file(&[row("1"), "2026-01-15,2,Bob,EMEA,\"Widget,1,1.00\n".into(), row("3")]);
        one(&data, 3, "product", "closing quote is missing");
        let data = format!("{H}{}\"", row("1"));
        one(&data, 3, "date", "closing quote is missing");
    }

    #[test]
    fn reordered_and_extra_columns() {
        let data = "\
note,unit_price,quantity,product,region,sales_rep,order_id,date,channel
hello,2.50,4,Widget,EMEA,Ada,X1,2026-01-15,web
,1.00,1,Widget,EMEA,Ada,X2,2026-01-15,
";
        let s = ok(data);
        assert_eq!(s.extra_columns, ["note", "channel"]);
        assert_eq!((s.rows, s.units, s.revenue), (2, 5, Cents(1100)));
    }

    #[test]
    fn header_problems_are_fatal_and_complete() {
        let ps = problems(b"date,order_id,sales_rep,product,quantity\n2026-01-15,1,a,b,1\n");
        assert_eq!(ps.len(), 1);
        assert_eq!((ps[0].0, ps[0].1.as_str()), (1, "header"));
        assert!(ps[0].2.contains("missing required columns region, unit_price;"), "{}", ps[0].2);

        one(
            "Date,order_id,sales_rep,region,product,quantity,unit_price\n",
            1,
            "header",
            "date (found \"Date\": names must match exactly)",
        );
        let ps = problems(b"date,order_id,sales_rep,region,product,quantity,unit_price,region\n");
        assert_eq!(ps.len(), 1);
        assert!(ps[0].2.contains("\"region\" (columns 4 and 8)"), "{}", ps[0].2);
        // A CR-only file is one long header line.
        let cr = file(&[row("1")]).replace('\n', "\r");
        one(&cr, 1, "header", "lone CR");
        // Invalid UTF-8 in the header.
        let mut bad =
            b"date,order_id,sales_rep,region,product,quantity,unit_price,\xE9t\xE9\n".to_vec();
        bad.extend_from_slice(row("1").as_bytes());
        let ps = problems(&bad);
        assert_eq!((ps[0].0, ps[0].1.as_str()), (1, "header"));
        assert!(ps[0].2.contains("column 8"));
        // Fatal means feed says so at once.
        let mut v = Validator::new("t.csv", limits());
        assert!(v.feed(b"date,order_id\n").is_err());
        assert!(v.feed(b"more").is_err());
        assert!(v.finish().is_err());
    }

    #[test]
    fn empty_lines_are_skipped_everywhere() {
        let data = format!("\n\r\n{H}\n{}\r\n\n{}\n", row("1"), row("2"));
        let s = ok(&data);
        assert_eq!(s.rows, 2);
        // ... and lines are still counted: the duplicate is on physical line 7.
        let data = format!("\n{H}\n{}\n\n{}", row("1"), row("1"));
        one(&data, 7, "order_id", "already used on line 4");
    }

    #[test]
    fn file_level_problems() {
        one("", 1, "file", "empty (0 bytes)");
        one("\u{FEFF}", 1, "file", "no header line");
        one("\n\r\n\n", 1, "file", "no header line");
        one(H, 1, "file", "no sales rows");
        one(&format!("{H}\n\n"), 1, "file", "no sales rows");
        one(&format!("\n{H}"), 2, "file", "no sales rows");
        // NUL: fatal, at its physical line, even inside a record.
        let mut data = file(&[row("1"), row("2")]).into_bytes();
        data.extend_from_slice(b"2026-01-15,3,Bob\0,E,P,1,1.00\n");
        data.extend_from_slice(row("4").as_bytes());
        let ps = problems(&data);
        assert_eq!(ps, [(4, "file".to_string(), ps[0].2.clone())]);
        assert!(ps[0].2.contains("NUL"));
        let mut v = Validator::new("t.csv", limits());
        assert!(v.feed(H.as_bytes()).is_ok());
        assert!(v.feed(b"\x00\x01\x02").is_err());
    }

    #[test]
    fn record_length_limit() {
        let small = Limits { max_record_bytes: 60 };
        let long = format!("2026-01-15,1,{},EMEA,Widget,2,1.50\n", "A".repeat(30));
        assert!(long.len() - 1 > 60);
        let data = file(&[row("1"), long.clone(), row("2")]);
        let e = validate_slice("t.csv", data.as_bytes(), small).unwrap_err();
        assert_eq!(e.problems.len(), 1);
        assert_eq!((e.problems[0].line, e.problems[0].column.as_str()), (3, "row"));
        assert!(e.problems[0].reason.contains("longer than 60 bytes"));
        // Exactly at the limit is fine (the CR counts, the LF does not).
        let exact = format!("2026-01-15,{},Ada,EMEA,Widget,2,1.50", "9".repeat(60 - 34));
        assert_eq!(exact.len(), 60);
        assert!(validate_slice("t.csv", file(&[exact.clone() + "\n"]).as_bytes(), small).is_ok());
        let e = validate_slice("t.csv", file(&[exact + "\r\n"]).as_bytes(), small).unwrap_err();
        assert!(e.problems[0].reason.contains("longer than"));
        // A stream that never ends a line stops early: feed says so.
        let mut v = Validator::new("t.csv", Limits { max_record_bytes: 40 });
        assert!(v.feed(H.as_bytes()).is_err(), "the header itself is over 40 bytes");
        let mut v = Validator::new("t.csv", Limits { max_record_bytes: 100 });
        v.feed(H.as_bytes()).unwrap();
        v.feed(b"2026-01-15,\"").unwrap();
        let mut failed = false;
        for _ in 0..20 {
            if v.feed(b"xxxxxxxx\nxxxxx").is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed);
    }

    #[test]
    fn row_rules_each_located() {
        let cases: &[(&str, &str, &str)] = &[
            ("2026-01-15,1,Ada,EMEA,Widget,2", "row", "6 fields but the header has 7"),
            ("2026-01-15,1,Ada,EMEA,Widget,2,1.50,", "row", "8 fields"),
            ("   ", "row", "has 1 field but the header has 7"),
            (
                "2026-02-30,1,Ada,EMEA,Widget,2,1.50",
                "date",
                "\"2026-02-30\" is not a real calendar date",
            ),
            ("15/01/2026,1,Ada,EMEA,Widget,2,1.50", "date", "YYYY-MM-DD"),
            (
                "2026-01-16,1,Ada,EMEA,Widget,2,1.50",
                "date",
                "2026-01-16 differs from 2026-01-15, the date on line 2",
            ),
            (
                "2026-01-15,,Ada,EMEA,Widget,2,1.50",
                "order_id",
                "empty; every row needs an order id",
            ),
            ("2026-01-15, ,Ada,EMEA,Widget,2,1.50", "order_id", "only spaces"),
            ("2026-01-15,A,Ada,EMEA,Widget,2,1.50", "order_id", "\"A\" was already used on line 2"),
            ("2026-01-15,1,,EMEA,Widget,2,1.50", "sales_rep", "empty; every row needs a sales rep"),
            ("2026-01-15,1,\t,EMEA,Widget,2,1.50", "sales_rep", "only spaces"),
            ("2026-01-15,1,Ada,,Widget,2,1.50", "region", "every row needs a region"),
            ("2026-01-15,1,Ada,EMEA,,2,1.50", "product", "every row needs a product"),
            ("2026-01-15,1,Ada,EMEA,Widget,0,1.50", "quantity", "\"0\" is not a whole number ≥ 1"),
            (
                "2026-01-15,1,Ada,EMEA,Widget,-1,1.50",
                "quantity",
                "\"-1\" is not a whole number ≥ 1",
            ),
            ("2026-01-15,1,Ada,EMEA,Widget,2.0,1.50", "quantity", "not a whole number"),
            ("2026-01-15,1,Ada,EMEA,Widget, 2,1.50", "quantity", "not a whole number"),
            ("2026-01-15,1,Ada,EMEA,Widget,,1.50", "quantity", "empty"),
            ("2026-01-15,1,Ada,EMEA,Widget,1000000001,1.50", "quantity", "more than 1000000000"),
            ("2026-01-15,1,Ada,EMEA,Widget,99999999999999999999999,1", "quantity", "more than"),
            (
                "2026-01-15,1,Ada,EMEA,Widget,2,1.234",
                "unit_price",
                "more than 2 decimals in \"1.234\"",
            ),
            ("2026-01-15,1,Ada,EMEA,Widget,2,", "unit_price", "empty"),
            ("2026-01-15,1,Ada,EMEA,Widget,2,-1.00", "unit_price", "sign"),
            ("2026-01-15,1,Ada,EMEA,Widget,2,.5", "unit_price", "both sides"),
            ("2026-01-15,1,Ada,EMEA,Widget,2,\"1,50\"", "unit_price", "not a price"),
            (
                "2026-01-15,1,Ada,EMEA,Widget,1000000000,92233720368547758.07",
                "unit_price",
                "too large",
            ),
        ];
        for &(bad, column, needle) in cases {
            let data = format!("{H}2026-01-15,A,Ada,EMEA,Widget,1,1.00\n{bad}\n");
            one(&data, 3, column, needle);
        }
        // Quantity limit itself is fine; leading zeros too.
        ok(&format!("{H}2026-01-15,A,Ada,EMEA,Widget,1000000000,0.01\n2026-01-15,B,A,E,W,007,1\n"));
    }

    #[test]
    fn several_problems_in_one_row_are_all_reported() {
        let ps = problems(format!("{H}2026-13-01,,,EMEA,Widget,0,x\n").as_bytes());
        let cols: Vec<_> = ps.iter().map(|p| (p.0, p.1.as_str())).collect();
        assert_eq!(
            cols,
            [(2, "date"), (2, "order_id"), (2, "sales_rep"), (2, "quantity"), (2, "unit_price")]
        );
    }

    #[test]
    fn expected_date() {
        let d: SalesDate = "2026-01-15".parse().unwrap();
        let data = file(&[row("1"), row("2")]);
        let mut v = Validator::new("t.csv", limits()).with_expected_date(d);
        v.feed(data.as_bytes()).unwrap();
        assert_eq!(v.finish().unwrap().date, d);

        let other: SalesDate = "2026-01-16".parse().unwrap();
        let mut v = Validator::new("t.csv", limits()).with_expected_date(other);
        v.feed(data.as_bytes()).unwrap();
        let e = v.finish().unwrap_err();
        assert_eq!(e.total, 2);
        assert_eq!(e.problems[0].line, 2);
        assert_eq!(e.problems[0].column, "date");
        assert_eq!(
            e.problems[0].reason,
            "2026-01-15 is not the date given for this file (2026-01-16)"
        );
    }

    #[test]
    fn invalid_utf8_in_a_field_is_located() {
        let mut data = H.as_bytes().to_vec();
        data.extend_from_slice(row("1").as_bytes());
        data.extend_from_slice(b"2026-01-15,2,Jos\xE9,EMEA,Widget,2,1.50\n");
        data.extend_from_slice(b"date,order_id,sales_rep,region,product,quantity,unit_price\n");
        let ps = problems(&data);
        assert_eq!((ps[0].0, ps[0].1.as_str()), (3, "sales_rep"));
        assert!(ps[0].2.contains("byte 0xE9 at position 4"), "{}", ps[0].2);
        // A repeated header is just a bad row (wrong date etc.), located.
        assert_eq!(ps[1].0, 4);
        // In an extra column too.
        let mut data =
            b"date,order_id,sales_rep,region,product,quantity,unit_price,note\n".to_vec();
        data.extend_from_slice(b"2026-01-15,2,Jose,EMEA,Widget,2,1.50,caf\xE9\n");
        let ps = problems(&data);
        assert_eq!((ps[0].0, ps[0].1.as_str()), (2, "note"));
    }

    /// UTF-8 is checked once per chunk; past an invalid byte every record is checked on its
    /// own, so each bad one is still located and the good ones after it still count.
    #[test]
    fn utf8_is_checked_record_by_record_after_an_invalid_byte() {
        let mut data = H.as_bytes().to_vec();
        data.extend_from_slice("2026-01-15,1,José,EMEA,Widget,2,1.50\n".as_bytes());
        data.extend_from_slice(b"2026-01-15,2,Jos\xE9,EMEA,Widget,2,1.50\n");
        data.extend_from_slice("2026-01-15,3,Søren,EMEA,\"Cable, \"\"Ø\"\"\",1,1.00\n".as_bytes());
        data.extend_from_slice(b"2026-01-15,4,Ann,EMEA,Wid\xC3get,2,1.50\n");
        data.extend_from_slice("2026-01-15,5,Ann,EMÉA,Widget,1,2.00\n".as_bytes());
        let ps = problems(&data);
        let located: Vec<_> = ps.iter().map(|p| (p.0, p.1.as_str())).collect();
        assert_eq!(located, [(3, "sales_rep"), (5, "product")], "{ps:?}");
        // Without the two bad rows, the three good ones (non-ASCII, one quoted) are counted.
        let good: Vec<u8> = String::from_utf8_lossy(&data)
            .lines()
            .filter(|l| !l.contains('\u{FFFD}'))
            .flat_map(|l| format!("{l}\n").into_bytes())
            .collect();
        let day = validate_slice("t.csv", &good, Limits::default()).unwrap();
        assert_eq!((day.rows, day.reps.len(), day.regions.len()), (3, 3, 2));
    }

    #[test]
    fn twenty_problem_cap_and_display() {
        let rows: Vec<String> =
            (0..25).map(|i| format!("2026-01-15,{i},Ada,EMEA,Widget,0,1.00\n")).collect();
        let e = check(file(&rows).as_bytes()).unwrap_err();
        assert_eq!(e.problems.len(), 20);
        assert_eq!(e.total, 25);
        let text = e.to_string();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 21);
        assert_eq!(lines[0], "t.csv:2: quantity: \"0\" is not a whole number ≥ 1");
        assert_eq!(lines[19], "t.csv:21: quantity: \"0\" is not a whole number ≥ 1");
        assert_eq!(lines[20], "… and 5 more problems");
        let one_more = ValidationErrors { total: 21, ..e.clone() };
        assert!(one_more.to_string().ends_with("\n… and 1 more problem"));
        let few = ValidationErrors { problems: e.problems[..2].to_vec(), total: 2, ..e };
        assert_eq!(few.to_string().lines().count(), 2);
    }

    #[test]
    fn overflowing_totals_are_located() {
        let big = "92233720368547758.07";
        let data = file(&[
            format!("2026-01-15,1,Ada,E,W,1,{big}\n"),
            format!("2026-01-15,2,Ada,E,W,1,{big}\n"),
        ]);
        one(&data, 3, "unit_price", "total revenue goes beyond 92233720368547758.07");
    }

    #[test]
    fn hostile_values_are_shortened_in_messages() {
        let long = "x".repeat(3000);
        let data = file(&[format!("2026-01-15,1,Ada,E,W,{long},1.00\n")]);
        let ps = problems(data.as_bytes());
        assert!(ps[0].2.len() < 200, "{}", ps[0].2);
        // Control characters cannot forge output lines.
        let data = file(&["2026-01-15,1,Ada,E,W,\"1\nt.csv:1: fake\",1.00\n".into()]);
        let ps = problems(data.as_bytes());
        assert!(!ps[0].2.contains('\n'));
    }

    /// Duplicate ids in any order, of every shape, across chunks of the id store and with
    /// irregular lines, against a plain map.
    #[test]
    fn duplicates_match_a_plain_map() {
        let mut seed = 7;
        let shapes = |n: u64, r: u64| match r % 6 {
            0 => format!("ORD-{n:06}"),
            1 => format!("{n}"),
            2 => format!("P{}-{n}", n % 40), // more prefixes than slots
            3 => format!("x{}", n % 1000),
            4 => format!("long-id-without-digits-{}x", n % 5000),
            _ => format!("{:020}", n * 7919),
        };
        let mut data = H.to_string();
        let mut first: HashMap<String, u64> = HashMap::new();
        let mut want = Vec::new();
        let mut line = 1;
        for k in 0..150_000u64 {
            let r = rng(&mut seed);
            let id = shapes(if r.is_multiple_of(3) { r % 100_000 } else { k }, r >> 8);
            if r.is_multiple_of(97) {
                data.push('\n'); // an empty line
                line += 1;
            }
            line += 1;
            if r.is_multiple_of(89) {
                data.push_str(&format!("2026-01-15,{id},Ada,E,\"two\nlines\",1,1.00\n"));
                line += 1;
            } else {
                data.push_str(&format!("2026-01-15,{id},Ada,E,W,1,1.00\n"));
            }
            let at = line - u64::from(r.is_multiple_of(89));
            match first.get(&id) {
                Some(&f) => want.push((at, f, id)),
                None => {
                    first.insert(id, at);
                }
            }
        }
        assert!(want.len() > 100);
        let e = check(data.as_bytes()).unwrap_err();
        assert_eq!(e.total, want.len() as u64);
        let got: Vec<_> = e.problems.iter().map(|p| (p.line, p.reason.clone())).collect();
        let expected: Vec<_> = want
            .iter()
            .take(MAX_SHOWN_PROBLEMS)
            .map(|(l, f, id)| (*l, duplicate_reason(id, *f)))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn ids_in_order_cost_runs_and_a_late_duplicate_is_found() {
        let mut data = H.to_string();
        for n in 1..=3000 {
            if n == 1500 {
                data.push('\n'); // an empty line: a new run
            }
            data.push_str(&format!("2026-01-15,ORD-{n:06},Ada,E,W,1,1.00\n"));
        }
        let s = ok(&data);
        assert_eq!(s.rows, 3000);
        let mut ids = OrderIds::new();
        for n in 1..=3000u64 {
            ids.insert(format!("ORD-{n:06}").as_bytes(), n + 1).unwrap();
        }
        assert_eq!(ids.runs.as_ref().map(Vec::len), Some(1));
        assert!(ids.chunks.is_empty());
        // Gaps: short runs give way to one code each; still exact.
        let mut gappy = H.to_string();
        for n in 1..=3000 {
            gappy.push_str(&format!("2026-01-15,{},Ada,E,W,1,1.00\n", n * 2));
        }
        gappy.push_str("2026-01-15,3000,Ada,E,W,1,1.00\n");
        one(&gappy, 3002, "order_id", "\"3000\" was already used on line 1501");
        data.push_str("2026-01-15,ORD-002000,Ada,E,W,1,1.00\n");
        one(&data, 3003, "order_id", "\"ORD-002000\" was already used on line 2002");
    }

    #[test]
    fn id_codes_are_injective_and_decode() {
        let mut ids = OrderIds::new();
        let samples = [
            "1",
            "01",
            "001",
            "10",
            "A",
            "A1",
            "A01",
            "A-1",
            "abcdefg",
            "abcdefgh",
            "ORD-000001",
            "ORD-1",
            "12345678901234567890",
            "1234567890123456",
            "é1",
            "\u{e9}",
        ];
        let mut seen = HashMap::new();
        for s in samples {
            if let Some(code) = ids.encode(s.as_bytes()) {
                assert_eq!(ids.decode(code), s);
                assert!(seen.insert(code, s).is_none(), "{s} collides with {:?}", seen[&code]);
            }
        }
        // Numbers keep their order within a prefix, also across lengths.
        let a = ids.encode(b"ORD-999999").unwrap();
        let b = ids.encode(b"ORD-1000000").unwrap();
        assert!(a < b);
    }

    /// Feeds `data` cut at the given sizes (cycled), then finishes.
    fn chunked(
        data: &[u8],
        sizes: &[usize],
        limits: Limits,
    ) -> Result<DaySummary, ValidationErrors> {
        let mut v = Validator::new("t.csv", limits);
        let mut p = 0;
        let mut i = 0;
        while p < data.len() {
            let n = sizes[i % sizes.len()].max(1).min(data.len() - p);
            if let Err(e) = v.feed(&data[p..p + n]) {
                // Hopeless: the final answer must be the same error.
                assert_eq!(v.finish().unwrap_err(), e);
                return Err(e);
            }
            p += n;
            i += 1;
        }
        v.finish()
    }

    fn rng(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[test]
    fn chunk_boundaries_do_not_matter() {
        let mut generated = Vec::new();
        crate::generate::generate("2026-01-15".parse().unwrap(), 300, 9, &mut generated).unwrap();
        let mut inputs: Vec<Vec<u8>> = vec![
            format!("\u{FEFF}{}", file(&[row("1"), row("2")]).replace('\n', "\r\n")).into_bytes(),
            "\u{FEFF}date,order_id,sales_rep,region,product,quantity,unit_price\r\n\
             \"2026-01-15\",\"1\",\"Ada \"\"the\"\" first\",EMEA,\"a,\r\nb\",1,1.00\r\n\
             \r\n2026-01-15,2,José,Ré,\"\"\"\",2,0.5\n2026-01-15,3,José,Ré,x,2,0.5"
                .as_bytes()
                .to_vec(),
            generated,
        ];
        // Invalid files too: the problems must not depend on chunking either.
        let mut bad = file(&[row("1"), row("1"), "2026-01-15,2,Bob,E,a\"b,0,x\r\n".into()]);
        bad.push_str("2026-01-15,3,\"Bob\",\"E\"x,a,1,1\n2026-01-16,9,B,E,P,1,1\n");
        inputs.push(bad.into_bytes());
        inputs.push(format!("{}2026-01-15,9,B,E,\"P,1,1\n", file(&[row("1")])).into_bytes());
        let mut nul = file(&[row("1")]).into_bytes();
        nul.extend_from_slice(b"2026-01-15,\"3\n\0\",B,E,P,1,1\n");
        inputs.push(nul);
        inputs.push(
            file(&[row("1"), format!("2026-01-15,2,{},E,P,1,1\n", "A".repeat(300))]).into_bytes(),
        );
        inputs.push(
            file(&[row("1"), format!("2026-01-15,2,\"{}\n\",E,P,1,1\n", "A".repeat(300))])
                .into_bytes(),
        );
        inputs.push(b"\xEF\xBB".to_vec());
        inputs.push(b"\xEF\xBBx".to_vec());
        // Invalid UTF-8 amid non-ASCII rows: where the chunk-wide check stops must not matter.
        let mut utf8 = file(&[row("1")]).into_bytes();
        utf8.extend_from_slice("2026-01-15,2,José,Ré,Ø,1,1.00\n".as_bytes());
        utf8.extend_from_slice(
            b"2026-01-15,3,Jos\xE9,R,P,1,1.00\n2026-01-15,4,J,R\xF0\x9F,P,1,1\n",
        );
        utf8.extend_from_slice("2026-01-15,5,Zoë,Ré,\"Ø, \"\"x\"\"\",1,1.00\n".as_bytes());
        inputs.push(utf8);

        let limits = Limits { max_record_bytes: 160 };
        let mut seed = 42;
        for data in &inputs {
            let whole = validate_slice("t.csv", data, limits);
            assert_eq!(
                chunked(data, &[1], limits),
                whole,
                "byte by byte: {:?}",
                String::from_utf8_lossy(data)
            );
            for _ in 0..30 {
                let sizes: Vec<usize> =
                    (0..7).map(|_| (rng(&mut seed) % 97) as usize + 1).collect();
                assert_eq!(chunked(data, &sizes, limits), whole, "sizes {sizes:?}");
            }
        }
    }
}
