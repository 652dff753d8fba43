//! The validator's behaviour, end to end over bytes: rows, problems, chunking, limits.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::date::*;
use super::fields::*;
use super::order_ids::*;
use super::*;
use crate::money::Cents;

const H: &str = "date,order_id,sales_rep,region,product,quantity,unit_price\n";

fn limits() -> Limits {
    Limits { max_line_bytes: 4096, ..Limits::default() }
}
fn check(data: &[u8]) -> Result<DaySummary, ValidationErrors> {
    validate_slice("t.csv", data, limits())
}
fn ok(data: &str) -> DaySummary {
    match check(data.as_bytes()) {
        Ok(s) => s,
        Err(e) => panic!("expected valid, got:\n{e}"),
    }
}
/// (line, column, reason) of every kept problem.
fn problems(data: &[u8]) -> Vec<(u64, String, String)> {
    match check(data) {
        Ok(_) => panic!("expected problems"),
        Err(e) => e.problems.into_iter().map(|p| (p.line, p.column, p.reason)).collect(),
    }
}
/// The single problem's (line, column), and its reason contains `needle`.
fn one(data: &str, line: u64, column: &str, needle: &str) {
    let ps = problems(data.as_bytes());
    assert_eq!(ps.len(), 1, "{data:?}: {ps:?}");
    assert_eq!((ps[0].0, ps[0].1.as_str()), (line, column), "{data:?}: {ps:?}");
    assert!(ps[0].2.contains(needle), "{data:?}: {:?} lacks {needle:?}", ps[0].2);
}
fn row(id: &str) -> String {
    format!("2026-01-15,{id},Ada Lovelace,EMEA,Widget,2,1.50\n")
}
fn file(rows: &[String]) -> String {
    let mut s = H.to_string();
    for r in rows {
        s.push_str(r);
    }
    s
}

#[test]
fn sales_date_parse_and_display() {
    for good in ["2026-01-15", "2024-02-29", "0001-01-01", "9999-12-31"] {
        let d: SalesDate = good.parse().unwrap();
        assert_eq!(d.to_string(), good);
    }
    let bad = [
        ("2026-02-30", "is not a real calendar date"),
        ("2025-02-29", "is not a real calendar date"),
        ("2026-13-01", "is not a real calendar date"),
        ("2026-00-10", "is not a real calendar date"),
        ("2026-1-15", "YYYY-MM-DD"),
        ("15/01/2026", "YYYY-MM-DD"),
        (" 2026-01-15", "YYYY-MM-DD"),
        ("2026-01-15 ", "YYYY-MM-DD"),
        ("+202-01-15", "YYYY-MM-DD"),
        ("2026-01-15T00:00", "YYYY-MM-DD"),
        ("", "YYYY-MM-DD"),
        ("２０２６-01-15", "YYYY-MM-DD"),
    ];
    for (s, why) in bad {
        let e = s.parse::<SalesDate>().unwrap_err();
        assert!(e.contains(why), "{s:?}: {e}");
    }
    let d: SalesDate = "2026-03-01".parse().unwrap();
    assert_eq!(d.compact(), "20260301");
    assert_eq!(SalesDate::from_ymd(2026, 2, 29), None);
    assert_eq!(serde_json::to_string(&d).unwrap(), "\"2026-03-01\"");
}

#[test]
fn aggregation_by_hand() {
    let data = "\
date,order_id,sales_rep,region,product,quantity,unit_price
2026-01-15,A1,Ada,EMEA,Widget,2,1.50
2026-01-15,A2,Bob,APAC,Gadget,1,19.99
2026-01-15,A3,Ada,APAC,Widget,3,1.5
2026-01-15,A4,Ada,EMEA,Gizmo,10,0.07
";
    let s = ok(data);
    assert_eq!(s.date.to_string(), "2026-01-15");
    assert_eq!((s.rows, s.units, s.revenue), (4, 16, Cents(300 + 1999 + 450 + 70)));
    let ada = &s.reps["Ada"];
    assert_eq!((ada.orders, ada.units, ada.revenue), (3, 15, Cents(820)));
    assert_eq!(ada.regions.iter().collect::<Vec<_>>(), ["APAC", "EMEA"]);
    let bob = &s.reps["Bob"];
    assert_eq!((bob.orders, bob.units, bob.revenue), (1, 1, Cents(1999)));
    assert_eq!(bob.regions.len(), 1);
    assert_eq!(s.regions["EMEA"], RegionDay { orders: 2, units: 12, revenue: Cents(370) });
    assert_eq!(s.regions["APAC"], RegionDay { orders: 2, units: 4, revenue: Cents(2449) });
    assert_eq!(s.products["Widget"], ProductDay { units: 5, revenue: Cents(750) });
    assert_eq!(s.products["Gadget"], ProductDay { units: 1, revenue: Cents(1999) });
    assert_eq!(s.products["Gizmo"], ProductDay { units: 10, revenue: Cents(70) });
    assert_eq!(s.bytes, data.len() as u64);
    assert_eq!(s.sha256, <[u8; 32]>::from(Sha256::digest(data.as_bytes())));
    assert!(s.extra_columns.is_empty());
    assert_eq!(s.reps.keys().collect::<Vec<_>>(), ["Ada", "Bob"]);
}

#[test]
fn bytewise_key_order_and_non_ascii() {
    let s = ok(&file(&[
        "2026-01-15,1,Zoë Ødegaard,Nord,Café crème,1,2.00\n".into(),
        "2026-01-15,2,José Núñez,Sud,Été,1,3.00\n".into(),
        "2026-01-15,3,Zed,Nord,abc,1,1.00\n".into(),
    ]));
    // Bytewise: "José" < "Zed" < "Zoë" ('e' 0x65 < 'o' 0x6F); "abc" < "Été" (0x61 < 0xC3).
    assert_eq!(s.reps.keys().collect::<Vec<_>>(), ["José Núñez", "Zed", "Zoë Ødegaard"]);
    assert_eq!(s.products.keys().collect::<Vec<_>>(), ["Café crème", "abc", "Été"]);
}

#[test]
fn bom_crlf_mixed_line_ends_and_no_final_newline() {
    let plain = ok(&file(&[row("1"), row("2")]));
    let variants = [
        format!("\u{FEFF}{}", file(&[row("1"), row("2")])),
        file(&[row("1"), row("2")]).replace('\n', "\r\n"),
        H.replace('\n', "\r\n") + &row("1") + row("2").trim_end(),
        format!("{H}{}\r\n{}", row("1").trim_end(), row("2").trim_end()),
    ];
    for v in variants {
        let s = ok(&v);
        assert_eq!(s.rows, 2);
        assert_eq!(s.reps, plain.reps, "{v:?}");
        assert_eq!(s.products, plain.products);
    }
    // A BOM anywhere else is data: here it spoils the first column's name.
    one(&format!("x\u{FEFF}{}", file(&[row("1")])), 1, "header", "missing required");
}

#[test]
fn quoted_fields() {
    let data = "\
date,order_id,sales_rep,region,product,quantity,unit_price
2026-01-15,1,\"Lovelace, Ada\",EMEA,\"Cable, USB-C 2m\",1,9.99
2026-01-15,2,Bob,EMEA,\"Monitor 27\"\" 4K\",1,299.00
\"2026-01-15\",\"3\",\"Bob\",\"EMEA\",\"Multi
line
name\",\"1\",\"1.00\"
2026-01-15,4,Bob,\"\",x,1,1.00
2026-01-15,5,Bob,EMEA,x,0,1.00
";
    let ps = problems(data.as_bytes());
    // Row 4 starts on line 4 and spans 3 lines: rows 5 and 6 are on lines 7 and 8.
    assert_eq!(ps[0].0, 7);
    assert_eq!(ps[0].1, "region");
    assert_eq!((ps[1].0, ps[1].1.as_str()), (8, "quantity"));
    let good = data.lines().take(6).collect::<Vec<_>>().join("\n");
    let s = ok(&good);
    assert!(s.reps.contains_key("Lovelace, Ada"));
    assert!(s.products.contains_key("Cable, USB-C 2m"));
    assert!(s.products.contains_key("Monitor 27\" 4K"));
    assert!(s.products.contains_key("Multi\nline\nname"));
    // A CRLF inside quotes is data; the one ending the record is not.
    let crlf = good.replace('\n', "\r\n") + "\r\n";
    let s = ok(&crlf);
    assert!(s.products.contains_key("Multi\r\nline\r\nname"));
    assert!(s.products.contains_key("Cable, USB-C 2m"));
}

#[test]
fn quote_errors_are_located() {
    one(&file(&["2026-01-15,1,Bob,EMEA,TV 55\" set,1,1.00\n".into()]), 2, "product", "double");
    one(
        &file(&["2026-01-15,1,Bob,EMEA,\"TV\" set,1,1.00\n".into()]),
        2,
        "product",
        "after the closing quote",
    );
    // A quote-error row still counts as a row, and later rows keep their lines.
    let data =
        file(&["2026-01-15,1,Bob,E,a\"b,1,1.00\n".into(), "2026-01-15,2,Bob,E,p,x,1.00\n".into()]);
    let ps = problems(data.as_bytes());
    assert_eq!(
        ps.iter().map(|p| (p.0, p.1.as_str())).collect::<Vec<_>>(),
        [(2, "product"), (3, "quantity")]
    );
}

#[test]
fn unterminated_quote_at_eof_is_fatal() {
    let data = file(&[row("1"), "2026-01-15,2,Bob,EMEA,\"Widget,1,1.00\n".into(), row("3")]);
    one(&data, 3, "product", "closing quote is missing");
    let data = format!("{H}{}\"", row("1"));
    one(&data, 3, "date", "closing quote is missing");
}

#[test]
fn reordered_and_extra_columns() {
    let data = "\
note,unit_price,quantity,product,region,sales_rep,order_id,date,channel
hello,2.50,4,Widget,EMEA,Ada,X1,2026-01-15,web
,1.00,1,Widget,EMEA,Ada,X2,2026-01-15,
";
    let s = ok(data);
    assert_eq!(s.extra_columns, ["note", "channel"]);
    assert_eq!((s.rows, s.units, s.revenue), (2, 5, Cents(1100)));
}

#[test]
fn header_problems_are_fatal_and_complete() {
    let ps = problems(b"date,order_id,sales_rep,product,quantity\n2026-01-15,1,a,b,1\n");
    assert_eq!(ps.len(), 1);
    assert_eq!((ps[0].0, ps[0].1.as_str()), (1, "header"));
    assert!(ps[0].2.contains("missing required columns region, unit_price;"), "{}", ps[0].2);

    one(
        "Date,order_id,sales_rep,region,product,quantity,unit_price\n",
        1,
        "header",
        "date (found \"Date\": names must match exactly)",
    );
    let ps = problems(b"date,order_id,sales_rep,region,product,quantity,unit_price,region\n");
    assert_eq!(ps.len(), 1);
    assert!(ps[0].2.contains("\"region\" (columns 4 and 8)"), "{}", ps[0].2);
    // A CR-only file is one long header line.
    let cr = file(&[row("1")]).replace('\n', "\r");
    one(&cr, 1, "header", "lone CR");
    // Invalid UTF-8 in the header.
    let mut bad =
        b"date,order_id,sales_rep,region,product,quantity,unit_price,\xE9t\xE9\n".to_vec();
    bad.extend_from_slice(row("1").as_bytes());
    let ps = problems(&bad);
    assert_eq!((ps[0].0, ps[0].1.as_str()), (1, "header"));
    assert!(ps[0].2.contains("column 8"));
    // Fatal means feed says so at once.
    let mut v = Validator::new("t.csv", limits());
    assert!(v.feed(b"date,order_id\n").is_err());
    assert!(v.feed(b"more").is_err());
    assert!(v.finish().is_err());
}

#[test]
fn empty_lines_are_skipped_everywhere() {
    let data = format!("\n\r\n{H}\n{}\r\n\n{}\n", row("1"), row("2"));
    let s = ok(&data);
    assert_eq!(s.rows, 2);
    // ... and lines are still counted: the duplicate is on physical line 7.
    let data = format!("\n{H}\n{}\n\n{}", row("1"), row("1"));
    one(&data, 7, "order_id", "already used on line 4");
}

#[test]
fn file_level_problems() {
    one("", 1, "file", "empty (0 bytes)");
    one("\u{FEFF}", 1, "file", "no header line");
    one("\n\r\n\n", 1, "file", "no header line");
    one(H, 1, "file", "no sales rows");
    one(&format!("{H}\n\n"), 1, "file", "no sales rows");
    one(&format!("\n{H}"), 2, "file", "no sales rows");
    // NUL: fatal, at its physical line, even inside a record.
    let mut data = file(&[row("1"), row("2")]).into_bytes();
    data.extend_from_slice(b"2026-01-15,3,Bob\0,E,P,1,1.00\n");
    data.extend_from_slice(row("4").as_bytes());
    let ps = problems(&data);
    assert_eq!(ps, [(4, "file".to_string(), ps[0].2.clone())]);
    assert!(ps[0].2.contains("NUL"));
    let mut v = Validator::new("t.csv", limits());
    assert!(v.feed(H.as_bytes()).is_ok());
    assert!(v.feed(b"\x00\x01\x02").is_err());
}

#[test]
fn record_length_limit() {
    let small = Limits { max_line_bytes: 60, ..Limits::default() };
    let long = format!("2026-01-15,1,{},EMEA,Widget,2,1.50\n", "A".repeat(30));
    assert!(long.len() - 1 > 60);
    let data = file(&[row("1"), long.clone(), row("2")]);
    let e = validate_slice("t.csv", data.as_bytes(), small).unwrap_err();
    assert_eq!(e.problems.len(), 1);
    assert_eq!((e.problems[0].line, e.problems[0].column.as_str()), (3, "row"));
    assert!(e.problems[0].reason.contains("longer than 60 bytes"));
    // Exactly at the limit is fine (the CR counts, the LF does not).
    let exact = format!("2026-01-15,{},Ada,EMEA,Widget,2,1.50", "9".repeat(60 - 34));
    assert_eq!(exact.len(), 60);
    assert!(validate_slice("t.csv", file(&[exact.clone() + "\n"]).as_bytes(), small).is_ok());
    let e = validate_slice("t.csv", file(&[exact + "\r\n"]).as_bytes(), small).unwrap_err();
    assert!(e.problems[0].reason.contains("longer than"));
    // A stream that never ends a line stops early: feed says so.
    let mut v = Validator::new("t.csv", Limits { max_line_bytes: 40, ..Limits::default() });
    assert!(v.feed(H.as_bytes()).is_err(), "the header itself is over 40 bytes");
    let mut v = Validator::new("t.csv", Limits { max_line_bytes: 100, ..Limits::default() });
    v.feed(H.as_bytes()).unwrap();
    v.feed(b"2026-01-15,\"").unwrap();
    let mut failed = false;
    for _ in 0..20 {
        if v.feed(b"xxxxxxxx\nxxxxx").is_err() {
            failed = true;
            break;
        }
    }
    assert!(failed);
}

#[test]
fn row_rules_each_located() {
    let cases: &[(&str, &str, &str)] = &[
        ("2026-01-15,1,Ada,EMEA,Widget,2", "row", "6 fields but the header has 7"),
        ("2026-01-15,1,Ada,EMEA,Widget,2,1.50,", "row", "8 fields"),
        ("   ", "row", "has 1 field but the header has 7"),
        (
            "2026-02-30,1,Ada,EMEA,Widget,2,1.50",
            "date",
            "\"2026-02-30\" is not a real calendar date",
        ),
        ("15/01/2026,1,Ada,EMEA,Widget,2,1.50", "date", "YYYY-MM-DD"),
        (
            "2026-01-16,1,Ada,EMEA,Widget,2,1.50",
            "date",
            "2026-01-16 differs from 2026-01-15, the date on line 2",
        ),
        ("2026-01-15,,Ada,EMEA,Widget,2,1.50", "order_id", "empty; every row needs an order id"),
        ("2026-01-15, ,Ada,EMEA,Widget,2,1.50", "order_id", "only spaces"),
        ("2026-01-15,A,Ada,EMEA,Widget,2,1.50", "order_id", "\"A\" was already used on line 2"),
        ("2026-01-15,1,,EMEA,Widget,2,1.50", "sales_rep", "empty; every row needs a sales rep"),
        ("2026-01-15,1,\t,EMEA,Widget,2,1.50", "sales_rep", "only spaces"),
        ("2026-01-15,1,Ada,,Widget,2,1.50", "region", "every row needs a region"),
        ("2026-01-15,1,Ada,EMEA,,2,1.50", "product", "every row needs a product"),
        ("2026-01-15,1,Ada,EMEA,Widget,0,1.50", "quantity", "\"0\" is not a whole number ≥ 1"),
        ("2026-01-15,1,Ada,EMEA,Widget,-1,1.50", "quantity", "\"-1\" is not a whole number ≥ 1"),
        ("2026-01-15,1,Ada,EMEA,Widget,2.0,1.50", "quantity", "not a whole number"),
        ("2026-01-15,1,Ada,EMEA,Widget, 2,1.50", "quantity", "not a whole number"),
        ("2026-01-15,1,Ada,EMEA,Widget,,1.50", "quantity", "empty"),
        ("2026-01-15,1,Ada,EMEA,Widget,1000000001,1.50", "quantity", "more than 1000000000"),
        ("2026-01-15,1,Ada,EMEA,Widget,99999999999999999999999,1", "quantity", "more than"),
        ("2026-01-15,1,Ada,EMEA,Widget,2,1.234", "unit_price", "more than 2 decimals in \"1.234\""),
        ("2026-01-15,1,Ada,EMEA,Widget,2,", "unit_price", "empty"),
        ("2026-01-15,1,Ada,EMEA,Widget,2,-1.00", "unit_price", "sign"),
        ("2026-01-15,1,Ada,EMEA,Widget,2,.5", "unit_price", "both sides"),
        ("2026-01-15,1,Ada,EMEA,Widget,2,\"1,50\"", "unit_price", "not a price"),
        ("2026-01-15,1,Ada,EMEA,Widget,1000000000,92233720368547758.07", "unit_price", "too large"),
    ];
    for &(bad, column, needle) in cases {
        let data = format!("{H}2026-01-15,A,Ada,EMEA,Widget,1,1.00\n{bad}\n");
        one(&data, 3, column, needle);
    }
    // Quantity limit itself is fine; leading zeros too.
    ok(&format!("{H}2026-01-15,A,Ada,EMEA,Widget,1000000000,0.01\n2026-01-15,B,A,E,W,007,1\n"));
}

#[test]
fn several_problems_in_one_row_are_all_reported() {
    let ps = problems(format!("{H}2026-13-01,,,EMEA,Widget,0,x\n").as_bytes());
    let cols: Vec<_> = ps.iter().map(|p| (p.0, p.1.as_str())).collect();
    assert_eq!(
        cols,
        [(2, "date"), (2, "order_id"), (2, "sales_rep"), (2, "quantity"), (2, "unit_price")]
    );
}

#[test]
fn expected_date() {
    let d: SalesDate = "2026-01-15".parse().unwrap();
    let data = file(&[row("1"), row("2")]);
    let mut v = Validator::new("t.csv", limits()).with_expected_date(d);
    v.feed(data.as_bytes()).unwrap();
    assert_eq!(v.finish().unwrap().date, d);

    let other: SalesDate = "2026-01-16".parse().unwrap();
    let mut v = Validator::new("t.csv", limits()).with_expected_date(other);
    v.feed(data.as_bytes()).unwrap();
    let e = v.finish().unwrap_err();
    assert_eq!(e.total, 2);
    assert_eq!(e.problems[0].line, 2);
    assert_eq!(e.problems[0].column, "date");
    assert_eq!(e.problems[0].reason, "2026-01-15 is not the date given for this file (2026-01-16)");
}

#[test]
fn invalid_utf8_in_a_field_is_located() {
    let mut data = H.as_bytes().to_vec();
    data.extend_from_slice(row("1").as_bytes());
    data.extend_from_slice(b"2026-01-15,2,Jos\xE9,EMEA,Widget,2,1.50\n");
    data.extend_from_slice(b"date,order_id,sales_rep,region,product,quantity,unit_price\n");
    let ps = problems(&data);
    assert_eq!((ps[0].0, ps[0].1.as_str()), (3, "sales_rep"));
    assert!(ps[0].2.contains("byte 0xE9 at position 4"), "{}", ps[0].2);
    // A repeated header is just a bad row (wrong date etc.), located.
    assert_eq!(ps[1].0, 4);
    // In an extra column too.
    let mut data = b"date,order_id,sales_rep,region,product,quantity,unit_price,note\n".to_vec();
    data.extend_from_slice(b"2026-01-15,2,Jose,EMEA,Widget,2,1.50,caf\xE9\n");
    let ps = problems(&data);
    assert_eq!((ps[0].0, ps[0].1.as_str()), (2, "note"));
}

/// UTF-8 is checked once per chunk; past an invalid byte every record is checked on its
/// own, so each bad one is still located and the good ones after it still count.
#[test]
fn utf8_is_checked_record_by_record_after_an_invalid_byte() {
    let mut data = H.as_bytes().to_vec();
    data.extend_from_slice("2026-01-15,1,José,EMEA,Widget,2,1.50\n".as_bytes());
    data.extend_from_slice(b"2026-01-15,2,Jos\xE9,EMEA,Widget,2,1.50\n");
    data.extend_from_slice("2026-01-15,3,Søren,EMEA,\"Cable, \"\"Ø\"\"\",1,1.00\n".as_bytes());
    data.extend_from_slice(b"2026-01-15,4,Ann,EMEA,Wid\xC3get,2,1.50\n");
    data.extend_from_slice("2026-01-15,5,Ann,EMÉA,Widget,1,2.00\n".as_bytes());
    let ps = problems(&data);
    let located: Vec<_> = ps.iter().map(|p| (p.0, p.1.as_str())).collect();
    assert_eq!(located, [(3, "sales_rep"), (5, "product")], "{ps:?}");
    // Without the two bad rows, the three good ones (non-ASCII, one quoted) are counted.
    let good: Vec<u8> = String::from_utf8_lossy(&data)
        .lines()
        .filter(|l| !l.contains('\u{FFFD}'))
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect();
    let day = validate_slice("t.csv", &good, Limits::default()).unwrap();
    assert_eq!((day.rows, day.reps.len(), day.regions.len()), (3, 3, 2));
}

/// Identical problems are one line with their count and lines; the screenful is cut with a
/// count of the rest; [`Shown::All`] lists every range and every problem.
#[test]
fn problems_are_grouped_by_column_and_reason() {
    let mut rows: Vec<String> =
        (0..8).map(|i| format!("2026-01-15,{i},Ada,EMEA,Widget,0,1.00\n")).collect();
    rows.push("2026-01-15,8,Ada,EMEA,Widget,2,1.999\n".into());
    rows.push("2026-01-15,9,Ada,EMEA,Widget,0,1.00\n".into());
    rows.push("2026-01-15,10,Ada,EMEA,Widget,2,7.125\n".into());
    rows.push("2026-01-15,11,Ada,EMEA,Widget,2x,1.00\n".into());
    let e = check(file(&rows).as_bytes()).unwrap_err();
    assert_eq!((e.problems.len(), e.total), (12, 12));
    let text = e.to_string();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "t.csv:2: quantity: \"0\" is not a whole number ≥ 1: 10 rows like this, lines 2–9, \
             11, 13",
            "t.csv:10: unit_price: more than 2 decimals in \"1.999\"; expected at most 2, like \
             12.50: 2 rows like this, lines 10, 12",
        ],
        "{text}"
    );
    let all = e.render(Shown::All);
    let all: Vec<_> = all.lines().collect();
    assert_eq!(all[0], lines[0]);
    assert_eq!(all[3], "Every problem, in line order:");
    assert_eq!(all.len(), 4 + 12, "{all:?}");
    assert_eq!(all[4], "t.csv:2: quantity: \"0\" is not a whole number ≥ 1");
    assert_eq!(all[13], "t.csv:11: quantity: \"0\" is not a whole number ≥ 1");
    assert_eq!(all[15], "t.csv:13: quantity: \"2x\" is not a whole number ≥ 1");
    // One group line: the unit_price lines are counted, not shown.
    let one = e.render(Shown::Lines(1));
    assert!(one.ends_with("\n… and 2 more problems"), "{one}");
    // Identical reasons say so (no "like this").
    let same: Vec<String> =
        (0..3).map(|i| format!("2026-01-15,{i},Ada,EMEA,Widget,0,1.00\n")).collect();
    let e = check(file(&same).as_bytes()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.csv:2: quantity: \"0\" is not a whole number ≥ 1: 3 rows, lines 2–4"
    );
}

/// A wrong `--date` is one line, whatever the number of rows; with a screenful the ranges
/// are cut too.
#[test]
fn a_date_mismatch_is_one_line() {
    let rows: Vec<String> =
        (0..1000).map(|i| format!("2026-01-16,{i},Ada,EMEA,Widget,1,1.00\n")).collect();
    let mut v = Validator::new("t.csv", limits()).with_expected_date("2026-01-15".parse().unwrap());
    v.feed(file(&rows).as_bytes()).unwrap();
    let e = v.finish().unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.csv:2: date: 2026-01-16 is not the date given for this file (2026-01-15): 1000 \
         rows, lines 2–1001"
    );
    // Every other row: the ranges of a screenful stop after six.
    let rows: Vec<String> =
        (0..40).map(|i| format!("2026-01-{},{i},Ada,EMEA,Widget,1,1.00\n", 15 + i % 2)).collect();
    let e = check(file(&rows).as_bytes()).unwrap_err();
    assert!(e.to_string().ends_with(": 20 rows, lines 3, 5, 7, 9, 11, 13, …"), "{e}");
    assert!(e.render(Shown::All).lines().next().unwrap().ends_with(", 39, 41"));
}

/// Past `max_problems`, problems are counted but not kept, and the list says so.
#[test]
fn problems_past_the_limit_are_counted() {
    let rows: Vec<String> =
        (0..30).map(|i| format!("2026-01-15,{i},Ada,EMEA,Widget,{i}x,1.00\n")).collect();
    let limits = Limits { max_problems: 20, ..limits() };
    let e = validate_slice("t.csv", file(&rows).as_bytes(), limits).unwrap_err();
    assert_eq!((e.problems.len(), e.total), (20, 30));
    let all = e.render(Shown::All);
    let all: Vec<&str> = all.lines().collect();
    assert_eq!(
        all[0],
        "t.csv:2: quantity: \"0x\" is not a whole number ≥ 1: 20 rows like this, lines 2–21"
    );
    assert_eq!(all[1], "… and 10 more problems, past the first 20 kept (limits.max_problems)");
    assert_eq!(all.len(), 2 + 2 + 20, "{all:?}");
    assert!(e.to_string().ends_with("lines 2–21\n… and 10 more problems"), "{e}");
    assert_eq!("all".parse(), Ok(Shown::All));
    assert_eq!(" 5".parse(), Ok(Shown::Lines(5)));
    assert!("many".parse::<Shown>().is_err());
}

#[test]
fn overflowing_totals_are_located() {
    let big = "92233720368547758.07";
    let data = file(&[
        format!("2026-01-15,1,Ada,E,W,1,{big}\n"),
        format!("2026-01-15,2,Ada,E,W,1,{big}\n"),
    ]);
    one(&data, 3, "unit_price", "total revenue goes beyond 92233720368547758.07");
}

#[test]
fn hostile_values_are_shortened_in_messages() {
    let long = "x".repeat(3000);
    let data = file(&[format!("2026-01-15,1,Ada,E,W,{long},1.00\n")]);
    let ps = problems(data.as_bytes());
    assert!(ps[0].2.len() < 200, "{}", ps[0].2);
    // Control characters cannot forge output lines.
    let data = file(&["2026-01-15,1,Ada,E,W,\"1\nt.csv:1: fake\",1.00\n".into()]);
    let ps = problems(data.as_bytes());
    assert!(!ps[0].2.contains('\n'));
}

/// Duplicate ids in any order, of every shape, across chunks of the id store and with
/// irregular lines, against a plain map.
#[test]
fn duplicates_match_a_plain_map() {
    let mut seed = crate::generate::SplitMix64(7);
    let shapes = |n: u64, r: u64| match r % 6 {
        0 => format!("ORD-{n:06}"),
        1 => format!("{n}"),
        2 => format!("P{}-{n}", n % 40), // more prefixes than slots
        3 => format!("x{}", n % 1000),
        4 => format!("long-id-without-digits-{}x", n % 5000),
        _ => format!("{:020}", n * 7919),
    };
    let mut data = H.to_string();
    let mut first: HashMap<String, u64> = HashMap::new();
    let mut want = Vec::new();
    let mut line = 1;
    for k in 0..150_000u64 {
        let r = seed.next();
        let id = shapes(if r.is_multiple_of(3) { r % 100_000 } else { k }, r >> 8);
        if r.is_multiple_of(97) {
            data.push('\n'); // an empty line
            line += 1;
        }
        line += 1;
        if r.is_multiple_of(89) {
            data.push_str(&format!("2026-01-15,{id},Ada,E,\"two\nlines\",1,1.00\n"));
            line += 1;
        } else {
            data.push_str(&format!("2026-01-15,{id},Ada,E,W,1,1.00\n"));
        }
        let at = line - u64::from(r.is_multiple_of(89));
        match first.get(&id) {
            Some(&f) => want.push((at, f, id)),
            None => {
                first.insert(id, at);
            }
        }
    }
    assert!(want.len() > 100);
    let e = check(data.as_bytes()).unwrap_err();
    assert_eq!(e.total, want.len() as u64);
    let got: Vec<_> = e.problems.iter().map(|p| (p.line, p.reason.clone())).collect();
    let expected: Vec<_> = want
        .iter()
        .take(Limits::default().max_problems)
        .map(|(l, f, id)| (*l, duplicate_reason(id, *f)))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn ids_in_order_cost_runs_and_a_late_duplicate_is_found() {
    let mut data = H.to_string();
    for n in 1..=3000 {
        if n == 1500 {
            data.push('\n'); // an empty line: a new run
        }
        data.push_str(&format!("2026-01-15,ORD-{n:06},Ada,E,W,1,1.00\n"));
    }
    let s = ok(&data);
    assert_eq!(s.rows, 3000);
    let mut ids = OrderIds::new();
    for n in 1..=3000u64 {
        ids.insert(format!("ORD-{n:06}").as_bytes(), n + 1).unwrap();
    }
    assert_eq!(ids.runs.as_ref().map(Vec::len), Some(1));
    assert!(ids.chunks.is_empty());
    // Gaps: short runs give way to one code each; still exact.
    let mut gappy = H.to_string();
    for n in 1..=3000 {
        gappy.push_str(&format!("2026-01-15,{},Ada,E,W,1,1.00\n", n * 2));
    }
    gappy.push_str("2026-01-15,3000,Ada,E,W,1,1.00\n");
    one(&gappy, 3002, "order_id", "\"3000\" was already used on line 1501");
    data.push_str("2026-01-15,ORD-002000,Ada,E,W,1,1.00\n");
    one(&data, 3003, "order_id", "\"ORD-002000\" was already used on line 2002");
}

#[test]
fn id_codes_are_injective_and_decode() {
    let mut ids = OrderIds::new();
    let samples = [
        "1",
        "01",
        "001",
        "10",
        "A",
        "A1",
        "A01",
        "A-1",
        "abcdefg",
        "abcdefgh",
        "ORD-000001",
        "ORD-1",
        "12345678901234567890",
        "1234567890123456",
        "é1",
        "\u{e9}",
    ];
    let mut seen = HashMap::new();
    for s in samples {
        if let Some(code) = ids.encode(s.as_bytes()) {
            assert_eq!(ids.decode(code), s);
            assert!(seen.insert(code, s).is_none(), "{s} collides with {:?}", seen[&code]);
        }
    }
    // Numbers keep their order within a prefix, also across lengths.
    let a = ids.encode(b"ORD-999999").unwrap();
    let b = ids.encode(b"ORD-1000000").unwrap();
    assert!(a < b);
}

/// Feeds `data` cut at the given sizes (cycled), then finishes.
fn chunked(data: &[u8], sizes: &[usize], limits: Limits) -> Result<DaySummary, ValidationErrors> {
    let mut v = Validator::new("t.csv", limits);
    let mut p = 0;
    let mut i = 0;
    while p < data.len() {
        let n = sizes[i % sizes.len()].max(1).min(data.len() - p);
        if let Err(e) = v.feed(&data[p..p + n]) {
            // Hopeless: the final answer must be the same error.
            assert_eq!(v.finish().unwrap_err(), e);
            return Err(e);
        }
        p += n;
        i += 1;
    }
    v.finish()
}

#[test]
fn chunk_boundaries_do_not_matter() {
    let mut generated = Vec::new();
    crate::generate::generate("2026-01-15".parse().unwrap(), 300, 9, &mut generated).unwrap();
    let mut inputs: Vec<Vec<u8>> = vec![
        format!("\u{FEFF}{}", file(&[row("1"), row("2")]).replace('\n', "\r\n")).into_bytes(),
        "\u{FEFF}date,order_id,sales_rep,region,product,quantity,unit_price\r\n\
             \"2026-01-15\",\"1\",\"Ada \"\"the\"\" first\",EMEA,\"a,\r\nb\",1,1.00\r\n\
             \r\n2026-01-15,2,José,Ré,\"\"\"\",2,0.5\n2026-01-15,3,José,Ré,x,2,0.5"
            .as_bytes()
            .to_vec(),
        generated,
    ];
    // Invalid files too: the problems must not depend on chunking either.
    let mut bad = file(&[row("1"), row("1"), "2026-01-15,2,Bob,E,a\"b,0,x\r\n".into()]);
    bad.push_str("2026-01-15,3,\"Bob\",\"E\"x,a,1,1\n2026-01-16,9,B,E,P,1,1\n");
    inputs.push(bad.into_bytes());
    inputs.push(format!("{}2026-01-15,9,B,E,\"P,1,1\n", file(&[row("1")])).into_bytes());
    let mut nul = file(&[row("1")]).into_bytes();
    nul.extend_from_slice(b"2026-01-15,\"3\n\0\",B,E,P,1,1\n");
    inputs.push(nul);
    inputs.push(
        file(&[row("1"), format!("2026-01-15,2,{},E,P,1,1\n", "A".repeat(300))]).into_bytes(),
    );
    inputs.push(
        file(&[row("1"), format!("2026-01-15,2,\"{}\n\",E,P,1,1\n", "A".repeat(300))]).into_bytes(),
    );
    inputs.push(b"\xEF\xBB".to_vec());
    inputs.push(b"\xEF\xBBx".to_vec());
    // Invalid UTF-8 amid non-ASCII rows: where the chunk-wide check stops must not matter.
    let mut utf8 = file(&[row("1")]).into_bytes();
    utf8.extend_from_slice("2026-01-15,2,José,Ré,Ø,1,1.00\n".as_bytes());
    utf8.extend_from_slice(b"2026-01-15,3,Jos\xE9,R,P,1,1.00\n2026-01-15,4,J,R\xF0\x9F,P,1,1\n");
    utf8.extend_from_slice("2026-01-15,5,Zoë,Ré,\"Ø, \"\"x\"\"\",1,1.00\n".as_bytes());
    inputs.push(utf8);

    let limits = Limits { max_line_bytes: 160, ..Limits::default() };
    let mut seed = crate::generate::SplitMix64(42);
    for data in &inputs {
        let whole = validate_slice("t.csv", data, limits);
        assert_eq!(
            chunked(data, &[1], limits),
            whole,
            "byte by byte: {:?}",
            String::from_utf8_lossy(data)
        );
        for _ in 0..30 {
            let sizes: Vec<usize> = (0..7).map(|_| (seed.next() % 97) as usize + 1).collect();
            assert_eq!(chunked(data, &sizes, limits), whole, "sizes {sizes:?}");
        }
    }
}

/// A file with more distinct names than a limit is refused at the first name over it, with
/// the limit's key and the line, and nothing after it is read: the name tables never hold
/// more than the limit, however many names the file has.
#[test]
fn distinct_names_over_their_limit_stop_the_file_there() {
    let limits = Limits { max_reps: 100, max_regions: 20, max_products: 50, ..limits() };
    type Row = fn(u32) -> String;
    let cases: [(&str, &str, Row); 3] = [
        ("sales_rep", "max_reps", |i| format!("2026-01-15,{i},Rep {i},EMEA,Widget,1,1.00\n")),
        ("region", "max_regions", |i| format!("2026-01-15,{i},Ada,Region {i},Widget,1,1.00\n")),
        ("product", "max_products", |i| format!("2026-01-15,{i},Ada,EMEA,P{i},1,1.00\n")),
    ];
    for (column, key, row) in cases {
        let mut v = Validator::new("t.csv", limits);
        v.feed(H.as_bytes()).unwrap();
        let mut refused = None;
        // 100 000 rows fed in chunks of 1 000: refused at the first name over the limit.
        for chunk in 0..100 {
            let text: String = (chunk * 1000..(chunk + 1) * 1000).map(row).collect();
            if let Err(e) = v.feed(text.as_bytes()) {
                refused = Some((chunk, e));
                break;
            }
        }
        let (chunk, e) = refused.unwrap_or_else(|| panic!("{column}: not refused"));
        assert_eq!(chunk, 0, "{column}: refused only after chunk {chunk}");
        let max = match column {
            "sales_rep" => 100,
            "region" => 20,
            _ => 50,
        };
        assert_eq!(e.total, 1, "{e}");
        let p = &e.problems[0];
        assert_eq!((p.line, p.column.as_str()), (max + 2, column), "{e}");
        assert!(p.reason.contains(&format!("limits.{key}")), "{e}");
        assert!(p.reason.contains(&format!("one more than {max} distinct")), "{e}");
        let c = &v.checker;
        let held = c.rep_names.len().max(c.region_names.len()).max(c.product_names.len());
        assert!(held <= max as usize + 1, "{column}: {held} names held");
        // Later chunks are not read; finishing gives the same answer.
        assert_eq!(v.feed(b"2026-01-15,x,Zed,EMEA,Widget,1,1.00\n"), Err(e.clone()));
        assert_eq!(v.finish(), Err(e));
    }
    // At the limit exactly, the file is valid.
    let rows: Vec<String> =
        (0..100).map(|i| format!("2026-01-15,{i},Rep {i},EMEA,Widget,1,1.00\n")).collect();
    let day = validate_slice("t.csv", file(&rows).as_bytes(), limits).unwrap();
    assert_eq!(day.reps.len(), 100);
}

/// More rows than `max_rows` stop the file at the first row over it.
#[test]
fn rows_over_the_limit_stop_the_file() {
    let limits = Limits { max_rows: 10, ..limits() };
    let rows: Vec<String> = (0..11).map(|i| row(&format!("ORD-{i}"))).collect();
    let e = validate_slice("t.csv", file(&rows).as_bytes(), limits).unwrap_err();
    assert_eq!(e.problems.len(), 1, "{e}");
    let p = &e.problems[0];
    assert_eq!((p.line, p.column.as_str()), (12, "file"));
    assert!(p.reason.contains("more than 10 data rows (limits.max_rows)"), "{e}");
    validate_slice("t.csv", file(&rows[..10]).as_bytes(), limits).unwrap();
    // Bad rows count too (they are rows of the file), and so do quoted ones.
    let mut rows: Vec<String> = (0..10).map(|i| format!("x,{i}\n")).collect();
    rows.push("2026-01-15,\"q\",Ada,EMEA,Widget,1,1.00\n".into());
    let e = validate_slice("t.csv", file(&rows).as_bytes(), limits).unwrap_err();
    assert!(e.to_string().contains("t.csv:12: file: more than 10 data rows"), "{e}");
}

/// A header with more columns than `max_columns` is refused; names and ids over their
/// length are problems of their row (never stored).
#[test]
fn columns_and_field_lengths_are_bounded() {
    let limits = Limits { max_columns: 9, max_name_bytes: 16, max_order_id_bytes: 8, ..limits() };
    let wide = format!("{}x,y,z\n", H.trim_end_matches('\n').to_owned() + ",");
    let e = validate_slice("t.csv", wide.as_bytes(), limits).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.csv:1: header: the header has 10 columns, more than 9 (limits.max_columns)"
    );
    let data = file(&[
        "2026-01-15,1,Ada,EMEA,Widget,1,1.00\n".into(),
        "2026-01-15,123456789,Ada,EMEA,Widget,1,1.00\n".into(),
        format!("2026-01-15,3,{},EMEA,Widget,1,1.00\n", "A".repeat(17)),
        format!("2026-01-15,4,Ada,{},Widget,1,1.00\n", "é".repeat(9)),
        format!("2026-01-15,5,Ada,EMEA,\"{}\",1,1.00\n", "W,".repeat(9)),
        "2026-01-15,6,Ada,EMEA,Widget 0123456789,1,1.00\n".into(),
    ]);
    let e = validate_slice("t.csv", data.as_bytes(), limits).unwrap_err();
    let located: Vec<_> = e.problems.iter().map(|p| (p.line, p.column.as_str())).collect();
    let want = [(3, "order_id"), (4, "sales_rep"), (5, "region"), (6, "product"), (7, "product")];
    assert_eq!(located, want, "{e}");
    assert!(
        e.problems[0]
            .reason
            .starts_with("9 bytes (\"123456789\"), longer than 8 (limits.max_order_id_bytes)"),
        "{e}"
    );
    assert!(e.problems[2].reason.contains("18 bytes"), "{e}");
    assert!(e.problems[1].reason.contains("limits.max_name_bytes"), "{e}");
    // At the limits, the same rows are valid.
    let ok_rows = file(&[
        "2026-01-15,12345678,Ada,EMEA,Widget,1,1.00\n".into(),
        format!("2026-01-15,2,{},EMEA,Widget 012345678,1,1.00\n", "A".repeat(16)),
    ]);
    validate_slice("t.csv", ok_rows.as_bytes(), limits).unwrap();
}
