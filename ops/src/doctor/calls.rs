//! The calls the apps need, made once each through doctor's probes, and how their failures
//! read: PutObject then GetObject of a probe object under `doctor/`, a ReceiveMessage that
//! hides nothing, a DeleteMessage that cannot delete anything.

use common::endpoints::EndpointUrls;
use common::failure::{Kind, Operation};
use common::probe::{Call, CallOutcome, Probes};

use super::table::{Check, Table};
use super::{Program, CALL_TIMEOUT};

/// The body of `salesapp doctor --controls`'s probe message, and the first words of the
/// probe object. Not a valid sales message: if the engine receives it first, it quarantines
/// it with this text in `body`, which says where it came from.
pub const PROBE_MARKER: &str = "vpce-lab doctor probe";

/// What the calls the apps need showed, for `--controls` to judge.
pub(super) struct NeededCalls {
    /// The key of doctor's probe object (written, read back, and tried to delete).
    pub(super) probe_key: String,
    pub(super) put: CallOutcome,
    pub(super) receive: CallOutcome,
    pub(super) delete: CallOutcome,
}

/// The harmless calls, a row each.
pub(super) async fn needed(
    program: Program,
    probes: &Probes,
    endpoints: &EndpointUrls,
    t: &mut Table,
) -> NeededCalls {
    let probe_key = format!("doctor/{}-{}.txt", hostname(), std::process::id());
    let put = s3_write_and_read(program, probes, &endpoints.s3, &probe_key, t).await;
    let (receive, delete) = sqs_receive_and_delete(probes, &endpoints.sqs, t).await;
    NeededCalls { probe_key, put, receive, delete }
}

async fn s3_write_and_read(
    program: Program,
    probes: &Probes,
    endpoint: &str,
    key: &str,
    t: &mut Table,
) -> CallOutcome {
    let body = probe_body(program);
    let url = probes.url(key);
    let put = probes.put_object(key, "text/plain", body.clone().into_bytes()).await;
    t.push(needed_call_failed("s3 write", Operation::PutObject, &url, endpoint, &put));
    if !matches!(put, Call::Ok(_)) {
        t.push(Check::skip("s3 read", "nothing was written"));
        return put.outcome();
    }
    let read = match probes.get_object(key).await {
        Call::Ok(Ok(data)) if data == body.as_bytes() => {
            Check::pass("s3 read", format!("GetObject {url}: same bytes back"))
        }
        Call::Ok(Ok(_)) => Check::fail(
            "s3 read",
            Kind::Transient,
            format!("GetObject {url}: different bytes back"),
            "another writer, or a proxy rewriting bodies",
        ),
        Call::Ok(Err(e)) => Check::fail(
            "s3 read",
            Kind::Transient,
            format!("GetObject {url}: reading the body failed: {e}"),
            "see the tcp rows",
        ),
        // The object was written a moment ago: its absence is an unexpected answer, not
        // bad input.
        Call::Failed { kind: Kind::Missing, text, .. } => Check::fail(
            "s3 read",
            Kind::Unexpected,
            format!("GetObject {url} via {endpoint}: {text}, just after it was written"),
            "another writer, or a proxy in the way",
        ),
        other => needed_call_failed("s3 read", Operation::GetObject, &url, endpoint, &other),
    };
    t.push(read);
    put.outcome()
}

/// The probe object's text: what wrote it, where, and that it is harmless.
fn probe_body(program: Program) -> String {
    format!(
        "{PROBE_MARKER}: written by `{} doctor` on {} (pid {}); safe to ignore\n",
        program.name(),
        hostname(),
        std::process::id()
    )
}

/// A receive with visibility 0 (whatever it sees stays visible to the engine) and a delete
/// with a made-up receipt handle (authorized calls answer ReceiptHandleIsInvalid).
async fn sqs_receive_and_delete(
    probes: &Probes,
    endpoint: &str,
    t: &mut Table,
) -> (CallOutcome, CallOutcome) {
    let queue = probes.queue_url();
    let receive = probes.receive_visible(1, 0).await;
    let mut row =
        needed_call_failed("sqs receive", Operation::ReceiveMessage, queue, endpoint, &receive);
    if let Call::Ok(seen) = &receive {
        let n = seen.len();
        row.detail = format!(
            "ReceiveMessage {queue}: ok ({n} message(s) seen; visibility 0 left them visible)"
        );
    }
    t.push(row);
    let delete = probes.delete_message("vpce-lab-doctor-invalid-receipt-handle").await;
    let delete_outcome = match &delete {
        Call::Failed { code, .. } if code == "ReceiptHandleIsInvalid" => CallOutcome::Allowed,
        other => other.outcome(),
    };
    t.push(match &delete_outcome {
        CallOutcome::Allowed => Check::pass(
            "sqs delete",
            "DeleteMessage authorized (a made-up receipt handle was refused as \
             ReceiptHandleIsInvalid, not denied)",
        ),
        _ => needed_call_failed("sqs delete", Operation::DeleteMessage, queue, endpoint, &delete),
    });
    (receive.outcome(), delete_outcome)
}

/// A failing row for a call the apps need, from how it failed: the kind (so the exit code)
/// and the hint are the failure model's for the same answer, so `doctor` and a command that
/// meets the same cause agree.
pub(super) fn needed_call_failed<T>(
    name: &str,
    operation: Operation,
    resource: &str,
    endpoint: &str,
    result: &Call<T>,
) -> Check {
    match result {
        Call::Ok(_) => Check::pass(name, format!("{operation} {resource}: ok")),
        Call::Failed { text, kind, hint, .. } => Check::fail(
            name,
            *kind,
            format!("{operation} {resource} via {endpoint}: {text}"),
            hint.clone().unwrap_or_else(|| "see the dns and tcp rows above".to_string()),
        ),
        Call::TimedOut { .. } => Check::fail(
            name,
            Kind::Transient,
            format!(
                "{operation} {resource} via {endpoint}: no answer within {}s",
                CALL_TIMEOUT.as_secs()
            ),
            "an endpoint security group admitting only the apps' security groups makes other \
             sources time out; check this instance's security group",
        ),
    }
}

/// Which of the lab's controls typically denies the AWS operation called `operation`.
pub(super) fn denial_hint(operation: Option<Operation>) -> &'static str {
    operation.map_or(
        "Check the instance role and the VPC endpoint and resource policies of the lab.",
        Operation::denial_hint,
    )
}

/// This machine's name for the probe key, restricted to characters safe in an S3 key.
pub(super) fn hostname() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let clean: String = raw
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .take(63)
        .collect();
    if clean.is_empty() {
        "host".into()
    } else {
        clean
    }
}
