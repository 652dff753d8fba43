//! End-to-end test harness: the real `salesapp` and `reportsengine` binaries against a real
//! moto server on 127.0.0.1.
//!
//! # Running
//! `deploy/local/test.sh` (creates `<repo>/.venv-moto` with `moto[server]==5.2.5`, builds the
//! binaries, exports `MOTO_SERVER`, runs `cargo test --workspace`). By hand, after one run of
//! it: `cargo build --workspace --bins && cargo test -p e2e`.
//!
//! # API
//! - [`Emulator::start`] / [`Emulator::start_with`]: spawns the test's *own* `moto_server`
//!   (`$MOTO_SERVER`, else `<workspace>/.venv-moto/bin/moto_server`) on a port of 127.0.0.1
//!   chosen by the OS, waits until it answers, creates a uniquely named bucket (default
//!   encryption AES256) and queue (VisibilityTimeout 30), writes `config.toml` (docs/configuration.md, with
//!   `wait_time = "1s"`) into its own temporary directory. Dropping it kills the server by PID
//!   and waits for it, then removes the directory (kept, and its path printed, when the test
//!   panicked or `E2E_KEEP=1`). Each test owns its emulator: tests run in parallel safely.
//!   Create it in the test's own thread (the server also dies with the thread that started
//!   it, so a killed test run leaves no server behind).
//! - Accessors: [`Emulator::s3`], [`Emulator::sqs`] (SDK clients, path style, test/test,
//!   us-east-1), [`Emulator::bucket`], [`Emulator::queue_url`], [`Emulator::config_path`],
//!   [`Emulator::port`], [`Emulator::endpoint`], [`Emulator::dir`], [`Emulator::block_on`]
//!   (run any SDK future: tests are plain synchronous `#[test]`s).
//! - Test-side helpers (the *test* may call any API; only the daemons are restricted):
//!   [`Emulator::get_object`] (None on 404), [`Emulator::head_object`], [`Emulator::put_object`],
//!   [`Emulator::list_keys`], [`Emulator::queue_messages_visible`], [`Emulator::queue_counts`],
//!   [`Emulator::peek_messages`], [`Emulator::drain_messages`], [`Emulator::send_raw`],
//!   [`Emulator::write_file`], [`Emulator::start_recording`] /
//!   [`Emulator::stop_recording`] (moto's recorder: which API actions the binaries called).
//! - IAM enforcement ([`iam`]): [`Emulator::create_user`] (an IAM user with an inline
//!   identity policy, e.g. [`iam::lab_policy`]), then [`Emulator::enforce_iam`] (policies
//!   enforced from then on; the harness signs as an admin user); [`iam::Keys::apply`] runs a
//!   binary as a user.
//! - Fault injection: [`Emulator::pid`], [`Emulator::pause`] / [`Emulator::resume`]
//!   (SIGSTOP/SIGCONT of the server: an outage), [`Emulator::set_queue_visibility`] (short
//!   visibility timeouts for redelivery tests); [`daemon::Daemon`] runs a binary in the
//!   background (logs readable while it runs, signals by PID, killed on drop) and
//!   [`daemon::wait_until`] polls with a deadline; [`journal::JournalSocket`] is a journald
//!   stand-in (`--journal-socket`) that parses the native protocol.
//! - [`salesapp`] / [`reportsengine`]: a `std::process::Command` for the workspace's built
//!   binary with `--config` and the fake AWS credentials set and nothing inherited that could
//!   reach real AWS; [`run`] runs one with a timeout and captures its output.
//! - [`reference`]: an independent computation of the expected numbers; [`checks`]: the
//!   assertions on the objects the pipeline writes.
//! - [`browser`]: headless Chromium on `file://` pages: the DOM it built, what the page
//!   logged, screenshots.
//! - [`metrics`]: scrape a daemon's `/metrics` and read it with the Prometheus project's
//!   own parser (`$E2E_PROM_PYTHON`, else `<workspace>/.venv-prom/bin/python`).
//! - [`lab`]: the local lab (`deploy/local/lab.sh`): the template deployed to its own moto,
//!   behind the lab's gateway; each host's CLI, SDK clients and daemons, the decision log.
#![forbid(unsafe_code)]

pub mod browser;
pub mod checks;
pub mod code_shape;
pub mod cutter;
pub mod daemon;
pub mod iam;
pub mod journal;
pub mod lab;
pub mod metrics;
pub mod reference;
pub mod scenario;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use aws_sdk_s3;
pub use aws_sdk_sqs;

use aws_sdk_s3::config::{AppName, BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use aws_sdk_sqs::types::QueueAttributeName;

/// The harness's own requests carry this in their User-Agent (`app/e2e-harness`), so that a
/// recording of the server's traffic can tell them from the daemons' requests.
pub const HARNESS_APP_NAME: &str = "e2e-harness";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Settings of the emulator's `config.toml` that tests may vary.
#[derive(Debug, Clone)]
pub struct Options {
    /// `[compensation] commission_bps` (default 500).
    pub commission_bps: u32,
    /// `[compensation.overrides]`, per-rep bps.
    pub overrides: BTreeMap<String, u32>,
}

impl Default for Options {
    fn default() -> Self {
        Options { commission_bps: 500, overrides: BTreeMap::new() }
    }
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// `$MOTO_SERVER`, else `<workspace>/.venv-moto/bin/moto_server`; panics with a hint if absent.
pub fn moto_server_path() -> PathBuf {
    let p = match std::env::var_os("MOTO_SERVER") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => workspace_root().join(".venv-moto/bin/moto_server"),
    };
    if !p.is_file() {
        panic!(
            "moto_server not found at {}: run `deploy/local/test.sh` once (it creates \
             <repo>/.venv-moto with moto[server]==5.2.5), or set MOTO_SERVER",
            p.display()
        );
    }
    p
}

/// A temporary directory removed on drop (kept when the thread panics or `E2E_KEEP=1`).
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!("e2e-{tag}-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("E2E_KEEP").is_some_and(|v| v == "1") {
            eprintln!("e2e: kept {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The moto child process: killed (SIGKILL, by PID) and reaped on drop.
struct MotoProcess {
    child: Child,
    log: PathBuf,
}

impl MotoProcess {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for MotoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sets PR_SET_PDEATHSIG (SIGKILL) then execs moto_server, so that the server never outlives
/// the test thread that started it (even when the test binary is killed).
const LAUNCHER: &str = r#"
import ctypes, os, signal, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
except Exception:
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)
os.execv(sys.argv[2], sys.argv[2:])
"#;

fn spawn_moto(dir: &Path) -> (MotoProcess, u16) {
    let server = moto_server_path();
    let log = dir.join("moto.log");
    let python = server.with_file_name("python");
    let mut cmd = if python.is_file() {
        let mut c = Command::new(&python);
        c.arg("-c").arg(LAUNCHER).arg(std::process::id().to_string()).arg(&server);
        c
    } else {
        Command::new(&server)
    };
    // Port 0: the OS picks a free port and moto prints it; no race between parallel tests.
    cmd.args(["-H", "127.0.0.1", "-p", "0"]).current_dir(dir).stdin(Stdio::null());
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"] {
        cmd.env_remove(var);
    }
    let out = std::fs::File::create(&log).expect("create moto.log");
    cmd.stdout(out.try_clone().expect("dup log")).stderr(out);
    let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {}: {e}", server.display()));
    let mut proc = MotoProcess { child, log };
    let deadline = Instant::now() + Duration::from_secs(60);
    let marker = "Running on http://127.0.0.1:";
    let port = loop {
        let text = proc.log_text();
        if let Some(i) = text.find(marker) {
            let digits: String =
                text[i + marker.len()..].chars().take_while(char::is_ascii_digit).collect();
            if let Ok(port) = digits.parse::<u16>() {
                break port;
            }
        }
        if let Ok(Some(status)) = proc.child.try_wait() {
            panic!("moto_server exited ({status}) before listening; log:\n{}", proc.log_text());
        }
        if Instant::now() > deadline {
            panic!("moto_server did not start within 60 s; log:\n{}", proc.log_text());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    while !http_answers(port) {
        if let Ok(Some(status)) = proc.child.try_wait() {
            panic!("moto_server exited ({status}); log:\n{}", proc.log_text());
        }
        if Instant::now() > deadline {
            panic!("moto_server on port {port} does not answer; log:\n{}", proc.log_text());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (proc, port)
}

fn http_answers(port: u16) -> bool {
    let Ok(mut s) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2))
    else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!("GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 12];
    matches!(s.read(&mut buf), Ok(n) if n >= 9 && buf.starts_with(b"HTTP/1."))
}

/// One moto server with one bucket and one queue, owned by one test.
pub struct Emulator {
    // Field order is drop order: clients, then the server, then the directory, then the runtime.
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    bucket: String,
    queue_url: String,
    port: u16,
    config_path: PathBuf,
    options: Options,
    process: MotoProcess,
    dir: TempDir,
    rt: tokio::runtime::Runtime,
}

/// S3 and SQS clients for the harness's own requests against `endpoint` (path style, a
/// 30 s operation timeout, tagged [`HARNESS_APP_NAME`] so the recorder can leave them out).
pub fn harness_clients(
    endpoint: &str,
    creds: Credentials,
) -> (aws_sdk_s3::Client, aws_sdk_sqs::Client) {
    let timeouts = aws_sdk_s3::config::timeout::TimeoutConfig::builder()
        .operation_timeout(Duration::from_secs(30))
        .build();
    clients_at(endpoint, endpoint, creds, timeouts, None)
}

/// S3 (path style) and SQS clients at their own endpoints, tagged [`HARNESS_APP_NAME`], with
/// these timeouts and, when given, this retry configuration.
pub fn clients_at(
    s3_endpoint: &str,
    sqs_endpoint: &str,
    creds: Credentials,
    timeouts: aws_sdk_s3::config::timeout::TimeoutConfig,
    retry: Option<aws_sdk_s3::config::retry::RetryConfig>,
) -> (aws_sdk_s3::Client, aws_sdk_sqs::Client) {
    let mut s3 = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(creds.clone())
        .endpoint_url(s3_endpoint)
        .force_path_style(true)
        .app_name(AppName::new(HARNESS_APP_NAME).expect("app name"))
        .timeout_config(timeouts.clone());
    let mut sqs = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .endpoint_url(sqs_endpoint)
        .app_name(aws_sdk_sqs::config::AppName::new(HARNESS_APP_NAME).expect("app name"))
        .timeout_config(timeouts);
    if let Some(retry) = retry {
        s3 = s3.retry_config(retry.clone());
        sqs = sqs.retry_config(retry);
    }
    (aws_sdk_s3::Client::from_conf(s3.build()), aws_sdk_sqs::Client::from_conf(sqs.build()))
}

impl Emulator {
    /// Starts an emulator with the default [`Options`] (commission 500 bps, no overrides).
    pub fn start() -> Emulator {
        Emulator::start_with(Options::default())
    }

    /// Starts an emulator whose `config.toml` carries `options`.
    pub fn start_with(options: Options) -> Emulator {
        let dir = TempDir::new("emu");
        let (process, port) = spawn_moto(&dir.0);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let endpoint = format!("http://127.0.0.1:{port}");
        let creds = Credentials::new("test", "test", None, None, "e2e-static");
        let (s3, sqs) = harness_clients(&endpoint, creds);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let stem = format!("e2e-{}-{n}", std::process::id());
        let bucket = format!("{stem}-restrictedbucket");
        let queue = format!("{stem}-sqs-queue");
        let queue_url = rt.block_on(async {
            s3.create_bucket().bucket(&bucket).send().await.expect("CreateBucket");
            let by_default = ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::Aes256)
                .build()
                .expect("sse default");
            let rule = ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(by_default)
                .build();
            let conf =
                ServerSideEncryptionConfiguration::builder().rules(rule).build().expect("sse conf");
            s3.put_bucket_encryption()
                .bucket(&bucket)
                .server_side_encryption_configuration(conf)
                .send()
                .await
                .expect("PutBucketEncryption");
            sqs.create_queue()
                .queue_name(&queue)
                .attributes(QueueAttributeName::VisibilityTimeout, "30")
                .send()
                .await
                .expect("CreateQueue")
                .queue_url
                .expect("queue url")
        });
        let config_path = dir.0.join("config.toml");
        std::fs::write(&config_path, config_toml(port, &bucket, &queue_url, &dir.0, &options))
            .expect("write config.toml");
        // Whatever the umask: the binaries refuse a configuration others may write.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&config_path, std::fs::Permissions::from_mode(0o600))
                .expect("chmod config.toml");
        }
        Emulator { s3, sqs, bucket, queue_url, port, config_path, options, process, dir, rt }
    }

    pub fn s3(&self) -> &aws_sdk_s3::Client {
        &self.s3
    }
    pub fn sqs(&self) -> &aws_sdk_sqs::Client {
        &self.sqs
    }
    pub fn bucket(&self) -> &str {
        &self.bucket
    }
    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    /// The emulator's own temporary directory (config.toml, moto.log, spool/, test files).
    pub fn dir(&self) -> &Path {
        &self.dir.0
    }
    pub fn options(&self) -> &Options {
        &self.options
    }
    /// The server's log so far (for failure messages).
    pub fn server_log(&self) -> String {
        self.process.log_text()
    }

    /// The moto server's PID (the launcher execs it, so this is the server itself), for
    /// fault injection: SIGSTOP/SIGCONT make an outage ([`Emulator::pause`]).
    pub fn pid(&self) -> u32 {
        self.process.child.id()
    }

    /// SIGSTOP the server: connections are accepted by the kernel but nothing answers, as
    /// with a stalled endpoint. [`Emulator::resume`] ends the outage.
    pub fn pause(&self) {
        daemon::signal(self.pid(), "STOP");
    }

    /// SIGCONT the server after [`Emulator::pause`].
    pub fn resume(&self) {
        daemon::signal(self.pid(), "CONT");
    }

    /// Sets the queue's VisibilityTimeout (the harness creates it with 30 s); tests of
    /// redelivery use a few seconds, with `reportsengine.visibility_timeout` to match.
    pub fn set_queue_visibility(&self, secs: u32) {
        self.block_on(async {
            self.sqs
                .set_queue_attributes()
                .queue_url(&self.queue_url)
                .attributes(QueueAttributeName::VisibilityTimeout, secs.to_string())
                .send()
                .await
                .expect("SetQueueAttributes");
        })
    }

    /// Runs a future (e.g. an SDK call) to completion on the emulator's runtime.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Writes `bytes` to `dir()/name` and returns the path.
    pub fn write_file(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.dir().join(name);
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    /// The object's bytes, `None` when it does not exist.
    pub fn get_object(&self, key: &str) -> Option<Vec<u8>> {
        self.block_on(async {
            match self.s3.get_object().bucket(&self.bucket).key(key).send().await {
                Ok(out) => Some(out.body.collect().await.expect("read body").into_bytes().to_vec()),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => None,
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => None,
                Err(e) => panic!("GetObject {key}: {e:?}"),
            }
        })
    }

    /// HeadObject: size, user metadata and SSE; `None` when the object does not exist.
    pub fn head_object(&self, key: &str) -> Option<ObjectInfo> {
        self.block_on(async {
            match self.s3.head_object().bucket(&self.bucket).key(key).send().await {
                Ok(out) => Some(ObjectInfo {
                    size: out.content_length.unwrap_or(-1),
                    metadata: out.metadata.unwrap_or_default(),
                    sse: out.server_side_encryption.map(|s| s.as_str().to_string()),
                    etag: out.e_tag,
                }),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => None,
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => None,
                Err(e) => panic!("HeadObject {key}: {e:?}"),
            }
        })
    }

    /// PutObject with SSE AES256, as the daemons would.
    pub fn put_object(&self, key: &str, bytes: impl Into<Vec<u8>>) {
        let body = ByteStream::from(bytes.into());
        self.block_on(async {
            self.s3
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .server_side_encryption(ServerSideEncryption::Aes256)
                .body(body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("PutObject {key}: {e:?}"));
        })
    }

    /// Every key in the bucket, sorted.
    pub fn list_keys(&self) -> Vec<String> {
        self.block_on(async {
            let mut keys = Vec::new();
            let mut pages = self.s3.list_objects_v2().bucket(&self.bucket).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.expect("ListObjectsV2");
                keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
            }
            keys.sort();
            keys
        })
    }

    /// (ApproximateNumberOfMessages, ApproximateNumberOfMessagesNotVisible).
    pub fn queue_counts(&self) -> (u64, u64) {
        self.block_on(async {
            let out = self
                .sqs
                .get_queue_attributes()
                .queue_url(&self.queue_url)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .send()
                .await
                .expect("GetQueueAttributes");
            let attrs = out.attributes.unwrap_or_default();
            let get = |k: QueueAttributeName| {
                attrs.get(&k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
            };
            (
                get(QueueAttributeName::ApproximateNumberOfMessages),
                get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            )
        })
    }

    /// Messages visible on the queue (ApproximateNumberOfMessages).
    pub fn queue_messages_visible(&self) -> u64 {
        self.queue_counts().0
    }

    /// Up to 10 visible messages' bodies, left on the queue (received with visibility 0).
    pub fn peek_messages(&self) -> Vec<String> {
        self.block_on(async {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .visibility_timeout(0)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("ReceiveMessage");
            out.messages.unwrap_or_default().into_iter().filter_map(|m| m.body).collect()
        })
    }

    /// Receives and deletes every visible message; returns their bodies.
    pub fn drain_messages(&self) -> Vec<String> {
        self.block_on(async {
            let mut bodies = Vec::new();
            loop {
                let out = self
                    .sqs
                    .receive_message()
                    .queue_url(&self.queue_url)
                    .max_number_of_messages(10)
                    .visibility_timeout(30)
                    .wait_time_seconds(0)
                    .send()
                    .await
                    .expect("ReceiveMessage");
                let msgs = out.messages.unwrap_or_default();
                if msgs.is_empty() {
                    return bodies;
                }
                for m in msgs {
                    if let Some(h) = m.receipt_handle {
                        self.sqs
                            .delete_message()
                            .queue_url(&self.queue_url)
                            .receipt_handle(h)
                            .send()
                            .await
                            .expect("DeleteMessage");
                    }
                    bodies.extend(m.body);
                }
            }
        })
    }

    /// Sends `body` as is; returns the message id.
    pub fn send_raw(&self, body: &str) -> String {
        self.block_on(async {
            self.sqs
                .send_message()
                .queue_url(&self.queue_url)
                .message_body(body)
                .send()
                .await
                .expect("SendMessage")
                .message_id
                .unwrap_or_default()
        })
    }

    /// A raw HTTP/1.0 request to the server (for moto's `/moto-api/…`); (status, body).
    /// moto 5.2.5 answers 500 to these without a `Content-Type`, hence `text/plain`.
    pub fn http(&self, method: &str, path: &str) -> (u16, Vec<u8>) {
        self.http_with_body(method, path, &[("Content-Type", "text/plain")], b"")
    }

    /// A raw HTTP/1.0 request with a body to the server; (status, body).
    pub fn http_with_body(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let mut req = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n", self.port);
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        s.write_all(req.as_bytes()).expect("send request");
        s.write_all(body).expect("send body");
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).expect("read response");
        let split = resp.windows(4).position(|w| w == b"\r\n\r\n").expect("HTTP response");
        let head = String::from_utf8_lossy(&resp[..split]).into_owned();
        let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("status");
        (status, resp[split + 4..].to_vec())
    }

    /// Starts moto's request recorder (clearing any earlier recording).
    pub fn start_recording(&self) {
        let (st, _) = self.http("POST", "/moto-api/recorder/reset-recording");
        assert!(st < 300, "reset-recording: {st}");
        let (st, _) = self.http("POST", "/moto-api/recorder/start-recording");
        assert!(st < 300, "start-recording: {st}");
    }

    /// Stops the recorder; returns the requests made since [`Emulator::start_recording`]
    /// by anyone but the harness itself (i.e. by the binaries).
    pub fn stop_recording(&self) -> Vec<Recorded> {
        let (st, _) = self.http("POST", "/moto-api/recorder/stop-recording");
        assert!(st < 300, "stop-recording: {st}");
        let (st, body) = self.http("GET", "/moto-api/recorder/download-recording");
        assert!(st < 300, "download-recording: {st}");
        let mut out = Vec::new();
        // moto appends an entry and its newline in two writes, so concurrent requests (the
        // parts of a multipart upload) can leave two entries on one line: read a stream of
        // JSON values, not lines.
        for v in serde_json::Deserializer::from_slice(&body).into_iter::<serde_json::Value>() {
            let v = v.expect("recording entry");
            let headers = v["headers"].as_object().cloned().unwrap_or_default();
            let header = |name: &str| {
                headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .and_then(|(_, v)| v.as_str().map(str::to_string))
            };
            if headers.values().any(|h| h.as_str().is_some_and(|s| s.contains(HARNESS_APP_NAME))) {
                continue;
            }
            out.push(Recorded {
                method: v["method"].as_str().unwrap_or_default().to_string(),
                url: v["url"].as_str().unwrap_or_default().to_string(),
                target: header("X-Amz-Target"),
                user_agent: header("User-Agent"),
            });
        }
        out
    }

    /// A binary's command with the test environment (see [`Emulator::bare_command`]) and
    /// `--config` set to this emulator's configuration.
    fn command(&self, name: &str) -> Command {
        let mut cmd = self.bare_command(name);
        cmd.arg("--config").arg(&self.config_path);
        cmd
    }

    /// A binary's command with nothing inherited that could reach real AWS: a cleared
    /// environment but for PATH, TMPDIR and the Rust debugging variables, a HOME inside the
    /// test's directory, the fake credentials, no AWS config files, IMDS off; no `--config`
    /// (for tests that pass their own, or none).
    pub fn bare_command(&self, name: &str) -> Command {
        self.isolated(Command::new(bin_path(name)))
    }

    /// `cmd` with the fake AWS environment of [`Emulator::bare_command`].
    fn isolated(&self, cmd: Command) -> Command {
        let mut cmd = isolated(cmd, self.dir());
        cmd.env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        cmd
    }
}

/// `cmd` with nothing inherited that could reach real AWS, run in `dir`: a cleared
/// environment but for PATH, TMPDIR and the Rust debugging variables, `dir/home` as HOME, no
/// AWS config files, region us-east-1, no credentials (the caller adds its own).
pub(crate) fn isolated(mut cmd: Command, dir: &Path) -> Command {
    cmd.env_clear();
    for var in ["PATH", "TMPDIR", "RUST_BACKTRACE", "RUST_LOG", "LLVM_PROFILE_FILE"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    let home = dir.join("home");
    let _ = std::fs::create_dir_all(&home);
    cmd.env("HOME", &home)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", home.join("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-aws-credentials"))
        .current_dir(dir)
        .stdin(Stdio::null());
    cmd
}

impl Emulator {
    /// The AWS CLI against this emulator, as an operator would run it by hand: another
    /// client than ours (`$E2E_AWS_CLI`, else `<workspace>/.venv-awscli/bin/aws`, else `aws` on
    /// PATH; `deploy/local/test.sh` makes sure one exists), with the fake credentials and
    /// nothing inherited that could reach real AWS.
    pub fn aws_cli(&self, args: &[&str]) -> Run {
        let mut cmd = self.isolated(Command::new(aws_cli_path()));
        cmd.arg("--endpoint-url").arg(self.endpoint()).args(args);
        run(&mut cmd)
    }
}

/// The AWS CLI: `$E2E_AWS_CLI`, else `<workspace>/.venv-awscli/bin/aws`, else `aws` on PATH.
pub fn aws_cli_path() -> PathBuf {
    std::env::var_os("E2E_AWS_CLI")
        .map(PathBuf::from)
        .or_else(|| Some(workspace_root().join(".venv-awscli/bin/aws")).filter(|p| p.is_file()))
        .unwrap_or_else(|| PathBuf::from("aws"))
}

/// A port of 127.0.0.1 where nothing listens (bound by the OS, then closed): connections to
/// it are refused, as with an endpoint that is down.
pub fn unused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// One request recorded by moto.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub url: String,
    /// `X-Amz-Target` (SQS JSON protocol: `AmazonSQS.SendMessage`, …).
    pub target: Option<String>,
    /// `User-Agent`, with the app id (`app/salesapp`) the binaries send.
    pub user_agent: Option<String>,
}

impl Recorded {
    /// The API action: `sqs:ReceiveMessage`, `s3:PutObject`, `s3:UploadPart`, `s3:HeadObject`, …
    pub fn action(&self) -> String {
        if let Some(t) = &self.target {
            return format!("sqs:{}", t.rsplit('.').next().unwrap_or(t));
        }
        let query = self.url.split_once('?').map(|(_, q)| q).unwrap_or("");
        if let Some(x) = query.split('&').find_map(|kv| kv.strip_prefix("x-id=")) {
            return format!("s3:{x}");
        }
        let path = self.s3_path();
        let object = path.trim_start_matches('/').contains('/');
        // The SDK sends no `x-id` on these; their query names them.
        let has = |name: &str| {
            query.split('&').any(|kv| kv == name || kv.starts_with(&format!("{name}=")))
        };
        match (self.method.as_str(), object) {
            ("GET", true) if query.is_empty() => "s3:GetObject".into(),
            ("HEAD", true) => "s3:HeadObject".into(),
            ("PUT", true) if query.is_empty() => "s3:PutObject".into(),
            ("POST", true) if has("uploads") => "s3:CreateMultipartUpload".into(),
            ("POST", true) if has("uploadId") => "s3:CompleteMultipartUpload".into(),
            ("PUT", true) if has("uploadId") && has("partNumber") => "s3:UploadPart".into(),
            ("DELETE", true) if has("uploadId") => "s3:AbortMultipartUpload".into(),
            ("DELETE", true) => "s3:DeleteObject".into(),
            ("GET", false) if has("uploads") => "s3:ListMultipartUploads".into(),
            ("GET", false) => "s3:ListBucket".into(),
            (m, _) => format!("s3:? {m} {path}?{query}"),
        }
    }

    /// The URL's path (`/BUCKET/KEY`).
    pub fn s3_path(&self) -> String {
        let no_scheme = self.url.split_once("://").map(|(_, r)| r).unwrap_or(&self.url);
        let path = no_scheme.find('/').map(|i| &no_scheme[i..]).unwrap_or("/");
        path.split('?').next().unwrap_or("/").to_string()
    }

    /// The bucket named by a path-style S3 URL.
    pub fn bucket(&self) -> Option<String> {
        self.s3_path().trim_start_matches('/').split('/').next().map(str::to_string)
    }
}

/// What HeadObject says about an object.
#[derive(Debug, Clone)]
pub struct ObjectInfo {
    pub size: i64,
    /// User metadata (`x-amz-meta-*`), keys without the prefix.
    pub metadata: HashMap<String, String>,
    /// `AES256`, `aws:kms`, … or `None`.
    pub sse: Option<String>,
    pub etag: Option<String>,
}

fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn config_toml(port: u16, bucket: &str, queue_url: &str, dir: &Path, o: &Options) -> String {
    let spool = dir.join("spool");
    let _ = std::fs::create_dir_all(&spool);
    let mut s = format!(
        "region = \"us-east-1\"\n\
         bucket = {bucket}\n\
         queue_url = {queue_url}\n\
         [endpoints]\n\
         s3 = \"http://127.0.0.1:{port}\"\n\
         sqs = \"http://127.0.0.1:{port}\"\n\
         force_path_style = true\n\
         require_private_sqs = true\n\
         [compensation]\n\
         commission_bps = {bps}\n",
        bucket = toml_str(bucket),
        queue_url = toml_str(queue_url),
        bps = o.commission_bps,
    );
    if !o.overrides.is_empty() {
        s.push_str("[compensation.overrides]\n");
        for (rep, bps) in &o.overrides {
            s.push_str(&format!("{} = {bps}\n", toml_str(rep)));
        }
    }
    s.push_str(&format!(
        "[salesapp]\n\
         spool_dir = {spool}\n\
         [reportsengine]\n\
         concurrency = 4\n\
         wait_time = \"1s\"\n\
         visibility_timeout = \"30s\"\n\
         shutdown_grace = \"10s\"\n\
         max_object_size = \"10GiB\"\n",
        spool = toml_str(&spool.to_string_lossy()),
    ));
    s
}

/// `target/<profile>/` of the running test binary (`target/<profile>/deps/<test>-<hash>`).
pub fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("E2E_BIN_DIR") {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("exe dir");
    if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent().expect("profile dir").to_path_buf()
    } else {
        deps.to_path_buf()
    }
}

/// The path of a workspace binary; panics with a hint when it was not built.
pub fn bin_path(name: &str) -> PathBuf {
    let p = bin_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !p.is_file() {
        panic!(
            "{} not found: run `cargo build --workspace --bins` first (deploy/local/test.sh does)",
            p.display()
        );
    }
    p
}

/// `salesapp --config <emulator's config.toml>` with the fake AWS environment.
pub fn salesapp(em: &Emulator) -> Command {
    em.command("salesapp")
}

/// `reportsengine --config <emulator's config.toml>` with the fake AWS environment.
pub fn reportsengine(em: &Emulator) -> Command {
    em.command("reportsengine")
}

/// A finished command: exit status and captured output.
#[derive(Debug)]
pub struct Run {
    pub what: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
    /// Panics (showing the output) unless the command exited 0.
    #[track_caller]
    pub fn assert_ok(&self) -> &Run {
        assert!(
            self.status.success(),
            "{} failed ({}):\n{}",
            self.what,
            self.status,
            self.output()
        );
        self
    }
    /// Panics (showing the output) unless the command exited with `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(self.code(), Some(code), "{}: want exit {code}:\n{}", self.what, self.output());
        self
    }
    /// stdout and stderr, for failure messages.
    pub fn output(&self) -> String {
        format!("--- stdout ---\n{}\n--- stderr ---\n{}", self.stdout, self.stderr)
    }
}

/// Command timeout: `$E2E_CMD_TIMEOUT_SECS`, default 60 s.
fn cmd_timeout() -> Duration {
    let secs =
        std::env::var("E2E_CMD_TIMEOUT_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    Duration::from_secs(secs)
}

/// Runs `cmd` to completion (killed after the timeout, which panics), capturing its output.
#[track_caller]
pub fn run(cmd: &mut Command) -> Run {
    run_within(cmd, cmd_timeout())
}

/// [`run`] with its own timeout (for a command known to take longer, on a loaded machine,
/// than `$E2E_CMD_TIMEOUT_SECS`).
#[track_caller]
pub fn run_within(cmd: &mut Command, timeout: Duration) -> Run {
    let what = format!(
        "{} {}",
        Path::new(cmd.get_program()).file_name().unwrap_or_default().to_string_lossy(),
        cmd.get_args().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
    );
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait().expect("wait") {
            Some(s) => break s,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let status = child.wait().expect("wait");
                let stdout =
                    String::from_utf8_lossy(&t_out.join().unwrap_or_default()).into_owned();
                let stderr =
                    String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned();
                let r = Run { what, status, stdout, stderr };
                panic!("{} timed out after {timeout:?}; killed:\n{}", r.what, r.output());
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned();
    Run { what, status, stdout, stderr }
}

/// `salesapp generate` into `dir()/NAME`; returns the path and the bytes.
pub fn generate(em: &Emulator, date: &str, rows: u32, seed: u64) -> (PathBuf, Vec<u8>) {
    let path = em.dir().join(format!("sales-{date}-{seed}-{rows}.csv"));
    run(salesapp(em)
        .args(["generate", "--date", date, "--rows", &rows.to_string()])
        .args(["--seed", &seed.to_string()])
        .arg("-o")
        .arg(&path))
    .assert_ok();
    let bytes = std::fs::read(&path).expect("generated file");
    (path, bytes)
}
