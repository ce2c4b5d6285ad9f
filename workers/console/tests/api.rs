//! The console's HTTP API against a real Postgres database (a fresh one per test, migrated by
//! the auditor's migrations, rows written as the auditor writes them) with a recording
//! publisher in place of Kafka. Needs the local stack: `source infra/env.sh` (make test does).

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use handoff_console::auth::Operators;
use handoff_console::config::OperatorEntry;
use handoff_console::publish::RecordingPublisher;
use handoff_console::{router, AppState};
use handoff_core::records::{Actor, CommandAction};
use handoff_core::Policy;
use http_body_util::BodyExt;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::Arc;
use tower::ServiceExt;

const SAM: &str = "Bearer sam-billing-token-0001";
const MIA: &str = "Bearer mia-general-token-0001";

struct Harness {
    app: axum::Router,
    pool: PgPool,
    published: Arc<RecordingPublisher>,
}

async fn harness() -> Harness {
    let settings = handoff_runtime::Settings::from_env().expect("settings");
    let admin_url = settings
        .database
        .url
        .as_ref()
        .map(|u| u.expose_secret().to_string())
        .expect("HANDOFF_DATABASE__URL is not set: run `source infra/env.sh` (make test does) with the local stack up");
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // t_<seconds>_<id>: `infra/postgres.sh prune-test-dbs` drops old ones.
    let name = format!(
        "t_{secs}_console_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    );
    let admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin_url)
        .await
        .expect("Postgres up");
    // The name is a uuid we made, not input: safe to splice.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(&admin_url);
    let pool = handoff_auditor::connect_and_migrate(&format!("{base}/{name}"))
        .await
        .unwrap();
    let operators = Operators::new(&[
        OperatorEntry {
            id: "u-3".into(),
            name: "Sam".into(),
            team: "billing".into(),
            token: SecretString::from("sam-billing-token-0001"),
        },
        OperatorEntry {
            id: "u-7".into(),
            name: "Mia".into(),
            team: "general".into(),
            token: SecretString::from("mia-general-token-0001"),
        },
    ])
    .unwrap();
    let published = Arc::new(RecordingPublisher::default());
    let state = Arc::new(AppState {
        pool: pool.clone(),
        operators,
        publisher: Box::new(published.clone()),
        policy: Policy::builtin(),
    });
    Harness {
        app: router(state),
        pool,
        published,
    }
}

/// A routed, unclaimed handoff with its payload, as the auditor stores them.
async fn seed(
    pool: &PgPool,
    handoff_id: &str,
    conversation_id: &str,
    team: &str,
    kind: &str,
    evidence: &str,
    age_minutes: i64,
) {
    let reasons = json!([{"kind": kind, "rule_id": format!("{kind}.v1"), "score": 1.0, "threshold": null, "evidence_event_id": format!("{conversation_id}-5"), "evidence_text": evidence}]);
    sqlx::query(
        "INSERT INTO handoffs (handoff_id, conversation_id, tenant_id, decision, urgency, reasons, primary_reason, created_at, \
                               summary, draft_reply, priority, team, claim_by, state, state_at) \
         VALUES ($1, $2, 'acme', 'escalate', 'normal', $3, $4, now() - make_interval(mins => $5::int), $6, 'Hi, I am looking into it.', 'normal', $7, \
                 now() - make_interval(mins => $5::int) + interval '30 minutes', 'awaiting_human', now())",
    )
    .bind(handoff_id)
    .bind(conversation_id)
    .bind(&reasons)
    .bind(kind)
    .bind(age_minutes as i32)
    .bind(format!("Summary of {conversation_id}"))
    .bind(team)
    .execute(pool)
    .await
    .unwrap();
    let payload = json!({
        "handoff_id": handoff_id, "conversation_id": conversation_id, "summary": format!("Summary of {conversation_id}"),
        "context": {"channel": "web", "language": "en"},
        "facts": {"confirmed": [{"kind": "order_id", "value": "55207", "event_id": format!("{conversation_id}-1"), "source": "contact_turn"}],
                  "inferred": [], "open_questions": ["Was the refund issued?"]},
        "citations": [{"source_id": "kb-15", "title": "Refund timelines", "url": "https://help.example.com/refunds", "snippet": "5-10 days"}],
        "transcript": [{"event_id": format!("{conversation_id}-5"), "actor": "contact", "text": evidence, "occurred_at": "2026-11-20T09:08:31Z"}],
        "draft_reply": "Hi, I am looking into it.",
        "next_action": {"action": "check_refund", "reasoning": "the contact asks for the status"}
    });
    sqlx::query(
        "INSERT INTO handoff_events (event_id, handoff_id, conversation_id, kind, transition, occurred_at, detail, source_topic, source_partition, source_offset) \
         VALUES ($1, $2, $3, 'payload', 'built', now(), $4, 'handoff.payloads', 0, 0)",
    )
    .bind(format!("payload:{handoff_id}"))
    .bind(handoff_id)
    .bind(conversation_id)
    .bind(&payload)
    .execute(pool)
    .await
    .unwrap();
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn unauthenticated_requests_get_401_and_publish_nothing() {
    let h = harness().await;
    seed(
        &h.pool,
        "h1",
        "c1",
        "billing",
        "explicit_request",
        "Can I talk to a person?",
        5,
    )
    .await;
    for (method, uri, body) in [
        ("GET", "/api/queue", None),
        ("GET", "/api/handoffs/h1", None),
        (
            "POST",
            "/api/handoffs/h1/commands",
            Some(json!({"action": "claim"})),
        ),
        (
            "POST",
            "/api/handoffs/h1/messages",
            Some(json!({"text": "hello"})),
        ),
    ] {
        for auth in [
            None,
            Some("Bearer not-a-known-token-at-all"),
            Some("sam-billing-token-0001"),
        ] {
            let (status, err) = call(&h.app, method, uri, auth, body.clone()).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {uri} with {auth:?}"
            );
            assert_eq!(err["error"], "unauthenticated");
            assert!(err["message"].as_str().unwrap().len() > 10, "{err}");
        }
    }
    assert!(h.published.commands.lock().unwrap().is_empty());
    assert!(h.published.events.lock().unwrap().is_empty());
    // The page and the health check need no token.
    let (status, health) = call(&h.app, "GET", "/api/health", None, None).await;
    assert_eq!((status, health), (StatusCode::OK, json!({"ok": true})));
    let page = h
        .app
        .clone()
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let html = page.into_body().collect().await.unwrap().to_bytes();
    assert!(std::str::from_utf8(&html)
        .unwrap()
        .contains("<title>Handoff console</title>"));
}

#[tokio::test]
async fn operators_cannot_act_on_other_teams_handoffs() {
    let h = harness().await;
    seed(
        &h.pool,
        "h1",
        "c1",
        "billing",
        "explicit_request",
        "Can I talk to a person?",
        5,
    )
    .await;
    let (status, err) = call(
        &h.app,
        "POST",
        "/api/handoffs/h1/commands",
        Some(MIA),
        Some(json!({"action": "claim"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(err["error"], "forbidden");
    assert_eq!(
        err["message"],
        "handoff h1 belongs to team billing; operator u-7 is in team general"
    );
    let (status, _) = call(
        &h.app,
        "POST",
        "/api/handoffs/h1/messages",
        Some(MIA),
        Some(json!({"text": "hi"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(h.published.commands.lock().unwrap().is_empty());
    // Reading another team's queue is allowed (a supervisor's view); acting is not.
    let (status, q) = call(&h.app, "GET", "/api/queue?team=billing", Some(MIA), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(q["handoffs"][0]["mine"], false);
    let (status, err) = call(
        &h.app,
        "POST",
        "/api/handoffs/nope/commands",
        Some(SAM),
        Some(json!({"action": "claim"})),
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

#[tokio::test]
async fn commands_carry_the_operator_and_are_validated() {
    let h = harness().await;
    seed(
        &h.pool,
        "h1",
        "c1",
        "billing",
        "explicit_request",
        "Can I talk to a person?",
        5,
    )
    .await;

    let (status, ok) = call(
        &h.app,
        "POST",
        "/api/handoffs/h1/commands",
        Some(SAM),
        Some(json!({"action": "claim", "note": "on it"})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{ok}");
    let (status, err) = call(
        &h.app,
        "POST",
        "/api/handoffs/h1/commands",
        Some(SAM),
        Some(json!({"action": "resume", "note": "  "})),
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (status, _) = call(
        &h.app,
        "POST",
        "/api/handoffs/h1/commands",
        Some(SAM),
        Some(json!({"action": "take_over"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, err) = call(
        &h.app,
        "POST",
        "/api/handoffs/h1/commands",
        Some(SAM),
        Some(json!({"action": "pause"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let (status, _) = call(
        &h.app,
        "POST",
        "/api/handoffs/h1/commands",
        Some(SAM),
        Some(json!({"action": "reassign", "target_team": "nowhere"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        &h.app,
        "POST",
        "/api/handoffs/h1/commands",
        Some(SAM),
        Some(json!({"action": "reassign", "target_team": "billing"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, err) = call(
        &h.app,
        "POST",
        "/api/handoffs/h1/commands",
        Some(SAM),
        Some(json!({"note": "no action"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(err["error"], "bad_request");
    let (status, _) = call(
        &h.app,
        "POST",
        "/api/handoffs/h1/commands",
        Some(SAM),
        Some(json!({"action": "reassign", "target_team": "fraud", "note": "card stolen"})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = call(&h.app, "POST", "/api/handoffs/h1/commands", Some(SAM),
        Some(json!({"action": "resume", "note": "Refund approved, 7 days to clear.", "send_follow_up_now": true}))).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    let commands = h.published.commands.lock().unwrap().clone();
    let actions: Vec<_> = commands.iter().map(|c| c.action).collect();
    assert_eq!(
        actions,
        [
            CommandAction::Claim,
            CommandAction::Reassign,
            CommandAction::Resume
        ]
    );
    for c in &commands {
        assert_eq!(
            (
                c.operator.id.as_str(),
                c.operator.name.as_str(),
                c.operator.team.as_str()
            ),
            ("u-3", "Sam", "billing")
        );
        assert_eq!(c.conversation_id, "c1");
        assert_eq!(c.handoff_id.as_deref(), Some("h1"));
        assert!(c.command_id.starts_with("console-"));
    }
    assert_eq!(commands[0].note.as_deref(), Some("on it"));
    assert_eq!(commands[1].target_team.as_deref(), Some("fraud"));
    assert_eq!(
        commands[2].note.as_deref(),
        Some("Refund approved, 7 days to clear.")
    );
    assert!(commands[2].send_follow_up_now);
    assert_eq!(ok["command_id"], commands[0].command_id.as_str());
}

#[tokio::test]
async fn the_queue_is_per_team_newest_first_with_reasons_in_words() {
    let h = harness().await;
    seed(
        &h.pool,
        "h-old",
        "c1",
        "billing",
        "explicit_request",
        "Can I talk to a person?",
        20,
    )
    .await;
    seed(
        &h.pool,
        "h-new",
        "c2",
        "billing",
        "tool_call",
        "transfer_to_human {\"reason\":\"refund approval\"}",
        2,
    )
    .await;
    seed(
        &h.pool,
        "h-gen",
        "c3",
        "general",
        "keyword",
        "Please unsubscribe me",
        1,
    )
    .await;
    let (status, q) = call(&h.app, "GET", "/api/queue?team=billing", Some(SAM), None).await;
    assert_eq!(status, StatusCode::OK);
    let rows = q["handoffs"].as_array().unwrap();
    let ids: Vec<_> = rows
        .iter()
        .map(|r| r["handoff_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["h-new", "h-old"]);
    assert_eq!(
        rows[0]["reason_text"],
        "Agent asked for help (transfer_to_human)"
    );
    assert_eq!(rows[1]["reason_text"], "Asked for a person");
    assert_eq!(rows[0]["mine"], true);
    assert_eq!(rows[0]["summary"], "Summary of c2");
    assert!(rows[1]["waiting_seconds"].as_i64().unwrap() >= 20 * 60 - 5);
    assert!(
        (rows[1]["deadline_seconds"].as_i64().unwrap() - 10 * 60).abs() < 30,
        "{}",
        rows[1]
    );
    let (_, all) = call(&h.app, "GET", "/api/queue?team=all", Some(SAM), None).await;
    assert_eq!(all["handoffs"].as_array().unwrap().len(), 3);
    assert_eq!(
        all["handoffs"][0]["reason_text"],
        "Keyword matched (unsubscribe)"
    );
    let (_, counts) = call(&h.app, "GET", "/api/counts?team=billing", Some(SAM), None).await;
    assert_eq!(
        counts,
        json!({"open": 2, "unclaimed": 2, "claimed": 0, "overdue": 0})
    );
    // A resumed handoff leaves the queue and the count.
    sqlx::query("UPDATE handoffs SET state = 'returned_to_agent' WHERE handoff_id = 'h-old'")
        .execute(&h.pool)
        .await
        .unwrap();
    let (_, counts) = call(&h.app, "GET", "/api/counts?team=billing", Some(SAM), None).await;
    assert_eq!(counts["open"], 1);
}

#[tokio::test]
async fn the_package_history_and_command_outcome() {
    let h = harness().await;
    seed(
        &h.pool,
        "h1",
        "c1",
        "billing",
        "explicit_request",
        "Can I talk to a person?",
        5,
    )
    .await;
    // A second reason: every reason of the package is worded by the SQL label function.
    sqlx::query(
        "UPDATE handoffs SET reasons = reasons || jsonb_build_array(jsonb_build_object( \
            'kind', 'keyword', 'rule_id', 'keyword.v1', 'evidence_text', 'and unsubscribe me')) \
         WHERE handoff_id = 'h1'",
    )
    .execute(&h.pool)
    .await
    .unwrap();
    let (_, package) = call(&h.app, "GET", "/api/handoffs/h1", Some(SAM), None).await;
    assert_eq!(package["reasons"][0]["text"], "Asked for a person");
    assert_eq!(
        package["reasons"][1]["text"],
        "Keyword matched (unsubscribe)"
    );
    let (_, sent) = call(
        &h.app,
        "POST",
        "/api/handoffs/h1/commands",
        Some(SAM),
        Some(json!({"action": "claim", "note": "mine"})),
    )
    .await;
    let command_id = sent["command_id"].as_str().unwrap().to_string();
    let status_uri = format!("/api/handoffs/h1/commands/{command_id}");
    let (_, pending) = call(&h.app, "GET", &status_uri, Some(SAM), None).await;
    assert_eq!(pending["status"], "pending");

    // The auditor records the command and the detector's lifecycle event for it.
    let command = json!({"command_id": command_id, "operator": {"id": "u-3", "name": "Sam", "team": "billing"}, "action": "claim"});
    let lifecycle = json!({"lifecycle_id": "l1", "command_id": command_id, "from_state": "awaiting_human", "to_state": "claimed"});
    for (event_id, kind, transition, actor, detail, accepted) in [
        (
            format!("command:{command_id}"),
            "command",
            "claim",
            "operator:u-3",
            command,
            None,
        ),
        (
            "lifecycle:l1".to_string(),
            "lifecycle",
            "claimed",
            "operator:u-3",
            lifecycle,
            Some(true),
        ),
    ] {
        sqlx::query(
            "INSERT INTO handoff_events (event_id, handoff_id, conversation_id, kind, transition, actor, note, accepted, occurred_at, detail, source_topic, source_partition, source_offset) \
             VALUES ($1, 'h1', 'c1', $2, $3, $4, 'mine', $5, now(), $6, 't', 0, 1)",
        )
        .bind(event_id).bind(kind).bind(transition).bind(actor).bind(accepted).bind(detail)
        .execute(&h.pool).await.unwrap();
    }
    let (_, done) = call(&h.app, "GET", &status_uri, Some(SAM), None).await;
    assert_eq!(done["status"], "accepted", "{done}");

    let (status, d) = call(&h.app, "GET", "/api/handoffs/h1", Some(SAM), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d["reason_text"], "Asked for a person");
    assert_eq!(d["mine"], true);
    assert_eq!(d["package"]["facts"]["confirmed"][0]["value"], "55207");
    assert_eq!(
        d["package"]["facts"]["open_questions"][0],
        "Was the refund issued?"
    );
    assert_eq!(
        d["package"]["citations"][0]["url"],
        "https://help.example.com/refunds"
    );
    assert_eq!(
        d["package"]["transcript"][0]["text"],
        "Can I talk to a person?"
    );
    assert_eq!(d["handoff"]["draft_reply"], "Hi, I am looking into it.");
    let history = d["history"].as_array().unwrap();
    assert_eq!(
        history.len(),
        1,
        "lifecycle (not the raw command): {history:?}"
    );
    assert_eq!(history[0]["transition"], "claimed");
    assert_eq!(history[0]["operator_name"], "Sam");
    assert_eq!(history[0]["note"], "mine");
    assert!(d["working_hours"]["description"]
        .as_str()
        .unwrap()
        .contains("Europe/Madrid"));
}

#[tokio::test]
async fn sending_the_draft_publishes_an_operator_turn() {
    let h = harness().await;
    seed(
        &h.pool,
        "h1",
        "c1",
        "billing",
        "explicit_request",
        "Can I talk to a person?",
        5,
    )
    .await;
    let (status, err) = call(
        &h.app,
        "POST",
        "/api/handoffs/h1/messages",
        Some(SAM),
        Some(json!({"text": "   "})),
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (status, ok) = call(
        &h.app,
        "POST",
        "/api/handoffs/h1/messages",
        Some(SAM),
        Some(json!({"text": "Hi Olivia, Sam here."})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let events = h.published.events.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.actor, Actor::Operator);
    assert_eq!(
        (
            e.conversation_id.as_str(),
            e.tenant_id.as_str(),
            e.channel.as_str()
        ),
        ("c1", "acme", "web")
    );
    assert_eq!(e.text, "Hi Olivia, Sam here.");
    assert_eq!(
        e.attributes.get("operator_id").map(String::as_str),
        Some("u-3")
    );
    assert_eq!(ok["event_id"], e.event_id.as_str());
}
