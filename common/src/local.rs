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

/// Mode of the data files the binaries write (sales files, reports, error notes): owner
/// read/write, group read, nothing for others — reports and sales files carry per-rep pay.
/// Given at creation, so a lax umask (`0`) cannot make them world-readable or -writable; a
/// stricter umask still applies.
pub const DATA_FILE_MODE: u32 = 0o640;
/// Mode of files that can hold secrets or configuration (`configure -o`): owner only.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// Creates `path` for writing with `mode` (masked by the umask), refusing to follow or reuse
/// whatever is already there: a stale file (a crash's leftover temporary) is removed first,
/// then the file is created with `O_EXCL`, so a planted symlink cannot redirect the write
/// and an old file's wider mode cannot survive.
pub fn create_new_file(path: &Path, mode: u32) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path)
}

/// Writes `body` to a temporary file beside `path`, syncs it and renames it into place, so
/// nobody ever sees half a file. The file gets [`DATA_FILE_MODE`].
pub fn write_atomically(path: &Path, body: &[u8]) -> Result<()> {
    write_atomically_mode(path, body, DATA_FILE_MODE)
}

/// [`write_atomically`] with an explicit mode (e.g. [`PRIVATE_FILE_MODE`]).
pub fn write_atomically_mode(path: &Path, body: &[u8], mode: u32) -> Result<()> {
    let tmp = path.with_extension(format!(
        "{}.partial",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    let write = || -> std::io::Result<()> {
        let mut file = create_new_file(&tmp, mode)?;
        file.write_all(body)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| Error::io(path.display(), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn written_files_get_their_mode_and_replace_stale_temporaries() {
        let dir = std::env::temp_dir().join(format!("local-modes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("report.csv");
        // A stale, world-writable temporary from a crash must not keep its mode.
        let stale = dir.join("report.csv.partial");
        std::fs::write(&stale, b"old").unwrap();
        std::fs::set_permissions(&stale, std::fs::Permissions::from_mode(0o666)).unwrap();
        write_atomically(&path, b"a,b\n").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !DATA_FILE_MODE, 0, "{mode:o}");
        assert_eq!(std::fs::read(&path).unwrap(), b"a,b\n");
        assert!(!stale.exists());
        let secret = dir.join("config.toml");
        write_atomically_mode(&secret, b"x", PRIVATE_FILE_MODE).unwrap();
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !PRIVATE_FILE_MODE, 0, "{mode:o}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
