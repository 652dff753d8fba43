//! One cause, one answer (docs/design.md, What happens to a failure): `doctor` and the
//! commands take the kind of a failure, so its exit code and its hint, from the one
//! classification; a failure that retrying cannot fix ends a one-shot command at once; no
//! SDK `Debug` structure reaches an operator; a command that stored something before it
//! failed says what is stored and what running it again does.
//!
//! Each case runs `doctor` and the command against the same cause and compares the exit
//! code and the words: the command's message (its first line, `PROGRAM: …`) and doctor's
//! failing row (its detail and hint).

use std::process::Command;

use e2e::checks::LEDGER_KEY;
use e2e::iam;
use e2e::{generate, reportsengine, run, salesapp, Emulator, Run};

/// The command's message: its line that starts with `program: `.
#[track_caller]
fn message<'a>(r: &'a Run, program: &str) -> &'a str {
    let prefix = format!("{program}: ");
    r.stderr
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no `{prefix}` line:\n{}", r.output()))
}

/// Doctor's first failing row, from `--json`: (check, detail, hint), and its exit code.
#[track_caller]
fn doctor_failure(cmd: &mut Command) -> (i32, String, String, String) {
    let r = run(cmd.arg("--json"));
    let doc: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", r.output()));
    let failed = doc["checks"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["status"] == "FAIL"))
        .unwrap_or_else(|| panic!("no FAIL row:\n{doc:#}"))
        .clone();
    let text = |k: &str| failed[k].as_str().unwrap_or_default().to_string();
    let code = r.code().unwrap_or(-1);
    assert_eq!(doc["exit_code"], code, "{doc:#}");
    (code, text("check"), text("detail"), text("hint"))
}

/// Nothing an operator reads shows an SDK `Debug` structure (`Error { code: …`,
/// `ProviderError(ProviderError {…`).
#[track_caller]
fn assert_no_debug(r: &Run) {
    for marker in ["Error {", "Error(", " { source:", "ProviderError", "Some(\"", "raw: Response"] {
        assert!(!r.stderr.contains(marker), "Debug output ({marker:?}):\n{}", r.output());
        assert!(!r.stdout.contains(marker), "Debug output ({marker:?}):\n{}", r.output());
    }
}

/// A transient failure would be retried (a WARN per try); nothing else may be.
#[track_caller]
fn assert_not_retried(r: &Run) {
    assert!(!r.stderr.contains("retrying"), "retried:\n{}", r.output());
}

/// `cmd` without credentials of any provider: no keys in the environment, no profile, IMDS
/// off (the harness's isolation does the rest); and a give-up window long enough that a
/// retried failure would outlast the harness's command timeout.
fn without_credentials(mut cmd: Command) -> Command {
    cmd.env_remove("AWS_ACCESS_KEY_ID").env_remove("AWS_SECRET_ACCESS_KEY");
    cmd.args(["--set", "endpoints.give_up_after=10m"]);
    cmd
}

/// No credentials: `upload` and `once` end at once with 77 and doctor's words, not after a
/// minute of retries with the SDK's dumps (before: 69, 78 warnings); nothing is written.
#[test]
fn no_credentials_end_the_commands_at_once_as_doctor_says() {
    let em = Emulator::start();
    let (path, _) = generate(&em, "2026-08-01", 20, 1);
    let (code, check, detail, hint) =
        doctor_failure(without_credentials(salesapp(&em)).arg("doctor"));
    assert_eq!((code, check.as_str()), (77, "credentials"), "{detail}");
    assert!(
        detail.starts_with(
            "no usable AWS credentials: no provider of the credential chain answered ("
        ),
        "{detail}"
    );
    assert!(hint.contains("instance profile"), "{hint}");

    let upload = run(without_credentials(salesapp(&em)).arg("upload").arg(&path));
    upload.assert_code(77);
    let said = message(&upload, "salesapp");
    let resource = format!("s3://{}/sales/2026-08-01/sales.csv", em.bucket());
    assert!(said.starts_with(&format!("HeadObject on {resource}: {detail}")), "{said}");
    assert!(said.ends_with(&hint), "the command's advice is doctor's hint:\n{said}\n{hint}");
    assert_not_retried(&upload);
    assert_no_debug(&upload);

    let once = run(without_credentials(reportsengine(&em)).arg("once"));
    once.assert_code(77);
    let said = message(&once, "reportsengine");
    assert!(said.starts_with(&format!("ReceiveMessage on {}: {detail}", em.queue_url())), "{said}");
    assert_not_retried(&once);
    assert_no_debug(&once);
    let (code, check, ..) = doctor_failure(without_credentials(reportsengine(&em)).arg("doctor"));
    assert_eq!((code, check.as_str()), (77, "credentials"));

    assert!(em.list_keys().is_empty(), "nothing written: {:?}", em.list_keys());
    assert_eq!(em.queue_counts(), (0, 0));
}

/// Keys AWS refuses (an access key no user has, under IAM enforcement) are the same kind:
/// 77 at once in the command, 77 in doctor, with the same advice.
#[test]
fn keys_aws_refuses_are_said_as_such_by_both() {
    let mut em = Emulator::start();
    let admin = em.create_user("e2e-admin", &iam::admin_policy());
    let (path, _) = generate(&em, "2026-08-02", 20, 2);
    em.enforce_iam(&admin);
    let unknown = iam::Keys {
        user: "nobody".into(),
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_access_key: "not-a-secret-of-anyone".into(),
    };
    let mut upload = salesapp(&em);
    unknown.apply(&mut upload).args(["--set", "endpoints.give_up_after=10m"]);
    let upload = run(upload.arg("upload").arg(&path));
    upload.assert_code(77);
    let said = message(&upload, "salesapp");
    assert!(said.contains("the AWS credentials were refused: "), "{said}");
    assert_not_retried(&upload);
    assert_no_debug(&upload);

    let mut doctor = salesapp(&em);
    unknown.apply(&mut doctor).arg("doctor");
    let (code, check, detail, hint) = doctor_failure(&mut doctor);
    assert_eq!(code, 77, "{check}: {detail}");
    assert!(detail.contains("the AWS credentials were refused: "), "{detail}");
    assert!(said.ends_with(&hint), "the same advice:\n{said}\n{hint}");
}

/// A bucket that does not exist is a configuration error for both (before: 69 in doctor,
/// 78 in upload), said as `operation on resource: CODE: message (request id …)`.
#[test]
fn a_missing_bucket_is_a_configuration_error_for_both() {
    let em = Emulator::start();
    let (path, _) = generate(&em, "2026-08-03", 20, 3);
    let wrong = ["--set", "bucket=no-such-bucket-here"];
    let upload = run(salesapp(&em).args(wrong).arg("upload").arg(&path));
    upload.assert_code(78);
    let said = message(&upload, "salesapp");
    let resource = "s3://no-such-bucket-here/sales/2026-08-03/sales.csv";
    assert!(
        said.starts_with(&format!(
            "PutObject on {resource}: NoSuchBucket: The specified bucket does not exist (request id "
        )),
        "{said}"
    );
    assert_not_retried(&upload);
    assert_no_debug(&upload);

    let (code, check, detail, hint) = doctor_failure(salesapp(&em).args(wrong).arg("doctor"));
    assert_eq!((code, check.as_str()), (78, "s3 write"), "{detail}");
    assert!(
        detail.contains(": NoSuchBucket: The specified bucket does not exist (request id "),
        "{detail}"
    );
    assert!(hint.starts_with("`bucket` names no bucket that http://127.0.0.1:"), "{hint}");
    assert!(said.ends_with(&hint), "the same advice:\n{said}\n{hint}");
}

/// A region other than the queue's: the queue is not found there (78 for both). The upload
/// had stored the file and the ledger by then: it says so, and that running it again sends
/// the message; run again with the right region, it does, and changes nothing else.
#[test]
fn a_queue_of_another_region_is_a_configuration_error_and_upload_says_what_is_stored() {
    let em = Emulator::start();
    let (path, bytes) = generate(&em, "2026-08-04", 20, 4);
    let wrong = ["--set", "region=us-west-2"];
    let upload = run(salesapp(&em).args(wrong).arg("upload").arg(&path));
    upload.assert_code(78);
    let said = message(&upload, "salesapp");
    assert!(
        said.starts_with(&format!(
            "SendMessage on {}: AWS.SimpleQueueService.NonExistentQueue: ",
            em.queue_url()
        )),
        "{said}"
    );
    let object = format!("s3://{}/sales/2026-08-04/sales.csv", em.bucket());
    let stored = format!(
        "The day is stored at {object} and in {LEDGER_KEY}; the message was not sent: running \
         `salesapp upload {}` again sends it (the same content again is a no-op).",
        path.display()
    );
    assert!(said.ends_with(&stored), "{said}");
    assert!(said.contains("`region` is the queue's region"), "{said}");
    assert_not_retried(&upload);
    e2e::checks::assert_sales_object(&em, "2026-08-04", &bytes);
    let ledger = em.get_object(LEDGER_KEY).expect("the ledger was written");
    assert_eq!(em.queue_counts(), (0, 0), "nothing sent");

    let (code, check, detail, hint) = doctor_failure(salesapp(&em).args(wrong).arg("doctor"));
    assert_eq!((code, check.as_str()), (78, "sqs receive"), "{detail}");
    assert!(said.contains(&hint), "the same advice:\n{said}\n{hint}");
    let once = run(reportsengine(&em).args(wrong).arg("once"));
    once.assert_code(78);
    assert!(message(&once, "reportsengine").starts_with("ReceiveMessage on "), "{}", once.output());
    let other_queue = format!("queue_url={}-gone", em.queue_url());
    let once = run(reportsengine(&em).args(["--set", &other_queue, "once"]));
    once.assert_code(78);

    let again = run(salesapp(&em).arg("upload").arg(&path));
    again.assert_ok();
    assert!(
        again.stdout.contains("unchanged (same content already uploaded)"),
        "{}",
        again.output()
    );
    assert!(again.stdout.contains("ledger already up to date"), "{}", again.output());
    assert_eq!(em.get_object(LEDGER_KEY), Some(ledger), "the ledger holds the day once");
    assert_eq!(em.drain_messages().len(), 1, "the message, sent now");
}

/// A denial: 77 in both, the same hint (the lab's controls to look at).
#[test]
fn a_denial_is_77_for_both_with_the_same_hint() {
    let mut em = Emulator::start();
    let user = em.create_user("no-put", &iam::lab_policy(&em, &["s3:PutObject"]));
    let admin = em.create_user("e2e-admin", &iam::admin_policy());
    let (path, _) = generate(&em, "2026-08-05", 20, 5);
    em.enforce_iam(&admin);
    let mut upload = salesapp(&em);
    user.apply(&mut upload);
    let upload = run(upload.arg("upload").arg(&path));
    upload.assert_code(77);
    let said = message(&upload, "salesapp");
    assert!(said.starts_with("PutObject on s3://"), "{said}");
    assert_no_debug(&upload);
    let mut doctor = salesapp(&em);
    user.apply(&mut doctor).arg("doctor");
    let (code, check, detail, hint) = doctor_failure(&mut doctor);
    assert_eq!((code, check.as_str()), (77, "s3 write"), "{detail}");
    assert!(detail.contains("denied (HTTP 403"), "{detail}");
    assert!(said.ends_with(&hint), "the same advice:\n{said}\n{hint}");
}
