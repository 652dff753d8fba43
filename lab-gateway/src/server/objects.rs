//! S3 through the gateway: each call decided, then relayed; the bucket policies, which the
//! gateway keeps; the 403 for a missing object; DeleteObjects decided key by key.

use http::Response;
use hyper::body::Incoming;

use super::{pass, reply, with_body, Ctx, Gateway};
use super::{ANSWER_LIMIT, DRAIN_LIMIT, POLICY_LIMIT, REQUEST_LIMIT};
use crate::check::{bucket_arn, Check};
use crate::decide::{Refusal, Verdict};
use crate::policy::{parse, PolicyKind};
use crate::record::Outcome;
use crate::reply::{access_denied, denial_message, error, Reply};
use crate::request::Head;
use crate::s3::{self, Special};
use crate::upstream::{self, full, streamed, Body, UpstreamError};

impl Gateway {
    pub(super) async fn s3(
        &self,
        ctx: &mut Ctx<'_>,
        head: &Head,
        parts: http::request::Parts,
        incoming: Incoming,
    ) -> Response<Body> {
        let call = s3::map(head);
        ctx.operation = call.operation.to_string();
        let bucket = call.bucket.clone().unwrap_or_default();
        if call.special == Special::DeleteObjects {
            return self.delete_objects(ctx, &bucket, parts, incoming).await;
        }
        if let Err(denial) = self.decide_all(ctx, &call.checks) {
            let _ = upstream::collect(incoming, DRAIN_LIMIT).await;
            return reply(denial);
        }
        match call.special {
            Special::PutBucketPolicy | Special::GetBucketPolicy | Special::DeleteBucketPolicy => {
                self.bucket_policy(ctx, call.special, &bucket, incoming).await
            }
            Special::ReadObject => match self.forward(parts, streamed(incoming), None).await {
                Ok(answer) if answer.status() == http::StatusCode::NOT_FOUND => {
                    self.missing_object(ctx, &bucket, &call.checks[0], answer).await
                }
                Ok(answer) => pass(answer),
                Err(e) => Self::unavailable(ctx.shape, &e),
            },
            Special::None | Special::DeleteObjects => {
                self.relay(ctx.shape, parts, streamed(incoming), None).await
            }
        }
    }

    /// The emulator says the object does not exist: without `s3:ListBucket`, AWS says 403.
    async fn missing_object(
        &self,
        ctx: &Ctx<'_>,
        bucket: &str,
        read: &Check,
        answer: Response<Incoming>,
    ) -> Response<Body> {
        let (parts, body) = answer.into_parts();
        let body = upstream::collect(body, ANSWER_LIMIT).await.unwrap_or_default();
        if String::from_utf8_lossy(&body).contains("<Code>NoSuchBucket</Code>") {
            return with_body(parts, body.to_vec());
        }
        let list = Check::new("s3:ListBucket", bucket_arn(bucket));
        let identity = ctx.current.identity(ctx.caller);
        let now = time::OffsetDateTime::now_utc();
        match ctx.current.world.authorize(ctx.host, ctx.caller, identity, &list, now) {
            Verdict::Allow { .. } => with_body(parts, body.to_vec()),
            Verdict::Deny(refusal) => {
                let missing = Refusal {
                    reason: format!(
                        "the object does not exist, and without s3:ListBucket on {} AWS answers 403 AccessDenied, not 404: {}",
                        list.resource, refusal.reason
                    ),
                    ..refusal.clone()
                };
                self.log(ctx, read, Outcome::Deny, None, Some(("object_missing", &missing)));
                let message =
                    denial_message(&ctx.caller.arn, &list.action, &list.resource, &refusal);
                reply(access_denied(ctx.shape, &message))
            }
        }
    }

    async fn bucket_policy(
        &self,
        ctx: &Ctx<'_>,
        special: Special,
        bucket: &str,
        incoming: Incoming,
    ) -> Response<Body> {
        let body = match upstream::collect(incoming, POLICY_LIMIT).await {
            Ok(b) => b,
            Err(UpstreamError::TooLarge(_)) => {
                return reply(error(
                    ctx.shape,
                    400,
                    "PolicyTooLarge",
                    "Policy exceeds the maximum allowed document size (20 KB).",
                    &[],
                ))
            }
            Err(e) => return reply(error(ctx.shape, 400, "IncompleteBody", &e.to_string(), &[])),
        };
        match self.state.emulator.bucket_exists(bucket).await {
            Ok(true) => {}
            Ok(false) => {
                return reply(error(
                    ctx.shape,
                    404,
                    "NoSuchBucket",
                    "The specified bucket does not exist",
                    &[("BucketName", bucket)],
                ))
            }
            Err(e) => {
                return reply(error(ctx.shape, 503, "ServiceUnavailable", &e.to_string(), &[]))
            }
        }
        let saved = match special {
            Special::PutBucketPolicy => {
                let text = String::from_utf8_lossy(&body).into_owned();
                if let Err(e) = parse(PolicyKind::Bucket, bucket, &text) {
                    return reply(error(
                        ctx.shape,
                        400,
                        "MalformedPolicy",
                        &format!("Policies must be valid JSON: {}", e.reason),
                        &[],
                    ));
                }
                self.state.change_own(|own| {
                    own.buckets.insert(bucket.to_string(), text);
                })
            }
            Special::DeleteBucketPolicy => self.state.change_own(|own| {
                own.buckets.remove(bucket);
            }),
            _ => {
                return match self.state.own().buckets.get(bucket) {
                    Some(policy) => reply(Reply {
                        status: 200,
                        headers: vec![("content-type", "application/json".into())],
                        body: policy.clone().into_bytes(),
                    }),
                    None => reply(error(
                        ctx.shape,
                        404,
                        "NoSuchBucketPolicy",
                        "The bucket policy does not exist",
                        &[("BucketName", bucket)],
                    )),
                };
            }
        };
        match saved {
            Ok(()) => reply(Reply { status: 204, headers: vec![], body: Vec::new() }),
            Err(e) => reply(error(
                ctx.shape,
                500,
                "InternalError",
                &format!("the gateway cannot save its bucket policies: {e}"),
                &[],
            )),
        }
    }

    /// DeleteObjects: one decision per key; the denied keys answered as errors inside the
    /// 200, the others deleted by the emulator.
    async fn delete_objects(
        &self,
        ctx: &Ctx<'_>,
        bucket: &str,
        parts: http::request::Parts,
        incoming: Incoming,
    ) -> Response<Body> {
        let malformed = |why: String| reply(error(ctx.shape, 400, "MalformedXML", &why, &[]));
        let body = match upstream::collect(incoming, REQUEST_LIMIT).await {
            Ok(b) => b,
            Err(e) => return malformed(e.to_string()),
        };
        let (entries, quiet) = match s3::parse_delete(&body) {
            Ok(parsed) => parsed,
            Err(why) => return malformed(why),
        };
        let (allowed, denied): (Vec<_>, Vec<_>) =
            entries.into_iter().partition(|e| self.decide(ctx, &e.check(bucket)).is_ok());
        if denied.is_empty() {
            return self.relay(ctx.shape, parts, full(body), None).await;
        }
        if allowed.is_empty() {
            let result = s3::merge_delete_result(None, &denied);
            return reply(Reply {
                status: 200,
                headers: vec![("content-type", "application/xml".into())],
                body: result.into_bytes(),
            });
        }
        let rebuilt = s3::delete_body(&allowed, quiet);
        let len = rebuilt.len();
        match self.forward(parts, full(rebuilt), Some(len)).await {
            Ok(answer) if answer.status().is_success() => {
                let (parts, body) = answer.into_parts();
                let body = upstream::collect(body, ANSWER_LIMIT).await.unwrap_or_default();
                let merged =
                    s3::merge_delete_result(Some(&String::from_utf8_lossy(&body)), &denied);
                with_body(parts, merged.into_bytes())
            }
            Ok(answer) => pass(answer),
            Err(e) => Self::unavailable(ctx.shape, &e),
        }
    }
}
