//! Criterion benches of the pure core: `cargo bench -p benches`.
//!
//! - `validate/*`: the streaming validator on generated data, fed in 1 MiB chunks as
//!   `reportsengine build` and the engine do (SHA-256 included), with ids in file order
//!   and shuffled (the exact duplicate check's slow case); `parse_only` leaves the SHA-256
//!   out, as `reportsengine build` does on a machine with a second core (it hashes there),
//!   and `sha256_only` is that hash alone: on one core the two add up;
//! - `report/*`: building the report from a day summary and rendering CSV, JSON and HTML.
#![forbid(unsafe_code)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use common::config::Compensation;
use sales_domain::ledger::Ledger;
use sales_domain::report::Report;
use sales_domain::sales::{validate_slice, DaySummary, Limits, SalesDate, Validator};

const ROWS: u64 = 200_000;

fn date() -> SalesDate {
    SalesDate::from_ymd(2026, 1, 15).expect("a real date")
}

fn generated(rows: u64) -> Vec<u8> {
    let mut out = Vec::new();
    sales_domain::generate::generate(date(), rows, 42, &mut out).expect("writing to memory");
    out
}

/// The same rows with their order shuffled (deterministically): order ids out of order.
fn shuffled(data: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(data).expect("generated data is UTF-8");
    let mut lines: Vec<&str> = text.lines().collect();
    let (header, rows) = lines.split_at_mut(1);
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for i in (1..rows.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        rows.swap(i, (state % (i as u64 + 1)) as usize);
    }
    let mut out = String::with_capacity(data.len());
    for line in header.iter().chain(rows.iter()) {
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}

fn validate_chunked(data: &[u8]) -> DaySummary {
    let mut v = Validator::new("bench.csv", Limits::default());
    for chunk in data.chunks(1 << 20) {
        v.feed(chunk).expect("valid data");
    }
    v.finish().expect("valid data")
}

fn parse_chunked(data: &[u8]) -> DaySummary {
    let mut v = Validator::new("bench.csv", Limits::default()).hash_elsewhere();
    for chunk in data.chunks(1 << 20) {
        v.feed(chunk).expect("valid data");
    }
    v.finish_with_sha256([0; 32]).expect("valid data")
}

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
