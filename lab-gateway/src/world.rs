//! The lab as the gateway sees it at one moment: its hosts, the VPC endpoints and the
//! security groups they are reached through, the bucket and queue policies; and, from those,
//! how a host reaches a service (the *path*), the context keys the path implies, whether the
//! endpoint's security group admits the host, and the decision for one check.
//!
//! Pure: the server builds a [`World`] from the emulator's answers and its own state; the unit
//! tests build one from the template's policies.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use iam_rs::{Context, ContextValue};
use ipnet::Ipv4Net;

use crate::check::{bucket_of_arn, Check};
use crate::decide::{decide, Policies, Question, Verdict};
use crate::policy::NamedPolicy;

/// Who signed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// As `sts get-caller-identity` names it (an assumed role's *session* ARN).
    pub arn: String,
    /// As policies name it (an assumed role's *role* ARN).
    pub principal: String,
    pub account: String,
    pub kind: CallerKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerKind {
    User { name: String },
    AssumedRole { role: String, session: String },
    Root,
}

impl Caller {
    /// The caller an ARN names: `arn:aws:iam::A:user/[path/]NAME`,
    /// `arn:aws:sts::A:assumed-role/ROLE/SESSION`, `arn:aws:iam::A:root`.
    pub fn from_arn(arn: &str) -> Option<Caller> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [_, _, service, _, account, resource] = parts.as_slice() else { return None };
        let (kind, principal) = match (*service, resource.split_once('/')) {
            ("iam", Some(("user", path))) => {
                let name = path.rsplit('/').next().unwrap_or(path).to_string();
                (CallerKind::User { name }, arn.to_string())
            }
            ("sts", Some(("assumed-role", rest))) => {
                let (role, session) = rest.split_once('/')?;
                (
                    CallerKind::AssumedRole {
                        role: role.to_string(),
                        session: session.to_string(),
                    },
                    format!("arn:aws:iam::{account}:role/{role}"),
                )
            }
            ("iam", None) if *resource == "root" => (CallerKind::Root, arn.to_string()),
            _ => return None,
        };
        Some(Caller { arn: arn.to_string(), principal, account: account.to_string(), kind })
    }
}

/// Where a host sits in the VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub vpc_id: String,
    pub private_ip: Ipv4Addr,
    /// The route table of the host's subnet (a gateway endpoint routes the tables it lists).
    pub route_table: String,
    pub security_groups: Vec<String>,
}

/// One host of the lab (one listener of the gateway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    /// `None` for a host outside the VPC (`internet`).
    pub placement: Option<Placement>,
    /// The address AWS sees when the host's traffic leaves over the internet: the NAT
    /// gateway's for the private subnets, the host's own for the public subnet and outside.
    pub public_ip: Ipv4Addr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointType {
    Gateway,
    Interface,
}

/// A VPC endpoint as the emulator describes it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub kind: EndpointType,
    /// The service's short name: `s3` of `com.amazonaws.us-east-1.s3`.
    pub service: String,
    pub vpc_id: String,
    /// `None`: AWS's default full-access policy.
    pub policy: Option<Arc<NamedPolicy>>,
    /// Gateway endpoints: the route tables that send the service's traffic through it.
    pub route_tables: Vec<String>,
    /// Interface endpoints: their security groups.
    pub groups: Vec<String>,
    /// Interface endpoints: whether the service's public name resolves to it in the VPC.
    pub private_dns: bool,
}

impl Endpoint {
    /// `the S3 gateway endpoint vpce-…`, `the SQS interface endpoint vpce-…`.
    pub fn describe(&self) -> String {
        let kind = match self.kind {
            EndpointType::Gateway => "gateway",
            EndpointType::Interface => "interface",
        };
        format!("the {} {kind} endpoint {}", self.service.to_uppercase(), self.id)
    }
}

/// One inbound rule of a security group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressRule {
    /// `tcp`, `udp`, `icmp` or `-1` (all).
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub cidrs: Vec<Ipv4Net>,
    /// Source security groups.
    pub groups: Vec<String>,
}

impl IngressRule {
    fn covers_https(&self) -> bool {
        match self.protocol.as_str() {
            "-1" | "all" => true,
            "tcp" | "6" => match (self.from_port, self.to_port) {
                (Some(from), Some(to)) => from <= 443 && 443 <= to,
                _ => true,
            },
            _ => false,
        }
    }
}

/// How a host reaches a service.
#[derive(Debug, Clone, Copy)]
pub enum Path<'a> {
    /// Through a VPC endpoint, from the host's private address.
    Endpoint(&'a Endpoint, &'a Placement),
    /// Over the internet, from this address.
    Public(Ipv4Addr),
}

impl Path<'_> {
    /// In words, for the decision log.
    pub fn describe(&self) -> String {
        match self {
            Path::Endpoint(e, _) => e.describe(),
            Path::Public(ip) => format!("the internet (from {ip})"),
        }
    }
}

/// Whether an interface endpoint's security group lets a host in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Which group and rule admitted it.
    Admitted(String),
    /// Why not, in words.
    Refused(String),
}

/// The lab's network: hosts, endpoints, security groups.
#[derive(Debug, Clone, Default)]
pub struct Network {
    pub hosts: Vec<Host>,
    pub endpoints: Vec<Endpoint>,
    /// Inbound rules by group id.
    pub security_groups: BTreeMap<String, Vec<IngressRule>>,
}

impl Network {
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// How `host` reaches `service` (an IAM prefix: `s3`, `sqs`, `ec2`, …): S3 through a
    /// gateway endpoint that routes the host's subnet, SQS through an interface endpoint with
    /// private DNS in the host's VPC, anything else over the internet.
    pub fn path<'a>(&'a self, host: &'a Host, service: &str) -> Path<'a> {
        if let Some(placement) = &host.placement {
            let through = self.endpoints.iter().find(|e| {
                e.service == service
                    && e.vpc_id == placement.vpc_id
                    && match e.kind {
                        EndpointType::Gateway => e.route_tables.contains(&placement.route_table),
                        EndpointType::Interface => e.private_dns,
                    }
            });
            if let Some(endpoint) = through {
                return Path::Endpoint(endpoint, placement);
            }
        }
        Path::Public(host.public_ip)
    }

    /// Whether the security groups of an interface endpoint admit HTTPS from `placement`:
    /// a rule for TCP 443 (or all traffic) whose source CIDR holds the host's address or whose
    /// source group is one of the host's groups. Gateway endpoints have no security group.
    pub fn admission(&self, endpoint: &Endpoint, placement: &Placement) -> Admission {
        if endpoint.kind == EndpointType::Gateway {
            return Admission::Admitted("a gateway endpoint has no security group".into());
        }
        for group in &endpoint.groups {
            for rule in self.security_groups.get(group).into_iter().flatten() {
                if !rule.covers_https() {
                    continue;
                }
                if let Some(cidr) = rule.cidrs.iter().find(|c| c.contains(&placement.private_ip)) {
                    return Admission::Admitted(format!("{group} admits {cidr}"));
                }
                if let Some(g) = rule.groups.iter().find(|g| placement.security_groups.contains(g))
                {
                    return Admission::Admitted(format!("{group} admits the group {g}"));
                }
            }
        }
        let groups = if placement.security_groups.is_empty() {
            "(none)".to_string()
        } else {
            placement.security_groups.join(", ")
        };
        let endpoint_groups = if endpoint.groups.is_empty() {
            "(none)".to_string()
        } else {
            endpoint.groups.join(", ")
        };
        Admission::Refused(format!(
            "the security group(s) {endpoint_groups} of {} admit on TCP 443 neither the host's \
             address {} nor its security groups {groups}",
            endpoint.describe(),
            placement.private_ip
        ))
    }
}

/// The context keys AWS puts in a request from `caller` over `path` (keys are matched
/// case-insensitively by the engine, as by AWS). Every listener stands for a TLS endpoint, so
/// `aws:SecureTransport` is true; a request through a VPC endpoint carries `aws:SourceVpce`,
/// `aws:SourceVpc` and `aws:VpcSourceIp` and no `aws:SourceIp`; one over the internet carries
/// `aws:SourceIp`.
pub fn context(caller: &Caller, path: &Path, region: &str, now: time::OffsetDateTime) -> Context {
    let mut c = Context::new()
        .with_boolean("aws:SecureTransport", true)
        .with_string("aws:PrincipalAccount", caller.account.clone())
        .with_string("aws:PrincipalArn", caller.principal.clone())
        .with_string("aws:RequestedRegion", region)
        .with_boolean("aws:PrincipalIsAWSService", false)
        .with_boolean("aws:ViaAWSService", false)
        .with_string("aws:EpochTime", now.unix_timestamp().to_string());
    if let Ok(t) = now.format(&time::format_description::well_known::Rfc3339) {
        c = c.with_string("aws:CurrentTime", t);
    }
    let principal_type = match &caller.kind {
        CallerKind::User { name } => {
            c = c.with_string("aws:username", name.clone());
            "User"
        }
        CallerKind::AssumedRole { .. } => "AssumedRole",
        CallerKind::Root => "Account",
    };
    c = c.with_string("aws:PrincipalType", principal_type);
    match path {
        Path::Endpoint(endpoint, placement) => {
            c = c
                .with_string("aws:SourceVpce", endpoint.id.clone())
                .with_string("aws:SourceVpc", placement.vpc_id.clone())
                .with_string("aws:VpcSourceIp", placement.private_ip.to_string());
        }
        Path::Public(ip) => c.insert("aws:SourceIp".into(), ContextValue::String(ip.to_string())),
    }
    c
}

/// The lab's state for deciding: the network and the policies the gateway keeps.
#[derive(Debug, Clone, Default)]
pub struct World {
    pub region: String,
    pub account: String,
    pub network: Network,
    /// By bucket name.
    pub bucket_policies: BTreeMap<String, Arc<NamedPolicy>>,
    /// By queue ARN.
    pub queue_policies: BTreeMap<String, Arc<NamedPolicy>>,
}

impl World {
    /// The resource policy of a check's resource (the bucket's or the queue's).
    pub fn resource_policy(&self, check: &Check) -> Option<&NamedPolicy> {
        match check.service() {
            "s3" => bucket_of_arn(&check.resource).and_then(|b| self.bucket_policies.get(b)),
            "sqs" => self.queue_policies.get(&check.resource),
            _ => None,
        }
        .map(|p| p.as_ref())
    }

    /// Decides one check for `caller` on `host` (see [`crate::decide`]): S3 and SQS with
    /// their resource policies and, through an endpoint, its policy; other services by the
    /// identity policies alone; `sts:GetCallerIdentity` by none.
    pub fn authorize(
        &self,
        host: &Host,
        caller: &Caller,
        identity: &[Arc<NamedPolicy>],
        check: &Check,
        now: time::OffsetDateTime,
    ) -> Verdict {
        if crate::services::needs_no_permission(check) {
            return Verdict::Allow { by: "no policy: AWS answers it for every caller".into() };
        }
        let path = self.network.path(host, check.service());
        let ctx = context(caller, &path, &self.region, now);
        let endpoint = match path {
            Path::Endpoint(e, _) => Some((e.id.as_str(), e.policy.as_deref())),
            Path::Public(_) => None,
        };
        let policies = Policies { identity, endpoint, resource: self.resource_policy(check) };
        let question = Question {
            principal: &caller.principal,
            action: &check.action,
            resource: &check.resource,
            context: &ctx,
        };
        decide(&question, &policies)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_from_their_arns() {
        let role =
            Caller::from_arn("arn:aws:sts::123456789012:assumed-role/lab-SalesAppRole-X/salesapp")
                .expect("role");
        assert_eq!(role.principal, "arn:aws:iam::123456789012:role/lab-SalesAppRole-X");
        assert_eq!(
            role.kind,
            CallerKind::AssumedRole {
                role: "lab-SalesAppRole-X".into(),
                session: "salesapp".into()
            }
        );
        let user = Caller::from_arn("arn:aws:iam::123456789012:user/ops/lab-admin").expect("user");
        assert_eq!(
            (user.principal.as_str(), user.kind.clone()),
            (
                "arn:aws:iam::123456789012:user/ops/lab-admin",
                CallerKind::User { name: "lab-admin".into() }
            )
        );
        assert_eq!(
            Caller::from_arn("arn:aws:iam::123456789012:root").map(|c| c.kind),
            Some(CallerKind::Root)
        );
        assert_eq!(Caller::from_arn("arn:aws:sts::123456789012:user/moto"), None);
        assert_eq!(Caller::from_arn("nonsense"), None);
    }

    fn network() -> Network {
        let placement = |ip: [u8; 4], rt: &str, sgs: &[&str]| Placement {
            vpc_id: "vpc-1".into(),
            private_ip: Ipv4Addr::from(ip),
            route_table: rt.into(),
            security_groups: sgs.iter().map(|s| s.to_string()).collect(),
        };
        Network {
            hosts: vec![
                Host {
                    name: "salesapp".into(),
                    placement: Some(placement([10, 0, 1, 4], "rtb-private1", &["sg-sales"])),
                    public_ip: Ipv4Addr::new(203, 0, 113, 1),
                },
                Host {
                    name: "cloud9".into(),
                    placement: Some(placement([10, 0, 0, 10], "rtb-public", &[])),
                    public_ip: Ipv4Addr::new(203, 0, 113, 10),
                },
                Host {
                    name: "internet".into(),
                    placement: None,
                    public_ip: Ipv4Addr::new(198, 51, 100, 10),
                },
            ],
            endpoints: vec![
                Endpoint {
                    id: "vpce-s3".into(),
                    kind: EndpointType::Gateway,
                    service: "s3".into(),
                    vpc_id: "vpc-1".into(),
                    policy: None,
                    route_tables: vec!["rtb-private1".into()],
                    groups: vec![],
                    private_dns: false,
                },
                Endpoint {
                    id: "vpce-sqs".into(),
                    kind: EndpointType::Interface,
                    service: "sqs".into(),
                    vpc_id: "vpc-1".into(),
                    policy: None,
                    route_tables: vec![],
                    groups: vec!["sg-endpoint".into()],
                    private_dns: true,
                },
            ],
            security_groups: BTreeMap::from([(
                "sg-endpoint".to_string(),
                vec![IngressRule {
                    protocol: "tcp".into(),
                    from_port: Some(443),
                    to_port: Some(443),
                    cidrs: vec![],
                    groups: vec!["sg-sales".into()],
                }],
            )]),
        }
    }

    #[test]
    fn paths_follow_routes_and_private_dns() {
        let mut n = network();
        let (sales, cloud9, internet) =
            (n.hosts[0].clone(), n.hosts[1].clone(), n.hosts[2].clone());
        assert!(matches!(n.path(&sales, "s3"), Path::Endpoint(e, _) if e.id == "vpce-s3"));
        assert!(matches!(n.path(&sales, "sqs"), Path::Endpoint(e, _) if e.id == "vpce-sqs"));
        assert!(
            matches!(n.path(&sales, "ec2"), Path::Public(ip) if ip == Ipv4Addr::new(203, 0, 113, 1))
        );
        assert!(
            matches!(n.path(&cloud9, "s3"), Path::Public(_)),
            "the public subnet's table has no S3 route"
        );
        assert!(
            matches!(n.path(&cloud9, "sqs"), Path::Endpoint(..)),
            "private DNS answers in the whole VPC"
        );
        assert!(matches!(n.path(&internet, "sqs"), Path::Public(_)));
        n.endpoints[0].route_tables.clear();
        n.endpoints[1].private_dns = false;
        assert!(matches!(n.path(&sales, "s3"), Path::Public(_)));
        assert!(matches!(n.path(&sales, "sqs"), Path::Public(_)));
    }

    #[test]
    fn the_endpoints_security_group_admits_by_group_or_address() {
        let mut n = network();
        let sqs = n.endpoints[1].clone();
        let sales = n.hosts[0].placement.clone().expect("placed");
        let cloud9 = n.hosts[1].placement.clone().expect("placed");
        assert_eq!(
            n.admission(&sqs, &sales),
            Admission::Admitted("sg-endpoint admits the group sg-sales".into())
        );
        match n.admission(&sqs, &cloud9) {
            Admission::Refused(why) => {
                assert!(why.contains("10.0.0.10") && why.contains("sg-endpoint"), "{why}")
            }
            a => panic!("{a:?}"),
        }
        // The starting state: the whole VPC.
        n.security_groups.insert(
            "sg-endpoint".into(),
            vec![IngressRule {
                protocol: "tcp".into(),
                from_port: Some(443),
                to_port: Some(443),
                cidrs: vec!["10.0.0.0/16".parse().expect("cidr")],
                groups: vec![],
            }],
        );
        assert!(matches!(n.admission(&sqs, &cloud9), Admission::Admitted(_)));
        // Another port admits nothing; all traffic does.
        n.security_groups.insert(
            "sg-endpoint".into(),
            vec![IngressRule {
                protocol: "tcp".into(),
                from_port: Some(22),
                to_port: Some(22),
                cidrs: vec!["0.0.0.0/0".parse().expect("cidr")],
                groups: vec![],
            }],
        );
        assert!(matches!(n.admission(&sqs, &cloud9), Admission::Refused(_)));
        n.security_groups.insert(
            "sg-endpoint".into(),
            vec![IngressRule {
                protocol: "-1".into(),
                from_port: None,
                to_port: None,
                cidrs: vec![],
                groups: vec!["sg-sales".into()],
            }],
        );
        assert!(matches!(n.admission(&sqs, &sales), Admission::Admitted(_)));
    }

    #[test]
    fn context_keys_per_path() {
        let n = network();
        let caller =
            Caller::from_arn("arn:aws:sts::123456789012:assumed-role/r/s").expect("caller");
        let now = time::OffsetDateTime::UNIX_EPOCH;
        let through = context(&caller, &n.path(&n.hosts[0], "s3"), "us-east-1", now);
        assert_eq!(
            through.get("aws:sourcevpce").and_then(|v| v.as_string()).map(String::as_str),
            Some("vpce-s3")
        );
        assert_eq!(
            through.get("AWS:SourceVpc").and_then(|v| v.as_string()).map(String::as_str),
            Some("vpc-1")
        );
        assert_eq!(through.get("aws:SecureTransport").and_then(|v| v.as_boolean()), Some(true));
        assert_eq!(
            through.get("aws:PrincipalAccount").and_then(|v| v.as_string()).map(String::as_str),
            Some("123456789012")
        );
        assert_eq!(
            through.get("aws:PrincipalArn").and_then(|v| v.as_string()).map(String::as_str),
            Some("arn:aws:iam::123456789012:role/r")
        );
        assert!(through.get("aws:SourceIp").is_none());
        let public = context(&caller, &n.path(&n.hosts[2], "s3"), "us-east-1", now);
        assert!(public.get("aws:SourceVpce").is_none());
        assert_eq!(
            public.get("aws:SourceIp").and_then(|v| v.as_string()).map(String::as_str),
            Some("198.51.100.10")
        );
    }
}
