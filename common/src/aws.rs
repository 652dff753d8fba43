//! Builds the S3 and SQS clients in one place, and classifies what the SDK reports.
//!
//! Every call the daemons make gets: a pinned region and endpoint (a VPC endpoint must be
//! used, never "whatever the default resolves to" by accident), an explicit connect timeout,
//! an explicit per-attempt timeout (ReceiveMessage's is longer than the long poll, see
//! [`receive_attempt_timeout`]), and the SDK's standard retry mode (exponential backoff with
//! jitter, at most [`SDK_MAX_ATTEMPTS`] attempts) beneath our own backoff in the daemons.

use std::time::Duration;

use aws_config::{retry::RetryConfig, timeout::TimeoutConfig, BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response as HttpResponse;

use crate::config::Config;
use crate::error::Error;

/// Attempts per call inside the SDK (the first try plus two retries).
pub const SDK_MAX_ATTEMPTS: u32 = 3;
/// The default of `endpoints.connect_timeout`. A TCP connect to a VPC endpoint takes milliseconds; a security group that drops packets
/// makes it hang instead, and this turns the hang into a clear, fast error.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The default of `endpoints.attempt_timeout`: one attempt of any call but ReceiveMessage
/// (an 8 MiB part at a slow 1 MiB/s fits).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// A body that sends nothing for this long is treated as stalled (no SDK timeout covers
/// the body of a streaming GetObject once the headers have arrived). The S3 client's
/// configured attempt timeout (`endpoints.attempt_timeout`) is used instead when it has one.
pub const BODY_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The per-attempt timeout of ReceiveMessage: the long poll plus a margin (the configured
/// attempt timeout, at most 10 s), so a healthy 20 s poll is never cut short and a dead
/// connection still ends.
pub fn receive_attempt_timeout(wait_time: Duration, attempt_timeout: Duration) -> Duration {
    wait_time + attempt_timeout.min(Duration::from_secs(10))
}

/// The SDK configuration shared by both clients.
pub async fn sdk_config(config: &Config) -> Result<SdkConfig, Error> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(config.endpoints.connect_timeout)
                .operation_attempt_timeout(config.endpoints.attempt_timeout)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(SDK_MAX_ATTEMPTS));
    if let Some(region) = &config.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let sdk = loader.load().await;
    if sdk.region().is_none() {
        return Err(Error::Config(
            "no AWS region: set `region` in the configuration or AWS_REGION".into(),
        ));
    }
    Ok(sdk)
}

/// The S3 client: pinned endpoint and path style from `[endpoints]`.
pub fn s3_client(sdk: &SdkConfig, config: &Config) -> aws_sdk_s3::Client {
    let mut builder =
        aws_sdk_s3::config::Builder::from(sdk).force_path_style(config.endpoints.force_path_style);
    if let Some(url) = &config.endpoints.s3 {
        builder = builder.endpoint_url(url);
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// The SQS client: pinned endpoint from `[endpoints]` (e.g. the interface endpoint's name).
/// With `require_private_sqs`, always pinned to the URL [`check_private_sqs`] checked.
pub fn sqs_client(sdk: &SdkConfig, config: &Config) -> aws_sdk_sqs::Client {
    let mut builder = aws_sdk_sqs::config::Builder::from(sdk);
    if let Some(url) = &config.endpoints.sqs {
        builder = builder.endpoint_url(url);
    } else if config.endpoints.require_private_sqs {
        let region = configured_region(config)
            .or_else(|| sdk.region().map(|r| r.to_string()))
            .unwrap_or_default();
        builder = builder
            .endpoint_url(sqs_endpoint_url(config, &region, &|name| std::env::var(name).ok()));
    }
    aws_sdk_sqs::Client::from_conf(builder.build())
}

/// What an SDK failure means for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// HTTP 403. Under the lab's policy this includes a GetObject of a missing key.
    Denied { code: String },
    /// HTTP 404 (the emulator, or AWS with `s3:ListBucket`).
    NotFound,
    /// HTTP 412: a conditional write lost a race.
    PreconditionFailed,
    /// Worth retrying later: timeouts, connection failures, 5xx, throttling.
    Transient(String),
    /// Anything else: retrying the same request will not help.
    Other(String),
}

/// Error codes that mean "slow down" whatever their status.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "SlowDown",
    "RequestLimitExceeded",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "ServiceUnavailable",
    "KMS.ThrottlingException",
];

/// Classifies any SDK error by its kind, HTTP status and error code.
///
/// SQS denials under moto come back as HTTP 403 with no code the SDK can read, and AWS
/// itself varies the code (`AccessDenied`, `AccessDeniedException`,
/// `AWS.SimpleQueueService.AccessDenied`…), so the status decides, not the code.
pub fn classify<E>(err: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = || aws_smithy_error_detail(err);
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Failure::Transient(detail())
        }
        SdkError::ConstructionFailure(_) => Failure::Other(detail()),
        SdkError::ServiceError(service) => {
            let status = Some(service.raw().status().as_u16());
            let code = err.code().unwrap_or("").to_string();
            match status {
                Some(403) => Failure::Denied { code },
                Some(404) => Failure::NotFound,
                Some(412) => Failure::PreconditionFailed,
                Some(429) => Failure::Transient(detail()),
                Some(s) if s >= 500 => Failure::Transient(detail()),
                _ if THROTTLING_CODES.contains(&code.as_str()) => Failure::Transient(detail()),
                _ if code == "NoSuchKey" || code == "NotFound" => Failure::NotFound,
                _ => Failure::Other(detail()),
            }
        }
        _ => Failure::Transient(detail()),
    }
}

/// A one-line description of an SDK error with its whole cause chain (the SDK's own
/// `Display` says only "service error"). Credentials never appear in SDK errors.
fn aws_smithy_error_detail<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: std::error::Error + 'static,
{
    use std::error::Error as _;
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// The IAM action AWS authorizes `operation` as (HeadObject as `s3:GetObject`, multipart
/// calls as `s3:PutObject`, batches as their single forms).
pub fn iam_action(operation: &str) -> &'static str {
    match operation {
        "GetObject" | "HeadObject" => "s3:GetObject",
        "PutObject" | "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" => {
            "s3:PutObject"
        }
        "SendMessage" | "SendMessageBatch" => "sqs:SendMessage",
        "ReceiveMessage" => "sqs:ReceiveMessage",
        "DeleteMessage" | "DeleteMessageBatch" => "sqs:DeleteMessage",
        _ => "an action the lab does not grant",
    }
}

/// Which of the lab's controls typically causes a 403 on `operation`, for operators.
pub fn denial_hint(operation: &str) -> &'static str {
    match operation {
        "GetObject" | "HeadObject" => {
            "Under the lab's policy a missing object also answers 403 (there is no s3:ListBucket). \
             Otherwise the usual cause is the S3 gateway endpoint policy (only s3:GetObject and \
             s3:PutObject on the restricted bucket) or the instance role lacking s3:GetObject."
        }
        "PutObject" | "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" => {
            "Usual causes: the restricted bucket's policy denies s3:PutObject unless it arrives \
             through the S3 gateway endpoint (aws:sourceVpce) — check that this subnet's route \
             table is associated with the endpoint; the gateway endpoint policy (only the \
             restricted bucket); or the instance role lacking s3:PutObject."
        }
        "SendMessage" | "SendMessageBatch" | "ReceiveMessage" | "DeleteMessage"
        | "DeleteMessageBatch" => {
            "Usual causes: the SQS interface endpoint policy (only SendMessage, ReceiveMessage, \
             DeleteMessage on the lab's queue); the queue policy, which allows them only through \
             the interface endpoint (aws:sourceVpce) — check that endpoints.sqs or private DNS \
             points at the endpoint; or the instance role lacking the action."
        }
        _ => "Check the instance role and the VPC endpoint and resource policies of the lab.",
    }
}

/// Turns a classified failure into the library's error, naming operation and resource.
pub fn to_error(operation: &'static str, resource: impl Into<String>, failure: Failure) -> Error {
    let resource = resource.into();
    match failure {
        Failure::Denied { code } => Error::Denied {
            operation,
            resource,
            code: if code.is_empty() { String::new() } else { format!(" {code}") },
            hint: format!(
                "It needs {} on this resource. {}",
                iam_action(operation),
                denial_hint(operation)
            ),
        },
        Failure::NotFound => {
            Error::Service { operation, resource, detail: "not found (404)".into() }
        }
        Failure::PreconditionFailed => Error::Service {
            operation,
            resource,
            detail: "precondition failed (412): another writer changed it first".into(),
        },
        Failure::Transient(detail) => Error::Unavailable { operation, resource, detail },
        Failure::Other(detail) => Error::Service { operation, resource, detail },
    }
}

/// Capped exponential backoff with full jitter, for the daemons' own retry loops on top of
/// the SDK's: a dead endpoint is probed at most every `cap`, not hammered.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff { base, cap, attempt: 0 }
    }
    /// The next delay: uniform in [d/2, d] with d = min(cap, base × 2^attempt).
    pub fn next_delay(&mut self) -> Duration {
        let exp = self.base.saturating_mul(1u32 << self.attempt.min(16));
        let ceiling = exp.min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        half + ceiling.saturating_sub(half).mul_f64(fastrand::f64())
    }
    /// After a success: start again from `base`.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

/// The SQS endpoint URL the client will use, as the SDK would choose it: `endpoints.sqs`,
/// else `AWS_ENDPOINT_URL_SQS`, else `AWS_ENDPOINT_URL` (both ignored when
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), else the regional default. `env` reads the
/// environment (a parameter so tests need not touch the process's).
pub fn sqs_endpoint_url(
    config: &Config,
    region: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> String {
    let env_set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let ignore_env = env_set("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    config
        .endpoints
        .sqs
        .clone()
        .or_else(|| if ignore_env { None } else { env_set("AWS_ENDPOINT_URL_SQS") })
        .or_else(|| if ignore_env { None } else { env_set("AWS_ENDPOINT_URL") })
        .unwrap_or_else(|| format!("https://sqs.{region}.amazonaws.com"))
}

/// The region `check_private_sqs` uses for the default endpoint's name.
fn configured_region(config: &Config) -> Option<String> {
    config
        .region
        .clone()
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .filter(|r| !r.is_empty())
}

/// The SQS endpoint's host and port (see [`sqs_endpoint_url`]).
pub fn sqs_endpoint_host(config: &Config, region: &str) -> (String, u16) {
    let url = sqs_endpoint_url(config, region, &|name| std::env::var(name).ok());
    (crate::config::url_host(&url).unwrap_or_default().to_string(), crate::config::url_port(&url))
}

/// With `require_private_sqs`, resolves the SQS endpoint's host before anything is sent and
/// refuses to start when any answer is a public address: then the interface endpoint's
/// private DNS is not in effect and messages would leave through the NAT gateway.
///
/// It runs before any client exists (both binaries call it before [`sdk_config`]), and the
/// host it checks is the one [`sqs_client`] then pins, so what was checked is what is used
/// (an `endpoint_url` from a profile file cannot slip in between).
pub async fn check_private_sqs(config: &Config) -> Result<(), Error> {
    if !config.endpoints.require_private_sqs {
        return Ok(());
    }
    let region = configured_region(config).unwrap_or_default();
    let url = sqs_endpoint_url(config, &region, &|name| std::env::var(name).ok());
    // Nothing pinned and no region: the default name would be `sqs..amazonaws.com`.
    if region.is_empty() && url == "https://sqs..amazonaws.com" {
        return Err(Error::Config(
            "require_private_sqs: no region to name the SQS endpoint by: set `region` or \
             endpoints.sqs (the interface endpoint's DNS name)"
                .into(),
        ));
    }
    let (host, port) = (
        crate::config::url_host(&url).unwrap_or_default().to_string(),
        crate::config::url_port(&url),
    );
    let addrs: Vec<std::net::IpAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| Error::Config(format!("require_private_sqs: cannot resolve {host}: {e}")))?
        .map(|a| a.ip())
        .collect();
    let public: Vec<String> = addrs
        .iter()
        .filter(|ip| !crate::net::AddressClass::of(**ip).is_private())
        .map(|ip| ip.to_string())
        .collect();
    if addrs.is_empty() || !public.is_empty() {
        return Err(Error::Config(format!(
            "require_private_sqs: the SQS endpoint {host} resolves to public address(es) {} \
             (all answers: {}); the interface endpoint's private DNS is not in effect here. \
             Set endpoints.sqs to the endpoint's vpce-… DNS name or enable private DNS",
            public.join(", "),
            addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        for _ in 0..20 {
            assert!(b.next_delay() <= Duration::from_secs(2));
        }
        let late = b.next_delay();
        assert!(late >= Duration::from_secs(1), "{late:?}");
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn receive_timeout_outlasts_the_long_poll() {
        let twenty = Duration::from_secs(20);
        assert_eq!(receive_attempt_timeout(twenty, ATTEMPT_TIMEOUT), twenty * 3 / 2);
        assert_eq!(
            receive_attempt_timeout(Duration::from_secs(1), Duration::from_secs(2)),
            Duration::from_secs(3)
        );
    }

    #[test]
    fn denial_hints_name_the_controls() {
        assert!(denial_hint("PutObject").contains("aws:sourceVpce"));
        assert!(denial_hint("GetObject").contains("missing object"));
        assert!(denial_hint("SendMessage").contains("interface endpoint"));
        let e = to_error("UploadPart", "s3://b/k", Failure::Denied { code: "AccessDenied".into() });
        let text = e.to_string();
        assert!(text.starts_with("UploadPart on s3://b/k was denied (HTTP 403 AccessDenied)"));
        assert!(text.contains("needs s3:PutObject"), "{text}");
        assert!(text.contains("bucket's policy"), "{text}");
        assert_eq!(e.exit_code(), crate::error::exit::NOPERM);
        let e =
            to_error("DeleteMessageBatch", "https://q", Failure::Denied { code: String::new() });
        assert!(e.to_string().contains("(HTTP 403). It needs sqs:DeleteMessage"), "{e}");
        assert!(e.to_string().contains("queue policy"), "{e}");
    }

    fn config(sqs: Option<&str>) -> Config {
        let mut c =
            Config::from_parts("t", "bucket = \"b-b\"\nqueue_url = \"https://q/1/q\"\n", &[], &[])
                .unwrap();
        c.endpoints.sqs = sqs.map(str::to_string);
        c
    }

    #[test]
    fn the_checked_sqs_endpoint_is_the_one_the_sdk_would_use() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        let none = env(&[]);
        assert_eq!(
            sqs_endpoint_url(&config(None), "eu-west-1", &none),
            "https://sqs.eu-west-1.amazonaws.com"
        );
        let both = env(&[
            ("AWS_ENDPOINT_URL_SQS", "http://10.0.1.5"),
            ("AWS_ENDPOINT_URL", "http://10.9.9.9"),
        ]);
        assert_eq!(sqs_endpoint_url(&config(None), "r", &both), "http://10.0.1.5");
        assert_eq!(sqs_endpoint_url(&config(Some("https://vpce-1")), "r", &both), "https://vpce-1");
        let global = env(&[("AWS_ENDPOINT_URL", "http://10.9.9.9")]);
        assert_eq!(sqs_endpoint_url(&config(None), "r", &global), "http://10.9.9.9");
        let ignored = env(&[
            ("AWS_ENDPOINT_URL_SQS", "http://10.0.1.5"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
        ]);
        assert_eq!(sqs_endpoint_url(&config(None), "r", &ignored), "https://sqs.r.amazonaws.com");
    }
}
