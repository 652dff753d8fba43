//! The daemons' `/metrics`, scraped from a running `reportsengine run` and `salesapp watch`
//! after a known mix of work (good days, a poison message, bad files, an outage of the
//! emulator), read with the Prometheus parser: each counter equals what happened. Counts
//! that depend on timing (how many attempts an outage cost) are bounded from below by what
//! the logs prove happened; the rest are exact.

use std::time::{Duration, SystemTime};

use e2e::daemon::{wait_until, Daemon};
use e2e::metrics::{address_of, get, parse, scrape, Scrape};
use e2e::scenario::*;
use e2e::{reportsengine, run, salesapp, Emulator};

/// Every daemon's metrics listen on loopback, on a port the OS picks.
const LISTEN: &str = "metrics.listen=127.0.0.1:0";

fn unix_now() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64()
}

fn messages(s: &Scrape, outcome: &str) -> f64 {
    s.value("reportsengine_messages_total", &[("outcome", outcome)])
}

fn uploads(s: &Scrape, outcome: &str) -> f64 {
    s.value("salesapp_uploads_total", &[("outcome", outcome)])
}

/// The AWS attempts counted, by the program whose scrape `s` is.
fn requests(s: &Scrape, service: &str, operation: &str, status: &str) -> f64 {
    let labels = [("service", service), ("operation", operation), ("status", status)];
    s.get("aws_requests_total", &[&[("program", program_of(s))][..], &labels[..]].concat())
        .unwrap_or(0.0)
}

/// The program the shared series of `s` name.
fn program_of(s: &Scrape) -> &str {
    let info = s.family("build_info").expect("build_info");
    info.samples[0].labels.get("program").map(String::as_str).unwrap_or_default()
}

/// Each attempt counted is timed too: per operation, the histogram's count is the sum of
/// the counter over its statuses.
#[track_caller]
fn assert_every_attempt_timed(s: &Scrape) {
    for sample in s.samples().filter(|x| x.name == "aws_request_seconds_count") {
        let (service, operation) = (&sample.labels["service"], &sample.labels["operation"]);
        let counted =
            s.sum("aws_requests_total", &[("service", service), ("operation", operation)]);
        assert_eq!(sample.value, counted, "{service} {operation}:\n{}", s.text);
    }
}

/// `build_info` once, with the release and commit, and every shared series (`build_info`,
/// `aws_*`) labelled with `program`: two daemons' textfiles in one node_exporter directory
/// give two series, never one twice.
#[track_caller]
fn assert_build_info(s: &Scrape, program: &str) {
    let info = s.family("build_info").expect("build_info");
    assert_eq!(info.samples.len(), 1, "{:?}", info.samples);
    assert_eq!(info.samples[0].value, 1.0);
    assert_eq!(info.samples[0].labels["version"], env!("CARGO_PKG_VERSION"));
    assert!(!info.samples[0].labels["commit"].is_empty());
    for sample in s.samples().filter(|x| x.name.starts_with("aws_") || x.name == "build_info") {
        assert_eq!(sample.labels.get("program").map(String::as_str), Some(program), "{sample:?}");
    }
}

/// A sales file whose last row is bad (so all of it is read before it is refused).
fn bad_sales_file(date: &str) -> String {
    format!(
        "date,order_id,sales_rep,region,product,quantity,unit_price\n\
         {date},B1,Ada,EU,Widget,2,1.50\n\
         {date},B2,Ada,EU,Widget,zero,1.50\n"
    )
}

/// The engine after two good days (one of them caught by an outage mid-report), a poison
/// message and a bad sales file: reported 2, quarantined 2, at least one retry during the
/// outage, nothing held; every ReceiveMessage attempt of the outage counted as a timeout;
/// the redelivered message's receive count and age show in the histograms.
#[test]
fn reportsengine_metrics_count_what_happened() {
    let em = Emulator::start();
    em.set_queue_visibility(3);
    let started = unix_now();
    let mut engine =
        engine(&em, &["--set", LISTEN, "--set", "reportsengine.visibility_timeout=3s"]);
    let addr = address_of(&mut engine);
    engine.wait_for_log("consuming", 1, LONG);
    let idle = scrape(addr);
    idle.assert_well_formed();
    for outcome in ["reported", "quarantined", "retry", "held"] {
        assert_eq!(messages(&idle, outcome), 0.0, "{outcome} before any message");
    }
    assert!(idle.get("reportsengine_last_report_timestamp_seconds", &[]).is_none());

    // A good day, a poison message, a bad file.
    let (path_a, bytes_a) = generate(&em, "2026-07-01", 20, 1);
    upload(&em, &path_a).assert_ok();
    em.send_raw("this is not a message");
    let bad = bad_sales_file("2026-07-02");
    em.put_object("incoming/bad-day.csv", bad.clone());
    em.send_raw(&format!("{{\"datafilelocation\":\"s3://{}/incoming/bad-day.csv\"}}", em.bucket()));
    wait_for_object(&em, "reports/2026-07-01/report.json", LONG);
    wait_until(LONG, "two quarantine records", || (quarantine_keys(&em).len() == 2).then_some(()));
    wait_queue_empty(&em, LONG);
    let s = wait_until(LONG, "three outcomes counted", || {
        let s = scrape(addr);
        (s.sum("reportsengine_messages_total", &[]) == 3.0).then_some(s)
    });
    s.assert_well_formed();
    assert_eq!(messages(&s, "reported"), 1.0);
    assert_eq!(messages(&s, "quarantined"), 2.0);
    assert_eq!(messages(&s, "retry"), 0.0);
    assert_eq!(s.value("reportsengine_receive_count_count", &[]), 3.0);
    assert_eq!(
        s.value("reportsengine_message_age_seconds_count", &[]),
        3.0,
        "SentTimestamp asked for"
    );
    assert_eq!(s.value("reportsengine_processing_seconds_count", &[]), 3.0);
    let read = (bytes_a.len() + bad.len()) as f64;
    assert_eq!(s.value("reportsengine_bytes_read_total", &[]), read);
    // The engine's own S3 writes: three report files, the index's JSON and page, and two
    // quarantine records.
    assert_eq!(requests(&s, "s3", "PutObject", "200"), 7.0, "{}", s.text);
    assert!(requests(&s, "sqs", "ReceiveMessage", "200") >= 1.0);
    let last = s.value("reportsengine_last_report_timestamp_seconds", &[]);
    assert!(last >= started - 1.0 && last <= unix_now() + 1.0, "{last}");

    // An outage while a large day is being read: its message is left for a retry, receives
    // time out, and after the outage it is delivered again and reported.
    let (path_b, bytes_b) = generate(&em, "2026-07-03", 25_000, 2);
    upload(&em, &path_b).assert_ok();
    engine.wait_for_log("processing message", 4, LONG);
    em.pause();
    engine.wait_for_log("receive failed", 1, Duration::from_secs(90));
    engine.wait_for_log("transient failure; the message will be redelivered", 1, LONG);
    let during = scrape(addr);
    let failed_receives = engine.log().matches("receive failed").count() as f64;
    em.resume();
    assert!(messages(&during, "retry") >= 1.0, "{}", during.text);
    // Each failed receive is the SDK's three attempts, each counted on its own.
    let timeouts = requests(&during, "sqs", "ReceiveMessage", "timeout");
    assert!(
        timeouts >= 3.0 * failed_receives,
        "{timeouts} timeouts for {failed_receives} failed receives"
    );

    wait_for_object(&em, "reports/2026-07-03/report.json", LONG);
    wait_queue_empty(&em, LONG);
    let s = wait_until(LONG, "the second report counted", || {
        let s = scrape(addr);
        (messages(&s, "reported") == 2.0).then_some(s)
    });
    stop(&mut engine);
    s.assert_well_formed();
    assert_eq!(messages(&s, "quarantined"), 2.0);
    assert_eq!(messages(&s, "held"), 0.0);
    let retries = messages(&s, "retry");
    assert!(retries >= 1.0);
    let outcomes = s.sum("reportsengine_messages_total", &[]);
    assert_eq!(s.value("reportsengine_processing_seconds_count", &[]), outcomes);
    // Every delivery the engine saw: the four first ones, then the large day again.
    let deliveries = s.value("reportsengine_receive_count_count", &[]);
    assert!(deliveries >= 5.0, "{deliveries}");
    assert_eq!(s.value("reportsengine_message_age_seconds_count", &[]), deliveries);
    let first = s.value("reportsengine_receive_count_bucket", &[("le", "1")]);
    assert!(first <= deliveries - 1.0, "a redelivery has a receive count of 2 or more: {first}");
    // The redelivered message waited out the outage: some age is above 2.5 s.
    let young = s.value("reportsengine_message_age_seconds_bucket", &[("le", "2.5")]);
    assert!(young < deliveries, "{young} of {deliveries} under 2.5 s");
    assert_eq!(s.value("reportsengine_in_flight", &[]), 0.0);
    let read = (bytes_a.len() + bad.len() + bytes_b.len()) as f64;
    assert!(s.value("reportsengine_bytes_read_total", &[]) >= read);
    assert!(s.value("reportsengine_last_report_timestamp_seconds", &[]) >= last);
    assert!(requests(&s, "sqs", "DeleteMessageBatch", "200") >= 1.0);
    assert_every_attempt_timed(&s);
    assert_build_info(&s, "reportsengine");
    assert!(!s.text.contains("salesapp_"), "the other daemon's metrics:\n{}", s.text);
}

/// `salesapp watch` with a textfile too, after two good files, the same content again, a
/// bad file and a different file for a day already in, then a file dropped in during an
/// outage: each outcome counted exactly, retries during the outage, bytes of what was
/// written, the spool's directories as they are; the textfile holds the final counts.
#[test]
fn salesapp_watch_metrics_count_what_happened() {
    let em = Emulator::start();
    let textfile = em.dir().join("salesapp.prom");
    let textfile_set = format!("metrics.textfile={}", textfile.display());
    let sets = [
        LISTEN,
        &textfile_set,
        "metrics.textfile_interval=1s",
        "endpoints.attempt_timeout=2s",
        "endpoints.connect_timeout=1s",
    ];
    let mut d = Daemon::spawn(watch_cmd(&em, &sets), em.dir(), "watch");
    d.wait_for_log("watching the spool", 1, LONG);
    let addr = address_of(&mut d);
    let done = spool(&em).join("done");
    let failed = spool(&em).join("failed");
    let arrived = |dir: &std::path::Path, name: &str| {
        let path = dir.join(name);
        wait_until(LONG, name, || path.exists().then_some(()));
    };

    let (a, bytes_a) = generate(&em, "2026-05-01", 50, 1);
    let (c, bytes_c) = generate(&em, "2026-05-02", 60, 2);
    std::fs::write(em.dir().join("bad.csv"), bad_sales_file("2026-05-03")).unwrap();
    drop_in(&em, &a, "a-good.csv");
    drop_in(&em, &em.dir().join("bad.csv"), "b-bad.csv");
    drop_in(&em, &c, "c-good.csv");
    arrived(&done, "c-good.csv");
    arrived(&failed, "b-bad.csv");
    let (same, _) = generate(&em, "2026-05-01", 50, 1);
    drop_in(&em, &same, "d-same.csv");
    let (other, _) = generate(&em, "2026-05-01", 70, 3);
    drop_in(&em, &other, "e-other.csv");
    arrived(&done, "d-same.csv");
    arrived(&failed, "e-other.csv");
    let s = wait_until(LONG, "five attempts counted", || {
        let s = scrape(addr);
        (s.sum("salesapp_uploads_total", &[]) == 5.0).then_some(s)
    });
    s.assert_well_formed();
    assert_eq!(uploads(&s, "uploaded"), 2.0);
    assert_eq!(uploads(&s, "unchanged"), 1.0);
    assert_eq!(uploads(&s, "failed"), 2.0);
    assert_eq!(uploads(&s, "retry") + uploads(&s, "held"), 0.0);
    let written = (bytes_a.len() + bytes_c.len()) as f64;
    assert_eq!(s.value("salesapp_upload_bytes_total", &[]), written);
    assert_eq!(s.value("salesapp_upload_seconds_count", &[]), 5.0);
    assert_eq!(s.value("salesapp_spool_files", &[("dir", "incoming")]), 0.0);
    assert_eq!(s.value("salesapp_spool_files", &[("dir", "done")]), 3.0);
    assert_eq!(s.value("salesapp_spool_files", &[("dir", "failed")]), 2.0);
    // Two sales objects and two ledger writes; a message for each file that went to done/.
    assert_eq!(requests(&s, "s3", "PutObject", "200"), 4.0, "{}", s.text);
    assert_eq!(requests(&s, "sqs", "SendMessage", "200"), 3.0);

    // An outage: the file dropped in meanwhile stays in incoming/, its attempts time out.
    em.pause();
    let (f, bytes_f) = generate(&em, "2026-05-04", 40, 4);
    drop_in(&em, &f, "f-outage.csv");
    d.wait_for_log("service unavailable", 1, LONG);
    let during = scrape(addr);
    em.resume();
    assert!(uploads(&during, "retry") >= 1.0, "{}", during.text);
    assert_eq!(during.value("salesapp_spool_files", &[("dir", "incoming")]), 1.0);
    assert!(during.value("salesapp_spool_oldest_incoming_seconds", &[]) > 0.0);
    assert!(requests(&during, "s3", "HeadObject", "timeout") >= 3.0, "{}", during.text);

    arrived(&done, "f-outage.csv");
    let s = wait_until(LONG, "the outage's file counted", || {
        let s = scrape(addr);
        (uploads(&s, "uploaded") == 3.0).then_some(s)
    });
    stop(&mut d);
    s.assert_well_formed();
    assert_eq!(uploads(&s, "unchanged"), 1.0);
    assert_eq!(uploads(&s, "failed"), 2.0);
    assert_eq!(uploads(&s, "held"), 0.0);
    let retries = uploads(&s, "retry");
    assert!(retries >= 1.0);
    assert_eq!(s.value("salesapp_upload_seconds_count", &[]), 6.0 + retries);
    let written = (bytes_a.len() + bytes_c.len() + bytes_f.len()) as f64;
    assert_eq!(s.value("salesapp_upload_bytes_total", &[]), written);
    assert_eq!(s.value("salesapp_ledger_conflicts_total", &[]), 0.0, "no other writer");
    assert_eq!(s.value("salesapp_spool_files", &[("dir", "incoming")]), 0.0);
    assert_eq!(s.value("salesapp_spool_files", &[("dir", "done")]), 4.0);
    assert_eq!(s.value("salesapp_spool_oldest_incoming_seconds", &[]), 0.0);
    assert_eq!(requests(&s, "sqs", "SendMessage", "200"), 4.0);
    assert_every_attempt_timed(&s);
    assert_build_info(&s, "salesapp");
    assert!(!s.text.contains("reportsengine_"), "the other daemon's metrics:\n{}", s.text);

    // The textfile, written at the stop, holds the same final counts.
    let file = parse(&std::fs::read_to_string(&textfile).expect("the textfile"));
    file.assert_well_formed();
    assert_eq!(uploads(&file, "uploaded"), 3.0);
    assert_eq!(uploads(&file, "retry"), retries);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&textfile).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "node_exporter reads it as another user");
}

/// A metrics port must not face the internet: a public or every-interface `listen` is a
/// configuration error (exit 78) before anything starts, for both daemons.
#[test]
fn a_public_listen_address_is_refused_with_exit_78() {
    let em = Emulator::start();
    for listen in ["8.8.8.8:9464", "0.0.0.0:9464"] {
        let set = format!("metrics.listen={listen}");
        let engine = run(reportsengine(&em).args(["--set", &set, "run"]));
        let watch = run(salesapp(&em).args(["--set", &set, "watch"]));
        for r in [engine, watch] {
            r.assert_code(78);
            assert!(
                r.stderr.contains(&format!("metrics.listen = {listen}"))
                    && r.stderr.contains("must not face the internet"),
                "{}",
                r.output()
            );
        }
    }
    assert!(em.list_keys().is_empty(), "nothing was done");
    assert!(!incoming(&em).exists(), "the spool was not even opened");
}

/// The metrics port answers a scrape whatever other clients do (it used to hold 4
/// connections, with no write timeout: 4 clients that pipeline and never read kept it
/// unreachable): while 6 clients have pipelined a thousand requests each and read nothing,
/// and 120 more sent half a request line and nothing since, `/metrics` and the landing page
/// at `/` still answer. (The bound is the scrape's 30 s read timeout, a hang's bound, not
/// a measure of speed.)
#[test]
fn a_scrape_is_answered_while_hostile_clients_hold_connections() {
    use std::io::Write;
    let em = Emulator::start();
    let mut d = Daemon::spawn(watch_cmd(&em, &[LISTEN]), em.dir(), "watch");
    let addr = address_of(&mut d);
    let mut hostile = Vec::new();
    let pipelined = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n").repeat(1000);
    for _ in 0..6 {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.set_write_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let _ = s.write_all(pipelined.as_bytes()); // the server may close on us: fine
        hostile.push(s);
    }
    for _ in 0..120 {
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.write_all(b"GET /metr").expect("half a request line");
        hostile.push(s);
    }
    let s = scrape(addr);
    s.assert_well_formed();
    assert_build_info(&s, "salesapp");
    let (head, page) = get(addr, "/");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.to_ascii_lowercase().contains("content-type: text/html"), "{head}");
    assert!(page.contains("<a href=\"/metrics\">") && page.contains("salesapp"), "{page}");
    let (head, _) = get(addr, "/nothing-here");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    drop(hostile);
    stop(&mut d);
}
