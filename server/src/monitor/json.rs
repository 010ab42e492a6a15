//! JSON the way Go's encoding/json writes it: indented by two spaces,
//! RFC 3339 timestamps with nanoseconds, whole floats without a fraction,
//! and `<`, `>`, `&` escaped.

use serde::Serializer;
use std::time::{Duration, SystemTime};

/// Go's `json.MarshalIndent(v, "", "  ")`.
pub fn pretty<T: serde::Serialize>(v: &T) -> Vec<u8> {
    escape_html(serde_json::to_vec_pretty(v).unwrap_or_default())
}

/// Go's `json.Marshal(v)`.
pub fn compact<T: serde::Serialize>(v: &T) -> Vec<u8> {
    escape_html(serde_json::to_vec(v).unwrap_or_default())
}

/// A document written by [`pretty`], without its indentation (as
/// [`compact`] would have written it).
pub fn minify(pretty: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pretty.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in pretty {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
            out.push(b);
        } else if !b.is_ascii_whitespace() {
            out.push(b);
        }
    }
    out
}

/// These characters can only occur inside JSON strings, so replacing them
/// anywhere in the document is safe.
fn escape_html(out: Vec<u8>) -> Vec<u8> {
    if !out.iter().any(|b| matches!(b, b'<' | b'>' | b'&')) {
        return out;
    }
    let mut esc = Vec::with_capacity(out.len() + 16);
    for b in out {
        match b {
            b'<' => esc.extend_from_slice(b"\\u003c"),
            b'>' => esc.extend_from_slice(b"\\u003e"),
            b'&' => esc.extend_from_slice(b"\\u0026"),
            _ => esc.push(b),
        }
    }
    esc
}

pub use natsd_proto::gojson::rfc3339;

pub fn time<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

pub fn opt_time<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => time(t, s),
        None => s.serialize_none(),
    }
}

/// A float as Go prints it: `2`, not `2.0`.
pub fn float<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

/// A `time.Duration` in JSON: integer nanoseconds.
pub fn nanos<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_nanos() as u64)
}

/// Go's `omitempty` for numbers and booleans.
pub fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// The server's uptime format: whole seconds, with larger units only when
/// needed (`1y2d3h4m5s`, `4m5s`, `5s`).
pub fn uptime(d: Duration) -> String {
    let secs = d.as_secs();
    let (mins, hrs, days) = (secs / 60, secs / 3600, secs / 86_400);
    let years = days / 365;
    if years > 0 {
        format!(
            "{years}y{}d{}h{}m{}s",
            days % 365,
            hrs % 24,
            mins % 60,
            secs % 60
        )
    } else if days > 0 {
        format!("{days}d{}h{}m{}s", hrs % 24, mins % 60, secs % 60)
    } else if hrs > 0 {
        format!("{hrs}h{}m{}s", mins % 60, secs % 60)
    } else if mins > 0 {
        format!("{mins}m{}s", secs % 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn timestamps() {
        let t = UNIX_EPOCH + Duration::new(1_795_399_864, 179_571_000);
        assert_eq!(rfc3339(t), "2026-11-23T02:11:04.179571Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn uptimes() {
        assert_eq!(uptime(Duration::from_millis(999)), "0s");
        assert_eq!(uptime(Duration::from_secs(65)), "1m5s");
        assert_eq!(uptime(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(uptime(Duration::from_secs(86_400 + 61)), "1d0h1m1s");
        assert_eq!(uptime(Duration::from_secs(366 * 86_400)), "1y1d0h0m0s");
    }

    #[test]
    fn floats_and_escapes() {
        #[derive(serde::Serialize)]
        struct F {
            #[serde(serialize_with = "float")]
            a: f64,
            #[serde(serialize_with = "float")]
            b: f64,
            c: String,
        }
        let out = compact(&F {
            a: 2.0,
            b: 0.5,
            c: "<&>".into(),
        });
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":2,"b":0.5,"c":"\u003c\u0026\u003e"}"#
        );
    }

    #[test]
    fn minified_pretty_is_compact() {
        let v = serde_json::json!({"a": [1, 2], "b": "x y \\\" z", "c": {"d": null}});
        assert_eq!(minify(&pretty(&v)), compact(&v));
    }
}
