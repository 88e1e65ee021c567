//! Reading click statistics of one link: a time series plus the day-level dimensions and unique
//! visitors.

use super::{DAY_SECS, HOUR_SECS, LiveCounters};
use crate::db::DbError;
use crate::db::clicks::{self, HourCounts};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::DatabaseConnection;
use serde::Serialize;

/// The most points a series may have, so one request cannot ask for years of hours.
pub const MAX_POINTS: i64 = 1_000;
/// Entries returned for each dimension.
pub const TOP_VALUES: u64 = 10;
/// The range used when the request gives none.
pub const DEFAULT_DAYS: i64 = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Hour,
    Day,
}

impl Interval {
    pub fn parse(value: &str) -> Result<Self, StatsError> {
        match value {
            "hour" => Ok(Self::Hour),
            "day" => Ok(Self::Day),
            _ => Err(StatsError::InvalidInterval {
                value: value.to_owned(),
            }),
        }
    }

    fn seconds(self) -> i64 {
        match self {
            Self::Hour => HOUR_SECS,
            Self::Day => DAY_SECS,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("interval '{value}' is invalid; use hour or day")]
    InvalidInterval { value: String },
    #[error("{field} '{value}' is not a date (2030-01-31) or an RFC 3339 timestamp")]
    InvalidTime { field: &'static str, value: String },
    #[error("from {from} is not before to {to}")]
    EmptyRange { from: String, to: String },
    #[error("the range has {points} points at this interval; the maximum is {MAX_POINTS}")]
    RangeTooLong { points: i64 },
    #[error(transparent)]
    Database(#[from] DbError),
}

impl StatsError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidInterval { .. } => "invalid_interval",
            Self::InvalidTime { .. } => "invalid_time",
            Self::EmptyRange { .. } => "invalid_range",
            Self::RangeTooLong { .. } => "range_too_long",
            Self::Database(_) => "backend_unavailable",
        }
    }

    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::InvalidInterval { .. } => Some("interval"),
            Self::InvalidTime { field, .. } => Some(field),
            Self::EmptyRange { .. } | Self::RangeTooLong { .. } => Some("from"),
            Self::Database(_) => None,
        }
    }
}

/// A validated request: `from` and `to` aligned to the interval, `from < to`.
#[derive(Debug, Clone, Copy)]
pub struct StatsRange {
    pub from: i64,
    pub to: i64,
    pub interval: Interval,
}

impl StatsRange {
    /// Parses the query values. `to` defaults to now and `from` to seven days before it; both
    /// are rounded outwards to whole intervals.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        interval: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self, StatsError> {
        let interval = interval
            .map(Interval::parse)
            .transpose()?
            .unwrap_or(Interval::Day);
        let step = interval.seconds();
        let to = match to {
            Some(value) => parse_time("to", value)?,
            None => now.timestamp(),
        };
        let from = match from {
            Some(value) => parse_time("from", value)?,
            None => to - DEFAULT_DAYS * DAY_SECS,
        };
        if from >= to {
            return Err(StatsError::EmptyRange {
                from: format_time(from),
                to: format_time(to),
            });
        }
        let from = from.div_euclid(step) * step;
        let to = (to + step - 1).div_euclid(step) * step;
        let points = (to - from) / step;
        if points > MAX_POINTS {
            return Err(StatsError::RangeTooLong { points });
        }
        Ok(Self { from, to, interval })
    }

    /// The day starts that overlap the range; dimensions and unique visitors are kept per day.
    pub fn days(&self) -> Vec<i64> {
        let first = self.from.div_euclid(DAY_SECS) * DAY_SECS;
        (first..self.to).step_by(DAY_SECS as usize).collect()
    }
}

fn parse_time(field: &'static str, value: &str) -> Result<i64, StatsError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Ok(at.timestamp());
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc().timestamp())
        .ok_or_else(|| StatsError::InvalidTime {
            field,
            value: value.to_owned(),
        })
}

fn format_time(seconds: i64) -> String {
    DateTime::from_timestamp(seconds, 0)
        .map(|at| at.to_rfc3339())
        .unwrap_or_else(|| seconds.to_string())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Point {
    pub start: String,
    pub total: i64,
    pub humans: i64,
    pub bots: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ValueCount {
    /// `None` means unknown.
    pub value: Option<String>,
    pub count: i64,
}

/// The statistics of one link over a range.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LinkStats {
    pub from: String,
    pub to: String,
    pub interval: &'static str,
    pub total: i64,
    pub humans: i64,
    pub bots: i64,
    /// Estimated distinct human visitors; `None` when the live counters are unavailable.
    pub unique: Option<u64>,
    pub series: Vec<Point>,
    pub referrers: Vec<ValueCount>,
    pub countries: Vec<ValueCount>,
    pub browsers: Vec<ValueCount>,
    pub os: Vec<ValueCount>,
    pub devices: Vec<ValueCount>,
}

/// Reads the statistics of `link_id` over `range`.
pub async fn link_stats(
    db: &DatabaseConnection,
    live: &dyn LiveCounters,
    link_id: i64,
    range: StatsRange,
) -> Result<LinkStats, StatsError> {
    let hours = clicks::hours(db, link_id, range.from, range.to).await?;
    let series = dense_series(&hours, range);
    let total = series.iter().map(|point| point.total).sum();
    let humans = series.iter().map(|point| point.humans).sum();
    let bots = series.iter().map(|point| point.bots).sum();

    let days = range.days();
    let day_from = days.first().copied().unwrap_or(range.from);
    let day_to = range.to.div_euclid(DAY_SECS) * DAY_SECS + DAY_SECS;
    let dimension = |kind: &'static str| top_values(db, link_id, kind, day_from, day_to);
    let unique = match live.unique_visitors(link_id, &days).await {
        Ok(count) => Some(count),
        Err(error) => {
            tracing::warn!(backend = live.name(), %error, "unique visitors unavailable");
            None
        }
    };

    Ok(LinkStats {
        from: format_time(range.from),
        to: format_time(range.to),
        interval: match range.interval {
            Interval::Hour => "hour",
            Interval::Day => "day",
        },
        total,
        humans,
        bots,
        unique,
        series,
        referrers: dimension("referrer").await?,
        countries: dimension("country").await?,
        browsers: dimension("browser").await?,
        os: dimension("os").await?,
        devices: dimension("device").await?,
    })
}

async fn top_values(
    db: &DatabaseConnection,
    link_id: i64,
    kind: &'static str,
    from: i64,
    to: i64,
) -> Result<Vec<ValueCount>, StatsError> {
    let values = clicks::top_values(db, link_id, kind, from, to, TOP_VALUES).await?;
    Ok(values
        .into_iter()
        .map(|(value, count)| ValueCount {
            value: (!value.is_empty()).then_some(value),
            count,
        })
        .collect())
}

/// One point per interval of the range, zeros where nothing was counted.
fn dense_series(hours: &[(i64, HourCounts)], range: StatsRange) -> Vec<Point> {
    let step = range.interval.seconds();
    let mut buckets: Vec<HourCounts> =
        vec![HourCounts::default(); ((range.to - range.from) / step) as usize];
    for (hour, counts) in hours {
        let index = ((hour - range.from) / step) as usize;
        if let Some(bucket) = buckets.get_mut(index) {
            bucket.total += counts.total;
            bucket.humans += counts.humans;
            bucket.bots += counts.bots;
        }
    }
    buckets
        .into_iter()
        .enumerate()
        .map(|(index, counts)| Point {
            start: format_time(range.from + index as i64 * step),
            total: counts.total,
            humans: counts.humans,
            bots: counts.bots,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-04T15:30:00Z")
            .expect("timestamp")
            .with_timezone(&Utc)
    }

    #[test]
    fn default_range_is_seven_whole_days() {
        let range = StatsRange::parse(None, None, None, now()).expect("valid");
        assert_eq!(range.interval, Interval::Day);
        assert_eq!(range.to - range.from, 8 * DAY_SECS);
        assert_eq!(range.from % DAY_SECS, 0);
        assert_eq!(range.days().len(), 8);
    }

    #[test]
    fn hour_ranges_align_and_are_bounded() {
        let range = StatsRange::parse(
            Some("2026-12-04T10:15:00Z"),
            Some("2026-12-04T12:05:00Z"),
            Some("hour"),
            now(),
        )
        .expect("valid");
        assert_eq!((range.to - range.from) / HOUR_SECS, 3);
        let error =
            StatsRange::parse(Some("2026-01-01"), None, Some("hour"), now()).expect_err("too long");
        assert_eq!(error.code(), "range_too_long");
    }

    #[test]
    fn bad_values_have_their_own_codes() {
        let cases = [
            (Some("yesterday"), None, None, "invalid_time"),
            (None, Some("2026-13-01"), None, "invalid_time"),
            (None, None, Some("week"), "invalid_interval"),
            (
                Some("2026-12-05"),
                Some("2026-12-01"),
                None,
                "invalid_range",
            ),
        ];
        for (from, to, interval, code) in cases {
            let error = StatsRange::parse(from, to, interval, now()).expect_err(code);
            assert_eq!(error.code(), code);
        }
    }

    #[test]
    fn series_is_dense() {
        let range = StatsRange::parse(
            Some("2026-12-04T00:00:00Z"),
            Some("2026-12-04T04:00:00Z"),
            Some("hour"),
            now(),
        )
        .expect("valid");
        let counts = HourCounts {
            total: 3,
            humans: 2,
            bots: 1,
        };
        let series = dense_series(&[(range.from + 2 * HOUR_SECS, counts)], range);
        let totals: Vec<i64> = series.iter().map(|point| point.total).collect();
        assert_eq!(totals, [0, 0, 3, 0]);
        assert_eq!(series[2].start, "2026-12-04T02:00:00+00:00");
    }
}
