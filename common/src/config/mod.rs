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

use crate::failure::{Error, Result};
pub use sales_domain::money::Compensation;
use values::{de_duration, de_opt_socket_addr, de_size};
pub use values::{mask_url, parse_size, url_host, url_port};

mod keys;
mod overlay;
mod permissions;
mod sources;
mod validate;
mod values;

pub use keys::{markdown_table, sections, Key, KeyDefault, ValueType, KEYS};
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

/// The configuration in effect, with where each value came from: what `config` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    pub config: Config,
    /// The file's path (or the name of the text).
    pub origin: String,
    pub sources: Sources,
    /// The file's table with the variables and flags overlaid: each value as it was given.
    given: toml::Table,
}

impl Effective {
    /// Reads the file at `path` (refused when others may write it, see
    /// [`permissions::check`]), overlays `env_vars` and `sets`, then validates.
    pub fn load(path: &Path, env_vars: &[(String, String)], sets: &[String]) -> Result<Effective> {
        let unreadable = |e: std::io::Error| {
            Error::config(format!("cannot read {}: {e}", path.display())).hint(format!(
                "Choose the file with --config PATH or ${CONFIG_ENV}; `salesapp configure \
                 --stack-outputs outputs.json -o {}` writes one from the lab's stack outputs.",
                path.display()
            ))
        };
        let mut file = std::fs::File::open(path).map_err(unreadable)?;
        let metadata = file.metadata().map_err(unreadable)?;
        permissions::check(path, &metadata, permissions::effective_uid())?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file, &mut text).map_err(unreadable)?;
        Self::from_parts(&path.display().to_string(), &text, env_vars, sets)
    }

    /// [`Effective::load`] without the file system: `origin` names the text in errors.
    pub fn from_parts(
        origin: &str,
        text: &str,
        env_vars: &[(String, String)],
        sets: &[String],
    ) -> Result<Effective> {
        let mut sources = Sources::of_file(origin, text)?;
        let mut table: toml::Table = toml::from_str(text)
            .map_err(|e| Error::config(format!("{origin}: not valid TOML: {}", e.message())))?;
        overlay::apply(&mut table, env_vars, sets, &mut sources)?;
        let config: Config = serde_path_to_error::deserialize(toml::Value::Table(table.clone()))
            .map_err(|e| {
                // The document itself is `.` to serde_path_to_error: no key.
                let key = e.path().to_string().trim_start_matches('.').to_string();
                let message = wrong_value(&key, e.inner().message(), &table);
                Error::config(sources.locate(origin, &key, &message)).hint(keys::ADVICE)
            })?;
        config.validate().map_err(|message| {
            let key = key_of(&message);
            Error::config(sources.locate(origin, &key, &message)).hint(keys::ADVICE)
        })?;
        Ok(Effective { config, origin: origin.to_string(), sources, given: table })
    }

    /// Every key with its value in effect, as TOML (masked where it could carry a secret;
    /// `unset` when it has none) and its source, in the order of [`KEYS`]; a per-rep rate
    /// of `[compensation.overrides]` is a row of its own.
    pub fn rows(&self) -> Vec<(String, String, Source)> {
        let mut rows = Vec::new();
        for key in KEYS {
            let dotted = key.dotted();
            let given = match key.section {
                "" => self.given.get(key.name),
                section => self.given.get(section).and_then(|t| t.get(key.name)),
            };
            if let (ValueType::Table, Some(toml::Value::Table(entries))) = (key.value, given) {
                for (name, value) in entries {
                    let entry = format!("{dotted}.{name:?}");
                    let source = self.sources.of(&entry).clone();
                    rows.push((entry, shown(value), source));
                }
                continue;
            }
            let value = match (given, key.default) {
                (Some(value), _) => shown(value),
                (None, KeyDefault::Is(default)) => default.to_string(),
                (None, _) => "unset".to_string(),
            };
            rows.push((dotted.clone(), value, self.sources.of(&dotted).clone()));
        }
        rows
    }
}

/// A value as TOML, with a URL's user name and password masked.
fn shown(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => toml::Value::String(mask_url(text)).to_string(),
        other => other.to_string(),
    }
}

/// The dotted key a validation message is about: the longest known key it starts with (see
/// `validate.rs`), a per-rep rate included.
fn key_of(message: &str) -> String {
    let overrides = "compensation.overrides.";
    if let Some(rest) = message.strip_prefix(overrides) {
        // `compensation.overrides."Ada Lovelace" = …`: the quoted name is part of the key.
        if let Some(end) = rest.strip_prefix('"').and_then(|r| r.find("\" ")) {
            return format!("{overrides}{}", &rest[..end + 2]);
        }
    }
    KEYS.iter()
        .map(Key::dotted)
        .filter(|dotted| {
            message.strip_prefix(dotted.as_str()).is_some_and(|rest| rest.starts_with([' ', ':']))
        })
        .max_by_key(String::len)
        .unwrap_or_default()
}

/// What serde said about `key`'s value, in the key's terms: the TOML value given and what
/// the key takes (`reportsengine.concurrency = "one": expected a whole number`), rather than
/// serde's (`invalid type: string "one", expected usize`).
fn wrong_value(key: &str, serde_says: &str, table: &toml::Table) -> String {
    let (section, name) = key.rsplit_once('.').unwrap_or(("", key));
    let wrong_type =
        serde_says.starts_with("invalid type") || serde_says.starts_with("invalid value");
    let given = match section {
        "" => table.get(name),
        section => table.get(section).and_then(|t| t.get(name)),
    };
    match (sources::find(section, name), given) {
        (Some(known), Some(value)) if wrong_type => {
            let expected = match known.value {
                ValueType::Str => "a string in quotes",
                ValueType::Int => "a whole number",
                ValueType::Bool => "true or false",
                ValueType::Duration => "a duration in quotes, like \"20s\"",
                ValueType::Size => "a size like \"10GiB\", or a number of bytes",
                ValueType::Table => "a table",
            };
            let value = match value {
                toml::Value::Table(_) => "a table".to_string(),
                toml::Value::Array(_) => "an array".to_string(),
                value => shown(value),
            };
            format!("{key} = {value}: expected {expected}")
        }
        _ if serde_says.starts_with("missing field") => {
            let missing = serde_says.trim_start_matches("missing field ").trim_matches('`');
            let dotted =
                if key.is_empty() { missing.to_string() } else { format!("{key}.{missing}") };
            format!("{dotted} is required and not set")
        }
        _ if key.is_empty() => serde_says.to_string(),
        _ => format!("{key}: {serde_says}"),
    }
}

#[cfg(test)]
mod tests {
    use super::keys::{ValueType, KEYS};
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
        assert!(
            err.starts_with(
                "test.toml:6: `reportsengine.visibilty_timeout` is not a configuration key; did \
                 you mean `reportsengine.visibility_timeout`?"
            ),
            "{err}"
        );
        let err = load(&format!("{MINIMAL}\ncolour = 1\n"), &[], &[]).unwrap_err().to_string();
        assert!(err.starts_with("test.toml:5: `colour` is not a configuration key"), "{err}");
        assert!(!err.contains("did you mean"), "nothing near: {err}");
        let err = load(MINIMAL, &[("VPCE_LAB_REPORTSENGINE_CONCURENCY", "8")], &[]).unwrap_err();
        assert!(
            err.to_string().contains("did you mean VPCE_LAB_REPORTSENGINE_CONCURRENCY?"),
            "{err}"
        );
        let err = load(MINIMAL, &[], &["reportengine.concurrency=8"]).unwrap_err();
        assert!(err.to_string().contains("did you mean `reportsengine.concurrency`?"), "{err}");
    }

    /// A value of the wrong type, or out of its bounds, names the key and where the value
    /// came from: the file's line, the variable, or the flag.
    #[test]
    fn errors_name_the_key_and_where_its_value_came_from() {
        let file = format!("{MINIMAL}[reportsengine]\nconcurrency = \"one\"\n");
        let err = load(&file, &[], &[]).unwrap_err();
        assert_eq!(err.exit_code(), 78);
        assert!(
            err.to_string().starts_with(
                "test.toml:5: reportsengine.concurrency = \"one\": expected a whole number"
            ),
            "{err}"
        );
        let err = load(MINIMAL, &[("VPCE_LAB_REPORTSENGINE_WAIT_TIME", "0s")], &[]).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "VPCE_LAB_REPORTSENGINE_WAIT_TIME: reportsengine.wait_time = 0s must be 1s to 20s"
            ),
            "{err}"
        );
        let err = load(MINIMAL, &[], &["salesapp.settle_time=forever"]).unwrap_err();
        assert!(err.to_string().starts_with("--set salesapp.settle_time: "), "{err}");
        assert!(err.to_string().contains("is not a duration"), "{err}");
        let file = format!("{MINIMAL}\n[compensation.overrides]\n\"Ada Lovelace\" = 20000\n");
        let err = load(&file, &[], &[]).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "test.toml:6: compensation.overrides.\"Ada Lovelace\" = 20000 bps is above 100 %"
            ),
            "{err}"
        );
        let err = load("bucket = \"b-b\"\n", &[], &[]).unwrap_err();
        assert!(err.to_string().starts_with("test.toml: queue_url is required"), "{err}");
        let err = load(&format!("{MINIMAL}reportsengine = 4\n"), &[], &[]).unwrap_err();
        assert!(err.to_string().starts_with("test.toml:4: `reportsengine` is a section"), "{err}");
    }

    /// A URL's user name and password are never echoed, not even in the error that refuses
    /// them, nor in `config`'s listing.
    #[test]
    fn userinfo_in_a_url_is_refused_and_never_shown() {
        let file = format!("{MINIMAL}[endpoints]\ns3 = \"http://user:s3cr3t@127.0.0.1:1\"\n");
        let err = load(&file, &[], &[]).unwrap_err().to_string();
        assert!(err.starts_with("test.toml:5: endpoints.s3 = \"http://***@127.0.0.1:1\""), "{err}");
        assert!(!err.contains("s3cr3t"), "{err}");
        let err = load(MINIMAL, &[], &["queue_url=https://u:s3cr3t@q.example/1/q"]).unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        let err = load(MINIMAL, &[], &["https://u:s3cr3t@q.example"]).unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        assert_eq!(mask_url("https://u:p@h:1/x?y"), "https://***@h:1/x?y");
        assert_eq!(mask_url("https://h/x@y"), "https://h/x@y", "an @ in the path is not userinfo");
    }

    /// What `config` lists: every key, its value in effect and where it came from.
    #[test]
    fn the_effective_configuration_lists_each_value_s_source() {
        let text = format!("{MINIMAL}[compensation.overrides]\n\"Ada Lovelace\" = 700\n");
        let effective = Effective::from_parts(
            "c.toml",
            &text,
            &[("VPCE_LAB_REPORTSENGINE_CONCURRENCY".into(), "8".into())],
            &["reportsengine.wait_time=5s".into()],
        )
        .expect("loads");
        let rows = effective.rows();
        let row = |key: &str| {
            rows.iter()
                .find(|(k, _, _)| k == key)
                .map(|(_, v, s)| (v.clone(), s.to_string()))
                .unwrap_or_else(|| panic!("no row {key}: {rows:?}"))
        };
        assert_eq!(row("bucket"), ("\"local-restrictedbucket\"".into(), "c.toml:2".into()));
        assert_eq!(
            row("reportsengine.concurrency"),
            ("8".into(), "env VPCE_LAB_REPORTSENGINE_CONCURRENCY".into())
        );
        assert_eq!(row("reportsengine.wait_time"), ("\"5s\"".into(), "--set".into()));
        assert_eq!(row("reportsengine.visibility_timeout"), ("\"30s\"".into(), "default".into()));
        assert_eq!(row("region"), ("unset".into(), "default".into()));
        assert_eq!(
            row("compensation.overrides.\"Ada Lovelace\""),
            ("700".into(), "c.toml:5".into())
        );
        let listed = rows.len();
        let keys = KEYS.len();
        assert_eq!(listed, keys, "one row per key (the one override standing for its table)");
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
        for key in KEYS.iter().filter(|k| k.value != ValueType::Table) {
            let raw = match (key.value, key.name) {
                (ValueType::Int, _) => "4",
                (ValueType::Bool, _) => "true",
                (ValueType::Duration, _) => "5s",
                (ValueType::Size, _) => "8MiB",
                (_, "listen") => "127.0.0.1:9464",
                (_, "textfile") => "/var/lib/node_exporter/textfile_collector/x.prom",
                (_, "spool_dir") => "/srv/spool",
                (_, "input_prefix") => "incoming/",
                (_, "bucket") => "some-bucket",
                (_, "region") => "eu-west-1",
                (_, "queue_url" | "s3" | "sqs") => "https://example.invalid/1/q",
                _ => "value",
            };
            let dotted = key.dotted();
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
            "metrics.textfile=",
            "reportsengine.wait_time=0s",
            "reportsengine.wait_time=500ms",
            "reportsengine.visibility_timeout=13h",
            "reportsengine.input_prefix=",
            "salesapp.spool_dir=",
            "salesapp.spool_dir=spool",
            "salesapp.settle_time=2h",
            "endpoints.connect_timeout=2m",
            "endpoints.attempt_timeout=1h",
            "metrics.textfile_interval=2h",
        ] {
            let err = load(MINIMAL, &[], &[bad]).expect_err(bad);
            // Located: the flag and its key, so the key is found in the message.
            let (key, _) = bad.split_once('=').unwrap_or((bad, ""));
            assert!(err.to_string().starts_with(&format!("--set {key}: ")), "{bad}: {err}");
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
