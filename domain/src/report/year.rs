//! The year so far: each day's headline numbers from January 1 to the report's day, the
//! previous reported day and the year's daily average, so a reader can tell whether the day
//! was a good one.
//!
//! The ledger holds every reported day per rep; a day here is the sum of its reps. The
//! report's own day is never taken from the ledger but from the sales file (the ledger may
//! lag or lead the file being reported), exactly as `commission_ytd` is.

use super::add;
use crate::{
    ledger::{Ledger, LedgerRow},
    money::Cents,
    sales::SalesDate,
};

/// One day's headline numbers, summed over its reps.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DayLine {
    pub date: SalesDate,
    pub orders: u64,
    pub units: u64,
    pub revenue_cents: Cents,
    /// The sum of the reps' rounded commissions, as in the day's totals.
    pub commission_cents: Cents,
}

impl DayLine {
    /// The sum of one date's ledger rows; `None` for no rows.
    pub fn of_rows(rows: &[LedgerRow]) -> Option<DayLine> {
        let first = rows.first()?;
        let zero = DayLine {
            date: first.date,
            orders: 0,
            units: 0,
            revenue_cents: Cents::ZERO,
            commission_cents: Cents::ZERO,
        };
        Some(rows.iter().fold(zero, |day, r| DayLine {
            orders: day.orders.saturating_add(r.orders),
            units: day.units.saturating_add(r.units),
            revenue_cents: add(day.revenue_cents, r.revenue),
            commission_cents: add(day.commission_cents, r.commission),
            ..day
        }))
    }
}

/// The JSON's `year_to_date`: the days from January 1 of the report's year through the
/// report's date, sorted, and their sums.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct YearToDate {
    pub days: Vec<DayLine>,
    pub revenue_cents: Cents,
    pub commission_cents: Cents,
}

/// The year's daily average, over the days with sales so far (the report's day included),
/// each rounded half up to the unit: a day without a report is not a day without sales,
/// so it does not pull the average down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyAverage {
    pub days: u64,
    pub orders: u64,
    pub units: u64,
    pub revenue_cents: Cents,
    pub commission_cents: Cents,
}

impl YearToDate {
    /// The ledger's days of the year before `today`, then `today` itself.
    pub fn build(ledger: &Ledger, today: DayLine) -> YearToDate {
        let mut days: Vec<DayLine> =
            ledger.days_of_year_before(today.date).filter_map(DayLine::of_rows).collect();
        days.push(today);
        YearToDate::of_days(days)
    }

    /// `days` (sorted, one per date) with their sums.
    pub fn of_days(days: Vec<DayLine>) -> YearToDate {
        let revenue_cents = days.iter().fold(Cents::ZERO, |acc, d| add(acc, d.revenue_cents));
        let commission_cents = days.iter().fold(Cents::ZERO, |acc, d| add(acc, d.commission_cents));
        YearToDate { days, revenue_cents, commission_cents }
    }

    /// `None` only when there is no day at all (never for a report, which has its own).
    pub fn daily_average(&self) -> Option<DailyAverage> {
        let n = u64::try_from(self.days.len()).ok().filter(|&n| n > 0)?;
        let sum = |f: fn(&DayLine) -> u128| self.days.iter().map(f).sum::<u128>();
        let mean = |total: u128| (total + u128::from(n) / 2) / u128::from(n);
        let units = |f: fn(&DayLine) -> u128| u64::try_from(mean(sum(f))).unwrap_or(u64::MAX);
        let cents =
            |f: fn(&DayLine) -> u128| Cents(i64::try_from(mean(sum(f))).unwrap_or(i64::MAX));
        Some(DailyAverage {
            days: n,
            orders: units(|d| u128::from(d.orders)),
            units: units(|d| u128::from(d.units)),
            revenue_cents: cents(|d| u128::try_from(d.revenue_cents.0).unwrap_or(0)),
            commission_cents: cents(|d| u128::try_from(d.commission_cents.0).unwrap_or(0)),
        })
    }
}

/// The latest day before `date` in the ledger, of any year: "the previous reported day".
pub fn previous_day(ledger: &Ledger, date: SalesDate) -> Option<DayLine> {
    ledger.last_day_before(date).and_then(DayLine::of_rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> SalesDate {
        SalesDate::parse(s).unwrap()
    }

    fn row(d: &str, rep: &str, orders: u64, revenue: i64, commission: i64) -> LedgerRow {
        LedgerRow {
            date: date(d),
            sales_rep: rep.to_owned(),
            orders,
            units: orders.saturating_mul(2),
            revenue: Cents(revenue),
            commission: Cents(commission),
        }
    }

    fn line(d: &str, orders: u64, revenue: i64, commission: i64) -> DayLine {
        DayLine {
            date: date(d),
            orders,
            units: orders.saturating_mul(2),
            revenue_cents: Cents(revenue),
            commission_cents: Cents(commission),
        }
    }

    fn ledger(rows: &[LedgerRow]) -> Ledger {
        let mut l = Ledger::default();
        for r in rows {
            let mut day: Vec<LedgerRow> =
                l.rows().iter().filter(|x| x.date == r.date).cloned().collect();
            day.push(r.clone());
            l.merge_day(r.date, day);
        }
        l
    }

    #[test]
    fn the_year_is_january_first_to_the_day_with_the_day_from_the_file() {
        let l = ledger(&[
            row("2025-12-31", "ann", 9, 90_000, 4_500),
            row("2026-01-01", "ann", 1, 1_000, 50),
            row("2026-01-01", "bob", 2, 2_000, 100),
            row("2026-01-03", "bob", 3, 3_000, 150),
            row("2026-01-05", "ann", 7, 777_777, 38_889), // stale row of the day itself
            row("2026-01-09", "ann", 8, 888_888, 44_444), // after the day
        ]);
        let today = line("2026-01-05", 4, 4_000, 200);
        let ytd = YearToDate::build(&l, today.clone());
        assert_eq!(
            ytd.days,
            vec![line("2026-01-01", 3, 3_000, 150), line("2026-01-03", 3, 3_000, 150), today]
        );
        assert_eq!((ytd.revenue_cents, ytd.commission_cents), (Cents(10_000), Cents(500)));

        // January 1 itself: only the day; nothing of last year.
        let first = YearToDate::build(&l, line("2026-01-01", 1, 5, 0));
        assert_eq!(first.days, vec![line("2026-01-01", 1, 5, 0)]);
        assert_eq!(first.revenue_cents, Cents(5));
    }

    #[test]
    fn the_previous_day_is_the_latest_before_whatever_the_year() {
        let l = ledger(&[
            row("2025-12-30", "ann", 1, 100, 5),
            row("2025-12-31", "ann", 1, 300, 15),
            row("2025-12-31", "bob", 1, 200, 10),
            row("2026-01-02", "ann", 1, 400, 20),
        ]);
        assert_eq!(previous_day(&l, date("2026-01-01")), Some(line("2025-12-31", 2, 500, 25)));
        assert_eq!(previous_day(&l, date("2026-01-02")), Some(line("2025-12-31", 2, 500, 25)));
        assert_eq!(previous_day(&l, date("2026-01-03")), Some(line("2026-01-02", 1, 400, 20)));
        assert_eq!(previous_day(&l, date("2025-12-30")), None);
        assert_eq!(previous_day(&Ledger::default(), date("2026-01-02")), None);
    }

    #[test]
    fn the_daily_average_rounds_half_up_over_the_reported_days() {
        let ytd =
            YearToDate::of_days(vec![line("2026-01-01", 1, 100, 1), line("2026-01-02", 2, 101, 2)]);
        // 201 / 2 = 100.5 → 101; 3 / 2 = 1.5 → 2; orders 3 / 2 → 2; units 6 / 2 = 3.
        assert_eq!(
            ytd.daily_average(),
            Some(DailyAverage {
                days: 2,
                orders: 2,
                units: 3,
                revenue_cents: Cents(101),
                commission_cents: Cents(2),
            })
        );
        let thirds = YearToDate::of_days(vec![
            line("2026-01-01", 0, 1, 0),
            line("2026-01-02", 0, 0, 0),
            line("2026-01-03", 0, 0, 0),
        ]);
        assert_eq!(thirds.daily_average().map(|a| a.revenue_cents), Some(Cents(0)));
        assert_eq!(YearToDate::of_days(vec![]).daily_average(), None);
    }

    #[test]
    fn sums_saturate_on_a_hostile_ledger() {
        let l = ledger(&[
            row("2026-01-01", "ann", u64::MAX, i64::MAX, i64::MAX),
            row("2026-01-01", "bob", 1, 1, 1),
            row("2026-01-02", "ann", 1, i64::MAX, i64::MAX),
        ]);
        let ytd = YearToDate::build(&l, line("2026-01-03", 1, 1, 1));
        assert_eq!(ytd.days[0].orders, u64::MAX);
        assert_eq!(ytd.days[0].revenue_cents, Cents(i64::MAX));
        assert_eq!(ytd.revenue_cents, Cents(i64::MAX));
        let avg = ytd.daily_average().unwrap();
        assert!(avg.revenue_cents.0 > 0 && avg.orders > 0);
        assert_eq!(DayLine::of_rows(&[]), None);
    }
}
