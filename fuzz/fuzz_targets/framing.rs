//! Every framing codec, decoded whole and in chunks: the two must give the
//! same frames and the same error (and a line codec's `drain_lines` the same
//! lines), every frame must survive an encode and decode round trip, and a
//! declared length must cost no allocation of its size before its bytes
//! arrive, over the max or under a huge one (libFuzzer's `-malloc_limit_mb`
//! catches that).
//!
//! Input: `[framing] [max] [chunk seed] stream...`.

#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use protocol_runtime::codec::{FrameError, LengthCodec, LineCodec};
use protocol_runtime::layout::LengthPrefix;
use protospec_fuzz::Chunks;
use tokio_util::codec::{Decoder, Encoder};

#[derive(Clone)]
enum Codec {
    Line(LineCodec),
    Length(LengthCodec),
}

/// Line delimiters: the common ones, a long one, an odd single byte, and one
/// that overlaps itself ("aab" inside "aaab") to test scans that resume.
const DELIMITERS: [&[u8]; 6] = [b"\r\n", b"\n", b"\r\n\r\n", b"\0", b"|", b"aab"];

const PREFIXES: [LengthPrefix; 8] = [
    LengthPrefix::U8,
    LengthPrefix::U16Be,
    LengthPrefix::U16Le,
    LengthPrefix::U32Be,
    LengthPrefix::U32Le,
    LengthPrefix::U64Be,
    LengthPrefix::U64Le,
    LengthPrefix::Varint,
];

impl Codec {
    fn pick(which: u8, max: usize) -> Codec {
        let which = which as usize % (DELIMITERS.len() + PREFIXES.len());
        match DELIMITERS.get(which) {
            Some(d) => Codec::Line(LineCodec::new(d.to_vec(), max)),
            None => Codec::Length(LengthCodec::new(PREFIXES[which - DELIMITERS.len()], max)),
        }
    }

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        match self {
            Codec::Line(c) => c.decode(buf),
            Codec::Length(c) => c.decode(buf),
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        match self {
            Codec::Line(c) => c.decode_eof(buf),
            Codec::Length(c) => c.decode_eof(buf),
        }
    }

    fn encode(&mut self, frame: &Bytes, out: &mut BytesMut) -> Result<(), FrameError> {
        match self {
            Codec::Line(c) => c.encode(frame, out),
            Codec::Length(c) => c.encode(frame, out),
        }
    }
}

/// What a decoder made of a stream: its frames, then how it stopped.
#[derive(Debug, PartialEq)]
struct Outcome {
    frames: Vec<Bytes>,
    end: Option<End>,
}

/// The error that ended decoding, comparable (`FrameError` is not
/// `PartialEq`, and formatting it for every input halves the rate).
#[derive(Debug, PartialEq)]
enum End {
    LineTooLong {
        max: usize,
    },
    LengthTooLong {
        len: u64,
        max: usize,
    },
    BadVarint,
    /// Bytes left at the end of the stream (tokio-util's `decode_eof`).
    Io(std::io::ErrorKind),
    Other(String),
}

impl From<FrameError> for End {
    fn from(e: FrameError) -> End {
        match e {
            FrameError::LineTooLong { max } => End::LineTooLong { max },
            FrameError::LengthTooLong { len, max } => End::LengthTooLong { len, max },
            FrameError::BadVarint => End::BadVarint,
            FrameError::Io(e) => End::Io(e.kind()),
            e => End::Other(e.to_string()),
        }
    }
}

/// Small maxes (0 included) hit the over-max paths often; larger ones let
/// several frames through, and stay below the 512 bytes of `-max_len` so
/// that a line can still run past them. The two largest are maxes a stream
/// cannot reach, under which the declared length alone decides what the
/// decoder reserves and adds.
fn max_of(b: u8) -> usize {
    match b {
        255 => usize::MAX,
        254 => 1 << 30,
        0..64 => b as usize,
        _ => 64 + (b as usize - 64) * 2,
    }
}

fn run(mut codec: Codec, chunks: impl Iterator<Item = impl AsRef<[u8]>>) -> Outcome {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk.as_ref());
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => {
                    return Outcome {
                        frames,
                        end: Some(e.into()),
                    }
                }
            }
        }
    }
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => return Outcome { frames, end: None },
            Err(e) => {
                return Outcome {
                    frames,
                    end: Some(e.into()),
                }
            }
        }
    }
}

/// `LineCodec::drain_lines` over the same chunks. It has no end-of-stream
/// step: a partial line at the end simply stays buffered.
fn drain(mut codec: LineCodec, chunks: impl Iterator<Item = impl AsRef<[u8]>>) -> Outcome {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk.as_ref());
        if let Err(e) = codec.drain_lines(&mut buf, |l| frames.push(Bytes::copy_from_slice(l))) {
            return Outcome {
                frames,
                end: Some(e.into()),
            };
        }
    }
    Outcome { frames, end: None }
}

fuzz_target!(|data: &[u8]| {
    let [which, max, seed, stream @ ..] = data else {
        return;
    };
    let max = max_of(*max);
    let codec = Codec::pick(*which, max);

    let whole = run(codec.clone(), std::iter::once(stream));
    let chunked = run(codec.clone(), Chunks::new(stream, *seed));
    assert_eq!(whole, chunked, "decoding in chunks differs from decoding whole");

    if let Codec::Line(line) = &codec {
        let drained = drain(line.clone(), Chunks::new(stream, *seed));
        assert_eq!(
            drained.frames, whole.frames,
            "drain_lines gives other lines than decode"
        );
        // `decode_eof`'s complaint about bytes left over has no counterpart.
        let want = whole.end.as_ref().filter(|e| !matches!(e, End::Io(_)));
        assert_eq!(
            drained.end.as_ref(),
            want,
            "drain_lines ends otherwise than decode"
        );
    }

    let mut codec = codec;
    let mut out = BytesMut::new();
    for frame in &whole.frames {
        assert!(
            frame.len() <= max,
            "a frame of {} bytes passed a max of {max}",
            frame.len()
        );
        codec
            .encode(frame, &mut out)
            .unwrap_or_else(|e| panic!("a decoded frame does not encode: {e}"));
        let again = codec.decode(&mut out).expect("an encoded frame decodes");
        assert_eq!(again.as_ref(), Some(frame), "round trip changed the frame");
        assert!(out.is_empty(), "round trip left {} bytes", out.len());
    }
});
