//! Flags that replace whole parts of the configuration once the file has
//! been read, as Go applies them: `--cluster` (a URL with optional user and
//! password), `--routes`, and the TLS flags, whose files are checked here.

use super::tls::files::{self, TlsFileError};
use super::tls::TlsConfig;
use super::Options;

/// Why the overriding flags cannot be applied, with Go's texts (printed
/// after "nats-server: "). The command line (exits) and a reload (refused)
/// decide on it.
#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    #[error("solicited routes require cluster capabilities, e.g. --cluster")]
    RoutesWithoutCluster,
    #[error("TLS Server certificate must be present and valid")]
    TlsCert,
    #[error("TLS Server private key must be present and valid")]
    TlsKey,
    #[error(transparent)]
    TlsFiles(#[from] TlsFileError),
    /// `--cluster` is not a URL: Go's `url.Parse` reason.
    #[error("parse {url:?}: {why}")]
    ClusterUrl { url: String, why: String },
    /// `--cluster`'s host and port do not split: Go's `net.AddrError`.
    #[error("{0}")]
    ClusterAddr(String),
    /// `--cluster` has a colon but no port after it.
    #[error("EOF")]
    ClusterPortMissing,
    #[error("expected integer")]
    ClusterPort,
    #[error("expected cluster password to be set")]
    ClusterPassword,
}

/// The flags among these that were given on the command line.
pub trait FlagSet {
    fn is_set(&self, name: &str) -> bool;
}

impl<F: Fn(&str) -> bool> FlagSet for F {
    fn is_set(&self, name: &str) -> bool {
        self(name)
    }
}

/// Applies the overriding flags.
pub fn apply(o: &mut Options, flags: &dyn FlagSet) -> Result<(), FlagError> {
    if flags.is_set("cluster") || flags.is_set("cluster_listen") {
        override_cluster(o)?;
    }
    if flags.is_set("routes") {
        o.routes = o
            .routes_str
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty() && natsd_proto::url::parse(r).is_ok())
            .map(str::to_string)
            .collect();
    }
    // `--tls=false` turns TLS off whatever the other TLS flags say.
    let tls_off = flags.is_set("tls") && !o.tls;
    if tls_off {
        o.tls_config = None;
    } else if ["tls", "tlscacert", "tlscert", "tlskey", "tlsverify"]
        .iter()
        .any(|f| flags.is_set(f))
    {
        override_tls(o)?;
    }
    if !o.routes_str.is_empty()
        && o.cluster_listen.is_empty()
        && o.cluster_host.is_empty()
        && o.cluster_port == 0
    {
        return Err(FlagError::RoutesWithoutCluster);
    }
    Ok(())
}

/// The TLS flags make a client TLS configuration of their own.
fn override_tls(o: &mut Options) -> Result<(), FlagError> {
    if o.tls_cert.is_empty() {
        return Err(FlagError::TlsCert);
    }
    if o.tls_key.is_empty() {
        return Err(FlagError::TlsKey);
    }
    let tc = TlsConfig {
        cert_file: o.tls_cert.clone(),
        key_file: o.tls_key.clone(),
        ca_file: o.tls_ca_cert.clone(),
        verify: o.tls_verify,
        ..Default::default()
    };
    files::check(&tc)?;
    o.tls_config = Some(super::tls::with_defaults(tc));
    Ok(())
}

/// `--cluster URL`: where routes are accepted, and the credentials they
/// must present. An empty URL turns clustering off; port -1 picks one.
fn override_cluster(o: &mut Options) -> Result<(), FlagError> {
    if o.cluster_listen.is_empty() {
        o.cluster_port = 0;
        return Ok(());
    }
    let mut listen = o.cluster_listen.clone();
    let random = listen.ends_with(":-1");
    if random {
        listen = format!("{}:0", &listen[..listen.len() - 3]);
    }
    let url = natsd_proto::url::parse(&listen).map_err(|e| FlagError::ClusterUrl {
        url: listen.clone(),
        why: e.reason,
    })?;
    let (host, port) = natsd_proto::hostport::split_host_port(&url.host)
        .map(|(h, p)| (h.to_string(), p.to_string()))
        .map_err(|e| FlagError::ClusterAddr(e.to_string()))?;
    let port: i64 = if random {
        -1
    } else if port.is_empty() {
        return Err(FlagError::ClusterPortMissing);
    } else {
        port.parse().map_err(|_| FlagError::ClusterPort)?
    };
    o.cluster_host = host;
    o.cluster_port = port;
    match url.user {
        Some((_, None)) => return Err(FlagError::ClusterPassword),
        Some((user, Some(pass))) => {
            o.cluster_username = user;
            o.cluster_password = pass;
        }
        None => {
            o.cluster_username.clear();
            o.cluster_password.clear();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cluster(url: &str) -> Result<Options, String> {
        let mut o = Options {
            cluster_listen: url.into(),
            ..Default::default()
        };
        apply(&mut o, &|f: &str| f == "cluster")
            .map(|()| o)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn cluster_urls() {
        let o = with_cluster("nats://ivan:pwd@127.0.0.1:6222").unwrap();
        assert_eq!(
            (o.cluster_host.as_str(), o.cluster_port),
            ("127.0.0.1", 6222)
        );
        assert_eq!(
            (o.cluster_username.as_str(), o.cluster_password.as_str()),
            ("ivan", "pwd")
        );
        assert_eq!(
            with_cluster("nats://127.0.0.1:-1").unwrap().cluster_port,
            -1
        );
        assert_eq!(with_cluster("").unwrap().cluster_port, 0);
        let err = |u: &str| with_cluster(u).unwrap_err();
        assert_eq!(err(":"), "parse \":\": missing protocol scheme");
        assert_eq!(
            err("nats://127.0.0.1"),
            "address 127.0.0.1: missing port in address"
        );
        assert_eq!(
            err("nats://127.0.0.1:xxx"),
            "parse \"nats://127.0.0.1:xxx\": invalid port \":xxx\" after host"
        );
        assert_eq!(
            err("nats://ivan:127.0.0.1:6222"),
            "address ivan:127.0.0.1:6222: too many colons in address"
        );
        assert_eq!(
            err("nats://ivan@127.0.0.1:6222"),
            "expected cluster password to be set"
        );
        assert_eq!(
            err("127.0.0.1:6222"),
            "parse \"127.0.0.1:6222\": first path segment in URL cannot contain colon"
        );
        assert_eq!(err("localhost:6222"), "missing port in address");
        assert_eq!(
            err("nats://a b:6222"),
            "parse \"nats://a b:6222\": invalid character \" \" in host name"
        );
        assert_eq!(err("nats://127.0.0.1:"), "EOF");
    }

    #[test]
    fn routes_need_a_cluster() {
        let mut o = Options {
            routes_str: "nats://127.0.0.1:6223".into(),
            ..Default::default()
        };
        assert_eq!(
            apply(&mut o, &|f: &str| f == "routes")
                .unwrap_err()
                .to_string(),
            "solicited routes require cluster capabilities, e.g. --cluster"
        );
    }

    #[test]
    fn tls_flags() {
        let mut o = Options {
            tls: true,
            ..Default::default()
        };
        let tls = |f: &str| f == "tls";
        let err = |o: &mut Options| apply(o, &tls).unwrap_err().to_string();
        assert_eq!(
            err(&mut o),
            "TLS Server certificate must be present and valid"
        );
        o.tls_cert = "/nonexistent/cert.pem".into();
        assert_eq!(
            err(&mut o),
            "TLS Server private key must be present and valid"
        );
        o.tls_key = "/nonexistent/key.pem".into();
        assert_eq!(
            err(&mut o),
            "error parsing X509 certificate/key pair: open /nonexistent/cert.pem: no such file or directory"
        );
        o.tls = false;
        o.tls_config = Some(TlsConfig::default());
        apply(&mut o, &tls).unwrap();
        assert!(o.tls_config.is_none());
    }
}
