//! `reports/index.html`: the latest year at a glance (its figures and a chart of its days),
//! every reported day with its headline figures and a link to its report, and the years
//! side by side when there are several.
//!
//! Links are relative (`DATE/report.html`), so a copy of the bucket's `reports/` folder
//! (`aws s3 sync s3://BUCKET/reports ./reports`) browses as it does in place.
use std::fmt::Write as _;

use super::format::{dollars, grouped, long_date};
use super::page::{self, kpi, money, num_cell, shown};
use super::{days_table, year_charts, Figure};
use crate::report::index::{Index, IndexDay};
use crate::report::year::{DayLine, YearToDate};

impl Index {
    /// `reports/index.html`: a pure function of the index, so two engines that wrote the
    /// same `index.json` write the same page.
    pub fn to_html(&self) -> String {
        let mut h = String::with_capacity(16 * 1024 + self.days().len() * 400);
        page::open(&mut h, "Sales reports");
        let Some(latest) = self.days().last() else {
            h.push_str("<header>\n<h1>Sales reports</h1>\n</header>\n");
            h.push_str("<p class=\"note\">No reports yet.</p>\n");
            page::close(&mut h, FOOTER);
            return h;
        };
        header(&mut h, self, latest);
        latest_year(&mut h, self, latest);
        every_day(&mut h, self);
        by_year(&mut h, self);
        page::close(&mut h, FOOTER);
        h
    }
}

const FOOTER: &str = "Updated by reportsengine after each report, from reports/index.json. \
                      Commission is rounded per rep, half to even.";

/// The page's link to a day's report, relative to `reports/`.
fn report_link(day: &IndexDay) -> String {
    format!("{}/report.html", day.date)
}

fn header(h: &mut String, index: &Index, latest: &IndexDay) {
    let days = index.days();
    let first = days.first().map_or(latest.date, |d| d.date);
    let _ = write!(
        h,
        "<header>\n<h1>Sales reports</h1>\n<p class=\"sub\">{} reported day{}, from {first} to \
         {}. Each date opens its report.</p>\n</header>\n",
        grouped(days.len() as u64),
        if days.len() == 1 { "" } else { "s" },
        latest.date
    );
}

/// The latest day and its year: figures, then the charts.
fn latest_year(h: &mut String, index: &Index, latest: &IndexDay) {
    let year = latest.date.0.year();
    let ytd = YearToDate::of_days(
        index.days().iter().filter(|d| d.date.0.year() == year).map(IndexDay::day_line).collect(),
    );
    h.push_str("<div class=\"kpis\">\n");
    kpi(
        h,
        "Latest day",
        &shown(format!("<a href=\"{}\">{}</a>", report_link(latest), latest.date)),
        &[format!("{} revenue", dollars(latest.revenue_cents)), long_date(latest.date)],
    );
    kpi(h, &format!("Revenue {year} so far"), &money(ytd.revenue_cents), &[]);
    kpi(h, &format!("Commission {year} so far"), &money(ytd.commission_cents), &[]);
    if let Some(a) = ytd.daily_average() {
        kpi(
            h,
            "Daily average revenue",
            &money(a.revenue_cents),
            &[format!("over {} reported day{}", a.days, if a.days == 1 { "" } else { "s" })],
        );
    }
    h.push_str("</div>\n");
    let _ = writeln!(h, "<section>\n<h2>The year {year}</h2>");
    year_charts(h, &ytd.days, &[Figure::Revenue], latest.date, "the latest day");
    h.push_str("</section>\n");
}

/// One line per year, when the index spans more than one.
fn by_year(h: &mut String, index: &Index) {
    let years: Vec<YearToDate> = index
        .days()
        .chunk_by(|a, b| a.date.0.year() == b.date.0.year())
        .map(|days| YearToDate::of_days(days.iter().map(IndexDay::day_line).collect()))
        .collect();
    if years.len() < 2 {
        return;
    }
    h.push_str(
        "<section>\n<h2>By year</h2>\n<div class=\"scroll\"><table class=\"sortable\">\n\
         <thead><tr><th>Year</th><th class=\"n\">Days</th><th class=\"n\">Orders</th>\
         <th class=\"n\">Revenue</th><th class=\"n\">Commission</th></tr></thead>\n<tbody>\n",
    );
    for y in years.iter().rev() {
        let Some(first) = y.days.first() else { continue };
        let orders = y.days.iter().fold(0u64, |acc, d: &DayLine| acc.saturating_add(d.orders));
        let _ = writeln!(
            h,
            "<tr><td>{}</td>{}{}{}{}</tr>",
            first.date.0.year(),
            num_cell("n", &grouped(y.days.len() as u64), y.days.len()),
            num_cell("n", &grouped(orders), orders),
            num_cell("n", &dollars(y.revenue_cents), y.revenue_cents.0),
            num_cell("n", &dollars(y.commission_cents), y.commission_cents.0),
        );
    }
    h.push_str("</tbody>\n</table></div>\n</section>\n");
}

/// Every day, newest first, each date a link to its report.
fn every_day(h: &mut String, index: &Index) {
    h.push_str("<section>\n<h2>Every reported day</h2>\n");
    let lines: Vec<(DayLine, String)> =
        index.days().iter().rev().map(|d| (d.day_line(), report_link(d))).collect();
    days_table(h, lines.iter().map(|(d, link)| (d, Some(link.clone()))), None);
    h.push_str("</section>\n");
}
