//! The LLM composer against a local OpenAI-compatible server (axum on 127.0.0.1): success and
//! every fallback path. No test needs the internet.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use handoff_builder::llm::{LlmComposer, LLM_COMPOSER_NAME};
use handoff_builder::BuilderStage;
use handoff_core::compose::{Builder, BuilderPolicy, LlmPolicy, COMPOSER_NAME};
use handoff_core::records::*;
use handoff_runtime::topics::Topics;
use secrecy::SecretString;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn signal() -> StopSignal {
    let at = chrono::Utc::now();
    let turn = |id: &str, actor, text: &str| Turn {
        event_id: id.into(),
        actor,
        text: text.into(),
        occurred_at: at,
    };
    StopSignal {
        signal_id: "sig".into(),
        handoff_id: "h1".into(),
        conversation_id: "s02".into(),
        tenant_id: "acme".into(),
        trigger_event_id: "s02-4".into(),
        decided_at: at,
        policy_version: "test".into(),
        decision: Decision::Escalate,
        reasons: vec![Reason {
            kind: ReasonKind::ToolCall,
            rule_id: "tool_call.v1".into(),
            score: 1.0,
            threshold: None,
            evidence_event_id: "s02-4".into(),
            evidence_text: r#"transfer_to_human({"reason":"refund approval over limit"})"#.into(),
        }],
        urgency: Urgency::Normal,
        channel: "web".into(),
        language: Some("en".into()),
        transcript: vec![
            turn("s02-1", Actor::Contact, "Hello, I need a refund for order 55120. The Lumen 3 arrived on 18 November with a cracked water tank. I paid EUR 640."),
            turn("s02-2", Actor::Agent, "I'm sorry it arrived damaged, Jonas. We can replace it or refund you in full."),
            turn("s02-3", Actor::Contact, "A refund, please."),
            turn("s02-4", Actor::Agent, "Refunds above 500 EUR need approval, so I'm passing your EUR 640 refund to billing."),
        ],
        contact: Some(Contact {
            name: Some("Jonas Weber".into()),
            account_id: Some("A-1207".into()),
            ..Default::default()
        }),
        entry: None,
        citations: vec![Citation {
            source_id: "kb-12".into(),
            title: "Refund policy".into(),
            url: None,
            snippet: Some("Refunds above 500 EUR require approval.".into()),
        }],
        sentiment: vec![],
        agent_intent: Some("billing".into()),
        agent_sub_intent: Some("refund".into()),
        agent_intent_confidence: Some(0.9),
    }
}

const GOOD_SUMMARY: &str = "Jonas Weber wants a full refund of EUR 640 for order 55120 (account A-1207): the Lumen 3 arrived cracked on 18 November. The agent offered a replacement or refund; Jonas chose the refund. Refunds above EUR 500 need billing approval, so the agent handed over.";
const GOOD_DRAFT: &str = "Hi Jonas, I'm from billing and I've read everything. I'm reviewing your EUR 640 refund for order 55120 now and will confirm the next step here shortly.";

fn completion(content: &str) -> Value {
    json!({
        "id": "cmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]
    })
}

#[derive(Clone, Default)]
struct Seen {
    bodies: Arc<Mutex<Vec<Value>>>,
    auth: Arc<Mutex<Vec<String>>>,
}

async fn server() -> (String, Seen) {
    let seen = Seen::default();
    let record = |seen: &Seen, headers: &HeaderMap, body: &Value| {
        seen.bodies.lock().unwrap().push(body.clone());
        if let Some(a) = headers.get("authorization") {
            seen.auth
                .lock()
                .unwrap()
                .push(a.to_str().unwrap().to_string());
        }
    };
    let app = Router::new()
        .route(
            "/ok/v1/chat/completions",
            post(move |State(seen): State<Seen>, headers: HeaderMap, Json(body): Json<Value>| async move {
                record(&seen, &headers, &body);
                let content = json!({"summary": GOOD_SUMMARY, "draft_reply": GOOD_DRAFT}).to_string();
                Json(completion(&format!("```json\n{content}\n```")))
            }),
        )
        .route(
            "/slow/v1/chat/completions",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                Json(completion("{}"))
            }),
        )
        .route(
            "/500/v1/chat/completions",
            post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "upstream exploded") }),
        )
        .route(
            "/garbage/v1/chat/completions",
            post(|| async { (StatusCode::OK, "<html>not json</html>") }),
        )
        .route(
            "/prose/v1/chat/completions",
            post(|| async { Json(completion("Sure! Here is a summary: the customer wants a refund.")) }),
        )
        .route(
            "/long/v1/chat/completions",
            post(|| async {
                let long = format!("{GOOD_SUMMARY} {}", "and then more words follow here ".repeat(10));
                Json(completion(&json!({"summary": long, "draft_reply": GOOD_DRAFT}).to_string()))
            }),
        )
        .route(
            "/dropfact/v1/chat/completions",
            post(|| async {
                let s = "Jonas Weber wants a refund for a damaged espresso machine; the agent handed over for approval.";
                Json(completion(&json!({"summary": s, "draft_reply": GOOD_DRAFT}).to_string()))
            }),
        )
        .route(
            "/promise/v1/chat/completions",
            post(|| async {
                let d = "Hi Jonas, good news: refund approved, and we guarantee it arrives tomorrow.";
                Json(completion(&json!({"summary": GOOD_SUMMARY, "draft_reply": d}).to_string()))
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn stage(base: &str, path: &str, timeout_ms: u64) -> BuilderStage {
    let policy = LlmPolicy {
        enabled: true,
        endpoint: format!("{base}/{path}/v1/chat/completions"),
        model: "test-model".into(),
        timeout_ms,
        ..Default::default()
    };
    let key = Some(SecretString::from("sk-test-secret".to_string()));
    let llm = LlmComposer::new(&policy, key).unwrap();
    let builder = Builder::new(&BuilderPolicy::default()).unwrap();
    BuilderStage::new(Topics::new(""), builder, Some(llm))
}

fn assert_fell_back(p: &HandoffPayload, why: &str) {
    let builtin = Builder::new(&BuilderPolicy::default())
        .unwrap()
        .build(&signal());
    assert_eq!(p.composer.name, COMPOSER_NAME, "{why}");
    assert!(
        p.composer
            .version
            .ends_with(&format!("+llm-fallback.{why}")),
        "{}",
        p.composer.version
    );
    assert_eq!(p.summary, builtin.summary);
    assert_eq!(p.draft_reply, builtin.draft_reply);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_reply_is_used_and_the_request_carries_facts_and_limit() {
    let (base, seen) = server().await;
    let p = stage(&base, "ok", 2000).payload_for(&signal());
    assert_eq!(p.composer.name, LLM_COMPOSER_NAME);
    assert_eq!(p.composer.version, "test-model");
    assert_eq!(p.summary, GOOD_SUMMARY);
    assert_eq!(p.draft_reply, GOOD_DRAFT);
    // Everything else is the built-in composer's.
    assert_eq!(p.intent.name, "billing");
    assert!(p.next_action.action.contains("EUR 640"));

    let body = seen.bodies.lock().unwrap()[0].clone();
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["response_format"]["type"], "json_object");
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("at most 80 words"), "{system}");
    for fact in ["order 55120", "EUR 640", "A-1207"] {
        let value = fact.split_whitespace().last().unwrap();
        assert!(system.contains(value), "{fact} not required in {system}");
    }
    assert!(
        system.contains("refund approved"),
        "forbidden phrases are listed"
    );
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("55120") && user.contains("Lumen 3"), "{user}");
    assert_eq!(
        seen.auth.lock().unwrap().as_slice(),
        ["Bearer sk-test-secret"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_falls_back() {
    let (base, _) = server().await;
    let t = std::time::Instant::now();
    let p = stage(&base, "slow", 300).payload_for(&signal());
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_fell_back(&p, "timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_500_falls_back() {
    let (base, _) = server().await;
    assert_fell_back(
        &stage(&base, "500", 2000).payload_for(&signal()),
        "http-status",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_falls_back() {
    let (base, _) = server().await;
    assert_fell_back(
        &stage(&base, "garbage", 2000).payload_for(&signal()),
        "malformed-json",
    );
    assert_fell_back(
        &stage(&base, "prose", 2000).payload_for(&signal()),
        "malformed-json",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_summary_over_80_words_falls_back() {
    let (base, _) = server().await;
    assert_fell_back(
        &stage(&base, "long", 2000).payload_for(&signal()),
        "too-long",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_summary_that_drops_a_fact_falls_back() {
    let (base, _) = server().await;
    assert_fell_back(
        &stage(&base, "dropfact", 2000).payload_for(&signal()),
        "dropped-fact",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_with_a_forbidden_promise_falls_back() {
    let (base, _) = server().await;
    assert_fell_back(
        &stage(&base, "promise", 2000).payload_for(&signal()),
        "forbidden-promise",
    );
}

#[test]
fn works_outside_a_runtime_and_when_nothing_listens() {
    // No runtime around (e.g. a CLI): the call runs on its own thread and runtime.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (base, _) = rt.block_on(server());
    let p = stage(&base, "ok", 2000).payload_for(&signal());
    assert_eq!(p.composer.name, LLM_COMPOSER_NAME);
    // A port nobody listens on: a transport error, then the built-in payload.
    let p = stage("http://127.0.0.1:9", "x", 1000).payload_for(&signal());
    assert_eq!(p.composer.name, COMPOSER_NAME);
    assert!(
        p.composer.version.contains("+llm-fallback."),
        "{}",
        p.composer.version
    );
}
