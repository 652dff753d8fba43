//! The checks no type can express, run once at start so a daemon never discovers a bad
//! setting hours into its run. One function per section; the first failure is the error.
//!
//! Every message starts with the dotted key it is about (`reportsengine.wait_time = …`):
//! the loader finds there which key it is, and so the file and line (or the variable, or
//! the flag) the value came from. A value that could carry a secret (a URL's user name and
//! password) is shown masked.

use std::time::Duration;

use humantime::format_duration;
use sales_domain::keys::{check_input_key, is_valid_bucket_name};

use super::values::{check_url, mask_url};
use super::{
    Compensation, Config, EngineConfig, MetricsConfig, SalesappConfig, MAX_WAIT_TIME,
    SYSTEMD_STOP_TIMEOUT,
};

type Checked = std::result::Result<(), String>;

impl Config {
    /// Every check of every section.
    pub fn validate(&self) -> Checked {
        self.validate_resources()?;
        self.validate_endpoints()?;
        validate_compensation(&self.compensation)?;
        validate_salesapp(&self.salesapp)?;
        validate_engine(&self.reportsengine)?;
        validate_metrics(&self.metrics)?;
        self.limits.check()
    }

    /// The bucket, the queue, the region.
    fn validate_resources(&self) -> Checked {
        if !is_valid_bucket_name(&self.bucket) {
            return Err(format!("bucket {:?} is not a valid S3 bucket name", self.bucket));
        }
        check_url("queue_url", &self.queue_url)?;
        if self.queue_url.trim_end_matches('/').rsplit('/').next().is_none_or(str::is_empty) {
            return Err(format!(
                "queue_url {:?} does not end with the queue's name",
                mask_url(&self.queue_url)
            ));
        }
        if let Some(b) = &self.doctor.unrestricted_bucket {
            if !is_valid_bucket_name(b) {
                return Err(format!(
                    "doctor.unrestricted_bucket {b:?} is not a valid S3 bucket name"
                ));
            }
        }
        if let Some(region) = &self.region {
            if region.is_empty()
                || !region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return Err(format!("region {region:?} is not a region name like \"us-east-1\""));
            }
        }
        Ok(())
    }

    fn validate_endpoints(&self) -> Checked {
        let e = &self.endpoints;
        for (name, url) in [("endpoints.s3", &e.s3), ("endpoints.sqs", &e.sqs)] {
            if let Some(url) = url {
                check_url(name, url)?;
            }
        }
        within("endpoints.connect_timeout", e.connect_timeout, MILLIS_100, MINUTE)?;
        within("endpoints.attempt_timeout", e.attempt_timeout, MILLIS_100, 10 * MINUTE)?;
        within("endpoints.give_up_after", e.give_up_after, Duration::ZERO, HOUR)
    }
}

/// The rates, a per-rep one included: also what the commands without a configuration file
/// check ([`super::LocalSettings`]).
pub(super) fn validate_compensation(c: &Compensation) -> Checked {
    let rates = std::iter::once(("compensation.commission_bps".to_string(), &c.commission_bps))
        .chain(
            c.overrides.iter().map(|(rep, bps)| (format!("compensation.overrides.{rep:?}"), bps)),
        );
    for (key, bps) in rates {
        if *bps > 10_000 {
            return Err(format!("{key} = {bps} bps is above 100 % (at most 10000)"));
        }
    }
    Ok(())
}

fn validate_salesapp(s: &SalesappConfig) -> Checked {
    if s.spool_dir.as_os_str().is_empty() {
        return Err("salesapp.spool_dir is empty: it would be the current directory".into());
    }
    if !s.spool_dir.is_absolute() {
        return Err(format!(
            "salesapp.spool_dir = {:?} must be an absolute path (a daemon's current directory \
             is /)",
            s.spool_dir.display().to_string()
        ));
    }
    within("salesapp.poll_interval", s.poll_interval, Duration::from_millis(10), HOUR)?;
    within("salesapp.settle_time", s.settle_time, Duration::ZERO, HOUR)?;
    below_systemd_stop("salesapp.shutdown_grace", s.shutdown_grace, "the upload in progress")
}

fn validate_engine(e: &EngineConfig) -> Checked {
    if !(1..=64).contains(&e.concurrency) {
        return Err(format!("reportsengine.concurrency = {} must be 1 to 64", e.concurrency));
    }
    // Below 1 s ReceiveMessage short-polls: an idle engine would call it many times a
    // second, each a paid request.
    within("reportsengine.wait_time", e.wait_time, SECOND, MAX_WAIT_TIME)
        .map_err(|why| format!("{why} (SQS long-polls 1 to 20 s; 0 would short-poll)"))?;
    within("reportsengine.visibility_timeout", e.visibility_timeout, SECOND, MAX_VISIBILITY)?;
    below_systemd_stop("reportsengine.shutdown_grace", e.shutdown_grace, "in-flight work")?;
    if !(1..=32).contains(&e.read_connections) {
        return Err(format!(
            "reportsengine.read_connections = {} must be 1 to 32",
            e.read_connections
        ));
    }
    if !((1 << 20)..=(64 << 20)).contains(&e.read_part_size) {
        return Err("reportsengine.read_part_size must be between 1MiB and 64MiB".into());
    }
    if e.max_object_size == 0 {
        return Err("reportsengine.max_object_size must be above 0".into());
    }
    if e.input_prefix.as_deref() == Some("") {
        return Err("reportsengine.input_prefix is empty: leave it unset to accept every key \
                    but the daemons' own"
            .into());
    }
    if let Some(prefix) = &e.input_prefix {
        // The prefix itself must be a key the rule accepts, or nothing ever would be.
        check_input_key(&format!("{prefix}x"), None).map_err(|why| {
            format!("reportsengine.input_prefix = {prefix:?} can never match: {why}")
        })?;
    }
    Ok(())
}

/// A metrics port serves anyone who can reach it: only this host (loopback) or the private
/// network (RFC 1918, IPv6 unique-local) may. The unspecified address (`0.0.0.0`, `::`)
/// listens on every interface, a public one among them, so it is refused too.
fn validate_metrics(m: &MetricsConfig) -> Checked {
    use sales_domain::net::AddressClass;
    if let Some(addr) = m.listen {
        let class = AddressClass::of(addr.ip());
        if !matches!(
            class,
            AddressClass::Loopback | AddressClass::Private | AddressClass::UniqueLocal
        ) {
            let why = match class {
                AddressClass::Unspecified => "listens on every interface, public ones included",
                AddressClass::Public => "is a public address",
                _ => "is neither loopback nor a private address",
            };
            return Err(format!(
                "metrics.listen = {addr} {why}: a metrics port must not face the internet; \
                 use 127.0.0.1:PORT (scraped locally) or the instance's private address"
            ));
        }
    }
    if let Some(path) = &m.textfile {
        if !path.is_absolute() || path.file_name().is_none() {
            return Err(format!(
                "metrics.textfile = {} must be an absolute file path",
                path.display()
            ));
        }
    }
    within("metrics.textfile_interval", m.textfile_interval, SECOND, HOUR)
}

const MILLIS_100: Duration = Duration::from_millis(100);
const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
/// SQS's longest visibility timeout: 12 hours.
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);

/// Every duration has a lower and an upper bound.
fn within(name: &str, value: Duration, min: Duration, max: Duration) -> Checked {
    if value < min || value > max {
        return Err(format!(
            "{name} = {} must be {} to {}",
            format_duration(value),
            format_duration(min),
            format_duration(max)
        ));
    }
    Ok(())
}

/// A grace must end before systemd stops waiting and kills, or the work is cut mid-way.
fn below_systemd_stop(name: &str, grace: Duration, what: &str) -> Checked {
    if grace >= SYSTEMD_STOP_TIMEOUT {
        return Err(format!(
            "{name} = {} must be below systemd's stop timeout ({}), or {what} is killed mid-way",
            format_duration(grace),
            format_duration(SYSTEMD_STOP_TIMEOUT)
        ));
    }
    Ok(())
}
