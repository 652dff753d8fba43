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
//! # Denied calls, by name only
//! For `--controls` only, doctor deliberately makes calls the lab's policies deny:
//! DeleteObject (of the key doctor itself just wrote), PutObject to the *unrestricted* bucket,
//! ListBuckets and ListQueues. They are named probes of the shell crate
//! (`common::probe`, its `denied.rs`): this crate has no AWS client, and the daemons' store
//! and queue cannot make them, by design.
//!
//! # The local lab
//! Its gateway (docs/lab.md) listens on loopback like the bare emulator, but enforces the
//! lab's controls. The probes notice its answers (`common::probe`, which names the lab host
//! that answered), and doctor then judges the controls as on AWS: in the lab's starting
//! state the missing ones are named as not in place, not excused as unenforced.
//!
//! # Exit code
//! 0 when no check FAILs (WARN and SKIP do not fail). Otherwise the code of the *first*
//! failing row (rows run from the configuration outwards, so the first failure is usually
//! the cause of the rest): 78 configuration, 77 permissions (no usable credentials, an action
//! the apps need was denied, or a denial the lab requires did not hold, e.g. on the
//! emulator), 69 the service could not be reached or answered unexpectedly (DNS, TCP,
//! timeouts).
//!
//! A failing row's kind (so its code), its detail and its hint are what the failure model
//! makes of the same cause when a command meets it: the configuration's error itself, the
//! credential chain's and each call's answer classified by the shell's one classification
//! (`common::probe`). So `doctor` and `salesapp upload` cannot disagree on a missing bucket
//! or on missing credentials (docs/design.md, What happens to a failure).

mod calls;
mod controls;
mod credentials;
mod network;
mod table;

use std::time::Duration;

use common::config::Config;
use common::endpoints::process_env;
use common::failure::exit;
use common::probe::Sdk;

use crate::cli::GlobalArgs;

pub use calls::PROBE_MARKER;
pub use controls::{judge_control, Control};
pub use network::judge_dns;
pub use table::{Check, Status, Table};

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
    /// Print the rows as one JSON document instead of the table (same exit code)
    #[arg(long)]
    pub json: bool,
}

/// What `doctor` is run as: salesapp sends messages, reportsengine does not.
pub use common::Program;

/// How long one doctor call may take: doctor answers in seconds or says what hangs.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// TCP connect and DNS timeout.
const NET_TIMEOUT: Duration = Duration::from_secs(3);

/// The whole command for a binary's `doctor` subcommand: run, print the table on stdout,
/// return the exit code (see the module doc).
pub fn main(program: Program, global: &GlobalArgs, args: &DoctorArgs) -> i32 {
    use std::io::Write;
    let runtime = match crate::cli::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{}: {e}", program.name());
            return exit::IOERR;
        }
    };
    let table = runtime.block_on(run(program, global, args));
    drop(runtime);
    let text = if args.json { table.to_json(program) + "\n" } else { table.render() };
    let mut out = std::io::stdout().lock();
    // A closed stdout (doctor | head) must not turn a healthy check into a failure.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
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
            // The command meeting the same configuration says the same, with the same code.
            let write_one = format!(
                "write one from the stack's outputs: `{} configure --stack-outputs outputs.json \
                 -o {}`",
                program.name(),
                path.display()
            );
            t.push(Check::failed("config", &e, write_one));
            t.push(Check::skip("(all other checks)", "they need a configuration"));
            return t;
        }
    };
    checks_with_config(program, &config, args, &mut t).await;
    t
}

/// Every check after the configuration, from the inside out: region and the SDK's settings,
/// credentials, the endpoints (DNS, TCP, proxies), the calls the apps need, then with
/// `--controls` the lab's controls.
async fn checks_with_config(program: Program, config: &Config, args: &DoctorArgs, t: &mut Table) {
    let Some(sdk) = region(config, program, t).await else { return };
    t.push(sdk_settings(program, &sdk));
    let endpoints = match sdk.endpoints(config).await {
        Ok(endpoints) => endpoints,
        Err(e) => {
            t.push(Check::failed(
                "endpoints",
                &e,
                "set endpoints.s3 / endpoints.sqs, or check the region and AWS_USE_FIPS_ENDPOINT / AWS_USE_DUALSTACK_ENDPOINT",
            ));
            return;
        }
    };
    // Resolve first (whether this is the emulator changes how credentials are judged), but
    // print credentials before the network rows: the table reads from the inside out.
    let network = network::examine(config, &endpoints).await;
    let have_credentials = credentials::check(&sdk, network.emulator, t).await;
    t.checks.extend(network.rows);
    t.push(network::proxies(&endpoints, &process_env));
    if !have_credentials {
        t.push(Check::skip("(AWS calls)", "no credentials"));
        return;
    }
    let probes = sdk.probes(config, &endpoints, NET_TIMEOUT, CALL_TIMEOUT);
    let needed = calls::needed(program, &probes, &endpoints, t).await;
    // The local lab's gateway is on loopback too, but enforces the controls as AWS does:
    // the probes' answers name it (`common::probe`), and the controls are judged as on AWS.
    let local_lab = probes.local_lab_host();
    let bare_emulator = network.emulator && local_lab.is_none();
    if let Some(host) = &local_lab {
        t.notes.push(format!(
            "the endpoints are the local lab's gateway (host {host}): it enforces the lab's \
             controls as AWS does, so they are judged as on AWS"
        ));
    } else if network.emulator {
        t.notes.push(
            "the endpoints are on loopback: this is the local emulator, where the lab's \
             controls (endpoint, bucket and queue policies) are not enforced"
                .into(),
        );
    }
    if args.controls {
        controls::controls(program, config, args, bare_emulator, &probes, &needed, t).await;
    }
}

/// The region row; the SDK's configuration when there is a region.
async fn region(config: &Config, program: Program, t: &mut Table) -> Option<Sdk> {
    let sdk = match Sdk::load(config, program).await {
        Ok(sdk) => sdk,
        Err(e) => {
            t.push(Check::failed("region", &e, "set `region` (configure writes it) or AWS_REGION"));
            return None;
        }
    };
    let region = sdk.region();
    let source = if config.region.is_some() {
        "from the configuration"
    } else if std::env::var_os("AWS_REGION").is_some() {
        "from AWS_REGION"
    } else {
        "from the SDK's chain (profile or IMDS)"
    };
    t.push(Check::pass("region", format!("{region} ({source})")));
    Some(sdk)
}

/// The SDK's settings the daemons run with: the app id in the user agent, the retry mode
/// and attempts (the SDK's own chain decides them), FIPS and dual-stack.
fn sdk_settings(program: Program, sdk: &Sdk) -> Check {
    let (mode, attempts) = (sdk.retry_mode(), sdk.max_attempts());
    let from_env = ["AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"]
        .into_iter()
        .filter(|v| std::env::var_os(v).is_some())
        .collect::<Vec<_>>();
    let source = if from_env.is_empty() {
        "the profile's max_attempts/retry_mode, else the SDK's default".to_string()
    } else {
        format!("from {}", from_env.join(", "))
    };
    let on_off = |b: bool| if b { "on" } else { "off" };
    Check::pass(
        "sdk",
        format!(
            "user agent app/{}; retries {mode}, {attempts} attempt(s) per call ({source}; doctor \
             itself tries each call once); FIPS {}, dual-stack {}",
            program.name(),
            on_off(sdk.fips()),
            on_off(sdk.dual_stack())
        ),
    )
}
