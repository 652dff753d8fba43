//! The few S3 operations the lab's policy allows, on the one restricted bucket.
//!
//! Only `s3:GetObject` (GetObject, HeadObject) and `s3:PutObject` (PutObject and the
//! multipart calls, which AWS authorizes as PutObject) exist here. There is deliberately no
//! list, delete or abort: the endpoint policy would deny them, and their absence from this
//! type is what keeps them out of the code (the action audit of the tests follows from it).
//! Every write asks for SSE `AES256`, as the bucket's policy expects.

use std::time::Duration;

use aws_sdk_s3::operation::RequestId;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ServerSideEncryption,
};
use bytes::Bytes;

use crate::aws::{classify, to_error, Failure, BODY_STALL_TIMEOUT};
use crate::error::{Error, Result};

/// The metadata key (`x-amz-meta-sha256`) holding a sales file's SHA-256, hex.
pub const SHA256_METADATA: &str = "sha256";

/// A conditional write (S3 conditional writes, supported since 2024).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Write whatever is there.
    None,
    /// `If-None-Match: *`: create only; 412 when the key exists.
    Create,
    /// `If-Match: ETAG`: replace only the version we read; 412 when someone wrote since.
    Match(String),
}

impl Condition {
    /// The (`If-Match`, `If-None-Match`) headers this condition sends.
    fn headers(self) -> (Option<String>, Option<String>) {
        match self {
            Condition::None => (None, None),
            Condition::Create => (None, Some("*".to_string())),
            Condition::Match(etag) => (Some(etag), None),
        }
    }
}

/// The result of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Ok {
        etag: Option<String>,
    },
    /// The condition did not hold (HTTP 412): re-read and try again.
    PreconditionFailed,
}

/// A small object read whole.
#[derive(Debug, Clone)]
pub struct Object {
    pub body: Bytes,
    pub etag: Option<String>,
}

/// What HeadObject tells.
#[derive(Debug, Clone)]
pub struct ObjectInfo {
    pub size: u64,
    pub etag: Option<String>,
    pub sha256: Option<String>,
}

/// A streaming GetObject body.
pub struct ObjectStream {
    pub size: Option<u64>,
    body: ByteStream,
    resource: String,
    stall: Duration,
}

impl ObjectStream {
    /// The next chunk, `None` at the end. A body that sends nothing for `stall` (the S3
    /// client's attempt timeout, else [`BODY_STALL_TIMEOUT`]) is a transient failure (no SDK
    /// timeout covers a streaming body).
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        match tokio::time::timeout(self.stall, self.body.next()).await {
            Err(_) => Err(Error::Unavailable {
                operation: "GetObject",
                resource: self.resource.clone(),
                detail: format!("the body stalled for {:?}", self.stall),
            }),
            Ok(None) => Ok(None),
            Ok(Some(Ok(bytes))) => Ok(Some(bytes)),
            Ok(Some(Err(e))) => Err(Error::Unavailable {
                operation: "GetObject",
                resource: self.resource.clone(),
                detail: format!("reading the body failed: {e}"),
            }),
        }
    }
}

/// The restricted bucket.
#[derive(Debug, Clone)]
pub struct Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl Store {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Store {
        Store { client, bucket: bucket.into() }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// `s3://bucket/key`, for messages and logs.
    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// HeadObject (authorized as `s3:GetObject`). `Ok(None)` on 404; a 403 is returned as
    /// [`Error::Denied`] because under the lab's policy it may mean either "missing" or
    /// "denied", and only the caller knows which matters.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        let out = self.client.head_object().bucket(&self.bucket).key(key).send().await;
        match out {
            Ok(o) => Ok(Some(ObjectInfo {
                size: o.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                etag: o.e_tag().map(str::to_string),
                sha256: o.metadata().and_then(|m| m.get(SHA256_METADATA)).cloned(),
            })),
            Err(e) => match classify(&e) {
                Failure::NotFound => Ok(None),
                failure => Err(to_error("HeadObject", self.url(key), failure)),
            },
        }
    }

    /// GetObject of a small object (the ledger), read whole. `Ok(None)` on 404; 403 as for
    /// [`Store::head`].
    pub async fn get(&self, key: &str) -> Result<Option<Object>> {
        let Some(mut stream) = self.open(key).await? else { return Ok(None) };
        let etag = stream.etag.take();
        let mut body = Vec::with_capacity(stream.inner.size.unwrap_or(0).min(64 << 20) as usize);
        while let Some(chunk) = stream.inner.next_chunk().await? {
            body.extend_from_slice(&chunk);
        }
        Ok(Some(Object { body: Bytes::from(body), etag }))
    }

    /// GetObject, streaming. `Ok(None)` on 404; 403 as for [`Store::head`].
    pub async fn open(&self, key: &str) -> Result<Option<OpenedObject>> {
        let out = self.client.get_object().bucket(&self.bucket).key(key).send().await;
        match out {
            Ok(o) => Ok(Some(OpenedObject {
                etag: o.e_tag().map(str::to_string),
                inner: ObjectStream {
                    size: o.content_length().and_then(|n| u64::try_from(n).ok()),
                    body: o.body,
                    resource: self.url(key),
                    stall: self
                        .client
                        .config()
                        .timeout_config()
                        .and_then(|t| t.operation_attempt_timeout())
                        .unwrap_or(BODY_STALL_TIMEOUT),
                },
            })),
            Err(e) => match classify(&e) {
                Failure::NotFound => Ok(None),
                failure => Err(to_error("GetObject", self.url(key), failure)),
            },
        }
    }

    /// PutObject of a body held in memory, SSE AES256, with an optional condition.
    pub async fn put(
        &self,
        key: &str,
        body: Bytes,
        content_type: &str,
        metadata: &[(&str, &str)],
        condition: Condition,
    ) -> Result<Written> {
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .body(ByteStream::from(body));
        for (k, v) in metadata {
            req = req.metadata(*k, *v);
        }
        let (if_match, if_none_match) = condition.headers();
        req = req.set_if_match(if_match).set_if_none_match(if_none_match);
        match req.send().await {
            Ok(o) => Ok(Written::Ok { etag: o.e_tag().map(str::to_string) }),
            Err(e) => match classify(&e) {
                Failure::PreconditionFailed => Ok(Written::PreconditionFailed),
                failure => {
                    tracing::debug!(request_id = e.request_id(), "PutObject failed");
                    Err(to_error("PutObject", self.url(key), failure))
                }
            },
        }
    }

    /// CreateMultipartUpload (authorized as `s3:PutObject`), SSE AES256. An upload that is
    /// never completed cannot be aborted (no `s3:AbortMultipartUpload`): the bucket's
    /// lifecycle rule removes it.
    ///
    /// The checksum is named here, CRC32, and each part carries its own (the SDK computes
    /// it): S3 checks every part on arrival and the object gets a composite checksum.
    /// Without it the SDK still sends part checksums but S3 (and moto) assume CRC64NVME
    /// over the *full object*, which moto computes by copying the whole object twice more
    /// at completion: 1 GiB took 4–10 s to complete instead of under 2 (issue 6).
    pub async fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
        metadata: &[(&str, &str)],
    ) -> Result<String> {
        let mut req = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .checksum_algorithm(ChecksumAlgorithm::Crc32);
        for (k, v) in metadata {
            req = req.metadata(*k, *v);
        }
        let out = req
            .send()
            .await
            .map_err(|e| to_error("CreateMultipartUpload", self.url(key), classify(&e)))?;
        out.upload_id().map(str::to_string).ok_or_else(|| Error::Service {
            operation: "CreateMultipartUpload",
            resource: self.url(key),
            detail: "the answer had no UploadId".into(),
        })
    }

    /// UploadPart; returns the part's ETag for completion.
    pub async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        body: Bytes,
    ) -> Result<CompletedPart> {
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(part_number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| to_error("UploadPart", self.url(key), classify(&e)))?;
        Ok(CompletedPart::builder()
            .part_number(part_number)
            .set_e_tag(out.e_tag().map(str::to_string))
            .set_checksum_crc32(out.checksum_crc32().map(str::to_string))
            .build())
    }

    /// CompleteMultipartUpload, with the same conditions as [`Store::put`].
    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<CompletedPart>,
        condition: Condition,
    ) -> Result<Written> {
        let mut req = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build());
        let (if_match, if_none_match) = condition.headers();
        req = req.set_if_match(if_match).set_if_none_match(if_none_match);
        match req.send().await {
            Ok(o) => Ok(Written::Ok { etag: o.e_tag().map(str::to_string) }),
            Err(e) => match classify(&e) {
                Failure::PreconditionFailed => Ok(Written::PreconditionFailed),
                failure => Err(to_error("CompleteMultipartUpload", self.url(key), failure)),
            },
        }
    }
}

/// A GetObject that answered: its ETag and its streaming body.
pub struct OpenedObject {
    pub etag: Option<String>,
    pub inner: ObjectStream,
}
