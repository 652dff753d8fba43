//! With `require_private_sqs = true` (the emulator's config sets it) a
//! daemon resolves the SQS endpoint's host before anything is sent and refuses to start
//! (exit 78, naming host and addresses) when any address is public.
//!
//! No traffic leaves loopback: the public endpoints are *literal* IP addresses (resolved
//! without DNS) and the daemons must refuse before sending anything. That is asserted three
//! ways: the exit is fast, the emulator (still the S3 endpoint) records no request, and the
//! JSON trace log (`--log-format json`, `RUST_LOG=trace`) holds no event from the SDK's
//! request pipeline or the HTTP stack — no request was built, no connection attempted. (The
//! SDK's configuration is loaded first: the endpoint checked is the one its resolver names.)

use std::process::Command;
use std::time::{Duration, Instant};

use e2e::{reportsengine, run, salesapp, Emulator, Run};

/// Public literal addresses: TEST-NET-1, a well-known resolver, IPv6 documentation space.
/// Nothing is ever sent to them (that is what the tests prove).
const PUBLIC: &[(&str, &str)] = &[
    ("http://192.0.2.1:9/", "192.0.2.1"),
    ("http://8.8.8.8:9", "8.8.8.8"),
    ("http://[2001:db8::1]:9/", "2001:db8::1"),
];

/// Far below the 5 s connect timeout (a connection attempt to these would hang or fail).
const FAST: Duration = Duration::from_secs(3);

/// Runs `cmd` with JSON trace logging; returns the run and its duration.
fn traced(cmd: &mut Command) -> (Run, Duration) {
    cmd.env("RUST_LOG", "trace").args(["--log-format", "json", "--log-level", "trace"]);
    let start = Instant::now();
    let r = run(cmd);
    (r, start.elapsed())
}

/// Asserts the refusal: exit 78, fast, host and address named, and no event from the SDK's
/// request pipeline (the orchestrator, the HTTP client) or the HTTP stack in the trace log.
#[track_caller]
fn assert_refused(r: &Run, took: Duration, host: &str) {
    r.assert_code(78);
    assert!(took < FAST, "took {took:?}: did it try to connect?\n{}", r.output());
    assert!(r.stderr.contains("require_private_sqs"), "{}", r.output());
    assert!(r.stderr.contains(&format!("the SQS endpoint {host} resolves")), "{}", r.output());
    assert!(r.stderr.contains(&format!("public address(es) {host}")), "{}", r.output());
    let sdk_events: Vec<&str> = r
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["target"].as_str().map(str::to_string))
        .filter(|t| {
            ["aws_smithy_runtime::client::orchestrator", "aws_smithy_http_client", "hyper", "h2"]
                .iter()
                .any(|p| t.starts_with(p))
        })
        .map(|_| "sdk")
        .collect();
    assert!(sdk_events.is_empty(), "a request was under way before the check:\n{}", r.output());
}

#[test]
fn public_sqs_endpoint_in_config_is_refused_before_any_request() {
    let em = Emulator::start();
    let (path, _) = {
        let p = em.dir().join("day.csv");
        run(salesapp(&em).args(["generate", "--date", "2026-09-01", "--rows", "20", "-o"]).arg(&p))
            .assert_ok();
        (p, ())
    };
    em.start_recording();
    for (url, host) in PUBLIC {
        let set = format!("endpoints.sqs={url}");
        let (r, took) = traced(reportsengine(&em).args(["--set", &set, "once"]));
        assert_refused(&r, took, host);
        let (r, took) = traced(salesapp(&em).args(["--set", &set, "upload"]).arg(&path));
        assert_refused(&r, took, host);
    }
    let requests = em.stop_recording();
    assert!(requests.is_empty(), "requests were sent: {requests:?}");
    assert!(em.list_keys().is_empty(), "salesapp wrote before the check");
}

/// The SDK's own endpoint variables (docs/configuration.md) are checked too: with `endpoints.sqs` unset,
/// `AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL` decide where SQS traffic goes, so they are
/// what must be private. (Before the fix the check looked at the regional default name
/// instead — a DNS lookup of a host the client would not use.)
#[test]
fn public_sqs_endpoint_from_the_environment_is_refused() {
    let em = Emulator::start();
    let text = std::fs::read_to_string(em.config_path()).unwrap();
    let without_sqs: String =
        text.lines().filter(|l| !l.starts_with("sqs = ")).map(|l| format!("{l}\n")).collect();
    assert!(without_sqs.contains("require_private_sqs = true"));
    let config = em.write_file("no-sqs-endpoint.toml", without_sqs);
    em.start_recording();
    for var in ["AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL"] {
        for (url, host) in PUBLIC {
            let mut cmd = em.bare_command("reportsengine");
            cmd.arg("--config").arg(&config);
            cmd.env(var, url).arg("once");
            let (r, took) = traced(&mut cmd);
            assert_refused(&r, took, host);
        }
    }
    assert!(em.stop_recording().is_empty());

    // Loopback from the environment passes, and the client then uses exactly that endpoint.
    em.send_raw("{datafilelocation:s3://nope/x}");
    let mut cmd = em.bare_command("reportsengine");
    cmd.arg("--config").arg(&config);
    cmd.env("AWS_ENDPOINT_URL_SQS", em.endpoint()).arg("once");
    run(&mut cmd).assert_ok();
    assert_eq!(em.queue_counts(), (0, 0), "the message was consumed through the env endpoint");
}

/// Loopback (the emulator) is private: the same configuration with `require_private_sqs =
/// true` starts and works.
#[test]
fn loopback_sqs_endpoint_passes_the_check() {
    let em = Emulator::start();
    let config = std::fs::read_to_string(em.config_path()).unwrap();
    assert!(config.contains("require_private_sqs = true"), "{config}");
    em.send_raw("{datafilelocation:s3://nope/x}");
    let r = run(reportsengine(&em).arg("once"));
    r.assert_ok();
    assert!(!r.stderr.contains("require_private_sqs"), "{}", r.output());
    assert_eq!(em.queue_counts(), (0, 0));
}
