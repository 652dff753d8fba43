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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{watch, Semaphore};

use crate::check::Check;
use crate::decide::{Refusal, Verdict};
use crate::policy::PolicyKind;
use crate::record::{Outcome, Record};
use crate::reply::{access_denied, denial_message, error, unknown_key, Reply, Shape};
use crate::request::{scope, Head, Scope};
use crate::services;
use crate::state::{Current, State};
use crate::upstream::{self, full, streamed, Body, UpstreamError};
use crate::world::{Admission, Caller, Host, Path as NetPath};

mod listeners;
mod objects;
mod queue;

pub use listeners::run;

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
        let (scope, shape, caller) = match self.identify(&host_name, &head, is_head).await {
            Ok(identified) => identified,
            Err(refused) => return Ok(reply(refused)),
        };
        let current = self.state.current().await;
        self.update_admission(&current);
        let Some(host) = current.world.network.host(&host_name) else {
            let why = "this listener's host is not in the lab";
            return Ok(reply(error(shape, 500, "InternalError", why, &[])));
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
            self.refuse_unadmitted(&mut ctx, &head, listener).await?;
        }
        let response = match scope.service.as_str() {
            "s3" => self.s3(&mut ctx, &head, parts, incoming).await,
            "sqs" => self.sqs(&mut ctx, &head, &region, parts, incoming).await,
            _ => self.service(&mut ctx, &head, parts, incoming).await,
        };
        Ok(response)
    }

    /// Who signed the request: its credential scope, the shape its answers take, and the
    /// caller its access key belongs to; the denial (logged) of an unsigned request or an
    /// unknown key.
    async fn identify(
        &self,
        host_name: &str,
        head: &Head,
        is_head: bool,
    ) -> Result<(Scope, Shape, Caller), Reply> {
        let json = head.header("x-amz-target").is_some();
        let Some(scope) = scope(head) else {
            let form =
                head.header("content-type").is_some_and(|c| c.contains("x-www-form-urlencoded"));
            let shape = if json || form {
                Shape::of("sqs", json, is_head)
            } else {
                Shape::S3 { head: is_head }
            };
            self.log_unidentified(
                host_name,
                "anonymous",
                "?",
                head.decoded_path(),
                "an unsigned request: the lab's buckets and queue block anonymous access".into(),
            );
            return Err(access_denied(shape, "Anonymous access is not allowed in the lab"));
        };
        let shape = Shape::of(&scope.service, json, is_head);
        let Some(caller) = self.state.caller(&scope.access_key).await else {
            self.log_unidentified(
                host_name,
                &scope.access_key,
                &scope.service,
                head.decoded_path(),
                format!("the access key {} belongs to nobody in the lab", scope.access_key),
            );
            return Err(unknown_key(shape, &scope.access_key));
        };
        Ok((scope, shape, caller))
    }

    /// An SQS request over a path whose interface endpoint's security group does not admit
    /// the host gets no answer (logged): on the `endpoint` listener it is held, then dropped.
    async fn refuse_unadmitted(
        &self,
        ctx: &mut Ctx<'_>,
        head: &Head,
        listener: Listener,
    ) -> Result<(), Hangup> {
        let network = &ctx.current.world.network;
        let NetPath::Endpoint(endpoint, placement) = network.path(ctx.host, "sqs") else {
            return Ok(());
        };
        let Admission::Refused(why) = network.admission(endpoint, placement) else {
            return Ok(());
        };
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
        let check = Check::new("sqs:*", endpoint.id.clone());
        self.log(ctx, &check, Outcome::NoAnswer, None, Some(("security_group", &refusal)));
        if listener == Listener::Endpoint {
            tokio::time::sleep(HOLD).await;
        }
        Err(Hangup)
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
