//! `salesapp doctor` / `reportsengine doctor`: one command that tells an operator whether
//! this instance can do its job, and with `--controls` whether the lab's denials hold.
//!
//! The table's types ([`Status`], [`Check`], [`Table`]) and the judgements (what a DNS answer
//! or a control's outcome means: [`judge_dns`], [`judge_control`]) are pure and unit-tested;
//! [`run`] does the I/O: load the configuration, ask the credential chain, resolve, connect,
//! and make a few harmless calls.
//!
//! # What it calls, and why that is harmless
//! - PutObject `doctor/<hostname>-<pid>.txt` (SSE AES256) then GetObject of it: the only
//!   write. Under the lab nothing can be deleted, so one small object per run stays behind;
//!   our template's lifecycle rule expires `doctor/` after a day.
//! - ReceiveMessage with `MaxNumberOfMessages=1`, `WaitTimeSeconds=0`,
//!   `VisibilityTimeout=0`: a message it sees stays visible (a zero visibility timeout hides
//!   nothing, on AWS and moto alike), so the engine is not delayed; it only raises that
//!   message's `ApproximateReceiveCount` by one (the engine does not act on that count, and the
//!   lab's queue has no dead-letter queue whose `maxReceiveCount` it could trip).
//! - DeleteMessage with a receipt handle that cannot exist: authorized calls answer
//!   `ReceiptHandleIsInvalid` (400), denied ones 403, and nothing is deleted.
//! - SendMessage is *not* harmless (the engine would receive and quarantine the probe), so
//!   only `salesapp doctor --controls` sends one (see [`PROBE_MARKER`]), then tries to
//!   receive and delete it first.
//!
//! # Denied calls live only here
//! For `--controls` only, this module deliberately makes calls the lab's policies deny:
//! DeleteObject (of the key doctor itself just wrote), PutObject to the *unrestricted* bucket,
//! ListBuckets and ListQueues. [`crate::store::Store`] and [`crate::queue::Queue`] cannot make
//! them, by design, and must stay that way: keep every such call inside this file.
//!
//! # Exit code
//! 0 when no check FAILs (WARN and SKIP do not fail). Otherwise the code of the *first*
//! failing row (rows run from the configuration outwards, so the first failure is usually
//! the cause of the rest): 78 configuration, 77 permissions (an action the apps need was
//! denied, or a denial the lab requires did not hold, e.g. on the emulator), 69 the service
//! could not be reached or answered unexpectedly (DNS, TCP, timeouts).

use std::net::IpAddr;
use std::time::Duration;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use aws_smithy_runtime_api::http::Response as HttpResponse;

use crate::aws::{classify, endpoint_url, process_env, Answer};
use crate::cli::GlobalArgs;
use crate::config::Config;
use crate::failure::exit;
use crate::failure::{Operation, Service};
use sales_domain::net::AddressClass;

/// `doctor`'s flags, shared by both binaries.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DoctorArgs {
    /// Also verify the lab's controls: the denials that must hold (DeleteObject, PutObject to
    /// the unrestricted bucket, ListBuckets, ListQueues) and the calls that must be allowed
    #[arg(long)]
    pub controls: bool,
    /// The lab's unrestricted bucket, for --controls [default: doctor.unrestricted_bucket]
    #[arg(long, value_name = "BUCKET")]
    pub unrestricted_bucket: Option<String>,
}

/// One row's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    /// Works, but not as the lab intends (e.g. static keys instead of the instance profile).
    Warn,
    Fail,
    /// Not run: nothing to check, or an earlier failure makes it meaningless.
    Skip,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

/// Which exit code a failing row stands for (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailKind {
    Config,
    Permission,
    Unavailable,
}

impl FailKind {
    pub fn exit_code(self) -> i32 {
        match self {
            FailKind::Config => exit::CONFIG,
            FailKind::Permission => exit::NOPERM,
            FailKind::Unavailable => exit::UNAVAILABLE,
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    /// What to do about a FAIL or WARN.
    pub hint: Option<String>,
    pub kind: FailKind,
}

impl Check {
    pub fn pass(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Pass, detail, None, FailKind::Unavailable)
    }
    pub fn skip(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Skip, detail, None, FailKind::Unavailable)
    }
    pub fn warn(
        name: impl Into<String>,
        detail: impl Into<String>,
        hint: impl Into<String>,
    ) -> Check {
        Check::new(name, Status::Warn, detail, Some(hint.into()), FailKind::Unavailable)
    }
    pub fn fail(
        name: impl Into<String>,
        kind: FailKind,
        detail: impl Into<String>,
        hint: impl Into<String>,
    ) -> Check {
        Check::new(name, Status::Fail, detail, Some(hint.into()), kind)
    }
    fn new(
        name: impl Into<String>,
        status: Status,
        detail: impl Into<String>,
        hint: Option<String>,
        kind: FailKind,
    ) -> Check {
        Check { name: name.into(), status, detail: detail.into(), hint, kind }
    }
}

/// The whole result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub checks: Vec<Check>,
    /// Notes printed under the table (e.g. "this is the emulator").
    pub notes: Vec<String>,
}

impl Table {
    pub fn push(&mut self, check: Check) {
        self.checks.push(check);
    }

    /// An aligned text table: STATUS, CHECK, DETAIL, with each hint on its own line under
    /// its row, then a one-line count and the notes.
    pub fn render(&self) -> String {
        let width = self.checks.iter().map(|c| c.name.chars().count()).max().unwrap_or(5).max(5);
        let mut out = format!("{:<6}  {:<width$}  DETAIL\n", "STATUS", "CHECK");
        for c in &self.checks {
            out.push_str(&format!("{:<6}  {:<width$}  {}\n", c.status.label(), c.name, c.detail));
            if let Some(hint) = c.hint.as_ref().filter(|_| c.status != Status::Pass) {
                out.push_str(&format!("{:<6}  {:<width$}  hint: {hint}\n", "", ""));
            }
        }
        let count = |s: Status| self.checks.iter().filter(|c| c.status == s).count();
        out.push_str(&format!(
            "\ndoctor: {} PASS, {} WARN, {} FAIL, {} SKIP\n",
            count(Status::Pass),
            count(Status::Warn),
            count(Status::Fail),
            count(Status::Skip)
        ));
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        out
    }

    /// 0, or the code of the first failing row (see the module doc).
    pub fn exit_code(&self) -> i32 {
        self.checks
            .iter()
            .find(|c| c.status == Status::Fail)
            .map_or(exit::OK, |c| c.kind.exit_code())
    }
}

fn describe_addrs(addrs: &[IpAddr]) -> String {
    addrs
        .iter()
        .map(|a| format!("{a} ({})", AddressClass::of(*a).describe()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Judges one endpoint's DNS answers (pure).
pub fn judge_dns(service: Service, host: &str, addrs: &[IpAddr], require_private: bool) -> Check {
    let name = format!("{} dns", service.label());
    if addrs.is_empty() {
        return Check::fail(
            name,
            FailKind::Unavailable,
            format!("{host}: no addresses"),
            "check the VPC's DNS resolution (enableDnsSupport) and the endpoint's host name",
        );
    }
    let detail = format!("{host} → {}", describe_addrs(addrs));
    let all_loopback = addrs.iter().all(|a| AddressClass::of(*a) == AddressClass::Loopback);
    if all_loopback {
        return Check::pass(name, format!("{detail}: the local emulator"));
    }
    let public: Vec<&IpAddr> =
        addrs.iter().filter(|a| !AddressClass::of(**a).is_private()).collect();
    match service {
        Service::S3 if public.is_empty() => {
            Check::pass(name, format!("{detail}: private (an S3 interface endpoint)"))
        }
        Service::S3 => Check::pass(
            name,
            format!(
                "{detail}: public answers are expected for the S3 *gateway* endpoint (a route \
                 table entry sends the packets through it)"
            ),
        ),
        Service::Sqs if public.is_empty() => Check::pass(
            name,
            format!("{detail}: private, the interface endpoint's private DNS is in effect"),
        ),
        Service::Sqs => {
            let hint = "the SQS interface endpoint's private DNS is not in effect here: enable \
                        private DNS on the endpoint (and DNS support/hostnames on the VPC), or \
                        set endpoints.sqs to the endpoint's vpce-….sqs.REGION.vpce.amazonaws.com \
                        name. Otherwise SQS traffic leaves through the NAT gateway and the queue \
                        policy (aws:sourceVpce) denies it";
            if require_private {
                Check::fail(
                    name,
                    FailKind::Config,
                    format!("{detail}: PUBLIC, and require_private_sqs is set"),
                    hint,
                )
            } else {
                Check::warn(name, format!("{detail}: public"), hint)
            }
        }
    }
}

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
}

pub const DELETE_OBJECT: Control = Control {
    name: "control: DeleteObject denied",
    action: "DeleteObject on the restricted bucket",
    expect_denied: true,
    proves: "the S3 gateway endpoint policy allows only s3:GetObject and s3:PutObject",
};
pub const OTHER_BUCKET_PUT: Control = Control {
    name: "control: unrestricted PutObject denied",
    action: "PutObject to the unrestricted bucket",
    expect_denied: true,
    proves: "the S3 gateway endpoint policy names only the restricted bucket",
};
pub const LIST_BUCKETS: Control = Control {
    name: "control: ListBuckets denied",
    action: "ListBuckets",
    expect_denied: true,
    proves: "the S3 gateway endpoint policy allows no listing",
};
pub const LIST_QUEUES: Control = Control {
    name: "control: ListQueues denied",
    action: "ListQueues",
    expect_denied: true,
    proves: "the SQS interface endpoint policy allows only Send/Receive/DeleteMessage",
};
pub const RESTRICTED_PUT: Control = Control {
    name: "control: PutObject allowed",
    action: "PutObject to the restricted bucket",
    expect_denied: false,
    proves: "the write came through the S3 gateway endpoint (the bucket policy denies PutObject \
             unless aws:sourceVpce is that endpoint) and the endpoint policy allows it",
};
pub const SEND: Control = Control {
    name: "control: SendMessage allowed",
    action: "SendMessage",
    expect_denied: false,
    proves: "the request came through the SQS interface endpoint (the queue policy allows it \
             only via aws:sourceVpce) and the endpoint policy and role allow it",
};
pub const RECEIVE: Control = Control {
    name: "control: ReceiveMessage allowed",
    action: "ReceiveMessage",
    expect_denied: false,
    proves: "the SQS interface endpoint, the queue policy (aws:sourceVpce) and the role allow it",
};
pub const DELETE_MESSAGE: Control = Control {
    name: "control: DeleteMessage allowed",
    action: "DeleteMessage",
    expect_denied: false,
    proves: "the SQS interface endpoint, the queue policy (aws:sourceVpce) and the role allow it",
};

/// Judges one control's outcome (pure). On the emulator a denial that does not hold is said
/// to be unenforced rather than passed off as success or blamed on the lab.
pub fn judge_control(control: &Control, outcome: &Outcome, emulator: bool) -> Check {
    match (control.expect_denied, outcome) {
        (true, Outcome::Denied) => {
            Check::pass(control.name, format!("denied (403): proves {}", control.proves))
        }
        (false, Outcome::Allowed) if emulator => Check::pass(
            control.name,
            format!(
                "{} allowed (on the emulator this shows the call works, not that the lab's \
                 controls are in place)",
                control.action
            ),
        ),
        (false, Outcome::Allowed) => {
            Check::pass(control.name, format!("allowed: proves {}", control.proves))
        }
        (true, Outcome::Allowed) if emulator => Check::fail(
            control.name,
            FailKind::Permission,
            format!(
                "{} allowed: on the emulator the lab's controls are not enforced",
                control.action
            ),
            "expected here (moto ignores endpoint, bucket and queue policies); run `doctor \
             --controls` on the lab's instances to verify the controls",
        ),
        (true, Outcome::Allowed) => Check::fail(
            control.name,
            FailKind::Permission,
            format!("{} ALLOWED: the control is not in effect", control.action),
            format!(
                "expected a 403 because {}: check the endpoint's policy and that this subnet's \
                 route table / DNS really uses the VPC endpoint",
                control.proves
            ),
        ),
        (false, Outcome::Denied) => Check::fail(
            control.name,
            FailKind::Permission,
            format!("{} denied (403)", control.action),
            denial_hint(control.action.split(' ').next().unwrap_or("")),
        ),
        (_, Outcome::Inconclusive(why)) => Check::warn(
            control.name,
            format!("{}: inconclusive: {why}", control.action),
            "neither allowed nor denied; see the detail",
        ),
    }
}

/// What `doctor` is run as: salesapp sends messages, reportsengine does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    Salesapp,
    Reportsengine,
}

impl Program {
    pub fn name(self) -> &'static str {
        match self {
            Program::Salesapp => "salesapp",
            Program::Reportsengine => "reportsengine",
        }
    }
}

/// The body of `salesapp doctor --controls`'s probe message. Not a valid sales message: if
/// the engine receives it first, it quarantines it with this text in `body`, which says
/// where it came from.
pub const PROBE_MARKER: &str = "vpce-lab doctor probe";

/// How long one doctor call may take: doctor answers in seconds or says what hangs.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// TCP connect and DNS timeout.
const NET_TIMEOUT: Duration = Duration::from_secs(3);

/// This machine's name for the probe key, restricted to characters safe in an S3 key.
fn hostname() -> String {
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

/// The result of one SDK call, classified.
enum Call<T> {
    Ok(T),
    Failed { failure: Answer, code: String, text: String },
    TimedOut,
}

async fn call<T, E, F>(fut: F) -> Call<T>
where
    F: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match tokio::time::timeout(CALL_TIMEOUT, fut).await {
        Err(_) => Call::TimedOut,
        Ok(Ok(v)) => Call::Ok(v),
        Ok(Err(e)) => {
            let code = e.code().unwrap_or_default().to_string();
            let failure = classify(&e);
            let text = match &failure {
                Answer::Denied { .. } => "denied (HTTP 403)".to_string(),
                Answer::NotFound => format!("not found (404 {code})"),
                Answer::PreconditionFailed => "precondition failed (412)".to_string(),
                Answer::Transient(d) | Answer::Other { detail: d, .. } => d.clone(),
            };
            Call::Failed { failure, code, text }
        }
    }
}

impl<T> Call<T> {
    fn outcome(&self) -> Outcome {
        match self {
            Call::Ok(_) => Outcome::Allowed,
            Call::Failed { failure: Answer::Denied { .. }, .. } => Outcome::Denied,
            Call::Failed { text, .. } => Outcome::Inconclusive(text.clone()),
            Call::TimedOut => Outcome::Inconclusive(format!(
                "no answer within {}s (an endpoint security group that drops packets?)",
                CALL_TIMEOUT.as_secs()
            )),
        }
    }
}

/// A failing row for a call the apps need, from how it failed.
fn needed_call_failed<T>(
    name: &str,
    operation: &str,
    resource: &str,
    endpoint: &str,
    result: &Call<T>,
) -> Check {
    match result {
        Call::Ok(_) => Check::pass(name, format!("{operation} {resource}: ok")),
        Call::Failed { failure: Answer::Denied { .. }, .. } => Check::fail(
            name,
            FailKind::Permission,
            format!("{operation} {resource}: denied (HTTP 403)"),
            denial_hint(operation),
        ),
        Call::Failed { text, .. } => Check::fail(
            name,
            FailKind::Unavailable,
            format!("{operation} {resource} via {endpoint}: {text}"),
            "see the dns and tcp rows above; a 404 NoSuchBucket means `bucket` names no bucket",
        ),
        Call::TimedOut => Check::fail(
            name,
            FailKind::Unavailable,
            format!(
                "{operation} {resource} via {endpoint}: no answer within {}s",
                CALL_TIMEOUT.as_secs()
            ),
            "an endpoint security group admitting only the apps' security groups makes other \
             sources time out; check this instance's security group",
        ),
    }
}

/// Which of the lab's controls typically denies the AWS operation called `operation`.
fn denial_hint(operation: &str) -> &'static str {
    Operation::from_name(operation).map_or(
        "Check the instance role and the VPC endpoint and resource policies of the lab.",
        Operation::denial_hint,
    )
}

async fn resolve(host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
    match tokio::time::timeout(NET_TIMEOUT, tokio::net::lookup_host((host, port))).await {
        Err(_) => Err(format!("no DNS answer within {}s", NET_TIMEOUT.as_secs())),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(addrs)) => {
            let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
            ips.dedup();
            Ok(ips)
        }
    }
}

async fn tcp_check(service: Service, host: &str, port: u16, addrs: &[IpAddr]) -> Check {
    let name = format!("{} tcp", service.label());
    let Some(ip) = addrs.first() else {
        return Check::skip(name, "no address to connect to");
    };
    let start = std::time::Instant::now();
    match tokio::time::timeout(NET_TIMEOUT, tokio::net::TcpStream::connect((*ip, port))).await {
        Ok(Ok(_)) => Check::pass(
            name,
            format!("{host}:{port} ({ip}) connected in {} ms", start.elapsed().as_millis()),
        ),
        Ok(Err(e)) => Check::fail(
            name,
            FailKind::Unavailable,
            format!("{host}:{port} ({ip}): {e}"),
            "connection refused or unreachable: check the endpoint URL and port, and the route \
             tables",
        ),
        Err(_) => Check::fail(
            name,
            FailKind::Unavailable,
            format!("{host}:{port} ({ip}): no answer within {}s", NET_TIMEOUT.as_secs()),
            match service {
                Service::Sqs => {
                    "a timeout (not a refusal) is what the interface endpoint's security group \
                     does to sources it does not admit: it allows 443 only from the two apps' \
                     security groups; check this instance's security group"
                }
                Service::S3 => {
                    "check that this private subnet's route table has the S3 gateway endpoint's \
                     route (or a NAT route) and that the security group allows outbound 443"
                }
            },
        ),
    }
}

/// Names the provider of the credential chain that answered, never the secret itself.
fn credential_source(creds: &aws_credential_types::Credentials) -> (String, bool) {
    use aws_credential_types::credential_feature::AwsCredentialFeature as F;
    let features = creds.get_property::<Vec<F>>().cloned().unwrap_or_default();
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    // (label, is_instance_profile)
    let (label, instance) = if features.contains(&F::CredentialsImds) {
        ("the instance profile (EC2 instance role, via IMDS)".to_string(), true)
    } else if features.contains(&F::CredentialsEnvVars) {
        ("environment variables (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)".to_string(), false)
    } else if features.iter().any(|f| {
        matches!(
            f,
            F::CredentialsStsAssumeRoleWebId
                | F::CredentialsEnvVarsStsWebIdToken
                | F::CredentialsProfileStsWebIdToken
        )
    }) {
        ("web identity token (STS AssumeRoleWithWebIdentity)".to_string(), false)
    } else if features.contains(&F::CredentialsHttp) {
        ("the container credentials endpoint (ECS)".to_string(), false)
    } else if features.iter().any(|f| matches!(f, F::CredentialsSso | F::CredentialsProfileSso)) {
        (format!("SSO (profile {profile})"), false)
    } else if features
        .iter()
        .any(|f| matches!(f, F::CredentialsProcess | F::CredentialsProfileProcess))
    {
        (format!("credential_process (profile {profile})"), false)
    } else if features.contains(&F::CredentialsStsAssumeRole) {
        (format!("an assumed role (profile {profile})"), false)
    } else if features.iter().any(|f| {
        matches!(
            f,
            F::CredentialsProfile
                | F::CredentialsProfileSourceProfile
                | F::CredentialsProfileNamedProvider
        )
    }) {
        (format!("profile {profile} (shared credentials/config file)"), false)
    } else {
        ("an unnamed provider".to_string(), false)
    };
    let lifetime = match creds.expiry() {
        Some(at) => match at.duration_since(std::time::SystemTime::now()) {
            Ok(left) => format!("temporary, expire in {} min", left.as_secs() / 60),
            Err(_) => "temporary, already expired".to_string(),
        },
        None => "long-term".to_string(),
    };
    (format!("{label}; {lifetime}"), instance)
}

/// The whole command for a binary's `doctor` subcommand: run, print the table on stdout,
/// return the exit code (see the module doc).
pub fn main(program: Program, global: &GlobalArgs, args: &DoctorArgs) -> i32 {
    use std::io::Write;
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{}: cannot start the async runtime: {e}", program.name());
            return exit::IOERR;
        }
    };
    let table = runtime.block_on(run(program, global, args));
    drop(runtime);
    let mut out = std::io::stdout().lock();
    // A closed stdout (doctor | head) must not turn a healthy check into a failure.
    let _ = out.write_all(table.render().as_bytes()).and_then(|()| out.flush());
    table.exit_code()
}

/// Runs every check and returns the table (never fails: a failure is a row).
pub async fn run(program: Program, global: &GlobalArgs, args: &DoctorArgs) -> Table {
    let mut t = Table::default();
    let path = global.config_path();
    let config = match global.load_config() {
        Ok(c) => {
            t.push(Check::pass(
                "config",
                format!("{} (bucket {}, queue {})", path.display(), c.bucket, c.queue_url),
            ));
            c
        }
        Err(e) => {
            t.push(Check::fail(
                "config",
                FailKind::Config,
                e.to_string(),
                format!(
                    "write one from the stack's outputs: `{} configure --stack-outputs \
                     outputs.json -o {}`",
                    program.name(),
                    path.display()
                ),
            ));
            t.push(Check::skip("(all other checks)", "they need a configuration"));
            return t;
        }
    };
    checks_with_config(program, &config, args, &mut t).await;
    t
}

async fn checks_with_config(program: Program, config: &Config, args: &DoctorArgs, t: &mut Table) {
    // Region and credentials.
    let sdk = match crate::aws::sdk_config(config).await {
        Ok(sdk) => sdk,
        Err(e) => {
            t.push(Check::fail(
                "region",
                FailKind::Config,
                e.to_string(),
                "set `region` (configure writes it) or AWS_REGION",
            ));
            return;
        }
    };
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let region_source = if config.region.is_some() {
        "from the configuration"
    } else if std::env::var_os("AWS_REGION").is_some() {
        "from AWS_REGION"
    } else {
        "from the SDK's chain (profile or IMDS)"
    };
    t.push(Check::pass("region", format!("{region} ({region_source})")));

    let s3_url = endpoint_url(Service::S3, config, &region, &process_env);
    let sqs_url = endpoint_url(Service::Sqs, config, &region, &process_env);

    // Resolve first (whether this is the emulator changes how credentials are judged), but
    // print credentials before the network rows: the table reads from the inside out.
    let mut emulator = false;
    let mut resolved = Vec::new();
    let mut net_rows = Vec::new();
    for (service, url) in [(Service::S3, &s3_url), (Service::Sqs, &sqs_url)] {
        let host = crate::config::url_host(url).unwrap_or_default().to_string();
        let port = crate::config::url_port(url);
        match resolve(&host, port).await {
            Ok(addrs) => {
                emulator |= !addrs.is_empty()
                    && addrs.iter().all(|a| AddressClass::of(*a) == AddressClass::Loopback);
                net_rows.push(judge_dns(
                    service,
                    &host,
                    &addrs,
                    config.endpoints.require_private_sqs,
                ));
                resolved.push((service, host, port, addrs));
            }
            Err(e) => {
                net_rows.push(Check::fail(
                    format!("{} dns", service.label()),
                    FailKind::Unavailable,
                    format!("{host}: {e}"),
                    "check the VPC's DNS (enableDnsSupport) and the endpoint URL",
                ));
                resolved.push((service, host, port, Vec::new()));
            }
        }
    }
    for (service, host, port, addrs) in &resolved {
        net_rows.push(tcp_check(*service, host, *port, addrs).await);
    }

    let sdk_creds = match sdk.credentials_provider() {
        Some(p) => {
            use aws_credential_types::provider::ProvideCredentials;
            tokio::time::timeout(CALL_TIMEOUT, p.provide_credentials()).await
        }
        None => Ok(Err(aws_credential_types::provider::error::CredentialsError::not_loaded(
            "no credentials provider configured",
        ))),
    };
    let creds_ok = match sdk_creds {
        Ok(Ok(creds)) => {
            let (source, instance) = credential_source(&creds);
            if instance || emulator {
                t.push(Check::pass("credentials", source));
            } else {
                t.push(Check::warn(
                    "credentials",
                    source,
                    "on the lab's instances the instance profile (IAMRoleFor…) should answer: \
                     other credentials bypass the role's least privilege",
                ));
            }
            true
        }
        Ok(Err(e)) => {
            t.push(Check::fail(
                "credentials",
                FailKind::Permission,
                format!("no provider of the chain answered: {e}"),
                "on EC2 attach the instance profile (IAMRoleForSalesApp / IAMRoleForReportsEngine) \
                 and make sure IMDSv2 is reachable; elsewhere set AWS_PROFILE or AWS_ACCESS_KEY_ID",
            ));
            false
        }
        Err(_) => {
            t.push(Check::fail(
                "credentials",
                FailKind::Unavailable,
                format!("the credential chain gave no answer within {}s", CALL_TIMEOUT.as_secs()),
                "IMDS did not answer: on EC2 check the instance metadata options (IMDSv2, hop \
                 limit); elsewhere set AWS_EC2_METADATA_DISABLED=true and other credentials",
            ));
            false
        }
    };
    t.checks.append(&mut net_rows);
    if !creds_ok {
        t.push(Check::skip("(AWS calls)", "no credentials"));
        return;
    }

    // Doctor's calls fail fast: one attempt each, short timeouts, and our own table says why.
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(NET_TIMEOUT)
        .operation_attempt_timeout(CALL_TIMEOUT)
        .build();
    let s3 = {
        let base = crate::aws::s3_client(&sdk, config);
        aws_sdk_s3::Client::from_conf(
            base.config()
                .to_builder()
                .timeout_config(timeouts.clone())
                .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
                .build(),
        )
    };
    let sqs = {
        let base = crate::aws::sqs_client(&sdk, config);
        aws_sdk_sqs::Client::from_conf(
            base.config()
                .to_builder()
                .timeout_config(timeouts)
                .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
                .build(),
        )
    };

    // S3: the harmless write and read back.
    let key = format!("doctor/{}-{}.txt", hostname(), std::process::id());
    let body = format!(
        "{PROBE_MARKER}: written by `{} doctor` on {} (pid {}); safe to ignore\n",
        program.name(),
        hostname(),
        std::process::id()
    );
    let url = format!("s3://{}/{key}", config.bucket);
    let put = call(
        s3.put_object()
            .bucket(&config.bucket)
            .key(&key)
            .server_side_encryption(ServerSideEncryption::Aes256)
            .content_type("text/plain")
            .body(ByteStream::from(body.clone().into_bytes()))
            .send(),
    )
    .await;
    t.push(needed_call_failed("s3 write", "PutObject", &url, &s3_url, &put));
    let put_outcome = put.outcome();
    if matches!(put, Call::Ok(_)) {
        let got = call(s3.get_object().bucket(&config.bucket).key(&key).send()).await;
        match got {
            Call::Ok(out) => match out.body.collect().await.map(|d| d.into_bytes()) {
                Ok(data) if data.as_ref() == body.as_bytes() => {
                    t.push(Check::pass("s3 read", format!("GetObject {url}: same bytes back")))
                }
                Ok(_) => t.push(Check::fail(
                    "s3 read",
                    FailKind::Unavailable,
                    format!("GetObject {url}: different bytes back"),
                    "another writer, or a proxy rewriting bodies",
                )),
                Err(e) => t.push(Check::fail(
                    "s3 read",
                    FailKind::Unavailable,
                    format!("GetObject {url}: reading the body failed: {e}"),
                    "see the tcp rows",
                )),
            },
            other => t.push(needed_call_failed("s3 read", "GetObject", &url, &s3_url, &other)),
        }
    } else {
        t.push(Check::skip("s3 read", "nothing was written"));
    }

    // SQS: a receive that hides nothing, and a delete that cannot delete anything.
    let receive = call(
        sqs.receive_message()
            .queue_url(&config.queue_url)
            .max_number_of_messages(1)
            .wait_time_seconds(0)
            .visibility_timeout(0)
            .send(),
    )
    .await;
    let receive_outcome = receive.outcome();
    let mut receive_row =
        needed_call_failed("sqs receive", "ReceiveMessage", &config.queue_url, &sqs_url, &receive);
    if let Call::Ok(out) = &receive {
        let n = out.messages().len();
        receive_row.detail = format!(
            "ReceiveMessage {}: ok ({n} message(s) seen; visibility 0 left them visible)",
            config.queue_url
        );
    }
    t.push(receive_row);
    let delete = call(
        sqs.delete_message()
            .queue_url(&config.queue_url)
            .receipt_handle("vpce-lab-doctor-invalid-receipt-handle")
            .send(),
    )
    .await;
    let delete_outcome = match &delete {
        Call::Failed { code, .. } if code == "ReceiptHandleIsInvalid" => Outcome::Allowed,
        Call::Ok(_) => Outcome::Allowed,
        other => other.outcome(),
    };
    t.push(match &delete_outcome {
        Outcome::Allowed => Check::pass(
            "sqs delete",
            "DeleteMessage authorized (a made-up receipt handle was refused as \
             ReceiptHandleIsInvalid, not denied)",
        ),
        _ => {
            needed_call_failed("sqs delete", "DeleteMessage", &config.queue_url, &sqs_url, &delete)
        }
    });

    if emulator {
        t.notes.push(
            "the endpoints are on loopback: this is the local emulator, where the lab's \
             controls (endpoint, bucket and queue policies) are not enforced"
                .into(),
        );
    }
    if !args.controls {
        return;
    }
    controls(
        program,
        config,
        args,
        emulator,
        &s3,
        &sqs,
        &key,
        [put_outcome, receive_outcome, delete_outcome],
        t,
    )
    .await;
}

#[allow(clippy::too_many_arguments)]
async fn controls(
    program: Program,
    config: &Config,
    args: &DoctorArgs,
    emulator: bool,
    s3: &aws_sdk_s3::Client,
    sqs: &aws_sdk_sqs::Client,
    key: &str,
    [put, receive, delete]: [Outcome; 3],
    t: &mut Table,
) {
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
    t.push(judge_control(&RECEIVE, &receive, emulator));
    t.push(judge_control(&DELETE_MESSAGE, &delete, emulator));
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

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn s3_gateway_keeps_public_answers_and_that_passes() {
        let c = judge_dns(Service::S3, "b.s3.us-east-1.amazonaws.com", &ips(&["52.216.1.2"]), true);
        assert_eq!(c.status, Status::Pass);
        assert!(c.detail.contains("gateway"), "{}", c.detail);
        assert!(c.detail.contains("52.216.1.2 (public)"), "{}", c.detail);
    }

    #[test]
    fn sqs_must_resolve_privately() {
        let host = "sqs.us-east-1.amazonaws.com";
        let ok = judge_dns(Service::Sqs, host, &ips(&["10.0.1.55", "10.0.2.77"]), true);
        assert_eq!(ok.status, Status::Pass);
        assert!(ok.detail.contains("private (RFC 1918)"));
        let bad = judge_dns(Service::Sqs, host, &ips(&["10.0.1.55", "3.236.1.1"]), true);
        assert_eq!(bad.status, Status::Fail);
        assert_eq!(bad.kind, FailKind::Config);
        assert!(bad.hint.as_deref().unwrap_or("").contains("private DNS"));
        let lax = judge_dns(Service::Sqs, host, &ips(&["3.236.1.1"]), false);
        assert_eq!(lax.status, Status::Warn);
        let emu = judge_dns(Service::Sqs, "127.0.0.1", &ips(&["127.0.0.1"]), true);
        assert_eq!(emu.status, Status::Pass);
        assert!(emu.detail.contains("emulator"));
        assert_eq!(judge_dns(Service::Sqs, host, &[], true).status, Status::Fail);
    }

    #[test]
    fn controls_are_judged_by_what_they_prove() {
        let denied = judge_control(&DELETE_OBJECT, &Outcome::Denied, false);
        assert_eq!(denied.status, Status::Pass);
        assert!(denied.detail.contains("gateway endpoint policy"), "{}", denied.detail);

        let on_emulator = judge_control(&DELETE_OBJECT, &Outcome::Allowed, true);
        assert_eq!(on_emulator.status, Status::Fail);
        assert!(on_emulator.detail.contains("not enforced"), "{}", on_emulator.detail);
        assert_eq!(on_emulator.kind.exit_code(), 77);

        let real = judge_control(&LIST_QUEUES, &Outcome::Allowed, false);
        assert_eq!(real.status, Status::Fail);
        assert!(real.detail.contains("not in effect"), "{}", real.detail);

        let send_denied = judge_control(&SEND, &Outcome::Denied, false);
        assert_eq!(send_denied.status, Status::Fail);
        assert!(send_denied.hint.as_deref().unwrap_or("").contains("interface endpoint"));

        let unclear = judge_control(&OTHER_BUCKET_PUT, &Outcome::Inconclusive("404".into()), true);
        assert_eq!(unclear.status, Status::Warn);
        assert_eq!(judge_control(&RESTRICTED_PUT, &Outcome::Allowed, false).status, Status::Pass);
    }

    #[test]
    fn table_aligns_hints_and_exit_code_is_the_first_failure() {
        let mut t = Table::default();
        t.push(Check::pass("config", "/etc/vpce-lab/config.toml"));
        t.push(Check::warn("credentials", "environment variables", "use the instance profile"));
        t.push(Check::fail("sqs tcp", FailKind::Unavailable, "timeout", "security group"));
        t.push(Check::fail("control: ListQueues denied", FailKind::Permission, "allowed", "x"));
        t.push(Check::skip("s3 read", "nothing written"));
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("STATUS  CHECK"), "{text}");
        let col = lines[0].find("DETAIL").unwrap();
        for line in lines.iter().take(8).skip(1) {
            assert_eq!(line.len().min(col), col, "{text}");
            assert_eq!(&line[col - 2..col], "  ", "column aligned: {line:?}\n{text}");
        }
        assert!(text.contains("hint: security group"), "{text}");
        assert!(!text.contains("hint: /etc"), "no hint under a PASS");
        assert!(text.contains("1 PASS, 1 WARN, 2 FAIL, 1 SKIP"), "{text}");
        assert_eq!(t.exit_code(), 69, "the first failure decides");

        let mut ok = Table::default();
        ok.push(Check::pass("config", "x"));
        ok.push(Check::warn("credentials", "env", "hint"));
        assert_eq!(ok.exit_code(), 0, "warnings do not fail");
    }
}
