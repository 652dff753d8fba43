//! The report's three files and the index page as objects: their bodies by name and their
//! content types.

use sales_domain::report::Report;

/// The three report files, by name.
pub fn render(report: &Report) -> [(&'static str, String); 3] {
    [
        ("report.csv", report.to_csv()),
        ("report.json", report.to_json()),
        ("report.html", report.to_html()),
    ]
}

/// The content type of a report file or key, by its extension.
pub fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("csv") => "text/csv; charset=utf-8",
        Some("json") => "application/json",
        _ => "text/html; charset=utf-8",
    }
}
