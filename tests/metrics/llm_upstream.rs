//! A fake OpenAI-compatible and Anthropic upstream on a loopback port.
//!
//! `POST /v1/chat/completions` and `POST /v1/messages` answer with the request's `model` and
//! the usage given in the `x-usage: <input>,<output>` request header, as JSON or — when the
//! request body has `"stream": true` — as an SSE stream in the provider's format. A stream sends
//! its first content chunk, then holds the rest until [`LlmUpstream::release`] is called, so a
//! test can see the first chunk reach the client while the upstream is still talking.

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

pub struct LlmUpstream {
    pub addr: SocketAddr,
    /// One permit per held stream that may finish.
    release: Arc<Semaphore>,
    server: tokio::task::JoinHandle<()>,
}

impl LlmUpstream {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let release = Arc::new(Semaphore::new(0));
        let gate = release.clone();
        let server = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let gate = gate.clone();
                let service = service_fn(move |request| {
                    let gate = gate.clone();
                    async move { Ok::<_, Infallible>(answer(request, gate).await) }
                });
                connections.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            release,
            server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Lets one held stream send the rest of its events.
    pub fn release(&self) {
        self.release.add_permits(1);
    }
}

impl Drop for LlmUpstream {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn answer(request: Request<Incoming>, gate: Arc<Semaphore>) -> Response<Body> {
    let anthropic = request.uri().path() == "/v1/messages";
    let (input, output) = request
        .headers()
        .get("x-usage")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(','))
        .map(|(i, o)| (i.parse::<u64>().unwrap(), o.parse::<u64>().unwrap()))
        .unwrap_or((0, 0));
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let model = body["model"].as_str().unwrap().to_string();
    if body["stream"].as_bool() != Some(true) {
        let json = if anthropic {
            serde_json::json!({
                "id": "msg_1", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": "Hello"}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": input, "output_tokens": output},
            })
        } else {
            serde_json::json!({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": input, "completion_tokens": output,
                          "total_tokens": input + output},
            })
        };
        return Response::builder()
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(Bytes::from(json.to_string())).boxed())
            .unwrap();
    }

    let (first, rest) = if anthropic {
        anthropic_events(&model, input, output)
    } else {
        openai_events(&model, input, output)
    };
    let (frames, receiver) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(16);
    tokio::spawn(async move {
        for event in first {
            let _ = frames.send(Ok(Frame::data(Bytes::from(event)))).await;
        }
        gate.acquire().await.unwrap().forget();
        for event in rest {
            let _ = frames.send(Ok(Frame::data(Bytes::from(event)))).await;
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|frame| (frame, receiver))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .unwrap()
}

/// OpenAI chunks: (sent at once, held until released).
fn openai_events(model: &str, input: u64, output: u64) -> (Vec<String>, Vec<String>) {
    let chunk = |delta: serde_json::Value, usage: serde_json::Value| {
        let choices = if delta.is_null() {
            serde_json::json!([])
        } else {
            serde_json::json!([{"index": 0, "delta": delta, "finish_reason": null}])
        };
        format!(
            "data: {}\n\n",
            serde_json::json!({"id": "c1", "object": "chat.completion.chunk", "created": 1,
                               "model": model, "choices": choices, "usage": usage})
        )
    };
    let first = vec![
        chunk(
            serde_json::json!({"role": "assistant", "content": ""}),
            serde_json::Value::Null,
        ),
        chunk(
            serde_json::json!({"content": "Hel"}),
            serde_json::Value::Null,
        ),
    ];
    let rest = vec![
        chunk(
            serde_json::json!({"content": "lo"}),
            serde_json::Value::Null,
        ),
        chunk(
            serde_json::Value::Null,
            serde_json::json!({
            "prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}),
        ),
        "data: [DONE]\n\n".to_string(),
    ];
    (first, rest)
}

/// Anthropic events: (sent at once, held until released).
fn anthropic_events(model: &str, input: u64, output: u64) -> (Vec<String>, Vec<String>) {
    let event = |name: &str, data: serde_json::Value| format!("event: {name}\ndata: {data}\n\n");
    let first = vec![
        event(
            "message_start",
            serde_json::json!({"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": model,
            "usage": {"input_tokens": input, "output_tokens": 1}}}),
        ),
        event(
            "content_block_start",
            serde_json::json!({"type": "content_block_start",
            "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        event(
            "content_block_delta",
            serde_json::json!({"type": "content_block_delta",
            "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}),
        ),
    ];
    let rest = vec![
        event(
            "content_block_delta",
            serde_json::json!({"type": "content_block_delta",
            "index": 0, "delta": {"type": "text_delta", "text": "lo"}}),
        ),
        event(
            "content_block_stop",
            serde_json::json!({"type": "content_block_stop", "index": 0}),
        ),
        event(
            "message_delta",
            serde_json::json!({"type": "message_delta",
            "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": output}}),
        ),
        event("message_stop", serde_json::json!({"type": "message_stop"})),
    ];
    (first, rest)
}
