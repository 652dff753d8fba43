//! The daemons work inside the lab's effective permissions (docs/design.md, The lab's
//! controls), call nothing else, and say clearly what was denied.
//!
//! Each test turns on the emulator's IAM enforcement (`e2e::iam`) after creating its users,
//! and runs the binaries with a user whose identity policy is exactly the lab's effective
//! permissions ([`e2e::iam::lab_policy`]), or that minus one action.

use std::collections::BTreeMap;
use std::path::Path;

use e2e::checks::{self, sales_key, LEDGER_KEY};
use e2e::iam::{self, Keys};
use e2e::reference::{self, DayRef};
use e2e::{generate, reportsengine, run, salesapp, Emulator, Recorded, Run};
use serde_json::json;

/// salesapp sends files above 16 MiB in parts; ~89 bytes a row makes this ~20 MiB.
const MULTIPART_ROWS: u32 = 240_000;
const SINGLE_PUT_MAX: usize = 16 << 20;

fn upload_as(em: &Emulator, keys: &Keys, path: &Path) -> Run {
    run(keys.apply(&mut salesapp(em)).arg("upload").arg(path))
}

fn once_as(em: &Emulator, keys: &Keys) -> Run {
    run(keys.apply(&mut reportsengine(em)).arg("once"))
}

fn reference_of(em: &Emulator, bytes: &[u8]) -> DayRef {
    reference::compute(bytes, em.options().commission_bps, &em.options().overrides)
        .unwrap_or_else(|e| panic!("the test's own file is not valid: {e}"))
}

/// The object key of a path-style S3 request in the emulator's bucket.
fn s3_key(em: &Emulator, r: &Recorded) -> Option<String> {
    let path = r.s3_path();
    path.strip_prefix(&format!("/{}/", em.bucket())).map(str::to_string)
}

/// Asserts that every recorded request is an allowed action on the restricted bucket or the
/// queue, reads no object under the daemons' own prefixes but the ledger and the report
/// index, writes only under `sales/` and the daemons' own prefixes.
/// Returns the audited action set with counts.
#[track_caller]
fn audit(em: &Emulator, requests: &[Recorded]) -> BTreeMap<String, usize> {
    let mut actions = BTreeMap::new();
    let mut bad = Vec::new();
    for r in requests {
        let action = r.action();
        *actions.entry(action.clone()).or_insert(0) += 1;
        if !checks::ALLOWED_ACTIONS.contains(&action.as_str()) {
            bad.push(format!("{action} is not allowed: {} {}", r.method, r.url));
            continue;
        }
        if action.starts_with("sqs:") {
            continue;
        }
        let Some(key) = s3_key(em, r) else {
            bad.push(format!("{action} outside the restricted bucket: {}", r.url));
            continue;
        };
        let read = matches!(action.as_str(), "s3:GetObject" | "s3:HeadObject");
        let ok = if read {
            key == LEDGER_KEY || key == checks::INDEX_JSON_KEY || !checks::is_own_key(&key)
        } else {
            ["sales/", "compensation/", "reports/", "quarantine/"]
                .iter()
                .any(|p| key.starts_with(p))
        };
        if !ok {
            bad.push(format!("{action} on a key outside the daemons' prefixes: {key}"));
        }
    }
    assert!(bad.is_empty(), "the audit found calls the lab denies:\n{}", bad.join("\n"));
    actions
}

/// Points 1 and 2: the whole pipeline under the lab's effective policy — a first-ever upload
/// (no ledger yet) of a file large enough for multipart, a second day, `reportsengine once`,
/// the deletes — with every request recorded and audited.
#[test]
fn pipeline_runs_under_the_effective_policy_with_only_allowed_actions() {
    let mut em = Emulator::start();
    let app = em.create_user("lab-app", &iam::lab_policy(&em, &[]));
    let admin = em.create_user("e2e-admin", &iam::admin_policy());
    let (big_path, big) = generate(&em, "2026-06-01", MULTIPART_ROWS, 11);
    assert!(big.len() > SINGLE_PUT_MAX, "{} bytes: not a multipart upload", big.len());
    let (small_path, small) = generate(&em, "2026-06-02", 200, 12);
    em.enforce_iam(&admin);

    // Enforcement is really on, and the policy really is that narrow: the restricted user is
    // refused what the lab refuses (these harness-tagged calls are not in the recording).
    let (s3, sqs) = em.clients_for(&app);
    em.block_on(async {
        let list = s3.list_objects_v2().bucket(em.bucket()).send().await;
        assert_eq!(
            list.err().and_then(|e| e.raw_response().map(|r| r.status().as_u16())),
            Some(403)
        );
        let del = s3.delete_object().bucket(em.bucket()).key("x").send().await;
        assert_eq!(
            del.err().and_then(|e| e.raw_response().map(|r| r.status().as_u16())),
            Some(403)
        );
        let attrs = sqs.get_queue_attributes().queue_url(em.queue_url()).send().await;
        assert_eq!(
            attrs.err().and_then(|e| e.raw_response().map(|r| r.status().as_u16())),
            Some(403)
        );
        let url = sqs.get_queue_url().queue_name("x").send().await;
        assert!(url.is_err(), "GetQueueUrl allowed");
    });
    assert!(em.list_keys().is_empty(), "the admin harness works under enforcement");

    em.start_recording();
    let first = upload_as(&em, &app, &big_path);
    first.assert_ok();
    assert!(first.stdout.contains("uploaded"), "{}", first.output());
    upload_as(&em, &app, &small_path).assert_ok();
    let engine = once_as(&em, &app);
    engine.assert_ok();
    let requests = em.stop_recording();

    let actions = audit(&em, &requests);
    println!("audited actions under the lab policy ({} requests):", requests.len());
    for (action, n) in &actions {
        println!("  {action:<28} {n}");
    }
    for needed in [
        "s3:HeadObject",
        "s3:GetObject",
        "s3:PutObject",
        "s3:CreateMultipartUpload",
        "s3:UploadPart",
        "s3:CompleteMultipartUpload",
        "sqs:SendMessage",
        "sqs:ReceiveMessage",
    ] {
        assert!(actions.contains_key(needed), "{needed} never called: {actions:?}");
    }
    // Deletes go in batches (authorized as sqs:DeleteMessage), one alone when a batch entry
    // needs a second try.
    assert!(
        actions.contains_key("sqs:DeleteMessageBatch") || actions.contains_key("sqs:DeleteMessage"),
        "no delete: {actions:?}"
    );

    let days = [reference_of(&em, &big), reference_of(&em, &small)];
    checks::assert_sales_object(&em, "2026-06-01", &big);
    checks::assert_sales_object(&em, "2026-06-02", &small);
    checks::assert_ledger(&em, &[&days[0], &days[1]]);
    checks::assert_report(&em, &days[0], &[&days[0], &days[1]]);
    checks::assert_report(&em, &days[1], &[&days[0], &days[1]]);
    // The first index: under this policy its GetObject answers 403 (no s3:ListBucket), which
    // only the create-only write can settle; had the engine taken it for a denial, `once`
    // would have failed.
    checks::assert_index(&em, &[&days[0], &days[1]]);
    checks::assert_queue_empty(&em);
    checks::assert_no_quarantine(&em);
}

/// Asserts the message of a denial: exit 77, the operation, the resource, the IAM action and
/// the lab controls to look at.
#[track_caller]
fn assert_denial(r: &Run, operation: &str, resource: &str, action: &str, controls: &[&str]) {
    r.assert_code(77);
    let head = format!("{operation} on {resource} was denied (HTTP 403");
    assert!(r.stderr.contains(&head), "want {head:?} in:\n{}", r.output());
    assert!(r.stderr.contains(&format!("needs {action}")), "no {action}:\n{}", r.output());
    for c in controls {
        assert!(r.stderr.contains(c), "the hint does not name {c:?}:\n{}", r.output());
    }
    println!("{} → exit 77:\n{}\n", r.what, r.stderr.trim());
}

/// Point 3: without s3:PutObject the upload stops at the sales object, exit 77, the message
/// naming PutObject, the key, and the bucket policy / gateway endpoint / instance role.
#[test]
fn upload_denied_put_object_exits_77_naming_action_resource_and_controls() {
    let mut em = Emulator::start();
    let user = em.create_user("no-put", &iam::lab_policy(&em, &["s3:PutObject"]));
    let admin = em.create_user("e2e-admin", &iam::admin_policy());
    let (path, _) = generate(&em, "2026-07-01", 50, 1);
    em.enforce_iam(&admin);
    let r = upload_as(&em, &user, &path);
    let resource = format!("s3://{}/{}", em.bucket(), sales_key("2026-07-01"));
    assert_denial(
        &r,
        "PutObject",
        &resource,
        "s3:PutObject",
        &["bucket's policy", "aws:sourceVpce", "gateway endpoint policy", "instance role"],
    );
    assert!(em.list_keys().is_empty(), "{:?}", em.list_keys());
    assert_eq!(em.queue_counts(), (0, 0), "nothing sent");
}

/// Point 3: without sqs:SendMessage the object and ledger are written, the message is not;
/// exit 77 naming SendMessage, the queue and the SQS controls.
#[test]
fn upload_denied_send_message_exits_77_naming_action_resource_and_controls() {
    let mut em = Emulator::start();
    let user = em.create_user("no-send", &iam::lab_policy(&em, &["sqs:SendMessage"]));
    let admin = em.create_user("e2e-admin", &iam::admin_policy());
    let (path, bytes) = generate(&em, "2026-07-02", 50, 2);
    em.enforce_iam(&admin);
    let r = upload_as(&em, &user, &path);
    assert_denial(
        &r,
        "SendMessage",
        em.queue_url(),
        "sqs:SendMessage",
        &["interface endpoint policy", "queue policy", "instance role"],
    );
    checks::assert_sales_object(&em, "2026-07-02", &bytes);
    assert_eq!(em.queue_counts(), (0, 0), "nothing sent");
}

/// Point 3: the engine without sqs:ReceiveMessage: `once` exits 77 naming ReceiveMessage and
/// leaves the message.
#[test]
fn once_denied_receive_message_exits_77() {
    let mut em = Emulator::start();
    let user = em.create_user("no-receive", &iam::lab_policy(&em, &["sqs:ReceiveMessage"]));
    let admin = em.create_user("e2e-admin", &iam::admin_policy());
    em.enforce_iam(&admin);
    em.send_raw(&format!(
        r#"{{"datafilelocation":"s3://{}/sales/2026-07-03/sales.csv"}}"#,
        em.bucket()
    ));
    let r = once_as(&em, &user);
    assert_denial(
        &r,
        "ReceiveMessage",
        em.queue_url(),
        "sqs:ReceiveMessage",
        &["interface endpoint policy", "queue policy"],
    );
    assert_eq!(em.queue_counts(), (1, 0), "the message stays");
}

/// The 403 rule for inputs (docs/design.md): a sales object the engine may not read (403: missing or denied) is a
/// message that can never succeed: quarantined and deleted, the run goes on (exit 0).
#[test]
fn denied_sales_object_is_quarantined() {
    let mut em = Emulator::start();
    let policy = iam::with_statement(
        iam::lab_policy(&em, &[]),
        json!({"Effect": "Deny", "Action": "s3:GetObject",
               "Resource": format!("arn:aws:s3:::{}/sales/*", em.bucket())}),
    );
    let engine = em.create_user("no-sales-read", &policy);
    let admin = em.create_user("e2e-admin", &iam::admin_policy());
    let (path, _) = generate(&em, "2026-07-04", 40, 4);
    em.enforce_iam(&admin);
    upload_as(&em, &admin, &path).assert_ok();
    let r = once_as(&em, &engine);
    r.assert_ok();
    let keys = em.list_keys();
    let quarantined: Vec<&String> = keys.iter().filter(|k| k.starts_with("quarantine/")).collect();
    assert_eq!(quarantined.len(), 1, "{keys:?}\n{}", r.output());
    let record: serde_json::Value =
        serde_json::from_slice(&em.get_object(quarantined[0]).unwrap()).unwrap();
    let reason = record["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("403") && reason.contains("sales/2026-07-04/sales.csv"), "{record}");
    assert!(!keys.iter().any(|k| k.starts_with("reports/")), "{keys:?}");
    checks::assert_queue_empty(&em);
}

/// The 403 rule for the ledger (docs/design.md): a denied GetObject of the ledger means "missing" only
/// if the conditional create then succeeds; once the ledger exists, the same denial is a
/// permission error, said plainly (exit 77), and the ledger is left alone.
#[test]
fn ledger_403_means_missing_only_when_the_conditional_create_succeeds() {
    let mut em = Emulator::start();
    let policy = iam::with_statement(
        iam::lab_policy(&em, &[]),
        json!({"Effect": "Deny", "Action": "s3:GetObject",
               "Resource": format!("arn:aws:s3:::{}/{LEDGER_KEY}", em.bucket())}),
    );
    let user = em.create_user("no-ledger-read", &policy);
    let admin = em.create_user("e2e-admin", &iam::admin_policy());
    let (day1_path, day1) = generate(&em, "2026-07-05", 30, 5);
    let (day2_path, _) = generate(&em, "2026-07-06", 30, 6);
    em.enforce_iam(&admin);

    // No ledger yet: the 403 leads to If-None-Match: * which succeeds.
    upload_as(&em, &user, &day1_path).assert_ok();
    checks::assert_ledger(&em, &[&reference_of(&em, &day1)]);
    let ledger = em.get_object(LEDGER_KEY).unwrap();

    // Now the ledger exists: the create answers 412, so the 403 was a real denial.
    let r = upload_as(&em, &user, &day2_path);
    r.assert_code(77);
    let resource = format!("s3://{}/{LEDGER_KEY}", em.bucket());
    assert!(r.stderr.contains(&format!("GetObject on {resource} was denied")), "{}", r.output());
    assert!(r.stderr.contains("The ledger exists"), "{}", r.output());
    assert!(em.get_object(LEDGER_KEY).unwrap() == ledger, "the ledger changed");
    assert_eq!(em.queue_counts(), (1, 0), "only day 1's message");
}
