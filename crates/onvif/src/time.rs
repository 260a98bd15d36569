//! Instants as ONVIF writes them (`xsd:dateTime`), and the camera's clock offset.
//!
//! Hand-parsed rather than with the `time` crate: ONVIF uses a tiny subset
//! (`YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)?`), and cameras send zone-less values
//! (seen from Dahua firmware) that an RFC 3339 parser rightly rejects; here they
//! are read as UTC, which is what the ONVIF core spec requires them to be. The
//! civil-date arithmetic is Howard Hinnant's `days_from_civil` / `civil_from_days`.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Error;

/// An instant, in milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const fn from_unix_seconds(seconds: i64) -> Timestamp {
        Timestamp(seconds * 1000)
    }

    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// The caller's clock, converted (before 1970 reads as the epoch).
    pub fn from_system_time(t: SystemTime) -> Timestamp {
        let millis = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(_) => 0,
        };
        Timestamp(millis)
    }

    /// From calendar fields in UTC; `None` when a field is out of range.
    pub fn from_utc(
        year: i64,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
    ) -> Option<Timestamp> {
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
            2 => 28,
            _ => return None,
        };
        // 60 allows a leap second, read as the next minute's first.
        if day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let seconds =
            days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
        Some(Timestamp::from_unix_seconds(seconds))
    }

    /// Parses an `xsd:dateTime` as cameras send it.
    pub fn parse(text: &str) -> Result<Timestamp, Error> {
        let s = text.trim();
        let invalid = || Error::Invalid {
            what: "date-time",
            value: text.to_owned(),
        };
        let b = s.as_bytes();
        if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
            return Err(invalid());
        }
        if b[13] != b':' || b[16] != b':' {
            return Err(invalid());
        }
        let num = |range: std::ops::Range<usize>| -> Result<u32, Error> {
            let part = &s[range];
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().map_err(|_| invalid())
            } else {
                Err(invalid())
            }
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let mut rest = &s[19..];
        let mut millis = 0i64;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(invalid());
            }
            let padded = format!("{:0<3}", &frac[..digits.min(3)]);
            millis = padded.parse().map_err(|_| invalid())?;
            rest = &frac[digits..];
        }
        let offset_seconds: i64 = match rest {
            "" | "Z" | "z" => 0,
            zone if zone.len() == 6 && matches!(&zone[3..4], ":") => {
                let sign = match &zone[..1] {
                    "+" => 1,
                    "-" => -1,
                    _ => return Err(invalid()),
                };
                let h: i64 = zone[1..3].parse().map_err(|_| invalid())?;
                let m: i64 = zone[4..6].parse().map_err(|_| invalid())?;
                sign * (h * 3600 + m * 60)
            }
            _ => return Err(invalid()),
        };
        let base = Timestamp::from_utc(i64::from(year), month, day, hour, minute, second)
            .ok_or_else(invalid)?;
        Ok(Timestamp(base.0 + millis - offset_seconds * 1000))
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`, the form WS-Security's `Created` is best sent in:
    /// some cameras reject fractional seconds.
    pub fn to_xsd_seconds(self) -> String {
        let seconds = self.unix_seconds();
        let (y, mo, d) = civil_from_days(seconds.div_euclid(86_400));
        let s = seconds.rem_euclid(86_400);
        format!(
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub fn to_xsd_millis(self) -> String {
        let seconds = self.to_xsd_seconds();
        format!(
            "{}.{:03}Z",
            &seconds[..seconds.len() - 1],
            self.0.rem_euclid(1000)
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_xsd_millis())
    }
}

/// How far the camera's clock is ahead of ours (negative: behind).
///
/// Cameras without NTP drift by minutes, and a UsernameToken whose `Created` is
/// more than a few seconds off the camera's clock is refused (`ter:NotAuthorized`,
/// which reads like a wrong password). So the client asks the camera its time
/// (GetSystemDateAndTime needs no authentication) and writes `Created` in the
/// camera's time. The reply carries whole seconds only, so the offset is known to
/// ±1 s, well inside the usual 5 s tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClockOffset {
    pub millis: i64,
}

impl ClockOffset {
    /// `camera_utc` as the camera reported it; `local_now` when its answer came
    /// (the midpoint of request and response is better on a slow link).
    pub fn from(camera_utc: Timestamp, local_now: Timestamp) -> ClockOffset {
        ClockOffset {
            millis: camera_utc.0 - local_now.0,
        }
    }

    /// Our instant, in the camera's clock.
    pub fn apply(self, local: Timestamp) -> Timestamp {
        Timestamp(local.0 + self.millis)
    }
}

/// An `xsd:duration` of whole seconds, as ONVIF timeouts are written (`PT60S`).
pub fn xsd_duration(d: Duration) -> String {
    format!("PT{}S", d.as_secs())
}

/// Reads an `xsd:duration` of days, hours, minutes and seconds (`PT1S`,
/// `PT0.5S`, `PT1M30S`, `P1DT2H`), as PTZ timeouts come; years and months
/// (not a fixed length) are refused.
pub fn parse_xsd_duration(text: &str) -> Option<Duration> {
    let rest = text.trim().strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut secs = 0.0f64;
    let mut seen = false;
    let mut take = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let (_, factor) = units.iter().find(|(u, _)| *u == c)?;
            let value: f64 = number.parse().ok()?;
            secs += value * factor;
            seen = true;
            number.clear();
        }
        number.is_empty().then_some(())
    };
    take(date, &[('D', 86_400.0)])?;
    if let Some(time) = time {
        if time.is_empty() {
            return None;
        }
        take(time, &[('H', 3_600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    (seen && secs.is_finite() && secs < 1e9).then(|| Duration::from_secs_f64(secs))
}

// Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms".
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_are_read() {
        use super::parse_xsd_duration as d;
        use std::time::Duration;
        assert_eq!(d("PT1S"), Some(Duration::from_secs(1)));
        assert_eq!(d("PT0.5S"), Some(Duration::from_millis(500)));
        assert_eq!(d("PT1M30S"), Some(Duration::from_secs(90)));
        assert_eq!(d(" P1DT2H "), Some(Duration::from_secs(93_600)));
        for bad in ["", "P", "PT", "1S", "PT1X", "P1Y", "PTS", "PT1.2.3S"] {
            assert_eq!(d(bad), None, "{bad:?}");
        }
    }

    use super::*;

    #[test]
    fn known_instants() {
        // `date -u -d 2024-05-01T12:00:00Z +%s` → 1714564800
        assert_eq!(
            Timestamp::parse("2024-05-01T12:00:00Z").unwrap(),
            Timestamp::from_unix_seconds(1_714_564_800)
        );
        assert_eq!(
            Timestamp::parse("2024-05-01T14:00:00.25+02:00").unwrap(),
            Timestamp(1_714_564_800_250)
        );
        // Zone-less: read as UTC.
        assert_eq!(
            Timestamp::parse("2024-05-01T12:00:00")
                .unwrap()
                .unix_seconds(),
            1_714_564_800
        );
        assert_eq!(
            Timestamp::from_unix_seconds(0).to_xsd_seconds(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            Timestamp(951_782_400_007).to_xsd_millis(),
            "2000-02-29T00:00:00.007Z"
        );
    }

    #[test]
    fn round_trips_over_four_centuries() {
        let mut t = -2_208_988_800; // 1900-01-01
        while t < 10_000_000_000 {
            let ts = Timestamp::from_unix_seconds(t);
            assert_eq!(Timestamp::parse(&ts.to_xsd_seconds()).unwrap(), ts);
            t += 86_400 * 37 + 3_607;
        }
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-05-01 12:00:00Z",
            "2024-05-01T12:00:00+0200",
            "2024-05-01T12:00:00.Z",
            "2024-05-01T25:00:00Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn offset_applies_both_ways() {
        let local = Timestamp::from_unix_seconds(1_000_000);
        let camera = Timestamp::from_unix_seconds(1_000_600);
        let offset = ClockOffset::from(camera, local);
        assert_eq!(offset.millis, 600_000);
        assert_eq!(offset.apply(local), camera);
        assert_eq!(ClockOffset::from(local, camera).apply(camera), local);
        assert_eq!(xsd_duration(Duration::from_secs(60)), "PT60S");
    }
}
