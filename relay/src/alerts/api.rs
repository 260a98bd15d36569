//! The alerts' HTTP API: history, one alert, its snapshot and clip,
//! acknowledging, and webhooks in.
//!
//! Every handler that takes an alert id loads the alert and checks the
//! caller's grant for *that alert's camera* before answering, on every
//! request; an alert of a camera the caller may not see is "not found", like
//! one that does not exist (no probing of ids). History is filtered by the
//! grant inside the SQL query.

use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use sightline_store::{Alert, AlertQuery, MediaKind, Role, DEFAULT_ALERT_PAGE, MAX_ALERT_PAGE};
use sightline_wire::{AlertInfo, AlertSeverity};
use tower::ServiceExt as _;
use tower_http::services::ServeFile;

use super::{check_kind, info, Change, Signal};
use crate::auth::{Caller, Via};
use crate::error::{Error, ErrorKind};
use crate::http::{AppState, JsonBody};

/// `GET /api/alerts` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    camera: Option<String>,
    /// An exact kind, or a prefix ending in `:` (`onvif:`, `webhook:`).
    kind: Option<String>,
    /// Started at or after (Unix ms).
    since: Option<i64>,
    /// Started before (Unix ms).
    until: Option<i64>,
    /// Paging: alerts with a smaller id than this (the previous page's `next`).
    before: Option<i64>,
    limit: Option<u32>,
}

/// One page of history, newest first.
#[derive(Debug, Serialize, Deserialize)]
pub struct AlertPage {
    pub alerts: Vec<AlertInfo>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<i64>,
}

fn not_found() -> Error {
    Error::new(ErrorKind::NotFound, "no such alert")
}

/// Loads alert `id` if the caller may see its camera.
async fn visible_alert(state: &AppState, caller: &Caller, id: i64) -> Result<Alert, Error> {
    let alert = state
        .alerts
        .db(move |s| s.alert(id))
        .await?
        .ok_or_else(not_found)?;
    if caller.may_view(&alert.camera) {
        Ok(alert)
    } else {
        Err(not_found())
    }
}

/// `GET /api/alerts`
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AlertPage>, Error> {
    let Query(q) = query.map_err(|e| Error::new(ErrorKind::BadRequest, e.body_text()))?;
    let limit = q.limit.unwrap_or(DEFAULT_ALERT_PAGE);
    if limit == 0 || limit > MAX_ALERT_PAGE {
        return Err(Error::new(
            ErrorKind::BadRequest,
            format!("limit must be from 1 to {MAX_ALERT_PAGE}"),
        ));
    }
    let grant = caller.cameras.clone();
    let alerts = state
        .alerts
        .db(move |s| {
            let mut query = AlertQuery::new(&grant);
            query.camera = q.camera.as_deref();
            query.kind = q.kind.as_deref();
            query.since_ms = q.since;
            query.until_ms = q.until;
            query.before = q.before;
            query.limit = limit;
            s.alerts(&query)
        })
        .await?;
    let next = (alerts.len() == limit as usize)
        .then(|| alerts.last().map(|a| a.id))
        .flatten();
    Ok(Json(AlertPage {
        alerts: alerts.iter().map(info).collect(),
        next,
    }))
}

/// `GET /api/alerts/{id}`
pub(crate) async fn one(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<Json<AlertInfo>, Error> {
    Ok(Json(info(&visible_alert(&state, &caller, id).await?)))
}

/// `GET /api/alerts/{id}/snapshot.jpg`
pub(crate) async fn snapshot(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    request: Request,
) -> Result<Response, Error> {
    media(state, caller, id, MediaKind::Snapshot, request).await
}

/// `GET /api/alerts/{id}/clip.mp4` (with HTTP Range, for `<video>`)
pub(crate) async fn clip(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    request: Request,
) -> Result<Response, Error> {
    media(state, caller, id, MediaKind::Clip, request).await
}

async fn media(
    state: AppState,
    caller: Caller,
    id: i64,
    kind: MediaKind,
    request: Request,
) -> Result<Response, Error> {
    let alert = visible_alert(&state, &caller, id).await?;
    let file = match kind {
        MediaKind::Snapshot => alert.snapshot,
        MediaKind::Clip => alert.clip,
    };
    let missing = || {
        Error::new(
            ErrorKind::NotFound,
            match kind {
                MediaKind::Snapshot => "this alert has no snapshot (yet)",
                MediaKind::Clip => {
                    "this alert has no clip (yet: it is written when the alert ends)"
                }
            },
        )
    };
    let mime = match kind {
        MediaKind::Snapshot => "image/jpeg",
        MediaKind::Clip => "video/mp4",
    };
    // Another relay's alert: its file is there.
    if let (None, Some(origin), Some(cluster)) = (&file, &alert.origin, state.alerts.cluster()) {
        let clip = kind == MediaKind::Clip;
        if (clip && origin.clip) || (!clip && origin.snapshot) {
            let (total, pieces) =
                crate::cluster::alerts::fetch_media(cluster, origin, &alert.camera, clip).await?;
            return Response::builder()
                .header(header::CONTENT_TYPE, mime)
                .header(header::CONTENT_LENGTH, total)
                .header(header::CACHE_CONTROL, "private, max-age=3600")
                .body(axum::body::Body::from_stream(pieces))
                .map_err(Error::internal);
        }
    }
    let path = file
        .and_then(|f| state.alerts.media_path(&f))
        .ok_or_else(missing)?;
    // ServeFile answers Range, If-Modified-Since and HEAD.
    let mut response = ServeFile::new_with_mime(&path, &mime.parse().expect("a valid mime"))
        .oneshot(request)
        .await
        .map_err(Error::internal)?
        .into_response();
    if response.status() == axum::http::StatusCode::NOT_FOUND {
        // Deleted by retention between the lookup and now.
        return Err(missing());
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(response)
}

/// `POST /api/alerts/{id}/ack`
pub(crate) async fn ack(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
) -> Result<Json<AlertInfo>, Error> {
    visible_alert(&state, &caller, id).await?;
    Ok(Json(state.alerts.ack(id, caller.name.clone()).await?))
}

/// `POST /api/cameras/{id}/alerts` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookAlert {
    /// What happened, short (`doorbell`, `person`): the alert's kind becomes
    /// `webhook:<kind>`. `label` is taken when `kind` is missing.
    kind: Option<String>,
    /// Shown on the tile; defaults to `kind`.
    label: Option<String>,
    severity: Option<AlertSeverity>,
    message: Option<String>,
    /// Ends the alert of this kind that an earlier call started.
    #[serde(default)]
    end: bool,
}

/// What a webhook call did.
#[derive(Debug, Serialize)]
pub struct WebhookAccepted {
    pub kind: String,
    /// Seconds it stays active without another call (absent for `end`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_secs: Option<u64>,
}

/// `POST /api/cameras/{id}/alerts`: doorbells, external detectors. An API key
/// (`Authorization: Bearer`) or a signed-in user with the operator role and
/// this camera in its grant.
pub(crate) async fn webhook(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(camera): Path<String>,
    JsonBody(body): JsonBody<WebhookAlert>,
) -> Result<(axum::http::StatusCode, Json<WebhookAccepted>), Error> {
    let is_key = matches!(&caller.via, Via::Bearer { sub } if sub.starts_with("key:"));
    if matches!(caller.via, Via::Bearer { .. }) && !is_key {
        return Err(Error::new(
            ErrorKind::Forbidden,
            "kiosk and share-link tokens cannot raise alerts: use an API key (admin page → API keys)",
        ));
    }
    caller.require(Role::Operator)?;
    if state.hub.get(&camera).is_none() || !caller.may_view(&camera) {
        return Err(Error::new(ErrorKind::NotFound, "no such camera"));
    }
    let name = body
        .kind
        .as_deref()
        .or(body.label.as_deref())
        .ok_or_else(|| Error::new(ErrorKind::BadRequest, "give `kind` (e.g. \"doorbell\")"))?;
    let kind = format!("webhook:{name}");
    check_kind(&kind).map_err(|why| Error::new(ErrorKind::BadRequest, why))?;
    for (field, text) in [("label", &body.label), ("message", &body.message)] {
        if text.as_ref().is_some_and(|t| t.chars().count() > 1024) {
            return Err(Error::new(
                ErrorKind::BadRequest,
                format!("`{field}` is at most 1024 characters"),
            ));
        }
    }
    let hold = Duration::from_secs(state.alerts.config.webhook_hold);
    let change = if body.end {
        Change::End
    } else {
        Change::Start {
            label: Some(body.label.clone().unwrap_or_else(|| name.to_owned())),
            kind: kind.clone(),
            message: body.message,
            severity: body.severity,
            zones: Vec::new(),
            score: 0.0,
            area: 0.0,
            hold: Some(hold),
            snapshot: None,
        }
    };
    let accepted = state.alerts.signal(Signal {
        camera,
        key: kind.clone(),
        change,
    });
    if !accepted {
        return Err(Error::new(
            ErrorKind::Unavailable,
            "the relay is overwhelmed with alerts right now: try again shortly",
        )
        .retry_after(1));
    }
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(WebhookAccepted {
            kind,
            hold_secs: (!body.end).then_some(hold.as_secs()),
        }),
    ))
}
