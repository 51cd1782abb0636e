//! The `llm` demo upstream: an OpenAI-compatible API that makes up short answers.
//!
//! `POST /v1/chat/completions` reads the request's `model` and `stream`: a plain request gets a
//! `chat.completion` JSON answer with `usage`; a streamed one gets `chat.completion.chunk` events
//! over 0.3–1.5 s, a final chunk carrying `usage`, then `data: [DONE]`. `GET /v1/models` lists
//! [`MODELS`]. About 1 % of completions are refused with 429, as busy providers do.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::time::Duration;

/// The models `GET /v1/models` lists (any model named in a request is answered, though).
pub const MODELS: [&str; 3] = ["gpt-4o-mini", "llama-3.1-8b", "claude-3-haiku"];

/// Share of completions refused with 429.
const RATE_LIMITED: f64 = 0.01;

const REPLIES: [&str; 6] = [
    "Sure! The order ships tomorrow and should arrive within three business days.",
    "The burr grinder is back in stock; I have reserved one for you.",
    "Here is a short summary: traffic is steady, latency is low and nothing needs attention.",
    "I could not find that item, but the ceramic mug in blue is a close match.",
    "Your refund was approved and will reach your account in five to seven days.",
    "A light roast brings out the fruity notes; try a finer grind and water just off the boil.",
];

/// The router of the `llm` demo upstream.
pub fn router() -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat_completion))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "unknown endpoint",
            )
        })
}

async fn models() -> axum::Json<Value> {
    let created = chrono::Utc::now().timestamp();
    let data: Vec<_> = MODELS
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": created, "owned_by": "gatewatch-demo"}))
        .collect();
    axum::Json(json!({"object": "list", "data": data}))
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "code": null}});
    (status, axum::Json(body)).into_response()
}

/// What a chat completion request asks for.
#[derive(Debug, PartialEq, Eq)]
struct ChatRequest {
    model: String,
    stream: bool,
    prompt_tokens: u64,
}

impl ChatRequest {
    /// Reads the request body; the error is the message for a 400.
    fn parse(body: &[u8]) -> Result<Self, &'static str> {
        let body: Value = serde_json::from_slice(body).map_err(|_| "the body is not JSON")?;
        let model = body["model"]
            .as_str()
            .filter(|model| !model.is_empty())
            .ok_or("`model` is required")?;
        // Roughly four characters a token, plus a few per message for the chat format.
        let prompt_tokens = body["messages"].as_array().map_or(0, |messages| {
            messages
                .iter()
                .map(|message| {
                    let chars = message["content"].as_str().map_or(0, str::len) as u64;
                    4 + chars.div_ceil(4)
                })
                .sum()
        });
        Ok(Self {
            model: model.to_string(),
            stream: body["stream"].as_bool().unwrap_or(false),
            prompt_tokens: prompt_tokens.max(1),
        })
    }
}

/// A made-up answer: its pieces (one token each) and its id.
struct Completion {
    id: String,
    model: String,
    created: i64,
    pieces: Vec<String>,
    prompt_tokens: u64,
}

impl Completion {
    fn new(request: ChatRequest) -> Self {
        let reply = REPLIES[fastrand::usize(..REPLIES.len())];
        let pieces = reply
            .split_inclusive(' ')
            .map(str::to_string)
            .collect::<Vec<_>>();
        Self {
            id: format!("chatcmpl-demo-{:016x}", fastrand::u64(..)),
            model: request.model,
            created: chrono::Utc::now().timestamp(),
            pieces,
            prompt_tokens: request.prompt_tokens,
        }
    }

    fn usage(&self) -> Value {
        let completion_tokens = self.pieces.len() as u64;
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": self.prompt_tokens + completion_tokens,
        })
    }

    /// The whole answer as one `chat.completion`.
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": self.pieces.concat()},
                "finish_reason": "stop",
            }],
            "usage": self.usage(),
        })
    }

    /// The answer as server-sent events: the role, one chunk per piece, the finish reason, the
    /// usage, then `[DONE]`.
    fn to_events(&self) -> Vec<String> {
        let chunk = |choices: Value, usage: Value| {
            let chunk = json!({
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": choices,
                "usage": usage,
            });
            format!("data: {chunk}\n\n")
        };
        let delta = |delta: Value, finish: Value| json!([{"index": 0, "delta": delta, "finish_reason": finish}]);
        let mut events = vec![chunk(
            delta(json!({"role": "assistant", "content": ""}), Value::Null),
            Value::Null,
        )];
        events.extend(
            self.pieces
                .iter()
                .map(|piece| chunk(delta(json!({"content": piece}), Value::Null), Value::Null)),
        );
        events.push(chunk(delta(json!({}), json!("stop")), Value::Null));
        events.push(chunk(json!([]), self.usage()));
        events.push("data: [DONE]\n\n".to_string());
        events
    }
}

async fn chat_completion(body: Bytes) -> Response {
    let request = match ChatRequest::parse(&body) {
        Ok(request) => request,
        Err(message) => return error(StatusCode::BAD_REQUEST, "invalid_request_error", message),
    };
    if fastrand::f64() < RATE_LIMITED {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "rate limit reached (a demo failure)",
        );
    }
    let stream = request.stream;
    let completion = Completion::new(request);
    if !stream {
        tokio::time::sleep(Duration::from_millis(fastrand::u64(150..=700))).await;
        return axum::Json(completion.to_json()).into_response();
    }
    let events = completion.to_events();
    // The whole stream takes 0.3–1.5 s, spread evenly over its events.
    let total = Duration::from_millis(fastrand::u64(300..=1_500));
    let gap = total / events.len() as u32;
    let body = futures_util::stream::iter(events.into_iter().enumerate()).then(
        move |(index, event)| async move {
            if index > 0 {
                tokio::time::sleep(gap).await;
            }
            Ok::<_, Infallible>(Bytes::from(event))
        },
    );
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_give_model_stream_and_prompt_size() {
        let request = ChatRequest::parse(
            br#"{"model": "gpt-4o-mini", "stream": true,
                 "messages": [{"role": "user", "content": "12345678"}]}"#,
        )
        .unwrap();
        assert_eq!(
            request,
            ChatRequest {
                model: "gpt-4o-mini".into(),
                stream: true,
                prompt_tokens: 6,
            }
        );
        let plain = ChatRequest::parse(br#"{"model": "m"}"#).unwrap();
        assert!(!plain.stream);
        assert_eq!(plain.prompt_tokens, 1);
        assert_eq!(ChatRequest::parse(b"{}"), Err("`model` is required"));
        assert_eq!(ChatRequest::parse(b"nope"), Err("the body is not JSON"));
    }

    #[test]
    fn answers_carry_consistent_usage() {
        let completion = Completion::new(ChatRequest {
            model: "llama-3.1-8b".into(),
            stream: false,
            prompt_tokens: 10,
        });
        let answer = completion.to_json();
        let pieces = completion.pieces.len() as u64;
        assert_eq!(answer["model"], "llama-3.1-8b");
        assert_eq!(answer["usage"]["completion_tokens"], pieces);
        assert_eq!(answer["usage"]["total_tokens"], 10 + pieces);
        assert_eq!(
            answer["choices"][0]["message"]["content"],
            completion.pieces.concat()
        );
    }

    #[test]
    fn streams_end_with_usage_then_done() {
        let completion = Completion::new(ChatRequest {
            model: "claude-3-haiku".into(),
            stream: true,
            prompt_tokens: 3,
        });
        let events = completion.to_events();
        assert_eq!(events.last().unwrap(), "data: [DONE]\n\n");
        let chunks: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|event| {
                let data = event.strip_prefix("data: ").unwrap().trim_end();
                serde_json::from_str(data).unwrap()
            })
            .collect();
        assert!(chunks.len() >= 5, "several chunks");
        let text: String = chunks
            .iter()
            .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(text, completion.pieces.concat());
        let last = chunks.last().unwrap();
        assert_eq!(last["usage"]["prompt_tokens"], 3);
        assert_eq!(last["usage"], completion.usage());
        assert!(
            chunks[..chunks.len() - 1]
                .iter()
                .all(|c| c["usage"].is_null())
        );
    }
}
