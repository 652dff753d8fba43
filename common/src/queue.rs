//! The three SQS operations the lab's policy allows: SendMessage, ReceiveMessage,
//! DeleteMessage (one at a time or in batches, which AWS authorizes as DeleteMessage), on
//! the one configured queue.
//!
//! The queue URL comes from configuration (no `sqs:GetQueueUrl`), its visibility timeout
//! too (no `sqs:GetQueueAttributes`), and a message cannot be hidden for longer while it is
//! worked on (no `sqs:ChangeMessageVisibility`): none of those calls exist here.

use std::time::{Duration, SystemTime};

use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use aws_smithy_runtime_api::http::Response as HttpResponse;

use crate::aws::{classify, receive_attempt_timeout};
use crate::config::DEFAULT_ATTEMPT_TIMEOUT;
use crate::failure::{Error, Kind, Operation, Result};

/// `SentTimestamp` is milliseconds since the Unix epoch.
fn sent_timestamp(millis: &str) -> Option<SystemTime> {
    let millis: u64 = millis.trim().parse().ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(millis))
}

/// SQS returns at most 10 messages per ReceiveMessage.
pub const MAX_BATCH: i32 = 10;

/// One received message.
#[derive(Debug, Clone)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// `ApproximateReceiveCount`: 1 on first delivery.
    pub receive_count: u32,
    /// `SentTimestamp`: when the message was sent, by the queue's clock (how long it waited
    /// is the queue's lag). `None` when the answer did not say.
    pub sent_at: Option<SystemTime>,
}

#[derive(Debug, Clone)]
pub struct Queue {
    client: aws_sdk_sqs::Client,
    url: String,
    endpoint: String,
}

impl Queue {
    /// The queue at `url` through `client`, whose endpoint is `endpoint` (the queue URL's
    /// host is not where requests go when the endpoint is pinned, so failures name both).
    pub fn new(
        client: aws_sdk_sqs::Client,
        url: impl Into<String>,
        endpoint: impl Into<String>,
    ) -> Queue {
        Queue { client, url: url.into(), endpoint: endpoint.into() }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The failure an SDK error is, with the SDK's error kept as its source.
    fn failure<E>(&self, operation: Operation, err: SdkError<E, HttpResponse>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        classify(&err).into_error(operation, &self.url, &self.endpoint).with_source(err)
    }

    /// SendMessage; returns the message id.
    pub async fn send(&self, body: &str) -> Result<String> {
        let out = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| self.failure(Operation::SendMessage, e))?;
        Ok(out.message_id().unwrap_or_default().to_string())
    }

    /// ReceiveMessage with a long poll of `wait`. Its attempt timeout is raised above the
    /// poll (the clients' attempt timeout may be shorter) so a healthy empty poll is not cut
    /// short. Dropping the future cancels the poll at once (used on shutdown).
    pub async fn receive(&self, max: i32, wait: Duration) -> Result<Vec<Received>> {
        let wait_secs = i32::try_from(wait.as_secs()).unwrap_or(20).min(20);
        let attempt = self
            .client
            .config()
            .timeout_config()
            .and_then(|t| t.operation_attempt_timeout())
            .unwrap_or(DEFAULT_ATTEMPT_TIMEOUT);
        let timeouts = aws_sdk_sqs::config::timeout::TimeoutConfig::builder()
            .operation_attempt_timeout(receive_attempt_timeout(wait, attempt))
            .build();
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, MAX_BATCH))
            .wait_time_seconds(wait_secs)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .customize()
            .config_override(aws_sdk_sqs::config::Builder::default().timeout_config(timeouts))
            .send()
            .await
            .map_err(|e| self.failure(Operation::ReceiveMessage, e))?;
        let mut received = Vec::new();
        for m in out.messages.unwrap_or_default() {
            let (Some(message_id), Some(receipt_handle)) = (m.message_id, m.receipt_handle) else {
                // Without a receipt handle a message cannot be deleted; without an id it
                // cannot be tracked. SQS always sends both; skip (it will be redelivered).
                tracing::warn!("ReceiveMessage returned a message without id or receipt handle");
                continue;
            };
            let attribute = |name| m.attributes.as_ref().and_then(|a| a.get(&name));
            let receive_count = attribute(MessageSystemAttributeName::ApproximateReceiveCount)
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            let sent_at = attribute(MessageSystemAttributeName::SentTimestamp)
                .and_then(|t| sent_timestamp(t));
            received.push(Received {
                message_id,
                receipt_handle,
                body: m.body.unwrap_or_default(),
                receive_count,
                sent_at,
            });
        }
        Ok(received)
    }

    /// DeleteMessage.
    pub async fn delete(&self, receipt_handle: &str) -> Result<()> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| self.failure(Operation::DeleteMessage, e))?;
        Ok(())
    }

    /// DeleteMessageBatch of up to [`MAX_BATCH`] receipt handles: one answer per handle, in
    /// order (`None`: deleted). SQS answers each entry on its own, so a batch can half
    /// succeed; every entry of the answer is checked, and one it does not mention counts as
    /// not deleted.
    pub async fn delete_batch(&self, receipt_handles: &[String]) -> Result<Vec<Option<Error>>> {
        let entries = receipt_handles
            .iter()
            .enumerate()
            .map(|(i, handle)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(handle)
                    .build()
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| {
                Error::internal(
                    Operation::DeleteMessageBatch,
                    &self.url,
                    format!("a batch entry: {e}"),
                )
            })?;
        let out = self
            .client
            .delete_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| self.failure(Operation::DeleteMessageBatch, e))?;
        let mut answers: Vec<Option<Error>> = (0..receipt_handles.len())
            .map(|_| {
                Some(Error::new(
                    Kind::Unexpected,
                    Operation::DeleteMessageBatch,
                    &self.url,
                    format!(
                        "DeleteMessageBatch on {}: the answer did not mention this entry",
                        self.url
                    ),
                ))
            })
            .collect();
        for ok in out.successful() {
            if let Some(slot) = ok.id().parse::<usize>().ok().and_then(|i| answers.get_mut(i)) {
                *slot = None;
            }
        }
        for failed in out.failed() {
            if let Some(slot) = failed.id().parse::<usize>().ok().and_then(|i| answers.get_mut(i)) {
                let kind = if failed.sender_fault() { Kind::Unexpected } else { Kind::Transient };
                *slot = Some(Error::new(
                    kind,
                    Operation::DeleteMessageBatch,
                    &self.url,
                    format!(
                        "DeleteMessageBatch on {}: entry refused: {} {}",
                        self.url,
                        failed.code(),
                        failed.message().unwrap_or_default()
                    ),
                ));
            }
        }
        Ok(answers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_timestamps_are_epoch_milliseconds() {
        let t = sent_timestamp("1767225600123").unwrap();
        let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(since, Duration::from_millis(1_767_225_600_123));
        assert_eq!(sent_timestamp("soon"), None);
        assert_eq!(sent_timestamp("-1"), None);
    }
}
