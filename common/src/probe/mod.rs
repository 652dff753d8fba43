//! What `doctor` asks of AWS, as named probes: the SDK's configuration as the daemons load
//! it ([`Sdk`]), the credential chain, and single calls with short timeouts ([`Probes`]),
//! each of whose answers (allowed, denied, anything else, no answer at all) is a [`Call`]
//! to judge rather than a failure.
//!
//! The SDK's clients never leave this crate (`crate::aws`): apart from the daemons' store
//! and queue, these probes are the only AWS calls any crate can make. Those the lab's
//! policies allow and the apps need are below; those the lab denies, which `doctor
//! --controls` makes to show that they are denied, are in `denied.rs` and nowhere else.
//!
//! # Why each allowed probe is harmless
//! - [`Probes::put_object`] writes only what doctor names (`doctor/<host>-<pid>.txt`, SSE
//!   AES256); [`Probes::get_object`] reads it back.
//! - [`Probes::receive_visible`] receives with `VisibilityTimeout=0`: a message it sees stays
//!   visible, so the engine is not delayed (only its receive count goes up).
//! - [`Probes::delete_message`] with a receipt handle that cannot exist deletes nothing:
//!   authorized calls answer `ReceiptHandleIsInvalid`, denied ones 403.

use std::future::Future;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use aws_smithy_runtime_api::http::Response as HttpResponse;

use crate::aws::{classify, s3_client, sdk_config, sqs_client, Answer, DEFAULT_SDK_MAX_ATTEMPTS};
use crate::config::Config;
use crate::endpoints::EndpointUrls;
use crate::failure::{Error, Kind, Operation, Service};
use crate::Program;
use local_lab::LocalLabAnswers;

mod credentials;
mod denied;
mod local_lab;

pub use credentials::CredentialsFound;
pub use local_lab::LOCAL_LAB_HOST_HEADER;

/// The SDK's configuration, loaded as the daemons load it (region, timeouts, the program's
/// app id, the SDK's own retry, FIPS and dual-stack settings).
pub struct Sdk {
    config: SdkConfig,
}

impl Sdk {
    /// Loads it; a configuration without a region (and none from the SDK's chain) fails.
    pub async fn load(config: &Config, program: Program) -> Result<Sdk, Error> {
        Ok(Sdk { config: sdk_config(config, program).await? })
    }

    /// The region the clients use.
    pub fn region(&self) -> String {
        self.config.region().map(|r| r.to_string()).unwrap_or_default()
    }

    /// The SDK's retry mode (`standard`, `adaptive`) as its chain set it.
    pub fn retry_mode(&self) -> String {
        self.config
            .retry_config()
            .map_or("standard".to_string(), |r| format!("{:?}", r.mode()).to_lowercase())
    }

    /// Attempts per call inside the SDK (the first try included).
    pub fn max_attempts(&self) -> u32 {
        self.config.retry_config().map_or(DEFAULT_SDK_MAX_ATTEMPTS, |r| r.max_attempts())
    }

    pub fn fips(&self) -> bool {
        self.config.use_fips().unwrap_or(false)
    }

    pub fn dual_stack(&self) -> bool {
        self.config.use_dual_stack().unwrap_or(false)
    }

    /// The endpoint URLs the daemons' clients would use.
    pub async fn endpoints(&self, config: &Config) -> Result<EndpointUrls, Error> {
        EndpointUrls::of(config, &self.config).await
    }

    /// Clients for probing: the daemons' clients, but one attempt per call and short
    /// timeouts, so that the answer, not the SDK's retries, says what fails; and they notice
    /// an answer from the local lab's gateway ([`Probes::local_lab_host`]).
    pub fn probes(
        &self,
        config: &Config,
        endpoints: &EndpointUrls,
        connect_timeout: Duration,
        call_timeout: Duration,
    ) -> Probes {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(connect_timeout)
            .operation_attempt_timeout(call_timeout)
            .build();
        let once = aws_config::retry::RetryConfig::standard().with_max_attempts(1);
        let s3 = s3_client(&self.config, config);
        let sqs = sqs_client(&self.config, config, &endpoints.sqs);
        let local_lab = LocalLabAnswers::default();
        let s3 = s3
            .config()
            .to_builder()
            .timeout_config(timeouts.clone())
            .retry_config(once.clone())
            .interceptor(local_lab.clone());
        let sqs = sqs
            .config()
            .to_builder()
            .timeout_config(timeouts)
            .retry_config(once)
            .interceptor(local_lab.clone());
        Probes {
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            sqs: aws_sdk_sqs::Client::from_conf(sqs.build()),
            local_lab,
            bucket: config.bucket.clone(),
            queue_url: config.queue_url.clone(),
            endpoints: endpoints.clone(),
            timeout: call_timeout,
        }
    }
}

/// Doctor's clients of the configured bucket and queue.
pub struct Probes {
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    local_lab: LocalLabAnswers,
    bucket: String,
    queue_url: String,
    endpoints: EndpointUrls,
    timeout: Duration,
}

/// The answer to one probe.
#[derive(Debug)]
pub enum Call<T> {
    Ok(T),
    /// An error answer: `denied` for HTTP 403, `code` the service's error code, `text` what
    /// it said for people (`CODE: message (request id ID)`), and what the failure model makes
    /// of the same answer when the daemons get it: its `kind` (and so its exit code) and the
    /// `hint` they give with it.
    Failed {
        denied: bool,
        code: String,
        text: String,
        kind: Kind,
        hint: Option<String>,
    },
    /// No answer within the probe's timeout.
    TimedOut {
        after: Duration,
    },
}

/// What a call showed of the policies in its way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    Allowed,
    /// HTTP 403.
    Denied,
    /// Anything else: not found, invalid, timeout… `String` says what.
    Inconclusive(String),
}

impl<T> Call<T> {
    pub fn outcome(&self) -> CallOutcome {
        match self {
            Call::Ok(_) => CallOutcome::Allowed,
            Call::Failed { denied: true, .. } => CallOutcome::Denied,
            Call::Failed { text, .. } => CallOutcome::Inconclusive(text.clone()),
            Call::TimedOut { after } => CallOutcome::Inconclusive(format!(
                "no answer within {}s (an endpoint security group that drops packets?)",
                after.as_secs()
            )),
        }
    }
}

/// A message seen by [`Probes::receive_visible`].
#[derive(Debug, Clone)]
pub struct Seen {
    pub message_id: Option<String>,
    pub receipt_handle: Option<String>,
}

impl Probes {
    /// `s3://bucket/key`.
    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// The configured queue's URL.
    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// The lab host whose gateway answered these probes, when they went to the local lab
    /// rather than to AWS or the bare emulator (its answers carry [`LOCAL_LAB_HOST_HEADER`]).
    /// Known once a probe has been answered.
    pub fn local_lab_host(&self) -> Option<String> {
        self.local_lab.host()
    }

    /// One SDK call with the probe's timeout, its answer classified as the daemons classify
    /// it ([`classify`]): `operation` names the call when the daemons make it too, for the
    /// same advice.
    async fn call<T, E>(
        &self,
        operation: Option<Operation>,
        fut: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Call<T>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match tokio::time::timeout(self.timeout, fut).await {
            Err(_) => Call::TimedOut { after: self.timeout },
            Ok(Ok(v)) => Call::Ok(v),
            Ok(Err(e)) => {
                let code = e.code().unwrap_or_default().to_string();
                let answer = classify(&e);
                let hint = operation.and_then(|op| {
                    let endpoint = match op.service() {
                        Some(Service::Sqs) => &self.endpoints.sqs,
                        _ => &self.endpoints.s3,
                    };
                    answer.advice(op, endpoint)
                });
                Call::Failed {
                    denied: matches!(answer, Answer::Denied { .. }),
                    code,
                    text: answer.detail(),
                    kind: answer.kind(),
                    hint,
                }
            }
        }
    }

    /// PutObject of `body` at `key` of the configured bucket, SSE AES256.
    pub async fn put_object(&self, key: &str, content_type: &str, body: Vec<u8>) -> Call<()> {
        let put = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send();
        self.call(Some(Operation::PutObject), put).await.map(|_| ())
    }

    /// GetObject of `key` of the configured bucket, read whole (the inner error: reading
    /// the body failed).
    pub async fn get_object(&self, key: &str) -> Call<Result<Vec<u8>, String>> {
        let get = self.s3.get_object().bucket(&self.bucket).key(key).send();
        match self.call(Some(Operation::GetObject), get).await {
            Call::Ok(out) => {
                Call::Ok(out.body.collect().await.map(|d| d.to_vec()).map_err(|e| e.to_string()))
            }
            Call::Failed { denied, code, text, kind, hint } => {
                Call::Failed { denied, code, text, kind, hint }
            }
            Call::TimedOut { after } => Call::TimedOut { after },
        }
    }

    /// ReceiveMessage of up to `max` messages, waiting up to `wait_seconds`, with
    /// `VisibilityTimeout=0`: whatever it sees stays visible to the engine.
    pub async fn receive_visible(&self, max: i32, wait_seconds: i32) -> Call<Vec<Seen>> {
        let receive = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max)
            .wait_time_seconds(wait_seconds)
            .visibility_timeout(0)
            .send();
        self.call(Some(Operation::ReceiveMessage), receive).await.map(|out| {
            out.messages()
                .iter()
                .map(|m| Seen {
                    message_id: m.message_id().map(str::to_string),
                    receipt_handle: m.receipt_handle().map(str::to_string),
                })
                .collect()
        })
    }

    /// DeleteMessage of `receipt_handle` from the configured queue.
    pub async fn delete_message(&self, receipt_handle: &str) -> Call<()> {
        let delete =
            self.sqs.delete_message().queue_url(&self.queue_url).receipt_handle(receipt_handle);
        self.call(Some(Operation::DeleteMessage), delete.send()).await.map(|_| ())
    }

    /// SendMessage of `body` to the configured queue; the message id.
    pub async fn send_message(&self, body: &str) -> Call<String> {
        let send = self.sqs.send_message().queue_url(&self.queue_url).message_body(body);
        let sent = self.call(Some(Operation::SendMessage), send.send()).await;
        sent.map(|out| out.message_id().unwrap_or_default().to_string())
    }
}

impl<T> Call<T> {
    /// The same answer with its value turned by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Call<U> {
        match self {
            Call::Ok(value) => Call::Ok(f(value)),
            Call::Failed { denied, code, text, kind, hint } => {
                Call::Failed { denied, code, text, kind, hint }
            }
            Call::TimedOut { after } => Call::TimedOut { after },
        }
    }
}
