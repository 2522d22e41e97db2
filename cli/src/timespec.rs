//! `--since` / `--until` values: a duration ago (`6h`) or a point in time (`2026-11-20T03:00`).

use chrono::{DateTime, Duration, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Reads a time spec relative to `now`. Times without a zone are UTC, or local time with `local`.
pub fn parse(spec: &str, now: DateTime<Utc>, local: bool) -> Result<DateTime<Utc>, String> {
    let spec = spec.trim();
    if let Some(ago) = parse_duration(spec) {
        return Ok(now - ago);
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(spec) {
        return Ok(time.with_timezone(&Utc));
    }
    let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(spec, format).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(spec, "%Y-%m-%d")
                .ok()
                .and_then(|date| date.and_hms_opt(0, 0, 0))
        })
        .ok_or_else(|| {
            format!("{spec:?} is neither a duration (90s, 30m, 6h, 2d, 1w) nor a time (2026-11-20T03:00, 2026-11-20T03:00:00Z, 2026-11-20)")
        })?;
    if local {
        Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|time| time.with_timezone(&Utc))
            .ok_or_else(|| format!("{spec:?} does not exist in the local time zone"))
    } else {
        Ok(Utc.from_utc_datetime(&naive))
    }
}

/// `90s`, `30m`, `6h`, `2d`, `1w` (also `1h30m`).
fn parse_duration(spec: &str) -> Option<Duration> {
    let mut total = Duration::zero();
    let mut digits = String::new();
    let mut any = false;
    for c in spec.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let amount: i64 = digits.parse().ok()?;
        digits.clear();
        let unit = match c {
            's' => Duration::seconds(1),
            'm' => Duration::minutes(1),
            'h' => Duration::hours(1),
            'd' => Duration::days(1),
            'w' => Duration::weeks(1),
            _ => return None,
        };
        total += unit * i32::try_from(amount).ok()?;
        any = true;
    }
    (any && digits.is_empty()).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-20T06:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn durations_count_back_from_now() {
        assert_eq!(
            parse("6h", now(), false).unwrap(),
            now() - Duration::hours(6)
        );
        assert_eq!(
            parse("1h30m", now(), false).unwrap(),
            now() - Duration::minutes(90)
        );
        assert_eq!(
            parse("2d", now(), false).unwrap(),
            now() - Duration::days(2)
        );
    }

    #[test]
    fn times_without_a_zone_are_utc() {
        let expected = DateTime::parse_from_rfc3339("2026-11-20T03:00:00Z").unwrap();
        for spec in [
            "2026-11-20T03:00",
            "2026-11-20T03:00:00",
            "2026-11-20T03:00:00Z",
            "2026-11-20T04:00:00+01:00",
        ] {
            assert_eq!(parse(spec, now(), false).unwrap(), expected, "{spec}");
        }
        assert_eq!(
            parse("2026-11-20", now(), false).unwrap(),
            DateTime::parse_from_rfc3339("2026-11-20T00:00:00Z").unwrap()
        );
    }

    #[test]
    fn nonsense_is_an_error_that_shows_the_accepted_forms() {
        for spec in ["", "h", "6x", "yesterday", "6h3"] {
            let err = parse(spec, now(), false).unwrap_err();
            assert!(err.contains("6h"), "{err}");
        }
    }
}
