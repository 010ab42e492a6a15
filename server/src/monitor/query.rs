//! Query strings as Go's `url.ParseQuery` reads them, and the parameter
//! decoders of the monitoring handlers with Go's error texts.

use super::Reply;
use natsd_proto::quote::go_quote;

/// Decoded `key=value` pairs in request order, and whether they came
/// over HTTP (only those requests count in `/varz` `http_req_stats`).
pub struct Query(Vec<(String, String)>, bool);

impl Query {
    /// Pairs that fail to decode (bad `%` escapes, a `;` in the key) are
    /// dropped, as Go drops them.
    pub fn parse(raw: &str) -> Query {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .filter_map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                if k.contains(';') {
                    return None;
                }
                Some((unescape(k)?, unescape(v)?))
            })
            .collect();
        Query(pairs, true)
    }

    /// Parameters of a request made over the system account (not counted
    /// as an HTTP request).
    pub fn internal(pairs: Vec<(String, String)>) -> Query {
        Query(pairs, false)
    }

    /// Whether the request came over HTTP.
    pub fn is_http(&self) -> bool {
        self.1
    }

    /// The first value of `key`, or "" (Go's `Values.Get`).
    pub fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Go's `strconv.ParseBool`; absent means false.
    pub fn bool(&self, key: &str) -> Result<bool, Reply> {
        let v = self.get(key);
        match v {
            "" => Ok(false),
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
            _ => Err(Reply::bad_request(format!(
                "Error decoding boolean for '{key}': strconv.ParseBool: parsing {}: invalid syntax",
                go_quote(v.as_bytes())
            ))),
        }
    }

    /// Go's `strconv.Atoi`; absent means 0.
    pub fn int(&self, key: &str) -> Result<i64, Reply> {
        let v = self.get(key);
        if v.is_empty() {
            return Ok(0);
        }
        parse_int(v, true).map(|n| n as i64).map_err(|why| {
            Reply::bad_request(format!(
                "Error decoding int for '{key}': strconv.Atoi: parsing {}: {why}",
                go_quote(v.as_bytes())
            ))
        })
    }

    /// Go's `strconv.ParseUint(v, 10, 64)`; absent means 0.
    pub fn uint64(&self, key: &str) -> Result<u64, Reply> {
        let v = self.get(key);
        if v.is_empty() {
            return Ok(0);
        }
        parse_int(v, false).map(|n| n as u64).map_err(|why| {
            Reply::bad_request(format!(
                "Error decoding uint64 for '{key}': strconv.ParseUint: parsing {}: {why}",
                go_quote(v.as_bytes())
            ))
        })
    }
}

/// Decimal digits with an optional sign (when `signed`); the error is Go's
/// reason text.
fn parse_int(v: &str, signed: bool) -> Result<i128, &'static str> {
    let (neg, digits) = match v.as_bytes()[0] {
        b'+' | b'-' if signed => (v.starts_with('-'), &v[1..]),
        _ => (false, v),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid syntax");
    }
    let max: i128 = if signed {
        i64::MAX as i128
    } else {
        u64::MAX as i128
    };
    let mut n: i128 = 0;
    for b in digits.bytes() {
        n = n * 10 + i128::from(b - b'0');
        if n > max + 1 {
            return Err("value out of range");
        }
    }
    let n = if neg { -n } else { n };
    if n > max || (signed && n < i64::MIN as i128) {
        return Err("value out of range");
    }
    Ok(n)
}

/// Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte.
fn unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                let hi = (hex[0] as char).to_digit(16)?;
                let lo = (hex[1] as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `url.PathUnescape` for the request path (no `+` rule).
pub fn unescape_path(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    unescape(&s.replace('+', "%2B")).unwrap_or_else(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: Reply) -> String {
        assert_eq!(r.status, 400);
        String::from_utf8(r.body).unwrap()
    }

    #[test]
    fn first_value_wins_and_escapes() {
        let q = Query::parse("a=1&a=2&b=x+y%21&c&bad=%zz&d;e=1");
        assert_eq!(q.get("a"), "1");
        assert_eq!(q.get("b"), "x y!");
        assert_eq!(q.get("c"), "");
        assert_eq!(q.get("bad"), "");
        assert_eq!(q.get("d;e"), "");
        assert_eq!(q.get("missing"), "");
    }

    #[test]
    fn decoders() {
        let q = Query::parse("t=T&f=0&n=-12&u=7&x=xxx&big=99999999999999999999");
        assert!(q.bool("t").unwrap());
        assert!(!q.bool("f").unwrap());
        assert!(!q.bool("none").unwrap());
        assert_eq!(q.int("n").unwrap(), -12);
        assert_eq!(q.uint64("u").unwrap(), 7);
        assert_eq!(
            body(q.bool("x").unwrap_err()),
            "Error decoding boolean for 'x': strconv.ParseBool: parsing \"xxx\": invalid syntax"
        );
        assert_eq!(
            body(q.int("x").unwrap_err()),
            "Error decoding int for 'x': strconv.Atoi: parsing \"xxx\": invalid syntax"
        );
        assert_eq!(
            body(q.uint64("n").unwrap_err()),
            "Error decoding uint64 for 'n': strconv.ParseUint: parsing \"-12\": invalid syntax"
        );
        assert_eq!(
            body(q.int("big").unwrap_err()),
            "Error decoding int for 'big': strconv.Atoi: parsing \"99999999999999999999\": value out of range"
        );
    }
}
