//! Model and token usage of LLM API answers, read from response bodies as the proxy forwards them.
//!
//! An [`LlmTap`] is shown every chunk of a response body right after it is forwarded to the
//! client; it never holds a chunk back, and its work is linear in the chunk's size. Formats:
//!
//! * JSON bodies (`application/json`, `application/*+json`) of the OpenAI-compatible API (chat
//!   completions, completions, embeddings, Responses) and Anthropic's Messages API: top-level
//!   `model` and `usage` (`prompt_tokens`/`completion_tokens` or `input_tokens`/`output_tokens`;
//!   Anthropic's `cache_creation_input_tokens` and `cache_read_input_tokens` count as input). The
//!   body is copied up to [`MAX_JSON_BODY`] and parsed once, at [`LlmTap::finish`].
//! * Server-sent event streams (`text/event-stream`): OpenAI chunks (`model`, `choices[].delta`,
//!   final `usage` chunk, `[DONE]`), Anthropic events (`message_start`, `content_block_delta`,
//!   `message_delta`, …, told apart by the JSON `type`) and Responses API events
//!   (`response.*.delta`, `response.completed`). Lines end with `\n`, `\r\n` or `\r`; the `data:`
//!   lines of an event are joined with `\n`; other fields and comments are ignored. Only events
//!   that can still tell something new are parsed, after cheap substring checks. An event longer
//!   than [`MAX_SSE_EVENT`] is dropped, not buffered. The first event carrying content (text,
//!   reasoning or a tool call) gives `first_token_us`. An event left unfinished when the body
//!   ends is still read, for usage (not for the first-token time).
//!
//! Any input, split anywhere, is safe: what cannot be parsed is ignored. The tap reads the body
//! as it comes; a compressed body (`Content-Encoding`) yields nothing.

use crate::views::LlmUsage;
use serde::Deserialize;
use serde_json::Value;
use std::time::Instant;

/// Longest JSON body kept for parsing (bigger bodies: usage not extracted, and the tap stops copying).
pub const MAX_JSON_BODY: usize = 4 * 1024 * 1024;
/// Longest single SSE event/line kept (longer ones are skipped, not buffered).
pub const MAX_SSE_EVENT: usize = 256 * 1024;
/// Longest model name kept: the name is the upstream's to choose, and it is stored with every
/// request.
pub const MAX_MODEL_LEN: usize = 256;

/// Watches one response body for the model and token usage of an LLM API answer.
#[derive(Debug)]
pub struct LlmTap {
    mode: Mode,
}

#[derive(Debug)]
enum Mode {
    /// The JSON body so far; `None` once it grew past [`MAX_JSON_BODY`].
    Json(Option<Vec<u8>>),
    Sse(SseTap),
}

impl LlmTap {
    /// A tap for a response with this `Content-Type` header value (None if absent), or None when
    /// the response cannot be an LLM answer (only `application/json` (incl. `+json` and with
    /// parameters such as charset) and `text/event-stream` qualify, case-insensitive).
    /// `started`: when the request arrived (first_token_us is measured from it).
    pub fn for_response(content_type: Option<&str>, started: Instant) -> Option<Self> {
        let content_type = content_type?;
        let essence = content_type
            .split_once(';')
            .map_or(content_type, |(essence, _)| essence);
        let mode = match essence.trim().to_ascii_lowercase().as_str() {
            "text/event-stream" => Mode::Sse(SseTap::new(started)),
            "application/json" => Mode::Json(Some(Vec::new())),
            json if json.starts_with("application/") && json.ends_with("+json") => {
                Mode::Json(Some(Vec::new()))
            }
            _ => return None,
        };
        Some(Self { mode })
    }

    /// Sees one chunk of the response body as it is forwarded.
    pub fn observe(&mut self, chunk: &[u8]) {
        self.observe_at(chunk, Instant::now());
    }

    /// [`observe`](Self::observe) with the clock read by the caller.
    fn observe_at(&mut self, chunk: &[u8], now: Instant) {
        match &mut self.mode {
            Mode::Json(body) => {
                if body
                    .as_mut()
                    .is_some_and(|buf| !append_within(buf, chunk, MAX_JSON_BODY))
                {
                    *body = None; // Too big: free the copy and ignore the rest.
                }
            }
            Mode::Sse(sse) => sse.feed(chunk, now),
        }
    }

    /// The usage found, once the body has ended (or was cut short). None when no model was found.
    pub fn finish(self) -> Option<LlmUsage> {
        match self.mode {
            Mode::Json(body) => {
                let body: WireBody = serde_json::from_slice(&body?).ok()?;
                let mut found = Found::default();
                found.take(body.model, body.usage);
                found.into_usage(false)
            }
            Mode::Sse(sse) => sse.finish(),
        }
    }
}

/// Appends `bytes` to `buf` unless it would get longer than `limit`; its capacity stays within
/// `limit` too.
fn append_within(buf: &mut Vec<u8>, bytes: &[u8], limit: usize) -> bool {
    let needed = buf.len().saturating_add(bytes.len());
    if needed > limit {
        return false;
    }
    if needed > buf.capacity() {
        let target = needed.max(buf.capacity().saturating_mul(2)).min(limit);
        buf.reserve_exact(target - buf.len());
    }
    buf.extend_from_slice(bytes);
    true
}

/// Splits a byte stream into server-sent events, holding at most [`MAX_SSE_EVENT`] bytes of one.
#[derive(Debug)]
struct SseTap {
    /// The current line, unfinished.
    line: Vec<u8>,
    /// The `data` of the current event, each line followed by `\n`.
    data: Vec<u8>,
    /// The current line has at least one byte (kept or not): it is not a blank line.
    line_started: bool,
    /// The current event outgrew [`MAX_SSE_EVENT`]: drop everything up to the next blank line.
    skipping: bool,
    /// The last byte seen was a `\r`: a `\n` right after it belongs to the same line break.
    after_cr: bool,
    /// When the request arrived.
    started: Instant,
    found: Found,
}

impl SseTap {
    fn new(started: Instant) -> Self {
        Self {
            line: Vec::new(),
            data: Vec::new(),
            line_started: false,
            skipping: false,
            after_cr: false,
            started,
            found: Found::default(),
        }
    }

    fn feed(&mut self, mut chunk: &[u8], now: Instant) {
        if self.after_cr && !chunk.is_empty() {
            self.after_cr = false;
            chunk = chunk.strip_prefix(b"\n").unwrap_or(chunk);
        }
        while let Some(end) = chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
            let (line, rest) = chunk.split_at(end);
            self.push(line);
            self.end_line(Some(now));
            chunk = match rest {
                [b'\r', b'\n', rest @ ..] => rest,
                [b'\r'] => {
                    self.after_cr = true;
                    &[]
                }
                [_, rest @ ..] => rest,
                [] => &[],
            };
        }
        self.push(chunk);
    }

    /// Adds bytes to the current line, or starts skipping the event if it would grow too long.
    fn push(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.line_started = true;
        if !self.skipping && !append_within(&mut self.line, bytes, MAX_SSE_EVENT - self.data.len())
        {
            self.skipping = true;
            self.line.clear();
            self.data.clear();
        }
    }

    /// A line ended (`now`: when, or None at the end of the body).
    fn end_line(&mut self, now: Option<Instant>) {
        if !std::mem::take(&mut self.line_started) {
            // A blank line ends the event.
            if !std::mem::take(&mut self.skipping) {
                self.dispatch(now);
            }
            return;
        }
        // While skipping, `line` is empty. Otherwise this fits: `data:` is longer than `\n`.
        if let Some(value) = data_value(&self.line) {
            let limit = MAX_SSE_EVENT;
            if !(append_within(&mut self.data, value, limit)
                && append_within(&mut self.data, b"\n", limit))
            {
                self.skipping = true;
                self.data.clear();
            }
        }
        self.line.clear();
    }

    fn dispatch(&mut self, now: Option<Instant>) {
        if let [payload @ .., b'\n'] = self.data.as_slice() {
            let elapsed = now.map(|now| now.saturating_duration_since(self.started));
            let elapsed_us = elapsed.map(|e| u64::try_from(e.as_micros()).unwrap_or(u64::MAX));
            self.found.event(payload, elapsed_us);
        }
        self.data.clear();
    }

    fn finish(mut self) -> Option<LlmUsage> {
        // The body was cut short or lacks the final blank line: read what is there.
        if self.line_started {
            self.end_line(None);
        }
        self.dispatch(None);
        self.found.into_usage(true)
    }
}

/// The value of a `data` field line (`data:` and one optional space stripped), if it is one.
fn data_value(line: &[u8]) -> Option<&[u8]> {
    match line.strip_prefix(b"data")? {
        [] => Some(&[]),
        [b':', b' ', value @ ..] | [b':', value @ ..] => Some(value),
        _ => None,
    }
}

/// Whether `needle` (a short constant) occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// What was learned so far.
#[derive(Debug, Default)]
struct Found {
    model: String,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    first_token_us: Option<u64>,
}

impl Found {
    /// One SSE event's data; `elapsed_us`: time since the request arrived (None at end of body).
    fn event(&mut self, payload: &[u8], elapsed_us: Option<u64>) {
        let awaiting_first = elapsed_us.is_some() && self.first_token_us.is_none();
        let worth_parsing = (awaiting_first
            && (contains(payload, b"\"delta\"") || contains(payload, b"\"text\"")))
            || (self.model.is_empty() && contains(payload, b"\"model\""))
            || (contains(payload, b"\"usage\"")
                && !contains(payload, b"\"usage\":null")
                && !contains(payload, b"\"usage\": null"));
        if !worth_parsing {
            return;
        }
        let Ok(event) = serde_json::from_slice::<WireEvent>(payload) else {
            return;
        };
        if awaiting_first && event.has_content() {
            self.first_token_us = elapsed_us;
        }
        self.take(event.model, event.usage);
        for inner in [event.message, event.response].into_iter().flatten() {
            self.take(inner.model, inner.usage);
        }
    }

    /// Keeps a non-empty model (cut to [`MAX_MODEL_LEN`]) and the token counts present (later
    /// ones win).
    fn take(&mut self, model: Option<String>, usage: Option<WireUsage>) {
        if let Some(mut model) = model.filter(|model| !model.is_empty()) {
            if model.len() > MAX_MODEL_LEN {
                let mut end = MAX_MODEL_LEN;
                while !model.is_char_boundary(end) {
                    end -= 1;
                }
                model.truncate(end);
            }
            self.model = model;
        }
        let Some(usage) = usage else { return };
        let cache = [
            usage.cache_creation_input_tokens,
            usage.cache_read_input_tokens,
        ];
        let input = usage.prompt_tokens.or(usage.input_tokens);
        if input.is_some() || cache.iter().any(Option::is_some) {
            let cached = cache.into_iter().flatten().fold(0, u64::saturating_add);
            self.input_tokens = Some(input.unwrap_or(0).saturating_add(cached));
        }
        if let Some(output) = usage.completion_tokens.or(usage.output_tokens) {
            self.output_tokens = Some(output);
        }
    }

    fn into_usage(self, streamed: bool) -> Option<LlmUsage> {
        (!self.model.is_empty()).then_some(LlmUsage {
            model: self.model,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            streamed,
            first_token_us: self.first_token_us,
        })
    }
}

/// A JSON body, or the `message` (Anthropic) / `response` (Responses API) inside an event.
#[derive(Deserialize, Default)]
#[serde(default)]
struct WireBody {
    model: Option<String>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
}

/// One SSE event of any of the supported streams.
#[derive(Deserialize, Default)]
#[serde(default)]
struct WireEvent {
    #[serde(rename = "type")]
    kind: Option<String>,
    model: Option<String>,
    usage: Option<WireUsage>,
    message: Option<WireBody>,
    response: Option<WireBody>,
    choices: Option<Vec<WireChoice>>,
}

impl WireEvent {
    /// Whether the event carries part of the answer: text, reasoning or a tool call.
    fn has_content(&self) -> bool {
        match self.kind.as_deref() {
            Some("content_block_delta") => true,
            Some(kind) => kind.starts_with("response.") && kind.ends_with(".delta"),
            None => self.choices.iter().flatten().any(|choice| {
                let delta = choice.delta.iter();
                let fields = delta.flat_map(|d| [&d.content, &d.reasoning_content, &d.reasoning]);
                let tool_calls = choice.delta.iter().map(|delta| &delta.tool_calls);
                [&choice.text]
                    .into_iter()
                    .chain(fields)
                    .chain(tool_calls)
                    .any(filled)
            }),
        }
    }
}

/// Whether a JSON value holds something (not null, `""`, `[]` or `{}`).
fn filled(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(fields) => !fields.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// A choice of an OpenAI chunk; content fields are small [`Value`]s so any type is accepted.
#[derive(Deserialize, Default)]
#[serde(default)]
struct WireChoice {
    text: Value,
    delta: Option<WireDelta>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WireDelta {
    content: Value,
    reasoning_content: Value,
    reasoning: Value,
    tool_calls: Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const CHAT_JSON: &str = r#"{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion","created":1741570283,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"Bonjour, ça va ? 🌍","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_fc9f1d7035"}"#;
    const EMBEDDINGS_JSON: &str = r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[-0.006929283,-0.005336422,0.024047505]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":5,"total_tokens":5}}"#;
    const RESPONSES_JSON: &str = r#"{"id":"resp_67ccd2bed1ec8190","object":"response","created_at":1741476542,"status":"completed","model":"gpt-4.1-2025-04-14","output":[{"type":"message","id":"msg_67ccd2bf","status":"completed","role":"assistant","content":[{"type":"output_text","text":"In a peaceful grove…","annotations":[]}]}],"usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":0},"output_tokens":87,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":123}}"#;
    const ANTHROPIC_JSON: &str = r#"{"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[{"type":"text","text":"Hi! My name is Claude."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":2095,"cache_creation_input_tokens":100,"cache_read_input_tokens":1000,"output_tokens":503}}"#;
    const OPENAI_SSE: &str = concat!(
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Héllo\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        ": keep-alive\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" wörld 🌍\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":3,\"total_tokens\":22,\"prompt_tokens_details\":{\"cached_tokens\":0}}}\n\n",
        "data: [DONE]\n\n",
    );
    const ANTHROPIC_SSE: &str = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-20250514\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":10,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\ndata: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Bonjour 👋\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" le monde\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    const JSON: &str = "application/json";
    const SSE: &str = "text/event-stream";
    const CLAUDE: &str = "claude-sonnet-4-20250514";

    /// Feeds `pieces` to a fresh tap, all seen 42 ms after the request arrived.
    fn run<'a>(content_type: &str, pieces: impl IntoIterator<Item = &'a [u8]>) -> Option<LlmUsage> {
        let started = Instant::now();
        let mut tap = LlmTap::for_response(Some(content_type), started).expect("tap");
        for piece in pieces {
            tap.observe_at(piece, started + Duration::from_millis(42));
        }
        tap.finish()
    }

    /// The expected result: `first_token_us` 42 ms for streams.
    fn usage(model: &str, input: u64, output: Option<u64>, streamed: bool) -> Option<LlmUsage> {
        let (input_tokens, first_token_us) = (Some(input), streamed.then_some(42_000));
        let model = model.to_string();
        Some(LlmUsage {
            model,
            input_tokens,
            output_tokens: output,
            streamed,
            first_token_us,
        })
    }

    /// The result of feeding `body` whole, after checking every way of splitting it gives the same.
    fn run_all_splits(content_type: &str, body: &[u8]) -> Option<LlmUsage> {
        let whole = run(content_type, [body]);
        for at in 0..=body.len() {
            let (head, tail) = body.split_at(at);
            assert_eq!(run(content_type, [head, tail]), whole, "split at {at}");
        }
        assert_eq!(run(content_type, body.chunks(1)), whole, "byte by byte");
        whole
    }

    #[test]
    fn content_types() {
        let now = Instant::now();
        let yes = [
            JSON,
            "Application/JSON; charset=utf-8",
            "application/vnd.api+json",
        ];
        for content_type in yes.into_iter().chain([" text/event-stream ;charset=UTF-8"]) {
            assert!(
                LlmTap::for_response(Some(content_type), now).is_some(),
                "{content_type}"
            );
        }
        let no = [
            "text/html",
            "text/plain",
            "application/x-ndjson",
            "application/json5",
        ];
        for content_type in no.into_iter().chain(["json", "", "application/+jsoné"]) {
            assert!(
                LlmTap::for_response(Some(content_type), now).is_none(),
                "{content_type}"
            );
        }
        assert!(LlmTap::for_response(None, now).is_none());
    }

    #[test]
    fn json_bodies() {
        let cases = [
            (CHAT_JSON, usage("gpt-4o-2024-08-06", 1117, Some(46), false)),
            (
                EMBEDDINGS_JSON,
                usage("text-embedding-3-small", 5, None, false),
            ),
            (
                RESPONSES_JSON,
                usage("gpt-4.1-2025-04-14", 36, Some(87), false),
            ),
            (ANTHROPIC_JSON, usage(CLAUDE, 3195, Some(503), false)),
        ];
        for (body, expected) in cases {
            assert_eq!(run_all_splits(JSON, body.as_bytes()), expected);
        }
    }

    #[test]
    fn openai_and_anthropic_streams() {
        let expected = usage("gpt-4o-mini-2024-07-18", 19, Some(3), true);
        assert_eq!(run_all_splits(SSE, OPENAI_SSE.as_bytes()), expected);
        let expected = usage(CLAUDE, 35, Some(15), true);
        assert_eq!(run_all_splits(SSE, ANTHROPIC_SSE.as_bytes()), expected);
    }

    #[test]
    fn crlf_and_cr_line_endings() {
        for stream in [OPENAI_SSE, ANTHROPIC_SSE] {
            let lf = run(SSE, [stream.as_bytes()]);
            assert!(lf.is_some());
            for line_end in ["\r\n", "\r"] {
                let body = stream.replace('\n', line_end);
                assert_eq!(run_all_splits(SSE, body.as_bytes()), lf);
            }
        }
    }

    #[test]
    fn responses_api_stream() {
        let stream = concat!(
            "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\",\"model\":\"gpt-4.1\",\"usage\":null}}\n\n",
            "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hi\"}\n\n",
            "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",\"model\":\"gpt-4.1\",\"usage\":{\"input_tokens\":12,\"output_tokens\":5,\"total_tokens\":17}}}\n\n",
        );
        assert_eq!(
            run_all_splits(SSE, stream.as_bytes()),
            usage("gpt-4.1", 12, Some(5), true)
        );
    }

    #[test]
    fn multi_line_data_without_space_and_unterminated_last_event() {
        let stream = "id: 7\nretry: 100\ndata:{\"model\":\"m1\",\ndata: \"choices\":[{\"text\":\"x\"}],\ndata:\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}";
        let expected = usage("m1", 1, Some(2), true).map(|u| LlmUsage {
            first_token_us: None,
            ..u
        });
        assert_eq!(run_all_splits(SSE, stream.as_bytes()), expected);
    }

    #[test]
    fn first_token_time_skips_role_only_chunk() {
        let started = Instant::now();
        for (stream, content_event) in [(OPENAI_SSE, 1), (ANTHROPIC_SSE, 3)] {
            let mut tap = LlmTap::for_response(Some(SSE), started).expect("tap");
            for (i, event) in stream.split_inclusive("\n\n").enumerate() {
                let ms = if i < content_event { 5 + i } else { 250 + i };
                tap.observe_at(event.as_bytes(), started + Duration::from_millis(ms as u64));
            }
            let first = tap.finish().and_then(|found| found.first_token_us);
            assert_eq!(first, Some((250 + content_event as u64) * 1000));
        }
    }

    #[test]
    fn first_token_from_reasoning_or_tool_calls() {
        let role = "data: {\"model\":\"m\",\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":null}}]}\n\n";
        for delta in [
            r#"{"reasoning_content":"Let me think"}"#,
            r#"{"content":null,"tool_calls":[{"index":0,"id":"call_1","function":{"name":"f"}}]}"#,
            r#"{"content":[{"type":"text","text":"Hi"}]}"#,
        ] {
            let event =
                format!("data: {{\"model\":\"m\",\"choices\":[{{\"delta\":{delta}}}]}}\n\n");
            let started = Instant::now();
            let mut tap = LlmTap::for_response(Some(SSE), started).expect("tap");
            tap.observe_at(role.as_bytes(), started + Duration::from_millis(1));
            tap.observe_at(event.as_bytes(), started + Duration::from_millis(2));
            assert_eq!(
                tap.finish().and_then(|u| u.first_token_us),
                Some(2000),
                "{delta}"
            );
        }
    }

    #[test]
    fn stream_cut_short_keeps_what_was_seen() {
        let cut = ANTHROPIC_SSE
            .find("\"usage\":{\"output_tokens\":15")
            .expect("fixture");
        let expected = usage(CLAUDE, 35, Some(1), true);
        assert_eq!(run(SSE, [&ANTHROPIC_SSE.as_bytes()[..cut]]), expected);
    }

    fn assert_bounded(tap: &LlmTap) {
        match &tap.mode {
            Mode::Sse(sse) => {
                assert!(sse.line.len() + sse.data.len() <= MAX_SSE_EVENT);
                assert!(sse.line.capacity().max(sse.data.capacity()) <= MAX_SSE_EVENT);
            }
            Mode::Json(body) => {
                assert!(
                    body.as_ref()
                        .is_none_or(|buf| buf.capacity() <= MAX_JSON_BODY)
                );
            }
        }
    }

    #[test]
    fn over_long_sse_event_is_skipped() {
        let delta_at = ANTHROPIC_SSE
            .find("event: content_block_delta")
            .expect("fixture");
        let (start, rest) = ANTHROPIC_SSE.split_at(delta_at);
        let text = "x".repeat(MAX_SSE_EVENT);
        let huge = format!("data: {{\"type\":\"content_block_delta\",\"text\":\"{text}\"}}\n\n");
        let endless = "y".repeat(3 * MAX_SSE_EVENT);
        let never_ends = format!("{endless}\r\rdata: [DONE]\n\n");
        for junk in [huge, format!("data: {endless}\r\n\r\n"), never_ends] {
            let stream = [start, &junk, rest].concat();
            let started = Instant::now();
            let mut tap = LlmTap::for_response(Some(SSE), started).expect("tap");
            for piece in stream.as_bytes().chunks(4096) {
                tap.observe_at(piece, started + Duration::from_millis(42));
                assert_bounded(&tap);
            }
            assert_eq!(tap.finish(), usage(CLAUDE, 35, Some(15), true));
        }
    }

    #[test]
    fn oversized_json_is_dropped() {
        let padding = " ".repeat(MAX_JSON_BODY);
        let body = format!("{CHAT_JSON}{padding}");
        let mut tap = LlmTap::for_response(Some(JSON), Instant::now()).expect("tap");
        for piece in body.as_bytes().chunks(64 * 1024) {
            tap.observe(piece);
            assert_bounded(&tap);
        }
        assert!(matches!(tap.mode, Mode::Json(None)));
        assert_eq!(tap.finish(), None);
        let exactly_max = format!("{CHAT_JSON}{}", &padding[CHAT_JSON.len()..]);
        assert!(run(JSON, [exactly_max.as_bytes()]).is_some());
    }

    #[test]
    fn garbage_never_panics() {
        let alphabet = b"data: {\"model\":\"usage\"delta\r\n\xff\xfe\xc3}[]:0";
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut noise = Vec::new();
        for _ in 0..20_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            noise.push(alphabet[(seed >> 33) as usize % alphabet.len()]);
        }
        let bad_utf8: &[u8] =
            b"data: {\"model\":\"gpt-\xc3\"}\n\ndata: {\"model\":\"\xf0\x9f\"}\n\n";
        for body in [
            &noise[..],
            bad_utf8,
            b"\xff\xff\r\r\n\n\x00",
            b"",
            b"not json",
        ] {
            for content_type in [JSON, SSE] {
                assert_eq!(run(content_type, [body]), None);
                assert_eq!(run(content_type, body.chunks(7)), None);
            }
        }
    }
}
