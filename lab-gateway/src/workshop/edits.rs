//! The workshop's edits, as the AWS CLI commands a person types, each with the stack outputs
//! its values come from; `lab.sh secure` applies them one at a time. The documents are the
//! template's secured ones (`workshop.json`), so that after the last edit the controls are
//! those of `lab.sh start --state secured` (the instance roles keep the starting state's
//! broader grants, as in the workshop: the endpoint policies take them away on the only path
//! the instances have).
//!
//! The edits are made from the `internet` host, as in the workshop's console: from Cloud9 the
//! queue's edit would time out once the endpoint's security group no longer admits it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::controls::{Controls, Live, Recognised};
use super::files::LabFiles;
use super::observe::Aws;
use crate::lab::RuleDoc;

/// One of the workshop's edits.
#[derive(Debug, Clone, Copy)]
pub struct Edit {
    pub name: &'static str,
    pub title: &'static str,
    /// The stack outputs its commands and documents take their values from.
    pub outputs: &'static [&'static str],
}

/// The edits, in the workshop's order.
pub const EDITS: &[Edit] = &[
    Edit {
        name: "s3-endpoint-policy",
        title: "the S3 gateway endpoint's policy",
        outputs: &["S3VPCGatewayEndpoint", "RestrictedS3Bucket", "ArtifactsS3Bucket"],
    },
    Edit {
        name: "bucket-policy",
        title: "the restricted bucket's policy",
        outputs: &["RestrictedS3Bucket", "S3VPCGatewayEndpoint"],
    },
    Edit {
        name: "endpoint-security-group",
        title: "the SQS interface endpoint's security group",
        outputs: &[
            "InterfaceSecurityGroup",
            "SecurityGroupForSalesApp",
            "SecurityGroupForReportsEngine",
        ],
    },
    Edit {
        name: "sqs-endpoint-policy",
        title: "the SQS interface endpoint's policy",
        outputs: &["SQSVPCInterfaceEndpoint", "SQSQueueARN", "AWSAccountID"],
    },
    Edit {
        name: "queue-policy",
        title: "the queue's policy",
        outputs: &["SQSQueueURL", "SQSQueueARN", "SQSVPCInterfaceEndpoint", "AWSAccountID"],
    },
];

/// The host the edits are made from.
pub const EDIT_HOST: &str = "internet";

/// An edit made concrete for this lab.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    pub name: &'static str,
    pub title: &'static str,
    /// Each output it uses, and its value.
    pub outputs: Vec<(String, String)>,
    /// The commands (arguments after `aws`), in order.
    pub commands: Vec<Vec<String>>,
    /// The same, as a person types them.
    pub typed: Vec<String>,
    /// The documents the commands read (`file://…`), and their text.
    #[serde(skip)]
    pub files: Vec<(PathBuf, String)>,
    /// Already in place: nothing to do.
    pub in_place: bool,
}

/// One security group rule's source, as AWS keeps them: one per address range or group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Permission {
    protocol: String,
    from_port: Option<i32>,
    to_port: Option<i32>,
    source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Cidr(String),
    Group(String),
}

fn permissions(rules: &[RuleDoc]) -> BTreeSet<Permission> {
    let mut out = BTreeSet::new();
    for r in rules {
        let sources = r
            .cidrs
            .iter()
            .map(|c| Source::Cidr(c.clone()))
            .chain(r.groups.iter().map(|g| Source::Group(g.clone())));
        for source in sources {
            let all = r.protocol == "-1";
            out.insert(Permission {
                protocol: r.protocol.clone(),
                from_port: if all { None } else { r.from_port },
                to_port: if all { None } else { r.to_port },
                source,
            });
        }
    }
    out
}

/// `--ip-permissions` in the CLI's shorthand: one permission per protocol and ports, with all
/// its sources.
fn ip_permissions(permissions: &[&Permission]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest: Vec<&Permission> = permissions.to_vec();
    while let Some(first) = rest.first().copied() {
        let (same, other): (Vec<&Permission>, Vec<&Permission>) = rest.iter().partition(|p| {
            (&p.protocol, p.from_port, p.to_port)
                == (&first.protocol, first.from_port, first.to_port)
        });
        let mut text = format!("IpProtocol={}", first.protocol);
        if let (Some(from), Some(to)) = (first.from_port, first.to_port) {
            text.push_str(&format!(",FromPort={from},ToPort={to}"));
        }
        let list = |wanted: fn(&Source) -> Option<String>| -> Vec<String> {
            same.iter().filter_map(|p| wanted(&p.source)).collect()
        };
        let groups = list(|s| match s {
            Source::Group(g) => Some(format!("{{GroupId={g}}}")),
            Source::Cidr(_) => None,
        });
        let cidrs = list(|s| match s {
            Source::Cidr(c) => Some(format!("{{CidrIp={c}}}")),
            Source::Group(_) => None,
        });
        if !groups.is_empty() {
            text.push_str(&format!(",UserIdGroupPairs=[{}]", groups.join(",")));
        }
        if !cidrs.is_empty() {
            text.push_str(&format!(",IpRanges=[{}]", cidrs.join(",")));
        }
        out.push(text);
        rest = other;
    }
    out
}

fn pretty(doc: &Value) -> String {
    serde_json::to_string_pretty(doc).unwrap_or_else(|_| doc.to_string())
}

/// What an edit runs: its commands, the documents they read, and whether it is in place.
type Steps = (Vec<Vec<String>>, Vec<(PathBuf, String)>, bool);

fn words(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// An edit that sets one policy document: `aws SERVICE OPERATION ID_FLAG ID DOC_FLAG
/// file://DIR/FILE`.
fn document_edit(
    command: [&str; 3],
    id: &str,
    flag: &str,
    (dir, file): (&Path, &str),
    text: String,
    in_place: bool,
) -> Steps {
    let path = dir.join(file);
    let [service, operation, id_flag] = command;
    let file_arg = format!("file://{}", path.display());
    let args = words(&[service, operation, id_flag, id, flag, &file_arg]);
    (vec![args], vec![(path, text)], in_place)
}

/// The security group's edit: authorize what the secured state has and the group has not
/// (the apps' groups), then revoke what it has and the secured state has not (the VPC's
/// range): the apps never lose the endpoint on the way.
fn security_group_edit(group: &str, wanted: &[RuleDoc], now: &[RuleDoc]) -> Steps {
    let (wanted, now) = (permissions(wanted), permissions(now));
    let add: Vec<&Permission> = wanted.difference(&now).collect();
    let remove: Vec<&Permission> = now.difference(&wanted).collect();
    let mut commands = Vec::new();
    for (verb, list) in [("authorize", &add), ("revoke", &remove)] {
        for p in ip_permissions(list) {
            let action = format!("{verb}-security-group-ingress");
            commands.push(words(&["ec2", &action, "--group-id", group, "--ip-permissions", &p]));
        }
    }
    let done = commands.is_empty();
    (commands, Vec::new(), done)
}

/// An edit for this lab, given the controls as they are now; its documents are written into
/// `dir` by [`apply`].
pub fn plan(
    edit: &'static Edit,
    files: &LabFiles,
    live: &Live,
    controls: &Controls,
    dir: &Path,
) -> Result<Planned, String> {
    let secured = &files.documents.secured;
    let outputs = edit
        .outputs
        .iter()
        .map(|o| Ok((o.to_string(), files.output(o)?.to_string())))
        .collect::<Result<Vec<_>, String>>()?;
    let out = |name: &str| files.output(name).map(str::to_string);
    let document = |doc: &Option<Value>, what: &str| {
        doc.as_ref().map(pretty).ok_or_else(|| format!("the template gives no secured {what}"))
    };
    let workshop = |r: Recognised| r == Recognised::Workshop;
    let (commands, files_written, in_place) = match edit.name {
        "s3-endpoint-policy" => document_edit(
            ["ec2", "modify-vpc-endpoint", "--vpc-endpoint-id"],
            &out("S3VPCGatewayEndpoint")?,
            "--policy-document",
            (dir, "s3-endpoint-policy.json"),
            document(&secured.s3_endpoint_policy, "S3 endpoint policy")?,
            workshop(controls.s3_endpoint_policy),
        ),
        "bucket-policy" => document_edit(
            ["s3api", "put-bucket-policy", "--bucket"],
            &out("RestrictedS3Bucket")?,
            "--policy",
            (dir, "bucket-policy.json"),
            document(&secured.bucket_policy, "bucket policy")?,
            workshop(controls.bucket_policy),
        ),
        "endpoint-security-group" => security_group_edit(
            &out("InterfaceSecurityGroup")?,
            &secured.endpoint_security_group,
            &live.endpoint_rules,
        ),
        "sqs-endpoint-policy" => document_edit(
            ["ec2", "modify-vpc-endpoint", "--vpc-endpoint-id"],
            &out("SQSVPCInterfaceEndpoint")?,
            "--policy-document",
            (dir, "sqs-endpoint-policy.json"),
            document(&secured.sqs_endpoint_policy, "SQS endpoint policy")?,
            workshop(controls.sqs_endpoint_policy),
        ),
        "queue-policy" => {
            let policy = secured
                .queue_policy
                .as_ref()
                .ok_or("the template gives no secured queue policy")?;
            document_edit(
                ["sqs", "set-queue-attributes", "--queue-url"],
                &out("SQSQueueURL")?,
                "--attributes",
                (dir, "queue-attributes.json"),
                pretty(&serde_json::json!({ "Policy": policy.to_string() })),
                workshop(controls.queue_policy),
            )
        }
        other => return Err(format!("no edit {other}")),
    };
    let typed = commands.iter().map(|c| format!("aws {}", shell_words(c))).collect();
    Ok(Planned {
        name: edit.name,
        title: edit.title,
        outputs,
        typed,
        commands,
        files: files_written,
        in_place,
    })
}

/// Writes the edit's documents and runs its commands from [`EDIT_HOST`].
pub fn apply(planned: &Planned, files: &LabFiles, aws: &Aws) -> Result<(), String> {
    for (path, text) in &planned.files {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let host = files.host(EDIT_HOST)?;
    for command in &planned.commands {
        let ran = aws.run(&host, command)?;
        if ran.status != Some(0) {
            return Err(format!("aws {} failed: {}", shell_words(command), ran.stderr.trim()));
        }
    }
    Ok(())
}

/// Arguments as a person types them (single-quoted where the shell would read them).
pub fn shell_words(args: &[String]) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c);
    args.iter()
        .map(|a| if !a.is_empty() && a.chars().all(plain) { a.clone() } else { format!("'{a}'") })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The edit named `name`.
pub fn edit(name: &str) -> Option<&'static Edit> {
    EDITS.iter().find(|e| e.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(cidrs: &[&str], groups: &[&str]) -> RuleDoc {
        RuleDoc {
            protocol: "tcp".into(),
            from_port: Some(443),
            to_port: Some(443),
            cidrs: cidrs.iter().map(|s| s.to_string()).collect(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn the_security_groups_edit_in_the_clis_shorthand() {
        let wanted = permissions(&[rule(&[], &["sg-a"]), rule(&[], &["sg-b"])]);
        let now = permissions(&[rule(&["10.0.0.0/16"], &[])]);
        let add: Vec<&Permission> = wanted.difference(&now).collect();
        assert_eq!(
            ip_permissions(&add),
            ["IpProtocol=tcp,FromPort=443,ToPort=443,UserIdGroupPairs=[{GroupId=sg-a},{GroupId=sg-b}]"]
        );
        let remove: Vec<&Permission> = now.difference(&wanted).collect();
        assert_eq!(
            ip_permissions(&remove),
            ["IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges=[{CidrIp=10.0.0.0/16}]"]
        );
        assert!(permissions(&[rule(&[], &["sg-a", "sg-b"])]) == wanted, "one rule or two");
        assert_eq!(
            shell_words(&["ec2".into(), "IpProtocol=tcp,UserIdGroupPairs=[{GroupId=a}]".into()]),
            "ec2 'IpProtocol=tcp,UserIdGroupPairs=[{GroupId=a}]'"
        );
    }
}
