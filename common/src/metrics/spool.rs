//! The spool's gauges, looked up at each scrape: the files in `incoming/`, `done/` and
//! `failed/` are whatever is there when Prometheus asks (an operator may tidy `done/`), and
//! an idle daemon does no work for them between scrapes.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

/// What the spool holds now.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpoolFiles {
    /// Sales files waiting in `incoming/` (not counting work in progress: dotfiles, `*.partial`).
    pub incoming: u64,
    pub done: u64,
    /// Sales files in `failed/` (their `.error.txt` notes not counted).
    pub failed: u64,
    /// How long the oldest file in `incoming/` has been there (by its mtime); none when empty.
    pub oldest_incoming: Option<Duration>,
}

type Look = Box<dyn Fn() -> SpoolFiles + Send + Sync>;

/// Encodes the spool's gauges once `watch` has said where the spool is; nothing before.
#[derive(Default)]
pub(super) struct SpoolCollector {
    look: OnceLock<Look>,
}

impl std::fmt::Debug for SpoolCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpoolCollector").field("set", &self.look.get().is_some()).finish()
    }
}

impl SpoolCollector {
    /// The first spool named stays: one daemon watches one spool.
    pub(super) fn set(&self, look: Look) {
        let _ = self.look.set(look);
    }
}

impl Collector for SpoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(look) = self.look.get() else { return Ok(()) };
        let files = look();
        let mut family = encoder.encode_descriptor(
            "salesapp_spool_files",
            "Sales files in the spool's directories now",
            None,
            MetricType::Gauge,
        )?;
        for (dir, n) in
            [("incoming", files.incoming), ("done", files.done), ("failed", files.failed)]
        {
            let labels = [("dir", dir)];
            let gauge = ConstGauge::new(i64::try_from(n).unwrap_or(i64::MAX));
            gauge.encode(family.encode_family(&labels)?)?;
        }
        let oldest = ConstGauge::new(files.oldest_incoming.unwrap_or_default().as_secs_f64());
        let metric = encoder.encode_descriptor(
            "salesapp_spool_oldest_incoming_seconds",
            "Age of the oldest file waiting in incoming/ (0 when it is empty)",
            None,
            oldest.metric_type(),
        )?;
        oldest.encode(metric)
    }
}
