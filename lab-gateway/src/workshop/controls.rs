//! Which of the workshop's controls are in place now, known by their documents.
//!
//! The walkthrough's expectations must not come from the code under test (the gateway's
//! engine and its combination of policies): an expectation computed by the very code that
//! decides proves nothing. So the controls are *recognised* here, not evaluated: each policy
//! is compared, statement by statement, with the documents the template gives for the two
//! states (`workshop.json`, rendered by `deploy/local/lab_setup.py` with the deployed ids),
//! and [`super::checks`] says what the workshop's text says each combination of controls
//! does. A policy that is neither the starting one nor the workshop's is [`Recognised::Other`]:
//! the walkthrough then says it cannot tell what to expect, rather than guess.
//!
//! The endpoint's security group is read for what it admits (a rule for TCP 443 whose source
//! CIDR holds the host's address or whose source group is one of the host's), which is all a
//! security group means; this is written here again, apart from the gateway's own, on
//! purpose.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::lab::{HostDoc, LabDescription, RuleDoc, Snapshot};
use crate::state::OwnPolicies;

/// `workshop.json`: the workshop's controls as the template gives them in each state.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Documents {
    pub starting: StateDocuments,
    pub secured: StateDocuments,
}

/// One state's documents (`None`: no such policy in that state).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct StateDocuments {
    pub s3_endpoint_policy: Option<Value>,
    pub sqs_endpoint_policy: Option<Value>,
    pub bucket_policy: Option<Value>,
    pub queue_policy: Option<Value>,
    /// The SQS interface endpoint's security group's inbound rules.
    pub endpoint_security_group: Vec<RuleDoc>,
    /// The instance roles' identity policies, by host.
    pub roles: BTreeMap<String, Vec<RoleDocument>>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RoleDocument {
    pub name: String,
    pub document: Value,
}

/// What the lab's ids are: which endpoint, bucket, queue and roles the controls live on.
#[derive(Debug, Clone)]
pub struct Ids {
    pub s3_endpoint: String,
    pub sqs_endpoint: String,
    pub bucket: String,
    pub queue_arn: String,
    /// The instance hosts' role ARNs (`arn:aws:iam::ACCOUNT:role/NAME`), by host.
    pub roles: BTreeMap<String, String>,
}

impl Ids {
    /// From the stack's outputs and the lab's hosts.
    pub fn of(outputs: &BTreeMap<String, String>, lab: &LabDescription) -> Result<Ids, String> {
        let output = |name: &str| {
            outputs.get(name).cloned().ok_or_else(|| format!("the stack has no output {name}"))
        };
        let roles = lab
            .hosts
            .iter()
            .filter_map(|h| {
                let role = h.instance_role.as_ref()?;
                Some((h.name.clone(), format!("arn:aws:iam::{}:role/{role}", lab.account)))
            })
            .collect();
        Ok(Ids {
            s3_endpoint: output("S3VPCGatewayEndpoint")?,
            sqs_endpoint: output("SQSVPCInterfaceEndpoint")?,
            bucket: output("RestrictedS3Bucket")?,
            queue_arn: output("SQSQueueARN")?,
            roles,
        })
    }
}

/// The controls' documents as they are now.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// `None`: never set (AWS's default, full access).
    pub s3_endpoint_policy: Option<String>,
    pub sqs_endpoint_policy: Option<String>,
    pub bucket_policy: Option<String>,
    pub queue_policy: Option<String>,
    /// The SQS endpoint's security groups' inbound rules, all groups together.
    pub endpoint_rules: Vec<RuleDoc>,
    /// The instance roles' identity policies (texts), by host.
    pub roles: BTreeMap<String, Vec<String>>,
}

impl Live {
    /// From what the emulator holds and the gateway's own bucket and queue policies.
    pub fn read(snapshot: &Snapshot, own: &OwnPolicies, ids: &Ids) -> Live {
        let endpoint = |id: &str| snapshot.endpoints.iter().find(|e| e.id == id);
        let groups = endpoint(&ids.sqs_endpoint).map(|e| e.groups.clone()).unwrap_or_default();
        Live {
            s3_endpoint_policy: endpoint(&ids.s3_endpoint).and_then(|e| e.policy.clone()),
            sqs_endpoint_policy: endpoint(&ids.sqs_endpoint).and_then(|e| e.policy.clone()),
            bucket_policy: own.buckets.get(&ids.bucket).cloned(),
            queue_policy: own.queues.get(&ids.queue_arn).cloned(),
            endpoint_rules: groups
                .iter()
                .flat_map(|g| snapshot.security_groups.get(g).cloned().unwrap_or_default())
                .collect(),
            roles: ids
                .roles
                .iter()
                .map(|(host, arn)| {
                    let docs = snapshot.identity_policies.get(arn).cloned().unwrap_or_default();
                    (host.clone(), docs.into_iter().map(|d| d.document).collect())
                })
                .collect(),
        }
    }
}

/// A policy, as the workshop knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recognised {
    /// No policy, or one that restricts nothing the checks do (AWS's default full access,
    /// the starting state's, a bucket policy that only requires TLS).
    Open,
    /// The workshop's: the template's secured policy (its key statements, with or without
    /// the optional ones).
    Workshop,
    /// Anything else: what it does is not the workshop's to say.
    Other,
}

/// An instance role's identity policies, as the workshop knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The starting state's: the secured grants and the workshop's broader ones
    /// (DeleteObject, the unrestricted bucket, ListQueues…).
    Starting,
    /// The secured state's: least privilege.
    Secured,
    Other,
}

/// The workshop's controls now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Controls {
    pub s3_endpoint_policy: Recognised,
    pub bucket_policy: Recognised,
    /// Whether the SQS endpoint's security group admits each host in the VPC.
    pub endpoint_security_group: BTreeMap<String, bool>,
    pub sqs_endpoint_policy: Recognised,
    pub queue_policy: Recognised,
    pub roles: BTreeMap<String, Role>,
}

/// Which statements of a secured policy make the control (`key`), and which may be there or
/// not without changing what the checks see (`optional`: read-only grants no check uses, the
/// TLS-only Deny that never matches in the lab, whose listeners stand for TLS endpoints).
/// Through an endpoint its policy must allow, so an endpoint policy is open only when it
/// allows everything.
struct Shape {
    key: &'static [&'static str],
    optional: &'static [&'static str],
    endpoint: bool,
}

const S3_ENDPOINT: Shape = Shape {
    key: &["RestrictedBucketObjectsOnly"],
    optional: &["ReadReleaseArtifacts", "ReadAmazonLinuxRepositories", "ReadSsmAgentBuckets"],
    endpoint: true,
};
const BUCKET: Shape = Shape {
    key: &["DenyPutObjectOutsideTheGatewayEndpoint"],
    optional: &["DenyInsecureTransport"],
    endpoint: false,
};
const SQS_ENDPOINT: Shape = Shape { key: &["LabQueueMessagesOnly"], optional: &[], endpoint: true };
const QUEUE: Shape = Shape {
    key: &["AllowMessagesThroughTheInterfaceEndpoint", "DenyMessagesFromAnywhereElse"],
    optional: &["DenyInsecureTransport"],
    endpoint: false,
};

/// Recognises every control (see the module doc).
pub fn recognise(live: &Live, docs: &Documents, hosts: &[HostDoc]) -> Controls {
    let secured = &docs.secured;
    let policy = |text: &Option<String>, doc: &Option<Value>, shape: &Shape| {
        recognise_policy(text.as_deref(), doc.as_ref(), shape)
    };
    Controls {
        s3_endpoint_policy: policy(
            &live.s3_endpoint_policy,
            &secured.s3_endpoint_policy,
            &S3_ENDPOINT,
        ),
        bucket_policy: policy(&live.bucket_policy, &secured.bucket_policy, &BUCKET),
        endpoint_security_group: hosts
            .iter()
            .filter_map(|h| {
                let ip = h.private_ip?;
                Some((h.name.clone(), admits(&live.endpoint_rules, ip, &h.security_groups)))
            })
            .collect(),
        sqs_endpoint_policy: policy(
            &live.sqs_endpoint_policy,
            &secured.sqs_endpoint_policy,
            &SQS_ENDPOINT,
        ),
        queue_policy: policy(&live.queue_policy, &secured.queue_policy, &QUEUE),
        roles: live
            .roles
            .iter()
            .map(|(host, texts)| (host.clone(), recognise_role(texts, docs, host)))
            .collect(),
    }
}

/// Whether inbound rules admit HTTPS from a host: TCP (or all traffic) covering port 443,
/// from a CIDR holding its address or from one of its security groups.
pub fn admits(rules: &[RuleDoc], ip: Ipv4Addr, groups: &[String]) -> bool {
    rules.iter().any(|r| {
        let https = match r.protocol.as_str() {
            "-1" | "all" => true,
            "tcp" | "6" => r.from_port.unwrap_or(0) <= 443 && 443 <= r.to_port.unwrap_or(65535),
            _ => false,
        };
        let from_address =
            r.cidrs.iter().any(|c| c.parse::<ipnet::Ipv4Net>().is_ok_and(|n| n.contains(&ip)));
        https && (from_address || r.groups.iter().any(|g| groups.contains(g)))
    })
}

fn recognise_policy(text: Option<&str>, secured: Option<&Value>, shape: &Shape) -> Recognised {
    let Some(text) = text else { return Recognised::Open };
    let Some(live) = serde_json::from_str(text).ok().as_ref().and_then(statements) else {
        return Recognised::Other;
    };
    let by_sid = |sids: &[&str]| -> BTreeSet<String> {
        secured
            .and_then(|doc| doc.get("Statement"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|s| s.get("Sid").and_then(Value::as_str).is_some_and(|sid| sids.contains(&sid)))
            .map(canonical_statement)
            .collect()
    };
    let (key, optional) = (by_sid(shape.key), by_sid(shape.optional));
    if key.len() == shape.key.len()
        && key.is_subset(&live)
        && live.iter().all(|s| key.contains(s) || optional.contains(s))
    {
        return Recognised::Workshop;
    }
    let all = allow_all();
    if live.iter().all(|s| *s == all || optional.contains(s))
        && (!shape.endpoint || live.contains(&all))
    {
        return Recognised::Open;
    }
    Recognised::Other
}

fn recognise_role(texts: &[String], docs: &Documents, host: &str) -> Role {
    let live: Option<BTreeSet<String>> = texts
        .iter()
        .map(|t| serde_json::from_str(t).ok().as_ref().map(canonical_document))
        .collect::<Option<_>>();
    let known = |state: &StateDocuments| -> BTreeSet<String> {
        state
            .roles
            .get(host)
            .into_iter()
            .flatten()
            .map(|d| canonical_document(&d.document))
            .collect()
    };
    match live {
        Some(live) if live == known(&docs.starting) => Role::Starting,
        Some(live) if live == known(&docs.secured) => Role::Secured,
        _ => Role::Other,
    }
}

/// A whole policy as one canonical text (its statements canonical and sorted).
fn canonical_document(doc: &Value) -> String {
    statements(doc).map(|s| s.into_iter().collect::<Vec<_>>().join("\n")).unwrap_or_default()
}

/// A policy's statements, each canonical (see [`canonical_statement`]); `None` when it has
/// none.
fn statements(doc: &Value) -> Option<BTreeSet<String>> {
    let list = match doc.get("Statement")? {
        Value::Array(list) => list.clone(),
        single @ Value::Object(_) => vec![single.clone()],
        _ => return None,
    };
    Some(list.iter().map(canonical_statement).collect())
}

/// A statement as text that does not depend on how it was written: no `Sid` (it decides
/// nothing), every action, resource and principal list sorted (a single string is a list of
/// one), condition keys lower-case (AWS matches them so: `aws:sourceVpce`), condition values
/// as sorted lists of strings.
fn canonical_statement(statement: &Value) -> String {
    let Some(object) = statement.as_object() else { return statement.to_string() };
    let mut out = Map::new();
    for (key, value) in object {
        let value = match key.as_str() {
            "Sid" => continue,
            "Action" | "NotAction" | "Resource" | "NotResource" => sorted_list(value),
            "Principal" | "NotPrincipal" => match value {
                Value::Object(m) => {
                    Value::Object(m.iter().map(|(k, v)| (k.clone(), sorted_list(v))).collect())
                }
                other => other.clone(),
            },
            "Condition" => canonical_condition(value),
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out).to_string()
}

fn canonical_condition(condition: &Value) -> Value {
    let Some(operators) = condition.as_object() else { return condition.clone() };
    let canonical = operators.iter().map(|(operator, keys)| {
        let keys = keys.as_object().map_or_else(
            || keys.clone(),
            |m| Value::Object(m.iter().map(|(k, v)| (k.to_lowercase(), sorted_list(v))).collect()),
        );
        (operator.clone(), keys)
    });
    Value::Object(canonical.collect())
}

/// A string or a list as a sorted list of strings (booleans and numbers as their text).
fn sorted_list(value: &Value) -> Value {
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    let mut items: Vec<String> = match value {
        Value::Array(list) => list.iter().map(text).collect(),
        other => vec![text(other)],
    };
    items.sort();
    items.dedup();
    Value::Array(items.into_iter().map(Value::String).collect())
}

/// `Allow * on *` for anyone: AWS's default endpoint policy, and the starting state's.
fn allow_all() -> String {
    canonical_statement(&serde_json::json!({
        "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_compare_as_what_they_say() {
        let a = serde_json::json!({"Sid": "X", "Effect": "Deny", "Principal": "*",
            "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*",
            "Condition": {"StringNotEquals": {"aws:sourceVpce": "vpce-1"}}});
        let b = serde_json::json!({"Effect": "Deny", "Principal": "*",
            "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::b/*"],
            "Condition": {"StringNotEquals": {"aws:SourceVpce": ["vpce-1"]}}});
        assert_eq!(canonical_statement(&a), canonical_statement(&b));
        let c = serde_json::json!({"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::b/*"});
        assert_ne!(canonical_statement(&a), canonical_statement(&c), "a condition matters");
        let default = serde_json::json!({"Statement": [{"Effect": "Allow", "Principal": "*",
            "Action": "*", "Resource": "*"}]});
        let none = &S3_ENDPOINT;
        assert_eq!(recognise_policy(Some(&default.to_string()), None, none), Recognised::Open);
        assert_eq!(recognise_policy(None, None, none), Recognised::Open);
        assert_eq!(recognise_policy(Some("{not json"), None, none), Recognised::Other);
    }

    #[test]
    fn security_groups_admit_by_address_or_group() {
        let rule = |cidrs: &[&str], groups: &[&str], from: Option<i32>| RuleDoc {
            protocol: "tcp".into(),
            from_port: from,
            to_port: from,
            cidrs: cidrs.iter().map(|s| s.to_string()).collect(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
        };
        let cloud9 = Ipv4Addr::new(10, 0, 0, 10);
        let vpc = [rule(&["10.0.0.0/16"], &[], Some(443))];
        assert!(admits(&vpc, cloud9, &[]));
        let apps = [rule(&[], &["sg-sales"], Some(443))];
        assert!(!admits(&apps, cloud9, &[]));
        assert!(admits(&apps, Ipv4Addr::new(10, 0, 1, 4), &["sg-sales".into()]));
        assert!(!admits(&[rule(&["10.0.0.0/16"], &[], Some(22))], cloud9, &[]), "another port");
        let all = RuleDoc { protocol: "-1".into(), ..rule(&["0.0.0.0/0"], &[], None) };
        assert!(admits(&[all], cloud9, &[]));
    }
}
