//! Publication-date parsing: ISO 8601 and RFC 3339 with or without an offset, RFC 2822, Unix
//! timestamps and the common English "May 24, 2016" forms. Values without an offset are read as
//! UTC and values without a time as midnight UTC.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// Dates outside these years are typos or placeholders ("0001-01-01", "9999-12-31").
const PLAUSIBLE_YEARS: std::ops::RangeInclusive<i32> = 1900..=2100;

/// Maximum length in characters of a date string; anything longer is prose, not a date.
const MAX_DATE_CHARS: usize = 64;

const OFFSET_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%dT%H:%M%z",
    "%Y-%m-%d %H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f %z",
    "%Y-%m-%d %H:%M%z",
    "%Y-%m-%d %H:%M %z",
    "%Y/%m/%d %H:%M:%S%.f %z",
    "%a, %d %b %Y %H:%M:%S %z",
    "%a %b %d %Y %H:%M:%S %z",
    "%a %b %d %Y %H:%M:%S GMT%z",
];

const NAIVE_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S%.f",
    "%Y/%m/%d %H:%M",
    "%Y%m%dT%H%M%S",
    "%b %d %Y %H:%M:%S",
    "%B %d %Y %H:%M:%S",
    "%b %d, %Y %H:%M:%S",
    "%B %d, %Y %H:%M:%S",
    "%B %d, %Y %I:%M %p",
    "%B %d, %Y, %I:%M %p",
    "%B %d, %Y at %I:%M %p",
    "%b %d, %Y %I:%M %p",
    "%b %d, %Y, %I:%M %p",
    "%d %B %Y %H:%M",
    "%d %b %Y %H:%M",
    "%d %B %Y %H:%M:%S",
    "%d %b %Y %H:%M:%S",
];

// NOTE: month and weekday names are read in English only, so "24 mai 2016" is not recognized.
const DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y%m%d",
    "%B %d, %Y",
    "%B %d %Y",
    "%b %d, %Y",
    "%b %d %Y",
    "%b. %d, %Y",
    "%d %B %Y",
    "%d %b %Y",
    "%d %B, %Y",
    "%d %b, %Y",
    "%B %Y",
];

/// US and European zone abbreviations that appear in bylines, with their UTC offsets in hours.
const ZONE_ABBREVIATIONS: &[(&str, i32)] = &[
    ("UTC", 0),
    ("GMT", 0),
    ("Z", 0),
    ("EST", -5),
    ("EDT", -4),
    ("CST", -6),
    ("CDT", -5),
    ("MST", -7),
    ("MDT", -6),
    ("PST", -8),
    ("PDT", -7),
    ("BST", 1),
    ("CET", 1),
    ("CEST", 2),
];

/// Parses a publication date in any supported form. Returns `None` for anything else and for
/// years outside 1900–2100.
pub(crate) fn parse_datetime(raw: &str) -> Option<DateTime<Utc>> {
    let value = strip_zone_comment(raw.trim());
    if value.is_empty() || value.chars().count() > MAX_DATE_CHARS {
        return None;
    }

    let parsed = parse_timestamp(value)
        .or_else(|| parse_rfc(value))
        .or_else(|| parse_with_offset(value))
        .or_else(|| parse_with_zone_abbreviation(value))
        .or_else(|| parse_naive(strip_weekday(value)));
    parsed.filter(|instant| is_plausible(instant.date_naive()))
}

/// Drops the zone name in brackets that JavaScript's `Date.toString()` appends:
/// "Mon Jan 07 2019 15:37:00 GMT-0500 (Eastern Standard Time)".
fn strip_zone_comment(value: &str) -> &str {
    match value.strip_suffix(')').and_then(|rest| rest.rfind(" (")) {
        Some(start) => value[..start].trim_end(),
        None => value,
    }
}

/// Reads a date from a URL path with year, month and day segments in a row, as in
/// `/2016/05/24/story` or `/2016-05-24/story`, and returns midnight UTC on that day.
pub(crate) fn date_from_url_path(path: &str) -> Option<DateTime<Utc>> {
    let segments: Vec<&str> = path
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    let from_triples = segments.windows(3).find_map(|window| {
        let is_shaped = window[0].len() == 4 && window[1].len() <= 2 && window[2].len() <= 2;
        let all_digits = window
            .iter()
            .all(|part| part.bytes().all(|byte| byte.is_ascii_digit()));
        if !(is_shaped && all_digits) {
            return None;
        }
        let [year, month, day] =
            [window[0], window[1], window[2]].map(|part| part.parse::<u32>().ok());
        NaiveDate::from_ymd_opt(i32::try_from(year?).ok()?, month?, day?)
    });
    let from_segment = || {
        segments.iter().find_map(|segment| {
            let prefix = segment.get(..10)?;
            NaiveDate::parse_from_str(prefix, "%Y-%m-%d").ok()
        })
    };
    from_triples
        .or_else(from_segment)
        .filter(|date| is_plausible(*date))
        .map(|date| date.and_time(NaiveTime::MIN).and_utc())
}

/// Unix timestamps in seconds (10 digits) or milliseconds (13 digits).
fn parse_timestamp(value: &str) -> Option<DateTime<Utc>> {
    if !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let number: i64 = value.parse().ok()?;
    match value.len() {
        10 => Utc.timestamp_opt(number, 0).single(),
        13 => Utc.timestamp_millis_opt(number).single(),
        _ => None,
    }
}

fn parse_rfc(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .or_else(|_| DateTime::parse_from_rfc2822(value))
        .ok()
        .map(|instant| instant.with_timezone(&Utc))
}

fn parse_with_offset(value: &str) -> Option<DateTime<Utc>> {
    // ISO 8601 allows lower-case separators ("2016-05-24t18:00z"), which chrono rejects.
    let value = if value.starts_with(|first: char| first.is_ascii_digit()) {
        value.to_ascii_uppercase()
    } else {
        value.to_owned()
    };
    if let Some(instant) = parse_rfc(&value) {
        return Some(instant);
    }
    OFFSET_FORMATS
        .iter()
        .filter_map(|format| DateTime::parse_from_str(&value, format).ok())
        .map(|instant| instant.with_timezone(&Utc))
        .find(|instant| is_plausible(instant.date_naive()))
}

/// Handles a trailing zone name: "2016-05-24 18:00 EDT", "May 24, 2016 2:00 PM PDT".
fn parse_with_zone_abbreviation(value: &str) -> Option<DateTime<Utc>> {
    let (rest, zone) = value.rsplit_once(' ')?;
    let hours = ZONE_ABBREVIATIONS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(zone))
        .map(|(_, hours)| *hours)?;
    let offset = FixedOffset::east_opt(hours * 3600)?;
    let naive = parse_naive_local(strip_weekday(rest.trim_end_matches(',')))?;
    offset
        .from_local_datetime(&naive)
        .single()
        .map(|instant| instant.with_timezone(&Utc))
}

fn parse_naive(value: &str) -> Option<DateTime<Utc>> {
    parse_naive_local(value).map(|naive| naive.and_utc())
}

fn parse_naive_local(value: &str) -> Option<NaiveDateTime> {
    let datetime = NAIVE_FORMATS
        .iter()
        .filter_map(|format| NaiveDateTime::parse_from_str(value, format).ok())
        .find(|datetime| is_plausible(datetime.date()));
    datetime.or_else(|| parse_date_only(value).map(|date| date.and_time(NaiveTime::MIN)))
}

fn parse_date_only(value: &str) -> Option<NaiveDate> {
    DATE_FORMATS
        .iter()
        .filter_map(|format| {
            let parsed = NaiveDate::parse_from_str(value, format);
            // "%B %Y" has no day, which chrono rejects; read it as the first of the month.
            parsed
                .or_else(|_| {
                    NaiveDate::parse_from_str(&format!("1 {value}"), &format!("%d {format}"))
                })
                .ok()
        })
        .find(|date| is_plausible(*date))
}

/// Checked per format, because chrono matches a format's space with no space at all, so
/// "January 2020" also parses as "%B %d %Y" with day 20 of the year 20.
fn is_plausible(date: NaiveDate) -> bool {
    PLAUSIBLE_YEARS.contains(&date.year())
}

/// Drops a leading weekday name ("Tuesday, May 24, 2016" or "Tue 24 May 2016").
fn strip_weekday(value: &str) -> &str {
    let Some((first, rest)) = value.split_once([',', ' ']) else {
        return value;
    };
    let first = first.trim_end_matches('.').to_ascii_lowercase();
    let is_weekday = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .any(|day| first.starts_with(day) && first.len() <= 9);
    if is_weekday {
        rest.trim_start_matches([',', ' '])
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(raw: &str) -> Option<String> {
        parse_datetime(raw).map(|instant| instant.to_rfc3339())
    }

    #[test]
    fn rfc3339_with_offsets() {
        assert_eq!(
            iso("2016-05-24T18:00:03.899Z").as_deref(),
            Some("2016-05-24T18:00:03.899+00:00")
        );
        assert_eq!(
            iso("2016-05-24T14:00:00-04:00").as_deref(),
            Some("2016-05-24T18:00:00+00:00")
        );
        assert_eq!(
            iso("2016-05-24t18:00:00z").as_deref(),
            Some("2016-05-24T18:00:00+00:00")
        );
    }

    #[test]
    fn iso_offset_without_colon() {
        assert_eq!(
            iso("2016-05-24T14:00:00-0400").as_deref(),
            Some("2016-05-24T18:00:00+00:00")
        );
        assert_eq!(
            iso("2016-05-24T14:00:00.5+0200").as_deref(),
            Some("2016-05-24T12:00:00.500+00:00")
        );
        assert_eq!(
            iso("2016-05-24 14:00:00 +0000").as_deref(),
            Some("2016-05-24T14:00:00+00:00")
        );
        assert_eq!(
            iso("2016-05-24T14:00+01:00").as_deref(),
            Some("2016-05-24T13:00:00+00:00")
        );
    }

    #[test]
    fn naive_values_are_utc() {
        assert_eq!(
            iso("2016-05-24T14:00:00").as_deref(),
            Some("2016-05-24T14:00:00+00:00")
        );
        assert_eq!(
            iso("2016-05-24 14:00").as_deref(),
            Some("2016-05-24T14:00:00+00:00")
        );
        assert_eq!(
            iso("2016-05-24").as_deref(),
            Some("2016-05-24T00:00:00+00:00")
        );
        assert_eq!(
            iso("2016/05/24").as_deref(),
            Some("2016-05-24T00:00:00+00:00")
        );
        assert_eq!(
            iso("20160524").as_deref(),
            Some("2016-05-24T00:00:00+00:00")
        );
    }

    #[test]
    fn rfc2822_and_zone_names() {
        assert_eq!(
            iso("Tue, 24 May 2016 18:00:00 GMT").as_deref(),
            Some("2016-05-24T18:00:00+00:00")
        );
        assert_eq!(
            iso("2016-05-24 14:00 EDT").as_deref(),
            Some("2016-05-24T18:00:00+00:00")
        );
        assert_eq!(
            iso("May 24, 2016 2:00 PM PDT").as_deref(),
            Some("2016-05-24T21:00:00+00:00")
        );
    }

    #[test]
    fn english_month_names() {
        assert_eq!(
            iso("May 24, 2016").as_deref(),
            Some("2016-05-24T00:00:00+00:00")
        );
        assert_eq!(
            iso("Tuesday, May 24, 2016").as_deref(),
            Some("2016-05-24T00:00:00+00:00")
        );
        assert_eq!(
            iso("24 May 2016").as_deref(),
            Some("2016-05-24T00:00:00+00:00")
        );
        assert_eq!(
            iso("Sep 4, 2016").as_deref(),
            Some("2016-09-04T00:00:00+00:00")
        );
        assert_eq!(
            iso("January 2020").as_deref(),
            Some("2020-01-01T00:00:00+00:00")
        );
        assert_eq!(
            iso("May 24, 2016 2:05 pm").as_deref(),
            Some("2016-05-24T14:05:00+00:00")
        );
    }

    #[test]
    fn javascript_date_strings() {
        assert_eq!(
            iso("Mon Jan 07 2019 15:37:00 GMT-0500 (Eastern Standard Time)").as_deref(),
            Some("2019-01-07T20:37:00+00:00")
        );
        assert_eq!(
            iso("Mon, Jan 7 2019 15:37:00 EST").as_deref(),
            Some("2019-01-07T20:37:00+00:00")
        );
    }

    #[test]
    fn dates_in_url_paths() {
        let date =
            |path: &str| date_from_url_path(path).map(|instant| instant.date_naive().to_string());
        assert_eq!(
            date("/blog/2016/05/16/story/").as_deref(),
            Some("2016-05-16")
        );
        assert_eq!(date("/2016/5/6/story").as_deref(), Some("2016-05-06"));
        assert_eq!(
            date("/news/2016-05-16-story").as_deref(),
            Some("2016-05-16")
        );
        assert_eq!(date("/2016/05/story").as_deref(), None);
        assert_eq!(date("/2016/13/40/story").as_deref(), None);
        assert_eq!(date("/1234/12/12/").as_deref(), None);
        assert_eq!(date("/items/12345/67/89").as_deref(), None);
    }

    #[test]
    fn unix_timestamps() {
        assert_eq!(
            iso("1464112800").as_deref(),
            Some("2016-05-24T18:00:00+00:00")
        );
        assert_eq!(
            iso("1464112800123").as_deref(),
            Some("2016-05-24T18:00:00.123+00:00")
        );
        assert_eq!(iso("12345").as_deref(), None);
    }

    #[test]
    fn implausible_and_garbage_values() {
        assert_eq!(iso("0001-01-01T00:00:00Z"), None);
        assert_eq!(iso("9999-12-31"), None);
        assert_eq!(iso("yesterday"), None);
        assert_eq!(iso(""), None);
        assert_eq!(iso("2016-13-45"), None);
        assert_eq!(iso(&"2016-05-24 ".repeat(20)), None);
    }
}
