//! SQS through the gateway, in both protocols (query and JSON): each call decided, then
//! relayed; the queue policies, which the gateway keeps (taken out of SetQueueAttributes,
//! put into GetQueueAttributes).

use bytes::Bytes;
use http::Response;
use hyper::body::Incoming;

use super::{pass, reply, whole_body, with_body, Ctx, Gateway, ANSWER_LIMIT};
use crate::policy::{parse, PolicyKind};
use crate::reply::{error, Reply};
use crate::request::Head;
use crate::sqs::{self, Protocol};
use crate::upstream::{self, full, Body};

impl Gateway {
    pub(super) async fn sqs(
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
}
