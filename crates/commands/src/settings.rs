//! The options that CONFIG SET may change while the server runs, shared by
//! every shard: numbers as process-wide atomics, read where a limit applies
//! (accepting a connection, reading a query, executing a command) and never
//! under a lock; the password behind a lock that only AUTH, HELLO's AUTH,
//! RESET, a new connection and an unauthenticated client's command take.
//! Written only by start-up and CONFIG SET.

use crate::Password;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::RwLock;

/// Run-time options; defaults are Redis 7.0's. Read them with
/// `Ordering::Relaxed`: each option is independent, and a change needs only
/// to be seen soon, not in order with other memory.
#[derive(Debug)]
pub struct Settings {
    /// Most clients connected at once (`maxclients`).
    pub maxclients: AtomicU64,
    /// Seconds a client may stay idle before it is closed; 0: never (`timeout`).
    pub timeout: AtomicU64,
    /// Seconds of idleness before TCP keepalive probes; 0: off (`tcp-keepalive`).
    pub tcp_keepalive: AtomicU64,
    /// Largest bulk string a request may carry, in bytes (`proto-max-bulk-len`).
    pub proto_max_bulk_len: AtomicU64,
    /// Largest unparsed query a client may send, in bytes (`client-query-buffer-limit`).
    pub client_query_buffer_limit: AtomicU64,
    /// Memory limit in bytes; 0: none (`maxmemory`).
    pub maxmemory: AtomicU64,
    /// Microseconds a command must take to enter the slow log; negative:
    /// never, 0: every command (`slowlog-log-slower-than`).
    pub slowlog_log_slower_than: AtomicI64,
    /// Entries the slow log keeps (`slowlog-max-len`).
    pub slowlog_max_len: AtomicU64,
    /// Milliseconds an event must take to be recorded by LATENCY; 0: off
    /// (`latency-monitor-threshold`).
    pub latency_monitor_threshold: AtomicU64,
}

/// The process's settings.
pub static SETTINGS: Settings = Settings {
    maxclients: AtomicU64::new(10_000),
    timeout: AtomicU64::new(0),
    tcp_keepalive: AtomicU64::new(300),
    proto_max_bulk_len: AtomicU64::new(resp::DEFAULT_MAX_BULK_LEN as u64),
    client_query_buffer_limit: AtomicU64::new(1024 * 1024 * 1024),
    maxmemory: AtomicU64::new(0),
    slowlog_log_slower_than: AtomicI64::new(10_000),
    slowlog_max_len: AtomicU64::new(128),
    latency_monitor_threshold: AtomicU64::new(0),
};

/// The default user's password (`requirepass`); none: every client may run
/// commands without AUTH.
static REQUIREPASS: RwLock<Option<Password>> = RwLock::new(None);

fn requirepass_lock() -> std::sync::RwLockReadGuard<'static, Option<Password>> {
    REQUIREPASS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sets the default user's password; empty: none (Redis's `nopass`).
pub fn set_requirepass(password: &[u8]) {
    *REQUIREPASS
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Password::new(password);
}

/// The password as CONFIG GET shows it ("" for none).
pub fn requirepass() -> Vec<u8> {
    requirepass_lock()
        .as_ref()
        .map(|p| p.as_bytes().to_vec())
        .unwrap_or_default()
}

/// Whether a client must authenticate before running commands: as Redis's
/// `authRequired`, decided by the password set now, so that clearing it
/// lets in even clients that connected while one was set. Cold: only new
/// connections and clients that have not authenticated ask, never the
/// command path of an authenticated client.
#[cold]
pub fn password_required() -> bool {
    requirepass_lock().is_some()
}

/// Whether `candidate` is the default user's password; any candidate is
/// while there is none.
pub fn password_matches(candidate: &[u8]) -> bool {
    requirepass_lock()
        .as_ref()
        .is_none_or(|p| p.matches(candidate))
}

/// File descriptors kept for other uses than clients (set at start-up).
pub static RESERVED_FDS: AtomicU64 = AtomicU64::new(32);

/// Raises the open files limit to fit `maxclients` clients, as Redis's
/// `adjustOpenFilesLimit`: up to the hard limit; where that is too low,
/// `maxclients` is lowered to fit, with Redis's warning. Fails when not
/// even the reserved descriptors fit.
pub fn adjust_open_files_limit() -> Result<(), String> {
    let reserved = RESERVED_FDS.load(Relaxed);
    let maxclients = SETTINGS.maxclients.load(Relaxed);
    let wanted = maxclients.saturating_add(reserved);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        let e = std::io::Error::last_os_error();
        let fallback = 1024u64.saturating_sub(reserved);
        log::warn!(
            "Unable to obtain the current NOFILE limit ({e}), assuming 1024 and setting the \
             max clients configuration to {fallback}."
        );
        SETTINGS.maxclients.store(fallback, Relaxed);
        return Ok(());
    }
    let current = limit.rlim_cur;
    if current >= wanted {
        return Ok(());
    }
    let raised = libc::rlimit {
        rlim_cur: wanted.min(limit.rlim_max),
        rlim_max: limit.rlim_max,
    };
    // SAFETY: a valid rlimit; raising the soft limit up to the hard one needs no privilege.
    let best = if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        raised.rlim_cur
    } else {
        current
    };
    if best >= wanted {
        log::info!(
            "Increased maximum number of open files to {best} (it was originally set to {current})."
        );
        return Ok(());
    }
    if best <= reserved {
        return Err(format!(
            "Your current 'ulimit -n' of {best} is not enough for the server to start. \
             Please increase your open file limit to at least {wanted}. Exiting."
        ));
    }
    let fitted = best - reserved;
    SETTINGS.maxclients.store(fitted, Relaxed);
    log::warn!(
        "You requested maxclients of {maxclients} requiring at least {wanted} max file \
         descriptors. Current maximum open files is {best}. maxclients has been reduced to \
         {fitted} to compensate for low ulimit. If you need higher maxclients increase \
         'ulimit -n'."
    );
    Ok(())
}
