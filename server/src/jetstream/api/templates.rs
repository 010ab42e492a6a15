//! `STREAM.TEMPLATE.CREATE|NAMES|INFO|DELETE`.

use super::{decode, is_empty_request, Ctx, Empty};
use crate::jetstream::account::JsAccount;
use crate::jetstream::stream::check::{check_config, MAX_NAME_LEN};
use crate::jetstream::template::{Template, TemplateConfig};
use crate::jetstream::JetStream;
use natsd_proto::jetstream::api::{types, NamesRequest, Paged};
use natsd_proto::jetstream::{ApiError, ErrorId};
use serde::Serialize;
use std::sync::Arc;

/// Go's JSApiNamesLimit.
const NAMES_LIMIT: usize = 1024;

#[derive(Serialize)]
struct Info {
    config: TemplateConfig,
    streams: Vec<String>,
}

#[derive(Serialize)]
struct Names {
    #[serde(flatten)]
    paged: Paged,
    streams: Option<Vec<String>>,
}

#[derive(Serialize)]
struct Success {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    success: bool,
}

fn create_error(text: &str) -> ApiError {
    ApiError::with(ErrorId::StreamTemplateCreate, &[("err", text)])
}

/// Go's checks of a new template; its stream config comes back checked,
/// named `_`.
pub fn check(
    js: &Arc<JetStream>,
    jsa: &JsAccount,
    mut t: TemplateConfig,
) -> Result<TemplateConfig, String> {
    check_api(js, jsa, &mut t).map_err(|e| e.description)?;
    Ok(t)
}

fn check_api(js: &Arc<JetStream>, jsa: &JsAccount, t: &mut TemplateConfig) -> Result<(), ApiError> {
    let mut cfg = t.config.clone().unwrap_or_default();
    if !cfg.name.is_empty() {
        return Err(create_error("template config name should be empty"));
    }
    if t.name.len() > MAX_NAME_LEN {
        return Err(create_error(&format!(
            "template name is too long, maximum allowed is {MAX_NAME_LEN}"
        )));
    }
    cfg.name = "_".into();
    let dupe_limit = js.server().map_or(0, |s| {
        s.opts().jetstream_config.limits.duplicate_window_ns as i64
    });
    t.config = Some(check_config(&cfg, &jsa.limits(), dupe_limit)?);
    Ok(())
}

fn info_of(t: &Template) -> Info {
    Info {
        config: t.config.clone(),
        streams: t.streams.lock().clone(),
    }
}

pub fn create(ctx: &mut Ctx<'_>, name: &str) {
    const K: &str = types::TEMPLATE_CREATE;
    let Some(jsa) = ctx.jsa() else {
        return ctx.fail(K, ApiError::new(ErrorId::NotEnabledForAccount), Empty {});
    };
    let Ok(mut t) = decode::<TemplateConfig>(ctx.body) else {
        return ctx.fail(K, ApiError::new(ErrorId::InvalidJSON), Empty {});
    };
    if name != t.name {
        return ctx.fail(
            K,
            ApiError::new(ErrorId::TemplateNameNotMatchSubject),
            Empty {},
        );
    }
    let js = ctx.js.clone();
    if let Err(e) = check_api(&js, &jsa, &mut t) {
        return ctx.fail(K, e, Empty {});
    }
    match jsa.add_template(&js, t) {
        Ok(t) => ctx.send(K, None, info_of(&t)),
        Err(e) => ctx.fail(K, create_error(&e), Empty {}),
    }
}

pub fn names(ctx: &mut Ctx<'_>) {
    const K: &str = types::TEMPLATE_NAMES;
    let none = || Names {
        paged: Paged::default(),
        streams: None,
    };
    let Some(jsa) = ctx.jsa() else {
        return ctx.fail(K, ApiError::new(ErrorId::NotEnabledForAccount), none());
    };
    let mut offset = 0;
    if !is_empty_request(ctx.body) {
        match decode::<NamesRequest>(ctx.body) {
            Ok(r) => offset = r.offset.max(0) as usize,
            Err(_) => return ctx.fail(K, ApiError::new(ErrorId::InvalidJSON), none()),
        }
    }
    let all: Vec<String> = jsa.templates.lock().keys().cloned().collect();
    let offset = offset.min(all.len());
    let page: Vec<String> = all.iter().skip(offset).take(NAMES_LIMIT).cloned().collect();
    let body = Names {
        paged: Paged {
            total: all.len(),
            offset,
            limit: NAMES_LIMIT,
        },
        streams: Some(page),
    };
    ctx.send(K, None, body);
}

pub fn info(ctx: &mut Ctx<'_>, name: &str) {
    const K: &str = types::TEMPLATE_INFO;
    let Some(jsa) = ctx.bodyless_request(K) else {
        return;
    };
    let t = jsa.templates.lock().get(name).cloned();
    match t {
        Some(t) => ctx.send(K, None, info_of(&t)),
        None => ctx.fail(K, ApiError::new(ErrorId::StreamTemplateNotFound), Empty {}),
    }
}

pub fn delete(ctx: &mut Ctx<'_>, name: &str) {
    const K: &str = types::TEMPLATE_DELETE;
    let Some(jsa) = ctx.bodyless_request(K) else {
        return;
    };
    let Some(streams) = jsa.remove_template(name) else {
        return ctx.fail(K, ApiError::new(ErrorId::StreamTemplateNotFound), Empty {});
    };
    for s in streams {
        super::streams::remove_stream(ctx, &jsa, &s.name);
    }
    ctx.send(K, None, Success { success: true });
}
