//! Observations are normalized before they are stored or compared, so that
//! server ids, client ids, nonces, ports, versions of the Go runtime and times
//! never differ between two targets by accident.
//!
//! JetStream adds three random parts: ephemeral consumer names (8 characters
//! of `0-9A-Za-z`, which the server picks), the timestamp token of an ack
//! reply subject (`$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.
//! <consumer seq>.<ts ns>.<pending>`), and the 4-character id that ends a
//! flow-control reply (`$JS.FC.<stream>.<consumer>.<id>`). A consumer token
//! of 8 such characters in a subject where the server puts a consumer's name
//! (ack and flow-control replies, the consumer API's info, delete, next and
//! stepdown subjects, consumer advisories and ack metrics) reads as
//! `<ephemeral>`: a durable of 8 such characters there is masked too, alike
//! on both targets.

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

/// What an ephemeral consumer's name becomes.
const EPHEMERAL: &str = "<ephemeral>";

/// Whether `token` could be a name the server made for an ephemeral
/// consumer: 8 characters of `0-9A-Za-z`.
fn ephemeral_like(token: &str) -> bool {
    token.len() == 8 && token.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn consumer_token(token: &str) -> &str {
    if ephemeral_like(token) {
        EPHEMERAL
    } else {
        token
    }
}

/// An ack reply subject (v1, 9 tokens): stream, consumer, delivered, stream
/// sequence, consumer sequence, timestamp, pending.
static ACK_REPLY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$JS\.ACK\.([^.\s]+)\.([^.\s]+)\.(\d+)\.(\d+)\.(\d+)\.\d+\.(\d+)\b")
        .expect("valid ack regex")
});

/// A flow-control reply subject: stream, consumer, random id.
static FC_REPLY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$JS\.FC\.([^.\s]+)\.([^.\s]+)\.[0-9A-Za-z]{4}\b").expect("valid FC regex")
});

/// Subjects that end in a consumer's name after its stream's: the API's
/// (in any domain), consumer advisories and ack metrics.
static CONSUMER_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(\$JS\.(?:[^.\s]+\.)?API\.CONSUMER\.(?:INFO|DELETE|MSG\.NEXT|LEADER\.STEPDOWN)\.[^.\s]+\.|\$JS\.EVENT\.(?:ADVISORY\.CONSUMER\.[A-Z_]+|METRIC\.CONSUMER\.ACK)\.[^.\s]+\.)([0-9A-Za-z]{8})\b",
    )
    .expect("valid consumer subject regex")
});

/// Masks the random parts of JetStream's subjects (see the module's doc).
fn jetstream_subjects(s: &str) -> String {
    let s = ACK_REPLY.replace_all(s, |c: &regex::Captures| {
        format!(
            "$JS.ACK.{}.{}.{}.{}.{}.<ts>.{}",
            &c[1],
            consumer_token(&c[2]),
            &c[3],
            &c[4],
            &c[5],
            &c[6]
        )
    });
    let s = FC_REPLY.replace_all(&s, |c: &regex::Captures| {
        format!("$JS.FC.{}.{}.<fc-id>", &c[1], consumer_token(&c[2]))
    });
    CONSUMER_SUBJECT
        .replace_all(&s, |c: &regex::Captures| format!("{}{EPHEMERAL}", &c[1]))
        .into_owned()
}

/// Masks ids, ports and times in free text (log lines, error messages), and
/// the random parts of JetStream's subjects.
pub fn text(s: &str) -> String {
    let s = TEXT_RULES.iter().fold(s.to_string(), |acc, rule| {
        rule.re.replace_all(&acc, rule.replacement).into_owned()
    });
    if s.contains("$JS.") {
        jetstream_subjects(&s)
    } else {
        s
    }
}

/// The name of an ephemeral consumer whose info (or create answer) `map`
/// is: it has a stream name, a name and a config without a durable name.
fn ephemeral_info_name(map: &serde_json::Map<String, Value>) -> Option<&str> {
    let config = map.get("config")?.as_object()?;
    map.get("stream_name")?;
    let durable = config
        .get("durable_name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = map.get("name")?.as_str()?;
    (durable.is_empty() && !name.is_empty()).then_some(name)
}

/// Whether `map` is a server's JetStream config (`/varz`, `/jsz`): its
/// default `max_storage` is 75% of the disk free when the server started,
/// which moves between any two starts.
fn is_jetstream_server_config(map: &serde_json::Map<String, Value>) -> bool {
    map.contains_key("max_storage") && map.contains_key("store_dir")
}

/// Masks known fields and, inside every string, what [`text`] masks. Returns
/// the value with object keys sorted, so serializations compare byte for byte.
///
/// The name of an ephemeral consumer, found in its info (a consumer create
/// or info answer, an item of a consumer list), is masked wherever it occurs
/// in the value; so are the 8-character names of a consumer names answer
/// (`consumers`) and of a consumer advisory (`consumer`).
pub fn json(v: &Value) -> Value {
    let mut names = Vec::new();
    ephemeral_names(v, &mut names);
    let masked = json_masked(v);
    if names.is_empty() {
        return masked;
    }
    mask_names(masked, &names)
}

fn ephemeral_names(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(name) = ephemeral_info_name(map) {
                out.push(name.to_string());
            }
            map.values().for_each(|v| ephemeral_names(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| ephemeral_names(v, out)),
        _ => {}
    }
}

/// Replaces each of `names` by [`EPHEMERAL`], in every string of `v`.
fn mask_names(v: Value, names: &[String]) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, mask_names(v, names)))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| mask_names(v, names)).collect())
        }
        Value::String(s) => Value::String(
            names
                .iter()
                .fold(s, |acc, name| acc.replace(name.as_str(), EPHEMERAL)),
        ),
        other => other,
    }
}

fn json_masked(v: &Value) -> Value {
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
                let val = match (k.as_str(), val) {
                    ("consumer", Value::String(name)) if ephemeral_like(name) => {
                        Value::String(EPHEMERAL.into())
                    }
                    ("consumers", Value::Array(items)) => Value::Array(
                        items
                            .iter()
                            .map(|item| match item {
                                Value::String(name) if ephemeral_like(name) => {
                                    Value::String(EPHEMERAL.into())
                                }
                                other => json_masked(other),
                            })
                            .collect(),
                    ),
                    _ => json_masked(val),
                };
                out.insert(k.clone(), masked.unwrap_or(val));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(json_masked).collect()),
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
    fn masks_ack_reply_timestamps_and_ephemeral_consumers() {
        // Go's ack reply: the timestamp token is masked, the counts kept.
        assert_eq!(
            text("MSG orders.new 1 $JS.ACK.ORDERS.dlc.1.3.3.1700000000123456789.7 5"),
            "MSG orders.new 1 $JS.ACK.ORDERS.dlc.1.3.3.<ts>.7 5"
        );
        assert_eq!(
            text("$JS.ACK.ORDERS.aB3xY9Qz.2.10.4.1699999999999999999.0"),
            "$JS.ACK.ORDERS.<ephemeral>.2.10.4.<ts>.0"
        );
        // Only the 9-token v1 form: a shorter subject is left alone.
        assert_eq!(text("$JS.ACK.ORDERS.dlc.1.3"), "$JS.ACK.ORDERS.dlc.1.3");
    }

    #[test]
    fn masks_flow_control_ids() {
        assert_eq!(
            text("HMSG deliver 2 $JS.FC.ORDERS.dlc.x9Zq 34 34"),
            "HMSG deliver 2 $JS.FC.ORDERS.dlc.<fc-id> 34 34"
        );
        assert_eq!(
            text("$JS.FC.ORDERS.Qw3rTy12.a0B1"),
            "$JS.FC.ORDERS.<ephemeral>.<fc-id>"
        );
    }

    #[test]
    fn masks_ephemeral_names_in_consumer_subjects() {
        assert_eq!(
            text("$JS.API.CONSUMER.INFO.ORDERS.Zx81kLmq"),
            "$JS.API.CONSUMER.INFO.ORDERS.<ephemeral>"
        );
        assert_eq!(
            text("PUB $JS.API.CONSUMER.MSG.NEXT.ORDERS.p0OlK9ij _INBOX.1 1"),
            "PUB $JS.API.CONSUMER.MSG.NEXT.ORDERS.<ephemeral> _INBOX.1 1"
        );
        assert_eq!(
            text("$JS.HUB.API.CONSUMER.DELETE.S.abcdEF12"),
            "$JS.HUB.API.CONSUMER.DELETE.S.<ephemeral>"
        );
        assert_eq!(
            text("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.abcdEF12"),
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.<ephemeral>"
        );
        assert_eq!(
            text("$JS.EVENT.METRIC.CONSUMER.ACK.S.abcdEF12"),
            "$JS.EVENT.METRIC.CONSUMER.ACK.S.<ephemeral>"
        );
        // Durable names of other lengths stay; so do client-chosen names in
        // a create subject.
        assert_eq!(
            text("$JS.API.CONSUMER.INFO.ORDERS.dlc"),
            "$JS.API.CONSUMER.INFO.ORDERS.dlc"
        );
        assert_eq!(
            text("$JS.API.CONSUMER.CREATE.ORDERS.abcdEF12"),
            "$JS.API.CONSUMER.CREATE.ORDERS.abcdEF12"
        );
    }

    #[test]
    fn masks_an_ephemeral_consumer_info_everywhere_in_the_value() {
        let info = j!({
            "type": "io.nats.jetstream.api.v1.consumer_create_response",
            "stream_name": "ORDERS",
            "name": "Hq7LmN2p",
            "config": {"name": "Hq7LmN2p", "deliver_subject": "d", "ack_policy": "explicit"},
            "note": "see $JS.API.CONSUMER.INFO.ORDERS.Hq7LmN2p and Hq7LmN2p"
        });
        let out = json(&info);
        assert_eq!(out["name"], j!("<ephemeral>"));
        assert_eq!(out["config"]["name"], j!("<ephemeral>"));
        assert_eq!(
            out["note"],
            j!("see $JS.API.CONSUMER.INFO.ORDERS.<ephemeral> and <ephemeral>")
        );
        // Two servers' answers with different random names compare equal.
        let mut other = info.clone();
        other["name"] = j!("zz99YY88");
        other["config"]["name"] = j!("zz99YY88");
        other["note"] = j!("see $JS.API.CONSUMER.INFO.ORDERS.zz99YY88 and zz99YY88");
        assert_eq!(json(&other), out);
    }

    #[test]
    fn keeps_durable_names_in_consumer_infos() {
        let info = j!({"stream_name": "ORDERS", "name": "PROCESSR",
            "config": {"durable_name": "PROCESSR", "name": "PROCESSR"}});
        assert_eq!(json(&info), json(&info.clone()));
        assert_eq!(json(&info)["name"], j!("PROCESSR"));
    }

    #[test]
    fn masks_ephemeral_names_in_name_lists_and_advisories() {
        let names = j!({"total": 3, "offset": 0, "limit": 1024,
            "consumers": ["dlc", "aB3xY9Qz", "durable"]});
        assert_eq!(
            json(&names)["consumers"],
            j!(["dlc", "<ephemeral>", "durable"])
        );
        let advisory = j!({"type": "io.nats.jetstream.advisory.v1.consumer_action",
            "stream": "ORDERS", "consumer": "aB3xY9Qz", "action": "create"});
        assert_eq!(json(&advisory)["consumer"], j!("<ephemeral>"));
        assert_eq!(json(&advisory)["stream"], j!("ORDERS"));
    }

    #[test]
    fn normalizing_jetstream_subjects_twice_changes_nothing() {
        let s = "$JS.ACK.S.aB3xY9Qz.1.2.3.1700000000000000000.4 $JS.FC.S.aB3xY9Qz.abcd";
        assert_eq!(text(&text(s)), text(s));
        let v = j!({"stream_name": "S", "name": "aB3xY9Qz", "config": {}});
        assert_eq!(json(&json(&v)), json(&v));
    }

    #[test]
    fn normalizing_twice_changes_nothing() {
        let v = j!({"port": 1, "nested": {"start": "2026-01-01T00:00:00Z"}});
        assert_eq!(json(&json(&v)), json(&v));
    }
}
