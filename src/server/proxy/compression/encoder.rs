//! A response body compressed as it streams: [`CompressedFrames`] pulls the body's frames,
//! shows each uncompressed chunk to an observer (the LLM tap reads the answer as the upstream
//! sent it), compresses it with async-compression's codecs, and hands out compressed frames —
//! when enough output has gathered, and, flushed, whenever the body has nothing more ready, so a
//! slow upstream's bytes reach the client without waiting for the rest. Memory is bounded by one
//! upstream chunk's output plus the codec's window.

use crate::server::config::Encoding;
use async_compression::Level;
use async_compression::codecs::{BrotliEncoder, EncodeV2, GzipEncoder, ZstdEncoder};
use async_compression::core::util::{PartialBuffer, WriteBuffer};
use bytes::Bytes;
use http_body::{Body, Frame};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Output room made for each codec call.
const OUTPUT_STEP: usize = 16 * 1024;
/// Compressed output handed out as soon as this much has gathered.
const SEND_AT: usize = 16 * 1024;
/// Input compressed before output is flushed out even though the body has more ready (a body
/// that compresses very well must still reach the client in steps).
const FLUSH_AFTER_INPUT: usize = 256 * 1024;

/// Quality levels for compressing on the fly: fast, most of the ratio.
const GZIP_LEVEL: i32 = 6;
const BROTLI_LEVEL: i32 = 4;
const ZSTD_LEVEL: i32 = 3;

enum Codec {
    Gzip(GzipEncoder),
    Brotli(Box<BrotliEncoder>),
    Zstd(ZstdEncoder),
}

impl Codec {
    fn new(encoding: Encoding) -> Self {
        match encoding {
            Encoding::Gzip => Self::Gzip(GzipEncoder::new(Level::Precise(GZIP_LEVEL).into())),
            Encoding::Brotli => Self::Brotli(Box::new(BrotliEncoder::new(
                async_compression::brotli::EncoderParams::default()
                    .quality(Level::Precise(BROTLI_LEVEL)),
            ))),
            Encoding::Zstd => Self::Zstd(ZstdEncoder::new(
                async_compression::zstd::CParameter::quality(Level::Precise(ZSTD_LEVEL)),
            )),
        }
    }

    fn get(&mut self) -> &mut dyn EncodeV2 {
        match self {
            Self::Gzip(codec) => codec,
            Self::Brotli(codec) => codec.as_mut(),
            Self::Zstd(codec) => codec,
        }
    }
}

/// Where the compression stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Taking the body's chunks.
    Reading,
    /// The body has ended: the codec's end is being written out.
    Finishing,
    /// Everything was handed out.
    Done,
}

/// A body's frames, compressed.
pub struct CompressedFrames {
    codec: Codec,
    /// Compressed bytes not handed out yet.
    output: Vec<u8>,
    /// Input given to the codec since output was last flushed.
    unflushed: usize,
    state: State,
}

impl std::fmt::Debug for CompressedFrames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompressedFrames")
            .field("state", &self.state)
            .field("pending", &self.output.len())
            .finish()
    }
}

impl CompressedFrames {
    /// Compresses with `encoding`.
    pub fn new(encoding: Encoding) -> Self {
        Self {
            codec: Codec::new(encoding),
            output: Vec::new(),
            unflushed: 0,
            state: State::Reading,
        }
    }

    /// Everything was handed out.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The next compressed frame of `body`; `observe` sees every uncompressed chunk taken.
    pub fn poll_frame<B>(
        &mut self,
        mut body: Pin<&mut B>,
        cx: &mut Context<'_>,
        mut observe: impl FnMut(&Bytes),
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>>
    where
        B: Body<Data = Bytes>,
        B::Error: From<io::Error>,
    {
        loop {
            match self.state {
                State::Done => return Poll::Ready(None),
                State::Finishing => {
                    self.run(|codec, output| codec.finish(output))?;
                    self.state = State::Done;
                    return Poll::Ready(self.take().map(|data| Ok(Frame::data(data))));
                }
                State::Reading => {}
            }
            match body.as_mut().poll_frame(cx) {
                Poll::Pending => {
                    // The body has nothing more ready: what was compressed goes out now.
                    if self.unflushed > 0 {
                        self.run(|codec, output| codec.flush(output))?;
                        self.unflushed = 0;
                    }
                    return match self.take() {
                        Some(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                        None => Poll::Pending,
                    };
                }
                Poll::Ready(None) => self.state = State::Finishing,
                Poll::Ready(Some(Err(error))) => {
                    self.state = State::Done;
                    return Poll::Ready(Some(Err(error)));
                }
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        // Trailers: an upstream's are not forwarded through a compressed body.
                        continue;
                    };
                    observe(&data);
                    self.encode(&data)?;
                    if self.unflushed >= FLUSH_AFTER_INPUT {
                        self.run(|codec, output| codec.flush(output))?;
                        self.unflushed = 0;
                    }
                    if (self.output.len() >= SEND_AT
                        || (self.unflushed == 0 && !self.output.is_empty()))
                        && let Some(data) = self.take()
                    {
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
            }
        }
    }

    fn encode(&mut self, data: &[u8]) -> io::Result<()> {
        let mut input = PartialBuffer::new(data);
        while !input.unwritten().is_empty() {
            self.run_once(|codec, output| codec.encode(&mut input, output))?;
        }
        self.unflushed += data.len();
        Ok(())
    }

    /// Calls `step` (a flush or finish) until it reports that it is complete.
    fn run(
        &mut self,
        mut step: impl FnMut(&mut dyn EncodeV2, &mut WriteBuffer<'_>) -> io::Result<bool>,
    ) -> io::Result<()> {
        while !self.run_once(&mut step)? {}
        Ok(())
    }

    /// Calls `step` once with [`OUTPUT_STEP`] bytes of room after the pending output.
    fn run_once<R>(
        &mut self,
        step: impl FnOnce(&mut dyn EncodeV2, &mut WriteBuffer<'_>) -> io::Result<R>,
    ) -> io::Result<R> {
        let start = self.output.len();
        self.output.resize(start + OUTPUT_STEP, 0);
        let mut room = WriteBuffer::new_initialized(&mut self.output[start..]);
        let result = step(self.codec.get(), &mut room);
        let written = room.written_len();
        self.output.truncate(start + written);
        result
    }

    /// The pending output, taken.
    fn take(&mut self) -> Option<Bytes> {
        (!self.output.is_empty()).then(|| Bytes::from(std::mem::take(&mut self.output)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};
    use std::convert::Infallible;

    type TestError = Box<dyn std::error::Error + Send + Sync>;

    /// A body yielding `chunks`, then ending.
    fn body(chunks: Vec<Vec<u8>>) -> impl Body<Data = Bytes, Error = TestError> {
        let frames = chunks
            .into_iter()
            .map(|chunk| Ok::<_, Infallible>(Frame::data(Bytes::from(chunk))));
        StreamBody::new(futures_util::stream::iter(frames)).map_err(|never| match never {})
    }

    fn compress(encoding: Encoding, chunks: Vec<Vec<u8>>) -> (Vec<u8>, usize) {
        let mut frames = CompressedFrames::new(encoding);
        let mut inner = std::pin::pin!(body(chunks));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut out = Vec::new();
        let mut seen = 0;
        loop {
            match frames.poll_frame(inner.as_mut(), &mut cx, |data| seen += data.len()) {
                Poll::Ready(Some(Ok(frame))) => out.extend_from_slice(&frame.into_data().unwrap()),
                Poll::Ready(None) => break,
                Poll::Ready(Some(Err(error))) => panic!("{error}"),
                Poll::Pending => panic!("a ready body never waits"),
            }
        }
        assert!(frames.is_done());
        (out, seen)
    }

    fn decompress(encoding: Encoding, data: &[u8]) -> Vec<u8> {
        use async_compression::codecs::{BrotliDecoder, Decode, GzipDecoder, ZstdDecoder};
        let mut output = vec![0u8; 4 << 20];
        let mut input = PartialBuffer::new(data);
        let mut out = PartialBuffer::new(&mut output[..]);
        /// One decoding step: input to output, true once the stream is done.
        type Step<'d> =
            dyn FnMut(&mut PartialBuffer<&[u8]>, &mut PartialBuffer<&mut [u8]>) -> bool + 'd;
        let mut decode = |decoder: &mut Step<'_>| while !decoder(&mut input, &mut out) {};
        match encoding {
            Encoding::Gzip => {
                let mut d = GzipDecoder::new();
                decode(&mut |i, o| d.decode(i, o).unwrap());
            }
            Encoding::Brotli => {
                let mut d = BrotliDecoder::new();
                decode(&mut |i, o| d.decode(i, o).unwrap());
            }
            Encoding::Zstd => {
                let mut d = ZstdDecoder::new();
                decode(&mut |i, o| d.decode(i, o).unwrap());
            }
        }
        let written = out.written_len();
        output.truncate(written);
        output
    }

    #[test]
    fn every_encoding_round_trips_and_the_observer_sees_the_plain_chunks() {
        let text: Vec<u8> = b"streamed text compresses well. ".repeat(20_000);
        let chunks: Vec<Vec<u8>> = text.chunks(7_000).map(<[u8]>::to_vec).collect();
        for encoding in Encoding::ALL {
            let (compressed, seen) = compress(encoding, chunks.clone());
            assert_eq!(seen, text.len(), "{encoding:?}");
            assert!(
                compressed.len() < text.len() / 20,
                "{encoding:?}: {}",
                compressed.len()
            );
            assert_eq!(decompress(encoding, &compressed), text, "{encoding:?}");
        }
    }

    #[test]
    fn an_empty_body_is_a_complete_empty_stream() {
        for encoding in Encoding::ALL {
            let (compressed, _) = compress(encoding, Vec::new());
            assert!(decompress(encoding, &compressed).is_empty(), "{encoding:?}");
        }
    }
}
