//! The HTTP surface: the page at `/` and the JSON API under `/api`.
//!
//! Every `/api` route but `/api/health` needs an operator's bearer token (401 otherwise);
//! actions on a handoff also need the handoff to be routed to the operator's team (403). Errors
//! are JSON: `{"error": "<code>", "message": "<what to do>"}`.

use crate::auth::{check_ownership, AuthError, Identity, OwnershipError};
use crate::store;
use crate::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use handoff_core::records::{Actor, CommandAction, ConversationEvent, OperatorCommand};
use handoff_core::validate::{self, DEFAULT_LIMITS};
use handoff_core::Policy;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json_};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The whole front end: one HTML file with inline CSS and vanilla JS.
pub const PAGE: &str = include_str!("page.html");

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/health", get(health))
        .route("/api/me", get(me))
        .route("/api/teams", get(teams))
        .route("/api/working-hours", get(working_hours))
        .route("/api/queue", get(queue))
        .route("/api/counts", get(counts))
        .route("/api/handoffs/{handoff_id}", get(handoff))
        .route("/api/handoffs/{handoff_id}/commands", post(command))
        .route(
            "/api/handoffs/{handoff_id}/commands/{command_id}",
            get(command_status),
        )
        .route("/api/handoffs/{handoff_id}/messages", post(message))
        .with_state(state)
}

// ---- errors ---------------------------------------------------------------------------------

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Unauthenticated(#[from] AuthError),
    #[error(transparent)]
    Forbidden(OwnershipError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unavailable(String),
}

impl From<OwnershipError> for ApiError {
    fn from(e: OwnershipError) -> Self {
        match e {
            OwnershipError::Unrouted { .. } => ApiError::Conflict(e.to_string()),
            other => ApiError::Forbidden(other),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        tracing::warn!(error = %e, "audit store query failed");
        let undefined_table = e
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|c| c == "42P01" || c == "42883");
        if undefined_table {
            ApiError::Unavailable("the audit store has no tables yet: is the auditor running (it migrates the database)?".into())
        } else {
            ApiError::Unavailable(format!("the audit store is not available: {e}"))
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError::BadRequest(format!(
            "the request body is not the expected JSON: {}",
            e.body_text()
        ))
    }
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let mut response = (
            status,
            Json(json!({"error": code, "message": self.to_string()})),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"handoff console\""),
            );
        }
        response
    }
}

type ApiResult<T> = Result<T, ApiError>;

// ---- authentication -------------------------------------------------------------------------

/// The operator a request's bearer token names; extracting it answers 401 when there is none.
pub struct Authed(pub Identity);

impl FromRequestParts<Arc<AppState>> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        Ok(Authed(state.operators.authenticate(header)?))
    }
}

// ---- reads ----------------------------------------------------------------------------------

async fn page() -> impl IntoResponse {
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            // Everything is inline in the one file; nothing loads from elsewhere.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                 connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; \
                 frame-ancestors 'none'",
            ),
        ],
        Html(PAGE),
    )
}

async fn health(State(state): State<Arc<AppState>>) -> ApiResult<Json<Json_>> {
    store::ready(&state.pool).await?;
    Ok(Json(json!({"ok": true})))
}

async fn me(Authed(who): Authed) -> Json<Identity> {
    Json(who)
}

async fn teams(State(state): State<Arc<AppState>>, Authed(_): Authed) -> Json<Json_> {
    Json(json!({"teams": state.policy.routing.teams}))
}

async fn working_hours(State(state): State<Arc<AppState>>, Authed(_): Authed) -> Json<Json_> {
    Json(working_hours_json(&state.policy, Utc::now()))
}

/// Whether a "send a follow-up now" would be honoured at `now` (the detector checks the same
/// policy at the command's time and skips the follow-up outside working hours).
pub fn working_hours_json(policy: &Policy, now: chrono::DateTime<Utc>) -> Json_ {
    let wh = &policy.working_hours;
    json!({
        "open_now": wh.contains(now),
        "description": format!("{} {}-{} {}", wh.days.join(","), wh.open, wh.close, wh.time_zone),
    })
}

#[derive(Debug, Deserialize)]
pub struct TeamFilter {
    #[serde(default)]
    team: Option<String>,
}

impl TeamFilter {
    fn team(&self) -> Option<&str> {
        self.team
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty() && *t != "all")
    }
}

/// The reason in words, with what matched when that helps ("Keyword matched (unsubscribe)").
pub fn reason_text(
    policy: &Policy,
    kind: Option<&str>,
    label: Option<&str>,
    evidence: Option<&str>,
) -> String {
    let label = label.unwrap_or("Unknown reason").to_string();
    let evidence = evidence.unwrap_or_default().to_lowercase();
    let matched = match kind {
        Some("keyword") => {
            let k = &policy.rules.keyword;
            let mut words: Vec<&String> = k
                .keywords
                .iter()
                .chain(k.tenants.values().flat_map(|t| t.keywords.iter()))
                .collect();
            // The longest first: "delete my data" rather than a shorter keyword inside it.
            words.sort_by_key(|w| std::cmp::Reverse(w.len()));
            words
                .into_iter()
                .find(|w| evidence.contains(&w.to_lowercase()))
                .cloned()
                .or_else(|| {
                    k.exact
                        .iter()
                        .find(|w| evidence.trim() == w.to_lowercase())
                        .cloned()
                })
        }
        Some("tool_call") => policy
            .rules
            .tool_call
            .names
            .iter()
            .find(|n| evidence.contains(&n.to_lowercase()))
            .cloned(),
        _ => None,
    };
    match matched {
        Some(m) => format!("{label} ({m})"),
        None => label,
    }
}

#[derive(Debug, Serialize)]
pub struct QueueItem {
    #[serde(flatten)]
    pub row: store::QueueRow,
    pub reason_text: String,
    /// Whether the signed-in operator's team owns it (may act on it).
    pub mine: bool,
}

async fn queue(
    State(state): State<Arc<AppState>>,
    Authed(who): Authed,
    Query(filter): Query<TeamFilter>,
) -> ApiResult<Json<Json_>> {
    let rows = store::queue(&state.pool, filter.team()).await?;
    let items: Vec<QueueItem> = rows
        .into_iter()
        .map(|row| QueueItem {
            reason_text: reason_text(
                &state.policy,
                row.primary_reason.as_deref(),
                row.reason.as_deref(),
                row.reason_evidence.as_deref(),
            ),
            mine: row.team.as_deref() == Some(who.team.as_str()),
            row,
        })
        .collect();
    Ok(Json(json!({"team": filter.team(), "handoffs": items})))
}

async fn counts(
    State(state): State<Arc<AppState>>,
    Authed(_): Authed,
    Query(filter): Query<TeamFilter>,
) -> ApiResult<Json<store::Counts>> {
    Ok(Json(store::counts(&state.pool, filter.team()).await?))
}

async fn load_handoff(state: &AppState, handoff_id: &str) -> ApiResult<store::HandoffRow> {
    store::handoff(&state.pool, handoff_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no handoff {handoff_id} in the audit store")))
}

async fn handoff(
    State(state): State<Arc<AppState>>,
    Authed(who): Authed,
    Path(handoff_id): Path<String>,
) -> ApiResult<Json<Json_>> {
    let row = load_handoff(&state, &handoff_id).await?;
    let package = store::payload(&state.pool, &handoff_id).await?;
    let history = store::history(&state.pool, &row.conversation_id).await?;
    let reasons: Vec<Json_> = row
        .reasons
        .as_ref()
        .and_then(Json_::as_array)
        .map(|rs| {
            rs.iter()
                .enumerate()
                .map(|(i, r)| {
                    let kind = r.get("kind").and_then(Json_::as_str);
                    let evidence = r.get("evidence_text").and_then(Json_::as_str);
                    let label = row
                        .reason_labels
                        .as_ref()
                        .and_then(|l| l.get(i))
                        .and_then(Json_::as_str);
                    json!({
                        "kind": kind,
                        "rule_id": r.get("rule_id"),
                        "text": reason_text(&state.policy, kind, label, evidence),
                        "evidence_text": evidence,
                        "score": r.get("score"),
                        "threshold": r.get("threshold"),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let primary_evidence = row
        .reasons
        .as_ref()
        .and_then(|r| r.get(0))
        .and_then(|r| r.get("evidence_text"))
        .and_then(Json_::as_str);
    let reason = reason_text(
        &state.policy,
        row.primary_reason.as_deref(),
        row.reason.as_deref(),
        primary_evidence,
    );
    Ok(Json(json!({
        "handoff": row,
        "reason_text": reason,
        "reasons": reasons,
        "package": package,
        "history": history,
        "mine": row.team.as_deref() == Some(who.team.as_str()),
        "working_hours": working_hours_json(&state.policy, Utc::now()),
    })))
}

// ---- actions --------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct CommandRequest {
    /// claim | take_over | resume | resolve | reassign
    pub action: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub send_follow_up_now: bool,
    #[serde(default)]
    pub target_team: Option<String>,
    #[serde(default)]
    pub outcome: Option<String>,
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

async fn command(
    State(state): State<Arc<AppState>>,
    Authed(who): Authed,
    Path(handoff_id): Path<String>,
    body: Result<Json<CommandRequest>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Json_>)> {
    let Json(req) = body?;
    let row = load_handoff(&state, &handoff_id).await?;
    check_ownership(&who, &handoff_id, row.team.as_deref())?;
    let note = non_empty(&req.note);
    let action = match req.action.as_str() {
        "claim" => CommandAction::Claim,
        "take_over" => CommandAction::TakeOver,
        "resume" => CommandAction::Resume,
        "resolve" => CommandAction::Resolve,
        "reassign" => CommandAction::Reassign,
        other => {
            return Err(ApiError::BadRequest(format!(
                "unknown action {other:?}: use claim, take_over, resume, resolve or reassign"
            )))
        }
    };
    let mut target_team = None;
    match action {
        CommandAction::TakeOver if note.is_none() => {
            return Err(ApiError::BadRequest(
                "take_over needs a reason in note".into(),
            ))
        }
        CommandAction::Resume if note.is_none() => {
            return Err(ApiError::BadRequest(
                "resume needs a note: the agent reads it as context on its next turns".into(),
            ))
        }
        CommandAction::Reassign => {
            let team = non_empty(&req.target_team)
                .ok_or_else(|| ApiError::BadRequest("reassign needs target_team".into()))?;
            if !state.policy.routing.teams.contains(&team) {
                return Err(ApiError::BadRequest(format!(
                    "unknown team {team:?}: one of {}",
                    state.policy.routing.teams.join(", ")
                )));
            }
            if row.team.as_deref() == Some(team.as_str()) {
                return Err(ApiError::BadRequest(format!(
                    "the handoff is already with team {team}"
                )));
            }
            target_team = Some(team);
        }
        _ => {}
    }
    let now = Utc::now();
    let command = OperatorCommand {
        command_id: format!("console-{}", uuid::Uuid::new_v4()),
        conversation_id: row.conversation_id.clone(),
        handoff_id: Some(handoff_id.clone()),
        operator: who.operator(),
        issued_at: now,
        action,
        note,
        send_follow_up_now: action == CommandAction::Resume && req.send_follow_up_now,
        target_team,
        outcome: match action {
            CommandAction::Resolve => non_empty(&req.outcome).or_else(|| Some("resolved".into())),
            _ => None,
        },
    };
    validate::command(&command, now, &DEFAULT_LIMITS)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let command_id = command.command_id.clone();
    state
        .publisher
        .command(command)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    tracing::info!(operator = %who.id, action = %req.action, %handoff_id, %command_id, conversation_id = %row.conversation_id, "command published");
    let wh = working_hours_json(&state.policy, now);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "command_id": command_id,
            "handoff_id": handoff_id,
            "conversation_id": row.conversation_id,
            "action": req.action,
            "follow_up_skipped": action == CommandAction::Resume && req.send_follow_up_now && wh["open_now"] == false,
        })),
    ))
}

async fn command_status(
    State(state): State<Arc<AppState>>,
    Authed(_): Authed,
    Path((handoff_id, command_id)): Path<(String, String)>,
) -> ApiResult<Json<Json_>> {
    let row = load_handoff(&state, &handoff_id).await?;
    let outcome = store::command_outcome(&state.pool, &row.conversation_id, &command_id).await?;
    let status = match &outcome {
        None => "pending",
        Some(o) if o.accepted == Some(true) => "accepted",
        Some(_) => "rejected",
    };
    Ok(Json(
        json!({"command_id": command_id, "status": status, "outcome": outcome}),
    ))
}

#[derive(Debug, Deserialize)]
pub struct MessageRequest {
    pub text: String,
}

/// Sends the (edited) draft reply: an operator turn on `conversation.events`, which the
/// detector adds to the conversation like any other turn.
async fn message(
    State(state): State<Arc<AppState>>,
    Authed(who): Authed,
    Path(handoff_id): Path<String>,
    body: Result<Json<MessageRequest>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Json_>)> {
    let Json(req) = body?;
    let text = req.text.trim();
    if text.is_empty() {
        return Err(ApiError::BadRequest("the message is empty".into()));
    }
    let row = load_handoff(&state, &handoff_id).await?;
    check_ownership(&who, &handoff_id, row.team.as_deref())?;
    let package = store::payload(&state.pool, &handoff_id).await?;
    let context = package.as_ref().and_then(|p| p.get("context"));
    let channel = context
        .and_then(|c| c.get("channel"))
        .and_then(Json_::as_str)
        .unwrap_or_default();
    let language = context
        .and_then(|c| c.get("language"))
        .and_then(Json_::as_str);
    let now = Utc::now();
    let event = ConversationEvent {
        event_id: format!(
            "{}-console-{}",
            row.conversation_id,
            uuid::Uuid::new_v4().simple()
        ),
        conversation_id: row.conversation_id.clone(),
        tenant_id: row.tenant_id.clone().unwrap_or_default(),
        occurred_at: now,
        channel: channel.to_string(),
        actor: Actor::Operator,
        text: text.to_string(),
        language: language.map(str::to_string),
        agent: None,
        contact: None,
        entry: None,
        attributes: BTreeMap::from([
            ("operator_id".to_string(), who.id.clone()),
            ("operator_name".to_string(), who.name.clone()),
            ("handoff_id".to_string(), handoff_id.clone()),
            ("source".to_string(), "console".to_string()),
        ]),
    };
    validate::event(&event, now, &DEFAULT_LIMITS)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let event_id = event.event_id.clone();
    state
        .publisher
        .event(event)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    tracing::info!(operator = %who.id, %handoff_id, %event_id, "operator message published");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"event_id": event_id, "handoff_id": handoff_id})),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_in_words_name_what_matched() {
        let p = Policy::builtin();
        assert_eq!(
            reason_text(
                &p,
                Some("keyword"),
                Some("Keyword matched"),
                Some("Please unsubscribe both addresses and delete my data")
            ),
            "Keyword matched (delete my data)"
        );
        assert_eq!(
            reason_text(
                &p,
                Some("keyword"),
                Some("Keyword matched"),
                Some("Unsubscribe me")
            ),
            "Keyword matched (unsubscribe)"
        );
        assert_eq!(
            reason_text(
                &p,
                Some("tool_call"),
                Some("Agent asked for help"),
                Some("transfer_to_human {\"reason\":\"x\"}")
            ),
            "Agent asked for help (transfer_to_human)"
        );
        assert_eq!(
            reason_text(
                &p,
                Some("sentiment"),
                Some("Hostile sentiment"),
                Some("awful")
            ),
            "Hostile sentiment"
        );
    }

    #[test]
    fn working_hours_follow_the_policy() {
        use chrono::TimeZone;
        let p = Policy::builtin();
        // Friday 10:00 Madrid is open; Saturday is not.
        let friday = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
        let saturday = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
        assert_eq!(working_hours_json(&p, friday)["open_now"], true);
        assert_eq!(working_hours_json(&p, saturday)["open_now"], false);
        assert!(working_hours_json(&p, saturday)["description"]
            .as_str()
            .unwrap()
            .contains("Europe/Madrid"));
    }
}
