//! The spool directory: its three folders, how a file in `incoming/` is judged complete,
//! how it is opened (once, a regular file only: `common::local`), and the moves, which
//! never overwrite and never lose a file.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use common::failure::{Error, Kind, Operation, Result};
use common::local::{Links, LocalFile, Refusal};
use common::metrics::SpoolFiles;

/// The three directories under `spool_dir`.
#[derive(Debug, Clone)]
pub struct Spool {
    pub incoming: PathBuf,
    pub done: PathBuf,
    pub failed: PathBuf,
}

impl Spool {
    /// Creates the directories that are missing, mode 0750 (the daemon's user writes, its
    /// group may look). Existing directories keep their mode: an operator may have opened
    /// `incoming/` to an uploaders' group on purpose.
    pub fn open(root: &Path) -> Result<Spool> {
        let spool = Spool {
            incoming: root.join("incoming"),
            done: root.join("done"),
            failed: root.join("failed"),
        };
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true).mode(0o750);
        for dir in [&spool.incoming, &spool.done, &spool.failed] {
            builder.create(dir).map_err(|e| Error::write_io(dir.display(), e))?;
        }
        Ok(spool)
    }

    /// Opens `name` in `incoming/`, a file the scanner found settled as `print`: once, not
    /// following a symlink, not waiting on a FIFO, a regular file only, and the very file
    /// that settled (same inode, size and mtime by its descriptor).
    pub(super) fn open_settled(&self, name: &OsStr, print: Fingerprint) -> Opened {
        let label = name.to_string_lossy();
        match LocalFile::open(&self.incoming.join(name), &label, Links::Refuse) {
            Ok(file) if Fingerprint::of(file.metadata()) == print => Opened::File(file),
            Ok(_) => Opened::Changed,
            Err(Refusal::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Opened::Changed,
            Err(Refusal::Io(e)) => Opened::Unreadable(Error::read_io(&label, e)),
            Err(refusal) => Opened::Refused(refusal.to_string()),
        }
    }

    /// The sales files in each directory now, and how long the oldest in `incoming/` has
    /// waited (by its mtime), for the metrics. A directory that cannot be read counts none.
    pub fn files(&self) -> SpoolFiles {
        let now = SystemTime::now();
        let mut files = SpoolFiles::default();
        for meta in sales_files(&self.incoming) {
            files.incoming += 1;
            let age = meta.modified().ok().and_then(|m| now.duration_since(m).ok());
            files.oldest_incoming = files.oldest_incoming.max(Some(age.unwrap_or_default()));
        }
        files.done = sales_files(&self.done).count() as u64;
        files.failed = sales_files(&self.failed).count() as u64;
        files
    }
}

/// The regular files named like sales files (`*.csv`, not work in progress) in `dir`.
fn sales_files(dir: &Path) -> impl Iterator<Item = std::fs::Metadata> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| classify_name(&entry.file_name()) == NameKind::Candidate)
        .filter_map(|entry| std::fs::symlink_metadata(entry.path()).ok())
        .filter(std::fs::Metadata::is_file)
}

/// What opening a settled file gave.
pub(super) enum Opened {
    /// The file, open for reading.
    File(LocalFile),
    /// Not a regular file (a symlink, a FIFO, a directory…), said in words: left alone.
    Refused(String),
    /// Replaced or removed since the scan: looked at again from its first scan.
    Changed,
    /// A regular file that cannot be read (permission denied…): a local I/O failure.
    Unreadable(Error),
}

/// A file's identity as far as "is it still being written?" goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fingerprint {
    pub(super) size: u64,
    mtime: SystemTime,
    ino: u64,
}

impl Fingerprint {
    pub(super) fn of(meta: &std::fs::Metadata) -> Fingerprint {
        Fingerprint {
            size: meta.len(),
            mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            ino: meta.ino(),
        }
    }

    pub(super) fn now_of(path: &Path) -> Option<Fingerprint> {
        std::fs::symlink_metadata(path).ok().filter(|m| m.is_file()).map(|m| Fingerprint::of(&m))
    }
}

/// What the scanner knows of one candidate in `incoming/`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Seen {
    print: Fingerprint,
    /// When we first saw it with this fingerprint.
    since: Instant,
    /// Consecutive scans that saw this fingerprint.
    scans: u32,
}

impl Seen {
    /// Complete = unchanged across two scans and for `settle` (by its mtime or by our clock:
    /// the mtime lets a restart take an old file at once, our clock copes with a future mtime).
    pub(super) fn settled(&self, settle: Duration, now: SystemTime) -> bool {
        let quiet_by_mtime = now.duration_since(self.print.mtime).is_ok_and(|age| age >= settle);
        self.scans >= 2 && (quiet_by_mtime || self.since.elapsed() >= settle)
    }
}

/// How a name in `incoming/` is treated.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum NameKind {
    /// `*.csv`: a sales file.
    Candidate,
    /// Dotfiles, `*.partial`, `*.tmp`: work in progress by a writer; silently ignored.
    InProgress,
    /// Anything else: left alone, with one warning.
    Foreign,
}

pub(super) fn classify_name(name: &OsStr) -> NameKind {
    let bytes = name.as_encoded_bytes();
    if bytes.starts_with(b".") || bytes.ends_with(b".partial") || bytes.ends_with(b".tmp") {
        NameKind::InProgress
    } else if bytes.len() > 4 && bytes.ends_with(b".csv") {
        NameKind::Candidate
    } else {
        NameKind::Foreign
    }
}

/// `NAME.csv` for n = 0, else `NAME.n.csv` (the extension kept last, so tools still know it).
pub(super) fn suffixed(name: &OsStr, n: u32) -> OsString {
    if n == 0 {
        return name.to_os_string();
    }
    let text = name.to_string_lossy();
    match text.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => OsString::from(format!("{stem}.{n}.{ext}")),
        _ => OsString::from(format!("{text}.{n}")),
    }
}

/// The first `dir/suffixed(name, n)` that does not exist.
pub(super) fn free_name(dir: &Path, name: &OsStr) -> Result<PathBuf> {
    for n in 0..10_000 {
        let dest = dir.join(suffixed(name, n));
        match std::fs::symlink_metadata(&dest) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(dest),
            Err(e) => return Err(Error::read_io(dest.display(), e)),
            Ok(_) => continue,
        }
    }
    Err(Error::write_io(
        dir.display(),
        std::io::Error::other(format!("no free name for {}", name.to_string_lossy())),
    ))
}

/// Moves `src` into `dir` under a name not yet taken there; returns the new path. A
/// failure is the spool's, not the file's ([`unmovable`]).
pub(super) fn move_into(src: &Path, dir: &Path, name: &OsStr) -> Result<PathBuf> {
    let dest = free_name(dir, name).map_err(|e| unmovable(name, dir, &e))?;
    std::fs::rename(src, &dest).map_err(|e| unmovable(name, dir, &e))?;
    Ok(dest)
}

/// Moves `src` to `failed/` with `NAME.error.txt` beside it, `reason` given the file's new
/// path; returns that path and the note's. The reason is written first: a crash in between
/// leaves the file in `incoming/` (it fails again on restart and reuses the name, since a
/// name counts as taken only when the sales file itself is there).
pub(super) fn move_to_failed(
    spool: &Spool,
    src: &Path,
    name: &OsStr,
    reason: impl FnOnce(&Path) -> String,
) -> Result<(PathBuf, PathBuf)> {
    let dir = &spool.failed;
    let dest = free_name(dir, name).map_err(|e| unmovable(name, dir, &e))?;
    let mut note = dest.clone().into_os_string();
    note.push(".error.txt");
    let note = PathBuf::from(note);
    common::local::write_atomically(&note, reason(&dest).as_bytes())
        .map_err(|e| unmovable(name, dir, &e))?;
    std::fs::rename(src, &dest).map_err(|e| unmovable(name, dir, &e))?;
    Ok((dest, note))
}

/// A file that cannot be moved out of `incoming/` into `dir`: not the file's fault but the
/// spool's (a directory the daemon's user cannot write, a full disk), which an operator
/// must fix, so it holds the spool (docs/design.md, What happens to a failure) rather than
/// sending the file anywhere.
fn unmovable(name: &OsStr, dir: &Path, cause: &dyn std::fmt::Display) -> Error {
    Error::new(
        Kind::Config,
        Operation::WriteFile,
        dir.display().to_string(),
        format!(
            "cannot move {} into {}: {cause}; the daemon's user must be able to write the \
             spool's directories (salesapp.spool_dir)",
            name.to_string_lossy(),
            dir.display()
        ),
    )
}

/// `incoming/` cannot be read (removed, or its permissions changed): the spool is held
/// until it can, as for a directory that cannot be written.
fn unreadable_incoming(incoming: &Path, cause: &std::io::Error) -> Error {
    Error::new(
        Kind::Config,
        Operation::ReadFile,
        incoming.display().to_string(),
        format!(
            "cannot read the spool's {}: {cause}; it must exist and the daemon's user must be \
             able to read and write it (salesapp.spool_dir)",
            incoming.display()
        ),
    )
}

/// What the scanner remembers between looks at `incoming/`.
#[derive(Debug, Default)]
pub(super) struct Scanner {
    seen: BTreeMap<OsString, Seen>,
    /// Names already warned about (foreign, not a regular file), so each is said once.
    warned: BTreeSet<OsString>,
}

impl Scanner {
    /// Forgets what it knew of `name` (taken, or changed under us).
    pub(super) fn forget(&mut self, name: &OsStr) {
        self.seen.remove(name);
    }

    /// True while `name` was in `incoming/` at the last look.
    pub(super) fn knows(&self, name: &OsStr) -> bool {
        self.seen.contains_key(name)
    }

    /// `name` is not a sales file the daemon will take (`why`): left where it is, said
    /// once, and looked at again only once it is gone.
    pub(super) fn ignore(&mut self, name: &OsStr, why: &str) {
        self.seen.remove(name);
        if self.warned.insert(name.to_os_string()) {
            tracing::warn!(file = %name.to_string_lossy(), "ignored: {why}; it stays in incoming/");
        }
    }

    /// One look at `incoming/`: updates `seen` and returns the settled candidates, by name;
    /// an `incoming/` that cannot be read is a failure that holds the spool.
    pub(super) fn scan(
        &mut self,
        incoming: &Path,
        settle: Duration,
    ) -> Result<Vec<(OsString, Fingerprint)>> {
        let entries = std::fs::read_dir(incoming).map_err(|e| unreadable_incoming(incoming, &e))?;
        let (seen, warned) = (&mut self.seen, &mut self.warned);
        let mut present = BTreeSet::new();
        let mut names = BTreeSet::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            names.insert(name.clone());
            match classify_name(&name) {
                NameKind::InProgress => continue,
                NameKind::Foreign => {
                    if warned.insert(name.clone()) {
                        tracing::warn!(file = %name.to_string_lossy(), "ignored: not a *.csv file");
                    }
                    continue;
                }
                NameKind::Candidate => {}
            }
            // symlink_metadata: a symlink (or directory) named *.csv is not a sales file, and
            // following links would let the spool reach files outside it. This look only
            // decides what to wait for: the open (`Spool::open_settled`) checks again, on
            // the descriptor it reads.
            let meta = match std::fs::symlink_metadata(entry.path()) {
                Ok(meta) if meta.is_file() => meta,
                Ok(meta) => {
                    if warned.insert(name.clone()) {
                        let kind = common::local::kind_of(meta.file_type());
                        tracing::warn!(file = %name.to_string_lossy(), "ignored: {kind}, not a regular file; it stays in incoming/");
                    }
                    continue;
                }
                Err(_) => continue,
            };
            let print = Fingerprint::of(&meta);
            present.insert(name.clone());
            seen.entry(name)
                .and_modify(|s| {
                    if s.print == print {
                        s.scans = s.scans.saturating_add(1);
                    } else {
                        *s = Seen { print, since: Instant::now(), scans: 1 };
                    }
                })
                .or_insert(Seen { print, since: Instant::now(), scans: 1 });
        }
        seen.retain(|name, _| present.contains(name));
        warned.retain(|name| names.contains(name));
        let now = SystemTime::now();
        Ok(seen
            .iter()
            .filter(|(_, s)| s.settled(settle, now))
            .map(|(n, s)| (n.clone(), s.print))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(classify_name(OsStr::new("2026-01-15.csv")), NameKind::Candidate);
        assert_eq!(classify_name(OsStr::new(".2026-01-15.csv")), NameKind::InProgress);
        assert_eq!(classify_name(OsStr::new("x.csv.partial")), NameKind::InProgress);
        assert_eq!(classify_name(OsStr::new("x.csv.tmp")), NameKind::InProgress);
        assert_eq!(classify_name(OsStr::new(".csv")), NameKind::InProgress);
        assert_eq!(classify_name(OsStr::new("x.txt")), NameKind::Foreign);
        assert_eq!(classify_name(OsStr::new("x.CSV")), NameKind::Foreign);
    }

    #[test]
    fn suffixes_keep_the_extension() {
        assert_eq!(suffixed(OsStr::new("day.csv"), 0), "day.csv");
        assert_eq!(suffixed(OsStr::new("day.csv"), 2), "day.2.csv");
        assert_eq!(suffixed(OsStr::new("a.b.csv"), 1), "a.b.1.csv");
    }

    #[test]
    fn settling_needs_two_scans_and_quiet_time() {
        let old = SystemTime::now() - Duration::from_secs(60);
        let print = Fingerprint { size: 1, mtime: old, ino: 1 };
        let now = SystemTime::now();
        let settle = Duration::from_secs(5);
        let once = Seen { print, since: Instant::now(), scans: 1 };
        assert!(!once.settled(settle, now), "one scan is never enough");
        let twice = Seen { scans: 2, ..once };
        assert!(twice.settled(settle, now), "old mtime: taken at the second scan");
        let fresh = Seen { print: Fingerprint { mtime: now, ..print }, ..twice };
        assert!(!fresh.settled(settle, now), "just written: wait for settle_time");
        let future = Seen { print: Fingerprint { mtime: now + settle * 10, ..print }, ..twice };
        assert!(!future.settled(settle, now), "a future mtime waits on our own clock");
    }

    #[test]
    fn moves_never_overwrite() {
        let dir = std::env::temp_dir().join(format!("watch-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spool = Spool::open(&dir).unwrap();
        let mode = std::fs::metadata(&spool.done).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o750);
        for (i, body) in ["one", "two", "three"].iter().enumerate() {
            let src = spool.incoming.join("day.csv");
            std::fs::write(&src, body).unwrap();
            let dest = if i < 2 {
                move_into(&src, &spool.done, OsStr::new("day.csv")).unwrap()
            } else {
                move_to_failed(&spool, &src, OsStr::new("day.csv"), |_| "bad".into()).unwrap().0
            };
            assert_eq!(std::fs::read_to_string(&dest).unwrap(), *body);
            assert!(!src.exists());
        }
        assert_eq!(std::fs::read_to_string(spool.done.join("day.csv")).unwrap(), "one");
        assert_eq!(std::fs::read_to_string(spool.done.join("day.1.csv")).unwrap(), "two");
        assert_eq!(std::fs::read_to_string(spool.failed.join("day.csv.error.txt")).unwrap(), "bad");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_spool_s_files_are_counted_as_sales_files() {
        let dir = std::env::temp_dir().join(format!("watch-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spool = Spool::open(&dir).unwrap();
        assert_eq!(spool.files(), SpoolFiles::default());
        let old = std::fs::File::create(spool.incoming.join("old.csv")).unwrap();
        old.set_modified(SystemTime::now() - Duration::from_secs(120)).unwrap();
        for name in ["new.csv", ".hidden.csv", "next.csv.partial", "notes.txt"] {
            std::fs::write(spool.incoming.join(name), "x").unwrap();
        }
        std::fs::create_dir(spool.incoming.join("dir.csv")).unwrap();
        std::fs::write(spool.done.join("a.csv"), "x").unwrap();
        std::fs::write(spool.done.join("a.1.csv"), "x").unwrap();
        std::fs::write(spool.failed.join("b.csv"), "x").unwrap();
        std::fs::write(spool.failed.join("b.csv.error.txt"), "why").unwrap();
        let files = spool.files();
        assert_eq!((files.incoming, files.done, files.failed), (2, 2, 1));
        let oldest = files.oldest_incoming.unwrap();
        assert!(
            oldest >= Duration::from_secs(119) && oldest < Duration::from_secs(200),
            "{oldest:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
