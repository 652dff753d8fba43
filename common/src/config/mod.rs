//! The one configuration of both binaries (docs/configuration.md): a TOML file, overridden by
//! `VPCE_LAB_<SECTION>_<KEY>` environment variables, overridden by `--set section.key=value`
//! flags; parsed once at start, validated once, then passed around read-only.
//!
//! Unknown keys are errors wherever they come from (file, environment, flag): a misspelt
//! `visibilty_timeout` silently falling back to a default is exactly the kind of mistake
//! that surfaces months later as a message processed twice.
//!
//! Every error names the key and where its value came from (the file's line, the variable,
//! the flag: `sources.rs`), never quoting what could be a secret; a file others may write is
//! refused (`permissions.rs`); [`Effective`] keeps each value's source for `config`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::failure::Result;
pub use sales_domain::limits::Limits;
pub use sales_domain::money::Compensation;
use values::{de_duration, de_opt_socket_addr, de_size};
pub use values::{mask_url, parse_size, url_host, url_port};

mod effective;
mod keys;
mod local_settings;
mod overlay;
mod permissions;
mod sources;
mod validate;
mod values;

pub use effective::Effective;
pub use keys::{markdown_table, sections, Key, KeyDefault, ValueType, KEYS};
pub use local_settings::LocalSettings;
pub use overlay::flag_setting;
pub use sources::{Source, Sources};

/// Where the configuration is read from when neither `--config` nor `$VPCE_LAB_CONFIG` is set.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/vpce-lab/config.toml";

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "VPCE_LAB_CONFIG";

/// Prefix of the per-key environment overrides.
const ENV_PREFIX: &str = "VPCE_LAB_";

/// systemd's `TimeoutStopSec=` in our units (`systemd/*.service`). `shutdown_grace` must end
/// before systemd stops waiting and sends SIGKILL, or in-flight work is cut mid-way.
pub const SYSTEMD_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// The default of `endpoints.attempt_timeout`: one attempt of any call but ReceiveMessage.
/// Long enough for a multipart part over a slow link.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// SQS refuses a long poll over 20 s.
pub const MAX_WAIT_TIME: Duration = Duration::from_secs(20);

/// The whole configuration. Defaults are documented on each field.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// AWS region; unset = the SDK's chain (`AWS_REGION`, profile, IMDS on EC2).
    #[serde(default)]
    pub region: Option<String>,
    /// The restricted bucket (the stack's `RestrictedS3Bucket` output). Required.
    pub bucket: String,
    /// The queue's URL (the stack's `SQSQueueURL` output). Required: the lab's policy has no
    /// `sqs:GetQueueUrl`, so the URL cannot be looked up by name.
    pub queue_url: String,
    #[serde(default)]
    pub endpoints: EndpointsConfig,
    #[serde(default)]
    pub compensation: Compensation,
    #[serde(default)]
    pub salesapp: SalesappConfig,
    #[serde(default)]
    pub reportsengine: EngineConfig,
    #[serde(default)]
    pub doctor: DoctorConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// `[limits]`: a bound on every dimension a sales file or a message can grow in, the
    /// same for both binaries (docs/security.md lists them with their defaults).
    #[serde(default)]
    pub limits: Limits,
}

/// `[metrics]`: what the daemons (`run`, `watch`) expose for Prometheus. Off unless set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `GET /metrics` on this `ADDRESS:PORT`, e.g. `"127.0.0.1:9464"`. Unset = no
    /// listener. Only a loopback or private address is accepted (validated at start): a
    /// metrics port must not face the internet.
    #[serde(default, deserialize_with = "de_opt_socket_addr")]
    pub listen: Option<SocketAddr>,
    /// Also write the metrics to this file, atomically, for node_exporter's textfile
    /// collector (e.g. `/var/lib/node_exporter/textfile_collector/reportsengine.prom`).
    /// Unset = no file. Its directory must exist and be writable (under systemd: a
    /// `ReadWritePaths=` drop-in).
    #[serde(default)]
    pub textfile: Option<PathBuf>,
    /// How often the textfile is rewritten. Default 15 s, node_exporter's usual scrape.
    #[serde(default = "default_textfile_interval", deserialize_with = "de_duration")]
    pub textfile_interval: Duration,
}

fn default_textfile_interval() -> Duration {
    Duration::from_secs(15)
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: None,
            textfile: None,
            textfile_interval: default_textfile_interval(),
        }
    }
}

/// `[doctor]`: what only `doctor` reads.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoctorConfig {
    /// The lab's *other* bucket (the stack's `UnrestrictedS3Bucket` output): `doctor --controls`
    /// checks that a write to it is denied through the S3 gateway endpoint. `configure` writes
    /// it; unset = that check is skipped unless `--unrestricted-bucket` names one.
    #[serde(default)]
    pub unrestricted_bucket: Option<String>,
}

/// `[endpoints]`: pinned endpoints, how to address them, and how long to wait for them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointsConfig {
    /// S3 endpoint URL; unset = the SDK's default for the region (or `AWS_ENDPOINT_URL_S3`).
    #[serde(default)]
    pub s3: Option<String>,
    /// SQS endpoint URL, e.g. the interface endpoint's `https://vpce-….sqs.REGION.vpce.amazonaws.com`;
    /// unset = the SDK's default (or `AWS_ENDPOINT_URL_SQS`).
    #[serde(default)]
    pub sqs: Option<String>,
    /// Path-style S3 addressing (`http://host/bucket/key`). Default false; true for the emulator.
    #[serde(default)]
    pub force_path_style: bool,
    /// Refuse to start when the SQS endpoint resolves to a non-private address (the interface
    /// endpoint's private DNS is not in effect). Default false; `configure` writes true.
    #[serde(default)]
    pub require_private_sqs: bool,
    /// TCP connect timeout of every AWS call. Default 5 s: a connect to a VPC endpoint takes
    /// milliseconds; a security group that drops packets makes it hang instead.
    #[serde(default = "default_connect_timeout", deserialize_with = "de_duration")]
    pub connect_timeout: Duration,
    /// Timeout of one attempt of an AWS call (ReceiveMessage: the long poll plus up to 10 s
    /// more), and the longest a GetObject body may send nothing. Default 30 s. Lower it to
    /// notice a dead endpoint sooner (the end-to-end tests use 2 s).
    #[serde(default = "default_attempt_timeout", deserialize_with = "de_duration")]
    pub attempt_timeout: Duration,
    /// How long a one-shot command (`upload`, `once`) keeps retrying a service that stays
    /// unreachable, on top of the SDK's own attempts, before it exits 69 naming the operation
    /// and the endpoint. Default 60 s. The daemons (`run`, `watch`) retry for as long as it
    /// takes; `doctor` makes each call once.
    #[serde(default = "default_give_up_after", deserialize_with = "de_duration")]
    pub give_up_after: Duration,
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_attempt_timeout() -> Duration {
    DEFAULT_ATTEMPT_TIMEOUT
}
fn default_give_up_after() -> Duration {
    Duration::from_secs(60)
}

impl Default for EndpointsConfig {
    fn default() -> Self {
        EndpointsConfig {
            s3: None,
            sqs: None,
            force_path_style: false,
            require_private_sqs: false,
            connect_timeout: default_connect_timeout(),
            attempt_timeout: default_attempt_timeout(),
            give_up_after: default_give_up_after(),
        }
    }
}

/// `[salesapp]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesappConfig {
    /// The spool daemon's directory (`incoming/`, `done/`, `failed/`). Default
    /// `/var/lib/salesapp/spool`.
    #[serde(default = "default_spool_dir")]
    pub spool_dir: PathBuf,
    /// How often `watch` scans `incoming/`. Default 2 s: a daily file does not need
    /// sub-second latency, and a scan is one `readdir`.
    #[serde(default = "default_poll_interval", deserialize_with = "de_duration")]
    pub poll_interval: Duration,
    /// How long a file's size and mtime must stay unchanged before `watch` takes it, so a
    /// file still being written in place is not taken half-way. Default 5 s.
    #[serde(default = "default_settle_time", deserialize_with = "de_duration")]
    pub settle_time: Duration,
    /// How long the file being uploaded may run after SIGTERM. Default 25 s; must be below
    /// systemd's stop timeout (30 s).
    #[serde(default = "default_shutdown_grace", deserialize_with = "de_duration")]
    pub shutdown_grace: Duration,
}

fn default_spool_dir() -> PathBuf {
    PathBuf::from("/var/lib/salesapp/spool")
}

fn default_poll_interval() -> Duration {
    Duration::from_secs(2)
}
fn default_settle_time() -> Duration {
    Duration::from_secs(5)
}

impl Default for SalesappConfig {
    fn default() -> Self {
        SalesappConfig {
            spool_dir: default_spool_dir(),
            poll_interval: default_poll_interval(),
            settle_time: default_settle_time(),
            shutdown_grace: default_shutdown_grace(),
        }
    }
}

/// `[reportsengine]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// Messages processed at once. Default 4.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Long-poll wait of ReceiveMessage, at most 20 s. Default 20 s.
    #[serde(default = "default_wait_time", deserialize_with = "de_duration")]
    pub wait_time: Duration,
    /// The queue's visibility timeout *as set on the queue* (it cannot be read: no
    /// `sqs:GetQueueAttributes`). Used to warn before a message is redelivered mid-work.
    /// Default 30 s, the queue's default.
    #[serde(default = "default_visibility_timeout", deserialize_with = "de_duration")]
    pub visibility_timeout: Duration,
    /// How long in-flight messages may run after SIGTERM. Default 25 s; must be below
    /// systemd's stop timeout (30 s).
    #[serde(default = "default_shutdown_grace", deserialize_with = "de_duration")]
    pub shutdown_grace: Duration,
    /// Larger sales objects are quarantined unread. Default 10 GiB.
    #[serde(default = "default_max_object_size", deserialize_with = "de_size")]
    pub max_object_size: u64,
    /// How many connections read a large sales object at once (parallel ranged GETs, each
    /// `read_part_size`). Default 8; 1 reads every object over one stream.
    #[serde(default = "default_read_connections")]
    pub read_connections: usize,
    /// The size of one ranged GET; objects larger than one part are read in parts. Memory
    /// for the object is at most `read_connections × read_part_size`. Default 4 MiB.
    #[serde(default = "default_read_part_size", deserialize_with = "de_size")]
    pub read_part_size: u64,
    /// Accept only messages naming keys under this prefix (e.g. `"sales/"`). Unset = any key
    /// of the bucket but the daemons' own prefixes (`reports/`, `quarantine/`, `doctor/`,
    /// `compensation/`), as the lab's by-hand flow needs (docs/design.md, The key rule).
    #[serde(default)]
    pub input_prefix: Option<String>,
}

fn default_concurrency() -> usize {
    4
}
fn default_wait_time() -> Duration {
    Duration::from_secs(20)
}
fn default_visibility_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_shutdown_grace() -> Duration {
    Duration::from_secs(25)
}
fn default_read_connections() -> usize {
    8
}
fn default_read_part_size() -> u64 {
    4 << 20
}
fn default_max_object_size() -> u64 {
    10 << 30
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            concurrency: default_concurrency(),
            wait_time: default_wait_time(),
            visibility_timeout: default_visibility_timeout(),
            shutdown_grace: default_shutdown_grace(),
            max_object_size: default_max_object_size(),
            read_connections: default_read_connections(),
            read_part_size: default_read_part_size(),
            input_prefix: None,
        }
    }
}

/// Which configuration file to read: the flag, else `$VPCE_LAB_CONFIG`, else the default.
pub fn config_path(flag: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| env(CONFIG_ENV).filter(|s| !s.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH))
}

impl Config {
    /// Reads the file at `path`, overlays `env_vars` (all of the process's `VPCE_LAB_*`
    /// variables) and `sets` (`section.key=value` flags), then validates.
    pub fn load(path: &Path, env_vars: &[(String, String)], sets: &[String]) -> Result<Config> {
        Effective::load(path, env_vars, sets).map(|effective| effective.config)
    }

    /// [`Config::load`] without the file system: `origin` names the text in errors.
    pub fn from_parts(
        origin: &str,
        text: &str,
        env_vars: &[(String, String)],
        sets: &[String],
    ) -> Result<Config> {
        Effective::from_parts(origin, text, env_vars, sets).map(|effective| effective.config)
    }
}

#[cfg(test)]
mod tests;
