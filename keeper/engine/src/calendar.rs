//! UTC calendar maths: days, months and month indexes (SPEC sections 1 and 7), the keeper's one
//! copy. `month_index = year*12 + (month-1)`, so month 24312 is 2026-01.
//!
//! The conversions are Howard Hinnant's `days_from_civil` / `civil_from_days` (proleptic
//! Gregorian calendar). The reward pool contract keeps its own `no_std`, overflow-checked copy
//! (`contracts/reward_pool/calendar.rs`); both are tested against the same vectors
//! (`docs/vectors/calendar.json`).

use std::fmt;

/// Seconds in a day, and so in an epoch.
pub const DAY: i64 = 86_400;

/// Days from 0000-03-01 to 1970-01-01.
const DAYS_0000_03_01_TO_1970: i64 = 719_468;

/// Days in a 400-year era.
const DAYS_PER_ERA: i64 = 146_097;

/// Days since 1970-01-01 of the proleptic Gregorian date `y-m-d` (negative before 1970).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let (m, d) = (i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * DAYS_PER_ERA + doe - DAYS_0000_03_01_TO_1970
}

/// `(year, month, day)` of a day count since 1970-01-01 (negative before 1970).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + DAYS_0000_03_01_TO_1970;
    let era = z.div_euclid(DAYS_PER_ERA);
    let doe = z.rem_euclid(DAYS_PER_ERA);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both in range by construction: day 1..=31, month 1..=12.
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The month index of the UTC month containing `unix_s`.
pub fn month_index_of(unix_s: i64) -> u32 {
    let (y, m, _) = civil_from_days(unix_s.div_euclid(DAY));
    (y * 12 + i64::from(m) - 1) as u32
}

/// Unix seconds of 00:00:00 UTC on the first day of month `month_index`.
pub fn month_start(month_index: u32) -> i64 {
    days_from_civil(i64::from(month_index / 12), month_index % 12 + 1, 1) * DAY
}

/// A month index written `YYYY-MM`; `Display` writes it, `FromStr` reads `YYYY-MM` or the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(pub u32);

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.0 / 12, self.0 % 12 + 1)
    }
}

/// Why a string is not a month.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a month (YYYY-MM such as 2026-01, or a month index such as 24312)")]
pub struct MonthError(pub String);

impl std::str::FromStr for Month {
    type Err = MonthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || MonthError(s.to_string());
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        match s.split_once('-') {
            Some((y, m)) if y.len() == 4 && m.len() == 2 && digits(y) && digits(m) => {
                let (y, m): (u32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
                if !(1..=12).contains(&m) {
                    return Err(bad());
                }
                Ok(Month(y * 12 + m - 1))
            }
            None if digits(s) => s.parse().map(Month).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

/// `YYYY-MM` of a month index.
pub fn month_name(month_index: u32) -> String {
    Month(month_index).to_string()
}

/// `YYYY-MM-DD` of the UTC day containing `unix_s`.
pub fn date(unix_s: i64) -> String {
    let (y, m, d) = civil_from_days(unix_s.div_euclid(DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD hh:mm:ss UTC` of `unix_s`.
pub fn utc(unix_s: i64) -> String {
    let secs = unix_s.rem_euclid(DAY);
    format!(
        "{} {:02}:{:02}:{:02} UTC",
        date(unix_s),
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors the contract's calendar is tested against too.
    #[derive(serde::Deserialize)]
    struct Vectors {
        days: Vec<(i64, i64, u32, u32)>,
        months: Vec<(i64, u32)>,
        month_starts: Vec<(u32, i64)>,
    }

    fn vectors() -> Vectors {
        serde_json::from_str(include_str!("../../../docs/vectors/calendar.json")).unwrap()
    }

    #[test]
    fn shared_vectors() {
        let v = vectors();
        assert!(v.days.len() > 10 && v.months.len() > 5 && v.month_starts.len() > 5);
        for (days, y, m, d) in v.days {
            assert_eq!(civil_from_days(days), (y, m, d), "civil_from_days({days})");
            assert_eq!(days_from_civil(y, m, d), days, "days_from_civil({y}-{m}-{d})");
        }
        for (unix_s, month) in v.months {
            assert_eq!(month_index_of(unix_s), month, "month_index_of({unix_s})");
        }
        for (month, start) in v.month_starts {
            assert_eq!(month_start(month), start, "month_start({month})");
            assert_eq!(month_index_of(start), month);
            assert_eq!(month_index_of(start - 1), month - 1);
        }
    }

    #[test]
    fn round_trip_every_day_of_four_centuries() {
        for days in -146_097..3 * 146_097 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn months_by_name_and_index() {
        assert_eq!(month_name(24_312), "2026-01");
        assert_eq!("2026-01".parse::<Month>(), Ok(Month(24_312)));
        assert_eq!("2026-12".parse::<Month>(), Ok(Month(24_323)));
        assert_eq!("24312".parse::<Month>(), Ok(Month(24_312)));
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-01",
            "+5",
            "2026-01-01",
            "",
            "x",
            "99999999999",
        ] {
            assert!(bad.parse::<Month>().is_err(), "{bad}");
        }
        assert_eq!(utc(1_769_644_800 + 3_723), "2026-01-29 01:02:03 UTC");
        assert_eq!(date(-1), "1969-12-31");
    }
}
