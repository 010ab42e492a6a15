//! Options natsd parses but does not serve yet, sorted by what ignoring them
//! would do (fail closed). An option whose absence would admit a client, a
//! subject or an account that the Go server refuses makes natsd refuse to
//! start and name it; a listener natsd does not open is only a warning.
//! When natsd comes to serve an option, its entry here goes.

use super::Options;
use std::fmt;

/// Why natsd will not run with an option it does not serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// Operator mode: the Go server admits only clients with a valid user JWT.
    OperatorMode,
    /// An account resolver: it only makes sense in operator mode.
    AccountResolver,
    /// `verify_and_map` with users in the websocket block: Go admits only
    /// a websocket client whose certificate maps to a user. (The client
    /// `tls` block's is served.)
    TlsCertificateMapping,
}

impl RefusalKind {
    fn why(self) -> &'static str {
        match self {
            RefusalKind::OperatorMode => {
                "operator mode (JWT authentication) is not supported by natsd, and ignoring it would admit clients without a valid user JWT"
            }
            RefusalKind::AccountResolver => {
                "account resolvers (operator mode) are not supported by natsd, and ignoring them would admit clients the Go server authenticates with JWTs"
            }
            RefusalKind::TlsCertificateMapping => {
                "TLS certificate-to-user mapping for websocket clients is not supported by natsd, and ignoring it would admit clients whose certificate maps to no user"
            }
        }
    }

    /// The kind of a top-level key natsd refuses, if it is one.
    pub fn of_top_level_key(key: &str) -> Option<RefusalKind> {
        match key {
            "operator" | "operators" | "root_operators" | "root_operator" | "trusted"
            | "trusted_keys" => Some(RefusalKind::OperatorMode),
            "resolver"
            | "account_resolver"
            | "accounts_resolver"
            | "resolver_preload"
            | "resolver_pinned_accounts" => Some(RefusalKind::AccountResolver),
            _ => None,
        }
    }
}

/// One option natsd will not start with, and where the config sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `file:line:col` of the option in the config.
    pub location: String,
    pub option: String,
    pub kind: RefusalKind,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: \"{}\": {}; refusing to start",
            self.location,
            self.option,
            self.kind.why()
        )
    }
}

/// Every option natsd will not start with, shown one per line. The command
/// line (exits, `-t` included) and a reload (refused) decide on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(Refusal::to_string).collect::<Vec<_>>().join("\n"))]
pub struct Refusals(pub Vec<Refusal>);

/// Every refusal; `Ok` when natsd can serve what the options ask for.
pub fn check(o: &Options) -> Result<(), Refusals> {
    let mut refusals = o.refusals.clone();
    if let Some(at) = &o.ws_tls_map_at {
        if !o.users.is_empty() || !o.nkeys.is_empty() {
            refusals.push(Refusal {
                location: at.clone(),
                option: "verify_and_map".into(),
                kind: RefusalKind::TlsCertificateMapping,
            });
        }
    }
    if refusals.is_empty() {
        return Ok(());
    }
    Err(Refusals(refusals))
}

/// The listeners natsd parses and checks but does not open yet, by the name
/// the start-up warning gives them. Not opening one admits nobody.
pub fn unserved_listeners(o: &Options) -> Vec<&'static str> {
    let cluster = o.cluster_port != 0 || !o.routes.is_empty() || !o.routes_str.is_empty();
    let gateway = !o.gateway.name.is_empty() || o.gateway.port != 0;
    let leafnodes = o.leafnode.port != 0 || !o.leafnode.remotes.is_empty();
    [
        (cluster, "Cluster (routes)"),
        (gateway, "Gateway"),
        (leafnodes, "Leafnode"),
        (o.mqtt.port != 0, "MQTT"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::load;
    use super::*;

    fn refusal_of(text: &str) -> String {
        let (o, r) = load(text);
        r.expect("the config is valid for Go");
        check(&o).expect_err("natsd must refuse it").to_string()
    }

    #[test]
    fn operator_mode_keys_are_refused() {
        for key in [
            "operator",
            "operators",
            "root_operators",
            "root_operator",
            "trusted",
            "trusted_keys",
        ] {
            let e = refusal_of(&format!("{key}: \"x\"\n"));
            assert!(e.contains(&format!("\"{key}\"")), "{e}");
            assert!(e.contains("operator mode"), "{e}");
            assert!(e.ends_with("refusing to start"), "{e}");
        }
    }

    #[test]
    fn resolver_keys_are_refused() {
        for (key, value) in [
            ("resolver", "MEMORY"),
            ("resolver", "URL(\"http://127.0.0.1:9/jwt/v1/accounts/\")"),
            ("account_resolver", "MEMORY"),
            ("accounts_resolver", "MEMORY"),
            ("resolver_preload", "{}"),
            ("resolver_pinned_accounts", "[]"),
        ] {
            let e = refusal_of(&format!("{key}: {value}\n"));
            assert!(e.contains(&format!("\"{key}\"")), "{e}");
            assert!(e.contains("account resolvers"), "{e}");
        }
        let dir = refusal_of("resolver {\n  type: full\n  dir: \"/tmp/jwt\"\n}\n");
        assert!(dir.contains(".conf:1:"), "{dir}");
        assert!(dir.contains("\"resolver\""), "{dir}");
    }

    #[test]
    fn websocket_certificate_mapping_is_refused_only_with_users() {
        let (o, _) = load("tls { verify_and_map: true }\nauthorization { users [{user: a}] }\n");
        assert!(check(&o).is_ok(), "the client tls block's is served");
        let mut o = load("port: 4222\n").0;
        o.ws_tls_map_at = Some("x.conf:1:1".into());
        assert!(
            check(&o).is_ok(),
            "no users: nothing to map, Go only verifies"
        );
        o.users.push(crate::options::User::default());
        let e = check(&o).unwrap_err().to_string();
        assert!(e.starts_with("x.conf:1:1: \"verify_and_map\""), "{e}");
        o.refusals.push(Refusal {
            location: "x.conf:2:1".into(),
            option: "operator".into(),
            kind: RefusalKind::OperatorMode,
        });
        let e = check(&o).unwrap_err().to_string();
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 2, "{e}");
        assert!(lines[0].starts_with("x.conf:2:1: \"operator\""), "{e}");
        assert!(
            lines[1].starts_with("x.conf:1:1: \"verify_and_map\""),
            "{e}"
        );
    }

    #[test]
    fn served_configs_are_not_refused() {
        let (o, r) = load("authorization { users [{user: a, password: b}] }\n");
        r.unwrap();
        assert_eq!(check(&o), Ok(()));
    }

    #[test]
    fn unserved_listeners_are_named() {
        let (o, _) = load(
            "cluster { port: -1 }\ngateway { name: g, port: -1 }\nleafnodes { port: -1 }\nmqtt { port: -1 }\n",
        );
        assert_eq!(
            unserved_listeners(&o),
            ["Cluster (routes)", "Gateway", "Leafnode", "MQTT"]
        );
        let (o, _) = load("cluster { routes: [\"nats://127.0.0.1:1\"] }\n");
        assert_eq!(unserved_listeners(&o), ["Cluster (routes)"]);
        assert!(unserved_listeners(&load("port: 1\n").0).is_empty());
    }
}
