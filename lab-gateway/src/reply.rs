//! Answers the gateway gives itself, shaped as AWS's so that every client (the Rust SDK,
//! boto3, the CLI) reads them as it would in the real lab:
//!
//! - S3: `<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId></Error>` as
//!   `application/xml`; an answer to HEAD has no body (the status alone says it).
//! - SQS, JSON protocol: `{"__type": "…", "message": "…"}` and the `x-amzn-query-error:
//!   CODE;Sender` header, from which the SDKs read the code.
//! - SQS, query protocol, and IAM/STS/CloudFormation: `<ErrorResponse><Error><Type>Sender
//!   </Type><Code>…</Code><Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>`.
//! - EC2: `<Response><Errors><Error><Code>…</Code><Message>…</Message></Error></Errors>
//!   <RequestID>…</RequestID></Response>`; a denial's code is `UnauthorizedOperation`.
//! - Other JSON-protocol services: `{"__type": "…", "message": "…"}` with `x-amzn-ErrorType`.

use crate::decide::Refusal;
use crate::policy::PolicyKind;
use crate::s3::xml_escape;

/// How a service writes its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    S3 {
        head: bool,
    },
    SqsJson,
    SqsQuery,
    Ec2,
    /// IAM, STS, CloudFormation and the other query-protocol services.
    Query,
    /// Other JSON-protocol services.
    Json,
}

impl Shape {
    /// The shape of a service's answers: `service` is the signing name, `json` whether the
    /// request used the JSON protocol (`X-Amz-Target`), `head` whether it is a HEAD.
    pub fn of(service: &str, json: bool, head: bool) -> Shape {
        match (service, json) {
            ("s3", _) => Shape::S3 { head },
            ("sqs", true) => Shape::SqsJson,
            ("sqs", false) => Shape::SqsQuery,
            ("ec2", _) => Shape::Ec2,
            (_, true) => Shape::Json,
            (_, false) => Shape::Query,
        }
    }
}

/// A complete answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// A request id in AWS's style (16 upper-case hex digits).
pub fn request_id() -> String {
    format!("{:016X}", fastrand::u64(..))
}

/// An error answer of `shape`. `extra` adds S3 elements (`<BucketName>`, …).
pub fn error(
    shape: Shape,
    status: u16,
    code: &str,
    message: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let id = request_id();
    let (content_type, body) = match shape {
        Shape::S3 { head: true } => ("application/xml", String::new()),
        Shape::S3 { head: false } => {
            let mut more = String::new();
            for (k, v) in extra {
                more.push_str(&format!("<{k}>{}</{k}>", xml_escape(v)));
            }
            (
                "application/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message>{more}<RequestId>{id}</RequestId><HostId>{id}</HostId></Error>",
                    xml_escape(message)
                ),
            )
        }
        Shape::SqsJson => {
            let kind = if code == "AccessDenied" {
                "com.amazon.coral.service#AccessDeniedException".to_string()
            } else {
                format!("com.amazonaws.sqs#{code}")
            };
            ("application/x-amz-json-1.0", serde_json::json!({"__type": kind, "message": message}).to_string())
        }
        Shape::Json => (
            "application/x-amz-json-1.1",
            serde_json::json!({"__type": code, "message": message}).to_string(),
        ),
        Shape::SqsQuery | Shape::Query => (
            "text/xml",
            format!(
                "<?xml version=\"1.0\"?><ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message><Detail/></Error><RequestId>{id}</RequestId></ErrorResponse>",
                xml_escape(message)
            ),
        ),
        Shape::Ec2 => (
            "text/xml;charset=UTF-8",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{}</Message></Error></Errors><RequestID>{id}</RequestID></Response>",
                xml_escape(message)
            ),
        ),
    };
    let mut headers = vec![("content-type", content_type.to_string())];
    match shape {
        Shape::S3 { .. } => {
            headers.push(("x-amz-request-id", id.clone()));
            headers.push(("x-amz-id-2", id));
        }
        Shape::SqsJson => {
            headers.push(("x-amzn-query-error", format!("{code};Sender")));
            headers.push(("x-amzn-requestid", id));
        }
        Shape::Json => {
            headers.push(("x-amzn-errortype", code.to_string()));
            headers.push(("x-amzn-requestid", id));
        }
        _ => headers.push(("x-amzn-requestid", id)),
    }
    Reply { status, headers, body: body.into_bytes() }
}

/// AWS's sentence for a denial within one account: who, what, on which resource, and the
/// policy type that refused it.
pub fn denial_message(caller: &str, action: &str, resource: &str, refusal: &Refusal) -> String {
    let kind = match refusal.policy {
        PolicyKind::Identity => "identity-based policy",
        PolicyKind::Endpoint => "VPC endpoint policy",
        PolicyKind::Bucket | PolicyKind::Queue => "resource-based policy",
    };
    let why = match refusal.statement {
        Some(_) => format!("with an explicit deny in a {kind}"),
        None => format!("because no {kind} allows the {action} action"),
    };
    format!(
        "User: {caller} is not authorized to perform: {action} on resource: \"{resource}\" {why}"
    )
}

/// The 403 that tells a client it was refused.
pub fn access_denied(shape: Shape, message: &str) -> Reply {
    let code = if shape == Shape::Ec2 { "UnauthorizedOperation" } else { "AccessDenied" };
    error(shape, 403, code, message, &[])
}

/// The answer to a request signed with an access key the lab does not know.
pub fn unknown_key(shape: Shape, access_key: &str) -> Reply {
    match shape {
        Shape::S3 { .. } => error(
            shape,
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            &[("AWSAccessKeyId", access_key)],
        ),
        Shape::Ec2 => error(
            shape,
            401,
            "AuthFailure",
            "AWS was not able to validate the provided access credentials",
            &[],
        ),
        _ => error(
            shape,
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
            &[],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(r: &'a Reply, name: &str) -> Option<&'a str> {
        r.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn s3_denials_as_aws_sends_them() {
        let r = access_denied(Shape::S3 { head: false }, "User: a is not <authorized>");
        assert_eq!(r.status, 403);
        let body = String::from_utf8(r.body.clone()).expect("utf-8");
        assert!(body.contains("<Error><Code>AccessDenied</Code><Message>User: a is not &lt;authorized&gt;</Message>"), "{body}");
        assert_eq!(header(&r, "content-type"), Some("application/xml"));
        assert!(header(&r, "x-amz-request-id").is_some());
        let head = access_denied(Shape::S3 { head: true }, "x");
        assert!(head.body.is_empty(), "a HEAD answer has no body");
        let missing = error(
            Shape::S3 { head: false },
            404,
            "NoSuchBucketPolicy",
            "The bucket policy does not exist",
            &[("BucketName", "b")],
        );
        assert!(String::from_utf8(missing.body)
            .expect("utf-8")
            .contains("<BucketName>b</BucketName>"));
    }

    #[test]
    fn sqs_denials_in_both_protocols() {
        let json = access_denied(Shape::SqsJson, "no");
        assert_eq!(header(&json, "x-amzn-query-error"), Some("AccessDenied;Sender"));
        let body: serde_json::Value = serde_json::from_slice(&json.body).expect("json");
        assert_eq!(body["__type"], "com.amazon.coral.service#AccessDeniedException");
        assert_eq!(body["message"], "no");
        let query = access_denied(Shape::SqsQuery, "no");
        let text = String::from_utf8(query.body).expect("utf-8");
        assert!(
            text.contains(
                "<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>no</Message>"
            ),
            "{text}"
        );
        let invalid = error(Shape::SqsJson, 400, "InvalidAttributeValue", "bad", &[]);
        assert_eq!(header(&invalid, "x-amzn-query-error"), Some("InvalidAttributeValue;Sender"));
    }

    #[test]
    fn other_services() {
        assert_eq!(Shape::of("ec2", false, false), Shape::Ec2);
        assert_eq!(Shape::of("iam", false, false), Shape::Query);
        assert_eq!(Shape::of("ssm", true, false), Shape::Json);
        assert_eq!(Shape::of("s3", false, true), Shape::S3 { head: true });
        let ec2 = access_denied(Shape::Ec2, "no");
        assert!(String::from_utf8(ec2.body)
            .expect("utf-8")
            .contains("<Code>UnauthorizedOperation</Code>"));
        assert_eq!(unknown_key(Shape::SqsJson, "AKIA").status, 403);
        assert_eq!(unknown_key(Shape::Ec2, "AKIA").status, 401);
    }

    #[test]
    fn denial_sentences_name_the_policy_type() {
        let refusal = |policy, statement: Option<&str>| Refusal {
            policy,
            name: "n".into(),
            statement: statement.map(str::to_string),
            reason: "r".into(),
        };
        let m = denial_message(
            "arn:x",
            "s3:DeleteObject",
            "arn:aws:s3:::b/k",
            &refusal(PolicyKind::Endpoint, None),
        );
        assert_eq!(m, "User: arn:x is not authorized to perform: s3:DeleteObject on resource: \"arn:aws:s3:::b/k\" because no VPC endpoint policy allows the s3:DeleteObject action");
        let m =
            denial_message("arn:x", "s3:PutObject", "r", &refusal(PolicyKind::Bucket, Some("S")));
        assert!(m.ends_with("with an explicit deny in a resource-based policy"), "{m}");
    }
}
