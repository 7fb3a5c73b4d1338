//! Calendar arithmetic for date parts: days since 1970-01-01 to a civil
//! (proleptic Gregorian) date, weekday and day of year; timestamps to days and
//! seconds of the day, in UTC or a fixed offset.

use serde::{Deserialize, Serialize};

/// A part of a date or timestamp, as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatePart {
    /// The year, e.g. 2024.
    Year,
    /// 1..=12.
    Month,
    /// Day of the month, 1..=31.
    Day,
    /// Monday = 0 .. Sunday = 6.
    Weekday,
    /// 1..=366.
    #[serde(rename = "dayofyear")]
    DayOfYear,
    /// 0..=23 (0 for dates).
    Hour,
    /// 0..=59 (0 for dates).
    Minute,
    /// 0..=59 (0 for dates).
    Second,
    /// Days since 1970-01-01, with the time of day as a fraction.
    Days,
}

impl DatePart {
    /// The part for a function name in an expression.
    pub fn from_name(name: &str) -> Option<DatePart> {
        Some(match name {
            "year" => DatePart::Year,
            "month" => DatePart::Month,
            "day" => DatePart::Day,
            "weekday" => DatePart::Weekday,
            "dayofyear" => DatePart::DayOfYear,
            "hour" => DatePart::Hour,
            "minute" => DatePart::Minute,
            "second" => DatePart::Second,
            "days" => DatePart::Days,
            _ => return None,
        })
    }

    /// The name used in expressions and in the names of expanded features.
    pub fn name(self) -> &'static str {
        match self {
            DatePart::Year => "year",
            DatePart::Month => "month",
            DatePart::Day => "day",
            DatePart::Weekday => "weekday",
            DatePart::DayOfYear => "dayofyear",
            DatePart::Hour => "hour",
            DatePart::Minute => "minute",
            DatePart::Second => "second",
            DatePart::Days => "days",
        }
    }
}

/// (year, month 1..=12, day 1..=31) of a day counted from 1970-01-01.
///
/// The era-based method: shift the epoch to 0000-03-01 so that leap days end
/// each 400-year era's years, then split into era, year of era and day of year.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year, 0..=365
    let mp = (5 * doy + 2) / 153; // March = 0
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Day of the year, 1..=366.
pub fn day_of_year(year: i64, month: u32, day: u32) -> u32 {
    const BEFORE: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let leap = u32::from(month > 2 && is_leap(year));
    BEFORE[(month.clamp(1, 12) - 1) as usize] + day + leap
}

/// Monday = 0 .. Sunday = 6 (1970-01-01 was a Thursday).
pub fn weekday(days: i64) -> u32 {
    (days + 3).rem_euclid(7) as u32
}

/// A part of the instant `days` (since 1970-01-01) plus `secs` (0..86400) into that day.
pub fn part(days: i64, secs: i64, part: DatePart) -> f64 {
    match part {
        DatePart::Year => civil_from_days(days).0 as f64,
        DatePart::Month => f64::from(civil_from_days(days).1),
        DatePart::Day => f64::from(civil_from_days(days).2),
        DatePart::Weekday => f64::from(weekday(days)),
        DatePart::DayOfYear => {
            let (y, m, d) = civil_from_days(days);
            f64::from(day_of_year(y, m, d))
        }
        DatePart::Hour => (secs / 3600) as f64,
        DatePart::Minute => (secs / 60 % 60) as f64,
        DatePart::Second => (secs % 60) as f64,
        DatePart::Days => days as f64 + secs as f64 / 86_400.0,
    }
}

/// Splits a timestamp in `per_second` units since the epoch, shifted by
/// `offset` seconds, into days and seconds of that day.
pub fn split_timestamp(value: i64, per_second: i64, offset: i64) -> (i64, i64) {
    // Sub-second precision plays no part in any date part.
    let secs = value.div_euclid(per_second).saturating_add(offset);
    (secs.div_euclid(86_400), secs.rem_euclid(86_400))
}

/// The offset in seconds of an Arrow timezone string: UTC names or a fixed
/// offset (`+05:30`, `-0800`, `+02`). Named zones (`Europe/Paris`) are not
/// supported (no timezone database here): `None`.
pub fn parse_offset(tz: &str) -> Option<i64> {
    let t = tz.trim();
    if matches!(
        t,
        "UTC" | "utc" | "Z" | "z" | "GMT" | "Etc/UTC" | "Etc/GMT" | "+00:00" | "-00:00"
    ) {
        return Some(0);
    }
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || !(digits.len() == 2 || digits.len() == 4) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Days since 1970-01-01 by counting whole years and months (slow, obviously right).
    fn days_by_counting(year: i64, month: u32, day: u32) -> i64 {
        let mut days = 0i64;
        if year >= 1970 {
            for y in 1970..year {
                days += if is_leap(y) { 366 } else { 365 };
            }
        } else {
            for y in year..1970 {
                days -= if is_leap(y) { 366 } else { 365 };
            }
        }
        days + i64::from(day_of_year(year, month, day)) - 1
    }

    #[test]
    fn civil_dates_of_known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(day_of_year(2024, 12, 31), 366);
        assert_eq!(day_of_year(2023, 12, 31), 365);
        assert_eq!(day_of_year(2000, 3, 1), 61);
        assert_eq!(day_of_year(1900, 3, 1), 60);
        // 2024-01-01 was a Monday, 1970-01-01 a Thursday.
        assert_eq!(weekday(19_723), 0);
        assert_eq!(weekday(0), 3);
        assert_eq!(weekday(-1), 2);
        for (y, m, d) in [
            (1600, 2, 29),
            (1899, 12, 31),
            (1969, 3, 1),
            (2100, 3, 1),
            (2400, 12, 31),
        ] {
            assert_eq!(civil_from_days(days_by_counting(y, m, d)), (y, m, d));
        }
    }

    #[test]
    fn every_day_for_centuries_round_trips() {
        let mut prev = civil_from_days(-80_000);
        for z in -79_999..80_000 {
            let c = civil_from_days(z);
            let next_ok = (c.0 == prev.0 && c.1 == prev.1 && c.2 == prev.2 + 1)
                || (c.0 == prev.0 && c.1 == prev.1 + 1 && c.2 == 1)
                || (c.0 == prev.0 + 1 && c.1 == 1 && c.2 == 1 && prev.1 == 12);
            assert!(next_ok, "{prev:?} -> {c:?}");
            prev = c;
        }
    }

    #[test]
    fn timestamps_split_into_days_and_seconds() {
        // 2024-03-10T13:45:30Z in milliseconds.
        let ms = (19_792 * 86_400 + 13 * 3600 + 45 * 60 + 30) * 1000 + 250;
        let (days, secs) = split_timestamp(ms, 1000, 0);
        assert_eq!((days, secs), (19_792, 49_530));
        assert_eq!(part(days, secs, DatePart::Hour), 13.0);
        assert_eq!(part(days, secs, DatePart::Minute), 45.0);
        assert_eq!(part(days, secs, DatePart::Second), 30.0);
        assert_eq!(part(days, secs, DatePart::Month), 3.0);
        assert_eq!(part(days, secs, DatePart::Day), 10.0);
        assert_eq!(part(days, secs, DatePart::DayOfYear), 70.0);
        assert_eq!(part(days, 43_200, DatePart::Days), 19_792.5);
        // Shifted to +11:00 it is the next day, 00:45:30.
        let (d2, s2) = split_timestamp(ms, 1000, 11 * 3600);
        assert_eq!((d2, s2), (19_793, 2730));
        // Before the epoch: one second before midnight of 1970-01-01.
        assert_eq!(split_timestamp(-1_000_000_000, 1_000_000_000, 0), (-1, 86_399));
        assert_eq!(split_timestamp(-1, 1_000_000_000, 0), (-1, 86_399));
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("UTC"), Some(0));
        assert_eq!(parse_offset("+05:30"), Some(19_800));
        assert_eq!(parse_offset("-0800"), Some(-28_800));
        assert_eq!(parse_offset("+02"), Some(7200));
        assert_eq!(parse_offset("Europe/Paris"), None);
        assert_eq!(parse_offset("+25:00"), None);
        assert_eq!(parse_offset("+5"), None);
        assert_eq!(parse_offset(""), None);
        assert_eq!(DatePart::from_name("dayofyear"), Some(DatePart::DayOfYear));
        assert_eq!(DatePart::from_name("quarter"), None);
    }
}
