//! How results are shown: time zone, colour (only on a terminal, never with NO_COLOR), durations.

use chrono::{DateTime, Local, Utc};

use crate::args::Format;

/// Output settings shared by every command.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub format: Format,
    /// Local time instead of UTC in tables.
    pub local: bool,
    /// ANSI colours: only when stdout is a terminal and NO_COLOR is unset or empty.
    pub colour: bool,
}

impl Style {
    /// Decides colour from the environment: a terminal, and no `NO_COLOR` (<https://no-color.org>).
    pub fn detect(format: Format, local: bool) -> Self {
        use std::io::IsTerminal;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        Self {
            format,
            local,
            colour: format == Format::Table && std::io::stdout().is_terminal() && !no_color,
        }
    }

    /// The time-zone label for column headers.
    pub fn zone(&self) -> &'static str {
        if self.local {
            "local"
        } else {
            "UTC"
        }
    }

    /// `2026-11-20 03:14:07.123` in UTC (or local time with --local).
    pub fn time(&self, time: DateTime<Utc>) -> String {
        if self.local {
            time.with_timezone(&Local)
                .format("%Y-%m-%d %H:%M:%S%.3f")
                .to_string()
        } else {
            time.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
        }
    }

    pub fn paint(&self, text: &str, colour: Colour) -> String {
        if self.colour && !text.is_empty() {
            format!("\x1b[{}m{text}\x1b[0m", colour as u8)
        } else {
            text.to_owned()
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Colour {
    Red = 31,
    Green = 32,
    Yellow = 33,
    Bold = 1,
    Dim = 2,
}

/// The colour of a status: running green, stopped red when failed, transitions yellow.
pub fn status_colour(status: &str, failed: bool) -> Colour {
    match status {
        "RUNNING" => Colour::Green,
        "STOPPED" if failed => Colour::Red,
        "STOPPED" => Colour::Dim,
        _ => Colour::Yellow,
    }
}

/// A human duration: `850ms`, `12.3s`, `4m 05s`, `2h 03m`, `3d 04h`.
pub fn duration(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let millis = (to - from).num_milliseconds();
    if millis < 0 {
        return "-".to_owned();
    }
    let seconds = millis / 1000;
    match seconds {
        _ if millis < 1000 => format!("{millis}ms"),
        0..=59 => format!("{:.1}s", millis as f64 / 1000.0),
        60..=3599 => format!("{}m {:02}s", seconds / 60, seconds % 60),
        3600..=86_399 => format!("{}h {:02}m", seconds / 3600, seconds % 3600 / 60),
        _ => format!("{}d {:02}h", seconds / 86_400, seconds % 86_400 / 3600),
    }
}

/// Cuts text to `max` characters, marking the cut with `…`.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let kept: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{kept}…")
    }
}

/// Cuts text to `max` characters from the left, keeping its end (an image's name and tag).
pub fn clip_left(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        text.to_owned()
    } else {
        let kept: String = text.chars().skip(count - max.saturating_sub(1)).collect();
        format!("…{kept}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn durations_read_naturally_at_every_scale() {
        let start = at("2026-11-20T00:00:00Z");
        let later = |ms: i64| start + chrono::Duration::milliseconds(ms);
        assert_eq!(duration(start, later(850)), "850ms");
        assert_eq!(duration(start, later(12_340)), "12.3s");
        assert_eq!(duration(start, later(245_000)), "4m 05s");
        assert_eq!(duration(start, later(7_380_000)), "2h 03m");
        assert_eq!(duration(start, later(273_600_000)), "3d 04h");
        assert_eq!(duration(later(1), start), "-");
    }

    #[test]
    fn colour_is_plain_text_when_off() {
        let style = Style {
            format: Format::Table,
            local: false,
            colour: false,
        };
        assert_eq!(style.paint("RUNNING", Colour::Green), "RUNNING");
        let coloured = Style {
            colour: true,
            ..style
        };
        assert_eq!(
            coloured.paint("RUNNING", Colour::Green),
            "\x1b[32mRUNNING\x1b[0m"
        );
        assert_eq!(
            style.time(at("2026-11-20T03:14:07.5Z")),
            "2026-11-20 03:14:07.500"
        );
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip_left("abcdef", 4), "…def");
    }
}
