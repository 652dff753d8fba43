//! `--controls`: the lab's denials that must hold and the calls that must be allowed, each
//! judged by what its outcome proves. The calls the lab's policies deny (DeleteObject,
//! PutObject to the other bucket, ListBuckets, ListQueues) are the shell's named probes
//! (`common::probe`); the daemons' store and queue cannot make them.

use common::config::Config;
use common::failure::{Kind, Operation};
use common::probe::{Call, CallOutcome, Probes};

use super::calls::{denial_hint, hostname, NeededCalls, PROBE_MARKER};
use super::table::{Check, Status, Table};
use super::{DoctorArgs, Program};

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
pub fn judge_control(control: &Control, outcome: &CallOutcome, emulator: bool) -> Check {
    match (control.expect_denied, outcome) {
        (true, CallOutcome::Denied) => Check::pass(
            control.name,
            format!("in place: denied (403), which proves {}", control.proves),
        ),
        (false, CallOutcome::Allowed) if emulator => Check::pass(
            control.name,
            format!(
                "{} allowed (on the emulator this shows the call works, not that the lab's \
                 controls are in place)",
                control.action
            ),
        ),
        (false, CallOutcome::Allowed) => {
            Check::pass(control.name, format!("in place: allowed, which proves {}", control.proves))
        }
        (true, CallOutcome::Allowed) if emulator => Check::fail(
            control.name,
            Kind::Denied,
            format!(
                "{} allowed: on the emulator the lab's controls are not enforced",
                control.action
            ),
            "expected here (moto ignores endpoint, bucket and queue policies); run `doctor \
             --controls` on the lab's instances to verify the controls",
        ),
        (true, CallOutcome::Allowed) => Check::fail(
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
        (false, CallOutcome::Denied) => Check::fail(
            control.name,
            Kind::Denied,
            format!("NOT in place: {} was denied (403)", control.action),
            denial_hint(control.operation),
        ),
        (_, CallOutcome::Inconclusive(why)) => Check::warn(
            control.name,
            format!("{}: inconclusive: {why}", control.action),
            "neither allowed nor denied; see the detail",
        ),
    }
}

/// The `--controls` rows. `needed` is what the harmless calls showed; the rest are the
/// denied calls, each expected to be refused.
pub(super) async fn controls(
    program: Program,
    config: &Config,
    args: &DoctorArgs,
    emulator: bool,
    probes: &Probes,
    needed: &NeededCalls,
    t: &mut Table,
) {
    let key = needed.probe_key.as_str();
    let NeededCalls { put, receive, delete, .. } = needed;
    t.push(judge_control(&RESTRICTED_PUT, put, emulator));
    if *put == CallOutcome::Allowed {
        // The one object doctor may try to delete: the one it has just written.
        let del = probes.delete_object(key).await;
        t.push(judge_control(&DELETE_OBJECT, &del.outcome(), emulator));
    } else {
        t.push(Check::skip(DELETE_OBJECT.name, "doctor wrote no object it could try to delete"));
    }
    match args.unrestricted_bucket.as_ref().or(config.doctor.unrestricted_bucket.as_ref()) {
        Some(other) => {
            let body = b"vpce-lab doctor probe: must be denied\n";
            let put_other = probes.put_object_elsewhere(other, key, body).await;
            t.push(judge_control(&OTHER_BUCKET_PUT, &put_other.outcome(), emulator));
        }
        None => t.push(Check::skip(
            OTHER_BUCKET_PUT.name,
            "no unrestricted bucket: pass --unrestricted-bucket or set doctor.unrestricted_bucket",
        )),
    }
    t.push(judge_control(&LIST_BUCKETS, &probes.list_buckets().await.outcome(), emulator));
    t.push(judge_control(&LIST_QUEUES, &probes.list_queues().await.outcome(), emulator));

    match program {
        Program::Salesapp => {
            let body = format!(
                "{{\"{}\":\"{}-{}\",\"note\":\"sent by salesapp doctor --controls; not a sales \
                 message; safe to ignore\"}}",
                PROBE_MARKER.replace(' ', "_"),
                hostname(),
                std::process::id()
            );
            let sent = probes.send_message(&body).await;
            let mut row = judge_control(&SEND, &sent.outcome(), emulator);
            if let Call::Ok(id) = &sent {
                row.detail.push_str(&format!("; {}", take_back_probe(probes, id).await));
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
async fn take_back_probe(probes: &Probes, id: &str) -> String {
    for _ in 0..5 {
        let Call::Ok(seen) = probes.receive_visible(10, 1).await else { break };
        if let Some(handle) = seen
            .iter()
            .find(|m| m.message_id.as_deref() == Some(id))
            .and_then(|m| m.receipt_handle.as_deref())
        {
            return match probes.delete_message(handle).await {
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
        let denied = judge_control(&DELETE_OBJECT, &CallOutcome::Denied, false);
        assert_eq!(denied.status, Status::Pass);
        assert!(denied.detail.contains("gateway endpoint policy"), "{}", denied.detail);
        assert!(denied.detail.starts_with("in place"), "{}", denied.detail);

        let on_emulator = judge_control(&DELETE_OBJECT, &CallOutcome::Allowed, true);
        assert_eq!(on_emulator.status, Status::Fail);
        assert!(on_emulator.detail.contains("not enforced"), "{}", on_emulator.detail);
        assert_eq!(on_emulator.kind.rule().exit_code, 77);

        let real = judge_control(&LIST_QUEUES, &CallOutcome::Allowed, false);
        assert_eq!(real.status, Status::Fail);
        assert!(real.detail.contains("NOT in place"), "{}", real.detail);

        let send_denied = judge_control(&SEND, &CallOutcome::Denied, false);
        assert_eq!(send_denied.status, Status::Fail);
        assert!(send_denied.hint.as_deref().unwrap_or("").contains("interface endpoint"));

        let unclear =
            judge_control(&OTHER_BUCKET_PUT, &CallOutcome::Inconclusive("404".into()), true);
        assert_eq!(unclear.status, Status::Warn);
        assert_eq!(
            judge_control(&RESTRICTED_PUT, &CallOutcome::Allowed, false).status,
            Status::Pass
        );
    }
}
