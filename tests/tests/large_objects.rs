//! Large sales objects are read over several connections (parallel ranged GETs, handed to
//! the validator in order): the report is exact to the byte (its `source.sha256` is the
//! file's) across range boundaries, also when a connection is cut in the middle of a range.

use e2e::checks::{self, sales_key};
use e2e::cutter::Cutter;
use e2e::scenario::*;
use e2e::{reportsengine, run, salesapp, Emulator};

/// ~5.4 MB: six parts of 1 MiB, the last one short.
const ROWS: u32 = 60_000;
const MIB: u64 = 1 << 20;

fn in_parts() -> [&'static str; 4] {
    ["--set", "reportsengine.read_part_size=1MiB", "--set", "reportsengine.read_connections=3"]
}

#[test]
fn a_large_object_is_read_in_ranges_and_the_report_is_exact() {
    let em = Emulator::start();
    let (path, bytes) = generate(&em, "2026-09-01", ROWS, 41);
    assert!(bytes.len() as u64 > 5 * MIB, "{} bytes", bytes.len());
    run(salesapp(&em).arg("upload").arg(&path)).assert_ok();
    em.start_recording();
    run(reportsengine(&em).args(in_parts()).arg("once")).assert_ok();
    let requests = em.stop_recording();
    let sales = format!("/{}/{}", em.bucket(), sales_key("2026-09-01"));
    let gets =
        requests.iter().filter(|r| r.action() == "s3:GetObject" && r.s3_path() == sales).count();
    assert_eq!(gets as u64, (bytes.len() as u64).div_ceil(MIB), "one GetObject per part");
    checks::assert_report(&em, &reference_of(&em, &bytes), &[]);
}

#[test]
fn a_range_cut_mid_way_is_fetched_again_and_the_report_is_exact() {
    let em = Emulator::start();
    let (path, bytes) = generate(&em, "2026-09-02", ROWS, 42);
    run(salesapp(&em).arg("upload").arg(&path)).assert_ok();
    // The third part's first answer stops after 1500 bytes (headers and some of the body).
    let cutter = Cutter::start(em.port(), 2 * MIB, 1500);
    let r = run(reportsengine(&em)
        .args(in_parts())
        .args(["--set", &format!("endpoints.s3={}", cutter.endpoint())])
        .arg("once"));
    r.assert_ok();
    assert!(cutter.has_cut(), "the range was never asked for");
    assert!(cutter.asked() >= 2, "not fetched again: {}\n{}", cutter.asked(), r.output());
    checks::assert_report(&em, &reference_of(&em, &bytes), &[]);
    checks::assert_no_quarantine(&em);
    checks::assert_queue_empty(&em);
}

/// A sales object salesapp wrote in parts (over 16 MiB) carries a part-level checksum
/// (`…-N`), which the SDK cannot check: it used to log a WARN ("This checksum is a
/// part-level checksum which can't be validated…") for every such object, which
/// `journalctl -p warning` showed for every day. The engine checks the whole object's
/// SHA-256 against the digest salesapp stored with it instead; the report is exact and no
/// warning is logged, whether the object is read in ranges or in one stream.
#[test]
fn a_multipart_object_is_read_without_a_checksum_warning() {
    let em = Emulator::start();
    let (path, bytes) = generate(&em, "2026-09-03", 220_000, 43);
    assert!(bytes.len() as u64 > 16 * MIB, "multipart: {} bytes", bytes.len());
    run(salesapp(&em).arg("upload").arg(&path)).assert_ok();
    for connections in ["8", "1"] {
        let set = format!("reportsengine.read_connections={connections}");
        let r = run(reportsengine(&em).args(["--set", &set, "--log-format", "json", "once"]));
        r.assert_ok();
        for line in r.stderr.lines() {
            assert!(!line.contains("part-level checksum"), "{connections}: {line}");
            let sdk_warning = line.contains("\"level\":\"WARN\"") && line.contains("aws_sdk_s3");
            assert!(!sdk_warning, "{connections}: {line}");
        }
        checks::assert_report(&em, &reference_of(&em, &bytes), &[]);
        if connections == "8" {
            em.send_raw(&format!(
                "{{\"datafilelocation\":\"s3://{}/{}\"}}",
                em.bucket(),
                sales_key("2026-09-03")
            ));
        }
    }
    // An object whose stored digest is not its bytes' is refused as such (quarantined).
    let (_, small) = generate(&em, "2026-09-04", 20, 44);
    em.block_on(async {
        em.s3()
            .put_object()
            .bucket(em.bucket())
            .key("by-hand/wrong-digest.csv")
            .metadata("sha256", "00".repeat(32))
            .body(small.into())
            .send()
            .await
            .expect("put");
    });
    let sent = em.send_raw(&format!(
        "{{\"datafilelocation\":\"s3://{}/by-hand/wrong-digest.csv\"}}",
        em.bucket()
    ));
    run(reportsengine(&em).arg("once")).assert_ok();
    let record = quarantine_record(&em, &sent).expect("quarantined");
    let reason = record["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("not the 0000") && reason.contains("its writer stored"), "{reason}");
}
