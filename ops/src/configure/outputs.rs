//! The lab's stack outputs, as `aws cloudformation describe-stacks` prints them (or their
//! `Outputs` list, or a flat object), and the values the configuration cannot do without,
//! each with where it came from; every output that is missing or wrong is named at once.

use std::collections::BTreeMap;

use common::failure::{Error, Result};
use sales_domain::keys::is_valid_bucket_name;

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

/// Parses any of the accepted JSON shapes (see `ConfigureArgs::stack_outputs`).
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

/// What the configuration cannot do without, and where each came from.
pub struct StackValues {
    pub bucket: String,
    pub region: String,
    pub region_source: &'static str,
    pub queue_url: String,
    pub queue_source: String,
}

/// What is wrong with the outputs, collected so that one error names it all.
#[derive(Default)]
struct Findings {
    missing: Vec<String>,
    problems: Vec<String>,
}

impl StackValues {
    pub fn from(outputs: &StackOutputs, region_flag: Option<&str>) -> Result<StackValues> {
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
/// stack whose URL output failed to resolve (the local emulator's CloudFormation blanks every
/// output when one fails) may still name the queue and the account.
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
