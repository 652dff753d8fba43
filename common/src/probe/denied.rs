//! The calls the lab's policies deny, which `doctor --controls` makes to show that they are
//! denied: DeleteObject (of the key doctor itself just wrote), PutObject to the lab's *other*
//! bucket, ListBuckets and ListQueues. The only place in the code that makes them: the
//! daemons' store and queue cannot, by design, and must stay that way.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use super::{Call, Probes};

impl Probes {
    /// DeleteObject of `key` of the configured bucket (doctor tries only its own probe).
    pub async fn delete_object(&self, key: &str) -> Call<()> {
        self.call(None, self.s3.delete_object().bucket(&self.bucket).key(key).send())
            .await
            .map(|_| ())
    }

    /// PutObject of `body` at `key` of `bucket`, another bucket than the configured one.
    pub async fn put_object_elsewhere(
        &self,
        bucket: &str,
        key: &str,
        body: &'static [u8],
    ) -> Call<()> {
        let put = self
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .body(ByteStream::from_static(body))
            .send();
        self.call(None, put).await.map(|_| ())
    }

    /// ListBuckets.
    pub async fn list_buckets(&self) -> Call<()> {
        self.call(None, self.s3.list_buckets().send()).await.map(|_| ())
    }

    /// ListQueues.
    pub async fn list_queues(&self) -> Call<()> {
        self.call(None, self.sqs.list_queues().send()).await.map(|_| ())
    }
}
