//! `$JS.API.INFO` (an account's usage and limits) and the subjects a
//! single server answers with "clustering support required".

use super::{Ctx, Empty};
use natsd_proto::jetstream::api::types;
use natsd_proto::jetstream::{ApiError, ErrorId};

pub fn account_info(ctx: &mut Ctx<'_>) {
    const K: &str = types::ACCOUNT_INFO;
    match ctx.jsa() {
        Some(jsa) => {
            let stats = jsa.stats(&ctx.js.config.domain);
            ctx.send(K, None, stats);
        }
        None => ctx.fail(K, ApiError::new(ErrorId::NotEnabledForAccount), Empty {}),
    }
}

/// The cluster operations a single server refuses.
pub enum Op {
    PeerRemove,
    StreamStepdown,
    ConsumerStepdown,
}

pub fn cluster_required(ctx: &mut Ctx<'_>, op: Op) {
    let kind = match op {
        Op::PeerRemove => types::STREAM_REMOVE_PEER,
        Op::StreamStepdown => types::STREAM_LEADER_STEPDOWN,
        Op::ConsumerStepdown => types::CONSUMER_LEADER_STEPDOWN,
    };
    ctx.fail(kind, ApiError::new(ErrorId::ClusterRequired), Empty {});
}
