//! The local lab in the end-to-end tests: `deploy/local/lab.sh start` in a test's own state
//! directory (its own moto, the template deployed, the gateway in front), and each host of
//! the lab as a client sees it: the real AWS CLI, the Rust SDK, boto3, the daemons.
//!
//! ```no_run
//! let lab = e2e::lab::Lab::start("secured");
//! let run = lab.aws("salesapp", &["sqs", "list-queues"]);
//! assert!(run.stderr.contains("(AccessDenied)"));
//! ```
//!
//! Every command runs with a cleared environment, the host's credentials and endpoints, no
//! AWS configuration files, and `HTTPS_PROXY` pointing at a closed port of 127.0.0.1: nothing
//! reaches beyond loopback. Dropping the lab stops it (`lab.sh stop`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use aws_sdk_s3::config::Credentials;
use serde_json::Value;

use crate::checks::Objects;
use crate::{aws_cli_path, bin_dir, run, workspace_root, ObjectInfo, Run, TempDir};

/// A running lab, stopped on drop.
pub struct Lab {
    /// `lab.sh env --json`.
    pub env: Value,
    dir: TempDir,
    rt: tokio::runtime::Runtime,
}

/// What a host of the lab is, for a client.
#[derive(Debug, Clone)]
pub struct HostView {
    pub name: String,
    /// Everything but SQS.
    pub endpoint: String,
    /// SQS (black-holed while the interface endpoint's security group refuses the host).
    pub sqs: String,
    /// The instance metadata stand-in of an instance host.
    pub imds: Option<String>,
    /// The config file `salesapp configure` wrote for an instance host.
    pub config: Option<PathBuf>,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// The lab's scripts' directory.
fn scripts() -> PathBuf {
    workspace_root().join("deploy/local")
}

impl Lab {
    /// Starts a lab in `state` (`secured` or `starting`) in a directory of its own.
    pub fn start(state: &str) -> Lab {
        let dir = TempDir::new("lab");
        std::fs::create_dir_all(dir.0.join("work/home")).expect("mkdir work");
        let rt =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let mut lab = Lab { env: Value::Null, dir, rt };
        // Starting a lab (moto, the template, the gateway) takes seconds alone, and a minute or
        // more when every core is busy with the rest of the suite.
        let started = crate::run_within(
            &mut lab.script_command(&["start", "--state", state]),
            Duration::from_secs(300),
        );
        started.assert_ok();
        let env = lab.script(&["env", "--json"]);
        env.assert_ok();
        lab.env = serde_json::from_str(&env.stdout)
            .unwrap_or_else(|e| panic!("env --json: {e}:\n{}", env.stdout));
        lab
    }

    /// The lab's state directory (`LAB_STATE_DIR`).
    pub fn state_dir(&self) -> PathBuf {
        self.dir.0.join("state")
    }

    /// A directory for the test's files.
    pub fn dir(&self) -> PathBuf {
        self.dir.0.join("work")
    }

    /// `deploy/local/lab.sh ARGS` for this lab.
    pub fn script(&self, args: &[&str]) -> Run {
        run(&mut self.script_command(args))
    }

    fn script_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(scripts().join("lab.sh"));
        cmd.args(args)
            .env("LAB_STATE_DIR", self.state_dir())
            .env("LAB_BIN_DIR", bin_dir())
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null());
        cmd
    }

    /// A stack output (`RestrictedS3Bucket`, …).
    pub fn output(&self, name: &str) -> String {
        self.env["outputs"][name].as_str().unwrap_or_else(|| panic!("no output {name}")).to_string()
    }

    pub fn host(&self, name: &str) -> HostView {
        let h = &self.env["hosts"][name];
        let text = |v: &Value| v.as_str().map(str::to_string);
        let creds = &h["credentials"];
        HostView {
            name: name.to_string(),
            endpoint: text(&h["endpoint"]).unwrap_or_else(|| panic!("no host {name}")),
            sqs: text(&h["endpoints"]["sqs"]).expect("sqs endpoint"),
            imds: text(&h["imds"]),
            config: text(&h["config"]).map(PathBuf::from),
            access_key_id: text(&creds["AWS_ACCESS_KEY_ID"]).expect("key"),
            secret_access_key: text(&creds["AWS_SECRET_ACCESS_KEY"]).expect("secret"),
            session_token: text(&creds["AWS_SESSION_TOKEN"]),
        }
    }

    /// `cmd` with nothing inherited that could reach beyond loopback (module doc), in the
    /// test's directory.
    fn isolated(&self, cmd: Command) -> Command {
        let mut cmd = crate::isolated(cmd, &self.dir());
        cmd.env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("https_proxy", "http://127.0.0.1:9")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost");
        cmd
    }

    /// `cmd` with `host`'s credentials in the environment.
    fn with_keys(&self, host: &HostView, mut cmd: Command) -> Command {
        cmd.env("AWS_ACCESS_KEY_ID", &host.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &host.secret_access_key)
            .env("AWS_EC2_METADATA_DISABLED", "true");
        if let Some(t) = &host.session_token {
            cmd.env("AWS_SESSION_TOKEN", t);
        }
        cmd
    }

    /// The AWS CLI on `host`, as `eval "$(lab.sh env HOST)"` sets it up: the host's
    /// credentials, `--endpoint-url` of the host's SQS listener for `sqs` and of its endpoint
    /// otherwise.
    pub fn aws(&self, host: &str, args: &[&str]) -> Run {
        run(&mut self.aws_command(host, args))
    }

    /// [`Lab::aws`] that gives up fast: one attempt, 1 s to connect, 10 s to read.
    pub fn aws_quick(&self, host: &str, args: &[&str]) -> Run {
        let mut cmd = self.aws_command(host, args);
        cmd.args(["--cli-connect-timeout", "1", "--cli-read-timeout", "10"])
            .env("AWS_MAX_ATTEMPTS", "1");
        run(&mut cmd)
    }

    /// [`Lab::aws`] on `host` with the credentials of `keys_of` (another host's: e.g. the
    /// administrator's, `cloud9`, on an instance).
    pub fn aws_as(&self, host: &str, keys_of: &str, args: &[&str]) -> Run {
        run(&mut self.aws_command_as(host, keys_of, args))
    }

    fn aws_command(&self, host: &str, args: &[&str]) -> Command {
        self.aws_command_as(host, host, args)
    }

    fn aws_command_as(&self, host: &str, keys_of: &str, args: &[&str]) -> Command {
        let h = self.host(host);
        let endpoint = if args.first() == Some(&"sqs") { &h.sqs } else { &h.endpoint };
        let mut cmd =
            self.with_keys(&self.host(keys_of), self.isolated(Command::new(aws_cli_path())));
        cmd.arg("--endpoint-url").arg(endpoint).args(args);
        cmd
    }

    /// A Python script run by the emulator venv's python (boto3) on `host`: its credentials,
    /// `AWS_ENDPOINT_URL_S3` and `AWS_ENDPOINT_URL_SQS` set to the host's listeners.
    pub fn boto3(&self, host: &str, script: &str) -> Run {
        let h = self.host(host);
        let python = workspace_root().join(".venv-moto/bin/python");
        let mut cmd = self.with_keys(&h, self.isolated(Command::new(python)));
        cmd.arg("-c")
            .arg(script)
            .env("AWS_ENDPOINT_URL_S3", &h.endpoint)
            .env("AWS_ENDPOINT_URL_SQS", &h.sqs)
            .env("AWS_ENDPOINT_URL", &h.endpoint);
        run(&mut cmd)
    }

    /// A daemon's command on an instance host as on EC2: `--config` the host's config file,
    /// no keys in the environment, the instance role's credentials from the host's metadata
    /// stand-in; a 1 s long poll so that `reportsengine once` ends soon.
    pub fn daemon(&self, host: &str, binary: &str) -> Command {
        let h = self.host(host);
        let mut cmd = self.isolated(Command::new(crate::bin_path(binary)));
        cmd.arg("--config")
            .arg(h.config.as_ref().unwrap_or_else(|| panic!("{host} has no config")))
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", h.imds.as_ref().expect("an instance host"))
            .env("VPCE_LAB_REPORTSENGINE_WAIT_TIME", "1s");
        cmd
    }

    /// Rust SDK clients on `host` (its credentials; S3 at its endpoint, SQS at its SQS
    /// listener), one attempt each, 1 s to connect, 10 s per call.
    pub fn sdk(&self, host: &str) -> (aws_sdk_s3::Client, aws_sdk_sqs::Client) {
        let h = self.host(host);
        let creds = Credentials::new(
            &h.access_key_id,
            &h.secret_access_key,
            h.session_token.clone(),
            None,
            "lab",
        );
        let timeouts = aws_sdk_s3::config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(1))
            .operation_timeout(Duration::from_secs(10))
            .build();
        let retry = aws_sdk_s3::config::retry::RetryConfig::standard().with_max_attempts(1);
        crate::clients_at(&h.endpoint, &h.sqs, creds, timeouts, Some(retry))
    }

    /// Runs a future on the lab's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The decision log so far.
    pub fn decisions(&self) -> Vec<Value> {
        let text =
            std::fs::read_to_string(self.state_dir().join("decisions.jsonl")).unwrap_or_default();
        text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// The gateway's log (for failure messages).
    pub fn gateway_log(&self) -> String {
        std::fs::read_to_string(self.state_dir().join("gateway.log")).unwrap_or_default()
    }

    /// Writes a file into the test's directory.
    pub fn write_file(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.dir().join(name);
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    /// `salesapp generate` into the test's directory; the path and the bytes.
    pub fn generate(&self, date: &str, rows: u32, seed: u64) -> (PathBuf, Vec<u8>) {
        let path = self.dir().join(format!("sales-{date}-{seed}.csv"));
        let mut cmd = self.isolated(Command::new(crate::bin_path("salesapp")));
        cmd.args([
            "generate",
            "--date",
            date,
            "--rows",
            &rows.to_string(),
            "--seed",
            &seed.to_string(),
            "-o",
        ])
        .arg(&path);
        run(&mut cmd).assert_ok();
        let bytes = std::fs::read(&path).expect("generated");
        (path, bytes)
    }
}

/// The restricted bucket as the administrator reads it, from `cloud9` (over the internet:
/// the bucket policy denies only writes from outside the gateway endpoint).
impl Objects for Lab {
    fn get_object(&self, key: &str) -> Option<Vec<u8>> {
        let (s3, _) = self.sdk("cloud9");
        let bucket = self.output("RestrictedS3Bucket");
        self.block_on(async {
            match s3.get_object().bucket(&bucket).key(key).send().await {
                Ok(out) => Some(out.body.collect().await.expect("body").into_bytes().to_vec()),
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => None,
                Err(e) => panic!("GetObject {key}: {e:?}"),
            }
        })
    }

    fn head_object(&self, key: &str) -> Option<ObjectInfo> {
        let (s3, _) = self.sdk("cloud9");
        let bucket = self.output("RestrictedS3Bucket");
        self.block_on(async {
            match s3.head_object().bucket(&bucket).key(key).send().await {
                Ok(out) => Some(ObjectInfo {
                    size: out.content_length.unwrap_or(-1),
                    metadata: out.metadata.unwrap_or_default(),
                    sse: out.server_side_encryption.map(|s| s.as_str().to_string()),
                    etag: out.e_tag,
                }),
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => None,
                Err(e) => panic!("HeadObject {key}: {e:?}"),
            }
        })
    }

    fn list_keys(&self) -> Vec<String> {
        let (s3, _) = self.sdk("cloud9");
        let bucket = self.output("RestrictedS3Bucket");
        self.block_on(async {
            let mut keys = Vec::new();
            let mut pages = s3.list_objects_v2().bucket(&bucket).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.expect("ListObjectsV2");
                keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
            }
            keys
        })
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let stopped = self.script(&["stop"]);
        if !stopped.status.success() {
            eprintln!("lab stop failed:\n{}", stopped.output());
        }
        if std::thread::panicking() {
            eprintln!("gateway log:\n{}", self.gateway_log());
        }
    }
}

/// Asserts that a CLI run failed with `code` as the CLI reports it (`An error occurred (CODE)`).
#[track_caller]
pub fn assert_cli_error(run: &Run, code: &str) {
    assert!(!run.status.success(), "{} succeeded:\n{}", run.what, run.output());
    assert!(
        run.stderr.contains(&format!("({code})")),
        "{}: not {code}:\n{}",
        run.what,
        run.output()
    );
}

/// Asserts that a CLI run timed out connecting (a security group that drops the packets).
#[track_caller]
pub fn assert_cli_timeout(run: &Run) {
    assert!(!run.status.success(), "{} succeeded:\n{}", run.what, run.output());
    assert!(
        run.stderr.contains("Connect timeout"),
        "{}: not a connect timeout:\n{}",
        run.what,
        run.output()
    );
}
