//! Go's `time.ParseDuration` and `Duration.String`, because config errors
//! and log lines quote durations in Go's spelling.

use std::time::Duration;

/// Why a string is not a Go duration, with `time.ParseDuration`'s texts.
/// The option holding it decides: a config error at its position, or
/// (some options) a default.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("time: invalid duration \"{0}\"")]
    Invalid(String),
    #[error("time: missing unit in duration \"{0}\"")]
    MissingUnit(String),
    #[error("time: unknown unit \"{unit}\" in duration \"{duration}\"")]
    UnknownUnit { unit: String, duration: String },
}

/// Parses a Go duration string ("1h2m3.5s", "300ms", "-1s"). The sign is
/// reported through the `i128` nanoseconds.
pub fn parse_go_duration(s: &str) -> Result<i128, DurationError> {
    let invalid = || DurationError::Invalid(s.to_string());
    let orig = s;
    let mut s = s;
    let mut neg = false;
    if let Some(c) = s.chars().next() {
        if c == '-' || c == '+' {
            neg = c == '-';
            s = &s[1..];
        }
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: i128 = 0;
    while !s.is_empty() {
        let b = s.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let int_end = b
            .iter()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(b.len());
        let int_part = &s[..int_end];
        s = &s[int_end..];
        let mut frac_part = "";
        if s.starts_with('.') {
            s = &s[1..];
            let fe = s
                .as_bytes()
                .iter()
                .position(|c| !c.is_ascii_digit())
                .unwrap_or(s.len());
            frac_part = &s[..fe];
            s = &s[fe..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let ue = s
            .as_bytes()
            .iter()
            .position(|c| *c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        let unit = &s[..ue];
        s = &s[ue..];
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(DurationError::MissingUnit(orig.to_string())),
            _ => {
                return Err(DurationError::UnknownUnit {
                    unit: unit.to_string(),
                    duration: orig.to_string(),
                })
            }
        };
        let whole: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut v = whole.checked_mul(scale).ok_or_else(invalid)?;
        if !frac_part.is_empty() {
            let digits = &frac_part[..frac_part.len().min(30)];
            let f: i128 = digits.parse().map_err(|_| invalid())?;
            v += f * scale / 10i128.pow(digits.len() as u32);
        }
        total += v;
        if total > i64::MAX as i128 {
            return Err(invalid());
        }
    }
    Ok(if neg { -total } else { total })
}

/// Formats like Go's `Duration.String()`: "1m30s", "1.5s", "300ms", "0s".
pub fn format_go_duration(d: Duration) -> String {
    format_nanos(d.as_nanos() as i128)
}

pub fn format_nanos(ns: i128) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let sign = if neg { "-" } else { "" };
    if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1u128)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", frac(u, div));
    }
    let h = u / 3_600_000_000_000;
    let rem = u % 3_600_000_000_000;
    let m = rem / 60_000_000_000;
    let s_ns = rem % 60_000_000_000;
    let secs = frac(s_ns, 1_000_000_000);
    if h > 0 {
        format!("{sign}{h}h{m}m{secs}s")
    } else if m > 0 {
        format!("{sign}{m}m{secs}s")
    } else {
        format!("{sign}{secs}s")
    }
}

/// `v / div` with the fraction printed without trailing zeros.
fn frac(v: u128, div: u128) -> String {
    let whole = v / div;
    let rem = v % div;
    if rem == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let f = format!("{rem:0width$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go() {
        assert_eq!(parse_go_duration("2s"), Ok(2_000_000_000));
        assert_eq!(parse_go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_go_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("300ms"), Ok(300_000_000));
        assert_eq!(parse_go_duration("-1s"), Ok(-1_000_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        let err = |s: &str| parse_go_duration(s).unwrap_err().to_string();
        assert_eq!(err("abc"), "time: invalid duration \"abc\"");
        assert_eq!(err("10"), "time: missing unit in duration \"10\"");
        assert_eq!(err("10x"), "time: unknown unit \"x\" in duration \"10x\"");
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_go_duration(Duration::from_secs(1)), "1s");
        assert_eq!(format_go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_go_duration(Duration::from_secs(7200)), "2h0m0s");
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_go_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(format_go_duration(Duration::ZERO), "0s");
    }
}
