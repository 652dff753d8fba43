//! The pages in a real browser, as readers see them: on a phone (390 px) and a desktop
//! (1280 px), each in the light and the dark colour scheme, and printed.
//!
//! First the pipeline: days of December and January (one of them with hostile rep, region
//! and product names); `aws s3 sync` copies `reports/` to disk, as a reader would; headless
//! Chromium then opens `index.html` and the reports from there. From the DOM and the layout
//! it built: the charts are drawn and labelled, the tables sort, every link opens a file
//! that is there, hostile names are text, nothing is loaded from anywhere, no page logged
//! anything (an uncaught error included: a page with one is shown to be caught), no text
//! leaves its box, text has the contrast WCAG asks for, and on a phone the index shows the
//! revenue and commission of every day without scrolling sideways, dates on one line.
//!
//! Then the big days, built with `reportsengine build`: 300 reps after a year with one
//! outlier day (compact tiles with the exact amounts on hover, round ticks, the ordinary
//! days still readable, at most 3 printed pages on Letter and on A4), and 3,000 reps with
//! long names and billions (the top 500 listed, the rest summed and linked, a bounded page).
//!
//! Screenshots and pages stay in `target/<profile>/e2e-browser*/`; `E2E_UPDATE_DOCS=1`
//! also writes `docs/report.png`, `docs/report-phone-dark.png`, `docs/index.png`,
//! `docs/index-phone.png` and `docs/report-outlier.png` (shrunk with `pngquant` when there
//! is one).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use e2e::browser::{Checked, Chromium, View};
use e2e::checks::{self, dollars};
use e2e::reference::{self, DayRef};
use e2e::scenario::*;
use e2e::{bin_dir, reportsengine, run, workspace_root, Emulator};

const HOSTILE_DATE: &str = "2026-01-14";
const LATEST: &str = "2026-01-16";

/// Rep, region and product names that would break out of text, attributes, SVG or tables
/// were they not escaped.
const HOSTILE: [&str; 5] = [
    "<script>window.__pwned=1</script>",
    "</svg></table><b id=\"pwned\">bold</b>",
    "Ann \"The Closer\" O'Neil",
    "<i>North</i> & 'South'",
    "\" onmouseover=\"window.__pwned=2",
];

/// A day whose names are [`HOSTILE`], quoted as RFC 4180 wants.
fn hostile_file() -> String {
    let mut csv = String::from("date,order_id,sales_rep,region,product,quantity,unit_price\n");
    let rows = [
        (HOSTILE[0], HOSTILE[3], HOSTILE[1], 3, "129.99"),
        (HOSTILE[2], HOSTILE[3], HOSTILE[4], 1, "1999.00"),
        (HOSTILE[4], "West", HOSTILE[0], 12, "45.50"),
        (HOSTILE[1], "East", "Widget", 7, "310.25"),
    ];
    for (i, (rep, region, product, qty, price)) in rows.iter().enumerate() {
        csv.push_str(&format!(
            "{HOSTILE_DATE},H-{i},{},{},{},{qty},{price}\n",
            quoted(rep),
            quoted(region),
            quoted(product)
        ));
    }
    csv
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The days: some of December, the working days of January up to [`LATEST`].
fn dates() -> Vec<&'static str> {
    vec![
        "2025-12-22",
        "2025-12-23",
        "2025-12-29",
        "2025-12-30",
        "2026-01-02",
        "2026-01-05",
        "2026-01-06",
        "2026-01-07",
        "2026-01-08",
        "2026-01-09",
        "2026-01-12",
        "2026-01-13",
        HOSTILE_DATE,
        "2026-01-15",
        LATEST,
    ]
}

/// `target/<profile>/<name>/`, emptied.
fn output_dir(name: &str) -> PathBuf {
    let dir = bin_dir().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the output folder");
    dir
}

#[test]
fn pages_render_in_chromium_with_charts_sortable_tables_and_no_error() {
    let out = output_dir("e2e-browser");
    let chromium = Chromium::find(&out.join("chromium"));
    let em = Emulator::start();
    let mut days = Vec::new();
    for (i, date) in dates().into_iter().enumerate() {
        let bytes = if date == HOSTILE_DATE {
            let path = em.write_file("hostile.csv", hostile_file());
            upload(&em, &path).assert_ok();
            hostile_file().into_bytes()
        } else {
            let rows = 120 + (i as u32 * 53) % 260;
            let (path, bytes) = generate(&em, date, rows, 40 + i as u64);
            upload(&em, &path).assert_ok();
            bytes
        };
        days.push(reference_of(&em, &bytes));
    }
    run(reportsengine(&em).arg("once")).assert_ok();
    let history: Vec<&DayRef> = days.iter().collect();
    checks::assert_index(&em, &history);

    // What a reader does: sync the folder, open it from disk.
    let reports = out.join("reports");
    let bucket = format!("s3://{}/reports", em.bucket());
    em.aws_cli(&["s3", "sync", &bucket, &reports.display().to_string()]).assert_ok();
    drop(em);

    let started = Instant::now();
    let jan = days.iter().filter(|d| d.date.starts_with("2026-")).count();
    let latest_day = &days[days.len() - 1];
    let latest_page = format!("reports/{LATEST}/report.html");
    for view in View::ALL {
        let index = chromium.check(&out, "reports/index.html", view, &[]);
        assert_index_page(&index, &reports, &days, view);
        let latest = chromium.check(&out, &latest_page, view, &[]);
        assert_report_page(&latest, latest_day, jan, &reports.join(LATEST), view);
    }
    let hostile_day = days.iter().find(|d| d.date == HOSTILE_DATE).expect("hostile day");
    for view in [View::PHONE_DARK, View::DESKTOP] {
        let page = format!("reports/{HOSTILE_DATE}/report.html");
        let hostile = chromium.check(&out, &page, view, &HOSTILE);
        assert_report_page(&hostile, hostile_day, jan - 2, &reports.join(HOSTILE_DATE), view);
        assert_eq!(hostile.fact("pwned"), "undefined 0", "a hostile name ran or made an element");
        assert_eq!(hostile.fact("found"), "1,1,1,1,1", "every hostile name shown as text");
    }

    // The console check can fail: a page with an uncaught error is caught.
    let page = std::fs::read_to_string(reports.join(LATEST).join("report.html")).unwrap();
    let broken = page.replace("</body>", "<script>notAFunction();</script></body>");
    std::fs::write(reports.join("broken.html"), broken).unwrap();
    let control = chromium.check(&out, "reports/broken.html", View::DESKTOP, &[]);
    assert!(
        control.console.iter().any(|l| l.contains("Uncaught") && l.contains("notAFunction")),
        "an uncaught error went unnoticed: {:?}",
        control.console
    );
    std::fs::remove_file(reports.join("broken.html")).unwrap();

    let printed =
        chromium.print(&reports.join(LATEST).join("report.html"), &out.join("report.pdf"));
    assert!((1..=3).contains(&printed), "{LATEST} printed on {printed} pages");

    let shots = [
        (reports.join(LATEST).join("report.html"), "report.png", View::DESKTOP, 1400),
        (reports.join(LATEST).join("report.html"), "report-phone-dark.png", View::PHONE_DARK, 1700),
        (reports.join("index.html"), "index.png", View::DESKTOP, 1100),
        (reports.join("index.html"), "index-phone.png", View::PHONE, 1300),
    ];
    let mut pngs = Vec::new();
    for (page, name, view, height) in shots {
        let png = out.join(name);
        chromium.screenshot(&page, &png, view, height);
        pngs.push(png);
    }
    eprintln!(
        "chromium: 11 page views, 1 print-out ({printed} pages) and 4 screenshots in {:.1?}; \
         see {}",
        started.elapsed(),
        out.display()
    );
    if std::env::var_os("E2E_UPDATE_DOCS").is_some_and(|v| v == "1") {
        update_docs(&pngs);
    }
}

/// Facts every page must show in every view: drawn, labelled charts; tables that sort;
/// print styles; nothing loaded from anywhere; one script, ours; nothing logged; the
/// colour scheme asked for; no text out of its box, none sideways off the page; text
/// readable against its background (WCAG AA, 4.5:1).
#[track_caller]
fn assert_page_basics(page: &Checked, charts: u64, sortable: u64, view: View) {
    let what = format!("{} at {view}", page.fact("title"));
    assert_eq!(page.fact("loaded"), "1", "{what}");
    assert!(!page.facts.contains_key("error"), "{what}: {:?}", page.facts);
    assert!(page.console.is_empty(), "{what} logged: {:?}", page.console);
    assert_eq!(page.number("charts"), charts, "{what}: charts");
    assert_eq!(page.number("charts_labelled"), charts, "{what}: charts with a label");
    assert_eq!(page.number("charts_drawn"), charts, "{what}: charts drawn");
    assert!(page.number("bars") >= charts * 2, "{what}: bars drawn: {:?}", page.facts);
    assert_eq!(page.number("sortable"), sortable, "{what}: sortable tables");
    assert_eq!(page.number("sortable_ready"), sortable, "{what}: the sorting script ran");
    assert_eq!(page.number("sorted"), sortable, "{what}: a click sorts, a second reverses");
    assert!(page.number("print_css") >= 1, "{what}: a print style sheet");
    assert_eq!(page.number("external"), 0, "{what}: loads nothing");
    assert_eq!(page.number("scripts"), 1, "{what}: one script");

    let scheme = if view.dark { "dark" } else { "light" };
    assert_eq!(page.fact("view"), format!("{} {scheme}", view.width), "{what}: the view");
    let background = page.number("background");
    assert!(
        if view.dark { background < 50 } else { background > 800 },
        "{what}: background luminance {background}/1000"
    );
    assert_eq!(page.number("page_overflow"), 0, "{what}: the page scrolls sideways");
    assert_eq!(
        page.number("overflow"),
        0,
        "{what}: text out of its box: {}",
        page.fact("overflow_what")
    );
    assert!(
        page.number("contrast_min") >= 450,
        "{what}: contrast {}/100 for {}",
        page.number("contrast_min"),
        page.fact("contrast_worst")
    );
}

#[track_caller]
fn assert_index_page(page: &Checked, reports: &Path, days: &[DayRef], view: View) {
    assert_page_basics(page, 1, 2, view);
    assert_eq!(page.fact("title"), "Sales reports");
    assert_eq!(page.fact("rows"), format!("{},2", days.len()), "every day, then the years");
    let links: Vec<&str> = page.fact("links").split(' ').collect();
    let mut want: Vec<String> =
        days.iter().rev().map(|d| format!("{}/report.html", d.date)).collect();
    want.insert(0, format!("{LATEST}/report.html"));
    assert_eq!(links, want, "the latest day, then every day newest first");
    for link in links {
        assert!(reports.join(link).is_file(), "the index links to {link}, which is not there");
    }
    // On a phone too: every day's date on one line, its revenue and commission in view.
    let columns: Vec<&str> = page.fact("table_columns").split(',').collect();
    for column in ["Date", "Orders", "Revenue", "Commission"] {
        assert!(columns.contains(&column), "at {view} the index shows {columns:?}");
    }
    assert_eq!(page.number("dates_wrapped"), 0, "at {view} dates wrap");
    assert_round_ticks(page);
}

/// `day`'s page, in `dir`, with `days_of_year` days in its year so far.
#[track_caller]
fn assert_report_page(page: &Checked, day: &DayRef, days_of_year: usize, dir: &Path, view: View) {
    assert_page_basics(page, 4, 3, view);
    assert_eq!(page.fact("first_heading"), format!("Sales report — {}", day.date));
    assert_eq!(page.fact("first_kpi"), "Revenue", "the day's revenue is read first");
    let rows = format!("{days_of_year},{},{}", day.top_products.len(), day.reps.len());
    assert_eq!(page.fact("rows"), rows, "days of the year, top products, reps");
    let links: Vec<&str> = page.fact("links").split(' ').collect();
    assert_eq!(links[..3], ["../index.html", "report.csv", "report.json"], "{links:?}");
    // The day's files beside the page (the index above it is checked with the index).
    for link in links.iter().filter(|l| !l.starts_with("../")) {
        assert!(dir.join(link).is_file(), "{}: a link to {link}, which is not there", day.date);
    }
    // The day's revenue and commission: exact on hover, compact or exact in view.
    let tiles = tiles(page);
    for (i, cents) in [day.revenue_cents, day.commission_cents].into_iter().enumerate() {
        let (shown, exact) = &tiles[i];
        let exact = if exact.is_empty() { shown } else { exact };
        assert_eq!(exact, &dollars(cents), "tile {i} of {}", day.date);
        assert!(shown.chars().count() <= 10, "tile {i}: {shown}");
    }
    assert_round_ticks(page);
}

/// The `.kpi .value` tiles: (what they show, the exact amount on hover or "").
fn tiles(page: &Checked) -> Vec<(String, String)> {
    page.fact("tiles")
        .split(';')
        .map(|t| t.split_once('|').expect("shown|title"))
        .map(|(shown, title)| (shown.to_owned(), title.to_owned()))
        .collect()
}

/// The first year chart's value axis is 0, s, 2s, … with s a round 1, 2 or 5 × 10ⁿ.
#[track_caller]
fn assert_round_ticks(page: &Checked) {
    let ticks: Vec<u128> = page.fact("ticks").split(' ').map(tick_cents).collect();
    assert!(ticks.len() >= 2 && ticks[0] == 0, "ticks {:?}", page.fact("ticks"));
    let step = ticks[1];
    for (i, t) in ticks.iter().enumerate() {
        assert_eq!(*t, step * i as u128, "ticks {:?}", page.fact("ticks"));
    }
    let mut mantissa = step;
    while mantissa >= 10 && mantissa.is_multiple_of(10) {
        mantissa /= 10;
    }
    assert!([1, 2, 5].contains(&mantissa), "step {step} cents: ticks {}", page.fact("ticks"));
}

/// `$2.5K` → 250000 cents.
#[track_caller]
fn tick_cents(label: &str) -> u128 {
    let number = label.strip_prefix('$').unwrap_or_else(|| panic!("tick {label:?}"));
    let (number, scale) = match number.chars().last() {
        Some('K') => (&number[..number.len() - 1], 1_000),
        Some('M') => (&number[..number.len() - 1], 1_000_000),
        Some('B') => (&number[..number.len() - 1], 1_000_000_000),
        Some('T') => (&number[..number.len() - 1], 1_000_000_000_000),
        _ => (number, 1),
    };
    let number = number.replace(',', "");
    let (whole, fraction) = number.split_once('.').unwrap_or((&number, ""));
    let digits = format!("{whole}{fraction}");
    let value: u128 = digits.parse().unwrap_or_else(|_| panic!("tick {label:?}"));
    value * 100 * scale / 10u128.pow(fraction.len() as u32)
}

/// `reportsengine build FILE --ledger LEDGER -o DIR`: no AWS, the pages as the engine
/// writes them. Returns the HTML's size in bytes.
#[track_caller]
fn build(file: &Path, ledger: Option<&Path>, dir: &Path) -> u64 {
    let mut cmd = Command::new(bin_dir().join("reportsengine"));
    // No configuration: the default rate of 5.00 %, as the reference computes it. Run
    // beside the file, so the page names it by its name rather than this machine's path.
    let (folder, name) = (file.parent().expect("a folder"), file.file_name().expect("a name"));
    cmd.env_remove("VPCE_LAB_CONFIG").current_dir(folder);
    cmd.arg("build").arg(name).arg("-o").arg(dir);
    if let Some(ledger) = ledger {
        cmd.arg("--ledger").arg(ledger);
    }
    run(&mut cmd).assert_ok();
    std::fs::metadata(dir.join("report.html")).expect("report.html").len()
}

/// A ledger of the working days from December 29 to January 15: 30 reps selling
/// $300,000 to $500,000 each a day, and on January 9 one rep's day of $4,381,664,467.00.
fn ledger_with_an_outlier() -> (String, BTreeMap<String, i128>) {
    let mut csv = String::from("date,sales_rep,orders,units,revenue_cents,commission_cents\n");
    let mut per_day = BTreeMap::new();
    let days = ["2025-12-29", "2025-12-30", "2025-12-31", "2026-01-02", "2026-01-05"]
        .into_iter()
        .chain(["2026-01-06", "2026-01-07", "2026-01-08", "2026-01-09", "2026-01-12"])
        .chain(["2026-01-13", "2026-01-14", "2026-01-15"]);
    for (d, date) in days.enumerate() {
        for rep in 0..30u64 {
            let mut cents = 30_000_000 + (rep * 7_919 + d as u64 * 104_729) % 20_000_000;
            if date == "2026-01-09" && rep == 0 {
                cents = 438_166_446_700;
            }
            let _ = writeln!(csv, "{date},Rep {rep:02},20,80,{cents},{}", cents / 20);
            *per_day.entry(date.to_owned()).or_insert(0) += i128::from(cents);
        }
    }
    (csv, per_day)
}

/// 3,000 reps with long names, in 40 regions, one of them selling $4,381,660,000.00.
fn thousands_of_reps() -> String {
    let mut csv = String::from("date,order_id,sales_rep,region,product,quantity,unit_price\n");
    for i in 0..3000u32 {
        let (qty, price) = if i == 7 { (1_000_000, 438_166) } else { (1 + i % 9, 1_999 + i * 37) };
        let _ = writeln!(
            csv,
            "2026-02-03,M-{i},Representative number {i:04} of a very large sales team,\
             Sales region {:02} of the northern and southern hemispheres,\
             Product {:02} with an unusually long and descriptive name,{qty},{}.{:02}",
            i % 40,
            i % 25,
            price / 100,
            price % 100
        );
    }
    csv
}

#[test]
fn big_days_stay_readable_on_any_screen_and_in_print() {
    let out = output_dir("e2e-browser-big");
    let chromium = Chromium::find(&out.join("chromium"));

    // 300 reps on January 16, after a year with one outlier day.
    let day_csv = out.join("day300.csv");
    let mut generate = Command::new(bin_dir().join("salesapp"));
    generate.args(["generate", "--date", LATEST, "--rows", "6000", "--seed", "7", "-o"]);
    run(generate.arg(&day_csv)).assert_ok();
    let bytes = std::fs::read(&day_csv).expect("the day");
    let day = reference::compute(&bytes, 500, &BTreeMap::new()).expect("a valid day");
    assert_eq!(day.reps.len(), 300);
    let (ledger, per_day) = ledger_with_an_outlier();
    let ledger_csv = out.join("ledger.csv");
    std::fs::write(&ledger_csv, ledger).unwrap();
    let dir = out.join("reports").join(LATEST);
    let size_300 = build(&day_csv, Some(&ledger_csv), &dir);
    let of_2026 = per_day.iter().filter(|(d, _)| d.starts_with("2026-"));
    let year: i128 = of_2026.clone().map(|(_, c)| c).sum::<i128>() + day.revenue_cents;
    let days_of_year = of_2026.count() + 1;
    let page = format!("reports/{LATEST}/report.html");
    for view in View::ALL.into_iter().chain(View::EXTREMES) {
        let checked = chromium.check(&out, &page, view, &[]);
        assert_report_page(&checked, &day, days_of_year, &dir, view);
        // The year so far: compact, exact on hover.
        let tiles = tiles(&checked);
        assert_eq!(tiles[4].1, dollars(year), "the year's revenue tile: {tiles:?}");
        assert!(tiles[4].0.ends_with('B'), "{tiles:?}");
        // The outlier is cut; the other days keep most of the chart's height.
        assert_eq!(checked.number("cut"), 2, "Jan 9 cut, in revenue and commission");
        let median = checked.number("median_column");
        assert!(median >= 40, "at {view} the median day is {median} % of the axis");
    }
    let outlier_png = out.join("report-outlier.png");
    chromium.screenshot(&dir.join("report.html"), &outlier_png, View::DESKTOP, 760);
    let letter = chromium.print(&dir.join("report.html"), &out.join("day300-letter.pdf"));
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let a4 = dir.join("report-a4.html");
    std::fs::write(&a4, html.replacen("<style>", "<style>@page { size: A4; }", 1)).unwrap();
    let a4 = chromium.print(&a4, &out.join("day300-a4.pdf"));
    assert!(letter <= 3 && a4 <= 3, "300 reps printed on {letter} Letter, {a4} A4 pages");

    // Thousands of reps: the top of the table, the rest summed and linked.
    let many_csv = out.join("many.csv");
    std::fs::write(&many_csv, thousands_of_reps()).unwrap();
    let many = reference::compute(&std::fs::read(&many_csv).unwrap(), 500, &BTreeMap::new())
        .expect("a valid day");
    let many_dir = out.join("reports/2026-02-03");
    let size_3000 = build(&many_csv, None, &many_dir);
    for view in [View::PHONE, View::DESKTOP_DARK] {
        let checked = chromium.check(&out, "reports/2026-02-03/report.html", view, &[]);
        assert_page_basics(&checked, 4, 3, view);
        assert_eq!(checked.fact("rows"), "1,10,500", "the day, top products, the top 500 reps");
        for link in checked.fact("links").split(' ').skip(1) {
            assert!(many_dir.join(link).is_file(), "a link to {link}, which is not there");
        }
        let tiles = tiles(&checked);
        assert_eq!(tiles[0].1, dollars(many.revenue_cents), "{tiles:?}");
        assert!(tiles[0].0.starts_with("$4.") && tiles[0].0.ends_with('B'), "{tiles:?}");
    }
    let html = std::fs::read_to_string(many_dir.join("report.html")).unwrap();
    assert!(html.contains("Reps: the top 500 of 3,000"));
    assert!(html.contains("<td>The other 2,500 reps</td>"));
    let printed = chromium.print(&many_dir.join("report.html"), &out.join("many.pdf"));
    assert!(printed <= 3, "3,000 reps printed on {printed} pages");
    assert!(size_3000 < 600_000, "3,000 reps: a page of {size_3000} bytes");
    eprintln!(
        "report.html: {size_300} bytes for 300 reps, {size_3000} for 3,000; printed: 300 reps \
         on {letter} Letter and {a4} A4 pages, 3,000 on {printed}"
    );
    if std::env::var_os("E2E_UPDATE_DOCS").is_some_and(|v| v == "1") {
        update_docs(&[outlier_png]);
    }
}

/// Copies the screenshots to `docs/`, shrunk to a small palette when `pngquant` is there.
fn update_docs(pngs: &[PathBuf]) {
    let docs = workspace_root().join("docs");
    std::fs::create_dir_all(&docs).expect("docs/");
    for png in pngs {
        let dest = docs.join(png.file_name().expect("a file name"));
        let shrunk = std::process::Command::new("pngquant")
            .args(["--force", "--strip", "--quality=60-90", "--output"])
            .arg(&dest)
            .arg(png)
            .status()
            .is_ok_and(|s| s.success());
        if !shrunk {
            std::fs::copy(png, &dest).expect("copy the screenshot");
        }
        eprintln!("wrote {}", dest.display());
    }
}
