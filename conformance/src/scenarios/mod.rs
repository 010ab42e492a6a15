//! Every scenario, by Go test file of origin. A new scenario file is one more
//! module here and one more `extend` in [`all`].

use crate::registry::Scenario;

mod account_options;
mod accounts;
mod auth;
mod cluster_config;
mod config;
mod config_syntax;
mod core_client;
mod core_proto;
mod core_protocol;
mod events;
mod filestore;
mod filestore_recovery;
mod filestore_space;
mod hostile_input;
mod import_cycles;
mod imports_config;
mod imports_services;
mod imports_streams;
mod js_client;
mod js_client_consumers;
mod js_consumers;
mod js_consumers_more;
mod js_delivery;
mod js_encryption;
mod js_mirrors;
mod js_monitor;
mod js_publish;
mod js_pull;
mod js_restarts;
mod js_snapshots;
mod js_stream_more;
mod js_streams;
mod lifecycle;
mod memstore;
mod monitoring;
mod norace_js;
mod reload;
mod service_latency;
mod subjects;
mod tls;
mod unit_helpers;
mod websocket;
mod ws_browser;
mod ws_options;

/// The registry: all scenarios, in declaration order.
pub fn all() -> Vec<Scenario> {
    let mut all = Vec::new();
    all.extend(core_proto::scenarios());
    all.extend(core_protocol::scenarios());
    all.extend(core_client::scenarios());
    all.extend(subjects::scenarios());
    all.extend(auth::scenarios());
    all.extend(config::scenarios());
    all.extend(monitoring::scenarios());
    all.extend(lifecycle::scenarios());
    all.extend(reload::scenarios());
    all.extend(accounts::scenarios());
    all.extend(tls::scenarios());
    all.extend(websocket::scenarios());
    all.extend(ws_browser::scenarios());
    all.extend(ws_options::scenarios());
    all.extend(events::scenarios());
    all.extend(config_syntax::scenarios());
    all.extend(cluster_config::scenarios());
    all.extend(account_options::scenarios());
    all.extend(unit_helpers::scenarios());
    all.extend(hostile_input::scenarios());
    all.extend(imports_config::scenarios());
    all.extend(imports_streams::scenarios());
    all.extend(imports_services::scenarios());
    all.extend(import_cycles::scenarios());
    all.extend(service_latency::scenarios());
    all.extend(js_publish::scenarios());
    all.extend(js_streams::scenarios());
    all.extend(js_stream_more::scenarios());
    all.extend(js_monitor::scenarios());
    all.extend(js_client::scenarios());
    all.extend(js_consumers::scenarios());
    all.extend(js_consumers_more::scenarios());
    all.extend(js_delivery::scenarios());
    all.extend(js_mirrors::scenarios());
    all.extend(js_pull::scenarios());
    all.extend(js_snapshots::scenarios());
    all.extend(js_client_consumers::scenarios());
    all.extend(memstore::scenarios());
    all.extend(filestore::scenarios());
    all.extend(filestore_recovery::scenarios());
    all.extend(filestore_space::scenarios());
    all.extend(js_restarts::scenarios());
    all.extend(js_encryption::scenarios());
    all.extend(norace_js::scenarios());
    all
}
