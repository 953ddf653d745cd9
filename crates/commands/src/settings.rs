//! The options that CONFIG SET may change while the server runs, shared by
//! every shard as process-wide atomics. They are read where a limit applies
//! (accepting a connection, reading a query, executing a command), never
//! under a lock, and written only by start-up and CONFIG SET.

use std::sync::atomic::{AtomicI64, AtomicU64};

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
