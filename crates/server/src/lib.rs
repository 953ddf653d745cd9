//! Mayfly's runtime: one glommio executor per shard, each pinned to its CPU,
//! owning one shard's data, accepting connections on its own `SO_REUSEPORT`
//! listener, and talking to the other shards over one channel mesh.
//!
//! This crate decides *where* commands run and moves their work and replies
//! between threads; *what* they do lives in `commands`. It owns executors,
//! listeners, connections, routing, the mesh, background ticks, INFO's
//! process figures, Prometheus's /metrics, MONITOR's delivery, shutdown and
//! systemd's notifications. Nothing outside `src/main.rs` depends on it.

mod clients;
mod connection;
pub mod cpu;
mod cross;
mod mesh;
mod metrics;
mod monitor;
mod notify;
mod reactor;
mod shard;
mod shutdown;
mod stall;
mod txn;

pub use commands::{memory_value, Password, SETTINGS};

use std::net::SocketAddr;
use std::os::fd::IntoRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub bind: std::net::IpAddr,
    /// TCP port.
    pub port: u16,
    /// Number of shards (executor threads).
    pub threads: usize,
    /// Number of databases per shard.
    pub databases: usize,
    /// Segments per keyspace (1024; fewer only to benchmark growth stalls).
    pub keyspace_segments: usize,
    /// Answer CLUSTER commands as a one-node cluster (`--cluster-mode emulated`).
    pub cluster_emulated: bool,
    /// The default user's password (`--requirepass`); none: no AUTH needed.
    pub requirepass: Option<commands::Password>,
}

/// Why the server could not run.
#[derive(Debug)]
pub enum ServerError {
    /// The listening socket could not be set up.
    Listen(SocketAddr, std::io::Error),
    /// An executor could not be started.
    Executor(String),
    /// The open files limit leaves no room for clients.
    OpenFiles(String),
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerError::Listen(addr, e) => write!(f, "could not listen on {addr}: {e}"),
            ServerError::Executor(e) => write!(f, "could not start a shard executor: {e}"),
            ServerError::OpenFiles(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for ServerError {}

/// Facts every shard shares, fixed at start-up.
pub(crate) struct Process {
    pub config: Config,
    pub started: Instant,
    /// When it started, unix seconds.
    pub started_unix: u64,
    pub run_id: String,
    /// INFO's `master_replid`: random, as a new Redis master's.
    pub replid: String,
    /// Started by systemd (`NOTIFY_SOCKET` set).
    pub supervised: bool,
    pub executable: String,
    pub next_client_id: std::sync::atomic::AtomicU64,
    /// Clients connected now, on every shard (for `maxclients`).
    pub connected_clients: std::sync::atomic::AtomicU64,
    /// The last transaction id handed out (ids order multi-shard commands).
    pub next_txid: std::sync::atomic::AtomicU64,
    pub peak_memory: std::sync::atomic::AtomicUsize,
    /// Bytes allocated once every shard was ready (`used_memory_startup`).
    pub startup_memory: std::sync::atomic::AtomicUsize,
    /// Clients in MONITOR mode.
    pub monitors: monitor::Watchers,
    pub shutdown: shutdown::Shutdown,
    /// Each shard's tick count, for systemd's watchdog.
    pub heartbeats: notify::Heartbeats,
}

/// Runs the server until SIGINT or SIGTERM, then shuts down gracefully.
pub fn run(config: Config) -> Result<(), ServerError> {
    let addr = SocketAddr::new(config.bind, config.port);
    // Descriptors for other uses than clients: Redis's 32, plus what each
    // shard holds (its io_uring rings, eventfds and listener: 5 or 6).
    commands::settings::RESERVED_FDS.store(
        32 + 8 * config.threads as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    commands::settings::adjust_open_files_limit().map_err(ServerError::OpenFiles)?;
    ensure_port_free(addr).map_err(|e| ServerError::Listen(addr, e))?;
    let mut listeners = Vec::with_capacity(config.threads);
    for _ in 0..config.threads {
        let socket = listen(addr).map_err(|e| ServerError::Listen(addr, e))?;
        listeners.push(socket.into_raw_fd());
    }
    shutdown::block_signals();
    let process = Arc::new(Process {
        config: config.clone(),
        started: Instant::now(),
        started_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        run_id: run_id(),
        replid: run_id(),
        supervised: std::env::var_os("NOTIFY_SOCKET").is_some(),
        executable: std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        next_client_id: std::sync::atomic::AtomicU64::new(1),
        connected_clients: std::sync::atomic::AtomicU64::new(0),
        next_txid: std::sync::atomic::AtomicU64::new(0),
        peak_memory: std::sync::atomic::AtomicUsize::new(0),
        startup_memory: std::sync::atomic::AtomicUsize::new(0),
        monitors: monitor::Watchers::new(config.threads),
        shutdown: shutdown::Shutdown::default(),
        heartbeats: notify::Heartbeats::new(config.threads),
    });
    let cpus = cpu::allowed_cpus();
    let mesh =
        glommio::channels::channel_mesh::MeshBuilder::full(config.threads, mesh::CHANNEL_CAPACITY);
    for (id, fd) in listeners.into_iter().enumerate() {
        let cpu = cpus[id % cpus.len()];
        let shard_process = process.clone();
        let mesh = mesh.clone();
        // No `spin_before_park`: on this machine's kind (2 vCPUs, shared
        // with the load generator) spinning 50 or 200 µs before parking cost
        // throughput and CPU time, cross-shard MSET most of all (see
        // docs/performance.md).
        let handle = glommio::LocalExecutorBuilder::new(glommio::Placement::Fixed(cpu))
            .name(&format!("shard-{id}"))
            .io_memory(64 * 1024)
            .preempt_timer(Duration::from_millis(5))
            .spawn(move || reactor::run_shard(id, fd, mesh, shard_process))
            .map_err(|e| ServerError::Executor(e.to_string()))?;
        shutdown::watch_shard(id, handle, process.clone());
    }
    let shutdown = &process.shutdown;
    let notifier = notify::Notifier::from_env();
    if !shutdown.wait_until_ready(config.threads) {
        return Err(ServerError::Executor("a shard failed to start".into()));
    }
    process.startup_memory.store(
        store::memory::allocated_bytes(),
        std::sync::atomic::Ordering::Relaxed,
    );
    log::info!(
        "Mayfly {} ready to accept connections on {addr} with {} shards",
        env!("CARGO_PKG_VERSION"),
        config.threads
    );
    // Every shard accepts by now, so systemd may start what depends on us.
    notifier.notify(&format!(
        "READY=1\nSTATUS=Ready to accept connections on {addr} with {} shards",
        config.threads
    ));
    let mut watchdog = notifier.watchdog(config.threads);
    let mut stalls = stall::StallReport::new(config.threads);
    shutdown::wait_for_signal(shutdown, || {
        if let Some(watchdog) = watchdog.as_mut() {
            watchdog.poll(&notifier, &process.heartbeats);
        }
        stalls.check(&process.heartbeats);
    });
    notifier.notify("STOPPING=1\nSTATUS=Shutting down");
    if !shutdown.wait_until_stopped(config.threads, SHUTDOWN_LIMIT) {
        return Err(ServerError::Executor(format!(
            "shards did not stop within {SHUTDOWN_LIMIT:?}"
        )));
    }
    if shutdown.failed() {
        return Err(ServerError::Executor("a shard stopped unexpectedly".into()));
    }
    log::info!("Mayfly is now ready to exit, bye bye...");
    Ok(())
}

/// The longest a shutdown may take before the process exits anyway.
const SHUTDOWN_LIMIT: Duration = Duration::from_millis(1800);

/// Fails if another process already listens on `addr`. With SO_REUSEPORT a
/// second Mayfly of the same user could otherwise bind the same port and
/// silently take half of the connections (and keys); a probe bound without
/// SO_REUSEPORT gets EADDRINUSE instead, as Redis would.
fn ensure_port_free(addr: SocketAddr) -> std::io::Result<()> {
    use socket2::{Domain, Protocol, Socket, Type};
    let probe = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    probe.set_reuse_address(true)?;
    probe.bind(&addr.into())
}

/// A listening socket with Redis's options: SO_REUSEADDR, SO_REUSEPORT (one
/// per shard, the kernel spreads connections), backlog 511.
fn listen(addr: SocketAddr) -> std::io::Result<socket2::Socket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(511)?;
    Ok(socket)
}

/// 40 random hex characters, as Redis's run_id.
fn run_id() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 20];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
