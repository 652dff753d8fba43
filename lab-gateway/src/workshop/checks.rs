//! The workshop's checks, in its order, each the `aws` command a person types on that host,
//! and the workshop's rules: what each check answers given the controls in place
//! ([`Controls`]). This file is the one place that knows them; `lab.sh walkthrough`, `lab.sh
//! secure` and the tests all read them from here.
//!
//! The rules follow AWS's evaluation for one account, as the workshop teaches it: a security
//! group that does not admit the host answers nothing; an explicit Deny refuses; through an
//! endpoint its policy must allow; then the role (or the resource policy) must allow. They
//! assume the lab's network as deployed (the private subnets' route to the S3 gateway
//! endpoint, the SQS endpoint's private DNS in the whole VPC, Cloud9 in the public subnet)
//! and the administrator's `*` for Cloud9 and the internet host.

use serde::Serialize;

use super::controls::{Controls, Recognised, Role};

/// What a check answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Allowed,
    /// A 403 with the code `AccessDenied`.
    AccessDenied,
    /// A 403 without a body (a HEAD, as `aws s3 cp` sends first): the CLI says `(403)`.
    Forbidden,
    NotFound,
    /// No answer: the connection is never accepted.
    TimesOut,
    /// Anything else (the observation's detail says what).
    Error,
}

impl Outcome {
    pub fn words(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::AccessDenied => "AccessDenied",
            Outcome::Forbidden => "403 Forbidden",
            Outcome::NotFound => "404 Not Found",
            Outcome::TimesOut => "times out",
            Outcome::Error => "error",
        }
    }
}

/// What refused a request: the decision log's `policy` (docs/lab.md, Why was that denied?).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decider {
    SecurityGroup,
    Endpoint,
    Bucket,
    Queue,
    Identity,
    ObjectMissing,
    Credentials,
}

impl Decider {
    /// From a decision record's `policy`.
    pub fn from_record(policy: &str) -> Option<Decider> {
        Some(match policy {
            "security_group" => Decider::SecurityGroup,
            "endpoint" => Decider::Endpoint,
            "bucket" => Decider::Bucket,
            "queue" => Decider::Queue,
            "identity" => Decider::Identity,
            "object_missing" => Decider::ObjectMissing,
            "credentials" => Decider::Credentials,
            _ => return None,
        })
    }

    pub fn words(self) -> &'static str {
        match self {
            Decider::SecurityGroup => "the endpoint's security group",
            Decider::Endpoint => "the VPC endpoint policy",
            Decider::Bucket => "the bucket policy",
            Decider::Queue => "the queue policy",
            Decider::Identity => "the identity policy",
            Decider::ObjectMissing => "no s3:ListBucket (a missing key is 403)",
            Decider::Credentials => "the credentials",
        }
    }

    /// In two or three words (the table's).
    pub fn short(self) -> &'static str {
        match self {
            Decider::SecurityGroup => "security group",
            Decider::Endpoint => "endpoint policy",
            Decider::Bucket => "bucket policy",
            Decider::Queue => "queue policy",
            Decider::Identity => "identity policy",
            Decider::ObjectMissing => "no s3:ListBucket",
            Decider::Credentials => "credentials",
        }
    }
}

/// The outcome the workshop's rules give, and what decides it when it is a refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expected {
    pub outcome: Outcome,
    pub by: Option<Decider>,
    /// Why, in the workshop's words.
    pub why: String,
}

/// The rules cannot say: a control they need is not one the workshop knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown(pub String);

pub type Rule = fn(&Controls) -> Result<Expected, Unknown>;

/// One check. `args` are the CLI's arguments after `aws`, with placeholders: `{bucket}`
/// (the restricted bucket), `{unrestricted}`, `{queue}` (the queue's URL), `{message}` (the
/// workshop's by-hand message, pointing at the walkthrough's sales file), `{handle}` (a
/// receipt handle the receives gave).
#[derive(Debug, Clone, Copy)]
pub struct Check {
    pub id: &'static str,
    pub host: &'static str,
    /// One of the workshop's own checks (else one the lab adds).
    pub workshop: bool,
    pub title: &'static str,
    /// The IAM action the command is authorized as.
    pub action: &'static str,
    pub args: &'static [&'static str],
    pub rule: Rule,
    /// The checks of one lane run in order, as they build on each other (the receives give
    /// the delete its receipt handle, a put gives the next delete its object); the lanes,
    /// which share nothing, run side by side.
    pub lane: u8,
}

const SEND: &[&str] =
    &["sqs", "send-message", "--queue-url", "{queue}", "--message-body", "{message}"];

/// The checks, in the workshop's order (its last: one the lab adds, so that the queue
/// policy's edit shows).
pub const CHECKS: &[Check] = &[
    Check {
        id: "cloud9-sqs-send",
        host: "cloud9",
        workshop: true,
        title: "SQS from Cloud9: send a message",
        action: "sqs:SendMessage",
        args: SEND,
        lane: 0,
        rule: |c| through_sqs_endpoint(c, "cloud9", None),
    },
    Check {
        id: "salesapp-sqs-send",
        host: "salesapp",
        workshop: true,
        title: "salesapp: send a message",
        action: "sqs:SendMessage",
        args: SEND,
        lane: 0,
        rule: |c| app_message(c, "salesapp"),
    },
    Check {
        id: "salesapp-sqs-receive",
        host: "salesapp",
        workshop: true,
        title: "salesapp: receive",
        action: "sqs:ReceiveMessage",
        args: &["sqs", "receive-message", "--queue-url", "{queue}", "--visibility-timeout", "0"],
        lane: 0,
        rule: |c| app_message(c, "salesapp"),
    },
    Check {
        id: "salesapp-sqs-list-queues",
        host: "salesapp",
        workshop: true,
        title: "salesapp: ListQueues",
        action: "sqs:ListQueues",
        args: &["sqs", "list-queues"],
        lane: 0,
        rule: list_queues,
    },
    Check {
        id: "reportsengine-sqs-receive",
        host: "reportsengine",
        workshop: true,
        title: "reportsengine: receive",
        action: "sqs:ReceiveMessage",
        args: &[
            "sqs",
            "receive-message",
            "--queue-url",
            "{queue}",
            "--max-number-of-messages",
            "10",
            "--visibility-timeout",
            "0",
        ],
        lane: 0,
        rule: |c| app_message(c, "reportsengine"),
    },
    Check {
        id: "reportsengine-sqs-delete",
        host: "reportsengine",
        workshop: true,
        title: "reportsengine: delete the message",
        action: "sqs:DeleteMessage",
        args: &["sqs", "delete-message", "--queue-url", "{queue}", "--receipt-handle", "{handle}"],
        lane: 0,
        rule: |c| app_message(c, "reportsengine"),
    },
    Check {
        id: "reportsengine-s3-get-missing",
        host: "reportsengine",
        workshop: true,
        title: "reportsengine: get an object that does not exist",
        action: "s3:GetObject",
        args: &["s3", "cp", "s3://{bucket}/walkthrough/missing.csv", "missing.csv"],
        lane: 1,
        rule: get_missing,
    },
    Check {
        id: "reportsengine-s3-get",
        host: "reportsengine",
        workshop: true,
        title: "reportsengine: get an object that exists",
        action: "s3:GetObject",
        args: &["s3", "cp", "s3://{bucket}/walkthrough/sales.csv", "got.csv"],
        lane: 1,
        rule: |c| app_restricted(c, "reportsengine", "GetObject"),
    },
    Check {
        id: "cloud9-s3-put-unrestricted",
        host: "cloud9",
        workshop: true,
        title: "Cloud9: put to the unrestricted bucket",
        action: "s3:PutObject",
        args: &["s3", "cp", "sales.csv", "s3://{unrestricted}/walkthrough/cloud9.csv"],
        lane: 1,
        rule: |_| cloud9_unrestricted(),
    },
    Check {
        id: "cloud9-s3-delete-unrestricted",
        host: "cloud9",
        workshop: true,
        title: "Cloud9: delete from the unrestricted bucket",
        action: "s3:DeleteObject",
        args: &["s3", "rm", "s3://{unrestricted}/walkthrough/cloud9.csv"],
        lane: 1,
        rule: |_| cloud9_unrestricted(),
    },
    Check {
        id: "cloud9-s3-put-restricted",
        host: "cloud9",
        workshop: true,
        title: "Cloud9: put to the restricted bucket",
        action: "s3:PutObject",
        args: &["s3", "cp", "sales.csv", "s3://{bucket}/walkthrough/cloud9.csv"],
        lane: 1,
        rule: cloud9_put_restricted,
    },
    Check {
        id: "cloud9-s3-delete-restricted",
        host: "cloud9",
        workshop: true,
        title: "Cloud9: delete from the restricted bucket",
        action: "s3:DeleteObject",
        args: &["s3", "rm", "s3://{bucket}/walkthrough/cloud9.csv"],
        lane: 1,
        rule: cloud9_delete_restricted,
    },
    Check {
        id: "salesapp-s3-put-unrestricted",
        host: "salesapp",
        workshop: true,
        title: "salesapp: put to the unrestricted bucket",
        action: "s3:PutObject",
        args: &["s3", "cp", "sales.csv", "s3://{unrestricted}/walkthrough/salesapp.csv"],
        lane: 2,
        rule: salesapp_unrestricted,
    },
    Check {
        id: "salesapp-s3-delete-unrestricted",
        host: "salesapp",
        workshop: true,
        title: "salesapp: delete from the unrestricted bucket",
        action: "s3:DeleteObject",
        args: &["s3", "rm", "s3://{unrestricted}/walkthrough/salesapp.csv"],
        lane: 2,
        rule: salesapp_unrestricted,
    },
    Check {
        id: "salesapp-s3-put-restricted",
        host: "salesapp",
        workshop: true,
        title: "salesapp: put to the restricted bucket",
        action: "s3:PutObject",
        args: &["s3", "cp", "sales.csv", "s3://{bucket}/walkthrough/salesapp.csv"],
        lane: 2,
        rule: |c| app_restricted(c, "salesapp", "PutObject"),
    },
    Check {
        id: "salesapp-s3-delete-restricted",
        host: "salesapp",
        workshop: true,
        title: "salesapp: delete from the restricted bucket",
        action: "s3:DeleteObject",
        args: &["s3", "rm", "s3://{bucket}/walkthrough/salesapp.csv"],
        lane: 2,
        rule: salesapp_delete_restricted,
    },
    Check {
        id: "internet-sqs-send",
        host: "internet",
        workshop: false,
        title: "(the lab's own) the queue from outside the VPC: send a message",
        action: "sqs:SendMessage",
        args: SEND,
        lane: 2,
        rule: from_outside,
    },
];

fn known(state: Recognised, what: &str) -> Result<Recognised, Unknown> {
    match state {
        Recognised::Other => Err(Unknown(format!("{what} is not one the workshop knows"))),
        known => Ok(known),
    }
}

fn role(c: &Controls, host: &str) -> Result<Role, Unknown> {
    match c.roles.get(host) {
        Some(Role::Other) | None => {
            Err(Unknown(format!("the {host} role's policies are not ones the workshop knows")))
        }
        Some(r) => Ok(*r),
    }
}

fn allowed(why: &str) -> Result<Expected, Unknown> {
    Ok(Expected { outcome: Outcome::Allowed, by: None, why: why.into() })
}

fn refused(outcome: Outcome, by: Decider, why: &str) -> Result<Expected, Unknown> {
    Ok(Expected { outcome, by: Some(by), why: why.into() })
}

/// A message action from `host` through the interface endpoint: its security group first,
/// then its policy and the queue's (either state's let the three message actions through the
/// endpoint), then the host's role (`None`: the administrator), which grants them in both
/// states.
fn through_sqs_endpoint(
    c: &Controls,
    host: &str,
    role_of: Option<&str>,
) -> Result<Expected, Unknown> {
    if !c.endpoint_security_group.get(host).copied().unwrap_or(false) {
        return refused(
            Outcome::TimesOut,
            Decider::SecurityGroup,
            "private DNS sends it to the interface endpoint, whose security group does not admit \
             this host: the connection is never answered",
        );
    }
    known(c.sqs_endpoint_policy, "the SQS endpoint's policy")?;
    known(c.queue_policy, "the queue policy")?;
    match role_of {
        Some(host) => {
            role(c, host)?;
            allowed(
                "the endpoint and the queue let the message actions through; the role grants it",
            )
        }
        None => allowed(
            "the endpoint and the queue let the message actions through; the administrator may",
        ),
    }
}

fn app_message(c: &Controls, host: &str) -> Result<Expected, Unknown> {
    through_sqs_endpoint(c, host, Some(host))
}

fn list_queues(c: &Controls) -> Result<Expected, Unknown> {
    let reached = through_sqs_endpoint(c, "salesapp", Some("salesapp"))?;
    if reached.outcome != Outcome::Allowed {
        return Ok(reached);
    }
    if known(c.sqs_endpoint_policy, "the SQS endpoint's policy")? == Recognised::Workshop {
        return refused(
            Outcome::AccessDenied,
            Decider::Endpoint,
            "the SQS endpoint's policy allows only SendMessage, ReceiveMessage and DeleteMessage",
        );
    }
    match role(c, "salesapp")? {
        Role::Starting => {
            allowed("the endpoint allows everything, and the starting role grants sqs:ListQueues")
        }
        _ => refused(Outcome::AccessDenied, Decider::Identity, "the role grants no sqs:ListQueues"),
    }
}

/// The restricted bucket's objects from an instance, through the gateway endpoint: its
/// policy (either state's) and both roles allow GetObject and PutObject there, and the
/// bucket policy denies only writes from elsewhere.
fn app_restricted(c: &Controls, host: &str, action: &str) -> Result<Expected, Unknown> {
    known(c.s3_endpoint_policy, "the S3 gateway endpoint's policy")?;
    known(c.bucket_policy, "the bucket policy")?;
    role(c, host)?;
    let why = format!(
        "through the gateway endpoint, whose policy allows {action} on the restricted bucket; the \
         role grants it, and the bucket policy refuses only writes from outside the endpoint"
    );
    allowed(&why)
}

fn get_missing(c: &Controls) -> Result<Expected, Unknown> {
    app_restricted(c, "reportsengine", "GetObject")?;
    refused(
        Outcome::Forbidden,
        Decider::ObjectMissing,
        "GetObject is allowed, but nothing grants s3:ListBucket: S3 answers 403, not 404, for a \
         key that does not exist (the workshop's first surprise)",
    )
}

fn cloud9_unrestricted() -> Result<Expected, Unknown> {
    allowed("Cloud9 reaches S3 over the internet (no endpoint on its route); the administrator may")
}

fn cloud9_put_restricted(c: &Controls) -> Result<Expected, Unknown> {
    match known(c.bucket_policy, "the bucket policy")? {
        Recognised::Workshop => refused(
            Outcome::AccessDenied,
            Decider::Bucket,
            "the bucket policy denies PutObject that does not come through the gateway endpoint, \
             and Cloud9 reaches S3 over the internet",
        ),
        _ => allowed("no bucket policy; the administrator may"),
    }
}

fn cloud9_delete_restricted(c: &Controls) -> Result<Expected, Unknown> {
    known(c.bucket_policy, "the bucket policy")?;
    allowed(
        "the bucket policy denies only PutObject: DeleteObject from outside the endpoint still \
         succeeds (the workshop's second surprise)",
    )
}

/// What the workshop's starting role grants and the secured one does not, through the gateway
/// endpoint: its policy refuses first when it is the workshop's.
fn beyond_least_privilege(c: &Controls, what: &str) -> Result<Expected, Unknown> {
    if known(c.s3_endpoint_policy, "the S3 gateway endpoint's policy")? == Recognised::Workshop {
        let why = format!("the gateway endpoint's policy allows only GetObject and PutObject on the restricted bucket, not {what}");
        return refused(Outcome::AccessDenied, Decider::Endpoint, &why);
    }
    match role(c, "salesapp")? {
        Role::Starting => {
            allowed(&format!("the endpoint allows everything, and the starting role grants {what}"))
        }
        _ => refused(
            Outcome::AccessDenied,
            Decider::Identity,
            &format!("the role does not grant {what}"),
        ),
    }
}

fn salesapp_unrestricted(c: &Controls) -> Result<Expected, Unknown> {
    beyond_least_privilege(c, "the unrestricted bucket")
}

fn salesapp_delete_restricted(c: &Controls) -> Result<Expected, Unknown> {
    known(c.bucket_policy, "the bucket policy")?;
    beyond_least_privilege(c, "DeleteObject")
}

fn from_outside(c: &Controls) -> Result<Expected, Unknown> {
    match known(c.queue_policy, "the queue policy")? {
        Recognised::Workshop => refused(
            Outcome::AccessDenied,
            Decider::Queue,
            "the queue policy denies the message actions that do not come through the interface \
             endpoint (the internet reaches SQS's public endpoint)",
        ),
        _ => allowed("no queue policy; the administrator may"),
    }
}

/// The check with this id.
pub fn check(id: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.id == id)
}
