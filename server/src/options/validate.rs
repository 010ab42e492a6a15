//! Checks and adjustments made to a complete set of options, at start-up
//! and again on every reload, before the server uses them.

use super::{go_duration, Options, User};
use rand::Rng;
use std::time::Duration;

/// Why a complete set of options cannot be used, with Go's texts. The
/// command line (exits), a reload (refused) and an embedding program
/// decide on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidateError {
    #[error("lame duck grace period ({}) should be strictly lower than lame duck duration ({})", go_duration(*.grace_period), go_duration(*.duration))]
    LameDuckGracePeriod {
        grace_period: Duration,
        duration: Duration,
    },
    #[error("max_payload ({max_payload}) cannot be higher than max_pending ({max_pending})")]
    MaxPayload { max_payload: i32, max_pending: i64 },
    #[error("no_auth_user: \"{0}\" present, but users are not defined")]
    NoAuthUserWithoutUsers(String),
    #[error(
        "no_auth_user: \"{0}\" not present as user in authorization block or account configuration"
    )]
    NoAuthUserUnknown(String),
    #[error("gateway has no name")]
    GatewayName,
    #[error("gateway {0:?} has no port specified (select -1 for random port)")]
    GatewayPort(String),
    /// A remote gateway, by its index in the list.
    #[error("gateway in the list {0} has no name")]
    RemoteGatewayName(usize),
    #[error("gateway {0:?} has no URL")]
    RemoteGatewayUrl(String),
    #[error("cluster name conflicts between cluster and gateway definitions")]
    ClusterNameConflict,
    /// The JetStream API subject a domain makes, Go-quoted.
    #[error("invalid domain name: derived {0} is not a valid subject")]
    DomainSubject(String),
    #[error("invalid domain name: may not contain ., * or >")]
    DomainName,
    #[error("websocket requires TLS configuration")]
    WebsocketTls,
    /// Go's `url.Parse` error for the entry.
    #[error("unable to parse allowed origin: {0}")]
    WebsocketAllowedOrigin(String),
    #[error("websocket authentication {0} not compatible with presence of users/nkeys")]
    WebsocketAuthWithUsers(&'static str),
    #[error("trusted operators or trusted keys configuration is required for JWT authentication via cookie {0:?}")]
    WebsocketJwtCookie(String),
}

impl Options {
    /// The checks Go makes before a server starts (or a reload is applied).
    pub fn validate(&self) -> Result<(), ValidateError> {
        if !self.lame_duck_duration.is_zero()
            && self.lame_duck_grace_period >= self.lame_duck_duration
        {
            return Err(ValidateError::LameDuckGracePeriod {
                grace_period: self.lame_duck_grace_period,
                duration: self.lame_duck_duration,
            });
        }
        if i64::from(self.max_payload) > self.max_pending {
            return Err(ValidateError::MaxPayload {
                max_payload: self.max_payload,
                max_pending: self.max_pending,
            });
        }
        self.validate_no_auth_user(&self.no_auth_user)?;
        self.validate_gateway()?;
        // A gateway names its cluster: a cluster block naming another is
        // refused even though natsd serves neither.
        if !self.gateway.name.is_empty()
            && !self.cluster_name.is_empty()
            && self.gateway.name != self.cluster_name
        {
            return Err(ValidateError::ClusterNameConflict);
        }
        self.validate_jetstream_domain()?;
        self.validate_websocket()
    }

    /// A `no_auth_user` must name one of the users.
    fn validate_no_auth_user(&self, name: &str) -> Result<(), ValidateError> {
        if name.is_empty() {
            return Ok(());
        }
        if self.users.is_empty() {
            return Err(ValidateError::NoAuthUserWithoutUsers(name.to_string()));
        }
        if !self.users.iter().any(|u| u.username == name) {
            return Err(ValidateError::NoAuthUserUnknown(name.to_string()));
        }
        Ok(())
    }

    /// Go's checks of an enabled `websocket` block. A `jwt_cookie` needs
    /// trusted keys, which natsd refuses (operator mode), so natsd never
    /// starts with one.
    fn validate_websocket(&self) -> Result<(), ValidateError> {
        let w = &self.websocket;
        if w.port == 0 {
            return Ok(());
        }
        if w.tls.is_none() && !w.no_tls {
            return Err(ValidateError::WebsocketTls);
        }
        if let Some(e) = w
            .allowed_origins
            .iter()
            .find_map(|o| natsd_proto::url::parse(o).err())
        {
            return Err(ValidateError::WebsocketAllowedOrigin(e.to_string()));
        }
        self.validate_no_auth_user(&w.no_auth_user)?;
        if !self.users.is_empty() || !self.nkeys.is_empty() {
            if !w.username.is_empty() {
                return Err(ValidateError::WebsocketAuthWithUsers("username"));
            }
            if !w.token.is_empty() {
                return Err(ValidateError::WebsocketAuthWithUsers("token"));
            }
        }
        let trusted = self
            .refusals
            .iter()
            .any(|r| r.kind == super::unserved::RefusalKind::OperatorMode);
        if !w.jwt_cookie.is_empty() && !trusted {
            return Err(ValidateError::WebsocketJwtCookie(w.jwt_cookie.clone()));
        }
        Ok(())
    }

    /// Go's checks of the JetStream domain: it must make a valid API
    /// subject and be a valid name.
    fn validate_jetstream_domain(&self) -> Result<(), ValidateError> {
        let domain = &self.jetstream_config.domain;
        if domain.is_empty() {
            return Ok(());
        }
        let subject = format!("$JS.{domain}.API.>");
        if !natsd_proto::subject::is_valid_subject(subject.as_bytes()) {
            return Err(ValidateError::DomainSubject(
                serde_json::to_string(&subject).unwrap_or_default(),
            ));
        }
        if !crate::jetstream::stream::check::is_valid_name(domain) {
            return Err(ValidateError::DomainName);
        }
        Ok(())
    }

    /// Go's checks of a gateway block, which refuse to start the server.
    fn validate_gateway(&self) -> Result<(), ValidateError> {
        let g = &self.gateway;
        if g.name.is_empty() && g.port == 0 {
            return Ok(());
        }
        if g.name.is_empty() {
            return Err(ValidateError::GatewayName);
        }
        if g.port == 0 {
            return Err(ValidateError::GatewayPort(g.name.clone()));
        }
        for (i, remote) in g.gateways.iter().enumerate() {
            if remote.name.is_empty() {
                return Err(ValidateError::RemoteGatewayName(i));
            }
            if remote.urls.is_empty() {
                return Err(ValidateError::RemoteGatewayUrl(remote.name.clone()));
            }
        }
        Ok(())
    }

    /// When the only configured account is the system account (given users
    /// so that operators can reach it), Go keeps the global account open to
    /// clients without credentials through a hidden no_auth_user. `reuse`
    /// is the name chosen before, kept across reloads so that connected
    /// clients keep their user. Returns the hidden user's name, if added.
    pub fn add_system_only_no_auth_user(&mut self, reuse: Option<&str>) -> Option<String> {
        let [only] = self.accounts.as_slice() else {
            return None;
        };
        let is_system = if self.system_account.is_empty() {
            only.name == super::accounts::DEFAULT_SYSTEM_ACCOUNT
        } else {
            only.name == self.system_account
        };
        if !is_system || !self.no_auth_user.is_empty() {
            return None;
        }
        let name = reuse.map_or_else(hidden_user_name, str::to_string);
        self.users.push(User {
            username: name.clone(),
            password: name[6..].to_string(),
            ..Default::default()
        });
        self.no_auth_user = name.clone();
        self.no_auth_user_is_hidden = true;
        Some(name)
    }
}

/// `nats-` and eight random base-62 digits, as Go names its hidden user.
fn hidden_user_name() -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::thread_rng();
    let suffix: String = (0..8)
        .map(|_| DIGITS[rng.gen_range(0..DIGITS.len())] as char)
        .collect();
    format!("nats-{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::AccountConfig;

    fn with_accounts(names: &[&str]) -> Options {
        Options {
            accounts: names
                .iter()
                .map(|n| AccountConfig {
                    name: n.to_string(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn errors_are_go_texts() {
        let err = |o: Options| o.validate().unwrap_err().to_string();
        assert_eq!(
            err(Options {
                lame_duck_duration: Duration::from_secs(30),
                lame_duck_grace_period: Duration::from_secs(30),
                ..Default::default()
            }),
            "lame duck grace period (30s) should be strictly lower than lame duck duration (30s)"
        );
        assert_eq!(
            err(Options {
                max_payload: 2,
                max_pending: 1,
                ..Default::default()
            }),
            "max_payload (2) cannot be higher than max_pending (1)"
        );
        assert_eq!(
            err(Options {
                no_auth_user: "x".into(),
                ..Default::default()
            }),
            "no_auth_user: \"x\" present, but users are not defined"
        );
        let mut o = Options::default();
        o.gateway.name = "g".into();
        assert_eq!(
            err(o),
            "gateway \"g\" has no port specified (select -1 for random port)"
        );
    }

    #[test]
    fn hidden_user_only_for_a_lone_system_account() {
        let mut o = with_accounts(&["$SYS"]);
        let name = o.add_system_only_no_auth_user(None).unwrap();
        assert!(name.starts_with("nats-") && name.len() == 13);
        assert_eq!(o.no_auth_user, name);
        assert!(o.no_auth_user_is_hidden);
        assert!(o.validate().is_ok());

        let mut o = with_accounts(&["$SYS"]);
        assert_eq!(o.add_system_only_no_auth_user(Some(&name)), Some(name));

        assert_eq!(
            with_accounts(&["ACC"]).add_system_only_no_auth_user(None),
            None
        );
        assert_eq!(
            with_accounts(&["$SYS", "ACC"]).add_system_only_no_auth_user(None),
            None
        );
        let mut o = with_accounts(&["S"]);
        o.system_account = "S".into();
        assert!(o.add_system_only_no_auth_user(None).is_some());
    }
}
