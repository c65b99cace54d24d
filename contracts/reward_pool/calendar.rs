//! UTC calendar maths for epochs and months (SPEC sections 1 and 7), integers only.
//!
//! Days are counted from 1970-01-01 (the unix epoch). The conversions are Howard Hinnant's
//! `days_from_civil` / `civil_from_days` (proleptic Gregorian calendar), exact for any `i64`
//! day count this contract can meet. `month_index = year*12 + (month-1)`.

/// Seconds in a day, and so in an epoch.
pub const SECS_PER_DAY: u64 = 86_400;

/// Days since 1970-01-01 of the civil date `year-month-day` (month 1..=12, day 1..=31).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400; // [0, 399]
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 }; // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The month index of the UTC month containing `days` (days since 1970-01-01, so never
/// before 1970 and always representable as `u32` for any `u64` second count).
pub fn month_index_of_day(days: u64) -> u32 {
    let (year, month, _) = civil_from_days(days as i64);
    (year * 12 + i64::from(month) - 1) as u32
}

/// The day (since 1970-01-01, may be negative) on which month `month_index` starts.
pub fn month_start_day(month_index: u32) -> i64 {
    let year = i64::from(month_index / 12);
    let month = month_index % 12 + 1;
    days_from_civil(year, month, 1)
}

/// Unix seconds of 00:00:00 UTC on the first day of month `month_index`, `None` before 1970.
pub fn month_start_secs(month_index: u32) -> Option<u64> {
    let day = month_start_day(month_index);
    u64::try_from(day).ok().map(|d| d * SECS_PER_DAY)
}

/// The half-open range `[first, end)` of the epochs whose start falls in month `month_index`,
/// for a genesis at `genesis_day` (days since 1970-01-01). `None` when the month ends on or
/// before genesis (it has no epoch) or `month_index + 1` overflows.
pub fn month_epochs(genesis_day: u64, month_index: u32) -> Option<(u64, u64)> {
    let start = month_start_day(month_index);
    let end = month_start_day(month_index.checked_add(1)?);
    let g = genesis_day as i64;
    if end <= g {
        return None;
    }
    let first = if start > g { (start - g) as u64 } else { 0 };
    Some((first, (end - g) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2025, 12, 1), 20_423); // 1764547200 / 86400
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(civil_from_days(20_423), (2025, 12, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29)); // leap day of a /400 year
        assert_eq!(civil_from_days(days_from_civil(2100, 3, 1) - 1), (2100, 2, 28));
        // no leap day
    }

    #[test]
    fn round_trip_over_many_years() {
        // Every day from 1900 to about 2300 survives the round trip and the months line up.
        let mut prev = civil_from_days(-25_568);
        for days in -25_567..120_000i64 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            if d == 1 {
                assert!(prev.2 >= 28);
                assert_eq!(month_start_day((y * 12 + i64::from(m) - 1) as u32), days);
            } else {
                assert_eq!((prev.0, prev.1, prev.2 + 1), (y, m, d));
            }
            prev = (y, m, d);
        }
    }

    #[test]
    fn month_index_and_start() {
        // 2025-12-31 23:59:59 UTC is 1767225599.
        assert_eq!(month_index_of_day(1_767_225_599 / SECS_PER_DAY), 2025 * 12 + 11);
        assert_eq!(month_index_of_day(1_767_225_600 / SECS_PER_DAY), 2026 * 12);
        assert_eq!(month_start_secs(24_311), Some(1_764_547_200));
        assert_eq!(month_start_secs(24_312), Some(1_767_225_600));
        assert_eq!(month_start_secs(1969 * 12 + 11), None);
        assert_eq!(month_start_secs(1970 * 12), Some(0));
    }

    #[test]
    fn epochs_of_a_month() {
        // Genesis 2025-12-15: December has epochs 0..17, January 17..48, February 2026 48..76.
        let g = days_from_civil(2025, 12, 15) as u64;
        assert_eq!(month_epochs(g, 24_311), Some((0, 17)));
        assert_eq!(month_epochs(g, 24_312), Some((17, 48)));
        assert_eq!(month_epochs(g, 24_313), Some((48, 76)));
        // November ends before genesis.
        assert_eq!(month_epochs(g, 24_310), None);
        // Genesis on the first of a month: the whole month.
        let g = days_from_civil(2024, 2, 1) as u64;
        assert_eq!(month_epochs(g, 2024 * 12 + 1), Some((0, 29))); // leap February
        assert_eq!(month_epochs(g, u32::MAX), None);
    }
}
