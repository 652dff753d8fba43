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
/// A finished part of a multipart upload, as [`Store::complete_multipart`] takes it.
pub use aws_sdk_s3::types::CompletedPart;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, ServerSideEncryption};
use bytes::{Bytes, BytesMut};

use aws_sdk_s3::error::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;

use crate::aws::{classify, Answer, BODY_STALL_TIMEOUT};
pub use ranged::ReadPlan;
use ranged::{total_of_content_range, RangeSource, Ranged};

mod ranged;
use crate::failure::{Error, Kind, Operation, Result};

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

/// Whether an object is there, as far as a HeadObject can tell under the lab's policy.
#[derive(Debug, Clone)]
pub enum Presence {
    Found(ObjectInfo),
    /// HTTP 404.
    Absent,
    /// HTTP 403: without `s3:ListBucket` a missing key answers 403 too, so only a
    /// create-only write (`If-None-Match: *`) can tell whether it exists.
    Unknown,
}

/// A small object read whole, or why not: 404 and 403 are answers here, which the caller's
/// rule judges (for our own state, the 403 rule in `crate::state`).
#[derive(Debug, Clone)]
pub enum Fetched {
    Found(Object),
    /// Larger than the caller takes: `size` bytes, the body not read.
    TooLarge {
        size: u64,
    },
    /// HTTP 404.
    NotFound,
    /// HTTP 403, with the error code S3 gave (may be empty).
    Denied {
        code: String,
    },
}

/// A streaming GetObject body: one response read as it arrives, and for a large object the
/// ranges after it, read over several connections (`ranged.rs`).
pub struct ObjectStream {
    pub size: Option<u64>,
    /// The SHA-256 its writer stored with it (`x-amz-meta-sha256`: salesapp's uploads), hex.
    pub stored_sha256: Option<String>,
    first: Option<Body>,
    rest: Option<Ranged<S3Range>>,
}

/// One response's body.
struct Body {
    stream: ByteStream,
    resource: String,
    endpoint: String,
    stall: Duration,
}

impl Body {
    /// The next chunk, `None` at the end. A body that sends nothing for `stall` (the S3
    /// client's attempt timeout, else `BODY_STALL_TIMEOUT`) is a transient failure: no SDK
    /// timeout covers a streaming body.
    async fn next(&mut self) -> Result<Option<Bytes>> {
        let failed = |detail: String| {
            Answer::Transient(detail).into_error(
                Operation::GetObject,
                &self.resource,
                &self.endpoint,
            )
        };
        match tokio::time::timeout(self.stall, self.stream.next()).await {
            Err(_) => Err(failed(format!("the body stalled for {:?}", self.stall))),
            Ok(None) => Ok(None),
            Ok(Some(Ok(bytes))) => Ok(Some(bytes)),
            Ok(Some(Err(e))) => Err(failed(format!("reading the body failed: {e}"))),
        }
    }

    /// The whole body, appended to `buf`.
    async fn collect_into(mut self, mut buf: BytesMut) -> Result<Bytes> {
        while let Some(chunk) = self.next().await? {
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    async fn collect(self) -> Result<Bytes> {
        self.collect_into(BytesMut::new()).await
    }
}

impl ObjectStream {
    /// Checks the SHA-256 of the bytes read (`actual`, computed by whoever read them) against
    /// the digest the object's writer stored with it, where there is one.
    ///
    /// This is how the objects salesapp wrote are verified whole. The SDK cannot check the
    /// checksum S3 gives for an object uploaded in parts: it is a checksum of the parts'
    /// checksums (`…-N`), and the SDK only says so, with a WARN on every such read ("This
    /// checksum is a part-level checksum which can't be validated by the Rust SDK"), which
    /// the operator can do nothing about. So the store reads inputs with the SDK's response
    /// checksum validation off ([`input_reads`]), and this check covers every object we
    /// wrote, in one piece or in parts. A mismatch is the object's fault (a digest that is
    /// not its bytes'), so it is bad input.
    pub fn verify(&self, url: &str, actual: &[u8; 32]) -> Result<()> {
        let Some(stored) = &self.stored_sha256 else { return Ok(()) };
        let actual = hex::encode(actual);
        if stored.eq_ignore_ascii_case(&actual) {
            return Ok(());
        }
        Err(Error::bad_input(
            Operation::GetObject,
            url,
            format!(
                "{url}: the bytes read have sha256 {actual}, not the {stored} its writer stored \
                 with it (metadata {SHA256_METADATA})"
            ),
        ))
    }

    /// The next chunk of the object, in order; `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        if let Some(first) = &mut self.first {
            match first.next().await? {
                Some(chunk) => return Ok(Some(chunk)),
                None => self.first = None,
            }
        }
        match &mut self.rest {
            Some(rest) => rest.next().await,
            None => Ok(None),
        }
    }
}

/// The configuration of every read of a sales object named by a message: the SDK's
/// response checksum validation only when required (never, for GetObject), so that it does
/// not ask S3 for a checksum it cannot check on objects uploaded in parts (see
/// [`ObjectStream::verify`], which checks those whole). A ranged GET gets no checksum from
/// S3 anyway; a GET of the whole object would.
fn input_reads() -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::default()
        .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired)
}

/// Ranges of one object version, through the store (`If-Match` its ETag).
#[derive(Clone)]
struct S3Range {
    store: Store,
    key: String,
    etag: Option<String>,
}

impl RangeSource for S3Range {
    async fn range(&self, start: u64, end: u64, buf: BytesMut) -> Result<Bytes> {
        let (store, key) = (&self.store, self.key.as_str());
        let out = store
            .client
            .get_object()
            .bucket(&store.bucket)
            .key(key)
            .range(format!("bytes={start}-{end}"))
            .set_if_match(self.etag.clone())
            .customize()
            .config_override(input_reads())
            .send()
            .await;
        match out {
            Ok(o) => store.body(key, o.body).collect_into(buf).await,
            // The object was replaced in the middle of the read: never stitch two versions;
            // the message comes back and reads the new one whole.
            Err(e) => match classify(&e) {
                Answer::PreconditionFailed => Err(Error::new(
                    Kind::Transient,
                    Operation::GetObject,
                    store.url(key),
                    format!("{} changed while it was being read", store.url(key)),
                )),
                answer => Err(store.failure(Operation::GetObject, key, answer).with_source(e)),
            },
        }
    }
}

/// The restricted bucket.
#[derive(Debug, Clone)]
pub struct Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    endpoint: String,
}

impl Store {
    /// The store of `bucket` through `client`, whose endpoint is `endpoint` (named in
    /// failures, since "connection refused" alone does not say where).
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        endpoint: impl Into<String>,
    ) -> Store {
        Store { client, bucket: bucket.into(), endpoint: endpoint.into() }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// `s3://bucket/key`, for messages and logs.
    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn failure(&self, operation: Operation, key: &str, answer: Answer) -> Error {
        answer.into_error(operation, &self.url(key), &self.endpoint)
    }

    /// HeadObject (authorized as `s3:GetObject`).
    pub async fn head(&self, key: &str) -> Result<Presence> {
        let out = self.client.head_object().bucket(&self.bucket).key(key).send().await;
        match out {
            Ok(o) => Ok(Presence::Found(ObjectInfo {
                size: o.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                etag: o.e_tag().map(str::to_string),
                sha256: o.metadata().and_then(|m| m.get(SHA256_METADATA)).cloned(),
            })),
            Err(e) => match classify(&e) {
                Answer::NotFound => Ok(Presence::Absent),
                Answer::Denied { .. } => Ok(Presence::Unknown),
                answer => Err(self.failure(Operation::HeadObject, key, answer).with_source(e)),
            },
        }
    }

    /// GetObject, streaming, of an object a message names as input; past its first part
    /// it is read as `plan` says, over several connections.
    ///
    /// The 403 rule for inputs: without `s3:ListBucket` a missing key answers 403, so a 403
    /// here is "missing" like a 404 ([`Kind::Missing`]): the message can never succeed.
    pub async fn open_input(&self, key: &str, plan: ReadPlan) -> Result<ObjectStream> {
        // One connection: one GET of the whole object. Ranges read one at a time would only
        // add requests, and moto answers each ranged GET by copying the whole object.
        if plan.connections <= 1 {
            return self.open_plain_input(key).await;
        }
        let first_part = format!("bytes=0-{}", plan.part.max(1) - 1);
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(first_part)
            .customize()
            .config_override(input_reads())
            .send()
            .await;
        let o = match out {
            Ok(o) => o,
            Err(e) => {
                return match classify(&e) {
                    // An empty object has no byte 0: read it plainly.
                    Answer::Other { code, .. } if code == "InvalidRange" => {
                        self.open_plain_input(key).await
                    }
                    answer => Err(self.input_failure(key, answer, e)),
                };
            }
        };
        let first_len = o.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        let size = o.content_range().and_then(total_of_content_range).unwrap_or(first_len);
        let rest = (size > first_len).then(|| {
            let source = S3Range {
                store: self.clone(),
                key: key.to_string(),
                etag: o.e_tag().map(str::to_string),
            };
            Ranged::start(source, plan, first_len, size)
        });
        let stored_sha256 = o.metadata().and_then(|m| m.get(SHA256_METADATA)).cloned();
        let first = Some(self.body(key, o.body));
        Ok(ObjectStream { size: Some(size), stored_sha256, first, rest })
    }

    async fn open_plain_input(&self, key: &str) -> Result<ObjectStream> {
        let get = self.client.get_object().bucket(&self.bucket).key(key);
        match get.customize().config_override(input_reads()).send().await {
            Ok(o) => Ok(ObjectStream {
                size: o.content_length().and_then(|n| u64::try_from(n).ok()),
                stored_sha256: o.metadata().and_then(|m| m.get(SHA256_METADATA)).cloned(),
                first: Some(self.body(key, o.body)),
                rest: None,
            }),
            Err(e) => Err(self.input_failure(key, classify(&e), e)),
        }
    }

    /// What a failed GetObject of an input means: 404 and 403 are "missing" (the 403 rule).
    fn input_failure<E>(
        &self,
        key: &str,
        answer: Answer,
        source: SdkError<E, HttpResponse>,
    ) -> Error
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let url = self.url(key);
        match answer {
            Answer::NotFound => Error::new(
                Kind::Missing,
                Operation::GetObject,
                &url,
                format!("{url} does not exist (HTTP 404)"),
            ),
            Answer::Denied { code } => Error::new(
                Kind::Missing,
                Operation::GetObject,
                &url,
                format!(
                    "{url} does not exist or may not be read (HTTP 403{}{code}; under the lab's \
                     policy, without s3:ListBucket, a GetObject of a missing key answers 403)",
                    if code.is_empty() { "" } else { " " }
                ),
            ),
            answer => self.failure(Operation::GetObject, key, answer).with_source(source),
        }
    }

    /// A response body, with the stall timeout of this client.
    fn body(&self, key: &str, stream: ByteStream) -> Body {
        Body {
            stream,
            resource: self.url(key),
            endpoint: self.endpoint.clone(),
            stall: self
                .client
                .config()
                .timeout_config()
                .and_then(|t| t.operation_attempt_timeout())
                .unwrap_or(BODY_STALL_TIMEOUT),
        }
    }

    /// GetObject of a small object, read whole; a 403 or 404 is handed back for the caller's
    /// rule to judge, and so is an object over `max_bytes` by the size S3 gives
    /// (`Content-Length`), its body left unread.
    pub async fn get_small(&self, key: &str, max_bytes: u64) -> Result<Fetched> {
        let out = self.client.get_object().bucket(&self.bucket).key(key).send().await;
        match out {
            Ok(o) => {
                let size = o.content_length().and_then(|n| u64::try_from(n).ok());
                if let Some(size) = size.filter(|&n| n > max_bytes) {
                    return Ok(Fetched::TooLarge { size });
                }
                let etag = o.e_tag().map(str::to_string);
                let body = self.body(key, o.body).collect().await?;
                Ok(Fetched::Found(Object { body, etag }))
            }
            Err(e) => match classify(&e) {
                Answer::NotFound => Ok(Fetched::NotFound),
                Answer::Denied { code } => Ok(Fetched::Denied { code }),
                answer => Err(self.failure(Operation::GetObject, key, answer).with_source(e)),
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
        let sent = req.send().await.map(|o| o.e_tag().map(str::to_string));
        self.written(Operation::PutObject, key, sent)
    }

    /// What the answer to a conditional write means: written, lost to another writer (412),
    /// or a failure of `operation`.
    fn written<E>(
        &self,
        operation: Operation,
        key: &str,
        sent: std::result::Result<Option<String>, SdkError<E, HttpResponse>>,
    ) -> Result<Written>
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match sent {
            Ok(etag) => Ok(Written::Ok { etag }),
            Err(e) => match classify(&e) {
                Answer::PreconditionFailed => Ok(Written::PreconditionFailed),
                answer => {
                    tracing::debug!(request_id = e.request_id(), %operation, "write failed");
                    Err(self.failure(operation, key, answer).with_source(e))
                }
            },
        }
    }

    /// CreateMultipartUpload (authorized as `s3:PutObject`), SSE AES256. An upload that is
    /// never completed cannot be aborted (no `s3:AbortMultipartUpload`): the bucket's
    /// lifecycle rule removes it.
    ///
    /// The checksum is named here, CRC32, and each part carries its own (the SDK computes
    /// it), so S3 checks every part on arrival and the object gets a composite checksum.
    /// Unnamed, S3 (and moto) assume a CRC64NVME of the *full object*, which moto computes
    /// at completion by copying the whole object twice more.
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
        let out = req.send().await.map_err(|e| {
            self.failure(Operation::CreateMultipartUpload, key, classify(&e)).with_source(e)
        })?;
        out.upload_id().map(str::to_string).ok_or_else(|| {
            Error::new(
                Kind::Unexpected,
                Operation::CreateMultipartUpload,
                self.url(key),
                format!("CreateMultipartUpload on {}: the answer had no UploadId", self.url(key)),
            )
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
            .map_err(|e| self.failure(Operation::UploadPart, key, classify(&e)).with_source(e))?;
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
        let sent = req.send().await.map(|o| o.e_tag().map(str::to_string));
        self.written(Operation::CompleteMultipartUpload, key, sent)
    }
}
