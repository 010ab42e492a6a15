//! Applying a reload's changes, in Go's order: each option logs what it
//! changed, then the logger is set up again, then authorization and
//! permissions are checked for every client, and finally the server says
//! it reloaded (in the new log).

use super::clients;
use super::diff::Change;
use crate::core::connection::ClosedState;
use crate::options::{go_duration, Options};
use crate::server::Server;
use crate::{error, notice};

pub(super) fn apply(srv: &Server, new: &Options, changes: &[Change]) {
    for change in changes {
        apply_one(srv, change);
    }
    refresh_info(srv, new);
    if changes.iter().any(Change::is_logging) {
        srv.log().configure(crate::logging::LogConfig::of(new));
    }
    clients::recheck(srv, new);
    srv.bump_config_gen();
    notice!("Reloaded server configuration");
}

fn apply_one(srv: &Server, change: &Change) {
    match change {
        Change::ClientAdvertise(v) => notice!("Reload: client_advertise = {v}"),
        Change::Trace(v) => notice!("Reloaded: trace = {v}"),
        Change::Debug(v) => notice!("Reloaded: debug = {v}"),
        Change::TraceVerbose(v) => notice!("Reloaded: trace_verbose = {v}"),
        Change::Logtime(v) => notice!("Reloaded: logtime = {v}"),
        Change::MaxConn(max) => enforce_max_connections(srv, *max),
        Change::Nkeys => notice!("Reloaded: authorization nkey users"),
        Change::Users => notice!("Reloaded: authorization users"),
        Change::Accounts => notice!("Reloaded: accounts"),
        Change::Username => notice!("Reloaded: authorization username"),
        Change::Password => notice!("Reloaded: authorization password"),
        Change::Authorization => notice!("Reloaded: authorization token"),
        Change::PingInterval(d) => notice!("Reloaded: ping_interval = {}", go_duration(*d)),
        Change::MaxPingsOut(v) => notice!("Reloaded: ping_max = {v}"),
        Change::AuthTimeout(v) => notice!("Reloaded: authorization timeout = {v}"),
        Change::MaxControlLine(v) => notice!("Reloaded: max_control_line = {v}"),
        Change::MaxPayload(v) => notice!("Reloaded: max_payload = {v}"),
        Change::Cluster { name } => {
            let current = srv.info().cluster;
            if !name.is_empty() && *name != current {
                srv.update_info(|i| i.cluster = name.clone());
                notice!("Cluster name updated to {name}");
            }
            notice!("Reloaded: cluster");
        }
        Change::JetStream(on) => {
            notice!("Reloaded: JetStream");
            srv.reload_jetstream(*on);
        }
        Change::PidFile(path) => {
            if path.is_empty() {
                return;
            }
            if let Err(e) = std::fs::write(path, std::process::id().to_string()) {
                error!("Failed to write pidfile: {e}");
            }
            notice!("Reloaded: pid_file = {path}");
        }
        Change::PortsFileDir { old, new } => {
            if !old.is_empty() {
                crate::ports_file::remove(old);
            }
            if let (false, Some(bound)) = (new.is_empty(), srv.bound()) {
                crate::ports_file::write(new, &bound);
            }
            notice!("Reloaded: ports_file_dir = {new}");
        }
        Change::LogFile(v) => notice!("Reloaded: log_file = {v}"),
        Change::Syslog(v) => notice!("Reloaded: syslog = {v}"),
        Change::RemoteSyslog(v) => notice!("Reloaded: remote_syslog = {v}"),
        Change::Routes => notice!("Reloaded: cluster routes"),
        Change::Tls => {
            let on = srv.opts().tls_config.is_some();
            notice!(
                "Reloaded: tls = {}",
                if on { "enabled" } else { "disabled" }
            );
        }
        Change::WriteDeadline(d) => notice!("Reloaded: write_deadline = {}", go_duration(*d)),
        Change::MaxTracedMsgLen(v) => notice!("Reloaded: max_traced_msg_len = {v}"),
        Change::ConnectErrorReports(v) => notice!("Reloaded: connect_error_reports = {v}"),
        Change::ReconnectErrorReports(v) => notice!("Reloaded: reconnect_error_reports = {v}"),
        Change::Tags => notice!("Reloaded: tags"),
    }
}

/// Closes clients (any of them) until at most `max` remain.
fn enforce_max_connections(srv: &Server, max: i64) {
    let clients = srv.clients();
    if max > 0 && clients.len() as i64 > max {
        let excess = clients.len() - max as usize;
        for c in clients.iter().take(excess) {
            c.send_err("maximum connections exceeded");
            error!("{} - maximum connections exceeded", c.label());
            c.close(ClosedState::MaxConnectionsExceeded);
        }
        notice!("Closed {excess} connections to fall within max_connections");
    }
    notice!("Reloaded: max_connections = {max}");
}

/// The INFO new clients get: auth, payload limit and advertised address.
fn refresh_info(srv: &Server, o: &Options) {
    let bound_port = srv.bound().map(|b| i64::from(b.nats.port()));
    srv.update_info(|info| {
        info.auth_required = crate::auth::auth_required(o);
        info.max_payload = o.max_payload;
        (info.tls_required, info.tls_available) = crate::tls::advertised(o);
        info.tls_verify = o.tls_config.as_ref().is_some_and(|t| t.verify);
        let port = bound_port.unwrap_or(info.port);
        let advertised = (!o.client_advertise.is_empty())
            .then(|| crate::net::parse_host_port(&o.client_advertise, port).ok())
            .flatten();
        (info.host, info.port) = advertised.unwrap_or_else(|| (o.host.clone(), port));
    });
}
