//! The clocks a command's duration could be read from, side by side: what
//! `cmdstats::Stopwatch` reads once per command (`clock_gettime`
//! CLOCK_REALTIME, as Redis's `ustime()`), `Instant::now()` (the monotonic
//! clock, through the same vDSO), `SystemTime::now()` with its conversion
//! to nanoseconds, the coarse monotonic clock (cheap, but it ticks every
//! few ms) and, on x86_64, the TSC (`rdtsc`: cheapest, but it needs a
//! calibration to nanoseconds and a TSC that is stable across cores).
//! Also what accounting for one command costs besides the clock:
//! `CommandStats::record_call` (counters and histogram).
//! Run with `cargo bench -p commands`.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use commands::{lookup, CommandId, CommandStats, Stopwatch};
use criterion::{criterion_group, criterion_main, Criterion};
use resp::Args;

fn clock_gettime(clock: libc::clockid_t) -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to fill.
    unsafe { libc::clock_gettime(clock, &mut now) };
    (now.tv_sec as u64) * 1_000_000_000 + now.tv_nsec as u64
}

fn clocks(c: &mut Criterion) {
    let mut group = c.benchmark_group("clock");
    let mut watch = Stopwatch::start();
    group.bench_function("stopwatch_lap_realtime", |b| {
        b.iter(|| black_box(watch.lap()))
    });
    let start = Instant::now();
    group.bench_function("instant_now", |b| {
        b.iter(|| black_box(start.elapsed().as_nanos() as u64))
    });
    group.bench_function("system_time_now", |b| {
        b.iter(|| {
            black_box(
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64),
            )
        })
    });
    group.bench_function("monotonic_coarse", |b| {
        b.iter(|| black_box(clock_gettime(libc::CLOCK_MONOTONIC_COARSE)))
    });
    #[cfg(target_arch = "x86_64")]
    group.bench_function("rdtsc", |b| {
        // SAFETY: rdtsc has no preconditions on x86_64.
        b.iter(|| black_box(unsafe { core::arch::x86_64::_rdtsc() }))
    });
    group.finish();
}

fn accounting(c: &mut Criterion) {
    let args = Args::from_slices(&["GET", "key"]);
    let id = CommandId::resolve(lookup(b"get").expect("GET"), &args).expect("arity");
    let mut stats = CommandStats::default();
    let mut nanos = 250u64;
    c.bench_function("record_call", |b| {
        b.iter(|| {
            nanos = nanos.wrapping_mul(31).wrapping_add(7) % 100_000;
            stats.record_call(black_box(id), nanos, b"$1\r\nv\r\n");
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = clocks, accounting
}
criterion_main!(benches);
