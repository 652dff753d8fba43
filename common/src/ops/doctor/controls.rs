//! `--controls`: the lab's denials that must hold and the calls that must be allowed, each
//! judged by what its outcome proves. The only place in the code that makes calls the lab's
//! policies deny (DeleteObject, PutObject to the other bucket, ListBuckets, ListQueues):
//! [`crate::store::Store`] and [`crate::queue::Queue`] cannot make them.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use super::calls::{call, denial_hint, Call, Clients, Needed};
use super::table::{Check, Status, Table};
use super::{DoctorArgs, Program};
use crate::config::Config;
use crate::failure::{Kind, Operation};

/// What a call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    /// HTTP 403.
    Denied,
    /// Anything else: not found, invalid, timeout… `String` says what.
    Inconclusive(String),
}

/// One of the lab's controls as doctor verifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    pub name: &'static str,
    /// The call, as an operator would recognise it.
    pub action: &'static str,
    pub expect_denied: bool,
    /// Which control the expected outcome proves.
    pub proves: &'static str,
    /// The call as one of ours, when the apps make it too (its denial hint applies).
    pub operation: Option<Operation>,
}

pub const DELETE_OBJECT: Control = Control {
    name: "control: DeleteObject denied",
    action: "DeleteObject on the restricted bucket",
    expect_denied: true,
    proves: "the S3 gateway endpoint policy allows only s3:GetObject and s3:PutObject",
    operation: None,
};
pub const OTHER_BUCKET_PUT: Control = Control {
    name: "control: unrestricted PutObject denied",
    action: "PutObject to the unrestricted bucket",
    expect_denied: true,
    proves: "the S3 gateway endpoint policy names only the restricted bucket",
    operation: None,
};
pub const LIST_BUCKETS: Control = Control {
    name: "control: ListBuckets denied",
    action: "ListBuckets",
    expect_denied: true,
    proves: "the S3 gateway endpoint policy allows no listing",
    operation: None,
};
pub const LIST_QUEUES: Control = Control {
    name: "control: ListQueues denied",
    action: "ListQueues",
    expect_denied: true,
    proves: "the SQS interface endpoint policy allows only Send/Receive/DeleteMessage",
    operation: None,
};
pub const RESTRICTED_PUT: Control = Control {
    name: "control: PutObject allowed",
    action: "PutObject to the restricted bucket",
    expect_denied: false,
    proves: "the write came through the S3 gateway endpoint (the bucket policy denies PutObject \
             unless aws:sourceVpce is that endpoint) and the endpoint policy allows it",
    operation: Some(Operation::PutObject),
};
pub const SEND: Control = Control {
    name: "control: SendMessage allowed",
    action: "SendMessage",
    expect_denied: false,
    proves: "the request came through the SQS interface endpoint (the queue policy allows it \
             only via aws:sourceVpce) and the endpoint policy and role allow it",
    operation: Some(Operation::SendMessage),
};
pub const RECEIVE: Control = Control {
    name: "control: ReceiveMessage allowed",
    action: "ReceiveMessage",
    expect_denied: false,
    proves: "the SQS interface endpoint, the queue policy (aws:sourceVpce) and the role allow it",
    operation: Some(Operation::ReceiveMessage),
};
pub const DELETE_MESSAGE: Control = Control {
    name: "control: DeleteMessage allowed",
    action: "DeleteMessage",
    expect_denied: false,
    proves: "the SQS interface endpoint, the queue policy (aws:sourceVpce) and the role allow it",
    operation: Some(Operation::DeleteMessage),
};

/// Judges one control's outcome (pure). On the emulator a denial that does not hold is said
/// to be unenforced rather than passed off as success or blamed on the lab.
pub fn judge_control(control: &Control, outcome: &Outcome, emulator: bool) -> Check {
    match (control.expect_denied, outcome) {
        (true, Outcome::Denied) => Check::pass(
            control.name,
            format!("in place: denied (403), which proves {}", control.proves),
        ),
        (false, Outcome::Allowed) if emulator => Check::pass(
            control.name,
            format!(
                "{} allowed (on the emulator this shows the call works, not that the lab's \
                 controls are in place)",
                control.action
            ),
        ),
        (false, Outcome::Allowed) => {
            Check::pass(control.name, format!("in place: allowed, which proves {}", control.proves))
        }
        (true, Outcome::Allowed) if emulator => Check::fail(
            control.name,
            Kind::Denied,
            format!(
                "{} allowed: on the emulator the lab's controls are not enforced",
                control.action
            ),
            "expected here (moto ignores endpoint, bucket and queue policies); run `doctor \
             --controls` on the lab's instances to verify the controls",
        ),
        (true, Outcome::Allowed) => Check::fail(
            control.name,
            Kind::Denied,
            format!("NOT in place: {} was allowed", control.action),
            format!(
                "expected a 403 because {}: the lab's starting state (LabState=starting) has \
                 open endpoint policies; otherwise check the endpoint's policy and that this \
                 subnet's route table / DNS really uses the VPC endpoint",
                control.proves
            ),
        ),
        (false, Outcome::Denied) => Check::fail(
            control.name,
            Kind::Denied,
            format!("NOT in place: {} was denied (403)", control.action),
            denial_hint(control.operation),
        ),
        (_, Outcome::Inconclusive(why)) => Check::warn(
            control.name,
            format!("{}: inconclusive: {why}", control.action),
            "neither allowed nor denied; see the detail",
        ),
    }
}

/// The body of `salesapp doctor --controls`'s probe message. Not a valid sales message: if
/// the engine receives it first, it quarantines it with this text in `body`, which says
/// where it came from.
pub const PROBE_MARKER: &str = "vpce-lab doctor probe";

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

/// The `--controls` rows. `needed` is what the harmless calls showed; the rest are the
/// denied calls, each expected to be refused.
pub(super) async fn controls(
    program: Program,
    config: &Config,
    args: &DoctorArgs,
    emulator: bool,
    clients: &Clients,
    needed: &Needed,
    t: &mut Table,
) {
    let (s3, sqs, key) = (&clients.s3, &clients.sqs, needed.probe_key.as_str());
    let Needed { put, receive, delete, .. } = needed;
    let put = put.clone();
    t.push(judge_control(&RESTRICTED_PUT, &put, emulator));
    if put == Outcome::Allowed {
        // The one object doctor may try to delete: the one it has just written.
        let del = call(s3.delete_object().bucket(&config.bucket).key(key).send()).await;
        t.push(judge_control(&DELETE_OBJECT, &del.outcome(), emulator));
    } else {
        t.push(Check::skip(DELETE_OBJECT.name, "doctor wrote no object it could try to delete"));
    }
    match args.unrestricted_bucket.as_ref().or(config.doctor.unrestricted_bucket.as_ref()) {
        Some(other) => {
            let put_other = call(
                s3.put_object()
                    .bucket(other)
                    .key(key)
                    .server_side_encryption(ServerSideEncryption::Aes256)
                    .body(ByteStream::from_static(b"vpce-lab doctor probe: must be denied\n"))
                    .send(),
            )
            .await;
            t.push(judge_control(&OTHER_BUCKET_PUT, &put_other.outcome(), emulator));
        }
        None => t.push(Check::skip(
            OTHER_BUCKET_PUT.name,
            "no unrestricted bucket: pass --unrestricted-bucket or set doctor.unrestricted_bucket",
        )),
    }
    let list = call(s3.list_buckets().send()).await;
    t.push(judge_control(&LIST_BUCKETS, &list.outcome(), emulator));
    let list = call(sqs.list_queues().send()).await;
    t.push(judge_control(&LIST_QUEUES, &list.outcome(), emulator));

    match program {
        Program::Salesapp => {
            let body = format!(
                "{{\"{}\":\"{}-{}\",\"note\":\"sent by salesapp doctor --controls; not a sales \
                 message; safe to ignore\"}}",
                PROBE_MARKER.replace(' ', "_"),
                hostname(),
                std::process::id()
            );
            let sent =
                call(sqs.send_message().queue_url(&config.queue_url).message_body(&body).send())
                    .await;
            let mut row = judge_control(&SEND, &sent.outcome(), emulator);
            if let Call::Ok(out) = &sent {
                let id = out.message_id().unwrap_or_default().to_string();
                row.detail
                    .push_str(&format!("; {}", take_back_probe(sqs, &config.queue_url, &id).await));
            }
            t.push(row);
        }
        Program::Reportsengine => t.push(Check::skip(
            SEND.name,
            "the reports engine sends nothing (run `salesapp doctor --controls` on its instance)",
        )),
    }
    t.push(judge_control(&RECEIVE, receive, emulator));
    t.push(judge_control(&DELETE_MESSAGE, delete, emulator));
    t.notes.push(controls_summary(t, emulator));
}

/// `controls: N of M in place`: the lab's starting state shows few, its end state all.
fn controls_summary(t: &Table, emulator: bool) -> String {
    let judged: Vec<&Check> = t
        .checks
        .iter()
        .filter(|c| c.name.starts_with("control: ") && c.status != Status::Skip)
        .collect();
    let in_place = judged.iter().filter(|c| c.status == Status::Pass).count();
    let on_emulator = if emulator { " (the emulator enforces none of the denials)" } else { "" };
    format!("controls: {in_place} of {} in place{on_emulator}", judged.len())
}

/// Tries for a few seconds to receive and delete salesapp's probe before the engine does.
/// Other messages are received with visibility 0, so they stay visible to the engine.
async fn take_back_probe(sqs: &aws_sdk_sqs::Client, queue_url: &str, id: &str) -> String {
    for _ in 0..5 {
        let got = call(
            sqs.receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .visibility_timeout(0)
                .send(),
        )
        .await;
        let Call::Ok(out) = got else { break };
        if let Some(handle) = out
            .messages()
            .iter()
            .find(|m| m.message_id() == Some(id))
            .and_then(|m| m.receipt_handle())
        {
            return match call(
                sqs.delete_message().queue_url(queue_url).receipt_handle(handle).send(),
            )
            .await
            {
                Call::Ok(_) => format!("probe {id} received back and deleted"),
                _ => format!("probe {id} received back but not deleted"),
            };
        }
    }
    format!(
        "probe {id} not seen again: the reports engine probably took it and quarantined it as \
         quarantine/{id}.json (expected, harmless)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_judged_by_what_they_prove() {
        let denied = judge_control(&DELETE_OBJECT, &Outcome::Denied, false);
        assert_eq!(denied.status, Status::Pass);
        assert!(denied.detail.contains("gateway endpoint policy"), "{}", denied.detail);
        assert!(denied.detail.starts_with("in place"), "{}", denied.detail);

        let on_emulator = judge_control(&DELETE_OBJECT, &Outcome::Allowed, true);
        assert_eq!(on_emulator.status, Status::Fail);
        assert!(on_emulator.detail.contains("not enforced"), "{}", on_emulator.detail);
        assert_eq!(on_emulator.kind.rule().exit_code, 77);

        let real = judge_control(&LIST_QUEUES, &Outcome::Allowed, false);
        assert_eq!(real.status, Status::Fail);
        assert!(real.detail.contains("NOT in place"), "{}", real.detail);

        let send_denied = judge_control(&SEND, &Outcome::Denied, false);
        assert_eq!(send_denied.status, Status::Fail);
        assert!(send_denied.hint.as_deref().unwrap_or("").contains("interface endpoint"));

        let unclear = judge_control(&OTHER_BUCKET_PUT, &Outcome::Inconclusive("404".into()), true);
        assert_eq!(unclear.status, Status::Warn);
        assert_eq!(judge_control(&RESTRICTED_PUT, &Outcome::Allowed, false).status, Status::Pass);
    }
}
