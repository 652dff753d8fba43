//! Property-based fuzzing of the two parsers that take hostile input: the streaming CSV
//! validator ([`sales_domain::sales::Validator`]) and the message parser with its
//! confused-deputy guard ([`sales_domain::message::SalesMessage::parse`], `accepted_key`).
//!
//! Runs inside `cargo test` with a bounded number of cases per property (default 2 000;
//! `FUZZ_CASES=N` for a longer run). The validator runs under the default limits and under
//! small random ones ([`Limits`]: rows, distinct names, lengths, columns, problems kept), and
//! every promise of a limit is checked: nothing accepted exceeds it, a file is refused at the
//! first name over it, and the problem list is bounded whatever the input. Inputs are both
//! raw random bytes and structured, nearly-valid inputs (a real header and rows with
//! mutations), so the fuzzing reaches the row checks and the guard's shape tests, not only
//! the first rejection.
#![forbid(unsafe_code)]

use proptest::prelude::*;
use proptest::test_runner::Config;
use sales_domain::message::SalesMessage;
use sales_domain::sales::{Limits, SalesDate, Shown, Validator, MAX_SHOWN_PROBLEMS};

fn config() -> Config {
    let cases = std::env::var("FUZZ_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(2_000);
    Config { cases, failure_persistence: None, ..Config::default() }
}

// ---------------------------------------------------------------- the CSV validator

/// Feeds `data` cut at `cuts` (positions, any order); the first error, or `finish`.
fn validate_chunked(
    data: &[u8],
    cuts: &[usize],
    limits: Limits,
    expected: Option<SalesDate>,
) -> Result<sales_domain::sales::DaySummary, sales_domain::sales::ValidationErrors> {
    let mut v = Validator::new("f.csv", limits);
    if let Some(d) = expected {
        v = v.with_expected_date(d);
    }
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.push(0);
    points.push(data.len());
    points.sort_unstable();
    points.dedup();
    for w in points.windows(2) {
        v.feed(&data[w[0]..w[1]])?;
    }
    v.finish()
}

/// One field value: mostly plausible, sometimes hostile.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z][A-Za-z ]{0,8}",
        2 => "[0-9]{1,4}(\\.[0-9]{1,3})?",
        1 => Just(String::new()),
        1 => Just("\"quoted, with comma\"".to_string()),
        1 => Just("\"two\nlines\"".to_string()),
        1 => Just("\"doubled \"\" quote\"".to_string()),
        1 => Just("bare\"quote".to_string()),
        1 => Just("\"unterminated".to_string()),
        1 => Just("-1".to_string()),
        1 => Just("99999999999999999999999".to_string()),
        1 => Just("Zoë Ødegaard 東京".to_string()),
        1 => Just("\u{0}".to_string()),
        1 => Just("2026-02-30".to_string()),
        1 => Just("\r".to_string()),
    ]
}

/// A row of a plausible day (date 2026-01-15), possibly with a mutated field or arity.
fn row(i: usize) -> impl Strategy<Value = String> {
    let good = (
        prop::sample::select(vec!["Ada", "Grace", "Linus", "\"Lovelace, Ada\""]),
        prop::sample::select(vec!["North", "South", "Süd"]),
        prop::sample::select(vec!["Widget", "Gizmo", "\"Widget, large\""]),
        1u32..50,
        0u32..100_000,
    )
        .prop_map(move |(rep, region, product, qty, cents)| {
            format!(
                "2026-01-15,{i},{rep},{region},{product},{qty},{}.{:02}",
                cents / 100,
                cents % 100
            )
        });
    prop_oneof![
        6 => good.clone().boxed(),
        2 => (good, 0usize..7, field()).prop_map(|(r, col, f)| {
            let mut parts: Vec<String> = r.split(',').map(str::to_string).collect();
            let col = col.min(parts.len() - 1);
            parts[col] = f;
            parts.join(",")
        }).boxed(),
        1 => prop::collection::vec(field(), 0..10).prop_map(|fs| fs.join(",")).boxed(),
    ]
}

/// A nearly-valid file: optional BOM, a (possibly permuted or damaged) header, rows, line
/// endings LF or CRLF, optional final newline.
fn sales_file() -> impl Strategy<Value = Vec<u8>> {
    let header = prop_oneof![
        4 => Just("date,order_id,sales_rep,region,product,quantity,unit_price".to_string()),
        1 => Just("unit_price,quantity,product,region,sales_rep,order_id,date,note".to_string()),
        1 => Just("date,order_id,sales_rep,region,product,quantity".to_string()),
        1 => Just("date,date,order_id,sales_rep,region,product,quantity,unit_price".to_string()),
        1 => "[a-z_,]{0,40}",
    ];
    (
        any::<bool>(),
        header,
        prop::collection::vec(0usize..1, 0..12)
            .prop_flat_map(|v| (0..v.len()).map(row).collect::<Vec<_>>()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(bom, header, rows, crlf, final_nl)| {
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut s = String::new();
            if bom {
                s.push('\u{feff}');
            }
            s.push_str(&header);
            for r in rows {
                s.push_str(nl);
                s.push_str(&r);
            }
            if final_nl {
                s.push_str(nl);
            }
            s.into_bytes()
        })
}

/// Arbitrary bytes, or a nearly-valid file with a few bytes flipped.
fn validator_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..600),
        3 => sales_file(),
        1 => (sales_file(), prop::collection::vec((any::<usize>(), any::<u8>()), 1..4)).prop_map(
            |(mut f, flips)| {
                for (at, b) in flips {
                    if !f.is_empty() {
                        let n = f.len();
                        f[at % n] = b;
                    }
                }
                f
            }
        ),
    ]
}

/// The default limits, or small random ones that the fuzzed files cross.
fn limits() -> impl Strategy<Value = Limits> {
    let small = (
        (prop_oneof![Just(64usize), Just(1 << 10), Just(64 << 10)]),
        7usize..12,
        (1usize..12, 1usize..12),
        1u64..14,
        (1usize..5, 1usize..4, 1usize..6),
        20usize..40,
    )
        .prop_map(|(line, columns, (name, id), rows, (reps, regions, products), problems)| {
            Limits {
                max_line_bytes: line,
                max_columns: columns,
                max_name_bytes: name,
                max_order_id_bytes: id,
                max_rows: rows,
                max_reps: reps,
                max_regions: regions,
                max_products: products,
                max_problems: problems,
                ..Limits::default()
            }
        });
    prop_oneof![1 => Just(Limits::default()), 2 => small]
}

proptest! {
    #![proptest_config(config())]

    /// Never panics, whatever the bytes and however they are cut; and the outcome (the
    /// summary, or the located problems) does not depend on the chunking.
    #[test]
    fn validator_is_total_and_chunking_invariant(
        data in validator_input(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        limits in limits(),
        expected in any::<bool>(),
    ) {
        let expected = expected.then(|| SalesDate::from_ymd(2026, 1, 15).unwrap());
        let whole = validate_chunked(&data, &[], limits, expected);
        let bytewise: Vec<usize> = if data.len() <= 200 { (0..data.len()).collect() } else { vec![] };
        let chunked = validate_chunked(&data, &cuts, limits, expected);
        prop_assert_eq!(&whole, &chunked);
        if !bytewise.is_empty() {
            prop_assert_eq!(&whole, &validate_chunked(&data, &bytewise, limits, expected));
        }
        if let Ok(day) = &whole {
            prop_assert!(day.rows >= 1);
            prop_assert_eq!(day.bytes, data.len() as u64);
            // Nothing accepted is over a limit.
            prop_assert!(day.rows <= limits.max_rows);
            prop_assert!(day.reps.len() <= limits.max_reps);
            prop_assert!(day.regions.len() <= limits.max_regions);
            prop_assert!(day.products.len() <= limits.max_products);
            let names = day.reps.keys().chain(day.regions.keys()).chain(day.products.keys());
            for name in names {
                prop_assert!(name.len() <= limits.max_name_bytes, "{:?}", name);
            }
        }
        if let Err(e) = &whole {
            prop_assert!(!e.problems.is_empty() || e.total > 0);
            prop_assert!(e.problems.iter().all(|p| p.line >= 1));
            // The list is bounded, and every rendering of it is too.
            prop_assert!(e.problems.len() <= limits.max_problems);
            prop_assert!(e.total >= e.problems.len() as u64);
            let shown = e.to_string();
            prop_assert!(shown.lines().count() <= MAX_SHOWN_PROBLEMS + 1, "{}", shown);
            let all = e.render(Shown::All);
            prop_assert!(all.lines().count() <= 2 * e.problems.len() + 3, "{}", all);
        }
    }

    /// A file with more distinct reps, regions or products than their limit is refused at
    /// the first name over it (its line and column), with the limit's key.
    #[test]
    fn names_over_their_limit_are_refused_where_they_cross_it(
        names in prop::collection::vec(0u8..12, 1..60),
        column in 0usize..3,
        max in 1usize..8,
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let mut s = String::from("date,order_id,sales_rep,region,product,quantity,unit_price\n");
        let mut seen = std::collections::BTreeSet::new();
        let mut crossing = None;
        for (i, n) in names.iter().enumerate() {
            let name = format!("N{n}");
            let mut fields = ["Ada".to_string(), "North".to_string(), "Widget".to_string()];
            fields[column] = name.clone();
            s.push_str(&format!("2026-01-15,{i},{},{},{},1,1.00\n", fields[0], fields[1], fields[2]));
            seen.insert(name);
            if seen.len() > max && crossing.is_none() {
                crossing = Some(i as u64 + 2);
            }
        }
        let limits = match column {
            0 => Limits { max_reps: max, ..Limits::default() },
            1 => Limits { max_regions: max, ..Limits::default() },
            _ => Limits { max_products: max, ..Limits::default() },
        };
        let got = validate_chunked(s.as_bytes(), &cuts, limits, None);
        match crossing {
            None => prop_assert!(got.is_ok(), "{:?}", got),
            Some(line) => {
                let e = got.expect_err("over the limit");
                prop_assert_eq!(e.total, 1);
                let (col, key) = [("sales_rep", "max_reps"), ("region", "max_regions"), ("product", "max_products")][column];
                prop_assert_eq!((e.problems[0].line, e.problems[0].column.as_str()), (line, col));
                let needle = format!("limits.{}", key);
                prop_assert!(e.problems[0].reason.contains(&needle), "{}", e);
            }
        }
    }

    /// A valid file built here is accepted, with the right row count and revenue.
    #[test]
    fn validator_accepts_valid_files_with_the_right_sums(
        rows in prop::collection::vec((1u64..1000, 0u64..1_000_000), 1..40),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut s = String::from("date,order_id,sales_rep,region,product,quantity,unit_price\n");
        let mut revenue = 0u128;
        for (i, (qty, cents)) in rows.iter().enumerate() {
            s.push_str(&format!("2026-01-15,{i},Rep {},R{},P{},{qty},{}.{:02}\n", i % 3, i % 2, i % 5, cents / 100, cents % 100));
            revenue += u128::from(*qty) * u128::from(*cents);
        }
        let day = validate_chunked(s.as_bytes(), &cuts, Limits::default(), None);
        prop_assert!(day.is_ok(), "{:?}", day);
        let day = day.unwrap();
        prop_assert_eq!(day.rows, rows.len() as u64);
        prop_assert_eq!(day.revenue.to_string(), format!("{}.{:02}", revenue / 100, revenue % 100));
    }
}

// ---------------------------------------------------------------- the message parser

const BUCKET: &str = "123456789012-lab-us-east-1-restrictedbucket";

/// Pieces messages are made of, good and hostile.
fn message_piece() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "{",
        "}",
        "\"",
        ":",
        ",",
        " ",
        "\n",
        "datafilelocation",
        "\"datafilelocation\"",
        "s3://",
        BUCKET,
        "other-bucket",
        "BUCKET",
        "/",
        "sales/",
        "2026-01-15",
        "2026-02-30",
        "/sales.csv",
        ".csv",
        "..",
        "%2e%2e",
        "\\",
        "?x=1",
        "#",
        "@",
        "test.txt",
        "\"date\"",
        "\"sha256\"",
        "\"rows\"",
        "null",
        "-1",
        "1e3",
        "[",
        "]",
        "\u{0}",
        "\u{202e}",
        "ｓ3://",
        "é",
        "\t",
    ])
    .prop_map(str::to_string)
}

fn message_body() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => any::<String>(),
        // Deep nesting, balanced or not, around a good location or inside another value.
        1 => (0usize..300, 0usize..300, prop::sample::select(vec!["[", "{\"a\":", "[{\"b\":"]))
            .prop_map(|(open, close, piece)| format!(
                "{{\"datafilelocation\":\"s3://{BUCKET}/sales/2026-01-15/sales.csv\",\"x\":{}1{}}}",
                piece.repeat(open),
                "]".repeat(close)
            )),
        3 => prop::collection::vec(message_piece(), 0..24).prop_map(|v| v.concat()),
        2 => ("[a-z0-9.-]{1,70}", "[ -~]{0,80}").prop_map(|(b, k)| {
            format!("{{\"datafilelocation\":\"s3://{b}/{k}\"}}")
        }),
        2 => ("[a-z0-9.-]{1,70}", "[!-~]{0,80}").prop_map(|(b, k)| {
            format!("{{datafilelocation:s3://{b}/{k}}}")
        }),
    ]
}

/// What `accepted_key` promises when it accepts a key (docs/design.md, The key rule).
fn assert_accepted_key(m: &SalesMessage, date: Option<SalesDate>) -> Result<(), TestCaseError> {
    prop_assert_eq!(m.bucket.as_str(), BUCKET);
    let key = m.key.as_str();
    prop_assert!(!key.is_empty() && key.len() <= 1024, "{}", key);
    prop_assert!(key.bytes().all(|b| (b' '..=b'~').contains(&b)), "{:?}", key);
    prop_assert!(!key.starts_with('/') && !key.contains("..") && !key.contains("//"), "{}", key);
    prop_assert!(!key.split('/').any(|segment| segment == "."), "{}", key);
    prop_assert!(!key.contains(['\\', '?', '#']), "{}", key);
    let escape =
        key.as_bytes().windows(3).any(|w| w[0] == b'%' && w[1..].iter().all(u8::is_ascii_hexdigit));
    prop_assert!(!escape, "{}", key);
    let first = key.split('/').next().unwrap_or_default().to_ascii_lowercase();
    prop_assert!(
        !["reports", "quarantine", "doctor", "compensation"].contains(&first.as_str()),
        "{}",
        key
    );
    if let Some(date) = date {
        prop_assert!(key.starts_with(&format!("sales/{date}/")), "{}", key);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// Never panics; whatever it accepts, the guard either refuses with a reason or accepts a
    /// key of the configured bucket that the key rule allows; nothing over the body limit is
    /// accepted.
    #[test]
    fn message_parser_and_guard_are_total_and_safe(
        body in message_body(),
        max_bytes in prop_oneof![Just(64 << 10), 16usize..200],
    ) {
        let parsed = SalesMessage::parse_within(&body, max_bytes);
        if body.len() > max_bytes {
            prop_assert!(parsed.is_err());
        }
        match parsed {
            Err(e) => prop_assert!(!e.0.is_empty()),
            Ok(m) => {
                prop_assert!(!m.key.is_empty());
                match m.accepted_key(BUCKET, None) {
                    Ok(date) => assert_accepted_key(&m, date)?,
                    Err(e) => prop_assert!(!e.0.is_empty()),
                }
                // Another trusted bucket never accepts this one's messages.
                if m.bucket != "other-bucket" {
                    prop_assert!(m.accepted_key("other-bucket", None).is_err());
                }
            }
        }
    }

    /// What salesapp sends parses back to the same message, and the guard accepts it with the
    /// key's date.
    #[test]
    fn message_round_trips(
        name in "[A-Za-z0-9_-](\\.?[A-Za-z0-9_-]){0,12}",
        (y, mo, d) in (2000i32..2100, 1u8..13, 1u8..29),
        sha in prop::option::of("[0-9a-f]{64}"),
        rows in prop::option::of(any::<u64>()),
        with_date in any::<bool>(),
    ) {
        let date = SalesDate::from_ymd(y, mo, d).unwrap();
        let m = SalesMessage {
            bucket: BUCKET.to_string(),
            key: format!("sales/{date}/{name}.csv"),
            date: with_date.then_some(date),
            sha256: sha,
            rows,
        };
        let parsed = SalesMessage::parse(&m.to_body());
        prop_assert_eq!(parsed.as_ref(), Ok(&m));
        prop_assert_eq!(parsed.unwrap().accepted_key(BUCKET, None), Ok(Some(date)));
    }
}
