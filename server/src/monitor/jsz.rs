//! `/jsz`: JetStream's settings, usage and API counters, and on request
//! the JetStream accounts with their streams; the `/varz` JetStream
//! section; the account detail of `$SYS.REQ.ACCOUNT.<acc>.JSZ`.

use super::json;
use super::query::Query;
use super::Reply;
use crate::jetstream::account::JsAccount;
use crate::jetstream::report::UsageStats;
use crate::jetstream::JetStream;
use crate::server::Server;
use natsd_proto::jetstream::api::{StreamStateJson, Timestamp};
use natsd_proto::jetstream::stream::StreamConfig;
use serde::Serialize;
use std::sync::Arc;
use std::time::SystemTime;

/// The accounts `/jsz` lists when no limit is given.
const DEFAULT_LIMIT: usize = 1024;

/// JetStream's settings, as `/varz` and `/jsz` print them.
#[derive(Serialize, Default)]
pub(super) struct ConfigJson {
    max_memory: i64,
    max_storage: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    store_dir: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    domain: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    compress_ok: bool,
}

impl ConfigJson {
    pub(super) fn of(srv: &Server, js: &JetStream) -> ConfigJson {
        // Go keeps the flag only when both sizes were configured: with
        // either left to the machine, the settings are rebuilt without it.
        let o = srv.opts();
        let set = |v: Option<i64>| v.is_some_and(|n| n > 0);
        ConfigJson {
            max_memory: js.config.max_memory,
            max_storage: js.config.max_store,
            store_dir: js.config.store_dir.to_string_lossy().into_owned(),
            domain: js.config.domain.clone(),
            compress_ok: set(o.jetstream_config.max_memory) && set(o.jetstream_config.max_store),
        }
    }
}

#[derive(Serialize, Default)]
pub(super) struct ApiJson {
    total: u64,
    errors: u64,
}

/// Usage figures (Go's JetStreamStats).
#[derive(Serialize, Default)]
pub(super) struct StatsJson {
    memory: u64,
    storage: u64,
    reserved_memory: u64,
    reserved_storage: u64,
    accounts: usize,
    ha_assets: usize,
    api: ApiJson,
}

impl From<UsageStats> for StatsJson {
    fn from(u: UsageStats) -> Self {
        StatsJson {
            memory: u.memory,
            storage: u.storage,
            reserved_memory: u.reserved_memory,
            reserved_storage: u.reserved_storage,
            accounts: u.accounts,
            ha_assets: u.ha_assets,
            api: ApiJson {
                total: u.api_total,
                errors: u.api_errors,
            },
        }
    }
}

/// The `/varz` `jetstream` section: `{}` with JetStream off.
#[derive(Serialize, Default)]
pub(super) struct VarzJetStream {
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<ConfigJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stats: Option<StatsJson>,
}

pub(super) fn varz_section(srv: &Server) -> VarzJetStream {
    let Some(js) = srv.jetstream() else {
        return VarzJetStream::default();
    };
    VarzJetStream {
        config: Some(ConfigJson::of(srv, &js)),
        stats: Some(js.usage_stats().into()),
    }
}

#[derive(Serialize)]
struct ClusterJson {
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    leader: String,
}

#[derive(Serialize)]
struct StreamDetail {
    name: String,
    created: Timestamp,
    cluster: ClusterJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<StreamConfig>,
    state: StreamStateJson,
    /// Asked for with `consumers`; their configs with `config`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    consumer_detail: Vec<natsd_proto::jetstream::consumer::ConsumerInfo>,
}

#[derive(Serialize)]
pub(crate) struct AccountDetail {
    name: String,
    id: String,
    #[serde(flatten)]
    stats: StatsJson,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stream_detail: Vec<StreamDetail>,
}

/// One JetStream account as `/jsz` details it: usage, reservations (its
/// limits) and API counters, with its streams when `streams` is set.
fn account_detail(
    srv: &Server,
    jsa: &JsAccount,
    streams: bool,
    consumers: bool,
    config: bool,
) -> AccountDetail {
    let (memory, storage) = jsa.usage();
    let (reserved_memory, reserved_storage) = jsa.reserved();
    let mut stream_detail = Vec::new();
    if streams {
        let info = srv.info();
        for s in jsa.stream_list() {
            stream_detail.push(StreamDetail {
                name: s.name.clone(),
                created: Timestamp(s.created),
                cluster: ClusterJson {
                    name: info.cluster.clone(),
                    leader: info.server_name.clone(),
                },
                config: config.then(|| s.config()),
                state: s.state(),
                consumer_detail: if consumers {
                    s.consumer_list()
                        .iter()
                        .filter(|c| !c.st.lock().cfg.direct)
                        .map(|c| {
                            let mut i = c.info();
                            if !config {
                                i.config = None;
                            }
                            i
                        })
                        .collect()
                } else {
                    Vec::new()
                },
            });
        }
    }
    AccountDetail {
        name: jsa.account.name.clone(),
        id: jsa.account.name.clone(),
        stats: UsageStats {
            memory,
            storage,
            reserved_memory,
            reserved_storage,
            api_total: jsa.api_total.load(std::sync::atomic::Ordering::Relaxed),
            api_errors: jsa.api_errors.load(std::sync::atomic::Ordering::Relaxed),
            ..UsageStats::default()
        }
        .into(),
        stream_detail,
    }
}

/// The detail of one account for `$SYS.REQ.ACCOUNT.<acc>.JSZ`, or Go's
/// error text.
pub(crate) fn account_jsz(
    srv: &Server,
    account: &str,
    streams: bool,
    consumers: bool,
    config: bool,
) -> Result<Vec<u8>, String> {
    let Some(js) = srv.jetstream() else {
        return Err("jetstream not enabled".into());
    };
    let quoted = crate::jetstream::stream::check::go_quote(account);
    if srv.accounts().get(account).is_none() {
        return Err(format!("account {quoted} not found"));
    }
    let Some(jsa) = js.account(account) else {
        return Err(format!("account {quoted} not jetstream enabled"));
    };
    Ok(json::compact(&account_detail(
        srv, &jsa, streams, consumers, config,
    )))
}

#[derive(Serialize)]
struct JsInfo {
    server_id: String,
    #[serde(serialize_with = "json::time")]
    now: SystemTime,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    disabled: bool,
    config: ConfigJson,
    #[serde(flatten)]
    stats: StatsJson,
    streams: usize,
    consumers: usize,
    messages: u64,
    bytes: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    account_details: Vec<AccountDetail>,
}

/// What a `/jsz` request asks for.
struct Options {
    account: String,
    accounts: bool,
    streams: bool,
    consumers: bool,
    config: bool,
    leader_only: bool,
    offset: i64,
    limit: i64,
}

impl Options {
    /// The parameters in Go's order, so the first bad one is the error.
    fn parse(q: &Query) -> Result<Options, Reply> {
        let accounts = q.bool("accounts")?;
        let streams = q.bool("streams")?;
        let consumers = q.bool("consumers")?;
        let config = q.bool("config")?;
        let offset = q.int("offset")?;
        let limit = q.int("limit")?;
        let leader_only = q.bool("leader-only")?;
        Ok(Options {
            account: q.get("acc").to_string(),
            // Consumers imply streams, streams imply accounts.
            accounts: accounts || streams || consumers,
            streams: streams || consumers,
            consumers,
            config,
            leader_only,
            offset,
            limit,
        })
    }
}

pub fn jsz(srv: &Server, q: &Query) -> Reply {
    super::state(srv).count(q, "/jsz");
    let opts = match Options::parse(q) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let server_id = srv.info().server_id;
    let Some(js) = srv.jetstream() else {
        if opts.leader_only {
            return Reply::bad_request("filtered response: not leader");
        }
        let off = JsInfo {
            server_id,
            now: SystemTime::now(),
            disabled: true,
            config: ConfigJson::default(),
            stats: StatsJson::default(),
            streams: 0,
            consumers: 0,
            messages: 0,
            bytes: 0,
            account_details: Vec::new(),
        };
        return Reply::json(q, 200, json::pretty(&off));
    };
    // One server is always the leader.
    let mut accounts: Vec<Arc<JsAccount>> = js.accounts();
    let totals = js.stream_totals();
    let stats = js.usage_stats().into();
    if let Some(one) = accounts.iter().find(|a| a.account.name == opts.account) {
        accounts = vec![one.clone()];
    } else if opts.accounts {
        accounts.sort_by(|a, b| a.account.name.cmp(&b.account.name));
        let offset = opts.offset.max(0) as usize;
        accounts = accounts.into_iter().skip(offset).collect();
        let limit = match opts.limit {
            0 => DEFAULT_LIMIT,
            n => n.max(0) as usize,
        };
        accounts.truncate(limit);
    } else {
        accounts.clear();
    }
    let info = JsInfo {
        server_id,
        now: SystemTime::now(),
        disabled: false,
        config: ConfigJson::of(srv, &js),
        stats,
        streams: totals.streams,
        consumers: totals.consumers,
        messages: totals.messages,
        bytes: totals.bytes,
        account_details: accounts
            .iter()
            .map(|a| account_detail(srv, a, opts.streams, opts.consumers, opts.config))
            .collect(),
    };
    Reply::json(q, 200, json::pretty(&info))
}
