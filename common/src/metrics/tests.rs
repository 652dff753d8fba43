//! The exposition of a known mix of outcomes, on metrics of the test's own (not the
//! process's, which other tests record into at the same time).

use super::*;
use crate::COMMIT;

fn exposition(m: &Metrics, program: Program) -> String {
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, &m.registry(program)).unwrap();
    out
}

/// The value of the sample written exactly `series` (name and labels), if any.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter_map(|l| l.strip_prefix(series))
        .find_map(|rest| rest.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn the_engine_s_outcomes_are_counted_by_label() {
    let m = Metrics::default();
    let text = exposition(&m, Program::Reportsengine);
    assert!(
        !text.contains("reportsengine_last_report_timestamp_seconds "),
        "no report yet, no timestamp: {text}"
    );
    for outcome in [MessageOutcome::Reported, MessageOutcome::Reported, MessageOutcome::Quarantined]
    {
        m.message_done(outcome, Duration::from_millis(300));
    }
    m.message_done(MessageOutcome::left_by(crate::failure::Action::Retry), Duration::from_secs(2));
    let sent = SystemTime::now() - Duration::from_secs(40);
    let age = m.message_received(Some(sent), 3).unwrap();
    assert!(age >= Duration::from_secs(40) && age < Duration::from_secs(60), "{age:?}");
    assert_eq!(m.message_received(None, 1), None);

    let text = exposition(&m, Program::Reportsengine);
    let count = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("{series}:\n{text}"));
    assert_eq!(count("reportsengine_messages_total{outcome=\"reported\"}"), 2.0);
    assert_eq!(count("reportsengine_messages_total{outcome=\"quarantined\"}"), 1.0);
    assert_eq!(count("reportsengine_messages_total{outcome=\"retry\"}"), 1.0);
    assert_eq!(count("reportsengine_messages_total{outcome=\"held\"}"), 0.0);
    assert_eq!(count("reportsengine_processing_seconds_count"), 4.0);
    assert_eq!(count("reportsengine_processing_seconds_bucket{le=\"0.5\"}"), 3.0);
    // One message of two was received with an age: 40 s, above the 30 s bound.
    assert_eq!(count("reportsengine_message_age_seconds_count"), 1.0);
    assert_eq!(count("reportsengine_message_age_seconds_bucket{le=\"30\"}"), 0.0);
    assert_eq!(count("reportsengine_message_age_seconds_bucket{le=\"45\"}"), 1.0);
    assert_eq!(count("reportsengine_receive_count_count"), 2.0);
    assert_eq!(count("reportsengine_receive_count_bucket{le=\"1\"}"), 1.0);
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64();
    let last = count("reportsengine_last_report_timestamp_seconds");
    assert!((now - last).abs() < 60.0, "{last} vs {now}");
    assert!(!text.contains("salesapp_"), "the other daemon's metrics are not exposed: {text}");
    let build = format!(
        "build_info{{program=\"reportsengine\",version=\"{VERSION}\",commit=\"{COMMIT}\"}}"
    );
    assert_eq!(count(&build), 1.0);
}

#[test]
fn aws_attempts_are_counted_by_service_operation_and_status() {
    let m = Metrics::default();
    for status in ["timeout", "timeout", "200"] {
        m.aws_attempt("SQS", "ReceiveMessage", status, Duration::from_millis(20));
    }
    let text = exposition(&m, Program::Salesapp);
    let count = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("{series}:\n{text}"));
    let request = |status: &str| {
        format!(
            "aws_requests_total{{program=\"salesapp\",service=\"sqs\",operation=\"ReceiveMessage\",status=\"{status}\"}}"
        )
    };
    assert_eq!(count(&request("timeout")), 2.0);
    assert_eq!(count(&request("200")), 1.0);
    let seconds =
        "aws_request_seconds_count{program=\"salesapp\",service=\"sqs\",operation=\"ReceiveMessage\"}";
    assert_eq!(count(seconds), 3.0);
    // Every shared series names its program, so two daemons' series never coincide.
    let engine = exposition(&m, Program::Reportsengine);
    for text in [&text, &engine] {
        for sample in text.lines().filter(|l| l.starts_with("aws_") || l.starts_with("build_info"))
        {
            assert!(sample.contains("program=\""), "{sample}");
        }
    }
    assert!(engine.contains("aws_requests_total{program=\"reportsengine\",service=\"sqs\""));
}

#[test]
fn the_spool_is_looked_at_when_scraped() {
    let m = Metrics::default();
    m.upload_done(UploadOutcome::Uploaded, 1000, Duration::from_millis(100));
    m.upload_done(UploadOutcome::Unchanged, 0, Duration::from_millis(100));
    m.upload_done(UploadOutcome::left_by(crate::failure::Action::Hold), 0, Duration::ZERO);
    let text = exposition(&m, Program::Salesapp);
    assert!(!text.contains("salesapp_spool_files"), "no spool named yet: {text}");
    let looks = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = looks.clone();
    m.spool.set(Box::new(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        SpoolFiles {
            incoming: 2,
            done: 5,
            failed: 1,
            oldest_incoming: Some(Duration::from_secs(7)),
        }
    }));
    let text = exposition(&m, Program::Salesapp);
    let count = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("{series}:\n{text}"));
    assert_eq!(count("salesapp_uploads_total{outcome=\"uploaded\"}"), 1.0);
    assert_eq!(count("salesapp_uploads_total{outcome=\"unchanged\"}"), 1.0);
    assert_eq!(count("salesapp_uploads_total{outcome=\"held\"}"), 1.0);
    assert_eq!(count("salesapp_uploads_total{outcome=\"failed\"}"), 0.0);
    assert_eq!(count("salesapp_upload_bytes_total"), 1000.0);
    assert_eq!(count("salesapp_upload_seconds_count"), 3.0);
    assert_eq!(count("salesapp_spool_files{dir=\"incoming\"}"), 2.0);
    assert_eq!(count("salesapp_spool_files{dir=\"done\"}"), 5.0);
    assert_eq!(count("salesapp_spool_files{dir=\"failed\"}"), 1.0);
    assert_eq!(count("salesapp_spool_oldest_incoming_seconds"), 7.0);
    assert!(text.contains("# TYPE salesapp_spool_files gauge"), "{text}");
    assert_eq!(looks.load(std::sync::atomic::Ordering::Relaxed), 1, "once per scrape");
    assert!(!text.contains("reportsengine_"), "{text}");
}
