//! The consumer's counters: for the logs, `systemctl status` (`STATUS=`) and the exit code
//! of `once`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use common::failure::{Error, Holds, Kind, Operation};
use common::notify;
use sales_domain::sales::SalesDate;

#[derive(Debug, Default)]
pub struct Stats {
    pub processed: AtomicU64,
    pub quarantined: AtomicU64,
    /// Messages left on the queue by a failure (retry or hold).
    pub failed: AtomicU64,
    /// The worst kind of failure that left a message behind (or stopped `once`).
    worst: Mutex<Option<Kind>>,
    last_report: Mutex<Option<SalesDate>>,
    /// The failure holding work up, logged once and shown in `STATUS=`.
    holds: Mutex<Holds>,
}

impl Stats {
    /// `processed N, quarantined N, failed N, last report DATE[; held: …]`.
    pub fn status_line(&self) -> String {
        let last = self.last_report.lock().ok().and_then(|l| *l);
        let mut line = format!(
            "processed {}, quarantined {}, failed {}, last report {}",
            self.processed.load(Ordering::Relaxed),
            self.quarantined.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            last.map_or("none".to_string(), |d| d.to_string())
        );
        if let Some(held) = self.holds.lock().ok().and_then(|h| h.current().map(str::to_string)) {
            line.push_str("; held: ");
            line.push_str(&sales_domain::keys::excerpt(&held));
        }
        line
    }

    fn publish(&self) {
        notify::status(&self.status_line());
    }

    /// A report was uploaded and its message deleted: any hold is over.
    pub(super) fn reported(&self, date: SalesDate) {
        self.processed.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last_report.lock() {
            *last = Some(date);
        }
        if let Ok(mut holds) = self.holds.lock() {
            holds.succeeded();
        }
        self.publish();
    }

    /// A message was quarantined and deleted.
    pub(super) fn quarantined(&self) {
        self.quarantined.fetch_add(1, Ordering::Relaxed);
        self.publish();
    }

    /// A message was left on the queue by `err`: counted, logged (a hold once), shown.
    pub(super) fn left(&self, err: &Error, what: &str) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.failure(err, what);
        self.publish();
    }

    /// A receive failed: it counts for the exit code and is logged like a message's failure.
    pub(super) fn receive_failed(&self, err: &Error) {
        self.failure(err, "receive failed; will retry");
        self.publish();
    }

    /// The queue answered: a hold on receiving is over.
    pub(super) fn receive_worked(&self) {
        if let Ok(mut holds) = self.holds.lock() {
            holds.cleared(Operation::ReceiveMessage);
        }
    }

    fn failure(&self, err: &Error, what: &str) {
        if let Ok(mut worst) = self.worst.lock() {
            if worst.is_none_or(|w| err.kind().severity() > w.severity()) {
                *worst = Some(err.kind());
            }
        }
        if let Ok(mut holds) = self.holds.lock() {
            holds.failed(err, what);
        }
    }

    /// `once`: 0 when every message was reported or quarantined; otherwise the code of the
    /// worst failure (SPEC §5's table), since messages were left behind.
    pub fn exit_code(&self) -> u8 {
        let worst = self.worst.lock().ok().and_then(|w| *w);
        worst.map_or(0, |kind| u8::try_from(kind.rule().exit_code).unwrap_or(1))
    }

    /// The hold in place, if any (for tests and `STATUS=`).
    #[cfg(test)]
    pub(super) fn held(&self) -> Option<String> {
        self.holds.lock().ok().and_then(|h| h.current().map(str::to_string))
    }
}
