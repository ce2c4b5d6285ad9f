//! Credentials never reach the logs. The worker binaries run with a recognisable secret as the
//! Postgres password, the Kafka SASL password, the schema-registry password and the LLM API key,
//! with every path that reports those dependencies failing (a database that refuses the
//! password, a broker that does not speak SASL, an LLM endpoint answering 401), at debug level
//! with librdkafka's own configuration and security debugging on. Their captured stdout and
//! stderr must show the failures — so the test looks where a leak would be — and never the
//! secret.

use handoff_core::replay::parse_line;
use handoff_runtime::publish::produce_replay;
use handoff_tests::load::*;
use handoff_tests::*;
use secrecy::ExposeSecret;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

const SECRET: &str = "Sup3rS3cret-7f1c9a";

/// An OpenAI-compatible endpoint that refuses every request with 401, echoing nothing.
fn refusing_llm() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = vec![0u8; 65536];
            let _ = s.read(&mut buf);
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let body = r#"{"error":{"message":"invalid api key"}}"#;
            let _ = write!(
                s,
                "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, hits)
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_appear_in_worker_logs() -> anyhow::Result<()> {
    let mut settings = test_settings("secrets");
    let _db = with_database(&mut settings).await?;
    let dir =
        std::env::temp_dir().join(format!("handoff-secrets-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let logs = repo_root().join(".run/logs");
    std::fs::create_dir_all(&logs)?;
    let log = |name: &str| logs.join(format!("test-{}{name}.log", settings.kafka.topic_prefix));

    // The LLM composer on, pointed at an endpoint that refuses the key.
    let (llm_port, llm_hits) = refusing_llm();
    let policy = std::fs::read_to_string(repo_root().join("infra/policy/default.toml"))?
        .replace(
            "[builder.llm]\nenabled = false",
            "[builder.llm]\nenabled = true",
        )
        .replace(
            "http://127.0.0.1:8000/v1/chat/completions",
            &format!("http://127.0.0.1:{llm_port}/v1/chat/completions"),
        );
    assert!(
        policy.contains("[builder.llm]\nenabled = true"),
        "the test policy turns the LLM on"
    );
    let policy_path = dir.join("policy.toml");
    std::fs::write(&policy_path, policy)?;

    let mut base = env_for(&settings);
    base.push((
        "HANDOFF_POLICY__PATH".into(),
        policy_path.display().to_string(),
    ));
    base.push(("RUST_LOG".into(), "debug".into()));
    base.push(("HANDOFF_LLM_API_KEY".into(), SECRET.into()));
    base.push(("HANDOFF_REGISTRY__USERNAME".into(), "handoff".into()));
    base.push(("HANDOFF_REGISTRY__PASSWORD".into(), SECRET.into()));
    let with = |extra: &[(&str, String)]| {
        let mut e = base.clone();
        for (k, v) in extra {
            e.retain(|(name, _)| name != k);
            e.push((k.to_string(), v.clone()));
        }
        e
    };

    // The pipeline that feeds the builder (detector) runs normally; the builder has the LLM key.
    let detector = spawn_env("detector", &with(&[]), &log("detector"));
    let builder = spawn_env("builder", &with(&[]), &log("builder"));
    // An auditor whose database refuses its password (a user that does not exist).
    let db_url = settings
        .database
        .url
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_string();
    let after_scheme = db_url.split_once("://").map(|(_, r)| r).unwrap_or(&db_url);
    let host_and_db = after_scheme
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(after_scheme);
    let bad_db = format!("postgres://intruder:{SECRET}@{host_and_db}");
    let auditor = spawn_env(
        "auditor",
        &with(&[("HANDOFF_DATABASE__URL", bad_db)]),
        &log("auditor"),
    );
    // A router that must authenticate with SASL to a broker that does not offer it, with
    // librdkafka printing its configuration and security exchanges.
    let config = dir.join("sasl.toml");
    std::fs::write(
        &config,
        "[kafka.options]\n\"debug\" = \"conf,security,broker\"\n",
    )?;
    let router = spawn_env(
        "router",
        &with(&[
            ("HANDOFF_CONFIG", config.display().to_string()),
            ("HANDOFF_KAFKA__SECURITY_PROTOCOL", "sasl_plaintext".into()),
            ("HANDOFF_KAFKA__SASL_MECHANISM", "PLAIN".into()),
            ("HANDOFF_KAFKA__SASL_USERNAME", "handoff".into()),
            ("HANDOFF_KAFKA__SASL_PASSWORD", SECRET.into()),
        ]),
        &log("router"),
    );

    let escalate = parse_line(
        r#"{"type":"event","event_id":"s-1","conversation_id":"sec-1","tenant_id":"acme","occurred_at":"2026-11-20T10:00:00Z","channel":"web","actor":"contact","text":"I want to talk to a person about order 55120 now"}"#,
    )
    .unwrap()
    .unwrap();
    let mut escalate = escalate;
    if let handoff_core::replay::ReplayRecord::Event(e) = &mut escalate {
        e.occurred_at = chrono::Utc::now();
    }
    produce_replay(&settings, &[escalate]).await?;

    // Wait until each failure path has been exercised (or 60 s).
    let read = |name: &str| strip_ansi(&std::fs::read_to_string(log(name)).unwrap_or_default());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let auditor_failed = read("auditor").contains("postgres not available");
        let llm_refused = llm_hits.load(std::sync::atomic::Ordering::Relaxed) > 0
            && read("builder").to_lowercase().contains("llm");
        let sasl_tried = read("router").to_lowercase().contains("sasl");
        if (auditor_failed && llm_refused && sasl_tried) || Instant::now() > deadline {
            assert!(auditor_failed, "the auditor logged its database failure");
            assert!(
                llm_refused,
                "the builder called the LLM and logged the fallback"
            );
            assert!(
                sasl_tried,
                "the router's librdkafka logged its SASL attempts"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for p in [detector, builder, auditor, router] {
        p.kill9();
    }

    let mut total = 0;
    for name in ["detector", "builder", "auditor", "router"] {
        let raw = std::fs::read_to_string(log(name))?;
        total += raw.len();
        eprintln!("[secrets] {name}: {} bytes of logs", raw.len());
        if let Some(line) = raw.lines().find(|l| l.contains(SECRET)) {
            panic!("{name} logged a secret: {line}");
        }
        // The password must not leak in a transformed form either (URL-encoded is the same here).
        assert!(
            !raw.contains(&SECRET[..12]),
            "{name} logged part of the secret"
        );
    }
    eprintln!("[secrets] {total} bytes of logs from four workers, no secret in them");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
