//! Poison messages: a message that can never succeed is recorded under
//! `quarantine/<message-id>.json` (so an operator can see what arrived and why it was
//! refused) and then deleted, so it neither blocks the queue nor loops forever.

use bytes::Bytes;
use common::failure::Result;
use common::queue::Received;
use common::store::{Condition, Store};
use sales_domain::keys;

/// Writes the quarantine record; returns its key. Rewriting it on a redelivery is harmless.
pub async fn record(store: &Store, message: &Received, reason: &str) -> Result<String> {
    let key = keys::quarantine(&message.message_id);
    let body = record_json(message, reason, now_rfc3339());
    store.put(&key, Bytes::from(body), "application/json", &[], Condition::None).await?;
    Ok(key)
}

/// The record: `message_id`, `body`, `reason`, `receive_count`, `time` (docs/design.md, Quarantine records).
fn record_json(message: &Received, reason: &str, time: String) -> String {
    let record = serde_json::json!({
        "message_id": message.message_id,
        "body": message.body,
        "reason": reason,
        "receive_count": message.receive_count,
        "time": time,
    });
    let mut text = serde_json::to_string_pretty(&record).unwrap_or_else(|_| record.to_string());
    text.push('\n');
    text
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_has_the_spec_keys() {
        let m = Received {
            message_id: "id-1".into(),
            receipt_handle: "r".into(),
            body: "{datafilelocation:s3://b/test.txt}".into(),
            receive_count: 2,
            sent_at: None,
        };
        let v: serde_json::Value = serde_json::from_str(&record_json(
            &m,
            "not a sales file",
            "2026-01-01T00:00:00Z".into(),
        ))
        .unwrap();
        assert_eq!(v["message_id"], "id-1");
        assert_eq!(v["body"], "{datafilelocation:s3://b/test.txt}");
        assert_eq!(v["reason"], "not a sales file");
        assert_eq!(v["receive_count"], 2);
        assert_eq!(v["time"], "2026-01-01T00:00:00Z");
    }
}
