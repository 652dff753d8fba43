//! Which of the workshop's controls are in place now.
//!
//! The walkthrough's expectations must not come from the code under test (the gateway's
//! engine and its combination of policies): an expectation computed by the very code that
//! decides proves nothing. So each control is *recognised* here from its document, read by
//! the walkthrough's own small reader ([`super::oracle`]) for the few requests that tell the
//! workshop's control from the starting state's (does the gateway endpoint's policy let
//! salesapp's role delete, or write to the other bucket? does the bucket policy refuse the
//! administrator's write from the internet?), and [`super::checks`] says what the workshop's
//! text says each combination of controls does. So the workshop's own documents, ours, and
//! any other way of writing the same are all recognised; a policy that is neither the starting
//! state's nor the workshop's in effect is [`Recognised::Other`], and the walkthrough then
//! says it cannot tell what to expect, rather than guess.
//!
//! The endpoint's security group is read for what it admits (a rule for TCP 443 whose source
//! CIDR holds the host's address or whose source group is one of the host's), which is all a
//! security group means; this is written here again, apart from the gateway's own, on
//! purpose.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::oracle::{say_all, Principal, Request, Says};
use crate::lab::{HostDoc, LabDescription, RuleDoc, Snapshot};
use crate::state::OwnPolicies;

/// `workshop.json`: the workshop's controls as the template gives them in each state (the
/// documents `lab.sh secure` applies).
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
}

/// Where the workshop's controls live, and who asks.
#[derive(Debug, Clone)]
pub struct Ids {
    pub account: String,
    pub s3_endpoint: String,
    pub sqs_endpoint: String,
    pub bucket: String,
    pub unrestricted: String,
    pub queue_arn: String,
    /// The instance hosts' role ARNs (`arn:aws:iam::ACCOUNT:role/NAME`), by host.
    pub roles: BTreeMap<String, String>,
    /// The administrator (Cloud9's and the internet's credentials).
    pub admin: String,
}

impl Ids {
    /// From the stack's outputs and the lab's description.
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
        let admin = lab
            .credentials
            .get("cloud9")
            .and_then(|c| lab.principals.get(&c.access_key_id))
            .cloned()
            .ok_or("the lab names no principal for Cloud9's credentials")?;
        Ok(Ids {
            account: lab.account.clone(),
            s3_endpoint: output("S3VPCGatewayEndpoint")?,
            sqs_endpoint: output("SQSVPCInterfaceEndpoint")?,
            bucket: output("RestrictedS3Bucket")?,
            unrestricted: output("UnrestrictedS3Bucket")?,
            queue_arn: output("SQSQueueARN")?,
            roles,
            admin,
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
    /// No policy at all (for an endpoint: AWS's default, full access).
    Absent,
    /// A policy that restricts nothing the checks do (full access, the starting state's, a
    /// bucket policy that only requires TLS, a queue policy that only allows).
    Open,
    /// The workshop's control, in effect.
    Workshop,
    /// Anything else: what it does is not the workshop's to say.
    Other,
}

/// An instance role's identity policies, as the workshop knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The starting state's: the daemons' grants and the workshop's broader ones
    /// (DeleteObject, the unrestricted bucket, ListQueues…).
    Starting,
    /// The secured state's: the daemons' grants only.
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

/// How a request reaches the service: the context keys that path gives it.
#[derive(Debug, Clone, Copy)]
enum Via {
    S3Endpoint,
    SqsEndpoint,
    Internet,
}

/// The requests that tell the controls apart, and who makes them.
struct Probes<'a> {
    ids: &'a Ids,
    salesapp: Principal,
    reportsengine: Principal,
    admin: Principal,
}

/// `(who, action, resource, path)`.
type Ask<'p> = (&'p Principal, &'static str, String, Via);

impl Probes<'_> {
    fn new(ids: &Ids) -> Probes<'_> {
        let who = |arn: &str| Principal { arn: arn.to_string(), account: ids.account.clone() };
        let role = |host: &str| who(ids.roles.get(host).map_or("", String::as_str));
        Probes {
            salesapp: role("salesapp"),
            reportsengine: role("reportsengine"),
            admin: who(&ids.admin),
            ids,
        }
    }

    fn object(&self, restricted: bool) -> String {
        let bucket = if restricted { &self.ids.bucket } else { &self.ids.unrestricted };
        format!("arn:aws:s3:::{bucket}/walkthrough/probe.csv")
    }

    fn context(&self, who: &Principal, via: Via) -> BTreeMap<String, String> {
        let mut c = BTreeMap::from([
            ("aws:principalaccount".to_string(), who.account.clone()),
            ("aws:principalarn".to_string(), who.arn.clone()),
            ("aws:securetransport".to_string(), "true".to_string()),
        ]);
        match via {
            Via::S3Endpoint => c.insert("aws:sourcevpce".into(), self.ids.s3_endpoint.clone()),
            Via::SqsEndpoint => c.insert("aws:sourcevpce".into(), self.ids.sqs_endpoint.clone()),
            Via::Internet => c.insert("aws:sourceip".into(), "203.0.113.10".into()),
        };
        c
    }

    /// The message actions the checks make through the interface endpoint: salesapp's send
    /// and receive, the engine's receive and delete, the administrator's send from Cloud9.
    fn message_actions(&self) -> Vec<Ask<'_>> {
        let (queue, via) = (&self.ids.queue_arn, Via::SqsEndpoint);
        vec![
            (&self.salesapp, "sqs:SendMessage", queue.clone(), via),
            (&self.salesapp, "sqs:ReceiveMessage", queue.clone(), via),
            (&self.reportsengine, "sqs:ReceiveMessage", queue.clone(), via),
            (&self.reportsengine, "sqs:DeleteMessage", queue.clone(), via),
            (&self.admin, "sqs:SendMessage", queue.clone(), via),
        ]
    }

    /// What `policies` say about each request.
    fn answers(&self, policies: &[Value], asks: &[Ask]) -> Vec<Says> {
        asks.iter()
            .map(|(who, action, resource, via)| {
                let context = self.context(who, *via);
                let request = Request { principal: who, action, resource, context: &context };
                say_all(policies, &request)
            })
            .collect()
    }
}

/// A policy text as a document; `None` for one that is not JSON (it stands for nothing the
/// workshop knows).
fn document(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok()
}

/// An endpoint's policy: open when it allows the starting state's extras too, the workshop's
/// when it allows what the applications need and none of the extras.
fn classify_allows(needed: &[Says], extras: &[Says]) -> Recognised {
    let all = |list: &[Says]| list.iter().all(|s| *s == Says::Allow);
    let none = |list: &[Says]| list.iter().all(|s| *s != Says::Allow);
    if needed.iter().chain(extras).any(|s| matches!(s, Says::Unknown(_))) || !all(needed) {
        Recognised::Other
    } else if all(extras) {
        Recognised::Open
    } else if none(extras) {
        Recognised::Workshop
    } else {
        Recognised::Other
    }
}

/// A resource policy: the workshop's when it refuses `refused` and none of `kept`, open when
/// it refuses none; either way it may allow none of `not_granted` (a grant that would change a
/// check, e.g. `s3:ListBucket`, turning the 403 into a 404).
fn classify_denies(refused: &Says, kept: &[Says], not_granted: &[Says]) -> Recognised {
    let all = std::iter::once(refused).chain(kept).chain(not_granted);
    if all.clone().any(|s| matches!(s, Says::Unknown(_)))
        || kept.contains(&Says::Deny)
        || not_granted.contains(&Says::Allow)
    {
        return Recognised::Other;
    }
    if *refused == Says::Deny {
        Recognised::Workshop
    } else {
        Recognised::Open
    }
}

fn s3_endpoint_policy(text: Option<&str>, p: &Probes) -> Recognised {
    let Some(text) = text else { return Recognised::Absent };
    let Some(doc) = document(text) else { return Recognised::Other };
    let (restricted, other) = (p.object(true), p.object(false));
    let via = Via::S3Endpoint;
    let needed = p.answers(
        std::slice::from_ref(&doc),
        &[
            (&p.salesapp, "s3:GetObject", restricted.clone(), via),
            (&p.salesapp, "s3:PutObject", restricted.clone(), via),
            (&p.reportsengine, "s3:GetObject", restricted.clone(), via),
            (&p.reportsengine, "s3:PutObject", restricted.clone(), via),
        ],
    );
    let extras = p.answers(
        &[doc],
        &[
            (&p.salesapp, "s3:DeleteObject", restricted, via),
            (&p.salesapp, "s3:PutObject", other.clone(), via),
            (&p.salesapp, "s3:DeleteObject", other, via),
        ],
    );
    classify_allows(&needed, &extras)
}

fn bucket_policy(text: Option<&str>, p: &Probes) -> Recognised {
    let Some(text) = text else { return Recognised::Absent };
    let Some(doc) = document(text) else { return Recognised::Other };
    let docs = [doc];
    let object = p.object(true);
    let bucket = format!("arn:aws:s3:::{}", p.ids.bucket);
    let refused = p.answers(&docs, &[(&p.admin, "s3:PutObject", object.clone(), Via::Internet)]);
    let kept = p.answers(
        &docs,
        &[
            (&p.salesapp, "s3:PutObject", object.clone(), Via::S3Endpoint),
            (&p.reportsengine, "s3:GetObject", object.clone(), Via::S3Endpoint),
            (&p.admin, "s3:DeleteObject", object.clone(), Via::Internet),
            (&p.admin, "s3:GetObject", object.clone(), Via::Internet),
        ],
    );
    let not_granted = p.answers(
        &docs,
        &[
            (&p.reportsengine, "s3:ListBucket", bucket, Via::S3Endpoint),
            (&p.salesapp, "s3:DeleteObject", object, Via::S3Endpoint),
        ],
    );
    classify_denies(&refused[0], &kept, &not_granted)
}

fn sqs_endpoint_policy(text: Option<&str>, p: &Probes) -> Recognised {
    let Some(text) = text else { return Recognised::Absent };
    let Some(doc) = document(text) else { return Recognised::Other };
    let needed = p.answers(std::slice::from_ref(&doc), &p.message_actions());
    let listing = (&p.salesapp, "sqs:ListQueues", "*".into(), Via::SqsEndpoint);
    let extras = p.answers(&[doc], &[listing]);
    classify_allows(&needed, &extras)
}

fn queue_policy(text: Option<&str>, p: &Probes) -> Recognised {
    let Some(text) = text else { return Recognised::Absent };
    let Some(doc) = document(text) else { return Recognised::Other };
    let docs = [doc];
    let queue = p.ids.queue_arn.clone();
    let refused = p.answers(&docs, &[(&p.admin, "sqs:SendMessage", queue, Via::Internet)]);
    let kept = p.answers(&docs, &p.message_actions());
    classify_denies(&refused[0], &kept, &[])
}

/// A role: the daemons' grants must be there, no `s3:ListBucket`; the starting state's
/// broader grants all there, or none of them.
fn role(texts: &[String], host: &str, p: &Probes) -> Role {
    let Some(docs) = texts.iter().map(|t| document(t)).collect::<Option<Vec<Value>>>() else {
        return Role::Other;
    };
    let (who, messages): (&Principal, [&'static str; 2]) = match host {
        "salesapp" => (&p.salesapp, ["sqs:SendMessage", "sqs:ReceiveMessage"]),
        _ => (&p.reportsengine, ["sqs:ReceiveMessage", "sqs:DeleteMessage"]),
    };
    let (restricted, other, queue) = (p.object(true), p.object(false), p.ids.queue_arn.clone());
    let via = Via::S3Endpoint;
    let mut needed: Vec<Ask> = vec![
        (who, "s3:GetObject", restricted.clone(), via),
        (who, "s3:PutObject", restricted.clone(), via),
    ];
    needed.extend(messages.map(|m| (who, m, queue.clone(), Via::SqsEndpoint)));
    let needed = p.answers(&docs, &needed);
    let bucket = format!("arn:aws:s3:::{}", p.ids.bucket);
    let listing = p.answers(&docs, &[(who, "s3:ListBucket", bucket, via)]);
    let mut extras: Vec<Ask> = vec![(who, "s3:DeleteObject", restricted, via)];
    if host == "salesapp" {
        extras.push((who, "s3:PutObject", other.clone(), via));
        extras.push((who, "s3:DeleteObject", other, via));
        extras.push((who, "sqs:ListQueues", "*".into(), Via::SqsEndpoint));
    }
    let extras = p.answers(&docs, &extras);
    if listing[0] == Says::Allow {
        return Role::Other;
    }
    match classify_allows(&needed, &extras) {
        Recognised::Open => Role::Starting,
        Recognised::Workshop => Role::Secured,
        Recognised::Other | Recognised::Absent => Role::Other,
    }
}

/// Recognises every control (see the module doc).
pub fn recognise(live: &Live, ids: &Ids, hosts: &[HostDoc]) -> Controls {
    let p = Probes::new(ids);
    Controls {
        s3_endpoint_policy: s3_endpoint_policy(live.s3_endpoint_policy.as_deref(), &p),
        bucket_policy: bucket_policy(live.bucket_policy.as_deref(), &p),
        endpoint_security_group: hosts
            .iter()
            .filter_map(|h| {
                let ip = h.private_ip?;
                Some((h.name.clone(), admits(&live.endpoint_rules, ip, &h.security_groups)))
            })
            .collect(),
        sqs_endpoint_policy: sqs_endpoint_policy(live.sqs_endpoint_policy.as_deref(), &p),
        queue_policy: queue_policy(live.queue_policy.as_deref(), &p),
        roles: live
            .roles
            .iter()
            .map(|(host, texts)| (host.clone(), role(texts, host, &p)))
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let workshop = RuleDoc { to_port: Some(65535), ..rule(&["10.0.0.0/8"], &[], Some(0)) };
        assert!(admits(&[workshop], cloud9, &[]), "the original workshop's rule");
    }
}
