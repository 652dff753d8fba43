//! Running an `aws` command on a host of the lab, and what it shows: the outcome the CLI
//! reports, and which control decided it, from the gateway's decision log.
//!
//! Each command gets its own `AWS_EXECUTION_ENV` (the CLI puts it in its `User-Agent` as
//! `exec-env/…`, and the gateway logs the `User-Agent` with each decision), so its decisions
//! are told apart from those on the daemons' requests from the same host with the same role.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::checks::{Decider, Outcome};
use super::files::HostEnv;
use crate::record::{self, Record};

/// How long one command may take: far more than any the walkthrough runs needs (each
/// connection gives up after [`CONNECT_TIMEOUT`], one attempt).
const COMMAND_LIMIT: Duration = Duration::from_secs(120);
/// The CLI's connect timeout (`--cli-connect-timeout`): a host the endpoint's security group
/// does not admit waits this long, once.
pub const CONNECT_TIMEOUT: &str = "2";

/// The AWS CLI, run on the lab's hosts.
pub struct Aws {
    program: PathBuf,
    /// Where the commands run (their local files).
    pub work: PathBuf,
    log: PathBuf,
    run: String,
    count: AtomicU32,
}

/// One command's run.
#[derive(Debug, Clone)]
pub struct Ran {
    /// `None`: it did not end within [`COMMAND_LIMIT`] and was killed.
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The gateway's decisions on its requests.
    pub records: Vec<Record>,
}

/// What a check showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observed {
    pub outcome: Outcome,
    /// What refused it, from the decision log.
    pub by: Option<Decider>,
    /// The refusing statement's `Sid`, for an explicit Deny.
    pub statement: Option<String>,
    /// The deciding record in words: the policy that allowed it, or what refused it and why.
    pub decided: String,
    /// What the CLI said (its error), when it said something worth knowing.
    pub detail: String,
}

impl Aws {
    pub fn new(program: PathBuf, work: PathBuf, log: PathBuf) -> Aws {
        let run = format!("vpce-lab-walkthrough-{}", std::process::id());
        Aws { program, work, log, run, count: AtomicU32::new(0) }
    }

    /// `aws ARGS` on `host` (from any thread), as `eval "$(lab.sh env HOST)"` sets it up: the host's
    /// credentials and endpoints (its SQS listener for `sqs`), no AWS configuration files,
    /// one attempt, a short connect timeout, and a proxy that is not there for anything that
    /// would leave 127.0.0.1.
    pub fn run(&self, host: &HostEnv, args: &[String]) -> Result<Ran, String> {
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let tag = format!("{}-{n}", self.run);
        let endpoint = if args.first().map(String::as_str) == Some("sqs") {
            &host.sqs
        } else {
            &host.endpoint
        };
        let (out, err) =
            (self.work.join(format!(".aws-{n}.out")), self.work.join(format!(".aws-{n}.err")));
        let file = |p: &Path| std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()));
        let mut cmd = Command::new(&self.program);
        cmd.arg("--endpoint-url")
            .arg(endpoint)
            .args(["--cli-connect-timeout", CONNECT_TIMEOUT, "--cli-read-timeout", "30"])
            .args(args)
            .current_dir(&self.work)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(file(&out)?)
            .stderr(file(&err)?);
        for keep in ["PATH", "HOME", "TMPDIR", "LANG", "LC_ALL"] {
            if let Some(v) = std::env::var_os(keep) {
                cmd.env(keep, v);
            }
        }
        let c = &host.credentials;
        cmd.env("AWS_ACCESS_KEY_ID", &c.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &c.secret_access_key)
            .env("AWS_REGION", &host.region)
            .env("AWS_DEFAULT_REGION", &host.region)
            .env("AWS_CONFIG_FILE", self.work.join(".no-aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.work.join(".no-aws-credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("AWS_EXECUTION_ENV", &tag)
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("NO_PROXY", "127.0.0.1,localhost");
        if let Some(token) = &c.session_token {
            cmd.env("AWS_SESSION_TOKEN", token);
        }
        let offset = std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        let mut child = cmd.spawn().map_err(|e| {
            format!("cannot run {}: {e} (is the AWS CLI installed?)", self.program.display())
        })?;
        let deadline = Instant::now() + COMMAND_LIMIT;
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s.code(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
        };
        let read = |p: &Path| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            let _ = std::fs::remove_file(p);
            text
        };
        let marker = format!("exec-env/{tag}");
        let records = record::since(&self.log, offset)
            .map(|(records, _)| records)
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.agent.as_deref().is_some_and(|a| a.contains(&marker)))
            .collect();
        Ok(Ran { status, stdout: read(&out), stderr: read(&err), records })
    }

    /// What a run showed on `host` (see the module doc).
    pub fn observe(&self, host: &str, ran: &Ran) -> Observed {
        let (outcome, detail) = classify(ran);
        let deciding_record = ran.records.iter().find(|r| r.is_refusal()).or(ran.records.last());
        let statement = deciding_record.and_then(|r| r.statement.clone());
        let (by, decided) = match deciding_record {
            Some(r) => deciding(r),
            None if outcome == Outcome::TimesOut => self.security_group(host),
            None => (None, "no decision of the gateway on it".into()),
        };
        Observed { outcome, by, statement, decided, detail }
    }

    /// A connection that was never accepted has no decision of its own: the last change of
    /// the host's SQS path says why.
    fn security_group(&self, host: &str) -> (Option<Decider>, String) {
        let last = record::tail(&self.log).ok().and_then(|records| {
            records.into_iter().rev().find(|r| r.host == host && r.operation == "connect")
        });
        match last {
            Some(r) if r.is_refusal() => deciding(&r),
            _ => (None, "no answer, and no refusal of the security group logged".into()),
        }
    }
}

/// A decision record as the walkthrough shows it.
fn deciding(r: &Record) -> (Option<Decider>, String) {
    if !r.is_refusal() {
        return (None, r.allowed_by.clone().unwrap_or_else(|| "?".into()));
    }
    let by = r.policy.as_deref().and_then(Decider::from_record);
    let what = by.map_or("refused", Decider::words);
    let reason = r.reason.clone().unwrap_or_default();
    match &r.statement {
        Some(sid) => (by, format!("{what}, statement {sid}: {reason}")),
        None => (by, format!("{what}: {reason}")),
    }
}

/// The outcome the CLI reports, and its message when that is not plain success.
fn classify(ran: &Ran) -> (Outcome, String) {
    let said =
        ran.stderr.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or_default().to_string();
    let has = |s: &str| ran.stderr.contains(s);
    let outcome = match ran.status {
        None => return (Outcome::TimesOut, "the command did not end and was stopped".into()),
        Some(0) => return (Outcome::Allowed, String::new()),
        Some(_) if has("Connect timeout") || has("Read timeout") => Outcome::TimesOut,
        Some(_) if has("(AccessDenied)") || has("(AccessDeniedException)") => Outcome::AccessDenied,
        Some(_) if has("(403)") => Outcome::Forbidden,
        Some(_) if has("(404)") || has("(NoSuchKey)") => Outcome::NotFound,
        // The request passed every control; SQS itself found no such receipt: the message was
        // gone (a running reports engine takes the walkthrough's messages first).
        Some(_) if has("(ReceiptHandleIsInvalid)") => {
            return (
                Outcome::Allowed,
                "SQS answered ReceiptHandleIsInvalid: no message of the walkthrough's was left to \
                 delete (a running reports engine takes them first)"
                    .into(),
            )
        }
        Some(_) => Outcome::Error,
    };
    (outcome, said)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ran(status: Option<i32>, stderr: &str) -> Ran {
        Ran { status, stdout: String::new(), stderr: stderr.into(), records: Vec::new() }
    }

    #[test]
    fn the_clis_words_as_outcomes() {
        assert_eq!(classify(&ran(Some(0), "")).0, Outcome::Allowed);
        let denied = "upload failed: ./sales.csv to s3://b/k An error occurred (AccessDenied) when calling the PutObject operation: Access Denied";
        assert_eq!(classify(&ran(Some(1), denied)), (Outcome::AccessDenied, denied.into()));
        let head =
            "fatal error: An error occurred (403) when calling the HeadObject operation: Forbidden";
        assert_eq!(classify(&ran(Some(1), head)).0, Outcome::Forbidden);
        let timeout = "\nConnect timeout on endpoint URL: \"http://127.0.0.1:1/\"\n";
        assert_eq!(classify(&ran(Some(255), timeout)).0, Outcome::TimesOut);
        let gone =
            "An error occurred (ReceiptHandleIsInvalid) when calling the DeleteMessage operation";
        let (outcome, detail) = classify(&ran(Some(255), gone));
        assert_eq!(outcome, Outcome::Allowed);
        assert!(detail.contains("ReceiptHandleIsInvalid"), "{detail}");
        assert_eq!(classify(&ran(Some(2), "usage: aws")).0, Outcome::Error);
        assert_eq!(classify(&ran(None, "")).0, Outcome::TimesOut);
    }
}
