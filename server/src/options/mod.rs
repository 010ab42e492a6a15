//! Server options: defaults, the configuration file, and how Go reports
//! what it could not accept.

pub mod accounts;
pub mod cluster;
pub mod duration;
pub mod flag_overrides;
pub mod gateway;
pub mod jetstream;
pub mod leafnodes;
pub mod links;
pub mod mappings;
pub mod mqtt;
pub mod nkeys;
pub mod tls;
pub mod unserved;
pub mod users;
mod validate;
pub mod websocket;

use crate::config::{self, ConfError, Map, Node, Value};
pub use accounts::AccountConfig;
use duration::{format_go_duration, parse_go_duration};
use std::fmt;
use std::path::Path;
use std::time::Duration;
pub use users::{NkeyUser, Permissions, ResponsePermission, User};
pub use validate::ValidateError;

pub const DEFAULT_PORT: i64 = 4222;
pub const DEFAULT_HOST: &str = "0.0.0.0";
pub const MAX_CONTROL_LINE_SIZE: i32 = 4096;
pub const MAX_PAYLOAD_SIZE: i32 = 1024 * 1024;
pub const MAX_PAYLOAD_MAX_SIZE: i32 = 8 * 1024 * 1024;
pub const MAX_PENDING_SIZE: i64 = 64 * 1024 * 1024;
pub const DEFAULT_MAX_CONNECTIONS: i64 = 64 * 1024;
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(120);
pub const DEFAULT_PING_MAX_OUT: i64 = 2;
pub const DEFAULT_FLUSH_DEADLINE: Duration = Duration::from_secs(10);
pub const DEFAULT_LAME_DUCK_DURATION: Duration = Duration::from_secs(120);
pub const DEFAULT_LAME_DUCK_GRACE_PERIOD: Duration = Duration::from_secs(10);
pub const AUTH_TIMEOUT_SECS: f64 = 2.0;

/// Everything the server is configured with. Field meanings follow the Go
/// server's `Options`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub config_file: String,
    pub server_name: String,
    pub host: String,
    pub port: i64,
    pub client_advertise: String,
    pub check_config: bool,

    pub debug: bool,
    pub trace: bool,
    pub trace_verbose: bool,
    pub logtime: bool,
    pub log_file: String,
    pub log_size_limit: i64,
    pub max_traced_msg_len: i64,
    pub syslog: bool,
    pub remote_syslog: String,
    pub pid_file: String,
    pub ports_file_dir: String,

    pub http_host: String,
    pub http_port: i64,
    pub https_port: i64,
    pub http_base_path: String,
    pub prof_port: i64,

    pub max_conn: i64,
    pub max_subs: i64,
    pub max_sub_tokens: u8,
    pub max_control_line: i32,
    pub max_payload: i32,
    pub max_pending: i64,
    pub ping_interval: Duration,
    pub max_pings_out: i64,
    pub write_deadline: Duration,
    pub lame_duck_duration: Duration,
    pub lame_duck_grace_period: Duration,

    pub username: String,
    pub password: String,
    pub authorization: String,
    pub auth_timeout: f64,
    pub users: Vec<User>,
    pub nkeys: Vec<NkeyUser>,
    pub no_auth_user: String,
    /// Accounts from the `accounts` block (the global and system accounts
    /// are implicit).
    pub accounts: Vec<AccountConfig>,
    /// The top-level `mappings` block: subject mappings of the global
    /// account.
    pub mappings: Vec<natsd_proto::mapping::MappingConfig>,

    pub no_header_support: bool,
    pub no_sublist_cache: bool,
    pub no_system_account: bool,
    pub system_account: String,

    pub jetstream: bool,
    pub store_dir: String,
    pub jetstream_config: jetstream::JetStreamConfig,

    pub tls: bool,
    pub tls_verify: bool,
    pub tls_cert: String,
    pub tls_key: String,
    pub tls_ca_cert: String,

    pub routes_str: String,
    pub cluster_listen: String,
    pub cluster_name: String,
    pub cluster_advertise: String,
    pub cluster_no_advertise: bool,
    pub cluster_connect_retries: i64,
    pub cluster_port: i64,
    pub cluster_host: String,
    pub cluster_username: String,
    pub cluster_password: String,
    pub cluster_auth_timeout: f64,
    /// Route URLs from the `cluster` block.
    pub routes: Vec<String>,
    /// The `cluster` block's `tls`.
    pub cluster_tls: Option<tls::TlsConfig>,

    /// The top-level `tls` block (client connections).
    pub tls_config: Option<tls::TlsConfig>,
    /// `allow_non_tls`: with a `tls` block, clients may also connect in
    /// plain text.
    pub allow_non_tls: bool,
    /// `resolver_tls`: how to reach a URL account resolver.
    pub resolver_tls: Option<tls::TlsConfig>,
    pub gateway: gateway::GatewayOpts,
    pub leafnode: leafnodes::LeafNodeOpts,
    pub websocket: websocket::WebsocketOpts,
    pub mqtt: mqtt::MqttOpts,

    /// `server_tags`, lower-cased and without duplicates.
    pub tags: Vec<String>,

    /// How often (in attempts) route, gateway and leafnode connect errors
    /// are logged.
    pub connect_error_reports: i64,
    pub reconnect_error_reports: i64,
    /// `no_auth_user` is the hidden user added for the global account when
    /// the only configured account is the system account (see
    /// [`Options::add_system_only_no_auth_user`]); it does not lift
    /// `auth_required` in INFO.
    pub no_auth_user_is_hidden: bool,
    /// Options set in the config that natsd does not serve and will not
    /// start with (see [`unserved`]).
    pub refusals: Vec<unserved::Refusal>,
    /// Where the websocket block's `tls` sets `verify_and_map`, if it does.
    pub ws_tls_map_at: Option<String>,
}

/// The address keys every listener block has (`listen`, `port`, `host` or
/// `net`); false for any other key. A bad `listen` is recorded and the
/// block goes on; a value of the wrong type abandons the block.
fn listener_key(
    key: &str,
    v: &Node,
    host: &mut String,
    port: &mut i64,
    errs: &mut ConfigErrors,
) -> Result<bool, Recorded> {
    match key {
        "listen" => match parse_listen(v) {
            Ok((h, p)) => {
                *host = h;
                *port = p;
            }
            Err(e) => errs.error(v, e),
        },
        "port" => *port = Field(v).int(errs)?,
        "host" | "net" => *host = Field(v).string(errs)?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// Walks a list-of-blocks field (a gateway's `gateways`, a leaf node's
/// `remotes`) in order: `each` gets every map entry; an entry that is not a
/// map is recorded (named `entry`) and skipped. Not a list: Go's error for
/// the whole block. `each` failing with `Err(None)` (a wrong type, already
/// recorded) abandons the rest of the list, as Go does.
fn each_map<'a>(
    node: &'a Node,
    field: &str,
    entry: &str,
    errs: &mut ConfigErrors,
    mut each: impl FnMut(&'a Map, &mut ConfigErrors) -> Result<(), Option<String>>,
) -> Result<(), Option<String>> {
    let Value::Array(items) = &node.value else {
        return Err(Some(format!(
            "Expected {field} field to be an array, got {}",
            node.value.kind_name()
        )));
    };
    for item in items {
        match &item.value {
            Value::Map(m) => each(m, errs)?,
            other => errs.error(
                item,
                format!(
                    "Expected {entry} entry to be a map/struct, got {}",
                    users::go_value(other)
                ),
            ),
        }
    }
    Ok(())
}

pub const DEFAULT_CONNECT_ERROR_REPORTS: i64 = 3600;
pub const DEFAULT_RECONNECT_ERROR_REPORTS: i64 = 1;

impl Options {
    /// The values before any flag or config file: Go's flag defaults that
    /// differ from the zero value.
    pub fn with_flag_defaults() -> Options {
        Options {
            logtime: true,
            ..Default::default()
        }
    }

    /// Fills in what was left unset, as the Go server does before starting.
    pub fn set_baseline(&mut self) {
        if self.connect_error_reports == 0 {
            self.connect_error_reports = DEFAULT_CONNECT_ERROR_REPORTS;
        }
        if self.reconnect_error_reports == 0 {
            self.reconnect_error_reports = DEFAULT_RECONNECT_ERROR_REPORTS;
        }
        if self.host.is_empty() {
            self.host = DEFAULT_HOST.into();
        }
        if self.http_host.is_empty() {
            self.http_host = self.host.clone();
        }
        if self.port == 0 {
            self.port = DEFAULT_PORT;
        } else if self.port == -1 {
            self.port = 0;
        }
        if self.max_conn == 0 {
            self.max_conn = DEFAULT_MAX_CONNECTIONS;
        }
        if self.ping_interval.is_zero() {
            self.ping_interval = DEFAULT_PING_INTERVAL;
        }
        if self.max_pings_out == 0 {
            self.max_pings_out = DEFAULT_PING_MAX_OUT;
        }
        if self.auth_timeout == 0.0 {
            self.auth_timeout = AUTH_TIMEOUT_SECS;
        }
        if self.max_control_line == 0 {
            self.max_control_line = MAX_CONTROL_LINE_SIZE;
        }
        if self.max_payload == 0 {
            self.max_payload = MAX_PAYLOAD_SIZE;
        }
        if self.max_pending == 0 {
            self.max_pending = MAX_PENDING_SIZE;
        }
        if self.write_deadline.is_zero() {
            self.write_deadline = DEFAULT_FLUSH_DEADLINE;
        }
        if self.lame_duck_duration.is_zero() {
            self.lame_duck_duration = DEFAULT_LAME_DUCK_DURATION;
        }
        if self.lame_duck_grace_period.is_zero() {
            self.lame_duck_grace_period = DEFAULT_LAME_DUCK_GRACE_PERIOD;
        }
    }

    /// Every configured user name and nkey, for duplicate checks.
    fn user_names(&self) -> Vec<String> {
        self.users
            .iter()
            .map(|u| u.username.clone())
            .chain(self.nkeys.iter().map(|n| n.nkey.clone()))
            .collect()
    }

    /// Applies a configuration file on top of the current values.
    pub fn process_config_file(&mut self, path: &str) -> Result<(), ConfigFileError> {
        self.config_file = path.to_string();
        if path.is_empty() {
            return Ok(());
        }
        let map = config::load(Path::new(path)).map_err(ConfigFileError::Parse)?;
        let mut errs = ConfigErrors::default();
        for key in ["system_account", "system"] {
            if let Some((_, v)) = map.iter().find(|(k, _)| *k == key) {
                match v.as_str() {
                    Some(s) => self.system_account = s.to_string(),
                    None => errs.error(v, "system account name must be a string".into()),
                }
                break;
            }
        }
        for (k, v) in map.iter() {
            // A wrong type aborts this key only, as Go's recovered panic does.
            let _ = self.process_line(k, v, &mut errs);
        }
        if errs.errors.is_empty() && errs.warnings.is_empty() {
            Ok(())
        } else {
            Err(ConfigFileError::Process(errs))
        }
    }

    fn process_line(&mut self, k: &str, v: &Node, errs: &mut ConfigErrors) -> Result<(), Recorded> {
        let f = Field(v);
        match k.to_lowercase().as_str() {
            "listen" => {
                let (h, p) = parse_listen(v).map_err(|e| errs.reject(v, e))?;
                self.host = h;
                self.port = p;
            }
            "client_advertise" => self.client_advertise = f.string(errs)?,
            "port" => self.port = f.int(errs)?,
            "server_name" => self.server_name = f.string(errs)?,
            "host" | "net" => self.host = f.string(errs)?,
            "debug" => self.debug = f.boolean(errs)?,
            "trace" => self.trace = f.boolean(errs)?,
            "trace_verbose" => {
                self.trace_verbose = f.boolean(errs)?;
                self.trace = self.trace_verbose;
            }
            "logtime" => self.logtime = f.boolean(errs)?,
            "disable_sublist_cache" | "no_sublist_cache" => {
                self.no_sublist_cache = f.boolean(errs)?
            }
            "authorization" => self.apply_authorization(v, errs)?,
            "http" => {
                let (h, p) = parse_listen(v).map_err(|e| errs.reject(v, e))?;
                self.http_host = h;
                self.http_port = p;
            }
            "https" => {
                let (h, p) = parse_listen(v).map_err(|e| errs.reject(v, e))?;
                self.http_host = h;
                self.https_port = p;
            }
            "http_port" | "monitor_port" => self.http_port = f.int(errs)?,
            "https_port" => self.https_port = f.int(errs)?,
            "http_base_path" => self.http_base_path = f.string(errs)?,
            "store_dir" | "storedir" => {
                if !self.store_dir.is_empty() {
                    errs.error(v, "Duplicate 'store_dir' configuration".into());
                    return Err(Recorded);
                }
                self.store_dir = f.string(errs)?;
            }
            "jetstream" => jetstream::parse_jetstream(v, self, errs)?,
            "logfile" | "log_file" => self.log_file = f.string(errs)?,
            "logfile_size_limit" | "log_size_limit" => self.log_size_limit = f.int(errs)?,
            "syslog" => self.syslog = f.boolean(errs)?,
            "remote_syslog" => self.remote_syslog = f.string(errs)?,
            "pidfile" | "pid_file" => self.pid_file = f.string(errs)?,
            "ports_file_dir" => self.ports_file_dir = f.string(errs)?,
            "prof_port" => self.prof_port = f.int(errs)?,
            "max_control_line" => {
                let n = f.int(errs)?;
                if n > i32::MAX as i64 {
                    errs.error(v, format!("{k} value is too big"));
                    return Err(Recorded);
                }
                self.max_control_line = n as i32;
            }
            "max_payload" => {
                let n = f.int(errs)?;
                if n > i32::MAX as i64 {
                    errs.error(v, format!("{k} value is too big"));
                    return Err(Recorded);
                }
                self.max_payload = n as i32;
            }
            "max_pending" => self.max_pending = f.int(errs)?,
            "max_connections" | "max_conn" => self.max_conn = f.int(errs)?,
            "max_traced_msg_len" => self.max_traced_msg_len = f.int(errs)?,
            "max_subscriptions" | "max_subs" => self.max_subs = f.int(errs)?,
            "max_sub_tokens" | "max_subscription_tokens" => {
                let n = f.int(errs)?;
                if n > u8::MAX as i64 {
                    errs.error(v, format!("{k} value is too big"));
                    return Err(Recorded);
                } else if n <= 0 {
                    errs.error(v, format!("{k} value can not be negative"));
                    return Err(Recorded);
                }
                self.max_sub_tokens = n as u8;
            }
            "ping_interval" => self.ping_interval = parse_duration_field("ping_interval", v, errs),
            "ping_max" => self.max_pings_out = f.int(errs)?,
            "write_deadline" => {
                self.write_deadline = parse_duration_field("write_deadline", v, errs)
            }
            "lame_duck_duration" => {
                let ns = parse_go_duration(&f.string(errs)?).map_err(|e| {
                    errs.reject(v, format!("error parsing lame_duck_duration: {e}"))
                })?;
                if ns < 30_000_000_000 {
                    errs.error(
                        v,
                        format!(
                            "invalid lame_duck_duration of {}, minimum is 30 seconds",
                            duration::format_nanos(ns)
                        ),
                    );
                    return Err(Recorded);
                }
                self.lame_duck_duration = Duration::from_nanos(ns as u64);
            }
            "lame_duck_grace_period" => {
                let ns = parse_go_duration(&f.string(errs)?).map_err(|e| {
                    errs.reject(v, format!("error parsing lame_duck_grace_period: {e}"))
                })?;
                if ns < 0 {
                    errs.error(
                        v,
                        "invalid lame_duck_grace_period, needs to be positive".into(),
                    );
                    return Err(Recorded);
                }
                self.lame_duck_grace_period = Duration::from_nanos(ns as u64);
            }
            "no_auth_user" => self.no_auth_user = f.string(errs)?,
            "accounts" => accounts::parse_accounts(v, self, errs),
            "mappings" | "maps" => self.mappings.extend(mappings::parse_mappings(v, errs)),
            "server_tags" => self.add_tags(v, errs),
            "system_account" | "system" => {}
            "no_system_account" | "no_system" | "no_sys_acc" => {
                self.no_system_account = f.boolean(errs)?
            }
            "no_header_support" => self.no_header_support = f.boolean(errs)?,
            "cluster" => cluster::parse_cluster(v, self, errs)?,
            "gateway" => gateway::parse_gateway(v, self, errs)?,
            "leaf" | "leafnodes" => leafnodes::parse_leafnodes(v, self, errs)?,
            "websocket" | "ws" => websocket::parse_websocket(v, self, errs)?,
            "mqtt" => mqtt::parse_mqtt(v, self, errs)?,
            "tls" => {
                let tc = tls::parse_and_load(v, tls::Context::Client, errs)?;
                self.tls_config = Some(tc);
            }
            "resolver_tls" => {
                self.resolver_tls = Some(tls::parse_and_load(v, tls::Context::Client, errs)?)
            }
            "connect_error_reports" => self.connect_error_reports = f.int(errs)?,
            "allow_non_tls" => self.allow_non_tls = f.boolean(errs)?,
            "reconnect_error_reports" => self.reconnect_error_reports = f.int(errs)?,
            key if unserved::RefusalKind::of_top_level_key(key).is_some() => {
                self.refusals.push(unserved::Refusal {
                    location: v.location(),
                    option: k.to_string(),
                    kind: unserved::RefusalKind::of_top_level_key(key).expect("matched"),
                })
            }
            // Known to the Go server; without effect in natsd, and none of
            // them admits anything.
            "client_advertise_disabled" | "ocsp" | "roots" | "root" | "default_js_domain" => {}
            _ => {
                if !v.used_variable {
                    errs.unknown(v, k);
                }
            }
        }
        Ok(())
    }

    /// Go's tag list: a string or an array of strings.
    fn add_tags(&mut self, v: &Node, errs: &mut ConfigErrors) {
        let mut add = |t: &str| {
            let t = t.trim().to_lowercase();
            if !t.is_empty() && !self.tags.contains(&t) {
                self.tags.push(t);
            }
        };
        match &v.value {
            Value::Str(s) => add(s),
            Value::Array(items) => {
                for item in items {
                    match &item.value {
                        Value::Str(s) => add(s),
                        _ => {
                            errs.error(
                                v,
                                "error parsing tags: unsupported type *conf.token where string is expected".into(),
                            );
                            break;
                        }
                    }
                }
            }
            other => errs.error(
                v,
                format!("error parsing tags: unsupported type {}", other.kind_name()),
            ),
        }
    }

    fn apply_authorization(&mut self, v: &Node, errs: &mut ConfigErrors) -> Result<(), Recorded> {
        let auth = users::parse_authorization(v, errs)
            .or_else(|Recorded| errs.fail(v, users::NIL_DEREF.into()))?;
        self.username = auth.user.clone();
        self.password = auth.pass.clone();
        self.authorization = auth.token.clone();
        self.auth_timeout = auth.timeout;
        if (!auth.user.is_empty() || !auth.pass.is_empty()) && !auth.token.is_empty() {
            errs.error(v, "Cannot have a user/pass and token".into());
            return Err(Recorded);
        }
        let mut names = self.user_names();
        if auth.users.is_some() || !names.is_empty() {
            if !auth.user.is_empty() {
                errs.error(
                    v,
                    "Can not have a single user/pass and a users array".into(),
                );
                return Err(Recorded);
            }
            if !auth.token.is_empty() {
                errs.error(v, "Can not have a token and a users array".into());
                return Err(Recorded);
            }
            for u in auth.users.iter().flatten() {
                if names.contains(&u.username) {
                    errs.error(v, format!("Duplicate user \"{}\" detected", u.username));
                    return Err(Recorded);
                }
                names.push(u.username.clone());
            }
            self.users.extend(auth.users.into_iter().flatten());
        }
        for n in &auth.nkeys {
            if names.contains(&n.nkey) {
                errs.error(v, format!("Duplicate nkey \"{}\" detected", n.nkey));
                return Err(Recorded);
            }
            names.push(n.nkey.clone());
        }
        self.nkeys.extend(auth.nkeys);
        Ok(())
    }
}

/// A duration given as a Go duration string, or (with a warning) as a number
/// of seconds.
fn parse_duration_field(field: &str, v: &Node, errs: &mut ConfigErrors) -> Duration {
    match &v.value {
        Value::Str(s) => match parse_go_duration(s) {
            Ok(ns) => Duration::from_nanos(ns.max(0) as u64),
            Err(e) => {
                errs.error(v, format!("error parsing {field}: {e}"));
                Duration::ZERO
            }
        },
        other => {
            // Go warns before it finds out the value is not a number either.
            errs.warnings.push(format!(
                "{}: invalid use of field \"{field}\": {field} should be converted to a duration",
                v.location()
            ));
            match other {
                Value::Int(i) => Duration::from_secs((*i).max(0) as u64),
                _ => {
                    errs.error(v, type_mismatch(other, "int64"));
                    Duration::ZERO
                }
            }
        }
    }
}

fn parse_listen(v: &Node) -> Result<(String, i64), String> {
    match &v.value {
        Value::Int(p) => Ok((String::new(), *p)),
        Value::Str(s) => {
            let (host, port) = split_host_port(s)
                .ok_or_else(|| format!("could not parse address string \"{s}\""))?;
            let port: i64 = port
                .parse()
                .map_err(|_| format!("could not parse port \"{port}\""))?;
            Ok((host, port))
        }
        other => Err(format!(
            "expected port or host:port, got {}",
            other.kind_name()
        )),
    }
}

/// Splits "host:port", "[v6]:port" or ":port" like Go's net.SplitHostPort.
pub fn split_host_port(s: &str) -> Option<(String, String)> {
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        let host = &rest[..end];
        let port = rest[end + 1..].strip_prefix(':')?;
        if port.contains(':') {
            return None;
        }
        return Some((host.to_string(), port.to_string()));
    }
    let i = s.rfind(':')?;
    let host = &s[..i];
    if host.contains(':') {
        return None;
    }
    Some((host.to_string(), s[i + 1..].to_string()))
}

/// Go's panic text for a failed type assertion on a config value.
pub(crate) fn type_mismatch(got: &Value, want: &str) -> String {
    format!(
        "interface conversion: interface {{}} is {}, not {want}",
        got.kind_name()
    )
}

/// Typed access to a config value; a wrong type records Go's text.
pub(crate) struct Field<'a>(pub &'a Node);

impl<'a> Field<'a> {
    pub fn string(&self, errs: &mut ConfigErrors) -> Result<String, Recorded> {
        match &self.0.value {
            Value::Str(s) => Ok(s.clone()),
            other => errs.fail(self.0, type_mismatch(other, "string")),
        }
    }

    pub fn int(&self, errs: &mut ConfigErrors) -> Result<i64, Recorded> {
        match &self.0.value {
            Value::Int(i) => Ok(*i),
            other => errs.fail(self.0, type_mismatch(other, "int64")),
        }
    }

    pub fn boolean(&self, errs: &mut ConfigErrors) -> Result<bool, Recorded> {
        match &self.0.value {
            Value::Bool(b) => Ok(*b),
            other => errs.fail(self.0, type_mismatch(other, "bool")),
        }
    }

    pub fn map(&self, errs: &mut ConfigErrors) -> Result<&'a crate::config::Map, Recorded> {
        match &self.0.value {
            Value::Map(m) => Ok(m),
            other => errs.fail(self.0, type_mismatch(other, "map[string]interface {}")),
        }
    }
}

/// A parse step failed and its error is already in [`ConfigErrors`]: the
/// caller only stops (Go reports every error of a file at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded;

/// Errors and warnings collected while applying a configuration file.
#[derive(Debug, Default)]
pub struct ConfigErrors {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

impl ConfigErrors {
    pub fn error(&mut self, at: &Node, reason: String) {
        self.errors.push(format!("{}: {reason}", at.location()));
    }

    /// Records an error and gives the value that says so (for `map_err`).
    pub fn reject(&mut self, at: &Node, reason: String) -> Recorded {
        self.error(at, reason);
        Recorded
    }

    /// Records an error and fails.
    pub fn fail<T>(&mut self, at: &Node, reason: String) -> Result<T, Recorded> {
        self.error(at, reason);
        Err(Recorded)
    }

    pub fn unknown(&mut self, at: &Node, field: &str) {
        self.errors.push(format!(
            "{}: unknown field {}",
            at.location(),
            natsd_proto::quote::go_quote(field.as_bytes())
        ));
    }
}

/// Why a configuration file was not (fully) accepted.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("{0}")]
    Parse(ConfError),
    #[error("{0}")]
    Process(ConfigErrors),
}

impl ConfigFileError {
    /// Only warnings: the server may still start.
    pub fn is_warnings_only(&self) -> bool {
        matches!(self, ConfigFileError::Process(e) if e.errors.is_empty())
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for w in &self.warnings {
            writeln!(f, "{w}")?;
        }
        for e in &self.errors {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Go's `%v` of a duration, for log lines.
pub fn go_duration(d: Duration) -> String {
    format_go_duration(d)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    pub(crate) fn load(text: &str) -> (Options, Result<(), ConfigFileError>) {
        let dir = std::env::temp_dir().join(format!(
            "natsd-opts-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.conf");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let mut o = Options::default();
        let r = o.process_config_file(path.to_str().unwrap());
        std::fs::remove_dir_all(&dir).ok();
        (o, r)
    }

    #[test]
    fn basic_fields() {
        let (o, r) = load(
            "port: 4333\nhost: 127.0.0.1\nmax_payload: 2048\nping_interval: \"5s\"\nserver_name: x\n",
        );
        r.unwrap();
        assert_eq!(o.port, 4333);
        assert_eq!(o.host, "127.0.0.1");
        assert_eq!(o.max_payload, 2048);
        assert_eq!(o.ping_interval, Duration::from_secs(5));
        assert_eq!(o.server_name, "x");
    }

    #[test]
    fn unknown_field_and_warning() {
        let (_, r) = load("foo: 1\nping_interval: 5\n");
        let e = r.unwrap_err();
        let text = e.to_string();
        assert!(text.contains(":1:0: unknown field \"foo\""), "{text}");
        assert!(text.contains("should be converted to a duration"), "{text}");
        assert!(!e.is_warnings_only());
    }

    #[test]
    fn wrong_type() {
        let (_, r) = load("port: \"abc\"\n");
        assert!(r
            .unwrap_err()
            .to_string()
            .contains("interface conversion: interface {} is string, not int64"));
    }

    #[test]
    fn authorization_users() {
        let (o, r) = load(
            "authorization { users: [ {user: a, password: b, permissions: { publish: \"foo.>\", subscribe: { deny: [\"bar\"] } }} ] }\n",
        );
        r.unwrap();
        assert_eq!(o.users.len(), 1);
        let p = o.users[0].permissions.as_ref().unwrap();
        assert_eq!(
            p.publish.as_ref().unwrap().allow,
            Some(vec!["foo.>".to_string()])
        );
        assert_eq!(
            p.subscribe.as_ref().unwrap().deny,
            Some(vec!["bar".to_string()])
        );
    }

    #[test]
    fn lame_duck_minimum() {
        let (_, r) = load("lame_duck_duration: \"1s\"\n");
        assert!(r
            .unwrap_err()
            .to_string()
            .contains("invalid lame_duck_duration of 1s, minimum is 30 seconds"));
    }

    #[test]
    fn host_port_split() {
        assert_eq!(
            split_host_port("127.0.0.1:4222"),
            Some(("127.0.0.1".into(), "4222".into()))
        );
        assert_eq!(
            split_host_port("[::1]:80"),
            Some(("::1".into(), "80".into()))
        );
        assert_eq!(split_host_port("abc"), None);
    }
}
