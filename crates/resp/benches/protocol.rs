//! Micro-benchmarks of the wire format, without a network: the request
//! parser fed one read of a pipeline (as a connection gets it), a request
//! split across two reads, and the reply encoder writing into a reused
//! buffer. Run with `cargo bench -p resp`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use resp::{ParseStatus, Protocol, ReplyEncoder, RequestParser, DEFAULT_MAX_BULK_LEN};

/// Pipeline depths: a typical `--pipeline` setting and a deep one.
const PIPELINES: [usize; 2] = [100, 1_000];
/// A 32-byte value, the size memtier_benchmark sends by default.
const VALUE: &[u8; 32] = b"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv";
/// Replies encoded per iteration: one write's worth for a pipeline of 100.
const REPLIES: usize = 100;

/// Writes one request, given its arguments, in one of the request forms.
type RequestForm = fn(&mut Vec<u8>, &[&[u8]]);
/// Writes one reply.
type Reply = fn(&mut ReplyEncoder);

/// `key:NNNNNNNNNNNN`, 16 bytes.
fn key(i: usize) -> String {
    format!("key:{i:012}")
}

/// One multibulk request.
fn multibulk(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// One inline request: the arguments separated by spaces.
fn inline(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(&args.join(&b' '));
    out.extend_from_slice(b"\r\n");
}

/// `n` requests built by `request` from the arguments of SET (or GET).
fn pipeline(n: usize, set: bool, request: RequestForm) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let key = key(i);
        if set {
            request(&mut out, &[b"SET", key.as_bytes(), VALUE]);
        } else {
            request(&mut out, &[b"GET", key.as_bytes()]);
        }
    }
    out
}

/// Parses every request in `buf`, as a connection does with one read;
/// returns the number of requests.
fn parse_all(parser: &mut RequestParser, buf: &[u8]) -> usize {
    let mut pos = 0;
    let mut requests = 0;
    while let Ok(ParseStatus::Complete { args, consumed }) = parser.parse(&buf[pos..]) {
        black_box(&args);
        pos += consumed;
        requests += 1;
    }
    requests
}

/// Parses one request delivered in two reads; true when the first read was
/// absorbed and the second completed it.
fn parse_split(parser: &mut RequestParser, first: &[u8], second: &[u8]) -> bool {
    let absorbed = matches!(parser.parse(first), Ok(ParseStatus::Incomplete { consumed }) if consumed == first.len());
    match parser.parse(second) {
        Ok(ParseStatus::Complete { args, .. }) => absorbed && black_box(args).len() == 3,
        _ => false,
    }
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    let forms: [(&str, bool, RequestForm); 4] = [
        ("multibulk_set", true, multibulk),
        ("multibulk_get", false, multibulk),
        ("inline_set", true, inline),
        ("inline_get", false, inline),
    ];
    for (name, set, request) in forms {
        for n in PIPELINES {
            let buf = pipeline(n, set, request);
            let mut parser = RequestParser::new(DEFAULT_MAX_BULK_LEN);
            assert_eq!(parse_all(&mut parser, &buf), n, "{name} {n}");
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new(name, n), &buf, |b, buf| {
                b.iter(|| parse_all(&mut parser, black_box(buf)))
            });
        }
    }

    // One SET split inside a `$` header line, and inside the value.
    let request = pipeline(1, true, multibulk);
    let header = request
        .windows(3)
        .position(|w| w == b"$32")
        .map_or(0, |i| i + 2);
    let payload = request.len() - 10;
    group.throughput(Throughput::Elements(1));
    for (name, at) in [("split_in_header", header), ("split_in_value", payload)] {
        let (first, second) = request.split_at(at);
        let mut parser = RequestParser::new(DEFAULT_MAX_BULK_LEN);
        assert!(parse_split(&mut parser, first, second), "{name}");
        group.bench_function(name, |b| {
            b.iter(|| parse_split(&mut parser, black_box(first), black_box(second)))
        });
    }
    group.finish();
}

/// Encodes [`REPLIES`] replies with `reply` into `out`, emptied first (the
/// allocation is kept, as a connection's write buffer is).
fn encode(out: &mut Vec<u8>, proto: Protocol, reply: Reply) {
    out.clear();
    let mut encoder = ReplyEncoder::new(out, proto);
    for _ in 0..REPLIES {
        reply(&mut encoder);
    }
}

/// An MGET reply of 10 bulks.
fn mget10(encoder: &mut ReplyEncoder) {
    encoder.array_len(10);
    for _ in 0..10 {
        encoder.bulk(black_box(VALUE));
    }
}

fn encoder(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(REPLIES as u64));
    let replies: [(&str, Protocol, Reply); 6] = [
        ("ok", Protocol::Resp2, |e| e.ok()),
        ("bulk32", Protocol::Resp2, |e| e.bulk(black_box(VALUE))),
        ("integer", Protocol::Resp2, |e| {
            e.integer(black_box(1_234_567))
        }),
        ("null_resp2", Protocol::Resp2, |e| e.null()),
        ("null_resp3", Protocol::Resp3, |e| e.null()),
        ("mget10", Protocol::Resp2, mget10),
    ];
    let mut out = Vec::new();
    for (name, proto, reply) in replies {
        group.bench_function(name, |b| {
            b.iter(|| {
                encode(&mut out, proto, reply);
                black_box(out.len())
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Short runs: these are nanosecond operations, and the whole
    // `cargo bench` should stay within a couple of minutes.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30);
    targets = parse, encoder
}
criterion_main!(benches);
