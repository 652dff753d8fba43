//! Logging set-up shared by both binaries.
//!
//! Under systemd (`JOURNAL_STREAM` set) each event is one JSON object per line, so journald
//! and log shippers keep its fields (operation, bucket, key, message_id…) as fields; on a
//! terminal it is human text. `RUST_LOG` wins over `--log-level`, which wins over `info`.
//! Nothing logged ever contains credentials: the SDK's own debug logs print requests, so its
//! crates are capped at `info` unless `RUST_LOG` explicitly asks for more.

use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber. Logs go to stderr; stdout is kept for results.
pub fn init(level: Option<&str>) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::new(spec),
        _ => {
            let level = level.unwrap_or("info");
            // Our crates at the chosen level; the SDK and HTTP stack quieter, since at
            // debug/trace they print whole requests.
            EnvFilter::new(format!(
                "{level},aws_config=warn,aws_smithy_runtime=warn,aws_smithy_http=warn,\
                 aws_sdk_s3=warn,aws_sdk_sqs=warn,aws_sigv4=warn,hyper=warn,h2=warn,rustls=warn"
            ))
        }
    };
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder.json().flatten_event(true).with_current_span(false).try_init()
    } else {
        use std::io::IsTerminal;
        builder.with_target(false).with_ansi(std::io::stderr().is_terminal()).try_init()
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}
