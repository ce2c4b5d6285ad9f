//! The optional LLM composer: any OpenAI-compatible chat-completions endpoint (vLLM, Ollama,
//! llama.cpp server, hosted APIs) writes the summary and the draft reply; everything else in the
//! payload stays the built-in composer's.
//!
//! Contract: the prompt carries the built-in payload's facts, the intent, the reasons, the
//! transcript, the 80-word limit and the phrases a draft must not contain, and asks for a JSON
//! object `{"summary": "...", "draft_reply": "..."}`. The reply is accepted only when it is that
//! object, the summary is one paragraph within the word limit and mentions every money amount
//! and id the built-in summary carries, and the draft is non-empty, addresses the contact by
//! name and promises nothing forbidden. Anything else (timeout, HTTP error, malformed JSON, an
//! over-long or fact-dropping summary) falls back to the built-in payload, whose composer version
//! then records why (`0.1.0+llm-fallback.timeout`).
//!
//! The API key is a `SecretString` read from the environment variable the policy names (or from
//! the file named by `<that variable>_FILE`); it is sent as a bearer token and never logged.

use handoff_core::compose::{self, Builder, LlmPolicy};
use handoff_core::records::{Actor, Composer, HandoffPayload, StopSignal};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use std::future::Future;
use std::time::Duration;

/// The composer name recorded on payloads the LLM wrote.
pub const LLM_COMPOSER_NAME: &str = "llm-chat-completions";
/// Turns of transcript sent in the prompt (the newest), and characters per turn.
const PROMPT_TURNS: usize = 12;
const PROMPT_TURN_CHARS: usize = 600;

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("invalid LLM settings: {0}")]
    Settings(String),
}

/// Why an LLM reply was not used; `as_str` goes into the composer version and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fallback {
    Timeout,
    Transport(String),
    HttpStatus(u16),
    MalformedJson(String),
    TooLong(usize),
    DroppedFact(String),
    ForbiddenPromise(String),
    MissingName,
}

impl Fallback {
    pub fn as_str(&self) -> &'static str {
        match self {
            Fallback::Timeout => "timeout",
            Fallback::Transport(_) => "transport",
            Fallback::HttpStatus(_) => "http-status",
            Fallback::MalformedJson(_) => "malformed-json",
            Fallback::TooLong(_) => "too-long",
            Fallback::DroppedFact(_) => "dropped-fact",
            Fallback::ForbiddenPromise(_) => "forbidden-promise",
            Fallback::MissingName => "missing-name",
        }
    }
}

impl std::fmt::Display for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fallback::Timeout => write!(f, "the endpoint did not answer in time"),
            Fallback::Transport(e) => write!(f, "transport error: {e}"),
            Fallback::HttpStatus(s) => write!(f, "HTTP status {s}"),
            Fallback::MalformedJson(e) => write!(f, "malformed reply: {e}"),
            Fallback::TooLong(n) => write!(f, "summary of {n} words"),
            Fallback::DroppedFact(v) => write!(f, "summary dropped the fact {v:?}"),
            Fallback::ForbiddenPromise(p) => write!(f, "draft promises {p:?}"),
            Fallback::MissingName => write!(f, "draft does not address the contact by name"),
        }
    }
}

/// A configured client for one endpoint. `Debug` never shows the key.
#[derive(Debug, Clone)]
pub struct LlmComposer {
    endpoint: String,
    model: String,
    timeout: Duration,
    max_tokens: u32,
    temperature: f64,
    json_mode: bool,
    api_key: Option<SecretString>,
    client: reqwest::Client,
}

impl LlmComposer {
    /// From the policy's `[builder.llm]`, reading the key from the environment.
    pub fn from_policy(policy: &LlmPolicy) -> Result<LlmComposer, LlmError> {
        LlmComposer::new(policy, api_key_from_env(&policy.api_key_env)?)
    }

    pub fn new(policy: &LlmPolicy, api_key: Option<SecretString>) -> Result<LlmComposer, LlmError> {
        let url = reqwest::Url::parse(&policy.endpoint)
            .map_err(|e| LlmError::Settings(format!("builder.llm.endpoint: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(LlmError::Settings(
                "builder.llm.endpoint must be an http(s) URL".into(),
            ));
        }
        if policy.timeout_ms == 0 {
            return Err(LlmError::Settings(
                "builder.llm.timeout_ms must be > 0".into(),
            ));
        }
        let timeout = Duration::from_millis(policy.timeout_ms);
        Ok(LlmComposer {
            endpoint: policy.endpoint.clone(),
            model: policy.model.clone(),
            timeout,
            max_tokens: policy.max_tokens,
            temperature: policy.temperature,
            json_mode: policy.json_mode,
            api_key,
            client: client(timeout)?,
        })
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// The chat-completions request for a signal and its built-in payload.
    pub fn request_body(
        &self,
        signal: &StopSignal,
        builtin: &HandoffPayload,
        builder: &Builder,
    ) -> Value {
        let max_words = builder.policy().summary_max_words;
        let must_keep: Vec<String> = compose::key_facts_in_summary(builtin)
            .iter()
            .map(|f| f.value.clone())
            .collect();
        let facts: Vec<String> = builtin
            .facts
            .confirmed
            .iter()
            .map(|f| format!("{}: {}", f.kind, f.value))
            .collect();
        let inferred: Vec<String> = builtin
            .facts
            .inferred
            .iter()
            .map(|f| format!("{}: {}", f.kind, f.value))
            .collect();
        let start = signal.transcript.len().saturating_sub(PROMPT_TURNS);
        let transcript: Vec<String> = signal.transcript[start..]
            .iter()
            .filter(|t| matches!(t.actor, Actor::Contact | Actor::Agent))
            .map(|t| {
                let who = if t.actor == Actor::Contact {
                    "contact"
                } else {
                    "agent"
                };
                let text: String = t.text.chars().take(PROMPT_TURN_CHARS).collect();
                format!("{who}: {text}")
            })
            .collect();
        let first_name = signal
            .contact
            .as_ref()
            .and_then(|c| c.name.as_deref())
            .and_then(|n| n.split_whitespace().next())
            .unwrap_or("");
        let language = builtin.context.language.as_deref().unwrap_or("en");
        let forbidden = &builder.policy().forbidden_promises;
        let system = format!(
            "You write handoff notes for human customer-support agents who take over from an AI \
             assistant. Reply with one JSON object and nothing else: \
             {{\"summary\": string, \"draft_reply\": string}}. \
             summary: one English paragraph of at most {max_words} words for the human: who the \
             contact is, what they want, what was already tried or said, why it escalated. It must \
             contain these exact values: {}. Do not quote the transcript at length. \
             draft_reply: the first message the human sends, in the language with tag \
             {language:?}, addressing the contact{} by name, acknowledging the issue and its facts, \
             saying what happens next. Never promise an outcome a person has not decided; never use \
             these phrases: {}.",
            if must_keep.is_empty() { "(none)".to_string() } else { must_keep.join(", ") },
            if first_name.is_empty() { String::new() } else { format!(" ({first_name})") },
            forbidden.join(", "),
        );
        let user = json!({
            "contact_name": signal.contact.as_ref().and_then(|c| c.name.clone()),
            "channel": signal.channel,
            "language": language,
            "intent": builtin.intent.name,
            "sub_intent": builtin.intent.sub_intent,
            "escalation_reasons": builtin.reasons.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(),
            "confirmed_facts": facts,
            "inferred_facts": inferred,
            "open_questions": builtin.facts.open_questions,
            "recommended_next_action": builtin.next_action.action,
            "transcript": transcript,
            "reference_summary": builtin.summary,
            "reference_draft_reply": builtin.draft_reply,
        });
        let mut body = json!({
            "model": self.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user.to_string()},
            ],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        });
        if self.json_mode {
            body["response_format"] = json!({"type": "json_object"});
        }
        body
    }

    /// Sends the request; the reply's message content, or why not.
    pub async fn call(&self, body: &Value) -> Result<String, Fallback> {
        self.call_with(&self.client, body).await
    }

    async fn call_with(&self, client: &reqwest::Client, body: &Value) -> Result<String, Fallback> {
        let mut req = client.post(&self.endpoint).json(body);
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key.expose_secret());
        }
        let send = async {
            let resp = req.send().await?;
            let status = resp.status();
            let text = resp.text().await?;
            Ok::<_, reqwest::Error>((status, text))
        };
        let (status, text) = match tokio::time::timeout(self.timeout, send).await {
            Err(_) => return Err(Fallback::Timeout),
            Ok(Err(e)) if e.is_timeout() => return Err(Fallback::Timeout),
            Ok(Err(e)) => return Err(Fallback::Transport(e.without_url().to_string())),
            Ok(Ok(r)) => r,
        };
        if !status.is_success() {
            return Err(Fallback::HttpStatus(status.as_u16()));
        }
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| Fallback::MalformedJson(format!("response body: {e}")))?;
        v.pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Fallback::MalformedJson("no choices[0].message.content".into()))
    }

    /// The payload: the LLM's summary and draft over the built-in payload, or the built-in
    /// payload with the reason it fell back. Blocks the calling thread up to the timeout (the
    /// worker's `handle` is synchronous; see [`block_on`]).
    pub fn compose(
        &self,
        signal: &StopSignal,
        builtin: HandoffPayload,
        builder: &Builder,
    ) -> (HandoffPayload, Option<Fallback>) {
        let body = self.request_body(signal, &builtin, builder);
        let content = block_on(
            |client: Option<reqwest::Client>| {
                let me = self.clone();
                let body = body.clone();
                async move {
                    let client = client.unwrap_or_else(|| me.client.clone());
                    me.call_with(&client, &body).await
                }
            },
            self.timeout,
        );
        match content.and_then(|c| accept(&builtin, &c, builder)) {
            Ok((summary, draft_reply)) => {
                let payload = HandoffPayload {
                    summary,
                    draft_reply,
                    composer: Composer {
                        name: LLM_COMPOSER_NAME.into(),
                        version: self.model.clone(),
                    },
                    ..builtin
                };
                (payload, None)
            }
            Err(why) => {
                let mut payload = builtin;
                payload.composer.version =
                    format!("{}+llm-fallback.{}", payload.composer.version, why.as_str());
                (payload, Some(why))
            }
        }
    }
}

fn client(timeout: Duration) -> Result<reqwest::Client, LlmError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| LlmError::Settings(format!("HTTP client: {e}")))
}

/// Reads the API key from `$NAME`, or from the file named by `$NAME_FILE`; absent is fine
/// (local servers need none).
pub fn api_key_from_env(name: &str) -> Result<Option<SecretString>, LlmError> {
    if name.is_empty() {
        return Ok(None);
    }
    if let Ok(v) = std::env::var(name) {
        if !v.trim().is_empty() {
            return Ok(Some(SecretString::from(v.trim().to_string())));
        }
    }
    if let Ok(path) = std::env::var(format!("{name}_FILE")) {
        let v = std::fs::read_to_string(&path)
            .map_err(|e| LlmError::Settings(format!("{name}_FILE ({path}): {e}")))?;
        return Ok(Some(SecretString::from(v.trim().to_string())));
    }
    Ok(None)
}

/// Runs an async HTTP call from synchronous code.
///
/// The worker's `Stage::handle` is synchronous and runs on the runtime's thread. On a
/// multi-threaded runtime (the worker's `#[tokio::main]`) the call runs in place with
/// `block_in_place`, which hands this thread's other tasks to the other workers while it waits;
/// the builder is stateless and its loop sequential, so nothing else waits on it. Elsewhere (no
/// runtime, or a current-thread one) the call runs on a scoped thread with its own small
/// runtime and a fresh client (a pooled connection must not outlive the runtime it was made on).
fn block_on<F, Fut, T>(make: F, timeout: Duration) -> Result<T, Fallback>
where
    F: FnOnce(Option<reqwest::Client>) -> Fut + Send,
    Fut: Future<Output = Result<T, Fallback>>,
    T: Send,
{
    use tokio::runtime::{Handle, RuntimeFlavor};
    if let Ok(handle) = Handle::try_current() {
        if handle.runtime_flavor() == RuntimeFlavor::MultiThread {
            return tokio::task::block_in_place(|| handle.block_on(make(None)));
        }
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Fallback::Transport(format!("runtime: {e}")))?;
            let fresh = client(timeout).map_err(|e| Fallback::Transport(e.to_string()))?;
            rt.block_on(make(Some(fresh)))
        })
        .join()
        .unwrap_or_else(|_| Err(Fallback::Transport("composer thread panicked".into())))
    })
}

/// Validates a reply's content against the built-in payload: `(summary, draft_reply)` or why not.
pub fn accept(
    builtin: &HandoffPayload,
    content: &str,
    builder: &Builder,
) -> Result<(String, String), Fallback> {
    let trimmed = strip_fences(content);
    let v: Value = serde_json::from_str(trimmed)
        .map_err(|e| Fallback::MalformedJson(format!("content is not JSON: {e}")))?;
    let field = |name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Fallback::MalformedJson(format!("no {name} string")))
    };
    // One paragraph: line breaks become spaces.
    let summary = field("summary")?
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let draft = field("draft_reply")?;
    let words = summary.split_whitespace().count();
    if words > builder.policy().summary_max_words {
        return Err(Fallback::TooLong(words));
    }
    for fact in compose::key_facts_in_summary(builtin) {
        if !compose::mentions(&summary, fact) {
            return Err(Fallback::DroppedFact(fact.value.clone()));
        }
    }
    if let Some(p) = builder.forbidden_phrase(&draft) {
        return Err(Fallback::ForbiddenPromise(p));
    }
    let first_name = builtin
        .context
        .contact
        .as_ref()
        .and_then(|c| c.name.as_deref())
        .and_then(|n| n.split_whitespace().next());
    if let Some(name) = first_name {
        if !draft.contains(name) {
            return Err(Fallback::MissingName);
        }
    }
    Ok((summary, draft))
}

/// Models often wrap JSON in a Markdown code fence.
fn strip_fences(s: &str) -> &str {
    let t = s.trim();
    let Some(rest) = t.strip_prefix("```") else {
        return t;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_are_stripped_and_fallbacks_name_themselves() {
        assert_eq!(strip_fences("```json\n{\"a\":1}\n```"), "{\"a\":1}");
        assert_eq!(strip_fences(" {\"a\":1} "), "{\"a\":1}");
        assert_eq!(Fallback::Timeout.as_str(), "timeout");
        assert_eq!(Fallback::HttpStatus(500).to_string(), "HTTP status 500");
    }

    #[test]
    fn the_key_never_prints() {
        let c = LlmComposer::new(
            &LlmPolicy::default(),
            Some(SecretString::from("sk-hunter2".to_string())),
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn bad_settings_are_refused() {
        let p = LlmPolicy {
            endpoint: "ftp://x".into(),
            ..Default::default()
        };
        assert!(LlmComposer::new(&p, None).is_err());
        let p = LlmPolicy {
            endpoint: "not a url".into(),
            ..Default::default()
        };
        assert!(LlmComposer::new(&p, None).is_err());
    }
}
