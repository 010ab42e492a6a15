//! The root page, `/healthz`, `/accountz`, `/accstatz`, and the endpoints
//! of features natsd lacks (`/routez`, `/gatewayz`, `/leafz`), which
//! answer as Go does with the feature off.

use super::connz::subs_param;
use super::json;
use super::query::Query;
use super::subsz::StatsJson;
use super::Reply;
use crate::core::account::Account;
use crate::server::Server;
use serde::Serialize;
use std::time::SystemTime;

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
    super::state(srv).count(&Query::parse(""), "/");
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
    super::state(srv).count(q, "/routez");
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
    super::state(srv).count(q, "/gatewayz");
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
    super::state(srv).count(q, "/leafz");
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
    #[serde(skip_serializing_if = "str::is_empty")]
    system_account: String,
    accounts: Vec<String>,
}

#[derive(Serialize)]
struct AccountDetail {
    #[serde(skip_serializing_if = "str::is_empty")]
    system_account: String,
    account_detail: AccountInfo,
}

#[derive(Serialize)]
struct AccountInfo {
    account_name: String,
    #[serde(serialize_with = "json::time")]
    update_time: SystemTime,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    is_system: bool,
    expired: bool,
    complete: bool,
    jetstream_enabled: bool,
    leafnode_connections: u32,
    client_connections: usize,
    subscriptions: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    exports: Vec<super::links::ExportInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    imports: Vec<super::links::ImportInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mappings: Option<serde_json::Value>,
    sublist_stats: StatsJson,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    responses: std::collections::BTreeMap<String, super::links::ImportInfo>,
}

pub fn accountz(srv: &Server, q: &Query) -> Reply {
    super::state(srv).count(q, "/accountz");
    let accounts = srv.accounts();
    let system_account = accounts.system_name().to_string();
    let name = q.get("acc");
    if name.is_empty() {
        let list = AccountList {
            system_account,
            accounts: accounts.all().iter().map(|a| a.name.clone()).collect(),
        };
        return reply(srv, q, list);
    }
    let Some(acc) = accounts.get(name) else {
        return Reply::bad_request(format!("Account {name} does not exist"));
    };
    let account_detail = account_info(srv, acc, &system_account);
    reply(
        srv,
        q,
        AccountDetail {
            system_account,
            account_detail,
        },
    )
}

/// What `/accountz` says of one account.
fn account_info(srv: &Server, acc: &Account, system_account: &str) -> AccountInfo {
    let sl = &acc.sublist;
    let is_system = acc.name == system_account;
    let exports = super::links::exports(&srv.opts(), acc, system_account);
    let imports = super::links::imports(acc);
    AccountInfo {
        account_name: acc.name.clone(),
        update_time: srv.start_wall,
        is_system,
        expired: false,
        complete: true,
        jetstream_enabled: srv
            .jetstream()
            .is_some_and(|js| js.account(&acc.name).is_some()),
        leafnode_connections: 0,
        client_connections: acc.num_clients(),
        subscriptions: sl.count(),
        exports,
        imports,
        mappings: accountz_mappings(acc),
        sublist_stats: StatsJson::from(&sl.stats()),
        responses: super::links::responses(acc),
    }
}

/// The `account_detail` of `/accountz?acc=<name>` in compact JSON, for the
/// system account's INFO request; None for an unknown account.
pub(crate) fn account_info_json(srv: &Server, name: &str) -> Option<Vec<u8>> {
    let accounts = srv.accounts();
    let acc = accounts.get(name)?;
    Some(json::compact(&account_info(
        srv,
        acc,
        accounts.system_name(),
    )))
}

#[derive(Serialize)]
struct AccountStatz {
    account_statz: Vec<crate::monitor::accstat::AccountStat>,
}

pub fn accstatz(srv: &Server, q: &Query) -> Reply {
    super::state(srv).count(q, "/accstatz");
    let unused = match q.bool("unused") {
        Ok(b) => b,
        Err(r) => return r,
    };
    // Requests over the system account may name accounts.
    let only = if q.is_http() {
        Vec::new()
    } else {
        q.all("acc")
    };
    let account_statz = srv
        .accounts()
        .all()
        .iter()
        .filter(|acc| only.is_empty() || only.contains(&acc.name.as_str()))
        .filter(|acc| unused || acc.num_clients() > 0)
        .map(|acc| crate::monitor::accstat::account_stat(srv, acc))
        .collect();
    reply(srv, q, AccountStatz { account_statz })
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    error: &'static str,
}

pub fn healthz(srv: &Server, q: &Query) -> Reply {
    super::state(srv).count(q, "/healthz");
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
    // With JetStream in the config, it must be running; one server has no
    // meta group or replicated assets to check beyond that.
    let h = if srv.opts().jetstream && srv.jetstream().is_none() {
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
/// An account's mappings as `/accountz` lists them: by source, each
/// destination with its cumulative weight (and cluster when scoped).
fn accountz_mappings(acc: &Account) -> Option<serde_json::Value> {
    let table = acc.mappings.table()?;
    let mut out = serde_json::Map::new();
    for m in table.mappings() {
        let one = |d: &natsd_proto::mapping::Weighted, cluster: &str| {
            let mut j = serde_json::json!({
                "subject": d.transform.dest(),
                "weight": d.weight,
            });
            if !cluster.is_empty() {
                j["cluster"] = cluster.into();
            }
            j
        };
        let mut dests: Vec<serde_json::Value> = m.dests.iter().map(|d| one(d, "")).collect();
        for (c, list) in &m.cluster_dests {
            dests.extend(list.iter().map(|d| one(d, c)));
        }
        out.insert(m.src.clone(), dests.into());
    }
    Some(out.into())
}
