//! The controls recognised in the template's two states (the fixtures,
//! `tests/fixtures/template-STATE.json`, rendered offline from the template) and in the
//! workshop's own wording, and the workshop's rules on them: the starting state, the secured
//! one, partial ones, and a policy the workshop does not know.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::checks::{check, Decider, Outcome, CHECKS};
use super::controls::{recognise, Controls, Documents, Ids, Live, Recognised, Role};
use crate::lab::{LabDescription, Snapshot};
use crate::state::OwnPolicies;

#[derive(Deserialize)]
struct Fixture {
    outputs: BTreeMap<String, String>,
    lab: LabDescription,
    snapshot: Snapshot,
    workshop: Documents,
}

fn fixture(state: &str) -> Fixture {
    let path = format!("{}/tests/fixtures/template-{state}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture");
    serde_json::from_str(&text).expect("fixture JSON")
}

fn live(f: &Fixture) -> Live {
    let own = OwnPolicies {
        buckets: f.lab.bucket_policies.clone(),
        queues: f.lab.queue_policies.clone(),
    };
    Live::read(&f.snapshot, &own, &Ids::of(&f.outputs, &f.lab).expect("ids"))
}

fn controls(f: &Fixture, live: &Live) -> Controls {
    recognise(live, &Ids::of(&f.outputs, &f.lab).expect("ids"), &f.lab.hosts)
}

fn expect(c: &Controls, id: &str) -> (Outcome, Option<Decider>) {
    let e = (check(id).expect("a check").rule)(c).unwrap_or_else(|u| panic!("{id}: {}", u.0));
    (e.outcome, e.by)
}

#[test]
fn the_templates_states_are_recognised() {
    let starting = fixture("starting");
    let c = controls(&starting, &live(&starting));
    assert_eq!(
        (c.s3_endpoint_policy, c.bucket_policy, c.sqs_endpoint_policy, c.queue_policy),
        (Recognised::Open, Recognised::Absent, Recognised::Open, Recognised::Absent)
    );
    assert!(c.endpoint_security_group.values().all(|admitted| *admitted), "{c:?}");
    assert!(c.roles.values().all(|r| *r == Role::Starting), "{c:?}");

    let secured = fixture("secured");
    let c = controls(&secured, &live(&secured));
    assert_eq!(
        (c.s3_endpoint_policy, c.bucket_policy, c.sqs_endpoint_policy, c.queue_policy),
        (Recognised::Workshop, Recognised::Workshop, Recognised::Workshop, Recognised::Workshop)
    );
    let admitted: Vec<(&str, bool)> =
        c.endpoint_security_group.iter().map(|(h, a)| (h.as_str(), *a)).collect();
    assert_eq!(admitted, [("cloud9", false), ("reportsengine", true), ("salesapp", true)]);
    assert!(c.roles.values().all(|r| *r == Role::Secured), "{c:?}");
}

#[test]
fn the_rules_in_both_states() {
    use Decider::*;
    use Outcome::*;
    let starting = fixture("starting");
    let c = controls(&starting, &live(&starting));
    for check in CHECKS {
        let want = if check.id == "reportsengine-s3-get-missing" {
            (Forbidden, Some(ObjectMissing))
        } else {
            (Allowed, None)
        };
        assert_eq!(expect(&c, check.id), want, "{} in the starting state", check.id);
    }
    let secured = fixture("secured");
    let c = controls(&secured, &live(&secured));
    let refused = [
        ("cloud9-sqs-send", (TimesOut, Some(SecurityGroup))),
        ("salesapp-sqs-list-queues", (AccessDenied, Some(Endpoint))),
        ("reportsengine-s3-get-missing", (Forbidden, Some(ObjectMissing))),
        ("cloud9-s3-put-restricted", (AccessDenied, Some(Bucket))),
        ("salesapp-s3-put-unrestricted", (AccessDenied, Some(Endpoint))),
        ("salesapp-s3-delete-unrestricted", (AccessDenied, Some(Endpoint))),
        ("salesapp-s3-delete-restricted", (AccessDenied, Some(Endpoint))),
        ("internet-sqs-send", (AccessDenied, Some(Queue))),
    ];
    for check in CHECKS {
        let want = refused.iter().find(|(id, _)| *id == check.id).map_or((Allowed, None), |r| r.1);
        assert_eq!(expect(&c, check.id), want, "{} in the secured state", check.id);
    }
}

/// What `lab.sh secure` applies (the secured documents of `workshop.json`) on the starting
/// lab is the workshop's every control.
#[test]
fn the_edits_documents_are_the_workshops_controls() {
    let f = fixture("starting");
    let secured = &f.workshop.secured;
    let text = |doc: &Option<serde_json::Value>| doc.as_ref().map(|d| d.to_string());
    let edited = Live {
        s3_endpoint_policy: text(&secured.s3_endpoint_policy),
        bucket_policy: text(&secured.bucket_policy),
        sqs_endpoint_policy: text(&secured.sqs_endpoint_policy),
        queue_policy: text(&secured.queue_policy),
        endpoint_rules: secured.endpoint_security_group.clone(),
        ..live(&f)
    };
    let c = controls(&f, &edited);
    assert_eq!(
        (c.s3_endpoint_policy, c.bucket_policy, c.sqs_endpoint_policy, c.queue_policy),
        (Recognised::Workshop, Recognised::Workshop, Recognised::Workshop, Recognised::Workshop)
    );
    assert_eq!(c.endpoint_security_group.get("cloud9"), Some(&false));
    assert_eq!(c.endpoint_security_group.get("salesapp"), Some(&true));
    assert!(
        f.workshop.starting.bucket_policy.is_none() && f.workshop.starting.queue_policy.is_none()
    );
}

/// The expectation follows the controls, not a state's name: the starting lab with the
/// bucket policy alone, then with the gateway endpoint's policy alone, then with the
/// security group alone; and the starting endpoint policies with the secured roles.
#[test]
fn the_expectations_follow_a_partial_state() {
    use Decider::*;
    use Outcome::*;
    let starting = fixture("starting");
    let secured = fixture("secured");
    let (open, locked) = (live(&starting), live(&secured));

    let bucket_only = Live { bucket_policy: locked.bucket_policy.clone(), ..open.clone() };
    let c = controls(&starting, &bucket_only);
    assert_eq!(expect(&c, "cloud9-s3-put-restricted"), (AccessDenied, Some(Bucket)));
    assert_eq!(expect(&c, "cloud9-s3-delete-restricted"), (Allowed, None));
    assert_eq!(expect(&c, "salesapp-s3-delete-restricted"), (Allowed, None));
    assert_eq!(expect(&c, "salesapp-s3-put-unrestricted"), (Allowed, None));

    let endpoint_only =
        Live { s3_endpoint_policy: locked.s3_endpoint_policy.clone(), ..open.clone() };
    let c = controls(&starting, &endpoint_only);
    assert_eq!(expect(&c, "salesapp-s3-delete-restricted"), (AccessDenied, Some(Endpoint)));
    assert_eq!(expect(&c, "cloud9-s3-put-restricted"), (Allowed, None));

    let group_only = Live { endpoint_rules: locked.endpoint_rules.clone(), ..open.clone() };
    let c = controls(&starting, &group_only);
    assert_eq!(expect(&c, "cloud9-sqs-send"), (TimesOut, Some(SecurityGroup)));
    assert_eq!(expect(&c, "salesapp-sqs-list-queues"), (Allowed, None));

    let least_privilege = Live { roles: locked.roles.clone(), ..open };
    let c = controls(&starting, &least_privilege);
    assert_eq!(expect(&c, "salesapp-sqs-list-queues"), (AccessDenied, Some(Identity)));
    assert_eq!(expect(&c, "salesapp-s3-delete-restricted"), (AccessDenied, Some(Identity)));
}

/// The workshop's own documents, worded as its pages word them, are its controls too; a queue
/// policy that only allows is open (it takes nothing away from the roles' grants); a role
/// with a grant no check uses is still the role it was.
#[test]
fn the_workshops_own_wording() {
    let f = fixture("starting");
    let out = |name: &str| f.outputs[name].clone();
    let (bucket, queue) = (out("RestrictedS3Bucket"), out("SQSQueueARN"));
    let (account, vpce) = (out("AWSAccountID"), out("S3VPCGatewayEndpoint"));
    let mut live = live(&f);
    live.s3_endpoint_policy = Some(format!(
        r#"{{"Statement":[{{"Sid":"Access-to-specific-bucket-only","Principal":"*","Action":["s3:GetObject","s3:PutObject"],"Effect":"Allow","Resource":["arn:aws:s3:::{bucket}","arn:aws:s3:::{bucket}/*"]}}]}}"#
    ));
    live.bucket_policy = Some(format!(
        r#"{{"Version":"2012-10-17","Id":"Policy1","Statement":[{{"Sid":"Access-to-specific-VPCE-only","Principal":"*","Action":"s3:PutObject","Effect":"Deny","Resource":["arn:aws:s3:::{bucket}","arn:aws:s3:::{bucket}/*"],"Condition":{{"StringNotEquals":{{"aws:sourceVpce":"{vpce}"}}}}}}]}}"#
    ));
    live.sqs_endpoint_policy = Some(format!(
        r#"{{"Statement":[{{"Action":["sqs:SendMessage","sqs:ReceiveMessage","sqs:DeleteMessage"],"Effect":"Allow","Resource":"{queue}","Principal":{{"AWS":"{account}"}}}}]}}"#
    ));
    live.queue_policy = Some(format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{account}"}},"Action":["sqs:SendMessage","sqs:ReceiveMessage","sqs:DeleteMessage"],"Resource":"{queue}","Condition":{{"StringEquals":{{"aws:sourceVpce":"{}"}}}}}}]}}"#,
        out("SQSVPCInterfaceEndpoint")
    ));
    for texts in live.roles.values_mut() {
        texts.push(
            r#"{"Statement":[{"Effect":"Allow","Action":"ec2:DescribeVpcs","Resource":"*"}]}"#
                .into(),
        );
    }
    let c = controls(&f, &live);
    assert_eq!(
        (c.s3_endpoint_policy, c.bucket_policy, c.sqs_endpoint_policy, c.queue_policy),
        (Recognised::Workshop, Recognised::Workshop, Recognised::Workshop, Recognised::Open),
        "{c:?}"
    );
    assert!(c.roles.values().all(|r| *r == Role::Starting), "{c:?}");
    assert_eq!(
        expect(&c, "salesapp-sqs-list-queues"),
        (Outcome::AccessDenied, Some(Decider::Endpoint))
    );
    assert_eq!(
        expect(&c, "internet-sqs-send"),
        (Outcome::Allowed, None),
        "an Allow takes nothing away"
    );
}

/// A policy that is neither the starting state's nor the workshop's makes the checks it
/// touches "cannot tell", and only those; so does a grant that would turn the 403 into a 404.
#[test]
fn a_policy_the_workshop_does_not_know() {
    let starting = fixture("starting");
    let mut other = live(&starting);
    other.bucket_policy = Some(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}]}"#.into(),
    );
    let c = controls(&starting, &other);
    assert_eq!(c.bucket_policy, Recognised::Other);
    let unknown = (check("cloud9-s3-put-restricted").expect("check").rule)(&c);
    assert!(unknown.is_err_and(|u| u.0.contains("bucket policy")));
    assert_eq!(expect(&c, "salesapp-sqs-send").0, Outcome::Allowed, "SQS is not the bucket's");

    let mut listing = live(&starting);
    let bucket = &starting.outputs["RestrictedS3Bucket"];
    listing.roles.get_mut("reportsengine").expect("role").push(format!(
        r#"{{"Statement":[{{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::{bucket}"}}]}}"#
    ));
    let c = controls(&starting, &listing);
    assert_eq!(c.roles["reportsengine"], Role::Other);
    assert!((check("reportsengine-s3-get-missing").expect("check").rule)(&c).is_err());

    let mut half = live(&starting);
    half.s3_endpoint_policy = Some(format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject"],"Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    ));
    assert_eq!(
        controls(&starting, &half).s3_endpoint_policy,
        Recognised::Other,
        "Delete, but not the other bucket"
    );
}
