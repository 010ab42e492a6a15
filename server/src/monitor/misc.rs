//! The root page, `/healthz`, `/accountz`, `/accstatz`, and the endpoints
//! of features natsd lacks (`/routez`, `/gatewayz`, `/leafz`, `/jsz`),
//! which answer as Go does with the feature off.

use super::connz::subs_param;
use super::json;
use super::query::Query;
use super::subsz::StatsJson;
use super::Reply;
use crate::server::Server;
use serde::Serialize;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

const GLOBAL_ACCOUNT: &str = "$G";

/// A document: `server_id` and `now`, then the endpoint's fields.
#[derive(Serialize)]
struct Doc<T: Serialize> {
    server_id: String,
    #[serde(serialize_with = "json::time")]
    now: SystemTime,
    #[serde(flatten)]
    body: T,
}

fn reply<T: Serialize>(srv: &Server, q: &Query, body: T) -> Reply {
    let doc = Doc {
        server_id: srv.info().server_id,
        now: SystemTime::now(),
        body,
    };
    Reply::json(q, 200, json::pretty(&doc))
}

/// The links of the root page, in Go's order.
const LINKS: [(&str, &str); 10] = [
    ("/varz", "General"),
    ("/jsz", "JetStream"),
    ("/connz", "Connections"),
    ("/accountz", "Accounts"),
    ("/accstatz", "Account Stats"),
    ("/subsz", "Subscriptions"),
    ("/routez", "Routes"),
    ("/leafz", "LeafNodes"),
    ("/gatewayz", "Gateways"),
    ("/healthz", "Health Probe"),
];

/// The root page: links to the endpoints under `base`.
pub fn root(srv: &Server, base: &str) -> Reply {
    srv.monitor.count_request("/");
    let mut page = format!(
        "<html lang=\"en\">\n<head>\n<title>NATS Server</title>\n</head>\n<body>\n\
         <h1>NATS Server</h1>\n\
         <a href=https://github.com/nats-io/nats-server class='version'>v{}</a>\n<br/>\n",
        crate::server::VERSION
    );
    for (i, (path, label)) in LINKS.iter().enumerate() {
        let class = if i + 1 == LINKS.len() {
            " class=last"
        } else {
            ""
        };
        let href = super::http::join_base(base, path);
        page.push_str(&format!("<a href=.{href}{class}>{label}</a>\n"));
    }
    page.push_str(
        "<a href=https://docs.nats.io/running-a-nats-service/nats_admin/monitoring class=\"help\">Help</a>\n</body>\n</html>\n",
    );
    Reply {
        status: 200,
        content_type: "text/html; charset=utf-8",
        body: page.into_bytes(),
    }
}

#[derive(Serialize)]
struct Routez {
    num_routes: u32,
    routes: [(); 0],
}

pub fn routez(srv: &Server, q: &Query) -> Reply {
    if let Err(r) = subs_param(q) {
        return r;
    }
    srv.monitor.count_request("/routez");
    reply(
        srv,
        q,
        Routez {
            num_routes: 0,
            routes: [],
        },
    )
}

#[derive(Serialize)]
struct Gatewayz {
    outbound_gateways: Empty,
    inbound_gateways: Empty,
}

#[derive(Serialize)]
struct Empty {}

pub fn gatewayz(srv: &Server, q: &Query) -> Reply {
    srv.monitor.count_request("/gatewayz");
    if let Err(r) = q.bool("accs") {
        return r;
    }
    reply(
        srv,
        q,
        Gatewayz {
            outbound_gateways: Empty {},
            inbound_gateways: Empty {},
        },
    )
}

#[derive(Serialize)]
struct Leafz {
    leafnodes: u32,
    leafs: Option<[(); 0]>,
}

pub fn leafz(srv: &Server, q: &Query) -> Reply {
    srv.monitor.count_request("/leafz");
    if let Err(r) = q.bool("subs") {
        return r;
    }
    reply(
        srv,
        q,
        Leafz {
            leafnodes: 0,
            leafs: None,
        },
    )
}

#[derive(Serialize)]
struct AccountList {
    accounts: [&'static str; 1],
}

#[derive(Serialize)]
struct AccountDetail {
    account_detail: AccountInfo,
}

#[derive(Serialize)]
struct AccountInfo {
    account_name: &'static str,
    #[serde(serialize_with = "json::time")]
    update_time: SystemTime,
    expired: bool,
    complete: bool,
    jetstream_enabled: bool,
    leafnode_connections: u32,
    client_connections: usize,
    subscriptions: u64,
    sublist_stats: StatsJson,
}

pub fn accountz(srv: &Server, q: &Query) -> Reply {
    srv.monitor.count_request("/accountz");
    let acc = q.get("acc");
    if acc.is_empty() {
        return reply(
            srv,
            q,
            AccountList {
                accounts: [GLOBAL_ACCOUNT],
            },
        );
    }
    if acc != GLOBAL_ACCOUNT {
        return Reply::bad_request(format!("Account {acc} does not exist"));
    }
    let sl = &srv.global_account().sublist;
    let account_detail = AccountInfo {
        account_name: GLOBAL_ACCOUNT,
        update_time: srv.start_wall,
        expired: false,
        complete: true,
        jetstream_enabled: false,
        leafnode_connections: 0,
        client_connections: srv.num_clients(),
        subscriptions: sl.count(),
        sublist_stats: StatsJson::from(&sl.stats()),
    };
    reply(srv, q, AccountDetail { account_detail })
}

#[derive(Serialize)]
struct AccountStatz {
    account_statz: Vec<AccountStat>,
}

#[derive(Serialize)]
struct AccountStat {
    acc: &'static str,
    conns: usize,
    leafnodes: u32,
    total_conns: usize,
    sent: DataStats,
    received: DataStats,
    slow_consumers: i64,
}

#[derive(Serialize)]
struct DataStats {
    msgs: i64,
    bytes: i64,
}

pub fn accstatz(srv: &Server, q: &Query) -> Reply {
    srv.monitor.count_request("/accstatz");
    let unused = match q.bool("unused") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let conns = srv.num_clients();
    let mut account_statz = Vec::new();
    if unused || conns > 0 {
        // With one account, its traffic is the server's.
        let st = &srv.stats;
        let load = |a: &std::sync::atomic::AtomicI64| a.load(Ordering::Relaxed);
        account_statz.push(AccountStat {
            acc: GLOBAL_ACCOUNT,
            conns,
            leafnodes: 0,
            total_conns: conns,
            sent: DataStats {
                msgs: load(&st.out_msgs),
                bytes: load(&st.out_bytes),
            },
            received: DataStats {
                msgs: load(&st.in_msgs),
                bytes: load(&st.in_bytes),
            },
            slow_consumers: load(&st.slow_consumers),
        });
    }
    reply(srv, q, AccountStatz { account_statz })
}

/// `/jsz` with JetStream off: zeros and `disabled`.
#[derive(Serialize, Default)]
struct JszDisabled {
    disabled: bool,
    config: JsConfig,
    memory: u64,
    storage: u64,
    reserved_memory: u64,
    reserved_storage: u64,
    accounts: u64,
    ha_assets: u64,
    api: JsApi,
    streams: u64,
    consumers: u64,
    messages: u64,
    bytes: u64,
}

#[derive(Serialize, Default)]
struct JsConfig {
    max_memory: i64,
    max_storage: i64,
}

#[derive(Serialize, Default)]
struct JsApi {
    total: u64,
    errors: u64,
}

pub fn jsz(srv: &Server, q: &Query) -> Reply {
    srv.monitor.count_request("/jsz");
    for key in ["accounts", "streams", "consumers", "config"] {
        if let Err(r) = q.bool(key) {
            return r;
        }
    }
    for key in ["offset", "limit"] {
        if let Err(r) = q.int(key) {
            return r;
        }
    }
    match q.bool("leader-only") {
        Err(r) => return r,
        Ok(true) => return Reply::bad_request("filtered response: not leader"),
        Ok(false) => {}
    }
    reply(
        srv,
        q,
        JszDisabled {
            disabled: true,
            ..Default::default()
        },
    )
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    error: &'static str,
}

pub fn healthz(srv: &Server, q: &Query) -> Reply {
    srv.monitor.count_request("/healthz");
    let js_enabled = match q.bool("js-enabled") {
        Ok(b) => b,
        Err(r) => return r,
    };
    if js_enabled {
        crate::warn!("Healthcheck: js-enabled deprecated, use js-enabled-only instead");
    }
    for key in ["js-enabled-only", "js-server-only"] {
        if let Err(r) = q.bool(key) {
            return r;
        }
    }
    // Asked for JetStream in the config, natsd runs without it: Go's answer
    // for a server whose JetStream is not enabled.
    let h = if srv.opts().jetstream {
        Health {
            status: "unavailable",
            error: "JetStream not enabled",
        }
    } else {
        Health {
            status: "ok",
            error: "",
        }
    };
    let status = if h.error.is_empty() {
        200
    } else {
        crate::warn!("Healthcheck failed: \"{}\"", h.error);
        503
    };
    Reply::json(q, status, json::compact(&h))
}
