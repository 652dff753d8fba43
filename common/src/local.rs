//! Local files: a sales file opened once and read from that one descriptor (validated,
//! hashed and uploaded), and outputs written atomically.
//!
//! # A sales file is opened once
//! Whatever looks at a file by its path and then opens it by its path again can be given
//! two different files: between the two, whoever may write the directory (the spool's
//! `incoming/` is meant for uploaders) can swap the file for a FIFO (an open for reading
//! then waits for a writer, for ever), a symlink to a file outside the spool (which the
//! daemon would read with its own rights and upload), or a directory. So a sales file is
//! opened once, [`LocalFile::open`]:
//! - with `O_NOFOLLOW` where it is found in a directory others write (the spool): a symlink
//!   is refused by the kernel at the open itself, not by an earlier look;
//! - with `O_NONBLOCK`, so the open of a FIFO returns at once instead of waiting for a
//!   writer; `O_NOCTTY`, so a terminal device can never become the daemon's;
//! - then `fstat` of that descriptor: anything but a regular file is refused;
//! - and everything after (validation, the SHA-256, the bytes uploaded, a multipart upload's
//!   parts) reads that descriptor, by offset (`pread`), never the path again.
//!
//! `O_NONBLOCK` is left set: it only matters to the open. On a regular file Linux ignores
//! it for reads ("I/O operations will (briefly) block when device activity is required,
//! regardless of whether O_NONBLOCK is set", open(2)), so the reads are the usual ones;
//! clearing it would take an `fcntl` this crate cannot make without `unsafe`. A read that
//! would block all the same (a file system that honours the flag) is tried again after a
//! short pause, for a bounded time.

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::failure::{Error, Result};
use sales_domain::sales::{DaySummary, Limits, SalesDate, Validator};

const READ_CHUNK: usize = 1 << 20;

/// Whether [`LocalFile::open`] follows a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// A file named by the person running a command: their symlink is theirs to use.
    Follow,
    /// A file found in a directory others may write (the spool): a symlink is refused.
    Refuse,
}

/// Why a path was not opened as a sales file.
#[derive(Debug)]
pub enum Refusal {
    /// A symbolic link, where [`Links::Refuse`] asked for none.
    Link,
    /// Not a regular file: a FIFO, a directory, a socket, a device (named by [`kind_of`]).
    NotRegular(&'static str),
    /// The open or the `fstat` failed (no such file, permission denied, …).
    Io(std::io::Error),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Link => f.write_str("a symbolic link, not a regular file"),
            Refusal::NotRegular(kind) => write!(f, "{kind}, not a regular file"),
            Refusal::Io(e) => write!(f, "{e}"),
        }
    }
}

/// What kind of file `file_type` is, in words.
pub fn kind_of(file_type: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_char_device() || file_type.is_block_device() {
        "a device"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "an unknown kind of file"
    }
}

/// A regular file opened once for reading; cheap to clone (the clones share the one
/// descriptor, read by offset, so they never disturb each other).
#[derive(Debug, Clone)]
pub struct LocalFile {
    file: Arc<std::fs::File>,
    label: Arc<str>,
    meta: std::fs::Metadata,
}

impl LocalFile {
    /// Opens `path` once for reading (see the module's docs); `label` names it in every
    /// message about it.
    pub fn open(path: &Path, label: &str, links: Links) -> std::result::Result<LocalFile, Refusal> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
        if links == Links::Refuse {
            flags |= libc::O_NOFOLLOW;
        }
        let file =
            std::fs::OpenOptions::new().read(true).custom_flags(flags).open(path).map_err(|e| {
                match e.raw_os_error() {
                    // open(2): "O_NOFOLLOW … If the trailing component of pathname is a symbolic
                    // link, then the open fails, with the error ELOOP."
                    Some(libc::ELOOP) if links == Links::Refuse => Refusal::Link,
                    _ => Refusal::Io(e),
                }
            })?;
        let meta = file.metadata().map_err(Refusal::Io)?;
        if !meta.is_file() {
            return Err(Refusal::NotRegular(kind_of(meta.file_type())));
        }
        Ok(LocalFile { file: Arc::new(file), label: label.into(), meta })
    }

    /// [`LocalFile::open`] of a file named on the command line (a symlink followed), its
    /// refusal a local I/O failure (exit 74) that says what the path is.
    pub fn open_named(path: &Path, label: &str) -> Result<LocalFile> {
        LocalFile::open(path, label, Links::Follow).map_err(|refusal| match refusal {
            Refusal::Io(e) => Error::read_io(label, e),
            other => Error::read_io(label, std::io::Error::other(other.to_string())),
        })
    }

    /// How the file is named in messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The file's status, from its descriptor, when it was opened.
    pub fn metadata(&self) -> &std::fs::Metadata {
        &self.meta
    }

    /// The file's size when it was opened.
    pub fn len(&self) -> u64 {
        self.meta.len()
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads into `buf` from `offset`: the number of bytes read, 0 at the end of the file.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        let mut waited = Duration::ZERO;
        loop {
            match self.file.read_at(buf, offset) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock && waited < WOULD_BLOCK_FOR =>
                {
                    std::thread::sleep(WOULD_BLOCK_PAUSE);
                    waited += WOULD_BLOCK_PAUSE;
                }
                other => return other,
            }
        }
    }

    /// Up to `len` bytes from `offset` (fewer only at the end of the file).
    pub fn read_range(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        let mut filled = 0;
        while filled < len {
            let n = self.read_at(&mut buf[filled..], offset + filled as u64)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        buf.truncate(filled);
        Ok(buf)
    }
}

/// How long a read that would block is tried again (see the module's docs), and how often.
const WOULD_BLOCK_FOR: Duration = Duration::from_secs(30);
const WOULD_BLOCK_PAUSE: Duration = Duration::from_millis(10);

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
    file: &LocalFile,
    expected_date: Option<SalesDate>,
    limits: Limits,
    progress: &mut dyn FnMut(u64),
) -> Result<DaySummary> {
    let label = file.label();
    let mut validator = Validator::new(label, limits);
    if let Some(date) = expected_date {
        validator = validator.with_expected_date(date);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        let mut chunks = Chunks::of(file);
        while let Some(chunk) = chunks.next_chunk().map_err(|e| Error::read_io(label, e))? {
            progress(chunk.len() as u64);
            validator.feed(&chunk)?;
        }
        return Ok(validator.finish()?);
    }

    let (chunks, received) = std::sync::mpsc::sync_channel(READ_AHEAD);
    let reader = std::thread::Builder::new()
        .name("read-sha256".into())
        .spawn({
            let file = file.clone();
            move || read_and_hash(&file, chunks)
        })
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

/// A file's bytes in chunks of [`READ_CHUNK`], from its start, by offset.
struct Chunks<'a> {
    file: &'a LocalFile,
    offset: u64,
}

impl<'a> Chunks<'a> {
    fn of(file: &'a LocalFile) -> Chunks<'a> {
        Chunks { file, offset: 0 }
    }

    /// The next chunk, `None` at the end of the file.
    fn next_chunk(&mut self) -> std::io::Result<Option<Bytes>> {
        let chunk = self.file.read_range(self.offset, READ_CHUNK)?;
        if chunk.is_empty() {
            return Ok(None);
        }
        self.offset += chunk.len() as u64;
        Ok(Some(Bytes::from(chunk)))
    }
}

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
    file: &LocalFile,
    chunks: std::sync::mpsc::SyncSender<Bytes>,
) -> std::io::Result<[u8; 32]> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut reading = Chunks::of(file);
    while let Some(chunk) = reading.next_chunk()? {
        hasher.update(&chunk);
        if chunks.send(chunk).is_err() {
            break; // the parser stopped: its error is the one to report
        }
    }
    Ok(hasher.finalize().into())
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
            let file = LocalFile::open(&path, name, Links::Refuse).unwrap();
            let from_file = validate_file(&file, Some(date), limits, &mut |n| seen += n);
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

    /// A symlink is refused where links are (followed where the person named it), a FIFO
    /// is refused at once (no writer is waited for), a directory is refused; a regular file
    /// is read by offset from its one descriptor.
    #[test]
    fn only_regular_files_are_opened_and_nothing_waits() {
        let dir = std::env::temp_dir().join(format!("local-open-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let regular = dir.join("day.csv");
        std::fs::write(&regular, b"0123456789").unwrap();
        let link = dir.join("link.csv");
        std::os::unix::fs::symlink(&regular, &link).unwrap();
        let fifo = dir.join("fifo.csv");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());

        let file = LocalFile::open(&regular, "day.csv", Links::Refuse).unwrap();
        assert_eq!((file.len(), file.label()), (10, "day.csv"));
        assert_eq!(file.read_range(3, 4).unwrap(), b"3456");
        assert_eq!(file.read_range(8, 100).unwrap(), b"89", "fewer only at the end");
        assert!(matches!(LocalFile::open(&link, "l", Links::Refuse), Err(Refusal::Link)));
        assert_eq!(LocalFile::open(&link, "l", Links::Follow).unwrap().len(), 10);
        for (path, kind) in [(&fifo, "a FIFO"), (&dir, "a directory")] {
            for links in [Links::Refuse, Links::Follow] {
                match LocalFile::open(path, "x", links) {
                    Err(Refusal::NotRegular(k)) => assert_eq!(k, kind),
                    other => panic!("{}: {other:?}", path.display()),
                }
            }
        }
        let err = LocalFile::open_named(&fifo, "fifo.csv").unwrap_err();
        assert_eq!(err.exit_code(), 74, "{err}");
        assert!(err.to_string().contains("a FIFO, not a regular file"), "{err}");
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
