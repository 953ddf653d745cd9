//! Graceful shutdown. The main thread blocks SIGINT and SIGTERM (the shard
//! threads inherit the mask) and waits for one; then every shard stops
//! accepting, lets its connections finish the batches in flight, waits until
//! all shards have drained (so no one waits on a reply that will never come),
//! drops its listener and returns.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// Process-wide shutdown state, shared by the main thread and every shard.
#[derive(Debug, Default)]
pub(crate) struct Shutdown {
    requested: AtomicBool,
    drained: AtomicUsize,
    exited: AtomicUsize,
    failed: AtomicBool,
}

impl Shutdown {
    /// True once a signal arrived (or a shard failed).
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::Acquire)
    }

    /// Asks every shard to stop.
    pub fn request(&self) {
        self.requested.store(true, Ordering::Release);
    }

    /// A shard has finished its in-flight batches.
    pub fn mark_drained(&self) {
        self.drained.fetch_add(1, Ordering::AcqRel);
    }

    /// How many shards have drained.
    pub fn drained(&self) -> usize {
        self.drained.load(Ordering::Acquire)
    }

    /// A shard's executor is returning after a clean shutdown.
    pub fn mark_exited(&self) {
        self.exited.fetch_add(1, Ordering::AcqRel);
    }

    /// How many shards have returned.
    pub fn exited(&self) -> usize {
        self.exited.load(Ordering::Acquire)
    }

    /// A shard could not start or stopped on its own: the process must stop, and fail.
    pub fn mark_failed(&self) {
        self.failed.store(true, Ordering::Release);
        self.mark_exited();
    }

    /// True if a shard failed.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }
}

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise the set we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        set
    }
}

/// Blocks SIGINT and SIGTERM in the calling thread and every thread it starts afterwards.
pub(crate) fn block_signals() {
    let set = signal_set();
    // SAFETY: a valid set; a null old-set pointer is allowed.
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Waits for SIGINT or SIGTERM, or for a shard to exit on its own; then asks all shards to stop.
pub(crate) fn wait_for_signal(shutdown: &Shutdown) {
    let set = signal_set();
    let timeout = libc::timespec {
        tv_sec: 0,
        tv_nsec: Duration::from_millis(50).as_nanos() as libc::c_long,
    };
    loop {
        // SAFETY: valid set and timeout; a null siginfo pointer is allowed.
        let sig = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &timeout) };
        if sig == libc::SIGINT || sig == libc::SIGTERM {
            log::info!(
                "Received {}, scheduling shutdown...",
                if sig == libc::SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                }
            );
            break;
        }
        if shutdown.failed() || shutdown.exited() > 0 {
            log::error!("a shard stopped unexpectedly; shutting down");
            break;
        }
    }
    shutdown.request();
}
