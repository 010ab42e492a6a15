//! `CONSUMER.CREATE|DURABLE.CREATE|INFO|DELETE|NAMES|LIST`, with Go's
//! checks in Go's order.

use super::{is_empty_request, Ctx, Empty};
use natsd_proto::jetstream::api::{types, NamesRequest, Paged};
use natsd_proto::jetstream::consumer::{
    ConsumerInfo, ConsumerList, ConsumerNames, CreateConsumerRequest,
};
use natsd_proto::jetstream::{ApiError, ErrorId};
use serde::Serialize;

/// Go's JSApiNamesLimit and JSApiListLimit.
const NAMES_LIMIT: usize = 1024;
const LIST_LIMIT: usize = 256;

#[derive(Serialize)]
struct Success {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    success: bool,
}

/// Which create subject a request came on.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Form {
    /// `CONSUMER.CREATE.<stream>[.<name>[.<filter>]]`
    New,
    /// `CONSUMER.CREATE.<stream>`
    LegacyEphemeral,
    /// `CONSUMER.DURABLE.CREATE.<stream>.<durable>`
    LegacyDurable,
}

/// Any of the three create forms; `t` are the subject's tokens after
/// `$JS.API.`.
pub fn create(ctx: &mut Ctx<'_>, t: &[&str]) {
    const K: &str = types::CONSUMER_CREATE;
    let mut req = match super::decode::<CreateConsumerRequest>(ctx.body) {
        Ok(r) => r,
        Err(_) => return ctx.fail(K, ApiError::new(ErrorId::InvalidJSON), Empty {}),
    };
    // Go counts the whole subject's tokens: `$JS.API.` is two.
    let n = t.len() + 2;
    let (form, stream, consumer) = if n == 5 {
        (Form::LegacyEphemeral, t[2], "")
    } else if t[1] == "DURABLE" {
        if n != 7 {
            return ctx.fail(
                K,
                ApiError::new(ErrorId::ConsumerDurableNameNotInSubject),
                Empty {},
            );
        }
        (Form::LegacyDurable, t[3], t[4])
    } else {
        (Form::New, t[2], t[3])
    };
    let filtered = if n > 7 {
        t[4..].join(".")
    } else {
        String::new()
    };
    let Some(jsa) = ctx.enabled(K, Empty {}) else {
        return;
    };
    if stream != req.stream {
        return ctx.fail(K, ApiError::new(ErrorId::StreamMismatch), Empty {});
    }
    if consumer.contains(['\\', '/']) {
        return ctx.fail(
            K,
            ApiError::new(ErrorId::ConsumerNameContainsPathSeparators),
            Empty {},
        );
    }
    let cfg = &mut req.config;
    match form {
        Form::LegacyDurable => {
            if cfg.durable.is_empty() {
                return ctx.fail(
                    K,
                    ApiError::new(ErrorId::ConsumerDurableNameNotSet),
                    Empty {},
                );
            }
            if consumer != cfg.durable {
                return ctx.fail(
                    K,
                    ApiError::new(ErrorId::ConsumerDurableNameNotMatchSubject),
                    Empty {},
                );
            }
        }
        Form::New => {
            if !cfg.durable.is_empty() && consumer != cfg.durable {
                return ctx.fail(
                    K,
                    ApiError::new(ErrorId::ConsumerDurableNameNotMatchSubject),
                    Empty {},
                );
            }
            cfg.name = consumer.to_string();
        }
        Form::LegacyEphemeral => {
            if !cfg.durable.is_empty() {
                return ctx.fail(
                    K,
                    ApiError::new(ErrorId::ConsumerEphemeralWithDurableName),
                    Empty {},
                );
            }
        }
    }
    if !filtered.is_empty() && cfg.filter_subject != filtered {
        return ctx.fail(
            K,
            ApiError::new(ErrorId::ConsumerCreateFilterSubjectMismatch),
            Empty {},
        );
    }
    if cfg.replicas > 1 {
        return ctx.fail(
            K,
            ApiError::new(ErrorId::StreamReplicasNotSupported),
            Empty {},
        );
    }
    let Some(s) = jsa.stream(&req.stream) else {
        return ctx.fail(K, ApiError::new(ErrorId::StreamNotFound), Empty {});
    };
    let js = ctx.js.clone();
    match s.add_consumer(&js, &jsa, req.config, false) {
        Ok(c) => {
            let info = c.info();
            ctx.send(K, None, info);
        }
        Err(e) => ctx.fail(K, e, Empty {}),
    }
}

pub fn info(ctx: &mut Ctx<'_>, stream: &str, consumer: &str) {
    const K: &str = types::CONSUMER_INFO;
    if !is_empty_request(ctx.body) {
        return ctx.fail(K, ApiError::new(ErrorId::NotEmptyRequest), Empty {});
    }
    let Some(jsa) = ctx.enabled(K, Empty {}) else {
        return;
    };
    let Some(s) = jsa.stream(stream) else {
        return ctx.fail(K, ApiError::new(ErrorId::StreamNotFound), Empty {});
    };
    let Some(c) = s.consumer(consumer) else {
        return ctx.fail(K, ApiError::new(ErrorId::ConsumerNotFound), Empty {});
    };
    let info: ConsumerInfo = c.info();
    ctx.send(K, None, info);
}

pub fn delete(ctx: &mut Ctx<'_>, stream: &str, consumer: &str) {
    const K: &str = types::CONSUMER_DELETE;
    let Some(jsa) = ctx.enabled(K, Empty {}) else {
        return;
    };
    if !is_empty_request(ctx.body) {
        return ctx.fail(K, ApiError::new(ErrorId::NotEmptyRequest), Empty {});
    }
    let Some(s) = jsa.stream(stream) else {
        return ctx.fail(K, ApiError::new(ErrorId::StreamNotFound), Empty {});
    };
    let Some(c) = s.consumer(consumer) else {
        return ctx.fail(K, ApiError::new(ErrorId::ConsumerNotFound), Empty {});
    };
    s.remove_consumer(&c, true);
    ctx.send(K, None, Success { success: true });
}

/// `CONSUMER.NAMES` and `CONSUMER.LIST`: a page of the stream's
/// consumers by name (Go always answers a list, empty on errors).
pub fn names(ctx: &mut Ctx<'_>, stream: &str, list: bool) {
    let kind = if list {
        types::CONSUMER_LIST
    } else {
        types::CONSUMER_NAMES
    };
    let fail = |ctx: &mut Ctx<'_>, e: ApiError| {
        if list {
            ctx.fail(kind, e, ConsumerList::default())
        } else {
            ctx.fail(kind, e, ConsumerNames::default())
        }
    };
    let Some(jsa) = ctx.jsa() else {
        return fail(ctx, ApiError::new(ErrorId::NotEnabledForAccount));
    };
    let mut offset = 0usize;
    if !is_empty_request(ctx.body) {
        match super::decode::<NamesRequest>(ctx.body) {
            Ok(r) => offset = r.offset.max(0) as usize,
            Err(_) => return fail(ctx, ApiError::new(ErrorId::InvalidJSON)),
        }
    }
    let Some(s) = jsa.stream(stream) else {
        return fail(ctx, ApiError::new(ErrorId::StreamNotFound));
    };
    let consumers: Vec<_> = s
        .consumer_list()
        .into_iter()
        .filter(|c| !c.st.lock().cfg.direct)
        .collect();
    let total = consumers.len();
    let offset = offset.min(total);
    let limit = if list { LIST_LIMIT } else { NAMES_LIMIT };
    let paged = Paged {
        total,
        offset,
        limit,
    };
    let page = consumers.iter().skip(offset).take(limit);
    if list {
        let consumers = page.map(|c| c.info()).collect();
        ctx.send(kind, None, ConsumerList { paged, consumers });
    } else {
        let consumers = page.map(|c| c.name.clone()).collect();
        ctx.send(kind, None, ConsumerNames { paged, consumers });
    }
}
