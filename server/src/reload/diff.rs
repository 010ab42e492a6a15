//! What a reload changes: the old and new options compared field by field
//! in the order of Go's `Options` struct, so that when several options
//! cannot be reloaded the one Go names is named here too.

use super::ReloadError;
use crate::options::{go_duration, Options};
use std::fmt::Display;
use std::time::Duration;

/// One reloadable option that changed, with its new value.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    ClientAdvertise(String),
    Trace(bool),
    Debug(bool),
    TraceVerbose(bool),
    Logtime(bool),
    MaxConn(i64),
    Nkeys,
    /// Go treats users and accounts as changed on every reload.
    Users,
    Accounts,
    Username,
    Password,
    Authorization,
    PingInterval(Duration),
    MaxPingsOut(i64),
    AuthTimeout(f64),
    MaxControlLine(i32),
    MaxPayload(i32),
    /// Something in the `cluster` block other than its listen address.
    Cluster {
        name: String,
    },
    JetStream(bool),
    PidFile(String),
    PortsFileDir {
        old: String,
        new: String,
    },
    LogFile(String),
    Syslog(bool),
    RemoteSyslog(String),
    Routes,
    /// The client `tls` block (turned on, off, or new files).
    Tls,
    WriteDeadline(Duration),
    MaxTracedMsgLen(i64),
    ConnectErrorReports(i64),
    ReconnectErrorReports(i64),
    Tags,
}

impl Change {
    /// The logger must be set up again.
    pub fn is_logging(&self) -> bool {
        matches!(
            self,
            Change::Trace(_)
                | Change::Debug(_)
                | Change::TraceVerbose(_)
                | Change::Logtime(_)
                | Change::LogFile(_)
                | Change::Syslog(_)
                | Change::RemoteSyslog(_)
        )
    }
}

/// Go's refusal for an option that cannot change without a restart.
fn refuse(option: &'static str, old: impl Display, new: impl Display) -> ReloadError {
    ReloadError::Unsupported {
        option,
        old: old.to_string(),
        new: new.to_string(),
    }
}

/// Go's refusal for an advertised address that does not parse.
fn check_advertise(option: &'static str, value: &str) -> Result<(), ReloadError> {
    match crate::net::parse_host_port(value, 0) {
        Ok(_) => Ok(()),
        Err(source) => Err(ReloadError::Advertise {
            option,
            value: value.to_string(),
            source,
        }),
    }
}

/// Compares `old` and `new`; returns the changes to apply, or the error of
/// the first option that cannot be reloaded.
pub fn diff(old: &Options, new: &Options) -> Result<Vec<Change>, ReloadError> {
    let mut out = Vec::new();
    macro_rules! fixed {
        ($field:ident, $name:literal) => {
            if old.$field != new.$field {
                return Err(refuse($name, &old.$field, &new.$field));
            }
        };
    }
    macro_rules! fixed_duration {
        ($field:ident, $name:literal) => {
            if old.$field != new.$field {
                return Err(refuse(
                    $name,
                    go_duration(old.$field),
                    go_duration(new.$field),
                ));
            }
        };
    }
    macro_rules! change {
        ($field:ident, $variant:ident) => {
            if old.$field != new.$field {
                out.push(Change::$variant(new.$field.clone()));
            }
        };
    }
    fixed!(server_name, "ServerName");
    fixed!(host, "Host");
    // A random port (0 after the baseline) keeps the one bound at start.
    if new.port != 0 {
        fixed!(port, "Port");
    }
    if old.client_advertise != new.client_advertise {
        if !new.client_advertise.is_empty() {
            check_advertise("ClientAdvertise", &new.client_advertise)?;
        }
        out.push(Change::ClientAdvertise(new.client_advertise.clone()));
    }
    change!(trace, Trace);
    change!(debug, Debug);
    change!(trace_verbose, TraceVerbose);
    fixed!(no_sublist_cache, "NoSublistCache");
    fixed!(no_header_support, "NoHeaderSupport");
    change!(logtime, Logtime);
    change!(max_conn, MaxConn);
    fixed!(max_subs, "MaxSubs");
    fixed!(max_sub_tokens, "MaxSubTokens");
    if sorted(&old.nkeys, |n| n.nkey.clone()) != sorted(&new.nkeys, |n| n.nkey.clone()) {
        out.push(Change::Nkeys);
    }
    out.push(Change::Users);
    out.push(Change::Accounts);
    if old.no_auth_user != new.no_auth_user {
        // Dropping no_auth_user is allowed once its user is gone too.
        let dropped_with_user = !old.no_auth_user.is_empty()
            && new.no_auth_user.is_empty()
            && !new.users.iter().any(|u| u.username == old.no_auth_user);
        if !dropped_with_user {
            return Err(refuse("NoAuthUser", &old.no_auth_user, &new.no_auth_user));
        }
    }
    if old.system_account != new.system_account
        && !(old.system_account == crate::options::accounts::DEFAULT_SYSTEM_ACCOUNT
            && new.system_account.is_empty())
    {
        return Err(refuse(
            "SystemAccount",
            &old.system_account,
            &new.system_account,
        ));
    }
    fixed!(no_system_account, "NoSystemAccount");
    if old.username != new.username {
        out.push(Change::Username);
    }
    if old.password != new.password {
        out.push(Change::Password);
    }
    if old.authorization != new.authorization {
        out.push(Change::Authorization);
    }
    change!(ping_interval, PingInterval);
    change!(max_pings_out, MaxPingsOut);
    fixed!(http_host, "HTTPHost");
    fixed!(http_port, "HTTPPort");
    fixed!(http_base_path, "HTTPBasePath");
    fixed!(https_port, "HTTPSPort");
    change!(auth_timeout, AuthTimeout);
    change!(max_control_line, MaxControlLine);
    change!(max_payload, MaxPayload);
    fixed!(max_pending, "MaxPending");
    if let Some(change) = diff_cluster(old, new)? {
        out.push(change);
    }
    fixed_block(old.gateway != new.gateway, "Gateway")?;
    fixed_block(old.leafnode != new.leafnode, "LeafNode")?;
    change!(jetstream, JetStream);
    // Only the websocket block's TLS reloads, as in Go.
    let without_tls = |o: &Options| crate::options::websocket::WebsocketOpts {
        tls: None,
        ..o.websocket.clone()
    };
    fixed_block(without_tls(old) != without_tls(new), "Websocket")?;
    fixed_block(old.mqtt != new.mqtt, "MQTT")?;
    fixed!(prof_port, "ProfPort");
    change!(pid_file, PidFile);
    if old.ports_file_dir != new.ports_file_dir {
        out.push(Change::PortsFileDir {
            old: old.ports_file_dir.clone(),
            new: new.ports_file_dir.clone(),
        });
    }
    change!(log_file, LogFile);
    fixed!(log_size_limit, "LogSizeLimit");
    change!(syslog, Syslog);
    change!(remote_syslog, RemoteSyslog);
    if sorted(&old.routes, String::clone) != sorted(&new.routes, String::clone) {
        out.push(Change::Routes);
    }
    fixed!(routes_str, "RoutesStr");
    fixed!(tls, "TLS");
    fixed!(tls_verify, "TLSVerify");
    fixed!(tls_cert, "TLSCert");
    fixed!(tls_key, "TLSKey");
    fixed!(tls_ca_cert, "TLSCaCert");
    if old.tls_config != new.tls_config {
        out.push(Change::Tls);
    }
    fixed!(allow_non_tls, "AllowNonTLS");
    change!(write_deadline, WriteDeadline);
    fixed_duration!(lame_duck_duration, "LameDuckDuration");
    fixed_duration!(lame_duck_grace_period, "LameDuckGracePeriod");
    change!(max_traced_msg_len, MaxTracedMsgLen);
    change!(connect_error_reports, ConnectErrorReports);
    change!(reconnect_error_reports, ReconnectErrorReports);
    if sorted(&old.tags, String::clone) != sorted(&new.tags, String::clone) {
        out.push(Change::Tags);
    }
    Ok(out)
}

/// A block that cannot change without a restart. Go prints both values
/// whole; natsd does not, as they may hold credentials.
fn fixed_block(changed: bool, field: &'static str) -> Result<(), ReloadError> {
    if changed {
        return Err(ReloadError::BlockChanged(field));
    }
    Ok(())
}

/// The `cluster` block: its listen address is fixed, the rest reloads.
fn diff_cluster(old: &Options, new: &Options) -> Result<Option<Change>, ReloadError> {
    if old.cluster_host != new.cluster_host {
        return Err(refuse("cluster host", &old.cluster_host, &new.cluster_host));
    }
    if old.cluster_port != new.cluster_port {
        return Err(refuse("cluster port", old.cluster_port, new.cluster_port));
    }
    if !new.cluster_advertise.is_empty() {
        check_advertise("Cluster.Advertise", &new.cluster_advertise)?;
    }
    let same = old.cluster_listen == new.cluster_listen
        && old.cluster_name == new.cluster_name
        && old.cluster_advertise == new.cluster_advertise
        && old.cluster_no_advertise == new.cluster_no_advertise
        && old.cluster_connect_retries == new.cluster_connect_retries
        && old.cluster_username == new.cluster_username
        && old.cluster_password == new.cluster_password
        && old.cluster_auth_timeout == new.cluster_auth_timeout;
    Ok((!same).then(|| Change::Cluster {
        name: new.cluster_name.clone(),
    }))
}

/// A list whose order does not matter, in a canonical order.
fn sorted<T, K: Ord>(items: &[T], key: impl Fn(&T) -> K) -> Vec<K> {
    let mut keys: Vec<K> = items.iter().map(key).collect();
    keys.sort();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(old: &Options, new: &Options) -> String {
        diff(old, new).unwrap_err().to_string()
    }

    fn base() -> Options {
        let mut o = Options::with_flag_defaults();
        o.set_baseline();
        o
    }

    #[test]
    fn same_options_change_only_users_and_accounts() {
        assert_eq!(
            diff(&base(), &base()).unwrap(),
            vec![Change::Users, Change::Accounts]
        );
    }

    #[test]
    fn first_fixed_field_in_go_order_is_named() {
        let old = base();
        let mut new = base();
        new.max_subs = 10;
        new.prof_port = 1;
        assert_eq!(
            refusal(&old, &new),
            "config reload not supported for MaxSubs: old=0, new=10"
        );
        let mut new = base();
        new.lame_duck_duration = Duration::from_secs(30);
        assert_eq!(
            refusal(&old, &new),
            "config reload not supported for LameDuckDuration: old=2m0s, new=30s"
        );
    }

    #[test]
    fn random_port_is_kept() {
        let mut old = base();
        old.port = 4567;
        let mut new = base();
        new.port = 0;
        assert!(diff(&old, &new).is_ok());
        new.port = 4568;
        assert!(refusal(&old, &new).contains("for Port: old=4567, new=4568"));
    }

    #[test]
    fn no_auth_user_may_go_only_with_its_user() {
        let mut old = base();
        old.no_auth_user = "a".into();
        old.users = vec![crate::options::User {
            username: "a".into(),
            ..Default::default()
        }];
        let mut new = old.clone();
        new.no_auth_user.clear();
        assert!(diff(&old, &new).is_err());
        new.users.clear();
        assert!(diff(&old, &new).is_ok());
    }

    #[test]
    fn reloadable_changes_in_order() {
        let old = base();
        let mut new = base();
        new.max_payload = 1024;
        new.debug = true;
        new.client_advertise = "me:1".into();
        assert_eq!(
            diff(&old, &new).unwrap(),
            vec![
                Change::ClientAdvertise("me:1".into()),
                Change::Debug(true),
                Change::Users,
                Change::Accounts,
                Change::MaxPayload(1024),
            ]
        );
    }

    #[test]
    fn listener_blocks_are_fixed() {
        let old = base();
        let mut new = base();
        new.websocket.port = 8080;
        assert_eq!(
            refusal(&old, &new),
            "config reload not supported for Websocket: the block changed"
        );
    }

    #[test]
    fn cluster_listen_is_fixed() {
        let mut old = base();
        old.cluster_host = "127.0.0.1".into();
        old.cluster_port = 6222;
        let mut new = old.clone();
        new.cluster_name = "xyz".into();
        assert_eq!(
            diff_cluster(&old, &new).unwrap(),
            Some(Change::Cluster { name: "xyz".into() })
        );
        new.cluster_advertise = "h:x".into();
        assert_eq!(
            diff_cluster(&old, &new).unwrap_err().to_string(),
            "invalid Cluster.Advertise value of h:x, err=strconv.Atoi: parsing \"x\": invalid syntax"
        );
        new.cluster_host.clear();
        assert_eq!(
            diff_cluster(&old, &new).unwrap_err().to_string(),
            "config reload not supported for cluster host: old=127.0.0.1, new="
        );
    }
}
