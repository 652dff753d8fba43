//! What the spool daemon has done, for its log lines, `systemctl status` (`STATUS=`) and
//! the metrics: each attempt's outcome is counted here, where it is decided.

use std::fmt::Write as _;
use std::time::Duration;

use common::failure::{Error, Holds};
use common::metrics::{self, UploadOutcome};
use common::notify;

use super::Uploaded;

/// One attempt at a file (an upload, or only the move of a file already decided), for the
/// metrics.
#[derive(Debug, Clone, Copy)]
pub(super) struct Attempt {
    pub(super) took: Duration,
    pub(super) bytes_sent: u64,
}

impl Attempt {
    pub(super) fn counted(self, outcome: UploadOutcome) {
        metrics::upload_done(outcome, self.bytes_sent, self.took);
    }
}

#[derive(Debug, Default)]
pub(super) struct Stats {
    pub(super) uploaded: u64,
    pub(super) failed: u64,
    pub(super) retries: u64,
    pub(super) last: Option<String>,
    /// The failure holding uploads up, logged once and shown in `STATUS=`.
    pub(super) holds: Holds,
    /// The last `STATUS=` sent.
    published: String,
}

impl Stats {
    /// `label` was uploaded (or was already there) and moved to `done/`.
    pub(super) fn done(&mut self, label: &str, uploaded: &Uploaded, attempt: Attempt) {
        let outcome =
            if uploaded.unchanged { UploadOutcome::Unchanged } else { UploadOutcome::Uploaded };
        attempt.counted(outcome);
        self.uploaded += 1;
        self.last = Some(format!("{label} (done)"));
    }

    /// `label` can never be uploaded as it is and was moved to `failed/`.
    pub(super) fn set_aside(&mut self, label: &str, attempt: Attempt) {
        attempt.counted(UploadOutcome::Failed);
        self.failed += 1;
        self.last = Some(format!("{label} (failed)"));
    }

    /// `label` stays in `incoming/` because of `err`: a retry, or held when an operator must
    /// act (logged loudly once). `what` says what happened and where the file is.
    pub(super) fn left(&mut self, label: &str, err: &Error, what: &str, attempt: Attempt) {
        attempt.counted(UploadOutcome::left_by(err.action()));
        self.retries += 1;
        self.last = Some(format!("{label} (in incoming/)"));
        self.holds.failed(err, what);
    }

    /// Sends `STATUS=` to systemd when it changed (not on every scan).
    pub(super) fn publish(&mut self, current: Option<&str>) {
        let line = self.status_line(current);
        if line != self.published {
            notify::status(&line);
            self.published = line;
        }
    }

    pub(super) fn status_line(&self, current: Option<&str>) -> String {
        let mut s = String::new();
        if let Some(name) = current {
            let _ = write!(s, "uploading {name}; ");
        }
        let _ = write!(
            s,
            "uploaded {}, failed {}, retries {}, last file {}",
            self.uploaded,
            self.failed,
            self.retries,
            self.last.as_deref().unwrap_or("none")
        );
        if let Some(held) = self.holds.current() {
            let _ = write!(s, "; held: {}", sales_domain::keys::excerpt(held));
        }
        s
    }
}
