//! `salesapp configure` / `reportsengine configure`: the configuration file (SPEC §3) written
//! from the lab's CloudFormation outputs.
//!
//! Operators already have the outputs (`aws cloudformation describe-stacks`), and copying a
//! bucket name or queue URL by hand is where typos come from. [`render`] is a pure function
//! from outputs to TOML text, so both JSON shapes, the original workshop's outputs and ours are
//! unit-tested without a file system; [`run`] is the thin shell (read, render, write 0600).
//!
//! It needs `RestrictedS3Bucket`, `SQSQueueURL` (or `SQSQueueName` + `AWSAccountID` + a region)
//! and a region (`--region`, else the queue URL's host, else `SQSQueueARN`), and reports every
//! one it did not find in one error (exit 78), so a wrong file is fixed in one go.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::failure::{Error, Result};
use sales_domain::keys::is_valid_bucket_name;

/// `configure`'s flags, shared by both binaries.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigureArgs {
    /// JSON of `aws cloudformation describe-stacks` (Stacks[0].Outputs is used), its
    /// `Outputs` list alone, or a flat {"OutputKey": "value"} object; "-" reads stdin
    #[arg(long, value_name = "FILE")]
    pub stack_outputs: PathBuf,
    /// Write the configuration here (atomically, mode 0600) instead of printing it
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Replace an existing file at --output
    #[arg(long)]
    pub force: bool,
    /// The stack's region, when neither SQSQueueURL nor SQSQueueARN tells it (it wins over both)
    #[arg(long)]
    pub region: Option<String>,
}

/// The outputs of one stack, by `OutputKey`, plus what the file said about the stack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackOutputs {
    pub outputs: BTreeMap<String, String>,
    /// `StackName`, when the file is describe-stacks output.
    pub stack_name: Option<String>,
    /// `StackStatus`, when the file is describe-stacks output.
    pub stack_status: Option<String>,
}

impl StackOutputs {
    /// A non-empty output's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.outputs.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}

/// Parses any of the accepted JSON shapes (see [`ConfigureArgs::stack_outputs`]).
pub fn parse_outputs(origin: &str, text: &str) -> Result<StackOutputs> {
    let bad = |why: String| Error::config(format!("{origin}: {why}"));
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let outputs_list = |list: &[serde_json::Value]| -> Result<BTreeMap<String, String>> {
        let mut map = BTreeMap::new();
        for (i, item) in list.iter().enumerate() {
            let key = item.get("OutputKey").and_then(|v| v.as_str());
            let value = item.get("OutputValue").and_then(|v| v.as_str());
            match (key, value) {
                (Some(k), Some(v)) => {
                    map.insert(k.to_string(), v.to_string());
                }
                // An output without a value is what a failed resolution looks like; keep the
                // key so the "missing" report can say it was there but empty.
                (Some(k), None) => {
                    map.insert(k.to_string(), String::new());
                }
                _ => return Err(bad(format!("Outputs[{i}] has no OutputKey"))),
            }
        }
        Ok(map)
    };
    match &value {
        serde_json::Value::Object(obj) if obj.contains_key("Stacks") => {
            let stacks =
                obj["Stacks"].as_array().ok_or_else(|| bad("\"Stacks\" is not a list".into()))?;
            let stack = stacks
                .first()
                .ok_or_else(|| bad("\"Stacks\" is empty: describe-stacks found no stack".into()))?;
            let list = match stack.get("Outputs") {
                Some(serde_json::Value::Array(list)) => list.as_slice(),
                Some(_) => return Err(bad("Stacks[0].Outputs is not a list".into())),
                None => &[],
            };
            Ok(StackOutputs {
                outputs: outputs_list(list)?,
                stack_name: stack.get("StackName").and_then(|v| v.as_str()).map(str::to_string),
                stack_status: stack.get("StackStatus").and_then(|v| v.as_str()).map(str::to_string),
            })
        }
        serde_json::Value::Object(obj) if obj.get("Outputs").is_some_and(|o| o.is_array()) => {
            let list = obj["Outputs"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            Ok(StackOutputs {
                outputs: outputs_list(list)?,
                stack_name: obj.get("StackName").and_then(|v| v.as_str()).map(str::to_string),
                stack_status: obj.get("StackStatus").and_then(|v| v.as_str()).map(str::to_string),
            })
        }
        serde_json::Value::Array(list) => {
            Ok(StackOutputs { outputs: outputs_list(list)?, ..StackOutputs::default() })
        }
        serde_json::Value::Object(obj) => {
            let mut map = BTreeMap::new();
            for (k, v) in obj {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    other => {
                        return Err(bad(format!("output {k:?} is not a string but {other}")));
                    }
                };
                map.insert(k.clone(), v);
            }
            Ok(StackOutputs { outputs: map, ..StackOutputs::default() })
        }
        _ => Err(bad(
            "expected describe-stacks output ({\"Stacks\": [...]}), an Outputs list, or a flat \
             {\"OutputKey\": \"value\"} object"
                .into(),
        )),
    }
}

/// The region named by an SQS queue URL's host: `sqs.REGION.amazonaws.com[.cn]`,
/// `REGION.queue.amazonaws.com` (legacy) or `vpce-….sqs.REGION.vpce.amazonaws.com`.
pub fn region_from_queue_url(url: &str) -> Option<String> {
    let host = common::config::url_host(url)?;
    let labels: Vec<&str> = host.split('.').collect();
    let region = match labels.as_slice() {
        ["sqs", region, "amazonaws", "com", ..] => *region,
        [region, "queue", "amazonaws", "com", ..] => *region,
        [_, "sqs", region, "vpce", "amazonaws", "com", ..] => *region,
        _ => return None,
    };
    looks_like_region(region).then(|| region.to_string())
}

/// The region of `arn:PARTITION:sqs:REGION:ACCOUNT:NAME`.
pub fn region_from_arn(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, _, region, ..] if looks_like_region(region) => Some(region.to_string()),
        _ => None,
    }
}

fn looks_like_region(s: &str) -> bool {
    s.len() >= 6
        && s.contains('-')
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && s.chars().last().is_some_and(|c| c.is_ascii_digit())
}

/// What [`render`] decided, for the summary printed after writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub toml: String,
    pub region: String,
    pub bucket: String,
    pub queue_url: String,
}

/// A TOML basic string (quotes and escapes).
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Turns the outputs into the configuration file's text. Pure: no clock, no environment.
/// Every needed output that is missing (or empty) is named in one [`Error::config`].
pub fn render(outputs: &StackOutputs, region_flag: Option<&str>) -> Result<Rendered> {
    let needed = StackValues::from(outputs, region_flag)?;
    let toml = config_text(outputs, &needed);
    let StackValues { bucket, region, queue_url, .. } = needed;
    Ok(Rendered { toml, region, bucket, queue_url })
}

/// What the configuration cannot do without, and where each came from.
struct StackValues {
    bucket: String,
    region: String,
    region_source: &'static str,
    queue_url: String,
    queue_source: String,
}

/// What is wrong with the outputs, collected so that one error names it all.
#[derive(Default)]
struct Findings {
    missing: Vec<String>,
    problems: Vec<String>,
}

impl StackValues {
    fn from(outputs: &StackOutputs, region_flag: Option<&str>) -> Result<StackValues> {
        let mut found = Findings::default();
        let bucket = outputs.get("RestrictedS3Bucket");
        match bucket {
            None => {
                found.missing.push("RestrictedS3Bucket (the restricted bucket → bucket)".into())
            }
            Some(b) if !is_valid_bucket_name(b) => {
                found.problems.push(format!("RestrictedS3Bucket {b:?} is not a valid bucket name"))
            }
            Some(_) => {}
        }
        let (region, region_source) = region_of(outputs, region_flag, &mut found);
        let queue = queue_url_of(outputs, region.as_deref(), &mut found);
        if region.is_none() && region_flag.is_none() {
            found.missing.push(
                "the region: neither SQSQueueURL nor SQSQueueARN names one (pass --region)".into(),
            );
        }
        match (bucket, region, queue) {
            (Some(bucket), Some(region), Some((queue_url, queue_source)))
                if found.missing.is_empty() && found.problems.is_empty() =>
            {
                Ok(StackValues {
                    bucket: bucket.to_string(),
                    region,
                    region_source,
                    queue_url,
                    queue_source,
                })
            }
            _ => Err(Error::config(found.message(outputs))),
        }
    }
}

impl Findings {
    fn message(&self, outputs: &StackOutputs) -> String {
        let mut msg = String::new();
        if outputs.outputs.is_empty() {
            msg.push_str(
                "the stack has no outputs at all: is it CREATE_COMPLETE? (on the local emulator \
                 one output that fails to resolve blanks them all)",
            );
        } else {
            if !self.missing.is_empty() {
                msg.push_str(&format!("missing stack output(s): {}", self.missing.join("; ")));
            }
            if !self.problems.is_empty() {
                if !msg.is_empty() {
                    msg.push_str(". ");
                }
                msg.push_str(&self.problems.join("; "));
            }
            let names: Vec<&str> = outputs.outputs.keys().map(String::as_str).collect();
            msg.push_str(&format!(". Outputs found: {}", names.join(", ")));
        }
        if let Some(status) = &outputs.stack_status {
            msg.push_str(&format!(" (stack status {status})"));
        }
        msg
    }
}

/// The region: `--region`, else the queue URL's host, else the queue ARN; and its source.
fn region_of(
    outputs: &StackOutputs,
    region_flag: Option<&str>,
    found: &mut Findings,
) -> (Option<String>, &'static str) {
    let url_region = outputs.get("SQSQueueURL").and_then(region_from_queue_url);
    let arn_region = outputs.get("SQSQueueARN").and_then(region_from_arn);
    if let (Some(u), Some(a)) = (&url_region, &arn_region) {
        if u != a {
            found.problems.push(format!("SQSQueueURL names region {u} but SQSQueueARN names {a}"));
        }
    }
    match (region_flag, url_region, arn_region) {
        (Some(r), _, _) if !looks_like_region(r) => {
            found.problems.push(format!("--region {r:?} is not a region name like \"us-east-1\""));
            (None, "")
        }
        (Some(r), _, _) => (Some(r.to_string()), "--region"),
        (None, Some(u), _) => (Some(u), "the SQSQueueURL output"),
        (None, None, Some(a)) => (Some(a), "the SQSQueueARN output"),
        (None, None, None) => (None, ""),
    }
}

/// The queue URL and where it came from. The original workshop always has SQSQueueURL; a
/// stack whose URL output failed to resolve (see EMULATOR.md) may still name the queue and
/// the account.
fn queue_url_of(
    outputs: &StackOutputs,
    region: Option<&str>,
    found: &mut Findings,
) -> Option<(String, String)> {
    let queue = match outputs.get("SQSQueueURL") {
        Some(url) => (url.to_string(), "the SQSQueueURL output".to_string()),
        None => match (outputs.get("SQSQueueName"), outputs.get("AWSAccountID"), region) {
            (Some(name), Some(account), Some(region)) => (
                format!("https://sqs.{region}.amazonaws.com/{account}/{name}"),
                "SQSQueueName, AWSAccountID and the region (no SQSQueueURL output)".to_string(),
            ),
            _ => {
                found.missing.push(
                    "SQSQueueURL (the queue URL → queue_url; or SQSQueueName with AWSAccountID)"
                        .into(),
                );
                return None;
            }
        },
    };
    let url = &queue.0;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        found.problems.push(format!("SQSQueueURL {url:?} is not an http(s) URL"));
    }
    if let Some(name) = outputs.get("SQSQueueName") {
        if url.trim_end_matches('/').rsplit('/').next() != Some(name) {
            found
                .problems
                .push(format!("SQSQueueURL {url:?} does not end with SQSQueueName {name:?}"));
        }
    }
    Some(queue)
}

/// The file's text: every key with its default and a comment saying why.
fn config_text(outputs: &StackOutputs, needed: &StackValues) -> String {
    let StackValues { bucket, region, region_source, queue_url, queue_source } = needed;
    let stack = match outputs.stack_name.as_deref().or(outputs.get("StackName")) {
        Some(name) => format!("stack {name:?}"),
        None => "the stack".to_string(),
    };
    let status = outputs.stack_status.as_deref().map(|s| format!(" ({s})")).unwrap_or_default();
    let gateway = outputs.get("S3VPCGatewayEndpoint").unwrap_or("vpce-…");
    let interface = outputs.get("SQSVPCInterfaceEndpoint").unwrap_or("vpce-…");
    let visibility = outputs
        .get("SQSQueueVisibilityTimeout")
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|v| *v >= 1)
        .unwrap_or(30);
    let visibility_note = if outputs.get("SQSQueueVisibilityTimeout").is_some() {
        "the SQSQueueVisibilityTimeout output"
    } else {
        "the queue's default; the original workshop's queue keeps it"
    };
    let starting = if outputs.get("LabState") == Some("starting") {
        "# The stack was deployed in the workshop's starting state (LabState=starting): its\n\
         # endpoint policies are open and the bucket and queue have no policy, so `doctor\n\
         # --controls` reports the controls NOT in place until the workshop's steps are done.\n"
    } else {
        ""
    };
    let doctor = match outputs.get("UnrestrictedS3Bucket") {
        Some(b) => format!(
            "# The lab's other bucket (output UnrestrictedS3Bucket): `doctor --controls` checks\n\
             # that writing to it is denied through the S3 gateway endpoint.\n\
             unrestricted_bucket = {}\n",
            toml_str(b)
        ),
        None => {
            "# `doctor --controls` checks that writes to the lab's other bucket are denied:\n\
                 # unrestricted_bucket = \"…-unrestrictedbucket\"   # output UnrestrictedS3Bucket\n"
                .to_string()
        }
    };

    format!(
        r#"# vpce-lab configuration (SPEC §3), written by `configure` from the outputs of
# {stack}{status}.
# Read by salesapp and reportsengine from --config PATH, else $VPCE_LAB_CONFIG, else
# /etc/vpce-lab/config.toml. Any key can be overridden by VPCE_LAB_<SECTION>_<KEY>
# variables and by --set section.key=value; unknown keys are errors.

# The stack's region (from {region_source}).
region = {region_q}
# The restricted bucket (output RestrictedS3Bucket): sales files, the ledger, reports.
bucket = {bucket_q}
# The queue (from {queue_source}). Configured, not looked up: the lab allows no
# sqs:GetQueueUrl.
queue_url = {queue_q}

[endpoints]
# S3 goes through the *gateway* endpoint (output S3VPCGatewayEndpoint):
#   {gateway}
# a route in the private subnets' route tables, not a DNS name. So s3 stays unset: the
# SDK's regional default resolves to public addresses even inside the VPC, and that is
# expected; the packets still take the endpoint.
# s3 = "https://s3.{region}.amazonaws.com"
# SQS goes through the *interface* endpoint with private DNS (output SQSVPCInterfaceEndpoint):
#   {interface}
# Inside the VPC sqs.{region}.amazonaws.com resolves to its private 10.x addresses, so sqs
# stays unset. Without private DNS, pin the endpoint's own name, from
#   aws ec2 describe-vpc-endpoints --vpc-endpoint-ids {interface} \
#     --query 'VpcEndpoints[0].DnsEntries[0].DnsName'
# sqs = "https://vpce-….sqs.{region}.vpce.amazonaws.com"
force_path_style = false       # true only for the local emulator
require_private_sqs = true     # refuse to start when SQS resolves to a public address
# give_up_after = "60s"        # upload/once: retry an unreachable service this long, then exit 69

[compensation]
commission_bps = 500           # default commission rate, basis points (5.00 %)
[compensation.overrides]       # per-rep rates in bps, by exact sales_rep
# "Ada Lovelace" = 700

[salesapp]
spool_dir = "/var/lib/salesapp/spool"   # `salesapp watch`: incoming/, done/, failed/

[reportsengine]
concurrency = 4                # messages processed at once
wait_time = "20s"              # ReceiveMessage long poll (at most 20 s)
# The queue's VisibilityTimeout (from {visibility_note}). It cannot be read at run
# time (no sqs:GetQueueAttributes): keep it equal to the queue's.
visibility_timeout = "{visibility}s"
shutdown_grace = "25s"         # in-flight work after SIGTERM; below systemd's 30 s stop timeout
max_object_size = "10GiB"      # larger sales objects are quarantined unread
read_connections = 8           # a large object is read over this many connections at once
read_part_size = "4MiB"        # … in ranges of this size (memory: connections × part size)
# input_prefix = "sales/"      # accept only messages naming keys under this prefix

[doctor]
{starting}{doctor}
[metrics]                      # Prometheus metrics of `run` and `watch` (README, "Metrics")
# listen = "127.0.0.1:9464"    # serve GET /metrics here; loopback or a private address only
# textfile = "/var/lib/node_exporter/textfile_collector/vpce-lab.prom"   # for node_exporter
# textfile_interval = "15s"    # how often the textfile is rewritten
"#,
        region_q = toml_str(region),
        bucket_q = toml_str(bucket),
        queue_q = toml_str(queue_url),
    )
}

/// Writes `text` to `path` with mode 0600 (it names the lab's resources; nothing secret, but
/// no reason for others to read it either): a temporary file in the same directory, synced,
/// then linked into place. Without `force` an existing file is never replaced, and the
/// check cannot race (`link` fails when the name exists); with it, `rename` replaces it.
pub fn write_private(path: &Path, text: &str, force: bool) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if !force && path.exists() {
        return Err(Error::config(format!(
            "{} already exists; pass --force to replace it",
            path.display()
        )));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.partial", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file =
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        if force {
            std::fs::rename(&tmp, path)?;
        } else {
            std::fs::hard_link(&tmp, path)?;
            std::fs::remove_file(&tmp)?;
        }
        // The rename/link is durable only once the directory is synced.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            return Err(Error::config(format!(
                "{} already exists; pass --force to replace it",
                path.display()
            )));
        }
        return Err(Error::write_io(path.display(), e));
    }
    Ok(())
}

/// The command: read FILE, render, then print or write. Returns what was rendered.
pub fn run(program: &str, args: &ConfigureArgs) -> Result<Rendered> {
    let origin = args.stack_outputs.display().to_string();
    let text = if origin == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| Error::read_io("stdin", e))?
    } else {
        std::fs::read_to_string(&args.stack_outputs).map_err(|e| {
            Error::config(format!(
                "cannot read stack outputs {origin}: {e} (save them with `aws cloudformation \
                 describe-stacks --stack-name STACK > outputs.json`)"
            ))
        })?
    };
    let outputs = parse_outputs(&origin, &text)?;
    let rendered = render(&outputs, args.region.as_deref()).map_err(|e| e.context(&origin))?;
    match &args.output {
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(rendered.toml.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| Error::write_io("stdout", e))?;
        }
        Some(path) => {
            write_private(path, &rendered.toml, args.force)?;
            eprintln!(
                "{program}: wrote {} (region {}, bucket {}, queue {}); check it with \
                 `{program} --config {} doctor`",
                path.display(),
                rendered.region,
                rendered.bucket,
                rendered.queue_url,
                path.display()
            );
        }
    }
    Ok(rendered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::config::Config;

    /// The shape `aws cloudformation describe-stacks` prints, with the original workshop's
    /// output names (a subset of ../shared/examples/stack-outputs.json plus its extras).
    const DESCRIBE_STACKS: &str = r#"{
      "Stacks": [{
        "StackName": "lab", "StackStatus": "CREATE_COMPLETE",
        "Outputs": [
          {"OutputKey": "StackName", "OutputValue": "lab", "Description": "Stack name."},
          {"OutputKey": "VPCID", "OutputValue": "vpc-0a1b2c3d4e5f60718"},
          {"OutputKey": "Cloud9InstanceURL", "OutputValue": "https://console.aws.amazon.com/cloud9"},
          {"OutputKey": "S3VPCGatewayEndpoint", "OutputValue": "vpce-0123456789abcdef0"},
          {"OutputKey": "UnrestrictedS3Bucket", "OutputValue": "111122223333-lab-us-east-1-unrestrictedbucket"},
          {"OutputKey": "RestrictedS3Bucket", "OutputValue": "111122223333-lab-us-east-1-restrictedbucket"},
          {"OutputKey": "SQSQueueName", "OutputValue": "lab-us-east-1-sqs-queue"},
          {"OutputKey": "SQSQueueARN", "OutputValue": "arn:aws:sqs:us-east-1:111122223333:lab-us-east-1-sqs-queue"},
          {"OutputKey": "SQSQueueURL", "OutputValue": "https://sqs.us-east-1.amazonaws.com/111122223333/lab-us-east-1-sqs-queue"},
          {"OutputKey": "SQSVPCInterfaceEndpoint", "OutputValue": "vpce-0fedcba9876543210"},
          {"OutputKey": "AWSAccountID", "OutputValue": "111122223333"},
          {"OutputKey": "keypairName", "OutputValue": "vpce.pem"}
        ]
      }]
    }"#;

    fn loads(text: &str) -> Config {
        Config::from_parts("configured.toml", text, &[], &[])
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn describe_stacks_of_the_original_workshop() {
        let outputs = parse_outputs("f.json", DESCRIBE_STACKS).unwrap();
        assert_eq!(outputs.stack_name.as_deref(), Some("lab"));
        let r = render(&outputs, None).unwrap();
        assert_eq!(r.region, "us-east-1");
        let c = loads(&r.toml);
        assert_eq!(c.region.as_deref(), Some("us-east-1"));
        assert_eq!(c.bucket, "111122223333-lab-us-east-1-restrictedbucket");
        assert_eq!(
            c.queue_url,
            "https://sqs.us-east-1.amazonaws.com/111122223333/lab-us-east-1-sqs-queue"
        );
        assert_eq!(c.endpoints.s3, None, "gateway endpoint: keep the regional default");
        assert_eq!(c.endpoints.sqs, None, "private DNS: keep the regional default");
        assert!(c.endpoints.require_private_sqs);
        assert!(!c.endpoints.force_path_style);
        assert_eq!(c.reportsengine.visibility_timeout, std::time::Duration::from_secs(30));
        assert_eq!(
            c.doctor.unrestricted_bucket.as_deref(),
            Some("111122223333-lab-us-east-1-unrestrictedbucket")
        );
        assert!(r.toml.contains("vpce-0123456789abcdef0"), "names the gateway endpoint");
        assert!(r.toml.contains("vpce-0fedcba9876543210"), "names the interface endpoint");
        assert!(r.toml.contains("stack \"lab\" (CREATE_COMPLETE)"));
    }

    #[test]
    fn the_shared_example_file_configures() {
        let text = include_str!("../../deploy/cloudformation/example-stack-outputs.json");
        let r = render(&parse_outputs("example", text).unwrap(), None).unwrap();
        loads(&r.toml);
    }

    #[test]
    fn flat_object_and_bare_list() {
        let flat = r#"{"RestrictedS3Bucket": "b-restrictedbucket",
                       "SQSQueueURL": "https://sqs.eu-west-1.amazonaws.com/1/q",
                       "SQSQueueVisibilityTimeout": "120", "Extra": 7}"#;
        let r = render(&parse_outputs("flat", flat).unwrap(), None).unwrap();
        let c = loads(&r.toml);
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.reportsengine.visibility_timeout, std::time::Duration::from_secs(120));
        assert_eq!(c.doctor.unrestricted_bucket, None);

        let list = r#"[{"OutputKey": "RestrictedS3Bucket", "OutputValue": "b-restrictedbucket"},
                       {"OutputKey": "SQSQueueURL", "OutputValue": "https://sqs.ap-south-1.amazonaws.com/1/q"}]"#;
        let r = render(&parse_outputs("list", list).unwrap(), None).unwrap();
        assert_eq!(loads(&r.toml).region.as_deref(), Some("ap-south-1"));
        assert!(!r.toml.contains("LabState"), "the end state says nothing about it");
    }

    #[test]
    fn the_starting_state_is_said_where_doctor_reads() {
        let outputs = r#"{"RestrictedS3Bucket": "b-restrictedbucket", "LabState": "starting",
                          "SQSQueueURL": "https://sqs.eu-west-1.amazonaws.com/1/q"}"#;
        let r = render(&parse_outputs("flat", outputs).unwrap(), None).unwrap();
        assert!(
            r.toml.contains("LabState=starting") && r.toml.contains("NOT in place"),
            "{}",
            r.toml
        );
        loads(&r.toml);
    }

    #[test]
    fn every_missing_output_is_named_at_once() {
        let flat = r#"{"VPCID": "vpc-1", "SQSQueueName": "q"}"#;
        let err = render(&parse_outputs("f", flat).unwrap(), None).unwrap_err();
        assert_eq!(err.exit_code(), 78);
        let msg = err.to_string();
        for needed in
            ["RestrictedS3Bucket", "SQSQueueURL", "region", "Outputs found: SQSQueueName, VPCID"]
        {
            assert!(msg.contains(needed), "{needed} not in: {msg}");
        }
        let empty = r#"{"Stacks": [{"StackName": "x", "StackStatus": "CREATE_COMPLETE"}]}"#;
        let msg = render(&parse_outputs("f", empty).unwrap(), None).unwrap_err().to_string();
        assert!(msg.contains("no outputs at all"), "{msg}");
        // An output present with an empty value counts as missing.
        let blank = r#"{"RestrictedS3Bucket": "", "SQSQueueURL": "https://sqs.us-east-1.amazonaws.com/1/q"}"#;
        let msg = render(&parse_outputs("f", blank).unwrap(), None).unwrap_err().to_string();
        assert!(msg.contains("RestrictedS3Bucket"), "{msg}");
    }

    #[test]
    fn region_sources_and_conflicts() {
        assert_eq!(
            region_from_queue_url("https://sqs.us-west-2.amazonaws.com/1/q").as_deref(),
            Some("us-west-2")
        );
        assert_eq!(
            region_from_queue_url("https://eu-central-1.queue.amazonaws.com/1/q").as_deref(),
            Some("eu-central-1")
        );
        assert_eq!(
            region_from_queue_url("https://vpce-0a-b1.sqs.us-east-2.vpce.amazonaws.com/1/q")
                .as_deref(),
            Some("us-east-2")
        );
        assert_eq!(region_from_queue_url("http://127.0.0.1:5000/123456789012/q"), None);
        assert_eq!(
            region_from_arn("arn:aws:sqs:ca-central-1:1:q").as_deref(),
            Some("ca-central-1")
        );
        // A loopback queue URL (the emulator): the ARN gives the region.
        let flat = r#"{"RestrictedS3Bucket": "b-restrictedbucket",
                       "SQSQueueURL": "http://127.0.0.1:5000/123456789012/q",
                       "SQSQueueARN": "arn:aws:sqs:us-east-1:123456789012:q"}"#;
        let outputs = parse_outputs("f", flat).unwrap();
        assert_eq!(render(&outputs, None).unwrap().region, "us-east-1");
        assert_eq!(render(&outputs, Some("eu-west-3")).unwrap().region, "eu-west-3");
        assert!(render(&outputs, Some("Not A Region")).is_err());
        let conflict = r#"{"RestrictedS3Bucket": "b-restrictedbucket",
                       "SQSQueueURL": "https://sqs.us-east-1.amazonaws.com/1/q",
                       "SQSQueueARN": "arn:aws:sqs:eu-west-1:1:q"}"#;
        let msg = render(&parse_outputs("f", conflict).unwrap(), None).unwrap_err().to_string();
        assert!(msg.contains("eu-west-1") && msg.contains("us-east-1"), "{msg}");
    }

    #[test]
    fn queue_url_from_name_and_account() {
        let flat = r#"{"RestrictedS3Bucket": "b-restrictedbucket", "SQSQueueName": "q",
                       "AWSAccountID": "111122223333",
                       "SQSQueueARN": "arn:aws:sqs:us-east-1:111122223333:q"}"#;
        let r = render(&parse_outputs("f", flat).unwrap(), None).unwrap();
        assert_eq!(r.queue_url, "https://sqs.us-east-1.amazonaws.com/111122223333/q");
    }

    #[test]
    fn not_outputs_at_all() {
        assert!(parse_outputs("f", "not json").is_err());
        assert!(parse_outputs("f", "42").is_err());
        assert!(parse_outputs("f", r#"{"Stacks": []}"#).is_err());
        assert!(parse_outputs("f", r#"[{"OutputValue": "x"}]"#).is_err());
        assert!(parse_outputs("f", r#"{"k": {"nested": 1}}"#).is_err());
    }

    #[test]
    fn strings_are_escaped() {
        let flat = r#"{"RestrictedS3Bucket": "b-restrictedbucket",
                       "SQSQueueURL": "https://sqs.us-east-1.amazonaws.com/1/q\"x"}"#;
        // A quote cannot break out of the TOML string; validation then judges the URL.
        let r = render(&parse_outputs("f", flat).unwrap(), None).unwrap();
        assert!(toml::from_str::<toml::Table>(&r.toml).is_ok());
    }

    #[test]
    fn writes_0600_and_refuses_to_overwrite() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("configure-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.toml");
        let _ = std::fs::remove_file(&path);
        write_private(&path, "a = 1\n", false).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let err = write_private(&path, "a = 2\n", false).unwrap_err();
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a = 1\n");
        write_private(&path, "a = 3\n", true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a = 3\n");
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
            .collect();
        assert!(leftovers.is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
