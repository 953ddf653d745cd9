//! Graceful shutdown. The main thread blocks SIGINT and SIGTERM (the shard
//! threads inherit the mask) and waits for one; then every shard stops
//! accepting, lets its connections finish the batches in flight, waits until
//! all shards have drained (so no one waits on a reply that will never come),
//! drops its listener and returns. A watcher thread per shard joins its
//! executor, so a shard that fails to start, panics or returns early makes
//! the whole process stop with an error instead of serving a part of the keys.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Process-wide shutdown state, shared by the main thread and every shard.
#[derive(Debug, Default)]
pub(crate) struct Shutdown {
    requested: AtomicBool,
    ready: AtomicUsize,
    drained: AtomicUsize,
    stopped: AtomicUsize,
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

    /// A shard has joined the mesh and accepts connections.
    pub fn mark_ready(&self) {
        self.ready.fetch_add(1, Ordering::AcqRel);
    }

    /// True if a shard failed to start, panicked or returned early.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Waits until all `shards` are ready; false (after asking the others to
    /// stop and waiting for them) if one failed first.
    pub fn wait_until_ready(&self, shards: usize) -> bool {
        while self.ready.load(Ordering::Acquire) < shards {
            if self.failed() {
                self.request();
                self.wait_until_stopped(shards, Duration::from_secs(2));
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// Waits up to `limit` for all `shards` executors to return.
    pub fn wait_until_stopped(&self, shards: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.stopped.load(Ordering::Acquire) < shards {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        true
    }
}

/// Joins shard `id`'s executor on a thread of its own and records how it ended.
pub(crate) fn watch_shard(
    id: usize,
    handle: glommio::ExecutorJoinHandle<()>,
    process: Arc<crate::Process>,
) {
    let watcher = std::thread::Builder::new()
        .name(format!("watch-{id}"))
        .spawn(move || {
            let shutdown = &process.shutdown;
            match handle.join() {
                Err(e) => {
                    log::error!("shard {id} failed: {e}");
                    shutdown.failed.store(true, Ordering::Release);
                }
                Ok(()) if !shutdown.requested() => {
                    log::error!("shard {id} stopped unexpectedly");
                    shutdown.failed.store(true, Ordering::Release);
                }
                Ok(()) => {}
            }
            shutdown.stopped.fetch_add(1, Ordering::AcqRel);
        });
    if let Err(e) = watcher {
        log::error!("could not watch shard {id}: {e}");
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

/// Waits for SIGINT or SIGTERM, or for a shard to exit on its own; then asks
/// all shards to stop. Calls `every_wake` at least every 50 ms meanwhile
/// (systemd's watchdog pings ride on it).
pub(crate) fn wait_for_signal(shutdown: &Shutdown, mut every_wake: impl FnMut()) {
    let set = signal_set();
    let timeout = libc::timespec {
        tv_sec: 0,
        tv_nsec: Duration::from_millis(50).as_nanos() as libc::c_long,
    };
    loop {
        every_wake();
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
        if shutdown.failed() {
            log::error!("a shard stopped unexpectedly; shutting down");
            break;
        }
    }
    shutdown.request();
}
