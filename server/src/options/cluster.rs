//! The `cluster` block. natsd does not route between servers yet; the block
//! is still checked as Go checks it, so that `-t` accepts and refuses the
//! same files, and its values are kept for monitoring.

use super::tls;
use super::users::{parse_authorization, parse_permissions, Placed, NIL_DEREF};
use super::Recorded;
use super::{listener_key, type_mismatch, ConfigErrors, Field, Options};
use crate::config::{Node, Value};

/// Applies a `cluster` block. A value of the wrong type abandons the rest
/// of the block, as Go's recovered panic does.
pub fn parse_cluster(
    node: &Node,
    o: &mut Options,
    errs: &mut ConfigErrors,
) -> Result<(), Recorded> {
    let Value::Map(m) = &node.value else {
        return errs.fail(
            node,
            format!(
                "Expected map to define cluster, got {}",
                node.value.kind_name()
            ),
        );
    };
    for (k, v) in m.iter() {
        let f = Field(v);
        let key = k.to_lowercase();
        if listener_key(&key, v, &mut o.cluster_host, &mut o.cluster_port, errs)? {
            continue;
        }
        match key.as_str() {
            "name" => o.cluster_name = f.string(errs)?,
            "authorization" => parse_cluster_authorization(v, o, errs)?,
            "routes" => parse_routes(v, o, errs)?,
            "cluster_advertise" | "advertise" => o.cluster_advertise = f.string(errs)?,
            "no_advertise" => o.cluster_no_advertise = f.boolean(errs)?,
            "connect_retries" => o.cluster_connect_retries = f.int(errs)?,
            "permissions" => {
                if let Ok(p) = parse_permissions(v, Placed::No, errs) {
                    if p.response.is_some() {
                        errs.error(
                            v,
                            "Cluster permissions do not support dynamic responses".into(),
                        );
                    }
                }
            }
            "tls" => {
                if let Ok(tc) = tls::parse_and_load(v, tls::Context::Peer, errs) {
                    o.cluster_tls = Some(tc);
                }
            }
            _ => {
                if !v.used_variable {
                    errs.unknown(v, k);
                }
            }
        }
    }
    Ok(())
}

/// A wrong type inside the block leaves Go without an authorization, which
/// it then dereferences: that second error abandons the cluster block.
fn parse_cluster_authorization(
    v: &Node,
    o: &mut Options,
    errs: &mut ConfigErrors,
) -> Result<(), Recorded> {
    let Ok(auth) = parse_authorization(v, errs) else {
        return errs.fail(v, NIL_DEREF.into());
    };
    if auth.users.is_some() {
        errs.error(
            v,
            "Cluster authorization does not allow multiple users".into(),
        );
        return Ok(());
    }
    if !auth.token.is_empty() {
        errs.error(v, "Cluster authorization does not support tokens".into());
        return Ok(());
    }
    o.cluster_username = auth.user;
    o.cluster_password = auth.pass;
    o.cluster_auth_timeout = auth.timeout;
    if auth.default_permissions.is_some() {
        errs.warnings.push(format!(
            "{}: invalid use of field \"authorization\": setting \"permissions\" within cluster authorization block is deprecated",
            v.location()
        ));
    }
    Ok(())
}

fn parse_routes(v: &Node, o: &mut Options, errs: &mut ConfigErrors) -> Result<(), Recorded> {
    let Value::Array(items) = &v.value else {
        return errs.fail(v, type_mismatch(&v.value, "[]interface {}"));
    };
    if let Ok(routes) = parse_urls(items, "route", errs) {
        o.routes = routes;
    }
    Ok(())
}

/// A list of URLs (routes, gateway or leaf node URLs): a repeated entry is
/// a warning, one that does not parse an error. Any error fails the list,
/// as Go drops it then.
pub(super) fn parse_urls(
    items: &[Node],
    typ: &str,
    errs: &mut ConfigErrors,
) -> Result<Vec<String>, Recorded> {
    let mut seen: Vec<&str> = Vec::new();
    let mut urls = Vec::new();
    let mut failed = false;
    for item in items {
        let Value::Str(url) = &item.value else {
            errs.error(item, type_mismatch(&item.value, "string"));
            return Err(Recorded);
        };
        if seen.contains(&url.as_str()) {
            errs.warnings.push(format!(
                "{}: invalid use of field \"{url}\": Duplicate {typ} entry detected",
                item.location()
            ));
            continue;
        }
        seen.push(url);
        match parse_url(url, typ) {
            Ok(u) => urls.push(u),
            Err(e) => {
                errs.error(item, e);
                failed = true;
            }
        }
    }
    if failed {
        Err(Recorded)
    } else {
        Ok(urls)
    }
}

/// One URL, trimmed, or Go's error for it.
pub(super) fn parse_url(url: &str, typ: &str) -> Result<String, String> {
    let url = url.trim();
    if is_parsable_url(url) {
        Ok(url.to_string())
    } else {
        Err(format!("error parsing {typ} url [{url:?}]"))
    }
}

/// Whether Go's `url.Parse` accepts `s`, for the mistakes a route list
/// makes: a `host:port` without scheme (a colon in the first path segment)
/// or a port that is not a number.
fn is_parsable_url(s: &str) -> bool {
    if s.starts_with(':') || s.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return false;
    }
    let scheme_end = s.find(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)));
    let rest = match scheme_end {
        Some(i) if i > 0 && s[i..].starts_with(':') && s.as_bytes()[0].is_ascii_alphabetic() => {
            &s[i + 1..]
        }
        _ => {
            let first_segment = s.split('/').next().unwrap_or("");
            return !first_segment.contains(':');
        }
    };
    let Some(authority) = rest.strip_prefix("//") else {
        return true;
    };
    let authority = authority.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let port = match host.rfind(']') {
        Some(end) => host[end + 1..].strip_prefix(':'),
        None => host.rfind(':').map(|i| &host[i + 1..]),
    };
    // Bytes a host may hold besides letters, digits, escapes and non-ASCII.
    let host_byte =
        |b: u8| b.is_ascii_alphanumeric() || b >= 0x80 || b"-._~!$&'()*+,;=:[]<>\"%".contains(&b);
    port.is_none_or(|p| p.bytes().all(|b| b.is_ascii_digit())) && host.bytes().all(host_byte)
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;
    use super::*;

    fn error_of(text: &str) -> String {
        load(text).1.unwrap_err().to_string()
    }

    #[test]
    fn fields_kept() {
        let (o, r) = load(
            "cluster { name: A, listen: \"127.0.0.1:6222\", routes: [\"nats://127.0.0.1:6223\"], authorization { user: u, password: p, timeout: 2 } }\n",
        );
        r.unwrap();
        assert_eq!(o.cluster_name, "A");
        assert_eq!(
            (o.cluster_host.as_str(), o.cluster_port),
            ("127.0.0.1", 6222)
        );
        assert_eq!(o.routes, ["nats://127.0.0.1:6223"]);
        assert_eq!(o.cluster_username, "u");
        assert_eq!(o.cluster_auth_timeout, 2.0);
    }

    #[test]
    fn refused() {
        assert!(error_of("cluster { foo: 1 }\n").contains("unknown field \"foo\""));
        assert!(error_of("cluster { listen: \"1.2.3.4:XX\" }\n")
            .contains("could not parse port \"XX\""));
        assert!(error_of("cluster { authorization { users = [] } }\n")
            .contains("Cluster authorization does not allow multiple users"));
        assert!(error_of("cluster { authorization { token: t } }\n")
            .contains("Cluster authorization does not support tokens"));
        assert!(error_of("cluster { routes: [\"0.0.0.0:XXXX\"] }\n")
            .contains("error parsing route url [\"0.0.0.0:XXXX\"]"));
    }

    #[test]
    fn url_forms() {
        assert!(is_parsable_url("nats://127.0.0.1:6222"));
        assert!(is_parsable_url("nats://u:p@[::1]:6222"));
        assert!(is_parsable_url("localhost:6222"));
        assert!(!is_parsable_url("127.0.0.1:6222"));
        assert!(!is_parsable_url("nats://127.0.0.1:XXXX"));
        assert!(!is_parsable_url(":6222"));
        assert!(!is_parsable_url("nats://wrong url"));
    }
}
