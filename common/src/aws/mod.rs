//! Builds the S3 and SQS clients in one place, and classifies what the SDK reports.
//!
//! Every call the daemons make gets: a pinned region and endpoint (a VPC endpoint must be
//! used, never "whatever the default resolves to" by accident), an explicit connect timeout,
//! an explicit per-attempt timeout (ReceiveMessage's is longer than the long poll, see
//! [`receive_attempt_timeout`]), and the SDK's standard retry mode (exponential backoff with
//! jitter, at most [`SDK_MAX_ATTEMPTS`] attempts) beneath our own backoff in the daemons.

use std::time::Duration;

use aws_config::{retry::RetryConfig, timeout::TimeoutConfig, BehaviorVersion, Region, SdkConfig};

use crate::config::Config;
use crate::failure::{Error, Service};
use crate::queue::Queue;
use crate::store::Store;

mod answer;
mod metered;

pub(crate) use answer::{classify, Answer};

/// Attempts per call inside the SDK (the first try plus two retries).
pub const SDK_MAX_ATTEMPTS: u32 = 3;
/// The default of `endpoints.attempt_timeout`: one attempt of any call but ReceiveMessage.
/// Long enough for a multipart part over a slow link.
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

/// The S3 client: pinned endpoint and path style from `[endpoints]`; every attempt counted
/// for the metrics.
pub fn s3_client(sdk: &SdkConfig, config: &Config) -> aws_sdk_s3::Client {
    let mut builder = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(config.endpoints.force_path_style)
        .interceptor(metered::Metered);
    if let Some(url) = &config.endpoints.s3 {
        builder = builder.endpoint_url(url);
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// The SQS client: pinned endpoint from `[endpoints]` (e.g. the interface endpoint's name).
/// With `require_private_sqs`, always pinned to the URL [`check_private_sqs`] checked. Every
/// attempt counted for the metrics.
pub fn sqs_client(sdk: &SdkConfig, config: &Config) -> aws_sdk_sqs::Client {
    let mut builder = aws_sdk_sqs::config::Builder::from(sdk).interceptor(metered::Metered);
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
    fn receive_timeout_outlasts_the_long_poll() {
        let twenty = Duration::from_secs(20);
        assert_eq!(receive_attempt_timeout(twenty, ATTEMPT_TIMEOUT), twenty * 3 / 2);
        assert_eq!(
            receive_attempt_timeout(Duration::from_secs(1), Duration::from_secs(2)),
            Duration::from_secs(3)
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
