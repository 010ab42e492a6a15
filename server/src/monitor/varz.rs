//! `/varz`: configuration, runtime and traffic figures of the server.

use super::json::{self, float, nanos};
use super::query::Query;
use super::Reply;
use crate::server::{Server, GO_VERSION};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

/// Go's TLS handshake timeout default, reported even without TLS.
const TLS_TIMEOUT_SECS: f64 = 2.0;

/// Sections for features natsd does not have; Go prints them as `{}` when
/// the feature is not configured.
#[derive(Serialize, Default)]
struct Empty {}

/// The `cluster` block as configured (natsd does not route yet). Zero
/// values are left out, as Go's `omitempty` does.
#[derive(Serialize, Default)]
struct ClusterVarz {
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    addr: String,
    #[serde(skip_serializing_if = "json::is_zero")]
    cluster_port: i64,
    #[serde(skip_serializing_if = "json::is_zero", serialize_with = "float")]
    auth_timeout: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    urls: Vec<String>,
    #[serde(skip_serializing_if = "json::is_zero", serialize_with = "float")]
    tls_timeout: f64,
}

impl ClusterVarz {
    /// Go fills in host and timeouts only once a cluster port is set.
    fn of(o: &crate::options::Options) -> Self {
        let listening = o.cluster_port != 0;
        let addr = if o.cluster_host.is_empty() && listening {
            crate::options::DEFAULT_HOST.to_string()
        } else {
            o.cluster_host.clone()
        };
        let auth_timeout = if o.cluster_auth_timeout == 0.0 && listening {
            crate::options::AUTH_TIMEOUT_SECS
        } else {
            o.cluster_auth_timeout
        };
        ClusterVarz {
            name: o.cluster_name.clone(),
            addr,
            cluster_port: o.cluster_port,
            auth_timeout,
            urls: o.routes.iter().map(|r| url_host(r).to_string()).collect(),
            tls_timeout: if listening { TLS_TIMEOUT_SECS } else { 0.0 },
        }
    }
}

/// The `host:port` part of a URL, without user information.
fn url_host(url: &str) -> &str {
    let rest = url.split_once("//").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.rsplit('@').next().unwrap_or("")
}

#[derive(Serialize)]
struct Varz {
    server_id: String,
    server_name: String,
    version: String,
    proto: i32,
    go: &'static str,
    host: String,
    port: i64,
    #[serde(skip_serializing_if = "json::is_zero")]
    auth_required: bool,
    #[serde(skip_serializing_if = "json::is_zero")]
    tls_required: bool,
    #[serde(skip_serializing_if = "json::is_zero")]
    tls_verify: bool,
    max_connections: i64,
    #[serde(skip_serializing_if = "json::is_zero")]
    max_subscriptions: i64,
    #[serde(serialize_with = "nanos")]
    ping_interval: Duration,
    ping_max: i64,
    http_host: String,
    http_port: i64,
    http_base_path: String,
    https_port: i64,
    #[serde(serialize_with = "float")]
    auth_timeout: f64,
    max_control_line: i32,
    max_payload: i32,
    max_pending: i64,
    cluster: ClusterVarz,
    gateway: Empty,
    leaf: Empty,
    mqtt: Empty,
    websocket: WebsocketVarz,
    jetstream: super::jsz::VarzJetStream,
    #[serde(serialize_with = "float")]
    tls_timeout: f64,
    #[serde(serialize_with = "nanos")]
    write_deadline: Duration,
    #[serde(serialize_with = "json::time")]
    start: SystemTime,
    #[serde(serialize_with = "json::time")]
    now: SystemTime,
    uptime: String,
    mem: i64,
    cores: usize,
    gomaxprocs: usize,
    #[serde(serialize_with = "float")]
    cpu: f64,
    connections: usize,
    total_connections: u64,
    routes: u32,
    remotes: u32,
    leafnodes: u32,
    in_msgs: i64,
    out_msgs: i64,
    in_bytes: i64,
    out_bytes: i64,
    slow_consumers: i64,
    subscriptions: u64,
    http_req_stats: BTreeMap<&'static str, u64>,
    #[serde(serialize_with = "json::time")]
    config_load_time: SystemTime,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    system_account: String,
}

/// The `websocket` section: the block's settings, empty ones left out.
#[derive(Serialize, Default)]
struct WebsocketVarz {
    #[serde(skip_serializing_if = "String::is_empty")]
    host: String,
    #[serde(skip_serializing_if = "json::is_zero")]
    port: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    advertise: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    no_auth_user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    jwt_cookie: String,
    #[serde(skip_serializing_if = "Duration::is_zero", serialize_with = "nanos")]
    handshake_timeout: Duration,
    #[serde(skip_serializing_if = "json::is_zero", serialize_with = "float")]
    auth_timeout: f64,
    #[serde(skip_serializing_if = "json::is_zero")]
    no_tls: bool,
    #[serde(skip_serializing_if = "json::is_zero")]
    same_origin: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allowed_origins: Vec<String>,
    #[serde(skip_serializing_if = "json::is_zero")]
    compression: bool,
}

impl WebsocketVarz {
    fn of(srv: &Server, o: &crate::options::Options) -> Self {
        let w = &o.websocket;
        if w.port == 0 {
            return Self::default();
        }
        // A random port (-1) shows as the one bound, as Go's does.
        let port = srv
            .websocket_listener()
            .map_or(w.port, |l| i64::from(l.port));
        let host = if w.host.is_empty() {
            "0.0.0.0"
        } else {
            &w.host
        };
        Self {
            host: host.to_string(),
            port,
            advertise: w.advertise.clone(),
            no_auth_user: w.no_auth_user.clone(),
            jwt_cookie: w.jwt_cookie.clone(),
            handshake_timeout: w.handshake_timeout,
            auth_timeout: w.auth_timeout,
            no_tls: w.no_tls,
            same_origin: w.same_origin,
            allowed_origins: w.allowed_origins.clone(),
            compression: w.compression,
        }
    }
}

pub fn handle(srv: &Server, q: &Query) -> Reply {
    super::state(srv).count(q, "/varz");
    let o = srv.opts();
    let info = srv.info();
    let st = &srv.stats;
    let (cpu, mem) = process_usage();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let v = Varz {
        server_id: info.server_id,
        server_name: info.server_name,
        version: info.version,
        proto: info.proto,
        go: GO_VERSION,
        host: info.host,
        port: info.port,
        auth_required: info.auth_required,
        tls_required: info.tls_required,
        tls_verify: info.tls_verify,
        max_connections: o.max_conn,
        max_subscriptions: o.max_subs,
        ping_interval: o.ping_interval,
        ping_max: o.max_pings_out,
        http_host: o.http_host.clone(),
        http_port: o.http_port,
        http_base_path: o.http_base_path.clone(),
        https_port: o.https_port,
        auth_timeout: o.auth_timeout,
        max_control_line: o.max_control_line,
        max_payload: o.max_payload,
        max_pending: o.max_pending,
        cluster: ClusterVarz::of(&o),
        gateway: Empty {},
        leaf: Empty {},
        mqtt: Empty {},
        websocket: WebsocketVarz::of(srv, &o),
        jetstream: super::jsz::varz_section(srv),
        tls_timeout: o
            .tls_config
            .as_ref()
            .filter(|tc| tc.timeout > 0.0)
            .map_or(TLS_TIMEOUT_SECS, |tc| tc.timeout),
        write_deadline: o.write_deadline,
        start: srv.start_wall,
        now: SystemTime::now(),
        uptime: json::uptime(srv.start.elapsed()),
        mem,
        cores,
        gomaxprocs: cores,
        cpu,
        connections: srv.num_clients(),
        total_connections: st.total_connections.load(Ordering::Relaxed),
        routes: 0,
        remotes: 0,
        leafnodes: 0,
        in_msgs: st.traffic.in_msgs.load(Ordering::Relaxed),
        out_msgs: st.traffic.out_msgs.load(Ordering::Relaxed),
        in_bytes: st.traffic.in_bytes.load(Ordering::Relaxed),
        out_bytes: st.traffic.out_bytes.load(Ordering::Relaxed),
        slow_consumers: st.slow_consumers.load(Ordering::Relaxed),
        subscriptions: srv.accounts().all().iter().map(|a| a.sublist.count()).sum(),
        http_req_stats: super::state(srv).request_counts(),
        config_load_time: srv.config_time(),
        tags: o.tags.clone(),
        system_account: srv.accounts().system_name().to_string(),
    };
    Reply::json(q, 200, json::pretty(&v))
}

/// CPU percentage since start and resident memory in bytes, from /proc
/// (Go's `pse.ProcUsage` on Linux); zeros where that is unavailable.
pub(crate) fn process_usage() -> (f64, i64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0);
    };
    // Fields after the parenthesized command name.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return (0.0, 0);
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    // utime, stime, starttime (clock ticks) and rss (pages), counted from
    // the state field at index 0.
    let (utime, stime, start_ticks, rss_pages) = (num(11), num(12), num(19), num(21));
    // SAFETY: sysconf has no preconditions.
    let (ticks, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK) as f64,
            libc::sysconf(libc::_SC_PAGESIZE) as f64,
        )
    };
    let uptime = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    let elapsed = uptime - start_ticks / ticks;
    let cpu = if elapsed > 0.0 && ticks > 0.0 {
        let pct = (utime + stime) / ticks / elapsed * 100.0;
        (pct * 10.0).round() / 10.0
    } else {
        0.0
    };
    (cpu, (rss_pages * page) as i64)
}
