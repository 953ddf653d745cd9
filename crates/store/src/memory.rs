//! Memory accounting of the process: a counting global allocator.
//!
//! INFO's `used_memory` (and `maxmemory`) needs the bytes the process has
//! allocated, cheaply and at any time. [`CountingAllocator`] wraps the
//! system allocator and keeps a running total, without a shared counter
//! that every core would fight over: the total is split over 64
//! cache-line-sized slots, each thread adds to its own slot (chosen once per
//! thread), and [`allocated_bytes`] sums them. Memory freed by another thread
//! than the one that allocated it is subtracted from the freeing thread's
//! slot: single slots may go negative, the sum stays exact. A single slot
//! means nothing on its own (a reply built on one shard and freed on
//! another moves bytes between slots for ever), so no per-thread figure is
//! offered: a shard's memory is what its data holds, which the keyspaces
//! count themselves ([`crate::Databases::memory_bytes`]).
//!
//! The binary installs it:
//!
//! ```
//! #[global_allocator]
//! static ALLOCATOR: store::memory::CountingAllocator = store::memory::CountingAllocator;
//!
//! fn main() {
//!     let block = vec![0u8; 1 << 20];
//!     assert!(store::memory::allocated_bytes() >= block.len());
//! }
//! ```
//!
//! Without that, [`allocated_bytes`] reports 0.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};

/// Number of counter slots; threads beyond this share slots (still exact).
const SLOTS: usize = 64;
/// "No slot chosen yet" in the thread-local.
const UNASSIGNED: usize = usize::MAX;

/// One counter alone on its cache line.
#[repr(align(128))]
struct Slot(AtomicIsize);

static COUNTERS: [Slot; SLOTS] = [const { Slot(AtomicIsize::new(0)) }; SLOTS];
/// The next slot to hand out.
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's slot. A const-initialised `Cell` with no destructor: no
    /// lazy initialisation, no allocation, usable inside the allocator.
    static MY_SLOT: Cell<usize> = const { Cell::new(UNASSIGNED) };
}

/// This thread's counter (slot 0 if thread-locals are unavailable).
#[inline]
fn counter() -> &'static AtomicIsize {
    let slot = MY_SLOT
        .try_with(|slot| {
            let mut index = slot.get();
            if index == UNASSIGNED {
                index = NEXT_SLOT.fetch_add(1, Relaxed) % SLOTS;
                slot.set(index);
            }
            index
        })
        .unwrap_or(0);
    &COUNTERS[slot].0
}

#[inline]
fn add(bytes: usize) {
    counter().fetch_add(bytes as isize, Relaxed);
}

#[inline]
fn sub(bytes: usize) {
    counter().fetch_sub(bytes as isize, Relaxed);
}

/// A global allocator that counts the bytes it has live (see the module doc).
pub struct CountingAllocator;

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged and only adds bookkeeping on the side.
unsafe impl GlobalAlloc for CountingAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() {
            add(layout.size());
        }
        ptr
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc_zeroed(layout);
        if !ptr.is_null() {
            add(layout.size());
        }
        ptr
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        sub(layout.size());
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_ptr = System.realloc(ptr, layout, new_size);
        if !new_ptr.is_null() {
            // On failure the old block is still live and unchanged.
            if new_size >= layout.size() {
                add(new_size - layout.size());
            } else {
                sub(layout.size() - new_size);
            }
        }
        new_ptr
    }
}

/// Bytes currently allocated through [`CountingAllocator`] (as requested by
/// callers; the system allocator's own overhead is not included). 0 when it
/// is not the global allocator.
pub fn allocated_bytes() -> usize {
    sum_slots(COUNTERS.iter().map(|slot| slot.0.load(Relaxed)))
}

/// The total of per-thread counters, clamped at 0: the relaxed loads of
/// different slots are not one snapshot, so a free counted in a slot read
/// before its allocation's slot can make the sum briefly negative.
fn sum_slots(slots: impl Iterator<Item = isize>) -> usize {
    slots.fold(0isize, |sum, v| sum.wrapping_add(v)).max(0) as usize
}

/// The process's resident set size in bytes, from `VmRSS` in
/// `/proc/self/status` (reported in kB, so no page size is needed). 0 where
/// that file is unavailable (non-Linux).
pub fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/status").map_or(0, |status| parse_vm_rss(&status))
}

/// The `VmRSS:` line of a `/proc/<pid>/status` text, in bytes.
fn parse_vm_rss(status: &str) -> usize {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The counter itself is tested with the allocator installed, in
    // tests/counting_allocator.rs (its own binary, so no other test's
    // allocations disturb the totals).

    #[test]
    fn slots_sum_and_clamp() {
        assert_eq!(sum_slots([].into_iter()), 0);
        assert_eq!(sum_slots([5, -3, 10].into_iter()), 12);
        assert_eq!(sum_slots([-100, 40].into_iter()), 0);
        assert_eq!(sum_slots([isize::MAX, 0].into_iter()), isize::MAX as usize);
    }

    #[test]
    fn slots_are_alone_on_their_cache_lines() {
        assert!(std::mem::align_of::<Slot>() >= 64);
        assert_eq!(std::mem::size_of::<Slot>(), std::mem::align_of::<Slot>());
    }

    #[test]
    fn vm_rss_parses() {
        let status = "Name:\tmayfly\nVmPeak:\t  999 kB\nVmRSS:\t    1234 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), 1234 * 1024);
        assert_eq!(parse_vm_rss("Name:\tx\n"), 0);
        assert_eq!(parse_vm_rss("VmRSS:\tjunk kB\n"), 0);
    }

    #[test]
    fn rss_is_reported_on_linux() {
        if cfg!(target_os = "linux") {
            let rss = rss_bytes();
            assert!(rss > 100 * 1024, "rss {rss}");
            assert!(rss < 64 << 30, "rss {rss}");
        }
    }

    #[test]
    fn each_thread_keeps_its_slot() {
        let mine = counter() as *const AtomicIsize;
        assert_eq!(counter() as *const AtomicIsize, mine);
        let other = std::thread::spawn(|| counter() as *const AtomicIsize as usize)
            .join()
            .unwrap();
        assert_ne!(other, mine as usize);
    }
}
