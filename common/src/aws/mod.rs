//! Builds the S3 and SQS clients in one place, and classifies what the SDK reports. The
//! clients never leave this crate: the store, the queue and doctor's named probes are the
//! only calls anyone can make.
//!
//! Every call the daemons make gets: a pinned region and endpoint (a VPC endpoint must be
//! used, never "whatever the default resolves to" by accident), an explicit connect timeout,
//! an explicit per-attempt timeout (ReceiveMessage's is longer than the long poll, see
//! [`receive_attempt_timeout`]), the SDK's retries beneath our own backoff in the daemons,
//! and the program's name as the user agent's app id (`app/salesapp`, `app/reportsengine`:
//! CloudTrail's `userAgent` tells the two apart).
//!
//! # The SDK's own settings win
//! - Retries: the SDK's chain decides (`AWS_MAX_ATTEMPTS`, `AWS_RETRY_MODE`, the profile's
//!   `max_attempts` / `retry_mode`), and without any of them it is the standard mode with
//!   [`DEFAULT_SDK_MAX_ATTEMPTS`] attempts (exponential backoff with jitter).
//! - Endpoints: chosen before the clients are built (`crate::endpoints`). A client pinned to
//!   a URL has FIPS and dual-stack switched off, since the URL already says which variant it
//!   is (the SDK refuses "a custom endpoint" together with either flag).

use std::time::Duration;

use aws_config::{timeout::TimeoutConfig, AppName, BehaviorVersion, Region, SdkConfig};

use crate::config::Config;
use crate::failure::Error;
use crate::Program;

mod answer;
mod metered;

pub(crate) use answer::{classify, credentials_answer, Answer};

/// Attempts per call inside the SDK when neither the environment nor the profile says
/// (the SDK's standard mode: the first try plus two retries).
pub const DEFAULT_SDK_MAX_ATTEMPTS: u32 = 3;
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

/// The SDK configuration shared by both clients: our timeouts, the program as app id, the
/// SDK's own retry settings (see the module docs).
pub async fn sdk_config(config: &Config, program: Program) -> Result<SdkConfig, Error> {
    let app = AppName::new(program.name())
        .map_err(|e| Error::config(format!("app name {}: {e}", program.name())))?;
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).app_name(app).timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(config.endpoints.connect_timeout)
            .operation_attempt_timeout(config.endpoints.attempt_timeout)
            .build(),
    );
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

/// Clears FIPS and dual-stack on a client pinned to a URL (see the module docs).
macro_rules! pinned {
    ($builder:expr, $url:expr) => {
        $builder.endpoint_url($url).use_fips(false).use_dual_stack(false)
    };
}

/// The S3 client: pinned endpoint (`endpoints.s3`) and path style from `[endpoints]`; every
/// attempt counted for the metrics.
pub fn s3_client(sdk: &SdkConfig, config: &Config) -> aws_sdk_s3::Client {
    let mut builder = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(config.endpoints.force_path_style)
        .interceptor(metered::Metered);
    if let Some(url) = &config.endpoints.s3 {
        builder = pinned!(builder, url);
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// The SQS client: pinned to `endpoints.sqs` (e.g. the interface endpoint's name), and with
/// `require_private_sqs` always pinned to `url`, the one `endpoints::check_private_sqs`
/// checked; every attempt counted for the metrics.
pub fn sqs_client(sdk: &SdkConfig, config: &Config, url: &str) -> aws_sdk_sqs::Client {
    let mut builder = aws_sdk_sqs::config::Builder::from(sdk).interceptor(metered::Metered);
    if config.endpoints.sqs.is_some() || config.endpoints.require_private_sqs {
        builder = pinned!(builder, url);
    }
    aws_sdk_sqs::Client::from_conf(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receive_timeout_outlasts_the_long_poll() {
        let twenty = Duration::from_secs(20);
        assert_eq!(
            receive_attempt_timeout(twenty, crate::config::DEFAULT_ATTEMPT_TIMEOUT),
            twenty * 3 / 2
        );
        assert_eq!(
            receive_attempt_timeout(Duration::from_secs(1), Duration::from_secs(2)),
            Duration::from_secs(3)
        );
    }
}
