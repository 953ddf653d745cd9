//! The counting allocator installed as this test binary's global allocator.
//! One test function only: a concurrent test's allocations would blur the
//! totals it checks.

use store::memory::{allocated_bytes, CountingAllocator};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// `allocated_bytes()` is within `slack` of `expected`.
fn assert_near(expected: usize, slack: usize, what: &str) {
    let got = allocated_bytes();
    assert!(
        got.abs_diff(expected) <= slack,
        "{what}: allocated_bytes() = {got}, expected about {expected}"
    );
}

#[test]
fn counts_live_bytes_across_threads_and_reallocs() {
    const MIB: usize = 1 << 20;
    const SLACK: usize = 64 * 1024;
    let base = allocated_bytes();
    assert!(base > 0, "the harness itself has allocated");

    // alloc and dealloc.
    let block = vec![1u8; 8 * MIB];
    assert_near(base + 8 * MIB, SLACK, "after an 8 MiB alloc");
    drop(block);
    assert_near(base, SLACK, "after freeing it");

    // alloc_zeroed.
    let zeroed = vec![0u8; 4 * MIB];
    assert_near(base + 4 * MIB, SLACK, "after a zeroed alloc");
    drop(zeroed);

    // realloc up and down.
    let mut grown: Vec<u8> = Vec::with_capacity(MIB);
    grown.reserve_exact(16 * MIB);
    assert_near(base + grown.capacity(), SLACK, "after growing");
    grown.shrink_to(2 * MIB);
    assert_near(base + grown.capacity(), SLACK, "after shrinking");
    drop(grown);
    assert_near(base, SLACK, "after freeing the realloc'd block");

    // Allocated on one thread, freed on another: the sum stays right.
    let blocks: Vec<Vec<u8>> = std::thread::spawn(|| (0..8).map(|_| vec![7u8; MIB]).collect())
        .join()
        .unwrap();
    assert_near(base + 8 * MIB, SLACK, "after another thread allocated");
    std::thread::spawn(move || drop(blocks)).join().unwrap();
    assert_near(base, SLACK, "after a third thread freed");

    // Many threads churning concurrently end where they started.
    let threads: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                let mut keep = Vec::new();
                for i in 0..10_000 {
                    let v = vec![t as u8; 1 + i % 300];
                    if i % 10 == 0 {
                        keep.push(v);
                    }
                }
                keep.len()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 1000);
    }
    assert_near(base, SLACK, "after concurrent churn");
}
