//! Go's checks of a stream configuration (checkStreamCfg and
//! configUpdateCheck), with the defaults they write back.

use crate::options::jetstream::AccountJsLimits;
use natsd_proto::jetstream::stream::{DiscardPolicy, Storage, StreamConfig};
use natsd_proto::jetstream::{ApiError, ErrorId};
use natsd_proto::subject::{is_subset_match, is_valid_subject, subjects_collide};

pub const MAX_NAME_LEN: usize = 255;
pub const MAX_DESCRIPTION_LEN: usize = 4 * 1024;
const MAX_REPLICAS: i64 = 5;
const MIN_WINDOW_NS: i64 = 100_000_000;
/// Two minutes, Go's default duplicate window.
pub const DEFAULT_DUPLICATE_WINDOW_NS: i64 = 120_000_000_000;

fn invalid(text: &str) -> ApiError {
    ApiError::with(ErrorId::StreamInvalidConfigF, &[("err", text)])
}

/// Go's isValidName: not empty, no whitespace, `.`, `*` or `>`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains([' ', '\t', '\r', '\n', '\u{c}', '.', '*', '>'])
}

/// The configuration with Go's defaults, or Go's refusal. `limits` are the
/// JetStream limits of the account it is checked for, and
/// `server_dupe_limit_ns` the server's `limits { duplicate_window }` (0:
/// none).
pub fn check_config(
    config: &StreamConfig,
    limits: &AccountJsLimits,
    server_dupe_limit_ns: i64,
) -> Result<StreamConfig, ApiError> {
    if !is_valid_name(&config.name) {
        return Err(invalid(
            "stream name is required and can not contain '.', '*', '>'",
        ));
    }
    if config.name.len() > MAX_NAME_LEN {
        return Err(invalid(&format!(
            "stream name is too long, maximum allowed is {MAX_NAME_LEN}"
        )));
    }
    if config.description.len() > MAX_DESCRIPTION_LEN {
        return Err(invalid(&format!(
            "stream description is too long, maximum allowed is {MAX_DESCRIPTION_LEN}"
        )));
    }
    let mut cfg = config.clone();
    if cfg.storage == Storage::Unset {
        cfg.storage = Storage::File;
    }
    if cfg.replicas == 0 {
        cfg.replicas = 1;
    }
    if cfg.replicas > MAX_REPLICAS {
        return Err(invalid(&format!("maximum replicas is {MAX_REPLICAS}")));
    }
    if cfg.replicas < 0 {
        return Err(ApiError::new(ErrorId::ReplicasCountCannotBeNegative));
    }
    for v in [&mut cfg.max_msgs, &mut cfg.max_msgs_per, &mut cfg.max_bytes] {
        if *v == 0 {
            *v = -1;
        }
    }
    if cfg.max_msg_size == 0 {
        cfg.max_msg_size = -1;
    }
    if cfg.max_consumers == 0 {
        cfg.max_consumers = -1;
    }
    if cfg.duplicates == 0 && cfg.mirror.is_none() {
        let mut max_window = DEFAULT_DUPLICATE_WINDOW_NS;
        if server_dupe_limit_ns > 0 && max_window > server_dupe_limit_ns {
            max_window = server_dupe_limit_ns;
        }
        cfg.duplicates = if cfg.max_age != 0 && cfg.max_age < max_window {
            cfg.max_age
        } else {
            max_window
        };
    }
    if cfg.max_age > 0 && cfg.max_age < MIN_WINDOW_NS {
        return Err(invalid("max age needs to be >= 100ms"));
    }
    if cfg.duplicates < 0 {
        return Err(invalid("duplicates window can not be negative"));
    }
    if cfg.max_age != 0 && cfg.duplicates > cfg.max_age {
        return Err(invalid("duplicates window can not be larger then max age"));
    }
    if server_dupe_limit_ns > 0 && cfg.duplicates > server_dupe_limit_ns {
        return Err(invalid(&format!(
            "duplicates window can not be larger then server limit of {}",
            crate::options::duration::format_nanos(i128::from(server_dupe_limit_ns))
        )));
    }
    if cfg.duplicates > 0 && cfg.duplicates < MIN_WINDOW_NS {
        return Err(invalid("duplicates window needs to be >= 100ms"));
    }
    if cfg.deny_purge && cfg.allow_rollup {
        return Err(invalid("roll-ups require the purge permission"));
    }
    if cfg.discard_new_per {
        if cfg.discard != DiscardPolicy::New {
            return Err(invalid(
                "discard new per subject requires discard new policy to be set",
            ));
        }
        if cfg.max_msgs_per <= 0 {
            return Err(invalid(
                "discard new per subject requires max msgs per subject > 0",
            ));
        }
    }
    if cfg.mirror.is_some() {
        if !cfg.subjects.is_empty() {
            return Err(ApiError::new(ErrorId::MirrorWithSubjects));
        }
        if !cfg.sources.is_empty() {
            return Err(ApiError::new(ErrorId::MirrorWithSources));
        }
    }
    if cfg.subjects.is_empty() {
        if cfg.mirror.is_none() && cfg.sources.is_empty() {
            cfg.subjects.push(cfg.name.clone());
        }
    } else {
        let mut seen = std::collections::HashSet::new();
        for s in &cfg.subjects {
            if !seen.insert(s.as_str()) {
                return Err(invalid("duplicate subjects detected"));
            }
            if is_subset_match(s, "$JS.API.>") {
                return Err(invalid("subjects overlap with jetstream api"));
            }
            if !is_valid_subject(s.as_bytes()) {
                return Err(invalid("invalid subject"));
            }
        }
    }
    if cfg.subjects.is_empty() && cfg.sources.is_empty() && cfg.mirror.is_none() {
        return Err(invalid(
            "stream needs at least one configured subject or be a source/mirror",
        ));
    }
    let (required, limit) = max_bytes_limits(limits, &cfg);
    if required && cfg.max_bytes <= 0 {
        return Err(ApiError::new(ErrorId::StreamMaxBytesRequired));
    } else if limit > 0 && cfg.max_bytes > limit {
        return Err(ApiError::new(ErrorId::StreamMaxStreamBytesExceeded));
    }
    if cfg.subjects.len() > 1 {
        for s in &cfg.subjects {
            for t in &cfg.subjects {
                if t != s && subjects_collide(t, s) {
                    return Err(invalid(&format!(
                        "subject {} overlaps with {}",
                        go_quote(s),
                        go_quote(t)
                    )));
                }
            }
        }
    }
    if let Some(rp) = cfg.republish.as_mut() {
        if rp.source.is_empty() {
            rp.source = ">".into();
        }
        if !cfg.subjects.iter().any(|s| subjects_collide(&rp.source, s)) {
            return Err(invalid(
                "stream configuration for republish source is not valid subset of subjects",
            ));
        }
        if cfg
            .subjects
            .iter()
            .any(|s| subjects_collide(&rp.destination, s))
        {
            return Err(invalid(
                "stream configuration for republish destination forms a cycle",
            ));
        }
        if natsd_proto::mapping::Transform::new(&rp.source, &rp.destination).is_err() {
            return Err(invalid("stream configuration for republish not valid"));
        }
    }
    Ok(cfg)
}

/// Go's configUpdateCheck: what an update may not change, and the
/// adjustments of a sealed stream.
pub fn check_update(
    old: &StreamConfig,
    new: &StreamConfig,
    limits: &AccountJsLimits,
    server_dupe_limit_ns: i64,
) -> Result<StreamConfig, ApiError> {
    let mut cfg = check_config(new, limits, server_dupe_limit_ns)?;
    let refuse = |text: &str| Err(invalid(text));
    if cfg.name != old.name {
        return refuse("stream configuration name must match original");
    }
    if cfg.max_consumers != old.max_consumers {
        return refuse("stream configuration update can not change MaxConsumers");
    }
    if cfg.storage != old.storage {
        return refuse("stream configuration update can not change storage type");
    }
    if cfg.retention != old.retention {
        return refuse("stream configuration update can not change retention policy");
    }
    if !old.template.is_empty() {
        return refuse("stream configuration update not allowed on template owned stream");
    }
    if !cfg.template.is_empty() {
        return refuse("stream configuration update can not be owned by a template");
    }
    if !cfg.sealed && old.sealed {
        return refuse("stream configuration update can not unseal a sealed stream");
    }
    if !cfg.deny_delete && old.deny_delete {
        return refuse("stream configuration update can not cancel deny message deletes");
    }
    if !cfg.deny_purge && old.deny_purge {
        return refuse("stream configuration update can not cancel deny purge");
    }
    if cfg.mirror != old.mirror {
        return Err(ApiError::new(ErrorId::StreamMirrorNotUpdatable));
    }
    if cfg.republish != old.republish {
        return refuse("stream configuration update can not change RePublish");
    }
    if cfg.sealed {
        cfg.max_age = 0;
        cfg.discard = DiscardPolicy::New;
        cfg.deny_delete = true;
        cfg.deny_purge = true;
        cfg.allow_rollup = false;
    }
    Ok(cfg)
}

/// Go's maxBytesLimits: whether max_bytes is required, and the most a
/// stream of this storage may reserve.
fn max_bytes_limits(l: &AccountJsLimits, cfg: &StreamConfig) -> (bool, i64) {
    let max = if cfg.storage == Storage::Memory {
        l.memory_max_stream_bytes
    } else {
        l.store_max_stream_bytes
    };
    (l.max_bytes_required, max)
}

/// Go's `%q` of a plain string.
pub fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> StreamConfig {
        serde_json::from_str(json).unwrap()
    }

    fn refusal(json: &str, limits: &AccountJsLimits) -> String {
        check_config(&config(json), limits, 0)
            .unwrap_err()
            .description
    }

    #[test]
    fn defaults_are_written_back() {
        let c = check_config(&config(r#"{"name":"S"}"#), &AccountJsLimits::UNLIMITED, 0).unwrap();
        assert_eq!(c.subjects, ["S"]);
        assert_eq!((c.storage, c.replicas), (Storage::File, 1));
        assert_eq!((c.max_msgs, c.max_bytes, c.max_msgs_per), (-1, -1, -1));
        assert_eq!((c.max_msg_size, c.max_consumers), (-1, -1));
        assert_eq!(c.duplicates, DEFAULT_DUPLICATE_WINDOW_NS);
        // A max_age shorter than two minutes is the window.
        let c = check_config(
            &config(r#"{"name":"S","max_age":1000000000}"#),
            &AccountJsLimits::UNLIMITED,
            0,
        )
        .unwrap();
        assert_eq!(c.duplicates, 1_000_000_000);
    }

    #[test]
    fn refusals_are_gos() {
        let u = &AccountJsLimits::UNLIMITED;
        assert_eq!(
            refusal(r#"{"name":"a.b"}"#, u),
            "stream name is required and can not contain '.', '*', '>'"
        );
        assert_eq!(
            refusal(r#"{"name":"S","subjects":["$JS.API.>"]}"#, u),
            "subjects overlap with jetstream api"
        );
        assert_eq!(
            refusal(r#"{"name":"S","subjects":["a.*","a.b"]}"#, u),
            r#"subject "a.*" overlaps with "a.b""#
        );
        assert_eq!(
            refusal(r#"{"name":"S","max_age":1000}"#, u),
            "max age needs to be >= 100ms"
        );
        assert_eq!(
            refusal(
                r#"{"name":"S","deny_purge":true,"allow_rollup_hdrs":true}"#,
                u
            ),
            "roll-ups require the purge permission"
        );
        let required = AccountJsLimits {
            max_bytes_required: true,
            ..AccountJsLimits::UNLIMITED
        };
        assert_eq!(
            refusal(r#"{"name":"S"}"#, &required),
            "account requires a stream config to have max bytes set"
        );
    }

    #[test]
    fn updates_keep_what_go_keeps() {
        let u = &AccountJsLimits::UNLIMITED;
        let old = check_config(&config(r#"{"name":"S","storage":"memory"}"#), u, 0).unwrap();
        let e = check_update(&old, &config(r#"{"name":"S","storage":"file"}"#), u, 0);
        assert_eq!(
            e.unwrap_err().description,
            "stream configuration update can not change storage type"
        );
        let sealed = check_update(
            &old,
            &config(r#"{"name":"S","storage":"memory","sealed":true,"max_age":1000000000}"#),
            u,
            0,
        )
        .unwrap();
        assert_eq!(
            (sealed.max_age, sealed.deny_delete, sealed.deny_purge),
            (0, true, true)
        );
    }
}
