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
