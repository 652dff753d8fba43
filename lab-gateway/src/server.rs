//! The gateway's network side: one set of listeners per host of the lab, on 127.0.0.1 only.
//!
//! - `endpoint`: everything the host sends (S3, SQS, EC2, IAM, STS, CloudFormation…). Each
//!   request is decided ([`crate::world::World::authorize`]), logged, and when allowed
//!   forwarded to the emulator unchanged (the `Host` header and the body, chunked or streamed,
//!   as received; only hop-by-hop headers are dropped).
//! - `sqs`: the same, for the host's SQS traffic alone (what `sqs.REGION.amazonaws.com`
//!   resolves to on that host). A security group is about connections: while the SQS
//!   interface endpoint's group does not admit the host, this listener accepts nothing and
//!   its backlog is kept full, so a client's connection attempt gets no answer and **times
//!   out**, as in the workshop. A request already on an open connection is dropped unanswered
//!   (the client reconnects, and times out). On `endpoint` such a request is held unanswered.
//! - `imds` (instance hosts): the instance metadata stand-in ([`crate::imds`]).
//!
//! Bucket and queue policies are the gateway's ([`crate::state::OwnPolicies`]):
//! PutBucketPolicy, GetBucketPolicy and DeleteBucketPolicy are answered here, and the
//! `Policy` attribute is taken out of SetQueueAttributes and put into GetQueueAttributes.
//! A GetObject/HeadObject the emulator answers 404 becomes 403 unless the caller may
//! `s3:ListBucket` the bucket on that path. A call that changes the stack (EC2, IAM,
//! CloudFormation) makes the gateway read the lab again before it answers, so the next
//! request sees the change.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{watch, Semaphore};

use crate::check::{bucket_arn, Check};
use crate::decide::{Refusal, Verdict};
use crate::imds;
use crate::lab::LabDescription;
use crate::live::{emulator_addr, Emulator};
use crate::policy::{parse, PolicyKind};
use crate::record::{Outcome, Record};
use crate::reply::{access_denied, denial_message, error, unknown_key, Reply, Shape};
use crate::request::{scope, Head};
use crate::s3::{self, Special};
use crate::services;
use crate::sqs::{self, Protocol};
use crate::state::{Current, State};
use crate::upstream::{self, full, streamed, Body, UpstreamError};
use crate::world::{Admission, Caller, Host, Path as NetPath};

/// Bodies the gateway reads whole: SQS and the query services (SQS messages are at most
/// 1 MiB), DeleteObjects (at most 1000 keys).
const REQUEST_LIMIT: usize = 2 << 20;
/// A bucket policy is at most 20 KB.
const POLICY_LIMIT: usize = 20 * 1024;
/// A refused upload's body is read (so the client reads the refusal) up to this much.
const DRAIN_LIMIT: usize = 64 << 20;
/// Answers of the emulator the gateway reads whole (404 bodies, GetQueueAttributes,
/// DeleteObjects results).
const ANSWER_LIMIT: usize = 8 << 20;
/// A request the security group refuses on the `endpoint` listener waits this long, then
/// the connection is closed: its client has given up long before.
const HOLD: Duration = Duration::from_secs(900);
/// Connections served at once, all listeners together.
const MAX_CONNECTIONS: usize = 1024;
/// An open listener's backlog; a closed one's is 0 (and kept full).
const OPEN_BACKLOG: i32 = 1024;
/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The header on every answer of the gateway: the host whose listener answered. Clients can
/// tell the lab from the bare emulator by it (`doctor` does: the emulator enforces nothing).
pub const HOST_HEADER: &str = "x-vpce-lab-host";

/// Which of a host's listeners a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Endpoint,
    Sqs,
}

/// The connection is closed without an answer.
#[derive(Debug, thiserror::Error)]
#[error(
    "connection closed without an answer (the endpoint's security group does not admit the host)"
)]
pub struct Hangup;

/// The gateway: its state, and whether each host's SQS path is admitted.
pub struct Gateway {
    state: State,
    upstream: SocketAddr,
    admitted: BTreeMap<String, watch::Sender<bool>>,
    /// The generation of [`Current`] the admissions were computed for.
    admission_generation: AtomicU64,
    connections: Arc<Semaphore>,
}

/// Everything one request is decided with.
struct Ctx<'a> {
    host: &'a Host,
    caller: &'a Caller,
    current: &'a Current,
    service: String,
    operation: String,
    shape: Shape,
}

/// The listeners' URLs, by host (`listeners.json`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Urls {
    pub endpoint: String,
    pub sqs: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imds: Option<String>,
}

fn now_text() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// A listener on 127.0.0.1 (an OS-chosen port), with a backlog that can be changed later.
fn listen() -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    socket.listen(OPEN_BACKLOG as u32)
}

fn set_backlog(listener: &TcpListener, backlog: i32) {
    if let Err(e) = socket2::SockRef::from(listener).listen(backlog) {
        tracing::error!(error = %e, "cannot change a listener's backlog");
    }
}

/// Fills a backlog-0 listener's queue with our own connections, so that nobody else's
/// connection attempt is answered (the kernel drops their SYNs).
async fn fill(addr: SocketAddr) -> Vec<TcpStream> {
    let mut fillers = Vec::new();
    for _ in 0..4 {
        match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => fillers.push(s),
            _ => break,
        }
    }
    fillers
}

fn reply(r: Reply) -> Response<Body> {
    let mut response = Response::new(full(r.body));
    *response.status_mut() =
        http::StatusCode::from_u16(r.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in r.headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            response.headers_mut().insert(k, v);
        }
    }
    response
}

const HOP_BY_HOP: &[&str] =
    &["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "expect"];

/// The emulator's answer, passed on as it came (less hop-by-hop headers: it closes every
/// connection, the client's connection to us stays open).
fn pass(answer: Response<Incoming>) -> Response<Body> {
    let (mut parts, body) = answer.into_parts();
    for h in HOP_BY_HOP {
        parts.headers.remove(*h);
    }
    Response::from_parts(parts, streamed(body))
}

/// An answer whose body the gateway read (and maybe changed).
fn with_body(mut parts: http::response::Parts, body: Vec<u8>) -> Response<Body> {
    for h in HOP_BY_HOP {
        parts.headers.remove(*h);
    }
    parts.headers.remove(http::header::TRANSFER_ENCODING);
    parts.headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    Response::from_parts(parts, full(body))
}

impl Gateway {
    fn log(
        &self,
        ctx: &Ctx,
        check: &Check,
        outcome: Outcome,
        allowed_by: Option<String>,
        refusal: Option<(&str, &Refusal)>,
    ) {
        let path = ctx.current.world.network.path(ctx.host, check.service()).describe();
        self.state.log.write(&Record {
            time: now_text(),
            host: ctx.host.name.clone(),
            principal: ctx.caller.arn.clone(),
            service: ctx.service.clone(),
            operation: ctx.operation.clone(),
            action: check.action.clone(),
            resource: check.resource.clone(),
            path,
            decision: outcome,
            allowed_by,
            policy: refusal.map(|(kind, _)| kind.to_string()),
            policy_name: refusal.map(|(_, r)| r.name.clone()),
            statement: refusal.and_then(|(_, r)| r.statement.clone()),
            reason: refusal.map(|(_, r)| r.reason.clone()),
        });
    }

    /// Logs the refusal of a request whose caller is unknown (unsigned, or an access key
    /// nobody in the lab has).
    fn log_unidentified(
        &self,
        host: &str,
        principal: &str,
        service: &str,
        resource: String,
        reason: String,
    ) {
        self.state.log.write(&Record {
            time: now_text(),
            host: host.to_string(),
            principal: principal.to_string(),
            service: service.to_string(),
            operation: "?".into(),
            action: "?".into(),
            resource,
            path: "-".into(),
            decision: Outcome::Deny,
            allowed_by: None,
            policy: Some("credentials".into()),
            policy_name: None,
            statement: None,
            reason: Some(reason),
        });
    }

    /// Decides and logs one check; the denial to send when refused.
    fn decide(&self, ctx: &Ctx, check: &Check) -> Result<(), Reply> {
        let identity = ctx.current.identity(ctx.caller);
        let now = time::OffsetDateTime::now_utc();
        match ctx.current.world.authorize(ctx.host, ctx.caller, identity, check, now) {
            Verdict::Allow { by } => {
                self.log(ctx, check, Outcome::Allow, Some(by), None);
                Ok(())
            }
            Verdict::Deny(refusal) => {
                self.log(
                    ctx,
                    check,
                    Outcome::Deny,
                    None,
                    Some((policy_word(refusal.policy), &refusal)),
                );
                let message =
                    denial_message(&ctx.caller.arn, &check.action, &check.resource, &refusal);
                Err(access_denied(ctx.shape, &message))
            }
        }
    }

    fn decide_all(&self, ctx: &Ctx, checks: &[Check]) -> Result<(), Reply> {
        checks.iter().try_for_each(|c| self.decide(ctx, c))
    }

    /// Sends a request on to the emulator. `rewritten` is the new body's length when the
    /// gateway changed the body (its checksums no longer apply).
    async fn forward(
        &self,
        mut parts: http::request::Parts,
        body: Body,
        rewritten: Option<usize>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        for h in HOP_BY_HOP {
            parts.headers.remove(*h);
        }
        if let Some(len) = rewritten {
            let stale: Vec<http::HeaderName> = parts
                .headers
                .keys()
                .filter(|k| {
                    let k = k.as_str();
                    k == "content-md5"
                        || k.starts_with("x-amz-checksum-")
                        || k == "x-amz-sdk-checksum-algorithm"
                        || k == "transfer-encoding"
                })
                .cloned()
                .collect();
            for k in stale {
                parts.headers.remove(k);
            }
            parts.headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        upstream::send(self.upstream, Request::from_parts(parts, body)).await
    }

    /// Forwards a request and passes the emulator's answer on (503 when it does not answer).
    async fn relay(
        &self,
        shape: Shape,
        parts: http::request::Parts,
        body: Body,
        rewritten: Option<usize>,
    ) -> Response<Body> {
        match self.forward(parts, body, rewritten).await {
            Ok(answer) => pass(answer),
            Err(e) => Self::unavailable(shape, &e),
        }
    }

    fn unavailable(shape: Shape, e: &UpstreamError) -> Response<Body> {
        tracing::warn!(error = %e, "the emulator did not answer");
        reply(error(
            shape,
            503,
            "ServiceUnavailable",
            &format!("the lab's emulator did not answer: {e}"),
            &[],
        ))
    }

    /// Handles one request from `host` (see the module doc); every answer names the host in
    /// [`HOST_HEADER`].
    pub async fn handle(
        self: Arc<Self>,
        host_name: Arc<str>,
        listener: Listener,
        request: Request<Incoming>,
    ) -> Result<Response<Body>, Hangup> {
        let name = host_name.clone();
        let mut response = self.answer(host_name, listener, request).await?;
        if let Ok(v) = HeaderValue::from_str(&name) {
            response.headers_mut().insert(HOST_HEADER, v);
        }
        Ok(response)
    }

    async fn answer(
        self: Arc<Self>,
        host_name: Arc<str>,
        listener: Listener,
        request: Request<Incoming>,
    ) -> Result<Response<Body>, Hangup> {
        let (parts, incoming) = request.into_parts();
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(k, v)| {
                (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())
            })
            .collect();
        let header_refs: Vec<(&str, &str)> =
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let head = Head::new(parts.method.as_str(), target, &header_refs);
        let is_head = parts.method == Method::HEAD;
        if head.path.starts_with("/moto-api") {
            return Ok(reply(error(
                Shape::S3 { head: is_head },
                403,
                "AccessDenied",
                "the emulator's own API is not part of AWS: use the emulator directly",
                &[],
            )));
        }
        let json = head.header("x-amz-target").is_some();
        let Some(scope) = scope(&head) else {
            let shape = if json
                || head.header("content-type").is_some_and(|c| c.contains("x-www-form-urlencoded"))
            {
                Shape::of("sqs", json, is_head)
            } else {
                Shape::S3 { head: is_head }
            };
            self.log_unidentified(
                &host_name,
                "anonymous",
                "?",
                head.decoded_path(),
                "an unsigned request: the lab's buckets and queue block anonymous access".into(),
            );
            return Ok(reply(access_denied(shape, "Anonymous access is not allowed in the lab")));
        };
        let shape = Shape::of(&scope.service, json, is_head);
        let Some(caller) = self.state.caller(&scope.access_key).await else {
            self.log_unidentified(
                &host_name,
                &scope.access_key,
                &scope.service,
                head.decoded_path(),
                format!("the access key {} belongs to nobody in the lab", scope.access_key),
            );
            return Ok(reply(unknown_key(shape, &scope.access_key)));
        };
        let current = self.state.current().await;
        self.update_admission(&current);
        let Some(host) = current.world.network.host(&host_name) else {
            return Ok(reply(error(
                shape,
                500,
                "InternalError",
                "this listener's host is not in the lab",
                &[],
            )));
        };
        let region = if scope.region.is_empty() {
            self.state.lab.region.clone()
        } else {
            scope.region.clone()
        };
        let mut ctx = Ctx {
            host,
            caller: &caller,
            current: &current,
            service: scope.service.clone(),
            operation: String::new(),
            shape,
        };

        if scope.service == "sqs" {
            if let NetPath::Endpoint(endpoint, placement) = current.world.network.path(host, "sqs")
            {
                if let Admission::Refused(why) =
                    current.world.network.admission(endpoint, placement)
                {
                    ctx.operation = head
                        .header("x-amz-target")
                        .map(|t| t.trim_start_matches("AmazonSQS.").to_string())
                        .unwrap_or_else(|| "?".into());
                    let refusal = Refusal {
                        policy: PolicyKind::Endpoint,
                        name: endpoint.groups.join(", "),
                        statement: None,
                        reason: why,
                    };
                    self.log(
                        &ctx,
                        &Check::new("sqs:*", endpoint.id.clone()),
                        Outcome::NoAnswer,
                        None,
                        Some(("security_group", &refusal)),
                    );
                    if listener == Listener::Endpoint {
                        tokio::time::sleep(HOLD).await;
                    }
                    return Err(Hangup);
                }
            }
        }
        let response = match scope.service.as_str() {
            "s3" => self.s3(&mut ctx, &head, parts, incoming).await,
            "sqs" => self.sqs(&mut ctx, &head, &region, parts, incoming).await,
            _ => self.service(&mut ctx, &head, parts, incoming).await,
        };
        Ok(response)
    }

    async fn s3(
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

    async fn sqs(
        &self,
        ctx: &mut Ctx<'_>,
        head: &Head,
        region: &str,
        parts: http::request::Parts,
        incoming: Incoming,
    ) -> Response<Body> {
        let body = match whole_body(ctx.shape, incoming).await {
            Ok(b) => b,
            Err(refused) => return refused,
        };
        let call = match sqs::map(head, &body, region, &self.state.lab.account) {
            Ok(c) => c,
            Err(why) => return reply(error(ctx.shape, 400, "InvalidAction", &why, &[])),
        };
        ctx.operation = call.operation.clone();
        if let Err(denial) = self.decide_all(ctx, &call.checks) {
            return reply(denial);
        }
        match (call.operation.as_str(), &call.queue_arn) {
            ("SetQueueAttributes", Some(queue)) => {
                self.set_queue_policy(ctx, call.protocol, queue, parts, body).await
            }
            ("GetQueueAttributes", Some(queue))
                if sqs::asks_for_policy(call.protocol, head, &body) =>
            {
                let policy = self.state.own().queues.get(queue).cloned();
                match (policy, self.forward(parts, full(body), None).await) {
                    (Some(policy), Ok(answer)) if answer.status().is_success() => {
                        let (parts, answer_body) = answer.into_parts();
                        let answer_body =
                            upstream::collect(answer_body, ANSWER_LIMIT).await.unwrap_or_default();
                        match sqs::add_policy(call.protocol, &answer_body, &policy) {
                            Ok(changed) => with_body(parts, changed),
                            Err(_) => with_body(parts, answer_body.to_vec()),
                        }
                    }
                    (_, Ok(answer)) => pass(answer),
                    (_, Err(e)) => Self::unavailable(ctx.shape, &e),
                }
            }
            _ => self.relay(ctx.shape, parts, full(body), None).await,
        }
    }

    async fn set_queue_policy(
        &self,
        ctx: &Ctx<'_>,
        protocol: Protocol,
        queue: &str,
        parts: http::request::Parts,
        body: Bytes,
    ) -> Response<Body> {
        let (policy, rest) = match sqs::take_policy(protocol, &body) {
            Ok(split) => split,
            Err(why) => return reply(error(ctx.shape, 400, "InvalidParameterValue", &why, &[])),
        };
        let Some(policy) = policy else {
            return self.relay(ctx.shape, parts, full(body), None).await;
        };
        if !policy.is_empty() {
            if let Err(e) = parse(PolicyKind::Queue, queue, &policy) {
                return reply(error(
                    ctx.shape,
                    400,
                    "InvalidAttributeValue",
                    &format!("Invalid value for the parameter Policy: {}", e.reason),
                    &[],
                ));
            }
        }
        let saved = self.state.change_own(|own| {
            if policy.is_empty() {
                own.queues.remove(queue);
            } else {
                own.queues.insert(queue.to_string(), policy.clone());
            }
        });
        if let Err(e) = saved {
            return reply(error(
                ctx.shape,
                500,
                "InternalError",
                &format!("the gateway cannot save its queue policies: {e}"),
                &[],
            ));
        }
        match rest {
            Some(rest) => {
                let len = rest.len();
                self.relay(ctx.shape, parts, full(rest), Some(len)).await
            }
            None => match protocol {
                Protocol::Json => reply(Reply {
                    status: 200,
                    headers: vec![("content-type", "application/x-amz-json-1.0".into())],
                    body: b"{}".to_vec(),
                }),
                Protocol::Query => reply(Reply {
                    status: 200,
                    headers: vec![("content-type", "text/xml".into())],
                    body: format!(
                        "<?xml version=\"1.0\"?><SetQueueAttributesResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></SetQueueAttributesResponse>",
                        crate::reply::request_id()
                    )
                    .into_bytes(),
                }),
            },
        }
    }

    /// EC2, IAM, STS, CloudFormation and the rest: the identity policy decides; a call that
    /// changes something makes the gateway read the lab again before it answers.
    async fn service(
        &self,
        ctx: &mut Ctx<'_>,
        head: &Head,
        parts: http::request::Parts,
        incoming: Incoming,
    ) -> Response<Body> {
        let body = match whole_body(ctx.shape, incoming).await {
            Ok(b) => b,
            Err(refused) => return refused,
        };
        let call = match services::map(&ctx.service, head, &body) {
            Ok(c) => c,
            Err(why) => return reply(error(ctx.shape, 400, "InvalidAction", &why, &[])),
        };
        ctx.operation = call.operation.clone();
        if let Err(denial) = self.decide_all(ctx, &call.checks) {
            return reply(denial);
        }
        let reset = (call.service == "ec2" && call.operation == "ModifyVpcEndpoint")
            .then(|| services::reset_policy_body(&body))
            .flatten();
        let forwarded = match reset {
            Some(rewritten) => {
                let len = rewritten.len();
                self.forward(parts, full(rewritten), Some(len)).await
            }
            None => self.forward(parts, full(body), None).await,
        };
        match forwarded {
            Ok(answer) => {
                if answer.status().is_success() && !services::is_read_only(&call.operation) {
                    self.state.mark_stale();
                    let current = self.state.current().await;
                    self.update_admission(&current);
                }
                pass(answer)
            }
            Err(e) => Self::unavailable(ctx.shape, &e),
        }
    }

    /// Recomputes whether each host's SQS path is admitted (once per reading of the lab);
    /// a change opens or closes that host's SQS listener, and is logged.
    fn update_admission(&self, current: &Current) {
        let generation = current.generation;
        if self.admission_generation.swap(generation, Ordering::AcqRel) == generation {
            return;
        }
        for host in &current.world.network.hosts {
            let Some(sender) = self.admitted.get(&host.name) else { continue };
            let (admitted, why, endpoint) = match current.world.network.path(host, "sqs") {
                NetPath::Endpoint(e, p) => match current.world.network.admission(e, p) {
                    Admission::Admitted(why) => (true, why, e.id.clone()),
                    Admission::Refused(why) => (false, why, e.id.clone()),
                },
                NetPath::Public(_) => {
                    (true, "the public endpoint has no security group".into(), String::new())
                }
            };
            let changed = sender.send_if_modified(|v| std::mem::replace(v, admitted) != admitted);
            if changed || !admitted {
                tracing::info!(host = %host.name, admitted, reason = %why, "SQS path of the host");
            }
            if changed {
                self.state.log.write(&Record {
                    time: now_text(),
                    host: host.name.clone(),
                    principal: "-".into(),
                    service: "sqs".into(),
                    operation: "connect".into(),
                    action: "tcp:443".into(),
                    resource: endpoint,
                    path: current.world.network.path(host, "sqs").describe(),
                    decision: if admitted { Outcome::Allow } else { Outcome::NoAnswer },
                    allowed_by: admitted.then(|| why.clone()),
                    policy: (!admitted).then(|| "security_group".into()),
                    policy_name: None,
                    statement: None,
                    reason: (!admitted).then(|| format!("{why}: connections time out")),
                });
            }
        }
    }

    fn spawn_connection(self: &Arc<Self>, host: Arc<str>, listener: Listener, stream: TcpStream) {
        let Ok(permit) = self.connections.clone().try_acquire_owned() else {
            tracing::warn!(host = %host, "too many connections: one refused");
            return;
        };
        let _ = stream.set_nodelay(true);
        let gateway = self.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                gateway.clone().handle(host.clone(), listener, request)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .preserve_header_case(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
    }
}

/// A request's whole body (SQS and the query services), at most [`REQUEST_LIMIT`].
async fn whole_body(shape: Shape, incoming: Incoming) -> Result<Bytes, Response<Body>> {
    upstream::collect(incoming, REQUEST_LIMIT)
        .await
        .map_err(|e| reply(error(shape, 413, "RequestEntityTooLarge", &e.to_string(), &[])))
}

fn policy_word(kind: PolicyKind) -> &'static str {
    match kind {
        PolicyKind::Identity => "identity",
        PolicyKind::Endpoint => "endpoint",
        PolicyKind::Bucket => "bucket",
        PolicyKind::Queue => "queue",
    }
}

/// Serves the `endpoint` listener of a host until shutdown.
async fn serve_endpoint(
    gateway: Arc<Gateway>,
    host: Arc<str>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => gateway.spawn_connection(host.clone(), Listener::Endpoint, stream),
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            },
            _ = shutdown.changed() => return,
        }
    }
}

/// Serves the `sqs` listener of a host until shutdown: accepting while the endpoint's
/// security group admits the host, black-holed while it does not (module doc).
async fn serve_sqs(
    gateway: Arc<Gateway>,
    host: Arc<str>,
    listener: TcpListener,
    mut admitted: watch::Receiver<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "an SQS listener has no address");
            return;
        }
    };
    let mut fillers: Vec<TcpStream> = Vec::new();
    loop {
        let open = *admitted.borrow_and_update();
        if open {
            if !fillers.is_empty() {
                set_backlog(&listener, OPEN_BACKLOG);
                fillers.clear();
            }
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => gateway.spawn_connection(host.clone(), Listener::Sqs, stream),
                    Err(e) => tracing::warn!(error = %e, "accept failed"),
                },
                _ = admitted.changed() => {}
                _ = shutdown.changed() => return,
            }
        } else {
            if fillers.is_empty() {
                set_backlog(&listener, 0);
                fillers = fill(addr).await;
            }
            tokio::select! {
                _ = admitted.changed() => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Serves a host's instance metadata stand-in until shutdown.
async fn serve_imds(
    service: Arc<imds::Service>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = shutdown.changed() => return,
        };
        let service = service.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |request: Request<Incoming>| {
                let service = service.clone();
                async move {
                    let header = |name: &str| {
                        request
                            .headers()
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string)
                    };
                    let (status, headers, body) =
                        service.answer(request.method().as_str(), request.uri().path(), &header);
                    Ok::<_, std::convert::Infallible>(reply(Reply {
                        status,
                        headers,
                        body: body.into_bytes(),
                    }))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// Runs the gateway for `lab` until `shutdown` resolves: binds every listener, writes their
/// URLs to `STATE_DIR/listeners.json`, serves.
pub async fn run(
    lab: LabDescription,
    state_dir: &Path,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let upstream = emulator_addr(&lab.emulator).map_err(anyhow::Error::msg)?;
    let emulator = Emulator { addr: upstream, region: lab.region.clone() };
    let hosts = lab.hosts.clone();
    let (region, account) = (lab.region.clone(), lab.account.clone());
    let credentials = lab.credentials.clone();
    let state = State::new(lab, emulator, state_dir).await?;
    let (stop, stopped) = watch::channel(false);
    let mut admitted = BTreeMap::new();
    let mut receivers = BTreeMap::new();
    for h in &hosts {
        let (tx, rx) = watch::channel(true);
        admitted.insert(h.name.clone(), tx);
        receivers.insert(h.name.clone(), rx);
    }
    let gateway = Arc::new(Gateway {
        state,
        upstream,
        admitted,
        admission_generation: AtomicU64::new(u64::MAX),
        connections: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
    });
    let current = gateway.state.current().await;
    gateway.update_admission(&current);

    let mut urls = BTreeMap::new();
    let mut tasks = Vec::new();
    for h in &hosts {
        let name: Arc<str> = Arc::from(h.name.as_str());
        let endpoint = listen()?;
        let sqs = listen()?;
        let url = |l: &TcpListener| l.local_addr().map(|a| format!("http://{a}"));
        let mut host_urls = Urls { endpoint: url(&endpoint)?, sqs: url(&sqs)?, imds: None };
        tasks.push(tokio::spawn(serve_endpoint(
            gateway.clone(),
            name.clone(),
            endpoint,
            stopped.clone(),
        )));
        let rx = receivers
            .remove(&h.name)
            .ok_or_else(|| anyhow::anyhow!("host {} listed twice", h.name))?;
        tasks.push(tokio::spawn(serve_sqs(
            gateway.clone(),
            name.clone(),
            sqs,
            rx,
            stopped.clone(),
        )));
        if let (Some(role), Some(creds)) = (&h.instance_role, credentials.get(&h.name)) {
            let listener = listen()?;
            host_urls.imds = Some(url(&listener)?);
            let service = Arc::new(imds::Service::new(imds::Instance {
                role: role.clone(),
                credentials: creds.clone(),
                region: region.clone(),
                account: account.clone(),
                instance_id: format!("i-lab{}", h.name),
                private_ip: h.private_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            }));
            tasks.push(tokio::spawn(serve_imds(service, listener, stopped.clone())));
        }
        urls.insert(h.name.clone(), host_urls);
    }
    let text = serde_json::to_string_pretty(&urls)?;
    let tmp = state_dir.join("listeners.json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, state_dir.join("listeners.json"))?;
    for (name, u) in &urls {
        tracing::info!(host = %name, endpoint = %u.endpoint, sqs = %u.sqs, imds = ?u.imds, "listening");
    }

    shutdown.await;
    tracing::info!("stopping: no new connections; requests in flight get {SHUTDOWN_GRACE:?}");
    let _ = stop.send(true);
    for t in tasks {
        let _ = t.await;
    }
    let all = MAX_CONNECTIONS as u32;
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, gateway.connections.acquire_many(all)).await;
    Ok(())
}
