//! The decision log: one JSON line per decision (time, host, principal, action, resource,
//! decision, and for a denial what refused it), and `why`, which tells the last denials in
//! words.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use sales_domain::text::escape_control;
use serde::{Deserialize, Serialize};

/// One decision, as logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// RFC 3339, UTC.
    pub time: String,
    pub host: String,
    /// The caller's ARN (an assumed role's session), `anonymous`, or the unknown access key.
    pub principal: String,
    pub service: String,
    pub operation: String,
    pub action: String,
    pub resource: String,
    /// How the host reached the service (an endpoint, or the internet from an address).
    pub path: String,
    pub decision: Outcome,
    /// For an allowed request: which policy allowed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_by: Option<String>,
    /// For a denial: `identity`, `endpoint`, `bucket`, `queue`, `security_group`,
    /// `credentials`, `object_missing` (what refused it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// For a denial: the refusing policy, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    /// For an explicit Deny: the statement's Sid (or `statement #N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    /// For a denial: the sentence `why` prints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The client's `User-Agent` (at most [`AGENT_LIMIT`] bytes): which program asked. The
    /// walkthrough finds the decisions on its own commands by the `exec-env/…` it gives the
    /// CLI (`AWS_EXECUTION_ENV`), among those on the daemons' requests from the same host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

/// The longest `User-Agent` a record keeps.
pub const AGENT_LIMIT: usize = 512;

/// A request's `User-Agent` as a record keeps it: cut to [`AGENT_LIMIT`] bytes on a
/// character boundary.
pub fn agent(user_agent: Option<&str>) -> Option<String> {
    let ua = user_agent?;
    let mut end = ua.len().min(AGENT_LIMIT);
    while !ua.is_char_boundary(end) {
        end -= 1;
    }
    Some(ua[..end].to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Allow,
    Deny,
    /// The endpoint's security group does not admit the host: no answer at all.
    NoAnswer,
}

impl Record {
    pub fn is_refusal(&self) -> bool {
        self.decision != Outcome::Allow
    }

    /// The record in words (two or three lines).
    pub fn sentence(&self) -> String {
        let verdict = match self.decision {
            Outcome::Allow => "ALLOWED",
            Outcome::Deny => "DENIED",
            Outcome::NoAnswer => "NO ANSWER (times out)",
        };
        // The resource and the reason carry what a client sent (an S3 key may hold a line
        // break or an ESC): every field is escaped, so `why` cannot forge a record or reach
        // the terminal.
        let e = |text: &str| escape_control(text).into_owned();
        let mut s = format!(
            "{}  {}: {} ({}) on {}\n    by {} through {}\n    {verdict}",
            e(&self.time),
            e(&self.host),
            e(&self.action),
            e(&self.operation),
            e(&self.resource),
            e(&self.principal),
            e(&self.path)
        );
        if let Some(reason) = self.reason.as_ref().or(self.allowed_by.as_ref()) {
            s.push_str(": ");
            s.push_str(&e(reason));
        }
        s
    }
}

/// At most this much of the log's end is read by [`last_refusals`].
const TAIL_BYTES: u64 = 8 << 20;

/// The last `n` refusals in the log (oldest first), from its last few MiB. Lines that are not
/// records are skipped.
pub fn last_refusals(log: &Path, n: usize) -> std::io::Result<Vec<Record>> {
    let refusals: Vec<Record> = tail(log)?.into_iter().filter(Record::is_refusal).collect();
    let skip = refusals.len().saturating_sub(n);
    Ok(refusals.into_iter().skip(skip).collect())
}

/// The records of the log's last few MiB, oldest first.
pub fn tail(log: &Path) -> std::io::Result<Vec<Record>> {
    read(log, None).map(|(records, _)| records)
}

/// The records written from byte `offset` on (a length the log had: a line's start), at most
/// the last [`TAIL_BYTES`] of them, and the log's length after them. A log shorter than
/// `offset` was rotated meanwhile: it is read from its start.
pub fn since(log: &Path, offset: u64) -> std::io::Result<(Vec<Record>, u64)> {
    read(log, Some(offset))
}

fn read(log: &Path, offset: Option<u64>) -> std::io::Result<(Vec<Record>, u64)> {
    let mut file = std::fs::File::open(log)?;
    let len = file.metadata()?.len();
    let last = len.saturating_sub(TAIL_BYTES);
    let start = match offset {
        Some(o) if o > len => 0,
        Some(o) => o.max(last),
        None => last,
    };
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(TAIL_BYTES).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = text.lines();
    if start > 0 && Some(start) != offset {
        lines.next(); // a partial line
    }
    let records = lines.filter_map(|l| serde_json::from_str::<Record>(l).ok()).collect();
    Ok((records, start + bytes.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(decision: Outcome, action: &str) -> Record {
        Record {
            time: "2026-01-01T00:00:00Z".into(),
            host: "salesapp".into(),
            principal: "arn:aws:sts::123456789012:assumed-role/r/salesapp".into(),
            service: "sqs".into(),
            operation: "ListQueues".into(),
            action: action.into(),
            resource: "*".into(),
            path: "the SQS interface endpoint vpce-1".into(),
            decision,
            allowed_by: None,
            policy: Some("endpoint".into()),
            policy_name: Some("the SQS interface endpoint vpce-1".into()),
            statement: None,
            reason: Some("no statement of the VPC endpoint policy of vpce-1 allows it".into()),
            agent: agent(Some("aws-cli/1.45.11 exec-env/vpce-lab-walkthrough-1-1")),
        }
    }

    #[test]
    fn a_resource_a_client_named_cannot_forge_a_line_of_why() {
        let mut r = record(Outcome::Deny, "s3:GetObject");
        r.resource = "arn:aws:s3:::b/k\n2026-01-01T00:00:00Z  x: ALLOWED\x1b[2J".into();
        let words = r.sentence();
        assert_eq!(words.lines().count(), 3, "{words}");
        assert!(!words.contains('\x1b'), "{words}");
        assert!(
            words.contains("on arn:aws:s3:::b/k\\n2026-01-01T00:00:00Z  x: ALLOWED\\x1b[2J\n"),
            "{words}"
        );
    }

    #[test]
    fn a_line_per_decision_and_the_last_refusals_in_words() {
        let dir = std::env::temp_dir().join(format!("lab-record-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let log = dir.join("decisions.jsonl");
        let mut text = String::new();
        for (i, d) in
            [Outcome::Deny, Outcome::Allow, Outcome::NoAnswer, Outcome::Deny].iter().enumerate()
        {
            text.push_str(&serde_json::to_string(&record(*d, &format!("sqs:A{i}"))).expect("json"));
            text.push('\n');
        }
        text.push_str("not a record\n");
        std::fs::write(&log, &text).expect("write");
        let last = last_refusals(&log, 2).expect("read");
        assert_eq!(
            last.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
            ["sqs:A2", "sqs:A3"]
        );
        assert_eq!(last_refusals(&log, 10).expect("read").len(), 3);
        let first_line = text.find('\n').expect("a line") as u64 + 1;
        let (later, end) = since(&log, first_line).expect("since");
        assert_eq!((later.len(), end), (3, text.len() as u64), "the lines after the first");
        assert_eq!(
            since(&log, 1 << 40).expect("rotated").0.len(),
            4,
            "a rotated log from its start"
        );
        let words = last[1].sentence();
        assert!(words.contains("salesapp: sqs:A3 (ListQueues) on *"), "{words}");
        assert!(words.contains("DENIED: no statement of the VPC endpoint policy"), "{words}");
        assert!(last[0].sentence().contains("NO ANSWER"));
        let line = serde_json::to_string(&record(Outcome::NoAnswer, "x")).expect("json");
        assert!(line.contains("\"decision\":\"no-answer\""), "{line}");
        assert!(line.contains("exec-env/vpce-lab-walkthrough-1-1"), "{line}");
        let long = "é".repeat(AGENT_LIMIT);
        let kept = agent(Some(&long)).expect("kept");
        assert!(kept.len() <= AGENT_LIMIT && kept.chars().all(|c| c == 'é'));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
