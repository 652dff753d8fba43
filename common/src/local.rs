//! Local files: validating a sales file from disk and writing outputs atomically.

use std::io::{Read, Write};
use std::path::Path;

use crate::error::{Error, Result};
use crate::sales::{DaySummary, Limits, SalesDate, Validator};

/// A physical CSV record longer than this cannot be a sales row (a real row is ~100 bytes);
/// the limit keeps a hostile file from growing the validator's carry-over buffer.
pub const MAX_RECORD_BYTES: usize = 64 << 10;

/// The validator's limits, the same for salesapp and reportsengine so that what one
/// accepts the other does too.
pub fn limits() -> Limits {
    Limits { max_record_bytes: MAX_RECORD_BYTES }
}

const READ_CHUNK: usize = 1 << 20;

/// Reads the whole file once through the streaming validator: memory is bounded by the
/// validator's state, not the file's size. `progress` is told each chunk's length.
pub fn validate_file(
    path: &Path,
    label: &str,
    expected_date: Option<SalesDate>,
    progress: &mut dyn FnMut(u64),
) -> Result<DaySummary> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(label, e))?;
    let mut validator = Validator::new(label, limits());
    if let Some(date) = expected_date {
        validator = validator.with_expected_date(date);
    }
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(label, e)),
        };
        progress(n as u64);
        validator.feed(&buf[..n])?;
    }
    Ok(validator.finish()?)
}

/// Writes `body` to a temporary file beside `path`, syncs it and renames it into place, so
/// nobody ever sees half a file.
pub fn write_atomically(path: &Path, body: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!(
        "{}.partial",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(body)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| Error::io(path.display(), e))
}
