//! The AWS SDK's own settings win over ours: the retry settings (`AWS_MAX_ATTEMPTS`, the
//! profile's `max_attempts`), counted as connections to an endpoint the test owns that
//! answers every request with a 500; FIPS and dual-stack switches alongside pinned
//! endpoints; each binary's app id in the user agent (moto's recorder); and proxies, which
//! the SDK honours and doctor warns about.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use e2e::{reportsengine, run, salesapp, unused_port, Emulator};

/// An SQS endpoint on 127.0.0.1 that answers every request with a 500 (a transient error
/// the SDK retries) and closes the connection, so each attempt is one connection.
struct FailingEndpoint {
    port: u16,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FailingEndpoint {
    fn start() -> FailingEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, done) = (connections.clone(), stop.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                count.fetch_add(1, Ordering::Relaxed);
                let _ = conn.set_nonblocking(false);
                let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).is_ok_and(|n| n == 1) {
                    head.push(byte[0]);
                }
                let body =
                    r#"{"__type":"com.amazonaws.sqs#InternalError","message":"test endpoint"}"#;
                let _ = write!(
                    conn,
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/x-amz-json-1.0\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        FailingEndpoint { port, connections, stop }
    }

    fn taken(&self) -> usize {
        self.connections.swap(0, Ordering::Relaxed)
    }
}

impl Drop for FailingEndpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// `reportsengine once` against the failing endpoint with no patience of our own
/// (`give_up_after = 0s`): the attempts are the SDK's alone.
#[test]
fn the_sdks_retry_settings_decide_the_attempts() {
    let em = Emulator::start();
    let endpoint = FailingEndpoint::start();
    let sqs = format!("endpoints.sqs=http://127.0.0.1:{}", endpoint.port);
    let profile = em.write_file("aws-config", "[default]\nmax_attempts = 4\n");
    let attempts = |env: &[(&str, &str)], with_profile: bool| {
        let mut cmd = reportsengine(&em);
        cmd.args(["--set", &sqs, "--set", "endpoints.give_up_after=0s", "once"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        if with_profile {
            cmd.env("AWS_CONFIG_FILE", &profile);
        }
        let r = run(&mut cmd);
        r.assert_code(69);
        assert!(r.stderr.contains("ReceiveMessage"), "{}", r.output());
        endpoint.taken()
    };
    assert_eq!(attempts(&[], false), 3, "the SDK's default: standard mode, 3 attempts");
    assert_eq!(attempts(&[("AWS_MAX_ATTEMPTS", "2")], false), 2, "AWS_MAX_ATTEMPTS wins");
    assert_eq!(attempts(&[], true), 4, "the profile's max_attempts wins");
    assert_eq!(
        attempts(&[("AWS_MAX_ATTEMPTS", "1"), ("AWS_RETRY_MODE", "adaptive")], true),
        1,
        "the environment beats the profile"
    );
}

/// Each binary names itself in the user agent (`app/salesapp`, `app/reportsengine`), so
/// CloudTrail's `userAgent` tells the two apart.
#[test]
fn each_binary_names_itself_in_the_user_agent() {
    let em = Emulator::start();
    let path = em.dir().join("day.csv");
    run(salesapp(&em).args(["generate", "--date", "2026-05-01", "--rows", "20", "-o"]).arg(&path))
        .assert_ok();
    em.start_recording();
    run(salesapp(&em).arg("upload").arg(&path)).assert_ok();
    run(reportsengine(&em).arg("once")).assert_ok();
    let requests = em.stop_recording();
    assert!(!requests.is_empty());
    let app = |r: &e2e::Recorded| {
        let ua = r.user_agent.clone().unwrap_or_default();
        match (ua.contains("app/salesapp"), ua.contains("app/reportsengine")) {
            (true, false) => "salesapp",
            (false, true) => "reportsengine",
            _ => panic!("{} {}: user agent {ua:?}", r.method, r.url),
        }
    };
    for r in &requests {
        let (action, who) = (r.action(), app(r));
        match action.as_str() {
            "sqs:SendMessage" => assert_eq!(who, "salesapp"),
            "sqs:ReceiveMessage" | "sqs:DeleteMessage" => assert_eq!(who, "reportsengine"),
            _ if r.s3_path().contains("/reports/") => assert_eq!(who, "reportsengine"),
            _ if r.s3_path().contains("/sales/") && r.method == "PUT" => {
                assert_eq!(who, "salesapp")
            }
            _ => {}
        }
    }
}

/// FIPS and dual-stack switched on in the environment, with the endpoints pinned in the
/// configuration (the emulator's): the pinned URLs win and the pipeline works (the SDK
/// refuses a custom endpoint combined with either switch, so ours are switched off on a
/// pinned client); doctor shows the switches.
#[test]
fn fips_and_dual_stack_switches_do_not_break_pinned_endpoints() {
    let em = Emulator::start();
    let path = em.dir().join("day.csv");
    run(salesapp(&em).args(["generate", "--date", "2026-05-02", "--rows", "20", "-o"]).arg(&path))
        .assert_ok();
    let on = [("AWS_USE_FIPS_ENDPOINT", "true"), ("AWS_USE_DUALSTACK_ENDPOINT", "true")];
    run(salesapp(&em).envs(on).arg("upload").arg(&path)).assert_ok();
    run(reportsengine(&em).envs(on).arg("once")).assert_ok();
    assert!(em.get_object("reports/2026-05-02/report.json").is_some());
    let doctor = run(reportsengine(&em).envs(on).arg("doctor"));
    doctor.assert_ok();
    assert!(doctor.stdout.contains("FIPS on, dual-stack on"), "{}", doctor.output());
    assert!(doctor.stdout.contains("app/reportsengine"), "{}", doctor.output());
}

fn doctor_json(cmd: &mut std::process::Command) -> (Option<i32>, serde_json::Value) {
    let r = run(cmd.args(["doctor", "--json"]));
    let v = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}:\n{}", r.output()));
    (r.code(), v)
}

fn row<'a>(doc: &'a serde_json::Value, check: &str) -> &'a serde_json::Value {
    doc["checks"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["check"] == check))
        .unwrap_or_else(|| panic!("no {check} row: {doc:#}"))
}

/// A proxy in the environment would carry S3 and SQS traffic around the VPC endpoints:
/// doctor warns, naming it (never its password). The SDK really sends through it (the
/// calls then fail against a proxy that is not there); `NO_PROXY` covering the endpoints
/// takes the warning and the failures away.
#[test]
fn doctor_warns_when_a_proxy_would_carry_the_traffic() {
    let em = Emulator::start();
    let proxy = format!("http://user:proxy-password@127.0.0.1:{}", unused_port());
    let (code, doc) = doctor_json(salesapp(&em).env("HTTP_PROXY", &proxy));
    let warning = row(&doc, "proxy");
    assert_eq!(warning["status"], "WARN", "{doc:#}");
    let detail = warning["detail"].as_str().unwrap_or("");
    assert!(detail.contains("S3 (") && detail.contains("SQS ("), "{detail}");
    assert!(detail.contains("via http://127.0.0.1:"), "{detail}");
    assert!(!doc.to_string().contains("proxy-password"), "the proxy's password was printed");
    assert!(warning["hint"].as_str().unwrap_or("").contains("NO_PROXY"));
    assert_eq!(row(&doc, "s3 write")["status"], "FAIL", "the SDK used the proxy: {doc:#}");
    assert_eq!(code, Some(69));
    assert_eq!(doc["exit_code"], 69);

    let (code, doc) =
        doctor_json(salesapp(&em).env("HTTP_PROXY", &proxy).env("NO_PROXY", "127.0.0.1"));
    assert_eq!(row(&doc, "proxy")["status"], "PASS", "{doc:#}");
    assert_eq!(code, Some(0), "{doc:#}");
}
