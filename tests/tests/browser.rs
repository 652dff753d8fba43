//! The pages in a real browser. Days of December and January go through the pipeline (one
//! of them with hostile rep, region and product names); `aws s3 sync` copies `reports/` to
//! disk, as a reader would; headless Chromium then opens `index.html` and the reports from
//! there. From the DOM it built: the charts are drawn and labelled, the tables sort, every
//! link of the index opens a report that is there, hostile names are text, nothing is loaded
//! from anywhere, and no page logged anything (an uncaught error included: a page with one
//! is shown to be caught). Screenshots and the synced folder stay in
//! `target/<profile>/e2e-browser/`; `E2E_UPDATE_DOCS=1` also writes `docs/report.png` and
//! `docs/index.png` (shrunk with `pngquant` when there is one).

use std::path::{Path, PathBuf};
use std::time::Instant;

use e2e::browser::{Checked, Chromium};
use e2e::checks;
use e2e::reference::DayRef;
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
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
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
            q(rep),
            q(region),
            q(product)
        ));
    }
    csv
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

/// `target/<profile>/e2e-browser/`, emptied.
fn output_dir() -> PathBuf {
    let dir = bin_dir().join("e2e-browser");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the output folder");
    dir
}

#[test]
fn pages_render_in_chromium_with_charts_sortable_tables_and_no_error() {
    let out = output_dir();
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
    let index = chromium.check(&out, "reports/index.html", &[]);
    assert_index_page(&index, &reports, &days);
    let latest = chromium.check(&out, &format!("reports/{LATEST}/report.html"), &[]);
    let jan = days.iter().filter(|d| d.date.starts_with("2026-")).count();
    assert_report_page(&latest, &days[days.len() - 1], jan, &reports);
    let hostile = chromium.check(&out, &format!("reports/{HOSTILE_DATE}/report.html"), &HOSTILE);
    let hostile_day = days.iter().find(|d| d.date == HOSTILE_DATE).expect("hostile day");
    assert_report_page(&hostile, hostile_day, jan - 2, &reports);
    assert_eq!(hostile.fact("pwned"), "undefined 0", "a hostile name ran or made an element");
    assert_eq!(hostile.fact("found"), "1,1,1,1,1", "every hostile name shown as text");

    // The console check can fail: a page with an uncaught error is caught.
    let page = std::fs::read_to_string(reports.join(LATEST).join("report.html")).unwrap();
    let broken = page.replace("</body>", "<script>notAFunction();</script></body>");
    std::fs::write(reports.join("broken.html"), broken).unwrap();
    let control = chromium.check(&out, "reports/broken.html", &[]);
    assert!(
        control.console.iter().any(|l| l.contains("Uncaught") && l.contains("notAFunction")),
        "an uncaught error went unnoticed: {:?}",
        control.console
    );
    std::fs::remove_file(reports.join("broken.html")).unwrap();

    let report_png = out.join("report.png");
    let index_png = out.join("index.png");
    chromium.screenshot(&reports.join(LATEST).join("report.html"), &report_png, (900, 1250));
    chromium.screenshot(&reports.join("index.html"), &index_png, (900, 1100));
    eprintln!(
        "chromium: 4 pages checked and 2 screenshots in {:.1?}; see {}",
        started.elapsed(),
        out.display()
    );
    if std::env::var_os("E2E_UPDATE_DOCS").is_some_and(|v| v == "1") {
        update_docs(&report_png, &index_png);
    }
}

/// Facts every page must show: drawn, labelled charts; tables that sort; print styles;
/// nothing loaded from anywhere; one script, ours; nothing logged.
#[track_caller]
fn assert_page_basics(page: &Checked, charts: u64, sortable: u64) {
    let what = page.fact("title").to_string();
    assert_eq!(page.fact("loaded"), "1", "{what}");
    assert!(!page.facts.contains_key("error"), "{what}: {:?}", page.facts);
    assert!(page.console.is_empty(), "{what} logged: {:?}", page.console);
    assert_eq!(page.number("charts"), charts, "{what}: charts");
    assert_eq!(page.number("charts_labelled"), charts, "{what}: charts with title and label");
    assert_eq!(page.number("charts_drawn"), charts, "{what}: charts drawn");
    assert!(page.number("bars") >= charts * 2, "{what}: bars drawn: {:?}", page.facts);
    assert_eq!(page.number("sortable"), sortable, "{what}: sortable tables");
    assert_eq!(page.number("sortable_ready"), sortable, "{what}: the sorting script ran");
    assert_eq!(page.number("sorted"), sortable, "{what}: a click sorts, a second reverses");
    assert!(page.number("print_css") >= 1, "{what}: a print style sheet");
    assert_eq!(page.number("external"), 0, "{what}: loads nothing");
    assert_eq!(page.number("scripts"), 1, "{what}: one script");
}

#[track_caller]
fn assert_index_page(page: &Checked, reports: &Path, days: &[DayRef]) {
    assert_page_basics(page, 1, 2);
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
}

#[track_caller]
fn assert_report_page(page: &Checked, day: &DayRef, days_of_year: usize, reports: &Path) {
    assert_page_basics(page, 4, 3);
    assert_eq!(page.fact("first_heading"), format!("Sales report — {}", day.date));
    assert_eq!(page.fact("first_kpi"), "Revenue", "the day's revenue is read first");
    let rows = format!("{days_of_year},{},{}", day.top_products.len(), day.reps.len());
    assert_eq!(page.fact("rows"), rows, "days of the year, top products, reps");
    assert_eq!(page.fact("links"), "../index.html");
    assert!(reports.join(&day.date).join("../index.html").is_file());
}

/// Copies the screenshots to `docs/`, shrunk to a small palette when `pngquant` is there.
fn update_docs(report: &Path, index: &Path) {
    let docs = workspace_root().join("docs");
    std::fs::create_dir_all(&docs).expect("docs/");
    for (png, name) in [(report, "report.png"), (index, "index.png")] {
        let dest = docs.join(name);
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
