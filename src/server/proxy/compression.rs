//! Response compression on proxied routes (`compression` in a route's config): whether a
//! response is compressed and with what ([`negotiate`]: the client's `Accept-Encoding` with its
//! q-values, the route's algorithms, the response's type, size and encoding), and the streaming
//! encoder that does it ([`encoder`]), driven by the response body as it is relayed.
//!
//! Never compressed: responses already encoded, partial content (ranges), `text/event-stream`
//! (an event must reach the client when it is sent), types that do not compress (only text,
//! JSON, XML, JavaScript, SVG and WASM do), `Cache-Control: no-transform`, HEAD answers and
//! bodies below `min_bytes` by their Content-Length. Nothing is buffered whole: each upstream
//! chunk is compressed as it arrives, and what was compressed is flushed to the client whenever
//! the upstream pauses.

pub mod encoder;
pub mod negotiate;

pub use encoder::CompressedFrames;
pub use negotiate::{RequestEncodingFacts, negotiate_compression};
