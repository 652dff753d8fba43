//! The consumer's counters: for the logs, `systemctl status` (`STATUS=`), the exit code of
//! `once`, and the metrics (each outcome is recorded where it is counted here).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use common::failure::{Error, Holds, Kind, Operation};
use common::metrics::{self, MessageOutcome};
use common::notify;
use common::queue::Received;
use sales_domain::sales::SalesDate;

#[derive(Debug, Default)]
pub struct ConsumerStats {
    pub processed: AtomicU64,
    pub quarantined: AtomicU64,
    /// Messages left on the queue by a failure (retry or hold).
    pub failed: AtomicU64,
    /// The worst kind of failure that left a message behind (or stopped `once`).
    worst: Mutex<Option<Kind>>,
    last_report: Mutex<Option<SalesDate>>,
    /// How long the last message received had waited in the queue.
    last_lag: Mutex<Option<Duration>>,
    /// The failure holding work up, logged once and shown in `STATUS=`.
    holds: Mutex<Holds>,
}

impl ConsumerStats {
    /// `processed N, quarantined N, failed N, last report DATE, lag 1.2s[; held: …]`.
    pub fn status_line(&self) -> String {
        let last = self.last_report.lock().ok().and_then(|l| *l);
        let lag = self.last_lag.lock().ok().and_then(|l| *l);
        let mut line = format!(
            "processed {}, quarantined {}, failed {}, last report {}, lag {}",
            self.processed.load(Ordering::Relaxed),
            self.quarantined.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            last.map_or("none".to_string(), |d| d.to_string()),
            lag.map_or("none".to_string(), lag_text)
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

    /// A message arrived: how long it waited in the queue, and how often it was delivered.
    pub(super) fn received(&self, message: &Received) {
        let lag = metrics::message_received(message.sent_at, message.receive_count);
        if let (Some(lag), Ok(mut last)) = (lag, self.last_lag.lock()) {
            *last = Some(lag);
        }
    }

    /// A report was uploaded and its message deleted, `took` after its work started: any
    /// hold is over.
    pub(super) fn reported(&self, date: SalesDate, took: Duration) {
        metrics::message_done(MessageOutcome::Reported, took);
        self.processed.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last_report.lock() {
            *last = Some(date);
        }
        if let Ok(mut holds) = self.holds.lock() {
            holds.succeeded();
        }
        self.publish();
    }

    /// A message was quarantined and deleted, `took` after its work started.
    pub(super) fn quarantined(&self, took: Duration) {
        metrics::message_done(MessageOutcome::Quarantined, took);
        self.quarantined.fetch_add(1, Ordering::Relaxed);
        self.publish();
    }

    /// A message was left on the queue by `err`, `took` after its work started: counted
    /// (a retry, or held when an operator must act), logged (a hold once), shown.
    pub(super) fn left(&self, err: &Error, what: &str, took: Duration) {
        metrics::message_done(MessageOutcome::left_by(err.action()), took);
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
    /// worst failure (docs/design.md, What happens to a failure), since messages were left behind.
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

/// A queue lag for `STATUS=`: tenths of a second while it is short, whole units after.
fn lag_text(lag: Duration) -> String {
    if lag < Duration::from_secs(60) {
        format!("{:.1}s", lag.as_secs_f64())
    } else {
        humantime::format_duration(Duration::from_secs(lag.as_secs())).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lag_reads_at_a_glance() {
        assert_eq!(lag_text(Duration::from_millis(1234)), "1.2s");
        assert_eq!(lag_text(Duration::ZERO), "0.0s");
        assert_eq!(lag_text(Duration::from_millis(3_725_400)), "1h 2m 5s");
    }
}
