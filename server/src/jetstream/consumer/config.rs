//! Go's defaults and checks of a consumer configuration
//! (setConsumerConfigDefaults, checkConsumerCfg, checkNewConsumerConfig).

use crate::options::jetstream::{AccountJsLimits, JetStreamLimits};
use natsd_proto::jetstream::consumer::{AckPolicy, ConsumerConfig, DeliverPolicy};
use natsd_proto::jetstream::stream::StreamConfig;
use natsd_proto::jetstream::{ApiError, ErrorId};
use natsd_proto::subject::{is_literal, is_subset_match, is_valid_subject};

/// 30 s, for consumers that take acks.
pub const DEFAULT_ACK_WAIT_NS: i64 = 30_000_000_000;
/// 5 s, after which an ephemeral without interest goes.
pub const DEFAULT_INACTIVE_NS: i64 = 5_000_000_000;
pub const DEFAULT_MAX_ACK_PENDING: i64 = 1000;
pub const DEFAULT_MAX_WAITING: i64 = 512;
const MAX_DESCRIPTION_LEN: usize = 4 * 1024;
const MS: i64 = 1_000_000;

/// Fills Go's defaults in.
pub fn set_defaults(cfg: &mut ConsumerConfig, srv: &JetStreamLimits, acc: &AccountJsLimits) {
    let acks = matches!(cfg.ack_policy, AckPolicy::Explicit | AckPolicy::All);
    if cfg.deliver_subject.is_empty() && cfg.max_waiting == 0 {
        cfg.max_waiting = DEFAULT_MAX_WAITING;
    }
    if cfg.ack_wait == 0 && acks {
        cfg.ack_wait = DEFAULT_ACK_WAIT_NS;
    }
    if cfg.max_deliver == 0 {
        cfg.max_deliver = -1;
    }
    if let Some(first) = cfg.backoff.first() {
        cfg.ack_wait = *first;
    }
    if acks && cfg.max_ack_pending == 0 {
        let mut pending = DEFAULT_MAX_ACK_PENDING;
        if srv.max_ack_pending > 0 && srv.max_ack_pending < pending {
            pending = srv.max_ack_pending;
        }
        if acc.max_ack_pending > 0 && acc.max_ack_pending < pending {
            pending = acc.max_ack_pending;
        }
        cfg.max_ack_pending = pending;
    }
    if cfg.deliver_subject.is_empty() && cfg.max_request_batch == 0 && srv.max_request_batch > 0 {
        cfg.max_request_batch = srv.max_request_batch;
    }
}

fn invalid_policy(text: String) -> ApiError {
    ApiError::with(ErrorId::ConsumerInvalidPolicy, &[("err", &text)])
}

/// Go's checkConsumerCfg, in its order; `recovering` skips the filter
/// check, as Go does for consumers read back at start-up.
pub fn check(
    cfg: &ConsumerConfig,
    srv: &JetStreamLimits,
    stream: &StreamConfig,
    acc: &AccountJsLimits,
    recovering: bool,
) -> Result<(), ApiError> {
    if cfg.replicas > 0 && cfg.replicas > stream.replicas {
        return Err(ApiError::new(ErrorId::ConsumerReplicasExceedsStream));
    }
    if cfg.replicas < 0 {
        return Err(ApiError::new(ErrorId::ReplicasCountCannotBeNegative));
    }
    if !cfg.backoff.is_empty() && cfg.max_deliver <= cfg.backoff.len() as i64 {
        return Err(ApiError::new(ErrorId::ConsumerMaxDeliverBackoff));
    }
    if cfg.description.len() > MAX_DESCRIPTION_LEN {
        return Err(ApiError::with(
            ErrorId::ConsumerDescriptionTooLong,
            &[("max", &MAX_DESCRIPTION_LEN.to_string())],
        ));
    }
    if !cfg.deliver_subject.is_empty() {
        let d = &cfg.deliver_subject;
        if !is_literal(d.as_bytes()) {
            return Err(ApiError::new(ErrorId::ConsumerDeliverToWildcards));
        }
        if !is_valid_subject(d.as_bytes()) {
            return Err(ApiError::new(ErrorId::ConsumerInvalidDeliverSubject));
        }
        if stream.subjects.iter().any(|s| is_subset_match(d, s)) {
            return Err(ApiError::new(ErrorId::ConsumerDeliverCycle));
        }
        if cfg.max_waiting != 0 {
            return Err(ApiError::new(ErrorId::ConsumerPushMaxWaiting));
        }
        if cfg.max_ack_pending > 0 && cfg.ack_policy == AckPolicy::None {
            return Err(ApiError::new(ErrorId::ConsumerMaxPendingAckPolicyRequired));
        }
        if cfg.heartbeat > 0 && cfg.heartbeat < 100 * MS {
            return Err(ApiError::new(ErrorId::ConsumerSmallHeartbeat));
        }
    } else {
        use natsd_proto::jetstream::stream::Retention;
        if cfg.ack_policy == AckPolicy::None && stream.retention == Retention::WorkQueue {
            return Err(ApiError::new(ErrorId::ConsumerPullRequiresAck));
        }
        if cfg.rate_limit > 0 {
            return Err(ApiError::new(ErrorId::ConsumerPullWithRateLimit));
        }
        if cfg.max_waiting < 0 {
            return Err(ApiError::new(ErrorId::ConsumerMaxWaitingNegative));
        }
        if cfg.heartbeat > 0 {
            return Err(ApiError::new(ErrorId::ConsumerHBRequiresPush));
        }
        if cfg.flow_control {
            return Err(ApiError::new(ErrorId::ConsumerFCRequiresPush));
        }
        if cfg.max_request_batch < 0 {
            return Err(ApiError::new(ErrorId::ConsumerMaxRequestBatchNegative));
        }
        if cfg.max_request_expires != 0 && cfg.max_request_expires < MS {
            return Err(ApiError::new(ErrorId::ConsumerMaxRequestExpiresToSmall));
        }
        if srv.max_request_batch > 0 && cfg.max_request_batch > srv.max_request_batch {
            return Err(ApiError::with(
                ErrorId::ConsumerMaxRequestBatchExceededF,
                &[("limit", &srv.max_request_batch.to_string())],
            ));
        }
    }
    for limit in [srv.max_ack_pending, acc.max_ack_pending] {
        if limit > 0 && cfg.max_ack_pending > limit {
            return Err(ApiError::with(
                ErrorId::ConsumerMaxPendingAckExcess,
                &[("limit", &limit.to_string())],
            ));
        }
    }
    if cfg.direct {
        if cfg.deliver_subject.is_empty() {
            return Err(ApiError::new(ErrorId::ConsumerDirectRequiresPush));
        }
        if cfg.is_durable() {
            return Err(ApiError::new(ErrorId::ConsumerDirectRequiresEphemeral));
        }
    }
    if !cfg.filter_subject.is_empty() {
        let external = recovering || stream.mirror.is_some() || !stream.sources.is_empty();
        if !external && !valid_filter(&cfg.filter_subject, &stream.subjects) {
            return Err(ApiError::new(ErrorId::ConsumerFilterNotSubset));
        }
    }
    check_start(cfg)?;
    if !cfg.sample_frequency.is_empty() {
        let s = cfg.sample_frequency.trim_end_matches('%');
        match s.parse::<i64>() {
            Ok(n) if n >= 0 => {}
            Ok(_) => {
                return Err(ApiError::with(
                    ErrorId::ConsumerInvalidSampling,
                    &[("err", "<nil>")],
                ))
            }
            Err(_) => {
                let text = format!("strconv.Atoi: parsing {}: invalid syntax", go_quote(s));
                return Err(ApiError::with(
                    ErrorId::ConsumerInvalidSampling,
                    &[("err", &text)],
                ));
            }
        }
    }
    if cfg.flow_control && cfg.heartbeat == 0 {
        return Err(ApiError::new(
            ErrorId::ConsumerWithFlowControlNeedsHeartbeats,
        ));
    }
    if cfg.is_durable() && !cfg.name.is_empty() && cfg.name != cfg.durable {
        return Err(ApiError::new(ErrorId::ConsumerCreateDurableAndNameMismatch));
    }
    Ok(())
}

fn go_quote(s: &str) -> String {
    crate::jetstream::stream::check::go_quote(s)
}

/// Go's start-position conflicts of the deliver policy.
fn check_start(cfg: &ConsumerConfig) -> Result<(), ApiError> {
    let bad = |dp: &str, start: &str| {
        Err(invalid_policy(format!(
            "consumer delivery policy is deliver {dp}, but optional start {start} is also set"
        )))
    };
    let not_set = |dp: &str, what: &str| {
        Err(invalid_policy(format!(
            "consumer delivery policy is deliver {dp}, but optional {what} is not set"
        )))
    };
    let (seq, time) = (cfg.opt_start_seq > 0, cfg.opt_start_time.is_some());
    match cfg.deliver_policy {
        DeliverPolicy::All | DeliverPolicy::Last | DeliverPolicy::New => {
            let dp = match cfg.deliver_policy {
                DeliverPolicy::All => "all",
                DeliverPolicy::Last => "last",
                _ => "new",
            };
            if seq {
                return bad(dp, "sequence");
            }
            if time {
                return bad(dp, "time");
            }
        }
        DeliverPolicy::LastPerSubject => {
            if seq {
                return bad("last per subject", "sequence");
            }
            if time {
                return bad("last per subject", "time");
            }
            if cfg.filter_subject.is_empty() {
                return not_set("last per subject", "filter subject");
            }
        }
        DeliverPolicy::ByStartSequence => {
            if !seq {
                return not_set("by start sequence", "start sequence");
            }
            if time {
                return bad("by start sequence", "time");
            }
        }
        DeliverPolicy::ByStartTime => {
            if !time {
                return not_set("by start time", "start time");
            }
            if seq {
                return bad("by start time", "start sequence");
            }
        }
    }
    Ok(())
}

/// Go's validFilteredSubject: the filter is within the stream's subjects,
/// or a wildcard filter covers one of them.
pub fn valid_filter(filter: &str, subjects: &[String]) -> bool {
    if !is_valid_subject(filter.as_bytes()) {
        return false;
    }
    let wild = !is_literal(filter.as_bytes());
    subjects
        .iter()
        .any(|s| is_subset_match(filter, s) || (wild && is_subset_match(s, filter)))
}

/// Why an existing consumer can not take a new config (Go's
/// checkNewConsumerConfig); `deliver_has_interest` says whether the old
/// deliver subject has subscribers.
pub fn check_update(
    old: &ConsumerConfig,
    new: &ConsumerConfig,
    deliver_has_interest: bool,
) -> Result<(), ApiError> {
    if old == new {
        return Ok(());
    }
    let refuse = |text: &str| Err(ApiError::with(ErrorId::ConsumerCreate, &[("err", text)]));
    if old.deliver_policy != new.deliver_policy {
        return refuse("deliver policy can not be updated");
    }
    if old.opt_start_seq != new.opt_start_seq {
        return refuse("start sequence can not be updated");
    }
    if old.opt_start_time != new.opt_start_time {
        return refuse("start time can not be updated");
    }
    if old.ack_policy != new.ack_policy {
        return refuse("ack policy can not be updated");
    }
    if old.replay_policy != new.replay_policy {
        return refuse("replay policy can not be updated");
    }
    if old.heartbeat != new.heartbeat {
        return refuse("heart beats can not be updated");
    }
    if old.flow_control != new.flow_control {
        return refuse("flow control can not be updated");
    }
    if old.max_waiting != new.max_waiting {
        return refuse("max waiting can not be updated");
    }
    if old.deliver_subject != new.deliver_subject {
        if old.deliver_subject.is_empty() {
            return refuse("can not update pull consumer to push based");
        }
        if new.deliver_subject.is_empty() {
            return refuse("can not update push consumer to pull based");
        }
        if deliver_has_interest {
            return Err(ApiError::new(ErrorId::ConsumerNameExist));
        }
    }
    if !new.backoff.is_empty() && new.max_deliver <= new.backoff.len() as i64 {
        return Err(ApiError::new(ErrorId::ConsumerMaxDeliverBackoff));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream() -> StreamConfig {
        StreamConfig {
            name: "S".into(),
            subjects: vec!["foo.*".into()],
            replicas: 1,
            ..Default::default()
        }
    }

    #[test]
    fn defaults_are_gos() {
        let mut c = ConsumerConfig {
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        };
        set_defaults(
            &mut c,
            &JetStreamLimits::default(),
            &AccountJsLimits::UNLIMITED,
        );
        assert_eq!(
            (c.ack_wait, c.max_deliver, c.max_ack_pending, c.max_waiting),
            (DEFAULT_ACK_WAIT_NS, -1, 1000, 512)
        );
    }

    #[test]
    fn checks_in_gos_order() {
        let lim = JetStreamLimits::default();
        let acc = AccountJsLimits::UNLIMITED;
        let push = |d: &str| ConsumerConfig {
            deliver_subject: d.into(),
            ..Default::default()
        };
        let code = |c: &ConsumerConfig| {
            check(c, &lim, &stream(), &acc, false)
                .err()
                .map(|e| e.err_code)
        };
        assert_eq!(code(&push("a.*")), Some(10079));
        assert_eq!(code(&push("foo.bar")), Some(10081));
        assert_eq!(code(&push("ok")), None);
        let c = ConsumerConfig {
            filter_subject: "bar".into(),
            ..Default::default()
        };
        assert_eq!(code(&c), Some(10093));
        assert!(!valid_filter("bar", &["foo.*".to_string()]));
        assert!(valid_filter(">", &["foo.*".to_string()]));
        let c = ConsumerConfig {
            deliver_policy: DeliverPolicy::ByStartSequence,
            ..Default::default()
        };
        let e = check(&c, &lim, &stream(), &acc, false).unwrap_err();
        assert_eq!(
            e.description,
            "consumer delivery policy is deliver by start sequence, but optional start sequence is not set"
        );
    }
}
