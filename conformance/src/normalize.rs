//! Observations are normalized before they are stored or compared, so that
//! server ids, client ids, nonces, ports, versions of the Go runtime and times
//! never differ between two targets by accident.

use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// JSON fields whose value is masked wherever they appear, and the mask.
const MASKED_FIELDS: &[(&str, &str)] = &[
    ("server_id", "<server-id>"),
    ("nonce", "<nonce>"),
    ("port", "<port>"),
    ("client_id", "<cid>"),
    ("cid", "<cid>"),
    ("go", "<go-version>"),
    ("now", "<time>"),
    ("start", "<time>"),
    ("uptime", "<duration>"),
    ("last_activity", "<time>"),
    ("rtt", "<duration>"),
    ("idle", "<duration>"),
];

struct Rule {
    re: Regex,
    replacement: &'static str,
}

static TEXT_RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |re: &str, replacement| Rule {
        re: Regex::new(re).expect("valid normalizer regex"),
        replacement,
    };
    vec![
        // Server ids are 56-character nkeys starting with N.
        rule(r"\bN[A-Z2-7]{55}\b", "<server-id>"),
        // RFC 3339 and Go's log timestamps.
        rule(
            r"\d{4}[-/]\d{2}[-/]\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?",
            "<time>",
        ),
        // host:port on loopback or the wildcard address.
        rule(
            r"(127\.0\.0\.1|0\.0\.0\.0|localhost|\[::1?\]|::):\d{1,5}\b",
            "$1:<port>",
        ),
        rule(r"\bcid:\d+", "cid:<cid>"),
        // The pid at the start of a log line.
        rule(r"(?m)^\[\d+\] ", "[<pid>] "),
    ]
});

/// Masks ids, ports and times in free text (log lines, error messages).
pub fn text(s: &str) -> String {
    TEXT_RULES.iter().fold(s.to_string(), |acc, rule| {
        rule.re.replace_all(&acc, rule.replacement).into_owned()
    })
}

/// Whether `map` is a server's JetStream config (`/varz`, `/jsz`): its
/// default `max_storage` is 75% of the disk free when the server started,
/// which moves between any two starts.
fn is_jetstream_server_config(map: &serde_json::Map<String, Value>) -> bool {
    map.contains_key("max_storage") && map.contains_key("store_dir")
}

/// Masks known fields and, inside every string, what [`text`] masks. Returns
/// the value with object keys sorted, so serializations compare byte for byte.
pub fn json(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let mut out = serde_json::Map::new();
            let js_config = is_jetstream_server_config(map);
            for (k, val) in entries {
                if js_config && k == "max_storage" {
                    out.insert(k.clone(), Value::String("<disk-available>".into()));
                    continue;
                }
                let masked = MASKED_FIELDS
                    .iter()
                    .find(|(field, _)| field == k)
                    .filter(|_| !val.is_null())
                    .map(|(_, mask)| Value::String((*mask).to_string()));
                out.insert(k.clone(), masked.unwrap_or_else(|| json(val)));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(json).collect()),
        Value::String(s) => Value::String(text(s)),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json as j;

    #[test]
    fn masks_server_ids_ports_and_times_in_text() {
        let line = "[1234] 2026/11/23 01:02:03.123456 [INF] Listening for client connections on 127.0.0.1:54321 id NDJWE4SHUJOFKX4CDNSHDSYQZR2DXX5CQMNNIEKW2WTSVHS5Q5HBJXYS";
        assert_eq!(
            text(line),
            "[<pid>] <time> [INF] Listening for client connections on 127.0.0.1:<port> id <server-id>"
        );
    }

    #[test]
    fn masks_rfc3339_and_cids() {
        assert_eq!(
            text("at 2026-11-23T01:02:03.5Z cid:17 [::1]:4222"),
            "at <time> cid:<cid> [::1]:<port>"
        );
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        let s = "-ERR 'Maximum Payload Violation'";
        assert_eq!(text(s), s);
        assert_eq!(text("MSG foo 1 5"), "MSG foo 1 5");
    }

    #[test]
    fn masks_fields_and_sorts_keys() {
        let info = j!({
            "server_id": "NDJWE4SHUJOFKX4CDNSHDSYQZR2DXX5CQMNNIEKW2WTSVHS5Q5HBJXYS",
            "port": 4222, "client_id": 5, "nonce": "abc", "go": "go1.19",
            "max_payload": 1048576, "headers": true,
            "connect_urls": ["127.0.0.1:4223"], "tls": null
        });
        let out = json(&info);
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"client_id":"<cid>","connect_urls":["127.0.0.1:<port>"],"go":"<go-version>","headers":true,"max_payload":1048576,"nonce":"<nonce>","port":"<port>","server_id":"<server-id>","tls":null}"#
        );
    }

    #[test]
    fn masks_the_disk_derived_jetstream_storage_only() {
        let varz = j!({"config": {"max_memory": 1024, "max_storage": 123456, "store_dir": "/x"},
            "limits": {"max_storage": -1}});
        let out = json(&varz);
        assert_eq!(out["config"]["max_storage"], j!("<disk-available>"));
        assert_eq!(out["config"]["max_memory"], j!(1024));
        assert_eq!(out["limits"]["max_storage"], j!(-1));
    }

    #[test]
    fn normalizing_twice_changes_nothing() {
        let v = j!({"port": 1, "nested": {"start": "2026-01-01T00:00:00Z"}});
        assert_eq!(json(&json(&v)), json(&v));
    }
}
