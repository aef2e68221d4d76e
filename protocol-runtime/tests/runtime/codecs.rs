//! The plain framing codecs, on their own and in `tokio_util`'s `Framed`
//! over an in-memory duplex.

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use protocol_runtime::codec::{peek_length, FrameError, LengthCodec, LineCodec};
use protocol_runtime::layout::LengthPrefix;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{Decoder, Encoder, Framed, FramedRead};

const MIB: usize = 1024 * 1024;

/// Writes `wire` into a duplex of `capacity` bytes (1: every read gets one
/// byte) and collects what a `Framed` reader makes of it.
async fn read_frames<C>(codec: C, wire: &[u8], capacity: usize) -> Vec<Result<Bytes, String>>
where
    C: Decoder<Item = Bytes, Error = FrameError>,
{
    let (mut tx, rx) = tokio::io::duplex(capacity);
    let wire = wire.to_vec();
    let writer = tokio::spawn(async move {
        // The reader may stop at an error: a broken pipe is fine then.
        let _ = tx.write_all(&wire).await;
    });
    let mut framed = FramedRead::new(rx, codec);
    let mut frames = Vec::new();
    while let Some(frame) = framed.next().await {
        let stop = frame.is_err();
        frames.push(frame.map_err(|e| e.to_string()));
        if stop {
            break;
        }
    }
    drop(framed);
    writer.await.unwrap();
    frames
}

/// Decodes `wire` cut at one point, sans IO.
fn decode_split<C>(mut codec: C, wire: &[u8], cut: usize) -> Vec<Bytes>
where
    C: Decoder<Item = Bytes, Error = FrameError>,
{
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for part in [&wire[..cut], &wire[cut..]] {
        buf.extend_from_slice(part);
        while let Some(f) = codec.decode(&mut buf).unwrap() {
            frames.push(f);
        }
    }
    assert!(buf.is_empty(), "cut at {cut}: {:?} left", buf);
    frames
}

fn ok(frames: &[&[u8]]) -> Vec<Result<Bytes, String>> {
    frames.iter().map(|f| Ok(Bytes::copy_from_slice(f))).collect()
}

type Bytestr = &'static [u8];

/// (delimiter, wire, the lines in it)
fn line_cases() -> Vec<(Bytestr, Bytestr, Vec<Bytestr>)> {
    vec![
        (
            b"\r\n",
            b"GET a\r\n\r\nline with \r alone and \n too\r\nends in cr\r\r\n",
            vec![b"GET a", b"", b"line with \r alone and \n too", b"ends in cr\r"],
        ),
        (b"\n", b"a\nb\r\n\n", vec![b"a", b"b\r", b""]),
        (b"\r", b"a\rb\n\r\r", vec![b"a", b"b\n", b""]),
        (b"||", b"one||two|three||||", vec![b"one", b"two|three", b""]),
        (b"\0END\0", b"x\0EN\0END\0\0END\0", vec![b"x\0EN", b""]),
    ]
}

#[tokio::test]
async fn lines_with_any_delimiter_whole_and_one_byte_per_read() {
    for (delim, wire, lines) in line_cases() {
        for capacity in [64 * 1024, 1, 2, 3] {
            assert_eq!(
                read_frames(LineCodec::new(delim, 64), wire, capacity).await,
                ok(&lines),
                "delimiter {:?}, reads of {capacity} bytes",
                delim.escape_ascii().to_string()
            );
        }
    }
}

#[test]
fn lines_split_at_every_point() {
    for (delim, wire, lines) in line_cases() {
        for cut in 0..=wire.len() {
            assert_eq!(
                decode_split(LineCodec::new(delim, 64), wire, cut),
                lines,
                "delimiter {:?}, cut at {cut}",
                delim.escape_ascii().to_string()
            );
        }
    }
}

/// A CRLF line that drips in one byte per read comes out once, whole.
#[tokio::test]
async fn a_crlf_line_fed_one_byte_at_a_time() {
    let (mut tx, rx) = tokio::io::duplex(1);
    let mut framed = FramedRead::new(rx, LineCodec::crlf(256));
    let writer = tokio::spawn(async move {
        for &b in b"VALUE k 0 5\r\n" {
            tx.write_all(&[b]).await.unwrap();
            tokio::task::yield_now().await;
        }
        tx
    });
    assert_eq!(
        framed.next().await.unwrap().unwrap(),
        Bytes::from_static(b"VALUE k 0 5")
    );
    drop(writer.await.unwrap());
    assert!(framed.next().await.is_none(), "nothing after the line");
}

/// The "||" delimiter arrives in two reads: the scan resumes where it stopped
/// and still finds it.
#[tokio::test(start_paused = true)]
async fn a_delimiter_split_across_reads() {
    let (mut tx, rx) = tokio::io::duplex(1024);
    let mut framed = FramedRead::new(rx, LineCodec::new("||", 64));
    tx.write_all(b"first|").await.unwrap();
    let pending = tokio::time::timeout(std::time::Duration::from_millis(50), framed.next()).await;
    assert!(pending.is_err(), "a line came out before its delimiter was whole");
    tx.write_all(b"|second").await.unwrap();
    assert_eq!(
        framed.next().await.unwrap().unwrap(),
        Bytes::from_static(b"first")
    );
    tx.write_all(b"||").await.unwrap();
    assert_eq!(
        framed.next().await.unwrap().unwrap(),
        Bytes::from_static(b"second")
    );
}

#[tokio::test]
async fn lines_written_through_framed() {
    let (a, mut b) = tokio::io::duplex(1024);
    let mut framed = Framed::new(a, LineCodec::new("||", 8));
    framed.send(Bytes::from_static(b"one")).await.unwrap();
    framed.send(Bytes::from_static(b"")).await.unwrap();
    framed.send(Bytes::from_static(b"8 bytes!")).await.unwrap();
    for bad in [&b"nine bytes"[..], b"a||b", b"ends|", b"|"] {
        let err = framed.send(Bytes::copy_from_slice(bad)).await.unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::EncodeTooLong { len: 10, max: 8 } | FrameError::EncodeDelimiter
            ),
            "{:?}: {err:?}",
            bad.escape_ascii().to_string()
        );
    }
    drop(framed);
    let mut wire = Vec::new();
    b.read_to_end(&mut wire).await.unwrap();
    assert_eq!(wire, b"one||||8 bytes!||");
}

#[test]
fn a_line_over_the_max_is_an_error_as_soon_as_it_must_be() {
    let mut codec = LineCodec::crlf(8);
    // Exactly the max is fine.
    let mut buf = BytesMut::from(&b"12345678\r\n"[..]);
    assert_eq!(
        codec.decode(&mut buf).unwrap().unwrap(),
        Bytes::from_static(b"12345678")
    );
    // Nine bytes could still be eight and a CR.
    let mut buf = BytesMut::from(&b"12345678\r"[..]);
    assert_eq!(codec.decode(&mut buf).unwrap(), None);
    buf.put_u8(b'\n');
    assert_eq!(
        codec.decode(&mut buf).unwrap().unwrap(),
        Bytes::from_static(b"12345678")
    );
    // Ten bytes without the delimiter cannot be a line of eight.
    let mut codec = LineCodec::crlf(8);
    let mut buf = BytesMut::from(&b"123456789"[..]);
    assert_eq!(codec.decode(&mut buf).unwrap(), None);
    buf.put_u8(b'0');
    assert!(matches!(
        codec.decode(&mut buf),
        Err(FrameError::LineTooLong { max: 8 })
    ));
}

#[test]
fn drained_lines_are_borrowed_and_a_partial_line_stays() {
    let mut codec = LineCodec::crlf(8);
    let mut buf = BytesMut::from(&b"one\r\n\r\ntwo\r\nthr"[..]);
    let mut seen = Vec::new();
    let n = codec.drain_lines(&mut buf, |l| seen.push(l.to_vec())).unwrap();
    assert_eq!(n, 3);
    assert_eq!(seen, [&b"one"[..], b"", b"two"]);
    assert_eq!(&buf[..], b"thr");
    buf.put_slice(b"ee\r");
    assert_eq!(codec.drain_lines(&mut buf, |_| panic!("no line yet")).unwrap(), 0);
    buf.put_slice(b"\n123456789\r\n");
    seen.clear();
    let err = codec.drain_lines(&mut buf, |l| seen.push(l.to_vec()));
    assert!(matches!(err, Err(FrameError::LineTooLong { max: 8 })), "{err:?}");
    // The line before the long one was given and taken off; the rest stays.
    assert_eq!(seen, [&b"three"[..]]);
    assert_eq!(&buf[..], b"123456789\r\n");
}

/// How a reader sees a wire fed in chunks: the lines, then whether it
/// ended in an over-long line.
fn lines_by<F>(wire: &[u8], chunks: &[usize], mut step: F) -> (Vec<Vec<u8>>, bool)
where
    F: FnMut(&mut BytesMut, &mut Vec<Vec<u8>>) -> Result<(), FrameError>,
{
    let (mut buf, mut lines, mut at) = (BytesMut::new(), Vec::new(), 0usize);
    for &n in chunks.iter().chain(std::iter::repeat(&usize::MAX)) {
        let end = at.saturating_add(n.max(1)).min(wire.len());
        buf.put_slice(&wire[at..end]);
        at = end;
        if step(&mut buf, &mut lines).is_err() {
            return (lines, true);
        }
        if at == wire.len() {
            return (lines, false);
        }
    }
    unreachable!("the chunks repeat without end")
}

proptest::proptest! {
    /// Draining borrowed lines sees exactly what decoding one `Bytes` per
    /// line sees, over any bytes (a small alphabet, so delimiters, partial
    /// delimiters and over-long lines are common) fed in any chunks.
    #[test]
    fn drained_lines_agree_with_decoded_lines(
        wire in proptest::collection::vec(proptest::sample::select(&b"ab\r\n|"[..]), 0..200),
        chunks in proptest::collection::vec(1usize..20, 1..20),
        delimiter in proptest::sample::select(vec![&b"\r\n"[..], b"\n", b"||", b"\r\n\r\n"]),
        max in 0usize..12,
    ) {
        let mut decoder = LineCodec::new(delimiter, max);
        let decoded = lines_by(&wire, &chunks, |buf, lines| {
            while let Some(line) = decoder.decode(buf)? {
                lines.push(line.to_vec());
            }
            Ok(())
        });
        let mut drainer = LineCodec::new(delimiter, max);
        let drained = lines_by(&wire, &chunks, |buf, lines| {
            drainer.drain_lines(buf, |l| lines.push(l.to_vec())).map(|_| ())
        });
        proptest::prop_assert_eq!(drained, decoded);
    }
}

#[tokio::test]
async fn a_line_over_the_max_in_framed() {
    let frames = read_frames(LineCodec::crlf(8), b"short\r\nmuch too long for it\r\n", 1).await;
    assert_eq!(
        frames,
        vec![
            Ok(Bytes::from_static(b"short")),
            Err("line exceeds 8 bytes without a delimiter".to_string())
        ]
    );
}

/// (prefix, "hi" framed, a 300-byte payload framed or `None` if too long)
fn length_cases() -> Vec<(LengthPrefix, Bytestr, Option<Bytestr>)> {
    vec![
        (LengthPrefix::U8, b"\x02hi", None),
        (LengthPrefix::U16Be, b"\x00\x02hi", Some(b"\x01\x2c")),
        (LengthPrefix::U16Le, b"\x02\x00hi", Some(b"\x2c\x01")),
        (
            LengthPrefix::U32Be,
            b"\x00\x00\x00\x02hi",
            Some(b"\x00\x00\x01\x2c"),
        ),
        (
            LengthPrefix::U32Le,
            b"\x02\x00\x00\x00hi",
            Some(b"\x2c\x01\x00\x00"),
        ),
        (
            LengthPrefix::U64Be,
            b"\x00\x00\x00\x00\x00\x00\x00\x02hi",
            Some(b"\x00\x00\x00\x00\x00\x00\x01\x2c"),
        ),
        (
            LengthPrefix::U64Le,
            b"\x02\x00\x00\x00\x00\x00\x00\x00hi",
            Some(b"\x2c\x01\x00\x00\x00\x00\x00\x00"),
        ),
        (LengthPrefix::Varint, b"\x02hi", Some(b"\xac\x02")),
    ]
}

#[tokio::test]
async fn length_prefixes_encode_to_fixed_bytes_and_decode_back() {
    let long: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    for (prefix, hi, long_prefix) in length_cases() {
        let mut codec = LengthCodec::new(prefix, 1024);
        let mut wire = BytesMut::new();
        codec.encode(b"hi", &mut wire).unwrap();
        assert_eq!(&wire[..], hi, "{}", prefix.name());
        codec.encode(b"", &mut wire).unwrap();
        let mut frames = vec![&b"hi"[..], b""];
        match long_prefix {
            Some(p) => {
                let before = wire.len();
                codec.encode(&long, &mut wire).unwrap();
                assert_eq!(&wire[before..before + p.len()], p, "{} of 300", prefix.name());
                frames.push(&long);
            }
            None => {
                let err = codec.encode(&long, &mut wire).unwrap_err();
                assert!(
                    matches!(err, FrameError::EncodeTooLong { len: 300, max: 255 }),
                    "{err:?}"
                );
            }
        }
        for capacity in [64 * 1024, 1] {
            let got = read_frames(LengthCodec::new(prefix, 1024), &wire, capacity).await;
            assert_eq!(got, ok(&frames), "{} in reads of {capacity}", prefix.name());
        }
        for cut in 0..=wire.len() {
            let expected: Vec<Bytes> = frames.iter().map(|f| Bytes::copy_from_slice(f)).collect();
            assert_eq!(decode_split(LengthCodec::new(prefix, 1024), &wire, cut), expected);
        }
    }
}

#[test]
fn a_payload_over_the_max_is_not_encoded() {
    let mut codec = LengthCodec::new(LengthPrefix::U16Be, 4);
    let mut out = BytesMut::new();
    let err = codec.encode(b"12345", &mut out).unwrap_err();
    assert!(matches!(err, FrameError::EncodeTooLong { len: 5, max: 4 }));
    assert!(out.is_empty());
}

/// A 4 GiB declared length is refused at once, before anything is reserved.
#[test]
fn a_huge_declared_length_is_rejected_without_allocating() {
    let mut codec = LengthCodec::new(LengthPrefix::U32Be, MIB);
    let mut buf = BytesMut::with_capacity(16);
    buf.put_slice(&[0xff, 0xff, 0xff, 0xff, b'x']);
    match codec.decode(&mut buf) {
        Err(FrameError::LengthTooLong { len, max }) => {
            assert_eq!((len, max), (0xFFFF_FFFF, MIB));
        }
        other => panic!("expected LengthTooLong, got {other:?}"),
    }
    assert!(buf.capacity() < 1024, "buffer grew to {}", buf.capacity());
    // One over the max is refused too; the max itself waits for its bytes.
    let mut buf = BytesMut::from(&((MIB + 1) as u32).to_be_bytes()[..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(FrameError::LengthTooLong { .. })
    ));
    let mut buf = BytesMut::from(&(MIB as u32).to_be_bytes()[..]);
    assert_eq!(codec.decode(&mut buf).unwrap(), None);
}

/// Under a max no stream reaches, a declared length is still only a claim:
/// the buffer grows by `MAX_RESERVE` at most ahead of the bytes (found by
/// the `framing` fuzz target, `fuzz/regressions/framing/`).
#[test]
fn a_length_under_a_huge_max_is_not_reserved_before_it_arrives() {
    for max in [1 << 30, usize::MAX] {
        let mut codec = LengthCodec::new(LengthPrefix::U32Be, max);
        let mut buf = BytesMut::from(&b"\x3f\xff\xff\xffab"[..]);
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        assert!(
            buf.capacity() < 16 * MIB,
            "a 1 GiB claim reserved {} bytes",
            buf.capacity()
        );
        // The frame still completes as its bytes come.
        let mut buf = BytesMut::from(&b"\x00\x20\x00\x00"[..]);
        buf.put_bytes(b'x', 0x20_0000);
        let frame = codec.decode(&mut buf).unwrap().expect("a whole frame");
        assert_eq!(frame.len(), 0x20_0000);
    }
}

/// A length near `u64::MAX` under a max of `usize::MAX` waits for its bytes
/// rather than overflowing when the prefix's length is added.
#[test]
fn a_length_near_u64_max_does_not_overflow() {
    for prefix in [LengthPrefix::U64Be, LengthPrefix::Varint] {
        let mut codec = LengthCodec::new(prefix, usize::MAX);
        let mut buf = BytesMut::new();
        protocol_runtime::codec::put_length(prefix, usize::MAX - 1, &mut buf).unwrap();
        buf.put_slice(b"abc");
        assert_eq!(codec.decode(&mut buf).unwrap(), None, "{prefix:?}");
        assert!(
            buf.capacity() < 16 * MIB,
            "{prefix:?} reserved {} bytes",
            buf.capacity()
        );
    }
}

#[tokio::test]
async fn a_huge_declared_length_in_framed() {
    let frames = read_frames(
        LengthCodec::new(LengthPrefix::U32Be, MIB),
        b"\xff\xff\xff\xffdata",
        1024,
    )
    .await;
    assert_eq!(
        frames,
        vec![Err(
            "declared length 4294967295 exceeds the limit of 1048576 bytes".to_string()
        )]
    );
}

#[test]
fn malformed_varints_are_errors() {
    let mut codec = LengthCodec::new(LengthPrefix::Varint, MIB);
    for bad in [vec![0x80; 11], vec![0x80; 10], {
        // Ten bytes whose last one overflows 64 bits.
        let mut v = vec![0xff; 9];
        v.push(0x02);
        v
    }] {
        let mut buf = BytesMut::from(&bad[..]);
        assert!(
            matches!(codec.decode(&mut buf), Err(FrameError::BadVarint)),
            "{bad:02x?}"
        );
        assert!(matches!(
            peek_length(LengthPrefix::Varint, &bad),
            Err(FrameError::BadVarint)
        ));
    }
    // Nine continuation bytes may still end well.
    assert_eq!(peek_length(LengthPrefix::Varint, &[0x80; 9]).unwrap(), None);
    // u64::MAX is a valid varint, but far over the max.
    let mut max = vec![0xff; 9];
    max.push(0x01);
    assert_eq!(
        peek_length(LengthPrefix::Varint, &max).unwrap(),
        Some((10, u64::MAX))
    );
    let mut buf = BytesMut::from(&max[..]);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(FrameError::LengthTooLong { len: u64::MAX, .. })
    ));
    // A non-minimal varint is still a length.
    assert_eq!(
        peek_length(LengthPrefix::Varint, &[0x82, 0x80, 0x00]).unwrap(),
        Some((3, 2))
    );
}
