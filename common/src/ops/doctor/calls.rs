//! The calls the apps need, made once each with short timeouts, and how their failures read.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use aws_smithy_runtime_api::http::Response as HttpResponse;

use super::controls::{hostname, Outcome, PROBE_MARKER};
use super::table::{Check, Table};
use super::{Endpoints, Program, CALL_TIMEOUT, NET_TIMEOUT};
use crate::aws::{classify, Answer};
use crate::config::Config;
use crate::failure::{Kind, Operation};

/// Doctor's own clients: one attempt per call, short timeouts, so that the table, not the
/// SDK's retries, says what fails.
pub(super) struct Clients {
    pub(super) s3: aws_sdk_s3::Client,
    pub(super) sqs: aws_sdk_sqs::Client,
    lab: LabGateway,
}

/// The header the local lab's gateway (lab-gateway, `deploy/local/lab.sh`) puts on every
/// answer: the lab host whose endpoint answered. Unlike the bare emulator, the lab enforces
/// the controls, so doctor judges them there as on AWS.
pub(super) const LAB_HOST_HEADER: &str = "x-vpce-lab-host";

/// Remembers the lab host named by any answer of doctor's clients.
#[derive(Debug, Clone, Default)]
struct LabGateway(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl aws_smithy_runtime_api::client::interceptors::Intercept for LabGateway {
    fn name(&self) -> &'static str {
        "LabGateway"
    }

    fn read_before_deserialization(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if let Some(host) = context.response().headers().get(LAB_HOST_HEADER) {
            if let Ok(mut seen) = self.0.lock() {
                *seen = Some(host.to_string());
            }
        }
        Ok(())
    }
}

impl Clients {
    pub(super) fn fail_fast(
        sdk: &aws_config::SdkConfig,
        config: &Config,
        endpoints: &Endpoints,
    ) -> Clients {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(NET_TIMEOUT)
            .operation_attempt_timeout(CALL_TIMEOUT)
            .build();
        let once = aws_config::retry::RetryConfig::standard().with_max_attempts(1);
        let s3 = crate::aws::s3_client(sdk, config);
        let sqs = crate::aws::sqs_client(sdk, config, &endpoints.sqs);
        let lab = LabGateway::default();
        Clients {
            s3: aws_sdk_s3::Client::from_conf(
                s3.config()
                    .to_builder()
                    .timeout_config(timeouts.clone())
                    .retry_config(once.clone())
                    .interceptor(lab.clone())
                    .build(),
            ),
            sqs: aws_sdk_sqs::Client::from_conf(
                sqs.config()
                    .to_builder()
                    .timeout_config(timeouts)
                    .retry_config(once)
                    .interceptor(lab.clone())
                    .build(),
            ),
            lab,
        }
    }

    /// The lab host whose gateway answered doctor's calls, if they went to the local lab.
    pub(super) fn lab_host(&self) -> Option<String> {
        self.lab.0.lock().ok().and_then(|h| h.clone())
    }
}

/// What the calls the apps need showed, for `--controls` to judge.
pub(super) struct Needed {
    /// The key of doctor's probe object (written, read back, and tried to delete).
    pub(super) probe_key: String,
    pub(super) put: Outcome,
    pub(super) receive: Outcome,
    pub(super) delete: Outcome,
}

/// The harmless calls: PutObject then GetObject of a probe under `doctor/`, a ReceiveMessage
/// that hides nothing, a DeleteMessage that cannot delete anything.
pub(super) async fn needed(
    program: Program,
    config: &Config,
    clients: &Clients,
    endpoints: &Endpoints,
    t: &mut Table,
) -> Needed {
    let probe_key = format!("doctor/{}-{}.txt", hostname(), std::process::id());
    let put = s3_write_and_read(program, config, &clients.s3, &endpoints.s3, &probe_key, t).await;
    let (receive, delete) = sqs_receive_and_delete(config, &clients.sqs, &endpoints.sqs, t).await;
    Needed { probe_key, put, receive, delete }
}

async fn s3_write_and_read(
    program: Program,
    config: &Config,
    s3: &aws_sdk_s3::Client,
    endpoint: &str,
    key: &str,
    t: &mut Table,
) -> Outcome {
    let body = format!(
        "{PROBE_MARKER}: written by `{} doctor` on {} (pid {}); safe to ignore\n",
        program.name(),
        hostname(),
        std::process::id()
    );
    let url = format!("s3://{}/{key}", config.bucket);
    let put = call(
        s3.put_object()
            .bucket(&config.bucket)
            .key(key)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .content_type("text/plain")
            .body(ByteStream::from(body.clone().into_bytes()))
            .send(),
    )
    .await;
    t.push(needed_call_failed("s3 write", Operation::PutObject, &url, endpoint, &put));
    if !matches!(put, Call::Ok(_)) {
        t.push(Check::skip("s3 read", "nothing was written"));
        return put.outcome();
    }
    let read = match call(s3.get_object().bucket(&config.bucket).key(key).send()).await {
        Call::Ok(out) => match out.body.collect().await.map(|d| d.into_bytes()) {
            Ok(data) if data.as_ref() == body.as_bytes() => {
                Check::pass("s3 read", format!("GetObject {url}: same bytes back"))
            }
            Ok(_) => Check::fail(
                "s3 read",
                Kind::Transient,
                format!("GetObject {url}: different bytes back"),
                "another writer, or a proxy rewriting bodies",
            ),
            Err(e) => Check::fail(
                "s3 read",
                Kind::Transient,
                format!("GetObject {url}: reading the body failed: {e}"),
                "see the tcp rows",
            ),
        },
        other => needed_call_failed("s3 read", Operation::GetObject, &url, endpoint, &other),
    };
    t.push(read);
    put.outcome()
}

/// A receive with visibility 0 (whatever it sees stays visible to the engine) and a delete
/// with a made-up receipt handle (authorized calls answer ReceiptHandleIsInvalid).
async fn sqs_receive_and_delete(
    config: &Config,
    sqs: &aws_sdk_sqs::Client,
    endpoint: &str,
    t: &mut Table,
) -> (Outcome, Outcome) {
    let queue = &config.queue_url;
    let receive = call(
        sqs.receive_message()
            .queue_url(queue)
            .max_number_of_messages(1)
            .wait_time_seconds(0)
            .visibility_timeout(0)
            .send(),
    )
    .await;
    let mut row =
        needed_call_failed("sqs receive", Operation::ReceiveMessage, queue, endpoint, &receive);
    if let Call::Ok(out) = &receive {
        let n = out.messages().len();
        row.detail = format!(
            "ReceiveMessage {queue}: ok ({n} message(s) seen; visibility 0 left them visible)"
        );
    }
    t.push(row);
    let delete = call(
        sqs.delete_message()
            .queue_url(queue)
            .receipt_handle("vpce-lab-doctor-invalid-receipt-handle")
            .send(),
    )
    .await;
    let delete_outcome = match &delete {
        Call::Failed { code, .. } if code == "ReceiptHandleIsInvalid" => Outcome::Allowed,
        Call::Ok(_) => Outcome::Allowed,
        other => other.outcome(),
    };
    t.push(match &delete_outcome {
        Outcome::Allowed => Check::pass(
            "sqs delete",
            "DeleteMessage authorized (a made-up receipt handle was refused as \
             ReceiptHandleIsInvalid, not denied)",
        ),
        _ => needed_call_failed("sqs delete", Operation::DeleteMessage, queue, endpoint, &delete),
    });
    (receive.outcome(), delete_outcome)
}

/// The result of one SDK call, classified.
pub(super) enum Call<T> {
    Ok(T),
    Failed { failure: Answer, code: String, text: String },
    TimedOut,
}

pub(super) async fn call<T, E, F>(fut: F) -> Call<T>
where
    F: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match tokio::time::timeout(CALL_TIMEOUT, fut).await {
        Err(_) => Call::TimedOut,
        Ok(Ok(v)) => Call::Ok(v),
        Ok(Err(e)) => {
            let code = e.code().unwrap_or_default().to_string();
            let failure = classify(&e);
            let text = match &failure {
                Answer::Denied { .. } => "denied (HTTP 403)".to_string(),
                Answer::NotFound => format!("not found (404 {code})"),
                Answer::PreconditionFailed => "precondition failed (412)".to_string(),
                Answer::Transient(d) | Answer::Other { detail: d, .. } => d.clone(),
            };
            Call::Failed { failure, code, text }
        }
    }
}

impl<T> Call<T> {
    pub(super) fn outcome(&self) -> Outcome {
        match self {
            Call::Ok(_) => Outcome::Allowed,
            Call::Failed { failure: Answer::Denied { .. }, .. } => Outcome::Denied,
            Call::Failed { text, .. } => Outcome::Inconclusive(text.clone()),
            Call::TimedOut => Outcome::Inconclusive(format!(
                "no answer within {}s (an endpoint security group that drops packets?)",
                CALL_TIMEOUT.as_secs()
            )),
        }
    }
}

/// A failing row for a call the apps need, from how it failed.
pub(super) fn needed_call_failed<T>(
    name: &str,
    operation: Operation,
    resource: &str,
    endpoint: &str,
    result: &Call<T>,
) -> Check {
    match result {
        Call::Ok(_) => Check::pass(name, format!("{operation} {resource}: ok")),
        Call::Failed { failure: Answer::Denied { .. }, .. } => Check::fail(
            name,
            Kind::Denied,
            format!("{operation} {resource}: denied (HTTP 403)"),
            operation.denial_hint(),
        ),
        Call::Failed { text, .. } => Check::fail(
            name,
            Kind::Transient,
            format!("{operation} {resource} via {endpoint}: {text}"),
            "see the dns and tcp rows above; a 404 NoSuchBucket means `bucket` names no bucket",
        ),
        Call::TimedOut => Check::fail(
            name,
            Kind::Transient,
            format!(
                "{operation} {resource} via {endpoint}: no answer within {}s",
                CALL_TIMEOUT.as_secs()
            ),
            "an endpoint security group admitting only the apps' security groups makes other \
             sources time out; check this instance's security group",
        ),
    }
}

/// Which of the lab's controls typically denies the AWS operation called `operation`.
pub(super) fn denial_hint(operation: Option<Operation>) -> &'static str {
    operation.map_or(
        "Check the instance role and the VPC endpoint and resource policies of the lab.",
        Operation::denial_hint,
    )
}
