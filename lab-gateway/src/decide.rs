//! AWS's evaluation logic around the engine (iam-rs evaluates one policy at a time and knows
//! no policy types), for a request within one account:
//!
//! 1. An explicit Deny in any policy that applies (identity, VPC endpoint, resource) denies.
//! 2. Through a VPC endpoint, the endpoint's policy must allow.
//! 3. Then the identity policies *or* the resource policy (bucket, queue) must allow.
//! 4. Otherwise the request is implicitly denied.
//!
//! Every denial names what refused it: the policy, and the statement (its `Sid`, else its
//! position) of an explicit Deny, or "no statement allows it".

use iam_rs::{
    Arn, Context, Decision, EvaluationOptions, IAMRequest, PolicyEvaluator, Principal, PrincipalId,
};

use crate::policy::{NamedPolicy, PolicyKind};

/// One question: may `principal` do `action` on `resource` in this context?
#[derive(Debug, Clone)]
pub struct Question<'a> {
    /// The principal as policies name it: a user's ARN, or an assumed role's *role* ARN
    /// (`arn:aws:iam::ACCOUNT:role/NAME`, which AWS matches for all of the role's sessions).
    pub principal: &'a str,
    pub action: &'a str,
    /// An ARN, or `*` for an action that names no resource.
    pub resource: &'a str,
    pub context: &'a Context,
}

/// The policies that apply to one question.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policies<'a> {
    pub identity: &'a [std::sync::Arc<NamedPolicy>],
    /// The VPC endpoint the request came through, and its policy (`None`: AWS's default
    /// full-access policy, as for an endpoint whose policy was never set).
    pub endpoint: Option<(&'a str, Option<&'a NamedPolicy>)>,
    pub resource: Option<&'a NamedPolicy>,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    pub policy: PolicyKind,
    /// The refusing policy, in words (for "no statement allows it" of identity policies:
    /// all of them, or "no identity policy").
    pub name: String,
    /// The explicit Deny's statement (`Sid`, else `statement #N`); `None` when no statement
    /// allowed the request.
    pub statement: Option<String>,
    /// The sentence `why` prints.
    pub reason: String,
}

/// The answer to a question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed; says by which policy (identity or resource).
    Allow {
        by: String,
    },
    Deny(Refusal),
}

impl Verdict {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Verdict::Allow { .. })
    }
}

/// What one policy says, with the matching statement when it denies explicitly.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Says {
    Allow,
    Deny {
        statement: String,
    },
    Nothing,
    /// The engine could not evaluate it (a malformed ARN in it, …): treated as a denial.
    Broken(String),
}

/// The principal as the engine takes it: an assumed role's sessions are its role.
fn engine_principal(principal: &str) -> Principal {
    Principal::Aws(PrincipalId::String(principal.to_string()))
}

/// The resource as the engine takes it: an action on `*` becomes an ARN that only `*`-like
/// patterns match (`arn:aws:SERVICE:*:*:*` style); the engine wants an ARN.
fn engine_resource(question: &Question) -> Result<Arn, String> {
    let text = if question.resource == crate::check::ANY_RESOURCE {
        let service = question.action.split(':').next().unwrap_or("*");
        format!("arn:aws:{service}:*:*:*")
    } else {
        question.resource.to_string()
    };
    Arn::parse(&text).map_err(|e| format!("resource {text:?}: {e}"))
}

fn evaluate(policy: &NamedPolicy, question: &Question, resource: &Arn) -> Says {
    let request = IAMRequest::new_with_context(
        engine_principal(question.principal),
        question.action,
        resource.clone(),
        question.context.clone(),
    );
    let options = EvaluationOptions { collect_match_details: true, ..EvaluationOptions::default() };
    let evaluator =
        PolicyEvaluator::with_policies(vec![policy.policy.clone()]).with_options(options);
    match evaluator.evaluate(&request) {
        Ok(result) => match result.decision {
            Decision::Allow => Says::Allow,
            Decision::NotApplicable => Says::Nothing,
            Decision::Deny => {
                // With stop_on_explicit_deny, the last detail is the Deny that matched.
                let index = result.statement_details.len().saturating_sub(1);
                let statement = result
                    .statement_details
                    .last()
                    .and_then(|d| d.sid.clone())
                    .unwrap_or_else(|| format!("statement #{}", index + 1));
                Says::Deny { statement }
            }
        },
        Err(e) => Says::Broken(e.to_string()),
    }
}

fn kind_words(kind: PolicyKind) -> &'static str {
    match kind {
        PolicyKind::Identity => "identity policy",
        PolicyKind::Endpoint => "VPC endpoint policy",
        PolicyKind::Bucket => "bucket policy",
        PolicyKind::Queue => "queue policy",
    }
}

/// Decides one question (see the module doc).
pub fn decide(question: &Question, policies: &Policies) -> Verdict {
    let resource = match engine_resource(question) {
        Ok(r) => r,
        Err(e) => {
            return Verdict::Deny(Refusal {
                policy: PolicyKind::Identity,
                name: "the request".into(),
                statement: None,
                reason: format!("the request's resource cannot be evaluated: {e}"),
            })
        }
    };
    let endpoint_policy = policies.endpoint.and_then(|(_, p)| p);
    let all = policies
        .identity
        .iter()
        .map(|p| p.as_ref())
        .chain(endpoint_policy)
        .chain(policies.resource);
    let mut identity_allows = None;
    let mut resource_allows = false;
    let mut endpoint_allows = endpoint_policy.is_none();
    // 1. Any explicit Deny (or a policy the engine cannot read) refuses.
    for policy in all {
        match evaluate(policy, question, &resource) {
            Says::Deny { statement } => {
                return Verdict::Deny(Refusal {
                    policy: policy.kind,
                    name: policy.name.clone(),
                    reason: format!(
                        "explicitly denied by statement {statement:?} of the {} of {}",
                        kind_words(policy.kind),
                        policy.name
                    ),
                    statement: Some(statement),
                })
            }
            Says::Broken(e) => {
                return Verdict::Deny(Refusal {
                    policy: policy.kind,
                    name: policy.name.clone(),
                    statement: None,
                    reason: format!(
                        "the {} of {} cannot be evaluated: {e}",
                        kind_words(policy.kind),
                        policy.name
                    ),
                })
            }
            Says::Allow => match policy.kind {
                PolicyKind::Identity => {
                    identity_allows.get_or_insert_with(|| policy.name.clone());
                }
                PolicyKind::Endpoint => endpoint_allows = true,
                PolicyKind::Bucket | PolicyKind::Queue => resource_allows = true,
            },
            Says::Nothing => {}
        }
    }
    // 2. Through an endpoint, its policy must allow.
    if let (Some((id, Some(policy))), false) = (policies.endpoint, endpoint_allows) {
        return Verdict::Deny(Refusal {
            policy: PolicyKind::Endpoint,
            name: policy.name.clone(),
            statement: None,
            reason: format!("no statement of the VPC endpoint policy of {id} allows it"),
        });
    }
    // 3. Identity or resource policy.
    if let Some(name) = identity_allows {
        return Verdict::Allow { by: format!("identity policy of {name}") };
    }
    if let (true, Some(policy)) = (resource_allows, policies.resource) {
        return Verdict::Allow { by: format!("{} of {}", kind_words(policy.kind), policy.name) };
    }
    // 4. Implicit deny.
    let identities = if policies.identity.is_empty() {
        "the caller has no identity policy".to_string()
    } else {
        let names: Vec<&str> = policies.identity.iter().map(|p| p.name.as_str()).collect();
        format!("no statement of the identity policies ({}) allows it", names.join("; "))
    };
    let resource_part = match policies.resource {
        Some(p) => format!(", nor does the {} of {}", kind_words(p.kind), p.name),
        None => String::new(),
    };
    Verdict::Deny(Refusal {
        policy: PolicyKind::Identity,
        name: policies
            .identity
            .first()
            .map_or_else(|| "no identity policy".into(), |p| p.name.clone()),
        statement: None,
        reason: format!("{identities}{resource_part}"),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::policy::parse;

    fn policy(kind: PolicyKind, name: &str, text: &str) -> Arc<NamedPolicy> {
        Arc::new(parse(kind, name, text).expect("test policy"))
    }

    fn context(vpce: Option<&str>) -> Context {
        let mut c = Context::new()
            .with_boolean("aws:SecureTransport", true)
            .with_string("aws:PrincipalAccount", "123456789012");
        if let Some(v) = vpce {
            c = c.with_string("aws:SourceVpce", v);
        }
        c
    }

    const ROLE: &str = "arn:aws:iam::123456789012:role/app";

    fn ask(action: &str, resource: &str, vpce: Option<&str>, p: &Policies) -> Verdict {
        let ctx = context(vpce);
        decide(&Question { principal: ROLE, action, resource, context: &ctx }, p)
    }

    #[test]
    fn identity_or_resource_allows_and_explicit_deny_wins() {
        let identity = vec![policy(
            PolicyKind::Identity,
            "role app",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
        )];
        let bucket = policy(
            PolicyKind::Bucket,
            "bucket b",
            r#"{"Version":"2012-10-17","Statement":[
                {"Sid":"NoPutOutside","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringNotEquals":{"aws:sourceVpce":"vpce-s3"}}},
                {"Sid":"AppMayPut","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/app"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}]}"#,
        );
        let p = Policies { identity: &identity, endpoint: None, resource: Some(&bucket) };
        assert!(ask("s3:GetObject", "arn:aws:s3:::b/k", None, &p).is_allowed());
        // The bucket policy allows the role by name: allowed without an identity grant…
        assert_eq!(
            ask("s3:PutObject", "arn:aws:s3:::b/k", Some("vpce-s3"), &p),
            Verdict::Allow { by: "bucket policy of bucket b".into() }
        );
        // …unless its Deny matches (the key is case-insensitive: aws:sourceVpce).
        match ask("s3:PutObject", "arn:aws:s3:::b/k", None, &p) {
            Verdict::Deny(r) => {
                assert_eq!(
                    (r.policy, r.statement.as_deref()),
                    (PolicyKind::Bucket, Some("NoPutOutside"))
                );
                assert!(r.reason.contains("explicitly denied"), "{}", r.reason);
            }
            v => panic!("{v:?}"),
        }
        match ask("s3:DeleteObject", "arn:aws:s3:::b/k", Some("vpce-s3"), &p) {
            Verdict::Deny(r) => {
                assert_eq!((r.policy, r.statement.as_deref()), (PolicyKind::Identity, None));
                assert!(
                    r.reason.contains("no statement") && r.reason.contains("bucket b"),
                    "{}",
                    r.reason
                );
            }
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn through_an_endpoint_its_policy_must_allow() {
        let identity = vec![policy(
            PolicyKind::Identity,
            "admin",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )];
        let endpoint = policy(
            PolicyKind::Endpoint,
            "the S3 gateway endpoint vpce-s3",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
        );
        let p = Policies {
            identity: &identity,
            endpoint: Some(("vpce-s3", Some(&endpoint))),
            resource: None,
        };
        assert!(ask("s3:GetObject", "arn:aws:s3:::b/k", Some("vpce-s3"), &p).is_allowed());
        match ask("s3:DeleteObject", "arn:aws:s3:::b/k", Some("vpce-s3"), &p) {
            Verdict::Deny(r) => assert_eq!((r.policy, r.statement), (PolicyKind::Endpoint, None)),
            v => panic!("{v:?}"),
        }
        // An endpoint without a policy has AWS's default: full access.
        let open =
            Policies { identity: &identity, endpoint: Some(("vpce-s3", None)), resource: None };
        assert!(ask("s3:DeleteObject", "arn:aws:s3:::b/k", Some("vpce-s3"), &open).is_allowed());
        // An endpoint policy grants nothing by itself.
        let nobody = Policies {
            identity: &[],
            endpoint: Some(("vpce-s3", Some(&endpoint))),
            resource: None,
        };
        assert!(!ask("s3:GetObject", "arn:aws:s3:::b/k", Some("vpce-s3"), &nobody).is_allowed());
    }

    #[test]
    fn actions_on_star_and_statements_without_sid() {
        let identity = vec![policy(
            PolicyKind::Identity,
            "role app",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:ListQueues","Resource":"arn:aws:sqs:us-east-1:123456789012:q"},
                {"Effect":"Deny","Action":"sqs:DeleteQueue","Resource":"*"}]}"#,
        )];
        let p = Policies { identity: &identity, endpoint: None, resource: None };
        assert!(
            !ask("sqs:ListQueues", "*", None, &p).is_allowed(),
            "a queue ARN does not cover ListQueues on *"
        );
        match ask("sqs:DeleteQueue", "arn:aws:sqs:us-east-1:123456789012:q", None, &p) {
            Verdict::Deny(r) => assert_eq!(r.statement.as_deref(), Some("statement #2")),
            v => panic!("{v:?}"),
        }
        let star = vec![policy(
            PolicyKind::Identity,
            "admin",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )];
        let p = Policies { identity: &star, endpoint: None, resource: None };
        assert!(ask("sqs:ListQueues", "*", None, &p).is_allowed());
        assert!(ask("ec2:ModifyVpcEndpoint", "*", None, &p).is_allowed());
    }

    #[test]
    fn no_identity_policy_at_all() {
        let p = Policies::default();
        match ask("s3:GetObject", "arn:aws:s3:::b/k", None, &p) {
            Verdict::Deny(r) => assert!(r.reason.contains("no identity policy"), "{}", r.reason),
            v => panic!("{v:?}"),
        }
    }
}
