//! `/subsz` (and its alias `/subscriptionsz`): subscription index
//! statistics and, on request, the subscriptions themselves.

use super::connz::SubDetail;
use super::json::{self, float};
use super::query::Query;
use super::Reply;
use crate::server::Server;
use natsd_proto::subject::{is_valid_literal_subject, matches};
use natsd_proto::sublist::SublistStats;
use serde::Serialize;
use std::time::SystemTime;

const DEFAULT_LIMIT: i64 = 1024;

/// Go's `SublistStats` in JSON.
#[derive(Serialize)]
pub struct StatsJson {
    num_subscriptions: u64,
    num_cache: u64,
    num_inserts: u64,
    num_removes: u64,
    num_matches: u64,
    #[serde(serialize_with = "float")]
    cache_hit_rate: f64,
    max_fanout: u64,
    #[serde(serialize_with = "float")]
    avg_fanout: f64,
}

impl From<&SublistStats> for StatsJson {
    fn from(s: &SublistStats) -> Self {
        Self {
            num_subscriptions: s.num_subs,
            num_cache: s.num_cache,
            num_inserts: s.num_inserts,
            num_removes: s.num_removes,
            num_matches: s.num_matches,
            cache_hit_rate: s.cache_hit_rate,
            max_fanout: s.max_fanout,
            avg_fanout: s.avg_fanout,
        }
    }
}

#[derive(Serialize)]
struct Subsz {
    server_id: String,
    #[serde(serialize_with = "json::time")]
    now: SystemTime,
    #[serde(flatten)]
    stats: StatsJson,
    total: usize,
    offset: i64,
    limit: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions_list: Vec<SubDetail>,
}

pub fn handle(srv: &Server, q: &Query) -> Reply {
    super::state(srv).count(q, "/subsz");
    let list = match q.bool("subs") {
        Ok(b) => b,
        Err(r) => return r,
    };
    let offset = match q.int("offset") {
        Ok(n) => n.max(0),
        Err(r) => return r,
    };
    let limit = match q.int("limit") {
        Ok(n) if n <= 0 => DEFAULT_LIMIT,
        Ok(n) => n,
        Err(r) => return r,
    };
    let test = q.get("test");
    if !test.is_empty() && !is_valid_literal_subject(test.as_bytes()) {
        return Reply::bad_request(format!(
            "invalid test subject, must be valid publish subject: {test}"
        ));
    }
    // No name selects every account; an unknown one selects nothing.
    let acc = q.get("acc");
    let accounts = srv.accounts();
    let selected: Vec<_> = accounts
        .all()
        .iter()
        .filter(|a| acc.is_empty() || a.name == acc)
        .collect();
    let mut stats = SublistStats::default();
    let mut details = Vec::new();
    for a in selected {
        let sl = &a.sublist;
        stats.add(&sl.stats());
        if list {
            details.extend(
                sl.all()
                    .iter()
                    .filter(|s| test.is_empty() || matches(&s.subject, test.as_bytes()))
                    .map(|s| SubDetail::of(s, true)),
            );
        }
    }
    let lo = (offset as usize).min(details.len());
    let hi = (offset.saturating_add(limit) as usize).min(details.len());
    let page: Vec<SubDetail> = details.drain(lo..hi).collect();
    // Over HTTP, Go prints the bare statistics when the page is empty.
    let body = if page.is_empty() && q.is_http() {
        json::pretty(&StatsJson::from(&stats))
    } else {
        json::pretty(&Subsz {
            server_id: srv.info().server_id,
            now: SystemTime::now(),
            stats: StatsJson::from(&stats),
            total: page.len(),
            offset,
            limit,
            subscriptions_list: page,
        })
    };
    Reply::json(q, 200, body)
}
