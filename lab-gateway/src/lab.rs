//! What the gateway is told and what it reads, as documents:
//!
//! - [`LabDescription`] (`lab.json`, written by `deploy/local/lab_setup.py` when the lab
//!   starts): the deployed stack's ids, the hosts, the credentials the lab handed out, and
//!   the bucket and queue policies rendered from the template (the emulator's CloudFormation
//!   skips those resources; the gateway keeps them from then on).
//! - [`Snapshot`]: the parts of the lab that live in the emulator and change through its
//!   APIs (VPC endpoints and their policies, the security groups' inbound rules, identity
//!   policies), as [`crate::live`] reads them, or as the template renders them for the tests.
//!
//! [`build_world`] turns both (and the gateway's own bucket and queue policies) into the
//! [`World`] decisions are made in.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::policy::{parse, NamedPolicy, PolicyKind};
use crate::world::{Endpoint, EndpointType, Host, IngressRule, Network, Placement, World};

/// `lab.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LabDescription {
    /// `secured` or `starting`.
    pub state: String,
    pub region: String,
    pub account: String,
    /// The emulator, `http://127.0.0.1:PORT`.
    pub emulator: String,
    /// The VPC endpoints to read from the emulator.
    pub endpoints: Vec<String>,
    pub hosts: Vec<HostDoc>,
    /// The credentials each host uses, by host name.
    pub credentials: BTreeMap<String, CredentialsDoc>,
    /// Access key → the caller's ARN (as `sts get-caller-identity` names it), for every key
    /// the lab handed out. Other keys are resolved through the emulator.
    pub principals: BTreeMap<String, String>,
    /// The template's bucket policies (bucket → policy), the gateway's from the start.
    #[serde(default)]
    pub bucket_policies: BTreeMap<String, String>,
    /// The template's queue policies (queue ARN → policy).
    #[serde(default)]
    pub queue_policies: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HostDoc {
    pub name: String,
    /// Absent for a host outside the VPC.
    #[serde(default)]
    pub vpc_id: Option<String>,
    #[serde(default)]
    pub private_ip: Option<Ipv4Addr>,
    #[serde(default)]
    pub route_table: Option<String>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    pub public_ip: Ipv4Addr,
    /// The instance role served by this host's instance metadata stand-in, if any.
    #[serde(default)]
    pub instance_role: Option<String>,
}

/// Credentials as the SDKs' environment variables name them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CredentialsDoc {
    #[serde(rename = "AWS_ACCESS_KEY_ID")]
    pub access_key_id: String,
    #[serde(rename = "AWS_SECRET_ACCESS_KEY")]
    pub secret_access_key: String,
    #[serde(rename = "AWS_SESSION_TOKEN", default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
}

/// What lives in the emulator and is read from it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub endpoints: Vec<EndpointDoc>,
    /// Inbound rules by security group id.
    pub security_groups: BTreeMap<String, Vec<RuleDoc>>,
    /// Identity policies by principal ARN (a user's, or a role's `arn:aws:iam::A:role/R`).
    pub identity_policies: BTreeMap<String, Vec<PolicyDoc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EndpointDoc {
    pub id: String,
    /// `Gateway` or `Interface`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `com.amazonaws.REGION.SERVICE`.
    pub service_name: String,
    pub vpc_id: String,
    /// `None`: never set (AWS's default full-access policy).
    pub policy: Option<String>,
    #[serde(default)]
    pub route_tables: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub private_dns: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RuleDoc {
    pub protocol: String,
    #[serde(default)]
    pub from_port: Option<i32>,
    #[serde(default)]
    pub to_port: Option<i32>,
    #[serde(default)]
    pub cidrs: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PolicyDoc {
    /// Where it lives, in words (`role R, inline policy P`).
    pub name: String,
    pub document: String,
}

/// A lab rendered from the template offline (`deploy/local/lab_setup.py fixture`): the
/// stack's outputs, the lab's description and the emulator's side, with made-up ids. The
/// decision tests and benches read the template's policies this way.
#[derive(Debug, Clone, Deserialize)]
pub struct Rendered {
    pub outputs: BTreeMap<String, String>,
    pub lab: LabDescription,
    pub snapshot: Snapshot,
}

impl LabDescription {
    /// The hosts as the world models them.
    pub fn hosts(&self) -> Vec<Host> {
        self.hosts
            .iter()
            .map(|h| Host {
                name: h.name.clone(),
                placement: match (&h.vpc_id, h.private_ip, &h.route_table) {
                    (Some(vpc_id), Some(private_ip), Some(route_table)) => Some(Placement {
                        vpc_id: vpc_id.clone(),
                        private_ip,
                        route_table: route_table.clone(),
                        security_groups: h.security_groups.clone(),
                    }),
                    _ => None,
                },
                public_ip: h.public_ip,
            })
            .collect()
    }
}

/// A policy that could not be read stands as one that denies everything, named so that
/// every decision it takes says so: leaving it out could allow what it denies.
const UNREADABLE: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"PolicyCouldNotBeRead","Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}"#;

/// Builds the world and the identity policies by principal. The warnings name every policy
/// or rule that could not be read (see [`UNREADABLE`]).
pub fn build_world(
    lab: &LabDescription,
    snapshot: &Snapshot,
    bucket_policies: &BTreeMap<String, String>,
    queue_policies: &BTreeMap<String, String>,
) -> (World, BTreeMap<String, Vec<Arc<NamedPolicy>>>, Vec<String>) {
    let mut warnings = Vec::new();
    let endpoints = endpoints(snapshot, &mut warnings);
    let security_groups = security_groups(snapshot, &mut warnings);
    let mut identities = BTreeMap::new();
    for (principal, docs) in &snapshot.identity_policies {
        let list = docs
            .iter()
            .map(|d| read_policy(&mut warnings, PolicyKind::Identity, &d.name, &d.document))
            .collect();
        identities.insert(principal.clone(), list);
    }
    let buckets = bucket_policies
        .iter()
        .map(|(b, text)| {
            let name = format!("bucket {b}");
            (b.clone(), read_policy(&mut warnings, PolicyKind::Bucket, &name, text))
        })
        .collect();
    let queues = queue_policies
        .iter()
        .map(|(q, text)| {
            let name = format!("queue {}", q.rsplit(':').next().unwrap_or(q));
            (q.clone(), read_policy(&mut warnings, PolicyKind::Queue, &name, text))
        })
        .collect();
    let world = World {
        region: lab.region.clone(),
        account: lab.account.clone(),
        network: Network { hosts: lab.hosts(), endpoints, security_groups },
        bucket_policies: buckets,
        queue_policies: queues,
    };
    (world, identities, warnings)
}

/// A policy as the decisions use it; one that cannot be read stands as [`UNREADABLE`], and a
/// warning says why.
fn read_policy(
    warnings: &mut Vec<String>,
    kind: PolicyKind,
    name: &str,
    text: &str,
) -> Arc<NamedPolicy> {
    match parse(kind, name, text) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            warnings.push(e.to_string());
            let name = format!("{name} (its policy could not be read: {})", e.reason);
            match parse(kind, &name, UNREADABLE) {
                Ok(p) => Arc::new(p),
                // UNREADABLE is a constant the tests parse: this cannot happen.
                Err(_) => unreachable!("the unreadable-policy stand-in parses"),
            }
        }
    }
}

/// The VPC endpoints as the emulator describes them, with their policies.
fn endpoints(snapshot: &Snapshot, warnings: &mut Vec<String>) -> Vec<Endpoint> {
    let mut endpoints = Vec::new();
    for e in &snapshot.endpoints {
        let kind = if e.kind.eq_ignore_ascii_case("gateway") {
            EndpointType::Gateway
        } else {
            EndpointType::Interface
        };
        let service = e.service_name.rsplit('.').next().unwrap_or_default().to_string();
        let mut endpoint = Endpoint {
            id: e.id.clone(),
            kind,
            service,
            vpc_id: e.vpc_id.clone(),
            policy: None,
            route_tables: e.route_tables.clone(),
            groups: e.groups.clone(),
            private_dns: e.private_dns,
        };
        endpoint.policy = e
            .policy
            .as_deref()
            .map(|text| read_policy(warnings, PolicyKind::Endpoint, &endpoint.describe(), text));
        endpoints.push(endpoint);
    }
    endpoints
}

/// The security groups' ingress rules, by group; a CIDR that is not IPv4 is left out, with a
/// warning.
fn security_groups(
    snapshot: &Snapshot,
    warnings: &mut Vec<String>,
) -> BTreeMap<String, Vec<IngressRule>> {
    let mut security_groups = BTreeMap::new();
    for (group, rules) in &snapshot.security_groups {
        let mut out = Vec::new();
        for r in rules {
            let mut cidrs = Vec::new();
            for c in &r.cidrs {
                match c.parse() {
                    Ok(net) => cidrs.push(net),
                    Err(_) => {
                        warnings.push(format!("security group {group}: CIDR {c:?} is not IPv4"))
                    }
                }
            }
            out.push(IngressRule {
                protocol: r.protocol.clone(),
                from_port: r.from_port,
                to_port: r.to_port,
                cidrs,
                groups: r.groups.clone(),
            });
        }
        security_groups.insert(group.clone(), out);
    }
    security_groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Check;
    use crate::decide::Verdict;
    use crate::world::Caller;

    fn lab() -> LabDescription {
        LabDescription {
            state: "secured".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            emulator: "http://127.0.0.1:1".into(),
            endpoints: vec!["vpce-s3".into()],
            hosts: vec![HostDoc {
                name: "salesapp".into(),
                vpc_id: Some("vpc-1".into()),
                private_ip: Some(Ipv4Addr::new(10, 0, 1, 4)),
                route_table: Some("rtb-1".into()),
                security_groups: vec![],
                public_ip: Ipv4Addr::new(203, 0, 113, 1),
                instance_role: None,
            }],
            credentials: BTreeMap::new(),
            principals: BTreeMap::new(),
            bucket_policies: BTreeMap::new(),
            queue_policies: BTreeMap::new(),
        }
    }

    /// A policy the gateway cannot read denies everything, and says so: never "full access".
    #[test]
    fn an_unreadable_policy_denies_and_says_why() {
        assert!(parse(PolicyKind::Bucket, "stand-in", UNREADABLE).is_ok());
        let snapshot = Snapshot {
            endpoints: vec![EndpointDoc {
                id: "vpce-s3".into(),
                kind: "Gateway".into(),
                service_name: "com.amazonaws.us-east-1.s3".into(),
                vpc_id: "vpc-1".into(),
                policy: Some("{'Version': '2012-10-17'}".into()),
                route_tables: vec!["rtb-1".into()],
                groups: vec![],
                private_dns: false,
            }],
            security_groups: BTreeMap::from([(
                "sg-1".into(),
                vec![RuleDoc { protocol: "tcp".into(), from_port: Some(443), to_port: Some(443), cidrs: vec!["::/0".into()], groups: vec![] }],
            )]),
            identity_policies: BTreeMap::from([(
                "arn:aws:iam::123456789012:role/r".into(),
                vec![PolicyDoc { name: "role r, inline policy p".into(), document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#.into() }],
            )]),
        };
        let (world, identities, warnings) =
            build_world(&lab(), &snapshot, &BTreeMap::new(), &BTreeMap::new());
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        let caller =
            Caller::from_arn("arn:aws:sts::123456789012:assumed-role/r/s").expect("caller");
        let host = world.network.host("salesapp").expect("host");
        let identity = &identities["arn:aws:iam::123456789012:role/r"];
        let check = Check::new("s3:GetObject", "arn:aws:s3:::b/k");
        match world.authorize(host, &caller, identity, &check, time::OffsetDateTime::UNIX_EPOCH) {
            Verdict::Deny(r) => {
                assert_eq!(r.policy, PolicyKind::Endpoint);
                assert!(r.name.contains("could not be read"), "{}", r.name);
            }
            v => panic!("{v:?}"),
        }
    }
}
