//! RFC 3339 timestamps to unix seconds.

/// Why a string is not an RFC 3339 date-time; each names the string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error("{0:?} is not an RFC 3339 date-time such as \"2026-01-01T12:00:00Z\"")]
    Syntax(String),
    #[error("{0:?}: offset out of range")]
    Offset(String),
    #[error("{0:?}: no such date")]
    Date(String),
    #[error("{0:?}: time of day out of range (leap seconds are not supported)")]
    TimeOfDay(String),
}

/// Parses an RFC 3339 date-time (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`; `t`, `z` and a
/// space separator accepted) into unix seconds, converting the offset to UTC. A fraction of a
/// second is dropped (floored: timestamps have one-second resolution). Leap seconds (`:60`) are
/// rejected: unix time cannot represent them.
pub fn parse_rfc3339(s: &str) -> Result<i64, TimestampError> {
    let b = s.as_bytes();
    let bad = || TimestampError::Syntax(s.to_string());
    if b.len() < 20 {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, TimestampError> {
        let part = &b[r];
        if part.iter().all(u8::is_ascii_digit) {
            Ok(part.iter().fold(0i64, |a, &d| a * 10 + i64::from(d - b'0')))
        } else {
            Err(bad())
        }
    };
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':'
    {
        return Err(bad());
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(bad());
        }
    }
    let offset = match &b[i..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return Err(bad());
            }
            let (oh, om) = (
                i64::from((h1 - b'0') * 10 + (h2 - b'0')),
                i64::from((m1 - b'0') * 10 + (m2 - b'0')),
            );
            if oh > 23 || om > 59 {
                return Err(TimestampError::Offset(s.to_string()));
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return Err(bad()),
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(TimestampError::Date(s.to_string()));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(TimestampError::TimeOfDay(s.to_string()));
    }
    Ok(
        flex_engine::calendar::days_from_civil(year, month as u32, day as u32) * 86_400
            + hour * 3600
            + minute * 60
            + second
            - offset,
    )
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00Z"), Ok(1_767_225_600));
        assert_eq!(parse_rfc3339("2026-01-01T01:30:00+01:30"), Ok(1_767_225_600));
        assert_eq!(parse_rfc3339("2025-12-31T19:00:00-05:00"), Ok(1_767_225_600));
        assert_eq!(parse_rfc3339("2026-01-01t00:00:00.999z"), Ok(1_767_225_600));
        assert_eq!(parse_rfc3339("2026-01-01 00:00:01.5Z"), Ok(1_767_225_601));
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Ok(1_709_164_800));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.9Z"), Ok(-1));
        assert_eq!(parse_rfc3339("2000-03-01T00:00:00Z"), Ok(951_868_800));
    }

    #[test]
    fn rejects() {
        for s in [
            "",
            "2026-01-01",
            "2026-01-01T00:00:00",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T23:59:60Z",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00+0100",
            "2026-01-01T00:00:00+24:00",
            "2026-01-01T00:00:00Zjunk",
            "+026-01-01T00:00:00Z",
            "2026-01-01T00:00:00é",
        ] {
            assert!(parse_rfc3339(s).is_err(), "{s:?}");
        }
    }
}
