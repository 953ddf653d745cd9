//! systemd's service notification protocol (`sd_notify(3)`), without
//! libsystemd: one datagram per message to the socket named by
//! `NOTIFY_SOCKET`. With `Type=notify` systemd counts the service as started
//! only on `READY=1`, shows `STATUS=` in `systemctl status`, and, with
//! `WatchdogSec=`, restarts the service when `WATCHDOG=1` pings stop. Outside
//! systemd the variable is unset and every call here does nothing.

use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Where to send notifications: systemd's socket, if we run under it.
pub(crate) struct Notifier {
    target: Option<(UnixDatagram, std::os::unix::net::SocketAddr)>,
}

impl Notifier {
    /// The notifier that `NOTIFY_SOCKET` asks for; a silent one when it is
    /// unset or unusable (a service must not fail over its status reports).
    pub fn from_env() -> Notifier {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|path| {
            match Notifier::connect(path.as_encoded_bytes()) {
                Ok(target) => Some(target),
                Err(e) => {
                    log::warn!("NOTIFY_SOCKET={path:?} is unusable: {e}");
                    None
                }
            }
        });
        Notifier { target }
    }

    fn connect(path: &[u8]) -> std::io::Result<(UnixDatagram, std::os::unix::net::SocketAddr)> {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::ffi::OsStrExt;
        let addr = match path.strip_prefix(b"@") {
            // Abstract namespace: systemd writes its leading NUL as '@'.
            Some(name) => std::os::unix::net::SocketAddr::from_abstract_name(name)?,
            None => {
                std::os::unix::net::SocketAddr::from_pathname(std::ffi::OsStr::from_bytes(path))?
            }
        };
        Ok((UnixDatagram::unbound()?, addr))
    }

    /// Sends `state`: newline-separated `KEY=value` assignments.
    pub fn notify(&self, state: &str) {
        if let Some((socket, addr)) = &self.target {
            if let Err(e) = socket.send_to_addr(state.as_bytes(), addr) {
                log::warn!("could not notify systemd: {e}");
            }
        }
    }

    /// The watchdog systemd asks for, if any: `WATCHDOG_USEC` set and
    /// `WATCHDOG_PID` unset or ours.
    pub fn watchdog(&self, shards: usize) -> Option<Watchdog> {
        self.target.as_ref()?;
        let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
        if usec == 0 {
            return None;
        }
        if let Ok(pid) = std::env::var("WATCHDOG_PID") {
            if pid.parse::<u32>().ok() != Some(std::process::id()) {
                return None;
            }
        }
        // Half the timeout, as sd_watchdog_enabled(3) advises, so one late
        // ping does not cost a restart.
        let period = Duration::from_micros(usec / 2);
        Some(Watchdog {
            period,
            next: Instant::now(),
            seen: vec![0; shards],
        })
    }
}

/// Each shard's tick count: every shard bumps its own on each tick, so the
/// main thread can tell that all of them still run.
#[derive(Debug)]
pub(crate) struct Heartbeats(Vec<AtomicU64>);

impl Heartbeats {
    /// Counters for `shards` shards, all zero.
    pub fn new(shards: usize) -> Heartbeats {
        Heartbeats((0..shards).map(|_| AtomicU64::new(0)).collect())
    }

    /// Shard `id` is alive.
    pub fn beat(&self, id: usize) {
        if let Some(counter) = self.0.get(id) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Shard `id`'s tick count so far.
    pub fn count(&self, id: usize) -> u64 {
        self.0.get(id).map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

/// Pings systemd's watchdog every half period, but only once every shard has
/// ticked since the previous ping: a stuck shard stops the pings, and systemd
/// restarts a service that serves only part of its keys.
pub(crate) struct Watchdog {
    period: Duration,
    next: Instant,
    seen: Vec<u64>,
}

impl Watchdog {
    /// Called from the main thread's wait loop: pings if a ping is due and
    /// every shard has made progress since the last one.
    pub fn poll(&mut self, notifier: &Notifier, heartbeats: &Heartbeats) {
        if Instant::now() < self.next {
            return;
        }
        let alive = self
            .seen
            .iter()
            .zip(&heartbeats.0)
            .all(|(seen, now)| now.load(Ordering::Relaxed) != *seen);
        if !alive {
            return;
        }
        for (seen, now) in self.seen.iter_mut().zip(&heartbeats.0) {
            *seen = now.load(Ordering::Relaxed);
        }
        notifier.notify("WATCHDOG=1");
        self.next = Instant::now() + self.period;
    }
}
