//! The live-data routes: module KPIs, notifications, alerts.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

use super::error::{parse_json, ApiError, ErrorBody, Shape};
use super::ApiState;
use crate::feeds::kpi::{self, KpiError};
use crate::feeds::Recipients;
use crate::store::{NewAlert, NewNotification, StoreError};

/// Severities accepted for notifications and alerts.
const SEVERITIES: &[&str] = &["info", "success", "warning", "error"];

/// (The features count database errors where they happen.)
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Unavailable(_) => ApiError::Unavailable,
            other => ApiError::Internal(other.into()),
        }
    }
}

/// A module key: what the rules accept as a room id (at most `rules::MAX_ID_LEN`), in
/// the characters a URL path segment carries as is.
fn check_module(key: &str) -> Result<(), ApiError> {
    let ok = !key.is_empty()
        && key.len() <= crate::rules::MAX_ID_LEN
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::Validation(format!(
            "moduleKey must be 1 to {} characters of a-z, 0-9, - or _",
            crate::rules::MAX_ID_LEN
        )))
    }
}

/// Replace or add KPIs of a module (upsert by `id`); an unknown module is created.
/// Subscribers of `module:{moduleKey}` get `kpi:update:{moduleKey}` with the full list.
#[utoipa::path(put, path = "/api/v1/modules/{moduleKey}/kpis", params(("moduleKey" = String, Path, description = "module key, e.g. finance")),
    request_body(content = Vec<Object>, description = "array of { id, label, value, trend?, status?, chart? }"),
    responses((status = 200, description = "the module's KPIs"), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn put_kpis(
    State(sh): State<Arc<ApiState>>,
    Path(module): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    check_module(&module)?;
    let body: Value = parse_json(&body?, Shape::Any, sh.max_json_depth)?;
    let kpis = kpi::validate(&body).map_err(|e| ApiError::Validation(e.to_string()))?;
    let list = sh
        .feeds
        .kpis
        .put(&module, &kpis)
        .await
        .map_err(|e| match e {
            KpiError::Store(s) => ApiError::from(s),
            other => ApiError::Validation(other.to_string()),
        })?;
    Ok(Json(json!({ "success": true, "data": list })))
}

/// A module's current KPIs (empty for an unknown module).
#[utoipa::path(get, path = "/api/v1/modules/{moduleKey}/kpis", params(("moduleKey" = String, Path, description = "module key")),
    responses((status = 200, description = "the module's KPIs")), security(("api_key" = [])))]
pub async fn get_kpis(
    State(sh): State<Arc<ApiState>>,
    Path(module): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_module(&module)?;
    Ok(Json(
        json!({ "success": true, "data": sh.feeds.kpis.module(&module) }),
    ))
}

/// A notification to create: exactly one of `userId`, `role`, `room`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationRequest {
    /// One user.
    pub user_id: Option<String>,
    /// Everyone with this role (also users who connect later).
    pub role: Option<String>,
    /// The users whose sockets are in this room now.
    pub room: Option<String>,
    /// Title (required).
    pub title: Option<String>,
    /// Body text (required).
    pub message: Option<String>,
    /// `info` (default), `success`, `warning` or `error`.
    pub severity: Option<String>,
}

fn required(v: Option<String>, field: &str) -> Result<String, ApiError> {
    match v {
        Some(s) if !s.trim().is_empty() && s.len() <= 4096 => Ok(s),
        _ => Err(ApiError::Validation(format!(
            "{field} is required (a non-empty string of at most 4096 bytes)"
        ))),
    }
}

fn severity(v: Option<String>) -> Result<String, ApiError> {
    let s = v.unwrap_or_else(|| "info".into());
    if SEVERITIES.contains(&s.as_str()) {
        Ok(s)
    } else {
        Err(ApiError::Validation(
            "severity must be one of info, success, warning, error".into(),
        ))
    }
}

/// Store a notification and deliver `notification:new` to its recipients now.
#[utoipa::path(post, path = "/api/v1/notifications", request_body = NotificationRequest,
    responses((status = 200, description = "the stored notification(s)"), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn post_notification(
    State(sh): State<Arc<ApiState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let req: NotificationRequest = parse_json(&body?, Shape::Object, sh.max_json_depth)?;
    let to = match (req.user_id, req.role, req.room) {
        (Some(u), None, None) if !u.is_empty() => Recipients::User(u),
        (None, Some(r), None) if !r.is_empty() => Recipients::Role(r),
        (None, None, Some(r)) if !r.is_empty() => Recipients::Room(r),
        _ => {
            return Err(ApiError::Validation(
                "exactly one of userId, role, room is required".into(),
            ))
        }
    };
    let new = NewNotification {
        title: required(req.title, "title")?,
        message: required(req.message, "message")?,
        severity: severity(req.severity)?,
    };
    let created = sh.feeds.notifications.send(&to, &new).await?;
    let data = if created.len() == 1 {
        json!(created[0])
    } else {
        json!(created)
    };
    Ok(Json(json!({ "success": true, "data": data })))
}

/// Whose notifications to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct NotificationQuery {
    /// The user.
    pub user_id: Option<String>,
    /// Their roles, comma-separated (role-targeted notifications count for them).
    pub roles: Option<String>,
    /// Most notifications returned, newest first (default 50, at most 500).
    pub limit: Option<i64>,
}

/// A user's notifications, newest first, with the unread count.
#[utoipa::path(get, path = "/api/v1/notifications", params(NotificationQuery),
    responses((status = 200, description = "{ notifications, unreadCount }"), (status = 422, body = ErrorBody)), security(("api_key" = [])))]
pub async fn list_notifications(
    State(sh): State<Arc<ApiState>>,
    q: Result<Query<NotificationQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let user = required(q.user_id, "userId")?;
    let roles: Vec<String> = q
        .roles
        .unwrap_or_default()
        .split(',')
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let (list, unread) = sh.feeds.notifications.list(&user, &roles, limit).await?;
    let items: Vec<Value> = list
        .into_iter()
        .map(|(n, read)| {
            let mut v = json!(n);
            v["read"] = json!(read);
            v
        })
        .collect();
    Ok(Json(
        json!({ "success": true, "data": { "notifications": items, "unreadCount": unread } }),
    ))
}

/// An alert to raise.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertRequest {
    /// Title (required).
    pub title: Option<String>,
    /// Body text (required).
    pub message: Option<String>,
    /// `info` (default), `success`, `warning` or `error`.
    pub severity: Option<String>,
}

/// Store an alert; everyone gets `alert:system` with the last 10, newest first.
#[utoipa::path(post, path = "/api/v1/alerts", request_body = AlertRequest,
    responses((status = 200, description = "the stored alert"), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)), security(("api_key" = [])))]
pub async fn post_alert(
    State(sh): State<Arc<ApiState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let req: AlertRequest = parse_json(&body?, Shape::Object, sh.max_json_depth)?;
    let new = NewAlert {
        title: required(req.title, "title")?,
        message: required(req.message, "message")?,
        severity: severity(req.severity)?,
    };
    let alert = sh.feeds.alerts.raise(&new).await?;
    Ok(Json(json!({ "success": true, "data": alert })))
}

/// The recent alerts, newest first.
#[utoipa::path(get, path = "/api/v1/alerts", responses((status = 200, description = "recent alerts")), security(("api_key" = [])))]
pub async fn list_alerts(State(sh): State<Arc<ApiState>>) -> Result<Json<Value>, ApiError> {
    let list = sh.feeds.alerts.list(50).await?;
    Ok(Json(json!({ "success": true, "data": list })))
}

/// Who is in a presence room (README "Presence"): `{ room, users, count, anonymous,
/// truncated }`, cluster-wide in a cluster.
#[utoipa::path(get, path = "/api/v1/rooms/{room}/presence", params(("room" = String, Path, description = "a room that a presence rule joins, e.g. library:main")),
    responses((status = 200, description = "the users in the room (at most presence_max_users), the distinct user count and the anonymous sockets"),
        (status = 404, body = ErrorBody, description = "no presence rule joins this room"), (status = 503, body = ErrorBody)), security(("api_key" = [])))]
pub async fn get_presence(
    State(sh): State<Arc<ApiState>>,
    Path(room): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let presence = &sh.feeds.presence;
    if !presence.tracks(&room) {
        return Err(ApiError::Missing(format!(
            "room `{room}` has no presence: no presence rule joins it"
        )));
    }
    let listing = presence.list(&room).await.map_err(|e| {
        tracing::warn!(error = %e, room, "presence listing failed");
        ApiError::ClusterUnavailable(
            "presence unavailable: the cluster store did not answer".into(),
        )
    })?;
    Ok(Json(json!({ "success": true, "data": listing })))
}
