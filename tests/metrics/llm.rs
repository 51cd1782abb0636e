//! LLM traffic: models and token usage read from JSON answers and SSE streams (OpenAI-compatible
//! and Anthropic) on an `llm` route, without holding back the client's stream.

use crate::WAIT;
use crate::llm_upstream::LlmUpstream;
use crate::support::*;
use serde_json::Value;

/// Posts a chat request for `model` whose answer reports `usage` tokens; returns the body.
async fn chat(gateway: &TestGateway, path: &str, model: &str, usage: (u64, u64)) -> String {
    client()
        .post(gateway.url(path))
        .header("x-usage", format!("{},{}", usage.0, usage.1))
        .header("content-type", "application/json")
        .body(json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}).to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Posts a streaming chat request and reads the answer; the upstream holds the end of the
/// stream until the test has seen its first content chunk arrive.
async fn stream(
    gateway: &TestGateway,
    upstream: &LlmUpstream,
    path: &str,
    model: &str,
    usage: (u64, u64),
) -> String {
    let mut response = client()
        .post(gateway.url(path))
        .header("x-usage", format!("{},{}", usage.0, usage.1))
        .header("content-type", "application/json")
        .body(json!({"model": model, "stream": true, "messages": []}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = String::new();
    // The first content reaches the client while the upstream is still holding the rest: the
    // tap does not buffer the stream.
    while !body.contains("Hel") {
        let chunk = tokio::time::timeout(WAIT, response.chunk())
            .await
            .unwrap()
            .unwrap();
        body.push_str(std::str::from_utf8(&chunk.expect("stream still open")).unwrap());
    }
    upstream.release();
    while let Some(chunk) = response.chunk().await.unwrap() {
        body.push_str(std::str::from_utf8(chunk.as_ref()).unwrap());
    }
    body
}

fn model<'a>(models: &'a Value, name: &str) -> &'a Value {
    models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == name)
        .unwrap_or_else(|| panic!("no model {name} in {models}"))
}

#[tokio::test]
async fn tokens_per_model_from_json_and_streamed_answers() {
    let upstream = LlmUpstream::start().await;
    let plain = Upstream::start("plain").await;
    let gateway = TestGateway::start(json!({"routes": [
        {"name": "llm", "path": "/v1/*", "llm": true, "targets": [upstream.url()]},
        {"name": "plain", "path": "/other/*", "targets": [upstream.url()]},
        {"name": "web", "path": "*", "targets": [plain.url()]},
    ]}))
    .await;
    let mut events = gateway.events();

    let answer = chat(&gateway, "/v1/chat/completions", "gpt-test", (12, 34)).await;
    assert!(answer.contains("\"prompt_tokens\":12"), "{answer}");
    let streamed = stream(
        &gateway,
        &upstream,
        "/v1/chat/completions",
        "gpt-test",
        (5, 7),
    )
    .await;
    assert!(
        streamed.ends_with("data: [DONE]\n\n"),
        "the stream arrives whole: {streamed}"
    );
    chat(&gateway, "/v1/messages", "claude-test", (100, 200)).await;
    let streamed = stream(&gateway, &upstream, "/v1/messages", "claude-test", (30, 40)).await;
    assert!(streamed.contains("message_stop"), "{streamed}");
    // The same API on a route not marked `llm`, and plain traffic, count no tokens.
    chat(
        &gateway,
        "/other/v1/chat/completions",
        "gpt-unmarked",
        (1, 1),
    )
    .await;
    get(&gateway.url("/page")).await;
    for _ in 0..6 {
        next_request(&mut events, WAIT).await;
    }

    let (status, models) = get_json(&gateway.api("/api/models")).await;
    assert_eq!(status, 200);
    assert_eq!(models.as_array().unwrap().len(), 2, "{models}");
    let gpt = model(&models, "gpt-test");
    assert_eq!(
        (&gpt["requests"], &gpt["streamed_requests"], &gpt["errors"]),
        (&json!(2), &json!(1), &json!(0))
    );
    assert_eq!(
        (&gpt["input_tokens"], &gpt["output_tokens"]),
        (&json!(17), &json!(41))
    );
    assert_eq!(gpt["targets"][upstream.url()], 2);
    let first_token = gpt["first_token"]["p50_us"].as_u64().unwrap();
    assert!(first_token > 0, "{gpt}");
    assert!(
        first_token <= gpt["latency"]["max_us"].as_u64().unwrap(),
        "{gpt}"
    );
    let claude = model(&models, "claude-test");
    assert_eq!(
        (&claude["requests"], &claude["streamed_requests"]),
        (&json!(2), &json!(1))
    );
    assert_eq!(
        (&claude["input_tokens"], &claude["output_tokens"]),
        (&json!(130), &json!(240))
    );
    assert!(claude["first_token"]["p50_us"].as_u64().unwrap() > 0);

    // Each request carries its usage; the model filter finds them.
    let (_, page) = get_json(&gateway.api("/api/requests?model=claude-test")).await;
    let requests = page["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 2);
    let newest = &requests[0]["llm"];
    assert_eq!(
        (
            &newest["model"],
            &newest["input_tokens"],
            &newest["output_tokens"],
            &newest["streamed"]
        ),
        (&json!("claude-test"), &json!(30), &json!(40), &json!(true))
    );
    assert!(newest["first_token_us"].as_u64().unwrap() > 0);
    let (_, page) = get_json(&gateway.api("/api/requests?route=plain")).await;
    assert!(page["requests"][0]["llm"].is_null());

    // Route totals and Prometheus agree.
    let (_, routes) = get_json(&gateway.api("/api/routes")).await;
    let llm = routes
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "llm")
        .unwrap();
    assert_eq!(
        (
            &llm["traffic"]["input_tokens"],
            &llm["traffic"]["output_tokens"]
        ),
        (&json!(147), &json!(281))
    );
    let (_, _, text) = get(&gateway.api("/metrics")).await;
    for (series, want) in [
        ("gatewatch_llm_requests_total{model=\"gpt-test\"}", "2"),
        (
            "gatewatch_llm_tokens_total{model=\"gpt-test\",direction=\"input\"}",
            "17",
        ),
        (
            "gatewatch_llm_tokens_total{model=\"claude-test\",direction=\"output\"}",
            "240",
        ),
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(series))
            .unwrap_or_else(|| panic!("no {series}"));
        assert_eq!(line, format!("{series} {want}"));
    }
    assert!(gateway.stop(WAIT).await);
}
