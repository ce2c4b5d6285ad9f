//! The detector's state survives a crash: a detector killed with SIGKILL mid-stream is
//! restarted, reads its conversations back from the `handoff.state` changelog, and carries on
//! where it was. No escalation is lost (rules that need earlier turns still fire) and none is
//! repeated (records redelivered after the crash are recognised).

use handoff_core::records::*;
use handoff_core::replay::{parse_line, ReplayRecord};
use handoff_runtime::publish::produce_replay;
use handoff_tests::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

fn agent_turn(conversation: &str, n: u32, confidence: f64) -> ReplayRecord {
    parse_line(&format!(
        r#"{{"type":"event","event_id":"{conversation}-a{n}","conversation_id":"{conversation}","tenant_id":"acme","occurred_at":"2026-11-20T10:0{n}:00Z","channel":"web","actor":"agent","text":"Perhaps it is this?","agent":{{"confidence":{confidence}}}}}"#
    ))
    .unwrap()
    .unwrap()
}

fn line(json: &str) -> ReplayRecord {
    parse_line(json).unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_detector_resumes_from_its_changelog() -> anyhow::Result<()> {
    let settings = test_settings("restart");
    let topics = settings.topics();
    const N: usize = 40;
    let conversations: Vec<String> = (0..N).map(|i| format!("lc-{i}")).collect();

    // Before the crash: two low-confidence agent turns each (the rule needs three in a row),
    // and one conversation that escalates and waits for a human.
    let mut before: Vec<ReplayRecord> = conversations
        .iter()
        .flat_map(|c| [agent_turn(c, 1, 0.2), agent_turn(c, 2, 0.25)])
        .collect();
    before.push(line(r#"{"type":"event","event_id":"w-1","conversation_id":"waiting","tenant_id":"acme","occurred_at":"2026-11-20T10:00:00Z","channel":"web","actor":"contact","text":"can I talk to a person please"}"#));

    let detector = spawn("detector", &settings);
    produce_replay(&settings, &before).await?;

    // Wait until every conversation's state is in the changelog, then crash.
    let state_reader = reader(&settings, &[topics.state().as_str()]);
    let mut keys = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while keys.len() < N + 1 && Instant::now() < deadline {
        for m in read_until(&state_reader, Duration::from_secs(2), |m| !m.is_empty()).await {
            keys.insert(
                String::from_utf8_lossy(rdkafka::Message::key(&m).unwrap_or_default()).into_owned(),
            );
        }
    }
    assert_eq!(
        keys.len(),
        N + 1,
        "changelog holds every conversation before the crash"
    );
    // Let auto-commit (1 s) flush the stored offsets: the new detector must then get the first
    // turns from the changelog, not by simply being redelivered the events.
    tokio::time::sleep(Duration::from_secs(3)).await;
    detector.kill9();

    // A new detector process: the third low-confidence turn must escalate every conversation
    // (so the first two turns were remembered), and the waiting handoff can be claimed.
    let detector = spawn("detector", &settings);
    let after: Vec<ReplayRecord> = conversations
        .iter()
        .map(|c| agent_turn(c, 3, 0.1))
        .collect();
    produce_replay(&settings, &after).await?;
    produce_replay(
        &settings,
        &[line(r#"{"type":"command","command_id":"w-op-1","conversation_id":"waiting","issued_at":"2026-11-20T10:05:00Z","operator":{"id":"u-1","name":"Sam","team":"general"},"action":"claim"}"#)],
    )
    .await?;

    let signals_reader = reader(&settings, &[topics.signals().as_str()]);
    let got = read_until(&signals_reader, Duration::from_secs(90), |m| m.len() > N).await;
    let signals: Vec<StopSignal> = decode_all(&settings, &got).await?;
    let mut per_handoff: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in &signals {
        per_handoff
            .entry(s.conversation_id.clone())
            .or_default()
            .insert(s.signal_id.clone());
    }
    let expected: BTreeSet<String> = conversations
        .iter()
        .cloned()
        .chain(["waiting".to_string()])
        .collect();
    assert_eq!(
        per_handoff.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "every escalation, none lost"
    );
    assert!(
        per_handoff.values().all(|ids| ids.len() == 1),
        "no conversation escalated twice: {per_handoff:?}"
    );
    for s in signals.iter().filter(|s| s.conversation_id != "waiting") {
        assert_eq!(s.reasons[0].kind, ReasonKind::LowConfidence);
        assert_eq!(s.trigger_event_id, format!("{}-a3", s.conversation_id));
    }

    let lifecycle_reader = reader(&settings, &[topics.lifecycle().as_str()]);
    let got = read_until(&lifecycle_reader, Duration::from_secs(60), |m| {
        m.len() >= N + 2
    })
    .await;
    let lifecycle: Vec<LifecycleEvent> = decode_all(&settings, &got).await?;
    let claim = lifecycle
        .iter()
        .find(|l| l.command_id.as_deref() == Some("w-op-1"))
        .expect("the claim was answered");
    assert!(
        claim.accepted,
        "the restored detector knew the handoff was waiting: {claim:?}"
    );
    assert_eq!(claim.from_state, ControlState::AwaitingHuman);

    assert!(detector.terminate().success(), "clean exit on SIGTERM");
    Ok(())
}
