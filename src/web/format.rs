//! Formatting of sizes, counts and times for people.

use chrono::{DateTime, SecondsFormat, Utc};
use maud::{Markup, html};

/// Formats `12345` as `12,345`.
pub fn format_count(count: u64) -> String {
    let digits = count.to_string();
    let mut formatted = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            formatted.push(',');
        }
        formatted.push(digit);
    }
    formatted
}

/// Formats a size in bytes as people read it: `512 bytes`, `1.5 KiB`, `10.0 MiB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return match bytes {
            1 => "1 byte".to_owned(),
            _ => format!("{bytes} bytes"),
        };
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = UNITS[0];
    for next_unit in &UNITS[1..] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next_unit;
    }
    format!("{value:.1} {unit}")
}

/// Formats `count` followed by the singular or plural noun: `1 line`, `2 lines`.
pub fn format_quantity(count: u64, singular: &str, plural: &str) -> String {
    let noun = if count == 1 { singular } else { plural };
    format!("{} {noun}", format_count(count))
}

/// Renders a `<time>` element: the machine-readable instant, and `2024-05-01 14:30 UTC` for
/// people.
pub fn time_element(instant: &DateTime<Utc>) -> Markup {
    html! {
        time datetime=(instant.to_rfc3339_opts(SecondsFormat::Secs, true)) {
            (instant.format("%Y-%m-%d %H:%M UTC"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn counts_get_separators() {
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1_000), "1,000");
        assert_eq!(format_count(12_345_678), "12,345,678");
    }

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(format_size(1), "1 byte");
        assert_eq!(format_size(1023), "1023 bytes");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(10 * 1024 * 1024), "10.0 MiB");
        assert_eq!(format_size(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }

    #[test]
    fn quantities_pick_plural() {
        assert_eq!(format_quantity(1, "line", "lines"), "1 line");
        assert_eq!(format_quantity(1200, "line", "lines"), "1,200 lines");
    }

    #[test]
    fn time_element_is_machine_readable() {
        let instant = Utc
            .with_ymd_and_hms(2024, 5, 1, 14, 30, 9)
            .single()
            .expect("valid");
        let markup = time_element(&instant).into_string();
        assert_eq!(
            markup,
            "<time datetime=\"2024-05-01T14:30:09Z\">2024-05-01 14:30 UTC</time>"
        );
    }
}
