//! What one decision costs: `cargo bench -p lab-gateway`.
//!
//! - `decide/allowed`: salesapp's GetObject of a sales file, through the S3 gateway endpoint
//!   (its three identity policies, the endpoint's policy and the bucket's, all evaluated);
//! - `decide/denied`: salesapp's ListQueues, refused by the SQS endpoint's policy;
//! - `map_and_decide/send_message`: an SQS JSON request understood, then decided.
//!
//! The template's secured policies, rendered offline (tests/fixtures/template-secured.json).
#![forbid(unsafe_code)]

use criterion::{criterion_group, criterion_main, Criterion};

use lab_gateway::check::Check;
use lab_gateway::lab::{build_world, Rendered};
use lab_gateway::request::Head;
use lab_gateway::world::Caller;

fn decisions(c: &mut Criterion) {
    let text = include_str!("../tests/fixtures/template-secured.json");
    let rendered: Rendered = serde_json::from_str(text).expect("fixture");
    let lab = &rendered.lab;
    let (world, identities, _) =
        build_world(lab, &rendered.snapshot, &lab.bucket_policies, &lab.queue_policies);
    let key = &lab.credentials["salesapp"].access_key_id;
    let caller = Caller::from_arn(&lab.principals[key]).expect("caller");
    let identity = identities[&caller.principal].clone();
    let host = world.network.host("salesapp").expect("host").clone();
    let now = time::OffsetDateTime::now_utc();
    let object = Check::new(
        "s3:GetObject",
        format!(
            "arn:aws:s3:::{}/sales/2026-01-02/sales.csv",
            rendered.outputs["RestrictedS3Bucket"]
        ),
    );
    let list = Check::new("sqs:ListQueues", "*");
    let mut group = c.benchmark_group("decide");
    group.bench_function("allowed", |b| {
        b.iter(|| assert!(world.authorize(&host, &caller, &identity, &object, now).is_allowed()))
    });
    group.bench_function("denied", |b| {
        b.iter(|| assert!(!world.authorize(&host, &caller, &identity, &list, now).is_allowed()))
    });
    group.finish();

    let queue = rendered.outputs["SQSQueueURL"].clone();
    let body = format!(
        r#"{{"QueueUrl":"{queue}","MessageBody":"{{\"datafilelocation\":\"s3://b/k\"}}"}}"#
    );
    let head = Head::new(
        "POST",
        "/",
        &[
            ("X-Amz-Target", "AmazonSQS.SendMessage"),
            ("Content-Type", "application/x-amz-json-1.0"),
        ],
    );
    c.bench_function("map_and_decide/send_message", |b| {
        b.iter(|| {
            let call = lab_gateway::sqs::map(&head, body.as_bytes(), "us-east-1", "123456789012")
                .expect("maps");
            assert!(world.authorize(&host, &caller, &identity, &call.checks[0], now).is_allowed());
        })
    });
}

criterion_group!(benches, decisions);
criterion_main!(benches);
