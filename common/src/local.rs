//! Local files: validating a sales file from disk and writing outputs atomically.

use std::io::{Read, Write};
use std::path::Path;

use bytes::Bytes;

use crate::failure::{Error, Result};
use sales_domain::sales::{DaySummary, Limits, SalesDate, Validator};

const READ_CHUNK: usize = 1 << 20;

/// Reads the whole file once through the streaming validator, under `limits`: memory is
/// bounded by the validator's state (itself bounded by the limits), not the file's size.
/// `progress` is told each chunk's length.
///
/// The SHA-256 is a third of the work and cannot be made faster on one core (see
/// `sales::Hashing`), so when the machine has a second core the file is read and hashed
/// there, by a helper thread that hands the chunks over, while this thread only parses:
/// the wall time becomes the larger of the two instead of their sum. On one core (the
/// lab's t2.micro) it is all done here, which costs the same CPU without a thread.
pub fn validate_file(
    path: &Path,
    label: &str,
    expected_date: Option<SalesDate>,
    limits: Limits,
    progress: &mut dyn FnMut(u64),
) -> Result<DaySummary> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::read_io(label, e))?;
    let mut validator = Validator::new(label, limits);
    if let Some(date) = expected_date {
        validator = validator.with_expected_date(date);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        let mut buf = vec![0u8; READ_CHUNK];
        while let Some(n) = read_chunk(&mut file, &mut buf).map_err(|e| Error::read_io(label, e))? {
            progress(n as u64);
            validator.feed(&buf[..n])?;
        }
        return Ok(validator.finish()?);
    }

    let (chunks, received) = std::sync::mpsc::sync_channel(READ_AHEAD);
    let reader = std::thread::Builder::new()
        .name("read-sha256".into())
        .spawn(move || read_and_hash(file, chunks))
        .map_err(|e| Error::read_io(label, e))?;
    let validator = validator.hash_elsewhere();
    let parsed = parse_chunks(validator, received, progress);
    // Dropping the receiver (inside `parse_chunks`) stops the reader early on an error.
    let sha256 = reader
        .join()
        .map_err(|_| Error::read_io(label, std::io::Error::other("the reading thread panicked")))?
        .map_err(|e| Error::read_io(label, e))?;
    Ok(parsed?.finish_with_sha256(sha256)?)
}

/// Chunks read ahead of the parser at most (bounds the memory the reader can hold).
const READ_AHEAD: usize = 4;

/// Feeds the chunks the reader sends to the validator, until the file ends (or the reader
/// stopped on an error, which it reports itself).
fn parse_chunks(
    mut validator: Validator,
    received: std::sync::mpsc::Receiver<Bytes>,
    progress: &mut dyn FnMut(u64),
) -> Result<Validator> {
    for chunk in received {
        progress(chunk.len() as u64);
        validator.feed(&chunk)?;
    }
    Ok(validator)
}

/// The reader thread: reads the file in chunks, hashes each and sends it on. Stops when
/// the parser hangs up; returns the SHA-256 of the whole file.
fn read_and_hash(
    mut file: std::fs::File,
    chunks: std::sync::mpsc::SyncSender<Bytes>,
) -> std::io::Result<[u8; 32]> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    loop {
        let mut buf = vec![0u8; READ_CHUNK];
        let Some(n) = read_chunk(&mut file, &mut buf)? else { break };
        buf.truncate(n);
        hasher.update(&buf);
        if chunks.send(Bytes::from(buf)).is_err() {
            break; // the parser stopped: its error is the one to report
        }
    }
    Ok(hasher.finalize().into())
}

/// The next chunk into `buf`: `Some(length)`, or `None` at the end of the file.
fn read_chunk(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
    loop {
        match file.read(buf) {
            Ok(0) => return Ok(None),
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
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

/// [`write_atomically`] with an explicit mode (e.g. [`PRIVATE_FILE_MODE`]), masked by the
/// umask like any file's.
pub fn write_atomically_mode(path: &Path, body: &[u8], mode: u32) -> Result<()> {
    write_through_temporary(path, body, mode, false)
}

/// [`write_atomically`] with exactly `mode`, whatever the umask: for a file another user's
/// program must read (node_exporter's textfile), written by a daemon whose umask is 0077.
pub fn write_atomically_exact(path: &Path, body: &[u8], mode: u32) -> Result<()> {
    write_through_temporary(path, body, mode, true)
}

fn write_through_temporary(path: &Path, body: &[u8], mode: u32, exact: bool) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_extension(format!(
        "{}.partial",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    let write = || -> std::io::Result<()> {
        let mut file = create_new_file(&tmp, mode)?;
        if exact {
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        file.write_all(body)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| Error::write_io(path.display(), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// The file read and hashed on a helper thread gives exactly what one pass over the
    /// bytes gives (digest included), and a bad file the same located problems.
    #[test]
    fn validate_file_matches_a_single_pass() {
        use sales_domain::sales::{validate_slice, SalesDate};
        let dir = std::env::temp_dir().join(format!("local-validate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let date: SalesDate = "2026-01-15".parse().unwrap();
        let mut good = Vec::new();
        sales_domain::generate::generate(date, 40_000, 3, &mut good).unwrap(); // several chunks
        assert!(good.len() > 3 * READ_CHUNK);
        let mut bad = good.clone();
        bad.extend_from_slice(b"2026-01-15,X,Ann,EMEA,Widget,0,1.00\n");
        for (name, data) in [("good.csv", &good), ("bad.csv", &bad)] {
            let path = dir.join(name);
            std::fs::write(&path, data).unwrap();
            let mut seen = 0;
            let limits = Limits::default();
            let from_file = validate_file(&path, name, Some(date), limits, &mut |n| seen += n);
            assert_eq!(seen, data.len() as u64);
            let one_pass = validate_slice(name, data, Limits::default());
            match (from_file, one_pass) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Err(a), Err(b)) => assert_eq!(a.validation(), Some(&b)),
                (a, b) => panic!("{name}: {:?} vs {:?}", a.map(|d| d.rows), b.map(|d| d.rows)),
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
