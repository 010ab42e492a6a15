//! Command-line flags, parsed the way Go's `flag` package parses them for
//! nats-server: `-name` and `--name` are the same, values follow `=` or come
//! in the next argument, booleans only take `=value`, and parsing stops at
//! the first argument that is not a flag.

use crate::options::Options;

/// The usage text, byte for byte as nats-server prints it.
pub const USAGE: &str = "
Usage: nats-server [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222)
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring
    -ms,--https_port <port>          Use port for https monitoring
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
    -sl,--signal <signal>[=<pid>]    Send signal to nats-server process (ldm, stop, quit, term, reopen, reload)
                                     pid> can be either a PID (e.g. 1) or the path to a PID file (e.g. /var/run/nats-server.pid)
        --client_advertise <string>  Client URL to advertise to other servers
        --ports_file_dir <dir>       Creates a ports file in the specified directory (<executable_name>_<pid>.ports).

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
    -s, --syslog                     Log to syslog or windows event log
    -r, --remote_syslog <addr>       Syslog server addr (udp://localhost:514)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -VV                              Verbose trace (traces system account as well)
    -DV                              Debug and trace
    -DVV                             Debug and verbose trace (traces system account as well)
        --log_size_limit <limit>     Logfile size limit (default: auto)
        --max_traced_msg_len <len>   Maximum printable length for traced messages (default: unlimited)

JetStream Options:
    -js, --jetstream                 Enable JetStream functionality
    -sd, --store_dir <dir>           Set the storage directory

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification

Cluster Options:
        --routes <rurl-1, rurl-2>    Routes to solicit and connect
        --cluster <cluster-url>      Cluster URL for solicited routes
        --cluster_name <string>      Cluster Name, if not set one will be dynamically generated
        --no_advertise <bool>        Do not advertise known cluster information to clients
        --cluster_advertise <string> Cluster URL to advertise to other servers
        --connect_retries <number>   For implicit routes, number of connect retries
        --cluster_listen <url>       Cluster url from which members can solicit routes

Profiling Options:
        --profile <port>             Profiling HTTP port

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
        --help_tls                   TLS help
";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Int,
    Str,
}

/// Every flag name nats-server defines, with its kind.
const FLAGS: &[(&str, Kind)] = &[
    ("h", Kind::Bool),
    ("help", Kind::Bool),
    ("port", Kind::Int),
    ("p", Kind::Int),
    ("n", Kind::Str),
    ("name", Kind::Str),
    ("server_name", Kind::Str),
    ("addr", Kind::Str),
    ("a", Kind::Str),
    ("net", Kind::Str),
    ("client_advertise", Kind::Str),
    ("D", Kind::Bool),
    ("debug", Kind::Bool),
    ("V", Kind::Bool),
    ("VV", Kind::Bool),
    ("trace", Kind::Bool),
    ("DV", Kind::Bool),
    ("DVV", Kind::Bool),
    ("T", Kind::Bool),
    ("logtime", Kind::Bool),
    ("user", Kind::Str),
    ("pass", Kind::Str),
    ("auth", Kind::Str),
    ("m", Kind::Int),
    ("http_port", Kind::Int),
    ("ms", Kind::Int),
    ("https_port", Kind::Int),
    ("c", Kind::Str),
    ("config", Kind::Str),
    ("t", Kind::Bool),
    ("sl", Kind::Str),
    ("signal", Kind::Str),
    ("P", Kind::Str),
    ("pid", Kind::Str),
    ("ports_file_dir", Kind::Str),
    ("l", Kind::Str),
    ("log", Kind::Str),
    ("log_size_limit", Kind::Int),
    ("s", Kind::Bool),
    ("syslog", Kind::Bool),
    ("r", Kind::Str),
    ("remote_syslog", Kind::Str),
    ("version", Kind::Bool),
    ("v", Kind::Bool),
    ("profile", Kind::Int),
    ("routes", Kind::Str),
    ("cluster", Kind::Str),
    ("cluster_listen", Kind::Str),
    ("cluster_advertise", Kind::Str),
    ("no_advertise", Kind::Bool),
    ("connect_retries", Kind::Int),
    ("cluster_name", Kind::Str),
    ("help_tls", Kind::Bool),
    ("tls", Kind::Bool),
    ("tlsverify", Kind::Bool),
    ("tlscert", Kind::Str),
    ("tlskey", Kind::Str),
    ("tlscacert", Kind::Str),
    ("max_traced_msg_len", Kind::Int),
    ("js", Kind::Bool),
    ("jetstream", Kind::Bool),
    ("sd", Kind::Str),
    ("store_dir", Kind::Str),
];

/// A flag value as given.
#[derive(Debug, Clone, PartialEq)]
pub enum FlagValue {
    Bool(bool),
    Int(i64),
    Str(String),
}

/// The parsed command line: flags in the order given, and what followed.
#[derive(Debug, Default)]
pub struct Flags {
    pub set: Vec<(&'static str, FlagValue)>,
    pub rest: Vec<String>,
}

/// A command line Go's flag package would reject; the text is what it
/// prints before the usage.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FlagError(pub String);

fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's strconv.ParseInt(s, 0, 64) errors, as the flag package words them.
fn parse_go_int(s: &str) -> Result<i64, &'static str> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let body = body.replace('_', "");
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, d.to_string())
    } else if let Some(d) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, d.to_string())
    } else if let Some(d) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (8, d.to_string())
    } else if body.len() > 1 && body.starts_with('0') {
        (8, body[1..].to_string())
    } else {
        (10, body.clone())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err("parse error");
    }
    let v = i128::from_str_radix(&digits, radix).map_err(|_| "value out of range")?;
    let v = if neg { -v } else { v };
    i64::try_from(v).map_err(|_| "value out of range")
}

impl Flags {
    pub fn parse(args: &[String]) -> Result<Flags, FlagError> {
        let mut flags = Flags::default();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            if arg.len() < 2 || !arg.starts_with('-') {
                break;
            }
            let mut name = &arg[1..];
            if let Some(n) = name.strip_prefix('-') {
                if n.is_empty() {
                    i += 1;
                    break;
                }
                name = n;
            }
            if name.is_empty() || name.starts_with('-') || name.starts_with('=') {
                return Err(FlagError(format!("bad flag syntax: {arg}")));
            }
            i += 1;
            let (name, inline) = match name.find('=') {
                Some(p) => (&name[..p], Some(name[p + 1..].to_string())),
                None => (name, None),
            };
            let Some(&(canon, kind)) = FLAGS.iter().find(|(n, _)| *n == name) else {
                return Err(FlagError(format!("flag provided but not defined: -{name}")));
            };
            let value = match kind {
                Kind::Bool => match inline {
                    None => FlagValue::Bool(true),
                    Some(v) => FlagValue::Bool(parse_go_bool(&v).ok_or_else(|| {
                        FlagError(format!(
                            "invalid boolean value \"{v}\" for -{name}: parse error"
                        ))
                    })?),
                },
                Kind::Int | Kind::Str => {
                    let v = match inline {
                        Some(v) => v,
                        None => {
                            if i >= args.len() {
                                return Err(FlagError(format!("flag needs an argument: -{name}")));
                            }
                            i += 1;
                            args[i - 1].clone()
                        }
                    };
                    if kind == Kind::Int {
                        FlagValue::Int(parse_go_int(&v).map_err(|e| {
                            FlagError(format!("invalid value \"{v}\" for flag -{name}: {e}"))
                        })?)
                    } else {
                        FlagValue::Str(v)
                    }
                }
            };
            flags.set.push((canon, value));
        }
        flags.rest = args[i..].to_vec();
        Ok(flags)
    }

    fn last(&self, names: &[&str]) -> Option<&FlagValue> {
        self.set
            .iter()
            .rev()
            .find(|(n, _)| names.contains(n))
            .map(|(_, v)| v)
    }

    pub fn bool(&self, names: &[&str]) -> Option<bool> {
        match self.last(names)? {
            FlagValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn string(&self, names: &[&str]) -> Option<String> {
        match self.last(names)? {
            FlagValue::Str(s) => Some(s.clone()),
            _ => None,
        }
    }

    pub fn is_set(&self, name: &str) -> bool {
        self.set.iter().any(|(n, _)| *n == name)
    }

    pub fn config_file(&self) -> String {
        self.string(&["c", "config"]).unwrap_or_default()
    }

    pub fn signal(&self) -> Option<String> {
        self.string(&["sl", "signal"])
    }

    /// Writes every explicitly given flag into `o`, then the combined
    /// debug/trace flags in Go's lexical visiting order (DV, DVV, VV).
    pub fn apply(&self, o: &mut Options) {
        for (name, value) in &self.set {
            match (*name, value) {
                ("port" | "p", FlagValue::Int(v)) => o.port = *v,
                ("n" | "name" | "server_name", FlagValue::Str(v)) => o.server_name = v.clone(),
                ("addr" | "a" | "net", FlagValue::Str(v)) => o.host = v.clone(),
                ("client_advertise", FlagValue::Str(v)) => o.client_advertise = v.clone(),
                ("D" | "debug", FlagValue::Bool(v)) => o.debug = *v,
                ("V" | "trace", FlagValue::Bool(v)) => o.trace = *v,
                ("T" | "logtime", FlagValue::Bool(v)) => o.logtime = *v,
                ("user", FlagValue::Str(v)) => o.username = v.clone(),
                ("pass", FlagValue::Str(v)) => o.password = v.clone(),
                ("auth", FlagValue::Str(v)) => o.authorization = v.clone(),
                ("m" | "http_port", FlagValue::Int(v)) => o.http_port = *v,
                ("ms" | "https_port", FlagValue::Int(v)) => o.https_port = *v,
                ("t", FlagValue::Bool(v)) => o.check_config = *v,
                ("P" | "pid", FlagValue::Str(v)) => o.pid_file = v.clone(),
                ("ports_file_dir", FlagValue::Str(v)) => o.ports_file_dir = v.clone(),
                ("l" | "log", FlagValue::Str(v)) => o.log_file = v.clone(),
                ("log_size_limit", FlagValue::Int(v)) => o.log_size_limit = *v,
                ("s" | "syslog", FlagValue::Bool(v)) => o.syslog = *v,
                ("r" | "remote_syslog", FlagValue::Str(v)) => o.remote_syslog = v.clone(),
                ("profile", FlagValue::Int(v)) => o.prof_port = *v,
                ("routes", FlagValue::Str(v)) => o.routes_str = v.clone(),
                ("cluster" | "cluster_listen", FlagValue::Str(v)) => o.cluster_listen = v.clone(),
                ("cluster_advertise", FlagValue::Str(v)) => o.cluster_advertise = v.clone(),
                ("no_advertise", FlagValue::Bool(v)) => o.cluster_no_advertise = *v,
                ("connect_retries", FlagValue::Int(v)) => o.cluster_connect_retries = *v,
                ("cluster_name", FlagValue::Str(v)) => o.cluster_name = v.clone(),
                ("tls", FlagValue::Bool(v)) => o.tls = *v,
                ("tlsverify", FlagValue::Bool(v)) => o.tls_verify = *v,
                ("tlscert", FlagValue::Str(v)) => o.tls_cert = v.clone(),
                ("tlskey", FlagValue::Str(v)) => o.tls_key = v.clone(),
                ("tlscacert", FlagValue::Str(v)) => o.tls_ca_cert = v.clone(),
                ("max_traced_msg_len", FlagValue::Int(v)) => o.max_traced_msg_len = *v,
                ("js" | "jetstream", FlagValue::Bool(v)) => o.jetstream = *v,
                ("sd" | "store_dir", FlagValue::Str(v)) => o.store_dir = v.clone(),
                _ => {}
            }
        }
    }

    /// The second pass Go makes after the config file: combined flags.
    pub fn apply_combined(&self, o: &mut Options) {
        if let Some(v) = self.bool(&["DV"]) {
            o.trace = v;
            o.debug = v;
        }
        if let Some(v) = self.bool(&["DVV"]) {
            o.trace = v;
            o.debug = v;
            o.trace_verbose = v;
        }
        if let Some(v) = self.bool(&["VV"]) {
            o.trace = v;
            o.trace_verbose = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn go_style_flags() {
        let f = Flags::parse(&args("-p 4333 --addr=127.0.0.1 -DV -js -c x.conf")).unwrap();
        let mut o = Options::default();
        f.apply(&mut o);
        f.apply_combined(&mut o);
        assert_eq!(o.port, 4333);
        assert_eq!(o.host, "127.0.0.1");
        assert!(o.debug && o.trace && o.jetstream);
        assert_eq!(f.config_file(), "x.conf");
    }

    #[test]
    fn errors_like_go() {
        assert_eq!(
            Flags::parse(&args("-xyz")).unwrap_err().0,
            "flag provided but not defined: -xyz"
        );
        assert_eq!(
            Flags::parse(&args("-p abc")).unwrap_err().0,
            "invalid value \"abc\" for flag -p: parse error"
        );
        assert_eq!(
            Flags::parse(&args("-p")).unwrap_err().0,
            "flag needs an argument: -p"
        );
    }

    #[test]
    fn stops_at_non_flag() {
        let f = Flags::parse(&args("-D version -V")).unwrap();
        assert_eq!(f.rest, vec!["version", "-V"]);
        assert_eq!(f.bool(&["V"]), None);
        let f = Flags::parse(&args("-p -1")).unwrap();
        let mut o = Options::default();
        f.apply(&mut o);
        assert_eq!(o.port, -1);
    }
}
