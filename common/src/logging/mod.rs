//! Logging set-up shared by both binaries: where the logs go (`--log-format`), how verbose
//! they are (`--log-level`, `RUST_LOG`), and what they must never contain.
//!
//! # Formats
//! - `journal`: entries in systemd's native journal protocol ([`journal`]), so each has a
//!   `PRIORITY` and the event's fields as journal fields (`KEY`, `MESSAGE_ID`, `OPERATION`…),
//!   and `journalctl -p warning` finds the warnings. systemd 219 (Amazon Linux 2) and 252
//!   (Amazon Linux 2023) both read it from `/run/systemd/journal/socket`.
//! - `json`: one JSON object per line on stderr (`timestamp`, `level`, `target`, `message`
//!   and the event's fields as keys), for log shippers.
//! - `text`: human text on stderr, one line per event, coloured on a terminal unless
//!   `NO_COLOR` is set. Every control character of a field or message is escaped
//!   ([`text`]), so no value can start a line or reach the terminal as an escape sequence.
//! - `auto` (the default): `journal` under systemd ([`under_systemd`]), else `text`. When
//!   the journal's socket cannot be reached, `journal` falls back to `json` on stderr.
//!
//! # Detecting systemd, as systemd documents it
//! systemd.exec(5): `JOURNAL_STREAM=DEVICE:INODE` names the stream systemd connected
//! stdout/stderr to; it is only proof if stderr is still that stream (a shell in between may
//! have redirected it: then log where stderr goes). systemd before 231 (Amazon Linux 2's 219)
//! sets no `JOURNAL_STREAM`; there `NOTIFY_SOCKET` (set for our `Type=notify` daemons) or
//! `INVOCATION_ID` (232 and later) say the process is a service.
//!
//! # Levels
//! `RUST_LOG` wins over `--log-level`, which wins over `info`. Both are checked: a level that
//! is not one of `error`, `warn`, `info`, `debug`, `trace` is a usage error (exit 64) rather
//! than a filter that silently drops everything. The SDK's own debug logs print requests, so
//! its crates are capped at `warn` unless `RUST_LOG` explicitly asks for more.
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
//! below INFO unconditionally (a second, global filter after `RUST_LOG`'s, in front of every
//! format). Everything else the SDK and HTTP stack log at trace (connections, retries,
//! endpoints, timings) stays.

pub mod journal;
pub mod text;

use std::path::{Path, PathBuf};

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

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// The journal under systemd, else text.
    #[default]
    Auto,
    /// systemd's native journal protocol (falls back to json without a journal).
    Journal,
    /// One JSON object per line on stderr.
    Json,
    /// Human text on stderr.
    Text,
}

/// `--log-level`: the accepted values, so a typo is a usage error, not silence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    fn directive(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// What [`init`] needs from the command line.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// The program, as the journal's `SYSLOG_IDENTIFIER` (`journalctl -t salesapp`).
    pub program: &'static str,
    pub level: Option<LogLevel>,
    pub format: LogFormat,
    /// The journal's socket; [`journal::SOCKET`] unless a test owns one.
    pub journal_socket: Option<PathBuf>,
}

/// The filter: `RUST_LOG` when set (checked), else our crates at `level` (default `info`)
/// and the SDK and HTTP stack at `warn`.
fn env_filter(rust_log: Option<&str>, level: Option<LogLevel>) -> Result<EnvFilter, String> {
    if let Some(spec) = rust_log.filter(|s| !s.trim().is_empty()) {
        return EnvFilter::builder().parse(spec).map_err(|e| {
            format!(
                "RUST_LOG={spec:?} is not a filter ({e}); use a level (error, warn, info, debug, \
                 trace) or target=level directives, e.g. RUST_LOG=info,aws_smithy_runtime=debug"
            )
        });
    }
    let level = level.map_or("info", LogLevel::directive);
    // Our crates at the chosen level; the SDK and HTTP stack quieter, since at debug/trace
    // they print whole requests. The credential chain's own warning that a provider failed
    // carries the provider's `Debug` dump (HTTP headers and body included); the failure it
    // causes is said by the command, in words, with what to do (kind "no usable
    // credentials"), so the chain speaks only of errors.
    EnvFilter::builder()
        .parse(format!(
            "{level},aws_config=warn,aws_config::meta::credentials::chain=error,\
             aws_smithy_runtime=warn,aws_smithy_http=warn,aws_sdk_s3=warn,aws_sdk_sqs=warn,\
             aws_sigv4=warn,hyper=warn,h2=warn,rustls=warn"
        ))
        .map_err(|e| format!("log filter: {e}"))
}

/// True when this process runs as a systemd service whose logs the journal takes (see the
/// module docs). `stderr` is stderr's (device, inode), when it could be read.
pub fn under_systemd(env: &dyn Fn(&str) -> Option<String>, stderr: Option<(u64, u64)>) -> bool {
    let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    if let Some(stream) = set("JOURNAL_STREAM") {
        let parsed = stream
            .trim()
            .split_once(':')
            .and_then(|(dev, ino)| Some((dev.parse::<u64>().ok()?, ino.parse::<u64>().ok()?)));
        return parsed.is_some() && parsed == stderr;
    }
    set("NOTIFY_SOCKET").is_some() || set("INVOCATION_ID").is_some()
}

/// Colours only on a terminal, and never with `NO_COLOR` set to anything (no-color.org).
pub fn use_colour(terminal: bool, env: &dyn Fn(&str) -> Option<String>) -> bool {
    terminal && env("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// stderr's (device, inode), for comparing with `JOURNAL_STREAM`.
fn stderr_identity() -> Option<(u64, u64)> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
    let meta = std::fs::File::from(fd).metadata().ok()?;
    Some((meta.dev(), meta.ino()))
}

/// Which output [`init`] chose, for the note it logs when the journal was asked for and is
/// not there.
enum Output {
    Journal(journal::Journal),
    Json,
    Text { colour: bool },
}

/// The text format's layer, writing to `writer`: one line per event, every field escaped
/// ([`text::EscapedFields`]).
fn text_layer<S, W>(writer: W, colour: bool) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    fmt::layer()
        .with_writer(writer)
        .with_target(false)
        .with_ansi(colour)
        .fmt_fields(text::EscapedFields)
}

/// Installs the global subscriber. Logs go to the journal or to stderr; stdout is kept for
/// results. Fails (a usage error for the caller) when `RUST_LOG` is not a filter.
pub fn init(settings: &LogSettings) -> Result<(), String> {
    use std::io::IsTerminal;
    let env = |name: &str| std::env::var(name).ok();
    let filter = env_filter(env("RUST_LOG").as_deref(), settings.level)?;
    let socket = settings.journal_socket.as_deref().unwrap_or(Path::new(journal::SOCKET));
    let wants_journal = match settings.format {
        LogFormat::Journal => true,
        LogFormat::Auto => under_systemd(&env, stderr_identity()),
        LogFormat::Json | LogFormat::Text => false,
    };
    let mut unreachable = None;
    let output = if wants_journal {
        match journal::Journal::connect(socket, settings.program) {
            Ok(journal) => Output::Journal(journal),
            Err(e) => {
                unreachable = Some(e);
                Output::Json
            }
        }
    } else if settings.format == LogFormat::Json {
        Output::Json
    } else {
        Output::Text { colour: use_colour(std::io::stderr().is_terminal(), &env) }
    };
    let (journal, json, text) = match output {
        Output::Journal(journal) => (Some(journal), None, None),
        Output::Json => (
            None,
            Some(
                fmt::layer()
                    .with_writer(std::io::stderr)
                    .json()
                    .flatten_event(true)
                    .with_current_span(false),
            ),
            None,
        ),
        Output::Text { colour } => (None, None, Some(text_layer(std::io::stderr, colour))),
    };
    // A second init (tests) keeps the first subscriber.
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(no_credentials())
        .with(journal)
        .with(json)
        .with(text)
        .try_init()
        .is_ok();
    if let (true, Some(e)) = (installed, unreachable) {
        tracing::warn!(socket = %socket.display(), error = %e, "the journal's socket cannot be reached: logging JSON lines to stderr");
    }
    Ok(())
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

    /// What the text layer writes for the events `log` emits, without colour.
    fn text_of(log: impl FnOnce()) -> String {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber =
            tracing_subscriber::registry().with(text_layer(move || writer.clone(), false));
        tracing::subscriber::with_default(subscriber, log);
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    /// A name or a message carrying line breaks, escape sequences or other controls cannot
    /// forge a line or reach the terminal: one event, one line, every control escaped.
    #[test]
    fn the_text_format_escapes_control_characters_in_every_field() {
        let hostile = "x.csv\n2026-01-01T00:00:00.000000Z ERROR forged: \x1b[2J\r\u{9b}31m\x7f.csv";
        let text = text_of(|| {
            let span = tracing::info_span!("message", message_id = %hostile);
            let _in = span.enter();
            tracing::error!(file = %hostile, key = hostile, "taking {hostile}");
        });
        assert_eq!(text.lines().count(), 1, "one event, one line: {text:?}");
        assert!(text.ends_with('\n'), "{text:?}");
        let line = text.trim_end_matches('\n');
        assert!(!line.chars().any(|c| c.is_control()), "no raw control character: {line:?}");
        assert!(line.contains("taking x.csv\\n2026-01-01T00:00:00.000000Z ERROR forged: \\x1b[2J\\r\\u{9b}31m\\x7f.csv"), "{line}");
        assert!(line.contains("file=x.csv\\n2026"), "a `%` field is escaped: {line}");
        assert!(
            line.contains("key=\"x.csv\\n2026"),
            "a string field is quoted and escaped: {line}"
        );
        assert!(line.contains("message_id=x.csv\\n"), "a span's field too: {line}");
        assert!(line.contains(" ERROR "), "{line}");
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
