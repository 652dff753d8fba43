//! The one way the binaries get to S3 and SQS.

use crate::aws::{s3_client, sdk_config, sqs_client};
use crate::config::Config;
use crate::endpoints::{check_private_sqs, EndpointUrls};
use crate::failure::Error;
use crate::queue::Queue;
use crate::store::Store;
use crate::Program;

/// Loads the SDK's configuration, checks the SQS endpoint (`require_private_sqs`) and
/// builds the store and the queue: the one way the binaries get to S3 and SQS. Nothing is
/// sent before the check has passed.
pub async fn connect(config: &Config, program: Program) -> Result<(Store, Queue), Error> {
    let sdk = sdk_config(config, program).await?;
    let endpoints = EndpointUrls::of(config, &sdk).await?;
    check_private_sqs(config, &endpoints.sqs).await?;
    let store = Store::new(s3_client(&sdk, config), &config.bucket, endpoints.s3);
    let queue =
        Queue::new(sqs_client(&sdk, config, &endpoints.sqs), &config.queue_url, endpoints.sqs);
    Ok((store, queue))
}
