//! The outcomes the daemons count, and the label each gets. What happens to a message or a
//! file is decided by the failure table ([`Action`]); these say what was decided, in the
//! same words for both daemons: done (reported, quarantined, uploaded, unchanged, failed) or
//! left to come back (retry, or held when an operator must act).

use crate::failure::Action;

/// What became of a received message (`reportsengine_messages_total{outcome}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageOutcome {
    /// Its report was written and it was deleted.
    Reported,
    /// It can never succeed: its quarantine record was written and it was deleted.
    Quarantined,
    /// Left on the queue by a failure that may pass by itself; SQS delivers it again.
    Retry,
    /// Left on the queue by a failure an operator must fix.
    Held,
}

impl MessageOutcome {
    pub const ALL: [MessageOutcome; 4] =
        [Self::Reported, Self::Quarantined, Self::Retry, Self::Held];

    /// A message left on the queue by a failure whose action is `action`. Whatever the
    /// failure (even one that would set the message aside, when its quarantine record could
    /// not be written), a message left on the queue comes back: it is held when an operator
    /// must act, else a retry.
    pub fn left_by(action: Action) -> MessageOutcome {
        match action {
            Action::Hold => MessageOutcome::Held,
            Action::Retry | Action::SetAside => MessageOutcome::Retry,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MessageOutcome::Reported => "reported",
            MessageOutcome::Quarantined => "quarantined",
            MessageOutcome::Retry => "retry",
            MessageOutcome::Held => "held",
        }
    }
}

/// What became of one upload attempt of a spool file (`salesapp_uploads_total{outcome}`).
/// Attempts, not files: a file that meets an outage counts one `retry` per attempt that
/// left it in `incoming/`, then `uploaded` once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadOutcome {
    /// Written to S3, merged into the ledger, queued; moved to `done/`.
    Uploaded,
    /// The same content was already there: only the message was sent again; moved to `done/`.
    Unchanged,
    /// It can never be uploaded as it is: moved to `failed/` with its reason.
    Failed,
    /// Left in `incoming/` by a failure that may pass by itself, tried again after a pause.
    Retry,
    /// Left in `incoming/` by a failure an operator must fix.
    Held,
}

impl UploadOutcome {
    pub const ALL: [UploadOutcome; 5] =
        [Self::Uploaded, Self::Unchanged, Self::Failed, Self::Retry, Self::Held];

    /// A file left in `incoming/` by a failure whose action is `action` (a file set aside
    /// that could not be moved to `failed/` stays too, and is tried again).
    pub fn left_by(action: Action) -> UploadOutcome {
        match action {
            Action::Hold => UploadOutcome::Held,
            Action::Retry | Action::SetAside => UploadOutcome::Retry,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            UploadOutcome::Uploaded => "uploaded",
            UploadOutcome::Unchanged => "unchanged",
            UploadOutcome::Failed => "failed",
            UploadOutcome::Retry => "retry",
            UploadOutcome::Held => "held",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::Kind;

    /// Each kind of failure that leaves its input waiting, by the table: a transient one is
    /// a retry, one that needs an operator is held; for messages and files alike.
    #[test]
    fn a_failure_left_waiting_is_named_by_the_table() {
        for kind in Kind::ALL {
            let (message, upload) = match kind {
                Kind::Credentials
                | Kind::Denied
                | Kind::Config
                | Kind::StateUnreadable
                | Kind::Unexpected => ("held", "held"),
                Kind::Transient | Kind::BadInput | Kind::Missing | Kind::LocalIo => {
                    ("retry", "retry")
                }
            };
            let action = kind.rule().action;
            assert_eq!(MessageOutcome::left_by(action).label(), message, "{kind:?}");
            assert_eq!(UploadOutcome::left_by(action).label(), upload, "{kind:?}");
        }
    }

    #[test]
    fn the_labels_are_the_documented_ones() {
        let messages: Vec<&str> = MessageOutcome::ALL.iter().map(|o| o.label()).collect();
        assert_eq!(messages, ["reported", "quarantined", "retry", "held"]);
        let uploads: Vec<&str> = UploadOutcome::ALL.iter().map(|o| o.label()).collect();
        assert_eq!(uploads, ["uploaded", "unchanged", "failed", "retry", "held"]);
    }
}
