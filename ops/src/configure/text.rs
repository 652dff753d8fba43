//! The configuration file's text: what the stack gave, what the lab requires and what the
//! operator chose (`configure --set`) as settings, each with a comment saying where it came
//! from; every other key commented out at its default, with its meaning, section by section
//! in the order of `common::config::KEYS`.
//!
//! A default written as a live value would pin this host to the release that wrote it; as a
//! comment it follows the release the host runs, and uncommenting a line makes it a choice.

use std::collections::BTreeMap;

use common::config::{sections, Key, KeyDefault, ValueType, KEYS};

use super::outputs::{StackOutputs, StackValues};

/// Comment lines are wrapped at this width.
const WIDTH: usize = 92;

/// A key set in the file: its TOML value and why it is set.
struct Setting {
    value: String,
    why: String,
}

/// The file's text (pure): `chosen` are the operator's `--set` flags, typed.
pub(super) fn config_text(
    outputs: &StackOutputs,
    values: &StackValues,
    chosen: &[(&'static Key, toml::Value)],
) -> String {
    let mut settings = settings(outputs, values);
    for (key, value) in chosen {
        let why = "Chosen when this file was written (`configure --set`).".to_string();
        settings.insert(key.dotted(), Setting { value: value.to_string(), why });
    }
    let mut out = header(outputs);
    for section in sections() {
        if !section.is_empty() {
            out.push_str(&format!("\n[{section}]\n"));
        }
        out.push_str(&preface(section, outputs, &values.region, &settings));
        for key in KEYS.iter().filter(|k| k.section == section) {
            out.push_str(&key_text(key, settings.get(key.dotted().as_str())));
        }
    }
    out
}

/// What the file sets, by dotted key: the stack's values and what the lab requires.
fn settings(outputs: &StackOutputs, values: &StackValues) -> BTreeMap<String, Setting> {
    let StackValues { bucket, region, region_source, queue_url, queue_source } = values;
    let mut set = BTreeMap::new();
    let mut add = |key: &str, value: String, why: String| {
        set.insert(key.to_string(), Setting { value, why });
    };
    add("region", toml_str(region), format!("The stack's region (from {region_source})."));
    add(
        "bucket",
        toml_str(bucket),
        "The restricted bucket (output RestrictedS3Bucket): sales files, the ledger, reports."
            .into(),
    );
    add(
        "queue_url",
        toml_str(queue_url),
        format!(
            "The queue (from {queue_source}). Configured, not looked up: the lab allows no \
             sqs:GetQueueUrl."
        ),
    );
    add(
        "endpoints.require_private_sqs",
        "true".into(),
        "The lab sends SQS traffic through the interface endpoint: refuse to start when the \
         SQS endpoint resolves to a public address (its private DNS is not in effect here)."
            .into(),
    );
    let visibility = outputs.get("SQSQueueVisibilityTimeout").and_then(|v| v.parse::<u64>().ok());
    if let Some(seconds) = visibility.filter(|v| *v >= 1) {
        add(
            "reportsengine.visibility_timeout",
            toml_str(&format!("{seconds}s")),
            "The queue's VisibilityTimeout (output SQSQueueVisibilityTimeout). It cannot be read \
             at run time (no sqs:GetQueueAttributes): keep it equal to the queue's."
                .into(),
        );
    }
    if let Some(other) = outputs.get("UnrestrictedS3Bucket") {
        add(
            "doctor.unrestricted_bucket",
            toml_str(other),
            "The lab's other bucket (output UnrestrictedS3Bucket): `doctor --controls` checks \
             that writing to it is denied through the S3 gateway endpoint."
                .into(),
        );
    }
    set
}

/// The lines at the top: what wrote the file, from what, how it is read.
fn header(outputs: &StackOutputs) -> String {
    let stack = match outputs.stack_name.as_deref().or(outputs.get("StackName")) {
        Some(name) => format!("stack {name:?}"),
        None => "the stack".to_string(),
    };
    let status = outputs.stack_status.as_deref().map(|s| format!(" ({s})")).unwrap_or_default();
    format!(
        "# vpce-lab configuration, written by `configure` from the outputs of\n\
         # {stack}{status}.\n\
         # Read by salesapp and reportsengine from --config PATH, else $VPCE_LAB_CONFIG, else\n\
         # /etc/vpce-lab/config.toml. Any key can be overridden by VPCE_LAB_<SECTION>_<KEY>\n\
         # variables and by --set section.key=value; unknown keys are errors.\n\
         #\n\
         # Set here: what the stack gave, what the lab requires, and what was chosen with\n\
         # `configure --set`. Every other key is shown commented out at its default, so this\n\
         # host follows the defaults of the release it runs; uncomment a line to choose\n\
         # otherwise. Every key: docs/configuration.md\n\
         # (installed in /usr/share/doc/vpce-lab/docs/).\n\n"
    )
}

/// What a section says before its keys: the way the lab reaches S3 and SQS (with an example
/// of each endpoint unless the operator chose it), and the state the stack was deployed in.
fn preface(
    section: &str,
    outputs: &StackOutputs,
    region: &str,
    settings: &BTreeMap<String, Setting>,
) -> String {
    match section {
        "endpoints" => {
            let gateway = outputs.get("S3VPCGatewayEndpoint").unwrap_or("vpce-…");
            let interface = outputs.get("SQSVPCInterfaceEndpoint").unwrap_or("vpce-…");
            let example = |key: &str, line: String| {
                if settings.contains_key(&format!("endpoints.{key}")) {
                    String::new()
                } else {
                    line
                }
            };
            let s3 = example("s3", format!("# s3 = \"https://s3.{region}.amazonaws.com\"\n"));
            let sqs = example(
                "sqs",
                format!("# sqs = \"https://vpce-….sqs.{region}.vpce.amazonaws.com\"\n"),
            );
            format!(
                "# S3 goes through the *gateway* endpoint (output S3VPCGatewayEndpoint):\n\
                 #   {gateway}\n\
                 # a route in the private subnets' route tables, not a DNS name. So s3 stays unset: the\n\
                 # SDK's regional default resolves to public addresses even inside the VPC, and that is\n\
                 # expected; the packets still take the endpoint.\n\
                 {s3}\
                 # SQS goes through the *interface* endpoint with private DNS (output SQSVPCInterfaceEndpoint):\n\
                 #   {interface}\n\
                 # Inside the VPC sqs.{region}.amazonaws.com resolves to its private 10.x addresses, so sqs\n\
                 # stays unset. Without private DNS, pin the endpoint's own name, from\n\
                 #   aws ec2 describe-vpc-endpoints --vpc-endpoint-ids {interface} \\\n\
                 #     --query 'VpcEndpoints[0].DnsEntries[0].DnsName'\n\
                 {sqs}"
            )
        }
        "doctor" if outputs.get("LabState") == Some("starting") => {
            "# The stack was deployed in the workshop's starting state (LabState=starting): its\n\
             # endpoint policies are open and the bucket and queue have no policy, so `doctor\n\
             # --controls` reports the controls NOT in place until the workshop's steps are done.\n"
                .to_string()
        }
        _ => String::new(),
    }
}

/// One key's lines: set (with why), or commented out at its default (with its meaning).
fn key_text(key: &Key, setting: Option<&Setting>) -> String {
    if let Some(Setting { value, why }) = setting {
        return format!("{}{} = {value}\n", comment(why), key.name);
    }
    // Said, with the stack's names, by the section's preface.
    if key.section == "endpoints" && matches!(key.name, "s3" | "sqs") {
        return String::new();
    }
    let line = match (key.default, key.value) {
        (KeyDefault::Unset(example), ValueType::Table) => {
            return format!("[{}]\n{}# {example}\n", key.dotted(), comment(key.meaning));
        }
        (KeyDefault::Unset(example), _) | (KeyDefault::Is(example), _) => {
            format!("# {} = {example}\n", key.name)
        }
        (KeyDefault::Required, _) => format!("# {} = …\n", key.name),
    };
    format!("{}{line}", comment(key.meaning))
}

/// `text` as `# ` lines of at most [`WIDTH`] columns.
fn comment(text: &str) -> String {
    let mut out = String::new();
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() + 1 + word.len() > WIDTH && line.len() > 1 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// A TOML basic string (quotes and escapes).
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}
