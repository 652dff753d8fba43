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
use crate::failure::{Error, Kind, Operation, Service};
use crate::queue::Queue;
use crate::store::Store;

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
        return Err(Error::config(
            "no AWS region: set `region` in the configuration or AWS_REGION",
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
        builder = builder.endpoint_url(endpoint_url(Service::Sqs, config, &region, &process_env));
    }
    aws_sdk_sqs::Client::from_conf(builder.build())
}

/// What an SDK failure says, before we know which object it was about: the store and the
/// queue then turn it into a [`Error`] (the 403 rule needs to know which object it was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// HTTP 403. Under the lab's policy this includes a GetObject of a missing key.
    Denied { code: String },
    /// HTTP 404 (the emulator, or AWS with `s3:ListBucket`).
    NotFound,
    /// HTTP 412: a conditional write lost a race.
    PreconditionFailed,
    /// Worth retrying later: timeouts, connection failures, 5xx, throttling.
    Transient(String),
    /// Anything else: retrying the same request will not help.
    Other { code: String, detail: String },
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

/// Error codes that mean the configuration names something that does not exist.
const MISCONFIGURED_CODES: &[&str] = &[
    "NoSuchBucket",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "InvalidAddress",
];

/// Classifies any SDK error by its kind, HTTP status and error code.
///
/// SQS denials under moto come back as HTTP 403 with no code the SDK can read, and AWS
/// itself varies the code (`AccessDenied`, `AccessDeniedException`,
/// `AWS.SimpleQueueService.AccessDenied`…), so the status decides, not the code.
pub(crate) fn classify<E>(err: &SdkError<E, HttpResponse>) -> Answer
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = || sdk_error_detail(err);
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Answer::Transient(detail())
        }
        SdkError::ConstructionFailure(_) => Answer::Other { code: String::new(), detail: detail() },
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = err.code().unwrap_or("").to_string();
            match status {
                403 => Answer::Denied { code },
                404 if !MISCONFIGURED_CODES.contains(&code.as_str()) => Answer::NotFound,
                412 => Answer::PreconditionFailed,
                429 => Answer::Transient(detail()),
                s if s >= 500 => Answer::Transient(detail()),
                _ if THROTTLING_CODES.contains(&code.as_str()) => Answer::Transient(detail()),
                _ if code == "NoSuchKey" || code == "NotFound" => Answer::NotFound,
                _ => Answer::Other { code, detail: detail() },
            }
        }
        _ => Answer::Transient(detail()),
    }
}

impl Answer {
    /// The failure this answer is, for `operation` on `resource` through `endpoint`.
    pub(crate) fn into_error(self, operation: Operation, resource: &str, endpoint: &str) -> Error {
        match self {
            Answer::Denied { code } => {
                let code = if code.is_empty() { String::new() } else { format!(" {code}") };
                let needs = operation.iam_action().unwrap_or("an action the lab does not grant");
                Error::new(
                    Kind::Denied,
                    operation,
                    resource,
                    format!(
                        "{operation} on {resource} was denied (HTTP 403{code}). It needs {needs} \
                         on this resource. {}",
                        operation.denial_hint()
                    ),
                )
            }
            Answer::NotFound => Error::new(
                Kind::Missing,
                operation,
                resource,
                format!("{operation} on {resource}: not found (HTTP 404)"),
            ),
            Answer::PreconditionFailed => Error::new(
                Kind::Unexpected,
                operation,
                resource,
                format!("{operation} on {resource}: precondition failed (HTTP 412)"),
            ),
            Answer::Transient(detail) => Error::new(
                Kind::Transient,
                operation,
                resource,
                format!("{operation} on {resource} via {endpoint} failed: {detail}"),
            ),
            Answer::Other { code, detail } if MISCONFIGURED_CODES.contains(&code.as_str()) => {
                let what = match operation.service() {
                    Some(Service::Sqs) => "`queue_url` names no queue this endpoint knows",
                    _ => "`bucket` names no bucket this endpoint knows",
                };
                Error::new(
                    Kind::Config,
                    operation,
                    resource,
                    format!("{operation} on {resource} via {endpoint} failed: {what} ({detail})"),
                )
            }
            Answer::Other { detail, .. } => Error::new(
                Kind::Unexpected,
                operation,
                resource,
                format!("{operation} on {resource} via {endpoint} failed: {detail}"),
            ),
        }
    }
}

/// A one-line description of an SDK error with its whole cause chain (the SDK's own
/// `Display` says only "service error"). Credentials never appear in SDK errors.
fn sdk_error_detail<E>(err: &SdkError<E, HttpResponse>) -> String
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

/// Checks the SQS endpoint (`require_private_sqs`), loads the SDK's configuration and
/// builds the store and the queue: the one way the binaries get to S3 and SQS.
pub async fn connect(config: &Config) -> Result<(Store, Queue), Error> {
    check_private_sqs(config).await?;
    let sdk = sdk_config(config).await?;
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let endpoint = |service| endpoint_url(service, config, &region, &process_env);
    let store = Store::new(s3_client(&sdk, config), &config.bucket, endpoint(Service::S3));
    let queue = Queue::new(sqs_client(&sdk, config), &config.queue_url, endpoint(Service::Sqs));
    Ok((store, queue))
}

/// How long a command keeps retrying transient failures on top of the SDK's own attempts
/// (SPEC §5, "One-shot commands end").
///
/// A one-shot command gets `endpoints.give_up_after` in all, counted from its start; after
/// that a transient failure is final (exit 69, naming operation and endpoint). The daemons
/// use [`Patience::none`]: their own loops back off and retry for as long as it takes.
#[derive(Debug, Clone)]
pub struct Patience {
    give_up_at: Option<std::time::Instant>,
    window: Duration,
    backoff: Backoff,
}

impl Patience {
    /// No retries beyond the SDK's.
    pub fn none() -> Patience {
        Patience {
            give_up_at: None,
            window: Duration::ZERO,
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(10)),
        }
    }

    /// Retries transient failures until `window` from now has passed.
    pub fn for_window(window: Duration) -> Patience {
        Patience {
            give_up_at: Some(std::time::Instant::now() + window),
            window,
            ..Patience::none()
        }
    }

    /// Runs `call` until it succeeds, fails for good, or the window is over.
    pub async fn retry<T, F, Fut>(&mut self, mut call: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        loop {
            let err = match call().await {
                Ok(value) => return Ok(value),
                Err(err) if err.kind() != Kind::Transient => return Err(err),
                Err(err) => err,
            };
            let Some(give_up_at) = self.give_up_at else { return Err(err) };
            let left = give_up_at.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(err.gave_up_after(self.window));
            }
            let delay = self.backoff.next_delay().min(left);
            err.log(&format!("transient failure; retrying in {delay:.1?}"));
            tokio::time::sleep(delay).await;
        }
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

/// Reads the process's environment; the endpoint functions take the environment as a
/// parameter so that tests need not touch the process's.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The endpoint URL a service's client uses, as the SDK chooses it: the configuration's
/// (`endpoints.s3`, `endpoints.sqs`), else `AWS_ENDPOINT_URL_<SERVICE>`, else
/// `AWS_ENDPOINT_URL` (both ignored when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), else
/// the regional default. It is what doctor examines, what `require_private_sqs` checks and
/// what failures name, so all three speak of the same endpoint.
pub fn endpoint_url(
    service: Service,
    config: &Config,
    region: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> String {
    let env_set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let ignore_env = env_set("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let (configured, variable, default) = match service {
        Service::S3 => (
            &config.endpoints.s3,
            "AWS_ENDPOINT_URL_S3",
            if config.endpoints.force_path_style {
                format!("https://s3.{region}.amazonaws.com")
            } else {
                // Virtual-host style: the bucket's own name is what gets resolved.
                format!("https://{}.s3.{region}.amazonaws.com", config.bucket)
            },
        ),
        Service::Sqs => (
            &config.endpoints.sqs,
            "AWS_ENDPOINT_URL_SQS",
            format!("https://sqs.{region}.amazonaws.com"),
        ),
    };
    configured
        .clone()
        .or_else(|| if ignore_env { None } else { env_set(variable) })
        .or_else(|| if ignore_env { None } else { env_set("AWS_ENDPOINT_URL") })
        .unwrap_or(default)
}

/// The region the endpoints are named by when nothing is pinned: the configuration's, else
/// the SDK's environment variables.
pub fn configured_region(config: &Config) -> Option<String> {
    config
        .region
        .clone()
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .filter(|r| !r.is_empty())
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
    let url = endpoint_url(Service::Sqs, config, &region, &process_env);
    // Nothing pinned and no region: the default name would be `sqs..amazonaws.com`.
    if region.is_empty() && url == "https://sqs..amazonaws.com" {
        return Err(Error::config(
            "require_private_sqs: no region to name the SQS endpoint by: set `region` or \
             endpoints.sqs (the interface endpoint's DNS name)",
        ));
    }
    let (host, port) = (
        crate::config::url_host(&url).unwrap_or_default().to_string(),
        crate::config::url_port(&url),
    );
    let addrs: Vec<std::net::IpAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| Error::config(format!("require_private_sqs: cannot resolve {host}: {e}")))?
        .map(|a| a.ip())
        .collect();
    let public: Vec<String> = addrs
        .iter()
        .filter(|ip| !sales_domain::net::AddressClass::of(**ip).is_private())
        .map(|ip| ip.to_string())
        .collect();
    if addrs.is_empty() || !public.is_empty() {
        return Err(Error::config(format!(
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
    fn denials_name_the_action_and_the_controls() {
        let deny = |code: &str| Answer::Denied { code: code.into() };
        let e = deny("AccessDenied").into_error(Operation::UploadPart, "s3://b/k", "https://s3");
        let text = e.to_string();
        assert!(text.starts_with("UploadPart on s3://b/k was denied (HTTP 403 AccessDenied)"));
        assert!(text.contains("needs s3:PutObject"), "{text}");
        assert!(text.contains("bucket's policy"), "{text}");
        assert_eq!(e.exit_code(), crate::failure::exit::NOPERM);
        let e = deny("").into_error(Operation::DeleteMessageBatch, "https://q", "https://sqs");
        assert!(e.to_string().contains("(HTTP 403). It needs sqs:DeleteMessage"), "{e}");
        assert!(e.to_string().contains("queue policy"), "{e}");
    }

    #[test]
    fn answers_become_kinds() {
        let kind = |a: Answer| a.into_error(Operation::GetObject, "s3://b/k", "http://e").kind();
        assert_eq!(kind(Answer::NotFound), Kind::Missing);
        assert_eq!(kind(Answer::Transient("refused".into())), Kind::Transient);
        assert_eq!(kind(Answer::PreconditionFailed), Kind::Unexpected);
        let other = |code: &str| Answer::Other { code: code.into(), detail: "x".into() };
        assert_eq!(kind(other("NoSuchBucket")), Kind::Config);
        assert_eq!(kind(other("InvalidArgument")), Kind::Unexpected);
        let e = Answer::Transient("connection refused".into()).into_error(
            Operation::ReceiveMessage,
            "http://q/1/q",
            "http://127.0.0.1:9",
        );
        assert_eq!(
            e.to_string(),
            "ReceiveMessage on http://q/1/q via http://127.0.0.1:9 failed: connection refused"
        );
    }

    fn config(sqs: Option<&str>) -> Config {
        let mut c =
            Config::from_parts("t", "bucket = \"b-b\"\nqueue_url = \"https://q/1/q\"\n", &[], &[])
                .unwrap();
        c.endpoints.sqs = sqs.map(str::to_string);
        c
    }

    #[test]
    fn the_checked_endpoint_is_the_one_the_sdk_would_use() {
        let sqs_endpoint_url = |c: &Config, region: &str, env: &dyn Fn(&str) -> Option<String>| {
            endpoint_url(Service::Sqs, c, region, env)
        };
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
        let s3 = env(&[("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")]);
        assert_eq!(endpoint_url(Service::S3, &config(None), "r", &s3), "http://127.0.0.1:9");
        assert_eq!(
            endpoint_url(Service::S3, &config(None), "r", &none),
            "https://b-b.s3.r.amazonaws.com"
        );
    }
}
