//! The `gateway` block. natsd does not connect clusters through gateways
//! yet; the block is checked as Go checks it, so that `-t` accepts and
//! refuses the same files, and its values are kept in [`GatewayOpts`].

use super::cluster::{parse_url, parse_urls};
use super::tls::{self, TlsConfig};
use super::users::{parse_authorization, NIL_DEREF};
use super::Recorded;
use super::{each_map, listener_key, type_mismatch, ConfigErrors, Field, Options};
use crate::config::{Node, Value};

/// What the `gateway` block configures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GatewayOpts {
    pub name: String,
    pub host: String,
    pub port: i64,
    pub username: String,
    pub password: String,
    pub auth_timeout: f64,
    pub tls: Option<TlsConfig>,
    pub advertise: String,
    pub connect_retries: i64,
    pub gateways: Vec<RemoteGatewayOpts>,
    pub reject_unknown: bool,
}

/// One entry of the block's `gateways` list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteGatewayOpts {
    pub name: String,
    pub tls: Option<TlsConfig>,
    pub urls: Vec<String>,
}

/// Applies a `gateway` block. A value of the wrong type abandons the rest
/// of the block, as Go's recovered panic does.
pub fn parse_gateway(
    node: &Node,
    o: &mut Options,
    errs: &mut ConfigErrors,
) -> Result<(), Recorded> {
    let Value::Map(m) = &node.value else {
        return errs.fail(
            node,
            format!(
                "Expected gateway to be a map, got {}",
                node.value.kind_name()
            ),
        );
    };
    let g = &mut o.gateway;
    for (k, v) in m.iter() {
        let f = Field(v);
        let key = k.to_lowercase();
        if listener_key(&key, v, &mut g.host, &mut g.port, errs)? {
            continue;
        }
        match key.as_str() {
            "name" => g.name = f.string(errs)?,
            "authorization" => {
                let Ok(auth) = parse_authorization(v, errs) else {
                    return errs.fail(v, NIL_DEREF.into());
                };
                if auth.users.is_some() {
                    errs.error(
                        v,
                        "Gateway authorization does not allow multiple users".into(),
                    );
                } else if !auth.token.is_empty() {
                    errs.error(v, "Gateway authorization does not support tokens".into());
                } else {
                    g.username = auth.user;
                    g.password = auth.pass;
                    g.auth_timeout = auth.timeout;
                }
            }
            "tls" => {
                if let Ok(tc) = tls::parse_and_load(v, tls::Context::Peer, errs) {
                    g.tls = Some(tc);
                }
            }
            "advertise" => g.advertise = f.string(errs)?,
            "connect_retries" => g.connect_retries = f.int(errs)?,
            "gateways" => match parse_gateways(v, errs) {
                // Go returns this one error from the whole block, without
                // a position: it has already unwrapped the value.
                Err(Some(e)) => {
                    errs.errors.push(e);
                    return Err(Recorded);
                }
                Err(None) => {}
                Ok(list) => g.gateways = list,
            },
            "reject_unknown" | "reject_unknown_cluster" => g.reject_unknown = f.boolean(errs)?,
            _ => {
                if !v.used_variable {
                    errs.unknown(v, k);
                }
            }
        }
    }
    Ok(())
}

/// The `gateways` list. `Err(Some(text))` is an error Go returns for the
/// whole gateway block; `Err(None)` a wrong type already recorded, which
/// abandons the list but not the block.
fn parse_gateways(
    v: &Node,
    errs: &mut ConfigErrors,
) -> Result<Vec<RemoteGatewayOpts>, Option<String>> {
    let mut out = Vec::new();
    each_map(v, "gateways", "gateway", errs, |m, errs| {
        let mut gw = RemoteGatewayOpts::default();
        for (k, v) in m.iter() {
            match k.to_lowercase().as_str() {
                "name" => gw.name = Field(v).string(errs).map_err(|_| None)?,
                "tls" => {
                    if let Ok(tc) = tls::parse_and_load(v, tls::Context::Peer, errs) {
                        gw.tls = Some(tc);
                    }
                }
                "url" => {
                    let url = Field(v).string(errs).map_err(|_| None)?;
                    match parse_url(&url, "gateway") {
                        Ok(u) => gw.urls.push(u),
                        Err(e) => errs.error(v, e),
                    }
                }
                "urls" => {
                    let Value::Array(list) = &v.value else {
                        errs.error(v, type_mismatch(&v.value, "[]interface {}"));
                        return Err(None);
                    };
                    if let Ok(urls) = parse_urls(list, "gateway", errs) {
                        gw.urls = urls;
                    }
                }
                _ => {
                    if !v.used_variable {
                        errs.unknown(v, k);
                    }
                }
            }
        }
        out.push(gw);
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;

    fn error_of(text: &str) -> String {
        load(text).1.unwrap_err().to_string()
    }

    #[test]
    fn fields_kept() {
        let (o, r) = load(
            "gateway {\n name: A\n listen: \"127.0.0.1:7222\"\n authorization { user: u, password: p }\n gateways: [ {name: B, urls: [\"nats://127.0.0.1:7223\"]}, {name: C, url: \"nats://127.0.0.1:7224\"} ]\n reject_unknown: true\n}\n",
        );
        r.unwrap();
        let g = &o.gateway;
        assert_eq!(
            (g.name.as_str(), g.host.as_str(), g.port),
            ("A", "127.0.0.1", 7222)
        );
        assert_eq!(g.username, "u");
        assert!(g.reject_unknown);
        assert_eq!(g.gateways.len(), 2);
        assert_eq!(g.gateways[0].urls, ["nats://127.0.0.1:7223"]);
        assert_eq!(g.gateways[1].urls, ["nats://127.0.0.1:7224"]);
    }

    #[test]
    fn refused() {
        assert!(error_of("gateway {\n authorization {\n  token: t\n }\n}\n")
            .contains(":2:2: Gateway authorization does not support tokens"));
        assert!(
            error_of("gateway {\n authorization {\n  users: []\n }\n}\n")
                .contains("Gateway authorization does not allow multiple users")
        );
        assert!(error_of("gateway: 1\n").contains("Expected gateway to be a map, got int64"));
        assert!(error_of("gateway {\n gateways: 1\n}\n")
            .contains("Expected gateways field to be an array, got int64"));
        assert!(error_of("gateway {\n gateways: [true]\n}\n")
            .contains("Expected gateway entry to be a map/struct, got true"));
        assert!(
            error_of("gateway {\n gateways: [{name: B, url: \"127.0.0.1:1\"}]\n}\n")
                .contains("error parsing gateway url [\"127.0.0.1:1\"]")
        );
        assert!(error_of("gateway {\n foo: 1\n}\n").contains("unknown field \"foo\""));
    }
}
