//! UTC calendar maths for epochs and months (SPEC sections 1 and 7), unsigned integers only.
//!
//! Days are counted from 1970-01-01 (the unix epoch); nothing before 1970 exists for the contract
//! (genesis is a unix timestamp), so every day count is a `u64`. The conversions are Howard
//! Hinnant's `days_from_civil` / `civil_from_days` (proleptic Gregorian calendar) on a calendar
//! whose years start on March 1st, so that the leap day is the last day of a year.
//! `month_index = year*12 + (month-1)`.
//!
//! ink!'s build denies implicit overflow (`clippy::arithmetic_side_effects`): operations that can
//! fail are checked and return `None`; the few that provably cannot saturate instead.

/// Seconds in a day, and so in an epoch.
pub const SECS_PER_DAY: u64 = 86_400;

/// Days from 0000-03-01 to 1970-01-01.
const DAYS_0000_03_01_TO_1970: u64 = 719_468;

/// Days in a 400-year era.
const DAYS_PER_ERA: u64 = 146_097;

/// Days since 1970-01-01 of the civil date `year-month-day` (month 1..=12, day 1..=31); `None`
/// before 1970.
pub fn days_from_civil(year: u64, month: u32, day: u32) -> Option<u64> {
    let month = u64::from(month);
    // March-based year and month (March = 0).
    let (y, mp) = if month > 2 {
        (year, month.checked_sub(3)?)
    } else {
        (year.checked_sub(1)?, month.checked_add(9)?)
    };
    let (era, yoe) = (y / 400, y % 400); // yoe in [0, 399]
    let doy = (mp.checked_mul(153)?.checked_add(2)? / 5).checked_add(u64::from(day).checked_sub(1)?)?;
    // doy in [0, 365], so doe in [0, 146096]: saturating only to satisfy the lint.
    let doe = yoe
        .saturating_mul(365)
        .saturating_add(yoe / 4)
        .saturating_sub(yoe / 100)
        .saturating_add(doy);
    era.checked_mul(DAYS_PER_ERA)?
        .checked_add(doe)?
        .checked_sub(DAYS_0000_03_01_TO_1970)
}

/// The civil date `(year, month, day)` of a day count since 1970-01-01; `None` beyond `u64`.
pub fn civil_from_days(days: u64) -> Option<(u64, u32, u32)> {
    let z = days.checked_add(DAYS_0000_03_01_TO_1970)?;
    let (era, doe) = (z / DAYS_PER_ERA, z % DAYS_PER_ERA); // doe in [0, 146096]
                                                           // Within an era everything is small: plain bounds, saturating only to satisfy the lint.
    let yoe = doe
        .saturating_sub(doe / 1460)
        .saturating_add(doe / 36_524)
        .saturating_sub(doe / 146_096)
        / 365;
    let doy = doe.saturating_sub(
        yoe.saturating_mul(365)
            .saturating_add(yoe / 4)
            .saturating_sub(yoe / 100),
    );
    let mp = doy.saturating_mul(5).saturating_add(2) / 153; // [0, 11], March = 0
    let day = doy
        .saturating_sub(mp.saturating_mul(153).saturating_add(2) / 5)
        .saturating_add(1);
    let month = if mp < 10 {
        mp.saturating_add(3)
    } else {
        mp.saturating_sub(9)
    };
    let year = era
        .checked_mul(400)?
        .checked_add(yoe)?
        .checked_add(u64::from(month <= 2))?;
    Some((year, u32::try_from(month).ok()?, u32::try_from(day).ok()?))
}

/// The month index of the UTC month containing `days` (days since 1970-01-01); `None` beyond
/// `u32`.
pub fn month_index_of_day(days: u64) -> Option<u32> {
    let (year, month, _) = civil_from_days(days)?;
    let index = year
        .checked_mul(12)?
        .checked_add(u64::from(month))?
        .checked_sub(1)?;
    u32::try_from(index).ok()
}

/// The day (since 1970-01-01) on which month `month_index` starts; `None` before 1970.
pub fn month_start_day(month_index: u32) -> Option<u64> {
    let year = u64::from(month_index / 12);
    let month = (month_index % 12).saturating_add(1);
    days_from_civil(year, month, 1)
}

/// Unix seconds of 00:00:00 UTC on the first day of month `month_index`; `None` before 1970.
pub fn month_start_secs(month_index: u32) -> Option<u64> {
    month_start_day(month_index)?.checked_mul(SECS_PER_DAY)
}

/// The half-open range `[first, end)` of the epochs whose start falls in month `month_index`,
/// for a genesis at `genesis_day` (days since 1970-01-01). `None` when the month ends on or
/// before genesis (it has no epoch) or `month_index + 1` overflows.
pub fn month_epochs(genesis_day: u64, month_index: u32) -> Option<(u64, u64)> {
    let end = month_start_day(month_index.checked_add(1)?)?;
    let end_epoch = end.checked_sub(genesis_day).filter(|e| *e > 0)?;
    // The month ends after genesis >= 1970-01-01, so it starts in 1970 or later.
    let start = month_start_day(month_index)?;
    Some((start.saturating_sub(genesis_day), end_epoch))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keeper's calendar (`flex_engine::calendar`) is tested against the same vectors; dates
    /// before 1970 do not exist for the contract (`None`).
    #[test]
    fn shared_vectors() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/vectors/calendar.json")).unwrap();
        let rows = |k: &str| {
            v[k].as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    r.as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_i64().unwrap())
                        .collect::<Vec<i64>>()
                })
                .collect::<Vec<_>>()
        };
        let (mut checked, mut before_1970) = (0, 0);
        for r in rows("days") {
            let (days, y, m, d) = (r[0], r[1] as u64, r[2] as u32, r[3] as u32);
            if days < 0 {
                assert_eq!(days_from_civil(y, m, d), None);
                before_1970 += 1;
                continue;
            }
            assert_eq!(
                civil_from_days(days as u64),
                Some((y, m, d)),
                "civil_from_days({days})"
            );
            assert_eq!(days_from_civil(y, m, d), Some(days as u64));
            checked += 1;
        }
        for r in rows("months") {
            let (unix_s, month) = (r[0] as u64, r[1] as u32);
            assert_eq!(
                month_index_of_day(unix_s / SECS_PER_DAY),
                Some(month),
                "month of {unix_s}"
            );
            checked += 1;
        }
        for r in rows("month_starts") {
            assert_eq!(
                month_start_secs(r[0] as u32),
                Some(r[1] as u64),
                "start of month {}",
                r[0]
            );
            checked += 1;
        }
        assert!(checked > 25 && before_1970 > 0);
    }

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2000, 3, 1), Some(11_017));
        assert_eq!(days_from_civil(2025, 12, 1), Some(20_423)); // 1764547200 / 86400
        assert_eq!(days_from_civil(1969, 12, 31), None);
        assert_eq!(days_from_civil(0, 1, 1), None);
        assert_eq!(civil_from_days(0), Some((1970, 1, 1)));
        assert_eq!(civil_from_days(20_423), Some((2025, 12, 1)));
        assert_eq!(civil_from_days(11_016), Some((2000, 2, 29))); // leap day of a /400 year
        let mar_2100 = days_from_civil(2100, 3, 1).unwrap();
        assert_eq!(civil_from_days(mar_2100 - 1), Some((2100, 2, 28))); // no leap day
        assert_eq!(civil_from_days(u64::MAX), None);
    }

    #[test]
    fn round_trip_over_many_years() {
        // Every day from 1970 to about 2300 survives the round trip and the months line up.
        let mut prev = (1969, 12, 31);
        for days in 0..120_000u64 {
            let (y, m, d) = civil_from_days(days).unwrap();
            assert_eq!(days_from_civil(y, m, d), Some(days));
            if d == 1 {
                assert!(prev.2 >= 28);
                let index = u32::try_from(y * 12 + u64::from(m) - 1).unwrap();
                assert_eq!(month_start_day(index), Some(days));
                assert_eq!(month_index_of_day(days), Some(index));
            } else {
                assert_eq!((prev.0, prev.1, prev.2 + 1), (y, m, d));
            }
            prev = (y, m, d);
        }
    }

    #[test]
    fn month_index_and_start() {
        // 2025-12-31 23:59:59 UTC is 1767225599.
        assert_eq!(
            month_index_of_day(1_767_225_599 / SECS_PER_DAY),
            Some(2025 * 12 + 11)
        );
        assert_eq!(month_index_of_day(1_767_225_600 / SECS_PER_DAY), Some(2026 * 12));
        assert_eq!(month_start_secs(24_311), Some(1_764_547_200));
        assert_eq!(month_start_secs(24_312), Some(1_767_225_600));
        assert_eq!(month_start_secs(1969 * 12 + 11), None);
        assert_eq!(month_start_secs(1970 * 12), Some(0));
        // The largest month index still has a start.
        assert!(month_start_secs(u32::MAX).is_some());
    }

    #[test]
    fn epochs_of_a_month() {
        // Genesis 2025-12-15: December has epochs 0..17, January 17..48, February 2026 48..76.
        let g = days_from_civil(2025, 12, 15).unwrap();
        assert_eq!(month_epochs(g, 24_311), Some((0, 17)));
        assert_eq!(month_epochs(g, 24_312), Some((17, 48)));
        assert_eq!(month_epochs(g, 24_313), Some((48, 76)));
        // November ends before genesis.
        assert_eq!(month_epochs(g, 24_310), None);
        // Genesis on the first of a month: the whole month.
        let g = days_from_civil(2024, 2, 1).unwrap();
        assert_eq!(month_epochs(g, 2024 * 12 + 1), Some((0, 29))); // leap February
        assert_eq!(month_epochs(g, 2024 * 12), None);
        assert_eq!(month_epochs(g, u32::MAX), None);
        // Genesis at the unix epoch; months before 1970 have no epochs.
        assert_eq!(month_epochs(0, 1970 * 12), Some((0, 31)));
        assert_eq!(month_epochs(0, 1969 * 12 + 11), None);
        assert_eq!(month_epochs(0, 0), None);
    }
}
