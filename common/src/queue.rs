//! The three SQS operations the lab's policy allows: SendMessage, ReceiveMessage,
//! DeleteMessage, on the one configured queue.
//!
//! The queue URL comes from configuration (no `sqs:GetQueueUrl`), its visibility timeout
//! too (no `sqs:GetQueueAttributes`), and a message cannot be hidden for longer while it is
//! worked on (no `sqs:ChangeMessageVisibility`): none of those calls exist here.

use std::time::Duration;

use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use aws_smithy_runtime_api::http::Response as HttpResponse;

use crate::aws::{classify, receive_attempt_timeout};
use crate::failure::{Error, Operation, Result};

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
            .unwrap_or(crate::aws::ATTEMPT_TIMEOUT);
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
            let receive_count = m
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            received.push(Received {
                message_id,
                receipt_handle,
                body: m.body.unwrap_or_default(),
                receive_count,
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
}
