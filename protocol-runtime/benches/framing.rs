//! Framing throughput: our codecs and the engine's decoder next to
//! tokio-util's codecs and a bare `memchr` scan, on the same bytes fed in
//! 4 KB reads. Run by hand: `cargo bench -p protocol-runtime --bench framing`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use protocol_runtime::codec::{LengthCodec, LineCodec};
use protocol_runtime::engine::{Context, Decoded, Decoder as Engine};
use protocol_runtime::layout::LengthPrefix;
use protocol_runtime::spec::{MessageId, Protocol};
use tokio_util::codec::{Decoder, LengthDelimitedCodec, LinesCodec};

/// Bytes per input: big enough to leave the warm caches of one read, small
/// enough to stay in L2/L3 like a socket buffer would.
const INPUT: usize = 1 << 20;
/// Bytes per read, as a socket read would hand them over.
const READ: usize = 4096;

/// Feeds `input` in 4 KB reads into one buffer, calling `drain` after each
/// read to take every complete frame; returns the frames counted.
fn feed(input: &[u8], mut drain: impl FnMut(&mut BytesMut) -> usize) -> usize {
    let mut buf = BytesMut::with_capacity(2 * READ);
    let mut frames = 0;
    for chunk in input.chunks(READ) {
        buf.extend_from_slice(chunk);
        frames += drain(&mut buf);
    }
    assert!(buf.is_empty(), "input ends on a frame boundary");
    frames
}

/// Lines of `line_len` bytes each, delimiter included, of printable ASCII.
fn lines(line_len: usize, delimiter: &[u8]) -> (Vec<u8>, usize) {
    let content = line_len - delimiter.len();
    let mut out = Vec::with_capacity(INPUT);
    let mut count = 0;
    while out.len() + line_len <= INPUT {
        out.extend((0..content).map(|i| b'a' + ((i + count) % 26) as u8));
        out.extend_from_slice(delimiter);
        count += 1;
    }
    (out, count)
}

fn config<M: criterion::measurement::Measurement>(group: &mut BenchmarkGroup<'_, M>, bytes: usize) {
    group
        .throughput(Throughput::Bytes(bytes as u64))
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
}

fn line_framing(c: &mut Criterion) {
    for line_len in [64, 1024] {
        for (name, delimiter) in [("crlf", &b"\r\n"[..]), ("lf", &b"\n"[..])] {
            let (input, count) = lines(line_len, delimiter);
            let mut group = c.benchmark_group(format!("lines/{line_len}B-{name}"));
            config(&mut group, input.len());

            group.bench_function("memchr", |b| {
                b.iter(|| {
                    let n = feed(black_box(&input), |buf| {
                        let mut n = 0;
                        let mut end = 0;
                        while let Some(i) = memchr::memchr(b'\n', &buf[end..]) {
                            end += i + 1;
                            n += 1;
                        }
                        buf.advance(end);
                        n
                    });
                    assert_eq!(n, count);
                })
            });
            group.bench_function("LineCodec", |b| {
                b.iter(|| {
                    let mut codec = LineCodec::new(delimiter.to_vec(), 4096);
                    let n = feed(black_box(&input), |buf| {
                        let mut n = 0;
                        while let Some(line) = codec.decode(buf).unwrap() {
                            black_box(line);
                            n += 1;
                        }
                        n
                    });
                    assert_eq!(n, count);
                })
            });
            group.bench_function("LineCodec-drain", |b| {
                b.iter(|| {
                    let mut codec = LineCodec::new(delimiter.to_vec(), 4096);
                    let n = feed(black_box(&input), |buf| {
                        codec
                            .drain_lines(buf, |line| {
                                black_box(line);
                            })
                            .unwrap()
                    });
                    assert_eq!(n, count);
                })
            });
            group.bench_function("LinesCodec", |b| {
                b.iter(|| {
                    let mut codec = LinesCodec::new_with_max_length(4096);
                    let n = feed(black_box(&input), |buf| {
                        let mut n = 0;
                        while let Some(line) = codec.decode(buf).unwrap() {
                            black_box(line);
                            n += 1;
                        }
                        n
                    });
                    assert_eq!(n, count);
                })
            });
            group.finish();
        }
    }
}

fn length_framing(c: &mut Criterion) {
    for payload in [64, 1024] {
        let mut input = Vec::with_capacity(INPUT);
        let mut count = 0;
        while input.len() + 4 + payload <= INPUT {
            input.put_u32(payload as u32);
            input.extend((0..payload).map(|i| (i + count) as u8));
            count += 1;
        }
        let mut group = c.benchmark_group(format!("length/u32be-{payload}B"));
        config(&mut group, input.len());

        group.bench_function("LengthCodec", |b| {
            b.iter(|| {
                let mut codec = LengthCodec::new(LengthPrefix::U32Be, 4096);
                let n = feed(black_box(&input), |buf| {
                    let mut n = 0;
                    while let Some(frame) = codec.decode(buf).unwrap() {
                        black_box(frame);
                        n += 1;
                    }
                    n
                });
                assert_eq!(n, count);
            })
        });
        group.bench_function("LengthDelimitedCodec", |b| {
            b.iter(|| {
                let mut codec = LengthDelimitedCodec::builder()
                    .big_endian()
                    .length_field_length(4)
                    .max_frame_length(4096)
                    .new_codec();
                let n = feed(black_box(&input), |buf| {
                    let mut n = 0;
                    while let Some(frame) = codec.decode(buf).unwrap() {
                        black_box(frame);
                        n += 1;
                    }
                    n
                });
                assert_eq!(n, count);
            })
        });
        group.finish();
    }
}

fn memcached_spec() -> Arc<Protocol> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/memcached_get.proto");
    let compiled = protocol_dsl::compile_file(&path).expect("readable spec");
    let rendered = compiled.render(false);
    Arc::new(
        compiled
            .protocol
            .unwrap_or_else(|| panic!("memcached_get compiles:\n{rendered}")),
    )
}

/// Decodes one `VALUE <key> <flags> <bytes>\r\n<data>\r\n` or `END\r\n` by
/// hand with memchr and split_to: the least work the bytes need. Returns
/// whether one whole reply item was taken.
fn memcached_by_hand(buf: &mut BytesMut, pending: &mut Option<usize>) -> bool {
    if pending.is_none() {
        let Some(i) = memchr::memchr(b'\n', buf) else {
            return false;
        };
        let line = buf.split_to(i + 1).freeze();
        let line = &line[..i - 1];
        if line == b"END" {
            return true;
        }
        let rest = line.strip_prefix(b"VALUE ").expect("VALUE line");
        let mut parts = rest.split(|&b| b == b' ');
        let key = parts.next().expect("key");
        let flags: u32 = std::str::from_utf8(parts.next().expect("flags"))
            .unwrap()
            .parse()
            .unwrap();
        let len: usize = std::str::from_utf8(parts.next().expect("len"))
            .unwrap()
            .parse()
            .unwrap();
        black_box((key, flags));
        *pending = Some(len);
    }
    let len = pending.expect("set above");
    if buf.len() < len + 2 {
        return false;
    }
    let data = buf.split_to(len).freeze();
    assert_eq!(&buf[..2], b"\r\n");
    buf.advance(2);
    black_box(data);
    *pending = None;
    true
}

fn memcached_value(c: &mut Criterion) {
    let spec = memcached_spec();
    let value = spec.message("Value").expect("Value");
    let end = spec.message("End").expect("End");
    let candidates: [MessageId; 2] = [value, end];
    for n in [64, 1024] {
        let mut input = Vec::with_capacity(INPUT);
        let mut replies = 0;
        loop {
            let mut reply = format!("VALUE key:{replies} 0 {n}\r\n").into_bytes();
            reply.extend((0..n).map(|i| (i + replies) as u8));
            reply.extend_from_slice(b"\r\nEND\r\n");
            if input.len() + reply.len() > INPUT {
                break;
            }
            input.extend_from_slice(&reply);
            replies += 1;
        }
        let items = 2 * replies;
        let mut group = c.benchmark_group(format!("memcached/value-{n}B"));
        config(&mut group, input.len());

        group.bench_function("by-hand", |b| {
            b.iter(|| {
                let mut pending = None;
                let got = feed(black_box(&input), |buf| {
                    let mut got = 0;
                    while memcached_by_hand(buf, &mut pending) {
                        got += 1;
                    }
                    got
                });
                assert_eq!(got, items);
            })
        });
        group.bench_function("engine", |b| {
            let cx = Context { state: "Ready" };
            b.iter(|| {
                let mut decoder = Engine::new();
                let got = feed(black_box(&input), |buf| {
                    let mut got = 0;
                    while let Some(d) = decoder.decode(&spec, &candidates, buf, &cx).unwrap() {
                        assert!(matches!(d, Decoded::Message(_)));
                        black_box(d);
                        got += 1;
                    }
                    got
                });
                assert_eq!(got, items);
            })
        });
        group.finish();
    }
}

criterion_group!(benches, line_framing, length_framing, memcached_value);
criterion_main!(benches);
