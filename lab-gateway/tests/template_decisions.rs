//! The decisions for our template's policies, in both lab states, for every call the daemons,
//! the workshop and `doctor --controls` make, from every host.
//!
//! The fixtures (`tests/fixtures/template-STATE.json`) are the template rendered by
//! `deploy/local/lab_setup.py fixture --state STATE` (made-up ids; the end-to-end tests check
//! they are current): the lab's description and the emulator's side of it, as the gateway
//! reads them from a deployed lab.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use lab_gateway::check::Check;
use lab_gateway::decide::Verdict;
use lab_gateway::lab::{build_world, LabDescription, Rendered};
use lab_gateway::policy::{parse, NamedPolicy, PolicyKind};
use lab_gateway::world::{Admission, Caller, Path, World};

struct Lab {
    world: World,
    identities: BTreeMap<String, Vec<Arc<NamedPolicy>>>,
    lab: LabDescription,
    outputs: BTreeMap<String, String>,
}

fn load(state: &str) -> Lab {
    let path = format!("{}/tests/fixtures/template-{state}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let f: Rendered = serde_json::from_str(&text).expect("fixture");
    let (world, identities, warnings) =
        build_world(&f.lab, &f.snapshot, &f.lab.bucket_policies, &f.lab.queue_policies);
    assert!(warnings.is_empty(), "{warnings:?}");
    Lab { world, identities, lab: f.lab, outputs: f.outputs }
}

impl Lab {
    fn out(&self, name: &str) -> &str {
        &self.outputs[name]
    }
    fn restricted(&self, key: &str) -> String {
        format!("arn:aws:s3:::{}/{key}", self.out("RestrictedS3Bucket"))
    }
    fn unrestricted(&self, key: &str) -> String {
        format!("arn:aws:s3:::{}/{key}", self.out("UnrestrictedS3Bucket"))
    }
    fn queue(&self) -> String {
        self.out("SQSQueueARN").to_string()
    }
    fn caller(&self, host: &str) -> Caller {
        let key = &self.lab.credentials[host].access_key_id;
        Caller::from_arn(&self.lab.principals[key]).expect("caller")
    }
    fn decide(&self, host: &str, action: &str, resource: &str) -> Verdict {
        let caller = self.caller(host);
        let h = self.world.network.host(host).expect("host");
        let identity = self.identities.get(&caller.principal).cloned().unwrap_or_default();
        self.world.authorize(
            h,
            &caller,
            &identity,
            &Check::new(action, resource),
            time::OffsetDateTime::now_utc(),
        )
    }
    fn allowed(&self, host: &str, action: &str, resource: &str) {
        let v = self.decide(host, action, resource);
        assert!(v.is_allowed(), "{host} {action} {resource}: {v:?}");
    }
    /// Denied by `kind`, by statement `sid` (an explicit Deny) or by none (no statement allows).
    fn denied(
        &self,
        host: &str,
        action: &str,
        resource: &str,
        kind: PolicyKind,
        sid: Option<&str>,
    ) {
        match self.decide(host, action, resource) {
            Verdict::Deny(r) => {
                assert_eq!(
                    (r.policy, r.statement.as_deref()),
                    (kind, sid),
                    "{host} {action} {resource}: {}",
                    r.reason
                )
            }
            v => panic!("{host} {action} {resource}: {v:?}"),
        }
    }
    fn sqs_admission(&self, host: &str) -> Admission {
        let h = self.world.network.host(host).expect("host");
        match self.world.network.path(h, "sqs") {
            Path::Endpoint(e, p) => self.world.network.admission(e, p),
            Path::Public(_) => Admission::Admitted("public endpoint".into()),
        }
    }
}

/// The daemons' effective permissions are exactly Get/Put on the restricted bucket
/// and the three message actions, each through its endpoint.
#[test]
fn secured_the_daemons_get_exactly_what_they_need() {
    let lab = load("secured");
    let (k, q) = (lab.restricted("sales/2026-01-02/sales.csv"), lab.queue());
    for host in ["salesapp", "reportsengine"] {
        lab.allowed(host, "s3:GetObject", &k);
        lab.allowed(host, "s3:PutObject", &k);
        lab.allowed(host, "s3:PutObject", &lab.restricted("compensation/ledger.csv"));
        lab.allowed(host, "sqs:ReceiveMessage", &q);
        lab.allowed(host, "sqs:DeleteMessage", &q);
    }
    lab.allowed("salesapp", "sqs:SendMessage", &q);
    // The engine sends nothing: its role does not grant it (the queue policy names the
    // account, which delegates to the role).
    lab.denied("reportsengine", "sqs:SendMessage", &q, PolicyKind::Identity, None);

    // Nothing else they might want: the endpoint policies refuse it first.
    let bucket = format!("arn:aws:s3:::{}", lab.out("RestrictedS3Bucket"));
    for host in ["salesapp", "reportsengine"] {
        lab.denied(host, "s3:ListBucket", &bucket, PolicyKind::Endpoint, None);
        lab.denied(host, "s3:DeleteObject", &k, PolicyKind::Endpoint, None);
        lab.denied(host, "s3:AbortMultipartUpload", &k, PolicyKind::Endpoint, None);
        lab.denied(host, "s3:GetObjectVersion", &k, PolicyKind::Endpoint, None);
        lab.denied(host, "s3:ListAllMyBuckets", "*", PolicyKind::Endpoint, None);
        lab.denied(host, "s3:PutObject", &lab.unrestricted("x"), PolicyKind::Endpoint, None);
        lab.denied(host, "s3:DeleteObject", &lab.unrestricted("x"), PolicyKind::Endpoint, None);
        lab.denied(host, "sqs:ListQueues", "*", PolicyKind::Endpoint, None);
        lab.denied(host, "sqs:GetQueueUrl", &q, PolicyKind::Endpoint, None);
        lab.denied(host, "sqs:GetQueueAttributes", &q, PolicyKind::Endpoint, None);
        lab.denied(host, "sqs:ChangeMessageVisibility", &q, PolicyKind::Endpoint, None);
        lab.denied(host, "sqs:PurgeQueue", &q, PolicyKind::Endpoint, None);
    }
    // Their releases through the gateway endpoint (read-only).
    let release =
        format!("arn:aws:s3:::{}/releases/abc/vpce-lab.rpm", lab.out("ArtifactsS3Bucket"));
    lab.allowed("salesapp", "s3:GetObject", &release);
    lab.denied("salesapp", "s3:PutObject", &release, PolicyKind::Endpoint, None);
}

/// The workshop's final answers for Cloud9 (the administrator, in the public subnet: S3 over
/// the internet, SQS through the interface endpoint) and for a machine outside the VPC.
#[test]
fn secured_cloud9_and_the_internet() {
    let lab = load("secured");
    let put_outside = Some("DenyPutObjectOutsideTheGatewayEndpoint");
    lab.denied(
        "cloud9",
        "s3:PutObject",
        &lab.restricted("day.csv"),
        PolicyKind::Bucket,
        put_outside,
    );
    lab.allowed("cloud9", "s3:DeleteObject", &lab.restricted("day.csv"));
    lab.allowed("cloud9", "s3:GetObject", &lab.restricted("day.csv"));
    lab.allowed("cloud9", "s3:PutObject", &lab.unrestricted("day.csv"));
    lab.allowed("cloud9", "s3:DeleteObject", &lab.unrestricted("day.csv"));
    lab.allowed(
        "cloud9",
        "s3:ListBucket",
        &format!("arn:aws:s3:::{}", lab.out("RestrictedS3Bucket")),
    );
    // Cloud9's SQS calls are allowed by every policy: only the security group stops them.
    lab.allowed("cloud9", "sqs:SendMessage", &lab.queue());
    assert!(matches!(lab.sqs_admission("cloud9"), Admission::Refused(_)));
    assert!(matches!(lab.sqs_admission("salesapp"), Admission::Admitted(_)));
    assert!(matches!(lab.sqs_admission("reportsengine"), Admission::Admitted(_)));
    // From outside the VPC the queue policy refuses the messages.
    let elsewhere = Some("DenyMessagesFromAnywhereElse");
    lab.denied("internet", "sqs:SendMessage", &lab.queue(), PolicyKind::Queue, elsewhere);
    lab.denied("internet", "sqs:ReceiveMessage", &lab.queue(), PolicyKind::Queue, elsewhere);
    lab.allowed("internet", "sqs:GetQueueAttributes", &lab.queue());
    lab.denied("internet", "s3:PutObject", &lab.restricted("k"), PolicyKind::Bucket, put_outside);
    // The administrator's other services, by identity alone.
    lab.allowed("cloud9", "ec2:ModifyVpcEndpoint", "*");
    lab.allowed("salesapp", "sts:GetCallerIdentity", "*");
    lab.denied("salesapp", "ec2:RevokeSecurityGroupIngress", "*", PolicyKind::Identity, None);
    lab.denied("salesapp", "iam:PutRolePolicy", "*", PolicyKind::Identity, None);
}

/// The workshop's starting point: open endpoint policies, no bucket or queue policy, the
/// endpoint's security group open to the VPC, the roles' broader grants.
#[test]
fn starting_state_the_workshops_starting_point() {
    let lab = load("starting");
    let (k, q) = (lab.restricted("day.csv"), lab.queue());
    lab.allowed("salesapp", "s3:DeleteObject", &k);
    lab.allowed("salesapp", "s3:PutObject", &lab.unrestricted("day.csv"));
    lab.allowed("salesapp", "s3:DeleteObject", &lab.unrestricted("day.csv"));
    lab.allowed("salesapp", "sqs:ListQueues", "*");
    lab.allowed("salesapp", "sqs:GetQueueUrl", &q);
    lab.allowed("reportsengine", "s3:GetObject", &k);
    // Still no listing: a missing object is 403 in both states.
    let bucket = format!("arn:aws:s3:::{}", lab.out("RestrictedS3Bucket"));
    lab.denied("reportsengine", "s3:ListBucket", &bucket, PolicyKind::Identity, None);
    lab.allowed("cloud9", "s3:PutObject", &k);
    assert!(matches!(lab.sqs_admission("cloud9"), Admission::Admitted(_)));
    lab.allowed("internet", "sqs:SendMessage", &q);
}

/// The workshop's own SQS endpoint policy names the account (`"AWS": "ACCOUNT"`), which AWS
/// accepts in an interface endpoint's policy: read as "the account's principals", the roles
/// pass; read literally (the engine alone), they would not.
#[test]
fn the_workshops_endpoint_policy_with_an_account_principal() {
    let mut lab = load("starting");
    let q = lab.queue();
    let workshop = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"123456789012"}},
        "Action":["sqs:SendMessage","sqs:ReceiveMessage","sqs:DeleteMessage"],"Resource":"{q}"}}]}}"#
    );
    let id = lab.out("SQSVPCInterfaceEndpoint").to_string();
    let endpoint = lab.world.network.endpoints.iter_mut().find(|e| e.id == id).expect("endpoint");
    endpoint.policy =
        Some(Arc::new(parse(PolicyKind::Endpoint, "workshop", &workshop).expect("parses")));
    lab.allowed("salesapp", "sqs:SendMessage", &q);
    lab.allowed("reportsengine", "sqs:ReceiveMessage", &q);
    lab.denied("salesapp", "sqs:ListQueues", "*", PolicyKind::Endpoint, None);
    lab.denied("salesapp", "sqs:GetQueueUrl", &q, PolicyKind::Endpoint, None);

    // The same statement, taken literally, matches the account's root user only.
    let literal: serde_json::Value = serde_json::from_str(&workshop).expect("json");
    let statement = &literal["Statement"][0];
    let policy = iam_rs::IAMPolicy::from_json(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#
    ))
    .expect("engine parses");
    let caller = lab.caller("salesapp");
    let request = iam_rs::IAMRequest::new_with_context(
        iam_rs::Principal::Aws(iam_rs::PrincipalId::String(caller.principal.clone())),
        "sqs:SendMessage",
        iam_rs::Arn::parse(&q).expect("arn"),
        iam_rs::Context::new().with_string("aws:PrincipalAccount", "123456789012"),
    );
    let engine_alone = iam_rs::evaluate_policy(&policy, &request).expect("evaluates");
    assert_eq!(engine_alone, iam_rs::Decision::NotApplicable, "why the normalisation exists");
}
