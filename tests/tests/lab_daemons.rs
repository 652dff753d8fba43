//! The daemons in the secured lab, with no special case: configured by `salesapp configure`
//! from the lab's outputs (their host's endpoints chosen with its `--set`), the instance
//! role's credentials from the host's metadata stand-in (no keys in their environment). The
//! golden day (the first upload ever, with the ledger missing behind the lab's 403, large
//! enough for multipart), the by-hand flow, `doctor --controls`, and the least-privilege
//! proof from the decision log.

use std::collections::BTreeSet;

use e2e::checks;
use e2e::lab::Lab;
use e2e::reference::{self, DayRef};
use e2e::run;
use serde_json::Value;

/// salesapp sends files above 16 MiB in parts; ~89 bytes a row makes this ~20 MiB.
const MULTIPART_ROWS: u32 = 240_000;

fn reference_of(bytes: &[u8]) -> DayRef {
    reference::compute(bytes, 500, &Default::default()).expect("the test's own file is valid")
}

/// The actions a host's role was allowed, and the refusals it met, in `records`.
fn actions(records: &[Value], host: &str) -> (BTreeSet<String>, Vec<Value>) {
    let mine = records.iter().filter(|d| {
        d["host"] == host && d["principal"].as_str().is_some_and(|p| p.contains(":assumed-role/"))
    });
    let (allowed, refused): (Vec<&Value>, Vec<&Value>) =
        mine.partition(|d| d["decision"] == "allow");
    (
        allowed.iter().filter_map(|d| d["action"].as_str().map(str::to_string)).collect(),
        refused.into_iter().cloned().collect(),
    )
}

#[test]
fn the_daemons_in_the_secured_lab() {
    let lab = Lab::start("secured");
    let bucket = lab.output("RestrictedS3Bucket");
    let queue = lab.output("SQSQueueURL");
    let (big_path, big) = lab.generate("2026-05-04", MULTIPART_ROWS, 7);
    let (small_path, small) = lab.generate("2026-05-05", 300, 8);
    let before = lab.decisions().len();

    // The golden day: the first upload ever finds no ledger (the lab answers 403 to its
    // GetObject, no s3:ListBucket), creates it with If-None-Match; a second day; the engine.
    let first = run(lab.daemon("salesapp", "salesapp").arg("upload").arg(&big_path));
    first.assert_ok();
    assert!(first.stderr.contains("ledger was missing (403 to GetObject"), "{}", first.output());
    run(lab.daemon("salesapp", "salesapp").arg("upload").arg(&small_path)).assert_ok();
    run(lab.daemon("reportsengine", "reportsengine").arg("once")).assert_ok();

    let days = [reference_of(&big), reference_of(&small)];
    checks::assert_sales_object(&lab, "2026-05-04", &big);
    checks::assert_sales_object(&lab, "2026-05-05", &small);
    checks::assert_ledger(&lab, &[&days[0], &days[1]]);
    checks::assert_report(&lab, &days[0], &[&days[0], &days[1]]);
    checks::assert_report(&lab, &days[1], &[&days[0], &days[1]]);
    checks::assert_index(&lab, &[&days[0], &days[1]]);
    checks::assert_no_quarantine(&lab);
    let counts = lab.aws(
        "internet",
        &[
            "sqs",
            "get-queue-attributes",
            "--queue-url",
            &queue,
            "--attribute-names",
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
        ],
    );
    counts.assert_ok();
    assert!(
        counts.stdout.contains("\"ApproximateNumberOfMessages\": \"0\"")
            && counts.stdout.contains("\"ApproximateNumberOfMessagesNotVisible\": \"0\""),
        "{}",
        counts.stdout
    );

    // The least-privilege proof, from the lab: what the daemons were allowed…
    let records = lab.decisions()[before..].to_vec();
    let (sales_allowed, sales_refused) = actions(&records, "salesapp");
    let (engine_allowed, engine_refused) = actions(&records, "reportsengine");
    let set = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<BTreeSet<String>>();
    assert_eq!(
        sales_allowed,
        set(&["s3:GetObject", "s3:PutObject", "sqs:SendMessage"]),
        "salesapp's actions"
    );
    assert_eq!(
        engine_allowed,
        set(&["s3:GetObject", "s3:PutObject", "sqs:ReceiveMessage", "sqs:DeleteMessage"]),
        "reportsengine's actions"
    );
    let operations: BTreeSet<&str> =
        records.iter().filter_map(|d| d["operation"].as_str()).collect();
    for op in [
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "HeadObject",
        "PutObject",
        "GetObject",
        "SendMessage",
        "ReceiveMessage",
        "DeleteMessageBatch",
    ] {
        assert!(operations.contains(op), "{op} never went through the lab: {operations:?}");
    }
    // …and the only refusals they met are the lab's 403s for objects that did not exist yet
    // (the ledger, the report index), which they are written to take as "missing".
    for refusal in sales_refused.iter().chain(&engine_refused) {
        assert_eq!(refusal["policy"], "object_missing", "{refusal}");
    }
    assert!(!sales_refused.is_empty(), "the first upload met the ledger's 403");
    println!("salesapp: {sales_allowed:?}\nreportsengine: {engine_allowed:?}");

    // Nothing else a daemon might want is allowed through its endpoints.
    for host in ["salesapp", "reportsengine"] {
        let (s3, sqs) = lab.sdk(host);
        let status =
            |r: Option<u16>, what: &str| assert_eq!(r, Some(403), "{host}: {what} must be denied");
        lab.block_on(async {
            let e = s3.list_objects_v2().bucket(&bucket).send().await.err();
            status(e.and_then(|e| e.raw_response().map(|r| r.status().as_u16())), "ListBucket");
            let e = s3
                .delete_object()
                .bucket(&bucket)
                .key("sales/2026-05-04/sales.csv")
                .send()
                .await
                .err();
            status(e.and_then(|e| e.raw_response().map(|r| r.status().as_u16())), "DeleteObject");
            let e = s3
                .abort_multipart_upload()
                .bucket(&bucket)
                .key("k")
                .upload_id("none")
                .send()
                .await
                .err();
            status(
                e.and_then(|e| e.raw_response().map(|r| r.status().as_u16())),
                "AbortMultipartUpload",
            );
            let e = s3
                .get_object()
                .bucket(&bucket)
                .key(checks::LEDGER_KEY)
                .version_id("null")
                .send()
                .await
                .err();
            status(
                e.and_then(|e| e.raw_response().map(|r| r.status().as_u16())),
                "GetObjectVersion",
            );
            let e = sqs.get_queue_url().queue_name("any").send().await.err();
            status(e.and_then(|e| e.raw_response().map(|r| r.status().as_u16())), "GetQueueUrl");
            let e = sqs.get_queue_attributes().queue_url(&queue).send().await.err();
            status(
                e.and_then(|e| e.raw_response().map(|r| r.status().as_u16())),
                "GetQueueAttributes",
            );
            let e = sqs
                .change_message_visibility()
                .queue_url(&queue)
                .receipt_handle("none")
                .visibility_timeout(0)
                .send()
                .await
                .err();
            status(
                e.and_then(|e| e.raw_response().map(|r| r.status().as_u16())),
                "ChangeMessageVisibility",
            );
            let e = sqs.list_queues().send().await.err();
            status(e.and_then(|e| e.raw_response().map(|r| r.status().as_u16())), "ListQueues");
        });
    }
    let (_, engine_sqs) = lab.sdk("reportsengine");
    lab.block_on(async {
        let e = engine_sqs.send_message().queue_url(&queue).message_body("x").send().await.err();
        assert_eq!(
            e.and_then(|e| e.raw_response().map(|r| r.status().as_u16())),
            Some(403),
            "the engine sends nothing"
        );
    });

    // The by-hand flow of the workshop: a file copied with the CLI to any key, the message
    // typed with its key and value unquoted.
    let (hand_path, hand) = lab.generate("2026-05-06", 150, 9);
    let target = format!("s3://{bucket}/day.csv");
    lab.aws("salesapp", &["s3", "cp", hand_path.to_str().expect("utf-8"), &target]).assert_ok();
    let body = format!("{{datafilelocation:{target}}}");
    lab.aws("salesapp", &["sqs", "send-message", "--queue-url", &queue, "--message-body", &body])
        .assert_ok();
    run(lab.daemon("reportsengine", "reportsengine").arg("once")).assert_ok();
    let third = reference_of(&hand);
    checks::assert_report_of(&lab, &third, &[&days[0], &days[1]], "day.csv");

    // doctor --controls, on both instances: every control observed in place.
    for (host, binary) in [("salesapp", "salesapp"), ("reportsengine", "reportsengine")] {
        let doctor = run(lab.daemon(host, binary).args(["doctor", "--controls"]));
        doctor.assert_ok();
        let out = &doctor.stdout;
        assert!(
            out.contains("the instance profile"),
            "{host}: credentials from the metadata stand-in:\n{out}"
        );
        for control in [
            "DeleteObject denied",
            "unrestricted PutObject denied",
            "ListBuckets denied",
            "ListQueues denied",
        ] {
            let line = out
                .lines()
                .find(|l| l.contains(control))
                .unwrap_or_else(|| panic!("{host}: no {control} row:\n{out}"));
            assert!(
                line.starts_with("PASS") && line.contains("in place: denied (403)"),
                "{host}: {line}"
            );
        }
        let allowed =
            out.lines().find(|l| l.contains("control: PutObject allowed")).expect("PutObject row");
        assert!(allowed.contains("in place: allowed"), "{host}: {allowed}");
        assert!(
            !out.contains("not enforced") && !out.contains("on the emulator"),
            "{host}: the lab enforces its controls:\n{out}"
        );
        assert!(out.contains("the local lab"), "{host}: doctor says where it runs:\n{out}");
    }
}
