//! The pages' resources: loaded on the server, sent to the browser inside the page as JSON and
//! decoded there from bytes — the same decoder server functions use for their answers — so each
//! data type's JSON deserializer is compiled into the WASM client once instead of twice.

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;

/// JSON, written as text and read from its bytes (see the module docs).
pub struct BytesJson;

impl<T: Serialize> Encoder<T> for BytesJson {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, Self::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for BytesJson {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(text: &str) -> Result<T, Self::Error> {
        serde_json::from_slice(text.as_bytes())
    }
}

/// A page resource: `fetcher` runs on the server for the first render and again in the browser
/// whenever `source` changes.
pub fn page_resource<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Resource<T, BytesJson>
where
    S: PartialEq + Clone + Send + Sync + 'static,
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}
