//! Checks and adjustments made to a complete set of options, at start-up
//! and again on every reload, before the server uses them.

use super::{go_duration, Options, User};
use rand::Rng;

impl Options {
    /// The checks Go makes before a server starts (or a reload is applied).
    pub fn validate(&self) -> Result<(), String> {
        if !self.lame_duck_duration.is_zero()
            && self.lame_duck_grace_period >= self.lame_duck_duration
        {
            return Err(format!(
                "lame duck grace period ({}) should be strictly lower than lame duck duration ({})",
                go_duration(self.lame_duck_grace_period),
                go_duration(self.lame_duck_duration)
            ));
        }
        if i64::from(self.max_payload) > self.max_pending {
            return Err(format!(
                "max_payload ({}) cannot be higher than max_pending ({})",
                self.max_payload, self.max_pending
            ));
        }
        if !self.no_auth_user.is_empty() {
            if self.users.is_empty() {
                return Err(format!(
                    "no_auth_user: \"{}\" present, but users are not defined",
                    self.no_auth_user
                ));
            }
            if !self.users.iter().any(|u| u.username == self.no_auth_user) {
                return Err(format!(
                    "no_auth_user: \"{}\" not present as user in authorization block or account configuration",
                    self.no_auth_user
                ));
            }
        }
        self.validate_gateway()?;
        // A gateway names its cluster: a cluster block naming another is
        // refused even though natsd serves neither.
        if !self.gateway.name.is_empty()
            && !self.cluster_name.is_empty()
            && self.gateway.name != self.cluster_name
        {
            return Err("cluster name conflicts between cluster and gateway definitions".into());
        }
        Ok(())
    }

    /// Go's checks of a gateway block, which refuse to start the server.
    fn validate_gateway(&self) -> Result<(), String> {
        let g = &self.gateway;
        if g.name.is_empty() && g.port == 0 {
            return Ok(());
        }
        if g.name.is_empty() {
            return Err("gateway has no name".into());
        }
        if g.port == 0 {
            return Err(format!(
                "gateway {:?} has no port specified (select -1 for random port)",
                g.name
            ));
        }
        for (i, remote) in g.gateways.iter().enumerate() {
            if remote.name.is_empty() {
                return Err(format!("gateway in the list {i} has no name"));
            }
            if remote.urls.is_empty() {
                return Err(format!("gateway {:?} has no URL", remote.name));
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
