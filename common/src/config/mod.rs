//! The one configuration of both binaries (SPEC §3): a TOML file, overridden by
//! `VPCE_LAB_<SECTION>_<KEY>` environment variables, overridden by `--set section.key=value`
//! flags; parsed once at start, validated once, then passed around read-only.
//!
//! Unknown keys are errors wherever they come from (file, environment, flag): a misspelt
//! `visibilty_timeout` silently falling back to a default is exactly the kind of mistake
//! that surfaces months later as a message processed twice.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::failure::{Error, Result};
pub use sales_domain::limits::Limits;
pub use sales_domain::money::Compensation;
use values::{de_duration, de_opt_socket_addr, de_size};
pub use values::{parse_size, url_host, url_port};

mod overlay;
mod validate;
mod values;

/// Where the configuration is read from when neither `--config` nor `$VPCE_LAB_CONFIG` is set.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/vpce-lab/config.toml";

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "VPCE_LAB_CONFIG";

/// Prefix of the per-key environment overrides.
const ENV_PREFIX: &str = "VPCE_LAB_";

/// systemd's `TimeoutStopSec=` in our units (`systemd/*.service`). `shutdown_grace` must end
/// before systemd stops waiting and sends SIGKILL, or in-flight work is cut mid-way.
pub const SYSTEMD_STOP_TIMEOUT: Duration = Duration::from_secs(30);

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
    pub endpoints: Endpoints,
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
pub struct Endpoints {
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
    crate::aws::ATTEMPT_TIMEOUT
}
fn default_give_up_after() -> Duration {
    Duration::from_secs(60)
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
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
    /// `compensation/`), as the lab's by-hand flow needs (SPEC §5).
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
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(format!(
                "cannot read {}: {e} (choose the file with --config PATH or ${CONFIG_ENV}; \
                 `salesapp configure` writes one from the lab's stack outputs)",
                path.display()
            ))
        })?;
        Self::from_parts(&path.display().to_string(), &text, env_vars, sets)
    }

    /// [`Config::load`] without the file system: `origin` names the text in errors.
    pub fn from_parts(
        origin: &str,
        text: &str,
        env_vars: &[(String, String)],
        sets: &[String],
    ) -> Result<Config> {
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| Error::config(format!("{origin}: {e}")))?;
        overlay::apply(&mut table, env_vars, sets)?;
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| Error::config(format!("{origin}: {}", e.message())))?;
        config.validate().map_err(|e| Error::config(format!("{origin}: {e}")))?;
        Ok(config)
    }
}

/// What the commands that need no AWS read (`salesapp validate`, `salesapp upload
/// --dry-run`, `reportsengine build`): the limits and the rates. From the configuration
/// file when there is one; without one, the documented defaults with the `VPCE_LAB_*`
/// variables and `--set` flags applied as usual, so these commands work on any machine.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalSettings {
    pub limits: Limits,
    pub compensation: Compensation,
    /// The file they came from (`None`: no file, the defaults).
    pub file: Option<PathBuf>,
}

impl LocalSettings {
    /// From `path` when given (a file that must then be a valid configuration), else from
    /// the defaults, `env_vars` and `sets`.
    pub fn load(
        path: Option<&Path>,
        env_vars: &[(String, String)],
        sets: &[String],
    ) -> Result<LocalSettings> {
        if let Some(path) = path {
            let c = Config::load(path, env_vars, sets)?;
            return Ok(LocalSettings {
                limits: c.limits,
                compensation: c.compensation,
                file: Some(path.to_path_buf()),
            });
        }
        let mut table = toml::Table::new();
        overlay::apply(&mut table, env_vars, sets)?;
        let section =
            |name: &str| table.get(name).cloned().unwrap_or(toml::Value::Table(toml::Table::new()));
        let bad = |e: toml::de::Error| Error::config(e.message().to_string());
        let limits: Limits = section("limits").try_into().map_err(bad)?;
        let compensation: Compensation = section("compensation").try_into().map_err(bad)?;
        limits.check().map_err(Error::config)?;
        Ok(LocalSettings { limits, compensation, file: None })
    }
}

#[cfg(test)]
mod tests {
    use super::overlay::{Kind, KEYS};
    use super::*;

    const MINIMAL: &str = r#"
bucket = "local-restrictedbucket"
queue_url = "http://127.0.0.1:5000/123456789012/q"
"#;

    fn load(text: &str, env: &[(&str, &str)], sets: &[&str]) -> Result<Config> {
        let env: Vec<(String, String)> =
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Config::from_parts("test.toml", text, &env, &sets)
    }

    #[test]
    fn defaults_are_documented_values() {
        let c = load(MINIMAL, &[], &[]).unwrap();
        assert_eq!(c.compensation.commission_bps, 500);
        assert_eq!(c.reportsengine.concurrency, 4);
        assert_eq!(c.reportsengine.wait_time, Duration::from_secs(20));
        assert_eq!(c.reportsengine.visibility_timeout, Duration::from_secs(30));
        assert_eq!(c.reportsengine.shutdown_grace, Duration::from_secs(25));
        assert_eq!(c.reportsengine.max_object_size, 10 << 30);
        assert_eq!(c.salesapp.spool_dir, PathBuf::from("/var/lib/salesapp/spool"));
        assert_eq!(c.salesapp.poll_interval, Duration::from_secs(2));
        assert_eq!(c.salesapp.settle_time, Duration::from_secs(5));
        assert_eq!(c.salesapp.shutdown_grace, Duration::from_secs(25));
        assert!(!c.endpoints.force_path_style);
        assert_eq!(c.endpoints.connect_timeout, Duration::from_secs(5));
        assert_eq!(c.endpoints.attempt_timeout, Duration::from_secs(30));
        assert_eq!(c.endpoints.give_up_after, Duration::from_secs(60));
        assert_eq!(c.reportsengine.input_prefix, None);
        assert_eq!(
            (c.reportsengine.read_connections, c.reportsengine.read_part_size),
            (8, 4 << 20)
        );
        assert_eq!(c.metrics, MetricsConfig::default());
        assert_eq!(c.metrics.listen, None);
        assert_eq!(c.metrics.textfile_interval, Duration::from_secs(15));
        assert_eq!(c.limits, Limits::default());
    }

    /// `[limits]` like every section: from the file, `VPCE_LAB_LIMITS_*`, `--set`; unknown
    /// keys and values out of their range refused with the key named.
    #[test]
    fn limits_are_a_section_like_the_others() {
        let c = load(&format!("{MINIMAL}\n[limits]\nmax_reps = 5000\n"), &[], &[]).unwrap();
        assert_eq!(c.limits, Limits { max_reps: 5000, ..Limits::default() });
        let c = load(
            MINIMAL,
            &[("VPCE_LAB_LIMITS_MAX_PRODUCTS", "7")],
            &["limits.max_line_bytes=2048"],
        )
        .unwrap();
        assert_eq!((c.limits.max_products, c.limits.max_line_bytes), (7, 2048));
        let err = load(&format!("{MINIMAL}\n[limits]\nmax_rep = 1\n"), &[], &[]).unwrap_err();
        assert!(err.to_string().contains("max_rep"), "{err}");
        for field in Limits::default().fields() {
            let listed = KEYS.iter().any(|(s, k, _)| *s == "limits" && *k == field.key);
            assert!(listed, "limits.{} has no VPCE_LAB_LIMITS_* / --set entry", field.key);
        }
        let err = load(MINIMAL, &[], &["limits.max_columns=3"]).unwrap_err();
        assert_eq!(err.exit_code(), 78);
        assert!(err.to_string().contains("limits.max_columns = 3"), "{err}");
    }

    /// Without a file, the defaults with the variables and flags; with one, the file's.
    #[test]
    fn local_settings_need_no_file() {
        let env = [("VPCE_LAB_LIMITS_MAX_REPS".to_string(), "9".to_string())];
        let sets = ["compensation.commission_bps=250".to_string()];
        let s = LocalSettings::load(None, &env, &sets).unwrap();
        assert_eq!(s.limits, Limits { max_reps: 9, ..Limits::default() });
        assert_eq!((s.compensation.commission_bps, s.file), (250, None));
        assert!(LocalSettings::load(None, &[], &["limits.max_reps=0".into()]).is_err());
        assert!(LocalSettings::load(None, &[], &["limits.nope=1".into()]).is_err());
        let missing = Path::new("/nonexistent/vpce-lab.toml");
        assert_eq!(LocalSettings::load(Some(missing), &[], &[]).unwrap_err().exit_code(), 78);
    }

    #[test]
    fn spec_example_parses() {
        let text = r#"
region = "us-east-1"
bucket = "123456789012-lab-us-east-1-restrictedbucket"
queue_url = "https://sqs.us-east-1.amazonaws.com/123456789012/lab-us-east-1-sqs-queue"
[endpoints]
s3 = "https://s3.us-east-1.amazonaws.com"
sqs = "https://sqs.us-east-1.amazonaws.com"
force_path_style = false
require_private_sqs = true
[compensation]
commission_bps = 500
[compensation.overrides]
"Ada Lovelace" = 700
[salesapp]
spool_dir = "/var/lib/salesapp/spool"
[reportsengine]
concurrency = 4
wait_time = "20s"
visibility_timeout = "30s"
shutdown_grace = "25s"
max_object_size = "10GiB"
"#;
        let c = load(text, &[], &[]).unwrap();
        assert_eq!(c.compensation.rate_bps("Ada Lovelace"), 700);
        assert_eq!(c.compensation.rate_bps("Grace Hopper"), 500);
        assert!(c.endpoints.require_private_sqs);
    }

    #[test]
    fn unknown_key_is_named() {
        let err =
            load(&format!("{MINIMAL}\n[reportsengine]\nvisibilty_timeout = \"30s\"\n"), &[], &[])
                .unwrap_err()
                .to_string();
        assert!(err.contains("visibilty_timeout"), "{err}");
        let err = load(&format!("{MINIMAL}\ncolour = 1\n"), &[], &[]).unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn env_beats_file_and_flag_beats_env() {
        let c = load(
            MINIMAL,
            &[("VPCE_LAB_REPORTSENGINE_CONCURRENCY", "8"), ("VPCE_LAB_BUCKET", "other-bucket")],
            &[],
        )
        .unwrap();
        assert_eq!(c.reportsengine.concurrency, 8);
        assert_eq!(c.bucket, "other-bucket");
        let c = load(
            MINIMAL,
            &[("VPCE_LAB_REPORTSENGINE_CONCURRENCY", "8")],
            &["reportsengine.concurrency=2", "endpoints.force_path_style=true"],
        )
        .unwrap();
        assert_eq!(c.reportsengine.concurrency, 2);
        assert!(c.endpoints.force_path_style);
    }

    #[test]
    fn unknown_env_and_flag_keys_are_errors() {
        assert!(load(MINIMAL, &[("VPCE_LAB_REPORTSENGINE_CONCURENCY", "8")], &[]).is_err());
        assert!(load(MINIMAL, &[], &["reportsengine.nope=1"]).is_err());
        assert!(load(MINIMAL, &[], &["no-equals"]).is_err());
        // The config path variable itself is not a key.
        assert!(load(MINIMAL, &[("VPCE_LAB_CONFIG", "/x")], &[]).is_ok());
    }

    #[test]
    fn every_listed_key_is_accepted() {
        for (section, key, kind) in KEYS {
            let limit = Limits::default().fields().into_iter().find(|f| f.key == *key);
            let limit = limit.filter(|_| *section == "limits").map(|f| f.value.to_string());
            let raw = match (kind, *key) {
                (Kind::Int, _) if limit.is_some() => limit.as_deref().unwrap_or_default(),
                (Kind::Int, _) => "4",
                (Kind::Bool, _) => "true",
                (
                    _,
                    "wait_time" | "visibility_timeout" | "shutdown_grace" | "poll_interval"
                    | "settle_time" | "connect_timeout" | "attempt_timeout" | "give_up_after"
                    | "textfile_interval",
                ) => "5s",
                (_, "listen") => "127.0.0.1:9464",
                (_, "textfile") => "/var/lib/node_exporter/textfile_collector/x.prom",
                (_, "input_prefix") => "incoming/",
                (_, "max_object_size" | "read_part_size") => "8MiB",
                (_, "bucket") => "some-bucket",
                (_, "region") => "eu-west-1",
                (_, "queue_url" | "s3" | "sqs") => "https://example.invalid/1/q",
                _ => "value",
            };
            let dotted =
                if section.is_empty() { key.to_string() } else { format!("{section}.{key}") };
            load(MINIMAL, &[], &[&format!("{dotted}={raw}")])
                .unwrap_or_else(|e| panic!("{dotted}: {e}"));
        }
    }

    #[test]
    fn validation_rejects_unsafe_values() {
        for bad in [
            "reportsengine.wait_time=21s",
            "reportsengine.shutdown_grace=30s",
            "salesapp.shutdown_grace=30s",
            "salesapp.poll_interval=0s",
            "reportsengine.concurrency=0",
            "reportsengine.max_object_size=0",
            "queue_url=ftp://x/q",
            "bucket=Bad_Bucket",
            "compensation.commission_bps=10001",
            "endpoints.attempt_timeout=0s",
            "endpoints.connect_timeout=10ms",
            "endpoints.give_up_after=2h",
            "reportsengine.input_prefix=reports/",
            "reportsengine.read_connections=0",
            "reportsengine.read_part_size=1KiB",
            "reportsengine.input_prefix=/abs/",
            "metrics.listen=8.8.8.8:9464",
            "metrics.listen=0.0.0.0:9464",
            "metrics.listen=[::]:9464",
            "metrics.listen=[2001:db8::1]:9464",
            "metrics.listen=localhost:9464",
            "metrics.listen=127.0.0.1",
            "metrics.textfile=relative.prom",
            "metrics.textfile_interval=100ms",
            "limits.max_reps=0",
            "limits.max_message_bytes=2000000",
        ] {
            assert!(load(MINIMAL, &[], &[bad]).is_err(), "{bad} accepted");
        }
    }

    /// A metrics port may face only this host or the private network.
    #[test]
    fn metrics_listen_accepts_loopback_and_private_addresses() {
        for good in
            ["127.0.0.1:9464", "[::1]:9464", "10.0.1.5:9464", "192.168.1.2:1", "[fd00::5]:9"]
        {
            let c = load(MINIMAL, &[], &[&format!("metrics.listen={good}")])
                .unwrap_or_else(|e| panic!("{good}: {e}"));
            assert_eq!(c.metrics.listen, Some(good.parse().unwrap()));
        }
        let err = load(MINIMAL, &[], &["metrics.listen=8.8.8.8:9464"]).unwrap_err();
        assert_eq!(err.exit_code(), 78);
        assert!(err.to_string().contains("metrics.listen"), "{err}");
        assert!(err.to_string().contains("public"), "{err}");
        let c = load(MINIMAL, &[("VPCE_LAB_METRICS_LISTEN", "127.0.0.1:9100")], &[]).unwrap();
        assert_eq!(c.metrics.listen, Some("127.0.0.1:9100".parse().unwrap()));
    }

    #[test]
    fn sizes_and_urls() {
        assert_eq!(parse_size("10GiB").unwrap(), 10 << 30);
        assert_eq!(parse_size("512 MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("1.5GiB").is_err());
        assert!(parse_size("99999999999TiB").is_err());
        assert_eq!(
            url_host("https://sqs.us-east-1.amazonaws.com/1/q"),
            Some("sqs.us-east-1.amazonaws.com")
        );
        assert_eq!(url_host("http://127.0.0.1:5000"), Some("127.0.0.1"));
        assert_eq!(url_host("http://[::1]:5000/x"), Some("::1"));
        assert_eq!(url_port("http://127.0.0.1:5000"), 5000);
        assert_eq!(url_port("https://sqs.us-east-1.amazonaws.com/1/q"), 443);
        assert_eq!(url_port("http://[::1]/x"), 80);
    }
}
