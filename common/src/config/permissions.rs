//! Who may have written the configuration file. Whoever can write it chooses the endpoints
//! the daemons send sales data to, the bucket and the queue, so, as ssh does with its own
//! files, a file that others may change is refused (exit 78) rather than trusted: one
//! writable by its group or by everyone, or owned by another user than root or the one
//! running the command. The install gives it to `root:vpce-lab` with mode 0640
//! (docs/configuration.md, Where it is read from).

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::failure::{Error, Result};

/// Refuses the file at `path` (whose `metadata` was read from the open file, so what was
/// checked is what is read) when anyone but root and `running_as` may change it.
/// `running_as` is `None` where the running user cannot be told: then only the mode is
/// checked.
pub(super) fn check(path: &Path, metadata: &Metadata, running_as: Option<u32>) -> Result<()> {
    judge(path, metadata.mode(), metadata.uid(), running_as)
}

/// The judgement itself, on the mode bits and the owner (pure).
fn judge(path: &Path, mode: u32, owner: u32, running_as: Option<u32>) -> Result<()> {
    let shown = path.display();
    if mode & 0o022 != 0 {
        let who = if mode & 0o002 != 0 { "everyone" } else { "its group" };
        return Err(Error::config(format!(
            "{shown} may be changed by {who} (mode {:04o}): whoever can write it chooses where \
             the daemons send data, so it is not read",
            mode & 0o7777
        ))
        .hint(format!("Run `chmod go-w {shown}` (the install makes it root:vpce-lab 0640).")));
    }
    if owner != 0 && running_as.is_some_and(|me| me != owner) {
        return Err(Error::config(format!(
            "{shown} is owned by uid {owner}, neither root nor the user running this command: \
             that user could change where the daemons send data, so it is not read"
        ))
        .hint(format!("Run `chown root {shown}` (the install makes it root:vpce-lab 0640).")));
    }
    Ok(())
}

/// The effective user id of this process, from `/proc/self/status` (its `Uid:` line: real,
/// effective, saved, file system). Read there rather than through `geteuid(2)`, which the
/// standard library does not offer without `unsafe`.
pub(super) fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_root_and_the_running_user_may_write_the_file() {
        let path = Path::new("/etc/vpce-lab/config.toml");
        let ok = |mode: u32, owner: u32, me: Option<u32>| judge(path, mode, owner, me).is_ok();
        assert!(ok(0o100640, 0, Some(996)), "the install's root:vpce-lab 0640");
        assert!(ok(0o100600, 1000, Some(1000)), "configure -o by the user running it");
        assert!(ok(0o100644, 0, None));
        assert!(!ok(0o100660, 0, Some(0)), "group-writable");
        assert!(!ok(0o100646, 0, Some(0)), "world-writable");
        assert!(!ok(0o100600, 1001, Some(1000)), "another non-root user's");
        assert!(ok(0o100600, 1001, None), "owner unknown to judge: the mode alone");

        let e = judge(path, 0o100664, 0, Some(0)).unwrap_err();
        assert_eq!(e.exit_code(), 78);
        assert!(e.to_string().contains("may be changed by its group (mode 0664)"), "{e}");
        assert!(e.to_string().contains("chmod go-w /etc/vpce-lab/config.toml"), "{e}");
        let e = judge(path, 0o100600, 1001, Some(1000)).unwrap_err();
        assert!(e.to_string().contains("owned by uid 1001"), "{e}");
    }

    #[test]
    fn the_effective_uid_is_read() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if status.contains("Uid:") {
            assert!(effective_uid().is_some());
        }
    }
}
