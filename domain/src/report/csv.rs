//! `report.csv`: one row per rep, then `TOTAL`.

use std::fmt::Write as _;

use super::{plain, Report};

impl Report {
    /// `report.csv`: LF line ends, RFC 4180 quoting where a name needs it, money as `d.dd`.
    /// A name a spreadsheet would run as a formula is written as text, with a single quote in
    /// front (the ledger's rule; docs/security.md).
    /// The `TOTAL` row is always the last line (a rep literally named `TOTAL` sorts among the
    /// reps, so consumers should take the total by position).
    pub fn to_csv(&self) -> String {
        let mut out = String::from("sales_rep,orders,units,revenue,commission,commission_ytd\n");
        for r in &self.reps {
            crate::csv_out::push_text_field(&mut out, &r.sales_rep);
            let _ = writeln!(
                out,
                ",{},{},{},{},{}",
                r.orders,
                r.units,
                plain(r.revenue_cents),
                plain(r.commission_cents),
                plain(r.commission_ytd_cents)
            );
        }
        let t = &self.totals;
        let _ = writeln!(
            out,
            "TOTAL,{},{},{},{},{}",
            t.orders,
            t.units,
            plain(t.revenue_cents),
            plain(t.commission_cents),
            plain(self.commission_ytd_total())
        );
        out
    }
}
