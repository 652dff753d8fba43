//! Logging set-up shared by both binaries.
//!
//! Under systemd (`JOURNAL_STREAM` set) each event is one JSON object per line, so journald
//! and log shippers keep its fields (operation, bucket, key, message_id…) as fields; on a
//! terminal it is human text. `RUST_LOG` wins over `--log-level`, which wins over `info`.
//! Nothing logged ever contains credentials: the SDK's own debug logs print requests, so its
//! crates are capped at `info` unless `RUST_LOG` explicitly asks for more.
//!
//! # Credential-bearing SDK events are dropped whatever `RUST_LOG` says
//! At DEBUG/TRACE a few SDK modules `Debug`-print the resolved identity, the signing
//! parameters and whole HTTP responses (as of aws-smithy-runtime 1.16 and aws-sigv4 1.6):
//! the access key id appears in clear, and the secret key, session token and signature are
//! hidden only by each type's hand-written `Debug` redaction, which the environment variables
//! `LOG_SENSITIVE_BODIES=true` / `LOG_SIGNABLE_BODY=true` switch off for response and request
//! bodies (an STS or IMDS credentials answer is a body). An operator turning on
//! `RUST_LOG=trace` to chase a network problem must not end up with credentials in the
//! journal, so [`is_credential_event`] names those targets and [`init`] drops their events
//! below INFO unconditionally (a second, global filter after `RUST_LOG`'s). Everything else
//! the SDK and HTTP stack log at trace (connections, retries, endpoints, timings) stays.

use tracing::{Level, Metadata};
use tracing_subscriber::filter::{filter_fn, FilterFn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

/// SDK modules whose events carry credentials or could (see the module docs), each with the
/// least verbose level dropped there (that level and everything more verbose go), matched as
/// module prefixes:
/// - `aws_sigv4`: signing parameters (the identity), canonical requests, the signable body;
/// - `…::orchestrator::auth`: "resolved identity"; `…::orchestrator::endpoints`: dumps the
///   config bag with the cached identity (at DEBUG); `…::orchestrator::http`: whole response
///   bodies, credential answers included when `LOG_SENSITIVE_BODIES=true`;
/// - `…::orchestrator` at TRACE: `runtime_components=` prints the identity cache's contents;
/// - `…::client::identity`, `aws_config`, `aws_credential_types` at TRACE: credential
///   providers and caches (`credential_process` logs its command line unredacted). Their
///   DEBUG lines ("provider in chain did not provide credentials") stay: they are what one
///   debugs a credential chain with, and carry no secret.
pub const CREDENTIAL_TARGETS: &[(&str, Level)] = &[
    ("aws_sigv4", Level::DEBUG),
    ("aws_smithy_runtime::client::orchestrator::auth", Level::DEBUG),
    ("aws_smithy_runtime::client::orchestrator::endpoints", Level::DEBUG),
    ("aws_smithy_runtime::client::orchestrator::http", Level::DEBUG),
    ("aws_smithy_runtime::client::orchestrator", Level::TRACE),
    ("aws_smithy_runtime::client::identity", Level::TRACE),
    ("aws_config", Level::TRACE),
    ("aws_credential_types", Level::TRACE),
];

/// True for an event or span that may carry credentials ([`CREDENTIAL_TARGETS`]): dropped
/// whatever `RUST_LOG` or `--log-level` ask for.
pub fn is_credential_event(meta: &Metadata<'_>) -> bool {
    let target = meta.target();
    let level = *meta.level();
    CREDENTIAL_TARGETS.iter().any(|(prefix, from)| {
        // tracing orders levels by verbosity: TRACE > DEBUG > INFO.
        level >= *from
            && (target == *prefix
                || target.strip_prefix(prefix).is_some_and(|rest| rest.starts_with("::")))
    })
}

/// The global filter that enforces [`is_credential_event`].
fn no_credentials() -> FilterFn<fn(&Metadata<'_>) -> bool> {
    filter_fn(|meta| !is_credential_event(meta))
}

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
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .finish()
            .with(no_credentials())
            .try_init()
    } else {
        use std::io::IsTerminal;
        builder
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .finish()
            .with(no_credentials())
            .try_init()
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::callsite::{Callsite, Identifier};
    use tracing::field::FieldSet;
    use tracing::metadata::Kind;

    struct Site;
    impl Callsite for Site {
        fn set_interest(&self, _: tracing::subscriber::Interest) {}
        fn metadata(&self) -> &Metadata<'_> {
            unreachable!()
        }
    }
    static SITE: Site = Site;

    fn meta(target: &'static str, level: Level) -> Metadata<'static> {
        Metadata::new(
            "event",
            target,
            level,
            None,
            None,
            None,
            FieldSet::new(&[], Identifier(&SITE)),
            Kind::EVENT,
        )
    }

    #[test]
    fn credential_events_are_dropped_at_their_levels() {
        let dropped = |t, l| is_credential_event(&meta(t, l));
        assert!(dropped("aws_sigv4::http_request::sign", Level::TRACE));
        assert!(dropped("aws_sigv4", Level::DEBUG));
        assert!(!dropped("aws_sigv4", Level::INFO));
        assert!(dropped("aws_smithy_runtime::client::orchestrator::auth", Level::TRACE));
        assert!(dropped("aws_smithy_runtime::client::orchestrator::endpoints", Level::DEBUG));
        assert!(dropped("aws_smithy_runtime::client::orchestrator::http", Level::TRACE));
        assert!(dropped("aws_smithy_runtime::client::orchestrator", Level::TRACE));
        assert!(!dropped("aws_smithy_runtime::client::orchestrator", Level::DEBUG));
        assert!(dropped("aws_config::imds::credentials", Level::TRACE));
        assert!(!dropped("aws_config::meta::credentials::chain", Level::DEBUG));
        assert!(!dropped("aws_smithy_runtime::client::retries", Level::TRACE));
        assert!(!dropped("aws_sigv4x", Level::TRACE), "prefixes match whole modules");
        assert!(!dropped("hyper_util::client::legacy::connect::http", Level::TRACE));
        assert!(!dropped("reportsengine::consumer", Level::TRACE));
    }
}
