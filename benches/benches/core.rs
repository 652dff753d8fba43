//! Criterion benches of the pure core: `cargo bench -p benches`.
//!
//! - `validate/*`: the streaming validator on generated data, fed in 1 MiB chunks as
//!   `reportsengine build` and the engine do (SHA-256 included), with ids in file order
//!   and shuffled (the exact duplicate check's slow case); `parse_only` leaves the SHA-256
//!   out, as `reportsengine build` does on a machine with a second core (it hashes there),
//!   and `sha256_only` is that hash alone: on one core the two add up;
//! - `report/*`: building the report from a day summary (also for 2,000 reps over 200 days of
//!   ledger, where the year-to-date sums dominate) and rendering CSV, JSON and HTML.
#![forbid(unsafe_code)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use benches::{generated, many_reps, parse_chunked, shuffled, validate_chunked, year_of_ledger};
use sales_domain::ledger::Ledger;
use sales_domain::money::Compensation;
use sales_domain::report::Report;
use sales_domain::sales::{validate_slice, Limits};

const ROWS: u64 = 200_000;

fn validate(c: &mut Criterion) {
    let data = generated(ROWS);
    let mixed = shuffled(&data);
    let mut group = c.benchmark_group("validate");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(20);
    group.bench_function("generated_in_order", |b| b.iter(|| validate_chunked(&data)));
    group.bench_function("generated_shuffled", |b| b.iter(|| validate_chunked(&mixed)));
    group.bench_function("parse_only", |b| b.iter(|| parse_chunked(&data)));
    group.bench_function("sha256_only", |b| {
        b.iter(|| <sha2::Sha256 as sha2::Digest>::digest(&data))
    });
    group.bench_function("whole_slice", |b| {
        b.iter(|| validate_slice("bench.csv", &data, Limits::default()).expect("valid"))
    });
    group.finish();
}

fn report(c: &mut Criterion) {
    let day = validate_chunked(&generated(ROWS));
    let ledger = Ledger::default();
    let comp = Compensation::default();
    let mut group = c.benchmark_group("report");
    group.bench_function("build", |b| {
        b.iter(|| Report::build(&day, "sales/2026-01-15/sales.csv", &ledger, &comp, "bench"))
    });
    // 2,000 reps over 200 days of ledger (400,000 rows): the year-to-date sums in one pass.
    let (team, year) = (many_reps(2_000), year_of_ledger(2_000, 200));
    group.bench_function("build_2000_reps_200_ledger_days", |b| {
        b.iter(|| Report::build(&team, "sales/2026-12-31/sales.csv", &year, &comp, "bench"))
    });
    let report = Report::build(&day, "sales/2026-01-15/sales.csv", &ledger, &comp, "bench");
    group.bench_function("render_csv_json_html", |b| {
        b.iter_batched(
            || (),
            |()| (report.to_csv().len(), report.to_json().len(), report.to_html().len()),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, validate, report);
criterion_main!(benches);
