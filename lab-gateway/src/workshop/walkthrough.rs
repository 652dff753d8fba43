//! One walk through the workshop's checks: each [`Check`] resolved to the command a person
//! types on its host, run, observed, and set beside what the workshop's rules expect from the
//! controls in place.
//!
//! # What it leaves in the lab
//! Before the checks, salesapp puts a three-row sales file (`walkthrough/sales.csv`, for
//! [`SALES_DATE`]) and `walkthrough/cloud9.csv` into the restricted bucket, through the
//! gateway endpoint as every state allows: the object the reports engine reads, and the one
//! Cloud9 deletes. The messages it sends are the workshop's by-hand message pointing at that
//! file, so a reports engine running in the lab reports that day rather than quarantine
//! anything. Its receives use a zero visibility timeout (a running engine is not kept waiting),
//! and it deletes only its own messages.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::checks::{Check, Expected, CHECKS};
use super::controls::Controls;
use super::files::LabFiles;
use super::observe::{Aws, Observed, Ran};

/// The day of the walkthrough's sales file: one no real day of the lab's is likely to be.
pub const SALES_DATE: &str = "2000-01-03";
/// Its rows (a valid sales file: the reports engine reports it).
pub const SALES_FILE: &str = "date,order_id,sales_rep,region,product,quantity,unit_price\n\
2000-01-03,WALK-1,Ada Lovelace,North,Lab widget,2,19.99\n\
2000-01-03,WALK-2,Grace Hopper,South,Lab gadget,1,5.00\n\
2000-01-03,WALK-3,Ada Lovelace,South,Lab widget,3,19.99\n";
/// The receipt handle the delete check uses when no message of its own was left.
const NO_HANDLE: &str = "vpce-lab-walkthrough-no-message-left";

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub n: usize,
    pub id: &'static str,
    pub host: &'static str,
    pub workshop: bool,
    pub title: &'static str,
    pub action: &'static str,
    /// As typed after `eval "$(deploy/local/lab.sh env HOST)"`.
    pub command: String,
    /// What ran, after `aws --endpoint-url …`.
    pub argv: Vec<String>,
    /// `None` when the rules cannot say (then `unknown` says why).
    pub expected: Option<Expected>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
    pub observed: Observed,
    /// The outcome is the expected one, and so is what refused it.
    #[serde(rename = "match")]
    pub matches: bool,
}

/// One walk.
#[derive(Debug, Clone, Serialize)]
pub struct Walkthrough {
    pub controls: Controls,
    /// What went wrong putting the walkthrough's objects in place, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup: Option<String>,
    pub checks: Vec<CheckResult>,
    pub matched: usize,
    pub total: usize,
    /// Every check as expected (and the setup went well).
    pub ok: bool,
}

/// The values the placeholders stand for.
#[derive(Default)]
struct Values {
    bucket: String,
    unrestricted: String,
    queue: String,
    message: String,
}

/// An argument with its placeholders replaced: by their values, or (`shown`) by what a person
/// types on a host set up by `lab.sh env` (`$LAB_BUCKET`, …), quoted for the shell.
fn resolve(arg: &str, values: &Values, handle: &str, shown: bool) -> String {
    let message = if shown {
        "{datafilelocation:s3://$LAB_BUCKET/walkthrough/sales.csv}"
    } else {
        &values.message
    };
    let pairs: [(&str, &str); 5] = if shown {
        [
            ("{message}", message),
            ("{bucket}", "$LAB_BUCKET"),
            ("{unrestricted}", "$LAB_UNRESTRICTED_BUCKET"),
            ("{queue}", "$LAB_QUEUE_URL"),
            ("{handle}", "$HANDLE"),
        ]
    } else {
        [
            ("{message}", message),
            ("{bucket}", &values.bucket),
            ("{unrestricted}", &values.unrestricted),
            ("{queue}", &values.queue),
            ("{handle}", handle),
        ]
    };
    let mut out = arg.to_string();
    for (placeholder, value) in pairs {
        out = out.replace(placeholder, value);
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || "$_-./:=@".contains(c);
    if shown && !out.chars().all(plain) {
        format!("\"{out}\"")
    } else {
        out
    }
}

/// The command of a check as a person types it.
pub fn shown(check: &Check) -> String {
    let values = Values::default();
    let args: Vec<String> = check.args.iter().map(|a| resolve(a, &values, "", true)).collect();
    format!("aws {}", args.join(" "))
}

/// The messages of a receive's answer that the walkthrough sent: their receipt handles.
fn own_handles(ran: &Ran, message: &str) -> Vec<String> {
    let answer: Value = serde_json::from_str(&ran.stdout).unwrap_or(Value::Null);
    answer["Messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["Body"].as_str() == Some(message))
        .filter_map(|m| m["ReceiptHandle"].as_str().map(str::to_string))
        .collect()
}

/// Writes the walkthrough's local files into its work directory.
fn prepare(work: &Path) -> Result<(), String> {
    let setup = work.join("setup");
    std::fs::create_dir_all(&setup).map_err(|e| format!("{}: {e}", setup.display()))?;
    for path in [work.join("sales.csv"), setup.join("sales.csv"), setup.join("cloud9.csv")] {
        std::fs::write(&path, SALES_FILE).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// Walks through every check once (see the module doc): the lanes of checks side by side.
pub fn walk(files: &LabFiles, aws: &Aws, controls: Controls) -> Result<Walkthrough, String> {
    prepare(&aws.work)?;
    let bucket = files.output("RestrictedS3Bucket")?.to_string();
    let values = Values {
        message: format!("{{datafilelocation:s3://{bucket}/walkthrough/sales.csv}}"),
        unrestricted: files.output("UnrestrictedS3Bucket")?.to_string(),
        queue: files.output("SQSQueueURL")?.to_string(),
        bucket,
    };
    let setup_args: Vec<String> =
        ["s3", "cp", "setup", &format!("s3://{}/walkthrough/", values.bucket), "--recursive"]
            .map(String::from)
            .to_vec();
    let setup = aws.run(&files.host("salesapp")?, &setup_args)?;
    let setup = (setup.status != Some(0)).then(|| {
        format!(
            "salesapp could not put the walkthrough's objects (aws {}): {}",
            setup_args.join(" "),
            setup.stderr.trim()
        )
    });

    let lanes: Vec<u8> = {
        let mut l: Vec<u8> = CHECKS.iter().map(|c| c.lane).collect();
        l.dedup();
        l
    };
    let ran: Vec<Result<Lane, String>> = std::thread::scope(|s| {
        let running: Vec<_> = lanes
            .iter()
            .map(|lane| s.spawn(|| run_lane(*lane, files, aws, &values, &controls)))
            .collect();
        running
            .into_iter()
            .map(|r| r.join().unwrap_or_else(|_| Err("a lane of checks panicked".into())))
            .collect()
    });
    let mut results = Vec::new();
    let mut leftovers = Vec::new();
    for lane in ran {
        let lane = lane?;
        results.extend(lane.results);
        leftovers.extend(lane.leftovers);
    }
    results.sort_by_key(|r| r.n);
    tidy(files, aws, &values.queue, &leftovers)?;
    let matched = results.iter().filter(|r| r.matches).count();
    let ok = matched == results.len() && setup.is_none();
    Ok(Walkthrough { controls, setup, total: results.len(), matched, ok, checks: results })
}

/// One lane's results, and the walkthrough's own messages it received and did not delete.
struct Lane {
    results: Vec<CheckResult>,
    leftovers: Vec<String>,
}

/// Runs the checks of one lane, in order (see [`Check::lane`]).
fn run_lane(
    lane: u8,
    files: &LabFiles,
    aws: &Aws,
    values: &Values,
    controls: &Controls,
) -> Result<Lane, String> {
    let mut results = Vec::new();
    let mut handles: Vec<String> = Vec::new();
    let mut engine_handles: Vec<String> = Vec::new();
    for (i, check) in CHECKS.iter().enumerate().filter(|(_, c)| c.lane == lane) {
        let handle = engine_handles.first().or(handles.first()).map_or(NO_HANDLE, String::as_str);
        let argv: Vec<String> =
            check.args.iter().map(|a| resolve(a, values, handle, false)).collect();
        let ran = aws.run(&files.host(check.host)?, &argv)?;
        if check.action == "sqs:ReceiveMessage" {
            let own = own_handles(&ran, &values.message);
            if check.host == "reportsengine" {
                engine_handles = own.clone();
            }
            handles.extend(own);
        }
        let observed = aws.observe(check.host, &ran);
        let (expected, unknown) = match (check.rule)(controls) {
            Ok(e) => (Some(e), None),
            Err(u) => (None, Some(u.0)),
        };
        let matches = expected.as_ref().is_some_and(|e| {
            e.outcome == observed.outcome && (e.by.is_none() || e.by == observed.by)
        });
        results.push(CheckResult {
            n: i + 1,
            id: check.id,
            host: check.host,
            workshop: check.workshop,
            title: check.title,
            action: check.action,
            command: shown(check),
            argv,
            expected,
            unknown,
            observed,
            matches,
        });
    }
    let leftovers = engine_handles.get(1..).unwrap_or_default().to_vec();
    Ok(Lane { results, leftovers })
}

/// Deletes the walkthrough's other messages the reports engine received (no engine ran to
/// report them), so that walks do not pile messages up on the queue.
fn tidy(files: &LabFiles, aws: &Aws, queue: &str, handles: &[String]) -> Result<(), String> {
    if handles.is_empty() {
        return Ok(());
    }
    let entries: Vec<Value> = handles
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, h)| serde_json::json!({"Id": i.to_string(), "ReceiptHandle": h}))
        .collect();
    let args = ["sqs", "delete-message-batch", "--queue-url", queue, "--entries"]
        .map(String::from)
        .into_iter()
        .chain([Value::Array(entries).to_string()])
        .collect::<Vec<_>>();
    aws.run(&files.host("reportsengine")?, &args).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workshop::checks::check;

    #[test]
    fn commands_as_a_person_types_them() {
        let shown_of = |id| shown(check(id).expect("a check"));
        assert_eq!(
            shown_of("cloud9-sqs-send"),
            "aws sqs send-message --queue-url $LAB_QUEUE_URL --message-body \
             \"{datafilelocation:s3://$LAB_BUCKET/walkthrough/sales.csv}\""
        );
        assert_eq!(
            shown_of("salesapp-s3-delete-restricted"),
            "aws s3 rm s3://$LAB_BUCKET/walkthrough/salesapp.csv"
        );
        let values = Values {
            bucket: "b".into(),
            unrestricted: "u".into(),
            queue: "https://q".into(),
            message: "{datafilelocation:s3://b/walkthrough/sales.csv}".into(),
        };
        let check = check("reportsengine-sqs-delete").expect("a check");
        let argv: Vec<String> =
            check.args.iter().map(|a| resolve(a, &values, "h+/=", false)).collect();
        assert_eq!(
            argv,
            ["sqs", "delete-message", "--queue-url", "https://q", "--receipt-handle", "h+/="]
        );
    }

    #[test]
    fn the_walkthroughs_sales_file_is_one_day() {
        let rows: Vec<&str> = SALES_FILE.lines().skip(1).collect();
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|r| r.starts_with(SALES_DATE)));
    }
}
